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
#include <stdio.h>

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
    CRIA_ERR_BUSY,        /* a bounded queue is full: try again later (HTTP 503) */
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
    /*
     * Keep every weight in the file's layout. By default, matrices whose
     * type has kernels over a packed layout at the CPU's level (Q4_0 and Q8_0 with
     * AVX-512 VNNI) are repacked once at load into anonymous memory of the
     * same size, and the file's pages of those matrices are released.
     */
    int no_repack;
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
 * max_tokens ids. add_bos adds the special tokens the vocabulary asks for, as
 * llama.cpp's add_special: BOS when tokenizer.ggml.add_bos_token (default true
 * for SentencePiece vocabularies, false for BPE ones but Llama 3's), EOS when
 * add_eos_token. Returns the number of tokens, or -(needed) when max_tokens
 * is too small (nothing is written past max_tokens).
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
    /* Where the pool's threads run (see cria_placement_init); read only during
     * cria_context_init. NULL (the default): no thread is pinned. A placement
     * that pins threads restricts the calling thread (worker 0) to thread 0's
     * CPUs too, and it stays so after the context is freed. */
    const struct cria_placement *placement;
    /* How long idle pool threads poll for work before sleeping, 0..100 as
     * llama-cli's --poll: 0 sleeps at once (least CPU burnt, slowest wake-up),
     * 50 (the default) spins a few hundred microseconds, 100 twice that. */
    int32_t poll;
    /* Parallel thresholds (least work per thread before a kernel is split over
     * threads) as "matmul=N,attention=N", any subset, e.g. from a tuning file;
     * read only during cria_context_init. NULL: the built-in table.
     * $CRIA_THRESHOLDS, when set, overrides these. */
    const char *thresholds;
} cria_context_params;

cria_context_params cria_context_default_params(void);

cria_status cria_context_init(cria_model *model, const cria_context_params *params, cria_context **out,
                              cria_error *err);
void cria_context_free(cria_context *ctx);
int32_t cria_n_ctx(const cria_context *ctx);
/*
 * Runs one empty region on every pool thread and writes the CPU each ran on
 * (up to cap; thread 0 is the caller); returns the pool's thread count. For
 * verbose output with cria_placement_print.
 */
int32_t cria_context_thread_cpus(cria_context *ctx, int32_t *cpus, int32_t cap);

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

/*
 * Thread synchronisations (parallel regions: one dispatch and one join each)
 * the context has run so far; kernels small enough to run on the calling
 * thread alone do not count.
 */
uint64_t cria_context_n_syncs(const cria_context *ctx);

/* ---- sampling -------------------------------------------------------------- */

/*
 * Samplers follow llama.cpp's design: each one transforms a candidate array
 * (filters it, rescales logits, or selects a token), and a chain applies a
 * list of them in order. Samplers with memory (penalties, DRY, mirostat) learn
 * the text through cria_sampler_accept: feed them the prompt tokens and each
 * generated token. Every sampler has a naive reference path (the readable
 * spec) and an optimised one; both give the same result.
 */

typedef struct cria_token_data {
    cria_token id;
    float logit;
    float p; /* probability, valid after a sampler that computes it */
} cria_token_data;

typedef struct cria_token_data_array {
    cria_token_data *data;
    size_t size;
    int64_t selected; /* index into data of the chosen token; -1: none yet */
    int sorted;       /* data is in descending logit order (ties: ascending id) */
} cria_token_data_array;

typedef struct cria_logit_bias {
    cria_token token;
    float bias; /* added to the logit; -INFINITY bans the token */
} cria_logit_bias;

typedef struct cria_sampler cria_sampler;

/* Each constructor returns a new sampler (free with cria_sampler_free) or NULL when out of memory. */
cria_sampler *cria_sampler_init_greedy(void);
cria_sampler *cria_sampler_init_dist(uint64_t seed);
/* temp <= 0 keeps only the most likely token. */
cria_sampler *cria_sampler_init_temp(float temp);
/* Dynamic temperature: temp +- delta, chosen by the normalised entropy raised to exponent; delta <= 0: plain temp. */
cria_sampler *cria_sampler_init_temp_ext(float temp, float delta, float exponent);
cria_sampler *cria_sampler_init_top_k(int32_t k); /* k <= 0: off */
cria_sampler *cria_sampler_init_top_p(float p, size_t min_keep); /* p >= 1: off */
cria_sampler *cria_sampler_init_min_p(float p, size_t min_keep); /* p <= 0: off */
cria_sampler *cria_sampler_init_typical(float p, size_t min_keep); /* p >= 1: off */
cria_sampler *cria_sampler_init_top_n_sigma(float n); /* n <= 0: off */
/* Exclude Top Choices: with the given probability, drops every token above threshold but the least likely of them. */
cria_sampler *cria_sampler_init_xtc(float probability, float threshold, size_t min_keep, uint64_t seed);
/*
 * Repetition (repeat: divides positive logits, multiplies negative ones),
 * frequency (freq x count) and presence penalties over the last last_n
 * accepted tokens (a ring buffer). last_n = 0 or neutral values: off.
 */
cria_sampler *cria_sampler_init_penalties(int32_t n_vocab, int32_t last_n, float repeat, float freq, float present);
/*
 * DRY ("don't repeat yourself"): penalises multiplier * base^(len - allowed_length)
 * a token that would extend a repeat of len >= allowed_length tokens seen in
 * the last last_n tokens (-1: n_ctx), stopping at sequence breakers. Breakers
 * are strings matched against the model's token pieces (model may be NULL
 * when there are none).
 */
cria_sampler *cria_sampler_init_dry(const cria_model *model, int32_t n_vocab, int32_t n_ctx, float multiplier,
                                    float base, int32_t allowed_length, int32_t last_n, const char *const *breakers,
                                    size_t n_breakers);
/* DRY with breakers given as token sequences (head token first), for tests and tools without a vocabulary. */
cria_sampler *cria_sampler_init_dry_tokens(int32_t n_vocab, int32_t n_ctx, float multiplier, float base,
                                           int32_t allowed_length, int32_t last_n, const cria_token *const *breakers,
                                           const size_t *breaker_lens, size_t n_breakers);
/* Mirostat 1.0 (m: tokens used to estimate the Zipf exponent, 100 in the paper) and 2.0; both select a token. */
cria_sampler *cria_sampler_init_mirostat(int32_t n_vocab, uint64_t seed, float tau, float eta, int32_t m);
cria_sampler *cria_sampler_init_mirostat_v2(uint64_t seed, float tau, float eta);
/* Adds bias[i].bias to the logit of bias[i].token (the array is copied). */
cria_sampler *cria_sampler_init_logit_bias(int32_t n_vocab, int32_t n_bias, const cria_logit_bias *bias);

/* A chain applies its samplers in the order added. */
cria_sampler *cria_sampler_chain_init(void);
/* Appends s to chain; the chain takes ownership of s and frees it (also when this fails). Returns false on no memory. */
int cria_sampler_chain_add(cria_sampler *chain, cria_sampler *s);
int32_t cria_sampler_chain_n(const cria_sampler *chain);
/* The i-th sampler of a chain, still owned by the chain; NULL when out of range. */
cria_sampler *cria_sampler_chain_get(const cria_sampler *chain, int32_t i);

/* A static name: "greedy", "top-k", "chain", ... */
const char *cria_sampler_name(const cria_sampler *s);
/* Tells s (and every sampler of a chain) that token t is now part of the text. */
void cria_sampler_accept(cria_sampler *s, cria_token t);
/* Applies s to cur in place (a chain applies each of its samplers). */
void cria_sampler_apply(cria_sampler *s, cria_token_data_array *cur);
/* Forgets the accepted history and restarts random streams from their seeds. */
void cria_sampler_reset(cria_sampler *s);
/* Selects the naive reference paths (on != 0) or the optimised ones (the default), for tests and benchmarks. */
void cria_sampler_set_reference(cria_sampler *s, int on);
void cria_sampler_free(cria_sampler *s);

/*
 * Samples one token from n_vocab logits (not modified): applies s to every
 * token, takes the selected one (or the most likely one left when no sampler
 * selected), and accepts it into s. Returns -1 when s is unusable (no memory).
 */
cria_token cria_sampler_sample(cria_sampler *s, const float *logits, int32_t n_vocab);

/* Total time spent in cria_sampler_sample and accept on a chain, and the number of samples. */
typedef struct cria_sampler_perf {
    int64_t t_sample_us;
    int32_t n_sample;
} cria_sampler_perf;
cria_sampler_perf cria_sampler_chain_perf(const cria_sampler *chain);

/* ---- sampling parameters: llama-cli's set and order --------------------------- */

typedef enum cria_sampler_type {
    CRIA_SAMPLER_PENALTIES,
    CRIA_SAMPLER_DRY,
    CRIA_SAMPLER_TOP_N_SIGMA,
    CRIA_SAMPLER_TOP_K,
    CRIA_SAMPLER_TYPICAL,
    CRIA_SAMPLER_TOP_P,
    CRIA_SAMPLER_MIN_P,
    CRIA_SAMPLER_XTC,
    CRIA_SAMPLER_TEMPERATURE,
    CRIA_SAMPLER_TYPE_COUNT,
} cria_sampler_type;

#define CRIA_SAMPLER_MAX_ORDER 32
#define CRIA_DRY_MAX_BREAKERS 16

typedef struct cria_sampler_params {
    uint64_t seed;
    float temp;               /* 0.8; <= 0: greedy */
    float dynatemp_range;     /* 0: off */
    float dynatemp_exponent;  /* 1 */
    int32_t top_k;            /* 40; <= 0: off */
    float top_p;              /* 0.95 */
    float min_p;              /* 0.05 */
    float typical_p;          /* 1: off */
    float top_n_sigma;        /* -1: off */
    float xtc_probability;    /* 0: off */
    float xtc_threshold;      /* 0.1 */
    int32_t min_keep;         /* 0 */
    int32_t penalty_last_n;   /* 64; -1: the context size */
    float penalty_repeat;     /* 1: off */
    float penalty_freq;       /* 0 */
    float penalty_present;    /* 0 */
    float dry_multiplier;     /* 0: off */
    float dry_base;           /* 1.75 */
    int32_t dry_allowed_length; /* 2 */
    int32_t dry_penalty_last_n; /* -1: the context size */
    int32_t n_dry_breakers;   /* 4: "\n" ":" "\"" "*" */
    const char *dry_breakers[CRIA_DRY_MAX_BREAKERS]; /* borrowed strings */
    int32_t mirostat;         /* 0: off, 1 or 2 (replaces the order below) */
    float mirostat_tau;       /* 5 */
    float mirostat_eta;       /* 0.1 */
    int32_t n_logit_bias;
    const cria_logit_bias *logit_bias; /* borrowed */
    int32_t n_order;          /* samplers applied, in this order, then a seeded draw */
    cria_sampler_type order[CRIA_SAMPLER_MAX_ORDER];
} cria_sampler_params;

/* llama.cpp's defaults: penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature. */
cria_sampler_params cria_sampler_default_params(void);

/*
 * Parses a sampler order, names separated by ';' (top_k;typical;top_p;min_p;temperature;
 * also top-k, typ_p, temp, ...), or a llama-cli --sampling-seq string of letters
 * (e.g. "kypmt"); false (and *p unchanged) on an unknown name.
 */
int cria_sampler_parse_order(const char *s, int letters, cria_sampler_params *p);
/* Writes the order as "top_k;top_p;..." into buf (cap bytes, NUL-terminated). */
void cria_sampler_order_str(const cria_sampler_params *p, char *buf, size_t cap);
/* The name of one sampler type as --samplers spells it. */
const char *cria_sampler_type_name(cria_sampler_type t);

/*
 * Builds the chain llama-cli builds from p: logit bias, then the order (or
 * temperature + mirostat), then a seeded draw; temp <= 0 ends in greedy
 * selection. model (for DRY breakers; may be NULL), n_vocab and n_ctx come
 * from the loaded model and context. Returns NULL on no memory or bad values.
 */
cria_sampler *cria_sampler_chain_from_params(const cria_sampler_params *p, const cria_model *model, int32_t n_vocab,
                                             int32_t n_ctx);

/* ---- threads: topology and placement --------------------------------------- */

/*
 * llama-cli's CPU options. A placement turns them, with the machine's
 * topology (hwloc), into the CPUs each pool thread may run on; pass it in
 * cria_context_params.placement. The default (all fields as below) pins
 * nothing and suggests one thread per physical core.
 */
typedef struct cria_cpu_params {
    int32_t n_threads;     /* -t; 0: one per physical core of the selected CPUs (no SMT siblings, no
                              efficiency cores); with strict and a mask or range: one per listed CPU */
    const char *cpu_mask;  /* --cpu-mask: hex, bit i = CPU i, any length, optional 0x (CPUs the process may
                              not use are dropped); NULL or "": none */
    const char *cpu_range; /* --cpu-range: "A-B" (also "A", "A-", "-B"), added to the mask; NULL or "": none */
    int32_t strict;        /* --cpu-strict 0|1: thread i pinned to the i-th selected CPU (wrapping);
                              0: threads float over the selected CPUs */
    int32_t prio;          /* --prio: -1 low, 0 normal, 1 medium, 2 high, 3 realtime (cria_thread_set_priority) */
    const char *numa;      /* --numa: "distribute" (thread i on node i mod nodes), "isolate" (all on the
                              calling thread's node), "none" or "numactl" (no NUMA policy); NULL: none */
} cria_cpu_params;

cria_cpu_params cria_cpu_default_params(void);

typedef struct cria_placement cria_placement;

/*
 * Reads this machine's topology, restricted to the CPUs the process may use
 * (its affinity mask), and plans where each of the threads runs. Every bad
 * value (malformed mask, a mask or range selecting no usable CPU, a range
 * past the last CPU, an unknown NUMA mode, prio outside -1..3) fails with
 * CRIA_ERR_ARG and a message naming it. Call it before pinning anything.
 * On success *out is owned by the caller: free it with cria_placement_free.
 */
cria_status cria_placement_init(const cria_cpu_params *params, cria_placement **out, cria_error *err);
void cria_placement_free(cria_placement *pl);

/* The threads planned: params.n_threads, or the default it stands for. */
int32_t cria_placement_n_threads(const cria_placement *pl);
/* The default thread count under these options (what n_threads = 0 gives), e.g. for -t when -tb was given. */
int32_t cria_placement_default_threads(const cria_placement *pl);

/*
 * The CPUs thread ith may run on (threads past n_threads reuse the plan from
 * the start): writes up to cap of them, ascending, and returns the count;
 * 0: not pinned, 1: pinned to that CPU.
 */
int32_t cria_placement_cpus(const cria_placement *pl, int32_t ith, int32_t *cpus, int32_t cap);

/*
 * Prints the topology, the options and each thread's planned CPUs, one line
 * each, for verbose output; with running_on (n_running entries, e.g. from
 * cria_context_thread_cpus; NULL: none), also the CPU each thread was seen on.
 */
void cria_placement_print(const cria_placement *pl, const int32_t *running_on, int32_t n_running, FILE *f);

/*
 * Sets the scheduling priority of the calling thread, which threads it
 * creates afterwards inherit (so call it before cria_context_init): -1 low
 * (nice 5), 0 normal (unchanged), 1 medium (nice -5), 2 high (nice -10),
 * 3 realtime (SCHED_FIFO). CRIA_ERR_ARG for another value;
 * CRIA_ERR_UNSUPPORTED when the OS refuses (raising priority needs root or
 * CAP_SYS_NICE): callers treat that as a warning.
 */
cria_status cria_thread_set_priority(int32_t prio, cria_error *err);

/* ---- timing ---------------------------------------------------------------- */

/* Monotonic time in microseconds. */
int64_t cria_time_us(void);

#ifdef __cplusplus
}
#endif

#endif /* CRIA_H */
