/* drive_hy.c - a Huanyang HY drive on its serial line (see drive_hy.h). */
#include "hal/drive_hy.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/worker.h"

/* The control side's wish, copied by the I/O side each cycle. */
struct hy_wish {
    bool run;                    /* run forward (else stop) */
    double hz;                   /* Hz, while running */
    unsigned reset_seq;          /* incremented per operator reset */
};

struct drive_hy {
    struct drive_hy_params p;
    double (*now)(void *);
    void *clock_ctx;
    struct hy_link *link;

    pthread_mutex_t mu;          /* guards wish, report, cnst: copies only */
    struct hy_wish wish;
    struct hal_drive_status report;
    uint8_t cnst;
    struct modbus_counters cnt_pub;  /* cnt as of the latest cycle */
    char last_error[160];        /* the link's latest failure in words, as of then */
    struct worker w;             /* the I/O thread */

    /* I/O side only. */
    struct modbus_counters cnt;
    long freq_last;              /* raw frequency last written, -1: none or it failed */
    struct timespec freq_at;     /* CLOCK_MONOTONIC, when */
    unsigned reset_done;
    int refused;                 /* control writes of run in a row not taken */
    bool tripped;
    bool comm_lost;
    long cycles;
};

/* ---- time -------------------------------------------------------------------------- */

static double seconds_since(const struct timespec *since)
{
    struct timespec t = worker_now();
    return (double)(t.tv_sec - since->tv_sec) + (double)(t.tv_nsec - since->tv_nsec) * 1e-9;
}

/* ---- create / close ---------------------------------------------------------------- */

static bool params_ok(const struct drive_hy_params *p)
{
    return p->addr >= 1 && p->addr <= HY_ADDR_MAX && p->hz_per_mps > 0.0 &&
           isfinite(p->hz_per_mps) && p->max_hz > 0.0 && p->max_hz * HY_HZ_SCALE <= 65535.0 &&
           p->refresh_s > 0.0 && p->period_s > 0.0 && p->fail_after >= 1 &&
           p->healthy_after >= 1;
}

struct drive_hy *drive_hy_open(const struct drive_hy_params *p, double (*now)(void *),
                                 void *clock_ctx, char *err, size_t errlen)
{
    if (!p || !now || !params_ok(p)) {
        snprintf(err, errlen, "huanyang-hy: bad parameters (address 1 to %d, max_hz at most "
                 "655.35, positive scales and times)", HY_ADDR_MAX);
        errno = EINVAL;
        return NULL;
    }
    struct drive_hy *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "huanyang-hy: out of memory");
        errno = ENOMEM;
        return NULL;
    }
    d->link = hy_link_open(&p->link, err, errlen);
    if (!d->link) {
        free(d);
        errno = EINVAL;
        return NULL;
    }
    d->p = *p;
    d->now = now;
    d->clock_ctx = clock_ctx;
    pthread_mutex_init(&d->mu, NULL);
    worker_init(&d->w);
    d->report.present = true;
    d->report.t_speed = -1.0;
    d->report.current_a = NAN;
    d->cnt.healthy_after = p->healthy_after;
    d->freq_last = -1;
    return d;
}

void drive_hy_close(struct drive_hy *d)
{
    if (!d)
        return;
    worker_fini(&d->w);         /* stops the thread first */
    hy_link_close(d->link);
    pthread_mutex_destroy(&d->mu);
    free(d);
}

/* ---- control side ------------------------------------------------------------------ */

static void set_wish(struct drive_hy *d, bool run, double hz)
{
    pthread_mutex_lock(&d->mu);
    d->wish.run = run;
    d->wish.hz = hz;
    pthread_mutex_unlock(&d->mu);
}

int drive_hy_set_speed(void *ctx, double mps)
{
    struct drive_hy *d = ctx;

    if (!isfinite(mps) || mps < 0.0) {
        errno = EINVAL;
        return -1;
    }
    if (mps == 0.0)
        return drive_hy_stop(d);
    set_wish(d, true, mps * d->p.hz_per_mps);
    return 0;
}

int drive_hy_stop(void *ctx)
{
    set_wish(ctx, false, 0.0);
    return 0;
}

int drive_hy_reset(void *ctx)
{
    struct drive_hy *d = ctx;

    pthread_mutex_lock(&d->mu);
    d->wish.reset_seq++;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

int drive_hy_status(void *ctx, struct hal_drive_status *st)
{
    struct drive_hy *d = ctx;

    pthread_mutex_lock(&d->mu);
    *st = d->report;
    pthread_mutex_unlock(&d->mu);
    return 0;
}

uint8_t drive_hy_control_status(struct drive_hy *d)
{
    pthread_mutex_lock(&d->mu);
    uint8_t c = d->cnst;
    pthread_mutex_unlock(&d->mu);
    return c;
}

struct hal_drive drive_hy_hal(struct drive_hy *d, double cap_mps)
{
    /* No fault_stop: the HY has no coast command over the link (PD026 says how it stops). */
    return (struct hal_drive){.set_speed = drive_hy_set_speed, .stop = drive_hy_stop,
                              .status = drive_hy_status, .reset = drive_hy_reset,
                              .link_stats = drive_hy_link_stats, .cap_mps = cap_mps, .ctx = d};
}

/* ---- I/O side: transactions -------------------------------------------------------- */

static int transact(struct drive_hy *d, uint8_t fn, uint8_t index, uint16_t value,
                    struct hy_reply *rp)
{
    const struct hy_request rq = {.addr = (uint8_t)d->p.addr, .fn = fn, .index = index,
                                  .value = value};
    return hy_link_transact(d->link, &rq, rp, &d->cnt);
}

/* The control data; the reply is the control status. */
static int write_control(struct drive_hy *d, uint8_t cmd, uint8_t *cnst)
{
    struct hy_reply rp;

    if (transact(d, HY_FN_CONTROL, 0, cmd, &rp) < 0)
        return -1;
    *cnst = (uint8_t)rp.value;
    return 0;
}

static uint16_t frequency_raw(const struct drive_hy *d, double hz)
{
    if (!(hz > 0.0))
        return 0;
    if (hz > d->p.max_hz)
        hz = d->p.max_hz;
    return (uint16_t)lround(hz * HY_HZ_SCALE);
}

/* Written when it changes, after a failed write, and every refresh_s. */
static int write_frequency(struct drive_hy *d, const struct hy_wish *w)
{
    uint16_t raw = frequency_raw(d, w->run ? w->hz : 0.0);
    struct hy_reply rp;

    if (d->freq_last == (long)raw && seconds_since(&d->freq_at) < d->p.refresh_s)
        return 0;
    if (transact(d, HY_FN_FREQUENCY, 0, raw, &rp) < 0) {
        d->freq_last = -1;
        return -1;
    }
    d->freq_last = raw;
    d->freq_at = worker_now();
    return 0;
}

/* What this cycle read. */
struct hy_readings {
    bool control_ok;             /* the control data was written and answered */
    uint8_t cnst;
    bool freq_ok, current_ok;
    uint16_t freq_raw, current_raw;
    double t;                    /* s, HAL clock, when the frequency was read */
};

static int read_status(struct drive_hy *d, uint8_t index, uint16_t *value)
{
    struct hy_reply rp;

    if (transact(d, HY_FN_STATUS, index, 0, &rp) < 0)
        return -1;
    *value = rp.value;
    return 0;
}

static int read_outputs(struct drive_hy *d, struct hy_readings *rd)
{
    if (read_status(d, HY_STATUS_OUT_HZ, &rd->freq_raw) < 0)
        return -1;
    rd->t = d->now(d->clock_ctx);
    rd->freq_ok = true;
    if (d->cycles % DRIVE_HY_CURRENT_EVERY != 0)
        return 0;
    if (read_status(d, HY_STATUS_OUT_A, &rd->current_raw) < 0)
        return -1;
    rd->current_ok = true;
    return 0;
}

/* ---- I/O side: a cycle --------------------------------------------------------------- */

/* The operator's reset: a stop (the keypad's STOP/RESET), and a refused run forgotten. */
static int reset_if_asked(struct drive_hy *d, const struct hy_wish *w, struct hy_readings *rd)
{
    if (w->reset_seq == d->reset_done)
        return 0;
    if (write_control(d, HY_CMD_STOP, &rd->cnst) < 0)
        return -1;               /* tried again next cycle */
    d->reset_done = w->reset_seq;
    d->refused = 0;
    d->tripped = false;
    return 0;
}

static int control(struct drive_hy *d, const struct hy_wish *w, struct hy_readings *rd)
{
    if (write_control(d, w->run ? HY_CMD_RUN_FORWARD : HY_CMD_STOP, &rd->cnst) < 0)
        return -1;
    rd->control_ok = true;
    return 0;
}

/* A run the drive does not take, write after write, is a trip (or PD001 not 2). */
static void judge_run(struct drive_hy *d, const struct hy_wish *w, const struct hy_readings *rd)
{
    if (!w->run || !rd->control_ok)
        return;
    if (rd->cnst & HY_ST_RUN) {
        d->refused = 0;
        return;
    }
    if (++d->refused >= DRIVE_HY_REFUSED_AFTER)
        d->tripped = true;       /* until the operator's reset */
}

static void update_comm_state(struct drive_hy *d)
{
    if (d->cnt.consecutive_failures >= d->p.fail_after)
        d->comm_lost = true;
    else if (d->cnt.healthy)
        d->comm_lost = false;    /* back only once healthy_after good ones in a row */
}

/* This cycle's results into the report (under the mutex, no I/O). */
static void publish(struct drive_hy *d, const struct hy_readings *rd)
{
    struct hal_drive_status *r = &d->report;

    update_comm_state(d);
    pthread_mutex_lock(&d->mu);
    r->healthy = d->cnt.healthy;
    r->comm_lost = d->comm_lost;
    r->tripped = d->tripped;
    r->fault_code = d->tripped ? DRIVE_HY_CODE_RUN_REFUSED : 0;
    if (rd->freq_ok) {
        r->speed_mps = rd->freq_raw / HY_HZ_SCALE / d->p.hz_per_mps;
        r->t_speed = rd->t;
    }
    if (rd->current_ok)
        r->current_a = rd->current_raw / HY_AMP_SCALE;
    if (rd->control_ok)
        d->cnst = rd->cnst;
    r->tx_ok = d->cnt.tx_ok;
    r->tx_failed = d->cnt.tx_failed;
    r->timeouts = d->cnt.timeouts;
    r->bad_frames = d->cnt.bad_frames;
    r->exceptions = d->cnt.exceptions;
    r->reconnects = d->cnt.reconnects;
    d->cnt_pub = d->cnt;
    snprintf(d->last_error, sizeof d->last_error, "%s", hy_link_last_error(d->link));
    pthread_mutex_unlock(&d->mu);
}

int drive_hy_link_stats(void *ctx, struct hal_link_stats *st)
{
    struct drive_hy *d = ctx;
    char where[sizeof st->where];

    /* A device path past 80 characters is cut in this text only. */
    snprintf(where, sizeof where, "hy %.80s %d %d%c%d unit %d", d->p.link.device,
             d->p.link.baud, d->p.link.data_bits, d->p.link.parity, d->p.link.stop_bits,
             d->p.addr);
    pthread_mutex_lock(&d->mu);
    modbus_counters_to_stats(&d->cnt_pub, where, st);
    /* The HY's own words (its framing is not Modbus: no function code to name). */
    snprintf(st->last_error, sizeof st->last_error, "%s", d->cnt_pub.tx_failed ? d->last_error
                                                                                 : "");
    pthread_mutex_unlock(&d->mu);
    return 0;
}

static struct hy_wish copy_wish(struct drive_hy *d)
{
    pthread_mutex_lock(&d->mu);
    struct hy_wish w = d->wish;
    pthread_mutex_unlock(&d->mu);
    return w;
}

enum step { ST_RESET, ST_FREQUENCY, ST_CONTROL, ST_READ, ST_COUNT };

static int run_step(struct drive_hy *d, const struct hy_wish *w, enum step s,
                    struct hy_readings *rd)
{
    switch (s) {
    case ST_RESET: return reset_if_asked(d, w, rd);
    case ST_FREQUENCY: return write_frequency(d, w);
    case ST_CONTROL: return control(d, w, rd);
    case ST_READ: return read_outputs(d, rd);
    case ST_COUNT: break;
    }
    return 0;
}

int drive_hy_poll(struct drive_hy *d)
{
    /* Starting: the frequency first, then run. Stopping: stop first. */
    static const enum step starting[ST_COUNT] = {ST_RESET, ST_FREQUENCY, ST_CONTROL, ST_READ};
    static const enum step stopping[ST_COUNT] = {ST_RESET, ST_CONTROL, ST_FREQUENCY, ST_READ};
    const struct hy_wish w = copy_wish(d);
    const enum step *order = w.run ? starting : stopping;
    struct hy_readings rd;
    int rc = 0;

    memset(&rd, 0, sizeof rd);
    for (int i = 0; i < ST_COUNT; i++) {
        if (run_step(d, &w, order[i], &rd) == 0)
            continue;
        rc = -1;
        if (!hy_link_is_refusal(errno))
            break;               /* the line is down or the drive silent: next cycle */
    }
    judge_run(d, &w, &rd);
    publish(d, &rd);
    d->cycles++;
    return rc;
}

int drive_hy_release(struct drive_hy *d)
{
    struct hy_wish w = {.run = false};
    struct hy_readings rd;

    memset(&rd, 0, sizeof rd);
    d->freq_last = -1;           /* always written, however recently */
    int rc = write_control(d, HY_CMD_STOP, &rd.cnst);
    rd.control_ok = rc == 0;
    write_frequency(d, &w);
    set_wish(d, false, 0.0);
    publish(d, &rd);
    return rc;
}

/* ---- the thread -------------------------------------------------------------------- */

static void *io_thread(void *arg)
{
    struct drive_hy *d = arg;
    struct timespec due = worker_now();

    do {
        drive_hy_poll(d);
        /* The next period from the schedule, not from now; a slow line runs back to back. */
        struct timespec now = worker_now();
        due = worker_after(due, d->p.period_s);
        if (worker_before(&due, &now))
            due = now;
    } while (worker_wait(&d->w, &due));
    drive_hy_release(d);
    return NULL;
}

int drive_hy_start(struct drive_hy *d)
{
    return worker_start(&d->w, io_thread, d, 0, 0);
}
