/* test_sdnotify.c - systemd notification and the watchdog thread, against a real AF_UNIX
 * datagram socket bound in a mkdtemp directory and named by NOTIFY_SOCKET, as systemd
 * would. Times are generous: the watchdog interval is 200 ms (a wake-up every 50 ms), a
 * fed watchdog must send at least 2 WATCHDOG=1 in a second (about 20 are expected), a
 * starved one none in a second. */
#include "daemon/sdnotify.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "tests/test.h"

#define INTERVAL_USEC 200000        /* the watchdog interval the tests ask for */
#define MSG_MAX 1024

struct listener {
    char dir[64];
    char path[108];
    int fd;
};

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A datagram socket in a fresh directory, and the environment systemd would set:
 * NOTIFY_SOCKET always, WATCHDOG_USEC only if usec > 0, WATCHDOG_PID only if pid > 0. */
static int listen_as_systemd(struct listener *l, long usec, long pid)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char num[32];

    log_set_level(LOG_LVL_ERROR);
    snprintf(l->dir, sizeof l->dir, "/tmp/test_sdnotify-XXXXXX");
    if (!mkdtemp(l->dir))
        return -1;
    snprintf(l->path, sizeof l->path, "%s/notify", l->dir);
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", l->path);
    l->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0 || bind(l->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return -1;
    setenv("NOTIFY_SOCKET", l->path, 1);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
    if (usec > 0) {
        snprintf(num, sizeof num, "%ld", usec);
        setenv("WATCHDOG_USEC", num, 1);
    }
    if (pid > 0) {
        snprintf(num, sizeof num, "%ld", pid);
        setenv("WATCHDOG_PID", num, 1);
    }
    return 0;
}

static void listener_close(struct listener *l)
{
    if (l->fd >= 0)
        close(l->fd);
    l->fd = -1;
    unlink(l->path);
    rmdir(l->dir);
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

/* The next message within timeout_ms, NUL-terminated in buf; -1 if none came. */
static int recv_msg(int fd, char *buf, size_t len, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;

    if (poll(&p, 1, timeout_ms) != 1)
        return -1;
    n = recv(fd, buf, len - 1, MSG_DONTWAIT);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return (int)n;
}

enum beat { BEAT_NONE, BEAT_HEALTHY, BEAT_UNHEALTHY };

/* For seconds s: call sdnotify_heartbeat every 10 ms as told (a control loop at 100 Hz)
 * and count the WATCHDOG=1 datagrams that arrive. Any other message counts in *other. */
static int watch(struct listener *l, struct sdnotify *n, double s, enum beat beat, int *other)
{
    double end = now_s() + s;
    char buf[MSG_MAX];
    int count = 0;

    while (now_s() < end) {
        if (beat != BEAT_NONE)
            sdnotify_heartbeat(n, beat == BEAT_HEALTHY);
        while (recv_msg(l->fd, buf, sizeof buf, 10) >= 0) {
            if (strncmp(buf, "WATCHDOG=1\nX_ECCD_HEARTBEAT=", 28) == 0)
                count++;
            else if (other)
                (*other)++;
        }
    }
    return count;
}

/* READY=1 with its status, STATUS= updates, a newline in a status cannot smuggle in an
 * assignment of its own, an over-long status is cut. */
TEST(ready_and_status_arrive)
{
    struct listener l = {.fd = -1};
    char buf[MSG_MAX], big[600], want[300];

    CHECK(listen_as_systemd(&l, 0, 0) == 0);
    struct sdnotify *n = sdnotify_open();
    CHECK(n != NULL);
    CHECK(sdnotify_active(n));
    CHECK_NEAR(sdnotify_watchdog_s(n), 0.0, 0.0);

    CHECK_INT(sdnotify_ready(n, "running: mode continuous"), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK(strcmp(buf, "READY=1\nSTATUS=running: mode continuous") == 0);

    CHECK_INT(sdnotify_status(n, "set 2 of 3, rep 7"), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK(strcmp(buf, "STATUS=set 2 of 3, rep 7") == 0);

    CHECK_INT(sdnotify_status(n, "bad\nWATCHDOG=1\tx"), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK(strcmp(buf, "STATUS=bad WATCHDOG=1 x") == 0);

    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    snprintf(want, sizeof want, "STATUS=%.256s", big);
    CHECK_INT(sdnotify_status(n, big), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK(strcmp(buf, want) == 0);

    CHECK_INT(sdnotify_ready(n, NULL), 0);         /* no status: READY=1 alone */
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK(strcmp(buf, "READY=1") == 0);
    CHECK_INT(sdnotify_watchdog_sent(n), 0);
    sdnotify_close(n);
    listener_close(&l);
}

/* The next datagram (up to 2 s, which only turns a hang into a failure): 1 if it is
 * WATCHDOG=1, 0 if it is something else, -1 if none came. */
static int next_is_watchdog(struct listener *l)
{
    char buf[MSG_MAX];

    if (recv_msg(l->fd, buf, sizeof buf, 2000) < 0)
        return -1;
    return strncmp(buf, "WATCHDOG=1\nX_ECCD_HEARTBEAT=", 28) == 0;
}

/* Nothing waiting on the socket now (a datagram is queued at once when it is sent). */
static bool nothing_waiting(struct listener *l)
{
    char buf[MSG_MAX];

    return recv_msg(l->fd, buf, sizeof buf, 0) < 0;
}

/* The feeding rule, one wake-up at a time (sdnotify_feed_now stands for the thread's
 * wake-up): a loop that ticked since the last wake-up and said healthy feeds systemd;
 * every WATCHDOG=1 sent is one that arrived. */
TEST(heartbeats_keep_the_watchdog_fed)
{
    struct listener l = {.fd = -1};
    char buf[MSG_MAX];
    struct sdnotify *n;

    REQUIRE(listen_as_systemd(&l, INTERVAL_USEC, (long)getpid()) == 0);
    n = sdnotify_open_manual();
    REQUIRE_OR_GOTO(n != NULL, out);
    CHECK_NEAR(sdnotify_watchdog_s(n), 0.2, 1e-9);
    CHECK_INT(sdnotify_ready(n, "up"), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK(strcmp(buf, "READY=1\nSTATUS=up") == 0);
    for (int i = 0; i < 5; i++) {
        sdnotify_heartbeat(n, true);
        sdnotify_heartbeat(n, true);        /* several ticks per wake-up: one message */
        CHECK_INT(sdnotify_feed_now(n), 1);
        CHECK_INT(next_is_watchdog(&l), 1);
    }
    CHECK(nothing_waiting(&l));
    CHECK_INT((int)sdnotify_watchdog_sent(n), 5);
out:
    sdnotify_close(n);
    listener_close(&l);
}

/* No heartbeat since the last wake-up, or only unhealthy ones: no WATCHDOG=1, so systemd
 * would restart eccd. Healthy heartbeats again: the feeding resumes at once. */
TEST(a_stalled_or_unhealthy_loop_starves_the_watchdog)
{
    struct listener l = {.fd = -1};
    char buf[MSG_MAX];
    struct sdnotify *n;

    REQUIRE(listen_as_systemd(&l, INTERVAL_USEC, (long)getpid()) == 0);
    n = sdnotify_open_manual();
    REQUIRE_OR_GOTO(n != NULL, out);
    CHECK_INT(sdnotify_ready(n, NULL), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);

    CHECK_INT(sdnotify_feed_now(n), 0);              /* never a heartbeat since READY=1 */
    sdnotify_heartbeat(n, true);
    CHECK_INT(sdnotify_feed_now(n), 1);
    CHECK_INT(next_is_watchdog(&l), 1);
    for (int i = 0; i < 3; i++)                      /* the loop stalls */
        CHECK_INT(sdnotify_feed_now(n), 0);
    sdnotify_heartbeat(n, false);                    /* ticking, but late: unhealthy */
    CHECK_INT(sdnotify_feed_now(n), 0);
    sdnotify_heartbeat(n, true);
    sdnotify_heartbeat(n, false);                    /* the latest word counts */
    CHECK_INT(sdnotify_feed_now(n), 0);
    CHECK(nothing_waiting(&l));
    CHECK_INT((int)sdnotify_watchdog_sent(n), 1);
    sdnotify_heartbeat(n, true);                     /* healthy again */
    CHECK_INT(sdnotify_feed_now(n), 1);
    CHECK_INT(next_is_watchdog(&l), 1);
    CHECK_INT((int)sdnotify_watchdog_sent(n), 2);
    CHECK_INT(sdnotify_feed_now(NULL), -1);          /* and only for a manual object */
out:
    sdnotify_close(n);
    listener_close(&l);
}

/* Healthy heartbeats, a tick's worth apart, until the thread's first WATCHDOG=1 arrives
 * (bounded at 20 s only to turn a hang into a failure): 1, or 0 (something else came
 * first), -1 (nothing came). */
static int beat_until_fed(struct listener *l, struct sdnotify *n)
{
    char buf[MSG_MAX];

    for (int i = 0; i < 2000; i++) {
        sdnotify_heartbeat(n, true);
        if (recv_msg(l->fd, buf, sizeof buf, 10) >= 0)
            return strncmp(buf, "WATCHDOG=1\nX_ECCD_HEARTBEAT=", 28) == 0;
    }
    return -1;
}

/* The thread itself feeds while heartbeats come: the first WATCHDOG=1 arrives (bounded
 * wait, no count in a time window). */
TEST(the_thread_feeds_while_heartbeats_come)
{
    struct listener l = {.fd = -1};
    char buf[MSG_MAX];
    struct sdnotify *n;
    int got;

    REQUIRE(listen_as_systemd(&l, INTERVAL_USEC, (long)getpid()) == 0);
    n = sdnotify_open();
    REQUIRE_OR_GOTO(n != NULL, out);
    CHECK_INT(sdnotify_feed_now(n), -1);             /* a threaded object is not manual */
    CHECK_INT(sdnotify_ready(n, NULL), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    got = beat_until_fed(&l, n);
    CHECK_INT(got, 1);
    /* the thread counts a feed once its send returned, just after we received it */
    for (int i = 0; i < 2000 && sdnotify_watchdog_sent(n) < 1; i++)
        nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
    CHECK(sdnotify_watchdog_sent(n) >= 1);
out:
    sdnotify_close(n);
    listener_close(&l);
}

/* STOPPING=1 with its status; the watchdog thread is over (systemd disarms its watchdog
 * when the unit stops running), so heartbeats send nothing more. */
TEST(stopping_arrives_and_ends_the_watchdog)
{
    struct listener l = {.fd = -1};
    char buf[MSG_MAX];
    int other = 0;

    CHECK(listen_as_systemd(&l, INTERVAL_USEC, (long)getpid()) == 0);
    struct sdnotify *n = sdnotify_open();
    CHECK_INT(sdnotify_ready(n, NULL), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK_INT(beat_until_fed(&l, n), 1);

    CHECK_INT(sdnotify_stopping(n, "stopping: the belt is stopped"), 0);
    bool seen = false;
    while (!seen && recv_msg(l.fd, buf, sizeof buf, 1000) > 0)   /* after any WATCHDOG=1 */
        seen = strcmp(buf, "STOPPING=1\nSTATUS=stopping: the belt is stopped") == 0;
    CHECK(seen);
    CHECK_INT(watch(&l, n, 0.5, BEAT_HEALTHY, &other), 0);
    CHECK_INT(other, 0);
    CHECK_INT(sdnotify_ready(n, NULL), 0);          /* READY=1 again, but no new thread */
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK_INT(watch(&l, n, 0.5, BEAT_HEALTHY, NULL), 0);
    sdnotify_close(n);
    listener_close(&l);
}

/* Outside systemd everything is a no-op returning 0, even with stray WATCHDOG_ variables;
 * so is a NULL object. */
TEST(no_notify_socket_is_a_noop)
{
    char num[32];

    log_set_level(LOG_LVL_ERROR);
    unsetenv("NOTIFY_SOCKET");
    snprintf(num, sizeof num, "%ld", (long)getpid());
    setenv("WATCHDOG_USEC", "200000", 1);
    setenv("WATCHDOG_PID", num, 1);
    struct sdnotify *n = sdnotify_open();
    CHECK(n != NULL);
    CHECK(!sdnotify_active(n));
    CHECK_NEAR(sdnotify_watchdog_s(n), 0.0, 0.0);
    CHECK_INT(sdnotify_ready(n, "up"), 0);
    CHECK_INT(sdnotify_status(n, "x"), 0);
    for (int i = 0; i < 30; i++) {
        sdnotify_heartbeat(n, true);
        usleep(10000);
    }
    CHECK_INT(sdnotify_watchdog_sent(n), 0);
    CHECK_INT(sdnotify_stopping(n, "bye"), 0);
    sdnotify_close(n);

    CHECK(!sdnotify_active(NULL));
    CHECK_NEAR(sdnotify_watchdog_s(NULL), 0.0, 0.0);
    CHECK_INT(sdnotify_ready(NULL, "up"), 0);
    CHECK_INT(sdnotify_status(NULL, "x"), 0);
    CHECK_INT(sdnotify_stopping(NULL, "x"), 0);
    sdnotify_heartbeat(NULL, true);
    CHECK_INT(sdnotify_watchdog_sent(NULL), 0);
    sdnotify_close(NULL);
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

/* WATCHDOG_PID names another process (inherited from a parent): the watchdog is not ours. */
TEST(watchdog_pid_of_another_process_means_no_watchdog)
{
    struct listener l = {.fd = -1};
    char buf[MSG_MAX];

    CHECK(listen_as_systemd(&l, INTERVAL_USEC, (long)getppid()) == 0);
    struct sdnotify *n = sdnotify_open();
    CHECK(sdnotify_active(n));
    CHECK_NEAR(sdnotify_watchdog_s(n), 0.0, 0.0);
    CHECK_INT(sdnotify_ready(n, NULL), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK(strcmp(buf, "READY=1") == 0);
    CHECK_INT(watch(&l, n, 0.5, BEAT_HEALTHY, NULL), 0);
    CHECK_INT(sdnotify_watchdog_sent(n), 0);
    sdnotify_close(n);
    listener_close(&l);
}

/* A socket that went away: the call says so (-1 with errno) rather than pretending. */
TEST(a_vanished_socket_is_an_error)
{
    struct listener l = {.fd = -1};

    CHECK(listen_as_systemd(&l, 0, 0) == 0);
    struct sdnotify *n = sdnotify_open();
    close(l.fd);
    l.fd = -1;
    unlink(l.path);
    errno = 0;
    CHECK_INT(sdnotify_status(n, "x"), -1);
    CHECK(errno != 0);
    sdnotify_close(n);
    listener_close(&l);
}

/* The state letter of each thread of this process but the main one ('S': asleep), from
 * /proc; how many there are. */
static int other_threads_state(char *states, int max)
{
    char path[64], line[512];
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;

    while (d && (e = readdir(d)) && n < max) {
        long tid = atol(e->d_name);
        if (tid <= 0 || tid == (long)getpid())
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%ld/stat", tid);
        FILE *f = fopen(path, "r");
        char *paren = f && fgets(line, sizeof line, f) ? strrchr(line, ')') : NULL;
        if (paren && paren[1] == ' ')
            states[n++] = paren[2];         /* "tid (comm) S ..." */
        if (f)
            fclose(f);
    }
    if (d)
        closedir(d);
    return n;
}

/* Wait (bounded) until the one other thread, the watchdog's, is asleep in its wait. */
static bool watchdog_thread_asleep(void)
{
    char st[8];
    int n = 0;

    for (int i = 0; i < 5000; i++) {
        n = other_threads_state(st, 8);
        if (n == 1 && st[0] == 'S')
            return true;
        usleep(1000);
    }
    printf("  %d other threads, the first in state %c\n", n, n ? st[0] : '-');
    return false;
}

struct closer {
    struct sdnotify *n;
    int done[2];                            /* a pipe: a byte once sdnotify_close returned */
};

static void *close_it(void *arg)
{
    struct closer *c = arg;

    sdnotify_close(c->n);
    if (write(c->done[1], "x", 1) != 1)
        perror("  closer: write");
    return NULL;
}

/* close wakes the thread at once: with a 2000 s interval the asleep thread's next
 * deadline is 500 s away, yet sdnotify_close returns, so the wait is a condition variable
 * that close signals, not a timed sleep. The 60 s bound only turns a hang into a
 * failure; it measures nothing: either close returns at once or not for 500 s. */
TEST(close_is_prompt_whatever_the_interval)
{
    struct listener l = {.fd = -1};
    char buf[MSG_MAX];
    struct closer c;
    pthread_t th;

    REQUIRE(listen_as_systemd(&l, 2000000000L, (long)getpid()) == 0);
    c.n = sdnotify_open();
    CHECK_NEAR(sdnotify_watchdog_s(c.n), 2000.0, 1e-9);
    CHECK_INT(sdnotify_ready(c.n, NULL), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK(watchdog_thread_asleep());
    REQUIRE(pipe(c.done) == 0);
    REQUIRE(pthread_create(&th, NULL, close_it, &c) == 0);
    struct pollfd p = {.fd = c.done[0], .events = POLLIN};
    bool returned = poll(&p, 1, 60000) == 1;
    CHECK(returned);
    if (!returned) {                        /* still asleep: leave it, the test failed */
        pthread_detach(th);
        return;
    }
    pthread_join(th, NULL);
    CHECK_INT(other_threads_state(buf, 8), 0);      /* the watchdog thread is gone */
    close(c.done[0]);
    close(c.done[1]);
    listener_close(&l);
}

/* The SigBlk mask of every thread of this process but the main one, from /proc. */
static int other_threads_block(int sig, int *threads)
{
    char path[64], line[256];
    int all = 1;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;

    *threads = 0;
    if (!d)
        return 0;
    while ((e = readdir(d))) {
        long tid = atol(e->d_name);
        if (tid <= 0 || tid == (long)getpid())
            continue;
        snprintf(path, sizeof path, "/proc/self/task/%ld/status", tid);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        while (fgets(line, sizeof line, f)) {
            unsigned long long mask;
            if (sscanf(line, "SigBlk: %llx", &mask) == 1) {
                (*threads)++;
                all &= (int)((mask >> (sig - 1)) & 1u);
            }
        }
        fclose(f);
    }
    closedir(d);
    return all;
}

/* The watchdog thread blocks every signal (SIGTERM is for the main thread to handle). */
TEST(the_thread_blocks_signals)
{
    struct listener l = {.fd = -1};
    char buf[MSG_MAX];
    int threads = 0;

    REQUIRE(listen_as_systemd(&l, INTERVAL_USEC, (long)getpid()) == 0);
    struct sdnotify *n = sdnotify_open();
    CHECK_INT(sdnotify_ready(n, NULL), 0);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    CHECK(other_threads_block(SIGTERM, &threads));
    CHECK(other_threads_block(SIGINT, &threads));
    CHECK(other_threads_block(SIGHUP, &threads));
    CHECK(threads >= 1);
    sdnotify_close(n);
    listener_close(&l);
}

/* Threads of this process but the main one; how many run SCHED_OTHER in *normal. */
static int other_threads_normal(int *normal)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    int others = 0;

    *normal = 0;
    while (d && (e = readdir(d))) {
        long tid = atol(e->d_name);
        if (tid <= 0 || tid == (long)getpid())
            continue;
        others++;
        *normal += sched_getscheduler((pid_t)tid) == SCHED_OTHER;
    }
    if (d)
        closedir(d);
    return others;
}

/* Started from a SCHED_FIFO thread (eccd's loop), the watchdog thread runs at normal
 * priority all the same. */
TEST(the_thread_runs_at_normal_priority)
{
    struct listener l = {.fd = -1};
    char buf[MSG_MAX];
    struct sched_param fifo = {.sched_priority = 1}, orig;
    int policy = SCHED_OTHER, normal = 0;

    REQUIRE(pthread_getschedparam(pthread_self(), &policy, &orig) == 0);
    if (pthread_setschedparam(pthread_self(), SCHED_FIFO, &fifo) != 0)
        SKIP("no SCHED_FIFO here (no CAP_SYS_NICE and RLIMIT_RTPRIO 0)");
    REQUIRE_OR_GOTO(listen_as_systemd(&l, INTERVAL_USEC, (long)getpid()) == 0, out);
    struct sdnotify *n = sdnotify_open();
    CHECK_INT(sdnotify_ready(n, NULL), 0);
    pthread_setschedparam(pthread_self(), policy, &orig);
    CHECK(recv_msg(l.fd, buf, sizeof buf, 2000) > 0);
    int others = other_threads_normal(&normal);
    CHECK(others >= 1);
    CHECK_INT(normal, others);
    sdnotify_close(n);
out:
    pthread_setschedparam(pthread_self(), policy, &orig);
    listener_close(&l);
}

TESTS(T(ready_and_status_arrive), T(heartbeats_keep_the_watchdog_fed),
      T(a_stalled_or_unhealthy_loop_starves_the_watchdog),
      T(the_thread_feeds_while_heartbeats_come),
      T(stopping_arrives_and_ends_the_watchdog), T(no_notify_socket_is_a_noop),
      T(watchdog_pid_of_another_process_means_no_watchdog), T(a_vanished_socket_is_an_error),
      T(close_is_prompt_whatever_the_interval), T(the_thread_blocks_signals),
      T(the_thread_runs_at_normal_priority));
TEST_MAIN("test_sdnotify")
