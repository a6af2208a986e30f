/* pgerr.h - what a failed libpq call means for eccsync, and the message that says so.
 *
 * A failure is either on the link (the connection is gone, or the server cannot do it now:
 * shutting down, starting up, out of connections, a deadlock or serialization failure, a
 * statement time-out) and trying again later can succeed, or the server refused the
 * statement (bad data, a constraint, a privilege or row-level security, no such table):
 * the same statement will be refused again, it is a bug or a misconfiguration.
 */
#ifndef ECC_PGERR_H
#define ECC_PGERR_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

/* Is this failure on the link (try again, after PQreset when PQstatus is CONNECTION_BAD)?
 * r may be NULL (no result at all: the connection failed or memory ran out). */
bool pgerr_is_link(PGconn *c, const PGresult *r);

/* "what: the server's message (SQLSTATE x)[; the fix]" into err (errlen 0: nothing), from
 * r's error or, with no r, the connection's. Returns pgerr_is_link(c, r). */
bool pgerr_say(char *err, size_t errlen, const char *what, PGconn *c, const PGresult *r);

/* "what: text" into err; returns false (for refusals found before the server is asked). */
bool pgerr_plain(char *err, size_t errlen, const char *what, const char *text);

/* A connection (PQconnectdbParams; the caller PQfinish'es it, whatever its status) with
 * eccsync's defaults for a link that may die silently (a rig on Wi-Fi, a NAT that forgets
 * it): connect_timeout 10 s, TCP keepalives after 30 s idle every 10 s, 3 unanswered
 * probes, and tcp_user_timeout 60 s for data the peer never acknowledges. Without them a
 * dead peer leaves eccsync waiting on a reply for as long as the kernel keeps the socket
 * (hours). conninfo (keyword=value or a postgresql:// URI) may set any of them itself:
 * its values win. */
PGconn *pgerr_connect(const char *conninfo);

/* Run one command without parameters and no rows wanted: 0, or with err (pgerr_say) -1
 * for a failure on the link, -2 for a refusal (the values of PGWRITE_LINK and _REFUSED). */
int pgerr_exec(PGconn *c, const char *sql, const char *what, char *err, size_t errlen);

#endif
