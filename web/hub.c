/* hub.c - eccweb's live fan-out (see hub.h). */
#include "web/hub.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct slot {
    char *text;                     /* "data: {...}\n\n" */
    size_t len;
};

struct hub {
    pthread_mutex_t mu;
    pthread_cond_t cv;              /* CLOCK_MONOTONIC */
    struct slot slots[HUB_SLOTS];
    uint64_t seq;                   /* events ever published; event i is in slot i % HUB_SLOTS */
    long dropped;
    int readers;
    bool stopping;
};

struct hub *hub_open(void)
{
    struct hub *h = calloc(1, sizeof *h);
    pthread_condattr_t ca;

    if (!h)
        return NULL;
    pthread_mutex_init(&h->mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&h->cv, &ca);
    pthread_condattr_destroy(&ca);
    return h;
}

void hub_close(struct hub *h)
{
    if (!h)
        return;
    for (int i = 0; i < HUB_SLOTS; i++)
        free(h->slots[i].text);
    pthread_cond_destroy(&h->cv);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

int hub_publish(struct hub *h, const char *json, size_t len)
{
    static const char head[] = "data: ", tail[] = "\n\n";
    size_t n = sizeof head - 1 + len + sizeof tail - 1;
    char *text;
    struct slot *s;

    if (len > HUB_EVENT_MAX || memchr(json, '\n', len)) {
        pthread_mutex_lock(&h->mu);
        h->dropped++;
        pthread_mutex_unlock(&h->mu);
        errno = EMSGSIZE;
        return -1;
    }
    if (!(text = malloc(n + 1)))
        return -1;
    memcpy(text, head, sizeof head - 1);
    memcpy(text + sizeof head - 1, json, len);
    memcpy(text + sizeof head - 1 + len, tail, sizeof tail);   /* and the NUL */
    pthread_mutex_lock(&h->mu);
    s = &h->slots[h->seq % HUB_SLOTS];
    free(s->text);
    s->text = text;
    s->len = n;
    h->seq++;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
    return 0;
}

void hub_reader_join(struct hub *h, struct hub_reader *r)
{
    pthread_mutex_lock(&h->mu);
    r->next = h->seq ? h->seq - 1 : 0;
    r->off = 0;
    r->lost = 0;
    h->readers++;
    pthread_mutex_unlock(&h->mu);
}

void hub_reader_leave(struct hub *h, struct hub_reader *r)
{
    (void)r;
    pthread_mutex_lock(&h->mu);
    h->readers--;
    pthread_mutex_unlock(&h->mu);
}

/* Under mu: a reader further behind than the ring skips to the oldest kept. The SSE text
 * telling it so, or NULL. */
static const char *catch_up(struct hub *h, struct hub_reader *r, char *note, size_t n)
{
    uint64_t oldest = h->seq > HUB_SLOTS ? h->seq - HUB_SLOTS : 0;

    if (r->next >= oldest)
        return NULL;
    r->lost += (long)(oldest - r->next);
    r->next = oldest;
    /* An event cut off half-way is ended first (the page drops it: not JSON). */
    snprintf(note, n, "%sevent: lost\ndata: {\"lost\":%ld}\n\n", r->off ? "\n\n" : "",
             r->lost);
    r->off = 0;
    return note;
}

static struct timespec deadline_after(int ms)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

ssize_t hub_read(struct hub *h, struct hub_reader *r, char *buf, size_t max, int wait_ms)
{
    struct timespec until = deadline_after(wait_ms);
    char note[64];
    const char *lost;
    size_t used = 0;

    pthread_mutex_lock(&h->mu);
    while (!h->stopping && r->next >= h->seq)
        if (pthread_cond_timedwait(&h->cv, &h->mu, &until) == ETIMEDOUT)
            break;
    if (h->stopping) {
        pthread_mutex_unlock(&h->mu);
        return -1;
    }
    if ((lost = catch_up(h, r, note, sizeof note)) && strlen(lost) <= max) {
        memcpy(buf, lost, strlen(lost));
        used = strlen(lost);
    }
    while (r->next < h->seq && used < max) {
        const struct slot *s = &h->slots[r->next % HUB_SLOTS];
        size_t k = s->len - r->off;

        if (k > max - used)
            k = max - used;
        memcpy(buf + used, s->text + r->off, k);
        used += k;
        r->off += k;
        if (r->off == s->len) {
            r->next++;
            r->off = 0;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return (ssize_t)used;
}

ssize_t hub_last(struct hub *h, char *buf, size_t n)
{
    ssize_t len = -1;

    pthread_mutex_lock(&h->mu);
    if (h->seq) {
        const struct slot *s = &h->slots[(h->seq - 1) % HUB_SLOTS];
        size_t k = s->len - 8;          /* without "data: " and "\n\n" */
        if (k < n) {
            memcpy(buf, s->text + 6, k);
            buf[k] = '\0';
            len = (ssize_t)k;
        }
    }
    pthread_mutex_unlock(&h->mu);
    return len;
}

void hub_stop(struct hub *h)
{
    pthread_mutex_lock(&h->mu);
    h->stopping = true;
    pthread_cond_broadcast(&h->cv);
    pthread_mutex_unlock(&h->mu);
}

void hub_stats(struct hub *h, struct hub_stats *s)
{
    pthread_mutex_lock(&h->mu);
    s->published = h->seq;
    s->dropped = h->dropped;
    s->readers = h->readers;
    pthread_mutex_unlock(&h->mu);
}
