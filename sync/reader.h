/* reader.h - eccsync's side of the rig's history file: what changed since a point, in the
 * order it was committed.
 *
 * The file is eccd's (docs/history.md, schema 4 or later): every replicated row carries
 * sync_seq, the value of one counter its triggers bump on each insert and update. The
 * reader opens the file read-only (eccd's WAL lets it read while eccd writes) and takes a
 * batch of the rows whose sync_seq is above a point, oldest first, as struct sync_row
 * (syncrow.h), each batch in one short read transaction: eccd's writer never waits for it,
 * and a batch is a consistent picture (a row is read as it is now: an update after the
 * point gives the row once, with its newest values).
 *
 * Errors: -1 with a message in err ("FILE: what"); errno EAGAIN when the file was busy
 * (try again), ENOTSUP when its schema is older than 4 (eccd migrates it when it opens it).
 * Ownership: sync_reader_open returns an object the caller frees with sync_reader_close.
 */
#ifndef ECC_SYNC_READER_H
#define ECC_SYNC_READER_H

#include <stddef.h>
#include <stdint.h>

#include "sync/syncrow.h"

struct sync_reader;

struct sync_reader *sync_reader_open(const char *path, char *err, size_t errlen);
void sync_reader_close(struct sync_reader *r);

/* Up to max rows changed after seq `after`, in sync_seq order, into out (the caller's
 * array of max rows). Returns how many (0: nothing new), or -1. */
int sync_reader_batch(struct sync_reader *r, uint64_t after, struct sync_row *out, int max,
                      char *err, size_t errlen);

/* The counter now: the sync_seq of the latest change. 0, or -1. */
int sync_reader_head(struct sync_reader *r, uint64_t *seq, char *err, size_t errlen);

#endif
