/* test_inputs_gpio.c - e-stop, safety key, buttons and the drive-enable dead-man on the fake
 * GPIO backend, timed on the fake clock. */
#include "hal/inputs_gpio.h"

#include <errno.h>
#include <time.h>

#include "tests/gpio_fake.h"
#include "tests/test.h"

enum { L_ESTOP, L_KEY, L_START, L_STOP, L_NEXT, L_ENABLE, N_LINES };

#define DEBOUNCE 0.02                /* s */
#define PERIOD 0.02                  /* s, the control period */

struct rig {
    struct gpio_fake *f;
    struct inputs_gpio *in;
    char err[256];
};

static struct inputs_gpio_params params(const char *chip)
{
    return (struct inputs_gpio_params){
        .gpio = &gpio_fake, .chip = chip, .estop_line = L_ESTOP, .key_line = L_KEY,
        .start_line = L_START, .stop_line = L_STOP, .next_line = L_NEXT,
        .enable_line = L_ENABLE, .active_low = true, .estop_ok_level = 0,
        .bias = GPIO_BIAS_PULL_UP, .debounce_s = DEBOUNCE, .enable_active_high = true,
        .period_s = PERIOD,
        .watchdog_poll_s = 3600,     /* tests call the check themselves unless they say */
    };
}

/* The rig at rest: e-stop and key closed (0), buttons released (1, active low). */
static bool rig_open_with(struct rig *r, const char *chip, const struct inputs_gpio_params *p)
{
    r->f = gpio_fake_open(chip, N_LINES);
    for (int l = L_START; l <= L_NEXT; l++)
        gpio_fake_set_level(r->f, (unsigned)l, 1);
    r->in = inputs_gpio_open(p, gpio_fake_now, r->f, r->err, sizeof r->err);
    if (!r->in) {                               /* say why and leave nothing behind */
        printf("  inputs_gpio_open: %s\n", r->err);
        gpio_fake_close(r->f);
    }
    return r->in != NULL;
}

static bool rig_open(struct rig *r, const char *chip)
{
    struct inputs_gpio_params p = params(chip);
    return rig_open_with(r, chip, &p);
}

static void rig_close(struct rig *r)
{
    inputs_gpio_close(r->in);
    gpio_fake_close(r->f);
}

/* Advance the fake clock to t and read the inputs. */
static struct hal_input_state read_at(struct rig *r, double t)
{
    struct hal_input_state st;

    gpio_fake_advance(r->f, t);
    CHECK_INT(inputs_gpio_read(r->in, &st), 0);
    return st;
}

static struct inputs_gpio_status status(struct rig *r)
{
    struct inputs_gpio_status st;
    inputs_gpio_status(r->in, &st);
    return st;
}

/* ---- safety inputs ----------------------------------------------------------------- */

TEST(safety_lines_count_as_stopped_until_ok_for_the_debounce)
{
    struct rig r;

    REQUIRE(rig_open(&r, "in-start"));
    CHECK(gpio_fake_bias(r.f, L_ESTOP) == GPIO_BIAS_PULL_UP);
    CHECK(read_at(&r, 0.01).estop);
    CHECK(!read_at(&r, DEBOUNCE + 1e-6).estop);
    rig_close(&r);
}

TEST(a_stop_is_reported_at_once_and_its_release_debounced)
{
    struct rig r;

    REQUIRE(rig_open(&r, "in-estop"));
    CHECK(!read_at(&r, 1.0).estop);
    gpio_fake_set_level(r.f, L_ESTOP, 1);      /* pressed: the contact opens */
    CHECK(read_at(&r, 1.0).estop);              /* the same tick */
    CHECK(status(&r).estop_stopped);
    CHECK(!status(&r).key_stopped);
    gpio_fake_set_level(r.f, L_ESTOP, 0);      /* released, bouncing */
    CHECK(read_at(&r, 1.10).estop);
    gpio_fake_set_level(r.f, L_ESTOP, 1);
    CHECK(read_at(&r, 1.11).estop);
    gpio_fake_set_level(r.f, L_ESTOP, 0);
    CHECK(read_at(&r, 1.12).estop);
    CHECK(read_at(&r, 1.12 + DEBOUNCE - 1e-6).estop);
    CHECK(!read_at(&r, 1.12 + DEBOUNCE + 1e-6).estop);
    rig_close(&r);
}

TEST(a_glitch_shorter_than_a_tick_still_stops_if_seen)
{
    struct rig r;

    REQUIRE(rig_open(&r, "in-glitch"));
    read_at(&r, 1.0);
    gpio_fake_set_level(r.f, L_KEY, 1);        /* the key pulled out */
    struct hal_input_state st = read_at(&r, 1.0);
    gpio_fake_set_level(r.f, L_KEY, 0);
    CHECK(st.estop);
    CHECK(status(&r).key_stopped);
    CHECK(read_at(&r, 1.01).estop);            /* no ok debounce yet */
    rig_close(&r);
}

TEST(a_broken_wire_reads_stopped)
{
    struct rig r;

    REQUIRE(rig_open(&r, "in-wire"));
    CHECK(!read_at(&r, 1.0).estop);
    gpio_fake_float(r.f, L_ESTOP);              /* cut: the pull-up takes it high */
    CHECK_INT(gpio_fake_output(r.f, L_ESTOP), 1);
    CHECK(read_at(&r, 1.0).estop);
    CHECK(read_at(&r, 5.0).estop);              /* and stays stopped */
    rig_close(&r);
}

TEST(a_line_that_cannot_be_read_is_a_stop)
{
    struct rig r;

    REQUIRE(rig_open(&r, "in-err"));
    CHECK(!read_at(&r, 1.0).estop);
    gpio_fake_fail(r.f, L_KEY, true);
    CHECK(read_at(&r, 1.02).estop);
    CHECK_INT(status(&r).read_errors, 1);
    rig_close(&r);
}

TEST(ok_level_1_is_honoured)
{
    struct rig r;
    struct inputs_gpio_params p = params("in-ok1");

    p.estop_ok_level = 1;
    p.key_line = -1;
    p.bias = GPIO_BIAS_PULL_DOWN;
    r.f = gpio_fake_open("in-ok1", N_LINES);
    gpio_fake_set_level(r.f, L_ESTOP, 1);
    r.in = inputs_gpio_open(&p, gpio_fake_now, r.f, r.err, sizeof r.err);
    REQUIRE(r.in != NULL);
    CHECK(!read_at(&r, 1.0).estop);
    gpio_fake_float(r.f, L_ESTOP);              /* pull-down: a cut wire reads 0 */
    CHECK(read_at(&r, 1.0).estop);
    rig_close(&r);
}

/* ---- buttons ----------------------------------------------------------------------- */

/* Read every 2 ms from t0 to t1; the presses seen (OR) and how many reads had one. */
static int presses_between(struct rig *r, double t0, double t1, unsigned *bits)
{
    int n = 0;

    *bits = 0;
    for (double t = t0; t < t1; t += 0.002) {
        struct hal_input_state st = read_at(r, t);
        *bits |= st.pressed;
        n += st.pressed != 0;
    }
    return n;
}

TEST(a_bouncing_press_is_reported_once)
{
    struct rig r;
    unsigned bits;

    REQUIRE(rig_open(&r, "in-btn"));
    read_at(&r, 0.999);
    gpio_fake_edge_at(r.f, L_START, 1.000, false);   /* pressed (active low), bouncing */
    gpio_fake_edge_at(r.f, L_START, 1.003, true);
    gpio_fake_edge_at(r.f, L_START, 1.005, false);
    CHECK_INT(presses_between(&r, 1.0, 1.024, &bits), 0);   /* not yet held 20 ms */
    CHECK_INT(presses_between(&r, 1.024, 3.0, &bits), 1);   /* once, however long held */
    CHECK(bits == HAL_BTN_START);
    gpio_fake_edge_at(r.f, L_START, 3.0, true);      /* released, bouncing */
    gpio_fake_edge_at(r.f, L_START, 3.004, false);
    gpio_fake_edge_at(r.f, L_START, 3.006, true);
    CHECK_INT(presses_between(&r, 3.0, 4.0, &bits), 0);
    gpio_fake_edge_at(r.f, L_START, 4.0, false);     /* a second press */
    CHECK_INT(presses_between(&r, 4.0, 5.0, &bits), 1);
    CHECK_INT(status(&r).presses[0], 2);
    rig_close(&r);
}

TEST(a_blip_shorter_than_the_debounce_is_not_a_press)
{
    struct rig r;
    unsigned bits;

    REQUIRE(rig_open(&r, "in-blip"));
    gpio_fake_edge_at(r.f, L_STOP, 1.0, false);
    gpio_fake_edge_at(r.f, L_STOP, 1.015, true);
    CHECK_INT(presses_between(&r, 0.99, 2.0, &bits), 0);
    rig_close(&r);
}

TEST(each_button_has_its_bit)
{
    struct rig r;
    unsigned bits;

    REQUIRE(rig_open(&r, "in-bits"));
    gpio_fake_edge_at(r.f, L_STOP, 1.0, false);
    gpio_fake_edge_at(r.f, L_NEXT, 1.0, false);
    CHECK_INT(presses_between(&r, 0.99, 2.0, &bits), 1);   /* both in the same read */
    CHECK(bits == (HAL_BTN_STOP | HAL_BTN_NEXT));
    rig_close(&r);
}

TEST(a_button_held_at_start_is_not_a_press)
{
    struct rig r;
    struct inputs_gpio_params p = params("in-held");
    unsigned bits;

    r.f = gpio_fake_open("in-held", N_LINES);
    gpio_fake_set_level(r.f, L_STOP, 1);
    gpio_fake_set_level(r.f, L_NEXT, 1);        /* start stays 0: held down */
    r.in = inputs_gpio_open(&p, gpio_fake_now, r.f, r.err, sizeof r.err);
    REQUIRE(r.in != NULL);
    CHECK_INT(presses_between(&r, 0.0, 1.0, &bits), 0);
    rig_close(&r);
}

/* ---- drive enable and the dead-man ------------------------------------------------- */

TEST(enable_follows_healthy)
{
    struct rig r;

    REQUIRE(rig_open(&r, "in-en"));
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 0);   /* off until the first healthy tick */
    CHECK_INT(inputs_gpio_enable(r.in, true), 0);
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 1);
    CHECK(status(&r).enabled);
    CHECK_INT(inputs_gpio_enable(r.in, false), 0);
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 0);
    rig_close(&r);
}

TEST(enable_active_low_is_inverted)
{
    struct rig r;
    struct inputs_gpio_params p = params("in-enlo");

    p.enable_active_high = false;
    REQUIRE(rig_open_with(&r, "in-enlo", &p));
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 1);
    inputs_gpio_enable(r.in, true);
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 0);
    inputs_gpio_close(r.in);
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 1);   /* closed: dropped (high = off) */
    gpio_fake_close(r.f);
}

TEST(the_dead_man_drops_enable_when_calls_stop_and_latches)
{
    struct rig r;

    REQUIRE(rig_open(&r, "in-dead"));
    gpio_fake_advance(r.f, 1.0);
    inputs_gpio_enable(r.in, true);
    gpio_fake_advance(r.f, 1.0 + 2.5 * PERIOD);
    CHECK_INT(inputs_gpio_watchdog_check(r.in), 0);  /* 2.5 periods: still on */
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 1);
    gpio_fake_advance(r.f, 1.0 + 3 * PERIOD + 1e-6);
    CHECK_INT(inputs_gpio_watchdog_check(r.in), 1);
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 0);
    struct inputs_gpio_status st = status(&r);
    CHECK(st.deadman_tripped && !st.enabled);
    CHECK_INT(st.deadman_trips, 1);
    inputs_gpio_enable(r.in, true);              /* the loop is back: no restart */
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 0);
    inputs_gpio_enable_rearm(r.in);              /* the operator's reset */
    inputs_gpio_enable(r.in, true);
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 1);
    CHECK(!status(&r).deadman_tripped);
    rig_close(&r);
}

TEST(regular_calls_keep_the_dead_man_quiet)
{
    struct rig r;

    REQUIRE(rig_open(&r, "in-alive"));
    for (int k = 0; k < 500; k++) {
        gpio_fake_advance(r.f, k * PERIOD);
        inputs_gpio_enable(r.in, true);
        CHECK_INT(inputs_gpio_watchdog_check(r.in), 0);
    }
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 1);
    rig_close(&r);
}

TEST(the_watchdog_thread_drops_it_on_its_own)
{
    struct rig r;
    struct inputs_gpio_params p = params("in-thread");
    struct timespec pause = {0, 1000000};

    p.watchdog_poll_s = 0.001;
    REQUIRE(rig_open_with(&r, "in-thread", &p));
    inputs_gpio_enable(r.in, true);
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 1);
    gpio_fake_advance(r.f, 10.0);                /* the loop hangs: no more calls */
    for (int i = 0; i < 5000 && gpio_fake_output(r.f, L_ENABLE) != 0; i++)
        nanosleep(&pause, NULL);                 /* bounded: at most about 5 s */
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 0);
    CHECK_INT(status(&r).deadman_trips, 1);
    rig_close(&r);
}

TEST(close_drops_enable_and_releases_every_line)
{
    struct rig r;
    struct gpio_fake_change log[8];

    REQUIRE(rig_open(&r, "in-close"));
    inputs_gpio_enable(r.in, true);
    inputs_gpio_close(r.in);
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 0);
    CHECK_INT(gpio_fake_output_log(r.f, L_ENABLE, log, 8), 2);
    CHECK(log[0].value == 1 && log[1].value == 0);
    for (unsigned l = 0; l < N_LINES; l++)
        CHECK(!gpio_fake_requested(r.f, l));
    gpio_fake_close(r.f);
}

/* ---- wiring ------------------------------------------------------------------------ */

TEST(unwired_lines_are_left_alone)
{
    struct rig r;
    struct inputs_gpio_params p = params("in-none");
    struct hal_input_state st;

    p.estop_line = p.key_line = p.start_line = p.stop_line = p.next_line = -1;
    p.enable_line = -1;
    REQUIRE(rig_open_with(&r, "in-none", &p));
    st = read_at(&r, 1.0);
    CHECK(!st.estop && st.pressed == 0);
    CHECK_INT(inputs_gpio_enable(r.in, true), 0);
    for (unsigned l = 0; l < N_LINES; l++)
        CHECK(!gpio_fake_requested(r.f, l));
    rig_close(&r);
}

TEST(open_names_the_line_that_failed)
{
    struct rig r;
    struct inputs_gpio_params p = params("in-busy");

    r.f = gpio_fake_open("in-busy", N_LINES);
    struct gpio_chip *c = gpio_fake.chip_open(&gpio_fake, "in-busy");
    struct gpio_line *held = gpio_fake.request_output(c, L_STOP, 0, "other");
    errno = 0;
    CHECK(inputs_gpio_open(&p, gpio_fake_now, r.f, r.err, sizeof r.err) == NULL);
    CHECK_INT(errno, EBUSY);
    CHECK_STR_CONTAINS(r.err, "line 3 (stop)");
    CHECK(!gpio_fake_requested(r.f, L_ESTOP));   /* the others were given back */
    gpio_fake.release(held);
    gpio_fake.chip_close(c);
    gpio_fake_close(r.f);
}

/* ---- the charge pump ------------------------------------------------------------------ */

#define PUMP_HZ 12.5                 /* half period 0.04 s: an edge every second tick */

static bool pump_open(struct rig *r, const char *chip)
{
    struct inputs_gpio_params p = params(chip);

    p.pump_hz = PUMP_HZ;
    return rig_open_with(r, chip, &p);
}

/* Ticks from t0 (s) for n periods, each calling enable(healthy). */
static void pump_ticks(struct rig *r, double t0, int n, bool healthy)
{
    for (int i = 0; i < n; i++) {
        gpio_fake_advance(r->f, t0 + i * PERIOD);
        inputs_gpio_enable(r->in, healthy);
    }
}

/* Healthy ticks make a square wave of pump_hz: an edge every half period, on the ticks. */
TEST(the_charge_pump_toggles_on_ticks_while_healthy)
{
    struct gpio_fake_change log[128];
    struct rig r;
    int n;

    REQUIRE(pump_open(&r, "in-pump"));
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 0);        /* at rest until the first tick */
    pump_ticks(&r, 1.0, 50, true);                          /* 1 s of ticks */
    n = gpio_fake_output_log(r.f, L_ENABLE, log, 128);
    CHECK_INT(n, 25);                                       /* 12.5 Hz: 25 edges a second */
    for (int i = 1; i < n; i++) {
        CHECK_NEAR(log[i].t - log[i - 1].t, 0.5 / PUMP_HZ, 1e-9);
        CHECK(log[i].value != log[i - 1].value);
    }
    CHECK(status(&r).enabled);
    CHECK_INT(status(&r).pump_edges, 25);
    rig_close(&r);
}

/* Unhealthy: the line rests at its inactive level and makes no edge; healthy again, it pumps
 * again from that tick. */
TEST(an_unhealthy_tick_stops_the_pump_at_rest)
{
    struct gpio_fake_change log[128];
    struct rig r;
    int n;

    REQUIRE(pump_open(&r, "in-pump2"));
    pump_ticks(&r, 1.0, 5, true);                           /* edges at 1.00 1.04 1.08: high */
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 1);
    pump_ticks(&r, 1.1, 25, false);                         /* 0.5 s unhealthy */
    n = gpio_fake_output_log(r.f, L_ENABLE, log, 128);
    CHECK_INT(n, 4);                                        /* 3 edges, then down once */
    CHECK_INT(log[n - 1].value, 0);
    CHECK_NEAR(log[n - 1].t, 1.1, 1e-9);
    CHECK(!status(&r).enabled);
    pump_ticks(&r, 2.0, 3, true);                           /* pumps again at once */
    CHECK_INT(gpio_fake_output_log(r.f, L_ENABLE, log, 128), 6);
    rig_close(&r);
}

/* Ticks that stop (the loop hangs) make no edge: the wave stops with the last tick, and the
 * dead-man watchdog then rests the line at its inactive level, latched until re-armed. */
TEST(no_tick_no_edge_and_the_dead_man_rests_the_line)
{
    struct gpio_fake_change log[128];
    struct rig r;
    int n, after = 0;

    REQUIRE(pump_open(&r, "in-pump3"));
    pump_ticks(&r, 1.0, 10, true);                          /* the last tick at 1.18 */
    gpio_fake_advance(r.f, 1.18 + 2.5 * PERIOD);            /* before the dead-man's 3 periods */
    CHECK_INT(inputs_gpio_watchdog_check(r.in), 0);
    gpio_fake_advance(r.f, 1.18 + 3.5 * PERIOD);
    CHECK_INT(inputs_gpio_watchdog_check(r.in), 1);         /* tripped */
    gpio_fake_advance(r.f, 3.0);
    n = gpio_fake_output_log(r.f, L_ENABLE, log, 128);
    for (int i = 0; i < n; i++)
        after += log[i].t > 1.18 + 1e-9 && log[i].value != 0;
    CHECK_INT(after, 0);                                    /* no rising edge after the last tick */
    CHECK_INT(gpio_fake_output(r.f, L_ENABLE), 0);
    pump_ticks(&r, 3.0, 10, true);                          /* ticks again: still latched */
    CHECK_INT(gpio_fake_output_log(r.f, L_ENABLE, log, 128), n);
    inputs_gpio_enable_rearm(r.in);
    pump_ticks(&r, 3.2, 3, true);
    CHECK(gpio_fake_output_log(r.f, L_ENABLE, log, 128) > n);
    rig_close(&r);
}

/* A pump faster than one edge a tick cannot be made: refused at open. */
TEST(a_pump_faster_than_the_ticks_is_refused)
{
    struct inputs_gpio_params p = params("in-pump4");
    struct gpio_fake *f = gpio_fake_open("in-pump4", N_LINES);
    char err[256];

    p.pump_hz = 0.5 / PERIOD + 1.0;
    CHECK(inputs_gpio_open(&p, gpio_fake_now, f, err, sizeof err) == NULL);
    gpio_fake_close(f);
}

TESTS(T(safety_lines_count_as_stopped_until_ok_for_the_debounce),
      T(a_stop_is_reported_at_once_and_its_release_debounced),
      T(a_glitch_shorter_than_a_tick_still_stops_if_seen), T(a_broken_wire_reads_stopped),
      T(a_line_that_cannot_be_read_is_a_stop), T(ok_level_1_is_honoured),
      T(a_bouncing_press_is_reported_once), T(a_blip_shorter_than_the_debounce_is_not_a_press),
      T(each_button_has_its_bit), T(a_button_held_at_start_is_not_a_press),
      T(enable_follows_healthy), T(enable_active_low_is_inverted),
      T(the_dead_man_drops_enable_when_calls_stop_and_latches),
      T(regular_calls_keep_the_dead_man_quiet), T(the_watchdog_thread_drops_it_on_its_own),
      T(close_drops_enable_and_releases_every_line), T(unwired_lines_are_left_alone),
      T(open_names_the_line_that_failed), T(the_charge_pump_toggles_on_ticks_while_healthy),
      T(an_unhealthy_tick_stops_the_pump_at_rest),
      T(no_tick_no_edge_and_the_dead_man_rests_the_line),
      T(a_pump_faster_than_the_ticks_is_refused));
TEST_MAIN("test_inputs_gpio")
