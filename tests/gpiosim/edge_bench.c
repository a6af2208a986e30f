/* edge_bench.c - edge events per second the pulse line sustains without loss on gpio-sim
 * (guest program of tests/gpiosim/run.sh, for `make bench`).
 *
 * The main thread toggles the pulse line's simulated pull at a paced rate (a busy wait on
 * CLOCK_MONOTONIC: clock_nanosleep is too coarse above a few kHz under TCG) while another
 * thread reads. Each trial generates edges at one rate and counts what the reader got once
 * the line has been quiet for 100 ms. The rate doubles until a trial loses something, then
 * a bisection finds the highest rate without loss. Two readers, one after the other:
 *  - raw: the libgpiod backend (hal/gpio.h), both edges, read as soon as the event fd is
 *    readable: what the kernel, gpio-sim and the backend sustain (plus one unpaced trial,
 *    toggling as fast as the writes go);
 *  - encoder: hal/encoder_gpio read every 10 ms, as the daemon's control tick does: one
 *    pulse per rising edge, bounded by the kernel's per-line queue between two ticks.
 * One CPU (the harness's default): writer and reader share it, as on a busy Pi. With two
 * emulated CPUs, TCG delays the cross-CPU wake-ups and edges merge far earlier.
 *
 * Prints "# " lines per trial and the summary lines:
 *   gpiosim edge rate: N events/s without loss
 *   gpiosim pulse rate through encoder_gpio read every 10 ms: N pulses/s without loss
 * Exits 0, or 1 when not even the slowest rate was lossless.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#include "config/config.h"
#include "hal/clock_posix.h"
#include "hal/encoder_gpio.h"
#include "hal/gpio.h"
#include "tests/gpiosim/guest.h"

#define TRIAL_S 0.25            /* generation time of one trial */
#define MIN_EDGES 200
#define MAX_EDGES 20000
#define QUIET_S 0.1
#define TICK_S 0.01             /* the control loop's period */

struct bench {
    struct gpio_line *line;     /* raw: the backend's line, read when its fd is readable */
    struct encoder_gpio *enc;   /* tick: the pulse sensor, read every control tick */
    atomic_long received;
    atomic_long dropped;        /* what the backend says it lost (v2 only) */
    atomic_int stop;
    atomic_int errors;
};

static void *reader(void *arg)
{
    struct bench *b = arg;
    struct gpio_event ev[64];
    int fd = gpio_libgpiod.fd(b->line);

    while (!atomic_load(&b->stop)) {
        int rc = guest_wait_fd(fd, 0.05), n;

        if (rc <= 0)
            continue;
        n = gpio_libgpiod.read_events(b->line, ev, 64);
        if (n < 0)
            atomic_fetch_add(&b->errors, 1);
        else
            atomic_fetch_add(&b->received, n);
    }
    return NULL;
}

/* The daemon's way: every TICK_S, take the pulses (rising edges) the encoder has. */
static void *ticker(void *arg)
{
    struct bench *b = arg;
    double t[ENCODER_GPIO_BUF], next = guest_now();

    while (!atomic_load(&b->stop)) {
        int n;

        next += TICK_S;
        guest_sleep_until(next);
        n = encoder_gpio_read(b->enc, t, ENCODER_GPIO_BUF);
        if (n > 0)
            atomic_fetch_add(&b->received, n);
    }
    return NULL;
}

/* Generates `edges` edges at `rate` per second (0: unpaced); returns the rate achieved
 * and stores what the reader got in *got (events, or pulses: one per two edges). */
static double trial(struct bench *b, const struct sim_pull *p, double rate, long edges,
                    long *got)
{
    long before = atomic_load(&b->received), seen, last;
    double t0 = guest_now(), t_end, quiet_since;

    for (long k = 0; k < edges; k++) {
        if (rate > 0.0) {
            double due = t0 + (double)k / rate;
            while (guest_now() < due)
                ;
        }
        sim_pull_set(p, (int)(k & 1) ^ 1);
    }
    t_end = guest_now();
    /* Wait until nothing more arrives for QUIET_S. */
    last = atomic_load(&b->received);
    quiet_since = guest_now();
    while (guest_now() - quiet_since < QUIET_S) {
        guest_sleep(0.01);
        seen = atomic_load(&b->received);
        if (seen != last) {
            last = seen;
            quiet_since = guest_now();
        }
    }
    *got = last - before;
    return edges / fmax(t_end - t0, 1e-9);
}

static long edges_for(double rate)
{
    long n = (long)(rate * TRIAL_S);

    n = n < MIN_EDGES ? MIN_EDGES : n > MAX_EDGES ? MAX_EDGES : n;
    return n & ~1L;             /* an even count: every trial starts from low */
}

/* Doubling from 500 edges/s, then bisecting between the last good and the first bad
 * rate: the highest edge rate at which the reader got all of them (per_edge: what one
 * edge is worth to the reader, 1 or 0.5). */
static double search(struct bench *b, const struct sim_pull *p, double per_edge,
                     const char *what)
{
    double good = 0.0, bad = 0.0, rate, achieved;
    long got, n;

    for (rate = 500.0; rate < 2e6; rate *= 2.0) {
        n = edges_for(rate);
        achieved = trial(b, p, rate, n, &got);
        guest_note("%s %.0f edges/s: %ld edges at %.0f/s, %ld of %ld received", what, rate, n,
                   achieved, got, (long)(n * per_edge));
        if (got != (long)(n * per_edge) || achieved < 0.9 * rate) {
            bad = rate;
            break;
        }
        good = rate;
    }
    for (int i = 0; i < 6 && bad > 0.0 && good > 0.0; i++) {
        rate = 0.5 * (good + bad);
        n = edges_for(rate);
        achieved = trial(b, p, rate, n, &got);
        guest_note("%s %.0f edges/s: %ld edges at %.0f/s, %ld of %ld received", what, rate, n,
                   achieved, got, (long)(n * per_edge));
        if (got == (long)(n * per_edge) && achieved >= 0.9 * rate)
            good = rate;
        else
            bad = rate;
    }
    return good;
}

/* The backend's raw path: every edge, read as soon as the event fd says so. */
static double bench_raw(struct sim_pull *p)
{
    struct bench b = {0};
    struct gpio_chip *chip;
    pthread_t th;
    double good;
    long got, n;

    chip = gpio_libgpiod.chip_open(&gpio_libgpiod, guest_env("GPIOSIM_CHIP"));
    b.line = chip ? gpio_libgpiod.request_input(chip, SIM_PULSE_A, GPIO_BIAS_AS_IS,
                                                GPIO_EDGE_BOTH, "edge_bench")
                  : NULL;
    if (!b.line || pthread_create(&th, NULL, reader, &b) != 0) {
        printf("FAIL t_gpiosim: edge_bench (cannot request the pulse line: %s)\n",
               strerror(errno));
        exit(1);
    }
    n = edges_for(1e6);
    double achieved = trial(&b, p, 0.0, n, &got);
    guest_note("raw unpaced: %ld edges at %.0f/s, %ld received (%ld lost)", n, achieved, got,
               n - got);
    good = search(&b, p, 1.0, "raw");
    atomic_store(&b.stop, 1);
    pthread_join(th, NULL);
    guest_note("raw: dropped as the backend counts it %ld, read errors %d",
               gpio_libgpiod.dropped(b.line), atomic_load(&b.errors));
    gpio_libgpiod.release(b.line);
    gpio_libgpiod.chip_close(chip);
    return good;
}

/* The pulse sensor as the daemon runs it: hal/encoder_gpio read every control tick. */
static double bench_tick(struct sim_pull *p)
{
    struct bench b = {0};
    struct ecc_config cfg;
    struct encoder_gpio_params ep;
    struct encoder_gpio_status st;
    struct clock_posix clk;
    struct hal_clock hc;
    pthread_t th;
    char err[256];
    double good;

    config_defaults(&cfg);
    snprintf(cfg.encoder.chip, sizeof cfg.encoder.chip, "%s", guest_env("GPIOSIM_CHIP"));
    cfg.encoder.type = CFG_ENCODER_GPIO;
    cfg.encoder.line = SIM_PULSE_A;
    cfg.encoder.line_b = -1;
    cfg.encoder.bias = CFG_BIAS_AS_IS;
    clock_posix_init(&clk, &hc);
    encoder_gpio_params_from_config(&cfg, &gpio_libgpiod, clk.t0, &ep);
    b.enc = encoder_gpio_open(&ep, err, sizeof err);
    if (!b.enc || pthread_create(&th, NULL, ticker, &b) != 0) {
        printf("FAIL t_gpiosim: edge_bench (cannot open the encoder: %s)\n", err);
        exit(1);
    }
    good = search(&b, p, 0.5, "encoder");
    atomic_store(&b.stop, 1);
    pthread_join(th, NULL);
    encoder_gpio_status(b.enc, &st);
    guest_note("encoder: %lld pulses, dropped %ld, overflows %ld, lost %ld", st.pulses,
               st.dropped, st.overflows, st.lost);
    encoder_gpio_close(b.enc);
    return good;
}

int main(void)
{
    struct sim_pull p;
    double raw, tick;

    guest_start("edge_bench");
    if (sim_drive(SIM_PULSE_A, 0) != 0 || sim_pull_open(&p, SIM_PULSE_A) != 0) {
        printf("FAIL t_gpiosim: edge_bench (cannot drive the pulse line)\n");
        return 1;
    }
    guest_note("backend %s, %ld CPU(s)", gpio_libgpiod.name, sysconf(_SC_NPROCESSORS_ONLN));
    raw = bench_raw(&p);
    tick = bench_tick(&p);
    sim_pull_close(&p);
    printf("gpiosim edge rate: %.0f events/s without loss\n", raw);
    printf("gpiosim pulse rate through encoder_gpio read every %.0f ms: %.0f pulses/s "
           "without loss\n", TICK_S * 1e3, tick / 2.0);
    return raw > 0.0 ? 0 : 1;
}
