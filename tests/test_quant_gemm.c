/*
 * The repacking GEMM kernels (traits' gemm, quant_gemm_avx512.c) against
 * the scalar reference's vec_dot for every (row, token): full and partial
 * row groups, full and partial token tiles, rows longer than one repacked
 * slice, quantized signals and the extreme quants that stress the integer
 * sums. The float summation order differs from vec_dot's, so each result
 * must agree within 1e-5 of the sum of |terms| (the dequantized products),
 * the float rounding of a few thousand terms; the integer parts are exact.
 * Q4_0's reference sums in the kernels' own shape (block sum times scale,
 * block by block), so there both must give its bits.
 * Then the engine's matmul: a prompt through the gemm path, three tokens
 * through the per-token gemv (Q6_K) and one token (several weights sharing
 * one input, rows not a multiple of 16, two threads) against the AVX2
 * level's tiles, which give vec_dot's bits.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "kernels/matmul.h"
#include "parallel/pool.h"
#include "quant/quant.h"
#include "util.h"

enum { ROWS = 19, TOKS = 11, MAX_N = 2304 };

/* Weights quantized from a signal (extreme 0), or all at the format's largest magnitude (extreme 1). */
static void make_weights(const cria_quant_traits *s, int n, int extreme, uint8_t *w, size_t stride, uint32_t *seed)
{
    static float x[MAX_N];
    for (int r = 0; r < ROWS; r++) {
        for (int i = 0; i < n; i++) {
            /* rows of differing scale, and sub-blocks with differing ranges for the K-quants' scales */
            const float sub = 0.25f + (float)((i / 32 + r) % 5);
            x[i] = extreme ? (i % 7 == 3 ? 0.0f : (r % 2 ? -1.0f : 1.0f)) * 3.0f
                           : test_rng_float(seed) * sub * (1.0f + 0.3f * (float)r) + (r % 3 == 0 ? 0.2f * sub : 0.0f);
        }
        s->from_float(x, w + (size_t)r * stride, n);
    }
}

static void check_type(cria_dtype type, const cria_quant_traits *v)
{
    const cria_quant_traits *s = cria_quant_traits_for(type, CRIA_ISA_SCALAR);
    const cria_quant_traits *as = cria_quant_traits_for(s->vec_dot_type, CRIA_ISA_SCALAR);
    static uint8_t w[ROWS * MAX_N * 2], a[TOKS * MAX_N * 2], extra[16 * MAX_N * 2];
    static float wf[ROWS * MAX_N], af[TOKS * MAX_N], x[MAX_N], out[TOKS * ROWS];
    const int lens[] = {256, MAX_N};
    uint32_t seed = 99u + (uint32_t)type;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int n = lens[li];
        const size_t stride = (size_t)(n / s->block) * s->block_bytes, astride = (size_t)(n / as->block) * as->block_bytes;
        for (int extreme = 0; extreme < 2; extreme++) {
            make_weights(s, n, extreme, w, stride, &seed);
            for (int t = 0; t < TOKS; t++) {
                for (int i = 0; i < n; i++)
                    x[i] = extreme ? (t % 2 ? -4.0f : 4.0f) : test_rng_float(&seed) * (1.0f + (float)t);
                as->from_float(x, a + (size_t)t * astride, n);
                as->to_float(a + (size_t)t * astride, af + (size_t)t * n, n);
            }
            for (int r = 0; r < ROWS; r++)
                s->to_float(w + (size_t)r * stride, wf + (size_t)r * n, n);
            for (int nt = 1; nt <= TOKS; nt += TOKS - 1) {
                const size_t tiles = (size_t)(nt + CRIA_GEMM_TOKS - 1) / CRIA_GEMM_TOKS * CRIA_GEMM_TOKS;
                assert_true(tiles * (size_t)(n / as->block) * v->gemm_extra <= sizeof extra);
                v->gemm_prep(n, nt, a, astride, extra);
                memset(out, 0, sizeof out);
                for (int r0 = 0; r0 < ROWS; r0 += CRIA_GEMM_ROWS) {
                    const int nr = ROWS - r0 < CRIA_GEMM_ROWS ? ROWS - r0 : CRIA_GEMM_ROWS;
                    v->gemm(n, nr, w + (size_t)r0 * stride, stride, nt, a, astride, extra, out + r0, ROWS);
                }
                for (int t = 0; t < nt; t++) {
                    for (int r = 0; r < ROWS; r++) {
                        const float want = s->vec_dot(n, w + (size_t)r * stride, a + (size_t)t * astride);
                        double mag = 0;
                        for (int i = 0; i < n; i++)
                            mag += fabs((double)wf[(size_t)r * n + i] * (double)af[(size_t)t * n + i]);
                        const double got = out[t * ROWS + r];
                        /* Q4_0 sums in the reference's shape (block sum times scale, in order): its bits */
                        if (type == CRIA_DTYPE_Q4_0 && memcmp(&out[t * ROWS + r], &want, sizeof want) != 0)
                            fail_msg("q4_0 gemm, n %d, %d tokens: row %d token %d is %.9g, vec_dot %.9g (bits differ)",
                                     n, nt, r, t, got, (double)want);
                        if (!(fabs(got - (double)want) <= 1e-5 * mag + 1e-6))
                            fail_msg("%s gemm, n %d, %s, %d tokens: row %d token %d is %.9g, vec_dot %.9g (|terms| %.6g)",
                                     cria_dtype_name(type), n, extreme ? "extreme quants" : "signal", nt, r, t, got,
                                     (double)want, mag);
                    }
                }
            }
        }
    }
}

static void test_gemm_matches_vec_dot(void **state)
{
    (void)state;
    int checked = 0;
    for (int isa = CRIA_ISA_AVX2; isa <= (int)cria_isa_detected(); isa++) {
        for (int t = 0; t < CRIA_DTYPE_COUNT; t++) {
            const cria_quant_traits *v = cria_quant_traits_for((cria_dtype)t, (cria_isa)isa);
            if (!v || !v->gemm)
                continue;
            assert_true(v->gemm_min_toks >= 1);
            assert_true(v->gemm_prep && v->gemm_extra > 0);
            check_type((cria_dtype)t, v);
            checked++;
        }
    }
    if (cria_isa_detected() >= CRIA_ISA_AVX512)
        assert_true(checked >= 6); /* Q8_0, Q4_0, Q5_0, Q4_K, Q5_K, Q6_K at least */
    print_message("%d gemm kernels checked\n", checked);
}

/* gemv (one token, CRIA_DOT_ROWS rows at a time) against vec_dot, odd and even block counts. */
static void test_gemv_matches_vec_dot(void **state)
{
    (void)state;
    int checked = 0;
    for (int t = 0; t < CRIA_DTYPE_COUNT; t++) {
        const cria_quant_traits *v = cria_quant_traits_for((cria_dtype)t, cria_isa_detected());
        if (!v || !v->gemv)
            continue;
        const cria_quant_traits *s = cria_quant_traits_for((cria_dtype)t, CRIA_ISA_SCALAR);
        const cria_quant_traits *as = cria_quant_traits_for(s->vec_dot_type, CRIA_ISA_SCALAR);
        static uint8_t w[ROWS * MAX_N * 2], a[MAX_N * 2], prep[(MAX_N + 64) * 8];
        static float wf[ROWS * MAX_N], af[MAX_N], x[MAX_N];
        assert_true(v->gemv_prep && v->gemv_extra > 0 && v->gemv_extra <= 8);
        uint32_t seed = 5u + (uint32_t)t;
        const int lens[] = {s->block, 7 * s->block, 2048 + s->block, MAX_N};
        for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
            const int n = lens[li];
            const size_t stride = (size_t)(n / s->block) * s->block_bytes;
            for (int extreme = 0; extreme < 2; extreme++) {
                make_weights(s, n, extreme, w, stride, &seed);
                for (int i = 0; i < n; i++)
                    x[i] = extreme ? -4.0f : test_rng_float(&seed) * 3.0f;
                as->from_float(x, a, n);
                as->to_float(a, af, n);
                for (int r = 0; r < ROWS; r++)
                    s->to_float(w + (size_t)r * stride, wf + (size_t)r * n, n);
                v->gemv_prep(n, a, prep);
                /* the matrix alone in a block of its size, so a read past its last row shows under ASan */
                uint8_t *wm = malloc((size_t)ROWS * stride);
                assert_non_null(wm);
                memcpy(wm, w, (size_t)ROWS * stride);
                for (int nr = 1; nr <= CRIA_DOT_ROWS; nr++) {
                    float out[CRIA_DOT_ROWS];
                    const int r0 = ROWS - nr; /* the last rows */
                    v->gemv(n, nr, wm + (size_t)r0 * stride, stride, a, prep, out);
                    for (int r = 0; r < nr; r++) {
                        const float want = s->vec_dot(n, w + (size_t)(r0 + r) * stride, a);
                        double mag = 0;
                        for (int i = 0; i < n; i++)
                            mag += fabs((double)wf[(size_t)(r0 + r) * n + i] * (double)af[i]);
                        if (memcmp(&out[r], &want, sizeof want) != 0)
                            fail_msg("%s gemv, n %d, %d rows: row %d is %.9g, vec_dot %.9g (bits differ)",
                                     cria_dtype_name((cria_dtype)t), n, nr, r0 + r, (double)out[r], (double)want);
                        if (!(fabs((double)out[r] - (double)want) <= 1e-5 * mag + 1e-6))
                            fail_msg("%s gemv, n %d, %d rows: row %d is %.9g, vec_dot %.9g (|terms| %.6g)",
                                     cria_dtype_name((cria_dtype)t), n, nr, r0 + r, (double)out[r], (double)want, mag);
                    }
                }
                free(wm);
            }
        }
        checked++;
    }
    if (cria_isa_detected() >= CRIA_ISA_AVX512)
        assert_true(checked >= 4); /* Q4_0, Q4_K, Q5_K, Q6_K */
    print_message("%d gemv kernels checked\n", checked);
}

static void test_matmul_prompt(void **state)
{
    (void)state;
    if (cria_isa_detected() < CRIA_ISA_AVX512)
        skip();
    enum { COLS = 512, NTOK = 21, NW = 3, MAXR = 1040 };
    const cria_dtype types[NW] = {CRIA_DTYPE_Q4_0, CRIA_DTYPE_Q8_0, CRIA_DTYPE_Q6_K};
    /* 1093 rows in all: one token takes 64-row items there (at 2 threads), with a short last one */
    const int64_t rows[NW] = {37, MAXR, 16};
    static float x[NTOK * COLS], wx[COLS], y[2][NW][NTOK * MAXR];
    static uint8_t wq[NW][MAXR * COLS * 2];
    static char scratch[NTOK * COLS * 4];
    uint32_t seed = 7;
    cria_weight w[NW];
    const cria_weight *wp[NW];
    for (int i = 0; i < NW; i++) {
        const cria_quant_traits *s = cria_quant_traits_for(types[i], CRIA_ISA_SCALAR);
        const size_t rb = (size_t)(COLS / s->block) * s->block_bytes;
        for (int64_t r = 0; r < rows[i]; r++) {
            for (int c = 0; c < COLS; c++)
                wx[c] = test_rng_float(&seed) * (1.0f + (float)(r % 4));
            s->from_float(wx, wq[i] + (size_t)r * rb, COLS);
        }
        w[i] = (cria_weight){.data = wq[i], .type = types[i], .rows = rows[i], .cols = COLS, .row_bytes = rb};
        wp[i] = &w[i];
    }
    for (int i = 0; i < NTOK * COLS; i++)
        x[i] = test_rng_float(&seed) * 2.0f;
    const cria_quant_traits *q = cria_quant_traits_for(CRIA_DTYPE_Q4_0, CRIA_ISA_AVX512);
    assert_non_null(q->gemm);
    assert_true(NTOK >= q->gemm_min_toks);
    cria_pool *pool = NULL;
    cria_error err;
    assert_int_equal(cria_pool_init(2, &pool, &err), CRIA_OK);
    const cria_isa levels[2] = {CRIA_ISA_AVX2, CRIA_ISA_AVX512};
    /* a prompt (gemm), a few tokens (gemv per token where the type has one) and one token */
    const int counts[] = {NTOK, 3, 1};
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        const int ntok = counts[ci];
        for (int l = 0; l < 2; l++) {
            float *ys[NW] = {y[l][0], y[l][1], y[l][2]};
            cria_matmul_multi(cria_vec_for(levels[l]), pool, 2, NW, wp, ys, x, ntok, scratch);
        }
        for (int i = 0; i < NW; i++) {
            for (int64_t k = 0; k < ntok * rows[i]; k++) {
                const double a = y[0][i][k], b = y[1][i][k];
                /* |terms| here is at most 512 x 4 x 2 x 1.1: 1e-5 of that */
                if (!(fabs(a - b) <= 0.05))
                    fail_msg("matmul weight %d (%s) token %lld row %lld: gemm %.9g, tiles %.9g", i,
                             cria_dtype_name(types[i]), (long long)(k / rows[i]), (long long)(k % rows[i]), b, a);
            }
        }
    }
    cria_pool_free(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gemm_matches_vec_dot),
        cmocka_unit_test(test_gemv_matches_vec_dot),
        cmocka_unit_test(test_matmul_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
