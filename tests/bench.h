/* bench.h - what the benchmarks share: the wall clock and sorting for percentiles.
 * Only benchmarks read the wall clock; tests never assert a time. */
#ifndef ECC_BENCH_H
#define ECC_BENCH_H

#include <stdlib.h>
#include <time.h>

static inline double bench_wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static inline int bench_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sort n samples in place; the p-th percentile (0..100) is then v[n * p / 100]. */
static inline void bench_sort(double *v, size_t n)
{
    qsort(v, n, sizeof v[0], bench_cmp_double);
}

#endif
