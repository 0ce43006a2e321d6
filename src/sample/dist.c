/*
 * The selecting samplers: greedy (the most likely token) and dist (a seeded
 * random draw from the softmax). Each leaves cur->selected set.
 */
#include <math.h>

#include "sample/sampler_impl.h"

/* ---- greedy ---------------------------------------------------------------- */

/* Reference: the first index with the largest logit. */
static void greedy_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    (void)s;
    cur->selected = cur->size ? 0 : -1;
    for (size_t i = 1; i < cur->size; i++) {
        if (cur->data[i].logit > cur->data[cur->selected].logit)
            cur->selected = (int64_t)i;
    }
}

/* Same, keeping the best logit in a register; a sorted array needs no scan. */
static void greedy_apply(cria_sampler *s, cria_token_data_array *cur)
{
    (void)s;
    if (cur->size == 0) {
        cur->selected = -1;
        return;
    }
    if (cur->sorted) {
        cur->selected = 0;
        return;
    }
    const cria_token_data *d = cur->data;
    size_t best = 0;
    float best_l = d[0].logit;
    for (size_t i = 1; i < cur->size; i++) {
        if (d[i].logit > best_l) {
            best_l = d[i].logit;
            best = i;
        }
    }
    cur->selected = (int64_t)best;
}

/* On the raw vocabulary: a vectorised argmax over the floats; cur becomes that one token. */
static cria_raw_result greedy_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    (void)s;
    int32_t i = cria_raw_argmax(raw->logits, raw->n);
    cur->data[0] = (cria_token_data){.id = i, .logit = raw->logits[i], .p = 1.0f};
    cur->size = 1;
    cur->sorted = 1;
    cur->selected = 0;
    return CRIA_RAW_BUILT;
}

static const cria_sampler_iface greedy_iface = {
    .name = "greedy",
    .apply = greedy_apply,
    .apply_ref = greedy_apply_ref,
    .apply_raw = greedy_apply_raw,
};

cria_sampler *cria_sampler_init_greedy(void)
{
    return cria_sampler_new(&greedy_iface, sizeof(cria_sampler));
}

/* ---- dist ------------------------------------------------------------------ */

/*
 * The draw, as the spec: weights w = expf(logit - max) in float, r uniform in
 * [0, 1); the first index whose running (double) sum of w exceeds r * sum(w)
 * is selected, then p = w / sum(w).
 */
typedef struct dist_sampler {
    cria_sampler base;
    uint64_t seed, rng;
} dist_sampler;

static void dist_draw_ref(cria_token_data_array *cur, double r)
{
    float max = -INFINITY;
    for (size_t i = 0; i < cur->size; i++)
        max = cur->data[i].logit > max ? cur->data[i].logit : max;
    if (max == -INFINITY) { /* nothing possible: uniform */
        for (size_t i = 0; i < cur->size; i++)
            cur->data[i].p = 1.0f;
    } else {
        for (size_t i = 0; i < cur->size; i++)
            cur->data[i].p = expf(cur->data[i].logit - max);
    }
    double sum = 0.0;
    for (size_t i = 0; i < cur->size; i++)
        sum += (double)cur->data[i].p;
    cur->selected = (int64_t)cria_draw_index(cur, r);
    for (size_t i = 0; i < cur->size; i++)
        cur->data[i].p = (float)((double)cur->data[i].p / sum);
}

static void dist_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    dist_sampler *d = (dist_sampler *)s;
    if (cur->size == 0) {
        cur->selected = -1;
        return;
    }
    dist_draw_ref(cur, cria_rng_uniform(&d->rng));
}

/* Same arithmetic in two passes instead of five: max from the sorted flag, draw fused with normalising. */
static void dist_apply(cria_sampler *s, cria_token_data_array *cur)
{
    dist_sampler *d = (dist_sampler *)s;
    const size_t n = cur->size;
    cria_token_data *c = cur->data;
    if (n == 0) {
        cur->selected = -1;
        return;
    }
    const double r = cria_rng_uniform(&d->rng);
    float max = c[0].logit;
    if (!cur->sorted) {
        for (size_t i = 1; i < n; i++)
            max = c[i].logit > max ? c[i].logit : max;
    }
    if (max == -INFINITY) {
        dist_draw_ref(cur, r); /* rare: the reference handles the uniform case */
        return;
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float w = expf(c[i].logit - max);
        c[i].p = w;
        sum += (double)w;
    }
    const double target = r * sum;
    double run = 0.0;
    int64_t sel = -1, last = 0;
    for (size_t i = 0; i < n; i++) {
        const float w = c[i].p;
        if (sel < 0) {
            run += (double)w;
            if (run > target && w > 0.0f)
                sel = (int64_t)i;
        }
        if (w > 0.0f)
            last = (int64_t)i;
        c[i].p = (float)((double)w / sum);
    }
    cur->selected = sel >= 0 ? sel : last;
}

/*
 * On the raw vocabulary (nothing before it filtered): the same draw over the
 * contiguous floats, weights in the chain's copy; cur becomes the one token.
 */
static cria_raw_result dist_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    dist_sampler *d = (dist_sampler *)s;
    const int32_t n = raw->n;
    const float *x = raw->logits;
    const float max = x[cria_raw_argmax(x, n)];
    if (max == -INFINITY || isnan(max))
        return CRIA_RAW_NONE;
    const double r = cria_rng_uniform(&d->rng);
    float *w = raw->own; /* may alias x: each weight replaces its own logit */
    double sum = 0.0;
    for (int32_t i = 0; i < n; i++) {
        const float xi = isnan(x[i]) ? -INFINITY : x[i];
        w[i] = expf(xi - max);
        sum += (double)w[i];
    }
    const double target = r * sum;
    double run = 0.0;
    int32_t sel = -1, last = 0;
    for (int32_t i = 0; i < n; i++) {
        run += (double)w[i];
        if (w[i] > 0.0f) {
            last = i;
            if (run > target) {
                sel = i;
                break;
            }
        }
    }
    sel = sel >= 0 ? sel : last;
    raw->logits = raw->own;
    raw->written = true;
    cur->data[0] = (cria_token_data){.id = sel, .logit = logf(w[sel]) + max, .p = (float)((double)w[sel] / sum)};
    cur->size = 1;
    cur->sorted = 1;
    cur->selected = 0;
    return CRIA_RAW_BUILT;
}

static void dist_reset(cria_sampler *s)
{
    dist_sampler *d = (dist_sampler *)s;
    d->rng = d->seed;
}

static const cria_sampler_iface dist_iface = {
    .name = "dist",
    .apply = dist_apply,
    .apply_ref = dist_apply_ref,
    .apply_raw = dist_apply_raw,
    .reset = dist_reset,
};

cria_sampler *cria_sampler_init_dist(uint64_t seed)
{
    dist_sampler *d = (dist_sampler *)cria_sampler_new(&dist_iface, sizeof *d);
    if (d)
        d->seed = d->rng = seed;
    return d ? &d->base : NULL;
}
