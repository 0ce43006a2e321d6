/* cria bench statistics: the mean and sample standard deviation llama-bench reports. */
#include <math.h>

#include "bench/bench.h"

double cria_bench_mean(const double *v, int32_t n)
{
    if (n <= 0)
        return 0.0;
    double s = 0.0;
    for (int32_t i = 0; i < n; i++)
        s += v[i];
    return s / n;
}

/* Two passes (mean first) so that close samples do not cancel catastrophically. */
double cria_bench_stddev(const double *v, int32_t n)
{
    if (n < 2)
        return 0.0;
    const double m = cria_bench_mean(v, n);
    double s = 0.0;
    for (int32_t i = 0; i < n; i++)
        s += (v[i] - m) * (v[i] - m);
    return sqrt(s / (n - 1));
}
