/* hal.h - every contact with hardware and the OS goes through these interfaces.
 *
 * Each interface is a small struct of function pointers plus the backend's context.
 * A backend (sim, modbus, gpio, ...) fills them in; the daemon's loop calls them
 * through the hal_* wrappers below, which also enforce what must hold whatever the
 * backend: a drive is never asked for a NaN, negative or over-cap speed.
 *
 * Times are seconds on the backend's monotonic clock (the simulator's virtual clock
 * for the sim backend), the same clock hal_clock.now() reads.
 * Errors: -1 with errno set, as the system calls do.
 */
#ifndef ECC_HAL_H
#define ECC_HAL_H

#include <stdbool.h>

struct hal_clock {
    double (*now)(void *ctx);                   /* s, monotonic */
    int (*sleep_until)(void *ctx, double t);    /* returns at (or just after) t */
    /* The wall clock: UTC s since 1970, and the local time's offset from UTC (s) in
     * *utc_offset_s. For the day's schedule and the history, never for control.
     * NULL: no wall clock (the schedule is then not applied). */
    double (*wall)(void *ctx, int *utc_offset_s);
    /* A simulated clock only (NULL on a real rig): while the controller is quiet, the
     * earliest time anything outside it may happen (>= now). The loop may then sleep until
     * it in one go: a simulated day's quiet hours cost a tick, not a tick every period. */
    double (*quiet_until)(void *ctx);
    void *ctx;
};

/* What a drive reports back (a bare PWM board reports nothing: present = false). */
struct hal_drive_status {
    bool present;               /* the drive talks back */
    bool healthy;               /* healthy_after good transactions in a row since a failure */
    bool comm_lost;             /* fail_after failed transactions in a row (latches a fault) */
    bool tripped;               /* the drive reports a fault of its own */
    unsigned fault_code;        /* the drive's fault code, 0 = none */
    double speed_mps;           /* belt speed from the reported output frequency */
    double t_speed;             /* s, time of that reading on the HAL clock (-1: none yet) */
    double current_a;           /* output current, A (NAN: not reported) */
    long tx_ok, tx_failed;      /* transactions, counted since start */
    long timeouts, bad_frames, exceptions, reconnects;  /* failures by kind */
};

/* A part that talks over a link (Modbus): where, how its transactions went, and the
 * latest failure in words, for pre-flight messages, faults, eccctl status and --probe. */
#define HAL_EXC_CODES 12        /* exception replies counted by code 01..0B ([0]: others) */
struct hal_link_stats {
    char where[128];            /* "tcp 127.0.0.1:1502 unit 3", "rtu /dev/ttyUSB0 9600 8N1 unit 1" */
    long tx_ok, tx_failed;      /* transactions (after retries) */
    long link_errors, timeouts, bad_frames, exceptions, reconnects;  /* failed attempts */
    long exc_by_code[HAL_EXC_CODES];
    double rtt_ms, rtt_max_ms;  /* mean and largest round trip of good attempts (NAN: none) */
    bool answering;             /* the latest transaction succeeded */
    double last_raw;            /* the latest reading as the device sent it (a load cell's
                                   counts, before offset and scale); NAN: none */
    char last_error[160];       /* the latest failed transaction: "read fc 3 at 0 (1
                                   register): no reply (timeout) after 3 tries"; "" none */
};

struct hal_drive {
    /* Both only record the wish and return at once: a backend with a slow link does
     * the I/O on its own thread (the control tick never waits on the wire). */
    int (*set_speed)(void *ctx, double mps);    /* run forward at this belt speed */
    int (*stop)(void *ctx);                     /* ramp to zero and hold */
    /* The latest report; NULL if the backend has none. Never blocks. */
    int (*status)(void *ctx, struct hal_drive_status *st);
    /* Ask the drive to clear its own trip (the operator reset); NULL if it has none. */
    int (*reset)(void *ctx);
    /* Stop the way the drive is set to stop on a fault (coast); NULL: same as stop. */
    int (*fault_stop)(void *ctx);
    /* The link's statistics; NULL where the drive has no link (PWM, sim). Never blocks. */
    int (*link_stats)(void *ctx, struct hal_link_stats *st);
    double cap_mps;                             /* refused above this (hal_drive_set_speed) */
    void *ctx;
};

struct hal_encoder {
    /* Belt pulse timestamps since the last call, oldest first; returns the count. */
    int (*read)(void *ctx, double *t, int max);
    void *ctx;
};

/* A load-cell calibration's progress and result. */
struct hal_cal_status {
    bool pending;               /* a tare or span is collecting readings */
    long tares, spans;          /* completed since start */
    double offset;              /* counts at zero load (NAN: not known here) */
    double scale;               /* N per count (NAN: not known here) */
    double mass_kg;             /* of the latest span, 0: none */
    int last_error;             /* errno of the latest failed one (EDOM: no mass seen;
                                   ERANGE: an implausible span, refused), 0 */
    long refused_spans;         /* spans refused as implausible */
    double refused_scale;       /* what the latest refused span would have set (NAN) */
};

struct hal_force {
    /* Load-cell samples (time, newtons) since the last call, oldest first. */
    int (*read)(void *ctx, double *t, double *newtons, int max);
    /* Start a tare (zero: the plate unloaded) or a span calibration (mass_kg on the
     * plate) over about a second of readings; they return at once, the result shows in
     * cal_status. NULL where the backend cannot (the wrappers say ENOTSUP). confirmed:
     * the operator accepts a span that changes the scale by more than
     * loadcell.span_change_max (else such a span is refused: calibration.h). */
    int (*tare)(void *ctx);
    int (*span)(void *ctx, double mass_kg, bool confirmed);
    int (*cal_status)(void *ctx, struct hal_cal_status *st);
    /* The link's statistics, called with link_ctx; NULL where the load cell has no link
     * (HX711, IIO, sim). */
    int (*link_stats)(void *ctx, struct hal_link_stats *st);
    void *ctx;                  /* read, tare, span, cal_status: the calibration ring */
    void *link_ctx;             /* link_stats: the device on the link */
};

enum hal_button { HAL_BTN_START = 1u << 0, HAL_BTN_STOP = 1u << 1, HAL_BTN_NEXT = 1u << 2,
                  HAL_BTN_RESET = 1u << 3 };

struct hal_input_state {
    bool estop;                 /* e-stop pressed, safety key out, or its wire broken */
    unsigned pressed;           /* HAL_BTN_* presses since the last read */
};

enum hal_checkin { HAL_CHECKIN_PAIN = 0, HAL_CHECKIN_MORNING };

struct hal_inputs {
    int (*read)(void *ctx, struct hal_input_state *st);
    /* The drive-enable dead-man, called once a tick: held only while healthy is true and
     * the calls keep coming; NULL where no enable output is wired. */
    int (*enable)(void *ctx, bool healthy);
    /* The operator's reset re-arms a tripped dead-man; NULL: nothing to re-arm. */
    int (*reset)(void *ctx);
    /* A check-in the patient entered on the rig: 1 with it in *kind and *score, 0 when
     * none. NULL where there is no such input (the simulated patient has one). */
    int (*checkin)(void *ctx, enum hal_checkin *kind, int *score);
    void *ctx;
};

/* What a part shows a technician (eccd --probe): one line per register, line or
 * reading, with where it lives and its value in words. */
#define HAL_PROBE_LINES 32
struct hal_probe_line {
    char part[16];              /* "drive", "load cell", "belt sensor", "inputs" */
    char item[32];              /* "output frequency", "e-stop", ... */
    char where[96];             /* "reg 8451 = 0x2103 (fc 3)", "gpiochip0 line 17", "" */
    char value[256];            /* "0.00 Hz = 0.000 m/s", "released", ... */
};
struct hal_probe {
    struct hal_probe_line line[HAL_PROBE_LINES];
    int n;
};

/* Append a line (dropped when full); printf-style value. */
void hal_probe_add(struct hal_probe *p, const char *part, const char *item, const char *where,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* One rig: what the daemon's loop needs. */
struct hal {
    struct hal_clock clock;
    struct hal_drive drive;
    struct hal_encoder encoder;
    struct hal_force force;
    struct hal_inputs inputs;
};

/* Ask the drive for a belt speed. Refuses (-1, EINVAL) NaN, infinite, negative or
 * above-cap speeds without calling the backend; 0 is sent as a stop. */
int hal_drive_set_speed(struct hal_drive *d, double mps);
int hal_drive_stop(struct hal_drive *d);

/* The drive's latest report; a backend without one reports present = false. */
int hal_drive_status(struct hal_drive *d, struct hal_drive_status *st);

/* Pass an operator's fault reset on to the drive (a no-op without one). */
int hal_drive_reset(struct hal_drive *d);

/* Stop after a fault: coast where the backend has a coast stop, else a plain stop. */
int hal_drive_fault_stop(struct hal_drive *d);

/* A part's link statistics: -1 ENOTSUP where it has no link. */
int hal_drive_link_stats(struct hal_drive *d, struct hal_link_stats *st);
int hal_force_link_stats(struct hal_force *f, struct hal_link_stats *st);

/* Load-cell calibration: -1 ENOTSUP where the backend has none, EINVAL for a mass that is
 * not finite and positive, EDOM for one heavier than the cell's full scale, EBUSY while
 * one runs. */
int hal_force_tare(struct hal_force *f);
int hal_force_span(struct hal_force *f, double mass_kg, bool confirmed);
int hal_force_cal_status(struct hal_force *f, struct hal_cal_status *st);

#endif
