/* test_encoder_gpio.c - the belt pulse sensor on the fake GPIO backend. */
#include "hal/encoder_gpio.h"

#include <errno.h>
#include <math.h>

#include "controller/speed_est.h"
#include "tests/gpio_fake.h"
#include "tests/test.h"

#define T0 100.0                     /* s, CLOCK_MONOTONIC at the HAL clock's zero */
#define LINE_A 3
#define LINE_B 4
#define TICK 0.02                    /* s, the control loop's period */

struct rig {
    struct gpio_fake *f;
    struct encoder_gpio *e;
    char err[256];
};

static bool rig_open(struct rig *r, const char *chip, int line_b, int kernel_queue)
{
    struct encoder_gpio_params p = {.gpio = &gpio_fake, .chip = chip, .line = LINE_A,
                                    .line_b = line_b, .bias = GPIO_BIAS_PULL_UP, .t0 = T0,
                                    .kernel_queue = kernel_queue};

    r->f = gpio_fake_open(chip, 8);
    gpio_fake_advance(r->f, T0);
    r->e = encoder_gpio_open(&p, r->err, sizeof r->err);
    if (!r->e) {                                /* say why and leave nothing behind */
        printf("  encoder_gpio_open: %s\n", r->err);
        gpio_fake_close(r->f);
    }
    return r->e != NULL;
}

static void rig_close(struct rig *r)
{
    encoder_gpio_close(r->e);
    gpio_fake_close(r->f);
}

static struct encoder_gpio_status status(const struct rig *r)
{
    struct encoder_gpio_status st;
    encoder_gpio_status(r->e, &st);
    return st;
}

TEST(pulses_come_out_on_the_hal_clock_with_the_edge_times)
{
    struct rig r;
    double t[16];

    REQUIRE(rig_open(&r, "enc-time", -1, 0));
    CHECK(gpio_fake_bias(r.f, LINE_A) == GPIO_BIAS_PULL_UP);
    gpio_fake_pulses(r.f, LINE_A, T0 + 0.5, 0.25, 0.05, 5);
    gpio_fake_advance(r.f, T0 + 0.9);           /* read late: times are the edges' */
    CHECK_INT(encoder_gpio_read(r.e, t, 16), 2);
    CHECK_NEAR(t[0], 0.5, 1e-9);
    CHECK_NEAR(t[1], 0.75, 1e-9);
    gpio_fake_advance(r.f, T0 + 5);
    CHECK_INT(encoder_gpio_read(r.e, t, 2), 2);  /* max respected, the rest kept */
    CHECK_INT(encoder_gpio_read(r.e, t, 16), 1);
    CHECK_NEAR(t[0], 1.5, 1e-9);
    struct encoder_gpio_status st = status(&r);
    CHECK_INT(st.pulses, 5);
    CHECK_INT(st.count, 5);
    CHECK_INT(st.direction, 0);                 /* one channel: no direction */
    CHECK_NEAR(st.t_last, 1.5, 1e-9);
    rig_close(&r);
}

/* Pulses for v m/s from the fake; the control loop reads every TICK and feeds speed_est.
 * Returns the worst relative speed error once two pulses are in. */
static double worst_speed_error(const char *chip, double pulses_per_m, double v, int pulses)
{
    struct rig r;
    struct speed_est s;
    double t[64], worst = 0, period = 1.0 / (pulses_per_m * v), start = 0.37;
    double end = start + (pulses - 1) * period;

    if (!rig_open(&r, chip, -1, 0))
        return INFINITY;
    speed_est_init(&s, pulses_per_m, 5.0);
    gpio_fake_pulses(r.f, LINE_A, T0 + start, period, period / 2, pulses);
    for (double now = 0; now < end; now += TICK) {
        gpio_fake_advance(r.f, T0 + now);
        int n = encoder_gpio_read(r.e, t, 64);
        for (int i = 0; i < n; i++)
            speed_est_pulse(&s, t[i]);
        if (s.count >= 2)
            worst = fmax(worst, fabs(speed_est_get(&s, now) - v) / v);
    }
    CHECK_INT(s.count, pulses - 1);             /* the last one is at `end` */
    rig_close(&r);
    return worst;
}

TEST(speed_from_scripted_edges_is_within_1_percent)
{
    CHECK(worst_speed_error("enc-spd1", 4, 0.1, 12) <= 0.01);    /* roller: 2.5 s apart */
    CHECK(worst_speed_error("enc-spd2", 4, 0.3, 20) <= 0.01);
    CHECK(worst_speed_error("enc-spd3", 20, 0.8, 60) <= 0.01);   /* fine: 62.5 ms apart */
}

/* cycles quadrature cycles of period T from t: forward (B lags A) or reverse. */
static void quadrature(struct gpio_fake *f, double t, double T, int cycles, bool forward)
{
    unsigned first = forward ? LINE_A : LINE_B, second = forward ? LINE_B : LINE_A;

    for (int k = 0; k < cycles; k++, t += T) {
        gpio_fake_edge_at(f, first, t, true);
        gpio_fake_edge_at(f, second, t + T / 4, true);
        gpio_fake_edge_at(f, first, t + T / 2, false);
        gpio_fake_edge_at(f, second, t + 3 * T / 4, false);
    }
}

static void check_quadrature(const char *chip, double read_every)
{
    struct rig r;
    double t[64];
    int got = 0;

    REQUIRE(rig_open(&r, chip, LINE_B, 0));
    quadrature(r.f, T0 + 1.0, 0.1, 5, true);    /* 5 forward */
    quadrature(r.f, T0 + 1.5, 0.1, 3, false);   /* then 3 back */
    for (double now = 0.9; now < 2.0 + read_every; now += read_every) {
        gpio_fake_advance(r.f, T0 + now);
        got += encoder_gpio_read(r.e, t + got, 64 - got);
    }
    struct encoder_gpio_status st = status(&r);
    CHECK_INT(got, 8);                          /* speed counts both directions */
    CHECK_INT(st.pulses, 8);
    CHECK_INT(st.reverse, 3);
    CHECK_INT(st.count, 2);
    CHECK_INT(st.direction, -1);
    rig_close(&r);
}

TEST(quadrature_gives_the_direction)
{
    check_quadrature("enc-q1", 5.0);            /* everything in one read */
    check_quadrature("enc-q2", 0.02);           /* read at the control rate */
    check_quadrature("enc-q3", 0.0371);         /* reads falling between A and B edges */
}

TEST(quadrature_starts_from_b_level_at_open)
{
    struct rig r;
    double t[4];

    r.f = gpio_fake_open("enc-qb", 8);
    gpio_fake_advance(r.f, T0);
    gpio_fake_set_level(r.f, LINE_B, 1);        /* B already high: A's edge is reverse */
    struct encoder_gpio_params p = {.gpio = &gpio_fake, .chip = "enc-qb", .line = LINE_A,
                                    .line_b = LINE_B, .t0 = T0};
    r.e = encoder_gpio_open(&p, r.err, sizeof r.err);
    REQUIRE(r.e != NULL);
    gpio_fake_edge_at(r.f, LINE_A, T0 + 1, true);
    gpio_fake_advance(r.f, T0 + 2);
    CHECK_INT(encoder_gpio_read(r.e, t, 4), 1);
    CHECK_INT(status(&r).direction, -1);
    rig_close(&r);
}

TEST(drops_are_counted_where_the_backend_tells_and_where_the_queue_fills)
{
    struct rig r;
    double t[16];

    REQUIRE(rig_open(&r, "enc-drop", -1, 4));   /* a kernel queue of 4 */
    gpio_fake_set_queue_depth(r.f, LINE_A, 4, true);
    gpio_fake_pulses(r.f, LINE_A, T0 + 1, 0.01, 0.005, 10);
    gpio_fake_advance(r.f, T0 + 2);
    CHECK_INT(encoder_gpio_read(r.e, t, 16), 4);
    struct encoder_gpio_status st = status(&r);
    CHECK_INT(st.dropped, 6);
    CHECK_INT(st.overflows, 1);
    gpio_fake_pulses(r.f, LINE_A, T0 + 3, 0.5, 0.1, 2);
    gpio_fake_advance(r.f, T0 + 4);
    CHECK_INT(encoder_gpio_read(r.e, t, 16), 2);
    st = status(&r);
    CHECK_INT(st.dropped, 6);                   /* nothing new */
    CHECK_INT(st.overflows, 1);
    rig_close(&r);
}

TEST(a_backend_that_cannot_tell_still_shows_a_full_queue)
{
    struct rig r;
    double t[16];

    REQUIRE(rig_open(&r, "enc-v1", -1, 4));
    gpio_fake_set_queue_depth(r.f, LINE_A, 4, false);   /* like libgpiod v1 */
    gpio_fake_pulses(r.f, LINE_A, T0 + 1, 0.01, 0.005, 10);
    gpio_fake_advance(r.f, T0 + 2);
    CHECK_INT(encoder_gpio_read(r.e, t, 16), 4);
    CHECK_INT(status(&r).dropped, 0);
    CHECK_INT(status(&r).overflows, 1);
    rig_close(&r);
}

TEST(our_own_buffer_keeps_the_newest)
{
    struct rig r;
    static double t[ENCODER_GPIO_BUF];

    REQUIRE(rig_open(&r, "enc-buf", -1, 0));
    gpio_fake_pulses(r.f, LINE_A, T0 + 1, 0.001, 0.0005, ENCODER_GPIO_BUF + 10);
    gpio_fake_advance(r.f, T0 + 10);
    CHECK_INT(encoder_gpio_read(r.e, t, ENCODER_GPIO_BUF), ENCODER_GPIO_BUF);
    CHECK_NEAR(t[0], 1 + 10 * 0.001, 1e-9);
    CHECK_INT(status(&r).lost, 10);
    rig_close(&r);
}

TEST(a_silent_sensor_shows_in_the_status)
{
    struct rig r;
    double t[16];

    REQUIRE(rig_open(&r, "enc-silent", -1, 0));
    CHECK_NEAR(status(&r).t_last, -1, 0);
    gpio_fake_pulses(r.f, LINE_A, T0 + 1, 0.5, 0.1, 3);
    for (double now = 0; now < 10; now += TICK) {
        gpio_fake_advance(r.f, T0 + now);
        encoder_gpio_read(r.e, t, 16);
    }
    struct encoder_gpio_status st = status(&r);
    CHECK_INT(st.pulses, 3);
    CHECK_NEAR(st.t_last, 2.0, 1e-9);           /* 8 s ago: speed_silent's business */
    rig_close(&r);
}

TEST(read_errors_are_counted_and_buffered_pulses_still_returned)
{
    struct rig r;
    double t[16];

    REQUIRE(rig_open(&r, "enc-err", -1, 0));
    gpio_fake_pulses(r.f, LINE_A, T0 + 1, 0.5, 0.1, 2);
    gpio_fake_advance(r.f, T0 + 2);
    CHECK_INT(encoder_gpio_read(r.e, t, 1), 1);
    gpio_fake_fail(r.f, LINE_A, true);
    CHECK_INT(encoder_gpio_read(r.e, t, 16), 1);
    CHECK_INT(status(&r).read_errors, 1);
    rig_close(&r);
}

TEST(open_names_what_failed)
{
    struct rig r;
    struct encoder_gpio_params p = {.gpio = &gpio_fake, .chip = "enc-none", .line = 1,
                                    .line_b = -1};

    CHECK(encoder_gpio_open(&p, r.err, sizeof r.err) == NULL);
    CHECK_STR_CONTAINS(r.err, "enc-none");
    r.f = gpio_fake_open("enc-busy", 8);
    struct gpio_chip *c = gpio_fake.chip_open(&gpio_fake, "enc-busy");
    struct gpio_line *held = gpio_fake.request_input(c, 4, GPIO_BIAS_AS_IS, GPIO_EDGE_NONE, "x");
    p = (struct encoder_gpio_params){.gpio = &gpio_fake, .chip = "enc-busy", .line = 1,
                                     .line_b = 4};
    errno = 0;
    CHECK(encoder_gpio_open(&p, r.err, sizeof r.err) == NULL && errno == EBUSY);
    CHECK_STR_CONTAINS(r.err, "line 4 (B)");
    CHECK(!gpio_fake_requested(r.f, 1));        /* A was given back */
    gpio_fake.release(held);
    gpio_fake.chip_close(c);
    gpio_fake_close(r.f);
}

TESTS(T(pulses_come_out_on_the_hal_clock_with_the_edge_times),
      T(speed_from_scripted_edges_is_within_1_percent), T(quadrature_gives_the_direction),
      T(quadrature_starts_from_b_level_at_open),
      T(drops_are_counted_where_the_backend_tells_and_where_the_queue_fills),
      T(a_backend_that_cannot_tell_still_shows_a_full_queue), T(our_own_buffer_keeps_the_newest),
      T(a_silent_sensor_shows_in_the_status),
      T(read_errors_are_counted_and_buffered_pulses_still_returned), T(open_names_what_failed));
TEST_MAIN("test_encoder_gpio")
