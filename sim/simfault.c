/* simfault.c - eccsim's scripted faults (see simfault.h). */
#include "sim/simfault.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[SIMFAULT_KINDS] = {
    [SIMFAULT_DRIVE_SILENT] = "drive-silent",
    [SIMFAULT_DRIVE_LATE] = "drive-late",
    [SIMFAULT_DRIVE_EXCEPTION] = "drive-exception",
    [SIMFAULT_DRIVE_CORRUPT] = "drive-corrupt",
    [SIMFAULT_DRIVE_TRIP] = "drive-trip",
    [SIMFAULT_LC_SILENT] = "lc-silent",
    [SIMFAULT_LC_FREEZE] = "lc-freeze",
    [SIMFAULT_LC_SATURATE] = "lc-saturate",
};

const char *simfault_name(enum simfault_kind k)
{
    return (unsigned)k < SIMFAULT_KINDS ? kind_names[k] : "?";
}

static int kind_from_name(const char *name, size_t len)
{
    for (int k = 0; k < SIMFAULT_KINDS; k++)
        if (strlen(kind_names[k]) == len && strncmp(kind_names[k], name, len) == 0)
            return k;
    return -1;
}

/* A time in seconds, >= 0, finite, ending at *end (which must be stop or '\0'). */
static int parse_seconds(const char *s, char stop, double *out, const char **end)
{
    char *e;

    errno = 0;
    *out = strtod(s, &e);
    if (e == s || errno || !isfinite(*out) || *out < 0.0 || (*e != stop && *e != '\0'))
        return -1;
    *end = e;
    return 0;
}

int simfault_add(struct simfault_plan *p, const char *spec, char *err, size_t errlen)
{
    const char *at = strchr(spec, '@'), *end;
    struct simfault f = {.duration = -1.0};
    int kind;

    if (!at) {
        snprintf(err, errlen, "--fault %s: expected KIND@T[:DURATION]", spec);
        return -1;
    }
    kind = kind_from_name(spec, (size_t)(at - spec));
    if (kind < 0) {
        snprintf(err, errlen, "--fault %s: unknown kind (allowed: drive-silent, drive-late, "
                 "drive-exception, drive-corrupt, drive-trip, lc-silent, lc-freeze, "
                 "lc-saturate)", spec);
        return -1;
    }
    f.kind = (enum simfault_kind)kind;
    if (parse_seconds(at + 1, ':', &f.t_start, &end) < 0 ||
        (*end == ':' && parse_seconds(end + 1, '\0', &f.duration, &end) < 0)) {
        snprintf(err, errlen, "--fault %s: T and DURATION are seconds >= 0", spec);
        return -1;
    }
    if (p->n >= SIMFAULT_MAX) {
        snprintf(err, errlen, "--fault %s: at most %d faults", spec, SIMFAULT_MAX);
        return -1;
    }
    p->f[p->n++] = f;
    return 0;
}

double simfault_end(const struct simfault *f)
{
    return f->duration < 0.0 ? INFINITY : f->t_start + f->duration;
}

bool simfault_active(const struct simfault_plan *p, enum simfault_kind k, double t)
{
    for (int i = 0; i < p->n; i++)
        if (p->f[i].kind == k && t >= p->f[i].t_start && t < simfault_end(&p->f[i]))
            return true;
    return false;
}

void simfault_edges(struct simfault_plan *p, double t, simfault_edge_fn fn, void *ctx)
{
    for (int i = 0; i < p->n; i++) {
        struct simfault *f = &p->f[i];

        if (!f->started && t >= f->t_start) {
            f->started = true;
            fn(ctx, f, true, f->t_start);
        }
        if (f->started && !f->ended && t >= simfault_end(f)) {
            f->ended = true;
            fn(ctx, f, false, simfault_end(f));
        }
    }
}
