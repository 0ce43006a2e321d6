/* cria synth: write a random-weight llama GGUF of a named or custom shape. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "cria.h"
#include "model/synth.h"

static void synth_usage(FILE *f)
{
    char names[256];
    cria_synth_shape_names(names, sizeof names);
    fprintf(f,
            "usage: cria synth (--shape NAME | --dims D,FF,LAYERS,HEADS,KV_HEADS,CTX) --vocab FILE [options] OUT.gguf\n"
            "\n"
            "  --shape NAME     one of: %s\n"
            "  --dims ...       custom dimensions\n"
            "  --vocab FILE     vocabulary to copy: a GGUF with a tokenizer, or a llama2.c tokenizer.bin\n"
            "  --type T         f32 (default), f16 or bf16 for the weight matrices\n"
            "  --seed N         random seed (default 42)\n"
            "  --tied           share the classifier with the token embedding\n",
            names);
}

int cria_cmd_synth(int argc, char **argv)
{
    cria_synth_params p = {.type = CRIA_DTYPE_F32, .seed = 42};
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
        } else if (!strcmp(a, "--tied")) {
            p.tied_output = true;
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
    if (!out || !p.vocab_path || (!shape == !dims)) {
        cria_app_error("give --shape or --dims, --vocab and an output file (see cria synth -h)");
        return 1;
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
    if (!strcmp(type, "f32"))
        p.type = CRIA_DTYPE_F32;
    else if (!strcmp(type, "f16"))
        p.type = CRIA_DTYPE_F16;
    else if (!strcmp(type, "bf16"))
        p.type = CRIA_DTYPE_BF16;
    else {
        cria_app_error("unknown --type '%s' (f32, f16, bf16)", type);
        return 1;
    }
    cria_error err;
    int64_t t0 = cria_time_us();
    if (cria_synth_write(&p, out, &err) != CRIA_OK) {
        cria_app_error("%s", err.msg);
        return 1;
    }
    fprintf(stderr, "wrote %s (%s, %s) in %.1f s\n", out, p.shape.name, type, (double)(cria_time_us() - t0) / 1e6);
    return 0;
}
