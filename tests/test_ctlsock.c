/* test_ctlsock.c - the control socket server with an echoing handler, over real sockets
 * in a mkdtemp directory. The peer-access tests fork children that drop to other users;
 * they need root and are reported skipped otherwise. */
#define _GNU_SOURCE                 /* setgroups */
#include "daemon/ctlsock.h"

#include <errno.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proto/request.h"
#include "tests/test.h"

#define TIMEOUT_MS 5000
#define GROUP_G ((gid_t)4242)       /* a group nobody is in */
#define OWNER_O ((uid_t)4243)
#define NOBODY ((uid_t)65534)
#define BIG_REPLY (512u << 10)   /* under CTLSOCK_OUT_MAX, over CTLSOCK_OUT_HIGH */

/* What the handler saw, read by the tests. */
struct seen {
    pthread_mutex_t lock;
    int calls;
    size_t last_len;
    struct ctlsock_peer last_peer;
    int streams_closed;         /* streamed replies whose close was called */
    long stream_reads;          /* parts read from streamed replies */
    int ticks;                  /* "ticker": lines the test has made available */
};

/* A streamed reply of left bytes of 'y' (fail: read fails once they are out). */
struct ystream {
    struct seen *seen;
    size_t left;
    bool fail;
};

static ssize_t ystream_read(void *arg, char *buf, size_t size)
{
    struct ystream *y = arg;
    size_t n = y->left < size ? y->left : size;

    pthread_mutex_lock(&y->seen->lock);
    y->seen->stream_reads++;
    pthread_mutex_unlock(&y->seen->lock);
    if (n == 0 && y->fail)
        return -1;
    memset(buf, 'y', n);
    y->left -= n;
    return (ssize_t)n;
}

static void ystream_close(void *arg)
{
    struct ystream *y = arg;

    pthread_mutex_lock(&y->seen->lock);
    y->seen->streams_closed++;
    pthread_mutex_unlock(&y->seen->lock);
    free(y);
}

/* "ticker": a reply that never ends, the line "t:" then "line K" each time the test makes
 * one available (seen->ticks); nothing yet: EAGAIN. */
struct ticker {
    struct seen *seen;
    int sent;
};

static ssize_t ticker_read(void *arg, char *buf, size_t size)
{
    struct ticker *k = arg;
    int avail;

    pthread_mutex_lock(&k->seen->lock);
    avail = k->seen->ticks;
    pthread_mutex_unlock(&k->seen->lock);
    if (k->sent >= avail) {
        errno = EAGAIN;
        return -1;
    }
    k->sent++;
    return snprintf(buf, size, "line %d\n", k->sent);
}

static void ticker_close(void *arg)
{
    struct ticker *k = arg;

    pthread_mutex_lock(&k->seen->lock);
    k->seen->streams_closed++;
    pthread_mutex_unlock(&k->seen->lock);
    free(k);
}

/* "stream N" / "stream-fail N": the reply "s:" then N bytes of 'y', streamed. */
static char *start_stream(struct seen *seen, const char *line, struct ctlsock_stream *stream)
{
    struct ystream *y = calloc(1, sizeof *y);

    y->seen = seen;
    y->fail = strncmp(line, "stream-fail ", 12) == 0;
    y->left = strtoul(strchr(line, ' ') + 1, NULL, 10);
    *stream = (struct ctlsock_stream){.read = ystream_read, .close = ystream_close, .arg = y};
    return strdup("s:");
}

/* "ok LEN LINE" for each line; "null" gets no reply, "newline" a broken one, "big"
 * BIG_REPLY bytes, "whoami" the peer's credentials, "stream N" a streamed reply. */
static char *echo(void *arg, const char *line, size_t len, const struct ctlsock_peer *peer,
                  struct ctlsock_stream *stream)
{
    struct seen *seen = arg;
    char *out;

    pthread_mutex_lock(&seen->lock);
    seen->calls++;
    seen->last_len = len;
    seen->last_peer = *peer;
    pthread_mutex_unlock(&seen->lock);
    if (strcmp(line, "null") == 0)
        return NULL;
    if (strncmp(line, "stream", 6) == 0 && strchr(line, ' '))
        return start_stream(seen, line, stream);
    if (strcmp(line, "ticker") == 0) {
        struct ticker *k = calloc(1, sizeof *k);
        k->seen = seen;
        *stream = (struct ctlsock_stream){.read = ticker_read, .close = ticker_close, .arg = k,
                                          .lines = true};
        return strdup("t:");
    }
    if (strcmp(line, "newline") == 0)
        return strdup("two\nlines");
    if (strcmp(line, "big") == 0) {
        out = malloc(BIG_REPLY + 1);
        memset(out, 'b', BIG_REPLY);
        out[BIG_REPLY] = '\0';
        return out;
    }
    out = malloc(len + 64);
    if (strcmp(line, "whoami") == 0)
        snprintf(out, len + 64, "uid=%ld gid=%ld", (long)peer->uid, (long)peer->gid);
    else
        snprintf(out, len + 64, "ok %zu %s", len, line);
    return out;
}

static int seen_calls(struct seen *seen)
{
    pthread_mutex_lock(&seen->lock);
    int n = seen->calls;
    pthread_mutex_unlock(&seen->lock);
    return n;
}

/* The last request's length and peer, as the handler saw them. */
static size_t seen_last(struct seen *seen, struct ctlsock_peer *peer)
{
    pthread_mutex_lock(&seen->lock);
    size_t len = seen->last_len;
    if (peer)
        *peer = seen->last_peer;
    pthread_mutex_unlock(&seen->lock);
    return len;
}

struct fixture {
    char dir[64];
    char path[128];
    struct ctlsock *s;
    struct seen seen;
    char err[256];
};

static struct ctlsock_params params(struct fixture *f, int max_clients, uid_t owner,
                                    gid_t group)
{
    return (struct ctlsock_params){.path = f->path, .owner = owner, .group = group,
                                   .max_clients = max_clients, .handle = echo,
                                   .arg = &f->seen};
}

/* A fresh directory (mode 0755, so other users can reach the socket) and no server yet. */
static void fx_init(struct fixture *f)
{
    memset(f, 0, sizeof *f);
    pthread_mutex_init(&f->seen.lock, NULL);
    strcpy(f->dir, "/tmp/test_ctlsock-XXXXXX");
    CHECK(mkdtemp(f->dir) != NULL);
    chmod(f->dir, 0755);
    snprintf(f->path, sizeof f->path, "%s/eccd.sock", f->dir);
}

static int fx_open(struct fixture *f, int max_clients, uid_t owner, gid_t group)
{
    struct ctlsock_params p = params(f, max_clients, owner, group);
    f->s = ctlsock_open(&p, f->err, sizeof f->err);
    if (!f->s)
        printf("  ctlsock_open: %s\n", f->err);
    return f->s ? 0 : -1;
}

static void fx_done(struct fixture *f)
{
    ctlsock_close(f->s);
    unlink(f->path);                /* in case a test left a file of its own */
    CHECK(rmdir(f->dir) == 0);
    pthread_mutex_destroy(&f->seen.lock);
}

/* ---- a client ---------------------------------------------------------------------- */

static void send_str(int fd, const char *s, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
        if (k <= 0) {                                   /* closed: the reads will tell */
            if (errno != EPIPE && errno != ECONNRESET)
                printf("  send: %s\n", strerror(errno));
            return;
        }
        s += k;
        n -= (size_t)k;
    }
}

static void send_s(int fd, const char *s)
{
    send_str(fd, s, strlen(s));
}

/* Read one byte within TIMEOUT_MS: 1, 0 on EOF, -1 on error or timeout. */
static int read_byte(int fd, char *c)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    ssize_t n;

    if (poll(&p, 1, TIMEOUT_MS) != 1)
        return -1;
    n = recv(fd, c, 1, 0);
    return n < 0 ? -1 : (int)n;
}

/* One reply line without its newline into buf (cut to n - 1 bytes); its full length, or
 * -1 on EOF, error or timeout. */
static long read_reply(int fd, char *buf, size_t n)
{
    size_t k = 0;
    char c;

    buf[0] = '\0';
    for (;;) {
        if (read_byte(fd, &c) != 1)
            return -1;
        if (c == '\n')
            break;
        if (k + 1 < n)
            buf[k] = c, buf[k + 1] = '\0';
        k++;
    }
    return (long)k;
}

/* The next n bytes are all c, then a newline (a big reply, read in bulk). */
static int read_run_of(int fd, char c, size_t n)
{
    char buf[65536];
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};

    while (got < n + 1 && poll(&p, 1, TIMEOUT_MS) == 1) {
        size_t want = n + 1 - got < sizeof buf ? n + 1 - got : sizeof buf;
        ssize_t k = recv(fd, buf, want, 0);
        if (k <= 0)
            break;
        for (ssize_t i = 0; i < k; i++)
            if (buf[i] != (got + (size_t)i < n ? c : '\n'))
                return 0;
        got += (size_t)k;
    }
    return got == n + 1;
}

/* The next reply is exactly want. */
static void expect_reply(int fd, const char *want)
{
    char buf[8192];
    long n = read_reply(fd, buf, sizeof buf);
    if (n < 0 || strcmp(buf, want) != 0)
        printf("  got \"%.100s\" (%ld bytes), want \"%.100s\"\n", buf, n, want);
    CHECK(n >= 0 && strcmp(buf, want) == 0);
}

static const char *json_str(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

/* The next reply is an error reply with this code. */
static void expect_error(int fd, const char *code)
{
    char buf[1024];
    json_t *j = NULL;

    if (read_reply(fd, buf, sizeof buf) >= 0)
        j = json_loads(buf, 0, NULL);
    if (!j || !json_is_false(json_object_get(j, "ok")) ||
        strcmp(json_str(j, "error"), code) != 0)
        printf("  got \"%s\", want error %s\n", buf, code);
    CHECK(j && json_is_false(json_object_get(j, "ok")));
    CHECK(j && strcmp(json_str(j, "error"), code) == 0);
    CHECK(j && json_string_value(json_object_get(j, "message")));
    json_decref(j);
}

/* The server closes the connection: EOF (or ECONNRESET) within TIMEOUT_MS. */
static int closed_by_server(int fd)
{
    char c;
    int n;

    while ((n = read_byte(fd, &c)) == 1)
        ;
    return n == 0 || errno == ECONNRESET;
}

static void msleep(int ms)
{
    struct timespec t = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

/* Wait (up to TIMEOUT_MS) until the server has n clients. */
static int wait_clients(struct ctlsock *s, int n)
{
    struct ctlsock_stats st;
    for (int i = 0; i < TIMEOUT_MS / 10; i++) {
        ctlsock_stats(s, &st);
        if (st.clients == n)
            return 1;
        msleep(10);
    }
    printf("  %d clients, want %d\n", st.clients, n);
    return 0;
}

/* Wait (up to TIMEOUT_MS) until the server has read and handled n bytes in all: what was
 * sent so far has arrived, and a later send comes in a read of its own. */
static int wait_bytes_in(struct ctlsock *s, long n)
{
    struct ctlsock_stats st;
    for (int i = 0; i < TIMEOUT_MS; i++) {
        ctlsock_stats(s, &st);
        if (st.bytes_in == n)
            return 1;
        msleep(1);
    }
    printf("  %ld bytes in, want %ld\n", st.bytes_in, n);
    return 0;
}

/* ---- the tests --------------------------------------------------------------------- */

TEST(request_reply_round_trip)
{
    struct fixture f;
    struct ctlsock_stats st;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    int fd = test_unix_dial(f.path);
    CHECK(fd >= 0);
    send_s(fd, "{\"v\":1,\"cmd\":\"status\"}\n");
    expect_reply(fd, "ok 22 {\"v\":1,\"cmd\":\"status\"}");
    struct ctlsock_peer peer;
    seen_last(&f.seen, &peer);
    CHECK_INT(peer.pid, getpid());
    CHECK_INT(peer.uid, geteuid());
    CHECK_INT(peer.gid, getegid());
    send_s(fd, "again\n");
    expect_reply(fd, "ok 5 again");
    ctlsock_stats(f.s, &st);
    CHECK_INT(st.accepted, 1);
    CHECK_INT(st.requests, 2);
    CHECK_INT(st.clients, 1);
    CHECK_INT(st.refused + st.too_long + st.dropped, 0);
    close(fd);
    CHECK(wait_clients(f.s, 0));
out:
    fx_done(&f);
}

TEST(two_requests_in_one_write_and_many_in_order)
{
    struct fixture f;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    int fd = test_unix_dial(f.path);
    send_s(fd, "first\nsecond\n");
    expect_reply(fd, "ok 5 first");
    expect_reply(fd, "ok 6 second");

    /* 2000 lines in one go: they span many reads, lines cut anywhere */
    char *all = malloc(2000 * 16), want[32];
    size_t n = 0;
    for (int i = 0; i < 2000; i++)
        n += (size_t)sprintf(all + n, "n%d\n", i);
    send_str(fd, all, n);
    for (int i = 0; i < 2000; i++) {
        char line[16];
        snprintf(line, sizeof line, "n%d", i);
        snprintf(want, sizeof want, "ok %zu %s", strlen(line), line);
        expect_reply(fd, want);
        if (test_failed_)
            break;
    }
    free(all);
    CHECK_INT(seen_calls(&f.seen), 2002);
    close(fd);
out:
    fx_done(&f);
}

TEST(request_split_across_three_writes)
{
    struct fixture f;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    const char *one = "{\"v\":1,", *two = "\"cmd\":\"st";
    int fd = test_unix_dial(f.path);
    send_s(fd, one);
    CHECK(wait_bytes_in(f.s, (long)strlen(one)));
    send_s(fd, two);
    CHECK(wait_bytes_in(f.s, (long)(strlen(one) + strlen(two))));
    CHECK_INT(seen_calls(&f.seen), 0);                  /* both parts read: no line yet */
    send_s(fd, "op\"}\nnext");
    expect_reply(fd, "ok 20 {\"v\":1,\"cmd\":\"stop\"}");
    send_s(fd, "\n");
    expect_reply(fd, "ok 4 next");
    close(fd);
out:
    fx_done(&f);
}

TEST(too_long_line_is_refused_and_skipped)
{
    struct fixture f;
    struct ctlsock_stats st;
    char *big = malloc(3 * REQ_LINE_MAX);
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    int fd = test_unix_dial(f.path);

    memset(big, 'x', 3 * REQ_LINE_MAX);
    send_str(fd, big, REQ_LINE_MAX - 1);                /* the longest line that fits */
    send_s(fd, "\n");
    char *want = malloc(REQ_LINE_MAX + 16);
    snprintf(want, REQ_LINE_MAX + 16, "ok %d %.*s", REQ_LINE_MAX - 1, REQ_LINE_MAX - 1, big);
    expect_reply(fd, want);
    free(want);

    send_str(fd, big, REQ_LINE_MAX);                    /* one byte more */
    send_s(fd, "\nafter\n");
    expect_error(fd, "too_long");
    expect_reply(fd, "ok 5 after");

    long in = REQ_LINE_MAX + REQ_LINE_MAX + 7;           /* sent so far */
    send_str(fd, big, 2 * REQ_LINE_MAX + 100);          /* its end in a later write */
    CHECK(wait_bytes_in(f.s, in += 2 * REQ_LINE_MAX + 100));
    expect_error(fd, "too_long");
    send_str(fd, big, 2000);
    CHECK(wait_bytes_in(f.s, in += 2000));
    send_s(fd, "xx\nlast\n");
    expect_reply(fd, "ok 4 last");

    ctlsock_stats(f.s, &st);
    CHECK_INT(st.too_long, 2);
    CHECK_INT(st.requests, 3);
    close(fd);
out:
    free(big);
    fx_done(&f);
}

TEST(malformed_lines_reach_the_handler)
{
    struct fixture f;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    int fd = test_unix_dial(f.path);
    send_s(fd, "not json\n\n{\r\n");
    expect_reply(fd, "ok 8 not json");
    expect_reply(fd, "ok 0 ");
    expect_reply(fd, "ok 2 {\r");
    send_str(fd, "a\0b\n", 4);                         /* a NUL: len tells */
    expect_reply(fd, "ok 3 a");
    CHECK_INT(seen_last(&f.seen, NULL), 3);
    CHECK_INT(seen_calls(&f.seen), 4);
    close(fd);
out:
    fx_done(&f);
}

TEST(handler_failures_give_internal)
{
    struct fixture f;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    int fd = test_unix_dial(f.path);
    send_s(fd, "null\nnewline\nfine\n");
    expect_error(fd, "internal");
    expect_error(fd, "internal");
    expect_reply(fd, "ok 4 fine");
    close(fd);
out:
    fx_done(&f);
}

TEST(client_leaving_mid_line_and_after_eof)
{
    struct fixture f;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    int other = test_unix_dial(f.path), fd = test_unix_dial(f.path);
    send_s(fd, "{\"v\":1,\"cmd\":\"sto");
    CHECK(wait_bytes_in(f.s, 17));                      /* the server has the half line */
    close(fd);
    CHECK(wait_clients(f.s, 1));
    CHECK_INT(seen_calls(&f.seen), 0);                  /* the half line went nowhere */
    send_s(other, "still here\n");
    expect_reply(other, "ok 10 still here");

    /* EOF right after a request (nc -N): the reply still comes, then EOF */
    fd = test_unix_dial(f.path);
    send_s(fd, "one\ntwo\nhalf");
    shutdown(fd, SHUT_WR);
    expect_reply(fd, "ok 3 one");
    expect_reply(fd, "ok 3 two");
    CHECK(closed_by_server(fd));
    close(fd);

    /* EOF while a big reply is still on its way: all of it, then EOF */
    fd = test_unix_dial(f.path);
    send_s(fd, "big\nafter\n");
    shutdown(fd, SHUT_WR);
    CHECK(wait_bytes_in(f.s, 17 + 11 + 12 + 10));        /* both handled, replies queued */
    CHECK(read_run_of(fd, 'b', BIG_REPLY));
    expect_reply(fd, "ok 5 after");
    CHECK(closed_by_server(fd));
    close(fd);
    close(other);
    CHECK(wait_clients(f.s, 0));
out:
    fx_done(&f);
}

/* Two slots and the reserve: the third client is served one request in the reserve slot
 * (the handler sees peer.reserved) and closed; with the reserve taken, the next is busy. */
TEST(one_client_too_many_is_busy)
{
    struct fixture f;
    struct ctlsock_stats st;
    struct ctlsock_peer peer;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 2, (uid_t)-1, (gid_t)-1) == 0, out);
    int a = test_unix_dial(f.path), b = test_unix_dial(f.path);
    send_s(a, "a\n");
    send_s(b, "b\n");
    expect_reply(a, "ok 1 a");
    expect_reply(b, "ok 1 b");
    seen_last(&f.seen, &peer);
    CHECK(!peer.reserved);
    int r = test_unix_dial(f.path);                               /* the reserve slot */
    CHECK(wait_clients(f.s, 3));
    int c = test_unix_dial(f.path);                               /* and one too many */
    CHECK(c >= 0);
    send_s(c, "c\n");
    expect_error(c, "busy");
    CHECK(closed_by_server(c));
    close(c);
    send_s(r, "status\nmore\n");
    expect_reply(r, "ok 6 status");
    seen_last(&f.seen, &peer);
    CHECK(peer.reserved);
    CHECK(closed_by_server(r));                         /* one request, then closed */
    close(r);
    ctlsock_stats(f.s, &st);
    CHECK_INT(st.dropped, 1);
    CHECK_INT(st.accepted, 3);
    CHECK_INT(st.reserved, 1);
    CHECK(wait_clients(f.s, 2));

    close(a);                                           /* a slot frees up */
    CHECK(wait_clients(f.s, 1));
    c = test_unix_dial(f.path);
    send_s(c, "c\n");
    expect_reply(c, "ok 1 c");
    send_s(c, "again\n");                               /* a regular slot: not one-shot */
    expect_reply(c, "ok 5 again");
    send_s(b, "b\n");
    expect_reply(b, "ok 1 b");
    close(b);
    close(c);
out:
    fx_done(&f);
}

/* The injected clock of the timeout tests, moved by the test. */
static _Atomic double fake_now_s;     /* read on the server's thread */
static double fake_now(void *arg)
{
    (void)arg;
    return atomic_load(&fake_now_s);
}

static void fake_advance(struct ctlsock *s, double dt)
{
    atomic_store(&fake_now_s, atomic_load(&fake_now_s) + dt);
    ctlsock_kick(s);
}

static int fx_open_limits(struct fixture *f, int max, int per_user, double idle_s,
                          double stall_s)
{
    struct ctlsock_params p = params(f, max, (uid_t)-1, (gid_t)-1);

    p.per_user = per_user;
    p.idle_s = idle_s;
    p.stall_s = stall_s;
    p.now = fake_now;
    atomic_store(&fake_now_s, 1000.0);
    f->s = ctlsock_open(&p, f->err, sizeof f->err);
    return f->s ? 0 : -1;
}

/* One user may hold per_user of the slots; past that it is told why, and the reserve
 * slot still takes its status. */
TEST(one_user_holds_at_most_its_share)
{
    struct fixture f;
    struct ctlsock_stats st;
    int fd[3];
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open_limits(&f, 4, 2, 0, 0) == 0, out);
    for (int i = 0; i < 2; i++)
        fd[i] = test_unix_dial(f.path);
    CHECK(wait_clients(f.s, 2));
    fd[2] = test_unix_dial(f.path);                               /* over the share: the reserve */
    CHECK(wait_clients(f.s, 3));
    int d = test_unix_dial(f.path);                               /* over the share, reserve taken */
    send_s(d, "x\n");
    expect_error(d, "busy");
    CHECK(closed_by_server(d));
    close(d);
    ctlsock_stats(f.s, &st);
    CHECK_INT(st.dropped_share, 1);
    CHECK_INT(st.reserved, 1);
    for (int i = 0; i < 3; i++)
        close(fd[i]);
out:
    fx_done(&f);
}

/* Silent clients are dropped once idle_s has passed on the socket's clock (the injected
 * one: no waiting on the wall clock), and the log and the counters say why. */
TEST(idle_clients_are_dropped_after_the_idle_timeout)
{
    struct fixture f;
    struct ctlsock_stats st;
    int idle[3], busy;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open_limits(&f, 3, 3, 60, 0) == 0, out);
    for (int i = 0; i < 3; i++)
        idle[i] = test_unix_dial(f.path);
    CHECK(wait_clients(f.s, 3));
    fake_advance(f.s, 30.0);
    busy = test_unix_dial(f.path);                                /* the reserve slot */
    send_s(busy, "status\n");
    expect_reply(busy, "ok 6 status");
    CHECK(closed_by_server(busy));
    close(busy);
    CHECK(wait_clients(f.s, 3));
    ctlsock_stats(f.s, &st);
    CHECK_INT(st.dropped_idle, 0);                      /* 30 s: not yet */
    fake_advance(f.s, 31.0);
    for (int i = 0; i < 3; i++)
        CHECK(closed_by_server(idle[i]));
    CHECK(wait_clients(f.s, 0));
    ctlsock_stats(f.s, &st);
    CHECK_INT(st.dropped_idle, 3);
    for (int i = 0; i < 3; i++)
        close(idle[i]);
out:
    fx_done(&f);
}

/* A client whose replies wait unread past stall_s is dropped, long before it could pin
 * CTLSOCK_OUT_MAX; one that reads is not. */
TEST(a_stalled_reader_is_dropped_after_the_stall_timeout)
{
    struct fixture f;
    struct ctlsock_stats st;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open_limits(&f, 2, 2, 0, 10) == 0, out);
    int lazy = test_unix_dial(f.path), good = test_unix_dial(f.path);
    send_s(lazy, "big\nbig\nbig\nbig\n");               /* 4 MiB it will not read */
    CHECK(wait_bytes_in(f.s, 16));
    send_s(good, "hi\n");
    expect_reply(good, "ok 2 hi");
    fake_advance(f.s, 11.0);
    CHECK(wait_clients(f.s, 1));
    ctlsock_stats(f.s, &st);
    CHECK_INT(st.dropped_stalled, 1);
    send_s(good, "hi\n");                               /* the reader stays */
    expect_reply(good, "ok 2 hi");
    close(lazy);
    close(good);
out:
    fx_done(&f);
}

/* A client that asks for replies and reads none holds at most CTLSOCK_OUT_HIGH plus one
 * reply: its next requests wait (in its buffer, then in the kernel) and nothing is lost or
 * dropped; it gets every reply, in order, once it reads. */
TEST(client_that_does_not_read_is_held_to_a_small_buffer)
{
    struct fixture f;
    struct ctlsock_stats st;
    enum { N = 40 };                                    /* 20 MiB of replies asked for */
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    int lazy = test_unix_dial(f.path), fd = test_unix_dial(f.path);
    char lines[4 * N + 1] = "";
    for (unsigned i = 0; i < N; i++)
        strcat(lines, "big\n");
    send_s(lazy, lines);
    CHECK(wait_bytes_in(f.s, 4 * N));                   /* read, and what it may handled */
    send_s(fd, "hi\n");                                 /* the server goes on meanwhile */
    expect_reply(fd, "ok 2 hi");
    ctlsock_stats(f.s, &st);
    CHECK(seen_calls(&f.seen) <= 4);                    /* 1 or 2 "big", then it waits */
    CHECK(st.out_peak <= (long)(CTLSOCK_OUT_HIGH + BIG_REPLY + 1));
    CHECK_INT(st.dropped, 0);
    printf("  %d of %d requests taken while it did not read; at most %ld bytes unsent\n",
           seen_calls(&f.seen) - 1, N, st.out_peak);
    for (int i = 0; i < N; i++)                          /* it reads: every reply comes */
        if (!read_run_of(lazy, 'b', BIG_REPLY)) {
            CHECK(!"every big reply, whole");
            break;
        }
    ctlsock_stats(f.s, &st);
    CHECK(st.out_peak <= (long)(CTLSOCK_OUT_HIGH + BIG_REPLY + 1));
    close(fd);
    close(lazy);
out:
    fx_done(&f);
}

static int streams_closed(struct seen *seen)
{
    pthread_mutex_lock(&seen->lock);
    int n = seen->streams_closed;
    pthread_mutex_unlock(&seen->lock);
    return n;
}

static bool wait_streams_closed(struct seen *seen, int n)
{
    for (int i = 0; i < TIMEOUT_MS / 10 && streams_closed(seen) < n; i++)
        msleep(10);
    return streams_closed(seen) == n;
}

/* A streamed reply of 8 MiB arrives whole, as one line, and the request sent behind it is
 * answered after it; the server reads it a part at a time and never holds much of it. */
TEST(a_streamed_reply_arrives_whole_and_in_order)
{
    struct fixture f;
    struct ctlsock_stats st;
    char head[3];
    enum { LEN = 8 << 20 };
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    int fd = test_unix_dial(f.path);
    send_s(fd, "stream 8388608\nafter\n");
    CHECK(read_byte(fd, &head[0]) == 1 && read_byte(fd, &head[1]) == 1);
    CHECK(head[0] == 's' && head[1] == ':');
    CHECK(read_run_of(fd, 'y', LEN));
    expect_reply(fd, "ok 5 after");
    CHECK(wait_streams_closed(&f.seen, 1));
    ctlsock_stats(f.s, &st);
    CHECK(st.out_peak <= (long)(2 * CTLSOCK_CHUNK + 1));
    CHECK(f.seen.stream_reads >= LEN / CTLSOCK_CHUNK);
    printf("  8 MiB in %ld parts; at most %ld bytes unsent\n", f.seen.stream_reads,
           st.out_peak);
    close(fd);
out:
    fx_done(&f);
}

/* While one client's streamed reply waits unread, others are served; a reader that leaves
 * mid-stream, one whose stream fails, and one stalled past stall_s are dropped, and each
 * stream is closed exactly once. */
TEST(streams_that_stall_fail_or_are_left_are_closed_once)
{
    struct fixture f;
    struct ctlsock_stats st;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open_limits(&f, 4, 4, 0, 10) == 0, out);
    int stalled = test_unix_dial(f.path), leaver = test_unix_dial(f.path), failing = test_unix_dial(f.path);
    int other = test_unix_dial(f.path);
    send_s(stalled, "stream 1000000000\n");            /* 1 GB it will not read */
    send_s(leaver, "stream 1000000000\n");
    CHECK(wait_bytes_in(f.s, 2 * 18));
    send_s(other, "hi\n");                              /* served meanwhile */
    expect_reply(other, "ok 2 hi");
    close(leaver);                                      /* gone mid-stream */
    CHECK(wait_streams_closed(&f.seen, 1));
    send_s(failing, "stream-fail 100000\n");            /* its source fails part-way */
    CHECK(closed_by_server(failing));
    CHECK(wait_streams_closed(&f.seen, 2));
    fake_advance(f.s, 11.0);                            /* the stalled one times out */
    CHECK(wait_streams_closed(&f.seen, 3));
    CHECK(wait_clients(f.s, 1));
    ctlsock_stats(f.s, &st);
    CHECK_INT(st.dropped_stalled, 1);
    CHECK(st.out_peak <= (long)(2 * CTLSOCK_CHUNK + 1));
    send_s(other, "hi\n");
    expect_reply(other, "ok 2 hi");
    close(stalled);
    close(failing);
    close(other);
out:
    fx_done(&f);
    CHECK_INT(f.seen.streams_closed, 3);                 /* none closed twice */
}

static void ticks_add(struct seen *seen)
{
    pthread_mutex_lock(&seen->lock);
    seen->ticks++;
    pthread_mutex_unlock(&seen->lock);
}

/* A reply that never ends (watch): a line each time its source has one, nothing between;
 * a source with nothing yet is not a stalled reader, however long it waits (on the injected
 * clock, well past stall_s), and other clients are served meanwhile. (A stream whose lines
 * wait unread is dropped as stalled: streams_that_stall_fail_or_are_left_are_closed_once.) */
TEST(an_endless_stream_waits_for_its_source_and_is_not_stalled_meanwhile)
{
    struct fixture f;
    struct ctlsock_stats st;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open_limits(&f, 4, 4, 0, 10) == 0, out);
    int fd = test_unix_dial(f.path), lazy = test_unix_dial(f.path);
    send_s(fd, "ticker\n");
    expect_reply(fd, "t:");                             /* the head, a line at once */
    ticks_add(&f.seen);
    expect_reply(fd, "line 1");                         /* each line as soon as it is made */
    fake_advance(f.s, 100.0);                           /* waits for its source: kept */
    ticks_add(&f.seen);
    expect_reply(fd, "line 2");
    ctlsock_stats(f.s, &st);
    CHECK_INT(st.dropped_stalled, 0);
    send_s(lazy, "hi\n");                               /* others are served meanwhile */
    expect_reply(lazy, "ok 2 hi");
    fake_advance(f.s, 100.0);
    ticks_add(&f.seen);
    expect_reply(fd, "line 3");
    ctlsock_stats(f.s, &st);
    CHECK_INT(st.dropped_stalled, 0);
    CHECK_INT(st.clients, 2);
    close(lazy);
    close(fd);
out:
    fx_done(&f);
}

TEST(socket_file_mode_owner_and_group)
{
    struct fixture f;
    struct stat st;
    int root = geteuid() == 0;
    uid_t owner = root ? OWNER_O : (uid_t)-1;
    gid_t group = root ? GROUP_G : getegid();
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, owner, group) == 0, out);
    CHECK(lstat(f.path, &st) == 0);
    CHECK(S_ISSOCK(st.st_mode));
    CHECK_INT(st.st_mode & 07777, 0660);
    CHECK_INT(st.st_uid, root ? OWNER_O : geteuid());
    CHECK_INT(st.st_gid, group);
out:
    fx_done(&f);
}

TEST(stale_socket_file_is_replaced)
{
    struct fixture f;
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    fx_init(&f);
    int old = socket(AF_UNIX, SOCK_STREAM, 0);          /* bound, never listening */
    strcpy(a.sun_path, f.path);
    CHECK(bind(old, (struct sockaddr *)&a, sizeof a) == 0);
    close(old);
    CHECK(access(f.path, F_OK) == 0);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    int fd = test_unix_dial(f.path);
    send_s(fd, "new\n");
    expect_reply(fd, "ok 3 new");
    close(fd);
out:
    fx_done(&f);
}

TEST(other_files_are_left_alone)
{
    struct fixture f;
    struct stat st;
    fx_init(&f);
    FILE *file = fopen(f.path, "w");
    REQUIRE_OR_GOTO(file != NULL, out);
    fputs("precious\n", file);
    fclose(file);
    struct ctlsock_params p = params(&f, 0, (uid_t)-1, (gid_t)-1);
    errno = 0;
    CHECK(ctlsock_open(&p, f.err, sizeof f.err) == NULL);
    CHECK_INT(errno, EEXIST);
    CHECK_STR_CONTAINS(f.err, "exists and is not a socket");
    CHECK(stat(f.path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 9);
    unlink(f.path);
out:
    fx_done(&f);
}

TEST(second_server_on_the_same_path_is_refused)
{
    struct fixture f;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    struct ctlsock_params p = params(&f, 0, (uid_t)-1, (gid_t)-1);
    char want[200];
    errno = 0;
    CHECK(ctlsock_open(&p, f.err, sizeof f.err) == NULL);
    CHECK_INT(errno, EADDRINUSE);
    snprintf(want, sizeof want, "another eccd is running on %s", f.path);
    CHECK_STR_CONTAINS(f.err, want);
    int fd = test_unix_dial(f.path);                              /* the first still serves */
    send_s(fd, "first\n");
    expect_reply(fd, "ok 5 first");
    close(fd);
out:
    fx_done(&f);
}

TEST(close_unlinks_its_socket_only)
{
    struct fixture f;
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    int fd = test_unix_dial(f.path);
    send_s(fd, "x\n");
    expect_reply(fd, "ok 1 x");
    ctlsock_close(f.s);                                 /* with a client connected */
    f.s = NULL;
    CHECK(closed_by_server(fd));
    close(fd);
    errno = 0;
    CHECK(access(f.path, F_OK) < 0 && errno == ENOENT);

    /* a file put in its place since is not ours to remove */
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, (gid_t)-1) == 0, out);
    unlink(f.path);
    fclose(fopen(f.path, "w"));
    ctlsock_close(f.s);
    f.s = NULL;
    CHECK(access(f.path, F_OK) == 0);
    unlink(f.path);
out:
    fx_done(&f);
}

TEST(open_errors)
{
    struct fixture f;
    char longpath[200];
    fx_init(&f);
    struct ctlsock_params p = params(&f, 0, (uid_t)-1, (gid_t)-1);

    memset(longpath, 'p', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = '\0';
    p.path = longpath;
    errno = 0;
    CHECK(ctlsock_open(&p, f.err, sizeof f.err) == NULL);
    CHECK_INT(errno, ENAMETOOLONG);
    CHECK_STR_CONTAINS(f.err, "too long");

    p.path = "/nonexistent-dir-for-test/eccd.sock";
    CHECK(ctlsock_open(&p, f.err, sizeof f.err) == NULL);
    CHECK_INT(errno, ENOENT);
    CHECK_STR_CONTAINS(f.err, "cannot bind /nonexistent-dir-for-test/eccd.sock");

    p.path = f.path;
    p.handle = NULL;
    CHECK(ctlsock_open(&p, f.err, sizeof f.err) == NULL);
    CHECK_INT(errno, EINVAL);
    ctlsock_close(NULL);
    fx_done(&f);
}

TEST(user_and_group_names)
{
    uid_t u = 7;
    gid_t g = 7;
    CHECK(ctlsock_user("", &u) == 0 && u == (uid_t)-1);
    CHECK(ctlsock_group("", &g) == 0 && g == (gid_t)-1);
    CHECK(ctlsock_user("root", &u) == 0 && u == 0);
    CHECK(ctlsock_group("root", &g) == 0 && g == 0);
    CHECK(ctlsock_user("4243", &u) == 0 && u == 4243);
    CHECK(ctlsock_group("4242", &g) == 0 && g == 4242);
    errno = 0;
    CHECK(ctlsock_user("no-such-user-eccd", &u) < 0 && errno == ENOENT);
    errno = 0;
    CHECK(ctlsock_group("no-such-group-eccd", &g) < 0 && errno == ENOENT);
    CHECK(ctlsock_user("12x", &u) < 0);
    CHECK(ctlsock_user("4294967295", &u) < 0);         /* (uid_t)-1 is not a uid */
    CHECK(ctlsock_group("-5", &g) < 0);
}

/* ---- peers as other users (root only) ---------------------------------------------- */

struct as_user {
    uid_t uid;
    gid_t gid;
    int ngroups;
    gid_t groups[2];
};

struct child_result {
    int connect_errno;              /* 0: connected */
    long reply_len;                 /* -1: no reply */
    char reply[256];
    int closed;                     /* the server closed the connection after the reply */
};

/* In a child with creds: connect, send line, read one reply, see whether the server
 * hangs up. */
static struct child_result run_as(const char *path, const struct as_user *creds,
                                  const char *line)
{
    struct child_result res = {.connect_errno = -1, .reply_len = -1};
    int pfd[2];

    if (pipe(pfd) < 0)
        return res;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        if (setgroups((size_t)creds->ngroups, creds->groups) < 0 || setgid(creds->gid) < 0 ||
            setuid(creds->uid) < 0)
            _exit(3);
        int fd = test_unix_dial(path);
        res.connect_errno = fd < 0 ? errno : 0;
        if (fd >= 0) {
            char second[256];
            send_s(fd, line);
            send_s(fd, line);                           /* served: a second reply */
            res.reply_len = read_reply(fd, res.reply, sizeof res.reply);
            res.closed = read_reply(fd, second, sizeof second) < 0 && closed_by_server(fd);
        }
        _exit(write(pfd[1], &res, sizeof res) == (ssize_t)sizeof res ? 0 : 4);
    }
    close(pfd[1]);
    int status = -1;
    if (read(pfd[0], &res, sizeof res) != (ssize_t)sizeof res)
        res.connect_errno = -1;
    close(pfd[0]);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    return res;
}

TEST(peer_refused_by_the_file_mode)
{
    struct fixture f;
    const struct as_user nobody = {.uid = NOBODY, .gid = NOBODY};
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, GROUP_G) == 0, out);
    struct child_result r = run_as(f.path, &nobody, "whoami\n");
    CHECK_INT(r.connect_errno, EACCES);
    CHECK_INT(seen_calls(&f.seen), 0);
out:
    fx_done(&f);
}

TEST(peer_refused_by_the_daemon_when_the_mode_is_loosened)
{
    struct fixture f;
    struct ctlsock_stats st;
    const struct as_user nobody = {.uid = NOBODY, .gid = NOBODY};
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, GROUP_G) == 0, out);
    CHECK(chmod(f.path, 0666) == 0);
    struct child_result r = run_as(f.path, &nobody, "whoami\n");
    CHECK_INT(r.connect_errno, 0);
    CHECK(r.reply_len > 0);
    json_t *j = json_loads(r.reply, 0, NULL);
    CHECK(j && strcmp(json_str(j, "error"), "permission") == 0);
    json_decref(j);
    CHECK(r.closed);
    CHECK_INT(seen_calls(&f.seen), 0);
    ctlsock_stats(f.s, &st);
    CHECK_INT(st.refused, 1);
    CHECK_INT(st.accepted, 0);
out:
    fx_done(&f);
}

TEST(peer_in_the_group_is_served)
{
    struct fixture f;
    const struct as_user member = {.uid = NOBODY, .gid = NOBODY, .ngroups = 1,
                                   .groups = {GROUP_G}};
    const struct as_user primary = {.uid = NOBODY, .gid = GROUP_G};
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, (uid_t)-1, GROUP_G) == 0, out);
    struct child_result r = run_as(f.path, &member, "whoami\n");   /* supplementary */
    CHECK_INT(r.connect_errno, 0);
    CHECK(strcmp(r.reply, "uid=65534 gid=65534") == 0);
    CHECK(!r.closed);
    r = run_as(f.path, &primary, "whoami\n");                      /* primary */
    CHECK_INT(r.connect_errno, 0);
    CHECK(strcmp(r.reply, "uid=65534 gid=4242") == 0);
    CHECK_INT(seen_calls(&f.seen), 4);
out:
    fx_done(&f);
}

TEST(peer_owning_the_socket_is_served)
{
    struct fixture f;
    const struct as_user owner = {.uid = OWNER_O, .gid = NOBODY};
    fx_init(&f);
    REQUIRE_OR_GOTO(fx_open(&f, 0, OWNER_O, GROUP_G) == 0, out);
    struct child_result r = run_as(f.path, &owner, "whoami\n");
    CHECK_INT(r.connect_errno, 0);
    CHECK(strcmp(r.reply, "uid=4243 gid=65534") == 0);
out:
    fx_done(&f);
}

TESTS(T(request_reply_round_trip), T(two_requests_in_one_write_and_many_in_order),
      T(request_split_across_three_writes), T(too_long_line_is_refused_and_skipped),
      T(malformed_lines_reach_the_handler), T(handler_failures_give_internal),
      T(client_leaving_mid_line_and_after_eof), T(one_client_too_many_is_busy),
      T(one_user_holds_at_most_its_share), T(idle_clients_are_dropped_after_the_idle_timeout),
      T(a_stalled_reader_is_dropped_after_the_stall_timeout),
      T(client_that_does_not_read_is_held_to_a_small_buffer),
      T(a_streamed_reply_arrives_whole_and_in_order),
      T(streams_that_stall_fail_or_are_left_are_closed_once),
      T(an_endless_stream_waits_for_its_source_and_is_not_stalled_meanwhile), T(socket_file_mode_owner_and_group),
      T(stale_socket_file_is_replaced), T(other_files_are_left_alone),
      T(second_server_on_the_same_path_is_refused), T(close_unlinks_its_socket_only),
      T(open_errors), T(user_and_group_names));

static const struct test_case root_cases[] = {
    T(peer_refused_by_the_file_mode), T(peer_refused_by_the_daemon_when_the_mode_is_loosened),
    T(peer_in_the_group_is_served), T(peer_owning_the_socket_is_served),
};

int main(void)
{
    int n = (int)(sizeof root_cases / sizeof root_cases[0]);
    int rc;

    signal(SIGPIPE, SIG_IGN);
    rc = test_run_all("test_ctlsock", test_cases_,
                      (int)(sizeof test_cases_ / sizeof test_cases_[0]));
    if (geteuid() == 0)
        return test_run_all("test_ctlsock", root_cases, n) | rc;
    return test_skip_all("test_ctlsock", root_cases, n,
                         "not root: the peers setuid and setgroups to other users and the "
                         "socket is chowned (CAP_SETUID, CAP_SETGID, CAP_CHOWN)") | rc;
}
