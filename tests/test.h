/* test.h - the tiny unit-test harness every test program uses.
 *
 * A test file defines functions with TEST(name) and lists them in a TESTS(...)
 * table; TEST_MAIN() runs them all. Each test prints one result line:
 *     ok   test_file: name
 *     FAIL test_file: name            (after "  check failed: file:line: ..." lines)
 *     skip test_file: name: reason
 * tests/run.sh counts those lines into the closing "N passed, N failed, N skipped"
 * line. A binary exits 1 if any of its tests failed; a skipped test is not a failure.
 *
 * CHECK*: a failed check fails the test, which goes on (one run shows every broken
 * check). REQUIRE: a set-up step the rest of the test cannot do without (a fixture that
 * did not open); failed, it fails the test and returns from it. SKIP: the test cannot
 * run here for a reason no install can fix (a missing capability, a kernel feature):
 * it is reported as skipped, never as passed. A test that failed a check before its
 * SKIP is reported as failed.
 */
#ifndef ECC_TEST_H
#define ECC_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

struct test_case {
    const char *name;
    void (*fn)(void);
};

extern int test_failed_;        /* set when the running test fails a check */
extern const char *test_file_;  /* name printed with each result */

/* Mark the running test skipped, with why (copied). Use SKIP. */
void test_skip_(const char *why);

#define TEST(name) static void name(void)

/* Fail the current test (it goes on, so one run shows every broken check). */
#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            printf("  check failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
            test_failed_ = 1;                                                       \
        }                                                                           \
    } while (0)

/* A set-up step the test cannot go on without: when cond is false the test fails with
 * a message and returns from the function it is in (the TEST, or a void helper of it:
 * the test is failed all the same). */
#define REQUIRE(cond)                                                               \
    do {                                                                            \
        if (!(cond)) {                                                              \
            printf("  set-up failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);      \
            test_failed_ = 1;                                                       \
            return;                                                                 \
        }                                                                           \
    } while (0)

/* The same for a test with clean-up to do: fails the test and jumps to label. */
#define REQUIRE_OR_GOTO(cond, label)                                                \
    do {                                                                            \
        if (!(cond)) {                                                              \
            printf("  set-up failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);      \
            test_failed_ = 1;                                                       \
            goto label;                                                             \
        }                                                                           \
    } while (0)

/* The test cannot run here: reported as "skip FILE: NAME: reason"; returns. */
#define SKIP(reason)                                                                \
    do {                                                                            \
        test_skip_(reason);                                                         \
        return;                                                                     \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                       \
    do {                                                                            \
        double a_ = (double)(a), b_ = (double)(b), t_ = (double)(tol);              \
        if (!(fabs(a_ - b_) <= t_)) {                                               \
            printf("  check failed: %s:%d: %s = %.6g, want %s = %.6g +- %.3g\n",     \
                   __FILE__, __LINE__, #a, a_, #b, b_, t_);                         \
            test_failed_ = 1;                                                       \
        }                                                                           \
    } while (0)

#define CHECK_INT(a, b)                                                             \
    do {                                                                            \
        long long a_ = (long long)(a), b_ = (long long)(b);                         \
        if (a_ != b_) {                                                             \
            printf("  check failed: %s:%d: %s = %lld, want %lld\n", __FILE__,        \
                   __LINE__, #a, a_, b_);                                           \
            test_failed_ = 1;                                                       \
        }                                                                           \
    } while (0)

#define CHECK_STR_CONTAINS(hay, needle)                                             \
    do {                                                                            \
        const char *h_ = (hay), *n_ = (needle);                                     \
        if (!h_ || !strstr(h_, n_)) {                                               \
            printf("  check failed: %s:%d: \"%s\" does not contain \"%s\"\n",        \
                   __FILE__, __LINE__, h_ ? h_ : "(null)", n_);                     \
            test_failed_ = 1;                                                       \
        }                                                                           \
    } while (0)

int test_run_all(const char *file, const struct test_case *cases, int n);
/* Report every case skipped for one reason, without running it; returns 0. */
int test_skip_all(const char *file, const struct test_case *cases, int n, const char *why);

/* A connected Unix stream socket to path (close-on-exec, blocking), or -1 with errno: the
 * control-socket tests' client. */
int test_unix_dial(const char *path);

/* The real eccd for a test: $ECC_BUILD/FLAVOUR/eccd (FLAVOUR "san" or "rel") on
 * config/sim.ini, its history (h.db) and control socket (eccd.sock) in a fresh scratch
 * folder, stderr in dir/eccd.err, then args (NULL-terminated; a leading "@" in one stands
 * for the folder: "@/reps.jsonl"). test_eccd_start waits (bounded) for the socket: 0, or
 * -1. test_eccd_end sends SIGTERM and reaps; test_eccd_clean ends it and removes the
 * folder. */
struct test_eccd {
    char dir[64], sock[96], log[96];
    int pid;
};
int test_eccd_start(struct test_eccd *e, const char *flavour, const char *const *args);
void test_eccd_end(struct test_eccd *e);
void test_eccd_clean(struct test_eccd *e);

/* TCP on loopback: a port free now (bind to 0), and a connected socket to it (-1, errno). */
int test_tcp_free_port(void);
int test_tcp_dial(int port);

/* The real eccweb for a test: $ECC_BUILD/FLAVOUR/eccweb on config/sim.ini beside the eccd
 * e, on a free port of 127.0.0.1, its PIN file pin-TAG and stderr eccweb-TAG.err in e's
 * folder, then --set each of sets (NULL-terminated; may be NULL). test_eccweb_start waits
 * (bounded) until it accepts: 0, or -1. test_eccweb_end sends SIGTERM and reaps: 0 when it
 * exited 0 with no sanitizer report on its stderr, else -1 after printing that stderr. */
struct test_eccweb {
    int pid, port;
    char log[160], pin_file[160];
};
int test_eccweb_start(struct test_eccweb *w, const struct test_eccd *e, const char *flavour,
                      const char *tag, const char *const *sets);
int test_eccweb_end(struct test_eccweb *w);

#define TESTS(...) static const struct test_case test_cases_[] = {__VA_ARGS__}
#define T(fn) {#fn, fn}
#define TEST_MAIN(file)                                                             \
    int main(void)                                                                  \
    {                                                                               \
        return test_run_all(file, test_cases_,                                      \
                            (int)(sizeof test_cases_ / sizeof test_cases_[0]));     \
    }

#endif
