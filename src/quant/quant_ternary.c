/*
 * Ternary formats of BitNet b1.58 (TQ1_0, TQ2_0): each element is d * t with
 * t in {-1, 0, 1}, stored as t + 1 in {0, 1, 2}; d = max |x| of the 256-block.
 * Both dot with Q8_K activations.
 */
#include <string.h>

#include "quant/quant_impl.h"

/* Block scale d = max |x| and the trits t + 1 = round(x / d) + 1 of a cleaned block. */
static float ternary_levels(const float *x, float *v, uint8_t t[QK_K])
{
    quant_clean_block(x, v, QK_K);
    float amax = 0.0f;
    for (int j = 0; j < QK_K; j++)
        amax = fabsf(v[j]) > amax ? fabsf(v[j]) : amax;
    const float id = amax != 0.0f ? 1.0f / amax : 0.0f;
    for (int j = 0; j < QK_K; j++) {
        long q = lroundf(v[j] * id);
        t[j] = (uint8_t)((q < -1 ? -1 : q > 1 ? 1 : q) + 1);
    }
    return amax;
}

/*
 * The dots take trits as 0..2 and subtract the activations once: lane k gets
 * sum t*y over its bytes minus bsums[2k] + bsums[2k+1] (activations
 * 32k..32k+31), the reference's grouping. The block total is the same as
 * sum (t-1)*y per lane, but the lanes differ, and so does their float
 * accumulation across blocks.
 */
static void ternary_minus_sums(int32_t lane[8], const block_q8_K *a)
{
    for (int k = 0; k < 8; k++)
        lane[k] -= a->bsums[2 * k] + a->bsums[2 * k + 1];
}

/* ---- TQ1_0 -------------------------------------------------------------- */

/*
 * Five trits t0..t4 (t0 most significant) as one byte: the base-3 number
 * q = t0 t1 t2 t3 t4 (0..242) scaled to a fraction of 256, rounded up, so
 * that multiplying the byte by 3^k (mod 256) brings trit k to the top.
 */
static uint8_t pack5(const uint8_t *t, int stride, int count)
{
    unsigned q = 0;
    for (int k = 0; k < 5; k++)
        q = q * 3 + (k < count ? t[k * stride] : 0);
    return (uint8_t)((q * 256 + 242) / 243);
}

/* Trit k (0..4) of a pack5 byte. */
static inline int unpack5(uint8_t b, int k)
{
    static const uint8_t pow3[5] = {1, 3, 9, 27, 81};
    const uint8_t v = (uint8_t)(b * pow3[k]);
    return (v * 3) >> 8;
}

void quant_tq1_0_from_float(const float *x, void *vy, int64_t n)
{
    block_tq1_0 *y = vy;
    float v[QK_K];
    uint8_t t[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        y[i].d = quant_half(ternary_levels(x + i * QK_K, v, t));
        for (int m = 0; m < 32; m++)
            y[i].qs[m] = pack5(t + m, 32, 5);
        for (int m = 0; m < 16; m++)
            y[i].qs[32 + m] = pack5(t + 160 + m, 16, 5);
        for (int m = 0; m < 4; m++)
            y[i].qh[m] = pack5(t + 240 + m, 4, 4);
    }
}

/*
 * TQ1_0, 54 bytes: qs[48], qh[4], d (fp16). Each byte holds five trits
 * (pack5); trit k of a byte is element:
 *
 *   qs[m],      m 0..31:  element m + 32 k           (elements   0..159)
 *   qs[32 + m], m 0..15:  element 160 + m + 16 k     (elements 160..239)
 *   qh[m],      m 0..3:   element 240 + m + 4 k, k < 4 (elements 240..255)
 *
 * element = d * (trit - 1).
 */
static int tq1_trit(const block_tq1_0 *b, int e)
{
    if (e < 160)
        return unpack5(b->qs[e % 32], e / 32);
    if (e < 240)
        return unpack5(b->qs[32 + (e - 160) % 16], (e - 160) / 16);
    return unpack5(b->qh[(e - 240) % 4], (e - 240) / 4);
}

void quant_tq1_0_to_float(const void *vx, float *y, int64_t n)
{
    const block_tq1_0 *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_f32(x[i].d);
        for (int e = 0; e < QK_K; e++)
            y[i * QK_K + e] = d * (float)(tq1_trit(&x[i], e) - 1);
    }
}

float quant_tq1_0_dot(int64_t n, const void *vw, const void *va)
{
    const block_tq1_0 *w = vw;
    const block_q8_K *a = va;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t lane[8] = {0};
        for (int e = 0; e < QK_K; e++)
            lane[(e % 32) / 4] += tq1_trit(&w[i], e) * a[i].qs[e];
        ternary_minus_sums(lane, &a[i]);
        quant_lanes_fma(lane, a[i].d * quant_f32(w[i].d), acc);
    }
    return quant_lanes_sum(acc);
}

/* ---- TQ2_0 -------------------------------------------------------------- */

void quant_tq2_0_from_float(const float *x, void *vy, int64_t n)
{
    block_tq2_0 *y = vy;
    float v[QK_K];
    uint8_t t[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        y[i].d = quant_half(ternary_levels(x + i * QK_K, v, t));
        memset(y[i].qs, 0, sizeof y[i].qs);
        for (int e = 0; e < QK_K; e++)
            y[i].qs[32 * (e / 128) + e % 32] |= (uint8_t)(t[e] << (2 * ((e % 128) / 32)));
    }
}

/*
 * TQ2_0, 66 bytes: qs[64], d (fp16).
 *
 *   element e (0..255) = 128 h + 32 s + l   (h 0..1, s 0..3, l 0..31)
 *   trit = (qs[32 h + l] >> 2 s) & 3
 *
 * element = d * (trit - 1).
 */
void quant_tq2_0_to_float(const void *vx, float *y, int64_t n)
{
    const block_tq2_0 *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_f32(x[i].d);
        for (int e = 0; e < QK_K; e++) {
            const int t = (x[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            y[i * QK_K + e] = d * (float)(t - 1);
        }
    }
}

float quant_tq2_0_dot(int64_t n, const void *vw, const void *va)
{
    const block_tq2_0 *w = vw;
    const block_q8_K *a = va;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t lane[8] = {0};
        for (int e = 0; e < QK_K; e++) {
            const int t = (w[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            lane[(e % 32) / 4] += t * a[i].qs[e];
        }
        ternary_minus_sums(lane, &a[i]);
        quant_lanes_fma(lane, a[i].d * quant_f32(w[i].d), acc);
    }
    return quant_lanes_sum(acc);
}
