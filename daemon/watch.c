/* watch.c - the control socket's `watch` stream (see watch.h). */
#include "daemon/watch.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/event.h"
#include "controller/safety.h"
#include "daemon/reply.h"

#define SAMPLES_MAX 512             /* a line's ticks at most (the rest: the next line) */
#define TEXT_MIN 4096

struct watch {
    struct live *live;
    struct live_cursor cur;
    watch_status_fn status;
    void *status_arg;
    double period_s;
    double next_s;                  /* CLOCK_MONOTONIC s: the next line is due */
    unsigned long lines;
    struct live_sample samples[SAMPLES_MAX];
    struct ctl_event events[LIVE_EVENTS];
    char *text;                     /* the line being handed out: text[off..len) */
    size_t len, off, cap;
};

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- the text of a line ---------------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static int put(struct watch *w, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(w->text + w->len, w->cap - w->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if ((size_t)n < w->cap - w->len)
            break;
        size_t cap = (w->cap + (size_t)n + 1) * 2;
        char *p = realloc(w->text, cap);
        if (!p)
            return -1;
        w->text = p;
        w->cap = cap;
    }
    w->len += (size_t)n;
    return 0;
}

static int put_status(struct watch *w, const struct ctl_status *st)
{
    char wall[EVENT_WALL_MAX + 2], state[64];

    event_wall_json(st->wall, wall, sizeof wall);
    event_json_string(state, sizeof state, st->state ? st->state : "");
    return put(w, "\"t\":%.3f,\"wall\":%s,\"state\":%s,\"fault\":", st->now, wall, state) ||
           (st->fault != FAULT_NONE ? put(w, "\"%s\"", fault_name(st->fault))
                                    : put(w, "null")) ||
           put(w, ",\"fault_value\":%g,\"fault_limit\":%g", st->fault_value, st->fault_limit) ||
           put(w, ",\"force\":%.1f,\"speed\":%.3f,\"speed_cmd\":%.3f,\"band\":[%g,%g],"
                  "\"loaded\":%s,\"session\":%d,\"set\":%d,\"rep\":%d,\"reps_per_set\":%d,"
                  "\"sets_per_session\":%d,\"rest_left_s\":%.1f,\"patient\":%ld,"
                  "\"sessions_today\":%d",
               st->force, st->speed, st->speed_cmd, st->band_low, st->band_high,
               st->loaded ? "true" : "false", st->session, st->set, st->reps,
               st->reps_per_set, st->sets_per_session,
               isfinite(st->rest_left_s) ? st->rest_left_s : 0.0, st->patient,
               st->sessions_today);
}

static int put_samples(struct watch *w, int n)
{
    if (put(w, ",\"samples\":["))
        return -1;
    for (int i = 0; i < n; i++) {
        const struct live_sample *x = &w->samples[i];
        if (put(w, "%s[%.3f,%.1f,%.3f,%.3f]", i ? "," : "", x->t, x->force, x->speed,
                x->speed_cmd))
            return -1;
    }
    return put(w, "]");
}

static int put_events(struct watch *w, int n)
{
    char line[EVENT_LINE_MAX];

    if (put(w, ",\"events\":["))
        return -1;
    for (int i = 0; i < n; i++) {
        event_json(&w->events[i], line, sizeof line);
        if (put(w, "%s%s", i ? "," : "", line))
            return -1;
    }
    return put(w, "]");
}

/* The next line, with its newline: what came since the last, and the status now. */
static int make_line(struct watch *w)
{
    struct ctl_status st;
    int ns, ne;
    long lost;
    bool have = w->status(w->status_arg, &st);

    ns = live_read(w->live, &w->cur, w->samples, SAMPLES_MAX, w->events, LIVE_EVENTS, &ne,
                   &lost);
    w->len = w->off = 0;
    if (put(w, "{\"watch\":%lu,", ++w->lines))
        return -1;
    if (have ? put_status(w, &st) : put(w, "\"state\":null"))
        return -1;
    if (put_samples(w, ns) || put_events(w, ne))
        return -1;
    if (ns ? put(w, ",\"tick_ms\":%.1f", w->samples[ns - 1].host_ms) : put(w, ",\"tick_ms\":null"))
        return -1;
    return put(w, ",\"lost\":%ld}\n", lost);
}

/* ---- the stream ------------------------------------------------------------------------ */

static ssize_t watch_read(void *arg, char *buf, size_t size)
{
    struct watch *w = arg;
    size_t k;

    if (w->off == w->len) {
        double now = mono_s();
        if (now < w->next_s) {
            errno = EAGAIN;         /* the next line is not due yet */
            return -1;
        }
        /* the next one a period on, or from now if the client was slow to take this one */
        w->next_s = fmax(w->next_s + w->period_s, now);
        if (make_line(w) != 0) {
            errno = ENOMEM;
            return -1;
        }
    }
    k = w->len - w->off < size ? w->len - w->off : size;
    memcpy(buf, w->text + w->off, k);
    w->off += k;
    return (ssize_t)k;
}

static void watch_close(void *arg)
{
    struct watch *w = arg;

    free(w->text);
    free(w);
}

char *watch_begin(struct live *live, watch_status_fn status, void *status_arg,
                  const struct req *r, struct ctlsock_stream *out)
{
    struct watch *w = calloc(1, sizeof *w);
    json_t *o;
    char *head;

    if (!w || !(w->text = malloc(TEXT_MIN))) {
        free(w);
        errno = ENOMEM;
        return NULL;
    }
    w->cap = TEXT_MIN;
    w->live = live;
    w->status = status;
    w->status_arg = status_arg;
    w->period_s = 1.0 / r->rate_hz;
    w->next_s = mono_s();           /* the first line at once */
    live_cursor_now(live, &w->cur);
    o = reply_ok(r);
    json_object_set_new(o, "rate_hz", json_integer(r->rate_hz));
    head = reply_dump(o);
    if (!head) {
        watch_close(w);
        errno = ENOMEM;
        return NULL;
    }
    *out = (struct ctlsock_stream){.read = watch_read, .close = watch_close, .arg = w,
                                   .lines = true};
    return head;
}
