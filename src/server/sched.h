/*
 * The request scheduler: continuous batching of many generation requests over
 * one context.
 *
 * Requests (prompt tokens, a token budget, sampling parameters) enter a
 * bounded FIFO queue. Up to n_slots run at once, each slot one sequence id of
 * the context with its own sampler chain and streaming detokenizer. Every
 * step builds ONE batch: the next token of every generating slot, then
 * pending prompt tokens of the slots still reading their prompt (oldest
 * first) up to n_batch tokens in all, so a long new prompt is read a chunk per
 * step and never stalls the others. One forward pass serves them all; each
 * slot whose logits came out samples its next token.
 *
 * The context's n_ctx cells are split evenly: a slot holds at most
 * n_ctx / n_slots tokens (prompt + generated), so decoding never runs out of
 * cells. A finished or cancelled request frees its cells at once.
 *
 * Threads: the stepping functions (cria_sched_step, cria_sched_run) and every
 * callback run on one thread, the caller's; the context's pool does the
 * parallel math. cria_sched_submit, cria_sched_cancel, cria_sched_stop and
 * cria_sched_get_stats may be called from any thread at any time (a server's
 * connection threads).
 */
#ifndef CRIA_SERVER_SCHED_H
#define CRIA_SERVER_SCHED_H

#include <stdbool.h>
#include <stdint.h>

#include "cria.h"

typedef struct cria_sched cria_sched;

typedef enum cria_finish_reason {
    CRIA_FINISH_LENGTH,    /* n_predict tokens generated, or the slot's context is full */
    CRIA_FINISH_EOS,       /* the model produced an end-of-generation token (not part of the text) */
    CRIA_FINISH_STOP,      /* the text reached one of the request's stop strings (cut before it) */
    CRIA_FINISH_CANCELLED, /* cria_sched_cancel, an on_token callback asking to stop, or the scheduler freed */
    CRIA_FINISH_ERROR,     /* decode or sampling failed; result.error says why */
} cria_finish_reason;

/* "length", "eos", "stop", "cancelled", "error". */
const char *cria_finish_reason_str(cria_finish_reason r);

/*
 * Log-probabilities of one generated token, for requests that ask for them:
 * the log-softmax of the model's raw logits at that step (before the sampler
 * chain's penalties, biases, temperature or truncation), the chosen token's
 * value and the n_top most likely tokens, most likely first (ties: lower id).
 */
#define CRIA_SCHED_MAX_PROBS 20

typedef struct cria_sched_tokprob {
    cria_token token;
    float logprob;
} cria_sched_tokprob;

typedef struct cria_sched_logprobs {
    cria_token token;        /* the generated token */
    float logprob;           /* its log-probability (<= 0) */
    int32_t text_offset;     /* byte offset in the text where its text starts (clamped to a stop cut) */
    int32_t n_top;           /* the request's n_probs */
    cria_sched_tokprob top[CRIA_SCHED_MAX_PROBS];
} cria_sched_logprobs;

/* What a finished request produced; passed to on_done, valid during the call only. */
typedef struct cria_sched_result {
    int64_t id;
    cria_finish_reason finish;
    const char *text;          /* the generated text, NUL-terminated (also holds text_len bytes) */
    size_t text_len;
    const cria_token *tokens;  /* the generated token ids, n_gen of them (no end-of-generation token) */
    int32_t n_prompt, n_gen;
    const cria_sched_logprobs *logprobs; /* n_gen entries, one per token; NULL unless the request asked */
    double queue_ms;           /* submit -> admitted into a slot */
    double prompt_ms;          /* admitted -> the prompt's last logits (shared forward passes) */
    double gen_ms;             /* the prompt's last logits -> finished */
    double total_ms;           /* submit -> finished */
    cria_error error;          /* when finish is CRIA_FINISH_ERROR */
} cria_sched_result;

/*
 * Streaming: called on the stepping thread after each generated token with the
 * text it releases (len may be 0: while a UTF-8 character is incomplete, or
 * while the text's end could be the start of a stop string, which is held back
 * until it is not), and once more with token -1 when text or log-probability
 * entries are released at the end. The pieces add up to result.text. For a
 * request that asked for logprobs, lp holds the n_lp entries of the tokens
 * whose text this call completes (a token whose text is held back comes in a
 * later call; after a stop string, at the end, every entry left), in order;
 * they add up to result.logprobs. Otherwise lp is NULL and n_lp 0. Return
 * false to cancel the request (e.g. the client went away); it then finishes
 * as cancelled.
 */
typedef bool (*cria_sched_token_fn)(void *user, int64_t id, cria_token token, const char *text, int32_t len,
                                    const cria_sched_logprobs *lp, int32_t n_lp);
/* Called exactly once per accepted request, on the stepping thread (or in cria_sched_free). */
typedef void (*cria_sched_done_fn)(void *user, const cria_sched_result *result);

#define CRIA_SCHED_MAX_STOP 16

typedef struct cria_sched_request {
    const cria_token *prompt;      /* copied; at least one token (BOS included by the caller) */
    int32_t n_prompt;
    int32_t n_predict;             /* most tokens to generate; < 0: until end of text or the slot's context */
    cria_sampler_params sampling;  /* the chain is built in submit; borrowed pointers are not kept */
    const char *const *stop;       /* n_stop strings (copied; empty ones ignored): generation ends when the */
    int32_t n_stop;                /* text contains one, and the text is cut before it */
    bool logprobs;                 /* compute log-probabilities of each generated token (costs a pass over */
    int32_t n_probs;               /* the vocabulary per token), with the n_probs (0..MAX_PROBS) most likely */
    cria_sched_token_fn on_token;  /* may be NULL */
    cria_sched_done_fn on_done;    /* may be NULL */
    void *user;                    /* passed to both callbacks */
} cria_sched_request;

typedef struct cria_sched_params {
    int32_t n_slots;   /* sequences generated at once; the context needs n_seq_max >= n_slots */
    int32_t n_batch;   /* most tokens per step; 0 or above the context's batch size: the context's */
    int32_t max_queue; /* most requests waiting for a slot; submit fails with CRIA_ERR_BUSY beyond it */
} cria_sched_params;

/* 4 slots, the context's batch size, a queue of 64. */
cria_sched_params cria_sched_default_params(void);

/*
 * Creates a scheduler over ctx (borrowed, with model; both must outlive it).
 * The context must be fresh or cleared: slot i uses sequence id i. Fails with
 * CRIA_ERR_ARG when n_slots is < 1, above the context's n_seq_max, above its
 * batch size, or when a slot's share of the context would be empty.
 */
cria_status cria_sched_init(const cria_model *model, cria_context *ctx, const cria_sched_params *params,
                            cria_sched **out, cria_error *err);
/* Finishes every queued and running request as cancelled (calling on_done), frees their cells and the scheduler. */
void cria_sched_free(cria_sched *s);

/* Tokens one slot may hold: n_ctx / n_slots. */
int32_t cria_sched_slot_ctx(const cria_sched *s);

/*
 * Queues a request (thread-safe) and writes its id (> 0, increasing) to *id.
 * Fails, queueing nothing and calling no callback, with CRIA_ERR_BUSY when
 * max_queue requests already wait, CRIA_ERR_ARG for an empty prompt, a prompt
 * longer than a slot's context, more than CRIA_SCHED_MAX_STOP stop strings,
 * n_probs outside 0..CRIA_SCHED_MAX_PROBS, or sampling parameters the chain
 * refuses, and CRIA_ERR_NOMEM.
 */
cria_status cria_sched_submit(cria_sched *s, const cria_sched_request *req, int64_t *id, cria_error *err);

/*
 * Asks for request id to stop (thread-safe). The next step finishes it as
 * cancelled (on_done) and frees its slot and cells. Returns false when no such
 * request is queued or running (unknown, or already finished).
 */
bool cria_sched_cancel(cria_sched *s, int64_t id);

/*
 * One step: finishes cancelled requests, admits queued ones into free slots,
 * runs one forward pass over the batch described above and samples. Returns
 * CRIA_OK (also when there was nothing to do); a failed decode finishes the
 * requests of that batch with CRIA_FINISH_ERROR and is not an error of the
 * scheduler. *busy (may be NULL) says whether any request is still queued or
 * running afterwards.
 */
cria_status cria_sched_step(cria_sched *s, bool *busy, cria_error *err);

/*
 * Steps until no request is queued or running (until_idle), or, for a server,
 * forever: sleeping while idle until a submit wakes it, and returning after
 * cria_sched_stop. Must not run on two threads at once.
 */
cria_status cria_sched_run(cria_sched *s, bool until_idle, cria_error *err);

/* Makes cria_sched_run return after its current step (thread-safe); requests stay where they are. */
void cria_sched_stop(cria_sched *s);

/* Counters since init, for progress lines and metrics (thread-safe). */
typedef struct cria_sched_stats {
    int32_t n_queued, n_running;  /* now */
    int64_t n_done, n_cancelled, n_errors;
    int64_t n_prompt_tokens, n_gen_tokens; /* of finished and running requests */
    int64_t n_steps;
    int64_t t_decode_us;          /* time spent in forward passes */
} cria_sched_stats;

void cria_sched_get_stats(cria_sched *s, cria_sched_stats *st);

#endif
