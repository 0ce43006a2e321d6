/*
 * cria serve: an OpenAI-compatible HTTP server (src/server/http.h) over one
 * context shared by -np slots through continuous batching. This file reads
 * the flags, loads the model, makes the context and waits for SIGINT or
 * SIGTERM (blocked in every thread and taken with sigwait, so no handler
 * runs), then stops the server cleanly.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "engine.h"
#include "commands.h"
#include "cria.h"
#include "server/chat.h"
#include "server/http.h"

typedef struct serve_opts {
    cria_engine_opts eng; /* -m, --vocab, -t, -tb, --poll, --no-tune, --no-repack, placement */
    const char *host, *api_key, *chat_template, *alias;
    int32_t port, n_ctx, n_slots, n_batch, timeout_s, max_queue, max_body_kib;
    bool quiet;
} serve_opts;

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: cria serve -m MODEL [options]\n"
            "\n"
            "OpenAI-compatible HTTP server: POST /v1/completions, /v1/chat/completions (\"stream\": true\n"
            "for server-sent events), /tokenize, /detokenize; GET /v1/models, /health, /metrics.\n"
            "Up to -np requests share each forward pass (continuous batching).\n"
            "\n");
    cria_engine_model_usage(f);
    fprintf(f,
            "      --host ADDR        address to listen on (default 127.0.0.1)\n"
            "      --port N           port (default 8080; 0: any free port, printed on stderr)\n"
            "  -c, --ctx-size N       total context, split evenly among the -np slots (default: the model's\n"
            "                         training context per slot)\n"
            "  -np, --parallel N      requests generated at once (default 4)\n"
            "  -b, --batch-size N     most tokens per forward pass (default 512)\n");
    cria_engine_thread_usage(f);
    fprintf(f,
            "      --api-key KEY      require \"Authorization: Bearer KEY\" (all endpoints but /health)\n"
            "      --timeout S        close idle connections and cancel requests after S seconds (default 600)\n"
            "      --max-queue N      requests waiting for a slot before 503 (default 64)\n"
            "      --max-body KIB     largest request body in KiB before 413 (default 1024)\n"
            "      --chat-template T  chatml, llama2, llama3, zephyr or gemma (default: from the model's\n"
            "                         tokenizer.chat_template; chatml when it has none)\n"
            "      --alias NAME       the model id /v1/models reports (default: the model's name)\n"
            "      --log-disable      no request log on stderr\n"
            "  -h, --help             this help\n");
}

/* Parses argv into o; returns 0 to go on, 1 on an error, -1 when help was printed. */
static int parse_serve_args(int argc, char **argv, serve_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->n_slots = 4;
    o->timeout_s = 600;
    o->max_queue = 64;
    o->max_body_kib = 1024;
    cria_engine_opts_init(&o->eng);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            serve_usage(stdout);
            return -1;
        } else if (cria_engine_arg(argc, argv, &i, &o->eng, &ok)) {
            /* -m, --vocab, -t, -tb, --poll, --no-tune, --no-repack, -C, -Cr, --cpu-strict, --prio, --numa */
        } else if (!strcmp(a, "--host")) {
            ok = cria_arg_str(argc, argv, &i, &o->host);
        } else if (!strcmp(a, "--port")) {
            ok = cria_arg_i32(argc, argv, &i, 0, 65535, &o->port);
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            ok = cria_arg_i32(argc, argv, &i, 0, 1 << 24, &o->n_ctx);
        } else if (!strcmp(a, "-np") || !strcmp(a, "--parallel")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 1024, &o->n_slots);
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 1 << 24, &o->n_batch);
        } else if (!strcmp(a, "--api-key")) {
            ok = cria_arg_str(argc, argv, &i, &o->api_key);
        } else if (!strcmp(a, "--timeout")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 86400 * 7, &o->timeout_s);
        } else if (!strcmp(a, "--max-queue")) {
            ok = cria_arg_i32(argc, argv, &i, 0, 1 << 20, &o->max_queue);
        } else if (!strcmp(a, "--max-body")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 1 << 20, &o->max_body_kib);
        } else if (!strcmp(a, "--chat-template")) {
            ok = cria_arg_str(argc, argv, &i, &o->chat_template);
        } else if (!strcmp(a, "--alias")) {
            ok = cria_arg_str(argc, argv, &i, &o->alias);
        } else if (!strcmp(a, "--log-disable")) {
            o->quiet = true;
        } else {
            cria_app_error("unknown option '%s' (see cria serve -h)", a);
            ok = false;
        }
        if (!ok)
            return 1;
    }
    o->eng.quiet = o->quiet;
    if (!o->eng.model) {
        cria_app_error("no model given: use -m FILE (see cria serve -h)");
        return 1;
    }
    return 0;
}

/* The chat template: --chat-template, else the model file's family, else chatml; false after printing why. */
static bool pick_template(const serve_opts *o, cria_chat_template *t)
{
    if (o->chat_template) {
        if (cria_chat_template_from_name(o->chat_template, t))
            return true;
        cria_app_error("unknown chat template '%s' (chatml, llama2, llama3, zephyr, gemma)", o->chat_template);
        return false;
    }
    bool had = false;
    if (cria_chat_template_from_file(o->eng.model, t, &had)) {
        if (!o->quiet)
            fprintf(stderr, "serve: chat template %s (from the model's tokenizer.chat_template)\n",
                    cria_chat_template_name(*t));
        return true;
    }
    *t = CRIA_CHAT_CHATML;
    if (!o->quiet)
        fprintf(stderr, "serve: chat template chatml (%s; --chat-template to choose)\n",
                had ? "the model's tokenizer.chat_template is of no known family" : "the model file has none");
    return true;
}

int cria_cmd_serve(int argc, char **argv)
{
    serve_opts o;
    int rc = parse_serve_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : 1;
    /* SIGINT and SIGTERM are blocked here, before any thread starts, so every thread inherits the mask and
     * only sigwait below takes them. */
    sigset_t stop_sigs;
    sigemptyset(&stop_sigs);
    sigaddset(&stop_sigs, SIGINT);
    sigaddset(&stop_sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    rc = 1;
    cria_engine eng = {0};
    cria_context *ctx = NULL;
    cria_server *srv = NULL;
    cria_error err;
    cria_chat_template tmpl;
    if (!pick_template(&o, &tmpl))
        goto done;
    int32_t slot_ctx;
    if (!cria_engine_open(&o.eng, &eng) || !cria_engine_slot_ctx(&eng, o.n_ctx, o.n_slots, &slot_ctx))
        goto done;
    cria_model *model = eng.model;
    cria_model_info mi;
    cria_model_get_info(model, &mi);
    cria_context_params cp = cria_context_default_params();
    cria_engine_context_params(&eng, &cp);
    cp.n_ctx = slot_ctx * o.n_slots;
    cp.n_seq_max = o.n_slots;
    cp.n_batch = o.n_batch > 0 ? o.n_batch : 512;
    cp.n_batch = cp.n_batch < o.n_slots ? o.n_slots : cp.n_batch > cp.n_ctx ? cp.n_ctx : cp.n_batch;
    if (cria_context_init(model, &cp, &ctx, &err) != CRIA_OK) {
        cria_app_error("%s: %s", o.eng.model, err.msg);
        goto done;
    }
    cria_server_params sp = cria_server_default_params();
    sp.host = o.host;
    sp.port = o.port;
    sp.api_key = o.api_key;
    sp.timeout_s = o.timeout_s;
    sp.max_body = (size_t)o.max_body_kib * 1024;
    sp.model_name = o.alias;
    sp.chat_template = tmpl;
    sp.sched.n_slots = o.n_slots;
    sp.sched.max_queue = o.max_queue;
    sp.log = o.quiet ? NULL : stderr;
    if (cria_server_start(model, ctx, &sp, &srv, &err) != CRIA_OK) {
        cria_app_error("%s", err.msg);
        goto done;
    }
    if (!o.quiet)
        fprintf(stderr, "serve: %s, %d slots x %d tokens of context, %d threads (batch %d)\n", mi.name, o.n_slots,
                slot_ctx, eng.n_threads, eng.n_threads_batch);
    /* always printed: scripts and tests read the port from it (--port 0) */
    fprintf(stderr, "serve: listening on http://%s:%d\n", o.host, cria_server_port(srv));
    fflush(stderr);
    int sig = 0;
    sigwait(&stop_sigs, &sig);
    if (!o.quiet)
        fprintf(stderr, "serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    cria_server_stop(srv);
    rc = 0;
done:
    cria_context_free(ctx);
    cria_engine_close(&eng);
    return rc;
}
