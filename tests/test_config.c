/* test_config.c - the config layer: defaults, the example configs, print/load round trip,
 * --set, the cross-field rules and the corpus of bad files in tests/config-bad/.
 *
 * Every file in tests/config-bad/ begins with "; expect: LINE [section] key" (or
 * "; expect: LINE [section]"); loading it must fail with a message that contains
 * "FILE:LINE: [section] key".
 */
#include "config/config.h"
#include "tests/test.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define ERRLEN 1024

/* ---- helpers ------------------------------------------------------------------------ */

/* Find a folder of the source tree from the repo root, tests/ or build/{rel,san}/tests/. */
static const char *find_dir(const char *rel)
{
    static char path[4][512];
    static int next;
    static const char *const up[] = {"", "../", "../../", "../../../"};
    char *p = path[next++ % 4];

    for (size_t i = 0; i < sizeof up / sizeof up[0]; i++) {
        DIR *d;

        snprintf(p, 512, "%s%s", up[i], rel);
        d = opendir(p);
        if (d) {
            closedir(d);
            return p;
        }
    }
    return NULL;
}

static char scratch_dir[64];

static void remove_scratch_dir(void)
{
    rmdir(scratch_dir);
}

/* A scratch file holding text; returns its path (valid until the next call). */
static const char *scratch(const char *name, const char *text)
{
    static char path[128];
    const char *dir = scratch_dir;
    FILE *f;

    if (!scratch_dir[0]) {
        snprintf(scratch_dir, sizeof scratch_dir, "/tmp/test_config.XXXXXX");
        if (!mkdtemp(scratch_dir))
            return NULL;
        atexit(remove_scratch_dir);
    }
    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return path;
}

static int load_text(struct ecc_config *cfg, const char *text, char *err)
{
    const char *path = scratch("x.ini", text);
    int rc;

    if (!path)
        return -2;
    rc = config_load(cfg, path, err, ERRLEN);
    unlink(path);
    return rc;
}

/* err must contain "<scratch path>:LINE: rest". */
static void check_error_at(const char *err, int line, const char *rest)
{
    char want[512];

    snprintf(want, sizeof want, "x.ini:%d: %s", line, rest);
    CHECK_STR_CONTAINS(err, want);
}

static int key_index(const char *section, const char *key)
{
    for (int i = 0; i < config_key_count(); i++) {
        const char *s, *k;

        config_key_name(i, &s, &k);
        if (!strcmp(s, section) && !strcmp(k, key))
            return i;
    }
    return -1;
}

/* Print cfg, load it back and require the same struct (path and key_line aside). */
static void check_round_trip(const struct ecc_config *cfg)
{
    struct ecc_config back;
    char err[ERRLEN] = "";
    const char *path = scratch("printed.ini", "");
    FILE *f = path ? fopen(path, "w") : NULL;

    REQUIRE(f != NULL);
    config_print(cfg, f);
    fclose(f);
    CHECK_INT(config_load(&back, path, err, sizeof err), 0);
    if (err[0])
        printf("  %s\n", err);
    memcpy(back.path, cfg->path, sizeof back.path);
    memcpy(back.key_line, cfg->key_line, sizeof back.key_line);
    CHECK(memcmp(&back, cfg, sizeof back) == 0);
    unlink(path);
}

/* ---- defaults ------------------------------------------------------------------------- */

TEST(defaults_match_the_spec)
{
    struct ecc_config c;

    memset(&c, 0x5a, sizeof c);
    config_defaults(&c);
    CHECK(config_key_count() <= CFG_KEYS_MAX);
    /* rig 1, loop 3, limits 15, band 2, control 9, filter 2, rep 5, protocol 7,
     * progression 5, drive 23, profile 18, encoder 7, loadcell 25, inputs 13, sim 13,
     * eccsim 6, history 2, sync 7, server 7, web 17, daemon 1, log 2 */
    CHECK_INT(config_key_count(), 204);
    CHECK_STR_CONTAINS(c.path, "");
    CHECK_INT(c.path[0], 0);
    for (int i = 0; i < CFG_KEYS_MAX; i++)
        CHECK_INT(c.key_line[i], 0);
    CHECK_INT(c.rig.backend, CFG_BACKEND_SIM);
    CHECK_INT(c.loop.rate_hz, 100);
    CHECK(c.limits.speed_max == 0.70 && c.limits.speed_min == 0.08);
    CHECK(c.limits.accel == 0.6 && c.limits.stop_decel == 1.0);
    CHECK(c.limits.force_abort == 250 && c.limits.overspeed_margin == 0.15);
    CHECK(c.limits.force_stale_s == 0.5 && c.limits.speed_silent_s == 3.0);
    CHECK(c.band.force_low == 60 && c.band.force_high == 100);
    CHECK_INT(c.control.mode, CFG_MODE_CONTINUOUS);
    CHECK(c.control.start_speed == 0.20 && c.control.fixed_speed == 0.30);
    CHECK(c.control.kp == 0.003 && c.control.ki == 0.02);
    CHECK(c.control.engage_timeout_s == 0.4 && c.control.release_rollback_s == 0.2);
    CHECK(c.control.hold_margin == 0.25);
    CHECK(c.filter.spike_reject && c.filter.cutoff_hz == 8);
    CHECK(c.rep.contact_n == 20 && c.rep.release_n == 12 && c.rep.min_stroke_s == 0.6);
    CHECK(c.rep.min_travel_m == 0.25 && c.rep.min_in_band == 0.5);
    CHECK_INT(c.protocol.reps_per_set, 15);
    CHECK_INT(c.protocol.sets_per_session, 3);
    CHECK(c.protocol.rest_s == 60);
    CHECK_INT(c.drive.type, CFG_DRIVE_SIM);
    CHECK(!strcmp(c.drive.profile, "generic") && !strcmp(c.drive.device, "/dev/ttyUSB0"));
    CHECK_INT(c.drive.baud, 19200);
    CHECK(!strcmp(c.drive.host, "127.0.0.1"));
    CHECK_INT(c.drive.port, 502);
    CHECK_INT(c.drive.unit_id, 1);
    CHECK(c.drive.hz_per_mps == 60);
    CHECK_INT(c.encoder.type, CFG_ENCODER_SIM);
    CHECK(c.encoder.pulses_per_m == 20 && c.encoder.timeout_s == 3.0);
    CHECK(!strcmp(c.encoder.chip, "gpiochip0"));
    CHECK_INT(c.encoder.line, 17);
    CHECK_INT(c.loadcell.type, CFG_LOADCELL_SIM);
    CHECK(c.loadcell.scale == 1.0 && c.loadcell.offset == 0 && c.loadcell.rate_hz == 80);
    CHECK_INT(c.inputs.type, CFG_INPUTS_SIM);
    CHECK(!strcmp(c.inputs.chip, "gpiochip0"));
    CHECK(c.inputs.estop_line == -1 && c.inputs.key_line == -1 && c.inputs.start_line == -1);
    CHECK(c.inputs.stop_line == -1 && c.inputs.next_line == -1 && c.inputs.active_low);
    CHECK(!strcmp(c.sim.scenario, "normal"));
    CHECK_INT(c.sim.seed, 1);
    CHECK(c.sim.speed == 0 && c.sim.loadcell_rate_hz == 80 && c.sim.loadcell_noise_n == 0.8);
    CHECK(c.sim.loadcell_resolution_n == 0.05 && c.sim.drive_accel == 0.3);
    CHECK(c.sim.drive_dead_s == 0.05);
    CHECK(c.sim.slip == 0.0002 && c.sim.truth_log[0] == '\0');
    CHECK_INT(c.log.level, CFG_LOG_INFO);
    CHECK_INT(c.log.rep_log[0], 0);
}

TEST(defaults_pass_check)
{
    struct ecc_config c;
    char err[ERRLEN] = "";

    config_defaults(&c);
    CHECK_INT(config_check(&c, err, sizeof err), 0);
    CHECK_INT(err[0], 0);
}

TEST(every_key_is_named_once)
{
    for (int i = 0; i < config_key_count(); i++) {
        const char *s, *k;

        config_key_name(i, &s, &k);
        CHECK(s && k);
        CHECK_INT(key_index(s, k), i);
    }
    {
        const char *s = "x", *k = "x";

        config_key_name(config_key_count(), &s, &k);
        CHECK(s == NULL && k == NULL);
    }
}

/* ---- the example configs ----------------------------------------------------------- */

static int load_example(const char *name, struct ecc_config *c, char *err)
{
    const char *dir = find_dir("config");
    char path[600];

    CHECK(dir != NULL);
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "config", name);
    return config_load(c, path, err, ERRLEN);
}

TEST(example_configs_load_with_every_key)
{
    const char *dir = find_dir("config");
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    int n = 0;

    CHECK(d != NULL);
    while (d && (e = readdir(d))) {
        struct ecc_config c;
        char err[ERRLEN] = "";
        size_t len = strlen(e->d_name);

        if (len < 5 || strcmp(e->d_name + len - 4, ".ini"))
            continue;
        n++;
        CHECK_INT(load_example(e->d_name, &c, err), 0);
        if (err[0])
            printf("  %s: %s\n", e->d_name, err);
        for (int i = 0; i < config_key_count(); i++) {
            const char *s, *k;

            config_key_name(i, &s, &k);
            if (c.key_line[i] <= 0)
                printf("  %s: [%s] %s is missing\n", e->d_name, s, k);
            CHECK(c.key_line[i] > 0);
        }
    }
    if (d)
        closedir(d);
    CHECK(n >= 3);
}

TEST(example_configs_say_what_they_are)
{
    struct ecc_config c;
    char err[ERRLEN] = "";

    CHECK_INT(load_example("sim.ini", &c, err), 0);
    CHECK_INT(c.rig.backend, CFG_BACKEND_SIM);
    CHECK(!strcmp(c.sim.scenario, "normal"));

    CHECK_INT(load_example("clinic-vfd.ini", &c, err), 0);
    CHECK_INT(c.rig.backend, CFG_BACKEND_HW);
    CHECK_INT(c.drive.type, CFG_DRIVE_MODBUS_RTU);
    CHECK(!strcmp(c.drive.profile, "delta-vfd") && !strcmp(c.drive.device, "/dev/ttyUSB0"));
    CHECK_INT(c.drive.baud, 19200);
    CHECK_INT(c.loadcell.type, CFG_LOADCELL_MODBUS);
    CHECK_INT(c.encoder.type, CFG_ENCODER_DRIVE);
    CHECK_INT(c.inputs.type, CFG_INPUTS_GPIO);
    CHECK(c.inputs.estop_line >= 0);

    CHECK_INT(load_example("home-pi.ini", &c, err), 0);
    CHECK_INT(c.rig.backend, CFG_BACKEND_HW);
    CHECK(c.drive.type == CFG_DRIVE_MODBUS_RTU || c.drive.type == CFG_DRIVE_PWM);
    CHECK_INT(c.encoder.type, CFG_ENCODER_GPIO);
    CHECK(c.encoder.pulses_per_m == 4);
    CHECK_INT(c.loadcell.type, CFG_LOADCELL_HX711);
    CHECK(c.loadcell.rate_hz == 80);
    CHECK_INT(c.inputs.type, CFG_INPUTS_GPIO);
    CHECK(c.inputs.estop_line >= 0 && c.inputs.key_line >= 0 && c.inputs.start_line >= 0);
    CHECK(c.inputs.stop_line >= 0 && c.inputs.next_line >= 0);
}

/* ---- print / load round trip ----------------------------------------------------------- */

TEST(round_trip_defaults_and_examples)
{
    static const char *const names[] = {"sim.ini", "clinic-vfd.ini", "home-pi.ini"};
    struct ecc_config c;
    char err[ERRLEN];

    config_defaults(&c);
    check_round_trip(&c);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        CHECK_INT(load_example(names[i], &c, err), 0);
        check_round_trip(&c);
    }
}

TEST(round_trip_awkward_values)
{
    static const char *const sets[] = {
        "limits.accel_mps2=0.30000000000000004", "control.kp=1e-7",
        "loadcell.scale=-0.000123456789012345", "loadcell.offset=-8388608.25",
        "sim.seed=4294967295", "sim.slip=0", "filter.spike_reject=no",
        "drive.profile=my profile;v2", "sim.truth_log=/var/log/eccd/truth.jsonl",
        "inputs.estop_line=0", "log.level=debug", "control.mode=fixed",
    };
    char long_device[200] = "drive.device=/dev/";
    struct ecc_config c;
    char err[ERRLEN] = "";

    config_defaults(&c);
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++) {
        CHECK_INT(config_set(&c, sets[i], err, sizeof err), 0);
        if (err[0])
            printf("  %s\n", err);
    }
    memset(long_device + strlen(long_device), 'd', 160 - 5); /* the longest string allowed */
    CHECK_INT(config_set(&c, long_device, err, sizeof err), 0);
    CHECK_INT(strlen(c.drive.device), 160);
    CHECK_INT(config_check(&c, err, sizeof err), 0);
    check_round_trip(&c);
}

TEST(print_shows_units_help_and_differing_defaults)
{
    struct ecc_config c;
    char err[ERRLEN], buf[16384];
    FILE *f = fmemopen(buf, sizeof buf, "w");

    config_defaults(&c);
    CHECK_INT(config_set(&c, "band.force_high_n=120", err, sizeof err), 0);
    REQUIRE(f != NULL);
    config_print(&c, f);
    fclose(f);
    CHECK(buf[0] == ';');
    CHECK_STR_CONTAINS(buf, "\n[band]\n");
    CHECK_STR_CONTAINS(buf, "force_high_n = 120");
    CHECK_STR_CONTAINS(buf, "; N, upper edge");
    CHECK_STR_CONTAINS(buf, "(allowed: 5 to 1000 N) (default: 100)");
    CHECK_STR_CONTAINS(buf, "(allowed: continuous, fixed, reactive)");
    CHECK(strstr(buf, "force_low_n = 60") && !strstr(buf, "(default: 60)"));
}

/* Every printed "key = value ; comment" line is at most 190 columns as printed (the value
 * padded to 32): a longer one puts its comment on the line above. (inih's line buffer takes
 * 198: a line over that would not load back.) */
TEST(printed_key_lines_fit_the_print_width)
{
    struct ecc_config c;
    const char *path = scratch("wide.ini", "");
    FILE *f = path ? fopen(path, "w") : NULL;
    char line[1024];
    int keys = 0;

    CHECK(f != NULL);
    if (!f)
        return;
    config_defaults(&c);
    config_print(&c, f);
    fclose(f);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\n");
        if (line[0] == ';' || line[0] == '[' || n == 0)
            continue;
        keys++;
        if (n > 190)
            printf("  %zu columns: %.60s...\n", n, line);
        CHECK(n <= 190);
    }
    if (f)
        fclose(f);
    unlink(path);
    CHECK_INT(keys, config_key_count());
}

/* ---- error messages -------------------------------------------------------------------- */

TEST(messages_have_the_documented_form)
{
    struct ecc_config c;
    char err[ERRLEN];

    CHECK_INT(load_text(&c, "; band\n\n[band]\n\n\n\n\n\n\n\n\nforce_high_n = 2000\n", err), -1);
    check_error_at(err, 12, "[band] force_high_n: 2000 is out of range (allowed: 5 to 1000 N)");
    CHECK_INT(load_text(&c, "[band]\nforce_low_n = 50\nforce_hgh_n = 3\n", err), -1);
    check_error_at(err, 3, "[band] force_hgh_n: unknown key (allowed: force_low_n, force_high_n)");
    CHECK_INT(load_text(&c, "; x\n[bnad]\nforce_low_n = 50\n", err), -1);
    check_error_at(err, 2, "[bnad]: unknown section (allowed: rig, loop, limits, band, control, "
                           "filter, rep, protocol, progression, drive, profile, encoder, loadcell, inputs, "
                           "sim, eccsim, history, sync, server, web, daemon, log)");
    CHECK_INT(load_text(&c, "[control]\nmode = isotonic\n", err), -1);
    check_error_at(err, 2, "[control] mode: \"isotonic\" is not a known name "
                           "(allowed: continuous, fixed, reactive)");
    CHECK_INT(load_text(&c, "[band]\nforce_low_n = 60\nforce_low_n = 61\n", err), -1);
    check_error_at(err, 3, "[band] force_low_n: duplicate key (first set at line 2)");
    CHECK_INT(load_text(&c, "[drive]\nprofile = \n", err), -1);
    check_error_at(err, 2, "[drive] profile: empty value (allowed: 1 to 63 characters)");
}

TEST(missing_or_unreadable_file_names_file_and_reason)
{
    struct ecc_config c;
    char err[ERRLEN], want[256];

    CHECK_INT(config_load(&c, "/nonexistent/eccd.ini", err, sizeof err), -1);
    snprintf(want, sizeof want, "/nonexistent/eccd.ini: cannot open: %s", strerror(ENOENT));
    CHECK_STR_CONTAINS(err, want);
    CHECK_INT(config_load(&c, "/tmp", err, sizeof err), -1);
    snprintf(want, sizeof want, "/tmp: cannot read: %s", strerror(EISDIR));
    CHECK_STR_CONTAINS(err, want);
    /* A tiny error buffer is truncated, never overrun. */
    CHECK_INT(config_load(&c, "/nonexistent/eccd.ini", err, 8), -1);
    CHECK_INT(strlen(err), 7);
}

TEST(line_numbers_survive_comments_crlf_bom_and_long_lines)
{
    struct ecc_config c;
    char err[ERRLEN], text[2048], comment[400];

    memset(comment, 'c', sizeof comment - 1);
    comment[0] = ';';
    comment[sizeof comment - 1] = '\0';
    snprintf(text, sizeof text,
             "\xEF\xBB\xBF; bom\r\n%s\r\n[band]\r\n  force_low_n = 55 ; indented\r\n"
             "# hash comment\r\n\r\nforce_high_n: 90\r\n[rep]\r\ncontact_n = 21\r\n",
             comment);
    CHECK_INT(load_text(&c, text, err), 0);
    CHECK_INT(c.key_line[key_index("band", "force_low_n")], 4);
    CHECK_INT(c.key_line[key_index("band", "force_high_n")], 7);
    CHECK_INT(c.key_line[key_index("rep", "contact_n")], 9);
    CHECK(c.band.force_low == 55 && c.band.force_high == 90 && c.rep.contact_n == 21);
    /* An error after all that is still at the right line. */
    snprintf(text, sizeof text, "%s\n[band]\n\n   \nforce_low_n = 5x\n", comment);
    CHECK_INT(load_text(&c, text, err), -1);
    check_error_at(err, 5, "[band] force_low_n: \"5x\" is not a number");
}

TEST(an_indented_line_is_not_a_continuation)
{
    struct ecc_config c;
    char err[ERRLEN];

    CHECK_INT(load_text(&c, "[band]\nforce_low_n = 50\n   70\nforce_high_n = 90\n", err), -1);
    check_error_at(err, 3, "[band]: \"70\" is not a key = value line");
}

/* ---- --set ----------------------------------------------------------------------------- */

TEST(set_applies_a_value)
{
    struct ecc_config c;
    char err[ERRLEN] = "";

    config_defaults(&c);
    CHECK_INT(config_set(&c, "band.force_high_n=120", err, sizeof err), 0);
    CHECK(c.band.force_high == 120);
    CHECK_INT(c.key_line[key_index("band", "force_high_n")], -1);
    CHECK_INT(config_set(&c, "  control.mode = fixed ", err, sizeof err), 0);
    CHECK_INT(c.control.mode, CFG_MODE_FIXED);
    CHECK_INT(config_set(&c, "sim.truth_log=", err, sizeof err), 0);
    CHECK_INT(config_set(&c, "drive.host=a=b", err, sizeof err), 0);
    CHECK(!strcmp(c.drive.host, "a=b"));
    CHECK_INT(config_set(&c, "band.force_high_n=130", err, sizeof err), 0); /* again: last wins */
    CHECK(c.band.force_high == 130);
    CHECK_INT(config_check(&c, err, sizeof err), 0);
}

TEST(set_refuses_bad_values_and_leaves_the_config_alone)
{
    static const struct {
        const char *set, *msg;
    } bad[] = {
        {"band.force_high_n=2000",
         "--set: [band] force_high_n: 2000 is out of range (allowed: 5 to 1000 N)"},
        {"band.force_high_n=", "--set: [band] force_high_n: empty value"},
        {"band.force_high_n=1e999", "--set: [band] force_high_n: 1e999 is too large"},
        {"band.force_high_n=nan", "--set: [band] force_high_n: \"nan\" is not a finite number"},
        {"band.force_high_n=90 N", "--set: [band] force_high_n: \"90 N\" is not a number"},
        {"band.force_hgh_n=90", "--set: [band] force_hgh_n: unknown key"},
        {"bnad.force_high_n=90", "--set: [bnad]: unknown section (allowed: rig, loop,"},
        {"loop.rate_hz=1e2", "--set: [loop] rate_hz: \"1e2\" is not a whole number"},
        {"limits.speed_max_mps=0.84", "(allowed: 0.08 to 0.83 m/s)"},
        {"filter.spike_reject=maybe", "(allowed: true, false, yes, no, on, off, 1, 0)"},
        {"drive.host=a\tb", "--set: [drive] host: value contains a control character"},
        {"drive.profile=a ;b", "--set: [drive] profile: value contains \" ;\""},
        {"band.force_high_n", "--set: \"band.force_high_n\" is not section.key=value"},
        {"force_high_n=90", "--set: \"force_high_n=90\" is not section.key=value"},
        {".force_high_n=90", "is not section.key=value"},
        {"band.=90", "is not section.key=value"},
    };
    struct ecc_config c, before;
    char err[ERRLEN];

    config_defaults(&c);
    before = c;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_INT(config_set(&c, bad[i].set, err, sizeof err), -1);
        CHECK_STR_CONTAINS(err, bad[i].msg);
        CHECK(memcmp(&c, &before, sizeof c) == 0);
    }
}

TEST(set_refuses_a_string_too_long)
{
    struct ecc_config c;
    char err[ERRLEN], set[300] = "drive.profile=";

    config_defaults(&c);
    memset(set + strlen(set), 'p', 64);
    CHECK_INT(config_set(&c, set, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "--set: [drive] profile: value is 64 characters long "
                            "(allowed: 1 to 63 characters)");
    CHECK(!strcmp(c.drive.profile, "generic"));
}

/* ---- cross-field rules -------------------------------------------------------------------- */

/* Each rule broken by a file that sets one key (the other stays default): the message
 * names that key at its line, and the other key as default. */
TEST(each_cross_field_rule_is_refused_at_the_key_that_broke_it)
{
    static const struct {
        const char *text, *msg;
    } cases[] = {
        {"[band]\nforce_high_n = 50\n",
         "x.ini:2: [band] force_high_n: 50 must be greater than [band] force_low_n = 60 (default)"},
        {"[rep]\nrelease_n = 25\n",
         "x.ini:2: [rep] release_n: 25 must be less than [rep] contact_n = 20 (default)"},
        {"[rep]\ncontact_n = 70\n",
         "x.ini:2: [rep] contact_n: 70 must be less than [band] force_low_n = 60 (default)"},
        {"[control]\nengage_n = 10\n",
         "x.ini:2: [control] engage_n: 10 must be greater than [rep] release_n = 12 (default)"},
        {"[control]\nengage_n = 60\n",
         "x.ini:2: [control] engage_n: 60 must be less than [band] force_low_n = 60 (default)"},
        {"[limits]\nforce_abort_n = 90\n",
         "x.ini:2: [limits] force_abort_n: 90 must be greater than [band] force_high_n = 100"},
        {"[limits]\nspeed_min_mps = 0.4\n",
         "x.ini:2: [limits] speed_min_mps: 0.4 must be at most [control] start_speed_mps = 0.2"},
        {"[control]\nstart_speed_mps = 0.8\n",
         "x.ini:2: [control] start_speed_mps: 0.8 must be at most [limits] speed_max_mps = 0.7"},
        {"[control]\nfixed_speed_mps = 0.05\n",
         "x.ini:2: [control] fixed_speed_mps: 0.05 must be at least [limits] speed_min_mps = 0.08"},
        {"[control]\nfixed_speed_mps = 0.75\n",
         "x.ini:2: [control] fixed_speed_mps: 0.75 must be at most [limits] speed_max_mps = 0.7"},
        {"[limits]\nspeed_min_mps = 0.1\nspeed_max_mps = 0.1\n[control]\nstart_speed_mps = 0.1\n"
         "fixed_speed_mps = 0.1\n",
         "x.ini:3: [limits] speed_max_mps: 0.1 must be greater than [limits] speed_min_mps = 0.1 "
         "(line 2)"},
    };
    struct ecc_config c;
    char err[ERRLEN];

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = '\0';
        CHECK_INT(load_text(&c, cases[i].text, err), -1);
        CHECK_STR_CONTAINS(err, cases[i].msg);
    }
}

TEST(cross_field_blames_the_key_set_later)
{
    struct ecc_config c;
    char err[ERRLEN];

    CHECK_INT(load_text(&c, "[rig]\nbackend = sim\n\n\n\n\n[band]\nforce_low_n = 60\n"
                            "force_high_n = 50\n", err), -1);
    check_error_at(err, 9, "[band] force_high_n: 50 must be greater than [band] force_low_n = 60 "
                           "(line 8)");
    CHECK_INT(load_text(&c, "[band]\nforce_high_n = 70\nforce_low_n = 80\n", err), -1);
    check_error_at(err, 3, "[band] force_low_n: 80 must be less than [band] force_high_n = 70 "
                           "(line 2)");
}

TEST(cross_field_after_set_says_set)
{
    struct ecc_config c;
    char err[ERRLEN];

    CHECK_INT(load_text(&c, "[band]\nforce_low_n = 60\n", err), 0);
    CHECK_INT(config_set(&c, "band.force_high_n=50", err, sizeof err), 0);
    CHECK_INT(config_check(&c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "--set: [band] force_high_n: 50 must be greater than "
                            "[band] force_low_n = 60 (line 2)");
    /* A --set that contradicts a later file line still counts as the later one. */
    CHECK_INT(load_text(&c, "\n\n\n\n[band]\nforce_high_n = 90\n", err), 0);
    CHECK_INT(config_set(&c, "band.force_low_n=95", err, sizeof err), 0);
    CHECK_INT(config_check(&c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "--set: [band] force_low_n: 95 must be less than "
                            "[band] force_high_n = 90 (line 6)");
}

/* drive.profile = huanyang-hy: its own framing, on a serial line of its own. */
TEST(huanyang_hy_only_on_a_serial_line_of_its_own)
{
    struct ecc_config c;
    char err[ERRLEN] = "";

    CHECK_INT(load_text(&c, "[drive]\ntype = modbus-tcp\nprofile = huanyang-hy\n", err), -1);
    check_error_at(err, 3, "[drive] profile: huanyang-hy speaks the HY's own framing on RS-485, "
                           "not Modbus TCP");
    CHECK_STR_CONTAINS(err, "set [drive] type = modbus-rtu");
    CHECK_INT(load_text(&c, "[drive]\ntype = modbus-rtu\nprofile = huanyang-hy\n[loadcell]\n"
                            "type = modbus\nlink = drive\n", err), -1);
    check_error_at(err, 6, "[loadcell] link: drive: a huanyang-hy drive's line carries the HY's "
                           "framing, not Modbus");
    CHECK_INT(load_text(&c, "[drive]\ntype = modbus-rtu\nprofile = huanyang-hy\n"
                            "device = /dev/ttyUSB1\n[loadcell]\ntype = modbus\nlink = rtu\n"
                            "device = /dev/ttyUSB1\n", err), -1);
    check_error_at(err, 8, "[loadcell] device: /dev/ttyUSB1 is the huanyang-hy drive's line");
    /* its own line, or TCP: fine; a pwm or sim drive ignores the profile */
    CHECK_INT(load_text(&c, "[drive]\ntype = modbus-rtu\nprofile = huanyang-hy\n"
                            "device = /dev/ttyUSB1\n[loadcell]\ntype = modbus\nlink = rtu\n"
                            "device = /dev/ttyUSB0\n", err), 0);
    CHECK_INT(load_text(&c, "[drive]\ntype = modbus-rtu\nprofile = huanyang-hy\n[loadcell]\n"
                            "type = modbus\nlink = tcp\n", err), 0);
    CHECK_INT(load_text(&c, "[drive]\ntype = sim\nprofile = huanyang-hy\n", err), 0);
    /* --set after the file: the same check */
    CHECK_INT(load_text(&c, "[drive]\nprofile = huanyang-hy\n", err), 0);
    CHECK_INT(config_set(&c, "drive.type=modbus-tcp", err, sizeof err), 0);
    CHECK_INT(config_check(&c, err, sizeof err), -1);
    CHECK_STR_CONTAINS(err, "x.ini:2: [drive] profile: huanyang-hy");
}

/* ---- the corpus of bad files --------------------------------------------------------------- */

static void check_bad_file(const char *dir, const char *name)
{
    char path[600], first[256], rest[200], want[900], err[ERRLEN] = "";
    struct ecc_config c;
    FILE *f;
    int line = 0;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    f = fopen(path, "r");
    REQUIRE(f != NULL);
    if (!fgets(first, sizeof first, f))
        first[0] = '\0';
    fclose(f);
    if (sscanf(first, "; expect: %d %199[^\r\n]", &line, rest) != 2) {
        printf("  %s: first line is not \"; expect: LINE [section] key\"\n", name);
        test_failed_ = 1;
        return;
    }
    snprintf(want, sizeof want, "%s:%d: %s", path, line, rest);
    if (config_load(&c, path, err, sizeof err) != -1 || !strstr(err, want)) {
        printf("  %s: want \"%s\", got \"%s\"\n", name, want, err);
        test_failed_ = 1;
    }
}

TEST(bad_corpus_is_refused_at_the_right_line_and_key)
{
    const char *dir = find_dir("tests/config-bad");
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *e;
    int n = 0;

    CHECK(d != NULL);
    while (d && (e = readdir(d))) {
        size_t len = strlen(e->d_name);

        if (len < 5 || strcmp(e->d_name + len - 4, ".ini"))
            continue;
        n++;
        check_bad_file(dir, e->d_name);
    }
    if (d)
        closedir(d);
    CHECK(n >= 25);
}

/* ---- paths and names ----------------------------------------------------------------------- */

TEST(resolve_path_against_the_config_directory)
{
    struct ecc_config c;
    char out[CFG_PATH_MAX], tiny[8];

    config_defaults(&c);
    CHECK_INT(config_resolve_path(&c, "a.ini", out, sizeof out), 0);
    CHECK(!strcmp(out, "a.ini"));
    snprintf(c.path, sizeof c.path, "config/sim.ini");
    CHECK_INT(config_resolve_path(&c, "../sim/scenarios/x.ini", out, sizeof out), 0);
    CHECK(!strcmp(out, "config/../sim/scenarios/x.ini"));
    CHECK_INT(config_resolve_path(&c, "/etc/eccd/x.ini", out, sizeof out), 0);
    CHECK(!strcmp(out, "/etc/eccd/x.ini"));
    snprintf(c.path, sizeof c.path, "/eccd.ini");
    CHECK_INT(config_resolve_path(&c, "x.ini", out, sizeof out), 0);
    CHECK(!strcmp(out, "/x.ini"));
    snprintf(c.path, sizeof c.path, "sim.ini");
    CHECK_INT(config_resolve_path(&c, "x.ini", out, sizeof out), 0);
    CHECK(!strcmp(out, "x.ini"));
    snprintf(c.path, sizeof c.path, "/etc/eccd/eccd.ini");
    errno = 0;
    CHECK_INT(config_resolve_path(&c, "x.ini", tiny, sizeof tiny), -1);
    CHECK_INT(errno, ENAMETOOLONG);
    CHECK_INT(config_resolve_path(&c, "/abcdefgh", tiny, sizeof tiny), -1);
    CHECK_INT(config_resolve_path(&c, "/abcdef", tiny, sizeof tiny), 0);
}

TEST(mode_names)
{
    CHECK(!strcmp(config_mode_name(CFG_MODE_CONTINUOUS), "continuous"));
    CHECK(!strcmp(config_mode_name(CFG_MODE_FIXED), "fixed"));
    CHECK(!strcmp(config_mode_name(CFG_MODE_REACTIVE), "reactive"));
    CHECK(!strcmp(config_mode_name((enum cfg_mode)7), "?"));
}

TESTS(T(defaults_match_the_spec), T(defaults_pass_check), T(every_key_is_named_once),
      T(example_configs_load_with_every_key), T(example_configs_say_what_they_are),
      T(round_trip_defaults_and_examples), T(round_trip_awkward_values),
      T(print_shows_units_help_and_differing_defaults),
      T(printed_key_lines_fit_the_print_width), T(messages_have_the_documented_form),
      T(missing_or_unreadable_file_names_file_and_reason),
      T(line_numbers_survive_comments_crlf_bom_and_long_lines),
      T(an_indented_line_is_not_a_continuation), T(set_applies_a_value),
      T(set_refuses_bad_values_and_leaves_the_config_alone), T(set_refuses_a_string_too_long),
      T(each_cross_field_rule_is_refused_at_the_key_that_broke_it),
      T(cross_field_blames_the_key_set_later), T(cross_field_after_set_says_set),
      T(huanyang_hy_only_on_a_serial_line_of_its_own),
      T(bad_corpus_is_refused_at_the_right_line_and_key),
      T(resolve_path_against_the_config_directory), T(mode_names));

TEST_MAIN("test_config")
