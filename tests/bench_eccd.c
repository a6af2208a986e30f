/* bench_eccd.c - `make bench`: what the controller costs and how fast the sim runs.
 *
 *   1. controller tick cost: ctl_tick() timed on every tick of a full simulated
 *      session (normal athlete), median and p99 in ns;
 *   2. a whole simulated day (two sessions, ten hours apart, 86400 s of virtual time)
 *      through the daemon's own loop: simulated seconds per wall second;
 *   3. the same day run by the real eccd binary: wall time and its peak RSS.
 * Targets (issue 2): tick p99 < 20 us, a simulated day < 2 s, RSS < 8 MB.
 * Timings come from CLOCK_MONOTONIC here and only here: tests never assert them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "tests/bench.h"
#include "controller/ctl.h"
#include "daemon/loop.h"
#include "sim/hal_sim.h"

#define MAX_TICKS 200000

static int load_cfg(struct ecc_config *cfg, const char *const *sets)
{
    char err[512];

    if (config_load(cfg, "config/sim.ini", err, sizeof err) != 0)
        goto bad;
    for (; sets && *sets; sets++)
        if (config_set(cfg, *sets, err, sizeof err) != 0)
            goto bad;
    return 0;
bad:
    fprintf(stderr, "bench: %s\n", err);
    return -1;
}

/* The loop's read-tick-command cycle, with ctl_tick() alone between two clock reads. */
static int bench_tick(void)
{
    static double cost[MAX_TICKS], ft[64], fn[64], pt[256];
    static struct ctl ctl;
    struct ecc_config cfg;
    struct hal hal;
    struct hal_sim_opts so = {.sessions = 1};
    struct hal_sim *sim;
    char err[256];
    int n = 0;

    if (load_cfg(&cfg, NULL) != 0 || !(sim = hal_sim_open(&cfg, &so, &hal, err, sizeof err)))
        return -1;
    ctl_init(&ctl, &cfg);
    for (double t = 0.0; n < MAX_TICKS && t < 400.0; t += 1.0 / cfg.loop.rate_hz) {
        struct hal_input_state st;
        struct ctl_input in = {.now = t, .force_t = ft, .force_n = fn, .pulse_t = pt};
        struct ctl_event ev;
        double t0, cmd;

        in.n_force = hal.force.read(hal.force.ctx, ft, fn, 64);
        in.n_pulses = hal.encoder.read(hal.encoder.ctx, pt, 256);
        hal.inputs.read(hal.inputs.ctx, &st);
        in.pressed = st.pressed;
        t0 = bench_wall();
        cmd = ctl_tick(&ctl, &in);
        cost[n++] = (bench_wall() - t0) * 1e9;
        while (ctl_event_pop(&ctl, &ev))
            ;
        hal_drive_set_speed(&hal.drive, cmd);
        hal.clock.sleep_until(hal.clock.ctx, t + 1.0 / cfg.loop.rate_hz);
    }
    hal_sim_close(sim);
    bench_sort(cost, (size_t)n);
    printf("controller tick:  median %6.0f ns   p99 %6.0f ns   max %6.0f ns   (%d ticks, "
           "one session)\n", cost[n / 2], cost[n * 99 / 100], cost[n - 1], n);
    return 0;
}

static int bench_day_in_process(void)
{
    static struct ctl ctl;
    static const char *const sets[] = {"sim.seed=1", NULL};
    struct ecc_config cfg;
    struct hal hal;
    struct hal_sim_opts so = {.sessions = 2};
    struct loop_opts lo = {.max_time_s = 86400.0};
    struct loop_stats st;
    struct hal_sim *sim;
    char err[256];
    double t0;

    if (load_cfg(&cfg, sets) != 0 || !(sim = hal_sim_open(&cfg, &so, &hal, err, sizeof err)))
        return -1;
    ctl_init(&ctl, &cfg);
    t0 = bench_wall();
    loop_run(&ctl, &hal, &lo, &st);
    t0 = bench_wall() - t0;
    hal_sim_close(sim);
    printf("simulated day:    %.0f s virtual in %.3f s wall = %.0f simulated s per wall s "
           "(%ld ticks, %d sessions)\n", st.t_end, t0, st.t_end / t0, st.ticks,
           st.sessions_done);
    return 0;
}

/* The real binary, as a user would run it, measured from outside. */
static int bench_day_binary(const char *build)
{
    char eccd[512];
    struct rusage ru;
    int status;
    double t0;
    pid_t pid;

    snprintf(eccd, sizeof eccd, "%s/rel/eccd", build);
    t0 = bench_wall();
    pid = fork();
    if (pid == 0) {
        execl(eccd, eccd, "-c", "config/sim.ini", "-q", "--set", "sim.scenario=day",
              "--duration", "86400", (char *)NULL);
        _exit(127);
    }
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) ||
        WEXITSTATUS(status) != 0) {
        fprintf(stderr, "bench: %s failed\n", eccd);
        return -1;
    }
    printf("eccd binary day:  %.3f s wall, peak RSS %.1f MB\n", bench_wall() - t0,
           ru.ru_maxrss / 1024.0);
    return 0;
}

int main(int argc, char **argv)
{
    const char *build = argc > 1 ? argv[1] : "build";

    printf("eccd bench (targets: tick p99 < 20000 ns, simulated day < 2 s, RSS < 8 MB)\n");
    if (bench_tick() != 0 || bench_day_in_process() != 0 || bench_day_binary(build) != 0)
        return 1;
    return 0;
}
