/* tcpcut.c - a loopback TCP relay that cuts connections in the middle of their traffic,
 * for the sync tests' "connections cut mid-transaction" fault (tests/t_sync_cut.sh,
 * docs/fleet.md). Usage: tcpcut --help.
 *
 * One thread, one poll() loop: no sleeps, no timers. Each accepted connection is relayed
 * byte for byte (it never parses what it relays: PostgreSQL's SSLRequest and the TLS
 * inside are bytes like any others) through a buffer per direction; an end of stream
 * from one side is passed on as a half-close (shutdown SHUT_WR) once the bytes before it
 * are written. A cut forwards exactly the planned number of bytes in its direction, then
 * closes both sockets with SO_LINGER 0: each peer gets a RST, and the rest is never sent.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 64
#define BUF_SIZE 16384

enum { C2S, S2C };              /* directions: client->server, server->client */
static const char *const dir_name[2] = {"client->server", "server->client"};

struct pipe_dir {
    char buf[BUF_SIZE];
    size_t len, off;            /* bytes held, of which off are written */
    uint64_t passed;            /* bytes written to the other side */
    bool eof;                   /* the source ended (or cut point reached): read no more */
    bool shut;                  /* the end passed on (shutdown SHUT_WR) */
};

struct conn {
    bool used;
    long num;                   /* 1, 2, ...: in the order accepted */
    int fd[2];                  /* [C2S] the client's, [S2C] the server's: the source of
                                 * that direction */
    bool connecting;            /* the server's connect() is under way */
    struct pipe_dir d[2];
    bool planned;               /* a cut is planned: at bytes in direction cut_dir */
    int cut_dir;
    uint64_t cut_at;
};

struct opts {
    int listen_port, to_port;
    uint64_t seed;
    long cuts;
    uint64_t min_bytes[2], max_bytes[2];   /* the cut points' range, by direction */
    const char *log;
};

static struct conn conns[MAX_CONNS];
static FILE *logf_;
static uint64_t rng;
static long accepted, plans, cuts_done, cuts_signal, missed, passed_whole, refused;

static void usage(FILE *f)
{
    fputs("Usage: tcpcut --listen PORT --to PORT [--seed N] [--cuts N]\n"
          "              [--min-bytes A] [--max-bytes B]\n"
          "              [--s2c-min-bytes A2] [--s2c-max-bytes B2] [--log FILE]\n"
          "\n"
          "A loopback TCP relay that cuts connections in the middle of their traffic (a test\n"
          "helper: tests/t_sync_cut.sh). It listens on 127.0.0.1:PORT and relays each\n"
          "connection it accepts to 127.0.0.1:TO, byte for byte, in both directions; it\n"
          "parses nothing (TLS passes through untouched: the client still verifies the\n"
          "server's certificate). An end of stream from one side is passed on to the other\n"
          "as a half-close once the bytes before it are written.\n"
          "\n"
          "Cuts: the first N connections each get a planned cut, drawn from a generator\n"
          "seeded with --seed (the same seed, the same plans): a direction, client->server or\n"
          "server->client, each as likely, and a byte count in [A, B] (in [A2, B2] for\n"
          "server->client when those are given). When that many bytes have been\n"
          "relayed in that direction, both sockets are closed with SO_LINGER 0 (each peer\n"
          "gets a RST) and the rest is never sent. A connection that ends before its cut\n"
          "point is counted as missed, and its plan is not reused. Connections after the\n"
          "first N pass untouched.\n"
          "\n"
          "  --listen PORT      the port to listen on (127.0.0.1)\n"
          "  --to PORT          the port to relay to (127.0.0.1)\n"
          "  --seed N           the plans' seed (default 1)\n"
          "  --cuts N           how many connections get a planned cut (default 20; 0: none)\n"
          "  --min-bytes A      the smallest cut point (default 1)\n"
          "  --max-bytes B      the largest cut point (default 65536)\n"
          "  --s2c-min-bytes A2, --s2c-max-bytes B2\n"
          "                     the range for server->client cuts (default: A and B; a\n"
          "                     server usually sends far fewer bytes than it receives)\n"
          "  --log FILE         append the lines below to FILE (default: standard error)\n"
          "  -h, --help         this help\n"
          "\n"
          "Lines (one each, flushed at once; T: seconds since it started listening):\n"
          "  tcpcut: T listening on 127.0.0.1:PORT, relaying to 127.0.0.1:TO\n"
          "  tcpcut: T conn K cut after B bytes client->server (X client->server, Y\n"
          "          server->client)                               a planned cut\n"
          "  tcpcut: T conn K cut by SIGUSR1 (X client->server, Y server->client)\n"
          "  tcpcut: T conn K ended before its cut (planned at B bytes DIRECTION; X, Y)\n"
          "  tcpcut: T connection K refused: WHY     (no slot, or the server refused it)\n"
          "  tcpcut: T done: A connections, C cuts (P planned, S by SIGUSR1), M missed,\n"
          "          W passed whole, R refused                      on SIGTERM or SIGINT\n"
          "\n"
          "Signals: SIGUSR1 cuts every open connection now (SO_LINGER 0, as a planned cut);\n"
          "SIGTERM or SIGINT print the summary and exit 0.\n"
          "\n"
          "Exit status: 0 on SIGTERM or SIGINT, 1 when it cannot listen, 2 on bad usage.\n", f);
}

__attribute__((format(printf, 1, 2)))
static void say(const char *fmt, ...)
{
    static struct timespec t0;
    struct timespec t;
    va_list ap;

    clock_gettime(CLOCK_MONOTONIC, &t);
    if (!t0.tv_sec && !t0.tv_nsec)
        t0 = t;
    fprintf(logf_, "tcpcut: %8.3f ", (double)(t.tv_sec - t0.tv_sec) +
            (double)(t.tv_nsec - t0.tv_nsec) / 1e9);
    va_start(ap, fmt);
    vfprintf(logf_, fmt, ap);
    va_end(ap);
    fputc('\n', logf_);
    fflush(logf_);
}

/* splitmix64: small, and the same numbers on every machine for a seed. */
static uint64_t next_random(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15u);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static int parse_number(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    unsigned long long v;

    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"listen", required_argument, NULL, 'l'}, {"to", required_argument, NULL, 't'},
        {"seed", required_argument, NULL, 's'}, {"cuts", required_argument, NULL, 'n'},
        {"min-bytes", required_argument, NULL, 'a'}, {"max-bytes", required_argument, NULL, 'b'},
        {"s2c-min-bytes", required_argument, NULL, 'A'},
        {"s2c-max-bytes", required_argument, NULL, 'B'},
        {"log", required_argument, NULL, 'L'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    uint64_t v;
    int ch;

    uint64_t s2c_min = 0, s2c_max = 0;

    *o = (struct opts){.seed = 1, .cuts = 20, .min_bytes = {1, 0}, .max_bytes = {65536, 0}};
    while ((ch = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        if (ch == 'h') {
            usage(stdout);
            exit(0);
        }
        if (ch == 'L') {
            o->log = optarg;
            continue;
        }
        if (ch == '?' || parse_number(optarg, ch == 'l' || ch == 't' ? 65535 : INT64_MAX,
                                      &v) != 0) {
            if (ch != '?')
                fprintf(stderr, "tcpcut: %s: not a number in range\n", optarg);
            return 2;
        }
        switch (ch) {
        case 'l': o->listen_port = (int)v; break;
        case 't': o->to_port = (int)v; break;
        case 's': o->seed = v; break;
        case 'n': o->cuts = (long)v; break;
        case 'a': o->min_bytes[C2S] = v; break;
        case 'b': o->max_bytes[C2S] = v; break;
        case 'A': s2c_min = v; break;
        case 'B': s2c_max = v; break;
        default: return 2;
        }
    }
    o->min_bytes[S2C] = s2c_min ? s2c_min : o->min_bytes[C2S];
    o->max_bytes[S2C] = s2c_max ? s2c_max : o->max_bytes[C2S];
    for (int k = 0; k < 2; k++)
        if (o->min_bytes[k] < 1 || o->max_bytes[k] < o->min_bytes[k]) {
            fputs("tcpcut: 1 <= --min-bytes <= --max-bytes (and the same for --s2c-...)\n",
                  stderr);
            return 2;
        }
    if (optind != argc || !o->listen_port || !o->to_port) {
        fputs("tcpcut: --listen PORT and --to PORT are needed (tcpcut --help)\n", stderr);
        return 2;
    }
    return 0;
}

static int nonblocking(int fd)
{
    int fl = fcntl(fd, F_GETFL);

    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static struct sockaddr_in loopback(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* Close a socket with a RST (SO_LINGER 0), or quietly (-1: nothing open). */
static void close_abruptly(int fd)
{
    struct linger l = {.l_onoff = 1, .l_linger = 0};

    if (fd < 0)
        return;
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    close(fd);
}

static void drop(struct conn *c, bool abrupt)
{
    for (int i = 0; i < 2; i++) {
        if (abrupt)
            close_abruptly(c->fd[i]);
        else if (c->fd[i] >= 0)
            close(c->fd[i]);
    }
    c->used = false;
}

/* The connection ended (an end of stream both ways, or a peer's error) before any cut. */
static void ended(struct conn *c, bool abrupt)
{
    if (c->planned) {
        missed++;
        say("conn %ld ended before its cut (planned at %llu bytes %s; %llu client->server, "
            "%llu server->client)", c->num, (unsigned long long)c->cut_at,
            dir_name[c->cut_dir], (unsigned long long)c->d[C2S].passed,
            (unsigned long long)c->d[S2C].passed);
    } else {
        passed_whole++;
    }
    drop(c, abrupt);
}

static void cut(struct conn *c, bool by_signal)
{
    if (by_signal) {
        cuts_signal++;
        say("conn %ld cut by SIGUSR1 (%llu client->server, %llu server->client)", c->num,
            (unsigned long long)c->d[C2S].passed, (unsigned long long)c->d[S2C].passed);
    } else {
        cuts_done++;
        say("conn %ld cut after %llu bytes %s (%llu client->server, %llu server->client)",
            c->num, (unsigned long long)c->cut_at, dir_name[c->cut_dir],
            (unsigned long long)c->d[C2S].passed, (unsigned long long)c->d[S2C].passed);
    }
    drop(c, true);
}

static void accept_one(int lfd, const struct opts *o)
{
    struct sockaddr_in to = loopback(o->to_port);
    struct conn *c = NULL;
    int cfd = accept(lfd, NULL, NULL), sfd;

    if (cfd < 0)
        return;
    for (int i = 0; i < MAX_CONNS && !c; i++)
        if (!conns[i].used)
            c = &conns[i];
    sfd = c ? socket(AF_INET, SOCK_STREAM, 0) : -1;
    if (!c || sfd < 0 || nonblocking(cfd) != 0 || nonblocking(sfd) != 0 ||
        (connect(sfd, (struct sockaddr *)&to, sizeof to) != 0 && errno != EINPROGRESS)) {
        refused++;
        say("connection %ld refused: %s", accepted + 1, c ? strerror(errno)
                                                           : "too many open connections");
        close_abruptly(cfd);
        if (sfd >= 0)
            close(sfd);
        return;
    }
    *c = (struct conn){.used = true, .num = ++accepted, .fd = {cfd, sfd}, .connecting = true};
    if (plans < o->cuts) {
        plans++;
        c->planned = true;
        c->cut_dir = (int)(next_random() & 1);
        c->cut_at = o->min_bytes[c->cut_dir] +
                    next_random() % (o->max_bytes[c->cut_dir] - o->min_bytes[c->cut_dir] + 1);
    }
}

/* The bytes direction k may still read: its buffer's room, and no further than a cut. */
static size_t room(const struct conn *c, int k)
{
    const struct pipe_dir *d = &c->d[k];
    size_t r = d->len ? 0 : BUF_SIZE;   /* read only into an empty buffer: simple, and
                                         * the writes keep up on loopback */

    if (c->planned && c->cut_dir == k) {
        uint64_t left = c->cut_at - d->passed;
        if (left < r)
            r = (size_t)left;
    }
    return r;
}

/* Move what can move in direction k (0: go on, -1: the connection is gone). */
static int pump(struct conn *c, int k, short src_ev, short dst_ev)
{
    struct pipe_dir *d = &c->d[k];
    int src = c->fd[k], dst = c->fd[!k];
    ssize_t n;

    if ((src_ev & (POLLIN | POLLHUP | POLLERR)) && !d->eof && room(c, k) > 0) {
        n = recv(src, d->buf, room(c, k), 0);
        if (n > 0) {
            d->len = (size_t)n;
            d->off = 0;
        } else if (n == 0) {
            d->eof = true;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            ended(c, true);                     /* a peer's RST: pass it on */
            return -1;
        }
    }
    if (d->off < d->len && (dst_ev & (POLLOUT | POLLERR | POLLHUP))) {
        n = send(dst, d->buf + d->off, d->len - d->off, MSG_NOSIGNAL);
        if (n > 0) {
            d->off += (size_t)n;
            d->passed += (uint64_t)n;
            if (d->off == d->len)
                d->len = d->off = 0;
        } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            ended(c, true);
            return -1;
        }
    }
    if (c->planned && c->cut_dir == k && d->passed >= c->cut_at) {
        cut(c, false);
        return -1;
    }
    if (d->eof && d->len == 0 && !d->shut) {
        shutdown(dst, SHUT_WR);
        d->shut = true;
    }
    return 0;
}

static void service(struct conn *c, const struct pollfd *p)
{
    if (c->connecting) {
        int e = 0;
        socklen_t el = sizeof e;

        if (!(p[1].revents & (POLLOUT | POLLERR | POLLHUP)))
            return;
        if (getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &e, &el) != 0 || e != 0) {
            refused++;
            say("connection %ld refused: %s", c->num, strerror(e ? e : errno));
            drop(c, true);
            return;
        }
        c->connecting = false;
        return;
    }
    if (pump(c, C2S, p[0].revents, p[1].revents) != 0 ||
        pump(c, S2C, p[1].revents, p[0].revents) != 0)
        return;
    if (c->d[C2S].shut && c->d[S2C].shut)
        ended(c, false);
}

/* The events to wait for on each side of c: [0] the client's socket, [1] the server's. */
static void events(const struct conn *c, struct pollfd *p)
{
    p[0] = (struct pollfd){.fd = c->fd[0]};
    p[1] = (struct pollfd){.fd = c->fd[1]};
    if (c->connecting) {
        p[0].fd = -1;
        p[1].events = POLLOUT;
        return;
    }
    for (int k = 0; k < 2; k++) {
        if (!c->d[k].eof && room(c, k) > 0)
            p[k].events |= POLLIN;
        if (c->d[k].len > c->d[k].off)
            p[!k].events |= POLLOUT;
    }
    /* A side waited on for nothing is left out: its POLLHUP (the peer gone both ways)
     * would end every poll at once while the other side's writes catch up. */
    for (int k = 0; k < 2; k++)
        if (!p[k].events)
            p[k].fd = -1;
}

static int listen_on(int port)
{
    struct sockaddr_in a = loopback(port);
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 64) != 0 ||
        nonblocking(fd) != 0) {
        fprintf(stderr, "tcpcut: 127.0.0.1:%d: %s\n", port, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int main(int argc, char **argv)
{
    struct pollfd p[2 + 2 * MAX_CONNS];
    struct opts o;
    sigset_t sigs;
    int lfd, sfd, rc = parse_args(argc, argv, &o);

    if (rc)
        return rc;
    logf_ = o.log ? fopen(o.log, "a") : stderr;
    if (!logf_) {
        fprintf(stderr, "tcpcut: %s: %s\n", o.log, strerror(errno));
        return 1;
    }
    rng = o.seed;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    if ((sfd = signalfd(-1, &sigs, SFD_NONBLOCK)) < 0 || (lfd = listen_on(o.listen_port)) < 0)
        return 1;
    say("listening on 127.0.0.1:%d, relaying to 127.0.0.1:%d (seed %llu, %ld cuts: "
        "client->server in [%llu, %llu] bytes, server->client in [%llu, %llu])",
        o.listen_port, o.to_port, (unsigned long long)o.seed, o.cuts,
        (unsigned long long)o.min_bytes[C2S], (unsigned long long)o.max_bytes[C2S],
        (unsigned long long)o.min_bytes[S2C], (unsigned long long)o.max_bytes[S2C]);
    for (;;) {
        struct signalfd_siginfo si;
        int n = 2;

        p[0] = (struct pollfd){.fd = sfd, .events = POLLIN};
        p[1] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (int i = 0; i < MAX_CONNS; i++)
            if (conns[i].used) {
                events(&conns[i], &p[n]);
                n += 2;
            }
        if (poll(p, (nfds_t)n, -1) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "tcpcut: poll: %s\n", strerror(errno));
            return 1;
        }
        n = 2;
        for (int i = 0; i < MAX_CONNS; i++)
            if (conns[i].used) {
                service(&conns[i], &p[n]);  /* a slot freed here is not reused before the
                                             * next poll: accept_one runs below */
                n += 2;
            }
        if (p[1].revents & POLLIN)
            accept_one(lfd, &o);
        while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            if (si.ssi_signo == SIGUSR1) {
                for (int i = 0; i < MAX_CONNS; i++)
                    if (conns[i].used)
                        cut(&conns[i], true);
                continue;
            }
            for (int i = 0; i < MAX_CONNS; i++)
                if (conns[i].used)
                    drop(&conns[i], false);
            say("done: %ld connections, %ld cuts (%ld planned, %ld by SIGUSR1), %ld missed, "
                "%ld passed whole, %ld refused", accepted, cuts_done + cuts_signal, cuts_done,
                cuts_signal, missed, passed_whole, refused);
            return 0;
        }
    }
}
