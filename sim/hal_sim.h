/* hal_sim.h - the sim backend: binds the HAL interfaces to the simulated rig (sim/rig.h)
 * on a virtual clock.
 *
 * The clock is the rig's own time: sleep_until(t) runs the physics up to t, so the
 * daemon's unmodified loop runs as fast as the CPU allows (sim.speed = 0) or paced
 * to the wall clock (sim.speed = 1 is real time, 2 twice as fast, ...).
 * Buttons are the athlete's presses (and any hal_sim_press()); the e-stop is pressed
 * only by an injected fault.
 *
 * The load cell is a front end like the hardware ones: sleep_until pushes the rig's
 * readings (newtons) into a calibration ring (hal/calibration.h) and struct hal_force is
 * bound to that ring, so tare and span run the same code as on the rig (about a second of
 * readings each; nothing is saved: the sim keeps no calibration file). A span needs a
 * mass the simulated plate never carries, so it fails as with an empty plate (EDOM).
 *
 * Fault injection: hal_sim_add_fault() schedules a fault on the virtual clock; the sim
 * backend's HAL functions apply it (the physics in sim/rig.c stays healthy: a faulty
 * sensor or drive is a faulty view of, or command to, a healthy rig). Sensor faults act
 * on each reading by its own timestamp; drive faults switch at the exact onset time.
 */
#ifndef ECC_HAL_SIM_H
#define ECC_HAL_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config/config.h"
#include "hal/hal.h"
#include "sim/rig.h"

enum hal_sim_fault {
    HAL_SIM_ESTOP = 0,          /* the inputs report the e-stop / safety key active */
    HAL_SIM_LC_STALE,           /* the load cell returns no samples */
    HAL_SIM_LC_STUCK,           /* samples keep coming with the last value before onset */
    HAL_SIM_LC_SATURATE,        /* samples read +loadcell.full_scale_n */
    HAL_SIM_LC_NEGATIVE,        /* samples read HAL_SIM_NEGATIVE_N */
    HAL_SIM_ENCODER_SILENT,     /* no belt pulses, though the belt moves */
    HAL_SIM_DRIVE_RUNAWAY,      /* the drive ignores setpoints, runs toward HAL_SIM_RUNAWAY_MPS */
    HAL_SIM_DRIVE_COMM,         /* the drive link is lost: status comm_lost, setpoints not delivered */
    HAL_SIM_DRIVE_TRIP,         /* the drive trips (HAL_SIM_TRIP_CODE) and coasts the belt to 0 */
    HAL_SIM_NAN_SPEED,          /* NaN on every path into the speed command: load-cell
                                   samples and the drive's reported speed read NaN */
    HAL_SIM_LC_DRIFT,           /* the zero drifts: samples gain HAL_SIM_DRIFT_NPS per s */
    HAL_SIM_LOOP_STALL,         /* the control loop hangs: the sleep that crosses the onset
                                   takes `duration` seconds of wall time (a hung loop, for
                                   the systemd watchdog; at most 60 s, never "for good");
                                   the virtual clock then catches up */
    HAL_SIM_FAULT_COUNT
};

#define HAL_SIM_MAX_FAULTS 16
#define HAL_SIM_RUNAWAY_MPS 1.0
#define HAL_SIM_NEGATIVE_N (-60.0)
#define HAL_SIM_TRIP_CODE 9u
#define HAL_SIM_DRIFT_NPS 3.0

struct hal_sim_opts {
    int sessions;           /* sessions the athlete performs; 0 = the scenario's own */
    /* Model the drive-enable dead-man (hal_inputs.enable): once the loop drops it, motor
     * power is cut (the belt coasts to 0, whatever the drive does) until the operator's
     * reset re-arms it. false: no enable output is wired (enable is NULL). */
    bool enable_wired;
    /* Called with every setpoint the sim drive receives (0 = stop) and the virtual time;
     * may be NULL. */
    void (*on_command)(void *arg, double t, double mps);
    void *arg;
};

struct hal_sim;

/* Build the rig from cfg (the [sim] section, the scenario file, the judge's thresholds
 * from [band] and [rep]) and fill in *hal. Returns NULL with a message in err.
 * The caller frees with hal_sim_close(). */
struct hal_sim *hal_sim_open(const struct ecc_config *cfg, const struct hal_sim_opts *opts,
                             struct hal *hal, char *err, size_t errlen);
void hal_sim_close(struct hal_sim *s);

struct rig *hal_sim_rig(struct hal_sim *s);
const char *hal_sim_scenario_path(const struct hal_sim *s);

/* Schedule a fault active over [t_start, t_start + duration) (duration INFINITY: for
 * good). Returns 0, or -1 with EINVAL (bad kind or times) or ENOSPC (table full). */
int hal_sim_add_fault(struct hal_sim *s, enum hal_sim_fault kind, double t_start,
                      double duration);
bool hal_sim_fault_active(const struct hal_sim *s, enum hal_sim_fault kind, double t);
const char *hal_sim_fault_name(enum hal_sim_fault kind);   /* "estop", "lc_stale", ... */

/* Press buttons (HAL_BTN_*): the loop sees them on its next inputs read. */
void hal_sim_press(struct hal_sim *s, unsigned hal_buttons);

/* Write the athlete's stroke records (the ground truth) as JSON lines. */
int hal_sim_write_truth(const struct hal_sim *s, FILE *out);

/* Find a scenario: a bare name ("normal") is looked up as NAME.ini in the scenario
 * directories (beside the config: ../sim/scenarios, then the installed share dir,
 * then ./sim/scenarios); anything else is a path relative to the config file. */
int hal_sim_find_scenario(const struct ecc_config *cfg, char *out, size_t outlen);

#endif
