/* hx711.h - the HX711 load-cell ADC bit-banged over two GPIO lines (loadcell.type = hx711).
 *
 * The chip: DOUT low means a conversion is ready. Each PD_SCK pulse shifts out one bit,
 * MSB first, 24 bits of two's complement; 1 to 3 more pulses (25, 26, 27 in all) choose
 * gain 128 (channel A), 32 (channel B) or 64 (channel A) for the NEXT conversion. PD_SCK
 * must not stay high longer than 50 us; over 60 us the chip powers down, the conversion
 * is lost, and on PD_SCK low it restarts at gain 128.
 *
 * From user space a pulse can be stretched by preemption, so every clock-high time is
 * measured with the injected clock (before raising PD_SCK to after lowering it: an upper
 * bound) and a read with any pulse over HX711_MAX_HIGH_S is abandoned and discarded. The
 * chip is then deliberately reset (PD_SCK held high HX711_RESET_HOLD_S, then low), so it
 * is in a known state whether or not it powered down: the next conversion is at gain 128,
 * and with another gain configured that one is discarded too ("settling"). The chip is
 * reset the same way at open. DOUT is requested with a pull-up, so a disconnected chip
 * reads "never ready" (a stale load cell) rather than noise.
 *
 * Readings are screened before use, and each discard is counted by kind:
 *  - timing: a clock pulse over 50 us;
 *  - stuck: DOUT not high after the last pulse (it must be: DOUT stuck low, shorted);
 *  - floating: all ones (0xFFFFFF, i.e. -1), what a DOUT floating high mid-read gives;
 *  - spike: a single reading far from its neighbours: x is a spike when it differs from
 *    the median of (the two previous screened readings, x) by more than spike_n newtons
 *    (in counts at the current scale). A real step loses one reading, then passes;
 *  - settling: the first conversion after a reset when the configured gain is not 128.
 * The rails (0x7FFFFF, 0x800000: input out of range) are not discarded: they are passed
 * on as saturated (pinned at full scale), which the supervisor latches.
 *
 * Accepted readings go to a calibration ring (hal/calibration.h): newtons = (raw -
 * offset) x scale, stamped on the HAL clock when the read ends, tare and span there.
 *
 * Threads: hx711_start runs a reader thread that polls DOUT (absolute deadlines on
 * CLOCK_MONOTONIC) and reads each conversion; the control thread only takes the ring's
 * mutex (hx711_ring: calibration_ring_read, _tare, _span, bound to struct hal_force by
 * calibration_ring_hal; hx711_status). Tests call hx711_poll themselves instead.
 *
 * Who frees what: hx711_close stops the thread, leaves PD_SCK low, releases the lines and
 * closes the chip. Errors: NULL or -1 with errno.
 */
#ifndef ECC_HX711_H
#define ECC_HX711_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"
#include "hal/calibration.h"
#include "hal/gpio.h"

#define HX711_MAX_HIGH_S 50e-6       /* s, longest clock-high time that keeps a sample */
#define HX711_RESET_HOLD_S 100e-6    /* s, PD_SCK high this long powers the chip down */
#define HX711_RAIL_HIGH 0x7FFFFF     /* the ADC's limits (input out of range) */
#define HX711_RAIL_LOW (-0x800000)
#define HX711_SPIKE_SHARE 0.1        /* default spike_n: this share of full_scale_n */

struct hx711_params {
    const struct gpio_backend *gpio;
    const char *chip;                /* "gpiochip0" */
    unsigned sck_line, dout_line;    /* PD_SCK (output), DOUT (input) */
    int gain;                        /* 128, 64 (channel A) or 32 (channel B) */
    double rate_hz;                  /* Hz, the chip's output rate (RATE pin: 10 or 80) */
    double spike_n;                  /* N, spike threshold (0: HX711_SPIKE_SHARE of full scale) */
    struct calibration_ring_params ring;   /* config's offset/scale, full scale, the file */
};

struct hx711_status {
    struct calibration_ring_status ring;
    long conversions;                /* reads started (DOUT was low) */
    long accepted;                   /* pushed to the ring */
    long timing, stuck, floating, spikes, settling;   /* discarded, by kind */
    long io_errors;                  /* GPIO calls that failed */
    long resets;                     /* deliberate power-down resets (open included) */
    double max_high_s;               /* s, longest clock-high time measured */
};

/* Screening of raw readings (pure; shared with the iio backend). */
enum hx711_verdict { HX711_OK = 0, HX711_FLOATING, HX711_SPIKE };
struct hx711_screen {
    int32_t hist[2];                 /* the two previous screened readings, newest first */
    int n;                           /* how many of them there are */
};
/* Judge raw (24-bit two's complement value, sign-extended) against the history; spike
 * threshold in counts (>= 0). Every reading but a floating one enters the history. */
enum hx711_verdict hx711_screen_check(struct hx711_screen *s, int32_t raw, double spike_counts);
/* Screen raw; if it passes, push it to the ring (a rail as saturated). spike_n in N,
 * turned into counts at the ring's current scale. Returns the verdict. */
enum hx711_verdict hx711_screen_push(struct hx711_screen *s, struct calibration_ring *r,
                                     int32_t raw, double t, double spike_n);
/* raw sits on one of the ADC's rails. */
bool hx711_at_rail(int32_t raw);
/* Sign-extend a 24-bit two's complement word. */
int32_t hx711_decode(uint32_t word);

/* Fill params from [loadcell], all but p->ring (calibration_ring_params_from_config). */
void hx711_params_from_config(const struct ecc_config *cfg, const struct gpio_backend *gpio,
                              struct hx711_params *p);

struct hx711;

/* Load the calibration file (a missing one is fine), open the lines, reset the chip.
 * clock: the HAL clock (s); it also times the clock pulses. NULL with a message in err
 * (the file's FILE:LINE for junk) and errno. */
struct hx711 *hx711_open(const struct hx711_params *p, double (*now)(void *), void *clock_ctx,
                         char *err, size_t errlen);
/* Start the reader thread. Returns 0 or -1 with errno (EBUSY: running). */
int hx711_start(struct hx711 *h);
/* Stop the thread (if any), PD_SCK low, release everything. NULL is a no-op. */
void hx711_close(struct hx711 *h);

/* One attempt: returns 1 if a conversion was read (accepted or discarded), 0 if none is
 * ready, -1 on a GPIO error (errno). Not while the reader thread runs. */
int hx711_poll(struct hx711 *h);

/* Control side: the ring the accepted readings go to (owned by h), and the counters. */
struct calibration_ring *hx711_ring(struct hx711 *h);
int hx711_status(struct hx711 *h, struct hx711_status *st);

#endif
