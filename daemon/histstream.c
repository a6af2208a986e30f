/* histstream.c - the history and export replies, streamed from a store cursor (see
 * histstream.h). */
#include "daemon/histstream.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/reply.h"

#define HIST_STEPS_MAX 2000        /* steps and flags in one history reply */

#define TAIL_MAX 256                /* the closing members */

struct hstream {
    struct store_cursor *cur;
    enum store_cursor_kind kind;
    double today;                   /* history: UTC s, the protocol day's start */
    long count;                     /* elements handed out */
    bool ended;                     /* the closing members are in text */
    json_t *session;                /* history: the session being gathered ... */
    long session_id;                /* ... and its id */
    char *text;                     /* what the next reads hand out: text[off..len) */
    size_t len, off;
};

/* ---- the elements ----------------------------------------------------------------------- */

static json_t *session_new(const struct hstream *h, const struct store_set_row *row)
{
    const char *status = row->session_done ? "done"
                       : row->session_started >= h->today ? "open" : "interrupted";

    return json_pack("{s:I, s:o, s:o, s:s, s:i, s:[]}", "id", (json_int_t)row->session_id,
                     "started", reply_time(row->session_started),
                     "ended", reply_time(row->session_ended), "status", status,
                     "faults", row->faults, "sets");
}

static void session_add_set(json_t *session, const struct store_set_row *row)
{
    if (row->set > 0)
        json_array_append_new(json_object_get(session, "sets"), json_pack(
            "{s:i, s:i, s:i, s:o, s:o}", "set", row->set, "counted", row->counted,
            "rejected", row->rejected, "in_band", reply_num(row->in_band_share),
            "pain", row->pain >= 0 ? json_integer(row->pain) : json_null()));
}

/* The next session with its sets (rows come a set at a time, a session's together): 1 with
 * *item, 0 at the end, -1 when the history cannot be read. */
static int next_session(struct hstream *h, json_t **item)
{
    struct store_set_row row;
    int rc;

    while ((rc = store_cursor_history(h->cur, &row)) == 1) {
        json_t *done = h->session;

        if (done && row.session_id == h->session_id) {
            session_add_set(done, &row);
            continue;
        }
        h->session = session_new(h, &row);
        h->session_id = row.session_id;
        if (!h->session) {
            json_decref(done);
            return -1;
        }
        session_add_set(h->session, &row);
        if (done) {
            *item = done;
            return 1;
        }
    }
    if (rc < 0)
        return -1;
    *item = h->session;             /* the last one, if any */
    h->session = NULL;
    return *item ? 1 : 0;
}

static int next_rep(struct hstream *h, json_t **item)
{
    struct store_rep_row x;
    int rc = store_cursor_export(h->cur, &x);

    if (rc != 1)
        return rc;
    *item = json_pack("[s, I, o, i, i, i, o, f, f, f, f, f, f, f, o]", x.patient,
                      (json_int_t)x.session_id, reply_time(x.session_started), x.set, x.rep,
                      x.stroke, reply_time(x.t), x.duration_s, x.travel_m, x.peak_n, x.mean_n,
                      x.in_band_s, x.in_band_share, x.work_j,
                      x.pain >= 0 ? json_integer(x.pain) : json_null());
    return *item ? 1 : -1;
}

/* ---- the text --------------------------------------------------------------------------- */

static void text_set(struct hstream *h, char *text, size_t len)
{
    free(h->text);
    h->text = text;
    h->len = len;
    h->off = 0;
}

/* The closing members: the count, and whether every element came. */
static int text_tail(struct hstream *h, bool complete)
{
    char *t = malloc(TAIL_MAX);
    int n;

    if (!t)
        return -1;
    n = snprintf(t, TAIL_MAX, "],\"count\":%ld,\"complete\":%s%s}", h->count,
                 complete ? "true" : "false", complete ? "" :
                 ",\"error\":{\"code\":\"internal\",\"message\":\"eccd could not read the "
                 "history to its end (its log says why); this reply is cut short\"}");
    text_set(h, t, (size_t)n);
    h->ended = true;
    return 0;
}

/* An element, after a comma unless it is the first. */
static int text_item(struct hstream *h, json_t *item)
{
    char *json = json_dumps(item, REPLY_JSON_FLAGS), *t;
    size_t n, comma = h->count > 0;

    json_decref(item);
    if (!json)
        return -1;
    n = strlen(json);
    t = malloc(n + comma + 1);
    if (!t) {
        free(json);
        return -1;
    }
    t[0] = ',';
    memcpy(t + comma, json, n + 1);
    free(json);
    text_set(h, t, n + comma);
    h->count++;
    return 0;
}

/* The next piece of text: an element, or the closing members. -1: out of memory. */
static int refill(struct hstream *h)
{
    json_t *item = NULL;
    int rc = h->kind == STORE_CURSOR_HISTORY ? next_session(h, &item) : next_rep(h, &item);

    if (rc == 1)
        return text_item(h, item);
    return text_tail(h, rc == 0);
}

/* ---- the stream ------------------------------------------------------------------------- */

static ssize_t hs_read(void *arg, char *buf, size_t size)
{
    struct hstream *h = arg;
    size_t n = 0;

    while (n < size) {
        size_t k;

        if (h->off == h->len) {
            if (h->ended)
                break;
            if (refill(h) != 0)
                return -1;
            continue;
        }
        k = h->len - h->off < size - n ? h->len - h->off : size - n;
        memcpy(buf + n, h->text + h->off, k);
        n += k;
        h->off += k;
    }
    return (ssize_t)n;
}

static void hs_close(void *arg)
{
    struct hstream *h = arg;

    store_cursor_close(h->cur);
    json_decref(h->session);
    free(h->text);
    free(h);
}

/* The reply's beginning: o's members, then the array's name and its bracket. */
static char *head_text(json_t *o, const char *array)
{
    char *json = o ? json_dumps(o, REPLY_JSON_FLAGS) : NULL, *t;
    size_t n;

    json_decref(o);
    if (!json)
        return NULL;
    n = strlen(json);               /* "{...}": the last brace goes */
    t = malloc(n + strlen(array) + 8);
    if (t)
        sprintf(t, "%.*s,\"%s\":[", (int)(n - 1), json, array);
    free(json);
    return t;
}

static char *hs_open(struct store *store, enum store_cursor_kind kind, long patient,
                     double since, double today, json_t *o, const char *array,
                     struct ctlsock_stream *out)
{
    struct hstream *h = calloc(1, sizeof *h);
    char *head = NULL;

    if (h)
        h->cur = store_cursor_open(store, kind, patient, since);
    if (h && h->cur)
        head = head_text(o, array);
    else
        json_decref(o);
    if (!head) {
        int e = h && !h->cur ? errno : ENOMEM;
        if (h)
            hs_close(h);
        errno = e;
        return NULL;
    }
    h->kind = kind;
    h->today = today;
    *out = (struct ctlsock_stream){.read = hs_read, .close = hs_close, .arg = h};
    return head;
}

char *histstream_history(struct store *store, const struct req *r, long patient, double since,
                         double today, struct ctlsock_stream *out)
{
    json_t *o = reply_ok(r);

    json_object_set_new(o, "days", json_integer(r->days));
    if (patient > 0)        /* the programme's steps and flags of those days, with reasons */
        json_object_set_new(o, "progression",
                            store_progression_since(store, patient, since, HIST_STEPS_MAX));
    return hs_open(store, STORE_CURSOR_HISTORY, patient, since, today, o, "sessions", out);
}

char *histstream_export(struct store *store, const struct req *r, double since,
                        struct ctlsock_stream *out)
{
    json_t *o = reply_ok(r);

    json_object_set_new(o, "columns", json_pack(
        "[s,s,s,s,s,s,s,s,s,s,s,s,s,s,s]", "patient", "session", "session_started", "set", "rep",
        "stroke", "time", "duration_s", "travel_m", "peak_n", "mean_n", "in_band_s",
        "in_band_share", "work_j", "pain"));
    return hs_open(store, STORE_CURSOR_EXPORT, 0, since, 0.0, o, "rows", out);
}
