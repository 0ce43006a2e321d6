#include "model/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/fp16.h"
#include "gguf/gguf.h"
#include "tokenizer/vocab.h"

static const cria_synth_shape shapes[] = {
    {"stories260K", 64, 172, 5, 8, 4, 512},
    {"stories15M", 288, 768, 6, 6, 6, 256},
    {"stories42M", 512, 1376, 8, 8, 8, 1024},
    {"stories110M", 768, 2048, 12, 12, 12, 1024},
    {"tinyllama-1.1B", 2048, 5632, 22, 32, 4, 2048},
    {"llama2-7B", 4096, 11008, 32, 32, 32, 4096},
};

const cria_synth_shape *cria_synth_find_shape(const char *name)
{
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        if (strcmp(shapes[i].name, name) == 0)
            return &shapes[i];
    }
    return NULL;
}

void cria_synth_shape_names(char *buf, size_t cap)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0] && used < cap; i++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%s", i ? ", " : "", shapes[i].name);
}

static uint64_t next_u64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Standard normal by Box-Muller. */
static float normal(uint64_t *s)
{
    double u1 = ((double)(next_u64(s) >> 11) + 1.0) * 0x1.0p-53, u2 = (double)(next_u64(s) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* A rows x cols matrix of normal(0, std) values in the given type; NULL on allocation failure. */
static void *random_matrix(cria_dtype type, int64_t rows, int64_t cols, float std, uint64_t *rng)
{
    size_t n = (size_t)rows * (size_t)cols, esz = type == CRIA_DTYPE_F32 ? 4 : 2;
    void *buf = malloc(n * esz);
    if (!buf)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        float v = normal(rng) * std;
        if (type == CRIA_DTYPE_F32)
            ((float *)buf)[i] = v;
        else if (type == CRIA_DTYPE_F16)
            ((uint16_t *)buf)[i] = cria_f32_to_fp16(v);
        else
            ((uint16_t *)buf)[i] = cria_f32_to_bf16(v);
    }
    return buf;
}

typedef struct synth_state {
    cria_gguf_writer *w;
    void **bufs;
    size_t n_bufs;
    bool ok;
} synth_state;

/* Adds a tensor whose data the state keeps until the file is written. */
static void add(synth_state *s, const char *name, cria_dtype type, int64_t cols, int64_t rows, void *data)
{
    void **grown = data ? realloc(s->bufs, (s->n_bufs + 1) * sizeof *grown) : NULL;
    if (!grown) {
        free(data);
        s->ok = false;
        return;
    }
    s->bufs = grown;
    s->bufs[s->n_bufs++] = data;
    const uint64_t ne[2] = {(uint64_t)cols, (uint64_t)rows};
    if (!cria_gguf_writer_add_tensor(s->w, name, type, rows > 1 ? 2 : 1, ne, data))
        s->ok = false;
}

static float *ones(int64_t n)
{
    float *p = malloc((size_t)n * sizeof *p);
    for (int64_t i = 0; p && i < n; i++)
        p[i] = 1.0f;
    return p;
}

static cria_status write_vocab(cria_gguf_writer *w, const char *path, int32_t *n_vocab, cria_error *err)
{
    cria_vocab *v = NULL;
    cria_gguf *g = NULL;
    cria_status st;
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot open vocabulary file", path);
    size_t got = fread(magic, 1, 4, f);
    fclose(f);
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
        st = cria_gguf_open(path, &g, err);
        if (st == CRIA_OK)
            st = cria_vocab_load_gguf(g, &v, err);
    } else {
        st = cria_vocab_load_llama2c(path, 0, &v, err);
    }
    cria_gguf_close(g);
    if (st != CRIA_OK)
        return st;
    const int32_t n = cria_vocab_n_tokens(v);
    const char **pieces = malloc((size_t)n * sizeof *pieces);
    float *scores = malloc((size_t)n * sizeof *scores);
    int32_t *types = malloc((size_t)n * sizeof *types);
    bool ok = pieces && scores && types;
    for (int32_t i = 0; ok && i < n; i++) {
        pieces[i] = cria_vocab_piece_raw(v, i);
        scores[i] = cria_vocab_score(v, i);
        types[i] = (int32_t)cria_vocab_token_type(v, i);
    }
    ok = ok && cria_gguf_writer_set_str(w, "tokenizer.ggml.model", "llama") &&
         cria_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", pieces, (uint64_t)n) &&
         cria_gguf_writer_set_arr(w, "tokenizer.ggml.scores", CRIA_GGUF_FLOAT32, scores, (uint64_t)n) &&
         cria_gguf_writer_set_arr(w, "tokenizer.ggml.token_type", CRIA_GGUF_INT32, types, (uint64_t)n) &&
         cria_gguf_writer_set_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)cria_vocab_bos(v)) &&
         cria_gguf_writer_set_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)cria_vocab_eos(v)) &&
         cria_gguf_writer_set_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)cria_vocab_unk(v));
    free(pieces);
    free(scores);
    free(types);
    cria_vocab_free(v);
    *n_vocab = n;
    return ok ? CRIA_OK : cria_err_set(err, CRIA_ERR_NOMEM, "out of memory copying the vocabulary");
}

cria_status cria_synth_write(const cria_synth_params *p, const char *path, cria_error *err)
{
    const cria_synth_shape *sh = &p->shape;
    if (p->type != CRIA_DTYPE_F32 && p->type != CRIA_DTYPE_F16 && p->type != CRIA_DTYPE_BF16)
        return cria_err_set(err, CRIA_ERR_UNSUPPORTED, "synth writes f32, f16 or bf16 weights, not %s",
                            cria_dtype_name(p->type));
    if (sh->n_embd <= 0 || sh->n_ff <= 0 || sh->n_layer <= 0 || sh->n_head <= 0 || sh->n_head_kv <= 0 ||
        sh->n_ctx <= 0 || sh->n_embd % sh->n_head || sh->n_head % sh->n_head_kv)
        return cria_err_set(err, CRIA_ERR_ARG, "inconsistent model dimensions");
    synth_state s = {.w = cria_gguf_writer_init(0), .ok = true};
    if (!s.w)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory");
    int32_t n_vocab = 0;
    cria_status st = write_vocab(s.w, p->vocab_path, &n_vocab, err);
    if (st != CRIA_OK) {
        cria_gguf_writer_free(s.w);
        return st;
    }
    const int64_t d = sh->n_embd, hd = d / sh->n_head, kv = hd * sh->n_head_kv, ff = sh->n_ff;
    cria_gguf_writer *w = s.w;
    s.ok = cria_gguf_writer_set_str(w, "general.architecture", "llama") &&
           cria_gguf_writer_set_str(w, "general.name", sh->name ? sh->name : "synthetic") &&
           cria_gguf_writer_set_u32(w, "llama.context_length", (uint32_t)sh->n_ctx) &&
           cria_gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)d) &&
           cria_gguf_writer_set_u32(w, "llama.block_count", (uint32_t)sh->n_layer) &&
           cria_gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)ff) &&
           cria_gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)hd) &&
           cria_gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)sh->n_head) &&
           cria_gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)sh->n_head_kv) &&
           cria_gguf_writer_set_f32(w, "llama.rope.freq_base", 10000.0f) &&
           cria_gguf_writer_set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    uint64_t rng = p->seed;
    const cria_dtype t = p->type;
    add(&s, "token_embd.weight", t, d, n_vocab, random_matrix(t, n_vocab, d, 1.0f, &rng));
    add(&s, "output_norm.weight", CRIA_DTYPE_F32, d, 1, ones(d));
    if (!p->tied_output)
        add(&s, "output.weight", t, d, n_vocab, random_matrix(t, n_vocab, d, 0.02f, &rng));
    char name[64];
    for (int32_t l = 0; l < sh->n_layer && s.ok; l++) {
        const struct {
            const char *suffix;
            int64_t cols, rows;
        } mats[] = {{"attn_q", d, d},  {"attn_k", d, kv},  {"attn_v", d, kv},    {"attn_output", d, d},
                    {"ffn_gate", d, ff}, {"ffn_up", d, ff}, {"ffn_down", ff, d}};
        snprintf(name, sizeof name, "blk.%d.attn_norm.weight", (int)l);
        add(&s, name, CRIA_DTYPE_F32, d, 1, ones(d));
        snprintf(name, sizeof name, "blk.%d.ffn_norm.weight", (int)l);
        add(&s, name, CRIA_DTYPE_F32, d, 1, ones(d));
        for (size_t i = 0; i < sizeof mats / sizeof mats[0]; i++) {
            snprintf(name, sizeof name, "blk.%d.%s.weight", (int)l, mats[i].suffix);
            add(&s, name, t, mats[i].cols, mats[i].rows, random_matrix(t, mats[i].rows, mats[i].cols, 0.02f, &rng));
        }
    }
    st = s.ok ? cria_gguf_writer_write(w, path, err) : cria_err_set(err, CRIA_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < s.n_bufs; i++)
        free(s.bufs[i]);
    free(s.bufs);
    cria_gguf_writer_free(w);
    return st;
}
