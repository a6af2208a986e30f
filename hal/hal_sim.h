/* hal_sim.h - the sim backend: binds the HAL interfaces to the simulated rig (sim/rig.h)
 * on a virtual clock.
 *
 * The clock is the rig's own time: sleep_until(t) runs the physics up to t, so the
 * daemon's unmodified loop runs as fast as the CPU allows (sim.speed = 0) or paced
 * to the wall clock (sim.speed = 1 is real time, 2 twice as fast, ...).
 * Buttons are the athlete's presses; the e-stop is never pressed (fault injection
 * comes with the safety work).
 */
#ifndef ECC_HAL_SIM_H
#define ECC_HAL_SIM_H

#include <stddef.h>
#include <stdio.h>

#include "config/config.h"
#include "hal/hal.h"
#include "sim/rig.h"

struct hal_sim_opts {
    int sessions;           /* sessions the athlete performs; 0 = the scenario's own */
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

/* Write the athlete's stroke records (the ground truth) as JSON lines. */
int hal_sim_write_truth(const struct hal_sim *s, FILE *out);

/* Find a scenario: a bare name ("normal") is looked up as NAME.ini in the scenario
 * directories (beside the config: ../sim/scenarios, then the installed share dir,
 * then ./sim/scenarios); anything else is a path relative to the config file. */
int hal_sim_find_scenario(const struct ecc_config *cfg, char *out, size_t outlen);

#endif
