/* drive_pwm.c - a DC motor board through sysfs PWM (see drive_pwm.h). */
#include "hal/drive_pwm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EXPORT_POLL_S 0.01           /* s, how often the exported channel is looked for */

struct drive_pwm {
    char dir[PATH_MAX];              /* the channel's directory (root + chip + /pwmN) */
    struct drive_pwm_table table;
    long long period_ns;
    double max_duty;
    long long duty_ns;               /* last written, -1: unknown (write next time) */
    bool enabled;
};

/* ---- the table ---------------------------------------------------------------------- */

static int parse_point(const char *s, const char *end, double *mps, double *duty)
{
    char buf[64], *p;

    if (end - s <= 0 || end - s >= (long)sizeof buf)
        return -1;
    memcpy(buf, s, (size_t)(end - s));
    buf[end - s] = '\0';
    *mps = strtod(buf, &p);
    char *num_end = p;
    while (*p == ' ')
        p++;
    if (num_end == buf || *p != ':')
        return -1;
    char *q = p + 1;
    *duty = strtod(q, &p);
    while (*p == ' ')
        p++;
    return p == q || *p || !isfinite(*mps) || !isfinite(*duty) ? -1 : 0;
}

/* Point i (0-based) against the points before it. NULL if fine, else what is wrong. */
static const char *point_problem(const struct drive_pwm_table *t, int i)
{
    if (t->pt[i].mps < 0.0)
        return "speed below 0";
    if (t->pt[i].duty < 0.0 || t->pt[i].duty > 1.0)
        return "share outside 0..1";
    if (i > 0 && !(t->pt[i].mps > t->pt[i - 1].mps))
        return "speeds must rise";
    if (i > 0 && t->pt[i].duty < t->pt[i - 1].duty)
        return "shares must not fall";
    return NULL;
}

int drive_pwm_table_parse(const char *text, struct drive_pwm_table *t, char *err,
                          size_t errlen)
{
    const char *s = text ? text : "", *why;
    int k;                           /* the point being read, from 0 */

    t->n = 0;
    for (k = 0;; k++) {
        const char *end = strchr(s, ',');
        if (!end)
            end = s + strlen(s);
        if (k == DRIVE_PWM_TABLE_MAX) {
            why = "too many points (at most 16)";
            break;
        }
        if (parse_point(s, end, &t->pt[k].mps, &t->pt[k].duty) < 0) {
            why = "expected m/s:share";
            break;
        }
        t->n = k + 1;
        if ((why = point_problem(t, k)) != NULL)
            break;
        if (!*end)
            return 0;
        s = end + 1;
    }
    snprintf(err, errlen, "drive.pwm_table \"%s\": point %d: %s", text ? text : "", k + 1,
             why);
    errno = EINVAL;
    return -1;
}

double drive_pwm_table_duty(const struct drive_pwm_table *t, double mps)
{
    if (!(mps > 0.0) || t->n == 0)
        return 0.0;
    if (mps <= t->pt[0].mps)
        return t->pt[0].duty;        /* the least that turns the motor */
    for (int i = 1; i < t->n; i++) {
        if (mps <= t->pt[i].mps) {
            double f = (mps - t->pt[i - 1].mps) / (t->pt[i].mps - t->pt[i - 1].mps);
            return t->pt[i - 1].duty + f * (t->pt[i].duty - t->pt[i - 1].duty);
        }
    }
    return t->pt[t->n - 1].duty;
}

/* ---- sysfs -------------------------------------------------------------------------- */

static int write_text(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int e = errno;
    close(fd);
    if (n == (ssize_t)len)
        return 0;
    errno = n < 0 ? e : EIO;
    return -1;
}

static int write_attr(const struct drive_pwm *d, const char *name, long long value)
{
    char path[PATH_MAX + 32], text[32];

    snprintf(path, sizeof path, "%s/%s", d->dir, name);
    snprintf(text, sizeof text, "%lld\n", value);
    return write_text(path, text);
}

static int write_duty(struct drive_pwm *d, long long ns)
{
    if (ns == d->duty_ns)
        return 0;
    if (write_attr(d, "duty_cycle", ns) < 0) {
        d->duty_ns = -1;             /* unknown now: written again next time */
        return -1;
    }
    d->duty_ns = ns;
    return 0;
}

static bool exists(const char *dir, const char *name)
{
    char path[PATH_MAX + 32];
    struct stat st;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static struct timespec mono_after(struct timespec t, double s)
{
    long long ns = t.tv_nsec + (long long)(s * 1e9);
    t.tv_sec += (time_t)(ns / 1000000000LL);
    t.tv_nsec = (long)(ns % 1000000000LL);
    return t;
}

static bool before(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

/* Export the channel unless it is there, then wait for its period file: polled on an
 * absolute schedule up to an absolute deadline. */
static int export_channel(struct drive_pwm *d, const char *chip_dir, int channel,
                          double wait_s)
{
    char path[PATH_MAX + 16], text[16];
    struct timespec now, deadline, next;

    if (exists(d->dir, "period"))
        return 0;
    snprintf(path, sizeof path, "%s/export", chip_dir);
    snprintf(text, sizeof text, "%d\n", channel);
    if (write_text(path, text) < 0 && errno != EBUSY)   /* EBUSY: exported meanwhile */
        return -1;
    clock_gettime(CLOCK_MONOTONIC, &now);
    deadline = mono_after(now, wait_s);
    for (next = now; !exists(d->dir, "period"); ) {
        if (!before(&next, &deadline)) {
            errno = ETIMEDOUT;
            return -1;
        }
        next = mono_after(next, EXPORT_POLL_S);
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    return 0;
}

/* ---- open / close ------------------------------------------------------------------- */

void drive_pwm_params_from_config(const struct ecc_config *cfg, struct drive_pwm_params *p)
{
    *p = (struct drive_pwm_params){.root = "", .chip = cfg->drive.device,
                                   .channel = cfg->drive.pwm_channel,
                                   .period_s = cfg->drive.pwm_period_ms * 1e-3,
                                   .max_duty = cfg->drive.pwm_max_duty,
                                   .table = cfg->drive.pwm_table};
}

static bool params_ok(const struct drive_pwm_params *p)
{
    return p->chip && *p->chip && p->channel >= 0 && p->period_s > 0.0 &&
           p->period_s <= 10.0 && p->max_duty > 0.0 && p->max_duty <= 1.0 &&
           p->export_wait_s >= 0.0;
}

/* duty 0 first (a duty above a new period is refused), then period, then enable. */
static int channel_setup(struct drive_pwm *d)
{
    if (write_attr(d, "duty_cycle", 0) < 0 || write_attr(d, "period", d->period_ns) < 0 ||
        write_attr(d, "enable", 1) < 0)
        return -1;
    d->duty_ns = 0;
    d->enabled = true;
    return 0;
}

static int channel_open(struct drive_pwm *d, const struct drive_pwm_params *p, char *err,
                        size_t errlen)
{
    char chip_dir[PATH_MAX];
    const char *root = p->root ? p->root : "";
    double wait = p->export_wait_s > 0.0 ? p->export_wait_s : DRIVE_PWM_EXPORT_WAIT_S;

    if (snprintf(chip_dir, sizeof chip_dir, "%s%s", root, p->chip) >= (int)sizeof chip_dir ||
        snprintf(d->dir, sizeof d->dir, "%s/pwm%d", chip_dir, p->channel) >= (int)sizeof d->dir) {
        snprintf(err, errlen, "pwm drive: %s: path too long", p->chip);
        errno = ENAMETOOLONG;
        return -1;
    }
    if (export_channel(d, chip_dir, p->channel, wait) < 0) {
        int e = errno;
        snprintf(err, errlen, "pwm drive: exporting channel %d of %s: %s", p->channel, chip_dir,
                 strerror(e));
        errno = e;
        return -1;
    }
    if (channel_setup(d) < 0) {
        int e = errno;
        snprintf(err, errlen, "pwm drive: setting up %s: %s", d->dir, strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

struct drive_pwm *drive_pwm_open(const struct drive_pwm_params *p, char *err, size_t errlen)
{
    if (!p || !params_ok(p)) {
        snprintf(err, errlen, "pwm drive: bad parameters");
        errno = EINVAL;
        return NULL;
    }
    struct drive_pwm *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "pwm drive: out of memory");
        errno = ENOMEM;
        return NULL;
    }
    d->period_ns = llround(p->period_s * 1e9);
    d->max_duty = p->max_duty;
    d->duty_ns = -1;
    if (drive_pwm_table_parse(p->table, &d->table, err, errlen) < 0 ||
        channel_open(d, p, err, errlen) < 0) {
        int e = errno;
        drive_pwm_close(d);
        errno = e;
        return NULL;
    }
    return d;
}

void drive_pwm_close(struct drive_pwm *d)
{
    if (!d)
        return;
    if (d->enabled) {
        d->duty_ns = -1;             /* written whatever we think is there */
        write_duty(d, 0);
        write_attr(d, "enable", 0);
    }
    free(d);
}

/* ---- the drive ---------------------------------------------------------------------- */

int drive_pwm_set_speed(void *ctx, double mps)
{
    struct drive_pwm *d = ctx;
    double duty = fmin(drive_pwm_table_duty(&d->table, mps), d->max_duty);

    return write_duty(d, llround(duty * (double)d->period_ns));
}

int drive_pwm_stop(void *ctx)
{
    return write_duty(ctx, 0);
}

struct hal_drive drive_pwm_hal(struct drive_pwm *d, double cap_mps)
{
    return (struct hal_drive){.set_speed = drive_pwm_set_speed, .stop = drive_pwm_stop,
                              .fault_stop = drive_pwm_stop, .cap_mps = cap_mps, .ctx = d};
}

double drive_pwm_duty(const struct drive_pwm *d)
{
    return d->duty_ns > 0 ? (double)d->duty_ns / (double)d->period_ns : 0.0;
}
