/* calibration.c - load-cell tare/span file and calibrated sample ring (see calibration.h). */
#include "hal/calibration.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hal/hal.h"
#include "util/worker.h"

#define LINE_MAX_CHARS 256

/* ---- loading ------------------------------------------------------------------------ */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    return s;
}

/* One "key = value" line into cal; seen[] guards against a key given twice. Returns 0, or
 * -1 with the reason in why. */
static int parse_line(char *line, struct calibration *cal, bool seen[3], const char **why)
{
    static const char *const keys[3] = {"offset", "scale", "span_kg"};
    static const char *const allowed[3] = {
        "not a number (allowed: any finite number)",
        "not a number (allowed: any finite non-zero number)",
        "not a mass (allowed: a number above 0, in kg)"};
    char *eq = strchr(line, '=');
    int k;

    if (!eq) {
        *why = "expected \"offset = COUNTS\", \"scale = N_PER_COUNT\" or \"span_kg = KG\"";
        return -1;
    }
    *eq = '\0';
    char *key = trim(line), *val = trim(eq + 1), *end;
    for (k = 0; k < 3 && strcmp(key, keys[k]) != 0; k++)
        ;
    if (k == 3) {
        *why = "unknown key (allowed: offset, scale, span_kg)";
        return -1;
    }
    if (seen[k]) {
        *why = "key given twice";
        return -1;
    }
    errno = 0;
    double v = strtod(val, &end);
    if (!*val || *end || errno == ERANGE || !isfinite(v) || (k == 1 && v == 0.0) ||
        (k == 2 && !(v > 0.0))) {
        *why = allowed[k];
        return -1;
    }
    seen[k] = true;
    if (k == 0)
        cal->offset = v;
    else if (k == 1)
        cal->scale = v;
    else
        cal->mass_kg = v;
    return 0;
}

static int parse_file(FILE *in, const char *path, struct calibration *cal, char *err,
                      size_t errlen)
{
    char buf[LINE_MAX_CHARS + 2];
    bool seen[3] = {false, false, false};
    struct calibration tmp = *cal;
    const char *why = NULL;
    int lineno = 0;

    while (!why && fgets(buf, sizeof buf, in)) {
        lineno++;
        if (!strchr(buf, '\n') && !feof(in)) {
            why = "line too long";
            break;
        }
        char *s = trim(buf);
        if (*s && *s != '#' && *s != ';' && parse_line(s, &tmp, seen, &why) < 0)
            break;
    }
    if (!why && ferror(in)) {
        snprintf(err, errlen, "%s: read error", path);
        errno = EIO;
        return -1;
    }
    if (why) {
        snprintf(err, errlen, "%s:%d: %s", path, lineno, why);
        errno = EINVAL;
        return -1;
    }
    *cal = tmp;                      /* all or nothing */
    return 0;
}

int calibration_load(const char *path, struct calibration *cal, char *err, size_t errlen)
{
    FILE *in = fopen(path, "r");

    if (!in) {
        if (errno == ENOENT)
            return 1;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    int rc = parse_file(in, path, cal, err, errlen);
    int saved = errno;
    fclose(in);
    errno = saved;
    return rc;
}

/* ---- saving ------------------------------------------------------------------------- */

static void dir_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, len, ".");
    else if (slash == path)
        snprintf(dir, len, "/");
    else
        snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

static int write_body(FILE *out, const struct calibration *cal)
{
    char when[32];
    time_t now = time(NULL);
    struct tm tm;

    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(out, "# eccd load-cell calibration, saved %s\n", when);
    if (cal->mass_kg > 0.0)
        fprintf(out, "# span: %g kg (%.3f N)\n", cal->mass_kg, cal->mass_kg * CALIBRATION_G);
    else
        fprintf(out, "# span: no known mass used (scale from the config)\n");
    fprintf(out, "offset = %.17g\nscale = %.17g\n", cal->offset, cal->scale);
    if (cal->mass_kg > 0.0)
        fprintf(out, "span_kg = %.17g\n", cal->mass_kg);
    return fflush(out) == 0 && fsync(fileno(out)) == 0 ? 0 : -1;
}

static int sync_dir(const char *path)
{
    char dir[PATH_MAX];

    dir_of(path, dir, sizeof dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

int calibration_save(const char *path, const struct calibration *cal)
{
    char tmp[PATH_MAX];

    if (!path || !isfinite(cal->offset) || !isfinite(cal->scale) || cal->scale == 0.0) {
        errno = EINVAL;
        return -1;
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) >= (int)sizeof tmp) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = mkstemp(tmp);
    if (fd < 0)
        return -1;
    FILE *out = fdopen(fd, "w");
    if (!out) {
        close(fd);
        unlink(tmp);
        return -1;
    }
    int rc = write_body(out, cal);
    int saved = errno;
    if (fclose(out) != 0 && rc == 0) {
        rc = -1;
        saved = errno;
    }
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -1;
        saved = errno;
    }
    if (rc != 0) {
        unlink(tmp);
        errno = saved;
        return -1;
    }
    return sync_dir(path);
}

/* ---- the ring ----------------------------------------------------------------------- */

/* A job runs (TARE, SPAN: on the readings; HW_TARE: waits for the front end), then, when
 * it changed the calibration, is SAVING until the file is written: only then is it
 * counted and no longer pending, so a finished job is one that is on disk. */
enum cal_job { JOB_NONE = 0, JOB_TARE, JOB_SPAN, JOB_HW_TARE, JOB_SAVING };

struct calibration_ring {
    pthread_mutex_t mu;               /* guards everything but path and the constants */
    double full_scale_n;
    int cal_readings;                 /* for the struct hal_force tare and span */
    bool hw_tare;
    bool raw_measured;                /* no count limits on a span */
    char *path;                       /* NULL: results not saved */
    double *ring_t, *ring_n;          /* s (HAL clock), N */
    int len, head, count;
    struct calibration_ring_status st;
    enum cal_job job;
    enum cal_job saving;              /* the job being saved (JOB_SAVING) */
    int job_n, job_got;               /* readings wanted, taken */
    double job_sum;                   /* counts */
    double job_mass;                  /* kg */
    bool job_confirmed;               /* a span the operator confirmed (any change) */
    double span_change_max;           /* share; 0: any change without confirming */

    /* The reader thread (calibration_ring_start). */
    struct worker w;
    /* The saver thread (calibration_ring_save_apart): it writes the file a job's result
     * goes to, so that the thread that fed the job never waits on the disk. */
    struct worker saver;
    bool save_due;                    /* under mu: save_cal waits for the saver */
    struct calibration save_cal;
    double (*fill)(void *arg);
    void *fill_arg;
};

int calibration_ring_params_from_config(const struct ecc_config *cfg,
                                        struct calibration_ring_params *p, char *path,
                                        size_t pathlen, char *err, size_t errlen)
{
    *p = (struct calibration_ring_params){
        .cal = {.offset = cfg->loadcell.offset, .scale = cfg->loadcell.scale},
        .full_scale_n = cfg->loadcell.full_scale_n,
        .span_change_max = cfg->loadcell.span_change_max,
        .cal_readings = (int)cfg->loadcell.rate_hz,      /* about a second of readings */
        .hw_tare = cfg->loadcell.type == CFG_LOADCELL_MODBUS && cfg->loadcell.tare_reg >= 0,
        .raw_measured = cfg->loadcell.type == CFG_LOADCELL_MODBUS &&
                        cfg->loadcell.data_type == CFG_DT_FLOAT32,
    };
    if (!cfg->loadcell.calibration[0])
        return 0;
    /* Like every path in the config, relative to the config file. */
    if (config_resolve_path(cfg, cfg->loadcell.calibration, path, pathlen) != 0) {
        snprintf(err, errlen, "[loadcell] calibration: the path is too long");
        errno = ENAMETOOLONG;
        return -1;
    }
    p->path = path;
    return 0;
}

static struct calibration_ring *ring_alloc(const struct calibration_ring_params *p)
{
    if (!p || !isfinite(p->cal.offset) || !isfinite(p->cal.scale) || p->cal.scale == 0.0 ||
        !(p->full_scale_n > 0.0) || p->ring_len < 0 || p->cal_readings < 0) {
        errno = EINVAL;
        return NULL;
    }
    struct calibration_ring *r = calloc(1, sizeof *r);
    int len = p->ring_len ? p->ring_len : CALIBRATION_RING_DEFAULT;
    if (r) {
        r->ring_t = calloc((size_t)len, sizeof *r->ring_t);
        r->ring_n = calloc((size_t)len, sizeof *r->ring_n);
        r->path = p->path && *p->path ? strdup(p->path) : NULL;
    }
    if (!r || !r->ring_t || !r->ring_n || (p->path && *p->path && !r->path)) {
        if (r) {
            free(r->ring_t);
            free(r->ring_n);
            free(r->path);
        }
        free(r);
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&r->mu, NULL);
    worker_init(&r->w);
    worker_init(&r->saver);
    r->len = len;
    r->full_scale_n = p->full_scale_n;
    r->cal_readings = p->cal_readings > 0 ? p->cal_readings : 1;
    r->hw_tare = p->hw_tare;
    r->raw_measured = p->raw_measured;
    r->st.cal = p->cal;
    r->st.t_last = -1.0;
    r->st.refused_scale = NAN;
    r->span_change_max = p->span_change_max;
    return r;
}

struct calibration_ring *calibration_ring_open(const struct calibration_ring_params *p,
                                               char *err, size_t errlen)
{
    struct calibration_ring_params q = *p;

    if (q.path && *q.path && calibration_load(q.path, &q.cal, err, errlen) < 0)
        return NULL;
    struct calibration_ring *r = ring_alloc(&q);
    if (!r)
        snprintf(err, errlen, "load cell: %s", errno == EINVAL ? "bad calibration parameters" : strerror(errno));
    return r;
}

void calibration_ring_close(struct calibration_ring *r)
{
    if (!r)
        return;
    worker_fini(&r->w);         /* stops the reader first */
    worker_fini(&r->saver);     /* ... and the saver, after a save still due */
    pthread_mutex_destroy(&r->mu);
    free(r->ring_t);
    free(r->ring_n);
    free(r->path);
    free(r);
}

/* Under the mutex: append, dropping the oldest when full. */
static void ring_append(struct calibration_ring *r, double t, double n)
{
    if (r->count == r->len) {
        r->head = (r->head + 1) % r->len;
        r->count--;
        r->st.dropped++;
    }
    int tail = (r->head + r->count) % r->len;
    r->ring_t[tail] = t;
    r->ring_n[tail] = n;
    r->count++;
}

/* A span's new scale, before it is used: the cell must still be able to show its full
 * scale within the counts a 24-bit converter has (a scale so small would read every force
 * as nearly nothing, and an over-force would never be seen), and, after an earlier span,
 * a change of more than span_change_max (or of sign: the wires swapped) needs the
 * operator's confirmation. */
static bool span_plausible(const struct calibration_ring *r, double scale)
{
    double counts_at_full = r->full_scale_n / fabs(scale);
    double before = r->st.cal.scale;

    if (!isfinite(scale) || scale == 0.0 ||
        (!r->raw_measured && (counts_at_full > CALIBRATION_COUNTS_MAX ||
                              counts_at_full < CALIBRATION_COUNTS_MIN)))
        return false;
    if (r->job_confirmed || r->span_change_max <= 0.0 || !(r->st.cal.mass_kg > 0.0))
        return true;                 /* confirmed, or no earlier span to compare with */
    return scale / before > 0.0 && fabs(scale / before - 1.0) <= r->span_change_max;
}

/* Under the mutex: the job's result is in use; it is saved next (job_save). */
static void job_saving(struct calibration_ring *r)
{
    r->saving = r->job;
    r->job = JOB_SAVING;
}

/* Under the mutex: the mass made no difference to the readings (no mass on the plate?):
 * they stayed within a few counts of the zero, or, for a measured value (raw_measured),
 * moved by less than CALIBRATION_MIN_SPAN_SHARE of the mass's weight at the scale in use. */
static bool span_unseen(const struct calibration_ring *r, double mean)
{
    double moved = fabs(mean - r->st.cal.offset);

    if (!r->raw_measured)
        return moved < CALIBRATION_MIN_SPAN_COUNTS;
    return moved * fabs(r->st.cal.scale) < CALIBRATION_MIN_SPAN_SHARE * r->job_mass * CALIBRATION_G;
}

/* Under the mutex: a span that changes nothing (EDOM: the mass made no difference;
 * ERANGE: implausible). Returns false: the calibration did not change. */
static bool span_refused(struct calibration_ring *r, int why)
{
    r->job = JOB_NONE;
    r->st.span_pending = false;
    r->st.last_error = why;
    return false;
}

/* Under the mutex: apply a finished job. Returns true if the calibration changed. */
static bool job_finish(struct calibration_ring *r)
{
    double mean = r->job_sum / r->job_got;

    if (r->job == JOB_TARE) {
        r->st.cal.offset = mean;
        job_saving(r);
        return true;
    }
    if (span_unseen(r, mean))
        return span_refused(r, EDOM);
    double scale = r->job_mass * CALIBRATION_G / (mean - r->st.cal.offset);
    r->st.refused_scale = NAN;
    if (!span_plausible(r, scale)) {
        r->st.refused_scale = scale;
        r->st.refused_spans++;
        return span_refused(r, ERANGE);      /* the calibration in use is left as it was */
    }
    r->st.cal.scale = scale;
    r->st.cal.mass_kg = r->job_mass;
    job_saving(r);
    return true;
}

/* Under the mutex: feed a running job. Returns true if the calibration changed. */
static bool job_feed(struct calibration_ring *r, double raw)
{
    if (r->job != JOB_TARE && r->job != JOB_SPAN)
        return false;                /* none, the front end's own tare, or saving */
    r->job_sum += raw;
    return ++r->job_got >= r->job_n && job_finish(r);
}

/* Save cal, the result of the job being saved (file I/O: outside the mutex), then count
 * the job done. Returns 0, or -1 with errno if the file could not be written (the result
 * is in use anyway; counted, and in last_error). */
static int job_save_now(struct calibration_ring *r, const struct calibration *cal,
                        bool apart)
{
    int rc = r->path ? calibration_save(r->path, cal) : 0;
    int e = errno;

    pthread_mutex_lock(&r->mu);
    r->st.saved_apart += apart;
    if (rc != 0) {
        r->st.save_errors++;
        r->st.last_error = e;
    }
    if (r->saving == JOB_SPAN)
        r->st.spans++;
    else
        r->st.tares++;
    r->st.tare_pending = r->st.span_pending = false;
    r->job = JOB_NONE;
    pthread_mutex_unlock(&r->mu);
    errno = e;
    return rc;
}

/* The job's result saved: on the saver thread when there is one (the caller goes on at
 * once; the job stays pending until the file is written), else here. */
static int job_save(struct calibration_ring *r, const struct calibration *cal)
{
    if (!r->saver.started)
        return job_save_now(r, cal, false);
    pthread_mutex_lock(&r->mu);
    r->save_cal = *cal;
    r->save_due = true;
    pthread_mutex_unlock(&r->mu);
    worker_wake(&r->saver);
    return 0;
}

/* The saver: a save when woken for one; at a stop, a save still due first. */
static void *saver_thread(void *arg)
{
    struct calibration_ring *r = arg;
    bool go_on;

    do {
        struct timespec far = worker_after(worker_now(), 3600.0);
        struct calibration cal;
        bool due;

        go_on = worker_wait(&r->saver, &far);
        pthread_mutex_lock(&r->mu);
        due = r->save_due;
        cal = r->save_cal;
        r->save_due = false;
        pthread_mutex_unlock(&r->mu);
        if (due)
            job_save_now(r, &cal, true);
    } while (go_on);
    return NULL;
}

int calibration_ring_save_apart(struct calibration_ring *r)
{
    return worker_start(&r->saver, saver_thread, r, 0, 0);
}

int calibration_ring_push(struct calibration_ring *r, double t, double raw, bool at_rail)
{
    struct calibration cal;

    pthread_mutex_lock(&r->mu);
    bool changed = !at_rail && isfinite(raw) && job_feed(r, raw);
    double n = (raw - r->st.cal.offset) * r->st.cal.scale;
    bool sat = at_rail || fabs(n) >= r->full_scale_n;
    /* A saturated reading only says "at least this much": it goes on pinned at full
     * scale, which is what the supervisor's saturation check looks for. */
    ring_append(r, t, sat ? copysign(r->full_scale_n, n) : n);
    r->st.raw = raw;
    r->st.t_last = t;
    r->st.saturated = sat;
    r->st.samples++;
    r->st.saturated_samples += sat;
    cal = r->st.cal;
    pthread_mutex_unlock(&r->mu);
    return changed ? job_save(r, &cal) : 0;
}

int calibration_ring_read(void *ctx, double *t, double *newtons, int max)
{
    struct calibration_ring *r = ctx;
    int n = 0;

    pthread_mutex_lock(&r->mu);
    while (n < max && r->count > 0) {
        t[n] = r->ring_t[r->head];
        newtons[n] = r->ring_n[r->head];
        r->head = (r->head + 1) % r->len;
        r->count--;
        n++;
    }
    pthread_mutex_unlock(&r->mu);
    return n;
}

static int job_start(struct calibration_ring *r, enum cal_job job, double mass_kg, int n,
                     bool confirmed)
{
    pthread_mutex_lock(&r->mu);
    bool busy = r->job != JOB_NONE;
    if (!busy) {
        r->job = job;
        r->job_n = n;
        r->job_got = 0;
        r->job_sum = 0.0;
        r->job_mass = mass_kg;
        r->job_confirmed = confirmed;
        r->st.tare_pending = job == JOB_TARE || job == JOB_HW_TARE;
        r->st.span_pending = job == JOB_SPAN;
        r->st.last_error = 0;
    }
    pthread_mutex_unlock(&r->mu);
    if (busy)
        errno = EBUSY;
    return busy ? -1 : 0;
}

int calibration_ring_tare(struct calibration_ring *r, int n)
{
    if (n < 1) {
        errno = EINVAL;
        return -1;
    }
    return job_start(r, r->hw_tare ? JOB_HW_TARE : JOB_TARE, 0.0, n, false);
}

int calibration_ring_span(struct calibration_ring *r, double mass_kg, int n, bool confirmed)
{
    if (n < 1 || !isfinite(mass_kg) || !(mass_kg > 0.0)) {
        errno = EINVAL;
        return -1;
    }
    if (mass_kg * CALIBRATION_G > r->full_scale_n) {
        errno = EDOM;               /* more than the cell can carry: it would saturate */
        return -1;
    }
    return job_start(r, JOB_SPAN, mass_kg, n, confirmed);
}

void calibration_ring_status(struct calibration_ring *r, struct calibration_ring_status *st)
{
    pthread_mutex_lock(&r->mu);
    *st = r->st;
    pthread_mutex_unlock(&r->mu);
}

struct calibration calibration_ring_get(struct calibration_ring *r)
{
    pthread_mutex_lock(&r->mu);
    struct calibration cal = r->st.cal;
    pthread_mutex_unlock(&r->mu);
    return cal;
}

bool calibration_ring_hw_tare_due(struct calibration_ring *r)
{
    pthread_mutex_lock(&r->mu);
    bool due = r->job == JOB_HW_TARE;
    pthread_mutex_unlock(&r->mu);
    return due;
}

int calibration_ring_hw_tare_done(struct calibration_ring *r)
{
    pthread_mutex_lock(&r->mu);
    bool was_due = r->job == JOB_HW_TARE;
    if (was_due) {
        r->st.cal.offset = 0.0;      /* the front end reads net from now on */
        job_saving(r);
    }
    struct calibration cal = r->st.cal;
    pthread_mutex_unlock(&r->mu);
    return was_due ? job_save(r, &cal) : 0;
}

/* ---- struct hal_force ---------------------------------------------------------------- */

static int hal_tare(void *ctx)
{
    struct calibration_ring *r = ctx;
    return calibration_ring_tare(r, r->cal_readings);
}

static int hal_span(void *ctx, double mass_kg, bool confirmed)
{
    struct calibration_ring *r = ctx;
    return calibration_ring_span(r, mass_kg, r->cal_readings, confirmed);
}

static int hal_cal_status(void *ctx, struct hal_cal_status *cs)
{
    struct calibration_ring_status st;

    calibration_ring_status(ctx, &st);
    cs->pending = st.tare_pending || st.span_pending;
    cs->tares = st.tares;
    cs->spans = st.spans;
    cs->offset = st.cal.offset;
    cs->scale = st.cal.scale;
    cs->mass_kg = st.cal.mass_kg;
    cs->last_error = st.last_error;
    cs->refused_spans = st.refused_spans;
    cs->refused_scale = st.refused_scale;
    return 0;
}

void calibration_ring_hal(struct calibration_ring *r, struct hal_force *f)
{
    *f = (struct hal_force){.read = calibration_ring_read, .tare = hal_tare, .span = hal_span,
                            .cal_status = hal_cal_status, .ctx = r};
}

/* ---- the reader thread -------------------------------------------------------------- */

/* Read (fill returns when to read next, in s), then wait for that or a stop. */
static void *reader_thread(void *arg)
{
    struct calibration_ring *r = arg;

    for (;;) {
        struct timespec due = worker_after(worker_now(), r->fill(r->fill_arg));

        if (!worker_wait(&r->w, &due))
            return NULL;
    }
}

int calibration_ring_start(struct calibration_ring *r, double (*fill)(void *arg), void *arg)
{
    if (!fill) {
        errno = EINVAL;
        return -1;
    }
    if (r->w.started) {
        errno = EBUSY;
        return -1;
    }
    r->fill = fill;
    r->fill_arg = arg;
    return worker_start(&r->w, reader_thread, r, 0, 0);
}

void calibration_ring_stop(struct calibration_ring *r)
{
    worker_stop(&r->w);
}
