/* bench_hx711.c - `make bench`: what one HX711 sample costs eccd's own code, the GPIO
 * backend excluded: the bit-banged read (24 data bits, gain pulses, each clock pulse timed)
 * plus screening and the calibration ring, on the fake GPIO backend and its HX711 model.
 * On a Raspberry Pi each line get/set is an ioctl on top of this (libgpiod: a few us).
 * Prints one line: median and p99 in ns per sample.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tests/gpio_fake.h"
#include "hal/hx711.h"
#include "tests/bench.h"

#define N_SAMPLES 20000
#define CONV_S 0.0125                /* s, 80 Hz */

int main(void)
{
    struct hx711_params p = {.gpio = &gpio_fake, .chip = "bench-hx711", .sck_line = 0,
                             .dout_line = 1, .gain = 128, .rate_hz = 80,
                             .ring = {.cal = {.offset = 0, .scale = 1e-4},
                                      .full_scale_n = 1000, .ring_len = 64}};
    static double cost[N_SAMPLES];
    static int32_t values[N_SAMPLES];
    double t[64], n[64];
    char err[256];
    int got = 0;

    struct gpio_fake *f = gpio_fake_open(p.chip, 2);
    if (!f || gpio_fake_hx711_attach(f, 0, 1, CONV_S) < 0)
        return 1;
    gpio_fake_set_clock_step(f, 0.1e-6);        /* the power-down hold at open ends */
    struct hx711 *h = hx711_open(&p, gpio_fake_now, f, err, sizeof err);
    if (!h) {
        fprintf(stderr, "bench_hx711: %s\n", err);
        return 1;
    }
    for (int i = 0; i < N_SAMPLES; i++)
        values[i] = 100000 + (i % 7) * 13;
    gpio_fake_hx711_push(f, values, N_SAMPLES);
    for (int i = 0; i < N_SAMPLES; i++) {
        gpio_fake_advance(f, gpio_fake_now(f) + CONV_S);
        double w0 = bench_wall();
        int rc = hx711_poll(h);
        cost[i] = (bench_wall() - w0) * 1e9;
        got += rc == 1;
        calibration_ring_read(hx711_ring(h), t, n, 64);   /* the control side drains it */
    }
    struct hx711_status st;
    hx711_status(h, &st);
    hx711_close(h);
    gpio_fake_close(f);
    bench_sort(cost, N_SAMPLES);
    printf("hx711 read (fake GPIO): median %6.0f ns   p99 %6.0f ns per sample   (%d samples, "
           "%ld accepted, longest clock pulse %.2f us of fake time)\n",
           cost[N_SAMPLES / 2], cost[N_SAMPLES * 99 / 100], got, st.accepted,
           st.max_high_s * 1e6);
    return got == N_SAMPLES && st.accepted == N_SAMPLES ? 0 : 1;
}
