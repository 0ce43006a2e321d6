/*
 * cria serve's HTTP front (http.h): the libmicrohttpd daemon, routing,
 * authentication, body limits, the small endpoints (health, models,
 * metrics, tokenize, detokenize), and start and stop. The generation
 * endpoints live in generate.c.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/error.h"
#include "model/model.h"
#include "server/http_impl.h"
#include "tokenizer/vocab.h"

#define STOP_DRAIN_MS 3000

typedef enum MHD_Result (*route_fn)(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr);

typedef struct route {
    const char *path, *method;
    route_fn fn;
    bool auth; /* needs the API key when one is set */
} route;

cria_server_params cria_server_default_params(void)
{
    return (cria_server_params){
        .host = "127.0.0.1",
        .port = 8080,
        .timeout_s = 600,
        .max_body = 1 << 20,
        .chat_template = CRIA_CHAT_CHATML,
        .sched = cria_sched_default_params(),
    };
}

/* ---- responses ------------------------------------------------------------------------ */

enum MHD_Result cria_http_send(struct MHD_Connection *c, cria_http_req *hr, int status, const char *content_type,
                               char *body, size_t len)
{
    static char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\",\"code\":null}}";
    struct MHD_Response *r;
    if (body) {
        r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
        if (!r)
            free(body);
    } else {
        status = 500;
        content_type = "application/json";
        r = MHD_create_response_from_buffer(sizeof oom - 1, oom, MHD_RESPMEM_PERSISTENT);
    }
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, "Content-Type", content_type);
    if (status == 401)
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    if (status == 405 && hr->allow)
        MHD_add_response_header(r, "Allow", hr->allow);
    const enum MHD_Result q = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    hr->status = status;
    hr->responded = true;
    return q;
}

enum MHD_Result cria_http_send_error(struct MHD_Connection *c, cria_http_req *hr, const cria_api_error *e)
{
    char *b = cria_api_error_json(e);
    return cria_http_send(c, hr, e->status, "application/json", b, b ? strlen(b) : 0);
}

static enum MHD_Result send_json(struct MHD_Connection *c, cria_http_req *hr, cJSON *root)
{
    char *s = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return cria_http_send(c, hr, 200, "application/json", s, s ? strlen(s) : 0);
}

/* The body as a JSON object, or NULL after queueing a 400. */
static cJSON *parse_body(struct MHD_Connection *c, cria_http_req *hr, enum MHD_Result *q)
{
    cria_api_error e;
    cJSON *root = cJSON_ParseWithLength(hr->body ? hr->body : "", hr->len);
    if (!root)
        cria_api_fail(&e, 400, "invalid_request_error", NULL, "the body is not valid JSON");
    else if (!cJSON_IsObject(root))
        cria_api_fail(&e, 400, "invalid_request_error", NULL, "the body must be a JSON object");
    else
        return root;
    cJSON_Delete(root);
    *q = cria_http_send_error(c, hr, &e);
    return NULL;
}

/* ---- small endpoints ------------------------------------------------------------------ */

static enum MHD_Result h_health(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr)
{
    (void)srv;
    static const char ok[] = "{\"status\":\"ok\"}";
    char *b = malloc(sizeof ok);
    if (b)
        memcpy(b, ok, sizeof ok);
    return cria_http_send(c, hr, 200, "application/json", b, sizeof ok - 1);
}

static enum MHD_Result h_models(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr)
{
    cria_model_info mi;
    cria_model_get_info(srv->model, &mi);
    cJSON *root = cJSON_CreateObject();
    cJSON *data = cJSON_AddArrayToObject(root, "data"), *m = cJSON_CreateObject();
    if (!data || !m || !cJSON_AddItemToArray(data, m)) {
        cJSON_Delete(m);
        cJSON_Delete(root);
        return send_json(c, hr, NULL);
    }
    cJSON *meta = cJSON_AddObjectToObject(m, "meta");
    bool ok = meta && cJSON_AddStringToObject(root, "object", "list") &&
              cJSON_AddStringToObject(m, "id", srv->model_name) && cJSON_AddStringToObject(m, "object", "model") &&
              cJSON_AddNumberToObject(m, "created", (double)srv->created) &&
              cJSON_AddStringToObject(m, "owned_by", "cria") && cJSON_AddStringToObject(meta, "arch", mi.arch) &&
              cJSON_AddNumberToObject(meta, "n_vocab", mi.n_vocab) &&
              cJSON_AddNumberToObject(meta, "n_ctx_train", mi.n_ctx_train) &&
              cJSON_AddNumberToObject(meta, "n_ctx_slot", srv->slot_ctx) &&
              cJSON_AddNumberToObject(meta, "n_slots", srv->p.sched.n_slots) &&
              cJSON_AddNumberToObject(meta, "n_params", (double)mi.n_params) &&
              cJSON_AddStringToObject(meta, "chat_template", cria_chat_template_name(srv->p.chat_template));
    if (!ok) {
        cJSON_Delete(root);
        root = NULL;
    }
    return send_json(c, hr, root);
}

/* Appends one Prometheus sample (with its HELP and TYPE lines) to buf; false when it did not fit. */
static bool metric(char *buf, size_t cap, size_t *len, const char *name, const char *type, const char *help,
                   double v)
{
    const int n = snprintf(buf + *len, cap - *len, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", name, help, name, type,
                           name, v);
    if (n < 0 || (size_t)n >= cap - *len)
        return false;
    *len += (size_t)n;
    return true;
}

static enum MHD_Result h_metrics(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr)
{
    cria_sched_stats st = {0};
    pthread_mutex_lock(&srv->mu);
    if (srv->sched)
        cria_sched_get_stats(srv->sched, &st);
    pthread_mutex_unlock(&srv->mu);
    const double up = (double)(cria_time_us() - srv->t_start_us) / 1e6;
    const double dec = (double)st.t_decode_us / 1e6;
    const size_t cap = 4096;
    char *b = malloc(cap);
    size_t n = 0;
    bool ok = b != NULL;
    ok = ok && metric(b, cap, &n, "cria_http_requests_total", "counter", "HTTP requests received",
                      (double)atomic_load(&srv->n_http));
    ok = ok && metric(b, cap, &n, "cria_http_errors_total", "counter", "HTTP responses with a status >= 400",
                      (double)atomic_load(&srv->n_http_errors));
    ok = ok && metric(b, cap, &n, "cria_requests_done_total", "counter", "generation requests finished",
                      (double)st.n_done);
    ok = ok && metric(b, cap, &n, "cria_requests_cancelled_total", "counter",
                      "generation requests cancelled (client gone, stop string, shutdown)", (double)st.n_cancelled);
    ok = ok && metric(b, cap, &n, "cria_requests_errors_total", "counter", "generation requests that failed",
                      (double)st.n_errors);
    ok = ok && metric(b, cap, &n, "cria_prompt_tokens_total", "counter", "prompt tokens processed",
                      (double)st.n_prompt_tokens);
    ok = ok && metric(b, cap, &n, "cria_tokens_generated_total", "counter", "tokens generated",
                      (double)st.n_gen_tokens);
    ok = ok && metric(b, cap, &n, "cria_tokens_per_second", "gauge",
                      "generated tokens per second of forward-pass time since start",
                      dec > 0 ? (double)st.n_gen_tokens / dec : 0.0);
    ok = ok && metric(b, cap, &n, "cria_queue_depth", "gauge", "requests waiting for a slot", st.n_queued);
    ok = ok && metric(b, cap, &n, "cria_slots_busy", "gauge", "slots generating now", st.n_running);
    ok = ok && metric(b, cap, &n, "cria_slots_total", "gauge", "slots (parallel sequences)", srv->p.sched.n_slots);
    ok = ok && metric(b, cap, &n, "cria_slot_utilization", "gauge", "busy slots / slots",
                      (double)st.n_running / srv->p.sched.n_slots);
    ok = ok && metric(b, cap, &n, "cria_steps_total", "counter", "scheduler steps (forward passes)",
                      (double)st.n_steps);
    ok = ok && metric(b, cap, &n, "cria_decode_seconds_total", "counter", "time spent in forward passes", dec);
    ok = ok && metric(b, cap, &n, "cria_uptime_seconds", "gauge", "seconds since the server started", up);
    if (!ok) {
        free(b);
        b = NULL;
    }
    return cria_http_send(c, hr, 200, "text/plain; version=0.0.4", b, n);
}

static enum MHD_Result h_tokenize(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr)
{
    enum MHD_Result q = MHD_NO;
    cJSON *root = parse_body(c, hr, &q);
    if (!root)
        return q;
    cria_api_error e = {0};
    const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
    const cJSON *special = cJSON_GetObjectItemCaseSensitive(root, "add_special");
    if (!cJSON_IsString(content))
        cria_api_fail(&e, 400, "invalid_request_error", NULL, "'content' (a string) is required");
    else if (special && !cJSON_IsBool(special))
        cria_api_fail(&e, 400, "invalid_request_error", NULL, "'add_special' must be true or false");
    if (e.status) {
        cJSON_Delete(root);
        return cria_http_send_error(c, hr, &e);
    }
    const size_t len = strlen(content->valuestring);
    const int32_t cap = len < (size_t)INT32_MAX - 8 ? (int32_t)len + 8 : 0;
    cria_token *t = cap ? malloc((size_t)cap * sizeof *t) : NULL;
    const int32_t n = t ? cria_vocab_tokenize_ex(cria_model_vocab(srv->model), content->valuestring, len, t, cap,
                                                 cJSON_IsTrue(special), false)
                        : -1;
    cJSON *out = NULL;
    if (n >= 0) {
        out = cJSON_CreateObject();
        cJSON *arr = cJSON_CreateIntArray(t, n);
        if (!arr || !cJSON_AddItemToObject(out, "tokens", arr)) {
            cJSON_Delete(arr);
            cJSON_Delete(out);
            out = NULL;
        }
    }
    free(t);
    cJSON_Delete(root);
    return send_json(c, hr, out);
}

static enum MHD_Result h_detokenize(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr)
{
    enum MHD_Result q = MHD_NO;
    cJSON *root = parse_body(c, hr, &q);
    if (!root)
        return q;
    cria_api_error e = {0};
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(root, "tokens"), *it;
    if (!cJSON_IsArray(arr))
        cria_api_fail(&e, 400, "invalid_request_error", NULL, "'tokens' (an array of token ids) is required");
    const int32_t n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    cria_token *t = malloc(((size_t)n + 1) * sizeof *t);
    int32_t i = 0;
    cJSON_ArrayForEach(it, arr) {
        if (e.status || !t)
            break;
        if (!cJSON_IsNumber(it) || it->valuedouble != (double)(int32_t)it->valuedouble || it->valuedouble < 0 ||
            it->valuedouble >= srv->n_vocab)
            cria_api_fail(&e, 400, "invalid_request_error", NULL, "'tokens[%d]' is not a token id (0..%d)", i,
                          srv->n_vocab - 1);
        else
            t[i++] = (cria_token)it->valuedouble;
    }
    cJSON *out = NULL;
    if (!e.status && t) {
        const cria_vocab *v = cria_model_vocab(srv->model);
        int32_t need = cria_vocab_detokenize(v, t, n, NULL, 0);
        need = need < 0 ? -need : need;
        char *s = malloc((size_t)need + 1);
        const int32_t got = s ? cria_vocab_detokenize(v, t, n, s, (size_t)need) : -1;
        char *clean = got >= 0 ? cria_api_utf8_clean(s, (size_t)got) : NULL;
        out = clean ? cJSON_CreateObject() : NULL;
        if (out && !cJSON_AddStringToObject(out, "content", clean)) {
            cJSON_Delete(out);
            out = NULL;
        }
        free(clean);
        free(s);
    }
    free(t);
    cJSON_Delete(root);
    if (e.status)
        return cria_http_send_error(c, hr, &e);
    return send_json(c, hr, out);
}

static enum MHD_Result h_completions(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr)
{
    return cria_http_generate(srv, c, hr, false);
}

static enum MHD_Result h_chat(cria_server *srv, struct MHD_Connection *c, cria_http_req *hr)
{
    return cria_http_generate(srv, c, hr, true);
}

static const route routes[] = {
    {"/health", "GET", h_health, false},
    {"/v1/health", "GET", h_health, false},
    {"/v1/models", "GET", h_models, true},
    {"/models", "GET", h_models, true},
    {"/v1/completions", "POST", h_completions, true},
    {"/completions", "POST", h_completions, true},
    {"/v1/chat/completions", "POST", h_chat, true},
    {"/chat/completions", "POST", h_chat, true},
    {"/tokenize", "POST", h_tokenize, true},
    {"/detokenize", "POST", h_detokenize, true},
    {"/metrics", "GET", h_metrics, true},
};
#define N_ROUTES (sizeof routes / sizeof routes[0])

/* ---- the access handler --------------------------------------------------------------- */

static bool key_ok(const cria_server *srv, struct MHD_Connection *c)
{
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7))
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    /* constant time in the key's length, so the comparison does not leak a prefix */
    const size_t n = strlen(srv->api_key), m = strlen(h);
    unsigned diff = (unsigned)(n != m);
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)(srv->api_key[i] ^ (i < m ? h[i] : 0));
    return diff == 0;
}

/*
 * Decides what the first call of a request can: its route, or the error it
 * gets (404, 405, 401, 413 by Content-Length). Returns the route, or NULL
 * with *e filled.
 */
static const route *classify(const cria_server *srv, struct MHD_Connection *c, cria_http_req *hr, const char *url,
                             const char *method, cria_api_error *e)
{
    const route *by_path = NULL;
    for (size_t i = 0; i < N_ROUTES; i++) {
        if (strcmp(url, routes[i].path))
            continue;
        by_path = &routes[i];
        if (!strcmp(method, routes[i].method))
            break;
    }
    if (!by_path) {
        cria_api_fail(e, 404, "not_found_error", "not_found", "no such endpoint: %s %s", method, url);
        return NULL;
    }
    if (strcmp(method, by_path->method)) {
        hr->allow = by_path->method;
        cria_api_fail(e, 405, "invalid_request_error", "method_not_allowed", "%s takes %s, not %s", url,
                      by_path->method, method);
        return NULL;
    }
    if (by_path->auth && srv->api_key && !key_ok(srv, c)) {
        cria_api_fail(e, 401, "authentication_error", "invalid_api_key",
                      "missing or wrong API key: send \"Authorization: Bearer KEY\"");
        return NULL;
    }
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > srv->p.max_body) {
        cria_api_fail(e, 413, "invalid_request_error", "request_too_large",
                      "the body is larger than this server's limit of %zu bytes", srv->p.max_body);
        return NULL;
    }
    return by_path;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    cria_server *srv = cls;
    cria_http_req *hr = *con_cls;
    if (!hr) {
        hr = calloc(1, sizeof *hr);
        if (!hr)
            return MHD_NO;
        *con_cls = hr;
        hr->t0_us = cria_time_us();
        snprintf(hr->method, sizeof hr->method, "%s", method);
        snprintf(hr->url, sizeof hr->url, "%s", url);
        atomic_fetch_add(&srv->n_http, 1);
        atomic_fetch_add(&srv->n_inflight, 1);
        cria_api_error e;
        if (!classify(srv, c, hr, url, method, &e))
            return cria_http_send_error(c, hr, &e); /* at once: no body is read (nor 100 Continue sent) */
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body */
        const size_t n = *upload_size;
        *upload_size = 0;
        if (hr->responded || hr->too_big)
            return MHD_YES;
        if (hr->len + n > srv->p.max_body) { /* chunked bodies have no Content-Length to check first */
            hr->too_big = true;
            free(hr->body);
            hr->body = NULL;
            return MHD_YES;
        }
        if (hr->len + n + 1 > hr->cap) {
            size_t cap = hr->cap ? hr->cap : 4096;
            while (cap < hr->len + n + 1)
                cap *= 2;
            char *p = realloc(hr->body, cap);
            if (!p)
                return MHD_NO;
            hr->body = p;
            hr->cap = cap;
        }
        memcpy(hr->body + hr->len, upload, n);
        hr->len += n;
        hr->body[hr->len] = '\0';
        return MHD_YES;
    }
    if (hr->responded)
        return MHD_YES;
    cria_api_error e;
    const route *rt = classify(srv, c, hr, url, method, &e);
    if (!rt)
        return cria_http_send_error(c, hr, &e);
    if (hr->too_big) {
        cria_api_fail(&e, 413, "invalid_request_error", "request_too_large",
                      "the body is larger than this server's limit of %zu bytes", srv->p.max_body);
        return cria_http_send_error(c, hr, &e);
    }
    return rt->fn(srv, c, hr);
}

/* Logs and frees a request's state once libmicrohttpd is done with it. */
static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void)c;
    cria_server *srv = cls;
    cria_http_req *hr = *con_cls;
    if (!hr)
        return;
    atomic_fetch_sub(&srv->n_inflight, 1);
    if (hr->status >= 400)
        atomic_fetch_add(&srv->n_http_errors, 1);
    if (srv->p.log)
        fprintf(srv->p.log, "serve: %s %s %d %.1f ms%s\n", hr->method, hr->url, hr->status,
                (double)(cria_time_us() - hr->t0_us) / 1e3,
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed early)");
    free(hr->body);
    free(hr);
    *con_cls = NULL;
}

/* ---- start and stop ------------------------------------------------------------------- */

static void *stepper_main(void *arg)
{
    cria_server *srv = arg;
    cria_error err;
    if (cria_sched_run(srv->sched, false, &err) != CRIA_OK && srv->p.log)
        fprintf(srv->p.log, "serve: the scheduler stopped: %s\n", err.msg);
    return NULL;
}

static char *dup_opt(const char *s)
{
    if (!s || !*s)
        return NULL;
    const size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

/* The -inf logit bias of every end-of-generation token, for requests with ignore_eos. */
static bool make_eog_bias(cria_server *srv)
{
    int32_t n = 0;
    for (cria_token t = 0; t < srv->n_vocab; t++)
        n += cria_token_is_eog(srv->model, t) != 0;
    srv->eog_bias = malloc(((size_t)n + 1) * sizeof *srv->eog_bias);
    if (!srv->eog_bias)
        return false;
    for (cria_token t = 0; t < srv->n_vocab; t++) {
        if (cria_token_is_eog(srv->model, t))
            srv->eog_bias[srv->n_eog++] = (cria_logit_bias){.token = t, .bias = -__builtin_inff()};
    }
    return true;
}

/* Starts the daemon on params' host and port; false with err filled. */
static bool start_daemon(cria_server *srv, cria_error *err)
{
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE}, *ai = NULL;
    char port[16];
    snprintf(port, sizeof port, "%d", srv->p.port);
    const int rc = getaddrinfo(srv->p.host, port, &hints, &ai);
    if (rc != 0) {
        cria_err_set(err, CRIA_ERR_ARG, "cannot resolve --host %s: %s", srv->p.host, gai_strerror(rc));
        return false;
    }
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    srv->daemon = MHD_start_daemon(flags, (uint16_t)srv->p.port, NULL, NULL, on_access, srv, MHD_OPTION_SOCK_ADDR,
                                   ai->ai_addr, MHD_OPTION_NOTIFY_COMPLETED, on_completed, srv,
                                   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)srv->p.timeout_s, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (!srv->daemon) {
        cria_err_set(err, CRIA_ERR_IO, "cannot listen on %s:%d (address in use, or not this machine's?)",
                     srv->p.host, srv->p.port);
        return false;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(srv->daemon, MHD_DAEMON_INFO_BIND_PORT);
    srv->port = di ? di->port : srv->p.port;
    return true;
}

cria_status cria_server_start(const cria_model *model, cria_context *ctx, const cria_server_params *params,
                              cria_server **out, cria_error *err)
{
    *out = NULL;
    if (params->timeout_s < 1 || params->max_body < 1 || !params->host)
        return cria_err_set(err, CRIA_ERR_ARG, "server: timeout and body limit must be positive, host given");
    cria_server *srv = calloc(1, sizeof *srv);
    if (!srv)
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the server");
    srv->p = *params;
    srv->model = model;
    srv->ctx = ctx;
    pthread_mutex_init(&srv->mu, NULL);
    srv->t_start_us = cria_time_us();
    srv->created = (int64_t)time(NULL);
    atomic_store(&srv->next_id, 1);
    cria_model_info mi;
    cria_model_get_info(model, &mi);
    srv->n_vocab = mi.n_vocab;
    srv->api_key = dup_opt(params->api_key);
    srv->model_name = dup_opt(params->model_name ? params->model_name : mi.name);
    if ((params->api_key && *params->api_key && !srv->api_key) || !srv->model_name || !make_eog_bias(srv)) {
        cria_server_stop(srv);
        return cria_err_set(err, CRIA_ERR_NOMEM, "out of memory for the server");
    }
    srv->p.api_key = srv->api_key;
    srv->p.model_name = srv->model_name;
    cria_status st = cria_sched_init(model, ctx, &params->sched, &srv->sched, err);
    if (st != CRIA_OK) {
        cria_server_stop(srv);
        return st;
    }
    srv->slot_ctx = cria_sched_slot_ctx(srv->sched);
    if (pthread_create(&srv->stepper, NULL, stepper_main, srv) != 0) {
        cria_server_stop(srv);
        return cria_err_set(err, CRIA_ERR_NOMEM, "cannot start the scheduler thread");
    }
    srv->stepper_started = true;
    if (!start_daemon(srv, err)) {
        st = err ? err->status : CRIA_ERR_IO;
        cria_server_stop(srv);
        return st;
    }
    *out = srv;
    return CRIA_OK;
}

int32_t cria_server_port(const cria_server *srv)
{
    return srv->port;
}

void cria_server_stop(cria_server *srv)
{
    if (!srv)
        return;
    atomic_store(&srv->stopping, true);
    MHD_socket listen_fd = MHD_INVALID_SOCKET;
    if (srv->daemon)
        listen_fd = MHD_quiesce_daemon(srv->daemon); /* no new connections from here on */
    if (srv->stepper_started) {
        cria_sched_stop(srv->sched);
        pthread_join(srv->stepper, NULL);
    }
    /* Every queued and running request finishes as cancelled: its waiter answers 503, its stream an error event. */
    pthread_mutex_lock(&srv->mu);
    cria_sched *s = srv->sched;
    srv->sched = NULL;
    cria_sched_free(s);
    pthread_mutex_unlock(&srv->mu);
    /* Let those answers and error events go out: stopping the daemon closes connections where they are.
     * Bounded, for a client that stops reading. */
    for (int i = 0; i < STOP_DRAIN_MS / 10 && atomic_load(&srv->n_inflight) > 0; i++)
        nanosleep(&(struct timespec){.tv_nsec = 10000000L}, NULL);
    if (srv->daemon)
        MHD_stop_daemon(srv->daemon); /* waits for every connection thread */
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    pthread_mutex_destroy(&srv->mu);
    free(srv->eog_bias);
    free(srv->api_key);
    free(srv->model_name);
    free(srv);
}
