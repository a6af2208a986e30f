/* outq.h - text lines written to a FILE by a thread of their own, so the control loop
 * never waits on a disk, a pipe or a terminal.
 *
 * The loop formats a line (outq_printf: vsnprintf into a stack buffer, no allocation) and
 * copies it into a ring of fixed slots under a mutex held only for the copy (priority
 * inheritance, so a real-time loop is never held up behind the writer for longer than
 * that copy). The writer thread takes every waiting line, writes it with stdio and flushes
 * once per batch: a line is on its way to the file within a wake-up of being pushed.
 *
 * A full ring: with OUTQ_DROP (a real-time loop) the line is dropped and counted, and the
 * loop goes on; with OUTQ_WAIT (a virtual-time run, where nothing is real-time and every
 * line counts) the push waits for a free slot. A line longer than the slot is cut at the
 * slot (and ends with its newline anyway), and counted.
 *
 * Lifetime: outq_open starts the thread; outq_close writes every line still queued,
 * flushes, joins the thread and frees. The FILE stays the caller's (not closed).
 * Thread-safety: one producer (outq_printf from one thread at a time), one writer.
 */
#ifndef ECC_OUTQ_H
#define ECC_OUTQ_H

#include <stdio.h>

enum outq_full { OUTQ_DROP, OUTQ_WAIT };

#define OUTQ_SLOTS_DEFAULT 256     /* 2.5 s of a 100 Hz trace; about 290 KiB */
#define OUTQ_LINE_MAX 1152      /* bytes of a slot, the newline included: an event line
                                   (EVENT_LINE_MAX) with the table's time column */

struct outq;

struct outq_stats {
    long pushed;                /* lines queued */
    long written;               /* lines handed to the FILE */
    long dropped;               /* lines lost to a full ring (OUTQ_DROP) */
    long cut;                   /* lines cut to OUTQ_LINE_MAX */
    int write_errors;           /* errno of the latest failed write or flush; 0: none */
};

/* Start a writer of lines to f (slots: 0 for OUTQ_SLOTS_DEFAULT). NULL with errno and a
 * message in err. */
struct outq *outq_open(FILE *f, int slots, enum outq_full full, char *err, size_t errlen);
/* Write what is queued, flush, stop the thread, free. NULL: no-op. */
void outq_close(struct outq *q);

/* Queue one line (a newline is added). 0, or -1 when it was dropped (OUTQ_DROP, full). */
int outq_printf(struct outq *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Queue a line already formatted (len bytes, no newline). 0 or -1 as outq_printf. */
int outq_put(struct outq *q, const char *line, size_t len);

/* Wait until every line pushed so far is written and flushed (a handshake for tests and
 * for a clean end of a run; never called on the real-time loop). */
void outq_sync(struct outq *q);

void outq_stats(struct outq *q, struct outq_stats *st);

#endif
