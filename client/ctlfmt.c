/* ctlfmt.c - eccctl's renderings of eccd's replies: readable text and CSV. See ctlfmt.h.
 *
 * Everything here reads a parsed reply and writes to a FILE; nothing else is touched
 * (the only outside state is the time zone, for local times in history).
 */
#include "client/ctlfmt.h"

#include "proto/request.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LABEL_W 13              /* width of the labels in the status block */

/* ---- reading members: absent, null and wrong types all read as "not there" ---------- */

static const json_t *member(const json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

static bool get_num(const json_t *o, const char *key, double *v)
{
    const json_t *j = member(o, key);

    if (!json_is_number(j))
        return false;
    *v = json_number_value(j);
    return isfinite(*v);
}

/* An integer, or a real with no fraction (a daemon may write 15.0). */
static bool get_int(const json_t *o, const char *key, long long *v)
{
    const json_t *j = member(o, key);
    double d;

    if (json_is_integer(j)) {
        *v = (long long)json_integer_value(j);
        return true;
    }
    if (!json_is_real(j))
        return false;
    d = json_real_value(j);
    if (!(fabs(d) < 9e15) || d != floor(d))
        return false;
    *v = (long long)d;
    return true;
}

static const char *get_str(const json_t *o, const char *key)
{
    const json_t *j = member(o, key);

    return json_is_string(j) ? json_string_value(j) : NULL;
}

/* 1 true, 0 false, -1 not a boolean. */
static int get_bool(const json_t *o, const char *key)
{
    const json_t *j = member(o, key);

    return json_is_boolean(j) ? json_is_true(j) : -1;
}

/* ---- text for a terminal --------------------------------------------------------------- */

/* A string from the daemon, with control characters shown as '?' (a name must not be
 * able to move the cursor or change the terminal's colours). */
static void put_text(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        putc(c < 0x20 || c == 0x7f ? '?' : c, out);
    }
}

/* Columns a UTF-8 string takes: one per code point (good enough for names). */
static int text_width(const char *s)
{
    int w = 0;

    for (; *s; s++)
        w += ((unsigned char)*s & 0xc0) != 0x80;
    return w;
}

static void put_padded(FILE *out, const char *s, int width, bool right)
{
    int pad = width - text_width(s);

    if (right)
        for (int i = 0; i < pad; i++)
            putc(' ', out);
    put_text(out, s);
    if (!right)
        for (int i = 0; i < pad; i++)
            putc(' ', out);
}

static void label(FILE *out, const char *name)
{
    fprintf(out, "%-*s", LABEL_W, name);
}

/* v, or 0 when it would print as "-0" at the given number of decimals. */
static double no_neg_zero(double v, int decimals)
{
    return fabs(v) < 0.5 * pow(10.0, -decimals) ? 0.0 : v;
}

static const char *plural(long long n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

int ctlfmt_number(char *buf, size_t len, double v)
{
    char tmp[40];

    if (!isfinite(v))
        return snprintf(buf, len, "null");
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return snprintf(buf, len, "%s", tmp);
}

int ctlfmt_wait(char *buf, size_t len, double s)
{
    long long secs, mins;

    if (!(s > 0.0))
        return snprintf(buf, len, "now");
    if (s > 1e9)
        s = 1e9;
    secs = (long long)ceil(s);
    if (secs < 60)
        return snprintf(buf, len, "%lld s", secs);
    mins = (secs + 59) / 60;       /* rounded up: at the time shown it is allowed */
    if (mins < 60)
        return snprintf(buf, len, "%lld min", mins);
    if (mins % 60 == 0)
        return snprintf(buf, len, "%lld h", mins / 60);
    return snprintf(buf, len, "%lld h %lld min", mins / 60, mins % 60);
}

/* How long something has run, rounded down: "2 d 3 h 15 min", "4 h 2 min", "40 s". */
static void span_text(char *buf, size_t len, double s)
{
    long long t = s > 0.0 && s < 1e12 ? (long long)s : 0;
    long long d = t / 86400, h = t % 86400 / 3600, m = t % 3600 / 60;

    if (t < 60)
        snprintf(buf, len, "%lld s", t);
    else if (d)
        snprintf(buf, len, "%lld d %lld h %lld min", d, h, m);
    else if (h)
        snprintf(buf, len, "%lld h %lld min", h, m);
    else
        snprintf(buf, len, "%lld min", m);
}

/* ---- status -------------------------------------------------------------------------- */

static const struct {
    const char *name, *what;
} state_texts[] = {
    {"idle", "no session running"},
    {"set_running", "a set is running"},
    {"rest", "resting between sets"},
    {"ready", "ready for the next set: eccctl start"},
    {"paused", "paused in a set: eccctl start carries on"},
    {"session_done", "the session is done"},
    {"fault", "the belt was stopped by a fault"},
};

/* What each fault's value and limit are in (safety.h); NULL: they mean nothing. */
static const struct {
    const char *name, *what, *unit;
} fault_texts[] = {
    {"estop", "the e-stop or safety key is active", NULL},
    {"drive_trip", "the drive tripped", "code"},
    {"drive_comm", "the drive does not answer", NULL},
    {"loop_late", "the control loop ran late", "s"},
    {"overforce", "force over the abort limit", "N"},
    {"force_saturated", "the load cell is at full scale", "N"},
    {"force_implausible", "the load cell reads an impossible pull", "N"},
    {"overspeed", "the belt ran too fast", "m/s"},
    {"force_stale", "no readings from the load cell", "s"},
    {"force_drift", "the load cell's zero has drifted", "N"},
    {"force_stuck", "the load-cell reading is frozen", "s"},
    {"speed_silent", "no belt pulses while the belt should move", "s"},
    {"speed_disagree", "the belt sensor and the drive disagree", "m/s"},
};

static void put_state(FILE *out, const char *state)
{
    label(out, "state");
    put_text(out, state);
    for (size_t i = 0; i < sizeof state_texts / sizeof state_texts[0]; i++)
        if (strcmp(state, state_texts[i].name) == 0)
            fprintf(out, " (%s)", state_texts[i].what);
    putc('\n', out);
}

static void put_fault(FILE *out, const json_t *st, const char *fault)
{
    const char *what = NULL, *unit = "";
    double value, limit;
    bool known = false, has_v = get_num(st, "fault_value", &value),
         has_l = get_num(st, "fault_limit", &limit);

    for (size_t i = 0; i < sizeof fault_texts / sizeof fault_texts[0]; i++)
        if (strcmp(fault, fault_texts[i].name) == 0) {
            known = true;
            what = fault_texts[i].what;
            unit = fault_texts[i].unit;
        }
    label(out, "fault");
    put_text(out, fault);
    if (what)
        fprintf(out, ": %s", what);
    if (known && !unit) {
        /* estop, drive_comm: value and limit carry nothing */
    } else if (known && strcmp(unit, "code") == 0) {
        if (has_v)
            fprintf(out, " (fault code %.0f)", value);
    } else if (has_v && has_l) {
        fprintf(out, " (%.4g%s%s, limit %.4g%s%s)", value, known ? " " : "", known ? unit : "",
                limit, known ? " " : "", known ? unit : "");
    } else if (has_v) {
        fprintf(out, " (%.4g%s%s)", value, known ? " " : "", known ? unit : "");
    }
    putc('\n', out);
}

static void put_patient(FILE *out, const json_t *st)
{
    const json_t *p = member(st, "patient");
    const char *name = get_str(p, "name");
    long long id;

    label(out, "patient");
    if (!json_is_object(p) || (get_int(p, "id", &id) && id <= 0) || !name || !*name) {
        fputs("none chosen (the config's settings apply)\n", out);
        return;
    }
    put_text(out, name);
    if (get_int(p, "id", &id))
        fprintf(out, " (id %lld)", id);
    putc('\n', out);
}

static void put_progress(FILE *out, const json_t *st)
{
    long long session, set, rep, per_set, per_session;

    if (!get_int(st, "session", &session))
        return;
    label(out, "session");
    if (session <= 0) {
        fputs("none since eccd started\n", out);
        return;
    }
    fprintf(out, "%lld", session);
    if (get_int(st, "set", &set) && set > 0) {
        fprintf(out, ", set %lld", set);
        if (get_int(st, "sets_per_session", &per_session))
            fprintf(out, " of %lld", per_session);
        if (get_int(st, "rep", &rep)) {
            fprintf(out, ", rep %lld", rep);
            if (get_int(st, "reps_per_set", &per_set))
                fprintf(out, " of %lld", per_set);
        }
    } else {
        fputs(", no set yet", out);
    }
    putc('\n', out);
}

static void put_belt_force(FILE *out, const json_t *st)
{
    const json_t *band = member(st, "band");
    double speed, cmd, force, low = NAN, high = NAN;
    bool has_band = json_is_array(band) && json_array_size(band) == 2 &&
                    json_is_number(json_array_get(band, 0)) &&
                    json_is_number(json_array_get(band, 1));
    int loaded = get_bool(st, "loaded");

    if (has_band) {
        low = json_number_value(json_array_get(band, 0));
        high = json_number_value(json_array_get(band, 1));
    }
    if (get_num(st, "speed", &speed)) {
        label(out, "belt");
        fprintf(out, "%.2f m/s", no_neg_zero(speed, 2));
        if (get_num(st, "speed_cmd", &cmd))
            fprintf(out, " (commanded %.2f m/s)", no_neg_zero(cmd, 2));
        putc('\n', out);
    }
    if (get_num(st, "force", &force)) {
        label(out, "force");
        fprintf(out, "%.0f N", no_neg_zero(force, 0));
        if (loaded == 0)
            fputs(", foot off the belt", out);
        else if (loaded == 1 && has_band)
            fprintf(out, ", %s", force < low ? "below the band" : force > high ? "above the band"
                                                                               : "in the band");
        if (has_band)
            fprintf(out, " (band %.0f..%.0f N)", low, high);
        putc('\n', out);
    } else if (has_band) {
        label(out, "band");
        fprintf(out, "%.0f..%.0f N\n", low, high);
    }
}

static void put_today(FILE *out, const json_t *st)
{
    const char *next = get_str(st, "next_session");
    long long today;
    double wait = 0.0;
    char w[48];

    if (!get_int(st, "sessions_today", &today) && !next)
        return;
    label(out, "today");
    if (get_int(st, "sessions_today", &today))
        fprintf(out, "%lld %s begun", today, plural(today, "session", "sessions"));
    if (next) {
        get_num(st, "next_session_wait_s", &wait);
        ctlfmt_wait(w, sizeof w, wait);
        fputs(get_int(st, "sessions_today", &today) ? "; " : "", out);
        if (strcmp(next, "in_session") == 0)
            fputs("this one is under way", out);
        else if (strcmp(next, "ok") == 0)
            fputs("a new one may start now", out);
        else if (strcmp(next, "ok_extra") == 0)
            fputs("a new one may start now (an extra one, allowed by the clinician)", out);
        else if (strcmp(next, "refused_quota") == 0)
            fprintf(out, "the day's sessions are done: the next one %s%s",
                    wait > 0.0 ? "in " : "", wait > 0.0 ? w : "tomorrow");
        else if (strcmp(next, "refused_gap") == 0)
            fprintf(out, "too soon after the last one: the next one in %s", w);
        else {
            fputs("next session: ", out);
            put_text(out, next);
            if (wait > 0.0)
                fprintf(out, ", in %s", w);
        }
    }
    putc('\n', out);
}

static void put_counters(FILE *out, const json_t *st)
{
    const json_t *loop = member(st, "loop"), *hist = member(st, "history"),
                 *cal = member(st, "calibration");
    long long a, b, c, d;
    double late;
    char up[48];

    if (json_is_object(loop)) {
        const char *sep = "";
        label(out, "loop");
        if (get_int(loop, "ticks", &a)) {
            fprintf(out, "%lld ticks", a);
            sep = ", ";
        }
        if (get_int(loop, "overruns", &b)) {
            fprintf(out, "%s%lld %s", sep, b, plural(b, "overrun", "overruns"));
            sep = ", ";
        }
        if (get_num(loop, "late_max_ms", &late))
            fprintf(out, "%sat most %.1f ms late", sep, late);
        putc('\n', out);
    }
    if (json_is_null(hist)) {
        label(out, "history");
        fputs("none kept ([history] path is empty)\n", out);
    } else if (json_is_object(hist) && get_int(hist, "durable", &a) &&
               get_int(hist, "queued", &b) && get_int(hist, "dropped", &c) &&
               get_int(hist, "errors", &d)) {
        label(out, "history");
        fprintf(out, "%lld written, %lld queued, %lld dropped, %lld %s%s\n", a, b, c, d,
                plural(d, "error", "errors"), c || d ? " (see eccd's log)" : "");
    }
    if (json_is_object(cal)) {
        int pending = get_bool(cal, "pending");
        label(out, "calibration");
        if (pending == 1)
            fputs("in progress; ", out);
        if (get_int(cal, "tares", &a) && get_int(cal, "spans", &b))
            fprintf(out, "%lld %s and %lld %s done since eccd started", a,
                    plural(a, "tare", "tares"), b, plural(b, "span", "spans"));
        putc('\n', out);
    }
    if (get_num(st, "uptime_s", &late)) {
        span_text(up, sizeof up, late);
        label(out, "uptime");
        fprintf(out, "%s\n", up);
    }
}

/* The pre-flight verdict while the belt rests, when it is not "ok". */
static void put_preflight(FILE *out, const json_t *st, const char *state)
{
    const json_t *pf = member(st, "preflight");
    const char *check = get_str(pf, "check"), *msg = get_str(pf, "message");

    /* A latched fault says more (and its cause): the pre-flight waits behind it. */
    if (!check || !msg || !strcmp(check, "ok") ||
        (state && (!strcmp(state, "set_running") || !strcmp(state, "fault"))))
        return;
    label(out, "pre-flight");
    put_text(out, msg);
    fputc('\n', out);
}

static void put_link(FILE *out, const char *name, const json_t *l)
{
    const char *where = get_str(l, "where"), *last = get_str(l, "last_error");
    double ok = 0, failed = 0, timeouts = 0, exc = 0, bad = 0, rtt;

    if (!json_is_object(l))
        return;
    get_num(l, "tx_ok", &ok);
    get_num(l, "tx_failed", &failed);
    get_num(l, "timeouts", &timeouts);
    get_num(l, "exceptions", &exc);
    get_num(l, "bad_frames", &bad);
    label(out, name);
    put_text(out, where ? where : "?");
    fprintf(out, ": %.0f ok, %.0f failed (%.0f timeouts, %.0f exceptions, %.0f bad frames)", ok,
            failed, timeouts, exc, bad);
    if (get_num(l, "rtt_ms", &rtt))
        fprintf(out, ", round trip %.1f ms", rtt);
    fputc('\n', out);
    if (last && *last) {
        label(out, "");
        fputs("last error: ", out);
        put_text(out, last);
        fputc('\n', out);
    }
}

static void put_links(FILE *out, const json_t *st)
{
    const json_t *links = member(st, "links");

    put_link(out, "drive link", member(links, "drive"));
    put_link(out, "cell link", member(links, "load_cell"));
}

static void put_step(FILE *out, const json_t *r);

/* The programme's level and its latest step or flag, with the reason. */
static void put_programme_status(FILE *out, const json_t *st)
{
    const json_t *p = member(st, "programme"), *latest = member(p, "latest");
    const json_t *band = member(st, "band");
    long long level;

    if (!json_is_object(p) || !get_int(p, "level", &level))
        return;
    label(out, "programme");
    fprintf(out, "level %lld%s", level, get_bool(p, "locked") == 1 ? ", locked" : "");
    if (json_array_size(band) == 2)
        fprintf(out, ", band %.0f-%.0f N", json_number_value(json_array_get(band, 0)),
                json_number_value(json_array_get(band, 1)));
    putc('\n', out);
    if (json_array_size(latest) > 0) {
        label(out, "");
        fputs("latest:\n", out);
        put_step(out, json_array_get(latest, json_array_size(latest) - 1));
    }
}

int ctlfmt_status(FILE *out, const json_t *reply)
{
    const json_t *st = member(reply, "status");
    const char *state, *fault;
    double rest;

    if (!json_is_object(st))
        return -1;
    state = get_str(st, "state");
    fault = get_str(st, "fault");
    put_state(out, state ? state : "?");
    put_patient(out, st);
    put_progress(out, st);
    put_belt_force(out, st);
    if (get_num(st, "rest_left_s", &rest) && (rest > 0.0 || (state && !strcmp(state, "rest")))) {
        long long r = (long long)ceil(rest < 0.0 ? 0.0 : rest);
        label(out, "rest");
        fprintf(out, "%lld:%02lld left\n", r / 60, r % 60);
    }
    put_preflight(out, st, state);
    if (fault && strcmp(fault, "none") != 0) {
        const char *cause = get_str(st, "fault_cause");
        put_fault(out, st, fault);
        if (cause && *cause) {
            label(out, "cause");
            put_text(out, cause);
            fputc('\n', out);
        }
        if (state && strcmp(state, "fault") == 0) {
            label(out, "");
            fputs("when its cause is gone: eccctl reset-fault, then eccctl start\n", out);
        }
    }
    put_today(out, st);
    put_programme_status(out, st);
    put_counters(out, st);
    put_links(out, st);
    return ferror(out) ? -1 : 0;
}

/* ---- history ------------------------------------------------------------------------- */

/* "2026-11-25T07:02:11Z" (fractions and +HH:MM offsets too) -> seconds since 1970. */
static bool parse_utc(const char *s, time_t *t)
{
    struct tm tm;
    int y, mo, d, h, mi, sec, n = 0, oh = 0, om = 0;
    const char *p;
    long sign = 0;

    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return false;
    p = s + n;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            ;
    if (*p == 'Z' && !p[1]) {
        sign = 0;
    } else if ((*p == '+' || *p == '-') && sscanf(p + 1, "%2d:%2d", &oh, &om) == 2 &&
               strlen(p) == 6) {
        sign = *p == '+' ? 1 : -1;
    } else {
        return false;
    }
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *t = timegm(&tm) - sign * (oh * 3600L + om * 60L);
    return true;
}

/* A time from the daemon in local time: "2026-11-25 08:02", or only "08:02" when it falls
 * on the same local day as same_day (may be NULL). Unreadable times are shown as sent. */
static void put_time(FILE *out, const char *iso, const char *same_day)
{
    time_t t, t0;
    struct tm tm, tm0;
    char buf[32];

    if (!parse_utc(iso, &t) || !localtime_r(&t, &tm)) {
        put_text(out, iso ? iso : "?");
        return;
    }
    if (same_day && parse_utc(same_day, &t0) && localtime_r(&t0, &tm0) &&
        tm0.tm_year == tm.tm_year && tm0.tm_yday == tm.tm_yday)
        strftime(buf, sizeof buf, "%H:%M", &tm);
    else
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    fputs(buf, out);
}

static void put_cell_int(FILE *out, const json_t *o, const char *key, int width)
{
    long long v;
    char buf[32] = "-";

    if (get_int(o, key, &v))
        snprintf(buf, sizeof buf, "%lld", v);
    fprintf(out, "  %*s", width, buf);
}

static void put_session(FILE *out, const json_t *s)
{
    const json_t *sets = member(s, "sets");
    const char *started = get_str(s, "started"), *ended = get_str(s, "ended"),
               *status = get_str(s, "status");
    long long id, faults;
    size_t i;
    const json_t *set;

    fputs("session", out);
    if (get_int(s, "id", &id))
        fprintf(out, " %lld", id);
    fputs(": ", out);
    put_time(out, started, NULL);
    if (ended) {
        fputs(" to ", out);
        put_time(out, ended, started);
    }
    if (status) {
        fputs(", ", out);
        if (strcmp(status, "open") == 0)
            fputs("open (not finished)", out);
        else
            put_text(out, status);
    }
    if (get_int(s, "faults", &faults) && faults > 0)
        fprintf(out, ", %lld %s", faults, plural(faults, "fault", "faults"));
    putc('\n', out);
    if (!json_is_array(sets) || json_array_size(sets) == 0) {
        fputs("  no sets\n", out);
        return;
    }
    fputs("  set  counted  rejected  in band  pain\n", out);
    json_array_foreach(sets, i, set) {
        double share;
        char band[16] = "-";

        if (get_num(set, "in_band", &share))
            snprintf(band, sizeof band, "%.0f%%", share * 100.0);
        put_cell_int(out, set, "set", 3);
        put_cell_int(out, set, "counted", 7);
        put_cell_int(out, set, "rejected", 8);
        fprintf(out, "  %7s", band);
        put_cell_int(out, set, "pain", 4);
        putc('\n', out);
    }
}

int ctlfmt_history(FILE *out, const json_t *reply)
{
    const json_t *sessions = member(reply, "sessions"), *s;
    long long days;
    size_t i, n;

    if (!json_is_array(sessions))
        return -1;
    n = json_array_size(sessions);
    if (get_int(reply, "days", &days))
        fprintf(out, "Last %lld %s: ", days, plural(days, "day", "days"));
    if (n == 0)
        fputs("no sessions\n", out);
    else
        fprintf(out, "%zu %s (times are local)\n", n, plural((long long)n, "session", "sessions"));
    json_array_foreach(sessions, i, s) {
        putc('\n', out);
        put_session(out, s);
    }
    if (json_array_size(member(reply, "progression")) > 0) {
        fputs("\nThe programme's steps and flags:\n", out);
        json_array_foreach(member(reply, "progression"), i, s)
            put_step(out, s);
    }
    return ferror(out) ? -1 : 0;
}

/* ---- patients ------------------------------------------------------------------------ */

/* A patient's own setting, or "-" (null: the config's value). */
static void setting_text(char *buf, size_t len, const json_t *p, const char *key, int decimals)
{
    double v;

    if (get_num(p, key, &v))
        snprintf(buf, len, "%.*f", decimals, v);
    else
        snprintf(buf, len, "-");
}

int ctlfmt_patients(FILE *out, const json_t *reply)
{
    const json_t *list = member(reply, "patients"), *p;
    int name_w = 4;
    size_t i;

    if (!json_is_array(list))
        return -1;
    if (json_array_size(list) == 0) {
        fputs("no patients\n", out);
        return ferror(out) ? -1 : 0;
    }
    json_array_foreach(list, i, p) {
        const char *name = get_str(p, "name");
        if (name && text_width(name) > name_w)
            name_w = text_width(name);
    }
    fputs("     ID  ", out);
    put_padded(out, "NAME", name_w, false);
    fputs("  FORCE LOW N  FORCE HIGH N  SPEED MAX m/s  FORCE ABORT N\n", out);
    json_array_foreach(list, i, p) {
        const char *name = get_str(p, "name");
        char id[24] = "?", lo[24], hi[24], sp[24], ab[24];
        long long v;

        if (get_int(p, "id", &v))
            snprintf(id, sizeof id, "%lld", v);
        setting_text(lo, sizeof lo, p, "force_low", 0);
        setting_text(hi, sizeof hi, p, "force_high", 0);
        setting_text(sp, sizeof sp, p, "speed_max", 2);
        setting_text(ab, sizeof ab, p, "force_abort", 0);
        fprintf(out, "%c %5s  ", get_bool(p, "selected") == 1 ? '*' : ' ', id);
        put_padded(out, name ? name : "?", name_w, false);
        fprintf(out, "  %11s  %12s  %13s  %13s\n", lo, hi, sp, ab);
    }
    fputs("*: selected (its sessions are counted and its settings apply); "
          "-: the config's value\n", out);
    return ferror(out) ? -1 : 0;
}

/* ---- export as CSV ------------------------------------------------------------------- */

int ctlfmt_csv_field(FILE *out, const char *s, size_t len)
{
    bool quote = false;

    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote)
        return fwrite(s, 1, len, out) == len ? 0 : -1;
    putc('"', out);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            putc('"', out);
        putc(s[i], out);
    }
    putc('"', out);
    return ferror(out) ? -1 : 0;
}

static int csv_value(FILE *out, const json_t *v)
{
    char buf[48];
    char *dump;
    int rc;

    switch (json_typeof(v)) {
    case JSON_NULL:
        return 0;
    case JSON_STRING:
        return ctlfmt_csv_field(out, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return 0;
    case JSON_REAL:
        ctlfmt_number(buf, sizeof buf, json_real_value(v));
        fputs(buf, out);
        return 0;
    case JSON_TRUE:
        fputs("true", out);
        return 0;
    case JSON_FALSE:
        fputs("false", out);
        return 0;
    default:                    /* an array or object: its JSON text, as one field */
        dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (!dump)
            return -1;
        rc = ctlfmt_csv_field(out, dump, strlen(dump));
        free(dump);
        return rc;
    }
}

static int csv_record(FILE *out, const json_t *fields)
{
    const json_t *v;
    size_t i;

    json_array_foreach(fields, i, v) {
        if (i)
            putc(',', out);
        if (csv_value(out, v) != 0)
            return -1;
    }
    fputs("\r\n", out);
    return 0;
}

int ctlfmt_export_csv_head(FILE *out, const json_t *columns)
{
    const json_t *v;
    size_t i;

    if (!json_is_array(columns) || json_array_size(columns) == 0)
        return -1;
    json_array_foreach(columns, i, v)
        if (!json_is_string(v))
            return -1;
    return csv_record(out, columns) != 0 || ferror(out) ? -1 : 0;
}

int ctlfmt_export_csv_row(FILE *out, const json_t *row)
{
    if (!json_is_array(row))
        return -1;
    return csv_record(out, row) != 0 || ferror(out) ? -1 : 0;
}

int ctlfmt_export_csv(FILE *out, const json_t *reply)
{
    const json_t *rows = member(reply, "rows"), *v;
    size_t i;

    if (!json_is_array(rows))
        return -1;
    json_array_foreach(rows, i, v)      /* check everything before writing anything */
        if (!json_is_array(v))
            return -1;
    if (ctlfmt_export_csv_head(out, member(reply, "columns")) != 0)
        return -1;
    json_array_foreach(rows, i, v)
        if (ctlfmt_export_csv_row(out, v) != 0)
            return -1;
    return ferror(out) ? -1 : 0;
}

/* ---- everything else ----------------------------------------------------------------- */

/* ---- the programme -------------------------------------------------------------------- */

/* UTC seconds as a local date and time: "2026-01-05 08:00". */
static void put_epoch(FILE *out, double t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[32];

    if (!isfinite(t) || !localtime_r(&tt, &tm)) {
        fputs("?", out);
        return;
    }
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    fputs(buf, out);
}

static void put_step(FILE *out, const json_t *r)
{
    const char *kind = get_str(r, "kind"), *reason = get_str(r, "reason");
    long long from = 0, to = 0;
    double t = NAN, lo = NAN, hi = NAN;

    get_num(r, "t", &t);
    get_int(r, "level_from", &from);
    get_int(r, "level_to", &to);
    get_num(r, "band_low", &lo);
    get_num(r, "band_high", &hi);
    fputs("  ", out);
    put_epoch(out, t);
    fprintf(out, "  %-14s %3lld -> %-3lld %4.0f-%-4.0f N  ", kind ? kind : "?", from, to, lo, hi);
    put_text(out, reason ? reason : "");
    putc('\n', out);
}

/* Per programme week: sessions done of the plan, and each day's sessions (0: missed). */
static void put_adherence(FILE *out, const json_t *weeks)
{
    const json_t *w, *d;
    size_t i, k;
    long long week, done, planned;

    if (json_array_size(weeks) == 0)
        return;
    label(out, "adherence");
    fputs("week  done/plan  sessions each day (0: missed)\n", out);
    json_array_foreach(weeks, i, w) {
        if (!get_int(w, "week", &week) || !get_int(w, "done", &done) ||
            !get_int(w, "planned", &planned))
            continue;
        label(out, "");
        fprintf(out, "%4lld  %4lld/%-4lld ", week, done, planned);
        json_array_foreach(member(w, "days"), k, d)
            fprintf(out, " %lld", (long long)json_integer_value(d));
        putc('\n', out);
    }
}

int ctlfmt_programme(FILE *out, const json_t *reply)
{
    const json_t *p = member(reply, "programme"), *steps = member(reply, "progression"), *r;
    double start, lo, hi, b_lo, b_hi, step, floor_n, ceil_n, base;
    long long weeks, spd, sets, reps, level, lmin, lmax;
    size_t i;

    if (!json_is_object(p) || !get_num(p, "start", &start) || !get_int(p, "weeks", &weeks) ||
        !get_int(p, "level", &level) || !get_num(p, "cur_low", &lo) ||
        !get_num(p, "cur_high", &hi))
        return -1;
    get_int(p, "sessions_per_day", &spd);
    get_int(p, "sets", &sets);
    get_int(p, "reps", &reps);
    get_num(p, "band_low", &b_lo);
    get_num(p, "band_high", &b_hi);
    get_num(p, "step_share", &step);
    get_num(p, "floor_n", &floor_n);
    get_num(p, "ceiling_n", &ceil_n);
    get_int(p, "level_min", &lmin);
    get_int(p, "level_max", &lmax);
    label(out, "programme");
    fprintf(out, "%lld weeks from ", weeks);
    put_epoch(out, start);
    fprintf(out, ", %lld sessions a day of %lld x %lld\n", spd, sets, reps);
    label(out, "band");
    fprintf(out, "%.0f-%.0f N at level %lld%s\n", lo, hi, level,
            get_bool(p, "locked") == 1 ? " (locked: no step)" : "");
    label(out, "");
    fprintf(out, "from %.0f-%.0f N in steps of %.0f%%, floor %.0f N, ceiling %.0f N "
            "(levels %lld to %lld)\n", b_lo, b_hi, step * 100.0, floor_n, ceil_n, lmin, lmax);
    label(out, "baseline");
    if (get_num(p, "baseline_morning", &base))
        fprintf(out, "morning %.0f/10\n", base);
    else
        fputs("none yet (the first morning score sets it)\n", out);
    put_adherence(out, member(reply, "adherence"));
    if (json_array_size(steps) > 0)
        fputs("steps and flags:\n", out);
    json_array_foreach(steps, i, r)
        put_step(out, r);
    return ferror(out) ? -1 : 0;
}

/* ---- results ----------------------------------------------------------------- */

static void put_named_patient(FILE *out, const json_t *reply, const char *verb)
{
    const json_t *p = member(reply, "patient");
    const char *name = get_str(p, "name");
    long long id;

    fputs("patient", out);
    if (get_int(p, "id", &id))
        fprintf(out, " %lld", id);
    fprintf(out, " %s", verb);
    if (name) {
        fputs(": ", out);
        put_text(out, name);
    }
    putc('\n', out);
}

int ctlfmt_result(FILE *out, const json_t *reply)
{
    const char *cmd = get_str(reply, "cmd"), *state = get_str(reply, "state"),
               *result = get_str(reply, "result"), *msg = get_str(reply, "message");
    long long score, session, set;

    if (!json_is_object(reply))
        return -1;
    if (!cmd)
        cmd = "?";
    if (strcmp(cmd, "pain") == 0 && get_int(reply, "score", &score)) {
        fprintf(out, "pain %lld recorded", score);
        if (get_int(reply, "session", &session) && get_int(reply, "set", &set))
            fprintf(out, " for session %lld, set %lld", session, set);
        putc('\n', out);
        if (get_bool(reply, "session_ended") == 1)
            fputs("the session ends here: pain above the programme's limit (the next "
                  "session is one step down)\n", out);
    } else if (strcmp(cmd, "morning") == 0 && get_int(reply, "score", &score)) {
        const json_t *steps = member(reply, "progression"), *r;
        size_t i;

        fprintf(out, "morning score %lld recorded\n", score);
        json_array_foreach(steps, i, r)
            put_step(out, r);
    } else if (strcmp(cmd, "questionnaire") == 0) {
        double q = NAN;

        get_num(reply, "score", &q);
        fprintf(out, "%s score %g recorded\n", get_str(reply, "instrument") ?
                get_str(reply, "instrument") : "questionnaire", q);
    } else if (strcmp(cmd, "patient-add") == 0) {
        put_named_patient(out, reply, "added");
    } else if (strcmp(cmd, "patient-select") == 0) {
        put_named_patient(out, reply, "selected");
    } else {
        if (msg && !result && !state) {         /* tare, calibrate: what started */
            put_text(out, msg);
            putc('\n', out);
            return ferror(out) ? -1 : 0;
        }
        put_text(out, cmd);
        fputs(": ", out);
        put_text(out, result ? result : "ok");
        if (state) {
            fputs(", state now ", out);
            put_text(out, state);
        }
        if (msg) {
            fputs(": ", out);
            put_text(out, msg);
        }
        putc('\n', out);
    }
    return ferror(out) ? -1 : 0;
}

int ctlfmt_reply(FILE *out, const json_t *reply)
{
    const char *cmd = get_str(reply, "cmd");

    if (!cmd)
        return ctlfmt_result(out, reply);
    if (strcmp(cmd, "status") == 0)
        return ctlfmt_status(out, reply);
    if (strcmp(cmd, "history") == 0)
        return ctlfmt_history(out, reply);
    if (strcmp(cmd, "patient-list") == 0)
        return ctlfmt_patients(out, reply);
    if (strcmp(cmd, "export") == 0)
        return ctlfmt_export_csv(out, reply);
    if (strcmp(cmd, "programme") == 0 || strcmp(cmd, "programme-set") == 0)
        return ctlfmt_programme(out, reply);
    return ctlfmt_result(out, reply);
}

int ctlfmt_error(FILE *err, const json_t *reply)
{
    const char *code = get_str(reply, "error"), *msg = get_str(reply, "message");
    double wait;
    char w[48];

    fputs("eccctl: ", err);
    put_text(err, msg && *msg ? msg : code ? code : "eccd reported an error");
    putc('\n', err);
    if (!code)
        return ferror(err) ? -1 : 0;
    if (strcmp(code, "refused_schedule") == 0 && get_num(reply, "wait_s", &wait) && wait > 0.0) {
        ctlfmt_wait(w, sizeof w, wait);
        if (!msg || !strstr(msg, w))    /* eccd's message may say it already */
            fprintf(err, "eccctl: the next session may start in %s\n", w);
    } else if (strcmp(code, "permission") == 0) {
        fputs("eccctl: eccd does not accept requests from this user: are you in its socket's "
              "group ([server] group)?\n", err);
    } else if (strcmp(code, "version") == 0) {
        fprintf(err, "eccctl: this eccctl speaks protocol version %d: eccd and eccctl come "
                "from different releases\n", REQ_VERSION);
    }
    return ferror(err) ? -1 : 0;
}
