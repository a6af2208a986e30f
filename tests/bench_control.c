/* bench_control.c - `make bench-control` (issue 11): eccd's control law judged against the
 * best plain treadmill and an oracle, on a matrix of simulated plants.
 *
 * A cell of the matrix is a plant: an athlete (sim/scenarios/bench/, one change each from
 * the HARD patient) on a drive with a given ramp and dead time. For every cell and seed,
 * one set (15 valid reps, band 60..110 N) is run three ways:
 *   eccd    the daemon's own loop and controller (scn_run), told the drive's ramp and
 *           dead time (drive.accel_time_s, drive.decel_time_s, drive.dead_time_s);
 *   fixed   the same loop in fixed mode at 0.10 .. 0.60 m/s: the plain treadmill;
 *   oracle  knows each stroke's effort before it lands (athlete_next_effort) and the
 *           athlete's force law (athlete_force_model), and drives the rig directly,
 *           through the same drive ramp and dead time, at the speed that puts the
 *           predicted force on a target. Run with targets across the band, it gives a
 *           curve of time in band against throughput; eccd is compared with that curve
 *           at eccd's own throughput (a slower belt buys time in band: only the same
 *           throughput is a fair comparison).
 * Every figure comes from the athlete's ground truth (struct stroke_record), never from
 * what a controller believes: strict time in band = sum of window_in_band_s / sum of
 * window_s over the set's strokes; throughput = valid strokes per 45 s from the first
 * contact to the last release; false reps (eccd counted, invalid in truth) and missed
 * reps (valid, not counted) pair eccd's strokes with the true ones by contact time.
 *
 * It is a benchmark: the exit status is 0 whatever the figures (1 only if a run could
 * not be set up); the verdicts are the PASS/FAIL lines at the end. With --check it is
 * also a test (tests/t_control.sh, in make check): the verdicts become tests/test.h's
 * "ok"/"FAIL" lines and a failed one makes the exit status 1. Markdown table on
 * stdout, progress on stderr. --write-docs also writes docs/control-table.md and
 * docs/control-hard-set.svg (one HARD set of eccd: force and band, belt speeds).
 * Runs from the source tree's top (config/sim.ini), as make does.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/config.h"
#include "controller/ctl.h"
#include "daemon/loop.h"
#include "sim/hal_sim.h"
#include "sim/athlete.h"
#include "sim/report.h"
#include "sim/rig.h"
#include "sim/svgplot.h"
#include "tests/bench.h"
#include "tests/scenario.h"

#define SEEDS 5
#define REPS 15                 /* protocol.reps_per_set */
#define BAND_LOW 60.0           /* N */
#define BAND_HIGH 110.0         /* N */
#define PER_S 45.0              /* throughput is valid strokes per this many seconds */
#define N_FIXED 11              /* fixed speeds FIXED_MIN, + FIXED_STEP, ... */
#define FIXED_MIN 0.10          /* m/s */
#define FIXED_STEP 0.05         /* m/s */
#define N_TARGETS 9             /* oracle targets at band positions 0.1 .. 0.9 */
#define CTL_DT 0.01             /* s, the oracle's control period (eccd's loop.rate_hz) */
#define PAIR_S 0.25             /* s, a judged and a true stroke begin this close: the same */
/* A fixed speed or oracle target that never makes 15 valid reps would run forever: stop
 * it after CAP_FACTOR times eccd's set (of the same cell and seed), at least CAP_MIN_S. */
#define CAP_FACTOR 2.0
#define CAP_MIN_S 90.0          /* s */
/* The verdicts of issue 11. */
#define HARD_GAP_MAX 4.0        /* points: the oracle at eccd's throughput, minus eccd */
#define HARD_PER45_MIN 15.0     /* valid strokes per 45 s */
/* Differences under half the table's last digit are ties: a verdict must not turn on
 * what the table cannot show. */
#define TIE_SHARE 0.0005        /* time in band, 0.05 points */
#define TIE_PER45 0.05          /* valid strokes per 45 s */
#define TIE_LEAD 0.0005         /* m/s */

#define BENCH_DIR "../sim/scenarios/bench/"   /* sim.scenario paths are from config/ */
#define TABLE_PATH "docs/control-table.md"
#define SVG_PATH "docs/control-hard-set.svg"

struct cell {
    const char *name;           /* the row's label: what differs from HARD */
    const char *scenario;       /* sim.scenario: a path from config/, or a name */
    double ramp;                /* m/s^2, the drive's ramp */
    double dead;                /* s, the drive's dead time */
};

/* HARD first; then one change at a time over the ranges; then the two curated
 * scenarios of sim/scenarios/ on HARD's drive. */
static const struct cell cells[] = {
    {"HARD", BENCH_DIR "hard.ini", 0.33, 0.05},
    {"drive ramp 0.2 m/s^2", BENCH_DIR "hard.ini", 0.2, 0.05},
    {"drive ramp 2 m/s^2", BENCH_DIR "hard.ini", 2.0, 0.05},
    {"dead time 0", BENCH_DIR "hard.ini", 0.33, 0.0},
    {"dead time 0.15 s", BENCH_DIR "hard.ini", 0.33, 0.15},
    {"effort spread 10%", BENCH_DIR "spread10.ini", 0.33, 0.05},
    {"effort spread 35%", BENCH_DIR "spread35.ini", 0.33, 0.05},
    {"fatigue 0", BENCH_DIR "fatigue0.ini", 0.33, 0.05},
    {"fatigue 1.5%/stroke", BENCH_DIR "fatigue15.ini", 0.33, 0.05},
    {"power law (exp 0.5, 250)", BENCH_DIR "power.ini", 0.33, 0.05},
    {"steep linear law (300)", BENCH_DIR "steep.ini", 0.33, 0.05},
    {"reaction 0", BENCH_DIR "react0.ini", 0.33, 0.05},
    {"reaction 0.25 s", BENCH_DIR "react25.ini", 0.33, 0.05},
    {"landing ramp 0.1 s", BENCH_DIR "land01.ini", 0.33, 0.05},
    {"landing ramp 0.3 s", BENCH_DIR "land03.ini", 0.33, 0.05},
    {"scenario normal", "normal", 0.33, 0.05},
    {"scenario hill", "hill", 0.33, 0.05},
};
#define N_CELLS ((int)(sizeof cells / sizeof cells[0]))

/* One run's figures, from the ground truth (and, for eccd, its verdicts). */
struct metrics {
    double in_band;             /* 0..1, strict: window time in band / window time */
    double per45;               /* valid strokes per PER_S seconds */
    double peak;                /* N, the largest true peak force */
    double lead;                /* m/s, largest command above the motor (eccd only) */
    double set_s;               /* s, the loop's end time (eccd: the set's end) */
    int strokes, valid;
    int false_reps, missed;     /* eccd only */
};

/* A cell's results: each mode averaged over the seeds. */
struct row {
    struct metrics eccd;        /* means; peak and lead: max; false/missed: sums */
    struct metrics fixed[N_FIXED];
    struct metrics oracle[N_TARGETS];
    int best_fixed;             /* index into fixed[]: the most time in band */
    int better_fixed;           /* a fixed speed better on in band and throughput, or -1 */
    double oracle_eq;           /* 0..1, the oracle's in band at eccd's throughput */
    bool oracle_clamped;        /* eccd's throughput is outside the oracle's curve */
    double oracle_per45;        /* the oracle's most valid strokes per 45 s with at least
                                   eccd's time in band (-1: none): the headroom */
    double wall_s;
};

struct options {
    bool write_docs;
    bool curves;                /* every cell's fixed and oracle curves, not only HARD's */
    const char *only;           /* run only the cells whose name contains this */
    int seeds;
    bool check;                 /* the verdicts as test lines; exit 1 if one fails */
};

static double drive_max_mps;    /* drive.max_hz / drive.hz_per_mps of config/sim.ini */
static double lead_margin_mps;  /* control.lead_margin_mps of config/sim.ini */

/* ---- configuration ------------------------------------------------------------------ */

#define OV_MAX 16

struct overrides {
    char kv[OV_MAX][96];
    const char *list[OV_MAX + 1]; /* NULL-terminated, as scn_run takes them */
    int n;
};

static void ov_str(struct overrides *o, const char *key, const char *value)
{
    if (o->n >= OV_MAX)         /* cell_overrides() sets fewer: cannot happen */
        return;
    snprintf(o->kv[o->n], sizeof o->kv[o->n], "%s=%s", key, value);
    o->list[o->n] = o->kv[o->n];
    o->list[++o->n] = NULL;
}

static void ov_add(struct overrides *o, const char *key, double value)
{
    char v[32];

    snprintf(v, sizeof v, "%.6g", value);
    ov_str(o, key, v);
}

/* The cell's plant and the set's protocol; eccd is told the drive it has (the same ramp
 * both ways: the simulated drive's ramp is symmetric). fixed_mps > 0: fixed mode. */
static void cell_overrides(const struct cell *c, double fixed_mps, struct overrides *o)
{
    double ramp_s = drive_max_mps / c->ramp;

    memset(o, 0, sizeof *o);
    ov_add(o, "protocol.reps_per_set", REPS);
    ov_add(o, "protocol.sets_per_session", 1);
    ov_add(o, "band.force_low_n", BAND_LOW);
    ov_add(o, "band.force_high_n", BAND_HIGH);
    ov_add(o, "sim.drive_accel_mps2", c->ramp);
    ov_add(o, "sim.drive_dead_time_s", c->dead);
    ov_add(o, "drive.accel_time_s", ramp_s);
    ov_add(o, "drive.decel_time_s", ramp_s);
    ov_add(o, "drive.dead_time_s", c->dead);
    ov_str(o, "control.mode", fixed_mps > 0.0 ? "fixed" : "continuous");
    if (fixed_mps > 0.0)
        ov_add(o, "control.fixed_speed_mps", fixed_mps);
}

/* config/sim.ini with the scenario, seed and overrides: what scn_run builds too. */
static int load_cfg(const struct cell *c, unsigned seed, const struct overrides *o,
                    struct ecc_config *cfg)
{
    char err[512], kv[CFG_PATH_MAX + 32];

    if (config_load(cfg, "config/sim.ini", err, sizeof err) != 0)
        goto bad;
    snprintf(kv, sizeof kv, "sim.scenario=%s", c->scenario);
    if (config_set(cfg, kv, err, sizeof err) != 0)
        goto bad;
    snprintf(kv, sizeof kv, "sim.seed=%u", seed);
    if (config_set(cfg, kv, err, sizeof err) != 0)
        goto bad;
    for (int i = 0; i < o->n; i++)
        if (config_set(cfg, o->list[i], err, sizeof err) != 0)
            goto bad;
    if (config_check(cfg, err, sizeof err) != 0)
        goto bad;
    return 0;
bad:
    fprintf(stderr, "bench-control: %s: %s\n", c->name, err);
    return -1;
}

/* ---- figures from the ground truth --------------------------------------------------- */

static void truth_metrics(const struct stroke_record *s, int n, struct metrics *m)
{
    double win = 0.0, in = 0.0, span;

    memset(m, 0, sizeof *m);
    m->strokes = n;
    for (int i = 0; i < n; i++) {
        win += s[i].window_s;
        in += s[i].window_in_band_s;
        m->valid += s[i].valid;
        m->peak = fmax(m->peak, s[i].peak_n);
    }
    m->in_band = win > 0.0 ? in / win : 0.0;
    span = n > 0 ? s[n - 1].t_release - s[0].t_contact : 0.0;
    m->per45 = span > 0.0 ? m->valid / span * PER_S : 0.0;
}

/* Pair eccd's judged strokes with the true ones in order, by when they began (as
 * scn_compare does); a stroke on one side only is unpaired. Counted but invalid in
 * truth: a false rep; valid in truth but not counted: a missed rep. */
static void verdict_errors(const struct scn_result *r, struct metrics *m)
{
    int i = 0, k = 0;

    while (i < r->n_judged || k < r->n_truth) {
        const struct ctl_event *j = i < r->n_judged ? &r->judged[i] : NULL;
        const struct stroke_record *t = k < r->n_truth ? &r->truth[k] : NULL;
        bool counted = j && j->kind == CTL_EV_REP;

        if (j && t && fabs(j->fig.t_start - t->t_contact) < PAIR_S) {
            m->false_reps += counted && !t->valid;
            m->missed += t->valid && !counted;
            i++;
            k++;
        } else if (t && (!j || t->t_contact < j->fig.t_start)) {
            m->missed += t->valid;      /* eccd never saw it */
            k++;
        } else {
            m->false_reps += counted;   /* nothing happened where eccd counted */
            i++;
        }
    }
}

static void result_metrics(const struct scn_result *r, struct metrics *m)
{
    truth_metrics(r->truth, r->n_truth, m);
    verdict_errors(r, m);
    m->lead = r->max_lead;
    m->set_s = r->t_end;
}

/* ---- eccd and the fixed speeds: the daemon's loop ------------------------------------ */

static struct scn_result res;   /* large: one at a time */

static int run_eccd(const struct cell *c, unsigned seed, struct metrics *m)
{
    struct overrides o;

    cell_overrides(c, 0.0, &o);
    if (scn_run(c->scenario, seed, 1, o.list, &res) != 0)
        return -1;
    result_metrics(&res, m);
    return 0;
}

/* The judged strokes, as scn_run keeps them, for runs that need what scn_run has not: a
 * time limit of their own, or a rep log and trace. */
static void keep_judged(void *arg, const struct ctl_event *ev)
{
    struct scn_result *r = arg;

    if ((ev->kind == CTL_EV_REP || ev->kind == CTL_EV_REJECT) && r->n_judged < SCN_MAX_STROKES)
        r->judged[r->n_judged++] = *ev;
}

static void copy_truth(struct scn_result *r, const struct rig *rig)
{
    int n;
    const struct stroke_record *s = athlete_strokes(rig_athlete(rig), &n);

    r->n_truth = n < SCN_MAX_STROKES ? n : SCN_MAX_STROKES;
    memcpy(r->truth, s, (size_t)r->n_truth * sizeof *s);
}

/* One session of one set through loop_run, stopped at t_max at the latest; the rep log
 * and trace are written when given. */
static int run_loop(const struct ecc_config *cfg, double t_max, FILE *rep_log, FILE *trace,
                    struct scn_result *r)
{
    static struct ctl ctl;
    struct hal_sim_opts so = {.sessions = 1};
    struct loop_opts lo = {.rep_log = rep_log, .trace = trace, .max_sessions = 1,
                           .max_time_s = t_max, .on_event = keep_judged, .arg = r};
    struct loop_stats st;
    struct hal hal;
    struct hal_sim *sim;
    char err[512];

    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    sim = hal_sim_open(cfg, &so, &hal, err, sizeof err);
    if (!sim) {
        fprintf(stderr, "bench-control: %s\n", err);
        return -1;
    }
    ctl_init(&ctl, cfg);
    loop_run(&ctl, &hal, &lo, &st);
    r->t_end = st.t_cmd_zero >= 0.0 ? st.t_cmd_zero : st.t_end;   /* as scn_run's */
    copy_truth(r, hal_sim_rig(sim));
    hal_sim_close(sim);
    return 0;
}

static int run_fixed(const struct cell *c, unsigned seed, double mps, double t_max,
                     struct metrics *m)
{
    struct overrides o;
    struct ecc_config cfg;

    cell_overrides(c, mps, &o);
    if (load_cfg(c, seed, &o, &cfg) != 0 || run_loop(&cfg, t_max, NULL, NULL, &res) != 0)
        return -1;
    result_metrics(&res, m);    /* (no lead: run_loop does not watch the drive) */
    return 0;
}

/* ---- the oracle ---------------------------------------------------------------------- */

struct oracle {
    struct rig *rig;
    const struct athlete *ath;
    struct athlete_params p;
    double target;              /* N, where the predicted force is put */
    double v_min, v_max;        /* m/s, the config's running limits: the oracle obeys them */
    double ahead;               /* s, a command shows in the force this much later */
    double landing_s;           /* s, the judged window opens this long after contact */
    double slip;                /* (m/s)/N, the loaded belt droops below the motor */
    double effort;              /* N, the stroke on the belt (while steering it) */
    double x0;                  /* m, belt position when that foot went down */
    bool was_loaded, steering;
};

/* The belt speed at which the athlete's law gives the target: the law rises with speed,
 * so bisect; a target out of reach gives the nearer limit. */
static double oracle_invert(const struct oracle *o, double effort, double progress)
{
    double lo = o->v_min, hi = o->v_max;

    if (athlete_force_model(&o->p, effort, progress, lo) >= o->target)
        return lo;
    if (athlete_force_model(&o->p, effort, progress, hi) <= o->target)
        return hi;
    for (int i = 0; i < 40; i++) {
        double mid = 0.5 * (lo + hi);

        if (athlete_force_model(&o->p, effort, progress, mid) < o->target)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

/* Which stroke is steered, and how far along it is when this command reaches the force.
 * The API says neither when the foot starts to lift nor the stroke's reach: the lift
 * shows as the effort forecast moving on to the next stroke (athlete_next_effort), and
 * the progress is taken against the mean reach. Between strokes, the next stroke's
 * landing: its window opens at about v x landing_s along. */
static double oracle_progress(struct oracle *o, double effort)
{
    bool loaded = athlete_loaded(o->ath);
    double v = rig_belt_speed(o->rig), x = rig_belt_position(o->rig);

    if (loaded && !o->was_loaded) {
        o->steering = true;
        o->effort = effort;
        o->x0 = x;
    }
    if (!loaded || effort != o->effort)
        o->steering = false;
    o->was_loaded = loaded;
    if (!o->steering)
        return v * o->landing_s / o->p.reach_m;
    return (x - o->x0 + v * o->ahead) / o->p.reach_m;
}

/* The motor speed that puts the predicted force on the target (plus the belt's droop
 * under that force). */
static double oracle_command(struct oracle *o)
{
    double effort, progress;

    athlete_next_effort(o->ath, &effort);
    progress = oracle_progress(o, effort);
    return fmin(o->v_max, oracle_invert(o, effort, progress) + o->slip * o->target);
}

static int oracle_setup(struct oracle *o, const struct ecc_config *cfg, struct hal_sim *sim,
                        double target)
{
    char err[512];

    memset(o, 0, sizeof *o);
    if (athlete_load(&o->p, hal_sim_scenario_path(sim), err, sizeof err) != 0) {
        fprintf(stderr, "bench-control: %s\n", err);
        return -1;
    }
    o->rig = hal_sim_rig(sim);
    o->ath = rig_athlete(o->rig);
    o->target = target;
    o->v_min = cfg->limits.speed_min;
    o->v_max = cfg->limits.speed_max;
    o->ahead = cfg->sim.drive_dead_s + o->p.reaction_s + 0.5 * CTL_DT;
    o->landing_s = cfg->rep.landing_s;
    o->slip = cfg->sim.slip;
    return 0;
}

static int valid_strokes(const struct athlete *a)
{
    int n, valid = 0;
    const struct stroke_record *s = athlete_strokes(a, &n);

    for (int i = 0; i < n; i++)
        valid += s[i].valid;
    return valid;
}

/* The rig built exactly as for eccd (hal_sim_open on the same config), driven directly
 * every CTL_DT until REPS valid strokes or t_max. */
static int run_oracle(const struct ecc_config *cfg, double target, double t_max,
                      struct metrics *m)
{
    struct hal_sim_opts so = {.sessions = 1};
    struct hal hal;
    struct hal_sim *sim;
    struct oracle o;
    char err[512];
    int n;

    sim = hal_sim_open(cfg, &so, &hal, err, sizeof err);
    if (!sim) {
        fprintf(stderr, "bench-control: %s\n", err);
        return -1;
    }
    if (oracle_setup(&o, cfg, sim, target) != 0) {
        hal_sim_close(sim);
        return -1;
    }
    for (long k = 1; k * CTL_DT <= t_max && valid_strokes(o.ath) < REPS; k++) {
        rig_set_speed(o.rig, oracle_command(&o));
        rig_advance(o.rig, k * CTL_DT);
    }
    truth_metrics(athlete_strokes(o.ath, &n), n, m);
    m->set_s = rig_now(o.rig);
    hal_sim_close(sim);
    return 0;
}

/* ---- one cell ------------------------------------------------------------------------ */

static double fixed_mps(int i)
{
    return FIXED_MIN + FIXED_STEP * i;
}

static double target_pos(int i)
{
    return 0.1 * (i + 1);
}

static void add_metrics(struct metrics *sum, const struct metrics *m)
{
    sum->in_band += m->in_band;
    sum->per45 += m->per45;
    sum->set_s += m->set_s;
    sum->peak = fmax(sum->peak, m->peak);
    sum->lead = fmax(sum->lead, m->lead);
    sum->strokes += m->strokes;
    sum->valid += m->valid;
    sum->false_reps += m->false_reps;
    sum->missed += m->missed;
}

static void mean_metrics(struct metrics *m, int seeds)
{
    m->in_band /= seeds;
    m->per45 /= seeds;
    m->set_s /= seeds;
}

/* One seed of a cell: eccd, then every fixed speed and oracle target with a time limit
 * from eccd's set. */
static int run_seed(const struct cell *c, unsigned seed, struct row *row)
{
    struct metrics m;
    struct ecc_config cfg;
    double t_max;

    if (run_eccd(c, seed, &m) != 0)
        return -1;
    add_metrics(&row->eccd, &m);
    cfg = res.cfg;              /* the oracle's plant is eccd's, exactly */
    t_max = fmax(CAP_MIN_S, CAP_FACTOR * m.set_s);
    for (int i = 0; i < N_FIXED; i++) {
        if (run_fixed(c, seed, fixed_mps(i), t_max, &m) != 0)
            return -1;
        add_metrics(&row->fixed[i], &m);
    }
    for (int i = 0; i < N_TARGETS; i++) {
        double target = BAND_LOW + target_pos(i) * (BAND_HIGH - BAND_LOW);

        if (run_oracle(&cfg, target, t_max, &m) != 0)
            return -1;
        add_metrics(&row->oracle[i], &m);
    }
    return 0;
}

/* The oracle's time in band at throughput x: its points sorted by throughput, linear in
 * between; outside them, the nearer end (and *clamped is set). */
static double oracle_at(const struct metrics *o, double x, bool *clamped)
{
    int idx[N_TARGETS];

    for (int i = 0; i < N_TARGETS; i++)
        idx[i] = i;
    for (int i = 1; i < N_TARGETS; i++)         /* insertion sort by throughput */
        for (int j = i; j > 0 && o[idx[j]].per45 < o[idx[j - 1]].per45; j--) {
            int t = idx[j];
            idx[j] = idx[j - 1];
            idx[j - 1] = t;
        }
    *clamped = x < o[idx[0]].per45 || x > o[idx[N_TARGETS - 1]].per45;
    if (x <= o[idx[0]].per45)
        return o[idx[0]].in_band;
    for (int i = 1; i < N_TARGETS; i++) {
        const struct metrics *a = &o[idx[i - 1]], *b = &o[idx[i]];

        if (x > b->per45)
            continue;
        if (b->per45 <= a->per45)           /* two targets, one throughput: the better */
            return fmax(a->in_band, b->in_band);
        return a->in_band + (b->in_band - a->in_band) * (x - a->per45) / (b->per45 - a->per45);
    }
    return o[idx[N_TARGETS - 1]].in_band;
}

/* The best fixed speed by time in band, and one better than eccd on both counts (the
 * one with the most time in band, if several are). */
static void judge_row(struct row *row)
{
    const struct metrics *e = &row->eccd;

    row->best_fixed = 0;
    row->better_fixed = -1;
    for (int i = 0; i < N_FIXED; i++) {
        const struct metrics *f = &row->fixed[i];

        if (f->in_band > row->fixed[row->best_fixed].in_band)
            row->best_fixed = i;
        if (f->in_band > e->in_band + TIE_SHARE && f->per45 > e->per45 + TIE_PER45 &&
            (row->better_fixed < 0 || f->in_band > row->fixed[row->better_fixed].in_band))
            row->better_fixed = i;
    }
    row->oracle_eq = oracle_at(row->oracle, row->eccd.per45, &row->oracle_clamped);
    row->oracle_per45 = -1.0;
    for (int i = 0; i < N_TARGETS; i++)
        if (row->oracle[i].in_band + TIE_SHARE >= e->in_band)
            row->oracle_per45 = fmax(row->oracle_per45, row->oracle[i].per45);
}

static int run_cell(const struct cell *c, int seeds, struct row *row)
{
    double t0 = bench_wall();

    memset(row, 0, sizeof *row);
    for (int s = 1; s <= seeds; s++)
        if (run_seed(c, (unsigned)s, row) != 0)
            return -1;
    mean_metrics(&row->eccd, seeds);
    for (int i = 0; i < N_FIXED; i++)
        mean_metrics(&row->fixed[i], seeds);
    for (int i = 0; i < N_TARGETS; i++)
        mean_metrics(&row->oracle[i], seeds);
    judge_row(row);
    row->wall_s = bench_wall() - t0;
    return 0;
}

/* ---- output -------------------------------------------------------------------------- */

static void progress(int k, int n, const struct cell *c, const struct row *r)
{
    const struct metrics *f = &r->fixed[r->best_fixed];

    fprintf(stderr, "[%2d/%d] %-26s eccd %5.1f%% %5.1f/45 s | fixed %.2f m/s %5.1f%% | "
            "oracle %5.1f%% | %.1f s\n", k, n, c->name, 100.0 * r->eccd.in_band,
            r->eccd.per45, fixed_mps(r->best_fixed), 100.0 * f->in_band,
            100.0 * r->oracle_eq, r->wall_s);
}

static void table_head(FILE *out)
{
    fprintf(out, "| cell | eccd in band | eccd valid/45 s | peak N | false/missed | "
                 "lead m/s | best fixed (in band, valid/45 s) | fixed better on both | "
                 "oracle at eccd's throughput | gap (points) | oracle valid/45 s at eccd's "
                 "in band |\n");
    fprintf(out, "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |\n");
}

/* Oracle minus eccd in points; a tie prints as 0.0, not -0.0. */
static double gap_points(const struct row *r)
{
    double gap = 100.0 * (r->oracle_eq - r->eccd.in_band);

    return fabs(gap) < 0.05 ? 0.0 : gap;
}

static void table_row(FILE *out, const struct cell *c, const struct row *r)
{
    const struct metrics *e = &r->eccd, *f = &r->fixed[r->best_fixed];
    char better[32] = "none", headroom[16] = "-";

    if (r->better_fixed >= 0)
        snprintf(better, sizeof better, "**%.2f m/s**", fixed_mps(r->better_fixed));
    if (r->oracle_per45 >= 0.0)
        snprintf(headroom, sizeof headroom, "%.1f", r->oracle_per45);
    fprintf(out, "| %s | %.1f%% | %.1f | %.0f | %d/%d | %.3f | %.2f m/s (%.1f%%, %.1f) | %s | "
            "%.1f%%%s | %+.1f | %s |\n", c->name, 100.0 * e->in_band, e->per45, e->peak,
            e->false_reps, e->missed, e->lead, fixed_mps(r->best_fixed), 100.0 * f->in_band,
            f->per45, better, 100.0 * r->oracle_eq, r->oracle_clamped ? "\\*" : "",
            gap_points(r), headroom);
}

static void table_notes(FILE *out, int seeds)
{
    fprintf(out, "\nEach row is one set of %d valid reps in a %.0f..%.0f N band, averaged over "
                 "seeds 1..%d.\n\n", REPS, BAND_LOW, BAND_HIGH, seeds);
    fputs("- **Cells.** HARD: drive ramp 0.33 m/s^2, dead time 0.05 s, effort spread 30%\n"
          "  scaling the whole force-velocity curve, effort rising x0.75..x1.25 through a\n"
          "  stroke, fatigue 1%/stroke, linear law 150 N/(m/s), reaction 0.15 s, landing\n"
          "  ramp 0.2 s (`sim/scenarios/bench/hard.ini`). Every other row changes one thing. The power\n"
          "  law has 35 N of effort, as `hill.ini` does: with 55 N the band would need a belt\n"
          "  below the 0.08 m/s floor. The last two rows are `sim/scenarios/normal.ini` and\n"
          "  `hill.ini` on HARD's drive.\n"
          "- **In band**: strict, on the true force, over each stroke's window (contact +\n"
          "  `rep.landing_s` until the foot lifts), summed over all strokes of the set.\n"
          "- **Valid/45 s**: valid strokes (true verdict) per 45 s, first contact to last release.\n"
          "- **Peak**: the largest true peak force of any seed. **False/missed**: strokes eccd\n"
          "  counted that were invalid, and valid strokes it did not count (all seeds).\n"
          "  **Lead**: the largest command above the drive's true output (any seed).\n", out);
    fprintf(out, "- **Best fixed**: the fixed speed (%.2f to %.2f m/s) with the most time in\n"
                 "  band. **Fixed better on both**: a speed with more time in band and more\n"
                 "  valid strokes per 45 s than eccd.\n", FIXED_MIN, fixed_mps(N_FIXED - 1));
    fputs("- **Oracle**: knows each stroke's effort before it lands and the athlete's force\n"
          "  law, and obeys the same drive and limits. Run with force targets at 0.1 to 0.9\n"
          "  of the band, it gives a curve of time in band against throughput (below), read\n"
          "  at eccd's throughput (\\*: outside the curve, its nearer end). **Gap**: oracle\n"
          "  minus eccd, in points. **Oracle valid/45 s at eccd's in band**: the most\n"
          "  valid strokes per 45 s the oracle makes with at least eccd's time in band (the\n"
          "  throughput eccd leaves on the table; -: no target is that good).\n"
          "- Verdicts treat differences under half the last digit shown as ties.\n", out);
}

/* A cell's trade-off: time in band against throughput, for each fixed speed and for
 * the oracle at each target. */
static void print_curves(FILE *out, const struct cell *c, const struct row *r)
{
    fprintf(out, "\n#### %s: time in band against throughput\n\n", c->name);
    fprintf(out, "| fixed speed | in band | valid/45 s |   | oracle target | in band | "
                 "valid/45 s |\n| ---: | ---: | ---: | --- | ---: | ---: | ---: |\n");
    for (int i = 0; i < N_FIXED || i < N_TARGETS; i++) {
        if (i < N_FIXED)
            fprintf(out, "| %.2f m/s | %.1f%% | %.1f |   ", fixed_mps(i),
                    100.0 * r->fixed[i].in_band, r->fixed[i].per45);
        else
            fprintf(out, "| | | |   ");
        if (i < N_TARGETS)
            fprintf(out, "| %.0f N | %.1f%% | %.1f |\n",
                    BAND_LOW + target_pos(i) * (BAND_HIGH - BAND_LOW),
                    100.0 * r->oracle[i].in_band, r->oracle[i].per45);
        else
            fprintf(out, "| | | |\n");
    }
    fprintf(out, "\neccd: %.1f%% at %.1f valid strokes per 45 s.\n", 100.0 * r->eccd.in_band,
            r->eccd.per45);
}

/* A verdict of issue 11: a name for the test line, whether it holds, what it says. */
struct verdict {
    const char *name;           /* t_control's test name */
    bool pass;
    char text[640];             /* the PASS/FAIL line's words, with the figures */
};
#define N_VERDICTS 6

/* Append " [cell]" to a list of the cells where a verdict fails. */
static void list_cell(char *list, size_t size, size_t *n, const char *cell)
{
    if (*n < size)
        *n += (size_t)snprintf(list + *n, size - *n, " [%s]", cell);
}

/* Set verdict v: its name, whether it holds, and text with ":WHERE" when it does not. */
static void verdict_set(struct verdict *v, const char *name, bool pass, const char *where,
                        const char *text)
{
    v->name = name;
    v->pass = pass;
    snprintf(v->text, sizeof v->text, "%s%s%s", text, pass ? "" : ":", pass ? "" : where);
}

/* The verdicts over every cell run: eccd holds the best fixed speed's time in band, no
 * fixed speed beats it on both, it counts exactly the valid strokes, and its command
 * never leads the drive by more than control.lead_margin_mps. Returns the number set. */
static int cell_verdicts(const struct row *rows, const bool *ran, struct verdict *v)
{
    char worse[512] = "", both[512] = "", wrong[512] = "", lead[512] = "";
    size_t nw = 0, nb = 0, nc = 0, nl = 0;
    double max_lead = 0.0;

    for (int i = 0; i < N_CELLS; i++) {
        const struct metrics *e = &rows[i].eccd;

        if (!ran[i])
            continue;
        if (e->in_band + TIE_SHARE < rows[i].fixed[rows[i].best_fixed].in_band)
            list_cell(worse, sizeof worse, &nw, cells[i].name);
        if (rows[i].better_fixed >= 0)
            list_cell(both, sizeof both, &nb, cells[i].name);
        if (e->false_reps || e->missed)
            list_cell(wrong, sizeof wrong, &nc, cells[i].name);
        if (e->lead > lead_margin_mps + TIE_LEAD)
            list_cell(lead, sizeof lead, &nl, cells[i].name);
        max_lead = fmax(max_lead, e->lead);
    }
    verdict_set(&v[0], "eccd_holds_the_best_fixed_speeds_time_in_band", !nw, worse,
                "eccd has at least the best fixed speed's time in band in every cell");
    verdict_set(&v[1], "no_fixed_speed_beats_eccd_on_both", !nb, both,
                "no fixed speed beats eccd on both time in band and throughput");
    verdict_set(&v[2], "counted_reps_are_the_valid_strokes", !nc, wrong,
                "eccd counts every valid stroke and no other, in every cell (0 false, 0 missed)");
    v[3] = (struct verdict){.name = "the_command_never_leads_the_drive", .pass = !nl};
    snprintf(v[3].text, sizeof v[3].text,
             "the command never more than %.2f m/s above the drive's output in any cell "
             "(largest %.3f m/s)%s%s", lead_margin_mps, max_lead, nl ? ":" : "", lead);
    return 4;
}

/* HARD: close to the oracle at eccd's throughput, and enough throughput. */
static int hard_verdicts(const struct row *hard, struct verdict *v)
{
    double gap = gap_points(hard);

    v[0] = (struct verdict){.name = "hard_within_4_points_of_the_oracle",
                            .pass = gap <= HARD_GAP_MAX};
    snprintf(v[0].text, sizeof v[0].text,
             "HARD: within %.0f points of the oracle at equal throughput (%.1f)%s", HARD_GAP_MAX,
             gap, hard->oracle_clamped ? " (throughput outside the oracle's curve)" : "");
    v[1] = (struct verdict){.name = "hard_at_least_15_valid_strokes_per_45_s",
                            .pass = hard->eccd.per45 >= HARD_PER45_MIN};
    snprintf(v[1].text, sizeof v[1].text, "HARD: at least %.0f valid strokes per 45 s (%.1f)",
             HARD_PER45_MIN, hard->eccd.per45);
    return 2;
}

/* The verdicts of issue 11 into v (N_VERDICTS long); hard: the HARD row, or NULL when
 * it was not run. Returns how many. */
static int verdicts_judge(const struct row *rows, const bool *ran, const struct row *hard,
                          struct verdict *v)
{
    int n = cell_verdicts(rows, ran, v);

    if (hard)
        n += hard_verdicts(hard, v + n);
    return n;
}

/* One line a verdict: "PASS  TEXT" for the table, or tests/test.h's "ok   t_control: NAME"
 * and "FAIL t_control: NAME: TEXT" (as_test). Returns the number that failed. */
static int verdicts_print(FILE *out, const struct verdict *v, int n, bool as_test)
{
    int failed = 0;

    for (int i = 0; i < n; i++) {
        failed += !v[i].pass;
        if (!as_test)
            fprintf(out, "%s  %s\n", v[i].pass ? "PASS" : "FAIL", v[i].text);
        else if (v[i].pass)
            fprintf(out, "ok   t_control: %s\n", v[i].name);
        else
            fprintf(out, "FAIL t_control: %s: %s\n", v[i].name, v[i].text);
    }
    return failed;
}

/* The table, its notes, the verdicts, then HARD's curves (every cell's with --curves). */
static void print_all(FILE *out, const struct row *rows, const bool *ran,
                      const struct options *o)
{
    struct verdict v[N_VERDICTS];

    table_head(out);
    for (int i = 0; i < N_CELLS; i++)
        if (ran[i])
            table_row(out, &cells[i], &rows[i]);
    table_notes(out, o->seeds);
    if (!o->check) {            /* --check prints them as test lines instead */
        fputs("\n```text\n", out);  /* one verdict a line, in markdown too */
        verdicts_print(out, v, verdicts_judge(rows, ran, ran[0] ? &rows[0] : NULL, v), false);
        fputs("```\n", out);
    }
    for (int i = 0; i < N_CELLS; i++)
        if (ran[i] && (i == 0 || o->curves))
            print_curves(out, &cells[i], &rows[i]);
}

static int write_table(const struct row *rows, const bool *ran, const struct options *o)
{
    FILE *f = fopen(TABLE_PATH, "w");

    if (!f) {
        fprintf(stderr, "bench-control: %s: %s\n", TABLE_PATH, strerror(errno));
        return -1;
    }
    struct options docs = *o;

    docs.check = false;         /* the page shows its verdicts as PASS/FAIL lines */
    fprintf(f, "<!-- written by `make bench-control BENCH_CONTROL_FLAGS=--write-docs` "
               "(tests/bench_control.c); do not edit -->\n\n");
    print_all(f, rows, ran, &docs);
    if (fclose(f) != 0) {
        fprintf(stderr, "bench-control: %s: %s\n", TABLE_PATH, strerror(errno));
        return -1;
    }
    fprintf(stderr, "wrote %s\n", TABLE_PATH);
    return 0;
}

/* ---- the picture: one HARD set of eccd, through the rep log and trace eccreport reads */

static void run_header(FILE *f, const struct ecc_config *cfg)
{
    fprintf(f, "{\"event\":\"run\",\"version\":1,\"mode\":\"%s\",\"band_low\":%g,"
               "\"band_high\":%g,\"speed_max\":%g,\"fixed_speed\":%g,\"reps_per_set\":%d,"
               "\"sets_per_session\":%d,\"scenario\":\"bench/hard\",\"seed\":%u}\n",
            config_mode_name(cfg->control.mode), cfg->band.force_low, cfg->band.force_high,
            cfg->limits.speed_max, cfg->control.fixed_speed, cfg->protocol.reps_per_set,
            cfg->protocol.sets_per_session, cfg->sim.seed);
}

/* Run it into two files in dir; return 0 when both were written. */
static int svg_record(const char *log_path, const char *trace_path)
{
    struct overrides o;
    struct ecc_config cfg;
    FILE *log, *trace;
    int rc = -1;

    cell_overrides(&cells[0], 0.0, &o);
    if (load_cfg(&cells[0], 1, &o, &cfg) != 0)
        return -1;
    log = fopen(log_path, "w");
    trace = fopen(trace_path, "w");
    if (log && trace) {
        run_header(log, &cfg);
        rc = run_loop(&cfg, 4000.0, log, trace, &res);
    }
    if ((log && fclose(log) != 0) || (trace && fclose(trace) != 0) || !log || !trace)
        rc = -1;
    return rc;
}

static int svg_draw(const char *log_path, const char *trace_path)
{
    struct report_log log = {0};
    struct report_trace tr = {0};
    struct report_trace_filter f;
    char err[512];
    int rc = -1;

    report_trace_filter_all(&f);
    f.session = 1;
    f.set = 1;
    f.trim_idle = 1;
    if (report_load_log(log_path, &log, err, sizeof err) == 0 &&
        report_load_trace(trace_path, &f, &tr, err, sizeof err) == 0) {
        struct svg_run run = {&log, &tr};

        rc = svg_write_file(SVG_PATH, &run, 1, 1, 1, err, sizeof err);
    }
    if (rc != 0)
        fprintf(stderr, "bench-control: %s\n", err);
    report_trace_fini(&tr);
    report_log_fini(&log);
    return rc;
}

static int write_svg(void)
{
    char dir[] = "/tmp/bench-control.XXXXXX", log_path[64], trace_path[64];
    int rc;

    if (!mkdtemp(dir)) {
        fprintf(stderr, "bench-control: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    snprintf(log_path, sizeof log_path, "%s/HARD-seed1.jsonl", dir);
    snprintf(trace_path, sizeof trace_path, "%s/HARD-seed1.csv", dir);
    rc = svg_record(log_path, trace_path);
    if (rc == 0)
        rc = svg_draw(log_path, trace_path);
    unlink(log_path);
    unlink(trace_path);
    rmdir(dir);
    if (rc == 0)
        fprintf(stderr, "wrote %s\n", SVG_PATH);
    return rc;
}

/* ---- main ---------------------------------------------------------------------------- */

static int usage(const char *prog)
{
    fprintf(stderr, "usage: %s [--write-docs] [--curves] [--cell TEXT] [--seeds N] [--check]\n"
                    "  --write-docs  also write %s and %s\n"
                    "  --curves      every cell's fixed-speed and oracle curves (default: HARD's)\n"
                    "  --cell TEXT   only the cells whose name contains TEXT\n"
                    "  --seeds N     seeds 1..N (default %d)\n"
                    "  --check       the verdicts as test lines (tests/t_control.sh), exit 1 if\n"
                    "                one fails\n",
            prog, TABLE_PATH, SVG_PATH, SEEDS);
    return 2;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){.seeds = SEEDS};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--write-docs"))
            o->write_docs = true;
        else if (!strcmp(argv[i], "--check"))
            o->check = true;
        else if (!strcmp(argv[i], "--curves"))
            o->curves = true;
        else if (!strcmp(argv[i], "--cell") && i + 1 < argc)
            o->only = argv[++i];
        else if (!strcmp(argv[i], "--seeds") && i + 1 < argc && atoi(argv[i + 1]) > 0)
            o->seeds = atoi(argv[++i]);
        else
            return -1;
    }
    return 0;
}

/* The drive's top speed, from which drive.accel_time_s follows for a given ramp. */
static int read_drive(void)
{
    struct ecc_config cfg;
    char err[512];

    if (config_load(&cfg, "config/sim.ini", err, sizeof err) != 0) {
        fprintf(stderr, "bench-control: %s (run from the source tree's top)\n", err);
        return -1;
    }
    drive_max_mps = cfg.drive.max_hz / cfg.drive.hz_per_mps;
    lead_margin_mps = cfg.control.lead_margin;
    return 0;
}

int main(int argc, char **argv)
{
    static struct row rows[N_CELLS];
    bool ran[N_CELLS] = {false};
    struct options o;
    double t0 = bench_wall();
    int n_run = 0, k = 0;

    if (parse_args(argc, argv, &o) != 0)
        return usage(argv[0]);
    if (read_drive() != 0)
        return 1;
    for (int i = 0; i < N_CELLS; i++)
        n_run += !o.only || strstr(cells[i].name, o.only);
    for (int i = 0; i < N_CELLS; i++) {
        if (o.only && !strstr(cells[i].name, o.only))
            continue;
        if (run_cell(&cells[i], o.seeds, &rows[i]) != 0)
            return 1;
        ran[i] = true;
        progress(++k, n_run, &cells[i], &rows[i]);
    }
    printf("## eccd against the best fixed speed and an oracle (make bench-control)\n\n");
    print_all(stdout, rows, ran, &o);
    fprintf(stderr, "bench-control: %d cells x %d seeds in %.0f s\n", n_run, o.seeds,
            bench_wall() - t0);
    if (o.write_docs && (write_table(rows, ran, &o) != 0 || write_svg() != 0))
        return 1;
    if (o.check) {
        struct verdict v[N_VERDICTS];
        int n = verdicts_judge(rows, ran, ran[0] ? &rows[0] : NULL, v);

        return verdicts_print(stdout, v, n, true) ? 1 : 0;
    }
    return 0;
}
