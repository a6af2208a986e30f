/* test.c - runs a table of tests and prints one result line per test (see test.h). */
#include "test.h"

#include <errno.h>
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
