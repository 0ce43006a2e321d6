/*
 * Tiny random-weight GGUF models written at test time, for families and
 * options that no shared model file covers (BitNet b1.58, RoPE scaling). The
 * vocabulary is copied from a shared GGUF; weights come from a fixed seed, so
 * the same spec always gives the same file, and a reference engine run once
 * on that file gives expected values that stay true (tests/data/).
 */
#ifndef CRIA_TESTS_ARCH_MODEL_H
#define CRIA_TESTS_ARCH_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "base/dtype.h"

typedef struct arch_model_spec {
    const char *arch;       /* general.architecture: "llama" or "bitnet" */
    cria_dtype mat_type;    /* the attention and feed-forward matrices; embeddings and norms stay F32 */
    int32_t n_embd, n_ff, n_layer, n_head, n_head_kv, n_ctx;
    const char *rope_scaling_type; /* rope.scaling.type, or NULL for no scaling keys */
    float rope_scaling_factor;
    int32_t rope_n_ctx_orig;       /* rope.scaling.original_context_length; 0: not written */
    const float *rope_freqs;       /* rope_freqs.weight [head_dim/2], or NULL */
    bool scales;                   /* bitnet: per-tensor .scale tensors after each matrix */
    uint64_t seed;
} arch_model_spec;

/* Writes the model to path with the vocabulary of the GGUF at vocab_path; false (with a message) on failure. */
bool arch_model_write(const arch_model_spec *s, const char *vocab_path, const char *path);

#endif
