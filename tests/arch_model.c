#include "arch_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fp16.h"
#include "gguf/gguf.h"
#include "quant/quant.h"

static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* normal(mean, std) by Box-Muller on a splitmix64 stream. */
static void fill_normal(uint64_t *state, float *x, int64_t n, float mean, float std)
{
    for (int64_t i = 0; i < n; i += 2) {
        const double u1 = ((double)(next_u64(state) >> 11) + 0.5) / 9007199254740992.0;
        const double u2 = (double)(next_u64(state) >> 11) / 9007199254740992.0;
        const double r = sqrt(-2.0 * log(u1));
        x[i] = mean + std * (float)(r * cos(2.0 * M_PI * u2));
        if (i + 1 < n)
            x[i + 1] = mean + std * (float)(r * sin(2.0 * M_PI * u2));
    }
}

typedef struct model_writer {
    cria_gguf_writer *w;
    uint64_t rng;
    void **bufs; /* tensor data lives until the write */
    int n_bufs;
    bool ok;
} model_writer;

static void *keep(model_writer *mw, size_t bytes)
{
    void *p = calloc(1, bytes ? bytes : 1);
    void **b = realloc(mw->bufs, (size_t)(mw->n_bufs + 1) * sizeof *b);
    if (!p || !b) {
        free(p);
        if (b)
            mw->bufs = b;
        mw->ok = false;
        return NULL;
    }
    mw->bufs = b;
    mw->bufs[mw->n_bufs++] = p;
    return p;
}

/* A tensor of rows x cols normal(mean, std) values stored as type. */
static void add_random(model_writer *mw, const char *name, cria_dtype type, int64_t cols, int64_t rows, float mean,
                       float std)
{
    uint64_t row_bytes = 0;
    float *f = malloc((size_t)(cols * rows) * sizeof *f);
    if (!f || !cria_dtype_row_bytes(type, (uint64_t)cols, &row_bytes)) {
        free(f);
        mw->ok = false;
        return;
    }
    fill_normal(&mw->rng, f, cols * rows, mean, std);
    char *data = keep(mw, (size_t)row_bytes * (size_t)rows);
    if (data) {
        for (int64_t r = 0; r < rows && mw->ok; r++) {
            if (type == CRIA_DTYPE_F32) {
                memcpy(data + r * (int64_t)row_bytes, f + r * cols, (size_t)cols * sizeof *f);
            } else if (type == CRIA_DTYPE_F16) {
                uint16_t *h = (uint16_t *)(void *)(data + r * (int64_t)row_bytes);
                for (int64_t j = 0; j < cols; j++)
                    h[j] = cria_f32_to_fp16(f[r * cols + j]);
            } else if (cria_quantize_row(type, f + r * cols, data + r * (int64_t)row_bytes, cols, NULL) != CRIA_OK) {
                mw->ok = false;
            }
        }
        const uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
        mw->ok = mw->ok && cria_gguf_writer_add_tensor(mw->w, name, type, rows == 1 ? 1 : 2, ne, data);
    }
    free(f);
}

static void add_vector(model_writer *mw, const char *name, const float *v, int64_t n)
{
    float *data = keep(mw, (size_t)n * sizeof *data);
    if (data) {
        memcpy(data, v, (size_t)n * sizeof *data);
        const uint64_t ne[1] = {(uint64_t)n};
        mw->ok = mw->ok && cria_gguf_writer_add_tensor(mw->w, name, CRIA_DTYPE_F32, 1, ne, data);
    }
}

static void set_u32(model_writer *mw, const char *arch, const char *suffix, uint32_t v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    mw->ok = mw->ok && cria_gguf_writer_set_u32(mw->w, key, v);
}

static void set_f32(model_writer *mw, const char *arch, const char *suffix, float v)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    mw->ok = mw->ok && cria_gguf_writer_set_f32(mw->w, key, v);
}

/* A matrix and, for bitnet with scales, its one-element .scale tensor. */
static void add_matrix(model_writer *mw, const arch_model_spec *s, int l, const char *what, int64_t cols,
                       int64_t rows)
{
    char name[96];
    snprintf(name, sizeof name, "blk.%d.%s.weight", l, what);
    /* std 1/sqrt(cols): each layer adds about as much to the residual stream as the embedding holds */
    add_random(mw, name, s->mat_type, cols, rows, 0.0f, 1.0f / sqrtf((float)cols));
    if (s->scales) {
        snprintf(name, sizeof name, "blk.%d.%s.scale", l, what);
        add_random(mw, name, CRIA_DTYPE_F32, 1, 1, 1.0f, 0.25f);
    }
}

static void add_norm(model_writer *mw, const char *name, int64_t n)
{
    add_random(mw, name, CRIA_DTYPE_F32, n, 1, 1.0f, 0.1f);
}

bool arch_model_write(const arch_model_spec *s, const char *vocab_path, const char *path)
{
    cria_error err = {0};
    cria_gguf *vg = NULL;
    if (cria_gguf_open(vocab_path, &vg, &err) != CRIA_OK) {
        fprintf(stderr, "arch_model: %s\n", err.msg);
        return false;
    }
    model_writer mw = {.w = cria_gguf_writer_init(0), .rng = s->seed, .ok = true};
    mw.ok = mw.w != NULL;
    const char *a = s->arch;
    mw.ok = mw.ok && cria_gguf_writer_set_str(mw.w, "general.architecture", a);
    mw.ok = mw.ok && cria_gguf_writer_set_str(mw.w, "general.name", "arch-test");
    set_u32(&mw, a, "context_length", (uint32_t)s->n_ctx);
    set_u32(&mw, a, "embedding_length", (uint32_t)s->n_embd);
    set_u32(&mw, a, "block_count", (uint32_t)s->n_layer);
    set_u32(&mw, a, "feed_forward_length", (uint32_t)s->n_ff);
    set_u32(&mw, a, "attention.head_count", (uint32_t)s->n_head);
    set_u32(&mw, a, "attention.head_count_kv", (uint32_t)s->n_head_kv);
    set_u32(&mw, a, "rope.dimension_count", (uint32_t)(s->n_embd / s->n_head));
    set_f32(&mw, a, "attention.layer_norm_rms_epsilon", 1e-5f);
    set_f32(&mw, a, "rope.freq_base", 10000.0f);
    if (s->rope_scaling_type) {
        char key[128];
        snprintf(key, sizeof key, "%s.rope.scaling.type", a);
        mw.ok = mw.ok && cria_gguf_writer_set_str(mw.w, key, s->rope_scaling_type);
        set_f32(&mw, a, "rope.scaling.factor", s->rope_scaling_factor);
        if (s->rope_n_ctx_orig > 0)
            set_u32(&mw, a, "rope.scaling.original_context_length", (uint32_t)s->rope_n_ctx_orig);
    }
    mw.ok = mw.ok && cria_gguf_writer_set_u32(mw.w, "general.file_type", 0);
    int32_t n_vocab = 0;
    for (uint64_t i = 0; i < cria_gguf_n_kv(vg) && mw.ok; i++) {
        const cria_gguf_kv *kv = cria_gguf_kv_at(vg, i);
        if (kv->key.len > 10 && memcmp(kv->key.ptr, "tokenizer.", 10) == 0) {
            mw.ok = cria_gguf_writer_copy_kv(mw.w, vg, kv);
            if (cria_gguf_str_eq(kv->key, "tokenizer.ggml.tokens"))
                n_vocab = (int32_t)kv->arr_n;
        }
    }
    mw.ok = mw.ok && n_vocab > 0;

    const int64_t d = s->n_embd, ff = s->n_ff, hd = d / s->n_head, kv_dim = hd * s->n_head_kv;
    const bool bitnet = strcmp(a, "bitnet") == 0;
    /* bitnet's classifier is the embedding: small embeddings keep a token's own logit from winning every step */
    add_random(&mw, "token_embd.weight", CRIA_DTYPE_F32, d, n_vocab, 0.0f, bitnet ? 0.05f : 1.0f);
    add_norm(&mw, "output_norm.weight", d);
    if (s->rope_freqs)
        add_vector(&mw, "rope_freqs.weight", s->rope_freqs, hd / 2);
    for (int l = 0; l < s->n_layer && mw.ok; l++) {
        char name[96];
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", l);
        add_norm(&mw, name, d);
        add_matrix(&mw, s, l, "attn_q", d, d);
        add_matrix(&mw, s, l, "attn_k", d, kv_dim);
        add_matrix(&mw, s, l, "attn_v", d, kv_dim);
        add_matrix(&mw, s, l, "attn_output", d, d);
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", l);
        add_norm(&mw, name, d);
        add_matrix(&mw, s, l, "ffn_gate", d, ff);
        add_matrix(&mw, s, l, "ffn_up", d, ff);
        add_matrix(&mw, s, l, "ffn_down", ff, d);
        if (bitnet) {
            snprintf(name, sizeof name, "blk.%d.attn_sub_norm.weight", l);
            add_norm(&mw, name, d);
            snprintf(name, sizeof name, "blk.%d.ffn_sub_norm.weight", l);
            add_norm(&mw, name, ff);
        }
    }
    if (!bitnet && mw.ok)
        add_random(&mw, "output.weight", s->mat_type, d, n_vocab, 0.0f, 1.0f / sqrtf((float)d));
    bool ok = mw.ok && cria_gguf_writer_write(mw.w, path, &err) == CRIA_OK;
    if (!ok)
        fprintf(stderr, "arch_model: cannot write %s: %s\n", path, mw.ok ? err.msg : "bad spec or out of memory");
    for (int i = 0; i < mw.n_bufs; i++)
        free(mw.bufs[i]);
    free(mw.bufs);
    cria_gguf_writer_free(mw.w);
    cria_gguf_close(vg);
    return ok;
}
