/* test.h - the tiny unit-test harness every test program uses.
 *
 * A test file defines functions with TEST(name) and lists them in a TESTS(...)
 * table; TEST_MAIN() runs them all. Each test prints one line:
 *     ok   test_file: name
 *     FAIL test_file: name: file:line: expression (details)
 * tests/run.sh counts those lines into the closing "N passed, N failed" line.
 * A binary exits 1 if any of its tests failed.
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

#define TEST(name) static void name(void)

/* Fail the current test (it goes on, so one run shows every broken check). */
#define CHECK(cond)                                                                 \
    do {                                                                            \
        if (!(cond)) {                                                              \
            printf("  check failed: %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
            test_failed_ = 1;                                                       \
        }                                                                           \
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

#define TESTS(...) static const struct test_case test_cases_[] = {__VA_ARGS__}
#define T(fn) {#fn, fn}
#define TEST_MAIN(file)                                                             \
    int main(void)                                                                  \
    {                                                                               \
        return test_run_all(file, test_cases_,                                      \
                            (int)(sizeof test_cases_ / sizeof test_cases_[0]));     \
    }

#endif
