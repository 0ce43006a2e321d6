/*
 * Private to src/tokenizer: the BPE pre-tokenizer, which splits text into
 * words before merges, chosen by tokenizer.ggml.pre.
 */
#ifndef CRIA_TOKENIZER_BPE_PRE_H
#define CRIA_TOKENIZER_BPE_PRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cria.h"

typedef struct cria_bpe_pre cria_bpe_pre;
typedef struct cria_bpe_split cria_bpe_split;

/* What a pre-tokenizer name implies besides its expressions (llama.cpp's per-name settings). */
typedef struct cria_bpe_pre_flags {
    bool ignore_merges; /* a word that is a token as a whole is that token (Llama 3) */
    bool add_bos;       /* BOS by default (Llama 3); tokenizer.ggml.add_bos_token overrides */
} cria_bpe_pre_flags;

/*
 * Compiles the expressions of the pre-tokenizer called name (len bytes; NULL:
 * the key is absent, which selects "default" as llama.cpp does). An unknown
 * name is CRIA_ERR_UNSUPPORTED. file names the model file in messages.
 */
cria_status cria_bpe_pre_create(const char *file, const char *name, size_t len, cria_bpe_pre **out,
                                cria_bpe_pre_flags *flags, cria_error *err);
void cria_bpe_pre_free(cria_bpe_pre *p);

/* Per-call scratch (match data, buffers); one per thread. NULL when out of memory. */
cria_bpe_split *cria_bpe_split_new(const cria_bpe_pre *p);
void cria_bpe_split_free(cria_bpe_split *s);

/*
 * Splits text (len bytes) into words that tile it: on success *lens points
 * at *n word lengths in text order, valid until the next call with s.
 * Returns false when out of memory or when the regex engine fails.
 */
bool cria_bpe_split_run(const cria_bpe_pre *p, cria_bpe_split *s, const char *text, size_t len,
                        const uint32_t **lens, size_t *n);

#endif
