/*
 * Row kernels of the forward pass. Each works on one row (one token) and is
 * called by the forward pass for every row, serially or from a parallel
 * split. Numerics follow the reference engine where it matters for matching
 * its logits (sums of squares in double, RoPE angles by repeated products).
 */
#ifndef CRIA_KERNELS_OPS_H
#define CRIA_KERNELS_OPS_H

#include <stdint.h>

#include "kernels/vec.h"

/* y = x / sqrt(mean(x^2) + eps) * w; y may alias x. */
void cria_rmsnorm(int64_t n, const float *x, const float *w, float eps, float *y);

/*
 * Precomputes RoPE cos/sin pairs for one position: cs[2i] = cos(theta_i),
 * cs[2i+1] = sin(theta_i), theta_i = pos * base^(-2i/n_rot), i < n_rot/2.
 */
void cria_rope_cache(int32_t pos, int32_t n_rot, float freq_base, float *cs);

/*
 * RoPE with context-extension scaling, as the reference engine applies it:
 * pair i's angle pos * base^(-2i/n_rot) is divided by freq_factors[i] (Llama
 * 3's rope_freqs tensor), multiplied by freq_scale (1/factor of linear and
 * YaRN scaling), and for YaRN (ext_factor > 0) mixed back towards the
 * unscaled angle on the pairs below corr_dims[0], with cos and sin scaled by
 * attn_factor * (1 + 0.1 ln(1/freq_scale)). attn_factor scales cos and sin
 * in every mode.
 */
typedef struct cria_rope_params {
    int32_t n_rot;
    float freq_base;
    float freq_scale;          /* 1: no interpolation */
    float ext_factor;          /* YaRN extrapolation mix; 0: off */
    float attn_factor;         /* 1: unscaled magnitude */
    float corr_dims[2];        /* YaRN's ramp runs between these pair dimensions */
    const float *freq_factors; /* [n_rot/2] angle divisors, or NULL */
} cria_rope_params;

/* The plain parameters: base freq_base over n_rot dimensions, no scaling. */
cria_rope_params cria_rope_params_plain(int32_t n_rot, float freq_base);

/* YaRN's correction range for a model trained on n_ctx_orig positions (beta_fast 32, beta_slow 1 by default). */
void cria_rope_yarn_corr_dims(int32_t n_rot, int32_t n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                              float dims[2]);

/* cria_rope_cache with scaling: fills cs[0..n_rot) for position pos. */
void cria_rope_cache_ext(int32_t pos, const cria_rope_params *p, float *cs);

/*
 * Llama 3's per-pair angle divisors from its rope_scaling config (factor,
 * low_freq_factor, high_freq_factor, original_max_position_embeddings), as
 * converters write them into rope_freqs.weight: 1 for short wavelengths,
 * factor for long ones, a smooth blend between. Fills out[0..n_rot/2).
 */
void cria_rope_llama3_factors(int32_t n_rot, float freq_base, float factor, float low_freq_factor,
                              float high_freq_factor, int32_t n_ctx_orig, float *out);

/*
 * Rotates adjacent pairs (x[2i], x[2i+1]) of each of n_heads heads of
 * head_dim values by the angles in cs; dimensions past n_rot are untouched.
 */
void cria_rope(float *x, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs);

/*
 * The NeoX pairing: rotates (x[i], x[i + n_rot/2]) of each head, i < n_rot/2,
 * by the angles in cs (same cache as cria_rope).
 */
void cria_rope_neox(float *x, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs);

/* gate[i] = gelu(gate[i]) * up[i], GELU in its tanh form with the reference engine's half-precision rounding. */
void cria_geglu(int64_t n, float *gate, const float *up);

enum { CRIA_GELU_TABLE_SIZE = 65536 };

/* Fills table[h] with the half-precision GELU of every half h: the values cria_geglu computes per element. */
void cria_gelu_table_init(uint16_t *table);

/*
 * cria_geglu through a table from cria_gelu_table_init: the same numbers, a
 * lookup instead of tanhf, with vk's half-precision conversions.
 */
void cria_geglu_table(const cria_vec_kernels *vk, int64_t n, float *gate, const float *up, const uint16_t *table);

/* In place: x = exp(x - max) / sum; returns nothing. */
void cria_softmax(int64_t n, float *x);

/* gate[i] = silu(gate[i]) * up[i]. */
void cria_swiglu(int64_t n, float *gate, const float *up);

/* y[i] += x[i]. */
void cria_add(int64_t n, float *y, const float *x);

#endif
