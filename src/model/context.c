/* Contexts, batches and decode: validation, cache bookkeeping and buffers around the forward pass. */
#include "model/context.h"

#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "base/error.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"

cria_context_params cria_context_default_params(void)
{
    cria_context_params p = {
        .n_ctx = 0,
        .n_batch = 0,
        .n_threads = 1,
        .n_threads_batch = 0,
        .n_seq_max = 1,
        .placement = NULL,
        .poll = 50,
        .thresholds = NULL,
    };
    return p;
}

static void *alloc_floats(size_t n, bool *ok)
{
    void *p = malloc((n ? n : 1) * sizeof(float));
    if (!p)
        *ok = false;
    return p;
}

/*
 * --numa distribute over two or more nodes: each node's share of every
 * weight's rows onto that node, where the OS allows (pages of a file mapping
 * other processes share stay put; a kernel without NUMA says no, and the
 * weights stay where they are). ctx->numa_placed counts the bound weights.
 */
static void place_weights(cria_context *ctx)
{
    const cria_pool_groups g = cria_pool_get_groups(ctx->pool);
    if (g.n < 2)
        return;
    const cria_model *m = ctx->model;
    for (int32_t l = 0; l < m->hp.n_layer; l++) {
        const cria_layer *L = &m->layers[l];
        const cria_weight *w[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
            ctx->numa_placed += cria_matmul_place(w[i], g, NULL) == CRIA_OK;
    }
    ctx->numa_placed += cria_matmul_place(&m->output, g, NULL) == CRIA_OK;
}

cria_status cria_context_init(cria_model *model, const cria_context_params *params, cria_context **out,
                              cria_error *err)
{
    *out = NULL;
    cria_context_params p = params ? *params : cria_context_default_params();
    const cria_hparams *hp = &model->hp;
    if (p.n_ctx < 0 || p.n_batch < 0 || p.n_seq_max < 0)
        return cria_err_set(err, CRIA_ERR_ARG, "negative context size, batch size or sequence count");
    if (p.n_ctx == 0)
        p.n_ctx = hp->n_ctx_train;
    if (p.n_batch == 0)
        p.n_batch = p.n_ctx < 512 ? p.n_ctx : 512;
    if (p.n_batch > p.n_ctx)
        p.n_batch = p.n_ctx;
    if (p.n_seq_max == 0)
        p.n_seq_max = 1;
    if (p.n_threads <= 0)
        p.n_threads = 1;
    if (p.n_threads_batch <= 0)
        p.n_threads_batch = p.n_threads;
    if (p.n_ctx > (1 << 24))
        return cria_err_set(err, CRIA_ERR_ARG, "context size %d is too large", p.n_ctx);

    cria_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a context");
    ctx->model = model;
    ctx->params = p;
    ctx->vk = cria_vec_for(cria_isa_active());
    ctx->thresholds = cria_thresholds_default();
    /* The caller's thresholds (a tuning file's), then $CRIA_THRESHOLDS over them: the environment is the user's
     * explicit override. */
    const char *spec = getenv("CRIA_THRESHOLDS");
    if ((p.thresholds && cria_thresholds_parse(&ctx->thresholds, p.thresholds, err) != CRIA_OK) ||
        (spec && cria_thresholds_parse(&ctx->thresholds, spec, err) != CRIA_OK)) {
        free(ctx);
        return err ? err->status : CRIA_ERR_ARG;
    }
    const int nth = p.n_threads > p.n_threads_batch ? p.n_threads : p.n_threads_batch;
    const size_t nb = (size_t)p.n_batch, d = (size_t)hp->n_embd, hd = (size_t)hp->head_dim;
    const size_t q_dim = (size_t)hp->n_head * hd, kv_dim = (size_t)hp->n_head_kv * hd, ff = (size_t)hp->n_ff;
    cria_status st = cria_pool_init_placed(nth, p.placement, &ctx->pool, err);
    ctx->params.placement = NULL; /* borrowed for init only */
    ctx->params.thresholds = NULL;
    if (st == CRIA_OK)
        cria_pool_set_poll(ctx->pool, p.poll);
    if (st == CRIA_OK)
        place_weights(ctx);
    if (st == CRIA_OK)
        st = cria_kv_init(&ctx->kv, p.n_ctx, hp->n_layer, (int32_t)kv_dim, err);
    if (st != CRIA_OK) {
        cria_context_free(ctx);
        return st;
    }
    bool ok = true;
    size_t widest_in = d > q_dim ? d : q_dim;
    widest_in = widest_in > ff ? widest_in : ff;
    ctx->x = alloc_floats(nb * d, &ok);
    ctx->xb = alloc_floats(nb * (d > q_dim ? d : q_dim), &ok);
    ctx->q = alloc_floats(nb * q_dim, &ok);
    ctx->k = alloc_floats(nb * kv_dim, &ok);
    ctx->v = alloc_floats(nb * kv_dim, &ok);
    ctx->att = alloc_floats(nb * q_dim, &ok);
    ctx->hb = alloc_floats(nb * ff, &ok);
    ctx->hb2 = alloc_floats(nb * ff, &ok);
    ctx->rope_cs = alloc_floats(nb * (size_t)hp->n_rot, &ok);
    const cria_attn_layer shape = {
        .n_head = hp->n_head, .n_head_kv = hp->n_head_kv, .head_dim = hp->head_dim, .n_cells = p.n_ctx};
    ctx->attn_scratch_floats = cria_attention_scratch_floats(&shape);
    ctx->attn_scratch = alloc_floats((size_t)nth * ctx->attn_scratch_floats, &ok);
    ctx->cells = malloc(nb * sizeof *ctx->cells);
    ctx->out_row = malloc(nb * sizeof *ctx->out_row);
    ctx->mm_scratch = malloc(cria_matmul_scratch_bytes((int64_t)nb, (int64_t)widest_in));
    if (!ok || !ctx->cells || !ctx->out_row || !ctx->mm_scratch) {
        cria_context_free(ctx);
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a context of %d tokens, batch %d", p.n_ctx,
                            p.n_batch);
    }
    *out = ctx;
    return CRIA_OK;
}

void cria_context_free(cria_context *ctx)
{
    if (!ctx)
        return;
    cria_pool_free(ctx->pool);
    cria_kv_free(&ctx->kv);
    free(ctx->x);
    free(ctx->xb);
    free(ctx->q);
    free(ctx->k);
    free(ctx->v);
    free(ctx->att);
    free(ctx->hb);
    free(ctx->hb2);
    free(ctx->rope_cs);
    free(ctx->attn_scratch);
    free(ctx->cells);
    free(ctx->out_row);
    free(ctx->mm_scratch);
    free(ctx->logits);
    free(ctx->out_x);
    free(ctx);
}

int32_t cria_n_ctx(const cria_context *ctx)
{
    return ctx->params.n_ctx;
}

int32_t cria_context_thread_cpus(cria_context *ctx, int32_t *cpus, int32_t cap)
{
    int where[1024]; /* the pool's limit */
    cria_pool_where(ctx->pool, where);
    int n = cria_pool_size(ctx->pool);
    for (int i = 0; i < n && i < cap; i++)
        cpus[i] = where[i];
    return n;
}

cria_batch cria_batch_init(int32_t n_max)
{
    cria_batch b;
    memset(&b, 0, sizeof b);
    if (n_max <= 0)
        return b;
    size_t n = (size_t)n_max;
    b.token = malloc(n * sizeof *b.token);
    b.pos = malloc(n * sizeof *b.pos);
    b.seq_id = malloc(n * sizeof *b.seq_id);
    b.logits = calloc(n, sizeof *b.logits);
    if (!b.token || !b.pos || !b.seq_id || !b.logits) {
        cria_batch_free(&b);
        memset(&b, 0, sizeof b);
    }
    return b;
}

void cria_batch_free(cria_batch *b)
{
    free(b->token);
    free(b->pos);
    free(b->seq_id);
    free(b->logits);
    memset(b, 0, sizeof *b);
}

/* Checks every token, position and sequence id of the batch before anything changes. */
static cria_status check_batch(const cria_context *ctx, const cria_batch *b, cria_error *err)
{
    if (!b || b->n_tokens <= 0)
        return cria_err_set(err, CRIA_ERR_ARG, "empty batch");
    if (b->n_tokens > ctx->params.n_batch)
        return cria_err_set(err, CRIA_ERR_ARG, "batch of %d tokens exceeds the batch size %d", b->n_tokens,
                            ctx->params.n_batch);
    for (int32_t i = 0; i < b->n_tokens; i++) {
        if (b->token[i] < 0 || b->token[i] >= ctx->model->hp.n_vocab)
            return cria_err_set(err, CRIA_ERR_ARG, "batch token %d: id %d is outside the vocabulary (0..%d)", i,
                                b->token[i], ctx->model->hp.n_vocab - 1);
        if (b->pos[i] < 0)
            return cria_err_set(err, CRIA_ERR_ARG, "batch token %d: negative position %d", i, b->pos[i]);
        if (b->seq_id[i] < 0 || b->seq_id[i] >= ctx->params.n_seq_max)
            return cria_err_set(err, CRIA_ERR_ARG, "batch token %d: sequence id %d outside 0..%d", i, b->seq_id[i],
                                ctx->params.n_seq_max - 1);
    }
    return CRIA_OK;
}

/* Makes room for n_out output rows. */
static cria_status reserve_outputs(cria_context *ctx, int32_t n_out, cria_error *err)
{
    if (n_out <= ctx->n_out_cap)
        return CRIA_OK;
    const size_t nv = (size_t)ctx->model->hp.n_vocab, d = (size_t)ctx->model->hp.n_embd;
    float *logits = realloc(ctx->logits, (size_t)n_out * nv * sizeof *logits);
    if (logits)
        ctx->logits = logits;
    float *out_x = realloc(ctx->out_x, (size_t)n_out * d * sizeof *out_x);
    if (out_x)
        ctx->out_x = out_x;
    if (!logits || !out_x)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for %d rows of logits", n_out);
    ctx->n_out_cap = n_out;
    return CRIA_OK;
}

cria_status cria_decode(cria_context *ctx, const cria_batch *b, cria_error *err)
{
    if (ctx->prof.on) /* the checks and cache bookkeeping count as "other" (the forward pass's first lap) */
        cria_prof_mark(&ctx->prof, ctx->pool);
    cria_status st = check_batch(ctx, b, err);
    if (st != CRIA_OK)
        return st;
    int32_t n_out = 0;
    for (int32_t i = 0; i < b->n_tokens; i++)
        ctx->out_row[i] = b->logits[i] ? n_out++ : -1;
    st = reserve_outputs(ctx, n_out, err);
    if (st != CRIA_OK)
        return st;
    st = cria_kv_claim(&ctx->kv, b->n_tokens, b->seq_id, b->pos, ctx->cells, err);
    if (st != CRIA_OK)
        return st;
    ctx->n_batch_last = b->n_tokens;
    if (ctx->prof.on) {
        ctx->prof.total.n_tokens += b->n_tokens;
        ctx->prof.total.n_decodes++;
    }
    cria_forward(ctx, b, n_out);
    return CRIA_OK;
}

const float *cria_get_logits_ith(const cria_context *ctx, int32_t i)
{
    if (i < 0 || i >= ctx->n_batch_last || ctx->out_row[i] < 0)
        return NULL;
    return ctx->logits + (size_t)ctx->out_row[i] * (size_t)ctx->model->hp.n_vocab;
}

void cria_kv_seq_rm(cria_context *ctx, int32_t seq, int32_t p0, int32_t p1)
{
    cria_kv_remove(&ctx->kv, seq, p0 < 0 ? 0 : p0, p1);
}

int32_t cria_kv_used(const cria_context *ctx)
{
    return ctx->kv.n_used;
}

uint64_t cria_context_n_syncs(const cria_context *ctx)
{
    return cria_pool_regions(ctx->pool);
}
