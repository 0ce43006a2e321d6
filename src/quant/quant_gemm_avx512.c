/*
 * The prompt's GEMM at the AVX-512 VNNI level over weights repacked on the
 * fly. A call takes up to sixteen weight rows and every token; it repacks
 * the rows one slice of columns at a time (2048 columns, 36-42 KB, which
 * stays in L1/L2) into row-interleaved form: for each group of four
 * columns, one 64-byte vector whose 32-bit lane r holds row r's four
 * quants, made unsigned. One VPDPBUSD of that vector with four activation
 * bytes broadcast then adds sixteen rows' partial dot products in its
 * lanes, so there are no horizontal sums, and each block's scales multiply
 * as one vector. Each weight vector load serves a tile of eight tokens,
 * whose activations gemm_prep laid out once per matmul so that every
 * broadcast is one load at a fixed offset.
 *
 * The offsets that made the quants unsigned come back out through the
 * activations' sums (Q8_0: w + 128; Q4_0: q, the value q - 8; Q5_0: q - 16;
 * Q6_K: q - 32; Q4_K's and Q5_K's mins as the format has them), in exact
 * integers.
 * Repacking costs one pass over the rows per call (a few percent of the
 * work at 64 tokens), so the weights stay as the file has them (mmap
 * loading unchanged, no extra memory) and one-token matmuls keep reading
 * the original layout through vec_dot_rows.
 *
 * The integer sums are exact, and each output is one float chain of block
 * sums times scales across all slices: Q4_0's reference shape, so there
 * the gemm gives vec_dot's bits; for the types whose reference keeps eight
 * float lanes per row it agrees to rounding (tests/test_quant_gemm.c:
 * within 1e-5 of the sum of |terms|). The one-token GEMVs at the end keep
 * each type's reference shape and so its bits.
 */
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "quant/quant_gemm.h"
#include "quant/quant_impl.h"

enum { TT = CRIA_GEMM_TOKS };
enum { ROWS = CRIA_GEMM_ROWS };
enum { SLICE32 = 64 }; /* 32-blocks per repacked slice */
enum { SLICEK = 8 };   /* 256-blocks per repacked slice */

static inline float h2f(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* Row r of the call's rows; rows past nr repeat row 0 (computed, never stored). */
static inline const char *row_at(const void *w, size_t stride, int nr, int r)
{
    return (const char *)w + (size_t)(r < nr ? r : 0) * stride;
}

/*
 * The accumulators of a tile's tokens (up to nt of them, 16 outputs each
 * under mask m): zero on the first slice, after it the sums so far, so each
 * output is one float chain over all its blocks (for Q4_0 the reference's
 * own chain: block sum times scale, block by block).
 */
static inline void start(const float *out, size_t ostride, int nt, __mmask16 m, bool more, __m512 *facc)
{
    for (int t = 0; t < TT; t++)
        facc[t] = more && t < nt ? _mm512_maskz_loadu_ps(m, out + (size_t)t * ostride) : _mm512_setzero_ps();
}

static inline __m512i bcast_i32(const int32_t *p)
{
    return _mm512_set1_epi32(*p);
}

/* ---- activation prep ---------------------------------------------------------------------- */

void quant_avx512_gemm_prep_q8_0(int64_t n, int nt, const void *a, size_t a_stride, void *extra)
{
    const int64_t nb = n / QK_LEGACY;
    quant_gemm_act32 *e = extra;
    const __m256i ones8 = _mm256_set1_epi8(1), ones16 = _mm256_set1_epi16(1);
    for (int t0 = 0; t0 < nt; t0 += TT) {
        for (int64_t b = 0; b < nb; b++) {
            quant_gemm_act32 *x = &e[(int64_t)(t0 / TT) * nb + b];
            if (nt - t0 < TT)
                memset(x, 0, sizeof *x);
            for (int t = 0; t < TT && t0 + t < nt; t++) {
                const block_q8_0 *y =
                    (const block_q8_0 *)(const void *)((const char *)a + (size_t)(t0 + t) * a_stride) + b;
                const __m256i q = _mm256_loadu_si256((const __m256i *)(const void *)y->qs);
                _mm256_storeu_si256((__m256i *)(void *)x->q[t], q);
                /* 1 * q in 16-bit pairs, then pairs of those: eight 32-bit partial sums */
                const __m256i s = _mm256_madd_epi16(_mm256_maddubs_epi16(ones8, q), ones16);
                __m128i h = _mm_add_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
                h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4E));
                h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xB1));
                x->d[t] = h2f(y->d);
                x->nsum[t] = -_mm_cvtsi128_si32(h);
            }
        }
    }
}

void quant_avx512_gemm_prep_q8_k(int64_t n, int nt, const void *a, size_t a_stride, void *extra)
{
    const int64_t nb = n / QK_K;
    quant_gemm_actk *e = extra;
    for (int t0 = 0; t0 < nt; t0 += TT) {
        for (int64_t b = 0; b < nb; b++) {
            quant_gemm_actk *x = &e[(int64_t)(t0 / TT) * nb + b];
            if (nt - t0 < TT)
                memset(x, 0, sizeof *x);
            for (int t = 0; t < TT && t0 + t < nt; t++) {
                const block_q8_K *y =
                    (const block_q8_K *)(const void *)((const char *)a + (size_t)(t0 + t) * a_stride) + b;
                memcpy(x->q[t], y->qs, QK_K);
                x->d[t] = y->d;
                for (int k = 0; k < 4; k++) {
                    const uint16_t lo = (uint16_t)(y->bsums[4 * k] + y->bsums[4 * k + 1]);
                    const uint16_t hi = (uint16_t)(y->bsums[4 * k + 2] + y->bsums[4 * k + 3]);
                    x->s32[k][t] = (int32_t)((uint32_t)lo | (uint32_t)hi << 16);
                }
                for (int k = 0; k < 8; k++)
                    x->s16[k][t] = (int32_t)((uint32_t)(uint16_t)y->bsums[2 * k] |
                                             (uint32_t)(uint16_t)y->bsums[2 * k + 1] << 16);
            }
        }
    }
}

/* ---- 32-blocks: Q8_0 and Q4_0 against Q8_0 activations --------------------------------- */

typedef struct slice32 {
    _Alignas(64) uint8_t q[SLICE32][8][64]; /* block b, group g: lane r = row r's quants 4g..4g+3, unsigned */
    _Alignas(64) float d[SLICE32][ROWS];
} slice32;

/* Q8_0 quants w in -127..127 as w + 128 (the sign bit flipped); the kernel takes 128 * sum(a) back off. */
static void repack_q8_0(const void *w, size_t stride, int nr, int64_t b0, int kb, slice32 *s)
{
    for (int r = 0; r < ROWS; r++) {
        const block_q8_0 *x = (const block_q8_0 *)(const void *)row_at(w, stride, nr, r) + b0;
        for (int b = 0; b < kb; b++) {
            s->d[b][r] = h2f(x[b].d);
            for (int g = 0; g < 8; g++) {
                uint32_t v;
                memcpy(&v, x[b].qs + 4 * g, sizeof v);
                v ^= 0x80808080u;
                memcpy(&s->q[b][g][4 * r], &v, sizeof v);
            }
        }
    }
}

/* Q4_0: elements 0..15 the low nibbles of qs, 16..31 the high ones; the value is q - 8. */
static void repack_q4_0(const void *w, size_t stride, int nr, int64_t b0, int kb, slice32 *s)
{
    for (int r = 0; r < ROWS; r++) {
        const block_q4_0 *x = (const block_q4_0 *)(const void *)row_at(w, stride, nr, r) + b0;
        for (int b = 0; b < kb; b++) {
            s->d[b][r] = h2f(x[b].d);
            for (int g = 0; g < 4; g++) {
                uint32_t v;
                memcpy(&v, x[b].qs + 4 * g, sizeof v);
                const uint32_t lo = v & 0x0F0F0F0Fu, hi = (v >> 4) & 0x0F0F0F0Fu;
                memcpy(&s->q[b][g][4 * r], &lo, sizeof lo);
                memcpy(&s->q[b][g + 4][4 * r], &hi, sizeof hi);
            }
        }
    }
}

/* Q5_0: a fifth bit from qh (bit j for element j) over the nibbles; the value is q - 16. */
static void repack_q5_0(const void *w, size_t stride, int nr, int64_t b0, int kb, slice32 *s)
{
    for (int r = 0; r < ROWS; r++) {
        const block_q5_0 *x = (const block_q5_0 *)(const void *)row_at(w, stride, nr, r) + b0;
        for (int b = 0; b < kb; b++) {
            s->d[b][r] = h2f(x[b].d);
            uint32_t qh;
            memcpy(&qh, x[b].qh, sizeof qh);
            uint8_t q[QK_LEGACY];
            for (int j = 0; j < 16; j++) {
                q[j] = (uint8_t)((x[b].qs[j] & 0xF) | ((qh >> j) & 1) << 4);
                q[j + 16] = (uint8_t)((x[b].qs[j] >> 4) | ((qh >> (j + 16)) & 1) << 4);
            }
            for (int g = 0; g < 8; g++)
                memcpy(&s->q[b][g][4 * r], q + 4 * g, 4);
        }
    }
}

/* facc[t] += the slice's kb blocks for the tile's tokens, block by block; the offset is 1 << shift. */
static inline __attribute__((always_inline)) void tile32(const slice32 *s, int kb, const quant_gemm_act32 *x,
                                                         int shift, __m512 *facc)
{
    for (int b = 0; b < kb; b++, x++) {
        __m512i acc[TT];
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++)
            acc[t] = _mm512_slli_epi32(bcast_i32(&x->nsum[t]), shift);
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++) {
            const __m512i wv = _mm512_load_si512(s->q[b][g]);
#pragma GCC unroll 8
            for (int t = 0; t < TT; t++)
                acc[t] = _mm512_dpbusd_epi32(acc[t], wv, bcast_i32(&x->q[t][g]));
        }
        const __m512 dw = _mm512_load_ps(s->d[b]);
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++)
            facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[t]), _mm512_mul_ps(dw, _mm512_set1_ps(x->d[t])), facc[t]);
    }
}

typedef void (*repack32_fn)(const void *w, size_t stride, int nr, int64_t b0, int kb, slice32 *s);

static inline __attribute__((always_inline)) void gemm32(int64_t n, int nr, const void *w, size_t stride, int nt,
                                                         const void *extra, float *out, size_t ostride, int shift,
                                                         repack32_fn repack)
{
    slice32 s;
    const int64_t nb = n / QK_LEGACY;
    const __mmask16 m = (__mmask16)((1u << nr) - 1);
    const quant_gemm_act32 *ex = extra;
    for (int64_t b0 = 0; b0 < nb; b0 += SLICE32) {
        const int kb = nb - b0 < SLICE32 ? (int)(nb - b0) : SLICE32;
        repack(w, stride, nr, b0, kb, &s);
        for (int t0 = 0; t0 < nt; t0 += TT) {
            __m512 facc[TT];
            start(out + (size_t)t0 * ostride, ostride, nt - t0, m, b0 > 0, facc);
            tile32(&s, kb, ex + (int64_t)(t0 / TT) * nb + b0, shift, facc);
            for (int t = 0; t < TT && t0 + t < nt; t++)
                _mm512_mask_storeu_ps(out + (size_t)(t0 + t) * ostride, m, facc[t]);
        }
    }
}

void quant_avx512_gemm_q8_0(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride)
{
    (void)a;
    (void)a_stride;
    gemm32(n, nr, w, w_stride, nt, extra, out, out_stride, 7, repack_q8_0);
}

void quant_avx512_gemm_q5_0(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride)
{
    (void)a;
    (void)a_stride;
    gemm32(n, nr, w, w_stride, nt, extra, out, out_stride, 4, repack_q5_0);
}

void quant_avx512_gemm_q4_0(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride)
{
    (void)a;
    (void)a_stride;
    gemm32(n, nr, w, w_stride, nt, extra, out, out_stride, 3, repack_q4_0);
}

/* ---- K-quants: Q4_K and Q6_K against Q8_K activations ------------------------------------ */

/* Row r's 256 unsigned quants of one super-block, in element order, into lane r of the 64 group vectors. */
static inline void scatter256(const uint8_t q[QK_K], int r, uint8_t (*dst)[64])
{
    for (int g = 0; g < QK_K / 4; g++)
        memcpy(&dst[g][4 * r], q + 4 * g, 4);
}

typedef struct slice_k {
    _Alignas(64) uint8_t q[SLICEK][QK_K / 4][64];
    _Alignas(64) int32_t sc[SLICEK][16][ROWS]; /* sub-block scales (Q4_K: 8 of 32 elements; Q6_K: 16 of 16) */
    _Alignas(64) int32_t pairs[SLICEK][8][ROWS]; /* int16 pairs per lane: Q4_K mins (4), Q6_K scales (8) */
    _Alignas(64) float d[SLICEK][ROWS], dmin[SLICEK][ROWS];
} slice_k;

static void repack_q4_k(const void *w, size_t stride, int nr, int64_t b0, int kb, slice_k *s)
{
    for (int r = 0; r < ROWS; r++) {
        const block_q4_K *x = (const block_q4_K *)(const void *)row_at(w, stride, nr, r) + b0;
        for (int b = 0; b < kb; b++) {
            uint8_t sc[8], m[8], q[QK_K];
            quant_k4_unpack(x[b].scales, sc, m);
            for (int j = 0; j < 8; j++)
                s->sc[b][j][r] = sc[j];
            for (int k = 0; k < 4; k++)
                s->pairs[b][k][r] = (int32_t)((uint32_t)m[2 * k] | (uint32_t)m[2 * k + 1] << 16);
            s->d[b][r] = h2f(x[b].d);
            s->dmin[b][r] = h2f(x[b].dmin);
            /* sub-block 2c: the low nibbles of qs[32c..32c+31]; 2c+1: their high nibbles */
            for (int c = 0; c < 4; c++) {
                for (int l = 0; l < 32; l++) {
                    q[64 * c + l] = x[b].qs[32 * c + l] & 0xF;
                    q[64 * c + 32 + l] = x[b].qs[32 * c + l] >> 4;
                }
            }
            scatter256(q, r, s->q[b]);
        }
    }
}

/* Q5_K: Q4_K's nibbles with a fifth bit from qh (bit 2c for sub-block 2c, 2c+1 for 2c+1). */
static void repack_q5_k(const void *w, size_t stride, int nr, int64_t b0, int kb, slice_k *s)
{
    for (int r = 0; r < ROWS; r++) {
        const block_q5_K *x = (const block_q5_K *)(const void *)row_at(w, stride, nr, r) + b0;
        for (int b = 0; b < kb; b++) {
            uint8_t sc[8], m[8], q[QK_K];
            quant_k4_unpack(x[b].scales, sc, m);
            for (int j = 0; j < 8; j++)
                s->sc[b][j][r] = sc[j];
            for (int k = 0; k < 4; k++)
                s->pairs[b][k][r] = (int32_t)((uint32_t)m[2 * k] | (uint32_t)m[2 * k + 1] << 16);
            s->d[b][r] = h2f(x[b].d);
            s->dmin[b][r] = h2f(x[b].dmin);
            for (int c = 0; c < 4; c++) {
                for (int l = 0; l < 32; l++) {
                    q[64 * c + l] = (uint8_t)((x[b].qs[32 * c + l] & 0xF) | ((x[b].qh[l] >> (2 * c)) & 1) << 4);
                    q[64 * c + 32 + l] = (uint8_t)((x[b].qs[32 * c + l] >> 4) | ((x[b].qh[l] >> (2 * c + 1)) & 1) << 4);
                }
            }
            scatter256(q, r, s->q[b]);
        }
    }
}

/* Q6_K: q = low four bits from ql, high two from qh, 0..63; the value is q - 32. */
static void repack_q6_k(const void *w, size_t stride, int nr, int64_t b0, int kb, slice_k *s)
{
    for (int r = 0; r < ROWS; r++) {
        const block_q6_K *x = (const block_q6_K *)(const void *)row_at(w, stride, nr, r) + b0;
        for (int b = 0; b < kb; b++) {
            uint8_t q[QK_K];
            for (int h = 0; h < 2; h++) {
                const uint8_t *ql = x[b].ql + 64 * h, *qh = x[b].qh + 32 * h;
                for (int l = 0; l < 32; l++) {
                    q[128 * h + l] = (uint8_t)((ql[l] & 0xF) | (qh[l] & 3) << 4);
                    q[128 * h + l + 32] = (uint8_t)((ql[l + 32] & 0xF) | (qh[l] >> 2 & 3) << 4);
                    q[128 * h + l + 64] = (uint8_t)((ql[l] >> 4) | (qh[l] >> 4 & 3) << 4);
                    q[128 * h + l + 96] = (uint8_t)((ql[l + 32] >> 4) | (qh[l] >> 6 & 3) << 4);
                }
            }
            for (int j = 0; j < 16; j++)
                s->sc[b][j][r] = x[b].scales[j];
            for (int k = 0; k < 8; k++)
                s->pairs[b][k][r] = (int32_t)((uint32_t)(uint16_t)x[b].scales[2 * k] |
                                              (uint32_t)(uint16_t)x[b].scales[2 * k + 1] << 16);
            s->d[b][r] = h2f(x[b].d);
            scatter256(q, r, s->q[b]);
        }
    }
}

/*
 * facc[t] += the slice's kb super-blocks: sub-blocks of `sub` elements
 * (32: Q4_K, 16: Q6_K), each sub-block's integer sum times its scale, then
 * Q4_K: minus dmin times the mins against the sums of 32;
 * Q6_K: minus 32 times the scales against the sums of 16.
 */
static inline __attribute__((always_inline)) void tile_k(const slice_k *s, int kb, const quant_gemm_actk *x, int sub,
                                                         __m512 *facc)
{
    const int nsub = QK_K / sub, gsub = sub / 4;
    for (int b = 0; b < kb; b++, x++) {
        __m512i iacc[TT];
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++)
            iacc[t] = _mm512_setzero_si512();
        for (int j = 0; j < nsub; j++) {
            __m512i isub[TT];
#pragma GCC unroll 8
            for (int t = 0; t < TT; t++)
                isub[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
            for (int g = 0; g < gsub; g++) {
                const __m512i wv = _mm512_load_si512(s->q[b][gsub * j + g]);
#pragma GCC unroll 8
                for (int t = 0; t < TT; t++)
                    isub[t] = _mm512_dpbusd_epi32(isub[t], wv, bcast_i32(&x->q[t][gsub * j + g]));
            }
            const __m512i sc = _mm512_load_si512(s->sc[b][j]);
#pragma GCC unroll 8
            for (int t = 0; t < TT; t++)
                iacc[t] = _mm512_add_epi32(iacc[t], _mm512_mullo_epi32(isub[t], sc));
        }
        const __m512 dw = _mm512_load_ps(s->d[b]);
        if (sub == 32) {
            const __m512 dm = _mm512_load_ps(s->dmin[b]);
#pragma GCC unroll 8
            for (int t = 0; t < TT; t++) {
                __m512i imin = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++)
                    imin = _mm512_dpwssd_epi32(imin, _mm512_load_si512(s->pairs[b][k]), bcast_i32(&x->s32[k][t]));
                const __m512 da = _mm512_set1_ps(x->d[t]);
                facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[t]), _mm512_mul_ps(dw, da), facc[t]);
                facc[t] = _mm512_fnmadd_ps(_mm512_cvtepi32_ps(imin), _mm512_mul_ps(dm, da), facc[t]);
            }
        } else {
#pragma GCC unroll 8
            for (int t = 0; t < TT; t++) {
                __m512i icorr = _mm512_setzero_si512();
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++)
                    icorr = _mm512_dpwssd_epi32(icorr, _mm512_load_si512(s->pairs[b][k]), bcast_i32(&x->s16[k][t]));
                const __m512i v = _mm512_sub_epi32(iacc[t], _mm512_slli_epi32(icorr, 5));
                facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(v), _mm512_mul_ps(dw, _mm512_set1_ps(x->d[t])), facc[t]);
            }
        }
    }
}

typedef void (*repackk_fn)(const void *w, size_t stride, int nr, int64_t b0, int kb, slice_k *s);

static inline __attribute__((always_inline)) void gemm_k(int64_t n, int nr, const void *w, size_t stride, int nt,
                                                         const void *extra, float *out, size_t ostride, int sub,
                                                         repackk_fn repack)
{
    slice_k s;
    const int64_t nb = n / QK_K;
    const __mmask16 m = (__mmask16)((1u << nr) - 1);
    const quant_gemm_actk *ex = extra;
    for (int64_t b0 = 0; b0 < nb; b0 += SLICEK) {
        const int kb = nb - b0 < SLICEK ? (int)(nb - b0) : SLICEK;
        repack(w, stride, nr, b0, kb, &s);
        for (int t0 = 0; t0 < nt; t0 += TT) {
            __m512 facc[TT];
            start(out + (size_t)t0 * ostride, ostride, nt - t0, m, b0 > 0, facc);
            tile_k(&s, kb, ex + (int64_t)(t0 / TT) * nb + b0, sub, facc);
            for (int t = 0; t < TT && t0 + t < nt; t++)
                _mm512_mask_storeu_ps(out + (size_t)(t0 + t) * ostride, m, facc[t]);
        }
    }
}

void quant_avx512_gemm_q4_k(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride)
{
    (void)a;
    (void)a_stride;
    gemm_k(n, nr, w, w_stride, nt, extra, out, out_stride, 32, repack_q4_k);
}

void quant_avx512_gemm_q5_k(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride)
{
    (void)a;
    (void)a_stride;
    gemm_k(n, nr, w, w_stride, nt, extra, out, out_stride, 32, repack_q5_k);
}

void quant_avx512_gemm_q6_k(int64_t n, int nr, const void *w, size_t w_stride, int nt, const void *a,
                            size_t a_stride, const void *extra, float *out, size_t out_stride)
{
    (void)a;
    (void)a_stride;
    gemm_k(n, nr, w, w_stride, nt, extra, out, out_stride, 16, repack_q6_k);
}

/*
 * ---- one token (GEMV): Q4_0 two blocks per 512-bit instruction ------------------------------
 *
 * The weights stay as the file has them; one masked load takes a pair of
 * blocks (36 bytes, never past the row), a word permute and variable shift
 * pull out its quants (block 2k's low then high nibbles, then 2k+1's), and
 * one VPDPBUSD multiplies 64 quants by activations that gemv_prep laid out
 * in the same order, so lanes 0..7 hold block 2k and 8..15 block 2k+1.
 * Four rows' lanes are then summed to one integer per row and block by
 * unpacks, and each row takes sum times scale into one float per block, in
 * block order: the reference's Q4_0 shape (quant_q4_0_dot), so the result
 * has its bits.
 */
typedef struct gemv_pair32 {
    int8_t q[64];
    float d[16]; /* lanes 0..3 the scale of block 2k, 8..11 that of 2k+1 */
} gemv_pair32;

void quant_avx512_gemv_prep_q8_0(int64_t n, const void *a, void *prep)
{
    const int64_t nb = n / QK_LEGACY;
    const block_q8_0 *y = a;
    gemv_pair32 *p = prep;
    for (int64_t k = 0; k < (nb + 1) / 2; k++) {
        const block_q8_0 *y0 = &y[2 * k], *y1 = 2 * k + 1 < nb ? &y[2 * k + 1] : NULL;
        memcpy(p[k].q, y0->qs, 32);
        if (y1)
            memcpy(p[k].q + 32, y1->qs, 32);
        else
            memset(p[k].q + 32, 0, 32);
        const float d0 = h2f(y0->d), d1 = y1 ? h2f(y1->d) : 0.0f;
        for (int l = 0; l < 16; l++)
            p[k].d[l] = l < 8 ? d0 : d1;
    }
}

/* Rows past nr repeat row 0 (computed, never stored), so the loop has no branches. */
static inline __attribute__((always_inline)) void gemv_q4_0_rows(int64_t nb, int nr, const char *w, size_t stride,
                                                                 const gemv_pair32 *a, float *out)
{
    /* words of a pair: 0 = d of block 2k, 1..8 its quants, 9 = d of 2k+1, 10..17 its quants */
    const __m512i idx_q = _mm512_set_epi16(17, 16, 15, 14, 13, 12, 11, 10, 17, 16, 15, 14, 13, 12, 11, 10, 8, 7, 6,
                                           5, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1);
    const __m512i shifts = _mm512_set_epi16(4, 4, 4, 4, 4, 4, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 4, 4, 4, 4, 4, 4, 4, 4,
                                            0, 0, 0, 0, 0, 0, 0, 0);
    /* the scales of four rows (words 0 and 9 of each): rows 0..3 block 2k in words 0..3, 2k+1 in 8..11 */
    static const uint16_t pick01[32] = {[0] = 0, [1] = 32, [8] = 9, [9] = 32 + 9};
    static const uint16_t pick23[32] = {[2] = 0, [3] = 32, [10] = 9, [11] = 32 + 9};
    const __m512i idx_d01 = _mm512_loadu_si512(pick01), idx_d23 = _mm512_loadu_si512(pick23);
    const __m512i m4 = _mm512_set1_epi8(0xF), eight = _mm512_set1_epi8(8);
    const char *row[CRIA_DOT_ROWS];
#pragma GCC unroll 4
    for (int r = 0; r < CRIA_DOT_ROWS; r++)
        row[r] = row_at(w, stride, nr, r);
    __m128 acc = _mm_setzero_ps();
    const int64_t np = (nb + 1) / 2;
    for (int64_t k = 0; k < np; k++) {
        const bool pair = 2 * k + 1 < nb;
        const __mmask32 m = pair ? 0x3FFFFu : 0x1FFu;
        const __m512i av = _mm512_loadu_si512(a[k].q);
        /* (q - 8) * a = q * a - 8 * a: start each lane at minus its four activations' sum times 8 */
        const __m512i corr = _mm512_sub_epi32(_mm512_setzero_si512(),
                                              _mm512_dpbusd_epi32(_mm512_setzero_si512(), eight, av));
        __m512i lanes[CRIA_DOT_ROWS], wv[CRIA_DOT_ROWS];
#pragma GCC unroll 4
        for (int r = 0; r < CRIA_DOT_ROWS; r++) {
            const char *p = row[r] + (size_t)k * 2 * sizeof(block_q4_0);
            /*
             * The next rows' pair at this offset (both lines it may touch)
             * on its way into L2: from memory, 13-16 GB/s on one thread
             * against 10-11 with the hint to L1 and 7 with none.
             */
            _mm_prefetch(p + CRIA_DOT_ROWS * stride, _MM_HINT_T1);
            _mm_prefetch(p + CRIA_DOT_ROWS * stride + 35, _MM_HINT_T1);
            wv[r] = _mm512_maskz_loadu_epi16(m, p);
            const __m512i q = _mm512_and_si512(_mm512_srlv_epi16(_mm512_permutexvar_epi16(idx_q, wv[r]), shifts), m4);
            lanes[r] = _mm512_dpbusd_epi32(corr, q, av);
        }
        /* per 128-bit lane, [row 0, 1, 2, 3] partial sums; lanes 0-1 block 2k, 2-3 block 2k+1 */
        const __m512i t01 = _mm512_add_epi32(_mm512_unpacklo_epi32(lanes[0], lanes[1]),
                                             _mm512_unpackhi_epi32(lanes[0], lanes[1]));
        const __m512i t23 = _mm512_add_epi32(_mm512_unpacklo_epi32(lanes[2], lanes[3]),
                                             _mm512_unpackhi_epi32(lanes[2], lanes[3]));
        __m512i s = _mm512_add_epi32(_mm512_unpacklo_epi64(t01, t23), _mm512_unpackhi_epi64(t01, t23));
        s = _mm512_add_epi32(s, _mm512_shuffle_i32x4(s, s, _MM_SHUFFLE(2, 3, 0, 1)));
        /* the rows' scales: words 0..3 block 2k's, 8..11 block 2k+1's */
        const __m512i d01 = _mm512_permutex2var_epi16(wv[0], idx_d01, wv[1]);
        const __m512i d23 = _mm512_permutex2var_epi16(wv[2], idx_d23, wv[3]);
        const __m512 dw = _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_mask_blend_epi16(0x0C0Cu, d01, d23)));
        const __m512 prod = _mm512_mul_ps(dw, _mm512_loadu_ps(a[k].d));
        const __m512 sf = _mm512_cvtepi32_ps(s);
        acc = _mm_fmadd_ps(_mm512_castps512_ps128(sf), _mm512_castps512_ps128(prod), acc);
        if (pair)
            acc = _mm_fmadd_ps(_mm512_extractf32x4_ps(sf, 2), _mm512_extractf32x4_ps(prod, 2), acc);
    }
    float res[4];
    _mm_storeu_ps(res, acc);
    for (int r = 0; r < nr; r++)
        out[r] = res[r];
}

void quant_avx512_gemv_q4_0(int64_t n, int nr, const void *w, size_t w_stride, const void *a, const void *prep,
                            float *out)
{
    (void)a;
    gemv_q4_0_rows(n / QK_LEGACY, nr, w, w_stride, prep, out);
}

/*
 * ---- one token (GEMV): Q6_K, 64 elements per 512-bit step --------------------------------------
 *
 * The reference's shape (blk_q6_k, quant_x86.h): per super-block eight
 * integer lanes, lane k the scaled products of the elements with
 * (e % 32) / 4 == k, then one FMA per super-block and lane and hsum8. Here
 * one step takes two 32-element chunks (lane j of a VPDPBUSD is chunk
 * j / 8, lane j % 8), so the two halves of the 16 lanes are added as
 * integers at the end of the super-block: the same integers, the same
 * floats, the reference's bits. gemv_prep stores minus 32 times each four
 * activations' sum, which starts each lane so that (q - 32) * a comes out.
 */
typedef struct gemv_q8k {
    int32_t a32n[QK_K / 4];
} gemv_q8k;

void quant_avx512_gemv_prep_q8_k(int64_t n, const void *a, void *prep)
{
    const block_q8_K *y = a;
    gemv_q8k *p = prep;
    const __m512i k32 = _mm512_set1_epi8(32);
    for (int64_t b = 0; b < n / QK_K; b++) {
        for (int u = 0; u < 4; u++) {
            const __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), k32, _mm512_loadu_si512(y[b].qs + 64 * u));
            _mm512_storeu_si512(p[b].a32n + 16 * u, _mm512_sub_epi32(_mm512_setzero_si512(), s));
        }
    }
}

/* (a0+a4 + a2+a6) + (a1+a5 + a3+a7): quant_x86.h's hsum8. */
static inline float hsum8_ref(__m256 v)
{
    __m128 r = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

static inline __attribute__((always_inline)) void gemv_q6_k_rows(int64_t nb, int nr, const char *w, size_t stride,
                                                                 const block_q8_K *y, const gemv_q8k *p, float *out)
{
    const __m512i m4 = _mm512_set1_epi8(0xF), m3 = _mm512_set1_epi8(3);
    /* the high bits of chunk c are bits 2c, 2c+1 of qh: words 0..15 the first chunk of the step, 16..31 the second */
    const __m512i hs0 = _mm512_set_epi64(0x0002000200020002, 0x0002000200020002, 0x0002000200020002,
                                         0x0002000200020002, 0, 0, 0, 0);
    const __m512i hs1 = _mm512_set_epi64(0x0006000600060006, 0x0006000600060006, 0x0006000600060006,
                                         0x0006000600060006, 0x0004000400040004, 0x0004000400040004,
                                         0x0004000400040004, 0x0004000400040004);
    /* sub-block scales i..i+3, each for four lanes */
    const __m128i sp[4] = {
        _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3),
        _mm_setr_epi8(4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7),
        _mm_setr_epi8(8, 8, 8, 8, 9, 9, 9, 9, 10, 10, 10, 10, 11, 11, 11, 11),
        _mm_setr_epi8(12, 12, 12, 12, 13, 13, 13, 13, 14, 14, 14, 14, 15, 15, 15, 15),
    };
    const char *row[CRIA_DOT_ROWS];
    __m256 acc[CRIA_DOT_ROWS];
#pragma GCC unroll 4
    for (int r = 0; r < CRIA_DOT_ROWS; r++) {
        row[r] = row_at(w, stride, nr, r);
        acc[r] = _mm256_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const float dy = y[b].d;
#pragma GCC unroll 4
        for (int r = 0; r < CRIA_DOT_ROWS; r++) {
            const block_q6_K *x = (const block_q6_K *)(const void *)row[r] + b;
            const char *next = (const char *)x + CRIA_DOT_ROWS * stride;
            for (int off = 0; off < (int)sizeof(block_q6_K); off += 64)
                _mm_prefetch(next + off, _MM_HINT_T1);
            _mm_prefetch(next + sizeof(block_q6_K) - 1, _MM_HINT_T1);
            const __m128i sc = _mm_loadu_si128((const __m128i *)(const void *)x->scales);
            __m512i lanes = _mm512_setzero_si512();
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++) {
                const __m512i ql = _mm512_loadu_si512(x->ql + 64 * h);
                const __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)(x->qh + 32 * h)));
                const __m512i q0 = _mm512_or_si512(_mm512_and_si512(ql, m4),
                                                   _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, hs0), m3), 4));
                const __m512i q1 = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi16(ql, 4), m4),
                                                   _mm512_slli_epi16(_mm512_and_si512(_mm512_srlv_epi16(qh, hs1), m3), 4));
                const __m512i s0 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc, sp[2 * h]));
                const __m512i s1 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc, sp[2 * h + 1]));
                const __m512i d0 = _mm512_dpbusd_epi32(_mm512_loadu_si512(p[b].a32n + 32 * h), q0,
                                                       _mm512_loadu_si512(y[b].qs + 128 * h));
                const __m512i d1 = _mm512_dpbusd_epi32(_mm512_loadu_si512(p[b].a32n + 32 * h + 16), q1,
                                                       _mm512_loadu_si512(y[b].qs + 128 * h + 64));
                lanes = _mm512_add_epi32(lanes, _mm512_add_epi32(_mm512_mullo_epi32(d0, s0), _mm512_mullo_epi32(d1, s1)));
            }
            const __m256i l8 = _mm256_add_epi32(_mm512_castsi512_si256(lanes), _mm512_extracti64x4_epi64(lanes, 1));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(l8), _mm256_set1_ps(dy * h2f(x->d)), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++)
        out[r] = hsum8_ref(acc[r]);
}

void quant_avx512_gemv_q6_k(int64_t n, int nr, const void *w, size_t w_stride, const void *a, const void *prep,
                            float *out)
{
    gemv_q6_k_rows(n / QK_K, nr, w, w_stride, a, prep, out);
}

/*
 * ---- one token (GEMV): Q4_K and Q5_K, 128 elements per pair of 512-bit steps ----------------
 *
 * The reference's shape (blk_q4_k and k45_mins, quant_x86.h): per super-block
 * eight integer lanes of scaled products, one FMA with d, the mins' four
 * lanes with dmin, then hsum8 + hsum4. One load of 64 quant bytes holds
 * chunks c and c+1: its low nibbles are sub-blocks 2c and 2c+2, its high
 * nibbles 2c+1 and 2c+3, so gemv_prep lays the activations out in that
 * order (elements 0..31 and 64..95, then 32..63 and 96..127, and so on),
 * and the halves of the 16 lanes are added as integers: the reference's
 * integers and floats, so its bits.
 */
typedef struct gemv_q4k_act {
    int8_t q[QK_K];
} gemv_q4k_act;

void quant_avx512_gemv_prep_q4_k(int64_t n, const void *a, void *prep)
{
    const block_q8_K *y = a;
    gemv_q4k_act *p = prep;
    for (int64_t b = 0; b < n / QK_K; b++) {
        for (int u = 0; u < 2; u++) {
            memcpy(p[b].q + 128 * u, y[b].qs + 128 * u, 32);
            memcpy(p[b].q + 128 * u + 32, y[b].qs + 128 * u + 64, 32);
            memcpy(p[b].q + 128 * u + 64, y[b].qs + 128 * u + 32, 32);
            memcpy(p[b].q + 128 * u + 96, y[b].qs + 128 * u + 96, 32);
        }
    }
}

/* (m0 + m2) + (m1 + m3): quant_x86.h's hsum4. */
static inline float hsum4_ref(__m128 r)
{
    r = _mm_add_ps(r, _mm_movehl_ps(r, r));
    r = _mm_add_ss(r, _mm_movehdup_ps(r));
    return _mm_cvtss_f32(r);
}

/* Q4_K (five false) and Q5_K, whose fifth bit of chunk c's low nibbles is bit 2c of qh, of the high 2c+1. */
static inline __attribute__((always_inline)) void gemv_q45_k_rows(int64_t nb, int nr, const char *w, size_t stride,
                                                                  const block_q8_K *y, const gemv_q4k_act *p,
                                                                  bool five, float *out)
{
    const size_t bbytes = five ? sizeof(block_q5_K) : sizeof(block_q4_K);
    const __m512i b0 = _mm512_set1_epi8(1);
    const __m512i m4 = _mm512_set1_epi8(0xF);
    /* Q5_K's qh shifts per 16-bit word: words 0..15 the first chunk of a load, 16..31 the second */
    const __m512i hs5[4] = {
        _mm512_set_epi64(0x0002000200020002, 0x0002000200020002, 0x0002000200020002, 0x0002000200020002, 0, 0, 0, 0),
        _mm512_set_epi64(0x0003000300030003, 0x0003000300030003, 0x0003000300030003, 0x0003000300030003,
                         0x0001000100010001, 0x0001000100010001, 0x0001000100010001, 0x0001000100010001),
        _mm512_set_epi64(0x0006000600060006, 0x0006000600060006, 0x0006000600060006, 0x0006000600060006,
                         0x0004000400040004, 0x0004000400040004, 0x0004000400040004, 0x0004000400040004),
        _mm512_set_epi64(0x0007000700070007, 0x0007000700070007, 0x0007000700070007, 0x0007000700070007,
                         0x0005000500050005, 0x0005000500050005, 0x0005000500050005, 0x0005000500050005),
    };
    /* sub-block scales (2c, 2c+2) for the low nibbles of chunks c, c+1 and (2c+1, 2c+3) for the high */
    const __m128i sp[4] = {
        _mm_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 2),
        _mm_setr_epi8(1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 3, 3, 3, 3, 3),
        _mm_setr_epi8(4, 4, 4, 4, 4, 4, 4, 4, 6, 6, 6, 6, 6, 6, 6, 6),
        _mm_setr_epi8(5, 5, 5, 5, 5, 5, 5, 5, 7, 7, 7, 7, 7, 7, 7, 7),
    };
    const char *row[CRIA_DOT_ROWS];
    __m256 acc[CRIA_DOT_ROWS];
    __m128 aux[CRIA_DOT_ROWS];
#pragma GCC unroll 4
    for (int r = 0; r < CRIA_DOT_ROWS; r++) {
        row[r] = row_at(w, stride, nr, r);
        acc[r] = _mm256_setzero_ps();
        aux[r] = _mm_setzero_ps();
    }
    for (int64_t b = 0; b < nb; b++) {
        const block_q8_K *yb = &y[b];
        const __m128i bs = _mm_hadd_epi16(_mm_loadu_si128((const __m128i *)(const void *)yb->bsums),
                                          _mm_loadu_si128((const __m128i *)(const void *)(yb->bsums + 8)));
#pragma GCC unroll 4
        for (int r = 0; r < CRIA_DOT_ROWS; r++) {
            const char *xb = row[r] + (size_t)b * bbytes;
            /* Q4_K and Q5_K share d, dmin and scales at the front; qs (and Q5_K's qh) follow */
            const block_q4_K *x = (const block_q4_K *)(const void *)xb;
            const uint8_t *qs = five ? ((const block_q5_K *)(const void *)xb)->qs : x->qs;
            const char *next = xb + CRIA_DOT_ROWS * stride;
            for (int off = 0; off < (int)bbytes; off += 64)
                _mm_prefetch(next + off, _MM_HINT_T1);
            _mm_prefetch(next + bbytes - 1, _MM_HINT_T1);
            uint8_t sc[8], m[8];
            quant_k4_unpack(x->scales, sc, m);
            /* the mins as k45_mins: lane k = m[2k] S[2k] + m[2k+1] S[2k+1], times -d_a * dmin */
            const __m128i mins = _mm_cvtepu8_epi16(_mm_loadl_epi64((const __m128i *)(const void *)m));
            aux[r] = _mm_fmadd_ps(_mm_cvtepi32_ps(_mm_madd_epi16(mins, bs)), _mm_set1_ps(-yb->d * h2f(x->dmin)), aux[r]);
            const __m128i scv = _mm_loadl_epi64((const __m128i *)(const void *)sc);
            __m512i lanes = _mm512_setzero_si512();
#pragma GCC unroll 2
            for (int u = 0; u < 2; u++) {
                const __m512i q = _mm512_loadu_si512(qs + 64 * u);
                __m512i lo = _mm512_and_si512(q, m4), hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), m4);
                if (five) {
                    /* chunks 2u and 2u+1: low nibbles take bits 4u and 4u+2 of qh[l], high 4u+1 and 4u+3 */
                    const __m512i qh = _mm512_broadcast_i64x4(
                        _mm256_loadu_si256((const __m256i *)(const void *)((const block_q5_K *)(const void *)xb)->qh));
                    const __m512i hl = _mm512_srlv_epi16(qh, u ? hs5[2] : hs5[0]);
                    const __m512i hh = _mm512_srlv_epi16(qh, u ? hs5[3] : hs5[1]);
                    lo = _mm512_or_si512(lo, _mm512_slli_epi16(_mm512_and_si512(hl, b0), 4));
                    hi = _mm512_or_si512(hi, _mm512_slli_epi16(_mm512_and_si512(hh, b0), 4));
                }
                const __m512i dl = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, _mm512_loadu_si512(p[b].q + 128 * u));
                const __m512i dh = _mm512_dpbusd_epi32(_mm512_setzero_si512(), hi,
                                                       _mm512_loadu_si512(p[b].q + 128 * u + 64));
                const __m512i sl = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(scv, sp[2 * u]));
                const __m512i sh = _mm512_cvtepu8_epi32(_mm_shuffle_epi8(scv, sp[2 * u + 1]));
                lanes = _mm512_add_epi32(lanes, _mm512_add_epi32(_mm512_mullo_epi32(dl, sl), _mm512_mullo_epi32(dh, sh)));
            }
            const __m256i l8 = _mm256_add_epi32(_mm512_castsi512_si256(lanes), _mm512_extracti64x4_epi64(lanes, 1));
            acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(l8), _mm256_set1_ps(yb->d * h2f(x->d)), acc[r]);
        }
    }
    for (int r = 0; r < nr; r++)
        out[r] = hsum8_ref(acc[r]) + hsum4_ref(aux[r]);
}

void quant_avx512_gemv_q4_k(int64_t n, int nr, const void *w, size_t w_stride, const void *a, const void *prep,
                            float *out)
{
    gemv_q45_k_rows(n / QK_K, nr, w, w_stride, a, prep, false, out);
}

void quant_avx512_gemv_q5_k(int64_t n, int nr, const void *w, size_t w_stride, const void *a, const void *prep,
                            float *out)
{
    gemv_q45_k_rows(n / QK_K, nr, w, w_stride, a, prep, true, out);
}
