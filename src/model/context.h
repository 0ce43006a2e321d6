/* A context: one user's KV cache, thread pool and scratch over a shared model. */
#ifndef CRIA_MODEL_CONTEXT_H
#define CRIA_MODEL_CONTEXT_H

#include "kernels/vec.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "parallel/pool.h"
#include "model/profile.h"
#include "parallel/threshold.h"

struct cria_context {
    const cria_model *model;
    cria_context_params params;
    const cria_vec_kernels *vk;
    cria_pool *pool;
    int32_t numa_placed; /* weights whose rows were bound to their threads' NUMA nodes (--numa distribute) */
    cria_kv_cache kv;
    cria_thresholds thresholds;
    cria_prof prof; /* --profile: off unless cria_context_set_profile */

    /* Activations of up to n_batch tokens, row-major per token. */
    float *x;       /* residual stream [n_batch][n_embd] */
    float *xb;      /* normed input / projection output [n_batch][max(n_embd, q_dim)] */
    float *q;       /* [n_batch][q_dim] */
    float *k, *v;   /* [n_batch][kv_dim] */
    float *att;     /* attention output [n_batch][q_dim] */
    float *hb, *hb2; /* feed-forward gate and up [n_batch][n_ff] */
    float *rope_cs; /* [n_batch][n_rot] cos/sin pairs */
    int32_t *cells; /* cache cell of each batch token */
    void *mm_scratch;
    float *attn_scratch;       /* [threads][attn_scratch_floats] */
    size_t attn_scratch_floats;

    /* Output rows of the last decode. */
    float *logits;       /* [n_out][n_vocab] */
    int32_t *out_row;    /* batch index -> logits row, -1 when none */
    float *out_x;        /* normed residual of the output rows */
    int32_t n_out_cap;   /* rows logits/out_x can hold */
    int32_t n_batch_last;
};

/* The forward pass over batch tokens whose cache cells are claimed; fills the requested logits rows. */
void cria_forward(cria_context *ctx, const cria_batch *batch, int32_t n_out);

#endif
