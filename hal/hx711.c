/* hx711.c - the HX711 bit-banged over GPIO (see hx711.h). */
#include "hal/hx711.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RESET_GIVE_UP_S 0.01         /* s of wall time: a clock that never reaches the hold */

struct hx711 {
    const struct gpio_backend *gpio;
    struct gpio_chip *chip;
    struct gpio_line *sck, *dout;
    double (*now)(void *);
    void *clock_ctx;
    struct calibration_ring *ring;
    int gain;
    int gain_pulses;                 /* pulses after the 24 data bits: 1, 2 or 3 */
    double period_s;                 /* s, 1 / rate_hz */
    double spike_n;                  /* N */

    /* Reader side only (the thread, or a test calling hx711_poll). */
    bool gain_known;                 /* the running conversion uses the configured gain */
    struct hx711_screen screen;

    pthread_mutex_t mu;              /* guards st */
    struct hx711_status st;          /* counters (st.ring is filled in by hx711_status) */
};

/* ---- screening (pure) ---------------------------------------------------------------- */

int32_t hx711_decode(uint32_t word)
{
    word &= 0xFFFFFFu;
    return (word & 0x800000u) ? (int32_t)word - 0x1000000 : (int32_t)word;
}

bool hx711_at_rail(int32_t raw)
{
    return raw == HX711_RAIL_HIGH || raw == HX711_RAIL_LOW;
}

static int32_t median3(int32_t a, int32_t b, int32_t c)
{
    if ((a <= b && b <= c) || (c <= b && b <= a))
        return b;
    if ((b <= a && a <= c) || (c <= a && a <= b))
        return a;
    return c;
}

enum hx711_verdict hx711_screen_check(struct hx711_screen *s, int32_t raw, double spike_counts)
{
    /* All ones: DOUT floated high through the read (a genuine -1 is one count from zero
     * on a cell whose offset is thousands of counts: losing it costs one sample). */
    if (raw == -1)
        return HX711_FLOATING;
    bool spike = s->n == 2 &&
                 fabs((double)raw - (double)median3(s->hist[1], s->hist[0], raw)) > spike_counts;
    s->hist[1] = s->hist[0];
    s->hist[0] = raw;
    if (s->n < 2)
        s->n++;
    return spike ? HX711_SPIKE : HX711_OK;
}

enum hx711_verdict hx711_screen_push(struct hx711_screen *s, struct calibration_ring *r,
                                     int32_t raw, double t, double spike_n)
{
    double spike_counts = spike_n / fabs(calibration_ring_get(r).scale);
    enum hx711_verdict v = hx711_screen_check(s, raw, spike_counts);

    if (v == HX711_OK)
        calibration_ring_push(r, t, raw, hx711_at_rail(raw));
    return v;
}

/* ---- counters ------------------------------------------------------------------------ */

static void count(struct hx711 *h, long *counter)
{
    pthread_mutex_lock(&h->mu);
    (*counter)++;
    pthread_mutex_unlock(&h->mu);
}

static void note_high(struct hx711 *h, double high_s)
{
    pthread_mutex_lock(&h->mu);
    if (high_s > h->st.max_high_s)
        h->st.max_high_s = high_s;
    pthread_mutex_unlock(&h->mu);
}

/* ---- the wire ------------------------------------------------------------------------ */

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Hold PD_SCK high past the power-down time, then low: the chip restarts at gain 128. The
 * hold spins on the injected clock (100 us is too short to sleep for); the wall-time bound
 * only stops a clock that does not move from hanging the thread. */
static int chip_reset(struct hx711 *h)
{
    double t0 = h->now(h->clock_ctx), give_up = wall_s() + RESET_GIVE_UP_S;

    count(h, &h->st.resets);
    h->gain_known = false;
    if (h->gpio->set(h->sck, 1) < 0) {
        count(h, &h->st.io_errors);
        return -1;
    }
    while (h->now(h->clock_ctx) - t0 < HX711_RESET_HOLD_S && wall_s() < give_up)
        ;
    if (h->gpio->set(h->sck, 0) < 0) {
        count(h, &h->st.io_errors);
        return -1;
    }
    return 0;
}

/* One PD_SCK pulse; *high_s: from before the rise to after the fall (s). */
static int clock_pulse(struct hx711 *h, double *high_s)
{
    double t0 = h->now(h->clock_ctx);

    if (h->gpio->set(h->sck, 1) < 0)
        return -1;
    int rc = h->gpio->set(h->sck, 0);
    *high_s = h->now(h->clock_ctx) - t0;
    return rc;
}

enum shift_result { SHIFT_OK = 0, SHIFT_TIMING, SHIFT_IO };

/* The 24 data bits and the gain pulses. Stops at the first over-long pulse. */
static enum shift_result shift_in(struct hx711 *h, uint32_t *word)
{
    *word = 0;
    for (int i = 0; i < 24 + h->gain_pulses; i++) {
        double high;
        if (clock_pulse(h, &high) < 0)
            return SHIFT_IO;
        note_high(h, high);
        if (high > HX711_MAX_HIGH_S)
            return SHIFT_TIMING;
        if (i >= 24)
            continue;
        int bit = h->gpio->get(h->dout);     /* valid from the rise until the next rise */
        if (bit < 0)
            return SHIFT_IO;
        *word = *word << 1 | (uint32_t)bit;
    }
    return SHIFT_OK;
}

/* A read gone wrong: count it, reset the chip. Returns what hx711_poll returns. */
static int abandon(struct hx711 *h, long *counter)
{
    int e = errno;
    count(h, counter);
    chip_reset(h);
    errno = e;
    return counter == &h->st.io_errors ? -1 : 1;
}

/* A reading that came through the wire intact: screen it, push it, count it. */
static void judge(struct hx711 *h, int32_t raw, double t)
{
    enum hx711_verdict v = hx711_screen_push(&h->screen, h->ring, raw, t, h->spike_n);
    count(h, v == HX711_OK ? &h->st.accepted : v == HX711_SPIKE ? &h->st.spikes
                                                                 : &h->st.floating);
}

int hx711_poll(struct hx711 *h)
{
    uint32_t word;

    int ready = h->gpio->get(h->dout);
    if (ready < 0)
        return abandon(h, &h->st.io_errors);
    if (ready)
        return 0;                    /* DOUT high: converting */
    count(h, &h->st.conversions);
    enum shift_result rc = shift_in(h, &word);
    if (rc != SHIFT_OK)
        return abandon(h, rc == SHIFT_TIMING ? &h->st.timing : &h->st.io_errors);
    double t = h->now(h->clock_ctx);
    int after = h->gpio->get(h->dout);   /* the 25th pulse must have set DOUT high */
    if (after <= 0)
        return abandon(h, after < 0 ? &h->st.io_errors : &h->st.stuck);
    /* After a reset the chip converts at gain 128 whatever we asked; the gain pulses of
     * this read set the configured gain for the next conversion. */
    bool valid_gain = h->gain_known || h->gain == 128;
    h->gain_known = true;
    if (!valid_gain) {
        count(h, &h->st.settling);
        return 1;
    }
    judge(h, hx711_decode(word), t);
    return 1;
}

/* ---- open / close -------------------------------------------------------------------- */

void hx711_params_from_config(const struct ecc_config *cfg, const struct gpio_backend *gpio,
                              struct hx711_params *p)
{
    *p = (struct hx711_params){
        .gpio = gpio, .chip = cfg->loadcell.hx711_chip,
        .sck_line = (unsigned)cfg->loadcell.hx711_sck_line,
        .dout_line = (unsigned)cfg->loadcell.hx711_dout_line,
        .gain = cfg->loadcell.hx711_gain, .rate_hz = cfg->loadcell.rate_hz,
    };
}

static int gain_pulses(int gain)
{
    return gain == 128 ? 1 : gain == 32 ? 2 : gain == 64 ? 3 : -1;
}

static bool params_ok(const struct hx711_params *p)
{
    return p->gpio && p->chip && gain_pulses(p->gain) > 0 && p->rate_hz > 0.0 &&
           isfinite(p->rate_hz) && p->spike_n >= 0.0 && p->sck_line != p->dout_line;
}

static int lines_open(struct hx711 *h, const struct hx711_params *p, char *err, size_t errlen)
{
    h->chip = h->gpio->chip_open(h->gpio, p->chip);
    if (!h->chip)
        return snprintf(err, errlen, "hx711: %s: %s", p->chip, strerror(errno)), -1;
    h->sck = h->gpio->request_output(h->chip, p->sck_line, 0, "eccd-hx711-sck");
    if (!h->sck)
        return snprintf(err, errlen, "hx711: %s line %u (PD_SCK): %s", p->chip, p->sck_line,
                        strerror(errno)), -1;
    h->dout = h->gpio->request_input(h->chip, p->dout_line, GPIO_BIAS_PULL_UP, GPIO_EDGE_NONE,
                                     "eccd-hx711-dout");
    if (!h->dout)
        return snprintf(err, errlen, "hx711: %s line %u (DOUT): %s", p->chip, p->dout_line,
                        strerror(errno)), -1;
    return 0;
}

struct hx711 *hx711_open(const struct hx711_params *p, double (*now)(void *), void *clock_ctx,
                         char *err, size_t errlen)
{
    if (!p || !now || !params_ok(p)) {
        snprintf(err, errlen, "hx711: bad parameters (gain must be 128, 64 or 32)");
        errno = EINVAL;
        return NULL;
    }
    struct hx711 *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "hx711: out of memory");
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->gpio = p->gpio;
    h->now = now;
    h->clock_ctx = clock_ctx;
    h->gain = p->gain;
    h->gain_pulses = gain_pulses(p->gain);
    h->period_s = 1.0 / p->rate_hz;
    h->spike_n = p->spike_n > 0.0 ? p->spike_n : HX711_SPIKE_SHARE * p->ring.full_scale_n;
    h->ring = calibration_ring_open(&p->ring, err, errlen);
    int rc = h->ring ? lines_open(h, p, err, errlen) : -1;
    if (rc == 0 && (rc = chip_reset(h)) < 0)
        snprintf(err, errlen, "hx711: resetting the chip: %s", strerror(errno));
    if (rc < 0) {
        int e = errno;
        hx711_close(h);
        errno = e;
        return NULL;
    }
    return h;
}

/* The reader thread's step: poll, then wait about a period after a read (the next
 * conversion comes then), a twenty-fifth of one while waiting for DOUT to fall. */
static double reader_fill(void *arg)
{
    struct hx711 *h = arg;

    switch (hx711_poll(h)) {
    case 1:
        return 0.8 * h->period_s;
    case 0:
        return h->period_s / 25.0;
    default:
        return h->period_s;          /* a failing line: not a busy loop */
    }
}

int hx711_start(struct hx711 *h)
{
    return calibration_ring_start(h->ring, reader_fill, h);
}

void hx711_close(struct hx711 *h)
{
    if (!h)
        return;
    if (h->ring)
        calibration_ring_stop(h->ring);
    if (h->sck) {
        h->gpio->set(h->sck, 0);     /* low: the chip keeps running, not powered down */
        h->gpio->release(h->sck);
    }
    if (h->dout)
        h->gpio->release(h->dout);
    if (h->chip)
        h->gpio->chip_close(h->chip);
    calibration_ring_close(h->ring);
    pthread_mutex_destroy(&h->mu);
    free(h);
}

/* ---- control side -------------------------------------------------------------------- */

struct calibration_ring *hx711_ring(struct hx711 *h)
{
    return h->ring;
}

int hx711_status(struct hx711 *h, struct hx711_status *st)
{
    pthread_mutex_lock(&h->mu);
    *st = h->st;
    pthread_mutex_unlock(&h->mu);
    calibration_ring_status(h->ring, &st->ring);
    return 0;
}
