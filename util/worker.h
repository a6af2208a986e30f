/* worker.h - what eccd's own periodic threads share: a stop flag with a CLOCK_MONOTONIC
 * condition variable, a wait on an absolute deadline that a stop request cuts short, a
 * start that can block signals and ask for normal scheduling, a stop that wakes the
 * thread at once and joins it, and the timespec arithmetic for deadlines.
 *
 * The Modbus bus, the GPIO inputs' dead-man watchdog, the HY drive's I/O, the load cell's
 * reader and the systemd watchdog each run their own loop body on it; what is the same
 * (and easy to get wrong: a wait that ignores the stop, a relative deadline that drifts)
 * is here once.
 *
 * A struct worker is the caller's (in its own object): worker_init before anything else,
 * worker_fini last (it stops a running thread first). mu guards stopping; the owner may
 * guard its own data with it too, and then waits with worker_wait_locked. Not for the
 * control loop's thread: nothing here is free of system calls.
 */
#ifndef ECC_WORKER_H
#define ECC_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

struct worker {
    pthread_mutex_t mu;
    pthread_cond_t cv;          /* CLOCK_MONOTONIC; broadcast on a stop request */
    bool stopping;              /* under mu: set by worker_stop, cleared by worker_start */
    bool woken;                 /* under mu: worker_wake since the last wait ended */
    bool started;               /* the owner's thread only (start and stop) */
    pthread_t thread;
};

enum {
    WORKER_NO_SIGNALS = 1,      /* the thread starts with every signal blocked */
    WORKER_SCHED_OTHER = 2,     /* normal scheduling, whatever the starting thread has */
};

void worker_init(struct worker *w);
void worker_fini(struct worker *w);
/* Run main(arg) on a new thread (flags: the WORKER_ bits; stack_size 0: the default).
 * 0, or -1 with errno (EBUSY: already started; pthread_create's). */
int worker_start(struct worker *w, void *(*main)(void *), void *arg, unsigned flags,
                 size_t stack_size);
/* Ask the thread to stop, wake it, join it. Idempotent; a no-op when not started. */
void worker_stop(struct worker *w);
/* End the thread's current (or next) wait early, as if its deadline had come. */
void worker_wake(struct worker *w);
/* Whether a stop was asked for (takes mu). */
bool worker_stopping(struct worker *w);
/* Sleep until deadline (CLOCK_MONOTONIC), a worker_wake or a stop request: true to go on,
 * false to stop.
 * worker_wait takes mu itself; worker_wait_locked is called with mu held (and returns with
 * it held). A spurious wake-up waits again for the same deadline. */
bool worker_wait(struct worker *w, const struct timespec *deadline);
bool worker_wait_locked(struct worker *w, const struct timespec *deadline);

/* CLOCK_MONOTONIC now; t + s, to the nearest nanosecond (s > 0, else t), so that a
 * schedule due = worker_after(due, period) does not drift; whether a is before b. */
struct timespec worker_now(void);
struct timespec worker_after(struct timespec t, double s);
bool worker_before(const struct timespec *a, const struct timespec *b);

#endif
