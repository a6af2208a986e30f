/* csvout.h - eccd's streamed `export` reply turned into CSV a piece at a time, for
 * eccweb's download: eccweb holds one row, never the export (as eccctl export does).
 *
 * csvout_read fills the HTTP server's buffer from the connection: the header row, then a
 * row per element as it arrives. An export that eccd could not finish (complete:false, a
 * count that is not the rows sent) or a connection that fails ends with a last line
 * "# export cut short: REASON", since the HTTP status has already gone out.
 * Ownership: the caller's struct; csvout_fini closes the connection.
 */
#ifndef ECC_WEB_CSVOUT_H
#define ECC_WEB_CSVOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "client/ctlconn.h"
#include "client/rowscan.h"

struct csvout {
    struct ctlconn c;               /* eccd's reply; the request already sent */
    struct rowscan rs;
    char *pend;                     /* CSV made but not yet handed out */
    size_t pend_len, pend_off;
    long rows;
    bool done;
};

/* Take over c (connected, export request sent). */
void csvout_init(struct csvout *o, const struct ctlconn *c);
/* Up to max bytes of CSV into buf: the count, or 0 at the end. Never fails: a failure
 * becomes the closing "# export cut short" line. */
ssize_t csvout_read(struct csvout *o, char *buf, size_t max);
void csvout_fini(struct csvout *o);

#endif
