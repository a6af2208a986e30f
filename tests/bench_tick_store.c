/* bench_tick_store.c - does the history writer slow the control tick down?
 *
 * The daemon's loop runs one simulated session (config/sim.ini, paced at 100 x real
 * time) with eccd's service hooks, so every controller event is pushed to a real store
 * on disk. Each tick's cost is measured from the service hook (just before the
 * controller's tick) to the on_tick hook (after the tick, the events handed to the store
 * and the drive command): what the loop pays per period. Two runs:
 *   idle: the writer has only the loop's own events to commit;
 *   busy: another thread keeps the writer committing all the time (a patient added per
 *         transaction, each with its fsync).
 * Prints median / p99 / max tick cost of both, and the writer's commits meanwhile.
 *
 * Usage: bench_tick_store [DIR]   scratch databases go under DIR (default /tmp).
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "controller/ctl.h"
#include "daemon/loop.h"
#include "daemon/service.h"
#include "sim/hal_sim.h"
#include "util/log.h"
#include "daemon/store.h"
#include "tests/bench.h"

#define MAX_TICKS 400000

struct timing {
    struct service *svc;
    double t_start;
    double *cost;
    long n;
};

static void on_service(void *arg, struct ctl *c, struct hal *hal, const struct loop_stats *st)
{
    struct timing *tm = arg;

    tm->t_start = bench_wall();
    service_on_service(tm->svc, c, hal, st);
}

static void on_tick(void *arg, const struct ctl *c, double now)
{
    struct timing *tm = arg;

    (void)c;
    (void)now;
    if (tm->n < MAX_TICKS)
        tm->cost[tm->n++] = bench_wall() - tm->t_start;
}

static void on_event(void *arg, const struct ctl_event *ev)
{
    struct timing *tm = arg;
    service_on_event(tm->svc, ev);
}

struct hammer {
    struct store *store;
    atomic_bool stop;
    long added;
};

static void *hammer_run(void *arg)
{
    struct hammer *h = arg;
    char err[128];

    while (!atomic_load(&h->stop)) {
        struct store_patient p = {.force_low = NAN, .force_high = NAN, .speed_max = NAN,
                                  .force_abort = NAN};
        snprintf(p.name, sizeof p.name, "bench %ld", h->added);
        if (store_patient_add(h->store, &p, err, sizeof err) == 0)
            h->added++;
    }
    return NULL;
}

static void report(const char *what, double *v, long n, long commits)
{
    bench_sort(v, (size_t)n);
    printf("  %-5s %7ld ticks: median %6.0f ns, p99 %7.0f ns, max %8.0f ns; writer "
           "commits %ld\n", what, n, v[n / 2] * 1e9, v[n * 99 / 100] * 1e9, v[n - 1] * 1e9,
           commits);
}

static int run(const char *dir, bool busy, double *cost, long *n, long *commits)
{
    static struct ctl ctl;
    char path[512], err[512];
    struct ecc_config cfg;
    struct hal_sim_opts so = {.sessions = 1};
    struct timing tm = {.cost = cost};
    struct loop_opts lo = {.max_sessions = 1, .on_service = on_service, .on_tick = on_tick,
                           .on_event = on_event, .arg = &tm};
    struct hammer h = {0};
    struct store_params sp = {.path = path, .queue_len = 1024};
    struct service_params vp = {.cfg = &cfg};
    struct store_stats ss;
    struct loop_stats st;
    pthread_t thr;
    struct hal hal;
    struct hal_sim *sim;

    snprintf(path, sizeof path, "%s/bench-%s-%d.db", dir, busy ? "busy" : "idle", (int)getpid());
    /* Paced at 100 x real time, so the session lasts about 3 s of wall time: long enough
     * for the busy writer to commit hundreds of times under the ticks. */
    if (config_load(&cfg, "config/sim.ini", err, sizeof err) != 0 ||
        config_set(&cfg, "sim.speed=100", err, sizeof err) != 0 ||
        !(sim = hal_sim_open(&cfg, &so, &hal, err, sizeof err)) ||
        !(vp.store = h.store = store_open(&sp, err, sizeof err))) {
        fprintf(stderr, "bench_tick_store: %s\n", err);
        return -1;
    }
    tm.svc = service_open(&vp);
    ctl_init(&ctl, &cfg);
    service_restore(tm.svc, &ctl, hal.clock.wall(hal.clock.ctx, NULL), 0);
    if (busy)
        pthread_create(&thr, NULL, hammer_run, &h);
    loop_run(&ctl, &hal, &lo, &st);
    store_stats(h.store, &ss);
    if (busy) {
        atomic_store(&h.stop, true);
        pthread_join(thr, NULL);
    }
    *n = tm.n;
    *commits = ss.commits;
    service_close(tm.svc);
    store_close(h.store);
    hal_sim_close(sim);
    unlink(path);
    return 0;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    double *idle = malloc(MAX_TICKS * sizeof *idle), *busy = malloc(MAX_TICKS * sizeof *busy);
    long n_idle, n_busy, c_idle, c_busy;

    log_set_level(LOG_LVL_ERROR);
    if (!idle || !busy || run(dir, false, idle, &n_idle, &c_idle) != 0 ||
        run(dir, true, busy, &n_busy, &c_busy) != 0)
        return 1;
    printf("control tick + history push, one simulated session, database in %s:\n", dir);
    report("idle", idle, n_idle, c_idle);
    report("busy", busy, n_busy, c_busy);
    free(idle);
    free(busy);
    return 0;
}
