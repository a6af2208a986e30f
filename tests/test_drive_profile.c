/* test_drive_profile.c - the built-in VFD register maps against the vendors' facts, the
 * generic profile from the config, and the setpoint / frequency conversions. */
#include "hal/drive_profile.h"
#include "tests/test.h"

#define ERRLEN 512

static struct drive_profile builtin(const char *name)
{
    struct drive_profile p;
    memset(&p, 0, sizeof p);
    CHECK_INT(drive_profile_builtin(name, &p), 0);
    return p;
}

/* ---- the built-in profiles --------------------------------------------------------- */

TEST(delta_vfd_registers)
{
    struct drive_profile p = builtin("delta-vfd");

    CHECK_STR_CONTAINS(p.name, "delta-vfd");
    CHECK_INT(p.read_fc, 3);
    CHECK_INT(p.write_fc, 6);
    CHECK_INT(p.reg_command, 0x2000);
    CHECK_INT(p.cmd_run, 0x0012);        /* run + forward */
    CHECK_INT(p.cmd_stop, 0x0001);
    CHECK_INT(p.reg_reset, 0x2002);
    CHECK_INT(p.cmd_reset, 0x0002);      /* bit 1 */
    CHECK_INT(p.reg_setpoint, 0x2001);
    CHECK(!p.setpoint_percent);
    CHECK_NEAR(p.setpoint_scale, 100.0, 0);  /* Hz x 100 */
    CHECK_INT(p.reg_fault, 0x2100);
    CHECK_INT(p.reg_status, 0x2101);
    CHECK_INT(p.reg_freq, 0x2103);
    CHECK_NEAR(p.freq_scale, 100.0, 0);
    CHECK_INT(p.reg_current, 0x2104);
    CHECK_NEAR(p.current_scale, 10.0, 0);    /* A x 10 */
    CHECK_STR_CONTAINS(p.watchdog_params, "09-02");
    CHECK_STR_CONTAINS(p.watchdog_params, "09-03");
    CHECK_INT(drive_profile_setpoint_raw(&p, 30.0, 50.0), 3000);
}

TEST(optidrive_e3_registers_are_manual_minus_one)
{
    struct drive_profile p = builtin("optidrive-e3");

    CHECK_INT(p.reg_command, 0);         /* manual register 1 */
    CHECK_INT(p.cmd_run, 0x0001);        /* bit 0 run enable */
    CHECK_INT(p.cmd_stop, 0x0000);
    CHECK_INT(p.cmd_coast, 0x0008);      /* bit 3 coast stop request */
    CHECK_INT(p.reg_reset, 0);
    CHECK_INT(p.cmd_reset, 0x0004);      /* bit 2 fault reset */
    CHECK_INT(p.reg_setpoint, 1);        /* manual register 2 */
    CHECK_NEAR(p.setpoint_scale, 10.0, 0);   /* Hz x 10 */
    CHECK_INT(p.reg_status, 5);          /* manual register 6: state and error code */
    CHECK_INT(p.reg_fault, 5);
    CHECK_INT(p.reg_freq, 6);            /* manual register 7 */
    CHECK_NEAR(p.freq_scale, 10.0, 0);
    CHECK_INT(p.reg_current, 7);         /* manual register 8 */
    CHECK_NEAR(p.current_scale, 10.0, 0);
    CHECK_INT(p.read_fc, 3);
    CHECK_STR_CONTAINS(p.watchdog_params, "P-36");
    CHECK_STR_CONTAINS(p.quirks, "run enable");
    CHECK_INT(drive_profile_setpoint_raw(&p, 30.0, 50.0), 300);
}

TEST(huanyang_gt_registers)
{
    struct drive_profile p = builtin("huanyang-gt");

    CHECK_INT(p.reg_command, 0x1000);
    CHECK_INT(p.cmd_run, 1);
    CHECK_INT(p.cmd_stop, 5);
    CHECK_INT(p.reg_setpoint, 0x2000);
    CHECK(p.setpoint_percent);
    CHECK_NEAR(p.setpoint_scale, 100.0, 0);  /* % x 100 */
    CHECK_INT(p.reg_freq, 0x3000);
    CHECK_NEAR(p.freq_scale, 100.0, 0);      /* Hz x 100 */
    CHECK_INT(p.reg_fault, 0x5000);
    /* 25 Hz of a 50 Hz maximum is 50.00 % */
    CHECK_INT(drive_profile_setpoint_raw(&p, 25.0, 50.0), 5000);
    CHECK_INT(drive_profile_setpoint_raw(&p, 50.0, 50.0), 10000);
    CHECK_STR_CONTAINS(p.quirks, "P0.03");
}

/* The HY is not Modbus: its pseudo addresses are function x 256 + index, for eccsim's
 * register model; the values and scales are the HY's (hal/hy_frame.h). */
TEST(huanyang_hy_is_its_own_framing)
{
    struct drive_profile p = builtin("huanyang-hy");

    CHECK_INT(p.framing, DRIVE_FRAMING_HY);
    CHECK_INT(drive_profile_framing("huanyang-hy"), DRIVE_FRAMING_HY);
    CHECK_INT(drive_profile_framing("huanyang-gt"), DRIVE_FRAMING_MODBUS);
    CHECK_INT(drive_profile_framing("generic"), DRIVE_FRAMING_MODBUS);
    CHECK_INT(builtin("delta-vfd").framing, DRIVE_FRAMING_MODBUS);
    CHECK_INT(p.cmd_run, 0x01);
    CHECK_INT(p.cmd_stop, 0x08);
    CHECK_INT(p.reg_command, 0x0300);
    CHECK_INT(p.reg_setpoint, 0x0500);
    CHECK_INT(p.reg_freq, 0x0401);       /* 0x04 read control status, index 1 */
    CHECK_INT(p.reg_current, 0x0402);
    CHECK_INT(p.reg_fault, DP_NO_REG);   /* no fault code over the link */
    CHECK(!p.setpoint_percent);
    CHECK_INT(drive_profile_setpoint_raw(&p, 25.0, 50.0), 2500);     /* 0.01 Hz */
    CHECK_NEAR(drive_profile_freq_hz(&p, 4567), 45.67, 1e-9);
    CHECK_STR_CONTAINS(p.quirks, "PD001 = 2");
    CHECK_STR_CONTAINS(p.quirks, "PD165");
    CHECK_STR_CONTAINS(p.watchdog_params, "none");
}

TEST(names_and_documentation)
{
    int n = 0;
    for (; drive_profile_names[n]; n++) {
        struct drive_profile p;
        if (drive_profile_builtin(drive_profile_names[n], &p) < 0)
            continue;            /* generic: from the config */
        CHECK(p.watchdog_params && strlen(p.watchdog_params) > 10);
        CHECK(p.quirks && strlen(p.quirks) > 10);
    }
    CHECK_INT(n, 5);
    struct drive_profile p;
    CHECK_INT(drive_profile_builtin("generic", &p), -1);
    CHECK_INT(drive_profile_builtin("nope", &p), -1);
}

/* ---- from the config ----------------------------------------------------------------- */

TEST(builtin_from_config)
{
    struct ecc_config cfg;
    struct drive_profile p;
    char err[ERRLEN] = "";

    config_defaults(&cfg);
    snprintf(cfg.drive.profile, sizeof cfg.drive.profile, "optidrive-e3");
    CHECK_INT(drive_profile_from_config(&cfg, &p, err, sizeof err), 0);
    CHECK_INT(p.reg_freq, 6);
}

TEST(unknown_profile_names_the_key_and_the_choices)
{
    struct ecc_config cfg;
    struct drive_profile p;
    char err[ERRLEN] = "";

    config_defaults(&cfg);
    snprintf(cfg.drive.profile, sizeof cfg.drive.profile, "x");
    CHECK_INT(drive_profile_from_config(&cfg, &p, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "[drive] profile: unknown profile 'x' (allowed: delta-vfd, "
                            "optidrive-e3, huanyang-gt, huanyang-hy, generic)");
}

TEST(generic_subtracts_address_base)
{
    struct ecc_config cfg;
    struct drive_profile p;
    char err[ERRLEN] = "";

    config_defaults(&cfg);
    snprintf(cfg.drive.profile, sizeof cfg.drive.profile, "generic");
    cfg.profile.address_base = 1;
    cfg.profile.reg_command = 1;
    cfg.profile.reg_reset = 1;
    cfg.profile.reg_setpoint = 2;
    cfg.profile.reg_freq = 7;
    cfg.profile.reg_current = 8;
    cfg.profile.reg_status = -1;
    cfg.profile.reg_fault = 6;
    cfg.profile.cmd_run = 0x12;
    cfg.profile.read_fc = 4;
    cfg.profile.write_fc = 16;
    cfg.profile.setpoint_scale = 10;
    CHECK_INT(drive_profile_from_config(&cfg, &p, err, sizeof err), 0);
    CHECK_STR_CONTAINS(p.name, "generic");
    CHECK_INT(p.reg_command, 0);
    CHECK_INT(p.reg_setpoint, 1);
    CHECK_INT(p.reg_freq, 6);
    CHECK_INT(p.reg_current, 7);
    CHECK_INT(p.reg_status, DP_NO_REG);
    CHECK_INT(p.reg_fault, 5);
    CHECK_INT(p.cmd_run, 0x12);
    CHECK_INT(p.read_fc, 4);
    CHECK_INT(p.write_fc, 16);
    CHECK_NEAR(p.setpoint_scale, 10, 0);
}

TEST(generic_refuses_bad_maps)
{
    struct ecc_config cfg;
    struct drive_profile p;
    char err[ERRLEN] = "";

    config_defaults(&cfg);
    snprintf(cfg.drive.profile, sizeof cfg.drive.profile, "generic");
    cfg.profile.address_base = 1;
    cfg.profile.reg_command = 0;         /* register 0 does not exist when counting from 1 */
    CHECK_INT(drive_profile_from_config(&cfg, &p, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "[profile] reg_command: 0");

    config_defaults(&cfg);
    snprintf(cfg.drive.profile, sizeof cfg.drive.profile, "generic");
    cfg.profile.write_fc = 7;
    CHECK_INT(drive_profile_from_config(&cfg, &p, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "[profile] write_fc: 7");
}

/* ---- conversions ------------------------------------------------------------------- */

TEST(conversions_round_trip)
{
    for (int i = 0; drive_profile_names[i]; i++) {
        struct drive_profile p;
        if (drive_profile_builtin(drive_profile_names[i], &p) < 0)
            continue;
        for (double hz = 0.0; hz <= 50.0; hz += 0.37) {
            uint16_t raw = drive_profile_setpoint_raw(&p, hz, 50.0);
            CHECK_NEAR(drive_profile_setpoint_hz(&p, raw, 50.0), hz, 0.5 / p.setpoint_scale +
                       (p.setpoint_percent ? 50.0 / 100.0 * 0.5 / p.setpoint_scale : 0));
            CHECK_NEAR(drive_profile_freq_hz(&p, drive_profile_freq_raw(&p, hz)), hz,
                       0.5 / p.freq_scale + 1e-12);
        }
    }
}

TEST(conversions_clamp)
{
    struct drive_profile d = builtin("delta-vfd"), h = builtin("huanyang-gt");

    CHECK_INT(drive_profile_setpoint_raw(&d, NAN, 50.0), 0);
    CHECK_INT(drive_profile_setpoint_raw(&d, -5.0, 50.0), 0);
    CHECK_INT(drive_profile_setpoint_raw(&d, 80.0, 50.0), 5000);     /* clamped to max_hz */
    CHECK_INT(drive_profile_setpoint_raw(&d, 1e9, NAN), 65535);      /* 16 bits at most */
    CHECK_INT(drive_profile_setpoint_raw(&d, INFINITY, 0.0), 65535);
    CHECK_INT(drive_profile_setpoint_raw(&h, 25.0, 0.0), 0);         /* % of nothing */
    CHECK_INT(drive_profile_setpoint_raw(&h, 80.0, 50.0), 10000);
    CHECK_INT(drive_profile_freq_raw(&d, NAN), 0);
    CHECK_INT(drive_profile_freq_raw(&d, -1.0), 0);
    CHECK_INT(drive_profile_freq_raw(&d, 1e6), 65535);
    CHECK_NEAR(drive_profile_freq_hz(&d, 65535), 655.35, 1e-9);
    CHECK_NEAR(drive_profile_setpoint_hz(&h, 5000, 50.0), 25.0, 1e-9);
}

TESTS(T(delta_vfd_registers), T(optidrive_e3_registers_are_manual_minus_one),
      T(huanyang_gt_registers), T(huanyang_hy_is_its_own_framing), T(names_and_documentation),
      T(builtin_from_config),
      T(unknown_profile_names_the_key_and_the_choices), T(generic_subtracts_address_base),
      T(generic_refuses_bad_maps), T(conversions_round_trip), T(conversions_clamp));
TEST_MAIN("test_drive_profile")
