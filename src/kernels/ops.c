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
    const float theta_scale = powf(freq_base, -2.0f / (float)n_rot);
    float theta = (float)pos;
    for (int32_t i = 0; i < n_rot / 2; i++) {
        cs[2 * i] = cosf(theta);
        cs[2 * i + 1] = sinf(theta);
        theta *= theta_scale;
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
void cria_geglu(int64_t n, float *gate, const float *up)
{
    const float k = 0.7978845608028654f; /* sqrt(2 / pi) */
    for (int64_t i = 0; i < n; i++) {
        const float x = gate[i];
        float gelu;
        if (x <= -10.0f) {
            gelu = 0.0f;
        } else if (x >= 10.0f) {
            gelu = x;
        } else {
            const float h = cria_fp16_to_f32(cria_f32_to_fp16(x));
            gelu = cria_fp16_to_f32(cria_f32_to_fp16(0.5f * h * (1.0f + tanhf(k * h * (1.0f + 0.044715f * h * h)))));
        }
        gate[i] = gelu * up[i];
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
