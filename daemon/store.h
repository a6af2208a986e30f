/* store.h - the training history in SQLite: patients, sessions, sets, reps, rejected
 * strokes, faults and resets, calibrations, pain scores.
 *
 * One database file in WAL mode with synchronous = FULL: a committed transaction survives
 * a crash of eccd and a power cut. The schema is versioned (PRAGMA user_version) and
 * brought up to date by numbered migrations when the store opens; a file from a newer
 * eccd is refused, never altered.
 *
 * Threads. The control loop hands controller events to store_push_event, which copies
 * them into a single-producer ring and returns at once: it never blocks, never allocates,
 * never touches SQLite (a full ring drops the event and counts it). A writer thread owned
 * by the store takes everything queued, writes it in one transaction, commits, and only
 * then advances the durable sequence number (store_durable) and calls on_durable for each
 * event: a rep is durable once that number has passed its sequence number.
 * The other calls (patients, pain, history, export, resume) are for the socket thread and
 * start-up: they may block. Their writes go through the same writer thread (queued as jobs,
 * the caller waits for the commit); their reads use a separate read-only connection, so a
 * long export never holds up the writer. Those calls are thread-safe among themselves;
 * store_push_event and store_push_calibration must come from one thread only.
 *
 * Errors: -1 with errno, and a message in err where there is one ("FILE: what").
 * Patient 0 in the reads (recent, open session, history, export) means every patient;
 * in store_pain it means the selected one.
 * Ownership: store_open returns an object the caller frees with store_close, which
 * writes out everything queued first.
 */
#ifndef ECC_STORE_H
#define ECC_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "controller/ctl.h"
#include "controller/progression.h"

struct json_t;                  /* jansson's */

#define STORE_SCHEMA_VERSION 4
#define STORE_NAME_MAX 64
#define STORE_UUID_MAX 37           /* 36 characters and the NUL */

struct store;

struct store_params {
    const char *path;           /* the database file (created with its directory's mode) */
    int queue_len;              /* events the ring holds (16 .. 1 << 20, else EINVAL) */
    /* Called on the writer thread for every event once its transaction has committed,
     * in push order; may be NULL. (eccd writes its rep log from here: a line in the log
     * means the rep is already in the database.) It holds up the writer while it runs
     * and must not call the blocking writes (they would wait for this very thread);
     * the reads are fine. Calibrations are not passed to it. */
    void (*on_durable)(void *arg, const struct ctl_event *ev);
    void *arg;
};

struct store_patient {
    long id;
    char name[STORE_NAME_MAX];  /* unique, 1..63 bytes of UTF-8, no control characters */
    double created;             /* UTC s */
    double force_low, force_high, speed_max, force_abort;  /* NAN: the config's */
    char uuid[STORE_UUID_MAX];  /* its identity across rigs (schema 4); "": a new one is made */
};

/* Open (creating and migrating as needed). When the file has no patient yet, one named
 * "patient" is created with the config's settings and selected. NULL on error with a
 * message in err: cannot open, not a database (or another program's: EINVAL), schema
 * newer than this eccd (ENOTSUP; the file is left exactly as it was). No session is
 * current after opening: an interrupted one is carried on with store_attach_session. */
struct store *store_open(const struct store_params *p, char *err, size_t errlen);
/* Write out everything queued, stop the writer, checkpoint the WAL, close. NULL: no-op. */
void store_close(struct store *s);

/* ---- the control loop's side: never blocks ------------------------------------------ */

/* Queue a controller event. Returns its sequence number (1, 2, ...), or 0 if the ring was
 * full (the event is dropped and counted). Kinds stored: SESSION_START, SET_START, REP,
 * REJECT, SET, SESSION, FAULT, RESET; COMMAND events are passed to on_durable only. */
uint64_t store_push_event(struct store *s, const struct ctl_event *ev);

enum store_cal_kind { STORE_CAL_TARE = 0, STORE_CAL_SPAN };
/* Queue a finished calibration (offset: counts at zero; scale: N per count; mass_kg for a
 * span, else 0). Returns its sequence number or 0 when full. */
uint64_t store_push_calibration(struct store *s, double wall, enum store_cal_kind kind,
                                double offset, double scale, double mass_kg);

/* Highest sequence number whose transaction has committed (an atomic read). */
uint64_t store_durable(const struct store *s);

struct store_stats {
    uint64_t pushed, durable;   /* sequence numbers handed out, committed */
    long dropped;               /* pushes refused: ring full */
    long commits;               /* transactions committed */
    long errors;                /* failed writes (the message went to the log) */
    int queued;                 /* in the ring now */
    int jobs;                   /* blocking calls waiting for the writer to take them */
    double lag_max_s;           /* longest wait from a push to its commit so far */
};
void store_stats(const struct store *s, struct store_stats *st);

/* Wait until everything pushed so far is durable, at most timeout_s. 0, or -1 ETIMEDOUT. */
int store_flush(struct store *s, double timeout_s);

/* ---- the socket thread's and start-up's side: may block ----------------------------- */

/* Patients, ordered by id. Returns how many were written to out (at most max). */
int store_patient_list(struct store *s, struct store_patient *out, int max);
/* 0, or -1 ENOENT. */
int store_patient_get(struct store *s, long id, struct store_patient *out);
/* The one with this UUID: 0, or -1 ENOENT. */
int store_patient_find_uuid(struct store *s, const char *uuid, struct store_patient *out);
/* Add one: id filled in, created too unless given (> 0), the UUID made unless given.
 * -1 EEXIST (name or UUID taken) or EINVAL (bad name). */
int store_patient_add(struct store *s, struct store_patient *p, char *err, size_t errlen);
/* Give patient id a new name: 0, or -1 EEXIST (taken), EINVAL (bad name), ENOENT, EIO. */
int store_patient_rename(struct store *s, long id, const char *name);
/* The selected patient is remembered across restarts. */
long store_patient_selected(struct store *s);
int store_patient_select(struct store *s, long id);    /* -1 ENOENT */

/* Record a pain score (0..10) on the patient's latest set (patient 0: the selected one).
 * *set_out / *session_out (may be NULL) say which. Queued in order with the events, so a
 * set whose SET_START was pushed before counts. -1 EINVAL (score), ENOENT (no set yet). */
int store_pain(struct store *s, long patient, int score, long *session_out, int *set_out);

/* The patient's sessions begun at or after since (UTC s), oldest first, at most max (the
 * latest max when there are more): start, and end (when it finished, else its latest
 * rep, else its start). Returns how many, or -1. */
int store_recent_sessions(struct store *s, long patient, double since, double *starts,
                          double *ends, int max);

/* The patient's latest session begun at or after since that is still open (not finished),
 * with what carrying it on needs to go on numbering its strokes and to give its set's
 * figures over the whole set. 0 and *out filled; -1 ENOENT when there is none. */
struct store_open_session {
    long session_id;
    double started;             /* UTC s */
    int set;                    /* highest set begun (0: none) */
    int reps;                   /* reps counted in it */
    bool set_done;              /* ... and it had finished (its SET event is stored) */
    double set_s;               /* ... how long it had run, to its latest stroke (s) */
    int rejected[REP_VERDICT_COUNT];    /* ... its rejected strokes by verdict */
    double in_band_s, window_s; /* ... its strokes' time in band and loaded windows (s) */
    int done_counted, done_rejected;    /* reps and rejects of the session's finished sets */
    int strokes;                /* the session's highest stroke number on record (0: none) */
    int resumes;                /* times it was carried on after a restart so far */
};
int store_find_open_session(struct store *s, long patient, double since,
                            struct store_open_session *out);
/* Make session_id the current one: the next SET_START (resumed) continues it rather than
 * needing a SESSION_START (a SESSION_START with resumed set is then ignored too). Queued
 * in order with the events: it applies after every event pushed before the call and
 * before every event pushed after it returns. 0, or -1 ENOENT (no open session of that id). */
int store_attach_session(struct store *s, long session_id);

/* History and export call row once per row, on the caller's thread, through a cursor of
 * their own (below; row may call into the store); row returns 0 to go on, anything
 * else to stop. The calls return 0 once every row was delivered, or -1 with errno EIO
 * (cannot read) or ECANCELED (row stopped it). */

/* One row per set, sessions begun at or after since, oldest first. */
struct store_set_row {
    long session_id;
    double session_started, session_ended;  /* UTC s; ended NAN while open */
    bool session_done;
    int set;                    /* 0: a session with no set yet */
    double set_started;         /* UTC s */
    int counted, rejected;
    double in_band_share;       /* NAN until the set finished */
    int pain;                   /* -1: none given */
    int faults;                 /* faults latched during the session */
};
int store_history(struct store *s, long patient, double since,
                  int (*row)(void *arg, const struct store_set_row *r), void *arg);

/* One row per counted rep, oldest first (patient 0: every patient). */
struct store_rep_row {
    long patient_id;
    char patient[STORE_NAME_MAX];
    long session_id;
    double session_started;
    int set, rep, stroke;
    double t;                   /* UTC s, when it was counted */
    double duration_s, travel_m, peak_n, mean_n, in_band_s, in_band_share, work_j;
    int pain;                   /* the set's, -1: none */
};
int store_export(struct store *s, long patient, double since,
                 int (*row)(void *arg, const struct store_rep_row *r), void *arg);

/* Cursors: the same reads, a row at a time, for replies that stream (daemon/service.c).
 * Each cursor has its own read-only connection and a small page cache; the rows are a
 * consistent snapshot from the first step to the last (the writer goes on meanwhile, and
 * its checkpoints stop at the snapshot until the cursor ends or is closed). A row costs one
 * step: nothing is sorted or buffered, whatever the size of the history.
 * store_cursor_open: NULL with errno (EIO, logged; ENOMEM; EINVAL: no such kind).
 * store_cursor_history / _export (the kind it was opened as, else -1 EINVAL): 1 with a row
 * in *r, 0 at the end (and after), -1 EIO (logged). Any thread, one at a time per cursor.
 * The caller closes every cursor (NULL: no-op), and before store_close. */
enum store_cursor_kind { STORE_CURSOR_HISTORY = 0, STORE_CURSOR_EXPORT };
struct store_cursor;
struct store_cursor *store_cursor_open(struct store *s, enum store_cursor_kind kind,
                                       long patient, double since);
int store_cursor_history(struct store_cursor *c, struct store_set_row *r);
int store_cursor_export(struct store_cursor *c, struct store_rep_row *r);
void store_cursor_close(struct store_cursor *c);

/* ---- the twelve weeks (store_programme.c; docs/programme.md) ------------------------- */

struct store_programme {
    long patient;
    struct prog_plan plan;      /* active = true when read back */
    int sets, reps;             /* the protocol it was set with (the config's [protocol]) */
    double updated;             /* UTC s */
};

/* 0, or -1 ENOENT (none set), EIO. */
int store_programme_get(struct store *s, long patient, struct store_programme *out);
/* Set or change it; the patient's band becomes band_low..band_high (the plan's at its
 * level) and a progression row of this kind ("set", "lock", "unlock", ...) keeps the
 * reason. Blocks until committed: 0, or -1 with errno. */
int store_programme_put(struct store *s, const struct store_programme *p, const char *kind,
                        const char *reason, double band_low, double band_high);
/* A clinician's questionnaire score (e.g. VISA-H 0..100). */
int store_questionnaire_add(struct store *s, long patient, double wall, double score,
                            const char *instrument);
/* Hand the rules (prog_init'ed with the plan) the sessions, sets, morning scores and the
 * latest flags they judge by, as of wall. 0, or -1 EIO. */
int store_programme_restore(struct store *s, long patient, double wall, struct prog *p);
/* The report's document: head (its reference is taken) with "sessions" (each with its
 * "sets"), "checkins", "progression" and "rejects_by_reason" added; a session with no band
 * on record gets band_low..band_high. NULL (head released) on error, errno EIO. */
struct json_t *store_report(struct store *s, long patient, struct json_t *head,
                            double band_low, double band_high);
/* The patient's latest max progression rows, oldest first (a new reference), or NULL. */
struct json_t *store_progression_latest(struct store *s, long patient, int max);
/* Sessions done against the plan, per programme week so far: [{"week","done","planned",
 * "days":[sessions each day]}] (a new reference; today is planned only as far as done). */
struct json_t *store_adherence(struct store *s, long patient, const struct prog_plan *pl,
                               double day_start_s, int utc_offset_s, double now);
/* ... those at or after since (UTC s), the latest max of them. */
struct json_t *store_progression_since(struct store *s, long patient, double since, int max);

#endif
