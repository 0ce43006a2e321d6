/*
 * The basic sampler: greedy, or top-k -> top-p -> temperature -> a seeded
 * random draw (the order llama.cpp applies them). The full chain is its own
 * module later; this one keeps the same seed giving the same text.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cria.h"

typedef struct candidate {
    float logit;
    int32_t id;
} candidate;

struct cria_sampler {
    cria_sampler_params p;
    int32_t n_vocab;
    uint64_t rng; /* splitmix64 state */
    candidate *cand;
    float *prob;
};

cria_sampler_params cria_sampler_default_params(void)
{
    cria_sampler_params p = {.temp = 0.8f, .top_k = 40, .top_p = 0.95f, .seed = 0xFFFFFFFFu};
    return p;
}

cria_sampler *cria_sampler_init(const cria_sampler_params *params, int32_t n_vocab)
{
    if (n_vocab <= 0)
        return NULL;
    cria_sampler *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->p = params ? *params : cria_sampler_default_params();
    s->n_vocab = n_vocab;
    s->rng = s->p.seed;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->prob = malloc((size_t)n_vocab * sizeof *s->prob);
    if (!s->cand || !s->prob) {
        cria_sampler_free(s);
        return NULL;
    }
    return s;
}

void cria_sampler_free(cria_sampler *s)
{
    if (!s)
        return;
    free(s->cand);
    free(s->prob);
    free(s);
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1) with 53 random bits. */
static double uniform(uint64_t *state)
{
    return (double)(splitmix64(state) >> 11) * 0x1.0p-53;
}

/* Descending by logit; ties by smaller id, so the order never depends on qsort's stability. */
static int by_logit_desc(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->logit != y->logit)
        return x->logit < y->logit ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

static cria_token argmax(const float *logits, int32_t n)
{
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++) {
        if (logits[i] > logits[best])
            best = i;
    }
    return best;
}

/* Softmax of cand[0..n) logits (already sorted descending) into prob, scaled by 1/temp. */
static void softmax_sorted(const candidate *cand, int32_t n, float temp, float *prob)
{
    const float max = cand[0].logit;
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        prob[i] = expf((cand[i].logit - max) / temp);
        sum += (double)prob[i];
    }
    for (int32_t i = 0; i < n; i++)
        prob[i] = (float)((double)prob[i] / sum);
}

cria_token cria_sampler_sample(cria_sampler *s, const float *logits)
{
    const int32_t nv = s->n_vocab;
    if (!(s->p.temp > 0.0f))
        return argmax(logits, nv);
    int32_t n = 0;
    for (int32_t i = 0; i < nv; i++) {
        if (!isnan(logits[i]) && logits[i] != -INFINITY) {
            s->cand[n].logit = logits[i];
            s->cand[n].id = i;
            n++;
        }
    }
    if (n == 0)
        return argmax(logits, nv);
    qsort(s->cand, (size_t)n, sizeof *s->cand, by_logit_desc);
    if (s->p.top_k > 0 && s->p.top_k < n)
        n = s->p.top_k;
    if (s->p.top_p < 1.0f) {
        softmax_sorted(s->cand, n, 1.0f, s->prob);
        double cum = 0.0;
        int32_t keep = n;
        for (int32_t i = 0; i < n; i++) {
            cum += (double)s->prob[i];
            if (cum >= (double)s->p.top_p) {
                keep = i + 1;
                break;
            }
        }
        n = keep;
    }
    softmax_sorted(s->cand, n, s->p.temp, s->prob);
    double r = uniform(&s->rng), cum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        cum += (double)s->prob[i];
        if (r < cum)
            return s->cand[i].id;
    }
    return s->cand[n - 1].id;
}
