/* test_calibration.c - the tare/span file and the calibrated sample ring. */
#include "hal/calibration.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hal/hal.h"
#include "tests/test.h"

struct tmp {
    char dir[64];
    char file[128];
};

static void tmp_make(struct tmp *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/ecc-cal-XXXXXX");
    if (!mkdtemp(t->dir))
        t->dir[0] = '\0';
    snprintf(t->file, sizeof t->file, "%s/cal.txt", t->dir);
}

static void tmp_write(const struct tmp *t, const char *text)
{
    FILE *f = fopen(t->file, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static int tmp_entries(const struct tmp *t)
{
    DIR *d = opendir(t->dir);
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)))
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void tmp_clean(struct tmp *t)
{
    unlink(t->file);
    rmdir(t->dir);
}

static void slurp(const char *path, char *buf, size_t len)
{
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, len - 1, f) : 0;
    buf[n] = '\0';
    if (f)
        fclose(f);
}

/* ---- the file ---------------------------------------------------------------------- */

TEST(save_then_load_gives_the_same_values)
{
    struct tmp t;
    struct calibration in = {.offset = 8412.123456789, .scale = 2.3987e-4, .mass_kg = 20};
    struct calibration out = {0, 1, 0};
    char err[256], text[512];

    tmp_make(&t);
    CHECK_INT(calibration_save(t.file, &in), 0);
    CHECK_INT(calibration_load(t.file, &out, err, sizeof err), 0);
    CHECK(out.offset == in.offset && out.scale == in.scale);
    slurp(t.file, text, sizeof text);
    CHECK_STR_CONTAINS(text, "# eccd load-cell calibration, saved 2");   /* a date */
    CHECK_STR_CONTAINS(text, "20 kg");
    CHECK_STR_CONTAINS(text, "offset = 8412.123456789");
    CHECK_INT(tmp_entries(&t), 1);              /* no temporary file left behind */
    in.offset = -5;
    CHECK_INT(calibration_save(t.file, &in), 0);   /* over the old one */
    CHECK_INT(calibration_load(t.file, &out, err, sizeof err), 0);
    CHECK(out.offset == -5);
    CHECK_INT(tmp_entries(&t), 1);
    tmp_clean(&t);
}

TEST(a_missing_file_leaves_the_config_values)
{
    struct calibration cal = {.offset = 3, .scale = 0.5};
    char err[256];

    CHECK_INT(calibration_load("/nonexistent-ecc/cal.txt", &cal, err, sizeof err), 1);
    CHECK(cal.offset == 3 && cal.scale == 0.5);
}

TEST(a_file_may_hold_one_key_and_comments)
{
    struct tmp t;
    struct calibration cal = {.offset = 3, .scale = 0.5};
    char err[256];

    tmp_make(&t);
    tmp_write(&t, "# comment\n\n  ; another\n  offset =  -120.5  \n");
    CHECK_INT(calibration_load(t.file, &cal, err, sizeof err), 0);
    CHECK(cal.offset == -120.5 && cal.scale == 0.5);
    tmp_clean(&t);
}

static void check_refused(const char *text, const char *where, const char *why)
{
    struct tmp t;
    struct calibration cal = {.offset = 3, .scale = 0.5};
    char err[256] = "", want[160];

    tmp_make(&t);
    tmp_write(&t, text);
    errno = 0;
    CHECK_INT(calibration_load(t.file, &cal, err, sizeof err), -1);
    CHECK_INT(errno, EINVAL);
    snprintf(want, sizeof want, "%s:%s: ", t.file, where);
    CHECK_STR_CONTAINS(err, want);
    CHECK_STR_CONTAINS(err, why);
    CHECK(cal.offset == 3 && cal.scale == 0.5);   /* nothing taken from a bad file */
    tmp_clean(&t);
}

TEST(junk_is_refused_with_file_and_line)
{
    check_refused("offset = 1\n# ok\ngain = 3\n", "3", "unknown key");
    check_refused("offset = 1\nscale = 12abc\n", "2", "not a number");
    check_refused("scale = 0\n", "1", "non-zero");
    check_refused("scale = nan\n", "1", "not a number");
    check_refused("offset = 1\noffset = 2\n", "2", "twice");
    check_refused("\n\nthis is not a line\n", "3", "expected");
    check_refused("offset =\n", "1", "not a number");
}

TEST(saving_refuses_bad_values_and_bad_places)
{
    struct calibration bad = {.offset = 0, .scale = 0};
    struct calibration ok = {.offset = 0, .scale = 1};

    errno = 0;
    CHECK(calibration_save("/tmp/ecc-never.txt", &bad) == -1 && errno == EINVAL);
    errno = 0;
    CHECK(calibration_save("/nonexistent-ecc/cal.txt", &ok) == -1 && errno == ENOENT);
}

/* ---- the ring ---------------------------------------------------------------------- */

static struct calibration_ring *ring_new(const char *path, int len)
{
    struct calibration_ring_params p = {.cal = {.offset = 1000, .scale = 0.01},
                                        .full_scale_n = 500, .path = path, .ring_len = len};
    char err[256];

    return calibration_ring_open(&p, err, sizeof err);
}

TEST(ring_converts_and_keeps_order)
{
    struct calibration_ring *r = ring_new(NULL, 4);
    double t[8], n[8];

    for (int i = 0; i < 6; i++)
        calibration_ring_push(r, 0.1 * i, 1000 + 100 * i, false);
    CHECK_INT(calibration_ring_read(r, t, n, 8), 4);   /* the two oldest were dropped */
    CHECK_NEAR(t[0], 0.2, 1e-12);
    CHECK_NEAR(n[0], 2.0, 1e-12);
    CHECK_NEAR(n[3], 5.0, 1e-12);
    CHECK_INT(calibration_ring_read(r, t, n, 8), 0);
    struct calibration_ring_status st;
    calibration_ring_status(r, &st);
    CHECK_INT(st.samples, 6);
    CHECK_INT(st.dropped, 2);
    CHECK_NEAR(st.t_last, 0.5, 1e-12);
    CHECK_NEAR(st.raw, 1500, 0);
    calibration_ring_close(r);
}

TEST(ring_pins_saturated_readings_at_full_scale)
{
    struct calibration_ring *r = ring_new(NULL, 0);
    double t[4], n[4];
    struct calibration_ring_status st;

    calibration_ring_push(r, 1, 1000 + 60000, false);   /* 600 N > 500 N full scale */
    calibration_ring_push(r, 2, 1000 - 60000, false);
    calibration_ring_push(r, 3, 1100, true);            /* at the ADC's rail */
    CHECK_INT(calibration_ring_read(r, t, n, 4), 3);
    CHECK_NEAR(n[0], 500, 0);
    CHECK_NEAR(n[1], -500, 0);
    CHECK_NEAR(n[2], 500, 0);
    calibration_ring_status(r, &st);
    CHECK_INT(st.saturated_samples, 3);
    CHECK(st.saturated);
    calibration_ring_close(r);
}

TEST(tare_takes_the_mean_of_the_next_readings_and_saves_it)
{
    struct tmp t;
    struct calibration_ring_status st;
    struct calibration back = {0, 1, 0};
    char err[256];
    double tt[16], n[16];

    tmp_make(&t);
    struct calibration_ring *r = ring_new(t.file, 0);
    CHECK_INT(calibration_ring_tare(r, 4), 0);
    calibration_ring_status(r, &st);
    CHECK(st.tare_pending);
    const double raw[] = {2000, 2010, 1990, 2004, 2100};
    for (int i = 0; i < 5; i++)
        calibration_ring_push(r, i, raw[i], false);
    calibration_ring_status(r, &st);
    CHECK(!st.tare_pending);
    CHECK_INT(st.tares, 1);
    CHECK_NEAR(st.cal.offset, 2001, 1e-9);
    CHECK_INT(calibration_ring_read(r, tt, n, 16), 5);
    CHECK_NEAR(n[0], 10.0, 1e-9);               /* before the tare completed: old offset */
    CHECK_NEAR(n[4], 0.99, 1e-9);               /* after: (2100 - 2001) x 0.01 */
    CHECK_INT(calibration_load(t.file, &back, err, sizeof err), 0);
    CHECK_NEAR(back.offset, 2001, 1e-9);
    CHECK_NEAR(back.scale, 0.01, 0);
    calibration_ring_close(r);
    tmp_clean(&t);
}

/* With save_apart (the Modbus transmitter's ring, pushed from the bus thread) the push
 * that finishes a tare returns without writing the file: the ring's saver writes it, the
 * tare stays pending until then, and it is on disk once it is counted. */
TEST(save_apart_writes_the_file_off_the_pushing_thread)
{
    struct tmp t;
    struct calibration_ring_status st;
    struct calibration back = {0, 1, 0};
    char err[256];

    tmp_make(&t);
    struct calibration_ring *r = ring_new(t.file, 0);
    REQUIRE_OR_GOTO(r != NULL, out);
    CHECK_INT(calibration_ring_save_apart(r), 0);
    errno = 0;
    CHECK_INT(calibration_ring_save_apart(r), -1);          /* one saver */
    CHECK_INT(errno, EBUSY);
    CHECK_INT(calibration_ring_tare(r, 2), 0);
    CHECK_INT(calibration_ring_push(r, 0, 3000, false), 0);
    CHECK_INT(calibration_ring_push(r, 1, 3010, false), 0);  /* the tare's last reading */
    calibration_ring_status(r, &st);
    CHECK_NEAR(st.cal.offset, 3005, 1e-9);                  /* in use at once */
    for (int i = 0; i < 5000 && st.tares == 0; i++) {       /* bounded: the saver's turn */
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL);
        calibration_ring_status(r, &st);
    }
    CHECK_INT(st.tares, 1);
    CHECK(!st.tare_pending);
    CHECK_INT(st.saved_apart, 1);                           /* by the saver, not the push */
    CHECK_INT(calibration_load(t.file, &back, err, sizeof err), 0);
    CHECK_NEAR(back.offset, 3005, 1e-9);
    calibration_ring_close(r);
out:
    tmp_clean(&t);
}

TEST(span_with_a_known_mass_gives_newtons)
{
    struct tmp t;
    struct calibration_ring_status st;
    char err[256], text[512];
    double tt[8], n[8];

    tmp_make(&t);
    struct calibration_ring *r = ring_new(t.file, 0);
    CHECK_INT(calibration_ring_span(r, 10.0, 2, false), 0);
    errno = 0;
    CHECK(calibration_ring_tare(r, 2) == -1 && errno == EBUSY);
    calibration_ring_push(r, 0, 1000 + 9990, false);
    calibration_ring_push(r, 1, 1000 + 10010, false);    /* mean: 10000 counts over offset */
    calibration_ring_status(r, &st);
    CHECK_INT(st.spans, 1);
    CHECK_NEAR(st.cal.scale, 10.0 * 9.80665 / 10000, 1e-15);
    calibration_ring_read(r, tt, n, 8);
    calibration_ring_push(r, 2, 1000 + 5000, false);     /* half the mass */
    CHECK_INT(calibration_ring_read(r, tt, n, 8), 1);
    CHECK_NEAR(n[0], 5.0 * 9.80665, 1e-9);
    struct calibration back = {0, 1, 0};
    CHECK_INT(calibration_load(t.file, &back, err, sizeof err), 0);
    CHECK_NEAR(back.scale, st.cal.scale, 1e-15);
    slurp(t.file, text, sizeof text);
    CHECK_STR_CONTAINS(text, "# span: 10 kg (98.06");
    calibration_ring_close(r);
    tmp_clean(&t);
}

TEST(span_without_the_mass_on_is_refused)
{
    struct calibration_ring *r = ring_new(NULL, 0);
    struct calibration_ring_status st;

    errno = 0;
    CHECK(calibration_ring_span(r, -1, 2, false) == -1 && errno == EINVAL);
    CHECK_INT(calibration_ring_span(r, 10, 2, false), 0);
    calibration_ring_push(r, 0, 1003, false);
    calibration_ring_push(r, 1, 997, false);
    calibration_ring_status(r, &st);
    CHECK_INT(st.last_error, EDOM);
    CHECK_INT(st.spans, 0);
    CHECK(!st.span_pending);
    CHECK_NEAR(st.cal.scale, 0.01, 0);
    calibration_ring_close(r);
}

/* A ring with a first span done: 10 kg gave 10000 counts over the offset. */
static struct calibration_ring *ring_spanned(const char *path, double change_max)
{
    struct calibration_ring_params p = {.cal = {.offset = 1000, .scale = 0.01},
                                        .full_scale_n = 500, .path = path,
                                        .span_change_max = change_max};
    char err[256];
    struct calibration_ring *r = calibration_ring_open(&p, err, sizeof err);

    if (r && calibration_ring_span(r, 10.0, 1, false) == 0)
        calibration_ring_push(r, 0, 1000 + 10000, false);
    return r;
}

/* One span over one reading raw; the status after it. */
static void span_once(struct calibration_ring *r, double kg, double raw, bool confirmed,
                      struct calibration_ring_status *st)
{
    CHECK_INT(calibration_ring_span(r, kg, 1, confirmed), 0);
    calibration_ring_push(r, 1, raw, false);
    calibration_ring_status(r, st);
}

/* A span is checked before it is used: a change beyond span_change_max, or of sign,
 * needs the operator's confirmation; a refused one changes nothing, readings included. */
TEST(an_implausible_span_is_refused_and_changes_nothing)
{
    struct calibration_ring *r = ring_spanned(NULL, 0.25);
    struct calibration_ring_status st;
    double first, t[4], n[4];

    REQUIRE(r != NULL);
    calibration_ring_status(r, &st);
    REQUIRE_OR_GOTO(st.spans == 1, out);
    first = st.cal.scale;
    span_once(r, 10.0, 1000 + 5000, false, &st);         /* twice the scale: +100% */
    CHECK_INT(st.last_error, ERANGE);
    CHECK_INT(st.spans, 1);
    CHECK_INT(st.refused_spans, 1);
    CHECK_NEAR(st.refused_scale, 2.0 * first, 1e-12);
    CHECK_NEAR(st.cal.scale, first, 0);
    calibration_ring_read(r, t, n, 4);
    calibration_ring_push(r, 2, 1000 + 10000, false);    /* 10 kg still reads 10 kg */
    CHECK_INT(calibration_ring_read(r, t, n, 4), 1);
    CHECK_NEAR(n[0], 10.0 * 9.80665, 1e-9);
    span_once(r, 10.0, 1000 - 10000, false, &st);        /* the wires swapped: sign flip */
    CHECK_INT(st.last_error, ERANGE);
    CHECK_NEAR(st.cal.scale, first, 0);
    span_once(r, 10.0, 1000 + 11000, false, &st);        /* -9%: within 25% */
    CHECK_INT(st.last_error, 0);
    CHECK_INT(st.spans, 2);
    span_once(r, 10.0, 1000 + 5000, true, &st);          /* confirmed: taken */
    CHECK_INT(st.last_error, 0);
    CHECK_INT(st.spans, 3);
    CHECK_NEAR(st.cal.scale, 2.0 * first, 1e-12);
out:
    calibration_ring_close(r);
}

/* What no confirmation makes plausible: the full scale in too few counts (every force
 * would read as a few counts), a mass heavier than the full scale. */
TEST(a_span_the_cell_cannot_mean_is_refused_even_confirmed)
{
    struct calibration_ring *r = ring_spanned(NULL, 0.0);
    struct calibration_ring_status st;

    REQUIRE(r != NULL);
    span_once(r, 40.0, 1000 + 20, true, &st);            /* 392 N in 20 counts */
    CHECK_INT(st.last_error, ERANGE);
    CHECK_INT(st.spans, 1);
    errno = 0;
    CHECK(calibration_ring_span(r, 60.0, 1, true) == -1 && errno == EDOM);   /* 588 N */
    span_once(r, 10.0, 1000 + 5000, false, &st);         /* span_change_max 0: no asking */
    CHECK_INT(st.last_error, 0);
    CHECK_INT(st.spans, 2);
    calibration_ring_close(r);
}

/* The span's mass is kept in the file, so the comparison holds after a restart. */
TEST(the_span_mass_is_saved_and_guards_after_a_restart)
{
    struct tmp t;
    struct calibration_ring_status st;
    struct calibration back = {0, 1, 0};
    char err[256];

    tmp_make(&t);
    struct calibration_ring *r = ring_spanned(t.file, 0.25);
    REQUIRE_OR_GOTO(r != NULL, out);
    calibration_ring_close(r);
    CHECK_INT(calibration_load(t.file, &back, err, sizeof err), 0);
    CHECK_NEAR(back.mass_kg, 10.0, 0);
    struct calibration_ring_params p = {.cal = {.offset = 0, .scale = 1}, .full_scale_n = 500,
                                        .path = t.file, .span_change_max = 0.25};
    r = calibration_ring_open(&p, err, sizeof err);      /* the restart */
    REQUIRE_OR_GOTO(r != NULL, out);
    span_once(r, 10.0, 1000 + 5000, false, &st);
    CHECK_INT(st.last_error, ERANGE);
    CHECK_NEAR(st.cal.scale, back.scale, 0);
    calibration_ring_close(r);
    check_refused("span_kg = 0\n", "1", "not a mass");
out:
    tmp_clean(&t);
}

TEST(ring_open_loads_the_file_or_refuses_junk)
{
    struct tmp t;
    char err[256] = "";
    struct calibration_ring_params p = {.cal = {.offset = 0, .scale = 1},
                                        .full_scale_n = 1000};

    tmp_make(&t);
    p.path = t.file;
    struct calibration_ring *r = calibration_ring_open(&p, err, sizeof err);   /* no file */
    CHECK(r != NULL);
    CHECK_NEAR(calibration_ring_get(r).scale, 1, 0);
    calibration_ring_close(r);
    tmp_write(&t, "offset = 77\nscale = 0.002\n");
    r = calibration_ring_open(&p, err, sizeof err);
    CHECK(r && calibration_ring_get(r).offset == 77 && calibration_ring_get(r).scale == 0.002);
    calibration_ring_close(r);
    tmp_write(&t, "offset = 77\nscale = x\n");
    CHECK(calibration_ring_open(&p, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, ":2: ");
    tmp_clean(&t);
}

TEST(a_reading_that_is_not_finite_is_left_out_of_a_tare)
{
    struct calibration_ring *r = ring_new(NULL, 0);
    struct calibration_ring_status st;

    CHECK_INT(calibration_ring_tare(r, 2), 0);
    calibration_ring_push(r, 0, 1200, false);
    calibration_ring_push(r, 1, NAN, false);     /* a broken reading: not averaged */
    calibration_ring_status(r, &st);
    CHECK(st.tare_pending);
    calibration_ring_push(r, 2, 1300, false);
    calibration_ring_status(r, &st);
    CHECK_INT(st.tares, 1);
    CHECK_NEAR(st.cal.offset, 1250, 1e-9);
    calibration_ring_close(r);
}

/* A front end that zeroes itself: the ring marks the tare due and waits for it. */
TEST(a_hardware_tare_waits_for_the_front_end_then_reads_net_and_is_saved)
{
    struct tmp t;
    struct calibration_ring_status st;
    struct calibration back = {0, 1, 0};
    char err[256];
    double tt[8], n[8];

    tmp_make(&t);
    struct calibration_ring_params p = {.cal = {.offset = 1000, .scale = 0.01},
                                        .full_scale_n = 500, .path = t.file, .hw_tare = true};
    struct calibration_ring *r = calibration_ring_open(&p, err, sizeof err);
    REQUIRE(r != NULL);
    CHECK(!calibration_ring_hw_tare_due(r));
    CHECK_INT(calibration_ring_tare(r, 4), 0);
    CHECK(calibration_ring_hw_tare_due(r));
    errno = 0;
    CHECK(calibration_ring_span(r, 10, 4, false) == -1 && errno == EBUSY);
    for (int i = 0; i < 6; i++)                  /* readings do not complete it */
        calibration_ring_push(r, i, 1500, false);
    calibration_ring_status(r, &st);
    CHECK(st.tare_pending);
    CHECK_INT(st.tares, 0);
    CHECK_NEAR(st.cal.offset, 1000, 0);
    CHECK_INT(calibration_ring_hw_tare_done(r), 0);
    CHECK(!calibration_ring_hw_tare_due(r));
    calibration_ring_status(r, &st);
    CHECK(!st.tare_pending);
    CHECK_INT(st.tares, 1);
    CHECK_NEAR(st.cal.offset, 0, 0);             /* the front end reads net now */
    CHECK_INT(calibration_load(t.file, &back, err, sizeof err), 0);
    CHECK_NEAR(back.offset, 0, 0);
    CHECK_NEAR(back.scale, 0.01, 0);
    calibration_ring_read(r, tt, n, 8);
    calibration_ring_push(r, 7, 40, false);
    CHECK_INT(calibration_ring_read(r, tt, n, 8), 1);
    CHECK_NEAR(n[0], 0.4, 1e-12);
    CHECK_INT(calibration_ring_hw_tare_done(r), 0);   /* none due: nothing changes */
    calibration_ring_status(r, &st);
    CHECK_INT(st.tares, 1);
    calibration_ring_close(r);
    tmp_clean(&t);
}

static int no_link(void *ctx, struct hal_link_stats *st)
{
    (void)ctx;
    (void)st;
    return 0;
}

/* struct hal_force on the ring: what every front end is bound with. */
TEST(hal_force_on_the_ring_tares_and_spans_over_cal_readings)
{
    struct calibration_ring_params p = {.cal = {.offset = 0, .scale = 1}, .full_scale_n = 5000,
                                        .cal_readings = 3};
    struct hal_cal_status cs;
    char err[256];
    int link_ctx;
    double tt[16], n[16];

    struct calibration_ring *r = calibration_ring_open(&p, err, sizeof err);
    REQUIRE(r != NULL);
    struct hal_force f = {.link_stats = no_link, .link_ctx = &link_ctx};   /* stale */
    calibration_ring_hal(r, &f);
    CHECK(f.ctx == r);
    CHECK(f.read == calibration_ring_read);
    CHECK(f.link_stats == NULL && f.link_ctx == NULL);   /* no link: all of f is set */
    CHECK_INT(hal_force_tare(&f), 0);
    CHECK_INT(hal_force_cal_status(&f, &cs), 0);
    CHECK(cs.pending);
    calibration_ring_push(r, 0, 100, false);
    calibration_ring_push(r, 1, 102, false);
    CHECK_INT(hal_force_cal_status(&f, &cs), 0);
    CHECK(cs.pending);                           /* 2 of 3 */
    calibration_ring_push(r, 2, 104, false);
    CHECK_INT(hal_force_cal_status(&f, &cs), 0);
    CHECK(!cs.pending);
    CHECK_INT(cs.tares, 1);
    CHECK_NEAR(cs.offset, 102, 1e-9);
    CHECK_INT(hal_force_span(&f, 10.0, false), 0);
    for (int i = 0; i < 3; i++)
        calibration_ring_push(r, 3 + i, 102 + 1000, false);
    CHECK_INT(hal_force_cal_status(&f, &cs), 0);
    CHECK_INT(cs.spans, 1);
    CHECK_NEAR(cs.mass_kg, 10.0, 0);
    CHECK_NEAR(cs.scale, 10.0 * CALIBRATION_G / 1000, 1e-15);
    CHECK_INT(cs.last_error, 0);
    calibration_ring_push(r, 6, 102 + 500, false);
    int got = f.read(f.ctx, tt, n, 16);
    CHECK_INT(got, 7);
    CHECK_NEAR(n[got - 1], 5.0 * CALIBRATION_G, 1e-9);
    calibration_ring_close(r);
}

TEST(params_from_config_resolve_the_file_and_take_a_second_of_readings)
{
    struct ecc_config c;
    struct calibration_ring_params p;
    char path[CFG_PATH_MAX], tiny[8], err[256] = "";

    config_defaults(&c);
    snprintf(c.path, sizeof c.path, "/etc/eccd/eccd.ini");
    snprintf(c.loadcell.calibration, sizeof c.loadcell.calibration, "loadcell.cal");
    c.loadcell.type = CFG_LOADCELL_MODBUS;
    c.loadcell.tare_reg = 40;
    c.loadcell.rate_hz = 80;
    c.loadcell.offset = 12;
    c.loadcell.scale = 0.5;
    c.loadcell.full_scale_n = 900;
    CHECK_INT(calibration_ring_params_from_config(&c, &p, path, sizeof path, err, sizeof err), 0);
    CHECK(p.path == path);
    CHECK_STR_CONTAINS(path, "/etc/eccd/loadcell.cal");
    CHECK_INT(p.cal_readings, 80);
    CHECK(p.hw_tare);
    CHECK(!p.raw_measured);                      /* int32 counts */
    c.loadcell.data_type = CFG_DT_FLOAT32;
    calibration_ring_params_from_config(&c, &p, path, sizeof path, err, sizeof err);
    CHECK(p.raw_measured);
    CHECK_NEAR(p.cal.offset, 12, 0);
    CHECK_NEAR(p.cal.scale, 0.5, 0);
    CHECK_NEAR(p.full_scale_n, 900, 0);
    c.loadcell.tare_reg = -1;                    /* the software tare */
    calibration_ring_params_from_config(&c, &p, path, sizeof path, err, sizeof err);
    CHECK(!p.hw_tare);
    c.loadcell.type = CFG_LOADCELL_HX711;        /* a tare register means nothing there */
    c.loadcell.tare_reg = 40;
    calibration_ring_params_from_config(&c, &p, path, sizeof path, err, sizeof err);
    CHECK(!p.hw_tare);
    CHECK_INT(calibration_ring_params_from_config(&c, &p, tiny, sizeof tiny, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "[loadcell] calibration: ");
    c.loadcell.calibration[0] = '\0';            /* no file */
    CHECK_INT(calibration_ring_params_from_config(&c, &p, path, sizeof path, err, sizeof err), 0);
    CHECK(p.path == NULL);
}

TEST(a_result_that_cannot_be_saved_is_used_and_says_why)
{
    struct calibration_ring *r = ring_new("/nonexistent-ecc/cal.txt", 0);
    struct calibration_ring_status st;

    CHECK_INT(calibration_ring_tare(r, 1), 0);
    errno = 0;
    CHECK_INT(calibration_ring_push(r, 0, 1500, false), -1);
    CHECK_INT(errno, ENOENT);
    calibration_ring_status(r, &st);
    CHECK_INT(st.tares, 1);                      /* done: in use, */
    CHECK(!st.tare_pending);
    CHECK_NEAR(st.cal.offset, 1500, 0);
    CHECK_INT(st.save_errors, 1);                /* but not on disk */
    CHECK_INT(st.last_error, ENOENT);
    calibration_ring_close(r);
}

/* A transmitter that reports kg as float32: its full scale is 102 "counts", which the
 * count limits would refuse; a measured value is judged by its weight instead. */
TEST(a_measured_raw_value_is_spanned_by_weight_not_counts)
{
    struct calibration_ring_params p = {.cal = {.offset = 0, .scale = CALIBRATION_G},
                                        .full_scale_n = 1000};
    struct calibration_ring_status st;
    char err[256];

    struct calibration_ring *r = calibration_ring_open(&p, err, sizeof err);   /* counts */
    REQUIRE(r != NULL);
    CHECK_INT(calibration_ring_tare(r, 1), 0);
    calibration_ring_push(r, 0, 0.25, false);
    CHECK_INT(calibration_ring_span(r, 10.0, 1, false), 0);
    calibration_ring_push(r, 1, 10.25, false);
    calibration_ring_status(r, &st);
    CHECK_INT(st.spans, 0);
    CHECK_INT(st.last_error, EDOM);              /* 10 "counts" over the zero: no mass */
    calibration_ring_close(r);

    p.raw_measured = true;
    r = calibration_ring_open(&p, err, sizeof err);
    REQUIRE(r != NULL);
    CHECK_INT(calibration_ring_tare(r, 1), 0);
    calibration_ring_push(r, 0, 0.25, false);
    CHECK_INT(calibration_ring_span(r, 10.0, 1, false), 0);
    calibration_ring_push(r, 1, 10.2, false);    /* the transmitter's own span is 2% off */
    calibration_ring_status(r, &st);
    CHECK_INT(st.spans, 1);
    CHECK_INT(st.last_error, 0);
    CHECK_NEAR(st.cal.scale, 10.0 * CALIBRATION_G / 9.95, 1e-12);
    CHECK_INT(calibration_ring_span(r, 10.0, 1, false), 0);
    calibration_ring_push(r, 2, 0.3, false);     /* nothing on the plate: 0.05 kg moved */
    calibration_ring_status(r, &st);
    CHECK_INT(st.spans, 1);
    CHECK_INT(st.last_error, EDOM);
    CHECK_NEAR(st.cal.scale, 10.0 * CALIBRATION_G / 9.95, 1e-12);   /* unchanged */
    calibration_ring_close(r);
}

struct filler {
    struct calibration_ring *r;
    atomic_int calls;
};

static double fill_one(void *arg)
{
    struct filler *f = arg;
    int k = atomic_fetch_add(&f->calls, 1);
    calibration_ring_push(f->r, k, 1000 + k, false);
    return 0.001;
}

TEST(reader_thread_fills_and_stops)
{
    struct filler f = {.r = ring_new(NULL, 0)};
    struct timespec pause = {0, 1000000};
    double t[256], n[256];
    int got = 0;

    CHECK_INT(calibration_ring_start(f.r, fill_one, &f), 0);
    errno = 0;
    CHECK(calibration_ring_start(f.r, fill_one, &f) == -1 && errno == EBUSY);
    for (int i = 0; i < 5000 && got < 5; i++) {   /* bounded: at most about 5 s */
        got += calibration_ring_read(f.r, t + got, n + got, 256 - got);
        nanosleep(&pause, NULL);
    }
    CHECK(got >= 5);
    calibration_ring_stop(f.r);
    int calls = atomic_load(&f.calls);
    nanosleep(&pause, NULL);
    CHECK_INT(atomic_load(&f.calls), calls);    /* stopped means stopped */
    calibration_ring_stop(f.r);                 /* twice is fine */
    calibration_ring_close(f.r);
}

TESTS(T(save_then_load_gives_the_same_values), T(a_missing_file_leaves_the_config_values),
      T(a_file_may_hold_one_key_and_comments), T(junk_is_refused_with_file_and_line),
      T(saving_refuses_bad_values_and_bad_places), T(ring_converts_and_keeps_order),
      T(ring_pins_saturated_readings_at_full_scale),
      T(tare_takes_the_mean_of_the_next_readings_and_saves_it),
      T(save_apart_writes_the_file_off_the_pushing_thread),
      T(span_with_a_known_mass_gives_newtons), T(span_without_the_mass_on_is_refused),
      T(an_implausible_span_is_refused_and_changes_nothing),
      T(a_span_the_cell_cannot_mean_is_refused_even_confirmed),
      T(the_span_mass_is_saved_and_guards_after_a_restart),
      T(ring_open_loads_the_file_or_refuses_junk), T(reader_thread_fills_and_stops),
      T(a_reading_that_is_not_finite_is_left_out_of_a_tare),
      T(a_result_that_cannot_be_saved_is_used_and_says_why),
      T(a_hardware_tare_waits_for_the_front_end_then_reads_net_and_is_saved),
      T(hal_force_on_the_ring_tares_and_spans_over_cal_readings),
      T(params_from_config_resolve_the_file_and_take_a_second_of_readings),
      T(a_measured_raw_value_is_spanned_by_weight_not_counts));
TEST_MAIN("test_calibration")
