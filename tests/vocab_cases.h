/* The tokenizer reference cases of ../shared/vocab (llama.cpp's .inp/.out pairs), for the tokenizer tests. */
#ifndef CRIA_TESTS_VOCAB_CASES_H
#define CRIA_TESTS_VOCAB_CASES_H

#include <stddef.h>
#include <stdint.h>

#include "cria.h"

typedef struct ref_case {
    char *text;
    size_t len;
    cria_token *ids;
    int32_t n_ids;
} ref_case;

typedef struct ref_cases {
    ref_case *c;
    int n;
    char *inp, *outp; /* the files' buffers */
} ref_cases;

/*
 * Reads the .inp/.out pair of vocab rel (e.g. "vocab/ggml-vocab-gpt-2.gguf")
 * as llama.cpp's test-tokenizer-0 does: inputs split by
 * "\n__ggml_vocab_test__\n" (text after the last separator, if any, is one
 * more case), one output line per case, ids separated by spaces. Fails the
 * test when the files are missing or disagree.
 */
void ref_load(const char *rel, ref_cases *rc);
void ref_free(ref_cases *rc);

#endif
