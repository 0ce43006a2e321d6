/*
 * cria serve's HTTP server: libmicrohttpd (one thread per connection) in
 * front of the request scheduler (sched.h), which steps on its own thread.
 *
 * Endpoints: GET /health, GET /v1/models, POST /v1/completions,
 * POST /v1/chat/completions (both with "stream": true as server-sent
 * events), POST /tokenize, POST /detokenize, GET /metrics (Prometheus).
 * Connection threads parse and check a request, submit it to the scheduler
 * and wait for it (or stream it) through its callbacks; a client that goes
 * away has its request cancelled. Errors are OpenAI-style JSON bodies.
 */
#ifndef CRIA_SERVER_HTTP_H
#define CRIA_SERVER_HTTP_H

#include <stdint.h>
#include <stdio.h>

#include "cria.h"
#include "server/chat.h"
#include "server/sched.h"

typedef struct cria_server cria_server;

typedef struct cria_server_params {
    const char *host;       /* address to bind (numeric or a name); "127.0.0.1" by default */
    int32_t port;           /* 0: any free port (see cria_server_port) */
    const char *api_key;    /* NULL or "": none; else every endpoint but /health wants "Authorization: Bearer KEY" */
    int32_t timeout_s;      /* idle connections are closed, and a request is cancelled, after this long */
    size_t max_body;        /* larger request bodies get 413 */
    const char *model_name; /* the id /v1/models reports */
    cria_chat_template chat_template;
    cria_sched_params sched;
    FILE *log;              /* one line per request; NULL: none */
} cria_server_params;

/* 127.0.0.1, port 8080, no key, 600 s, 1 MiB bodies, chatml, the scheduler's defaults, no log. */
cria_server_params cria_server_default_params(void);

/*
 * Creates the scheduler over ctx (borrowed, with model; both must outlive
 * the server), starts its stepping thread and the HTTP daemon. On success
 * *out serves until cria_server_stop.
 */
cria_status cria_server_start(const cria_model *model, cria_context *ctx, const cria_server_params *params,
                              cria_server **out, cria_error *err);

/* The port the server listens on (the one chosen when params.port was 0). */
int32_t cria_server_port(const cria_server *srv);

/*
 * Stops accepting connections, stops the scheduler (requests still queued or
 * running finish with a 503 error, streams with an error event), waits for
 * every connection to end and frees everything. NULL is fine.
 */
void cria_server_stop(cria_server *srv);

#endif
