/*
 * Inside the quant module: the scalar reference kernels (so the ISA tables
 * can reuse the ones they do not replace), the per-ISA tables, and small
 * helpers every format shares.
 */
#ifndef CRIA_QUANT_QUANT_IMPL_H
#define CRIA_QUANT_QUANT_IMPL_H

#include <math.h>
#include <string.h>

#include "base/fp16.h"
#include "quant/blocks.h"
#include "quant/quant.h"

/* Inputs are clamped to this magnitude before quantizing (see cria_quantize_row). */
#define QUANT_INPUT_LIMIT 1e30f

/* NaN -> 0, +-Inf and beyond the limit -> +-limit. */
static inline float quant_clean(float v)
{
    if (v != v)
        return 0.0f;
    if (v > QUANT_INPUT_LIMIT)
        return QUANT_INPUT_LIMIT;
    if (v < -QUANT_INPUT_LIMIT)
        return -QUANT_INPUT_LIMIT;
    return v;
}

/* Copies n inputs through quant_clean. */
static inline void quant_clean_block(const float *x, float *out, int n)
{
    for (int i = 0; i < n; i++)
        out[i] = quant_clean(x[i]);
}

/* float -> half, saturating at +-65504 instead of overflowing to infinity. */
static inline uint16_t quant_half(float f)
{
    if (f > 65504.0f)
        f = 65504.0f;
    else if (f < -65504.0f)
        f = -65504.0f;
    return cria_f32_to_fp16(f);
}

static inline float quant_f32(uint16_t h)
{
    return cria_fp16_to_f32(h);
}

/* Round to nearest, ties to even (the default rounding mode), as ggml's nearest_int. */
static inline int quant_nearest(float f)
{
    return (int)lrintf(f);
}

/*
 * The six-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block's
 * 12 scale bytes: sub-blocks 0..3 keep theirs in the low 6 bits of bytes j
 * and j+4; sub-blocks 4..7 keep the low 4 bits in byte j+4's nibbles and the
 * top 2 bits in the spare top bits of bytes j-4 and j.
 */
static inline void quant_k4_scale_min(int j, const uint8_t *q, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = q[j] & 63;
        *m = q[j + 4] & 63;
    } else {
        *sc = (uint8_t)((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/*
 * The float shape every dot product shares, so that all ISA levels give the
 * same bits and agree with llama.cpp's x86 kernels: eight integer lanes per
 * block, lane k holding the (scaled) products of the elements e with
 * (e % 32) / 4 == k, each lane added into its float accumulator with one
 * fused multiply-add by the block's scale, and the lanes summed at the end
 * as hsum_float_8 does: (a0+a4 + a2+a6) + (a1+a5 + a3+a7).
 */
static inline void quant_lanes_fma(const int32_t lane[8], float d, float acc[8])
{
    for (int k = 0; k < 8; k++)
        acc[k] = fmaf((float)lane[k], d, acc[k]);
}

static inline float quant_lanes_sum(const float acc[8])
{
    const float r0 = acc[0] + acc[4], r1 = acc[1] + acc[5], r2 = acc[2] + acc[6], r3 = acc[3] + acc[7];
    return (r0 + r2) + (r1 + r3);
}

/* The four-lane sum of the K-quants' min terms: (m0 + m2) + (m1 + m3). */
static inline float quant_lanes4_sum(const float m[4])
{
    return (m[0] + m[2]) + (m[1] + m[3]);
}

/* All eight scales and mins of a Q4_K / Q5_K block at once (the same values as quant_k4_scale_min), by words. */
static inline void quant_k4_unpack(const uint8_t *q, uint8_t sc[8], uint8_t m[8])
{
    uint32_t u[3], s[2], n[2];
    memcpy(u, q, sizeof u);
    s[0] = u[0] & 0x3f3f3f3fu;
    n[0] = u[1] & 0x3f3f3f3fu;
    s[1] = (u[2] & 0x0f0f0f0fu) | (((u[0] >> 6) & 0x03030303u) << 4);
    n[1] = ((u[2] >> 4) & 0x0f0f0f0fu) | (((u[1] >> 6) & 0x03030303u) << 4);
    memcpy(sc, s, sizeof s);
    memcpy(m, n, sizeof n);
}

/* Q3_K's 16 scales by words (the same values as quant_q3k_scales). */
static inline void quant_q3k_unpack(const uint8_t *p, int8_t out[16])
{
    uint32_t u[3], v[4];
    memcpy(u, p, sizeof u);
    v[0] = (u[0] & 0x0f0f0f0fu) | ((u[2] & 0x03030303u) << 4);
    v[1] = (u[1] & 0x0f0f0f0fu) | (((u[2] >> 2) & 0x03030303u) << 4);
    v[2] = ((u[0] >> 4) & 0x0f0f0f0fu) | (((u[2] >> 4) & 0x03030303u) << 4);
    v[3] = ((u[1] >> 4) & 0x0f0f0f0fu) | (((u[2] >> 6) & 0x03030303u) << 4);
    uint8_t b[16];
    memcpy(b, v, sizeof b);
    for (int j = 0; j < 16; j++)
        out[j] = (int8_t)(b[j] - 32);
}

/* Q3_K's 16 signed scales (-32..31) unpacked from its 12 scale bytes. */
void quant_q3k_scales(const uint8_t *packed, int8_t out[16]);

/* quant_legacy.c */
void quant_q8_0_from_float(const float *x, void *y, int64_t n);
void quant_q8_0_to_float(const void *x, float *y, int64_t n);
float quant_q8_0_dot(int64_t n, const void *w, const void *a);
void quant_q8_1_from_float(const float *x, void *y, int64_t n);
void quant_q8_1_to_float(const void *x, float *y, int64_t n);
void quant_q4_0_from_float(const float *x, void *y, int64_t n);
void quant_q4_0_to_float(const void *x, float *y, int64_t n);
float quant_q4_0_dot(int64_t n, const void *w, const void *a);
void quant_q4_1_from_float(const float *x, void *y, int64_t n);
void quant_q4_1_to_float(const void *x, float *y, int64_t n);
float quant_q4_1_dot(int64_t n, const void *w, const void *a);
void quant_q5_0_from_float(const float *x, void *y, int64_t n);
void quant_q5_0_to_float(const void *x, float *y, int64_t n);
float quant_q5_0_dot(int64_t n, const void *w, const void *a);
void quant_q5_1_from_float(const float *x, void *y, int64_t n);
void quant_q5_1_to_float(const void *x, float *y, int64_t n);
float quant_q5_1_dot(int64_t n, const void *w, const void *a);

/* quant_k.c */
void quant_q8_k_from_float(const float *x, void *y, int64_t n);
void quant_q8_k_to_float(const void *x, float *y, int64_t n);
void quant_q2_k_from_float(const float *x, void *y, int64_t n);
void quant_q2_k_to_float(const void *x, float *y, int64_t n);
float quant_q2_k_dot(int64_t n, const void *w, const void *a);
void quant_q3_k_from_float(const float *x, void *y, int64_t n);
void quant_q3_k_to_float(const void *x, float *y, int64_t n);
float quant_q3_k_dot(int64_t n, const void *w, const void *a);
void quant_q4_k_from_float(const float *x, void *y, int64_t n);
void quant_q4_k_to_float(const void *x, float *y, int64_t n);
float quant_q4_k_dot(int64_t n, const void *w, const void *a);
void quant_q5_k_from_float(const float *x, void *y, int64_t n);
void quant_q5_k_to_float(const void *x, float *y, int64_t n);
float quant_q5_k_dot(int64_t n, const void *w, const void *a);
void quant_q6_k_from_float(const float *x, void *y, int64_t n);
void quant_q6_k_to_float(const void *x, float *y, int64_t n);
float quant_q6_k_dot(int64_t n, const void *w, const void *a);

/* quant_ternary.c */
void quant_tq1_0_from_float(const float *x, void *y, int64_t n);
void quant_tq1_0_to_float(const void *x, float *y, int64_t n);
float quant_tq1_0_dot(int64_t n, const void *w, const void *a);
void quant_tq2_0_from_float(const float *x, void *y, int64_t n);
void quant_tq2_0_to_float(const void *x, float *y, int64_t n);
float quant_tq2_0_dot(int64_t n, const void *w, const void *a);

/* quant_avx2.c: the AVX2 activation quantizers, shared with the AVX-512 table. */
void quant_avx2_q8_0_from_float(const float *x, void *y, int64_t n);
void quant_avx2_q8_k_from_float(const float *x, void *y, int64_t n);

/* One table per ISA level, indexed by type id; rows of non-quantized ids are zero. */
extern const cria_quant_traits cria_quant_scalar[CRIA_DTYPE_COUNT];
extern const cria_quant_traits cria_quant_avx2[CRIA_DTYPE_COUNT];
extern const cria_quant_traits cria_quant_avx512[CRIA_DTYPE_COUNT];

#endif
