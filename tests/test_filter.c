/* test_filter.c - force filter: spike rejection, corner frequency, uneven sampling. */
#include "controller/filter.h"

#include <math.h>

#include "tests/test.h"

#define PI 3.14159265358979323846

/* Deterministic pseudo-random numbers in [0, 1) (xorshift64). */
static double rand01(unsigned long long *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return (double)(*state >> 11) / 9007199254740992.0;
}

TEST(zero_before_first_sample_then_first_sample_initialises)
{
    struct force_filter f;

    force_filter_init(&f, 5.0, true);
    CHECK(force_filter_value(&f) == 0.0);
    CHECK(force_filter_push(&f, 10.0, 73.5) == 73.5);
    CHECK(force_filter_value(&f) == 73.5);
}

TEST(single_sample_spike_never_reaches_output)
{
    struct force_filter f;
    const double dt = 1.0 / 80;      /* HX711 at 80 SPS */

    force_filter_init(&f, 5.0, true);
    for (int i = 0; i < 400; i++) {
        /* isolated spikes of +300 N and -300 N every 10th sample */
        double x = 50.0;
        if (i >= 3 && i % 10 == 5)
            x += (i % 20 == 5) ? 300.0 : -300.0;
        double y = force_filter_push(&f, i * dt, x);
        CHECK(fabs(y - 50.0) <= 1.0);
    }
}

TEST(spike_on_a_moving_signal_moves_output_less_than_1_n)
{
    struct force_filter clean, spiked;
    const double dt = 1.0 / 80;

    force_filter_init(&clean, 5.0, true);
    force_filter_init(&spiked, 5.0, true);
    double worst = 0.0;
    for (int i = 0; i < 800; i++) {
        double t = i * dt;
        double x = 50.0 + 20.0 * sin(2 * PI * 1.0 * t);
        double yc = force_filter_push(&clean, t, x);
        double ys = force_filter_push(&spiked, t, (i >= 3 && i % 7 == 0) ? x + 300.0 : x);
        worst = fmax(worst, fabs(ys - yc));
    }
    CHECK(worst <= 1.0);
}

TEST(two_sample_step_passes_one_sample_late)
{
    struct force_filter rej, plain;
    const double dt = 1.0 / 80;
    double peak_rej = 0, peak_plain = 0;

    force_filter_init(&rej, 5.0, true);
    force_filter_init(&plain, 5.0, false);
    for (int i = 0; i < 60; i++) {
        double x = (i == 20 || i == 21) ? 350.0 : 50.0;
        double yr = force_filter_push(&rej, i * dt, x);
        double yp = force_filter_push(&plain, i * dt, x);
        peak_rej = fmax(peak_rej, yr);
        peak_plain = fmax(peak_plain, yp);
        if (i == 20)
            CHECK(yr == 50.0);           /* the first sample alone is not trusted yet */
    }
    CHECK(peak_rej > 150.0);
    CHECK_NEAR(peak_rej, peak_plain, 1e-9);
}

TEST(sustained_step_is_followed)
{
    struct force_filter f;

    force_filter_init(&f, 5.0, true);
    for (int i = 0; i < 10; i++)
        force_filter_push(&f, i * 0.0125, 0.0);
    for (int i = 10; i < 200; i++)
        force_filter_push(&f, i * 0.0125, 100.0);
    CHECK_NEAR(force_filter_value(&f), 100.0, 1e-6);
}

/* Feed a unit step at t_step; return the time of the first sample at or above 1 - 1/e. */
static double time_to_63_percent(struct force_filter *f, double dt, double t_step)
{
    for (int i = 0; i < 100000; i++) {
        double t = i * dt;
        double y = force_filter_push(f, t, t >= t_step - 1e-12 ? 1.0 : 0.0);
        if (y >= 1.0 - exp(-1.0))
            return t;
    }
    return INFINITY;
}

TEST(step_reaches_63_percent_at_one_time_constant)
{
    struct force_filter f;
    const double cutoff = 2.0, dt = 0.001, tau = 1.0 / (2 * PI * cutoff), t_step = 0.5;

    force_filter_init(&f, cutoff, false);
    CHECK_NEAR(time_to_63_percent(&f, dt, t_step) - t_step, tau, dt);

    /* with spike rejection the median adds exactly one sample of delay */
    force_filter_init(&f, cutoff, true);
    CHECK_NEAR(time_to_63_percent(&f, dt, t_step) - t_step, tau + dt, dt);
}

TEST(uneven_gaps_give_the_exact_exponential)
{
    struct force_filter f;
    const double cutoff = 2.0, tau = 1.0 / (2 * PI * cutoff);
    unsigned long long rng = 12345;
    double t = 0, t_before_step = 0, worst = 0, t_cross = INFINITY;

    force_filter_init(&f, cutoff, false);
    for (int i = 0; i < 20; i++) {
        force_filter_push(&f, t, 0.0);
        t_before_step = t;
        t += 0.002 + 0.018 * rand01(&rng);   /* gaps from 2 to 20 ms */
    }
    /* the filter holds each new sample over the gap before it, so the exponential
     * starts at the last zero sample */
    while (t < t_before_step + 5 * tau) {
        double y = force_filter_push(&f, t, 1.0);
        worst = fmax(worst, fabs(y - (1.0 - exp(-(t - t_before_step) / tau))));
        if (y >= 1.0 - exp(-1.0) && t_cross == INFINITY)
            t_cross = t;
        t += 0.002 + 0.018 * rand01(&rng);   /* gaps from 2 to 20 ms */
    }
    CHECK(worst < 1e-9);
    CHECK_NEAR(t_cross - t_before_step, tau, 0.020);
}

/* Gain of the filter for a sine at freq_hz, sampled with gaps in [gap_lo, gap_hi]. */
static double sine_gain(double cutoff, double freq_hz, double gap_lo, double gap_hi,
                        unsigned long long seed)
{
    struct force_filter f;
    double t = 0, lo = INFINITY, hi = -INFINITY;

    force_filter_init(&f, cutoff, false);
    while (t < 20.0) {
        double y = force_filter_push(&f, t, sin(2 * PI * freq_hz * t));
        if (t > 10.0) {                   /* past the start-up transient */
            lo = fmin(lo, y);
            hi = fmax(hi, y);
        }
        t += gap_lo + (gap_hi - gap_lo) * rand01(&seed);
    }
    return (hi - lo) / 2;
}

TEST(uneven_sample_rate_keeps_the_corner_frequency)
{
    const double cutoff = 2.0;
    double even = sine_gain(cutoff, cutoff, 0.0125, 0.0125, 1);     /* 80 Hz */
    double jitter = sine_gain(cutoff, cutoff, 0.002, 0.030, 2);     /* 33..500 Hz */
    double slow = sine_gain(cutoff, cutoff, 0.1, 0.1, 3);            /* 10 Hz */

    /* -3 dB at the corner, whatever the sampling */
    CHECK_NEAR(even, sqrt(0.5), 0.02);
    CHECK_NEAR(jitter, sqrt(0.5), 0.03);
    CHECK_NEAR(slow, sqrt(0.5), 0.05);
    /* and a decade above it, -20 dB (sampled finely enough to see the peaks) */
    CHECK_NEAR(sine_gain(cutoff, 10 * cutoff, 0.0005, 0.0015, 4), 0.0995, 0.005);
}

TEST(non_finite_samples_are_ignored)
{
    struct force_filter a, b;
    const double dt = 0.0125;

    force_filter_init(&a, 5.0, true);
    force_filter_init(&b, 5.0, true);
    CHECK(force_filter_push(&a, 0.0, NAN) == 0.0);   /* not even the first sample */
    for (int i = 0; i < 100; i++) {
        double x = 40.0 + i;
        double ya = force_filter_push(&a, i * dt, x);
        double yb = force_filter_push(&b, i * dt, x);
        if (i % 5 == 2) {
            CHECK(force_filter_push(&a, i * dt + 0.001, NAN) == ya);
            CHECK(force_filter_push(&a, i * dt + 0.002, INFINITY) == ya);
            CHECK(force_filter_push(&a, i * dt + 0.003, -INFINITY) == ya);
        }
        CHECK(ya == yb);
    }
}

TEST(fewer_than_three_samples_pass_through)
{
    struct force_filter f;

    force_filter_init(&f, 1000.0, true);       /* corner far above: output ~ input */
    force_filter_push(&f, 0.0, 50.0);
    CHECK(force_filter_push(&f, 0.01, 350.0) > 349.0);
}

TEST(reset_forgets_history)
{
    struct force_filter f;

    force_filter_init(&f, 5.0, true);
    for (int i = 0; i < 50; i++)
        force_filter_push(&f, i * 0.0125, 200.0);
    force_filter_reset(&f);
    CHECK(force_filter_value(&f) == 0.0);
    CHECK(force_filter_push(&f, 1.0, 3.0) == 3.0);
}

TEST(duplicate_timestamp_does_not_divide_by_zero)
{
    struct force_filter f;

    force_filter_init(&f, 5.0, false);
    force_filter_push(&f, 1.0, 10.0);
    double y = force_filter_push(&f, 1.0, 20.0);
    CHECK(isfinite(y));
    CHECK(y == 10.0);                /* no time passed: the output cannot move */
}

TESTS(T(zero_before_first_sample_then_first_sample_initialises),
      T(single_sample_spike_never_reaches_output),
      T(spike_on_a_moving_signal_moves_output_less_than_1_n),
      T(two_sample_step_passes_one_sample_late),
      T(sustained_step_is_followed),
      T(step_reaches_63_percent_at_one_time_constant),
      T(uneven_gaps_give_the_exact_exponential),
      T(uneven_sample_rate_keeps_the_corner_frequency),
      T(non_finite_samples_are_ignored),
      T(fewer_than_three_samples_pass_through),
      T(reset_forgets_history),
      T(duplicate_timestamp_does_not_divide_by_zero));

TEST_MAIN("test_filter")
