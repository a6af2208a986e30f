/* pulse_test.c - the belt pulse sensor on a real gpio-sim chip (guest program of
 * tests/gpiosim/run.sh; see guest.h for the line map and report format).
 *
 * - speed_*: a generator thread drives the pulse line with a square wave of known period P
 *   (clock_nanosleep to absolute deadlines); the control loop's side reads the pulses
 *   through hal/encoder_gpio (libgpiod backend, HAL clock) every 10 ms, as the daemon's
 *   tick does, and feeds them to controller/speed_est. Every pulse must arrive, none may
 *   be counted lost, each pulse time must be the kernel's stamp (inside the pull write
 *   that made the edge, not when it was read), and the estimate must be
 *   (1 / pulses_per_m) / P within 1% (the median over the run). The spacing of the
 *   kernel timestamps, the worst single estimate and the generator's lateness (the
 *   emulated machine's scheduling jitter) are reported on "# " lines.
 * - quadrature_*: A leading B reads forward, B leading A reads backward (the encoder's
 *   direction after each cycle), one pulse per cycle.
 */
#include <math.h>
#include <pthread.h>

#include "config/config.h"
#include "controller/speed_est.h"
#include "hal/clock_posix.h"
#include "hal/encoder_gpio.h"
#include "hal/gpio.h"
#include "tests/gpiosim/guest.h"

#define PULSES_PER_M 20.0
#define TICK_S 0.01             /* the control loop's period */
#define MAX_PULSES 64

/* ---- the pulse sensor under test: hal/encoder_gpio on the HAL clock -------------- */

struct pulse_dev {
    struct clock_posix clk;
    struct hal_clock hc;
    struct encoder_gpio *enc;
};

/* The HAL clock's zero on CLOCK_MONOTONIC (s): the encoder's times are kernel stamps less
 * this. */
static double pulse_t0;

static int pulse_open(struct pulse_dev *d, bool quadrature)
{
    struct ecc_config cfg;
    struct encoder_gpio_params p;
    char err[256];

    memset(d, 0, sizeof *d);
    config_defaults(&cfg);
    cfg.encoder.type = CFG_ENCODER_GPIO;
    cfg.encoder.pulses_per_m = PULSES_PER_M;
    snprintf(cfg.encoder.chip, sizeof cfg.encoder.chip, "%s", guest_env("GPIOSIM_CHIP"));
    cfg.encoder.line = SIM_PULSE_A;
    cfg.encoder.line_b = quadrature ? SIM_PULSE_B : -1;
    cfg.encoder.bias = CFG_BIAS_PULL_UP;
    clock_posix_init(&d->clk, &d->hc);
    pulse_t0 = d->clk.t0;
    encoder_gpio_params_from_config(&cfg, &gpio_libgpiod, d->clk.t0, &p);
    d->enc = encoder_gpio_open(&p, err, sizeof err);
    if (!d->enc) {
        fprintf(stderr, "encoder_gpio_open: %s\n", err);
        return -1;
    }
    /* gpio-sim takes the requested pull-up as the lines' level: start them low again. */
    sim_drive(SIM_PULSE_A, 0);
    if (quadrature)
        sim_drive(SIM_PULSE_B, 0);
    guest_sleep(0.002);
    double t[8];
    while (encoder_gpio_read(d->enc, t, 8) > 0)
        ;
    return 0;
}

/* Pulse times (s, HAL clock) since the last call. */
static int pulse_read(struct pulse_dev *d, double *t, int max)
{
    return encoder_gpio_read(d->enc, t, max);
}

static int pulse_direction(const struct pulse_dev *d)
{
    struct encoder_gpio_status st;

    return encoder_gpio_status(d->enc, &st) == 0 ? st.direction : 0;
}

static long pulse_lost(const struct pulse_dev *d)
{
    struct encoder_gpio_status st;

    if (encoder_gpio_status(d->enc, &st) != 0)
        return -1;
    return st.dropped + st.overflows + st.lost + st.read_errors;
}

static void pulse_close(struct pulse_dev *d)
{
    if (d->enc)
        encoder_gpio_close(d->enc);
    memset(d, 0, sizeof *d);
}

static double pulse_now(struct pulse_dev *d)
{
    return clock_posix_now(&d->clk);
}

/* ---- the generator ------------------------------------------------------------------ */

struct gen {
    struct sim_pull pull;
    double t0, period;
    int pulses;
    double late_max, late_sum;  /* s, how late each rising edge's write finished */
    double before[MAX_PULSES], after[MAX_PULSES];   /* each rising edge's write began, ended */
    int errors;
};

static void *gen_run(void *arg)
{
    struct gen *g = arg;

    for (int k = 0; k < g->pulses; k++) {
        double due = g->t0 + k * g->period, late;

        guest_sleep_until(due);
        g->before[k] = guest_now();
        if (sim_pull_set(&g->pull, 1) != 0)
            g->errors++;
        g->after[k] = guest_now();
        late = g->after[k] - due;
        g->late_sum += late;
        if (late > g->late_max)
            g->late_max = late;
        guest_sleep_until(due + 0.5 * g->period);
        if (sim_pull_set(&g->pull, 0) != 0)
            g->errors++;
    }
    return NULL;
}

/* ---- tests -------------------------------------------------------------------------- */

static void test_speed(double speed)
{
    char name[64];
    struct pulse_dev dev;
    struct speed_est est;
    struct gen g = {0};
    pthread_t th;
    double t[MAX_PULSES], est_v[MAX_PULSES], stamps[MAX_PULSES];
    double want = speed, end;
    int got = 0, n_est = 0;

    snprintf(name, sizeof name, "speed_%.2f_mps_within_1pct", speed);
    g.period = 1.0 / (PULSES_PER_M * speed);
    g.pulses = (int)fmin(MAX_PULSES, fmax(8.0, ceil(2.0 / g.period)));
    if (sim_pull_open(&g.pull, SIM_PULSE_A) != 0 || pulse_open(&dev, false) != 0) {
        guest_fail(name, "cannot set up the pulse line: %s", strerror(errno));
        return;
    }
    speed_est_init(&est, PULSES_PER_M, 5.0);
    g.t0 = guest_now() + 0.05;
    if (pthread_create(&th, NULL, gen_run, &g) != 0) {
        guest_fail(name, "pthread_create failed");
        pulse_close(&dev);
        return;
    }
    /* The control loop's side: read every tick until the last pulse is in (or late). */
    end = g.t0 + g.pulses * g.period + 1.0;
    for (double tick = guest_now(); got < g.pulses && guest_now() < end;) {
        int n;

        tick += TICK_S;
        guest_sleep_until(tick);
        n = pulse_read(&dev, t, MAX_PULSES);
        for (int i = 0; i < n; i++) {
            if (got < MAX_PULSES)
                stamps[got] = t[i];
            got++;
            speed_est_pulse(&est, t[i]);
        }
        /* Once the estimate has 3 pulses, each tick with a new one gives a reading. */
        if (n > 0 && got >= 3 && n_est < MAX_PULSES)
            est_v[n_est++] = speed_est_get(&est, pulse_now(&dev));
    }
    pthread_join(th, NULL);
    long lost = pulse_lost(&dev);
    sim_pull_close(&g.pull);
    pulse_close(&dev);

    /* The kernel stamps each edge inside the pull write that made it: a stamp outside
     * that write is not the kernel's (or is on another clock). */
    int outside = 0;
    for (int i = 0; i < got && i < g.pulses; i++)
        if (stamps[i] + pulse_t0 < g.before[i] || stamps[i] + pulse_t0 > g.after[i])
            outside++;
    double period_mean = got > 1 ? (stamps[got - 1] - stamps[0]) / (got - 1) : 0.0;
    double dev_max = 0.0;
    for (int i = 1; i < got && i < MAX_PULSES; i++)
        dev_max = fmax(dev_max, fabs(stamps[i] - stamps[i - 1] - g.period));
    double est_err_max = 0.0;
    for (int i = 0; i < n_est; i++)
        est_err_max = fmax(est_err_max, fabs(est_v[i] / want - 1.0));
    double est_med = guest_median(est_v, n_est);

    guest_note("%.2f m/s: P %.1f ms, %d/%d pulses; kernel stamps: mean period %.3f ms "
               "(%+.3f%%), max |period - P| %.3f ms, %d outside their write; generator late "
               "mean %.3f ms, max %.3f ms; estimate median %.4f m/s (%+.3f%%), worst of %d "
               "%.2f%%", speed, g.period * 1e3, got, g.pulses, period_mean * 1e3,
               (period_mean / g.period - 1.0) * 100.0, dev_max * 1e3, outside,
               g.late_sum / g.pulses * 1e3, g.late_max * 1e3, est_med,
               (est_med / want - 1.0) * 100.0, n_est, est_err_max * 100.0);
    if (g.errors || got != g.pulses || lost)
        guest_fail(name, "%d of %d pulses arrived (%d pull write errors, %ld counted lost)",
                   got, g.pulses, g.errors, lost);
    else if (outside)
        guest_fail(name, "%d of %d timestamps are not the kernel's edge times", outside, got);
    else if (n_est == 0 || fabs(est_med / want - 1.0) > 0.01)
        guest_fail(name, "estimate %.4f m/s (median of %d), want %.4f within 1%%", est_med,
                   n_est, want);
    else
        guest_ok(name);
}

/* Steps through one quadrature cycle per count; forward: A leads B. */
static void test_quadrature(int dir)
{
    const char *name = dir > 0 ? "quadrature_forward" : "quadrature_backward";
    struct pulse_dev dev;
    struct sim_pull a, b;
    double t[MAX_PULSES];
    int pulses = 0, wrong = 0;

    if (sim_pull_open(&a, SIM_PULSE_A) != 0 || sim_pull_open(&b, SIM_PULSE_B) != 0 ||
        pulse_open(&dev, true) != 0) {
        guest_fail(name, "cannot set up the pulse lines: %s", strerror(errno));
        return;
    }
    for (int cycle = 0; cycle < 8; cycle++) {
        const struct sim_pull *first = dir > 0 ? &a : &b, *second = dir > 0 ? &b : &a;

        /* Each step waits for its edge to be in the kernel's queue before the next. */
        sim_pull_set(first, 1);
        guest_sleep(0.005);
        sim_pull_set(second, 1);
        guest_sleep(0.005);
        sim_pull_set(first, 0);
        guest_sleep(0.005);
        sim_pull_set(second, 0);
        guest_sleep(0.005);
        int n = pulse_read(&dev, t, MAX_PULSES);
        if (n > 0)
            pulses += n;
        if (pulse_direction(&dev) != dir)
            wrong++;
    }
    long lost = pulse_lost(&dev);
    sim_pull_close(&a);
    sim_pull_close(&b);
    pulse_close(&dev);
    guest_note("%s: %d pulses over 8 cycles, direction wrong %d times", name, pulses, wrong);
    if (pulses != 8 || wrong || lost)
        guest_fail(name, "%d pulses (want 8), direction wrong %d of 8 times", pulses,
                     wrong);
    else
        guest_ok(name);
}

int main(void)
{
    guest_start("pulse_test");
    test_speed(0.20);
    test_speed(0.50);
    test_speed(0.83);
    test_quadrature(1);
    test_quadrature(-1);
    return guest_exit();
}
