#include "model/kv_cache.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"

cria_status cria_kv_init(cria_kv_cache *kv, int32_t n_cells, int32_t n_layer, int32_t kv_dim, cria_error *err)
{
    memset(kv, 0, sizeof *kv);
    if (n_cells <= 0 || n_layer <= 0 || kv_dim <= 0)
        return cria_err_set(err, CRIA_ERR_ARG, "KV cache size %d x %d x %d is invalid", n_cells, n_layer, kv_dim);
    size_t elems = (size_t)n_cells * (size_t)n_layer * (size_t)kv_dim;
    kv->n_cells = n_cells;
    kv->n_layer = n_layer;
    kv->kv_dim = kv_dim;
    kv->k = malloc(elems * sizeof *kv->k);
    kv->v = malloc(elems * sizeof *kv->v);
    kv->pos = malloc((size_t)n_cells * sizeof *kv->pos);
    kv->seq = malloc((size_t)n_cells * sizeof *kv->seq);
    if (!kv->k || !kv->v || !kv->pos || !kv->seq) {
        cria_kv_free(kv);
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a KV cache of %d cells (%zu MiB)", n_cells,
                            2 * elems * sizeof(uint16_t) >> 20);
    }
    for (int32_t c = 0; c < n_cells; c++)
        kv->pos[c] = kv->seq[c] = -1;
    return CRIA_OK;
}

void cria_kv_free(cria_kv_cache *kv)
{
    free(kv->k);
    free(kv->v);
    free(kv->pos);
    free(kv->seq);
    memset(kv, 0, sizeof *kv);
}

cria_status cria_kv_claim(cria_kv_cache *kv, int32_t n, const int32_t *seq, const int32_t *pos, int32_t *cells,
                          cria_error *err)
{
    if (n > kv->n_cells - kv->n_used)
        return cria_err_set(err, CRIA_ERR_CONTEXT,
                            "context full: %d tokens need cache cells but only %d of %d are free (raise -c)", n,
                            kv->n_cells - kv->n_used, kv->n_cells);
    int32_t c = 0;
    for (int32_t i = 0; i < n; i++) {
        while (kv->seq[c] >= 0)
            c++;
        kv->seq[c] = seq[i];
        kv->pos[c] = pos[i];
        cells[i] = c;
        if (c + 1 > kv->n_active)
            kv->n_active = c + 1;
    }
    kv->n_used += n;
    return CRIA_OK;
}

void cria_kv_remove(cria_kv_cache *kv, int32_t seq, int32_t p0, int32_t p1)
{
    for (int32_t c = 0; c < kv->n_active; c++) {
        if (kv->seq[c] < 0 || (seq >= 0 && kv->seq[c] != seq))
            continue;
        if (kv->pos[c] < p0 || (p1 >= 0 && kv->pos[c] >= p1))
            continue;
        kv->seq[c] = kv->pos[c] = -1;
        kv->n_used--;
    }
    while (kv->n_active > 0 && kv->seq[kv->n_active - 1] < 0)
        kv->n_active--;
}
