/* simwire.c - eccsim's RS-485 wire on a pseudo-terminal (see simwire.h). */
#define _GNU_SOURCE                  /* ppoll; posix_openpt, grantpt, unlockpt, ptsname */
#include "sim/simwire.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

#define MIN_SILENCE_S 0.010          /* s, resync gap (3.5 chars is less above 3600 baud,
                                        but the scheduler's jitter is not) */
#define INQ 8                        /* request frames in flight on the wire */
#define TXQ 1024                     /* reply bytes queued for the wire */

/* ---- arithmetic -------------------------------------------------------------------- */

int simwire_bits_per_byte(int data_bits, enum cfg_parity parity, int stop_bits)
{
    return 1 + data_bits + (parity != CFG_PARITY_NONE ? 1 : 0) + stop_bits;
}

double simwire_byte_s(int baud, int bits_per_byte)
{
    return baud > 0 ? (double)bits_per_byte / (double)baud : 0.0;
}

int simwire_request_length(const uint8_t *buf, size_t n)
{
    if (n < 2)
        return 0;
    switch (buf[1]) {
    case 0x01: case 0x02: case 0x03: case 0x04: case 0x05: case 0x06:
        return 8;                    /* unit fc addr(2) count/value(2) crc(2) */
    case 0x07: case 0x0B: case 0x0C: case 0x11:
        return 4;                    /* unit fc crc(2) */
    case 0x16:
        return 10;                   /* unit fc addr(2) and(2) or(2) crc(2) */
    case 0x0F: case 0x10:            /* unit fc addr(2) count(2) bytes(1) data crc(2) */
        return n < 7 ? 0 : 9 + buf[6];
    case 0x17:                       /* unit fc raddr rcount waddr wcount bytes data crc */
        return n < 11 ? 0 : 13 + buf[10];
    default:
        return -1;
    }
}

uint16_t simwire_crc16(const uint8_t *buf, size_t n)
{
    uint16_t crc = 0xFFFF;

    for (size_t i = 0; i < n; i++) {
        crc ^= buf[i];
        for (int b = 0; b < 8; b++)
            crc = (crc & 1u) ? (uint16_t)((crc >> 1) ^ 0xA001u) : (uint16_t)(crc >> 1);
    }
    return crc;
}

/* ---- the pseudo-terminal ----------------------------------------------------------- */

static int raw_mode(int fd)
{
    struct termios tio;

    if (tcgetattr(fd, &tio) != 0)
        return -1;
    cfmakeraw(&tio);
    tio.c_cflag |= CLOCAL | CREAD;
    tio.c_cc[VMIN] = 1;
    tio.c_cc[VTIME] = 0;
    return tcsetattr(fd, TCSANOW, &tio);
}

int simwire_open_pty(char *path, size_t pathlen, int *slave_fd, char *err, size_t errlen)
{
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    const char *name;

    if (m < 0) {
        snprintf(err, errlen, "cannot open a pseudo-terminal: %s", strerror(errno));
        return -1;
    }
    name = grantpt(m) == 0 && unlockpt(m) == 0 ? ptsname(m) : NULL;
    if (!name || strlen(name) >= pathlen) {
        snprintf(err, errlen, "cannot set up the pseudo-terminal: %s", strerror(errno));
        close(m);
        return -1;
    }
    snprintf(path, pathlen, "%s", name);
    *slave_fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (*slave_fd < 0 || raw_mode(*slave_fd) != 0 || raw_mode(m) != 0 ||
        fcntl(m, F_SETFL, fcntl(m, F_GETFL) | O_NONBLOCK) != 0 ||
        fcntl(m, F_SETFD, FD_CLOEXEC) != 0) {
        snprintf(err, errlen, "cannot set %s to raw mode: %s", path, strerror(errno));
        if (*slave_fd >= 0)
            close(*slave_fd);
        close(m);
        return -1;
    }
    return m;
}

/* ---- the wire thread --------------------------------------------------------------- */

struct frame {
    uint8_t b[SIMWIRE_FRAME_MAX];
    size_t n;
    double due;                      /* s, when its last byte has crossed the wire */
};

struct wire {
    const struct simwire_opts *o;
    uint8_t rx[2 * SIMWIRE_FRAME_MAX];   /* bytes from the master not yet framed */
    size_t rx_n;
    double t_rx_last;                /* s, when the last of them arrived */
    double rx_busy_until;            /* s, the inbound wire is busy until then */
    struct frame inq[INQ];
    int in_head, in_n;
    uint8_t tx[TXQ];                 /* reply bytes, oldest at tx_head */
    size_t tx_head, tx_n;
    double tx_next;                  /* s, when the next reply byte has crossed the wire */
};

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wire_time(const struct wire *w, size_t bytes)
{
    return w->o->pace ? (double)bytes * w->o->byte_s : 0.0;
}

/* A whole request frame has come in: queue it until its bytes would have arrived. */
static void enqueue_request(struct wire *w, const uint8_t *b, size_t n, double now)
{
    struct frame *f;

    if (w->in_n == INQ) {
        log_warn("rtu: request frames queue full, one dropped");
        return;
    }
    f = &w->inq[(w->in_head + w->in_n++) % INQ];
    memcpy(f->b, b, n);
    f->n = n;
    f->due = fmax(now, w->rx_busy_until) + wire_time(w, n);
    w->rx_busy_until = f->due;
}

static void drop_rx(struct wire *w, size_t n)
{
    memmove(w->rx, w->rx + n, w->rx_n - n);
    w->rx_n -= n;
}

static void frame_rx(struct wire *w, double now)
{
    for (;;) {
        int len = w->o->frame_length ? w->o->frame_length(w->rx, w->rx_n)
                                     : simwire_request_length(w->rx, w->rx_n);

        if (len <= 0 || len > SIMWIRE_FRAME_MAX || (size_t)len > w->rx_n)
            return;                  /* need more bytes, or garbage left to the silence */
        enqueue_request(w, w->rx, (size_t)len, now);
        drop_rx(w, (size_t)len);
    }
}

static void read_master(struct wire *w, double now)
{
    ssize_t r;

    if (w->rx_n == sizeof w->rx)
        w->rx_n = 0;                 /* nothing framed in a whole buffer: garbage */
    r = read(w->o->master, w->rx + w->rx_n, sizeof w->rx - w->rx_n);
    if (r <= 0)
        return;
    w->rx_n += (size_t)r;
    w->t_rx_last = now;
    frame_rx(w, now);
}

static void write_all(int fd, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t r = write(fd, b, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return;                  /* a unit server that went away: nothing to do */
        b += r;
        n -= (size_t)r;
    }
}

/* Hand due frames to the unit they name (unit 0, broadcast: every unit). */
static void deliver_due(struct wire *w, double now)
{
    while (w->in_n > 0 && w->inq[w->in_head].due <= now) {
        const struct frame *f = &w->inq[w->in_head];

        for (int i = 0; i < w->o->nports; i++)
            if (f->b[0] == 0 || f->b[0] == w->o->port[i].unit)
                write_all(w->o->port[i].fd, f->b, f->n);
        w->in_head = (w->in_head + 1) % INQ;
        w->in_n--;
    }
}

static void read_port(struct wire *w, const struct simwire_port *p, double now)
{
    uint8_t b[SIMWIRE_FRAME_MAX + 8];
    ssize_t r = read(p->fd, b, sizeof b);

    if (r <= 0)
        return;
    if (w->o->corrupt && w->o->corrupt(w->o->ctx, p->unit))
        b[r - 1] ^= 0xFF;            /* the CRC's high byte */
    if (w->tx_n == 0)
        w->tx_next = fmax(now, w->tx_next) + wire_time(w, 1);
    for (ssize_t i = 0; i < r && w->tx_n < TXQ; i++)
        w->tx[(w->tx_head + w->tx_n++) % TXQ] = b[i];
}

/* Put out every reply byte whose time has come, in one write. */
static void send_due(struct wire *w, double now)
{
    uint8_t out[TXQ];
    size_t k = 0;

    while (w->tx_n > 0 && (w->tx_next <= now || !w->o->pace)) {
        out[k++] = w->tx[w->tx_head];
        w->tx_head = (w->tx_head + 1) % TXQ;
        w->tx_n--;
        if (w->tx_n > 0)
            w->tx_next += wire_time(w, 1);
    }
    if (k > 0 && write(w->o->master, out, k) < 0 && errno != EAGAIN)
        log_debug("rtu: write to the pty: %s", strerror(errno));
}

static double silence_s(const struct wire *w)
{
    return fmax(MIN_SILENCE_S, 3.5 * w->o->byte_s);
}

/* Bytes that never made a frame are dropped after a silence, as a slave resyncs. */
static void resync(struct wire *w, double now)
{
    if (w->rx_n > 0 && now - w->t_rx_last >= silence_s(w)) {
        log_debug("rtu: dropped %zu bytes that made no frame", w->rx_n);
        w->rx_n = 0;
    }
}

/* s, when the earliest thing is due (INFINITY: nothing). */
static double next_due(const struct wire *w)
{
    double due = INFINITY;

    if (w->in_n > 0)
        due = w->inq[w->in_head].due;
    if (w->tx_n > 0)
        due = fmin(due, w->tx_next);
    if (w->rx_n > 0)
        due = fmin(due, w->t_rx_last + silence_s(w));
    return due;
}

/* Wait for input or until `wait` s have passed (ppoll: a 1 ms tick is too coarse for a
 * byte at 115200 baud). */
static int wait_events(struct pollfd *fds, int n, double wait)
{
    struct timespec ts;

    if (isinf(wait))
        return ppoll(fds, (nfds_t)n, NULL, NULL);
    wait = fmax(0.0, wait);
    ts.tv_sec = (time_t)wait;
    ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
    return ppoll(fds, (nfds_t)n, &ts, NULL);
}

/* A descriptor that hung up is left out of later polls (it would wake us at once). */
static bool readable(struct pollfd *p)
{
    if (p->revents & (POLLHUP | POLLERR | POLLNVAL) && !(p->revents & POLLIN))
        p->fd = -1;
    return p->revents & POLLIN;
}

void *simwire_thread(void *arg)
{
    const struct simwire_opts *o = arg;
    struct wire *w = calloc(1, sizeof *w);
    struct pollfd fds[2 + SIMWIRE_PORTS];
    int n = 2 + o->nports;

    if (!w) {
        log_error("rtu: out of memory");
        return NULL;
    }
    w->o = o;
    fds[0] = (struct pollfd){.fd = o->stop_fd, .events = POLLIN};
    fds[1] = (struct pollfd){.fd = o->master, .events = POLLIN};
    for (int i = 0; i < o->nports; i++)
        fds[2 + i] = (struct pollfd){.fd = o->port[i].fd, .events = POLLIN};
    for (;;) {
        double now = mono_s();

        deliver_due(w, now);
        send_due(w, now);
        resync(w, now);
        if (wait_events(fds, n, next_due(w) - now) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        now = mono_s();
        if (fds[0].revents)
            break;
        if (readable(&fds[1]))
            read_master(w, now);
        for (int i = 0; i < o->nports; i++)
            if (readable(&fds[2 + i]))
                read_port(w, &o->port[i], now);
    }
    free(w);
    return NULL;
}
