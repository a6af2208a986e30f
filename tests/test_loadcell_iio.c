/* test_loadcell_iio.c - the kernel hx711 IIO backend against a directory standing in for
 * sysfs. */
#include "hal/loadcell_iio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hal/hal.h"
#include "tests/test.h"

struct rig {
    char dir[32];
    char raw[64];                    /* the channel file */
    double now;                      /* s, the injected clock */
    struct loadcell_iio *l;
    char err[256];
};

static double rig_clock(void *ctx)
{
    return ((struct rig *)ctx)->now;
}

static void put(struct rig *r, const char *text)
{
    FILE *f = fopen(r->raw, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static void put_value(struct rig *r, long v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%ld\n", v);
    put(r, buf);
}

static struct loadcell_iio_params params(struct rig *r, int cal_readings)
{
    return (struct loadcell_iio_params){
        .device = r->dir, .channel = "in_voltage0_raw", .rate_hz = 80,
        .ring = {.cal = {.offset = 0, .scale = 0.01}, .full_scale_n = 1000,
                 .cal_readings = cal_readings},
    };
}

static bool rig_open(struct rig *r, bool with_file, int cal_readings)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/ecc-iio-XXXXXX");
    if (!mkdtemp(r->dir))
        return false;
    snprintf(r->raw, sizeof r->raw, "%s/in_voltage0_raw", r->dir);
    if (with_file)
        put_value(r, LOADCELL_IIO_ZERO);
    struct loadcell_iio_params p = params(r, cal_readings);
    r->l = loadcell_iio_open(&p, rig_clock, r, r->err, sizeof r->err);
    if (!r->l) {                                /* leave nothing behind; r->err says why */
        unlink(r->raw);
        rmdir(r->dir);
    }
    return r->l != NULL;
}

static void rig_close(struct rig *r)
{
    loadcell_iio_close(r->l);
    unlink(r->raw);
    rmdir(r->raw);
    rmdir(r->dir);
}

static struct loadcell_iio_status status(struct rig *r)
{
    struct loadcell_iio_status st;
    loadcell_iio_status(r->l, &st);
    return st;
}

TEST(reads_offset_binary_as_counts_and_newtons)
{
    struct rig r;
    double t[4], n[4];

    REQUIRE(rig_open(&r, true, 0));
    put_value(&r, LOADCELL_IIO_ZERO + 2000);
    r.now = 1.25;
    CHECK_INT(loadcell_iio_poll(r.l), 1);
    put_value(&r, LOADCELL_IIO_ZERO - 1500);
    r.now = 1.5;
    CHECK_INT(loadcell_iio_poll(r.l), 1);
    CHECK_INT(calibration_ring_read(loadcell_iio_ring(r.l), t, n, 4), 2);
    CHECK_NEAR(t[0], 1.25, 0);                  /* stamped on the injected clock */
    CHECK_NEAR(n[0], 20.0, 1e-9);
    CHECK_NEAR(n[1], -15.0, 1e-9);
    CHECK_NEAR(status(&r).ring.raw, -1500, 0);
    rig_close(&r);
}

TEST(floating_rails_and_junk_are_told_apart)
{
    struct rig r;
    double t[8], n[8];

    REQUIRE(rig_open(&r, true, 0));
    put_value(&r, 0x7FFFFF);                    /* all ones from DOUT, XOR 0x800000 */
    CHECK_INT(loadcell_iio_poll(r.l), 1);
    put_value(&r, 0xFFFFFF);                    /* the positive rail */
    CHECK_INT(loadcell_iio_poll(r.l), 1);
    const char *junk[] = {"abc\n", "", "-5\n", "16777216\n", "12 13\n"};
    for (int i = 0; i < 5; i++) {
        put(&r, junk[i]);
        errno = 0;
        CHECK_INT(loadcell_iio_poll(r.l), -1);
        CHECK_INT(errno, EBADMSG);
    }
    struct loadcell_iio_status st = status(&r);
    CHECK_INT(st.floating, 1);
    CHECK_INT(st.bad_values, 5);
    CHECK_INT(st.accepted, 1);
    CHECK_INT(st.reads, 7);
    CHECK_INT(calibration_ring_read(loadcell_iio_ring(r.l), t, n, 8), 1);
    CHECK_NEAR(n[0], 1000, 0);                  /* saturated: pinned at full scale */
    rig_close(&r);
}

TEST(a_missing_channel_fails_at_open)
{
    struct rig r;

    CHECK(!rig_open(&r, false, 0));
    CHECK_STR_CONTAINS(r.err, "in_voltage0_raw");
    CHECK_STR_CONTAINS(r.err, "overlay");
}

TEST(read_errors_are_counted_and_the_file_reopened)
{
    struct rig r;
    double t[4], n[4];

    memset(&r, 0, sizeof r);
    snprintf(r.dir, sizeof r.dir, "/tmp/ecc-iio-XXXXXX");
    REQUIRE(mkdtemp(r.dir) != NULL);
    snprintf(r.raw, sizeof r.raw, "%s/in_voltage0_raw", r.dir);
    mkdir(r.raw, 0700);                         /* opens, but every read fails (EISDIR) */
    struct loadcell_iio_params p = params(&r, 0);
    r.l = loadcell_iio_open(&p, rig_clock, &r, r.err, sizeof r.err);
    REQUIRE(r.l != NULL);
    CHECK_INT(loadcell_iio_poll(r.l), -1);
    CHECK_INT(loadcell_iio_poll(r.l), -1);
    CHECK_INT(status(&r).read_errors, 2);
    rmdir(r.raw);                               /* the "device" comes back */
    put_value(&r, LOADCELL_IIO_ZERO + 100);
    CHECK_INT(loadcell_iio_poll(r.l), 1);
    CHECK_INT(calibration_ring_read(loadcell_iio_ring(r.l), t, n, 4), 1);
    CHECK_NEAR(n[0], 1.0, 1e-9);
    rig_close(&r);
}

/* The daemon's path: struct hal_force bound to the ring, as for every load cell. */
TEST(tare_and_span_through_hal_force_use_the_same_ring)
{
    struct rig r;
    struct hal_cal_status cs;
    double t[16], n[16];

    REQUIRE(rig_open(&r, true, 3));
    struct hal_force f = {0};
    calibration_ring_hal(loadcell_iio_ring(r.l), &f);
    CHECK_INT(hal_force_tare(&f), 0);
    for (int i = 0; i < 3; i++) {
        put_value(&r, LOADCELL_IIO_ZERO + 500 + i);
        loadcell_iio_poll(r.l);
    }
    CHECK_NEAR(status(&r).ring.cal.offset, 501, 1e-9);
    CHECK_INT(status(&r).ring.tares, 1);
    CHECK_INT(hal_force_span(&f, 5.0, false), 0);       /* 5 kg: 2000 counts over the zero */
    for (int i = 0; i < 3; i++) {
        put_value(&r, LOADCELL_IIO_ZERO + 2501);
        loadcell_iio_poll(r.l);
    }
    CHECK_INT(hal_force_cal_status(&f, &cs), 0);
    CHECK_INT(cs.spans, 1);
    CHECK_NEAR(cs.scale, 5.0 * CALIBRATION_G / 2000, 1e-15);
    put_value(&r, LOADCELL_IIO_ZERO + 1501);
    loadcell_iio_poll(r.l);
    int got = f.read(f.ctx, t, n, 16);
    CHECK_INT(got, 7);
    CHECK_NEAR(n[got - 1], 2.5 * CALIBRATION_G, 1e-9);
    rig_close(&r);
}

TEST(reader_thread_reads_until_closed)
{
    struct rig r;
    double t[64], n[64];
    struct timespec pause = {0, 2000000};
    int got = 0;

    REQUIRE(rig_open(&r, true, 0));
    put_value(&r, LOADCELL_IIO_ZERO + 700);
    CHECK_INT(loadcell_iio_start(r.l), 0);
    for (int i = 0; i < 2500 && got < 3; i++) {   /* bounded: at most about 5 s */
        nanosleep(&pause, NULL);
        got += calibration_ring_read(loadcell_iio_ring(r.l), t + got, n + got, 64 - got);
    }
    CHECK(got >= 3);
    CHECK_NEAR(n[0], 7.0, 1e-9);
    rig_close(&r);                              /* joins the thread */
}

TESTS(T(reads_offset_binary_as_counts_and_newtons), T(floating_rails_and_junk_are_told_apart),
      T(a_missing_channel_fails_at_open), T(read_errors_are_counted_and_the_file_reopened),
      T(tare_and_span_through_hal_force_use_the_same_ring), T(reader_thread_reads_until_closed));
TEST_MAIN("test_loadcell_iio")
