/*
 * Row kernels of the forward pass. Each works on one row (one token) and is
 * called by the forward pass for every row, serially or from a parallel
 * split. Numerics follow the reference engine where it matters for matching
 * its logits (sums of squares in double, RoPE angles by repeated products).
 */
#ifndef CRIA_KERNELS_OPS_H
#define CRIA_KERNELS_OPS_H

#include <stdint.h>

/* y = x / sqrt(mean(x^2) + eps) * w; y may alias x. */
void cria_rmsnorm(int64_t n, const float *x, const float *w, float eps, float *y);

/*
 * Precomputes RoPE cos/sin pairs for one position: cs[2i] = cos(theta_i),
 * cs[2i+1] = sin(theta_i), theta_i = pos * base^(-2i/n_rot), i < n_rot/2.
 */
void cria_rope_cache(int32_t pos, int32_t n_rot, float freq_base, float *cs);

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

/* In place: x = exp(x - max) / sum; returns nothing. */
void cria_softmax(int64_t n, float *x);

/* gate[i] = silu(gate[i]) * up[i]. */
void cria_swiglu(int64_t n, float *gate, const float *up);

/* y[i] += x[i]. */
void cria_add(int64_t n, float *y, const float *x);

#endif
