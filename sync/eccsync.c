/* eccsync.c - the rig's history replicated to the clinic's PostgreSQL (docs/fleet.md).
 *
 * A process of its own beside eccd, under its own user: it reads what eccd has committed
 * to the rig's SQLite file (sync/reader.c: the rows changed after the last one delivered,
 * oldest first) and upserts them into the clinic's database in bounded batches, each batch
 * with the rig's progress in one transaction (sync/pgwrite.c), so a batch delivered twice
 * after any failure changes nothing. eccd never waits for it: eccd writes only its file.
 * When a working connection breaks eccsync connects again at once; when the server cannot
 * be reached it waits (1 s, doubling to [sync] retry_max_s)
 * and catches up, oldest first, when it comes back.
 *
 * With --admin it is also the clinic's tool: the schema (--migrate), the rigs' roles
 * (--add-rig), the central patients (--patients) and the clinician's report of one patient
 * across every rig (--report, sync/pgreport.c, rendered by client/progreport.c).
 *
 * Exit status: 0 on SIGTERM or SIGINT (or --once done), 1 on a bad config, credentials or
 * history file (or a failed administration: no such patient, ...), 2 on bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "client/progreport.h"
#include "client/wholefile.h"
#include "config/config.h"
#include "sync/pgerr.h"
#include "sync/pgreport.h"
#include "sync/pgschema.h"
#include "sync/pgwrite.h"
#include "sync/pull.h"
#include "sync/reader.h"
#include "sync/syncrow.h"
#include "util/log.h"

#ifndef ECC_VERSION
#define ECC_VERSION "dev"
#endif

#define CONNINFO_MAX 4096
#define RETRY_FIRST_S 1.0
#define PULL_REPLY_S 15.0       /* the longest wait for eccd's answer to one pulled row */

struct opts {
    const char *config;
    const char *sets[32];
    int nsets;
    bool once;                  /* deliver what is there, then exit */
    /* the clinic's administration, with --admin FILE (a superuser's conninfo) */
    const char *admin;
    bool migrate;               /* --migrate: the central schema up to date */
    const char *add_rig;        /* --add-rig RIG: its role (--role) and password file */
    const char *role, *password_file;
    const char *report;         /* --report PATIENT: a UUID, or a name that is unique */
    bool patients;              /* --patients: the list */
    bool json;                  /* --json: the document (the list) as JSON */
    const char *out_path;       /* -o FILE */
    int report_fmt;             /* 0 HTML, 1 --pdf, 2 --png */
};

struct syncer {
    const struct ecc_config *cfg;
    char history[CFG_PATH_MAX];
    char conninfo[CONNINFO_MAX];
    struct sync_reader *reader;
    PGconn *pg;
    bool progress_known;
    uint64_t delivered;         /* the rig's sync_seq the server has */
    struct sync_row *rows;      /* [sync] batch_rows of them */
    double retry_s;
    bool history_said;          /* the history could not be opened: said once */
    long batches, rows_sent;
    sigset_t stop_signals;
    /* what the clinic shares, brought back ([sync] pull_s; none without [server] socket) */
    char socket[CFG_PATH_MAX];
    double pull_since;          /* the server's time the next pull starts from */
    double next_pull;           /* CLOCK_MONOTONIC s */
    char pull_err[512];         /* why the last pull could not finish ("": it did): said
                                   when it changes */
    struct sync_pull_said refused;  /* rows eccd refused for good, said once each */
    bool link_lost;             /* a working connection just failed (not a failed connect) */
};

static void usage(FILE *f)
{
    fputs("Usage: eccsync -c CONFIG [--set SECTION.KEY=VALUE]... [--once]\n"
          "\n"
          "eccsync ships every committed row of the rig's history (eccd's [history] path) to\n"
          "the clinic's PostgreSQL named by [sync] credentials, as rig [sync] rig_id: oldest\n"
          "first, in batches of [sync] batch_rows, each delivered once however often it is\n"
          "sent. It waits while the server is away and catches up when it returns; eccd never\n"
          "waits for it. Every [sync] pull_s it also brings back the patients the clinic shares\n"
          "and their programmes, and hands them to eccd over [server] socket (eccd takes a\n"
          "programme when it is newer than its own, between the patient's sessions).\n"
          "docs/fleet.md describes the clinic's database and how to set a rig up.\n"
          "\n"
          "  -c, --config FILE   eccd's config ([history], [sync] and [server] socket are read)\n"
          "      --set S.K=V     override a key for this run\n"
          "      --once          deliver what is there now, bring back what the clinic shares\n"
          "                      once, then exit (0 when all is delivered)\n"
          "  -h, --help          this help\n"
          "  -V, --version       print the version\n"
          "\n"
          "The clinic's database (run where the server is; FILE holds an administrator's\n"
          "libpq connection string, as the credentials file does):\n"
          "  eccsync --admin FILE --migrate\n"
          "        create or bring the central schema up to date (idempotent)\n"
          "  eccsync --admin FILE --add-rig RIG --role ROLE --password-file PWFILE\n"
          "        let rig RIG write through login role ROLE with the password in PWFILE\n"
          "        (idempotent; row-level security keeps it to its own rows)\n"
          "\n"
          "The clinic's view (FILE: a role that reads every rig's rows, the admin's):\n"
          "  eccsync --admin FILE --patients [--json]\n"
          "        the central patients: UUID, name, the rigs they trained on, sessions, the\n"
          "        last session's start (local time) and whether there is a programme\n"
          "  eccsync --admin FILE --report PATIENT [-c CONFIG] [--set S.K=V]...\n"
          "                                        [-o OUT] [--pdf | --png | --json]\n"
          "        the clinician's report of PATIENT (a UUID, or a name only one patient\n"
          "        has) over every rig, sessions merged in time order (docs/report.md):\n"
          "        one self-contained HTML file on standard output or into OUT (written\n"
          "        whole or not at all); --pdf and --png have headless chromium (Debian\n"
          "        package chromium) render it into OUT; --json writes the report document\n"
          "        itself. The thresholds and the protocol day's start are CONFIG's\n"
          "        ([progression], [protocol] day_start_h: give the rigs' eccd config;\n"
          "        without -c, the defaults); dates are in this machine's time zone (TZ) at\n"
          "        the time of the report. An unknown patient, one without a programme or a\n"
          "        name several patients share: a message, exit status 1, nothing written\n"
          "\n"
          "Exit status: 0 done (or stopped by SIGTERM or SIGINT); 1 a bad config,\n"
          "credentials or history file, a server that refused, or a report that could not\n"
          "be made; 2 bad usage.\n", f);
}

static int usage_error(const char *msg)
{
    fprintf(stderr, "eccsync: %s (eccsync --help)\n", msg);
    return 2;
}

/* --admin: one of the clinic's tasks (--migrate and --add-rig go together), with only the
 * options it takes. */
static int check_admin_args(const struct opts *o, bool no_operands)
{
    bool view = o->report || o->patients;

    if (!no_operands || o->once)
        return usage_error("--admin takes no other operand, and not --once");
    if (!(o->migrate || o->add_rig || view))
        return usage_error("--admin needs --migrate, --add-rig, --patients or --report");
    if (view && (o->migrate || o->add_rig || (o->report && o->patients)))
        return usage_error("--report and --patients go alone");
    if (o->add_rig && !(o->role && o->password_file))
        return usage_error("--add-rig needs --role and --password-file");
    if (!view && (o->json || o->out_path || o->report_fmt))
        return usage_error("-o, --json, --pdf and --png are for --report and --patients");
    if ((o->config || o->nsets) && !o->report)
        return usage_error("-c and --set with --admin are for --report");
    if (o->patients && (o->out_path || o->report_fmt))
        return usage_error("--patients prints to standard output");
    if (o->report_fmt && o->json)
        return usage_error("--json, --pdf or --png: one of them");
    if (o->report_fmt && !o->out_path)
        return usage_error("--pdf and --png need -o FILE");
    return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"once", no_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'},
        {"admin", required_argument, NULL, 'a'}, {"migrate", no_argument, NULL, 'm'},
        {"add-rig", required_argument, NULL, 'r'}, {"role", required_argument, NULL, 'R'},
        {"password-file", required_argument, NULL, 'p'},
        {"report", required_argument, NULL, 'P'}, {"patients", no_argument, NULL, 'L'},
        {"json", no_argument, NULL, 'j'}, {"pdf", no_argument, NULL, 'F'},
        {"png", no_argument, NULL, 'G'},
        {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "c:o:hV", longs, NULL)) != -1) {
        switch (ch) {
        case 'c': o->config = optarg; break;
        case 's':
            if (o->nsets == 32) {
                fputs("eccsync: at most 32 --set options\n", stderr);
                return 2;
            }
            o->sets[o->nsets++] = optarg;
            break;
        case 'n': o->once = true; break;
        case 'o': o->out_path = optarg; break;
        case 'a': o->admin = optarg; break;
        case 'm': o->migrate = true; break;
        case 'r': o->add_rig = optarg; break;
        case 'R': o->role = optarg; break;
        case 'p': o->password_file = optarg; break;
        case 'P': o->report = optarg; break;
        case 'L': o->patients = true; break;
        case 'j': o->json = true; break;
        case 'F': case 'G':
            if (o->report_fmt) {
                fputs("eccsync: --pdf or --png, not both\n", stderr);
                return 2;
            }
            o->report_fmt = ch == 'F' ? 1 : 2;
            break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("eccsync %s\n", ECC_VERSION); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (o->admin)
        return check_admin_args(o, optind == argc);
    if (!o->config || optind != argc || o->report || o->patients || o->json || o->out_path ||
        o->report_fmt) {
        usage(stderr);
        return 2;
    }
    return 0;
}

/* ---- the clinic's administration ----------------------------------------------------- */

/* A file's first line (a conninfo, a password), which only its owner may read. */
static int read_secret(const char *path, char *out, size_t len)
{
    struct stat st;
    size_t n;
    FILE *f = fopen(path, "r");

    if (!f) {
        log_error("%s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fileno(f), &st) != 0 || (st.st_mode & 077)) {
        log_error("%s: readable by others (mode %03o): chmod 600 %s", path,
                  (unsigned)(st.st_mode & 0777), path);
        fclose(f);
        return -1;
    }
    n = fread(out, 1, len - 1, f);
    fclose(f);
    out[n] = '\0';
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int clinic_view(const struct opts *o, PGconn *pg);

static int administer(const struct opts *o)
{
    char conninfo[CONNINFO_MAX], password[512] = "", err[512] = "";
    PGconn *pg;
    int rc = 0;

    if (read_secret(o->admin, conninfo, sizeof conninfo) != 0 ||
        (o->add_rig && read_secret(o->password_file, password, sizeof password) != 0))
        return 1;
    pg = pgerr_connect(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        log_error("cannot connect as the administrator: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return 1;
    }
    if (o->report || o->patients) {
        rc = clinic_view(o, pg);
        PQfinish(pg);
        return rc;
    }
    if (o->migrate && pgschema_migrate(pg, err, sizeof err) != 0)
        rc = 1;
    if (!rc && o->add_rig && pgschema_add_rig(pg, o->add_rig, o->role, password, err,
                                              sizeof err) != 0)
        rc = 1;
    if (rc)
        log_error("%s", err);
    else
        log_info("%s%s%s%s", o->migrate ? "the central schema is up to date" : "",
                 o->migrate && o->add_rig ? "; " : "", o->add_rig ? "rig " : "",
                 o->add_rig ? o->add_rig : "");
    memset(password, 0, sizeof password);
    PQfinish(pg);
    return rc;
}

static int load_config(const struct opts *o, struct ecc_config *cfg, char *err, size_t errlen)
{
    if (config_load(cfg, o->config, err, errlen) != 0)
        return -1;
    for (int i = 0; i < o->nsets; i++)
        if (config_set(cfg, o->sets[i], err, errlen) != 0)
            return -1;
    return config_check(cfg, err, errlen);
}

/* ---- the clinic's view: the patients, a patient's report across the rigs --------------- */

/* Into path through a temporary file beside it, renamed over it only when all of it was
 * written: path is the whole output or untouched (client/wholefile, as eccctl's export
 * and report). 0, or -1 (said). */
static int write_whole(const char *path, int (*write)(void *arg, FILE *f), void *arg)
{
    int rc;

    if (wholefile_write(path, write, arg, NULL, &rc) == 0)
        return 0;
    if (errno)
        log_error("cannot write %s: %s", path, strerror(errno));
    return -1;
}

static int write_html(void *doc, FILE *f)
{
    char err[512];

    if (progreport_html(doc, f, err, sizeof err) != 0) {
        log_error("cannot make the report: %s", err);
        return -1;
    }
    return 0;
}

/* The document as eccd's report reply carries it: compact, reals to 13 digits. */
static int write_json(void *doc, FILE *f)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(13));
    int rc = text && fprintf(f, "%s\n", text) > 0 ? 0 : -1;

    free(text);
    return rc;
}

/* --pdf, --png: the HTML into a temporary file, headless chromium renders it into path. */
static int write_rendered(json_t *doc, const char *path, int fmt)
{
    char tmp[] = "/tmp/eccsync-report-XXXXXX.html", err[512];
    int fd = mkstemps(tmp, 5), rc;
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;

    if (!f) {
        log_error("cannot write a temporary file: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    rc = write_html(doc, f);
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && progreport_chromium(tmp, path, fmt == 1 ? PROGREPORT_PDF : PROGREPORT_PNG,
                                       err, sizeof err) != 0) {
        log_error("cannot render %s: %s", path, err);
        rc = -1;
    }
    unlink(tmp);
    return rc;
}

/* The thresholds' config: -c's file (or the defaults) with the --set overrides. */
static int report_config(const struct opts *o, struct ecc_config *cfg)
{
    char err[512] = "";
    int rc;

    if (o->config) {
        rc = load_config(o, cfg, err, sizeof err);
    } else {
        config_defaults(cfg);
        rc = 0;
        for (int i = 0; rc == 0 && i < o->nsets; i++)
            rc = config_set(cfg, o->sets[i], err, sizeof err);
        if (rc == 0)
            rc = config_check(cfg, err, sizeof err);
    }
    if (rc != 0)
        log_error("%s", err);
    return rc;
}

static int report(const struct opts *o, PGconn *pg)
{
    static struct ecc_config cfg;
    char uuid[PGREPORT_UUID_LEN + 1], err[1024] = "";
    struct timespec now;
    struct tm tm;
    time_t secs;
    json_t *doc = NULL;
    int rc;

    if (report_config(o, &cfg) != 0)
        return 1;
    /* the report's local time: this machine's time zone (TZ) when it is made */
    clock_gettime(CLOCK_REALTIME, &now);
    secs = now.tv_sec;
    tzset();
    if (!localtime_r(&secs, &tm))
        tm.tm_gmtoff = 0;
    if (pgreport_find_patient(pg, o->report, uuid, err, sizeof err) != 0 ||
        pgreport_build(pg, uuid, &cfg, (double)now.tv_sec + now.tv_nsec * 1e-9,
                       (int)tm.tm_gmtoff, &doc, err, sizeof err) != 0) {
        log_error("%s", err);
        return 1;
    }
    if (o->report_fmt)
        rc = write_rendered(doc, o->out_path, o->report_fmt);
    else if (o->out_path)
        rc = write_whole(o->out_path, o->json ? write_json : write_html, doc);
    else
        rc = o->json ? write_json(doc, stdout) : write_html(doc, stdout);
    json_decref(doc);
    return rc == 0 ? 0 : 1;
}

static int patients(const struct opts *o, PGconn *pg)
{
    char err[512] = "";
    json_t *list = pgreport_patients(pg, err, sizeof err), *p;
    size_t i;

    if (!list) {
        log_error("%s", err);
        return 1;
    }
    if (o->json) {
        write_json(list, stdout);
        json_decref(list);
        return 0;
    }
    printf("%-36s  %-20s  %-16s  %8s  %-16s  %s\n", "UUID", "NAME", "RIGS", "SESSIONS",
           "LAST SESSION", "PROGRAMME");
    json_array_foreach(list, i, p) {
        char rigs[256] = "", last[32] = "-";
        const json_t *r, *ls = json_object_get(p, "last_session");
        size_t k;

        json_array_foreach(json_object_get(p, "rigs"), k, r)
            snprintf(rigs + strlen(rigs), sizeof rigs - strlen(rigs), "%s%s", k ? "," : "",
                     json_string_value(r));
        if (json_is_number(ls)) {
            time_t t = (time_t)json_number_value(ls);
            struct tm tm;

            if (localtime_r(&t, &tm))
                strftime(last, sizeof last, "%Y-%m-%d %H:%M", &tm);
        }
        printf("%-36s  %-20s  %-16s  %8lld  %-16s  %s\n",
               json_string_value(json_object_get(p, "uuid")),
               json_string_value(json_object_get(p, "name")), rigs[0] ? rigs : "-",
               (long long)json_integer_value(json_object_get(p, "sessions")), last,
               json_is_true(json_object_get(p, "programme")) ? "yes" : "no");
    }
    json_decref(list);
    return fflush(stdout) == 0 ? 0 : 1;
}

static int clinic_view(const struct opts *o, PGconn *pg)
{
    return o->report ? report(o, pg) : patients(o, pg);
}

/* ---- credentials ----------------------------------------------------------------------- */

static int read_secret(const char *path, char *out, size_t len);

/* The connection string from the credentials file, which only eccsync's user may read. */
static int read_credentials(const struct ecc_config *cfg, char *out, size_t len)
{
    char path[CFG_PATH_MAX];

    if (config_resolve_path(cfg, cfg->sync.credentials, path, sizeof path) != 0) {
        log_error("[sync] credentials %s: the path is too long", cfg->sync.credentials);
        return -1;
    }
    return read_secret(path, out, len);
}

/* With [sync] require_tls, a TCP connection must verify the server's certificate. */
static int check_tls(const struct ecc_config *cfg, const char *conninfo)
{
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL), *o;
    const char *host = NULL, *mode = NULL;
    int rc = 0;

    if (!opts) {
        log_error("[sync] credentials: not a libpq connection string");
        return -1;
    }
    for (o = opts; o->keyword; o++) {
        if (strcmp(o->keyword, "host") == 0)
            host = o->val;
        else if (strcmp(o->keyword, "sslmode") == 0)
            mode = o->val;
    }
    if (cfg->sync.require_tls && !(host && host[0] == '/') &&
        !(mode && strcmp(mode, "verify-full") == 0)) {
        log_error("[sync] credentials: a connection over the network needs sslmode=verify-full "
                  "(and sslrootcert=the clinic's CA): add them, or set [sync] require_tls = "
                  "false for a test server");
        rc = -1;
    }
    PQconninfoFree(opts);
    return rc;
}

/* ---- the loop ------------------------------------------------------------------------ */

/* Wait up to s seconds; true when a stop signal came. */
static bool wait_or_stop(struct syncer *y, double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - floor(s)) * 1e9)};

    return sigtimedwait(&y->stop_signals, NULL, &ts) > 0;
}

static void disconnect(struct syncer *y)
{
    PQfinish(y->pg);
    y->pg = NULL;
    y->progress_known = false;
}

/* Connect and learn what the server has. 0, or -1 (said, the caller waits). */
static int connect_server(struct syncer *y)
{
    char err[512] = "";

    y->pg = pgerr_connect(y->conninfo);
    if (PQstatus(y->pg) != CONNECTION_OK) {
        log_warn("sync: cannot reach the clinic's database: %s", PQerrorMessage(y->pg));
        disconnect(y);
        return -1;
    }
    if (pgwrite_progress(y->pg, y->cfg->sync.rig_id, &y->delivered, err, sizeof err) != 0) {
        log_warn("sync: cannot read this rig's progress: %s", err);
        disconnect(y);
        return -1;
    }
    y->progress_known = true;
    log_info("sync: connected as rig %s; the server has the rig's changes up to %llu",
             y->cfg->sync.rig_id, (unsigned long long)y->delivered);
    return 0;
}

static void backoff(struct syncer *y)
{
    y->retry_s = y->retry_s <= 0.0 ? RETRY_FIRST_S : fmin(2.0 * y->retry_s, y->cfg->sync.retry_max_s);
}

/* The history file, once eccd has made it (and brought it to schema 4): eccsync may start
 * first. Said once until it opens. 0, or -1 (wait). */
static int open_history(struct syncer *y)
{
    char err[512] = "";

    if (y->reader)
        return 0;
    y->reader = sync_reader_open(y->history, err, sizeof err);
    if (y->reader) {
        if (y->history_said)
            log_info("sync: %s is there now", y->history);
        y->history_said = false;
        return 0;
    }
    if (!y->history_said)
        log_warn("sync: %s (waiting for eccd)", err);
    y->history_said = true;
    return -1;
}

/* One step: send the next batch. 1 sent, 0 nothing new, -1 the server is away (wait),
 * -2 refused (wait long: a bug or the server's rules). */
static int send_batch(struct syncer *y)
{
    char err[512] = "";
    int n, rc;

    n = sync_reader_batch(y->reader, y->delivered, y->rows, y->cfg->sync.batch_rows, err,
                          sizeof err);
    if (n < 0) {
        log_warn("sync: %s", err);
        return -1;
    }
    if (n == 0)
        return 0;
    rc = pgwrite_batch(y->pg, y->cfg->sync.rig_id, y->rows, n, y->rows[n - 1].seq, err,
                       sizeof err);
    if (rc == 0) {
        y->delivered = y->rows[n - 1].seq;
        y->batches++;
        y->rows_sent += n;
        y->retry_s = 0.0;
        return 1;
    }
    log_warn("sync: a batch of %d rows up to change %llu %s: %s", n,
             (unsigned long long)y->rows[n - 1].seq,
             rc == -1 ? "did not reach the server" : "was refused", err);
    if (rc == -1) {
        disconnect(y);
        y->link_lost = true;
    }
    return rc == -1 ? -1 : -2;
}

static double mono_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Bring back what the clinic shares when it is time (with once: every time). 0, or -1
 * when the server went away (reconnect). */
static int pull(struct syncer *y, bool once)
{
    struct sync_pull_stats st;
    char err[512] = "";
    int rc;

    if (!y->socket[0] || y->cfg->sync.pull_s <= 0.0 || (!once && mono_s() < y->next_pull))
        return 0;
    y->next_pull = mono_s() + y->cfg->sync.pull_s;
    rc = sync_pull_run(y->pg, y->socket, PULL_REPLY_S, &y->pull_since, &y->refused, &st, err,
                       sizeof err);
    if (rc == 0) {
        if (st.added || st.renamed || st.applied || y->pull_err[0])
            log_info("sync: from the clinic: %ld rows, %ld patients added, %ld renamed, %ld "
                     "programmes taken, %ld refused", st.rows, st.added, st.renamed, st.applied,
                     st.refused);
        y->pull_err[0] = '\0';
        return 0;
    }
    if (strcmp(err, y->pull_err) != 0 || rc == SYNC_PULL_LINK)
        log_warn("sync: bringing back what the clinic shares: %s%s", err,
                 rc == SYNC_PULL_LATER ? " (tried again later)" : "");
    snprintf(y->pull_err, sizeof y->pull_err, "%s", err);
    if (rc == SYNC_PULL_LINK) {
        disconnect(y);
        y->link_lost = true;
        return -1;
    }
    return 0;
}

/* Until a stop signal (or, with once, until everything is delivered). */
static int run(struct syncer *y, bool once)
{
    for (;;) {
        int rc = 0;

        if (open_history(y) != 0 || (!y->pg && connect_server(y) != 0))
            rc = -1;
        else
            rc = send_batch(y);
        if (rc == 0 && pull(y, once) != 0)
            rc = -1;
        if (rc == 1)
            continue;
        if (rc == 0 && once)
            return 0;
        if (rc < 0) {
            /* a link that worked until now broke (a cut, a server restarted): reconnect at
             * once, once; a failure after that waits 1 s, doubling */
            bool at_once = rc == -1 && y->link_lost && y->retry_s <= 0.0;

            y->link_lost = false;
            backoff(y);
            if (rc == -2)
                y->retry_s = y->cfg->sync.retry_max_s;
            if (at_once)
                continue;
        }
        if (wait_or_stop(y, rc == 0 ? y->cfg->sync.interval_s : y->retry_s))
            return 0;
    }
}

static int setup(struct syncer *y, const struct ecc_config *cfg)
{
    y->cfg = cfg;
    if (!cfg->sync.rig_id[0]) {
        log_error("[sync] rig_id is empty: this rig replicates nothing (docs/fleet.md)");
        return -1;
    }
    if (!cfg->history.path[0] ||
        config_resolve_path(cfg, cfg->history.path, y->history, sizeof y->history) != 0) {
        log_error("[history] path is empty: there is no history to replicate");
        return -1;
    }
    if (cfg->server.socket[0] &&
        config_resolve_path(cfg, cfg->server.socket, y->socket, sizeof y->socket) != 0) {
        log_error("[server] socket: the path is too long");
        return -1;
    }
    if (read_credentials(cfg, y->conninfo, sizeof y->conninfo) != 0 ||
        check_tls(cfg, y->conninfo) != 0)
        return -1;
    if (!(y->rows = calloc((size_t)cfg->sync.batch_rows, sizeof *y->rows))) {
        log_error("out of memory for %d rows", cfg->sync.batch_rows);
        return -1;
    }
    sigemptyset(&y->stop_signals);
    sigaddset(&y->stop_signals, SIGTERM);
    sigaddset(&y->stop_signals, SIGINT);
    sigprocmask(SIG_BLOCK, &y->stop_signals, NULL);
    return 0;
}

static void teardown(struct syncer *y)
{
    disconnect(y);
    sync_reader_close(y->reader);
    free(y->rows);
}

int main(int argc, char **argv)
{
    static struct ecc_config cfg;
    struct opts o = {0};
    struct syncer y = {0};
    char err[512] = "";
    int rc = parse_args(argc, argv, &o);

    if (rc)
        return rc;
    log_set_ident("eccsync");
    if (o.admin)
        return administer(&o);
    if (load_config(&o, &cfg, err, sizeof err) != 0) {
        fprintf(stderr, "eccsync: %s\n", err);
        return 1;
    }
    if (setup(&y, &cfg) != 0) {
        teardown(&y);
        return 1;
    }
    log_info("sync: rig %s, history %s, batches of %d rows", cfg.sync.rig_id, y.history,
             cfg.sync.batch_rows);
    rc = run(&y, o.once);
    log_info("sync: stopping: %ld batches, %ld rows sent; the server has changes up to %llu",
             y.batches, y.rows_sent, (unsigned long long)y.delivered);
    teardown(&y);
    return rc;
}
