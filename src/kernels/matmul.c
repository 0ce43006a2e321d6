#include "kernels/matmul.h"

#include <stdatomic.h>

#include "parallel/membind.h"
#include "quant/packed.h"
#include "quant/quant.h"

/* Weight rows per work item: small enough to balance, large enough that the counter stays cold. */
enum { ROW_CHUNK = 16 };
/* work items, and NUMA shares, then start at whole packed groups */
_Static_assert(ROW_CHUNK % CRIA_PACK_ROWS == 0, "row chunks of whole packed groups");

/*
 * One-token matmuls of block types, and every matmul of f32/f16/bf16
 * weights, take bigger items where there are at least 8 per thread: a
 * thread then streams 64 contiguous rows and its kernels' prefetch of the
 * next rows lands in its own item. TinyLlama q4_0 tg64 at 2 threads:
 * 40.7-42.2 t/s against 31.0-36.8 with 16-row items; stories110M f16 tg
 * 101-103 -> 117-118 t/s. (Prompts of block types keep 16-row items for
 * their GEMM.)
 */
enum { GEMV_CHUNK = 64 };

/*
 * Up to this many tokens a matmul streams its weights from memory rather
 * than computing on them, and each thread starts on a contiguous share of
 * the rows (see cria_matmul_multi). With items handed out in turn, the
 * threads alternated and every kernel's prefetch ran into the other
 * thread's rows: 2 threads, TinyLlama q4_0 tg64 39.0-42.3 -> 43.0-44.5 t/s;
 * stories110M q8_0, 2 streams, 138-146 -> 267-283 t/s (with the tiles'
 * prefetch). Prompts (compute-bound) showed no difference either way.
 */
enum { SHARE_TOKENS = 16 };

/*
 * Up to this many tokens, types with a one-token GEMV and no GEMM at that
 * count run the GEMV once per token over each row group while it is in L1,
 * rather than vec_dot_tile: the GEMVs unpack K-quants far more cheaply.
 * stories110M shape, 2 threads: q4_k_m 2 streams 177-198 -> 412-431 t/s,
 * 8 streams 450-465 -> 534-535; q4_0's Q6_K classifier at 2 tokens 1.29
 * -> 0.37 ms per token.
 */
enum { GEMV_MAX_TOKS = 8 };

/* Weights sharing one input in one dispatch: Q, K and V, or gate and up. */
enum { MAX_PARTS = 4 };

typedef struct matmul_part {
    const cria_weight *w;
    const cria_quant_traits *q; /* block-quantized weights: their kernels at this ISA level; else NULL */
    bool gemm;                  /* the prompt goes through q->gemm (the activations' prep is done) */
    bool gemv;                  /* one token goes through q->gemv (likewise) */
    bool packed;                /* any tokens go through q->packed over w->packed (gemm_prep's layout done) */
    float *y;
    long chunk0;                /* first chunk index of this part */
} matmul_part;

/* NUMA groups a matmul splits its rows over; more nodes than this share one counter. */
enum { MAX_GROUPS = 8 };

typedef struct matmul_task {
    const cria_vec_kernels *k;
    matmul_part part[MAX_PARTS];
    int n_parts;
    /*
     * With thread groups (one per NUMA node), each part's chunks are split
     * into contiguous shares in proportion to the groups' threads: a thread
     * takes chunks of its own group's share first (the rows cria_matmul_place
     * put on its node), then helps the other groups.
     */
    int n_groups;
    const int *group_of_thread;
    long group_lo[MAX_GROUPS][MAX_PARTS], group_hi[MAX_GROUPS][MAX_PARTS], group_n[MAX_GROUPS];
    atomic_long group_next[MAX_GROUPS];
    const float *x;  /* f32 activations */
    const void *xc;  /* activations in the dot product's type */
    const void *xe;  /* their gemm_prep or gemv_prep layout, for parts with gemm or gemv */
    size_t xe_stride; /* bytes between tokens' gemv_prep layouts */
    size_t xc_row_bytes;
    int64_t n;
    int64_t chunk_rows; /* rows per work item: ROW_CHUNK, or GEMV_CHUNK for one token of block types */
    long n_chunks;
    atomic_long next_chunk;
} matmul_task;

/*
 * Four bytes per element covers every activation format: f16-rounded floats
 * take 4, bf16 2, the block types at most 36 bytes per 32 (Q8_1) or 292 per
 * 256 (Q8_K). At least a GEMM tile of tokens' worth, so that the gemm_prep
 * layout of a few tokens (a whole tile, 10 bytes per element) fits after
 * the activations.
 */
size_t cria_matmul_scratch_bytes(int64_t n, int64_t cols)
{
    return (size_t)(n < CRIA_GEMM_TOKS ? CRIA_GEMM_TOKS : n) * (size_t)cols * sizeof(float);
}

static float dot_row(const matmul_task *t, const matmul_part *p, const void *wrow, int64_t tok)
{
    const int64_t cols = p->w->cols;
    const void *xc = (const char *)t->xc + (size_t)tok * t->xc_row_bytes;
    if (p->q)
        return p->q->vec_dot(cols, wrow, xc);
    /* f32 and f16 weights go through the tiles (tile_rows); bf16 is left */
    if (p->w->type == CRIA_DTYPE_BF16)
        return t->k->dot_bf16(cols, wrow, xc);
    return t->k->dot_f32(cols, wrow, t->x + tok * cols);
}

/*
 * Rows [r0, r1) of an f32 or f16 part for every token, in register tiles of
 * the kernel table: each weight vector is loaded once per tile of tokens, so
 * a batch costs little more than one token while the weights stay in cache.
 */
static void tile_rows(const matmul_task *t, const matmul_part *p, int64_t r0, int64_t r1)
{
    const cria_vec_kernels *k = t->k;
    const int64_t cols = p->w->cols, rows = p->w->rows;
    const bool f16 = p->w->type == CRIA_DTYPE_F16;
    const int64_t ws = (int64_t)p->w->row_bytes / (f16 ? 2 : 4);
    for (int64_t tok = 0; tok < t->n; tok += k->tile_toks) {
        const int nt = t->n - tok < k->tile_toks ? (int)(t->n - tok) : k->tile_toks;
        for (int64_t r = r0; r < r1; r += k->tile_rows) {
            const int nr = r1 - r < k->tile_rows ? (int)(r1 - r) : k->tile_rows;
            float *y = p->y + tok * rows + r;
            if (f16)
                k->tile_f16(cols, nr, (const uint16_t *)p->w->data + r * ws, ws, nt, (const float *)t->xc + tok * cols,
                            cols, y, rows);
            else
                k->tile_f32(cols, nr, (const float *)p->w->data + r * ws, ws, nt, t->x + tok * cols, cols, y, rows);
        }
    }
}

/* Group g's share [lo, hi) of n chunks: contiguous, in proportion to its threads. */
static void group_share(long n, cria_pool_groups g, int gi, long *lo, long *hi)
{
    long before = 0, total = 0;
    for (int i = 0; i < g.n; i++) {
        before += i < gi ? g.threads[i] : 0;
        total += g.threads[i];
    }
    *lo = (long)((int64_t)n * before / total);
    *hi = (long)((int64_t)n * (before + g.threads[gi]) / total);
}

/* The next chunk for thread ith: from its group's share first, then the other groups'. False when none is left. */
static bool next_chunk(matmul_task *t, int ith, long *c)
{
    if (t->n_groups <= 1) {
        *c = atomic_fetch_add_explicit(&t->next_chunk, 1, memory_order_relaxed);
        return *c < t->n_chunks;
    }
    const int g0 = t->group_of_thread[ith];
    for (int k = 0; k < t->n_groups; k++) {
        const int g = (g0 + k) % t->n_groups;
        if (atomic_load_explicit(&t->group_next[g], memory_order_relaxed) >= t->group_n[g])
            continue;
        long i = atomic_fetch_add_explicit(&t->group_next[g], 1, memory_order_relaxed);
        if (i >= t->group_n[g])
            continue;
        for (int p = 0; p < t->n_parts; p++) {
            const long cnt = t->group_hi[g][p] - t->group_lo[g][p];
            if (i < cnt) {
                *c = t->part[p].chunk0 + t->group_lo[g][p] + i;
                return true;
            }
            i -= cnt;
        }
    }
    return false;
}

static void matmul_worker(void *arg, int ith, int nth)
{
    (void)nth;
    matmul_task *t = arg;
    long c;
    while (next_chunk(t, ith, &c)) {
        int pi = 0;
        while (pi + 1 < t->n_parts && c >= t->part[pi + 1].chunk0)
            pi++;
        const matmul_part *p = &t->part[pi];
        const int64_t rows = p->w->rows;
        const int64_t cr = t->chunk_rows;
        const int64_t r0 = (c - p->chunk0) * cr, r1 = r0 + cr < rows ? r0 + cr : rows;
        if (p->w->type == CRIA_DTYPE_F32 || p->w->type == CRIA_DTYPE_F16) {
            tile_rows(t, p, r0, r1);
            continue;
        }
        if (p->packed) {
            for (int64_t r = r0; r < r1; r += CRIA_PACK_ROWS)
                p->q->packed(p->w->cols, (const char *)p->w->packed + (size_t)r * p->w->row_bytes, (int)t->n, t->xe,
                             p->y + r, (size_t)rows);
            continue;
        }
        if (p->gemv) {
            /* a few tokens: each row group once per token while it is in L1 */
            for (int64_t r = r0; r < r1; r += CRIA_DOT_ROWS) {
                const int nr = r1 - r < CRIA_DOT_ROWS ? (int)(r1 - r) : CRIA_DOT_ROWS;
                for (int64_t tok = 0; tok < t->n; tok++)
                    p->q->gemv(p->w->cols, nr, (const char *)p->w->data + (size_t)r * p->w->row_bytes,
                               p->w->row_bytes, (const char *)t->xc + (size_t)tok * t->xc_row_bytes,
                               (const char *)t->xe + (size_t)tok * t->xe_stride, p->y + tok * rows + r);
            }
            continue;
        }
        if (p->gemm) {
            for (int64_t r = r0; r < r1; r += CRIA_GEMM_ROWS) {
                const int nr = r1 - r < CRIA_GEMM_ROWS ? (int)(r1 - r) : CRIA_GEMM_ROWS;
                p->q->gemm(p->w->cols, nr, (const char *)p->w->data + (size_t)r * p->w->row_bytes, p->w->row_bytes,
                           (int)t->n, t->xc, t->xc_row_bytes, t->xe, p->y + r, (size_t)rows);
            }
            continue;
        }
        if (p->q && p->q->vec_dot_tile && t->n > 1) {
            const int tt = p->q->tile_toks;
            for (int64_t tok = 0; tok < t->n; tok += tt) {
                const int nt = t->n - tok < tt ? (int)(t->n - tok) : tt;
                const void *xq = (const char *)t->xc + (size_t)tok * t->xc_row_bytes;
                for (int64_t r = r0; r < r1; r += CRIA_DOT_ROWS) {
                    const int nr = r1 - r < CRIA_DOT_ROWS ? (int)(r1 - r) : CRIA_DOT_ROWS;
                    p->q->vec_dot_tile(p->w->cols, nr, (const char *)p->w->data + (size_t)r * p->w->row_bytes,
                                       p->w->row_bytes, nt, xq, t->xc_row_bytes, p->y + tok * rows + r,
                                       (size_t)rows);
                }
            }
            continue;
        }
        for (int64_t tok = 0; tok < t->n; tok++) {
            float *yrow = p->y + tok * rows;
            int64_t r = r0;
            if (p->q && p->q->vec_dot_rows) {
                const void *xq = (const char *)t->xc + (size_t)tok * t->xc_row_bytes;
                for (; r < r1; r += CRIA_DOT_ROWS) {
                    const int nr = r1 - r < CRIA_DOT_ROWS ? (int)(r1 - r) : CRIA_DOT_ROWS;
                    p->q->vec_dot_rows(p->w->cols, nr, (const char *)p->w->data + (size_t)r * p->w->row_bytes,
                                       p->w->row_bytes, xq, yrow + r);
                }
            }
            for (; r < r1; r++)
                yrow[r] = dot_row(t, p, (const char *)p->w->data + (size_t)r * p->w->row_bytes, tok);
        }
    }
}

/*
 * The format the activations take for w's dot product: -1 for f32, the type
 * id for f16/bf16, and 1000 + the activation type for block types.
 */
static int act_format(const cria_weight *w, const cria_quant_traits *q)
{
    if (q)
        return 1000 + (int)q->vec_dot_type;
    return w->type == CRIA_DTYPE_F16 || w->type == CRIA_DTYPE_BF16 ? (int)w->type : -1;
}

void cria_matmul_multi(const cria_vec_kernels *k, cria_pool *pool, int nth, int count, const cria_weight *const *w,
                       float *const *y, const float *x, int64_t n, void *scratch)
{
    matmul_task t = {.k = k, .x = x, .xc = scratch, .n = n, .n_parts = count};
    bool shared = count <= MAX_PARTS;
    for (int i = 0; i < count && shared; i++) {
        t.part[i] = (matmul_part){.w = w[i], .y = y[i], .q = cria_quant_traits_for(w[i]->type, k->isa)};
        shared = w[i]->cols == w[0]->cols && act_format(w[i], t.part[i].q) == act_format(w[0], t.part[0].q);
    }
    if (!shared) { /* inputs converted differently: one dispatch each */
        for (int i = 0; i < count; i++)
            cria_matmul_multi(k, pool, nth, 1, &w[i], &y[i], x, n, scratch);
        return;
    }
    const cria_weight *w0 = w[0];
    t.xc_row_bytes = (size_t)w0->cols * sizeof(uint16_t);
    if (t.part[0].q) {
        /* each activation row quantized once to the weights' dot type, as the reference engine does */
        const cria_quant_traits *a = cria_quant_traits_for(t.part[0].q->vec_dot_type, k->isa);
        t.xc_row_bytes = (size_t)(w0->cols / a->block) * a->block_bytes;
        for (int64_t tok = 0; tok < n; tok++)
            a->from_float(x + tok * w0->cols, (char *)scratch + (size_t)tok * t.xc_row_bytes, w0->cols);
        /*
         * Prompts take the repacking GEMM where the type has one; its
         * activation layout (gemm_prep) goes after the activations when the
         * scratch (4 bytes per element) holds both: at 16+ tokens, at most
         * 1.14 + 1.8 bytes per element.
         */
        const size_t at = ((size_t)n * t.xc_row_bytes + 63) & ~(size_t)63;
        const size_t size = cria_matmul_scratch_bytes(n, w0->cols), room = size > at ? size - at : 0;
        const size_t tiles = ((size_t)n + CRIA_GEMM_TOKS - 1) / CRIA_GEMM_TOKS * CRIA_GEMM_TOKS;
        cria_gemm_prep_fn prep = NULL;
        cria_gemv_prep_fn vprep = NULL;
        /*
         * Weights packed at load take any number of tokens, the repacking
         * GEMM prompts from gemm_min_toks; both read gemm_prep's layout.
         */
        for (int i = 0; i < count && n <= INT32_MAX; i++) {
            const cria_quant_traits *q = t.part[i].q;
            const bool pk = w[i]->packed && q->packed;
            const bool gemm = q->gemm && n > 1 && n >= q->gemm_min_toks;
            const cria_gemm_prep_fn f = pk ? q->packed_prep : gemm ? q->gemm_prep : NULL;
            const size_t per = pk ? q->packed_extra : q->gemm_extra;
            const bool fits = f && tiles * (size_t)(w0->cols / a->block) * per <= room && (!prep || f == prep);
            t.part[i].packed = fits && pk;
            t.part[i].gemm = fits && !pk;
            if (fits && !prep) {
                prep = f;
                t.xe = (char *)scratch + at;
                prep(w0->cols, (int)n, scratch, t.xc_row_bytes, (char *)scratch + at);
            }
        }
        for (int i = 0; i < count && n <= GEMV_MAX_TOKS && !prep; i++) {
            const cria_quant_traits *q = t.part[i].q;
            const size_t stride = (((size_t)w0->cols + 64) * q->gemv_extra + 63) & ~(size_t)63;
            t.part[i].gemv = q->gemv && (n == 1 || !q->gemm || n < q->gemm_min_toks) && (size_t)n * stride <= room &&
                             (!vprep || q->gemv_prep == vprep);
            if (t.part[i].gemv && !vprep) {
                vprep = q->gemv_prep;
                t.xe = (char *)scratch + at;
                t.xe_stride = stride;
                for (int64_t tok = 0; tok < n; tok++)
                    vprep(w0->cols, (const char *)scratch + (size_t)tok * t.xc_row_bytes,
                          (char *)scratch + at + (size_t)tok * stride);
            }
        }
    } else if (w0->type == CRIA_DTYPE_F16) {
        /* rounded to half precision as the reference's f16 dot product sees them, kept as floats for the tiles */
        t.xc_row_bytes = (size_t)w0->cols * sizeof(float);
        uint16_t half[256];
        for (int64_t tok = 0; tok < n; tok++) {
            float *dst = (float *)((char *)scratch + (size_t)tok * t.xc_row_bytes);
            for (int64_t j = 0; j < w0->cols; j += 256) {
                const int64_t m = w0->cols - j < 256 ? w0->cols - j : 256;
                k->f32_to_f16(m, x + tok * w0->cols + j, half);
                k->f16_to_f32(m, half, dst + j);
            }
        }
    } else if (w0->type == CRIA_DTYPE_BF16) {
        for (int64_t tok = 0; tok < n; tok++)
            k->f32_to_bf16(w0->cols, x + tok * w0->cols, (uint16_t *)((char *)scratch + (size_t)tok * t.xc_row_bytes));
    }
    int64_t all_rows = 0;
    for (int i = 0; i < count; i++)
        all_rows += w[i]->rows;
    t.chunk_rows = all_rows >= (int64_t)GEMV_CHUNK * 8 * nth && (n == 1 || !t.part[0].q) ? GEMV_CHUNK : ROW_CHUNK;
    for (int i = 0; i < count; i++) {
        t.part[i].chunk0 = t.n_chunks;
        t.n_chunks += (long)((w[i]->rows + t.chunk_rows - 1) / t.chunk_rows);
    }
    atomic_init(&t.next_chunk, 0);
    if (nth > t.n_chunks)
        nth = (int)t.n_chunks;
    cria_pool_groups g = cria_pool_get_groups(pool);
    if (g.n <= 1 && n <= SHARE_TOKENS && nth > 1 && nth <= MAX_GROUPS) {
        /*
         * A few tokens stream every row from memory once: each thread takes
         * a contiguous share of the rows first (a group of its own), so its
         * kernels' prefetch runs ahead into rows it will read itself, then
         * helps the others with what is left of theirs.
         */
        static const int own[MAX_GROUPS] = {0, 1, 2, 3, 4, 5, 6, 7}, one[MAX_GROUPS] = {1, 1, 1, 1, 1, 1, 1, 1};
        g = (cria_pool_groups){.n = nth, .of_thread = own, .threads = one};
    }
    if (nth > 1 && g.n > 1 && g.n <= MAX_GROUPS) {
        t.n_groups = g.n;
        t.group_of_thread = g.of_thread;
        for (int gi = 0; gi < g.n; gi++) {
            t.group_n[gi] = 0;
            for (int i = 0; i < count; i++) {
                group_share((long)((w[i]->rows + t.chunk_rows - 1) / t.chunk_rows), g, gi, &t.group_lo[gi][i],
                            &t.group_hi[gi][i]);
                t.group_n[gi] += t.group_hi[gi][i] - t.group_lo[gi][i];
            }
            atomic_init(&t.group_next[gi], 0);
        }
    }
    cria_pool_run(pool, nth, matmul_worker, &t);
}

cria_status cria_matmul_place(const cria_weight *w, cria_pool_groups g, cria_error *err)
{
    if (g.n < 2 || g.n > MAX_GROUPS)
        return CRIA_OK;
    const long chunks = (long)((w->rows + ROW_CHUNK - 1) / ROW_CHUNK);
    for (int gi = 0; gi < g.n; gi++) {
        long lo, hi;
        group_share(chunks, g, gi, &lo, &hi);
        const int64_t r0 = (int64_t)lo * ROW_CHUNK, r1 = (int64_t)hi * ROW_CHUNK < w->rows ? (int64_t)hi * ROW_CHUNK : w->rows;
        if (r1 <= r0 || g.node[gi] < 0)
            continue;
        cria_status st = cria_membind((const char *)w->data + (size_t)r0 * w->row_bytes,
                                      (size_t)(r1 - r0) * w->row_bytes, g.node[gi], err);
        /* a packed copy keeps a row range of whole groups at the same bytes (quant/packed.h) */
        if (st == CRIA_OK && w->packed)
            st = cria_membind((const char *)w->packed + (size_t)r0 * w->row_bytes, (size_t)(r1 - r0) * w->row_bytes,
                              g.node[gi], err);
        if (st != CRIA_OK)
            return st;
    }
    return CRIA_OK;
}

void cria_matmul(const cria_vec_kernels *k, cria_pool *pool, int nth, const cria_weight *w, const float *x,
                 int64_t n, float *y, void *scratch)
{
    cria_matmul_multi(k, pool, nth, 1, &w, &y, x, n, scratch);
}
