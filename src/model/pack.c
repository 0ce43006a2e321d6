/*
 * Packing a loaded model's weights for the active kernels (quant/packed.h):
 * every matrix whose type has packed kernels at this ISA level gets a copy
 * in the packed layout, in one anonymous mapping the model owns. The file's
 * pages of a packed matrix are then released from the process (they stay
 * in the page cache, and any later read of the original rows maps them back
 * in), so resident memory stays about the file's size.
 */
#include "model/pack.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/error.h"
#include "quant/packed.h"

/* Every matrix a matmul reads (the embedding table is only gathered from; a tied classifier shares it). */
static size_t model_weights(cria_model *m, cria_weight **out)
{
    size_t n = 0;
    for (int32_t l = 0; l < m->hp.n_layer; l++) {
        cria_layer *L = &m->layers[l];
        cria_weight *w[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
            if (out)
                out[n++] = w[i];
            else
                n++;
    }
    if (!m->tied_output) {
        if (out)
            out[n] = &m->output;
        n++;
    }
    return n;
}

static bool packable(const cria_weight *w, cria_isa isa)
{
    return w->data && cria_pack_supported(w->type, isa, w->rows, w->cols);
}

/* Drops the process's mapping of a packed matrix's whole pages of the file (MADV_DONTNEED keeps the file's bytes). */
static void release_pages(const cria_weight *w)
{
    const uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    const uintptr_t lo = ((uintptr_t)w->data + page - 1) & ~(page - 1);
    const uintptr_t hi = ((uintptr_t)w->data + (uintptr_t)w->rows * w->row_bytes) & ~(page - 1);
    if (hi > lo)
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

cria_status cria_model_pack(cria_model *m, cria_isa isa, cria_error *err)
{
    const size_t nw = model_weights(m, NULL);
    cria_weight **ws = malloc((nw > 0 ? nw : 1) * sizeof *ws);
    if (!ws)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory packing weights");
    model_weights(m, ws);
    size_t total = 0;
    for (size_t i = 0; i < nw; i++)
        if (packable(ws[i], isa))
            total += ((size_t)ws[i]->rows * ws[i]->row_bytes + 63) & ~(size_t)63;
    void *buf = total ? mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) : NULL;
    if (buf == MAP_FAILED) {
        free(ws);
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory packing %zu bytes of weights", total);
    }
    size_t off = 0;
    for (size_t i = 0; i < nw; i++) {
        cria_weight *w = ws[i];
        if (!packable(w, isa))
            continue;
        uint8_t *dst = (uint8_t *)buf + off;
        cria_pack_rows(w->type, w->data, w->row_bytes, w->cols, 0, w->rows, dst);
        release_pages(w);
        w->packed = dst;
        off += ((size_t)w->rows * w->row_bytes + 63) & ~(size_t)63;
    }
    free(ws);
    if (!buf)
        return CRIA_OK;
    mprotect(buf, total, PROT_READ);
    m->packed = buf;
    m->packed_size = total;
    return CRIA_OK;
}

void cria_model_unpack(cria_model *m)
{
    if (m->packed)
        munmap(m->packed, m->packed_size);
    m->packed = NULL;
    m->packed_size = 0;
}
