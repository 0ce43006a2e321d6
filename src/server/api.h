/*
 * The OpenAI-style JSON shapes of cria serve: parsing and checking a
 * completion or chat completion request, and writing responses, streaming
 * chunks and error bodies. Pure functions over cJSON; no HTTP, no model.
 */
#ifndef CRIA_SERVER_API_H
#define CRIA_SERVER_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cria.h"
#include "server/chat.h"
#include "server/sched.h"

#define CRIA_API_MAX_STOP 8

/* An HTTP error: status, OpenAI error type and code, one line of message. */
typedef struct cria_api_error {
    int status;
    const char *type; /* "invalid_request_error", "authentication_error", "server_error", ... */
    const char *code; /* may be NULL */
    char msg[512];
} cria_api_error;

/* Fills e and returns false, for one-line error returns. */
bool cria_api_fail(cria_api_error *e, int status, const char *type, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* {"error": {"message", "type", "code"}} as a malloc'd string (NULL when out of memory). */
char *cria_api_error_json(const cria_api_error *e);

typedef struct cria_api_request {
    bool chat;
    char *prompt;          /* completion: the prompt; chat: the rendered conversation (malloc'd) */
    size_t prompt_len;
    int32_t max_tokens;    /* -1: until end of text or a full slot */
    bool stream;
    bool ignore_eos;
    cria_sampler_params sampling; /* seed filled (random when not given) */
    char *stop[CRIA_API_MAX_STOP];
    int32_t n_stop;
    bool logprobs;         /* log-probabilities of each generated token asked for */
    int32_t n_probs;       /* with this many most likely alternatives (0..CRIA_SCHED_MAX_PROBS) */
} cria_api_request;

/*
 * Parses a request body (len bytes) for /v1/completions (chat false) or
 * /v1/chat/completions (messages rendered with tmpl). Fields: prompt or
 * messages, max_tokens (n_predict, max_completion_tokens), stream,
 * temperature, top_p, top_k, min_p, seed, stop, presence_penalty,
 * frequency_penalty, repeat_penalty, ignore_eos, and log-probabilities:
 * completions' logprobs (an integer 0..20: the alternatives per token), chat's
 * logprobs (true/false) with top_logprobs (0..20, needs logprobs true), and
 * llama.cpp's n_probs (0..20 in both; above 0 it turns them on when the
 * OpenAI fields do not); unknown fields are ignored.
 * Returns false with a 400 error for malformed JSON, wrong types, missing or
 * out-of-range fields. Free *out with cria_api_request_free either way.
 */
bool cria_api_parse_request(const char *body, size_t len, bool chat, cria_chat_template tmpl, uint64_t seed,
                            cria_api_request *out, cria_api_error *err);
void cria_api_request_free(cria_api_request *r);

/* Writes the text of token t into buf (cap bytes, no terminator); returns its length, or < 0. */
typedef int32_t (*cria_api_piece_fn)(const void *user, cria_token t, char *buf, int32_t cap);

/* What a finished (or streaming) generation reports. */
typedef struct cria_api_result {
    bool chat;
    const char *id;        /* "cmpl-..." / "chatcmpl-..." */
    const char *model;
    int64_t created;       /* unix seconds */
    const char *text;
    size_t len;
    const char *finish;    /* "stop", "length"; NULL in a chunk that does not end the stream */
    int32_t n_prompt, n_gen;
    double prompt_ms, gen_ms;
    /* log-probabilities (want_lp: the request asked): the n_lp entries of the tokens of this text */
    bool want_lp;
    const cria_sched_logprobs *lp;
    int32_t n_lp;
    cria_api_piece_fn piece;  /* names the tokens of lp */
    const void *piece_user;
} cria_api_result;

/*
 * The whole non-streaming response, with usage and timings (malloc'd; NULL
 * when out of memory). choices[0].logprobs is null unless want_lp; then
 * completions carry {tokens, token_logprobs, top_logprobs: [{token: lp}],
 * text_offset (bytes)} and chat {content: [{token, logprob, bytes,
 * top_logprobs: [{token, logprob, bytes}]}]}.
 */
char *cria_api_response_json(const cria_api_result *r);

/*
 * One server-sent event "data: {...}\n\n" carrying r->text as a chunk (chat:
 * a delta, with the role when first), and the logprobs of its n_lp tokens in
 * the response's shape; with r->finish set, also usage and timings. Returns a
 * malloc'd string, its length in *n.
 */
char *cria_api_chunk_sse(const cria_api_result *r, bool first, size_t *n);

/* Text as a JSON-safe string: invalid UTF-8 replaced by U+FFFD (malloc'd, NUL-terminated). */
char *cria_api_utf8_clean(const char *s, size_t len);

#endif
