/* test_hx711.c - the bit-banged HX711 against the fake chip model. */
#include "hal/hx711.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hal/hal.h"
#include "tests/gpio_fake.h"
#include "tests/test.h"

#define CONV_S 0.0125                /* s, the model's conversion time (80 Hz) */
#define SCK 0
#define DOUT 1

struct rig {
    struct gpio_fake *f;
    struct hx711 *h;
    char err[256];
};

static struct hx711_params params(const char *chip, int gain)
{
    return (struct hx711_params){
        .gpio = &gpio_fake, .chip = chip, .sck_line = SCK, .dout_line = DOUT, .gain = gain,
        .rate_hz = 80, .spike_n = 1e9,      /* spikes off unless a test wants them */
        .ring = {.cal = {.offset = 0, .scale = 1e-4}, .full_scale_n = 1000},
    };
}

/* A fake chip with the model on it, then the module opened with p. */
static bool rig_open(struct rig *r, const char *chip, const struct hx711_params *p, bool model)
{
    r->f = gpio_fake_open(chip, 4);
    if (model)
        gpio_fake_hx711_attach(r->f, SCK, DOUT, CONV_S);
    gpio_fake_set_clock_step(r->f, 0.25e-6);   /* each clock reading: 0.25 us pass */
    r->h = hx711_open(p, gpio_fake_now, r->f, r->err, sizeof r->err);
    if (!r->h) {                                /* say why and leave nothing behind */
        printf("  hx711_open: %s\n", r->err);
        gpio_fake_close(r->f);
    }
    return r->h != NULL;
}

static void rig_close(struct rig *r)
{
    hx711_close(r->h);
    gpio_fake_close(r->f);
}

static void push(struct rig *r, const int32_t *v, int n)
{
    gpio_fake_hx711_push(r->f, v, n);
}

/* Let the next conversion finish, then poll once. */
static int next(struct rig *r)
{
    gpio_fake_advance(r->f, gpio_fake_now(r->f) + CONV_S + 1e-4);
    return hx711_poll(r->h);
}

static struct hx711_status status(struct rig *r)
{
    struct hx711_status st;
    hx711_status(r->h, &st);
    return st;
}

/* ---- decoding ---------------------------------------------------------------------- */

static void check_gain(const char *chip, int gain)
{
    struct rig r;
    struct hx711_params p = params(chip, gain);
    const int32_t v[] = {4000, 1234560, -2000000, 0x400000, -40};
    double t[8], n[8];

    REQUIRE(rig_open(&r, chip, &p, true));
    push(&r, v, 5);
    for (int i = 0; i < 5; i++)
        CHECK_INT(next(&r), 1);
    struct hx711_status st = status(&r);
    int first = gain == 128 ? 0 : 1;    /* another gain: the first conversion was at 128 */
    CHECK_INT(st.settling, first);
    CHECK_INT(st.accepted, 5 - first);
    CHECK_INT(calibration_ring_read(hx711_ring(r.h), t, n, 8), 5 - first);
    for (int i = first; i < 5; i++)
        CHECK_NEAR(n[i - first] / 1e-4, (double)v[i] * gain / 128, 1e-6);
    rig_close(&r);
}

TEST(each_gain_decodes_the_models_values)
{
    check_gain("hx-g128", 128);
    check_gain("hx-g64", 64);
    check_gain("hx-g32", 32);
}

TEST(samples_carry_the_time_the_read_ended)
{
    struct rig r;
    struct hx711_params p = params("hx-time", 128);
    const int32_t v[] = {10, 20};
    double t[4], n[4];

    REQUIRE(rig_open(&r, "hx-time", &p, true));
    push(&r, v, 2);
    double t0 = gpio_fake_now(r.f);
    next(&r);
    next(&r);
    CHECK_INT(calibration_ring_read(hx711_ring(r.h), t, n, 4), 2);
    CHECK_NEAR(t[0], t0 + CONV_S + 1e-4, 50e-6);   /* a 25-pulse read: ~13 us of fake time */
    CHECK(t[1] > t[0]);
    rig_close(&r);
}

TEST(decode_sign_extends_24_bits)
{
    CHECK_INT(hx711_decode(0x7FFFFF), 0x7FFFFF);
    CHECK_INT(hx711_decode(0x800000), -0x800000);
    CHECK_INT(hx711_decode(0xFFFFFF), -1);
    CHECK_INT(hx711_decode(0x000001), 1);
}

/* ---- timing violations ------------------------------------------------------------- */

static void check_violation(const char *chip, int gain, double high_s)
{
    struct rig r;
    struct hx711_params p = params(chip, gain);
    const int32_t v[] = {1000, 1010, 1020, 1030, 1040};
    double t[8], n[8];
    struct gpio_fake_hx711_stats ms;

    REQUIRE(rig_open(&r, chip, &p, true));
    push(&r, v, 5);
    int settle = gain == 128 ? 0 : 1;
    for (int i = 0; i < 1 + settle; i++)
        next(&r);
    gpio_fake_hx711_stretch(r.f, 10, high_s);
    CHECK_INT(next(&r), 1);                     /* read, found bad, discarded */
    while (gpio_fake_hx711_pending(r.f) > 0)
        next(&r);
    next(&r);
    struct hx711_status st = status(&r);
    CHECK_INT(st.timing, 1);
    CHECK_INT(st.settling, 2 * settle);         /* after the reset the gain is 128 again */
    CHECK_INT(st.resets, 2);                    /* at open, after the violation */
    CHECK(st.max_high_s >= high_s);
    CHECK_INT(calibration_ring_read(hx711_ring(r.h), t, n, 8), 4 - 2 * settle);
    CHECK_NEAR(n[0] / 1e-4, (double)v[settle] * gain / 128, 1e-6);
    CHECK_NEAR(n[1] / 1e-4, (double)v[2 + 2 * settle] * gain / 128, 1e-6);
    gpio_fake_hx711_stats(r.f, &ms);
    CHECK_INT(ms.lost, 1);                      /* the chip lost that conversion */
    rig_close(&r);
}

TEST(a_long_clock_pulse_discards_exactly_that_sample)
{
    check_violation("hx-v80", 128, 80e-6);      /* the chip powered down */
    check_violation("hx-v55", 128, 55e-6);      /* over the 50 us limit, not yet down */
}

TEST(with_gain_64_the_reset_costs_one_settling_sample)
{
    check_violation("hx-v64", 64, 80e-6);
}

TEST(a_pulse_under_50_us_is_fine)
{
    struct rig r;
    struct hx711_params p = params("hx-v40", 128);
    const int32_t v[] = {1000, 1010};

    REQUIRE(rig_open(&r, "hx-v40", &p, true));
    push(&r, v, 2);
    gpio_fake_hx711_stretch(r.f, 3, 40e-6);
    next(&r);
    next(&r);
    struct hx711_status st = status(&r);
    CHECK_INT(st.timing, 0);
    CHECK_INT(st.accepted, 2);
    rig_close(&r);
}

/* ---- bad readings ------------------------------------------------------------------ */

TEST(floating_dout_and_spikes_are_rejected_and_counted)
{
    struct rig r;
    struct hx711_params p = params("hx-bad", 128);
    /* scale 0.01 N/count; spike_n default: 10% of 1000 N = 100 N = 10000 counts */
    const int32_t v[] = {1000, 1002, -1, 1001, 90000, 1003, 1004};
    double t[8], n[8];

    p.spike_n = 0;
    p.ring.cal.scale = 0.01;
    REQUIRE(rig_open(&r, "hx-bad", &p, true));
    push(&r, v, 7);
    for (int i = 0; i < 7; i++)
        next(&r);
    struct hx711_status st = status(&r);
    CHECK_INT(st.floating, 1);
    CHECK_INT(st.spikes, 1);
    CHECK_INT(st.accepted, 5);
    CHECK_INT(st.conversions, 7);
    CHECK_INT(calibration_ring_read(hx711_ring(r.h), t, n, 8), 5);
    CHECK_NEAR(n[2], 10.01, 1e-9);              /* 1001: -1 left no trace in the history */
    CHECK_NEAR(n[3], 10.03, 1e-9);              /* 1003: the spike was skipped */
    rig_close(&r);
}

TEST(a_real_step_loses_one_sample_then_passes)
{
    struct hx711_screen s = {0};
    const int32_t v[] = {1000, 1001, 1002, 50000, 50001, 50002};
    enum hx711_verdict want[] = {HX711_OK, HX711_OK, HX711_OK, HX711_SPIKE, HX711_OK, HX711_OK};

    for (int i = 0; i < 6; i++)
        CHECK_INT(hx711_screen_check(&s, v[i], 100), want[i]);
}

TEST(rails_pass_as_saturated)
{
    struct rig r;
    struct hx711_params p = params("hx-rail", 128);
    const int32_t v[] = {0x7FFFFF, -0x800000};
    double t[4], n[4];

    REQUIRE(rig_open(&r, "hx-rail", &p, true));
    push(&r, v, 2);
    next(&r);
    next(&r);
    CHECK_INT(calibration_ring_read(hx711_ring(r.h), t, n, 4), 2);
    CHECK_NEAR(n[0], 1000, 0);
    CHECK_NEAR(n[1], -1000, 0);
    CHECK_INT(status(&r).ring.saturated_samples, 2);
    rig_close(&r);
}

TEST(dout_stuck_low_is_caught)
{
    struct rig r;
    struct hx711_params p = params("hx-stuck", 128);

    REQUIRE(rig_open(&r, "hx-stuck", &p, false));   /* no chip: DOUT just reads 0 */
    CHECK_INT(hx711_poll(r.h), 1);
    struct hx711_status st = status(&r);
    CHECK_INT(st.stuck, 1);
    CHECK_INT(st.accepted, 0);
    CHECK_INT(st.resets, 2);
    rig_close(&r);
}

TEST(gpio_errors_are_counted)
{
    struct rig r;
    struct hx711_params p = params("hx-io", 128);

    REQUIRE(rig_open(&r, "hx-io", &p, true));
    gpio_fake_fail(r.f, DOUT, true);
    errno = 0;
    CHECK_INT(hx711_poll(r.h), -1);
    CHECK_INT(errno, EIO);
    CHECK_INT(status(&r).io_errors, 1);
    gpio_fake_fail(r.f, DOUT, false);
    CHECK_INT(hx711_poll(r.h), 0);             /* nothing queued: not ready */
    rig_close(&r);
}

/* ---- calibration ------------------------------------------------------------------- */

TEST(tare_and_span_give_the_right_newtons)
{
    struct rig r;
    struct hx711_params p = params("hx-cal", 128);
    char dir[] = "/tmp/ecc-hx-XXXXXX", path[64];
    double t[16], n[16];
    const int32_t zero[] = {7998, 8002, 8001, 7999};
    const int32_t mass[] = {48000, 48000, 48000, 48000};   /* 20 kg: 40000 counts */
    const int32_t half = 28000;

    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/cal", dir);
    p.ring.cal.scale = 1;                       /* uncalibrated */
    p.ring.path = path;
    p.ring.cal_readings = 4;
    REQUIRE(rig_open(&r, "hx-cal", &p, true));
    /* As the daemon does it: struct hal_force bound to the ring (eccctl tare, calibrate). */
    struct hal_force f = {0};
    calibration_ring_hal(hx711_ring(r.h), &f);
    CHECK_INT(hal_force_tare(&f), 0);
    push(&r, zero, 4);
    for (int i = 0; i < 4; i++)
        next(&r);
    CHECK_NEAR(status(&r).ring.cal.offset, 8000, 1e-9);
    CHECK_INT(hal_force_span(&f, 20.0, false), 0);
    push(&r, mass, 4);
    for (int i = 0; i < 4; i++)
        next(&r);
    push(&r, &half, 1);
    next(&r);
    int got = calibration_ring_read(hx711_ring(r.h), t, n, 16);
    CHECK_INT(got, 9);
    CHECK_NEAR(n[got - 1], 10.0 * CALIBRATION_G, 1e-9);
    hx711_close(r.h);
    /* A new start takes tare and span from the file. */
    p.ring.cal = (struct calibration){.offset = 0, .scale = 1};
    r.h = hx711_open(&p, gpio_fake_now, r.f, r.err, sizeof r.err);
    CHECK(r.h != NULL);
    if (r.h) {
        CHECK_NEAR(status(&r).ring.cal.offset, 8000, 1e-9);
        CHECK_NEAR(status(&r).ring.cal.scale, 20.0 * CALIBRATION_G / 40000, 1e-15);
    }
    rig_close(&r);
    unlink(path);
    rmdir(dir);
}

TEST(open_refuses_a_junk_calibration_file)
{
    struct rig r = {0};
    struct hx711_params p = params("hx-junk", 128);
    char dir[] = "/tmp/ecc-hx-XXXXXX", path[64];

    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/cal", dir);
    FILE *f = fopen(path, "w");
    REQUIRE(f != NULL);
    fputs("offset = 5\nscale = lots\n", f);
    fclose(f);
    p.ring.path = path;
    r.f = gpio_fake_open("hx-junk", 4);
    r.h = hx711_open(&p, gpio_fake_now, r.f, r.err, sizeof r.err);
    CHECK(r.h == NULL);
    CHECK_STR_CONTAINS(r.err, path);
    CHECK_STR_CONTAINS(r.err, ":2: ");
    CHECK(!gpio_fake_requested(r.f, SCK));      /* nothing left open */
    gpio_fake_close(r.f);
    unlink(path);
    rmdir(dir);
}

TEST(open_refuses_bad_parameters_and_missing_chips)
{
    struct hx711_params p = params("hx-none", 100);
    char err[256];

    errno = 0;
    CHECK(hx711_open(&p, gpio_fake_now, NULL, err, sizeof err) == NULL && errno == EINVAL);
    p.gain = 128;
    errno = 0;
    CHECK(hx711_open(&p, gpio_fake_now, NULL, err, sizeof err) == NULL && errno == ENOENT);
    CHECK_STR_CONTAINS(err, "hx-none");
}

/* ---- the reader thread ------------------------------------------------------------- */

/* The test thread moves the fake clock while the reader runs: a move that lands inside a
 * clock pulse makes that pulse look 12.5 ms long, to the module and to the model alike, so
 * such a read is discarded (timing) and the chip loses that conversion, as a preempted
 * reader would on the real chip. Every value is thus either accepted or discarded. */
TEST(reader_thread_delivers_samples_and_stops)
{
    struct rig r;
    struct hx711_params p = params("hx-thr", 128);
    int32_t v[20];
    double t[32], n[32];
    struct timespec pause = {0, 2000000};
    struct hx711_status st = {0};
    int got = 0;

    for (int i = 0; i < 20; i++)
        v[i] = 1000 + i;
    REQUIRE(rig_open(&r, "hx-thr", &p, true));
    push(&r, v, 20);
    CHECK_INT(hx711_start(r.h), 0);
    for (int i = 0; i < 2500 && st.accepted + st.timing < 20; i++) {   /* at most ~5 s */
        gpio_fake_advance(r.f, gpio_fake_now(r.f) + CONV_S);
        nanosleep(&pause, NULL);
        got += calibration_ring_read(hx711_ring(r.h), t + got, n + got, 32 - got);
        st = status(&r);
    }
    got += calibration_ring_read(hx711_ring(r.h), t + got, n + got, 32 - got);
    CHECK_INT(st.accepted + st.timing, 20);
    CHECK_INT(got, st.accepted);
    CHECK(got >= 10);                           /* most reads are not hit */
    for (int i = 1; i < got; i++) {
        CHECK(t[i] > t[i - 1]);
        CHECK(n[i] > n[i - 1]);                 /* in order, none repeated */
    }
    rig_close(&r);                              /* joins the thread */
}

TESTS(T(each_gain_decodes_the_models_values), T(samples_carry_the_time_the_read_ended),
      T(decode_sign_extends_24_bits), T(a_long_clock_pulse_discards_exactly_that_sample),
      T(with_gain_64_the_reset_costs_one_settling_sample), T(a_pulse_under_50_us_is_fine),
      T(floating_dout_and_spikes_are_rejected_and_counted),
      T(a_real_step_loses_one_sample_then_passes), T(rails_pass_as_saturated),
      T(dout_stuck_low_is_caught), T(gpio_errors_are_counted),
      T(tare_and_span_give_the_right_newtons), T(open_refuses_a_junk_calibration_file),
      T(open_refuses_bad_parameters_and_missing_chips),
      T(reader_thread_delivers_samples_and_stops));
TEST_MAIN("test_hx711")
