/* loadcell_iio.c - the kernel's hx711 IIO driver through sysfs (see loadcell_iio.h). */
#include "hal/loadcell_iio.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hal/hx711.h"

struct loadcell_iio {
    char path[PATH_MAX];             /* the raw file */
    int fd;                          /* -1: (re)open on the next read */
    double (*now)(void *);
    void *clock_ctx;
    struct calibration_ring *ring;
    double period_s;                 /* s */
    double spike_n;                  /* N */
    double next_due;                 /* s, CLOCK_MONOTONIC, the reader thread's schedule */

    struct hx711_screen screen;      /* reader side only */
    pthread_mutex_t mu;              /* guards st */
    struct loadcell_iio_status st;
};

void loadcell_iio_params_from_config(const struct ecc_config *cfg,
                                     struct loadcell_iio_params *p)
{
    *p = (struct loadcell_iio_params){
        .device = cfg->loadcell.iio_device, .channel = cfg->loadcell.iio_channel,
        .rate_hz = cfg->loadcell.rate_hz,
    };
}

static void count(struct loadcell_iio *l, long *counter)
{
    pthread_mutex_lock(&l->mu);
    (*counter)++;
    pthread_mutex_unlock(&l->mu);
}

/* ---- reading ------------------------------------------------------------------------- */

/* The driver's text ("8390608\n") as two's complement counts. */
static int parse_raw(const char *buf, int32_t *raw)
{
    char *end;

    errno = 0;
    long v = strtol(buf, &end, 10);
    while (*end == '\n' || *end == ' ')
        end++;
    if (end == buf || *end || errno == ERANGE || v < 0 || v > 0xFFFFFF) {
        errno = EBADMSG;
        return -1;
    }
    *raw = (int32_t)v - LOADCELL_IIO_ZERO;
    return 0;
}

static int read_text(struct loadcell_iio *l, char *buf, size_t len)
{
    if (l->fd < 0 && (l->fd = open(l->path, O_RDONLY | O_CLOEXEC)) < 0)
        return -1;
    ssize_t n = pread(l->fd, buf, len - 1, 0);
    if (n < 0) {
        int e = errno;
        close(l->fd);                /* the device may have gone: open it afresh */
        l->fd = -1;
        errno = e;
        return -1;
    }
    buf[n] = '\0';
    return 0;
}

static void judge(struct loadcell_iio *l, int32_t raw, double t)
{
    enum hx711_verdict v = hx711_screen_push(&l->screen, l->ring, raw, t, l->spike_n);
    count(l, v == HX711_OK ? &l->st.accepted : v == HX711_SPIKE ? &l->st.spikes
                                                                 : &l->st.floating);
}

int loadcell_iio_poll(struct loadcell_iio *l)
{
    char buf[64];
    int32_t raw;

    count(l, &l->st.reads);
    if (read_text(l, buf, sizeof buf) < 0) {
        int e = errno;
        count(l, &l->st.read_errors);
        errno = e;
        return -1;
    }
    double t = l->now(l->clock_ctx);
    if (parse_raw(buf, &raw) < 0) {
        count(l, &l->st.bad_values);
        return -1;
    }
    judge(l, raw, t);
    return 1;
}

/* ---- the reader thread --------------------------------------------------------------- */

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Read, then wait for the next slot of an absolute schedule (no drift); a read that ran
 * past its slot (the driver waited for the chip) restarts the schedule from now. */
static double reader_fill(void *arg)
{
    struct loadcell_iio *l = arg;

    loadcell_iio_poll(l);
    double now = mono_s();
    l->next_due += l->period_s;
    if (l->next_due < now)
        l->next_due = now;
    return l->next_due - now;
}

int loadcell_iio_start(struct loadcell_iio *l)
{
    l->next_due = mono_s();
    return calibration_ring_start(l->ring, reader_fill, l);
}

/* ---- open / close -------------------------------------------------------------------- */

static bool params_ok(const struct loadcell_iio_params *p)
{
    return p->device && *p->device && p->channel && *p->channel && p->rate_hz > 0.0 &&
           isfinite(p->rate_hz) && p->spike_n >= 0.0;
}

static int open_files(struct loadcell_iio *l, const struct loadcell_iio_params *p, char *err,
                      size_t errlen)
{
    if (snprintf(l->path, sizeof l->path, "%s/%s", p->device, p->channel) >=
        (int)sizeof l->path) {
        snprintf(err, errlen, "iio load cell: %s/%s: path too long", p->device, p->channel);
        errno = ENAMETOOLONG;
        return -1;
    }
    l->ring = calibration_ring_open(&p->ring, err, errlen);
    if (!l->ring)
        return -1;
    l->fd = open(l->path, O_RDONLY | O_CLOEXEC);
    if (l->fd < 0) {
        int e = errno;
        snprintf(err, errlen, "iio load cell: %s: %s (is the hx711 overlay loaded?)", l->path,
                 strerror(e));
        errno = e;
        return -1;
    }
    return 0;
}

struct loadcell_iio *loadcell_iio_open(const struct loadcell_iio_params *p,
                                       double (*now)(void *), void *clock_ctx, char *err,
                                       size_t errlen)
{
    if (!p || !now || !params_ok(p)) {
        snprintf(err, errlen, "iio load cell: bad parameters");
        errno = EINVAL;
        return NULL;
    }
    struct loadcell_iio *l = calloc(1, sizeof *l);
    if (!l) {
        snprintf(err, errlen, "iio load cell: out of memory");
        errno = ENOMEM;
        return NULL;
    }
    pthread_mutex_init(&l->mu, NULL);
    l->fd = -1;
    l->now = now;
    l->clock_ctx = clock_ctx;
    l->period_s = 1.0 / p->rate_hz;
    l->spike_n = p->spike_n > 0.0 ? p->spike_n : HX711_SPIKE_SHARE * p->ring.full_scale_n;
    int rc = open_files(l, p, err, errlen);
    if (rc < 0) {
        int e = errno;
        loadcell_iio_close(l);
        errno = e;
        return NULL;
    }
    return l;
}

void loadcell_iio_close(struct loadcell_iio *l)
{
    if (!l)
        return;
    calibration_ring_close(l->ring);   /* stops the thread first */
    if (l->fd >= 0)
        close(l->fd);
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* ---- control side -------------------------------------------------------------------- */

struct calibration_ring *loadcell_iio_ring(struct loadcell_iio *l)
{
    return l->ring;
}

int loadcell_iio_status(struct loadcell_iio *l, struct loadcell_iio_status *st)
{
    pthread_mutex_lock(&l->mu);
    *st = l->st;
    pthread_mutex_unlock(&l->mu);
    calibration_ring_status(l->ring, &st->ring);
    return 0;
}
