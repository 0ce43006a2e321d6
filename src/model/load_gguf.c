/* Binds a GGUF file's metadata and tensors to the model, for every family in model/arch.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/fp16.h"
#include "model/model.h"
#include "quant/quant.h"

/* Reads an integer key into *out; required keys that are missing are an error. */
static cria_status get_int(const cria_gguf *g, const char *key, bool required, int32_t *out, cria_error *err)
{
    uint32_t v;
    err->status = CRIA_OK;
    if (cria_gguf_get_u32(g, key, &v, err)) {
        if (v > INT32_MAX)
            return cria_err_set(err, CRIA_ERR_FORMAT, "%s: metadata %s = %u is out of range", cria_gguf_name(g), key,
                                v);
        *out = (int32_t)v;
        return CRIA_OK;
    }
    if (err->status != CRIA_OK)
        return err->status;
    if (required)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: missing required metadata key '%s'", cria_gguf_name(g), key);
    return CRIA_OK;
}

static cria_status get_float(const cria_gguf *g, const char *key, bool required, float *out, cria_error *err)
{
    err->status = CRIA_OK;
    if (cria_gguf_get_f32(g, key, out, err))
        return CRIA_OK;
    if (err->status != CRIA_OK)
        return err->status;
    if (required)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: missing required metadata key '%s'", cria_gguf_name(g), key);
    return CRIA_OK;
}

/*
 * rope.scaling.{type,factor,attn_factor,original_context_length} as llama.cpp
 * reads them: a missing type means linear, a factor of 0 or none means 1, and
 * the old key rope.scale_linear stands in for the factor. Types cria does not
 * compute (longrope, llama3 spelled as a type) are an error naming the type.
 */
static cria_status read_rope_scaling(cria_hparams *hp, const cria_gguf *g, const char *a, cria_error *err)
{
    char key[96];
    snprintf(key, sizeof key, "%s.rope.scaling.type", a);
    cria_gguf_str s;
    err->status = CRIA_OK;
    hp->rope_scaling = CRIA_ROPE_SCALING_LINEAR;
    if (cria_gguf_get_str(g, key, &s, err)) {
        static const struct {
            const char *name;
            cria_rope_scaling type;
        } types[] = {{"none", CRIA_ROPE_SCALING_NONE},
                     {"linear", CRIA_ROPE_SCALING_LINEAR},
                     {"yarn", CRIA_ROPE_SCALING_YARN}};
        size_t i = 0;
        while (i < sizeof types / sizeof types[0] &&
               !(strlen(types[i].name) == s.len && memcmp(types[i].name, s.ptr, s.len) == 0))
            i++;
        if (i == sizeof types / sizeof types[0])
            return cria_err_set(err, CRIA_ERR_UNSUPPORTED,
                                "%s: %s = '%.*s' is not a RoPE scaling cria computes (none, linear, yarn)",
                                cria_gguf_name(g), key, (int)(s.len > 64 ? 64 : s.len), s.ptr);
        hp->rope_scaling = types[i].type;
    } else if (err->status != CRIA_OK) {
        return err->status;
    }
    hp->rope_scale = 0.0f;
    snprintf(key, sizeof key, "%s.rope.scaling.factor", a);
    cria_status st = get_float(g, key, false, &hp->rope_scale, err);
    if (st == CRIA_OK && hp->rope_scale == 0.0f) {
        snprintf(key, sizeof key, "%s.rope.scale_linear", a);
        st = get_float(g, key, false, &hp->rope_scale, err);
    }
    if (st == CRIA_OK && !(hp->rope_scale >= 0.0f && hp->rope_scale < 1e6f))
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: RoPE scaling factor %g is out of range", cria_gguf_name(g),
                            (double)hp->rope_scale);
    hp->rope_attn_factor = 0.0f;
    if (st == CRIA_OK) {
        snprintf(key, sizeof key, "%s.rope.scaling.attn_factor", a);
        st = get_float(g, key, false, &hp->rope_attn_factor, err);
    }
    if (st == CRIA_OK && !(hp->rope_attn_factor >= 0.0f && hp->rope_attn_factor < 1e6f))
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: RoPE attention factor %g is out of range", cria_gguf_name(g),
                            (double)hp->rope_attn_factor);
    hp->n_ctx_orig = 0;
    if (st == CRIA_OK) {
        snprintf(key, sizeof key, "%s.rope.scaling.original_context_length", a);
        st = get_int(g, key, false, &hp->n_ctx_orig, err);
    }
    return st;
}

static cria_status read_hparams(cria_model *m, const cria_gguf *g, cria_error *err)
{
    cria_hparams *hp = &m->hp;
    char key[96];
    const char *a = m->arch;
    struct {
        const char *suffix;
        int32_t *dst;
        bool required;
    } ints[] = {
        {"context_length", &hp->n_ctx_train, true},
        {"embedding_length", &hp->n_embd, true},
        {"block_count", &hp->n_layer, true},
        {"feed_forward_length", &hp->n_ff, true},
        {"attention.head_count", &hp->n_head, true},
        {"attention.head_count_kv", &hp->n_head_kv, false},
        {"rope.dimension_count", &hp->n_rot, false},
        {"attention.key_length", &hp->head_dim, false},
    };
    hp->n_head_kv = 0;
    hp->n_rot = 0;
    hp->head_dim = 0;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        snprintf(key, sizeof key, "%s.%s", a, ints[i].suffix);
        cria_status st = get_int(g, key, ints[i].required, ints[i].dst, err);
        if (st != CRIA_OK)
            return st;
    }
    if (hp->n_head_kv == 0)
        hp->n_head_kv = hp->n_head;
    hp->rope_freq_base = 10000.0f;
    snprintf(key, sizeof key, "%s.rope.freq_base", a);
    cria_status st = get_float(g, key, false, &hp->rope_freq_base, err);
    if (st == CRIA_OK) {
        snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", a);
        st = get_float(g, key, true, &hp->rms_eps, err);
    }
    return st == CRIA_OK ? read_rope_scaling(hp, g, a, err) : st;
}

/*
 * Binds tensor `name` as a matrix of `rows` rows of `cols` elements. Missing
 * tensors are an error unless optional (then w->data stays NULL).
 */
static cria_status bind_matrix(const cria_gguf *g, const char *name, int64_t cols, int64_t rows, bool optional,
                               cria_weight *w, cria_error *err)
{
    const cria_gguf_tensor *t = cria_gguf_find_tensor(g, name);
    const char *file = cria_gguf_name(g);
    if (!t) {
        if (optional)
            return CRIA_OK;
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: missing tensor '%s'", file, name);
    }
    bool shape_ok = t->ne[0] == (uint64_t)cols && t->ne[1] == (uint64_t)rows && t->ne[2] == 1 && t->ne[3] == 1;
    if (!shape_ok)
        return cria_err_set(err, CRIA_ERR_FORMAT,
                            "%s: at byte %llu: tensor '%s' has shape [%llu, %llu, %llu, %llu], expected [%lld, %lld]",
                            file, (unsigned long long)t->info_offset, name, (unsigned long long)t->ne[0],
                            (unsigned long long)t->ne[1], (unsigned long long)t->ne[2], (unsigned long long)t->ne[3],
                            (long long)cols, (long long)rows);
    if (!cria_dtype_supported(t->type))
        return cria_err_set(err, CRIA_ERR_UNSUPPORTED, "%s: tensor '%s' has type %s, which cria cannot compute with yet",
                            file, name, cria_dtype_name(t->type));
    uint64_t row_bytes = 0;
    cria_dtype_row_bytes(t->type, (uint64_t)cols, &row_bytes);
    w->data = t->data;
    w->type = t->type;
    w->rows = rows;
    w->cols = cols;
    w->row_bytes = (size_t)row_bytes;
    return CRIA_OK;
}

/* Binds a 1-D float vector of n elements, converting F16/BF16/block types into a buffer the model owns. */
static cria_status bind_vector(cria_model *m, const cria_gguf *g, const char *name, int64_t n, const float **out,
                               cria_error *err)
{
    cria_weight w = {0};
    cria_status st = bind_matrix(g, name, n, 1, false, &w, err);
    if (st != CRIA_OK)
        return st;
    if (w.type == CRIA_DTYPE_F32) {
        *out = w.data;
        return CRIA_OK;
    }
    float *buf = malloc((size_t)n * sizeof *buf);
    if (!buf || !cria_model_own(m, buf))
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory converting '%s'", cria_gguf_name(g), name);
    if (cria_quant_is_quantized(w.type)) {
        cria_quant_traits_for(w.type, CRIA_ISA_SCALAR)->to_float(w.data, buf, n);
        *out = buf;
        return CRIA_OK;
    }
    const uint16_t *src = w.data;
    for (int64_t i = 0; i < n; i++)
        buf[i] = w.type == CRIA_DTYPE_F16 ? cria_fp16_to_f32(src[i]) : cria_bf16_to_f32(src[i]);
    *out = buf;
    return CRIA_OK;
}

/* Binds an optional 1-D vector: *out stays NULL when the file lacks it. */
static cria_status bind_vector_opt(cria_model *m, const cria_gguf *g, const char *name, int64_t n, const float **out,
                                   cria_error *err)
{
    *out = NULL;
    return cria_gguf_find_tensor(g, name) ? bind_vector(m, g, name, n, out, err) : CRIA_OK;
}

static cria_status bind_layer(cria_model *m, const cria_gguf *g, int32_t l, cria_error *err)
{
    const cria_hparams *hp = &m->hp;
    const int64_t d = hp->n_embd, hd = hp->head_dim, q_dim = (int64_t)hp->n_head * hd;
    const int64_t kv_dim = (int64_t)hp->n_head_kv * hd, ff = hp->n_ff;
    cria_layer *L = &m->layers[l];
    const bool sub = m->family->sub_norms;
    const struct {
        const char *name;
        int64_t cols, rows;
        cria_weight *dst;
    } mats[] = {
        {"attn_q", d, q_dim, &L->wq},       {"attn_k", d, kv_dim, &L->wk}, {"attn_v", d, kv_dim, &L->wv},
        {"attn_output", q_dim, d, &L->wo},  {"ffn_gate", d, ff, &L->w_gate}, {"ffn_up", d, ff, &L->w_up},
        {"ffn_down", ff, d, &L->w_down},
    };
    const struct {
        const char *name;
        int64_t n;
        const float **dst;
        bool optional;
    } vecs[] = {
        {"attn_norm.weight", d, &L->attn_norm, false}, {"ffn_norm.weight", d, &L->ffn_norm, false},
        {"attn_q.bias", q_dim, &L->bq, true},          {"attn_k.bias", kv_dim, &L->bk, true},
        {"attn_v.bias", kv_dim, &L->bv, true},         {"attn_q_norm.weight", hd, &L->q_norm, true},
        {"attn_k_norm.weight", hd, &L->k_norm, true},
        {"attn_sub_norm.weight", q_dim, &L->attn_sub_norm, !sub},
        {"ffn_sub_norm.weight", ff, &L->ffn_sub_norm, !sub},
        {"attn_q.scale", 1, &L->wq_scale, true},       {"attn_k.scale", 1, &L->wk_scale, true},
        {"attn_v.scale", 1, &L->wv_scale, true},       {"attn_output.scale", 1, &L->wo_scale, true},
        {"ffn_gate.scale", 1, &L->gate_scale, true},   {"ffn_up.scale", 1, &L->up_scale, true},
        {"ffn_down.scale", 1, &L->down_scale, true},
    };
    char name[96];
    cria_status st = CRIA_OK;
    /* vectors first: a layer that is missing altogether is reported by its first tensor, attn_norm */
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0] && st == CRIA_OK; i++) {
        snprintf(name, sizeof name, "blk.%d.%s", (int)l, vecs[i].name);
        st = vecs[i].optional ? bind_vector_opt(m, g, name, vecs[i].n, vecs[i].dst, err)
                              : bind_vector(m, g, name, vecs[i].n, vecs[i].dst, err);
    }
    for (size_t i = 0; i < sizeof mats / sizeof mats[0] && st == CRIA_OK; i++) {
        snprintf(name, sizeof name, "blk.%d.%s.weight", (int)l, mats[i].name);
        st = bind_matrix(g, name, mats[i].cols, mats[i].rows, false, mats[i].dst, err);
    }
    return st;
}

static char *str_dup_view(cria_gguf_str s)
{
    char *p = malloc(s.len + 1);
    if (p) {
        memcpy(p, s.ptr, s.len);
        p[s.len] = '\0';
    }
    return p;
}

cria_status cria_model_load_gguf(cria_model *m, cria_gguf *g, cria_error *err)
{
    cria_error local;
    if (!err)
        err = &local;
    m->gguf = g;
    const char *file = cria_gguf_name(g);
    cria_gguf_str s;
    err->status = CRIA_OK;
    if (!cria_gguf_get_str(g, "general.architecture", &s, err))
        return err->status != CRIA_OK
                   ? err->status
                   : cria_err_set(err, CRIA_ERR_FORMAT, "%s: missing required metadata key 'general.architecture'",
                                  file);
    m->arch = str_dup_view(s);
    if (!m->arch)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory", file);
    m->family = cria_arch_find(m->arch);
    if (!m->family)
        return cria_err_set(err, CRIA_ERR_UNSUPPORTED, "%s: architecture '%s' is not supported (cria runs: %s)", file,
                            m->arch, cria_arch_names());
    if (cria_gguf_get_str(g, "general.name", &s, NULL)) {
        m->name = str_dup_view(s);
    } else {
        const char *slash = strrchr(file, '/');
        m->name = strdup(slash ? slash + 1 : file);
    }
    if (!m->name)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory", file);

    cria_status st = read_hparams(m, g, err);
    if (st != CRIA_OK)
        return st;
    st = cria_vocab_load_gguf(g, &m->vocab, err);
    if (st != CRIA_OK)
        return st;
    m->hp.n_vocab = cria_vocab_n_tokens(m->vocab);
    st = cria_hparams_validate(&m->hp, file, err);
    if (st != CRIA_OK)
        return st;

    const int64_t d = m->hp.n_embd;
    st = bind_matrix(g, "token_embd.weight", d, m->hp.n_vocab, false, &m->tok_embd, err);
    if (st == CRIA_OK)
        st = bind_vector(m, g, "output_norm.weight", d, &m->output_norm, err);
    if (st == CRIA_OK && !m->family->always_tied)
        st = bind_matrix(g, "output.weight", d, m->hp.n_vocab, true, &m->output, err);
    if (st != CRIA_OK)
        return st;
    if (!m->output.data) {
        m->output = m->tok_embd;
        m->tied_output = true;
    }
    if (m->family->act == CRIA_ACT_GELU) {
        /* 128 KiB kept as a float buffer of the model: its halves are the table */
        float *buf = malloc(CRIA_GELU_TABLE_SIZE * sizeof(uint16_t));
        if (!buf || !cria_model_own(m, buf))
            return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory for the GELU table", file);
        cria_gelu_table_init((uint16_t *)(void *)buf);
        m->gelu_f16 = (const uint16_t *)(const void *)buf;
    }
    st = bind_vector_opt(m, g, "rope_freqs.weight", m->hp.n_rot / 2, &m->rope_freqs, err);
    if (st != CRIA_OK)
        return st;
    for (int32_t i = 0; m->rope_freqs && i < m->hp.n_rot / 2; i++) {
        if (!(m->rope_freqs[i] > 0.0f && m->rope_freqs[i] < 1e30f))
            return cria_err_set(err, CRIA_ERR_FORMAT, "%s: rope_freqs.weight[%d] = %g is not a positive factor", file,
                                (int)i, (double)m->rope_freqs[i]);
    }
    /* Every block has tensors: refuse a block count the file cannot hold before it sizes an allocation. */
    if ((uint64_t)m->hp.n_layer > cria_gguf_n_tensors(g))
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: block count %d is impossible: the file has only %llu tensors",
                            file, m->hp.n_layer, (unsigned long long)cria_gguf_n_tensors(g));
    m->layers = calloc((size_t)m->hp.n_layer, sizeof *m->layers);
    if (!m->layers)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory", file);
    for (int32_t l = 0; l < m->hp.n_layer; l++) {
        st = bind_layer(m, g, l, err);
        if (st != CRIA_OK)
            return st;
    }
    return CRIA_OK;
}
