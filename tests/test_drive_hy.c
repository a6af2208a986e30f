/* test_drive_hy.c - the Huanyang HY drive backend (hal/drive_hy.h) against eccsim's
 * simulated HY (sim/simhy.h) on a pseudo-terminal, in this process: the wire (simwire) and
 * the HY's server run on threads, the test drives the backend's cycles itself
 * (drive_hy_poll) or lets its own thread run.
 *
 * It asserts what the simulated drive does (running, setpoint, stopped) and what the
 * backend reports (speed from the output frequency with its timestamp, current, health,
 * comm loss, a refused run as a trip, failures by kind), and that closing writes stop.
 * Times here are only upper bounds on waiting for something to happen.
 */
#include "hal/drive_hy.h"
#include "hal/drive_profile.h"
#include "sim/simdev.h"
#include "sim/simhy.h"
#include "sim/simwire.h"
#include "tests/test.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define WAIT_S 3.0               /* s, longest wait for something that should happen */
#define ERRLEN 512
#define MAX_HZ 60.0
#define HZ_PER_MPS 60.0

/* ---- time helpers ------------------------------------------------------------------ */

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(int ms)
{
    struct timespec d = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&d, NULL);
}

#define WAIT_UNTIL(cond)                                                                \
    do {                                                                                \
        double t0_ = mono();                                                            \
        while (!(cond) && mono() - t0_ < WAIT_S)                                        \
            sleep_ms(1);                                                                \
    } while (0)

/* The injected HAL clock: increasing times from 100 s, told apart from "none yet" (-1). */
static atomic_long clock_calls;

static double fake_now(void *ctx)
{
    (void)ctx;
    return 100.0 + (double)atomic_fetch_add(&clock_calls, 1) * 0.001;
}

/* ---- the simulated HY on a pty ------------------------------------------------------- */

struct rig {
    struct ecc_config cfg;
    struct drive_profile prof;
    struct simdev dev;
    struct simhy hy;
    struct simwire_opts wire;
    int stop[2];
    int master, slave;
    char path[64];
    pthread_t threads[2];
    int nthreads;
    bool dev_ready;
    struct drive_hy *d;
};

static void rig_config(struct ecc_config *c)
{
    config_defaults(c);
    c->rig.backend = CFG_BACKEND_HW;
    c->drive.type = CFG_DRIVE_MODBUS_RTU;
    snprintf(c->drive.profile, sizeof c->drive.profile, "%s", CFG_PROFILE_HY);
    c->drive.unit_id = 1;
    c->loadcell.unit_id = 2;
    c->drive.baud = 19200;
    c->drive.parity = CFG_PARITY_NONE;
    c->drive.max_hz = MAX_HZ;
    c->drive.hz_per_mps = HZ_PER_MPS;
    c->drive.timeout_ms = 30;
    c->drive.min_gap_ms = 0;
    c->drive.retries = 0;
    c->drive.fail_after = 3;
    c->drive.healthy_after = 5;
}

static void hy_params(const struct rig *r, struct drive_hy_params *p)
{
    memset(p, 0, sizeof *p);
    snprintf(p->link.device, sizeof p->link.device, "%s", r->path);
    p->link.baud = r->cfg.drive.baud;
    p->link.parity = 'N';
    p->link.data_bits = 8;
    p->link.stop_bits = 1;
    p->link.timeout_ms = r->cfg.drive.timeout_ms;
    p->link.retries = r->cfg.drive.retries;
    p->addr = r->cfg.drive.unit_id;
    p->hz_per_mps = HZ_PER_MPS;
    p->max_hz = MAX_HZ;
    p->refresh_s = 0.25;
    p->period_s = 0.01;
    p->fail_after = r->cfg.drive.fail_after;
    p->healthy_after = r->cfg.drive.healthy_after;
}

static int rig_threads(struct rig *r)
{
    if (pthread_create(&r->threads[0], NULL, simhy_thread, &r->hy) != 0)
        return -1;
    r->nthreads = 1;
    if (pthread_create(&r->threads[1], NULL, simwire_thread, &r->wire) != 0)
        return -1;
    r->nthreads = 2;
    return 0;
}

/* The simulated drive, its wire, and the backend on the pty (not started). */
static bool rig_open(struct rig *r)
{
    char err[ERRLEN] = "";
    struct drive_hy_params p;

    memset(r, 0, sizeof *r);
    r->stop[0] = r->stop[1] = r->master = r->slave = r->hy.fd = r->hy.wire_fd = -1;
    rig_config(&r->cfg);
    if (drive_profile_builtin(CFG_PROFILE_HY, &r->prof) != 0 || pipe(r->stop) != 0 ||
        simdev_init(&r->dev, &r->cfg, &r->prof, NULL, err, sizeof err) != 0)
        goto bad;
    r->dev_ready = true;
    r->master = simwire_open_pty(r->path, sizeof r->path, &r->slave, err, sizeof err);
    if (r->master < 0 || simhy_open(&r->hy, &r->dev, 1, &r->cfg, r->stop[0], err, sizeof err))
        goto bad;
    r->wire = (struct simwire_opts){.master = r->master, .stop_fd = r->stop[0], .pace = false,
                                    .nports = 1, .corrupt = simdev_corrupt_reply,
                                    .ctx = &r->dev, .frame_length = hy_frame_length};
    r->wire.port[0] = (struct simwire_port){.fd = r->hy.wire_fd, .unit = 1};
    if (rig_threads(r) != 0)
        goto bad;
    hy_params(r, &p);
    r->d = drive_hy_open(&p, fake_now, NULL, err, sizeof err);
    if (r->d)
        return true;
bad:
    printf("  rig: %s\n", err[0] ? err : strerror(errno));
    return false;
}

static void rig_close(struct rig *r)
{
    drive_hy_close(r->d);
    if (r->stop[1] >= 0 && write(r->stop[1], "x", 1) < 0)
        printf("  rig: cannot stop the threads\n");
    for (int i = 0; i < r->nthreads; i++)
        pthread_join(r->threads[i], NULL);
    simhy_close(&r->hy);
    const int fds[] = {r->master, r->slave, r->stop[0], r->stop[1]};
    for (size_t i = 0; i < sizeof fds / sizeof fds[0]; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    if (r->dev_ready)
        simdev_fini(&r->dev);
}

/* ---- the simulated drive, seen from the test ----------------------------------------- */

struct vfd_view {
    bool running, tripped;
    uint16_t setpoint_raw;
};

static struct vfd_view vfd(struct rig *r)
{
    pthread_mutex_lock(&r->dev.lock);
    struct vfd_view v = {r->dev.vfd.running, r->dev.vfd.tripped, r->dev.vfd.setpoint_raw};
    pthread_mutex_unlock(&r->dev.lock);
    return v;
}

/* The motor at the drive's target, a foot of force_n on the belt (what the rig would do). */
static void motor_follows(struct rig *r, double force_n)
{
    pthread_mutex_lock(&r->dev.lock);
    simvfd_set_outputs(&r->dev.vfd, simvfd_belt_target(&r->dev.vfd), force_n);
    pthread_mutex_unlock(&r->dev.lock);
}

static void fault(struct rig *r, const char *spec)
{
    char err[ERRLEN];

    pthread_mutex_lock(&r->dev.lock);
    if (spec)
        CHECK_INT(simfault_add(&r->dev.plan, spec, err, sizeof err), 0);
    else
        r->dev.plan.n = 0;
    pthread_mutex_unlock(&r->dev.lock);
}

static struct hal_drive_status status(struct rig *r)
{
    struct hal_drive_status st;

    drive_hy_status(r->d, &st);
    return st;
}

static void polls(struct rig *r, int n)
{
    for (int i = 0; i < n; i++)
        drive_hy_poll(r->d);
}

/* ---- tests ------------------------------------------------------------------------- */

TEST(run_writes_the_frequency_and_the_speed_is_the_output_frequency)
{
    struct rig r;

    if (!rig_open(&r)) {
        CHECK(!"rig");
        rig_close(&r);
        return;
    }
    struct hal_drive_status st = status(&r);
    CHECK(st.present);
    CHECK_INT(st.t_speed, -1);
    CHECK_INT(drive_hy_set_speed(r.d, 0.3), 0);
    CHECK_INT(vfd(&r).running, 0);           /* only a wish until the I/O side runs */
    CHECK_INT(drive_hy_poll(r.d), 0);
    CHECK(vfd(&r).running);
    CHECK_INT(vfd(&r).setpoint_raw, 1800);   /* 0.3 m/s x 60 Hz/(m/s) x 100 */
    CHECK(drive_hy_control_status(r.d) & HY_ST_RUN);
    motor_follows(&r, 50.0);
    polls(&r, DRIVE_HY_CURRENT_EVERY);
    st = status(&r);
    CHECK_NEAR(st.speed_mps, 0.3, 1e-4);
    CHECK(st.t_speed >= 100.0);
    CHECK_NEAR(st.current_a, SIMVFD_NO_LOAD_A + SIMVFD_A_PER_N * 50.0, 0.051);
    CHECK(st.healthy && !st.comm_lost && !st.tripped);
    CHECK(st.tx_ok >= 2 * DRIVE_HY_CURRENT_EVERY);
    CHECK_INT(st.tx_failed, 0);
    CHECK_INT(drive_hy_set_speed(r.d, 2.0), 0);   /* 120 Hz: clamped to max_hz */
    polls(&r, 1);
    CHECK_INT(vfd(&r).setpoint_raw, 6000);
    rig_close(&r);
}

TEST(stop_stops_the_drive_and_zeroes_the_frequency)
{
    struct rig r;

    if (!rig_open(&r)) {
        CHECK(!"rig");
        rig_close(&r);
        return;
    }
    drive_hy_set_speed(r.d, 0.2);
    polls(&r, 2);
    CHECK(vfd(&r).running);
    CHECK_INT(drive_hy_stop(r.d), 0);
    polls(&r, 1);
    CHECK(!vfd(&r).running);
    CHECK_INT(vfd(&r).setpoint_raw, 0);
    CHECK(!(drive_hy_control_status(r.d) & HY_ST_RUN));
    CHECK_INT(drive_hy_set_speed(r.d, NAN), -1);
    CHECK_INT(drive_hy_set_speed(r.d, -0.1), -1);
    rig_close(&r);
}

TEST(a_tripped_drive_refuses_run_and_reports_a_trip_until_reset)
{
    struct rig r;

    if (!rig_open(&r)) {
        CHECK(!"rig");
        rig_close(&r);
        return;
    }
    drive_hy_set_speed(r.d, 0.2);
    polls(&r, 2);
    pthread_mutex_lock(&r.dev.lock);
    simvfd_trip(&r.dev.vfd, 7, simdev_now(&r.dev) + 3600.0);   /* the cause persists */
    pthread_mutex_unlock(&r.dev.lock);
    polls(&r, DRIVE_HY_REFUSED_AFTER - 1);
    CHECK(!status(&r).tripped);              /* one refusal may be the reply's lag */
    polls(&r, 1);
    CHECK(status(&r).tripped);
    CHECK_INT(status(&r).fault_code, DRIVE_HY_CODE_RUN_REFUSED);
    /* The operator's reset: stop written, the refusal forgotten; the cause is still there,
     * so run is refused again. */
    drive_hy_reset(r.d);
    polls(&r, 1);
    CHECK(!status(&r).tripped);
    polls(&r, DRIVE_HY_REFUSED_AFTER);
    CHECK(status(&r).tripped);
    /* The cause gone: the reset's stop clears the drive's trip, run is taken again. */
    pthread_mutex_lock(&r.dev.lock);
    r.dev.vfd.trip_hold_until = 0.0;
    pthread_mutex_unlock(&r.dev.lock);
    drive_hy_reset(r.d);
    polls(&r, DRIVE_HY_REFUSED_AFTER + 1);
    CHECK(!vfd(&r).tripped);
    CHECK(vfd(&r).running);
    CHECK(!status(&r).tripped);
    CHECK_INT(status(&r).fault_code, 0);
    rig_close(&r);
}

TEST(a_silent_drive_is_comm_lost_then_back)
{
    struct rig r;

    if (!rig_open(&r)) {
        CHECK(!"rig");
        rig_close(&r);
        return;
    }
    polls(&r, 3);
    CHECK(status(&r).healthy);
    fault(&r, "drive-silent@0");
    polls(&r, 2);
    CHECK(!status(&r).comm_lost);            /* fail_after = 3 failed transactions */
    polls(&r, 1);
    struct hal_drive_status st = status(&r);
    CHECK(st.comm_lost && !st.healthy);
    CHECK_INT(st.timeouts, 3);               /* one per cycle: a timeout ends the cycle */
    CHECK_INT(st.tx_failed, 3);
    fault(&r, NULL);
    polls(&r, 1);                            /* 2 or 3 good transactions of healthy_after 5 */
    CHECK(status(&r).comm_lost);             /* back only once healthy_after good ones */
    polls(&r, 2);
    st = status(&r);
    CHECK(!st.comm_lost && st.healthy);
    rig_close(&r);
}

TEST(corrupt_and_refused_answers_are_counted_by_kind)
{
    struct rig r;

    if (!rig_open(&r)) {
        CHECK(!"rig");
        rig_close(&r);
        return;
    }
    fault(&r, "drive-corrupt@0");
    polls(&r, 2);
    struct hal_drive_status st = status(&r);
    CHECK_INT(st.bad_frames, 2);
    CHECK_INT(st.timeouts, 0);
    fault(&r, NULL);
    fault(&r, "drive-exception@0");
    polls(&r, 1);
    st = status(&r);
    /* a refusal does not end the cycle: the stop, the frequency (never written yet) and the
     * output frequency read are each refused */
    CHECK_INT(st.exceptions, 3);
    CHECK_INT(st.bad_frames, 2);
    CHECK(st.comm_lost);                     /* failed 5 times in a row: comm loss */
    rig_close(&r);
}

TEST(closing_writes_stop_from_the_drives_own_thread)
{
    struct rig r;

    if (!rig_open(&r)) {
        CHECK(!"rig");
        rig_close(&r);
        return;
    }
    CHECK_INT(drive_hy_start(r.d), 0);
    drive_hy_set_speed(r.d, 0.25);
    WAIT_UNTIL(vfd(&r).running);
    CHECK(vfd(&r).running);
    CHECK_INT(vfd(&r).setpoint_raw, 1500);
    drive_hy_close(r.d);                     /* the thread writes stop and 0 Hz, then ends */
    r.d = NULL;
    CHECK(!vfd(&r).running);
    CHECK_INT(vfd(&r).setpoint_raw, 0);
    rig_close(&r);
}

TEST(bad_parameters_are_refused_with_a_reason)
{
    struct rig r;
    struct drive_hy_params p;
    char err[ERRLEN];

    memset(&r, 0, sizeof r);
    snprintf(r.path, sizeof r.path, "/dev/null");
    rig_config(&r.cfg);
    hy_params(&r, &p);
    p.addr = 0;
    CHECK(drive_hy_open(&p, fake_now, NULL, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "address 1 to 247");
    hy_params(&r, &p);
    p.link.baud = 12345;
    CHECK(drive_hy_open(&p, fake_now, NULL, err, sizeof err) == NULL);
    CHECK_STR_CONTAINS(err, "12345 baud");
    hy_params(&r, &p);
    struct drive_hy *d = drive_hy_open(&p, fake_now, NULL, err, sizeof err);
    CHECK(d != NULL);
    drive_hy_close(d);
    drive_hy_close(NULL);
}

TESTS(T(run_writes_the_frequency_and_the_speed_is_the_output_frequency),
      T(stop_stops_the_drive_and_zeroes_the_frequency),
      T(a_tripped_drive_refuses_run_and_reports_a_trip_until_reset),
      T(a_silent_drive_is_comm_lost_then_back),
      T(corrupt_and_refused_answers_are_counted_by_kind),
      T(closing_writes_stop_from_the_drives_own_thread),
      T(bad_parameters_are_refused_with_a_reason));

TEST_MAIN("test_drive_hy")
