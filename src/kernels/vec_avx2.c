/* AVX2 + FMA + F16C kernels (compiled with -mavx2 -mfma -mf16c). Tested against vec_scalar.c. */
#include <immintrin.h>
#include <math.h>
#include <stdbool.h>

#include "base/fp16.h"
#include "kernels/vec.h"
#include "kernels/attn_x86.h"
#include "kernels/rope_x86.h"

static float hsum256(__m256 v)
{
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

static __m256 load_f16(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

static __m256 load_bf16(const uint16_t *p)
{
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(w, 16));
}

static float dot_f32(int64_t n, const float *x, const float *y)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i), a0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++)
        s += x[i] * y[i];
    return s;
}

static float dot_f16(int64_t n, const uint16_t *x, const uint16_t *y)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    int64_t i = 0;
    for (; i + 32 <= n; i += 32) {
        a0 = _mm256_fmadd_ps(load_f16(x + i), load_f16(y + i), a0);
        a1 = _mm256_fmadd_ps(load_f16(x + i + 8), load_f16(y + i + 8), a1);
        a2 = _mm256_fmadd_ps(load_f16(x + i + 16), load_f16(y + i + 16), a2);
        a3 = _mm256_fmadd_ps(load_f16(x + i + 24), load_f16(y + i + 24), a3);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(load_f16(x + i), load_f16(y + i), a0);
    float s = hsum256(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    for (; i < n; i++)
        s += cria_fp16_to_f32(x[i]) * cria_fp16_to_f32(y[i]);
    return s;
}

static float dot_bf16(int64_t n, const uint16_t *x, const uint16_t *y)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = a0;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(load_bf16(x + i), load_bf16(y + i), a0);
        a1 = _mm256_fmadd_ps(load_bf16(x + i + 8), load_bf16(y + i + 8), a1);
    }
    for (; i + 8 <= n; i += 8)
        a0 = _mm256_fmadd_ps(load_bf16(x + i), load_bf16(y + i), a0);
    float s = hsum256(_mm256_add_ps(a0, a1));
    for (; i < n; i++)
        s += cria_bf16_to_f32(x[i]) * cria_bf16_to_f32(y[i]);
    return s;
}

static void axpy_f16(int64_t n, float a, const uint16_t *x, float *y)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, load_f16(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * cria_fp16_to_f32(x[i]);
}

static void axpy_f32(int64_t n, float a, const float *x, float *y)
{
    __m256 va = _mm256_set1_ps(a);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_fmadd_ps(va, _mm256_loadu_ps(x + i), _mm256_loadu_ps(y + i)));
    for (; i < n; i++)
        y[i] += a * x[i];
}

static void f32_to_f16(int64_t n, const float *x, uint16_t *y)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        y[i] = cria_f32_to_fp16(x[i]);
}

static void f16_to_f32(int64_t n, const uint16_t *x, float *y)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, load_f16(x + i));
    for (; i < n; i++)
        y[i] = cria_fp16_to_f32(x[i]);
}

/* Round-to-nearest-even on the bit pattern, NaN kept quiet: the scalar rule, eight at a time. */
static void f32_to_bf16(int64_t n, const float *x, uint16_t *y)
{
    int64_t i = 0;
    const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x40);
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256i b = _mm256_castps_si256(v);
        __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(b, 16), one);
        __m256i r = _mm256_srli_epi32(_mm256_add_epi32(_mm256_add_epi32(b, bias), lsb), 16);
        __m256i q = _mm256_or_si256(_mm256_srli_epi32(b, 16), quiet);
        __m256i nan = _mm256_castps_si256(_mm256_cmp_ps(v, v, _CMP_UNORD_Q));
        r = _mm256_blendv_epi8(r, q, nan);
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(r, r), 0x08);
        _mm_storeu_si128((__m128i *)(y + i), _mm256_castsi256_si128(packed));
    }
    for (; i < n; i++)
        y[i] = cria_f32_to_bf16(x[i]);
}

static void bf16_to_f32(int64_t n, const uint16_t *x, float *y)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, load_bf16(x + i));
    for (; i < n; i++)
        y[i] = cria_bf16_to_f32(x[i]);
}

/*
 * exp(x) = 2^n * e^r with n = round(x / ln 2), r = x - n ln 2 (ln 2 split in
 * two for accuracy), e^r by a degree-7 Taylor polynomial on |r| <= ln2/2
 * (truncation error below 1e-8 relative). Inputs are clamped to the range
 * where the result is a normal float or zero/inf.
 */
static __m256 exp256(__m256 x)
{
    const __m256 hi = _mm256_set1_ps(88.72283f), lo = _mm256_set1_ps(-103.97208f);
    __m256 xc = _mm256_max_ps(_mm256_min_ps(x, hi), lo);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(xc, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), xc);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 5040);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    /* 2^n in two steps so n down to -150 (subnormal results) does not underflow the exponent field */
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i n1 = _mm256_srai_epi32(ni, 1), n2 = _mm256_sub_epi32(ni, n1);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n1, _mm256_set1_epi32(127)), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n2, _mm256_set1_epi32(127)), 23));
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, s1), s2);
    y = _mm256_blendv_ps(y, _mm256_set1_ps(INFINITY), _mm256_cmp_ps(x, hi, _CMP_GT_OQ));
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(x, x, _CMP_UNORD_Q)); /* NaN in, NaN out */
}

static void exp_f32(int64_t n, const float *x, float *y)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, exp256(_mm256_loadu_ps(x + i)));
    for (; i < n; i++)
        y[i] = expf(x[i]);
}

static void softmax_f32(int64_t n, float *x)
{
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(vmax), _mm256_extractf128_ps(vmax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    float max = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    for (; i < n; i++)
        max = x[i] > max ? x[i] : max;
    const __m256 mx = _mm256_set1_ps(max);
    __m256d s0 = _mm256_setzero_pd(), s1 = s0;
    for (i = 0; i + 8 <= n; i += 8) {
        const __m256 e = exp256(_mm256_sub_ps(_mm256_loadu_ps(x + i), mx));
        _mm256_storeu_ps(x + i, e);
        s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
        s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    }
    double part[4];
    _mm256_storeu_pd(part, _mm256_add_pd(s0, s1));
    double sum = (part[0] + part[1]) + (part[2] + part[3]);
    for (; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += (double)x[i];
    }
    const __m256 inv = _mm256_set1_ps((float)(1.0 / sum));
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++)
        x[i] *= _mm256_cvtss_f32(inv);
}

static void swiglu_f32(int64_t n, float *g, const float *u)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(g + i);
        __m256 e = exp256(_mm256_sub_ps(_mm256_setzero_ps(), v));
        __m256 silu = _mm256_div_ps(v, _mm256_add_ps(one, e));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(silu, _mm256_loadu_ps(u + i)));
    }
    for (; i < n; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/*
 * Matmul tiles as in vec_avx512.c, sized for 16 registers: 4 weight rows x 2
 * tokens in 8 accumulators. Per (row, token): full 8-lane blocks in order,
 * a lane reduction, then the tail in scalar order; the same steps in any
 * tile, so a batch and a lone token agree bit for bit.
 */
enum { T_ROWS = 4, T_TOKS = 2 };

/* Tiles of several tokens prefetch PF_ROWS rows ahead, as in vec_avx512.c. */
enum { PF_ROWS = 8 };

static inline __attribute__((always_inline)) __m256 tile_load(const void *p, int64_t i, bool f16)
{
    return f16 ? load_f16((const uint16_t *)p + i) : _mm256_loadu_ps((const float *)p + i);
}

static inline __attribute__((always_inline)) float tile_elem(const void *p, int64_t i, bool f16)
{
    return f16 ? cria_fp16_to_f32(((const uint16_t *)p)[i]) : ((const float *)p)[i];
}

static inline __attribute__((always_inline)) void tile(int64_t n, int nr, const void *const *wr, int nt,
                                                       const float *const *xt, bool f16, float *y, int64_t ys, int64_t pf)
{
    __m256 acc[T_ROWS][T_TOKS];
    #pragma GCC unroll 4
    for (int r = 0; r < T_ROWS; r++)
        #pragma GCC unroll 4
        for (int t = 0; t < T_TOKS; t++)
            acc[r][t] = _mm256_setzero_ps();
    int64_t i = 0;
    if (nt == 1) {
        /* one token: row after row, one sequential stream for the prefetcher (same steps per sum) */
        for (int r = 0; r < nr; r++) {
            __m256 a = _mm256_setzero_ps();
            int64_t j = 0;
            for (; j + 8 <= n; j += 8)
                a = _mm256_fmadd_ps(tile_load(wr[r], j, f16), _mm256_loadu_ps(xt[0] + j), a);
            float sum = hsum256(a);
            for (; j < n; j++)
                sum += tile_elem(wr[r], j, f16) * xt[0][j];
            y[r] = sum;
        }
        return;
    }
    {
        for (; i + 8 <= n; i += 8) {
            const __m256 x0 = _mm256_loadu_ps(xt[0] + i), x1 = _mm256_loadu_ps(xt[1] + i);
            #pragma GCC unroll 4
            for (int r = 0; r < T_ROWS; r++) {
                _mm_prefetch((const char *)wr[r] + (f16 ? 2 : 4) * (i + pf), _MM_HINT_T1);
                const __m256 wv = tile_load(wr[r], i, f16);
                acc[r][0] = _mm256_fmadd_ps(wv, x0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(wv, x1, acc[r][1]);
            }
        }
    }
    /* constant trip counts keep acc[][] in registers (see vec_avx512.c) */
    #pragma GCC unroll 4
    for (int t = 0; t < T_TOKS; t++) {
        #pragma GCC unroll 4
        for (int r = 0; r < T_ROWS; r++) {
            if (t >= nt || r >= nr)
                continue;
            float s = hsum256(acc[r][t]);
            for (int64_t j = i; j < n; j++)
                s += tile_elem(wr[r], j, f16) * xt[t][j];
            y[t * ys + r] = s;
        }
    }
}

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

const cria_vec_kernels cria_vec_avx2 = {
    .isa = CRIA_ISA_AVX2,
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
