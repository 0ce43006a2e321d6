/*
 * The model families beyond llama on the tiny random-weight models of
 * ../shared/golden/arch (dim 256, 4 layers, 8 heads, 2 kv heads, Q8_0):
 * qwen2 (Q/K/V biases, NeoX RoPE), qwen3 (per-head Q/K RMSNorm), gemma
 * (sqrt(dim) embedding scale, GeGLU, tied output) and a GQA llama with the
 * Llama 2 vocabulary. Prompt ids, last-position logits and 64 greedy ids
 * against the reference engines.
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

#include "arch_model.h"
#include "golden.h"
#include "base/cpu.h"
#include "base/fp16.h"
#include "kernels/ops.h"
#include "kernels/vec.h"
#include "model/model.h"
#include "model/synth.h"
#include "util.h"

/* Same allowance as the quantized golden tests: a greedy step within 1e-3 of a tie may end a case. */
#define NEAR_TIE 1e-3

static void check_family(const char *name, double max_nmse, int n_gen)
{
    char model_rel[128], case_rel[128];
    snprintf(model_rel, sizeof model_rel, "models/synth-tiny-%s-q8_0.gguf", name);
    snprintf(case_rel, sizeof case_rel, "golden/arch/synth-tiny-%s-q8_0.p1.txt", name);
    if (!test_have(model_rel) || !test_have(case_rel))
        skip();
    golden_check_case(case_rel, model_rel, NULL, max_nmse, 2, NEAR_TIE, n_gen);
}

static void test_qwen2(void **state)
{
    (void)state;
    check_family("qwen2", 1e-4, GOLDEN_N_GEN);
}

static void test_qwen3(void **state)
{
    (void)state;
    check_family("qwen3", 1e-4, GOLDEN_N_GEN);
}

static void test_llama_gqa(void **state)
{
    (void)state;
    check_family("llama-gqa", 1e-4, GOLDEN_N_GEN);
}

/*
 * Gemma's logits match the reference bit for bit at every step, once RoPE
 * rounds as the reference's fused multiply-adds do (kernels/ops.c); held to
 * 1e-4, tighter than the 5e-3, with all 64 greedy ids.
 */
static void test_gemma(void **state)
{
    (void)state;
    check_family("gemma", 1e-4, GOLDEN_N_GEN);
}

/* Gemma's GELU table gives the per-element reference's bits for every finite half, through every ISA's conversions. */
static void test_gelu_table(void **state)
{
    (void)state;
    uint16_t *table = malloc(CRIA_GELU_TABLE_SIZE * sizeof *table);
    float *x = malloc(CRIA_GELU_TABLE_SIZE * sizeof *x), *ref = malloc(CRIA_GELU_TABLE_SIZE * sizeof *ref);
    float *got = malloc(CRIA_GELU_TABLE_SIZE * sizeof *got), *up = malloc(CRIA_GELU_TABLE_SIZE * sizeof *up);
    assert_non_null(table && x && ref && got && up);
    cria_gelu_table_init(table);
    int n = 0;
    for (int h = 0; h < CRIA_GELU_TABLE_SIZE; h++) {
        const float v = cria_fp16_to_f32((uint16_t)h);
        if (isfinite(v)) {
            x[n] = v + (float)(h % 3) * 1e-4f * v; /* off the half grid too */
            up[n++] = 1.0f + (float)(h % 7);
        }
    }
    memcpy(ref, x, (size_t)n * sizeof *x);
    cria_geglu(n, ref, up);
    const cria_isa isas[] = {CRIA_ISA_SCALAR, CRIA_ISA_AVX2, CRIA_ISA_AVX512};
    for (size_t k = 0; k < sizeof isas / sizeof isas[0]; k++) {
        if (isas[k] > cria_isa_detected())
            continue;
        memcpy(got, x, (size_t)n * sizeof *x);
        cria_geglu_table(cria_vec_for(isas[k]), n, got, up, table);
        for (int i = 0; i < n; i++) {
            if (memcmp(&got[i], &ref[i], sizeof got[i]) != 0)
                fail_msg("isa %d: x %g: table %g, reference %g", (int)isas[k], (double)x[i], (double)got[i],
                         (double)ref[i]);
        }
    }
    free(table);
    free(x);
    free(ref);
    free(got);
    free(up);
}

/* ---- RoPE scaling against numbers computed here in double precision ---- */

/* The angle of pair i at position pos, as the formulas define it (no repeated products). */
static double plain_angle(int pos, int i, int n_rot, double base)
{
    return pos * pow(base, -2.0 * i / n_rot);
}

static void check_cache(const float *cs, const double *theta, double mscale, int n_pairs, double tol)
{
    for (int i = 0; i < n_pairs; i++) {
        if (fabs((double)cs[2 * i] - mscale * cos(theta[i])) > tol ||
            fabs((double)cs[2 * i + 1] - mscale * sin(theta[i])) > tol)
            fail_msg("pair %d: got (%.7f, %.7f), want (%.7f, %.7f)", i, (double)cs[2 * i], (double)cs[2 * i + 1],
                     mscale * cos(theta[i]), mscale * sin(theta[i]));
    }
}

/* Linear scaling divides every angle by the factor; rope_freqs divides pair i's by its own factor. */
static void test_rope_linear_and_freqs(void **state)
{
    (void)state;
    enum { N_ROT = 16, POS = 37 };
    float cs[N_ROT];
    double theta[N_ROT / 2];
    cria_rope_params p = cria_rope_params_plain(N_ROT, 10000.0f);
    p.freq_scale = 0.25f;
    cria_rope_cache_ext(POS, &p, cs);
    for (int i = 0; i < N_ROT / 2; i++)
        theta[i] = plain_angle(POS, i, N_ROT, 10000.0) / 4.0;
    check_cache(cs, theta, 1.0, N_ROT / 2, 2e-5);

    const float ff[N_ROT / 2] = {1.0f, 1.0f, 1.5f, 2.0f, 3.0f, 5.0f, 8.0f, 8.0f};
    p = cria_rope_params_plain(N_ROT, 10000.0f);
    p.freq_factors = ff;
    cria_rope_cache_ext(POS, &p, cs);
    for (int i = 0; i < N_ROT / 2; i++)
        theta[i] = plain_angle(POS, i, N_ROT, 10000.0) / (double)ff[i];
    check_cache(cs, theta, 1.0, N_ROT / 2, 2e-5);

    /* the plain cache is the unscaled one */
    float plain[N_ROT];
    cria_rope_cache(POS, N_ROT, 10000.0f, plain);
    for (int i = 0; i < N_ROT / 2; i++)
        theta[i] = plain_angle(POS, i, N_ROT, 10000.0);
    check_cache(plain, theta, 1.0, N_ROT / 2, 2e-5);
}

/*
 * Llama 3.1's factors (factor 8, low 1, high 4, original context 8192, base
 * 500000, head 128) at pairs spread over the three regions, worked out apart:
 * wavelength 2 pi 500000^(2i/128) below 2048 keeps 1, above 8192 gets 8, and
 * between them 1 / ((1 - s) / 8 + s) with s = (8192 / wavelength - 1) / 3.
 */
static void test_rope_llama3_factors(void **state)
{
    (void)state;
    float f[64];
    cria_rope_llama3_factors(128, 500000.0f, 8.0f, 1.0f, 4.0f, 8192, f);
    const struct {
        int i;
        double want;
    } cases[] = {
        {0, 1.0}, {20, 1.0}, {28, 1.0},         /* wavelengths 6.3, 379, 1957 */
        {30, 1.553415}, {32, 2.694530}, {34, 5.257327}, /* 2948, 4443, 6695: the blend */
        {36, 8.0}, {63, 8.0},                   /* 10089 and 2.6 million */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        if (fabs((double)f[cases[k].i] - cases[k].want) > 1e-4 * cases[k].want)
            fail_msg("pair %d: factor %.5f, want %.5f", cases[k].i, (double)f[cases[k].i], cases[k].want);
    }
}

/*
 * YaRN (factor 4, original context 64, beta 32 / 1): pairs below the ramp
 * keep their angle, pairs above it are divided by the factor, the ramp blends
 * linearly, and cos and sin grow by 1 + 0.1 ln 4.
 */
static void test_rope_yarn(void **state)
{
    (void)state;
    enum { N_ROT = 32, POS = 100, N_ORIG = 64 };
    const double base = 10000.0, factor = 4.0;
    float dims[2];
    cria_rope_yarn_corr_dims(N_ROT, N_ORIG, (float)base, 32.0f, 1.0f, dims);
    /* corr_dim(b) = n_rot ln(n_orig / (2 pi b)) / (2 ln base): pair dims where b turns fit the context */
    const double lo = floor(N_ROT * log(N_ORIG / (2 * M_PI * 32)) / (2 * log(base)));
    const double hi = ceil(N_ROT * log(N_ORIG / (2 * M_PI * 1)) / (2 * log(base)));
    assert_true((double)dims[0] == fmax(0.0, lo));
    assert_true((double)dims[1] == fmin(N_ROT - 1, hi));
    assert_true(dims[1] > dims[0]); /* the case has a ramp */

    cria_rope_params p = cria_rope_params_plain(N_ROT, (float)base);
    p.freq_scale = (float)(1.0 / factor);
    p.ext_factor = 1.0f;
    p.corr_dims[0] = dims[0];
    p.corr_dims[1] = dims[1];
    float cs[N_ROT];
    cria_rope_cache_ext(POS, &p, cs);
    double theta[N_ROT / 2];
    for (int i = 0; i < N_ROT / 2; i++) {
        const double t = plain_angle(POS, i, N_ROT, base);
        const double y = (i - (double)dims[0]) / fmax(0.001, (double)dims[1] - (double)dims[0]);
        const double ramp = 1.0 - fmin(1.0, fmax(0.0, y)); /* 1: extrapolate (keep), 0: interpolate (divide) */
        theta[i] = t / factor * (1.0 - ramp) + t * ramp;
    }
    check_cache(cs, theta, 1.0 + 0.1 * log(factor), N_ROT / 2, 1e-4);
}

/* ---- Families on tiny models written here, against llama.cpp c392e50 (tests/data) ---- */

/* Expected values of one generated case: prompt, prompt ids, greedy ids, last-position logits. */
typedef struct expected {
    char prompt[256];
    int32_t prompt_ids[64], gen_ids[GOLDEN_N_GEN];
    int n_prompt, n_gen;
    float *logits;
    int n_logits;
} expected;

static int parse_ids(const char *line, int32_t *ids, int cap)
{
    int n = 0;
    char *end;
    for (long v = strtol(line, &end, 10); end != line && n < cap; v = strtol(line, &end, 10)) {
        ids[n++] = (int32_t)v;
        line = end;
    }
    return n;
}

/* Reads tests/data/arch-NAME.txt (lines "key: values"; '#' lines are notes). */
static void read_expected(const char *name, expected *e)
{
    char path[256];
    snprintf(path, sizeof path, "tests/data/arch-%s.txt", name);
    char *text = test_read_file(path, NULL);
    if (!text)
        fail_msg("cannot read %s (run the tests from the project root)", path);
    memset(e, 0, sizeof *e);
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "prompt: ", 8) == 0) {
            snprintf(e->prompt, sizeof e->prompt, "%s", line + 8);
        } else if (strncmp(line, "prompt_tokens: ", 15) == 0) {
            e->n_prompt = parse_ids(line + 15, e->prompt_ids, 64);
        } else if (strncmp(line, "gen_tokens: ", 12) == 0) {
            e->n_gen = parse_ids(line + 12, e->gen_ids, GOLDEN_N_GEN);
        } else if (strncmp(line, "logits: ", 8) == 0) {
            const char *q = line + 8;
            char *end;
            int cap = 1024;
            e->logits = malloc((size_t)cap * sizeof *e->logits);
            for (double v = strtod(q, &end); end != q; v = strtod(q, &end)) {
                if (e->n_logits == cap)
                    e->logits = realloc(e->logits, (size_t)(cap *= 2) * sizeof *e->logits);
                e->logits[e->n_logits++] = (float)v;
                q = end;
            }
        }
    }
    free(text);
    assert_true(e->n_prompt > 0 && e->n_gen == GOLDEN_N_GEN && e->n_logits > 0);
}

/*
 * Writes the spec's model (kept in $CRIA_ARCH_KEEP/NAME.gguf when set, to
 * run the reference on), then checks prompt ids, last-position logits
 * (NMSE below max_nmse) and the 64 greedy ids against tests/data.
 */
static void check_generated(const char *name, const arch_model_spec *spec, double max_nmse)
{
    const char *vocab = "models/stories260K-f32.gguf";
    if (!test_have(vocab))
        skip();
    char path[512];
    const char *keep = getenv("CRIA_ARCH_KEEP");
    if (keep)
        snprintf(path, sizeof path, "%s/%s.gguf", keep, name);
    else
        snprintf(path, sizeof path, "%s", test_tmp_path(".gguf"));
    assert_true(arch_model_write(spec, test_shared(vocab), path));
    expected e;
    read_expected(name, &e);

    cria_model *m = NULL;
    cria_error err = {0};
    if (cria_model_load(path, NULL, &m, &err) != CRIA_OK)
        fail_msg("%s: %s", name, err.msg);
    int32_t ids[64];
    const int32_t n = cria_tokenize(m, e.prompt, strlen(e.prompt), ids, 64, 1);
    assert_int_equal(n, e.n_prompt);
    for (int i = 0; i < n; i++)
        assert_int_equal(ids[i], e.prompt_ids[i]);

    cria_context *ctx = golden_new_context(m, 128, 1, 2);
    cria_batch b = cria_batch_init(64);
    for (int i = 0; i < n; i++) {
        b.token[i] = ids[i];
        b.pos[i] = i;
        b.seq_id[i] = 0;
        b.logits[i] = i == n - 1;
    }
    b.n_tokens = n;
    golden_decode(ctx, &b);
    const float *lg = cria_get_logits_ith(ctx, n - 1);
    cria_model_info info;
    cria_model_get_info(m, &info);
    assert_int_equal(info.n_vocab, e.n_logits);
    const double nmse = test_nmse(e.logits, lg, (size_t)e.n_logits);
    if (!(nmse < max_nmse))
        fail_msg("%s: last-position logits NMSE %.3e (limit %.1e)", name, nmse, max_nmse);
    for (int s = 0; s < GOLDEN_N_GEN; s++) {
        int32_t best = 0;
        for (int32_t v = 1; v < info.n_vocab; v++)
            best = lg[v] > lg[best] ? v : best;
        if (best != e.gen_ids[s])
            fail_msg("%s: greedy step %d: got %d, want %d", name, s, best, e.gen_ids[s]);
        b.token[0] = best;
        b.pos[0] = n + s;
        b.seq_id[0] = 0;
        b.logits[0] = 1;
        b.n_tokens = 1;
        golden_decode(ctx, &b);
        lg = cria_get_logits_ith(ctx, 0);
    }
    cria_batch_free(&b);
    cria_context_free(ctx);
    cria_model_free(m);
    free(e.logits);
    if (!keep)
        remove(path);
}

/* A llama of dim 64 (4 heads of 16, 2 kv heads), 2 layers, F32 matrices: small enough to write in milliseconds. */
static arch_model_spec tiny_llama(void)
{
    arch_model_spec s = {.arch = "llama", .mat_type = CRIA_DTYPE_F32, .n_embd = 64, .n_ff = 128, .n_layer = 2,
                         .n_head = 4, .n_head_kv = 2, .n_ctx = 256, .seed = 8};
    return s;
}

static void test_rope_linear_model(void **state)
{
    (void)state;
    arch_model_spec s = tiny_llama();
    s.rope_scaling_type = "linear";
    s.rope_scaling_factor = 4.0f;
    check_generated("rope-linear", &s, 1e-4);
}

static void test_rope_yarn_model(void **state)
{
    (void)state;
    arch_model_spec s = tiny_llama();
    s.rope_scaling_type = "yarn";
    s.rope_scaling_factor = 4.0f;
    s.rope_n_ctx_orig = 32;
    check_generated("rope-yarn", &s, 1e-4);
}

/* Llama 3's scaling reaches the engine as rope_freqs.weight (converters compute it; no scaling type). */
static void test_rope_llama3_model(void **state)
{
    (void)state;
    float f[8];
    cria_rope_llama3_factors(16, 10000.0f, 8.0f, 1.0f, 4.0f, 32, f);
    arch_model_spec s = tiny_llama();
    s.rope_freqs = f;
    check_generated("rope-llama3", &s, 1e-4);
}

/*
 * BitNet b1.58: dim 256 (TQ blocks are 256 long), 8 heads of 32, 2 kv heads,
 * 2 layers, n_ff 512. Heads of 32 keep the attention bit-exact with the
 * reference (it sums heads of 64 and more in a SIMD order cria's attention
 * does not follow; a last-bit difference there ends a greedy match in the
 * fifties), so what the case tests is the family itself.
 */
static arch_model_spec tiny_bitnet(cria_dtype t)
{
    arch_model_spec s = {.arch = "bitnet", .mat_type = t, .n_embd = 256, .n_ff = 512, .n_layer = 2, .n_head = 8,
                         .n_head_kv = 2, .n_ctx = 256, .seed = 58};
    return s;
}

static void test_bitnet_tq2_0(void **state)
{
    (void)state;
    arch_model_spec s = tiny_bitnet(CRIA_DTYPE_TQ2_0);
    check_generated("bitnet-tq2_0", &s, 1e-4);
}

static void test_bitnet_tq1_0(void **state)
{
    (void)state;
    arch_model_spec s = tiny_bitnet(CRIA_DTYPE_TQ1_0);
    check_generated("bitnet-tq1_0", &s, 1e-4);
}

/* F16 matrices with the per-tensor .scale tensors older BitNet conversions carry. */
static void test_bitnet_f16_scales(void **state)
{
    (void)state;
    arch_model_spec s = tiny_bitnet(CRIA_DTYPE_F16);
    s.scales = true;
    check_generated("bitnet-f16-scales", &s, 1e-4);
}

/* A RoPE scaling cria does not compute is a load error naming it, never a silent plain RoPE. */
static void test_rope_unknown_type(void **state)
{
    (void)state;
    const char *vocab = "models/stories260K-f32.gguf";
    if (!test_have(vocab))
        skip();
    arch_model_spec s = tiny_llama();
    s.rope_scaling_type = "longrope";
    s.rope_scaling_factor = 2.0f;
    const char *path = test_tmp_path(".gguf");
    assert_true(arch_model_write(&s, test_shared(vocab), path));
    cria_model *m = NULL;
    cria_error err = {0};
    assert_int_equal(cria_model_load(path, NULL, &m, &err), CRIA_ERR_UNSUPPORTED);
    assert_null(m);
    assert_non_null(strstr(err.msg, "'longrope'"));
    remove(path);
}

/* cria synth --arch bitnet: a file that loads as bitnet (sub-norms, tied) and runs; other names are refused. */
static void test_synth_bitnet(void **state)
{
    (void)state;
    const char *vocab = "models/stories260K-f32.gguf";
    if (!test_have(vocab))
        skip();
    cria_synth_params p = {.shape = {.name = "tiny-bitnet", .n_embd = 256, .n_ff = 512, .n_layer = 2, .n_head = 8,
                                     .n_head_kv = 2, .n_ctx = 128},
                           .mix = cria_quant_mix_find("tq2_0"), .pure = true, .vocab_path = test_shared(vocab),
                           .seed = 3, .n_threads = 2, .arch = "bitnet"};
    const char *path = test_tmp_path(".gguf");
    cria_error err = {0};
    if (cria_synth_write(&p, path, &err) != CRIA_OK)
        fail_msg("synth: %s", err.msg);
    cria_model *m = NULL;
    if (cria_model_load(path, NULL, &m, &err) != CRIA_OK)
        fail_msg("load: %s", err.msg);
    assert_string_equal(m->arch, "bitnet");
    assert_true(m->tied_output);
    assert_non_null(m->layers[1].attn_sub_norm);
    assert_non_null(m->layers[1].ffn_sub_norm);
    assert_int_equal(m->layers[0].wq.type, CRIA_DTYPE_TQ2_0);
    cria_context *ctx = golden_new_context(m, 16, 1, 2);
    cria_batch b = cria_batch_init(4);
    for (int i = 0; i < 4; i++) {
        b.token[i] = 100 + i;
        b.pos[i] = i;
        b.seq_id[i] = 0;
        b.logits[i] = i == 3;
    }
    b.n_tokens = 4;
    golden_decode(ctx, &b);
    const float *lg = cria_get_logits_ith(ctx, 3);
    double ss = 0.0;
    for (int v = 0; v < 512; v++) {
        assert_true(isfinite(lg[v]));
        ss += (double)lg[v] * (double)lg[v];
    }
    assert_true(ss > 0.0);
    cria_batch_free(&b);
    cria_context_free(ctx);
    cria_model_free(m);
    remove(path);

    p.arch = "qwen2";
    assert_int_equal(cria_synth_write(&p, path, &err), CRIA_ERR_ARG);
    assert_non_null(strstr(err.msg, "qwen2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_qwen3),
        cmocka_unit_test(test_llama_gqa),
        cmocka_unit_test(test_gemma),
        cmocka_unit_test(test_gelu_table),
        cmocka_unit_test(test_rope_linear_and_freqs),
        cmocka_unit_test(test_rope_llama3_factors),
        cmocka_unit_test(test_rope_yarn),
        cmocka_unit_test(test_rope_linear_model),
        cmocka_unit_test(test_rope_yarn_model),
        cmocka_unit_test(test_rope_llama3_model),
        cmocka_unit_test(test_bitnet_tq2_0),
        cmocka_unit_test(test_bitnet_tq1_0),
        cmocka_unit_test(test_bitnet_f16_scales),
        cmocka_unit_test(test_rope_unknown_type),
        cmocka_unit_test(test_synth_bitnet),
    };
    return cmocka_run_group_tests_name("arch", tests, NULL, NULL);
}
