/*
 * Packing a loaded model's weights for the active kernels (quant/packed.h):
 * every matrix whose type has packed kernels at this ISA level gets a copy
 * in the packed layout, in one anonymous mapping the model owns. The file's
 * pages of a packed matrix are then released from the process (they stay
 * in the page cache, and any later read of the original rows maps them back
 * in), so resident memory stays about the file's size. Packing is only an
 * optimisation: without the memory for it, the weights stay as they are.
 */
#include "model/pack.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "quant/packed.h"

/*
 * The i-th matrix a matmul reads, NULL past the last (the embedding table
 * is only gathered from; a tied classifier shares it).
 */
static cria_weight *weight_at(cria_model *m, size_t i)
{
    enum { PER_LAYER = 7 };
    if (i < (size_t)m->hp.n_layer * PER_LAYER) {
        cria_layer *L = &m->layers[i / PER_LAYER];
        cria_weight *w[PER_LAYER] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        return w[i % PER_LAYER];
    }
    return i == (size_t)m->hp.n_layer * PER_LAYER && !m->tied_output ? &m->output : NULL;
}

static bool packable(const cria_weight *w, cria_isa isa)
{
    return w->data && cria_pack_supported(w->type, isa, w->rows, w->cols);
}

static size_t packed_bytes(const cria_weight *w)
{
    return ((size_t)w->rows * w->row_bytes + 63) & ~(size_t)63;
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

bool cria_model_pack(cria_model *m, cria_isa isa)
{
    cria_weight *w;
    size_t total = 0;
    for (size_t i = 0; (w = weight_at(m, i)); i++)
        if (packable(w, isa))
            total += packed_bytes(w);
    if (total == 0)
        return false;
    void *buf = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED)
        return false;
    size_t off = 0;
    for (size_t i = 0; (w = weight_at(m, i)); i++) {
        if (!packable(w, isa))
            continue;
        uint8_t *dst = (uint8_t *)buf + off;
        cria_pack_rows(w->type, w->data, w->row_bytes, w->cols, 0, w->rows, dst);
        release_pages(w);
        w->packed = dst;
        off += packed_bytes(w);
    }
    mprotect(buf, total, PROT_READ);
    m->packed = buf;
    m->packed_size = total;
    return true;
}

void cria_model_unpack(cria_model *m)
{
    if (m->packed)
        munmap(m->packed, m->packed_size);
    m->packed = NULL;
    m->packed_size = 0;
}
