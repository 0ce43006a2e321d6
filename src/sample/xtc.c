/*
 * XTC, "exclude top choices": with probability `probability` per call, the
 * tokens with p >= threshold are removed except the least likely of them,
 * so the text leaves its most predictable path while staying coherent.
 * threshold > 0.5 disables it (at most one token can exceed 0.5).
 */
#include <string.h>

#include "sample/sampler_impl.h"

typedef struct xtc_sampler {
    cria_sampler base;
    float probability, threshold;
    size_t min_keep;
    uint64_t seed, rng;
    cria_sort_buf sort;
} xtc_sampler;

static void xtc_run(xtc_sampler *x, cria_token_data_array *cur, bool reference)
{
    if (x->probability <= 0.0f || x->threshold > 0.5f || cur->size < 2)
        return;
    if (cria_rng_uniform(&x->rng) > (double)x->probability)
        return;
    if (reference)
        cria_cand_softmax_ref(cur);
    else
        cria_cand_softmax(cur, true, &x->sort);
    size_t last = 0;
    for (size_t i = 0; i < cur->size && cur->data[i].p >= x->threshold; i++)
        last = i;
    if (last > 0 && cur->size - last >= x->min_keep) {
        memmove(cur->data, cur->data + last, (cur->size - last) * sizeof *cur->data);
        cur->size -= last;
    }
}

static void xtc_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    xtc_run((xtc_sampler *)s, cur, true);
}

/* Same, trusting the sorted flag (after top-k the softmax is over k tokens). */
static void xtc_apply(cria_sampler *s, cria_token_data_array *cur)
{
    xtc_run((xtc_sampler *)s, cur, false);
}

static cria_raw_result xtc_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    (void)raw;
    (void)cur;
    const xtc_sampler *x = (const xtc_sampler *)s;
    return x->probability <= 0.0f || x->threshold > 0.5f ? CRIA_RAW_KEPT : CRIA_RAW_NONE;
}

static void xtc_reset(cria_sampler *s)
{
    xtc_sampler *x = (xtc_sampler *)s;
    x->rng = x->seed;
}

static void xtc_free(cria_sampler *s)
{
    cria_sort_buf_free(&((xtc_sampler *)s)->sort);
}

static const cria_sampler_iface xtc_iface = {
    .name = "xtc",
    .apply = xtc_apply,
    .apply_ref = xtc_apply_ref,
    .apply_raw = xtc_apply_raw,
    .reset = xtc_reset,
    .free = xtc_free,
};

cria_sampler *cria_sampler_init_xtc(float probability, float threshold, size_t min_keep, uint64_t seed)
{
    xtc_sampler *x = (xtc_sampler *)cria_sampler_new(&xtc_iface, sizeof *x);
    if (!x)
        return NULL;
    x->probability = probability;
    x->threshold = threshold;
    x->min_keep = min_keep;
    x->seed = x->rng = seed;
    return &x->base;
}
