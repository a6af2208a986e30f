/* request.h - eccctl's requests to eccd: the socket protocol's parser and error replies.
 *
 * The protocol (version 1; docs/socket.md is the full reference): over a Unix stream
 * socket, the client writes one request per line, a JSON object of at most REQ_LINE_MAX
 * bytes with its newline, and eccd answers each with one reply line, in order:
 *
 *   {"v":1,"cmd":"status"}
 *   {"v":1,"cmd":"start"}            also "stop", "next-set", "reset-fault", "tare"
 *   {"v":1,"cmd":"calibrate","mass_kg":20}        0.1 <= mass_kg <= 500; "confirm":true
 *        accepts a span that changes the scale by more than loadcell.span_change_max
 *   {"v":1,"cmd":"pain","score":3}                integer 0..10, on the latest set
 *   {"v":1,"cmd":"patient-list"}
 *   {"v":1,"cmd":"patient-add","name":"Ann","force_low":150,"force_high":250,
 *        "speed_max":0.6,"force_abort":600}        only name is required; the numbers
 *        within the bounds of the config keys they stand for (band.force_low_n, ...)
 *   {"v":1,"cmd":"patient-select","patient":2}
 *   {"v":1,"cmd":"history","days":7}               1..3650, default 7
 *   {"v":1,"cmd":"export","days":30}               0..3650, default 0: everything
 *   {"v":1,"cmd":"morning","score":2}             0..10, the meaningful task this morning
 *   {"v":1,"cmd":"questionnaire","score":64,"instrument":"VISA-H"}   0..100
 *   {"v":1,"cmd":"programme"}                      the selected patient's, with its steps
 *   {"v":1,"cmd":"programme-set","start":1767596400,"weeks":12,"band_low":60,...}
 *        every member optional: what is absent keeps its value (docs/programme.md)
 *   {"v":1,"cmd":"report"}                         the clinician's report as JSON
 *   {"v":1,"cmd":"patient-put","uuid":"...","name":"Ann",...}   eccsync: a patient the
 *        clinic shares, added under its UUID, or renamed (patient-add's numbers, for a new one)
 *   {"v":1,"cmd":"programme-put","patient_uuid":"...","updated":1767596400,...}   eccsync:
 *        the clinic's programme for that patient, taken when newer than the rig's own
 *        (every programme-set member but baseline and locked required; also last_change)
 * Every member's kind and bounds are in one table (req_field_find), which eccctl checks
 * its arguments against too, so both doors refuse the same values with the same words.
 * Every request may carry "tag": a string of at most REQ_TAG_MAX - 1 bytes, echoed in
 * the reply. Unknown members, wrong types, out-of-range numbers and duplicate members
 * are errors (as unknown config keys are).
 *
 *   {"v":1,"ok":true,"cmd":"status",...}
 *   {"v":1,"ok":false,"cmd":"start","error":"refused_fault","message":"..."}
 * Error codes: bad_request, too_long, version, unknown_command, permission, busy,
 * not_found, exists, internal, and the controller's refusals refused_fault,
 * refused_resting, refused_state, refused_cause, refused_schedule.
 *
 * Pure: no I/O; nothing kept between calls (jansson allocates while parsing only).
 */
#ifndef ECC_REQUEST_H
#define ECC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#define REQ_VERSION 1
#define REQ_LINE_MAX 4096           /* bytes, the newline included */
#define REQ_NAME_MAX 64             /* patient names: 1..63 bytes */
#define REQ_TAG_MAX 65
#define REQ_UUID_LEN 36             /* 8-4-4-4-12 hexadecimal digits */
#define REQ_MASS_MIN_KG 0.1          /* a span needs a mass the cell can tell from none */
#define REQ_MASS_MAX_KG 500.0
#define REQ_DAYS_MAX 3650
#define REQ_WATCH_RATE 10             /* watch: lines a second by default ... */
#define REQ_WATCH_RATE_MAX 25         /* ... and at most */

enum req_cmd {
    REQ_STATUS = 0, REQ_START, REQ_STOP, REQ_NEXT_SET, REQ_RESET_FAULT, REQ_TARE,
    REQ_CALIBRATE, REQ_PAIN, REQ_PATIENT_LIST, REQ_PATIENT_ADD, REQ_PATIENT_SELECT,
    REQ_HISTORY, REQ_EXPORT, REQ_WATCH, REQ_MORNING, REQ_QUESTIONNAIRE, REQ_PROGRAMME,
    REQ_PROGRAMME_SET, REQ_REPORT, REQ_PATIENT_PUT, REQ_PROGRAMME_PUT, REQ_CMD_COUNT
};

/* programme-set's members; NAN / -1: absent (keep the value). */
struct req_programme {
    double start, band_low, band_high, step_share, floor_n, ceiling_n, baseline;
    int weeks, sessions_per_day, level;
    int locked;                     /* -1 absent, 0, 1 */
};

struct req {
    int v;
    enum req_cmd cmd;
    char tag[REQ_TAG_MAX];          /* "" when absent */
    double mass_kg;                 /* calibrate */
    bool confirm;                   /* calibrate: accept a large change of the scale */
    int score;                      /* pain, morning */
    double number;                  /* questionnaire's score (NAN: absent) */
    struct req_programme prog;      /* programme-set */
    int days;                       /* history (default 7), export (default 0 = all) */
    int rate_hz;                    /* watch: lines a second (default REQ_WATCH_RATE) */
    long patient;                   /* patient-select */
    char name[REQ_NAME_MAX];        /* patient-add: UTF-8, no control characters;
                                       questionnaire: the instrument ("VISA-H" if absent) */
    double force_low, force_high, speed_max, force_abort;   /* patient-add, -put; NAN: absent */
    char uuid[REQ_UUID_LEN + 1];    /* patient-put, programme-put: lower case ("": absent) */
    double updated, last_change;    /* programme-put (NAN: absent) */
    double created;                 /* patient-put (NAN: absent) */
};

/* A command's member: its kind and inclusive bounds (numbers: the value; names: bytes). */
enum req_kind { REQ_KIND_INT, REQ_KIND_NUMBER, REQ_KIND_NAME, REQ_KIND_BOOL, REQ_KIND_UUID };

struct req_field {
    enum req_cmd cmd;
    const char *key;
    enum req_kind kind;
    bool required;
    double lo, hi;
    const char *unit;               /* "" when none */
    const char *cfg_section, *cfg_key;   /* lo, hi and unit are this config key's when set */
};

/* The table's entry for cmd's member key, NULL when cmd takes no such member. Static
 * storage: nothing to free. */
const struct req_field *req_field_find(enum req_cmd cmd, const char *key);

/* Is v within f's bounds (a finite number; for REQ_KIND_INT also whole)? 0, or -1 with one
 * sentence in msg: '<what> must be <range>, not <v>', the value written with as many
 * digits as it takes to differ from the limit it breaks. what: how the caller names the
 * value (NULL: 'member "KEY"'). */
int req_field_check(const struct req_field *f, double v, const char *what, char *msg,
                    size_t msglen);

/* "a number from 5 to 1000 N", "an integer from 0 to 10": f's range in words. */
void req_field_range(const struct req_field *f, char *out, size_t outlen);

/* A patient's name: 1..REQ_NAME_MAX-1 bytes, no control characters, something other than
 * white space, and no white space at either end. 0, or -1 with one sentence in msg
 * (what: as for req_field_check). */
int req_name_check(const char *name, size_t len, const char *what, char *msg, size_t msglen);

/* Parse one request line of len bytes (no newline; need not be NUL-terminated). Returns 0,
 * or -1 with a code ("bad_request", "too_long", "version", "unknown_command") in *code and
 * a readable message in msg (one sentence naming the member at fault). On error, r->cmd
 * and r->tag are filled in when they could be read, so the error reply can name them;
 * r->cmd is REQ_CMD_COUNT when it could not. Members a request did not carry are NAN
 * (mass_kg, the patient-add numbers), -1 (score), 0 (patient), "" (tag, name), or the
 * default (days). A line over REQ_LINE_MAX - 1 bytes is "too_long" without being read;
 * a NUL byte anywhere is a "bad_request". */
int req_parse(const char *line, size_t len, struct req *r, const char **code, char *msg,
              size_t msglen);

/* "status", "start", "stop", "next-set", "reset-fault", "tare", "calibrate", "pain",
 * "patient-list", "patient-add", "patient-select", "history", "export"; NULL if out of
 * range. req_cmd_from_name returns -1 for an unknown name. */
const char *req_cmd_name(enum req_cmd c);
int req_cmd_from_name(const char *name);

/* The error reply line (no newline): {"v":1,"ok":false[,"cmd":..][,"tag":..],"error":code,
 * "message":msg}. "cmd" is left out when r->cmd is not a command, "tag" when r->tag is "".
 * r may be NULL (nothing could be read); code NULL gives "internal", msg NULL "". Bytes
 * of msg that are not UTF-8 are sent as U+FFFD. Returns the length as snprintf (buf is
 * always NUL-terminated when len > 0); the line is valid JSON when it fits. REQ_LINE_MAX
 * is enough for any message of req_parse, and for any msg under 600 bytes (a control
 * character takes six bytes in JSON, as does each of the 64 of a tag). */
int req_reply_error(char *buf, size_t len, const struct req *r, const char *code,
                    const char *msg);

#endif
