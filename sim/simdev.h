/* simdev.h - eccsim's simulated devices behind one lock: the VFD (simvfd.h), the
 * load-cell transmitter (simlc.h) and the scripted faults (simfault.h).
 *
 * Two kinds of callers share them: the rig loop (simdev_tick: the physics' newest
 * motor speed and force in, the belt target out, fault starts and ends applied and
 * logged) and the Modbus servers (simdev_request: one parsed request in, the answer
 * out). Times are s since eccsim started (simdev_now()).
 */
#ifndef ECC_SIMDEV_H
#define ECC_SIMDEV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "config/config.h"
#include "hal/drive_profile.h"
#include "sim/simfault.h"
#include "sim/simlc.h"
#include "sim/simvfd.h"

#define SIMDEV_LATE_FACTOR 3          /* drive-late answers this many drive.timeout_ms late */
#define SIMDEV_REGS_MAX 125           /* registers in one request */

/* A request, parsed from the wire (simsrv_parse). */
struct simdev_req {
    int fc;                      /* 3, 4 (read), 6, 16 (write) */
    int addr, count;
    uint16_t vals[SIMDEV_REGS_MAX];  /* values written */
    bool hy;                     /* it came in the HY's framing (sim/simhy.h), at its pseudo
                                    addresses: a drive answers only in its own framing */
};

/* What a unit does with a request, given the faults in force. */
enum simdev_action {
    SIMDEV_ANSWER = 0,
    SIMDEV_SILENT,               /* no answer (and the request is not heard) */
    SIMDEV_LATE,                 /* answer after late_s */
    SIMDEV_EXCEPTION,            /* answer exception 0x04, do nothing */
    SIMDEV_CORRUPT,              /* answer with a damaged frame */
};

struct simdev {
    pthread_mutex_t lock;        /* guards everything below */
    struct simvfd vfd;
    struct simlc lc;
    struct simfault_plan plan;
    int drive_unit, lc_unit;
    bool drive_hy;               /* drive.profile = huanyang-hy: the drive is served by simhy */
    unsigned trip_code;
    double late_s;               /* s */
    struct timespec t0;          /* CLOCK_MONOTONIC at t = 0 */
    long requests, answered;     /* counted for the exit summary */
};

/* What the rig shows the devices at a tick. */
struct simdev_rig {
    double motor_mps;            /* m/s, the drive's output as belt speed */
    double force_n;              /* N, true foot force (the drive's load current) */
    bool new_sample;             /* a load-cell sample arrived since the last tick */
    double sample_n;             /* N, the newest one */
};

/* What the rig loop and the ground truth need after a tick. */
struct simdev_snapshot {
    double belt_target_mps;      /* m/s, what the drive runs the belt at */
    double setpoint_mps;         /* m/s, the setpoint register as belt speed */
    bool running, tripped, comm_loss;
    unsigned fault_code;
    double t_fed;                /* s, simdev clock: the last setpoint write or run command
                                    (what the drive's comm-loss watchdog counts from) */
};

/* Build from the config and the drive profile; starts the clock. Returns 0, or -1
 * with a message in err (e.g. the drive and load cell on one unit id). A Huanyang HY
 * (profile framing DRIVE_FRAMING_HY) gets no comm-loss watchdog: the real one has none. */
int simdev_init(struct simdev *d, const struct ecc_config *cfg, const struct drive_profile *prof,
                const struct simfault_plan *plan, char *err, size_t errlen);
void simdev_fini(struct simdev *d);

double simdev_now(const struct simdev *d);   /* s since simdev_init */

/* The rig loop, at time t: show the devices the rig, apply fault edges, run the drive's
 * watchdog. Takes the lock. */
void simdev_tick(struct simdev *d, double t, const struct simdev_rig *in,
                 struct simdev_snapshot *snap);

/* The action for a request to unit at t (caller holds the lock). */
enum simdev_action simdev_action(const struct simdev *d, int unit, double t);

/* Execute a request on unit at t (caller holds the lock). Reads fill out[]. Returns 0 or
 * the Modbus exception code to answer with (0x0B for a drive asked in the other framing
 * than its own). */
int simdev_execute(struct simdev *d, int unit, const struct simdev_req *r, double t,
                   uint16_t *out);

/* One request as a server sees it: takes the lock, decides the action, executes unless
 * silent or exception. parse_exc is the parser's verdict (0 = well formed). Returns the
 * exception code to answer with (0 = a normal reply); *act says how to answer. */
int simdev_request(struct simdev *d, int unit, const struct simdev_req *r, int parse_exc,
                   uint16_t *out, enum simdev_action *act);

/* For the RTU wire: should this unit's reply go out with a bad CRC now? (arg: simdev) */
bool simdev_corrupt_reply(void *arg, int unit);

#endif
