#include "model/synth.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "gguf/gguf.h"
#include "tokenizer/vocab.h"

/* name, n_embd, n_ff, n_layer, n_head, n_head_kv, n_ctx, rope base, rms eps, tied classifier */
static const cria_synth_shape shapes[] = {
    {"stories260K", 64, 172, 5, 8, 4, 512, 0, 0, false},
    {"stories15M", 288, 768, 6, 6, 6, 256, 0, 0, false},
    {"stories42M", 512, 1376, 8, 8, 8, 1024, 0, 0, false},
    {"stories110M", 768, 2048, 12, 12, 12, 1024, 0, 0, false},
    {"tinyllama-1.1B", 2048, 5632, 22, 32, 4, 2048, 0, 0, false},
    {"llama2-7B", 4096, 11008, 32, 32, 32, 4096, 0, 0, false},
    {"llama3-8B", 4096, 14336, 32, 32, 8, 8192, 500000.0f, 1e-5f, false},
    {"qwen2.5-0.5B", 896, 4864, 24, 14, 2, 32768, 1000000.0f, 1e-6f, true},
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

/*
 * Standard normals by Marsaglia and Tsang's ziggurat (128 layers): nearly
 * every draw is one table compare and one multiply, about four times
 * faster than Box-Muller, which made the generator most of a 7B synth.
 * Layer and sign/magnitude come from separate bits of one 64-bit draw.
 */
enum { ZIG_LAYERS = 128 };
#define ZIG_R 3.442619855899        /* start of the tail */
#define ZIG_AREA 9.91256303526217e-3 /* area of each layer */

typedef struct ziggurat {
    uint32_t k[ZIG_LAYERS]; /* |hz| below k[i]: inside layer i's rectangle */
    float w[ZIG_LAYERS];    /* hz * w[i] is the value */
    float f[ZIG_LAYERS];    /* exp(-x^2/2) at layer i's edge */
} ziggurat;

static void ziggurat_init(ziggurat *z)
{
    const double m = 2147483648.0;
    double d = ZIG_R, t = d;
    const double q = ZIG_AREA / exp(-0.5 * d * d);
    z->k[0] = (uint32_t)(d / q * m);
    z->k[1] = 0;
    z->w[0] = (float)(q / m);
    z->w[ZIG_LAYERS - 1] = (float)(d / m);
    z->f[0] = 1.0f;
    z->f[ZIG_LAYERS - 1] = (float)exp(-0.5 * d * d);
    for (int i = ZIG_LAYERS - 2; i >= 1; i--) {
        d = sqrt(-2.0 * log(ZIG_AREA / d + exp(-0.5 * d * d)));
        z->k[i + 1] = (uint32_t)(d / t * m);
        t = d;
        z->f[i] = (float)exp(-0.5 * d * d);
        z->w[i] = (float)(d / m);
    }
}

/* Uniform in (0, 1], 24 bits. */
static float uni(uint64_t *s)
{
    return ((float)(next_u64(s) >> 40) + 1.0f) * 0x1.0p-24f;
}

static float zig_normal(const ziggurat *z, uint64_t *s)
{
    for (;;) {
        const uint64_t u = next_u64(s);
        const int i = (int)(u & (ZIG_LAYERS - 1));
        const int32_t hz = (int32_t)(uint32_t)(u >> 32);
        const uint32_t ahz = hz < 0 ? (uint32_t)0 - (uint32_t)hz : (uint32_t)hz;
        const float x = (float)hz * z->w[i];
        if (ahz < z->k[i])
            return x;
        if (i == 0) { /* the tail beyond ZIG_R, by Marsaglia's exponential method */
            float tx, ty;
            do {
                tx = -logf(uni(s)) * (float)(1.0 / ZIG_R);
                ty = -logf(uni(s));
            } while (ty + ty < tx * tx);
            return hz > 0 ? (float)ZIG_R + tx : -(float)ZIG_R - tx;
        }
        if (z->f[i] + uni(s) * (z->f[i - 1] - z->f[i]) < expf(-0.5f * x * x))
            return x;
    }
}

/* What one generated tensor holds: normal(0, std) values, or ones when std is 0. */
typedef struct gen_tensor {
    uint64_t seed; /* of the tensor; each row's stream starts from it and the row number */
    float std;
    int64_t n_per_row;
    const ziggurat *zig;
} gen_tensor;

/* Row r's values depend only on the tensor's seed and r, so any split over threads gives the same file. */
static void gen_rows(const void *ctx, int64_t row0, int64_t nrows, float *dst)
{
    const gen_tensor *g = ctx;
    const int64_t n = g->n_per_row;
    for (int64_t r = 0; r < nrows; r++) {
        float *y = dst + r * n;
        if (g->std == 0.0f) {
            for (int64_t i = 0; i < n; i++)
                y[i] = 1.0f;
            continue;
        }
        uint64_t s = g->seed ^ ((uint64_t)(row0 + r) * 0xd1b54a32d192ed03ull);
        for (int64_t i = 0; i < n; i++)
            y[i] = zig_normal(g->zig, &s) * g->std;
    }
}

/* The tensor list being built: each tensor's type by the mix, its rows generated from its own seed. */
typedef struct builder {
    cria_qtensor *ts;
    gen_tensor *gens;
    size_t n;
    uint64_t master; /* the tensors' seeds, drawn in order */
    const cria_quant_mix *mix;
    const cria_quant_model *qm;
    const ziggurat *zig;
} builder;

/* Adds a rows x cols tensor of normal(0, std) values, or of ones (a 1-D norm) when std is 0. */
static void add(builder *b, int64_t cols, int64_t rows, float std, const char *fmt, ...) CRIA_PRINTF(5, 6);
static void add(builder *b, int64_t cols, int64_t rows, float std, const char *fmt, ...)
{
    cria_qtensor *t = &b->ts[b->n];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->n_dims = rows > 1 ? 2 : 1;
    t->ne[0] = (uint64_t)cols;
    for (int i = 1; i < CRIA_GGUF_MAX_DIMS; i++)
        t->ne[i] = i == 1 ? (uint64_t)rows : 1;
    t->type = cria_quant_choose_type(b->mix, b->qm, t->name, t->n_dims, t->ne, CRIA_DTYPE_F32, NULL);
    b->gens[b->n] = (gen_tensor){next_u64(&b->master), std, cols, b->zig};
    t->rows = gen_rows;
    t->rows_ctx = &b->gens[b->n];
    b->n++;
}

/* Copies every tokenizer.* key of a GGUF, so SPM and BPE vocabularies (merges, pre-tokenizer) both survive. */
static cria_status copy_gguf_vocab(cria_gguf_writer *w, const cria_gguf *g, const char *path, cria_error *err)
{
    for (uint64_t i = 0; i < cria_gguf_n_kv(g); i++) {
        const cria_gguf_kv *kv = cria_gguf_kv_at(g, i);
        if (kv->key.len < 10 || memcmp(kv->key.ptr, "tokenizer.", 10) != 0)
            continue;
        if (!cria_gguf_writer_copy_kv(w, g, kv))
            return cria_err_set(err, CRIA_ERR_NOMEM, "%s: cannot copy the vocabulary (out of memory)", path);
    }
    return CRIA_OK;
}

/* A llama2.c tokenizer.bin written as an SPM vocabulary. */
static cria_status copy_llama2c_vocab(cria_gguf_writer *w, const cria_vocab *v, cria_error *err)
{
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
    return ok ? CRIA_OK : cria_err_set(err, CRIA_ERR_NOMEM, "out of memory copying the vocabulary");
}

/* Writes the vocabulary of path (checked by loading it) into w; *n_vocab gets its size. */
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
        if (st == CRIA_OK)
            st = copy_gguf_vocab(w, g, path, err);
    } else {
        st = cria_vocab_load_llama2c(path, 0, &v, err);
        if (st == CRIA_OK)
            st = copy_llama2c_vocab(w, v, err);
    }
    if (st == CRIA_OK)
        *n_vocab = cria_vocab_n_tokens(v);
    cria_vocab_free(v);
    cria_gguf_close(g);
    return st;
}

/* The architecture's own key, "<arch>.<suffix>". */
static bool set_u32_arch(cria_gguf_writer *w, const char *arch, const char *suffix, uint32_t v)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return cria_gguf_writer_set_u32(w, key, v);
}

static bool set_f32_arch(cria_gguf_writer *w, const char *arch, const char *suffix, float v)
{
    char key[96];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return cria_gguf_writer_set_f32(w, key, v);
}

cria_status cria_synth_write(const cria_synth_params *p, const char *path, cria_error *err)
{
    const cria_synth_shape *sh = &p->shape;
    const cria_quant_mix *mix = p->mix ? p->mix : cria_quant_mix_find("f32");
    if (sh->n_embd <= 0 || sh->n_ff <= 0 || sh->n_layer <= 0 || sh->n_head <= 0 || sh->n_head_kv <= 0 ||
        sh->n_ctx <= 0 || sh->n_embd % sh->n_head || sh->n_head % sh->n_head_kv || (sh->n_embd / sh->n_head) % 2)
        return cria_err_set(err, CRIA_ERR_ARG,
                            "inconsistent model dimensions (n_embd must split into an even head size, n_head into "
                            "groups of n_head_kv)");
    const char *a = p->arch ? p->arch : "llama";
    const bool bitnet = strcmp(a, "bitnet") == 0;
    if (!bitnet && strcmp(a, "llama") != 0)
        return cria_err_set(err, CRIA_ERR_ARG, "synth writes the llama and bitnet architectures, not '%s'", a);
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    if (!w)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory");
    const bool tied = p->tied_output || sh->tied || bitnet; /* bitnet's classifier is always the embedding */
    const int64_t d = sh->n_embd, hd = d / sh->n_head, kv = hd * sh->n_head_kv, ff = sh->n_ff;
    bool ok = cria_gguf_writer_set_str(w, "general.architecture", a) &&
              cria_gguf_writer_set_str(w, "general.name", sh->name ? sh->name : "synthetic") &&
              cria_gguf_writer_set_u32(w, "general.file_type", (uint32_t)mix->ftype) &&
              cria_gguf_writer_set_u32(w, "general.quantization_version", 2) &&
              set_u32_arch(w, a, "context_length", (uint32_t)sh->n_ctx) &&
              set_u32_arch(w, a, "embedding_length", (uint32_t)d) &&
              set_u32_arch(w, a, "block_count", (uint32_t)sh->n_layer) &&
              set_u32_arch(w, a, "feed_forward_length", (uint32_t)ff) &&
              set_u32_arch(w, a, "rope.dimension_count", (uint32_t)hd) &&
              set_u32_arch(w, a, "attention.head_count", (uint32_t)sh->n_head) &&
              set_u32_arch(w, a, "attention.head_count_kv", (uint32_t)sh->n_head_kv) &&
              set_f32_arch(w, a, "rope.freq_base", sh->rope_base > 0 ? sh->rope_base : 10000.0f) &&
              set_f32_arch(w, a, "attention.layer_norm_rms_epsilon",
                                       sh->rms_eps > 0 ? sh->rms_eps : 1e-5f);
    int32_t n_vocab = 0;
    cria_status st = ok ? write_vocab(w, p->vocab_path, &n_vocab, err)
                        : cria_err_set(err, CRIA_ERR_NOMEM, "out of memory");
    if (st != CRIA_OK) {
        cria_gguf_writer_free(w);
        return st;
    }
    ok = set_u32_arch(w, a, "vocab_size", (uint32_t)n_vocab);

    const size_t n_max = 3 + 11 * (size_t)sh->n_layer;
    cria_qtensor *ts = calloc(n_max, sizeof *ts);
    gen_tensor *gens = calloc(n_max, sizeof *gens);
    if (!ok || !ts || !gens) {
        free(ts);
        free(gens);
        cria_gguf_writer_free(w);
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory");
    }
    const cria_quant_model qm = {.n_layer = sh->n_layer,
                                 .n_attn_v = sh->n_layer,
                                 .n_gqa = sh->n_head / sh->n_head_kv,
                                 .has_output = !tied,
                                 .pure = p->pure};
    ziggurat zig;
    ziggurat_init(&zig);
    builder b = {ts, gens, 0, p->seed, mix, &qm, &zig};
    add(&b, d, n_vocab, 1.0f, "token_embd.weight");
    add(&b, d, 1, 0.0f, "output_norm.weight");
    if (!tied)
        add(&b, d, n_vocab, 0.02f, "output.weight");
    for (int32_t l = 0; l < sh->n_layer; l++) {
        add(&b, d, 1, 0.0f, "blk.%d.attn_norm.weight", (int)l);
        add(&b, d, 1, 0.0f, "blk.%d.ffn_norm.weight", (int)l);
        add(&b, d, d, 0.02f, "blk.%d.attn_q.weight", (int)l);
        add(&b, d, kv, 0.02f, "blk.%d.attn_k.weight", (int)l);
        add(&b, d, kv, 0.02f, "blk.%d.attn_v.weight", (int)l);
        add(&b, d, d, 0.02f, "blk.%d.attn_output.weight", (int)l);
        add(&b, d, ff, 0.02f, "blk.%d.ffn_gate.weight", (int)l);
        add(&b, d, ff, 0.02f, "blk.%d.ffn_up.weight", (int)l);
        add(&b, ff, d, 0.02f, "blk.%d.ffn_down.weight", (int)l);
        if (bitnet) {
            add(&b, d, 1, 0.0f, "blk.%d.attn_sub_norm.weight", (int)l);
            add(&b, ff, 1, 0.0f, "blk.%d.ffn_sub_norm.weight", (int)l);
        }
    }
    st = cria_quant_write(w, ts, b.n, path, p->n_threads, p->progress, p->progress_ctx, err);
    free(ts);
    free(gens);
    cria_gguf_writer_free(w);
    return st;
}
