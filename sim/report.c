/* report.c - load eccd's rep log and trace, summarise and print them (see report.h). */
#include "sim/report.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------------ */

static int fail(char *err, size_t errlen, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int errnum, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    errno = errnum;
    return -1;
}

/* Room for one more element in an array holding n; capacity doubles at powers of two.
 * Returns the (possibly moved) array, or NULL (the old one is still valid). */
static void *grow(void *arr, size_t n, size_t size)
{
    size_t cap;

    if (n && (n & (n - 1)))
        return arr;
    cap = n ? 2 * n : 1;
    if (cap > SIZE_MAX / size)
        return NULL;
    return realloc(arr, cap * size);
}

/* Append item (size bytes) to the array *arrp holding *n elements. Returns 0, or -1 when
 * memory runs out (the array is left as it was). arrp points at a typed array pointer;
 * it is read and written through memcpy so any element type goes through one function. */
static int append(void *arrp, size_t *n, const void *item, size_t size)
{
    void *arr, *grown;

    memcpy(&arr, arrp, sizeof arr);
    grown = grow(arr, *n, size);
    if (!grown)
        return -1;
    memcpy((char *)grown + *n * size, item, size);
    memcpy(arrp, &grown, sizeof grown);
    (*n)++;
    return 0;
}

void report_sanitize(char *dst, size_t n, const char *s)
{
    size_t i;

    if (!n)
        return;
    for (i = 0; i + 1 < n && s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        dst[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    dst[i] = '\0';
}

static const char *const verdict_names[REPORT_VERDICTS] = {
    "counted", "too_short", "too_little_travel", "out_of_band", "aborted",
    "above_band_at_min_speed", "below_band_at_max_speed"};
static const char *const verdict_labels[REPORT_VERDICTS] = {
    "counted", "too short", "too little travel", "out of band", "aborted",
    "above band at min speed", "below band at max speed"};

static int verdict_from_name(const char *s)
{
    for (int v = 0; v < REPORT_VERDICTS; v++)
        if (!strcmp(s, verdict_names[v]))
            return v;
    return -1;
}

const char *report_mode_title(const char *mode)
{
    if (!strcmp(mode, "continuous"))
        return "Closed loop";
    if (!strcmp(mode, "fixed"))
        return "Fixed speed";
    if (!strcmp(mode, "reactive"))
        return "Reactive";
    return mode;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');

    return slash ? slash + 1 : path;
}

/* ---- rep log: one JSON object per line ------------------------------------- */

struct line_ctx {
    const char *path;
    long line;
    json_t *obj;
    char *err;
    size_t errlen;
};

static int line_fail(const struct line_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int line_fail(const struct line_ctx *c, const char *fmt, ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(c->err, c->errlen, EINVAL, "%s:%ld: %s", c->path, c->line, msg);
}

static int out_of_memory(const struct line_ctx *c)
{
    return fail(c->err, c->errlen, ENOMEM, "%s:%ld: out of memory", c->path, c->line);
}

enum ftype { F_NUM, F_INT, F_LONG, F_STR };
enum { F_OPTIONAL = 1, F_NULLABLE = 2 };

struct field {
    const char *key;
    enum ftype type;
    size_t off;
    size_t size;                 /* F_STR: the buffer's size */
    unsigned flags;
};

#define NUM(s, k) {#k, F_NUM, offsetof(s, k), 0, 0}
#define INT(s, k) {#k, F_INT, offsetof(s, k), 0, 0}
#define STR(s, k, fl) {#k, F_STR, offsetof(s, k), sizeof(((s *)0)->k), fl}

static int read_integer(const struct line_ctx *c, const char *key, json_t *v, long long lo,
                        long long hi, long long *out)
{
    double d = json_is_real(v) ? json_real_value(v) : 0.5;

    if (json_is_integer(v)) {
        *out = json_integer_value(v);
    } else if (d == floor(d) && fabs(d) < 1e15) {
        *out = (long long)d;
    } else {
        return line_fail(c, "\"%s\" must be a whole number", key);
    }
    if (*out < lo || *out > hi)
        return line_fail(c, "\"%s\" is %lld, out of range", key, *out);
    return 0;
}

static int read_field(const struct line_ctx *c, const struct field *f, void *base)
{
    json_t *v = json_object_get(c->obj, f->key);
    char *dst = (char *)base + f->off;
    long long i = 0;

    if (!v)
        return (f->flags & F_OPTIONAL) ? 0 : line_fail(c, "missing \"%s\"", f->key);
    if (json_is_null(v) && (f->flags & F_NULLABLE)) {
        *(double *)dst = NAN;
        return 0;
    }
    switch (f->type) {
    case F_NUM:
        if (!json_is_number(v))
            return line_fail(c, "\"%s\" must be a number", f->key);
        *(double *)dst = json_number_value(v);
        return 0;
    case F_INT:
    case F_LONG:
        if (read_integer(c, f->key, v, f->type == F_INT ? INT_MIN : LONG_MIN,
                         f->type == F_INT ? INT_MAX : LONG_MAX, &i) < 0)
            return -1;
        if (f->type == F_INT)
            *(int *)dst = (int)i;
        else
            *(long *)dst = (long)i;
        return 0;
    case F_STR:
        if (!json_is_string(v))
            return line_fail(c, "\"%s\" must be a string", f->key);
        if (json_string_length(v) >= f->size)
            return line_fail(c, "\"%s\" is longer than %zu characters", f->key, f->size - 1);
        report_sanitize(dst, f->size, json_string_value(v));
        return 0;
    }
    return line_fail(c, "internal error: field type");
}

static int read_fields(const struct line_ctx *c, const struct field *f, size_t n, void *base)
{
    for (size_t i = 0; i < n; i++)
        if (read_field(c, &f[i], base) < 0)
            return -1;
    return 0;
}

#define READ_FIELDS(c, table, base) read_fields(c, table, sizeof table / sizeof table[0], base)

/* "YYYY-MM-DDTHH:MM:SS.mmmZ": digits where the pattern has 'd', every part in range. */
static int wall_well_formed(const char *s)
{
    static const char pattern[] = "dddd-dd-ddTdd:dd:dd.dddZ";
    int mo, d, h, mi, sec;

    if (strlen(s) != sizeof pattern - 1)
        return 0;
    for (size_t i = 0; i < sizeof pattern - 1; i++)
        if (pattern[i] == 'd' ? !isdigit((unsigned char)s[i]) : s[i] != pattern[i])
            return 0;
    if (sscanf(s + 5, "%2d-%2dT%2d:%2d:%2d", &mo, &d, &h, &mi, &sec) != 5)
        return 0;
    return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60;
}

/* The optional "wall" of any line: out is "" when it is absent or null. */
static int read_wall(const struct line_ctx *c, char *out)
{
    json_t *v = json_object_get(c->obj, "wall");

    out[0] = '\0';
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v) || !wall_well_formed(json_string_value(v)))
        return line_fail(c, "\"wall\" must be UTC with milliseconds as "
                            "\"2026-01-05T07:00:00.000Z\" (or null)");
    memcpy(out, json_string_value(v), REPORT_WALL_MAX);
    return 0;
}

static int check_min(const struct line_ctx *c, const char *key, double v, double lo)
{
    return v >= lo ? 0 : line_fail(c, "\"%s\" is %g, must be at least %g", key, v, lo);
}

static int check_share(const struct line_ctx *c, const char *key, double v)
{
    if (isnan(v) || (v >= 0.0 && v <= 1.0))
        return 0;
    return line_fail(c, "\"%s\" is %g, must be between 0 and 1", key, v);
}

static int parse_run(struct report_log *log, const struct line_ctx *c)
{
    static const struct field fields[] = {
        INT(struct report_run, version),
        STR(struct report_run, mode, 0),
        NUM(struct report_run, band_low),
        NUM(struct report_run, band_high),
        NUM(struct report_run, speed_max),
        INT(struct report_run, reps_per_set),
        INT(struct report_run, sets_per_session),
        STR(struct report_run, config, F_OPTIONAL),
        STR(struct report_run, scenario, F_OPTIONAL),
        {"seed", F_LONG, offsetof(struct report_run, seed), 0, F_OPTIONAL},
    };
    struct report_run *r = &log->run;

    if (r->line)
        return line_fail(c, "a second \"run\" line (the first is line %ld; one run per file)",
                         r->line);
    if (READ_FIELDS(c, fields, r) < 0 || read_wall(c, r->wall) < 0)
        return -1;
    r->line = c->line;
    if (r->version != REPORT_LOG_VERSION)
        return line_fail(c, "rep log version %d; this eccreport reads version %d", r->version,
                         REPORT_LOG_VERSION);
    if (!(r->band_low < r->band_high))
        return line_fail(c, "\"band_low\" (%g) must be below \"band_high\" (%g)", r->band_low,
                         r->band_high);
    if (check_min(c, "speed_max", r->speed_max, 0.0) < 0 ||
        check_min(c, "reps_per_set", r->reps_per_set, 1) < 0)
        return -1;
    return check_min(c, "sets_per_session", r->sets_per_session, 1);
}

static int check_stroke(const struct line_ctx *c, const struct report_stroke *s)
{
    if (check_min(c, "session", s->session, 1) < 0 || check_min(c, "set", s->set, 1) < 0 ||
        check_min(c, "rep", s->rep, 0) < 0 || check_min(c, "stroke", s->stroke, 1) < 0 ||
        check_min(c, "duration_s", s->duration_s, 0.0) < 0 ||
        check_min(c, "travel_m", s->travel_m, 0.0) < 0 ||
        check_min(c, "in_band_s", s->in_band_s, 0.0) < 0)
        return -1;
    if (s->t_start > s->t + 0.0005)
        return line_fail(c, "\"t_start\" (%g) is after \"t\" (%g)", s->t_start, s->t);
    return check_share(c, "in_band_share", s->in_band_share);
}

static int parse_stroke(struct report_log *log, const struct line_ctx *c, int counted)
{
    static const struct field fields[] = {
        NUM(struct report_stroke, t),          INT(struct report_stroke, session),
        INT(struct report_stroke, set),        INT(struct report_stroke, rep),
        INT(struct report_stroke, stroke),     NUM(struct report_stroke, t_start),
        NUM(struct report_stroke, duration_s), NUM(struct report_stroke, travel_m),
        NUM(struct report_stroke, peak_n),     NUM(struct report_stroke, mean_n),
        NUM(struct report_stroke, in_band_s),  NUM(struct report_stroke, in_band_share),
        NUM(struct report_stroke, work_j),
    };
    static const struct field verdict_field = {"verdict", F_STR, 0, 24, 0};
    struct report_stroke s = {0};
    char verdict[24];
    int v;

    if (READ_FIELDS(c, fields, &s) < 0 || read_field(c, &verdict_field, verdict) < 0 ||
        read_wall(c, s.wall) < 0 || check_stroke(c, &s) < 0)
        return -1;
    v = verdict_from_name(verdict);
    if (v < 0)
        return line_fail(c, "unknown verdict \"%s\"", verdict);
    if (counted && v != REPORT_COUNTED)
        return line_fail(c, "a \"rep\" line must have verdict \"counted\", not \"%s\"", verdict);
    if (!counted && v == REPORT_COUNTED)
        return line_fail(c, "a \"reject\" line needs a reason as verdict (too_short, "
                            "too_little_travel, out_of_band, aborted, above_band_at_min_speed "
                            "or below_band_at_max_speed), not \"counted\"");
    s.verdict = (enum report_verdict)v;
    s.line = c->line;
    return append(&log->strokes, &log->n_strokes, &s, sizeof s) ? out_of_memory(c) : 0;
}

static int parse_rep(struct report_log *log, const struct line_ctx *c)
{
    return parse_stroke(log, c, 1);
}

static int parse_reject(struct report_log *log, const struct line_ctx *c)
{
    return parse_stroke(log, c, 0);
}

static int parse_set(struct report_log *log, const struct line_ctx *c)
{
    typedef struct report_set_line S;
    static const struct field fields[] = {
        NUM(S, t), INT(S, session), INT(S, set), INT(S, counted), INT(S, rejected),
        {"too_short", F_INT, offsetof(S, by_verdict[REPORT_TOO_SHORT]), 0, 0},
        {"too_little_travel", F_INT, offsetof(S, by_verdict[REPORT_TOO_LITTLE_TRAVEL]), 0, 0},
        {"out_of_band", F_INT, offsetof(S, by_verdict[REPORT_OUT_OF_BAND]), 0, 0},
        {"aborted", F_INT, offsetof(S, by_verdict[REPORT_ABORTED]), 0, 0},
        /* newer logs; older ones never had these reasons */
        {"above_band_at_min_speed", F_INT, offsetof(S, by_verdict[REPORT_ABOVE_AT_MIN]), 0,
         F_OPTIONAL},
        {"below_band_at_max_speed", F_INT, offsetof(S, by_verdict[REPORT_BELOW_AT_MAX]), 0,
         F_OPTIONAL},
        {"in_band_share", F_NUM, offsetof(S, in_band_share), 0, F_NULLABLE},
        NUM(S, duration_s),
    };
    S s = {0};

    if (READ_FIELDS(c, fields, &s) < 0 || read_wall(c, s.wall) < 0)
        return -1;
    if (check_min(c, "session", s.session, 1) < 0 || check_min(c, "set", s.set, 1) < 0 ||
        check_min(c, "counted", s.counted, 0) < 0 || check_min(c, "rejected", s.rejected, 0) < 0 ||
        check_min(c, "duration_s", s.duration_s, 0.0) < 0 ||
        check_share(c, "in_band_share", s.in_band_share) < 0)
        return -1;
    for (int v = 1; v < REPORT_VERDICTS; v++)
        if (check_min(c, verdict_names[v], s.by_verdict[v], 0) < 0)
            return -1;
    s.line = c->line;
    return append(&log->sets, &log->n_sets, &s, sizeof s) ? out_of_memory(c) : 0;
}

static int parse_session(struct report_log *log, const struct line_ctx *c)
{
    typedef struct report_session_line S;
    static const struct field fields[] = {
        NUM(S, t), INT(S, session), INT(S, sets), INT(S, counted), INT(S, rejected),
    };
    S s = {0};

    if (READ_FIELDS(c, fields, &s) < 0 || read_wall(c, s.wall) < 0)
        return -1;
    if (check_min(c, "session", s.session, 1) < 0 || check_min(c, "sets", s.sets, 0) < 0 ||
        check_min(c, "counted", s.counted, 0) < 0 || check_min(c, "rejected", s.rejected, 0) < 0)
        return -1;
    s.line = c->line;
    return append(&log->sessions, &log->n_sessions, &s, sizeof s) ? out_of_memory(c) : 0;
}

static int parse_fault_or_reset(struct report_log *log, const struct line_ctx *c, int is_reset)
{
    typedef struct report_fault S;
    static const struct field fields[] = {
        NUM(S, t), STR(S, fault, 0), NUM(S, value), NUM(S, limit),
    };
    S s = {0};

    s.value = s.limit = NAN;
    if (read_fields(c, fields, is_reset ? 2 : 4, &s) < 0 || read_wall(c, s.wall) < 0)
        return -1;
    s.is_reset = is_reset;
    s.line = c->line;
    return append(&log->faults, &log->n_faults, &s, sizeof s) ? out_of_memory(c) : 0;
}

static int parse_fault(struct report_log *log, const struct line_ctx *c)
{
    return parse_fault_or_reset(log, c, 0);
}

static int parse_reset(struct report_log *log, const struct line_ctx *c)
{
    return parse_fault_or_reset(log, c, 1);
}

/* Operator commands are logged by eccd but say nothing about the reps: known, not kept. */
static int parse_command(struct report_log *log, const struct line_ctx *c)
{
    (void)log;
    (void)c;
    return 0;
}

static const struct event_parser {
    const char *name;
    int (*parse)(struct report_log *log, const struct line_ctx *c);
} event_parsers[] = {
    {"run", parse_run},         {"rep", parse_rep},     {"reject", parse_reject},
    {"set", parse_set},         {"session", parse_session}, {"fault", parse_fault},
    {"reset", parse_reset},     {"command", parse_command},
};

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

static int dispatch_event(struct report_log *log, const struct line_ctx *c)
{
    json_t *ev = json_object_get(c->obj, "event");
    const char *name;

    if (!json_is_string(ev))
        return line_fail(c, "no \"event\" name (each line must be {\"event\":\"...\",...})");
    name = json_string_value(ev);
    for (size_t i = 0; i < sizeof event_parsers / sizeof event_parsers[0]; i++) {
        if (strcmp(name, event_parsers[i].name))
            continue;
        if (i > 0 && !log->run.line)
            return line_fail(c, "\"%s\" line before the \"run\" line", name);
        return event_parsers[i].parse(log, c);
    }
    log->n_skipped++;            /* an event from a newer eccd: not ours to judge */
    return 0;
}

static int parse_log_line(struct report_log *log, struct line_ctx *c, const char *text, size_t len)
{
    json_error_t jerr;
    int rc;

    if (is_blank(text, len))
        return 0;
    c->obj = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!c->obj)
        return line_fail(c, "not valid JSON: %s (column %d)", jerr.text, jerr.column);
    if (!json_is_object(c->obj))
        rc = line_fail(c, "not a JSON object");
    else
        rc = dispatch_event(log, c);
    json_decref(c->obj);
    c->obj = NULL;
    return rc;
}

static int read_log_lines(FILE *f, struct report_log *log, struct line_ctx *c)
{
    char *text = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;

    while (rc == 0 && (len = getline(&text, &cap, f)) >= 0) {
        c->line++;
        rc = parse_log_line(log, c, text, (size_t)len);
    }
    free(text);
    if (rc == 0 && ferror(f))
        rc = fail(c->err, c->errlen, errno ? errno : EIO, "%s: read error: %s", c->path,
                  strerror(errno ? errno : EIO));
    return rc;
}

int report_load_log(const char *path, struct report_log *log, char *err, size_t errlen)
{
    struct line_ctx c = {path, 0, NULL, err, errlen};
    FILE *f;
    int rc;

    memset(log, 0, sizeof *log);
    if (!(f = fopen(path, "r")))
        return fail(err, errlen, errno, "%s: cannot open: %s", path, strerror(errno));
    if (!(log->path = strdup(path))) {
        fclose(f);
        return fail(err, errlen, ENOMEM, "%s: out of memory", path);
    }
    rc = read_log_lines(f, log, &c);
    fclose(f);
    if (rc == 0 && !log->run.line)
        rc = fail(err, errlen, EINVAL, "%s: no \"run\" line: not an eccd rep log, or empty",
                  path);
    if (rc < 0) {
        int e = errno;
        report_log_fini(log);
        errno = e;
    }
    return rc;
}

void report_log_fini(struct report_log *log)
{
    free(log->path);
    free(log->strokes);
    free(log->sets);
    free(log->sessions);
    free(log->faults);
    memset(log, 0, sizeof *log);
}

/* ---- summaries ------------------------------------------------------------------ */

struct accum {
    int n_counted, n_all, n_band;
    double share, share_all, peak, mean, band_s, band_span_s;
};

static void add_stroke(struct report_summary_row *row, struct accum *a,
                       const struct report_stroke *s)
{
    row->strokes++;
    row->by_verdict[s->verdict]++;
    row->work_all_j += s->work_j;
    a->n_all++;
    a->share_all += s->in_band_share;
    if (s->in_band_share > 0.0) {      /* reached the band: eccd's set share counts it */
        a->n_band++;
        a->band_s += s->in_band_s;
        a->band_span_s += s->in_band_s / s->in_band_share;
    }
    if (s->verdict != REPORT_COUNTED)
        return;
    row->work_j += s->work_j;
    a->n_counted++;
    a->share += s->in_band_share;
    a->peak += s->peak_n;
    a->mean += s->mean_n;
}

static double mean_of(double sum, int n)
{
    return n ? sum / n : NAN;
}

static void finish_row(struct report_summary_row *row, const struct accum *a)
{
    row->counted = row->by_verdict[REPORT_COUNTED];
    row->rejected = row->strokes - row->counted;
    row->in_band_share = mean_of(a->share, a->n_counted);
    row->in_band_share_all = mean_of(a->share_all, a->n_all);
    row->peak_n = mean_of(a->peak, a->n_counted);
    row->mean_n = mean_of(a->mean, a->n_counted);
    row->band_share_eccd = a->band_span_s > 0.0 ? a->band_s / a->band_span_s : NAN;
}

static void add_set_lines(const struct report_log *log, struct report_summary_row *row)
{
    double duration = 0.0;

    for (size_t i = 0; i < log->n_sets; i++) {
        const struct report_set_line *l = &log->sets[i];
        if (l->session != row->session || (row->set && l->set != row->set))
            continue;
        if (!row->line)
            row->line = l;
        row->sets++;
        duration += l->duration_s;
    }
    row->duration_s = row->sets ? duration : NAN;
    if (!row->set)
        row->line = NULL;
}

void report_summarize_one(const struct report_log *log, int session, int set,
                          struct report_summary_row *row)
{
    struct accum a = {0};

    memset(row, 0, sizeof *row);
    row->session = session;
    row->set = set;
    for (size_t i = 0; i < log->n_strokes; i++) {
        const struct report_stroke *s = &log->strokes[i];
        if (s->session == session && (!set || s->set == set))
            add_stroke(row, &a, s);
    }
    finish_row(row, &a);
    add_set_lines(log, row);
    for (size_t i = 0; !set && i < log->n_sessions; i++)
        if (log->sessions[i].session == session && !row->session_line)
            row->session_line = &log->sessions[i];
}

/* (session, set) keys; set 0 is the session itself and sorts after its sets. */
struct key {
    int session, set;
};

struct keys {
    struct key *k;
    size_t n;
};

/* Duplicates next to each other are skipped here, the rest by sort_keys. */
static int add_key(struct keys *ks, int session, int set)
{
    struct key *arr;

    if (ks->n && ks->k[ks->n - 1].session == session && ks->k[ks->n - 1].set == set)
        return 0;
    if (!(arr = grow(ks->k, ks->n, sizeof *arr)))
        return -1;
    ks->k = arr;
    arr[ks->n++] = (struct key){session, set};
    return 0;
}

static int add_set_key(struct keys *ks, int session, int set)
{
    if (ks->n && ks->k[ks->n - 1].session == session && ks->k[ks->n - 1].set == set)
        return 0;
    return add_key(ks, session, 0) < 0 || add_key(ks, session, set) < 0 ? -1 : 0;
}

static int collect_keys(const struct report_log *log, struct keys *ks)
{
    for (size_t i = 0; i < log->n_strokes; i++)
        if (add_set_key(ks, log->strokes[i].session, log->strokes[i].set) < 0)
            return -1;
    for (size_t i = 0; i < log->n_sets; i++)
        if (add_set_key(ks, log->sets[i].session, log->sets[i].set) < 0)
            return -1;
    for (size_t i = 0; i < log->n_sessions; i++)
        if (add_key(ks, log->sessions[i].session, 0) < 0)
            return -1;
    return 0;
}

static int key_cmp(const void *pa, const void *pb)
{
    const struct key *a = pa, *b = pb;
    int sa = a->set ? a->set : INT_MAX, sb = b->set ? b->set : INT_MAX;

    if (a->session != b->session)
        return a->session < b->session ? -1 : 1;
    return sa < sb ? -1 : sa > sb;
}

/* Sorted by session, then set, each session's total last; no duplicates. */
static void sort_keys(struct keys *ks)
{
    size_t n = 0;

    if (!ks->n)
        return;
    qsort(ks->k, ks->n, sizeof *ks->k, key_cmp);
    for (size_t i = 0; i < ks->n; i++)
        if (!n || key_cmp(&ks->k[n - 1], &ks->k[i]))
            ks->k[n++] = ks->k[i];
    ks->n = n;
}

int report_summarize(const struct report_log *log, struct report_summary *sum, char *err,
                     size_t errlen)
{
    struct keys ks = {0};
    size_t n_sessions = 0;

    memset(sum, 0, sizeof *sum);
    if (collect_keys(log, &ks) < 0)
        goto oom;
    sort_keys(&ks);
    for (size_t i = 0; i < ks.n; i++)
        n_sessions += ks.k[i].set == 0;
    sum->sets = calloc(ks.n - n_sessions + 1, sizeof *sum->sets);
    sum->sessions = calloc(n_sessions + 1, sizeof *sum->sessions);
    if (!sum->sets || !sum->sessions)
        goto oom;
    for (size_t i = 0; i < ks.n; i++) {
        struct report_summary_row *row = ks.k[i].set ? &sum->sets[sum->n_sets++]
                                                     : &sum->sessions[sum->n_sessions++];
        report_summarize_one(log, ks.k[i].session, ks.k[i].set, row);
    }
    free(ks.k);
    return 0;
oom:
    free(ks.k);
    report_summary_fini(sum);
    return fail(err, errlen, ENOMEM, "%s: out of memory", log->path);
}

void report_summary_fini(struct report_summary *sum)
{
    free(sum->sets);
    free(sum->sessions);
    memset(sum, 0, sizeof *sum);
}

/* ---- cross-check against eccd's own set and session lines --------------------- */

struct check_ctx {
    FILE *out;
    const char *path;
    long line;
    int session, set;            /* set 0: a session line */
    int mismatches;
};

static void mismatch(struct check_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void mismatch(struct check_ctx *c, const char *fmt, ...)
{
    va_list ap;

    c->mismatches++;
    if (!c->out)
        return;
    fprintf(c->out, "%s:%ld: MISMATCH: session %d", c->path, c->line, c->session);
    if (c->set)
        fprintf(c->out, " set %d", c->set);
    fputs(": ", c->out);
    va_start(ap, fmt);
    vfprintf(c->out, fmt, ap);
    va_end(ap);
    fputc('\n', c->out);
}

static void check_count(struct check_ctx *c, const char *key, int logged, int computed)
{
    if (logged != computed)
        mismatch(c, "\"%s\" is %d in the %s line, but the rep lines give %d", key, logged,
                 c->set ? "set" : "session", computed);
}

static void check_set_line(struct check_ctx *c, const struct report_summary_row *row)
{
    const struct report_set_line *l = row->line;
    int reasons = 0;
    double want = row->band_share_eccd;

    if (row->sets > 1)
        mismatch(c, "%d set lines for this one set", row->sets);
    check_count(c, "counted", l->counted, row->counted);
    check_count(c, "rejected", l->rejected, row->rejected);
    for (int v = 1; v < REPORT_VERDICTS; v++) {
        check_count(c, verdict_names[v], l->by_verdict[v], row->by_verdict[v]);
        reasons += l->by_verdict[v];
    }
    if (reasons != l->rejected)
        mismatch(c, "the set line's reasons add up to %d, but its \"rejected\" is %d", reasons,
                 l->rejected);
    if (isnan(want) ? !(isnan(l->in_band_share) || l->in_band_share == 0.0)
                    : !(fabs(l->in_band_share - want) <= 0.01))
        mismatch(c, "\"in_band_share\" is %.3f in the set line, but the rep lines give %.3f",
                 l->in_band_share, want);
}

static void check_session_line(struct check_ctx *c, const struct report_summary_row *row)
{
    const struct report_session_line *l = row->session_line;

    check_count(c, "counted", l->counted, row->counted);
    check_count(c, "rejected", l->rejected, row->rejected);
    if (l->sets != row->sets)
        mismatch(c, "\"sets\" is %d in the session line, but the log has %d set lines", l->sets,
                 row->sets);
}

int report_cross_check(const struct report_log *log, const struct report_summary *sum, FILE *out)
{
    struct check_ctx c = {out, log->path, 0, 0, 0, 0};

    for (size_t i = 0; i < sum->n_sets; i++) {
        const struct report_summary_row *row = &sum->sets[i];
        if (!row->line)
            continue;
        c.line = row->line->line;
        c.session = row->session;
        c.set = row->set;
        check_set_line(&c, row);
    }
    for (size_t i = 0; i < sum->n_sessions; i++) {
        const struct report_summary_row *row = &sum->sessions[i];
        if (!row->session_line)
            continue;
        c.line = row->session_line->line;
        c.session = row->session;
        c.set = 0;
        check_session_line(&c, row);
    }
    return c.mismatches;
}

const char *report_row_status(const struct report_summary_row *row)
{
    struct check_ctx c = {NULL, "", 0, row->session, row->set, 0};

    if (row->set ? !row->line : !row->session_line)
        return "unfinished";
    if (row->set)
        check_set_line(&c, row);
    else
        check_session_line(&c, row);
    return c.mismatches ? "MISMATCH" : "ok";
}

/* ---- printing --------------------------------------------------------------- */

#define ANSI_BOLD "\033[1m"
#define ANSI_GREEN "\033[32m"
#define ANSI_RED "\033[31m"
#define ANSI_RED_BOLD "\033[1;31m"
#define ANSI_RESET "\033[0m"

static const char *ansi(const struct report_print_opts *o, const char *code)
{
    return o && o->color ? code : "";
}

/* A number right-aligned in width, "-" when there is none (NAN). */
static void put_num(FILE *out, int width, int prec, double v)
{
    if (isnan(v))
        fprintf(out, "%*s", width, "-");
    else
        fprintf(out, "%*.*f", width, prec, v);
}

static void put_pct(FILE *out, int width, double share)
{
    put_num(out, width, 1, 100.0 * share);
}

static void print_run_header(FILE *out, const struct report_log *log,
                             const struct report_print_opts *o)
{
    const struct report_run *r = &log->run;

    fprintf(out, "%sRun %s%s\n", ansi(o, ANSI_BOLD), log->path, ansi(o, ANSI_RESET));
    fprintf(out, "  mode       %s (%s)\n", report_mode_title(r->mode), r->mode);
    fprintf(out, "  band       %g to %g N, belt speed at most %.2f m/s (%.1f km/h)\n",
            r->band_low, r->band_high, r->speed_max, 3.6 * r->speed_max);
    fprintf(out, "  protocol   %d reps x %d sets\n", r->reps_per_set, r->sets_per_session);
    if (r->wall[0])
        fprintf(out, "  started    %s (UTC)\n", r->wall);
    if (r->config[0] || r->scenario[0])
        fprintf(out, "  source     %s, scenario %s, seed %ld\n",
                r->config[0] ? r->config : "-", r->scenario[0] ? r->scenario : "-", r->seed);
}

static void print_stroke_head(FILE *out, const struct report_print_opts *o)
{
    fprintf(out, "%s  stroke  rep  verdict            start s   dur s  travel m  peak N  mean N"
                 "  in band s  in band %%  work J%s\n",
            ansi(o, ANSI_BOLD), ansi(o, ANSI_RESET));
}

static void print_stroke(FILE *out, const struct report_stroke *s,
                         const struct report_print_opts *o)
{
    int counted = s->verdict == REPORT_COUNTED;

    fprintf(out, "  %6d  ", s->stroke);
    if (counted)
        fprintf(out, "%3d", s->rep);
    else
        fprintf(out, "%3s", "-");
    fprintf(out, "  %s%-17s%s", ansi(o, counted ? ANSI_GREEN : ANSI_RED),
            verdict_labels[s->verdict], ansi(o, ANSI_RESET));
    put_num(out, 9, 2, s->t_start);
    put_num(out, 8, 2, s->duration_s);
    put_num(out, 10, 3, s->travel_m);
    put_num(out, 8, 1, s->peak_n);
    put_num(out, 8, 1, s->mean_n);
    put_num(out, 11, 2, s->in_band_s);
    put_pct(out, 11, s->in_band_share);
    put_num(out, 8, 1, s->work_j);
    fputc('\n', out);
}

static void print_strokes(FILE *out, const struct report_log *log, const struct report_summary *sum,
                          const struct report_print_opts *o)
{
    for (size_t k = 0; k < sum->n_sets; k++) {
        const struct report_summary_row *row = &sum->sets[k];
        if (!row->strokes)
            continue;
        fprintf(out, "\n%sSession %d, set %d%s\n", ansi(o, ANSI_BOLD), row->session, row->set,
                ansi(o, ANSI_RESET));
        print_stroke_head(out, o);
        for (size_t i = 0; i < log->n_strokes; i++)
            if (log->strokes[i].session == row->session && log->strokes[i].set == row->set)
                print_stroke(out, &log->strokes[i], o);
    }
}

static void print_summary_head(FILE *out, const struct report_print_opts *o)
{
    fprintf(out, "\n%sSet summaries%s (in band, peak, mean: means over counted reps; work: sum"
                 " over counted reps)\n",
            ansi(o, ANSI_BOLD), ansi(o, ANSI_RESET));
    fprintf(out, "%s  session  set  strokes  counted  rejected  too short  low travel  out of band"
                 "  aborted  in band %%  peak N  mean N  work J  duration s  check%s\n",
            ansi(o, ANSI_BOLD), ansi(o, ANSI_RESET));
}

static void print_summary_row(FILE *out, const struct report_summary_row *row,
                              const struct report_print_opts *o)
{
    const char *status = report_row_status(row);
    const char *color = !strcmp(status, "MISMATCH") ? ANSI_RED_BOLD : "";

    fprintf(out, "  %7d  ", row->session);
    if (row->set)
        fprintf(out, "%3d", row->set);
    else
        fprintf(out, "%3s", "all");
    fprintf(out, "  %7d  %7d  %8d  %9d  %10d  %11d  %7d", row->strokes, row->counted,
            row->rejected, row->by_verdict[REPORT_TOO_SHORT],
            row->by_verdict[REPORT_TOO_LITTLE_TRAVEL], row->by_verdict[REPORT_OUT_OF_BAND],
            row->by_verdict[REPORT_ABORTED]);
    put_pct(out, 11, row->in_band_share);
    put_num(out, 8, 1, row->peak_n);
    put_num(out, 8, 1, row->mean_n);
    put_num(out, 8, 1, row->work_j);
    put_num(out, 12, 1, row->duration_s);
    fprintf(out, "  %s%s%s\n", ansi(o, color), status, ansi(o, *color ? ANSI_RESET : ""));
}

static void print_summaries(FILE *out, const struct report_summary *sum,
                            const struct report_print_opts *o)
{
    size_t k = 0;

    print_summary_head(out, o);
    for (size_t s = 0; s < sum->n_sessions; s++) {
        for (; k < sum->n_sets && sum->sets[k].session == sum->sessions[s].session; k++)
            print_summary_row(out, &sum->sets[k], o);
        print_summary_row(out, &sum->sessions[s], o);
    }
}

static void print_faults(FILE *out, const struct report_log *log, const struct report_print_opts *o)
{
    if (!log->n_faults)
        return;
    fprintf(out, "\n%sFaults%s\n", ansi(o, ANSI_BOLD), ansi(o, ANSI_RESET));
    for (size_t i = 0; i < log->n_faults; i++) {
        const struct report_fault *f = &log->faults[i];
        fprintf(out, "  t %9.2f s  ", f->t);
        if (f->wall[0])
            fprintf(out, "%s  ", f->wall);
        fprintf(out, "%-20s ", f->fault);
        if (f->is_reset)
            fprintf(out, "reset by the operator\n");
        else
            fprintf(out, "%svalue %g, limit %g%s\n", ansi(o, ANSI_RED), f->value, f->limit,
                    ansi(o, ANSI_RESET));
    }
}

int report_print_run(FILE *out, const struct report_log *log, const struct report_print_opts *o)
{
    struct report_summary sum;
    char err[256];
    int mismatches;

    if (report_summarize(log, &sum, err, sizeof err) < 0) {
        fprintf(out, "%s\n", err);
        return 1;
    }
    print_run_header(out, log, o);
    if (!o || !o->quiet)
        print_strokes(out, log, &sum, o);
    print_summaries(out, &sum, o);
    print_faults(out, log, o);
    if (log->n_skipped)
        fprintf(out, "\n(%zu line%s of unknown events skipped)\n", log->n_skipped,
                log->n_skipped == 1 ? "" : "s");
    mismatches = report_cross_check(log, &sum, NULL);
    if (mismatches) {
        fprintf(out,
                "\n%s%d MISMATCH%s between the rep lines and eccd's own set/session lines:%s\n",
                ansi(o, ANSI_RED_BOLD), mismatches, mismatches == 1 ? "" : "ES",
                ansi(o, ANSI_RESET));
        report_cross_check(log, &sum, out);
    }
    report_summary_fini(&sum);
    return mismatches;
}

/* ---- comparison ------------------------------------------------------------- */

enum metric_kind { M_INT, M_PCT, M_SEC };

static const struct metric {
    const char *label;
    enum metric_kind kind;
    size_t off;
} metrics[] = {
    {"counted reps", M_INT, offsetof(struct report_summary_row, counted)},
    {"rejected strokes", M_INT, offsetof(struct report_summary_row, rejected)},
    {"  too short", M_INT, offsetof(struct report_summary_row, by_verdict[REPORT_TOO_SHORT])},
    {"  too little travel", M_INT,
     offsetof(struct report_summary_row, by_verdict[REPORT_TOO_LITTLE_TRAVEL])},
    {"  out of band", M_INT, offsetof(struct report_summary_row, by_verdict[REPORT_OUT_OF_BAND])},
    {"  aborted", M_INT, offsetof(struct report_summary_row, by_verdict[REPORT_ABORTED])},
    {"  above band at min speed", M_INT,
     offsetof(struct report_summary_row, by_verdict[REPORT_ABOVE_AT_MIN])},
    {"  below band at max speed", M_INT,
     offsetof(struct report_summary_row, by_verdict[REPORT_BELOW_AT_MAX])},
    {"strokes needed", M_INT, offsetof(struct report_summary_row, strokes)},
    {"time in band, counted reps (%)", M_PCT, offsetof(struct report_summary_row, in_band_share)},
    {"time in band, all strokes (%)", M_PCT,
     offsetof(struct report_summary_row, in_band_share_all)},
    {"duration (s)", M_SEC, offsetof(struct report_summary_row, duration_s)},
};

#define CMP_LABEL 32
#define CMP_COL 22

static int row_present(const struct report_summary_row *row)
{
    return row->strokes || row->line || row->session_line || row->sets;
}

static void put_metric(FILE *out, const struct metric *m, const struct report_summary_row *row)
{
    const char *p = (const char *)row + m->off;

    if (!row_present(row))
        fprintf(out, "%*s", CMP_COL, "-");
    else if (m->kind == M_INT)
        fprintf(out, "%*d", CMP_COL, *(const int *)p);
    else
        put_num(out, CMP_COL, 1, (m->kind == M_PCT ? 100.0 : 1.0) * *(const double *)p);
}

static void print_compare_block(FILE *out, const struct report_log *a, const struct report_log *b,
                                const struct key *k, const struct report_print_opts *o)
{
    struct report_summary_row ra, rb;

    report_summarize_one(a, k->session, k->set, &ra);
    report_summarize_one(b, k->session, k->set, &rb);
    if (k->set)
        fprintf(out, "%sSession %d, set %d%s\n", ansi(o, ANSI_BOLD), k->session, k->set,
                ansi(o, ANSI_RESET));
    else
        fprintf(out, "%sSession %d, all sets%s\n", ansi(o, ANSI_BOLD), k->session,
                ansi(o, ANSI_RESET));
    for (size_t i = 0; i < sizeof metrics / sizeof metrics[0]; i++) {
        fprintf(out, "  %-*s", CMP_LABEL, metrics[i].label);
        put_metric(out, &metrics[i], &ra);
        put_metric(out, &metrics[i], &rb);
        fputc('\n', out);
    }
}

/* The last width characters of s, so long paths keep their file name. */
static const char *tail(const char *s, size_t width)
{
    size_t n = strlen(s);

    return n > width ? s + n - width : s;
}

static void print_compare_head(FILE *out, const struct report_log *a, const struct report_log *b,
                               const struct report_print_opts *o)
{
    fprintf(out, "%sComparison%s\n", ansi(o, ANSI_BOLD), ansi(o, ANSI_RESET));
    fprintf(out, "  %-*s%*s%*s\n", CMP_LABEL, "run", CMP_COL, tail(base_name(a->path), CMP_COL - 2),
            CMP_COL, tail(base_name(b->path), CMP_COL - 2));
    fprintf(out, "  %-*s%*s%*s\n", CMP_LABEL, "mode", CMP_COL,
            tail(report_mode_title(a->run.mode), CMP_COL - 2), CMP_COL,
            tail(report_mode_title(b->run.mode), CMP_COL - 2));
    fprintf(out, "  %-*s%*g%*g\n", CMP_LABEL, "band low (N)", CMP_COL, a->run.band_low, CMP_COL,
            b->run.band_low);
    fprintf(out, "  %-*s%*g%*g\n", CMP_LABEL, "band high (N)", CMP_COL, a->run.band_high, CMP_COL,
            b->run.band_high);
}

void report_print_compare(FILE *out, const struct report_log *a, const struct report_log *b,
                          const struct report_print_opts *o)
{
    struct keys ks = {0};

    if (collect_keys(a, &ks) < 0 || collect_keys(b, &ks) < 0) {
        free(ks.k);
        fprintf(out, "comparison: out of memory\n");
        return;
    }
    sort_keys(&ks);
    print_compare_head(out, a, b, o);
    for (size_t i = 0; i < ks.n; i++) {
        fputc('\n', out);
        print_compare_block(out, a, b, &ks.k[i], o);
    }
    free(ks.k);
}

/* ---- trace CSV -------------------------------------------------------------- */

enum trace_col {
    C_T, C_STATE, C_SESSION, C_SET, C_FORCE_RAW, C_FORCE, C_SPEED_CMD, C_SPEED,
    C_BAND_LOW, C_BAND_HIGH, C_LOADED, C_COUNT
};

static const struct trace_column {
    const char *name;
    enum ftype type;             /* F_NUM, F_INT or F_STR (state) */
    size_t off;
} trace_columns[C_COUNT] = {
    {"t", F_NUM, offsetof(struct report_tick, t)},
    {"state", F_STR, offsetof(struct report_tick, state)},
    {"session", F_INT, offsetof(struct report_tick, session)},
    {"set", F_INT, offsetof(struct report_tick, set)},
    {"force_raw", F_NUM, offsetof(struct report_tick, force_raw)},
    {"force", F_NUM, offsetof(struct report_tick, force)},
    {"speed_cmd", F_NUM, offsetof(struct report_tick, speed_cmd)},
    {"speed", F_NUM, offsetof(struct report_tick, speed)},
    {"band_low", F_NUM, offsetof(struct report_tick, band_low)},
    {"band_high", F_NUM, offsetof(struct report_tick, band_high)},
    {"loaded", F_INT, offsetof(struct report_tick, loaded)},
};

#define TRACE_FIELDS_MAX 64

struct csv_ctx {
    const char *path;
    long line;
    char *err;
    size_t errlen;
    int n_fields;                /* columns in the header */
    int col[C_COUNT];            /* where each known column sits */
    double t_prev;
};

static int csv_fail(const struct csv_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int csv_fail(const struct csv_ctx *c, const char *fmt, ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fail(c->err, c->errlen, EINVAL, "%s:%ld: %s", c->path, c->line, msg);
}

static void chomp(char *s)
{
    size_t n = strlen(s);

    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

/* Split s at commas in place; returns the field count, or -1 if there are more than max. */
static int split_csv(char *s, char **fields, int max)
{
    int n = 0;

    for (;;) {
        if (n == max)
            return -1;
        fields[n++] = s;
        s = strchr(s, ',');
        if (!s)
            return n;
        *s++ = '\0';
    }
}

static int parse_header(struct csv_ctx *c, char *text)
{
    char *fields[TRACE_FIELDS_MAX];
    int n = split_csv(text, fields, TRACE_FIELDS_MAX);

    if (n < 0)
        return csv_fail(c, "more than %d columns in the header", TRACE_FIELDS_MAX);
    c->n_fields = n;
    for (int k = 0; k < C_COUNT; k++) {
        c->col[k] = -1;
        for (int i = 0; i < n; i++)
            if (!strcmp(fields[i], trace_columns[k].name))
                c->col[k] = i;
        if (c->col[k] < 0)
            return csv_fail(c, "no \"%s\" column in the header (expected t,state,session,set,"
                               "force_raw,force,speed_cmd,speed,band_low,band_high,loaded)",
                            trace_columns[k].name);
    }
    return 0;
}

static int parse_cell(const struct csv_ctx *c, const struct trace_column *tc, const char *cell,
                      struct report_tick *tick)
{
    char *dst = (char *)tick + tc->off, *end;
    double d;
    long l;

    if (!*cell)
        return csv_fail(c, "\"%s\" is empty", tc->name);
    if (tc->type == F_STR) {
        size_t len = strlen(cell);
        if (len >= REPORT_STATE_MAX || strspn(cell, "abcdefghijklmnopqrstuvwxyz_") != len)
            return csv_fail(c, "\"%s\" must be a lower-case word, not \"%.40s\"", tc->name, cell);
        memcpy(dst, cell, len + 1);
        return 0;
    }
    errno = 0;
    if (tc->type == F_NUM) {
        d = strtod(cell, &end);
        if (*end || !isfinite(d))
            return csv_fail(c, "\"%s\" must be a finite number, not \"%.40s\"", tc->name, cell);
        *(double *)dst = d;
        return 0;
    }
    l = strtol(cell, &end, 10);
    if (*end || errno || l < 0 || l > INT_MAX)
        return csv_fail(c, "\"%s\" must be a whole number >= 0, not \"%.40s\"", tc->name, cell);
    *(int *)dst = (int)l;
    return 0;
}

static int parse_row(struct csv_ctx *c, char *text, struct report_tick *tick)
{
    char *fields[TRACE_FIELDS_MAX];
    int n = split_csv(text, fields, TRACE_FIELDS_MAX);

    if (n != c->n_fields)
        return csv_fail(c, "%d fields, but the header has %d", n < 0 ? TRACE_FIELDS_MAX + 1 : n,
                        c->n_fields);
    memset(tick, 0, sizeof *tick);
    for (int k = 0; k < C_COUNT; k++)
        if (parse_cell(c, &trace_columns[k], fields[c->col[k]], tick) < 0)
            return -1;
    if (tick->loaded != 0 && tick->loaded != 1)
        return csv_fail(c, "\"loaded\" must be 0 or 1, not %d", tick->loaded);
    if (tick->t < c->t_prev)
        return csv_fail(c, "time goes backwards (t %.3f after %.3f)", tick->t, c->t_prev);
    c->t_prev = tick->t;
    return 0;
}

void report_trace_filter_all(struct report_trace_filter *f)
{
    f->session = f->set = 0;
    f->t_from = -INFINITY;
    f->t_to = INFINITY;
    f->trim_idle = 0;
}

static int tick_wanted(const struct report_trace_filter *f, const struct report_tick *t)
{
    return (!f->session || t->session == f->session) && (!f->set || t->set == f->set) &&
           t->t >= f->t_from && t->t <= f->t_to;
}

static int tick_active(const struct report_tick *t)
{
    return !strcmp(t->state, "set_running") || !strcmp(t->state, "paused") ||
           !strcmp(t->state, "fault");
}

static void trim_idle(struct report_trace *tr)
{
    size_t first = 0, last = tr->n;

    while (first < tr->n && !tick_active(&tr->ticks[first]))
        first++;
    if (first == tr->n)
        return;                  /* never ran: keep what there is */
    while (last > first && !tick_active(&tr->ticks[last - 1]))
        last--;
    memmove(tr->ticks, tr->ticks + first, (last - first) * sizeof *tr->ticks);
    tr->n = last - first;
}

static int read_trace_rows(FILE *f, struct csv_ctx *c, const struct report_trace_filter *filt,
                           struct report_trace *tr)
{
    char *text = NULL;
    size_t cap = 0;
    int rc = 0;

    while (rc == 0 && getline(&text, &cap, f) >= 0) {
        struct report_tick tick, *arr;
        c->line++;
        chomp(text);
        if (c->line == 1)
            rc = parse_header(c, text);
        else if (!*text)
            continue;
        else if ((rc = parse_row(c, text, &tick)) == 0 && tick_wanted(filt, &tick)) {
            if (!(arr = grow(tr->ticks, tr->n, sizeof *arr)))
                rc = fail(c->err, c->errlen, ENOMEM, "%s:%ld: out of memory", c->path, c->line);
            else
                (tr->ticks = arr)[tr->n++] = tick;
        }
    }
    free(text);
    if (rc == 0 && ferror(f))
        rc = fail(c->err, c->errlen, errno ? errno : EIO, "%s: read error: %s", c->path,
                  strerror(errno ? errno : EIO));
    if (rc == 0 && c->line == 0)
        rc = fail(c->err, c->errlen, EINVAL, "%s: empty file (no CSV header)", c->path);
    return rc;
}

int report_load_trace(const char *path, const struct report_trace_filter *f,
                      struct report_trace *tr, char *err, size_t errlen)
{
    struct csv_ctx c = {path, 0, err, errlen, 0, {0}, -INFINITY};
    struct report_trace_filter all;
    FILE *fp;
    int rc;

    memset(tr, 0, sizeof *tr);
    if (!f) {
        report_trace_filter_all(&all);
        f = &all;
    }
    if (!(fp = fopen(path, "r")))
        return fail(err, errlen, errno, "%s: cannot open: %s", path, strerror(errno));
    if (!(tr->path = strdup(path))) {
        fclose(fp);
        return fail(err, errlen, ENOMEM, "%s: out of memory", path);
    }
    rc = read_trace_rows(fp, &c, f, tr);
    fclose(fp);
    if (rc < 0) {
        int e = errno;
        report_trace_fini(tr);
        errno = e;
        return -1;
    }
    if (f->trim_idle)
        trim_idle(tr);
    return 0;
}

void report_trace_fini(struct report_trace *tr)
{
    free(tr->path);
    free(tr->ticks);
    memset(tr, 0, sizeof *tr);
}
