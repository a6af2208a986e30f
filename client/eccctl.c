/* eccctl.c - the command-line client of eccd's control socket.
 *
 * One request line out, one reply line back (docs/socket.md); the reply is rendered by
 * ctlfmt.c (or printed as it came with --json). This file holds only the I/O: options,
 * finding the socket, connecting, sending, reading the reply with a timeout, writing the
 * output. The manual is docs/eccctl.1; --help says the same in short.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "config/config.h"
#include "client/ctlconn.h"
#include "client/ctlfmt.h"
#include "client/progreport.h"
#include "client/rowscan.h"
#include "client/wholefile.h"
#include "proto/request.h"

#ifndef ECC_VERSION
#define ECC_VERSION "0.1.0"
#endif

#define DEFAULT_SOCKET "/run/eccd/eccd.sock"
#define DEFAULT_TIMEOUT_S 5.0
#define REPLY_MAX ((size_t)1 << 30)     /* a reply longer than 1 GiB is not a reply */
#define PART_MAX ((size_t)1 << 20)      /* one row of a streamed export, or its head */

enum { EX_OK = 0, EX_FAILED = 1, EX_USAGE = 2, EX_NOCONN = 3 };

struct opts {
    const char *socket, *config;
    bool json, help, version;
    double timeout_s;
};

struct command {
    const char *name;           /* as in the request: "status", "patient-add", ... */
    json_t *req;
    double watch_s;             /* status --watch: > 0 */
    bool csv;                   /* export --csv */
    const char *out_path;       /* export -o FILE */
    const char *raw;            /* raw LINE: sent as it is */
    long count;                 /* watch --count: lines to show (0: until Ctrl-C) */
    int report_fmt;             /* report: 0 HTML, 1 --pdf, 2 --png */
};

/* The connection to eccd and what it has sent that was not used yet. */
static volatile sig_atomic_t stop_flag;     /* status --watch: Ctrl-C */

static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static void help(FILE *f)
{
    fputs(
"Usage: eccctl [-s SOCKET | -c CONFIG] [--json] [--timeout S] COMMAND [ARGS]\n"
"\n"
"eccctl talks to eccd, the daemon that runs the reverse-treadmill eccentric training\n"
"rig, over its control socket: it shows the rig's status, starts and stops sets,\n"
"records pain scores, manages patients and reads back the training history.\n"
"\n"
"Options (anywhere on the line, before a lone --):\n"
"  -s, --socket PATH    eccd's control socket (default: see SOCKET below)\n"
"  -c, --config FILE    take the socket from eccd's config file: [server] socket\n"
"      --json           print eccd's reply as it came, one JSON object per line\n"
"      --timeout S      give up when eccd has sent nothing for S seconds (default 5)\n"
"  -h, --help           this help (eccctl COMMAND --help shows it too)\n"
"  -V, --version        print the version\n"
"\n"
"Commands:\n"
"  status [--watch [S]]\n"
"        the state, patient, session, set and rep, belt speed, force against the\n"
"        band, rest timer, fault (with its value and limit), the day's sessions and\n"
"        when the next is allowed, loop overruns and the history queue; --watch\n"
"        repeats it every S seconds (default 1) until Ctrl-C\n"
"  start\n"
"        start a set: the first of a new session, the next after the rest, or go on\n"
"        with a paused one. Refused while a fault is latched, during the rest, or when\n"
"        the day's schedule allows no new session (the reply says when it will)\n"
"  stop\n"
"        stop the belt; the set pauses with its counted reps kept\n"
"  next-set\n"
"        cut the rest between sets short and start the next set\n"
"  reset-fault\n"
"        clear a latched fault once its cause is gone; the belt stays stopped until\n"
"        the next start, which begins at the slowest speed\n"
"  tare\n"
"        zero the load cell: keep the foot plate unloaded. It runs in the background;\n"
"        status shows when it is done (calibration: tares)\n"
"  calibrate [--confirm] MASS_KG\n"
"        set the load cell's span with a known mass of MASS_KG kg (0.1 <= MASS_KG <= 500,\n"
"        and at most the cell's full scale) resting on the foot plate; tare first. Done\n"
"        when status counts one more span. A span that would change the scale by more\n"
"        than loadcell.span_change_max of the last span's, or leave the cell's full scale\n"
"        in an implausible number of counts, is refused and changes nothing (status shows\n"
"        refused_scale); --confirm accepts a large change (a new cell, rewired)\n"
"  pain SCORE\n"
"        record the patient's pain, 0 (none) to 10 (worst), on the latest set\n"
"  morning SCORE\n"
"        the next-morning score, 0 to 10, on the patient's meaningful task (e.g. three\n"
"        single-leg bridges): 2 or more above the baseline steps the band down\n"
"  questionnaire SCORE [--instrument NAME]\n"
"        the clinician's questionnaire score, 0 to 100 (default instrument VISA-H)\n"
"  programme [show]\n"
"        the patient's twelve-week programme: band, level, floor and ceiling, and every\n"
"        step and flag with its reason\n"
"  programme set [--start YYYY-MM-DD] [--weeks N] [--sessions-per-day N]\n"
"                [--band LOW:HIGH] [--step SHARE] [--floor N] [--ceiling N]\n"
"                [--baseline SCORE] [--level N] [--lock | --unlock]\n"
"        set or change it (only between sessions); what is left out keeps its value\n"
"        (a new programme: today, 12 weeks, the patient's band, steps of 0.05).\n"
"        docs/programme.md gives the rules that move the band\n"
"  report [--patient ID] [-o FILE] [--pdf | --png]\n"
"        the clinician's report of the patient's programme (docs/report.md): one HTML\n"
"        file with its figures inline, on standard output or into FILE; --pdf and --png\n"
"        have headless chromium (Debian package chromium) render it into FILE\n"
"  patient list\n"
"        the patients, their own settings and which one is selected (*)\n"
"  patient add NAME [--force-low N] [--force-high N] [--speed-max MPS]\n"
"                   [--force-abort N]\n"
"        add a patient (NAME: 1 to 63 bytes); a setting left out follows the config,\n"
"        and a patient's settings may only narrow what the config allows\n"
"  patient select ID\n"
"        whose settings apply and whose sessions are counted (only while no session\n"
"        runs)\n"
"  history [--days N]\n"
"        the selected patient's sessions of the last N days (1 to 3650, default 7),\n"
"        a table of sets per session: reps counted and rejected, time in band, pain\n"
"  watch [--rate HZ] [--count N]\n"
"        follow the rig live: a line RATE times a second (1 to 25, default 10) with\n"
"        the state, set and rep, force against the band and belt speed, and each\n"
"        counted rep, rejected stroke or fault as it happens; --json prints eccd's\n"
"        lines as they come (every control tick's force and speed in them). Until\n"
"        Ctrl-C, or N lines\n"
"  pair\n"
"        the PIN that pairs a phone or tablet with the patient's page (eccweb,\n"
"        docs/web.md), and how long it is valid; read from eccweb's [web] pin_file\n"
"        (of -c CONFIG, else /run/eccweb/pin), not from eccd. Each PIN pairs once\n"
"  raw LINE\n"
"        send LINE to eccd exactly as given (for scripts and for testing eccd's\n"
"        answers to malformed requests) and print the reply as it came\n"
"  export --csv [--days N] [-o FILE]\n"
"        every counted rep of every patient (a patient column says whose) of the last\n"
"        N days (default 0: all) as CSV (RFC 4180, a header row, CRLF line ends) on\n"
"        standard output or into FILE, which is written whole or not at all\n"
"\n"
"Socket: -s PATH; else the [server] socket of -c CONFIG (relative paths are taken\n"
"from the config file's folder); else $ECCD_SOCKET; else /run/eccd/eccd.sock. It is\n"
"mode 0660: members of its group (the config's [server] group) may use eccctl.\n"
"\n"
"Exit status: 0 done; 1 eccd refused or reported an error (its message goes to\n"
"standard error as \"eccctl: MESSAGE\"), or the output could not be written; 2 bad\n"
"usage; 3 cannot connect to eccd, or no usable reply.\n"
"\n"
"Examples:\n"
"  eccctl status --watch\n"
"  eccctl -c /etc/eccd/eccd.ini start\n"
"  eccctl patient add \"Ann Smith\" --force-low 150 --force-high 250\n"
"  eccctl pain 3\n"
"  eccctl export --csv --days 30 -o ann.csv\n"
"\n"
"The protocol is described in docs/socket.md; the manual is eccctl(1).\n",
        f);
}

__attribute__((format(printf, 1, 2)))
static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fputs("eccctl: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\neccctl: eccctl --help describes every command and option\n", stderr);
    return EX_USAGE;
}

/* ---- option parsing -------------------------------------------------------------------- */

static bool parse_double(const char *s, double *v)
{
    char *end;

    errno = 0;
    *v = strtod(s, &end);
    return !errno && end != s && !*end && isfinite(*v) && !isspace((unsigned char)*s);
}

static bool parse_long(const char *s, long lo, long hi, long *v)
{
    char *end;

    errno = 0;
    *v = strtol(s, &end, 10);
    return !errno && end != s && !*end && *v >= lo && *v <= hi && !isspace((unsigned char)*s);
}

/* text as the value of request cmd's member key, checked against the socket protocol's
 * own table (req_field_check): what eccd would refuse, eccctl refuses first, in the same
 * words. what names the value in the message ("MASS_KG", "--days"). 0, or EX_USAGE after
 * the message. */
static int arg_value(const char *cmd_text, enum req_cmd cmd, const char *key, const char *text,
                     const char *what, double *v)
{
    const struct req_field *f = req_field_find(cmd, key);
    char range[96], why[200];

    req_field_range(f, range, sizeof range);
    if (!text || !parse_double(text, v))
        return usage_error("%s: %s must be %s, not '%s'", cmd_text, what, range,
                           text ? text : "(nothing)");
    if (req_field_check(f, *v, what, why, sizeof why) < 0)
        return usage_error("%s: %s", cmd_text, why);
    return 0;
}

/* Does arg name the option: "--name" (value, if any, in the next argument) or
 * "--name=VALUE" (*inline_val points at VALUE)? */
static bool match_opt(const char *arg, const char *name, const char **inline_val)
{
    size_t n = strlen(name);

    *inline_val = NULL;
    if (strcmp(arg, name) == 0)
        return true;
    if (strncmp(arg, name, n) == 0 && arg[n] == '=') {
        *inline_val = arg + n + 1;
        return true;
    }
    return false;
}

/* The option's value: inline, or the next argument (consumed). NULL if there is none. */
static const char *opt_value(int n, char **args, int *i, const char *inline_val)
{
    if (inline_val)
        return inline_val;
    if (*i + 1 >= n)
        return NULL;
    return args[++*i];
}

/* An argument that is an option, not a value: "-x", "--xy"; "-", "-3" and "-0.5" are not. */
static bool is_option(const char *a)
{
    return a[0] == '-' && a[1] && !isdigit((unsigned char)a[1]) && a[1] != '.';
}

/* Take the global options out of argv wherever they are (up to a lone "--"); everything
 * else goes to rest[] in order, the "--" included, for the command to parse. */
static int parse_globals(int argc, char **argv, struct opts *o, char **rest, int *nrest)
{
    bool literal = false;

    o->timeout_s = DEFAULT_TIMEOUT_S;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *iv = NULL, *v;

        if (literal || !is_option(a)) {
            rest[(*nrest)++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            literal = true;
            rest[(*nrest)++] = argv[i];
        } else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            o->help = true;
        } else if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            o->version = true;
        } else if (strcmp(a, "--json") == 0) {
            o->json = true;
        } else if (strcmp(a, "-s") == 0 || match_opt(a, "--socket", &iv)) {
            if (!(v = opt_value(argc, argv, &i, a[1] == 's' ? NULL : iv)) || !*v)
                return usage_error("%s needs a socket path", a);
            o->socket = v;
        } else if (strcmp(a, "-c") == 0 || match_opt(a, "--config", &iv)) {
            if (!(v = opt_value(argc, argv, &i, a[1] == 'c' ? NULL : iv)) || !*v)
                return usage_error("%s needs a config file", a);
            o->config = v;
        } else if (match_opt(a, "--timeout", &iv)) {
            if (!(v = opt_value(argc, argv, &i, iv)) || !parse_double(v, &o->timeout_s) ||
                !(o->timeout_s > 0.0 && o->timeout_s <= 86400.0))
                return usage_error("--timeout needs a number of seconds, more than 0 and at "
                                   "most 86400");
        } else {
            rest[(*nrest)++] = argv[i];     /* the command's own option */
        }
    }
    if (o->socket && o->config)
        return usage_error("-s and -c both say where the socket is: give one of them");
    return 0;
}

static json_t *new_request(const char *cmd)
{
    return json_pack("{s:i,s:s}", "v", REQ_VERSION, "cmd", cmd);
}

/* Collect the positional arguments of a command with no options of its own. */
static int positionals(const char *cmd, int n, char **args, const char **pos, int max, int *npos)
{
    bool literal = false;

    *npos = 0;
    for (int i = 1; i < n; i++) {
        if (!literal && strcmp(args[i], "--") == 0) {
            literal = true;
        } else if (!literal && is_option(args[i])) {
            return usage_error("%s: unknown option '%s'", cmd, args[i]);
        } else {
            if (*npos == max)
                return usage_error("%s: unexpected argument '%s'", cmd, args[i]);
            pos[(*npos)++] = args[i];
        }
    }
    return 0;
}

static int parse_status(int n, char **args, struct command *c)
{
    for (int i = 1; i < n; i++) {
        const char *iv;
        double s;

        if (!match_opt(args[i], "--watch", &iv))
            return usage_error("status: unexpected argument '%s'", args[i]);
        c->watch_s = 1.0;
        if (!iv && i + 1 < n && !is_option(args[i + 1]) && parse_double(args[i + 1], &s))
            iv = args[++i];
        if (iv && (!parse_double(iv, &c->watch_s) || !(c->watch_s >= 0.1 &&
                                                       c->watch_s <= 3600.0)))
            return usage_error("status --watch: '%s' is not a number of seconds from 0.1 to "
                               "3600", iv);
    }
    c->req = new_request("status");
    return 0;
}

static int parse_simple(const char *cmd, int n, char **args, struct command *c)
{
    const char *pos[1];
    int np, rc = positionals(cmd, n, args, pos, 0, &np);

    if (rc)
        return rc;
    c->req = new_request(cmd);
    return 0;
}

static int parse_calibrate(int n, char **args, struct command *c)
{
    const char *pos[1];
    char *rest[8];
    bool confirm = false;
    double kg;
    int np, nrest = 0, rc;

    for (int i = 0; i < n; i++) {       /* --confirm anywhere; the rest as positionals */
        if (i > 0 && strcmp(args[i], "--confirm") == 0)
            confirm = true;
        else if (nrest < 8)
            rest[nrest++] = args[i];
        else
            return usage_error("calibrate: unexpected argument '%s'", args[i]);
    }
    if ((rc = positionals("calibrate", nrest, rest, pos, 1, &np)) != 0)
        return rc;
    if (np != 1)
        return usage_error("calibrate needs the mass in kg: eccctl calibrate MASS_KG");
    if ((rc = arg_value("calibrate", REQ_CALIBRATE, "mass_kg", pos[0], "MASS_KG", &kg)) != 0)
        return rc;
    c->req = new_request("calibrate");
    json_object_set_new(c->req, "mass_kg", json_real(kg));
    if (confirm)
        json_object_set_new(c->req, "confirm", json_true());
    return 0;
}

static int parse_pain(int n, char **args, struct command *c)
{
    const char *pos[1];
    double score;
    int np, rc = positionals("pain", n, args, pos, 1, &np);

    if (rc)
        return rc;
    if (np != 1)
        return usage_error("pain needs a score: eccctl pain SCORE (0 to 10)");
    if ((rc = arg_value("pain", REQ_PAIN, "score", pos[0], "SCORE", &score)) != 0)
        return rc;
    c->req = new_request("pain");
    json_object_set_new(c->req, "score", json_integer((json_int_t)score));
    return 0;
}

/* morning SCORE, and questionnaire SCORE [--instrument NAME]. */
static int parse_morning(int n, char **args, struct command *c)
{
    const char *pos[1];
    double score;
    int np, rc = positionals("morning", n, args, pos, 1, &np);

    if (rc)
        return rc;
    if (np != 1)
        return usage_error("morning needs a score: eccctl morning SCORE (0 to 10: how the "
                           "meaningful task felt this morning)");
    if ((rc = arg_value("morning", REQ_MORNING, "score", pos[0], "SCORE", &score)) != 0)
        return rc;
    c->req = new_request("morning");
    json_object_set_new(c->req, "score", json_integer((json_int_t)score));
    return 0;
}

static int parse_questionnaire(int n, char **args, struct command *c)
{
    const char *score_text = NULL, *instrument = NULL;
    char why[160];
    double score;
    int rc;

    for (int i = 1; i < n; i++) {
        const char *iv;

        if (match_opt(args[i], "--instrument", &iv)) {
            if (!(instrument = opt_value(n, args, &i, iv)))
                return usage_error("questionnaire: --instrument needs a name (e.g. VISA-H)");
        } else if (is_option(args[i]) || score_text) {
            return usage_error("questionnaire: unexpected argument '%s'", args[i]);
        } else {
            score_text = args[i];
        }
    }
    if (!score_text)
        return usage_error("questionnaire needs a score: eccctl questionnaire SCORE "
                           "[--instrument NAME] (0 to 100)");
    if ((rc = arg_value("questionnaire", REQ_QUESTIONNAIRE, "score", score_text, "SCORE",
                        &score)) != 0)
        return rc;
    if (instrument && req_name_check(instrument, strlen(instrument), "the instrument", why,
                                     sizeof why) < 0)
        return usage_error("questionnaire: %s", why);
    c->req = new_request("questionnaire");
    json_object_set_new(c->req, "score", json_real(score));
    if (instrument)
        json_object_set_new(c->req, "instrument", json_string(instrument));
    return 0;
}

/* --start: YYYY-MM-DD (local noon of that day: inside its protocol day) or UTC seconds. */
static int parse_start(const char *text, double *out)
{
    struct tm tm = {0};
    char extra;

    if (!text)
        return -1;
    if (sscanf(text, "%4d-%2d-%2d%c", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &extra) == 3 &&
        tm.tm_mon >= 1 && tm.tm_mon <= 12 && tm.tm_mday >= 1 && tm.tm_mday <= 31) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        tm.tm_hour = 12;
        tm.tm_isdst = -1;
        *out = (double)mktime(&tm);
        return 0;
    }
    return parse_double(text, out) && *out >= 0.0 ? 0 : -1;
}

/* programme set's numeric options: option, member, what the value is. */
static const struct {
    const char *opt, *key;
} programme_opts[] = {
    {"--weeks", "weeks"}, {"--sessions-per-day", "sessions_per_day"},
    {"--step", "step_share"}, {"--floor", "floor_n"}, {"--ceiling", "ceiling_n"},
    {"--baseline", "baseline"}, {"--level", "level"},
};
#define N_PROGRAMME_OPTS (sizeof programme_opts / sizeof programme_opts[0])

static int programme_band(const char *v, json_t *req)
{
    double lo, hi;
    char *colon = v ? strchr(v, ':') : NULL;
    char low[64];
    int rc;

    if (!colon || (size_t)(colon - v) >= sizeof low)
        return usage_error("programme set: --band needs LOW:HIGH in newtons, e.g. 60:100");
    snprintf(low, sizeof low, "%.*s", (int)(colon - v), v);
    if ((rc = arg_value("programme set", REQ_PROGRAMME_SET, "band_low", low, "--band LOW",
                        &lo)) != 0 ||
        (rc = arg_value("programme set", REQ_PROGRAMME_SET, "band_high", colon + 1,
                        "--band HIGH", &hi)) != 0)
        return rc;
    if (lo >= hi)
        return usage_error("programme set: --band %g:%g: LOW must be below HIGH", lo, hi);
    json_object_set_new(req, "band_low", json_real(lo));
    json_object_set_new(req, "band_high", json_real(hi));
    return 0;
}

static int parse_programme_option(int n, char **args, int *i, json_t *req)
{
    const char *a = args[*i], *iv, *v;
    double x;
    size_t k;
    int rc;

    if (strcmp(a, "--lock") == 0 || strcmp(a, "--unlock") == 0) {
        json_object_set_new(req, "locked", json_boolean(a[2] == 'l'));
        return 0;
    }
    if (match_opt(a, "--band", &iv))
        return programme_band(opt_value(n, args, i, iv), req);
    if (match_opt(a, "--start", &iv)) {
        if (parse_start(opt_value(n, args, i, iv), &x) != 0)
            return usage_error("programme set: --start needs a date, YYYY-MM-DD");
        json_object_set_new(req, "start", json_real(x));
        return 0;
    }
    for (k = 0; k < N_PROGRAMME_OPTS && !match_opt(a, programme_opts[k].opt, &iv); k++)
        ;
    if (k == N_PROGRAMME_OPTS)
        return usage_error("programme set: unknown option '%s'", a);
    v = opt_value(n, args, i, iv);
    if ((rc = arg_value("programme set", REQ_PROGRAMME_SET, programme_opts[k].key, v,
                        programme_opts[k].opt, &x)) != 0)
        return rc;
    json_object_set_new(req, programme_opts[k].key,
                        req_field_find(REQ_PROGRAMME_SET, programme_opts[k].key)->kind ==
                                REQ_KIND_INT ? json_integer((json_int_t)x) : json_real(x));
    return 0;
}

static int parse_programme(int n, char **args, struct command *c)
{
    int rc;

    if (n < 2 || strcmp(args[1], "show") == 0) {
        if (n > 2)
            return usage_error("programme show: unexpected argument '%s'", args[2]);
        c->req = new_request("programme");
        return 0;
    }
    if (strcmp(args[1], "set") != 0)
        return usage_error("programme: show or set, not '%s'", args[1]);
    c->name = "programme-set";
    c->req = new_request("programme-set");
    for (int i = 2; i < n; i++) {
        if (!is_option(args[i]))
            return usage_error("programme set: unexpected argument '%s'", args[i]);
        if ((rc = parse_programme_option(n, args, &i, c->req)) != 0)
            return rc;
    }
    return 0;
}

/* report [--patient ID] [-o FILE] [--pdf | --png] */
static int parse_report(int n, char **args, struct command *c)
{
    long patient = 0;

    for (int i = 1; i < n; i++) {
        const char *a = args[i], *iv, *v;

        if (strcmp(a, "--pdf") == 0 || strcmp(a, "--png") == 0) {
            c->report_fmt = a[3] == 'd' ? 1 : 2;
        } else if (strcmp(a, "-o") == 0 || match_opt(a, "--output", &iv)) {
            if (!(v = opt_value(n, args, &i, a[1] == 'o' ? NULL : iv)) || !*v)
                return usage_error("report: -o needs a file name");
            c->out_path = v;
        } else if (match_opt(a, "--patient", &iv)) {
            if (!(v = opt_value(n, args, &i, iv)) || !parse_long(v, 1, LONG_MAX, &patient))
                return usage_error("report: --patient needs a patient id (eccctl patient list)");
        } else {
            return usage_error("report: unexpected argument '%s'", a);
        }
    }
    if (c->report_fmt && !c->out_path)
        return usage_error("report: --pdf and --png need -o FILE");
    c->req = new_request("report");
    if (patient > 0)
        json_object_set_new(c->req, "patient", json_integer(patient));
    return 0;
}

static int parse_patient_add(int n, char **args, struct command *c)
{
    static const char *const keys[] = {"force_low", "force_high", "speed_max", "force_abort"};
    static const char *const opts[] = {"--force-low", "--force-high", "--speed-max",
                                       "--force-abort"};
    double vals[4] = {NAN, NAN, NAN, NAN};
    const char *name = NULL;
    bool literal = false;
    char why[160];
    json_t *jname;
    int rc;

    for (int i = 2; i < n; i++) {
        const char *a = args[i], *iv, *v;
        int k;

        if (!literal && strcmp(a, "--") == 0) {
            literal = true;
            continue;
        }
        if (literal || !is_option(a)) {
            if (name)
                return usage_error("patient add: one name only (quote a name with spaces): "
                                   "unexpected '%s'", a);
            name = a;
            continue;
        }
        for (k = 0; k < 4 && !match_opt(a, opts[k], &iv); k++)
            ;
        if (k == 4)
            return usage_error("patient add: unknown option '%s'", a);
        v = opt_value(n, args, &i, iv);
        if ((rc = arg_value("patient add", REQ_PATIENT_ADD, keys[k], v, opts[k], &vals[k])) != 0)
            return rc;
    }
    if (!name)
        return usage_error("patient add needs a name: eccctl patient add NAME [OPTIONS]");
    if (req_name_check(name, strlen(name), "the name", why, sizeof why) < 0)
        return usage_error("patient add: %s", why);
    if (!(jname = json_string(name)))
        return usage_error("patient add: the name is not valid UTF-8");
    c->req = new_request("patient-add");
    json_object_set_new(c->req, "name", jname);
    for (int k = 0; k < 4; k++)
        if (!isnan(vals[k]))
            json_object_set_new(c->req, keys[k], json_real(vals[k]));
    return 0;
}

static int parse_patient(int n, char **args, struct command *c)
{
    const char *pos[1];
    long id;
    int np, rc;

    if (n < 2)
        return usage_error("patient needs list, add or select");
    if (strcmp(args[1], "add") == 0) {
        c->name = "patient-add";
        return parse_patient_add(n, args, c);
    }
    if (strcmp(args[1], "list") == 0) {
        c->name = "patient-list";
        if ((rc = positionals("patient list", n - 1, args + 1, pos, 0, &np)) != 0)
            return rc;
        c->req = new_request("patient-list");
        return 0;
    }
    if (strcmp(args[1], "select") == 0) {
        c->name = "patient-select";
        if ((rc = positionals("patient select", n - 1, args + 1, pos, 1, &np)) != 0)
            return rc;
        if (np != 1)
            return usage_error("patient select needs an id: eccctl patient select ID "
                               "(eccctl patient list shows them)");
        if (!parse_long(pos[0], 1, LONG_MAX, &id))
            return usage_error("patient select: ID must be an integer of at least 1 (a "
                               "patient's id, as eccctl patient list shows), not '%s'", pos[0]);
        c->req = new_request("patient-select");
        json_object_set_new(c->req, "patient", json_integer(id));
        return 0;
    }
    return usage_error("patient: '%s' is not list, add or select", args[1]);
}

/* watch [--rate HZ] [--count N] */
static int parse_watch(int n, char **args, struct command *c)
{
    double rate = -1;
    int rc;

    for (int i = 1; i < n; i++) {
        const char *a = args[i], *iv = NULL, *v;

        if (match_opt(a, "--rate", &iv)) {
            v = opt_value(n, args, &i, iv);
            if ((rc = arg_value("watch", REQ_WATCH, "rate_hz", v, "--rate", &rate)) != 0)
                return rc;
        } else if (match_opt(a, "--count", &iv)) {
            v = opt_value(n, args, &i, iv);
            if (!v || !parse_long(v, 1, 1000000000L, &c->count))
                return usage_error("watch --count needs a number of lines (1 or more)");
        } else {
            return usage_error("watch: unexpected argument '%s'", a);
        }
    }
    c->req = new_request("watch");
    if (rate > 0)
        json_object_set_new(c->req, "rate_hz", json_integer((json_int_t)rate));
    return 0;
}

/* history [--days N], export --csv [--days N] [-o FILE] */
static int parse_history_export(const char *cmd, int n, char **args, struct command *c)
{
    bool export = strcmp(cmd, "export") == 0;
    double days = -1;
    int rc;

    for (int i = 1; i < n; i++) {
        const char *a = args[i], *iv = NULL, *v;

        if (match_opt(a, "--days", &iv)) {
            v = opt_value(n, args, &i, iv);
            if ((rc = arg_value(cmd, export ? REQ_EXPORT : REQ_HISTORY, "days", v, "--days",
                                &days)) != 0)
                return rc;
        } else if (export && strcmp(a, "--csv") == 0) {
            c->csv = true;
        } else if (export && (strcmp(a, "-o") == 0 || match_opt(a, "--output", &iv))) {
            if (!(v = opt_value(n, args, &i, a[1] == 'o' ? NULL : iv)) || !*v)
                return usage_error("export %s needs a file name", a);
            c->out_path = v;
        } else {
            return usage_error("%s: unexpected argument '%s'", cmd, a);
        }
    }
    c->req = new_request(cmd);
    if (days >= 0)
        json_object_set_new(c->req, "days", json_integer((json_int_t)days));
    return 0;
}

static int parse_command(int n, char **args, const struct opts *o, struct command *c)
{
    static const char *const simple[] = {"start", "stop", "next-set", "reset-fault", "tare"};
    const char *cmd = args[0];
    int rc;

    if (strcmp(cmd, "--") == 0) {
        if (n < 2)
            return usage_error("no command given");
        args++;
        n--;
        cmd = args[0];
    }
    c->name = cmd;
    if (strcmp(cmd, "status") == 0)
        rc = parse_status(n, args, c);
    else if (strcmp(cmd, "calibrate") == 0)
        rc = parse_calibrate(n, args, c);
    else if (strcmp(cmd, "pain") == 0)
        rc = parse_pain(n, args, c);
    else if (strcmp(cmd, "patient") == 0)
        rc = parse_patient(n, args, c);
    else if (strcmp(cmd, "morning") == 0)
        rc = parse_morning(n, args, c);
    else if (strcmp(cmd, "questionnaire") == 0)
        rc = parse_questionnaire(n, args, c);
    else if (strcmp(cmd, "programme") == 0)
        rc = parse_programme(n, args, c);
    else if (strcmp(cmd, "report") == 0)
        rc = parse_report(n, args, c);
    else if (strcmp(cmd, "history") == 0 || strcmp(cmd, "export") == 0)
        rc = parse_history_export(cmd, n, args, c);
    else if (strcmp(cmd, "watch") == 0)
        rc = parse_watch(n, args, c);
    else if (strcmp(cmd, "raw") == 0) {
        if (n != 2)
            return usage_error("raw takes one argument: the request line");
        c->raw = args[1];
        c->req = json_null();
        rc = 0;
    } else {
        size_t k;
        for (k = 0; k < sizeof simple / sizeof simple[0] && strcmp(cmd, simple[k]) != 0; k++)
            ;
        if (k == sizeof simple / sizeof simple[0])
            return usage_error("unknown command '%s'", cmd);
        rc = parse_simple(cmd, n, args, c);
    }
    if (rc)
        return rc;
    if (!c->req) {
        fputs("eccctl: out of memory\n", stderr);
        return EX_FAILED;
    }
    if (strcmp(c->name, "export") == 0 && !c->csv && !o->json)
        return usage_error("export: say --csv (the format; --json gives the reply as it "
                           "came)");
    if (c->out_path && strcmp(c->name, "export") != 0 && strcmp(c->name, "report") != 0)
        return usage_error("-o is for export and report only");
    return 0;
}

/* ---- where the socket is ------------------------------------------------------------- */

/* [server] socket of a loaded config. NOTE for integration: written against the
 * cfg->server.socket char array being added to config.h (present in the working tree
 * when this was written); if that member is renamed, this is the one place to change. */
static const char *config_socket(const struct ecc_config *cfg)
{
    return cfg->server.socket;
}

static int resolve_socket(const struct opts *o, char *path, size_t len, char *from,
                          size_t fromlen)
{
    static struct ecc_config cfg;   /* a few KiB: kept off the stack */
    char err[512];
    const char *env = getenv("ECCD_SOCKET");

    if (o->socket) {
        snprintf(path, len, "%s", o->socket);
        snprintf(from, fromlen, "from -s");
    } else if (o->config) {
        if (config_load(&cfg, o->config, err, sizeof err) != 0) {
            fprintf(stderr, "eccctl: %s\n", err);
            return EX_USAGE;
        }
        if (!config_socket(&cfg)[0]) {
            fprintf(stderr, "eccctl: %s: [server] socket is empty: that eccd has no control "
                    "socket\n", o->config);
            return EX_NOCONN;
        }
        if (config_resolve_path(&cfg, config_socket(&cfg), path, len) != 0)
            return usage_error("%s: [server] socket: the path is too long", o->config);
        snprintf(from, fromlen, "from %s, [server] socket", o->config);
    } else if (env && *env) {
        snprintf(path, len, "%s", env);
        snprintf(from, fromlen, "from $ECCD_SOCKET");
    } else {
        snprintf(path, len, "%s", DEFAULT_SOCKET);
        snprintf(from, fromlen, "the default");
    }
    if (strlen(path) >= sizeof ((struct sockaddr_un *)0)->sun_path)
        return usage_error("socket path %s (%s) is too long: a Unix socket path has at most "
                           "%zu bytes", path, from,
                           sizeof ((struct sockaddr_un *)0)->sun_path - 1);
    return 0;
}

/* ---- the connection ------------------------------------------------------------------ */

static void say_connect_error(const struct ctlconn *c, int err)
{
    fprintf(stderr, "eccctl: cannot connect to eccd at %s (%s): %s\n", c->path, c->from,
            err == ETIMEDOUT ? "it does not accept connections" : strerror(err));
    if (err == ENOENT || err == ECONNREFUSED)
        fputs("eccctl: is eccd running? (it creates the socket when it starts; -s, -c or "
              "$ECCD_SOCKET name another)\n", stderr);
    else if (err == EACCES || err == EPERM)
        fputs("eccctl: are you in eccd's group? (the socket is mode 0660; its group is the "
              "config's [server] group; log in again after being added)\n", stderr);
    else if (err == ETIMEDOUT)
        fputs("eccctl: is eccd stuck? (--timeout S waits longer)\n", stderr);
    else
        fputs("eccctl: is eccd running? are you in its group?\n", stderr);
}

/* What conn_recv_line or conn_fill's failure rc means, said: EX_NOCONN (EX_OK when a watch
 * was stopped). */
static int say_read_error(const struct ctlconn *c, int rc)
{
    if (rc < 0 && errno == EINTR && stop_flag)
        return EX_OK;
    if (rc > 0)
        fprintf(stderr, "eccctl: eccd at %s closed the connection without a reply\n", c->path);
    else if (errno == ETIMEDOUT)
        fprintf(stderr, "eccctl: no reply from eccd at %s within %g s (is it stuck? "
                "--timeout S waits longer)\n", c->path, c->timeout_s);
    else if (errno == EMSGSIZE)
        fprintf(stderr, "eccctl: eccd at %s sent a reply (or a row of one) longer than eccctl "
                "takes\n", c->path);
    else
        fprintf(stderr, "eccctl: reading eccd's reply from %s: %s\n", c->path, strerror(errno));
    return EX_NOCONN;
}

/* Send one request line and read the reply line. 0 with the reply at c->buf (length
 * *len), or EX_NOCONN after saying why (or EX_OK when a watch was stopped). */
static int exchange(struct ctlconn *c, const char *req, size_t reqlen, size_t *len)
{
    int rc;

    if (ctlconn_send(c, req, reqlen) != 0) {
        int err = errno;
        if (stop_flag)
            return EX_OK;
        /* eccd refuses a client it will not serve with a reply line and closes at once,
         * maybe before the request went out: the refusal is still there to read. */
        if ((err == EPIPE || err == ECONNRESET) && ctlconn_recv_line(c, len) == 0)
            return 0;
        fprintf(stderr, "eccctl: cannot send to eccd at %s: %s\n", c->path,
                err == ETIMEDOUT ? "it does not read" : strerror(err));
        return EX_NOCONN;
    }
    rc = ctlconn_recv_line(c, len);
    if (rc == 0)
        return 0;
    return say_read_error(c, rc);
}


/* ---- replies and output -------------------------------------------------------------- */

/* Parse a reply line and check it is one: an object with a boolean "ok" in protocol
 * version REQ_VERSION. NULL after saying why. */
static json_t *parse_reply(const char *line, size_t len, const char *path)
{
    json_error_t jerr;
    json_t *reply = json_loadb(line, len, 0, &jerr), *v;

    if (!json_is_object(reply)) {
        fprintf(stderr, "eccctl: eccd at %s sent something that is not a reply (%s)\n", path,
                reply ? "not a JSON object" : jerr.text);
        json_decref(reply);
        return NULL;
    }
    v = json_object_get(reply, "v");
    if (json_is_integer(v) && json_integer_value(v) != REQ_VERSION) {
        fprintf(stderr, "eccctl: eccd answered in protocol version %" JSON_INTEGER_FORMAT
                "; this eccctl speaks version %d\n", json_integer_value(v), REQ_VERSION);
        json_decref(reply);
        return NULL;
    }
    if (!json_is_boolean(json_object_get(reply, "ok"))) {
        fprintf(stderr, "eccctl: eccd at %s sent a reply without \"ok\"\n", path);
        json_decref(reply);
        return NULL;
    }
    return reply;
}

/* Write a parsed reply to out: the raw line with --json, else its rendering; an error
 * reply's message goes to stderr either way. Returns the exit status. */
static int emit(const struct opts *o, const char *line, size_t len, const json_t *reply,
                FILE *out)
{
    bool ok = json_is_true(json_object_get(reply, "ok"));

    if (o->json) {
        fwrite(line, 1, len, out);
        putc('\n', out);
    }
    if (!ok) {
        ctlfmt_error(stderr, reply);
        return EX_FAILED;
    }
    if (!o->json && ctlfmt_reply(out, reply) != 0 && !ferror(out)) {
        fprintf(stderr, "eccctl: eccd's %s reply lacks what eccctl shows (--json prints it as "
                "it came)\n", json_string_value(json_object_get(reply, "cmd")) ?
                json_string_value(json_object_get(reply, "cmd")) : "?");
        return EX_NOCONN;
    }
    return EX_OK;
}

/* The temporary file of export -o while it exists: a SIGINT or SIGTERM removes it before
 * eccctl dies of the signal (unlink is async-signal-safe; the path is written before the
 * handler is armed and not touched while it is). */
static char partial_path[PATH_MAX];
static volatile sig_atomic_t partial_armed;

static void on_signal_remove_partial(int sig)
{
    if (partial_armed)
        unlink(partial_path);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Arm (path) or disarm (NULL) the removal of the temporary file on SIGINT and SIGTERM. */
static int partial_file_guard(const char *path)
{
    struct sigaction sa;

    if (path && strlen(path) >= sizeof partial_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    if (path) {
        snprintf(partial_path, sizeof partial_path, "%s", path);
        partial_armed = 1;
        sa.sa_handler = on_signal_remove_partial;
    } else {
        partial_armed = 0;
        sa.sa_handler = SIG_DFL;
    }
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return 0;
}

/* export -o FILE: write (through write(arg, f)) into a temporary file beside FILE, then
 * rename it over FILE, so FILE is either the whole export or untouched (also when eccctl
 * is interrupted, or the export comes cut short). */
static int emit_to_file(const char *path, int (*write)(void *arg, FILE *f), void *arg)
{
    int rc;

    if (wholefile_write(path, write, arg, partial_file_guard, &rc) == 0)
        return EX_OK;
    if (errno)
        fprintf(stderr, "eccctl: cannot write %s: %s\n", path, strerror(errno));
    return rc != EX_OK ? rc : EX_FAILED;
}

/* ---- the clinician's report ------------------------------------------------------------ */

static int report_write(void *arg, FILE *f)
{
    char err[256];

    if (progreport_html(arg, f, err, sizeof err) != 0) {
        fprintf(stderr, "eccctl: cannot make the report: %s\n", err);
        return EX_FAILED;
    }
    return EX_OK;
}

/* --pdf, --png: the HTML into a temporary file, headless chromium prints it to FILE. */
static int report_rendered(const struct command *cmd, const json_t *doc)
{
    char tmp[] = "/tmp/eccctl-report-XXXXXX.html", err[512];
    int fd = mkstemps(tmp, 5), rc;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (!f) {
        fprintf(stderr, "eccctl: cannot write a temporary file: %s\n", strerror(errno));
        if (fd >= 0)
            close(fd);
        return EX_FAILED;
    }
    rc = report_write((void *)doc, f);
    if (fclose(f) != 0 && rc == EX_OK)
        rc = EX_FAILED;
    if (rc == EX_OK && progreport_chromium(tmp, cmd->out_path, cmd->report_fmt == 1 ?
                                           PROGREPORT_PDF : PROGREPORT_PNG, err, sizeof err) != 0) {
        fprintf(stderr, "eccctl: cannot render %s: %s\n", cmd->out_path, err);
        rc = EX_FAILED;
    }
    unlink(tmp);
    return rc;
}

/* report: the document eccd sent, as HTML on standard output or into -o FILE (whole or
 * not at all), or rendered to PDF or PNG. */
static int report_output(const struct opts *o, const struct command *cmd, const char *line,
                         size_t len, const json_t *reply)
{
    const json_t *doc = json_object_get(reply, "report");

    if (o->json || !json_is_true(json_object_get(reply, "ok")))
        return emit(o, line, len, reply, stdout);
    if (!json_is_object(doc)) {
        fprintf(stderr, "eccctl: eccd's report reply has no report\n");
        return EX_NOCONN;
    }
    if (cmd->report_fmt)
        return report_rendered(cmd, doc);
    return cmd->out_path ? emit_to_file(cmd->out_path, report_write, (void *)doc)
                         : report_write((void *)doc, stdout);
}

/* ---- a streamed export --------------------------------------------------------------- */

/* The head of a streamed reply as a reply object: buf[0..n) is "{...," (or "{"). */
static json_t *parse_head(const struct ctlconn *c, size_t n)
{
    char *text = malloc(n + 2);
    json_t *head;

    if (!text)
        return NULL;
    memcpy(text, c->buf, n);
    if (n > 1 && text[n - 1] == ',')
        n--;
    text[n] = '}';
    head = parse_reply(text, n + 1, c->path);
    free(text);
    return head;
}

/* The closing members ",...}" (or "}" from an eccd that did not stream): EX_OK when the
 * export is whole and holds the rows counted, else EX_FAILED after saying why. */
static int check_tail(const struct ctlconn *c, size_t n, long rows)
{
    json_error_t jerr;
    json_t *tail = NULL, *count, *complete;
    int rc = EX_OK;

    if (n >= 2 && c->buf[0] == ',') {
        char *text = malloc(n + 1);
        if (text) {
            text[0] = '{';
            memcpy(text + 1, c->buf + 1, n - 1);
            tail = json_loadb(text, n, 0, &jerr);
            free(text);
        }
    } else if (n == 1 && c->buf[0] == '}') {
        return EX_OK;                   /* an eccd that built the reply whole */
    }
    count = json_object_get(tail, "count");
    complete = json_object_get(tail, "complete");
    if (!json_is_object(tail)) {
        fprintf(stderr, "eccctl: the end of eccd's export reply is not JSON\n");
        rc = EX_NOCONN;
    } else if (json_is_false(complete)) {
        ctlfmt_error(stderr, tail);
        fprintf(stderr, "eccctl: the export is cut short after %ld rows\n", rows);
        rc = EX_FAILED;
    } else if (json_is_integer(count) && json_integer_value(count) != rows) {
        fprintf(stderr, "eccctl: eccd counted %" JSON_INTEGER_FORMAT " rows, eccctl got %ld\n",
                json_integer_value(count), rows);
        rc = EX_FAILED;
    }
    json_decref(tail);
    return rc;
}

/* One part of a streamed export to out: CSV (the head's columns, then a row each), or with
 * --json the bytes as they came. -1 after saying why it cannot be used. */
static int export_part(const struct opts *o, const struct ctlconn *c, enum rowscan_part p,
                       size_t start, size_t end, FILE *out)
{
    json_t *j = NULL;
    int rc = 0;

    if (o->json) {
        fwrite(c->buf, 1, end, out);
        return ferror(out) ? -1 : 0;
    }
    if (p == ROWSCAN_HEAD) {
        j = parse_head(c, start);
        rc = !j || ctlfmt_export_csv_head(out, json_object_get(j, "columns")) != 0 ? -1 : 0;
    } else if (p == ROWSCAN_ELEMENT) {
        j = json_loadb(c->buf + start, end - start, 0, NULL);
        rc = ctlfmt_export_csv_row(out, j);
    }
    if (rc != 0 && !ferror(out))
        fprintf(stderr, "eccctl: eccd's export reply %s is not what eccctl reads\n",
                p == ROWSCAN_HEAD ? "head" : "row");
    json_decref(j);
    return rc;
}

/* A plain reply where an export was expected: an error (or a refusal), said and rendered. */
static int export_plain(const struct opts *o, const struct ctlconn *c, size_t len, FILE *out)
{
    json_t *reply = parse_reply(c->buf, len, c->path);
    int rc = reply ? emit(o, c->buf, len, reply, out) : EX_NOCONN;

    json_decref(reply);
    return rc;
}

/* Read a streamed export and write it to out a row at a time: eccctl holds one row, not
 * the export (docs/socket.md). */
static int export_stream(const struct opts *o, struct ctlconn *c, FILE *out)
{
    struct rowscan rs;
    size_t start, end;
    long rows = 0;
    int rc;

    rowscan_init(&rs, "rows");
    c->limit = PART_MAX;            /* a row, not the whole reply, must fit */
    for (;;) {
        enum rowscan_part p = rowscan_next(&rs, c->buf, c->len, &start, &end);

        switch (p) {
        case ROWSCAN_MORE:
            if ((rc = ctlconn_fill(c)) != 0)
                return say_read_error(c, rc);
            continue;
        case ROWSCAN_LINE:
            return export_plain(o, c, end, out);
        case ROWSCAN_ERROR:
            fprintf(stderr, "eccctl: eccd at %s sent an export reply eccctl cannot split\n",
                    c->path);
            return EX_NOCONN;
        case ROWSCAN_TAIL:
            if (o->json && (fwrite(c->buf, 1, end, out) != end || putc('\n', out) == EOF))
                return EX_FAILED;
            return check_tail(c, end, rows);
        default:
            if (export_part(o, c, p, start, end, out) != 0)
                return ferror(out) ? EX_FAILED : EX_NOCONN;
            rows += p == ROWSCAN_ELEMENT;
            ctlconn_drop(c, end);
        }
    }
}

struct export_job {
    const struct opts *o;
    struct ctlconn *c;
};

static int export_write(void *arg, FILE *f)
{
    struct export_job *e = arg;

    return export_stream(e->o, e->c, f);
}

/* export: send the request (a refusal that closed the connection is still read), then
 * the reply a row at a time to standard output or to -o FILE. */
static int export(const struct opts *o, const struct command *cmd, struct ctlconn *c,
                  const char *req, size_t reqlen)
{
    struct export_job e = {.o = o, .c = c};

    if (ctlconn_send(c, req, reqlen) != 0 && errno != EPIPE && errno != ECONNRESET) {
        fprintf(stderr, "eccctl: cannot send to eccd at %s: %s\n", c->path,
                errno == ETIMEDOUT ? "it does not read" : strerror(errno));
        return EX_NOCONN;
    }
    return cmd->out_path ? emit_to_file(cmd->out_path, export_write, &e)
                         : export_stream(o, c, stdout);
}

/* ---- watch ---------------------------------------------------------------------------- */

/* One watch line as text: the clock, state, set and rep, force against the band, belt speed;
 * then each event on a line of its own. */
static void watch_text(const json_t *line, FILE *out)
{
    const json_t *events = json_object_get(line, "events"), *band = json_object_get(line,
                                                                                     "band");
    const json_t *ev;
    size_t i;

    fprintf(out, "%8.2f  %-14s  set %lld/%lld  rep %2lld/%lld  force %6.1f N",
            json_number_value(json_object_get(line, "t")),
            json_string_value(json_object_get(line, "state")) ?
            json_string_value(json_object_get(line, "state")) : "-",
            (long long)json_integer_value(json_object_get(line, "set")),
            (long long)json_integer_value(json_object_get(line, "sets_per_session")),
            (long long)json_integer_value(json_object_get(line, "rep")),
            (long long)json_integer_value(json_object_get(line, "reps_per_set")),
            json_number_value(json_object_get(line, "force")));
    if (json_array_size(band) == 2)
        fprintf(out, " (band %g..%g)", json_number_value(json_array_get(band, 0)),
                json_number_value(json_array_get(band, 1)));
    fprintf(out, "  belt %.2f m/s", json_number_value(json_object_get(line, "speed")));
    if (json_is_string(json_object_get(line, "fault")))
        fprintf(out, "  FAULT %s", json_string_value(json_object_get(line, "fault")));
    putc('\n', out);
    json_array_foreach(events, i, ev) {
        const char *kind = json_string_value(json_object_get(ev, "event"));
        const char *verdict = json_string_value(json_object_get(ev, "verdict"));
        fprintf(out, "          %s", kind ? kind : "event");
        if (json_is_integer(json_object_get(ev, "rep")))
            fprintf(out, " %lld", (long long)json_integer_value(json_object_get(ev, "rep")));
        if (verdict && strcmp(kind ? kind : "", "rep") != 0)
            fprintf(out, ": %s", verdict);
        if (json_is_string(json_object_get(ev, "fault")))
            fprintf(out, " %s", json_string_value(json_object_get(ev, "fault")));
        putc('\n', out);
    }
}

/* watch: the head (an error reply, or ok), then a line per period until Ctrl-C or count. */
static int follow(const struct opts *o, const struct command *cmd, struct ctlconn *c,
                  const char *req, size_t reqlen)
{
    struct sigaction sa;
    size_t len;
    json_t *reply;
    long n = 0;
    int rc;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;     /* no SA_RESTART: poll returns EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if ((rc = exchange(c, req, reqlen, &len)) != 0 || stop_flag)
        return rc;
    if (!(reply = parse_reply(c->buf, len, c->path)))
        return EX_NOCONN;
    rc = json_is_true(json_object_get(reply, "ok")) ? EX_OK : emit(o, c->buf, len, reply, stdout);
    if (rc == EX_OK && o->json)
        printf("%.*s\n", (int)len, c->buf);
    json_decref(reply);
    ctlconn_consume(c, len);
    while (rc == EX_OK && !stop_flag && (cmd->count == 0 || n < cmd->count)) {
        json_t *line;

        if ((rc = ctlconn_recv_line(c, &len)) != 0)
            return say_read_error(c, rc);
        if (o->json) {
            printf("%.*s\n", (int)len, c->buf);
        } else if ((line = json_loadb(c->buf, len, 0, NULL)) != NULL) {
            watch_text(line, stdout);
            json_decref(line);
        }
        ctlconn_consume(c, len);
        n++;
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "eccctl: writing to standard output: %s\n", strerror(errno));
            return EX_FAILED;
        }
    }
    return rc;
}

/* status --watch: one connection, a status request every watch_s seconds until Ctrl-C. */
static int watch(const struct opts *o, const struct command *cmd, struct ctlconn *c,
                 const char *req, size_t reqlen)
{
    struct sigaction sa;
    bool tty = isatty(STDOUT_FILENO);

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;     /* no SA_RESTART: poll and nanosleep return EINTR */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    for (int n = 0; !stop_flag; n++) {
        struct timespec ts = {.tv_sec = (time_t)cmd->watch_s,
                              .tv_nsec = (long)((cmd->watch_s - floor(cmd->watch_s)) * 1e9)};
        size_t len;
        json_t *reply;
        int rc = exchange(c, req, reqlen, &len);

        if (rc != 0 || stop_flag)
            return rc;
        if (!(reply = parse_reply(c->buf, len, c->path)))
            return EX_NOCONN;
        if (!o->json) {
            char clock[16];
            time_t t = time(NULL);
            struct tm tm;
            strftime(clock, sizeof clock, "%H:%M:%S", localtime_r(&t, &tm));
            fputs(tty ? "\033[H\033[2J" : n ? "\n" : "", stdout);
            printf("eccd at %s, %s (every %g s; Ctrl-C stops)\n\n", c->path, clock,
                   cmd->watch_s);
        }
        rc = emit(o, c->buf, len, reply, stdout);
        json_decref(reply);
        ctlconn_consume(c, len);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "eccctl: writing to standard output: %s\n", strerror(errno));
            return EX_FAILED;
        }
        if (rc != EX_OK)
            return rc;
        while (!stop_flag && nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    return EX_OK;
}

/* ---- pair: eccweb's PIN ------------------------------------------------------------- */

#define DEFAULT_PIN_FILE "/run/eccweb/pin"

/* pair: print the PIN eccweb wrote ("PIN UNTIL" or "locked UNTIL", UNTIL in s since 1970)
 * and where the page is. */
static int pair(const struct opts *o)
{
    static struct ecc_config cfg;
    char path[CFG_PATH_MAX], err[512], word[16] = "", url[160] = "";
    double until = 0, left;
    FILE *f;

    snprintf(path, sizeof path, "%s", DEFAULT_PIN_FILE);
    if (o->config) {
        if (config_load(&cfg, o->config, err, sizeof err) != 0) {
            fprintf(stderr, "eccctl: %s\n", err);
            return EX_USAGE;
        }
        if (!cfg.web.pin_file[0] || config_resolve_path(&cfg, cfg.web.pin_file, path, sizeof path)) {
            fprintf(stderr, "eccctl: %s: [web] pin_file is empty: that eccweb writes no PIN\n",
                    o->config);
            return EX_USAGE;
        }
        snprintf(url, sizeof url, " at %s://%s:%d/", cfg.web.tls_cert[0] ? "https" : "http",
                 !strcmp(cfg.web.listen, "0.0.0.0") || !strcmp(cfg.web.listen, "::")
                     ? "THIS-RIG'S-ADDRESS" : cfg.web.listen, cfg.web.port);
    }
    if (!(f = fopen(path, "r"))) {
        fprintf(stderr, "eccctl: no pairing PIN at %s: %s (is eccweb running? -c names the "
                "config it runs with)\n", path, strerror(errno));
        return EX_NOCONN;
    }
    if (fscanf(f, "%15s %lf", word, &until) != 2)
        word[0] = '\0';
    fclose(f);
    left = until - (double)time(NULL);
    if (!strcmp(word, "locked")) {
        printf("pairing is locked after wrong PINs for %.0f s more; then a new PIN is shown\n",
               left > 0 ? left : 0);
        return EX_FAILED;
    }
    if (strlen(word) != 6 || left <= 0) {
        fprintf(stderr, "eccctl: %s holds no current PIN (is eccweb running?)\n", path);
        return EX_FAILED;
    }
    printf("PIN %s, valid for %.0f min: open the page%s on the phone or tablet and enter "
           "it there; it pairs one device\n", word, ceil(left / 60.0), url);
    return EX_OK;
}

int main(int argc, char **argv)
{
    struct opts o = {0};
    struct command cmd = {0};
    struct ctlconn c;
    char path[CFG_PATH_MAX], from[CFG_PATH_MAX + 64];
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    char *req = NULL;
    json_t *reply = NULL;
    size_t reqlen = 0, len;
    int nrest = 0, rc;

    if (!rest)
        return EX_FAILED;
    rc = parse_globals(argc, argv, &o, rest, &nrest);
    if (rc == 0 && nrest > 0 && strcmp(rest[0], "help") == 0)
        o.help = true;
    if (rc == 0 && (o.help || o.version)) {
        if (o.help)
            help(stdout);
        else
            printf("eccctl %s (protocol version %d)\n", ECC_VERSION, REQ_VERSION);
        free(rest);
        return fflush(stdout) == 0 ? EX_OK : EX_FAILED;
    }
    if (rc == 0 && nrest == 0)
        rc = usage_error("no command given");
    if (rc == 0 && strcmp(rest[0], "pair") == 0) {
        rc = nrest == 1 ? pair(&o) : usage_error("pair takes no arguments");
        free(rest);
        return rc;
    }
    if (rc == 0)
        rc = parse_command(nrest, rest, &o, &cmd);
    free(rest);
    if (rc == 0)
        rc = resolve_socket(&o, path, sizeof path, from, sizeof from);
    if (rc == 0 && cmd.raw)
        o.json = true;          /* the reply as it came, whatever it says */
    if (rc == 0) {
        char *line = cmd.raw ? strdup(cmd.raw) : json_dumps(cmd.req, JSON_COMPACT);
        if (!line || (!cmd.raw && strlen(line) + 1 > REQ_LINE_MAX)) {
            rc = usage_error("the request is too long (at most %d bytes)", REQ_LINE_MAX);
        } else {
            reqlen = strlen(line) + 1;
            req = malloc(reqlen + 1);
            if (req)
                snprintf(req, reqlen + 1, "%s\n", line);
            else
                rc = EX_FAILED;
        }
        free(line);
    }
    json_decref(cmd.req);
    if (rc != 0) {
        free(req);
        return rc;
    }

    ctlconn_init(&c, path, o.timeout_s, REPLY_MAX);
    c.from = from;
    c.stop = &stop_flag;
    if (ctlconn_open(&c) != 0) {
        say_connect_error(&c, errno);
        free(req);
        return EX_NOCONN;
    }
    if (cmd.watch_s > 0.0) {
        rc = watch(&o, &cmd, &c, req, reqlen);
    } else if (!cmd.raw && strcmp(cmd.name, "watch") == 0) {
        rc = follow(&o, &cmd, &c, req, reqlen);
    } else if (!cmd.raw && strcmp(cmd.name, "export") == 0) {
        rc = export(&o, &cmd, &c, req, reqlen);
    } else if ((rc = exchange(&c, req, reqlen, &len)) == 0) {
        if (!(reply = parse_reply(c.buf, len, c.path)))
            rc = EX_NOCONN;
        else if (!cmd.raw && strcmp(cmd.name, "report") == 0)
            rc = report_output(&o, &cmd, c.buf, len, reply);
        else
            rc = emit(&o, c.buf, len, reply, stdout);
        json_decref(reply);
    }
    ctlconn_close(&c);
    free(req);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "eccctl: writing to standard output: %s\n", strerror(errno));
        return EX_FAILED;
    }
    return rc;
}
