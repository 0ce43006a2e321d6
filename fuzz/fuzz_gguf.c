/*
 * libFuzzer target for the GGUF reader: opens the input from memory, then
 * touches everything a loader could: every key (and its typed getters),
 * every array element, every tensor's name, lookup and first and last data
 * byte. Anything the reader accepted must be safe to read; anything it refused
 * must come with a one-line message naming the input.
 *
 * Build and run: scripts/fuzz.sh
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gguf/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keeps the compiler from dropping reads whose values are otherwise unused. */
static volatile uint64_t sink;

/* Calls every getter on kv's key (when it has no NUL byte and fits the buffer). */
static void poke_getters(const cria_gguf *g, const cria_gguf_kv *kv)
{
    char key[256];
    if (kv->key.len >= sizeof key || memchr(kv->key.ptr, '\0', kv->key.len))
        return;
    memcpy(key, kv->key.ptr, kv->key.len);
    key[kv->key.len] = '\0';
    if (cria_gguf_find(g, key) != kv)
        __builtin_trap(); /* duplicate keys must have been refused */
    cria_error err;
    uint32_t u32;
    int32_t i32;
    uint64_t u64;
    float f;
    bool b;
    cria_gguf_str s;
    const cria_gguf_kv *arr;
    sink += cria_gguf_get_u32(g, key, &u32, &err);
    sink += cria_gguf_get_i32(g, key, &i32, &err);
    sink += cria_gguf_get_u64(g, key, &u64, &err);
    sink += cria_gguf_get_f32(g, key, &f, &err);
    sink += cria_gguf_get_bool(g, key, &b, &err);
    if (cria_gguf_get_str(g, key, &s, &err) && s.len)
        sink += (unsigned char)s.ptr[0] + (unsigned char)s.ptr[s.len - 1];
    sink += cria_gguf_get_arr(g, key, kv->arr_type, &arr, &err);
}

/* Reads every element of an array kv. */
static void walk_array(const cria_gguf *g, const cria_gguf_kv *kv)
{
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        if (kv->arr_type == CRIA_GGUF_STRING) {
            cria_gguf_str s = cria_gguf_arr_str(g, kv, i);
            if (!s.ptr)
                __builtin_trap();
            if (s.len)
                sink += (unsigned char)s.ptr[0] + (unsigned char)s.ptr[s.len - 1];
        } else {
            float f = cria_gguf_arr_f32(kv, i);
            uint32_t bits;
            memcpy(&bits, &f, sizeof bits);
            sink += bits + (uint64_t)cria_gguf_arr_int(kv, i);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cria_gguf *g = NULL;
    cria_error err;
    if (cria_gguf_open_memory(data, size, "fuzz", &g, &err) != CRIA_OK) {
        if (g || !strstr(err.msg, "fuzz") || strchr(err.msg, '\n'))
            __builtin_trap();
        return 0;
    }
    for (uint64_t i = 0; i < cria_gguf_n_kv(g); i++) {
        const cria_gguf_kv *kv = cria_gguf_kv_at(g, i);
        if (kv->key.len)
            sink += (unsigned char)kv->key.ptr[0] + (unsigned char)kv->key.ptr[kv->key.len - 1];
        if (kv->type == CRIA_GGUF_ARRAY)
            walk_array(g, kv);
        else if (kv->type == CRIA_GGUF_STRING && kv->str.len)
            sink += (unsigned char)kv->str.ptr[kv->str.len - 1];
        else if (kv->type != CRIA_GGUF_STRING)
            sink += kv->value[cria_gguf_type_size(kv->type) - 1];
        poke_getters(g, kv);
    }
    const uint8_t *end = data + size;
    for (uint64_t i = 0; i < cria_gguf_n_tensors(g); i++) {
        const cria_gguf_tensor *t = cria_gguf_tensor_at(g, i);
        const uint8_t *p = t->data;
        if (!p || p < data || t->n_bytes == 0 || t->n_bytes > (uint64_t)(end - p))
            __builtin_trap();
        sink += p[0] + p[t->n_bytes - 1];
        char name[256];
        if (t->name.len < sizeof name && !memchr(t->name.ptr, '\0', t->name.len)) {
            memcpy(name, t->name.ptr, t->name.len);
            name[t->name.len] = '\0';
            if (cria_gguf_find_tensor(g, name) != t)
                __builtin_trap();
        }
    }
    cria_gguf_close(g);
    return 0;
}
