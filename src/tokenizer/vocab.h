/*
 * The vocabulary and the SentencePiece-style tokenizer (SPM: merges by piece
 * score, byte fallback to <0xXX> tokens, a leading space, U+2581 for space).
 *
 * A vocabulary comes from a GGUF file (tokenizer.ggml.* keys) or from a
 * llama2.c tokenizer.bin; both end up in the same structure, with pieces in
 * SentencePiece spelling (U+2581 for a space).
 */
#ifndef CRIA_TOKENIZER_VOCAB_H
#define CRIA_TOKENIZER_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cria.h"
#include "gguf/gguf.h"

/* Token types, numbered as tokenizer.ggml.token_type stores them. */
typedef enum cria_token_type {
    CRIA_TOKEN_UNDEFINED = 0,
    CRIA_TOKEN_NORMAL = 1,
    CRIA_TOKEN_UNKNOWN = 2,
    CRIA_TOKEN_CONTROL = 3,
    CRIA_TOKEN_USER_DEFINED = 4,
    CRIA_TOKEN_UNUSED = 5,
    CRIA_TOKEN_BYTE = 6,
} cria_token_type;

typedef struct cria_vocab cria_vocab;

/*
 * Builds the vocabulary from a GGUF's tokenizer.ggml.* keys: model "llama" is
 * SPM, "gpt2" byte-level BPE (merges and tokenizer.ggml.pre, see bpe.h).
 * Copies what it keeps.
 */
cria_status cria_vocab_load_gguf(const cria_gguf *g, cria_vocab **out, cria_error *err);

/*
 * Reads a llama2.c tokenizer.bin (i32 max_token_length, then per token: f32
 * score, i32 length, bytes). n_vocab_expected > 0 requires that many tokens.
 */
cria_status cria_vocab_load_llama2c(const char *path, int32_t n_vocab_expected, cria_vocab **out,
                                    cria_error *err);

void cria_vocab_free(cria_vocab *v);

int32_t cria_vocab_n_tokens(const cria_vocab *v);
cria_token cria_vocab_bos(const cria_vocab *v);
cria_token cria_vocab_eos(const cria_vocab *v);
bool cria_vocab_is_eog(const cria_vocab *v, cria_token t);
bool cria_vocab_add_bos(const cria_vocab *v); /* tokenizer.ggml.add_bos_token (default true for SPM, false for BPE) */
cria_token_type cria_vocab_token_type(const cria_vocab *v, cria_token t);
/* The stored piece (SPM spelling) of t, NUL-terminated; "" for an id out of range. */
const char *cria_vocab_piece_raw(const cria_vocab *v, cria_token t);

/*
 * Same contract as cria_tokenize (include/cria.h): add_special adds the
 * tokens the vocabulary asks for, as llama.cpp's add_special does: BOS when
 * add_bos (tokenizer.ggml.add_bos_token; default true for SPM, false for BPE
 * but Llama 3's), EOS when add_eos.
 */
int32_t cria_vocab_tokenize(const cria_vocab *v, const char *text, size_t len, cria_token *tokens,
                            int32_t max_tokens, bool add_special);

/* Same contract as cria_token_to_piece (include/cria.h). */
int32_t cria_vocab_token_to_piece(const cria_vocab *v, cria_token t, char *buf, int32_t cap);

/* ---- additions beyond the first contract ---------------------------------- */

cria_token cria_vocab_unk(const cria_vocab *v);
bool cria_vocab_add_eos(const cria_vocab *v);          /* tokenizer.ggml.add_eos_token (default false) */
bool cria_vocab_add_space_prefix(const cria_vocab *v); /* tokenizer.ggml.add_space_prefix (default true) */
float cria_vocab_score(const cria_vocab *v, cria_token t); /* 0 for an id out of range */

/* The id whose stored piece is exactly these len bytes, or -1. */
cria_token cria_vocab_find(const cria_vocab *v, const char *piece, size_t len);

/*
 * cria_vocab_tokenize with llama.cpp's parse_special: when true, the text of
 * control and unknown tokens ("<s>", "</s>", "<unk>", "<|endoftext|>") in the input becomes
 * those tokens. User-defined tokens are always matched, as in llama.cpp.
 */
int32_t cria_vocab_tokenize_ex(const cria_vocab *v, const char *text, size_t len, cria_token *tokens,
                               int32_t max_tokens, bool add_special, bool parse_special);

/*
 * Text of n tokens, as llama.cpp's llama_detokenize with remove_special and
 * unparse_special false: control tokens print nothing, and when the vocab
 * adds a space prefix, one leading space of the first token's text is dropped
 * (only of the very first token: a leading BOS consumes the chance, as in
 * llama.cpp). Writes at most cap bytes, no terminator; returns the byte count
 * or -(needed).
 */
int32_t cria_vocab_detokenize(const cria_vocab *v, const cria_token *tokens, int32_t n, char *buf,
                              int32_t cap);

/*
 * The streaming detokenizer of include/cria.h over a vocabulary (d->model is
 * not used; cria_detok_init(d, NULL) prepares d). Appends to out the complete
 * UTF-8 text that t finishes and keeps an unfinished sequence pending; drops
 * one leading space of the text of a token that follows BOS when the vocab
 * adds a space prefix (as llama2.c does). Returns the byte count, or
 * -(needed) with d unchanged when cap is too small.
 */
int32_t cria_vocab_detok_push(const cria_vocab *v, cria_detok *d, cria_token t, char *out, int32_t cap);

#endif
