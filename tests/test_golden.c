/*
 * Golden tests through the library API: for each reference case in
 * ../shared/golden whose model this build can run, the prompt token ids, the
 * last-position logits (NMSE) and 64 greedy tokens must match the reference
 * engine. The llama2.c checkpoint is held to the same cases as the f32 GGUF.
 * Also: batched and token-by-token prompt evaluation agree, and two
 * sequences decoded in one batch give the same logits as each alone.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cria.h"
#include "golden.h"
#include "util.h"

enum { MAX_IDS = GOLDEN_MAX_IDS };

/* The reference engine's exact greedy ids: no near-tie allowance on the float models. */
static void check_case(const char *case_rel, const char *model_rel, const char *vocab_rel, double max_nmse,
                       int threads)
{
    golden_check_case(case_rel, model_rel, vocab_rel, max_nmse, threads, 0.0, GOLDEN_N_GEN);
}

static const char *const f32_cases[] = {"golden/stories260K-f32.p1.txt", "golden/stories260K-f32.p2.txt",
                                        "golden/stories260K-f32.p3.txt"};

static void test_f32_gguf(void **state)
{
    (void)state;
    if (!test_have("models/stories260K-f32.gguf"))
        skip();
    for (size_t i = 0; i < sizeof f32_cases / sizeof f32_cases[0]; i++) {
        check_case(f32_cases[i], "models/stories260K-f32.gguf", NULL, 1e-6, 1);
        check_case(f32_cases[i], "models/stories260K-f32.gguf", NULL, 1e-6, 2);
    }
}

static void test_llama2c_checkpoint(void **state)
{
    (void)state;
    if (!test_have("models/stories260K.bin") || !test_have("models/tok512.bin"))
        skip();
    for (size_t i = 0; i < sizeof f32_cases / sizeof f32_cases[0]; i++)
        check_case(f32_cases[i], "models/stories260K.bin", "models/tok512.bin", 1e-6, 2);
}

static void test_f16_gguf(void **state)
{
    (void)state;
    if (!test_have("models/stories260K-f16.gguf"))
        skip();
    check_case("golden/stories260K-f16.p1.txt", "models/stories260K-f16.gguf", NULL, 1e-4, 2);
}

/* Logits of the last token of ids after decoding them in chunks of `chunk` tokens. */
static float *logits_after(cria_model *m, const cria_token *ids, int n, int chunk)
{
    cria_model_info mi;
    cria_model_get_info(m, &mi);
    cria_context *ctx = golden_new_context(m, 256, 1, 2);
    cria_batch b = cria_batch_init(chunk);
    for (int s = 0; s < n; s += chunk) {
        b.n_tokens = n - s < chunk ? n - s : chunk;
        for (int i = 0; i < b.n_tokens; i++) {
            b.token[i] = ids[s + i];
            b.pos[i] = s + i;
            b.seq_id[i] = 0;
            b.logits[i] = s + i == n - 1;
        }
        golden_decode(ctx, &b);
    }
    float *out = malloc((size_t)mi.n_vocab * sizeof *out);
    memcpy(out, cria_get_logits_ith(ctx, b.n_tokens - 1), (size_t)mi.n_vocab * sizeof *out);
    cria_batch_free(&b);
    cria_context_free(ctx);
    return out;
}

static void test_batch_equals_sequential(void **state)
{
    (void)state;
    if (!test_have("models/stories260K-f32.gguf"))
        skip();
    cria_model *m = golden_load_model("models/stories260K-f32.gguf", NULL);
    const char *text = "The little dog ran to the park and found a big red ball under the tree.";
    cria_token ids[MAX_IDS];
    int n = cria_tokenize(m, text, strlen(text), ids, MAX_IDS, 1);
    assert_true(n > 8);
    float *whole = logits_after(m, ids, n, n), *single = logits_after(m, ids, n, 1), *chunks = logits_after(m, ids, n, 5);
    assert_true(test_nmse(whole, single, 512) < 1e-10);
    assert_true(test_nmse(whole, chunks, 512) < 1e-10);
    free(whole);
    free(single);
    free(chunks);
    cria_model_free(m);
}

/*
 * Two prompts of different lengths decoded in one batch (sequence ids 0 and
 * 1), then three generation steps with both sequences in each batch: every
 * logits row equals the one from decoding that sequence alone.
 */
static void test_two_sequences_in_one_batch(void **state)
{
    (void)state;
    if (!test_have("models/stories260K-f32.gguf"))
        skip();
    cria_model *m = golden_load_model("models/stories260K-f32.gguf", NULL);
    const char *texts[2] = {"Once upon a time there was a cat", "Lily and Ben went to the big park"};
    cria_token ids[2][MAX_IDS];
    int n[2];
    for (int s = 0; s < 2; s++)
        n[s] = cria_tokenize(m, texts[s], strlen(texts[s]), ids[s], MAX_IDS, 1);
    const cria_token next[3] = {300, 301, 302};

    /* Alone: each sequence in its own context. */
    float alone[2][4][512];
    for (int s = 0; s < 2; s++) {
        cria_context *ctx = golden_new_context(m, 128, 1, 1);
        cria_batch b = cria_batch_init(64);
        b.n_tokens = n[s];
        for (int i = 0; i < n[s]; i++) {
            b.token[i] = ids[s][i], b.pos[i] = i, b.seq_id[i] = 0, b.logits[i] = i == n[s] - 1;
        }
        golden_decode(ctx, &b);
        memcpy(alone[s][0], cria_get_logits_ith(ctx, n[s] - 1), sizeof alone[s][0]);
        for (int g = 0; g < 3; g++) {
            b.n_tokens = 1, b.token[0] = next[g], b.pos[0] = n[s] + g, b.seq_id[0] = 0, b.logits[0] = 1;
            golden_decode(ctx, &b);
            memcpy(alone[s][g + 1], cria_get_logits_ith(ctx, 0), sizeof alone[s][0]);
        }
        cria_batch_free(&b);
        cria_context_free(ctx);
    }

    /* Together: one context, both prompts interleaved in one batch. */
    cria_context *ctx = golden_new_context(m, 128, 2, 2);
    cria_batch b = cria_batch_init(64);
    int k = 0, last[2] = {0, 0};
    for (int i = 0; i < n[0] || i < n[1]; i++) {
        for (int s = 0; s < 2; s++) {
            if (i >= n[s])
                continue;
            b.token[k] = ids[s][i], b.pos[k] = i, b.seq_id[k] = s, b.logits[k] = i == n[s] - 1;
            if (i == n[s] - 1)
                last[s] = k;
            k++;
        }
    }
    b.n_tokens = k;
    golden_decode(ctx, &b);
    for (int s = 0; s < 2; s++)
        assert_true(test_nmse(alone[s][0], cria_get_logits_ith(ctx, last[s]), 512) < 1e-10);
    for (int g = 0; g < 3; g++) {
        b.n_tokens = 2;
        for (int s = 0; s < 2; s++)
            b.token[s] = next[g], b.pos[s] = n[s] + g, b.seq_id[s] = s, b.logits[s] = 1;
        golden_decode(ctx, &b);
        for (int s = 0; s < 2; s++)
            assert_true(test_nmse(alone[s][g + 1], cria_get_logits_ith(ctx, s), 512) < 1e-10);
    }
    assert_int_equal(cria_kv_used(ctx), n[0] + n[1] + 6);

    /* Dropping sequence 0 frees its cells and leaves sequence 1 intact. */
    cria_kv_seq_rm(ctx, 0, 0, -1);
    assert_int_equal(cria_kv_used(ctx), n[1] + 3);
    cria_batch_free(&b);
    cria_context_free(ctx);
    cria_model_free(m);
}

/*
 * A llama2.c checkpoint with a negative vocab size carries its own classifier
 * after the weights. Rewrite stories260K.bin that way (classifier = a copy of
 * the embedding): the logits must not change, and the model reports an
 * untied output.
 */
static void test_llama2c_unshared_classifier(void **state)
{
    (void)state;
    if (!test_have("models/stories260K.bin") || !test_have("models/tok512.bin"))
        skip();
    size_t size = 0;
    char *bin = test_read_file(test_shared("models/stories260K.bin"), &size);
    assert_non_null(bin);
    int32_t hdr[7];
    memcpy(hdr, bin, sizeof hdr);
    const size_t emb_bytes = (size_t)hdr[5] * (size_t)hdr[0] * sizeof(float);
    char *out = malloc(size + emb_bytes);
    assert_non_null(out);
    memcpy(out, bin, size);
    memcpy(out + size, bin + sizeof hdr, emb_bytes);
    int32_t neg = -hdr[5];
    memcpy(out + 5 * sizeof(int32_t), &neg, sizeof neg);
    const char *path = test_tmp_path(".bin");
    assert_true(test_write_file(path, out, size + emb_bytes));

    cria_model_params mp = cria_model_default_params();
    mp.vocab_path = test_shared("models/tok512.bin");
    cria_model *m = NULL, *ref = golden_load_model("models/stories260K.bin", "models/tok512.bin");
    cria_error err;
    assert_int_equal(cria_model_load(path, &mp, &m, &err), CRIA_OK);
    cria_model_info mi;
    cria_model_get_info(m, &mi);
    assert_false(mi.tied_output);
    const cria_token ids[5] = {1, 403, 407, 261, 378};
    float *a = logits_after(ref, ids, 5, 5), *b = logits_after(m, ids, 5, 5);
    assert_memory_equal(a, b, 512 * sizeof(float));
    /* One byte short of the classifier: a clear size error. */
    assert_true(test_write_file(path, out, size + emb_bytes - 1));
    cria_model *bad = NULL;
    assert_int_equal(cria_model_load(path, &mp, &bad, &err), CRIA_ERR_FORMAT);
    assert_non_null(strstr(err.msg, "truncated"));
    remove(path);
    free(a);
    free(b);
    free(out);
    free(bin);
    cria_model_free(m);
    cria_model_free(ref);
}

/*
 * Forced parallelism ($CRIA_THRESHOLDS at 1 unit of work per thread) on 2 and
 * 3 threads gives the same logits as one thread, and the context counts its
 * thread synchronisations; a malformed override is refused, and thresholds
 * above every kernel keep all of them on the calling thread.
 */
static void test_parallel_equals_serial(void **state)
{
    (void)state;
    if (!test_have("models/stories260K-f32.gguf"))
        skip();
    cria_model *m = golden_load_model("models/stories260K-f32.gguf", NULL);
    const char *text = "Lily and Ben went to the big park to play with the red ball.";
    cria_token ids[MAX_IDS];
    const int n = cria_tokenize(m, text, strlen(text), ids, MAX_IDS, 1);
    float *serial = logits_after(m, ids, n, 4);
    assert_int_equal(setenv("CRIA_THRESHOLDS", "matmul=1,attention=1", 1), 0);
    for (int threads = 2; threads <= 3; threads++) {
        cria_context *ctx = golden_new_context(m, 128, 1, threads);
        cria_batch b = cria_batch_init(n);
        for (int i = 0; i < n; i++)
            b.token[i] = ids[i], b.pos[i] = i, b.seq_id[i] = 0, b.logits[i] = i == n - 1;
        b.n_tokens = n;
        golden_decode(ctx, &b);
        assert_true(cria_context_n_syncs(ctx) > 0);
        assert_true(test_nmse(serial, cria_get_logits_ith(ctx, n - 1), 512) < 1e-10);
        cria_batch_free(&b);
        cria_context_free(ctx);
    }
    assert_int_equal(setenv("CRIA_THRESHOLDS", "matmul=abc", 1), 0);
    cria_context_params cp = cria_context_default_params();
    cria_context *bad = NULL;
    cria_error err;
    assert_int_equal(cria_context_init(m, &cp, &bad, &err), CRIA_ERR_ARG);
    assert_non_null(strstr(err.msg, "matmul"));
    /* Thresholds above every kernel's work: nothing is split, no thread synchronises. */
    assert_int_equal(setenv("CRIA_THRESHOLDS", "matmul=1000000000,attention=1000000000", 1), 0);
    cria_context *ctx = golden_new_context(m, 128, 1, 2);
    cria_batch b = cria_batch_init(1);
    b.n_tokens = 1, b.token[0] = 1, b.pos[0] = 0, b.seq_id[0] = 0, b.logits[0] = 1;
    golden_decode(ctx, &b);
    assert_int_equal(cria_context_n_syncs(ctx), 0);
    assert_int_equal(unsetenv("CRIA_THRESHOLDS"), 0);
    cria_batch_free(&b);
    cria_context_free(ctx);
    free(serial);
    cria_model_free(m);
}

static void test_context_full_is_an_error(void **state)
{
    (void)state;
    if (!test_have("models/stories260K-f32.gguf"))
        skip();
    cria_model *m = golden_load_model("models/stories260K-f32.gguf", NULL);
    cria_context *ctx = golden_new_context(m, 8, 1, 1);
    cria_batch b = cria_batch_init(8);
    b.n_tokens = 6;
    for (int i = 0; i < 6; i++)
        b.token[i] = 1 + i, b.pos[i] = i, b.seq_id[i] = 0, b.logits[i] = 0;
    golden_decode(ctx, &b);
    b.n_tokens = 3;
    for (int i = 0; i < 3; i++)
        b.pos[i] = 6 + i;
    cria_error err;
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_ERR_CONTEXT);
    assert_non_null(strstr(err.msg, "context full"));
    assert_int_equal(cria_kv_used(ctx), 6); /* nothing claimed */
    /* Bad batches are refused before anything changes. */
    b.n_tokens = 1, b.token[0] = 100000;
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_ERR_ARG);
    b.token[0] = 5, b.seq_id[0] = 3;
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_ERR_ARG);
    b.seq_id[0] = 0, b.pos[0] = -1;
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_ERR_ARG);
    b.n_tokens = 0;
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_ERR_ARG);
    assert_int_equal(cria_kv_used(ctx), 6);
    cria_batch_free(&b);
    cria_context_free(ctx);
    cria_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_f32_gguf),
        cmocka_unit_test(test_llama2c_checkpoint),
        cmocka_unit_test(test_f16_gguf),
        cmocka_unit_test(test_batch_equals_sequential),
        cmocka_unit_test(test_two_sequences_in_one_batch),
        cmocka_unit_test(test_llama2c_unshared_classifier),
        cmocka_unit_test(test_parallel_equals_serial),
        cmocka_unit_test(test_context_full_is_an_error),
    };
    return cmocka_run_group_tests_name("golden", tests, NULL, NULL);
}
