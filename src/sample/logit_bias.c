/*
 * Logit bias: adds a fixed bias to chosen tokens (-inf bans one). Entries for
 * the same token add up; entries outside the vocabulary are ignored.
 */
#include <stdlib.h>
#include <string.h>

#include "sample/sampler_impl.h"

typedef struct bias_sampler {
    cria_sampler base;
    int32_t n_vocab, n;
    cria_logit_bias *bias;
} bias_sampler;

/* Reference: every candidate checks every entry. */
static void bias_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    const bias_sampler *b = (const bias_sampler *)s;
    if (b->n == 0)
        return;
    for (size_t i = 0; i < cur->size; i++) {
        for (int32_t j = 0; j < b->n; j++) {
            if (b->bias[j].token == cur->data[i].id)
                cur->data[i].logit += b->bias[j].bias;
        }
    }
    cur->sorted = 0;
}

/* Fast path: when every biased token sits at its own index (the untouched vocabulary), add in place. */
static void bias_apply(cria_sampler *s, cria_token_data_array *cur)
{
    const bias_sampler *b = (const bias_sampler *)s;
    if (b->n == 0)
        return;
    for (int32_t j = 0; j < b->n; j++) {
        const cria_token t = b->bias[j].token;
        if ((size_t)t >= cur->size || cur->data[t].id != t) {
            bias_apply_ref(s, cur);
            return;
        }
    }
    for (int32_t j = 0; j < b->n; j++)
        cur->data[b->bias[j].token].logit += b->bias[j].bias;
    cur->sorted = 0;
}

static cria_raw_result bias_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    (void)cur;
    const bias_sampler *b = (const bias_sampler *)s;
    if (b->n == 0)
        return CRIA_RAW_KEPT;
    float *x = cria_raw_writable(raw);
    for (int32_t j = 0; j < b->n; j++) {
        if (b->bias[j].token < raw->n)
            x[b->bias[j].token] += b->bias[j].bias;
    }
    return CRIA_RAW_KEPT;
}

static void bias_free(cria_sampler *s)
{
    free(((bias_sampler *)s)->bias);
}

static const cria_sampler_iface bias_iface = {
    .name = "logit-bias",
    .apply = bias_apply,
    .apply_ref = bias_apply_ref,
    .apply_raw = bias_apply_raw,
    .free = bias_free,
};

cria_sampler *cria_sampler_init_logit_bias(int32_t n_vocab, int32_t n_bias, const cria_logit_bias *bias)
{
    bias_sampler *b = (bias_sampler *)cria_sampler_new(&bias_iface, sizeof *b);
    if (!b)
        return NULL;
    b->n_vocab = n_vocab;
    b->bias = malloc((size_t)(n_bias > 0 ? n_bias : 1) * sizeof *b->bias);
    if (!b->bias) {
        free(b);
        return NULL;
    }
    for (int32_t i = 0; i < n_bias; i++) {
        if (bias[i].token >= 0 && bias[i].token < n_vocab)
            b->bias[b->n++] = bias[i];
    }
    return &b->base;
}
