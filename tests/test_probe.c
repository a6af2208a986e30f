/* test_probe.c - what eccd --probe prints for the GPIO parts, read from the parts
 * themselves on the fake GPIO backend: each input line's state at its chip and line, the
 * belt sensor's count; and the table's verdict line for a rig whose parts are set by hand.
 * (The Modbus parts are probed through the real binary against eccsim: t_probe.sh.) */
#include <string.h>

#include "hal/encoder_gpio.h"
#include "tests/gpio_fake.h"
#include "hal/hal_hw.h"
#include "hal/inputs_gpio.h"
#include "tests/test.h"

enum { L_ESTOP, L_KEY, L_START, L_STOP, L_NEXT, L_ENABLE, L_PULSE, N_LINES };

static const struct hal_probe_line *find(const struct hal_probe *p, const char *item)
{
    for (int i = 0; i < p->n; i++)
        if (strcmp(p->line[i].item, item) == 0)
            return &p->line[i];
    return NULL;
}

static struct ecc_config gpio_config(void)
{
    struct ecc_config cfg;

    config_defaults(&cfg);
    snprintf(cfg.inputs.chip, sizeof cfg.inputs.chip, "fakechip");
    cfg.inputs.estop_line = L_ESTOP;
    cfg.inputs.key_line = L_KEY;
    cfg.inputs.start_line = L_START;
    cfg.inputs.stop_line = -1;
    cfg.inputs.next_line = L_NEXT;
    cfg.inputs.enable_line = L_ENABLE;
    snprintf(cfg.encoder.chip, sizeof cfg.encoder.chip, "fakechip");
    cfg.encoder.line = L_PULSE;
    return cfg;
}

/* The e-stop pressed, the key in, one start press, the enable line never driven: each line
 * says so at its own chip and offset; an unwired button has no line. */
TEST(input_lines_are_shown_as_the_fake_reads_them)
{
    struct ecc_config cfg = gpio_config();
    struct gpio_fake *f = gpio_fake_open("fakechip", N_LINES);
    struct inputs_gpio_params ip = {
        .gpio = &gpio_fake, .chip = "fakechip", .estop_line = L_ESTOP, .key_line = L_KEY,
        .start_line = L_START, .stop_line = -1, .next_line = L_NEXT,
        .enable_line = L_ENABLE, .active_low = true, .estop_ok_level = 0,
        .bias = GPIO_BIAS_PULL_UP, .debounce_s = 0.02, .enable_active_high = true,
        .period_s = 0.02, .watchdog_poll_s = 3600};
    struct inputs_gpio *in;
    struct inputs_gpio_status st;
    struct hal_input_state hs;
    static struct hal_probe p;
    const struct hal_probe_line *l;
    char err[256];

    gpio_fake_set_level(f, L_START, 1);
    gpio_fake_set_level(f, L_NEXT, 1);
    gpio_fake_set_level(f, L_ESTOP, 1);          /* pressed: not the ok level */
    in = inputs_gpio_open(&ip, gpio_fake_now, f, err, sizeof err);
    REQUIRE_OR_GOTO(in != NULL, out);
    for (int i = 1; i <= 10; i++) {              /* 0.2 s, a start press in the middle */
        if (i == 3)
            gpio_fake_set_level(f, L_START, 0);
        if (i == 6)
            gpio_fake_set_level(f, L_START, 1);
        gpio_fake_advance(f, i * 0.02);
        inputs_gpio_read(in, &hs);
    }
    CHECK_INT(inputs_gpio_status(in, &st), 0);
    memset(&p, 0, sizeof p);
    hal_hw_probe_inputs(&st, &cfg, &p);
    l = find(&p, "e-stop");
    CHECK(l && strcmp(l->where, "fakechip line 0") == 0);
    CHECK(l && strstr(l->value, "PRESSED"));
    l = find(&p, "safety key");
    CHECK(l && strcmp(l->where, "fakechip line 1") == 0 && strcmp(l->value, "in") == 0);
    l = find(&p, "start button");
    CHECK(l && strcmp(l->where, "fakechip line 2") == 0 && strcmp(l->value, "1 presses") == 0);
    CHECK(find(&p, "stop button") == NULL);      /* not wired */
    l = find(&p, "next button");
    CHECK(l && strcmp(l->value, "0 presses") == 0);
    l = find(&p, "drive enable");
    CHECK(l && strcmp(l->where, "fakechip line 5") == 0 && strncmp(l->value, "off", 3) == 0);
    inputs_gpio_close(in);
out:
    gpio_fake_close(f);
}

TEST(belt_pulses_are_counted_at_their_line)
{
    struct ecc_config cfg = gpio_config();
    struct gpio_fake *f = gpio_fake_open("fakechip", N_LINES);
    struct encoder_gpio_params ep = {.gpio = &gpio_fake, .chip = "fakechip", .line = L_PULSE,
                                     .line_b = -1, .bias = GPIO_BIAS_PULL_UP, .t0 = 0.0};
    struct encoder_gpio *e;
    struct encoder_gpio_status st;
    static struct hal_probe p;
    const struct hal_probe_line *l;
    double t[16];
    char err[256];

    e = encoder_gpio_open(&ep, err, sizeof err);
    REQUIRE_OR_GOTO(e != NULL, out);
    CHECK_INT(gpio_fake_pulses(f, L_PULSE, 0.1, 0.05, 0.01, 3), 0);
    gpio_fake_advance(f, 1.0);
    CHECK_INT(encoder_gpio_read(e, t, 16), 3);
    CHECK_INT(encoder_gpio_status(e, &st), 0);
    memset(&p, 0, sizeof p);
    hal_hw_probe_encoder(&st, &cfg, &p);
    l = find(&p, "pulses");
    CHECK(l && strcmp(l->part, "belt sensor") == 0 && strcmp(l->where, "fakechip line 6") == 0);
    CHECK(l && strncmp(l->value, "3 counted", 9) == 0);
    encoder_gpio_close(e);
out:
    gpio_fake_close(f);
}

TESTS(T(input_lines_are_shown_as_the_fake_reads_them), T(belt_pulses_are_counted_at_their_line));
TEST_MAIN("test_probe")
