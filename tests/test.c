/* test.c - runs a table of tests and prints one result line per test (see test.h). */
#include "test.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int test_failed_;
const char *test_file_;

static int test_skipped_;
static char test_skip_why_[256];

void test_skip_(const char *why)
{
    test_skipped_ = 1;
    snprintf(test_skip_why_, sizeof test_skip_why_, "%s", why ? why : "(no reason given)");
}

static void report(const char *file, const char *name)
{
    if (test_failed_)
        printf("FAIL %s: %s\n", file, name);
    else if (test_skipped_)
        printf("skip %s: %s: %s\n", file, name, test_skip_why_);
    else
        printf("ok   %s: %s\n", file, name);
    fflush(stdout);
}

int test_run_all(const char *file, const struct test_case *cases, int n)
{
    int failed = 0;

    test_file_ = file;
    for (int i = 0; i < n; i++) {
        test_failed_ = 0;
        test_skipped_ = 0;
        cases[i].fn();
        report(file, cases[i].name);
        failed += test_failed_;
    }
    return failed ? 1 : 0;
}

int test_skip_all(const char *file, const struct test_case *cases, int n, const char *why)
{
    for (int i = 0; i < n; i++)
        printf("skip %s: %s: %s\n", file, cases[i].name, why);
    fflush(stdout);
    return 0;
}

int test_unix_dial(const char *path)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) == 0)
        return fd;
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

#define ECCD_ARGS_MAX 48
#define ECCD_WAIT_MS 20000

/* In the child: argv for eccd, "@" expanded to the folder. */
static void eccd_exec(const struct test_eccd *e, const char *eccd, const char *const *args)
{
    static char hist[160], sock[160], expanded[ECCD_ARGS_MAX][256];
    const char *argv[ECCD_ARGS_MAX + 8];
    int n = 0;

    snprintf(hist, sizeof hist, "history.path=%s/h.db", e->dir);
    snprintf(sock, sizeof sock, "server.socket=%s", e->sock);
    argv[n++] = eccd;
    argv[n++] = "-c";
    argv[n++] = "config/sim.ini";
    argv[n++] = "--set";
    argv[n++] = hist;
    argv[n++] = "--set";
    argv[n++] = sock;
    for (int i = 0; args && args[i] && i < ECCD_ARGS_MAX; i++) {
        if (args[i][0] == '@') {
            snprintf(expanded[i], sizeof expanded[i], "%s%s", e->dir, args[i] + 1);
            argv[n++] = expanded[i];
        } else {
            argv[n++] = args[i];
        }
    }
    argv[n] = NULL;
    if (!freopen(e->log, "w", stderr) || !freopen("/dev/null", "w", stdout))
        _exit(127);
    execv(eccd, (char *const *)argv);
    _exit(127);
}

int test_eccd_start(struct test_eccd *e, const char *flavour, const char *const *args)
{
    const char *b = getenv("ECC_BUILD");
    char eccd[320];

    memset(e, 0, sizeof *e);
    snprintf(e->dir, sizeof e->dir, "/tmp/test_eccd-XXXXXX");
    if (!mkdtemp(e->dir)) {
        e->dir[0] = '\0';
        return -1;
    }
    snprintf(e->sock, sizeof e->sock, "%s/eccd.sock", e->dir);
    snprintf(e->log, sizeof e->log, "%s/eccd.err", e->dir);
    snprintf(eccd, sizeof eccd, "%s/%s/eccd", b && *b ? b : "build", flavour);
    fflush(stdout);             /* or the child would print it again */
    e->pid = fork();
    if (e->pid == 0)
        eccd_exec(e, eccd, args);
    for (int i = 0; e->pid > 0 && i < ECCD_WAIT_MS / 20 && access(e->sock, F_OK) != 0; i++)
        nanosleep(&(struct timespec){0, 20000000L}, NULL);
    return e->pid > 0 && access(e->sock, F_OK) == 0 ? 0 : -1;
}

void test_eccd_end(struct test_eccd *e)
{
    if (e->pid > 0) {
        kill(e->pid, SIGTERM);
        waitpid(e->pid, NULL, 0);
    }
    e->pid = 0;
}

void test_eccd_clean(struct test_eccd *e)
{
    char cmd[128];

    test_eccd_end(e);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", e->dir);
    if (e->dir[0] && system(cmd) != 0)
        printf("  could not remove %s\n", e->dir);
    e->dir[0] = '\0';
}

/* ---- TCP on loopback, and the real eccweb ---------------------------------------------- */

int test_tcp_free_port(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;

    if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
        port = ntohs(sa.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

int test_tcp_dial(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), e;

    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
        return fd;
    e = errno;
    close(fd);
    errno = e;
    return -1;
}

#define ECCWEB_ARGS_MAX 40
#define ECCWEB_WAIT_MS 10000

/* In the child: eccweb's argv (eccd's socket, a free port, the PIN file in eccd's folder,
 * then sets), stderr to w->log. */
static void eccweb_exec(const struct test_eccweb *w, const struct test_eccd *e,
                        const char *bin, const char *tag, const char *const *sets)
{
    static char sock[160], port[48], pin[192];
    const char *argv[ECCWEB_ARGS_MAX + 12];
    int n = 0, fd = open(w->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

    if (fd >= 0)
        dup2(fd, 2);
    snprintf(sock, sizeof sock, "server.socket=%s", e->sock);
    snprintf(port, sizeof port, "web.port=%d", w->port);
    snprintf(pin, sizeof pin, "web.pin_file=%s/pin-%s", e->dir, tag);
    argv[n++] = bin;
    argv[n++] = "-c";
    argv[n++] = "config/sim.ini";
    argv[n++] = "--set"; argv[n++] = sock;
    argv[n++] = "--set"; argv[n++] = port;
    argv[n++] = "--set"; argv[n++] = pin;
    for (int i = 0; sets && sets[i] && n < ECCWEB_ARGS_MAX; i++) {
        argv[n++] = "--set";
        argv[n++] = sets[i];
    }
    argv[n] = NULL;
    execv(bin, (char *const *)argv);
    _exit(127);
}

int test_eccweb_start(struct test_eccweb *w, const struct test_eccd *e, const char *flavour,
                      const char *tag, const char *const *sets)
{
    const char *b = getenv("ECC_BUILD");
    char bin[256];

    memset(w, 0, sizeof *w);
    w->port = test_tcp_free_port();
    snprintf(bin, sizeof bin, "%s/%s/eccweb", b && *b ? b : "build", flavour);
    snprintf(w->log, sizeof w->log, "%s/eccweb-%s.err", e->dir, tag);
    snprintf(w->pin_file, sizeof w->pin_file, "%s/pin-%s", e->dir, tag);
    fflush(stdout);
    if ((w->pid = fork()) == 0)
        eccweb_exec(w, e, bin, tag, sets);
    for (int i = 0; w->pid > 0 && i < ECCWEB_WAIT_MS / 20; i++) {
        int fd = test_tcp_dial(w->port);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        nanosleep(&(struct timespec){0, 20000000L}, NULL);
    }
    return -1;
}

int test_eccweb_end(struct test_eccweb *w)
{
    int status = 0;
    char cmd[256];

    if (w->pid <= 0)
        return 0;
    kill(w->pid, SIGTERM);
    waitpid(w->pid, &status, 0);
    w->pid = 0;
    snprintf(cmd, sizeof cmd, "grep -q 'Sanitizer\\|runtime error' '%s'", w->log);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && system(cmd) != 0)
        return 0;
    printf("  eccweb ended with status %d; its stderr:\n", status);
    fflush(stdout);
    snprintf(cmd, sizeof cmd, "tail -n 30 '%s' | sed 's/^/    /'", w->log);
    if (system(cmd) != 0)
        printf("    (unreadable)\n");
    return -1;
}
