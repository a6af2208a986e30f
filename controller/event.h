/* event.h - controller events as text: one JSON object per line for the rep log,
 * and a short human line for the log. Pure formatting into a caller's buffer.
 *
 * The JSON lines (the rep log's format; docs/replog.md describes every field):
 *   {"event":"rep",...}     a counted rep with its figures
 *   {"event":"reject",...}  a stroke that did not count; "verdict" says why
 *   {"event":"set",...}     a finished set: counted, rejected by reason, time in band
 *   {"event":"session",...} a finished session
 *   {"event":"fault",...}   a latched fault with the value and the limit it crossed
 *   {"event":"reset",...}   a fault cleared by the operator
 *   {"event":"command",...} an operator command and its result
 * Every line has "t" (s on eccd's monotonic clock) and "wall" (UTC with milliseconds,
 * from hal_clock.wall as the loop read it for that tick; null without a wall clock).
 */
#ifndef ECC_EVENT_H
#define ECC_EVENT_H

#include <stddef.h>

#include "controller/ctl.h"

#define EVENT_LINE_MAX 1024
#define EVENT_WALL_MAX 32       /* "2026-12-04T23:05:53.123Z" and its NUL, with room */

/* Format ev as one JSON object (no newline). Returns the length, as snprintf. */
int event_json(const struct ctl_event *ev, char *buf, size_t len);

/* A wall-clock time (UTC s since 1970) as ISO 8601 UTC with milliseconds,
 * "2026-12-04T23:05:53.123Z". Returns its length, or 0 (and "") for wall <= 0 (no wall
 * clock) or a time the format cannot hold. */
int event_wall_iso(double wall, char *buf, size_t len);

/* The same as a JSON value: the quoted string, or null where event_wall_iso gives none. */
int event_wall_json(double wall, char *buf, size_t len);

/* Format ev as one human-readable line (no newline). */
int event_text(const struct ctl_event *ev, char *buf, size_t len);

/* Write s as a JSON string, quotes included, escaping what JSON requires. Returns the
 * length it needed, as snprintf. */
int event_json_string(char *buf, size_t len, const char *s);

/* Why the schedule refused a new session and how long to wait, as a phrase:
 * "the day's sessions are done; a new session is allowed in 9 h 05 min". */
int event_schedule_reason(enum sched_verdict v, double wait_s, char *buf, size_t len);

/* A pre-flight verdict (PREFLIGHT, or a COMMAND refused by it) in words, the same on stderr,
 * in the rep log's "message" and in eccctl status: "pre-flight: load cell: the load cell
 * gives no readings: check ... [tcp 127.0.0.1:1502 unit 3: read fc 3 at 0 (1 register): no
 * reply (timeout) after 3 tries]"; "pre-flight: ready" once it passes. */
int event_preflight_message(const struct ctl_event *ev, char *buf, size_t len);

/* The "event" name of a kind: "rep", "reject", ... */
const char *event_kind_name(enum ctl_event_kind k);

#endif
