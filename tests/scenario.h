/* scenario.h - run the real control loop against the simulated rig, in-process, and
 * collect what the closed-loop tests and benchmarks check.
 *
 * The config is config/sim.ini (what `make demo` runs) with overrides; the loop,
 * controller and sim backend are exactly the daemon's. While it runs, every tick is
 * checked against the speed properties (cap, slew limit) and every controller event
 * is kept; afterwards the athlete's own stroke record (the ground truth) is compared
 * with the strokes the controller judged.
 */
#ifndef ECC_TEST_SCENARIO_H
#define ECC_TEST_SCENARIO_H

#include <stdbool.h>

#include "config/config.h"
#include "controller/ctl.h"
#include "sim/hal_sim.h"
#include "sim/athlete.h"

#define SCN_MAX_STROKES 512
#define SCN_UNLOAD_S 0.06                /* s: the force filter's lag and a tick */
#define SCN_AT_REST_MPS 0.005            /* m/s: a belt this slow is at rest */

struct scn_result {
    struct ecc_config cfg;
    int sessions_done;
    long ticks;
    double t_end;                       /* s: the command reached zero after the last
                                           session (else the loop's end) */

    /* the controller's view */
    int n_judged;                       /* REP + REJECT events */
    struct ctl_event judged[SCN_MAX_STROKES];
    int sets_done, faults;
    enum fault fault;                   /* the first fault latched */
    double t_fault;                     /* s, when */
    double final_cmd;                   /* m/s, the command when the run ended */
    int counted, rejected;

    /* the athlete's view (ground truth) */
    int n_truth;
    struct stroke_record truth[SCN_MAX_STROKES];
    int truth_valid;

    /* properties, checked every tick */
    double max_cmd;                     /* m/s */
    double max_belt;                    /* m/s, true belt speed */
    long slew_violations;               /* ticks where the command changed too fast */
    double worst_slew;                  /* largest |d cmd/dt| seen, m/s^2 */
    long moved_while_latched;           /* ticks with a fault latched and a non-zero command */
    long moved_unloaded;                /* ticks with a non-zero command although the true
                                           foot force has been below control.engage_n for
                                           longer than a full stop ramp (+0.1 s): what
                                           reactive mode must never do */
    long rose_unloaded;                 /* ticks the command rose although the true foot
                                           force had been below engage_n for SCN_UNLOAD_S */
    double max_lead;                    /* m/s, largest command above the true drive output
                                           (the drive's ramp makes it lag; no fault latched) */
    int landings;                       /* true landings (force rising over contact_n) ... */
    int landings_late;                  /* ... that came later than the drive's stop time
                                           after the last unload (reactive mode: the belt
                                           must be at rest then) */
    int landings_moving;                /* ... of those, the belt was not at rest */
    int drive_slow;                     /* CTL_EV_DRIVE_SLOW events ... */
    double drive_slow_mps2;             /* ... and the ramp the first one measured */

    /* comparison */
    int mismatched;                     /* strokes whose verdicts disagree, or unpaired */
    double truth_in_band;               /* mean per-stroke in-band share, true force */
    double truth_in_band_min;
};

/* Run one scenario for `sessions` sessions. overrides: NULL-terminated list of
 * "section.key=value". Returns 0, or -1 with a message on stderr. */
int scn_run(const char *scenario, unsigned seed, int sessions, const char *const *overrides,
            struct scn_result *r);

/* Pair judged strokes with true ones by contact time; fills r->mismatched and prints
 * each disagreement when verbose. */
void scn_compare(struct scn_result *r, bool verbose);

/* ---- fault injection -------------------------------------------------------------
 * One run of the real loop on the sim with the drive-enable dead-man wired and one
 * injected fault: the athlete starts the set itself (at 2 s); after the latch the
 * operator presses start every SCN_REPRESS_S (it must be refused); at reset_at (if > 0)
 * the operator presses reset, then start SCN_REPRESS_S later. Times are virtual. */

#define SCN_REPRESS_S 2.0

struct scn_fault_case {
    enum hal_sim_fault kind;
    double onset, duration;             /* s; duration INFINITY: for good */
    double reset_at;                    /* s, 0: no reset */
    double t_end;                       /* s, the run ends here */
};

struct scn_fault_result {
    struct ecc_config cfg;
    double cmd_at_onset;                /* m/s, the last command sent before onset */
    enum fault fault;                   /* the first fault latched (FAULT_NONE: none) */
    int faults;                         /* FAULT events */
    double t_latch;                     /* s, -1: none */
    double t_stop;                      /* s, first zero command at or after onset (-1: none) */
    double t_over;                      /* s, first tick the true belt ran over the
                                           overspeed limit (-1: never) */
    double t_belt_zero;                 /* s, first tick after the latch with the true belt
                                           stopped (-1: never) */
    long moved_while_latched;           /* ticks a fault was latched and the drive's last
                                           command was not zero */
    int starts_refused;                 /* start presses refused because of the fault */
    long nonfinite_cmds;                /* commands the drive saw that were not finite */
    long drive_errors;                  /* commands the HAL refused */
    /* after the operator's reset */
    double t_reset;                     /* s, when the latch cleared (-1: never) */
    double t_restart;                   /* s, first non-zero command after it (-1: none) */
    double restart_first;               /* m/s, that command */
    double restart_hold;                /* m/s, where the restart ramp first stopped rising */
    double restart_max_step;            /* m/s, largest rise per command on that ramp */
};

int scn_fault_run(const struct scn_fault_case *fc, unsigned seed, struct scn_fault_result *r);

#endif
