/* Model lifetime and the format-independent parts of loading. */
#include "model/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/mmap.h"
#include "model/pack.h"

cria_model_params cria_model_default_params(void)
{
    cria_model_params p = {.vocab_path = NULL};
    return p;
}

/* True when the file starts with the GGUF magic. Errors opening are left for the real loader to report. */
static bool looks_like_gguf(const char *path)
{
    unsigned char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

cria_status cria_model_load(const char *path, const cria_model_params *params, cria_model **out, cria_error *err)
{
    *out = NULL;
    cria_model_params defaults = cria_model_default_params();
    if (!params)
        params = &defaults;
    if (!path || !*path)
        return cria_err_set(err, CRIA_ERR_ARG, "no model path given");
    cria_model *m = calloc(1, sizeof *m);
    if (!m)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory loading %s", path);
    cria_status st;
    if (looks_like_gguf(path)) {
        cria_gguf *g = NULL;
        st = cria_gguf_open(path, &g, err);
        if (st == CRIA_OK)
            st = cria_model_load_gguf(m, g, err);
    } else {
        st = cria_model_load_llama2c(m, path, params->vocab_path, err);
    }
    if (st == CRIA_OK && !params->no_repack)
        cria_model_pack(m, cria_isa_active()); /* an optimisation: without the memory, the file's layout */
    if (st != CRIA_OK) {
        cria_model_free(m);
        return st;
    }
    *out = m;
    return CRIA_OK;
}

void cria_model_free(cria_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_owned; i++)
        free(m->owned[i]);
    free(m->owned);
    cria_model_unpack(m);
    free(m->layers);
    cria_vocab_free(m->vocab);
    cria_gguf_close(m->gguf);
    if (m->map)
        cria_unmap_file(m->map, m->map_size);
    free(m->name);
    free(m->arch);
    free(m);
}

bool cria_model_own(cria_model *m, float *buf)
{
    float **grown = realloc(m->owned, (m->n_owned + 1) * sizeof *grown);
    if (!grown) {
        free(buf);
        return false;
    }
    m->owned = grown;
    m->owned[m->n_owned++] = buf;
    return true;
}

const cria_vocab *cria_model_vocab(const cria_model *model)
{
    return model->vocab;
}

cria_status cria_hparams_validate(cria_hparams *hp, const char *file, cria_error *err)
{
    struct {
        const char *name;
        int32_t v;
    } sizes[] = {
        {"vocabulary size", hp->n_vocab}, {"embedding length", hp->n_embd}, {"feed-forward length", hp->n_ff},
        {"block count", hp->n_layer},     {"head count", hp->n_head},       {"kv head count", hp->n_head_kv},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        if (sizes[i].v <= 0)
            return cria_err_set(err, CRIA_ERR_FORMAT, "%s: %s is %d, must be positive", file, sizes[i].name,
                                sizes[i].v);
    }
    if (hp->head_dim <= 0 && hp->n_embd % hp->n_head != 0)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: embedding length %d is not a multiple of the head count %d",
                            file, hp->n_embd, hp->n_head);
    if (hp->n_head % hp->n_head_kv != 0)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: head count %d is not a multiple of the kv head count %d", file,
                            hp->n_head, hp->n_head_kv);
    if (hp->head_dim <= 0)
        hp->head_dim = hp->n_embd / hp->n_head;
    if (hp->head_dim > 1024)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: head size %d is out of range", file, hp->head_dim);
    if (hp->n_rot <= 0)
        hp->n_rot = hp->head_dim;
    if (hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: rope dimension count %d must be even and at most the head size %d",
                            file, hp->n_rot, hp->head_dim);
    if (hp->n_ctx_train <= 0)
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: context length %d must be positive", file, hp->n_ctx_train);
    if (!(hp->rope_freq_base > 0.0f))
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: rope frequency base must be positive", file);
    if (!(hp->rms_eps > 0.0f && hp->rms_eps < 1.0f))
        return cria_err_set(err, CRIA_ERR_FORMAT, "%s: rms epsilon %g is out of range", file, (double)hp->rms_eps);
    return CRIA_OK;
}

void cria_model_get_info(const cria_model *m, cria_model_info *info)
{
    memset(info, 0, sizeof *info);
    info->arch = m->arch;
    info->name = m->name;
    info->n_vocab = m->hp.n_vocab;
    info->n_ctx_train = m->hp.n_ctx_train;
    info->n_embd = m->hp.n_embd;
    info->n_ff = m->hp.n_ff;
    info->n_layer = m->hp.n_layer;
    info->n_head = m->hp.n_head;
    info->n_head_kv = m->hp.n_head_kv;
    info->n_rot = m->hp.n_rot;
    info->rope_freq_base = m->hp.rope_freq_base;
    info->rms_eps = m->hp.rms_eps;
    info->tied_output = m->tied_output;
    const cria_weight *w[8];
    uint64_t params = 0, bytes = 0;
    const int64_t d = m->hp.n_embd;
    for (int32_t l = 0; l < m->hp.n_layer; l++) {
        const cria_layer *L = &m->layers[l];
        w[0] = &L->wq, w[1] = &L->wk, w[2] = &L->wv, w[3] = &L->wo;
        w[4] = &L->w_gate, w[5] = &L->w_up, w[6] = &L->w_down;
        for (int i = 0; i < 7; i++) {
            params += (uint64_t)(w[i]->rows * w[i]->cols);
            bytes += (uint64_t)w[i]->rows * w[i]->row_bytes;
        }
        params += 2 * (uint64_t)d;
        bytes += 2 * (uint64_t)d * sizeof(float);
    }
    params += (uint64_t)(m->tok_embd.rows * m->tok_embd.cols) + (uint64_t)d;
    bytes += (uint64_t)m->tok_embd.rows * m->tok_embd.row_bytes + (uint64_t)d * sizeof(float);
    if (!m->tied_output) {
        params += (uint64_t)(m->output.rows * m->output.cols);
        bytes += (uint64_t)m->output.rows * m->output.row_bytes;
    }
    info->n_params = params;
    info->weight_bytes = bytes;
}
