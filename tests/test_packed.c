/*
 * Weights packed at load (quant/packed.h): the packed kernels against the
 * scalar reference's vec_dot, bit for bit, for every token count a call
 * can see (one token, part and whole 8-token tiles, more than a tile),
 * rows of one block, odd block counts and rows longer than a kernel slice;
 * which matrices can be packed; and the engine's matmul over packed weights
 * (several weights sharing one input, two threads) against the AVX2
 * level's tiles, which read the file's layout; and the Q4_0 and Q8_0
 * models loaded with and without repacking (cria_model_params.no_repack): the same logits,
 * bit for bit, for a prompt and for single tokens.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "cria.h"
#include "kernels/matmul.h"
#include "model/model.h"
#include "parallel/pool.h"
#include "quant/packed.h"
#include "quant/quant.h"
#include "quant/quant_gemm.h"
#include "util.h"

enum { ROWS = 2 * CRIA_PACK_ROWS, TOKS = 19, MAX_N = 2304 };

static void check_type(cria_dtype type, const cria_quant_traits *v)
{
    const cria_quant_traits *s = cria_quant_traits_for(type, CRIA_ISA_SCALAR);
    const cria_quant_traits *as = cria_quant_traits_for(s->vec_dot_type, CRIA_ISA_SCALAR);
    static uint8_t w[ROWS * MAX_N * 2], a[TOKS * MAX_N * 2], extra[24 * MAX_N * 4];
    static float x[MAX_N], out[TOKS * ROWS], wf[ROWS * MAX_N], af[TOKS * MAX_N];
    const int lens[] = {s->block, 7 * s->block, 2048 + s->block, MAX_N};
    uint32_t seed = 11u + (uint32_t)type;
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int n = lens[li];
        const size_t stride = (size_t)(n / s->block) * s->block_bytes;
        const size_t astride = (size_t)(n / as->block) * as->block_bytes;
        for (int r = 0; r < ROWS; r++) {
            for (int i = 0; i < n; i++)
                x[i] = r == 3 ? 0.0f : test_rng_float(&seed) * (0.5f + (float)(r % 5)) * (i % 64 < 32 ? 1.0f : 8.0f);
            s->from_float(x, w + (size_t)r * stride, n);
            s->to_float(w + (size_t)r * stride, wf + (size_t)r * n, n);
        }
        for (int t = 0; t < TOKS; t++) {
            for (int i = 0; i < n; i++)
                x[i] = t == 2 ? -4.0f : test_rng_float(&seed) * (1.0f + (float)t);
            as->from_float(x, a + (size_t)t * astride, n);
            as->to_float(a + (size_t)t * astride, af + (size_t)t * n, n);
        }
        /* the packed matrix alone in a block of its size, so a read past it shows under ASan */
        uint8_t *pw = malloc((size_t)ROWS * stride);
        assert_non_null(pw);
        cria_pack_rows(type, w, stride, n, 0, CRIA_PACK_ROWS, pw);
        cria_pack_rows(type, w, stride, n, CRIA_PACK_ROWS, ROWS, pw);
        const int counts[] = {1, 2, 4, 5, 8, 9, 12, 15, CRIA_PACKED_Q8_0_GEMM_TOKS, TOKS};
        for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
            const int nt = counts[ci];
            const size_t tiles = (size_t)(nt + CRIA_GEMM_TOKS - 1) / CRIA_GEMM_TOKS * CRIA_GEMM_TOKS;
            assert_true(tiles * (size_t)(n / as->block) * v->packed_extra <= sizeof extra);
            v->packed_prep(n, nt, a, astride, extra);
            memset(out, 0, sizeof out);
            for (int r0 = 0; r0 < ROWS; r0 += CRIA_PACK_ROWS)
                v->packed(n, pw + (size_t)r0 * stride, nt, extra, out + r0, ROWS);
            for (int t = 0; t < nt; t++) {
                for (int r = 0; r < ROWS; r++) {
                    const float want = s->vec_dot(n, w + (size_t)r * stride, a + (size_t)t * astride);
                    const double got = out[t * ROWS + r];
                    if (type == CRIA_DTYPE_Q8_0 && nt >= CRIA_PACKED_Q8_0_GEMM_TOKS) {
                        /* a prompt sums per block, as the repacking GEMM: the value to rounding */
                        double mag = 0;
                        for (int i = 0; i < n; i++)
                            mag += fabs((double)wf[(size_t)r * n + i] * (double)af[(size_t)t * n + i]);
                        if (!(fabs(got - (double)want) <= 1e-5 * mag + 1e-6))
                            fail_msg("q8_0 packed, n %d, %d tokens: row %d token %d is %.9g, vec_dot %.9g", n, nt, r,
                                     t, got, (double)want);
                        continue;
                    }
                    if (memcmp(&out[t * ROWS + r], &want, sizeof want) != 0)
                        fail_msg("%s packed, n %d, %d tokens: row %d token %d is %.9g, vec_dot %.9g (bits differ)",
                                 cria_dtype_name(type), n, nt, r, t, got, (double)want);
                }
            }
        }
        free(pw);
    }
}

static void test_packed_matches_vec_dot(void **state)
{
    (void)state;
    int checked = 0;
    for (int t = 0; t < CRIA_DTYPE_COUNT; t++) {
        const cria_quant_traits *v = cria_quant_traits_for((cria_dtype)t, cria_isa_detected());
        if (!v || !v->packed)
            continue;
        assert_true(v->packed_prep && v->packed_extra > 0);
        check_type((cria_dtype)t, v);
        checked++;
    }
    if (cria_isa_detected() >= CRIA_ISA_AVX512)
        assert_true(checked >= 2); /* Q4_0, Q8_0 */
    print_message("%d packed kernels checked\n", checked);
}

static void test_pack_supported(void **state)
{
    (void)state;
    /* no packed kernels below AVX-512, nor for types without them */
    assert_false(cria_pack_supported(CRIA_DTYPE_Q4_0, CRIA_ISA_SCALAR, 64, 256));
    assert_false(cria_pack_supported(CRIA_DTYPE_Q4_0, CRIA_ISA_AVX2, 64, 256));
    assert_false(cria_pack_supported(CRIA_DTYPE_F32, cria_isa_detected(), 64, 256));
    if (cria_isa_detected() < CRIA_ISA_AVX512)
        return;
    assert_true(cria_pack_supported(CRIA_DTYPE_Q4_0, CRIA_ISA_AVX512, 64, 256));
    assert_true(cria_pack_supported(CRIA_DTYPE_Q4_0, CRIA_ISA_AVX512, 16, 32));
    /* rows must fill whole groups of 16, columns whole blocks */
    assert_false(cria_pack_supported(CRIA_DTYPE_Q4_0, CRIA_ISA_AVX512, 40, 256));
    assert_false(cria_pack_supported(CRIA_DTYPE_Q4_0, CRIA_ISA_AVX512, 0, 256));
    assert_false(cria_pack_supported(CRIA_DTYPE_Q4_0, CRIA_ISA_AVX512, 64, 48));
}

/*
 * Q, K and V of a GQA shape as one dispatch: packed (AVX-512) against the
 * file's layout (AVX2), any token count. The Q4_0 matrix between the Q8_0
 * ones shares their input but not their activation layout, so it takes the
 * unpacked path in the same dispatch.
 */
static void test_matmul_packed(void **state)
{
    (void)state;
    if (cria_isa_detected() < CRIA_ISA_AVX512)
        skip();
    enum { COLS = 576, NTOK = 21, NW = 3, MAXR = 1040 };
    /* 1104 rows in all: one token takes 64-row items at 2 threads, with a short last one */
    const int64_t rows[NW] = {MAXR, 48, 16};
    const cria_dtype types[NW] = {CRIA_DTYPE_Q8_0, CRIA_DTYPE_Q4_0, CRIA_DTYPE_Q8_0};
    static float x[NTOK * COLS], wx[COLS], y[2][NW][NTOK * MAXR];
    static uint8_t wq[NW][MAXR * COLS * 2], pk[NW][MAXR * COLS * 2];
    static char scratch[NTOK * COLS * 4];
    uint32_t seed = 3;
    cria_weight w[2][NW];
    const cria_weight *wp[2][NW];
    for (int i = 0; i < NW; i++) {
        const cria_quant_traits *s = cria_quant_traits_for(types[i], CRIA_ISA_SCALAR);
        const size_t rb = (size_t)(COLS / s->block) * s->block_bytes;
        for (int64_t r = 0; r < rows[i]; r++) {
            for (int c = 0; c < COLS; c++)
                wx[c] = test_rng_float(&seed) * (1.0f + (float)(r % 4));
            s->from_float(wx, wq[i] + (size_t)r * rb, COLS);
        }
        assert_true(cria_pack_supported(types[i], CRIA_ISA_AVX512, rows[i], COLS));
        cria_pack_rows(types[i], wq[i], rb, COLS, 0, rows[i], pk[i]);
        w[0][i] = (cria_weight){.data = wq[i], .type = types[i], .rows = rows[i], .cols = COLS, .row_bytes = rb};
        w[1][i] = w[0][i];
        w[1][i].packed = pk[i];
        wp[0][i] = &w[0][i];
        wp[1][i] = &w[1][i];
    }
    for (int i = 0; i < NTOK * COLS; i++)
        x[i] = test_rng_float(&seed) * 2.0f;
    cria_pool *pool = NULL;
    cria_error err;
    assert_int_equal(cria_pool_init(2, &pool, &err), CRIA_OK);
    const cria_isa levels[2] = {CRIA_ISA_AVX2, CRIA_ISA_AVX512};
    const int counts[] = {1, 3, 8, 15, NTOK};
    for (size_t ci = 0; ci < sizeof counts / sizeof counts[0]; ci++) {
        const int ntok = counts[ci];
        for (int l = 0; l < 2; l++) {
            float *ys[NW] = {y[l][0], y[l][1], y[l][2]};
            cria_matmul_multi(cria_vec_for(levels[l]), pool, 2, NW, wp[l], ys, x, ntok, scratch);
        }
        for (int i = 0; i < NW; i++)
            for (int64_t k = 0; k < ntok * rows[i]; k++)
                if (types[i] == CRIA_DTYPE_Q8_0 && ntok >= CRIA_PACKED_Q8_0_GEMM_TOKS) {
                    /* per-block sums: |terms| here is at most 576 x 4 x 2 x 1.1, 1e-5 of that */
                    if (!(fabs((double)y[0][i][k] - (double)y[1][i][k]) <= 0.06))
                        fail_msg("%d tokens, weight %d, token %lld row %lld: packed %.9g, file layout %.9g", ntok,
                                 i, (long long)(k / rows[i]), (long long)(k % rows[i]), (double)y[1][i][k],
                                 (double)y[0][i][k]);
                } else if (memcmp(&y[0][i][k], &y[1][i][k], sizeof(float)) != 0)
                    fail_msg("%d tokens, weight %d, token %lld row %lld: packed %.9g, file layout %.9g", ntok, i,
                             (long long)(k / rows[i]), (long long)(k % rows[i]), (double)y[1][i][k],
                             (double)y[0][i][k]);
    }
    cria_pool_free(pool);
}

/* The last position's logits of `count` tokens decoded as one batch, then of one more token alone. */
static void model_logits(cria_model *m, float *out, int n_vocab)
{
    cria_context_params cp = cria_context_default_params();
    cp.n_ctx = 64;
    cp.n_threads = 2;
    cp.n_threads_batch = 2;
    cria_context *ctx = NULL;
    cria_error err;
    assert_int_equal(cria_context_init(m, &cp, &ctx, &err), CRIA_OK);
    enum { N = 9 };
    cria_token tok[N + 1];
    int32_t pos[N + 1];
    int32_t seq[N + 1];
    int8_t want[N + 1];
    for (int i = 0; i <= N; i++) {
        tok[i] = (cria_token)(1 + 37 * i % (n_vocab - 1));
        pos[i] = i;
        seq[i] = 0;
        want[i] = i == N - 1;
    }
    cria_batch b = {.n_tokens = N, .token = tok, .pos = pos, .seq_id = seq, .logits = want};
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
    memcpy(out, cria_get_logits_ith(ctx, N - 1), (size_t)n_vocab * sizeof(float));
    want[N] = 1;
    cria_batch one = {.n_tokens = 1, .token = tok + N, .pos = pos + N, .seq_id = seq + N, .logits = want + N};
    assert_int_equal(cria_decode(ctx, &one, &err), CRIA_OK);
    memcpy(out + n_vocab, cria_get_logits_ith(ctx, 0), (size_t)n_vocab * sizeof(float));
    cria_context_free(ctx);
}

/* A model loaded with and without repacking: every packable matrix packed, and the same logits, bit for bit. */
static void check_model(const char *rel)
{
    if (!test_have(rel))
        skip();
    cria_model *m[2] = {NULL, NULL};
    cria_error err;
    for (int i = 0; i < 2; i++) {
        cria_model_params mp = cria_model_default_params();
        mp.no_repack = i;
        assert_int_equal(cria_model_load(test_shared(rel), &mp, &m[i], &err), CRIA_OK);
    }
    int packed = 0;
    for (int32_t l = 0; l < m[0]->hp.n_layer; l++) {
        const cria_layer *L0 = &m[0]->layers[l], *L1 = &m[1]->layers[l];
        const cria_weight *w0[] = {&L0->wq, &L0->wk, &L0->wv, &L0->wo, &L0->w_gate, &L0->w_up, &L0->w_down};
        const cria_weight *w1[] = {&L1->wq, &L1->wk, &L1->wv, &L1->wo, &L1->w_gate, &L1->w_up, &L1->w_down};
        for (int i = 0; i < 7; i++) {
            assert_null(w1[i]->packed);
            assert_true((w0[i]->packed != NULL) ==
                        cria_pack_supported(w0[i]->type, cria_isa_active(), w0[i]->rows, w0[i]->cols));
            packed += w0[i]->packed != NULL;
        }
    }
    if (cria_isa_active() >= CRIA_ISA_AVX512)
        assert_true(packed == 7 * m[0]->hp.n_layer);
    const int nv = m[0]->hp.n_vocab;
    float *lg[2];
    for (int i = 0; i < 2; i++) {
        lg[i] = malloc(2 * (size_t)nv * sizeof(float));
        assert_non_null(lg[i]);
        model_logits(m[i], lg[i], nv);
    }
    for (int k = 0; k < 2 * nv; k++) {
        uint32_t a, b;
        memcpy(&a, &lg[0][k], sizeof a);
        memcpy(&b, &lg[1][k], sizeof b);
        test_check_bits(a, b, k < nv ? "prompt logit" : "one-token logit", k % nv);
    }
    for (int i = 0; i < 2; i++) {
        free(lg[i]);
        cria_model_free(m[i]);
    }
}

static void test_model_repack(void **state)
{
    (void)state;
    check_model("models/synth-stories15M-q4_0.gguf");
    check_model("models/synth-stories15M-q8_0.gguf");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_matches_vec_dot),
        cmocka_unit_test(test_pack_supported),
        cmocka_unit_test(test_matmul_packed),
        cmocka_unit_test(test_model_repack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
