/*
 * Vector kernels, one implementation per instruction set behind one table.
 * vec_scalar.c is the reference every SIMD variant is tested against;
 * vec_avx2.c and vec_avx512.c are compiled with their ISA flags and only
 * called when cria_isa_active() allows.
 */
#ifndef CRIA_KERNELS_VEC_H
#define CRIA_KERNELS_VEC_H

#include <stdbool.h>
#include <stdint.h>

#include "base/cpu.h"

typedef struct cria_vec_kernels {
    cria_isa isa;
    /* sum x[i] * y[i] */
    float (*dot_f32)(int64_t n, const float *x, const float *y);
    /* both operands half precision; products summed in float */
    float (*dot_f16)(int64_t n, const uint16_t *x, const uint16_t *y);
    /* both operands bfloat16; products summed in float */
    float (*dot_bf16)(int64_t n, const uint16_t *x, const uint16_t *y);
    /* y[i] += a * x[i], x in half precision */
    void (*axpy_f16)(int64_t n, float a, const uint16_t *x, float *y);
    /* y[i] += a * x[i] */
    void (*axpy_f32)(int64_t n, float a, const float *x, float *y);
    void (*f32_to_f16)(int64_t n, const float *x, uint16_t *y);
    void (*f16_to_f32)(int64_t n, const uint16_t *x, float *y);
    void (*f32_to_bf16)(int64_t n, const float *x, uint16_t *y);
    void (*bf16_to_f32)(int64_t n, const uint16_t *x, float *y);
    /* y[i] = exp(x[i]); y may alias x. SIMD versions are within 2 ulp of libm's expf. */
    void (*exp_f32)(int64_t n, const float *x, float *y);
    /*
     * RoPE of n_heads heads of head_dim floats, the first n_rot dimensions
     * rotated by the angles in cs (cria_rope_cache); pairs (2i, 2i+1), or
     * (i, i + n_rot/2) with neox. The bits of ops.c's cria_rope / cria_rope_neox.
     */
    void (*rope_f32)(float *x, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs, bool neox);
    /* x[i] = exp(x[i] - max) / sum, the sum taken in double; n >= 1, finite inputs */
    void (*softmax_f32)(int64_t n, float *x);
    /* g[i] = silu(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i] */
    void (*swiglu_f32)(int64_t n, float *g, const float *u);
    /*
     * A register tile of the matmul: y[t * ys + r] = dot(w row r, x row t),
     * n elements each, for r < nr <= tile_rows and t < nt <= tile_toks; rows
     * are ws (weights) and xs (activations) elements apart. Each weight
     * vector is loaded once for all the tile's tokens. A (row, token) result
     * does not depend on the tile it was computed in, so a batch gives the
     * same numbers as tokens one by one.
     */
    int tile_rows, tile_toks;
    void (*tile_f32)(int64_t n, int nr, const float *w, int64_t ws, int nt, const float *x, int64_t xs, float *y,
                     int64_t ys);
    /*
     * The same with half-precision weights; x holds the activations already
     * rounded to half precision (as the reference engine's f16 dot product
     * sees them) but stored as floats, so only the weights are converted in
     * the inner loop.
     */
    void (*tile_f16)(int64_t n, int nr, const uint16_t *w, int64_t ws, int nt, const float *x, int64_t xs, float *y,
                     int64_t ys);
    /*
     * Attention over a half-precision cache, head_dim hd a multiple of 8.
     * Cell j of the nv is row idx[j] of k / v, rows ks / vs halves apart.
     * Scores: s[h * ss + j] = scale * dot(q + h * hd, k row idx[j]) for nq
     * query heads (q already rounded to half precision, stored as floats).
     * Values: o[h * hd + d] += sum over j of p[h * ps + j] * v row idx[j][d].
     */
    void (*attn_scores_f16)(int32_t hd, int32_t nq, const float *q, int32_t nv, const int32_t *idx,
                            const uint16_t *k, int64_t ks, float scale, float *s, int64_t ss);
    void (*attn_values_f16)(int32_t hd, int32_t nq, const float *p, int64_t ps, int32_t nv, const int32_t *idx,
                            const uint16_t *v, int64_t vs, float *o);
} cria_vec_kernels;

extern const cria_vec_kernels cria_vec_scalar;
extern const cria_vec_kernels cria_vec_avx2;
extern const cria_vec_kernels cria_vec_avx512;

/* The table for an ISA level (the scalar one for levels this build lacks). */
const cria_vec_kernels *cria_vec_for(cria_isa isa);

#endif
