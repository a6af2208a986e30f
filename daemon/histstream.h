/* histstream.h - the history and export replies, streamed from a store cursor.
 *
 * A clinic's history can hold hundreds of thousands of reps: the reply to `history` or
 * `export` is never built whole. histstream_history / histstream_export open a cursor
 * (daemon/store.h), return the reply's beginning (everything up to the opening bracket of
 * its big array) and fill a struct ctlsock_stream that hands out the rest as the client
 * reads it: the array's elements a few at a time, then the closing members. The line as a
 * whole is the same JSON a client would get if it were built at once (docs/socket.md):
 *
 *   {"v":1,"ok":true,"cmd":"export",...,"columns":[...],"rows":[[...],...],"count":N,"complete":true}
 *   {"v":1,"ok":true,"cmd":"history",...,"days":D,"sessions":[{...},...],"count":N,"complete":true}
 *
 * The big array is the last but two members, so a client can parse it element by element.
 * When the history cannot be read to its end after the beginning was sent, the array is
 * closed and the reply ends "count":K,"complete":false,"error":{"code":"internal",
 * "message":...}: a client tells a whole reply from a cut one by "complete".
 *
 * Memory: the cursor's page cache (256 KiB), one element and at most one part of the
 * reply (CTLSOCK_CHUNK) whatever the history's size.
 *
 * Both return the beginning (malloc'd, the caller or ctlsock frees it) with *out set, or
 * NULL with errno when the cursor cannot be opened (nothing to close then).
 */
#ifndef ECC_HISTSTREAM_H
#define ECC_HISTSTREAM_H

#include "daemon/ctlsock.h"
#include "daemon/store.h"
#include "proto/request.h"

/* Sessions of patient (0: every patient) begun at or after since, oldest first, one object
 * each with its sets; a session that began at or after today (UTC s) and is not done is
 * "open", an older one "interrupted". */
char *histstream_history(struct store *store, const struct req *r, long patient, double since,
                         double today, struct ctlsock_stream *out);
/* Every counted rep of every patient since since, oldest first, one array each. */
char *histstream_export(struct store *store, const struct req *r, double since,
                        struct ctlsock_stream *out);

#endif
