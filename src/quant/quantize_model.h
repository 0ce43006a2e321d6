/*
 * Whole-model conversion, shared by `cria quantize` and `cria synth`: the
 * llama.cpp file types (general.file_type) with their per-tensor type mixes,
 * and a tensor-by-tensor writer that produces each tensor's rows as floats,
 * converts them on every thread and streams them into the GGUF file, so no
 * whole f32 copy of a model is ever held.
 *
 * The mixes follow llama.cpp's llama_tensor_get_type for llama-family
 * models: the classifier (output.weight, or token_embd.weight when it is
 * shared) gets Q6_K, attn_v and ffn_down get more bits in some layers for
 * the _S/_M/_L K-quant mixes, norms and 1-D tensors are copied as they are.
 * A row whose length is not a multiple of the chosen block falls back as
 * llama.cpp does (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, TQ*->Q4_0, then F16);
 * where llama.cpp uses IQ4_NL (Q2_K, Q3_K), which cria does not implement,
 * Q4_0 (the same 4.5 bits per weight) is used, and where llama.cpp gives up
 * (Q4_0, Q8_0, ... on such rows) F16 is used. Q2_K_S and the IQ mixes, which
 * llama.cpp makes only with an importance matrix, are not offered.
 */
#ifndef CRIA_QUANT_QUANTIZE_MODEL_H
#define CRIA_QUANT_QUANTIZE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dtype.h"
#include "base/error.h"
#include "gguf/gguf.h"

/* llama.cpp's LLAMA_FTYPE numbers, written as general.file_type. */
typedef enum cria_ftype {
    CRIA_FTYPE_ALL_F32 = 0,
    CRIA_FTYPE_F16 = 1,
    CRIA_FTYPE_Q4_0 = 2,
    CRIA_FTYPE_Q4_1 = 3,
    CRIA_FTYPE_Q8_0 = 7,
    CRIA_FTYPE_Q5_0 = 8,
    CRIA_FTYPE_Q5_1 = 9,
    CRIA_FTYPE_Q2_K = 10,
    CRIA_FTYPE_Q3_K_S = 11,
    CRIA_FTYPE_Q3_K_M = 12,
    CRIA_FTYPE_Q3_K_L = 13,
    CRIA_FTYPE_Q4_K_S = 14,
    CRIA_FTYPE_Q4_K_M = 15,
    CRIA_FTYPE_Q5_K_S = 16,
    CRIA_FTYPE_Q5_K_M = 17,
    CRIA_FTYPE_Q6_K = 18,
    CRIA_FTYPE_BF16 = 32,
    CRIA_FTYPE_TQ1_0 = 36,
    CRIA_FTYPE_TQ2_0 = 37,
} cria_ftype;

typedef struct cria_quant_mix {
    const char *name; /* as llama-quantize spells it, lower case: "q4_k_m" */
    cria_ftype ftype;
    cria_dtype base; /* the type of the tensors the mix does not single out */
} cria_quant_mix;

/*
 * The mix named name (case-insensitive; "q3_k", "q4_k", "q5_k" are the _m
 * mixes, as in llama-quantize), or NULL.
 */
const cria_quant_mix *cria_quant_mix_find(const char *name);

/* Writes the mix names, comma-separated, into buf. */
void cria_quant_mix_names(char *buf, size_t cap);

/* What the type choice needs to know about the whole model. */
typedef struct cria_quant_model {
    int32_t n_layer;  /* block_count: ffn_down layer positions are out of it */
    int32_t n_attn_v; /* tensors whose name holds attn_v.weight or attn_qkv.weight */
    int32_t n_gqa;    /* n_head / n_head_kv (1 when unknown) */
    bool has_output;  /* an output.weight of its own (else token_embd is the classifier) */
    bool pure;        /* every converted tensor gets the base type (llama-quantize --pure) */
} cria_quant_model;

/*
 * The type tensor name (n_dims, ne, stored as in_type) is written in under
 * mix: in_type itself when the tensor is copied unchanged (norms, 1-D
 * tensors, or already of the chosen type). *fallback (may be NULL) is set
 * when the row length forced a fallback type.
 */
cria_dtype cria_quant_choose_type(const cria_quant_mix *mix, const cria_quant_model *m, const char *name,
                                  uint32_t n_dims, const uint64_t *ne, cria_dtype in_type, bool *fallback);

/* Fills rows [row0, row0 + nrows) of a tensor as floats (n_per_row each) into dst; called from any thread. */
typedef void (*cria_rows_fn)(const void *ctx, int64_t row0, int64_t nrows, float *dst);

/* One tensor of the file to write: either raw bytes copied as they are, or rows converted to type. */
typedef struct cria_qtensor {
    char name[96];
    uint32_t n_dims;
    uint64_t ne[CRIA_GGUF_MAX_DIMS];
    cria_dtype type;    /* as written */
    const void *raw;    /* bytes of type `type`, borrowed until the write ends; or NULL */
    cria_rows_fn rows;  /* when raw is NULL */
    const void *rows_ctx;
} cria_qtensor;

/* Called on the writing thread as conversion advances: elements done of the total, and the current tensor. */
typedef void (*cria_quant_progress_fn)(void *ctx, uint64_t done, uint64_t total, const cria_qtensor *t);

/*
 * Adds the tensors to w (whose metadata the caller has set) and writes the
 * file to path (a temporary file renamed into place, so a failure leaves no
 * half-written file), converting rows on n_threads threads. ts must stay
 * valid until this returns.
 */
cria_status cria_quant_write(cria_gguf_writer *w, const cria_qtensor *ts, size_t n, const char *path,
                             int n_threads, cria_quant_progress_fn progress, void *progress_ctx, cria_error *err);

typedef struct cria_quantize_params {
    const char *in_path, *out_path;
    const cria_quant_mix *mix;
    int n_threads;
    bool pure;
    cria_quant_progress_fn progress;
    void *progress_ctx;
} cria_quantize_params;

typedef struct cria_quantize_report {
    uint64_t in_file_bytes, out_file_bytes;
    uint64_t in_tensor_bytes, out_tensor_bytes; /* tensor data only */
    uint64_t n_elements;                        /* of every tensor */
    int32_t n_tensors, n_converted, n_fallback;
    uint32_t n_by_type[CRIA_DTYPE_COUNT];       /* tensors written per type */
} cria_quantize_report;

/*
 * Converts the GGUF at in_path (F32, F16 or BF16 tensors; a quantized
 * input is an error) to out_path under the mix, copying every metadata
 * key and setting general.file_type and general.quantization_version.
 */
cria_status cria_quantize_model(const cria_quantize_params *p, cria_quantize_report *rep, cria_error *err);

#endif
