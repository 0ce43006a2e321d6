/*
 * The sampler interface inside the library. Every sampler is a struct whose
 * first member is a cria_sampler (its vtable and path switch), so a
 * cria_sampler * can be cast to the concrete type by the file that owns it.
 *
 * Each sampler has two apply paths over a candidate array:
 *   apply_ref  the naive reference: the readable spec, full sorts, no caches;
 *   apply      the optimised path; tests check it equals apply_ref.
 * and may have a third, apply_raw, used by the chain while the candidates are
 * still the whole vocabulary in id order (a plain float array): it lets
 * top-k, min-p, greedy and dist pick from n_vocab floats without building
 * n_vocab cria_token_data first, temperature scale them in one contiguous
 * pass, and logit bias, penalties and DRY touch only the tokens they change.
 * A raw path gives the same result as apply on the built array.
 */
#ifndef CRIA_SAMPLE_SAMPLER_IMPL_H
#define CRIA_SAMPLE_SAMPLER_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cria.h"

/* The whole vocabulary as logits indexed by token id, copied on first write. */
typedef struct cria_raw_logits {
    const float *logits; /* n floats: the caller's array, or own once written */
    float *own;          /* chain scratch of n floats */
    int32_t n;
    bool written;        /* logits == own */
} cria_raw_logits;

/* Returns a writable view of the raw logits (copies the caller's array once). */
float *cria_raw_writable(cria_raw_logits *raw);

typedef enum cria_raw_result {
    CRIA_RAW_NONE,   /* no raw path for these settings: the chain builds the full array and calls apply */
    CRIA_RAW_KEPT,   /* done; the candidates are still the raw logits */
    CRIA_RAW_BUILT,  /* done; the candidates now live in cur (a filtered array) */
} cria_raw_result;

typedef struct cria_sampler_iface {
    const char *name;
    void (*accept)(cria_sampler *s, cria_token t);                /* optional */
    void (*apply)(cria_sampler *s, cria_token_data_array *cur);
    void (*apply_ref)(cria_sampler *s, cria_token_data_array *cur);
    /* optional; cur->data has room for raw->n entries */
    cria_raw_result (*apply_raw)(cria_sampler *s, cria_raw_logits *raw, cria_token_data_array *cur);
    void (*reset)(cria_sampler *s);                               /* optional */
    void (*free)(cria_sampler *s);                                /* frees what the sampler owns, not s */
} cria_sampler_iface;

struct cria_sampler {
    const cria_sampler_iface *iface;
    bool reference; /* use apply_ref */
};

/* Allocates a zeroed sampler of size bytes (at least sizeof(cria_sampler)) with iface; NULL on no memory. */
cria_sampler *cria_sampler_new(const cria_sampler_iface *iface, size_t size);

/* ---- shared helpers (util.c) ---------------------------------------------- */

/* The order every sort uses: descending logit, ties by ascending id. */
static inline bool cria_cand_before(const cria_token_data *a, const cria_token_data *b)
{
    return a->logit > b->logit || (a->logit == b->logit && a->id < b->id);
}

/* Scratch for the radix sorts, owned by the sampler that sorts; grown on demand. */
typedef struct cria_sort_buf {
    uint32_t *key, *key2, *idx, *idx2;
    cria_token_data *tmp;
    size_t cap;
} cria_sort_buf;

/* Grows buf to n entries; false on no memory. */
bool cria_sort_buf_reserve(cria_sort_buf *buf, size_t n);
void cria_sort_buf_free(cria_sort_buf *buf);

/*
 * Stable LSD radix sort of buf->key[0..n) ascending, carrying buf->idx[0..n)
 * along (the caller fills both after cria_sort_buf_reserve). Passes whose
 * byte is the same for every key are skipped.
 */
void cria_radix_sort(cria_sort_buf *buf, size_t n);

/* A uint32 that orders floats by descending value (-0 and +0 equal; never given NaN). */
uint32_t cria_desc_key(float f);

/* Sorts cur into cria_cand_before order (qsort: the reference). */
void cria_cand_sort_ref(cria_token_data_array *cur);
/*
 * Same result, faster: nothing when cur->sorted; a radix sort on the logit
 * through buf (may be NULL) when the array is large and its ids ascend, so
 * ties stay in id order; qsort otherwise.
 */
void cria_cand_sort(cria_token_data_array *cur, cria_sort_buf *buf);
/* Keeps the k first tokens in cria_cand_before order, sorted (k <= size); the fast path of top-k. */
void cria_cand_top_k(cria_token_data_array *cur, size_t k, cria_sort_buf *buf);
/* Fills out (room for k) with the k best of n raw logits, sorted; NaN counts as -inf. Returns the count. */
size_t cria_raw_top_k(const float *logits, int32_t n, size_t k, cria_token_data *out);
/* Index of the largest raw logit (the first one on ties; NaN never wins unless all are NaN). */
int32_t cria_raw_argmax(const float *logits, int32_t n);

/*
 * Softmax over cur: p = exp(logit - max) / sum, sum in double. When every
 * logit is -inf the distribution is uniform. The reference sorts first (as
 * llama.cpp's softmax(sort = true)); the fast one uses the sorted flag.
 */
void cria_cand_softmax_ref(cria_token_data_array *cur);
void cria_cand_softmax(cria_token_data_array *cur, bool sort, cria_sort_buf *buf);

/* splitmix64 stream: next 64 bits, and a uniform double in [0, 1) with 53 bits. */
uint64_t cria_rng_next(uint64_t *state);
double cria_rng_uniform(uint64_t *state);

/* Draws an index of cur by its probabilities p (need not sum to one) with r in [0, 1). */
size_t cria_draw_index(const cria_token_data_array *cur, double r);

#endif
