/* ctlconn.h - a client's connection to eccd's control socket (docs/socket.md): connect,
 * send a request line, read reply lines, with a timeout on every wait. Used by eccctl and
 * eccweb.
 *
 * Blocking calls on a non-blocking socket, each wait bounded by timeout_s; a set *stop
 * (may be NULL) cuts a wait short with EINTR (eccctl's Ctrl-C, eccweb's shutdown).
 * Errors: -1 with errno (ETIMEDOUT: nothing within timeout_s; EMSGSIZE: a line longer than
 * limit; EINTR: stopped). Ownership: the caller owns the struct; ctlconn_close frees the
 * buffer and closes the socket (safe to call twice).
 */
#ifndef ECC_CTLCONN_H
#define ECC_CTLCONN_H

#include <signal.h>
#include <stddef.h>

struct ctlconn {
    int fd;                              /* -1: not connected */
    const char *path, *from;             /* the socket and where its path came from (words) */
    double timeout_s;                    /* the longest any one wait lasts */
    size_t limit;                        /* the buffer never grows past this */
    const volatile sig_atomic_t *stop;   /* set: waits end with EINTR (NULL: never) */
    char *buf;                           /* what has been read and not yet consumed */
    size_t len, cap;
};

/* A connection to path (not yet open): fd -1, the given timeout and limit. */
void ctlconn_init(struct ctlconn *c, const char *path, double timeout_s, size_t limit);
/* Connect (waiting up to timeout_s while eccd's backlog is full): 0 or -1 with errno. */
int ctlconn_open(struct ctlconn *c);
/* Send all of buf: 0 or -1 with errno (ETIMEDOUT: eccd does not read). */
int ctlconn_send(struct ctlconn *c, const char *buf, size_t len);
/* Read what eccd sent next onto the buffer: 0, 1 when eccd closed the connection, -1. */
int ctlconn_fill(struct ctlconn *c);
/* Read until a whole line is buffered: 0 and its length without the newline in *line_len;
 * 1 when eccd closed first; -1 with errno. The line is at c->buf. */
int ctlconn_recv_line(struct ctlconn *c, size_t *line_len);
/* Drop n bytes from the front of the buffer. */
void ctlconn_drop(struct ctlconn *c, size_t n);
/* Drop the line just read and its newline. */
void ctlconn_consume(struct ctlconn *c, size_t line_len);
void ctlconn_close(struct ctlconn *c);

#endif
