/*
 * DRY, "don't repeat yourself" (koboldcpp PR 982, as llama.cpp has it): if
 * the text ends with a sequence of len >= allowed_length tokens that also
 * occurred earlier, the token that followed the earlier occurrence would
 * extend the repeat; its logit loses multiplier * base^(len - allowed_length).
 * Repeats never reach back across a sequence breaker (a token sequence such
 * as "\n" or ":"), and a single-token breaker is never penalised.
 *
 * Per apply, with N = min(history, last_n, n_ctx) tokens, newest first (rat(0)):
 *   1. rep_limit = distance back to the newest breaker (the whole window if none);
 *   2. z[k] = length of the common prefix of rat(0..) and rat(k..), capped by rep_limit;
 *   3. for each k with z[k] >= allowed_length, token rat(k - 1) could extend it;
 *      keep the longest such z per token;
 *   4. penalise those tokens.
 * The reference computes 2 by direct comparison (O(N^2) worst case) and 3-4
 * with linear searches; the fast path uses the Z-algorithm and a dense
 * per-token array, and on the raw vocabulary touches only the penalised ids.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sample/sampler_impl.h"

typedef struct breaker {
    cria_token head;
    int32_t n_tail;
    cria_token tail[20]; /* tokens after the head, as llama.cpp caps them */
} breaker;

typedef struct dry_sampler {
    cria_sampler base;
    int32_t n_vocab, n_ctx, allowed_length, last_n, window;
    float multiplier, base_;
    breaker *breakers; /* sorted by head once built */
    size_t n_breakers;
    int32_t *first;    /* n_vocab: index of the first breaker with this head, -1 if none (fast path) */
    uint8_t *single;   /* n_vocab: the token is a breaker on its own (fast path) */
    cria_token *ring; /* window slots */
    int32_t head, size;
    /* scratch */
    cria_token *rev;  /* window tokens, newest first */
    int32_t *z;       /* window */
    int32_t *best;    /* n_vocab: longest repeat each token would extend (fast path) */
    cria_token *touched; /* window: tokens with best > 0 */
    int32_t n_touched;
} dry_sampler;

#define DRY_MAX_TAIL 20
#define DRY_MAX_CHARS 40

static bool dry_off(const dry_sampler *d)
{
    return d->multiplier == 0.0f || d->base_ < 1.0f || d->window == 0;
}

static void dry_accept(cria_sampler *s, cria_token t)
{
    dry_sampler *d = (dry_sampler *)s;
    if (dry_off(d))
        return;
    d->ring[d->head] = t;
    d->head = d->head + 1 == d->window ? 0 : d->head + 1;
    if (d->size < d->window)
        d->size++;
}

/* The i-th newest token (i < size). */
static cria_token rat(const dry_sampler *d, int32_t i)
{
    int32_t j = d->head - 1 - i;
    return d->ring[j < 0 ? j + d->window : j];
}

/* Whether breaker br (head at the i-th newest token) matches there, and is longer than *longest. */
static void try_breaker(const dry_sampler *d, const breaker *br, int32_t i, int32_t *longest)
{
    if (br->n_tail <= *longest || br->n_tail > i)
        return;
    for (int32_t o = 0; o < br->n_tail; o++) {
        if (br->tail[o] != rat(d, i - o - 1))
            return;
    }
    *longest = br->n_tail;
}

/*
 * Step 1: how far back a repeat may reach: the distance to the newest
 * breaker, less its tail. The reference checks every breaker at every
 * position; the fast path only those whose head is the token there.
 */
static int32_t rep_limit(const dry_sampler *d, int32_t n, bool fast)
{
    for (int32_t i = 0; i < n; i++) {
        const cria_token t = rat(d, i);
        int32_t longest = -1;
        if (!fast) {
            for (size_t b = 0; b < d->n_breakers; b++) {
                if (d->breakers[b].head == t)
                    try_breaker(d, &d->breakers[b], i, &longest);
            }
        } else if (t >= 0 && t < d->n_vocab && d->first[t] >= 0) {
            for (size_t b = (size_t)d->first[t]; b < d->n_breakers && d->breakers[b].head == t; b++)
                try_breaker(d, &d->breakers[b], i, &longest);
        }
        if (longest >= 0)
            return i - longest;
    }
    return n;
}

static bool is_single_breaker(const dry_sampler *d, cria_token t)
{
    for (size_t b = 0; b < d->n_breakers; b++) {
        if (d->breakers[b].head == t && d->breakers[b].n_tail == 0)
            return true;
    }
    return false;
}

static bool is_single_fast(const dry_sampler *d, cria_token t)
{
    return t >= 0 && t < d->n_vocab && d->single[t];
}

static int breaker_cmp(const void *a, const void *b)
{
    const breaker *x = a, *y = b;
    if (x->head != y->head)
        return x->head < y->head ? -1 : 1;
    return (x->n_tail > y->n_tail) - (x->n_tail < y->n_tail);
}

/* Sorts the breakers by head and fills the per-token lookups of the fast path. */
static void dry_index(dry_sampler *d)
{
    if (d->n_breakers)
        qsort(d->breakers, d->n_breakers, sizeof *d->breakers, breaker_cmp);
    for (int32_t t = 0; t < d->n_vocab; t++)
        d->first[t] = -1;
    for (size_t b = d->n_breakers; b-- > 0;) {
        const cria_token h = d->breakers[b].head;
        if (h >= 0 && h < d->n_vocab) {
            d->first[h] = (int32_t)b;
            if (d->breakers[b].n_tail == 0)
                d->single[h] = 1;
        }
    }
}

/* The penalty for a repeat of len tokens (exponent capped so the power stays finite). */
static float dry_penalty(const dry_sampler *d, int32_t len)
{
    int32_t e = len - d->allowed_length;
    if (d->base_ > 1.000001f) {
        const int32_t max_e = (int32_t)(88.7228391f / logf(d->base_));
        if (max_e > 0 && e > max_e)
            e = max_e;
    }
    return (float)((double)d->multiplier * pow((double)d->base_, (double)e));
}

/* Window length for this apply, or 0 when DRY does nothing. */
static int32_t dry_window(const dry_sampler *d)
{
    if (dry_off(d))
        return 0;
    int32_t n = d->size;
    n = n < d->n_ctx ? n : d->n_ctx;
    return n > d->allowed_length ? n : 0;
}

static void dry_apply_ref(cria_sampler *s, cria_token_data_array *cur)
{
    dry_sampler *d = (dry_sampler *)s;
    const int32_t n = dry_window(d);
    if (n == 0)
        return;
    const int32_t limit = rep_limit(d, n, false);
    if (limit < d->allowed_length)
        return;
    /* steps 2-3, directly: (token, longest) pairs in a list */
    cria_token *tok = malloc((size_t)n * sizeof *tok);
    int32_t *len = malloc((size_t)n * sizeof *len);
    int32_t m = 0;
    for (int32_t k = 1; tok && len && k < n; k++) {
        int32_t z = 0;
        while (k + z < n && rat(d, z) == rat(d, k + z))
            z++;
        z = z < limit ? z : limit;
        if (z < d->allowed_length)
            continue;
        const cria_token t = rat(d, k - 1);
        int32_t j = 0;
        while (j < m && tok[j] != t)
            j++;
        if (j == m) {
            tok[m] = t;
            len[m++] = z;
        } else if (len[j] < z) {
            len[j] = z;
        }
    }
    for (size_t i = 0; i < cur->size; i++) {
        for (int32_t j = 0; j < m; j++) {
            if (tok[j] == cur->data[i].id && !is_single_breaker(d, tok[j])) {
                cur->data[i].logit -= dry_penalty(d, len[j]);
                break;
            }
        }
    }
    free(tok);
    free(len);
    cur->sorted = 0;
}

/*
 * Steps 1-3 with the Z-algorithm over the window newest first: linear in N.
 * Leaves d->best[t] > 0 for the d->touched tokens. Returns false when DRY
 * has nothing to penalise.
 */
static bool dry_scan(dry_sampler *d)
{
    for (int32_t j = 0; j < d->n_touched; j++)
        d->best[d->touched[j]] = 0;
    d->n_touched = 0;
    const int32_t n = dry_window(d);
    if (n == 0)
        return false;
    const int32_t limit = rep_limit(d, n, true);
    if (limit < d->allowed_length)
        return false;
    for (int32_t i = 0; i < n; i++)
        d->rev[i] = rat(d, i);
    const cria_token *r = d->rev;
    int32_t *z = d->z;
    int32_t l = 0, rr = 0; /* the rightmost match window [l, rr) found so far */
    for (int32_t k = 1; k < n; k++) {
        int32_t len = 0;
        if (k < rr)
            len = z[k - l] < rr - k ? z[k - l] : rr - k;
        while (k + len < n && r[len] == r[k + len])
            len++;
        z[k] = len;
        if (k + len > rr) {
            l = k;
            rr = k + len;
        }
        const int32_t capped = len < limit ? len : limit;
        if (capped < d->allowed_length)
            continue;
        const cria_token t = r[k - 1];
        if (t < 0 || t >= d->n_vocab)
            continue;
        if (d->best[t] == 0)
            d->touched[d->n_touched++] = t;
        if (d->best[t] < capped)
            d->best[t] = capped;
    }
    return d->n_touched > 0;
}

static void dry_apply(cria_sampler *s, cria_token_data_array *cur)
{
    dry_sampler *d = (dry_sampler *)s;
    if (!dry_scan(d))
        return;
    cur->sorted = 0;
    bool dense = true;
    for (int32_t j = 0; j < d->n_touched && dense; j++) {
        const cria_token t = d->touched[j];
        dense = (size_t)t < cur->size && cur->data[t].id == t;
    }
    if (dense) {
        for (int32_t j = 0; j < d->n_touched; j++) {
            const cria_token t = d->touched[j];
            if (!is_single_fast(d, t))
                cur->data[t].logit -= dry_penalty(d, d->best[t]);
        }
        return;
    }
    for (size_t i = 0; i < cur->size; i++) {
        const cria_token t = cur->data[i].id;
        if (t >= 0 && t < d->n_vocab && d->best[t] > 0 && !is_single_fast(d, t))
            cur->data[i].logit -= dry_penalty(d, d->best[t]);
    }
}

static cria_raw_result dry_apply_raw(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur)
{
    (void)cur;
    dry_sampler *d = (dry_sampler *)s;
    if (raw->n != d->n_vocab)
        return dry_off(d) ? CRIA_RAW_KEPT : CRIA_RAW_NONE;
    if (!dry_scan(d))
        return CRIA_RAW_KEPT;
    float *x = cria_raw_writable(raw);
    for (int32_t j = 0; j < d->n_touched; j++) {
        const cria_token t = d->touched[j];
        if (!is_single_fast(d, t))
            x[t] -= dry_penalty(d, d->best[t]);
    }
    return CRIA_RAW_KEPT;
}

static void dry_reset(cria_sampler *s)
{
    dry_sampler *d = (dry_sampler *)s;
    d->head = d->size = 0;
}

static void dry_free(cria_sampler *s)
{
    dry_sampler *d = (dry_sampler *)s;
    free(d->breakers);
    free(d->ring);
    free(d->rev);
    free(d->z);
    free(d->best);
    free(d->touched);
    free(d->first);
    free(d->single);
}

static const cria_sampler_iface dry_iface = {
    .name = "dry",
    .accept = dry_accept,
    .apply = dry_apply,
    .apply_ref = dry_apply_ref,
    .apply_raw = dry_apply_raw,
    .reset = dry_reset,
    .free = dry_free,
};

/* Adds breaker (head, tail) unless already there; false on no memory. */
static bool add_breaker(dry_sampler *d, size_t *cap, cria_token head, const cria_token *tail, int32_t n_tail)
{
    if (n_tail > DRY_MAX_TAIL)
        n_tail = DRY_MAX_TAIL;
    for (size_t b = 0; b < d->n_breakers; b++) {
        const breaker *br = &d->breakers[b];
        if (br->head == head && br->n_tail == n_tail && !memcmp(br->tail, tail, (size_t)n_tail * sizeof *tail))
            return true;
    }
    if (d->n_breakers == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        breaker *g = realloc(d->breakers, nc * sizeof *g);
        if (!g)
            return false;
        d->breakers = g;
        *cap = nc;
    }
    breaker *br = &d->breakers[d->n_breakers++];
    br->head = head;
    br->n_tail = n_tail;
    if (n_tail)
        memcpy(br->tail, tail, (size_t)n_tail * sizeof *tail);
    return true;
}

static dry_sampler *dry_new(int32_t n_vocab, int32_t n_ctx, float multiplier, float base, int32_t allowed_length,
                            int32_t last_n)
{
    if (n_vocab <= 0)
        return NULL;
    dry_sampler *d = (dry_sampler *)cria_sampler_new(&dry_iface, sizeof *d);
    if (!d)
        return NULL;
    d->n_vocab = n_vocab;
    d->n_ctx = n_ctx > 0 ? n_ctx : 1;
    d->multiplier = multiplier;
    d->base_ = base;
    d->allowed_length = allowed_length;
    d->last_n = last_n;
    d->window = last_n == -1 ? d->n_ctx : (last_n > 0 ? last_n : 0);
    const size_t w = (size_t)(d->window > 0 ? d->window : 1);
    d->ring = malloc(w * sizeof *d->ring);
    d->rev = malloc(w * sizeof *d->rev);
    d->z = malloc(w * sizeof *d->z);
    d->touched = malloc(w * sizeof *d->touched);
    d->best = calloc((size_t)n_vocab, sizeof *d->best);
    d->first = malloc((size_t)n_vocab * sizeof *d->first);
    d->single = calloc((size_t)n_vocab, sizeof *d->single);
    if (!d->ring || !d->rev || !d->z || !d->touched || !d->best || !d->first || !d->single) {
        dry_free(&d->base);
        free(d);
        return NULL;
    }
    return d;
}

cria_sampler *cria_sampler_init_dry_tokens(int32_t n_vocab, int32_t n_ctx, float multiplier, float base,
                                           int32_t allowed_length, int32_t last_n, const cria_token *const *breakers,
                                           const size_t *breaker_lens, size_t n_breakers)
{
    dry_sampler *d = dry_new(n_vocab, n_ctx, multiplier, base, allowed_length, last_n);
    if (!d)
        return NULL;
    size_t cap = 0;
    for (size_t i = 0; i < n_breakers; i++) {
        if (breaker_lens[i] == 0)
            continue;
        if (!add_breaker(d, &cap, breakers[i][0], breakers[i] + 1, (int32_t)breaker_lens[i] - 1)) {
            cria_sampler_free(&d->base);
            return NULL;
        }
    }
    dry_index(d);
    return &d->base;
}

/*
 * The token sequences a breaker string can appear as: every token whose text
 * contains it (head alone), and every token whose text ends with a prefix of
 * it, followed by the tokenization of the rest (head + tail).
 */
static bool add_string_breaker(dry_sampler *d, size_t *cap, const cria_model *model, const char *str)
{
    size_t slen = strlen(str);
    if (slen == 0)
        return true;
    slen = slen < DRY_MAX_CHARS ? slen : DRY_MAX_CHARS;
    char piece[256];
    cria_token tail[64];
    for (cria_token id = 0; id < d->n_vocab; id++) {
        int32_t plen = cria_token_to_piece(model, id, piece, (int32_t)sizeof piece);
        if (plen <= 0)
            continue;
        const size_t wl = (size_t)plen;
        bool contains = false;
        for (size_t p = 0; p + slen <= wl && !contains; p++)
            contains = !memcmp(piece + p, str, slen);
        if (contains) {
            if (!add_breaker(d, cap, id, NULL, 0))
                return false;
            continue;
        }
        for (size_t p = 0; p < wl; p++) {
            size_t i = 0; /* the piece ends with str[0..i) from position p */
            while (i < slen && p + i < wl && piece[p + i] == str[i])
                i++;
            if (p + i != wl || i == 0)
                continue;
            int32_t nt = cria_tokenize(model, str + i, slen - i, tail, 64, 0);
            if (nt < 0)
                nt = 0;
            if (!add_breaker(d, cap, id, tail, nt > DRY_MAX_TAIL ? DRY_MAX_TAIL : nt))
                return false;
        }
    }
    return true;
}

cria_sampler *cria_sampler_init_dry(const cria_model *model, int32_t n_vocab, int32_t n_ctx, float multiplier,
                                    float base, int32_t allowed_length, int32_t last_n, const char *const *breakers,
                                    size_t n_breakers)
{
    dry_sampler *d = dry_new(n_vocab, n_ctx, multiplier, base, allowed_length, last_n);
    if (!d)
        return NULL;
    size_t cap = 0;
    if (model && !dry_off(d)) {
        for (size_t i = 0; i < n_breakers; i++) {
            if (breakers[i] && !add_string_breaker(d, &cap, model, breakers[i])) {
                cria_sampler_free(&d->base);
                return NULL;
            }
        }
    }
    dry_index(d);
    return &d->base;
}
