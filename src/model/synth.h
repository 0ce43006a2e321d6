/*
 * Random-weight llama models of real shapes, for speed work where real
 * weights cannot be downloaded. Same metadata keys and tensor names as
 * llama.cpp writes, a real vocabulary copied from a GGUF or tokenizer.bin,
 * normal(0, 0.02) weights (embeddings normal(0, 1)), unit norms, fixed seed.
 */
#ifndef CRIA_MODEL_SYNTH_H
#define CRIA_MODEL_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dtype.h"
#include "cria.h"

typedef struct cria_synth_shape {
    const char *name;
    int32_t n_embd, n_ff, n_layer, n_head, n_head_kv, n_ctx;
} cria_synth_shape;

/* The named shapes (stories260K, stories15M, stories42M, stories110M, tinyllama-1.1B, llama2-7B); NULL if unknown. */
const cria_synth_shape *cria_synth_find_shape(const char *name);

/* Writes a comma-separated list of the shape names into buf. */
void cria_synth_shape_names(char *buf, size_t cap);

typedef struct cria_synth_params {
    cria_synth_shape shape;
    cria_dtype type;        /* of the matrices: F32, F16 or BF16 (norms stay F32) */
    const char *vocab_path; /* GGUF with a tokenizer, or a llama2.c tokenizer.bin */
    uint64_t seed;
    bool tied_output;
} cria_synth_params;

/* Writes the model to path. */
cria_status cria_synth_write(const cria_synth_params *p, const char *path, cria_error *err);

#endif
