/* ctlfmt.h - eccctl's renderings of eccd's replies: readable text and CSV.
 *
 * Each function takes one parsed reply line (docs/socket.md), the whole object
 * {"v":1,"ok":...,"cmd":...}, and writes to a FILE. They do no other I/O and keep
 * nothing between calls, so tests can feed them canned replies (tests/test_ctlfmt.c).
 *
 * Tolerance: a member that is absent, null or of the wrong type is left out of the
 * text (or shown as "-"), never guessed; new members the daemon adds within protocol
 * version 1 are ignored. Only a reply without the member a rendering is about (no
 * "status" object in a status reply, no "columns" in an export) is refused.
 *
 * Text meant for a terminal has control characters in strings from the daemon
 * (patient names, messages) replaced by '?'; CSV carries them unchanged, quoted.
 * Times in history are shown in local time (TZ), as "YYYY-MM-DD HH:MM".
 *
 * Return values: 0, or -1 when the reply lacks what the rendering needs or the FILE
 * reports a write error (ferror).
 */
#ifndef ECC_CTLFMT_H
#define ECC_CTLFMT_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

/* status: a short block, one "label  value" line per item. */
int ctlfmt_status(FILE *out, const json_t *reply);

/* history: a heading per session (start, end, status, faults) and a table of its sets. */
int ctlfmt_history(FILE *out, const json_t *reply);

/* patient-list: a table (the selected patient marked '*'; null settings shown as
 * "config": the config's value applies). */
int ctlfmt_patients(FILE *out, const json_t *reply);
/* A programme or programme-set reply: the plan, the band now and every step and flag. */
int ctlfmt_programme(FILE *out, const json_t *reply);

/* export: RFC 4180 CSV, CRLF line ends: a header row from "columns", then one record
 * per row. Fields with a comma, a double quote, CR or LF are quoted (quotes doubled);
 * null is an empty field; numbers are written in the shortest form that reads back as
 * the same double; true/false as such. */
int ctlfmt_export_csv(FILE *out, const json_t *reply);
/* The same a piece at a time, for a streamed export: the header row from the columns
 * array, then each row array as it arrives. */
int ctlfmt_export_csv_head(FILE *out, const json_t *columns);
int ctlfmt_export_csv_row(FILE *out, const json_t *row);

/* Any other successful reply: one line saying what happened ("start: ok, state now
 * set_running"; tare and calibrate: eccd's message; pain, patient-add, patient-select:
 * what was recorded or chosen). */
int ctlfmt_result(FILE *out, const json_t *reply);

/* A successful reply rendered by its "cmd": one of the above. */
int ctlfmt_reply(FILE *out, const json_t *reply);

/* An error reply ("ok":false): "eccctl: MESSAGE" (the code when there is no message)
 * and, where it helps, a second line: refused_schedule, when the next session may
 * start ("in 3 h 25 min", from wait_s); permission and version, what is wrong. Meant
 * for stderr. */
int ctlfmt_error(FILE *err, const json_t *reply);

/* One CSV field (RFC 4180) from a string of len bytes: quoted only when needed. */
int ctlfmt_csv_field(FILE *out, const char *s, size_t len);

/* A wait in hours and minutes, rounded up to the minute ("3 h 25 min", "2 h",
 * "12 min"); under a minute "45 s"; 0 or less (or NaN) "now". Returns as snprintf. */
int ctlfmt_wait(char *buf, size_t len, double s);

/* A number the shortest way that reads back as the same double ("0.42", "15", "1e-07");
 * non-finite values as "null". Returns as snprintf. */
int ctlfmt_number(char *buf, size_t len, double v);

#endif
