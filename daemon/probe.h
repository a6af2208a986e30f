/* probe.h - eccd --probe: talk to every configured part for a couple of seconds without
 * moving the belt, and print what a technician wiring the rig needs to see. */
#ifndef ECC_PROBE_H
#define ECC_PROBE_H

#include <stdio.h>

#include "config/config.h"

#define PROBE_S 2.0             /* s the parts are watched for */

/* Exit statuses of eccd --probe. */
enum { PROBE_READY = 0, PROBE_CANNOT_OPEN = 1, PROBE_NOT_READY = 3 };

/* Open the hardware the config names (rig.backend = hw), run the control loop for PROBE_S
 * with the belt commanded to stop throughout, and print one line per register, reading,
 * line and link, then the pre-flight verdict, to out. Returns PROBE_READY when the
 * pre-flight passes and no fault latched, PROBE_NOT_READY when not, PROBE_CANNOT_OPEN when
 * a part cannot even be opened (the reason on stderr). */
int probe_run(const struct ecc_config *cfg, FILE *out);

#endif
