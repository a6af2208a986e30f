/* simvfd.h - the simulated VFD as its registers show it on Modbus (eccsim's drive).
 *
 * Pure logic on times passed in (s since eccsim started): no I/O, no clock, no locks.
 * The register map is the drive profile's (hal/drive_profile.h), so eccd and eccsim
 * speak one map. What the drive does:
 *   command    cmd_run runs forward at the setpoint, cmd_stop ramps to 0, cmd_coast
 *              switches the output off (frequency reads 0 at once); cmd_reset (at
 *              reg_reset, which may be reg_command) clears a trip whose cause is gone
 *              (where cmd_reset is cmd_stop at the command register, as on the HY, the
 *              value does both).
 *              Any other value: exception 0x03 (illegal data value).
 *   setpoint   Hz (or % of max_hz) x scale, clamped to max_hz; the belt runs at
 *              setpoint_hz / hz_per_mps only while running. Each write feeds the watchdog.
 *   watchdog   running and no setpoint write for watchdog_s (counted from the last write
 *              or the run command): the drive trips with SIMVFD_CODE_COMM_LOSS, as a
 *              drive with its comm-loss stop armed does.
 *   trip       the run command is dropped, the belt stops (a ramp, or coast when
 *              drive.stop_mode = coast); run commands are ignored until a reset.
 *   reads      output frequency = motor speed x hz_per_mps (0 while coasting), current
 *              = SIMVFD_NO_LOAD_A + SIMVFD_A_PER_N x foot force while the output is on,
 *              status bits SIMVFD_ST_*, fault code (0 = healthy). Where the status and
 *              fault registers are one register (Optidrive), the fault code is its high
 *              byte and the status bits its low byte.
 * Writable: command, setpoint, reset. Readable: every modelled register, and addresses
 * between two modelled registers at most SIMVFD_GROUP apart (one parameter group of the
 * drive; unmodelled ones read 0). Anything else: exception 0x02 (illegal data address).
 */
#ifndef ECC_SIMVFD_H
#define ECC_SIMVFD_H

#include <stdbool.h>
#include <stdint.h>

#include "hal/drive_profile.h"

#define SIMVFD_CODE_COMM_LOSS 58u   /* fault code shown after a watchdog stop */
#define SIMVFD_NO_LOAD_A 1.5        /* A, magnetising current of a running motor */
#define SIMVFD_A_PER_N 0.02         /* A per N of foot load on the belt */
#define SIMVFD_GROUP 8              /* registers: see the top of this file */

/* Status bits. */
#define SIMVFD_ST_RUNNING 0x01u     /* output on: running, or ramping down to a stop */
#define SIMVFD_ST_TRIPPED 0x02u
#define SIMVFD_ST_AT_SPEED 0x04u    /* running and the motor at its setpoint */
#define SIMVFD_ST_COMM_LOSS 0x08u   /* the watchdog tripped the drive */
#define SIMVFD_ST_RUN_CMD 0x10u     /* a run command is in force */

struct simvfd_params {
    struct drive_profile prof;
    double hz_per_mps;           /* Hz per m/s of belt */
    double max_hz;               /* Hz */
    double watchdog_s;           /* s, 0: no watchdog */
    bool coast_on_fault;         /* drive.stop_mode = coast */
};

struct simvfd {
    struct simvfd_params p;
    uint16_t command, setpoint_raw;  /* last values written */
    bool running;                /* a run command in force */
    bool coasting;               /* output off, belt free-wheeling */
    bool tripped, comm_loss;
    unsigned fault_code;         /* 0 = healthy */
    double t_fed;                /* s, last setpoint write or run command */
    double trip_hold_until;      /* s, resets before this leave the trip in place */
    double motor_mps, force_n;   /* the rig's latest motor speed and foot force */
};

void simvfd_init(struct simvfd *v, const struct simvfd_params *p);

/* n registers from addr: 0, or a Modbus exception code (nothing changes then). */
int simvfd_read(const struct simvfd *v, int addr, int n, uint16_t *out);
int simvfd_write(struct simvfd *v, double t, int addr, int n, const uint16_t *vals);

void simvfd_tick(struct simvfd *v, double t);    /* the comm-loss watchdog */
/* Trip with code; a reset before hold_until (s) does not clear it. */
void simvfd_trip(struct simvfd *v, unsigned code, double hold_until);
void simvfd_set_outputs(struct simvfd *v, double motor_mps, double force_n);

double simvfd_setpoint_mps(const struct simvfd *v);  /* the setpoint as belt speed, m/s */
double simvfd_belt_target(const struct simvfd *v);   /* m/s the drive runs the belt at */
double simvfd_out_hz(const struct simvfd *v);        /* Hz */
double simvfd_current_a(const struct simvfd *v);     /* A */
unsigned simvfd_status(const struct simvfd *v);      /* SIMVFD_ST_* */

#endif
