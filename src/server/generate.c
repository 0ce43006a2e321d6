/*
 * The generation endpoints of cria serve: a completion or chat request is
 * parsed, tokenized, checked against a slot's context and submitted to the
 * scheduler; then the connection thread either waits for it (one JSON
 * response) or streams it as server-sent events from a content-reader
 * callback. The scheduler's callbacks (on its stepping thread) fill a
 * gen_req under its lock and signal its condition variable.
 *
 * A gen_req has two owners: the scheduler side until on_done, and the HTTP
 * side until its response is done (or its wait is over); the last to let go
 * frees it. Stop strings are the scheduler's: it holds back any tail of the
 * text that could start one, so what on_token releases can go out at once.
 * Hang-ups are seen by polling the socket for POLLRDHUP while
 * waiting (every 20 ms), and the request is cancelled at once: the stepping
 * thread's next on_token for it returns false, so its slot is freed within
 * one step.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "model/model.h"
#include "server/http_impl.h"
#include "tokenizer/vocab.h"

#define WAIT_SLICE_MS 20

typedef enum gen_wait { WAIT_READY, WAIT_GONE, WAIT_TIMEOUT } gen_wait;

typedef struct gen_req {
    cria_server *srv;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int refs;
    int64_t id;
    cria_api_request api;
    char name[48];          /* "cmpl-N" / "chatcmpl-N" */
    int fd;                 /* the client's socket, polled for hang-ups */
    int64_t deadline_us;
    /* filled by the callbacks */
    char *text;
    size_t len, cap;
    cria_sched_logprobs *lp; /* the entries released with the text, when the request asked for logprobs */
    int32_t n_lp, lp_cap;
    bool done, oom;
    bool gone;              /* the client went away or timed out: on_token cancels */
    cria_finish_reason finish;
    int32_t n_prompt, n_gen;
    double prompt_ms, gen_ms;
    char error[512];
    /* streaming state, used by the connection thread only */
    size_t sent;
    int32_t lp_sent;
    bool first, ended;
    char *out;
    size_t out_len, out_pos;
} gen_req;

static void gen_release(gen_req *g)
{
    pthread_mutex_lock(&g->mu);
    const int refs = --g->refs;
    pthread_mutex_unlock(&g->mu);
    if (refs > 0)
        return;
    pthread_mutex_destroy(&g->mu);
    pthread_cond_destroy(&g->cv);
    cria_api_request_free(&g->api);
    free(g->text);
    free(g->lp);
    free(g->out);
    free(g);
}

/* Asks the scheduler to drop request id (no-op once the server is stopping and the scheduler is gone). */
static void gen_cancel(cria_server *srv, int64_t id)
{
    pthread_mutex_lock(&srv->mu);
    if (srv->sched)
        (void)cria_sched_cancel(srv->sched, id);
    pthread_mutex_unlock(&srv->mu);
}

/* Appends n log-probability entries; false on no memory. Under g->mu. */
static bool add_logprobs(gen_req *g, const cria_sched_logprobs *lp, int32_t n)
{
    if (n <= 0)
        return true;
    if (g->n_lp + n > g->lp_cap) {
        int32_t cap = g->lp_cap ? g->lp_cap : 32;
        while (cap < g->n_lp + n)
            cap *= 2;
        cria_sched_logprobs *p = realloc(g->lp, (size_t)cap * sizeof *p);
        if (!p)
            return false;
        g->lp = p;
        g->lp_cap = cap;
    }
    memcpy(g->lp + g->n_lp, lp, (size_t)n * sizeof *lp);
    g->n_lp += n;
    return true;
}

/*
 * Appends the released text (the scheduler holds back any tail that could
 * start a stop string) and the logprobs of the tokens whose text it completes.
 */
static bool on_token(void *user, int64_t id, cria_token t, const char *text, int32_t len,
                     const cria_sched_logprobs *lp, int32_t n_lp)
{
    (void)id;
    (void)t;
    gen_req *g = user;
    pthread_mutex_lock(&g->mu);
    bool go_on = !g->gone;
    if (go_on && !add_logprobs(g, lp, n_lp)) {
        g->oom = true;
        go_on = false;
    }
    if (go_on && n_lp > 0)
        pthread_cond_broadcast(&g->cv);
    if (go_on && len > 0) {
        if (g->len + (size_t)len + 1 > g->cap) {
            size_t cap = g->cap ? g->cap * 2 : 256;
            while (cap < g->len + (size_t)len + 1)
                cap *= 2;
            char *p = realloc(g->text, cap);
            if (!p) {
                g->oom = true;
                go_on = false;
            } else {
                g->text = p;
                g->cap = cap;
            }
        }
        if (go_on) {
            memcpy(g->text + g->len, text, (size_t)len);
            g->len += (size_t)len;
            g->text[g->len] = '\0';
            pthread_cond_broadcast(&g->cv);
        }
    }
    pthread_mutex_unlock(&g->mu);
    return go_on;
}

static void on_done(void *user, const cria_sched_result *r)
{
    gen_req *g = user;
    pthread_mutex_lock(&g->mu);
    g->done = true;
    g->finish = r->finish;
    g->n_prompt = r->n_prompt;
    g->n_gen = r->n_gen;
    g->prompt_ms = r->prompt_ms;
    g->gen_ms = r->gen_ms;
    if (r->finish == CRIA_FINISH_ERROR)
        snprintf(g->error, sizeof g->error, "%s", r->error.msg);
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
    gen_release(g);
}

static bool hung_up(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLRDHUP};
    return fd >= 0 && poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

/*
 * Waits until g is done or (streaming) has unsent text, the client hangs up
 * or the deadline passes; marks g gone in the last two cases. The caller
 * cancels the request after a WAIT_GONE or WAIT_TIMEOUT.
 */
static gen_wait gen_await(gen_req *g, bool stream)
{
    pthread_mutex_lock(&g->mu);
    int64_t next_check = cria_time_us() + WAIT_SLICE_MS * 1000;
    for (;;) {
        if (g->done || (stream && (g->len > g->sent || g->n_lp > g->lp_sent))) {
            pthread_mutex_unlock(&g->mu);
            return WAIT_READY;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += WAIT_SLICE_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&g->cv, &g->mu, &ts);
        /* every slice, also while tokens keep waking a non-streaming waiter */
        const int64_t now = cria_time_us();
        if (g->done || now < next_check)
            continue;
        next_check = now + WAIT_SLICE_MS * 1000;
        const bool gone = hung_up(g->fd), late = now > g->deadline_us;
        if (gone || late) {
            g->gone = true;
            pthread_mutex_unlock(&g->mu);
            return gone ? WAIT_GONE : WAIT_TIMEOUT;
        }
    }
}

static const char *finish_name(const gen_req *g)
{
    return g->finish == CRIA_FINISH_LENGTH ? "length" : "stop";
}

/* The error a finished request reports instead of a result; false when it has a result. Under g->mu. */
static bool gen_failed(const gen_req *g, cria_api_error *e)
{
    if (g->oom)
        return !cria_api_fail(e, 500, "server_error", NULL, "out of memory for the generated text");
    if (g->finish == CRIA_FINISH_ERROR)
        return !cria_api_fail(e, 500, "server_error", NULL, "%s", g->error);
    if (g->finish == CRIA_FINISH_CANCELLED)
        return !cria_api_fail(e, 503, "unavailable_error", "shutting_down",
                              "the server is shutting down: the request was cancelled");
    return false;
}

static int32_t token_piece(const void *user, cria_token t, char *buf, int32_t cap)
{
    return cria_token_to_piece(user, t, buf, cap);
}

/* A result over text[0, len) and the logprob entries lp[0, n_lp) (all of g's when lp is NULL). */
static cria_api_result gen_result(const gen_req *g, const char *text, size_t len, const char *finish,
                                  const cria_sched_logprobs *lp, int32_t n_lp)
{
    return (cria_api_result){
        .chat = g->api.chat,
        .id = g->name,
        .model = g->srv->model_name,
        .created = (int64_t)time(NULL),
        .text = text,
        .len = len,
        .finish = finish,
        .n_prompt = g->n_prompt,
        .n_gen = g->n_gen,
        .prompt_ms = g->prompt_ms,
        .gen_ms = g->gen_ms,
        .want_lp = g->api.logprobs,
        .lp = lp ? lp : g->lp,
        .n_lp = lp ? n_lp : g->n_lp,
        .piece = token_piece,
        .piece_user = g->srv->model,
    };
}

/* ---- streaming ------------------------------------------------------------------------ */

/* Appends n bytes (taken over, may be NULL: out of memory) to the pending output. */
static bool out_add(gen_req *g, char *s, size_t n)
{
    if (!s)
        return false;
    if (!n) {
        free(s);
        return true;
    }
    char *p = realloc(g->out, g->out_len + n);
    if (!p) {
        free(s);
        return false;
    }
    memcpy(p + g->out_len, s, n);
    free(s);
    g->out = p;
    g->out_len += n;
    return true;
}

/* Fills the pending output with the next events: new text, and the end of the stream once done. */
static void stream_next(gen_req *g)
{
    free(g->out);
    g->out = NULL;
    g->out_len = g->out_pos = 0;
    pthread_mutex_lock(&g->mu);
    const size_t safe = g->len;
    const int32_t n_lp = g->n_lp;
    bool ok = true;
    cria_api_error e;
    if (g->done && gen_failed(g, &e)) {
        char *j = cria_api_error_json(&e);
        size_t n = j ? strlen(j) : 0;
        char *ev = j ? malloc(n + 9) : NULL;
        if (ev)
            snprintf(ev, n + 9, "data: %s\n\n", j);
        free(j);
        ok = out_add(g, ev, ev ? n + 8 : 0);
        g->ended = true;
    } else {
        if (safe > g->sent || n_lp > g->lp_sent || (g->first && !g->done)) {
            static const cria_sched_logprobs none[1];
            cria_api_result r = gen_result(g, g->text + g->sent, safe - g->sent, NULL,
                                           g->lp ? g->lp + g->lp_sent : none, n_lp - g->lp_sent);
            size_t n = 0;
            char *ev = cria_api_chunk_sse(&r, g->first, &n);
            ok = out_add(g, ev, n);
            g->sent = safe;
            g->lp_sent = n_lp;
            g->first = false;
        }
        if (ok && g->done) {
            static const cria_sched_logprobs none[1];
            cria_api_result r = gen_result(g, "", 0, finish_name(g), none, 0);
            size_t n = 0;
            char *ev = cria_api_chunk_sse(&r, g->first, &n);
            ok = out_add(g, ev, n);
            static const char done[] = "data: [DONE]\n\n";
            char *d = malloc(sizeof done);
            if (d)
                memcpy(d, done, sizeof done);
            ok = ok && out_add(g, d, sizeof done - 1);
            g->ended = true;
        }
    }
    if (!ok) /* out of memory: end the stream where it is */
        g->ended = true;
    pthread_mutex_unlock(&g->mu);
}

/* libmicrohttpd's content reader: blocks (thread-per-connection) until there is something to send. */
static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    gen_req *g = cls;
    for (;;) {
        if (g->out_pos < g->out_len) {
            const size_t n = g->out_len - g->out_pos < max ? g->out_len - g->out_pos : max;
            memcpy(buf, g->out + g->out_pos, n);
            g->out_pos += n;
            return (ssize_t)n;
        }
        if (g->ended)
            return MHD_CONTENT_READER_END_OF_STREAM;
        const gen_wait w = gen_await(g, true);
        if (w != WAIT_READY) {
            gen_cancel(g->srv, g->id);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        stream_next(g);
    }
}

/* The response is done with g (sent, or the connection closed): cancel the request if it still runs. */
static void stream_free(void *cls)
{
    gen_req *g = cls;
    pthread_mutex_lock(&g->mu);
    const bool running = !g->done;
    g->gone = g->gone || running;
    pthread_mutex_unlock(&g->mu);
    if (running)
        gen_cancel(g->srv, g->id);
    gen_release(g);
}

/* ---- the endpoint --------------------------------------------------------------------- */

/* The prompt's tokens (malloc'd, BOS first) or NULL; chat prompts parse special tokens (<|im_start|>, ...). */
static cria_token *tokenize_prompt(const cria_server *srv, const cria_api_request *a, int32_t *n)
{
    if (a->prompt_len > (size_t)INT32_MAX - 8)
        return NULL;
    int32_t cap = (int32_t)a->prompt_len + 8;
    for (int k = 0; k < 2; k++) {
        cria_token *t = malloc((size_t)cap * sizeof *t);
        if (!t)
            return NULL;
        *n = cria_vocab_tokenize_ex(cria_model_vocab(srv->model), a->prompt, a->prompt_len, t, cap, true, a->chat);
        if (*n >= 0)
            return t;
        free(t);
        cap = -*n;
    }
    return NULL;
}

/* Submits g (prompt toks) to the scheduler; false with e filled when it was refused. */
static bool gen_submit(cria_server *srv, gen_req *g, const cria_token *toks, int32_t n, cria_api_error *e)
{
    cria_sched_request rq = {
        .prompt = toks,
        .n_prompt = n,
        .n_predict = g->api.max_tokens,
        .stop = (const char *const *)g->api.stop,
        .n_stop = g->api.n_stop,
        .sampling = g->api.sampling,
        .on_token = on_token,
        .on_done = on_done,
        .user = g,
        .logprobs = g->api.logprobs,
        .n_probs = g->api.n_probs,
    };
    if (g->api.ignore_eos) {
        rq.sampling.logit_bias = srv->eog_bias;
        rq.sampling.n_logit_bias = srv->n_eog;
    }
    cria_error err = {0};
    cria_status st = CRIA_ERR_BUSY;
    bool stopping = true;
    pthread_mutex_lock(&srv->mu);
    if (srv->sched && !atomic_load(&srv->stopping)) {
        stopping = false;
        st = cria_sched_submit(srv->sched, &rq, &g->id, &err);
    }
    pthread_mutex_unlock(&srv->mu);
    if (st == CRIA_OK)
        return true;
    if (stopping)
        return cria_api_fail(e, 503, "unavailable_error", "shutting_down", "the server is shutting down");
    if (st == CRIA_ERR_BUSY)
        return cria_api_fail(e, 503, "unavailable_error", "queue_full", "server busy: %s", err.msg);
    if (st == CRIA_ERR_ARG)
        return cria_api_fail(e, 400, "invalid_request_error", NULL, "%s", err.msg);
    return cria_api_fail(e, 500, "server_error", NULL, "%s", err.msg);
}

/* Checks the request against a slot's context; false with a 400 otherwise. */
static bool check_length(const cria_server *srv, const cria_api_request *a, int32_t n_prompt, cria_api_error *e)
{
    const int64_t want = (int64_t)n_prompt + (a->max_tokens > 0 ? a->max_tokens : 1);
    if (want <= srv->slot_ctx)
        return true;
    if (a->max_tokens > 0)
        return cria_api_fail(e, 400, "invalid_request_error", "context_length_exceeded",
                             "this server's context holds %d tokens per request, but %lld were requested "
                             "(%d in the prompt, %d in the completion)",
                             srv->slot_ctx, (long long)want, n_prompt, a->max_tokens);
    return cria_api_fail(e, 400, "invalid_request_error", "context_length_exceeded",
                         "the prompt is too long: %d tokens, and this server's context holds %d per request",
                         n_prompt, srv->slot_ctx);
}

/* Waits for a non-streaming request and answers with its result. */
static enum MHD_Result answer(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr, gen_req *g)
{
    const gen_wait w = gen_await(g, false);
    if (w != WAIT_READY) {
        gen_cancel(srv, g->id);
        gen_release(g);
        if (w == WAIT_GONE)
            return MHD_NO; /* nobody to answer: close */
        cria_api_error e;
        cria_api_fail(&e, 504, "timeout_error", "timeout", "the request took longer than %d s", srv->p.timeout_s);
        return cria_http_send_error(c, hr, &e);
    }
    pthread_mutex_lock(&g->mu);
    cria_api_error e;
    char *body = NULL;
    const bool failed = gen_failed(g, &e);
    if (!failed) {
        const cria_api_result r = gen_result(g, g->text ? g->text : "", g->len, finish_name(g), NULL, 0);
        body = cria_api_response_json(&r);
    }
    pthread_mutex_unlock(&g->mu);
    gen_release(g);
    if (failed)
        return cria_http_send_error(c, hr, &e);
    return cria_http_send(c, hr, 200, "application/json", body, body ? strlen(body) : 0);
}

enum MHD_Result cria_http_generate(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr, bool chat)
{
    cria_api_error e;
    gen_req *g = calloc(1, sizeof *g);
    if (!g)
        return cria_http_send(c, hr, 500, "application/json", NULL, 0);
    const uint64_t n = atomic_fetch_add(&srv->next_id, 1);
    const uint64_t seed = (uint64_t)cria_time_us() ^ (n * 0x9E3779B97F4A7C15ull);
    if (!cria_api_parse_request(hr->body ? hr->body : "", hr->len, chat, srv->p.chat_template, seed, &g->api, &e)) {
        cria_api_request_free(&g->api);
        free(g);
        return cria_http_send_error(c, hr, &e);
    }
    int32_t n_prompt = 0;
    cria_token *toks = tokenize_prompt(srv, &g->api, &n_prompt);
    bool ok = toks != NULL || cria_api_fail(&e, 500, "server_error", NULL, "cannot tokenize the prompt");
    if (ok && n_prompt == 0)
        ok = cria_api_fail(&e, 400, "invalid_request_error", NULL, "the prompt is empty");
    ok = ok && check_length(srv, &g->api, n_prompt, &e);
    if (ok) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        pthread_mutex_init(&g->mu, NULL);
        pthread_cond_init(&g->cv, NULL);
        g->srv = srv;
        g->refs = 2;
        g->first = true;
        g->fd = ci ? ci->connect_fd : -1;
        g->deadline_us = cria_time_us() + (int64_t)srv->p.timeout_s * 1000000;
        snprintf(g->name, sizeof g->name, "%s-%llu", chat ? "chatcmpl" : "cmpl", (unsigned long long)n);
        ok = gen_submit(srv, g, toks, n_prompt, &e);
        if (!ok)
            g->refs = 1;
    }
    free(toks);
    if (!ok) {
        if (g->srv)
            gen_release(g);
        else {
            cria_api_request_free(&g->api);
            free(g);
        }
        return cria_http_send_error(c, hr, &e);
    }
    if (!g->api.stream)
        return answer(srv, c, hr, g);
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, stream_read, g, stream_free);
    if (!r) {
        stream_free(g);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    const enum MHD_Result q = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    hr->status = 200;
    hr->responded = true;
    return q;
}
