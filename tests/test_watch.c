/* test_watch.c - the control socket's `watch` through the real eccd (sanitizer build, the
 * simulated rig at 5 x real time running sets of 5):
 *
 *  - the head is an ok reply naming the rate, then lines numbered 1, 2, 3, ... ;
 *  - every control tick is in the lines once, in order, none missing (samples 10 ms apart
 *    on eccd's clock, "lost" 0 throughout) for a watcher that reads;
 *  - the counted reps in the lines are the rep log's, in order, over the same stretch;
 *  - a second watcher that reads nothing, and a status on a third connection, change
 *    nothing for the first (the status is answered meanwhile).
 * Judged on eccd's own clock and the order of lines, never the test's clock.
 *
 * The binary is $ECC_BUILD/san/eccd (tests/run.sh sets ECC_BUILD).
 */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tests/test.h"

#define LINES 150                   /* at 20 a second: 7.5 s, 37 s of the rig's time */
#define TICK_S 0.01                 /* loop.rate_hz = 100 in config/sim.ini */
#define REPS_MAX 256
#define WAIT_MS 10000

struct rig {
    char dir[64], sock[96], reps[96], build[256];
    pid_t pid;
};

static int rig_start(struct rig *r)
{
    const char *b = getenv("ECC_BUILD");
    char eccd[300];

    snprintf(r->build, sizeof r->build, "%s", b && *b ? b : "build");
    snprintf(r->dir, sizeof r->dir, "/tmp/test_watch-XXXXXX");
    if (!mkdtemp(r->dir))
        return -1;
    snprintf(r->sock, sizeof r->sock, "%s/eccd.sock", r->dir);
    snprintf(r->reps, sizeof r->reps, "%s/reps.jsonl", r->dir);
    snprintf(eccd, sizeof eccd, "%s/san/eccd", r->build);
    fflush(stdout);
    r->pid = fork();
    if (r->pid == 0) {
        char hist[128], sock[128], log[128];
        snprintf(hist, sizeof hist, "history.path=%s/h.db", r->dir);
        snprintf(sock, sizeof sock, "server.socket=%s", r->sock);
        snprintf(log, sizeof log, "%s/eccd.err", r->dir);
        if (!freopen(log, "w", stderr) || !freopen("/dev/null", "w", stdout))
            _exit(127);
        execl(eccd, eccd, "-c", "config/sim.ini", "--set", "sim.speed=5", "--set", hist,
              "--set", sock, "--set", "protocol.reps_per_set=5", "--duration", "3600",
              "--rep-log", r->reps, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < WAIT_MS / 20 && access(r->sock, F_OK) != 0; i++) {
        struct timespec ms = {0, 20000000};
        nanosleep(&ms, NULL);
    }
    return access(r->sock, F_OK) == 0 ? 0 : -1;
}

static void rig_end(struct rig *r)
{
    if (r->pid > 0) {
        kill(r->pid, SIGTERM);
        waitpid(r->pid, NULL, 0);
    }
    r->pid = 0;
}

static void rig_stop(struct rig *r)
{
    char cmd[160];

    rig_end(r);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
    if (r->dir[0] && system(cmd) != 0)
        printf("  could not remove %s\n", r->dir);
}

/* A line-reading client. */
struct client {
    int fd;
    char buf[1 << 16];
    size_t len;
};

static void client_send(struct client *c, const char *line)
{
    if (send(c->fd, line, strlen(line), MSG_NOSIGNAL) < 0)
        printf("  send: %s\n", strerror(errno));
}

/* The next line as JSON (NULL: none within WAIT_MS, or not JSON). */
static json_t *client_line(struct client *c)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        ssize_t k;

        if (nl) {
            json_t *j = json_loadb(c->buf, (size_t)(nl - c->buf), 0, NULL);
            size_t n = (size_t)(nl - c->buf) + 1;
            memmove(c->buf, c->buf + n, c->len - n);
            c->len -= n;
            return j;
        }
        if (c->len == sizeof c->buf || poll(&p, 1, WAIT_MS) != 1)
            return NULL;
        k = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (k <= 0)
            return NULL;
        c->len += (size_t)k;
    }
}

/* What the watch lines showed. */
struct seen {
    int lines, bad_seq, lost, gaps, samples;
    double t_first, t_last;
    int reps[REPS_MAX][2];          /* set, rep of each counted rep, in order */
    int n_reps;
};

static void take_line(struct seen *s, json_t *line)
{
    json_t *samples = json_object_get(line, "samples"), *events = json_object_get(line,
                                                                                "events");
    json_t *x;
    size_t i;

    s->lines++;
    s->bad_seq += json_integer_value(json_object_get(line, "watch")) != s->lines;
    s->lost += (int)json_integer_value(json_object_get(line, "lost"));
    json_array_foreach(samples, i, x) {
        double t = json_number_value(json_array_get(x, 0));
        if (s->samples && fabs(t - s->t_last - TICK_S) > 1e-6)
            s->gaps++;
        if (!s->samples)
            s->t_first = t;
        s->t_last = t;
        s->samples++;
    }
    json_array_foreach(events, i, x) {
        const char *kind = json_string_value(json_object_get(x, "event"));
        if (kind && strcmp(kind, "rep") == 0 && s->n_reps < REPS_MAX) {
            s->reps[s->n_reps][0] = (int)json_integer_value(json_object_get(x, "set"));
            s->reps[s->n_reps++][1] = (int)json_integer_value(json_object_get(x, "rep"));
        }
    }
}

/* The rep log's counted reps with t in [from, to], in order, against the watch's. */
static int reps_match(const struct rig *r, const struct seen *s, int *n_log)
{
    char line[4096];
    FILE *f = fopen(r->reps, "r");
    int k = 0, mismatches = 0;

    while (f && fgets(line, sizeof line, f)) {
        json_t *j = json_loads(line, 0, NULL);
        const char *kind = json_string_value(json_object_get(j, "event"));
        double t = json_number_value(json_object_get(j, "t"));
        if (kind && strcmp(kind, "rep") == 0 && t >= s->t_first && t <= s->t_last) {
            if (k >= s->n_reps ||
                s->reps[k][0] != json_integer_value(json_object_get(j, "set")) ||
                s->reps[k][1] != json_integer_value(json_object_get(j, "rep")))
                mismatches++;
            k++;
        }
        json_decref(j);
    }
    if (f)
        fclose(f);
    *n_log = k;
    return mismatches + (k != s->n_reps);
}

TEST(a_watcher_sees_every_tick_and_the_rep_logs_reps)
{
    static struct rig r;
    static struct client w, lazy, other;
    static struct seen s;
    json_t *head, *j;
    int n_log = 0;

    REQUIRE_OR_GOTO(rig_start(&r) == 0, out);
    w.fd = test_unix_dial(r.sock);
    lazy.fd = test_unix_dial(r.sock);
    other.fd = test_unix_dial(r.sock);
    REQUIRE_OR_GOTO(w.fd >= 0 && lazy.fd >= 0 && other.fd >= 0, out);
    client_send(&w, "{\"v\":1,\"cmd\":\"watch\",\"rate_hz\":20}\n");
    client_send(&lazy, "{\"v\":1,\"cmd\":\"watch\",\"rate_hz\":25}\n");   /* never read */
    head = client_line(&w);
    CHECK(json_is_true(json_object_get(head, "ok")));
    CHECK_INT(json_integer_value(json_object_get(head, "rate_hz")), 20);
    json_decref(head);
    for (int i = 0; i < LINES && (j = client_line(&w)) != NULL; i++) {
        take_line(&s, j);
        json_decref(j);
        if (i == LINES / 2) {       /* a status meanwhile, on a third connection */
            client_send(&other, "{\"v\":1,\"cmd\":\"status\"}\n");
            json_t *st = client_line(&other);
            CHECK(json_is_true(json_object_get(st, "ok")));
            json_decref(st);
        }
    }
    close(w.fd);
    close(lazy.fd);
    close(other.fd);
    rig_end(&r);                    /* the rep log is whole once eccd has ended */
    CHECK_INT(s.lines, LINES);
    CHECK_INT(s.bad_seq, 0);
    CHECK_INT(s.lost, 0);
    CHECK_INT(s.gaps, 0);
    CHECK(s.samples >= (int)((s.t_last - s.t_first) / TICK_S));
    CHECK(s.n_reps >= 3);
    CHECK_INT(reps_match(&r, &s, &n_log), 0);
    printf("  %d lines, %d ticks from %.2f to %.2f s (none missing, none lost), %d reps "
           "(the rep log: %d over the same time)\n", s.lines, s.samples, s.t_first, s.t_last,
           s.n_reps, n_log);
out:
    rig_stop(&r);
}

TESTS(T(a_watcher_sees_every_tick_and_the_rep_logs_reps));
TEST_MAIN("test_watch")
