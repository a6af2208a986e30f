/* wholefile.h - an output file that is written whole or not at all (eccctl's export and
 * report, eccsync's clinic report).
 *
 * The bytes go to a temporary file beside path (".NAME.XXXXXX", the umask's mode), which
 * is flushed, synced and renamed over path only when the writer succeeded: path is then
 * the whole output, else it is as it was and no temporary file is left behind.
 */
#ifndef ECC_WHOLEFILE_H
#define ECC_WHOLEFILE_H

#include <stdio.h>

/* Writes the output to f: 0, or non-zero for a failure (already said by the writer). */
typedef int (*wholefile_writer)(void *arg, FILE *f);

/* Told the temporary file's path once it exists (a caller removes it if a signal ends the
 * program meanwhile) and NULL once it is gone or renamed: 0, or -1 with errno to give up
 * before anything is written. May be NULL. */
typedef int (*wholefile_guard)(const char *tmp_path);

/* Write path with write(arg, f). Returns 0 when path holds the whole output. Otherwise -1
 * with *write_rc the writer's return (0 when it succeeded) and errno the I/O error that
 * stopped it (0 when it was the writer's failure). */
int wholefile_write(const char *path, wholefile_writer write, void *arg, wholefile_guard guard,
                    int *write_rc);

#endif
