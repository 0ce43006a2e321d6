/*
 * The streaming GGUF parser: the fixed header, then each key/value, then each
 * tensor info, every field checked against the bytes that remain before it is
 * used. Also the value-type table and the typed array-element helpers.
 */
#include "gguf/gguf_impl.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *const type_names[CRIA_GGUF_TYPE_COUNT] = {
    [CRIA_GGUF_UINT8] = "uint8",     [CRIA_GGUF_INT8] = "int8",     [CRIA_GGUF_UINT16] = "uint16",
    [CRIA_GGUF_INT16] = "int16",     [CRIA_GGUF_UINT32] = "uint32", [CRIA_GGUF_INT32] = "int32",
    [CRIA_GGUF_FLOAT32] = "float32", [CRIA_GGUF_BOOL] = "bool",     [CRIA_GGUF_STRING] = "string",
    [CRIA_GGUF_ARRAY] = "array",     [CRIA_GGUF_UINT64] = "uint64", [CRIA_GGUF_INT64] = "int64",
    [CRIA_GGUF_FLOAT64] = "float64",
};

/* Bytes of one value of each scalar type; 0 for string and array, whose size depends on the value. */
static const uint8_t type_sizes[CRIA_GGUF_TYPE_COUNT] = {
    [CRIA_GGUF_UINT8] = 1,   [CRIA_GGUF_INT8] = 1,   [CRIA_GGUF_UINT16] = 2, [CRIA_GGUF_INT16] = 2,
    [CRIA_GGUF_UINT32] = 4,  [CRIA_GGUF_INT32] = 4,  [CRIA_GGUF_FLOAT32] = 4, [CRIA_GGUF_BOOL] = 1,
    [CRIA_GGUF_STRING] = 0,  [CRIA_GGUF_ARRAY] = 0,  [CRIA_GGUF_UINT64] = 8, [CRIA_GGUF_INT64] = 8,
    [CRIA_GGUF_FLOAT64] = 8,
};

const char *cria_gguf_type_name(uint32_t t)
{
    return t < CRIA_GGUF_TYPE_COUNT ? type_names[t] : "?";
}

uint64_t cria_gguf_type_size(uint32_t t)
{
    return t < CRIA_GGUF_TYPE_COUNT ? type_sizes[t] : 0;
}

bool cria_gguf_str_eq(cria_gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && (n == 0 || memcmp(s.ptr, c, n) == 0);
}

cria_status cria_gguf_fail_at(cria_error *err, cria_status status, const char *name, uint64_t at,
                              const char *fmt, ...)
{
    char msg[448];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return cria_err_set(err, status, "%s: at byte %" PRIu64 ": %s", name ? name : "<memory>", at, msg);
}

const char *cria_gguf_quote(cria_gguf_str s, char *buf, size_t cap)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    if (cap < 4) {
        if (cap)
            buf[0] = '\0';
        return buf;
    }
    /* Invariant: o + 4 <= cap, so "..." and the NUL always fit. */
    for (uint64_t i = 0; i < s.len; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        bool plain = c >= 0x20 && c < 0x7f && c != '\\';
        size_t need = plain ? 1 : 4;
        if (o + need + 4 > cap) {
            memcpy(buf + o, "...", 3);
            o += 3;
            break;
        }
        if (plain) {
            buf[o++] = (char)c;
        } else {
            buf[o++] = '\\';
            buf[o++] = 'x';
            buf[o++] = hex[c >> 4];
            buf[o++] = hex[c & 15];
        }
    }
    buf[o] = '\0';
    return buf;
}

/* ---- reading fields ---------------------------------------------------------- */

/* Bytes left after r->pos (the reader keeps pos <= size). */
static uint64_t left(const cria_gguf_reader *r)
{
    return r->size - r->pos;
}

/* Reads a u32 field into *v, advancing; a FORMAT error naming what when fewer than 4 bytes remain. */
static cria_status rd32(cria_gguf_reader *r, const char *what, uint32_t *v, cria_error *err)
{
    if (left(r) < 4)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, r->pos,
                                 "truncated: %s needs 4 bytes, %" PRIu64 " remain", what, left(r));
    *v = cria_gguf_ld32(r->base + r->pos);
    r->pos += 4;
    return CRIA_OK;
}

/* Reads a u64 field into *v, advancing; a FORMAT error naming what when fewer than 8 bytes remain. */
static cria_status rd64(cria_gguf_reader *r, const char *what, uint64_t *v, cria_error *err)
{
    if (left(r) < 8)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, r->pos,
                                 "truncated: %s needs 8 bytes, %" PRIu64 " remain", what, left(r));
    *v = cria_gguf_ld64(r->base + r->pos);
    r->pos += 8;
    return CRIA_OK;
}

/*
 * Reads a string (u64 length + bytes) into *out as a view, advancing. Fails
 * when the length is over max or runs past the end.
 */
static cria_status rd_str(cria_gguf_reader *r, const char *what, uint64_t max, cria_gguf_str *out,
                          cria_error *err)
{
    uint64_t at = r->pos, len;
    cria_status st = rd64(r, what, &len, err);
    if (st != CRIA_OK)
        return st;
    if (len > max) {
        r->pos = at;
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at,
                                 "%s has length %" PRIu64 ", over the limit of %" PRIu64 " bytes", what, len, max);
    }
    if (len > left(r)) {
        uint64_t rest = left(r);
        r->pos = at;
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at,
                                 "%s has length %" PRIu64 ", past the end of the file (%" PRIu64 " bytes remain)",
                                 what, len, rest);
    }
    out->ptr = (const char *)r->base + r->pos;
    out->len = len;
    r->pos += len;
    return CRIA_OK;
}

/*
 * Checks n packed scalars of type t at r->pos (bools must be 0 or 1), sets
 * *value to the first and advances past them. q is the quoted key.
 */
static cria_status rd_scalars(cria_gguf_reader *r, uint32_t t, uint64_t n, const char *q, const uint8_t **value,
                              cria_error *err)
{
    uint64_t size = type_sizes[t], bytes;
    if (__builtin_mul_overflow(n, size, &bytes) || bytes > left(r))
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, r->pos,
                                 "truncated: key '%s' needs %" PRIu64 " %s value(s) of %" PRIu64
                                 " bytes, only %" PRIu64 " bytes remain",
                                 q, n, type_names[t], size, left(r));
    const uint8_t *p = r->base + r->pos;
    if (t == CRIA_GGUF_BOOL) {
        for (uint64_t i = 0; i < n; i++)
            if (p[i] > 1)
                return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, r->pos + i,
                                         "key '%s': bool value %u is not 0 or 1", q, p[i]);
    }
    *value = p;
    r->pos += bytes;
    return CRIA_OK;
}

/* Reads an array value (element type, count, elements) into kv, advancing. */
static cria_status rd_array(cria_gguf_reader *r, cria_gguf_kv *kv, const char *q, cria_error *err)
{
    uint64_t at = r->pos, n;
    uint32_t et;
    cria_status st = rd32(r, "an array's element type", &et, err);
    if (st != CRIA_OK)
        return st;
    if (et == CRIA_GGUF_ARRAY)
        return cria_gguf_fail_at(err, CRIA_ERR_UNSUPPORTED, r->name, at,
                                 "key '%s' is an array of arrays; nested arrays are not supported", q);
    if (et >= CRIA_GGUF_TYPE_COUNT)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at,
                                 "key '%s' is an array of unknown value type %" PRIu32, q, et);
    uint64_t at_n = r->pos;
    st = rd64(r, "an array's element count", &n, err);
    if (st != CRIA_OK)
        return st;
    kv->arr_type = (cria_gguf_type)et;
    kv->arr_n = n;
    if (et != CRIA_GGUF_STRING)
        return rd_scalars(r, et, n, q, &kv->value, err);

    /* Each string takes at least its 8-byte length: reject impossible counts before walking. */
    if (n > left(r) / 8)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at_n,
                                 "key '%s': an array of %" PRIu64 " strings cannot fit in the %" PRIu64
                                 " bytes that remain",
                                 q, n, left(r));
    kv->value = r->base + r->pos;
    for (uint64_t i = 0; i < n; i++) {
        if (left(r) < 8)
            return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, r->pos,
                                     "truncated: key '%s': string %" PRIu64 " of %" PRIu64
                                     " needs 8 bytes for its length, %" PRIu64 " remain",
                                     q, i, n, left(r));
        uint64_t len = cria_gguf_ld64(r->base + r->pos);
        if (len > left(r) - 8)
            return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, r->pos,
                                     "key '%s': string %" PRIu64 " of %" PRIu64 " has length %" PRIu64
                                     ", past the end of the file (%" PRIu64 " bytes remain)",
                                     q, i, n, len, left(r) - 8);
        r->pos += 8 + len;
    }
    return CRIA_OK;
}

/* Reads a value type and value into kv, advancing. q is the quoted key. */
static cria_status rd_value(cria_gguf_reader *r, cria_gguf_kv *kv, const char *q, cria_error *err)
{
    uint64_t at = r->pos;
    uint32_t t;
    cria_status st = rd32(r, "a value type", &t, err);
    if (st != CRIA_OK)
        return st;
    if (t >= CRIA_GGUF_TYPE_COUNT)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at, "key '%s' has unknown value type %" PRIu32,
                                 q, t);
    kv->type = (cria_gguf_type)t;
    if (t == CRIA_GGUF_ARRAY)
        return rd_array(r, kv, q, err);
    if (t == CRIA_GGUF_STRING) {
        char what[CRIA_GGUF_QUOTE_CAP + 32];
        snprintf(what, sizeof what, "the value of key '%s'", q);
        st = rd_str(r, what, UINT64_MAX, &kv->str, err);
        kv->value = (const uint8_t *)kv->str.ptr;
        return st;
    }
    return rd_scalars(r, t, 1, q, &kv->value, err);
}

/* ---- the reader --------------------------------------------------------------- */

cria_status cria_gguf_reader_init(cria_gguf_reader *r, const void *data, uint64_t size, const char *name,
                                  cria_error *err)
{
    memset(r, 0, sizeof *r);
    r->base = data;
    r->size = size;
    r->name = name ? name : "<memory>";
    r->alignment = CRIA_GGUF_DEFAULT_ALIGNMENT;
    if (!data && size)
        return cria_err_set(err, CRIA_ERR_ARG, "%s: no data", r->name);
    if (size == 0)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, 0, "file is empty (0 bytes), not a GGUF file");
    if (size < 4 || memcmp(r->base, "GGUF", 4) != 0) {
        char q[32];
        cria_gguf_str m = {(const char *)r->base, size < 4 ? size : 4};
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, 0,
                                 "not a GGUF file: the magic is '%s', expected 'GGUF'",
                                 cria_gguf_quote(m, q, sizeof q));
    }
    r->pos = 4;
    uint32_t v;
    cria_status st = rd32(r, "the version", &v, err);
    if (st != CRIA_OK)
        return st;
    if (v == 1)
        return cria_gguf_fail_at(err, CRIA_ERR_UNSUPPORTED, r->name, 4,
                                 "GGUF version 1 is unsupported (it used 32-bit counts); convert the file again");
    if (v != 2 && v != 3) {
        uint32_t sw = __builtin_bswap32(v);
        if (sw == 2 || sw == 3)
            return cria_gguf_fail_at(err, CRIA_ERR_UNSUPPORTED, r->name, 4,
                                     "big-endian GGUF (version %" PRIu32 ") is unsupported", sw);
        return cria_gguf_fail_at(err, CRIA_ERR_UNSUPPORTED, r->name, 4,
                                 "GGUF version %" PRIu32 " is unsupported (expected 2 or 3)", v);
    }
    r->version = v;
    if ((st = rd64(r, "the tensor count", &r->n_tensors, err)) != CRIA_OK ||
        (st = rd64(r, "the key/value count", &r->n_kv, err)) != CRIA_OK)
        return st;

    /* The smallest key/value is 8 + 4 + 1 bytes; the smallest tensor info 8 + 4 + 8 + 4 + 8. */
    uint64_t rest = left(r), need_kv, need_t, need;
    if (r->n_tensors > rest / 32)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, 8,
                                 "impossible tensor count %" PRIu64 ": each tensor info takes at least 32 bytes and "
                                 "only %" PRIu64 " bytes remain",
                                 r->n_tensors, rest);
    if (r->n_kv > rest / 13)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, 16,
                                 "impossible key/value count %" PRIu64 ": each pair takes at least 13 bytes and "
                                 "only %" PRIu64 " bytes remain",
                                 r->n_kv, rest);
    need_kv = r->n_kv * 13;
    need_t = r->n_tensors * 32;
    if (__builtin_add_overflow(need_kv, need_t, &need) || need > rest)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, 8,
                                 "impossible counts: %" PRIu64 " tensors and %" PRIu64
                                 " key/values need at least %" PRIu64 " bytes, only %" PRIu64 " remain",
                                 r->n_tensors, r->n_kv, need_kv + need_t, rest);
    return CRIA_OK;
}

/* Checks general.alignment: a uint32, a non-zero power of two. Sets r->alignment. */
static cria_status check_alignment(cria_gguf_reader *r, const cria_gguf_kv *kv, cria_error *err)
{
    if (kv->type != CRIA_GGUF_UINT32)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, kv->offset,
                                 "general.alignment must be a uint32, found %s", type_names[kv->type]);
    uint32_t a = cria_gguf_ld32(kv->value);
    if (!cria_gguf_pow2(a))
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, kv->offset,
                                 "general.alignment %" PRIu32 " is not a non-zero power of two", a);
    r->alignment = a;
    return CRIA_OK;
}

/* On ERROR the reader is left as it was, so a repeated call fails the same way. */
cria_gguf_iter cria_gguf_reader_next_kv(cria_gguf_reader *r, cria_gguf_kv *kv, cria_error *err)
{
    if (r->kv_read >= r->n_kv)
        return CRIA_GGUF_ITER_DONE;
    uint64_t start = r->pos, align = r->alignment;
    cria_gguf_kv tmp = {.offset = start};
    char what[48], q[CRIA_GGUF_QUOTE_CAP];
    snprintf(what, sizeof what, "key %" PRIu64, r->kv_read);
    if (rd_str(r, what, CRIA_GGUF_MAX_NAME, &tmp.key, err) != CRIA_OK)
        goto fail;
    cria_gguf_quote(tmp.key, q, sizeof q);
    if (rd_value(r, &tmp, q, err) != CRIA_OK)
        goto fail;
    if (cria_gguf_str_eq(tmp.key, "general.alignment") && check_alignment(r, &tmp, err) != CRIA_OK)
        goto fail;
    r->kv_read++;
    *kv = tmp;
    return CRIA_GGUF_ITER_ITEM;
fail:
    r->pos = start;
    r->alignment = align;
    return CRIA_GGUF_ITER_ERROR;
}

/* Writes "[a, b, ...]" of the first n dims into buf. */
static const char *fmt_dims(const uint64_t *ne, uint32_t n, char *buf, size_t cap)
{
    size_t o = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < n && o < cap; i++) {
        int w = snprintf(buf + o, cap - o, "%s%" PRIu64, i ? ", " : "[", ne[i]);
        if (w < 0)
            break;
        o += (size_t)w;
    }
    if (o < cap)
        snprintf(buf + o, cap - o, "]");
    return buf;
}

/* Reads the tensor info at r->pos into *t (data left NULL), advancing. */
static cria_status rd_tensor(cria_gguf_reader *r, cria_gguf_tensor *t, cria_error *err)
{
    char what[48], q[CRIA_GGUF_QUOTE_CAP], dims[128];
    snprintf(what, sizeof what, "the name of tensor %" PRIu64, r->tensors_read);
    cria_status st = rd_str(r, what, CRIA_GGUF_MAX_NAME, &t->name, err);
    if (st != CRIA_OK)
        return st;
    cria_gguf_quote(t->name, q, sizeof q);

    uint64_t at = r->pos;
    if ((st = rd32(r, "the dimension count", &t->n_dims, err)) != CRIA_OK)
        return st;
    if (t->n_dims < 1 || t->n_dims > CRIA_GGUF_MAX_DIMS)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at,
                                 "tensor '%s' has %" PRIu32 " dimensions (expected 1 to %d)", q, t->n_dims,
                                 CRIA_GGUF_MAX_DIMS);
    at = r->pos;
    uint64_t n = 1;
    for (uint32_t d = 0; d < CRIA_GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d >= t->n_dims)
            continue;
        uint64_t at_d = r->pos;
        if ((st = rd64(r, "a dimension", &t->ne[d], err)) != CRIA_OK)
            return st;
        if (t->ne[d] == 0)
            return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at_d, "tensor '%s': dimension %" PRIu32 " is 0",
                                     q, d);
    }
    for (uint32_t d = 0; d < t->n_dims; d++)
        if (__builtin_mul_overflow(n, t->ne[d], &n) || n > (uint64_t)INT64_MAX)
            return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at,
                                     "tensor '%s': the element count of dimensions %s overflows", q,
                                     fmt_dims(t->ne, t->n_dims, dims, sizeof dims));
    t->n_elements = n;

    at = r->pos;
    uint32_t type;
    if ((st = rd32(r, "the tensor type", &type, err)) != CRIA_OK)
        return st;
    const cria_dtype_info *info = cria_dtype_get(type);
    if (!info)
        return cria_gguf_fail_at(err, CRIA_ERR_UNSUPPORTED, r->name, at,
                                 "tensor '%s' has unknown type id %" PRIu32, q, type);
    t->type = (cria_dtype)type;
    if (t->ne[0] % info->block != 0)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at,
                                 "tensor '%s' of type %s: row length %" PRIu64
                                 " is not a multiple of the block size %" PRIu32,
                                 q, info->name, t->ne[0], info->block);
    uint64_t row;
    if (!cria_dtype_row_bytes(t->type, t->ne[0], &row) || __builtin_mul_overflow(row, n / t->ne[0], &t->n_bytes))
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at,
                                 "tensor '%s' of type %s with dimensions %s: the byte size overflows", q, info->name,
                                 fmt_dims(t->ne, t->n_dims, dims, sizeof dims));

    at = r->pos;
    if ((st = rd64(r, "the tensor data offset", &t->offset, err)) != CRIA_OK)
        return st;
    if (t->offset % r->alignment != 0)
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, r->name, at,
                                 "tensor '%s': data offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                                 q, t->offset, r->alignment);
    t->data = NULL;
    return CRIA_OK;
}

/* Skips any key/values not yet read. On ERROR the reader is left as it was. */
cria_gguf_iter cria_gguf_reader_next_tensor(cria_gguf_reader *r, cria_gguf_tensor *t, cria_error *err)
{
    cria_gguf_kv kv;
    cria_gguf_iter it;
    while ((it = cria_gguf_reader_next_kv(r, &kv, err)) == CRIA_GGUF_ITER_ITEM)
        ;
    if (it == CRIA_GGUF_ITER_ERROR)
        return it;
    if (r->tensors_read >= r->n_tensors)
        return CRIA_GGUF_ITER_DONE;
    uint64_t start = r->pos;
    cria_gguf_tensor tmp = {.info_offset = start};
    if (rd_tensor(r, &tmp, err) != CRIA_OK) {
        r->pos = start;
        return CRIA_GGUF_ITER_ERROR;
    }
    r->tensors_read++;
    *t = tmp;
    return CRIA_GGUF_ITER_ITEM;
}

/* ---- array elements ------------------------------------------------------------ */

int64_t cria_gguf_arr_int(const cria_gguf_kv *kv, uint64_t i)
{
    if (kv->type != CRIA_GGUF_ARRAY || i >= kv->arr_n)
        return 0;
    const uint8_t *p = kv->value + i * type_sizes[kv->arr_type];
    switch (kv->arr_type) {
    case CRIA_GGUF_UINT8:
    case CRIA_GGUF_BOOL: return p[0];
    case CRIA_GGUF_INT8: return (int8_t)p[0];
    case CRIA_GGUF_UINT16: return cria_gguf_ld16(p);
    case CRIA_GGUF_INT16: return (int16_t)cria_gguf_ld16(p);
    case CRIA_GGUF_UINT32: return cria_gguf_ld32(p);
    case CRIA_GGUF_INT32: return (int32_t)cria_gguf_ld32(p);
    case CRIA_GGUF_UINT64:
    case CRIA_GGUF_INT64: return (int64_t)cria_gguf_ld64(p);
    default: return 0;
    }
}

float cria_gguf_arr_f32(const cria_gguf_kv *kv, uint64_t i)
{
    if (kv->type != CRIA_GGUF_ARRAY || i >= kv->arr_n)
        return 0.0f;
    if (kv->arr_type == CRIA_GGUF_FLOAT32) {
        uint32_t bits = cria_gguf_ld32(kv->value + i * 4);
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    if (kv->arr_type == CRIA_GGUF_FLOAT64) {
        uint64_t bits = cria_gguf_ld64(kv->value + i * 8);
        double d;
        memcpy(&d, &bits, sizeof d);
        /* Out-of-range conversion is undefined; saturate to infinity like IEEE rounding would. */
        if (d > (double)FLT_MAX)
            return INFINITY;
        if (d < -(double)FLT_MAX)
            return -INFINITY;
        return (float)d;
    }
    if (kv->arr_type == CRIA_GGUF_STRING)
        return 0.0f;
    if (kv->arr_type == CRIA_GGUF_UINT64)
        return (float)(uint64_t)cria_gguf_arr_int(kv, i);
    return (float)cria_gguf_arr_int(kv, i);
}
