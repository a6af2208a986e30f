/* pull.c - the clinic's shared patients and programmes handed to eccd (see pull.h). */
#include "sync/pull.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/ctlconn.h"
#include "sync/pgwrite.h"
#include "sync/syncrow.h"
#include "util/log.h"

#define REPLY_MAX 65536        /* ctlconn reads in 64 KiB at least; a reply is far less */

struct pull_ctx {
    struct sync_pull_said *said;
    struct ctlconn c;
    struct sync_pull_stats st;
    char *err;
    size_t errlen;
    int rc;                     /* why the callback stopped the pull */
};

/* The members of a pulled row as eccd's request takes them. */
static void put_value(json_t *o, const char *key, const struct sync_value *v)
{
    if (v->kind == SV_INT)
        json_object_set_new(o, key, json_integer(v->i));
    else if (v->kind == SV_REAL)
        json_object_set_new(o, key, json_real(v->r));
    else if (v->kind == SV_TEXT)
        json_object_set_new(o, key, json_string(v->text));
}

static json_t *patient_request(const struct sync_row *row)
{
    json_t *o = json_pack("{s:i, s:s}", "v", 1, "cmd", "patient-put");

    for (int i = 0; o && i < sync_tables[ST_PATIENTS].ncols; i++)
        put_value(o, sync_tables[ST_PATIENTS].cols[i].name, &row->v[i]);
    return o;
}

/* sets and reps are the rig's [protocol]; locked is a boolean on the socket. */
static json_t *programme_request(const struct sync_row *row)
{
    json_t *o = json_pack("{s:i, s:s}", "v", 1, "cmd", "programme-put");

    for (int i = 0; o && i < sync_tables[ST_PROGRAMMES].ncols; i++) {
        const char *name = sync_tables[ST_PROGRAMMES].cols[i].name;

        if (!strcmp(name, "sets") || !strcmp(name, "reps"))
            continue;
        if (!strcmp(name, "locked") && row->v[i].kind == SV_INT)
            json_object_set_new(o, name, json_boolean(row->v[i].i != 0));
        else
            put_value(o, name, &row->v[i]);
    }
    return o;
}

/* Send one request, read its reply: 0 and *reply (the caller decrefs), or -1 (said). */
static int ask(struct pull_ctx *p, json_t *req, json_t **reply)
{
    char *line = json_dumps(req, JSON_COMPACT);
    size_t len = 0;
    json_error_t je;
    int rc;

    *reply = NULL;
    if (!line) {
        snprintf(p->err, p->errlen, "out of memory");
        return -1;
    }
    rc = ctlconn_send(&p->c, line, strlen(line));
    if (rc == 0)
        rc = ctlconn_send(&p->c, "\n", 1);
    free(line);
    if (rc == 0)
        rc = ctlconn_recv_line(&p->c, &len);
    if (rc != 0) {
        snprintf(p->err, p->errlen, "eccd at %s: %s", p->c.path,
                 rc == 1 ? "it closed the connection" : strerror(errno));
        return -1;
    }
    *reply = json_loadb(p->c.buf, len, 0, &je);
    ctlconn_consume(&p->c, len);
    if (!json_is_object(*reply)) {
        json_decref(*reply);
        *reply = NULL;
        snprintf(p->err, p->errlen, "eccd at %s answered with no JSON object: %s", p->c.path,
                 je.text);
        return -1;
    }
    return 0;
}

static void tally(struct pull_ctx *p, const char *result)
{
    if (!result)
        return;
    p->st.added += !strcmp(result, "added");
    p->st.renamed += !strcmp(result, "renamed");
    p->st.applied += !strcmp(result, "applied");
}

/* A row refused for good comes again with every pull until it changes: said once (a
 * bounded memory of what was said; past it, said again). */
static void say_refused(struct sync_pull_said *said, const char *what)
{
    for (int i = 0; i < said->n; i++)
        if (strcmp(said->text[i], what) == 0)
            return;
    log_warn("sync: %s", what);
    snprintf(said->text[said->next], sizeof said->text[0], "%s", what);
    said->next = (said->next + 1) % SYNC_PULL_SAID_MAX;
    if (said->n < SYNC_PULL_SAID_MAX)
        said->n++;
}

/* One pulled row to eccd. 0 go on; else the pull stops (p->rc says why). */
static int hand_over(const struct sync_row *row, void *ctx)
{
    struct pull_ctx *p = ctx;
    json_t *req = row->table == ST_PATIENTS ? patient_request(row) : programme_request(row);
    json_t *reply = NULL;
    const char *error, *message;
    bool later;

    if (!req || ask(p, req, &reply) != 0) {
        json_decref(req);
        p->rc = SYNC_PULL_LATER;
        return 1;
    }
    json_decref(req);
    p->st.rows++;
    if (json_is_true(json_object_get(reply, "ok"))) {
        tally(p, json_string_value(json_object_get(reply, "result")));
        json_decref(reply);
        return 0;
    }
    error = json_string_value(json_object_get(reply, "error"));
    message = json_string_value(json_object_get(reply, "message"));
    error = error ? error : "?";
    snprintf(p->err, p->errlen, "eccd did not take %s %s: %s (%s)",
             sync_tables[row->table].name, row->v[0].text, message ? message : "", error);
    /* the patient trains now, or eccd is busy: the same row later; else pass it over */
    later = !strcmp(error, "refused_state") || !strcmp(error, "busy");
    json_decref(reply);         /* error and message lived in it */
    if (later) {
        p->rc = SYNC_PULL_LATER;
        return 1;
    }
    say_refused(p->said, p->err);
    p->err[0] = '\0';
    p->st.refused++;
    return 0;
}

int sync_pull_run(PGconn *pg, const char *socket_path, double timeout_s, double *since,
                  struct sync_pull_said *said, struct sync_pull_stats *st, char *err,
                  size_t errlen)
{
    struct pull_ctx p = {.said = said, .err = err, .errlen = errlen};
    double next = 0.0;
    int rc;

    if (errlen)
        err[0] = '\0';
    ctlconn_init(&p.c, socket_path, timeout_s, REPLY_MAX);
    if (ctlconn_open(&p.c) != 0) {
        snprintf(err, errlen, "eccd at %s: %s", socket_path, strerror(errno));
        ctlconn_close(&p.c);
        return SYNC_PULL_LATER;
    }
    rc = pgwrite_pull_patients(pg, *since, hand_over, &p, &next, err, errlen);
    ctlconn_close(&p.c);
    if (st)
        *st = p.st;
    if (rc >= 0) {
        *since = next;
        return 0;
    }
    return rc == PGWRITE_STOPPED ? p.rc : rc == PGWRITE_LINK ? SYNC_PULL_LINK : SYNC_PULL_REFUSED;
}
