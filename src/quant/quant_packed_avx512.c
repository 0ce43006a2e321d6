/*
 * The kernels over weights packed at load (packed.h), AVX-512 VNNI: Q4_0 and
 * Q8_0 in groups of sixteen interleaved rows against Q8_0 activations (laid
 * out by gemm_prep_q8_0, quant_gemm_act32, for Q4_0; by packed_prep_q8_0
 * for Q8_0, below).
 *
 * Per block, each 64-byte vector of packed nibbles gives two vectors of
 * sixteen rows' quants (low and high nibbles, 0..15) after an AND and a
 * shift; one VPDPBUSD with four activation bytes broadcast adds them into
 * sixteen lanes, one per row. A lane starts at minus eight times the
 * token's activation sum, so it ends at the exact integer
 * sum((q - 8) * a). Then one FMA adds that sum times the row's scale
 * times the token's into the row's float chain, block after block: the
 * reference's shape for Q4_0 on x86 (quant_x86.h, blk_q4_0), so the same
 * bits as vec_dot and the other kernels.
 *
 * Against the file's layout (quant_gemm_avx512.c, gemv_q4_0_rows) one
 * token needs no permutes, no four-row reduction and no scale gathering,
 * and a batch of tokens needs no repacking per call.
 */
#include <immintrin.h>
#include <stdbool.h>
#include <string.h>

#include "quant/packed.h"
#include "quant/quant_gemm.h"
#include "quant/quant_impl.h"

enum { TT = CRIA_GEMM_TOKS };
enum { SLICE = 64 }; /* blocks per pass over the tokens: 18 KB of Q4_0, 34 KB of Q8_0, which stay in L1/L2 */

/*
 * The weights stream from memory (a few tokens are no different). Two
 * threads each reading a 72 MB packed matrix ran at 80% of a plain read
 * loop's rate with the stream asked into L2 32 KB ahead, 65-75% at 16 KB,
 * 45% with the non-temporal hint (and the file layout's kernel 55%).
 */
enum { PREFETCH_BYTES = 32 << 10 };

/*
 * One group of 16 rows: the quants (nv vectors a block: block b, vector v
 * at q + 64 * (nv * b + v)), then the scales (block b at d + 16b).
 */
typedef struct pgroup {
    const uint8_t *q;
    const uint16_t *d;
} pgroup;

static inline pgroup group_at(const void *wp, int64_t nb, int nv)
{
    const uint8_t *p = wp;
    return (pgroup){p, (const uint16_t *)(const void *)(p + (size_t)nb * (size_t)nv * 64)};
}

static inline __m512i q4vec(const pgroup w, int64_t b, int v)
{
    return _mm512_loadu_si512(w.q + 64 * (4 * b + v));
}

static inline __m512 scales(const pgroup w, int64_t b)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(const void *)(w.d + CRIA_PACK_ROWS * b)));
}

static inline __m512i bcast(const int32_t *p)
{
    return _mm512_set1_epi32(*p);
}

/*
 * One token: four independent integer chains per block (one per packed
 * vector, low then high nibbles), added exactly, then the block's FMA.
 */
static void gemv1(const pgroup w, int64_t nb, const quant_gemm_act32 *x, float *out)
{
    const __m512i m4 = _mm512_set1_epi8(0xF);
    __m512 acc = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++, x++) {
        /* the stream 32 KB ahead (the next group's bytes past a group's end: groups are contiguous) */
        for (int v = 0; v < 4; v++)
            _mm_prefetch((const char *)(w.q + 64 * (4 * b + v) + PREFETCH_BYTES), _MM_HINT_T1);
        __m512i s[4];
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) {
            const __m512i raw = q4vec(w, b, v);
            const __m512i lo = _mm512_and_si512(raw, m4), hi = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            s[v] = _mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, bcast(&x->q[0][v]));
            s[v] = _mm512_dpbusd_epi32(s[v], hi, bcast(&x->q[0][v + 4]));
        }
        const __m512i corr = _mm512_slli_epi32(bcast(&x->nsum[0]), 3);
        const __m512i isum = _mm512_add_epi32(_mm512_add_epi32(corr, _mm512_add_epi32(s[0], s[1])),
                                              _mm512_add_epi32(s[2], s[3]));
        const __m512 dw = scales(w, b);
        acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(dw, _mm512_set1_ps(x->d[0])), acc);
    }
    _mm512_storeu_ps(out, acc);
}

/*
 * A tile of NT tokens (4 or 8) over blocks [b0, b0 + kb): each packed vector
 * is unpacked once for all the tile's tokens. facc holds the tokens' float
 * chains across slices. q8: Q8_0's layout (eight vectors of quants plus 128
 * a block, taken back out as 128 times the sum), else Q4_0's (four vectors
 * of nibbles, the value q - 8).
 */
static inline __attribute__((always_inline)) void tile(const pgroup w, int64_t b0, int kb, const quant_gemm_act32 *x,
                                                       int nt_tile, bool q8, __m512 *facc)
{
    const __m512i m4 = _mm512_set1_epi8(0xF);
    const int nv = q8 ? 8 : 4;
    for (int64_t b = b0; b < b0 + kb; b++, x++) {
        for (int v = 0; v < nv; v++)
            _mm_prefetch((const char *)(w.q + 64 * (nv * b + v) + PREFETCH_BYTES), _MM_HINT_T1);
        __m512i q[8];
#pragma GCC unroll 8
        for (int v = 0; v < nv; v++) {
            const __m512i raw = _mm512_loadu_si512(w.q + 64 * (nv * b + v));
            if (q8) {
                q[v] = raw;
            } else {
                q[v] = _mm512_and_si512(raw, m4);
                q[v + 4] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
            }
        }
        const __m512 dw = scales(w, b);
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++) {
            if (t >= nt_tile)
                break;
            __m512i acc = _mm512_slli_epi32(bcast(&x->nsum[t]), q8 ? 7 : 3);
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++)
                acc = _mm512_dpbusd_epi32(acc, q[g], bcast(&x->q[t][g]));
            facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_mul_ps(dw, _mm512_set1_ps(x->d[t])), facc[t]);
        }
    }
}

/* The tokens [t0, t0 + nt) of one 8-token tile of extra, NT (4 or 8) of them computed. */
static inline __attribute__((always_inline)) void tokens(const pgroup w, int64_t nb, const quant_gemm_act32 *ex,
                                                         int nt, int nt_tile, bool q8, float *out, size_t ostride)
{
    for (int64_t b0 = 0; b0 < nb; b0 += SLICE) {
        const int kb = nb - b0 < SLICE ? (int)(nb - b0) : SLICE;
        __m512 facc[TT];
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++)
            facc[t] = b0 > 0 && t < nt ? _mm512_loadu_ps(out + (size_t)t * ostride) : _mm512_setzero_ps();
        tile(w, b0, kb, ex + b0, nt_tile, q8, facc);
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++)
            if (t < nt)
                _mm512_storeu_ps(out + (size_t)t * ostride, facc[t]);
    }
}

void quant_avx512_packed_q4_0(int64_t n, const void *wp, int nt, const void *extra, float *out, size_t out_stride)
{
    const int64_t nb = n / QK_LEGACY;
    const pgroup w = group_at(wp, nb, 4);
    const quant_gemm_act32 *ex = extra;
    if (nt == 1) {
        gemv1(w, nb, ex, out);
        return;
    }
    for (int t0 = 0; t0 < nt; t0 += TT) {
        const int m = nt - t0 < TT ? nt - t0 : TT;
        const quant_gemm_act32 *x = ex + (int64_t)(t0 / TT) * nb;
        float *o = out + (size_t)t0 * out_stride;
        if (m == 1)
            gemv1(w, nb, x, o);
        else if (m <= 4)
            tokens(w, nb, x, m, 4, false, o, out_stride);
        else
            tokens(w, nb, x, m, TT, false, o, out_stride);
    }
}

/*
 * ---- Q8_0 -------------------------------------------------------------------------------------
 *
 * Q8_0's reference keeps eight float lanes per row, lane g the block's
 * 4-byte group g (quant_x86.h, blk_q8_0: one FMA per block into the lanes,
 * then hsum8). Here lane g of a row is one VPDPBUSD output: the weights are
 * stored plus 128 (unsigned), the accumulator starts at the group's
 * correction (minus 128 times the activations' sum), so the integer is the
 * reference's, and each group keeps its own vector of sixteen rows' float
 * chains. The final sum adds the groups in hsum8's order:
 * ((g0 + g4) + (g2 + g6)) + ((g1 + g5) + (g3 + g7)).
 *
 * That costs a conversion and an FMA per group: from
 * CRIA_PACKED_Q8_0_GEMM_TOKS tokens on (prompts), the tiles of Q4_0 take
 * over, summing each block as one integer as the repacking GEMM does
 * (quant_gemm_avx512.c, tile32, whose numbers these are): the reference's
 * value to rounding, not its bits.
 */
void quant_avx512_packed_prep_q8_0(int64_t n, int nt, const void *a, size_t a_stride, void *extra)
{
    if (nt >= CRIA_PACKED_Q8_0_GEMM_TOKS) {
        quant_avx512_gemm_prep_q8_0(n, nt, a, a_stride, extra);
        return;
    }
    const int64_t nb = n / QK_LEGACY;
    quant_packed_act8 *x = extra;
    for (int t = 0; t < nt; t++) {
        const block_q8_0 *y = (const block_q8_0 *)(const void *)((const char *)a + (size_t)t * a_stride);
        for (int64_t b = 0; b < nb; b++, x++) {
            memcpy(x->q, y[b].qs, sizeof x->q);
            for (int g = 0; g < 8; g++)
                x->corr[g] = -128 * (y[b].qs[4 * g] + y[b].qs[4 * g + 1] + y[b].qs[4 * g + 2] + y[b].qs[4 * g + 3]);
            x->d = _cvtsh_ss(y[b].d);
        }
    }
}

/* hsum8's order over the eight group vectors: sixteen rows' results. */
static inline __m512 sum_groups(const __m512 *f)
{
    const __m512 u = _mm512_add_ps(_mm512_add_ps(f[0], f[4]), _mm512_add_ps(f[2], f[6]));
    const __m512 v = _mm512_add_ps(_mm512_add_ps(f[1], f[5]), _mm512_add_ps(f[3], f[7]));
    return _mm512_add_ps(u, v);
}

/* NT (1 or 2) tokens (activations x0, x1) over all blocks: eight float chains per token, the weights loaded once. */
static inline __attribute__((always_inline)) void q8_tokens(const pgroup w, int64_t nb, const quant_packed_act8 *x0,
                                                            const quant_packed_act8 *x1, int nt_tile, float *out,
                                                            size_t ostride)
{
    __m512 facc[2][8];
#pragma GCC unroll 2
    for (int t = 0; t < 2; t++)
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++)
            facc[t][g] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        for (int l = 0; l < 8; l++)
            _mm_prefetch((const char *)(w.q + 64 * (8 * b + l) + PREFETCH_BYTES), _MM_HINT_T1);
        __m512i wv[8];
#pragma GCC unroll 8
        for (int g = 0; g < 8; g++)
            wv[g] = _mm512_loadu_si512(w.q + 64 * (8 * b + g));
        const __m512 dw = scales(w, b);
#pragma GCC unroll 2
        for (int t = 0; t < 2; t++) {
            if (t >= nt_tile)
                break;
            const quant_packed_act8 *x = (t ? x1 : x0) + b;
            const __m512 dd = _mm512_mul_ps(dw, _mm512_set1_ps(x->d));
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                const __m512i s = _mm512_dpbusd_epi32(bcast(&x->corr[g]), wv[g], bcast(&x->q[g]));
                facc[t][g] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), dd, facc[t][g]);
            }
        }
    }
#pragma GCC unroll 2
    for (int t = 0; t < 2; t++)
        if (t < nt_tile)
            _mm512_storeu_ps(out + (size_t)t * ostride, sum_groups(facc[t]));
}

void quant_avx512_packed_q8_0(int64_t n, const void *wp, int nt, const void *extra, float *out, size_t out_stride)
{
    const int64_t nb = n / QK_LEGACY;
    const pgroup w = group_at(wp, nb, 8);
    if (nt >= CRIA_PACKED_Q8_0_GEMM_TOKS) {
        const quant_gemm_act32 *ex = extra;
        for (int t0 = 0; t0 < nt; t0 += TT)
            tokens(w, nb, ex + (int64_t)(t0 / TT) * nb, nt - t0 < TT ? nt - t0 : TT, TT, true,
                   out + (size_t)t0 * out_stride, out_stride);
        return;
    }
    const quant_packed_act8 *ex = extra;
    for (int t = 0; t < nt; t += 2) {
        const quant_packed_act8 *x = ex + (int64_t)t * nb;
        float *o = out + (size_t)t * out_stride;
        if (nt - t == 1)
            q8_tokens(w, nb, x, x, 1, o, out_stride);
        else
            q8_tokens(w, nb, x, x + nb, 2, o, out_stride);
    }
}
