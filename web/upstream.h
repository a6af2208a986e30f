/* upstream.h - eccweb's side of eccd's control socket: one `watch` subscription whose
 * lines go to the hub (reconnected while eccd is away), and one-off requests (stop, pain,
 * history, ...) each on a connection of its own.
 *
 * eccweb only ever talks to eccd through the socket, as eccctl does: eccd bounds what a
 * client may cost it (docs/socket.md, "Limits"), so eccweb stuck or killed changes nothing
 * in eccd. While eccd cannot be reached the hub gets a {"link":"down","message":...} event
 * each second instead of watch lines, so a page can say so.
 * Ownership: upstream_open's object is freed by upstream_close (which stops the thread).
 */
#ifndef ECC_WEB_UPSTREAM_H
#define ECC_WEB_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "client/ctlconn.h"
#include "web/hub.h"

struct upstream_opts {
    const char *socket;             /* eccd's control socket */
    int rate_hz;                    /* watch lines a second */
    double timeout_s;               /* a request's reply; a watch line (3 periods at least) */
};

struct upstream_stats {
    bool up;                        /* the watch is receiving */
    long lines;                     /* watch lines received */
    long connects;                  /* watch connections made */
    long requests, request_errors;
};

struct upstream;

struct upstream *upstream_open(const struct upstream_opts *o, struct hub *hub);
/* Start the watch thread: 0, or -1 with errno. */
int upstream_start(struct upstream *u);
void upstream_close(struct upstream *u);

/* Send one request (a JSON object; "v" is added) and read its reply on a connection of
 * its own: the reply object (the caller decrefs), or NULL with the reason in err. */
json_t *upstream_call(struct upstream *u, json_t *req, char *err, size_t n);
/* Connect and send one request; the caller reads the reply from c and closes it (export
 * streams). 0, or -1 with the reason in err. c's buffer grows to at most limit. */
int upstream_dial(struct upstream *u, struct ctlconn *c, json_t *req, size_t limit, char *err,
                  size_t n);

void upstream_stats(struct upstream *u, struct upstream_stats *s);

#endif
