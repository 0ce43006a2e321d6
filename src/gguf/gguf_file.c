/*
 * The indexed GGUF file: maps it read-only, runs the reader over every key and
 * tensor info, checks what the reader cannot (duplicates, the data section and
 * each tensor's range), and answers lookups through two small hash tables.
 */
#include "gguf/gguf_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

struct cria_gguf {
    char *name;
    const uint8_t *base;
    uint64_t size;
    void *map; /* the mapping cria_gguf_open made, or NULL for a borrowed buffer */
    size_t map_len;
    uint32_t version;
    uint64_t alignment, data_offset;

    cria_gguf_kv *kvs;
    uint64_t n_kv;
    uint64_t **str_offs; /* per kv: offset from kv->value of each element of a string array, else NULL */
    cria_gguf_tensor *tensors;
    uint64_t n_tensors;

    /* Open-addressed tables (linear probing) holding index + 1; 0 marks an empty slot. */
    uint64_t *kv_slots, *t_slots;
    uint64_t kv_mask, t_mask;
};

/* ---- hashing ----------------------------------------------------------------- */

/* FNV-1a over n bytes. */
static uint64_t hash_bytes(const char *p, uint64_t n)
{
    uint64_t h = 0xcbf29ce484222325u;
    for (uint64_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 0x100000001b3u;
    }
    return h;
}

/* The key of kv i or the name of tensor i. */
static cria_gguf_str entry_name(const cria_gguf *g, bool tensors, uint64_t i)
{
    return tensors ? g->tensors[i].name : g->kvs[i].key;
}

/*
 * Looks up the n bytes at p in the kv or tensor table. Returns index + 1, or 0
 * with *slot (if non-NULL) set to the empty slot where the name would go.
 */
static uint64_t table_find(const cria_gguf *g, bool tensors, const char *p, uint64_t n, uint64_t *slot)
{
    const uint64_t *slots = tensors ? g->t_slots : g->kv_slots;
    uint64_t mask = tensors ? g->t_mask : g->kv_mask;
    if (!slots)
        return 0;
    for (uint64_t s = hash_bytes(p, n) & mask;; s = (s + 1) & mask) {
        uint64_t v = slots[s];
        if (v == 0) {
            if (slot)
                *slot = s;
            return 0;
        }
        cria_gguf_str e = entry_name(g, tensors, v - 1);
        if (e.len == n && (n == 0 || memcmp(e.ptr, p, n) == 0))
            return v;
    }
}

/*
 * Builds the kv or tensor table over the n entries, failing on the first name
 * seen twice (reported at the second one).
 */
static cria_status table_build(cria_gguf *g, bool tensors, uint64_t n, cria_error *err)
{
    uint64_t cap = 16;
    while (cap < 2 * n)
        cap *= 2;
    uint64_t *slots = calloc(cap, sizeof *slots);
    if (!slots)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory for a table of %" PRIu64 " names", g->name, n);
    if (tensors) {
        g->t_slots = slots;
        g->t_mask = cap - 1;
    } else {
        g->kv_slots = slots;
        g->kv_mask = cap - 1;
    }
    for (uint64_t i = 0; i < n; i++) {
        cria_gguf_str e = entry_name(g, tensors, i);
        uint64_t slot = 0, prev = table_find(g, tensors, e.ptr, e.len, &slot);
        if (prev) {
            char q[CRIA_GGUF_QUOTE_CAP];
            cria_gguf_quote(e, q, sizeof q);
            if (tensors)
                return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, g->name, g->tensors[i].info_offset,
                                         "duplicate tensor name '%s' (first at byte %" PRIu64 ")", q,
                                         g->tensors[prev - 1].info_offset);
            return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, g->name, g->kvs[i].offset,
                                     "duplicate key '%s' (first at byte %" PRIu64 ")", q, g->kvs[prev - 1].offset);
        }
        slots[slot] = i + 1;
    }
    return CRIA_OK;
}

/* ---- building the index -------------------------------------------------------- */

/* Makes room for need elements of elem bytes in *arr (capacity *cap). False on allocation failure. */
static bool grow(void **arr, uint64_t *cap, uint64_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    uint64_t nc = *cap ? *cap * 2 : 16;
    if (nc < need)
        nc = need;
    if (nc > SIZE_MAX / elem)
        return false;
    void *p = realloc(*arr, (size_t)(nc * elem));
    if (!p)
        return false;
    *arr = p;
    *cap = nc;
    return true;
}

/* Records where each element of a (validated) string array starts. NULL on allocation failure. */
static uint64_t *string_offsets(const cria_gguf_kv *kv)
{
    uint64_t *offs = malloc((size_t)(kv->arr_n ? kv->arr_n : 1) * sizeof *offs);
    if (!offs)
        return NULL;
    uint64_t off = 0;
    for (uint64_t i = 0; i < kv->arr_n; i++) {
        offs[i] = off;
        off += 8 + cria_gguf_ld64(kv->value + off);
    }
    return offs;
}

/* Reads every key/value into g->kvs, indexing string arrays. */
static cria_status read_kvs(cria_gguf *g, cria_gguf_reader *r, cria_error *err)
{
    uint64_t cap = 0, cap_offs = 0;
    for (;;) {
        cria_gguf_kv kv;
        cria_gguf_iter it = cria_gguf_reader_next_kv(r, &kv, err);
        if (it == CRIA_GGUF_ITER_ERROR)
            return err->status;
        if (it == CRIA_GGUF_ITER_DONE)
            return CRIA_OK;
        if (!grow((void **)&g->kvs, &cap, g->n_kv + 1, sizeof *g->kvs) ||
            !grow((void **)&g->str_offs, &cap_offs, g->n_kv + 1, sizeof *g->str_offs))
            return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory for %" PRIu64 " key/values", g->name,
                                g->n_kv + 1);
        g->str_offs[g->n_kv] = NULL;
        if (kv.type == CRIA_GGUF_ARRAY && kv.arr_type == CRIA_GGUF_STRING) {
            g->str_offs[g->n_kv] = string_offsets(&kv);
            if (!g->str_offs[g->n_kv])
                return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory indexing %" PRIu64 " strings",
                                    g->name, kv.arr_n);
        }
        g->kvs[g->n_kv++] = kv;
    }
}

/* Reads every tensor info into g->tensors. */
static cria_status read_tensors(cria_gguf *g, cria_gguf_reader *r, cria_error *err)
{
    uint64_t cap = 0;
    for (;;) {
        cria_gguf_tensor t;
        cria_gguf_iter it = cria_gguf_reader_next_tensor(r, &t, err);
        if (it == CRIA_GGUF_ITER_ERROR)
            return err->status;
        if (it == CRIA_GGUF_ITER_DONE)
            return CRIA_OK;
        if (!grow((void **)&g->tensors, &cap, g->n_tensors + 1, sizeof *g->tensors))
            return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory for %" PRIu64 " tensor infos", g->name,
                                g->n_tensors + 1);
        g->tensors[g->n_tensors++] = t;
    }
}

/* Places the data section after the header and checks that each tensor's bytes lie inside the file. */
static cria_status place_data(cria_gguf *g, uint64_t header_end, cria_error *err)
{
    uint64_t pad = (g->alignment - header_end % g->alignment) % g->alignment;
    if (__builtin_add_overflow(header_end, pad, &g->data_offset))
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, g->name, header_end, "the data section offset overflows");
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        cria_gguf_tensor *t = &g->tensors[i];
        char q[CRIA_GGUF_QUOTE_CAP];
        uint64_t start, end;
        if (__builtin_add_overflow(g->data_offset, t->offset, &start) ||
            __builtin_add_overflow(start, t->n_bytes, &end))
            return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, g->name, t->info_offset,
                                     "tensor '%s' data (offset %" PRIu64 ", %" PRIu64
                                     " bytes) overflows a 64-bit file offset",
                                     cria_gguf_quote(t->name, q, sizeof q), t->offset, t->n_bytes);
        if (end > g->size)
            return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, g->name, t->info_offset,
                                     "tensor '%s' data [%" PRIu64 ", %" PRIu64
                                     ") runs past the end of the file (size %" PRIu64 ")",
                                     cria_gguf_quote(t->name, q, sizeof q), start, end, g->size);
        t->data = g->base + start;
    }
    return CRIA_OK;
}

/* Parses and validates the whole header of g->base and builds the index. */
static cria_status build_index(cria_gguf *g, cria_error *err)
{
    cria_gguf_reader r;
    cria_status st = cria_gguf_reader_init(&r, g->base, g->size, g->name, err);
    if (st != CRIA_OK)
        return st;
    g->version = r.version;
    if ((st = read_kvs(g, &r, err)) != CRIA_OK || (st = table_build(g, false, g->n_kv, err)) != CRIA_OK)
        return st;
    g->alignment = r.alignment;
    if ((st = read_tensors(g, &r, err)) != CRIA_OK || (st = table_build(g, true, g->n_tensors, err)) != CRIA_OK)
        return st;
    return place_data(g, r.pos, err);
}

/* A handle named name (copied) over size bytes at base; NULL on allocation failure. */
static cria_gguf *handle_new(const char *name, const void *base, uint64_t size)
{
    cria_gguf *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->name = strdup(name ? name : "<memory>");
    if (!g->name) {
        free(g);
        return NULL;
    }
    g->base = base;
    g->size = size;
    g->alignment = CRIA_GGUF_DEFAULT_ALIGNMENT;
    return g;
}

/* Indexes g and hands it to *out, or frees it; err always gets the outcome. */
static cria_status finish_open(cria_gguf *g, cria_gguf **out, cria_error *err)
{
    cria_error local;
    if (!err)
        err = &local;
    cria_err_clear(err);
    cria_status st = build_index(g, err);
    if (st != CRIA_OK) {
        cria_gguf_close(g);
        return st;
    }
    *out = g;
    return CRIA_OK;
}

cria_status cria_gguf_open_memory(const void *data, uint64_t size, const char *name, cria_gguf **out,
                                  cria_error *err)
{
    *out = NULL;
    if (!data && size)
        return cria_err_set(err, CRIA_ERR_ARG, "%s: no data", name ? name : "<memory>");
    cria_gguf *g = handle_new(name, data, size);
    if (!g)
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory", name ? name : "<memory>");
    return finish_open(g, out, err);
}

cria_status cria_gguf_open(const char *path, cria_gguf **out, cria_error *err)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot map: %s", path,
                            S_ISDIR(sb.st_mode) ? "it is a directory" : "not a regular file");
    }
    if (sb.st_size == 0) {
        close(fd);
        return cria_gguf_fail_at(err, CRIA_ERR_FORMAT, path, 0, "file is empty (0 bytes), not a GGUF file");
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return cria_err_set(err, CRIA_ERR_IO, "%s: %" PRIu64 " bytes is too large to map", path,
                            (uint64_t)sb.st_size);
    }
    size_t len = (size_t)sb.st_size;
    void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (m == MAP_FAILED)
        return cria_err_set(err, CRIA_ERR_IO, "%s: cannot map %zu bytes: %s", path, len, strerror(e));
    cria_gguf *g = handle_new(path, m, len);
    if (!g) {
        munmap(m, len);
        return cria_err_set(err, CRIA_ERR_NOMEM, "%s: out of memory", path);
    }
    g->map = m;
    g->map_len = len;
    return finish_open(g, out, err);
}

void cria_gguf_close(cria_gguf *g)
{
    if (!g)
        return;
    if (g->str_offs)
        for (uint64_t i = 0; i < g->n_kv; i++)
            free(g->str_offs[i]);
    free(g->str_offs);
    free(g->kvs);
    free(g->tensors);
    free(g->kv_slots);
    free(g->t_slots);
    if (g->map)
        munmap(g->map, g->map_len);
    free(g->name);
    free(g);
}

/* ---- accessors ------------------------------------------------------------------ */

/* Plain fields of the header; data_offset may exceed the file size when there are no tensors. */

const char *cria_gguf_name(const cria_gguf *g) { return g->name; }
uint32_t cria_gguf_version(const cria_gguf *g) { return g->version; }
uint64_t cria_gguf_alignment(const cria_gguf *g) { return g->alignment; }
uint64_t cria_gguf_data_offset(const cria_gguf *g) { return g->data_offset; }
uint64_t cria_gguf_file_size(const cria_gguf *g) { return g->size; }
uint64_t cria_gguf_n_kv(const cria_gguf *g) { return g->n_kv; }
uint64_t cria_gguf_n_tensors(const cria_gguf *g) { return g->n_tensors; }

const cria_gguf_kv *cria_gguf_kv_at(const cria_gguf *g, uint64_t i)
{
    return i < g->n_kv ? &g->kvs[i] : NULL;
}

const cria_gguf_tensor *cria_gguf_tensor_at(const cria_gguf *g, uint64_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const cria_gguf_kv *cria_gguf_find(const cria_gguf *g, const char *key)
{
    uint64_t v = table_find(g, false, key, strlen(key), NULL);
    return v ? &g->kvs[v - 1] : NULL;
}

const cria_gguf_tensor *cria_gguf_find_tensor(const cria_gguf *g, const char *name)
{
    uint64_t v = table_find(g, true, name, strlen(name), NULL);
    return v ? &g->tensors[v - 1] : NULL;
}

/* ---- typed getters -------------------------------------------------------------- */

/* The pair for key; NULL (and err cleared) when absent. */
static const cria_gguf_kv *lookup(const cria_gguf *g, const char *key, cria_error *err)
{
    const cria_gguf_kv *kv = cria_gguf_find(g, key);
    if (!kv)
        cria_err_clear(err);
    return kv;
}

/* Fills err: key has the wrong type for what the caller wanted. Returns false. */
static bool type_fail(const cria_gguf *g, const cria_gguf_kv *kv, const char *wanted, cria_error *err)
{
    char q[CRIA_GGUF_QUOTE_CAP];
    bool arr = kv->type == CRIA_GGUF_ARRAY;
    cria_gguf_fail_at(err, CRIA_ERR_FORMAT, g->name, kv->offset, "key '%s' has type %s%s, expected %s",
                      cria_gguf_quote(kv->key, q, sizeof q), arr ? "array of " : "",
                      cria_gguf_type_name(arr ? kv->arr_type : kv->type), wanted);
    return false;
}

/*
 * Reads an integer scalar as sign and magnitude (value = neg ? -mag : mag).
 * False when kv is not an integer.
 */
static bool int_value(const cria_gguf_kv *kv, bool *neg, uint64_t *mag)
{
    int64_t s;
    *neg = false;
    switch (kv->type) {
    case CRIA_GGUF_UINT8: *mag = kv->value[0]; return true;
    case CRIA_GGUF_UINT16: *mag = cria_gguf_ld16(kv->value); return true;
    case CRIA_GGUF_UINT32: *mag = cria_gguf_ld32(kv->value); return true;
    case CRIA_GGUF_UINT64: *mag = cria_gguf_ld64(kv->value); return true;
    case CRIA_GGUF_INT8: s = (int8_t)kv->value[0]; break;
    case CRIA_GGUF_INT16: s = (int16_t)cria_gguf_ld16(kv->value); break;
    case CRIA_GGUF_INT32: s = (int32_t)cria_gguf_ld32(kv->value); break;
    case CRIA_GGUF_INT64: s = (int64_t)cria_gguf_ld64(kv->value); break;
    default: return false;
    }
    *neg = s < 0;
    *mag = *neg ? 0u - (uint64_t)s : (uint64_t)s;
    return true;
}

/* Reads key as an integer in [-min_mag, max]; false with err filled when it is not one or out of range. */
static bool get_int(const cria_gguf *g, const char *key, const char *tname, uint64_t min_mag, uint64_t max,
                    bool *neg, uint64_t *mag, cria_error *err)
{
    const cria_gguf_kv *kv = lookup(g, key, err);
    if (!kv)
        return false;
    char wanted[64];
    snprintf(wanted, sizeof wanted, "an integer that fits %s", tname);
    if (!int_value(kv, neg, mag))
        return type_fail(g, kv, wanted, err);
    if (*neg ? *mag > min_mag : *mag > max) {
        char q[CRIA_GGUF_QUOTE_CAP];
        cria_gguf_fail_at(err, CRIA_ERR_FORMAT, g->name, kv->offset, "key '%s' = %s%" PRIu64 " does not fit %s",
                          cria_gguf_quote(kv->key, q, sizeof q), *neg ? "-" : "", *mag, tname);
        return false;
    }
    return true;
}

bool cria_gguf_get_u32(const cria_gguf *g, const char *key, uint32_t *out, cria_error *err)
{
    bool neg;
    uint64_t mag;
    if (!get_int(g, key, "uint32", 0, UINT32_MAX, &neg, &mag, err))
        return false;
    *out = (uint32_t)mag;
    return true;
}

bool cria_gguf_get_i32(const cria_gguf *g, const char *key, int32_t *out, cria_error *err)
{
    bool neg;
    uint64_t mag;
    if (!get_int(g, key, "int32", (uint64_t)INT32_MAX + 1, INT32_MAX, &neg, &mag, err))
        return false;
    *out = neg ? (int32_t)(-(int64_t)mag) : (int32_t)mag;
    return true;
}

bool cria_gguf_get_u64(const cria_gguf *g, const char *key, uint64_t *out, cria_error *err)
{
    bool neg;
    uint64_t mag;
    if (!get_int(g, key, "uint64", 0, UINT64_MAX, &neg, &mag, err))
        return false;
    *out = mag;
    return true;
}

bool cria_gguf_get_f32(const cria_gguf *g, const char *key, float *out, cria_error *err)
{
    const cria_gguf_kv *kv = lookup(g, key, err);
    if (!kv)
        return false;
    if (kv->type == CRIA_GGUF_FLOAT32) {
        uint32_t bits = cria_gguf_ld32(kv->value);
        memcpy(out, &bits, sizeof *out);
        return true;
    }
    if (kv->type == CRIA_GGUF_FLOAT64) {
        uint64_t bits = cria_gguf_ld64(kv->value);
        double d;
        memcpy(&d, &bits, sizeof d);
        if (d > (double)FLT_MAX || d < -(double)FLT_MAX) {
            char q[CRIA_GGUF_QUOTE_CAP];
            cria_gguf_fail_at(err, CRIA_ERR_FORMAT, g->name, kv->offset, "key '%s' = %g does not fit float32",
                              cria_gguf_quote(kv->key, q, sizeof q), d);
            return false;
        }
        *out = (float)d;
        return true;
    }
    return type_fail(g, kv, "float32 or float64", err);
}

bool cria_gguf_get_bool(const cria_gguf *g, const char *key, bool *out, cria_error *err)
{
    const cria_gguf_kv *kv = lookup(g, key, err);
    if (!kv)
        return false;
    if (kv->type != CRIA_GGUF_BOOL)
        return type_fail(g, kv, "bool", err);
    *out = kv->value[0] != 0;
    return true;
}

bool cria_gguf_get_str(const cria_gguf *g, const char *key, cria_gguf_str *out, cria_error *err)
{
    const cria_gguf_kv *kv = lookup(g, key, err);
    if (!kv)
        return false;
    if (kv->type != CRIA_GGUF_STRING)
        return type_fail(g, kv, "string", err);
    *out = kv->str;
    return true;
}

bool cria_gguf_get_arr(const cria_gguf *g, const char *key, cria_gguf_type elem, const cria_gguf_kv **out,
                       cria_error *err)
{
    const cria_gguf_kv *kv = lookup(g, key, err);
    if (!kv)
        return false;
    if (kv->type != CRIA_GGUF_ARRAY || kv->arr_type != elem) {
        char wanted[48];
        snprintf(wanted, sizeof wanted, "an array of %s", cria_gguf_type_name(elem));
        return type_fail(g, kv, wanted, err);
    }
    *out = kv;
    return true;
}

cria_gguf_str cria_gguf_arr_str(const cria_gguf *g, const cria_gguf_kv *kv, uint64_t i)
{
    cria_gguf_str s = {NULL, 0};
    if (kv->type != CRIA_GGUF_ARRAY || kv->arr_type != CRIA_GGUF_STRING || i >= kv->arr_n)
        return s;
    uint64_t off = 0;
    bool indexed = false;
    if (g && g->n_kv) {
        uintptr_t p = (uintptr_t)kv, lo = (uintptr_t)g->kvs, hi = (uintptr_t)(g->kvs + g->n_kv);
        indexed = p >= lo && p < hi && g->str_offs[kv - g->kvs];
    }
    if (indexed) {
        off = g->str_offs[kv - g->kvs][i];
    } else {
        /* A pair from a bare reader: walk the (already validated) lengths. */
        for (uint64_t j = 0; j < i; j++)
            off += 8 + cria_gguf_ld64(kv->value + off);
    }
    s.len = cria_gguf_ld64(kv->value + off);
    s.ptr = (const char *)kv->value + off + 8;
    return s;
}
