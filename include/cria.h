/*
 * cria: a LLaMA-family inference engine for CPUs.
 *
 * The public API. Every object is opaque and comes with an init/free pair.
 * Functions that can fail return a cria_status and, when given a non-NULL
 * cria_error, write one line that says what went wrong (file, byte offset,
 * reason). Nothing here exits the process or prints unless asked to.
 */
#ifndef CRIA_H
#define CRIA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CRIA_VERSION "0.1.0"

typedef enum cria_status {
    CRIA_OK = 0,
    CRIA_ERR_IO,          /* cannot open, read, map or write a file */
    CRIA_ERR_FORMAT,      /* a file is malformed, truncated or inconsistent */
    CRIA_ERR_UNSUPPORTED, /* valid, but cria does not handle it (type, architecture) */
    CRIA_ERR_NOMEM,       /* an allocation failed */
    CRIA_ERR_ARG,         /* a caller passed a bad argument */
    CRIA_ERR_CONTEXT,     /* the KV cache or the context window is full */
} cria_status;

/* One line of error text, filled by the function that failed. */
typedef struct cria_error {
    cria_status status;
    char msg[512];
} cria_error;

/* Returns a static name for a status ("ok", "i/o error", ...). */
const char *cria_status_str(cria_status s);

typedef int32_t cria_token;

typedef struct cria_model cria_model;     /* weights, hyper-parameters, vocabulary; read-only once loaded */
typedef struct cria_context cria_context; /* KV cache, scratch buffers and logits of one user of a model */

/* ---- models ---------------------------------------------------------------- */

typedef struct cria_model_params {
    const char *vocab_path; /* tokenizer.bin for llama2.c checkpoints; NULL: none (or the GGUF's own) */
} cria_model_params;

cria_model_params cria_model_default_params(void);

/*
 * Loads a GGUF file or a llama2.c checkpoint (detected by content), mapping
 * the weights read-only. On success *out owns the mapping; free it with
 * cria_model_free.
 */
cria_status cria_model_load(const char *path, const cria_model_params *params, cria_model **out,
                            cria_error *err);
void cria_model_free(cria_model *model);

typedef struct cria_model_info {
    const char *arch;  /* "llama" */
    const char *name;  /* general.name or the file's base name */
    int32_t n_vocab, n_ctx_train, n_embd, n_ff, n_layer, n_head, n_head_kv, n_rot;
    float rope_freq_base, rms_eps;
    int tied_output;   /* classifier shares the token embedding */
    uint64_t n_params, weight_bytes;
} cria_model_info;

void cria_model_get_info(const cria_model *model, cria_model_info *info);

/* ---- tokens ---------------------------------------------------------------- */

cria_token cria_token_bos(const cria_model *model);
cria_token cria_token_eos(const cria_model *model);
int cria_token_is_eog(const cria_model *model, cria_token t); /* end of generation (EOS, EOT) */

/*
 * Tokenizes text (len bytes; need not be NUL-terminated) into at most
 * max_tokens ids, prefixed with BOS when add_bos. Returns the number of
 * tokens, or -(needed) when max_tokens is too small (nothing is written past
 * max_tokens).
 */
int32_t cria_tokenize(const cria_model *model, const char *text, size_t len, cria_token *tokens,
                      int32_t max_tokens, int add_bos);

/*
 * Writes the text of one token (byte tokens as their byte, control tokens as
 * nothing) into buf without a terminator. Returns the byte count, or
 * -(needed) when cap is too small.
 */
int32_t cria_token_to_piece(const cria_model *model, cria_token t, char *buf, int32_t cap);

/*
 * Streaming detokenizer: feeds pieces and releases only complete UTF-8
 * sequences, so a character split over byte tokens is never printed in halves.
 */
typedef struct cria_detok {
    const cria_model *model;
    cria_token prev;
    int n_pending;
    unsigned char pending[8];
} cria_detok;

void cria_detok_init(cria_detok *d, const cria_model *model);
/* Appends the complete text that token t finishes to out (cap bytes); returns the byte count or -(needed). */
int32_t cria_detok_push(cria_detok *d, cria_token t, char *out, int32_t cap);
/* Releases whatever is still pending (an incomplete sequence at the end of output). */
int32_t cria_detok_flush(cria_detok *d, char *out, int32_t cap);

/* ---- contexts and decoding ------------------------------------------------- */

typedef struct cria_context_params {
    int32_t n_ctx;       /* KV cache cells, shared by all sequences; 0: the model's training context */
    int32_t n_batch;     /* most tokens one cria_decode call may carry; 0: n_ctx */
    int32_t n_threads;   /* threads for single-token generation */
    int32_t n_threads_batch; /* threads for prompt batches */
    int32_t n_seq_max;   /* most distinct sequence ids (0 .. n_seq_max-1) */
} cria_context_params;

cria_context_params cria_context_default_params(void);

cria_status cria_context_init(cria_model *model, const cria_context_params *params, cria_context **out,
                              cria_error *err);
void cria_context_free(cria_context *ctx);
int32_t cria_n_ctx(const cria_context *ctx);

/*
 * A batch of tokens for one decode call. Token i belongs to sequence seq_id[i]
 * at position pos[i]; logits[i] asks for its output row. Several sequences may
 * share one batch; each attends only to its own cells.
 */
typedef struct cria_batch {
    int32_t n_tokens;
    cria_token *token;
    int32_t *pos;
    int32_t *seq_id;
    int8_t *logits;
} cria_batch;

/* Allocates room for n_max tokens; free with cria_batch_free. Returns a zeroed batch on failure. */
cria_batch cria_batch_init(int32_t n_max);
void cria_batch_free(cria_batch *batch);

/*
 * Runs the forward pass over every token of the batch, storing their keys and
 * values in free cache cells. Fails with CRIA_ERR_CONTEXT (and changes
 * nothing) when the cache has too few free cells.
 */
cria_status cria_decode(cria_context *ctx, const cria_batch *batch, cria_error *err);

/* Logits (n_vocab floats) of batch token i of the last decode; NULL if it asked for none. */
const float *cria_get_logits_ith(const cria_context *ctx, int32_t i);

/* Forgets sequence seq's cells with p0 <= pos < p1 (p1 < 0: to the end); seq < 0: every sequence. */
void cria_kv_seq_rm(cria_context *ctx, int32_t seq, int32_t p0, int32_t p1);
/* Number of cells in use. */
int32_t cria_kv_used(const cria_context *ctx);

/* ---- sampling -------------------------------------------------------------- */

typedef struct cria_sampler cria_sampler;

typedef struct cria_sampler_params {
    float temp;   /* <= 0: greedy */
    int32_t top_k; /* <= 0: off */
    float top_p;  /* >= 1: off */
    uint64_t seed;
} cria_sampler_params;

cria_sampler_params cria_sampler_default_params(void);
cria_sampler *cria_sampler_init(const cria_sampler_params *params, int32_t n_vocab);
void cria_sampler_free(cria_sampler *s);
/* Picks the next token from n_vocab logits (not modified). */
cria_token cria_sampler_sample(cria_sampler *s, const float *logits);

/* ---- timing ---------------------------------------------------------------- */

/* Monotonic time in microseconds. */
int64_t cria_time_us(void);

#ifdef __cplusplus
}
#endif

#endif /* CRIA_H */
