/* The reference kernels: plain loops, the specification for the SIMD files. */
#include <math.h>

#include "base/fp16.h"
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
    .swiglu_f32 = swiglu_f32,
    .tile_rows = 4,
    .tile_toks = 4,
    .tile_f32 = tile_f32,
    .tile_f16 = tile_f16,
};
