/* eccsync.c - the rig's history replicated to the clinic's PostgreSQL (docs/fleet.md).
 *
 * A process of its own beside eccd, under its own user: it reads what eccd has committed
 * to the rig's SQLite file (sync/reader.c: the rows changed after the last one delivered,
 * oldest first) and upserts them into the clinic's database in bounded batches, each batch
 * with the rig's progress in one transaction (sync/pgwrite.c), so a batch delivered twice
 * after any failure changes nothing. eccd never waits for it: eccd writes only its file.
 * When the server cannot be reached eccsync waits (1 s, doubling to [sync] retry_max_s)
 * and catches up, oldest first, when it comes back.
 *
 * Exit status: 0 on SIGTERM or SIGINT (or --once done), 1 on a bad config, credentials or
 * history file, 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config/config.h"
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
    bool pull_said;             /* a pull could not finish: said once until one does */
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
          "\n"
          "The clinic's database (run where the server is; FILE holds an administrator's\n"
          "libpq connection string, as the credentials file does):\n"
          "  eccsync --admin FILE --migrate\n"
          "        create or bring the central schema up to date (idempotent)\n"
          "  eccsync --admin FILE --add-rig RIG --role ROLE --password-file PWFILE\n"
          "        let rig RIG write through login role ROLE with the password in PWFILE\n"
          "        (idempotent; row-level security keeps it to its own rows)\n"
          "  -h, --help          this help\n"
          "  -V, --version       print the version\n", f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'}, {"set", required_argument, NULL, 's'},
        {"once", no_argument, NULL, 'o'}, {"help", no_argument, NULL, 'h'},
        {"admin", required_argument, NULL, 'a'}, {"migrate", no_argument, NULL, 'm'},
        {"add-rig", required_argument, NULL, 'r'}, {"role", required_argument, NULL, 'R'},
        {"password-file", required_argument, NULL, 'p'},
        {"version", no_argument, NULL, 'V'}, {NULL, 0, NULL, 0},
    };
    int ch;

    while ((ch = getopt_long(argc, argv, "c:hV", longs, NULL)) != -1) {
        switch (ch) {
        case 'c': o->config = optarg; break;
        case 's':
            if (o->nsets == 32) {
                fputs("eccsync: at most 32 --set options\n", stderr);
                return 2;
            }
            o->sets[o->nsets++] = optarg;
            break;
        case 'o': o->once = true; break;
        case 'a': o->admin = optarg; break;
        case 'm': o->migrate = true; break;
        case 'r': o->add_rig = optarg; break;
        case 'R': o->role = optarg; break;
        case 'p': o->password_file = optarg; break;
        case 'h': usage(stdout); exit(0);
        case 'V': printf("eccsync %s\n", ECC_VERSION); exit(0);
        default: usage(stderr); return 2;
        }
    }
    if (o->admin && (o->migrate || o->add_rig) && optind == argc &&
        (!o->add_rig || (o->role && o->password_file)))
        return 0;
    if (!o->config || optind != argc || o->admin) {
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

static int administer(const struct opts *o)
{
    char conninfo[CONNINFO_MAX], password[512] = "", err[512] = "";
    PGconn *pg;
    int rc = 0;

    if (read_secret(o->admin, conninfo, sizeof conninfo) != 0 ||
        (o->add_rig && read_secret(o->password_file, password, sizeof password) != 0))
        return 1;
    pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        log_error("cannot connect as the administrator: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return 1;
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

    y->pg = PQconnectdb(y->conninfo);
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
    if (rc == -1)
        disconnect(y);
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
    rc = sync_pull_run(y->pg, y->socket, PULL_REPLY_S, &y->pull_since, &st, err, sizeof err);
    if (rc == 0) {
        if (st.added || st.renamed || st.applied || y->pull_said)
            log_info("sync: from the clinic: %ld rows, %ld patients added, %ld renamed, %ld "
                     "programmes taken, %ld refused", st.rows, st.added, st.renamed, st.applied,
                     st.refused);
        y->pull_said = false;
        return 0;
    }
    if (!y->pull_said || rc == SYNC_PULL_LINK)
        log_warn("sync: bringing back what the clinic shares: %s%s", err,
                 rc == SYNC_PULL_LATER ? " (tried again later)" : "");
    y->pull_said = true;
    if (rc == SYNC_PULL_LINK) {
        disconnect(y);
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
            backoff(y);
            if (rc == -2)
                y->retry_s = y->cfg->sync.retry_max_s;
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
