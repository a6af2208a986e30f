/* inputs_test.c - e-stop, safety key and buttons on a real gpio-sim chip, through the
 * controller (guest program of tests/gpiosim/run.sh; see guest.h for the line map).
 *
 * The rig's wiring as the config describes it: inputs bias pull-up, e-stop and key
 * healthy at level 0 (a closed contact to ground), buttons active low.
 *
 * - estop_broken_wire_reads_stopped: nothing drives the e-stop line (the wire is cut), so
 *   the requested pull-up holds it high: that reads as stopped. Then the contact closes
 *   (the line is pulled low): not stopped; cut again: stopped.
 * - estop_latches_stop: the belt runs; the e-stop is pressed -> the controller latches
 *   FAULT_ESTOP and commands 0; a reset while it is still pressed is refused; released ->
 *   still latched, a start is refused; reset -> cleared, and the belt stays stopped.
 * - key_out_latches_stop: the safety key pulled out does the same.
 * - button_one_press_one_start (and stop, next): one press, with contact bounce, gives
 *   exactly one command.
 * - drive_enable_dead_man: the enable output (read back from the simulator) is off at open,
 *   on while the loop ticks healthy, off when unhealthy, dropped by the dead-man when the
 *   ticks stop and kept off until re-armed; off at close.
 * - charge_pump_stops_with_a_loop_stall / charge_pump_stops_when_eccd_is_killed
 *   (inputs.enable_mode = charge_pump, 12.5 Hz at a 100 Hz loop): the line, sampled from
 *   outside every millisecond, toggles while the loop ticks; when the ticks stop (the process
 *   lives on, with its watchdog thread) or the process is killed with SIGKILL, its last
 *   transition comes within 3 pump periods and none after, over the next 0.5 s.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <math.h>
#include <pthread.h>

#include "config/config.h"
#include "controller/ctl.h"
#include "hal/clock_posix.h"
#include "hal/gpio.h"
#include "hal/hal.h"
#include "hal/inputs_gpio.h"
#include "tests/gpiosim/guest.h"

#define TICK_S 0.01

/* ---- the inputs under test: hal/inputs_gpio on the HAL clock ------------------------ */

struct inputs_dev {
    struct clock_posix clk;
    struct hal_clock hc;
    struct inputs_gpio *in;
};

static int inputs_open(struct inputs_dev *d, const struct ecc_config *cfg)
{
    struct inputs_gpio_params p;
    char err[256];

    memset(d, 0, sizeof *d);
    clock_posix_init(&d->clk, &d->hc);
    inputs_gpio_params_from_config(cfg, &gpio_libgpiod, &p);
    d->in = inputs_gpio_open(&p, clock_posix_now, &d->clk, err, sizeof err);
    if (!d->in)
        fprintf(stderr, "inputs_gpio_open: %s\n", err);
    return d->in ? 0 : -1;
}

static int inputs_read(struct inputs_dev *d, struct hal_input_state *st)
{
    return inputs_gpio_read(d->in, st);
}

static void inputs_close(struct inputs_dev *d)
{
    if (d->in)
        inputs_gpio_close(d->in);
    d->in = NULL;
}

static double inputs_now(struct inputs_dev *d)
{
    return clock_posix_now(&d->clk);
}

/* ---- the rig around the controller --------------------------------------------------- */

static void rig_config(struct ecc_config *cfg)
{
    config_defaults(cfg);
    snprintf(cfg->inputs.chip, sizeof cfg->inputs.chip, "%s", guest_env("GPIOSIM_CHIP"));
    cfg->inputs.type = CFG_INPUTS_GPIO;
    cfg->inputs.estop_line = SIM_ESTOP;
    cfg->inputs.key_line = SIM_KEY;
    cfg->inputs.start_line = SIM_START;
    cfg->inputs.stop_line = SIM_STOP;
    cfg->inputs.next_line = SIM_NEXT;
    cfg->inputs.enable_line = -1;
    cfg->inputs.active_low = true;
    cfg->inputs.estop_ok_level = 0;
    cfg->inputs.bias = CFG_BIAS_PULL_UP;
    cfg->inputs.debounce_ms = 20;
    /* No belt pulses here: the speed-silent check must not fire during the test. */
    cfg->limits.speed_silent_s = 10.0;
}

/* The healthy rest state: e-stop and key closed to ground, buttons released. Done after
 * the inputs are requested: gpio-sim takes a requested bias as the line's new level. */
static int rig_healthy(void)
{
    return sim_drive(SIM_ESTOP, 0) | sim_drive(SIM_KEY, 0) | sim_drive(SIM_START, 1) |
           sim_drive(SIM_STOP, 1) | sim_drive(SIM_NEXT, 1);
}

struct rig {
    struct ctl ctl;
    struct inputs_dev in;
    double ft[1], fn[1];
    int flicker;
    double cmd;
    int cmd_count[CTL_CMD_COUNT];   /* accepted or not, per command, since the last clear */
    int faults;
};

/* One control tick on the real clock: read the inputs, a load-cell sample, tick. */
static int rig_tick(struct rig *r)
{
    struct hal_input_state st = {0};
    struct ctl_input in = {0};
    struct ctl_event ev;

    if (inputs_read(&r->in, &st) != 0)
        st.estop = true;            /* as the daemon's loop does */
    in.now = inputs_now(&r->in);
    in.estop = st.estop;
    in.pressed = st.pressed;
    r->ft[0] = in.now;
    r->fn[0] = 5.0 + (r->flicker ^= 1) * 0.02;
    in.n_force = 1;
    in.force_t = r->ft;
    in.force_n = r->fn;
    r->cmd = ctl_tick(&r->ctl, &in);
    while (ctl_event_pop(&r->ctl, &ev)) {
        if (ev.kind == CTL_EV_COMMAND && ev.cmd < CTL_CMD_COUNT)
            r->cmd_count[ev.cmd]++;
        if (ev.kind == CTL_EV_FAULT)
            r->faults++;
    }
    return st.estop;
}

/* Ticks for `seconds` (or until done(r) holds); true if done held. */
static bool rig_run(struct rig *r, double seconds, bool (*done)(const struct rig *r))
{
    double t = guest_now(), end = t + seconds;

    while (t < end) {
        rig_tick(r);
        if (done && done(r))
            return true;
        t += TICK_S;
        guest_sleep_until(t);
    }
    return false;
}

static bool latched(const struct rig *r) { return ctl_fault(&r->ctl) == FAULT_ESTOP; }
static bool stopped(const struct rig *r) { return r->cmd == 0.0; }

/* ---- tests ----------------------------------------------------------------------------- */

/* Reads the inputs every tick for `seconds`; the e-stop state of the last read. */
static bool read_for(struct inputs_dev *d, double seconds)
{
    struct hal_input_state st = {.estop = true};
    double t = guest_now(), end = t + seconds;

    do {
        inputs_read(d, &st);
        t += TICK_S;
        guest_sleep_until(t);
    } while (t < end);
    return st.estop;
}

/* Reads until the safety lines have read ok for the debounce time (at open they count as
 * stopped until then); true once they have. */
static bool settle(struct inputs_dev *d)
{
    struct hal_input_state st = {.estop = true};

    for (int i = 0; i < 100 && st.estop; i++) {
        inputs_read(d, &st);
        guest_sleep(TICK_S);
    }
    return !st.estop;
}

static void test_broken_wire(const struct ecc_config *cfg)
{
    const char *name = "estop_broken_wire_reads_stopped";
    struct inputs_dev d;
    struct hal_input_state st = {0};
    bool cut, closed, cut_again;

    if (inputs_open(&d, cfg) != 0) {
        guest_fail(name, "cannot open the inputs: %s", strerror(errno));
        return;
    }
    /* The key is in; nothing drives the e-stop line after the request (its wire is cut):
     * only the pull-up bias the inputs asked for holds it. */
    sim_drive(SIM_KEY, 0);
    cut = read_for(&d, 0.05 + 3e-3 * cfg->inputs.debounce_ms);  /* past the start-up hold */
    sim_drive(SIM_ESTOP, 0);            /* the contact is wired and closed to ground */
    closed = read_for(&d, 0.1);
    sim_drive(SIM_ESTOP, 1);            /* the wire is cut: the pull-up wins */
    inputs_read(&d, &st);               /* a stop shows on the first read */
    cut_again = st.estop;
    inputs_close(&d);
    if (!cut || closed || !cut_again)
        guest_fail(name, "stopped: wire cut %d, contact closed %d, cut again %d (want 1 0 1)",
                   cut, closed, cut_again);
    else
        guest_ok(name);
}

/* The belt runs, then `line` (e-stop or key) goes to its stop level. */
static void test_latch(const struct ecc_config *cfg, unsigned line, const char *name)
{
    struct rig *r = calloc(1, sizeof *r);
    enum ctl_cmd_result start, reset_pressed, start_latched, reset;
    double t_press, t_latch = -1.0, t_zero = -1.0, cmd_before;
    bool still_latched, stayed_stopped;

    if (!r || inputs_open(&r->in, cfg) != 0 || rig_healthy() != 0 || !settle(&r->in)) {
        guest_fail(name, "cannot open the inputs, or they never read ok: %s", strerror(errno));
        if (r)
            inputs_close(&r->in);
        free(r);
        return;
    }
    ctl_init(&r->ctl, cfg);
    rig_run(r, 0.1, NULL);
    start = ctl_command(&r->ctl, CTL_CMD_START, inputs_now(&r->in));
    rig_run(r, 0.3, NULL);
    cmd_before = r->cmd;

    t_press = guest_now();
    sim_drive(line, 1);                 /* pressed / key out: the contact opens */
    if (rig_run(r, 1.0, latched))
        t_latch = guest_now() - t_press;
    if (rig_run(r, 3.0, stopped))
        t_zero = guest_now() - t_press;
    reset_pressed = ctl_command(&r->ctl, CTL_CMD_RESET, inputs_now(&r->in));

    sim_drive(line, 0);                 /* released / key back in */
    rig_run(r, 0.3, NULL);
    still_latched = latched(r) && r->cmd == 0.0;
    start_latched = ctl_command(&r->ctl, CTL_CMD_START, inputs_now(&r->in));
    rig_run(r, 0.1, NULL);
    reset = ctl_command(&r->ctl, CTL_CMD_RESET, inputs_now(&r->in));
    rig_run(r, 0.3, NULL);
    stayed_stopped = ctl_fault(&r->ctl) == FAULT_NONE && r->cmd == 0.0;
    inputs_close(&r->in);

    guest_note("%s: belt at %.3f m/s; latched after %.0f ms, command 0 after %.0f ms; "
               "reset while pressed: %s; start while latched: %s; reset: %s", name,
               cmd_before, t_latch * 1e3, t_zero * 1e3, ctl_result_name(reset_pressed),
               ctl_result_name(start_latched), ctl_result_name(reset));
    if (start != CTL_OK || !(cmd_before > 0.0))
        guest_fail(name, "the belt did not start (%s, %.3f m/s)", ctl_result_name(start),
                   cmd_before);
    else if (t_latch < 0.0 || t_latch > 0.2)
        guest_fail(name, "FAULT_ESTOP not latched within 200 ms (fault now: %s)",
                   fault_name(ctl_fault(&r->ctl)));
    else if (t_zero < 0.0)
        guest_fail(name, "the command did not reach 0 (%.3f m/s)", r->cmd);
    else if (reset_pressed != CTL_REFUSED_CAUSE)
        guest_fail(name, "a reset while pressed gave %s", ctl_result_name(reset_pressed));
    else if (!still_latched || start_latched != CTL_REFUSED_FAULT)
        guest_fail(name, "released: latched %d, start %s", still_latched,
                   ctl_result_name(start_latched));
    else if (reset != CTL_OK || !stayed_stopped)
        guest_fail(name, "reset %s, then fault %s, command %.3f (want none, 0)",
                   ctl_result_name(reset), fault_name(ctl_fault(&r->ctl)), r->cmd);
    else
        guest_ok(name);
    free(r);
}

/* One press of a button, with 4 bounces of 1 ms on contact, held 100 ms, released; on a
 * thread of its own while the control loop ticks. */
static void *press(void *arg)
{
    const unsigned *line = arg;
    struct sim_pull p;

    if (sim_pull_open(&p, *line) != 0)
        return NULL;
    for (int i = 0; i < 4; i++) {
        sim_pull_set(&p, 0);
        guest_sleep(0.001);
        sim_pull_set(&p, 1);
        guest_sleep(0.001);
    }
    sim_pull_set(&p, 0);
    guest_sleep(0.1);
    sim_pull_set(&p, 1);
    sim_pull_close(&p);
    return NULL;
}

static void test_buttons(const struct ecc_config *cfg)
{
    static const struct {
        unsigned line;
        enum ctl_cmd cmd;
        const char *name;
    } b[] = {
        {SIM_START, CTL_CMD_START, "button_one_press_one_start"},
        {SIM_NEXT, CTL_CMD_NEXT_SET, "button_one_press_one_next_set"},
        {SIM_STOP, CTL_CMD_STOP, "button_one_press_one_stop"},
    };
    struct rig *r = calloc(1, sizeof *r);

    if (!r || inputs_open(&r->in, cfg) != 0 || rig_healthy() != 0 || !settle(&r->in)) {
        guest_fail(b[0].name, "cannot open the inputs, or they never read ok: %s",
                   strerror(errno));
        if (r)
            inputs_close(&r->in);
        free(r);
        return;
    }
    ctl_init(&r->ctl, cfg);
    rig_run(r, 0.1, NULL);
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        int other = 0;

        pthread_t th;
        unsigned line = b[i].line;

        memset(r->cmd_count, 0, sizeof r->cmd_count);
        if (pthread_create(&th, NULL, press, &line) != 0) {
            guest_fail(b[i].name, "pthread_create failed");
            continue;
        }
        rig_run(r, 0.3, NULL);
        pthread_join(th, NULL);
        for (int c = 0; c < CTL_CMD_COUNT; c++)
            if (c != (int)b[i].cmd)
                other += r->cmd_count[c];
        if (r->cmd_count[b[i].cmd] != 1 || other)
            guest_fail(b[i].name, "%d %s command(s) and %d other(s) from one press",
                       r->cmd_count[b[i].cmd], ctl_cmd_name(b[i].cmd), other);
        else
            guest_ok(b[i].name);
    }
    inputs_close(&r->in);
    free(r);
}

/* The drive-enable output seen on the simulated line: held while the loop ticks healthy,
 * dropped by the dead-man when the ticks stop, latched until the operator's re-arm. */
static void test_enable(const struct ecc_config *base)
{
    const char *name = "drive_enable_dead_man";
    struct ecc_config cfg = *base;
    struct inputs_dev d;
    struct inputs_gpio_status st;
    int at_open, dips = 0, on, off_unhealthy, latched_off, rearmed, at_close;
    double t, t_last, t_drop = -1.0;

    cfg.inputs.enable_line = SIM_ENABLE;
    cfg.inputs.enable_active_high = true;
    cfg.loop.rate_hz = 50;              /* dead-man after 3 periods: 60 ms */
    if (inputs_open(&d, &cfg) != 0) {
        guest_fail(name, "cannot open the inputs with an enable line: %s", strerror(errno));
        return;
    }
    at_open = sim_value(SIM_ENABLE);
    t = guest_now();
    for (int i = 0; i < 30; i++) {      /* 0.3 s of healthy ticks */
        inputs_gpio_enable(d.in, true);
        if (i > 0 && sim_value(SIM_ENABLE) != 1)
            dips++;
        t += TICK_S;
        guest_sleep_until(t);
    }
    on = sim_value(SIM_ENABLE);
    inputs_gpio_enable(d.in, false);
    off_unhealthy = sim_value(SIM_ENABLE);
    inputs_gpio_enable(d.in, true);
    t_last = guest_now();               /* the loop stops calling here */
    while (guest_now() - t_last < 0.5) {
        if (sim_value(SIM_ENABLE) == 0) {
            t_drop = guest_now() - t_last;
            break;
        }
        guest_sleep(0.002);
    }
    guest_sleep(0.05);
    for (int i = 0; i < 10; i++) {      /* ticking again does not bring it back */
        inputs_gpio_enable(d.in, true);
        guest_sleep(TICK_S);
    }
    latched_off = sim_value(SIM_ENABLE) == 0;
    inputs_gpio_status(d.in, &st);
    inputs_gpio_enable_rearm(d.in);
    inputs_gpio_enable(d.in, true);
    rearmed = sim_value(SIM_ENABLE);
    inputs_close(&d);
    at_close = sim_value(SIM_ENABLE);

    guest_note("%s: at open %d, ticking %d (%d dips), unhealthy %d, dropped %.0f ms after "
               "the last tick (dead-man at 3 x 20 ms), latched %d (trips %ld), re-armed %d, "
               "closed %d", name, at_open, on, dips, off_unhealthy, t_drop * 1e3,
               latched_off, st.deadman_trips, rearmed, at_close);
    if (at_open != 0 || on != 1 || dips || off_unhealthy != 0)
        guest_fail(name, "open %d, ticking %d with %d dips, unhealthy %d (want 0 1 0 0)",
                   at_open, on, dips, off_unhealthy);
    else if (t_drop < 0.0 || t_drop > 0.2)
        guest_fail(name, "the output did not drop within 200 ms of the last tick");
    else if (!latched_off || !st.deadman_tripped || rearmed != 1 || at_close != 0)
        guest_fail(name, "latched off %d (tripped %d), after re-arm %d, at close %d "
                   "(want 1 1 1 0)", latched_off, st.deadman_tripped, rearmed, at_close);
    else
        guest_ok(name);
}

/* ---- the charge pump ------------------------------------------------------------------- */

#define PUMP_HZ 12.5
#define PUMP_PERIOD_S (1.0 / PUMP_HZ)

/* Sample the enable line every millisecond for `seconds`; the transitions seen and the
 * time (guest clock) of the latest. */
static int watch_line(double seconds, double *t_last)
{
    int prev = sim_value(SIM_ENABLE), n = 0;
    double end = guest_now() + seconds;

    while (guest_now() < end) {
        int v = sim_value(SIM_ENABLE);
        if (v != prev) {
            n++;
            *t_last = guest_now();
            prev = v;
        }
        guest_sleep(0.001);
    }
    return n;
}

static struct ecc_config pump_config(const struct ecc_config *base)
{
    struct ecc_config cfg = *base;

    cfg.inputs.enable_line = SIM_ENABLE;
    cfg.inputs.enable_active_high = true;
    cfg.inputs.enable_mode = CFG_ENABLE_CHARGE_PUMP;
    cfg.inputs.pump_hz = PUMP_HZ;
    cfg.loop.rate_hz = 100;
    return cfg;
}

/* The loop thread hangs; the process (and its dead-man thread) lives on. */
static void test_pump_stall(const struct ecc_config *base)
{
    const char *name = "charge_pump_stops_with_a_loop_stall";
    struct ecc_config cfg = pump_config(base);
    struct inputs_dev d;
    int ticking = 0, after;
    double t, t_stall, t_last = -1.0;

    if (inputs_open(&d, &cfg) != 0) {
        guest_fail(name, "cannot open the inputs with a charge pump: %s", strerror(errno));
        return;
    }
    t = guest_now();
    for (int i = 0; i < 50; i++) {          /* 0.5 s of healthy ticks, watched between them */
        int before = sim_value(SIM_ENABLE);
        inputs_gpio_enable(d.in, true);
        ticking += sim_value(SIM_ENABLE) != before;
        t += TICK_S;
        guest_sleep_until(t);
    }
    t_stall = guest_now();
    after = watch_line(0.5, &t_last);
    inputs_close(&d);
    guest_note("%s: %d transitions in 0.5 s of ticks (%.0f expected), after the stall %d, the "
               "last %.0f ms after it (3 periods: %.0f ms)", name, ticking, 0.5 * 2 * PUMP_HZ,
               after, after ? (t_last - t_stall) * 1e3 : 0.0, 3e3 * PUMP_PERIOD_S);
    if (ticking < 10)
        guest_fail(name, "only %d transitions while ticking", ticking);
    else if (after > 1 || (after && t_last - t_stall > 3 * PUMP_PERIOD_S))
        guest_fail(name, "%d transitions after the stall, the last %.3f s after it", after,
                   t_last - t_stall);
    else
        guest_ok(name);
}

/* A child process pumps as eccd's loop does; SIGKILL ends it mid-wave. */
static void pump_child(const struct ecc_config *cfg)
{
    struct inputs_dev d;
    double t;

    if (inputs_open(&d, cfg) != 0)
        _exit(3);
    t = guest_now();
    for (;;) {
        inputs_gpio_enable(d.in, true);
        t += TICK_S;
        guest_sleep_until(t);
    }
}

static void test_pump_kill(const struct ecc_config *base)
{
    const char *name = "charge_pump_stops_when_eccd_is_killed";
    struct ecc_config cfg = pump_config(base);
    double t_last = -1.0, t_kill;
    int before, after, status = 0;
    pid_t pid;

    fflush(stdout);
    pid = fork();
    if (pid < 0) {
        guest_fail(name, "fork: %s", strerror(errno));
        return;
    }
    if (pid == 0)
        pump_child(&cfg);
    guest_sleep(0.2);                       /* the child opens its lines and pumps */
    before = watch_line(0.5, &t_last);
    t_kill = guest_now();
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    after = watch_line(0.5, &t_last);
    guest_note("%s: %d transitions in 0.5 s before the kill (%.0f expected), %d after, the "
               "last %.0f ms after it (3 periods: %.0f ms)", name, before, 0.5 * 2 * PUMP_HZ,
               after, after ? (t_last - t_kill) * 1e3 : 0.0, 3e3 * PUMP_PERIOD_S);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
        guest_fail(name, "the child did not die of SIGKILL (status 0x%x)", status);
    else if (before < 10)
        guest_fail(name, "only %d transitions before the kill", before);
    else if (after > 1 || (after && t_last - t_kill > 3 * PUMP_PERIOD_S))
        guest_fail(name, "%d transitions after the kill, the last %.3f s after it", after,
                   t_last - t_kill);
    else
        guest_ok(name);
}

int main(void)
{
    struct ecc_config cfg;

    guest_start("inputs_test");
    rig_config(&cfg);
    test_broken_wire(&cfg);
    test_latch(&cfg, SIM_ESTOP, "estop_latches_stop");
    test_latch(&cfg, SIM_KEY, "key_out_latches_stop");
    test_buttons(&cfg);
    test_enable(&cfg);
    test_pump_stall(&cfg);
    test_pump_kill(&cfg);
    return guest_exit();
}
