/* loadcell_modbus.c - a load-cell transmitter over Modbus (see loadcell_modbus.h). */
#include "hal/loadcell_modbus.h"

#include "hal/hal.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct loadcell_modbus {
    struct loadcell_modbus_params p;
    double (*now)(void *);
    void *clock_ctx;

    pthread_mutex_t mu;          /* guards everything below up to the bus-side part */
    double *ring_t, *ring_n;     /* s (HAL clock), N */
    int ring_len, head, count;
    struct loadcell_modbus_status st;
    unsigned tare_seq;           /* incremented per tare request */
    struct modbus_counters cnt_pub;  /* cnt as of the latest poll */

    /* Bus side only. */
    struct modbus_counters cnt;
    unsigned tare_done;          /* tare_seq of the last tare done */
};

/* ---- decoding ---------------------------------------------------------------------- */

int loadcell_type_words(enum cfg_data_type type)
{
    return (type == CFG_DT_INT16 || type == CFG_DT_UINT16) ? 1 : 2;
}

static uint32_t join_words(enum cfg_word_order order, const uint16_t *regs)
{
    uint16_t hi = order == CFG_WORDS_BIG ? regs[0] : regs[1];
    uint16_t lo = order == CFG_WORDS_BIG ? regs[1] : regs[0];
    return (uint32_t)hi << 16 | lo;
}

/* Two's complement without relying on implementation-defined narrowing. */
static double signed_value(uint32_t u, int bits)
{
    double span = bits == 16 ? 65536.0 : 4294967296.0;
    uint32_t sign = 1u << (bits - 1);
    return (u & sign) ? (double)u - span : (double)u;
}

static int decode_float(uint32_t u, double *raw, bool *at_limit)
{
    float f;
    memcpy(&f, &u, sizeof f);
    if (isnan(f)) {
        errno = EDOM;
        return -1;
    }
    /* An infinite reading is an over-range transmitter: saturated, pinned at the limit. */
    *at_limit = isinf(f);
    *raw = isinf(f) ? copysign(FLT_MAX, f) : f;
    return 0;
}

int loadcell_decode(enum cfg_data_type type, enum cfg_word_order order, const uint16_t *regs,
                    double *raw, bool *at_limit)
{
    uint32_t u = loadcell_type_words(type) == 1 ? regs[0] : join_words(order, regs);

    switch (type) {
    case CFG_DT_INT16:
        *raw = signed_value(u, 16);
        *at_limit = u == 0x8000u || u == 0x7FFFu;
        return 0;
    case CFG_DT_UINT16:
        *raw = u;
        *at_limit = u == 0xFFFFu;
        return 0;
    case CFG_DT_INT32:
        *raw = signed_value(u, 32);
        *at_limit = u == 0x80000000u || u == 0x7FFFFFFFu;
        return 0;
    case CFG_DT_UINT32:
        *raw = u;
        *at_limit = u == 0xFFFFFFFFu;
        return 0;
    case CFG_DT_FLOAT32:
        return decode_float(u, raw, at_limit);
    }
    errno = EINVAL;
    return -1;
}

/* ---- create / destroy -------------------------------------------------------------- */

static bool params_ok(const struct loadcell_modbus_params *p)
{
    int words = loadcell_type_words(p->data_type);
    return p->unit_id >= 1 && p->unit_id <= 247 && p->reg >= 0 && p->reg + words <= 65536 &&
           (p->read_fc == 3 || p->read_fc == 4) && (p->write_fc == 6 || p->write_fc == 16) &&
           p->scale != 0.0 && isfinite(p->scale) && isfinite(p->offset) &&
           p->full_scale_n > 0.0 && p->tare_reg >= -1 && p->tare_reg <= 65535 &&
           p->healthy_after >= 1 && p->ring_len >= 0 &&
           (unsigned)p->data_type <= CFG_DT_FLOAT32;
}

struct loadcell_modbus *loadcell_modbus_open(const struct loadcell_modbus_params *params,
                                               double (*now)(void *), void *clock_ctx)
{
    if (!params || !now || !params_ok(params)) {
        errno = EINVAL;
        return NULL;
    }
    struct loadcell_modbus *lc = calloc(1, sizeof *lc);
    int len = params->ring_len ? params->ring_len : LOADCELL_RING_DEFAULT;
    if (lc) {
        lc->ring_t = calloc((size_t)len, sizeof *lc->ring_t);
        lc->ring_n = calloc((size_t)len, sizeof *lc->ring_n);
    }
    if (!lc || !lc->ring_t || !lc->ring_n) {
        loadcell_modbus_close(lc);
        errno = ENOMEM;
        return NULL;
    }
    lc->p = *params;
    lc->now = now;
    lc->clock_ctx = clock_ctx;
    lc->ring_len = len;
    pthread_mutex_init(&lc->mu, NULL);
    lc->st.offset = params->offset;
    lc->st.t_last = -1.0;
    lc->cnt.healthy_after = params->healthy_after;
    return lc;
}

void loadcell_modbus_close(struct loadcell_modbus *lc)
{
    if (!lc)
        return;
    if (lc->ring_len)
        pthread_mutex_destroy(&lc->mu);
    free(lc->ring_t);
    free(lc->ring_n);
    free(lc);
}

/* ---- control side ------------------------------------------------------------------ */

int loadcell_modbus_read(void *ctx, double *t, double *newtons, int max)
{
    struct loadcell_modbus *lc = ctx;
    int n = 0;

    pthread_mutex_lock(&lc->mu);
    while (n < max && lc->count > 0) {
        t[n] = lc->ring_t[lc->head];
        newtons[n] = lc->ring_n[lc->head];
        lc->head = (lc->head + 1) % lc->ring_len;
        lc->count--;
        n++;
    }
    pthread_mutex_unlock(&lc->mu);
    return n;
}

int loadcell_modbus_status(struct loadcell_modbus *lc, struct loadcell_modbus_status *st)
{
    pthread_mutex_lock(&lc->mu);
    *st = lc->st;
    pthread_mutex_unlock(&lc->mu);
    return 0;
}

int loadcell_modbus_request_tare(struct loadcell_modbus *lc)
{
    pthread_mutex_lock(&lc->mu);
    lc->tare_seq++;
    lc->st.tare_pending = true;
    pthread_mutex_unlock(&lc->mu);
    return 0;
}

/* ---- bus side ---------------------------------------------------------------------- */

/* Under the mutex: append one sample, dropping the oldest when full. */
static void ring_push(struct loadcell_modbus *lc, double t, double n)
{
    if (lc->count == lc->ring_len) {
        lc->head = (lc->head + 1) % lc->ring_len;
        lc->count--;
        lc->st.dropped++;
    }
    int tail = (lc->head + lc->count) % lc->ring_len;
    lc->ring_t[tail] = t;
    lc->ring_n[tail] = n;
    lc->count++;
}

/* Under the mutex: the transaction counters into the status. */
static void copy_counters(struct loadcell_modbus *lc)
{
    lc->st.healthy = lc->cnt.healthy;
    lc->st.consecutive_failures = lc->cnt.consecutive_failures;
    lc->st.tx_ok = lc->cnt.tx_ok;
    lc->st.tx_failed = lc->cnt.tx_failed;
    lc->st.timeouts = lc->cnt.timeouts;
    lc->st.bad_frames = lc->cnt.bad_frames;
    lc->st.exceptions = lc->cnt.exceptions;
    lc->st.reconnects = lc->cnt.reconnects;
    lc->cnt_pub = lc->cnt;
}

int loadcell_modbus_link_stats(void *ctx, struct hal_link_stats *st)
{
    struct loadcell_modbus *lc = ctx;

    pthread_mutex_lock(&lc->mu);
    struct modbus_counters c = lc->cnt_pub;
    double raw = lc->st.samples > 0 ? lc->st.raw : NAN;
    pthread_mutex_unlock(&lc->mu);
    modbus_counters_to_stats(&c, lc->p.where, st);
    st->last_raw = raw;
    return 0;
}

/* Finish the tare numbered seq with this offset (counts). */
static void tare_done(struct loadcell_modbus *lc, unsigned seq, double offset)
{
    lc->tare_done = seq;
    pthread_mutex_lock(&lc->mu);
    lc->st.offset = offset;
    lc->st.tares++;
    lc->st.tare_pending = lc->tare_seq != seq;
    pthread_mutex_unlock(&lc->mu);
}

/* A tare register: write it now. A software tare waits for the next reading (*soft). */
static int tare_if_asked(struct loadcell_modbus *lc, struct modbus_link *link, unsigned *seq,
                         bool *soft)
{
    pthread_mutex_lock(&lc->mu);
    *seq = lc->tare_seq;
    pthread_mutex_unlock(&lc->mu);
    *soft = false;
    if (*seq == lc->tare_done)
        return 0;
    if (lc->p.tare_reg < 0) {
        *soft = true;
        return 0;
    }
    if (modbus_link_write(link, lc->p.unit_id, lc->p.write_fc, lc->p.tare_reg, 1,
                          &lc->p.tare_value, &lc->cnt) < 0)
        return -1;               /* tried again next poll */
    tare_done(lc, *seq, 0.0);    /* the transmitter now reports net counts */
    return 0;
}

static void record_sample(struct loadcell_modbus *lc, double raw, bool at_limit)
{
    double t = lc->now(lc->clock_ctx);

    pthread_mutex_lock(&lc->mu);
    double n = (raw - lc->st.offset) * lc->p.scale;
    bool sat = at_limit || fabs(n) >= lc->p.full_scale_n;
    /* A saturated reading says only "at least this much": it is passed on pinned at
     * full scale, which is what the controller's saturation check looks for. */
    ring_push(lc, t, sat ? copysign(lc->p.full_scale_n, n) : n);
    lc->st.raw = raw;
    lc->st.saturated = sat;
    lc->st.t_last = t;
    lc->st.samples++;
    lc->st.saturated_samples += sat;
    pthread_mutex_unlock(&lc->mu);
}

static int read_sample(struct loadcell_modbus *lc, struct modbus_link *link, double *raw,
                       bool *at_limit)
{
    uint16_t regs[2];

    if (modbus_link_read(link, lc->p.unit_id, lc->p.read_fc, lc->p.reg,
                         loadcell_type_words(lc->p.data_type), regs, &lc->cnt) < 0)
        return -1;
    if (loadcell_decode(lc->p.data_type, lc->p.word_order, regs, raw, at_limit) < 0) {
        pthread_mutex_lock(&lc->mu);
        lc->st.bad_samples++;
        pthread_mutex_unlock(&lc->mu);
        return -1;
    }
    return 0;
}

int loadcell_modbus_poll(struct loadcell_modbus *lc, struct modbus_link *link)
{
    unsigned seq;
    bool soft_tare, at_limit;
    double raw;

    int rc = tare_if_asked(lc, link, &seq, &soft_tare);
    if (read_sample(lc, link, &raw, &at_limit) == 0) {
        if (soft_tare)
            tare_done(lc, seq, raw);
        record_sample(lc, raw, at_limit);
    } else {
        rc = -1;
    }
    pthread_mutex_lock(&lc->mu);
    copy_counters(lc);
    pthread_mutex_unlock(&lc->mu);
    return rc;
}
