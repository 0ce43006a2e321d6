/* cria quantize: convert an F32/F16/BF16 GGUF to a quantized type or llama.cpp type mix. */
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "cria.h"
#include "quant/quantize_model.h"
#include "quant_progress.h"

static void quantize_usage(FILE *f)
{
    char names[512];
    cria_quant_mix_names(names, sizeof names);
    fprintf(f,
            "usage: cria quantize IN.gguf OUT.gguf TYPE [--threads N] [--pure]\n"
            "\n"
            "Converts an F32, F16 or BF16 GGUF to TYPE, tensor by tensor, as llama-quantize does: the _s/_m/_l\n"
            "K-quant mixes give the classifier, attn_v and ffn_down more bits where llama.cpp does, norms and\n"
            "1-D tensors stay as they are, and rows whose length is not a multiple of the block take a fallback\n"
            "type. Every metadata key is copied; general.file_type is set to llama.cpp's number for TYPE.\n"
            "\n"
            "  TYPE             one of: %s\n"
            "                   (q3_k, q4_k, q5_k mean the _m mixes)\n"
            "  -t, --threads N  threads (default: physical cores)\n"
            "  --pure           every converted tensor in TYPE's base type (no mix; fallbacks still apply)\n",
            names);
}

static double mib(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

int cria_cmd_quantize(int argc, char **argv)
{
    const char *pos[3] = {0};
    int n_pos = 0;
    int32_t threads = 0;
    bool pure = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool ok = true;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            quantize_usage(stdout);
            return 0;
        } else if (!strcmp(a, "-t") || !strcmp(a, "--threads")) {
            ok = cria_arg_i32(argc, argv, &i, 1, 1024, &threads);
        } else if (!strcmp(a, "--pure")) {
            pure = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            cria_app_error("unknown option '%s' (see cria quantize -h)", a);
            ok = false;
        } else if (n_pos < 3) {
            pos[n_pos++] = a;
        } else {
            cria_app_error("too many arguments: '%s' (see cria quantize -h)", a);
            ok = false;
        }
        if (!ok)
            return 1;
    }
    if (n_pos != 3) {
        cria_app_error("give IN.gguf OUT.gguf TYPE (see cria quantize -h)");
        return 1;
    }
    const cria_quant_mix *mix = cria_quant_mix_find(pos[2]);
    if (!mix) {
        char names[512];
        cria_quant_mix_names(names, sizeof names);
        cria_app_error("unknown type '%s' (one of: %s)", pos[2], names);
        return 1;
    }
    cria_app_progress ps = {.verb = "quantize", .last_pct = -1};
    cria_quantize_params p = {.in_path = pos[0],
                              .out_path = pos[1],
                              .mix = mix,
                              .n_threads = threads ? threads : cria_app_physical_cores(),
                              .pure = pure,
                              .progress = cria_app_progress_print,
                              .progress_ctx = &ps};
    cria_quantize_report r;
    cria_error err;
    int64_t t0 = cria_time_us();
    cria_status st = cria_quantize_model(&p, &r, &err);
    cria_app_progress_end(&ps);
    if (st != CRIA_OK) {
        cria_app_error("%s", err.msg);
        return 1;
    }
    double secs = (double)(cria_time_us() - t0) / 1e6;
    fprintf(stderr, "quantize: wrote %s (%s, file type %d) with %d threads in %.2f s\n", p.out_path, mix->name,
            (int)mix->ftype, p.n_threads, secs);
    fprintf(stderr, "quantize: %d tensors, %d converted (%d with a fallback type):", r.n_tensors, r.n_converted,
            r.n_fallback);
    for (int t = 0; t < CRIA_DTYPE_COUNT; t++)
        if (r.n_by_type[t])
            fprintf(stderr, " %u %s", r.n_by_type[t], cria_dtype_name((uint32_t)t));
    fputc('\n', stderr);
    double n = r.n_elements ? (double)r.n_elements : 1.0;
    fprintf(stderr, "quantize: size %.2f MiB -> %.2f MiB (%.2f -> %.2f bits per weight), file %.2f MiB -> %.2f MiB\n",
            mib(r.in_tensor_bytes), mib(r.out_tensor_bytes), 8.0 * (double)r.in_tensor_bytes / n,
            8.0 * (double)r.out_tensor_bytes / n, mib(r.in_file_bytes), mib(r.out_file_bytes));
    return 0;
}
