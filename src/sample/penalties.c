/*
 * Repetition, frequency and presence penalties over the last last_n accepted
 * tokens. For a token seen c > 0 times in that window:
 *   logit <= 0: logit *= repeat, else logit /= repeat   (CTRL's penalty, sign-safe)
 *   logit -= c * freq + present                        (OpenAI's penalties)
 * The window is a ring buffer; the fast path also keeps a dense count per
 * token id, so it touches only the tokens in the window, not every candidate.
 */
#include <stdlib.h>
#include <string.h>

#include "sample/sampler_impl.h"

typedef struct penalties_sampler {
    cria_sampler base;
    int32_t n_vocab, last_n;
    float repeat, freq, present;
    cria_token *ring; /* last_n slots */
    int32_t head, size; /* next write slot, tokens held */
    int32_t *count;   /* n_vocab counts of the tokens in the ring */
    uint32_t *stamp;  /* n_vocab: last apply that touched a token */
    uint32_t epoch;
} penalties_sampler;

static bool penalties_off(const penalties_sampler *ps)
{
    return ps->last_n == 0 || (ps->repeat == 1.0f && ps->freq == 0.0f && ps->present == 0.0f);
}

static void penalties_accept(cria_sampler *s, cria_token t)
{
    penalties_sampler *ps = (penalties_sampler *)s;
    if (ps->last_n == 0 || t < 0 || t >= ps->n_vocab)
        return;
    if (ps->size == ps->last_n)
        ps->count[ps->ring[ps->head]]--; /* the oldest token leaves the window */
    else
        ps->size++;
    ps->ring[ps->head] = t;
    ps->count[t]++;
    ps->head = ps->head + 1 == ps->last_n ? 0 : ps->head + 1;
}

/* Starts a new apply: stamps older than this one mean "not touched yet". */
static void next_epoch(penalties_sampler *ps)
{
    if (++ps->epoch == 0) { /* wrapped: old stamps could match again */
        memset(ps->stamp, 0, (size_t)ps->n_vocab * sizeof *ps->stamp);
        ps->epoch = 1;
    }
}

static float penalise(const penalties_sampler *ps, float logit, int32_t c)
{
    logit = logit <= 0.0f ? logit * ps->repeat : logit / ps->repeat;
    return logit - (float)c * ps->freq - ps->present;
}

/* Reference: counts each candidate's occurrences by scanning the whole window. */
static void penalties_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    penalties_sampler *ps = (penalties_sampler *)s;
    if (penalties_off(ps))
        return;
    for (size_t i = 0; i < cur->size; i++) {
        int32_t c = 0;
        for (int32_t j = 0; j < ps->size; j++)
            c += ps->ring[j] == cur->data[i].id;
        if (c > 0)
            cur->data[i].logit = penalise(ps, cur->data[i].logit, c);
    }
    cur->sorted = 0;
}

/*
 * Fast path: when candidate t sits at index t (the untouched vocabulary),
 * penalise the window's distinct tokens in place; otherwise one dense count
 * lookup per candidate.
 */
static void penalties_apply(cria_sampler *s, cria_token_data_array *cur)
{
    penalties_sampler *ps = (penalties_sampler *)s;
    if (penalties_off(ps))
        return;
    cur->sorted = 0;
    bool dense = true;
    for (int32_t j = 0; j < ps->size && dense; j++) {
        const cria_token t = ps->ring[j];
        dense = (size_t)t < cur->size && cur->data[t].id == t;
    }
    if (dense) {
        next_epoch(ps);
        for (int32_t j = 0; j < ps->size; j++) {
            const cria_token t = ps->ring[j];
            if (ps->stamp[t] != ps->epoch) {
                ps->stamp[t] = ps->epoch;
                cur->data[t].logit = penalise(ps, cur->data[t].logit, ps->count[t]);
            }
        }
        return;
    }
    for (size_t i = 0; i < cur->size; i++) {
        const cria_token t = cur->data[i].id;
        const int32_t c = t >= 0 && t < ps->n_vocab ? ps->count[t] : 0;
        if (c > 0)
            cur->data[i].logit = penalise(ps, cur->data[i].logit, c);
    }
}

static cria_raw_result penalties_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    (void)cur;
    penalties_sampler *ps = (penalties_sampler *)s;
    if (penalties_off(ps) || ps->size == 0)
        return CRIA_RAW_KEPT;
    if (raw->n != ps->n_vocab)
        return CRIA_RAW_NONE;
    float *x = cria_raw_writable(raw);
    next_epoch(ps);
    for (int32_t j = 0; j < ps->size; j++) {
        const cria_token t = ps->ring[j];
        if (ps->stamp[t] != ps->epoch) {
            ps->stamp[t] = ps->epoch;
            x[t] = penalise(ps, x[t], ps->count[t]);
        }
    }
    return CRIA_RAW_KEPT;
}

static void penalties_reset(cria_sampler *s)
{
    penalties_sampler *ps = (penalties_sampler *)s;
    ps->head = ps->size = 0;
    if (ps->count)
        memset(ps->count, 0, (size_t)ps->n_vocab * sizeof *ps->count);
}

static void penalties_free(cria_sampler *s)
{
    penalties_sampler *ps = (penalties_sampler *)s;
    free(ps->ring);
    free(ps->count);
    free(ps->stamp);
}

static const cria_sampler_iface penalties_iface = {
    .name = "penalties",
    .accept = penalties_accept,
    .apply = penalties_apply,
    .apply_ref = penalties_apply_ref,
    .apply_raw = penalties_apply_raw,
    .reset = penalties_reset,
    .free = penalties_free,
};

cria_sampler *cria_sampler_init_penalties(int32_t n_vocab, int32_t last_n, float repeat, float freq, float present)
{
    if (n_vocab <= 0)
        return NULL;
    penalties_sampler *ps = (penalties_sampler *)cria_sampler_new(&penalties_iface, sizeof *ps);
    if (!ps)
        return NULL;
    ps->n_vocab = n_vocab;
    ps->last_n = last_n > 0 ? last_n : 0;
    ps->repeat = repeat;
    ps->freq = freq;
    ps->present = present;
    ps->ring = malloc((size_t)(ps->last_n ? ps->last_n : 1) * sizeof *ps->ring);
    ps->count = calloc((size_t)n_vocab, sizeof *ps->count);
    ps->stamp = calloc((size_t)n_vocab, sizeof *ps->stamp);
    if (!ps->ring || !ps->count || !ps->stamp) {
        penalties_free(&ps->base);
        free(ps);
        return NULL;
    }
    return &ps->base;
}
