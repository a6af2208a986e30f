/* calibration.h - load-cell tare and span: the file they are kept in, and the calibrated
 * sample ring every load-cell front end produces into (hx711, loadcell_iio, the Modbus
 * transmitter in loadcell_modbus, and the sim backend's cell).
 *
 * newtons = (raw - offset) x scale: raw is what the front end reads (the HX711's counts;
 * a Modbus transmitter's register value, in whatever unit it reports), offset (in that
 * unit) is the tare, scale (N per unit) the span. loadcell.offset and loadcell.scale are
 * the starting values; the file, where it holds a key, replaces that key's value.
 *
 * The file (loadcell.calibration) is a few "key = value" lines:
 *     # eccd load-cell calibration, saved 2025-01-31T09:12:00Z
 *     # span: 20 kg (196.133 N)
 *     offset = 8412.25
 *     scale = 0.00023987
 *     span_kg = 20
 * Lines starting with '#' or ';' and blank lines are comments. Keys: offset, scale, span_kg
 * (the mass of the span that gave the scale; each at most once; a file may hold only some
 * of them). Anything else is refused with
 * "FILE:LINE: ...". It is written atomically: a temporary file in the same directory,
 * fsync, rename over the old one, fsync of the directory; a crash leaves the old file or
 * the new one, never half of one.
 *
 * The ring: a front end's reader (its own thread, or the Modbus bus thread) pushes raw
 * readings with their HAL-clock times; they come out in newtons through
 * calibration_ring_read (a struct hal_force read) on the control thread. A mutex guards
 * it, held only for a copy. A full ring drops its oldest sample and counts it. A tare
 * (offset = mean of the next n readings) or a span calibration (scale from the mean of the
 * next n readings with a known mass on the cell: scale = mass x 9.80665 N / (mean -
 * offset)) runs on the pushed readings. A span's result is checked before it is used
 * (span_plausible): the full scale (full_scale_n) must come to between
 * CALIBRATION_COUNTS_MIN and CALIBRATION_COUNTS_MAX counts, and after an earlier span
 * (span_kg known) the scale may change by at most span_change_max (share) and never change
 * sign unless the operator confirmed the span (the count limits do not apply where raw is
 * a measured value, raw_measured); a refused span leaves the calibration as it
 * was (last_error ERANGE, refused_scale says what it would have been). When a tare or span
 * completes the result is used at once and saved to the file (on the pushing thread), and
 * only then counted (tares, spans) and no longer pending, so a finished one is on disk (or
 * its save error is in last_error). A front end that zeroes itself (hw_tare: a
 * transmitter's tare register) takes the tare instead: the ring marks it due, the front
 * end does it and reports it done, and the offset becomes 0 (it reads net from then on).
 * calibration_ring_hal binds a struct hal_force to the ring (read, tare, span,
 * cal_status): the one binding every front end uses.
 * The ring can also run its producer's reader thread (calibration_ring_start): a loop
 * that calls the backend's fill function and waits, to an absolute deadline, as long as
 * that function asks; stopping wakes it at once and joins it.
 */
#ifndef ECC_CALIBRATION_H
#define ECC_CALIBRATION_H

#include <stdbool.h>
#include <stddef.h>

#include "config/config.h"

#define CALIBRATION_G 9.80665              /* m/s^2, standard gravity */
#define CALIBRATION_RING_DEFAULT 256       /* samples kept (3 s at 80 Hz) */
#define CALIBRATION_COUNTS_MIN 200.0      /* the full scale in fewer counts than this: a
                                              resolution no treadmill force can use */
#define CALIBRATION_COUNTS_MAX 16777216.0 /* 2^24: more than a 24-bit converter has */
#define CALIBRATION_MIN_SPAN_COUNTS 16.0   /* a span reading closer than this to the offset
                                              cannot give a scale (no mass on the cell?) */
#define CALIBRATION_MIN_SPAN_SHARE 0.01    /* raw_measured: a span that moves the reading by
                                              less than this share of the mass's weight at
                                              the scale in use, likewise */

struct calibration {
    double offset;                /* raw reading at zero load (counts) */
    double scale;                 /* N per raw count (non-zero) */
    double mass_kg;               /* mass of the latest span calibration, 0: none */
};

/* Load path into *cal: keys found replace cal's values, the others are left as they were
 * (the config's). Returns 0; 1 if the file does not exist (cal untouched); -1 with errno
 * EINVAL and "FILE:LINE: what is wrong" in err for junk, or errno of a read error. */
int calibration_load(const char *path, struct calibration *cal, char *err, size_t errlen);

/* Save atomically (see above). Returns 0 or -1 with errno (EINVAL: non-finite values). */
int calibration_save(const char *path, const struct calibration *cal);

/* ---- the calibrated sample ring ------------------------------------------------------ */

struct calibration_ring_params {
    struct calibration cal;       /* starting values (config, then the file) */
    double full_scale_n;          /* N, |reading| at or beyond this is saturated (> 0) */
    const char *path;             /* where results are saved (NULL or "": not saved) */
    int ring_len;                 /* samples buffered; 0: CALIBRATION_RING_DEFAULT */
    double span_change_max;       /* share a span may change the scale by without being
                                     confirmed (0: any) */
    int cal_readings;             /* readings a tare or span started through struct
                                     hal_force averages; 0: 1 */
    bool hw_tare;                 /* the front end zeroes itself: a tare waits for it
                                     (calibration_ring_hw_tare_due/_done) */
    bool raw_measured;            /* raw is a measured value in the front end's own unit
                                     (a float32 transmitter: kg, N, mV/V), not converter
                                     counts: a span's count limits (CALIBRATION_*COUNTS*)
                                     do not apply; the mass must move the reading by
                                     CALIBRATION_MIN_SPAN_SHARE of its weight at the scale
                                     in use, and span_change_max holds */
};

/* From [loadcell]: offset, scale, full_scale_n, span_change_max, a second of readings
 * (rate_hz) for a tare or span, hw_tare for a Modbus transmitter with a tare_register,
 * raw_measured for one whose data_type is float32, and the calibration
 * file's path resolved against the config file's directory into path[pathlen] (p->path
 * points there; NULL when the key is empty). Returns 0, or -1 with "[loadcell]
 * calibration: ..." in err when the path does not fit. */
int calibration_ring_params_from_config(const struct ecc_config *cfg,
                                        struct calibration_ring_params *p, char *path,
                                        size_t pathlen, char *err, size_t errlen);

struct calibration_ring_status {
    struct calibration cal;       /* in use now */
    double raw;                   /* latest reading (counts, before offset and scale) */
    double t_last;                /* s, HAL clock, latest reading (-1: none yet) */
    bool saturated;               /* the latest reading was */
    long samples, saturated_samples, dropped;   /* since start; dropped: ring overflow */
    bool tare_pending, span_pending;   /* tare_pending also while a hw_tare waits */
    long tares, spans;            /* completed */
    int last_error;               /* errno of the latest failed span (EDOM: the mass made
                                     no difference; ERANGE: implausible, refused) or save;
                                     0 none */
    long refused_spans;           /* spans refused as implausible */
    double refused_scale;         /* the scale the latest refused span would have set */
    long save_errors;
    long saved_apart;             /* results saved by the saver thread (save_apart) */
};

struct calibration_ring;

/* The ring, with p->path (when set) loaded over p->cal first: a missing file is fine, the
 * path string is copied. NULL with a message in err (FILE:LINE for junk) and errno
 * (EINVAL for bad params, ENOMEM). calibration_ring_close stops the thread (if any) and
 * frees; NULL is a no-op. */
struct calibration_ring *calibration_ring_open(const struct calibration_ring_params *p,
                                               char *err, size_t errlen);
void calibration_ring_close(struct calibration_ring *r);
/* Save results on a thread of the ring's own from now on, not on the thread whose push or
 * hw_tare_done finished the job: the Modbus transmitter's pushes come from the bus thread,
 * which also writes the drive's setpoint, and a slow disk must not starve the drive's
 * comm-loss watchdog. The job stays pending until the file is written. 0, or -1 errno. */
int calibration_ring_save_apart(struct calibration_ring *r);

/* Producer: one raw reading taken at t (s, HAL clock). at_rail: the ADC or transmitter sat
 * at its limit (passed on pinned at +-full_scale_n, as is any reading at or beyond full
 * scale; left out of tare and span, as is a reading that is not finite). Returns 0, or -1
 * if a completed calibration could not be saved (it is in use anyway; errno, and
 * counted). */
int calibration_ring_push(struct calibration_ring *r, double t, double raw, bool at_rail);

/* Consumer (struct hal_force read; ctx is the ring): samples since the last call, oldest
 * first, at most max; returns the count. */
int calibration_ring_read(void *ctx, double *t, double *newtons, int max);

/* Start a tare over the next n readings (with hw_tare: mark the front end's tare due, n
 * unused), or a span calibration with mass_kg on the cell (confirmed: the operator accepts
 * any change of the scale). Returns 0, or -1 with errno EINVAL (n < 1, bad mass), EDOM
 * (the mass weighs more than full_scale_n) or EBUSY (one is running). */
int calibration_ring_tare(struct calibration_ring *r, int n);
int calibration_ring_span(struct calibration_ring *r, double mass_kg, int n, bool confirmed);

/* hw_tare, producer side: a tare is due (do it now), and it is done (the front end reads
 * net: the offset becomes 0, counted and saved as any tare; returns as
 * calibration_ring_push). A failed attempt just leaves it due. */
bool calibration_ring_hw_tare_due(struct calibration_ring *r);
int calibration_ring_hw_tare_done(struct calibration_ring *r);

/* Fill *f: read, tare, span and cal_status on the ring (ctx: the ring; tare and span
 * average cal_readings readings), no link_stats (a front end on a link sets it after). */
struct hal_force;
void calibration_ring_hal(struct calibration_ring *r, struct hal_force *f);

void calibration_ring_status(struct calibration_ring *r, struct calibration_ring_status *st);

/* Run fill(arg) on a thread of the ring's until calibration_ring_stop: fill reads the
 * hardware, pushes, and returns how long (s, >= 0) to wait before its next call (measured
 * from when it returns, to an absolute CLOCK_MONOTONIC deadline). Returns 0 or -1 with
 * errno (EBUSY: running). */
int calibration_ring_start(struct calibration_ring *r, double (*fill)(void *arg), void *arg);
/* Stop the thread and join it (after its current fill call). Safe to call twice or
 * unstarted; calibration_ring_close calls it. */
void calibration_ring_stop(struct calibration_ring *r);
/* The calibration in use (a copy). */
struct calibration calibration_ring_get(struct calibration_ring *r);

#endif
