/*
 * Random-weight llama models of real shapes, for speed work where real
 * weights cannot be downloaded. Same metadata keys and tensor names as
 * llama.cpp writes, a real vocabulary copied from a GGUF (every tokenizer.*
 * key) or a tokenizer.bin, normal(0, 0.02) weights (embeddings normal(0, 1)),
 * unit norms, fixed seed. Written in any type cria computes with, mixes
 * included (the type choice of `cria quantize`): each row is generated and
 * quantized on the spot, on every thread, so no f32 copy of the model is
 * ever held. Row r of tensor i depends only on the seed, i and r, so the
 * file is the same for any thread count.
 */
#ifndef CRIA_MODEL_SYNTH_H
#define CRIA_MODEL_SYNTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dtype.h"
#include "cria.h"
#include "quant/quantize_model.h"

typedef struct cria_synth_shape {
    const char *name;
    int32_t n_embd, n_ff, n_layer, n_head, n_head_kv, n_ctx;
    float rope_base; /* 0: 10000 */
    float rms_eps;   /* 0: 1e-5 */
    bool tied;       /* the shape shares the classifier with the token embedding */
} cria_synth_shape;

/*
 * The named shapes (stories260K, stories15M, stories42M, stories110M,
 * tinyllama-1.1B, llama2-7B, llama3-8B, qwen2.5-0.5B); NULL if unknown.
 */
const cria_synth_shape *cria_synth_find_shape(const char *name);

/* Writes a comma-separated list of the shape names into buf. */
void cria_synth_shape_names(char *buf, size_t cap);

typedef struct cria_synth_params {
    cria_synth_shape shape;
    const cria_quant_mix *mix; /* type of the matrices (norms stay F32); NULL: f32 */
    bool pure;                 /* no mix: every matrix in mix->base (fallbacks still apply) */
    const char *vocab_path;    /* GGUF with a tokenizer, or a llama2.c tokenizer.bin */
    uint64_t seed;
    bool tied_output;          /* or shape.tied */
    const char *arch;          /* general.architecture: "llama" (NULL) or "bitnet" (sub-norms, tied classifier) */
    int n_threads;             /* 0: 1 */
    cria_quant_progress_fn progress;
    void *progress_ctx;
} cria_synth_params;

/* Writes the model to path (a temporary file renamed into place). */
cria_status cria_synth_write(const cria_synth_params *p, const char *path, cria_error *err);

#endif
