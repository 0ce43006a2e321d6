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
