/* AVX-512 kernels (F/BW/VL/DQ, BF16; compiled with the AVX-512 flags). Tested against vec_scalar.c. */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>

#include "base/fp16.h"
#include "kernels/vec.h"
#include "kernels/attn_x86.h"
#include "kernels/rope_x86.h"

static __m512 load_f16(const uint16_t *p)
{
    return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
}

static __m512 load_bf16(const uint16_t *p)
{
    __m512i w = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(w, 16));
}

static __mmask16 tail_mask(int64_t left)
{
    return (__mmask16)((1u << left) - 1);
}

static float dot_f32(int64_t n, const float *x, const float *y)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
        a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 16), _mm512_loadu_ps(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 32), _mm512_loadu_ps(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i + 48), _mm512_loadu_ps(y + i + 48), a3);
    }
    for (; i + 16 <= n; i += 16)
        a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i), a0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        a1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x + i), _mm512_maskz_loadu_ps(m, y + i), a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

static float dot_f16(int64_t n, const uint16_t *x, const uint16_t *y)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 64 <= n; i += 64) {
        a0 = _mm512_fmadd_ps(load_f16(x + i), load_f16(y + i), a0);
        a1 = _mm512_fmadd_ps(load_f16(x + i + 16), load_f16(y + i + 16), a1);
        a2 = _mm512_fmadd_ps(load_f16(x + i + 32), load_f16(y + i + 32), a2);
        a3 = _mm512_fmadd_ps(load_f16(x + i + 48), load_f16(y + i + 48), a3);
    }
    for (; i + 16 <= n; i += 16)
        a0 = _mm512_fmadd_ps(load_f16(x + i), load_f16(y + i), a0);
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        __m512 xv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, x + i));
        __m512 yv = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, y + i));
        a1 = _mm512_fmadd_ps(xv, yv, a1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

static float dot_bf16(int64_t n, const uint16_t *x, const uint16_t *y)
{
    __m512 a0 = _mm512_setzero_ps(), a1 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm512_fmadd_ps(load_bf16(x + i), load_bf16(y + i), a0);
        a1 = _mm512_fmadd_ps(load_bf16(x + i + 16), load_bf16(y + i + 16), a1);
    }
    for (; i + 16 <= n; i += 16)
        a0 = _mm512_fmadd_ps(load_bf16(x + i), load_bf16(y + i), a0);
    float s = _mm512_reduce_add_ps(_mm512_add_ps(a0, a1));
    for (; i < n; i++)
        s += cria_bf16_to_f32(x[i]) * cria_bf16_to_f32(y[i]);
    return s;
}

static void axpy_f16(int64_t n, float a, const uint16_t *x, float *y)
{
    __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, load_f16(x + i), _mm512_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * cria_fp16_to_f32(x[i]);
}

static void axpy_f32(int64_t n, float a, const float *x, float *y)
{
    __m512 va = _mm512_set1_ps(a);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, _mm512_fmadd_ps(va, _mm512_loadu_ps(x + i), _mm512_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

static void f32_to_f16(int64_t n, const float *x, uint16_t *y)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtps_ph(_mm512_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        y[i] = cria_f32_to_fp16(x[i]);
}

static void f16_to_f32(int64_t n, const uint16_t *x, float *y)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, load_f16(x + i));
    for (; i < n; i++)
        y[i] = cria_fp16_to_f32(x[i]);
}

/* The scalar rounding rule on bit patterns (VCVTNEPS2BF16 would flush denormals, which the reference keeps). */
static void f32_to_bf16(int64_t n, const float *x, uint16_t *y)
{
    int64_t i = 0;
    const __m512i bias = _mm512_set1_epi32(0x7fff), one = _mm512_set1_epi32(1), quiet = _mm512_set1_epi32(0x40);
    for (; i + 16 <= n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m512i b = _mm512_castps_si512(v);
        __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(b, 16), one);
        __m512i r = _mm512_srli_epi32(_mm512_add_epi32(_mm512_add_epi32(b, bias), lsb), 16);
        __mmask16 nan = _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
        r = _mm512_mask_or_epi32(r, nan, _mm512_srli_epi32(b, 16), quiet);
        _mm256_storeu_si256((__m256i *)(y + i), _mm512_cvtepi32_epi16(r));
    }
    for (; i < n; i++)
        y[i] = cria_f32_to_bf16(x[i]);
}

static void bf16_to_f32(int64_t n, const uint16_t *x, float *y)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, load_bf16(x + i));
    for (; i < n; i++)
        y[i] = cria_bf16_to_f32(x[i]);
}

/* exp as in vec_avx2.c (range reduction by ln 2, degree-7 polynomial), sixteen lanes, scalef for 2^n. */
static __m512 exp512(__m512 x)
{
    const __m512 hi = _mm512_set1_ps(88.72283f), lo = _mm512_set1_ps(-103.97208f);
    __m512 xc = _mm512_max_ps(_mm512_min_ps(x, hi), lo);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(xc, _mm512_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145752f), xc);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860677e-6f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    __m512 y = _mm512_scalef_ps(p, n);
    y = _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, hi, _CMP_GT_OQ), _mm512_set1_ps(INFINITY));
    return _mm512_mask_mov_ps(y, _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q), x);
}

static void exp_f32(int64_t n, const float *x, float *y)
{
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        _mm512_storeu_ps(y + i, exp512(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = tail_mask(n - i);
        _mm512_mask_storeu_ps(y + i, m, exp512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

static void softmax_f32(int64_t n, float *x)
{
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + i));
    const __mmask16 tail = tail_mask(n - i);
    if (i < n)
        vmax = _mm512_mask_max_ps(vmax, tail, vmax, _mm512_maskz_loadu_ps(tail, x + i));
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512d s0 = _mm512_setzero_pd(), s1 = s0;
    for (i = 0; i + 16 <= n; i += 16) {
        const __m512 e = exp512(_mm512_sub_ps(_mm512_loadu_ps(x + i), mx));
        _mm512_storeu_ps(x + i, e);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    if (i < n) {
        const __m512 e = _mm512_maskz_mov_ps(tail, exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), mx)));
        _mm512_mask_storeu_ps(x + i, tail, e);
        s0 = _mm512_add_pd(s0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
        s1 = _mm512_add_pd(s1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    }
    const __m512 inv = _mm512_set1_ps((float)(1.0 / _mm512_reduce_add_pd(_mm512_add_pd(s0, s1))));
    for (i = 0; i + 16 <= n; i += 16)
        _mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), inv));
    if (i < n)
        _mm512_mask_storeu_ps(x + i, tail, _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, x + i), inv));
}

static void swiglu_f32(int64_t n, float *g, const float *u)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    int64_t i = 0;
    for (; i < n; i += 16) {
        __mmask16 m = n - i >= 16 ? (__mmask16)0xffff : tail_mask(n - i);
        __m512 v = _mm512_maskz_loadu_ps(m, g + i);
        __m512 e = exp512(_mm512_sub_ps(_mm512_setzero_ps(), v));
        __m512 silu = _mm512_div_ps(v, _mm512_add_ps(one, e));
        _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(silu, _mm512_maskz_loadu_ps(m, u + i)));
    }
}

/*
 * Matmul tiles: 4 weight rows x up to 4 tokens in 16 accumulators. Each
 * (row, token) sum runs over full 16-lane blocks in order, then one masked
 * tail block, then a lane reduction: the same steps whatever the tile's
 * size, so one token alone gives the bits it gets in a batch. Rows and
 * tokens past nr / nt read row / token 0 and are not stored (branch-free).
 */
enum { T_ROWS = 4, T_TOKS = 4 };

/*
 * A tile of several tokens asks for the same columns PF_ROWS rows further
 * down into L2 as it goes. The four rows of a tile are four short streams
 * (1.5-8 KB each) that the hardware prefetcher has barely learnt before
 * they end: alone, a 768-column f16 matrix streamed from memory at 8 tokens
 * ran 38 GFLOP/s on one thread against 102 from cache; with this, 72-84.
 */
enum { PF_ROWS = 8 };

/* 16 elements from row p at element i, f32 or converted from f16; masked when m != 0xffff. */
static inline __attribute__((always_inline)) __m512 tile_load(const void *p, int64_t i, bool f16, __mmask16 m)
{
    if (f16)
        return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i));
    return _mm512_maskz_loadu_ps(m, (const float *)p + i);
}

/* The tile for either element type (f16 a constant after inlining). */
static inline __attribute__((always_inline)) void tile(int64_t n, int nr, const void *const *wr, int nt,
                                                       const float *const *xt, bool f16, float *y, int64_t ys, int64_t pf)
{
    __m512 acc[T_ROWS][T_TOKS];
    #pragma GCC unroll 4
    for (int r = 0; r < T_ROWS; r++)
        #pragma GCC unroll 4
        for (int t = 0; t < T_TOKS; t++)
            acc[r][t] = _mm512_setzero_ps();
    const __mmask16 all = 0xffff;
    int64_t i = 0;
    if (nt == 1) {
        /*
         * One token streams the weights from memory: walk one row after the
         * other so the reads stay one sequential stream the prefetcher
         * follows. Each sum takes the same steps as in a wide tile.
         */
        for (int r = 0; r < nr; r++) {
            __m512 a = _mm512_setzero_ps();
            int64_t j = 0;
            for (; j + 16 <= n; j += 16)
                a = _mm512_fmadd_ps(tile_load(wr[r], j, f16, all), _mm512_loadu_ps(xt[0] + j), a);
            if (j < n) {
                const __mmask16 m = tail_mask(n - j);
                a = _mm512_fmadd_ps(tile_load(wr[r], j, f16, m), _mm512_maskz_loadu_ps(m, xt[0] + j), a);
            }
            y[r] = _mm512_reduce_add_ps(a);
        }
        return;
    }
    {
        for (; i + 16 <= n; i += 16) {
            __m512 xv[T_TOKS];
            #pragma GCC unroll 4
            for (int t = 0; t < T_TOKS; t++)
                xv[t] = _mm512_loadu_ps(xt[t] + i);
            #pragma GCC unroll 4
            for (int r = 0; r < T_ROWS; r++) {
                _mm_prefetch((const char *)wr[r] + (f16 ? 2 : 4) * (i + pf), _MM_HINT_T1);
                const __m512 wv = tile_load(wr[r], i, f16, all);
                #pragma GCC unroll 4
                for (int t = 0; t < T_TOKS; t++)
                    acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
            }
        }
    }
    if (i < n) {
        const __mmask16 m = tail_mask(n - i);
        #pragma GCC unroll 4
        for (int r = 0; r < T_ROWS; r++) {
            const __m512 wv = tile_load(wr[r], i, f16, m);
            #pragma GCC unroll 4
            for (int t = 0; t < T_TOKS; t++)
                acc[r][t] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(m, xt[t] + i), acc[r][t]);
        }
    }
    /*
     * Constant trip counts here and above keep acc[][] in registers: a
     * bound of nt or nr made GCC keep the array on the stack and store
     * every accumulator after each FMA, a fifth of the FMA rate.
     */
    #pragma GCC unroll 4
    for (int t = 0; t < T_TOKS; t++)
        #pragma GCC unroll 4
        for (int r = 0; r < T_ROWS; r++)
            if (t < nt && r < nr)
                y[t * ys + r] = _mm512_reduce_add_ps(acc[r][t]);
}

/*
 * Matmul tiles: 4 weight rows x up to 4 tokens in 16 accumulators. Each
 * (row, token) sum runs over full 16-lane blocks in order, then one masked
 * tail block, then a lane reduction: the same steps whatever the tile's
 * size, so one token alone gives the bits it gets in a batch. Rows and
 * tokens past nr / nt read row / token 0 and are not stored (branch-free).
 */
static void tile_f32(int64_t n, int nr, const float *w, int64_t ws, int nt, const float *x, int64_t xs, float *y,
                     int64_t ys)
{
    const void *wr[T_ROWS];
    const float *xt[T_TOKS];
    for (int r = 0; r < T_ROWS; r++)
        wr[r] = w + (r < nr ? r : 0) * ws;
    for (int t = 0; t < T_TOKS; t++)
        xt[t] = x + (t < nt ? t : 0) * xs;
    tile(n, nr, wr, nt, xt, false, y, ys, PF_ROWS * ws);
}

static void tile_f16(int64_t n, int nr, const uint16_t *w, int64_t ws, int nt, const float *x, int64_t xs, float *y,
                     int64_t ys)
{
    const void *wr[T_ROWS];
    const float *xt[T_TOKS];
    for (int r = 0; r < T_ROWS; r++)
        wr[r] = w + (r < nr ? r : 0) * ws;
    for (int t = 0; t < T_TOKS; t++)
        xt[t] = x + (t < nt ? t : 0) * xs;
    tile(n, nr, wr, nt, xt, true, y, ys, PF_ROWS * ws);
}

const cria_vec_kernels cria_vec_avx512 = {
    .isa = CRIA_ISA_AVX512,
    .dot_f32 = dot_f32,
    .dot_f16 = dot_f16,
    .dot_bf16 = dot_bf16,
    .axpy_f16 = axpy_f16,
    .axpy_f32 = axpy_f32,
    .f32_to_f16 = f32_to_f16,
    .f16_to_f32 = f16_to_f32,
    .f32_to_bf16 = f32_to_bf16,
    .bf16_to_f32 = bf16_to_f32,
    .exp_f32 = exp_f32,
    .softmax_f32 = softmax_f32,
    .rope_f32 = rope_f32,
    .swiglu_f32 = swiglu_f32,
    .tile_rows = T_ROWS,
    .tile_toks = T_TOKS,
    .tile_f32 = tile_f32,
    .tile_f16 = tile_f16,
    .attn_scores_f16 = attn_scores_f16,
    .attn_values_f16 = attn_values_f16,
};
