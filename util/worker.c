/* worker.c - a periodic thread's start, stop and waits (see worker.h). */
#include "util/worker.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>

void worker_init(struct worker *w)
{
    pthread_condattr_t ca;

    pthread_mutex_init(&w->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);   /* deadlines immune to clock steps */
    pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    w->stopping = false;
    w->woken = false;
    w->started = false;
}

void worker_fini(struct worker *w)
{
    worker_stop(w);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

static void attr_sched_other(pthread_attr_t *at)
{
    struct sched_param sp = {.sched_priority = 0};

    pthread_attr_setinheritsched(at, PTHREAD_EXPLICIT_SCHED);
    pthread_attr_setschedpolicy(at, SCHED_OTHER);
    pthread_attr_setschedparam(at, &sp);
}

int worker_start(struct worker *w, void *(*main)(void *), void *arg, unsigned flags,
                 size_t stack_size)
{
    pthread_attr_t at;
    sigset_t all, old;
    int rc;

    if (w->started) {
        errno = EBUSY;
        return -1;
    }
    pthread_mutex_lock(&w->mu);
    w->stopping = false;
    pthread_mutex_unlock(&w->mu);
    pthread_attr_init(&at);
    if (flags & WORKER_SCHED_OTHER)
        attr_sched_other(&at);
    if (stack_size)
        pthread_attr_setstacksize(&at, stack_size);
    sigfillset(&all);
    if (flags & WORKER_NO_SIGNALS)      /* the new thread inherits the mask */
        pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&w->thread, &at, main, arg);
    if (flags & WORKER_NO_SIGNALS)
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&at);
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    w->started = true;
    return 0;
}

void worker_stop(struct worker *w)
{
    if (!w->started)
        return;
    pthread_mutex_lock(&w->mu);
    w->stopping = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    w->started = false;
}

void worker_wake(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    w->woken = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

bool worker_stopping(struct worker *w)
{
    pthread_mutex_lock(&w->mu);
    bool s = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return s;
}

bool worker_wait_locked(struct worker *w, const struct timespec *deadline)
{
    while (!w->stopping && !w->woken &&
           pthread_cond_timedwait(&w->cv, &w->mu, deadline) != ETIMEDOUT)
        ;
    w->woken = false;
    return !w->stopping;
}

bool worker_wait(struct worker *w, const struct timespec *deadline)
{
    pthread_mutex_lock(&w->mu);
    bool go_on = worker_wait_locked(w, deadline);
    pthread_mutex_unlock(&w->mu);
    return go_on;
}

struct timespec worker_now(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return t;
}

struct timespec worker_after(struct timespec t, double s)
{
    long long ns;

    if (!(s > 0.0))
        return t;
    ns = (long long)(s * 1e9 + 0.5) + t.tv_nsec;     /* rounded: 1.001 s is not 1000999999 ns */
    t.tv_sec += (time_t)(ns / 1000000000LL);
    t.tv_nsec = (long)(ns % 1000000000LL);
    return t;
}

bool worker_before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}
