/* The request scheduler: a bounded FIFO queue, slots, and one batched forward pass per step (see sched.h). */
#include "server/sched.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "kernels/vec.h"
#include "model/context.h"

/* One request: fixed at submit, then its generation state (touched by the stepping thread only). */
typedef struct sched_req {
    int64_t id;
    cria_token *prompt;
    int32_t n_prompt, n_predict;
    cria_sampler *smpl;
    cria_sched_token_fn on_token;
    cria_sched_done_fn on_done;
    void *user;
    bool cancel;             /* asked to stop; guarded by the mutex */
    struct sched_req *next;  /* in the list of requests cancelled while queued */
    int64_t t_submit, t_admit, t_first, admit_order;

    int32_t n_fed;           /* prompt tokens decoded or in this step's batch */
    cria_token pending;      /* sampled, to be decoded next step; -1: none */
    cria_token *gen;
    int32_t n_gen, gen_cap;
    char *text;
    size_t text_len, text_cap;
    size_t n_sent;           /* bytes of text passed to on_token; the rest is held back */
    cria_detok detok;
    char *stop[CRIA_SCHED_MAX_STOP];
    int32_t n_stop;
    bool want_lp;            /* logprobs asked: lp holds one entry per generated token (n_gen, lp_cap) */
    int32_t n_probs;
    cria_sched_logprobs *lp;
    int32_t lp_cap, lp_sent; /* lp_sent: entries passed to on_token */
} sched_req;

typedef struct sched_slot {
    sched_req *req;    /* NULL: free; written under the mutex, read without it on the stepping thread */
    int32_t out_idx;   /* batch index of this slot's logits row in the current step; -1: none */
} sched_slot;

struct cria_sched {
    const cria_model *model;
    cria_context *ctx;
    cria_sched_params params;
    int32_t n_ctx_slot, n_vocab;
    cria_batch batch;
    sched_slot *slots;
    bool *cancel_flag;  /* per slot, this step: cancel flags read under the mutex */
    const cria_vec_kernels *vk;
    float *lp_buf;      /* n_vocab floats: the exps of a log-softmax (stepping thread) */

    pthread_mutex_t mu; /* guards everything below */
    pthread_cond_t cv;  /* signalled on submit, cancel and stop */
    sched_req **queue;  /* ring of max_queue */
    int32_t q_head, q_len;
    sched_req *cancelled; /* removed from the queue by cancel, reported at the next step */
    int64_t next_id, next_admit;
    bool stop;
    cria_sched_stats stats;
};

const char *cria_finish_reason_str(cria_finish_reason r)
{
    switch (r) {
    case CRIA_FINISH_LENGTH: return "length";
    case CRIA_FINISH_EOS: return "eos";
    case CRIA_FINISH_STOP: return "stop";
    case CRIA_FINISH_CANCELLED: return "cancelled";
    case CRIA_FINISH_ERROR: return "error";
    }
    return "unknown";
}

cria_sched_params cria_sched_default_params(void)
{
    return (cria_sched_params){.n_slots = 4, .n_batch = 0, .max_queue = 64};
}

cria_status cria_sched_init(const cria_model *model, cria_context *ctx, const cria_sched_params *params,
                            cria_sched **out, cria_error *err)
{
    *out = NULL;
    cria_sched_params p = params ? *params : cria_sched_default_params();
    const int32_t n_ctx = ctx->params.n_ctx, ctx_batch = ctx->params.n_batch;
    if (p.n_batch <= 0 || p.n_batch > ctx_batch)
        p.n_batch = ctx_batch;
    if (p.n_slots < 1 || p.n_slots > ctx->params.n_seq_max)
        return cria_err_set(err, CRIA_ERR_ARG, "%d slots: the context holds 1..%d sequences", p.n_slots,
                            ctx->params.n_seq_max);
    if (p.n_slots > p.n_batch)
        return cria_err_set(err, CRIA_ERR_ARG, "%d slots need a batch of at least %d tokens (batch is %d)",
                            p.n_slots, p.n_slots, p.n_batch);
    if (n_ctx / p.n_slots < 2)
        return cria_err_set(err, CRIA_ERR_ARG, "a context of %d tokens split %d ways leaves %d per slot", n_ctx,
                            p.n_slots, n_ctx / p.n_slots);
    if (p.max_queue < 1)
        return cria_err_set(err, CRIA_ERR_ARG, "the queue must hold at least one request (max_queue %d)",
                            p.max_queue);
    cria_sched *s = calloc(1, sizeof *s);
    if (!s)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a scheduler");
    cria_model_info mi;
    cria_model_get_info(model, &mi);
    s->model = model;
    s->ctx = ctx;
    s->params = p;
    s->n_ctx_slot = n_ctx / p.n_slots;
    s->n_vocab = mi.n_vocab;
    s->next_id = 1;
    s->batch = cria_batch_init(p.n_batch);
    s->slots = calloc((size_t)p.n_slots, sizeof *s->slots);
    s->cancel_flag = calloc((size_t)p.n_slots, sizeof *s->cancel_flag);
    s->queue = calloc((size_t)p.max_queue, sizeof *s->queue);
    s->vk = cria_vec_for(cria_isa_active());
    s->lp_buf = malloc((size_t)s->n_vocab * sizeof *s->lp_buf);
    if (!s->batch.token || !s->slots || !s->cancel_flag || !s->queue || !s->lp_buf) {
        cria_batch_free(&s->batch);
        free(s->lp_buf);
        free(s->slots);
        free(s->cancel_flag);
        free(s->queue);
        free(s);
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a scheduler of %d slots", p.n_slots);
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    *out = s;
    return CRIA_OK;
}

int32_t cria_sched_slot_ctx(const cria_sched *s)
{
    return s->n_ctx_slot;
}

static void req_free(sched_req *r)
{
    if (!r)
        return;
    cria_sampler_free(r->smpl);
    for (int32_t i = 0; i < r->n_stop; i++)
        free(r->stop[i]);
    free(r->prompt);
    free(r->gen);
    free(r->lp);
    free(r->text);
    free(r);
}

cria_status cria_sched_submit(cria_sched *s, const cria_sched_request *in, int64_t *id, cria_error *err)
{
    if (!in->prompt || in->n_prompt < 1)
        return cria_err_set(err, CRIA_ERR_ARG, "empty prompt: a request needs at least one token");
    if (in->n_prompt > s->n_ctx_slot)
        return cria_err_set(err, CRIA_ERR_ARG,
                            "prompt is too long: %d tokens, a slot's context holds %d (context %d split over %d "
                            "slots: raise -c or lower -np)",
                            in->n_prompt, s->n_ctx_slot, s->ctx->params.n_ctx, s->params.n_slots);
    for (int32_t i = 0; i < in->n_prompt; i++) {
        if (in->prompt[i] < 0 || in->prompt[i] >= s->n_vocab)
            return cria_err_set(err, CRIA_ERR_ARG, "prompt token %d: id %d is outside the vocabulary (0..%d)", i,
                                in->prompt[i], s->n_vocab - 1);
    }
    if (in->n_stop < 0 || in->n_stop > CRIA_SCHED_MAX_STOP || (in->n_stop > 0 && !in->stop))
        return cria_err_set(err, CRIA_ERR_ARG, "%d stop strings: at most %d", in->n_stop, CRIA_SCHED_MAX_STOP);
    if (in->n_probs < 0 || in->n_probs > CRIA_SCHED_MAX_PROBS)
        return cria_err_set(err, CRIA_ERR_ARG, "n_probs %d: must be between 0 and %d", in->n_probs,
                            CRIA_SCHED_MAX_PROBS);
    sched_req *r = calloc(1, sizeof *r);
    if (!r)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a request");
    for (int32_t i = 0; i < in->n_stop; i++) {
        if (!in->stop[i] || !in->stop[i][0])
            continue;
        r->stop[r->n_stop] = strdup(in->stop[i]);
        if (!r->stop[r->n_stop++]) {
            req_free(r);
            return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the stop strings");
        }
    }
    r->prompt = malloc((size_t)in->n_prompt * sizeof *r->prompt);
    r->text_cap = 256;
    r->text = malloc(r->text_cap);
    if (in->logprobs) {
        r->want_lp = true;
        r->n_probs = in->n_probs;
        r->lp_cap = 64;
        r->lp = malloc((size_t)r->lp_cap * sizeof *r->lp);
    }
    if (!r->prompt || !r->text || (r->want_lp && !r->lp)) {
        req_free(r);
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for a prompt of %d tokens", in->n_prompt);
    }
    r->text[0] = '\0';
    memcpy(r->prompt, in->prompt, (size_t)in->n_prompt * sizeof *r->prompt);
    r->n_prompt = in->n_prompt;
    r->n_predict = in->n_predict;
    r->on_token = in->on_token;
    r->on_done = in->on_done;
    r->user = in->user;
    r->pending = -1;
    r->smpl = cria_sampler_chain_from_params(&in->sampling, s->model, s->n_vocab, s->n_ctx_slot);
    if (!r->smpl) {
        req_free(r);
        return cria_err_set(err, CRIA_ERR_ARG, "cannot build the sampler chain (bad sampling values or no memory)");
    }
    for (int32_t i = 0; i < r->n_prompt; i++) /* penalties and DRY see the prompt as history, as in cria run */
        cria_sampler_accept(r->smpl, r->prompt[i]);
    cria_detok_init(&r->detok, s->model);
    r->t_submit = cria_time_us();

    pthread_mutex_lock(&s->mu);
    if (s->q_len == s->params.max_queue) {
        pthread_mutex_unlock(&s->mu);
        req_free(r);
        return cria_err_set(err, CRIA_ERR_BUSY, "the request queue is full (%d waiting): try again later",
                            s->params.max_queue);
    }
    r->id = s->next_id++;
    s->queue[(s->q_head + s->q_len++) % s->params.max_queue] = r;
    s->stats.n_queued = s->q_len;
    *id = r->id;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return CRIA_OK;
}

bool cria_sched_cancel(cria_sched *s, int64_t id)
{
    bool found = false;
    pthread_mutex_lock(&s->mu);
    for (int32_t i = 0; i < s->params.n_slots && !found; i++) {
        sched_req *r = s->slots[i].req;
        if (r && r->id == id && !r->cancel)
            found = r->cancel = true;
    }
    for (int32_t i = 0; i < s->q_len && !found; i++) {
        const int32_t q = s->params.max_queue;
        sched_req *r = s->queue[(s->q_head + i) % q];
        if (r->id != id)
            continue;
        for (int32_t j = i; j + 1 < s->q_len; j++) /* close the gap, keeping FIFO order */
            s->queue[(s->q_head + j) % q] = s->queue[(s->q_head + j + 1) % q];
        s->q_len--;
        s->stats.n_queued = s->q_len;
        r->next = s->cancelled;
        s->cancelled = r;
        found = true;
    }
    if (found)
        pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return found;
}

void cria_sched_stop(cria_sched *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void cria_sched_get_stats(cria_sched *s, cria_sched_stats *st)
{
    pthread_mutex_lock(&s->mu);
    *st = s->stats;
    pthread_mutex_unlock(&s->mu);
}

/* Appends n bytes to r's text, growing it; false on no memory. */
static bool append_text(sched_req *r, const char *t, int32_t n)
{
    if (n <= 0)
        return true;
    if (r->text_len + (size_t)n + 1 > r->text_cap) {
        size_t cap = r->text_cap * 2 > r->text_len + (size_t)n + 1 ? r->text_cap * 2 : r->text_len + (size_t)n + 1;
        char *grown = realloc(r->text, cap);
        if (!grown)
            return false;
        r->text = grown;
        r->text_cap = cap;
    }
    memcpy(r->text + r->text_len, t, (size_t)n);
    r->text_len += (size_t)n;
    r->text[r->text_len] = '\0';
    return true;
}

/* Appends token t and, when the request asked for them, its log-probabilities lp; false on no memory. */
static bool append_token(sched_req *r, cria_token t, const cria_sched_logprobs *lp)
{
    if (r->n_gen == r->gen_cap) {
        int32_t cap = r->gen_cap ? r->gen_cap * 2 : 64;
        cria_token *grown = realloc(r->gen, (size_t)cap * sizeof *grown);
        if (!grown)
            return false;
        r->gen = grown;
        r->gen_cap = cap;
    }
    if (r->want_lp && r->n_gen == r->lp_cap) {
        cria_sched_logprobs *grown = realloc(r->lp, (size_t)r->lp_cap * 2 * sizeof *grown);
        if (!grown)
            return false;
        r->lp = grown;
        r->lp_cap *= 2;
    }
    if (r->want_lp)
        r->lp[r->n_gen] = *lp;
    r->gen[r->n_gen++] = t;
    return true;
}

/*
 * The log-softmax normaliser of logits[0, n) (log of the sum of exps), and
 * the k largest logits, largest first, ties by lower id, in top[0, k) (as raw
 * logits). The exps go through the vector kernel and the max and the sum
 * (in double) are vector reductions: on a 32000-token vocabulary ~40 us a
 * token instead of ~200 with a plain loop and libm's exp. The top k is a
 * partial selection: one pass keeping a sorted list of k, which almost every
 * logit fails to enter after the first few hundred.
 */
static double log_sum_exp_top(cria_sched *s, const float *logits, int32_t n, int32_t k, cria_sched_tokprob *top)
{
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (int32_t i = 0; i < n; i++)
        mx = logits[i] > mx ? logits[i] : mx;
    float *e = s->lp_buf;
    for (int32_t i = 0; i < n; i++)
        e[i] = logits[i] - mx;
    s->vk->exp_f32(n, e, e);
    double sum = 0.0;
#pragma omp simd reduction(+ : sum)
    for (int32_t i = 0; i < n; i++)
        sum += (double)e[i];
    int32_t m = 0;
    for (int32_t i = 0; i < n && k > 0; i++) {
        const float x = logits[i];
        if (m == k && !(x > top[k - 1].logprob))
            continue;
        int32_t j = m < k ? m++ : k - 1;
        for (; j > 0 && top[j - 1].logprob < x; j--)
            top[j] = top[j - 1];
        top[j] = (cria_sched_tokprob){.token = i, .logprob = x};
    }
    return (double)mx + log(sum);
}

/* The longest k < len(some stop string) such that the last k bytes of text[from, len) begin a stop string. */
static size_t stop_prefix_tail(const sched_req *r, size_t from)
{
    size_t best = 0;
    const size_t avail = r->text_len - from;
    for (int32_t i = 0; i < r->n_stop; i++) {
        const size_t m = strlen(r->stop[i]);
        for (size_t k = (m - 1 < avail ? m - 1 : avail); k > best; k--) {
            if (!memcmp(r->text + r->text_len - k, r->stop[i], k)) {
                best = k;
                break;
            }
        }
    }
    return best;
}

typedef enum release_result { RELEASE_GO, RELEASE_STOP, RELEASE_CANCEL, RELEASE_NOMEM } release_result;

/*
 * Appends n bytes that token t (-1: the end) produced to r's text, cuts the
 * text before the first stop string it now contains, and passes on_token the
 * text that can no longer turn into a stop string (all of it at the end).
 */
static release_result release(sched_req *r, cria_token t, const char *piece, int32_t n)
{
    if (!append_text(r, piece, n))
        return RELEASE_NOMEM;
    release_result res = RELEASE_GO;
    size_t end = r->text_len;
    if (r->n_stop > 0) {
        /* a match ends in the new bytes and, as held-back text starts a stop string, starts at or after n_sent */
        const char *hit = NULL;
        for (int32_t i = 0; i < r->n_stop; i++) {
            const char *h = memmem(r->text + r->n_sent, r->text_len - r->n_sent, r->stop[i], strlen(r->stop[i]));
            if (h && (!hit || h < hit))
                hit = h;
        }
        if (hit) {
            r->text_len = end = (size_t)(hit - r->text);
            r->text[end] = '\0';
            res = RELEASE_STOP;
        } else if (t >= 0) {
            end = r->text_len - stop_prefix_tail(r, r->n_sent);
        }
    }
    /* the entries of the tokens whose text ends within the released text; at the end or a stop, all */
    const cria_sched_logprobs *lp = NULL;
    int32_t n_lp = 0;
    if (r->want_lp) {
        int32_t k = r->lp_sent;
        if (t < 0 || res == RELEASE_STOP) {
            k = r->n_gen;
            for (int32_t i = r->lp_sent; i < k; i++) /* a stop string may have cut the text before them */
                if ((size_t)r->lp[i].text_offset > r->text_len)
                    r->lp[i].text_offset = (int32_t)r->text_len;
        } else {
            while (k < r->n_gen && (k + 1 < r->n_gen ? (size_t)r->lp[k + 1].text_offset : r->text_len) <= end)
                k++;
        }
        lp = r->lp + r->lp_sent;
        n_lp = k - r->lp_sent;
        r->lp_sent = k;
    }
    const size_t len = end - r->n_sent;
    const bool call = r->on_token && (t >= 0 || len > 0 || n_lp > 0);
    const char *out = r->text + r->n_sent;
    r->n_sent = end;
    if (call && !r->on_token(r->user, r->id, t, out, (int32_t)len, n_lp ? lp : NULL, n_lp) && res == RELEASE_GO)
        res = RELEASE_CANCEL;
    return res;
}

static double ms_between(int64_t t0, int64_t t1)
{
    return t0 > 0 && t1 >= t0 ? (double)(t1 - t0) / 1e3 : 0.0;
}

/*
 * Reports r as finished (flushing its detokenizer, then on_done) and frees
 * it. seq >= 0: r ran in that slot, whose cells are freed and which is
 * emptied.
 */
static void finish(cria_sched *s, sched_req *r, int32_t seq, cria_finish_reason why, const cria_error *e)
{
    char tail[16];
    int32_t n = why == CRIA_FINISH_STOP ? 0 : cria_detok_flush(&r->detok, tail, (int32_t)sizeof tail);
    if (why != CRIA_FINISH_STOP && release(r, -1, tail, n > 0 ? n : 0) == RELEASE_STOP &&
        (why == CRIA_FINISH_LENGTH || why == CRIA_FINISH_EOS))
        why = CRIA_FINISH_STOP; /* the last bytes completed a stop string */
    const int64_t now = cria_time_us();
    static const cria_token none[1] = {-1};
    cria_sched_result res = {
        .id = r->id,
        .finish = why,
        .text = r->text,
        .text_len = r->text_len,
        .tokens = r->gen ? r->gen : none,
        .n_prompt = r->n_prompt,
        .n_gen = r->n_gen,
        .logprobs = r->lp,
        .queue_ms = ms_between(r->t_submit, r->t_admit ? r->t_admit : now),
        .prompt_ms = r->t_admit ? ms_between(r->t_admit, r->t_first ? r->t_first : now) : 0.0,
        .gen_ms = r->t_first ? ms_between(r->t_first, now) : 0.0,
        .total_ms = ms_between(r->t_submit, now),
    };
    if (why == CRIA_FINISH_ERROR && e)
        res.error = *e;
    if (seq >= 0)
        cria_kv_seq_rm(s->ctx, seq, 0, -1);
    pthread_mutex_lock(&s->mu);
    if (seq >= 0) {
        s->slots[seq].req = NULL;
        s->slots[seq].out_idx = -1;
        s->stats.n_running--;
    }
    s->stats.n_done += why != CRIA_FINISH_CANCELLED && why != CRIA_FINISH_ERROR;
    s->stats.n_cancelled += why == CRIA_FINISH_CANCELLED;
    s->stats.n_errors += why == CRIA_FINISH_ERROR;
    pthread_mutex_unlock(&s->mu);
    if (r->on_done)
        r->on_done(r->user, &res);
    req_free(r);
}

/* Under the mutex: admits queued requests into free slots in FIFO order. */
static void admit_locked(cria_sched *s)
{
    const int64_t now = cria_time_us();
    for (int32_t i = 0; i < s->params.n_slots && s->q_len > 0; i++) {
        sched_slot *sl = &s->slots[i];
        if (sl->req)
            continue;
        sched_req *r = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->params.max_queue;
        s->q_len--;
        r->t_admit = now;
        r->admit_order = s->next_admit++;
        sl->req = r;
        sl->out_idx = -1;
        s->stats.n_running++;
        s->stats.n_prompt_tokens += r->n_prompt;
    }
    s->stats.n_queued = s->q_len;
}

static void batch_add(cria_batch *b, cria_token t, int32_t pos, int32_t seq, bool logits)
{
    const int32_t i = b->n_tokens++;
    b->token[i] = t;
    b->pos[i] = pos;
    b->seq_id[i] = seq;
    b->logits[i] = logits;
}

/*
 * Fills the batch: the pending token of every generating slot, then prompt
 * chunks of reading slots, oldest admission first, up to n_batch tokens. A
 * slot asks for logits at its generated token or its prompt's last token.
 */
static void build_batch(cria_sched *s)
{
    cria_batch *b = &s->batch;
    b->n_tokens = 0;
    for (int32_t i = 0; i < s->params.n_slots; i++) {
        sched_slot *sl = &s->slots[i];
        sl->out_idx = -1;
        if (sl->req && sl->req->pending >= 0) {
            sl->out_idx = b->n_tokens;
            batch_add(b, sl->req->pending, sl->req->n_prompt + sl->req->n_gen - 1, i, true);
        }
    }
    for (;;) {
        int32_t oldest = -1;
        for (int32_t i = 0; i < s->params.n_slots; i++) {
            const sched_req *r = s->slots[i].req;
            if (r && r->n_fed < r->n_prompt && s->slots[i].out_idx == -1 &&
                (oldest < 0 || r->admit_order < s->slots[oldest].req->admit_order))
                oldest = i;
        }
        if (oldest < 0 || b->n_tokens == s->params.n_batch)
            break;
        sched_slot *sl = &s->slots[oldest];
        sched_req *r = sl->req;
        int32_t room = s->params.n_batch - b->n_tokens, left = r->n_prompt - r->n_fed;
        int32_t m = left < room ? left : room;
        for (int32_t j = 0; j < m; j++, r->n_fed++)
            batch_add(b, r->prompt[r->n_fed], r->n_fed, oldest, r->n_fed == r->n_prompt - 1);
        if (r->n_fed == r->n_prompt)
            sl->out_idx = b->n_tokens - 1;
        else
            sl->out_idx = -2; /* in the batch without logits: skipped when looking for the oldest again */
    }
}

/*
 * Samples the next token of slot i from its logits; reports it, and finishes
 * the request when it is done. Returns tokens generated (0 or 1).
 */
static int32_t sample_slot(cria_sched *s, int32_t i, int64_t now)
{
    sched_req *r = s->slots[i].req;
    const float *logits = cria_get_logits_ith(s->ctx, s->slots[i].out_idx);
    if (!r->t_first)
        r->t_first = now;
    r->pending = -1;
    cria_sched_logprobs lp = {.n_top = r->n_probs};
    double lse = 0.0;
    if (r->want_lp && logits) { /* from the raw logits, before the chain transforms them */
        lse = log_sum_exp_top(s, logits, s->n_vocab, r->n_probs, lp.top);
        for (int32_t k = 0; k < lp.n_top; k++)
            lp.top[k].logprob = (float)((double)lp.top[k].logprob - lse);
    }
    cria_token t = logits ? cria_sampler_sample(r->smpl, logits, s->n_vocab) : -1;
    cria_error e = {.status = CRIA_ERR_NOMEM};
    if (t < 0) {
        snprintf(e.msg, sizeof e.msg, "request %lld: sampling failed (out of memory)", (long long)r->id);
        finish(s, r, i, CRIA_FINISH_ERROR, &e);
        return 0;
    }
    if (cria_token_is_eog(s->model, t)) {
        finish(s, r, i, CRIA_FINISH_EOS, NULL);
        return 0;
    }
    if (r->want_lp) {
        lp.token = t;
        lp.logprob = (float)((double)logits[t] - lse);
        lp.text_offset = (int32_t)r->text_len;
    }
    char piece[256];
    int32_t n = cria_detok_push(&r->detok, t, piece, (int32_t)sizeof piece);
    release_result rel = n < 0 || !append_token(r, t, &lp) ? RELEASE_NOMEM : release(r, t, piece, n);
    if (rel == RELEASE_NOMEM) {
        snprintf(e.msg, sizeof e.msg, "request %lld: out of memory for the generated text", (long long)r->id);
        finish(s, r, i, CRIA_FINISH_ERROR, &e);
        return 0;
    }
    if (rel != RELEASE_GO) {
        finish(s, r, i, rel == RELEASE_STOP ? CRIA_FINISH_STOP : CRIA_FINISH_CANCELLED, NULL);
        return 1;
    }
    /* as cria run: stop at n_predict, or when the next position would leave the slot's context */
    if ((r->n_predict >= 0 && r->n_gen >= r->n_predict) || r->n_prompt + r->n_gen - 1 >= s->n_ctx_slot)
        finish(s, r, i, CRIA_FINISH_LENGTH, NULL);
    else
        r->pending = t;
    return 1;
}

cria_status cria_sched_step(cria_sched *s, bool *busy, cria_error *err)
{
    (void)err; /* a failed decode is the requests' error, reported through on_done */
    pthread_mutex_lock(&s->mu);
    sched_req *gone = s->cancelled;
    s->cancelled = NULL;
    for (int32_t i = 0; i < s->params.n_slots; i++)
        s->cancel_flag[i] = s->slots[i].req && s->slots[i].req->cancel;
    pthread_mutex_unlock(&s->mu);
    while (gone) {
        sched_req *next = gone->next;
        finish(s, gone, -1, CRIA_FINISH_CANCELLED, NULL);
        gone = next;
    }
    for (int32_t i = 0; i < s->params.n_slots; i++) {
        if (s->cancel_flag[i])
            finish(s, s->slots[i].req, i, CRIA_FINISH_CANCELLED, NULL);
    }
    pthread_mutex_lock(&s->mu);
    admit_locked(s);
    pthread_mutex_unlock(&s->mu);

    build_batch(s);
    if (s->batch.n_tokens > 0) {
        cria_error e;
        int64_t t0 = cria_time_us();
        cria_status st = cria_decode(s->ctx, &s->batch, &e);
        const int64_t now = cria_time_us();
        int32_t n_gen = 0;
        for (int32_t i = 0; i < s->params.n_slots; i++) {
            if (!s->slots[i].req || s->slots[i].out_idx == -1)
                continue; /* not in this batch */
            if (st != CRIA_OK)
                finish(s, s->slots[i].req, i, CRIA_FINISH_ERROR, &e);
            else if (s->slots[i].out_idx >= 0)
                n_gen += sample_slot(s, i, now);
        }
        pthread_mutex_lock(&s->mu);
        s->stats.n_steps++;
        s->stats.t_decode_us += now - t0;
        s->stats.n_gen_tokens += n_gen;
        pthread_mutex_unlock(&s->mu);
    }
    if (busy) {
        pthread_mutex_lock(&s->mu);
        *busy = s->q_len > 0 || s->stats.n_running > 0 || s->cancelled;
        pthread_mutex_unlock(&s->mu);
    }
    return CRIA_OK;
}

cria_status cria_sched_run(cria_sched *s, bool until_idle, cria_error *err)
{
    for (;;) {
        bool busy = false;
        cria_status st = cria_sched_step(s, &busy, err);
        if (st != CRIA_OK)
            return st;
        pthread_mutex_lock(&s->mu);
        if (!busy && !until_idle) {
            while (!s->stop && s->q_len == 0 && !s->cancelled)
                pthread_cond_wait(&s->cv, &s->mu);
        }
        const bool done = s->stop || (!busy && until_idle);
        pthread_mutex_unlock(&s->mu);
        if (done)
            return CRIA_OK;
    }
}

void cria_sched_free(cria_sched *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    sched_req *gone = s->cancelled;
    s->cancelled = NULL;
    while (s->q_len > 0) {
        sched_req *r = s->queue[s->q_head];
        s->q_head = (s->q_head + 1) % s->params.max_queue;
        s->q_len--;
        r->next = gone;
        gone = r;
    }
    s->stats.n_queued = 0;
    pthread_mutex_unlock(&s->mu);
    while (gone) {
        sched_req *next = gone->next;
        finish(s, gone, -1, CRIA_FINISH_CANCELLED, NULL);
        gone = next;
    }
    for (int32_t i = 0; i < s->params.n_slots; i++) {
        if (s->slots[i].req)
            finish(s, s->slots[i].req, i, CRIA_FINISH_CANCELLED, NULL);
    }
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    cria_batch_free(&s->batch);
    free(s->lp_buf);
    free(s->slots);
    free(s->cancel_flag);
    free(s->queue);
    free(s);
}
