/*
 * Top-k: keeps the k most likely tokens, sorted (k <= 0: off; k larger than
 * the candidates: all of them, sorted). The reference sorts everything; the
 * fast path keeps a k-entry heap, and on the raw vocabulary rejects sixteen
 * logits per compare against the heap's worst entry, so the default chain
 * never builds the n_vocab candidate array.
 */
#include "sample/sampler_impl.h"

typedef struct top_k_sampler {
    cria_sampler base;
    int32_t k;
    cria_sort_buf sort;
} top_k_sampler;

static void top_k_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    const int32_t k = ((top_k_sampler *)s)->k;
    if (k <= 0)
        return;
    cria_cand_sort_ref(cur);
    if ((size_t)k < cur->size)
        cur->size = (size_t)k;
}

static void top_k_apply(cria_sampler *s, cria_token_data_array *cur)
{
    top_k_sampler *t = (top_k_sampler *)s;
    const int32_t k = t->k;
    if (k <= 0)
        return;
    const size_t kk = (size_t)k < cur->size ? (size_t)k : cur->size;
    cria_cand_top_k(cur, kk, &t->sort);
    cur->size = kk;
    cur->sorted = 1;
}

static cria_raw_result top_k_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    const int32_t k = ((top_k_sampler *)s)->k;
    if (k <= 0)
        return CRIA_RAW_KEPT;
    if (k > raw->n / 8)
        return CRIA_RAW_NONE; /* a large k: the heap loses to sorting the built array */
    cur->size = cria_raw_top_k(raw->logits, raw->n, (size_t)k, cur->data);
    cur->sorted = 1;
    return CRIA_RAW_BUILT;
}

static void top_k_free(cria_sampler *s)
{
    cria_sort_buf_free(&((top_k_sampler *)s)->sort);
}

static const cria_sampler_iface top_k_iface = {
    .name = "top-k",
    .apply = top_k_apply,
    .apply_ref = top_k_apply_ref,
    .apply_raw = top_k_apply_raw,
    .free = top_k_free,
};

cria_sampler *cria_sampler_init_top_k(int32_t k)
{
    top_k_sampler *t = (top_k_sampler *)cria_sampler_new(&top_k_iface, sizeof *t);
    if (t)
        t->k = k;
    return t ? &t->base : NULL;
}
