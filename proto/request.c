/* request.c - the control socket's request parser and error replies (see request.h).
 *
 * jansson reads the line (duplicate members rejected, nothing allowed after the object);
 * then the members are checked against the command's list, one helper per kind of value.
 * Every failure goes through fail(), which sets the code and writes one sentence.
 */
#include "proto/request.h"

#include "config/config.h"

#include <ctype.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SHOW_MAX 40                 /* bytes of a client's string quoted in a message */

static const char *const cmd_names[REQ_CMD_COUNT] = {
    [REQ_STATUS] = "status",           [REQ_START] = "start",
    [REQ_STOP] = "stop",               [REQ_NEXT_SET] = "next-set",
    [REQ_RESET_FAULT] = "reset-fault", [REQ_TARE] = "tare",
    [REQ_CALIBRATE] = "calibrate",     [REQ_PAIN] = "pain",
    [REQ_PATIENT_LIST] = "patient-list", [REQ_PATIENT_ADD] = "patient-add",
    [REQ_PATIENT_SELECT] = "patient-select", [REQ_HISTORY] = "history",
    [REQ_EXPORT] = "export",           [REQ_WATCH] = "watch",
    [REQ_MORNING] = "morning",         [REQ_QUESTIONNAIRE] = "questionnaire",
    [REQ_PROGRAMME] = "programme",     [REQ_PROGRAMME_SET] = "programme-set",
    [REQ_REPORT] = "report",           [REQ_PATIENT_PUT] = "patient-put",
    [REQ_PROGRAMME_PUT] = "programme-put",
};

/* Every member a command takes besides v, cmd and tag, with its kind and bounds. The
 * patient settings take the bounds of the config keys they stand for. */
static const struct req_field fields[] = {
    {REQ_CALIBRATE, "mass_kg", REQ_KIND_NUMBER, true, REQ_MASS_MIN_KG, REQ_MASS_MAX_KG, "kg",
     NULL, NULL},
    {REQ_CALIBRATE, "confirm", REQ_KIND_BOOL, false, 0, 1, "", NULL, NULL},
    {REQ_PAIN, "score", REQ_KIND_INT, true, 0, 10, "", NULL, NULL},
    {REQ_PATIENT_ADD, "name", REQ_KIND_NAME, true, 1, REQ_NAME_MAX - 1, "bytes", NULL, NULL},
    {REQ_PATIENT_ADD, "force_low", REQ_KIND_NUMBER, false, 0, 0, "", "band", "force_low_n"},
    {REQ_PATIENT_ADD, "force_high", REQ_KIND_NUMBER, false, 0, 0, "", "band", "force_high_n"},
    {REQ_PATIENT_ADD, "speed_max", REQ_KIND_NUMBER, false, 0, 0, "", "limits", "speed_max_mps"},
    {REQ_PATIENT_ADD, "force_abort", REQ_KIND_NUMBER, false, 0, 0, "", "limits",
     "force_abort_n"},
    {REQ_PATIENT_SELECT, "patient", REQ_KIND_INT, true, 1, (double)LONG_MAX, "", NULL, NULL},
    {REQ_HISTORY, "days", REQ_KIND_INT, false, 1, REQ_DAYS_MAX, "", NULL, NULL},
    {REQ_EXPORT, "days", REQ_KIND_INT, false, 0, REQ_DAYS_MAX, "", NULL, NULL},
    {REQ_WATCH, "rate_hz", REQ_KIND_INT, false, 1, REQ_WATCH_RATE_MAX, "Hz", NULL, NULL},
    {REQ_MORNING, "score", REQ_KIND_INT, true, 0, 10, "", NULL, NULL},
    {REQ_QUESTIONNAIRE, "score", REQ_KIND_NUMBER, true, 0, 100, "", NULL, NULL},
    {REQ_QUESTIONNAIRE, "instrument", REQ_KIND_NAME, false, 1, REQ_NAME_MAX - 1, "bytes",
     NULL, NULL},
    {REQ_PROGRAMME_SET, "start", REQ_KIND_NUMBER, false, 0, 4102444800.0, "s", NULL, NULL},
    {REQ_PROGRAMME_SET, "weeks", REQ_KIND_INT, false, 1, 52, "", NULL, NULL},
    {REQ_PROGRAMME_SET, "sessions_per_day", REQ_KIND_INT, false, 1, 10, "", NULL, NULL},
    {REQ_PROGRAMME_SET, "band_low", REQ_KIND_NUMBER, false, 0, 0, "", "band", "force_low_n"},
    {REQ_PROGRAMME_SET, "band_high", REQ_KIND_NUMBER, false, 0, 0, "", "band", "force_high_n"},
    {REQ_PROGRAMME_SET, "step_share", REQ_KIND_NUMBER, false, 0.01, 0.5, "", NULL, NULL},
    {REQ_PROGRAMME_SET, "floor_n", REQ_KIND_NUMBER, false, 0, 0, "", "band", "force_low_n"},
    {REQ_PROGRAMME_SET, "ceiling_n", REQ_KIND_NUMBER, false, 0, 0, "", "band", "force_high_n"},
    {REQ_PROGRAMME_SET, "baseline", REQ_KIND_NUMBER, false, 0, 10, "", NULL, NULL},
    {REQ_PROGRAMME_SET, "level", REQ_KIND_INT, false, -100, 100, "", NULL, NULL},
    {REQ_PROGRAMME_SET, "locked", REQ_KIND_BOOL, false, 0, 1, "", NULL, NULL},
    {REQ_REPORT, "patient", REQ_KIND_INT, false, 1, (double)LONG_MAX, "", NULL, NULL},
    /* eccsync's: what the clinic shares, as its database holds it (docs/fleet.md) */
    {REQ_PATIENT_PUT, "uuid", REQ_KIND_UUID, true, REQ_UUID_LEN, REQ_UUID_LEN, "", NULL, NULL},
    {REQ_PATIENT_PUT, "name", REQ_KIND_NAME, true, 1, REQ_NAME_MAX - 1, "bytes", NULL, NULL},
    {REQ_PATIENT_PUT, "created", REQ_KIND_NUMBER, false, 0, 4102444800.0, "s", NULL, NULL},
    {REQ_PATIENT_PUT, "force_low", REQ_KIND_NUMBER, false, 0, 0, "", "band", "force_low_n"},
    {REQ_PATIENT_PUT, "force_high", REQ_KIND_NUMBER, false, 0, 0, "", "band", "force_high_n"},
    {REQ_PATIENT_PUT, "speed_max", REQ_KIND_NUMBER, false, 0, 0, "", "limits", "speed_max_mps"},
    {REQ_PATIENT_PUT, "force_abort", REQ_KIND_NUMBER, false, 0, 0, "", "limits",
     "force_abort_n"},
    {REQ_PROGRAMME_PUT, "patient_uuid", REQ_KIND_UUID, true, REQ_UUID_LEN, REQ_UUID_LEN, "",
     NULL, NULL},
    {REQ_PROGRAMME_PUT, "updated", REQ_KIND_NUMBER, true, 0, 4102444800.0, "s", NULL, NULL},
    {REQ_PROGRAMME_PUT, "last_change", REQ_KIND_NUMBER, false, 0, 4102444800.0, "s", NULL, NULL},
    {REQ_PROGRAMME_PUT, "start", REQ_KIND_NUMBER, true, 0, 4102444800.0, "s", NULL, NULL},
    {REQ_PROGRAMME_PUT, "weeks", REQ_KIND_INT, true, 1, 52, "", NULL, NULL},
    {REQ_PROGRAMME_PUT, "sessions_per_day", REQ_KIND_INT, true, 1, 10, "", NULL, NULL},
    {REQ_PROGRAMME_PUT, "band_low", REQ_KIND_NUMBER, true, 0, 0, "", "band", "force_low_n"},
    {REQ_PROGRAMME_PUT, "band_high", REQ_KIND_NUMBER, true, 0, 0, "", "band", "force_high_n"},
    {REQ_PROGRAMME_PUT, "step_share", REQ_KIND_NUMBER, true, 0.01, 0.5, "", NULL, NULL},
    {REQ_PROGRAMME_PUT, "floor_n", REQ_KIND_NUMBER, true, 0, 0, "", "band", "force_low_n"},
    {REQ_PROGRAMME_PUT, "ceiling_n", REQ_KIND_NUMBER, true, 0, 0, "", "band", "force_high_n"},
    {REQ_PROGRAMME_PUT, "baseline", REQ_KIND_NUMBER, false, 0, 10, "", NULL, NULL},
    {REQ_PROGRAMME_PUT, "level", REQ_KIND_INT, true, -100, 100, "", NULL, NULL},
    {REQ_PROGRAMME_PUT, "locked", REQ_KIND_BOOL, false, 0, 1, "", NULL, NULL},
};
#define NFIELDS (sizeof fields / sizeof fields[0])

/* One parse: the request being filled and where its error goes. */
struct pctx {
    json_t *obj;
    struct req *r;
    const char **code;
    char *msg;
    size_t msglen;
};

const char *req_cmd_name(enum req_cmd c)
{
    return (unsigned)c < REQ_CMD_COUNT ? cmd_names[c] : NULL;
}

int req_cmd_from_name(const char *name)
{
    for (int i = 0; name && i < REQ_CMD_COUNT; i++)
        if (strcmp(name, cmd_names[i]) == 0)
            return i;
    return -1;
}

__attribute__((format(printf, 3, 4)))
static int fail(struct pctx *c, const char *code, const char *fmt, ...)
{
    va_list ap;

    *c->code = code;
    if (c->msglen) {
        va_start(ap, fmt);
        vsnprintf(c->msg, c->msglen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Copy at most SHOW_MAX bytes of s into out (SHOW_MAX + 4 bytes), cut at a UTF-8
 * character boundary, with "..." when shortened: a client's string fit for a message. */
static const char *show(char *out, const char *s)
{
    size_t n = strlen(s);

    if (n <= SHOW_MAX)
        return memcpy(out, s, n + 1);
    n = SHOW_MAX;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    memcpy(out, s, n);
    memcpy(out + n, "...", 4);
    return out;
}

static const char *type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a fractional number";
    case JSON_TRUE: return "true";
    case JSON_FALSE: return "false";
    default: return "null";
    }
}

/* "v, cmd, tag, mass_kg": what command cmd accepts. */
static void allowed_list(enum req_cmd cmd, char *out, size_t outlen)
{
    size_t n = (size_t)snprintf(out, outlen, "v, cmd, tag");

    for (size_t i = 0; i < NFIELDS && n < outlen; i++)
        if (fields[i].cmd == cmd)
            n += (size_t)snprintf(out + n, outlen - n, ", %s", fields[i].key);
}

static int takes(enum req_cmd cmd, const char *key)
{
    return !strcmp(key, "v") || !strcmp(key, "cmd") || !strcmp(key, "tag") ||
           req_field_find(cmd, key) != NULL;
}

const struct req_field *req_field_find(enum req_cmd cmd, const char *key)
{
    for (size_t i = 0; key && i < NFIELDS; i++)
        if (fields[i].cmd == cmd && !strcmp(fields[i].key, key))
            return &fields[i];
    return NULL;
}

/* f's bounds and unit, the config key's when f names one. */
static void field_bounds(const struct req_field *f, double *lo, double *hi, const char **unit)
{
    *lo = f->lo;
    *hi = f->hi;
    *unit = f->unit;
    if (f->cfg_section && config_key_bounds(f->cfg_section, f->cfg_key, lo, hi, unit) != 0) {
        *lo = 1.0;      /* a table entry naming no number key: refuse everything */
        *hi = 0.0;
    }
}

/* v in as few digits as tell it from ref (a limit it is compared with). */
static const char *num_text(char *out, size_t n, double v, double ref)
{
    for (int digits = 6; digits <= 17; digits++) {
        snprintf(out, n, "%.*g", digits, v);
        if (v == ref || strtod(out, NULL) != ref)
            break;
    }
    return out;
}

void req_field_range(const struct req_field *f, char *out, size_t outlen)
{
    double lo, hi;
    const char *unit;

    field_bounds(f, &lo, &hi, &unit);
    if (f->kind == REQ_KIND_NAME)
        snprintf(out, outlen, "a string of %g to %g bytes", lo, hi);
    else if (f->kind == REQ_KIND_UUID)
        snprintf(out, outlen, "a UUID (8-4-4-4-12 hexadecimal digits)");
    else if (f->kind == REQ_KIND_BOOL)
        snprintf(out, outlen, "true or false");
    else if (f->kind == REQ_KIND_INT && hi >= (double)LONG_MAX)
        snprintf(out, outlen, "an integer of at least %g", lo);
    else
        snprintf(out, outlen, "%s from %g to %g%s%s",
                 f->kind == REQ_KIND_INT ? "an integer" : "a number", lo, hi, *unit ? " " : "",
                 unit);
}

int req_field_check(const struct req_field *f, double v, const char *what, char *msg,
                    size_t msglen)
{
    char member[64], range[96], shown[32];
    double lo, hi, ref;
    const char *unit;

    field_bounds(f, &lo, &hi, &unit);
    if (isfinite(v) && v >= lo && v <= hi && (f->kind != REQ_KIND_INT || v == floor(v)))
        return 0;
    if (!what) {
        snprintf(member, sizeof member, "member \"%s\"", f->key);
        what = member;
    }
    req_field_range(f, range, sizeof range);
    ref = v < lo ? lo : hi;
    snprintf(msg, msglen, "%s must be %s, not %s", what, range,
             num_text(shown, sizeof shown, v, ref));
    return -1;
}

/* jansson's message, or for a duplicate member one that names it. */
static int fail_json(struct pctx *c, const json_error_t *e)
{
    const char *near = strstr(e->text, " near '");
    size_t n;

    if (json_error_code(e) == json_error_duplicate_key && near) {
        near += 7;
        n = strlen(near);
        if (n > 0 && near[n - 1] == '\'')
            return fail(c, "bad_request", "member %.*s appears more than once",
                        (int)(n - 1 < SHOW_MAX ? n - 1 : SHOW_MAX), near);
    }
    return fail(c, "bad_request", "the request is not valid JSON: %s (at byte %d)", e->text,
                e->position);
}

/* "tag" first, so that every later error can echo it. */
static int read_tag(struct pctx *c)
{
    json_t *j = json_object_get(c->obj, "tag");
    size_t n;

    if (!j)
        return 0;
    if (!json_is_string(j))
        return fail(c, "bad_request", "member \"tag\" must be a string, not %s", type_name(j));
    n = json_string_length(j);
    if (n >= REQ_TAG_MAX || memchr(json_string_value(j), '\0', n))
        return fail(c, "bad_request", "member \"tag\" must be at most %d bytes long (it is %zu)",
                    REQ_TAG_MAX - 1, n);
    memcpy(c->r->tag, json_string_value(j), n + 1);
    return 0;
}

static int read_version(struct pctx *c)
{
    json_t *j = json_object_get(c->obj, "v");

    if (!j)
        return fail(c, "bad_request",
                    "member \"v\" is missing: every request starts {\"v\":%d,...", REQ_VERSION);
    if (!json_is_integer(j))
        return fail(c, "bad_request", "member \"v\" must be the integer %d, not %s", REQ_VERSION,
                    type_name(j));
    if (json_integer_value(j) != REQ_VERSION)
        return fail(c, "version", "protocol version %lld is not supported (eccd speaks version %d)",
                    (long long)json_integer_value(j), REQ_VERSION);
    c->r->v = REQ_VERSION;
    return 0;
}

static int read_cmd(struct pctx *c)
{
    json_t *j = json_object_get(c->obj, "cmd");
    char shown[SHOW_MAX + 4];

    if (!j)
        return fail(c, "bad_request",
                    "member \"cmd\" is missing: every request names its command, e.g. "
                    "\"cmd\":\"status\"");
    if (!json_is_string(j))
        return fail(c, "bad_request", "member \"cmd\" must be a string, not %s", type_name(j));
    if (c->r->cmd == REQ_CMD_COUNT)
        return fail(c, "unknown_command",
                    "unknown command \"%s\" (known: status, start, stop, next-set, reset-fault, "
                    "tare, calibrate, pain, patient-list, patient-add, patient-select, history, "
                    "export, watch, morning, questionnaire, programme, programme-set, report, "
                    "patient-put, programme-put)", show(shown, json_string_value(j)));
    return 0;
}

static int check_members(struct pctx *c)
{
    const char *key;
    json_t *val;
    char allowed[128], shown[SHOW_MAX + 4];

    json_object_foreach(c->obj, key, val) {
        if (takes(c->r->cmd, key))
            continue;
        allowed_list(c->r->cmd, allowed, sizeof allowed);
        return fail(c, "bad_request", "command \"%s\" does not take member \"%s\" (allowed: %s)",
                    cmd_names[c->r->cmd], show(shown, key), allowed);
    }
    return 0;
}

/* c->r's command's member key: absent leaves *num and *whole alone, or fails when the
 * member is required; else its kind and bounds are checked (req_field_check). */
static int get_number(struct pctx *c, const char *key, double *num, long long *whole)
{
    const struct req_field *f = req_field_find(c->r->cmd, key);
    json_t *j = json_object_get(c->obj, key);
    char range[96], why[160];
    bool integer = f->kind == REQ_KIND_INT;
    double v;

    if (!j && !f->required)
        return 0;
    req_field_range(f, range, sizeof range);
    if (!j)
        return fail(c, "bad_request", "command \"%s\" needs member \"%s\": %s",
                    cmd_names[c->r->cmd], key, range);
    if (integer ? !json_is_integer(j) : !json_is_number(j))
        return fail(c, "bad_request", "member \"%s\" must be %s, not %s", key, range,
                    type_name(j));
    v = json_number_value(j);
    if (integer && json_integer_value(j) >= LLONG_MAX)
        v = INFINITY;   /* 2^63 - 1 rounds to a double that would pass LONG_MAX */
    if (req_field_check(f, v, NULL, why, sizeof why) < 0)
        return fail(c, "bad_request", "%s", why);
    if (num)
        *num = v;
    if (whole)
        *whole = integer ? json_integer_value(j) : 0;
    return 0;
}

/* Control characters: C0, DEL and C1 (U+0080..U+009F, encoded C2 80..C2 9F). */
static size_t find_control(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] == 0x7F ||
            (s[i] == 0xC2 && i + 1 < n && s[i + 1] >= 0x80 && s[i + 1] <= 0x9F))
            return i;
    return n;
}

int req_name_check(const char *name, size_t len, const char *what, char *msg, size_t msglen)
{
    const unsigned char *u = (const unsigned char *)name;
    size_t at = find_control(u, len);

    if (!what)
        what = "member \"name\"";
    if (len == 0 || len >= REQ_NAME_MAX)
        snprintf(msg, msglen, "%s must be 1 to %d bytes long (it is %zu)", what,
                 REQ_NAME_MAX - 1, len);
    else if (at < len)
        snprintf(msg, msglen, "%s must not contain control characters (one is at byte %zu)",
                 what, at);
    else if (isspace(u[0]) || isspace(u[len - 1]))
        snprintf(msg, msglen, "%s must not start or end with white space", what);
    else
        return 0;
    return -1;
}

/* A name-like member (patient-add's name, questionnaire's instrument) into r->name. */
static int get_name(struct pctx *c, const char *key)
{
    const struct req_field *f = req_field_find(c->r->cmd, key);
    json_t *j = json_object_get(c->obj, key);
    char why[160], what[64];

    if (!j && !f->required)
        return 0;
    if (!j)
        return fail(c, "bad_request", "command \"%s\" needs member \"%s\": a string "
                    "of 1 to %d bytes", cmd_names[c->r->cmd], key, REQ_NAME_MAX - 1);
    if (!json_is_string(j))
        return fail(c, "bad_request", "member \"%s\" must be a string, not %s", key,
                    type_name(j));
    snprintf(what, sizeof what, "member \"%s\"", key);
    if (req_name_check(json_string_value(j), json_string_length(j), what, why, sizeof why) < 0)
        return fail(c, "bad_request", "%s", why);
    memcpy(c->r->name, json_string_value(j), json_string_length(j) + 1);
    return 0;
}

/* A UUID member (8-4-4-4-12 hexadecimal digits, either case) into r->uuid, lower case. */
static int get_uuid(struct pctx *c, const char *key)
{
    json_t *j = json_object_get(c->obj, key);
    const char *u = json_string_value(j);
    bool ok = u && json_string_length(j) == REQ_UUID_LEN;

    if (!j)
        return fail(c, "bad_request", "command \"%s\" needs member \"%s\": a UUID",
                    cmd_names[c->r->cmd], key);
    for (int i = 0; ok && i < REQ_UUID_LEN; i++)
        ok = (i == 8 || i == 13 || i == 18 || i == 23) ? u[i] == '-' : isxdigit((unsigned char)u[i]);
    if (!ok)
        return fail(c, "bad_request", "member \"%s\" must be a UUID (8-4-4-4-12 hexadecimal "
                    "digits)", key);
    for (int i = 0; i <= REQ_UUID_LEN; i++)
        c->r->uuid[i] = (char)tolower((unsigned char)u[i]);
    return 0;
}

/* Settings that contradict each other are refused here, as config_check refuses them in
 * a file: the band's low edge under its high edge, the abort force above the band. */
static int get_patient_args(struct pctx *c)
{
    struct req *r = c->r;

    if (get_name(c, "name") < 0 || get_number(c, "force_low", &r->force_low, NULL) < 0 ||
        get_number(c, "force_high", &r->force_high, NULL) < 0 ||
        get_number(c, "speed_max", &r->speed_max, NULL) < 0 ||
        get_number(c, "force_abort", &r->force_abort, NULL) < 0)
        return -1;
    if (r->force_low >= r->force_high)     /* false when either is NAN (absent) */
        return fail(c, "bad_request", "member \"force_low\" (%g N) must be below "
                    "\"force_high\" (%g N)", r->force_low, r->force_high);
    if (r->force_high >= r->force_abort)
        return fail(c, "bad_request", "member \"force_abort\" (%g N) must be above "
                    "\"force_high\" (%g N)", r->force_abort, r->force_high);
    return 0;
}

/* calibrate's "confirm": true or false, false when absent. */
static int get_confirm(struct pctx *c)
{
    json_t *j = json_object_get(c->obj, "confirm");

    if (j && !json_is_boolean(j))
        return fail(c, "bad_request", "member \"confirm\" must be true or false, not %s",
                    type_name(j));
    c->r->confirm = j && json_is_true(j);
    return 0;
}

/* A boolean member: -1 absent, 0, 1 in *out. */
static int get_bool(struct pctx *c, const char *key, int *out)
{
    json_t *j = json_object_get(c->obj, key);

    if (j && !json_is_boolean(j))
        return fail(c, "bad_request", "member \"%s\" must be true or false, not %s", key,
                    type_name(j));
    *out = j ? json_is_true(j) : -1;
    return 0;
}

static int get_int(struct pctx *c, const char *key, int *out)
{
    long long v = *out;

    if (get_number(c, key, NULL, &v) < 0)
        return -1;
    *out = (int)v;
    return 0;
}

static int get_programme_args(struct pctx *c)
{
    struct req_programme *p = &c->r->prog;

    if (c->r->cmd == REQ_PROGRAMME_PUT &&
        (get_uuid(c, "patient_uuid") < 0 || get_number(c, "updated", &c->r->updated, NULL) < 0 ||
         get_number(c, "last_change", &c->r->last_change, NULL) < 0))
        return -1;
    if (get_number(c, "start", &p->start, NULL) < 0 || get_int(c, "weeks", &p->weeks) < 0 ||
        get_int(c, "sessions_per_day", &p->sessions_per_day) < 0 ||
        get_number(c, "band_low", &p->band_low, NULL) < 0 ||
        get_number(c, "band_high", &p->band_high, NULL) < 0 ||
        get_number(c, "step_share", &p->step_share, NULL) < 0 ||
        get_number(c, "floor_n", &p->floor_n, NULL) < 0 ||
        get_number(c, "ceiling_n", &p->ceiling_n, NULL) < 0 ||
        get_number(c, "baseline", &p->baseline, NULL) < 0 ||
        get_int(c, "level", &p->level) < 0 || get_bool(c, "locked", &p->locked) < 0)
        return -1;
    if (p->band_low >= p->band_high)       /* false when either is NAN (absent) */
        return fail(c, "bad_request", "member \"band_low\" (%g N) must be below "
                    "\"band_high\" (%g N)", p->band_low, p->band_high);
    if (p->floor_n >= p->ceiling_n)
        return fail(c, "bad_request", "member \"floor_n\" (%g N) must be below "
                    "\"ceiling_n\" (%g N)", p->floor_n, p->ceiling_n);
    return 0;
}

/* The command's own members into r. */
static int read_args(struct pctx *c)
{
    struct req *r = c->r;
    long long v = 0;

    switch (r->cmd) {
    case REQ_CALIBRATE:
        return get_number(c, "mass_kg", &r->mass_kg, NULL) < 0 ? -1 : get_confirm(c);
    case REQ_QUESTIONNAIRE:
        return get_number(c, "score", &r->number, NULL) < 0 ? -1 : get_name(c, "instrument");
    case REQ_PROGRAMME_SET:
    case REQ_PROGRAMME_PUT:
        return get_programme_args(c);
    case REQ_PATIENT_PUT:
        return get_uuid(c, "uuid") < 0 || get_number(c, "created", &r->created, NULL) < 0
                   ? -1 : get_patient_args(c);
    case REQ_MORNING:
    case REQ_PAIN:
        if (get_number(c, "score", NULL, &v) < 0)
            return -1;
        r->score = (int)v;
        return 0;
    case REQ_PATIENT_ADD:
        return get_patient_args(c);
    case REQ_REPORT:
    case REQ_PATIENT_SELECT:
        if (get_number(c, "patient", NULL, &v) < 0)
            return -1;
        r->patient = (long)v;
        return 0;
    case REQ_HISTORY:
    case REQ_EXPORT:
        v = r->days;
        if (get_number(c, "days", NULL, &v) < 0)
            return -1;
        r->days = (int)v;
        return 0;
    case REQ_WATCH:
        v = r->rate_hz;
        if (get_number(c, "rate_hz", NULL, &v) < 0)
            return -1;
        r->rate_hz = (int)v;
        return 0;
    default:
        return 0;
    }
}

static void req_init(struct req *r)
{
    memset(r, 0, sizeof *r);
    r->cmd = REQ_CMD_COUNT;
    r->mass_kg = NAN;
    r->score = -1;
    r->rate_hz = REQ_WATCH_RATE;
    r->force_low = r->force_high = r->speed_max = r->force_abort = NAN;
    r->number = r->updated = r->last_change = r->created = NAN;
    r->prog = (struct req_programme){.start = NAN, .band_low = NAN, .band_high = NAN,
                                     .step_share = NAN, .floor_n = NAN, .ceiling_n = NAN,
                                     .baseline = NAN, .weeks = -1, .sessions_per_day = -1,
                                     .level = INT_MIN, .locked = -1};
}

/* The command, when "cmd" names one, for the error reply even if "v" is wrong. */
static void peek_cmd(struct pctx *c)
{
    int cmd = req_cmd_from_name(json_string_value(json_object_get(c->obj, "cmd")));

    if (cmd >= 0) {
        c->r->cmd = (enum req_cmd)cmd;
        c->r->days = cmd == REQ_HISTORY ? 7 : 0;
    }
}

static int read_request(struct pctx *c)
{
    if (!json_is_object(c->obj))
        return fail(c, "bad_request", "the request must be a JSON object, not %s",
                    type_name(c->obj));
    peek_cmd(c);
    if (read_tag(c) < 0 || read_version(c) < 0 || read_cmd(c) < 0 || check_members(c) < 0)
        return -1;
    return read_args(c);
}

int req_parse(const char *line, size_t len, struct req *r, const char **code, char *msg,
              size_t msglen)
{
    struct pctx c = {.r = r, .code = code, .msg = msg, .msglen = msglen};
    const char *nul;
    json_error_t e;
    int rc;

    req_init(r);
    *code = NULL;
    if (msglen)
        msg[0] = '\0';
    if (len > REQ_LINE_MAX - 1)
        return fail(&c, "too_long", "the request is %zu bytes long (at most %d are allowed, "
                    "with the newline)", len + 1, REQ_LINE_MAX);
    nul = memchr(line, '\0', len);
    if (nul)
        return fail(&c, "bad_request", "the request contains a NUL byte (at byte %zu)",
                    (size_t)(nul - line));
    c.obj = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (!c.obj)
        return fail_json(&c, &e);
    rc = read_request(&c);
    json_decref(c.obj);
    return rc;
}

/* The reply being written: snprintf's contract, n counts what did not fit too. */
struct out {
    char *buf;
    size_t len, n;
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->n < o->len)
        memcpy(o->buf + o->n, s, o->len - o->n < n ? o->len - o->n : n);
    o->n += n;
}

static void put_s(struct out *o, const char *s)
{
    put(o, s, strlen(s));
}

/* Length of the valid UTF-8 character at s (n bytes left), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    size_t want = s[0] < 0x80 ? 1 : s[0] < 0xC2 ? 0 : s[0] < 0xE0 ? 2 : s[0] < 0xF0 ? 3
                  : s[0] < 0xF5 ? 4 : 0;
    uint32_t cp;

    if (want <= 1)
        return want;
    if (want > n)
        return 0;
    cp = s[0] & (0x3F >> (want - 1));
    for (size_t i = 1; i < want; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3F);
    }
    if ((want == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
        (want == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
        return 0;
    return want;
}

/* s as a JSON string; bytes that are not UTF-8 become U+FFFD. */
static void put_json(struct out *o, const char *str)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *s = (const unsigned char *)str;
    size_t left = strlen(str), k;

    put(o, "\"", 1);
    for (; left; s += k, left -= k) {
        char esc[6] = {'\\', 'u', '0', '0', hex[*s >> 4], hex[*s & 15]};
        k = utf8_len(s, left);
        if (k == 0) {
            put_s(o, "\\ufffd");
            k = 1;
        } else if (*s == '"' || *s == '\\') {
            put(o, "\\", 1);
            put(o, (const char *)s, 1);
        } else if (*s < 0x20) {
            put(o, esc, sizeof esc);
        } else {
            put(o, (const char *)s, k);
        }
    }
    put(o, "\"", 1);
}

int req_reply_error(char *buf, size_t len, const struct req *r, const char *code,
                    const char *msg)
{
    struct out o = {.buf = buf, .len = len};
    const char *cmd = r ? req_cmd_name(r->cmd) : NULL;
    char v[32];

    snprintf(v, sizeof v, "{\"v\":%d,\"ok\":false", REQ_VERSION);
    put_s(&o, v);
    if (cmd) {
        put_s(&o, ",\"cmd\":");
        put_json(&o, cmd);
    }
    if (r && r->tag[0] && memchr(r->tag, '\0', sizeof r->tag)) {
        put_s(&o, ",\"tag\":");
        put_json(&o, r->tag);
    }
    put_s(&o, ",\"error\":");
    put_json(&o, code ? code : "internal");
    put_s(&o, ",\"message\":");
    put_json(&o, msg ? msg : "");
    put(&o, "}", 1);
    if (len)
        buf[o.n < len ? o.n : len - 1] = '\0';
    return o.n > INT_MAX ? INT_MAX : (int)o.n;
}
