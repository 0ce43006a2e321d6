/*
 * cria's f32 matmul (cria_matmul: register tiles over the persistent pool)
 * against OpenBLAS's sgemm on the same data: y = x W^T for n tokens of
 * `cols` and a rows x cols weight matrix, at 1..T threads, best of a few
 * runs, GFLOP/s and the ratio. Built only by `make bench-blas`, the one
 * target that links OpenBLAS (issue 7's optional comparison).
 *
 *   build/bench/bench_blas [-t MAX_THREADS]
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/cpu.h"
#include "kernels/matmul.h"
#include "parallel/pool.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct shape {
    const char *name;
    int64_t n, rows, cols;
} shape;

/* Best seconds over `reps` runs (after one warm-up) of cria's matmul, or of sgemm when blas. */
static double best_time(const shape *s, bool blas, cria_pool *pool, int nth, const cria_weight *w, const float *x,
                        float *y, void *scratch, int reps)
{
    const cria_vec_kernels *vk = cria_vec_for(cria_isa_active());
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        const double t0 = now_s();
        if (blas)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)s->n, (int)s->rows, (int)s->cols, 1.0f, x,
                        (int)s->cols, (const float *)w->data, (int)s->cols, 0.0f, y, (int)s->rows);
        else
            cria_matmul(vk, pool, nth, w, x, s->n, y, scratch);
        const double t = now_s() - t0;
        if (r > 0 && t < best)
            best = t;
    }
    return best;
}

int main(int argc, char **argv)
{
    int max_threads = 2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-t") && i + 1 < argc) {
            max_threads = atoi(argv[++i]);
        } else {
            fprintf(stderr, "usage: bench_blas [-t MAX_THREADS]\n");
            return 2;
        }
    }
    if (max_threads < 1)
        max_threads = 1;
    const shape shapes[] = {
        {"stories110M ffn, prompt of 512", 512, 2048, 768},
        {"tinyllama q/o, prompt of 512", 512, 2048, 2048},
        {"tinyllama ffn, prompt of 512", 512, 5632, 2048},
        {"tinyllama ffn, 8 tokens", 8, 5632, 2048},
        {"tinyllama ffn, 1 token", 1, 5632, 2048},
    };
    printf("cria_matmul (%s kernels) against OpenBLAS cblas_sgemm, f32 weights, y = x W^T\n\n",
           cria_isa_name(cria_isa_active()));
    printf("| shape | tokens x rows x cols | threads | cria GFLOP/s | OpenBLAS GFLOP/s | cria / OpenBLAS |\n");
    printf("| --- | --- | ---: | ---: | ---: | ---: |\n");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const shape *s = &shapes[si];
        float *w = malloc((size_t)(s->rows * s->cols) * sizeof *w);
        float *x = malloc((size_t)(s->n * s->cols) * sizeof *x);
        float *y = malloc((size_t)(s->n * s->rows) * sizeof *y);
        float *yb = malloc((size_t)(s->n * s->rows) * sizeof *yb);
        void *scratch = malloc(cria_matmul_scratch_bytes(s->n, s->cols));
        if (!w || !x || !y || !yb || !scratch) {
            fprintf(stderr, "out of memory\n");
            return 1;
        }
        for (int64_t i = 0; i < s->rows * s->cols; i++)
            w[i] = sinf(0.37f * (float)i) * 0.05f;
        for (int64_t i = 0; i < s->n * s->cols; i++)
            x[i] = cosf(0.11f * (float)i);
        const cria_weight wt = {
            .data = w, .type = CRIA_DTYPE_F32, .rows = s->rows, .cols = s->cols, .row_bytes = (size_t)s->cols * 4};
        const double flops = 2.0 * (double)s->n * (double)s->rows * (double)s->cols;
        const int reps = s->n >= 64 ? 3 : 20;
        for (int nth = 1; nth <= max_threads; nth++) {
            cria_pool *pool = NULL;
            cria_error err;
            if (cria_pool_init(nth, &pool, &err) != CRIA_OK) {
                fprintf(stderr, "pool: %s\n", err.msg);
                return 1;
            }
            openblas_set_num_threads(nth);
            const double tc = best_time(s, false, pool, nth, &wt, x, y, scratch, reps);
            const double tb = best_time(s, true, pool, nth, &wt, x, yb, scratch, reps);
            /* the same products: the sums may differ in rounding only */
            double maxd = 0;
            for (int64_t i = 0; i < s->n * s->rows; i++)
                maxd = fmax(maxd, fabs((double)y[i] - (double)yb[i]));
            printf("| %s | %lld x %lld x %lld | %d | %.1f | %.1f | %.2fx |%s\n", s->name, (long long)s->n,
                   (long long)s->rows, (long long)s->cols, nth, flops / tc * 1e-9, flops / tb * 1e-9, tb / tc,
                   maxd > 1e-2 ? " (results differ!)" : "");
            cria_pool_free(pool);
        }
        free(w);
        free(x);
        free(y);
        free(yb);
        free(scratch);
    }
    return 0;
}
