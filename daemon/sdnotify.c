/* sdnotify.c - telling systemd how eccd is doing (see sdnotify.h).
 *
 * The heartbeat is one atomic word, (count << 1) | healthy: the control loop bumps it, the
 * watchdog thread reads it. An unsigned long is lock-free on every target (32 bits on
 * armhf, so no libatomic); only "has it changed since the last wake-up" is asked of the
 * count, so its wrapping around is harmless.
 *
 * The watchdog thread sleeps on a condition variable with CLOCK_MONOTONIC absolute
 * deadlines (no drift, no wall-clock jumps); sdnotify_close signals it, so it stops at
 * once whatever the interval. It runs with every signal blocked, at normal priority
 * (SCHED_OTHER, whatever the real-time policy of the thread that started it) and on a
 * small stack, since a locked (mlockall) 8 MiB default stack would be wasted RAM on a Pi.
 *
 * libsystemd's sd_notify reads NOTIFY_SOCKET on each call and opens a socket per message,
 * so it is safe from two threads at once; nothing here changes the environment.
 */
#include "daemon/sdnotify.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <systemd/sd-daemon.h>

#include "util/log.h"
#include "util/worker.h"

#define STATUS_MAX 256                  /* bytes of a STATUS= text kept; the rest is cut */
#define WAKE_MIN_NS 10000000L           /* the thread never wakes more often than 10 ms */
#define THREAD_STACK (256u << 10)       /* ample for sd_notify and a log line, even ASan's */

struct sdnotify {
    bool active;                        /* NOTIFY_SOCKET was set at open */
    uint64_t watchdog_usec;             /* systemd's interval for us, 0: no watchdog */
    atomic_ulong beat;                  /* (heartbeat count << 1) | latest healthy */
    atomic_long sent;                   /* WATCHDOG=1 messages sent */

    struct worker w;                    /* the watchdog thread */
    bool ended;                         /* it was stopped: it is not started again */
    bool manual;                        /* no thread: the caller wakes (sdnotify_feed_now) */
    unsigned long manual_last;          /* ... and these are its wake-ups' memory */
    int manual_state;
};

/* ---- open / close -------------------------------------------------------------------- */

struct sdnotify *sdnotify_open(void)
{
    struct sdnotify *n = calloc(1, sizeof *n);
    const char *sock = getenv("NOTIFY_SOCKET");

    if (!n) {
        errno = ENOMEM;
        return NULL;
    }
    atomic_init(&n->beat, 0ul);
    atomic_init(&n->sent, 0l);
    worker_init(&n->w);

    n->active = sock && *sock;
    if (n->active) {
        /* > 0 only when WATCHDOG_USEC is set and WATCHDOG_PID is unset or this process;
         * the environment is left as it is (unset_environment = 0). */
        uint64_t usec = 0;
        int r = sd_watchdog_enabled(0, &usec);
        if (r > 0 && usec > 0)
            n->watchdog_usec = usec;
        else if (r < 0)
            log_warn("systemd watchdog: WATCHDOG_USEC/WATCHDOG_PID unreadable (%s); "
                     "not feeding it", strerror(-r));
    }
    return n;
}

void sdnotify_close(struct sdnotify *n)
{
    if (!n)
        return;
    worker_fini(&n->w);         /* stops the thread first */
    free(n);
}

bool sdnotify_active(const struct sdnotify *n)
{
    return n && n->active;
}

double sdnotify_watchdog_s(const struct sdnotify *n)
{
    return n ? (double)n->watchdog_usec / 1e6 : 0.0;
}

long sdnotify_watchdog_sent(const struct sdnotify *n)
{
    return n ? atomic_load_explicit(&n->sent, memory_order_relaxed) : 0;
}

/* ---- messages ------------------------------------------------------------------------ */

/* sd_notify's answer as this module's: >0 sent, 0 no socket, <0 -errno. */
static int notify(const char *msg)
{
    int r = sd_notify(0, msg);

    if (r < 0) {
        errno = -r;
        return -1;
    }
    return 0;
}

/* HEAD (may be NULL), then STATUS=text on a line of its own if status is not NULL. Control
 * characters in the text become spaces: a newline would otherwise start an assignment of
 * its own ("x\nWATCHDOG=1"); text past STATUS_MAX bytes is cut. */
static int notify_with_status(const char *head, const char *status)
{
    char msg[32 + 8 + STATUS_MAX + 1];
    size_t len = 0;

    if (head)
        len = (size_t)snprintf(msg, 32, "%s", head);
    if (status) {
        len += (size_t)snprintf(msg + len, sizeof msg - len, "%sSTATUS=", head ? "\n" : "");
        for (size_t i = 0; status[i] && i < STATUS_MAX; i++) {
            unsigned char c = (unsigned char)status[i];
            msg[len++] = (char)(c < 0x20 || c == 0x7f ? ' ' : c);
        }
    }
    msg[len] = '\0';
    return notify(msg);
}

/* ---- the watchdog thread ------------------------------------------------------------- */

enum feed_state { FEED_OK, FEED_STALLED, FEED_UNHEALTHY, FEED_FAILED };

/* One wake-up: feed systemd if the loop has ticked since the last one and said it was
 * healthy. Each change of state is logged once, so the journal shows why systemd is
 * about to kill eccd before it does. */
static void feed(struct sdnotify *n, unsigned long *last, enum feed_state *state)
{
    unsigned long b = atomic_load_explicit(&n->beat, memory_order_relaxed);
    unsigned long count = b >> 1;
    bool advanced = count != *last;
    enum feed_state now;
    char msg[64];

    /* The loop's heartbeat count rides along (systemd ignores X_ fields): a feed says
     * which tick it vouches for, and the journal and the tests can tell two apart. */
    snprintf(msg, sizeof msg, "WATCHDOG=1\nX_ECCD_HEARTBEAT=%lu", count);
    *last = count;
    if (!advanced)
        now = FEED_STALLED;
    else if (!(b & 1ul))
        now = FEED_UNHEALTHY;
    else if (notify(msg) != 0)
        now = FEED_FAILED;
    else {
        atomic_fetch_add_explicit(&n->sent, 1, memory_order_relaxed);
        now = FEED_OK;
    }
    if (now != *state) {
        switch (now) {
        case FEED_OK:
            log_info("systemd watchdog: fed again");
            break;
        case FEED_STALLED:
            log_warn("systemd watchdog: no heartbeat from the control loop; not feeding");
            break;
        case FEED_UNHEALTHY:
            log_warn("systemd watchdog: the control loop reports it is late; not feeding");
            break;
        case FEED_FAILED:
            log_warn("systemd watchdog: cannot send WATCHDOG=1: %s", strerror(errno));
            break;
        }
        *state = now;
    }
}

static void *watchdog_main(void *arg)
{
    struct sdnotify *n = arg;
    long period_ns = (long)(n->watchdog_usec * 1000u / 4u);
    unsigned long last = atomic_load_explicit(&n->beat, memory_order_relaxed) >> 1;
    enum feed_state state = FEED_OK;
    double period;
    struct timespec due = worker_now();

    period = (double)(period_ns < WAKE_MIN_NS ? WAKE_MIN_NS : period_ns) * 1e-9;
    for (;;) {
        due = worker_after(due, period);
        if (!worker_wait(&n->w, &due))
            return NULL;
        feed(n, &last, &state);
        /* Late by more than a period (a suspend, a starved CPU): start afresh from now
         * rather than catching up with a burst of wake-ups. */
        struct timespec now = worker_now(), limit = worker_after(due, period);
        if (worker_before(&limit, &now))
            due = now;
    }
}

/* The thread with every signal blocked (they are the main thread's business), normal
 * scheduling and a small stack. */
static int start_watchdog(struct sdnotify *n)
{
    return worker_start(&n->w, watchdog_main, n, WORKER_NO_SIGNALS | WORKER_SCHED_OTHER,
                        THREAD_STACK);
}

/* Wake the thread at once (whatever the interval) and wait for it to end, for good. */
static void stop_watchdog(struct sdnotify *n)
{
    if (!n->w.started)
        return;
    worker_stop(&n->w);
    n->ended = true;
}

/* ---- the API ------------------------------------------------------------------------- */

int sdnotify_ready(struct sdnotify *n, const char *status)
{
    if (!n || !n->active)
        return 0;
    /* READY=1 first: should the thread fail to start, systemd's watchdog restarts eccd
     * within WatchdogSec, sooner than a start-up timeout would. */
    int rc = notify_with_status("READY=1", status && *status ? status : NULL);
    int err = errno;
    if (n->watchdog_usec && !n->w.started && !n->ended && !n->manual) {
        if (start_watchdog(n) != 0) {
            log_error("systemd watchdog: cannot start its thread: %s", strerror(errno));
            return -1;
        }
        log_info("systemd watchdog: %.3g s, fed every %.3g s while the control loop ticks",
                 (double)n->watchdog_usec / 1e6, (double)n->watchdog_usec / 4e6);
    }
    errno = err;
    return rc;
}

int sdnotify_status(struct sdnotify *n, const char *status)
{
    if (!n || !n->active)
        return 0;
    return notify_with_status(NULL, status ? status : "");
}

int sdnotify_stopping(struct sdnotify *n, const char *status)
{
    if (!n || !n->active)
        return 0;
    /* systemd disarms its watchdog when the unit leaves the running state, which
     * STOPPING=1 (or its own SIGTERM) does: the thread has nothing left to do, and its
     * "no heartbeat" warnings would only be noise while eccd shuts down. */
    stop_watchdog(n);
    return notify_with_status("STOPPING=1", status && *status ? status : NULL);
}

void sdnotify_heartbeat(struct sdnotify *n, bool healthy)
{
    if (!n || !n->watchdog_usec)
        return;
    /* One writer in practice (the loop); the CAS keeps it right with more. Relaxed: the
     * word carries no other data with it. */
    unsigned long b = atomic_load_explicit(&n->beat, memory_order_relaxed), next;
    do
        next = (((b >> 1) + 1ul) << 1) | (healthy ? 1ul : 0ul);
    while (!atomic_compare_exchange_weak_explicit(&n->beat, &b, next, memory_order_relaxed,
                                                  memory_order_relaxed));
}

/* ---- driven by hand (tests) ------------------------------------------------------------ */

struct sdnotify *sdnotify_open_manual(void)
{
    struct sdnotify *n = sdnotify_open();

    if (n)
        n->manual = true;
    return n;
}

int sdnotify_feed_now(struct sdnotify *n)
{
    enum feed_state state;
    long before;

    if (!n || !n->manual || !n->active || !n->watchdog_usec) {
        errno = EINVAL;
        return -1;
    }
    before = atomic_load(&n->sent);
    state = (enum feed_state)n->manual_state;
    feed(n, &n->manual_last, &state);
    n->manual_state = (int)state;
    return atomic_load(&n->sent) > before;
}
