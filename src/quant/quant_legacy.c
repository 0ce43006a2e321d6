/*
 * The 32-element block formats (Q8_0, Q8_1, Q4_0, Q4_1, Q5_0, Q5_1): scalar
 * reference quantizers, dequantizers and dot products. Q4_0, Q5_0 and Q8_0
 * weights dot with Q8_0 activations, Q4_1 and Q5_1 with Q8_1 (whose stored
 * block sum carries the weight minimum's contribution).
 */
#include <string.h>

#include "quant/quant_impl.h"

/* amax = max |x|, and the signed value that attains it. */
static float block_absmax(const float *x, int n, float *signed_max)
{
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    if (signed_max)
        *signed_max = max;
    return amax;
}

static void block_minmax(const float *x, int n, float *min, float *max)
{
    float lo = x[0], hi = x[0];
    for (int j = 1; j < n; j++) {
        lo = x[j] < lo ? x[j] : lo;
        hi = x[j] > hi ? x[j] : hi;
    }
    *min = lo;
    *max = hi;
}

/* Integer lanes of one 32-block (see quant_lanes_fma), accumulated with d. */
static inline void lanes_fma(const int8_t *q, const int8_t *a, float d, float acc[8])
{
    int32_t lane[8];
    for (int k = 0; k < 8; k++) {
        lane[k] = 0;
        for (int j = 4 * k; j < 4 * k + 4; j++)
            lane[k] += q[j] * a[j];
    }
    quant_lanes_fma(lane, d, acc);
}

/* ---- Q8_0 --------------------------------------------------------------- */

/*
 * d = max|x| / 127, q = round(x * (127 / max|x|)), ties to even: exactly the
 * arithmetic of the reference engine's x86 activation quantizer (127 / max
 * rather than 1 / d: the two differ in the last bit, and at a rounding tie
 * that changes q, which golden logits notice).
 */
void quant_q8_0_from_float(const float *x, void *vy, int64_t n)
{
    block_q8_0 *y = vy;
    float v[QK_LEGACY];
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        quant_clean_block(x + i * QK_LEGACY, v, QK_LEGACY);
        const float amax = block_absmax(v, QK_LEGACY, NULL), d = amax / 127.0f;
        const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[i].d = quant_half(d);
        for (int j = 0; j < QK_LEGACY; j++)
            y[i].qs[j] = (int8_t)quant_nearest(v[j] * id);
    }
}

/*
 * Q8_0, 34 bytes: d (fp16) then 32 signed bytes, element j = d * qs[j].
 */
void quant_q8_0_to_float(const void *vx, float *y, int64_t n)
{
    const block_q8_0 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const float d = quant_f32(x[i].d);
        for (int j = 0; j < QK_LEGACY; j++)
            y[i * QK_LEGACY + j] = d * (float)x[i].qs[j];
    }
}

float quant_q8_0_dot(int64_t n, const void *vw, const void *va)
{
    const block_q8_0 *w = vw, *a = va;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_LEGACY; i++)
        lanes_fma(w[i].qs, a[i].qs, quant_f32(w[i].d) * quant_f32(a[i].d), acc);
    return quant_lanes_sum(acc);
}

/* ---- Q8_1 --------------------------------------------------------------- */

/* As Q8_0, plus s = d * sum(q). */
void quant_q8_1_from_float(const float *x, void *vy, int64_t n)
{
    block_q8_1 *y = vy;
    float v[QK_LEGACY];
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        quant_clean_block(x + i * QK_LEGACY, v, QK_LEGACY);
        const float d = block_absmax(v, QK_LEGACY, NULL) / 127.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < QK_LEGACY; j++) {
            y[i].qs[j] = (int8_t)quant_nearest(v[j] * id);
            sum += y[i].qs[j];
        }
        y[i].d = quant_half(d);
        y[i].s = quant_half((float)sum * d);
    }
}

/*
 * Q8_1, 36 bytes: d (fp16), s (fp16, = d * sum of the quants), 32 signed
 * bytes, element j = d * qs[j].
 */
void quant_q8_1_to_float(const void *vx, float *y, int64_t n)
{
    const block_q8_1 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const float d = quant_f32(x[i].d);
        for (int j = 0; j < QK_LEGACY; j++)
            y[i * QK_LEGACY + j] = d * (float)x[i].qs[j];
    }
}

/* ---- Q4_0 --------------------------------------------------------------- */

/* d = -max / 8 where max is the signed value of largest magnitude (it maps to q = 0). */
void quant_q4_0_from_float(const float *x, void *vy, int64_t n)
{
    block_q4_0 *y = vy;
    float v[QK_LEGACY];
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        quant_clean_block(x + i * QK_LEGACY, v, QK_LEGACY);
        float max;
        block_absmax(v, QK_LEGACY, &max);
        const float d = max / -8.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = quant_half(d);
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            int q0 = (int)(v[j] * id + 8.5f), q1 = (int)(v[j + 16] * id + 8.5f);
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/*
 * Q4_0, 18 bytes: d (fp16), then 16 bytes of nibbles:
 *
 *   byte j (0..15):  bits 0-3 = q[j]   bits 4-7 = q[j + 16]
 *
 * element = d * (q - 8), q in 0..15.
 */
void quant_q4_0_to_float(const void *vx, float *y, int64_t n)
{
    const block_q4_0 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const float d = quant_f32(x[i].d);
        float *out = y + i * QK_LEGACY;
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            out[j] = d * (float)((x[i].qs[j] & 0xF) - 8);
            out[j + 16] = d * (float)((x[i].qs[j] >> 4) - 8);
        }
    }
}

/*
 * Not the eight-lane shape of the other 32-blocks: on x86 with AVX2 the
 * reference repacks Q4_0 matrices (llama.cpp's q4_0_8x8) and its kernels
 * take each block's exact integer sum times the block's scale into one
 * float per row, so this does too (the goldens were made that way; the lane
 * shape parts from them at a near tie). llama.cpp keeps the lane shape for
 * matrices whose row count is not a multiple of 8; cria does not.
 */
float quant_q4_0_dot(int64_t n, const void *vw, const void *va)
{
    const block_q4_0 *w = vw;
    const block_q8_0 *a = va;
    float acc = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int32_t sum = 0;
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            sum += ((w[i].qs[j] & 0xF) - 8) * a[i].qs[j];
            sum += ((w[i].qs[j] >> 4) - 8) * a[i].qs[j + 16];
        }
        acc = fmaf((float)sum, quant_f32(w[i].d) * quant_f32(a[i].d), acc);
    }
    return acc;
}

/* ---- Q4_1 --------------------------------------------------------------- */

/* m = min, d = (max - min) / 15, q = round((x - m) / d). */
void quant_q4_1_from_float(const float *x, void *vy, int64_t n)
{
    block_q4_1 *y = vy;
    float v[QK_LEGACY];
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        quant_clean_block(x + i * QK_LEGACY, v, QK_LEGACY);
        float min, max;
        block_minmax(v, QK_LEGACY, &min, &max);
        const float d = (max - min) / 15.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = quant_half(d);
        y[i].m = quant_half(min);
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            int q0 = (int)((v[j] - min) * id + 0.5f), q1 = (int)((v[j + 16] - min) * id + 0.5f);
            q0 = q0 > 15 ? 15 : q0;
            q1 = q1 > 15 ? 15 : q1;
            y[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

/*
 * Q4_1, 20 bytes: d (fp16), m (fp16), then nibbles as Q4_0:
 *
 *   byte j (0..15):  bits 0-3 = q[j]   bits 4-7 = q[j + 16]
 *
 * element = d * q + m, q in 0..15.
 */
void quant_q4_1_to_float(const void *vx, float *y, int64_t n)
{
    const block_q4_1 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const float d = quant_f32(x[i].d), m = quant_f32(x[i].m);
        float *out = y + i * QK_LEGACY;
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            out[j] = d * (float)(x[i].qs[j] & 0xF) + m;
            out[j + 16] = d * (float)(x[i].qs[j] >> 4) + m;
        }
    }
}

float quant_q4_1_dot(int64_t n, const void *vw, const void *va)
{
    const block_q4_1 *w = vw;
    const block_q8_1 *a = va;
    float acc[8] = {0}, summs = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        int8_t q[QK_LEGACY];
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            q[j] = (int8_t)(w[i].qs[j] & 0xF);
            q[j + 16] = (int8_t)(w[i].qs[j] >> 4);
        }
        summs += quant_f32(w[i].m) * quant_f32(a[i].s);
        lanes_fma(q, a[i].qs, quant_f32(w[i].d) * quant_f32(a[i].d), acc);
    }
    return quant_lanes_sum(acc) + summs;
}

/* ---- Q5_0 --------------------------------------------------------------- */

static uint32_t load_qh(const uint8_t qh[4])
{
    uint32_t v;
    memcpy(&v, qh, sizeof v);
    return v; /* little-endian, as the file stores it */
}

/* d = -max / 16 (max: the signed value of largest magnitude), q = x / d + 16 in 0..31. */
void quant_q5_0_from_float(const float *x, void *vy, int64_t n)
{
    block_q5_0 *y = vy;
    float v[QK_LEGACY];
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        quant_clean_block(x + i * QK_LEGACY, v, QK_LEGACY);
        float max;
        block_absmax(v, QK_LEGACY, &max);
        const float d = max / -16.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = quant_half(d);
        uint32_t qh = 0;
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            int q0 = (int)(v[j] * id + 16.5f), q1 = (int)(v[j + 16] * id + 16.5f);
            q0 = q0 > 31 ? 31 : q0;
            q1 = q1 > 31 ? 31 : q1;
            y[i].qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, sizeof qh);
    }
}

/*
 * Q5_0, 22 bytes: d (fp16), qh (32 bits, little-endian), 16 bytes of nibbles:
 *
 *   byte j (0..15):  bits 0-3 = low 4 bits of q[j]   bits 4-7 = low 4 bits of q[j + 16]
 *   qh bit k (0..31): bit 4 of q[k]
 *
 * element = d * (q - 16), q in 0..31.
 */
void quant_q5_0_to_float(const void *vx, float *y, int64_t n)
{
    const block_q5_0 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const float d = quant_f32(x[i].d);
        const uint32_t qh = load_qh(x[i].qh);
        float *out = y + i * QK_LEGACY;
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            const int q0 = (int)((x[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4));
            const int q1 = (int)((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
            out[j] = d * (float)(q0 - 16);
            out[j + 16] = d * (float)(q1 - 16);
        }
    }
}

float quant_q5_0_dot(int64_t n, const void *vw, const void *va)
{
    const block_q5_0 *w = vw;
    const block_q8_0 *a = va;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const uint32_t qh = load_qh(w[i].qh);
        int8_t q[QK_LEGACY];
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            q[j] = (int8_t)(((w[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4)) - 16);
            q[j + 16] = (int8_t)(((w[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4)) - 16);
        }
        lanes_fma(q, a[i].qs, quant_f32(w[i].d) * quant_f32(a[i].d), acc);
    }
    return quant_lanes_sum(acc);
}

/* ---- Q5_1 --------------------------------------------------------------- */

/* m = min, d = (max - min) / 31, q = round((x - m) / d). */
void quant_q5_1_from_float(const float *x, void *vy, int64_t n)
{
    block_q5_1 *y = vy;
    float v[QK_LEGACY];
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        quant_clean_block(x + i * QK_LEGACY, v, QK_LEGACY);
        float min, max;
        block_minmax(v, QK_LEGACY, &min, &max);
        const float d = (max - min) / 31.0f;
        const float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[i].d = quant_half(d);
        y[i].m = quant_half(min);
        uint32_t qh = 0;
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            int q0 = (int)((v[j] - min) * id + 0.5f), q1 = (int)((v[j + 16] - min) * id + 0.5f);
            q0 = q0 > 31 ? 31 : q0;
            q1 = q1 > 31 ? 31 : q1;
            y[i].qs[j] = (uint8_t)((q0 & 0xF) | ((q1 & 0xF) << 4));
            qh |= (uint32_t)(q0 >> 4) << j;
            qh |= (uint32_t)(q1 >> 4) << (j + 16);
        }
        memcpy(y[i].qh, &qh, sizeof qh);
    }
}

/*
 * Q5_1, 24 bytes: d (fp16), m (fp16), qh (32 bits), 16 bytes of nibbles, laid
 * out as Q5_0; element = d * q + m, q in 0..31.
 */
void quant_q5_1_to_float(const void *vx, float *y, int64_t n)
{
    const block_q5_1 *x = vx;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const float d = quant_f32(x[i].d), m = quant_f32(x[i].m);
        const uint32_t qh = load_qh(x[i].qh);
        float *out = y + i * QK_LEGACY;
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            const int q0 = (int)((x[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4));
            const int q1 = (int)((x[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
            out[j] = d * (float)q0 + m;
            out[j + 16] = d * (float)q1 + m;
        }
    }
}

float quant_q5_1_dot(int64_t n, const void *vw, const void *va)
{
    const block_q5_1 *w = vw;
    const block_q8_1 *a = va;
    float acc[8] = {0}, summs = 0.0f;
    for (int64_t i = 0; i < n / QK_LEGACY; i++) {
        const uint32_t qh = load_qh(w[i].qh);
        int8_t q[QK_LEGACY];
        for (int j = 0; j < QK_LEGACY / 2; j++) {
            q[j] = (int8_t)((w[i].qs[j] & 0xF) | (((qh >> j) & 1) << 4));
            q[j + 16] = (int8_t)((w[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
        }
        summs += quant_f32(w[i].m) * quant_f32(a[i].s);
        lanes_fma(q, a[i].qs, quant_f32(w[i].d) * quant_f32(a[i].d), acc);
    }
    return quant_lanes_sum(acc) + summs;
}
