/*
 * The GGUF writer: collects key/values and tensors in call order, then writes
 * a version-3 file (header, infos, padding, aligned data) to a temporary file
 * beside the target and renames it into place, so a reader never sees half a
 * file.
 */
#include "gguf/gguf_impl.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* One pair: the key and the value bytes exactly as the file stores them after the type field. */
typedef struct wkv {
    char *key;
    uint32_t type;
    uint8_t *val;
    size_t val_len;
} wkv;

typedef struct wtensor {
    char *name;
    uint32_t n_dims;
    uint64_t ne[CRIA_GGUF_MAX_DIMS];
    cria_dtype type;
    uint64_t n_bytes;
    const void *data; /* borrowed */
    cria_gguf_fill_fn fill; /* instead of data when set */
    void *fill_ctx;
} wtensor;

struct cria_gguf_writer {
    uint64_t alignment;
    wkv *kvs;
    size_t n_kv, cap_kv;
    wtensor *ts;
    size_t n_t, cap_t;
};

/* Alignment must fit general.alignment's u32; returns NULL when it is not a power of two or on allocation failure. */
cria_gguf_writer *cria_gguf_writer_init(uint64_t alignment)
{
    if (alignment == 0)
        alignment = CRIA_GGUF_DEFAULT_ALIGNMENT;
    if (!cria_gguf_pow2(alignment) || alignment > UINT32_MAX)
        return NULL;
    cria_gguf_writer *w = calloc(1, sizeof *w);
    if (w)
        w->alignment = alignment;
    return w;
}

void cria_gguf_writer_free(cria_gguf_writer *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n_kv; i++) {
        free(w->kvs[i].key);
        free(w->kvs[i].val);
    }
    for (size_t i = 0; i < w->n_t; i++)
        free(w->ts[i].name);
    free(w->kvs);
    free(w->ts);
    free(w);
}

/* ---- metadata ------------------------------------------------------------------ */

/* st16/st32/st64 store v little-endian at p. */
static void st16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void st32(uint8_t *p, uint32_t v)
{
    st16(p, (uint16_t)v);
    st16(p + 2, (uint16_t)(v >> 16));
}

static void st64(uint8_t *p, uint64_t v)
{
    st32(p, (uint32_t)v);
    st32(p + 4, (uint32_t)(v >> 32));
}

/* The pair with this key, or NULL. */
static wkv *find_kv(const cria_gguf_writer *w, const char *key)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->kvs[i].key, key) == 0)
            return &w->kvs[i];
    return NULL;
}

/*
 * Sets key to a value of type t whose bytes val (len) the writer takes over
 * (freed on failure). An existing key keeps its place and gets the new value.
 * False on allocation failure or a bad key.
 */
static bool set_value(cria_gguf_writer *w, const char *key, uint32_t t, uint8_t *val, size_t len)
{
    if (!w || !key || !val || strlen(key) > CRIA_GGUF_MAX_NAME) {
        free(val);
        return false;
    }
    wkv *kv = find_kv(w, key);
    if (kv) {
        free(kv->val);
        kv->type = t;
        kv->val = val;
        kv->val_len = len;
        return true;
    }
    if (w->n_kv == w->cap_kv) {
        size_t nc = w->cap_kv ? w->cap_kv * 2 : 16;
        wkv *p = realloc(w->kvs, nc * sizeof *p);
        if (!p) {
            free(val);
            return false;
        }
        w->kvs = p;
        w->cap_kv = nc;
    }
    char *k = strdup(key);
    if (!k) {
        free(val);
        return false;
    }
    w->kvs[w->n_kv++] = (wkv){k, t, val, len};
    return true;
}

/* Sets a scalar of type t from the low bytes of bits (little-endian). */
static bool set_scalar(cria_gguf_writer *w, const char *key, uint32_t t, uint64_t bits)
{
    size_t n = (size_t)cria_gguf_type_size(t);
    uint8_t *val = malloc(n);
    if (val) {
        uint8_t tmp[8];
        st64(tmp, bits);
        memcpy(val, tmp, n);
    }
    return set_value(w, key, t, val, n);
}

bool cria_gguf_writer_set_u8(cria_gguf_writer *w, const char *key, uint8_t v)
{
    return set_scalar(w, key, CRIA_GGUF_UINT8, v);
}

bool cria_gguf_writer_set_i8(cria_gguf_writer *w, const char *key, int8_t v)
{
    return set_scalar(w, key, CRIA_GGUF_INT8, (uint8_t)v);
}

bool cria_gguf_writer_set_u16(cria_gguf_writer *w, const char *key, uint16_t v)
{
    return set_scalar(w, key, CRIA_GGUF_UINT16, v);
}

bool cria_gguf_writer_set_i16(cria_gguf_writer *w, const char *key, int16_t v)
{
    return set_scalar(w, key, CRIA_GGUF_INT16, (uint16_t)v);
}

bool cria_gguf_writer_set_u32(cria_gguf_writer *w, const char *key, uint32_t v)
{
    return set_scalar(w, key, CRIA_GGUF_UINT32, v);
}

bool cria_gguf_writer_set_i32(cria_gguf_writer *w, const char *key, int32_t v)
{
    return set_scalar(w, key, CRIA_GGUF_INT32, (uint32_t)v);
}

bool cria_gguf_writer_set_u64(cria_gguf_writer *w, const char *key, uint64_t v)
{
    return set_scalar(w, key, CRIA_GGUF_UINT64, v);
}

bool cria_gguf_writer_set_i64(cria_gguf_writer *w, const char *key, int64_t v)
{
    return set_scalar(w, key, CRIA_GGUF_INT64, (uint64_t)v);
}

bool cria_gguf_writer_set_f32(cria_gguf_writer *w, const char *key, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, sizeof bits);
    return set_scalar(w, key, CRIA_GGUF_FLOAT32, bits);
}

bool cria_gguf_writer_set_f64(cria_gguf_writer *w, const char *key, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    return set_scalar(w, key, CRIA_GGUF_FLOAT64, bits);
}

bool cria_gguf_writer_set_bool(cria_gguf_writer *w, const char *key, bool v)
{
    return set_scalar(w, key, CRIA_GGUF_BOOL, v ? 1 : 0);
}

bool cria_gguf_writer_set_str(cria_gguf_writer *w, const char *key, const char *v)
{
    if (!v)
        return false;
    size_t len = strlen(v);
    if (len > SIZE_MAX - 8)
        return false;
    uint8_t *val = malloc(8 + len);
    if (val) {
        st64(val, len);
        memcpy(val + 8, v, len);
    }
    return set_value(w, key, CRIA_GGUF_STRING, val, 8 + len);
}

/* Elements must be scalars; bools must be 0 or 1. */
bool cria_gguf_writer_set_arr(cria_gguf_writer *w, const char *key, cria_gguf_type t, const void *elems,
                              uint64_t n)
{
    uint64_t size = cria_gguf_type_size(t), bytes, total;
    if (size == 0 || (n && !elems) || __builtin_mul_overflow(n, size, &bytes) ||
        __builtin_add_overflow(bytes, 12, &total) || total > SIZE_MAX)
        return false;
    if (t == CRIA_GGUF_BOOL)
        for (uint64_t i = 0; i < n; i++)
            if (((const uint8_t *)elems)[i] > 1)
                return false;
    uint8_t *val = malloc((size_t)total);
    if (val) {
        st32(val, (uint32_t)t);
        st64(val + 4, n);
        if (bytes)
            memcpy(val + 12, elems, (size_t)bytes);
    }
    return set_value(w, key, CRIA_GGUF_ARRAY, val, (size_t)total);
}

bool cria_gguf_writer_set_arr_str(cria_gguf_writer *w, const char *key, const char *const *strs, uint64_t n)
{
    uint64_t total = 12;
    if (n && !strs)
        return false;
    for (uint64_t i = 0; i < n; i++)
        if (!strs[i] || __builtin_add_overflow(total, 8 + (uint64_t)strlen(strs[i]), &total))
            return false;
    if (total > SIZE_MAX)
        return false;
    uint8_t *val = malloc((size_t)total);
    if (val) {
        st32(val, CRIA_GGUF_STRING);
        st64(val + 4, n);
        size_t o = 12;
        for (uint64_t i = 0; i < n; i++) {
            size_t len = strlen(strs[i]);
            st64(val + o, len);
            memcpy(val + o + 8, strs[i], len);
            o += 8 + len;
        }
    }
    return set_value(w, key, CRIA_GGUF_ARRAY, val, (size_t)total);
}

/* ---- tensors ------------------------------------------------------------------- */

/* False on a bad name (NULL, too long, taken), shape, type or allocation failure. */
static bool add_tensor(cria_gguf_writer *w, const char *name, cria_dtype type, uint32_t n_dims, const uint64_t *ne,
                       const void *data, cria_gguf_fill_fn fill, void *fill_ctx)
{
    if (!w || !name || !ne || (!data && !fill) || strlen(name) > CRIA_GGUF_MAX_NAME || n_dims < 1 ||
        n_dims > CRIA_GGUF_MAX_DIMS)
        return false;
    for (size_t i = 0; i < w->n_t; i++)
        if (strcmp(w->ts[i].name, name) == 0)
            return false;
    wtensor t = {.n_dims = n_dims, .type = type, .data = data, .fill = fill, .fill_ctx = fill_ctx};
    uint64_t n = 1, row;
    for (uint32_t d = 0; d < CRIA_GGUF_MAX_DIMS; d++) {
        t.ne[d] = d < n_dims ? ne[d] : 1;
        if (t.ne[d] == 0 || __builtin_mul_overflow(n, t.ne[d], &n) || n > (uint64_t)INT64_MAX)
            return false;
    }
    if (!cria_dtype_row_bytes(type, t.ne[0], &row) || __builtin_mul_overflow(row, n / t.ne[0], &t.n_bytes))
        return false;
    if (w->n_t == w->cap_t) {
        size_t nc = w->cap_t ? w->cap_t * 2 : 16;
        wtensor *p = realloc(w->ts, nc * sizeof *p);
        if (!p)
            return false;
        w->ts = p;
        w->cap_t = nc;
    }
    t.name = strdup(name);
    if (!t.name)
        return false;
    w->ts[w->n_t++] = t;
    return true;
}

bool cria_gguf_writer_add_tensor(cria_gguf_writer *w, const char *name, cria_dtype type, uint32_t n_dims,
                                 const uint64_t *ne, const void *data)
{
    return add_tensor(w, name, type, n_dims, ne, data, NULL, NULL);
}

bool cria_gguf_writer_add_tensor_fill(cria_gguf_writer *w, const char *name, cria_dtype type, uint32_t n_dims,
                                      const uint64_t *ne, cria_gguf_fill_fn fill, void *ctx)
{
    return fill && add_tensor(w, name, type, n_dims, ne, NULL, fill, ctx);
}

/* Rebuilds the value bytes from the parsed view, so nothing depends on how the reader stores them. */
bool cria_gguf_writer_copy_kv(cria_gguf_writer *w, const cria_gguf *g, const cria_gguf_kv *kv)
{
    if (!w || !g || !kv || kv->key.len > CRIA_GGUF_MAX_NAME)
        return false;
    char *key = malloc((size_t)kv->key.len + 1);
    if (!key)
        return false;
    memcpy(key, kv->key.ptr, (size_t)kv->key.len);
    key[kv->key.len] = '\0';
    uint64_t total = 0;
    uint8_t *val = NULL;
    if (kv->type == CRIA_GGUF_STRING) {
        total = 8 + kv->str.len;
        val = total <= SIZE_MAX ? malloc((size_t)total) : NULL;
        if (val) {
            st64(val, kv->str.len);
            memcpy(val + 8, kv->str.ptr, (size_t)kv->str.len);
        }
    } else if (kv->type == CRIA_GGUF_ARRAY && kv->arr_type == CRIA_GGUF_STRING) {
        total = 12;
        for (uint64_t i = 0; i < kv->arr_n; i++)
            total += 8 + cria_gguf_arr_str(g, kv, i).len;
        val = total <= SIZE_MAX ? malloc((size_t)total) : NULL;
        if (val) {
            st32(val, CRIA_GGUF_STRING);
            st64(val + 4, kv->arr_n);
            size_t o = 12;
            for (uint64_t i = 0; i < kv->arr_n; i++) {
                cria_gguf_str e = cria_gguf_arr_str(g, kv, i);
                st64(val + o, e.len);
                if (e.len)
                    memcpy(val + o + 8, e.ptr, (size_t)e.len);
                o += 8 + (size_t)e.len;
            }
        }
    } else if (kv->type == CRIA_GGUF_ARRAY) {
        uint64_t size = cria_gguf_type_size(kv->arr_type);
        if (size == 0) { /* arrays of arrays: no llama model uses them */
            free(key);
            return false;
        }
        total = 12 + kv->arr_n * size; /* the reader checked the count against the file */
        val = total <= SIZE_MAX ? malloc((size_t)total) : NULL;
        if (val) {
            st32(val, (uint32_t)kv->arr_type);
            st64(val + 4, kv->arr_n);
            if (kv->arr_n)
                memcpy(val + 12, kv->value, (size_t)(total - 12));
        }
    } else {
        total = cria_gguf_type_size(kv->type);
        val = total ? malloc((size_t)total) : NULL;
        if (val)
            memcpy(val, kv->value, (size_t)total);
    }
    bool ok = set_value(w, key, (uint32_t)kv->type, val, (size_t)total);
    free(key);
    return ok;
}

/* ---- writing ------------------------------------------------------------------- */

/* A FILE with its position and a sticky failure flag; fill functions see it as their sink. */
typedef struct cria_gguf_sink {
    FILE *f;
    uint64_t pos;
    bool ok;
} out;

/* put and its typed forms append to o, advancing o->pos even after a failure (checked once at the end). */
static void put(out *o, const void *p, size_t n)
{
    if (o->ok && n && fwrite(p, 1, n, o->f) != n)
        o->ok = false;
    o->pos += n;
}

bool cria_gguf_sink_put(cria_gguf_sink *sink, const void *p, size_t n)
{
    put(sink, p, n);
    return sink->ok;
}

static void put32(out *o, uint32_t v)
{
    uint8_t b[4];
    st32(b, v);
    put(o, b, 4);
}

static void put64(out *o, uint64_t v)
{
    uint8_t b[8];
    st64(b, v);
    put(o, b, 8);
}

static void put_str(out *o, const char *s)
{
    size_t n = strlen(s);
    put64(o, n);
    put(o, s, n);
}

/* Writes zeros up to the next multiple of align. */
static void pad(out *o, uint64_t align)
{
    static const uint8_t zeros[256];
    uint64_t n = (align - o->pos % align) % align;
    while (n) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        put(o, zeros, k);
        n -= k;
    }
}

/* Writes the whole file to o; offs[i] gets tensor i's data offset. Fails only when a fill does. */
static cria_status emit(const cria_gguf_writer *w, out *o, uint64_t align, bool auto_align, const uint64_t *offs,
                        const char *path, cria_error *err)
{
    put(o, "GGUF", 4);
    put32(o, 3);
    put64(o, w->n_t);
    put64(o, w->n_kv + (auto_align ? 1 : 0));
    for (size_t i = 0; i < w->n_kv; i++) {
        put_str(o, w->kvs[i].key);
        put32(o, w->kvs[i].type);
        put(o, w->kvs[i].val, w->kvs[i].val_len);
    }
    if (auto_align) {
        put_str(o, "general.alignment");
        put32(o, CRIA_GGUF_UINT32);
        put32(o, (uint32_t)align);
    }
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->ts[i];
        put_str(o, t->name);
        put32(o, t->n_dims);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put64(o, t->ne[d]);
        put32(o, (uint32_t)t->type);
        put64(o, offs[i]);
    }
    pad(o, align);
    for (size_t i = 0; i < w->n_t; i++) {
        pad(o, align); /* data_start is aligned, so this reaches offs[i] */
        const wtensor *t = &w->ts[i];
        if (!t->fill) {
            put(o, t->data, (size_t)t->n_bytes);
            continue;
        }
        uint64_t start = o->pos;
        cria_status st = t->fill(t->fill_ctx, o, err);
        if (st != CRIA_OK)
            return st;
        if (o->pos - start != t->n_bytes)
            return cria_err_set(err, CRIA_ERR_ARG, "%s: tensor %s: %llu bytes produced, %llu expected", path,
                                t->name, (unsigned long long)(o->pos - start), (unsigned long long)t->n_bytes);
    }
    if (w->n_t)
        pad(o, align);
    return CRIA_OK;
}

/* Status ARG for a caller's mistake, IO for a failed write; the target is untouched on failure. */
cria_status cria_gguf_writer_write(const cria_gguf_writer *w, const char *path, cria_error *err)
{
    uint64_t align = w->alignment;
    bool auto_align = false;
    const wkv *ak = find_kv(w, "general.alignment");
    if (ak) {
        if (ak->type != CRIA_GGUF_UINT32 || !cria_gguf_pow2(cria_gguf_ld32(ak->val)))
            return cria_err_set(err, CRIA_ERR_ARG, "%s: general.alignment must be a uint32 power of two", path);
        align = cria_gguf_ld32(ak->val);
    } else {
        auto_align = align != CRIA_GGUF_DEFAULT_ALIGNMENT;
    }

    uint64_t *offs = malloc((w->n_t ? w->n_t : 1) * sizeof *offs);
    if (!offs)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory", path);
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        uint64_t p = (align - off % align) % align;
        if (__builtin_add_overflow(off, p, &offs[i]) || __builtin_add_overflow(offs[i], w->ts[i].n_bytes, &off) ||
            w->ts[i].n_bytes > SIZE_MAX) {
            free(offs);
            return cria_err_set(err, CRIA_ERR_ARG, "%s: tensor data too large", path);
        }
    }

    size_t plen = strlen(path);
    char *tmp = malloc(plen + 16);
    if (!tmp) {
        free(offs);
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int e = errno;
        free(offs);
        free(tmp);
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot create a temporary file: %s", path, strerror(e));
    }
    fchmod(fd, 0644); /* mkstemp makes 0600; a model file is normally world-readable */
    out o = {fdopen(fd, "wb"), 0, true};
    if (!o.f) {
        int e = errno;
        close(fd);
        unlink(tmp);
        free(offs);
        free(tmp);
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot open a temporary file: %s", path, strerror(e));
    }
    cria_status fst = emit(w, &o, align, auto_align, offs, path, err);
    free(offs);
    if (fst != CRIA_OK) {
        fclose(o.f);
        unlink(tmp);
        free(tmp);
        return fst;
    }
    /* No fsync: the rename protects readers from half a file, not the file from a power cut. */
    int e = o.ok ? 0 : errno;
    if (fclose(o.f) != 0 && o.ok) {
        o.ok = false;
        e = errno;
    }
    if (o.ok && rename(tmp, path) != 0) {
        o.ok = false;
        e = errno;
    }
    if (!o.ok) {
        unlink(tmp);
        free(tmp);
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot write: %s", path, strerror(e ? e : EIO));
    }
    free(tmp);
    return CRIA_OK;
}
