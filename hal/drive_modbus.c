/* drive_modbus.c - a VFD on Modbus through a drive profile (see drive_modbus.h). */
#include "hal/drive_modbus.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* What the drive reports back, by role. */
enum read_role { RD_FREQ, RD_CURRENT, RD_STATUS, RD_FAULT, RD_ROLES };

/* Neighbouring registers are read together when at most this many unwanted registers lie
 * between them (Delta: 2102H between 2101H and 2103H), up to SPAN_MAX registers at once. */
#define SPAN_GAP_MAX 1
#define SPAN_MAX 16

struct read_span {
    int start, n;                /* wire address, register count */
};

/* The control side's wish, copied by the bus side each cycle. */
struct drive_wish {
    bool run;                    /* run forward (else stop) */
    double hz;                   /* Hz, setpoint while running */
    bool fault_stop;             /* the stop is a fault stop (coast where configured) */
    unsigned reset_seq;          /* incremented per fault-reset request */
};

struct drive_modbus {
    struct drive_profile prof;
    struct drive_modbus_params p;
    double (*now)(void *);
    void *clock_ctx;

    pthread_mutex_t mu;          /* guards wish, report, status_word: held for copies only */
    struct drive_wish wish;
    struct hal_drive_status report;
    uint16_t status_word;
    struct modbus_counters cnt_pub;  /* cnt as of the latest poll */

    /* Bus side only. */
    struct modbus_counters cnt;
    long cmd_last;               /* last command value written, -1: none or it failed */
    struct timespec cmd_at;      /* CLOCK_MONOTONIC when it was written */
    unsigned reset_done;         /* reset_seq of the last reset written */
    bool comm_lost;
    int role_reg[RD_ROLES];      /* wire address per role, DP_NO_REG if none */
    struct read_span spans[RD_ROLES];
    int nspans;
};

/* ---- read plan: which registers in which transactions ------------------------------ */

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static void plan_reads(struct drive_modbus *d)
{
    int regs[RD_ROLES], n = 0;

    d->role_reg[RD_FREQ] = d->prof.reg_freq;
    d->role_reg[RD_CURRENT] = d->prof.reg_current;
    d->role_reg[RD_STATUS] = d->prof.reg_status;
    d->role_reg[RD_FAULT] = d->prof.reg_fault;
    for (int r = 0; r < RD_ROLES; r++)
        if (d->role_reg[r] >= 0)
            regs[n++] = d->role_reg[r];
    qsort(regs, (size_t)n, sizeof regs[0], cmp_int);

    d->nspans = 0;
    for (int i = 0; i < n; i++) {
        struct read_span *last = d->nspans ? &d->spans[d->nspans - 1] : NULL;
        if (last && regs[i] < last->start + last->n)
            continue;            /* the same register twice */
        if (last && regs[i] - (last->start + last->n) <= SPAN_GAP_MAX &&
            regs[i] - last->start < SPAN_MAX) {
            last->n = regs[i] - last->start + 1;
            continue;
        }
        d->spans[d->nspans++] = (struct read_span){regs[i], 1};
    }
}

/* ---- create / destroy -------------------------------------------------------------- */

static bool params_ok(const struct drive_modbus_params *p)
{
    return p->unit_id >= 1 && p->unit_id <= 247 && p->hz_per_mps > 0.0 &&
           isfinite(p->hz_per_mps) && p->max_hz > 0.0 && p->watchdog_s > 0.0 &&
           p->fail_after >= 1 && p->healthy_after >= 1;
}

struct drive_modbus *drive_modbus_open(const struct drive_profile *profile,
                                         const struct drive_modbus_params *params,
                                         double (*now)(void *), void *clock_ctx)
{
    if (!profile || !params || !now || !params_ok(params)) {
        errno = EINVAL;
        return NULL;
    }
    struct drive_modbus *d = calloc(1, sizeof *d);
    if (!d) {
        errno = ENOMEM;
        return NULL;
    }
    d->prof = *profile;
    d->p = *params;
    d->now = now;
    d->clock_ctx = clock_ctx;
    pthread_mutex_init(&d->mu, NULL);
    d->report.present = true;
    d->report.t_speed = -1.0;
    d->report.current_a = NAN;
    d->cnt.healthy_after = params->healthy_after;
    d->cmd_last = -1;
    plan_reads(d);
    return d;
}

void drive_modbus_close(struct drive_modbus *d)
{
    if (!d)
        return;
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* ---- control side ------------------------------------------------------------------ */

static void set_wish(struct drive_modbus *d, bool run, double hz, bool fault_stop)
{
    pthread_mutex_lock(&d->mu);
    d->wish.run = run;
    d->wish.hz = hz;
    /* A coast stop stays a coast stop until the next run: the plain stops the loop
     * keeps writing (they feed the watchdog) must not turn it into a ramp. */
    d->wish.fault_stop = fault_stop || (!run && d->wish.fault_stop);
    pthread_mutex_unlock(&d->mu);
}

int drive_modbus_set_speed(void *ctx, double mps)
{
    struct drive_modbus *d = ctx;

    if (!isfinite(mps) || mps < 0.0) {
        errno = EINVAL;
        return -1;
    }
    if (mps == 0.0)
        return drive_modbus_stop(d);
    set_wish(d, true, mps * d->p.hz_per_mps, false);
    return 0;
}

int drive_modbus_stop(void *ctx)
{
    set_wish(ctx, false, 0.0, false);
    return 0;
}

int drive_modbus_fault_stop(struct drive_modbus *d)
{
    set_wish(d, false, 0.0, true);
    return 0;
}

int drive_modbus_reset(void *ctx)
{
    struct drive_modbus *d = ctx;

    pthread_mutex_lock(&d->mu);
    d->wish.reset_seq++;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

int drive_modbus_status(void *ctx, struct hal_drive_status *st)
{
    struct drive_modbus *d = ctx;

    pthread_mutex_lock(&d->mu);
    *st = d->report;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

int drive_modbus_link_stats(void *ctx, struct hal_link_stats *st)
{
    struct drive_modbus *d = ctx;

    pthread_mutex_lock(&d->mu);
    struct modbus_counters c = d->cnt_pub;
    pthread_mutex_unlock(&d->mu);
    modbus_counters_to_stats(&c, d->p.where, st);
    return 0;
}

uint16_t drive_modbus_status_word(struct drive_modbus *d)
{
    pthread_mutex_lock(&d->mu);
    uint16_t w = d->status_word;
    pthread_mutex_unlock(&d->mu);
    return w;
}

/* ---- bus side: writes -------------------------------------------------------------- */

static int write_reg(struct drive_modbus *d, struct modbus_link *link, int reg, uint16_t value)
{
    return modbus_link_write(link, d->p.unit_id, d->prof.write_fc, reg, 1, &value, &d->cnt);
}

static double elapsed_s(const struct timespec *since)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - since->tv_sec) + (double)(t.tv_nsec - since->tv_nsec) * 1e-9;
}

static uint16_t wanted_command(const struct drive_modbus *d, const struct drive_wish *w)
{
    if (w->run)
        return d->prof.cmd_run;
    return (w->fault_stop && d->p.coast_on_fault) ? d->prof.cmd_coast : d->prof.cmd_stop;
}

/* Written when it changes, after a failed write, and every watchdog_s / 4 (drives that
 * watch the command register for their comm-loss stop see it often enough). */
static int write_command(struct drive_modbus *d, struct modbus_link *link, uint16_t cmd)
{
    if (d->cmd_last == (long)cmd && elapsed_s(&d->cmd_at) < d->p.watchdog_s / 4.0)
        return 0;
    if (write_reg(d, link, d->prof.reg_command, cmd) < 0) {
        d->cmd_last = -1;
        return -1;
    }
    d->cmd_last = cmd;
    clock_gettime(CLOCK_MONOTONIC, &d->cmd_at);
    return 0;
}

/* Every cycle, unchanged or not: the drive's comm-loss watchdog feeds on it. */
static int write_setpoint(struct drive_modbus *d, struct modbus_link *link,
                          const struct drive_wish *w)
{
    double hz = w->run ? w->hz : 0.0;
    return write_reg(d, link, d->prof.reg_setpoint,
                     drive_profile_setpoint_raw(&d->prof, hz, d->p.max_hz));
}

static int write_reset_if_asked(struct drive_modbus *d, struct modbus_link *link,
                                const struct drive_wish *w)
{
    if (w->reset_seq == d->reset_done)
        return 0;
    if (write_reg(d, link, d->prof.reg_reset, d->prof.cmd_reset) < 0)
        return -1;               /* tried again next cycle */
    d->reset_done = w->reset_seq;
    d->cmd_last = -1;            /* the reset may have overwritten the command: rewrite it */
    return 0;
}

/* ---- bus side: reads and the report ------------------------------------------------ */

struct readings {
    uint16_t val[RD_ROLES];
    bool valid[RD_ROLES];
    double t;                    /* s, HAL clock, when the frequency was read */
};

static int read_span(struct drive_modbus *d, struct modbus_link *link,
                     const struct read_span *s, struct readings *rd)
{
    uint16_t buf[SPAN_MAX];

    if (modbus_link_read(link, d->p.unit_id, d->prof.read_fc, s->start, s->n, buf,
                         &d->cnt) < 0)
        return -1;
    double t = d->now(d->clock_ctx);
    for (int r = 0; r < RD_ROLES; r++) {
        int off = d->role_reg[r] - s->start;
        if (d->role_reg[r] >= 0 && off >= 0 && off < s->n) {
            rd->val[r] = buf[off];
            rd->valid[r] = true;
            if (r == RD_FREQ)
                rd->t = t;
        }
    }
    return 0;
}

/* A failure other than an exception reply: the wire is down or the drive silent, so the
 * rest of the cycle would only wait out more timeouts (and hold up the other devices on
 * the bus). The next cycle tries again. */
static bool wire_failed(void)
{
    return !modbus_link_is_exception(errno);
}

static int read_cycle(struct drive_modbus *d, struct modbus_link *link, struct readings *rd)
{
    int rc = 0;

    for (int i = 0; i < d->nspans; i++) {
        if (read_span(d, link, &d->spans[i], rd) == 0)
            continue;
        rc = -1;
        if (wire_failed())
            break;
    }
    return rc;
}

/* The drive's fault code from the fault register. A profile whose status and fault share one
 * register (Optidrive E3 register 6) packs the state in the low byte and the code in the
 * high byte: only the high byte is a fault. */
static unsigned fault_code(const struct drive_profile *p, uint16_t raw)
{
    return p->reg_fault == p->reg_status ? (unsigned)raw >> 8 : raw;
}

static void update_comm_state(struct drive_modbus *d)
{
    if (d->cnt.consecutive_failures >= d->p.fail_after)
        d->comm_lost = true;
    else if (d->cnt.healthy)
        d->comm_lost = false;    /* back only once healthy_after good ones in a row */
}

/* Copy this cycle's results into the report (under the mutex, no I/O). */
static void publish(struct drive_modbus *d, const struct readings *rd)
{
    struct hal_drive_status *r = &d->report;

    update_comm_state(d);
    pthread_mutex_lock(&d->mu);
    r->healthy = d->cnt.healthy;
    r->comm_lost = d->comm_lost;
    if (rd->valid[RD_FREQ]) {
        r->speed_mps = drive_profile_freq_hz(&d->prof, rd->val[RD_FREQ]) / d->p.hz_per_mps;
        r->t_speed = rd->t;
    }
    if (rd->valid[RD_CURRENT] && d->prof.current_scale > 0.0)
        r->current_a = rd->val[RD_CURRENT] / d->prof.current_scale;
    if (rd->valid[RD_FAULT]) {
        r->fault_code = fault_code(&d->prof, rd->val[RD_FAULT]);
        r->tripped = r->fault_code != 0;
    }
    if (rd->valid[RD_STATUS])
        d->status_word = rd->val[RD_STATUS];
    r->tx_ok = d->cnt.tx_ok;
    r->tx_failed = d->cnt.tx_failed;
    r->timeouts = d->cnt.timeouts;
    r->bad_frames = d->cnt.bad_frames;
    r->exceptions = d->cnt.exceptions;
    r->reconnects = d->cnt.reconnects;
    d->cnt_pub = d->cnt;
    pthread_mutex_unlock(&d->mu);
}

static struct drive_wish copy_wish(struct drive_modbus *d)
{
    pthread_mutex_lock(&d->mu);
    struct drive_wish w = d->wish;
    pthread_mutex_unlock(&d->mu);
    return w;
}

enum step { ST_RESET, ST_SETPOINT, ST_COMMAND, ST_READ, ST_COUNT };

static int run_step(struct drive_modbus *d, struct modbus_link *link,
                    const struct drive_wish *w, enum step s, struct readings *rd)
{
    switch (s) {
    case ST_RESET: return write_reset_if_asked(d, link, w);
    case ST_SETPOINT: return write_setpoint(d, link, w);
    case ST_COMMAND: return write_command(d, link, wanted_command(d, w));
    case ST_READ: return read_cycle(d, link, rd);
    case ST_COUNT: break;
    }
    return 0;
}

int drive_modbus_poll(struct drive_modbus *d, struct modbus_link *link)
{
    /* Starting: the frequency first, then run. Stopping: stop first. */
    static const enum step starting[ST_COUNT] = {ST_RESET, ST_SETPOINT, ST_COMMAND, ST_READ};
    static const enum step stopping[ST_COUNT] = {ST_RESET, ST_COMMAND, ST_SETPOINT, ST_READ};
    const struct drive_wish w = copy_wish(d);
    const enum step *order = w.run ? starting : stopping;
    struct readings rd;
    int rc = 0;

    memset(&rd, 0, sizeof rd);
    for (int i = 0; i < ST_COUNT; i++) {
        if (run_step(d, link, &w, order[i], &rd) == 0)
            continue;
        rc = -1;
        if (wire_failed())
            break;
    }
    publish(d, &rd);
    return rc;
}

int drive_modbus_release(struct drive_modbus *d, struct modbus_link *link)
{
    struct drive_wish w = copy_wish(d);
    struct readings none = {0};

    w.run = false;
    d->cmd_last = -1;            /* always written, however recently */
    int rc = write_command(d, link, wanted_command(d, &w));
    write_setpoint(d, link, &w);
    set_wish(d, false, 0.0, w.fault_stop);
    publish(d, &none);
    return rc;
}
