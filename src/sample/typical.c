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
    cria_sort_buf sort; /* the fast path's scratch */
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
 * Same result with radix sorts: the candidates by logit, then their scores
 * (stable, so equal scores stay in logit order, the reference's tie-break),
 * with the buffers kept between calls.
 */
static void typical_apply(cria_sampler *s, cria_token_data_array *cur)
{
    typical_sampler *t = (typical_sampler *)s;
    const size_t n = cur->size;
    if (t->p >= 1.0f || n == 0)
        return;
    if (!cria_sort_buf_reserve(&t->sort, n)) {
        typical_apply_ref(s, cur);
        return;
    }
    cria_cand_softmax(cur, true, &t->sort);
    const cria_token_data *d = cur->data;
    double h = 0.0; /* as typical_select: the same sum in the same order */
    for (size_t i = 0; i < n; i++) {
        if (d[i].p > 0.0f)
            h -= (double)(d[i].p * logf(d[i].p));
    }
    const float entropy = (float)h;
    for (size_t i = 0; i < n; i++) {
        const float score = d[i].p > 0.0f ? fabsf(-logf(d[i].p) - entropy) : INFINITY;
        t->sort.key[i] = ~cria_desc_key(score); /* ascending */
        t->sort.idx[i] = (uint32_t)i;
    }
    cria_radix_sort(&t->sort, n);
    float cum = 0.0f;
    size_t keep = n;
    for (size_t i = 0; i < n; i++) {
        cum += d[t->sort.idx[i]].p;
        if (cum > t->p && (t->min_keep == 0 || i + 1 >= t->min_keep)) {
            keep = i + 1;
            break;
        }
    }
    for (size_t i = 0; i < keep; i++)
        t->sort.tmp[i] = d[t->sort.idx[i]];
    memcpy(cur->data, t->sort.tmp, keep * sizeof *cur->data);
    cur->size = keep;
    cur->sorted = 0;
}

static cria_raw_result typical_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    (void)raw;
    (void)cur;
    return ((typical_sampler *)s)->p >= 1.0f ? CRIA_RAW_KEPT : CRIA_RAW_NONE;
}

static void typical_free(cria_sampler *s)
{
    cria_sort_buf_free(&((typical_sampler *)s)->sort);
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
