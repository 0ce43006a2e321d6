/*
 * Kernel micro-benchmark: serial vs parallel time of each kernel at the sizes
 * the models use, on 1..N threads of one persistent pool, with speedup and
 * GB/s or GFLOP/s. The thresholds in src/parallel/threshold.c come from these
 * tables (docs/benchmarks.md).
 *
 *   build/bench/bench_kernels [-t MAX_THREADS] [-r REPS] [--json]
 */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "base/dtype.h"
#include "base/fp16.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/vec.h"
#include "parallel/pool.h"
#include "quant/quant.h"

typedef struct bench_ctx {
    const cria_vec_kernels *vk;
    cria_pool *pool;
    int max_threads;
    int reps;
    bool json;
    bool first_row;
} bench_ctx;

static uint64_t rng_state = 0x12345678;

static float frand(void)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((rng_state >> 40) & 0xffffff) / (float)0x1000000 * 2.0f - 1.0f;
}

static float *rand_floats(size_t n)
{
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; p && i < n; i++)
        p[i] = frand();
    return p;
}

/* Best-of-reps wall time of fn(arg, nth) in nanoseconds (minimum: the least disturbed run). */
static double time_ns(bench_ctx *b, void (*fn)(bench_ctx *, void *, int), void *arg, int nth, int inner)
{
    double best = 1e30;
    fn(b, arg, nth); /* warm caches and wake the workers */
    for (int r = 0; r < b->reps; r++) {
        int64_t t0 = cria_time_us();
        for (int i = 0; i < inner; i++)
            fn(b, arg, nth);
        double ns = (double)(cria_time_us() - t0) * 1e3 / inner;
        best = ns < best ? ns : best;
    }
    return best;
}

/* Prints one row: kernel, size, threads, time, speedup vs 1 thread, and a rate. */
static void row(bench_ctx *b, const char *kernel, const char *size, int nth, double ns, double serial_ns,
                double bytes, double flops)
{
    const double gbs = bytes > 0 ? bytes / ns : 0, gfs = flops > 0 ? flops / ns : 0;
    if (b->json) {
        printf("%s{\"kernel\":\"%s\",\"size\":\"%s\",\"threads\":%d,\"ns\":%.1f,\"speedup\":%.3f,\"gb_s\":%.2f,"
               "\"gflop_s\":%.2f}",
               b->first_row ? "" : ",\n", kernel, size, nth, ns, serial_ns / ns, gbs, gfs);
        b->first_row = false;
        return;
    }
    printf("| %-10s | %-22s | %2d | %12.0f | %6.2fx |", kernel, size, nth, ns, serial_ns / ns);
    if (flops > 0)
        printf(" %7.1f GFLOP/s |\n", gfs);
    else if (bytes > 0)
        printf(" %7.1f GB/s |\n", gbs);
    else
        printf(" |\n");
}

/* ---- empty region ---------------------------------------------------------- */

static void nop_task(void *arg, int ith, int nth)
{
    (void)arg, (void)ith, (void)nth;
}

static void run_empty(bench_ctx *b, void *arg, int nth)
{
    (void)arg;
    cria_pool_run(b->pool, nth, nop_task, NULL);
}

static void bench_empty(bench_ctx *b)
{
    double serial = 0;
    for (int t = 1; t <= b->max_threads; t++) {
        double ns = time_ns(b, run_empty, NULL, t, 20000);
        if (t == 1)
            serial = ns;
        row(b, "region", "dispatch+join", t, ns, serial > 0 ? serial : ns, 0, 0);
    }
}

/* ---- row kernels split in static ranges (rmsnorm, rope) ------------------- */

typedef struct rows_arg {
    int kind; /* 0 rmsnorm, 1 rope, 2 per-head QK-norm (rows are heads) */
    int64_t n_rows, dim;
    float *x, *w, *y, *cs;
    int n_heads, head_dim;
    const cria_vec_kernels *vk; /* rope: the kernel table's, as the forward pass calls it */
} rows_arg;

static void rows_task(void *p, int ith, int nth)
{
    rows_arg *a = p;
    long lo, hi;
    cria_split_range((long)a->n_rows, ith, nth, &lo, &hi);
    for (long r = lo; r < hi; r++) {
        if (a->kind == 0 || a->kind == 2)
            cria_rmsnorm(a->dim, a->x + r * a->dim, a->w, 1e-5f, a->y + r * a->dim);
        else
            a->vk->rope_f32(a->x + r * a->dim, a->n_heads, a->head_dim, a->head_dim, a->cs, false);
    }
}

static void run_rows(bench_ctx *b, void *arg, int nth)
{
    cria_pool_run(b->pool, nth, rows_task, arg);
}

static void bench_rows(bench_ctx *b)
{
    static const int dims[] = {128, 512, 2048, 8192}, batches[] = {1, 4, 16};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
            rows_arg a = {.kind = 0, .n_rows = batches[bi], .dim = dims[d]};
            a.x = rand_floats((size_t)a.n_rows * (size_t)a.dim);
            a.y = rand_floats((size_t)a.n_rows * (size_t)a.dim);
            a.w = rand_floats((size_t)a.dim);
            char size[64];
            snprintf(size, sizeof size, "dim %d x %d", dims[d], batches[bi]);
            double serial = 0;
            for (int t = 1; t <= b->max_threads; t++) {
                double ns = time_ns(b, run_rows, &a, t, 200);
                serial = t == 1 ? ns : serial;
                row(b, "rmsnorm", size, t, ns, serial, 8.0 * (double)(a.n_rows * a.dim), 0);
            }
            free(a.x), free(a.y), free(a.w);
        }
    }
    /* qwen3's QK-norm: one RMSNorm per head of Q and K, split over heads (tokens x 32 query + 8 key heads of 128) */
    static const int qk_tokens[] = {1, 16, 64};
    for (size_t q = 0; q < sizeof qk_tokens / sizeof qk_tokens[0]; q++) {
        rows_arg a = {.kind = 2, .n_rows = (int64_t)qk_tokens[q] * 40, .dim = 128};
        a.x = rand_floats((size_t)a.n_rows * 128);
        a.y = rand_floats((size_t)a.n_rows * 128);
        a.w = rand_floats(128);
        char size[64];
        snprintf(size, sizeof size, "%d tok x 40 heads x 128", qk_tokens[q]);
        double serial = 0;
        for (int t = 1; t <= b->max_threads; t++) {
            double ns = time_ns(b, run_rows, &a, t, 200);
            serial = t == 1 ? ns : serial;
            row(b, "qk-norm", size, t, ns, serial, 8.0 * (double)(a.n_rows * a.dim), 0);
        }
        free(a.x), free(a.y), free(a.w);
    }
    static const int seqs[] = {1, 16, 64, 256, 512};
    for (size_t s = 0; s < sizeof seqs / sizeof seqs[0]; s++) {
        rows_arg a = {.kind = 1, .n_rows = seqs[s], .n_heads = 16, .head_dim = 64, .dim = 16 * 64, .vk = b->vk};
        a.x = rand_floats((size_t)a.n_rows * (size_t)a.dim);
        a.cs = malloc(64 * sizeof *a.cs);
        cria_rope_cache(7, 64, 10000.0f, a.cs);
        char size[64];
        snprintf(size, sizeof size, "seq %d x 16 heads", seqs[s]);
        double serial = 0;
        for (int t = 1; t <= b->max_threads; t++) {
            double ns = time_ns(b, run_rows, &a, t, 200);
            serial = t == 1 ? ns : serial;
            row(b, "rope", size, t, ns, serial, 8.0 * (double)(a.n_rows * a.dim), 0);
        }
        free(a.x), free(a.cs);
    }
}

/* ---- matmul ---------------------------------------------------------------- */

typedef struct mm_arg {
    cria_weight w;
    float *x, *y;
    void *scratch;
    int64_t n;
} mm_arg;

static void run_mm(bench_ctx *b, void *arg, int nth)
{
    mm_arg *a = arg;
    cria_matmul(b->vk, b->pool, nth, &a->w, a->x, a->n, a->y, a->scratch);
}

static void bench_matmul(bench_ctx *b)
{
    static const struct {
        const char *model;
        int rows, cols;
    } shapes[] = {
        {"stories260K wq", 64, 64},     {"stories15M ffn", 768, 288},  {"stories110M wq", 768, 768},
        {"stories110M ffn", 2048, 768}, {"tinyllama ffn", 5632, 2048},
    };
    static const int batches[] = {1, 8, 32};
    /* every weight type the engine runs; block types only on shapes whose rows hold whole blocks */
    static const cria_dtype types[] = {CRIA_DTYPE_F32,  CRIA_DTYPE_F16,  CRIA_DTYPE_BF16, CRIA_DTYPE_Q8_0,
                                       CRIA_DTYPE_Q4_0, CRIA_DTYPE_Q4_1, CRIA_DTYPE_Q5_0, CRIA_DTYPE_Q5_1,
                                       CRIA_DTYPE_Q2_K, CRIA_DTYPE_Q3_K, CRIA_DTYPE_Q4_K, CRIA_DTYPE_Q5_K,
                                       CRIA_DTYPE_Q6_K, CRIA_DTYPE_TQ1_0, CRIA_DTYPE_TQ2_0};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const cria_dtype type = types[ti];
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            const int64_t rows = shapes[s].rows, cols = shapes[s].cols;
            uint64_t rb = 0;
            if (!cria_dtype_row_bytes(type, (uint64_t)cols, &rb) || rb == 0)
                continue; /* a block type whose blocks do not divide this row */
            const size_t row_bytes = (size_t)rb;
            void *wdata = malloc((size_t)rows * row_bytes);
            float *wrow = malloc((size_t)cols * sizeof *wrow);
            for (int64_t r = 0; r < rows; r++) {
                char *dst = (char *)wdata + (size_t)r * row_bytes;
                for (int64_t i = 0; i < cols; i++)
                    wrow[i] = frand() * 0.02f;
                if (type == CRIA_DTYPE_F32)
                    memcpy(dst, wrow, row_bytes);
                else if (type == CRIA_DTYPE_F16 || type == CRIA_DTYPE_BF16)
                    for (int64_t i = 0; i < cols; i++)
                        ((uint16_t *)(void *)dst)[i] = type == CRIA_DTYPE_F16 ? cria_f32_to_fp16(wrow[i])
                                                                              : cria_f32_to_bf16(wrow[i]);
                else
                    cria_quantize_row(type, wrow, dst, cols, NULL);
            }
            free(wrow);
            const bool block_type = type != CRIA_DTYPE_F32 && type != CRIA_DTYPE_F16 && type != CRIA_DTYPE_BF16;
            for (size_t bi = 0; bi < sizeof batches / sizeof batches[0]; bi++) {
                if (block_type && batches[bi] == 8)
                    continue; /* 1 and 32 tokens show GEMV and GEMM; keeps the run short */
                mm_arg a = {.w = {.data = wdata, .type = type, .rows = rows, .cols = cols, .row_bytes = row_bytes},
                            .n = batches[bi]};
                a.x = rand_floats((size_t)(a.n * cols));
                a.y = malloc((size_t)(a.n * rows) * sizeof *a.y);
                a.scratch = malloc(cria_matmul_scratch_bytes(a.n, cols));
                char size[64];
                snprintf(size, sizeof size, "%s %s x%d", cria_dtype_name(type), shapes[s].model, batches[bi]);
                double serial = 0, flops = 2.0 * (double)(rows * cols * a.n);
                int inner = (int)(2e7 / flops) + 1;
                for (int t = 1; t <= b->max_threads; t++) {
                    double ns = time_ns(b, run_mm, &a, t, inner);
                    serial = t == 1 ? ns : serial;
                    /* generation is memory bound: report bytes of weights per second for batch 1 */
                    if (a.n == 1)
                        row(b, "matmul", size, t, ns, serial, (double)rows * (double)row_bytes, 0);
                    else
                        row(b, "matmul", size, t, ns, serial, 0, flops);
                }
                free(a.x), free(a.y), free(a.scratch);
            }
            free(wdata);
        }
    }
}

/* ---- attention (one query token, decode) ----------------------------------- */

typedef struct attn_arg {
    const cria_vec_kernels *vk;
    cria_attn_layer layer;
    float *q, *out, *scratch;
    size_t scratch_floats;
    atomic_int next;
} attn_arg;

static void attn_task(void *p, int ith, int nth)
{
    (void)nth;
    attn_arg *a = p;
    for (;;) {
        int kh = atomic_fetch_add(&a->next, 1);
        if (kh >= a->layer.n_head_kv)
            break;
        cria_attention(a->vk, &a->layer, kh, kh + 1, 0, 1 << 30, a->q, a->out,
                       a->scratch + (size_t)ith * a->scratch_floats);
    }
}

static void run_attn(bench_ctx *b, void *arg, int nth)
{
    attn_arg *a = arg;
    atomic_store(&a->next, 0);
    if (nth == 1)
        cria_attention(b->vk, &a->layer, 0, a->layer.n_head_kv, 0, 1 << 30, a->q, a->out, a->scratch);
    else
        cria_pool_run(b->pool, nth, attn_task, a);
}

static void bench_attention(bench_ctx *b)
{
    static const int heads[] = {8, 16, 32}, cells[] = {64, 512, 2048};
    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
        for (size_t c = 0; c < sizeof cells / sizeof cells[0]; c++) {
            const int hd = 64, nkv = heads[h], n = cells[c];
            attn_arg a = {.vk = b->vk,
                          .layer = {.n_head = heads[h], .n_head_kv = nkv, .head_dim = hd, .n_cells = n,
                                    .scale = 0.125f}};
            const size_t kv = (size_t)n * (size_t)nkv * hd;
            uint16_t *k = malloc(kv * 2), *v = malloc(kv * 2);
            int32_t *pos = malloc((size_t)n * sizeof *pos), *seq = calloc((size_t)n, sizeof *seq);
            for (size_t i = 0; i < kv; i++)
                k[i] = cria_f32_to_fp16(frand()), v[i] = cria_f32_to_fp16(frand());
            for (int i = 0; i < n; i++)
                pos[i] = i;
            a.layer.k = k, a.layer.v = v, a.layer.cell_pos = pos, a.layer.cell_seq = seq;
            a.q = rand_floats((size_t)heads[h] * hd);
            a.out = malloc((size_t)heads[h] * hd * sizeof *a.out);
            a.scratch_floats = cria_attention_scratch_floats(&a.layer);
            a.scratch = malloc((size_t)b->max_threads * a.scratch_floats * sizeof *a.scratch);
            char size[64];
            snprintf(size, sizeof size, "1 x %d heads x %d cells", heads[h], n);
            double serial = 0;
            for (int t = 1; t <= b->max_threads; t++) {
                double ns = time_ns(b, run_attn, &a, t, 50);
                serial = t == 1 ? ns : serial;
                row(b, "attention", size, t, ns, serial, 4.0 * (double)kv, 0);
            }
            free(k), free(v), free(pos), free(seq), free(a.q), free(a.out), free(a.scratch);
        }
    }
}

/* ---- attention over a prompt (multi-query, causal) ------------------------------------ */

typedef struct mq_arg {
    const cria_vec_kernels *vk;
    cria_attn_layer layer;
    int n_tok;
    float *q, *out, *scratch;
    size_t scratch_floats;
    atomic_int next;
} mq_arg;

/*
 * Items as the forward pass hands them out: one token's every head when there
 * are at least as many tokens as threads; token i attends to cells 0..i.
 */
static void mq_task(void *p, int ith, int nth)
{
    (void)nth;
    mq_arg *a = p;
    const int q_dim = a->layer.n_head * a->layer.head_dim;
    for (;;) {
        const int i = atomic_fetch_add(&a->next, 1);
        if (i >= a->n_tok)
            break;
        cria_attention(a->vk, &a->layer, 0, a->layer.n_head_kv, 0, i, a->q + (size_t)i * q_dim,
                       a->out + (size_t)i * q_dim, a->scratch + (size_t)ith * a->scratch_floats);
    }
}

static void run_mq(bench_ctx *b, void *arg, int nth)
{
    mq_arg *a = arg;
    atomic_store(&a->next, 0);
    if (nth == 1) {
        const int q_dim = a->layer.n_head * a->layer.head_dim;
        for (int i = 0; i < a->n_tok; i++)
            cria_attention(b->vk, &a->layer, 0, a->layer.n_head_kv, 0, i, a->q + (size_t)i * q_dim,
                           a->out + (size_t)i * q_dim, a->scratch);
    } else {
        cria_pool_run(b->pool, nth, mq_task, a);
    }
}

static void bench_attention_prompt(bench_ctx *b)
{
    static const int heads[] = {8, 32}, toks[] = {8, 32, 128};
    for (size_t h = 0; h < sizeof heads / sizeof heads[0]; h++) {
        for (size_t ti = 0; ti < sizeof toks / sizeof toks[0]; ti++) {
            const int hd = 64, nkv = heads[h], n = toks[ti], q_dim = heads[h] * hd;
            mq_arg a = {.vk = b->vk,
                        .layer = {.n_head = heads[h], .n_head_kv = nkv, .head_dim = hd, .n_cells = n,
                                  .scale = 0.125f},
                        .n_tok = n};
            const size_t kv = (size_t)n * (size_t)nkv * hd;
            uint16_t *k = malloc(kv * 2), *v = malloc(kv * 2);
            int32_t *pos = malloc((size_t)n * sizeof *pos), *seq = calloc((size_t)n, sizeof *seq);
            for (size_t i = 0; i < kv; i++)
                k[i] = cria_f32_to_fp16(frand()), v[i] = cria_f32_to_fp16(frand());
            for (int i = 0; i < n; i++)
                pos[i] = i;
            a.layer.k = k, a.layer.v = v, a.layer.cell_pos = pos, a.layer.cell_seq = seq;
            a.q = rand_floats((size_t)n * q_dim);
            a.out = malloc((size_t)n * q_dim * sizeof *a.out);
            a.scratch_floats = cria_attention_scratch_floats(&a.layer);
            a.scratch = malloc((size_t)b->max_threads * a.scratch_floats * sizeof *a.scratch);
            char size[64];
            snprintf(size, sizeof size, "%d tok x %d heads (causal)", n, heads[h]);
            double serial = 0;
            /* cells read: token i reads i + 1 cells of K and V */
            const double bytes = 4.0 * (double)nkv * hd * (double)n * (double)(n + 1) / 2.0;
            for (int t = 1; t <= b->max_threads; t++) {
                double ns = time_ns(b, run_mq, &a, t, 10);
                serial = t == 1 ? ns : serial;
                row(b, "attention", size, t, ns, serial, bytes, 0);
            }
            free(k), free(v), free(pos), free(seq), free(a.q), free(a.out), free(a.scratch);
        }
    }
}

int main(int argc, char **argv)
{
    bench_ctx b = {.max_threads = 2, .reps = 5, .first_row = true};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc)
            b.max_threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-r") && i + 1 < argc)
            b.reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json"))
            b.json = true;
        else {
            fprintf(stderr, "usage: bench_kernels [-t MAX_THREADS] [-r REPS] [--json]\n");
            return 1;
        }
    }
    if (b.max_threads < 1 || b.reps < 1) {
        fprintf(stderr, "bench_kernels: -t and -r must be positive\n");
        return 1;
    }
    b.vk = cria_vec_for(cria_isa_active());
    cria_error err;
    if (cria_pool_init(b.max_threads, &b.pool, &err) != CRIA_OK) {
        fprintf(stderr, "bench_kernels: %s\n", err.msg);
        return 1;
    }
    if (b.json)
        printf("{\"isa\":\"%s\",\"rows\":[\n", cria_isa_name(b.vk->isa));
    else
        printf("isa %s, best of %d\n\n| kernel | size | threads | ns | speedup | rate |\n| --- | --- | --- | --- | --- | --- |\n",
               cria_isa_name(b.vk->isa), b.reps);
    bench_empty(&b);
    bench_rows(&b);
    bench_attention(&b);
    bench_attention_prompt(&b);
    bench_matmul(&b);
    if (b.json)
        printf("\n]}\n");
    cria_pool_free(b.pool);
    return 0;
}
