#include "kernels/attention.h"

#include <math.h>
#include <string.h>

#include "base/fp16.h"

void cria_attention_head(const cria_vec_kernels *k, const cria_attn_layer *a, int32_t head, int32_t seq, int32_t pos,
                         const float *q, float *out, float *scores, uint16_t *q16)
{
    const int32_t hd = a->head_dim;
    const int64_t kv_dim = (int64_t)a->n_head_kv * hd;
    const int32_t kvh = head / (a->n_head / a->n_head_kv);
    const uint16_t *kbase = a->k + (int64_t)kvh * hd, *vbase = a->v + (int64_t)kvh * hd;

    k->f32_to_f16(hd, q, q16);
    float max = -INFINITY;
    for (int32_t c = 0; c < a->n_cells; c++) {
        if (a->cell_seq[c] != seq || a->cell_pos[c] > pos || a->cell_pos[c] < 0) {
            scores[c] = -INFINITY;
            continue;
        }
        float s = k->dot_f16(hd, q16, kbase + c * kv_dim) * a->scale;
        scores[c] = s;
        max = s > max ? s : max;
    }
    double sum = 0.0;
    for (int32_t c = 0; c < a->n_cells; c++) {
        float e = scores[c] == -INFINITY ? 0.0f : expf(scores[c] - max);
        scores[c] = e;
        sum += (double)e;
    }
    const float inv = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
    memset(out, 0, (size_t)hd * sizeof *out);
    for (int32_t c = 0; c < a->n_cells; c++) {
        if (scores[c] == 0.0f)
            continue;
        const float p = cria_fp16_to_f32(cria_f32_to_fp16(scores[c] * inv));
        k->axpy_f16(hd, p, vbase + c * kv_dim, out);
    }
}

size_t cria_attention_scratch_floats(const cria_attn_layer *a)
{
    const size_t hd = (size_t)a->head_dim, nh = (size_t)a->n_head, cells = (size_t)a->n_cells;
    const size_t halves = cells > nh * hd ? cells : nh * hd;
    /* q rounded, one converted cache row, scores [heads][cells], valid-cell indices, half-precision staging */
    return nh * hd + (size_t)a->n_head_kv * hd + nh * cells + cells + (halves + 1) / 2;
}

static inline float dot_n(const float *x, const float *y, int32_t n)
{
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int32_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

static inline void axpy_n(float *y, float a, const float *x, int32_t n)
{
#pragma omp simd
    for (int32_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* Small heads: a constant trip count lets the compiler unroll and vectorise the loop. */
static float dot_small(const float *x, const float *y, int32_t n)
{
    switch (n) {
    case 8: return dot_n(x, y, 8);
    case 16: return dot_n(x, y, 16);
    default: return dot_n(x, y, n);
    }
}

static void axpy_small(float *y, float a, const float *x, int32_t n)
{
    switch (n) {
    case 8: axpy_n(y, a, x, 8); break;
    case 16: axpy_n(y, a, x, 16); break;
    default: axpy_n(y, a, x, n); break;
    }
}

/* Below this head size a call through the kernel table costs more than the loop it saves. */
enum { ATTN_VEC_MIN_HEAD = 32 };

void cria_attention(const cria_vec_kernels *k, const cria_attn_layer *a, int32_t kh0, int32_t kh1, int32_t seq,
                    int32_t pos, const float *q, float *out, float *scratch)
{
    const int32_t hd = a->head_dim, g = a->n_head / a->n_head_kv;
    const int64_t kv_dim = (int64_t)a->n_head_kv * hd, seg = (int64_t)(kh1 - kh0) * hd;
    const int32_t h0 = kh0 * g, nh = (kh1 - kh0) * g;
    const bool vec = hd >= ATTN_VEC_MIN_HEAD;
    float *qr = scratch, *row = qr + (int64_t)a->n_head * hd, *sc = row + kv_dim;
    int32_t *idx = (int32_t *)(void *)(sc + (int64_t)a->n_head * a->n_cells);
    uint16_t *half = (uint16_t *)(void *)(idx + a->n_cells);

    int32_t nv = 0;
    for (int32_t c = 0; c < a->n_cells; c++) {
        if (a->cell_seq[c] == seq && a->cell_pos[c] >= 0 && a->cell_pos[c] <= pos)
            idx[nv++] = c;
    }
    float *o = out + (int64_t)h0 * hd;
    memset(o, 0, (size_t)nh * (size_t)hd * sizeof *o);
    if (nv == 0)
        return;

    /* The query, rounded to half precision as the f16 dot products of the reference see it. */
    k->f32_to_f16((int64_t)nh * hd, q + (int64_t)h0 * hd, half);
    k->f16_to_f32((int64_t)nh * hd, half, qr);

    /* Heads of a multiple of 8 (every real model): the kernels take the cells eight at a time. */
    const bool blocked = hd % 8 == 0;
    if (blocked) {
        for (int32_t kh = kh0; kh < kh1; kh++) {
            const int64_t hl = (int64_t)(kh - kh0) * g; /* first query head of kh, local to the range */
            k->attn_scores_f16(hd, g, qr + hl * hd, nv, idx, a->k + (int64_t)kh * hd, kv_dim, a->scale,
                               sc + hl * nv, nv);
        }
    }
    /* Otherwise one pass over the keys; each cell row is converted once for its g query heads. */
    for (int32_t j = 0; j < nv && !blocked; j++) {
        k->f16_to_f32(seg, a->k + idx[j] * kv_dim + (int64_t)kh0 * hd, row);
        for (int32_t h = 0; h < nh; h++) {
            const float *kr = row + (int64_t)(h / g) * hd, *qh = qr + (int64_t)h * hd;
            sc[(int64_t)h * nv + j] = (vec ? k->dot_f32(hd, qh, kr) : dot_small(qh, kr, hd)) * a->scale;
        }
    }

    /* Softmax per head; the probabilities rounded to half precision like the reference's V product. */
    for (int32_t h = 0; h < nh; h++) {
        float *s = sc + (int64_t)h * nv;
        k->softmax_f32(nv, s);
        k->f32_to_f16(nv, s, half);
        k->f16_to_f32(nv, half, s);
    }

    if (blocked) {
        for (int32_t kh = kh0; kh < kh1; kh++) {
            const int64_t hl = (int64_t)(kh - kh0) * g;
            k->attn_values_f16(hd, g, sc + hl * nv, nv, nv, idx, a->v + (int64_t)kh * hd, kv_dim, o + hl * hd);
        }
        return;
    }
    /* Values: one pass; each cell row converted once and added into every head of the range. */
    for (int32_t j = 0; j < nv; j++) {
        k->f16_to_f32(seg, a->v + idx[j] * kv_dim + (int64_t)kh0 * hd, row);
        for (int32_t h = 0; h < nh; h++) {
            const float p = sc[(int64_t)h * nv + j];
            if (p == 0.0f)
                continue;
            const float *vr = row + (int64_t)(h / g) * hd;
            if (vec)
                k->axpy_f32(hd, p, vr, o + (int64_t)h * hd);
            else
                axpy_small(o + (int64_t)h * hd, p, vr, hd);
        }
    }
}
