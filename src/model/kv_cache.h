/*
 * The KV cache: n_cells slots shared by every sequence of a context. Each
 * cell holds one token's keys and values for every layer, tagged with its
 * sequence id and position; a query attends to the cells of its own sequence
 * at positions up to its own. Keys and values are stored in half precision
 * (as the reference engine stores them by default), layer-major:
 * k[layer][cell][kv_dim].
 */
#ifndef CRIA_MODEL_KV_CACHE_H
#define CRIA_MODEL_KV_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "cria.h"

typedef struct cria_kv_cache {
    int32_t n_cells;
    int32_t n_layer;
    int32_t kv_dim;
    uint16_t *k, *v;   /* [n_layer][n_cells][kv_dim] half floats */
    int32_t *pos;      /* per cell; -1 when free */
    int32_t *seq;      /* per cell; -1 when free */
    int32_t n_used;    /* cells in use */
    int32_t n_active;  /* one past the highest cell in use: attention scans [0, n_active) */
} cria_kv_cache;

cria_status cria_kv_init(cria_kv_cache *kv, int32_t n_cells, int32_t n_layer, int32_t kv_dim, cria_error *err);
void cria_kv_free(cria_kv_cache *kv);

/*
 * Claims n free cells (lowest first) for the tokens (seq[i], pos[i]) and
 * writes their indices to cells. Fails with CRIA_ERR_CONTEXT, claiming none,
 * when fewer than n are free.
 */
cria_status cria_kv_claim(cria_kv_cache *kv, int32_t n, const int32_t *seq, const int32_t *pos, int32_t *cells,
                          cria_error *err);

/* Frees the cells of sequence seq (every sequence when seq < 0) with p0 <= pos < p1 (p1 < 0: no upper bound). */
void cria_kv_remove(cria_kv_cache *kv, int32_t seq, int32_t p0, int32_t p1);

static inline uint16_t *cria_kv_k(const cria_kv_cache *kv, int32_t layer, int32_t cell)
{
    return kv->k + ((int64_t)layer * kv->n_cells + cell) * kv->kv_dim;
}

static inline uint16_t *cria_kv_v(const cria_kv_cache *kv, int32_t layer, int32_t cell)
{
    return kv->v + ((int64_t)layer * kv->n_cells + cell) * kv->kv_dim;
}

#endif
