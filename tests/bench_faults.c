/* bench_faults.c - per fault kind, the worst time from fault onset to the stop command
 * reaching the drive, over 5 seeds and 3 onset times (the real loop on the simulated
 * rig, tests/scenario.h). Times are on the virtual clock: simulated, not wall time.
 *
 * Usage: bench_faults [BUILD_DIR]   (the argument is accepted, as the other benches
 * take it, and unused)
 */
#include <math.h>
#include <stdio.h>

#include "util/log.h"
#include "tests/scenario.h"

static const unsigned seeds[] = {1, 2, 3, 4, 5};
static const double onsets[] = {10.0, 10.337, 10.713};   /* on, and off, both grids */
#define N_SEEDS (sizeof seeds / sizeof seeds[0])
#define N_ONSETS (sizeof onsets / sizeof onsets[0])
#define RUN_AFTER_S 40.0     /* s after onset: a drifting zero needs up to two 10 s windows */

struct worst {
    double stop_ms, latch_ms, over_stop_ms;    /* worst onset->stop, onset->latch,
                                                  true overspeed->stop (-1: none) */
    unsigned faults_seen;                      /* bit per latched enum fault */
    int runs, missed;                          /* runs, runs with no stop command */
};

static void worst_add(struct worst *w, const struct scn_fault_result *r, double onset)
{
    w->runs++;
    if (r->t_stop < 0.0 || r->t_latch < 0.0) {
        w->missed++;
        return;
    }
    w->stop_ms = fmax(w->stop_ms, 1e3 * (r->t_stop - onset));
    w->latch_ms = fmax(w->latch_ms, 1e3 * (r->t_latch - onset));
    if (r->t_over >= 0.0)
        w->over_stop_ms = fmax(w->over_stop_ms, 1e3 * (r->t_stop - r->t_over));
    w->faults_seen |= 1u << r->fault;
}

static void print_faults(unsigned seen)
{
    int n = 0;

    for (int f = 0; f < FAULT_COUNT; f++)
        if (seen & (1u << f))
            n += printf("%s%s", n ? "," : "", fault_name((enum fault)f));
    printf("%*s", n < 28 ? 28 - n : 1, "");
}

static int bench_kind(enum hal_sim_fault kind)
{
    static struct scn_fault_result r;
    struct worst w = {.over_stop_ms = -1.0};

    for (size_t i = 0; i < N_SEEDS; i++) {
        for (size_t j = 0; j < N_ONSETS; j++) {
            struct scn_fault_case fc = {.kind = kind, .onset = onsets[j], .duration = INFINITY,
                                        .t_end = onsets[j] + RUN_AFTER_S};

            if (scn_fault_run(&fc, seeds[i], &r) != 0)
                return -1;
            worst_add(&w, &r, onsets[j]);
        }
    }
    printf("  %-15s ", hal_sim_fault_name(kind));
    print_faults(w.faults_seen);
    printf("%9.1f %9.1f", w.stop_ms, w.latch_ms);
    if (w.over_stop_ms >= 0.0)
        printf("   (true belt over limit -> stop %.1f ms)", w.over_stop_ms);
    if (w.missed)
        printf("   %d of %d runs NEVER STOPPED", w.missed, w.runs);
    printf("\n");
    return w.missed ? -1 : 0;
}

int main(int argc, char **argv)
{
    int rc = 0;

    (void)argc;
    (void)argv;
    log_set_level(LOG_LVL_ERROR);
    printf("fault onset -> stop command, worst of %zu seeds x %zu onsets (simulated time)\n",
           N_SEEDS, N_ONSETS);
    printf("  %-15s %-28s%9s %9s\n", "fault kind", "latched", "stop ms", "latch ms");
    /* Every fault of the rig; a loop stall is the systemd watchdog's to catch, not the
     * controller's (tests/test_watchdog.c), so it has no onset-to-stop time here. */
    for (int k = 0; k < HAL_SIM_FAULT_COUNT; k++)
        if (k != HAL_SIM_LOOP_STALL && bench_kind((enum hal_sim_fault)k) != 0)
            rc = 1;
    return rc;
}
