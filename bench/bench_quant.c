/*
 * Quantized dot-product micro-benchmark: each type's vec_dot at every ISA
 * level this CPU has, one thread, on a weight matrix small enough to stay in
 * cache (so it measures the kernel, not memory): time per row, weight bytes
 * per second, and the speedup over the scalar reference. Also the
 * activation quantizers (Q8_0, Q8_K) per level.
 *
 * The prompt's GEMM: 64 weight rows x 64 tokens per type, one thread, in
 * cache, through the scalar vec_dot per (row, token), vec_dot_tile and the
 * repacking gemm (its activation prep and repacking included), as GOP/s
 * (2 x rows x cols x tokens per second).
 *
 * Then the memory-bound case generation lives in: one-token matmuls
 * (cria_matmul, the engine's GEMV) over a weight matrix far larger than the
 * last-level cache, 1 and 2 threads, reported as GB/s of weights streamed.
 *
 *   make build/bench/bench_quant && build/bench/bench_quant [-k COLS] [-r ROWS] [-m MIB] [-only gemm|gemv]
 */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/matmul.h"
#include "parallel/pool.h"
#include "quant/packed.h"
#include "quant/quant.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(getenv("BENCH_CPU_TIME") ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const cria_dtype types[] = {
    CRIA_DTYPE_Q8_0, CRIA_DTYPE_Q4_0, CRIA_DTYPE_Q4_1, CRIA_DTYPE_Q5_0, CRIA_DTYPE_Q5_1, CRIA_DTYPE_Q2_K,
    CRIA_DTYPE_Q3_K, CRIA_DTYPE_Q4_K, CRIA_DTYPE_Q5_K, CRIA_DTYPE_Q6_K, CRIA_DTYPE_TQ1_0, CRIA_DTYPE_TQ2_0,
};

volatile float sink;

/* Seconds per pass over `rows` rows of w against activation a, best of several runs of >= 50 ms. */
static double time_dot(cria_vec_dot_fn dot, int64_t cols, int64_t rows, size_t row_bytes, const void *w,
                       const void *a)
{
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        int passes = 0;
        float s = 0.0f;
        const double t0 = now_s();
        double t1;
        do {
            for (int64_t r = 0; r < rows; r++)
                s += dot(cols, (const char *)w + (size_t)r * row_bytes, a);
            passes++;
            t1 = now_s();
        } while (t1 - t0 < 0.05);
        sink = s;
        best = fmin(best, (t1 - t0) / passes);
    }
    return best;
}

/* The same through vec_dot_rows, CRIA_DOT_ROWS rows per call. */
static double time_rows(cria_vec_dot_rows_fn dot, int64_t cols, int64_t rows, size_t row_bytes, const void *w,
                        const void *a)
{
    double best = 1e30;
    float out[CRIA_DOT_ROWS];
    for (int rep = 0; rep < 5; rep++) {
        int passes = 0;
        const double t0 = now_s();
        double t1;
        do {
            for (int64_t r = 0; r < rows; r += CRIA_DOT_ROWS)
                dot(cols, CRIA_DOT_ROWS, (const char *)w + (size_t)r * row_bytes, row_bytes, a, out);
            sink = out[0];
            passes++;
            t1 = now_s();
        } while (t1 - t0 < 0.05);
        best = fmin(best, (t1 - t0) / passes);
    }
    return best;
}

/* The same through gemv (its activation prep once per pass included). */
static double time_gemv(const cria_quant_traits *q, int64_t cols, int64_t rows, size_t row_bytes, const void *w,
                        const void *a, void *prep)
{
    double best = 1e30;
    float out[CRIA_DOT_ROWS];
    for (int rep = 0; rep < 5; rep++) {
        int passes = 0;
        const double t0 = now_s();
        double t1;
        do {
            q->gemv_prep(cols, a, prep);
            for (int64_t r = 0; r < rows; r += CRIA_DOT_ROWS)
                q->gemv(cols, CRIA_DOT_ROWS, (const char *)w + (size_t)r * row_bytes, row_bytes, a, prep, out);
            sink = out[0];
            passes++;
            t1 = now_s();
        } while (t1 - t0 < 0.05);
        best = fmin(best, (t1 - t0) / passes);
    }
    return best;
}

/* Best time of a one-token cria_matmul over w at 1 and 2 threads, as a table row per thread count. */
static void stream_matmul(const cria_weight *w, int mib, const char *label, const float *x, float *y, void *scratch)
{
    const cria_vec_kernels *vk = cria_vec_for(cria_isa_active());
    for (int nth = 1; nth <= 2; nth++) {
        cria_pool *pool = NULL;
        cria_error err;
        if (cria_pool_init(nth, &pool, &err) != CRIA_OK) {
            fprintf(stderr, "pool: %s\n", err.msg);
            break;
        }
        double best = 1e30;
        for (int rep = 0; rep < 8; rep++) {
            const double t0 = now_s();
            cria_matmul(vk, pool, nth, w, x, 1, y, scratch);
            best = fmin(best, now_s() - t0);
        }
        sink = y[w->rows / 2];
        printf("| %s%s | %d | %d | %.2f | %.1f |\n", cria_dtype_name(w->type), label, mib, nth, best * 1e3,
               (double)(w->row_bytes * (size_t)w->rows) / best * 1e-9);
        cria_pool_free(pool);
    }
}

/*
 * One-token matmuls over `mib` MiB of weights of type t (2048 columns,
 * TinyLlama's width; far beyond the caches): best GB/s of weights over a few
 * passes, at the best ISA level; f32 (the vector table's dot) for comparison.
 */
static void gemv_stream(cria_dtype t, int mib)
{
    const int64_t cols = 2048;
    uint64_t rb = 0;
    cria_dtype_row_bytes(t, (uint64_t)cols, &rb);
    const size_t row_bytes = (size_t)rb;
    const int64_t rows = ((int64_t)mib << 20) / (int64_t)row_bytes;
    char *w = malloc(row_bytes * (size_t)rows);
    float *x = malloc((size_t)cols * sizeof *x), *y = malloc((size_t)rows * sizeof *y);
    void *scratch = malloc(cria_matmul_scratch_bytes(1, cols));
    for (int64_t i = 0; i < cols; i++)
        x[i] = sinf(0.1f * (float)i);
    /* 64 distinct rows, tiled: the values do not matter to the time, the bytes do */
    enum { DISTINCT = 64 };
    float *row = malloc((size_t)cols * sizeof *row);
    const cria_quant_traits *q = cria_quant_traits_for(t, CRIA_ISA_SCALAR);
    for (int64_t r = 0; r < rows; r++) {
        if (r >= DISTINCT) {
            memcpy(w + (size_t)r * row_bytes, w + (size_t)(r % DISTINCT) * row_bytes, row_bytes);
            continue;
        }
        for (int64_t i = 0; i < cols; i++)
            row[i] = 0.02f * sinf(0.37f * (float)(i + r * 7));
        if (q)
            q->from_float(row, w + (size_t)r * row_bytes, cols);
        else
            memcpy(w + (size_t)r * row_bytes, row, row_bytes); /* f32 */
    }
    cria_weight wt = {.data = w, .type = t, .rows = rows, .cols = cols, .row_bytes = row_bytes};
    stream_matmul(&wt, mib, "", x, y, scratch);
    /* the same rows packed as the model loader packs them, where this level has packed kernels */
    const int64_t prow = rows / CRIA_PACK_ROWS * CRIA_PACK_ROWS;
    if (cria_pack_supported(t, cria_isa_active(), prow, cols)) {
        void *pw = malloc(row_bytes * (size_t)prow);
        cria_pack_rows(t, w, row_bytes, cols, 0, prow, pw);
        wt.rows = prow;
        wt.packed = pw;
        stream_matmul(&wt, mib, " (packed)", x, y, scratch);
        free(pw);
    }
    free(row);
    free(w);
    free(x);
    free(y);
    free(scratch);
}

enum { G_ROWS = 64, G_TOKS = 64 };

typedef enum gemm_way { WAY_SCALAR, WAY_TILE, WAY_GEMM } gemm_way;

/* One pass of the prompt GEMM the given way: out[t * G_ROWS + r] for every row and token. */
static void gemm_pass(gemm_way way, const cria_quant_traits *s, const cria_quant_traits *q, int64_t cols,
                      const char *w, size_t wb, const char *a, size_t ab, void *extra, float *out)
{
    if (way == WAY_SCALAR) {
        for (int t = 0; t < G_TOKS; t++)
            for (int r = 0; r < G_ROWS; r++)
                out[t * G_ROWS + r] = s->vec_dot(cols, w + (size_t)r * wb, a + (size_t)t * ab);
    } else if (way == WAY_TILE) {
        for (int t = 0; t < G_TOKS; t += q->tile_toks)
            for (int r = 0; r < G_ROWS; r += CRIA_DOT_ROWS)
                q->vec_dot_tile(cols, CRIA_DOT_ROWS, w + (size_t)r * wb, wb, q->tile_toks, a + (size_t)t * ab, ab,
                                out + t * G_ROWS + r, G_ROWS);
    } else {
        q->gemm_prep(cols, G_TOKS, a, ab, extra);
        for (int r = 0; r < G_ROWS; r += CRIA_GEMM_ROWS)
            q->gemm(cols, CRIA_GEMM_ROWS, w + (size_t)r * wb, wb, G_TOKS, a, ab, extra, out + r, G_ROWS);
    }
}

static void gemm_bench(const float *x, const float *act, int64_t cols)
{
    printf("\nprompt GEMM, one thread, %d rows x %lld columns x %d tokens (in cache), %s kernels\n\n"
           "| type | way | ms | GOP/s | x scalar | x tile |\n| --- | --- | --- | --- | --- | --- |\n",
           G_ROWS, (long long)cols, G_TOKS, cria_isa_name(cria_isa_detected()));
    const cria_dtype gt[] = {CRIA_DTYPE_Q8_0, CRIA_DTYPE_Q4_0, CRIA_DTYPE_Q5_0, CRIA_DTYPE_Q4_K, CRIA_DTYPE_Q5_K, CRIA_DTYPE_Q6_K};
    char *w = malloc((size_t)(G_ROWS * cols) * 2), *a = malloc((size_t)(G_TOKS * cols) * 2);
    void *extra = malloc((size_t)(G_TOKS * cols) * 2);
    float *out = malloc(sizeof(float) * G_ROWS * G_TOKS);
    for (size_t ti = 0; ti < sizeof gt / sizeof gt[0]; ti++) {
        const cria_quant_traits *s = cria_quant_traits_for(gt[ti], CRIA_ISA_SCALAR);
        const cria_quant_traits *q = cria_quant_traits_for(gt[ti], cria_isa_detected());
        const cria_quant_traits *as = cria_quant_traits_for(s->vec_dot_type, CRIA_ISA_SCALAR);
        const size_t wb = (size_t)(cols / s->block) * s->block_bytes, ab = (size_t)(cols / as->block) * as->block_bytes;
        for (int r = 0; r < G_ROWS; r++)
            s->from_float(x + r * cols, w + (size_t)r * wb, cols);
        for (int t = 0; t < G_TOKS; t++)
            as->from_float(act + (size_t)t * (size_t)cols, a + (size_t)t * ab, cols);
        double sec[3] = {0, 0, 0};
        for (int way = WAY_SCALAR; way <= WAY_GEMM; way++) {
            if ((way == WAY_TILE && !q->vec_dot_tile) || (way == WAY_GEMM && !q->gemm))
                continue;
            double best = 1e30;
            for (int rep = 0; rep < 3; rep++) {
                int n = 0;
                const double t0 = now_s();
                double t1;
                do {
                    gemm_pass((gemm_way)way, s, q, cols, w, wb, a, ab, extra, out);
                    n++;
                    t1 = now_s();
                } while (t1 - t0 < 0.05);
                best = fmin(best, (t1 - t0) / n);
            }
            sink = out[G_ROWS * G_TOKS / 2];
            sec[way] = best;
            static const char *names[] = {"scalar vec_dot", "vec_dot_tile", "gemm (repacked)"};
            char vs_tile[32] = "";
            if (way > WAY_SCALAR && sec[WAY_TILE] > 0)
                snprintf(vs_tile, sizeof vs_tile, "%.2f", sec[WAY_TILE] / best);
            printf("| %s | %s | %.3f | %.1f | %.1f | %s |\n", cria_dtype_name(gt[ti]), names[way], best * 1e3,
                   2.0 * G_ROWS * (double)cols * G_TOKS / best * 1e-9, sec[WAY_SCALAR] / best, vs_tile);
        }
    }
    free(w);
    free(a);
    free(extra);
    free(out);
}

int main(int argc, char **argv)
{
    int64_t cols = 4096, rows = 128;
    int mib = 512;
    bool only_gemm = false, only_gemv = false;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-only"))
            only_gemm = !strcmp(argv[i + 1], "gemm"), only_gemv = !strcmp(argv[i + 1], "gemv");
        else if (!strcmp(argv[i], "-k"))
            cols = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-r"))
            rows = atoll(argv[i + 1]);
        else if (!strcmp(argv[i], "-m"))
            mib = atoi(argv[i + 1]);
    }
    cols = (cols + 255) / 256 * 256;
    const cria_isa top = cria_isa_detected();
    float *x = malloc((size_t)(cols * rows) * sizeof *x), *act = malloc((size_t)cols * sizeof *act);
    void *w = malloc((size_t)(cols * rows) * 2), *a = malloc((size_t)cols * 2);
    for (int64_t i = 0; i < cols * rows; i++)
        x[i] = 0.02f * sinf(0.37f * (float)i) + 0.01f * cosf(1.3f * (float)i);
    for (int64_t i = 0; i < cols; i++)
        act[i] = sinf(0.11f * (float)i);
    float *toks = malloc((size_t)(G_TOKS * cols) * sizeof *toks);
    for (int64_t i = 0; i < G_TOKS * cols; i++)
        toks[i] = sinf(0.11f * (float)i) + 0.3f * cosf(0.013f * (float)i);
    if (rows < G_ROWS) {
        x = realloc(x, (size_t)(cols * G_ROWS) * sizeof *x);
        for (int64_t i = 0; i < cols * G_ROWS; i++)
            x[i] = 0.02f * sinf(0.37f * (float)i) + 0.01f * cosf(1.3f * (float)i);
    }
    if (!only_gemv)
        gemm_bench(x, toks, cols);
    free(toks);
    if (only_gemm) {
        free(x);
        free(act);
        free(w);
        free(a);
        return 0;
    }

    if (only_gemv)
        goto gemv;
    printf("vec_dot, one thread, %lld x %lld weights (in cache)\n\n", (long long)rows, (long long)cols);
    printf("| type | weight MiB | level | us per row | GB/s of weights | x scalar |\n| --- | --- | --- | --- | --- | --- |\n");
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const cria_quant_traits *s = cria_quant_traits_for(types[t], CRIA_ISA_SCALAR);
        const size_t row_bytes = (size_t)(cols / s->block) * s->block_bytes;
        for (int64_t r = 0; r < rows; r++)
            s->from_float(x + r * cols, (char *)w + (size_t)r * row_bytes, cols);
        cria_quant_traits_for(s->vec_dot_type, CRIA_ISA_SCALAR)->from_float(act, a, cols);
        double base = 0;
        for (int isa = CRIA_ISA_SCALAR; isa <= (int)top; isa++) {
            const cria_quant_traits *q = cria_quant_traits_for(types[t], (cria_isa)isa);
            if (isa > CRIA_ISA_SCALAR && q == s)
                continue; /* no kernel of its own at this level */
            const double sec = time_dot(q->vec_dot, cols, rows, row_bytes, w, a);
            if (isa == CRIA_ISA_SCALAR)
                base = sec;
            printf("| %s | %.2f | %s | %.3f | %.1f | %.1f |\n", cria_dtype_name(types[t]),
                   (double)(row_bytes * (size_t)rows) / 1048576.0, cria_isa_name((cria_isa)isa), sec / (double)rows * 1e6,
                   (double)(row_bytes * (size_t)rows) / sec * 1e-9, base / sec);
            if (q->vec_dot_rows) {
                const double sr = time_rows(q->vec_dot_rows, cols, rows, row_bytes, w, a);
                printf("| %s | %.2f | %s, %d rows at a time | %.3f | %.1f | %.1f |\n", cria_dtype_name(types[t]),
                       (double)(row_bytes * (size_t)rows) / 1048576.0, cria_isa_name((cria_isa)isa), CRIA_DOT_ROWS,
                       sr / (double)rows * 1e6, (double)(row_bytes * (size_t)rows) / sr * 1e-9, base / sr);
            }
            if (q->gemv) {
                void *prep = malloc((size_t)(cols + 64) * q->gemv_extra);
                const double sg = time_gemv(q, cols, rows, row_bytes, w, a, prep);
                free(prep);
                printf("| %s | %.2f | %s, gemv | %.3f | %.1f | %.1f |\n", cria_dtype_name(types[t]),
                       (double)(row_bytes * (size_t)rows) / 1048576.0, cria_isa_name((cria_isa)isa),
                       sg / (double)rows * 1e6, (double)(row_bytes * (size_t)rows) / sg * 1e-9, base / sg);
            }
        }
    }

    printf("\nactivation quantizers, one row of %lld\n\n| type | level | ns per row | x scalar |\n| --- | --- | --- | --- |\n",
           (long long)cols);
    const cria_dtype acts[] = {CRIA_DTYPE_Q8_0, CRIA_DTYPE_Q8_K};
    for (size_t t = 0; t < 2; t++) {
        double base = 0;
        for (int isa = CRIA_ISA_SCALAR; isa <= (int)top; isa++) {
            const cria_quant_traits *q = cria_quant_traits_for(acts[t], (cria_isa)isa);
            if (isa > CRIA_ISA_SCALAR && q->from_float == cria_quant_traits_for(acts[t], CRIA_ISA_SCALAR)->from_float)
                continue;
            double best = 1e30;
            for (int rep = 0; rep < 5; rep++) {
                int n = 0;
                const double t0 = now_s();
                double t1;
                do {
                    q->from_float(act, a, cols);
                    n++;
                    t1 = now_s();
                } while (t1 - t0 < 0.02);
                best = fmin(best, (t1 - t0) / n);
            }
            if (isa == CRIA_ISA_SCALAR)
                base = best;
            printf("| %s | %s | %.0f | %.1f |\n", cria_dtype_name(acts[t]), cria_isa_name((cria_isa)isa), best * 1e9,
                   base / best);
        }
    }
gemv:
    printf("\none-token matmul (cria_matmul) streaming weights from memory, 2048 columns, %s kernels\n\n"
           "| type | weight MiB | threads | ms per matmul | GB/s of weights |\n| --- | --- | --- | --- | --- |\n",
           cria_isa_name(cria_isa_active()));
    const cria_dtype streamed[] = {CRIA_DTYPE_F32, CRIA_DTYPE_Q8_0, CRIA_DTYPE_Q4_0, CRIA_DTYPE_Q4_K, CRIA_DTYPE_Q6_K};
    for (size_t t = 0; t < sizeof streamed / sizeof streamed[0]; t++)
        gemv_stream(streamed[t], mib);
    free(x);
    free(act);
    free(w);
    free(a);
    return 0;
}
