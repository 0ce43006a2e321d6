/*
 * The K-quants (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K) and their activation type
 * Q8_K: 256-element super-blocks split into sub-blocks of 16 or 32, each with
 * its own scale (and min), the scales themselves quantized against one or two
 * half-precision super-block scales.
 *
 * The dequantizers and dot products follow the format exactly. The weight
 * quantizers are cria's own: a weighted least-squares fit of each sub-block's
 * scale (and min) over a small grid of candidate scales, then the sub-block
 * scales quantized and the quants recomputed against the stored scales.
 * Q8_K is quantized exactly as the reference engine does (q = round(-127 x /
 * max), d = -max / 127), since every K-quant matmul depends on it.
 */
#include <string.h>

#include "quant/quant_impl.h"

/* ---- sub-block fits ------------------------------------------------------ */

/* round(v) clamped to lo..hi; the clamp comes first so huge v cannot overflow the conversion. */
static long round_clamp(double v, long lo, long hi)
{
    if (!(v > (double)lo))
        return lo;
    if (v > (double)hi)
        return hi;
    long l = lrint(v);
    return l < lo ? lo : l > hi ? hi : l;
}

/*
 * Fits x[i] ~ s * L[i] - m with L[i] in 0..nmax, s >= 0, m >= 0, minimising
 * sum w[i] * error^2 over a grid of candidate scales; L gets the levels.
 */
static void fit_affine(int n, const float *xf, const float *wf, int nmax, float *s_out, float *m_out, uint8_t *L)
{
    double x[32], w[32];
    for (int i = 0; i < n; i++) {
        x[i] = xf[i];
        w[i] = wf[i];
    }
    double min = x[0], max = x[0];
    for (int i = 1; i < n; i++) {
        min = x[i] < min ? x[i] : min;
        max = x[i] > max ? x[i] : max;
    }
    if (min > 0.0)
        min = 0.0;
    if (max == min) {
        for (int i = 0; i < n; i++)
            L[i] = 0;
        *s_out = 0.0f;
        *m_out = (float)-min;
        return;
    }
    double best_err = -1.0, best_s = 0.0, best_mn = min;
    for (int step = -1; step <= 20; step++) {
        double s, mn;
        if (step < 0) { /* the plain min/max scale */
            s = (max - min) / nmax;
            mn = min;
        } else {
            const double iscale = (nmax - 1.0 + 0.1 * step) / (max - min);
            double sw = 0, sl = 0, sl2 = 0, sx = 0, sxl = 0;
            for (int i = 0; i < n; i++) {
                const long l = round_clamp(iscale * (x[i] - min), 0, nmax);
                sw += w[i];
                sl += w[i] * (double)l;
                sl2 += w[i] * (double)l * (double)l;
                sx += w[i] * x[i];
                sxl += w[i] * x[i] * (double)l;
            }
            const double det = sw * sl2 - sl * sl;
            if (det <= 0)
                continue;
            s = (sw * sxl - sx * sl) / det;
            mn = (sl2 * sx - sl * sxl) / det;
            if (mn > 0) {
                mn = 0;
                s = sl2 > 0 ? sxl / sl2 : 0;
            }
            if (s <= 0)
                continue;
        }
        double err = 0;
        for (int i = 0; i < n; i++) {
            const long l = round_clamp((x[i] - mn) / s, 0, nmax);
            const double e = s * (double)l + mn - x[i];
            err += w[i] * e * e;
        }
        if (best_err < 0 || err < best_err) {
            best_err = err;
            best_s = s;
            best_mn = mn;
        }
    }
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)(best_s > 0 ? round_clamp((x[i] - best_mn) / best_s, 0, nmax) : 0);
    }
    *s_out = (float)best_s;
    *m_out = (float)-best_mn;
}

/*
 * Fits x[i] ~ s * L[i] with L[i] in -nmax..nmax-1 (s may be negative, so the
 * largest magnitude can use the longer negative side); returns s.
 */
static float fit_symmetric(int n, const float *xf, const float *wf, int nmax)
{
    double x[16], w[16], amax = 0.0, max = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = xf[i];
        w[i] = wf[i];
        if (fabs(x[i]) > amax) {
            amax = fabs(x[i]);
            max = x[i];
        }
    }
    if (amax == 0.0)
        return 0.0f;
    double best_err = -1.0, best_s = 0.0;
    for (int step = -9; step <= 9; step++) {
        const double iscale = -(nmax + 0.1 * step) / max;
        double sxl = 0, sl2 = 0;
        for (int i = 0; i < n; i++) {
            const long l = round_clamp(iscale * x[i], -nmax, nmax - 1);
            sxl += w[i] * x[i] * (double)l;
            sl2 += w[i] * (double)l * (double)l;
        }
        if (sl2 <= 0)
            continue;
        const double s = sxl / sl2;
        double err = 0;
        for (int i = 0; i < n; i++) {
            const long l = s != 0 ? round_clamp(x[i] / s, -nmax, nmax - 1) : 0;
            const double e = s * (double)l - x[i];
            err += w[i] * e * e;
        }
        if (best_err < 0 || err < best_err) {
            best_err = err;
            best_s = s;
        }
    }
    return (float)best_s;
}

/* Weights for a fit: |x| plus the sub-block's RMS, so small values still count. */
static void fit_weights(int n, const float *x, float *w)
{
    double ss = 0;
    for (int i = 0; i < n; i++)
        ss += (double)x[i] * (double)x[i];
    const float rms = (float)sqrt(ss / n);
    for (int i = 0; i < n; i++)
        w[i] = rms + fabsf(x[i]);
}

/* round(v / step) clamped to lo..hi; 0 when step is 0. */
static int quant_level(float v, float step, int lo, int hi)
{
    if (step == 0.0f)
        return 0;
    return (int)round_clamp((double)v / (double)step, lo, hi);
}

static float max_of(const float *v, int n)
{
    float m = 0.0f;
    for (int i = 0; i < n; i++)
        m = v[i] > m ? v[i] : m;
    return m;
}

/* ---- Q8_K --------------------------------------------------------------- */

void quant_q8_k_from_float(const float *x, void *vy, int64_t n)
{
    block_q8_K *y = vy;
    float v[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        quant_clean_block(x + i * QK_K, v, QK_K);
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK_K; j++) {
            if (fabsf(v[j]) > amax) {
                amax = fabsf(v[j]);
                max = v[j];
            }
        }
        memset(&y[i], 0, sizeof y[i]);
        if (amax == 0.0f)
            continue;
        const float iscale = -127.0f / max;
        for (int j = 0; j < QK_K; j++) {
            const int q = quant_nearest(iscale * v[j]);
            y[i].qs[j] = (int8_t)(q > 127 ? 127 : q);
        }
        for (int j = 0; j < QK_K / 16; j++) {
            int sum = 0;
            for (int k = 0; k < 16; k++)
                sum += y[i].qs[16 * j + k];
            y[i].bsums[j] = (int16_t)sum;
        }
        y[i].d = 1.0f / iscale;
    }
}

/* Q8_K, 292 bytes: d (float), 256 signed bytes, 16 sums of 16 quants; element j = d * qs[j]. */
void quant_q8_k_to_float(const void *vx, float *y, int64_t n)
{
    const block_q8_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        for (int j = 0; j < QK_K; j++)
            y[i * QK_K + j] = x[i].d * (float)x[i].qs[j];
    }
}

/* ---- Q2_K --------------------------------------------------------------- */

void quant_q2_k_from_float(const float *x, void *vy, int64_t n)
{
    block_q2_K *y = vy;
    float v[QK_K], w[16], sc[16], mn[16];
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        quant_clean_block(x + i * QK_K, v, QK_K);
        for (int j = 0; j < 16; j++) {
            for (int k = 0; k < 16; k++)
                w[k] = fabsf(v[16 * j + k]) + 1e-30f;
            fit_affine(16, v + 16 * j, w, 3, &sc[j], &mn[j], L + 16 * j);
        }
        const float max_sc = max_of(sc, 16), max_mn = max_of(mn, 16);
        y[i].d = quant_half(max_sc / 15.0f);
        y[i].dmin = quant_half(max_mn / 15.0f);
        const float d = quant_f32(y[i].d), dmin = quant_f32(y[i].dmin);
        for (int j = 0; j < 16; j++) {
            const int ls = quant_level(sc[j], d, 0, 15), lm = quant_level(mn[j], dmin, 0, 15);
            y[i].scales[j] = (uint8_t)(ls | (lm << 4));
            const float s = d * (float)ls, m = dmin * (float)lm;
            for (int k = 0; k < 16; k++)
                L[16 * j + k] = (uint8_t)quant_level(v[16 * j + k] + m, s, 0, 3);
        }
        memset(y[i].qs, 0, sizeof y[i].qs);
        for (int e = 0; e < QK_K; e++)
            y[i].qs[32 * (e / 128) + e % 32] |= (uint8_t)(L[e] << (2 * ((e % 128) / 32)));
    }
}

/*
 * Q2_K, 84 bytes: scales[16], qs[64], d (fp16), dmin (fp16).
 *
 *   element e (0..255) = 128 h + 32 s + l   (h 0..1, s 0..3, l 0..31)
 *   q = (qs[32 h + l] >> 2 s) & 3
 *   sub-block j = e / 16:  scales[j] bits 0-3 = sc, bits 4-7 = m
 *
 * element = d * sc * q - dmin * m.
 */
void quant_q2_k_to_float(const void *vx, float *y, int64_t n)
{
    const block_q2_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_f32(x[i].d), dmin = quant_f32(x[i].dmin);
        for (int e = 0; e < QK_K; e++) {
            const int q = (x[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            const uint8_t s = x[i].scales[e / 16];
            y[i * QK_K + e] = d * (float)(s & 0xF) * (float)q - dmin * (float)(s >> 4);
        }
    }
}

/* Mins first, into the same eight lanes (lane k: bsums 2k and 2k+1), then the quants, as llama.cpp's AVX2 kernel. */
float quant_q2_k_dot(int64_t n, const void *vw, const void *va)
{
    const block_q2_K *w = vw;
    const block_q8_K *a = va;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t mins[8], lane[8] = {0};
        for (int k = 0; k < 8; k++)
            mins[k] = (w[i].scales[2 * k] >> 4) * a[i].bsums[2 * k] + (w[i].scales[2 * k + 1] >> 4) * a[i].bsums[2 * k + 1];
        for (int e = 0; e < QK_K; e++) {
            const int q = (w[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            lane[(e % 32) / 4] += (w[i].scales[e / 16] & 0xF) * q * a[i].qs[e];
        }
        quant_lanes_fma(mins, -a[i].d * quant_f32(w[i].dmin), acc);
        quant_lanes_fma(lane, a[i].d * quant_f32(w[i].d), acc);
    }
    return quant_lanes_sum(acc);
}

/* ---- Q3_K --------------------------------------------------------------- */

/*
 * Q3_K scales: sixteen 6-bit values v (stored as scale + 32) in 12 bytes;
 * low 4 bits of v[j] in byte j % 8 (low nibble for j < 8, high for j >= 8),
 * top 2 bits in byte 8 + j % 4 at bit 2 (j / 4).
 */
void quant_q3k_scales(const uint8_t *p, int8_t out[16])
{
    for (int j = 0; j < 16; j++) {
        const int lo = j < 8 ? p[j] & 0xF : p[j - 8] >> 4;
        const int hi = (p[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (int8_t)((lo | (hi << 4)) - 32);
    }
}

void quant_q3_k_from_float(const float *x, void *vy, int64_t n)
{
    block_q3_K *y = vy;
    float v[QK_K], w[16], sc[16];
    for (int64_t i = 0; i < n / QK_K; i++) {
        quant_clean_block(x + i * QK_K, v, QK_K);
        float amax = 0.0f;
        for (int j = 0; j < 16; j++) {
            fit_weights(16, v + 16 * j, w);
            sc[j] = fit_symmetric(16, v + 16 * j, w, 4);
            amax = fabsf(sc[j]) > amax ? fabsf(sc[j]) : amax;
        }
        y[i].d = quant_half(amax / 31.0f);
        const float d = quant_f32(y[i].d);
        memset(y[i].scales, 0, sizeof y[i].scales);
        memset(y[i].hmask, 0, sizeof y[i].hmask);
        memset(y[i].qs, 0, sizeof y[i].qs);
        for (int j = 0; j < 16; j++) {
            const int ls = quant_level(sc[j], d, -32, 31), u = ls + 32;
            y[i].scales[j % 8] |= (uint8_t)((u & 0xF) << (j < 8 ? 0 : 4));
            y[i].scales[8 + j % 4] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
            const float s = d * (float)ls;
            for (int k = 0; k < 16; k++) {
                const int e = 16 * j + k, q = quant_level(v[e], s, -4, 3) + 4;
                y[i].qs[32 * (e / 128) + e % 32] |= (uint8_t)((q & 3) << (2 * ((e % 128) / 32)));
                if (q & 4)
                    y[i].hmask[e % 32] |= (uint8_t)(1u << (e / 32));
            }
        }
    }
}

/*
 * Q3_K, 110 bytes: hmask[32], qs[64], scales[12], d (fp16).
 *
 *   element e (0..255) = 128 h + 32 s + l   (h 0..1, s 0..3, l 0..31)
 *   low  = (qs[32 h + l] >> 2 s) & 3
 *   high = (hmask[l] >> (4 h + s)) & 1
 *   q = low - (high ? 0 : 4)                     in -4..3
 *   scale of sub-block e / 16: quant_q3k_scales  in -32..31
 *
 * element = d * scale * q.
 */
void quant_q3_k_to_float(const void *vx, float *y, int64_t n)
{
    const block_q3_K *x = vx;
    int8_t sc[16];
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_f32(x[i].d);
        quant_q3k_scales(x[i].scales, sc);
        for (int e = 0; e < QK_K; e++) {
            const int low = (x[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            const int high = (x[i].hmask[e % 32] >> (e / 32)) & 1;
            y[i * QK_K + e] = d * (float)sc[e / 16] * (float)(low - (high ? 0 : 4));
        }
    }
}

float quant_q3_k_dot(int64_t n, const void *vw, const void *va)
{
    const block_q3_K *w = vw;
    const block_q8_K *a = va;
    int8_t sc[16];
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        quant_q3k_scales(w[i].scales, sc);
        int32_t lane[8] = {0};
        for (int e = 0; e < QK_K; e++) {
            const int low = (w[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            const int high = (w[i].hmask[e % 32] >> (e / 32)) & 1;
            lane[(e % 32) / 4] += sc[e / 16] * (low - (high ? 0 : 4)) * a[i].qs[e];
        }
        quant_lanes_fma(lane, a[i].d * quant_f32(w[i].d), acc);
    }
    return quant_lanes_sum(acc);
}

/* ---- Q4_K and Q5_K ------------------------------------------------------ */

/* Packs eight 6-bit scales and mins into 12 bytes (the inverse of quant_k4_scale_min). */
static void pack_k4_scales(const uint8_t sc[8], const uint8_t m[8], uint8_t q[12])
{
    memset(q, 0, 12);
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            q[j] |= sc[j];
            q[j + 4] |= m[j];
        } else {
            q[j + 4] = (uint8_t)((sc[j] & 0xF) | ((m[j] & 0xF) << 4));
            q[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            q[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
    }
}

/*
 * Shared by Q4_K (nmax 15) and Q5_K (nmax 31): fits the eight sub-blocks of
 * 32, stores d, dmin and the packed scales, and leaves the final levels in L.
 */
static void quant_k45_block(const float *v, int nmax, uint16_t *d_out, uint16_t *dmin_out, uint8_t scales[12],
                            uint8_t L[QK_K])
{
    float w[32], sc[8], mn[8];
    for (int j = 0; j < 8; j++) {
        fit_weights(32, v + 32 * j, w);
        fit_affine(32, v + 32 * j, w, nmax, &sc[j], &mn[j], L + 32 * j);
    }
    *d_out = quant_half(max_of(sc, 8) / 63.0f);
    *dmin_out = quant_half(max_of(mn, 8) / 63.0f);
    const float d = quant_f32(*d_out), dmin = quant_f32(*dmin_out);
    uint8_t ls[8], lm[8];
    for (int j = 0; j < 8; j++) {
        ls[j] = (uint8_t)quant_level(sc[j], d, 0, 63);
        lm[j] = (uint8_t)quant_level(mn[j], dmin, 0, 63);
        const float s = d * (float)ls[j], m = dmin * (float)lm[j];
        for (int k = 0; k < 32; k++)
            L[32 * j + k] = (uint8_t)quant_level(v[32 * j + k] + m, s, 0, nmax);
    }
    pack_k4_scales(ls, lm, scales);
}

void quant_q4_k_from_float(const float *x, void *vy, int64_t n)
{
    block_q4_K *y = vy;
    float v[QK_K];
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        quant_clean_block(x + i * QK_K, v, QK_K);
        quant_k45_block(v, 15, &y[i].d, &y[i].dmin, y[i].scales, L);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++)
                y[i].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | (L[64 * c + 32 + l] << 4));
        }
    }
}

/*
 * Q4_K, 144 bytes: d (fp16), dmin (fp16), scales[12], qs[128].
 *
 *   element e (0..255) = 64 c + 32 hi + l   (c 0..3, hi 0..1, l 0..31)
 *   q = hi ? qs[32 c + l] >> 4 : qs[32 c + l] & 0xF
 *   sub-block j = e / 32 = 2 c + hi: 6-bit sc and m from quant_k4_scale_min
 *
 * element = d * sc * q - dmin * m.
 */
void quant_q4_k_to_float(const void *vx, float *y, int64_t n)
{
    const block_q4_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_f32(x[i].d), dmin = quant_f32(x[i].dmin);
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            quant_k4_scale_min(j, x[i].scales, &sc, &m);
            const uint8_t *q = x[i].qs + 32 * (j / 2);
            for (int l = 0; l < 32; l++) {
                const int v = (j & 1) ? q[l] >> 4 : q[l] & 0xF;
                y[i * QK_K + 32 * j + l] = d * (float)sc * (float)v - dmin * (float)m;
            }
        }
    }
}

/*
 * Shared tail of the Q4_K / Q5_K dots: the mins against the activation sums
 * in four lanes (lane k: sub-blocks 2k and 2k+1), as llama.cpp's AVX2 kernel.
 */
static void k45_mins(const uint8_t *scales, const block_q8_K *a, float dmin, float accm[4])
{
    int32_t prod[4];
    for (int k = 0; k < 4; k++) {
        uint8_t sc, m0, m1;
        quant_k4_scale_min(2 * k, scales, &sc, &m0);
        quant_k4_scale_min(2 * k + 1, scales, &sc, &m1);
        prod[k] = m0 * (a->bsums[4 * k] + a->bsums[4 * k + 1]) + m1 * (a->bsums[4 * k + 2] + a->bsums[4 * k + 3]);
    }
    for (int k = 0; k < 4; k++)
        accm[k] = fmaf((float)prod[k], dmin, accm[k]);
}

float quant_q4_k_dot(int64_t n, const void *vw, const void *va)
{
    const block_q4_K *w = vw;
    const block_q8_K *a = va;
    float acc[8] = {0}, accm[4] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        k45_mins(w[i].scales, &a[i], -a[i].d * quant_f32(w[i].dmin), accm);
        int32_t lane[8] = {0};
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            quant_k4_scale_min(j, w[i].scales, &sc, &m);
            const uint8_t *q = w[i].qs + 32 * (j / 2);
            for (int l = 0; l < 32; l++)
                lane[l / 4] += sc * ((j & 1) ? q[l] >> 4 : q[l] & 0xF) * a[i].qs[32 * j + l];
        }
        quant_lanes_fma(lane, a[i].d * quant_f32(w[i].d), acc);
    }
    return quant_lanes_sum(acc) + quant_lanes4_sum(accm);
}

void quant_q5_k_from_float(const float *x, void *vy, int64_t n)
{
    block_q5_K *y = vy;
    float v[QK_K];
    uint8_t L[QK_K];
    for (int64_t i = 0; i < n / QK_K; i++) {
        quant_clean_block(x + i * QK_K, v, QK_K);
        quant_k45_block(v, 31, &y[i].d, &y[i].dmin, y[i].scales, L);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                const int lo = L[64 * c + l], hi = L[64 * c + 32 + l];
                y[i].qs[32 * c + l] = (uint8_t)((lo & 0xF) | ((hi & 0xF) << 4));
                y[i].qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
        }
    }
}

/*
 * Q5_K, 176 bytes: d (fp16), dmin (fp16), scales[12], qh[32], qs[128]; as
 * Q4_K with a fifth bit:
 *
 *   element e = 32 j + l (sub-block j 0..7):  bit 4 of q = (qh[l] >> j) & 1
 *
 * element = d * sc * q - dmin * m, q in 0..31.
 */
void quant_q5_k_to_float(const void *vx, float *y, int64_t n)
{
    const block_q5_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_f32(x[i].d), dmin = quant_f32(x[i].dmin);
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            quant_k4_scale_min(j, x[i].scales, &sc, &m);
            const uint8_t *q = x[i].qs + 32 * (j / 2);
            for (int l = 0; l < 32; l++) {
                const int v = ((j & 1) ? q[l] >> 4 : q[l] & 0xF) | (((x[i].qh[l] >> j) & 1) << 4);
                y[i * QK_K + 32 * j + l] = d * (float)sc * (float)v - dmin * (float)m;
            }
        }
    }
}

float quant_q5_k_dot(int64_t n, const void *vw, const void *va)
{
    const block_q5_K *w = vw;
    const block_q8_K *a = va;
    float acc[8] = {0}, accm[4] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        k45_mins(w[i].scales, &a[i], -a[i].d * quant_f32(w[i].dmin), accm);
        int32_t lane[8] = {0};
        for (int j = 0; j < 8; j++) {
            uint8_t sc, m;
            quant_k4_scale_min(j, w[i].scales, &sc, &m);
            const uint8_t *q = w[i].qs + 32 * (j / 2);
            for (int l = 0; l < 32; l++) {
                const int v = ((j & 1) ? q[l] >> 4 : q[l] & 0xF) | (((w[i].qh[l] >> j) & 1) << 4);
                lane[l / 4] += sc * v * a[i].qs[32 * j + l];
            }
        }
        quant_lanes_fma(lane, a[i].d * quant_f32(w[i].d), acc);
    }
    return quant_lanes_sum(acc) + quant_lanes4_sum(accm);
}

/* ---- Q6_K --------------------------------------------------------------- */

/* Index helpers for Q6_K: element e's low-nibble byte, its shift, and its qh byte and shift. */
static inline int q6k_get(const block_q6_K *b, int e)
{
    const int h = e / 128, r = e % 128, k = r / 32, l = r % 32;
    const uint8_t lo = b->ql[64 * h + 32 * (k & 1) + l];
    const int low = (k & 2) ? lo >> 4 : lo & 0xF;
    const int high = (b->qh[32 * h + l] >> (2 * k)) & 3;
    return (low | (high << 4)) - 32;
}

void quant_q6_k_from_float(const float *x, void *vy, int64_t n)
{
    block_q6_K *y = vy;
    float v[QK_K], w[16], sc[16];
    for (int64_t i = 0; i < n / QK_K; i++) {
        quant_clean_block(x + i * QK_K, v, QK_K);
        float amax = 0.0f;
        for (int j = 0; j < 16; j++) {
            fit_weights(16, v + 16 * j, w);
            sc[j] = fit_symmetric(16, v + 16 * j, w, 32);
            amax = fabsf(sc[j]) > amax ? fabsf(sc[j]) : amax;
        }
        y[i].d = quant_half(amax / 127.0f);
        const float d = quant_f32(y[i].d);
        memset(y[i].ql, 0, sizeof y[i].ql);
        memset(y[i].qh, 0, sizeof y[i].qh);
        for (int j = 0; j < 16; j++) {
            const int ls = quant_level(sc[j], d, -128, 127);
            y[i].scales[j] = (int8_t)ls;
            const float s = d * (float)ls;
            for (int k = 0; k < 16; k++) {
                const int e = 16 * j + k, u = quant_level(v[e], s, -32, 31) + 32;
                const int h = e / 128, r = e % 128, c = r / 32, l = r % 32;
                y[i].ql[64 * h + 32 * (c & 1) + l] |= (uint8_t)((u & 0xF) << ((c & 2) ? 4 : 0));
                y[i].qh[32 * h + l] |= (uint8_t)((u >> 4) << (2 * c));
            }
        }
    }
}

/*
 * Q6_K, 210 bytes: ql[128], qh[64], scales[16] (int8), d (fp16).
 *
 *   element e (0..255) = 128 h + 32 c + l   (h 0..1, c 0..3, l 0..31)
 *   low 4 bits  = ql[64 h + 32 (c & 1) + l], low nibble for c < 2, high for c >= 2
 *   high 2 bits = (qh[32 h + l] >> 2 c) & 3
 *   q = (low | high << 4) - 32   in -32..31;  scale = scales[e / 16]
 *
 * element = d * scale * q.
 */
void quant_q6_k_to_float(const void *vx, float *y, int64_t n)
{
    const block_q6_K *x = vx;
    for (int64_t i = 0; i < n / QK_K; i++) {
        const float d = quant_f32(x[i].d);
        for (int e = 0; e < QK_K; e++)
            y[i * QK_K + e] = d * (float)x[i].scales[e / 16] * (float)q6k_get(&x[i], e);
    }
}

float quant_q6_k_dot(int64_t n, const void *vw, const void *va)
{
    const block_q6_K *w = vw;
    const block_q8_K *a = va;
    float acc[8] = {0};
    for (int64_t i = 0; i < n / QK_K; i++) {
        int32_t lane[8] = {0};
        for (int e = 0; e < QK_K; e++)
            lane[(e % 32) / 4] += w[i].scales[e / 16] * q6k_get(&w[i], e) * a[i].qs[e];
        quant_lanes_fma(lane, a[i].d * quant_f32(w[i].d), acc);
    }
    return quant_lanes_sum(acc);
}
