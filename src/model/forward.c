/*
 * The forward pass over a batch of tokens, for every family in model/arch.c.
 * Read it top to bottom as the paper: embed, then per layer RMSNorm -> Q/K/V
 * -> (biases, QK-norm) -> RoPE -> cache -> attention -> output projection ->
 * residual -> RMSNorm -> gated FFN (SwiGLU or GeGLU) -> residual, then the
 * final norm and the classifier for the rows that asked for logits. The speed
 * lives in the kernels; this file only moves rows between them.
 */
#include <math.h>
#include <stdatomic.h>

#include "base/fp16.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "model/context.h"
#include "quant/quant.h"

typedef struct attention_task {
    cria_context *ctx;
    const cria_batch *batch;
    cria_attn_layer layer;
    int32_t kv_per_item; /* kv heads per work item: all of them on one thread, one each when shared */
    atomic_long next;
} attention_task;

/* Work items are (token, block of kv heads), handed out through an atomic counter. */
static void attention_worker(void *arg, int ith, int nth)
{
    (void)nth;
    attention_task *t = arg;
    cria_context *ctx = t->ctx;
    const cria_hparams *hp = &ctx->model->hp;
    const int32_t blocks = hp->n_head_kv / t->kv_per_item;
    const long n_items = (long)t->batch->n_tokens * blocks;
    float *scratch = ctx->attn_scratch + (size_t)ith * ctx->attn_scratch_floats;
    const int64_t q_dim = (int64_t)hp->n_head * hp->head_dim;
    for (;;) {
        long item = atomic_fetch_add_explicit(&t->next, 1, memory_order_relaxed);
        if (item >= n_items)
            break;
        const int32_t i = (int32_t)(item / blocks), kh0 = (int32_t)(item % blocks) * t->kv_per_item;
        cria_attention(ctx->vk, &t->layer, kh0, kh0 + t->kv_per_item, t->batch->seq_id[i], t->batch->pos[i],
                       ctx->q + i * q_dim, ctx->att + i * q_dim, scratch);
    }
}

static void attention(cria_context *ctx, const cria_batch *b, int32_t layer, int nth)
{
    const cria_hparams *hp = &ctx->model->hp;
    attention_task t = {
        .ctx = ctx,
        .batch = b,
        .layer = {
            .n_head = hp->n_head,
            .n_head_kv = hp->n_head_kv,
            .head_dim = hp->head_dim,
            .n_cells = ctx->kv.n_active,
            .k = cria_kv_k(&ctx->kv, layer, 0),
            .v = cria_kv_v(&ctx->kv, layer, 0),
            .cell_pos = ctx->kv.pos,
            .cell_seq = ctx->kv.seq,
            .scale = ctx->model->family->scale_q ? 1.0f : 1.0f / sqrtf((float)hp->head_dim),
        },
    };
    atomic_init(&t.next, 0);
    const int64_t work = cria_attention_work(b->n_tokens, hp->n_head, ctx->kv.n_active, hp->head_dim);
    nth = cria_threads_for(&ctx->thresholds, CRIA_OP_ATTENTION, work, nth);
    t.kv_per_item = nth > 1 && b->n_tokens < nth ? 1 : hp->n_head_kv;
    const long items = (long)b->n_tokens * (hp->n_head_kv / t.kv_per_item);
    cria_pool_run(ctx->pool, items < nth ? (int)items : nth, attention_worker, &t);
}

/* Matmuls of `count` weights over one input, in one region on as many of nth threads as their size pays for. */
static void matmuls(cria_context *ctx, int nth, int count, const cria_weight *const *w, float *const *y,
                    const float *x, int64_t n)
{
    int64_t work = 0;
    for (int i = 0; i < count; i++)
        work += w[i]->rows * w[i]->cols * n;
    nth = cria_threads_for(&ctx->thresholds, CRIA_OP_MATMUL, work, nth);
    cria_matmul_multi(ctx->vk, ctx->pool, nth, count, w, y, x, n, ctx->mm_scratch);
}

static void matmul(cria_context *ctx, int nth, const cria_weight *w, const float *x, int64_t n, float *y)
{
    matmuls(ctx, nth, 1, &w, &y, x, n);
}

/* --profile: charges the time since the previous lap to op (one branch when off). */
static inline void lap(cria_context *ctx, cria_prof_op op)
{
    if (ctx->prof.on)
        cria_prof_lap(&ctx->prof, ctx->pool, op);
}

/* Copies the embedding row of each token into the residual stream. */
static void embed(cria_context *ctx, const cria_batch *b)
{
    const cria_weight *e = &ctx->model->tok_embd;
    const int64_t d = e->cols;
    for (int32_t i = 0; i < b->n_tokens; i++) {
        const void *row = (const char *)e->data + (size_t)b->token[i] * e->row_bytes;
        float *dst = ctx->x + i * d;
        switch (e->type) {
        case CRIA_DTYPE_F16: ctx->vk->f16_to_f32(d, row, dst); break;
        case CRIA_DTYPE_BF16: ctx->vk->bf16_to_f32(d, row, dst); break;
        case CRIA_DTYPE_F32:
            for (int64_t j = 0; j < d; j++)
                dst[j] = ((const float *)row)[j];
            break;
        default: /* a block type: the loader only binds types src/quant can dequantize */
            cria_quant_traits_for(e->type, ctx->vk->isa)->to_float(row, dst, d);
            break;
        }
        if (ctx->model->family->embd_scale) {
            const float scale = sqrtf((float)d);
            for (int64_t j = 0; j < d; j++)
                dst[j] *= scale;
        }
    }
}

/* x *= *s (a bitnet .scale tensor), when the model has one. */
static void scale_by(int64_t n, float *x, const float *s)
{
    if (!s)
        return;
    for (int64_t j = 0; j < n; j++)
        x[j] *= *s;
}

/* In-place RMSNorm of each of n rows of `width` values (bitnet's sub-norms), when the model has the weights. */
static void sub_norm(const cria_context *ctx, int32_t n, int64_t width, float *x, const float *w)
{
    if (!w)
        return;
    for (int32_t i = 0; i < n; i++)
        cria_rmsnorm(width, x + i * width, w, ctx->model->hp.rms_eps, x + i * width);
}

/*
 * Token i's Q, K and V after their projections: biases (qwen2), per-head
 * RMSNorm of Q and K (qwen3), RoPE in the family's pairing, then K and V into
 * the token's cache cell in half precision.
 */
static void qkv_epilogue(cria_context *ctx, const cria_layer *L, int32_t layer, int32_t i)
{
    const cria_hparams *hp = &ctx->model->hp;
    const int32_t hd = hp->head_dim;
    const int64_t q_dim = (int64_t)hp->n_head * hd, kv_dim = (int64_t)hp->n_head_kv * hd;
    float *q = ctx->q + i * q_dim, *k = ctx->k + i * kv_dim, *v = ctx->v + i * kv_dim;
    scale_by(q_dim, q, L->wq_scale);
    scale_by(kv_dim, k, L->wk_scale);
    scale_by(kv_dim, v, L->wv_scale);
    if (L->bq) {
        cria_add(q_dim, q, L->bq);
        cria_add(kv_dim, k, L->bk);
        cria_add(kv_dim, v, L->bv);
    }
    if (L->q_norm) {
        for (int32_t h = 0; h < hp->n_head; h++)
            cria_rmsnorm(hd, q + (int64_t)h * hd, L->q_norm, hp->rms_eps, q + (int64_t)h * hd);
        for (int32_t h = 0; h < hp->n_head_kv; h++)
            cria_rmsnorm(hd, k + (int64_t)h * hd, L->k_norm, hp->rms_eps, k + (int64_t)h * hd);
    }
    const float *cs = ctx->rope_cs + (int64_t)i * hp->n_rot;
    const bool neox = ctx->model->family->rope == CRIA_ROPE_NEOX;
    ctx->vk->rope_f32(q, hp->n_head, hd, hp->n_rot, cs, neox);
    ctx->vk->rope_f32(k, hp->n_head_kv, hd, hp->n_rot, cs, neox);
    if (ctx->model->family->scale_q) {
        const float scale = 1.0f / sqrtf((float)hd);
        for (int64_t j = 0; j < q_dim; j++)
            q[j] *= scale;
    }
    ctx->vk->f32_to_f16(kv_dim, k, cria_kv_k(&ctx->kv, layer, ctx->cells[i]));
    ctx->vk->f32_to_f16(kv_dim, v, cria_kv_v(&ctx->kv, layer, ctx->cells[i]));
}

void cria_forward(cria_context *ctx, const cria_batch *b, int32_t n_out)
{
    const cria_model *m = ctx->model;
    const cria_hparams *hp = &m->hp;
    const cria_vec_kernels *vk = ctx->vk;
    const int32_t n = b->n_tokens;
    const int nth = n == 1 ? ctx->params.n_threads : ctx->params.n_threads_batch;
    const int64_t d = hp->n_embd, ff = hp->n_ff;

    lap(ctx, CRIA_PROF_OTHER);
    embed(ctx, b);
    const cria_rope_params rope = cria_model_rope_params(m);
    lap(ctx, CRIA_PROF_EMBED);
    for (int32_t i = 0; i < n; i++)
        cria_rope_cache_ext(b->pos[i], &rope, ctx->rope_cs + (int64_t)i * hp->n_rot);
    lap(ctx, CRIA_PROF_ROPE);

    for (int32_t l = 0; l < hp->n_layer; l++) {
        const cria_layer *L = &m->layers[l];

        /* attention block */
        for (int32_t i = 0; i < n; i++)
            cria_rmsnorm(d, ctx->x + i * d, L->attn_norm, hp->rms_eps, ctx->xb + i * d);
        lap(ctx, CRIA_PROF_NORM);
        const cria_weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
        float *const qkv_out[3] = {ctx->q, ctx->k, ctx->v};
        matmuls(ctx, nth, 3, qkv, qkv_out, ctx->xb, n);
        lap(ctx, CRIA_PROF_QKV);
        for (int32_t i = 0; i < n; i++)
            qkv_epilogue(ctx, L, l, i);
        lap(ctx, CRIA_PROF_ROPE);
        attention(ctx, b, l, nth);
        lap(ctx, CRIA_PROF_ATTENTION);
        sub_norm(ctx, n, (int64_t)hp->n_head * hp->head_dim, ctx->att, L->attn_sub_norm);
        matmul(ctx, nth, &L->wo, ctx->att, n, ctx->xb);
        scale_by(n * d, ctx->xb, L->wo_scale);
        lap(ctx, CRIA_PROF_WO);
        cria_add(n * d, ctx->x, ctx->xb);
        lap(ctx, CRIA_PROF_RESIDUAL);

        /* feed-forward block */
        for (int32_t i = 0; i < n; i++)
            cria_rmsnorm(d, ctx->x + i * d, L->ffn_norm, hp->rms_eps, ctx->xb + i * d);
        lap(ctx, CRIA_PROF_NORM);
        const cria_weight *gate_up[2] = {&L->w_gate, &L->w_up};
        float *const gate_up_out[2] = {ctx->hb, ctx->hb2};
        matmuls(ctx, nth, 2, gate_up, gate_up_out, ctx->xb, n);
        scale_by(n * ff, ctx->hb, L->gate_scale);
        scale_by(n * ff, ctx->hb2, L->up_scale);
        lap(ctx, CRIA_PROF_GATE_UP);
        if (m->family->act == CRIA_ACT_GELU)
            cria_geglu_table(vk, n * ff, ctx->hb, ctx->hb2, m->gelu_f16);
        else
            vk->swiglu_f32(n * ff, ctx->hb, ctx->hb2);
        lap(ctx, CRIA_PROF_ACT);
        sub_norm(ctx, n, ff, ctx->hb, L->ffn_sub_norm);
        matmul(ctx, nth, &L->w_down, ctx->hb, n, ctx->xb);
        scale_by(n * d, ctx->xb, L->down_scale);
        lap(ctx, CRIA_PROF_DOWN);
        cria_add(n * d, ctx->x, ctx->xb);
        lap(ctx, CRIA_PROF_RESIDUAL);
    }

    if (n_out == 0)
        return;
    for (int32_t i = 0; i < n; i++) {
        if (ctx->out_row[i] >= 0)
            cria_rmsnorm(d, ctx->x + i * d, m->output_norm, hp->rms_eps, ctx->out_x + ctx->out_row[i] * d);
    }
    lap(ctx, CRIA_PROF_NORM);
    matmul(ctx, nth, &m->output, ctx->out_x, n_out, ctx->logits);
    lap(ctx, CRIA_PROF_OUTPUT);
}
