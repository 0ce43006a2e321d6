/*
 * Attention of one query head over the KV cache cells of its sequence.
 * Grouped-query: query head h reads kv head h / (n_head / n_head_kv).
 */
#ifndef CRIA_KERNELS_ATTENTION_H
#define CRIA_KERNELS_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/vec.h"

typedef struct cria_attn_layer {
    int32_t n_head, n_head_kv, head_dim;
    int32_t n_cells;         /* cells to scan: [0, n_cells) */
    const uint16_t *k, *v;   /* [cells][n_head_kv * head_dim], half precision */
    const int32_t *cell_pos; /* per cell, -1 when free */
    const int32_t *cell_seq;
    float scale;             /* 1 / sqrt(head_dim) */
} cria_attn_layer;

/*
 * out = softmax(scale * q . K^T) V over the cells of sequence seq at
 * positions <= pos, for query head `head`. The query is rounded to half
 * precision for the dot products and the probabilities are rounded to half
 * precision before weighting V, as the reference engine's f16 cache path does.
 * scores holds n_cells floats, q16 head_dim halves (scratch).
 */
void cria_attention_head(const cria_vec_kernels *k, const cria_attn_layer *a, int32_t head, int32_t seq, int32_t pos,
                         const float *q, float *out, float *scores, uint16_t *q16);

/* Floats of scratch cria_attention needs (one buffer per thread). */
size_t cria_attention_scratch_floats(const cria_attn_layer *a);

/*
 * The fast path, same semantics as cria_attention_head (the reference): one
 * query token, the query heads of kv heads [kh0, kh1). q and out hold every
 * head of the token (n_head * head_dim); only the heads of the range are
 * read and written. Each cache cell is visited once per pass and converted
 * from half precision once for all the heads that share it, and masked cells
 * are dropped up front, so the cost is one pass over the valid keys and one
 * over the valid values.
 */
void cria_attention(const cria_vec_kernels *k, const cria_attn_layer *a, int32_t kh0, int32_t kh1, int32_t seq,
                    int32_t pos, const float *q, float *out, float *scratch);

#endif
