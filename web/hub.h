/* hub.h - eccweb's live fan-out: eccd's watch lines, kept as Server-Sent Events for every
 * page that listens.
 *
 * One writer (the upstream thread) publishes each line; any number of readers (one HTTP
 * connection thread per page) copy what is new since their own place. The hub keeps the
 * last HUB_SLOTS events; a reader that falls further behind (a page that stopped reading)
 * skips to the oldest kept and is told with an SSE `lost` event; the writer never waits
 * for a reader. Ownership: hub_open's object is freed by hub_close (NULL: no-op), after
 * every reader has returned.
 */
#ifndef ECC_WEB_HUB_H
#define ECC_WEB_HUB_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HUB_SLOTS 64                /* about 3 s at 20 events a second */
#define HUB_EVENT_MAX (256 * 1024)  /* a longer line is not published (counted as dropped) */

struct hub;

/* A reader's place: the next event it has not sent, and how much of it went out. */
struct hub_reader {
    uint64_t next;
    size_t off;
    long lost;                      /* events skipped, all told */
};

struct hub_stats {
    uint64_t published;             /* events ever published */
    long dropped;                   /* too long to publish */
    int readers;                    /* readers registered now */
};

struct hub *hub_open(void);
void hub_close(struct hub *h);

/* Publish one event: json is a single line of JSON (no newline), copied. 0, or -1 with
 * errno (EMSGSIZE: longer than HUB_EVENT_MAX; ENOMEM). */
int hub_publish(struct hub *h, const char *json, size_t len);

/* Place a reader at the newest event (a new page gets the rig's state at once). */
void hub_reader_join(struct hub *h, struct hub_reader *r);
void hub_reader_leave(struct hub *h, struct hub_reader *r);
/* Copy SSE text of the events after r's place into buf (at most max bytes; an event longer
 * than max goes out over several calls), waiting up to wait_ms for one. Returns the bytes
 * copied, 0 when nothing came within wait_ms, or -1 once hub_stop was called. */
ssize_t hub_read(struct hub *h, struct hub_reader *r, char *buf, size_t max, int wait_ms);

/* The newest event's JSON copied into buf (NUL-terminated): its length, or -1 (none yet,
 * or it does not fit). */
ssize_t hub_last(struct hub *h, char *buf, size_t n);

/* Wake every reader and make hub_read return -1 from now on. */
void hub_stop(struct hub *h);
void hub_stats(struct hub *h, struct hub_stats *s);

#endif
