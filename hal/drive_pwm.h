/* drive_pwm.h - an MC-2100-style DC motor board driven by the kernel's sysfs PWM
 * (drive.type = pwm).
 *
 * The board sets motor power from the duty of a slow PWM signal (drive.pwm_period_ms,
 * 50 ms = 20 Hz for the MC-2100). eccd uses channel drive.pwm_channel of the PWM chip at
 * drive.device (e.g. /sys/class/pwm/pwmchip0): exported if it is not yet (then waited
 * for, up to export_wait_s, as udev may take a moment), duty_cycle 0, period, enable 1.
 *
 * Speed to duty, from drive.pwm_table ("m/s:share,..." from the rig's calibration, speeds
 * rising, shares not falling): linear between points; below the first point's speed, the
 * first point's share (the board needs that much to turn at all); above the last point,
 * the last point's share; 0 m/s (a stop) is duty 0. Whatever the table says, the duty
 * never exceeds drive.pwm_max_duty (at most 85%, what the MC-2100 accepts).
 *
 * The board reports nothing back: no status (present = false), no reset. A stop, a fault
 * stop (the board has no coast command: the same) and close all write duty 0 at once;
 * close then disables the channel (left exported). sysfs writes take microseconds, so they
 * are done on the calling (control) thread, and only when the duty changes; a failed write
 * is tried again on the next call.
 *
 * root prefixes every path, so tests run against a directory tree standing in for sysfs
 * ("" on a real system).
 * Who frees what: drive_pwm_close frees. Errors: NULL or -1 with errno.
 */
#ifndef ECC_DRIVE_PWM_H
#define ECC_DRIVE_PWM_H

#include <stddef.h>

#include "config/config.h"
#include "hal/hal.h"

#define DRIVE_PWM_TABLE_MAX 16
#define DRIVE_PWM_EXPORT_WAIT_S 1.0  /* s, default wait for pwmN/ after an export */

struct drive_pwm_table {
    struct {
        double mps;                  /* m/s */
        double duty;                 /* share, 0..1 */
    } pt[DRIVE_PWM_TABLE_MAX];
    int n;
};

/* Parse "m/s:share,..." (see above). Returns 0, or -1 with errno EINVAL and the reason
 * (naming the point) in err. */
int drive_pwm_table_parse(const char *text, struct drive_pwm_table *t, char *err,
                          size_t errlen);
/* The table's share for a speed (m/s), before the max_duty cap. */
double drive_pwm_table_duty(const struct drive_pwm_table *t, double mps);

struct drive_pwm_params {
    const char *root;                /* path prefix ("" or NULL: none) */
    const char *chip;                /* the PWM chip's sysfs directory */
    int channel;                     /* >= 0 */
    double period_s;                 /* s, > 0 */
    double max_duty;                 /* share, 0 < max_duty <= 1 */
    const char *table;               /* drive.pwm_table */
    double export_wait_s;            /* s (0: DRIVE_PWM_EXPORT_WAIT_S) */
};

/* From [drive] (root ""). */
void drive_pwm_params_from_config(const struct ecc_config *cfg, struct drive_pwm_params *p);

struct drive_pwm;

/* Parse the table, export and set up the channel, enabled at duty 0. NULL with a message
 * in err and errno. */
struct drive_pwm *drive_pwm_open(const struct drive_pwm_params *p, char *err, size_t errlen);
/* Duty 0, disable, free. NULL is a no-op. */
void drive_pwm_close(struct drive_pwm *d);

/* struct hal_drive set_speed and stop (ctx: the drive_pwm). hal.c has already refused
 * NaN, negative and over-cap speeds. Return 0, or -1 with errno of the sysfs write. */
int drive_pwm_set_speed(void *ctx, double mps);
int drive_pwm_stop(void *ctx);

/* The struct hal_drive for d (fault_stop = stop; no status, no reset). */
struct hal_drive drive_pwm_hal(struct drive_pwm *d, double cap_mps);

/* The share last written (0..max_duty). */
double drive_pwm_duty(const struct drive_pwm *d);

#endif
