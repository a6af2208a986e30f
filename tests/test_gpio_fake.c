/* test_gpio_fake.c - the scripted GPIO backend the other GPIO tests stand on. */
#include "tests/gpio_fake.h"

#include <errno.h>

#include "tests/test.h"

static const struct gpio_backend *const B = &gpio_fake;

TEST(chips_open_by_name)
{
    struct gpio_fake *f = gpio_fake_open("fk-open", 4);
    struct gpio_chip *a = B->chip_open(B, "fk-open"), *b = B->chip_open(B, "/dev/fk-open");

    CHECK(f && a && b);
    errno = 0;
    CHECK(B->chip_open(B, "fk-none") == NULL && errno == ENOENT);
    errno = 0;
    CHECK(gpio_fake_open("fk-open", 2) == NULL && errno == EEXIST);
    B->chip_close(a);
    B->chip_close(b);
    gpio_fake_close(f);
    f = gpio_fake_open("fk-open", 2);      /* the name is free again */
    CHECK(f != NULL);
    gpio_fake_close(f);
}

TEST(a_line_is_requested_once)
{
    struct gpio_fake *f = gpio_fake_open("fk-req", 4);
    struct gpio_chip *c = B->chip_open(B, "fk-req");
    struct gpio_line *l = B->request_input(c, 1, GPIO_BIAS_PULL_UP, GPIO_EDGE_NONE, "t");

    CHECK(l && gpio_fake_requested(f, 1));
    CHECK(gpio_fake_bias(f, 1) == GPIO_BIAS_PULL_UP);
    errno = 0;
    CHECK(B->request_output(c, 1, 0, "t") == NULL && errno == EBUSY);
    errno = 0;
    CHECK(B->request_input(c, 4, GPIO_BIAS_AS_IS, GPIO_EDGE_NONE, "t") == NULL &&
          errno == EINVAL);
    B->release(l);
    CHECK(!gpio_fake_requested(f, 1));
    l = B->request_output(c, 1, 1, "t");
    CHECK(l != NULL);
    B->release(l);
    B->chip_close(c);
    gpio_fake_close(f);
}

TEST(scheduled_edges_arrive_as_the_clock_passes_them)
{
    struct gpio_fake *f = gpio_fake_open("fk-edge", 2);
    struct gpio_chip *c = B->chip_open(B, "fk-edge");
    struct gpio_line *l = B->request_input(c, 0, GPIO_BIAS_AS_IS, GPIO_EDGE_BOTH, "t");
    struct gpio_event ev[4];

    gpio_fake_edge_at(f, 0, 1.5, false);     /* scheduled out of order */
    gpio_fake_edge_at(f, 0, 1.0, true);
    CHECK_INT(B->read_events(l, ev, 4), 0);
    gpio_fake_advance(f, 1.2);
    CHECK_INT(B->read_events(l, ev, 4), 1);
    CHECK(ev[0].rising);
    CHECK_NEAR(ev[0].t, 1.0, 0);             /* the edge's time, not the reading's */
    CHECK_INT(B->get(l), 1);
    gpio_fake_advance(f, 3.0);
    CHECK_INT(B->read_events(l, ev, 4), 1);
    CHECK(!ev[0].rising);
    CHECK_NEAR(ev[0].t, 1.5, 0);
    CHECK_INT(B->get(l), 0);
    CHECK_NEAR(gpio_fake_now(f), 3.0, 0);
    B->release(l);
    B->chip_close(c);
    gpio_fake_close(f);
}

TEST(past_edges_arrive_at_once_and_in_order)
{
    struct gpio_fake *f = gpio_fake_open("fk-past", 2);
    struct gpio_chip *c = B->chip_open(B, "fk-past");
    struct gpio_line *l = B->request_input(c, 0, GPIO_BIAS_AS_IS, GPIO_EDGE_RISING, "t");
    struct gpio_event ev[8];

    gpio_fake_advance(f, 10.0);
    gpio_fake_pulses(f, 0, 1.0, 0.5, 0.1, 3);   /* all in the past */
    CHECK_INT(B->read_events(l, ev, 8), 3);     /* rising only, as requested */
    CHECK_NEAR(ev[0].t, 1.0, 1e-12);
    CHECK_NEAR(ev[1].t, 1.5, 1e-12);
    CHECK_NEAR(ev[2].t, 2.0, 1e-12);
    B->release(l);
    B->chip_close(c);
    gpio_fake_close(f);
}

TEST(overflow_drops_the_newest_and_counts_them)
{
    struct gpio_fake *f = gpio_fake_open("fk-ovf", 2);
    struct gpio_chip *c = B->chip_open(B, "fk-ovf");
    struct gpio_line *a = B->request_input(c, 0, GPIO_BIAS_AS_IS, GPIO_EDGE_RISING, "t");
    struct gpio_line *b = B->request_input(c, 1, GPIO_BIAS_AS_IS, GPIO_EDGE_RISING, "t");
    struct gpio_event ev[16];

    gpio_fake_set_queue_depth(f, 0, 4, true);
    gpio_fake_set_queue_depth(f, 1, 4, false);  /* like libgpiod v1: cannot tell */
    gpio_fake_pulses(f, 0, 1.0, 0.1, 0.05, 10);
    gpio_fake_pulses(f, 1, 1.0, 0.1, 0.05, 10);
    gpio_fake_advance(f, 5.0);
    CHECK_INT(B->read_events(a, ev, 16), 4);
    CHECK_NEAR(ev[3].t, 1.3, 1e-9);             /* the first four were kept */
    CHECK_INT(B->dropped(a), 6);
    CHECK_INT(B->read_events(b, ev, 16), 4);
    CHECK_INT(B->dropped(b), 0);
    B->release(a);
    B->release(b);
    B->chip_close(c);
    gpio_fake_close(f);
}

TEST(levels_outputs_and_the_output_log)
{
    struct gpio_fake *f = gpio_fake_open("fk-out", 4);
    struct gpio_chip *c = B->chip_open(B, "fk-out");
    struct gpio_line *in = B->request_input(c, 0, GPIO_BIAS_AS_IS, GPIO_EDGE_FALLING, "t");
    struct gpio_line *out = B->request_output(c, 2, 0, "t");
    struct gpio_event ev[4];
    struct gpio_fake_change log[8];

    gpio_fake_set_level(f, 0, 1);
    gpio_fake_advance(f, 0.5);
    gpio_fake_set_level(f, 0, 0);
    gpio_fake_set_level(f, 0, 0);               /* no change, no edge */
    CHECK_INT(B->read_events(in, ev, 4), 1);
    CHECK_NEAR(ev[0].t, 0.5, 0);
    CHECK_INT(B->set(out, 1), 0);
    gpio_fake_advance(f, 0.75);
    B->set(out, 1);
    B->set(out, 0);
    CHECK_INT(gpio_fake_output(f, 2), 0);
    CHECK_INT(gpio_fake_output_log(f, 2, log, 8), 2);
    CHECK(log[0].value == 1 && log[0].t == 0.5);
    CHECK(log[1].value == 0 && log[1].t == 0.75);
    CHECK_INT(B->set(in, 1), -1);               /* not an output */
    errno = 0;
    CHECK(B->read_events(out, ev, 4) == -1 && errno == EINVAL);   /* no edges asked for */
    B->release(in);
    B->release(out);
    B->chip_close(c);
    gpio_fake_close(f);
}

TEST(failures_can_be_injected)
{
    struct gpio_fake *f = gpio_fake_open("fk-fail", 2);
    struct gpio_chip *c = B->chip_open(B, "fk-fail");
    struct gpio_line *l = B->request_input(c, 0, GPIO_BIAS_AS_IS, GPIO_EDGE_BOTH, "t");
    struct gpio_event ev[2];

    gpio_fake_fail(f, 0, true);
    errno = 0;
    CHECK(B->get(l) == -1 && errno == EIO);
    CHECK_INT(B->read_events(l, ev, 2), -1);
    gpio_fake_fail(f, 0, false);
    CHECK_INT(B->get(l), 0);
    B->release(l);
    B->chip_close(c);
    gpio_fake_close(f);
}

TEST(the_clock_can_step_on_each_reading)
{
    struct gpio_fake *f = gpio_fake_open("fk-clk", 1);

    CHECK_NEAR(gpio_fake_now(f), 0.0, 0);
    gpio_fake_set_clock_step(f, 1e-6);
    CHECK_NEAR(gpio_fake_now(f), 0.0, 0);
    CHECK_NEAR(gpio_fake_now(f), 1e-6, 1e-15);
    gpio_fake_advance(f, 0.5);
    gpio_fake_advance(f, 0.25);                 /* never backwards */
    CHECK_NEAR(gpio_fake_now(f), 0.5, 1e-15);
    gpio_fake_close(f);
}

/* ---- the HX711 model, clocked by hand ---------------------------------------------- */

struct rig {
    struct gpio_fake *f;
    struct gpio_chip *c;
    struct gpio_line *sck, *dout;
};

static void rig_open(struct rig *r, const char *name)
{
    r->f = gpio_fake_open(name, 4);
    gpio_fake_hx711_attach(r->f, 0, 1, 0.0125);
    r->c = B->chip_open(B, name);
    r->sck = B->request_output(r->c, 0, 0, "t");
    r->dout = B->request_input(r->c, 1, GPIO_BIAS_PULL_UP, GPIO_EDGE_NONE, "t");
}

static void rig_close(struct rig *r)
{
    B->release(r->sck);
    B->release(r->dout);
    B->chip_close(r->c);
    gpio_fake_close(r->f);
}

/* pulses PD_SCK pulses; the first 24 bits read back. */
static uint32_t clock_out(struct rig *r, int pulses)
{
    uint32_t w = 0;

    for (int i = 0; i < pulses; i++) {
        B->set(r->sck, 1);
        B->set(r->sck, 0);
        if (i < 24)
            w = w << 1 | (uint32_t)B->get(r->dout);
    }
    return w;
}

TEST(hx711_model_answers_like_the_chip)
{
    struct rig r;
    struct gpio_fake_hx711_stats st;
    const int32_t v[] = {0x123456, -1000, 4000};

    rig_open(&r, "fk-hx");
    gpio_fake_hx711_push(r.f, v, 3);
    CHECK_INT(B->get(r.dout), 1);               /* converting */
    gpio_fake_advance(r.f, 0.0125);
    CHECK_INT(B->get(r.dout), 0);               /* ready */
    CHECK(clock_out(&r, 27) == 0x123456u);      /* 27 pulses: gain 64 next */
    CHECK_INT(B->get(r.dout), 1);
    gpio_fake_hx711_stats(r.f, &st);
    CHECK_INT(st.next_gain, 64);
    gpio_fake_advance(r.f, 0.025);
    CHECK_INT(B->get(r.dout), 0);
    CHECK(clock_out(&r, 26) == (uint32_t)(-500 & 0xFFFFFF));   /* -1000 x 64 / 128 */
    gpio_fake_advance(r.f, 0.038);
    CHECK(clock_out(&r, 25) == 1000u);          /* 4000 x 32 / 128 */
    gpio_fake_hx711_stats(r.f, &st);
    CHECK_INT(st.reads, 3);
    CHECK_INT(st.last_gain, 32);
    CHECK_INT(st.next_gain, 128);
    rig_close(&r);
}

TEST(hx711_model_long_pulse_powers_down)
{
    struct rig r;
    struct gpio_fake_hx711_stats st;
    const int32_t v[] = {100, 200, 300};

    rig_open(&r, "fk-hxpd");
    gpio_fake_hx711_push(r.f, v, 3);
    gpio_fake_advance(r.f, 0.0125);
    CHECK(clock_out(&r, 27) == 100u);
    gpio_fake_advance(r.f, 0.025);
    gpio_fake_hx711_stretch(r.f, 5, 80e-6);
    clock_out(&r, 5);                           /* the 5th pulse lasts 80 us */
    gpio_fake_hx711_stats(r.f, &st);
    CHECK_INT(st.lost, 1);
    CHECK_INT(st.power_downs, 1);
    CHECK_INT(st.next_gain, 128);               /* the chip reset itself */
    CHECK_INT(B->get(r.dout), 1);
    CHECK_NEAR(gpio_fake_now(r.f), 0.025 + 80e-6, 1e-12);
    gpio_fake_advance(r.f, 0.05);
    CHECK_INT(B->get(r.dout), 0);
    CHECK(clock_out(&r, 25) == 300u);           /* 200 was lost, 300 at gain 128 */
    rig_close(&r);
}

TEST(hx711_model_clamps_to_the_rails)
{
    struct rig r;
    const int32_t v[] = {0x7FFFFF, -0x800000, 0x7FFFFF};

    rig_open(&r, "fk-hxrail");
    gpio_fake_hx711_push(r.f, v, 3);
    gpio_fake_advance(r.f, 0.0125);
    CHECK(clock_out(&r, 25) == 0x7FFFFFu);
    gpio_fake_advance(r.f, 0.025);
    CHECK(clock_out(&r, 25) == 0x800000u);
    CHECK_INT(gpio_fake_hx711_pending(r.f), 1);
    rig_close(&r);
}

TESTS(T(chips_open_by_name), T(a_line_is_requested_once),
      T(scheduled_edges_arrive_as_the_clock_passes_them),
      T(past_edges_arrive_at_once_and_in_order), T(overflow_drops_the_newest_and_counts_them),
      T(levels_outputs_and_the_output_log), T(failures_can_be_injected),
      T(the_clock_can_step_on_each_reading), T(hx711_model_answers_like_the_chip),
      T(hx711_model_long_pulse_powers_down), T(hx711_model_clamps_to_the_rails));
TEST_MAIN("test_gpio_fake")
