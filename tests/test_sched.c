/*
 * The request scheduler (src/server/sched.c) on stories260K: greedy output of
 * every prompt through 4 slots with small prompt chunks equals the same
 * prompt decoded alone, as cria run does it (token ids); the queue bound;
 * cancel of a running and a queued request; prompts too long for a slot;
 * results by request id when lengths differ; streaming pieces add up to the
 * text; submissions from another thread while the scheduler serves;
 * log-probabilities against a log-softmax recomputed here.
 */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "cria.h"
#include "server/sched.h"
#include "util.h"

#define CKPT "models/stories260K.bin"
#define TOK512 "models/tok512.bin"
#define SLOT_CTX 128
#define MAX_GEN 64

static const char *const prompts[] = {
    "Once upon a time",
    "The little dog ran to the park and saw a big red ball. He wanted to play with it, so he",
    "Lily",
    "One day, a boy named Tim went to the store with his mom. They",
    "The sun was hot",
    "Sara and Ben were friends. They liked to play in the garden",
};
#define N_PROMPTS ((int)(sizeof prompts / sizeof prompts[0]))

/* What a request produced, filled by the callbacks. */
typedef struct outcome {
    int64_t id;
    int done;              /* on_done calls */
    int done_rank;         /* order among finished requests */
    cria_finish_reason finish;
    cria_token toks[MAX_GEN + 8];
    int32_t n_gen, n_prompt;
    char text[4096];
    char stream[4096];     /* on_token pieces, concatenated */
    size_t stream_len;
    int stop_after;        /* on_token returns false after this many tokens; 0: never */
    int n_stream;
    char err[512];
    bool lp_null;                           /* result.logprobs was NULL */
    cria_sched_logprobs lp[MAX_GEN + 8];    /* result.logprobs */
    cria_sched_logprobs slp[MAX_GEN + 8];   /* the entries on_token passed, concatenated */
    int32_t n_slp;
    size_t slp_text[MAX_GEN + 8];           /* stream_len once each entry was passed */
} outcome;

static int g_rank; /* done order counter of the current test */

static bool on_token(void *user, int64_t id, cria_token t, const char *text, int32_t len,
                     const cria_sched_logprobs *lp, int32_t n_lp)
{
    outcome *o = user;
    assert_int_equal(id, o->id);
    if (o->stream_len + (size_t)len < sizeof o->stream) {
        memcpy(o->stream + o->stream_len, text, (size_t)len);
        o->stream_len += (size_t)len;
    }
    assert_true(n_lp >= 0 && (n_lp == 0) == (lp == NULL));
    assert_true(o->n_slp + n_lp <= MAX_GEN + 8);
    for (int32_t i = 0; i < n_lp; i++) {
        o->slp_text[o->n_slp] = o->stream_len;
        o->slp[o->n_slp++] = lp[i];
    }
    if (t >= 0)
        o->n_stream++;
    return o->stop_after == 0 || o->n_stream < o->stop_after;
}

static void on_done(void *user, const cria_sched_result *r)
{
    outcome *o = user;
    assert_int_equal(r->id, o->id);
    o->done++;
    o->done_rank = g_rank++;
    o->finish = r->finish;
    o->n_gen = r->n_gen;
    o->n_prompt = r->n_prompt;
    assert_true(r->n_gen <= MAX_GEN + 8);
    assert_non_null(r->tokens);
    if (r->n_gen > 0)
        memcpy(o->toks, r->tokens, (size_t)r->n_gen * sizeof *r->tokens);
    o->lp_null = r->logprobs == NULL;
    if (r->logprobs && r->n_gen > 0)
        memcpy(o->lp, r->logprobs, (size_t)r->n_gen * sizeof *r->logprobs);
    assert_int_equal(strlen(r->text), r->text_len);
    snprintf(o->text, sizeof o->text, "%s", r->text);
    if (r->finish == CRIA_FINISH_ERROR)
        snprintf(o->err, sizeof o->err, "%s", r->error.msg);
    assert_true(r->total_ms >= r->queue_ms);
}

typedef struct fixture {
    cria_model *model;
    cria_context *ctx;
    cria_sched *s;
} fixture;

static cria_model *load_model(void)
{
    if (!test_have(CKPT) || !test_have(TOK512))
        return NULL;
    cria_model_params mp = cria_model_default_params();
    mp.vocab_path = test_shared(TOK512);
    cria_model *m = NULL;
    cria_error err;
    if (cria_model_load(test_shared(CKPT), &mp, &m, &err) != CRIA_OK)
        fail_msg("%s", err.msg);
    return m;
}

static cria_context *new_context(cria_model *m, int32_t n_ctx, int32_t n_seq, int32_t n_batch)
{
    cria_context_params cp = cria_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_seq_max = n_seq;
    cp.n_batch = n_batch;
    cp.n_threads = 2;
    cria_context *ctx = NULL;
    cria_error err;
    if (cria_context_init(m, &cp, &ctx, &err) != CRIA_OK)
        fail_msg("%s", err.msg);
    return ctx;
}

/* A model, a context of n_slots x SLOT_CTX cells, and a scheduler over it; skips without the model. */
static void setup(fixture *f, int32_t n_slots, int32_t n_batch, int32_t max_queue)
{
    f->model = load_model();
    if (!f->model)
        skip();
    f->ctx = new_context(f->model, n_slots * SLOT_CTX, n_slots, 64);
    cria_sched_params sp = {.n_slots = n_slots, .n_batch = n_batch, .max_queue = max_queue};
    cria_error err;
    if (cria_sched_init(f->model, f->ctx, &sp, &f->s, &err) != CRIA_OK)
        fail_msg("%s", err.msg);
    assert_int_equal(cria_sched_slot_ctx(f->s), SLOT_CTX);
    g_rank = 0;
}

static void teardown(fixture *f)
{
    cria_sched_free(f->s);
    cria_context_free(f->ctx);
    cria_model_free(f->model);
}

static int32_t tokenize(const cria_model *m, const char *text, cria_token *toks, int32_t cap)
{
    int32_t n = cria_tokenize(m, text, strlen(text), toks, cap, 1);
    assert_true(n > 0);
    return n;
}

static cria_sampler_params greedy(void)
{
    cria_sampler_params sp = cria_sampler_default_params();
    sp.temp = 0.0f;
    sp.seed = 42;
    return sp;
}

static cria_status submit(fixture *f, const char *text, int32_t n_predict, outcome *o, cria_error *err)
{
    cria_token toks[1024];
    cria_sched_request rq = {
        .n_prompt = tokenize(f->model, text, toks, 1024),
        .prompt = toks,
        .n_predict = n_predict,
        .sampling = greedy(),
        .on_token = on_token,
        .on_done = on_done,
        .user = o,
    };
    return cria_sched_submit(f->s, &rq, &o->id, err);
}

static void run_idle(fixture *f)
{
    cria_error err;
    assert_int_equal(cria_sched_run(f->s, true, &err), CRIA_OK);
}

/*
 * The reference: the prompt alone in a fresh single-sequence context of
 * SLOT_CTX cells, read in one batch, then one token per decode, greedy; the
 * loop of cria run's generate. Returns the tokens generated; *eos says
 * whether it ended on an end-of-generation token.
 */
static int32_t reference(cria_model *m, const char *text, int32_t n_predict, cria_token *out, bool *eos)
{
    cria_context *ctx = new_context(m, SLOT_CTX, 1, 64);
    cria_model_info mi;
    cria_model_get_info(m, &mi);
    cria_token toks[SLOT_CTX];
    const int32_t n = tokenize(m, text, toks, SLOT_CTX);
    cria_batch b = cria_batch_init(64);
    b.n_tokens = n;
    for (int32_t i = 0; i < n; i++) {
        b.token[i] = toks[i];
        b.pos[i] = i;
        b.seq_id[i] = 0;
        b.logits[i] = i == n - 1;
    }
    cria_error err;
    assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
    const float *logits = cria_get_logits_ith(ctx, n - 1);
    cria_sampler_params sp = greedy();
    cria_sampler *smpl = cria_sampler_chain_from_params(&sp, m, mi.n_vocab, SLOT_CTX);
    int32_t n_gen = 0, pos = n;
    *eos = false;
    while (n_gen < n_predict) {
        cria_token t = cria_sampler_sample(smpl, logits, mi.n_vocab);
        if (cria_token_is_eog(m, t)) {
            *eos = true;
            break;
        }
        out[n_gen++] = t;
        if (n_gen == n_predict || pos >= SLOT_CTX)
            break;
        b.n_tokens = 1;
        b.token[0] = t;
        b.pos[0] = pos++;
        b.seq_id[0] = 0;
        b.logits[0] = 1;
        assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
        logits = cria_get_logits_ith(ctx, 0);
    }
    cria_sampler_free(smpl);
    cria_batch_free(&b);
    cria_context_free(ctx);
    return n_gen;
}

/* ---- tests -------------------------------------------------------------------------------- */

/* 6 prompts, 4 slots, 16 tokens per step: prompts read in chunks beside generating slots; same ids as alone. */
static void test_greedy_equals_alone(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 4, 16, 8);
    static outcome o[N_PROMPTS];
    memset(o, 0, sizeof o);
    cria_error err;
    for (int i = 0; i < N_PROMPTS; i++)
        assert_int_equal(submit(&f, prompts[i], MAX_GEN, &o[i], &err), CRIA_OK);
    run_idle(&f);
    for (int i = 0; i < N_PROMPTS; i++) {
        cria_token ref[MAX_GEN];
        bool eos;
        int32_t n = reference(f.model, prompts[i], MAX_GEN, ref, &eos);
        assert_int_equal(o[i].done, 1);
        assert_int_equal(o[i].finish, eos ? CRIA_FINISH_EOS : CRIA_FINISH_LENGTH);
        assert_int_equal(o[i].n_gen, n);
        for (int32_t j = 0; j < n; j++) {
            if (o[i].toks[j] != ref[j])
                fail_msg("prompt %d token %d: scheduler %d, alone %d", i, j, o[i].toks[j], ref[j]);
        }
        /* streaming pieces add up to the final text */
        assert_int_equal(o[i].stream_len, strlen(o[i].text));
        assert_memory_equal(o[i].stream, o[i].text, o[i].stream_len);
        assert_true(n == 0 || strlen(o[i].text) > 0);
    }
    assert_int_equal(cria_kv_used(f.ctx), 0); /* every finished sequence freed its cells */
    cria_sched_stats st;
    cria_sched_get_stats(f.s, &st);
    assert_int_equal(st.n_done, N_PROMPTS);
    assert_int_equal(st.n_running, 0);
    assert_int_equal(st.n_queued, 0);
    teardown(&f);
}

/* The same through one slot and through a batch as large as the context allows. */
static void test_one_slot_and_big_batch(void **state)
{
    (void)state;
    for (int k = 0; k < 2; k++) {
        fixture f;
        setup(&f, k == 0 ? 1 : 3, k == 0 ? 0 : 64, 8);
        static outcome o[3];
        memset(o, 0, sizeof o);
        cria_error err;
        for (int i = 0; i < 3; i++)
            assert_int_equal(submit(&f, prompts[i + 1], 24, &o[i], &err), CRIA_OK);
        run_idle(&f);
        for (int i = 0; i < 3; i++) {
            cria_token ref[MAX_GEN];
            bool eos;
            int32_t n = reference(f.model, prompts[i + 1], 24, ref, &eos);
            assert_int_equal(o[i].n_gen, n);
            assert_memory_equal(o[i].toks, ref, (size_t)n * sizeof *ref);
        }
        teardown(&f);
    }
}

/* Past max_queue waiting requests, submit fails with CRIA_ERR_BUSY and a message; a step makes room. */
static void test_queue_bound(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 1, 0, 2);
    static outcome o[4];
    memset(o, 0, sizeof o);
    cria_error err;
    assert_int_equal(submit(&f, prompts[0], 8, &o[0], &err), CRIA_OK);
    assert_int_equal(submit(&f, prompts[1], 8, &o[1], &err), CRIA_OK);
    assert_int_equal(submit(&f, prompts[2], 8, &o[2], &err), CRIA_ERR_BUSY);
    assert_non_null(strstr(err.msg, "queue is full"));
    assert_int_equal(o[2].done, 0); /* refused: no callback */
    cria_sched_stats st;
    cria_sched_get_stats(f.s, &st);
    assert_int_equal(st.n_queued, 2);
    bool busy;
    assert_int_equal(cria_sched_step(f.s, &busy, &err), CRIA_OK); /* admits the first: one place free */
    assert_true(busy);
    assert_int_equal(submit(&f, prompts[2], 8, &o[2], &err), CRIA_OK);
    assert_int_equal(submit(&f, prompts[3], 8, &o[3], &err), CRIA_ERR_BUSY);
    assert_true(o[2].id > o[1].id && o[1].id > o[0].id);
    run_idle(&f);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i].done, 1);
        assert_int_equal(o[i].finish, CRIA_FINISH_LENGTH);
        assert_int_equal(o[i].done_rank, i); /* one slot: FIFO */
    }
    teardown(&f);
}

/* Cancel a running request: on_done(cancelled) and its cells free after one step; cancel of a queued one too. */
static void test_cancel(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 2, 0, 4);
    static outcome o[3];
    memset(o, 0, sizeof o);
    cria_error err;
    cria_sampler_params sp = greedy();
    cria_logit_bias no_eos = {.token = cria_token_eos(f.model), .bias = -1e30f};
    sp.n_logit_bias = 1;
    sp.logit_bias = &no_eos;
    cria_token toks[64];
    for (int i = 0; i < 3; i++) {
        cria_sched_request rq = {
            .n_prompt = tokenize(f.model, prompts[i], toks, 64),
            .prompt = toks,
            .n_predict = -1,
            .sampling = sp,
            .on_token = on_token,
            .on_done = on_done,
            .user = &o[i],
        };
        assert_int_equal(cria_sched_submit(f.s, &rq, &o[i].id, &err), CRIA_OK);
        o[i].n_prompt = rq.n_prompt; /* on_done sets it again */
    }
    bool busy;
    for (int k = 0; k < 5; k++)
        assert_int_equal(cria_sched_step(f.s, &busy, &err), CRIA_OK);
    assert_true(o[0].n_stream > 0 && o[1].n_stream > 0);
    const int32_t used = cria_kv_used(f.ctx);
    const int32_t used0 = o[0].n_prompt + o[0].n_stream - 1; /* the last sampled token is not decoded yet */
    assert_true(used > used0);
    /* the queued third request leaves the queue at once and is reported at the next step */
    assert_true(cria_sched_cancel(f.s, o[2].id));
    cria_sched_stats st;
    cria_sched_get_stats(f.s, &st);
    assert_int_equal(st.n_queued, 0);
    assert_true(cria_sched_cancel(f.s, o[0].id));
    assert_int_equal(o[0].done, 0); /* between steps nothing runs */
    assert_int_equal(cria_sched_step(f.s, &busy, &err), CRIA_OK);
    assert_int_equal(o[0].done, 1);
    assert_int_equal(o[0].finish, CRIA_FINISH_CANCELLED);
    assert_int_equal(o[2].done, 1);
    assert_int_equal(o[2].finish, CRIA_FINISH_CANCELLED);
    assert_int_equal(o[2].n_gen, 0);
    /* only the second sequence's cells remain: its prompt and the tokens decoded so far */
    assert_int_equal(cria_kv_used(f.ctx), o[1].n_prompt + o[1].n_stream - 1);
    assert_false(cria_sched_cancel(f.s, o[0].id)); /* finished: unknown now */
    assert_false(cria_sched_cancel(f.s, 9999));
    cria_sched_get_stats(f.s, &st);
    assert_int_equal(st.n_running, 1);
    assert_int_equal(st.n_cancelled, 2);
    /* on_token returning false cancels too, within the same step */
    o[1].stop_after = o[1].n_stream + 2;
    assert_int_equal(cria_sched_step(f.s, &busy, &err), CRIA_OK);
    assert_int_equal(cria_sched_step(f.s, &busy, &err), CRIA_OK);
    assert_int_equal(o[1].done, 1);
    assert_int_equal(o[1].finish, CRIA_FINISH_CANCELLED);
    assert_false(busy);
    assert_int_equal(cria_kv_used(f.ctx), 0);
    teardown(&f);
}

/* A prompt longer than a slot's context, an empty prompt and a bad token are refused at submit. */
static void test_refused(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 4, 0, 4);
    cria_token toks[SLOT_CTX + 1];
    for (int i = 0; i <= SLOT_CTX; i++)
        toks[i] = i == 0 ? cria_token_bos(f.model) : 100 + i % 50;
    outcome o = {0};
    cria_sched_request rq = {.prompt = toks, .n_prompt = SLOT_CTX + 1, .n_predict = 4, .sampling = greedy(),
                             .on_done = on_done, .user = &o};
    int64_t id = 0;
    cria_error err;
    assert_int_equal(cria_sched_submit(f.s, &rq, &id, &err), CRIA_ERR_ARG);
    assert_non_null(strstr(err.msg, "prompt is too long: 129 tokens, a slot's context holds 128"));
    rq.n_prompt = SLOT_CTX; /* exactly a slot: accepted, generates one token */
    assert_int_equal(cria_sched_submit(f.s, &rq, &o.id, &err), CRIA_OK);
    rq.n_prompt = 0;
    assert_int_equal(cria_sched_submit(f.s, &rq, &id, &err), CRIA_ERR_ARG);
    assert_non_null(strstr(err.msg, "empty prompt"));
    rq.n_prompt = 2;
    toks[1] = 100000;
    assert_int_equal(cria_sched_submit(f.s, &rq, &id, &err), CRIA_ERR_ARG);
    assert_non_null(strstr(err.msg, "outside the vocabulary"));
    run_idle(&f);
    assert_int_equal(o.done, 1);
    assert_true(o.finish == CRIA_FINISH_LENGTH || o.finish == CRIA_FINISH_EOS);
    assert_true(o.n_gen <= 1);
    /* init refuses slots the context cannot hold */
    cria_sched *s2 = NULL;
    cria_sched_params sp = {.n_slots = 5, .max_queue = 4};
    assert_int_equal(cria_sched_init(f.model, f.ctx, &sp, &s2, &err), CRIA_ERR_ARG);
    assert_null(s2);
    teardown(&f);
}

/* Different lengths finish in any order; every result arrives once, under its own id. */
static void test_mixed_lengths(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 4, 32, 8);
    static const int32_t n_predict[N_PROMPTS] = {40, 2, 30, 1, 12, 6};
    static outcome o[N_PROMPTS];
    memset(o, 0, sizeof o);
    cria_error err;
    for (int i = 0; i < N_PROMPTS; i++)
        assert_int_equal(submit(&f, prompts[i], n_predict[i], &o[i], &err), CRIA_OK);
    run_idle(&f);
    bool in_order = true;
    for (int i = 0; i < N_PROMPTS; i++) {
        assert_int_equal(o[i].done, 1);
        in_order = in_order && o[i].done_rank == i;
        cria_token ref[MAX_GEN];
        bool eos;
        int32_t n = reference(f.model, prompts[i], n_predict[i], ref, &eos);
        assert_int_equal(o[i].n_gen, n);
        assert_memory_equal(o[i].toks, ref, (size_t)n * sizeof *ref);
        assert_true(o[i].n_gen <= n_predict[i]);
    }
    assert_false(in_order); /* the 1- and 2-token requests finish before the 40-token one */
    assert_true(o[3].done_rank < o[0].done_rank);
    teardown(&f);
}

/* Stop strings: the text is cut before the first one, and no part of it is ever streamed. */
static void test_stop_strings(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 3, 0, 4);
    static const char *const stops[3][2] = {{"Lily", NULL}, {"zzz", "park."}, {"qqqq", "xyzzy"}};
    static outcome o[4];
    memset(o, 0, sizeof o);
    cria_token toks[64];
    cria_error err;
    for (int i = 0; i < 4; i++) {
        cria_sched_request rq = {
            .n_prompt = tokenize(f.model, prompts[0], toks, 64),
            .prompt = toks,
            .n_predict = 40,
            .sampling = greedy(),
            .stop = i < 3 ? stops[i] : NULL,
            .n_stop = i < 3 ? (stops[i][1] ? 2 : 1) : 0,
            .on_token = on_token,
            .on_done = on_done,
            .user = &o[i],
        };
        assert_int_equal(cria_sched_submit(f.s, &rq, &o[i].id, &err), CRIA_OK);
    }
    run_idle(&f);
    const char *full = o[3].text; /* no stop strings */
    assert_int_equal(o[3].finish, CRIA_FINISH_LENGTH);
    assert_non_null(strstr(full, "Lily"));
    assert_non_null(strstr(full, "park."));
    for (int i = 0; i < 3; i++) {
        assert_int_equal(o[i].done, 1);
        assert_int_equal(o[i].stream_len, strlen(o[i].text)); /* the stream never ran ahead of the text */
        assert_memory_equal(o[i].stream, o[i].text, o[i].stream_len);
    }
    assert_int_equal(o[0].finish, CRIA_FINISH_STOP);
    assert_int_equal(strlen(o[0].text), (size_t)(strstr(full, "Lily") - full));
    assert_memory_equal(o[0].text, full, strlen(o[0].text));
    assert_int_equal(o[1].finish, CRIA_FINISH_STOP);
    assert_int_equal(strlen(o[1].text), (size_t)(strstr(full, "park.") - full));
    assert_int_equal(o[2].finish, CRIA_FINISH_LENGTH); /* never matched: everything, held-back text included */
    assert_string_equal(o[2].text, full);
    assert_int_equal(o[2].n_gen, o[3].n_gen);
    /* too many stop strings are refused */
    const char *many[CRIA_SCHED_MAX_STOP + 1];
    for (int i = 0; i <= CRIA_SCHED_MAX_STOP; i++)
        many[i] = "x";
    cria_sched_request rq = {.prompt = toks, .n_prompt = 1, .n_predict = 1, .sampling = greedy(), .stop = many,
                             .n_stop = CRIA_SCHED_MAX_STOP + 1};
    int64_t id;
    assert_int_equal(cria_sched_submit(f.s, &rq, &id, &err), CRIA_ERR_ARG);
    teardown(&f);
}

/* log softmax(logits)[t], in double. */
static double ref_logprob(const float *logits, int32_t n, cria_token t)
{
    double mx = -INFINITY, sum = 0.0;
    for (int32_t i = 0; i < n; i++)
        mx = (double)logits[i] > mx ? (double)logits[i] : mx;
    for (int32_t i = 0; i < n; i++)
        sum += exp((double)logits[i] - mx);
    return (double)logits[t] - mx - log(sum);
}

/*
 * Batched and single-token forward passes round differently (different
 * matmul paths), and the logits drift apart by ~1e-4 relative over a few
 * dozen positions: a relative tolerance far below any real mistake (a missing
 * normaliser or a wrong token is off by whole units).
 */
static bool near(float got, double want)
{
    return fabs((double)got - want) <= 1e-3 * (1.0 + fabs(want));
}

/*
 * Checks o's entries against the model read alone (the prompt, then its
 * generated tokens one at a time in a fresh context): each chosen token's
 * log-probability and the top n_top, which no other token beats.
 */
static void check_logprobs_alone(cria_model *m, const char *text, const outcome *o, int32_t n_top)
{
    cria_context *ctx = new_context(m, SLOT_CTX, 1, 64);
    cria_model_info mi;
    cria_model_get_info(m, &mi);
    cria_token toks[SLOT_CTX];
    const int32_t n = tokenize(m, text, toks, SLOT_CTX);
    cria_batch b = cria_batch_init(64);
    for (int32_t i = 0; i < n + o->n_gen - 1; i++) {
        const bool prompt = i < n;
        b.n_tokens = prompt ? b.n_tokens : 0;
        const int32_t j = b.n_tokens++;
        b.token[j] = prompt ? toks[i] : o->toks[i - n];
        b.pos[j] = i;
        b.seq_id[j] = 0;
        b.logits[j] = i >= n - 1;
        if (i < n - 1)
            continue;
        cria_error err;
        assert_int_equal(cria_decode(ctx, &b, &err), CRIA_OK);
        const float *logits = cria_get_logits_ith(ctx, j);
        const cria_sched_logprobs *e = &o->lp[i - n + 1];
        const double want = ref_logprob(logits, mi.n_vocab, e->token);
        if (!near(e->logprob, want))
            fail_msg("token %d (%d): logprob %.6f, recomputed %.6f", i - n + 1, e->token, (double)e->logprob, want);
        assert_int_equal(e->n_top, n_top);
        for (int32_t k = 0; k < n_top; k++) {
            const double w = ref_logprob(logits, mi.n_vocab, e->top[k].token);
            if (!near(e->top[k].logprob, w))
                fail_msg("token %d: top %d (%d): logprob %.6f, recomputed %.6f", i - n + 1, k, e->top[k].token,
                         (double)e->top[k].logprob, w);
        }
        for (cria_token t = 0; n_top > 0 && t < mi.n_vocab; t++) {
            bool in_top = false;
            for (int32_t k = 0; k < n_top; k++)
                in_top = in_top || e->top[k].token == t;
            const double w = ref_logprob(logits, mi.n_vocab, t);
            if (!in_top && w > (double)e->top[n_top - 1].logprob && !near(e->top[n_top - 1].logprob, w))
                fail_msg("token %d: id %d beats the last of the top %d", i - n + 1, t, n_top);
        }
    }
    cria_batch_free(&b);
    cria_context_free(ctx);
}

/* What holds for every request that asked for logprobs, whatever the model says. */
static void check_logprobs_shape(const outcome *o, int32_t n_top)
{
    assert_false(o->lp_null);
    assert_int_equal(o->n_slp, o->n_gen); /* streamed entries add up to the result's */
    const size_t text_len = strlen(o->text);
    for (int32_t k = 0; k < o->n_gen; k++) {
        const cria_sched_logprobs *e = &o->lp[k];
        assert_int_equal(e->token, o->toks[k]);
        assert_int_equal(o->slp[k].token, e->token);
        assert_true(o->slp[k].logprob == e->logprob);
        assert_int_equal(o->slp[k].text_offset, e->text_offset);
        assert_true(e->logprob <= 0.0f);
        assert_int_equal(e->n_top, n_top);
        double mass = 0.0;
        for (int32_t j = 0; j < n_top; j++) {
            assert_true(e->top[j].logprob <= 0.0f);
            assert_true(j == 0 || e->top[j].logprob <= e->top[j - 1].logprob);
            mass += exp(e->top[j].logprob);
        }
        assert_true(mass <= 1.0 + 1e-5);
        if (n_top > 0) { /* greedy: the chosen token is the most likely one */
            assert_int_equal(e->top[0].token, e->token);
            assert_true(e->top[0].logprob == e->logprob);
        }
        /* offsets: in order, within the text, and an entry never streamed before its token's text */
        assert_true(k == 0 ? e->text_offset == 0 : e->text_offset >= o->lp[k - 1].text_offset);
        assert_true((size_t)e->text_offset <= text_len);
        const size_t end = k + 1 < o->n_gen ? (size_t)o->lp[k + 1].text_offset : text_len;
        assert_true(o->slp_text[k] >= end);
    }
}

/*
 * Logprobs: only for requests that ask; the chosen token's value and the top
 * N equal a log-softmax recomputed here from the model alone; streamed entries
 * add up to the result's, also when a stop string cuts the text; bad n_probs.
 */
static void test_logprobs(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 3, 16, 8);
    static outcome o[4];
    memset(o, 0, sizeof o);
    static const char *const stop[1] = {"Lily"};
    const struct { const char *prompt; bool lp; int32_t n_probs; int32_t n_stop; } rq_of[4] = {
        {prompts[1], true, 5, 0},
        {prompts[3], false, 0, 0},
        {prompts[0], true, 0, 1},
        {prompts[0], true, CRIA_SCHED_MAX_PROBS, 0},
    };
    cria_token toks[256];
    cria_error err;
    for (int i = 0; i < 4; i++) {
        cria_sched_request rq = {
            .n_prompt = tokenize(f.model, rq_of[i].prompt, toks, 256),
            .prompt = toks,
            .n_predict = 40,
            .sampling = greedy(),
            .stop = stop,
            .n_stop = rq_of[i].n_stop,
            .logprobs = rq_of[i].lp,
            .n_probs = rq_of[i].n_probs,
            .on_token = on_token,
            .on_done = on_done,
            .user = &o[i],
        };
        assert_int_equal(cria_sched_submit(f.s, &rq, &o[i].id, &err), CRIA_OK);
    }
    run_idle(&f);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(o[i].done, 1);
        assert_true(o[i].n_gen > 0);
    }
    assert_true(o[1].lp_null); /* not asked: nothing computed, nothing passed */
    assert_int_equal(o[1].n_slp, 0);
    for (int i = 0; i < 4; i++) {
        if (rq_of[i].lp)
            check_logprobs_shape(&o[i], rq_of[i].n_probs);
    }
    check_logprobs_alone(f.model, prompts[1], &o[0], 5);
    check_logprobs_alone(f.model, prompts[0], &o[3], CRIA_SCHED_MAX_PROBS);
    /* the stop string cut the text; every generated token still has its entry, at most at the cut */
    assert_int_equal(o[2].finish, CRIA_FINISH_STOP);
    assert_true(o[2].n_gen < o[3].n_gen);
    for (int32_t k = 0; k < o[2].n_gen; k++) {
        const int32_t cut = (int32_t)strlen(o[2].text), off = o[3].lp[k].text_offset;
        assert_int_equal(o[2].lp[k].text_offset, off < cut ? off : cut);
        assert_true(fabs((double)o[2].lp[k].logprob - (double)o[3].lp[k].logprob) < 1e-4);
    }
    /* n_probs out of range is refused */
    for (int k = 0; k < 2; k++) {
        cria_sched_request rq = {.prompt = toks, .n_prompt = 1, .n_predict = 1, .sampling = greedy(),
                                 .logprobs = true, .n_probs = k ? CRIA_SCHED_MAX_PROBS + 1 : -1};
        int64_t id;
        assert_int_equal(cria_sched_submit(f.s, &rq, &id, &err), CRIA_ERR_ARG);
        assert_non_null(strstr(err.msg, "n_probs"));
    }
    teardown(&f);
}

typedef struct server_arg {
    cria_sched *s;
    cria_status st;
} server_arg;

static void *serve(void *p)
{
    server_arg *a = p;
    cria_error err;
    a->st = cria_sched_run(a->s, false, &err);
    return NULL;
}

/* Another thread serves (sleeping while idle); this one submits, waits, submits again, then stops it. */
static void test_threaded_submit(void **state)
{
    (void)state;
    fixture f;
    setup(&f, 2, 0, 8);
    server_arg a = {.s = f.s};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, serve, &a), 0);
    static outcome o[4];
    memset(o, 0, sizeof o);
    cria_error err;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 2; i++)
            assert_int_equal(submit(&f, prompts[2 * round + i], 10, &o[2 * round + i], &err), CRIA_OK);
        for (int spins = 0; spins < 10000; spins++) { /* up to 10 s */
            cria_sched_stats st;
            cria_sched_get_stats(f.s, &st);
            if (st.n_done + st.n_cancelled + st.n_errors == 2 * round + 2)
                break;
            struct timespec ts = {0, 1000000};
            nanosleep(&ts, NULL);
        }
    }
    cria_sched_stop(f.s);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(a.st, CRIA_OK);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(o[i].done, 1);
        assert_int_equal(o[i].finish == CRIA_FINISH_LENGTH || o[i].finish == CRIA_FINISH_EOS, 1);
    }
    teardown(&f);
}

/* ---- cria batch ---------------------------------------------------------------------------- */

#define MODEL_ARGS "-m %s --vocab %s"

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++)
        n += *s == '\n';
    return n;
}

/* 6 prompts, 4 slots, greedy: one JSON line per prompt in input order, each text what cria run prints. */
static void test_batch_cli(void **state)
{
    (void)state;
    if (!test_have(CKPT) || !test_have(TOK512))
        skip();
    const char *in = test_tmp_path(".txt");
    char body[2048] = "";
    for (int i = 0; i < N_PROMPTS; i++) {
        strcat(body, prompts[i]);
        strcat(body, i == 2 ? "\n\n" : "\n"); /* a blank line is skipped */
    }
    assert_true(test_write_file(in, body, strlen(body)));
    const char *out_path = test_tmp_path(".jsonl");
    char args[4096];
    snprintf(args, sizeof args, "batch " MODEL_ARGS " -f %s -np 4 -n 24 --temp 0 -t 2 -o %s --compare", test_shared(CKPT),
             test_shared(TOK512), in, out_path);
    char *err = NULL;
    assert_int_equal(test_run_cria(args, NULL, &err), 0);
    assert_non_null(strstr(err, "generated tokens/s"));
    assert_non_null(strstr(err, "latency per prompt"));
    assert_non_null(strstr(err, "outputs identical"));
    free(err);

    /* Python's json module reads every line */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]' < %s", out_path);
    assert_int_equal(system(cmd), 0);

    size_t size;
    char *jsonl = test_read_file(out_path, &size);
    assert_non_null(jsonl);
    assert_int_equal(count_lines(jsonl), N_PROMPTS);
    char *line = jsonl;
    for (int i = 0; i < N_PROMPTS; i++) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        cJSON *j = cJSON_Parse(line);
        assert_non_null(j);
        assert_int_equal(cJSON_GetObjectItem(j, "index")->valueint, i);
        assert_string_equal(cJSON_GetObjectItem(j, "prompt")->valuestring, prompts[i]);
        assert_true(cJSON_GetObjectItem(j, "n_prompt")->valueint > 0);
        assert_true(cJSON_GetObjectItem(j, "n_gen")->valueint <= 24);
        assert_true(cJSON_GetObjectItem(j, "ms")->valuedouble > 0);
        /* cria run prints the prompt, the text and a newline */
        snprintf(args, sizeof args, "run " MODEL_ARGS " -p \"%s\" -n 24 --temp 0 -t 2 --log-disable",
                 test_shared(CKPT), test_shared(TOK512), prompts[i]);
        char *run_out = NULL;
        assert_int_equal(test_run_cria(args, &run_out, NULL), 0);
        char expect[4096];
        snprintf(expect, sizeof expect, "%s%s\n", prompts[i], cJSON_GetObjectItem(j, "text")->valuestring);
        assert_string_equal(run_out, expect);
        free(run_out);
        cJSON_Delete(j);
        line = nl + 1;
    }
    free(jsonl);
}

/* Runs cria batch on a prompts file with content body (NULL: a missing file); expects exit 1 and one error line. */
static void expect_batch_error(const char *suffix, const char *body, const char *what)
{
    const char *in = test_tmp_path(suffix);
    if (body)
        assert_true(test_write_file(in, body, strlen(body)));
    char args[2048];
    snprintf(args, sizeof args, "batch " MODEL_ARGS " -f %s -n 4", test_shared(CKPT), test_shared(TOK512), in);
    char *out = NULL, *err = NULL;
    assert_int_equal(test_run_cria(args, &out, &err), 1);
    if (count_lines(err) != 1 || strncmp(err, "error: ", 7) != 0 || !strstr(err, what))
        fail_msg("expected one error line with '%s', got: %s", what, err);
    assert_string_equal(out, "");
    free(out);
    free(err);
}

static void test_batch_bad_input(void **state)
{
    (void)state;
    if (!test_have(CKPT) || !test_have(TOK512))
        skip();
    expect_batch_error(".txt", NULL, "cannot open prompts file");
    expect_batch_error(".txt", "", "no prompts");
    expect_batch_error(".txt", "\n  \n", "no prompts");
    expect_batch_error(".jsonl", "{\"prompt\": \"Once\"}\n{\"prompt\": \"Lily\n", ":2: malformed JSON");
    expect_batch_error(".jsonl", "{\"prompt\": \"Once\"}\n\n{\"text\": \"x\"}\n", ":3: expected an object with a \"prompt\"");
    expect_batch_error(".jsonl", "{\"prompt\": 5}\n", ":1: expected an object with a \"prompt\" string");
    expect_batch_error(".jsonl", "{\"prompt\": \"a\", \"max_tokens\": \"x\"}\n", "\"max_tokens\" must be an integer");
    expect_batch_error(".jsonl", "{\"prompt\": \"x\", \"stop\": [1]}\n", ":1: \"stop\" must be a string or an array");
    /* a prompt longer than a slot: 3 tokens of context per slot */
    char in[256]; /* test_tmp_path's buffers rotate: keep this name */
    snprintf(in, sizeof in, "%s", test_tmp_path(".txt"));
    assert_true(test_write_file(in, "Once upon a time\n", 17));
    char args[2048];
    snprintf(args, sizeof args, "batch " MODEL_ARGS " -f %s -c 12 -np 4", test_shared(CKPT), test_shared(TOK512), in);
    char *err = NULL;
    assert_int_equal(test_run_cria(args, NULL, &err), 1);
    assert_non_null(strstr(err, ":1: prompt is too long: 5 tokens, a slot's context holds 3"));
    free(err);
    /* JSONL input (detected by its first character here) with its own max_tokens and escapes */
    const char *jl = "{\"prompt\": \"Once\", \"max_tokens\": 3}\n{\"prompt\": \"a \\\"b\\\"\\n\", \"max_tokens\": 2}\n";
    assert_true(test_write_file(in, jl, strlen(jl)));
    snprintf(args, sizeof args, "batch " MODEL_ARGS " -f %s --temp 0 --log-disable", test_shared(CKPT),
             test_shared(TOK512), in);
    char *out = NULL;
    assert_int_equal(test_run_cria(args, &out, NULL), 0);
    assert_int_equal(count_lines(out), 2);
    assert_non_null(strstr(out, "\"n_gen\":3"));
    assert_non_null(strstr(out, "\"prompt\":\"a \\\"b\\\"\\n\""));
    /* the thread placement options run and serve take too: pinned threads, the same text; bad values refused */
    snprintf(args, sizeof args, "batch " MODEL_ARGS " -f %s --temp 0 --log-disable -t 2 --cpu-strict 1 --poll 0",
             test_shared(CKPT), test_shared(TOK512), in);
    char *pinned = NULL;
    assert_int_equal(test_run_cria(args, &pinned, NULL), 0);
    assert_int_equal(count_lines(pinned), 2);
    assert_non_null(strstr(pinned, "\"text\":\" upon a time\""));
    free(pinned);
    snprintf(args, sizeof args, "batch " MODEL_ARGS " -f %s --numa sideways", test_shared(CKPT), test_shared(TOK512),
             in);
    char *perr0 = NULL;
    assert_int_equal(test_run_cria(args, NULL, &perr0), 1);
    assert_non_null(strstr(perr0, "--numa \"sideways\": must be distribute, isolate or none"));
    free(perr0);
    snprintf(args, sizeof args, "serve " MODEL_ARGS " --port 0 -C xyz", test_shared(CKPT), test_shared(TOK512));
    perr0 = NULL;
    assert_int_equal(test_run_cria(args, NULL, &perr0), 1);
    assert_non_null(strstr(perr0, "--cpu-mask \"xyz\""));
    free(perr0);
    /* --profile: the op table on stderr, the JSONL on stdout as before */
    snprintf(args, sizeof args, "batch " MODEL_ARGS " -f %s --temp 0 --profile", test_shared(CKPT),
             test_shared(TOK512), in);
    char *pout = NULL, *perr = NULL;
    assert_int_equal(test_run_cria(args, &pout, &perr), 0);
    assert_int_equal(count_lines(pout), 2);
    assert_non_null(strstr(pout, "\"n_gen\":3"));
    assert_non_null(strstr(perr, "| matmul gate/up"));
    assert_non_null(strstr(perr, "| attention"));
    assert_non_null(strstr(perr, "| total            |"));
    free(pout);
    free(perr);
    free(out);
    /* stop strings: the line's own, else --stop */
    jl = "{\"prompt\": \"Once upon a time\", \"stop\": [\"Lily\"]}\n{\"prompt\": \"Once upon a time\"}\n";
    assert_true(test_write_file(in, jl, strlen(jl)));
    snprintf(args, sizeof args, "batch " MODEL_ARGS " -f %s --temp 0 -n 30 --stop girl --log-disable",
             test_shared(CKPT), test_shared(TOK512), in);
    assert_int_equal(test_run_cria(args, &out, NULL), 0);
    assert_non_null(strstr(out, "\"text\":\", there was a little girl named \",\"n_prompt\":5,\"n_gen\":10,\"finish\":\"stop\""));
    assert_non_null(strstr(out, "\"text\":\", there was a little \",\"n_prompt\":5,\"n_gen\":8,\"finish\":\"stop\""));
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greedy_equals_alone),
        cmocka_unit_test(test_one_slot_and_big_batch),
        cmocka_unit_test(test_queue_bound),
        cmocka_unit_test(test_cancel),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_mixed_lengths),
        cmocka_unit_test(test_threaded_submit),
        cmocka_unit_test(test_stop_strings),
        cmocka_unit_test(test_logprobs),
        cmocka_unit_test(test_batch_cli),
        cmocka_unit_test(test_batch_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
