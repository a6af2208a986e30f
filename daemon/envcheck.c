/* envcheck.c - what on this machine would stop eccd starting (see envcheck.h). */
#include "daemon/envcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/ctlsock.h"
#include "hal/gpio.h"

#define TEXT_MAX 512
#define NSS_BUF 4096

/* The access modes are the rwx bits: judge() compares them with the mode bits directly. */
_Static_assert(R_OK == 4 && W_OK == 2 && X_OK == 1, "access modes are not the rwx bits");

enum level { LVL_OK = 0, LVL_NOTE, LVL_PROBLEM };

/* One check's outcome: what, where and why in text; what to do in fix. */
struct finding {
    enum level level;
    int err;                            /* the errno behind a problem (0: none) */
    char text[TEXT_MAX];
    char fix[TEXT_MAX];                 /* "": nothing to say */
};

#define DIRS_SEEN_MAX 8

/* The directories a run has checked: each once per user, though several keys use it. */
struct dirs {
    const char *const *service;         /* made by eccd.service (envcheck_params) */
    struct {
        char path[CFG_PATH_MAX];
        uid_t uid;
    } seen[DIRS_SEEN_MAX];
    int nseen;
};

/* One --check-config run. */
struct run {
    FILE *out;
    const struct ecc_config *cfg;
    struct envcheck_user self;          /* opens the hardware and the output files */
    struct envcheck_user daemon;        /* writes the history, socket and calibration */
    struct dirs dirs;
    int problems;
};

/* eccd.service's StateDirectory=eccd and RuntimeDirectory=eccd (config/eccd.service). */
static const char *const unit_dirs[] = {"/var/lib/eccd", "/run/eccd", NULL};

/* ---- findings ------------------------------------------------------------------------ */

__attribute__((format(printf, 3, 4)))
static void say(struct finding *f, enum level level, const char *fmt, ...)
{
    va_list ap;

    f->level = level;
    f->fix[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(f->text, sizeof f->text, fmt, ap);
    va_end(ap);
}

__attribute__((format(printf, 2, 3)))
static void fix(struct finding *f, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(f->fix, sizeof f->fix, fmt, ap);
    va_end(ap);
}

static void all_clear(struct finding *f)
{
    f->level = LVL_OK;
    f->err = 0;
    f->text[0] = f->fix[0] = '\0';
}

/* A problem from errno e: "KEY: PATH: strerror". */
static void say_errno(struct finding *f, int e, const char *key, const char *path)
{
    f->err = e;
    say(f, LVL_PROBLEM, "%s: %s: %s", key, path, strerror(e));
}

static void report(struct run *r, const struct finding *f)
{
    if (f->level == LVL_OK)
        return;
    if (f->level == LVL_PROBLEM)
        r->problems++;
    fprintf(r->out, "eccd: %s: %s%s%s\n", f->level == LVL_PROBLEM ? "problem" : "note", f->text,
            f->fix[0] ? "; fix: " : "", f->fix);
}

/* ---- users and groups ------------------------------------------------------------------ */

static void user_name(uid_t uid, char *buf, size_t len)
{
    char tmp[NSS_BUF];
    struct passwd pw, *res = NULL;

    if (getpwuid_r(uid, &pw, tmp, sizeof tmp, &res) == 0 && res)
        snprintf(buf, len, "%s", pw.pw_name);
    else
        snprintf(buf, len, "%ld", (long)uid);
}

static void group_name(gid_t gid, char *buf, size_t len)
{
    char tmp[NSS_BUF];
    struct group gr, *res = NULL;

    if (getgrgid_r(gid, &gr, tmp, sizeof tmp, &res) == 0 && res)
        snprintf(buf, len, "%s", gr.gr_name);
    else
        snprintf(buf, len, "%ld", (long)gid);
}

static bool in_group(const struct envcheck_user *u, gid_t g)
{
    for (int i = 0; i < u->ngroups; i++)
        if (u->groups[i] == g)
            return true;
    return false;
}

static void add_group(struct envcheck_user *u, gid_t g)
{
    if (!in_group(u, g) && u->ngroups < ENVCHECK_GROUPS_MAX)
        u->groups[u->ngroups++] = g;
}

int envcheck_user_self(struct envcheck_user *u)
{
    gid_t *all;
    int n;

    memset(u, 0, sizeof *u);
    u->uid = geteuid();
    u->gid = getegid();
    u->self = true;
    user_name(u->uid, u->name, sizeof u->name);
    add_group(u, u->gid);
    n = getgroups(0, NULL);
    if (n < 0)
        return -1;
    all = calloc((size_t)n + 1, sizeof *all);
    if (!all)
        return -1;
    n = getgroups(n, all);
    for (int i = 0; i < n; i++)
        add_group(u, all[i]);
    free(all);
    return n < 0 ? -1 : 0;
}

/* By name, or by number as rt.c's [daemon] user lookup takes it. */
static int passwd_of(const char *name, struct passwd *pw, char *buf, size_t len)
{
    struct passwd *res = NULL;
    char *end;
    unsigned long id = strtoul(name, &end, 10);
    int rc = *end == '\0' && end != name ? getpwuid_r((uid_t)id, pw, buf, len, &res)
                                         : getpwnam_r(name, pw, buf, len, &res);

    if (rc == 0 && res)
        return 0;
    errno = ENOENT;
    return -1;
}

int envcheck_user_named(const char *name, struct envcheck_user *u)
{
    char buf[NSS_BUF];
    struct passwd pw;
    gid_t list[ENVCHECK_GROUPS_MAX];
    int n = ENVCHECK_GROUPS_MAX;

    memset(u, 0, sizeof *u);
    if (!name || !*name || passwd_of(name, &pw, buf, sizeof buf) != 0) {
        errno = ENOENT;
        return -1;
    }
    u->uid = pw.pw_uid;
    u->gid = pw.pw_gid;
    snprintf(u->name, sizeof u->name, "%s", pw.pw_name);
    add_group(u, u->gid);
    if (getgrouplist(pw.pw_name, pw.pw_gid, list, &n) < 0)
        n = ENVCHECK_GROUPS_MAX;        /* more than fit: glibc filled in the first ones */
    for (int i = 0; i < n; i++)
        add_group(u, list[i]);
    return 0;
}

/* "eccd, gpio, dialout" */
static void groups_text(const struct envcheck_user *u, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 0; i < u->ngroups && used < len; i++) {
        char g[ENVCHECK_NAME_MAX];
        group_name(u->groups[i], g, sizeof g);
        int n = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", g);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

/* ---- access ---------------------------------------------------------------------------- */

/* The owner's, group's or others' rwx bits, whichever apply to u. */
static int mode_bits(const struct envcheck_user *u, const struct stat *st)
{
    if (u->uid == st->st_uid)
        return (int)(st->st_mode >> 6) & 7;
    if (in_group(u, st->st_gid))
        return (int)(st->st_mode >> 3) & 7;
    return (int)st->st_mode & 7;
}

/* As the kernel judges without ACLs: root reads and writes anything, and searches or runs
 * what anyone may. */
static int judge(const struct envcheck_user *u, const struct stat *st, int mode)
{
    int want = mode & (R_OK | W_OK | X_OK);
    bool ok;

    if (u->uid == 0)
        ok = !(want & X_OK) || S_ISDIR(st->st_mode) || (st->st_mode & 0111);
    else
        ok = (mode_bits(u, st) & want) == want;
    if (ok)
        return 0;
    errno = EACCES;
    return -1;
}

/* Every directory on the way to path must let u search it. */
static int search_path(const struct envcheck_user *u, const char *path)
{
    char buf[PATH_MAX];
    struct stat st;

    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        errno = ENAMETOOLONG;
        return -1;
    }
    if (!buf[0]) {
        errno = ENOENT;
        return -1;
    }
    for (char *s = strchr(buf + 1, '/'); s; s = strchr(s + 1, '/')) {
        *s = '\0';
        int rc = stat(buf, &st);
        *s = '/';
        if (rc != 0)
            return -1;
        if (!S_ISDIR(st.st_mode)) {
            errno = ENOTDIR;
            return -1;
        }
        if (judge(u, &st, X_OK) != 0)
            return -1;
    }
    return 0;
}

int envcheck_access(const struct envcheck_user *u, const char *path, int mode)
{
    struct stat st;

    if (u->self)
        return faccessat(AT_FDCWD, path, mode, AT_EACCESS);
    if (search_path(u, path) != 0 || stat(path, &st) != 0)
        return -1;
    return judge(u, &st, mode);
}

/* "root:dialout 0660" */
static void owner_text(const struct stat *st, char *buf, size_t len)
{
    char u[ENVCHECK_NAME_MAX], g[ENVCHECK_NAME_MAX];

    user_name(st->st_uid, u, sizeof u);
    group_name(st->st_gid, g, sizeof g);
    snprintf(buf, len, "%s:%s %04o", u, g, (unsigned)(st->st_mode & 07777));
}

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m) ? "a directory" : S_ISREG(m) ? "a regular file" : S_ISSOCK(m) ? "a socket"
           : S_ISFIFO(m) ? "a FIFO" : S_ISBLK(m) ? "a block device" : S_ISCHR(m) ? "a device"
           : "a special file";
}

static const char *mode_words(int mode)
{
    return (mode & W_OK) && (mode & R_OK) ? "read and write it" : (mode & W_OK) ? "write it"
           : "read it";
}

/* u may not open the file at path (st) for mode: say so, with its owner and mode. */
static void say_denied(struct finding *f, int e, const char *key, const char *path,
                       const struct envcheck_user *u, const struct stat *st, int mode)
{
    char own[160];

    if (e != EACCES) {
        say_errno(f, e, key, path);
        return;
    }
    f->err = e;
    owner_text(st, own, sizeof own);
    say(f, LVL_PROBLEM, "%s: %s: %s (%s: %s may not %s)", key, path, strerror(e), own, u->name,
        S_ISDIR(st->st_mode) ? "create files in it" : mode_words(mode));
}

/* The fix when u may not open st for mode: joining the file's group where that group may
 * (a group of root's is no answer), else what the caller says. */
static void fix_access(struct finding *f, const struct envcheck_user *u, const struct stat *st,
                       int mode, const char *otherwise)
{
    char g[ENVCHECK_NAME_MAX];
    int want = mode & (R_OK | W_OK | X_OK);

    if (st->st_gid != 0 && (((int)(st->st_mode >> 3) & want) == want) &&
        !in_group(u, st->st_gid)) {
        group_name(st->st_gid, g, sizeof g);
        fix(f, "sudo usermod -aG %s %s (in effect from %s's next login or start)", g, u->name,
            u->name);
    } else {
        fix(f, "%s", otherwise);
    }
}

/* ---- devices --------------------------------------------------------------------------- */

/* A character device the running process opens read and write at start; missing: the fix
 * when there is nothing at path. */
static void check_chardev(const struct envcheck_user *u, const char *key, const char *path,
                          const char *missing, struct finding *f)
{
    char other[TEXT_MAX];
    struct stat st;

    all_clear(f);
    if (stat(path, &st) != 0) {
        say_errno(f, errno, key, path);
        fix(f, "%s", f->err == ENOENT ? missing : "set it to the device's path");
        return;
    }
    if (!S_ISCHR(st.st_mode)) {
        f->err = ENODEV;
        say(f, LVL_PROBLEM, "%s: %s: not a device but %s", key, path, kind_of(st.st_mode));
        fix(f, "set %s to the device itself", key);
        return;
    }
    if (envcheck_access(u, path, R_OK | W_OK) != 0) {
        say_denied(f, errno, key, path, u, &st, R_OK | W_OK);
        snprintf(other, sizeof other, "a udev rule giving %s to a group %s is in "
                 "(docs/install.md)", path, u->name);
        fix_access(f, u, &st, R_OK | W_OK, other);
    }
}

/* "gpiochip0" -> /dev/gpiochip0, "0" -> /dev/gpiochip0, a path stays as it is (the rule of
 * hal/gpio_v2.c; libgpiod 1.6 also finds a chip by its label, see check_gpiochip). */
static void chip_path(const char *name, char *path, size_t len)
{
    if (strchr(name, '/'))
        snprintf(path, len, "%s", name);
    else if (name[0] && strspn(name, "0123456789") == strlen(name))
        snprintf(path, len, "/dev/gpiochip%s", name);
    else
        snprintf(path, len, "/dev/%s", name);
}

/* Opening a chip requests no line: nothing on the rig changes. */
static bool gpio_chip_opens(const char *name)
{
    struct gpio_chip *c = gpio_libgpiod.chip_open(&gpio_libgpiod, name);

    if (!c)
        return false;
    gpio_libgpiod.chip_close(c);
    return true;
}

static void check_gpiochip(const struct envcheck_user *u, const char *keys, const char *name,
                           struct finding *f)
{
    char path[PATH_MAX], missing[TEXT_MAX];

    snprintf(missing, sizeof missing, "no GPIO chip %s on this machine: gpiodetect lists them "
             "(a Raspberry Pi 5's header is pinctrl-rp1); set %s to one of them, or check the "
             "GPIO driver", name, keys);
    chip_path(name, path, sizeof path);
    check_chardev(u, keys, path, missing, f);
    if (f->level == LVL_PROBLEM && f->err == ENOENT && !strchr(name, '/') &&
        gpio_chip_opens(name)) {
        all_clear(f);                   /* found by its label (libgpiod 1.6) */
        return;
    }
    if (f->level == LVL_OK && !gpio_chip_opens(path)) {
        say_errno(f, errno, keys, path);
        fix(f, "it is not a GPIO chip: set %s to one gpiodetect lists", keys);
    }
}

static void check_serial(const struct envcheck_user *u, const char *key, const char *path,
                         struct finding *f)
{
    char missing[TEXT_MAX];

    snprintf(missing, sizeof missing, "plug in the USB-RS485 adapter (ls /dev/serial/by-id/ "
             "names it), or set %s to the port it is on", key);
    check_chardev(u, key, path, missing, f);
}

/* 0 if path is a directory, else -1 with errno (ENOTDIR when it is something else). */
static int stat_dir(const char *path)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return -1;
    if (S_ISDIR(st.st_mode))
        return 0;
    errno = ENOTDIR;
    return -1;
}

/* A sysfs attribute the running process writes. */
static void check_attr_writable(const struct envcheck_user *u, const char *key,
                                const char *dir, const char *attr, const char *otherwise,
                                struct finding *f)
{
    char path[PATH_MAX + 32];
    struct stat st;

    all_clear(f);
    snprintf(path, sizeof path, "%s/%s", dir, attr);
    if (stat(path, &st) != 0) {
        say_errno(f, errno, key, path);
        fix(f, "%s", otherwise);
    } else if (envcheck_access(u, path, W_OK) != 0) {
        say_denied(f, errno, key, path, u, &st, W_OK);
        fix_access(f, u, &st, W_OK, otherwise);
    }
}

/* drive.type = pwm: the chip's directory, and its export file or the channel's files. */
static void check_pwm(const struct envcheck_user *u, const struct ecc_config *cfg,
                      struct finding *f)
{
    static const char *const attrs[] = {"period", "duty_cycle", "enable"};
    static const char *const key = "[drive] device";
    static const char *const perms = "Raspberry Pi OS's udev rules give /sys/class/pwm to "
                                     "group gpio; elsewhere add such a rule (docs/install.md)";
    char chan[PATH_MAX];
    struct stat st;

    all_clear(f);
    if (stat_dir(cfg->drive.device) != 0) {
        say_errno(f, errno, key, cfg->drive.device);
        fix(f, "turn the PWM on (dtoverlay=pwm in /boot/firmware/config.txt, then reboot: "
            "docs/wiring.md; ls /sys/class/pwm lists the chips), or set %s to its chip", key);
        return;
    }
    snprintf(chan, sizeof chan, "%s/pwm%d", cfg->drive.device, cfg->drive.pwm_channel);
    if (stat(chan, &st) != 0) {         /* eccd exports it at start */
        check_attr_writable(u, key, cfg->drive.device, "export", perms, f);
        return;
    }
    for (size_t i = 0; i < sizeof attrs / sizeof attrs[0] && f->level == LVL_OK; i++)
        check_attr_writable(u, key, chan, attrs[i], perms, f);
}

/* loadcell.type = iio: the device's directory and its raw value file. */
static void check_iio(const struct envcheck_user *u, const struct ecc_config *cfg,
                      struct finding *f)
{
    const char *dir = cfg->loadcell.iio_device;
    char path[PATH_MAX + 64];
    struct stat st;

    all_clear(f);
    if (stat(dir, &st) != 0) {
        say_errno(f, errno, "[loadcell] iio_device", dir);
        fix(f, "load the kernel's hx711 driver (dtoverlay=hx711: docs/wiring.md) and check its "
            "wiring; ls /sys/bus/iio/devices lists the devices");
        return;
    }
    snprintf(path, sizeof path, "%s/%s", dir, cfg->loadcell.iio_channel);
    if (stat(path, &st) != 0) {
        say_errno(f, errno, "[loadcell] iio_channel", path);
        fix(f, "set [loadcell] iio_channel to one of the in_voltage*_raw files in %s", dir);
    } else if (envcheck_access(u, path, R_OK) != 0) {
        say_denied(f, errno, "[loadcell] iio_channel", path, u, &st, R_OK);
        fix_access(f, u, &st, R_OK, "a udev rule that lets eccd's user read it");
    }
}

/* ---- directories and files -------------------------------------------------------------- */

static void dir_of(const char *path, char *dir, size_t len)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        snprintf(dir, len, ".");
    else if (slash == path)
        snprintf(dir, len, "/");
    else
        snprintf(dir, len, "%.*s", (int)(slash - path), path);
}

static bool listed(const char *const *list, const char *s)
{
    for (; list && *list; list++)
        if (strcmp(*list, s) == 0)
            return true;
    return false;
}

/* true the first time dir is met for u (and remembered), false after. */
static bool first_visit(struct dirs *d, const struct envcheck_user *u, const char *dir)
{
    for (int i = 0; i < d->nseen; i++)
        if (d->seen[i].uid == u->uid && strcmp(d->seen[i].path, dir) == 0)
            return false;
    if (d->nseen < DIRS_SEEN_MAX) {
        snprintf(d->seen[d->nseen].path, sizeof d->seen[d->nseen].path, "%s", dir);
        d->seen[d->nseen++].uid = u->uid;
    }
    return true;
}

/* "sudo install -d -o eccd -g eccd -m 0750 DIR" into buf */
static void install_dir_cmd(const struct envcheck_user *u, const char *dir, char *buf,
                            size_t len)
{
    char g[ENVCHECK_NAME_MAX];

    group_name(u->gid, g, sizeof g);
    snprintf(buf, len, "sudo install -d -o %s -g %s -m 0750 %s", u->name, g, dir);
}

/* A directory eccd.service has not made yet: fine for the service, a note for a start by
 * hand. */
static void note_service_dir(const struct envcheck_user *u, const char *key, const char *dir,
                             struct finding *f)
{
    char cmd[TEXT_MAX];

    install_dir_cmd(u, dir, cmd, sizeof cmd);
    say(f, LVL_NOTE, "%s: %s: not there yet: eccd.service makes it when it starts", key, dir);
    fix(f, "to start eccd by hand before that: %.400s", cmd);
}

/* key's files are made in dir by u: it must exist and let u create files in it. A
 * directory already checked for u is not checked (nor reported) again. */
static void check_dir(struct dirs *dirs, const struct envcheck_user *u, const char *key,
                      const char *dir, struct finding *f)
{
    char cmd[TEXT_MAX], g[ENVCHECK_NAME_MAX];
    struct stat st;

    all_clear(f);
    if (!first_visit(dirs, u, dir))
        return;
    if (stat(dir, &st) != 0) {
        int e = errno;
        if (e == ENOENT && listed(dirs->service, dir)) {
            note_service_dir(u, key, dir, f);
            return;
        }
        say_errno(f, e, key, dir);
        install_dir_cmd(u, dir, cmd, sizeof cmd);
        fix(f, "%.400s", e == ENOENT ? cmd : "set the key to a path eccd can reach");
    } else if (!S_ISDIR(st.st_mode)) {
        say_errno(f, ENOTDIR, key, dir);
        fix(f, "set %s to a path in a directory", key);
    } else if (envcheck_access(u, dir, W_OK | X_OK) != 0) {
        say_denied(f, errno, key, dir, u, &st, W_OK);
        group_name(u->gid, g, sizeof g);
        fix(f, "if %s is eccd's own: sudo chown %s:%s %s && sudo chmod u+rwx %s; else set %s to "
            "a directory %s may write in", dir, u->name, g, dir, dir, key, u->name);
    }
}

/* key's file at path, opened by u for mode; when it is not there yet, u makes it. */
static void check_file(struct dirs *dirs, const struct envcheck_user *u, const char *key,
                       const char *path, int mode, struct finding *f)
{
    char dir[PATH_MAX], g[ENVCHECK_NAME_MAX];
    struct stat st;

    all_clear(f);
    if (stat(path, &st) != 0) {
        int e = errno;
        dir_of(path, dir, sizeof dir);
        if (e == ENOENT) {
            check_dir(dirs, u, key, dir, f);
            return;
        }
        say_errno(f, e, key, path);
        fix(f, "set %s to a path eccd can reach", key);
    } else if (S_ISDIR(st.st_mode)) {
        say_errno(f, EISDIR, key, path);
        fix(f, "set %s to a file name", key);
    } else if (envcheck_access(u, path, mode) != 0) {
        say_denied(f, errno, key, path, u, &st, mode);
        group_name(u->gid, g, sizeof g);
        fix(f, "sudo chown %s:%s %s", u->name, g, path);
    }
}

/* A path from the config, resolved as eccd resolves it (against the config's directory). */
static bool resolved(struct run *r, const char *key, const char *rel, char *out, size_t len)
{
    struct finding f;

    if (config_resolve_path(r->cfg, rel, out, len) == 0)
        return true;
    say_errno(&f, ENAMETOOLONG, key, rel);
    fix(&f, "a shorter path");
    report(r, &f);
    return false;
}

/* SQLite makes its -wal and -shm files beside the database: the directory must be
 * writable even when the file is there. */
static void check_history(struct run *r)
{
    static const char *const key = "[history] path";
    char path[CFG_PATH_MAX], dir[CFG_PATH_MAX];
    struct finding f;

    if (!r->cfg->history.path[0] || !resolved(r, key, r->cfg->history.path, path, sizeof path))
        return;
    dir_of(path, dir, sizeof dir);
    check_dir(&r->dirs, &r->daemon, key, dir, &f);
    if (f.level == LVL_OK)
        check_file(&r->dirs, &r->daemon, key, path, R_OK | W_OK, &f);
    report(r, &f);
}

/* Read at start by the running process; saved (a new file renamed over it) by the user
 * eccd runs as. */
static void check_calibration(struct run *r)
{
    static const char *const key = "[loadcell] calibration";
    const struct ecc_config *cfg = r->cfg;
    char path[CFG_PATH_MAX], dir[CFG_PATH_MAX];
    struct finding f;

    if (cfg->rig.backend != CFG_BACKEND_HW || !cfg->loadcell.calibration[0] ||
        cfg->loadcell.type == CFG_LOADCELL_SIM ||
        !resolved(r, key, cfg->loadcell.calibration, path, sizeof path))
        return;
    dir_of(path, dir, sizeof dir);
    check_dir(&r->dirs, &r->daemon, key, dir, &f);
    if (f.level == LVL_OK && access(path, F_OK) == 0)
        check_file(&r->dirs, &r->self, key, path, R_OK, &f);
    report(r, &f);
}

/* Opened for writing at start (relative to the working directory), before eccd becomes
 * [daemon] user. */
static void check_output(struct run *r, const char *key, const char *path)
{
    struct finding f;

    if (!path || !path[0])
        return;
    check_file(&r->dirs, &r->self, key, path, W_OK, &f);
    report(r, &f);
}

static void check_outputs(struct run *r, const struct envcheck_params *p)
{
    check_output(r, p->rep_log ? "--rep-log" : "[log] rep_log",
                 p->rep_log ? p->rep_log : r->cfg->log.rep_log);
    check_output(r, "--trace", p->trace);
    check_output(r, p->truth_log ? "--truth-log" : "[sim] truth_log",
                 p->truth_log ? p->truth_log : r->cfg->sim.truth_log);
}

/* ---- the control socket ------------------------------------------------------------------ */

static bool socket_answers(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), rc;

    if (fd < 0)
        return false;
    if (strlen(path) >= sizeof a.sun_path) {    /* check_socket refused it already */
        close(fd);
        return false;
    }
    memcpy(a.sun_path, path, strlen(path) + 1);
    rc = connect(fd, (struct sockaddr *)&a, sizeof a);
    bool answers = rc == 0 || errno == EAGAIN || errno == EINPROGRESS;
    close(fd);
    return answers;
}

/* What is at the socket's path now: nothing, a stale socket (replaced), a live eccd, or a
 * file eccd will not touch. */
static void check_socket_file(const char *path, struct finding *f)
{
    struct stat st;

    all_clear(f);
    if (lstat(path, &st) != 0)
        return;
    if (!S_ISSOCK(st.st_mode)) {
        say(f, LVL_PROBLEM, "[server] socket: %s: %s (it is %s; eccd replaces only a socket)",
            path, strerror(EEXIST), kind_of(st.st_mode));
        fix(f, "remove it, or set [server] socket to another path");
    } else if (socket_answers(path)) {
        say(f, LVL_NOTE, "[server] socket: %s: an eccd is running on it: a second one would "
            "not start", path);
        fix(f, "stop that one first (a service restart does)");
    }
}

/* The fix for a missing user or group: the packaging's for eccd, else the plain tool. */
static void fix_missing_id(struct finding *f, const char *name, const char *tool)
{
    if (strcmp(name, "eccd") == 0)
        fix(f, "sudo systemd-sysusers (after make install: it makes the user and group eccd), "
            "or empty the key");
    else
        fix(f, "sudo %s --system %s, or empty the key", tool, name);
}

/* chown(2) of the socket to [server] owner: only root may give a file away. */
static void check_owner(const struct run *r, struct finding *f)
{
    const char *name = r->cfg->server.owner;
    uid_t uid;

    all_clear(f);
    if (!name[0])
        return;
    if (ctlsock_user(name, &uid) != 0) {
        say(f, LVL_PROBLEM, "[server] owner: %s: no such user on this machine", name);
        fix_missing_id(f, name, "useradd");
    } else if (uid != r->daemon.uid && r->daemon.uid != 0) {
        say(f, LVL_PROBLEM, "[server] owner: %s: %s (eccd runs as %s, and only root may give "
            "the socket to another user)", name, strerror(EPERM), r->daemon.name);
        fix(f, "empty the key (the socket is then eccd's own)");
    }
}

/* chown(2) of the socket to [server] group: the owner may give it only to its own groups. */
static void check_group(const struct run *r, struct finding *f)
{
    const char *name = r->cfg->server.group;
    gid_t gid;

    all_clear(f);
    if (!name[0])
        return;
    if (ctlsock_group(name, &gid) != 0) {
        say(f, LVL_PROBLEM, "[server] group: %s: no such group on this machine", name);
        fix_missing_id(f, name, "groupadd");
    } else if (!in_group(&r->daemon, gid) && r->daemon.uid != 0) {
        say(f, LVL_PROBLEM, "[server] group: %s: %s (eccd runs as %s, who is not in group %s "
            "and so may not give the socket to it)", name, strerror(EPERM), r->daemon.name,
            name);
        fix(f, "sudo usermod -aG %s %s (in effect from %s's next login or start), or empty the "
            "key", name, r->daemon.name, r->daemon.name);
    }
}

static void check_socket(struct run *r)
{
    static const char *const key = "[server] socket";
    char path[CFG_PATH_MAX], dir[CFG_PATH_MAX];
    struct finding f;

    if (!r->cfg->server.socket[0] || !resolved(r, key, r->cfg->server.socket, path, sizeof path))
        return;
    if (strlen(path) >= sizeof((struct sockaddr_un *)0)->sun_path) {
        say_errno(&f, ENAMETOOLONG, key, path);
        fix(&f, "a path of at most %d bytes, e.g. /run/eccd/eccd.sock",
            (int)sizeof((struct sockaddr_un *)0)->sun_path - 1);
        report(r, &f);
        return;
    }
    dir_of(path, dir, sizeof dir);
    check_dir(&r->dirs, &r->daemon, key, dir, &f);
    report(r, &f);
    check_socket_file(path, &f);
    report(r, &f);
    check_owner(r, &f);
    report(r, &f);
    check_group(r, &f);
    report(r, &f);
}

/* ---- the hardware ------------------------------------------------------------------------ */

#define CHIP_USES_MAX 3

/* A GPIO chip and the keys that name it (one chip checked once). */
struct chip_use {
    const char *name;
    char keys[96];
};

static void add_chip(struct chip_use *use, int *n, bool used, const char *name, const char *key)
{
    if (!used)
        return;
    for (int i = 0; i < *n; i++) {
        if (strcmp(use[i].name, name) == 0) {
            size_t len = strlen(use[i].keys);
            snprintf(use[i].keys + len, sizeof use[i].keys - len, ", %s", key);
            return;
        }
    }
    use[*n].name = name;
    snprintf(use[*n].keys, sizeof use[*n].keys, "%s", key);
    (*n)++;
}

static void check_chips(struct run *r)
{
    const struct ecc_config *cfg = r->cfg;
    struct chip_use use[CHIP_USES_MAX];
    struct finding f;
    int n = 0;

    add_chip(use, &n, cfg->inputs.type == CFG_INPUTS_GPIO, cfg->inputs.chip, "[inputs] chip");
    add_chip(use, &n, cfg->encoder.type == CFG_ENCODER_GPIO, cfg->encoder.chip,
             "[encoder] chip");
    add_chip(use, &n, cfg->loadcell.type == CFG_LOADCELL_HX711, cfg->loadcell.hx711_chip,
             "[loadcell] hx711_chip");
    for (int i = 0; i < n; i++) {
        check_gpiochip(&r->self, use[i].keys, use[i].name, &f);
        report(r, &f);
    }
}

static void note_tcp(struct run *r, const char *key, const char *host, int port)
{
    struct finding f;

    say(&f, LVL_NOTE, "%s: %s:%d: a Modbus TCP link is not checked offline (a start connects "
        "to it)", key, host, port);
    report(r, &f);
}

/* The Modbus links: serial ports are checked, TCP endpoints only named. */
static void check_links(struct run *r)
{
    const struct ecc_config *cfg = r->cfg;
    bool drive_rtu = cfg->drive.type == CFG_DRIVE_MODBUS_RTU;
    bool lc_modbus = cfg->loadcell.type == CFG_LOADCELL_MODBUS;
    struct finding f;

    if (drive_rtu) {
        check_serial(&r->self, "[drive] device", cfg->drive.device, &f);
        report(r, &f);
    } else if (cfg->drive.type == CFG_DRIVE_MODBUS_TCP) {
        note_tcp(r, "[drive] host", cfg->drive.host, cfg->drive.port);
    }
    if (lc_modbus && cfg->loadcell.link == CFG_LC_LINK_RTU &&
        !(drive_rtu && strcmp(cfg->drive.device, cfg->loadcell.device) == 0)) {
        check_serial(&r->self, "[loadcell] device", cfg->loadcell.device, &f);
        report(r, &f);
    } else if (lc_modbus && cfg->loadcell.link == CFG_LC_LINK_TCP) {
        note_tcp(r, "[loadcell] host", cfg->loadcell.host, cfg->loadcell.port);
    }
}

static void check_hardware(struct run *r)
{
    struct finding f;

    if (r->cfg->rig.backend != CFG_BACKEND_HW)
        return;
    check_chips(r);
    check_links(r);
    if (r->cfg->drive.type == CFG_DRIVE_PWM) {
        check_pwm(&r->self, r->cfg, &f);
        report(r, &f);
    }
    if (r->cfg->loadcell.type == CFG_LOADCELL_IIO) {
        check_iio(&r->self, r->cfg, &f);
        report(r, &f);
    }
}

/* ---- who ----------------------------------------------------------------------------------- */

/* Who eccd is once it has settled: [daemon] user when it starts as root, else itself. */
static void settle_daemon_user(struct run *r, struct finding *f)
{
    const char *name = r->cfg->daemon.user;

    all_clear(f);
    r->daemon = r->self;
    if (!name[0])
        return;
    if (r->self.uid != 0) {
        say(f, LVL_NOTE, "[daemon] user: %s: applies only when eccd starts as root; started "
            "by %s it stays %s", name, r->self.name, r->self.name);
    } else if (envcheck_user_named(name, &r->daemon) != 0) {
        r->daemon = r->self;
        say(f, LVL_PROBLEM, "[daemon] user: %s: no such user on this machine", name);
        fix_missing_id(f, name, "useradd");
    } else if (r->daemon.uid == r->self.uid) {
        r->daemon = r->self;
    }
}

static void say_user(const struct run *r, const struct envcheck_user *u, const char *what,
                     const char *why)
{
    char groups[256];

    groups_text(u, groups, sizeof groups);
    fprintf(r->out, "eccd: environment: %s checked as %s (uid %ld; groups %s), %s\n", what,
            u->name, (long)u->uid, groups, why);
}

static void say_who(const struct run *r)
{
    bool split = !r->daemon.self;

    say_user(r, &r->self, split ? "hardware and output files" : "everything",
             "the user running this check");
    if (split)
        say_user(r, &r->daemon, "history, socket and calibration", "the [daemon] user eccd "
                 "becomes");
    if (r->self.uid == 0)
        fprintf(r->out, "eccd: environment: root may open anything: for root only what is "
                "missing or of the wrong kind shows\n");
    if (r->cfg->rig.backend == CFG_BACKEND_HW && strcmp(r->daemon.name, "eccd") != 0)
        fprintf(r->out, "eccd: environment: eccd.service runs eccd as user eccd (with groups "
                "gpio and dialout too): sudo -u eccd eccd -c %s --check-config checks as that "
                "user\n", r->cfg->path[0] ? r->cfg->path : "FILE");
}

/* ---- entry points ------------------------------------------------------------------------- */

int envcheck_run(const struct ecc_config *cfg, const struct envcheck_params *p, FILE *out)
{
    static const struct envcheck_params none = {0};
    struct run r = {.out = out, .cfg = cfg};
    struct finding f;

    if (!p)
        p = &none;
    r.dirs.service = p->service_dirs ? p->service_dirs : unit_dirs;
    if (envcheck_user_self(&r.self) != 0)
        return -1;
    settle_daemon_user(&r, &f);
    say_who(&r);
    report(&r, &f);
    check_socket(&r);
    check_history(&r);
    check_calibration(&r);
    check_outputs(&r, p);
    check_hardware(&r);
    if (r.problems == 0)
        fprintf(out, "eccd: environment: ready: nothing found that would stop a start\n");
    else
        fprintf(out, "eccd: environment: %d problem%s would stop a start on this machine\n",
                r.problems, r.problems == 1 ? "" : "s");
    return r.problems;
}

int envcheck_fix(const struct ecc_config *cfg, enum hal_hw_part part, char *out, size_t len)
{
    struct envcheck_user self;
    struct finding f;

    all_clear(&f);
    if (envcheck_user_self(&self) != 0)
        return 0;
    switch (part) {
    case HAL_HW_INPUTS_CHIP: check_gpiochip(&self, "[inputs] chip", cfg->inputs.chip, &f); break;
    case HAL_HW_ENCODER_CHIP:
        check_gpiochip(&self, "[encoder] chip", cfg->encoder.chip, &f);
        break;
    case HAL_HW_HX711_CHIP:
        check_gpiochip(&self, "[loadcell] hx711_chip", cfg->loadcell.hx711_chip, &f);
        break;
    case HAL_HW_DRIVE_DEVICE: check_serial(&self, "[drive] device", cfg->drive.device, &f); break;
    case HAL_HW_LOADCELL_DEVICE:
        check_serial(&self, "[loadcell] device", cfg->loadcell.device, &f);
        break;
    case HAL_HW_PWM: check_pwm(&self, cfg, &f); break;
    case HAL_HW_IIO: check_iio(&self, cfg, &f); break;
    case HAL_HW_PART_NONE: break;
    }
    if (f.level != LVL_PROBLEM || !f.fix[0])
        return 0;
    snprintf(out, len, "%s", f.fix);
    return 1;
}

void envcheck_append_fix(const struct ecc_config *cfg, enum hal_hw_part part, char *err,
                         size_t errlen)
{
    char fix[384];
    size_t n = strlen(err);

    if (part != HAL_HW_PART_NONE && envcheck_fix(cfg, part, fix, sizeof fix) == 1 &&
        n + 1 < errlen)
        snprintf(err + n, errlen - n, "; fix: %s; eccd -c %s --check-config lists every such "
                 "problem at once", fix, cfg->path[0] ? cfg->path : "FILE");
}
