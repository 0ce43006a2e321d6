/*
 * Golden tests of the quantized formats through the library API: on the
 * synth-stories15M files that llama.cpp quantized (Q8_0; Q4_0; Q4_K_M, which
 * mixes Q4_K, Q6_K, Q5_0, Q8_0 and F32), every reference case in
 * ../shared/golden must give the same prompt ids, last-position logits
 * within NMSE 1e-4 and the same 64 greedy ids (see check_case for the one
 * allowance, a near tie). All cases run at the best ISA level this CPU has,
 * one case at each lower level (forced through CRIA_ISA, as a user would).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "cria.h"
#include "golden.h"
#include "util.h"

/* Logit gap under which a greedy choice counts as a tie (see golden_check_case). */
#define NEAR_TIE 1e-3

static const char *const models[] = {"q8_0", "q4_0", "q4_k_m"};

/*
 * The cases at one ISA level (threads alternate 1 and 2). all: every case of
 * every file; otherwise the first case of the q4_k_m file, whose mix of
 * Q4_K, Q6_K, Q5_0 and Q8_0 covers most kernels, to keep the run short.
 */
static void check_level(cria_isa isa, bool all)
{
    if (isa > cria_isa_detected())
        skip();
    setenv("CRIA_ISA", cria_isa_name(isa), 1);
    for (size_t m = all ? 0 : 2; m < sizeof models / sizeof models[0]; m++) {
        char model_rel[128];
        snprintf(model_rel, sizeof model_rel, "models/synth-stories15M-%s.gguf", models[m]);
        if (!test_have(model_rel))
            skip();
        for (int p = 1; p <= (all ? 2 : 1); p++) {
            char case_rel[128];
            snprintf(case_rel, sizeof case_rel, "golden/synth-stories15M-%s.p%d.txt", models[m], p);
            golden_check_case(case_rel, model_rel, NULL, 1e-4, p, NEAR_TIE, GOLDEN_N_GEN);
        }
    }
    unsetenv("CRIA_ISA");
}

static void test_best_level(void **state)
{
    (void)state;
    check_level(cria_isa_detected(), true);
}

static void test_lower_levels(void **state)
{
    (void)state;
    for (int isa = CRIA_ISA_SCALAR; isa < (int)cria_isa_detected(); isa++)
        check_level((cria_isa)isa, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_best_level),
        cmocka_unit_test(test_lower_levels),
    };
    return cmocka_run_group_tests_name("quant golden", tests, NULL, NULL);
}
