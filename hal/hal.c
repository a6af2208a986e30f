/* hal.c - the checks every backend gets for free (see hal.h). */
#include "hal/hal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <string.h>

int hal_drive_set_speed(struct hal_drive *d, double mps)
{
    if (!isfinite(mps) || mps < 0.0 || mps > d->cap_mps) {
        errno = EINVAL;
        return -1;
    }
    if (mps == 0.0)
        return d->stop(d->ctx);
    return d->set_speed(d->ctx, mps);
}

int hal_drive_stop(struct hal_drive *d)
{
    return d->stop(d->ctx);
}

int hal_drive_status(struct hal_drive *d, struct hal_drive_status *st)
{
    memset(st, 0, sizeof *st);
    st->t_speed = -1.0;
    st->current_a = NAN;
    if (!d->status)
        return 0;
    return d->status(d->ctx, st);
}

int hal_drive_reset(struct hal_drive *d)
{
    return d->reset ? d->reset(d->ctx) : 0;
}

int hal_drive_fault_stop(struct hal_drive *d)
{
    return d->fault_stop ? d->fault_stop(d->ctx) : d->stop(d->ctx);
}

int hal_force_tare(struct hal_force *f)
{
    if (!f->tare) {
        errno = ENOTSUP;
        return -1;
    }
    return f->tare(f->ctx);
}

int hal_force_span(struct hal_force *f, double mass_kg, bool confirmed)
{
    if (!f->span) {
        errno = ENOTSUP;
        return -1;
    }
    if (!isfinite(mass_kg) || mass_kg <= 0.0) {
        errno = EINVAL;
        return -1;
    }
    return f->span(f->ctx, mass_kg, confirmed);
}

int hal_force_cal_status(struct hal_force *f, struct hal_cal_status *st)
{
    memset(st, 0, sizeof *st);
    st->offset = NAN;
    st->scale = NAN;
    if (!f->cal_status) {
        errno = ENOTSUP;
        return -1;
    }
    return f->cal_status(f->ctx, st);
}

static int link_stats(int (*fn)(void *, struct hal_link_stats *), void *ctx,
                      struct hal_link_stats *st)
{
    memset(st, 0, sizeof *st);
    st->rtt_ms = NAN;
    st->rtt_max_ms = NAN;
    st->last_raw = NAN;
    if (!fn) {
        errno = ENOTSUP;
        return -1;
    }
    return fn(ctx, st);
}

int hal_drive_link_stats(struct hal_drive *d, struct hal_link_stats *st)
{
    return link_stats(d->link_stats, d->ctx, st);
}

int hal_force_link_stats(struct hal_force *f, struct hal_link_stats *st)
{
    return link_stats(f->link_stats, f->link_ctx, st);
}

void hal_probe_add(struct hal_probe *p, const char *part, const char *item, const char *where,
                   const char *fmt, ...)
{
    struct hal_probe_line *l;
    va_list ap;

    if (p->n >= HAL_PROBE_LINES)
        return;
    l = &p->line[p->n++];
    snprintf(l->part, sizeof l->part, "%s", part);
    snprintf(l->item, sizeof l->item, "%s", item);
    snprintf(l->where, sizeof l->where, "%s", where);
    va_start(ap, fmt);
    vsnprintf(l->value, sizeof l->value, fmt, ap);
    va_end(ap);
}
