/* The probe's loops with AVX-512F (compiled with -mavx512f ...): 512-bit lanes. */
#include <immintrin.h>

#include "bench/probe_isa.h"

/* Twelve independent accumulators, as in probe_avx2.c, twice as wide. */
float cria_probe_fma_avx512(int64_t iters, double *flops)
{
    const __m512 m = _mm512_set1_ps(0.999999f), a = _mm512_set1_ps(1e-7f);
    /* Distinct starting values: identical chains would be merged into one by the compiler. */
    __m512 c0 = _mm512_set1_ps(1.00f), c1 = _mm512_set1_ps(1.01f);
    __m512 c2 = _mm512_set1_ps(1.02f), c3 = _mm512_set1_ps(1.03f);
    __m512 c4 = _mm512_set1_ps(1.04f), c5 = _mm512_set1_ps(1.05f);
    __m512 c6 = _mm512_set1_ps(1.06f), c7 = _mm512_set1_ps(1.07f);
    __m512 c8 = _mm512_set1_ps(1.08f), c9 = _mm512_set1_ps(1.09f);
    __m512 c10 = _mm512_set1_ps(1.10f), c11 = _mm512_set1_ps(1.11f);
    for (int64_t i = 0; i < iters; i++) {
        c0 = _mm512_fmadd_ps(c0, m, a);
        c1 = _mm512_fmadd_ps(c1, m, a);
        c2 = _mm512_fmadd_ps(c2, m, a);
        c3 = _mm512_fmadd_ps(c3, m, a);
        c4 = _mm512_fmadd_ps(c4, m, a);
        c5 = _mm512_fmadd_ps(c5, m, a);
        c6 = _mm512_fmadd_ps(c6, m, a);
        c7 = _mm512_fmadd_ps(c7, m, a);
        c8 = _mm512_fmadd_ps(c8, m, a);
        c9 = _mm512_fmadd_ps(c9, m, a);
        c10 = _mm512_fmadd_ps(c10, m, a);
        c11 = _mm512_fmadd_ps(c11, m, a);
    }
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(c0, c1), _mm512_add_ps(c2, c3)),
                             _mm512_add_ps(_mm512_add_ps(c4, c5), _mm512_add_ps(c6, c7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(c8, c9), _mm512_add_ps(c10, c11)));
    *flops = (double)iters * 12.0 * 16.0 * 2.0;
    return _mm512_reduce_add_ps(s);
}

/*
 * Four streams a quarter of the buffer apart, as a matmul reads four weight
 * rows side by side: one sequential stream leaves the prefetchers idle and
 * underestimates what the engine gets.
 */
uint64_t cria_probe_read_avx512(const void *p, size_t n)
{
    const __m512i *v0 = p, *v1 = v0 + n / 256, *v2 = v1 + n / 256, *v3 = v2 + n / 256;
    __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i < n / 256; i += 2) {
        s0 = _mm512_add_epi64(s0, _mm512_add_epi64(_mm512_load_si512(v0 + i), _mm512_load_si512(v0 + i + 1)));
        s1 = _mm512_add_epi64(s1, _mm512_add_epi64(_mm512_load_si512(v1 + i), _mm512_load_si512(v1 + i + 1)));
        s2 = _mm512_add_epi64(s2, _mm512_add_epi64(_mm512_load_si512(v2 + i), _mm512_load_si512(v2 + i + 1)));
        s3 = _mm512_add_epi64(s3, _mm512_add_epi64(_mm512_load_si512(v3 + i), _mm512_load_si512(v3 + i + 1)));
    }
    /* Summed as unsigned by hand: _mm512_reduce_add_epi64 adds as signed, which overflows (UB). */
    uint64_t out[8], sum = 0;
    _mm512_storeu_si512(out, _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3)));
    for (int i = 0; i < 8; i++)
        sum += out[i];
    return sum;
}
