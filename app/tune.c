/*
 * cria tune: searches this machine's best settings for one model
 * (src/bench/tune.c), prints the table it measured on stdout with a progress
 * line on stderr, and saves the winner as the tuning file that run, bench,
 * batch and serve then load for the same CPU and model shape.
 */
#include "tune.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "args.h"
#include "bench/tune.h"
#include "commands.h"

static void tune_usage(FILE *f)
{
    fprintf(f,
            "usage: cria tune -m MODEL [--quick|--full] [-o FILE]\n"
            "\n"
            "Measures, for this machine and this model shape: threads for prompt processing (-tb) and for\n"
            "generation (-t), --poll, the N sequences x T threads split with the best aggregate generation\n"
            "throughput, and the least work per thread from which matmul and attention gain from running on\n"
            "several threads. Prints the table and saves the winner; cria run, bench, batch and serve then\n"
            "use it for the same CPU and model shape (and say so), unless given -t/-tb/--poll or --no-tune.\n"
            "\n"
            "  -m, --model FILE   GGUF model or llama2.c checkpoint\n"
            "      --vocab FILE   tokenizer.bin for a llama2.c checkpoint\n"
            "      --quick        short tests, 2 rounds (the default; well under a minute on a\n"
            "                     stories110M-shaped model)\n"
            "      --full         longer tests, 3 rounds, every poll step, splits of all logical CPUs\n"
            "  -t, --threads N    most threads to try (default: physical cores; --full: logical CPUs)\n"
            "  -o, --output FILE  save the tuning file here instead of the tuning folder\n"
            "      --no-save      print the table, save nothing\n"
            "  -h, --help         this help\n"
            "\n"
            "Tuning folder: $CRIA_TUNE_DIR, else $XDG_CACHE_HOME/cria/tune, else ~/.cache/cria/tune;\n"
            "one file per CPU model (and CPU count) and model shape (dimensions and weight type).\n");
}

typedef struct tune_opts {
    const char *model, *vocab, *out;
    bool full, no_save;
    int32_t max_threads;
} tune_opts;

/* Parses argv into o; returns 0 to go on, 1 on an error, -1 when help was printed. */
static int parse_tune_args(int argc, char **argv, tune_opts *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            tune_usage(stdout);
            return -1;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            ok = cria_arg_str(argc, argv, &i, &o->model);
        } else if (!strcmp(a, "--vocab")) {
            ok = cria_arg_str(argc, argv, &i, &o->vocab);
        } else if (!strcmp(a, "--quick")) {
            o->full = false;
        } else if (!strcmp(a, "--full")) {
            o->full = true;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 64, &o->max_threads);
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            ok = cria_arg_str(argc, argv, &i, &o->out);
        } else if (!strcmp(a, "--no-save")) {
            o->no_save = true;
        } else {
            cria_app_error("unknown option '%s' (see cria tune -h)", a);
            ok = false;
        }
        if (!ok)
            return 1;
    }
    if (!o->model) {
        cria_app_error("no model given: use -m FILE (see cria tune -h)");
        return 1;
    }
    if (o->out && o->no_save) {
        cria_app_error("-o and --no-save contradict each other");
        return 1;
    }
    return 0;
}

/* The progress line: rewritten in place on a terminal, one line per step otherwise. */
static void show_progress(const char *line, void *user)
{
    (void)user;
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\r\033[K%s", line);
    else
        fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

int cria_cmd_tune(int argc, char **argv)
{
    tune_opts o;
    int rc = parse_tune_args(argc, argv, &o);
    if (rc != 0)
        return rc < 0 ? 0 : 1;
    cria_tuning *t = malloc(sizeof *t);
    if (!t) {
        cria_app_error("out of memory");
        return 1;
    }
    cria_tune_params tp = {.model = o.model, .vocab = o.vocab, .full = o.full, .max_threads = o.max_threads,
                           .progress = show_progress};
    cria_error err;
    rc = 1;
    if (cria_tune_run(&tp, t, &err) != CRIA_OK) {
        if (isatty(STDERR_FILENO))
            fputc('\n', stderr);
        cria_app_error("%s", err.msg);
        goto done;
    }
    if (isatty(STDERR_FILENO))
        fputc('\n', stderr);
    cria_tuning_print(stdout, t);
    fflush(stdout);
    fprintf(stderr, "tune: %s search took %.1f s\n", t->mode, t->seconds);
    if (!o.no_save) {
        char path[1200];
        if (o.out)
            snprintf(path, sizeof path, "%s", o.out);
        else if (cria_tune_path(t->cpu, t->shape, path, sizeof path, &err) != CRIA_OK) {
            cria_app_error("%s", err.msg);
            goto done;
        }
        if (cria_tunefile_write(path, t, &err) != CRIA_OK) {
            cria_app_error("%s", err.msg);
            goto done;
        }
        fprintf(stderr, "tune: saved %s\n", path);
    }
    rc = 0;
done:
    free(t);
    return rc;
}

bool cria_app_tune_load(const cria_model *model, bool quiet, cria_tuning *t)
{
    char cpu[160], shape[160], path[1200];
    cria_tune_cpu_key(cpu, sizeof cpu);
    cria_tune_shape_key(model, shape, sizeof shape);
    cria_error why;
    switch (cria_tunefile_lookup(cpu, shape, t, path, sizeof path, &why)) {
    case CRIA_TUNE_LOADED:
        if (!quiet) {
            char spec[96];
            cria_tune_thresholds_spec(t, spec, sizeof spec);
            fprintf(stderr, "tune: using %s (-t %d -tb %d --poll %d, thresholds %s; flags override, --no-tune ignores it)\n",
                    path, t->n_threads, t->n_threads_batch, t->poll, spec);
        }
        return true;
    case CRIA_TUNE_IGNORED:
        if (!quiet)
            fprintf(stderr, "warning: %s: ignored (run cria tune again, or delete it)\n", why.msg);
        return false;
    case CRIA_TUNE_NONE:
        break;
    }
    return false;
}
