/*
 * Quantized formats: round-trip error of every type on llama.cpp's
 * test-quantize-fns signal and metric, dot products against the dequantized
 * f32 dot, every ISA level's kernels against the scalar reference (under each
 * level this CPU supports, as CRIA_ISA would force), and the defined
 * behaviour on bad lengths, zero, constant, huge and non-finite inputs.
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

#include "base/fp16.h"
#include "quant/blocks.h"
#include "quant/quant.h"
#include "quant/quant_impl.h"

enum { N = 32 * 128 }; /* llama.cpp's test size, a multiple of every block */

typedef struct type_case {
    cria_dtype type;
    double max_rmse; /* llama.cpp's thresholds */
    double max_dot;  /* |quantized dot - f32 dot| / N, as llama.cpp measures it */
} type_case;

static const type_case cases[] = {
    {CRIA_DTYPE_Q8_0, 0.002, 0.02},  {CRIA_DTYPE_Q8_1, 0.002, 0.02},  {CRIA_DTYPE_Q4_0, 0.002, 0.02},
    {CRIA_DTYPE_Q4_1, 0.002, 0.02},  {CRIA_DTYPE_Q5_0, 0.002, 0.02},  {CRIA_DTYPE_Q5_1, 0.002, 0.02},
    {CRIA_DTYPE_Q2_K, 0.0075, 0.04}, {CRIA_DTYPE_Q3_K, 0.0040, 0.04}, {CRIA_DTYPE_Q4_K, 0.002, 0.02},
    {CRIA_DTYPE_Q5_K, 0.002, 0.02},  {CRIA_DTYPE_Q6_K, 0.002, 0.02},  {CRIA_DTYPE_Q8_K, 0.002, 0.02},
    {CRIA_DTYPE_TQ1_0, 0.01, 0.15},  {CRIA_DTYPE_TQ2_0, 0.01, 0.15},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

/* llama.cpp's test signal: 0.1 + 2 cos(i + offset). */
static void signal(float *x, int n, float offset)
{
    for (int i = 0; i < n; i++)
        x[i] = 0.1f + 2.0f * cosf((float)i + offset);
}

/* llama.cpp's "rmse": sqrt(sum of squared differences) / n. */
static double llama_rmse(const float *a, const float *b, int n)
{
    double s = 0;
    for (int i = 0; i < n; i++)
        s += ((double)a[i] - (double)b[i]) * ((double)a[i] - (double)b[i]);
    return sqrt(s) / n;
}

static void quantize(cria_dtype t, const float *x, void *y, int n)
{
    cria_error err;
    assert_int_equal(cria_quantize_row(t, x, y, n, &err), CRIA_OK);
}

static void dequantize(cria_dtype t, const void *x, float *y, int n)
{
    cria_error err;
    assert_int_equal(cria_dequantize_row(t, x, y, n, &err), CRIA_OK);
}

static void test_round_trip(void **state)
{
    (void)state;
    static float x[N], y[N];
    static uint8_t q[N * 2];
    signal(x, N, 0.0f);
    for (int c = 0; c < N_CASES; c++) {
        quantize(cases[c].type, x, q, N);
        dequantize(cases[c].type, q, y, N);
        double e = llama_rmse(x, y, N);
        if (!(e < cases[c].max_rmse))
            fail_msg("%s: round-trip rmse %.5f >= %.4f", cria_dtype_name(cases[c].type), e, cases[c].max_rmse);
    }
}

/* Weight x activation dot: against the f32 dot of the originals and of the dequantized rows. */
static void test_dot(void **state)
{
    (void)state;
    static float x[N], a[N], xd[N], ad[N];
    static uint8_t qx[N * 2], qa[N * 2];
    signal(x, N, 0.0f);
    signal(a, N, 1.0f);
    for (int c = 0; c < N_CASES; c++) {
        const cria_quant_traits *tr = cria_quant_traits_for(cases[c].type, CRIA_ISA_SCALAR);
        if (!tr->vec_dot)
            continue;
        quantize(tr->type, x, qx, N);
        quantize(tr->vec_dot_type, a, qa, N);
        dequantize(tr->type, qx, xd, N);
        dequantize(tr->vec_dot_type, qa, ad, N);
        double ref = 0, deq = 0, mag = 0;
        for (int i = 0; i < N; i++) {
            ref += (double)x[i] * (double)a[i];
            deq += (double)xd[i] * (double)ad[i];
            mag += fabs((double)xd[i] * (double)ad[i]);
        }
        const double got = tr->vec_dot(N, qx, qa);
        if (!(fabs(got - ref) / N < cases[c].max_dot))
            fail_msg("%s: dot error %.5f vs f32", cria_dtype_name(tr->type), fabs(got - ref) / N);
        /* Q8_1 keeps d * sum(q) as a half, which the Q4_1 / Q5_1 dots use: allow for its rounding. */
        const double tol = tr->vec_dot_type == CRIA_DTYPE_Q8_1 ? 1e-3 : 1e-5;
        if (!(fabs(got - deq) <= tol * mag))
            fail_msg("%s: dot %.6f, dequantized dot %.6f", cria_dtype_name(tr->type), got, deq);
    }
}

/* Offsets of the half-precision scales in each block (random bytes there could be NaN or Inf). */
static int half_fields(cria_dtype t, size_t off[2])
{
    switch (t) {
    case CRIA_DTYPE_Q8_1: off[0] = offsetof(block_q8_1, d), off[1] = offsetof(block_q8_1, s); return 2;
    case CRIA_DTYPE_Q4_1: off[0] = offsetof(block_q4_1, d), off[1] = offsetof(block_q4_1, m); return 2;
    case CRIA_DTYPE_Q5_1: off[0] = offsetof(block_q5_1, d), off[1] = offsetof(block_q5_1, m); return 2;
    case CRIA_DTYPE_Q2_K: off[0] = offsetof(block_q2_K, d), off[1] = offsetof(block_q2_K, dmin); return 2;
    case CRIA_DTYPE_Q3_K: off[0] = offsetof(block_q3_K, d); return 1;
    case CRIA_DTYPE_Q4_K: off[0] = offsetof(block_q4_K, d), off[1] = offsetof(block_q4_K, dmin); return 2;
    case CRIA_DTYPE_Q5_K: off[0] = offsetof(block_q5_K, d), off[1] = offsetof(block_q5_K, dmin); return 2;
    case CRIA_DTYPE_Q6_K: off[0] = offsetof(block_q6_K, d); return 1;
    case CRIA_DTYPE_TQ1_0: off[0] = offsetof(block_tq1_0, d); return 1;
    case CRIA_DTYPE_TQ2_0: off[0] = offsetof(block_tq2_0, d); return 1;
    default: off[0] = 0; return 1; /* Q8_0, Q4_0, Q5_0: d first */
    }
}

/* Random block bytes (every code and scale pattern) with finite, modest half scales. */
static void random_blocks(cria_dtype t, uint8_t *buf, int n, uint32_t seed)
{
    const cria_quant_traits *tr = cria_quant_traits_for(t, CRIA_ISA_SCALAR);
    const size_t bytes = (size_t)(n / tr->block) * tr->block_bytes;
    for (size_t i = 0; i < bytes; i++) {
        seed = seed * 1664525u + 1013904223u;
        buf[i] = (uint8_t)(seed >> 24);
    }
    if (t == CRIA_DTYPE_Q8_K) { /* a float scale */
        for (size_t b = 0; b < bytes / tr->block_bytes; b++) {
            const float d = 0.01f * (float)(b % 7 + 1);
            memcpy(buf + b * tr->block_bytes, &d, sizeof d);
        }
        return;
    }
    size_t off[2];
    const int nf = half_fields(t, off);
    for (size_t b = 0; b < bytes / tr->block_bytes; b++) {
        for (int f = 0; f < nf; f++) {
            seed = seed * 1664525u + 1013904223u;
            const float v = ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.2f;
            const uint16_t h = cria_f32_to_fp16(v);
            memcpy(buf + b * tr->block_bytes + off[f], &h, sizeof h);
        }
    }
}

/*
 * Every ISA level this CPU has: its kernels give what the scalar reference
 * gives. The dots share the reference's float shape (quant_impl.h), so they
 * must agree to the bit, which implies the 1e-4 relative the issue asks;
 * quantizers are compared through their dequantized rows. Weights come both
 * from quantizing a signal and from random bytes (every code pattern).
 */
static void test_isa_levels_match_scalar(void **state)
{
    (void)state;
    static float x[N], a[N], y0[N], y1[N];
    static uint8_t qx[N * 2], qa[N * 2], qs[N * 2];
    signal(x, N, 0.5f);
    for (int i = 0; i < N; i++)
        a[i] = (float)sin(0.37 * i) * (1.0f + (float)(i % 7));
    for (int isa = CRIA_ISA_AVX2; isa <= (int)cria_isa_detected(); isa++) {
        for (int c = 0; c < N_CASES; c++) {
            const cria_quant_traits *s = cria_quant_traits_for(cases[c].type, CRIA_ISA_SCALAR);
            const cria_quant_traits *v = cria_quant_traits_for(cases[c].type, (cria_isa)isa);
            assert_non_null(v);
            assert_int_equal(v->block, s->block);
            assert_int_equal(v->vec_dot_type, s->vec_dot_type);
            /* quantize: same bytes as the reference */
            s->from_float(x, qs, N);
            v->from_float(x, qx, N);
            s->to_float(qs, y0, N);
            v->to_float(qx, y1, N);
            if (llama_rmse(y0, y1, N) > 1e-6)
                fail_msg("%s at %s: quantize/dequantize differ from scalar", cria_dtype_name(s->type),
                         cria_isa_name((cria_isa)isa));
            /* dequantizers on random blocks (every code pattern): equal values */
            random_blocks(s->type, qs, N, 999u + (uint32_t)c);
            s->to_float(qs, y0, N);
            v->to_float(qs, y1, N);
            for (int i = 0; i < N; i++) {
                if (!(y0[i] == y1[i]))
                    fail_msg("%s at %s: to_float[%d] = %.9g, scalar %.9g", cria_dtype_name(s->type),
                             cria_isa_name((cria_isa)isa), i, (double)y1[i], (double)y0[i]);
            }
            s->from_float(x, qs, N);
            if (!s->vec_dot)
                continue;
            /* several lengths, so loops over 1, 2, odd and many blocks are covered */
            const int lens[] = {s->block, 2 * s->block, 3 * s->block, 7 * s->block, N};
            cria_quant_traits_for(s->vec_dot_type, CRIA_ISA_SCALAR)->from_float(a, qa, N);
            for (int src = 0; src < 2; src++) {
                if (src == 1)
                    random_blocks(s->type, qs, N, 12345u + (uint32_t)c);
                for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
                    const int n = lens[k];
                    const float r = s->vec_dot(n, qs, qa), g = v->vec_dot(n, qs, qa);
                    if (memcmp(&r, &g, sizeof r) != 0)
                        fail_msg("%s at %s, n %d, %s weights: dot %.9g, scalar %.9g", cria_dtype_name(s->type),
                                 cria_isa_name((cria_isa)isa), n, src ? "random" : "quantized", (double)g,
                                 (double)r);
                }
            }
            /* several rows at once: the bits of one vec_dot per row, for 1..CRIA_DOT_ROWS rows */
            for (int odd = 0; odd < 2 && v->vec_dot_rows; odd++) {
                /* an even and an odd number of blocks per row */
                const int n = (2 * s->block > 512 ? 2 * s->block : 512) + odd * s->block;
                const size_t stride = (size_t)(n / s->block) * s->block_bytes;
                for (int nr = 1; nr <= CRIA_DOT_ROWS; nr++) {
                    float out[CRIA_DOT_ROWS];
                    v->vec_dot_rows(n, nr, qs, stride, qa, out);
                    for (int r = 0; r < nr; r++) {
                        const float want = s->vec_dot(n, qs + (size_t)r * stride, qa);
                        if (memcmp(&want, &out[r], sizeof want) != 0)
                            fail_msg("%s at %s: vec_dot_rows(%d) row %d is %.9g, vec_dot %.9g", cria_dtype_name(s->type),
                                     cria_isa_name((cria_isa)isa), nr, r, (double)out[r], (double)want);
                    }
                }
            }
            /* the prompt's tile: every (row, token) the bits of one vec_dot, for every tile shape */
            for (int odd = 0; odd < 2 && v->vec_dot_tile; odd++) {
                const int n = (2 * s->block > 512 ? 2 * s->block : 512) + odd * s->block;
                const size_t stride = (size_t)(n / s->block) * s->block_bytes;
                const cria_quant_traits *as = cria_quant_traits_for(s->vec_dot_type, CRIA_ISA_SCALAR);
                const size_t astride = (size_t)(n / as->block) * as->block_bytes;
                static float at[N];
                static uint8_t qat[8 * N * 2];
                assert_true(v->tile_toks >= 1 && v->tile_toks <= 8);
                for (int t = 0; t < v->tile_toks; t++) {
                    for (int i = 0; i < n; i++)
                        at[i] = a[(i + 37 * t) % N] * (1.0f + 0.25f * (float)t);
                    as->from_float(at, qat + (size_t)t * astride, n);
                }
                for (int nr = 1; nr <= CRIA_DOT_ROWS; nr++) {
                    for (int nt = 1; nt <= v->tile_toks; nt++) {
                        float out[8 * CRIA_DOT_ROWS];
                        v->vec_dot_tile(n, nr, qs, stride, nt, qat, astride, out, CRIA_DOT_ROWS);
                        for (int t = 0; t < nt; t++) {
                            for (int r = 0; r < nr; r++) {
                                const float want = s->vec_dot(n, qs + (size_t)r * stride, qat + (size_t)t * astride);
                                const float got = out[t * CRIA_DOT_ROWS + r];
                                if (memcmp(&want, &got, sizeof want) != 0)
                                    fail_msg("%s at %s: vec_dot_tile(%d x %d) row %d token %d is %.9g, vec_dot %.9g",
                                             cria_dtype_name(s->type), cria_isa_name((cria_isa)isa), nr, nt, r, t,
                                             (double)got, (double)want);
                            }
                        }
                    }
                }
            }
            /* and the activation quantizer of this level feeds the same dot */
            const cria_quant_traits *av = cria_quant_traits_for(s->vec_dot_type, (cria_isa)isa);
            av->from_float(a, qx, N);
            if (memcmp(qx, qa, (size_t)(N / av->block) * av->block_bytes) != 0)
                fail_msg("%s at %s: activation quantizer bytes differ from scalar", cria_dtype_name(av->type),
                         cria_isa_name((cria_isa)isa));
        }
    }
}

static void test_bad_lengths_rejected(void **state)
{
    (void)state;
    float x[300] = {0}, y[300];
    uint8_t q[600];
    cria_error err;
    for (int c = 0; c < N_CASES; c++) {
        const cria_dtype t = cases[c].type;
        const int block = cria_quant_traits_for(t, CRIA_ISA_SCALAR)->block;
        assert_int_equal(cria_quantize_row(t, x, q, block + 1, &err), CRIA_ERR_ARG);
        assert_non_null(strstr(err.msg, "whole blocks"));
        assert_int_equal(cria_quantize_row(t, x, q, block - 1, &err), CRIA_ERR_ARG);
        assert_int_equal(cria_dequantize_row(t, q, y, block / 2 + 3, &err), CRIA_ERR_ARG);
        assert_int_equal(cria_quantize_row(t, x, q, -block, &err), CRIA_ERR_ARG);
        assert_int_equal(cria_quantize_row(t, x, q, 0, &err), CRIA_OK); /* an empty row is fine */
    }
    /* Types that are not block-quantized. */
    assert_int_equal(cria_quantize_row(CRIA_DTYPE_F32, x, q, 32, &err), CRIA_ERR_ARG);
    assert_int_equal(cria_quantize_row(CRIA_DTYPE_IQ2_XXS, x, q, 256, &err), CRIA_ERR_ARG);
    assert_null(cria_quant_traits_for(CRIA_DTYPE_F16, CRIA_ISA_SCALAR));
    assert_null(cria_quant_traits_for((cria_dtype)200, CRIA_ISA_SCALAR));
}

/* Zero rows decode to exact zeros and dot to 0; constant rows decode to the constant. */
static void test_zero_and_constant_rows(void **state)
{
    (void)state;
    enum { M = 512 };
    float x[M], y[M], a[M];
    uint8_t q[M * 2], qa[M * 2];
    for (int c = 0; c < N_CASES; c++) {
        const cria_quant_traits *tr = cria_quant_traits_for(cases[c].type, CRIA_ISA_SCALAR);
        memset(x, 0, sizeof x);
        quantize(tr->type, x, q, M);
        dequantize(tr->type, q, y, M);
        for (int i = 0; i < M; i++)
            assert_true(y[i] == 0.0f);
        if (tr->vec_dot) {
            signal(a, M, 0.0f);
            quantize(tr->vec_dot_type, a, qa, M);
            for (int isa = 0; isa <= (int)cria_isa_detected(); isa++)
                assert_true(cria_quant_traits_for(tr->type, (cria_isa)isa)->vec_dot(M, q, qa) == 0.0f);
        }
        const float consts[] = {0.7f, -1.3f, 0.05f, 250.0f};
        for (size_t k = 0; k < sizeof consts / sizeof consts[0]; k++) {
            for (int i = 0; i < M; i++)
                x[i] = consts[k];
            quantize(tr->type, x, q, M);
            dequantize(tr->type, q, y, M);
            for (int i = 0; i < M; i++) {
                if (!(fabsf(y[i] - consts[k]) <= 2e-3f * fabsf(consts[k])))
                    fail_msg("%s: constant %g decodes to %g", cria_dtype_name(tr->type), (double)consts[k],
                             (double)y[i]);
            }
        }
    }
}

/*
 * Huge and non-finite inputs: NaN counts as 0, +-Inf and |x| > 1e30 clamp to
 * +-1e30, a half scale saturates at 65504: every output is finite, huge
 * inputs decode to large values of their own sign, and the other blocks of
 * the row are untouched.
 */
static void test_huge_and_non_finite_inputs(void **state)
{
    (void)state;
    enum { M = 512 };
    float x[M], y[M], ref[M];
    uint8_t q[M * 2];
    for (int c = 0; c < N_CASES; c++) {
        const cria_quant_traits *tr = cria_quant_traits_for(cases[c].type, CRIA_ISA_SCALAR);
        signal(x, M, 0.0f);
        quantize(tr->type, x, q, M);
        dequantize(tr->type, q, ref, M);
        const float specials[] = {1e35f, -1e35f, INFINITY, -INFINITY, NAN};
        for (size_t k = 0; k < sizeof specials / sizeof specials[0]; k++) {
            signal(x, M, 0.0f);
            x[5] = specials[k];
            quantize(tr->type, x, q, M);
            dequantize(tr->type, q, y, M);
            for (int i = 0; i < M; i++) {
                if (!isfinite(y[i]))
                    fail_msg("%s: input %g gives a non-finite output at %d", cria_dtype_name(tr->type),
                             (double)specials[k], i);
            }
            if (isnan(specials[k])) {
                if (!(fabsf(y[5]) <= 1.0f))
                    fail_msg("%s: NaN decodes to %g, not near 0", cria_dtype_name(tr->type), (double)y[5]);
            } else if (!(specials[k] > 0 ? y[5] >= 65504.0f : y[5] <= -65504.0f)) {
                fail_msg("%s: input %g decodes to %g", cria_dtype_name(tr->type), (double)specials[k], (double)y[5]);
            }
            /* blocks other than the first are as before */
            for (int i = tr->block; i < M; i++)
                assert_true(y[i] == ref[i]);
            /* every ISA level's quantizer defines the same bytes */
            for (int isa = CRIA_ISA_AVX2; isa <= (int)cria_isa_detected(); isa++) {
                uint8_t qv[M * 2];
                cria_quant_traits_for(tr->type, (cria_isa)isa)->from_float(x, qv, M);
                if (memcmp(qv, q, (size_t)(M / tr->block) * tr->block_bytes) != 0)
                    fail_msg("%s at %s: input %g quantizes differently from scalar", cria_dtype_name(tr->type),
                             cria_isa_name((cria_isa)isa), (double)specials[k]);
            }
        }
    }
}

/* The word-wise unpacking of Q4_K / Q5_K and Q3_K scales agrees with the per-sub-block reference on random bytes. */
static void test_k4_scale_unpack(void **state)
{
    (void)state;
    uint32_t seed = 7;
    for (int it = 0; it < 2000; it++) {
        uint8_t q[12], sc[8], m[8];
        for (int i = 0; i < 12; i++) {
            seed = seed * 1664525u + 1013904223u;
            q[i] = (uint8_t)(seed >> 24);
        }
        quant_k4_unpack(q, sc, m);
        for (int j = 0; j < 8; j++) {
            uint8_t s1, m1;
            quant_k4_scale_min(j, q, &s1, &m1);
            assert_int_equal(sc[j], s1);
            assert_int_equal(m[j], m1);
        }
        int8_t s3[16], r3[16];
        quant_q3k_unpack(q, s3);
        quant_q3k_scales(q, r3);
        assert_memory_equal(s3, r3, sizeof s3);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_dot),
        cmocka_unit_test(test_isa_levels_match_scalar),
        cmocka_unit_test(test_bad_lengths_rejected),
        cmocka_unit_test(test_zero_and_constant_rows),
        cmocka_unit_test(test_huge_and_non_finite_inputs),
        cmocka_unit_test(test_k4_scale_unpack),
    };
    return cmocka_run_group_tests_name("quant", tests, NULL, NULL);
}
