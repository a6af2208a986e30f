/* service.c - the loop's mailbox and status snapshot, and eccctl's requests (see
 * service.h). */
#include "daemon/service.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controller/event.h"
#include "daemon/histstream.h"
#include "daemon/live.h"
#include "daemon/reply.h"
#include "daemon/watch.h"
#include "proto/request.h"
#include "util/log.h"

#define DAY_S 86400.0
#define RECENT_DAYS 3           /* sessions handed to the day's rule on a patient change */
#define PATIENTS_MAX 256
#define CAL_POLL_TICKS 50       /* calibration status read this often when idle */

/* ---- the mailbox: one command at a time from the socket thread to the loop ---------- */

enum mb_state { MB_EMPTY = 0, MB_REQUESTED, MB_DONE };
enum mb_op { OP_CTL = 0, OP_TARE, OP_SPAN, OP_PATIENT, OP_CHECKIN, OP_PROGRAMME };

struct mailbox {
    pthread_mutex_t lock;       /* the loop only ever trylocks it */
    pthread_cond_t done;        /* signalled by the loop when a request is done
                                   (CLOCK_MONOTONIC timed waits) */
    enum mb_state state;
    /* request */
    enum mb_op op;
    enum ctl_cmd cmd;
    double mass_kg;
    bool confirm;               /* OP_SPAN: the operator accepts a large change */
    struct ctl_patient patient;
    double starts[SCHED_KEEP], ends[SCHED_KEEP];
    int n_sessions;
    const struct prog *prog;    /* OP_PATIENT (NULL: none), OP_PROGRAMME: the caller's */
    enum ctl_checkin checkin;   /* OP_CHECKIN */
    int score;
    bool record;
    /* result */
    bool session_ended;         /* OP_CHECKIN: the score ended the running session */
    enum ctl_cmd_result result;
    int err;                    /* OP_TARE / OP_SPAN: errno, 0 = started */
    bool calibrating;           /* OP_CTL refused: a tare or span is collecting readings */
    enum sched_verdict sched;
    double wait_s;
};

/* ---- the status snapshot: the loop publishes, the socket thread reads --------------- */

struct snapshot {
    struct ctl_status st;
    long ticks, overruns;
    double late_max_s;
    bool cal_known;
    struct hal_cal_status cal;
    int utc_offset_s;
    char preflight_msg[EVENT_LINE_MAX];     /* event_preflight_message of the verdict now */
    char fault_cause[CTL_CAUSE_MAX];        /* what the faulted part's link said */
    bool drive_link, lc_link;               /* the parts with a link, and its figures */
    struct hal_link_stats drive_ls, lc_ls;
    bool valid;
};

struct service {
    const struct ecc_config *cfg;
    struct store *store;
    struct live *live;          /* each tick and event, for watch (NULL: out of memory) */
    double started_wall;
    struct mailbox mb;
    pthread_mutex_t snap_lock;  /* the loop only ever trylocks it */
    pthread_cond_t snap_cv;     /* broadcast by the loop with each snapshot it publishes */
    struct snapshot snap;
    /* loop thread only */
    bool cal_watch;             /* a tare or span was started: record it when done */
    struct hal_cal_status cal_last;
    long ticks_seen;
    long lost;                  /* events the store's queue refused */
    /* socket thread only */
    long patient_cached;
    char patient_name[STORE_NAME_MAX];
};

/* Condition variables whose timed waits run on CLOCK_MONOTONIC (a wall-clock step must not
 * stretch or cut a wait). */
static void monotonic_cond_init(pthread_cond_t *cv)
{
    pthread_condattr_t ca;

    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &ca);
    pthread_condattr_destroy(&ca);
}

/* CLOCK_MONOTONIC now + s. */
static struct timespec deadline_in(double s)
{
    struct timespec t;
    long ns;

    clock_gettime(CLOCK_MONOTONIC, &t);
    ns = t.tv_nsec + (long)((s - (double)(long)s) * 1e9);
    t.tv_sec += (time_t)s + ns / 1000000000L;
    t.tv_nsec = ns % 1000000000L;
    return t;
}

struct service *service_open(const struct service_params *p)
{
    struct service *s = calloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->cfg = p->cfg;
    s->store = p->store;
    s->started_wall = p->started_wall;
    pthread_mutex_init(&s->mb.lock, NULL);
    pthread_mutex_init(&s->snap_lock, NULL);
    monotonic_cond_init(&s->mb.done);
    monotonic_cond_init(&s->snap_cv);
    s->patient_cached = -1;
    s->live = live_open();      /* without it, watch answers "internal" */
    return s;
}

void service_close(struct service *s)
{
    if (!s)
        return;
    live_close(s->live);
    pthread_mutex_destroy(&s->mb.lock);
    pthread_mutex_destroy(&s->snap_lock);
    pthread_cond_destroy(&s->mb.done);
    pthread_cond_destroy(&s->snap_cv);
    free(s);
}

/* ---- start-up ------------------------------------------------------------------------ */

static double day_start_wall(const struct ecc_config *cfg, double wall, int utc_offset_s)
{
    double ds = cfg->protocol.day_start_h * 3600.0;

    return floor((wall + utc_offset_s - ds) / DAY_S) * DAY_S + ds - utc_offset_s;
}

static void patient_to_ctl(const struct store_patient *sp, struct ctl_patient *cp)
{
    *cp = (struct ctl_patient){.id = sp->id, .force_low = sp->force_low,
                               .force_high = sp->force_high, .speed_max = sp->speed_max,
                               .force_abort = sp->force_abort};
}

/* The patient's recent sessions, for the day's rule. */
static int recent_sessions(struct service *s, long patient, double wall, double *starts,
                           double *ends)
{
    return store_recent_sessions(s->store, patient, wall - RECENT_DAYS * DAY_S, starts, ends,
                                 SCHED_KEEP);
}

/* The patient's programme as the rules need it: the plan and its recent past (p
 * inactive when the patient has none). 0, or -1 when the history cannot be read. */
static int programme_prepare(struct service *s, long patient, double wall, struct prog *p)
{
    struct store_programme sp;
    struct prog_rules rules;
    double day_start = s->cfg->protocol.day_start_h * 3600.0;

    ctl_prog_rules(s->cfg, &rules);
    if (store_programme_get(s->store, patient, &sp) != 0) {
        prog_init(p, &rules, NULL, day_start);
        return errno == ENOENT ? 0 : -1;
    }
    prog_init(p, &rules, &sp.plan, day_start);
    return store_programme_restore(s->store, patient, wall, p);
}

static int restore_programme(struct service *s, struct ctl *c, long id, double wall)
{
    struct prog *p = malloc(sizeof *p);
    int rc = -1;

    if (p && programme_prepare(s, id, wall, p) == 0)
        rc = ctl_set_programme(c, p) == CTL_OK ? 0 : -1;
    if (rc != 0)
        log_error("history: patient %ld: the programme cannot be %s", id,
                  p ? "used (its band is out of the config's bounds)" : "read (out of memory)");
    free(p);
    return rc;
}

static int restore_patient(struct service *s, struct ctl *c, double wall)
{
    struct store_patient sp;
    struct ctl_patient cp;
    double starts[SCHED_KEEP], ends[SCHED_KEEP];
    long id = store_patient_selected(s->store);
    int n;

    if (id <= 0 || store_patient_get(s->store, id, &sp) != 0) {
        log_error("history: no patient is selected");
        return -1;
    }
    patient_to_ctl(&sp, &cp);
    n = recent_sessions(s, id, wall, starts, ends);
    if (n < 0 || ctl_set_patient(c, &cp, starts, ends, n) != CTL_OK) {
        log_error("history: patient %ld (%s): settings out of the config's bounds", id, sp.name);
        return -1;
    }
    if (restore_programme(s, c, id, wall) != 0)
        return -1;
    s->patient_cached = id;
    snprintf(s->patient_name, sizeof s->patient_name, "%s", sp.name);
    log_info("patient %ld (%s)", id, sp.name);
    return 0;
}

int service_restore(struct service *s, struct ctl *c, double wall, int utc_offset_s)
{
    struct store_open_session os;
    struct ctl_resume r;

    if (!s->store)
        return 0;
    if (restore_patient(s, c, wall) != 0)
        return -1;
    if (store_find_open_session(s->store, ctl_patient(c)->id,
                                day_start_wall(s->cfg, wall, utc_offset_s), &os) != 0)
        return 0;                           /* nothing to carry on */
    r = (struct ctl_resume){.set = os.set > 0 ? os.set : 1,
                            .reps = os.set_done ? s->cfg->protocol.reps_per_set : os.reps,
                            .session_start_wall = os.started, .strokes = os.strokes,
                            .in_band_s = os.in_band_s, .window_s = os.window_s,
                            .set_s = os.set_s, .done_counted = os.done_counted,
                            .done_rejected = os.done_rejected};
    memcpy(r.rejected, os.rejected, sizeof r.rejected);
    if (ctl_resume(c, &r) != CTL_OK) {
        log_warn("history: session %ld (set %d, %d reps) cannot be carried on with this "
                 "config's protocol; a new session will begin", os.session_id, os.set, os.reps);
        return 0;
    }
    if (store_attach_session(s->store, os.session_id) != 0) {
        log_error("history: cannot carry on session %ld", os.session_id);
        return -1;
    }
    log_info("carrying on session %ld: set %d with %d reps counted, %d strokes so far "
             "(start to go on)", os.session_id, r.set, r.reps, r.strokes);
    return 0;
}

/* ---- the loop's side --------------------------------------------------------------- */

static enum ctl_cmd_result run_patient(struct mailbox *mb, struct ctl *c)
{
    enum ctl_cmd_result r = ctl_set_patient(c, &mb->patient, mb->starts, mb->ends,
                                            mb->n_sessions);

    return r == CTL_OK && mb->prog ? ctl_set_programme(c, mb->prog) : r;
}

static void run_checkin(struct mailbox *mb, struct ctl *c)
{
    enum proto_state before = ctl_proto_state(c);

    ctl_checkin(c, mb->checkin, mb->score, mb->record);
    mb->session_ended = before != PROTO_SESSION_DONE &&
                        ctl_proto_state(c) == PROTO_SESSION_DONE;
}

/* Tare and span only with the belt stopped and the foot off. */
static int run_calibration(struct service *s, struct mailbox *mb, struct ctl *c,
                           struct hal *hal)
{
    enum proto_state ps = ctl_proto_state(c);
    int rc;

    /* a tare needs the plate unloaded; a span has the mass on it */
    if (ps == PROTO_SET_RUNNING || ctl_speed_cmd(c) != 0.0 ||
        (mb->op == OP_TARE && ctl_loaded(c))) {
        mb->result = CTL_REFUSED_STATE;
        return 0;
    }
    hal_force_cal_status(&hal->force, &s->cal_last);    /* the counts before */
    rc = mb->op == OP_TARE ? hal_force_tare(&hal->force) : hal_force_span(&hal->force, mb->mass_kg,
                                                                           mb->confirm);
    mb->err = rc == 0 ? 0 : errno;
    s->cal_watch = rc == 0;
    return 0;
}

/* Nothing starts the belt while the load cell calibrates: the patient stepping on would
 * go into the tare (or the span). The start button is not held back here. */
static enum ctl_cmd_result run_command(struct mailbox *mb, struct ctl *c, struct hal *hal,
                                       double now)
{
    struct hal_cal_status cs;

    mb->calibrating = (mb->cmd == CTL_CMD_START || mb->cmd == CTL_CMD_NEXT_SET) &&
                      hal_force_cal_status(&hal->force, &cs) == 0 && cs.pending;
    return mb->calibrating ? CTL_REFUSED_STATE : ctl_command(c, mb->cmd, now);
}

static void mailbox_run(struct service *s, struct ctl *c, struct hal *hal, double now)
{
    struct mailbox *mb = &s->mb;

    if (pthread_mutex_trylock(&mb->lock) != 0)
        return;                             /* the socket thread is writing: next tick */
    if (mb->state == MB_REQUESTED) {
        mb->result = CTL_OK;
        mb->err = 0;
        mb->calibrating = false;
        switch (mb->op) {
        case OP_CTL: mb->result = run_command(mb, c, hal, now); break;
        case OP_TARE:
        case OP_SPAN: run_calibration(s, mb, c, hal); break;
        case OP_PATIENT: mb->result = run_patient(mb, c); break;
        case OP_CHECKIN: run_checkin(mb, c); break;
        case OP_PROGRAMME: mb->result = ctl_set_programme(c, mb->prog); break;
        }
        mb->sched = c->sched_verdict;
        mb->wait_s = c->sched_wait_s;
        mb->state = MB_DONE;
        pthread_cond_signal(&mb->done);     /* never blocks the loop */
    }
    pthread_mutex_unlock(&mb->lock);
}

/* A calibration that finished goes into the history. */
static void calibration_watch(struct service *s, struct hal *hal, double wall)
{
    struct hal_cal_status cs;
    bool tared, spanned;

    if (!s->cal_watch || hal_force_cal_status(&hal->force, &cs) != 0 || cs.pending)
        return;
    s->cal_watch = false;
    tared = cs.tares > s->cal_last.tares;
    spanned = cs.spans > s->cal_last.spans;
    if (!tared && !spanned && cs.last_error == ERANGE) {
        log_warn("load cell: span refused, the calibration is unchanged: it would set the "
                 "scale to %g N/count from %g (loadcell.span_change_max, or the full scale "
                 "in too few or too many counts); check the mass and the wiring, or "
                 "eccctl calibrate --confirm", cs.refused_scale, cs.scale);
        return;
    }
    if (!tared && !spanned) {
        log_warn("load cell: calibration failed: %s", strerror(cs.last_error ? cs.last_error : EIO));
        return;
    }
    if (isfinite(cs.scale))
        log_info("load cell: %s done (offset %g counts, scale %g N/count)",
                 tared ? "tare" : "span", cs.offset, cs.scale);
    else
        log_info("load cell: %s done", tared ? "tare" : "span");
    if (cs.last_error)
        log_warn("load cell: the %s is in use but was not saved to [loadcell] calibration: %s",
                 tared ? "tare" : "span", strerror(cs.last_error));
    if (s->store)
        store_push_calibration(s->store, wall, tared ? STORE_CAL_TARE : STORE_CAL_SPAN,
                               cs.offset, cs.scale, spanned ? cs.mass_kg : 0.0);
}

/* The pre-flight verdict, the fault's cause and each link's figures, in the HAL's words
 * (the same words the loop puts in the log). */
static void snapshot_diagnosis(struct snapshot *sn, struct hal *hal)
{
    struct ctl_event ev = {.kind = CTL_EV_PREFLIGHT, .preflight = sn->st.preflight};

    if (ev.preflight != PREFLIGHT_OK)
        loop_part_cause(hal, preflight_part(ev.preflight), ev.cause, sizeof ev.cause);
    event_preflight_message(&ev, sn->preflight_msg, sizeof sn->preflight_msg);
    sn->fault_cause[0] = '\0';
    if (sn->st.fault != FAULT_NONE)
        loop_part_cause(hal, loop_fault_part(sn->st.fault), sn->fault_cause,
                        sizeof sn->fault_cause);
    sn->drive_link = hal_drive_link_stats(&hal->drive, &sn->drive_ls) == 0;
    sn->lc_link = hal_force_link_stats(&hal->force, &sn->lc_ls) == 0;
}

static void snapshot_publish(struct service *s, const struct ctl *c, struct hal *hal,
                             const struct loop_stats *st)
{
    bool cal_due = s->cal_watch || s->ticks_seen % CAL_POLL_TICKS == 0;
    struct hal_cal_status cs;
    bool cal_known = cal_due && hal_force_cal_status(&hal->force, &cs) == 0;
    struct ctl_status now;

    ctl_status(c, &now);
    if (s->live)
        live_tick(s->live, &now);           /* every tick, for watch */
    if (pthread_mutex_trylock(&s->snap_lock) != 0)
        return;                             /* being read: publish next tick */
    s->snap.st = now;
    snapshot_diagnosis(&s->snap, hal);
    s->snap.ticks = st->ticks;
    s->snap.overruns = st->overruns;
    s->snap.late_max_s = st->late_max_s;
    s->snap.utc_offset_s = c->utc_offset_s;
    if (cal_known) {
        s->snap.cal = cs;
        s->snap.cal_known = true;
    }
    s->snap.valid = true;
    pthread_cond_broadcast(&s->snap_cv);    /* never blocks the loop */
    pthread_mutex_unlock(&s->snap_lock);
}

void service_on_service(void *arg, struct ctl *c, struct hal *hal, const struct loop_stats *st)
{
    struct service *s = arg;

    mailbox_run(s, c, hal, c->now);
    calibration_watch(s, hal, c->wall);
    snapshot_publish(s, c, hal, st);
    s->ticks_seen++;
}

void service_on_event(void *arg, const struct ctl_event *ev)
{
    struct service *s = arg;

    if (s->live)
        live_event(s->live, ev);
    if (!s->store || store_push_event(s->store, ev) != 0)
        return;
    /* Counted by the store (eccctl status shows it); said only at 1, 2, 4, 8, ... losses
     * so a stalled disk cannot turn into a flood of log lines from the loop. */
    s->lost++;
    if ((s->lost & (s->lost - 1)) == 0)
        log_warn("history: queue full, %ld events lost so far (the latest: %s)", s->lost,
                 event_kind_name(ev->kind));
}

/* ---- the socket thread's side: talking to the loop ---------------------------------- */

/* Post the prepared request and wait for the loop. Returns 0 with the result in mb, or
 * -1 when the loop did not take it in time (withdrawn). Call with mb->lock held; it is
 * held again on return. */
static int mailbox_call(struct mailbox *mb)
{
    struct timespec deadline = deadline_in(SERVICE_WAIT_S);

    mb->state = MB_REQUESTED;
    while (mb->state != MB_DONE)
        if (pthread_cond_timedwait(&mb->done, &mb->lock, &deadline) == ETIMEDOUT)
            break;
    if (mb->state != MB_DONE) {
        mb->state = MB_EMPTY;               /* withdrawn: the loop will not run it */
        return -1;
    }
    mb->state = MB_EMPTY;
    return 0;
}

static bool snapshot_read(struct service *s, struct snapshot *out)
{
    pthread_mutex_lock(&s->snap_lock);
    *out = s->snap;
    pthread_mutex_unlock(&s->snap_lock);
    return out->valid;
}

/* The snapshot the loop publishes after the current one (a command's effect shows there),
 * waiting for it at most SERVICE_WAIT_S; false if none came. */
static bool snapshot_after_next_tick(struct service *s, struct snapshot *out)
{
    struct timespec deadline = deadline_in(SERVICE_WAIT_S);
    long seen;

    pthread_mutex_lock(&s->snap_lock);
    seen = s->snap.ticks;
    while (s->snap.ticks == seen)
        if (pthread_cond_timedwait(&s->snap_cv, &s->snap_lock, &deadline) == ETIMEDOUT)
            break;
    *out = s->snap;
    pthread_mutex_unlock(&s->snap_lock);
    return out->valid && out->ticks != seen;
}

/* ---- status ------------------------------------------------------------------------- */

static const char *patient_name(struct service *s, long id)
{
    struct store_patient sp;

    if (id != s->patient_cached) {
        s->patient_cached = id;
        s->patient_name[0] = '\0';
        if (s->store && id > 0 && store_patient_get(s->store, id, &sp) == 0)
            snprintf(s->patient_name, sizeof s->patient_name, "%s", sp.name);
    }
    return s->patient_name;
}

static json_t *status_history(struct service *s)
{
    struct store_stats ss;

    if (!s->store)
        return json_null();
    store_stats(s->store, &ss);
    return json_pack("{s:I, s:i, s:I, s:I}", "durable", (json_int_t)ss.durable,
                     "queued", ss.queued, "dropped", (json_int_t)ss.dropped,
                     "errors", (json_int_t)ss.errors);
}

/* The patient's programme: its level now and its latest steps and flags with reasons. */
static json_t *status_programme(struct service *s, const struct ctl_status *st)
{
    json_t *latest;

    if (!s->store || !st->programme)
        return json_null();
    latest = store_progression_latest(s->store, st->patient, 5);
    return json_pack("{s:i, s:b, s:o}", "level", st->level, "locked", st->locked, "latest",
                     latest ? latest : json_array());
}

static json_t *link_json(const struct hal_link_stats *ls)
{
    json_t *exc = json_object();
    char code[8];

    for (int i = 0; i < HAL_EXC_CODES; i++) {
        if (!ls->exc_by_code[i])
            continue;
        snprintf(code, sizeof code, i ? "%02X" : "other", (unsigned)i);
        json_object_set_new(exc, code, json_integer(ls->exc_by_code[i]));
    }
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:b, s:s}",
                     "where", ls->where, "tx_ok", (json_int_t)ls->tx_ok,
                     "tx_failed", (json_int_t)ls->tx_failed,
                     "link_errors", (json_int_t)ls->link_errors,
                     "timeouts", (json_int_t)ls->timeouts,
                     "bad_frames", (json_int_t)ls->bad_frames,
                     "exceptions", (json_int_t)ls->exceptions,
                     "reconnects", (json_int_t)ls->reconnects, "exceptions_by_code", exc,
                     "rtt_ms", isfinite(ls->rtt_ms) ? json_real(ls->rtt_ms) : json_null(),
                     "answering", ls->answering, "last_error", ls->last_error);
}

static json_t *status_links(const struct snapshot *sn)
{
    json_t *o = json_object();

    if (sn->drive_link)
        json_object_set_new(o, "drive", link_json(&sn->drive_ls));
    if (sn->lc_link)
        json_object_set_new(o, "load_cell", link_json(&sn->lc_ls));
    return o;
}

static json_t *status_body(struct service *s, const struct snapshot *sn)
{
    const struct ctl_status *st = &sn->st;
    json_t *o = json_pack(
        "{s:s, s:s, s:f, s:f, s:f, s:f, s:f, s:[f,f], s:b, s:i, s:i, s:i, s:i, s:i, s:f,"
        " s:{s:I, s:s}, s:i, s:s, s:f, s:{s:I, s:I, s:f}}",
        "state", st->state, "fault", fault_name(st->fault),
        "fault_value", isfinite(st->fault_value) ? st->fault_value : 0.0,
        "fault_limit", isfinite(st->fault_limit) ? st->fault_limit : 0.0,
        "speed", st->speed, "speed_cmd", st->speed_cmd, "force", st->force,
        "band", st->band_low, st->band_high, "loaded", st->loaded,
        "session", st->session, "set", st->set, "rep", st->reps,
        "reps_per_set", st->reps_per_set, "sets_per_session", st->sets_per_session,
        "rest_left_s", st->rest_left_s,
        "patient", "id", (json_int_t)st->patient, "name", patient_name(s, st->patient),
        "sessions_today", st->sessions_today,
        "next_session", st->in_session ? "in_session" : sched_verdict_name(st->next_session),
        "next_session_wait_s", st->in_session ? 0.0 : st->next_session_wait_s,
        "loop", "ticks", (json_int_t)sn->ticks, "overruns", (json_int_t)sn->overruns,
        "late_max_ms", sn->late_max_s * 1000.0);

    if (!o)
        return NULL;
    json_object_set_new(o, "history", status_history(s));
    json_object_set_new(o, "programme", status_programme(s, st));
    if (sn->cal_known)
        json_object_set_new(o, "calibration",
                            json_pack("{s:b, s:I, s:I, s:I, s:o, s:o}", "pending",
                                      sn->cal.pending, "tares", (json_int_t)sn->cal.tares,
                                      "spans", (json_int_t)sn->cal.spans,
                                      "refused_spans", (json_int_t)sn->cal.refused_spans,
                                      "scale", reply_num(sn->cal.scale),
                                      "refused_scale",
                                      reply_num(sn->cal.last_error == ERANGE
                                                       ? sn->cal.refused_scale : NAN)));
    if (st->wall > 0.0)
        json_object_set_new(o, "uptime_s", json_real(st->wall - s->started_wall));
    json_object_set_new(o, "preflight",
                        json_pack("{s:s, s:s, s:s}", "check", preflight_name(st->preflight),
                                  "part", preflight_part_name(preflight_part(st->preflight)),
                                  "message", sn->preflight_msg));
    json_object_set_new(o, "fault_cause", json_string(sn->fault_cause));
    json_object_set_new(o, "links", status_links(sn));
    return o;
}

static char *do_status(struct service *s, const struct req *r)
{
    struct snapshot sn;
    json_t *o, *body;

    if (!snapshot_read(s, &sn))
        return reply_error(r, "busy", "the control loop has not run yet; try again");
    o = reply_ok(r);
    body = status_body(s, &sn);
    if (!o || !body) {
        json_decref(o);
        json_decref(body);
        return NULL;
    }
    json_object_set_new(o, "status", body);
    return reply_dump(o);
}

/* ---- commands through the mailbox --------------------------------------------------- */

static char *refused(struct service *s, const struct req *r, const struct mailbox *mb)
{
    struct snapshot sn;
    char why[160];
    const char *state = snapshot_read(s, &sn) ? sn.st.state : "starting";

    switch (mb->result) {
    case CTL_REFUSED_FAULT:
        return reply_error(r, "refused_fault", "a fault is latched (%s%s%s%s): clear its cause, "
                           "then eccctl reset-fault", fault_name(sn.st.fault),
                           sn.fault_cause[0] ? " [" : "", sn.fault_cause,
                           sn.fault_cause[0] ? "]" : "");
    case CTL_REFUSED_RESTING:
        return reply_error(r, "refused_resting", "the rest between sets runs (%.0f s left): "
                           "wait, or eccctl next-set to cut it short", sn.st.rest_left_s);
    case CTL_REFUSED_CAUSE:
        return reply_error(r, "refused_cause", "the cause of the %s fault is still there%s%s%s: "
                           "clear it first", fault_name(sn.st.fault),
                           sn.fault_cause[0] ? " [" : "", sn.fault_cause,
                           sn.fault_cause[0] ? "]" : "");
    case CTL_REFUSED_SCHEDULE: {
        char *line;
        json_t *o;
        event_schedule_reason(mb->sched, mb->wait_s, why, sizeof why);
        line = reply_error(r, "refused_schedule", "%s (protocol.sessions_per_day = %d, "
                           "min_gap_h = %g)", why, s->cfg->protocol.sessions_per_day,
                           s->cfg->protocol.min_gap_h);
        o = line ? json_loads(line, 0, NULL) : NULL;
        free(line);
        if (o)
            json_object_set_new(o, "wait_s", json_real(ceil(mb->wait_s)));
        return reply_dump(o);
    }
    case CTL_REFUSED_PREFLIGHT:
        return reply_error(r, "refused_preflight", "the belt stays still: %s", sn.preflight_msg);
    case CTL_REFUSED_STATE:
    case CTL_OK:
        break;
    }
    if (mb->calibrating)
        return reply_error(r, "refused_state", "not now: the load cell is calibrating (a tare "
                           "or span takes about a second of readings); start when eccctl "
                           "status no longer shows it in progress");
    return reply_error(r, "refused_state", "not now: the rig is %s", state);
}

static char *command_reply(struct service *s, const struct req *r, const struct mailbox *mb)
{
    struct snapshot sn;
    json_t *o;

    if (mb->result != CTL_OK)
        return refused(s, r, mb);
    o = reply_ok(r);
    json_object_set_new(o, "result", json_string("ok"));
    if (snapshot_after_next_tick(s, &sn))   /* the state it led to */
        json_object_set_new(o, "state", json_string(sn.st.state));
    return reply_dump(o);
}

static enum ctl_cmd ctl_cmd_of(enum req_cmd c)
{
    switch (c) {
    case REQ_START: return CTL_CMD_START;
    case REQ_STOP: return CTL_CMD_STOP;
    case REQ_NEXT_SET: return CTL_CMD_NEXT_SET;
    default: return CTL_CMD_RESET;
    }
}

static char *do_command(struct service *s, const struct req *r)
{
    struct mailbox *mb = &s->mb;
    struct mailbox result;
    int rc;

    pthread_mutex_lock(&mb->lock);
    mb->op = OP_CTL;
    mb->cmd = ctl_cmd_of(r->cmd);
    rc = mailbox_call(mb);
    result = *mb;
    pthread_mutex_unlock(&mb->lock);
    if (rc != 0)
        return reply_error(r, "busy", "the control loop did not answer within %.0f s",
                           SERVICE_WAIT_S);
    return command_reply(s, r, &result);
}

static char *do_calibration(struct service *s, const struct req *r)
{
    struct mailbox *mb = &s->mb;
    struct mailbox res;
    json_t *o;
    int rc;

    pthread_mutex_lock(&mb->lock);
    mb->op = r->cmd == REQ_TARE ? OP_TARE : OP_SPAN;
    mb->mass_kg = r->mass_kg;
    mb->confirm = r->confirm;
    rc = mailbox_call(mb);
    res = *mb;
    pthread_mutex_unlock(&mb->lock);
    if (rc != 0)
        return reply_error(r, "busy", "the control loop did not answer within %.0f s",
                           SERVICE_WAIT_S);
    if (res.result != CTL_OK)
        return reply_error(r, "refused_state", r->cmd == REQ_TARE
                           ? "stop the belt and take the foot off the plate first"
                           : "stop the belt first");
    if (res.err == ENOTSUP)
        return reply_error(r, "unavailable", "this load cell cannot %s from eccd",
                           req_cmd_name(r->cmd));
    if (res.err == EDOM)
        return reply_error(r, "bad_request", "a mass of %g kg (%.0f N) is more than the load "
                           "cell's full scale (loadcell.full_scale_n): it would saturate",
                           r->mass_kg, r->mass_kg * 9.80665);
    if (res.err)
        return reply_error(r, res.err == EBUSY ? "busy" : "internal", "cannot start: %s",
                           strerror(res.err));
    o = reply_ok(r);
    json_object_set_new(o, "message", json_string(
        r->cmd == REQ_TARE ? "tare started: keep the foot plate unloaded for a second"
                           : "span calibration started: keep the mass still on the plate for a second"));
    return reply_dump(o);
}

/* ---- patients ----------------------------------------------------------------------- */

static json_t *patient_json(const struct store_patient *p, bool selected)
{
    return json_pack("{s:I, s:s, s:o, s:o, s:o, s:o, s:b}", "id", (json_int_t)p->id,
                     "name", p->name, "force_low", reply_num(p->force_low),
                     "force_high", reply_num(p->force_high),
                     "speed_max", reply_num(p->speed_max),
                     "force_abort", reply_num(p->force_abort), "selected", selected);
}

static long current_patient(struct service *s)
{
    struct snapshot sn;

    return snapshot_read(s, &sn) ? sn.st.patient : 0;
}

static char *do_patient_list(struct service *s, const struct req *r)
{
    struct store_patient *ps = calloc(PATIENTS_MAX, sizeof *ps);
    long cur = current_patient(s);
    json_t *o = reply_ok(r), *list = json_array();
    int n = ps ? store_patient_list(s->store, ps, PATIENTS_MAX) : -1;

    for (int i = 0; i < n; i++)
        json_array_append_new(list, patient_json(&ps[i], ps[i].id == cur));
    free(ps);
    if (n < 0) {
        json_decref(o);
        json_decref(list);
        return reply_error(r, "internal", "cannot read the patients");
    }
    json_object_set_new(o, "patients", list);
    return reply_dump(o);
}

static char *patient_reply(const struct req *r, const struct store_patient *p)
{
    json_t *o = reply_ok(r);

    json_object_set_new(o, "patient", json_pack("{s:I, s:s}", "id", (json_int_t)p->id,
                                                "name", p->name));
    return reply_dump(o);
}

static char *do_patient_add(struct service *s, const struct req *r)
{
    struct store_patient p = {.force_low = r->force_low, .force_high = r->force_high,
                              .speed_max = r->speed_max, .force_abort = r->force_abort};
    char err[256] = "";

    snprintf(p.name, sizeof p.name, "%s", r->name);
    if (store_patient_add(s->store, &p, err, sizeof err) != 0)
        return reply_error(r, errno == EEXIST ? "exists" : errno == EINVAL ? "bad_request"
                           : "internal", "%s", err[0] ? err : strerror(errno));
    return patient_reply(r, &p);
}

static char *do_patient_select(struct service *s, const struct req *r)
{
    struct mailbox *mb = &s->mb;
    struct store_patient p;
    struct snapshot sn;
    enum ctl_cmd_result res;
    int rc, n;
    double wall = snapshot_read(s, &sn) ? sn.st.wall : 0.0;

    struct prog *prog;

    if (store_patient_get(s->store, r->patient, &p) != 0)
        return reply_error(r, "not_found", "no patient %ld (eccctl patient list)", r->patient);
    prog = malloc(sizeof *prog);
    if (!prog || programme_prepare(s, p.id, wall, prog) != 0) {
        free(prog);
        return reply_error(r, "internal", "cannot read the patient's programme");
    }
    pthread_mutex_lock(&mb->lock);
    mb->op = OP_PATIENT;
    mb->prog = prog;
    patient_to_ctl(&p, &mb->patient);
    n = recent_sessions(s, p.id, wall, mb->starts, mb->ends);
    mb->n_sessions = n > 0 ? n : 0;
    rc = mailbox_call(mb);
    res = mb->result;
    mb->prog = NULL;
    pthread_mutex_unlock(&mb->lock);
    free(prog);
    if (rc != 0)
        return reply_error(r, "busy", "the control loop did not answer within %.0f s",
                           SERVICE_WAIT_S);
    if (res != CTL_OK)
        return reply_error(r, "refused_state", "a patient can be changed only between sessions, "
                           "with no fault latched, and within the config's limits");
    if (store_patient_select(s->store, p.id) != 0)
        return reply_error(r, "internal", "the patient is in use but could not be remembered");
    return patient_reply(r, &p);
}

/* ---- pain, history, export ---------------------------------------------------------- */

/* A check-in for the programme's rules, through the loop. 0, or -1 (the loop did not
 * answer). */
static int checkin_call(struct service *s, enum ctl_checkin kind, int score, bool record,
                        struct mailbox *res)
{
    struct mailbox *mb = &s->mb;
    int rc;

    pthread_mutex_lock(&mb->lock);
    mb->op = OP_CHECKIN;
    mb->checkin = kind;
    mb->score = score;
    mb->record = record;
    mb->session_ended = false;
    rc = mailbox_call(mb);
    *res = *mb;
    pthread_mutex_unlock(&mb->lock);
    return rc;
}

static char *do_pain(struct service *s, const struct req *r)
{
    long session;
    int set;
    json_t *o;

    struct mailbox res;

    if (store_pain(s->store, current_patient(s), r->score, &session, &set) != 0)
        return reply_error(r, errno == ENOENT ? "not_found" : "internal",
                           errno == ENOENT ? "no set yet to score" : "cannot record the score");
    if (checkin_call(s, CTL_CHECKIN_PAIN, r->score, false, &res) != 0)
        return reply_error(r, "busy", "the score is recorded, but the control loop did not "
                           "take it within %.0f s: the programme's rules did not hear it",
                           SERVICE_WAIT_S);
    o = reply_ok(r);
    json_object_set_new(o, "session_ended", json_boolean(res.session_ended));
    json_object_set_new(o, "session", json_integer(session));
    json_object_set_new(o, "set", json_integer(set));
    json_object_set_new(o, "score", json_integer(r->score));
    return reply_dump(o);
}

/* history and export stream their replies (daemon/histstream.c): a history of any size
 * costs a cursor and a part of the reply at a time. */
static char *do_history(struct service *s, const struct req *r, struct ctlsock_stream *out)
{
    struct snapshot sn;
    double wall = snapshot_read(s, &sn) ? sn.st.wall : (double)time(NULL);
    double today = day_start_wall(s->cfg, wall, sn.utc_offset_s);
    char *head = histstream_history(s->store, r, current_patient(s), wall - r->days * DAY_S,
                                    today, out);

    return head ? head : reply_error(r, "internal", "cannot read the history");
}

static char *do_export(struct service *s, const struct req *r, struct ctlsock_stream *out)
{
    struct snapshot sn;
    double wall = snapshot_read(s, &sn) ? sn.st.wall : (double)time(NULL);
    char *head = histstream_export(s->store, r, r->days > 0 ? wall - r->days * DAY_S : 0.0,
                                   out);     /* every patient */

    return head ? head : reply_error(r, "internal", "cannot read the history");
}

/* The status a watch line shows: the latest snapshot. */
static bool watch_status(void *arg, struct ctl_status *st)
{
    struct snapshot sn;

    if (!snapshot_read(arg, &sn))
        return false;
    *st = sn.st;
    return true;
}

static char *do_watch(struct service *s, const struct req *r, struct ctlsock_stream *out)
{
    char *head = s->live ? watch_begin(s->live, watch_status, s, r, out) : NULL;

    return head ? head : reply_error(r, "internal", "eccd cannot serve a watch now (out of "
                                     "memory)");
}

/* ---- the twelve weeks: check-ins, the programme, the report ---------------------------- */

static char *do_morning(struct service *s, const struct req *r)
{
    struct mailbox res;
    json_t *o;

    if (current_patient(s) <= 0)
        return reply_error(r, "not_found", "no patient is selected");
    if (checkin_call(s, CTL_CHECKIN_MORNING, r->score, true, &res) != 0)
        return reply_error(r, "busy", "the control loop did not answer within %.0f s",
                           SERVICE_WAIT_S);
    if (store_flush(s->store, SERVICE_WAIT_S) != 0)
        return reply_error(r, "internal", "the score was taken but is not yet in the history");
    o = reply_ok(r);
    json_object_set_new(o, "score", json_integer(r->score));
    json_object_set_new(o, "progression", store_progression_latest(s->store,
                                                                   current_patient(s), 3));
    return reply_dump(o);
}

static char *do_questionnaire(struct service *s, const struct req *r)
{
    struct snapshot sn;
    double wall = snapshot_read(s, &sn) && sn.st.wall > 0.0 ? sn.st.wall : (double)time(NULL);
    const char *instrument = r->name[0] ? r->name : "VISA-H";
    long patient = current_patient(s);
    json_t *o;

    if (patient <= 0)
        return reply_error(r, "not_found", "no patient is selected");
    if (store_questionnaire_add(s->store, patient, wall, r->number, instrument) != 0)
        return reply_error(r, "internal", "cannot record the score");
    o = reply_ok(r);
    json_object_set_new(o, "instrument", json_string(instrument));
    json_object_set_new(o, "score", json_real(r->number));
    return reply_dump(o);
}

static json_t *plan_json(const struct store_programme *p, const struct prog *rules)
{
    const struct prog_plan *pl = &p->plan;
    double lo, hi;
    json_t *o;

    prog_band(rules, pl->level, &lo, &hi);
    o = json_pack("{s:f, s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:f, s:b, s:o, s:i, s:f, s:f,"
                  " s:i, s:i}",
                  "start", pl->start, "weeks", pl->weeks, "sessions_per_day", pl->sessions_per_day,
                  "sets", p->sets, "reps", p->reps, "band_low", pl->band_low,
                  "band_high", pl->band_high, "step_share", pl->step_share,
                  "floor_n", pl->floor_n, "ceiling_n", pl->ceiling_n, "locked", pl->locked,
                  "baseline_morning", reply_num(pl->baseline), "level", pl->level,
                  "cur_low", lo, "cur_high", hi, "level_min", prog_level_min(rules),
                  "level_max", prog_level_max(rules));
    if (o && pl->last_change > 0.0)
        json_object_set_new(o, "last_change", json_real(pl->last_change));
    return o;
}

/* The programme now: the loop's (its level and baseline move) over the stored plan. */
static int programme_now(struct service *s, long patient, struct store_programme *sp,
                         struct prog *rules)
{
    struct prog_rules pr;

    if (store_programme_get(s->store, patient, sp) != 0)
        return -1;
    ctl_prog_rules(s->cfg, &pr);
    prog_init(rules, &pr, &sp->plan, s->cfg->protocol.day_start_h * 3600.0);
    return 0;
}

static char *do_programme(struct service *s, const struct req *r)
{
    long patient = current_patient(s);
    struct store_programme sp;
    struct snapshot sn;
    struct prog *rules = malloc(sizeof *rules);
    json_t *o;

    if (!rules)
        return reply_error(r, "internal", "out of memory");
    if (patient <= 0 || programme_now(s, patient, &sp, rules) != 0) {
        free(rules);
        return errno == ENOENT || patient <= 0
                   ? reply_error(r, "not_found", "the patient has no programme: set one with "
                                 "eccctl programme set (docs/programme.md)")
                   : reply_error(r, "internal", "cannot read the programme");
    }
    o = reply_ok(r);
    json_object_set_new(o, "patient", json_integer(patient));
    json_object_set_new(o, "programme", plan_json(&sp, rules));
    if (snapshot_read(s, &sn) && sn.st.wall > 0.0)
        json_object_set_new(o, "adherence", store_adherence(s->store, patient, &sp.plan,
                                                            s->cfg->protocol.day_start_h * 3600.0,
                                                            sn.utc_offset_s, sn.st.wall));
    json_object_set_new(o, "progression", store_progression_latest(s->store, patient, 1000));
    free(rules);
    return reply_dump_times(o);
}

static double or_keep(double v, double keep)
{
    return isnan(v) ? keep : v;
}

/* A new programme's defaults: today, 12 weeks, the config's day, the patient's band now. */
static void programme_defaults(struct service *s, const struct snapshot *sn,
                               struct store_programme *sp)
{
    const struct ecc_config *cfg = s->cfg;
    double lo = sn->st.band_low, hi = sn->st.band_high;

    *sp = (struct store_programme){
        .plan = {.active = true, .start = sn->st.wall > 0.0 ? sn->st.wall : (double)time(NULL),
                 .weeks = 12, .sessions_per_day = cfg->protocol.sessions_per_day,
                 .band_low = lo, .band_high = hi, .step_share = 0.05,
                 .floor_n = fmax(cfg->rep.contact_n + 1.0, 0.8 * lo),
                 .ceiling_n = fmin(1.5 * hi, 0.9 * cfg->limits.force_abort),
                 .baseline = NAN}};
}

static void programme_merge(const struct req_programme *q, struct store_programme *sp)
{
    struct prog_plan *pl = &sp->plan;

    pl->start = or_keep(q->start, pl->start);
    pl->band_low = or_keep(q->band_low, pl->band_low);
    pl->band_high = or_keep(q->band_high, pl->band_high);
    pl->step_share = or_keep(q->step_share, pl->step_share);
    pl->floor_n = or_keep(q->floor_n, pl->floor_n);
    pl->ceiling_n = or_keep(q->ceiling_n, pl->ceiling_n);
    pl->baseline = or_keep(q->baseline, pl->baseline);
    if (q->weeks > 0)
        pl->weeks = q->weeks;
    if (q->sessions_per_day > 0)
        pl->sessions_per_day = q->sessions_per_day;
    if (q->level != INT_MIN)
        pl->level = q->level;
    if (q->locked >= 0)
        pl->locked = q->locked;
}

/* The plan within the rig's bounds: 0, or -1 with why. */
static int programme_check(struct service *s, const struct store_programme *sp,
                           const struct prog *rules, char *why, int whylen)
{
    const struct prog_plan *pl = &sp->plan;
    double abort_n = s->cfg->limits.force_abort;

    if (prog_plan_check(pl, why, whylen) != 0)
        return -1;
    if (pl->floor_n <= s->cfg->rep.contact_n || pl->ceiling_n >= abort_n) {
        snprintf(why, (size_t)whylen, "floor and ceiling must lie between rep.contact_n "
                 "(%g N) and limits.force_abort_n (%g N)", s->cfg->rep.contact_n, abort_n);
        return -1;
    }
    if (pl->level < prog_level_min(rules) || pl->level > prog_level_max(rules)) {
        snprintf(why, (size_t)whylen, "level %d would leave [floor, ceiling]: it may be %d to %d",
                 pl->level, prog_level_min(rules), prog_level_max(rules));
        return -1;
    }
    return 0;
}

/* Hand the loop the new programme (between sessions only). */
static int programme_to_loop(struct service *s, const struct prog *p)
{
    struct mailbox *mb = &s->mb;
    enum ctl_cmd_result res;
    int rc;

    pthread_mutex_lock(&mb->lock);
    mb->op = OP_PROGRAMME;
    mb->prog = p;
    rc = mailbox_call(mb);
    res = mb->result;
    mb->prog = NULL;
    pthread_mutex_unlock(&mb->lock);
    return rc != 0 ? -2 : res == CTL_OK ? 0 : -1;
}

static const char *programme_change_kind(const struct store_programme *old, bool had,
                                         const struct store_programme *now)
{
    if (had && old->plan.locked != now->plan.locked)
        return now->plan.locked ? "lock" : "unlock";
    return "set";
}

/* Check the plan, hand it to the loop when it is the selected patient's (between sessions
 * only), keep it with a progression row whose reason says who set it. NULL, or the error
 * reply. */
static char *programme_apply(struct service *s, const struct req *r, long patient,
                             struct store_programme *sp, bool had,
                             const struct store_programme *old, struct prog *p, const char *who)
{
    char why[PROG_REASON_MAX];
    double lo, hi;
    int rc;

    if (programme_check(s, sp, p, why, sizeof why) != 0)
        return reply_error(r, "bad_request", "%s", why);
    if (store_programme_restore(s->store, patient, sp->updated, p) != 0)
        return reply_error(r, "internal", "cannot read the history");
    rc = patient == current_patient(s) ? programme_to_loop(s, p) : 0;
    if (rc != 0)
        return rc == -2 ? reply_error(r, "busy", "the control loop did not answer within %.0f s",
                                      SERVICE_WAIT_S)
                        : reply_error(r, "refused_state", "a programme can be set only between "
                                      "sessions, with no fault latched");
    prog_band_now(p, &lo, &hi);
    snprintf(why, sizeof why, "%s: %d weeks from day 0, %d sessions a day, band "
             "%.0f-%.0f N at level %d, steps of %.0f%%, floor %.0f N, ceiling %.0f N%s",
             who, sp->plan.weeks, sp->plan.sessions_per_day, lo, hi, sp->plan.level,
             sp->plan.step_share * 100.0, sp->plan.floor_n, sp->plan.ceiling_n,
             sp->plan.locked ? ", locked" : "");
    if (store_programme_put(s->store, sp, programme_change_kind(old, had, sp), why, lo, hi) != 0)
        return reply_error(r, "internal", "the loop took the programme but the history could "
                           "not keep it: %s", strerror(errno));
    return NULL;
}

static char *do_programme_set(struct service *s, const struct req *r)
{
    long patient = current_patient(s);
    struct store_programme sp, old;
    struct snapshot sn;
    struct prog_rules pr;
    struct prog *p;
    bool had;
    char *err;

    if (patient <= 0 || !snapshot_read(s, &sn))
        return reply_error(r, "not_found", "no patient is selected");
    had = store_programme_get(s->store, patient, &old) == 0;
    if (!had && errno != ENOENT)
        return reply_error(r, "internal", "cannot read the programme");
    if (had)
        sp = old;
    else
        programme_defaults(s, &sn, &sp);
    sp.patient = patient;
    sp.sets = s->cfg->protocol.sets_per_session;
    sp.reps = s->cfg->protocol.reps_per_set;
    sp.updated = sn.st.wall > 0.0 ? sn.st.wall : (double)time(NULL);
    programme_merge(&r->prog, &sp);
    if (!(p = malloc(sizeof *p)))
        return reply_error(r, "internal", "out of memory");
    ctl_prog_rules(s->cfg, &pr);
    prog_init(p, &pr, &sp.plan, s->cfg->protocol.day_start_h * 3600.0);
    err = programme_apply(s, r, patient, &sp, had, &old, p, "by the clinician");
    free(p);
    return err ? err : do_programme(s, r);
}

/* ---- what the clinic shares, brought by eccsync (docs/fleet.md) ------------------------- */

static char *put_reply(const struct req *r, const struct store_patient *p, const char *what)
{
    json_t *o = reply_ok(r);

    json_object_set_new(o, "patient", json_pack("{s:I, s:s, s:s}", "id", (json_int_t)p->id,
                                                "name", p->name, "uuid", p->uuid));
    json_object_set_new(o, "result", json_string(what));
    return reply_dump(o);
}

/* A patient the clinic shares: added under its UUID, or renamed. Its band comes with its
 * programme; its limits (speed, abort force) are the rig's once it is here. */
static char *do_patient_put(struct service *s, const struct req *r)
{
    struct store_patient p = {.force_low = r->force_low, .force_high = r->force_high,
                              .speed_max = r->speed_max, .force_abort = r->force_abort,
                              .created = isnan(r->created) ? 0.0 : r->created};
    char err[256] = "";

    if (store_patient_find_uuid(s->store, r->uuid, &p) == 0) {
        if (strcmp(p.name, r->name) == 0)
            return put_reply(r, &p, "unchanged");
        if (store_patient_rename(s->store, p.id, r->name) != 0)
            return reply_error(r, errno == EEXIST ? "exists" : "internal", "patient %s cannot "
                               "be renamed \"%s\": %s", r->uuid, r->name,
                               errno == EEXIST ? "another patient on this rig has that name"
                                               : strerror(errno));
        snprintf(p.name, sizeof p.name, "%s", r->name);
        return put_reply(r, &p, "renamed");
    }
    if (errno != ENOENT)
        return reply_error(r, "internal", "cannot read the patients");
    snprintf(p.name, sizeof p.name, "%s", r->name);
    snprintf(p.uuid, sizeof p.uuid, "%s", r->uuid);
    if (store_patient_add(s->store, &p, err, sizeof err) != 0)
        return reply_error(r, errno == EEXIST ? "exists" : errno == EINVAL ? "bad_request"
                           : "internal", "%s%s", err[0] ? err : strerror(errno),
                           errno == EEXIST ? " on this rig under another UUID: rename one" : "");
    return put_reply(r, &p, "added");
}

/* The clinic's programme for a patient: taken whole when it is newer than the rig's own
 * (its updated time), else left (the newer change wins, wherever it was made). */
static char *do_programme_put(struct service *s, const struct req *r)
{
    struct store_programme sp, old;
    struct store_patient pt;
    struct prog_rules pr;
    struct prog *p;
    bool had;
    char *err;
    json_t *o;

    if (store_patient_find_uuid(s->store, r->uuid, &pt) != 0)
        return reply_error(r, errno == ENOENT ? "not_found" : "internal", "no patient %s on "
                           "this rig (patient-put first)", r->uuid);
    had = store_programme_get(s->store, pt.id, &old) == 0;
    if (!had && errno != ENOENT)
        return reply_error(r, "internal", "cannot read the programme");
    if (!had || r->updated > old.updated) {
        sp = (struct store_programme){
            .patient = pt.id, .sets = s->cfg->protocol.sets_per_session,
            .reps = s->cfg->protocol.reps_per_set, .updated = r->updated,
            .plan = {.active = true, .baseline = NAN, .locked = false,
                     .last_change = isnan(r->last_change) ? 0.0 : r->last_change}};
        programme_merge(&r->prog, &sp);
        if (!(p = malloc(sizeof *p)))
            return reply_error(r, "internal", "out of memory");
        ctl_prog_rules(s->cfg, &pr);
        prog_init(p, &pr, &sp.plan, s->cfg->protocol.day_start_h * 3600.0);
        err = programme_apply(s, r, pt.id, &sp, had, &old, p, "from the clinic's database");
        free(p);
        if (err)
            return err;
    }
    o = reply_ok(r);
    json_object_set_new(o, "patient", json_integer(pt.id));
    json_object_set_new(o, "result", json_string(!had || r->updated > old.updated ? "applied"
                                                                                  : "older"));
    return reply_dump(o);
}

static json_t *report_head(struct service *s, long patient, const struct snapshot *sn,
                           const struct store_programme *sp, const struct prog *rules)
{
    const struct ecc_config *cfg = s->cfg;
    json_t *plan = plan_json(sp, rules);

    json_object_set_new(plan, "utc_offset_s", json_integer(sn->utc_offset_s));
    json_object_set_new(plan, "day_start_h", json_real(cfg->protocol.day_start_h));
    return json_pack("{s:i, s:f, s:{s:I, s:s}, s:o, s:{s:f, s:f, s:f, s:f, s:f}}",
                     "report", 1, "generated", sn->st.wall > 0.0 ? sn->st.wall : (double)time(NULL),
                     "patient", "id", (json_int_t)patient, "name", patient_name(s, patient),
                     "programme", plan, "thresholds",
                     "pain_stop", cfg->progression.pain_stop,
                     "morning_rise", cfg->progression.morning_rise,
                     "up_in_band", cfg->progression.up_in_band,
                     "up_pain_max", cfg->progression.up_pain_max,
                     "adherence_flag", cfg->progression.adherence_flag);
}

static char *do_report(struct service *s, const struct req *r)
{
    long patient = r->patient > 0 ? r->patient : current_patient(s);
    struct store_programme sp;
    struct snapshot sn;
    struct prog *rules = malloc(sizeof *rules);
    json_t *doc, *o;

    if (!rules || !snapshot_read(s, &sn)) {
        free(rules);
        return reply_error(r, "busy", "the control loop has not run yet; try again");
    }
    if (patient <= 0 || programme_now(s, patient, &sp, rules) != 0) {
        free(rules);
        return reply_error(r, "not_found", "the patient has no programme: a report covers one "
                           "(eccctl programme set)");
    }
    doc = store_report(s->store, patient, report_head(s, patient, &sn, &sp, rules),
                       sn.st.band_low, sn.st.band_high);
    free(rules);
    if (!doc)
        return reply_error(r, "internal", "cannot read the history");
    o = reply_ok(r);
    json_object_set_new(o, "report", doc);
    return reply_dump_times(o);
}

/* ---- dispatch ------------------------------------------------------------------------ */

static bool needs_store(enum req_cmd c)
{
    return c == REQ_PAIN || c == REQ_PATIENT_LIST || c == REQ_PATIENT_ADD ||
           c == REQ_PATIENT_SELECT || c == REQ_HISTORY || c == REQ_EXPORT ||
           c == REQ_MORNING || c == REQ_QUESTIONNAIRE || c == REQ_PROGRAMME ||
           c == REQ_PROGRAMME_SET || c == REQ_REPORT || c == REQ_PATIENT_PUT ||
           c == REQ_PROGRAMME_PUT;
}

static char *dispatch(struct service *s, const struct req *r, struct ctlsock_stream *out)
{
    if (needs_store(r->cmd) && !s->store)
        return reply_error(r, "unavailable", "eccd keeps no history: set [history] path in "
                           "the config");
    switch (r->cmd) {
    case REQ_STATUS: return do_status(s, r);
    case REQ_START:
    case REQ_STOP:
    case REQ_NEXT_SET:
    case REQ_RESET_FAULT: return do_command(s, r);
    case REQ_TARE:
    case REQ_CALIBRATE: return do_calibration(s, r);
    case REQ_PAIN: return do_pain(s, r);
    case REQ_PATIENT_LIST: return do_patient_list(s, r);
    case REQ_PATIENT_ADD: return do_patient_add(s, r);
    case REQ_PATIENT_SELECT: return do_patient_select(s, r);
    case REQ_HISTORY: return do_history(s, r, out);
    case REQ_EXPORT: return do_export(s, r, out);
    case REQ_WATCH: return do_watch(s, r, out);
    case REQ_MORNING: return do_morning(s, r);
    case REQ_QUESTIONNAIRE: return do_questionnaire(s, r);
    case REQ_PROGRAMME: return do_programme(s, r);
    case REQ_PROGRAMME_SET: return do_programme_set(s, r);
    case REQ_REPORT: return do_report(s, r);
    case REQ_PATIENT_PUT: return do_patient_put(s, r);
    case REQ_PROGRAMME_PUT: return do_programme_put(s, r);
    case REQ_CMD_COUNT: break;
    }
    return reply_error(r, "unknown_command", "unknown command");
}

char *service_handle(void *arg, const char *line, size_t len, const struct ctlsock_peer *peer,
                     struct ctlsock_stream *stream)
{
    struct service *s = arg;
    struct req r;
    const char *code = "bad_request";
    char msg[512];

    if (req_parse(line, len, &r, &code, msg, sizeof msg) != 0)
        return reply_error(&r, code, "%s", msg);
    log_debug("eccctl (pid %d, uid %u): %s", (int)peer->pid, (unsigned)peer->uid,
              req_cmd_name(r.cmd));
    if (peer->reserved && r.cmd != REQ_STATUS)
        return reply_error(&r, "busy", "eccd is serving as many clients as it may "
                           "(server.max_clients, server.clients_per_user); only status is "
                           "answered on this connection: try again later");
    return dispatch(s, &r, stream);
}
