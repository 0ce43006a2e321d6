/*
 * Temperature: logits divided by temp (temp <= 0 keeps only the most likely
 * token, the others become -inf), and dynamic temperature, which picks temp
 * in [temp - delta, temp + delta] from the normalised entropy of the
 * distribution: min + (max - min) * (H / log n)^exponent.
 */
#include <math.h>

#include "sample/sampler_impl.h"

typedef struct temp_sampler {
    cria_sampler base;
    float temp, delta, exponent;
    cria_sort_buf sort;
} temp_sampler;

/* Reference: divide every logit, or keep the first maximum. */
static void scale_ref(cria_token_data_array *cur, float temp)
{
    if (temp <= 0.0f) {
        size_t best = 0;
        for (size_t i = 1; i < cur->size; i++) {
            if (cur->data[i].logit > cur->data[best].logit)
                best = i;
        }
        for (size_t i = 0; i < cur->size; i++) {
            if (i != best)
                cur->data[i].logit = -INFINITY;
        }
        return;
    }
    for (size_t i = 0; i < cur->size; i++)
        cur->data[i].logit /= temp;
}

/* Same result; a sorted array's maximum is its first entry. */
static void scale(cria_token_data_array *cur, float temp)
{
    if (temp <= 0.0f && cur->sorted) {
        for (size_t i = 1; i < cur->size; i++)
            cur->data[i].logit = -INFINITY;
        return;
    }
    if (temp == 1.0f)
        return;
    scale_ref(cur, temp);
}

/* The entropy-chosen temperature of a softmaxed array (n >= 2). */
static float dynamic_temp(const temp_sampler *t, const cria_token_data_array *cur)
{
    const float min_t = t->temp - t->delta > 0.0f ? t->temp - t->delta : 0.0f;
    const float max_t = t->temp + t->delta;
    const float max_entropy = -logf(1.0f / (float)cur->size);
    float entropy = 0.0f;
    for (size_t i = 0; i < cur->size; i++) {
        const float p = cur->data[i].p;
        if (p > 0.0f)
            entropy -= p * logf(p);
    }
    return min_t + (max_t - min_t) * powf(entropy / max_entropy, t->exponent);
}

/* Softmax again after scaling, in double as llama.cpp does (the maximum is the first entry: sorted). */
static void resoftmax(cria_token_data_array *cur)
{
    const double max = (double)cur->data[0].logit;
    double sum = 0.0;
    if (cur->data[0].logit == -INFINITY) {
        cria_cand_softmax(cur, false, NULL);
        return;
    }
    for (size_t i = 0; i < cur->size; i++) {
        double p = exp((double)cur->data[i].logit - max);
        cur->data[i].p = (float)p;
        sum += p;
    }
    for (size_t i = 0; i < cur->size; i++)
        cur->data[i].p = (float)((double)cur->data[i].p / sum);
}

static void temp_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    temp_sampler *t = (temp_sampler *)s;
    if (!(t->delta > 0.0f)) {
        scale_ref(cur, t->temp);
        return;
    }
    if (cur->size <= 1)
        return;
    cria_cand_softmax_ref(cur);
    scale_ref(cur, dynamic_temp(t, cur));
    resoftmax(cur);
}

/* Same, trusting the sorted flag instead of sorting again. */
static void temp_apply(cria_sampler *s, cria_token_data_array *cur)
{
    temp_sampler *t = (temp_sampler *)s;
    if (!(t->delta > 0.0f)) {
        scale(cur, t->temp);
        return;
    }
    if (cur->size <= 1)
        return;
    cria_cand_softmax(cur, true, &t->sort);
    scale(cur, dynamic_temp(t, cur));
    resoftmax(cur);
}

/* On the raw vocabulary: one contiguous (vectorisable) division into the chain's copy. */
static cria_raw_result temp_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    (void)cur;
    temp_sampler *t = (temp_sampler *)s;
    if (t->delta > 0.0f || t->temp <= 0.0f)
        return CRIA_RAW_NONE;
    if (t->temp == 1.0f)
        return CRIA_RAW_KEPT;
    const float *x = raw->logits;
    float *y = raw->own;
    const float temp = t->temp;
    for (int32_t i = 0; i < raw->n; i++)
        y[i] = x[i] / temp;
    raw->logits = raw->own;
    raw->written = true;
    return CRIA_RAW_KEPT;
}

static void temp_free(cria_sampler *s)
{
    cria_sort_buf_free(&((temp_sampler *)s)->sort);
}

static const cria_sampler_iface temp_iface = {
    .name = "temp",
    .apply = temp_apply,
    .apply_ref = temp_apply_ref,
    .apply_raw = temp_apply_raw,
    .free = temp_free,
};

static const cria_sampler_iface temp_ext_iface = {
    .name = "temp-ext",
    .apply = temp_apply,
    .apply_ref = temp_apply_ref,
    .apply_raw = temp_apply_raw,
    .free = temp_free,
};

cria_sampler *cria_sampler_init_temp_ext(float temp, float delta, float exponent)
{
    temp_sampler *t = (temp_sampler *)cria_sampler_new(&temp_ext_iface, sizeof *t);
    if (!t)
        return NULL;
    t->temp = temp;
    t->delta = delta;
    t->exponent = exponent;
    return &t->base;
}

cria_sampler *cria_sampler_init_temp(float temp)
{
    cria_sampler *s = cria_sampler_init_temp_ext(temp, 0.0f, 1.0f);
    if (s)
        s->iface = &temp_iface;
    return s;
}
