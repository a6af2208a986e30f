/* live.c - each tick's sample and each event, for live watchers (see live.h). */
#include "daemon/live.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define PENDING_EVENTS 8

struct live {
    pthread_mutex_t mu;             /* the loop only ever trylocks it */
    struct live_sample samples[LIVE_SAMPLES];
    uint64_t n_samples;             /* ever appended (under mu) */
    struct ctl_event events[LIVE_EVENTS];
    uint64_t n_events;
    long dropped;                   /* lost by the loop: its buffer was full */

    /* The loop's own, while a reader holds mu. */
    struct live_sample pend_s[LIVE_PENDING];
    struct ctl_event pend_e[PENDING_EVENTS];
    int n_pend_s, n_pend_e;
    long pend_dropped;
};

struct live *live_open(void)
{
    struct live *l = calloc(1, sizeof *l);

    if (l)
        pthread_mutex_init(&l->mu, NULL);
    return l;
}

void live_close(struct live *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* Under mu: the loop's buffer into the rings. */
static void flush_pending(struct live *l)
{
    for (int i = 0; i < l->n_pend_s; i++)
        l->samples[l->n_samples++ % LIVE_SAMPLES] = l->pend_s[i];
    for (int i = 0; i < l->n_pend_e; i++)
        l->events[l->n_events++ % LIVE_EVENTS] = l->pend_e[i];
    l->dropped += l->pend_dropped;
    l->n_pend_s = l->n_pend_e = 0;
    l->pend_dropped = 0;
}

/* The host's real time, ms since 1970 (a vDSO read: no system call). */
static double host_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void live_tick(struct live *l, const struct ctl_status *st)
{
    if (l->n_pend_s < LIVE_PENDING)
        l->pend_s[l->n_pend_s++] = (struct live_sample){
            .t = st->now, .wall = st->wall, .force = st->force, .speed = st->speed,
            .speed_cmd = st->speed_cmd, .host_ms = host_ms()};
    else
        l->pend_dropped++;
    if (pthread_mutex_trylock(&l->mu) != 0)
        return;                     /* a reader copies: in with the next tick */
    flush_pending(l);
    pthread_mutex_unlock(&l->mu);
}

void live_event(struct live *l, const struct ctl_event *ev)
{
    if (l->n_pend_e < PENDING_EVENTS)
        l->pend_e[l->n_pend_e++] = *ev;
    else
        l->pend_dropped++;
}

void live_cursor_now(struct live *l, struct live_cursor *c)
{
    pthread_mutex_lock(&l->mu);
    c->sample = l->n_samples;
    c->event = l->n_events;
    c->dropped = l->dropped;
    pthread_mutex_unlock(&l->mu);
}

/* Under mu: where a reader at *at may begin in a ring of cap holding n so far; what it
 * missed by falling behind goes to *lost. */
static uint64_t catch_up(uint64_t *at, uint64_t n, uint64_t cap, long *lost)
{
    if (n - *at > cap) {
        *lost += (long)(n - *at - cap);
        *at = n - cap;
    }
    return n - *at;
}

int live_read(struct live *l, struct live_cursor *c, struct live_sample *samples, int max,
              struct ctl_event *events, int max_events, int *n_events, long *lost)
{
    uint64_t ns, ne;

    *lost = 0;
    pthread_mutex_lock(&l->mu);
    ns = catch_up(&c->sample, l->n_samples, LIVE_SAMPLES, lost);
    ne = catch_up(&c->event, l->n_events, LIVE_EVENTS, lost);
    ns = ns < (uint64_t)max ? ns : (uint64_t)max;
    ne = ne < (uint64_t)max_events ? ne : (uint64_t)max_events;
    for (uint64_t i = 0; i < ns; i++)
        samples[i] = l->samples[(c->sample + i) % LIVE_SAMPLES];
    for (uint64_t i = 0; i < ne; i++)
        events[i] = l->events[(c->event + i) % LIVE_EVENTS];
    c->sample += ns;
    c->event += ne;
    *lost += l->dropped - c->dropped;
    c->dropped = l->dropped;
    pthread_mutex_unlock(&l->mu);
    *n_events = (int)ne;
    return (int)ns;
}
