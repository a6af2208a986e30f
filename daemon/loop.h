/* loop.h - the daemon's fixed-rate control loop: read the HAL, tick the controller,
 * command the drive, log what happened, sleep until the next period.
 *
 * The same loop runs the real rig and the simulated one (the clock is the HAL's), so
 * tests and benchmarks exercise exactly what the daemon runs. On exit, for whatever
 * reason, the drive is told to stop.
 */
#ifndef ECC_LOOP_H
#define ECC_LOOP_H

#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include "controller/ctl.h"
#include "controller/event.h"
#include "hal/hal.h"

struct loop_stats;

/* After the last session (loop_opts.max_sessions) the loop ends once the belt is reported
 * stopped: the drive's reported speed (a reading taken after the command reached zero)
 * and the measured belt speed both under LOOP_STOPPED_MPS; on a rig without drive
 * feedback the measured belt speed alone, which there is the pulses and the drive model's
 * commanded ramp having run out (with a coarse sensor, mostly the model: belt_speed.h).
 * If that does not happen within loop_stop_timeout_s of the command reaching zero, the
 * loop ends anyway and says so (LOOP_BELT_NOT_STOPPED). */
#define LOOP_STOPPED_MPS 0.001
/* The timeout: the drive's own decel ramp from full scale (drive.decel_time_s) and its
 * dead time, plus half that ramp again (a drive set slower than its config says) and
 * LOOP_STOP_MARGIN_S (the last status reads). */
#define LOOP_STOP_MARGIN_S 1.0

struct loop_opts {
    FILE *rep_log;              /* JSON lines per event, or NULL */
    FILE *trace;                /* CSV row per tick, or NULL */
    FILE *human;                /* a readable line per event, or NULL */
    /* rep_log, trace and human are written by threads of their own (daemon/outq.h), so a
     * slow file never holds up a tick. realtime: a line that finds its queue full is
     * dropped and counted (loop_stats.lines_dropped); else the tick waits for room (a
     * virtual-time run, where every line counts and nothing is real-time). */
    bool realtime;
    int max_sessions;           /* stop after this many finished sessions, once the belt
                                   is reported stopped (0: no limit) */
    double max_time_s;          /* stop after this long on the HAL clock (0: no limit) */
    volatile sig_atomic_t *stop;/* set (by a signal handler) to end the loop; may be NULL */
    bool start;                 /* press start once the pre-flight passes, or after
                                   LOOP_PREFLIGHT_WAIT_S (eccd --start); a start the
                                   pre-flight refuses then ends the loop */
    /* Called after every tick (tests use it to watch or poke the run); may be NULL. */
    void (*on_tick)(void *arg, const struct ctl *c, double now);
    /* Called for every controller event, after it is logged; may be NULL. */
    void (*on_event)(void *arg, const struct ctl_event *ev);
    /* Called once a tick on the loop thread before the controller's tick, with the
     * controller to act on (eccd's service applies eccctl's commands here and publishes
     * the status); must not block. May be NULL. */
    void (*on_service)(void *arg, struct ctl *c, struct hal *hal, const struct loop_stats *st);
    void *arg;                  /* passed to on_tick, on_event and on_service */
};

struct loop_stats {
    long ticks;
    long overruns;              /* periods that started late */
    long late_ticks;            /* ticks later than limits.loop_late_s */
    double late_s;              /* how late the current tick started (s) */
    double late_max_s;          /* the latest start of a tick after it was due */
    long drive_errors;          /* drive commands that failed */
    long lines_dropped;         /* rep log, trace and table lines lost to a full queue */
    int sessions_done;
    double t_end;               /* HAL clock when the loop ended */
    bool start_pressed, start_pressed_done; /* opts.start: pressed; its outcome seen */
    bool start_refused;         /* opts.start's press was refused (by the pre-flight, ...) */
    char start_refusal[EVENT_LINE_MAX];     /* ... and why, in words */
    /* After max_sessions: how long the belt took to be reported stopped once the
     * command was zero, or (belt_not_stopped) the timeout it overran, and the last
     * speeds seen (m/s; drive_mps NAN where the drive reports none). */
    bool belt_not_stopped;
    double t_cmd_zero;          /* when the command reached zero after them (-1: never) */
    double stop_wait_s;
    double stop_drive_mps, stop_belt_mps;
};

/* How long --start waits for the pre-flight to pass before pressing anyway (s): the first
 * readings of every part arrive within it on any rig that works. */
#define LOOP_PREFLIGHT_WAIT_S 5.0

/* Which part a fault is about (for the cause a FAULT event carries). */
enum preflight_part loop_fault_part(enum fault f);

/* What the part's link last said, "load cell tcp 127.0.0.1:1502 unit 3: read fc 3 at 0 (1
 * register): no reply (timeout) after 3 tries", or "... unit 2: answering, latest raw
 * reading -9764865" while it answers; "" where the part has no link. Returns the length. */
int loop_part_cause(struct hal *hal, enum preflight_part part, char *buf, size_t len);

enum { LOOP_BELT_NOT_STOPPED = 1 };

/* Run until a stop condition. Returns 0; LOOP_BELT_NOT_STOPPED when max_sessions were
 * done but the belt was not reported stopped within loop_stop_timeout_s (the loop ended
 * anyway, the drive told to stop); -1 if the HAL clock failed. */
int loop_run(struct ctl *c, struct hal *hal, const struct loop_opts *opts,
             struct loop_stats *stats);

/* How long the belt may take to be reported stopped once the command is zero (s). */
double loop_stop_timeout_s(const struct ecc_config *cfg);

/* The trace's CSV header line (no newline). */
const char *loop_trace_header(void);

#endif
