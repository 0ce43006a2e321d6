/*
 * llama2.c checkpoints, legacy format: seven little-endian int32s
 *   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
 * (a negative vocab_size means the classifier is stored separately), then
 * float32 arrays in this order, each matrix row-major with output rows:
 *   token_embedding [vocab][dim]
 *   rms_att [layers][dim]
 *   wq [layers][dim][dim]      wk [layers][kv_dim][dim]   wv [layers][kv_dim][dim]
 *   wo [layers][dim][dim]
 *   rms_ffn [layers][dim]
 *   w1 [layers][hidden][dim]   w2 [layers][dim][hidden]   w3 [layers][hidden][dim]
 *   rms_final [dim]
 *   freq_cis_real, freq_cis_imag [seq_len][head_size/2]   (unused: RoPE is computed)
 *   wcls [vocab][dim]          (only when unshared)
 * with kv_dim = dim * n_kv_heads / n_heads. w1 is the gate, w3 the up projection.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/mmap.h"
#include "model/model.h"

enum { HEADER_INTS = 7 };

/* Points *w at count rows x cols floats at *off, advancing *off. */
static void take_matrix(const uint8_t *base, uint64_t *off, int64_t rows, int64_t cols, cria_weight *w)
{
    w->data = base + *off;
    w->type = CRIA_DTYPE_F32;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = (size_t)cols * sizeof(float);
    *off += (uint64_t)rows * (uint64_t)cols * sizeof(float);
}

static const float *take_vector(const uint8_t *base, uint64_t *off, int64_t n)
{
    const float *p = (const float *)(const void *)(base + *off);
    *off += (uint64_t)n * sizeof(float);
    return p;
}

static char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return strdup(slash ? slash + 1 : path);
}

cria_status cria_model_load_llama2c(cria_model *m, const char *path, const char *vocab_path, cria_error *err)
{
    cria_status st = cria_map_file(path, &m->map, &m->map_size, err);
    if (st != CRIA_OK)
        return st;
    const uint8_t *base = m->map;
    uint64_t size = m->map_size;
    if (size >= 4 && memcmp(base, "ak42", 4) == 0)
        return cria_err_set(err, CRIA_ERR_UNSUPPORTED,
                            "%s: a llama2.c checkpoint in a versioned export format; only the legacy format is read "
                            "(or convert the model to GGUF)",
                            path);
    if (size < HEADER_INTS * sizeof(int32_t))
        return cria_err_set(err, CRIA_ERR_FORMAT,
                            "%s: at byte 0: file is %llu bytes, too short for a llama2.c header (28 bytes) "
                            "and not a GGUF file",
                            path, (unsigned long long)size);
    int32_t h[HEADER_INTS];
    memcpy(h, base, sizeof h);
    bool shared = h[5] > 0;
    cria_hparams *hp = &m->hp;
    hp->n_embd = h[0];
    hp->n_ff = h[1];
    hp->n_layer = h[2];
    hp->n_head = h[3];
    hp->n_head_kv = h[4];
    hp->n_vocab = h[5] == INT32_MIN ? 0 : (shared ? h[5] : -h[5]);
    hp->n_ctx_train = h[6];
    hp->rope_freq_base = 10000.0f;
    hp->rms_eps = 1e-5f;
    hp->n_rot = 0;
    /* Sanity bounds before any arithmetic: keep every product far from overflow. */
    for (int i = 0; i < HEADER_INTS; i++) {
        int64_t v = i == 5 ? hp->n_vocab : h[i];
        if (v <= 0 || v > (1 << 24))
            return cria_err_set(err, CRIA_ERR_FORMAT,
                                "%s: at byte %d: header value %d is out of range; not a llama2.c checkpoint "
                                "(nor a GGUF file)",
                                path, i * 4, h[i]);
    }
    st = cria_hparams_validate(hp, path, err);
    if (st != CRIA_OK)
        return st;

    const int64_t dim = hp->n_embd, hidden = hp->n_ff, L = hp->n_layer, vocab = hp->n_vocab;
    const int64_t kv_dim = dim * hp->n_head_kv / hp->n_head;
    const int64_t head_size = dim / hp->n_head;
    /* Each header value is below 2^24, so every term fits comfortably in 128 bits. */
    __uint128_t floats = (__uint128_t)vocab * dim + (__uint128_t)L * dim * 2 /* rms */ +
                         (__uint128_t)L * dim * dim * 2 /* wq wo */ + (__uint128_t)L * kv_dim * dim * 2 /* wk wv */ +
                         (__uint128_t)L * hidden * dim * 3 + (__uint128_t)dim +
                         (__uint128_t)hp->n_ctx_train * (uint64_t)head_size /* freq_cis real + imag */ +
                         (shared ? 0 : (__uint128_t)vocab * dim);
    __uint128_t need = (__uint128_t)HEADER_INTS * 4 + floats * 4;
    if (need != size)
        return cria_err_set(err, CRIA_ERR_FORMAT,
                            "%s: the header (dim %d, hidden %d, layers %d, heads %d/%d, vocab %d, seq_len %d) "
                            "needs %llu bytes but the file has %llu%s",
                            path, h[0], h[1], h[2], h[3], h[4], h[5], h[6], (unsigned long long)need,
                            (unsigned long long)size, need > size ? " (truncated?)" : "");

    m->layers = calloc((size_t)L, sizeof *m->layers);
    m->name = base_name(path);
    m->arch = strdup("llama");
    m->family = cria_arch_find("llama");
    if (!m->layers || !m->name || !m->arch)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory", path);

    uint64_t off = HEADER_INTS * sizeof(int32_t);
    take_matrix(base, &off, vocab, dim, &m->tok_embd);
    for (int64_t l = 0; l < L; l++)
        m->layers[l].attn_norm = take_vector(base, &off, dim);
    for (int64_t l = 0; l < L; l++)
        take_matrix(base, &off, dim, dim, &m->layers[l].wq);
    for (int64_t l = 0; l < L; l++)
        take_matrix(base, &off, kv_dim, dim, &m->layers[l].wk);
    for (int64_t l = 0; l < L; l++)
        take_matrix(base, &off, kv_dim, dim, &m->layers[l].wv);
    for (int64_t l = 0; l < L; l++)
        take_matrix(base, &off, dim, dim, &m->layers[l].wo);
    for (int64_t l = 0; l < L; l++)
        m->layers[l].ffn_norm = take_vector(base, &off, dim);
    for (int64_t l = 0; l < L; l++)
        take_matrix(base, &off, hidden, dim, &m->layers[l].w_gate);
    for (int64_t l = 0; l < L; l++)
        take_matrix(base, &off, dim, hidden, &m->layers[l].w_down);
    for (int64_t l = 0; l < L; l++)
        take_matrix(base, &off, hidden, dim, &m->layers[l].w_up);
    m->output_norm = take_vector(base, &off, dim);
    off += (uint64_t)hp->n_ctx_train * (uint64_t)head_size * sizeof(float);
    if (shared) {
        m->output = m->tok_embd;
        m->tied_output = true;
    } else {
        take_matrix(base, &off, vocab, dim, &m->output);
    }

    if (!vocab_path)
        return cria_err_set(err, CRIA_ERR_ARG,
                            "%s: a llama2.c checkpoint carries no tokenizer; pass its tokenizer.bin with --vocab",
                            path);
    return cria_vocab_load_llama2c(vocab_path, (int32_t)vocab, &m->vocab, err);
}
