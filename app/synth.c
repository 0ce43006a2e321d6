/* cria synth: write a random-weight llama (or bitnet) GGUF of a named or custom shape. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "cria.h"
#include "model/synth.h"
#include "quant_progress.h"

static void synth_usage(FILE *f)
{
    char names[256], types[512];
    cria_synth_shape_names(names, sizeof names);
    cria_quant_mix_names(types, sizeof types);
    fprintf(f,
            "usage: cria synth (--shape NAME | --dims D,FF,LAYERS,HEADS,KV_HEADS,CTX) [--vocab FILE] [options] OUT.gguf\n"
            "\n"
            "  --shape NAME     one of: %s\n"
            "  --dims ...       custom dimensions\n"
            "  --vocab FILE     vocabulary to copy: a GGUF with a tokenizer, or a llama2.c tokenizer.bin\n"
            "                   (default: the Llama 2 vocabulary, tokenizer.bin in $CRIA_SHARED/models,\n"
            "                   ../shared/models or models, the first found)\n"
            "  --type T         type of the weight matrices, or a llama.cpp mix as cria quantize chooses it\n"
            "                   per tensor (norms stay f32): %s (default f32; q3_k, q4_k, q5_k mean the _m mixes)\n"
            "  --pure           every matrix in the type itself, no mix (fallbacks for short rows still apply)\n"
            "  --seed N         random seed (default 42); the file does not depend on the thread count\n"
            "  --tied           share the classifier with the token embedding (qwen2.5-0.5B always does)\n"
            "  --arch A         llama (default) or bitnet (BitNet b1.58: attention and FFN sub-norms, the\n"
            "                   embedding as classifier; use --type tq1_0 or tq2_0 --pure for ternary matrices)\n"
            "  -t, --threads N  threads generating and quantizing rows (default: physical cores)\n"
            "\n"
            "Rows are generated and quantized as they are written, so memory stays small for any shape.\n",
            names, types);
}

/* The Llama 2 vocabulary (llama2.c's tokenizer.bin) where the project keeps it, or NULL. */
static const char *default_vocab(char *buf, size_t cap)
{
    const char *shared = getenv("CRIA_SHARED");
    const char *const dirs[] = {shared, "../shared", "."};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        if (!dirs[i] || !*dirs[i])
            continue;
        snprintf(buf, cap, "%s/models/tokenizer.bin", dirs[i]);
        FILE *f = fopen(buf, "rb");
        if (f) {
            fclose(f);
            return buf;
        }
    }
    return NULL;
}

int cria_cmd_synth(int argc, char **argv)
{
    cria_synth_params p = {.seed = 42};
    int32_t threads = 0;
    const char *out = NULL, *shape = NULL, *dims = NULL, *type = "f32";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        int64_t seed;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            synth_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--shape")) {
            ok = cria_arg_str(argc, argv, &i, &shape);
        } else if (!strcmp(a, "--dims")) {
            ok = cria_arg_str(argc, argv, &i, &dims);
        } else if (!strcmp(a, "--vocab")) {
            ok = cria_arg_str(argc, argv, &i, &p.vocab_path);
        } else if (!strcmp(a, "--type")) {
            ok = cria_arg_str(argc, argv, &i, &type);
        } else if (!strcmp(a, "--seed")) {
            ok = cria_arg_i64(argc, argv, &i, 0, INT64_MAX, &seed);
            p.seed = (uint64_t)seed;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 1024, &threads);
        } else if (!strcmp(a, "--pure")) {
            p.pure = true;
        } else if (!strcmp(a, "--tied")) {
            p.tied_output = true;
        } else if (!strcmp(a, "--arch")) {
            ok = cria_arg_str(argc, argv, &i, &p.arch);
        } else if (a[0] == '-') {
            cria_app_error("unknown option '%s' (see cria synth -h)", a);
            ok = false;
        } else if (!out) {
            out = a;
        } else {
            cria_app_error("more than one output file given");
            ok = false;
        }
        if (!ok)
            return 1;
    }
    if (!out || (!shape == !dims)) {
        cria_app_error("give --shape or --dims and an output file (see cria synth -h)");
        return 1;
    }
    char vocab_buf[4096];
    if (!p.vocab_path) {
        p.vocab_path = default_vocab(vocab_buf, sizeof vocab_buf);
        if (!p.vocab_path) {
            cria_app_error("no --vocab given and no Llama 2 vocabulary (models/tokenizer.bin) found in "
                           "$CRIA_SHARED, ../shared or here");
            return 1;
        }
        fprintf(stderr, "synth: vocabulary %s (the default)\n", p.vocab_path);
    }
    if (shape) {
        const cria_synth_shape *s = cria_synth_find_shape(shape);
        if (!s) {
            cria_app_error("unknown shape '%s' (see cria synth -h)", shape);
            return 1;
        }
        p.shape = *s;
    } else {
        cria_synth_shape *s = &p.shape;
        char tail;
        if (sscanf(dims, "%d,%d,%d,%d,%d,%d%c", &s->n_embd, &s->n_ff, &s->n_layer, &s->n_head, &s->n_head_kv,
                   &s->n_ctx, &tail) != 6) {
            cria_app_error("--dims expects six integers D,FF,LAYERS,HEADS,KV_HEADS,CTX, got '%s'", dims);
            return 1;
        }
        s->name = "custom";
    }
    p.mix = cria_quant_mix_find(type);
    if (!p.mix) {
        char types[512];
        cria_quant_mix_names(types, sizeof types);
        cria_app_error("unknown --type '%s' (one of: %s)", type, types);
        return 1;
    }
    cria_app_progress ps = {.verb = "synth", .last_pct = -1};
    p.n_threads = threads ? threads : cria_app_physical_cores();
    p.progress = cria_app_progress_print;
    p.progress_ctx = &ps;
    cria_error err;
    int64_t t0 = cria_time_us();
    cria_status st = cria_synth_write(&p, out, &err);
    cria_app_progress_end(&ps);
    if (st != CRIA_OK) {
        cria_app_error("%s", err.msg);
        return 1;
    }
    fprintf(stderr, "wrote %s (%s, %s%s) with %d threads in %.1f s\n", out, p.shape.name, p.mix->name,
            p.pure ? ", pure" : "", p.n_threads, (double)(cria_time_us() - t0) / 1e6);
    return 0;
}
