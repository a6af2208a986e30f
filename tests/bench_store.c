/* bench_store.c - what the training history costs, on a scratch database:
 *   - rep to durable: a REP pushed as the control loop does, until store_durable passes
 *     its sequence number (wake the writer, one transaction, WAL append and its fsync:
 *     synchronous = FULL). One rep at a time with a short pause between, as real reps
 *     come seconds apart: each one pays for its own commit.
 *   - store_push_event itself: what the control loop pays per event (copy into the ring,
 *     the time stamp, sem_post), in bursts while the writer drains.
 * Prints median / p99 / max. The figures depend on the disk: run it on the one eccd uses.
 *
 * Usage: bench_store [DIR]   the database goes in a fresh directory under DIR
 * (default: $TMPDIR, else /tmp), removed afterwards.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "daemon/store.h"
#include "tests/bench.h"

#define N_REPS 200
#define PAUSE_S 0.002           /* between reps: the writer goes back to sleep */
#define N_PUSH 20000
#define BURST 8                 /* events pushed back to back, then ... */
#define BURST_PAUSE_S 0.0002    /* ... a pause */
#define TMPFS_MAGIC_ 0x01021994

static void pause_s(double s)
{
    struct timespec ts = {.tv_sec = (time_t)s, .tv_nsec = (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static struct ctl_event event(enum ctl_event_kind kind, int set, int rep)
{
    return (struct ctl_event){.kind = kind, .session = 1, .set = set, .rep = rep,
                              .stroke = rep, .wall = 1700000000.0 + rep, .t = rep,
                              .fig = {.duration_s = 2.5, .travel_m = 0.6, .peak_n = 310,
                                      .mean_n = 220, .in_band_s = 2.0, .in_band_share = 0.8,
                                      .work_j = 130}};
}

static void print_line(const char *what, double *v, int n, const char *unit, double scale)
{
    bench_sort(v, (size_t)n);
    printf("  %-28s median %8.1f %s   p99 %8.1f %s   max %8.1f %s   (n = %d)\n", what,
           v[n / 2] * scale, unit, v[n * 99 / 100] * scale, unit, v[n - 1] * scale, unit, n);
}

/* Push one rep at a time and spin until it is durable. */
static int bench_latency(struct store *s)
{
    static double lat[N_REPS];
    struct ctl_event ev = event(CTL_EV_SESSION_START, 0, 0);

    store_push_event(s, &ev);
    ev = event(CTL_EV_SET_START, 1, 0);
    store_push_event(s, &ev);
    if (store_flush(s, 10.0) != 0)
        return -1;
    for (int i = 0; i < N_REPS; i++) {
        ev = event(CTL_EV_REP, 1, i + 1);
        double t0 = bench_wall();
        uint64_t seq = store_push_event(s, &ev);
        if (!seq)
            return -1;
        while (store_durable(s) < seq)
            ;
        lat[i] = bench_wall() - t0;
        pause_s(PAUSE_S);
    }
    print_line("rep -> durable", lat, N_REPS, "us", 1e6);
    return 0;
}

/* Bursts of pushes while the writer drains; each push timed on its own. The first of a
 * burst usually finds the writer asleep and pays for waking it (sem_post -> futex wake);
 * the others find it awake. */
static int bench_push(struct store *s)
{
    static double first[N_PUSH / BURST], rest[N_PUSH], all[N_PUSH], clk[N_PUSH];
    int done = 0, refused = 0, n_first = 0, n_rest = 0;
    struct ctl_event ev = event(CTL_EV_SET_START, 2, 0);

    store_push_event(s, &ev);
    for (int i = 0; i < N_PUSH; i++) {
        double a = bench_wall(), b = bench_wall();
        clk[i] = b - a;
    }
    while (done < N_PUSH) {
        for (int k = 0; k < BURST && done < N_PUSH; k++, done++) {
            ev = event(CTL_EV_REP, 2, done + 1);
            double t0 = bench_wall();
            refused += store_push_event(s, &ev) == 0;
            all[done] = bench_wall() - t0;
            if (k == 0)
                first[n_first++] = all[done];
            else
                rest[n_rest++] = all[done];
        }
        pause_s(BURST_PAUSE_S);
    }
    if (store_flush(s, 30.0) != 0)
        return -1;
    print_line("store_push_event, all", all, N_PUSH, "ns", 1e9);
    print_line("  first of a burst", first, n_first, "ns", 1e9);
    print_line("  the others", rest, n_rest, "ns", 1e9);
    print_line("  (clock read, included)", clk, N_PUSH, "ns", 1e9);
    if (refused)
        printf("  %d of %d pushes refused: ring full\n", refused, N_PUSH);
    return 0;
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char dir[512], path[600], err[256];
    struct statfs fs;
    int rc;

    snprintf(dir, sizeof dir, "%s/ecc-bench-store-XXXXXX", base);
    if (!mkdtemp(dir)) {
        perror(dir);
        return 1;
    }
    snprintf(path, sizeof path, "%s/history.db", dir);
    log_set_level(LOG_LVL_WARN);
    struct store_params p = {.path = path, .queue_len = 4096};
    struct store *s = store_open(&p, err, sizeof err);
    if (!s) {
        fprintf(stderr, "bench_store: %s\n", err);
        rmdir(dir);
        return 1;
    }
    bool tmpfs = statfs(dir, &fs) == 0 && fs.f_type == TMPFS_MAGIC_;
    printf("history store (SQLite WAL, synchronous = FULL) in %s%s:\n", dir,
           tmpfs ? " (tmpfs: no real fsync)" : "");
    rc = bench_latency(s) == 0 && bench_push(s) == 0 ? 0 : 1;
    struct store_stats st;
    store_stats(s, &st);
    printf("  %llu events in %ld commits, %ld dropped, %ld errors, longest push -> commit "
           "%.1f ms\n", (unsigned long long)st.durable, st.commits, st.dropped, st.errors,
           st.lag_max_s * 1e3);
    store_close(s);
    static const char *const ext[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        char f[640];
        snprintf(f, sizeof f, "%s%s", path, ext[i]);
        unlink(f);
    }
    rmdir(dir);
    return rc || st.errors ? 1 : 0;
}
