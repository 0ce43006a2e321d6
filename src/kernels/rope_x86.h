/*
 * RoPE for the x86 kernel tables, included by vec_avx2.c and vec_avx512.c:
 * the same loops as ops.c's cria_rope and cria_rope_neox (the reference),
 * but compiled with -mfma, so each fmaf is one instruction instead of a call
 * into libm (which made RoPE about 3 ns per element). fmaf rounds once
 * either way, so the bits are the reference's.
 */
#ifndef CRIA_KERNELS_ROPE_X86_H
#define CRIA_KERNELS_ROPE_X86_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

static void rope_f32(float *x, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs, bool neox)
{
    const int32_t half = n_rot / 2;
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int32_t i = 0; i < half; i++) {
            /* pairs (2i, 2i+1), or (i, i + half) in NeoX order; angle i's cos and sin at cs[2i], cs[2i+1] */
            float *a = neox ? &v[i] : &v[2 * i], *b = neox ? &v[i + half] : &v[2 * i + 1];
            const float c = cs[2 * i], s = cs[2 * i + 1], x0 = *a, x1 = *b;
            *a = fmaf(x0, c, -(x1 * s));
            *b = fmaf(x0, s, x1 * c);
        }
    }
}

#endif
