/*
 * Shared between the HTTP front (http.c) and the generation endpoints
 * (generate.c): the server's state, one HTTP request's state, and the
 * response helpers. Not a public header.
 */
#ifndef CRIA_SERVER_HTTP_IMPL_H
#define CRIA_SERVER_HTTP_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "server/api.h"
#include "server/http.h"

struct cria_server {
    cria_server_params p;
    char *api_key, *model_name;     /* copies */
    const cria_model *model;
    cria_context *ctx;
    /* The scheduler; NULL once stopped. HTTP threads use it only under mu,
     * and never while holding a generation request's lock. */
    cria_sched *sched;
    pthread_mutex_t mu;
    pthread_t stepper;
    bool stepper_started;
    struct MHD_Daemon *daemon;
    int32_t port, slot_ctx, n_vocab;
    cria_logit_bias *eog_bias;      /* -inf on every end-of-generation token, for ignore_eos */
    int32_t n_eog;
    atomic_bool stopping;
    atomic_uint_fast64_t n_http, n_http_errors, next_id;
    atomic_int n_inflight;          /* HTTP requests begun and not yet completed (answered or dropped) */
    int64_t t_start_us, created;    /* monotonic start; unix seconds */
};

/* One HTTP request, from its first call of the access handler to its completion. */
typedef struct cria_http_req {
    char method[8];
    char url[128];
    int status;         /* the response's, once queued */
    bool responded;
    bool too_big;
    const char *allow;  /* the method a 405 names */
    char *body;
    size_t len, cap;
    int64_t t0_us;
} cria_http_req;

/* Queues body (malloc'd, taken over; NULL: a 500 out of memory) as the response. */
enum MHD_Result cria_http_send(struct MHD_Connection *c, cria_http_req *hr, int status, const char *content_type,
                               char *body, size_t len);
/* Queues e as an OpenAI-style error body. */
enum MHD_Result cria_http_send_error(struct MHD_Connection *c, cria_http_req *hr, const cria_api_error *e);

/* POST /v1/completions (chat false) and /v1/chat/completions (generate.c). */
enum MHD_Result cria_http_generate(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr, bool chat);

#endif
