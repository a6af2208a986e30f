/* eccsim.c - the simulated rig as a process of its own: a VFD and a load-cell
 * transmitter served over Modbus TCP and RTU (on a pseudo-terminal), so the real eccd
 * binary can be tested hardware-in-the-loop. See usage() and docs/simulation.md.
 *
 * Threads: the main thread runs the rig's physics in real time (1 ms steps on absolute
 * deadlines) and catches SIGTERM/SIGINT; one TCP server thread; for RTU one server
 * thread per unit and the wire thread (simwire.h). The devices they share sit behind
 * simdev's lock; the rig itself belongs to the main thread alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "hal/drive_profile.h"
#include "sim/hal_sim.h"
#include "hal/hy_frame.h"
#include "util/log.h"
#include "sim/rig.h"
#include "sim/simdev.h"
#include "sim/simfault.h"
#include "sim/simhy.h"
#include "sim/simsrv.h"
#include "sim/simwire.h"

#ifndef ECC_VERSION
#define ECC_VERSION "0.1.0"
#endif

#define MAX_SETS 64
#define STEP_S 0.001              /* s, the physics' real-time step */
#define CSV_PERIOD_S 0.05         /* s, ground-truth CSV rows at 20 Hz */
#define SAMPLES 64                /* load-cell samples taken per step (at most 1 is due) */

enum { EXIT_BAD_START = 1, EXIT_USAGE = 2 };

struct options {
    const char *config;
    const char *sets[MAX_SETS];
    int nsets;
    int tcp_port;                 /* -1: the config's */
    bool tcp_auto;                /* --tcp-port auto: a free port the kernel picks */
    const char *pty_link;         /* NULL: the config's */
    const char *truth_log;        /* NULL: the config's sim.truth_log */
    const char *truth_csv;        /* NULL: the config's eccsim.truth_csv */
    double duration;              /* s; < 0: until a signal */
    bool quiet, verbose;
    struct simfault_plan plan;
};

struct eccsim {
    struct ecc_config cfg;
    struct options opt;
    struct drive_profile prof;
    struct simdev dev;
    bool dev_ready;
    struct hal_sim *hs;
    struct rig *rig;
    int stop[2];                  /* a pipe: its read end turns readable on shutdown */
    bool tcp_on;
    struct simsrv_tcp tcp;
    int nrtu;
    struct simsrv_rtu rtu[SIMWIRE_PORTS];
    bool hy_on;                   /* drive.profile = huanyang-hy: the pty carries its framing */
    struct simhy hy;
    struct simwire_opts wire;
    int pty_master, pty_slave;
    char pty_path[64];
    bool link_made;
    pthread_t threads[2 + SIMWIRE_PORTS];
    int nthreads;
    FILE *csv;
    char truth[CFG_PATH_MAX];     /* "" = none */
    int truth_strokes;            /* strokes in the truth file so far */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
    stop_signal = sig;
}

/* ---- options ----------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs(
"Usage: eccsim -c FILE [options]\n"
"\n"
"eccsim runs the simulated treadmill rig (the physics and athlete of eccd's sim backend)\n"
"in real time and serves it over the real protocols, so the real eccd binary can be\n"
"tested hardware-in-the-loop: a VFD (the register map of drive.profile) at unit\n"
"drive.unit_id and a load-cell transmitter at unit loadcell.unit_id, over Modbus TCP on\n"
"eccsim.listen:eccsim.tcp_port and over Modbus RTU on a pseudo-terminal it creates.\n"
"It reads the same INI file as eccd: [sim] (scenario, seed; sim.speed is ignored, time is\n"
"real), [drive], [profile], [loadcell] and [eccsim]. The athlete is the sim backend's:\n"
"same scenario and seed, same strokes; it waits for the belt to run (its start-button\n"
"presses do nothing here: eccd is started on its own side). Times in the truth files\n"
"and the fault log are s since eccsim started.\n"
"\n"
"Options:\n"
"  -c, --config FILE      the INI file (required)\n"
"  -s, --set SEC.KEY=VAL  override one config key (repeatable; same checks as the file)\n"
"      --tcp-port N|auto  serve Modbus TCP on port N (0: no TCP); overrides eccsim.tcp_port.\n"
"                         auto: a free port the kernel picks, named on the 'eccsim: tcp on'\n"
"                         line (what tests and scripts that run several rigs want)\n"
"      --pty-link PATH    make PATH a symlink to the RTU pty (removed on exit); overrides\n"
"                         eccsim.pty_link\n"
"      --fault KIND@T[:DURATION]\n"
"                         a scripted fault T s after start, lasting DURATION s (without\n"
"                         it: to the end); repeatable, at most 32\n"
"      --truth-log FILE   the athlete's strokes as JSON lines (the format of eccd's\n"
"                         --truth-log), rewritten whole as each stroke ends; overrides\n"
"                         sim.truth_log\n"
"      --truth-csv FILE   t,setpoint_mps,motor_mps,belt_mps,force_n,running,tripped,\n"
"                         watchdog_fired,fed_t at 20 Hz, flushed each line (fed_t: when\n"
"                         the drive last got a setpoint or run command, which its\n"
"                         watchdog counts from); overrides eccsim.truth_csv\n"
"      --duration S       exit (status 0) after S seconds\n"
"  -q, --quiet            log warnings and errors only\n"
"  -v, --verbose          log every request (debug)\n"
"  -h, --help             print this help\n"
"  -V, --version          print the version\n"
"\n"
"Start-up: once serving, eccsim prints on stdout (flushed):\n"
"  eccsim: tcp on ADDR:PORT              (when TCP is on)\n"
"  eccsim: rtu on /dev/pts/N\n"
"  eccsim: rtu link PATH -> /dev/pts/N   (when a link is made)\n"
"  eccsim: ready: drive PROFILE unit N, load cell unit M, scenario S, seed K\n"
"A test waits for the \"eccsim: ready\" line. Fault starts and ends are logged on stderr\n"
"with their time (\"eccsim: info: fault drive-trip starts at t=5.000 s\").\n"
"\n"
"Fault kinds (drive-* act on the drive's unit, lc-* on the load cell's):\n"
"  drive-silent     no answer; the drive does not hear writes either, so its watchdog\n"
"                   starves and trips it\n"
"  drive-late       answers 3 x drive.timeout_ms late (each TCP connection is served\n"
"                   on its own thread, so a load cell on another one is not held up)\n"
"  drive-exception  answers every request with exception 0x04 (slave device failure)\n"
"                   and acts on none\n"
"  drive-corrupt    acts on requests but answers RTU with a bad CRC, TCP with a wrong\n"
"                   transaction id\n"
"  drive-trip       trips at T with fault code eccsim.trip_code: the run command drops,\n"
"                   the belt ramps (drive.stop_mode = ramp) or coasts to 0 and stays\n"
"                   stopped until a fault reset is written; a reset before T+DURATION is\n"
"                   refused (the cause persists), without DURATION any later reset clears it\n"
"  lc-silent        the load cell does not answer\n"
"  lc-freeze        the load-cell reading stops changing\n"
"  lc-saturate      the reading goes to the top of its type's range (float32: the raw\n"
"                   value of loadcell.full_scale_n)\n"
"\n"
"The drive (wire addresses of drive.profile; reads take function 3 or 4, writes 6 or 16):\n"
"  command    cmd_run runs forward, cmd_stop ramps to a stop, cmd_coast switches the\n"
"             output off, cmd_reset (at the reset register) clears a trip; other values:\n"
"             exception 0x03\n"
"  setpoint   Hz x scale (or % of drive.max_hz x scale), clamped to drive.max_hz; the belt\n"
"             runs at Hz / drive.hz_per_mps while running\n"
"  frequency  output frequency: motor speed x drive.hz_per_mps (0 while coasting)\n"
"  current    1.5 A + 0.02 A per N of foot load while the output is on\n"
"  status     bit 0 output on, 1 tripped, 2 at speed, 3 comm-loss trip, 4 run command\n"
"  fault      0 healthy, eccsim.trip_code after a scripted trip, 58 after a watchdog trip;\n"
"             where status and fault share a register (optidrive-e3) the code is its\n"
"             high byte and the status its low byte\n"
"  watchdog   running and no setpoint write for drive.watchdog_s: the drive trips with\n"
"             code 58 and stops the belt, as a drive with its comm-loss stop armed does\n"
"  Writes to other registers, and reads outside the drive's register groups, get\n"
"  exception 0x02 (illegal data address); other functions 0x01.\n"
"\n"
"The load cell: register loadcell.register (loadcell.reg_kind: holding = function 3,\n"
"input = function 4) as loadcell.data_type in loadcell.word_order, raw = newtons /\n"
"loadcell.scale + loadcell.offset from the newest simulated sample; writing\n"
"loadcell.tare_value to loadcell.tare_register (when >= 0) tares it. Other registers:\n"
"exception 0x02. Over TCP, a unit id that is neither gets exception 0x0B; over RTU,\n"
"requests for other units are ignored, as on a bus.\n"
"\n"
"RTU: one bus for both units at drive.baud, drive.parity, drive.data_bits,\n"
"drive.stop_bits. With eccsim.pace_bytes each byte takes its wire time (11 bits at 8E1:\n"
"1.15 ms at 9600 baud) both ways.\n"
"\n"
"The Huanyang HY (drive.profile = huanyang-hy) is not Modbus: the pty then carries its own\n"
"framing and the drive alone (a Modbus transmitter cannot share its line), and the load\n"
"cell is served over TCP only. The simulated HY takes control data 0x01 (run forward) and\n"
"0x08 (stop, also its reset) and answers the control status (bit 0 run in force, bit 3\n"
"output on); frequency data in Hz x 100, echoed; status reads by index (0 set frequency,\n"
"1 output frequency, 2 output current A x 10; 3 to 7 read 0); parameter reads of PD001,\n"
"PD002, PD005, PD163, PD164, PD165 as a drive set up for eccd holds them; anything else\n"
"is refused (function | 0x80, a code). Like the real HY it has no comm-loss watchdog.\n"
"Over TCP its unit answers exception 0x0B.\n"
"\n"
"Examples:\n"
"  eccsim -c rig.ini --tcp-port 1502 --truth-log truth.jsonl &\n"
"  eccd -c rig.ini          (with drive.type = modbus-tcp, drive.port = 1502)\n"
"\n"
"  eccsim -c rig.ini --pty-link /tmp/eccsim-rtu --fault drive-trip@20 &\n"
"  eccd -c rig.ini          (with drive.type = modbus-rtu, drive.device = /tmp/eccsim-rtu)\n"
"\n"
"  eccsim -c rig.ini --set drive.profile=delta-vfd --tcp-port 1502 &\n"
"  mbpoll -m tcp -p 1502 -a 1 -0 -r 0x2103 -1 127.0.0.1        (output frequency)\n"
"  mbpoll -m tcp -p 1502 -a 1 -0 -r 0x2001 127.0.0.1 1800      (setpoint 18.00 Hz)\n"
"  mbpoll -m rtu -b 19200 -P even -a 2 -0 -r 0 -t 4:int -B -1 /tmp/eccsim-rtu\n"
"\n"
"Exit status: 0 on SIGTERM, SIGINT or the end of --duration; 1 for a bad config or a\n"
"start-up failure (the message names it); 2 for bad options.\n",
          f);
}

static int parse_number(const char *what, const char *s, double lo, double hi, double *out)
{
    char *end;

    errno = 0;
    *out = strtod(s, &end);
    if (end == s || *end || errno || !(*out >= lo && *out <= hi)) {
        fprintf(stderr, "eccsim: %s %s: expected a number from %g to %g\n", what, s, lo, hi);
        return -1;
    }
    return 0;
}

enum { OPT_TCP_PORT = 256, OPT_PTY_LINK, OPT_FAULT, OPT_TRUTH_LOG, OPT_TRUTH_CSV,
       OPT_DURATION };

/* One option; -1 on a bad one. */
static int take_option(struct options *o, int opt, const char *arg)
{
    char err[256];
    double x;

    switch (opt) {
    case 'c': o->config = arg; return 0;
    case 's':
        if (o->nsets == MAX_SETS) {
            fprintf(stderr, "eccsim: at most %d --set options\n", MAX_SETS);
            return -1;
        }
        o->sets[o->nsets++] = arg;
        return 0;
    case 'q': o->quiet = true; return 0;
    case 'v': o->verbose = true; return 0;
    case OPT_PTY_LINK: o->pty_link = arg; return 0;
    case OPT_TRUTH_LOG: o->truth_log = arg; return 0;
    case OPT_TRUTH_CSV: o->truth_csv = arg; return 0;
    case OPT_TCP_PORT:
        if (strcmp(arg, "auto") == 0) {
            o->tcp_auto = true;
            o->tcp_port = -1;
            return 0;
        }
        o->tcp_auto = false;
        if (parse_number("--tcp-port", arg, 0, 65535, &x) < 0 || x != floor(x))
            return -1;
        o->tcp_port = (int)x;
        return 0;
    case OPT_DURATION:
        if (parse_number("--duration", arg, 0.001, 1e7, &x) < 0)
            return -1;
        o->duration = x;
        return 0;
    case OPT_FAULT:
        if (simfault_add(&o->plan, arg, err, sizeof err) == 0)
            return 0;
        fprintf(stderr, "eccsim: %s\n", err);
        return -1;
    default:
        return -1;
    }
}

/* 0 to go on, 1 when the caller should exit 0 (help, version), -1 on bad options. */
static int parse_options(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"tcp-port", required_argument, NULL, OPT_TCP_PORT},
        {"pty-link", required_argument, NULL, OPT_PTY_LINK},
        {"fault", required_argument, NULL, OPT_FAULT},
        {"truth-log", required_argument, NULL, OPT_TRUTH_LOG},
        {"truth-csv", required_argument, NULL, OPT_TRUTH_CSV},
        {"duration", required_argument, NULL, OPT_DURATION},
        {"quiet", no_argument, NULL, 'q'},
        {"verbose", no_argument, NULL, 'v'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    *o = (struct options){.tcp_port = -1, .duration = -1.0};
    while ((opt = getopt_long(argc, argv, "c:s:qvhV", longopts, NULL)) != -1) {
        if (opt == 'h') {
            usage(stdout);
            return 1;
        }
        if (opt == 'V') {
            printf("eccsim %s\n", ECC_VERSION);
            return 1;
        }
        if (opt == '?' || take_option(o, opt, optarg) < 0)
            goto bad;
    }
    if (optind < argc) {
        fprintf(stderr, "eccsim: unexpected argument '%s'\n", argv[optind]);
        goto bad;
    }
    if (!o->config) {
        fprintf(stderr, "eccsim: no config: give -c FILE\n");
        goto bad;
    }
    return 0;
bad:
    fprintf(stderr, "Usage: eccsim -c FILE [options]  (eccsim --help for more)\n");
    return -1;
}

/* ---- start-up ---------------------------------------------------------------------- */

/* A path given on the command line is relative to where eccsim was started (paths in
 * the config file are relative to the file): make it absolute before it joins them. */
static int copy_path(char *dst, const char *src, const char *what)
{
    char cwd[CFG_PATH_MAX];
    int n;

    if (src[0] == '/' || !getcwd(cwd, sizeof cwd))
        n = snprintf(dst, CFG_PATH_MAX, "%s", src);
    else
        n = snprintf(dst, CFG_PATH_MAX, "%s/%s", cwd, src);
    if (n < 0 || n >= CFG_PATH_MAX) {
        log_error("%s: path too long", what);
        return -1;
    }
    return 0;
}

/* The config, with the overrides from the command line. */
static int load_config(struct eccsim *e)
{
    char err[512];
    struct options *o = &e->opt;

    if (config_load(&e->cfg, o->config, err, sizeof err) != 0)
        goto bad;
    for (int i = 0; i < o->nsets; i++)
        if (config_set(&e->cfg, o->sets[i], err, sizeof err) != 0)
            goto bad;
    if (o->nsets > 0 && config_check(&e->cfg, err, sizeof err) != 0)
        goto bad;
    if (o->tcp_port >= 0)
        e->cfg.eccsim.tcp_port = o->tcp_port;
    if ((o->pty_link && copy_path(e->cfg.eccsim.pty_link, o->pty_link, "--pty-link") < 0) ||
        (o->truth_log && copy_path(e->cfg.sim.truth_log, o->truth_log, "--truth-log") < 0) ||
        (o->truth_csv && copy_path(e->cfg.eccsim.truth_csv, o->truth_csv, "--truth-csv") < 0))
        return -1;
    if (drive_profile_from_config(&e->cfg, &e->prof, err, sizeof err) != 0)
        goto bad;
    return 0;
bad:
    log_error("%s", err);
    return -1;
}

/* The rig and athlete, built exactly as eccd's sim backend builds them. */
static int build_rig(struct eccsim *e)
{
    struct hal unused;
    char err[512];

    e->hs = hal_sim_open(&e->cfg, NULL, &unused, err, sizeof err);
    if (!e->hs) {
        log_error("%s", err);
        return -1;
    }
    e->rig = hal_sim_rig(e->hs);
    return 0;
}

static int write_truth(struct eccsim *e)
{
    char tmp[CFG_PATH_MAX + 8];
    FILE *f;
    int rc;

    /* A whole new file renamed over the old one: a reader never sees half of it. */
    snprintf(tmp, sizeof tmp, "%s.tmp", e->truth);
    f = fopen(tmp, "w");
    if (!f)
        return -1;
    rc = hal_sim_write_truth(e->hs, f);
    if (fclose(f) != 0 || rc != 0 || rename(tmp, e->truth) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

static int open_outputs(struct eccsim *e)
{
    const char *csv = e->cfg.eccsim.truth_csv;

    if (e->cfg.sim.truth_log[0] &&
        (config_resolve_path(&e->cfg, e->cfg.sim.truth_log, e->truth, sizeof e->truth) != 0 ||
         write_truth(e) != 0)) {
        log_error("truth log %s: %s", e->cfg.sim.truth_log, strerror(errno));
        return -1;
    }
    if (!csv[0])
        return 0;
    e->csv = fopen(csv, "w");
    if (!e->csv) {
        log_error("truth csv %s: %s", csv, strerror(errno));
        return -1;
    }
    fprintf(e->csv,
            "t,setpoint_mps,motor_mps,belt_mps,force_n,running,tripped,watchdog_fired,fed_t\n");
    fflush(e->csv);
    return 0;
}

/* PATH -> the pty; a stale symlink is replaced, anything else there is left alone. */
static int make_link(struct eccsim *e)
{
    const char *link = e->cfg.eccsim.pty_link;
    struct stat st;

    if (!link[0])
        return 0;
    if (lstat(link, &st) == 0 && !S_ISLNK(st.st_mode)) {
        log_error("[eccsim] pty_link: %s exists and is not a symlink", link);
        return -1;
    }
    unlink(link);
    if (symlink(e->pty_path, link) != 0) {
        log_error("[eccsim] pty_link: cannot make %s: %s", link, strerror(errno));
        return -1;
    }
    e->link_made = true;
    return 0;
}

static void remove_link(struct eccsim *e)
{
    char target[sizeof e->pty_path];
    ssize_t n;

    if (!e->link_made)
        return;
    n = readlink(e->cfg.eccsim.pty_link, target, sizeof target - 1);
    if (n > 0) {
        target[n] = '\0';
        if (strcmp(target, e->pty_path) == 0)   /* still ours */
            unlink(e->cfg.eccsim.pty_link);
    }
}

/* Modbus RTU: the drive and the load cell, each a libmodbus server behind the wire. */
static int open_modbus_units(struct eccsim *e, char *err, size_t errlen)
{
    const struct ecc_config *c = &e->cfg;
    const int units[SIMWIRE_PORTS] = {c->drive.unit_id, c->loadcell.unit_id};

    for (e->nrtu = 0; e->nrtu < SIMWIRE_PORTS; e->nrtu++) {
        struct simsrv_rtu *r = &e->rtu[e->nrtu];

        if (simsrv_rtu_open(r, &e->dev, units[e->nrtu], c, e->pty_path, e->stop[0], err,
                            errlen) != 0)
            return -1;
        e->wire.port[e->nrtu] = (struct simwire_port){.fd = r->wire_fd, .unit = r->unit};
    }
    e->wire.nports = e->nrtu;
    return 0;
}

/* The Huanyang HY: its own framing on the pty, the drive alone (eccd cannot share the HY's
 * line with a Modbus transmitter: the load cell is served over TCP). */
static int open_hy_unit(struct eccsim *e, char *err, size_t errlen)
{
    if (simhy_open(&e->hy, &e->dev, e->cfg.drive.unit_id, &e->cfg, e->stop[0], err,
                   errlen) != 0)
        return -1;
    e->hy_on = true;
    e->wire.port[0] = (struct simwire_port){.fd = e->hy.wire_fd, .unit = e->hy.unit};
    e->wire.nports = 1;
    e->wire.frame_length = hy_frame_length;
    return 0;
}

static int open_rtu(struct eccsim *e)
{
    const struct ecc_config *c = &e->cfg;
    char err[256];

    e->pty_master = simwire_open_pty(e->pty_path, sizeof e->pty_path, &e->pty_slave, err,
                                     sizeof err);
    if (e->pty_master < 0 ||
        (e->prof.framing == DRIVE_FRAMING_HY ? open_hy_unit(e, err, sizeof err)
                                             : open_modbus_units(e, err, sizeof err)) != 0) {
        log_error("%s", err);
        return -1;
    }
    e->wire.master = e->pty_master;
    e->wire.stop_fd = e->stop[0];
    e->wire.byte_s = simwire_byte_s(c->drive.baud, simwire_bits_per_byte(
                                        c->drive.data_bits, c->drive.parity, c->drive.stop_bits));
    e->wire.pace = c->eccsim.pace_bytes;
    e->wire.corrupt = simdev_corrupt_reply;
    e->wire.ctx = &e->dev;
    return make_link(e);
}

static int open_servers(struct eccsim *e)
{
    char err[256];

    if (pipe(e->stop) != 0) {
        log_error("pipe: %s", strerror(errno));
        return -1;
    }
    fcntl(e->stop[0], F_SETFD, FD_CLOEXEC);
    fcntl(e->stop[1], F_SETFD, FD_CLOEXEC);
    if (e->opt.tcp_auto || e->cfg.eccsim.tcp_port > 0) {
        if (simsrv_tcp_open(&e->tcp, &e->dev, e->cfg.eccsim.listen,
                            e->opt.tcp_auto ? 0 : e->cfg.eccsim.tcp_port, e->stop[0], err,
                            sizeof err) != 0) {
            log_error("%s", err);
            return -1;
        }
        e->cfg.eccsim.tcp_port = simsrv_tcp_port(&e->tcp);
        e->tcp_on = true;
    }
    return open_rtu(e);
}

static int spawn(struct eccsim *e, void *(*fn)(void *), void *arg)
{
    int rc = pthread_create(&e->threads[e->nthreads], NULL, fn, arg);

    if (rc != 0) {
        log_error("cannot start a thread: %s", strerror(rc));
        return -1;
    }
    e->nthreads++;
    return 0;
}

/* Worker threads get no SIGTERM/SIGINT: those go to the main thread's rig loop. */
static int start_threads(struct eccsim *e)
{
    sigset_t block, old;
    int rc = 0;

    sigemptyset(&block);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    if (e->tcp_on)
        rc = spawn(e, simsrv_tcp_thread, &e->tcp);
    for (int i = 0; i < e->nrtu && rc == 0; i++)
        rc = spawn(e, simsrv_rtu_thread, &e->rtu[i]);
    if (e->hy_on && rc == 0)
        rc = spawn(e, simhy_thread, &e->hy);
    if (rc == 0)
        rc = spawn(e, simwire_thread, &e->wire);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return rc;
}

static void catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;       /* no SA_RESTART: the rig loop's sleep ends at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
}

static void announce(const struct eccsim *e)
{
    const struct ecc_config *c = &e->cfg;

    if (e->tcp_on)
        printf("eccsim: tcp on %s:%d\n", c->eccsim.listen, c->eccsim.tcp_port);
    printf("eccsim: rtu on %s\n", e->pty_path);
    if (e->link_made)
        printf("eccsim: rtu link %s -> %s\n", c->eccsim.pty_link, e->pty_path);
    printf("eccsim: ready: drive %s unit %d, load cell unit %d, scenario %s, seed %u\n",
           e->prof.name, c->drive.unit_id, c->loadcell.unit_id, c->sim.scenario, c->sim.seed);
    fflush(stdout);
}

/* ---- the rig in real time ---------------------------------------------------------- */

static void write_csv_row(struct eccsim *e, double t, const struct simdev_snapshot *s)
{
    fprintf(e->csv, "%.3f,%.4f,%.4f,%.4f,%.1f,%d,%d,%d,%.3f\n", t, s->setpoint_mps,
            rig_motor_speed(e->rig), rig_belt_speed(e->rig), rig_true_force(e->rig),
            s->running, s->tripped, s->comm_loss, s->t_fed);
    fflush(e->csv);
}

static void update_truth(struct eccsim *e)
{
    int n;

    athlete_strokes(rig_athlete(e->rig), &n);
    if (!e->truth[0] || n == e->truth_strokes)
        return;
    if (write_truth(e) != 0)
        log_warn("truth log %s: %s", e->truth, strerror(errno));
    e->truth_strokes = n;
}

/* Run the physics to t and show the devices the result. */
static void rig_step(struct eccsim *e, double t, struct simdev_snapshot *snap)
{
    double ts[SAMPLES], n[SAMPLES];
    struct simdev_rig in = {0};
    int k;

    rig_advance(e->rig, t);
    while ((k = rig_take_force(e->rig, ts, n, SAMPLES)) > 0) {
        in.new_sample = true;
        in.sample_n = n[k - 1];
    }
    while (rig_take_pulses(e->rig, ts, SAMPLES) > 0)
        ;                            /* eccd reads the belt speed from the drive here */
    rig_take_buttons(e->rig);        /* start presses: eccd is started on the other side */
    in.motor_mps = rig_motor_speed(e->rig);
    in.force_n = rig_true_force(e->rig);
    simdev_tick(&e->dev, t, &in, snap);
    rig_set_speed(e->rig, snap->belt_target_mps);
}

static void sleep_until_s(const struct timespec *t0, double t)
{
    struct timespec due = *t0;
    long long ns = (long long)(t * 1e9);

    due.tv_sec += (time_t)(ns / 1000000000LL);
    due.tv_nsec += (long)(ns % 1000000000LL);
    if (due.tv_nsec >= 1000000000L) {
        due.tv_sec++;
        due.tv_nsec -= 1000000000L;
    }
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &due, NULL);   /* EINTR: a signal */
}

static void run_rig(struct eccsim *e)
{
    struct simdev_snapshot snap;
    double next_csv = 0.0;

    while (!stop_signal) {
        double t = simdev_now(&e->dev);

        if (e->opt.duration >= 0.0 && t >= e->opt.duration)
            break;
        rig_step(e, t, &snap);
        if (e->csv && t >= next_csv) {
            write_csv_row(e, t, &snap);
            next_csv = (floor(t / CSV_PERIOD_S) + 1.0) * CSV_PERIOD_S;
        }
        update_truth(e);
        /* the next whole millisecond: a late wake-up skips, it does not pile up */
        sleep_until_s(&e->dev.t0, (floor(t / STEP_S) + 1.0) * STEP_S);
    }
}

/* ---- shutdown ---------------------------------------------------------------------- */

static void stop_threads(struct eccsim *e)
{
    if (e->stop[1] >= 0 && write(e->stop[1], "x", 1) < 0)
        log_warn("cannot signal the threads: %s", strerror(errno));
    for (int i = 0; i < e->nthreads; i++)
        pthread_join(e->threads[i], NULL);
    e->nthreads = 0;
}

static void release(struct eccsim *e)
{
    if (e->tcp_on)
        simsrv_tcp_close(&e->tcp);
    for (int i = 0; i < e->nrtu; i++)
        simsrv_rtu_close(&e->rtu[i]);
    if (e->hy_on)
        simhy_close(&e->hy);
    remove_link(e);
    if (e->pty_master >= 0)
        close(e->pty_master);
    if (e->pty_slave >= 0)
        close(e->pty_slave);
    if (e->stop[0] >= 0)
        close(e->stop[0]);
    if (e->stop[1] >= 0)
        close(e->stop[1]);
    if (e->truth[0] && write_truth(e) != 0)
        log_warn("truth log %s: %s", e->truth, strerror(errno));
    if (e->csv)
        fclose(e->csv);
    hal_sim_close(e->hs);
    if (e->dev_ready)
        simdev_fini(&e->dev);
}

static int start(struct eccsim *e)
{
    char err[512];

    if (load_config(e) != 0)
        return -1;
    if (simdev_init(&e->dev, &e->cfg, &e->prof, &e->opt.plan, err, sizeof err) != 0) {
        log_error("%s", err);
        return -1;
    }
    e->dev_ready = true;
    if (build_rig(e) != 0 || open_outputs(e) != 0 || open_servers(e) != 0 ||
        start_threads(e) != 0)
        return -1;
    announce(e);
    return 0;
}

int main(int argc, char **argv)
{
    static struct eccsim e;          /* static: the structs are large */
    int rc;

    log_set_ident("eccsim");
    rc = parse_options(argc, argv, &e.opt);
    if (rc != 0)
        return rc > 0 ? 0 : EXIT_USAGE;
    e.stop[0] = e.stop[1] = e.pty_master = e.pty_slave = -1;
    log_set_level(e.opt.quiet ? LOG_LVL_WARN : e.opt.verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
    catch_signals();
    if (start(&e) != 0) {
        stop_threads(&e);
        release(&e);
        return EXIT_BAD_START;
    }
    run_rig(&e);
    stop_threads(&e);
    log_info("stopped at t=%.3f s%s: %ld requests, %ld answered", simdev_now(&e.dev),
             stop_signal ? " by a signal" : "", e.dev.requests, e.dev.answered);
    release(&e);
    return 0;
}
