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

#include "golden.h"
#include "util.h"

#include <stdio.h>

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qwen2),
        cmocka_unit_test(test_qwen3),
        cmocka_unit_test(test_llama_gqa),
        cmocka_unit_test(test_gemma),
    };
    return cmocka_run_group_tests_name("arch", tests, NULL, NULL);
}
