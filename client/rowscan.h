/* rowscan.h - split a streamed reply line (docs/socket.md, "Replies that stream") into its
 * head, the elements of its big array and its tail, as the bytes arrive, so that eccctl
 * holds one element at a time however long the reply is.
 *
 * A streamed reply is one JSON object on one line whose big array ("rows" in export) is
 * followed only by the closing members:
 *   {"v":1,"ok":true,...,"rows":[[...],[...]],"count":2,"complete":true}
 *   head ------------------------^ elements ^ end  tail -----------------^ newline
 * A reply without the array (an error, any other command) is a plain line.
 *
 * The key is found as the bytes "KEY":[ ; inside a JSON string every '"' is escaped, so
 * those bytes cannot come from a string's content. Elements are found by their brackets,
 * outside strings. Pure: no I/O, no allocation; the caller owns the buffer.
 */
#ifndef ECC_ROWSCAN_H
#define ECC_ROWSCAN_H

#include <stdbool.h>
#include <stddef.h>

enum rowscan_part {
    ROWSCAN_MORE = 0,   /* no complete part in buf yet: read more and call again */
    ROWSCAN_LINE,       /* a plain reply line: buf[0..end) (the newline at end) */
    ROWSCAN_HEAD,       /* buf[0..start) is the head without its array ("{...,"), the
                           array's name and bracket end at end */
    ROWSCAN_ELEMENT,    /* one element: buf[start..end) (a comma before it is skipped) */
    ROWSCAN_END,        /* the array's closing bracket, ending at end */
    ROWSCAN_TAIL,       /* the closing members ",...}" in buf[0..end), the newline at end */
    ROWSCAN_ERROR       /* not a streamed reply as described: a line break inside an
                           element, a stray byte between elements */
};

struct rowscan {
    char key[48];       /* "KEY":[ */
    size_t keylen;
    int state;          /* head, elements, tail */
    size_t scanned;     /* bytes of buf already looked at (within the current part) */
    int depth;          /* brackets open in the current element */
    bool in_str, esc;
};

/* Scan for the array named key (e.g. "rows"). */
void rowscan_init(struct rowscan *s, const char *key);
/* The next complete part at the front of buf[0..len) (what the caller has not yet
 * consumed); start and end as described above. After a part the caller drops buf[0..end)
 * (ROWSCAN_LINE and ROWSCAN_TAIL: the newline too) before calling again. */
enum rowscan_part rowscan_next(struct rowscan *s, const char *buf, size_t len, size_t *start,
                               size_t *end);

#endif
