/* ctlconn.c - a client's connection to eccd's control socket (see ctlconn.h). */
#include "client/ctlconn.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static double mono_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool stopped(const struct ctlconn *c)
{
    return c->stop && *c->stop;
}

/* Wait until the socket is ready for events, at most timeout_s. 0, or -1 with errno
 * ETIMEDOUT, or EINTR when stopped. */
static int wait_fd(const struct ctlconn *c, short events)
{
    double deadline = mono_now() + c->timeout_s;

    for (;;) {
        struct pollfd p = {.fd = c->fd, .events = events};
        double left = deadline - mono_now();
        int k;

        if (stopped(c)) {
            errno = EINTR;
            return -1;
        }
        if (left <= 0.0) {
            errno = ETIMEDOUT;
            return -1;
        }
        k = poll(&p, 1, (int)ceil(left * 1000.0));
        if (k > 0)
            return 0;           /* ready, or an error/hang-up the next call will report */
        if (k < 0 && errno != EINTR)
            return -1;
    }
}

void ctlconn_init(struct ctlconn *c, const char *path, double timeout_s, size_t limit)
{
    memset(c, 0, sizeof *c);
    c->fd = -1;
    c->path = path;
    c->from = "";
    c->timeout_s = timeout_s;
    c->limit = limit;
}

/* Close the socket keeping errno. Returns -1. */
static int fail_closed(struct ctlconn *c)
{
    int err = errno;

    close(c->fd);
    c->fd = -1;
    errno = err;
    return -1;
}

int ctlconn_open(struct ctlconn *c)
{
    struct sockaddr_un sa;
    double deadline = mono_now() + c->timeout_s;
    int err;
    socklen_t elen = sizeof err;

    if (strlen(c->path) >= sizeof sa.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, c->path, strlen(c->path) + 1);
    c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->fd < 0)
        return -1;
    for (;;) {
        if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            return 0;
        if (errno == EINTR && !stopped(c))
            continue;
        if (errno == EAGAIN && mono_now() < deadline && !stopped(c)) {  /* backlog full */
            nanosleep(&(struct timespec){.tv_nsec = 20000000}, NULL);
            continue;
        }
        if (errno == EAGAIN) {
            errno = ETIMEDOUT;
        } else if (errno == EINPROGRESS) {
            if (wait_fd(c, POLLOUT) == 0 &&
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) == 0) {
                if (err == 0)
                    return 0;
                errno = err;
            }
        }
        return fail_closed(c);
    }
}

int ctlconn_send(struct ctlconn *c, const char *buf, size_t len)
{
    while (len) {
        ssize_t k = send(c->fd, buf, len, MSG_NOSIGNAL);

        if (k > 0) {
            buf += k;
            len -= (size_t)k;
        } else if (k < 0 && errno == EINTR && !stopped(c)) {
            continue;
        } else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (wait_fd(c, POLLOUT) != 0)
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

int ctlconn_fill(struct ctlconn *c)
{
    for (;;) {
        ssize_t k;

        if (c->cap - c->len < 4096) {
            size_t cap = c->cap ? c->cap * 2 : 65536;
            char *p;
            if (cap > c->limit) {
                errno = EMSGSIZE;
                return -1;
            }
            if (!(p = realloc(c->buf, cap)))
                return -1;
            c->buf = p;
            c->cap = cap;
        }
        if (wait_fd(c, POLLIN) != 0)
            return -1;
        k = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
        if (k > 0) {
            c->len += (size_t)k;
            return 0;
        }
        if (k == 0)
            return 1;
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
            return -1;
    }
}

int ctlconn_recv_line(struct ctlconn *c, size_t *line_len)
{
    size_t scanned = 0;

    for (;;) {
        char *nl = c->len ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;
        int rc;

        if (nl) {
            *line_len = (size_t)(nl - c->buf);
            return 0;
        }
        scanned = c->len;
        if ((rc = ctlconn_fill(c)) != 0)
            return rc;
    }
}

void ctlconn_drop(struct ctlconn *c, size_t n)
{
    n = n <= c->len ? n : c->len;
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

void ctlconn_consume(struct ctlconn *c, size_t line_len)
{
    ctlconn_drop(c, line_len + 1);
}

void ctlconn_close(struct ctlconn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->cap = 0;
}
