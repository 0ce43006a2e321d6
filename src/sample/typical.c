/*
 * Locally typical sampling (Meister et al. 2022): orders tokens by how far
 * their surprise -log p is from the entropy H, and keeps the closest ones
 * until their mass exceeds p (at least min_keep). The result is in that
 * order, not sorted by logit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample/sampler_impl.h"

typedef struct typical_sampler {
    cria_sampler base;
    float p;
    size_t min_keep;
    /* scratch of the fast path, grown as needed */
    struct scored *sc;
    cria_token_data *tmp;
    size_t cap;
} typical_sampler;

typedef struct scored {
    float score;
    uint32_t idx;  /* position in the array */
    float logit;   /* ties on score go by logit order, as positions in a sorted array would */
    cria_token id;
} scored;

static int scored_cmp(const void *a, const void *b)
{
    const scored *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? -1 : 1;
    if (x->logit != y->logit)
        return x->logit > y->logit ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Scores softmaxed cur into sc (sorted by closeness to the entropy); returns how many to keep. */
static size_t typical_select(const cria_token_data_array *cur, float p, size_t min_keep, scored *sc)
{
    const size_t n = cur->size;
    double h = 0.0; /* in double: the sum must not depend on the array's order */
    for (size_t i = 0; i < n; i++) {
        const float pi = cur->data[i].p;
        if (pi > 0.0f)
            h -= (double)(pi * logf(pi));
    }
    const float entropy = (float)h;
    for (size_t i = 0; i < n; i++) {
        const float pi = cur->data[i].p;
        sc[i].score = pi > 0.0f ? fabsf(-logf(pi) - entropy) : INFINITY;
        sc[i].idx = (uint32_t)i;
        sc[i].logit = cur->data[i].logit;
        sc[i].id = cur->data[i].id;
    }
    qsort(sc, n, sizeof *sc, scored_cmp);
    float cum = 0.0f;
    for (size_t i = 0; i < n; i++) {
        cum += cur->data[sc[i].idx].p;
        if (cum > p && (min_keep == 0 || i + 1 >= min_keep))
            return i + 1;
    }
    return n;
}

static void gather(cria_token_data_array *cur, const scored *sc, size_t keep, cria_token_data *tmp)
{
    for (size_t i = 0; i < keep; i++)
        tmp[i] = cur->data[sc[i].idx];
    memcpy(cur->data, tmp, keep * sizeof *tmp);
    cur->size = keep;
    cur->sorted = 0;
}

/* Reference: sort, softmax, score, sort the scores; fresh buffers every call. */
static void typical_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    const typical_sampler *t = (const typical_sampler *)s;
    if (t->p >= 1.0f || cur->size == 0)
        return;
    cria_cand_softmax_ref(cur);
    scored *sc = malloc(cur->size * sizeof *sc);
    cria_token_data *tmp = malloc(cur->size * sizeof *tmp);
    if (sc && tmp)
        gather(cur, sc, typical_select(cur, t->p, t->min_keep, sc), tmp);
    free(sc);
    free(tmp);
}

/*
 * Same result with one sort instead of two: the order by score never needed
 * the logit sort (its tie-break by logit order gives the same sequence), and
 * the buffers are reused.
 */
static void typical_apply(cria_sampler *s, cria_token_data_array *cur)
{
    typical_sampler *t = (typical_sampler *)s;
    if (t->p >= 1.0f || cur->size == 0)
        return;
    if (cur->size > t->cap) {
        free(t->sc);
        free(t->tmp);
        t->sc = malloc(cur->size * sizeof *t->sc);
        t->tmp = malloc(cur->size * sizeof *t->tmp);
        t->cap = t->sc && t->tmp ? cur->size : 0;
        if (!t->cap)
            return;
    }
    cria_cand_softmax(cur, false);
    gather(cur, t->sc, typical_select(cur, t->p, t->min_keep, t->sc), t->tmp);
}

static cria_raw_result typical_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    (void)raw;
    (void)cur;
    return ((typical_sampler *)s)->p >= 1.0f ? CRIA_RAW_KEPT : CRIA_RAW_NONE;
}

static void typical_free(cria_sampler *s)
{
    typical_sampler *t = (typical_sampler *)s;
    free(t->sc);
    free(t->tmp);
}

static const cria_sampler_iface typical_iface = {
    .name = "typical",
    .apply = typical_apply,
    .apply_ref = typical_apply_ref,
    .apply_raw = typical_apply_raw,
    .free = typical_free,
};

cria_sampler *cria_sampler_init_typical(float p, size_t min_keep)
{
    typical_sampler *t = (typical_sampler *)cria_sampler_new(&typical_iface, sizeof *t);
    if (!t)
        return NULL;
    t->p = p;
    t->min_keep = min_keep;
    return &t->base;
}
