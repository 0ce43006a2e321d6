/*
 * cria_vocab_tokenize: the checks, the special tokens the vocabulary adds
 * (BOS, EOS), the split around special tokens in the text, and the dispatch
 * to the vocabulary's encoder (SPM or BPE).
 */
#include <limits.h>
#include <stdlib.h>

#include "tokenizer/vocab.h"
#include "tokenizer/vocab_impl.h"

static bool any_special_applies(const cria_vocab *v, bool parse_special)
{
    return parse_special ? v->n_special > 0 : v->n_user_defined > 0;
}

int32_t cria_vocab_tokenize_ex(const cria_vocab *v, const char *text, size_t len, cria_token *tokens,
                               int32_t max_tokens, bool add_special, bool parse_special)
{
    if (max_tokens < 0 || (max_tokens > 0 && !tokens) || (len > 0 && !text))
        return INT32_MIN;
    /* Escaped, the text takes at most 3 bytes per input byte plus a prefix; keep indices in int32. */
    if (len > (size_t)(INT32_MAX / 4) - 3)
        return INT32_MIN;
    cria_tok_sink s = {tokens, max_tokens, 0};
    if (add_special && v->add_bos && v->bos >= 0)
        cria_tok_sink_put(&s, v->bos);

    cria_tok_frag whole = {0, len, -1}, *frags = NULL;
    const cria_tok_frag *fr = len > 0 ? &whole : NULL;
    size_t n_frag = len > 0 ? 1 : 0;
    if (len > 0 && any_special_applies(v, parse_special)) {
        if (!cria_tok_partition(v, text, len, parse_special, &frags, &n_frag))
            return INT32_MIN;
        fr = frags;
    }
    bool ok = v->kind == CRIA_VOCAB_BPE ? cria_bpe_encode(v, text, fr, n_frag, &s)
                                        : cria_spm_encode(v, text, fr, n_frag, &s);
    free(frags);
    if (!ok)
        return INT32_MIN;

    if (add_special && v->add_eos && v->eos >= 0)
        cria_tok_sink_put(&s, v->eos);
    if (s.n > INT32_MAX)
        return INT32_MIN;
    return s.n > max_tokens ? -(int32_t)s.n : (int32_t)s.n;
}

int32_t cria_vocab_tokenize(const cria_vocab *v, const char *text, size_t len, cria_token *tokens,
                            int32_t max_tokens, bool add_special)
{
    return cria_vocab_tokenize_ex(v, text, len, tokens, max_tokens, add_special, false);
}
