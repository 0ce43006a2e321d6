/*
 * cria quantize and the quantized output of cria synth: the per-tensor types
 * of llama.cpp's mixes (checked against the rules written out here, and
 * against llama.cpp's own quantized stories15M files), the fallback for rows
 * that do not fill a block (stories260K's dim 64 and ffn rows of 172),
 * metadata copied, files that load and run with logits close to the f32
 * model's, files independent of the thread count, and bad input: clear
 * errors and no output file left behind.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cria.h"
#include "gguf/gguf.h"
#include "model/synth.h"
#include "quant/quant.h"
#include "quant/quantize_model.h"
#include "util.h"

#define F32_MODEL "models/stories260K-f32.gguf"
#define LOGITS_P1 "golden/stories260K-f32.p1.logits.f32"
#define TOK512 "models/tok512.bin"
#define LLAMA_VOCAB "models/tokenizer.bin"

/* Quantizes the shared stories260K f32 model to type on n threads; returns the output path. */
static const char *quantize_260k(const char *type, int threads, cria_quantize_report *rep)
{
    const char *out = test_tmp_path(".gguf");
    cria_quantize_params p = {.in_path = test_shared(F32_MODEL),
                              .out_path = out,
                              .mix = cria_quant_mix_find(type),
                              .n_threads = threads};
    assert_non_null(p.mix);
    cria_error err;
    if (cria_quantize_model(&p, rep, &err) != CRIA_OK)
        fail_msg("quantize %s: %s", type, err.msg);
    return out;
}

static cria_dtype tensor_type(const cria_gguf *g, const char *name)
{
    const cria_gguf_tensor *t = cria_gguf_find_tensor(g, name);
    if (!t)
        fail_msg("no tensor %s", name);
    return t->type;
}

static uint32_t file_type(const cria_gguf *g)
{
    uint32_t v = 0;
    cria_error err;
    assert_true(cria_gguf_get_u32(g, "general.file_type", &v, &err));
    return v;
}

/* Last-position logits of the golden prompt "Once upon a time" (ids 1 403 407 261 378) on a model file. */
static float *prompt_logits(const char *path, int threads, int *n_vocab)
{
    cria_model_params mp = cria_model_default_params();
    cria_model *m = NULL;
    cria_error err;
    if (cria_model_load(path, &mp, &m, &err) != CRIA_OK)
        fail_msg("loading %s: %s", path, err.msg);
    cria_model_info mi;
    cria_model_get_info(m, &mi);
    cria_context_params cp = cria_context_default_params();
    cp.n_ctx = 64;
    cp.n_threads = cp.n_threads_batch = threads;
    cria_context *ctx = NULL;
    if (cria_context_init(m, &cp, &ctx, &err) != CRIA_OK)
        fail_msg("context: %s", err.msg);
    const cria_token ids[] = {1, 403, 407, 261, 378};
    cria_batch b = cria_batch_init(8);
    b.n_tokens = 5;
    for (int i = 0; i < 5; i++) {
        b.token[i] = ids[i];
        b.pos[i] = i;
        b.seq_id[i] = 0;
        b.logits[i] = i == 4;
    }
    if (cria_decode(ctx, &b, &err) != CRIA_OK)
        fail_msg("decode: %s", err.msg);
    float *out = malloc((size_t)mi.n_vocab * sizeof *out);
    assert_non_null(out);
    memcpy(out, cria_get_logits_ith(ctx, 4), (size_t)mi.n_vocab * sizeof *out);
    *n_vocab = mi.n_vocab;
    cria_batch_free(&b);
    cria_context_free(ctx);
    cria_model_free(m);
    return out;
}

/* NMSE of a file's prompt logits against the f32 model's golden logits. */
static double nmse_vs_f32(const char *path)
{
    int n_vocab = 0;
    float *got = prompt_logits(path, 2, &n_vocab);
    size_t size = 0;
    float *ref = (float *)(void *)test_read_file(test_shared(LOGITS_P1), &size);
    assert_non_null(ref);
    assert_int_equal(size, (size_t)n_vocab * sizeof(float));
    double e = test_nmse(ref, got, (size_t)n_vocab);
    free(ref);
    free(got);
    return e;
}

/* ---- the mixes on stories260K (dim 64, ffn 172: the fallback is the real case) ------------- */

static void test_q8_0_types_and_logits(void **state)
{
    (void)state;
    SKIP_WITHOUT(F32_MODEL);
    cria_quantize_report r;
    const char *out = quantize_260k("q8_0", 2, &r);
    cria_gguf *g = NULL, *in = NULL;
    cria_error err;
    assert_int_equal(cria_gguf_open(out, &g, &err), CRIA_OK);
    assert_int_equal(cria_gguf_open(test_shared(F32_MODEL), &in, &err), CRIA_OK);
    assert_int_equal(file_type(g), 7);
    /* every input key is there, plus general.quantization_version */
    for (uint64_t i = 0; i < cria_gguf_n_kv(in); i++) {
        const cria_gguf_kv *kv = cria_gguf_kv_at(in, i);
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)kv->key.len, kv->key.ptr);
        assert_non_null(cria_gguf_find(g, key));
    }
    assert_non_null(cria_gguf_find(g, "general.quantization_version"));
    assert_int_equal(cria_gguf_n_tensors(g), cria_gguf_n_tensors(in));
    assert_int_equal(tensor_type(g, "output.weight"), CRIA_DTYPE_Q8_0); /* q8_0 keeps its classifier */
    assert_int_equal(tensor_type(g, "token_embd.weight"), CRIA_DTYPE_Q8_0);
    assert_int_equal(tensor_type(g, "blk.0.attn_q.weight"), CRIA_DTYPE_Q8_0);
    assert_int_equal(tensor_type(g, "blk.0.attn_norm.weight"), CRIA_DTYPE_F32);
    assert_int_equal(tensor_type(g, "output_norm.weight"), CRIA_DTYPE_F32);
    /* rows of 172 hold no whole 32-block: F16 */
    assert_int_equal(tensor_type(g, "blk.3.ffn_down.weight"), CRIA_DTYPE_F16);
    assert_int_equal(r.n_fallback, 5);
    assert_true(r.out_tensor_bytes < r.in_tensor_bytes / 3);
    cria_gguf_close(in);
    cria_gguf_close(g);
    /* Q8_0 stays close to the f32 model: measured 4.2e-5 */
    double e = nmse_vs_f32(out);
    print_message("q8_0 logits NMSE vs f32: %.3e\n", e);
    assert_true(e < 2e-4);
    remove(out);
}

static void test_k_mix_fallbacks(void **state)
{
    (void)state;
    SKIP_WITHOUT(F32_MODEL);
    cria_quantize_report r;
    const char *out = quantize_260k("q4_k_m", 2, &r);
    cria_gguf *g = NULL;
    cria_error err;
    assert_int_equal(cria_gguf_open(out, &g, &err), CRIA_OK);
    assert_int_equal(file_type(g), 15);
    /* the classifier wants Q6_K; 64 is no multiple of 256, so Q8_0 */
    assert_int_equal(tensor_type(g, "output.weight"), CRIA_DTYPE_Q8_0);
    /* Q4_K falls back to Q5_0 */
    assert_int_equal(tensor_type(g, "token_embd.weight"), CRIA_DTYPE_Q5_0);
    assert_int_equal(tensor_type(g, "blk.0.attn_q.weight"), CRIA_DTYPE_Q5_0);
    assert_int_equal(tensor_type(g, "blk.1.ffn_up.weight"), CRIA_DTYPE_Q5_0);
    /* attn_v of layers 2 and 4 of 5 get Q6_K (use_more_bits), which falls back to Q8_0 */
    assert_int_equal(tensor_type(g, "blk.0.attn_v.weight"), CRIA_DTYPE_Q5_0);
    assert_int_equal(tensor_type(g, "blk.2.attn_v.weight"), CRIA_DTYPE_Q8_0);
    assert_int_equal(tensor_type(g, "blk.4.attn_v.weight"), CRIA_DTYPE_Q8_0);
    assert_int_equal(tensor_type(g, "blk.4.ffn_down.weight"), CRIA_DTYPE_F16);
    assert_int_equal(tensor_type(g, "blk.4.ffn_norm.weight"), CRIA_DTYPE_F32);
    cria_gguf_close(g);
    double e = nmse_vs_f32(out);
    print_message("q4_k_m logits NMSE vs f32: %.3e\n", e); /* measured 1.2e-3 */
    assert_true(e < 1e-2);
    remove(out);

    out = quantize_260k("tq2_0", 2, &r);
    assert_int_equal(cria_gguf_open(out, &g, &err), CRIA_OK);
    assert_int_equal(file_type(g), 37);
    /* ternary rows need 256: TQ2_0 falls back to Q4_0, the embedding's Q4_K to Q5_0 */
    assert_int_equal(tensor_type(g, "blk.0.attn_q.weight"), CRIA_DTYPE_Q4_0);
    assert_int_equal(tensor_type(g, "token_embd.weight"), CRIA_DTYPE_Q5_0);
    assert_int_equal(tensor_type(g, "output.weight"), CRIA_DTYPE_Q8_0);
    cria_gguf_close(g);
    e = nmse_vs_f32(out);
    print_message("tq2_0 logits NMSE vs f32: %.3e\n", e); /* measured 1.1e-2: mostly Q4_0 by fallback */
    assert_true(e < 5e-2);
    remove(out);
}

static void test_q4_0_and_float_targets(void **state)
{
    (void)state;
    SKIP_WITHOUT(F32_MODEL);
    cria_quantize_report r;
    const char *out = quantize_260k("q4_0", 1, &r);
    cria_gguf *g = NULL;
    cria_error err;
    assert_int_equal(cria_gguf_open(out, &g, &err), CRIA_OK);
    assert_int_equal(file_type(g), 2);
    assert_int_equal(tensor_type(g, "output.weight"), CRIA_DTYPE_Q8_0); /* Q6_K by the mix, Q8_0 by the row */
    assert_int_equal(tensor_type(g, "blk.0.attn_k.weight"), CRIA_DTYPE_Q4_0);
    cria_gguf_close(g);
    double e = nmse_vs_f32(out);
    print_message("q4_0 logits NMSE vs f32: %.3e\n", e); /* measured 1.6e-2 */
    assert_true(e < 5e-2);
    remove(out);

    out = quantize_260k("f16", 2, &r);
    assert_int_equal(cria_gguf_open(out, &g, &err), CRIA_OK);
    assert_int_equal(file_type(g), 1);
    assert_int_equal(tensor_type(g, "output.weight"), CRIA_DTYPE_F16);
    assert_int_equal(tensor_type(g, "blk.0.ffn_down.weight"), CRIA_DTYPE_F16);
    assert_int_equal(tensor_type(g, "blk.0.ffn_norm.weight"), CRIA_DTYPE_F32);
    assert_int_equal(r.n_fallback, 0);
    cria_gguf_close(g);
    e = nmse_vs_f32(out);
    assert_true(e < 1e-5);
    /* an F16 input goes on to BF16 */
    cria_quantize_params p = {.in_path = out, .out_path = test_tmp_path(".gguf"),
                              .mix = cria_quant_mix_find("bf16"), .n_threads = 2};
    assert_int_equal(cria_quantize_model(&p, &r, &err), CRIA_OK);
    assert_int_equal(cria_gguf_open(p.out_path, &g, &err), CRIA_OK);
    assert_int_equal(tensor_type(g, "blk.2.attn_q.weight"), CRIA_DTYPE_BF16);
    cria_gguf_close(g);
    remove(p.out_path);
    remove(out);
}

/* Rules the mixes must follow on bigger rows, table-checked without a file. */
static void test_choose_type_rules(void **state)
{
    (void)state;
    const cria_quant_model m = {.n_layer = 32, .n_attn_v = 32, .n_gqa = 1, .has_output = true};
    const uint64_t sq[4] = {4096, 4096, 1, 1}, down[4] = {11008, 4096, 1, 1}, odd[4] = {100, 8, 1, 1};
    const uint64_t vec[4] = {4096, 1, 1, 1};
    const cria_quant_mix *km = cria_quant_mix_find("Q4_K_M"), *ks = cria_quant_mix_find("q4_k_s");
    assert_non_null(km);
    assert_ptr_equal(cria_quant_mix_find("q4_k"), km);
    assert_null(cria_quant_mix_find("q4_k_x"));
    bool fb;
    assert_int_equal(cria_quant_choose_type(km, &m, "output.weight", 2, sq, CRIA_DTYPE_F32, &fb), CRIA_DTYPE_Q6_K);
    assert_false(fb);
    assert_int_equal(cria_quant_choose_type(km, &m, "token_embd.weight", 2, sq, CRIA_DTYPE_F32, NULL),
                     CRIA_DTYPE_Q4_K);
    /* use_more_bits over 32 layers: 0..3, 28..31 and every third from 6 */
    const int more[] = {0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31};
    for (int l = 0; l < 32; l++) {
        bool want = false;
        for (size_t i = 0; i < sizeof more / sizeof more[0]; i++)
            want |= more[i] == l;
        char name[64];
        snprintf(name, sizeof name, "blk.%d.attn_v.weight", l);
        assert_int_equal(cria_quant_choose_type(km, &m, name, 2, sq, CRIA_DTYPE_F32, NULL),
                         want ? CRIA_DTYPE_Q6_K : CRIA_DTYPE_Q4_K);
        snprintf(name, sizeof name, "blk.%d.ffn_down.weight", l);
        assert_int_equal(cria_quant_choose_type(km, &m, name, 2, down, CRIA_DTYPE_F32, NULL),
                         want ? CRIA_DTYPE_Q6_K : CRIA_DTYPE_Q4_K);
        assert_int_equal(cria_quant_choose_type(ks, &m, name, 2, down, CRIA_DTYPE_F32, NULL),
                         l < 4 ? CRIA_DTYPE_Q5_K : CRIA_DTYPE_Q4_K);
    }
    /* --pure: no mix */
    cria_quant_model pure = m;
    pure.pure = true;
    assert_int_equal(cria_quant_choose_type(km, &pure, "output.weight", 2, sq, CRIA_DTYPE_F32, NULL),
                     CRIA_DTYPE_Q4_K);
    /* norms, 1-D tensors and non-weights are copied as they are */
    assert_int_equal(cria_quant_choose_type(km, &m, "blk.0.attn_norm.weight", 1, vec, CRIA_DTYPE_F32, NULL),
                     CRIA_DTYPE_F32);
    assert_int_equal(cria_quant_choose_type(km, &m, "rope_freqs.weight", 1, vec, CRIA_DTYPE_F32, NULL),
                     CRIA_DTYPE_F32);
    assert_int_equal(cria_quant_choose_type(km, &m, "blk.0.attn_q.bias", 2, sq, CRIA_DTYPE_F32, NULL),
                     CRIA_DTYPE_F32);
    /* rows of 100 fit no block at all: F16, for every quantized target */
    const char *all[] = {"q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q2_k", "q3_k_m", "q4_k_m", "q6_k", "tq1_0"};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_int_equal(cria_quant_choose_type(cria_quant_mix_find(all[i]), &m, "blk.0.attn_q.weight", 2, odd,
                                                CRIA_DTYPE_F32, &fb),
                         CRIA_DTYPE_F16);
        assert_true(fb);
    }
    /* Q2_K/Q3_K on rows of 64: Q4_0 (llama.cpp's IQ4_NL, which cria lacks) */
    const uint64_t r64[4] = {64, 64, 1, 1};
    assert_int_equal(cria_quant_choose_type(cria_quant_mix_find("q3_k_m"), &m, "blk.0.attn_q.weight", 2, r64,
                                            CRIA_DTYPE_F32, NULL),
                     CRIA_DTYPE_Q4_0);
}

/* ---- against llama.cpp's own quantized stories15M files ---------------------------------- */

/* Every tensor of ref has the same type in got. */
static void assert_same_types(const char *ref_path, const char *got_path)
{
    cria_gguf *a = NULL, *b = NULL;
    cria_error err;
    assert_int_equal(cria_gguf_open(ref_path, &a, &err), CRIA_OK);
    assert_int_equal(cria_gguf_open(got_path, &b, &err), CRIA_OK);
    assert_int_equal(cria_gguf_n_tensors(a), cria_gguf_n_tensors(b));
    for (uint64_t i = 0; i < cria_gguf_n_tensors(a); i++) {
        const cria_gguf_tensor *t = cria_gguf_tensor_at(a, i);
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        const cria_gguf_tensor *u = cria_gguf_find_tensor(b, name);
        if (!u || u->type != t->type)
            fail_msg("%s: llama.cpp wrote %s, cria %s", name, cria_dtype_name(t->type),
                     u ? cria_dtype_name(u->type) : "(missing)");
        assert_memory_equal(t->ne, u->ne, sizeof t->ne);
    }
    assert_int_equal(file_type(a), file_type(b));
    cria_gguf_close(a);
    cria_gguf_close(b);
}

/* The f32 tensor name of path holds normal(0, std) values: moments, tail fractions and a reached tail. */
static void assert_normal(const char *path, const char *name, double std)
{
    cria_gguf *g = NULL;
    cria_error err;
    assert_int_equal(cria_gguf_open(path, &g, &err), CRIA_OK);
    const cria_gguf_tensor *t = cria_gguf_find_tensor(g, name);
    assert_non_null(t);
    assert_int_equal(t->type, CRIA_DTYPE_F32);
    const float *x = t->data;
    const size_t n = (size_t)t->n_elements;
    double s1 = 0, s2 = 0, s4 = 0, amax = 0;
    size_t in1 = 0, out2 = 0, out35 = 0;
    for (size_t i = 0; i < n; i++) {
        const double v = (double)x[i] / std, a = fabs(v);
        s1 += v;
        s2 += v * v;
        s4 += v * v * v * v;
        in1 += a < 1.0;
        out2 += a > 2.0;
        out35 += a > 3.5;
        amax = a > amax ? a : amax;
    }
    const double mean = s1 / (double)n, var = s2 / (double)n, kurt = s4 / (double)n / (var * var);
    print_message("%s: %zu values, mean %.4f sd %.4f kurtosis %.4f, P(|x|<1) %.5f P(|x|>2) %.5f "
                  "P(|x|>3.5) %.6f, max %.2f sd\n",
                  name, n, mean, sqrt(var), kurt, (double)in1 / (double)n, (double)out2 / (double)n,
                  (double)out35 / (double)n, amax);
    /* bounds at about 5 standard errors for the 9.2 M (embedding) and 221 k (ffn) values */
    const double se = 1.0 / sqrt((double)n);
    assert_true(fabs(mean) < 5 * se);
    assert_true(fabs(sqrt(var) - 1.0) < 4 * se);
    assert_true(fabs(kurt - 3.0) < 25 * se);
    assert_true(fabs((double)in1 / (double)n - 0.682689) < 2.5 * se);
    assert_true(fabs((double)out2 / (double)n - 0.0455003) < 1.1 * se);
    assert_true(amax > 4.0); /* the ziggurat's tail (beyond 3.44) is reached */
    cria_gguf_close(g);
}

static void test_mixes_match_llama_cpp(void **state)
{
    (void)state;
    SKIP_WITHOUT("models/synth-stories15M-q4_k_m.gguf");
    SKIP_WITHOUT(LLAMA_VOCAB);
    cria_synth_params sp = {.shape = *cria_synth_find_shape("stories15M"),
                            .vocab_path = test_shared(LLAMA_VOCAB),
                            .seed = 7,
                            .n_threads = 2};
    const char *f32 = test_tmp_path(".gguf");
    cria_error err;
    if (cria_synth_write(&sp, f32, &err) != CRIA_OK)
        fail_msg("synth: %s", err.msg);
    assert_normal(f32, "token_embd.weight", 1.0);
    assert_normal(f32, "blk.2.ffn_up.weight", 0.02);
    const char *types[] = {"q8_0", "q4_0", "q4_k_m"};
    for (size_t i = 0; i < 3; i++) {
        char ref[128];
        snprintf(ref, sizeof ref, "models/synth-stories15M-%s.gguf", types[i]);
        /* cria quantize from the F32 file, and synth straight to the type */
        cria_quantize_params p = {.in_path = f32, .out_path = test_tmp_path(".gguf"),
                                  .mix = cria_quant_mix_find(types[i]), .n_threads = 2};
        cria_quantize_report r;
        if (cria_quantize_model(&p, &r, &err) != CRIA_OK)
            fail_msg("quantize: %s", err.msg);
        assert_same_types(test_shared(ref), p.out_path);
        remove(p.out_path);
        sp.mix = p.mix;
        const char *direct = test_tmp_path(".gguf");
        if (cria_synth_write(&sp, direct, &err) != CRIA_OK)
            fail_msg("synth %s: %s", types[i], err.msg);
        assert_same_types(test_shared(ref), direct);
        remove(direct);
    }
    remove(f32);
}

/*
 * A 22-layer GQA shape (n_gqa 8, as TinyLlama) with rows of 256 and 512, so
 * every K-quant rule applies without fallbacks: the tensor count per type of
 * each mix, as llama-quantize (c392e50) wrote them for the same shape.
 */
static void test_mix_counts_match_llama_cpp(void **state)
{
    (void)state;
    static const struct {
        const char *mix;
        int n; /* pairs below */
        struct {
            cria_dtype type;
            int count;
        } c[5];
    } want[] = {
        {"q2_k", 5, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q2_K, 89}, {CRIA_DTYPE_Q3_K, 44}, {CRIA_DTYPE_Q4_K, 22},
                     {CRIA_DTYPE_Q6_K, 1}}},
        {"q3_k_s", 3, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q3_K, 155}, {CRIA_DTYPE_Q6_K, 1}}},
        {"q3_k_m", 5, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q3_K, 89}, {CRIA_DTYPE_Q4_K, 63}, {CRIA_DTYPE_Q5_K, 3},
                       {CRIA_DTYPE_Q6_K, 1}}},
        {"q3_k_l", 4, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q3_K, 89}, {CRIA_DTYPE_Q5_K, 66}, {CRIA_DTYPE_Q6_K, 1}}},
        {"q4_k_s", 4, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q4_K, 149}, {CRIA_DTYPE_Q5_K, 6}, {CRIA_DTYPE_Q6_K, 1}}},
        {"q4_k_m", 3, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q4_K, 135}, {CRIA_DTYPE_Q6_K, 21}}},
        {"q5_k_s", 3, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q5_K, 155}, {CRIA_DTYPE_Q6_K, 1}}},
        {"q5_k_m", 3, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q5_K, 135}, {CRIA_DTYPE_Q6_K, 21}}},
        {"q6_k", 2, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q6_K, 156}}},
        {"tq1_0", 4, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q4_K, 1}, {CRIA_DTYPE_Q6_K, 1}, {CRIA_DTYPE_TQ1_0, 154}}},
        {"tq2_0", 4, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q4_K, 1}, {CRIA_DTYPE_Q6_K, 1}, {CRIA_DTYPE_TQ2_0, 154}}},
        {"q4_0", 3, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q4_0, 155}, {CRIA_DTYPE_Q6_K, 1}}},
        {"q8_0", 2, {{CRIA_DTYPE_F32, 45}, {CRIA_DTYPE_Q8_0, 156}}},
    };
    /* the tensors of that shape (cria synth --dims 256,512,22,32,4,128, any vocabulary) */
    enum { N_LAYER = 22, D = 256, FF = 512, KV = 32 };
    const cria_quant_model m = {.n_layer = N_LAYER, .n_attn_v = N_LAYER, .n_gqa = 8, .has_output = true};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const cria_quant_mix *mix = cria_quant_mix_find(want[i].mix);
        assert_non_null(mix);
        int count[CRIA_DTYPE_COUNT] = {0}, n_tensors = 0;
        const uint64_t vec[4] = {D, 1, 1, 1}, emb[4] = {D, 512, 1, 1};
        count[cria_quant_choose_type(mix, &m, "token_embd.weight", 2, emb, CRIA_DTYPE_F32, NULL)]++;
        count[cria_quant_choose_type(mix, &m, "output.weight", 2, emb, CRIA_DTYPE_F32, NULL)]++;
        count[cria_quant_choose_type(mix, &m, "output_norm.weight", 1, vec, CRIA_DTYPE_F32, NULL)]++;
        n_tensors += 3;
        for (int l = 0; l < N_LAYER; l++) {
            static const struct {
                const char *suffix;
                uint64_t cols, rows;
            } mats[] = {{"attn_norm", D, 1},    {"ffn_norm", D, 1}, {"attn_q", D, D},  {"attn_k", D, KV},
                        {"attn_v", D, KV},      {"attn_output", D, D}, {"ffn_gate", D, FF}, {"ffn_up", D, FF},
                        {"ffn_down", FF, D}};
            for (size_t k = 0; k < sizeof mats / sizeof mats[0]; k++) {
                char name[64];
                snprintf(name, sizeof name, "blk.%d.%s.weight", l, mats[k].suffix);
                const uint64_t ne[4] = {mats[k].cols, mats[k].rows, 1, 1};
                count[cria_quant_choose_type(mix, &m, name, mats[k].rows > 1 ? 2 : 1, ne, CRIA_DTYPE_F32, NULL)]++;
                n_tensors++;
            }
        }
        int total = 0;
        for (int k = 0; k < want[i].n; k++) {
            if (count[want[i].c[k].type] != want[i].c[k].count)
                fail_msg("%s: %d %s tensors, llama.cpp has %d", want[i].mix, count[want[i].c[k].type],
                         cria_dtype_name(want[i].c[k].type), want[i].c[k].count);
            total += want[i].c[k].count;
        }
        assert_int_equal(total, n_tensors);
    }
}

/* ---- synth in quantized types ------------------------------------------------------------ */

static void test_synth_quantized_runs_and_ignores_threads(void **state)
{
    (void)state;
    SKIP_WITHOUT(TOK512);
    cria_synth_params sp = {.shape = *cria_synth_find_shape("stories260K"),
                            .vocab_path = test_shared(TOK512),
                            .seed = 3,
                            .mix = cria_quant_mix_find("q4_k_m"),
                            .n_threads = 1};
    const char *one = test_tmp_path(".gguf"), *two = test_tmp_path(".gguf");
    cria_error err;
    assert_int_equal(cria_synth_write(&sp, one, &err), CRIA_OK);
    sp.n_threads = 2;
    assert_int_equal(cria_synth_write(&sp, two, &err), CRIA_OK);
    size_t n1 = 0, n2 = 0;
    char *a = test_read_file(one, &n1), *b = test_read_file(two, &n2);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(n1, n2);
    assert_memory_equal(a, b, n1); /* the same bytes for any thread count */
    free(a);
    free(b);
    /* it loads and generates: finite logits, and the same ones on 1 and 2 threads */
    int nv1 = 0, nv2 = 0;
    float *l1 = prompt_logits(one, 1, &nv1), *l2 = prompt_logits(one, 2, &nv2);
    assert_int_equal(nv1, 512);
    double norm = 0;
    for (int i = 0; i < nv1; i++) {
        assert_true(isfinite(l1[i]));
        norm += (double)l1[i] * (double)l1[i];
    }
    assert_true(norm > 0);
    assert_true(test_nmse(l1, l2, (size_t)nv1) < 1e-10);
    free(l1);
    free(l2);
    /* and a different seed gives different weights */
    sp.seed = 4;
    assert_int_equal(cria_synth_write(&sp, two, &err), CRIA_OK);
    a = test_read_file(one, &n1);
    b = test_read_file(two, &n2);
    assert_int_equal(n1, n2);
    assert_true(memcmp(a, b, n1) != 0);
    free(a);
    free(b);
    remove(one);
    remove(two);

    /* the new shapes */
    const cria_synth_shape *q = cria_synth_find_shape("qwen2.5-0.5B"), *l3 = cria_synth_find_shape("llama3-8B");
    assert_non_null(q);
    assert_non_null(l3);
    assert_int_equal(q->n_embd, 896);
    assert_int_equal(q->n_ff, 4864);
    assert_int_equal(q->n_layer, 24);
    assert_int_equal(q->n_head, 14);
    assert_int_equal(q->n_head_kv, 2);
    assert_int_equal(l3->n_head_kv, 8);
    assert_int_equal(l3->n_ff, 14336);
}

/* ---- the command line and bad input ------------------------------------------------------ */

/* True when dir holds a file whose name starts with prefix (a leftover temporary file). */
static bool leftover(const char *path)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        return false;
    *slash = '\0';
    const char *base = slash + 1;
    DIR *d = opendir(dir);
    if (!d)
        return false;
    bool found = false;
    for (struct dirent *e; (e = readdir(d));)
        found |= strncmp(e->d_name, base, strlen(base)) == 0;
    closedir(d);
    return found;
}

static void expect_cli_error(const char *args, const char *needle, const char *out)
{
    char *err = NULL;
    int rc = test_run_cria(args, NULL, &err);
    assert_int_equal(rc, 1);
    test_assert_contains(err, "error: ");
    test_assert_contains(err, needle);
    free(err);
    if (out)
        assert_false(leftover(out));
}

static void test_cli_and_bad_input(void **state)
{
    (void)state;
    SKIP_WITHOUT(F32_MODEL);
    const char *in = test_shared(F32_MODEL), *out = test_tmp_path(".gguf");
    char args[8192], *so = NULL, *se = NULL;
    snprintf(args, sizeof args, "quantize '%s' '%s' q4_k_m -t 2", in, out);
    assert_int_equal(test_run_cria(args, &so, &se), 0);
    test_assert_contains(se, "q4_k_m, file type 15");
    test_assert_contains(se, "bits per weight");
    test_assert_contains(se, "with a fallback type");
    test_assert_contains(se, "quantize: 100%");
    free(so);
    free(se);
    remove(out);

    snprintf(args, sizeof args, "quantize /nonexistent/model.gguf '%s' q8_0", out);
    expect_cli_error(args, "/nonexistent/model.gguf", out);
    snprintf(args, sizeof args, "quantize '%s' '%s' q7_0", in, out);
    expect_cli_error(args, "unknown type 'q7_0'", out);
    snprintf(args, sizeof args, "quantize '%s' '%s' q8_0", in, in);
    expect_cli_error(args, "the output is the input", NULL);
    snprintf(args, sizeof args, "quantize '%s' /nonexistent/dir/out.gguf q8_0", in);
    expect_cli_error(args, "/nonexistent/dir/out.gguf", NULL);
    snprintf(args, sizeof args, "quantize '%s' '%s'", in, out);
    expect_cli_error(args, "give IN.gguf OUT.gguf TYPE", out);
    snprintf(args, sizeof args, "quantize '%s' '%s' q8_0 -t 0", in, out);
    expect_cli_error(args, "-t", out);

    /* a truncated input: the reader refuses it, nothing is written */
    size_t size = 0;
    char *data = test_read_file(in, &size);
    assert_non_null(data);
    const char *cut = test_tmp_path(".gguf");
    assert_true(test_write_file(cut, data, size / 2));
    free(data);
    snprintf(args, sizeof args, "quantize '%s' '%s' q4_0", cut, out);
    expect_cli_error(args, cut, out);
    remove(cut);

    /* a quantized input */
    if (test_have("models/synth-stories15M-q8_0.gguf")) {
        snprintf(args, sizeof args, "quantize '%s' '%s' q4_0", test_shared("models/synth-stories15M-q8_0.gguf"),
                 out);
        expect_cli_error(args, "already quantized", out);
    }

    /* synth through the command line, straight to a mix */
    snprintf(args, sizeof args, "synth --shape stories260K --vocab '%s' --type q5_k_m -t 2 '%s'",
             test_shared(TOK512), out);
    so = se = NULL;
    assert_int_equal(test_run_cria(args, &so, &se), 0);
    test_assert_contains(se, "synth: 100%");
    free(so);
    free(se);
    cria_gguf *g = NULL;
    cria_error err;
    assert_int_equal(cria_gguf_open(out, &g, &err), CRIA_OK);
    assert_int_equal(file_type(g), 17);
    assert_int_equal(tensor_type(g, "blk.0.ffn_down.weight"), CRIA_DTYPE_F16);
    assert_int_equal(tensor_type(g, "blk.0.attn_q.weight"), CRIA_DTYPE_Q5_1); /* Q5_K on rows of 64 */
    cria_gguf_close(g);
    remove(out);
    snprintf(args, sizeof args, "synth --shape stories260K --vocab '%s' --type q9_9 '%s'", test_shared(TOK512), out);
    expect_cli_error(args, "unknown --type 'q9_9'", out);

    /* no --vocab: the Llama 2 vocabulary where the project keeps it (tests run from the project root) */
    if (test_have("models/tokenizer.bin")) {
        char def[4096]; /* test_tmp_path's buffers rotate: keep this name */
        snprintf(def, sizeof def, "%s", test_tmp_path(".gguf"));
        snprintf(args, sizeof args, "synth --shape stories260K --type q8_0 '%s'", def);
        so = se = NULL;
        if (test_run_cria(args, &so, &se) != 0)
            fail_msg("cria %s: %s", args, se ? se : "");
        test_assert_contains(se, "models/tokenizer.bin (the default)");
        free(so);
        free(se);
        if (cria_gguf_open(def, &g, &err) != CRIA_OK)
            fail_msg("%s", err.msg);
        const cria_gguf_kv *tokens = cria_gguf_find(g, "tokenizer.ggml.tokens");
        assert_non_null(tokens);
        assert_int_equal(tokens->arr_n, 32000);
        cria_gguf_close(g);
        remove(def);
    }
}

/* ---- the writer's filled tensors --------------------------------------------------------- */

typedef struct fill_case {
    size_t put;      /* bytes the fill puts */
    bool fail;       /* returns an error instead */
} fill_case;

static cria_status fill_fn(void *ctx, cria_gguf_sink *sink, cria_error *err)
{
    const fill_case *c = ctx;
    if (c->fail)
        return cria_err_set(err, CRIA_ERR_IO, "fill failed on purpose");
    static const uint8_t bytes[256];
    cria_gguf_sink_put(sink, bytes, c->put);
    return CRIA_OK;
}

static void test_writer_fill(void **state)
{
    (void)state;
    const uint64_t ne[2] = {64, 2}; /* two q8_0 rows: 2 x 2 x 34 bytes */
    fill_case cases[] = {{136, false}, {100, false}, {136, true}};
    for (size_t i = 0; i < 3; i++) {
        const char *out = test_tmp_path(".gguf");
        cria_gguf_writer *w = cria_gguf_writer_init(0);
        assert_non_null(w);
        assert_true(cria_gguf_writer_set_str(w, "general.architecture", "llama"));
        assert_true(cria_gguf_writer_add_tensor_fill(w, "t.weight", CRIA_DTYPE_Q8_0, 2, ne, fill_fn,
                                                     &cases[i]));
        cria_error err;
        cria_status st = cria_gguf_writer_write(w, out, &err);
        cria_gguf_writer_free(w);
        if (i == 0) {
            assert_int_equal(st, CRIA_OK);
            cria_gguf *g = NULL;
            assert_int_equal(cria_gguf_open(out, &g, &err), CRIA_OK);
            const cria_gguf_tensor *t = cria_gguf_find_tensor(g, "t.weight");
            assert_non_null(t);
            assert_int_equal(t->n_bytes, 136);
            cria_gguf_close(g);
            remove(out);
        } else {
            assert_int_not_equal(st, CRIA_OK);
            test_assert_contains(err.msg, i == 1 ? "100 bytes produced, 136 expected" : "fill failed on purpose");
            assert_false(leftover(out)); /* neither the file nor its temporary */
        }
    }
}

/* A file with 64-byte alignment keeps it, and a 3-D tensor is converted as rows of ne[0]. */
static void test_alignment_and_3d(void **state)
{
    (void)state;
    const char *in = test_tmp_path(".gguf"), *out = test_tmp_path(".gguf");
    static float data[64 * 4 * 3];
    for (size_t i = 0; i < sizeof data / sizeof data[0]; i++)
        data[i] = (float)((int)(i % 17) - 8) / 8.0f;
    cria_gguf_writer *w = cria_gguf_writer_init(64);
    assert_non_null(w);
    assert_true(cria_gguf_writer_set_str(w, "general.architecture", "llama"));
    assert_true(cria_gguf_writer_set_u32(w, "llama.block_count", 1));
    const uint64_t ne3[3] = {64, 4, 3}, ne1[1] = {7};
    assert_true(cria_gguf_writer_add_tensor(w, "blk.0.norm_odd", CRIA_DTYPE_F32, 1, ne1, data));
    assert_true(cria_gguf_writer_add_tensor(w, "blk.0.ffn_up_exps.weight", CRIA_DTYPE_F32, 3, ne3, data));
    cria_error err;
    assert_int_equal(cria_gguf_writer_write(w, in, &err), CRIA_OK);
    cria_gguf_writer_free(w);
    cria_quantize_params p = {.in_path = in, .out_path = out, .mix = cria_quant_mix_find("q8_0"), .n_threads = 2};
    cria_quantize_report r;
    if (cria_quantize_model(&p, &r, &err) != CRIA_OK)
        fail_msg("quantize: %s", err.msg);
    cria_gguf *g = NULL;
    assert_int_equal(cria_gguf_open(out, &g, &err), CRIA_OK);
    assert_int_equal(cria_gguf_alignment(g), 64);
    assert_int_equal(cria_gguf_data_offset(g) % 64, 0);
    const cria_gguf_tensor *t = cria_gguf_find_tensor(g, "blk.0.ffn_up_exps.weight");
    assert_non_null(t);
    assert_int_equal(t->type, CRIA_DTYPE_Q8_0);
    assert_int_equal(t->offset % 64, 0);
    assert_int_equal(t->ne[2], 3);
    float back[64 * 4 * 3];
    assert_int_equal(cria_dequantize_row(CRIA_DTYPE_Q8_0, t->data, back, 64 * 4 * 3, &err), CRIA_OK);
    for (size_t i = 0; i < 64 * 4 * 3; i++)
        assert_true(fabsf(back[i] - data[i]) < 0.01f);
    assert_int_equal(tensor_type(g, "blk.0.norm_odd"), CRIA_DTYPE_F32);
    cria_gguf_close(g);
    remove(in);
    remove(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_q8_0_types_and_logits),
        cmocka_unit_test(test_k_mix_fallbacks),
        cmocka_unit_test(test_q4_0_and_float_targets),
        cmocka_unit_test(test_choose_type_rules),
        cmocka_unit_test(test_mixes_match_llama_cpp),
        cmocka_unit_test(test_mix_counts_match_llama_cpp),
        cmocka_unit_test(test_synth_quantized_runs_and_ignores_threads),
        cmocka_unit_test(test_cli_and_bad_input),
        cmocka_unit_test(test_writer_fill),
        cmocka_unit_test(test_alignment_and_3d),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
