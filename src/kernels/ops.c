#include "kernels/ops.h"

#include <math.h>

#include "base/fp16.h"

void cria_rmsnorm(int64_t n, const float *x, const float *w, float eps, float *y)
{
    double ss = 0.0; /* squares rounded to float, summed in double: the reference engine's order */
    for (int64_t i = 0; i < n; i++)
        ss += (double)(x[i] * x[i]);
    const float scale = 1.0f / sqrtf((float)(ss / (double)n) + eps);
    for (int64_t i = 0; i < n; i++)
        y[i] = x[i] * scale * w[i];
}

void cria_rope_cache(int32_t pos, int32_t n_rot, float freq_base, float *cs)
{
    const cria_rope_params p = cria_rope_params_plain(n_rot, freq_base);
    cria_rope_cache_ext(pos, &p, cs);
}

cria_rope_params cria_rope_params_plain(int32_t n_rot, float freq_base)
{
    cria_rope_params p = {
        .n_rot = n_rot,
        .freq_base = freq_base,
        .freq_scale = 1.0f,
        .ext_factor = 0.0f,
        .attn_factor = 1.0f,
        .corr_dims = {0.0f, 0.0f},
        .freq_factors = NULL,
    };
    return p;
}

/* The pair dimension whose wavelength fits n_rot_beta turns in n_ctx_orig positions. */
static float yarn_corr_dim(int32_t n_rot, int32_t n_ctx_orig, float n_rot_beta, float base)
{
    return (float)n_rot * logf((float)n_ctx_orig / (n_rot_beta * 2.0f * (float)M_PI)) / (2.0f * logf(base));
}

void cria_rope_yarn_corr_dims(int32_t n_rot, int32_t n_ctx_orig, float freq_base, float beta_fast, float beta_slow,
                              float dims[2])
{
    const float start = floorf(yarn_corr_dim(n_rot, n_ctx_orig, beta_fast, freq_base));
    const float end = ceilf(yarn_corr_dim(n_rot, n_ctx_orig, beta_slow, freq_base));
    dims[0] = start > 0.0f ? start : 0.0f;
    dims[1] = end < (float)(n_rot - 1) ? end : (float)(n_rot - 1);
}

/*
 * Angles by repeated products of base^(-2/n_rot) from pos, not powf per
 * pair: the reference's order, whose rounding the logits keep. The YaRN
 * blend and magnitude are written as fused multiply-adds where the
 * reference's contracted C fuses them.
 */
void cria_rope_cache_ext(int32_t pos, const cria_rope_params *p, float *cs)
{
    const float theta_scale = powf(p->freq_base, -2.0f / (float)p->n_rot);
    float mscale = p->attn_factor;
    if (p->ext_factor != 0.0f)
        mscale *= fmaf(0.1f, logf(1.0f / p->freq_scale), 1.0f);
    float theta_base = (float)pos;
    for (int32_t i = 0; i < p->n_rot / 2; i++) {
        const float extrap = p->freq_factors ? theta_base / p->freq_factors[i] : theta_base;
        const float interp = p->freq_scale * extrap;
        float theta = interp;
        if (p->ext_factor != 0.0f) {
            const float y = ((float)i - p->corr_dims[0]) / fmaxf(0.001f, p->corr_dims[1] - p->corr_dims[0]);
            const float ramp = (1.0f - fminf(1.0f, fmaxf(0.0f, y))) * p->ext_factor;
            theta = fmaf(interp, 1.0f - ramp, extrap * ramp);
        }
        cs[2 * i] = cosf(theta) * mscale;
        cs[2 * i + 1] = sinf(theta) * mscale;
        theta_base *= theta_scale;
    }
}

void cria_rope_llama3_factors(int32_t n_rot, float freq_base, float factor, float low_freq_factor,
                              float high_freq_factor, int32_t n_ctx_orig, float *out)
{
    const double f = factor, lo = low_freq_factor, hi = high_freq_factor, n_orig = n_ctx_orig;
    const double low_wavelen = n_orig / lo, high_wavelen = n_orig / hi;
    for (int32_t i = 0; i < n_rot / 2; i++) {
        const double freq = (double)(1.0f / powf(freq_base, (float)(2 * i) / (float)n_rot)); /* float, as converters */
        const double wavelen = 2.0 * M_PI / freq;
        double r;
        if (wavelen < high_wavelen) {
            r = 1.0;
        } else if (wavelen > low_wavelen) {
            r = f;
        } else {
            const double smooth = (n_orig / wavelen - lo) / (hi - lo);
            r = 1.0 / ((1.0 - smooth) / f + smooth);
        }
        out[i] = (float)r;
    }
}

/*
 * One rotation, rounded as the reference engine's compiled C rounds it: the
 * reference is built with floating-point contraction on, so a*c - b*s is one
 * fused multiply-add of a*c onto the rounded -(b*s). Two separate roundings
 * flip the last bit of about a fifth of the values, and through the
 * half-precision rounding of Q and K such flips change the greedy path of
 * long generations (gemma parted from the reference at step 25).
 */
static inline void rotate(float *a, float *b, float c, float s)
{
    const float x0 = *a, x1 = *b;
    *a = fmaf(x0, c, -(x1 * s));
    *b = fmaf(x0, s, x1 * c);
}

void cria_rope(float *x, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs)
{
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int32_t i = 0; i < n_rot; i += 2)
            rotate(&v[i], &v[i + 1], cs[i], cs[i + 1]);
    }
}

void cria_rope_neox(float *x, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs)
{
    const int32_t half = n_rot / 2;
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int32_t i = 0; i < half; i++)
            rotate(&v[i], &v[i + half], cs[2 * i], cs[2 * i + 1]);
    }
}

/*
 * GELU as the reference engine evaluates it on CPUs: through a table indexed
 * by the half-precision input and holding half-precision results, and exact
 * cut-offs beyond +-10. Computing the table entry on the fly gives the same
 * numbers without the 128 KiB table.
 */
/* GELU of a value already rounded to half precision, rounded to half precision. */
static uint16_t gelu_half(float h)
{
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    return cria_f32_to_fp16(0.5f * h * (1.0f + tanhf(k * h * (1.0f + 0.044715f * h * h))));
}

void cria_geglu(int64_t n, float *gate, const float *up)
{
    for (int64_t i = 0; i < n; i++) {
        const float x = gate[i];
        float gelu;
        if (x <= -10.0f)
            gelu = 0.0f;
        else if (x >= 10.0f)
            gelu = x;
        else
            gelu = cria_fp16_to_f32(gelu_half(cria_fp16_to_f32(cria_f32_to_fp16(x))));
        gate[i] = gelu * up[i];
    }
}

void cria_gelu_table_init(uint16_t *table)
{
    for (int32_t h = 0; h < CRIA_GELU_TABLE_SIZE; h++)
        table[h] = gelu_half(cria_fp16_to_f32((uint16_t)h));
}

/* The reference's own scheme (a table over all halves): 100x faster than tanhf per element on gemma's FFN. */
void cria_geglu_table(const cria_vec_kernels *vk, int64_t n, float *gate, const float *up, const uint16_t *table)
{
    enum { CHUNK = 256 };
    uint16_t h[CHUNK];
    float g[CHUNK];
    for (int64_t i0 = 0; i0 < n; i0 += CHUNK) {
        const int64_t m = n - i0 < CHUNK ? n - i0 : CHUNK;
        vk->f32_to_f16(m, gate + i0, h);
        for (int64_t j = 0; j < m; j++)
            h[j] = table[h[j]];
        vk->f16_to_f32(m, h, g);
        for (int64_t j = 0; j < m; j++) {
            const float x = gate[i0 + j];
            const float gelu = x <= -10.0f ? 0.0f : x >= 10.0f ? x : g[j];
            gate[i0 + j] = gelu * up[i0 + j];
        }
    }
}

void cria_softmax(int64_t n, float *x)
{
    float max = -INFINITY;
    for (int64_t i = 0; i < n; i++)
        max = x[i] > max ? x[i] : max;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - max);
        sum += (double)x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int64_t i = 0; i < n; i++)
        x[i] *= inv;
}

void cria_swiglu(int64_t n, float *gate, const float *up)
{
    for (int64_t i = 0; i < n; i++) {
        const float g = gate[i];
        gate[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void cria_add(int64_t n, float *y, const float *x)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += x[i];
}
