/*
 * The kernels over weights packed at load (packed.h), AVX-512 VNNI: Q4_0 in
 * groups of sixteen interleaved rows against Q8_0 activations that
 * gemm_prep laid out (quant_gemm_act32).
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

#include "quant/packed.h"
#include "quant/quant_gemm.h"
#include "quant/quant_impl.h"

enum { TT = CRIA_GEMM_TOKS };
enum { SLICE = 64 }; /* blocks per pass over the tokens: 18 KB of packed weights, which stay in L1/L2 */

/*
 * The weights stream from memory (a few tokens are no different). Two threads each reading a
 * 72 MB packed matrix ran at 80% of a plain read loop's rate with the
 * stream asked into L2 32 KB ahead, 65-75% at 16 KB, 45% with the
 * non-temporal hint (and the file layout's kernel 55%).
 */
enum { PREFETCH_BYTES = 32 << 10 };

/* One group: the quants (block b, vector v at q + 64 * (4b + v)) and the scales (block b at d + 16b). */
typedef struct pq4 {
    const uint8_t *q;
    const uint16_t *d;
} pq4;

static inline pq4 pq4_at(const void *wp, int64_t nb)
{
    const uint8_t *p = wp;
    return (pq4){p, (const uint16_t *)(const void *)(p + (size_t)nb * 4 * 64)};
}

static inline __m512i qvec(const pq4 w, int64_t b, int v)
{
    return _mm512_loadu_si512(w.q + 64 * (4 * b + v));
}

static inline __m512 scales(const pq4 w, int64_t b)
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
static void gemv1(const pq4 w, int64_t nb, const quant_gemm_act32 *x, float *out)
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
            const __m512i raw = qvec(w, b, v);
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
 * chains across slices.
 */
static inline __attribute__((always_inline)) void tile(const pq4 w, int64_t b0, int kb, const quant_gemm_act32 *x,
                                                       int nt_tile, __m512 *facc)
{
    const __m512i m4 = _mm512_set1_epi8(0xF);
    for (int64_t b = b0; b < b0 + kb; b++, x++) {
        for (int v = 0; v < 4; v++)
            _mm_prefetch((const char *)(w.q + 64 * (4 * b + v) + PREFETCH_BYTES), _MM_HINT_T1);
        __m512i q[8];
#pragma GCC unroll 4
        for (int v = 0; v < 4; v++) {
            const __m512i raw = qvec(w, b, v);
            q[v] = _mm512_and_si512(raw, m4);
            q[v + 4] = _mm512_and_si512(_mm512_srli_epi16(raw, 4), m4);
        }
        const __m512 dw = scales(w, b);
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++) {
            if (t >= nt_tile)
                break;
            __m512i acc = _mm512_slli_epi32(bcast(&x->nsum[t]), 3);
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++)
                acc = _mm512_dpbusd_epi32(acc, q[g], bcast(&x->q[t][g]));
            facc[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc), _mm512_mul_ps(dw, _mm512_set1_ps(x->d[t])), facc[t]);
        }
    }
}

/* The tokens [t0, t0 + nt) of one 8-token tile of extra, NT (4 or 8) of them computed. */
static inline __attribute__((always_inline)) void tokens(const pq4 w, int64_t nb, const quant_gemm_act32 *ex,
                                                         int nt, int nt_tile, float *out, size_t ostride)
{
    for (int64_t b0 = 0; b0 < nb; b0 += SLICE) {
        const int kb = nb - b0 < SLICE ? (int)(nb - b0) : SLICE;
        __m512 facc[TT];
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++)
            facc[t] = b0 > 0 && t < nt ? _mm512_loadu_ps(out + (size_t)t * ostride) : _mm512_setzero_ps();
        tile(w, b0, kb, ex + b0, nt_tile, facc);
#pragma GCC unroll 8
        for (int t = 0; t < TT; t++)
            if (t < nt)
                _mm512_storeu_ps(out + (size_t)t * ostride, facc[t]);
    }
}

void quant_avx512_packed_q4_0(int64_t n, const void *wp, int nt, const void *extra, float *out, size_t out_stride)
{
    const int64_t nb = n / QK_LEGACY;
    const pq4 w = pq4_at(wp, nb);
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
            tokens(w, nb, x, m, 4, o, out_stride);
        else
            tokens(w, nb, x, m, TT, o, out_stride);
    }
}
