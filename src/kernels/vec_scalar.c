/* The reference kernels: plain loops, the specification for the SIMD files. */
#include <math.h>

#include "base/fp16.h"
#include "kernels/ops.h"
#include "kernels/vec.h"

static float dot_f32(int64_t n, const float *x, const float *y)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

static float dot_f16(int64_t n, const uint16_t *x, const uint16_t *y)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += cria_fp16_to_f32(x[i]) * cria_fp16_to_f32(y[i]);
    return s;
}

static float dot_bf16(int64_t n, const uint16_t *x, const uint16_t *y)
{
    float s = 0.0f;
    for (int64_t i = 0; i < n; i++)
        s += cria_bf16_to_f32(x[i]) * cria_bf16_to_f32(y[i]);
    return s;
}

static void axpy_f16(int64_t n, float a, const uint16_t *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * cria_fp16_to_f32(x[i]);
}

static void axpy_f32(int64_t n, float a, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

static void f32_to_f16(int64_t n, const float *x, uint16_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = cria_f32_to_fp16(x[i]);
}

static void f16_to_f32(int64_t n, const uint16_t *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = cria_fp16_to_f32(x[i]);
}

static void f32_to_bf16(int64_t n, const float *x, uint16_t *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = cria_f32_to_bf16(x[i]);
}

static void bf16_to_f32(int64_t n, const uint16_t *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = cria_bf16_to_f32(x[i]);
}

static void exp_f32(int64_t n, const float *x, float *y)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = expf(x[i]);
}

/* The reference is ops.c's RoPE (libm's fmaf: correct on CPUs without FMA, a call per element). */
static void rope_f32(float *x, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs, bool neox)
{
    if (neox)
        cria_rope_neox(x, n_heads, head_dim, n_rot, cs);
    else
        cria_rope(x, n_heads, head_dim, n_rot, cs);
}

/* The reference is ops.c's softmax (libm's expf, the sum in double). */
static void softmax_f32(int64_t n, float *x)
{
    cria_softmax(n, x);
}

static void swiglu_f32(int64_t n, float *g, const float *u)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

static void tile_f32(int64_t n, int nr, const float *w, int64_t ws, int nt, const float *x, int64_t xs, float *y,
                     int64_t ys)
{
    for (int t = 0; t < nt; t++) {
        for (int r = 0; r < nr; r++)
            y[t * ys + r] = dot_f32(n, w + r * ws, x + t * xs);
    }
}

static void tile_f16(int64_t n, int nr, const uint16_t *w, int64_t ws, int nt, const float *x, int64_t xs, float *y,
                     int64_t ys)
{
    for (int t = 0; t < nt; t++) {
        for (int r = 0; r < nr; r++) {
            float s = 0.0f;
            for (int64_t i = 0; i < n; i++)
                s += cria_fp16_to_f32(w[r * ws + i]) * x[t * xs + i];
            y[t * ys + r] = s;
        }
    }
}

static void attn_scores_f16(int32_t hd, int32_t nq, const float *q, int32_t nv, const int32_t *idx,
                            const uint16_t *k, int64_t ks, float scale, float *s, int64_t ss)
{
    for (int32_t h = 0; h < nq; h++) {
        for (int32_t j = 0; j < nv; j++) {
            const uint16_t *kr = k + (int64_t)idx[j] * ks;
            float sum = 0.0f;
            for (int32_t d = 0; d < hd; d++)
                sum += q[(int64_t)h * hd + d] * cria_fp16_to_f32(kr[d]);
            s[(int64_t)h * ss + j] = sum * scale;
        }
    }
}

static void attn_values_f16(int32_t hd, int32_t nq, const float *p, int64_t ps, int32_t nv, const int32_t *idx,
                            const uint16_t *v, int64_t vs, float *o)
{
    for (int32_t h = 0; h < nq; h++) {
        for (int32_t j = 0; j < nv; j++) {
            const uint16_t *vr = v + (int64_t)idx[j] * vs;
            const float pj = p[(int64_t)h * ps + j];
            for (int32_t d = 0; d < hd; d++)
                o[(int64_t)h * hd + d] += pj * cria_fp16_to_f32(vr[d]);
        }
    }
}

const cria_vec_kernels cria_vec_scalar = {
    .isa = CRIA_ISA_SCALAR,
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
    .tile_rows = 4,
    .tile_toks = 4,
    .tile_f32 = tile_f32,
    .tile_f16 = tile_f16,
    .attn_scores_f16 = attn_scores_f16,
    .attn_values_f16 = attn_values_f16,
};
