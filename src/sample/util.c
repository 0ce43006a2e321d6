/*
 * Helpers every sampler shares: the candidate order, sorting (qsort as the
 * reference, a stable radix sort on the logit bits as the fast path) and
 * top-k selection, softmax, the random stream and the weighted draw; plus the
 * two scans over raw logits (argmax, top-k) that make greedy and the default
 * chain cheap at 150k-token vocabularies.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "sample/sampler_impl.h"

cria_sampler *cria_sampler_new(const cria_sampler_iface *iface, size_t size)
{
    cria_sampler *s = calloc(1, size < sizeof *s ? sizeof *s : size);
    if (s)
        s->iface = iface;
    return s;
}

float *cria_raw_writable(cria_raw_logits *raw)
{
    if (!raw->written) {
        memcpy(raw->own, raw->logits, (size_t)raw->n * sizeof *raw->own);
        raw->logits = raw->own;
        raw->written = true;
    }
    return raw->own;
}

static int cand_cmp(const void *a, const void *b)
{
    const cria_token_data *x = a, *y = b;
    if (cria_cand_before(x, y))
        return -1;
    return cria_cand_before(y, x) ? 1 : 0;
}

void cria_cand_sort_ref(cria_token_data_array *cur)
{
    qsort(cur->data, cur->size, sizeof *cur->data, cand_cmp);
    cur->sorted = 1;
}

/* Min-heap on cria_cand_before (the root is the worst kept candidate). */
static void heap_sift_down(cria_token_data *h, size_t n, size_t i)
{
    cria_token_data x = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && cria_cand_before(&h[c], &h[c + 1]))
            c++;
        if (!cria_cand_before(&x, &h[c]))
            break;
        h[i] = h[c];
        i = c;
    }
    h[i] = x;
}

static void heap_build(cria_token_data *h, size_t n)
{
    for (size_t i = n / 2; i-- > 0;)
        heap_sift_down(h, n, i);
}

/* Sorts a min-heap into cria_cand_before order (heap sort: repeatedly moves the worst to the end). */
static void heap_sort(cria_token_data *h, size_t n)
{
    while (n > 1) {
        cria_token_data t = h[0];
        h[0] = h[n - 1];
        h[n - 1] = t;
        heap_sift_down(h, --n, 0);
    }
}

bool cria_sort_buf_reserve(cria_sort_buf *b, size_t n)
{
    if (n <= b->cap)
        return true;
    cria_sort_buf_free(b);
    b->key = malloc(n * sizeof *b->key);
    b->key2 = malloc(n * sizeof *b->key2);
    b->idx = malloc(n * sizeof *b->idx);
    b->idx2 = malloc(n * sizeof *b->idx2);
    b->tmp = malloc(n * sizeof *b->tmp);
    if (!b->key || !b->key2 || !b->idx || !b->idx2 || !b->tmp) {
        cria_sort_buf_free(b);
        return false;
    }
    b->cap = n;
    return true;
}

void cria_sort_buf_free(cria_sort_buf *b)
{
    free(b->key);
    free(b->key2);
    free(b->idx);
    free(b->idx2);
    free(b->tmp);
    *b = (cria_sort_buf){0};
}

uint32_t cria_desc_key(float f)
{
    if (f == 0.0f)
        f = 0.0f; /* -0 sorts with +0 */
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u = u & 0x80000000u ? ~u : u | 0x80000000u; /* ascending as unsigned */
    return ~u;
}

void cria_radix_sort(cria_sort_buf *b, size_t n)
{
    for (int shift = 0; shift < 32; shift += 8) {
        size_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[(b->key[i] >> shift) & 255u]++;
        if (count[(b->key[0] >> shift) & 255u] == n)
            continue; /* every key has this byte: the pass would change nothing */
        size_t pos = 0;
        for (int d = 0; d < 256; d++) {
            size_t c = count[d];
            count[d] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++) {
            const size_t j = count[(b->key[i] >> shift) & 255u]++;
            b->key2[j] = b->key[i];
            b->idx2[j] = b->idx[i];
        }
        uint32_t *t = b->key;
        b->key = b->key2;
        b->key2 = t;
        t = b->idx;
        b->idx = b->idx2;
        b->idx2 = t;
    }
}

/* Below this size qsort wins over the radix passes. */
#define RADIX_MIN 1024

void cria_cand_sort(cria_token_data_array *cur, cria_sort_buf *buf)
{
    if (cur->sorted)
        return;
    const size_t n = cur->size;
    cria_token_data *d = cur->data;
    bool ids_ascend = n >= RADIX_MIN && buf && n <= UINT32_MAX;
    for (size_t i = 1; i < n && ids_ascend; i++)
        ids_ascend = d[i - 1].id < d[i].id;
    if (!ids_ascend || !cria_sort_buf_reserve(buf, n)) {
        cria_cand_sort_ref(cur);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        buf->key[i] = cria_desc_key(d[i].logit);
        buf->idx[i] = (uint32_t)i;
    }
    cria_radix_sort(buf, n); /* stable: equal logits stay in ascending id order */
    for (size_t i = 0; i < n; i++)
        buf->tmp[i] = d[buf->idx[i]];
    memcpy(d, buf->tmp, n * sizeof *d);
    cur->sorted = 1;
}

void cria_cand_top_k(cria_token_data_array *cur, size_t k, cria_sort_buf *buf)
{
    if (k >= cur->size) {
        cria_cand_sort(cur, buf);
        return;
    }
    if (cur->sorted || k == 0)
        return;
    cria_token_data *d = cur->data;
    heap_build(d, k);
    for (size_t i = k; i < cur->size; i++) {
        if (cria_cand_before(&d[i], &d[0])) {
            cria_token_data t = d[0];
            d[0] = d[i];
            d[i] = t;
            heap_sift_down(d, k, 0);
        }
    }
    heap_sort(d, k);
    /* d[0..k) is sorted; the caller truncates, the rest is in no order */
}

/* Pushes raw logit x of token id into a full min-heap when it beats the root. */
static inline void heap_offer(cria_token_data *h, size_t k, float x, int32_t id)
{
    if (x > h[0].logit) { /* ids only grow, so an equal logit never beats the root */
        h[0].logit = x;
        h[0].id = id;
        h[0].p = 0.0f;
        heap_sift_down(h, k, 0);
    }
}

size_t cria_raw_top_k(const float *logits, int32_t n, size_t k, cria_token_data *out)
{
    if (k > (size_t)n)
        k = (size_t)n;
    if (k == 0)
        return 0;
    for (size_t i = 0; i < k; i++) {
        float x = logits[i];
        out[i] = (cria_token_data){.id = (cria_token)i, .logit = isnan(x) ? -INFINITY : x, .p = 0.0f};
    }
    heap_build(out, k);
    int32_t i = (int32_t)k;
#if defined(__SSE2__)
    /* Blocks of 16: one compare against the current root rejects most of the vocabulary. */
    for (; i < ((int32_t)k + 15) / 16 * 16 && i < n; i++)
        heap_offer(out, k, logits[i], i);
    for (; i + 16 <= n; i += 16) {
        __m128 t = _mm_set1_ps(out[0].logit);
        __m128 c = _mm_or_ps(_mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(logits + i), t),
                                       _mm_cmpgt_ps(_mm_loadu_ps(logits + i + 4), t)),
                             _mm_or_ps(_mm_cmpgt_ps(_mm_loadu_ps(logits + i + 8), t),
                                       _mm_cmpgt_ps(_mm_loadu_ps(logits + i + 12), t)));
        if (_mm_movemask_ps(c) == 0)
            continue;
        for (int32_t j = i; j < i + 16; j++)
            heap_offer(out, k, logits[j], j);
    }
#endif
    for (; i < n; i++)
        heap_offer(out, k, logits[i], i);
    heap_sort(out, k);
    return k;
}

/* Largest of x[0..n), ignoring NaN (-inf when there is none). */
static float block_max(const float *x, int32_t n)
{
    float best = -INFINITY;
    int32_t i = 0;
#if defined(__SSE2__)
    /* four accumulators of four lanes; MAXPS keeps the accumulator when the new value is NaN */
    __m128 m0 = _mm_set1_ps(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    for (; i + 16 <= n; i += 16) {
        m0 = _mm_max_ps(_mm_loadu_ps(x + i), m0);
        m1 = _mm_max_ps(_mm_loadu_ps(x + i + 4), m1);
        m2 = _mm_max_ps(_mm_loadu_ps(x + i + 8), m2);
        m3 = _mm_max_ps(_mm_loadu_ps(x + i + 12), m3);
    }
    float lanes[4];
    _mm_storeu_ps(lanes, _mm_max_ps(_mm_max_ps(m0, m1), _mm_max_ps(m2, m3)));
    for (int j = 0; j < 4; j++)
        best = lanes[j] > best ? lanes[j] : best;
#endif
    for (; i < n; i++)
        best = x[i] > best ? x[i] : best;
    return best;
}

/*
 * One pass over the logits (they may not fit in L2 at 150k tokens): the
 * maximum of each 256-float block, remembering the first block that holds
 * the overall maximum; then that block alone is searched for its index.
 */
int32_t cria_raw_argmax(const float *logits, int32_t n)
{
    enum { BLOCK = 256 };
    float best = -INFINITY;
    int32_t best_block = -1;
    for (int32_t b = 0; b < n; b += BLOCK) {
        const float m = block_max(logits + b, n - b < BLOCK ? n - b : BLOCK);
        if (m > best) {
            best = m;
            best_block = b;
        }
    }
    const int32_t from = best_block >= 0 ? best_block : 0;
    for (int32_t i = from; i < n; i++) {
        if (logits[i] == best)
            return i;
    }
    return 0; /* every logit is NaN */
}

void cria_cand_softmax_ref(cria_token_data_array *cur)
{
    cria_cand_sort_ref(cur);
    cria_cand_softmax(cur, false, NULL);
}

void cria_cand_softmax(cria_token_data_array *cur, bool sort, cria_sort_buf *buf)
{
    if (cur->size == 0)
        return;
    if (sort)
        cria_cand_sort(cur, buf);
    cria_token_data *d = cur->data;
    const size_t n = cur->size;
    float max = d[0].logit;
    if (!cur->sorted) {
        for (size_t i = 1; i < n; i++)
            max = d[i].logit > max ? d[i].logit : max;
    }
    if (max == -INFINITY) { /* nothing is possible: call every candidate equally likely */
        for (size_t i = 0; i < n; i++)
            d[i].p = 1.0f / (float)n;
        return;
    }
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        float p = expf(d[i].logit - max);
        d[i].p = p;
        sum += (double)p;
    }
    const double inv = 1.0 / sum;
    for (size_t i = 0; i < n; i++)
        d[i].p = (float)((double)d[i].p * inv);
}

uint64_t cria_rng_next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

double cria_rng_uniform(uint64_t *state)
{
    return (double)(cria_rng_next(state) >> 11) * 0x1.0p-53;
}

size_t cria_draw_index(const cria_token_data_array *cur, double r)
{
    double total = 0.0;
    for (size_t i = 0; i < cur->size; i++)
        total += (double)cur->data[i].p;
    const double target = r * total;
    double run = 0.0;
    for (size_t i = 0; i < cur->size; i++) {
        run += (double)cur->data[i].p;
        if (run > target && cur->data[i].p > 0.0f)
            return i;
    }
    /* r * total rounded up to total: the last candidate with mass */
    for (size_t i = cur->size; i-- > 0;) {
        if (cur->data[i].p > 0.0f)
            return i;
    }
    return 0;
}
