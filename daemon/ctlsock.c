/* ctlsock.c - eccd's control socket: the server thread (see ctlsock.h).
 *
 * One thread polls the wake pipe (ctlsock_close writes a byte to it), the listener and
 * every client. Each client has a fixed input buffer of REQ_LINE_MAX bytes, so a line that
 * fills it without a newline is too long by construction; replies go into an output
 * buffer that grows up to CTLSOCK_OUT_MAX and shrinks again once it has been sent; a
 * streamed reply is read into it a part at a time (pump) as the client drains it. Every
 * socket is non-blocking and written with MSG_NOSIGNAL: no peer can stall the thread or
 * raise SIGPIPE.
 */
#define _GNU_SOURCE                 /* struct ucred, SO_PEERCRED, accept4 */
#include "daemon/ctlsock.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "proto/request.h"
#include "util/log.h"

#define PATH_LEN ((int)sizeof(((struct sockaddr_un *)0)->sun_path))
#define OUT_KEEP (64u << 10)        /* an emptied output buffer above this is freed */
#define ACCEPT_BURST 32             /* connections accepted per wake-up */
#define PAUSE_MS 100                /* no accepting for this long after EMFILE and such */
#define NSS_BUF_MAX (1u << 20)      /* getpwnam_r & co. buffers grow up to this */
#define RESERVE_IDLE_S 2.0          /* the reserve slot waits this long for its request */
#define WAKE_STOP 'x'               /* bytes on the wake pipe: close ... */
#define WAKE_KICK 'k'               /* ... or look at the deadlines again */
#define STREAM_POLL_MS 20           /* a stream with nothing yet is asked again this often */

struct client {
    int fd;
    struct ctlsock_peer peer;
    bool skipping;                  /* inside a too-long line: drop up to its newline */
    bool eof;                       /* the peer sent EOF: close once the replies are out */
    size_t inlen;
    char in[REQ_LINE_MAX];
    char *out;                      /* out[outoff..outlen) waits to be sent */
    size_t outoff, outlen, outcap;
    struct ctlsock_stream stream;   /* the rest of the reply being sent, while streaming */
    bool streaming;
    bool stream_waits;              /* its source had nothing yet (EAGAIN): asked again on
                                       the next wake-up, at most STREAM_POLL_MS on */
    double t_heard;                 /* s: connected, or the latest byte from it */
    double t_moved;                 /* s: its replies last moved (or began to wait) */
};

struct ctlsock {
    char path[PATH_LEN];
    int lfd, wake[2];
    dev_t dev;                      /* the socket file we made: close unlinks only that */
    ino_t ino;
    uid_t owner, euid;
    gid_t group;
    int max;                        /* regular slots; slot max is the reserve */
    int per_user;
    double idle_s, stall_s;
    double (*now)(void *arg);
    void *now_arg;
    char *(*handle)(void *arg, const char *line, size_t len, const struct ctlsock_peer *peer,
                    struct ctlsock_stream *stream);
    void *arg;
    struct client **cl;             /* max + 1 slots, NULL when free */
    struct pollfd *pfd;             /* wake pipe, listener, then one per slot */
    pthread_t thread;
    pthread_mutex_t lock;           /* guards st */
    struct ctlsock_stats st;
};

__attribute__((format(printf, 4, 5)))
static int fail(char *err, size_t errlen, int e, const char *fmt, ...)
{
    va_list ap;

    if (errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    errno = e;
    return -1;
}

static void count(struct ctlsock *s, long *field, int clients)
{
    pthread_mutex_lock(&s->lock);
    if (field)
        (*field)++;
    s->st.clients += clients;
    pthread_mutex_unlock(&s->lock);
}

/* ---- names and numbers ---------------------------------------------------------------- */

/* A decimal id that is not (id_t)-1, as chown(1) takes them. */
static int parse_id(const char *s, unsigned long long *id, unsigned long long max)
{
    char *end;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    *id = strtoull(s, &end, 10);
    return *end || errno || *id >= max ? -1 : 0;
}

/* One NSS lookup by name into buf; the id found in *id. 0, or an errno value. */
typedef int (*nss_lookup)(const char *name, char *buf, size_t n, unsigned long long *id);

static int lookup_user(const char *name, char *buf, size_t n, unsigned long long *id)
{
    struct passwd pw, *res = NULL;
    int rc = getpwnam_r(name, &pw, buf, n, &res);

    if (res)
        *id = pw.pw_uid;
    return rc ? rc : res ? 0 : ENOENT;
}

static int lookup_group(const char *name, char *buf, size_t n, unsigned long long *id)
{
    struct group gr, *res = NULL;
    int rc = getgrnam_r(name, &gr, buf, n, &res);

    if (res)
        *id = gr.gr_gid;
    return rc ? rc : res ? 0 : ENOENT;
}

/* "" -> max ((id_t)-1: leave as is); digits -> that number; else a lookup, growing the
 * buffer while NSS says it is too small. 0, or -1 with errno ENOENT. */
static int resolve_id(const char *name, unsigned long long max, nss_lookup lookup,
                      unsigned long long *id)
{
    size_t n = 1024;
    char *buf = NULL;
    int rc;

    if (!name || !*name) {
        *id = max;
        return 0;
    }
    if (parse_id(name, id, max) == 0)
        return 0;
    do {
        free(buf);
        buf = malloc(n *= 2);
        rc = buf ? lookup(name, buf, n, id) : ENOMEM;
    } while (rc == ERANGE && n < NSS_BUF_MAX);
    free(buf);
    if (rc == 0)
        return 0;
    errno = ENOENT;
    return -1;
}

int ctlsock_user(const char *name, uid_t *uid)
{
    unsigned long long id;

    if (resolve_id(name, (uid_t)-1, lookup_user, &id) != 0)
        return -1;
    *uid = (uid_t)id;
    return 0;
}

int ctlsock_group(const char *name, gid_t *gid)
{
    unsigned long long id;

    if (resolve_id(name, (gid_t)-1, lookup_group, &id) != 0)
        return -1;
    *gid = (gid_t)id;
    return 0;
}

/* ---- who may talk to us --------------------------------------------------------------- */

static bool has_gid(const gid_t *v, size_t n, gid_t g)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == g)
            return true;
    return false;
}

/* Is g among the supplementary groups the peer had when it connected? 1 yes, 0 no,
 * -1 the kernel cannot tell (before Linux 4.13). */
static int peer_groups_have(int fd, gid_t g)
{
    gid_t small[64], *v = small;
    socklen_t n = sizeof small;
    int rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &n);

    if (rc < 0 && errno == ERANGE && (v = malloc(n ? n : 1)) != NULL)
        rc = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &n);
    if (rc == 0)
        rc = has_gid(v, n / sizeof *v, g);
    if (v != small)
        free(v);
    return rc;
}

/* Is g among the groups getgrouplist() gives user (whose primary group is base)? */
static bool grouplist_has(const char *user, gid_t base, gid_t g)
{
    int ng = 64;

    for (int tries = 0; tries < 4; tries++) {
        int want = ng, rc;
        gid_t *v = malloc((size_t)ng * sizeof *v);
        bool found;

        if (!v)
            return false;
        rc = getgrouplist(user, base, v, &ng);
        found = rc >= 0 && has_gid(v, (size_t)rc, g);
        free(v);
        if (rc >= 0)
            return found;
        if (ng <= want)
            ng = want * 2;
    }
    return false;
}

/* The user database's view, for kernels without SO_PEERGROUPS: is g among the groups of
 * uid's user? */
static bool user_groups_have(uid_t uid, gid_t g)
{
    struct passwd pw, *res = NULL;
    size_t n = 1024;
    char *buf = NULL;
    bool found;
    int rc;

    do {
        free(buf);
        buf = malloc(n *= 2);
        rc = buf ? getpwuid_r(uid, &pw, buf, n, &res) : ENOMEM;
    } while (rc == ERANGE && n < NSS_BUF_MAX);
    found = res && grouplist_has(pw.pw_name, pw.pw_gid, g);
    free(buf);
    return found;
}

static bool peer_allowed(const struct ctlsock *s, int fd, const struct ctlsock_peer *p)
{
    int in;

    if (p->uid == 0 || p->uid == s->euid || p->uid == s->owner || p->gid == s->group)
        return true;
    in = peer_groups_have(fd, s->group);
    return in >= 0 ? in == 1 : user_groups_have(p->uid, s->group);
}

static int peer_creds(int fd, struct ctlsock_peer *p)
{
    struct ucred uc;
    socklen_t n = sizeof uc;

    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &n) < 0)
        return -1;
    p->pid = uc.pid;
    p->uid = uc.uid;
    p->gid = uc.gid;
    return 0;
}

/* ---- clients -------------------------------------------------------------------------- */

/* Tell a connection we do not serve why, and close it. What it sent is read first, so
 * that it sees the reply and then EOF rather than ECONNRESET. */
static double sock_now(const struct ctlsock *s)
{
    struct timespec ts;

    if (s->now)
        return s->now(s->now_arg);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void turn_away(int fd, const char *code, const char *msg)
{
    char buf[512];
    int n = req_reply_error(buf, sizeof buf - 1, NULL, code, msg);

    if (n > 0 && (size_t)n < sizeof buf - 1) {
        buf[n++] = '\n';
        (void)!send(fd, buf, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    shutdown(fd, SHUT_WR);
    for (int i = 0; i < 64 && recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0; i++)
        ;
    close(fd);
}

/* The streamed reply is over (complete, failed or abandoned): let its source go. */
static void stream_end(struct client *c)
{
    if (c->streaming && c->stream.close)
        c->stream.close(c->stream.arg);
    c->streaming = false;
    c->stream_waits = false;
    c->stream = (struct ctlsock_stream){0};
}

static void drop_client(struct ctlsock *s, int i)
{
    struct client *c = s->cl[i];

    stream_end(c);
    close(c->fd);
    free(c->out);
    free(c);
    s->cl[i] = NULL;
    count(s, NULL, -1);
}

/* Send what waits; -1 when the peer is gone. */
static int flush_out(const struct ctlsock *s, struct client *c)
{
    while (c->outoff < c->outlen) {
        ssize_t n = send(c->fd, c->out + c->outoff, c->outlen - c->outoff,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        c->outoff += (size_t)n;
        c->t_moved = c->t_heard = sock_now(s);
    }
    c->outoff = c->outlen = 0;
    if (c->outcap > OUT_KEEP) {
        free(c->out);
        c->out = NULL;
        c->outcap = 0;
    }
    return 0;
}

/* Make room for n more bytes of replies; -1 when that would pass CTLSOCK_OUT_MAX. */
static int out_room(struct client *c, size_t n)
{
    size_t cap = c->outcap ? c->outcap : 4096;
    char *p;

    if (c->outoff > 0) {
        memmove(c->out, c->out + c->outoff, c->outlen - c->outoff);
        c->outlen -= c->outoff;
        c->outoff = 0;
    }
    if (n > CTLSOCK_OUT_MAX - c->outlen)
        return -1;
    while (cap - c->outlen < n)
        cap = cap > CTLSOCK_OUT_MAX / 2 ? CTLSOCK_OUT_MAX : cap * 2;
    if (cap == c->outcap)
        return 0;
    p = realloc(c->out, cap);
    if (!p)
        return -1;
    c->out = p;
    c->outcap = cap;
    return 0;
}

/* Keep the largest amount of unsent replies any client has held (ctlsock_stats). */
static void out_note(struct ctlsock *s, const struct client *c)
{
    long n = (long)(c->outlen - c->outoff);

    pthread_mutex_lock(&s->lock);
    if (n > s->st.out_peak)
        s->st.out_peak = n;
    pthread_mutex_unlock(&s->lock);
}

/* Queue n bytes of replies, and a newline when nl; -1 when the client must go. */
static int queue_bytes(struct ctlsock *s, struct client *c, const char *line, size_t n,
                       bool nl)
{
    int rc = out_room(c, n + nl);

    if (rc < 0) {                   /* full: the peer may have read some since */
        if (flush_out(s, c) < 0)
            return -1;
        rc = out_room(c, n + nl);
    }
    if (rc < 0) {
        log_warn("control socket: dropping client pid %ld uid %ld: %zu bytes of replies "
                 "unread", (long)c->peer.pid, (long)c->peer.uid, c->outlen - c->outoff + n + nl);
        count(s, &s->st.dropped, 0);
        return -1;
    }
    if (c->outoff == c->outlen)
        c->t_moved = sock_now(s);   /* the stall clock starts when replies begin to wait */
    memcpy(c->out + c->outlen, line, n);
    c->outlen += n;
    if (nl)
        c->out[c->outlen++] = '\n';
    out_note(s, c);
    return 0;
}

/* Queue one reply line (a newline is added); -1 when the client must go. */
static int queue(struct ctlsock *s, struct client *c, const char *line, size_t n)
{
    return queue_bytes(s, c, line, n, true);
}

static int queue_error(struct ctlsock *s, struct client *c, const char *code, const char *msg)
{
    char buf[512];
    int n = req_reply_error(buf, sizeof buf, NULL, code, msg);

    return queue(s, c, buf, (size_t)n < sizeof buf ? (size_t)n : strlen(buf));
}

/* One complete line (its newline replaced by a NUL) through the handler. */
static int handle_line(struct ctlsock *s, struct client *c, char *line, size_t len)
{
    char *reply;
    int rc;

    line[len] = '\0';
    count(s, &s->st.requests, 0);
    c->stream = (struct ctlsock_stream){0};
    reply = s->handle(s->arg, line, len, &c->peer, &c->stream);
    c->streaming = c->stream.read != NULL;
    if (!reply || strchr(reply, '\n')) {
        log_error("control socket: the request handler gave %s", reply ? "a reply with a "
                  "newline in it" : "no reply");
        free(reply);
        stream_end(c);
        return queue_error(s, c, "internal", "eccd could not answer this request");
    }
    rc = queue_bytes(s, c, reply, strlen(reply), !c->streaming || c->stream.lines);
    free(reply);
    if (c->peer.reserved)
        c->eof = true;              /* one request in the reserve slot: closed once sent */
    return rc;
}

static int too_long(struct ctlsock *s, struct client *c)
{
    char msg[128];

    count(s, &s->st.too_long, 0);
    log_debug("control socket: a line from pid %ld is too long", (long)c->peer.pid);
    snprintf(msg, sizeof msg, "the request line is longer than %d bytes (its newline "
             "included); it was skipped", REQ_LINE_MAX);
    return queue_error(s, c, "too_long", msg);
}

/* Whether to take c's next request now: not after EOF (or the reserve slot's one request),
 * not while a reply streams (the next waits its turn), not while more than
 * CTLSOCK_OUT_HIGH of replies wait unread (the next wait in c->in, then in the kernel). */
static bool lines_wanted(const struct client *c)
{
    return !c->eof && !c->streaming && c->outlen - c->outoff <= CTLSOCK_OUT_HIGH;
}

/* Handle the complete lines in c->in while lines_wanted, keep the rest; -1 when the client
 * must go. */
static int split_lines(struct ctlsock *s, struct client *c)
{
    size_t start = 0;
    char *nl;

    while (lines_wanted(c) && (nl = memchr(c->in + start, '\n', c->inlen - start)) != NULL) {
        size_t end = (size_t)(nl - c->in);
        if (c->skipping)
            c->skipping = false;
        else if (handle_line(s, c, c->in + start, end - start) < 0)
            return -1;
        start = end + 1;
    }
    if (!c->skipping && c->inlen - start == sizeof c->in &&
        !memchr(c->in + start, '\n', c->inlen - start)) {
        c->skipping = true;
        if (too_long(s, c) < 0)
            return -1;
    }
    if (c->skipping)
        start = c->inlen;
    memmove(c->in, c->in + start, c->inlen - start);
    c->inlen -= start;
    return 0;
}

static int read_in(struct ctlsock *s, struct client *c)
{
    ssize_t n;

    if (c->inlen == sizeof c->in)   /* full of requests that waited: those first */
        return split_lines(s, c);
    n = recv(c->fd, c->in + c->inlen, sizeof c->in - c->inlen, MSG_DONTWAIT);

    if (n < 0)
        return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
    if (n == 0) {
        if (c->inlen || c->skipping)
            log_debug("control socket: pid %ld left in the middle of a line", (long)c->peer.pid);
        c->eof = true;
        c->inlen = 0;
        return 0;
    }
    c->inlen += (size_t)n;
    c->t_heard = sock_now(s);
    int rc = split_lines(s, c);
    pthread_mutex_lock(&s->lock);
    s->st.bytes_in += n;
    pthread_mutex_unlock(&s->lock);
    return rc;
}

/* The next part of a streamed reply, once the client has taken all but CTLSOCK_CHUNK of
 * what waits; at its end the newline, then the requests that waited. -1: drop c. */
static int pump(struct ctlsock *s, struct client *c)
{
    ssize_t n;

    if (!c->streaming || c->outlen - c->outoff >= CTLSOCK_CHUNK)
        return 0;
    if (out_room(c, CTLSOCK_CHUNK + 1) < 0)
        return -1;
    if (c->outoff == c->outlen)
        c->t_moved = sock_now(s);
    n = c->stream.read(c->stream.arg, c->out + c->outlen, CTLSOCK_CHUNK);
    c->stream_waits = n < 0 && errno == EAGAIN;
    if (c->stream_waits)
        return 0;                   /* nothing yet: asked again on a later wake-up */
    if (n < 0 || (size_t)n > CTLSOCK_CHUNK) {
        log_error("control socket: a streamed reply to pid %ld failed; dropping the client",
                  (long)c->peer.pid);
        return -1;
    }
    c->outlen += (size_t)n;
    if (n == 0) {
        if (!c->stream.lines)
            c->out[c->outlen++] = '\n';
        stream_end(c);
    }
    out_note(s, c);
    return 0;
}

/* A client's poll events: read, send; close it when it is done or broken. */
static void serve_client(struct ctlsock *s, int i, short revents)
{
    struct client *c = s->cl[i];
    int rc = 0;

    if (lines_wanted(c) && (revents & (POLLIN | POLLHUP | POLLERR)))
        rc = read_in(s, c);
    if (rc == 0)
        rc = pump(s, c);
    if (rc == 0 && c->outoff < c->outlen)
        rc = flush_out(s, c);
    else if (rc == 0 && (revents & (POLLHUP | POLLERR)) && c->eof)
        rc = -1;
    if (rc == 0 && c->inlen && lines_wanted(c))
        rc = split_lines(s, c);         /* requests that waited for the replies to move */
    if (rc < 0 || (c->eof && c->outoff == c->outlen && !c->streaming))
        drop_client(s, i);
}

/* A free regular slot, or -1. */
static int free_slot(const struct ctlsock *s)
{
    for (int i = 0; i < s->max; i++)
        if (!s->cl[i])
            return i;
    return -1;
}

static int clients_of(const struct ctlsock *s, uid_t uid)
{
    int n = 0;

    for (int i = 0; i < s->max; i++)
        n += s->cl[i] && s->cl[i]->peer.uid == uid;
    return n;
}

/* Where a newcomer goes: a regular slot while there is one and its user is within its
 * share, else the reserve slot if free; -1: nowhere (*why says which limit). */
static int slot_for(const struct ctlsock *s, const struct ctlsock_peer *peer, const char **why)
{
    int i = free_slot(s);

    *why = NULL;
    if (i >= 0 && clients_of(s, peer->uid) < s->per_user)
        return i;
    *why = i >= 0 ? "share" : "full";
    return s->cl[s->max] ? -1 : s->max;
}

static void add_client(struct ctlsock *s, int fd, struct ctlsock_peer *peer)
{
    const char *why;
    int i = slot_for(s, peer, &why);
    struct client *c;

    if (i < 0) {
        bool share = strcmp(why, "share") == 0;
        log_warn("control socket: %s; turned away pid %ld uid %ld", share
                 ? "this user holds its share of connections" : "busy", (long)peer->pid,
                 (long)peer->uid);
        count(s, share ? &s->st.dropped_share : &s->st.dropped, 0);
        if (share)
            count(s, &s->st.dropped, 0);
        turn_away(fd, "busy", share ? "this user holds as many connections to eccd as it may "
                  "(server.clients_per_user); close one and try again"
                  : "eccd is serving as many clients as it may; try again later");
        return;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        log_error("control socket: out of memory for a client");
        turn_away(fd, "internal", "eccd is out of memory");
        return;
    }
    peer->reserved = i == s->max;
    if (peer->reserved) {
        log_info("control socket: pid %ld uid %ld in the reserve slot (%s): one status only",
                 (long)peer->pid, (long)peer->uid, why);
        count(s, &s->st.reserved, 0);
    }
    c->fd = fd;
    c->peer = *peer;
    c->t_heard = c->t_moved = sock_now(s);
    s->cl[i] = c;
    count(s, &s->st.accepted, 1);
    log_debug("control socket: pid %ld uid %ld connected", (long)peer->pid, (long)peer->uid);
}

/* Accept one connection; 1 go on, 0 none left, -1 stop accepting for a while. */
static int accept_one(struct ctlsock *s)
{
    struct ctlsock_peer peer = {0};
    int fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

    if (fd < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
            return 1;
        log_error("control socket: accept: %s", strerror(errno));
        return -1;
    }
    if (peer_creds(fd, &peer) < 0) {
        log_error("control socket: SO_PEERCRED: %s", strerror(errno));
        count(s, &s->st.refused, 0);
        turn_away(fd, "internal", "eccd cannot tell who you are");
        return 1;
    }
    if (!peer_allowed(s, fd, &peer)) {
        log_warn("control socket: refused pid %ld uid %ld gid %ld (not uid 0, %ld or %ld, nor "
                 "in group %ld)", (long)peer.pid, (long)peer.uid, (long)peer.gid,
                 (long)s->euid, (long)s->owner, (long)s->group);
        count(s, &s->st.refused, 0);
        turn_away(fd, "permission", "this user may not control eccd (ask to be added to the "
                  "socket's group)");
        return 1;
    }
    add_client(s, fd, &peer);
    return 1;
}

static int accept_some(struct ctlsock *s)
{
    int rc = 1;

    for (int i = 0; i < ACCEPT_BURST && rc > 0; i++)
        rc = accept_one(s);
    return rc < 0 ? -1 : 0;
}

/* ---- the thread ----------------------------------------------------------------------- */

static void set_events(struct ctlsock *s, bool paused)
{
    s->pfd[0] = (struct pollfd){.fd = s->wake[0], .events = POLLIN};
    s->pfd[1] = (struct pollfd){.fd = paused ? -1 : s->lfd, .events = POLLIN};
    for (int i = 0; i <= s->max; i++) {
        struct client *c = s->cl[i];
        s->pfd[2 + i] = (struct pollfd){.fd = c ? c->fd : -1};
        if (c && lines_wanted(c))
            s->pfd[2 + i].events |= POLLIN;
        if (c && (c->outoff < c->outlen || (c->streaming && !c->stream_waits)))
            s->pfd[2 + i].events |= POLLOUT;
    }
}

/* When client c is to be dropped (s on the socket's clock; INFINITY: never), and why. */
static double client_deadline(const struct ctlsock *s, const struct client *c, bool *stalled)
{
    double idle = c->peer.reserved ? RESERVE_IDLE_S : s->idle_s;

    *stalled = c->outoff < c->outlen || (c->streaming && !c->stream_waits);
    if (*stalled)
        return s->stall_s > 0.0 ? c->t_moved + s->stall_s : INFINITY;
    return idle > 0.0 && !c->eof ? c->t_heard + idle : INFINITY;
}

/* Drop the clients past their deadline; the poll timeout (ms, -1: none) until the next. */
static int expire_clients(struct ctlsock *s)
{
    double now = sock_now(s), next = INFINITY;
    bool stalled;

    for (int i = 0; i <= s->max; i++) {
        struct client *c = s->cl[i];
        double due;

        if (!c)
            continue;
        due = client_deadline(s, c, &stalled);
        if (due > now) {
            next = fmin(next, due);
            continue;
        }
        log_warn("control socket: dropping client pid %ld uid %ld: %s for %.0f s", (long)c->peer.pid,
                 (long)c->peer.uid, stalled ? "its replies not read" : "silent",
                 stalled ? s->stall_s : c->peer.reserved ? RESERVE_IDLE_S : s->idle_s);
        count(s, stalled ? &s->st.dropped_stalled : &s->st.dropped_idle, 0);
        count(s, &s->st.dropped, 0);
        drop_client(s, i);
    }
    if (isinf(next))
        return -1;
    return (int)fmin(ceil((next - now) * 1000.0), 60000.0);
}

/* Whether a client's streamed reply waits for its source. */
static bool streams_wait(const struct ctlsock *s)
{
    for (int i = 0; i <= s->max; i++)
        if (s->cl[i] && s->cl[i]->stream_waits)
            return true;
    return false;
}

/* The wake pipe: true when it asks the thread to end (a kick only wakes it). */
static bool woken_to_stop(struct ctlsock *s)
{
    char buf[64];
    ssize_t n;
    bool stop = false;

    while ((n = read(s->wake[0], buf, sizeof buf)) > 0)
        stop = stop || memchr(buf, WAKE_STOP, (size_t)n) != NULL;
    return stop;
}

static void *serve(void *arg)
{
    struct ctlsock *s = arg;
    bool paused = false;

    for (;;) {
        int timeout = expire_clients(s);

        if (paused && (timeout < 0 || timeout > PAUSE_MS))
            timeout = PAUSE_MS;
        if (streams_wait(s) && (timeout < 0 || timeout > STREAM_POLL_MS))
            timeout = STREAM_POLL_MS;
        set_events(s, paused);
        if (poll(s->pfd, (nfds_t)s->max + 3, timeout) < 0) {
            if (errno != EINTR) {
                log_error("control socket: poll: %s", strerror(errno));
                poll(NULL, 0, PAUSE_MS);
            }
            continue;
        }
        if (s->pfd[0].revents && woken_to_stop(s))
            return NULL;
        for (int i = 0; i <= s->max; i++)
            if (s->cl[i] && (s->pfd[2 + i].revents || s->cl[i]->stream_waits))
                serve_client(s, i, s->pfd[2 + i].revents);
        paused = (s->pfd[1].revents & POLLIN) && accept_some(s) < 0;
    }
}

/* ---- opening and closing -------------------------------------------------------------- */

/* A socket file left by an eccd that died is removed; one that answers is an error. */
static int remove_stale(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct stat st;
    int fd, rc, e;

    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : fail(err, errlen, errno, "cannot check %s: %s", path,
                                         strerror(errno));
    if (!S_ISSOCK(st.st_mode))
        return fail(err, errlen, EEXIST, "%s exists and is not a socket", path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return fail(err, errlen, errno, "socket: %s", strerror(errno));
    memcpy(a.sun_path, path, strlen(path) + 1);
    rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    e = errno;
    close(fd);
    if (rc == 0 || e == EAGAIN || e == EINPROGRESS)
        return fail(err, errlen, EADDRINUSE, "another eccd is running on %s", path);
    if (e == ENOENT)
        return 0;
    if (e != ECONNREFUSED)
        return fail(err, errlen, e, "cannot check %s: %s", path, strerror(e));
    if (unlink(path) < 0 && errno != ENOENT)
        return fail(err, errlen, errno, "cannot remove the stale socket %s: %s", path,
                    strerror(errno));
    log_info("removed the stale socket %s", path);
    return 0;
}

/* Bind, set owner, group and mode, then listen: nobody can connect before the mode is set. */
static int make_socket(struct ctlsock *s, char *err, size_t errlen)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    struct stat st;

    s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s->lfd < 0)
        return fail(err, errlen, errno, "socket: %s", strerror(errno));
    memcpy(a.sun_path, s->path, strlen(s->path) + 1);
    if (bind(s->lfd, (struct sockaddr *)&a, sizeof a) < 0)
        return fail(err, errlen, errno, "cannot bind %s: %s", s->path, strerror(errno));
    if (lstat(s->path, &st) < 0)
        return fail(err, errlen, errno, "cannot stat %s: %s", s->path, strerror(errno));
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    if (chown(s->path, s->owner, s->group) < 0)
        return fail(err, errlen, errno, "cannot give %s to uid %ld gid %ld: %s", s->path,
                    (long)s->owner, (long)s->group, strerror(errno));
    if (chmod(s->path, 0660) < 0)
        return fail(err, errlen, errno, "cannot chmod %s: %s", s->path, strerror(errno));
    if (listen(s->lfd, 16) < 0)
        return fail(err, errlen, errno, "cannot listen on %s: %s", s->path, strerror(errno));
    return 0;
}

/* Unlink the socket file if it is still the one we made. */
static void unlink_ours(const struct ctlsock *s)
{
    struct stat st;

    if (s->ino && lstat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
        unlink(s->path);
}

/* The thread, with every signal blocked: they are the main thread's business. */
static int start_thread(struct ctlsock *s, char *err, size_t errlen)
{
    sigset_t all, old;
    int rc;

    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    rc = pthread_create(&s->thread, NULL, serve, s);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc ? fail(err, errlen, rc, "cannot start the socket thread: %s", strerror(rc)) : 0;
}

static void free_sock(struct ctlsock *s)
{
    int e = errno;

    if (s->lfd >= 0)
        close(s->lfd);
    unlink_ours(s);
    for (int i = 0; i < 2; i++)
        if (s->wake[i] >= 0)
            close(s->wake[i]);
    pthread_mutex_destroy(&s->lock);
    free(s->cl);
    free(s->pfd);
    free(s);
    errno = e;
}

static struct ctlsock *new_sock(const struct ctlsock_params *p, char *err, size_t errlen)
{
    struct ctlsock *s;

    if (!p || !p->path || !p->path[0] || !p->handle || p->max_clients < 0) {
        fail(err, errlen, EINVAL, "control socket: no path, no handler or max_clients < 0");
        return NULL;
    }
    if (strlen(p->path) >= PATH_LEN) {
        fail(err, errlen, ENAMETOOLONG, "socket path %s is too long (at most %d bytes)",
             p->path, PATH_LEN - 1);
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        fail(err, errlen, ENOMEM, "out of memory");
        return NULL;
    }
    memcpy(s->path, p->path, strlen(p->path) + 1);
    s->lfd = s->wake[0] = s->wake[1] = -1;
    s->euid = geteuid();
    s->owner = p->owner == (uid_t)-1 ? s->euid : p->owner;
    s->group = p->group == (gid_t)-1 ? getegid() : p->group;
    s->max = p->max_clients ? p->max_clients : CTLSOCK_CLIENTS_DEFAULT;
    s->per_user = p->per_user > 0 && p->per_user < s->max ? p->per_user : s->max;
    s->idle_s = p->idle_s > 0.0 ? p->idle_s : 0.0;
    s->stall_s = p->stall_s > 0.0 ? p->stall_s : 0.0;
    s->now = p->now;
    s->now_arg = p->now_arg;
    s->handle = p->handle;
    s->arg = p->arg;
    pthread_mutex_init(&s->lock, NULL);
    s->cl = calloc((size_t)s->max + 1, sizeof *s->cl);
    s->pfd = calloc((size_t)s->max + 3, sizeof *s->pfd);
    if (!s->cl || !s->pfd) {
        fail(err, errlen, ENOMEM, "out of memory");
        free_sock(s);
        return NULL;
    }
    return s;
}

struct ctlsock *ctlsock_open(const struct ctlsock_params *p, char *err, size_t errlen)
{
    struct ctlsock *s = new_sock(p, err, errlen);

    if (!s)
        return NULL;
    if (remove_stale(s->path, err, errlen) < 0 || make_socket(s, err, errlen) < 0)
        goto bad;
    if (pipe2(s->wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        fail(err, errlen, errno, "pipe: %s", strerror(errno));
        goto bad;
    }
    if (start_thread(s, err, errlen) < 0)
        goto bad;
    log_info("control socket %s (uid %ld, gid %ld, mode 0660, at most %d clients, %d a user, "
             "and one in reserve for status; idle %g s, stalled %g s: 0 is never)", s->path,
             (long)s->owner, (long)s->group, s->max, s->per_user, s->idle_s, s->stall_s);
    return s;
bad:
    free_sock(s);
    return NULL;
}

void ctlsock_close(struct ctlsock *s)
{
    if (!s)
        return;
    while (write(s->wake[1], (char[]){WAKE_STOP}, 1) < 0 && errno == EINTR)
        ;
    pthread_join(s->thread, NULL);
    for (int i = 0; i <= s->max; i++)
        if (s->cl[i])
            drop_client(s, i);
    free_sock(s);
}

void ctlsock_kick(struct ctlsock *s)
{
    if (s)
        (void)!write(s->wake[1], (char[]){WAKE_KICK}, 1);
}

void ctlsock_stats(struct ctlsock *s, struct ctlsock_stats *st)
{
    if (!s) {
        memset(st, 0, sizeof *st);
        return;
    }
    pthread_mutex_lock(&s->lock);
    *st = s->st;
    pthread_mutex_unlock(&s->lock);
}
