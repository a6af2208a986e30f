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

static const char *const eccd_args[] = {
    "--set", "sim.speed=5", "--set", "protocol.reps_per_set=5", "--duration", "3600",
    "--rep-log", "@/reps.jsonl", NULL};

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
static int reps_match(const struct test_eccd *r, const struct seen *s, int *n_log)
{
    char line[4096];
    char path[128];
    FILE *f;

    snprintf(path, sizeof path, "%s/reps.jsonl", r->dir);
    f = fopen(path, "r");
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
    static struct test_eccd r;
    static struct client w, lazy, other;
    static struct seen s;
    json_t *head, *j;
    int n_log = 0;

    REQUIRE_OR_GOTO(test_eccd_start(&r, "san", eccd_args) == 0, out);
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
    test_eccd_end(&r);              /* the rep log is whole once eccd has ended */
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
    test_eccd_clean(&r);
}

TESTS(T(a_watcher_sees_every_tick_and_the_rep_logs_reps));
TEST_MAIN("test_watch")
