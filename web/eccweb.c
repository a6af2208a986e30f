/* eccweb - the patient's live page for eccd, served over HTTP (docs/web.md).
 *
 * A process of its own beside eccd, under its own user: it reads eccd's config for the
 * control socket and [web], subscribes to eccd's `watch` and serves the page, its live
 * events and its few requests (stop, pain, ...). It talks to eccd only through the socket,
 * as eccctl does, so eccweb stuck or killed changes nothing in the control loop.
 */
#define _GNU_SOURCE 1
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "config/config.h"
#include "util/log.h"
#include "web/http.h"
#include "web/hub.h"
#include "web/pairing.h"
#include "web/upstream.h"

#define ECC_VERSION "0.1.0"
#define DEFAULT_CONFIG "/etc/eccd/eccd.ini"
#define MAX_SETS 32
#define PEM_MAX (64 * 1024)

/* Exit codes as eccd's: 0 done, 1 a failure at run time, 2 bad usage or config. */
enum { EX_OK = 0, EX_FAILED = 1, EX_USAGE = 2 };

struct options {
    const char *config;
    const char *sets[MAX_SETS];
    int n_sets;
    bool check_config, help, version;
};

static void help(FILE *f)
{
    fputs("Usage: eccweb [-c FILE] [--set SECTION.KEY=VALUE]... [--check-config]\n"
          "\n"
          "Serve the patient's live page for eccd: force against the band, reps, sets,\n"
          "rest, faults, sound cues, the pain score after each set, progress and a CSV\n"
          "download, on a phone or tablet beside the rig (docs/web.md).\n"
          "\n"
          "eccweb reads eccd's own config: [server] socket (where eccd is) and [web]\n"
          "(where to listen, pairing, limits, TLS). It talks to eccd only through that\n"
          "socket, so its user must be in the socket's group ([server] group).\n"
          "\n"
          "Options:\n"
          "  -c, --config FILE   eccd's config (default " DEFAULT_CONFIG ")\n"
          "  -s, --set S.K=V     override one key (repeatable), e.g. --set web.port=8090\n"
          "      --check-config  check the config and the TLS files, print [web], exit\n"
          "  -h, --help          this text\n"
          "      --version       the version\n"
          "\n"
          "Who may do what:\n"
          "  By default eccweb listens on 127.0.0.1 only: a browser on the rig itself\n"
          "  ([web] trust_loopback) may stop, enter pain scores and download the CSV.\n"
          "  With [web] listen = 0.0.0.0 the page can be opened from a phone on the LAN;\n"
          "  it shows the live data but controls nothing until paired: `eccctl pair`\n"
          "  (or the page on the rig's own screen) shows a 6-digit PIN, the phone enters\n"
          "  it once and keeps an HttpOnly cookie. [web] pin_tries wrong PINs lock\n"
          "  pairing for [web] pin_lockout_s. Start and next-set from the page need\n"
          "  [web] allow_start = true and a press held for a second; a fault is never\n"
          "  reset from the page.\n"
          "\n"
          "Signals: SIGTERM or SIGINT end it (live pages are closed first).\n"
          "Exit status: 0 stopped by a signal; 1 it could not serve (port in use, TLS\n"
          "files unreadable); 2 bad usage or config (the message names file, line, key).\n",
          f);
}

static int usage(const char *what, const char *arg)
{
    fprintf(stderr, "eccweb: %s%s\n(eccweb --help says how to use it)\n", what, arg);
    return EX_USAGE;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longs[] = {
        {"config", required_argument, NULL, 'c'},
        {"set", required_argument, NULL, 's'},
        {"check-config", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int c;

    o->config = DEFAULT_CONFIG;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":c:s:h", longs, NULL)) != -1) {
        switch (c) {
        case 'c': o->config = optarg; break;
        case 's':
            if (o->n_sets == MAX_SETS)
                return usage("too many --set options (at most 32)", "");
            o->sets[o->n_sets++] = optarg;
            break;
        case 'k': o->check_config = true; break;
        case 'h': o->help = true; break;
        case 'V': o->version = true; break;
        case ':': return usage("this option needs a value: ", argv[optind - 1]);
        default: return usage("unknown option ", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage("unexpected argument ", argv[optind]);
    return EX_OK;
}

static int load_config(const struct options *o, struct ecc_config *cfg)
{
    char err[1024];

    if (config_load(cfg, o->config, err, sizeof err) != 0) {
        fprintf(stderr, "eccweb: %s\n", err);
        return EX_USAGE;
    }
    for (int i = 0; i < o->n_sets; i++)
        if (config_set(cfg, o->sets[i], err, sizeof err) != 0) {
            fprintf(stderr, "eccweb: %s\n", err);
            return EX_USAGE;
        }
    if (config_check(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "eccweb: %s\n", err);
        return EX_USAGE;
    }
    if (!cfg->server.socket[0]) {
        fprintf(stderr, "eccweb: %s: [server] socket is empty: that eccd has no control socket "
                "for eccweb to use (set one: docs/socket.md)\n", o->config);
        return EX_USAGE;
    }
    return EX_OK;
}

/* A config path resolved against the config's directory into out: 0, or -1 said. */
static int resolve(const struct ecc_config *cfg, const char *key, const char *rel, char *out,
                   size_t n)
{
    out[0] = '\0';
    if (!*rel)
        return 0;
    if (config_resolve_path(cfg, rel, out, n) != 0) {
        fprintf(stderr, "eccweb: %s: %s: the path is too long\n", cfg->path, key);
        return -1;
    }
    return 0;
}

/* A PEM file's text (malloc'd), or NULL said. */
static char *read_pem(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    char *text = f ? malloc(PEM_MAX + 1) : NULL;
    size_t n = text ? fread(text, 1, PEM_MAX + 1, f) : 0;

    if (!f || !text || ferror(f) || n > PEM_MAX || !strstr(text, "-----BEGIN")) {
        fprintf(stderr, "eccweb: [web] %s: %s: %s\n", key, path,
                !f ? strerror(errno) : n > PEM_MAX ? "larger than 64 KiB: not a PEM file"
                                                   : "not a PEM file (-----BEGIN ... missing)");
        if (f)
            fclose(f);
        free(text);
        return NULL;
    }
    fclose(f);
    text[n] = '\0';
    return text;
}

static int random_bytes(void *arg, void *buf, size_t n)
{
    (void)arg;
    return getrandom(buf, n, 0) == (ssize_t)n ? 0 : -1;
}

struct paths {
    char socket[CFG_PATH_MAX], pin[CFG_PATH_MAX], cert[CFG_PATH_MAX], key[CFG_PATH_MAX];
    char *cert_pem, *key_pem;
};

static int resolve_all(const struct ecc_config *cfg, struct paths *p)
{
    if (resolve(cfg, "[server] socket", cfg->server.socket, p->socket, sizeof p->socket) ||
        resolve(cfg, "[web] pin_file", cfg->web.pin_file, p->pin, sizeof p->pin) ||
        resolve(cfg, "[web] tls_cert", cfg->web.tls_cert, p->cert, sizeof p->cert) ||
        resolve(cfg, "[web] tls_key", cfg->web.tls_key, p->key, sizeof p->key))
        return EX_USAGE;
    if (p->cert[0] && (!(p->cert_pem = read_pem(p->cert, "tls_cert")) ||
                       !(p->key_pem = read_pem(p->key, "tls_key"))))
        return EX_FAILED;
    return EX_OK;
}

/* Until SIGTERM or SIGINT: the PIN file kept current once a second. */
static void serve(struct web *w, const sigset_t *sigs)
{
    for (;;) {
        struct timespec second = {.tv_sec = 1};
        int sig = sigtimedwait(sigs, NULL, &second);

        if (sig == SIGTERM || sig == SIGINT) {
            log_info("stopping (signal %d)", sig);
            return;
        }
        web_tick(w);
    }
}

static int run(const struct ecc_config *cfg, struct paths *p)
{
    struct pairing_opts po = {
        .pin_lifetime_s = cfg->web.pin_lifetime_s, .tries = cfg->web.pin_tries,
        .lockout_s = cfg->web.pin_lockout_s, .session_s = cfg->web.session_days * 86400.0,
        .max_sessions = cfg->web.max_paired};
    struct upstream_opts uo = {.socket = p->socket, .rate_hz = cfg->web.rate_hz,
                               .timeout_s = 3.0};
    struct hub *hub = hub_open();
    struct pairing *pairing = pairing_open(&po, random_bytes, NULL);
    struct upstream *up = hub ? upstream_open(&uo, hub) : NULL;
    struct web *w = NULL;
    struct web_opts wo = {.cfg = cfg, .pin_file = p->pin, .tls_cert = p->cert_pem,
                          .tls_key = p->key_pem, .hub = hub, .up = up, .pairing = pairing};
    sigset_t sigs;
    char err[512];
    int rc = EX_FAILED;

    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);     /* every thread inherits it */
    if (!hub || !pairing || !up) {
        log_error("out of memory");
    } else if (upstream_start(up) != 0) {
        log_error("cannot start the watch thread: %s", strerror(errno));
    } else if (!(w = web_start(&wo, err, sizeof err))) {
        log_error("%s", err);
    } else {
        log_info("serving the page at %s://%s%s%s:%d/ (eccd at %s)", p->cert_pem ? "https" : "http",
                 strchr(cfg->web.listen, ':') ? "[" : "", cfg->web.listen,
                 strchr(cfg->web.listen, ':') ? "]" : "", cfg->web.port, p->socket);
        if (p->pin[0])
            log_info("pairing PIN: `eccctl pair` shows it (%s)", p->pin);
        sd_notify(0, "READY=1");
        serve(w, &sigs);
        sd_notify(0, "STOPPING=1");
        rc = EX_OK;
    }
    web_stop(w);                    /* stops the hub: live pages end */
    upstream_close(up);
    pairing_close(pairing);
    hub_close(hub);
    if (p->pin[0])
        unlink(p->pin);
    return rc;
}

int main(int argc, char **argv)
{
    static struct ecc_config cfg;   /* a few KiB: off the stack */
    struct options o = {0};
    struct paths p = {0};
    int rc;

    log_set_ident("eccweb");
    if ((rc = parse_args(argc, argv, &o)) != EX_OK)
        return rc;
    if (o.help || o.version) {
        if (o.help)
            help(stdout);
        else
            printf("eccweb %s\n", ECC_VERSION);
        return fflush(stdout) == 0 ? EX_OK : EX_FAILED;
    }
    if ((rc = load_config(&o, &cfg)) != EX_OK)
        return rc;
    log_set_level((enum log_level)cfg.log.level);
    if ((rc = resolve_all(&cfg, &p)) == EX_OK) {
        if (o.check_config) {
            printf("eccweb: %s is good: eccd at %s, the page on %s port %d%s\n", o.config,
                   p.socket, cfg.web.listen, cfg.web.port, p.cert_pem ? " (HTTPS)" : "");
        } else {
            rc = run(&cfg, &p);
        }
    }
    free(p.cert_pem);
    free(p.key_pem);
    return rc;
}
