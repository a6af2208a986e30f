/* live.h - what the control loop did, tick by tick, for those who watch it live (the
 * socket's `watch`: eccctl watch, the patient's page).
 *
 * The loop hands each tick's sample (time, filtered force, measured and commanded belt
 * speed) and each event to live_tick / live_event. It takes the lock only with trylock:
 * when a reader holds it, what the loop has goes into a small buffer of the loop's own and
 * in with the next tick, so the loop never waits (and, past that buffer, what does not fit
 * is counted as lost, never waited for). Readers (the socket thread) copy what is new since
 * their own cursor; a reader that falls more than the ring behind skips to the oldest kept
 * and is told how much it lost.
 *
 * Sizes: LIVE_SAMPLES ticks (over 10 s at 100 Hz) and LIVE_EVENTS events. No allocation
 * after live_open. Ownership: live_open's object is freed by live_close (NULL: no-op).
 */
#ifndef ECC_LIVE_H
#define ECC_LIVE_H

#include <stdint.h>

#include "controller/ctl.h"

#define LIVE_SAMPLES 1024
#define LIVE_EVENTS 64
#define LIVE_PENDING 32             /* the loop's own buffer while a reader holds the lock */

struct live_sample {
    double t;                       /* s, eccd's monotonic clock */
    double wall;                    /* UTC s (0: no wall clock) */
    double force;                   /* N, filtered */
    double speed, speed_cmd;        /* m/s, measured and commanded */
    double host_ms;                 /* the host's CLOCK_REALTIME when the loop handed it
                                     * over, ms since 1970 (the sim's `wall` is virtual):
                                     * what a watcher measures its latency against */
};

/* A reader's place: the next sample and event it has not seen. */
struct live_cursor {
    uint64_t sample, event;
    long dropped;                   /* the loop's drops it has been told of */
};

struct live;

struct live *live_open(void);
void live_close(struct live *l);

/* The loop's side (one thread). */
void live_tick(struct live *l, const struct ctl_status *st);
void live_event(struct live *l, const struct ctl_event *ev);

/* A cursor at what comes next (a new watcher sees nothing from before it came). */
void live_cursor_now(struct live *l, struct live_cursor *c);
/* Copy what is new since c, at most max of each, and move c past it. *lost: how many the
 * reader missed (it fell behind the ring, or the loop had to drop them). Returns the
 * number of samples; *n_events the events. */
int live_read(struct live *l, struct live_cursor *c, struct live_sample *samples, int max,
              struct ctl_event *events, int max_events, int *n_events, long *lost);

#endif
