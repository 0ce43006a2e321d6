/*
 * cria run: prompt in, text out, llama-cli style. stdout carries the prompt
 * and the generated text and nothing else; stderr carries load information
 * and llama-cli's timing lines, so scripts that grep them keep working.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "args.h"
#include "engine.h"
#include "sampling_args.h"
#include "base/cpu.h"
#include "commands.h"
#include "cria.h"
#include "model/profile.h"

typedef struct run_opts {
    cria_engine_opts eng; /* -m, --vocab, -t, -tb, --poll, --no-tune, --no-repack, placement; eng.quiet: quiet */
    const char *prompt, *prompt_file, *dump_logits;
    int32_t n_predict, n_ctx, n_batch;
    cria_sampling_opts smp; /* -s and every sampling option */
    bool quiet;
    bool escape; /* process escapes in the prompt (llama-cli's default) */
    bool verbose;
    bool profile; /* --profile: time per op kind after the timing lines */
} run_opts;

static void run_usage(FILE *f)
{
    fprintf(f,
            "usage: cria run -m MODEL [options]\n"
            "\n");
    cria_engine_model_usage(f);
    fprintf(f,
            "  -p, --prompt TEXT      prompt (default: empty, generation starts from BOS)\n"
            "  -f, --file FILE        read the prompt from FILE\n"
            "  -n, --n-predict N      tokens to generate (default -1: until end of text or a full context)\n"
            "  -c, --ctx-size N       context size in tokens (default 0: the model's training context)\n"
            "  -b, --batch-size N     most prompt tokens evaluated per forward pass (default 512)\n");
    cria_engine_thread_usage(f);
    fprintf(f, "\n");
    cria_sampling_usage(f);
    fprintf(f,
            "      --dump-logits FILE write the float32 logits of the last prompt position to FILE\n"
            "  -e, --escape           process \\n \\t \\r \\\\ \\\" \\' in the prompt (default)\n"
            "      --no-escape        take the prompt literally\n"
            "      --log-disable      print nothing on stderr but errors\n"
            "      --profile          after the timing lines, time per op kind (matmuls by weight, attention,\n"
            "                         rope, norms, activation, sampling, waiting at joins) in ms/token and %%,\n"
            "                         and thread syncs per token, for the prompt and for generation\n"
            "  -v, --verbose          also print the CPU topology, where each thread runs and thread syncs per token\n"
            "  -h, --help             this help\n"
            "\n"
            "Environment: CRIA_ISA=scalar|avx2|avx512 caps the instruction set used.\n");
}

/* Parses argv into o; returns 0 to go on, 1 on an error, -1 when help was printed. */
static int parse_run_args(int argc, char **argv, run_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    cria_engine_opts_init(&o->eng);
    cria_sampling_opts_init(&o->smp);
    o->escape = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            run_usage(stdout);
            return -1;
        } else if (cria_engine_arg(argc, argv, &i, &o->eng, &ok)) {
            /* -m, --vocab, -t, -tb, --poll, --no-tune, --no-repack, -C, -Cr, --cpu-strict, --prio, --numa */
        } else if (!strcmp(a, "-p") || !strcmp(a, "--prompt")) {
            ok = cria_arg_str(argc, argv, &i, &o->prompt);
        } else if (!strcmp(a, "-f") || !strcmp(a, "--file")) {
            ok = cria_arg_str(argc, argv, &i, &o->prompt_file);
        } else if (!strcmp(a, "-n") || !strcmp(a, "--n-predict")) {
            ok = cria_arg_i32(argc, argv, &i, -1, INT32_MAX, &o->n_predict);
        } else if (!strcmp(a, "-c") || !strcmp(a, "--ctx-size")) {
            ok = cria_arg_i32(argc, argv, &i, 0, 1 << 24, &o->n_ctx);
        } else if (!strcmp(a, "-b") || !strcmp(a, "--batch-size")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 1 << 24, &o->n_batch);
        } else if (cria_sampling_arg(argc, argv, &i, &o->smp, &ok)) {
            /* handled */
        } else if (!strcmp(a, "--dump-logits")) {
            ok = cria_arg_str(argc, argv, &i, &o->dump_logits);
        } else if (!strcmp(a, "--log-disable")) {
            o->quiet = true;
        } else if (!strcmp(a, "-e") || !strcmp(a, "--escape")) {
            o->escape = true;
        } else if (!strcmp(a, "--no-escape")) {
            o->escape = false;
        } else if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
            o->verbose = true;
        } else if (!strcmp(a, "--profile")) {
            o->profile = true;
        } else {
            cria_app_error("unknown option '%s' (see cria run -h)", a);
            ok = false;
        }
        if (!ok)
            return 1;
    }
    o->eng.quiet = o->quiet;
    if (!o->eng.model) {
        cria_app_error("no model given: use -m FILE (see cria run -h)");
        return 1;
    }
    if (o->prompt && o->prompt_file) {
        cria_app_error("give the prompt with -p or -f, not both");
        return 1;
    }
    return 0;
}

/* The log sink for stderr information: silent under --log-disable. */
static void info(const run_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(const run_opts *o, const char *fmt, ...)
{
    if (o->quiet)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
}

/* Reads a whole prompt file; NULL (after printing why) on failure. */
static char *read_prompt_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        cria_app_error("cannot open prompt file %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *grown = realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    bool failed = ferror(f);
    fclose(f);
    if (!buf || failed) {
        free(buf);
        cria_app_error("cannot read prompt file %s", path);
        return NULL;
    }
    *len = n;
    return buf;
}

static bool write_logits(const char *path, const float *logits, int32_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        cria_app_error("cannot write %s: %s", path, strerror(errno));
        return false;
    }
    bool ok = fwrite(logits, sizeof *logits, (size_t)n, f) == (size_t)n;
    ok = fclose(f) == 0 && ok;
    if (!ok)
        cria_app_error("cannot write %s", path);
    return ok;
}

/* Writes n bytes of text to stdout at once (streaming). */
static void emit(const char *s, int32_t n)
{
    if (n > 0) {
        fwrite(s, 1, (size_t)n, stdout);
        fflush(stdout);
    }
}

typedef struct run_timing {
    int64_t t_start, t_load, t_prompt, t_eval, t_sample;
    int32_t n_prompt, n_eval, n_sample;
    uint64_t syncs_prompt, syncs_eval; /* parallel regions (thread synchronisations) */
} run_timing;

static void print_timing(const run_opts *o, const run_timing *t)
{
    const double load = (double)t->t_load / 1e3, prompt = (double)t->t_prompt / 1e3;
    const double eval = (double)t->t_eval / 1e3, sample = (double)t->t_sample / 1e3;
    const double total = (double)(cria_time_us() - t->t_start) / 1e3;
#define PER(ms, n) ((n) > 0 ? (ms) / (n) : 0.0), ((ms) > 0 ? 1e3 * (n) / (ms) : 0.0)
    info(o, "\n");
    info(o, "cria_perf_sampler_print:    sampling time = %10.2f ms / %5d runs   (%8.2f ms per token, %8.2f tokens per second)\n",
         sample, t->n_sample, PER(sample, t->n_sample));
    info(o, "cria_perf_context_print:        load time = %10.2f ms\n", load);
    info(o, "cria_perf_context_print: prompt eval time = %10.2f ms / %5d tokens (%8.2f ms per token, %8.2f tokens per second)\n",
         prompt, t->n_prompt, PER(prompt, t->n_prompt));
    info(o, "cria_perf_context_print:        eval time = %10.2f ms / %5d runs   (%8.2f ms per token, %8.2f tokens per second)\n",
         eval, t->n_eval, PER(eval, t->n_eval));
    info(o, "cria_perf_context_print:       total time = %10.2f ms / %5d tokens\n", total, t->n_prompt + t->n_eval);
    if (o->verbose)
        info(o, "cria_perf_context_print:     thread syncs = %llu prompt (%.1f per token), %llu eval (%.1f per token)\n",
             (unsigned long long)t->syncs_prompt, t->n_prompt ? (double)t->syncs_prompt / t->n_prompt : 0.0,
             (unsigned long long)t->syncs_eval, t->n_eval ? (double)t->syncs_eval / t->n_eval : 0.0);
#undef PER
}

/* Evaluates the prompt in batches of n_batch tokens; logits for the last one. */
static bool eval_prompt(cria_context *ctx, cria_batch *batch, int32_t n_batch, const cria_token *toks, int32_t n)
{
    for (int32_t start = 0; start < n; start += n_batch) {
        int32_t m = n - start < n_batch ? n - start : n_batch;
        batch->n_tokens = m;
        for (int32_t i = 0; i < m; i++) {
            batch->token[i] = toks[start + i];
            batch->pos[i] = start + i;
            batch->seq_id[i] = 0;
            batch->logits[i] = start + i == n - 1;
        }
        cria_error err;
        if (cria_decode(ctx, batch, &err) != CRIA_OK) {
            cria_app_error("%s", err.msg);
            return false;
        }
    }
    return true;
}

/* Prints the sampler settings and chain on stderr, as llama-cli does. */
static void print_sampler(const run_opts *o, const cria_sampler_params *sp, const cria_sampler *smpl)
{
    info(o, "sampler seed: %llu\n", (unsigned long long)sp->seed);
    info(o, "sampler params: repeat_last_n = %d, repeat_penalty = %.3f, frequency_penalty = %.3f, "
            "presence_penalty = %.3f\n\tdry_multiplier = %.3f, dry_base = %.3f, dry_allowed_length = %d, "
            "dry_penalty_last_n = %d\n\ttop_k = %d, top_p = %.3f, min_p = %.3f, xtc_probability = %.3f, "
            "xtc_threshold = %.3f, typical_p = %.3f, top_n_sigma = %.3f, temp = %.3f\n\tmirostat = %d, "
            "mirostat_lr = %.3f, mirostat_ent = %.3f\n",
         sp->penalty_last_n, (double)sp->penalty_repeat, (double)sp->penalty_freq, (double)sp->penalty_present,
         (double)sp->dry_multiplier, (double)sp->dry_base, sp->dry_allowed_length, sp->dry_penalty_last_n,
         sp->top_k, (double)sp->top_p, (double)sp->min_p, (double)sp->xtc_probability, (double)sp->xtc_threshold,
         (double)sp->typical_p, (double)sp->top_n_sigma, (double)sp->temp, sp->mirostat, (double)sp->mirostat_eta,
         (double)sp->mirostat_tau);
    info(o, "sampler chain: logits");
    for (int32_t i = 0; i < cria_sampler_chain_n(smpl); i++)
        info(o, " -> %s", cria_sampler_name(cria_sampler_chain_get(smpl, i)));
    info(o, "\n");
}

/* Builds the sampler chain of o's options and prints it (before the prompt, as llama-cli); NULL on failure. */
static cria_sampler *make_sampler(const run_opts *o, const cria_model *model, const cria_context *ctx)
{
    cria_sampler_params sp;
    cria_logit_bias *bias = cria_sampling_resolve(&o->smp, model, &sp);
    if (!bias) {
        cria_app_error("out of memory for the logit biases");
        return NULL;
    }
    cria_model_info mi;
    cria_model_get_info(model, &mi);
    cria_sampler *smpl = cria_sampler_chain_from_params(&sp, model, mi.n_vocab, cria_n_ctx(ctx));
    free(bias); /* the chain keeps its own copy */
    if (!smpl)
        cria_app_error("cannot build the sampler chain (out of memory)");
    else
        print_sampler(o, &sp, smpl);
    return smpl;
}

/* Generates up to n_predict tokens after the prompt with smpl (borrowed); prints them as they come. */
static bool generate(const run_opts *o, const cria_model *model, cria_context *ctx, cria_batch *batch,
                     cria_sampler *smpl, const cria_token *prompt, int32_t n_prompt, run_timing *tm)
{
    cria_model_info mi;
    cria_model_get_info(model, &mi);
    for (int32_t i = 0; i < n_prompt; i++) /* penalties and DRY see the prompt as history */
        cria_sampler_accept(smpl, prompt[i]);
    cria_detok detok;
    cria_detok_init(&detok, model);
    char piece[256];
    const float *logits = cria_get_logits_ith(ctx, batch->n_tokens - 1);
    int32_t pos = n_prompt;
    bool ok = true;
    for (int32_t n = 0; o->n_predict < 0 || n < o->n_predict; n++) {
        int64_t t0 = cria_time_us();
        cria_token tok = cria_sampler_sample(smpl, logits, mi.n_vocab);
        tm->t_sample += cria_time_us() - t0;
        tm->n_sample++;
        if (tok < 0) {
            cria_app_error("out of memory in the sampler");
            ok = false;
            break;
        }
        if (cria_token_is_eog(model, tok))
            break;
        int32_t len = cria_detok_push(&detok, tok, piece, (int32_t)sizeof piece);
        emit(piece, len);
        if (o->n_predict >= 0 && n + 1 == o->n_predict)
            break;
        if (pos >= cria_n_ctx(ctx)) {
            info(o, "\n[context full after %d tokens: stopping]\n", pos);
            break;
        }
        batch->n_tokens = 1;
        batch->token[0] = tok;
        batch->pos[0] = pos++;
        batch->seq_id[0] = 0;
        batch->logits[0] = 1;
        cria_error err;
        t0 = cria_time_us();
        if (cria_decode(ctx, batch, &err) != CRIA_OK) {
            cria_app_error("%s", err.msg);
            ok = false;
            break;
        }
        tm->t_eval += cria_time_us() - t0;
        tm->n_eval++;
        logits = cria_get_logits_ith(ctx, 0);
    }
    int32_t len = cria_detok_flush(&detok, piece, (int32_t)sizeof piece);
    emit(piece, len);
    return ok;
}

int cria_cmd_run(int argc, char **argv)
{
    run_opts o;
    int rc = parse_run_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : 1;

    run_timing tm = {.t_start = cria_time_us()};
    size_t prompt_len = 0;
    char *prompt_buf = NULL;
    if (o.prompt_file) {
        prompt_buf = read_prompt_file(o.prompt_file, &prompt_len);
    } else {
        prompt_len = o.prompt ? strlen(o.prompt) : 0;
        prompt_buf = malloc(prompt_len + 1);
        if (prompt_buf)
            memcpy(prompt_buf, o.prompt ? o.prompt : "", prompt_len + 1);
        else
            cria_app_error("out of memory for the prompt");
    }
    if (!prompt_buf)
        return 1;
    if (o.escape)
        prompt_len = cria_unescape(prompt_buf, prompt_len);
    const char *prompt = prompt_buf;

    cria_model *model = NULL;
    cria_context *ctx = NULL;
    cria_engine eng = {0};
    cria_token *toks = NULL;
    cria_batch batch = {0};
    cria_sampler *smpl = NULL;
    cria_error err;
    rc = 1;
    if (!cria_engine_open(&o.eng, &eng))
        goto done;
    model = eng.model;
    cria_model_info mi;
    cria_model_get_info(model, &mi);
    cria_context_params cp = cria_context_default_params();
    cria_engine_context_params(&eng, &cp);
    cp.n_ctx = o.n_ctx;
    cp.n_batch = o.n_batch;
    if (cria_context_init(model, &cp, &ctx, &err) != CRIA_OK) {
        cria_app_error("%s: %s%s", o.eng.model, err.msg,
                       o.n_ctx == 0 ? " (the default context is the model's training context: give a smaller -c)" : "");
        goto done;
    }
    tm.t_load = cria_time_us() - tm.t_start;
    if (o.profile)
        cria_context_set_profile(ctx, true);
    const int32_t n_ctx = cria_n_ctx(ctx);
    info(&o, "model: %s (%s), %.2f M parameters, %.2f MiB of weights\n", mi.name, mi.arch, (double)mi.n_params / 1e6,
         (double)mi.weight_bytes / (1024.0 * 1024.0));
    info(&o, "model: n_vocab %d, n_embd %d, n_ff %d, n_layer %d, n_head %d, n_head_kv %d, n_ctx_train %d, %s output\n",
         mi.n_vocab, mi.n_embd, mi.n_ff, mi.n_layer, mi.n_head, mi.n_head_kv, mi.n_ctx_train,
         mi.tied_output ? "tied" : "separate");
    info(&o, "context: n_ctx %d, threads %d (batch %d), poll %d, simd %s\n", n_ctx, eng.n_threads, eng.n_threads_batch,
         eng.poll, cria_isa_name(cria_isa_active()));
    if (o.verbose && !o.quiet) {
        int32_t on_cpu[1024];
        int32_t n_on = cria_context_thread_cpus(ctx, on_cpu, 1024);
        cria_placement_print(eng.placement, on_cpu, n_on, stderr);
    }

    /* Tokenize: BOS + prompt. A prompt cannot hold more tokens than bytes, plus BOS. */
    if (prompt_len > (size_t)INT32_MAX - 2) {
        cria_app_error("prompt is too long");
        goto done;
    }
    int32_t cap = (int32_t)prompt_len + 2;
    toks = malloc((size_t)cap * sizeof *toks);
    if (!toks) {
        cria_app_error("out of memory for the prompt");
        goto done;
    }
    int32_t n_prompt = cria_tokenize(model, prompt, prompt_len, toks, cap, 1);
    if (n_prompt < 0) { /* a vocabulary without a space token can need more ids than bytes */
        cap = -n_prompt;
        cria_token *grown = realloc(toks, (size_t)cap * sizeof *toks);
        if (!grown) {
            cria_app_error("out of memory for the prompt");
            goto done;
        }
        toks = grown;
        n_prompt = cria_tokenize(model, prompt, prompt_len, toks, cap, 1);
    }
    if (n_prompt <= 0) {
        cria_app_error("cannot tokenize the prompt");
        goto done;
    }
    if (n_prompt > n_ctx) {
        cria_app_error("prompt is too long: %d tokens, the context holds %d (raise -c)", n_prompt, n_ctx);
        goto done;
    }
    int32_t n_batch = o.n_batch > 0 ? o.n_batch : (n_ctx < 512 ? n_ctx : 512);
    if (n_batch > n_ctx)
        n_batch = n_ctx;
    batch = cria_batch_init(n_batch);
    if (!batch.token) {
        cria_app_error("out of memory for a batch of %d", n_batch);
        goto done;
    }

    smpl = make_sampler(&o, model, ctx);
    if (!smpl)
        goto done;
    emit(prompt, (int32_t)prompt_len);
    int64_t t0 = cria_time_us();
    uint64_t syncs0 = cria_context_n_syncs(ctx);
    const cria_profile prof0 = cria_context_profile(ctx);
    if (!eval_prompt(ctx, &batch, n_batch, toks, n_prompt))
        goto done;
    const cria_profile prof1 = cria_context_profile(ctx);
    tm.t_prompt = cria_time_us() - t0;
    tm.syncs_prompt = cria_context_n_syncs(ctx) - syncs0;
    tm.n_prompt = n_prompt;
    if (o.dump_logits && !write_logits(o.dump_logits, cria_get_logits_ith(ctx, batch.n_tokens - 1), mi.n_vocab))
        goto done;
    if (!generate(&o, model, ctx, &batch, smpl, toks, n_prompt, &tm))
        goto done;
    fputc('\n', stdout);
    fflush(stdout);
    tm.syncs_eval = cria_context_n_syncs(ctx) - syncs0 - tm.syncs_prompt;
    print_timing(&o, &tm);
    if (o.profile) { /* asked for: printed even under --log-disable */
        const cria_profile prof2 = cria_context_profile(ctx);
        cria_profile prompt_prof = cria_profile_diff(&prof1, &prof0), gen_prof = cria_profile_diff(&prof2, &prof1);
        gen_prof.ns[CRIA_PROF_SAMPLE] = tm.t_sample * 1000;
        cria_profile_print(stderr, "prompt", &prompt_prof);
        if (gen_prof.n_tokens > 0) /* -n 1 or an immediate end of text: nothing was decoded after the prompt */
            cria_profile_print(stderr, "generation", &gen_prof);
    }
    rc = 0;
done:
    cria_sampler_free(smpl);
    cria_batch_free(&batch);
    free(toks);
    cria_context_free(ctx);
    cria_engine_close(&eng);
    free(prompt_buf);
    return rc;
}
