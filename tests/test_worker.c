/* test_worker.c - the periodic threads' common part (util/worker.h): a stop wakes a thread
 * that waits on a deadline an hour away and joins it; stops are idempotent and a no-op
 * before a start; a second start is refused; a thread can be started again after a stop;
 * WORKER_NO_SIGNALS blocks every signal in the thread and leaves the caller's mask alone;
 * a periodic thread ticks on its schedule and no wait returns before its deadline; a wake
 * ends one wait (the current or the next) and only one; a thread that ends itself is
 * joined by the stop; the deadline arithmetic carries nanoseconds and a schedule of N
 * periods lands on start + N x period exactly. No wall-clock bound is asserted (that a wait
 * returned at or after its deadline is an order of two CLOCK_MONOTONIC readings, not a
 * duration): a stop that did not wake the thread would hang, and alarm() turns a hang into
 * a failed run.
 */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <unistd.h>

#include "tests/test.h"
#include "util/worker.h"

#define HANG_S 20                   /* alarm: a stop that does not wake the thread */

struct probe {
    struct worker w;
    atomic_int waits;               /* worker_wait calls begun */
    atomic_int went_on;             /* ... that returned true */
    atomic_int returned;            /* the thread's main returned */
    atomic_bool all_blocked;        /* every signal blocked in the thread */
};

/* Wait an hour, over and over, until stopped. */
static void *hour_waiter(void *arg)
{
    struct probe *p = arg;

    for (;;) {
        struct timespec due = worker_after(worker_now(), 3600.0);
        atomic_fetch_add(&p->waits, 1);
        if (!worker_wait(&p->w, &due))
            break;
        atomic_fetch_add(&p->went_on, 1);
    }
    atomic_fetch_add(&p->returned, 1);
    return NULL;
}

/* Note the thread's signal mask, then wait for the stop. */
static void *mask_reader(void *arg)
{
    struct probe *p = arg;
    sigset_t m;

    pthread_sigmask(SIG_SETMASK, NULL, &m);
    atomic_store(&p->all_blocked, sigismember(&m, SIGTERM) == 1 && sigismember(&m, SIGINT) == 1
                                  && sigismember(&m, SIGUSR1) == 1);
    return hour_waiter(arg);
}

/* A periodic thread as the rig's threads use it: TICKS ticks on the schedule due = due + PERIOD
 * (from the first deadline, not from when a wait returned), then it ends itself, as a
 * thread does whose body says it is done. It notes a wait that returned early. */
#define TICKS 5
#define PERIOD_S 0.002

struct ticker {
    struct worker w;
    struct timespec start;
    struct timespec due[TICKS];     /* each tick's deadline, as the thread computed it */
    atomic_int ticks;
    atomic_int early;               /* waits that returned true before their deadline */
    atomic_int returned;
};

static void *ticker_main(void *arg)
{
    struct ticker *k = arg;
    struct timespec due = k->start;

    for (int i = 0; i < TICKS; i++) {
        due = worker_after(due, PERIOD_S);
        if (!worker_wait(&k->w, &due))
            break;
        struct timespec now = worker_now();
        if (worker_before(&now, &due))
            atomic_fetch_add(&k->early, 1);
        k->due[i] = due;
        atomic_fetch_add(&k->ticks, 1);
    }
    atomic_fetch_add(&k->returned, 1);
    return NULL;                    /* the stop joins it */
}

static void wait_for_waits(struct probe *p, int n)
{
    while (atomic_load(&p->waits) < n)
        sched_yield();              /* the alarm bounds it */
}

TEST(a_stop_wakes_an_hour_long_wait_and_joins)
{
    static struct probe p;

    worker_init(&p.w);
    alarm(HANG_S);
    CHECK_INT(worker_start(&p.w, hour_waiter, &p, 0, 0), 0);
    wait_for_waits(&p, 1);          /* it is waiting (or about to) */
    worker_stop(&p.w);              /* returns only once the thread has ended */
    alarm(0);
    CHECK_INT(atomic_load(&p.returned), 1);
    CHECK_INT(atomic_load(&p.went_on), 0);      /* the hour never passed */
    CHECK(!p.w.started);
    worker_fini(&p.w);
}

TEST(stops_are_idempotent_and_a_second_start_is_refused)
{
    static struct probe p;

    worker_init(&p.w);
    worker_stop(&p.w);              /* before any start: nothing to do */
    CHECK(!worker_stopping(&p.w));
    alarm(HANG_S);
    CHECK_INT(worker_start(&p.w, hour_waiter, &p, 0, 0), 0);
    errno = 0;
    CHECK_INT(worker_start(&p.w, hour_waiter, &p, 0, 0), -1);
    CHECK_INT(errno, EBUSY);
    worker_stop(&p.w);
    worker_stop(&p.w);              /* again: nothing */
    CHECK_INT(atomic_load(&p.returned), 1);
    CHECK_INT(worker_start(&p.w, hour_waiter, &p, 0, 0), 0);    /* and again after a stop */
    CHECK(!worker_stopping(&p.w));
    worker_fini(&p.w);              /* stops it */
    alarm(0);
    CHECK_INT(atomic_load(&p.returned), 2);
}

TEST(a_past_deadline_goes_on_at_once)
{
    static struct probe p;
    struct timespec past = worker_now();

    worker_init(&p.w);
    CHECK(worker_wait(&p.w, &past));        /* not stopped: go on */
    pthread_mutex_lock(&p.w.mu);
    CHECK(worker_wait_locked(&p.w, &past));
    p.w.stopping = true;
    CHECK(!worker_wait_locked(&p.w, &past));    /* stopped: do not */
    pthread_mutex_unlock(&p.w.mu);
    worker_fini(&p.w);
}

TEST(no_signals_blocks_them_in_the_thread_only)
{
    static struct probe p;
    sigset_t before, after;

    worker_init(&p.w);
    pthread_sigmask(SIG_SETMASK, NULL, &before);
    alarm(HANG_S);
    CHECK_INT(worker_start(&p.w, mask_reader, &p, WORKER_NO_SIGNALS | WORKER_SCHED_OTHER,
                           256u << 10), 0);
    pthread_sigmask(SIG_SETMASK, NULL, &after);
    wait_for_waits(&p, 1);
    worker_fini(&p.w);
    alarm(0);
    CHECK(atomic_load(&p.all_blocked));
    CHECK_INT(sigismember(&after, SIGTERM), sigismember(&before, SIGTERM));
    CHECK_INT(sigismember(&after, SIGUSR1), sigismember(&before, SIGUSR1));
}

TEST(ticks_come_on_an_absolute_schedule_and_a_thread_may_end_itself)
{
    static struct ticker k;

    worker_init(&k.w);
    k.start = worker_now();
    alarm(HANG_S);
    CHECK_INT(worker_start(&k.w, ticker_main, &k, 0, 0), 0);
    while (atomic_load(&k.returned) == 0)
        sched_yield();              /* the alarm bounds it */
    worker_stop(&k.w);              /* joins the thread that has ended */
    worker_stop(&k.w);              /* again: nothing */
    alarm(0);
    CHECK(!k.w.started);
    CHECK_INT(atomic_load(&k.ticks), TICKS);
    CHECK_INT(atomic_load(&k.early), 0);
    /* Tick i was due at start + (i + 1) x period to the nanosecond, however late the
     * waits before it returned. */
    for (int i = 0; i < TICKS; i++) {
        struct timespec want = worker_after(k.start, (i + 1) * PERIOD_S);
        CHECK(k.due[i].tv_sec == want.tv_sec && k.due[i].tv_nsec == want.tv_nsec);
    }
    worker_fini(&k.w);
}

/* On the caller's own thread, so nothing races: a wake before the wait ends that wait at
 * once, however far its deadline; it is used up, so the next wait lasts to its deadline. */
TEST(a_wake_ends_one_wait_only)
{
    struct worker w;

    worker_init(&w);
    alarm(HANG_S);
    worker_wake(&w);
    struct timespec far = worker_after(worker_now(), 3600.0);
    CHECK(worker_wait(&w, &far));           /* at once: the wake, not the hour */
    struct timespec near = worker_after(worker_now(), 0.01);
    CHECK(worker_wait(&w, &near));
    struct timespec now = worker_now();
    CHECK(!worker_before(&now, &near));     /* it waited for its deadline */
    alarm(0);
    worker_fini(&w);
}

TEST(a_wake_ends_the_threads_current_wait)
{
    static struct probe p;

    worker_init(&p.w);
    alarm(HANG_S);
    CHECK_INT(worker_start(&p.w, hour_waiter, &p, 0, 0), 0);
    wait_for_waits(&p, 1);
    worker_wake(&p.w);
    while (atomic_load(&p.went_on) == 0)
        sched_yield();              /* the alarm bounds it: a wake that did not wake hangs */
    worker_stop(&p.w);
    alarm(0);
    CHECK_INT(atomic_load(&p.returned), 1);
    worker_fini(&p.w);
}

TEST(deadline_arithmetic)
{
    struct timespec t = {.tv_sec = 10, .tv_nsec = 900000000L}, u;

    u = worker_after(t, 0.25);
    CHECK_INT(u.tv_sec, 11);
    CHECK_INT(u.tv_nsec, 150000000L);
    u = worker_after(t, 2.0);
    CHECK_INT(u.tv_sec, 12);
    CHECK_INT(u.tv_nsec, 900000000L);
    u = worker_after(t, -1.0);              /* not a step back */
    CHECK(u.tv_sec == t.tv_sec && u.tv_nsec == t.tv_nsec);
    CHECK(worker_before(&t, &(struct timespec){.tv_sec = 10, .tv_nsec = 900000001L}));
    CHECK(!worker_before(&t, &t));
    CHECK(worker_before(&t, &(struct timespec){.tv_sec = 11}));
    /* 1.001 s is 1000999999.99... ns in a double: rounded, not cut, so ten periods of it
     * are 10.01 s to the nanosecond. */
    u = t;
    for (int i = 0; i < 10; i++)
        u = worker_after(u, 1.001);
    CHECK_INT(u.tv_sec, 20);
    CHECK_INT(u.tv_nsec, 910000000L);
}

TESTS(T(a_stop_wakes_an_hour_long_wait_and_joins),
      T(stops_are_idempotent_and_a_second_start_is_refused), T(a_past_deadline_goes_on_at_once),
      T(no_signals_blocks_them_in_the_thread_only),
      T(ticks_come_on_an_absolute_schedule_and_a_thread_may_end_itself),
      T(a_wake_ends_one_wait_only), T(a_wake_ends_the_threads_current_wait),
      T(deadline_arithmetic));
TEST_MAIN("test_worker")
