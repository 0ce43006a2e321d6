/*
 * Writes seed inputs for fuzz_gguf into a folder: small writer-made files
 * (every value type, string arrays, tensors of several types and alignments)
 * and, for each GGUF named on the command line, either a copy (small files)
 * or its header alone (the bytes before the tensor data), so the fuzzer starts
 * from real metadata without megabytes of weights.
 *
 * Usage: gguf_seeds OUT_DIR [FILE.gguf ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf/gguf.h"

/* Small files are copied whole; larger ones are cut to their header. */
#define WHOLE_LIMIT (1u << 20)

/* Writes w to dir/name and frees it. Returns 0 or 1 on failure (printed). */
static int emit(cria_gguf_writer *w, const char *dir, const char *name)
{
    char path[4096];
    cria_error err;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int bad = !w || cria_gguf_writer_write(w, path, &err) != CRIA_OK;
    if (bad)
        fprintf(stderr, "gguf_seeds: %s\n", w ? err.msg : "writer_init failed");
    cria_gguf_writer_free(w);
    return bad;
}

/* Every scalar type, strings, and arrays of every element type. */
static int seed_values(const char *dir)
{
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    uint8_t bytes[64];
    for (size_t i = 0; i < sizeof bytes; i++)
        bytes[i] = (uint8_t)(i * 37u);
    const char *strs[] = {"<unk>", "<s>", "", "\xe2\x96\x81the"};
    uint8_t bools[4] = {1, 0, 1, 1};
    cria_gguf_writer_set_str(w, "general.architecture", "llama");
    cria_gguf_writer_set_u8(w, "v.u8", 200);
    cria_gguf_writer_set_i8(w, "v.i8", -5);
    cria_gguf_writer_set_u16(w, "v.u16", 60000);
    cria_gguf_writer_set_i16(w, "v.i16", -300);
    cria_gguf_writer_set_u32(w, "llama.block_count", 5);
    cria_gguf_writer_set_i32(w, "v.i32", -70000);
    cria_gguf_writer_set_u64(w, "v.u64", 1ull << 40);
    cria_gguf_writer_set_i64(w, "v.i64", -(1ll << 40));
    cria_gguf_writer_set_f32(w, "v.f32", 1e-5f);
    cria_gguf_writer_set_f64(w, "v.f64", 10000.0);
    cria_gguf_writer_set_bool(w, "v.bool", true);
    for (uint32_t t = 0; t < CRIA_GGUF_TYPE_COUNT; t++) {
        char key[32];
        snprintf(key, sizeof key, "a.%s", cria_gguf_type_name(t));
        if (t == CRIA_GGUF_BOOL)
            cria_gguf_writer_set_arr(w, key, CRIA_GGUF_BOOL, bools, 4);
        else if (cria_gguf_type_size(t))
            cria_gguf_writer_set_arr(w, key, (cria_gguf_type)t, bytes, 64 / cria_gguf_type_size(t));
    }
    cria_gguf_writer_set_arr_str(w, "tokenizer.ggml.tokens", strs, 4);
    return emit(w, dir, "seed-values.gguf");
}

/* A few tensors of several types at the given alignment. */
static int seed_tensors(const char *dir, uint64_t align)
{
    static uint8_t data[4096];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 13u + 7u);
    cria_gguf_writer *w = cria_gguf_writer_init(align);
    cria_gguf_writer_set_str(w, "general.architecture", "llama");
    cria_gguf_writer_add_tensor(w, "token_embd.weight", CRIA_DTYPE_F32, 2, (const uint64_t[]){8, 4}, data);
    cria_gguf_writer_add_tensor(w, "output_norm.weight", CRIA_DTYPE_F16, 1, (const uint64_t[]){8}, data);
    cria_gguf_writer_add_tensor(w, "blk.0.attn_q.weight", CRIA_DTYPE_Q4_0, 2, (const uint64_t[]){32, 2}, data);
    cria_gguf_writer_add_tensor(w, "blk.0.ffn_up.weight", CRIA_DTYPE_Q8_0, 3, (const uint64_t[]){32, 1, 2}, data);
    cria_gguf_writer_add_tensor(w, "blk.0.ffn_down.weight", CRIA_DTYPE_Q4_K, 4, (const uint64_t[]){256, 1, 1, 1},
                                data);
    char name[64];
    snprintf(name, sizeof name, "seed-tensors-a%llu.gguf", (unsigned long long)align);
    return emit(w, dir, name);
}

/* Copies path into dir whole, or only its header when the file is large. */
static int seed_from(const char *dir, const char *path)
{
    cria_gguf *g = NULL;
    cria_error err;
    if (cria_gguf_open(path, &g, &err) != CRIA_OK) {
        fprintf(stderr, "gguf_seeds: %s\n", err.msg);
        return 1;
    }
    uint64_t full = cria_gguf_file_size(g), size = full;
    if (size > WHOLE_LIMIT && cria_gguf_n_tensors(g) > 0)
        size = cria_gguf_data_offset(g);
    cria_gguf_close(g);

    FILE *in = fopen(path, "rb");
    const char *base = strrchr(path, '/');
    char out_path[4096];
    snprintf(out_path, sizeof out_path, "%s/%s%s", dir, base ? base + 1 : path,
             size < full ? ".header" : "");
    FILE *out = fopen(out_path, "wb");
    int bad = !in || !out;
    char buf[65536];
    while (!bad && size) {
        size_t n = size < sizeof buf ? (size_t)size : sizeof buf;
        bad = fread(buf, 1, n, in) != n || fwrite(buf, 1, n, out) != n;
        size -= n;
    }
    if (in)
        fclose(in);
    if (out && fclose(out) != 0)
        bad = 1;
    if (bad)
        fprintf(stderr, "gguf_seeds: cannot copy %s to %s\n", path, out_path);
    return bad;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: gguf_seeds OUT_DIR [FILE.gguf ...]\n");
        return 2;
    }
    int bad = seed_values(argv[1]);
    static const uint64_t aligns[] = {1, 32, 64};
    for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++)
        bad |= seed_tensors(argv[1], aligns[i]);
    bad |= emit(cria_gguf_writer_init(0), argv[1], "seed-empty.gguf");
    for (int i = 2; i < argc; i++)
        bad |= seed_from(argv[1], argv[i]);
    return bad ? 1 : 0;
}
