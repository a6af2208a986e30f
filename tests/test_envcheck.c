/* test_envcheck.c - the machine checks of --check-config (daemon/envcheck.c) on scratch
 * directories: who may open what, the lines and fixes for each part, and the fix a failed
 * start gets. A few cases judge another user's permissions and need root (they are
 * reported skipped otherwise); a few judge the running user's own and mean nothing as root. */
#define _XOPEN_SOURCE 700           /* nftw */
#include "daemon/envcheck.h"

#include <errno.h>
#include <ftw.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/test.h"

/* A scratch directory under /tmp that other users may search (as eccd's [daemon] user
 * must when the tests run as root). */
struct scratch {
    char root[64];
    bool ok;
};

static bool scratch_make(struct scratch *s)
{
    snprintf(s->root, sizeof s->root, "/tmp/ecc-envcheck-XXXXXX");
    s->ok = mkdtemp(s->root) != NULL && chmod(s->root, 0755) == 0;
    CHECK(s->ok);
    return s->ok;
}

static int remove_one(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)type;
    (void)ftw;
    chmod(path, 0700);              /* a directory made unwritable for a test */
    return remove(path);
}

static void scratch_remove(struct scratch *s)
{
    if (s->ok && nftw(s->root, remove_one, 8, FTW_DEPTH | FTW_PHYS) != 0)
        printf("  could not remove %s\n", s->root);
}

/* root/name into buf (a path that does not fit fails the test). */
static const char *at(const struct scratch *s, const char *name, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s/%s", s->root, name);

    CHECK(n > 0 && (size_t)n < len);
    return buf;
}

static bool make_dir(const struct scratch *s, const char *name, mode_t mode)
{
    char path[128];
    bool ok = mkdir(at(s, name, path, sizeof path), mode) == 0 && chmod(path, mode) == 0;
    CHECK(ok);
    return ok;
}

static bool make_file(const struct scratch *s, const char *name, mode_t mode)
{
    char path[128];
    FILE *f = fopen(at(s, name, path, sizeof path), "w");
    bool ok = f != NULL && fclose(f) == 0 && chmod(path, mode) == 0;
    CHECK(ok);
    return ok;
}

/* A simulated rig keeping its history and socket in the scratch directory. */
static void sim_config(struct ecc_config *cfg, const struct scratch *s)
{
    config_defaults(cfg);
    cfg->rig.backend = CFG_BACKEND_SIM;
    at(s, "history.db", cfg->history.path, sizeof cfg->history.path);
    at(s, "eccd.sock", cfg->server.socket, sizeof cfg->server.socket);
    cfg->server.owner[0] = cfg->server.group[0] = cfg->daemon.user[0] = '\0';
    cfg->log.rep_log[0] = cfg->sim.truth_log[0] = '\0';
}

/* A hardware rig: GPIO inputs and encoder, a Modbus RTU drive, the load cell on its bus. */
static void hw_config(struct ecc_config *cfg, const struct scratch *s)
{
    sim_config(cfg, s);
    cfg->rig.backend = CFG_BACKEND_HW;
    cfg->inputs.type = CFG_INPUTS_GPIO;
    cfg->encoder.type = CFG_ENCODER_GPIO;
    cfg->loadcell.type = CFG_LOADCELL_MODBUS;
    cfg->loadcell.link = CFG_LC_LINK_DRIVE;
    cfg->drive.type = CFG_DRIVE_MODBUS_RTU;
    snprintf(cfg->drive.device, sizeof cfg->drive.device, "/dev/null");   /* rw for all */
}

/* envcheck_run's lines and problem count. */
struct outcome {
    int problems;
    char *text;
    size_t len;
};

static struct outcome run(const struct ecc_config *cfg, const struct envcheck_params *p)
{
    struct outcome o = {.problems = -2};
    FILE *out = open_memstream(&o.text, &o.len);

    CHECK(out != NULL);
    if (out) {
        o.problems = envcheck_run(cfg, p, out);
        fclose(out);
    }
    return o;
}

static int count_lines(const char *text, const char *start)
{
    int n = 0;
    size_t len = strlen(start);

    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        n += strncmp(l, start, len) == 0;
    return n;
}

static void show_and_free(struct outcome *o)
{
    if (test_failed_ && o->text)
        printf("%s", o->text);
    free(o->text);
}

/* A user that is not the running process: judged from the mode bits. */
static struct envcheck_user other_user(uid_t uid, gid_t group)
{
    struct envcheck_user u = {.uid = uid, .gid = group, .ngroups = 1, .self = false};

    u.groups[0] = group;
    snprintf(u.name, sizeof u.name, "someone");
    return u;
}

/* ---- users and access -------------------------------------------------------------------- */

TEST(self_is_the_running_process)
{
    struct envcheck_user u;
    bool has_egid = false;

    CHECK_INT(envcheck_user_self(&u), 0);
    CHECK(u.self);
    CHECK_INT(u.uid, geteuid());
    CHECK_INT(u.gid, getegid());
    for (int i = 0; i < u.ngroups; i++)
        has_egid |= u.groups[i] == getegid();
    CHECK(has_egid);
    CHECK(u.name[0] != '\0');
}

TEST(named_user_by_name_and_number_and_missing)
{
    struct envcheck_user u;

    CHECK_INT(envcheck_user_named("root", &u), 0);
    CHECK_INT(u.uid, 0);
    CHECK(!u.self);
    CHECK(strcmp(u.name, "root") == 0);
    CHECK_INT(envcheck_user_named("0", &u), 0);
    CHECK(strcmp(u.name, "root") == 0);
    errno = 0;
    CHECK_INT(envcheck_user_named("no-such-user-envcheck", &u), -1);
    CHECK_INT(errno, ENOENT);
}

TEST(another_user_is_judged_by_owner_group_and_other_bits)
{
    struct scratch s;
    char file[128];
    struct stat st;

    if (!scratch_make(&s) || !make_file(&s, "f", 0640))
        goto out;
    /* root's own files would be judged by root's rule: give the file to someone else */
    at(&s, "f", file, sizeof file);
    if ((geteuid() == 0 && chown(file, 4242, 4243) != 0) || stat(file, &st) != 0) {
        CHECK(!"set-up: chown and stat of the scratch file");
        goto out;
    }
    struct envcheck_user owner = other_user(st.st_uid, st.st_gid + 1);
    struct envcheck_user member = other_user(st.st_uid + 1, st.st_gid);
    struct envcheck_user stranger = other_user(st.st_uid + 1, st.st_gid + 1);

    CHECK_INT(envcheck_access(&owner, file, R_OK | W_OK), 0);
    CHECK_INT(envcheck_access(&member, file, R_OK), 0);
    errno = 0;
    CHECK_INT(envcheck_access(&member, file, W_OK), -1);
    CHECK_INT(errno, EACCES);
    CHECK_INT(envcheck_access(&stranger, file, R_OK), -1);
    CHECK_INT(envcheck_access(&stranger, file, F_OK), 0);
    CHECK_INT(chmod(file, 0444), 0);
    CHECK_INT(envcheck_access(&owner, file, W_OK), -1);
out:
    scratch_remove(&s);
}

TEST(another_user_needs_every_directory_on_the_way)
{
    struct scratch s;
    char dir[128], file[160];
    struct stat st;

    if (!scratch_make(&s) || !make_dir(&s, "d", 0700) || !make_file(&s, "d/f", 0644) ||
        stat(at(&s, "d", dir, sizeof dir), &st) != 0)
        goto out;
    struct envcheck_user stranger = other_user(st.st_uid + 1, st.st_gid + 1);

    at(&s, "d/f", file, sizeof file);
    errno = 0;
    CHECK_INT(envcheck_access(&stranger, file, R_OK), -1);
    CHECK_INT(errno, EACCES);
    CHECK_INT(chmod(dir, 0711), 0);
    CHECK_INT(envcheck_access(&stranger, file, R_OK), 0);
    errno = 0;
    CHECK_INT(envcheck_access(&stranger, dir, W_OK | X_OK), -1);
    CHECK_INT(errno, EACCES);
out:
    scratch_remove(&s);
}

TEST(root_reads_and_writes_anything_but_runs_only_what_anyone_may)
{
    struct scratch s;
    char file[128], dir[128];
    struct envcheck_user root = other_user(0, 0);

    if (!scratch_make(&s) || !make_file(&s, "f", 0000) || !make_dir(&s, "d", 0000))
        goto out;
    at(&s, "f", file, sizeof file);
    at(&s, "d", dir, sizeof dir);
    CHECK_INT(envcheck_access(&root, file, R_OK | W_OK), 0);
    CHECK_INT(envcheck_access(&root, file, X_OK), -1);
    CHECK_INT(envcheck_access(&root, dir, W_OK | X_OK), 0);
out:
    scratch_remove(&s);
}

/* ---- files and directories ----------------------------------------------------------------- */

TEST(sim_rig_with_its_files_in_place_is_ready)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};
    char rep_log[128];

    if (!scratch_make(&s))
        goto out;
    sim_config(&cfg, &s);
    struct envcheck_params p = {.rep_log = at(&s, "reps.jsonl", rep_log, sizeof rep_log)};
    o = run(&cfg, &p);
    CHECK_INT(o.problems, 0);
    CHECK_STR_CONTAINS(o.text, "eccd: environment: ready");
    CHECK_INT(count_lines(o.text, "eccd: problem:"), 0);
    CHECK_INT(count_lines(o.text, "eccd: note:"), 0);
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(missing_directories_and_a_long_socket_path_are_problems_with_fixes)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};
    char want[384], rep_log[128];

    if (!scratch_make(&s))
        goto out;
    sim_config(&cfg, &s);
    at(&s, "gone/history.db", cfg.history.path, sizeof cfg.history.path);
    snprintf(cfg.server.socket, sizeof cfg.server.socket, "%s/%0120d.sock", s.root, 0);
    struct envcheck_params p = {.rep_log = at(&s, "nodir/reps.jsonl", rep_log, sizeof rep_log)};
    o = run(&cfg, &p);
    CHECK_INT(o.problems, 3);
    snprintf(want, sizeof want, "eccd: problem: [history] path: %s/gone: No such file or "
             "directory; fix: sudo install -d -o ", s.root);
    CHECK_STR_CONTAINS(o.text, want);
    snprintf(want, sizeof want, "-m 0750 %s/gone\n", s.root);
    CHECK_STR_CONTAINS(o.text, want);
    CHECK_STR_CONTAINS(o.text, "eccd: problem: [server] socket: ");
    CHECK_STR_CONTAINS(o.text, "File name too long; fix: a path of at most 107 bytes");
    snprintf(want, sizeof want, "eccd: problem: --rep-log: %s/nodir: No such file", s.root);
    CHECK_STR_CONTAINS(o.text, want);
    CHECK_STR_CONTAINS(o.text, "eccd: environment: 3 problems would stop a start");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(a_directory_eccd_service_makes_is_a_note)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};
    char svc[128], want[384];

    if (!scratch_make(&s))
        goto out;
    sim_config(&cfg, &s);
    at(&s, "svc/history.db", cfg.history.path, sizeof cfg.history.path);
    const char *const service_dirs[] = {at(&s, "svc", svc, sizeof svc), NULL};
    struct envcheck_params p = {.service_dirs = service_dirs};
    o = run(&cfg, &p);
    CHECK_INT(o.problems, 0);
    snprintf(want, sizeof want, "eccd: note: [history] path: %s: not there yet: eccd.service "
             "makes it when it starts; fix: to start eccd by hand before that: sudo install -d",
             svc);
    CHECK_STR_CONTAINS(o.text, want);
    CHECK_STR_CONTAINS(o.text, "eccd: environment: ready");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(a_directory_two_keys_share_is_reported_once)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};

    if (!scratch_make(&s))
        goto out;
    sim_config(&cfg, &s);
    at(&s, "gone/history.db", cfg.history.path, sizeof cfg.history.path);
    at(&s, "gone/eccd.sock", cfg.server.socket, sizeof cfg.server.socket);
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 1);
    CHECK_INT(count_lines(o.text, "eccd: problem:"), 1);
    CHECK_STR_CONTAINS(o.text, "eccd: problem: [server] socket: ");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(a_file_in_the_sockets_place_is_a_problem)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};

    if (!scratch_make(&s) || !make_file(&s, "eccd.sock", 0644))
        goto out;
    sim_config(&cfg, &s);
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 1);
    CHECK_STR_CONTAINS(o.text, "eccd.sock: File exists (it is a regular file; eccd replaces "
                       "only a socket); fix: remove it");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(missing_socket_owner_and_group_are_problems)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};

    if (!scratch_make(&s))
        goto out;
    sim_config(&cfg, &s);
    snprintf(cfg.server.owner, sizeof cfg.server.owner, "no-such-user-envcheck");
    snprintf(cfg.server.group, sizeof cfg.server.group, "eccd-no-such-group");
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 2);
    CHECK_STR_CONTAINS(o.text, "eccd: problem: [server] owner: no-such-user-envcheck: no such "
                       "user on this machine; fix: sudo useradd --system no-such-user-envcheck");
    CHECK_STR_CONTAINS(o.text, "eccd: problem: [server] group: eccd-no-such-group: no such "
                       "group on this machine; fix: sudo groupadd --system eccd-no-such-group");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

/* ---- hardware -------------------------------------------------------------------------- */

TEST(hardware_parts_are_named_with_their_fixes)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};
    char want[320];

    if (!scratch_make(&s) || !make_file(&s, "ttyUSB0", 0666))
        goto out;
    hw_config(&cfg, &s);
    at(&s, "gpiochip7", cfg.inputs.chip, sizeof cfg.inputs.chip);
    at(&s, "gpiochip7", cfg.encoder.chip, sizeof cfg.encoder.chip);
    at(&s, "ttyUSB0", cfg.drive.device, sizeof cfg.drive.device);
    cfg.loadcell.link = CFG_LC_LINK_TCP;
    snprintf(cfg.loadcell.host, sizeof cfg.loadcell.host, "192.0.2.7");
    cfg.loadcell.port = 1502;
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 2);
    /* one chip for two keys: one line naming both */
    snprintf(want, sizeof want, "eccd: problem: [inputs] chip, [encoder] chip: %s/gpiochip7: "
             "No such file or directory; fix: no GPIO chip %s/gpiochip7 on this machine: "
             "gpiodetect lists them", s.root, s.root);
    CHECK_STR_CONTAINS(o.text, want);
    snprintf(want, sizeof want, "eccd: problem: [drive] device: %s/ttyUSB0: not a device but a "
             "regular file; fix: set [drive] device to the device itself", s.root);
    CHECK_STR_CONTAINS(o.text, want);
    CHECK_STR_CONTAINS(o.text, "eccd: note: [loadcell] host: 192.0.2.7:1502: a Modbus TCP link "
                       "is not checked offline");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(a_missing_serial_port_says_to_plug_the_adapter_in)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};

    if (!scratch_make(&s))
        goto out;
    hw_config(&cfg, &s);
    cfg.inputs.type = CFG_INPUTS_NONE;
    cfg.encoder.type = CFG_ENCODER_DRIVE;
    snprintf(cfg.drive.device, sizeof cfg.drive.device, "/dev/ttyFOO-envcheck");
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 1);
    CHECK_STR_CONTAINS(o.text, "eccd: problem: [drive] device: /dev/ttyFOO-envcheck: No such "
                       "file or directory; fix: plug in the USB-RS485 adapter");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(pwm_and_iio_paths)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};

    if (!scratch_make(&s) || !make_dir(&s, "pwmchip0", 0755) ||
        !make_file(&s, "pwmchip0/export", 0644) || !make_dir(&s, "iio:device0", 0755) ||
        !make_file(&s, "iio:device0/in_voltage0_raw", 0444))
        goto out;
    hw_config(&cfg, &s);
    cfg.inputs.type = CFG_INPUTS_NONE;
    cfg.encoder.type = CFG_ENCODER_DRIVE;       /* not checked here: no chip line */
    cfg.drive.type = CFG_DRIVE_PWM;
    cfg.loadcell.type = CFG_LOADCELL_IIO;
    at(&s, "pwmchip0", cfg.drive.device, sizeof cfg.drive.device);
    at(&s, "iio:device0", cfg.loadcell.iio_device, sizeof cfg.loadcell.iio_device);
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 0);
    show_and_free(&o);
    at(&s, "pwmchip9", cfg.drive.device, sizeof cfg.drive.device);
    snprintf(cfg.loadcell.iio_channel, sizeof cfg.loadcell.iio_channel, "in_voltage1_raw");
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 2);
    CHECK_STR_CONTAINS(o.text, "pwmchip9: No such file or directory; fix: turn the PWM on "
                       "(dtoverlay=pwm");
    CHECK_STR_CONTAINS(o.text, "eccd: problem: [loadcell] iio_channel: ");
    CHECK_STR_CONTAINS(o.text, "in_voltage1_raw: No such file or directory; fix: set [loadcell] "
                       "iio_channel to one of the in_voltage*_raw files");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(fix_for_a_part_that_did_not_open)
{
    struct scratch s;
    struct ecc_config cfg;
    char fix[384];

    if (!scratch_make(&s))
        goto out;
    hw_config(&cfg, &s);
    snprintf(cfg.drive.device, sizeof cfg.drive.device, "/dev/ttyFOO-envcheck");
    at(&s, "gpiochip7", cfg.inputs.chip, sizeof cfg.inputs.chip);
    at(&s, "iio:device9", cfg.loadcell.iio_device, sizeof cfg.loadcell.iio_device);
    CHECK_INT(envcheck_fix(&cfg, HAL_HW_DRIVE_DEVICE, fix, sizeof fix), 1);
    CHECK_STR_CONTAINS(fix, "plug in the USB-RS485 adapter");
    CHECK_INT(envcheck_fix(&cfg, HAL_HW_INPUTS_CHIP, fix, sizeof fix), 1);
    CHECK_STR_CONTAINS(fix, "gpiodetect lists them");
    CHECK_STR_CONTAINS(fix, "set [inputs] chip to one of them");
    CHECK_INT(envcheck_fix(&cfg, HAL_HW_IIO, fix, sizeof fix), 1);
    CHECK_STR_CONTAINS(fix, "dtoverlay=hx711");
    /* nothing wrong with the path: the failure had another cause, and no fix is made up */
    snprintf(cfg.drive.device, sizeof cfg.drive.device, "/dev/null");
    CHECK_INT(envcheck_fix(&cfg, HAL_HW_DRIVE_DEVICE, fix, sizeof fix), 0);
out:
    scratch_remove(&s);
}

/* ---- who: as root, the [daemon] user; otherwise the running user ------------------------- */

TEST(daemon_user_is_checked_with_its_own_permissions)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};
    char want[320];

    if (!scratch_make(&s) || !make_dir(&s, "closed", 0755) || !make_dir(&s, "open", 0777))
        goto out;
    sim_config(&cfg, &s);
    snprintf(cfg.daemon.user, sizeof cfg.daemon.user, "nobody");
    snprintf(cfg.server.group, sizeof cfg.server.group, "root");
    at(&s, "closed/history.db", cfg.history.path, sizeof cfg.history.path);
    at(&s, "open/eccd.sock", cfg.server.socket, sizeof cfg.server.socket);
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 2);
    CHECK_STR_CONTAINS(o.text, "history, socket and calibration checked as nobody");
    snprintf(want, sizeof want, "eccd: problem: [history] path: %s/closed: Permission denied "
             "(root:root 0755: nobody may not create files in it)", s.root);
    CHECK_STR_CONTAINS(o.text, want);
    CHECK_STR_CONTAINS(o.text, "eccd: problem: [server] group: root: Operation not permitted");
    CHECK_STR_CONTAINS(o.text, "fix: sudo usermod -aG root nobody");
    CHECK_INT(count_lines(o.text, "eccd: problem: [server] socket"), 0);
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(missing_daemon_user_is_a_problem_for_root)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};

    if (!scratch_make(&s))
        goto out;
    sim_config(&cfg, &s);
    snprintf(cfg.daemon.user, sizeof cfg.daemon.user, "no-such-user-envcheck");
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 1);
    CHECK_STR_CONTAINS(o.text, "eccd: problem: [daemon] user: no-such-user-envcheck: no such "
                       "user on this machine; fix: sudo useradd --system");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(own_unwritable_directory_is_a_problem)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};
    char want[320];

    if (!scratch_make(&s) || !make_dir(&s, "closed", 0555))
        goto out;
    sim_config(&cfg, &s);
    at(&s, "closed/history.db", cfg.history.path, sizeof cfg.history.path);
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 1);
    snprintf(want, sizeof want, "eccd: problem: [history] path: %s/closed: Permission denied (",
             s.root);
    CHECK_STR_CONTAINS(o.text, want);
    CHECK_STR_CONTAINS(o.text, " 0555: ");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TEST(daemon_user_is_only_a_note_without_root)
{
    struct scratch s;
    struct ecc_config cfg;
    struct outcome o = {0};

    if (!scratch_make(&s))
        goto out;
    sim_config(&cfg, &s);
    snprintf(cfg.daemon.user, sizeof cfg.daemon.user, "no-such-user-envcheck");
    o = run(&cfg, NULL);
    CHECK_INT(o.problems, 0);
    CHECK_STR_CONTAINS(o.text, "eccd: note: [daemon] user: no-such-user-envcheck: applies only "
                       "when eccd starts as root");
out:
    show_and_free(&o);
    scratch_remove(&s);
}

TESTS(T(self_is_the_running_process), T(named_user_by_name_and_number_and_missing),
      T(another_user_is_judged_by_owner_group_and_other_bits),
      T(another_user_needs_every_directory_on_the_way),
      T(root_reads_and_writes_anything_but_runs_only_what_anyone_may),
      T(sim_rig_with_its_files_in_place_is_ready),
      T(missing_directories_and_a_long_socket_path_are_problems_with_fixes),
      T(a_directory_eccd_service_makes_is_a_note), T(a_directory_two_keys_share_is_reported_once),
      T(a_file_in_the_sockets_place_is_a_problem), T(missing_socket_owner_and_group_are_problems),
      T(hardware_parts_are_named_with_their_fixes),
      T(a_missing_serial_port_says_to_plug_the_adapter_in), T(pwm_and_iio_paths),
      T(fix_for_a_part_that_did_not_open));

/* As root: eccd becomes [daemon] user (nobody here) for its history and socket. */
static const struct test_case root_cases[] = {
    T(daemon_user_is_checked_with_its_own_permissions), T(missing_daemon_user_is_a_problem_for_root),
};

/* As anyone else: the running user's own permissions (root may write anywhere). */
static const struct test_case user_cases[] = {
    T(own_unwritable_directory_is_a_problem), T(daemon_user_is_only_a_note_without_root),
};

static int run_or_skip(const struct test_case *cases, int n, bool run_them, const char *why)
{
    if (run_them)
        return test_run_all("test_envcheck", cases, n);
    return test_skip_all("test_envcheck", cases, n, why);
}

int main(void)
{
    bool root = geteuid() == 0;
    int rc = test_run_all("test_envcheck", test_cases_,
                          (int)(sizeof test_cases_ / sizeof test_cases_[0]));

    rc |= run_or_skip(root_cases, (int)(sizeof root_cases / sizeof root_cases[0]),
                      root && getpwnam("nobody") != NULL,
                      root ? "needs the user nobody" : "needs root (eccd drops to [daemon] user "
                      "only from root)");
    rc |= run_or_skip(user_cases, (int)(sizeof user_cases / sizeof user_cases[0]), !root,
                      "runs as root, who may write anywhere: judged only for another user");
    return rc;
}
