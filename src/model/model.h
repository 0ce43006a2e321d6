/*
 * The model: hyper-parameters, weight views into the mapped file, and the
 * vocabulary. Read-only once loaded, so any number of contexts can share it.
 * GGUF files (model/load_gguf.c) and llama2.c checkpoints (ckpt/llama2c.c)
 * both fill this one structure.
 */
#ifndef CRIA_MODEL_MODEL_H
#define CRIA_MODEL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dtype.h"
#include "cria.h"
#include "gguf/gguf.h"
#include "kernels/ops.h"
#include "tokenizer/vocab.h"

/* How RoPE pairs a head's dimensions: adjacent (x[2i], x[2i+1]) or halves (x[i], x[i + n_rot/2]). */
typedef enum cria_rope_mode {
    CRIA_ROPE_NORM,
    CRIA_ROPE_NEOX,
} cria_rope_mode;

/* rope.scaling.type: how positions past the training context are squeezed in. */
typedef enum cria_rope_scaling {
    CRIA_ROPE_SCALING_NONE,
    CRIA_ROPE_SCALING_LINEAR, /* positions divided by rope.scaling.factor */
    CRIA_ROPE_SCALING_YARN,   /* linear on long wavelengths, none on short ones, a ramp between */
} cria_rope_scaling;

typedef enum cria_ffn_act {
    CRIA_ACT_SILU, /* SwiGLU: silu(gate) * up */
    CRIA_ACT_GELU, /* GeGLU: gelu_tanh(gate) * up */
} cria_ffn_act;

/*
 * What sets one model family apart from llama; one row per family in
 * model/arch.c. Optional tensors (Q/K/V biases, per-head Q/K norms) are used
 * by any family whose file has them.
 */
typedef struct cria_arch {
    const char *name;     /* general.architecture, and the prefix of its metadata keys */
    cria_rope_mode rope;
    cria_ffn_act act;
    bool embd_scale;      /* embeddings multiplied by sqrt(n_embd) (gemma) */
    bool scale_q;         /* Q scaled by 1/sqrt(head_dim) before the cache product, not the scores after (gemma) */
    bool sub_norms;       /* RMSNorm of the attention output before wo and of the FFN hidden before down (bitnet) */
    bool always_tied;     /* the classifier is the token embedding even when the file has output.weight (bitnet) */
} cria_arch;

/* The family named by general.architecture, or NULL when cria does not run it. */
const cria_arch *cria_arch_find(const char *name);

/* The names cria runs, comma separated, for error messages. */
const char *cria_arch_names(void);

/* The RoPE parameters of a loaded model: its base, scaling and rope_freqs, as the reference derives them. */
cria_rope_params cria_model_rope_params(const cria_model *m);

typedef struct cria_hparams {
    int32_t n_vocab;
    int32_t n_ctx_train;
    int32_t n_embd;    /* model width */
    int32_t n_ff;      /* feed-forward hidden width */
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim;  /* attention.key_length, or n_embd / n_head */
    int32_t n_rot;     /* dimensions rotated by RoPE per head */
    float rope_freq_base;
    float rms_eps;
    /* RoPE scaling; all zero (none) for files without the keys */
    cria_rope_scaling rope_scaling;
    float rope_scale;       /* rope.scaling.factor; 0: 1 */
    float rope_attn_factor; /* rope.scaling.attn_factor; 0: 1 */
    int32_t n_ctx_orig;     /* rope.scaling.original_context_length; 0: n_ctx_train */
} cria_hparams;

/* A weight matrix of `rows` output rows, each `cols` elements of `type`, row-major. */
typedef struct cria_weight {
    const void *data;
    cria_dtype type;
    int64_t rows, cols;
    size_t row_bytes;
    const void *packed; /* the same rows in the kernels' packed layout (quant/packed.h), or NULL */
} cria_weight;

typedef struct cria_layer {
    const float *attn_norm; /* [n_embd] */
    cria_weight wq, wk, wv, wo;
    const float *bq, *bk, *bv;     /* optional biases of Q, K, V (qwen2); NULL when absent */
    const float *q_norm, *k_norm;  /* optional per-head RMSNorm weights [head_dim] (qwen3); NULL when absent */
    const float *ffn_norm;  /* [n_embd] */
    cria_weight w_gate, w_up, w_down;
    /* bitnet: RMSNorm weights of the attention output [n_head * head_dim] and FFN hidden [n_ff]; NULL when absent */
    const float *attn_sub_norm, *ffn_sub_norm;
    /* bitnet: one-element .scale tensors multiplying each matrix's output; NULL when absent */
    const float *wq_scale, *wk_scale, *wv_scale, *wo_scale, *gate_scale, *up_scale, *down_scale;
} cria_layer;

struct cria_model {
    char *name;
    char *arch;
    const cria_arch *family; /* llama2.c checkpoints: llama */
    cria_hparams hp;
    cria_weight tok_embd;    /* [n_vocab rows][n_embd] */
    const float *output_norm;
    cria_weight output;      /* the classifier; shares tok_embd's data when tied */
    bool tied_output;
    cria_layer *layers;
    const float *rope_freqs; /* rope_freqs.weight [n_rot/2]: per-pair angle divisors (Llama 3); NULL when absent */
    const uint16_t *gelu_f16; /* GELU families: half-precision GELU of every half (cria_gelu_table_init) */
    cria_vocab *vocab;

    /* Storage the views above point into. */
    cria_gguf *gguf;         /* GGUF files: the mapping */
    const void *map;         /* llama2.c checkpoints: their own mapping */
    size_t map_size;
    float **owned;           /* float copies of vectors stored in other types */
    size_t n_owned;
    void *packed;            /* the packed copies of weights (cria_model_pack), one mapping */
    size_t packed_size;
};

/* The model's vocabulary (never NULL for a loaded model). */
const cria_vocab *cria_model_vocab(const cria_model *model);

/* Fills *m from an open GGUF file; the model takes ownership of g. */
cria_status cria_model_load_gguf(cria_model *m, cria_gguf *g, cria_error *err);

/*
 * Fills *m from a llama2.c checkpoint at path (legacy 7 x int32 header, then
 * float32 weights) and, if vocab_path is set, its tokenizer.bin.
 */
cria_status cria_model_load_llama2c(cria_model *m, const char *path, const char *vocab_path, cria_error *err);

/*
 * Checks the hyper-parameters for consistency (positive sizes, heads divide
 * the width, kv heads divide heads, even rope dims) and derives head_dim.
 */
cria_status cria_hparams_validate(cria_hparams *hp, const char *file, cria_error *err);

/* Keeps a malloc'd float buffer alive as long as the model; false on allocation failure (buf is freed). */
bool cria_model_own(cria_model *m, float *buf);

#endif
