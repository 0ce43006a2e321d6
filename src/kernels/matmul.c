#include "kernels/matmul.h"

#include <stdatomic.h>

#include "quant/quant.h"

/* Weight rows per work item: small enough to balance, large enough that the counter stays cold. */
enum { ROW_CHUNK = 16 };

typedef struct matmul_task {
    const cria_vec_kernels *k;
    const cria_quant_traits *q; /* block-quantized weights: their kernels at this ISA level; else NULL */
    const cria_weight *w;
    const float *x;  /* f32 activations */
    const void *xc;  /* activations in the dot product's type */
    size_t xc_row_bytes;
    int64_t n;
    float *y;
    atomic_long next_chunk;
} matmul_task;

/*
 * Two bytes per element covers every activation type: f16/bf16 take 2, the
 * block types at most 36 bytes per 32 (Q8_1) or 292 per 256 (Q8_K).
 */
size_t cria_matmul_scratch_bytes(int64_t n, int64_t cols)
{
    return (size_t)n * (size_t)cols * sizeof(uint16_t);
}

static float dot_row(const matmul_task *t, const void *wrow, int64_t tok)
{
    const int64_t cols = t->w->cols;
    if (t->q)
        return t->q->vec_dot(cols, wrow, (const char *)t->xc + (size_t)tok * t->xc_row_bytes);
    switch (t->w->type) {
    case CRIA_DTYPE_F16:
        return t->k->dot_f16(cols, wrow, (const uint16_t *)((const char *)t->xc + (size_t)tok * t->xc_row_bytes));
    case CRIA_DTYPE_BF16:
        return t->k->dot_bf16(cols, wrow, (const uint16_t *)((const char *)t->xc + (size_t)tok * t->xc_row_bytes));
    default:
        return t->k->dot_f32(cols, wrow, t->x + tok * cols);
    }
}

static void matmul_worker(void *arg, int ith, int nth)
{
    (void)ith;
    (void)nth;
    matmul_task *t = arg;
    const int64_t rows = t->w->rows;
    const int64_t n_chunks = (rows + ROW_CHUNK - 1) / ROW_CHUNK;
    for (;;) {
        long c = atomic_fetch_add_explicit(&t->next_chunk, 1, memory_order_relaxed);
        if (c >= n_chunks)
            break;
        const int64_t r0 = c * ROW_CHUNK, r1 = r0 + ROW_CHUNK < rows ? r0 + ROW_CHUNK : rows;
        for (int64_t tok = 0; tok < t->n; tok++) {
            float *yrow = t->y + tok * rows;
            int64_t r = r0;
            if (t->q && t->q->vec_dot_rows) {
                const void *xq = (const char *)t->xc + (size_t)tok * t->xc_row_bytes;
                for (; r < r1; r += CRIA_DOT_ROWS) {
                    const int nr = r1 - r < CRIA_DOT_ROWS ? (int)(r1 - r) : CRIA_DOT_ROWS;
                    t->q->vec_dot_rows(t->w->cols, nr, (const char *)t->w->data + (size_t)r * t->w->row_bytes,
                                       t->w->row_bytes, xq, yrow + r);
                }
            }
            for (; r < r1; r++)
                yrow[r] = dot_row(t, (const char *)t->w->data + (size_t)r * t->w->row_bytes, tok);
        }
    }
}

void cria_matmul(const cria_vec_kernels *k, cria_pool *pool, int nth, const cria_weight *w, const float *x,
                 int64_t n, float *y, void *scratch)
{
    matmul_task t = {.k = k, .w = w, .x = x, .xc = scratch, .n = n, .y = y};
    atomic_init(&t.next_chunk, 0);
    t.xc_row_bytes = (size_t)w->cols * sizeof(uint16_t);
    t.q = cria_quant_traits_for(w->type, k->isa);
    if (t.q) {
        /* each activation row quantized once to the weight's dot type, as the reference engine does */
        const cria_quant_traits *a = cria_quant_traits_for(t.q->vec_dot_type, k->isa);
        t.xc_row_bytes = (size_t)(w->cols / a->block) * a->block_bytes;
        for (int64_t tok = 0; tok < n; tok++)
            a->from_float(x + tok * w->cols, (char *)scratch + (size_t)tok * t.xc_row_bytes, w->cols);
    } else if (w->type == CRIA_DTYPE_F16 || w->type == CRIA_DTYPE_BF16) {
        for (int64_t tok = 0; tok < n; tok++) {
            uint16_t *dst = (uint16_t *)((char *)scratch + (size_t)tok * t.xc_row_bytes);
            if (w->type == CRIA_DTYPE_F16)
                k->f32_to_f16(w->cols, x + tok * w->cols, dst);
            else
                k->f32_to_bf16(w->cols, x + tok * w->cols, dst);
        }
    }
    const int64_t n_chunks = (w->rows + ROW_CHUNK - 1) / ROW_CHUNK;
    if (nth > n_chunks)
        nth = (int)n_chunks;
    cria_pool_run(pool, nth, matmul_worker, &t);
}
