/* reply.h - eccd's replies on the control socket as jansson builds them (docs/socket.md):
 * the shared head of an ok reply, error lines, numbers and times as the protocol writes
 * them. Used by daemon/service.c and daemon/histstream.c.
 */
#ifndef ECC_REPLY_H
#define ECC_REPLY_H

#include <jansson.h>

#include "proto/request.h"

/* The dump flags of every reply: compact, 7 significant digits (figures as measured, not
 * float noise: 1.93, not 1.9299999999999626). */
#define REPLY_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(7))

/* An error reply line for r (NULL: before the request was understood), malloc'd; NULL when
 * out of memory. */
char *reply_error(const struct req *r, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A new ok reply object for r: v, ok, cmd and tag; the caller adds to it. */
json_t *reply_ok(const struct req *r);
/* The line of o (malloc'd; NULL when o is NULL or out of memory); takes o's reference. */
char *reply_dump(json_t *o);
/* As reply_dump, for replies that carry times as UTC seconds (programme, report): enough
 * digits for a time to the millisecond. */
#define REPLY_TIME_DIGITS 13
char *reply_dump_times(json_t *o);
/* A figure: the number, or null when it is not finite. */
json_t *reply_num(double v);
/* A wall time (UTC s) as an ISO 8601 string to the second; null when not finite. */
json_t *reply_time(double wall);

#endif
