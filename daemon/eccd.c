/* eccd.c - the daemon's main: options, config, backend, loop, clean exit. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "controller/ctl.h"
#include "controller/event.h"
#include "daemon/loop.h"
#include "daemon/probe.h"
#include "daemon/service.h"
#include "daemon/ctlsock.h"
#include "daemon/envcheck.h"
#include "hal/hal_hw.h"
#include "sim/hal_sim.h"
#include "util/log.h"
#include "daemon/rt.h"
#include "daemon/sdnotify.h"
#include "daemon/store.h"

#ifndef ECC_VERSION
#define ECC_VERSION "0.1.0"
#endif

#define MAX_SETS 32
#define EXIT_BELT_NOT_STOPPED 4 /* --sessions: the belt was not reported stopped in time */
#define MAX_SIM_FAULTS 8

struct options {
    const char *config;
    bool check_config;
    bool probe;
    const char *sets[MAX_SETS];
    int n_sets;
    const char *rep_log, *trace, *truth_log;
    int sessions;
    double duration;
    bool table;
    bool start;
    const char *sim_faults[MAX_SIM_FAULTS];
    int n_sim_faults;
    int verbosity;              /* -v: +1, -q: -1 */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void usage(FILE *f)
{
    fputs(
"Usage: eccd -c FILE [OPTIONS]\n"
"       eccd -c FILE --check-config [--set SECTION.KEY=VALUE ...]\n"
"       eccd -c FILE --probe [--set SECTION.KEY=VALUE ...]\n"
"\n"
"eccd controls a reverse-treadmill eccentric training rig: it reads the belt speed\n"
"and the foot load cell, adjusts the belt speed so the patient's eccentric force\n"
"stays inside the target band, counts valid reps and sets (3 x 15 by default) and\n"
"latches a stop on any fault. With rig.backend = sim it runs against the simulated\n"
"rig on a virtual clock, as fast as the CPU allows unless sim.speed paces it.\n"
"\n"
"Options:\n"
"  -c, --config FILE      the INI config (see config/sim.ini, clinic-vfd.ini, home-pi.ini)\n"
"      --check-config     validate the config, print the effective config with every\n"
"                         default filled in, then check this machine for what a start\n"
"                         would fail on (users, groups, directories, GPIO chips, serial\n"
"                         ports, PWM and IIO paths), one line each with its fix on\n"
"                         stderr, and exit: 0 valid and ready, 1 invalid, 3 valid but\n"
"                         this machine would stop a start\n"
"      --probe            talk to every part the config names for 2 s without moving\n"
"                         the belt (rig.backend = hw) and print a table: each link\n"
"                         (answering, counts, round trip), the drive's registers by\n"
"                         name and address with scaled values, the load cell's raw\n"
"                         and scaled reading and its sample rate, belt pulses, each\n"
"                         input line, and the pre-flight verdict. Exit status: 0 ready,\n"
"                         1 a part cannot be opened, 3 not ready (the verdict says why)\n"
"  -s, --set S.K=VALUE    override one key after the file is read (repeatable),\n"
"                         e.g. --set control.mode=fixed --set sim.seed=7\n"
"      --rep-log FILE     append one JSON line per rep, rejected stroke, set, session,\n"
"                         fault, reset and command, each with t (s, monotonic) and wall\n"
"                         (UTC, ms) (overrides log.rep_log)\n"
"      --trace FILE       write one CSV row per control tick (t, state, force, speed, ...)\n"
"      --truth-log FILE   sim only: on exit, write the athlete's own record of every\n"
"                         stroke (the ground truth) as JSON lines\n"
"      --sessions N       exit once N sessions are finished and the belt is reported\n"
"                         stopped (the drive's speed and the measured belt; without\n"
"                         drive feedback the belt sensor and the commanded ramp); exit\n"
"                         status 3 if it is not within 1.5 x drive.decel_time_s plus\n"
"                         the dead time and 1 s (sim: the athlete performs N sessions)\n"
"      --duration S       exit after S seconds of (virtual or real) time\n"
"      --table            print a readable line per rep, stroke, set and fault on stdout\n"
"      --start            start the first set at once, as if the operator pressed start\n"
"                         (for rigs without a start button, and for tests)\n"
"      --sim-fault KIND@T[:DURATION]\n"
"                         sim only: inject a fault T s in, for DURATION s (default: to the\n"
"                         end); KIND: estop, lc_stale, lc_stuck, lc_saturate, lc_negative,\n"
"                         encoder_silent, drive_runaway, drive_comm, drive_trip, nan_speed,\n"
"                         lc_drift, loop_stall (the loop hangs for DURATION s of wall time)\n"
"  -v, --verbose          more log output (repeat for debug)\n"
"  -q, --quiet            errors only\n"
"  -h, --help             this help\n"
"  -V, --version          print the version\n"
"\n"
"History and control (docs/history.md, docs/socket.md):\n"
"  With [history] path set, every session, set, rep, rejected stroke, fault, reset,\n"
"  calibration and pain score goes into that SQLite file; the rep log then gets each\n"
"  line once it is in the database. A session of today that never finished (a crash,\n"
"  a power cut) is carried on at the next start, its counted reps kept. A start that\n"
"  would begin more than protocol.sessions_per_day sessions a day, or one sooner than\n"
"  protocol.min_gap_h after the last, is refused. With [server] socket set, eccctl\n"
"  talks to eccd over that Unix socket (mode 0660, [server] owner and group).\n"
"\n"
"Exit status: 0 after a clean stop; 1 for a bad config or a start-up failure;\n"
"2 for bad options; 3 (--check-config, --probe) for a valid config this machine\n"
"could not start with, or a rig that is not ready; 4 when --sessions N were done but\n"
"the belt did not stop in time. On any exit the drive is commanded to stop.\n"
"\n"
"Signals: SIGINT and SIGTERM stop the belt and exit cleanly.\n"
"\n"
"Example: one simulated session of the 'strong' athlete, reps on screen:\n"
"  eccd -c config/sim.ini --set sim.scenario=strong --sessions 1 --table\n",
        f);
}

static int parse_number(const char *s, double lo, double hi, double *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

enum { OPT_CHECK = 256, OPT_REPLOG, OPT_TRACE, OPT_TRUTH, OPT_SESSIONS, OPT_DURATION, OPT_TABLE,
       OPT_START, OPT_SIM_FAULT, OPT_PROBE };

static int parse_option(int opt, struct options *o)
{
    double v;

    switch (opt) {
    case 'c': o->config = optarg; return 0;
    case OPT_CHECK: o->check_config = true; return 0;
    case OPT_PROBE: o->probe = true; return 0;
    case 's':
        if (o->n_sets == MAX_SETS) {
            fprintf(stderr, "eccd: at most %d --set options\n", MAX_SETS);
            return -1;
        }
        o->sets[o->n_sets++] = optarg;
        return 0;
    case OPT_REPLOG: o->rep_log = optarg; return 0;
    case OPT_TRACE: o->trace = optarg; return 0;
    case OPT_TRUTH: o->truth_log = optarg; return 0;
    case OPT_SESSIONS:
        if (parse_number(optarg, 1, 1000, &v) != 0 || v != (int)v) {
            fprintf(stderr, "eccd: --sessions: '%s' is not a whole number from 1 to 1000\n", optarg);
            return -1;
        }
        o->sessions = (int)v;
        return 0;
    case OPT_DURATION:
        if (parse_number(optarg, 0.001, 1e9, &v) != 0) {
            fprintf(stderr, "eccd: --duration: '%s' is not a number of seconds > 0\n", optarg);
            return -1;
        }
        o->duration = v;
        return 0;
    case OPT_TABLE: o->table = true; return 0;
    case OPT_START: o->start = true; return 0;
    case OPT_SIM_FAULT:
        if (o->n_sim_faults == MAX_SIM_FAULTS) {
            fprintf(stderr, "eccd: at most %d --sim-fault options\n", MAX_SIM_FAULTS);
            return -1;
        }
        o->sim_faults[o->n_sim_faults++] = optarg;
        return 0;
    case 'v': o->verbosity++; return 0;
    case 'q': o->verbosity--; return 0;
    }
    return -1;
}

/* Returns 0 to go on, 1 when the caller should exit 0 (help/version), -1 on bad options. */
static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"check-config", no_argument, NULL, OPT_CHECK},
        {"probe", no_argument, NULL, OPT_PROBE},
        {"set", required_argument, NULL, 's'},
        {"rep-log", required_argument, NULL, OPT_REPLOG},
        {"trace", required_argument, NULL, OPT_TRACE},
        {"truth-log", required_argument, NULL, OPT_TRUTH},
        {"sessions", required_argument, NULL, OPT_SESSIONS},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"table", no_argument, NULL, OPT_TABLE},
        {"start", no_argument, NULL, OPT_START},
        {"sim-fault", required_argument, NULL, OPT_SIM_FAULT},
        {"verbose", no_argument, NULL, 'v'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    while ((opt = getopt_long(argc, argv, "c:s:vqhV", longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 1;
        }
        if (opt == 'V') {
            printf("eccd %s\n", ECC_VERSION);
            return 1;
        }
        if (parse_option(opt, o) != 0)
            return -1;
    }
    if (optind < argc) {
        fprintf(stderr, "eccd: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!o->config) {
        fprintf(stderr, "eccd: no config given: use -c FILE (e.g. -c config/sim.ini)\n");
        return -1;
    }
    return 0;
}

static int load_config(const struct options *o, struct ecc_config *cfg)
{
    char err[512];

    if (config_load(cfg, o->config, err, sizeof err) != 0)
        goto bad;
    for (int i = 0; i < o->n_sets; i++)
        if (config_set(cfg, o->sets[i], err, sizeof err) != 0)
            goto bad;
    if (config_check(cfg, err, sizeof err) != 0)
        goto bad;
    return 0;
bad:
    /* The daemon halts here, before any hardware is touched, and says how to fix it. */
    fprintf(stderr, "eccd: %s\neccd: halted: fix the config and start again "
            "(eccd -c %s --check-config checks it)\n", err, o->config);
    return -1;
}

static FILE *open_out(const char *path, const char *what)
{
    FILE *f = fopen(path, "w");

    if (!f)
        log_error("cannot open %s '%s': %s", what, path, strerror(errno));
    return f;
}

struct outputs {
    FILE *rep_log, *trace, *truth;
};

static int outputs_open(const struct options *o, const struct ecc_config *cfg, struct outputs *out)
{
    const char *rep_log = o->rep_log ? o->rep_log : (cfg->log.rep_log[0] ? cfg->log.rep_log : NULL);
    const char *truth = o->truth_log ? o->truth_log
                                     : (cfg->sim.truth_log[0] ? cfg->sim.truth_log : NULL);

    memset(out, 0, sizeof *out);
    if (rep_log && !(out->rep_log = open_out(rep_log, "rep log")))
        return -1;
    if (o->trace && !(out->trace = open_out(o->trace, "trace")))
        return -1;
    if (truth && !(out->truth = open_out(truth, "truth log")))
        return -1;
    return 0;
}

static void outputs_close(struct outputs *out)
{
    if (out->rep_log)
        fclose(out->rep_log);
    if (out->trace)
        fclose(out->trace);
    if (out->truth)
        fclose(out->truth);
}

static void install_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* The rig eccd runs: the simulated one or the hardware the config names. */
struct rig_backend {
    struct hal hal;
    struct hal_sim *sim;
    struct hal_hw *hw;
};

static int backend_open(const struct options *o, const struct ecc_config *cfg,
                        struct rig_backend *b)
{
    struct hal_sim_opts so = {.sessions = o->sessions};
    enum hal_hw_part part = HAL_HW_PART_NONE;
    char err[1024];

    memset(b, 0, sizeof *b);
    if (cfg->rig.backend == CFG_BACKEND_SIM)
        b->sim = hal_sim_open(cfg, &so, &b->hal, err, sizeof err);
    else
        b->hw = hal_hw_open_part(cfg, &b->hal, err, sizeof err, &part);
    if (b->sim || b->hw)
        return 0;
    envcheck_append_fix(cfg, part, err, sizeof err);    /* the fix, where a check finds it */
    log_error("%s", err);
    return -1;
}

/* "KIND@T[:DURATION]" -> a scheduled fault on the simulated rig. */
static int sim_fault_add(struct hal_sim *sim, const char *spec)
{
    char kind[32];
    double t = 0.0, d = INFINITY;
    int n = 0, k;

    if (sscanf(spec, "%31[a-z_]@%lf%n", kind, &t, &n) != 2 ||
        (spec[n] && (spec[n] != ':' || sscanf(spec + n + 1, "%lf", &d) != 1)) || !(t >= 0.0))
        goto bad;
    for (k = 0; k < HAL_SIM_FAULT_COUNT; k++)
        if (strcmp(kind, hal_sim_fault_name((enum hal_sim_fault)k)) == 0)
            return hal_sim_add_fault(sim, (enum hal_sim_fault)k, t, d);
bad:
    log_error("--sim-fault %s: expected KIND@T[:DURATION] with a KIND from eccd --help", spec);
    return -1;
}

static int sim_faults_add(const struct options *o, struct rig_backend *b)
{
    if (o->n_sim_faults && !b->sim) {
        log_error("--sim-fault needs rig.backend = sim");
        return -1;
    }
    for (int i = 0; i < o->n_sim_faults; i++)
        if (sim_fault_add(b->sim, o->sim_faults[i]) != 0)
            return -1;
    return 0;
}

static void backend_close(struct rig_backend *b, FILE *truth)
{
    if (b->sim && truth && hal_sim_write_truth(b->sim, truth) != 0)
        log_error("writing the truth log failed");
    hal_sim_close(b->sim);
    hal_hw_close(b->hw);
}

static const char *backend_name(const struct ecc_config *cfg, const struct rig_backend *b)
{
    return b->sim ? hal_sim_scenario_path(b->sim) : cfg->drive.profile;
}

/* With a history, the rep log is written once an event is in the database: a line in
 * the log means the rep is already safe. */
static void rep_log_durable(void *arg, const struct ctl_event *ev)
{
    char line[EVENT_LINE_MAX];

    if (event_json(ev, line, sizeof line) > 0) {
        fprintf(arg, "%s\n", line);
        fflush(arg);
    }
}

/* The history, the service between loop and socket, and the socket. */
struct daemon_parts {
    struct store *store;
    struct service *service;
    struct ctlsock *sock;
    struct sdnotify *notify;    /* systemd; a no-op outside it */
};

static int history_open(const struct ecc_config *cfg, FILE *rep_log, struct daemon_parts *d)
{
    char path[CFG_PATH_MAX], err[512];
    struct store_params sp = {.path = path, .queue_len = cfg->history.queue_len,
                              .on_durable = rep_log ? rep_log_durable : NULL, .arg = rep_log};

    if (!cfg->history.path[0])
        return 0;
    if (config_resolve_path(cfg, cfg->history.path, path, sizeof path) != 0) {
        log_error("[history] path: too long");
        return -1;
    }
    d->store = store_open(&sp, err, sizeof err);
    if (!d->store) {
        log_error("history: %s", err);
        log_error("halted: [history] path must name a file eccd can create and write in a "
                  "directory that exists (e.g. mkdir -p /var/lib/eccd); empty keeps no history");
        return -1;
    }
    log_info("history: %s", path);
    return 0;
}

/* The socket's owner and group, checked before anything is created. */
static int socket_ids(const struct ecc_config *cfg, uid_t *owner, gid_t *group)
{
    if (ctlsock_user(cfg->server.owner, owner) != 0) {
        log_error("[server] owner: no user '%s' on this machine (create it, or change the key)",
                  cfg->server.owner);
        return -1;
    }
    if (ctlsock_group(cfg->server.group, group) != 0) {
        log_error("[server] group: no group '%s' on this machine (create it with "
                  "groupadd --system %s, or change the key)", cfg->server.group, cfg->server.group);
        return -1;
    }
    return 0;
}

static int socket_open(const struct ecc_config *cfg, struct daemon_parts *d)
{
    char path[CFG_PATH_MAX], err[512];
    struct ctlsock_params cp = {.path = path, .handle = service_handle, .arg = d->service,
                                .max_clients = cfg->server.max_clients,
                                .per_user = cfg->server.clients_per_user,
                                .idle_s = cfg->server.idle_timeout_s,
                                .stall_s = cfg->server.stall_timeout_s};

    if (!cfg->server.socket[0])
        return 0;
    if (config_resolve_path(cfg, cfg->server.socket, path, sizeof path) != 0) {
        log_error("[server] socket: too long");
        return -1;
    }
    if (socket_ids(cfg, &cp.owner, &cp.group) != 0)
        return -1;
    d->sock = ctlsock_open(&cp, err, sizeof err);
    if (!d->sock) {
        log_error("[server] socket: %s", err);
        return -1;
    }
    return 0;
}

static void daemon_close(struct daemon_parts *d)
{
    ctlsock_close(d->sock);     /* first: no command may arrive once the loop is gone */
    store_close(d->store);      /* writes out what is queued */
    service_close(d->service);
    sdnotify_close(d->notify);
}

static int daemon_open(const struct ecc_config *cfg, FILE *rep_log, struct hal *hal,
                       struct ctl *ctl, struct daemon_parts *d)
{
    int utc_offset_s = 0;
    double wall = hal->clock.wall ? hal->clock.wall(hal->clock.ctx, &utc_offset_s) : 0.0;
    struct service_params sp = {.cfg = cfg, .started_wall = wall};
    uid_t owner;
    gid_t group;

    if (cfg->server.socket[0] && socket_ids(cfg, &owner, &group) != 0)
        return -1;              /* before the history file is created */
    if (history_open(cfg, rep_log, d) != 0)
        return -1;
    sp.store = d->store;
    d->service = service_open(&sp);
    if (!d->service) {
        log_error("out of memory");
        return -1;
    }
    if (service_restore(d->service, ctl, wall, utc_offset_s) != 0)
        return -1;
    return socket_open(cfg, d);
}

/* As root: raise the real-time limits while allowed, then become [daemon] user. */
static int privileges_settle(const struct ecc_config *cfg, const struct rt_params *rt)
{
    char msg[256];
    bool root = geteuid() == 0;

    if ((rt->priority > 0 || rt->lock_memory) && rt_prepare(rt, msg, sizeof msg) != 0)
        log_warn("real time: %s", msg);
    if (rt_drop_privileges(cfg->daemon.user, msg, sizeof msg) != 0) {
        log_error("%s", msg);
        return -1;
    }
    if (root && cfg->daemon.user[0])
        log_info("running as %s from now on", cfg->daemon.user);
    return 0;
}

/* On the loop thread, once the other threads exist (they keep normal scheduling). */
static void realtime_apply(const struct rt_params *rt)
{
    char msg[256];

    if (rt->priority <= 0 && !rt->lock_memory)
        return;
    if (rt_apply(rt, msg, sizeof msg) != 0)
        log_warn("real time: %s: the loop runs without it", msg);
    else
        log_info("real time: %s%s", rt->lock_memory ? "memory locked" : "",
                 rt->priority > 0 ? (rt->lock_memory ? ", SCHED_FIFO" : "SCHED_FIFO") : "");
}

static void on_service(void *arg, struct ctl *c, struct hal *hal, const struct loop_stats *st)
{
    struct daemon_parts *d = arg;

    service_on_service(d->service, c, hal, st);
    /* The systemd watchdog is fed only while the loop keeps its period. */
    sdnotify_heartbeat(d->notify, st->late_s < c->cfg.limits.loop_late_s);
}

/* One line per part with a link: its transactions and the latest failure. */
static void log_link(const char *part, int rc, const struct hal_link_stats *ls)
{
    if (rc != 0)
        return;
    log_info("%s %s: %ld transactions ok, %ld failed (%ld timeouts, %ld exceptions, %ld bad "
             "frames, %ld link errors, %ld reconnects)%s%s", part, ls->where, ls->tx_ok,
             ls->tx_failed, ls->timeouts, ls->exceptions, ls->bad_frames, ls->link_errors,
             ls->reconnects, ls->last_error[0] ? "; last failure: " : "", ls->last_error);
}

/* At exit: what ran, each link's figures, and a latched fault with its cause (the summary
 * never reads as a clean run when something was wrong). */
static void log_summary(struct ctl *c, struct hal *hal, const struct loop_stats *st)
{
    struct hal_link_stats ls;
    enum fault f = ctl_fault(c);
    char cause[CTL_CAUSE_MAX];
    int rc;

    log_info("stopped at t = %.1f s: %ld ticks, %d sessions done, %ld overruns (at most %.0f ms "
             "late), %ld setpoints the drive interface refused", st->t_end, st->ticks,
             st->sessions_done, st->overruns, st->late_max_s * 1000.0, st->drive_errors);
    rc = hal_drive_link_stats(&hal->drive, &ls);
    log_link("drive", rc, &ls);
    rc = hal_force_link_stats(&hal->force, &ls);
    log_link("load cell", rc, &ls);
    if (f == FAULT_NONE)
        return;
    loop_part_cause(hal, loop_fault_part(f), cause, sizeof cause);
    log_warn("stopped with the fault %s latched%s%s", fault_name(f), cause[0] ? ": " : "",
             cause);
}

static void on_event(void *arg, const struct ctl_event *ev)
{
    struct daemon_parts *d = arg;
    service_on_event(d->service, ev);
}

/* The rep log's first line: what ran, and when (the backend's wall clock: the
 * simulator's virtual one on the sim backend, so a run's log is the same every time). */
static void write_run_header(FILE *f, const struct ecc_config *cfg, const struct hal_clock *clk)
{
    char path[2 * CFG_PATH_MAX + 8], scenario[2 * CFG_PATH_MAX + 8], wall[EVENT_WALL_MAX + 2];

    event_json_string(path, sizeof path, cfg->path);
    event_json_string(scenario, sizeof scenario, cfg->sim.scenario);
    event_wall_json(clk->wall ? clk->wall(clk->ctx, NULL) : 0.0, wall, sizeof wall);
    fprintf(f, "{\"event\":\"run\",\"version\":1,\"wall\":%s,\"mode\":\"%s\",\"band_low\":%g,"
            "\"band_high\":%g,\"speed_max\":%g,\"fixed_speed\":%g,\"reps_per_set\":%d,"
            "\"sets_per_session\":%d,\"config\":%s,\"scenario\":%s,\"seed\":%u}\n",
            wall, config_mode_name(cfg->control.mode), cfg->band.force_low, cfg->band.force_high,
            cfg->limits.speed_max, cfg->control.fixed_speed, cfg->protocol.reps_per_set,
            cfg->protocol.sets_per_session, path, scenario, cfg->sim.seed);
    fflush(f);
}

/* The exit status for how the loop ended; a belt that did not stop is said loudly. */
static int loop_exit_status(int loop_rc, const struct loop_stats *st, const struct ecc_config *cfg)
{
    char drive[48] = "reports no speed";

    if (loop_rc == 0)
        return 0;
    if (loop_rc != LOOP_BELT_NOT_STOPPED)
        return 1;
    if (isfinite(st->stop_drive_mps))
        snprintf(drive, sizeof drive, "reports %.3f m/s", st->stop_drive_mps);
    log_error("the belt did not stop: %.1f s after the last session's stop command "
              "(%.1f s allowed: 1.5 x drive.decel_time_s = %g s, the dead time and %g s) the "
              "drive %s and the belt measures %.3f m/s; stop it by hand (e-stop) and check "
              "the drive's stop and deceleration settings", st->stop_wait_s,
              loop_stop_timeout_s(cfg), cfg->drive.decel_time_s, LOOP_STOP_MARGIN_S, drive,
              st->stop_belt_mps);
    return EXIT_BELT_NOT_STOPPED;
}

static int run(const struct options *o, const struct ecc_config *cfg, struct outputs *out)
{
    static struct ctl ctl;      /* large; static keeps it off the stack */
    struct loop_opts lo = {
        .rep_log = out->rep_log, .trace = out->trace, .human = o->table ? stdout : NULL,
        .max_sessions = o->sessions, .max_time_s = o->duration, .stop = &stop_requested,
        .start = o->start, .on_service = on_service, .on_event = on_event,
        .realtime = cfg->rig.backend != CFG_BACKEND_SIM,   /* the sim runs on virtual time */
    };
    const struct rt_params rt = {.priority = cfg->loop.rt_priority,
                                 .lock_memory = cfg->loop.lock_memory};
    struct loop_stats st;
    struct rig_backend b;
    struct daemon_parts d = {0};
    char status[256];
    int rc = 1;

    d.notify = sdnotify_open();
    if (backend_open(o, cfg, &b) != 0) {
        sdnotify_close(d.notify);
        return 1;
    }
    if (out->rep_log)
        write_run_header(out->rep_log, cfg, &b.hal.clock);
    ctl_init(&ctl, cfg);
    if (sim_faults_add(o, &b) != 0 || privileges_settle(cfg, &rt) != 0 ||
        daemon_open(cfg, out->rep_log, &b.hal, &ctl, &d) != 0)
        goto out;
    lo.arg = &d;
    if (d.store)
        lo.rep_log = NULL;      /* written by the history writer, after each commit */
    snprintf(status, sizeof status, "running: mode %s, band %.0f..%.0f N, %d x %d, %s %s",
             config_mode_name(cfg->control.mode), ctl.cfg.band.force_low, ctl.cfg.band.force_high,
             cfg->protocol.sets_per_session, cfg->protocol.reps_per_set,
             b.sim ? "scenario" : "drive", backend_name(cfg, &b));
    log_info("%s", status);
    realtime_apply(&rt);
    sdnotify_ready(d.notify, status);   /* config, hardware, history and socket are up */
    rc = loop_exit_status(loop_run(&ctl, &b.hal, &lo, &st), &st, cfg);
    sdnotify_stopping(d.notify, rc == EXIT_BELT_NOT_STOPPED ? "stopping: the belt did not stop"
                                                            : "stopping: the belt is stopped");
    if (st.start_refused) {
        log_error("--start: %s", st.start_refusal);
        rc = 1;
    }
    log_summary(&ctl, &b.hal, &st);
out:
    daemon_close(&d);
    backend_close(&b, rc == 0 ? out->truth : NULL);
    return rc;
}

/* --check-config, once the config is valid: what this machine would stop a start on, on
 * stderr after the effective config. 0 ready, 3 not (1 stays a bad config). */
static int check_environment(const struct options *o, const struct ecc_config *cfg)
{
    const struct envcheck_params p = {.rep_log = o->rep_log, .trace = o->trace,
                                      .truth_log = o->truth_log};
    int problems;

    fflush(stdout);
    problems = envcheck_run(cfg, &p, stderr);
    if (problems < 0)
        fprintf(stderr, "eccd: environment: cannot check: %s\n", strerror(errno));
    return problems == 0 ? 0 : 3;
}

int main(int argc, char **argv)
{
    struct options o = {0};
    struct ecc_config cfg;
    struct outputs out;
    int rc;

    rc = parse_args(argc, argv, &o);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    if (load_config(&o, &cfg) != 0)
        return 1;
    if (o.check_config) {
        config_print(&cfg, stdout);
        return check_environment(&o, &cfg);
    }
    log_set_level((enum log_level)cfg.log.level);
    if (o.verbosity) {
        int lvl = (int)cfg.log.level + o.verbosity;
        log_set_level((enum log_level)(lvl < 0 ? 0 : lvl > 3 ? 3 : lvl));
    }
    if (o.probe)
        return probe_run(&cfg, stdout);
    if (outputs_open(&o, &cfg, &out) != 0) {
        outputs_close(&out);
        return 1;
    }
    install_signals();
    rc = run(&o, &cfg, &out);
    outputs_close(&out);
    return rc;
}
