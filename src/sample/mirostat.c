/*
 * Mirostat (Basu et al. 2020): selects a token while steering the observed
 * surprise -log2 p towards tau, with learning rate eta; mu starts at 2 tau.
 *   v1  estimates the Zipf exponent s from the top m probabilities and keeps
 *       the top k = ((s - 1) 2^mu / (1 - N^(1 - s)))^(1/s) tokens;
 *   v2  keeps the tokens with surprise <= mu.
 */
#include <math.h>
#include <stdlib.h>

#include "sample/sampler_impl.h"

typedef struct mirostat_sampler {
    cria_sampler base;
    int32_t n_vocab, m;
    float tau, eta, mu;
    uint64_t seed, rng;
    cria_sort_buf sort;
} mirostat_sampler;

/* Draws from the softmaxed cur and moves mu by eta times the surprise error. */
static void mirostat_draw(mirostat_sampler *ms, cria_token_data_array *cur)
{
    const size_t idx = cria_draw_index(cur, cria_rng_uniform(&ms->rng));
    cur->selected = (int64_t)idx;
    const float surprise = -log2f(cur->data[idx].p);
    ms->mu -= ms->eta * (surprise - ms->tau);
}

/* k for v1 from the sorted probabilities: at least 1. */
static size_t mirostat_k(const mirostat_sampler *ms, const cria_token_data_array *cur)
{
    float sum_ti_bi = 0.0f, sum_ti_sq = 0.0f;
    for (size_t i = 0; i + 1 < (size_t)ms->m && i + 1 < cur->size; i++) {
        const float t_i = logf((float)(i + 2) / (float)(i + 1));
        const float b_i = logf(cur->data[i].p / cur->data[i + 1].p);
        sum_ti_bi += t_i * b_i;
        sum_ti_sq += t_i * t_i;
    }
    const float s_hat = sum_ti_bi / sum_ti_sq;
    const float eps = s_hat - 1.0f;
    const float k = powf((eps * powf(2.0f, ms->mu)) / (1.0f - powf((float)ms->n_vocab, -eps)), 1.0f / s_hat);
    if (!(k >= 1.0f)) /* NaN (a flat distribution) or below one */
        return 1;
    return k >= (float)cur->size ? cur->size : (size_t)k;
}

static void mirostat_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    mirostat_sampler *ms = (mirostat_sampler *)s;
    if (cur->size == 0)
        return;
    cria_cand_softmax_ref(cur);
    cur->size = mirostat_k(ms, cur);
    cria_cand_softmax_ref(cur);
    mirostat_draw(ms, cur);
}

/* Same result, sorting only the top m for the estimate, then the top k. */
static void mirostat_apply(cria_sampler *s, cria_token_data_array *cur)
{
    mirostat_sampler *ms = (mirostat_sampler *)s;
    if (cur->size == 0)
        return;
    cria_cand_softmax(cur, false, NULL);
    size_t m = ms->m > 1 ? (size_t)ms->m : 1;
    m = m < cur->size ? m : cur->size;
    cria_cand_top_k(cur, m, &ms->sort);
    cria_token_data_array head = {.data = cur->data, .size = m, .selected = -1, .sorted = 1};
    const size_t k = mirostat_k(ms, &head);
    if (k > m)
        cria_cand_top_k(cur, k, &ms->sort);
    cur->size = k;
    cur->sorted = 1;
    cria_cand_softmax(cur, false, NULL);
    mirostat_draw(ms, cur);
}

static void mirostat_v2_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    mirostat_sampler *ms = (mirostat_sampler *)s;
    if (cur->size == 0)
        return;
    cria_cand_softmax_ref(cur);
    size_t n = 0;
    while (n < cur->size && !(-log2f(cur->data[n].p) > ms->mu))
        n++;
    cur->size = n ? n : 1;
    cria_cand_softmax_ref(cur);
    mirostat_draw(ms, cur);
}

/* Same result: softmax unsorted, gather the tokens within mu, sort only those. */
static void mirostat_v2_apply(cria_sampler *s, cria_token_data_array *cur)
{
    mirostat_sampler *ms = (mirostat_sampler *)s;
    if (cur->size == 0)
        return;
    cria_cand_softmax(cur, false, NULL);
    cria_token_data *d = cur->data;
    size_t n = 0;
    for (size_t i = 0; i < cur->size; i++) {
        if (!(-log2f(d[i].p) > ms->mu)) {
            cria_token_data t = d[n];
            d[n++] = d[i];
            d[i] = t;
        }
    }
    if (n == 0) {
        cria_cand_top_k(cur, 1, &ms->sort);
        n = 1;
    }
    cur->size = n;
    cria_cand_sort(cur, &ms->sort);
    cria_cand_softmax(cur, false, NULL);
    mirostat_draw(ms, cur);
}

static void mirostat_reset(cria_sampler *s)
{
    mirostat_sampler *ms = (mirostat_sampler *)s;
    ms->mu = 2.0f * ms->tau;
    ms->rng = ms->seed;
}

static void mirostat_free(cria_sampler *s)
{
    cria_sort_buf_free(&((mirostat_sampler *)s)->sort);
}

static const cria_sampler_iface mirostat_iface = {
    .name = "mirostat",
    .apply = mirostat_apply,
    .apply_ref = mirostat_apply_ref,
    .reset = mirostat_reset,
    .free = mirostat_free,
};

static const cria_sampler_iface mirostat_v2_iface = {
    .name = "mirostat-v2",
    .apply = mirostat_v2_apply,
    .apply_ref = mirostat_v2_apply_ref,
    .reset = mirostat_reset,
    .free = mirostat_free,
};

static cria_sampler *mirostat_new(const cria_sampler_iface *iface, int32_t n_vocab, uint64_t seed, float tau,
                                  float eta, int32_t m)
{
    mirostat_sampler *ms = (mirostat_sampler *)cria_sampler_new(iface, sizeof *ms);
    if (!ms)
        return NULL;
    ms->n_vocab = n_vocab;
    ms->m = m;
    ms->tau = tau;
    ms->eta = eta;
    ms->seed = seed;
    mirostat_reset(&ms->base);
    return &ms->base;
}

cria_sampler *cria_sampler_init_mirostat(int32_t n_vocab, uint64_t seed, float tau, float eta, int32_t m)
{
    return mirostat_new(&mirostat_iface, n_vocab, seed, tau, eta, m);
}

cria_sampler *cria_sampler_init_mirostat_v2(uint64_t seed, float tau, float eta)
{
    return mirostat_new(&mirostat_v2_iface, 0, seed, tau, eta, 0);
}
