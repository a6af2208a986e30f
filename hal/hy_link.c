/* hy_link.c - one serial line to a Huanyang HY drive (see hy_link.h). */
#include "hal/hy_link.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

enum failure_kind { FAIL_NONE, FAIL_LINK, FAIL_TIMEOUT, FAIL_BAD_FRAME, FAIL_REFUSED };

struct hy_link {
    struct hy_link_params p;
    speed_t speed;
    int fd;                      /* -1: not open */
    bool lost;                   /* a port was open and failed: the next open is a reconnect */
    struct timespec last_end;    /* CLOCK_MONOTONIC, end of the last attempt */
    char last_error[320];
};

/* ---- the port ---------------------------------------------------------------------- */

static speed_t speed_of(int baud)
{
    static const struct {
        int baud;
        speed_t speed;
    } rates[] = {
        {1200, B1200}, {2400, B2400}, {4800, B4800}, {9600, B9600}, {19200, B19200},
        {38400, B38400}, {57600, B57600}, {115200, B115200}, {230400, B230400},
        {460800, B460800}, {921600, B921600},
    };

    for (size_t i = 0; i < sizeof rates / sizeof rates[0]; i++)
        if (rates[i].baud == baud)
            return rates[i].speed;
    return B0;
}

static int check_params(const struct hy_link_params *p, char *err, size_t errlen)
{
    if (p->device[0] == '\0') {
        snprintf(err, errlen, "hy link: no serial device");
        return -1;
    }
    if (speed_of(p->baud) == B0) {
        snprintf(err, errlen, "hy link: %d baud is not a rate the serial port has (allowed: "
                 "4800, 9600, 19200, 38400 for the HY's PD164; 1200 to 921600 standard rates)",
                 p->baud);
        return -1;
    }
    if ((p->parity != 'N' && p->parity != 'E' && p->parity != 'O') ||
        (p->data_bits != 7 && p->data_bits != 8) || (p->stop_bits != 1 && p->stop_bits != 2)) {
        snprintf(err, errlen, "hy link: framing %d%c%d is not possible", p->data_bits,
                 p->parity, p->stop_bits);
        return -1;
    }
    if (p->timeout_ms < 1 || p->min_gap_ms < 0 || p->retries < 0) {
        snprintf(err, errlen, "hy link: bad timing (timeout %d ms, gap %d ms, retries %d)",
                 p->timeout_ms, p->min_gap_ms, p->retries);
        return -1;
    }
    return 0;
}

struct hy_link *hy_link_open(const struct hy_link_params *p, char *err, size_t errlen)
{
    if (check_params(p, err, errlen) < 0)
        return NULL;
    struct hy_link *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "hy link: out of memory");
        return NULL;
    }
    l->p = *p;
    l->speed = speed_of(p->baud);
    l->fd = -1;
    clock_gettime(CLOCK_MONOTONIC, &l->last_end);
    return l;
}

static int configure(const struct hy_link *l, int fd)
{
    struct termios tio;

    if (tcgetattr(fd, &tio) != 0)
        return -1;
    cfmakeraw(&tio);
    tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS);
    tio.c_cflag |= CLOCAL | CREAD | (l->p.data_bits == 7 ? CS7 : CS8);
    if (l->p.parity != 'N')
        tio.c_cflag |= PARENB | (l->p.parity == 'O' ? PARODD : 0);
    if (l->p.stop_bits == 2)
        tio.c_cflag |= CSTOPB;
    tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY);
    tio.c_cc[VMIN] = 0;
    tio.c_cc[VTIME] = 0;
    if (cfsetispeed(&tio, l->speed) != 0 || cfsetospeed(&tio, l->speed) != 0)
        return -1;
    return tcsetattr(fd, TCSANOW, &tio);
}

static void disconnect(struct hy_link *l)
{
    if (l->fd >= 0) {
        close(l->fd);
        l->fd = -1;
        l->lost = true;
    }
}

static int ensure_open(struct hy_link *l, struct modbus_counters *c)
{
    if (l->fd >= 0)
        return 0;
    int fd = open(l->p.device, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return -1;
    if (configure(l, fd) != 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    l->fd = fd;
    if (l->lost) {
        c->reconnects++;
        l->lost = false;
    }
    return 0;
}

void hy_link_close(struct hy_link *l)
{
    if (!l)
        return;
    if (l->fd >= 0)
        close(l->fd);
    free(l);
}

/* ---- pacing ------------------------------------------------------------------------ */

static void wait_gap(const struct hy_link *l)
{
    if (l->p.min_gap_ms <= 0)
        return;
    struct timespec due = l->last_end;
    due.tv_nsec += (long)l->p.min_gap_ms * 1000000L;
    due.tv_sec += due.tv_nsec / 1000000000L;
    due.tv_nsec %= 1000000000L;
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL) == EINTR)
        ;
}

static void mark_end(struct hy_link *l)
{
    clock_gettime(CLOCK_MONOTONIC, &l->last_end);
}

/* ---- one attempt ------------------------------------------------------------------- */

/* 1 when fd is ready for events within ms, 0 on time-out, -1 on error (errno). */
static int wait_fd(int fd, short events, int ms)
{
    struct pollfd p = {.fd = fd, .events = events};
    int rc;

    while ((rc = poll(&p, 1, ms)) < 0 && errno == EINTR)
        ;
    if (rc > 0 && (p.revents & (POLLERR | POLLNVAL | POLLHUP)) && !(p.revents & events)) {
        errno = EIO;             /* the adapter went away */
        return -1;
    }
    return rc;
}

static int write_all(struct hy_link *l, const uint8_t *b, size_t n)
{
    while (n > 0) {
        ssize_t r = write(l->fd, b, n);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
            int w = wait_fd(l->fd, POLLOUT, l->p.timeout_ms);
            if (w == 0)
                errno = ETIMEDOUT;
            if (w <= 0)
                return -1;
            continue;
        }
        if (r <= 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Bytes until the frame's length is known and all of it is in (or the time is up: -1
 * ETIMEDOUT, *n the bytes that did come). An impossible start (an unknown function, a bad
 * length) ends the read at once: the check says what is wrong with it. */
static int read_frame(struct hy_link *l, uint8_t *b, size_t *n)
{
    int want = 0;

    *n = 0;
    while (want <= 0 || *n < (size_t)want) {
        int w = wait_fd(l->fd, POLLIN, l->p.timeout_ms);
        if (w <= 0) {
            if (w == 0)
                errno = ETIMEDOUT;
            return -1;
        }
        size_t room = want > 0 ? (size_t)want - *n : HY_FRAME_MAX - *n;
        ssize_t r = read(l->fd, b + *n, room);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO;     /* hang-up */
            return -1;
        }
        *n += (size_t)r;
        want = hy_frame_length(b, *n);
        if (want < 0 || (want == 0 && *n == HY_FRAME_MAX))
            break;
    }
    return 0;
}

/* The kind of a failed attempt, from errno and the reply check. */
static enum failure_kind attempt(struct hy_link *l, const struct hy_request *rq,
                                 struct hy_reply *rp, struct modbus_counters *c,
                                 enum hy_check *check)
{
    uint8_t q[HY_FRAME_MAX], b[HY_FRAME_MAX];
    size_t qn = hy_encode_request(rq, q), n = 0;

    *check = HY_OK;
    if (ensure_open(l, c) < 0)
        return FAIL_LINK;
    wait_gap(l);
    tcflush(l->fd, TCIFLUSH);    /* a late answer to an earlier request is not this one's */
    int rc = write_all(l, q, qn) == 0 ? read_frame(l, b, &n) : -1;
    int saved = errno;
    mark_end(l);
    if (rc < 0) {
        *check = n > 0 ? HY_SHORT : HY_OK;
        errno = saved;
        return saved == ETIMEDOUT ? FAIL_TIMEOUT : FAIL_LINK;
    }
    *check = hy_check_reply(rq, b, n, rp);
    if (*check == HY_OK)
        return FAIL_NONE;
    if (*check == HY_REFUSED) {
        errno = EPROTO;
        return FAIL_REFUSED;
    }
    errno = EBADMSG;
    return FAIL_BAD_FRAME;
}

/* ---- classification and counting --------------------------------------------------- */

bool hy_link_is_refusal(int err)
{
    return err == EPROTO;
}

const char *hy_link_last_error(const struct hy_link *l)
{
    return l->last_error;
}

static void note_failure(struct hy_link *l, struct modbus_counters *c, enum failure_kind kind,
                         enum hy_check check, int err, const struct hy_reply *rp)
{
    c->last_errno = err;
    switch (kind) {
    case FAIL_LINK:
        c->link_errors++;
        snprintf(l->last_error, sizeof l->last_error, "%s: %s", l->p.device, strerror(err));
        disconnect(l);       /* opened again on the next attempt */
        break;
    case FAIL_TIMEOUT:
        c->timeouts++;
        snprintf(l->last_error, sizeof l->last_error, "no %sanswer within %d ms",
                 check == HY_SHORT ? "complete " : "", l->p.timeout_ms);
        tcflush(l->fd, TCIFLUSH);
        break;
    case FAIL_BAD_FRAME:
        c->bad_frames++;
        snprintf(l->last_error, sizeof l->last_error, "bad frame: %s", hy_check_name(check));
        tcflush(l->fd, TCIFLUSH);
        break;
    case FAIL_NONE:
        break;
    case FAIL_REFUSED:
        c->exceptions++;
        snprintf(l->last_error, sizeof l->last_error, "refused (function 0x%02x, code %u)",
                 rp->fn, rp->refusal);
        break;
    }
}

static void count_transaction(struct modbus_counters *c, bool ok)
{
    if (ok) {
        c->tx_ok++;
        c->consecutive_failures = 0;
        if (c->consecutive_ok < 1000000000)
            c->consecutive_ok++;
        c->healthy = c->consecutive_ok >= c->healthy_after;
    } else {
        c->tx_failed++;
        c->consecutive_ok = 0;
        if (c->consecutive_failures < 1000000000)
            c->consecutive_failures++;
        c->healthy = false;
    }
}

int hy_link_transact(struct hy_link *l, const struct hy_request *rq, struct hy_reply *rp,
                     struct modbus_counters *c)
{
    int err = 0;

    for (int i = 0; i <= l->p.retries; i++) {
        enum hy_check check;
        enum failure_kind kind = attempt(l, rq, rp, c, &check);
        if (kind == FAIL_NONE) {
            count_transaction(c, true);
            return 0;
        }
        err = errno;
        note_failure(l, c, kind, check, err, rp);
        if (kind == FAIL_REFUSED)
            break;               /* the same request gets the same answer */
    }
    count_transaction(c, false);
    errno = err;
    return -1;
}
