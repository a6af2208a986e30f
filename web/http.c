/* http.c - eccweb's HTTP server (see http.h; who may do what: docs/web.md).
 *
 * Every request is checked in this order before its handler runs: the Host header names
 * this server (policy_host_ok: no DNS rebinding); the path and method are known; a request
 * that changes something carries X-Eccweb: 1 and a JSON body, and its Origin (when sent)
 * is this server (no cross-site request can send that header without a CORS preflight,
 * which eccweb never grants); and the client may control the rig (a paired device, or a
 * browser on the rig itself with [web] trust_loopback) where the endpoint needs it.
 */
#define _GNU_SOURCE 1               /* open_memstream is POSIX 2008; MHD wants sockaddr types */
#include "web/http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "web/assets.h"
#include "web/csvout.h"
#include "web/policy.h"

#define COOKIE "eccweb"
#define EVENTS_WAIT_MS 1000          /* a keep-alive comment after this much silence */
#define STREAM_BLOCK (32 * 1024)
#define EXPORT_LIMIT (1u << 20)      /* one row of eccd's export must fit */

struct web {
    struct web_opts o;
    struct MHD_Daemon *mhd;
    bool tls;
    pthread_mutex_t mu;             /* stats and the PIN file */
    struct web_stats st;
    char pin_written[PAIRING_PIN_LEN + 8];    /* the PIN or "locked", as in the file */
};

/* One request: its body, and who sent it. */
struct request {
    char body[WEB_BODY_MAX + 1];
    size_t len;
    bool overflow;
};

/* Who is asking. */
struct who {
    bool loopback, paired, control;
    char addr[64];
    const char *token;              /* the cookie, when it is a live session */
};

enum need {
    NEED_NOTHING = 0,
    NEED_CONTROL = 1,               /* paired, or on the rig itself */
    NEED_START = 2,                 /* and [web] allow_start */
    NEED_RIG = 4,                   /* a browser on the rig itself (the PIN) */
    NEED_WRITE = 8,                 /* X-Eccweb and a JSON body: a change */
};

typedef enum MHD_Result (*handler_fn)(struct web *w, struct MHD_Connection *conn,
                                      const struct request *r, const struct who *who,
                                      const char *arg);

struct route {
    const char *method, *path;
    handler_fn fn;
    unsigned need;
    const char *arg;                /* what the handler is told (the eccd command) */
};

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- responses ----------------------------------------------------------------------- */

static void secure_headers(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    MHD_add_response_header(resp, "Content-Security-Policy",
                            "default-src 'none'; script-src 'self'; style-src 'self'; "
                            "img-src 'self' data:; connect-src 'self'; media-src 'self'; "
                            "manifest-src 'self'; base-uri 'none'; form-action 'none'; "
                            "frame-ancestors 'none'");
}

/* Queue body (copied) with this status and type. */
static enum MHD_Result send_bytes(struct MHD_Connection *conn, unsigned status,
                                  const char *type, const void *body, size_t len,
                                  const char *cookie)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    enum MHD_Result rc;

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", type);
    if (cookie)
        MHD_add_response_header(resp, "Set-Cookie", cookie);
    secure_headers(resp);
    rc = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* Send a JSON value (stolen) with this status. */
static enum MHD_Result send_json(struct MHD_Connection *conn, unsigned status, json_t *j,
                                 const char *cookie)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    enum MHD_Result rc;

    json_decref(j);
    if (!text)
        return MHD_NO;
    rc = send_bytes(conn, status, "application/json", text, strlen(text), cookie);
    free(text);
    return rc;
}

/* {"ok":false,"error":code,"message":...} */
__attribute__((format(printf, 4, 5)))
static enum MHD_Result send_error(struct MHD_Connection *conn, unsigned status,
                                  const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_json(conn, status,
                     json_pack("{s:b, s:s, s:s}", "ok", 0, "error", code, "message", msg),
                     NULL);
}

/* ---- the page and its live events ---------------------------------------------------- */

static enum MHD_Result serve_asset(struct MHD_Connection *conn, const struct web_asset *a)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc;

    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", a->type);
    secure_headers(resp);
    rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

struct events_client {
    struct web *w;
    struct hub_reader r;
};

static ssize_t events_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct events_client *c = cls;
    ssize_t k;
    static const char keepalive[] = ": waiting for eccd\n\n";

    (void)pos;
    k = hub_read(c->w->o.hub, &c->r, buf, max, EVENTS_WAIT_MS);
    if (k < 0)
        return MHD_CONTENT_READER_END_OF_STREAM;
    if (k == 0 && max >= sizeof keepalive - 1) {
        memcpy(buf, keepalive, sizeof keepalive - 1);
        k = (ssize_t)sizeof keepalive - 1;
    }
    return k;
}

static void events_free(void *cls)
{
    struct events_client *c = cls;

    hub_reader_leave(c->w->o.hub, &c->r);
    pthread_mutex_lock(&c->w->mu);
    c->w->st.events_clients--;
    pthread_mutex_unlock(&c->w->mu);
    free(c);
}

/* GET /events: eccd's watch lines as Server-Sent Events, one per line. */
static enum MHD_Result serve_events(struct web *w, struct MHD_Connection *conn,
                                    const struct request *r, const struct who *who,
                                    const char *arg)
{
    struct events_client *c = calloc(1, sizeof *c);
    struct MHD_Response *resp;
    enum MHD_Result rc;

    (void)r, (void)who, (void)arg;
    if (!c)
        return MHD_NO;
    c->w = w;
    hub_reader_join(w->o.hub, &c->r);
    pthread_mutex_lock(&w->mu);
    w->st.events_clients++;
    pthread_mutex_unlock(&w->mu);
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, events_read, c,
                                             events_free);
    if (!resp) {
        events_free(c);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    secure_headers(resp);
    rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* ---- reading ------------------------------------------------------------------------- */

/* GET /api/session: what this browser may do, and the protocol. */
static enum MHD_Result serve_session(struct web *w, struct MHD_Connection *conn,
                                     const struct request *r, const struct who *who,
                                     const char *arg)
{
    const struct ecc_config *cfg = w->o.cfg;
    char pin[PAIRING_PIN_LEN + 1];
    double until, now = mono_s();
    int locked = pairing_pin(w->o.pairing, now, pin, &until) < 0 && !pin[0];

    (void)r, (void)arg;
    return send_json(conn, MHD_HTTP_OK,
                     json_pack("{s:b, s:b, s:b, s:b, s:b, s:b, s:f, s:i, s:i, s:i, s:b}",
                               "ok", 1, "control", who->control, "paired", who->paired,
                               "on_rig", who->loopback, "allow_start",
                               cfg->web.allow_start && who->control, "pairing_locked", locked,
                               "pairing_retry_s", locked ? until - now : 0.0,
                               "sessions_per_day", cfg->protocol.sessions_per_day,
                               "sets_per_session", cfg->protocol.sets_per_session,
                               "reps_per_set", cfg->protocol.reps_per_set, "tls", w->tls),
                     NULL);
}

/* GET /api/status: the newest watch line. */
static enum MHD_Result serve_status(struct web *w, struct MHD_Connection *conn,
                                    const struct request *r, const struct who *who,
                                    const char *arg)
{
    static __thread char line[HUB_EVENT_MAX + 1];
    ssize_t k = hub_last(w->o.hub, line, sizeof line);

    (void)r, (void)who, (void)arg;
    if (k < 0)
        return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "no_data",
                          "nothing from eccd yet");
    return send_bytes(conn, MHD_HTTP_OK, "application/json", line, (size_t)k, NULL);
}

/* The HTTP status for eccd's error code: the request could not be carried out now
 * (refused_*: the rig's state), there is nothing to act on, it was malformed, eccd is
 * busy; anything else is eccd's own failure. */
static unsigned status_of(const char *code)
{
    if (!code)
        return MHD_HTTP_BAD_GATEWAY;
    if (!strncmp(code, "refused", 7))
        return MHD_HTTP_CONFLICT;
    if (!strcmp(code, "not_found"))
        return MHD_HTTP_NOT_FOUND;
    if (!strcmp(code, "bad_request") || !strcmp(code, "too_long"))
        return MHD_HTTP_BAD_REQUEST;
    if (!strcmp(code, "busy"))
        return MHD_HTTP_SERVICE_UNAVAILABLE;
    return MHD_HTTP_BAD_GATEWAY;
}

/* Send eccd's reply to req (stolen) as it is, with the status its error code means, or
 * 502 with why when eccd could not be asked. */
static enum MHD_Result relay(struct web *w, struct MHD_Connection *conn, json_t *req)
{
    char err[320];
    json_t *reply = upstream_call(w->o.up, req, err, sizeof err);
    const char *code;

    json_decref(req);
    if (!reply)
        return send_error(conn, MHD_HTTP_BAD_GATEWAY, "eccd_unreachable", "%s", err);
    if (json_is_true(json_object_get(reply, "ok")))
        return send_json(conn, MHD_HTTP_OK, reply, NULL);
    code = json_string_value(json_object_get(reply, "error"));
    return send_json(conn, status_of(code), reply, NULL);
}

static const char *query(struct MHD_Connection *conn, const char *key)
{
    return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
}

/* GET /api/history?days=N (1..3650, default 28): the selected patient's sessions. */
static enum MHD_Result serve_history(struct web *w, struct MHD_Connection *conn,
                                     const struct request *r, const struct who *who,
                                     const char *arg)
{
    int days;

    (void)r, (void)who, (void)arg;
    if (policy_parse_days(query(conn, "days"), 28, 3650, &days) != 0)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "days must be a whole number from 1 to 3650");
    return relay(w, conn, json_pack("{s:s, s:i}", "cmd", "history", "days", days));
}

static ssize_t export_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    ssize_t k = csvout_read(cls, buf, max);

    (void)pos;
    return k > 0 ? k : MHD_CONTENT_READER_END_OF_STREAM;
}

static void export_free(void *cls)
{
    csvout_fini(cls);
    free(cls);
}

/* GET /api/export.csv?days=N (0: all): every counted rep as CSV, streamed. */
static enum MHD_Result serve_export(struct web *w, struct MHD_Connection *conn,
                                    const struct request *r, const struct who *who,
                                    const char *arg)
{
    const char *text = query(conn, "days");
    struct csvout *o;
    struct ctlconn c;
    struct MHD_Response *resp;
    char err[320];
    int days = 0;
    json_t *req;
    enum MHD_Result rc;

    (void)r, (void)who, (void)arg;
    if (text && strcmp(text, "0") != 0 && policy_parse_days(text, 0, 3650, &days) != 0)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request",
                          "days must be a whole number from 0 (all) to 3650");
    req = json_pack("{s:s, s:i}", "cmd", "export", "days", days);
    rc = req ? upstream_dial(w->o.up, &c, req, EXPORT_LIMIT, err, sizeof err) : -1;
    json_decref(req);
    if (rc != 0)
        return send_error(conn, MHD_HTTP_BAD_GATEWAY, "eccd_unreachable", "%s", err);
    if (!(o = malloc(sizeof *o))) {
        ctlconn_close(&c);
        return MHD_NO;
    }
    csvout_init(o, &c);
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, export_read, o,
                                             export_free);
    if (!resp) {
        export_free(o);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "text/csv; charset=utf-8");
    MHD_add_response_header(resp, "Content-Disposition",
                            "attachment; filename=\"eccd-reps.csv\"");
    secure_headers(resp);
    rc = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return rc;
}

/* GET /api/pin: the pairing PIN, for the rig's own screen only. */
static enum MHD_Result serve_pin(struct web *w, struct MHD_Connection *conn,
                                 const struct request *r, const struct who *who,
                                 const char *arg)
{
    char pin[PAIRING_PIN_LEN + 1];
    double until, now = mono_s();
    int rc = pairing_pin(w->o.pairing, now, pin, &until);

    (void)r, (void)who, (void)arg;
    if (rc < 0)
        return send_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "locked",
                          "pairing is locked after wrong PINs: try again in %.0f s",
                          until - now);
    return send_json(conn, MHD_HTTP_OK,
                     json_pack("{s:b, s:s, s:f}", "ok", 1, "pin", pin, "expires_s", until - now),
                     NULL);
}

/* ---- changing ------------------------------------------------------------------------ */

/* POST /api/stop, /api/start, /api/next-set: the operator's command (arg). */
static enum MHD_Result do_command(struct web *w, struct MHD_Connection *conn,
                                  const struct request *r, const struct who *who,
                                  const char *arg)
{
    (void)r;
    log_info("%s from %s (%s)", arg, who->addr, who->paired ? "paired" : "on the rig");
    return relay(w, conn, json_pack("{s:s}", "cmd", arg));
}

/* POST /api/pain {"score":N}: as eccctl pain N. */
static enum MHD_Result do_pain(struct web *w, struct MHD_Connection *conn,
                               const struct request *r, const struct who *who,
                               const char *arg)
{
    char msg[160];
    int score;

    (void)who, (void)arg;
    if (policy_parse_score(r->body, r->len, &score, msg, sizeof msg) != 0)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", msg);
    return relay(w, conn, json_pack("{s:s, s:i}", "cmd", "pain", "score", score));
}

/* POST /api/morning {"score":N}: as eccctl morning N (the programme's next-morning score). */
static enum MHD_Result do_morning(struct web *w, struct MHD_Connection *conn,
                                  const struct request *r, const struct who *who,
                                  const char *arg)
{
    char msg[160];
    int score;

    (void)who, (void)arg;
    if (policy_parse_score(r->body, r->len, &score, msg, sizeof msg) != 0)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", msg);
    return relay(w, conn, json_pack("{s:s, s:i}", "cmd", "morning", "score", score));
}

/* POST /api/pair {"pin":"123456"}: a session cookie for the right PIN. */
static enum MHD_Result do_pair(struct web *w, struct MHD_Connection *conn,
                               const struct request *r, const struct who *who,
                               const char *arg)
{
    char pin[16], msg[160], token[PAIRING_TOKEN_LEN + 1], cookie[192];
    double retry = 0;
    enum pairing_result res;

    (void)arg;
    if (policy_parse_pin(r->body, r->len, pin, sizeof pin, msg, sizeof msg) != 0)
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "bad_request", "%s", msg);
    res = pairing_try(w->o.pairing, mono_s(), pin, token, &retry);
    switch (res) {
    case PAIRING_OK:
        log_info("paired a device at %s", who->addr);
        web_tick(w);                /* the used PIN is replaced in the file at once */
        snprintf(cookie, sizeof cookie, COOKIE "=%s; Path=/; Max-Age=%.0f; HttpOnly; "
                 "SameSite=Strict%s", token, w->o.cfg->web.session_days * 86400.0,
                 w->tls ? "; Secure" : "");
        return send_json(conn, MHD_HTTP_OK, json_pack("{s:b}", "ok", 1), cookie);
    case PAIRING_LOCKED:
        log_warn("pairing locked for %.0f s after wrong PINs (the last from %s)", retry,
                 who->addr);
        web_tick(w);
        return send_error(conn, MHD_HTTP_TOO_MANY_REQUESTS, "locked",
                          "too many wrong PINs: pairing is locked for %.0f s, then a new "
                          "PIN is shown on the rig", retry);
    case PAIRING_WRONG:
        log_info("a wrong pairing PIN from %s", who->addr);
        return send_error(conn, MHD_HTTP_FORBIDDEN, "wrong_pin",
                          "that is not the PIN the rig shows (eccctl pair)");
    case PAIRING_MALFORMED:
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "bad_pin",
                          "the PIN is %d digits", PAIRING_PIN_LEN);
    case PAIRING_FAILED:
        break;
    }
    return send_error(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "failed",
                      "eccweb could not make a session (no random numbers)");
}

/* POST /api/unpair: forget this browser's session. */
static enum MHD_Result do_unpair(struct web *w, struct MHD_Connection *conn,
                                 const struct request *r, const struct who *who,
                                 const char *arg)
{
    (void)r, (void)arg;
    if (who->token)
        pairing_forget(w->o.pairing, who->token);
    return send_json(conn, MHD_HTTP_OK, json_pack("{s:b}", "ok", 1),
                     COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict");
}

static const struct route routes[] = {
    {"GET", "/events", serve_events, NEED_NOTHING, NULL},
    {"GET", "/api/session", serve_session, NEED_NOTHING, NULL},
    {"GET", "/api/status", serve_status, NEED_NOTHING, NULL},
    {"GET", "/api/history", serve_history, NEED_NOTHING, NULL},
    {"GET", "/api/export.csv", serve_export, NEED_CONTROL, NULL},
    {"GET", "/api/pin", serve_pin, NEED_RIG, NULL},
    {"POST", "/api/pair", do_pair, NEED_WRITE, NULL},
    {"POST", "/api/unpair", do_unpair, NEED_WRITE, NULL},
    {"POST", "/api/stop", do_command, NEED_WRITE | NEED_CONTROL, "stop"},
    {"POST", "/api/start", do_command, NEED_WRITE | NEED_CONTROL | NEED_START, "start"},
    {"POST", "/api/next-set", do_command, NEED_WRITE | NEED_CONTROL | NEED_START, "next-set"},
    {"POST", "/api/pain", do_pain, NEED_WRITE | NEED_CONTROL, NULL},
    {"POST", "/api/morning", do_morning, NEED_WRITE | NEED_CONTROL, NULL},
};

/* ---- the checks ---------------------------------------------------------------------- */

static void identify(struct web *w, struct MHD_Connection *conn, struct who *who)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    const char *token = MHD_lookup_connection_value(conn, MHD_COOKIE_KIND, COOKIE);

    memset(who, 0, sizeof *who);
    who->loopback = policy_is_loopback(sa);
    policy_addr_text(sa, who->addr, sizeof who->addr);
    if (token && pairing_check(w->o.pairing, mono_s(), token)) {
        who->paired = true;
        who->token = token;
    }
    who->control = who->paired || (who->loopback && w->o.cfg->web.trust_loopback);
}

/* The refusal a write request earns for how it was sent, or 0. */
static enum MHD_Result refuse_write(struct web *w, struct MHD_Connection *conn, bool *refused)
{
    const char *xh = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Eccweb");
    const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");

    *refused = true;
    if (!xh || strcmp(xh, "1") != 0)
        return send_error(conn, MHD_HTTP_FORBIDDEN, "not_from_the_page",
                          "a request that changes something must carry X-Eccweb: 1");
    if (!type || strncmp(type, "application/json", 16) != 0)
        return send_error(conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "not_json",
                          "the body must be application/json");
    if (!policy_origin_ok(origin, host, w->tls))
        return send_error(conn, MHD_HTTP_FORBIDDEN, "cross_origin",
                          "a request from another site (Origin %s) is refused", origin);
    *refused = false;
    return MHD_YES;
}

static enum MHD_Result refuse_who(struct web *w, struct MHD_Connection *conn,
                                  const struct route *rt, const struct who *who,
                                  bool *refused)
{
    *refused = true;
    if ((rt->need & NEED_RIG) && !(who->loopback && w->o.cfg->web.trust_loopback))
        return send_error(conn, MHD_HTTP_FORBIDDEN, "not_on_the_rig",
                          "the PIN is shown only on the rig itself and by eccctl pair");
    if ((rt->need & NEED_CONTROL) && !who->control)
        return send_error(conn, MHD_HTTP_FORBIDDEN, "not_paired",
                          "this device may watch but not control: pair it with the PIN "
                          "that eccctl pair shows on the rig");
    if ((rt->need & NEED_START) && !w->o.cfg->web.allow_start)
        return send_error(conn, MHD_HTTP_FORBIDDEN, "not_allowed",
                          "starting from the page is off ([web] allow_start = false): use "
                          "the rig's start button or eccctl start");
    *refused = false;
    return MHD_YES;
}

/* The route for method and path, or NULL (*path_known: another method has it). */
static const struct route *find_route(const char *method, const char *url, bool *path_known)
{
    bool head = strcmp(method, "HEAD") == 0;

    *path_known = false;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (strcmp(routes[i].path, url) != 0)
            continue;
        *path_known = true;
        if (!strcmp(routes[i].method, method) || (head && !strcmp(routes[i].method, "GET")))
            return &routes[i];
    }
    return NULL;
}

static const struct web_asset *find_asset(const char *url)
{
    for (int i = 0; i < web_n_assets; i++)
        if (strcmp(web_assets[i].path, url) == 0)
            return &web_assets[i];
    return NULL;
}

static void count(struct web *w, bool refused)
{
    pthread_mutex_lock(&w->mu);
    w->st.requests++;
    w->st.refused += refused;
    pthread_mutex_unlock(&w->mu);
}

/* A whole request (head and body read): checked, then handled. */
static enum MHD_Result dispatch(struct web *w, struct MHD_Connection *conn,
                                const struct request *r, const char *url, const char *method)
{
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Host");
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), known, refused;
    const struct web_asset *a = get ? find_asset(url) : NULL;
    const struct route *rt;
    struct who who;
    enum MHD_Result rc;

    if (!host) {                    /* RFC 9112 3.2: 400, not a foreign name's 421 */
        count(w, true);
        return send_error(conn, MHD_HTTP_BAD_REQUEST, "no_host",
                          "a request must name the server in a Host header");
    }
    if (!policy_host_ok(host, w->o.cfg->web.hostnames)) {
        count(w, true);
        return send_error(conn, MHD_HTTP_MISDIRECTED_REQUEST, "unknown_host",
                          "this rig answers to its address, localhost and [web] hostnames, "
                          "not to the name %s", host);
    }
    if (a) {
        count(w, false);
        return serve_asset(conn, a);
    }
    if (!(rt = find_route(method, url, &known))) {
        count(w, true);
        if (!known && !find_asset(url))
            return send_error(conn, MHD_HTTP_NOT_FOUND, "not_found", "no such page");
        return send_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method", "%s is not allowed "
                          "here", method);
    }
    if (r->overflow) {
        count(w, true);
        return send_error(conn, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
                          "a request body is at most %d bytes", WEB_BODY_MAX);
    }
    if ((rt->need & NEED_WRITE) && (rc = refuse_write(w, conn, &refused), refused)) {
        count(w, true);
        return rc;
    }
    identify(w, conn, &who);
    if ((rc = refuse_who(w, conn, rt, &who, &refused), refused)) {
        count(w, true);
        return rc;
    }
    count(w, false);
    return rt->fn(w, conn, r, &who, rt->arg);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **ctx)
{
    struct request *r = *ctx;

    (void)version;
    if (!r) {                       /* the head: the body (if any) comes next */
        if (!(r = calloc(1, sizeof *r)))
            return MHD_NO;
        *ctx = r;
        return MHD_YES;
    }
    if (*upload_size) {
        if (r->len + *upload_size > WEB_BODY_MAX)
            r->overflow = true;     /* read on (bounded by the idle timeout), then 413 */
        else
            memcpy(r->body + r->len, upload, *upload_size);
        if (!r->overflow)
            r->len += *upload_size;
        *upload_size = 0;
        return MHD_YES;
    }
    return dispatch(cls, conn, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **ctx,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn, (void)toe;
    free(*ctx);
    *ctx = NULL;
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    log_debug("http: %s", msg);
}

/* ---- the PIN file -------------------------------------------------------------------- */

/* Write "PIN EXPIRES_UNIX\n" (or "locked UNTIL_UNIX\n") for eccctl pair: mode 0640,
 * replaced whole (a reader never sees half). */
static void write_pin_file(struct web *w, const char *pin, double wall_until)
{
    char tmp[CFG_PATH_MAX + 8];
    FILE *f;
    int fd;

    snprintf(tmp, sizeof tmp, "%s.tmp", w->o.pin_file);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    if (fd < 0 || !(f = fdopen(fd, "w"))) {
        log_warn("cannot write the pairing PIN to %s: %s", tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return;
    }
    fchmod(fd, 0640);
    fprintf(f, "%s %.0f\n", *pin ? pin : "locked", wall_until);
    if (fclose(f) != 0 || rename(tmp, w->o.pin_file) != 0) {
        log_warn("cannot write the pairing PIN to %s: %s", w->o.pin_file, strerror(errno));
        unlink(tmp);
    }
}

void web_tick(struct web *w)
{
    char pin[PAIRING_PIN_LEN + 1];
    double until, now = mono_s();
    int rc = pairing_pin(w->o.pairing, now, pin, &until);
    const char *text = rc < 0 ? "locked" : pin;

    if (!w->o.pin_file || !*w->o.pin_file)
        return;
    pthread_mutex_lock(&w->mu);
    if (strcmp(text, w->pin_written) != 0) {
        write_pin_file(w, rc < 0 ? "" : pin, (double)time(NULL) + (until - now));
        snprintf(w->pin_written, sizeof w->pin_written, "%s", text);
    }
    pthread_mutex_unlock(&w->mu);
}

/* ---- start and stop ------------------------------------------------------------------ */

/* The listening address from [web] listen and port. */
static int listen_addr(const struct ecc_config *cfg, struct sockaddr_storage *ss, bool *v6)
{
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

    memset(ss, 0, sizeof *ss);
    if (inet_pton(AF_INET, cfg->web.listen, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)cfg->web.port);
        *v6 = false;
        return 0;
    }
    if (inet_pton(AF_INET6, cfg->web.listen, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)cfg->web.port);
        *v6 = true;
        return 0;
    }
    return -1;
}

struct web *web_start(const struct web_opts *o, char *err, size_t n)
{
    const struct ecc_config *cfg = o->cfg;
    struct web *w = calloc(1, sizeof *w);
    struct sockaddr_storage ss;
    bool v6;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG;

    if (!w) {
        snprintf(err, n, "out of memory");
        return NULL;
    }
    w->o = *o;
    w->tls = o->tls_cert && o->tls_key;
    pthread_mutex_init(&w->mu, NULL);
    if (listen_addr(cfg, &ss, &v6) != 0) {
        snprintf(err, n, "[web] listen: %s is not an IP address", cfg->web.listen);
        web_stop(w);
        return NULL;
    }
    if (v6)
        flags |= MHD_USE_IPv6;
    if (w->tls)
        flags |= MHD_USE_TLS;
    {
        struct MHD_OptionItem opts[] = {
            {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, NULL},
            {MHD_OPTION_SOCK_ADDR, 0, &ss},
            {MHD_OPTION_CONNECTION_LIMIT, cfg->web.max_connections, NULL},
            {MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->web.connections_per_ip, NULL},
            {MHD_OPTION_CONNECTION_TIMEOUT, cfg->web.idle_timeout_s, NULL},
            {MHD_OPTION_CONNECTION_MEMORY_LIMIT, WEB_REQUEST_MAX, NULL},
            {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, NULL},
            {w->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, (void *)o->tls_cert},
            {MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->tls_key},
            {MHD_OPTION_END, 0, NULL},
        };
        w->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, w, MHD_OPTION_ARRAY, opts,
                                  MHD_OPTION_END);
    }
    if (!w->mhd) {
        snprintf(err, n, "cannot serve on %s port %d%s (in use? an address of this "
                 "machine? a port under 1024 needs privileges)", cfg->web.listen,
                 cfg->web.port, w->tls ? " with TLS (is the certificate and key PEM?)" : "");
        web_stop(w);
        return NULL;
    }
    web_tick(w);
    return w;
}

void web_stop(struct web *w)
{
    if (!w)
        return;
    if (w->mhd) {
        hub_stop(w->o.hub);          /* live pages return, so their threads can be joined */
        MHD_stop_daemon(w->mhd);
    }
    pthread_mutex_destroy(&w->mu);
    free(w);
}

void web_stats(struct web *w, struct web_stats *s)
{
    pthread_mutex_lock(&w->mu);
    *s = w->st;
    pthread_mutex_unlock(&w->mu);
}
