/* filter.h - force filter: single-sample spike rejection, then a first-order low-pass.
 *
 * Pure logic: sample times are passed in (seconds, monotonic), nothing is allocated.
 * Spike rejection is a running median of the last three samples: one wild sample
 * (a load-cell glitch, a bit error) never reaches the output, at the cost of one
 * sample of delay. The low-pass is an exponential smoother whose coefficient is
 * computed from the actual gap between samples, so an uneven sample rate (HX711
 * jitter, a dropped Modbus reading) does not change its corner frequency.
 */
#ifndef ECC_FILTER_H
#define ECC_FILTER_H

#include <stdbool.h>

struct force_filter {            /* fields are private to filter.c */
    double tau;                  /* s, low-pass time constant = 1 / (2 pi cutoff) */
    bool spike_reject;
    double hist[3];              /* last three raw samples, for the median */
    int n;                       /* samples seen, saturates at 3 */
    double y;                    /* current output, N */
    double t_last;               /* time of the last sample, s */
};

/* cutoff_hz > 0. */
void force_filter_init(struct force_filter *f, double cutoff_hz, bool spike_reject);

/* Forget history (after tare, or when the sensor restarts). */
void force_filter_reset(struct force_filter *f);

/* Feed one raw sample taken at time t (s); returns the filtered force (N).
 * Samples must come in time order; a non-finite sample is ignored. */
double force_filter_push(struct force_filter *f, double t, double newtons);

/* The latest filtered force (N); 0 before the first sample. */
double force_filter_value(const struct force_filter *f);

#endif
