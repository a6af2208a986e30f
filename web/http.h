/* http.h - eccweb's HTTP server (libmicrohttpd): the page, its live events, its requests.
 *
 * One thread per connection (a live page holds one for as long as it is open, blocked on
 * the hub), at most [web] max_connections of them, [web] connections_per_ip from one
 * address, each closed after [web] idle_timeout_s of silence; a request's head and body
 * fit in WEB_REQUEST_MAX bytes, a body in WEB_BODY_MAX. What each endpoint does and who
 * may use it: docs/web.md. Ownership: web_start's object is freed by web_stop.
 */
#ifndef ECC_WEB_HTTP_H
#define ECC_WEB_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"
#include "web/hub.h"
#include "web/pairing.h"
#include "web/upstream.h"

#define WEB_REQUEST_MAX (16 * 1024)
#define WEB_BODY_MAX 1024

struct web_opts {
    const struct ecc_config *cfg;   /* [web], [protocol] */
    const char *pin_file;           /* resolved ("": none) */
    const char *tls_cert, *tls_key; /* PEM text, or NULL for plain HTTP */
    struct hub *hub;
    struct upstream *up;
    struct pairing *pairing;
};

struct web_stats {
    long requests, refused, events_clients;
};

struct web;

/* Listen and serve: the object, or NULL with the reason in err. */
struct web *web_start(const struct web_opts *o, char *err, size_t n);
void web_stop(struct web *w);
/* Renew the PIN file when the PIN changed (called once a second by eccweb's main). */
void web_tick(struct web *w);
void web_stats(struct web *w, struct web_stats *s);

#endif
