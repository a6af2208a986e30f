/* upstream.c - eccweb's connection to eccd (see upstream.h). */
#include "web/upstream.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proto/request.h"
#include "util/log.h"
#include "util/worker.h"

#define LINE_MAX_BYTES (1u << 20)   /* eccd's replies (but history, export) are at most 1 MiB */
#define RETRY_S 1.0

struct upstream {
    struct upstream_opts o;
    char socket[256];
    struct hub *hub;
    struct worker w;                /* the watch thread; w.mu also guards what is below */
    volatile sig_atomic_t stop;     /* the watch connection's waits end */
    int watch_fd;                   /* -1: none (shut down by upstream_close to wake it) */
    struct upstream_stats st;
    char last_down[320];            /* what the log said last, to say it once */
};

struct upstream *upstream_open(const struct upstream_opts *o, struct hub *hub)
{
    struct upstream *u = calloc(1, sizeof *u);

    if (!u)
        return NULL;
    u->o = *o;
    snprintf(u->socket, sizeof u->socket, "%s", o->socket);
    u->o.socket = u->socket;
    u->hub = hub;
    u->watch_fd = -1;
    worker_init(&u->w);
    return u;
}

/* Publish a link-down event and log it (once per distinct reason). */
static void link_down(struct upstream *u, const char *why)
{
    json_t *ev = json_pack("{s:s, s:s}", "link", "down", "message", why);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;

    if (text)
        hub_publish(u->hub, text, strlen(text));
    free(text);
    json_decref(ev);
    pthread_mutex_lock(&u->w.mu);
    u->st.up = false;
    if (strcmp(u->last_down, why) != 0) {
        snprintf(u->last_down, sizeof u->last_down, "%s", why);
        log_warn("%s", why);
    }
    pthread_mutex_unlock(&u->w.mu);
}

static void set_watch_fd(struct upstream *u, int fd)
{
    pthread_mutex_lock(&u->w.mu);
    u->watch_fd = fd;
    pthread_mutex_unlock(&u->w.mu);
}

/* Words for a failed connect, send or read (rc: ctlconn's 1 = closed, -1 = errno). */
static void say_failure(const struct upstream *u, const char *what, int rc, char *buf,
                        size_t n)
{
    int err = errno;

    if (rc > 0)
        snprintf(buf, n, "eccd at %s closed the connection (%s)", u->socket, what);
    else if (err == ENOENT || err == ECONNREFUSED)
        snprintf(buf, n, "eccd is not running (no socket at %s)", u->socket);
    else if (err == EACCES || err == EPERM)
        snprintf(buf, n, "eccweb may not use eccd's socket %s (add eccweb's user to the "
                 "socket's group: [server] group)", u->socket);
    else if (err == ETIMEDOUT)
        snprintf(buf, n, "eccd at %s does not answer (%s)", u->socket, what);
    else
        snprintf(buf, n, "eccd at %s: %s: %s", u->socket, what, strerror(err));
}

/* The watch request and its head: 0, or -1 with why. */
static int watch_begin(struct upstream *u, struct ctlconn *c, char *why, size_t n)
{
    char req[96];
    size_t len;
    int rc;
    json_t *head;

    snprintf(req, sizeof req, "{\"v\":%d,\"cmd\":\"watch\",\"rate_hz\":%d}\n", REQ_VERSION,
             u->o.rate_hz);
    if ((rc = ctlconn_open(c)) != 0) {
        say_failure(u, "connect", rc, why, n);
        return -1;
    }
    set_watch_fd(u, c->fd);
    if (u->stop)                    /* upstream_close came before the fd was known */
        return -1;
    if ((rc = ctlconn_send(c, req, strlen(req))) != 0 || (rc = ctlconn_recv_line(c, &len)) != 0) {
        say_failure(u, "watch", rc, why, n);
        return -1;
    }
    head = json_loadb(c->buf, len, 0, NULL);
    if (!json_is_true(json_object_get(head, "ok"))) {
        const char *msg = json_string_value(json_object_get(head, "message"));
        snprintf(why, n, "eccd at %s refused the watch: %s", u->socket,
                 msg ? msg : "(no reason given)");
        json_decref(head);
        return -1;
    }
    json_decref(head);
    ctlconn_consume(c, len);
    return 0;
}

/* Lines to the hub until the connection fails or a stop. */
static void watch_relay(struct upstream *u, struct ctlconn *c, char *why, size_t n)
{
    size_t len;
    int rc;

    pthread_mutex_lock(&u->w.mu);
    u->st.up = true;
    u->st.connects++;
    u->last_down[0] = '\0';
    pthread_mutex_unlock(&u->w.mu);
    log_info("watching eccd at %s, %d lines a second", u->socket, u->o.rate_hz);
    while ((rc = ctlconn_recv_line(c, &len)) == 0) {
        hub_publish(u->hub, c->buf, len);
        ctlconn_consume(c, len);
        pthread_mutex_lock(&u->w.mu);
        u->st.lines++;
        pthread_mutex_unlock(&u->w.mu);
    }
    say_failure(u, "watch", rc, why, n);
}

static void *watch_main(void *arg)
{
    struct upstream *u = arg;
    char why[320];

    while (!worker_stopping(&u->w)) {
        struct ctlconn c;
        struct timespec retry;

        /* A watch line comes every 1/rate_hz s: three missed, eccd is stuck. */
        ctlconn_init(&c, u->socket, u->o.timeout_s, LINE_MAX_BYTES);
        c.stop = &u->stop;
        if (watch_begin(u, &c, why, sizeof why) == 0)
            watch_relay(u, &c, why, sizeof why);
        set_watch_fd(u, -1);
        ctlconn_close(&c);
        if (u->stop)
            break;
        link_down(u, why);
        retry = worker_after(worker_now(), RETRY_S);
        if (!worker_wait(&u->w, &retry))
            break;
    }
    return NULL;
}

int upstream_start(struct upstream *u)
{
    return worker_start(&u->w, watch_main, u, WORKER_NO_SIGNALS, 0);
}

void upstream_close(struct upstream *u)
{
    if (!u)
        return;
    u->stop = 1;
    pthread_mutex_lock(&u->w.mu);
    if (u->watch_fd >= 0)
        shutdown(u->watch_fd, SHUT_RDWR);   /* wakes its poll at once */
    pthread_mutex_unlock(&u->w.mu);
    worker_stop(&u->w);
    worker_fini(&u->w);
    free(u);
}

static void count_request(struct upstream *u, bool ok)
{
    pthread_mutex_lock(&u->w.mu);
    u->st.requests++;
    u->st.request_errors += !ok;
    pthread_mutex_unlock(&u->w.mu);
}

int upstream_dial(struct upstream *u, struct ctlconn *c, json_t *req, size_t limit, char *err,
                  size_t n)
{
    char *line;
    int rc;

    json_object_set_new(req, "v", json_integer(REQ_VERSION));
    if (!(line = json_dumps(req, JSON_COMPACT))) {
        snprintf(err, n, "out of memory");
        return -1;
    }
    ctlconn_init(c, u->socket, u->o.timeout_s, limit);
    if ((rc = ctlconn_open(c)) != 0) {
        say_failure(u, "connect", rc, err, n);
    } else {
        size_t len = strlen(line);
        line[len] = '\n';           /* json_dumps' NUL becomes the request's newline */
        if ((rc = ctlconn_send(c, line, len + 1)) != 0)
            say_failure(u, "send", rc, err, n);
    }
    free(line);
    if (rc != 0)
        ctlconn_close(c);
    count_request(u, rc == 0);
    return rc == 0 ? 0 : -1;
}

json_t *upstream_call(struct upstream *u, json_t *req, char *err, size_t n)
{
    struct ctlconn c;
    json_t *reply = NULL;
    size_t len;
    int rc;

    if (upstream_dial(u, &c, req, LINE_MAX_BYTES, err, n) != 0)
        return NULL;
    if ((rc = ctlconn_recv_line(&c, &len)) != 0)
        say_failure(u, "reply", rc, err, n);
    else
        reply = json_loadb(c.buf, len, 0, NULL);
    if (rc == 0 && !json_is_object(reply))
        snprintf(err, n, "eccd at %s sent something that is not a reply", u->socket);
    ctlconn_close(&c);
    if (!json_is_object(reply)) {
        json_decref(reply);
        count_request(u, false);
        return NULL;
    }
    return reply;
}

void upstream_stats(struct upstream *u, struct upstream_stats *s)
{
    pthread_mutex_lock(&u->w.mu);
    *s = u->st;
    pthread_mutex_unlock(&u->w.mu);
}
