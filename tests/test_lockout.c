/* test_lockout.c - the control socket under a lock-out attempt, through the real eccd
 * (optimised build, simulated rig running a set, a history) and the real eccctl:
 *
 *  - a flood of 300 connections that connect and hang up leaves eccd serving;
 *  - four idle clients and four stalled readers (each asked for 2 000 status replies and
 *    reads none) fill all eight slots: the operator's `eccctl status` is still answered
 *    (the reserve slot), three times in a row, and a `start` there is refused as busy;
 *  - eccd's peak resident memory stays under 16 MB with the stalled readers' replies owed;
 *  - the idle and the stalled clients are dropped after server.idle_timeout_s and
 *    server.stall_timeout_s, each with its reason in eccd's log (waited for as log lines,
 *    with a bound), and afterwards status is answered in a regular slot.
 *
 * The binaries are $ECC_BUILD/rel/eccd and eccctl (tests/run.sh sets ECC_BUILD).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/test.h"

#define IDLE 4
#define STALLED 4
#define FLOOD 300
#define RSS_MAX_KB 16384
#define TIMEOUT_S "3"               /* server.idle_timeout_s and stall_timeout_s */
#define WAIT_MS 20000               /* bound on every wait */

static void msleep(int ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *const eccd_args[] = {
    "--set", "sim.speed=5", "--set", "server.max_clients=8", "--set",
    "server.clients_per_user=8", "--set", "server.idle_timeout_s=" TIMEOUT_S, "--set",
    "server.stall_timeout_s=" TIMEOUT_S, "--duration", "3600", NULL};

static const char *build_dir(void)
{
    const char *b = getenv("ECC_BUILD");

    return b && *b ? b : "build";
}

/* Run the real eccctl with one command; its exit status, its output in out. */
static int eccctl(const struct test_eccd *r, const char *cmd, char *out, size_t n)
{
    char line[768];
    FILE *p;
    size_t k;
    int st;

    snprintf(line, sizeof line, "%s/rel/eccctl -s %s %s 2>&1", build_dir(), r->sock, cmd);
    p = popen(line, "r");
    if (!p)
        return -1;
    k = fread(out, 1, n - 1, p);
    out[k] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Lines of eccd's log holding what. */
static int log_count(const struct test_eccd *r, const char *what)
{
    char line[1024];
    FILE *f = fopen(r->log, "r");
    int n = 0;

    while (f && fgets(line, sizeof line, f))
        n += strstr(line, what) != NULL;
    if (f)
        fclose(f);
    return n;
}

static bool wait_log(const struct test_eccd *r, const char *what, int n)
{
    for (int i = 0; i < WAIT_MS / 50 && log_count(r, what) < n; i++)
        msleep(50);
    return log_count(r, what) >= n;
}

static long vm_hwm_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

/* A stalled reader: asks for n status replies and reads none. */
static int stalled_reader(const char *path, int n)
{
    static const char req[] = "{\"v\":1,\"cmd\":\"status\"}\n";
    int fd = test_unix_dial(path);

    fcntl(fd, F_SETFL, O_NONBLOCK);     /* what does not fit waits: it never reads */
    for (int i = 0; fd >= 0 && i < n; i++)
        if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) < 0)
            break;
    return fd;
}

TEST(operator_status_survives_idle_stalled_and_flooding_clients)
{
    struct test_eccd r = {0};
    int idle[IDLE], stalled[STALLED], flood_ok = 0, answered = 0, rc, reserved;
    char out[8192];
    long hwm;

    REQUIRE_OR_GOTO(test_eccd_start(&r, "rel", eccd_args) == 0, out);
    for (int i = 0; i < FLOOD; i++) {               /* connect and hang up */
        int fd = test_unix_dial(r.sock);
        flood_ok += fd >= 0;
        if (fd >= 0)
            close(fd);
    }
    CHECK_INT(flood_ok, FLOOD);
    CHECK_INT(eccctl(&r, "status", out, sizeof out), 0);
    reserved = log_count(&r, "in the reserve slot");    /* the flood's own, if any */
    for (int i = 0; i < IDLE; i++)
        idle[i] = test_unix_dial(r.sock);
    for (int i = 0; i < STALLED; i++)
        stalled[i] = stalled_reader(r.sock, 2000);
    /* the house is full: the operator's status in the reserve slot, three times */
    for (int i = 0; i < 3; i++) {
        rc = eccctl(&r, "status", out, sizeof out);
        answered += rc == 0 && strstr(out, "state") != NULL;
        if (rc != 0)
            printf("  status %d: exit %d: %.300s\n", i + 1, rc, out);
    }
    CHECK_INT(answered, 3);
    CHECK_INT(log_count(&r, "in the reserve slot") - reserved, 3);
    rc = eccctl(&r, "start", out, sizeof out);      /* anything else there: busy */
    CHECK_INT(rc, 1);
    CHECK_STR_CONTAINS(out, "only status is answered");
    hwm = vm_hwm_kb(r.pid);
    printf("  eccd's peak resident memory with %d readers owing replies: %ld kB\n", STALLED,
           hwm);
    CHECK(hwm > 0 && hwm < RSS_MAX_KB);
    /* dropped after their timeouts, each with its reason */
    CHECK(wait_log(&r, "silent for " TIMEOUT_S " s", IDLE));
    CHECK(wait_log(&r, "its replies not read for " TIMEOUT_S " s", STALLED));
    reserved = log_count(&r, "in the reserve slot");
    rc = eccctl(&r, "status", out, sizeof out);
    CHECK_INT(rc, 0);
    CHECK_INT(log_count(&r, "in the reserve slot"), reserved);  /* a regular slot now */
    for (int i = 0; i < IDLE; i++)
        close(idle[i]);
    for (int i = 0; i < STALLED; i++)
        close(stalled[i]);
out:
    test_eccd_clean(&r);
}

TESTS(T(operator_status_survives_idle_stalled_and_flooding_clients));
TEST_MAIN("test_lockout")
