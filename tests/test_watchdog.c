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
 * Each WATCHDOG=1 carries the loop's heartbeat count (X_ECCD_HEARTBEAT, one a tick), so
 * everything is judged in the loop's own time and in the order of events, never on the
 * test's clock: the feeds' heartbeats only rise (systemd is never fed twice for one tick,
 * so a loop that stops stops the feeding); between two feeds the loop runs at most
 * GAP_TICKS but across the stall, where eccd's log says the watchdog thread woke and
 * refused because the heartbeat had not moved ("no heartbeat ... not feeding": the loop,
 * not the feeding, stood still), and feeds come again for the ticks after it.
 *
 * The eccd binary is $ECC_BUILD/san/eccd (tests/run.sh sets ECC_BUILD), else build/san/eccd.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
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
#define GAP_TICKS 200           /* ticks (2 s at 100 Hz) at most between two feeds; the
                                   thread wakes every 0.1 s */
#define STALL_TICK 300          /* loop_stall@3: about heartbeat 300 at 100 Hz */

struct msg {
    char text[256];
    long beat;                  /* WATCHDOG=1: its X_ECCD_HEARTBEAT; else -1 */
};

struct run {
    struct msg m[MAX_MSGS];
    int n;
    int status;                 /* the child's wait status */
    char log[16384];            /* eccd's stderr (warnings and errors) */
};

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
    char eccd[512], pid[32], hist[600], log[600];
    const char *b = getenv("ECC_BUILD");

    snprintf(eccd, sizeof eccd, "%s/san/eccd", b && *b ? b : "build");
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(hist, sizeof hist, "history.path=%s/h.db", dir);
    snprintf(log, sizeof log, "%s/eccd.err", dir);
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);

    if (fd >= 0)
        dup2(fd, 2);            /* read by the test afterwards */
    setenv("NOTIFY_SOCKET", sock, 1);
    setenv("WATCHDOG_USEC", "400000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    execl(eccd, eccd, "-c", "config/sim.ini", "-q", "--set", "sim.speed=1", "--set", hist,
          "--duration", "9", "--sim-fault", fault, (char *)NULL);
    _exit(127);
}

/* A message as it came; a WATCHDOG=1 with its heartbeat. */
static void msg_take(struct msg *m, const char *text)
{
    const char *hb = strstr(text, "X_ECCD_HEARTBEAT=");

    snprintf(m->text, sizeof m->text, "%s", text);
    m->beat = strncmp(text, "WATCHDOG=1", 10) == 0 && hb ? strtol(hb + 17, NULL, 10) : -1;
}

/* eccd's stderr into r->log, and the scratch files away. */
static void take_log_and_clean(const char *dir, struct run *r)
{
    static const char *const files[] = {"notify", "h.db", "h.db-wal", "h.db-shm", "eccd.err"};
    char path[128];
    FILE *f;
    size_t k;

    snprintf(path, sizeof path, "%s/eccd.err", dir);
    if ((f = fopen(path, "r")) != NULL) {
        k = fread(r->log, 1, sizeof r->log - 1, f);
        r->log[k] = '\0';
        fclose(f);
    }
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Run eccd with the fault, collecting every message until it exits. */
static int run_eccd(const char *fault, struct run *r)
{
    char dir[] = "/tmp/eccd-test-watchdog-XXXXXX", sock[64], buf[256];
    pid_t pid;
    int fd;

    memset(r, 0, sizeof *r);
    if (!mkdtemp(dir))
        return -1;
    snprintf(sock, sizeof sock, "%s/notify", dir);
    if ((fd = listen_dgram(sock)) < 0)
        return -1;
    pid = fork();
    if (pid == 0)
        child(sock, dir, fault);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 100) > 0 && r->n < MAX_MSGS) {
            ssize_t k = recv(fd, buf, sizeof buf - 1, 0);
            if (k > 0) {
                buf[k] = '\0';
                msg_take(&r->m[r->n++], buf);
            }
            continue;
        }
        if (waitpid(pid, &r->status, WNOHANG) == pid)
            break;
    }
    close(fd);
    take_log_and_clean(dir, r);
    return 0;
}

static int first(const struct run *r, const char *what)
{
    for (int i = 0; i < r->n; i++)
        if (strstr(r->m[i].text, what))
            return i;
    return -1;
}

/* The feeds: how many; whether their heartbeats only rise; the largest step between two
 * (*at: the heartbeat it began from); how many vouch for ticks below / from tick. */
struct feeds {
    int n, before, after;
    bool rising;
    long gap, at;
};

static struct feeds feeds_of(const struct run *r, long tick)
{
    struct feeds f = {.rising = true};
    long last = -1;

    for (int i = 0; i < r->n; i++) {
        long b = r->m[i].beat;
        if (b < 0)
            continue;
        f.n++;
        f.before += b < tick;
        f.after += b >= tick;
        if (last >= 0 && b <= last)
            f.rising = false;
        if (last >= 0 && b - last > f.gap) {
            f.gap = b - last;
            f.at = last;
        }
        last = b;
    }
    return f;
}

/* The largest step between two feeds but the one from the feed for tick `from`. */
static long feeds_gap_except(const struct run *r, long from)
{
    long last = -1, gap = 0;

    for (int i = 0; i < r->n; i++) {
        long b = r->m[i].beat;
        if (b < 0)
            continue;
        if (last >= 0 && last != from && b - last > gap)
            gap = b - last;
        last = b;
    }
    return gap;
}

TEST(ready_watchdog_and_stopping_without_a_stall)
{
    static struct run r;
    struct feeds f;
    int ready, wd;

    /* a stall far past the end: it never happens */
    CHECK_INT(run_eccd("loop_stall@1000:1", &r), 0);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    ready = first(&r, "READY=1");
    wd = first(&r, "WATCHDOG=1");
    CHECK(ready >= 0);
    CHECK(wd > ready);
    CHECK(first(&r, "STATUS=running") >= 0);
    CHECK(first(&r, "STOPPING=1") > wd);
    /* 9 s of the loop at real speed (900 ticks), fed every ~0.1 s: dozens of feeds, each
     * for a later tick, never GAP_TICKS apart */
    f = feeds_of(&r, 0);
    CHECK(f.n >= 20);
    CHECK(f.rising);
    CHECK(f.gap > 0 && f.gap <= GAP_TICKS);
    CHECK(strstr(r.log, "not feeding") == NULL);
    printf("  %d feeds over 900 ticks, at most %ld ticks apart\n", f.n, f.gap);
}

TEST(a_stalled_loop_stops_the_watchdog_and_it_comes_back)
{
    static struct run r;
    struct feeds f;

    /* the loop hangs for 3 s of wall time at tick 300 */
    CHECK_INT(run_eccd("loop_stall@3:3", &r), 0);
    CHECK(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    f = feeds_of(&r, STALL_TICK);
    CHECK(f.rising);            /* never fed twice for one tick: not while it stood still */
    CHECK(f.before >= 5);
    CHECK(f.after >= 5);        /* fed again once the loop runs */
    /* the one long step between feeds is the stall's (the loop catches up its late ticks
     * after it); everywhere else GAP_TICKS at most */
    CHECK(f.at >= STALL_TICK - 20 && f.at <= STALL_TICK + 20);
    CHECK(feeds_gap_except(&r, f.at) <= GAP_TICKS);
    /* the thread woke while the loop stood still and refused to feed (a warning) */
    CHECK(strstr(r.log, "no heartbeat from the control loop; not feeding") != NULL);
    printf("  %d feeds before tick %d, %d after, the longest step %ld ticks from tick %ld; "
           "the thread refused while the loop stood still\n", f.before, STALL_TICK, f.after,
           f.gap, f.at);
}

TESTS(T(ready_watchdog_and_stopping_without_a_stall),
      T(a_stalled_loop_stops_the_watchdog_and_it_comes_back));
TEST_MAIN("test_watchdog")
