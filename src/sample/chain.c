/*
 * The sampler chain, the public sampler entry points and cria_sampler_sample.
 *
 * Sampling starts from the raw logits: while the chain's samplers offer a raw
 * path (logit bias, penalties and DRY write a private copy of the few logits
 * they change, temperature scales the copy; top-k, min-p, greedy and dist
 * select from the floats), no n_vocab candidate array is built. The first
 * sampler without one builds it and the rest run on candidates; a chain that
 * ends still on raw logits picks their argmax. The reference mode skips the
 * raw paths entirely.
 */
#include <math.h>
#include <stdlib.h>

#include "sample/sampler_impl.h"

typedef struct chain_sampler {
    cria_sampler base;
    cria_sampler **s;
    int32_t n, cap;
    cria_token_data *cand; /* n_vocab candidates */
    float *raw;            /* n_vocab logits, written by raw paths */
    int32_t n_vocab;       /* size of the two buffers */
    int64_t t_us;
    int32_t n_sample;
} chain_sampler;

static const cria_sampler_iface chain_iface;

static chain_sampler *as_chain(const cria_sampler *s)
{
    return s && s->iface == &chain_iface ? (chain_sampler *)(uintptr_t)s : NULL;
}

static void chain_accept(cria_sampler *s, cria_token t)
{
    chain_sampler *c = (chain_sampler *)s;
    for (int32_t i = 0; i < c->n; i++)
        cria_sampler_accept(c->s[i], t);
}

static void chain_apply(cria_sampler *s, cria_token_data_array *cur)
{
    chain_sampler *c = (chain_sampler *)s;
    for (int32_t i = 0; i < c->n; i++)
        cria_sampler_apply(c->s[i], cur);
}

static void chain_reset(cria_sampler *s)
{
    chain_sampler *c = (chain_sampler *)s;
    for (int32_t i = 0; i < c->n; i++)
        cria_sampler_reset(c->s[i]);
}

static void chain_free(cria_sampler *s)
{
    chain_sampler *c = (chain_sampler *)s;
    for (int32_t i = 0; i < c->n; i++)
        cria_sampler_free(c->s[i]);
    free(c->s);
    free(c->cand);
    free(c->raw);
}

static const cria_sampler_iface chain_iface = {
    .name = "chain",
    .accept = chain_accept,
    .apply = chain_apply,
    .apply_ref = chain_apply,
    .reset = chain_reset,
    .free = chain_free,
};

cria_sampler *cria_sampler_chain_init(void)
{
    return cria_sampler_new(&chain_iface, sizeof(chain_sampler));
}

int cria_sampler_chain_add(cria_sampler *chain, cria_sampler *s)
{
    chain_sampler *c = as_chain(chain);
    if (!c || !s) {
        cria_sampler_free(s);
        return 0;
    }
    if (c->n == c->cap) {
        int32_t nc = c->cap ? c->cap * 2 : 8;
        cria_sampler **g = realloc(c->s, (size_t)nc * sizeof *g);
        if (!g) {
            cria_sampler_free(s);
            return 0;
        }
        c->s = g;
        c->cap = nc;
    }
    cria_sampler_set_reference(s, chain->reference);
    c->s[c->n++] = s;
    return 1;
}

int32_t cria_sampler_chain_n(const cria_sampler *chain)
{
    const chain_sampler *c = as_chain(chain);
    return c ? c->n : 0;
}

cria_sampler *cria_sampler_chain_get(const cria_sampler *chain, int32_t i)
{
    const chain_sampler *c = as_chain(chain);
    return c && i >= 0 && i < c->n ? c->s[i] : NULL;
}

cria_sampler_perf cria_sampler_chain_perf(const cria_sampler *chain)
{
    const chain_sampler *c = as_chain(chain);
    cria_sampler_perf p = {0, 0};
    if (c) {
        p.t_sample_us = c->t_us;
        p.n_sample = c->n_sample;
    }
    return p;
}

const char *cria_sampler_name(const cria_sampler *s)
{
    return s ? s->iface->name : "(null)";
}

void cria_sampler_accept(cria_sampler *s, cria_token t)
{
    if (s && s->iface->accept)
        s->iface->accept(s, t);
}

void cria_sampler_apply(cria_sampler *s, cria_token_data_array *cur)
{
    if (s)
        (s->reference ? s->iface->apply_ref : s->iface->apply)(s, cur);
}

void cria_sampler_reset(cria_sampler *s)
{
    if (s && s->iface->reset)
        s->iface->reset(s);
}

void cria_sampler_set_reference(cria_sampler *s, int on)
{
    if (!s)
        return;
    s->reference = on != 0;
    chain_sampler *c = as_chain(s);
    for (int32_t i = 0; c && i < c->n; i++)
        cria_sampler_set_reference(c->s[i], on);
}

void cria_sampler_free(cria_sampler *s)
{
    if (!s)
        return;
    if (s->iface->free)
        s->iface->free(s);
    free(s);
}

/* Every token as a candidate, NaN read as -inf. */
static void build_all(cria_token_data_array *cur, const float *x, int32_t n)
{
    cria_token_data *d = cur->data;
    for (int32_t i = 0; i < n; i++)
        d[i] = (cria_token_data){.id = i, .logit = isnan(x[i]) ? -INFINITY : x[i], .p = 0.0f};
    cur->size = (size_t)n;
    cur->sorted = 0;
}

/* Grows the chain's buffers to n_vocab; false on no memory. */
static bool chain_reserve(chain_sampler *c, int32_t n_vocab)
{
    if (n_vocab <= c->n_vocab)
        return true;
    free(c->cand);
    free(c->raw);
    c->cand = malloc((size_t)n_vocab * sizeof *c->cand);
    c->raw = malloc((size_t)n_vocab * sizeof *c->raw);
    c->n_vocab = c->cand && c->raw ? n_vocab : 0;
    return c->n_vocab != 0;
}

/*
 * Runs samplers s[0..n) over the logits into cur (room for n_vocab). Returns
 * -1 when the candidates were built into cur, or the token to pick when every
 * sampler ran on the raw logits (their argmax, as the built array would give).
 */
static cria_token run_samplers(cria_sampler *const *s, int32_t n, const float *logits, int32_t n_vocab,
                               float *scratch, cria_token_data_array *cur)
{
    cria_raw_logits raw = {.logits = logits, .own = scratch, .n = n_vocab, .written = false};
    bool is_raw = true;
    for (int32_t i = 0; i < n; i++) {
        if (is_raw && !s[i]->reference && s[i]->iface->apply_raw) {
            cria_raw_result r = s[i]->iface->apply_raw(s[i], &raw, cur);
            if (r == CRIA_RAW_KEPT)
                continue;
            if (r == CRIA_RAW_BUILT) {
                is_raw = false;
                continue;
            }
        }
        if (is_raw) {
            build_all(cur, raw.logits, n_vocab);
            is_raw = false;
        }
        cria_sampler_apply(s[i], cur);
    }
    if (is_raw && s[0]->reference)
        build_all(cur, raw.logits, n_vocab);
    else if (is_raw)
        return cria_raw_argmax(raw.logits, n_vocab);
    return -1;
}

/* Index of the first candidate in cria_cand_before order: the best logit, ties by smaller id. */
static int64_t most_likely(const cria_token_data_array *cur)
{
    if (cur->size == 0)
        return -1;
    const cria_token_data *d = cur->data;
    float m[4] = {d[0].logit, d[0].logit, d[0].logit, d[0].logit}; /* four chains hide the max latency */
    size_t i = 1;
    for (; i + 4 <= cur->size; i += 4) {
        for (int j = 0; j < 4; j++)
            m[j] = d[i + j].logit > m[j] ? d[i + j].logit : m[j];
    }
    for (; i < cur->size; i++)
        m[0] = d[i].logit > m[0] ? d[i].logit : m[0];
    float best = m[0];
    for (int j = 1; j < 4; j++)
        best = m[j] > best ? m[j] : best;
    int64_t sel = -1;
    for (i = 0; i < cur->size; i++) {
        if (d[i].logit == best && (sel < 0 || d[i].id < d[sel].id))
            sel = (int64_t)i;
    }
    return sel >= 0 ? sel : 0; /* NaN never equals itself */
}

cria_token cria_sampler_sample(cria_sampler *s, const float *logits, int32_t n_vocab)
{
    if (!s || !logits || n_vocab <= 0)
        return -1;
    const int64_t t0 = cria_time_us();
    chain_sampler *c = as_chain(s);
    cria_token_data *own = NULL;
    float *own_raw = NULL;
    cria_token_data_array cur = {.selected = -1};
    cria_token tok = -1;
    if (c) {
        if (!chain_reserve(c, n_vocab))
            return -1;
        cur.data = c->cand;
        if (c->n == 0)
            build_all(&cur, logits, n_vocab);
        else
            tok = run_samplers(c->s, c->n, logits, n_vocab, c->raw, &cur);
    } else {
        own = malloc((size_t)n_vocab * sizeof *own);
        own_raw = malloc((size_t)n_vocab * sizeof *own_raw);
        if (!own || !own_raw) {
            free(own);
            free(own_raw);
            return -1;
        }
        cur.data = own;
        tok = run_samplers(&s, 1, logits, n_vocab, own_raw, &cur);
    }
    if (tok >= 0) {
        /* picked on the raw logits */
    } else if (cur.selected < 0 || (size_t)cur.selected >= cur.size) { /* no selecting sampler: the most likely left */
        cur.selected = most_likely(&cur);
    }
    if (tok < 0)
        tok = cur.size ? cur.data[cur.selected].id : cria_raw_argmax(logits, n_vocab);
    cria_sampler_accept(s, tok);
    free(own);
    free(own_raw);
    if (c) {
        c->t_us += cria_time_us() - t0;
        c->n_sample++;
    }
    return tok;
}
