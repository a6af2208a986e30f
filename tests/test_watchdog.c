/* test_watchdog.c - eccd and systemd's notify protocol, without systemd: the real eccd
 * binary (sim backend, real time) is started with NOTIFY_SOCKET pointing at a datagram
 * socket this test listens on, as systemd would for Type=notify with WatchdogSec=.
 *
 *  - READY=1 arrives (after the config, the backend, the history and the socket are up),
 *    and before any WATCHDOG=1;
 *  - WATCHDOG=1 keeps coming while the loop runs;
 *  - the loop is then stalled on purpose (--sim-fault loop_stall@T:D: the loop thread
 *    hangs D s of wall time): WATCHDOG=1 stops for the stall, and comes back after it;
 *  - STOPPING=1 at the end.
 * The bounds are wide (a 0.4 s watchdog interval, a 3 s stall): the test is about which
 * messages come and that they stop, not about scheduling precision.
 *
 * The eccd binary is $ECC_BUILD/san/eccd (tests/run.sh sets ECC_BUILD), else build/san/eccd.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/test.h"

#define MAX_MSGS 512

struct msg {
    double t;                   /* s since the child started */
    char text[256];
};

struct run {
    struct msg m[MAX_MSGS];
    int n;
    int status;                 /* the child's wait status */
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int listen_dgram(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0)
        return -1;
    return fd;
}

static void child(const char *sock, const char *dir, const char *fault)
{
    char eccd[512], pid[32], hist[600];
    const char *b = getenv("ECC_BUILD");

    snprintf(eccd, sizeof eccd, "%s/san/eccd", b && *b ? b : "build");
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(hist, sizeof hist, "history.path=%s/h.db", dir);
    int null = open("/dev/null", O_WRONLY);

    if (null >= 0)
        dup2(null, 2);          /* its log would mix with the test's lines */
    setenv("NOTIFY_SOCKET", sock, 1);
    setenv("WATCHDOG_USEC", "400000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    execl(eccd, eccd, "-c", "config/sim.ini", "-q", "--set", "sim.speed=1", "--set", hist,
          "--duration", "9", "--sim-fault", fault, (char *)NULL);
    _exit(127);
}

/* Run eccd with the fault, collecting every message until it exits. */
static int run_eccd(const char *fault, struct run *r)
{
    char dir[] = "/tmp/eccd-test-watchdog-XXXXXX", sock[64];
    double t0;
    pid_t pid;
    int fd;

    memset(r, 0, sizeof *r);
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock, sizeof sock, "%s/notify", dir);
    if ((fd = listen_dgram(sock)) < 0)
        return -1;
    t0 = mono();
    pid = fork();
    if (pid == 0)
        child(sock, dir, fault);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) > 0 && r->n < MAX_MSGS) {
            ssize_t k = recv(fd, r->m[r->n].text, sizeof r->m[r->n].text - 1, 0);
            if (k > 0) {
                r->m[r->n].text[k] = '\0';
                r->m[r->n++].t = mono() - t0;
            }
            continue;
        }
        if (waitpid(pid, &r->status, WNOHANG) == pid)
            break;
    }
    close(fd);
    unlink(sock);
    snprintf(sock, sizeof sock, "%s/h.db", dir);
    unlink(sock);
    rmdir(dir);
    return 0;
}

static int first(const struct run *r, const char *what)
{
    for (int i = 0; i < r->n; i++)
        if (strstr(r->m[i].text, what))
            return i;
    return -1;
}

static int count(const struct run *r, const char *what, double from, double to)
{
    int n = 0;

    for (int i = 0; i < r->n; i++)
        if (strstr(r->m[i].text, what) && r->m[i].t >= from && r->m[i].t < to)
            n++;
    return n;
}

/* The longest time between two WATCHDOG=1 after READY=1, and when it began. */
static double longest_gap(const struct run *r, double *at)
{
    double last = -1.0, gap = 0.0;

    for (int i = 0; i < r->n; i++) {
        if (!strstr(r->m[i].text, "WATCHDOG=1"))
            continue;
        if (last >= 0.0 && r->m[i].t - last > gap) {
            gap = r->m[i].t - last;
            *at = last;
        }
        last = r->m[i].t;
    }
    return gap;
}

TEST(ready_watchdog_and_stopping_without_a_stall)
{
    static struct run r;
    int ready, wd;
    double at = 0.0;

    /* a stall far past the end: it never happens */
    CHECK_INT(run_eccd("loop_stall@1000:1", &r), 0);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    ready = first(&r, "READY=1");
    wd = first(&r, "WATCHDOG=1");
    CHECK(ready >= 0);
    CHECK(wd > ready);
    CHECK(first(&r, "STATUS=running") >= 0);
    CHECK(first(&r, "STOPPING=1") > wd);
    /* 9 s of virtual time at real speed, fed every ~0.1 s: dozens, never a long gap */
    CHECK(count(&r, "WATCHDOG=1", 0.0, 1e9) >= 20);
    CHECK(longest_gap(&r, &at) < 1.0);
}

TEST(a_stalled_loop_stops_the_watchdog_and_it_comes_back)
{
    static struct run r;
    double at = 0.0, gap;
    int before, after;

    /* the loop hangs for 3 s of wall time 3 s in */
    CHECK_INT(run_eccd("loop_stall@3:3", &r), 0);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    gap = longest_gap(&r, &at);
    CHECK(gap > 2.5);           /* nothing during the stall ... */
    CHECK(gap < 4.0);           /* ... and only then */
    before = count(&r, "WATCHDOG=1", 0.0, at);
    after = count(&r, "WATCHDOG=1", at + gap, 1e9);
    CHECK(before >= 5);
    CHECK(after >= 5);          /* fed again once the loop runs */
    printf("  no WATCHDOG=1 for %.2f s from %.2f s (the 3 s stall); %d before, %d after\n",
           gap, at, before, after);
}

TESTS(T(ready_watchdog_and_stopping_without_a_stall),
      T(a_stalled_loop_stops_the_watchdog_and_it_comes_back));
TEST_MAIN("test_watchdog")
