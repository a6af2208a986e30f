/* test_eccctl_busy.c - the real eccctl against a control socket that is full or turns it
 * away: every run shows the daemon's reason and exits 1, never "Broken pipe" (exit 3).
 *
 * The server is the real ctlsock with a handler that answers as eccd's service does in
 * the reserve slot (status only). One regular slot is held by a silent connection; for
 * the "refusing" case the reserve slot is held too, so eccd answers "busy" and closes at
 * once, often before eccctl's request is written: eccctl must read the reply already
 * waiting instead of dying on EPIPE. The socket's clock is injected and never moves, so
 * the held connections are never timed out. eccctl is $ECC_BUILD/rel/eccctl (tests/run.sh
 * sets ECC_BUILD), else build/rel/eccctl.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/ctlsock.h"
#include "proto/request.h"
#include "tests/test.h"

#define RUNS 100

static char *handle(void *arg, const char *line, size_t len, const struct ctlsock_peer *peer,
                    struct ctlsock_stream *stream)
{
    struct req r;
    const char *code;
    char msg[256], *out = malloc(REQ_LINE_MAX);

    (void)arg;
    (void)stream;               /* never streams */
    if (req_parse(line, len, &r, &code, msg, sizeof msg) != 0)
        req_reply_error(out, REQ_LINE_MAX, &r, code, msg);
    else if (peer->reserved && r.cmd != REQ_STATUS)
        req_reply_error(out, REQ_LINE_MAX, &r, "busy", "only status is answered on this "
                        "connection: try again later");
    else
        snprintf(out, REQ_LINE_MAX, "{\"v\":1,\"ok\":true,\"cmd\":\"%s\"}", req_cmd_name(r.cmd));
    return out;
}

static double frozen(void *arg)
{
    (void)arg;
    return 100.0;
}

/* Wait (bounded) until the server holds n clients. */
static int wait_clients(struct ctlsock *s, int n)
{
    struct ctlsock_stats st;

    for (int i = 0; i < 5000; i++) {
        ctlsock_stats(s, &st);
        if (st.clients == n)
            return 1;
        poll(NULL, 0, 1);
    }
    return 0;
}

/* Run eccctl -s path stop; its exit status and the first bytes of its stderr. */
static int run_eccctl(const char *eccctl, const char *path, char *err, size_t errlen)
{
    int p[2], status;
    ssize_t n;
    pid_t pid;

    if (pipe2(p, O_CLOEXEC) != 0)
        return -1;
    fflush(stdout);                     /* or the child's freopen writes it out again */
    pid = fork();
    if (pid == 0) {
        dup2(p[1], STDERR_FILENO);
        if (!freopen("/dev/null", "w", stdout))
            _exit(126);
        execl(eccctl, eccctl, "-s", path, "stop", (char *)NULL);
        _exit(127);
    }
    close(p[1]);
    size_t got = 0;                     /* all of it: a closed pipe would kill eccctl */
    char sink[256];
    while ((n = read(p[0], got < errlen - 1 ? err + got : sink,
                     got < errlen - 1 ? errlen - 1 - got : sizeof sink)) > 0 ||
           (n < 0 && errno == EINTR))
        if (n > 0 && got < errlen - 1)
            got += (size_t)n;
    err[got] = '\0';
    close(p[0]);
    if (pid < 0 || waitpid(pid, &status, 0) != pid)
        return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* RUNS runs: how many exited 1 with want on stderr; the first other outcome is shown. */
static int runs_with_reason(const char *eccctl, const char *path, const char *want)
{
    char err[1024];
    int good = 0, shown = 0;

    for (int i = 0; i < RUNS; i++) {
        int rc = run_eccctl(eccctl, path, err, sizeof err);
        if (rc == 1 && strstr(err, want))
            good++;
        else if (!shown++)
            printf("  run %d: exit %d: %s\n", i, rc, err);
    }
    printf("  %d of %d runs: exit 1 with \"%s\"\n", good, RUNS, want);
    return good;
}

static void eccctl_path(char *out, size_t n)
{
    const char *b = getenv("ECC_BUILD");

    snprintf(out, n, "%s/rel/eccctl", b && *b ? b : "build");
}

TEST(a_full_or_refusing_daemon_gives_its_reason_every_time)
{
    char dir[] = "/tmp/test_eccctl_busy-XXXXXX", path[128], eccctl[512], err[256];
    struct ctlsock_params p = {.path = path, .owner = (uid_t)-1, .group = (gid_t)-1,
                               .max_clients = 1, .idle_s = 1, .stall_s = 1, .now = frozen,
                               .handle = handle};
    struct ctlsock *s = NULL;
    int held = -1, reserve = -1;

    eccctl_path(eccctl, sizeof eccctl);
    REQUIRE(access(eccctl, X_OK) == 0);
    REQUIRE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/eccd.sock", dir);
    s = ctlsock_open(&p, err, sizeof err);
    REQUIRE_OR_GOTO(s != NULL, out);
    held = test_unix_dial(path);                                  /* the one regular slot */
    REQUIRE_OR_GOTO(held >= 0 && wait_clients(s, 1), out);
    /* full: each eccctl lands in the reserve slot, which answers status only */
    CHECK_INT(runs_with_reason(eccctl, path, "only status is answered"), RUNS);
    reserve = test_unix_dial(path);                               /* now the reserve is held too */
    REQUIRE_OR_GOTO(reserve >= 0 && wait_clients(s, 2), out);
    /* refusing: "busy" and closed at once, maybe before eccctl's request went out */
    CHECK_INT(runs_with_reason(eccctl, path, "serving as many clients as it may"), RUNS);
out:
    if (held >= 0)
        close(held);
    if (reserve >= 0)
        close(reserve);
    ctlsock_close(s);
    rmdir(dir);
}

TESTS(T(a_full_or_refusing_daemon_gives_its_reason_every_time));
TEST_MAIN("test_eccctl_busy")
