/*
 * GGUF reader and writer: round trips through the writer, the real shared
 * files, the streaming iterator, and every kind of malformed input (each must
 * give the right status and a message naming the file and the byte).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf/gguf.h"
#include "util.h"

/* ---- a byte builder for hand-made files ------------------------------------------ */

typedef struct buf {
    uint8_t *p;
    size_t n, cap;
} buf;

static void b_put(buf *b, const void *d, size_t n)
{
    if (b->n + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        while (nc < b->n + n)
            nc *= 2;
        b->p = realloc(b->p, nc);
        assert_non_null(b->p);
        b->cap = nc;
    }
    if (n)
        memcpy(b->p + b->n, d, n);
    b->n += n;
}

static void b_u8(buf *b, uint8_t v)
{
    b_put(b, &v, 1);
}

static void b_u32(buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    b_put(b, x, 4);
}

static void b_u64(buf *b, uint64_t v)
{
    b_u32(b, (uint32_t)v);
    b_u32(b, (uint32_t)(v >> 32));
}

static void b_str(buf *b, const char *s)
{
    b_u64(b, strlen(s));
    b_put(b, s, strlen(s));
}

static void b_header(buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    b_put(b, "GGUF", 4);
    b_u32(b, version);
    b_u64(b, n_tensors);
    b_u64(b, n_kv);
}

static void b_kv_u32(buf *b, const char *key, uint32_t v)
{
    b_str(b, key);
    b_u32(b, CRIA_GGUF_UINT32);
    b_u32(b, v);
}

static void b_kv_str(buf *b, const char *key, const char *v)
{
    b_str(b, key);
    b_u32(b, CRIA_GGUF_STRING);
    b_str(b, v);
}

static void b_tensor(buf *b, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type, uint64_t offset)
{
    b_str(b, name);
    b_u32(b, n_dims);
    for (uint32_t i = 0; i < n_dims; i++)
        b_u64(b, ne[i]);
    b_u32(b, type);
    b_u64(b, offset);
}

static void b_zeros(buf *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b_u8(b, 0);
}

static void b_pad(buf *b, size_t align)
{
    b_zeros(b, (align - b->n % align) % align);
}

static void b_free(buf *b)
{
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

/*
 * A small valid file: two kvs (general.architecture = "llama", test.n = 7)
 * and one f32 tensor "w" of 8 elements whose data ends exactly at the end.
 */
static buf small_file(void)
{
    buf b = {0};
    b_header(&b, 3, 1, 2);
    b_kv_str(&b, "general.architecture", "llama");
    b_kv_u32(&b, "test.n", 7);
    b_tensor(&b, "w", 1, (const uint64_t[]){8}, CRIA_DTYPE_F32, 0);
    b_pad(&b, 32);
    for (int i = 0; i < 8; i++) {
        float f = (float)i;
        b_put(&b, &f, 4);
    }
    return b;
}

/* ---- expectations -------------------------------------------------------------------- */

/* Opens size bytes from an exact-size heap copy (so ASan sees any overread). */
static cria_status open_copy(const void *data, size_t size, const char *name, cria_gguf **g, cria_error *e)
{
    uint8_t *copy = malloc(size ? size : 1);
    assert_non_null(copy);
    if (size)
        memcpy(copy, data, size);
    cria_status st = cria_gguf_open_memory(copy, size, name, g, e);
    if (st == CRIA_OK)
        cria_gguf_close(*g);
    free(copy);
    return st;
}

/* Asserts that msg has each of the (NULL-terminated) needles, printing it when not. */
static void expect_msg(const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    for (const char *s = va_arg(ap, const char *); s; s = va_arg(ap, const char *)) {
        if (!strstr(msg, s))
            print_error("message \"%s\" lacks \"%s\"\n", msg, s);
        assert_non_null(strstr(msg, s));
    }
    va_end(ap);
}

/*
 * Asserts that b fails with status st and a message naming the file, a byte
 * and needle: from memory and from a file on disk.
 */
static void expect_fail(const buf *b, cria_status st, const char *needle)
{
    cria_gguf *g = NULL;
    cria_error e = {0};
    cria_status got = open_copy(b->p, b->n, "bad.gguf", &g, &e);
    if (got != st)
        print_error("status %d (want %d): %s\n", got, st, e.msg);
    assert_int_equal(got, st);
    assert_int_equal(e.status, st);
    expect_msg(e.msg, "bad.gguf: at byte ", needle, (const char *)NULL);
    assert_null(strchr(e.msg, '\n'));

    const char *path = test_tmp_path(".gguf");
    assert_true(test_write_file(path, b->p, b->n));
    g = (cria_gguf *)&e; /* must be reset to NULL on failure */
    got = cria_gguf_open(path, &g, &e);
    unlink(path);
    assert_int_equal(got, st);
    assert_null(g);
    expect_msg(e.msg, path, "byte", needle, (const char *)NULL);
}

/* ---- round trips through the writer --------------------------------------------------- */

/* Writes w to a temp file, frees w, and opens the file (asserting success). */
static cria_gguf *write_and_open(cria_gguf_writer *w)
{
    const char *path = test_tmp_path(".gguf");
    cria_error e;
    cria_status st = cria_gguf_writer_write(w, path, &e);
    if (st != CRIA_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(st, CRIA_OK);
    cria_gguf_writer_free(w);
    cria_gguf *g = NULL;
    st = cria_gguf_open(path, &g, &e);
    if (st != CRIA_OK)
        print_error("%s\n", e.msg);
    assert_int_equal(st, CRIA_OK);
    unlink(path); /* the mapping stays valid */
    return g;
}

/* Asserts kv i has key and type t. */
static const cria_gguf_kv *kv_check(const cria_gguf *g, uint64_t i, const char *key, cria_gguf_type t)
{
    const cria_gguf_kv *kv = cria_gguf_kv_at(g, i);
    assert_non_null(kv);
    assert_true(cria_gguf_str_eq(kv->key, key));
    assert_int_equal(kv->type, t);
    assert_ptr_equal(cria_gguf_find(g, key), kv);
    return kv;
}

static void test_roundtrip_scalars(void **state)
{
    (void)state;
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    assert_non_null(w);
    uint32_t nan_bits = 0x7fc00123u;
    float nan_payload;
    memcpy(&nan_payload, &nan_bits, 4);
    assert_true(cria_gguf_writer_set_u8(w, "s.u8", 255));
    assert_true(cria_gguf_writer_set_i8(w, "s.i8", -128));
    assert_true(cria_gguf_writer_set_u16(w, "s.u16", 65535));
    assert_true(cria_gguf_writer_set_i16(w, "s.i16", -32768));
    assert_true(cria_gguf_writer_set_u32(w, "s.u32", UINT32_MAX));
    assert_true(cria_gguf_writer_set_i32(w, "s.i32", INT32_MIN));
    assert_true(cria_gguf_writer_set_u64(w, "s.u64", UINT64_MAX));
    assert_true(cria_gguf_writer_set_i64(w, "s.i64", INT64_MIN));
    assert_true(cria_gguf_writer_set_f32(w, "s.f32", -1.5f));
    assert_true(cria_gguf_writer_set_f32(w, "s.nan", nan_payload));
    assert_true(cria_gguf_writer_set_f64(w, "s.f64", 3.141592653589793));
    assert_true(cria_gguf_writer_set_f64(w, "s.big", 1e300));
    assert_true(cria_gguf_writer_set_bool(w, "s.true", true));
    assert_true(cria_gguf_writer_set_bool(w, "s.false", false));
    assert_true(cria_gguf_writer_set_u32(w, "s.small", 1));
    assert_true(cria_gguf_writer_set_u32(w, "s.small", 42)); /* replaces in place */
    cria_gguf *g = write_and_open(w);

    assert_int_equal(cria_gguf_version(g), 3);
    assert_int_equal(cria_gguf_alignment(g), 32);
    assert_int_equal(cria_gguf_n_kv(g), 15);
    assert_int_equal(cria_gguf_n_tensors(g), 0);
    assert_null(cria_gguf_find(g, "general.alignment")); /* not written for the default */

    static const uint8_t u8[] = {255}, i8[] = {0x80}, u16[] = {0xff, 0xff}, i16[] = {0, 0x80},
                         u32[] = {0xff, 0xff, 0xff, 0xff}, i32[] = {0, 0, 0, 0x80},
                         u64[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
                         i64[] = {0, 0, 0, 0, 0, 0, 0, 0x80}, f32[] = {0, 0, 0xc0, 0xbf},
                         nan[] = {0x23, 0x01, 0xc0, 0x7f}, f64[] = {0x18, 0x2d, 0x44, 0x54, 0xfb, 0x21, 0x09, 0x40};
    assert_memory_equal(kv_check(g, 0, "s.u8", CRIA_GGUF_UINT8)->value, u8, 1);
    assert_memory_equal(kv_check(g, 1, "s.i8", CRIA_GGUF_INT8)->value, i8, 1);
    assert_memory_equal(kv_check(g, 2, "s.u16", CRIA_GGUF_UINT16)->value, u16, 2);
    assert_memory_equal(kv_check(g, 3, "s.i16", CRIA_GGUF_INT16)->value, i16, 2);
    assert_memory_equal(kv_check(g, 4, "s.u32", CRIA_GGUF_UINT32)->value, u32, 4);
    assert_memory_equal(kv_check(g, 5, "s.i32", CRIA_GGUF_INT32)->value, i32, 4);
    assert_memory_equal(kv_check(g, 6, "s.u64", CRIA_GGUF_UINT64)->value, u64, 8);
    assert_memory_equal(kv_check(g, 7, "s.i64", CRIA_GGUF_INT64)->value, i64, 8);
    assert_memory_equal(kv_check(g, 8, "s.f32", CRIA_GGUF_FLOAT32)->value, f32, 4);
    assert_memory_equal(kv_check(g, 9, "s.nan", CRIA_GGUF_FLOAT32)->value, nan, 4);
    assert_memory_equal(kv_check(g, 10, "s.f64", CRIA_GGUF_FLOAT64)->value, f64, 8);
    kv_check(g, 11, "s.big", CRIA_GGUF_FLOAT64);
    assert_int_equal(kv_check(g, 12, "s.true", CRIA_GGUF_BOOL)->value[0], 1);
    assert_int_equal(kv_check(g, 13, "s.false", CRIA_GGUF_BOOL)->value[0], 0);
    kv_check(g, 14, "s.small", CRIA_GGUF_UINT32);
    assert_null(cria_gguf_kv_at(g, 15));

    /* Typed getters: conversions that fit succeed, others name the key. */
    cria_error e;
    uint32_t u = 0;
    int32_t i = 0;
    uint64_t q = 0;
    float f = 0;
    bool bv = false;
    cria_gguf_str s;
    assert_true(cria_gguf_get_u32(g, "s.u8", &u, &e));
    assert_int_equal(u, 255);
    assert_true(cria_gguf_get_u32(g, "s.small", &u, &e));
    assert_int_equal(u, 42);
    assert_true(cria_gguf_get_i32(g, "s.i8", &i, &e));
    assert_int_equal(i, -128);
    assert_true(cria_gguf_get_i32(g, "s.i32", &i, &e));
    assert_int_equal(i, INT32_MIN);
    assert_true(cria_gguf_get_i32(g, "s.u16", &i, &e));
    assert_int_equal(i, 65535);
    assert_true(cria_gguf_get_u64(g, "s.u64", &q, &e));
    assert_true(q == UINT64_MAX);
    assert_true(cria_gguf_get_u64(g, "s.u32", &q, &e));
    assert_true(q == UINT32_MAX);
    assert_true(cria_gguf_get_f32(g, "s.f32", &f, &e));
    assert_true(f == -1.5f);
    assert_true(cria_gguf_get_f32(g, "s.nan", &f, &e));
    assert_true(isnan(f));
    assert_true(cria_gguf_get_f32(g, "s.f64", &f, &e));
    assert_true(f == (float)3.141592653589793);
    assert_true(cria_gguf_get_bool(g, "s.true", &bv, &e) && bv);
    assert_true(cria_gguf_get_bool(g, "s.false", &bv, &e) && !bv);

    u = 99;
    assert_false(cria_gguf_get_u32(g, "s.i8", &u, &e));
    assert_int_equal(u, 99);
    assert_int_equal(e.status, CRIA_ERR_FORMAT);
    expect_msg(e.msg, "byte", "'s.i8'", "-128", "does not fit uint32", (const char *)NULL);
    assert_false(cria_gguf_get_u32(g, "s.u64", &u, &e));
    expect_msg(e.msg, "'s.u64'", "does not fit uint32", (const char *)NULL);
    assert_false(cria_gguf_get_i32(g, "s.u32", &i, &e));
    assert_false(cria_gguf_get_i32(g, "s.i64", &i, &e));
    assert_false(cria_gguf_get_u64(g, "s.i64", &q, &e));
    assert_false(cria_gguf_get_u32(g, "s.f32", &u, &e));
    expect_msg(e.msg, "'s.f32' has type float32, expected an integer", (const char *)NULL);
    assert_false(cria_gguf_get_f32(g, "s.big", &f, &e));
    expect_msg(e.msg, "does not fit float32", (const char *)NULL);
    assert_false(cria_gguf_get_f32(g, "s.u32", &f, &e));
    assert_false(cria_gguf_get_bool(g, "s.u8", &bv, &e));
    expect_msg(e.msg, "expected bool", (const char *)NULL);
    assert_false(cria_gguf_get_str(g, "s.u32", &s, &e));
    assert_int_equal(e.status, CRIA_ERR_FORMAT);
    expect_msg(e.msg, "'s.u32' has type uint32, expected string", (const char *)NULL);

    /* Absent: false, *out unchanged, err cleared. */
    u = 5;
    e.status = CRIA_ERR_IO;
    assert_false(cria_gguf_get_u32(g, "nope", &u, &e));
    assert_int_equal(u, 5);
    assert_int_equal(e.status, CRIA_OK);
    assert_null(cria_gguf_find(g, "nope"));
    assert_null(cria_gguf_find(g, ""));
    assert_null(cria_gguf_find(g, "s.u8 "));
    cria_gguf_close(g);
}

static void test_roundtrip_strings(void **state)
{
    (void)state;
    char *big = malloc(100001);
    assert_non_null(big);
    for (int i = 0; i < 100000; i++)
        big[i] = (char)('a' + i % 26);
    big[100000] = '\0';
    const char *vals[] = {"", "hello", "h\xc3\xa9llo \xe2\x96\x81world", "line\nbreak\ttab", big};
    const char *keys[] = {"str.empty", "str.hello", "str.utf8", "str.ctrl", "str.big"};
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    for (int i = 0; i < 5; i++)
        assert_true(cria_gguf_writer_set_str(w, keys[i], vals[i]));
    assert_false(cria_gguf_writer_set_str(w, "str.null", NULL));
    assert_false(cria_gguf_writer_set_str(w, NULL, "x"));
    cria_gguf *g = write_and_open(w);
    assert_int_equal(cria_gguf_n_kv(g), 5);
    for (int i = 0; i < 5; i++) {
        const cria_gguf_kv *kv = kv_check(g, (uint64_t)i, keys[i], CRIA_GGUF_STRING);
        cria_gguf_str s = {NULL, 0};
        cria_error e;
        assert_true(cria_gguf_get_str(g, keys[i], &s, &e));
        assert_int_equal(s.len, strlen(vals[i]));
        assert_true(cria_gguf_str_eq(s, vals[i]));
        assert_ptr_equal(kv->str.ptr, s.ptr);
    }
    cria_gguf_close(g);
    free(big);
}

/* Fills n bytes with a fixed pseudo-random sequence from seed. */
static void fill_bytes(uint8_t *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        p[i] = (uint8_t)(seed >> 24);
    }
}

static void test_roundtrip_arrays(void **state)
{
    (void)state;
    enum { N = 5 };
    uint8_t elems[CRIA_GGUF_TYPE_COUNT][N * 8];
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    for (uint32_t t = 0; t < CRIA_GGUF_TYPE_COUNT; t++) {
        uint64_t size = cria_gguf_type_size(t);
        char key[32];
        snprintf(key, sizeof key, "arr.%s", cria_gguf_type_name(t));
        if (size == 0) {
            assert_false(cria_gguf_writer_set_arr(w, key, (cria_gguf_type)t, elems[0], N));
            continue;
        }
        fill_bytes(elems[t], sizeof elems[t], t + 1);
        if (t == CRIA_GGUF_BOOL)
            for (int i = 0; i < N; i++)
                elems[t][i] &= 1;
        if (t == CRIA_GGUF_FLOAT32) {
            float fv[N] = {0.0f, -1.0f, 0.5f, 1e-30f, 3e38f};
            memcpy(elems[t], fv, sizeof fv);
        }
        if (t == CRIA_GGUF_FLOAT64) {
            double dv[N] = {0.0, -2.0, 0.25, 1e-300, 1e300};
            memcpy(elems[t], dv, sizeof dv);
        }
        assert_true(cria_gguf_writer_set_arr(w, key, (cria_gguf_type)t, elems[t], N));
    }
    uint8_t bad_bools[3] = {0, 1, 2};
    assert_false(cria_gguf_writer_set_arr(w, "arr.badbool", CRIA_GGUF_BOOL, bad_bools, 3));
    assert_false(cria_gguf_writer_set_arr(w, "arr.badtype", (cria_gguf_type)13, bad_bools, 1));
    assert_true(cria_gguf_writer_set_arr(w, "arr.empty", CRIA_GGUF_UINT32, NULL, 0));
    const char *strs[] = {"", "a", "<0x00>", "\xe2\x96\x81the", "a longer string with spaces"};
    assert_true(cria_gguf_writer_set_arr_str(w, "arr.str", strs, 5));
    assert_true(cria_gguf_writer_set_arr_str(w, "arr.str_empty", NULL, 0));
    const char *with_null[] = {"x", NULL};
    assert_false(cria_gguf_writer_set_arr_str(w, "arr.null", with_null, 2));
    cria_gguf *g = write_and_open(w);

    uint64_t idx = 0;
    for (uint32_t t = 0; t < CRIA_GGUF_TYPE_COUNT; t++) {
        uint64_t size = cria_gguf_type_size(t);
        if (size == 0)
            continue;
        char key[32];
        snprintf(key, sizeof key, "arr.%s", cria_gguf_type_name(t));
        const cria_gguf_kv *kv = kv_check(g, idx++, key, CRIA_GGUF_ARRAY);
        assert_int_equal(kv->arr_type, t);
        assert_int_equal(kv->arr_n, N);
        assert_memory_equal(kv->value, elems[t], N * size);
        const cria_gguf_kv *got = NULL;
        cria_error e;
        assert_true(cria_gguf_get_arr(g, key, (cria_gguf_type)t, &got, &e));
        assert_ptr_equal(got, kv);
        assert_false(cria_gguf_get_arr(g, key, t == CRIA_GGUF_INT8 ? CRIA_GGUF_UINT8 : CRIA_GGUF_INT8, &got, &e));
        expect_msg(e.msg, "has type array of", "expected an array of", (const char *)NULL);
        for (int i = 0; i < N; i++) {
            const uint8_t *p = elems[t] + (size_t)i * size;
            int64_t want = 0;
            switch (t) {
            case CRIA_GGUF_UINT8:
            case CRIA_GGUF_BOOL: want = p[0]; break;
            case CRIA_GGUF_INT8: want = (int8_t)p[0]; break;
            case CRIA_GGUF_UINT16: want = (uint16_t)(p[0] | p[1] << 8); break;
            case CRIA_GGUF_INT16: want = (int16_t)(uint16_t)(p[0] | p[1] << 8); break;
            case CRIA_GGUF_UINT32: {
                uint32_t v;
                memcpy(&v, p, 4);
                want = v;
                break;
            }
            case CRIA_GGUF_INT32: {
                int32_t v;
                memcpy(&v, p, 4);
                want = v;
                break;
            }
            case CRIA_GGUF_UINT64:
            case CRIA_GGUF_INT64: memcpy(&want, p, 8); break;
            default: break;
            }
            if (t == CRIA_GGUF_FLOAT32) {
                float v;
                memcpy(&v, p, 4);
                assert_true(cria_gguf_arr_f32(kv, (uint64_t)i) == v);
            } else if (t == CRIA_GGUF_FLOAT64) {
                double v;
                memcpy(&v, p, 8);
                float want_f = i == 4 ? INFINITY : (float)v; /* 1e300 saturates */
                assert_true(cria_gguf_arr_f32(kv, (uint64_t)i) == want_f);
            } else {
                assert_true(cria_gguf_arr_int(kv, (uint64_t)i) == want);
            }
        }
        assert_true(cria_gguf_arr_int(kv, N) == 0); /* out of range */
    }
    const cria_gguf_kv *kv = kv_check(g, idx++, "arr.empty", CRIA_GGUF_ARRAY);
    assert_int_equal(kv->arr_type, CRIA_GGUF_UINT32);
    assert_int_equal(kv->arr_n, 0);
    kv = kv_check(g, idx++, "arr.str", CRIA_GGUF_ARRAY);
    assert_int_equal(kv->arr_type, CRIA_GGUF_STRING);
    assert_int_equal(kv->arr_n, 5);
    for (int i = 0; i < 5; i++) {
        assert_true(cria_gguf_str_eq(cria_gguf_arr_str(g, kv, (uint64_t)i), strs[i]));
        assert_true(cria_gguf_str_eq(cria_gguf_arr_str(NULL, kv, (uint64_t)i), strs[i]));
    }
    assert_null(cria_gguf_arr_str(g, kv, 5).ptr);
    assert_true(cria_gguf_arr_f32(kv, 0) == 0.0f);
    kv = kv_check(g, idx++, "arr.str_empty", CRIA_GGUF_ARRAY);
    assert_int_equal(kv->arr_n, 0);
    assert_int_equal(cria_gguf_n_kv(g), idx);
    cria_gguf_close(g);
}

typedef struct tspec {
    const char *name;
    cria_dtype type;
    uint32_t n_dims;
    uint64_t ne[4];
} tspec;

static const tspec tensor_specs[] = {
    {"f32.1d", CRIA_DTYPE_F32, 1, {7}},
    {"f16.2d", CRIA_DTYPE_F16, 2, {5, 3}},
    {"q4_0", CRIA_DTYPE_Q4_0, 2, {64, 2}},
    {"q8_0.3d", CRIA_DTYPE_Q8_0, 3, {32, 2, 3}},
    {"q4_K.4d", CRIA_DTYPE_Q4_K, 4, {256, 1, 2, 1}},
    {"i8", CRIA_DTYPE_I8, 1, {3}},
    {"bf16", CRIA_DTYPE_BF16, 1, {1}},
    {"q6_K", CRIA_DTYPE_Q6_K, 2, {512, 3}},
};
#define N_SPECS (sizeof tensor_specs / sizeof tensor_specs[0])

static void test_roundtrip_tensors(void **state)
{
    (void)state;
    static const uint64_t aligns[] = {0, 1, 8, 32, 64, 4096};
    uint8_t *data[N_SPECS];
    uint64_t bytes[N_SPECS];
    for (size_t i = 0; i < N_SPECS; i++) {
        const tspec *s = &tensor_specs[i];
        uint64_t row;
        assert_true(cria_dtype_row_bytes(s->type, s->ne[0], &row));
        bytes[i] = row;
        for (uint32_t d = 1; d < s->n_dims; d++)
            bytes[i] *= s->ne[d];
        data[i] = malloc(bytes[i]);
        fill_bytes(data[i], bytes[i], (uint32_t)i + 100);
    }
    for (size_t a = 0; a < sizeof aligns / sizeof aligns[0]; a++) {
        uint64_t align = aligns[a] ? aligns[a] : 32;
        cria_gguf_writer *w = cria_gguf_writer_init(aligns[a]);
        assert_non_null(w);
        assert_true(cria_gguf_writer_set_str(w, "general.architecture", "test"));
        for (size_t i = 0; i < N_SPECS; i++)
            assert_true(cria_gguf_writer_add_tensor(w, tensor_specs[i].name, tensor_specs[i].type,
                                                    tensor_specs[i].n_dims, tensor_specs[i].ne, data[i]));
        cria_gguf *g = write_and_open(w);
        assert_int_equal(cria_gguf_alignment(g), align);
        assert_int_equal(cria_gguf_data_offset(g) % align, 0);
        assert_int_equal(cria_gguf_file_size(g) % align, 0);
        uint32_t ga = 0;
        cria_error e;
        if (align == 32) {
            assert_int_equal(cria_gguf_n_kv(g), 1);
            assert_null(cria_gguf_find(g, "general.alignment"));
        } else {
            assert_int_equal(cria_gguf_n_kv(g), 2);
            assert_true(cria_gguf_get_u32(g, "general.alignment", &ga, &e));
            assert_int_equal(ga, align);
        }
        assert_int_equal(cria_gguf_n_tensors(g), N_SPECS);
        uint64_t prev_end = 0;
        for (size_t i = 0; i < N_SPECS; i++) {
            const tspec *s = &tensor_specs[i];
            const cria_gguf_tensor *t = cria_gguf_tensor_at(g, i);
            assert_ptr_equal(cria_gguf_find_tensor(g, s->name), t);
            assert_true(cria_gguf_str_eq(t->name, s->name));
            assert_int_equal(t->n_dims, s->n_dims);
            uint64_t n = 1;
            for (uint32_t d = 0; d < 4; d++) {
                assert_int_equal(t->ne[d], d < s->n_dims ? s->ne[d] : 1);
                n *= t->ne[d];
            }
            assert_int_equal(t->n_elements, n);
            assert_int_equal(t->type, s->type);
            assert_int_equal(t->n_bytes, bytes[i]);
            assert_int_equal(t->offset % align, 0);
            assert_true(t->offset >= prev_end);
            assert_true(t->offset - prev_end < align);
            prev_end = t->offset + t->n_bytes;
            assert_int_equal((uintptr_t)t->data % (align < 4096 ? align : 4096), 0);
            assert_memory_equal(t->data, data[i], bytes[i]);
        }
        assert_null(cria_gguf_tensor_at(g, N_SPECS));
        assert_null(cria_gguf_find_tensor(g, "missing"));
        cria_gguf_close(g);
    }
    for (size_t i = 0; i < N_SPECS; i++)
        free(data[i]);
}

static void test_writer_caller_alignment(void **state)
{
    (void)state;
    float x[16] = {1, 2, 3};
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    assert_true(cria_gguf_writer_set_u32(w, "general.alignment", 64));
    assert_true(cria_gguf_writer_add_tensor(w, "a", CRIA_DTYPE_F32, 1, (const uint64_t[]){3}, x));
    assert_true(cria_gguf_writer_add_tensor(w, "b", CRIA_DTYPE_F32, 1, (const uint64_t[]){16}, x));
    cria_gguf *g = write_and_open(w);
    assert_int_equal(cria_gguf_alignment(g), 64);
    assert_int_equal(cria_gguf_n_kv(g), 1);
    assert_int_equal(cria_gguf_find_tensor(g, "b")->offset, 64);
    cria_gguf_close(g);

    /* The caller's general.alignment must be a u32 power of two. */
    cria_error e;
    const char *path = test_tmp_path(".gguf");
    w = cria_gguf_writer_init(0);
    assert_true(cria_gguf_writer_set_u64(w, "general.alignment", 64));
    assert_int_equal(cria_gguf_writer_write(w, path, &e), CRIA_ERR_ARG);
    expect_msg(e.msg, path, "general.alignment", (const char *)NULL);
    assert_true(cria_gguf_writer_set_u32(w, "general.alignment", 48));
    assert_int_equal(cria_gguf_writer_write(w, path, &e), CRIA_ERR_ARG);
    cria_gguf_writer_free(w);
    assert_int_equal(access(path, F_OK), -1);
}

static void test_writer_rejects(void **state)
{
    (void)state;
    assert_null(cria_gguf_writer_init(3));
    assert_null(cria_gguf_writer_init(48));
    assert_null(cria_gguf_writer_init(1ull << 33));
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    float x[64] = {0};
    assert_true(cria_gguf_writer_add_tensor(w, "t", CRIA_DTYPE_F32, 1, (const uint64_t[]){4}, x));
    assert_false(cria_gguf_writer_add_tensor(w, "t", CRIA_DTYPE_F32, 1, (const uint64_t[]){4}, x));
    assert_false(cria_gguf_writer_add_tensor(w, "d0", CRIA_DTYPE_F32, 0, (const uint64_t[]){4}, x));
    assert_false(cria_gguf_writer_add_tensor(w, "d5", CRIA_DTYPE_F32, 5, (const uint64_t[]){1, 1, 1, 1, 1}, x));
    assert_false(cria_gguf_writer_add_tensor(w, "z", CRIA_DTYPE_F32, 2, (const uint64_t[]){4, 0}, x));
    assert_false(cria_gguf_writer_add_tensor(w, "q", CRIA_DTYPE_Q4_0, 1, (const uint64_t[]){33}, x));
    assert_false(cria_gguf_writer_add_tensor(w, "u", (cria_dtype)4, 1, (const uint64_t[]){4}, x));
    assert_false(cria_gguf_writer_add_tensor(w, "n", CRIA_DTYPE_F32, 1, (const uint64_t[]){4}, NULL));
    assert_false(cria_gguf_writer_add_tensor(w, "o", CRIA_DTYPE_F32, 3,
                                             (const uint64_t[]){1ull << 32, 1ull << 32, 2}, x));

    /* A directory that does not exist: an I/O error naming the path. */
    cria_error e;
    assert_int_equal(cria_gguf_writer_write(w, "/nonexistent-dir/x.gguf", &e), CRIA_ERR_IO);
    expect_msg(e.msg, "/nonexistent-dir/x.gguf", "No such file", (const char *)NULL);
    cria_gguf_writer_free(w);
    cria_gguf_writer_free(NULL);
}

static void test_find_many(void **state)
{
    (void)state;
    enum { NT = 300, NK = 100 };
    float x[NT];
    char name[64];
    cria_gguf_writer *w = cria_gguf_writer_init(0);
    for (int i = 0; i < NK; i++) {
        snprintf(name, sizeof name, "key.%d", i);
        assert_true(cria_gguf_writer_set_i32(w, name, -i));
    }
    for (int i = 0; i < NT; i++) {
        x[i] = (float)i;
        snprintf(name, sizeof name, "blk.%d.w", i);
        assert_true(cria_gguf_writer_add_tensor(w, name, CRIA_DTYPE_F32, 1, (const uint64_t[]){1}, &x[i]));
    }
    cria_gguf *g = write_and_open(w);
    for (int i = 0; i < NK; i++) {
        snprintf(name, sizeof name, "key.%d", i);
        int32_t v = 1;
        cria_error e;
        assert_true(cria_gguf_get_i32(g, name, &v, &e));
        assert_int_equal(v, -i);
    }
    for (int i = 0; i < NT; i++) {
        snprintf(name, sizeof name, "blk.%d.w", i);
        const cria_gguf_tensor *t = cria_gguf_find_tensor(g, name);
        assert_ptr_equal(t, cria_gguf_tensor_at(g, (uint64_t)i));
        float f;
        memcpy(&f, t->data, 4);
        assert_true(f == (float)i);
    }
    assert_null(cria_gguf_find_tensor(g, "blk.300.w"));
    assert_null(cria_gguf_find_tensor(g, "blk.1.w."));
    cria_gguf_close(g);
}

/* ---- the real shared files ------------------------------------------------------------ */

static void test_real_stories260k(void **state)
{
    (void)state;
    const char *rel = "models/stories260K-f32.gguf";
    if (!test_have(rel))
        skip();
    cria_gguf *g = NULL;
    cria_error e;
    assert_int_equal(cria_gguf_open(test_shared(rel), &g, &e), CRIA_OK);
    assert_int_equal(cria_gguf_version(g), 3);
    assert_int_equal(cria_gguf_alignment(g), 32);
    assert_int_equal(cria_gguf_n_tensors(g), 48);
    assert_string_equal(cria_gguf_name(g), test_shared(rel));
    cria_gguf_str s;
    uint32_t u = 0;
    float f = 0;
    assert_true(cria_gguf_get_str(g, "general.architecture", &s, &e));
    assert_true(cria_gguf_str_eq(s, "llama"));
    assert_true(cria_gguf_get_u32(g, "llama.embedding_length", &u, &e));
    assert_int_equal(u, 64);
    assert_true(cria_gguf_get_u32(g, "llama.block_count", &u, &e));
    assert_int_equal(u, 5);
    assert_true(cria_gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &f, &e));
    assert_true(f > 0.0f && f < 1e-3f);
    const cria_gguf_kv *tok = NULL;
    assert_true(cria_gguf_get_arr(g, "tokenizer.ggml.tokens", CRIA_GGUF_STRING, &tok, &e));
    assert_int_equal(tok->arr_n, 512);
    assert_true(cria_gguf_str_eq(cria_gguf_arr_str(g, tok, 0), "<unk>"));
    assert_true(cria_gguf_str_eq(cria_gguf_arr_str(g, tok, 1), "<s>"));

    const cria_gguf_tensor *t = cria_gguf_find_tensor(g, "token_embd.weight");
    assert_non_null(t);
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    assert_int_equal(t->type, CRIA_DTYPE_F32);
    assert_int_equal(t->n_bytes, 64 * 512 * 4);
    for (uint32_t l = 0; l < 5; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%u.attn_q.weight", l);
        assert_non_null(cria_gguf_find_tensor(g, name));
    }
    assert_null(cria_gguf_find_tensor(g, "blk.5.attn_q.weight"));

    /* The mapping agrees with the file's bytes, and with an in-memory open. */
    size_t size = 0;
    char *raw = test_read_file(test_shared(rel), &size);
    assert_non_null(raw);
    assert_int_equal(size, cria_gguf_file_size(g));
    assert_memory_equal(t->data, raw + cria_gguf_data_offset(g) + t->offset, t->n_bytes);
    cria_gguf *m = NULL;
    assert_int_equal(cria_gguf_open_memory(raw, size, "mem", &m, &e), CRIA_OK);
    assert_int_equal(cria_gguf_n_kv(m), cria_gguf_n_kv(g));
    assert_ptr_equal(cria_gguf_find_tensor(m, "token_embd.weight")->data,
                     raw + cria_gguf_data_offset(g) + t->offset);
    cria_gguf_close(m);
    free(raw);
    cria_gguf_close(g);
}

static void test_real_vocab_spm(void **state)
{
    (void)state;
    const char *rel = "vocab/ggml-vocab-llama-spm.gguf";
    if (!test_have(rel))
        skip();
    cria_gguf *g = NULL;
    cria_error e;
    assert_int_equal(cria_gguf_open(test_shared(rel), &g, &e), CRIA_OK);
    assert_int_equal(cria_gguf_n_tensors(g), 0);
    cria_gguf_str s;
    assert_true(cria_gguf_get_str(g, "tokenizer.ggml.model", &s, &e));
    assert_true(cria_gguf_str_eq(s, "llama"));
    const cria_gguf_kv *tok = NULL, *scores = NULL, *types = NULL;
    assert_true(cria_gguf_get_arr(g, "tokenizer.ggml.tokens", CRIA_GGUF_STRING, &tok, &e));
    assert_true(cria_gguf_get_arr(g, "tokenizer.ggml.scores", CRIA_GGUF_FLOAT32, &scores, &e));
    assert_true(cria_gguf_get_arr(g, "tokenizer.ggml.token_type", CRIA_GGUF_INT32, &types, &e));
    assert_int_equal(tok->arr_n, 32000);
    assert_int_equal(scores->arr_n, 32000);
    assert_int_equal(types->arr_n, 32000);
    assert_true(cria_gguf_str_eq(cria_gguf_arr_str(g, tok, 0), "<unk>"));
    assert_true(cria_gguf_str_eq(cria_gguf_arr_str(g, tok, 2), "</s>"));
    assert_true(cria_gguf_str_eq(cria_gguf_arr_str(g, tok, 3), "<0x00>"));
    assert_int_equal(cria_gguf_arr_int(types, 0), 2);
    assert_int_equal(cria_gguf_arr_int(types, 3), 6);
    bool add_bos = false;
    assert_true(cria_gguf_get_bool(g, "tokenizer.ggml.add_bos_token", &add_bos, &e));
    /* The O(1) index agrees with walking the lengths. */
    for (uint64_t i = 31990; i < 32000; i++) {
        cria_gguf_str a = cria_gguf_arr_str(g, tok, i), b = cria_gguf_arr_str(NULL, tok, i);
        assert_ptr_equal(a.ptr, b.ptr);
        assert_int_equal(a.len, b.len);
    }
    cria_gguf_close(g);
}

/* ---- the streaming reader -------------------------------------------------------------- */

static void test_reader_iter(void **state)
{
    (void)state;
    buf b = small_file();
    cria_gguf_reader r;
    cria_error e;
    cria_gguf_kv kv;
    cria_gguf_tensor t;
    assert_int_equal(cria_gguf_reader_init(&r, b.p, b.n, "small", &e), CRIA_OK);
    assert_int_equal(r.version, 3);
    assert_int_equal(r.n_kv, 2);
    assert_int_equal(r.n_tensors, 1);
    assert_int_equal(cria_gguf_reader_next_kv(&r, &kv, &e), CRIA_GGUF_ITER_ITEM);
    assert_true(cria_gguf_str_eq(kv.key, "general.architecture"));
    assert_true(cria_gguf_str_eq(kv.str, "llama"));
    assert_int_equal(kv.offset, 24);
    assert_int_equal(cria_gguf_reader_next_kv(&r, &kv, &e), CRIA_GGUF_ITER_ITEM);
    assert_true(cria_gguf_str_eq(kv.key, "test.n"));
    assert_int_equal(cria_gguf_reader_next_kv(&r, &kv, &e), CRIA_GGUF_ITER_DONE);
    assert_int_equal(cria_gguf_reader_next_kv(&r, &kv, &e), CRIA_GGUF_ITER_DONE);
    assert_int_equal(cria_gguf_reader_next_tensor(&r, &t, &e), CRIA_GGUF_ITER_ITEM);
    assert_true(cria_gguf_str_eq(t.name, "w"));
    assert_int_equal(t.ne[0], 8);
    assert_int_equal(t.n_bytes, 32);
    assert_null(t.data);
    assert_int_equal(cria_gguf_reader_next_tensor(&r, &t, &e), CRIA_GGUF_ITER_DONE);
    assert_int_equal(cria_gguf_reader_next_tensor(&r, &t, &e), CRIA_GGUF_ITER_DONE);

    /* next_tensor first skips the key/values. */
    assert_int_equal(cria_gguf_reader_init(&r, b.p, b.n, "small", &e), CRIA_OK);
    assert_int_equal(cria_gguf_reader_next_tensor(&r, &t, &e), CRIA_GGUF_ITER_ITEM);
    assert_int_equal(r.kv_read, 2);

    /* An error is ERROR, not DONE, and stays an error with the reader unchanged. */
    b_free(&b);
    b_header(&b, 3, 1, 2);
    b_kv_u32(&b, "a", 1);
    b_str(&b, "b");
    b_u32(&b, CRIA_GGUF_BOOL);
    b_u8(&b, 2);
    b_tensor(&b, "w", 1, (const uint64_t[]){1}, CRIA_DTYPE_F32, 0);
    assert_int_equal(cria_gguf_reader_init(&r, b.p, b.n, "bad", &e), CRIA_OK);
    assert_int_equal(cria_gguf_reader_next_kv(&r, &kv, &e), CRIA_GGUF_ITER_ITEM);
    uint64_t pos = r.pos;
    assert_int_equal(cria_gguf_reader_next_kv(&r, &kv, &e), CRIA_GGUF_ITER_ERROR);
    assert_int_equal(e.status, CRIA_ERR_FORMAT);
    expect_msg(e.msg, "bad: at byte", "bool value 2", (const char *)NULL);
    assert_int_equal(r.pos, pos);
    assert_int_equal(r.kv_read, 1);
    cria_error e2;
    assert_int_equal(cria_gguf_reader_next_kv(&r, &kv, &e2), CRIA_GGUF_ITER_ERROR);
    assert_string_equal(e.msg, e2.msg);
    assert_int_equal(cria_gguf_reader_next_tensor(&r, &t, &e2), CRIA_GGUF_ITER_ERROR);

    /* A kv from a bare reader: string-array elements by walking. */
    b_free(&b);
    b_header(&b, 3, 0, 1);
    b_str(&b, "arr");
    b_u32(&b, CRIA_GGUF_ARRAY);
    b_u32(&b, CRIA_GGUF_STRING);
    b_u64(&b, 3);
    b_str(&b, "x");
    b_str(&b, "");
    b_str(&b, "zz");
    assert_int_equal(cria_gguf_reader_init(&r, b.p, b.n, NULL, &e), CRIA_OK);
    assert_int_equal(cria_gguf_reader_next_kv(&r, &kv, &e), CRIA_GGUF_ITER_ITEM);
    assert_true(cria_gguf_str_eq(cria_gguf_arr_str(NULL, &kv, 2), "zz"));
    assert_true(cria_gguf_str_eq(cria_gguf_arr_str(NULL, &kv, 1), ""));
    assert_int_equal(cria_gguf_reader_next_tensor(&r, &t, &e), CRIA_GGUF_ITER_DONE);
    b_free(&b);
}

/* ---- files that must be refused ---------------------------------------------------------- */

static void test_missing_and_empty(void **state)
{
    (void)state;
    cria_gguf *g = NULL;
    cria_error e;
    const char *path = test_tmp_path(".missing.gguf");
    assert_int_equal(cria_gguf_open(path, &g, &e), CRIA_ERR_IO);
    assert_null(g);
    expect_msg(e.msg, path, "No such file", (const char *)NULL);

    path = test_tmp_path(".empty.gguf");
    assert_true(test_write_file(path, "", 0));
    assert_int_equal(cria_gguf_open(path, &g, &e), CRIA_ERR_FORMAT);
    expect_msg(e.msg, path, "at byte 0", "empty", (const char *)NULL);
    unlink(path);
    assert_int_equal(cria_gguf_open_memory(NULL, 0, "e.gguf", &g, &e), CRIA_ERR_FORMAT);
    expect_msg(e.msg, "e.gguf: at byte 0", "empty", (const char *)NULL);

    const char *dir = test_tmp_path(".dir");
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_int_equal(cria_gguf_open(dir, &g, &e), CRIA_ERR_IO);
    expect_msg(e.msg, dir, "directory", (const char *)NULL);
    rmdir(dir);
}

static void test_bad_magic_and_version(void **state)
{
    (void)state;
    buf b = {0};
    b_put(&b, "GGML", 4);
    b_zeros(&b, 60);
    expect_fail(&b, CRIA_ERR_FORMAT, "not a GGUF file");
    b_free(&b);
    b_put(&b, "GG", 2);
    expect_fail(&b, CRIA_ERR_FORMAT, "not a GGUF file");
    b_free(&b);

    b_header(&b, 1, 0, 0);
    b_zeros(&b, 64);
    expect_fail(&b, CRIA_ERR_UNSUPPORTED, "version 1 is unsupported");
    b_free(&b);
    b_header(&b, 99, 0, 0);
    b_zeros(&b, 64);
    expect_fail(&b, CRIA_ERR_UNSUPPORTED, "version 99 is unsupported");
    b_free(&b);
    b_header(&b, 0x03000000u, 0, 0);
    b_zeros(&b, 64);
    expect_fail(&b, CRIA_ERR_UNSUPPORTED, "big-endian");
    b_free(&b);

    /* Version 2 has the same layout and is accepted. */
    b_header(&b, 2, 0, 1);
    b_kv_u32(&b, "a", 1);
    cria_gguf *g = NULL;
    cria_error e;
    assert_int_equal(cria_gguf_open_memory(b.p, b.n, "v2", &g, &e), CRIA_OK);
    assert_int_equal(cria_gguf_version(g), 2);
    cria_gguf_close(g);
    b_free(&b);
}

/* Every prefix of a valid file fails cleanly; mutating single bytes never crashes. */
static void test_truncated_everywhere(void **state)
{
    (void)state;
    buf b = small_file();
    for (size_t k = 0; k < b.n; k++) {
        cria_gguf *g = NULL;
        cria_error e;
        cria_status st = open_copy(b.p, k, "cut.gguf", &g, &e);
        if (st != CRIA_ERR_FORMAT)
            print_error("cut at %zu: status %d: %s\n", k, st, e.msg);
        assert_int_equal(st, CRIA_ERR_FORMAT);
        expect_msg(e.msg, "cut.gguf: at byte ", (const char *)NULL);
    }
    cria_gguf *g = NULL;
    cria_error e;
    assert_int_equal(open_copy(b.p, b.n, "cut.gguf", &g, &e), CRIA_OK);

    static const uint8_t repl[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xff};
    for (size_t i = 0; i < b.n; i++)
        for (size_t j = 0; j < sizeof repl; j++) {
            uint8_t old = b.p[i];
            b.p[i] = repl[j];
            cria_status st = open_copy(b.p, b.n, "mut.gguf", &g, &e);
            if (st != CRIA_OK)
                expect_msg(e.msg, "mut.gguf: at byte ", (const char *)NULL);
            b.p[i] = old;
        }
    b_free(&b);

    /* A richer writer-made file: every cut before the end of the last tensor fails. */
    cria_gguf_writer *w = cria_gguf_writer_init(16);
    const char *strs[] = {"a", "bb", ""};
    int32_t ints[3] = {1, -2, 3};
    uint8_t q[2 * 18];
    fill_bytes(q, sizeof q, 7);
    assert_true(cria_gguf_writer_set_str(w, "general.name", "rich"));
    assert_true(cria_gguf_writer_set_arr_str(w, "s", strs, 3));
    assert_true(cria_gguf_writer_set_arr(w, "i", CRIA_GGUF_INT32, ints, 3));
    assert_true(cria_gguf_writer_set_f64(w, "d", 0.5));
    assert_true(cria_gguf_writer_add_tensor(w, "q", CRIA_DTYPE_Q4_0, 2, (const uint64_t[]){32, 2}, q));
    assert_true(cria_gguf_writer_add_tensor(w, "f", CRIA_DTYPE_F16, 1, (const uint64_t[]){5}, q));
    const char *path = test_tmp_path(".gguf");
    assert_int_equal(cria_gguf_writer_write(w, path, &e), CRIA_OK);
    cria_gguf_writer_free(w);
    size_t size = 0;
    char *raw = test_read_file(path, &size);
    unlink(path);
    assert_int_equal(cria_gguf_open_memory(raw, size, "rich", &g, &e), CRIA_OK);
    const cria_gguf_tensor *last = cria_gguf_tensor_at(g, 1);
    uint64_t end = cria_gguf_data_offset(g) + last->offset + last->n_bytes;
    cria_gguf_close(g);
    for (size_t k = 0; k <= size; k++) {
        cria_status st = open_copy(raw, k, "rich", &g, &e);
        assert_int_equal(st, k < end ? CRIA_ERR_FORMAT : CRIA_OK);
    }
    free(raw);
}

/* Builds a file with one f32 tensor [8] at offset off, whose data section holds data_bytes. */
static buf tensor_file(uint64_t off, size_t data_bytes)
{
    buf b = {0};
    b_header(&b, 3, 1, 0);
    b_tensor(&b, "blk.0.attn_q.weight", 1, (const uint64_t[]){8}, CRIA_DTYPE_F32, off);
    b_pad(&b, 32);
    b_zeros(&b, data_bytes);
    return b;
}

static void test_tensor_data_bounds(void **state)
{
    (void)state;
    buf b = tensor_file(0, 31);
    expect_fail(&b, CRIA_ERR_FORMAT,
                "tensor 'blk.0.attn_q.weight' data [96, 128) runs past the end of the file (size 127)");
    b_free(&b);
    b = tensor_file(1024, 32);
    expect_fail(&b, CRIA_ERR_FORMAT, "runs past the end of the file");
    b_free(&b);
    b = tensor_file(4, 64);
    expect_fail(&b, CRIA_ERR_FORMAT, "offset 4 is not a multiple of the alignment 32");
    b_free(&b);
    b = tensor_file(UINT64_MAX - 31, 64);
    expect_fail(&b, CRIA_ERR_FORMAT, "overflows");
    b_free(&b);
    b = tensor_file(32, 64);
    cria_gguf *g = NULL;
    cria_error e;
    assert_int_equal(open_copy(b.p, b.n, "ok", &g, &e), CRIA_OK);
    b_free(&b);
}

static void test_absurd_counts(void **state)
{
    (void)state;
    buf b = {0};
    b_header(&b, 3, 1ull << 60, 0);
    b_zeros(&b, 64);
    expect_fail(&b, CRIA_ERR_FORMAT, "impossible tensor count 1152921504606846976");
    b_free(&b);
    b_header(&b, 3, 0, 1ull << 60);
    b_zeros(&b, 64);
    expect_fail(&b, CRIA_ERR_FORMAT, "impossible key/value count 1152921504606846976");
    b_free(&b);
    b_header(&b, 3, 2, 3);
    b_zeros(&b, 100);
    expect_fail(&b, CRIA_ERR_FORMAT, "impossible counts");
    b_free(&b);

    /* A key length of 2^63, and a string value of that length. */
    b_header(&b, 3, 0, 1);
    b_u64(&b, 1ull << 63);
    b_zeros(&b, 64);
    expect_fail(&b, CRIA_ERR_FORMAT, "key 0 has length 9223372036854775808");
    b_free(&b);
    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, CRIA_GGUF_STRING);
    b_u64(&b, 1ull << 63);
    b_zeros(&b, 64);
    expect_fail(&b, CRIA_ERR_FORMAT, "value of key 'k' has length 9223372036854775808, past the end");
    b_free(&b);
    /* A key longer than the name limit, though present in full. */
    b_header(&b, 3, 0, 1);
    b_u64(&b, 70000);
    b_zeros(&b, 70100);
    expect_fail(&b, CRIA_ERR_FORMAT, "over the limit");
    b_free(&b);

    /* Array counts of 2^62: scalars (size overflow with 8-byte elements) and strings. */
    static const uint32_t elem[] = {CRIA_GGUF_UINT32, CRIA_GGUF_UINT64, CRIA_GGUF_STRING};
    static const char *const needle[] = {"needs 4611686018427387904 uint32", "needs 4611686018427387904 uint64",
                                         "array of 4611686018427387904 strings cannot fit"};
    for (int i = 0; i < 3; i++) {
        b_header(&b, 3, 0, 1);
        b_str(&b, "arr");
        b_u32(&b, CRIA_GGUF_ARRAY);
        b_u32(&b, elem[i]);
        b_u64(&b, 1ull << 62);
        b_zeros(&b, 64);
        expect_fail(&b, CRIA_ERR_FORMAT, needle[i]);
        b_free(&b);
    }
    /* A string inside an array whose length runs past the end. */
    b_header(&b, 3, 0, 1);
    b_str(&b, "arr");
    b_u32(&b, CRIA_GGUF_ARRAY);
    b_u32(&b, CRIA_GGUF_STRING);
    b_u64(&b, 2);
    b_str(&b, "ok");
    b_u64(&b, 1000);
    b_zeros(&b, 10);
    expect_fail(&b, CRIA_ERR_FORMAT, "string 1 of 2 has length 1000");
    b_free(&b);
}

/* One tensor with the given shape and type, data zero-filled and large enough. */
static buf shape_file(const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type)
{
    buf b = {0};
    b_header(&b, 3, 1, 0);
    b_tensor(&b, name, n_dims, ne, type, 0);
    b_pad(&b, 32);
    b_zeros(&b, 4096);
    return b;
}

static void test_bad_tensor_infos(void **state)
{
    (void)state;
    static const uint64_t ne[] = {32, 2, 1, 1, 1};
    buf b = shape_file("t", 1, ne, 99);
    expect_fail(&b, CRIA_ERR_UNSUPPORTED, "tensor 't' has unknown type id 99");
    b_free(&b);
    b = shape_file("t", 1, ne, 4);
    expect_fail(&b, CRIA_ERR_UNSUPPORTED, "unknown type id 4");
    b_free(&b);
    b = shape_file("t", 0, ne, CRIA_DTYPE_F32);
    expect_fail(&b, CRIA_ERR_FORMAT, "tensor 't' has 0 dimensions");
    b_free(&b);
    b = shape_file("t", 5, ne, CRIA_DTYPE_F32);
    expect_fail(&b, CRIA_ERR_FORMAT, "has 5 dimensions");
    b_free(&b);
    b = shape_file("t", 3, (const uint64_t[]){4, 0, 2}, CRIA_DTYPE_F32);
    expect_fail(&b, CRIA_ERR_FORMAT, "dimension 1 is 0");
    b_free(&b);
    b = shape_file("t", 3, (const uint64_t[]){1ull << 32, 1ull << 32, 2}, CRIA_DTYPE_F32);
    expect_fail(&b, CRIA_ERR_FORMAT, "element count of dimensions [4294967296, 4294967296, 2] overflows");
    b_free(&b);
    b = shape_file("t", 2, (const uint64_t[]){1ull << 30, 1ull << 30}, CRIA_DTYPE_F64);
    expect_fail(&b, CRIA_ERR_FORMAT, "runs past the end");
    b_free(&b);
    b = shape_file("t", 1, (const uint64_t[]){1ull << 62}, CRIA_DTYPE_F64);
    expect_fail(&b, CRIA_ERR_FORMAT, "byte size overflows");
    b_free(&b);
    b = shape_file("t", 2, (const uint64_t[]){33, 2}, CRIA_DTYPE_Q4_0);
    expect_fail(&b, CRIA_ERR_FORMAT, "type q4_0: row length 33 is not a multiple of the block size 32");
    b_free(&b);
    b = shape_file("t\n\x01", 1, (const uint64_t[]){8}, 99);
    expect_fail(&b, CRIA_ERR_UNSUPPORTED, "tensor 't\\x0a\\x01'");
    b_free(&b);
}

static void test_bad_values(void **state)
{
    (void)state;
    buf b = {0};
    b_header(&b, 3, 0, 1);
    b_str(&b, "flag");
    b_u32(&b, CRIA_GGUF_BOOL);
    b_u8(&b, 2);
    expect_fail(&b, CRIA_ERR_FORMAT, "key 'flag': bool value 2 is not 0 or 1");
    b_free(&b);

    b_header(&b, 3, 0, 1);
    b_str(&b, "flags");
    b_u32(&b, CRIA_GGUF_ARRAY);
    b_u32(&b, CRIA_GGUF_BOOL);
    b_u64(&b, 3);
    b_u8(&b, 1);
    b_u8(&b, 0);
    b_u8(&b, 7);
    expect_fail(&b, CRIA_ERR_FORMAT, "bool value 7");
    b_free(&b);

    b_header(&b, 3, 0, 1);
    b_str(&b, "k");
    b_u32(&b, 13);
    b_zeros(&b, 16);
    expect_fail(&b, CRIA_ERR_FORMAT, "key 'k' has unknown value type 13");
    b_free(&b);

    b_header(&b, 3, 0, 1);
    b_str(&b, "nest");
    b_u32(&b, CRIA_GGUF_ARRAY);
    b_u32(&b, CRIA_GGUF_ARRAY);
    b_u64(&b, 1);
    b_zeros(&b, 16);
    expect_fail(&b, CRIA_ERR_UNSUPPORTED, "nested arrays are not supported");
    b_free(&b);

    b_header(&b, 3, 0, 1);
    b_str(&b, "arr");
    b_u32(&b, CRIA_GGUF_ARRAY);
    b_u32(&b, 200);
    b_u64(&b, 1);
    b_zeros(&b, 16);
    expect_fail(&b, CRIA_ERR_FORMAT, "array of unknown value type 200");
    b_free(&b);
}

static void test_bad_alignment(void **state)
{
    (void)state;
    static const uint32_t bad[] = {0, 3, 48};
    for (int i = 0; i < 3; i++) {
        buf b = {0};
        char needle[64];
        b_header(&b, 3, 0, 1);
        b_kv_u32(&b, "general.alignment", bad[i]);
        snprintf(needle, sizeof needle, "general.alignment %u is not a non-zero power of two", bad[i]);
        expect_fail(&b, CRIA_ERR_FORMAT, needle);
        b_free(&b);
    }
    buf b = {0};
    b_header(&b, 3, 0, 1);
    b_str(&b, "general.alignment");
    b_u32(&b, CRIA_GGUF_UINT64);
    b_u64(&b, 64);
    expect_fail(&b, CRIA_ERR_FORMAT, "general.alignment must be a uint32, found uint64");
    b_free(&b);

    /* A valid non-default alignment moves the data section and governs offsets. */
    b_header(&b, 3, 1, 1);
    b_kv_u32(&b, "general.alignment", 64);
    b_tensor(&b, "t", 1, (const uint64_t[]){8}, CRIA_DTYPE_F32, 32);
    b_zeros(&b, 256);
    expect_fail(&b, CRIA_ERR_FORMAT, "offset 32 is not a multiple of the alignment 64");
    b_free(&b);
}

static void test_duplicates(void **state)
{
    (void)state;
    buf b = {0};
    b_header(&b, 3, 0, 3);
    b_kv_u32(&b, "a", 1);
    b_kv_u32(&b, "b", 2);
    b_kv_str(&b, "a", "again");
    expect_fail(&b, CRIA_ERR_FORMAT, "duplicate key 'a' (first at byte 24)");
    b_free(&b);

    b_header(&b, 3, 2, 0);
    b_tensor(&b, "w", 1, (const uint64_t[]){8}, CRIA_DTYPE_F32, 0);
    b_tensor(&b, "w", 1, (const uint64_t[]){8}, CRIA_DTYPE_F32, 32);
    b_pad(&b, 32);
    b_zeros(&b, 64);
    expect_fail(&b, CRIA_ERR_FORMAT, "duplicate tensor name 'w' (first at byte 24)");
    b_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_scalars),
        cmocka_unit_test(test_roundtrip_strings),
        cmocka_unit_test(test_roundtrip_arrays),
        cmocka_unit_test(test_roundtrip_tensors),
        cmocka_unit_test(test_writer_caller_alignment),
        cmocka_unit_test(test_writer_rejects),
        cmocka_unit_test(test_find_many),
        cmocka_unit_test(test_real_stories260k),
        cmocka_unit_test(test_real_vocab_spm),
        cmocka_unit_test(test_reader_iter),
        cmocka_unit_test(test_missing_and_empty),
        cmocka_unit_test(test_bad_magic_and_version),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_tensor_data_bounds),
        cmocka_unit_test(test_absurd_counts),
        cmocka_unit_test(test_bad_tensor_infos),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_bad_alignment),
        cmocka_unit_test(test_duplicates),
    };
    return cmocka_run_group_tests_name("gguf", tests, NULL, NULL);
}
