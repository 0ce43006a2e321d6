/*
 * cria info: what a model file holds, as users of gguf-dump expect: format,
 * architecture and hyper-parameters, the vocabulary, every metadata key
 * (arrays summarised), and the tensor table with types, shapes, sizes and
 * bits per weight. GGUF files are read through the bounds-checked reader
 * alone (any architecture works); llama2.c checkpoints are loaded as models.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "commands.h"
#include "cria.h"
#include "gguf/gguf.h"

static void info_usage(FILE *f)
{
    fprintf(f, "usage: cria info [--vocab FILE] [--no-tensors] [--no-kv] MODEL\n"
               "\n"
               "  --vocab FILE    tokenizer.bin for a llama2.c checkpoint\n"
               "  --no-kv         leave out the metadata listing\n"
               "  --no-tensors    leave out the tensor table\n");
}

/* Prints a scalar metadata value at p of type t. */
static void print_scalar(cria_gguf_type t, const uint8_t *p)
{
    union {
        uint8_t u8;
        int8_t i8;
        uint16_t u16;
        int16_t i16;
        uint32_t u32;
        int32_t i32;
        uint64_t u64;
        int64_t i64;
        float f32;
        double f64;
    } v;
    memcpy(&v, p, cria_gguf_type_size(t));
    switch (t) {
    case CRIA_GGUF_UINT8: printf("%u", v.u8); break;
    case CRIA_GGUF_INT8: printf("%d", v.i8); break;
    case CRIA_GGUF_UINT16: printf("%u", v.u16); break;
    case CRIA_GGUF_INT16: printf("%d", v.i16); break;
    case CRIA_GGUF_UINT32: printf("%" PRIu32, v.u32); break;
    case CRIA_GGUF_INT32: printf("%" PRId32, v.i32); break;
    case CRIA_GGUF_UINT64: printf("%" PRIu64, v.u64); break;
    case CRIA_GGUF_INT64: printf("%" PRId64, v.i64); break;
    case CRIA_GGUF_FLOAT32: printf("%g", (double)v.f32); break;
    case CRIA_GGUF_FLOAT64: printf("%g", v.f64); break;
    case CRIA_GGUF_BOOL: printf("%s", v.u8 ? "true" : "false"); break;
    default: printf("?"); break;
    }
}

/* Prints a string with control characters escaped, at most max bytes. */
static void print_str(cria_gguf_str s, uint64_t max)
{
    putchar('"');
    for (uint64_t i = 0; i < s.len && i < max; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('"');
    if (s.len > max)
        printf("... (%" PRIu64 " bytes)", s.len);
}

static void print_kv(const cria_gguf *g, const cria_gguf_kv *kv)
{
    printf("  %-44.*s %-8s ", (int)kv->key.len, kv->key.ptr, cria_gguf_type_name(kv->type));
    if (kv->type == CRIA_GGUF_STRING) {
        print_str(kv->str, 120);
    } else if (kv->type == CRIA_GGUF_ARRAY) {
        printf("[%s x %" PRIu64 "]", cria_gguf_type_name(kv->arr_type), kv->arr_n);
        for (uint64_t i = 0; i < kv->arr_n && i < 4; i++) {
            printf(i ? ", " : " ");
            if (kv->arr_type == CRIA_GGUF_STRING)
                print_str(cria_gguf_arr_str(g, kv, i), 24);
            else
                print_scalar(kv->arr_type, kv->value + i * cria_gguf_type_size(kv->arr_type));
        }
        if (kv->arr_n > 4)
            printf(", ...");
    } else {
        print_scalar(kv->type, kv->value);
    }
    putchar('\n');
}

static int info_gguf(const char *path, bool show_kv, bool show_tensors)
{
    cria_gguf *g = NULL;
    cria_error err;
    if (cria_gguf_open(path, &g, &err) != CRIA_OK) {
        cria_app_error("%s", err.msg);
        return 1;
    }
    cria_gguf_str arch = {"?", 1}, name = {"", 0};
    cria_gguf_get_str(g, "general.architecture", &arch, NULL);
    cria_gguf_get_str(g, "general.name", &name, NULL);
    printf("file: %s\nformat: GGUF v%u, %" PRIu64 " metadata keys, %" PRIu64 " tensors, alignment %" PRIu64
           ", %.2f MiB\n",
           path, cria_gguf_version(g), cria_gguf_n_kv(g), cria_gguf_n_tensors(g), cria_gguf_alignment(g),
           (double)cria_gguf_file_size(g) / (1024.0 * 1024.0));
    printf("architecture: %.*s\nname: %.*s\n", (int)arch.len, arch.ptr, (int)name.len, name.ptr);
    const cria_gguf_kv *tokens = cria_gguf_find(g, "tokenizer.ggml.tokens");
    cria_gguf_str tok_model = {"none", 4};
    cria_gguf_get_str(g, "tokenizer.ggml.model", &tok_model, NULL);
    printf("vocabulary: %.*s, %" PRIu64 " tokens\n", (int)tok_model.len, tok_model.ptr,
           tokens && tokens->type == CRIA_GGUF_ARRAY ? tokens->arr_n : 0);
    if (show_kv) {
        printf("\nmetadata:\n");
        for (uint64_t i = 0; i < cria_gguf_n_kv(g); i++)
            print_kv(g, cria_gguf_kv_at(g, i));
    }
    uint64_t total_bytes = 0, total_elems = 0;
    uint64_t type_bytes[CRIA_DTYPE_COUNT] = {0}, type_count[CRIA_DTYPE_COUNT] = {0};
    if (show_tensors)
        printf("\ntensors:\n  %-36s %-8s %-26s %12s %8s\n", "name", "type", "shape", "bytes", "bits/w");
    for (uint64_t i = 0; i < cria_gguf_n_tensors(g); i++) {
        const cria_gguf_tensor *t = cria_gguf_tensor_at(g, i);
        total_bytes += t->n_bytes;
        total_elems += t->n_elements;
        type_bytes[t->type] += t->n_bytes;
        type_count[t->type]++;
        if (!show_tensors)
            continue;
        char shape[64];
        int used = snprintf(shape, sizeof shape, "[");
        for (uint32_t d = 0; d < t->n_dims && used < (int)sizeof shape; d++)
            used += snprintf(shape + used, sizeof shape - (size_t)used, "%s%" PRIu64, d ? ", " : "", t->ne[d]);
        if (used < (int)sizeof shape)
            snprintf(shape + used, sizeof shape - (size_t)used, "]");
        printf("  %-36.*s %-8s %-26s %12" PRIu64 " %8.3f\n", (int)t->name.len, t->name.ptr,
               cria_dtype_name(t->type), shape, t->n_bytes, 8.0 * (double)t->n_bytes / (double)t->n_elements);
    }
    printf("\nweights: %" PRIu64 " parameters, %.2f MiB, %.3f bits per weight\n", total_elems,
           (double)total_bytes / (1024.0 * 1024.0), total_elems ? 8.0 * (double)total_bytes / (double)total_elems : 0.0);
    for (int t = 0; t < CRIA_DTYPE_COUNT; t++) {
        if (type_count[t])
            printf("  %-8s %4" PRIu64 " tensors, %10.2f MiB\n", cria_dtype_name((uint32_t)t), type_count[t],
                   (double)type_bytes[t] / (1024.0 * 1024.0));
    }
    cria_gguf_close(g);
    return 0;
}

static int info_checkpoint(const char *path, const char *vocab)
{
    cria_model_params mp = cria_model_default_params();
    mp.vocab_path = vocab;
    mp.no_repack = 1; /* nothing is computed */
    cria_model *m = NULL;
    cria_error err;
    if (cria_model_load(path, &mp, &m, &err) != CRIA_OK) {
        cria_app_error("%s", err.msg);
        return 1;
    }
    cria_model_info mi;
    cria_model_get_info(m, &mi);
    printf("file: %s\nformat: llama2.c checkpoint (legacy), float32 weights\narchitecture: %s\n", path, mi.arch);
    printf("hyper-parameters: n_vocab %d, n_ctx_train %d, n_embd %d, n_ff %d, n_layer %d, n_head %d, n_head_kv %d, "
           "n_rot %d, rope_freq_base %g, rms_eps %g, %s output\n",
           mi.n_vocab, mi.n_ctx_train, mi.n_embd, mi.n_ff, mi.n_layer, mi.n_head, mi.n_head_kv, mi.n_rot,
           (double)mi.rope_freq_base, (double)mi.rms_eps, mi.tied_output ? "tied" : "separate");
    printf("weights: %" PRIu64 " parameters, %.2f MiB, 32.000 bits per weight\n", mi.n_params,
           (double)mi.weight_bytes / (1024.0 * 1024.0));
    cria_model_free(m);
    return 0;
}

/* True when the file starts with the GGUF magic (errors are reported by the reader). */
static bool is_gguf(const char *path)
{
    char magic[4] = {0};
    FILE *f = fopen(path, "rb");
    if (!f)
        return true;
    size_t n = fread(magic, 1, 4, f);
    fclose(f);
    return n == 4 && memcmp(magic, "GGUF", 4) == 0;
}

int cria_cmd_info(int argc, char **argv)
{
    const char *path = NULL, *vocab = NULL;
    bool show_kv = true, show_tensors = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            info_usage(stdout);
            return 0;
        } else if (!strcmp(a, "--vocab")) {
            if (!cria_arg_str(argc, argv, &i, &vocab))
                return 1;
        } else if (!strcmp(a, "--no-kv")) {
            show_kv = false;
        } else if (!strcmp(a, "--no-tensors")) {
            show_tensors = false;
        } else if (!strcmp(a, "-m") || !strcmp(a, "--model")) {
            if (!cria_arg_str(argc, argv, &i, &path))
                return 1;
        } else if (a[0] == '-') {
            cria_app_error("unknown option '%s' (see cria info -h)", a);
            return 1;
        } else {
            path = a;
        }
    }
    if (!path) {
        cria_app_error("no model given (see cria info -h)");
        return 1;
    }
    return is_gguf(path) ? info_gguf(path, show_kv, show_tensors) : info_checkpoint(path, vocab);
}
