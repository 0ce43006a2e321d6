/*
 * AVX2 (+ FMA, F16C) kernels of the quantized types, compiled with the AVX2
 * flags and reached only through cria_quant_traits_for at that level. The
 * dot products live in quant_x86.h, shared with the AVX-512 file; this file
 * gives them their AVX2 integer primitives (VPMADDUBSW then VPMADDWD) and
 * adds the Q8_0 activation quantizer. Rows not listed here resolve to the
 * scalar table; tests/test_quant.c checks every row against the scalar one.
 */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "quant/quant_impl.h"

/* Lane k = sum of u[j] * s[j], bytes j = 4k..4k+3 (u unsigned; each pair sum must fit int16). */
static inline __m256i dot_us8(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* Sub-block scales as int16 multipliers: lanes 0..7 (bytes 0..15) s0, lanes 8..15 s1. */
static inline __m256i scales2(int s0, int s1)
{
    return _mm256_set_m128i(_mm_set1_epi16((short)s1), _mm_set1_epi16((short)s0));
}

/* dot_us8 with the pair sums scaled before the final pairing. */
static inline __m256i sdot(__m256i u, __m256i s, __m256i sc)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), sc);
}

/* Byte j = 0xFF where bit j of the 32-bit word at p is set. */
static inline __m256i bits32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32((int)v),
                                               _mm256_set_epi64x(0x0303030303030303, 0x0202020202020202,
                                                                 0x0101010101010101, 0x0000000000000000));
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ULL);
    return _mm256_cmpeq_epi8(_mm256_and_si256(spread, bit), bit);
}

#define QUANT_X86_TABLE cria_quant_avx2
#include "quant/quant_x86.h"

/* Q8_0 activations: the scalar arithmetic (127 / max, ties to even) eight lanes at a time. */
void quant_avx2_q8_0_from_float(const float *x, void *vy, int64_t n)
{
    block_q8_0 *y = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        __m256 v[4];
        __m256 amax = _mm256_setzero_ps();
        bool clean = true;
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + i * QK_LEGACY + 8 * k);
            const __m256 av = _mm256_andnot_ps(sign, v[k]);
            /* NaN, Inf and beyond the input limit take the scalar path, which defines them */
            clean &= _mm256_movemask_ps(_mm256_cmp_ps(av, _mm256_set1_ps(QUANT_INPUT_LIMIT), _CMP_LE_OQ)) == 0xFF;
            amax = _mm256_max_ps(amax, av);
        }
        if (!clean) {
            quant_q8_0_from_float(x + i * QK_LEGACY, &y[i], QK_LEGACY);
            continue;
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float am = _mm_cvtss_f32(m);
        y[i].d = quant_half(am / 127.0f);
        const __m256 id = _mm256_set1_ps(am != 0.0f ? 127.0f / am : 0.0f);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
        _mm256_storeu_si256((__m256i *)y[i].qs, _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
    }
}

/*
 * Q8_K activations: the scalar arithmetic (q = min(127, round(-127 x / max)),
 * max the first element of largest magnitude, d = 1 / iscale) eight lanes at
 * a time; blocks holding NaN, Inf or huge values take the scalar path.
 */
void quant_avx2_q8_k_from_float(const float *x, void *vy, int64_t n)
{
    block_q8_K *y = vy;
    const __m256 sign = _mm256_set1_ps(-0.0f), limit = _mm256_set1_ps(QUANT_INPUT_LIMIT);
    const __m256i q127 = _mm256_set1_epi32(127), perm = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float *xb = x + i * QK_K;
        __m256 amax = _mm256_setzero_ps();
        bool clean = true;
        for (int k = 0; k < QK_K / 8; k++) {
            const __m256 av = _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + 8 * k));
            clean &= _mm256_movemask_ps(_mm256_cmp_ps(av, limit, _CMP_LE_OQ)) == 0xFF;
            amax = _mm256_max_ps(amax, av);
        }
        if (!clean) {
            quant_q8_k_from_float(xb, &y[i], QK_K);
            continue;
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        const float am = _mm_cvtss_f32(m);
        memset(&y[i], 0, sizeof y[i]);
        if (am == 0.0f)
            continue;
        float max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            if (fabsf(xb[j]) == am) {
                max = xb[j];
                break;
            }
        }
        const float iscale = -127.0f / max;
        const __m256 is = _mm256_set1_ps(iscale);
        for (int g = 0; g < QK_K / 32; g++) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                const __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xb + 32 * g + 8 * k), is);
                q[k] = _mm256_min_epi32(_mm256_cvtps_epi32(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC)), q127);
            }
            /* the two sums of 16: lanes 0 and 4 of the twice-paired vector hold halves of each */
            __m256i h = _mm256_hadd_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3]));
            h = _mm256_hadd_epi32(h, h);
            y[i].bsums[2 * g] = (int16_t)(_mm256_extract_epi32(h, 0) + _mm256_extract_epi32(h, 4));
            y[i].bsums[2 * g + 1] = (int16_t)(_mm256_extract_epi32(h, 1) + _mm256_extract_epi32(h, 5));
            const __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(y[i].qs + 32 * g), _mm256_permutevar8x32_epi32(p, perm));
        }
        y[i].d = 1.0f / iscale;
    }
}
