/* test_outq.c - lines written off the control loop's thread (daemon/outq.h), and the loop
 * going on while its files are stuck.
 *
 * A "gated" FILE (fopencookie) stands for a disk that stalls: its write blocks until the
 * test opens the gate. Every wait here is a handshake on a condition (the writer is
 * inside the write, a count was reached), never a sleep or a clock.
 */
#define _GNU_SOURCE                 /* fopencookie */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "controller/ctl.h"
#include "daemon/loop.h"
#include "daemon/outq.h"
#include "sim/hal_sim.h"
#include "tests/test.h"

struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool open;
    int waiting;                /* writes blocked at the gate */
    char *buf;                  /* what got through */
    size_t len, cap;
};

static ssize_t gate_write(void *cookie, const char *data, size_t n)
{
    struct gate *g = cookie;

    pthread_mutex_lock(&g->mu);
    g->waiting++;
    pthread_cond_broadcast(&g->cv);
    while (!g->open)
        pthread_cond_wait(&g->cv, &g->mu);
    g->waiting--;
    if (g->len + n + 1 > g->cap) {
        g->cap = (g->len + n + 1) * 2;
        g->buf = realloc(g->buf, g->cap);
    }
    memcpy(g->buf + g->len, data, n);
    g->len += n;
    g->buf[g->len] = '\0';
    pthread_mutex_unlock(&g->mu);
    return (ssize_t)n;
}

static FILE *gate_file(struct gate *g, bool open)
{
    memset(g, 0, sizeof *g);
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->open = open;
    FILE *f = fopencookie(g, "w", (cookie_io_functions_t){.write = gate_write});
    if (f)
        setvbuf(f, NULL, _IONBF, 0);    /* each fwrite reaches the gate */
    return f;
}

static void gate_set(struct gate *g, bool open)
{
    pthread_mutex_lock(&g->mu);
    g->open = open;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

/* Wait until the writer is blocked inside a write. */
static void gate_wait_blocked(struct gate *g)
{
    pthread_mutex_lock(&g->mu);
    while (g->waiting == 0)
        pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_done(struct gate *g, FILE *f)
{
    if (f)
        fclose(f);
    free(g->buf);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

TEST(lines_come_out_whole_and_in_order)
{
    struct gate g;
    FILE *f = gate_file(&g, true);
    char err[128], want[64];
    struct outq_stats st;
    struct outq *q;

    REQUIRE(f != NULL);
    q = outq_open(f, 8, OUTQ_DROP, err, sizeof err);
    REQUIRE_OR_GOTO(q != NULL, out);
    for (int i = 0; i < 5; i++)
        CHECK_INT(outq_printf(q, "line %d", i), 0);
    outq_sync(q);
    CHECK_STR_CONTAINS(g.buf, "line 0\nline 1\nline 2\nline 3\nline 4\n");
    CHECK_INT((int)g.len, 35);
    outq_stats(q, &st);
    CHECK_INT((int)st.pushed, 5);
    CHECK_INT((int)st.written, 5);
    CHECK_INT((int)st.dropped, 0);
    CHECK_INT(outq_printf(q, "after the sync"), 0);
    outq_close(q);                          /* close writes what is still queued */
    snprintf(want, sizeof want, "line 4\nafter the sync\n");
    CHECK_STR_CONTAINS(g.buf, want);
out:
    gate_done(&g, f);
}

/* A stuck file: the producer never waits (OUTQ_DROP); what does not fit is dropped and
 * counted, and what was queued comes out, in order, once the file moves again. */
TEST(a_stuck_file_drops_and_counts_never_blocks)
{
    struct gate g;
    FILE *f = gate_file(&g, false);
    char err[128];
    struct outq_stats st;
    struct outq *q;

    REQUIRE(f != NULL);
    q = outq_open(f, 4, OUTQ_DROP, err, sizeof err);
    REQUIRE_OR_GOTO(q != NULL, out);
    CHECK_INT(outq_printf(q, "a"), 0);
    gate_wait_blocked(&g);                  /* the writer holds "a", inside the write */
    for (int i = 0; i < 3; i++)
        CHECK_INT(outq_printf(q, "b%d", i), 0);      /* the ring: a, b0, b1, b2 */
    CHECK_INT(outq_printf(q, "lost"), -1);
    CHECK_INT(outq_printf(q, "lost too"), -1);
    outq_stats(q, &st);
    CHECK_INT((int)st.dropped, 2);
    CHECK_INT((int)st.written, 0);
    gate_set(&g, true);
    outq_sync(q);
    CHECK(g.buf && strcmp(g.buf, "a\nb0\nb1\nb2\n") == 0);
    outq_close(q);
out:
    gate_done(&g, f);
}

struct producer {
    struct outq *q;
    int n, failed;
};

static void *produce(void *arg)
{
    struct producer *p = arg;

    for (int i = 0; i < p->n; i++)
        if (outq_printf(p->q, "%d", i) != 0)
            p->failed++;
    return NULL;
}

/* Virtual time (OUTQ_WAIT): a full ring holds the producer until there is room; nothing
 * is lost. */
TEST(wait_mode_loses_nothing)
{
    struct gate g;
    FILE *f = gate_file(&g, false);
    struct producer p = {.n = 50};
    struct outq_stats st;
    char err[128], *at;
    pthread_t th;

    REQUIRE(f != NULL);
    p.q = outq_open(f, 4, OUTQ_WAIT, err, sizeof err);
    REQUIRE_OR_GOTO(p.q != NULL, out);
    REQUIRE_OR_GOTO(pthread_create(&th, NULL, produce, &p) == 0, close);
    gate_wait_blocked(&g);
    do {                                    /* the producer fills the ring, then waits */
        sched_yield();
        outq_stats(p.q, &st);
    } while (st.pushed < 4);
    CHECK_INT((int)st.written, 0);
    gate_set(&g, true);
    pthread_join(th, NULL);
    outq_sync(p.q);
    outq_stats(p.q, &st);
    CHECK_INT(p.failed, 0);
    CHECK_INT((int)st.dropped, 0);
    CHECK_INT((int)st.written, 50);
    at = g.buf;
    for (int i = 0; i < 50 && at; i++) {    /* every number, in order */
        CHECK_INT(atoi(at), i);
        at = strchr(at, '\n');
        at = at ? at + 1 : NULL;
    }
close:
    outq_close(p.q);
out:
    gate_done(&g, f);
}

TEST(a_line_longer_than_a_slot_is_cut_and_counted)
{
    struct gate g;
    FILE *f = gate_file(&g, true);
    static char big[3 * OUTQ_LINE_MAX];
    struct outq_stats st;
    char err[128];
    struct outq *q;

    REQUIRE(f != NULL);
    memset(big, 'x', sizeof big - 1);
    q = outq_open(f, 2, OUTQ_DROP, err, sizeof err);
    REQUIRE_OR_GOTO(q != NULL, out);
    CHECK_INT(outq_put(q, big, strlen(big)), 0);
    outq_sync(q);
    outq_stats(q, &st);
    CHECK_INT((int)st.cut, 1);
    CHECK_INT((int)g.len, OUTQ_LINE_MAX);
    CHECK(g.buf && g.buf[OUTQ_LINE_MAX - 1] == '\n');
    outq_close(q);
out:
    gate_done(&g, f);
}

/* The control loop with its rep log on a file that is stuck for the first 20 s of a
 * simulated set: the ticks go on (the loop never writes itself), and when the file moves
 * again every event line arrives. */
struct stuck_run {
    struct gate *g;
    long ticks_while_stuck;
    int events_while_stuck;
    bool released;
};

static void stuck_tick(void *arg, const struct ctl *c, double now)
{
    struct stuck_run *r = arg;

    (void)c;
    if (r->released)
        return;
    r->ticks_while_stuck++;
    if (now > 20.0) {
        r->released = true;
        gate_set(r->g, true);
    }
}

static void stuck_event(void *arg, const struct ctl_event *ev)
{
    struct stuck_run *r = arg;

    (void)ev;
    if (!r->released)
        r->events_while_stuck++;
}

TEST(the_loop_ticks_on_while_its_rep_log_is_stuck)
{
    static struct ctl ctl;
    struct ecc_config cfg;
    struct gate g;
    struct stuck_run r = {.g = &g};
    FILE *f = gate_file(&g, false);
    struct loop_opts lo = {.max_time_s = 40.0, .realtime = true, .on_tick = stuck_tick,
                           .on_event = stuck_event, .arg = &r};
    struct hal_sim_opts so = {0};
    struct loop_stats st;
    struct hal_sim *sim = NULL;
    struct hal hal;
    char err[512];
    int lines = 0;

    REQUIRE(f != NULL);
    lo.rep_log = f;
    lo.start = true;
    REQUIRE_OR_GOTO(config_load(&cfg, "config/sim.ini", err, sizeof err) == 0, out);
    sim = hal_sim_open(&cfg, &so, &hal, err, sizeof err);
    REQUIRE_OR_GOTO(sim != NULL, out);
    ctl_init(&ctl, &cfg);
    loop_run(&ctl, &hal, &lo, &st);
    CHECK(r.released);
    CHECK(r.ticks_while_stuck >= (long)(20.0 * cfg.loop.rate_hz));
    CHECK(r.events_while_stuck >= 3);       /* preflight, start, strokes ... */
    CHECK_INT((int)st.lines_dropped, 0);    /* a few events fit the ring */
    for (const char *p = g.buf; p && *p; p++)
        lines += *p == '\n';
    CHECK(lines >= r.events_while_stuck);
    CHECK(g.buf && strstr(g.buf, "\"event\":\"set_start\"") != NULL);
out:
    hal_sim_close(sim);
    gate_done(&g, f);
}

TESTS(T(lines_come_out_whole_and_in_order), T(a_stuck_file_drops_and_counts_never_blocks),
      T(wait_mode_loses_nothing), T(a_line_longer_than_a_slot_is_cut_and_counted),
      T(the_loop_ticks_on_while_its_rep_log_is_stuck));
TEST_MAIN("test_outq")
