#include "kernels/ops.h"

#include <math.h>

void cria_rmsnorm(int64_t n, const float *x, const float *w, float eps, float *y)
{
    double ss = 0.0;
    for (int64_t i = 0; i < n; i++)
        ss += (double)x[i] * (double)x[i];
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

void cria_rope(float *x, int32_t n_heads, int32_t head_dim, int32_t n_rot, const float *cs)
{
    for (int32_t h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int32_t i = 0; i < n_rot; i += 2) {
            const float c = cs[i], s = cs[i + 1];
            const float a = v[i], b = v[i + 1];
            v[i] = a * c - b * s;
            v[i + 1] = a * s + b * c;
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
