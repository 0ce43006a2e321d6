/* The probe's loops with AVX2 + FMA (compiled with -mavx2 -mfma): 256-bit lanes. */
#include <immintrin.h>

#include "bench/probe_isa.h"

/*
 * Twelve independent accumulators: two FMA pipes with a 4-5 cycle latency
 * need 8-10 chains in flight to issue one FMA per pipe per cycle.
 */
float cria_probe_fma_avx2(int64_t iters, double *flops)
{
    const __m256 m = _mm256_set1_ps(0.999999f), a = _mm256_set1_ps(1e-7f);
    /* Distinct starting values: identical chains would be merged into one by the compiler. */
    __m256 c0 = _mm256_set1_ps(1.00f), c1 = _mm256_set1_ps(1.01f);
    __m256 c2 = _mm256_set1_ps(1.02f), c3 = _mm256_set1_ps(1.03f);
    __m256 c4 = _mm256_set1_ps(1.04f), c5 = _mm256_set1_ps(1.05f);
    __m256 c6 = _mm256_set1_ps(1.06f), c7 = _mm256_set1_ps(1.07f);
    __m256 c8 = _mm256_set1_ps(1.08f), c9 = _mm256_set1_ps(1.09f);
    __m256 c10 = _mm256_set1_ps(1.10f), c11 = _mm256_set1_ps(1.11f);
    for (int64_t i = 0; i < iters; i++) {
        c0 = _mm256_fmadd_ps(c0, m, a);
        c1 = _mm256_fmadd_ps(c1, m, a);
        c2 = _mm256_fmadd_ps(c2, m, a);
        c3 = _mm256_fmadd_ps(c3, m, a);
        c4 = _mm256_fmadd_ps(c4, m, a);
        c5 = _mm256_fmadd_ps(c5, m, a);
        c6 = _mm256_fmadd_ps(c6, m, a);
        c7 = _mm256_fmadd_ps(c7, m, a);
        c8 = _mm256_fmadd_ps(c8, m, a);
        c9 = _mm256_fmadd_ps(c9, m, a);
        c10 = _mm256_fmadd_ps(c10, m, a);
        c11 = _mm256_fmadd_ps(c11, m, a);
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(c0, c1), _mm256_add_ps(c2, c3)),
                             _mm256_add_ps(_mm256_add_ps(c4, c5), _mm256_add_ps(c6, c7)));
    s = _mm256_add_ps(s, _mm256_add_ps(_mm256_add_ps(c8, c9), _mm256_add_ps(c10, c11)));
    float out[8];
    _mm256_storeu_ps(out, s);
    *flops = (double)iters * 12.0 * 8.0 * 2.0;
    return out[0] + out[1] + out[2] + out[3] + out[4] + out[5] + out[6] + out[7];
}

/* Four streams a quarter of the buffer apart, as a matmul reads four weight rows (see probe_avx512.c). */
uint64_t cria_probe_read_avx2(const void *p, size_t n)
{
    const __m256i *v0 = p, *v1 = v0 + n / 128, *v2 = v1 + n / 128, *v3 = v2 + n / 128;
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n / 128; i += 2) {
        s0 = _mm256_add_epi64(s0, _mm256_add_epi64(_mm256_load_si256(v0 + i), _mm256_load_si256(v0 + i + 1)));
        s1 = _mm256_add_epi64(s1, _mm256_add_epi64(_mm256_load_si256(v1 + i), _mm256_load_si256(v1 + i + 1)));
        s2 = _mm256_add_epi64(s2, _mm256_add_epi64(_mm256_load_si256(v2 + i), _mm256_load_si256(v2 + i + 1)));
        s3 = _mm256_add_epi64(s3, _mm256_add_epi64(_mm256_load_si256(v3 + i), _mm256_load_si256(v3 + i + 1)));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    uint64_t out[4];
    _mm256_storeu_si256((__m256i *)out, s);
    return out[0] + out[1] + out[2] + out[3];
}
