/* test_mbsim.c - eccsim's register maps, faults and wire arithmetic, without sockets:
 * the simulated VFD (sim/simvfd.c) for each drive profile, its comm-loss watchdog on an
 * injected clock, the load-cell transmitter's encodings (sim/simlc.c), the fault
 * schedule (sim/simfault.c), the devices behind the servers (sim/simdev.c), request
 * parsing (sim/simsrv.c), the RTU wire's timing and framing (sim/simwire.c) and the
 * Huanyang HY's answers (sim/simhy.c).
 */
#include <math.h>
#include <modbus.h>
#include <string.h>

#include "config/config.h"
#include "hal/drive_profile.h"
#include "hal/hy_frame.h"
#include "util/log.h"
#include "sim/simdev.h"
#include "sim/simfault.h"
#include "sim/simhy.h"
#include "sim/simlc.h"
#include "sim/simsrv.h"
#include "sim/simvfd.h"
#include "sim/simwire.h"
#include "tests/test.h"

#define HZ_PER_MPS 60.0
#define MAX_HZ 50.0
#define WATCHDOG_S 1.0

/* ---- helpers ----------------------------------------------------------------------- */

static struct simvfd vfd_for(const char *profile)
{
    struct simvfd_params p = {.hz_per_mps = HZ_PER_MPS, .max_hz = MAX_HZ,
                              .watchdog_s = WATCHDOG_S};
    struct simvfd v;

    if (drive_profile_builtin(profile, &p.prof) != 0)
        memset(&p.prof, 0, sizeof p.prof);
    simvfd_init(&v, &p);
    return v;
}

static int write1(struct simvfd *v, double t, int reg, uint16_t val)
{
    return simvfd_write(v, t, reg, 1, &val);
}

static uint16_t read1(const struct simvfd *v, int reg)
{
    uint16_t x = 0xDEAD;

    CHECK_INT(simvfd_read(v, reg, 1, &x), 0);
    return x;
}

/* Run at hz from time t (setpoint first, then the run command, as eccd does). */
static void run_at(struct simvfd *v, double t, double hz)
{
    CHECK_INT(write1(v, t, v->p.prof.reg_setpoint,
                     drive_profile_setpoint_raw(&v->p.prof, hz, MAX_HZ)), 0);
    CHECK_INT(write1(v, t, v->p.prof.reg_command, v->p.prof.cmd_run), 0);
}

/* ---- the drive: setpoint, frequency, current --------------------------------------- */

TEST(delta_setpoint_register_sets_belt_speed_only_while_running)
{
    struct simvfd v = vfd_for("delta-vfd");

    CHECK_INT(write1(&v, 0.0, 0x2001, 1800), 0);            /* 18.00 Hz */
    CHECK_NEAR(simvfd_setpoint_mps(&v), 0.30, 1e-9);
    CHECK_NEAR(simvfd_belt_target(&v), 0.0, 0.0);           /* not running yet */
    CHECK_INT(write1(&v, 0.0, 0x2000, 0x0012), 0);          /* run forward */
    CHECK_NEAR(simvfd_belt_target(&v), 0.30, 1e-9);
    CHECK_INT(write1(&v, 0.1, 0x2000, 0x0001), 0);          /* stop */
    CHECK_NEAR(simvfd_belt_target(&v), 0.0, 0.0);
    CHECK_INT(read1(&v, 0x2001), 1800);
}

TEST(optidrive_setpoint_is_hz_times_10_at_register_2)
{
    struct simvfd v = vfd_for("optidrive-e3");

    /* manual register 2 = wire address 1 */
    CHECK_INT(v.p.prof.reg_setpoint, 1);
    CHECK_INT(write1(&v, 0.0, 1, 180), 0);                  /* 18.0 Hz */
    CHECK_INT(write1(&v, 0.0, v.p.prof.reg_command, v.p.prof.cmd_run), 0);
    CHECK_NEAR(simvfd_belt_target(&v), 0.30, 1e-9);
}

TEST(huanyang_setpoint_is_percent_of_max_hz)
{
    struct simvfd v = vfd_for("huanyang-gt");

    CHECK(v.p.prof.setpoint_percent);
    CHECK_INT(write1(&v, 0.0, 0x2000, 3600), 0);            /* 36.00 % of 50 Hz = 18 Hz */
    CHECK_INT(write1(&v, 0.0, 0x1000, v.p.prof.cmd_run), 0);
    CHECK_NEAR(simvfd_belt_target(&v), 0.30, 1e-9);
}

TEST(generic_profile_from_config_is_served_as_written)
{
    struct ecc_config cfg;
    struct simvfd_params p = {.hz_per_mps = HZ_PER_MPS, .max_hz = MAX_HZ};
    struct simvfd v;
    char err[256] = "";

    config_defaults(&cfg);
    snprintf(cfg.drive.profile, sizeof cfg.drive.profile, "generic");
    cfg.profile.reg_command = 10;
    cfg.profile.reg_setpoint = 11;
    cfg.profile.setpoint_scale = 10;
    cfg.profile.reg_freq = 12;
    cfg.profile.freq_scale = 10;
    CHECK_INT(drive_profile_from_config(&cfg, &p.prof, err, sizeof err), 0);
    simvfd_init(&v, &p);
    CHECK_INT(write1(&v, 0.0, 11, 120), 0);                 /* 12.0 Hz */
    CHECK_INT(write1(&v, 0.0, 10, (uint16_t)cfg.profile.cmd_run), 0);
    CHECK_NEAR(simvfd_belt_target(&v), 0.2, 1e-9);
    simvfd_set_outputs(&v, 0.2, 0.0);
    CHECK_INT(read1(&v, 12), 120);
}

TEST(setpoint_beyond_max_hz_is_clamped)
{
    struct simvfd v = vfd_for("delta-vfd");

    CHECK_INT(write1(&v, 0.0, 0x2001, 9000), 0);            /* 90 Hz asked, 50 Hz max */
    CHECK_INT(write1(&v, 0.0, 0x2000, 0x0012), 0);
    CHECK_NEAR(simvfd_belt_target(&v), MAX_HZ / HZ_PER_MPS, 1e-9);
}

TEST(output_frequency_follows_the_motor_in_each_profile)
{
    struct simvfd d = vfd_for("delta-vfd"), o = vfd_for("optidrive-e3");

    simvfd_set_outputs(&d, 0.30, 0.0);
    simvfd_set_outputs(&o, 0.30, 0.0);
    CHECK_INT(read1(&d, 0x2103), 1800);                     /* Hz x 100 */
    CHECK_INT(read1(&o, 6), 180);                           /* register 7, Hz x 10 */
    CHECK_NEAR(drive_profile_freq_hz(&d.p.prof, read1(&d, 0x2103)), 18.0, 1e-9);
}

TEST(coast_switches_the_output_off_at_once)
{
    struct simvfd v = vfd_for("optidrive-e3");

    run_at(&v, 0.0, 18.0);
    simvfd_set_outputs(&v, 0.30, 0.0);
    CHECK_INT(write1(&v, 0.1, 0, v.p.prof.cmd_coast), 0);
    CHECK_NEAR(simvfd_belt_target(&v), 0.0, 0.0);
    CHECK_INT(read1(&v, v.p.prof.reg_freq), 0);             /* the motor still turns */
}

TEST(current_rises_with_foot_load_while_the_output_is_on)
{
    struct simvfd v = vfd_for("delta-vfd");
    double scale = v.p.prof.current_scale;

    CHECK_INT(read1(&v, v.p.prof.reg_current), 0);          /* stopped */
    simvfd_set_outputs(&v, 0.30, 100.0);
    CHECK_NEAR(read1(&v, v.p.prof.reg_current) / scale,
               SIMVFD_NO_LOAD_A + 100.0 * SIMVFD_A_PER_N, 1.0 / scale);
}

TEST(status_shows_running_and_at_speed)
{
    struct simvfd v = vfd_for("delta-vfd");

    run_at(&v, 0.0, 18.0);
    simvfd_set_outputs(&v, 0.10, 0.0);
    CHECK_INT(read1(&v, 0x2101) & (SIMVFD_ST_RUNNING | SIMVFD_ST_AT_SPEED), SIMVFD_ST_RUNNING);
    simvfd_set_outputs(&v, 0.30, 0.0);
    CHECK(read1(&v, 0x2101) & SIMVFD_ST_AT_SPEED);
    CHECK_INT(read1(&v, 0x2100), 0);                        /* healthy */
}

/* ---- the drive: what it refuses ---------------------------------------------------- */

TEST(writes_to_registers_the_drive_lacks_are_illegal_data_address)
{
    struct simvfd v = vfd_for("delta-vfd");
    uint16_t two[2] = {1800, 0x0012};

    CHECK_INT(write1(&v, 0.0, 0x2103, 5), MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    CHECK_INT(write1(&v, 0.0, 0x3000, 5), MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    /* a block write that runs off the writable registers changes nothing */
    CHECK_INT(simvfd_write(&v, 0.0, 0x2001, 2, two) != 0, 1);
    CHECK_INT(read1(&v, 0x2001), 0);
}

TEST(unknown_command_value_is_illegal_data_value)
{
    struct simvfd v = vfd_for("delta-vfd");

    CHECK_INT(write1(&v, 0.0, 0x2000, 0x7777), MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    CHECK(!v.running);
}

TEST(reads_outside_the_register_groups_are_illegal_data_address)
{
    struct simvfd v = vfd_for("delta-vfd");
    uint16_t out[8];

    CHECK_INT(simvfd_read(&v, 0x2100, 5, out), 0);          /* the status group */
    CHECK_INT(simvfd_read(&v, 0x0000, 1, out), MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    CHECK_INT(simvfd_read(&v, 0x2103, 8, out), MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    CHECK_INT(simvfd_read(&v, 0x2050, 1, out), MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
}

/* ---- the drive: watchdog and trips (injected clock) -------------------------------- */

TEST(watchdog_fires_after_watchdog_s_without_setpoint_writes_and_not_before)
{
    struct simvfd v = vfd_for("delta-vfd");

    run_at(&v, 0.0, 18.0);
    simvfd_tick(&v, 0.9);
    CHECK_INT(write1(&v, 0.9, 0x2001, 1800), 0);            /* fed at 0.9 s */
    simvfd_tick(&v, 0.9 + WATCHDOG_S - 0.001);
    CHECK(!v.tripped);
    CHECK_NEAR(simvfd_belt_target(&v), 0.30, 1e-9);
    simvfd_tick(&v, 0.9 + WATCHDOG_S);
    CHECK(v.tripped);
    CHECK(v.comm_loss);
    CHECK_INT(read1(&v, 0x2100), SIMVFD_CODE_COMM_LOSS);
    CHECK(read1(&v, 0x2101) & SIMVFD_ST_COMM_LOSS);
    CHECK_NEAR(simvfd_belt_target(&v), 0.0, 0.0);
}

TEST(watchdog_sleeps_while_the_drive_is_stopped)
{
    struct simvfd v = vfd_for("delta-vfd");

    CHECK_INT(write1(&v, 0.0, 0x2001, 1800), 0);
    simvfd_tick(&v, 100.0);
    CHECK(!v.tripped);
    run_at(&v, 100.0, 18.0);
    CHECK_INT(write1(&v, 100.5, 0x2000, 0x0001), 0);        /* stopped again */
    simvfd_tick(&v, 200.0);
    CHECK(!v.tripped);
}

TEST(reads_and_repeated_run_commands_do_not_feed_the_watchdog)
{
    struct simvfd v = vfd_for("delta-vfd");
    uint16_t out;

    run_at(&v, 0.0, 18.0);                                  /* fed at 0 */
    CHECK_INT(write1(&v, 0.5, 0x2000, 0x0012), 0);          /* already running */
    CHECK_INT(simvfd_read(&v, 0x2103, 1, &out), 0);
    simvfd_tick(&v, WATCHDOG_S);
    CHECK(v.tripped);
}

TEST(trip_needs_a_reset_before_it_runs_again)
{
    struct simvfd v = vfd_for("delta-vfd");
    const struct drive_profile *p = &v.p.prof;

    run_at(&v, 0.0, 18.0);
    simvfd_trip(&v, 7, 1.0);
    CHECK(!v.running);
    CHECK_INT(read1(&v, 0x2100), 7);
    CHECK_INT(write1(&v, 1.0, 0x2000, 0x0012), 0);          /* ignored while tripped */
    CHECK_NEAR(simvfd_belt_target(&v), 0.0, 0.0);
    CHECK_INT(write1(&v, 1.0, p->reg_reset, p->cmd_reset), 0);
    CHECK(!v.tripped);
    CHECK_INT(read1(&v, 0x2100), 0);
    CHECK_NEAR(simvfd_belt_target(&v), 0.0, 0.0);           /* no restart by itself */
    CHECK_INT(write1(&v, 1.1, 0x2000, 0x0012), 0);
    CHECK_NEAR(simvfd_belt_target(&v), 0.30, 1e-9);
}

TEST(reset_is_refused_while_the_trip_cause_persists)
{
    struct simvfd v = vfd_for("optidrive-e3");
    const struct drive_profile *p = &v.p.prof;

    simvfd_trip(&v, 9, 5.0);
    CHECK_INT(write1(&v, 4.9, p->reg_reset, p->cmd_reset), 0);
    CHECK(v.tripped);
    CHECK_INT(write1(&v, 5.0, p->reg_reset, p->cmd_reset), 0);
    CHECK(!v.tripped);
}

TEST(watchdog_trip_is_cleared_by_reset)
{
    struct simvfd v = vfd_for("delta-vfd");
    const struct drive_profile *p = &v.p.prof;

    run_at(&v, 0.0, 18.0);
    simvfd_tick(&v, 2.0);
    CHECK(v.comm_loss);
    CHECK_INT(write1(&v, 2.1, p->reg_reset, p->cmd_reset), 0);
    CHECK(!v.tripped && !v.comm_loss);
}

TEST(shared_status_fault_register_carries_code_high_status_low)
{
    struct simvfd v = vfd_for("optidrive-e3");
    uint16_t w;

    REQUIRE(v.p.prof.reg_status == v.p.prof.reg_fault);   /* the premise: they share one */
    simvfd_trip(&v, 7, 0.0);
    w = read1(&v, v.p.prof.reg_fault);
    CHECK_INT(w >> 8, 7);
    CHECK(w & SIMVFD_ST_TRIPPED);
}

TEST(fault_stop_coasts_when_stop_mode_is_coast)
{
    struct simvfd_params p = {.hz_per_mps = HZ_PER_MPS, .max_hz = MAX_HZ,
                              .coast_on_fault = true};
    struct simvfd v;

    drive_profile_builtin("delta-vfd", &p.prof);
    simvfd_init(&v, &p);
    run_at(&v, 0.0, 18.0);
    simvfd_set_outputs(&v, 0.30, 0.0);
    simvfd_trip(&v, 7, 0.0);
    CHECK_INT(read1(&v, 0x2103), 0);
}

/* ---- the load cell ----------------------------------------------------------------- */

TEST(loadcell_encodes_each_type_and_word_order)
{
    uint16_t w[2];
    float f;
    uint32_t bits;

    CHECK_INT(simlc_encode(CFG_DT_INT16, CFG_WORDS_BIG, -5.0, w), 1);
    CHECK_INT(w[0], 0xFFFB);
    CHECK_INT(simlc_encode(CFG_DT_INT16, CFG_WORDS_BIG, 1e6, w), 1);
    CHECK_INT(w[0], 0x7FFF);                                /* clamped */
    CHECK_INT(simlc_encode(CFG_DT_UINT16, CFG_WORDS_BIG, -3.0, w), 1);
    CHECK_INT(w[0], 0);
    CHECK_INT(simlc_encode(CFG_DT_INT32, CFG_WORDS_BIG, -100000.0, w), 2);
    CHECK_INT(w[0], 0xFFFE);
    CHECK_INT(w[1], 0x7960);
    CHECK_INT(simlc_encode(CFG_DT_INT32, CFG_WORDS_LITTLE, -100000.0, w), 2);
    CHECK_INT(w[0], 0x7960);
    CHECK_INT(w[1], 0xFFFE);
    CHECK_INT(simlc_encode(CFG_DT_UINT32, CFG_WORDS_BIG, 70000.4, w), 2);
    CHECK_INT(w[0], 0x0001);
    CHECK_INT(w[1], 0x1170);
    CHECK_INT(simlc_encode(CFG_DT_FLOAT32, CFG_WORDS_BIG, 12.5, w), 2);
    CHECK_INT(w[0], 0x4148);
    CHECK_INT(w[1], 0x0000);
    CHECK_INT(simlc_encode(CFG_DT_FLOAT32, CFG_WORDS_LITTLE, -0.25, w), 2);
    bits = (uint32_t)w[1] << 16 | w[0];
    memcpy(&f, &bits, sizeof f);
    CHECK_NEAR(f, -0.25, 0.0);
}

static struct simlc lc_with(enum cfg_data_type t, enum cfg_word_order o)
{
    struct simlc_params p = {.reg = 10, .kind = CFG_REG_HOLDING, .type = t, .order = o,
                             .scale = 0.01, .offset = 1000, .full_scale_n = 1000,
                             .tare_reg = 20, .tare_value = 1};
    struct simlc lc;

    simlc_init(&lc, &p);
    return lc;
}

/* The newtons eccd would compute from the registers. */
static double lc_newtons(const struct simlc *lc)
{
    uint16_t w[2];
    uint32_t v;
    float f;
    int n = simlc_type_words(lc->p.type);

    CHECK_INT(simlc_read(lc, MODBUS_FC_READ_HOLDING_REGISTERS, lc->p.reg, n, w), 0);
    if (n == 1)
        return ((lc->p.type == CFG_DT_INT16 ? (double)(int16_t)w[0] : (double)w[0]) -
                lc->p.offset) * lc->p.scale;
    v = lc->p.order == CFG_WORDS_BIG ? (uint32_t)w[0] << 16 | w[1] : (uint32_t)w[1] << 16 | w[0];
    if (lc->p.type == CFG_DT_FLOAT32) {
        memcpy(&f, &v, sizeof f);
        return ((double)f - lc->p.offset) * lc->p.scale;
    }
    return ((lc->p.type == CFG_DT_INT32 ? (double)(int32_t)v : (double)v) - lc->p.offset) *
           lc->p.scale;
}

TEST(loadcell_reading_round_trips_through_scale_and_offset)
{
    static const enum cfg_data_type types[] = {CFG_DT_INT16, CFG_DT_UINT16, CFG_DT_INT32,
                                               CFG_DT_UINT32, CFG_DT_FLOAT32};

    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        for (int o = CFG_WORDS_BIG; o <= CFG_WORDS_LITTLE; o++) {
            struct simlc lc = lc_with(types[i], (enum cfg_word_order)o);

            simlc_set_force(&lc, 57.3);
            CHECK_NEAR(lc_newtons(&lc), 57.3, 0.006);
            simlc_set_force(&lc, 0.0);
            CHECK_NEAR(lc_newtons(&lc), 0.0, 0.006);
        }
    }
}

TEST(loadcell_tare_zeroes_the_reading)
{
    struct simlc lc = lc_with(CFG_DT_INT32, CFG_WORDS_BIG);
    uint16_t one = 1, two = 2;

    simlc_set_force(&lc, 30.0);
    CHECK_INT(simlc_write(&lc, 20, 1, &two), MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    CHECK_INT(simlc_write(&lc, 20, 1, &one), 0);
    CHECK_NEAR(lc_newtons(&lc), 0.0, 0.006);
    simlc_set_force(&lc, 40.0);
    CHECK_NEAR(lc_newtons(&lc), 10.0, 0.006);
}

TEST(loadcell_freeze_holds_and_saturate_goes_to_the_type_limit)
{
    struct simlc lc = lc_with(CFG_DT_INT32, CFG_WORDS_BIG);
    struct simlc fl = lc_with(CFG_DT_FLOAT32, CFG_WORDS_BIG);
    uint16_t w[2];

    simlc_set_force(&lc, 50.0);
    simlc_freeze(&lc, true);
    simlc_set_force(&lc, 80.0);
    CHECK_NEAR(lc_newtons(&lc), 50.0, 0.006);
    simlc_freeze(&lc, false);
    CHECK_NEAR(lc_newtons(&lc), 80.0, 0.006);
    simlc_saturate(&lc, true);
    simlc_words(&lc, w);
    CHECK_INT((uint32_t)w[0] << 16 | w[1], 0x7FFFFFFF);
    simlc_saturate(&fl, true);
    CHECK_NEAR(lc_newtons(&fl), 1000.0, 0.01);              /* float32: full scale */
}

TEST(loadcell_answers_only_its_registers_and_kind)
{
    struct simlc lc = lc_with(CFG_DT_INT32, CFG_WORDS_BIG);
    struct simlc_params p = lc.p;
    uint16_t w[4];

    CHECK_INT(simlc_read(&lc, MODBUS_FC_READ_HOLDING_REGISTERS, 10, 2, w), 0);
    CHECK_INT(simlc_read(&lc, MODBUS_FC_READ_HOLDING_REGISTERS, 10, 3, w),
              MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    CHECK_INT(simlc_read(&lc, MODBUS_FC_READ_INPUT_REGISTERS, 10, 2, w),
              MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    CHECK_INT(simlc_write(&lc, 10, 1, w), MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    p.kind = CFG_REG_INPUT;
    simlc_init(&lc, &p);
    CHECK_INT(simlc_read(&lc, MODBUS_FC_READ_INPUT_REGISTERS, 10, 2, w), 0);
    CHECK_INT(simlc_read(&lc, MODBUS_FC_READ_HOLDING_REGISTERS, 10, 2, w),
              MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
}

/* ---- the fault schedule ------------------------------------------------------------ */

TEST(fault_specs_parse_with_and_without_duration)
{
    struct simfault_plan p = {0};
    char err[256];

    CHECK_INT(simfault_add(&p, "drive-silent@5:2", err, sizeof err), 0);
    CHECK_INT(simfault_add(&p, "lc-freeze@12.5", err, sizeof err), 0);
    CHECK_INT(p.n, 2);
    CHECK_INT(p.f[0].kind, SIMFAULT_DRIVE_SILENT);
    CHECK_NEAR(p.f[0].t_start, 5.0, 0.0);
    CHECK_NEAR(simfault_end(&p.f[0]), 7.0, 1e-12);
    CHECK(isinf(simfault_end(&p.f[1])));
    CHECK(!simfault_active(&p, SIMFAULT_DRIVE_SILENT, 4.999));
    CHECK(simfault_active(&p, SIMFAULT_DRIVE_SILENT, 5.0));
    CHECK(simfault_active(&p, SIMFAULT_DRIVE_SILENT, 6.999));
    CHECK(!simfault_active(&p, SIMFAULT_DRIVE_SILENT, 7.0));
    CHECK(simfault_active(&p, SIMFAULT_LC_FREEZE, 1e6));
    CHECK(!simfault_active(&p, SIMFAULT_LC_SATURATE, 13.0));
}

TEST(bad_fault_specs_are_refused_with_a_reason)
{
    static const char *const bad[] = {"drive-silent", "bogus@1", "drive-silent@", "lc-freeze@-1",
                                      "lc-freeze@1:", "lc-freeze@1:x", "drive-late@1x",
                                      "drive-late@nan"};
    struct simfault_plan p = {0};
    char err[256];

    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_INT(simfault_add(&p, bad[i], err, sizeof err), -1);
        CHECK_STR_CONTAINS(err, bad[i]);
    }
    CHECK_INT(p.n, 0);
}

struct edge_log {
    int n;
    bool start[8];
    double t[8];
};

static void log_edge(void *ctx, const struct simfault *f, bool start, double t)
{
    struct edge_log *l = ctx;

    (void)f;
    if (l->n < 8) {
        l->start[l->n] = start;
        l->t[l->n++] = t;
    }
}

TEST(fault_edges_are_reported_once_at_their_times)
{
    struct simfault_plan p = {0};
    struct edge_log l = {0};
    char err[256];

    simfault_add(&p, "lc-saturate@2:0.5", err, sizeof err);
    simfault_edges(&p, 1.9, log_edge, &l);
    CHECK_INT(l.n, 0);
    simfault_edges(&p, 2.0, log_edge, &l);
    simfault_edges(&p, 2.1, log_edge, &l);
    CHECK_INT(l.n, 1);
    simfault_edges(&p, 9.0, log_edge, &l);
    simfault_edges(&p, 9.5, log_edge, &l);
    CHECK_INT(l.n, 2);
    CHECK(l.start[0] && !l.start[1]);
    CHECK_NEAR(l.t[0], 2.0, 0.0);
    CHECK_NEAR(l.t[1], 2.5, 1e-12);
}

/* ---- the devices behind the servers ------------------------------------------------ */

static int dev_for(struct simdev *d, const char *faults)
{
    struct ecc_config cfg;
    struct drive_profile prof;
    struct simfault_plan plan = {0};
    char err[256], spec[64];
    const char *s = faults;

    log_set_level(LOG_LVL_WARN);     /* no fault start/end lines among the results */
    config_defaults(&cfg);
    cfg.drive.hz_per_mps = HZ_PER_MPS;
    cfg.drive.max_hz = MAX_HZ;
    cfg.drive.watchdog_s = WATCHDOG_S;
    cfg.eccsim.trip_code = 33;
    drive_profile_builtin("delta-vfd", &prof);
    while (s && *s) {                /* "a;b;c" */
        size_t n = strcspn(s, ";");
        snprintf(spec, sizeof spec, "%.*s", (int)n, s);
        CHECK_INT(simfault_add(&plan, spec, err, sizeof err), 0);
        s += n + (s[n] == ';');
    }
    return simdev_init(d, &cfg, &prof, &plan, err, sizeof err);
}

static struct simdev_req req_write(int addr, uint16_t v)
{
    struct simdev_req r = {.fc = MODBUS_FC_WRITE_SINGLE_REGISTER, .addr = addr, .count = 1};

    r.vals[0] = v;
    return r;
}

TEST(drive_and_loadcell_on_one_unit_are_refused)
{
    struct ecc_config cfg;
    struct drive_profile prof;
    struct simdev d;
    char err[256] = "";

    config_defaults(&cfg);
    cfg.loadcell.unit_id = cfg.drive.unit_id;
    drive_profile_builtin("delta-vfd", &prof);
    CHECK_INT(simdev_init(&d, &cfg, &prof, NULL, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "unit_id");
}

TEST(fault_actions_per_unit_and_time)
{
    struct simdev d;

    CHECK_INT(dev_for(&d, "drive-silent@1:1;drive-late@3:1;drive-exception@5:1;"
                          "drive-corrupt@7:1;lc-silent@9:1"), 0);
    CHECK_INT(simdev_action(&d, d.drive_unit, 0.5), SIMDEV_ANSWER);
    CHECK_INT(simdev_action(&d, d.drive_unit, 1.5), SIMDEV_SILENT);
    CHECK_INT(simdev_action(&d, d.lc_unit, 1.5), SIMDEV_ANSWER);
    CHECK_INT(simdev_action(&d, d.drive_unit, 3.5), SIMDEV_LATE);
    CHECK_INT(simdev_action(&d, d.drive_unit, 5.5), SIMDEV_EXCEPTION);
    CHECK_INT(simdev_action(&d, d.drive_unit, 7.5), SIMDEV_CORRUPT);
    CHECK_INT(simdev_action(&d, d.lc_unit, 9.5), SIMDEV_SILENT);
    CHECK_INT(simdev_action(&d, d.drive_unit, 9.5), SIMDEV_ANSWER);
    CHECK_NEAR(d.late_s, 3 * 0.050, 1e-12);                 /* 3 x drive.timeout_ms (50) */
    simdev_fini(&d);
}

TEST(requests_reach_the_unit_they_name)
{
    struct simdev d;
    struct simdev_req w = req_write(0x2001, 1800);
    struct simdev_req r = {.fc = MODBUS_FC_READ_HOLDING_REGISTERS, .addr = 0x2001, .count = 1};
    uint16_t out[2];

    CHECK_INT(dev_for(&d, NULL), 0);
    CHECK_INT(simdev_execute(&d, d.drive_unit, &w, 0.0, out), 0);
    CHECK_INT(simdev_execute(&d, d.drive_unit, &r, 0.0, out), 0);
    CHECK_INT(out[0], 1800);
    CHECK_INT(simdev_execute(&d, d.lc_unit, &r, 0.0, out), MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    CHECK_INT(simdev_execute(&d, 99, &r, 0.0, out), MODBUS_EXCEPTION_GATEWAY_TARGET);
    simdev_fini(&d);
}

TEST(drive_trip_fault_trips_with_trip_code_and_belt_stops)
{
    struct simdev d;
    struct simdev_snapshot s;
    struct simdev_rig in = {.motor_mps = 0.3};
    struct simdev_req sp = req_write(0x2001, 1800), run = req_write(0x2000, 0x0012);
    uint16_t out[2];

    CHECK_INT(dev_for(&d, "drive-trip@1"), 0);
    simdev_execute(&d, d.drive_unit, &sp, 0.5, out);
    simdev_execute(&d, d.drive_unit, &run, 0.5, out);
    simdev_tick(&d, 0.9, &in, &s);
    CHECK(s.running && !s.tripped);
    CHECK_NEAR(s.belt_target_mps, 0.3, 1e-9);
    simdev_execute(&d, d.drive_unit, &sp, 0.95, out);        /* keep the watchdog fed */
    simdev_tick(&d, 1.0, &in, &s);
    CHECK(s.tripped && !s.running && !s.comm_loss);
    CHECK_INT(s.fault_code, 33);
    CHECK_NEAR(s.belt_target_mps, 0.0, 0.0);
    simdev_fini(&d);
}

TEST(loadcell_faults_follow_the_schedule)
{
    struct simdev d;
    struct simdev_snapshot s;
    struct simdev_rig in = {.new_sample = true, .sample_n = 40.0};
    uint16_t w[2];

    CHECK_INT(dev_for(&d, "lc-freeze@1:1;lc-saturate@3:1"), 0);
    simdev_tick(&d, 0.99, &in, &s);
    simdev_tick(&d, 1.0, &in, &s);                           /* frozen at 40 N */
    in.sample_n = 90.0;
    simdev_tick(&d, 1.5, &in, &s);
    CHECK(d.lc.frozen);
    simdev_tick(&d, 2.0, &in, &s);
    CHECK(!d.lc.frozen);
    simdev_tick(&d, 3.0, &in, &s);
    simlc_words(&d.lc, w);
    CHECK_INT((uint32_t)w[0] << 16 | w[1], 0x7FFFFFFF);
    simdev_tick(&d, 4.0, &in, &s);
    CHECK(!d.lc.saturated);
    simdev_fini(&d);
}

/* ---- parsing requests -------------------------------------------------------------- */

TEST(requests_parse_from_tcp_and_rtu_frames)
{
    /* TCP: MBAP (7 bytes, unit last), then the PDU */
    const uint8_t rd[] = {0, 1, 0, 0, 0, 6, 1, 0x03, 0x21, 0x00, 0x00, 0x05};
    const uint8_t wm[] = {0, 2, 0, 0, 0, 11, 1, 0x10, 0x20, 0x00, 0x00, 0x02, 0x04,
                          0x00, 0x12, 0x07, 0x08};
    /* RTU: unit, PDU, CRC */
    const uint8_t ws[] = {1, 0x06, 0x20, 0x01, 0x07, 0x08, 0xAA, 0xBB};
    const uint8_t coil[] = {1, 0x05, 0x00, 0x01, 0xFF, 0x00, 0xAA, 0xBB};
    const uint8_t many[] = {1, 0x03, 0x00, 0x00, 0x00, 0x7E, 0xAA, 0xBB};
    const uint8_t past[] = {1, 0x03, 0xFF, 0xFF, 0x00, 0x02, 0xAA, 0xBB};
    struct simdev_req r;

    CHECK_INT(simsrv_parse(rd, sizeof rd, 7, &r), 0);
    CHECK(r.fc == 3 && r.addr == 0x2100 && r.count == 5);
    CHECK_INT(simsrv_parse(wm, sizeof wm, 7, &r), 0);
    CHECK(r.fc == 16 && r.addr == 0x2000 && r.count == 2 && r.vals[0] == 0x12 &&
          r.vals[1] == 0x0708);
    CHECK_INT(simsrv_parse(ws, sizeof ws, 1, &r), 0);
    CHECK(r.fc == 6 && r.addr == 0x2001 && r.count == 1 && r.vals[0] == 0x0708);
    CHECK_INT(simsrv_parse(coil, sizeof coil, 1, &r), MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
    CHECK_INT(simsrv_parse(many, sizeof many, 1, &r), MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    CHECK_INT(simsrv_parse(past, sizeof past, 1, &r), MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
}

/* ---- the RTU wire ------------------------------------------------------------------ */

TEST(byte_pacing_at_8e1)
{
    int bits = simwire_bits_per_byte(8, CFG_PARITY_EVEN, 1);

    CHECK_INT(bits, 11);
    CHECK_INT(simwire_bits_per_byte(8, CFG_PARITY_NONE, 2), 11);
    CHECK_INT(simwire_bits_per_byte(8, CFG_PARITY_NONE, 1), 10);
    CHECK_NEAR(1.0 / simwire_byte_s(9600, bits), 872.73, 0.01);      /* bytes/s */
    CHECK_NEAR(1.0 / simwire_byte_s(19200, bits), 1745.45, 0.01);
    CHECK_NEAR(1.0 / simwire_byte_s(115200, bits), 10472.73, 0.01);
    CHECK_NEAR(simwire_byte_s(9600, bits), 1.146e-3, 1e-6);           /* ~1 ms a byte */
    /* a one-register read at 19200 8E1: 8 bytes out, 7 back */
    CHECK_NEAR(15 * simwire_byte_s(19200, bits), 8.59e-3, 1e-5);
}

TEST(rtu_requests_are_framed_by_function_code)
{
    const uint8_t rd[] = {1, 0x03, 0, 0, 0, 1};
    const uint8_t wm[] = {1, 0x10, 0x20, 0x00, 0x00, 0x02, 0x04};
    const uint8_t odd[] = {1, 0x2B};

    CHECK_INT(simwire_request_length(rd, 1), 0);
    CHECK_INT(simwire_request_length(rd, sizeof rd), 8);
    CHECK_INT(simwire_request_length(wm, 6), 0);
    CHECK_INT(simwire_request_length(wm, sizeof wm), 13);
    CHECK_INT(simwire_request_length(odd, sizeof odd), -1);
}

TEST(crc16_matches_the_modbus_reference)
{
    const uint8_t rd[] = {0x01, 0x03, 0x00, 0x00, 0x00, 0x01};   /* sent as ... 84 0A */

    CHECK_INT(simwire_crc16(rd, sizeof rd), 0x0A84);
}

/* ---- the Huanyang HY (sim/simhy.c) ----------------------------------------------------- */

static bool hy_dev(struct simdev *d, struct simhy *h)
{
    struct ecc_config cfg;
    struct drive_profile prof;
    char err[256] = "";

    config_defaults(&cfg);
    snprintf(cfg.drive.profile, sizeof cfg.drive.profile, "%s", CFG_PROFILE_HY);
    cfg.drive.hz_per_mps = HZ_PER_MPS;
    cfg.drive.max_hz = MAX_HZ;
    cfg.drive.baud = 19200;
    cfg.drive.parity = CFG_PARITY_NONE;
    drive_profile_builtin(CFG_PROFILE_HY, &prof);
    if (simdev_init(d, &cfg, &prof, NULL, err, sizeof err) != 0)
        return false;
    if (simhy_open(h, d, cfg.drive.unit_id, &cfg, -1, err, sizeof err) != 0) {
        simdev_fini(d);
        return false;
    }
    return true;
}

/* Ask the simulated HY; the check of its reply (HY_OK, HY_REFUSED, ...), -1: no answer. */
static int hy_ask(struct simhy *h, uint8_t addr, uint8_t fn, uint8_t index, uint16_t value,
                  struct hy_reply *rp)
{
    const struct hy_request rq = {.addr = addr, .fn = fn, .index = index, .value = value};
    uint8_t q[HY_FRAME_MAX], out[HY_FRAME_MAX];
    bool late;
    size_t n = simhy_answer(h, q, hy_encode_request(&rq, q), out, &late);

    return n ? (int)hy_check_reply(&rq, out, n, rp) : -1;
}

TEST(hy_answers_parameters_as_a_drive_set_up_for_eccd)
{
    struct simdev d;
    struct simhy h;
    struct hy_reply rp;

    CHECK(hy_dev(&d, &h));
    CHECK(d.drive_hy);
    CHECK_INT(hy_ask(&h, 1, HY_FN_READ_PARAM, HY_PD_RUN_SOURCE, 0, &rp), HY_OK);
    CHECK_INT(rp.value, HY_SOURCE_COMM);
    CHECK_INT(hy_ask(&h, 1, HY_FN_READ_PARAM, HY_PD_FREQ_SOURCE, 0, &rp), HY_OK);
    CHECK_INT(rp.value, HY_SOURCE_COMM);
    CHECK_INT(hy_ask(&h, 1, HY_FN_READ_PARAM, HY_PD_MAX_HZ, 0, &rp), HY_OK);
    CHECK_INT(rp.value, 5000);               /* 50.00 Hz */
    CHECK_INT(hy_ask(&h, 1, HY_FN_READ_PARAM, HY_PD_ADDRESS, 0, &rp), HY_OK);
    CHECK_INT(rp.value, 1);
    CHECK_INT(hy_ask(&h, 1, HY_FN_READ_PARAM, HY_PD_BAUD, 0, &rp), HY_OK);
    CHECK_INT(rp.value, 2);                  /* 19200 */
    CHECK_INT(hy_ask(&h, 1, HY_FN_READ_PARAM, HY_PD_FORMAT, 0, &rp), HY_OK);
    CHECK_INT(rp.value, 3);                  /* 8N1 RTU */
    CHECK_INT(hy_ask(&h, 1, HY_FN_READ_PARAM, 99, 0, &rp), HY_REFUSED);
    CHECK_INT(rp.refusal, MODBUS_EXCEPTION_ILLEGAL_DATA_ADDRESS);
    CHECK_INT(hy_ask(&h, 1, HY_FN_WRITE_PARAM, HY_PD_MAX_HZ, 4000, &rp), HY_REFUSED);
    CHECK_INT(rp.refusal, MODBUS_EXCEPTION_ILLEGAL_FUNCTION);
    simhy_close(&h);
    simdev_fini(&d);
}

TEST(hy_runs_reports_and_refuses_what_it_lacks)
{
    struct simdev d;
    struct simhy h;
    struct hy_reply rp;
    struct simdev_snapshot snap;
    struct simdev_rig in = {.motor_mps = 0.25, .force_n = 50.0};
    struct simdev_req modbus = {.fc = MODBUS_FC_READ_HOLDING_REGISTERS, .addr = 0x0401,
                                .count = 1};
    uint16_t out[1];

    CHECK(hy_dev(&d, &h));
    CHECK_INT(hy_ask(&h, 1, HY_FN_FREQUENCY, 0, 1500, &rp), HY_OK);
    CHECK_INT(rp.value, 1500);
    CHECK_INT(hy_ask(&h, 1, HY_FN_CONTROL, 0, HY_CMD_RUN_FORWARD, &rp), HY_OK);
    CHECK(rp.value & HY_ST_RUN);
    simdev_tick(&d, 0.1, &in, &snap);
    CHECK_NEAR(snap.belt_target_mps, 0.25, 1e-9);   /* 15 Hz / 60 Hz per m/s */
    CHECK_INT(hy_ask(&h, 1, HY_FN_STATUS, HY_STATUS_SET_HZ, 0, &rp), HY_OK);
    CHECK_INT(rp.value, 1500);
    CHECK_INT(hy_ask(&h, 1, HY_FN_STATUS, HY_STATUS_OUT_HZ, 0, &rp), HY_OK);
    CHECK_INT(rp.value, 1500);
    CHECK_INT(hy_ask(&h, 1, HY_FN_STATUS, HY_STATUS_OUT_A, 0, &rp), HY_OK);
    CHECK_INT(rp.value, 25);                 /* 1.5 A + 0.02 A/N x 50 N, A x 10 */
    CHECK_INT(hy_ask(&h, 1, HY_FN_STATUS, HY_STATUS_TEMP, 0, &rp), HY_OK);
    CHECK_INT(rp.value, 0);                  /* not modelled */
    CHECK_INT(hy_ask(&h, 1, HY_FN_STATUS, 9, 0, &rp), HY_REFUSED);
    CHECK_INT(hy_ask(&h, 1, HY_FN_CONTROL, 0, 0x11, &rp), HY_REFUSED);  /* reverse */
    CHECK_INT(rp.refusal, MODBUS_EXCEPTION_ILLEGAL_DATA_VALUE);
    CHECK_INT(hy_ask(&h, 3, HY_FN_STATUS, HY_STATUS_OUT_HZ, 0, &rp), -1);   /* not its address */
    /* Modbus to the HY's unit (over TCP) finds no such device */
    CHECK_INT(simdev_execute(&d, d.drive_unit, &modbus, 0.2, out),
              MODBUS_EXCEPTION_GATEWAY_TARGET);
    /* no comm-loss watchdog: running and unfed for far longer than drive.watchdog_s */
    simdev_tick(&d, 60.0, &in, &snap);
    CHECK(snap.running && !snap.tripped && !snap.comm_loss);
    CHECK_INT(hy_ask(&h, 1, HY_FN_CONTROL, 0, HY_CMD_STOP, &rp), HY_OK);
    CHECK(!(rp.value & HY_ST_RUN));
    simhy_close(&h);
    simdev_fini(&d);
}

TEST(hy_trip_refuses_run_until_a_stop_after_the_cause)
{
    struct simdev d;
    struct simhy h;
    struct hy_reply rp;

    CHECK(hy_dev(&d, &h));
    pthread_mutex_lock(&d.lock);
    simvfd_trip(&d.vfd, 33, simdev_now(&d) + 3600.0);
    pthread_mutex_unlock(&d.lock);
    CHECK_INT(hy_ask(&h, 1, HY_FN_CONTROL, 0, HY_CMD_RUN_FORWARD, &rp), HY_OK);
    CHECK(!(rp.value & HY_ST_RUN));          /* a tripped HY does not take run */
    CHECK_INT(hy_ask(&h, 1, HY_FN_CONTROL, 0, HY_CMD_STOP, &rp), HY_OK);
    CHECK(d.vfd.tripped);                    /* the cause persists */
    d.vfd.trip_hold_until = 0.0;
    CHECK_INT(hy_ask(&h, 1, HY_FN_CONTROL, 0, HY_CMD_STOP, &rp), HY_OK);
    CHECK(!d.vfd.tripped);                   /* stop is the HY's reset */
    CHECK_INT(hy_ask(&h, 1, HY_FN_CONTROL, 0, HY_CMD_RUN_FORWARD, &rp), HY_OK);
    CHECK(rp.value & HY_ST_RUN);
    simhy_close(&h);
    simdev_fini(&d);
}

TESTS(T(delta_setpoint_register_sets_belt_speed_only_while_running),
      T(optidrive_setpoint_is_hz_times_10_at_register_2),
      T(huanyang_setpoint_is_percent_of_max_hz),
      T(generic_profile_from_config_is_served_as_written),
      T(setpoint_beyond_max_hz_is_clamped),
      T(output_frequency_follows_the_motor_in_each_profile),
      T(coast_switches_the_output_off_at_once),
      T(current_rises_with_foot_load_while_the_output_is_on),
      T(status_shows_running_and_at_speed),
      T(writes_to_registers_the_drive_lacks_are_illegal_data_address),
      T(unknown_command_value_is_illegal_data_value),
      T(reads_outside_the_register_groups_are_illegal_data_address),
      T(watchdog_fires_after_watchdog_s_without_setpoint_writes_and_not_before),
      T(watchdog_sleeps_while_the_drive_is_stopped),
      T(reads_and_repeated_run_commands_do_not_feed_the_watchdog),
      T(trip_needs_a_reset_before_it_runs_again),
      T(reset_is_refused_while_the_trip_cause_persists),
      T(watchdog_trip_is_cleared_by_reset),
      T(shared_status_fault_register_carries_code_high_status_low),
      T(fault_stop_coasts_when_stop_mode_is_coast),
      T(loadcell_encodes_each_type_and_word_order),
      T(loadcell_reading_round_trips_through_scale_and_offset),
      T(loadcell_tare_zeroes_the_reading),
      T(loadcell_freeze_holds_and_saturate_goes_to_the_type_limit),
      T(loadcell_answers_only_its_registers_and_kind),
      T(fault_specs_parse_with_and_without_duration),
      T(bad_fault_specs_are_refused_with_a_reason),
      T(fault_edges_are_reported_once_at_their_times),
      T(drive_and_loadcell_on_one_unit_are_refused),
      T(fault_actions_per_unit_and_time),
      T(requests_reach_the_unit_they_name),
      T(drive_trip_fault_trips_with_trip_code_and_belt_stops),
      T(loadcell_faults_follow_the_schedule),
      T(requests_parse_from_tcp_and_rtu_frames),
      T(byte_pacing_at_8e1),
      T(rtu_requests_are_framed_by_function_code),
      T(crc16_matches_the_modbus_reference),
      T(hy_answers_parameters_as_a_drive_set_up_for_eccd),
      T(hy_runs_reports_and_refuses_what_it_lacks),
      T(hy_trip_refuses_run_until_a_stop_after_the_cause));

TEST_MAIN("test_mbsim")
