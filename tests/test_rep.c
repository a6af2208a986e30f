/* test_rep.c - the rep detector against strokes whose figures are worked out by hand.
 *
 * Every stroke is fed at dt = 0.125 s (exact in binary, so sums are exact); tick k
 * (0-based) ends at t = (k + 1) * dt. Params: contact 20 N, release 10 N, band
 * [80, 120] N, minimums 1.0 s, 0.3 m, share 0.5.
 */
#include "controller/rep.h"
#include "tests/test.h"

#define DT 0.125
#define EXACT 1e-9

static const struct rep_params params = {
    .contact_n = 20.0, .release_n = 10.0,
    .force_low = 80.0, .force_high = 120.0,
    .min_stroke_s = 1.0, .min_travel_m = 0.3, .min_in_band = 0.5,
};

struct run {
    int contacts, releases;
    int k_contact, k_release;        /* tick index of the last contact / release */
    struct rep_figures last;         /* figures of the last release */
};

/* Feed forces[0..n) at constant speed, tick k ending at (k0 + k + 1) * DT. */
static struct run feed_from(struct rep_det *r, int k0, const double *forces, int n, double speed)
{
    struct run out = {.k_contact = -1, .k_release = -1};

    for (int k = 0; k < n; k++) {
        struct rep_figures f;
        enum rep_event ev = rep_update(r, (k0 + k + 1) * DT, forces[k], speed, DT, REP_FREE, &f);
        if (ev == REP_EV_CONTACT) {
            out.contacts++;
            out.k_contact = k;
        } else if (ev == REP_EV_RELEASE) {
            out.releases++;
            out.k_release = k;
            out.last = f;
        }
    }
    return out;
}

static struct run feed(struct rep_det *r, const double *forces, int n, double speed)
{
    return feed_from(r, 0, forces, n, speed);
}

/* Fill forces[0..n) with the value v; returns n so calls can be chained. */
static int fill(double *forces, int n, double v)
{
    for (int i = 0; i < n; i++)
        forces[i] = v;
    return n;
}

#define N_OF(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Trapezoid: 0 0 | 40 80 100x12 80 40 | 0 at 0.25 m/s.
 * Loaded ticks k = 2..17 (16 ticks), release at k = 18.
 *   t_start = 3 * dt = 0.375, t_end = 19 * dt = 2.375, duration = 16 * dt = 2.0 s
 *   travel = 0.25 * 2.0 = 0.5 m
 *   force integral = dt * (40 + 80 + 12*100 + 80 + 40) = 0.125 * 1440 = 180 N s
 *   mean = 180 / 2.0 = 90 N, peak = 100 N, work = 180 * 0.25 = 45 J
 *   band first reached at the end of tick k = 3 (80 N): t_first_band = 4*dt = 0.5
 *   the lift: walking back from the release (0 N) the force fell 40, 40, 20 N a tick
 *   (>= 100 N/s x dt = 12.5 N), then 0: the lift began at the tick at 16 dt = 2.0 s
 *   the loaded window (landing_s 0): 3 dt .. 16 dt = 13 ticks = 1.625 s
 *   in band: 80, then 100 x 11 = 12 ticks = 1.5 s; share = 12/13 */
TEST(trapezoid_stroke_gives_hand_figures)
{
    double forces[19] = {0, 0, 40, 80};
    fill(forces + 4, 12, 100.0);
    forces[16] = 80;
    forces[17] = 40;
    forces[18] = 0;
    struct rep_det r;
    rep_init(&r, &params);

    struct run run = feed(&r, forces, N_OF(forces), 0.25);

    CHECK_INT(run.contacts, 1);
    CHECK_INT(run.releases, 1);
    CHECK_INT(run.k_contact, 2);
    CHECK_INT(run.k_release, 18);
    CHECK_NEAR(run.last.t_start, 0.375, EXACT);
    CHECK_NEAR(run.last.t_end, 2.375, EXACT);
    CHECK_NEAR(run.last.duration_s, 2.0, EXACT);
    CHECK_NEAR(run.last.travel_m, 0.5, EXACT);
    CHECK_NEAR(run.last.peak_n, 100.0, EXACT);
    CHECK_NEAR(run.last.mean_n, 90.0, EXACT);
    CHECK_NEAR(run.last.work_j, 45.0, EXACT);
    CHECK_NEAR(run.last.t_first_band, 0.5, EXACT);
    CHECK_NEAR(run.last.t_lift, 2.0, EXACT);
    CHECK_NEAR(run.last.window_s, 1.625, EXACT);
    CHECK_NEAR(run.last.in_band_s, 1.5, EXACT);
    CHECK_NEAR(run.last.in_band_share, 12.0 / 13.0, EXACT);
    CHECK_INT(run.last.verdict, REP_COUNTED);
    CHECK(!rep_loaded(&r));
}

TEST(progress_queries_follow_the_stroke)
{
    struct rep_det r;
    struct rep_figures f;
    rep_init(&r, &params);

    CHECK(!rep_loaded(&r));
    CHECK_NEAR(rep_stroke_time(&r, 5.0), 0.0, EXACT);
    CHECK_INT(rep_update(&r, 1.0, 50.0, 0.2, DT, REP_FREE, &f), REP_EV_CONTACT);
    CHECK(rep_loaded(&r));
    CHECK(!rep_reached_band(&r));
    CHECK_NEAR(rep_stroke_time(&r, 1.5), 0.5, EXACT);
    CHECK_INT(rep_update(&r, 1.125, 90.0, 0.2, DT, REP_FREE, &f), REP_EV_NONE);
    CHECK(rep_reached_band(&r));
    CHECK_INT(rep_update(&r, 1.25, 5.0, 0.2, DT, REP_FREE, &f), REP_EV_RELEASE);
    CHECK(!rep_loaded(&r));
    CHECK(!rep_reached_band(&r));
}

/* Between release (10) and contact (20) nothing changes state. */
TEST(noise_at_contact_threshold_makes_one_stroke)
{
    double forces[40];
    int n = 0;
    for (int i = 0; i < 6; i++)              /* idle noise just under contact */
        forces[n++] = (i % 2) ? 19.0 : 12.0;
    for (int i = 0; i < 10; i++)             /* chatter across contact_n */
        forces[n++] = (i % 2) ? 25.0 : 11.0;
    n += fill(forces + n, 10, 100.0);
    for (int i = 0; i < 10; i++)             /* chatter on the way down, above release */
        forces[n++] = (i % 2) ? 21.0 : 10.5;
    forces[n++] = 0.0;
    struct rep_det r;
    rep_init(&r, &params);

    struct run run = feed(&r, forces, n, 0.25);

    CHECK_INT(run.contacts, 1);
    CHECK_INT(run.releases, 1);
    CHECK_INT(run.k_contact, 7);             /* first 25 N tick */
    CHECK_INT(run.k_release, n - 1);
}

/* 6 ticks at 100 N, 0.8 m/s: duration 0.75 s (< 1.0), travel 0.6 m (ok),
 * band from the contact tick: t_first_band = t_start, span 0.75 s,
 * in band 0.75 s, share 1 (ok). */
TEST(too_short_alone)
{
    double forces[7];
    fill(forces, 6, 100.0);
    forces[6] = 0.0;
    struct rep_det r;
    rep_init(&r, &params);

    struct run run = feed(&r, forces, N_OF(forces), 0.8);

    CHECK_INT(run.releases, 1);
    CHECK_NEAR(run.last.duration_s, 0.75, EXACT);
    CHECK_NEAR(run.last.travel_m, 0.6, EXACT);
    CHECK_NEAR(run.last.t_first_band, run.last.t_start, EXACT);
    CHECK_NEAR(run.last.in_band_share, 1.0, EXACT);
    CHECK_INT(run.last.verdict, REP_TOO_SHORT);
    CHECK_STR_CONTAINS(rep_verdict_name(run.last.verdict), "too_short");
}

/* 16 ticks at 100 N, 0.1 m/s: duration 2.0 s (ok), travel 0.2 m (< 0.3),
 * in band from contact to release: share 1 (ok). */
TEST(too_little_travel_alone)
{
    double forces[17];
    fill(forces, 16, 100.0);
    forces[16] = 0.0;
    struct rep_det r;
    rep_init(&r, &params);

    struct run run = feed(&r, forces, N_OF(forces), 0.1);

    CHECK_NEAR(run.last.duration_s, 2.0, EXACT);
    CHECK_NEAR(run.last.travel_m, 0.2, 1e-12);
    CHECK_NEAR(run.last.in_band_share, 1.0, EXACT);
    CHECK_INT(run.last.verdict, REP_TOO_LITTLE_TRAVEL);
}

/* 2 ticks at 100 N then 14 at 50 N, 0.25 m/s: duration 2.0, travel 0.5 (ok); the last
 * tick (50 N, then 0) is the lift: window 15 ticks, in band 2: share 2/15 (< 0.5). */
TEST(out_of_band_alone)
{
    double forces[17];
    fill(forces, 2, 100.0);
    fill(forces + 2, 14, 50.0);
    forces[16] = 0.0;
    struct rep_det r;
    rep_init(&r, &params);

    struct run run = feed(&r, forces, N_OF(forces), 0.25);

    CHECK_NEAR(run.last.duration_s, 2.0, EXACT);
    CHECK_NEAR(run.last.in_band_s, 0.25, EXACT);
    CHECK_NEAR(run.last.in_band_share, 2.0 / 15.0, EXACT);
    CHECK_NEAR(run.last.peak_n, 100.0, EXACT);
    CHECK_NEAR(run.last.mean_n, (2 * 100.0 + 14 * 50.0) / 16.0, EXACT);
    CHECK_INT(run.last.verdict, REP_OUT_OF_BAND);
}

/* Above the band the whole time (150 N): never reached, share 0. */
TEST(never_in_band_is_out_of_band_with_share_zero)
{
    double forces[17];
    fill(forces, 16, 150.0);
    forces[16] = 0.0;
    struct rep_det r;
    rep_init(&r, &params);

    struct run run = feed(&r, forces, N_OF(forces), 0.25);

    CHECK_NEAR(run.last.t_first_band, -1.0, EXACT);
    CHECK_NEAR(run.last.in_band_s, 0.0, EXACT);
    CHECK_NEAR(run.last.in_band_share, 0.0, EXACT);
    CHECK_INT(run.last.verdict, REP_OUT_OF_BAND);
}

TEST(band_edges_are_inside)
{
    double forces[] = {80.0, 120.0, 120.0, 80.0, 80.0, 0.0};   /* the last 80: the lift */
    struct rep_det r;
    rep_init(&r, &params);

    struct run run = feed(&r, forces, N_OF(forces), 0.25);

    CHECK_NEAR(run.last.in_band_s, 4 * DT, EXACT);
    CHECK_NEAR(run.last.in_band_share, 1.0, EXACT);
}

TEST(precedence_short_before_travel_before_band)
{
    struct rep_det r;
    rep_init(&r, &params);

    /* short (0.5 s), little travel (0.05 m), out of band (50 N): too_short wins */
    double all_three[] = {50, 50, 50, 50, 0};
    struct run run = feed(&r, all_three, N_OF(all_three), 0.1);
    CHECK_INT(run.last.verdict, REP_TOO_SHORT);

    /* long enough, little travel (0.2 m), out of band: too_little_travel wins */
    double travel_and_band[17];
    fill(travel_and_band, 16, 50.0);
    travel_and_band[16] = 0.0;
    run = feed_from(&r, 10, travel_and_band, N_OF(travel_and_band), 0.1);
    CHECK_INT(run.last.verdict, REP_TOO_LITTLE_TRAVEL);
}

/* Contact at k = 0 (t = 0.125), 8 loaded ticks of 100 N at 0.25 m/s, abort at
 * t = 1.125: duration 1.0, travel 0.25, mean 100, work 25, share 1.0 / 1.125. */
TEST(abort_mid_stroke_fills_figures)
{
    double forces[8];
    fill(forces, 8, 100.0);
    struct rep_det r;
    struct rep_figures f;
    rep_init(&r, &params);

    CHECK(!rep_abort(&r, 0.0, &f));          /* idle: nothing to abort */
    struct run run = feed(&r, forces, N_OF(forces), 0.25);
    CHECK_INT(run.contacts, 1);
    CHECK(rep_abort(&r, 1.125, &f));

    CHECK_INT(f.verdict, REP_ABORTED);
    CHECK_NEAR(f.t_start, 0.125, EXACT);
    CHECK_NEAR(f.t_end, 1.125, EXACT);
    CHECK_NEAR(f.duration_s, 1.0, EXACT);
    CHECK_NEAR(f.travel_m, 0.25, EXACT);
    CHECK_NEAR(f.mean_n, 100.0, EXACT);
    CHECK_NEAR(f.work_j, 25.0, EXACT);
    CHECK_NEAR(f.in_band_share, 1.0, EXACT);   /* in band from contact to the abort */
    CHECK(!rep_loaded(&r));
    CHECK(!rep_abort(&r, 1.25, &f));
}

/* A second stroke starts from clean sums. */
TEST(strokes_do_not_share_sums)
{
    double first[] = {150, 150, 150, 0};
    double second[] = {100, 100, 0};
    struct rep_det r;
    rep_init(&r, &params);

    feed(&r, first, N_OF(first), 0.5);
    struct run run = feed_from(&r, 4, second, N_OF(second), 0.5);

    CHECK_NEAR(run.last.peak_n, 100.0, EXACT);
    CHECK_NEAR(run.last.duration_s, 0.25, EXACT);
    CHECK_NEAR(run.last.travel_m, 0.125, EXACT);
    CHECK_NEAR(run.last.window_s, 0.125, EXACT);     /* the second tick is the lift */
    CHECK_NEAR(run.last.in_band_s, 0.125, EXACT);
}

/* landing_s = 2 dt: 40 N twice while landing (below the band, not judged), 100 N x 10,
 * lift: the window is the 9 ticks of 100 N before the lift, all in band. */
TEST(the_landing_is_not_judged)
{
    struct rep_params p = params;
    double forces[14] = {40, 40};
    struct rep_det r;

    fill(forces + 2, 10, 100.0);
    forces[12] = forces[13] = 0.0;
    p.landing_s = 2 * DT;
    rep_init(&r, &p);
    struct run run = feed(&r, forces, N_OF(forces), 0.25);
    CHECK_NEAR(run.last.window_s, 9 * DT, EXACT);
    CHECK_NEAR(run.last.in_band_share, 1.0, EXACT);
    CHECK_INT(run.last.verdict, REP_COUNTED);
}

/* Below the floor is out, wherever in the stroke: 50 N x 8 then 100 N x 8 counted
 * from the first tick in the band would be a share of 1; over the loaded window it is
 * 7 of 15 (the last 100 N is the lift), under the 0.5 minimum. */
TEST(time_below_the_floor_counts_as_out)
{
    double forces[17];
    struct rep_det r;

    fill(forces, 8, 50.0);
    fill(forces + 8, 8, 100.0);
    forces[16] = 0.0;
    rep_init(&r, &params);
    struct run run = feed(&r, forces, N_OF(forces), 0.25);
    CHECK_NEAR(run.last.in_band_share, 7.0 / 15.0, EXACT);
    CHECK_INT(run.last.verdict, REP_OUT_OF_BAND);
}

/* Feed at constant force with the belt pinned at a limit. */
static enum rep_verdict pinned_verdict(double force, enum rep_limit lim)
{
    struct rep_det r;
    struct rep_figures f = {0};
    int k;

    rep_init(&r, &params);
    for (k = 0; k < 16; k++)
        rep_update(&r, (k + 1) * DT, force, 0.25, DT, lim, &f);
    CHECK_INT(rep_update(&r, (k + 1) * DT, 0.0, 0.25, DT, lim, &f), REP_EV_RELEASE);
    return f.verdict;
}

TEST(strokes_no_speed_could_put_in_the_band_say_so)
{
    CHECK_INT(pinned_verdict(150.0, REP_AT_MIN), REP_ABOVE_AT_MIN);
    CHECK_INT(pinned_verdict(50.0, REP_AT_MAX), REP_BELOW_AT_MAX);
    /* pinned, but on the side a speed change would have fixed: the controller's failure */
    CHECK_INT(pinned_verdict(150.0, REP_AT_MAX), REP_OUT_OF_BAND);
    CHECK_INT(pinned_verdict(50.0, REP_AT_MIN), REP_OUT_OF_BAND);
    CHECK_INT(pinned_verdict(150.0, REP_FREE), REP_OUT_OF_BAND);
    CHECK_STR_CONTAINS(rep_verdict_name(REP_ABOVE_AT_MIN), "above_band_at_min_speed");
    CHECK_STR_CONTAINS(rep_verdict_name(REP_BELOW_AT_MAX), "below_band_at_max_speed");
}

#define LIFT_DT 0.01                 /* a 100 Hz loop */
#define LIFT_AT 1.5                  /* s, the foot starts to lift */

/* Run a lift through the detector: seen(t, raw, state) turns the foot's force at tick t
 * into what the detector gets. Returns the lift time the detector found (-1: no release). */
static double found_lift(double (*seen)(double t, double raw, double *state), double plateau)
{
    struct rep_det r;
    struct rep_figures f = {0};
    double state = 0.0;

    rep_init(&r, &params);
    for (double t = LIFT_DT; t < 3.0; t += LIFT_DT) {
        double raw = t < LIFT_AT ? plateau + 2.0 * sin(31.4 * t)
                                 : fmax(0.0, plateau * (1.0 - (t - LIFT_AT) / 0.15));
        if (rep_update(&r, t, seen(t, raw, &state), 0.3, LIFT_DT, REP_FREE, &f) ==
            REP_EV_RELEASE)
            return f.t_lift;
    }
    return -1.0;
}

/* the force filter: first order, 20 ms */
static double filtered(double t, double raw, double *filt)
{
    (void)t;
    *filt += (raw - *filt) * LIFT_DT / (0.02 + LIFT_DT);
    return *filt;
}

/* an 80 Hz load cell under the 100 Hz loop: every fifth tick repeats the last sample */
static double held_at_80hz(double t, double raw, double *held)
{
    if (fmod(t * 80.0, 1.0) < 0.8)
        *held = raw;
    return *held;
}

/* A real lift (90 N to 0 over 0.15 s) through the force filter is found within a tick or
 * four of where it began. */
TEST(a_gradual_lift_is_found_where_it_began)
{
    double t = found_lift(filtered, 90.0);

    printf("  lift found at %.3f s (began at %.3f s)\n", t, LIFT_AT);
    CHECK(t >= LIFT_AT - 0.015 && t <= LIFT_AT + 0.04);
}

/* Through a slower load cell the lift is still found: the fall is judged over
 * REP_LIFT_SPAN_S, not tick to tick (a repeated value would stop the walk back). */
TEST(a_lift_seen_through_a_slower_load_cell_is_found)
{
    double t = found_lift(held_at_80hz, 100.0);

    printf("  lift found at %.3f s (began at %.3f s)\n", t, LIFT_AT);
    CHECK(t >= LIFT_AT - 0.015 && t <= LIFT_AT + 0.03);
}

TEST(non_finite_input_counts_as_zero)
{
    struct rep_det r;
    struct rep_figures f;
    rep_init(&r, &params);

    CHECK_INT(rep_update(&r, 0.125, NAN, 0.25, DT, REP_FREE, &f), REP_EV_NONE);
    CHECK_INT(rep_update(&r, 0.25, 100.0, INFINITY, DT, REP_FREE, &f), REP_EV_CONTACT);
    CHECK_INT(rep_update(&r, 0.375, 100.0, 0.5, DT, REP_FREE, &f), REP_EV_NONE);
    CHECK_INT(rep_update(&r, 0.5, NAN, 0.5, DT, REP_FREE, &f), REP_EV_RELEASE);
    CHECK_NEAR(f.travel_m, 0.0625, EXACT);   /* only the finite tick moved */
    CHECK(isfinite(f.work_j) && isfinite(f.mean_n) && isfinite(f.peak_n));
}

TEST(verdict_names)
{
    CHECK_STR_CONTAINS(rep_verdict_name(REP_COUNTED), "counted");
    CHECK_STR_CONTAINS(rep_verdict_name(REP_TOO_LITTLE_TRAVEL), "too_little_travel");
    CHECK_STR_CONTAINS(rep_verdict_name(REP_OUT_OF_BAND), "out_of_band");
    CHECK_STR_CONTAINS(rep_verdict_name(REP_ABORTED), "aborted");
    CHECK_STR_CONTAINS(rep_verdict_name(REP_VERDICT_COUNT), "unknown");
}

TESTS(T(trapezoid_stroke_gives_hand_figures), T(progress_queries_follow_the_stroke),
      T(noise_at_contact_threshold_makes_one_stroke), T(too_short_alone),
      T(too_little_travel_alone), T(out_of_band_alone), T(the_landing_is_not_judged),
      T(time_below_the_floor_counts_as_out), T(strokes_no_speed_could_put_in_the_band_say_so),
      T(a_gradual_lift_is_found_where_it_began),
      T(a_lift_seen_through_a_slower_load_cell_is_found),
      T(never_in_band_is_out_of_band_with_share_zero), T(band_edges_are_inside),
      T(precedence_short_before_travel_before_band), T(abort_mid_stroke_fills_figures),
      T(strokes_do_not_share_sums), T(non_finite_input_counts_as_zero), T(verdict_names));
TEST_MAIN("test_rep")
