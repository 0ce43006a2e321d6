/*
 * The two inner loops of attention over a half-precision KV cache, written
 * once with AVX2/F16C intrinsics and included by vec_avx2.c and
 * vec_avx512.c (each compiles it with its own flags). The contract is in
 * kernels/vec.h (attn_scores_f16, attn_values_f16); vec_scalar.c has the
 * reference.
 *
 * Why not one dot product per (head, cell): heads are small (8 to 128
 * floats), so a dot product is mostly its horizontal sum. Here eight cells
 * are taken at once and their eight sums reduced together in one tree of
 * seven adds, and the values are accumulated in registers across all cells
 * before anything is stored.
 */
#ifndef CRIA_KERNELS_ATTN_X86_H
#define CRIA_KERNELS_ATTN_X86_H

#include <immintrin.h>
#include <stdint.h>

static inline __attribute__((always_inline)) __m256 attn_load8_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

/* [sum(p[0]), ..., sum(p[7])]: the lanes of each of eight vectors added up, all at once. */
static inline __attribute__((always_inline)) __m256 attn_sum8x8(const __m256 *p)
{
    const __m256 t0 = _mm256_hadd_ps(p[0], p[1]), t1 = _mm256_hadd_ps(p[2], p[3]);
    const __m256 t2 = _mm256_hadd_ps(p[4], p[5]), t3 = _mm256_hadd_ps(p[6], p[7]);
    const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);
    /* u0 = [lo halves of p0..p3 | hi halves of p0..p3], u1 the same for p4..p7 */
    return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

static void attn_scores_f16(int32_t hd, int32_t nq, const float *q, int32_t nv, const int32_t *idx,
                            const uint16_t *k, int64_t ks, float scale, float *s, int64_t ss)
{
    const __m256 vscale = _mm256_set1_ps(scale);
    for (int32_t j0 = 0; j0 < nv; j0 += 8) {
        const int32_t m = nv - j0 < 8 ? nv - j0 : 8;
        const uint16_t *kr[8];
        /* a short last block repeats its first cell; those sums are not stored */
        #pragma GCC unroll 8
        for (int c = 0; c < 8; c++)
            kr[c] = k + (int64_t)idx[j0 + (c < m ? c : 0)] * ks;
        for (int32_t h = 0; h < nq; h++) {
            const float *qh = q + (int64_t)h * hd;
            __m256 acc[8];
            const __m256 q0 = _mm256_loadu_ps(qh);
            #pragma GCC unroll 8
            for (int c = 0; c < 8; c++)
                acc[c] = _mm256_mul_ps(q0, attn_load8_f16(kr[c]));
            for (int32_t d = 8; d < hd; d += 8) {
                const __m256 qd = _mm256_loadu_ps(qh + d);
                #pragma GCC unroll 8
                for (int c = 0; c < 8; c++)
                    acc[c] = _mm256_fmadd_ps(qd, attn_load8_f16(kr[c] + d), acc[c]);
            }
            const __m256 r = _mm256_mul_ps(attn_sum8x8(acc), vscale);
            float *out = s + (int64_t)h * ss + j0;
            if (m == 8) {
                _mm256_storeu_ps(out, r);
            } else {
                float tmp[8];
                _mm256_storeu_ps(tmp, r);
                for (int c = 0; c < m; c++)
                    out[c] = tmp[c];
            }
        }
    }
}

/*
 * HB heads x CB eight-float chunks of the output (constants after inlining,
 * HB * CB <= 8): every cell adds into HB * CB independent sums held in
 * registers, enough chains to hide the FMA latency even for one head.
 */
static inline __attribute__((always_inline)) void attn_values_block(const int HB, const int CB, const float *p,
                                                                    int64_t ps, int32_t nv, const int32_t *idx,
                                                                    const uint16_t *v, int64_t vs, float *o,
                                                                    int64_t os)
{
    __m256 acc[8];
    #pragma GCC unroll 8
    for (int i = 0; i < 8; i++)
        acc[i] = _mm256_setzero_ps();
    for (int32_t j = 0; j < nv; j++) {
        const uint16_t *vr = v + (int64_t)idx[j] * vs;
        __m256 vv[4];
        #pragma GCC unroll 4
        for (int c = 0; c < CB; c++)
            vv[c] = attn_load8_f16(vr + 8 * c);
        #pragma GCC unroll 8
        for (int h = 0; h < HB; h++) {
            const __m256 ph = _mm256_broadcast_ss(p + h * ps + j);
            #pragma GCC unroll 4
            for (int c = 0; c < CB; c++)
                acc[h * CB + c] = _mm256_fmadd_ps(ph, vv[c], acc[h * CB + c]);
        }
    }
    #pragma GCC unroll 8
    for (int h = 0; h < HB; h++) {
        #pragma GCC unroll 4
        for (int c = 0; c < CB; c++) {
            float *oc = o + h * os + 8 * c;
            _mm256_storeu_ps(oc, _mm256_add_ps(_mm256_loadu_ps(oc), acc[h * CB + c]));
        }
    }
}

static void attn_values_f16(int32_t hd, int32_t nq, const float *p, int64_t ps, int32_t nv, const int32_t *idx,
                            const uint16_t *v, int64_t vs, float *o)
{
    const int32_t chunks = hd / 8;
    for (int32_t c0 = 0; c0 < chunks;) {
        const int cb = chunks - c0 >= 4 ? 4 : chunks - c0 >= 2 ? 2 : 1, hb_max = 8 / cb;
        for (int32_t h0 = 0; h0 < nq; h0 += hb_max) {
            const int hb = nq - h0 < hb_max ? nq - h0 : hb_max;
            const float *ph = p + (int64_t)h0 * ps;
            const uint16_t *vc = v + 8 * c0;
            float *oh = o + (int64_t)h0 * hd + 8 * c0;
            switch (cb * 16 + hb) {
            case 0x41: attn_values_block(1, 4, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x42: attn_values_block(2, 4, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x21: attn_values_block(1, 2, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x22: attn_values_block(2, 2, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x23: attn_values_block(3, 2, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x24: attn_values_block(4, 2, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x11: attn_values_block(1, 1, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x12: attn_values_block(2, 1, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x13: attn_values_block(3, 1, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x14: attn_values_block(4, 1, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x15: attn_values_block(5, 1, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x16: attn_values_block(6, 1, ph, ps, nv, idx, vc, vs, oh, hd); break;
            case 0x17: attn_values_block(7, 1, ph, ps, nv, idx, vc, vs, oh, hd); break;
            default: attn_values_block(8, 1, ph, ps, nv, idx, vc, vs, oh, hd); break;
            }
        }
        c0 += cb;
    }
}

#endif
