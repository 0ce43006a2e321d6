#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "golden.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct golden_case {
    char model[256];
    char prompt[1024];
    char logits_file[256];
    cria_token prompt_ids[GOLDEN_MAX_IDS];
    int n_prompt;
    cria_token gen_ids[GOLDEN_MAX_IDS];
    int n_gen;
} golden_case;

/* Copies the value of "key: value" from text into out; false if absent. */
static bool field(const char *text, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ':' && line[klen + 1] == ' ') {
            const char *v = line + klen + 2, *end = strchr(v, '\n');
            size_t n = end ? (size_t)(end - v) : strlen(v);
            if (n >= cap)
                return false;
            memcpy(out, v, n);
            out[n] = '\0';
            return true;
        }
    }
    return false;
}

static int parse_ids(const char *s, cria_token *ids)
{
    int n = 0;
    char *end;
    for (;;) {
        long v = strtol(s, &end, 10);
        if (end == s || n == GOLDEN_MAX_IDS)
            return n;
        ids[n++] = (cria_token)v;
        s = end;
    }
}

static bool load_case(const char *rel, golden_case *c)
{
    char *text = test_read_file(test_shared(rel), NULL);
    if (!text)
        return false;
    char ids[8192];
    bool ok = field(text, "model", c->model, sizeof c->model) && field(text, "prompt", c->prompt, sizeof c->prompt) &&
              field(text, "logits_file", c->logits_file, sizeof c->logits_file);
    if (ok && field(text, "prompt_tokens", ids, sizeof ids))
        c->n_prompt = parse_ids(ids, c->prompt_ids);
    if (ok && field(text, "gen_tokens", ids, sizeof ids))
        c->n_gen = parse_ids(ids, c->gen_ids);
    free(text);
    return ok && c->n_prompt > 0 && c->n_gen == GOLDEN_N_GEN;
}

cria_model *golden_load_model(const char *model_rel, const char *vocab_rel)
{
    cria_model_params mp = cria_model_default_params();
    mp.vocab_path = vocab_rel ? test_shared(vocab_rel) : NULL;
    cria_model *m = NULL;
    cria_error err;
    if (cria_model_load(test_shared(model_rel), &mp, &m, &err) != CRIA_OK)
        fail_msg("loading %s: %s", model_rel, err.msg);
    return m;
}

cria_context *golden_new_context(cria_model *m, int n_ctx, int n_seq, int threads)
{
    cria_context_params cp = cria_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_seq_max = n_seq;
    cp.n_threads = cp.n_threads_batch = threads;
    cria_context *ctx = NULL;
    cria_error err;
    if (cria_context_init(m, &cp, &ctx, &err) != CRIA_OK)
        fail_msg("context: %s", err.msg);
    return ctx;
}

void golden_decode(cria_context *ctx, const cria_batch *b)
{
    cria_error err;
    if (cria_decode(ctx, b, &err) != CRIA_OK)
        fail_msg("decode: %s", err.msg);
}

static cria_token argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (x[i] > x[best])
            best = i;
    }
    return best;
}

void golden_check_case(const char *case_rel, const char *model_rel, const char *vocab_rel, double max_nmse,
                       int threads, double near_tie, int n_gen)
{
    golden_case c;
    if (!load_case(case_rel, &c))
        fail_msg("cannot read golden case %s", case_rel);
    char logits_rel[512];
    const char *slash = strrchr(case_rel, '/');
    snprintf(logits_rel, sizeof logits_rel, "%.*s%s", slash ? (int)(slash - case_rel + 1) : 0, case_rel,
             c.logits_file);
    cria_model *m = golden_load_model(model_rel, vocab_rel);
    cria_model_info mi;
    cria_model_get_info(m, &mi);

    cria_token ids[GOLDEN_MAX_IDS];
    int n = cria_tokenize(m, c.prompt, strlen(c.prompt), ids, GOLDEN_MAX_IDS, 1);
    assert_int_equal(n, c.n_prompt);
    assert_memory_equal(ids, c.prompt_ids, (size_t)n * sizeof ids[0]);

    cria_context *ctx = golden_new_context(m, 512, 1, threads);
    cria_batch b = cria_batch_init(512);
    b.n_tokens = n;
    for (int i = 0; i < n; i++) {
        b.token[i] = ids[i];
        b.pos[i] = i;
        b.seq_id[i] = 0;
        b.logits[i] = i == n - 1;
    }
    golden_decode(ctx, &b);
    size_t ref_size = 0;
    float *ref = (float *)(void *)test_read_file(test_shared(logits_rel), &ref_size);
    assert_non_null(ref);
    assert_int_equal(ref_size, (size_t)mi.n_vocab * sizeof(float));
    const float *logits = cria_get_logits_ith(ctx, n - 1);
    assert_non_null(logits);
    double e = test_nmse(ref, logits, (size_t)mi.n_vocab);
    if (!(e < max_nmse))
        fail_msg("%s on %s: logits NMSE %.3e >= %.1e", case_rel, model_rel, e, max_nmse);
    free(ref);

    for (int g = 0; g < n_gen && g < GOLDEN_N_GEN; g++) {
        cria_token t = argmax(logits, mi.n_vocab);
        if (t != c.gen_ids[g]) {
            const double gap = (double)logits[t] - (double)logits[c.gen_ids[g]];
            if (!(gap < near_tie))
                fail_msg("%s on %s: greedy token %d is %d, reference %d (logits %.6f vs %.6f)", case_rel, model_rel,
                         g, t, c.gen_ids[g], (double)logits[t], (double)logits[c.gen_ids[g]]);
            print_message("%s: greedy token %d is a near tie (%d vs reference %d, logits %.3g apart); stopping there\n",
                          case_rel, g, t, c.gen_ids[g], gap);
            break;
        }
        b.n_tokens = 1;
        b.token[0] = t;
        b.pos[0] = n + g;
        b.seq_id[0] = 0;
        b.logits[0] = 1;
        golden_decode(ctx, &b);
        logits = cria_get_logits_ith(ctx, 0);
    }
    cria_batch_free(&b);
    cria_context_free(ctx);
    cria_model_free(m);
}
