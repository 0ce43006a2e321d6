/*
 * Probability-mass cut-offs on the sorted distribution:
 *   top-p (nucleus)  the smallest prefix whose probabilities sum to >= p;
 *   min-p            the tokens with p >= min_p * p_max, i.e. logit >= max + log(min_p).
 * Both keep at least min_keep tokens.
 */
#include <math.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sample/sampler_impl.h"

typedef struct cutoff_sampler {
    cria_sampler base;
    float p;
    size_t min_keep;
    cria_sort_buf sort;
} cutoff_sampler;

/* ---- top-p ----------------------------------------------------------------- */

/* Number of sorted entries of d[0..n) to keep (n if p is never reached). */
static size_t top_p_cut(const cria_token_data *d, size_t n, float p, size_t min_keep, float *cum)
{
    for (size_t i = 0; i < n; i++) {
        *cum += d[i].p;
        if (*cum >= p && i + 1 >= min_keep)
            return i + 1;
    }
    return n;
}

static void top_p_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    const cutoff_sampler *t = (const cutoff_sampler *)s;
    if (t->p >= 1.0f || cur->size == 0)
        return;
    cria_cand_softmax_ref(cur);
    float cum = 0.0f;
    cur->size = top_p_cut(cur->data, cur->size, t->p, t->min_keep, &cum);
}

/*
 * Fast path: softmax without sorting, then sort only a growing prefix (the
 * best 256, then 8x more) until the mass reaches p: nucleus sets are small.
 */
static void top_p_apply(cria_sampler *s, cria_token_data_array *cur)
{
    cutoff_sampler *t = (cutoff_sampler *)s;
    if (t->p >= 1.0f || cur->size == 0)
        return;
    cria_cand_softmax(cur, false, NULL);
    size_t k = cur->sorted || cur->size <= 1024 ? cur->size : 256;
    for (;;) {
        cria_cand_top_k(cur, k, &t->sort);
        float cum = 0.0f;
        size_t keep = top_p_cut(cur->data, k, t->p, t->min_keep, &cum);
        if (keep < k || k == cur->size) {
            cur->size = keep;
            cur->sorted = 1;
            return;
        }
        k = k * 8 < cur->size ? k * 8 : cur->size;
    }
}

static void cutoff_free(cria_sampler *s)
{
    cria_sort_buf_free(&((cutoff_sampler *)s)->sort);
}

static const cria_sampler_iface top_p_iface = {
    .name = "top-p",
    .apply = top_p_apply,
    .apply_ref = top_p_apply_ref,
    .free = cutoff_free,
};

/* ---- min-p ----------------------------------------------------------------- */

/* Keeps, in order, the entries with logit >= min_logit; returns how many. */
static size_t filter_ge(cria_token_data *d, size_t n, float min_logit)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (d[i].logit >= min_logit)
            d[m++] = d[i];
    }
    return m;
}

/* The sorted fall-back: the first token, then every one above the bar, then up to min_keep. */
static size_t min_p_sorted_cut(const cria_token_data *d, size_t n, float p, size_t min_keep)
{
    const float min_logit = d[0].logit + logf(p);
    size_t i = 1;
    for (; i < n; i++) {
        if (d[i].logit < min_logit && i >= min_keep)
            break;
    }
    return i;
}

/*
 * Reference: an unsorted array is filtered in place, keeping its order; when
 * that leaves fewer than min_keep tokens (or the array is sorted) it is
 * sorted and cut instead.
 */
static void min_p_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    const cutoff_sampler *t = (const cutoff_sampler *)s;
    if (t->p <= 0.0f || cur->size == 0)
        return;
    if (!cur->sorted) {
        float max = -INFINITY;
        for (size_t i = 0; i < cur->size; i++)
            max = cur->data[i].logit > max ? cur->data[i].logit : max;
        const float min_logit = max + logf(t->p);
        size_t m = 0;
        for (size_t i = 0; i < cur->size; i++)
            m += cur->data[i].logit >= min_logit;
        if (m > 0 && m >= t->min_keep) {
            cur->size = filter_ge(cur->data, cur->size, min_logit);
            return;
        }
    }
    cria_cand_sort_ref(cur);
    cur->size = min_p_sorted_cut(cur->data, cur->size, t->p, t->min_keep);
}

/* Same result with one pass fewer: the filter runs first and is undone only in the rare min_keep case. */
static void min_p_apply(cria_sampler *s, cria_token_data_array *cur)
{
    cutoff_sampler *t = (cutoff_sampler *)s;
    if (t->p <= 0.0f || cur->size == 0)
        return;
    if (!cur->sorted) {
        float max = -INFINITY;
        for (size_t i = 0; i < cur->size; i++)
            max = cur->data[i].logit > max ? cur->data[i].logit : max;
        const float min_logit = max + logf(t->p);
        size_t m = 0;
        for (size_t i = 0; i < cur->size; i++)
            m += cur->data[i].logit >= min_logit;
        if (m > 0 && m >= t->min_keep) {
            cur->size = filter_ge(cur->data, cur->size, min_logit);
            return;
        }
        size_t keep = t->min_keep > 1 ? t->min_keep : 1;
        keep = keep < cur->size ? keep : cur->size;
        cria_cand_top_k(cur, keep, &t->sort);
        cur->size = keep;
        cur->sorted = 1;
        return;
    }
    cur->size = min_p_sorted_cut(cur->data, cur->size, t->p, t->min_keep);
}

/* On the raw vocabulary: one pass for the maximum, one to gather the survivors, in id order. */
static cria_raw_result min_p_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    const cutoff_sampler *t = (const cutoff_sampler *)s;
    if (t->p <= 0.0f)
        return CRIA_RAW_KEPT;
    const float *x = raw->logits;
    const float max = x[cria_raw_argmax(x, raw->n)];
    if (!(max > -INFINITY))
        return CRIA_RAW_NONE; /* nothing finite: the built array (NaN as -inf) decides */
    const float min_logit = max + logf(t->p);
    size_t m = 0;
    int32_t i = 0;
#if defined(__SSE2__)
    /* blocks of 16 with no survivor (nearly all of them) cost one compare each */
    const __m128 bar = _mm_set1_ps(min_logit);
    for (; i + 16 <= raw->n; i += 16) {
        const __m128 c = _mm_or_ps(_mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(x + i), bar),
                                             _mm_cmpge_ps(_mm_loadu_ps(x + i + 4), bar)),
                                   _mm_or_ps(_mm_cmpge_ps(_mm_loadu_ps(x + i + 8), bar),
                                             _mm_cmpge_ps(_mm_loadu_ps(x + i + 12), bar)));
        if (_mm_movemask_ps(c) == 0)
            continue;
        for (int32_t j = i; j < i + 16; j++) {
            if (x[j] >= min_logit)
                cur->data[m++] = (cria_token_data){.id = j, .logit = x[j], .p = 0.0f};
        }
    }
#endif
    for (; i < raw->n; i++) {
        if (x[i] >= min_logit)
            cur->data[m++] = (cria_token_data){.id = i, .logit = x[i], .p = 0.0f};
    }
    if (m == 0 || m < t->min_keep)
        return CRIA_RAW_NONE; /* the chain builds the full array and runs min_p_apply */
    cur->size = m;
    cur->sorted = 0;
    return CRIA_RAW_BUILT;
}

static const cria_sampler_iface min_p_iface = {
    .name = "min-p",
    .apply = min_p_apply,
    .apply_ref = min_p_apply_ref,
    .apply_raw = min_p_apply_raw,
    .free = cutoff_free,
};

static cria_sampler *cutoff_new(const cria_sampler_iface *iface, float p, size_t min_keep)
{
    cutoff_sampler *t = (cutoff_sampler *)cria_sampler_new(iface, sizeof *t);
    if (!t)
        return NULL;
    t->p = p;
    t->min_keep = min_keep;
    return &t->base;
}

cria_sampler *cria_sampler_init_top_p(float p, size_t min_keep)
{
    return cutoff_new(&top_p_iface, p, min_keep);
}

cria_sampler *cria_sampler_init_min_p(float p, size_t min_keep)
{
    return cutoff_new(&min_p_iface, p, min_keep);
}
