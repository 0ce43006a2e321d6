/*
 * GGUF files: a bounds-checked reader over a read-only mapping, and a writer.
 *
 * Layout (little-endian): magic "GGUF", u32 version (2 or 3), u64 n_tensors,
 * u64 n_kv; n_kv key/value pairs (string key, u32 value type, value); n_tensors
 * tensor infos (string name, u32 n_dims, n_dims x u64 dims, u32 type, u64
 * offset); padding to general.alignment (default 32); the tensor data, each
 * tensor at data_start + offset. Strings are u64 length + bytes (no NUL).
 * Arrays are u32 element type + u64 count + elements.
 *
 * Nothing read from the file is trusted: every count, length, offset and
 * dimension is checked against the bytes that remain, with overflow-safe
 * arithmetic, before it is used. Errors name the file, the byte offset and
 * the problem. Strings and arrays are returned as views into the mapping,
 * valid until cria_gguf_close.
 */
#ifndef CRIA_GGUF_H
#define CRIA_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dtype.h"
#include "cria.h"

#define CRIA_GGUF_MAX_DIMS 4
#define CRIA_GGUF_DEFAULT_ALIGNMENT 32

typedef enum cria_gguf_type {
    CRIA_GGUF_UINT8 = 0,
    CRIA_GGUF_INT8 = 1,
    CRIA_GGUF_UINT16 = 2,
    CRIA_GGUF_INT16 = 3,
    CRIA_GGUF_UINT32 = 4,
    CRIA_GGUF_INT32 = 5,
    CRIA_GGUF_FLOAT32 = 6,
    CRIA_GGUF_BOOL = 7,
    CRIA_GGUF_STRING = 8,
    CRIA_GGUF_ARRAY = 9,
    CRIA_GGUF_UINT64 = 10,
    CRIA_GGUF_INT64 = 11,
    CRIA_GGUF_FLOAT64 = 12,
    CRIA_GGUF_TYPE_COUNT = 13,
} cria_gguf_type;

/* Name of a value type ("uint32", "string", ...), "?" when out of range. */
const char *cria_gguf_type_name(uint32_t t);

/* Bytes of one value of scalar type t; 0 for STRING, ARRAY and out-of-range types. */
uint64_t cria_gguf_type_size(uint32_t t);

/* A string inside the mapping: len bytes, not NUL-terminated. */
typedef struct cria_gguf_str {
    const char *ptr;
    uint64_t len;
} cria_gguf_str;

/* True when s equals the NUL-terminated c. */
bool cria_gguf_str_eq(cria_gguf_str s, const char *c);

/*
 * One metadata pair. For scalars, `value` points at the little-endian bytes of
 * the value. For strings, `str` is set. For arrays, arr_type/arr_n describe
 * the elements and `value` points at the first one (for string arrays, at the
 * first u64 length; use cria_gguf_arr_str to reach element i).
 */
typedef struct cria_gguf_kv {
    cria_gguf_str key;
    cria_gguf_type type;
    cria_gguf_type arr_type; /* valid when type == CRIA_GGUF_ARRAY */
    uint64_t arr_n;          /* valid when type == CRIA_GGUF_ARRAY */
    cria_gguf_str str;       /* valid when type == CRIA_GGUF_STRING */
    const uint8_t *value;
    uint64_t offset;         /* file offset of the key, for error messages */
} cria_gguf_kv;

typedef struct cria_gguf_tensor {
    cria_gguf_str name;
    uint32_t n_dims;
    uint64_t ne[CRIA_GGUF_MAX_DIMS]; /* ne[0] is the row length; unused dims are 1 */
    cria_dtype type;
    uint64_t offset;      /* relative to the data section, as stored */
    uint64_t n_elements;
    uint64_t n_bytes;
    const void *data;     /* into the mapping; NULL until the data section is known */
    uint64_t info_offset; /* file offset of this tensor's info, for error messages */
} cria_gguf_tensor;

typedef enum cria_gguf_iter {
    CRIA_GGUF_ITER_ERROR = -1,
    CRIA_GGUF_ITER_DONE = 0,
    CRIA_GGUF_ITER_ITEM = 1,
} cria_gguf_iter;

/*
 * Streaming parser over a byte buffer. Reads the header, then each key/value
 * in order, then each tensor info. Usable on its own (it allocates nothing) and
 * used by cria_gguf_open to build its index.
 */
typedef struct cria_gguf_reader {
    const uint8_t *base;
    uint64_t size;
    const char *name;   /* for error messages (usually the path) */
    uint64_t pos;       /* next byte to read */
    uint32_t version;
    uint64_t n_kv, n_tensors;
    uint64_t kv_read, tensors_read;
    uint64_t alignment; /* general.alignment once seen, else the default */
} cria_gguf_reader;

/*
 * Parses the fixed header. Returns CRIA_OK or an error (empty, bad magic,
 * version other than 2 or 3, counts that cannot fit in the bytes left).
 */
cria_status cria_gguf_reader_init(cria_gguf_reader *r, const void *data, uint64_t size, const char *name,
                                  cria_error *err);

/*
 * Next key/value: ITEM (kv filled), DONE after the last one, or ERROR (err
 * filled; the reader is left unchanged, so calling again fails again).
 * Checks general.alignment (a u32, non-zero power of two) and sets
 * r->alignment from it. Duplicate keys are found by cria_gguf_open.
 */
cria_gguf_iter cria_gguf_reader_next_kv(cria_gguf_reader *r, cria_gguf_kv *kv, cria_error *err);

/*
 * Next tensor info, after every key/value has been read (any left are read
 * and skipped first): ITEM, DONE or ERROR (as for next_kv). Checks n_dims,
 * dims (non-zero, product without overflow), the type (unknown ids are
 * CRIA_ERR_UNSUPPORTED), the row size and the offset's alignment; data and
 * range against the file are checked by cria_gguf_open.
 */
cria_gguf_iter cria_gguf_reader_next_tensor(cria_gguf_reader *r, cria_gguf_tensor *t, cria_error *err);

/* ---- the indexed, mapped file ---------------------------------------------- */

typedef struct cria_gguf cria_gguf;

/*
 * Maps path read-only and parses and validates the whole header: every key,
 * every tensor info, the alignment, and that each tensor's data lies inside
 * the file, aligned. *out owns the mapping; it is NULL on failure. A handle
 * never changes after open, so any number of threads may read it at once.
 */
cria_status cria_gguf_open(const char *path, cria_gguf **out, cria_error *err);

/* The same over a caller's buffer (borrowed; must outlive the handle). For tests and fuzzing. */
cria_status cria_gguf_open_memory(const void *data, uint64_t size, const char *name, cria_gguf **out,
                                  cria_error *err);

/* Frees g and its mapping (NULL is fine); every view taken from it dies with it. */
void cria_gguf_close(cria_gguf *g);

const char *cria_gguf_name(const cria_gguf *g);
uint32_t cria_gguf_version(const cria_gguf *g);
uint64_t cria_gguf_alignment(const cria_gguf *g);
uint64_t cria_gguf_data_offset(const cria_gguf *g); /* file offset of the data section (past the end if no tensors) */
uint64_t cria_gguf_file_size(const cria_gguf *g);

uint64_t cria_gguf_n_kv(const cria_gguf *g);
const cria_gguf_kv *cria_gguf_kv_at(const cria_gguf *g, uint64_t i);
/* The pair with this key, or NULL. */
const cria_gguf_kv *cria_gguf_find(const cria_gguf *g, const char *key);

uint64_t cria_gguf_n_tensors(const cria_gguf *g);
const cria_gguf_tensor *cria_gguf_tensor_at(const cria_gguf *g, uint64_t i);
/* The tensor with this name, or NULL. */
const cria_gguf_tensor *cria_gguf_find_tensor(const cria_gguf *g, const char *name);

/*
 * Typed getters. Each returns false (and leaves *out unchanged) when the key is
 * absent, clearing err (status CRIA_OK); when it is present with an
 * incompatible type it returns false and fills err naming the key, the file and
 * the offset. Integer getters accept any integer type whose value fits;
 * cria_gguf_get_f32 accepts float32 and float64 (when it fits).
 */
bool cria_gguf_get_u32(const cria_gguf *g, const char *key, uint32_t *out, cria_error *err);
bool cria_gguf_get_i32(const cria_gguf *g, const char *key, int32_t *out, cria_error *err);
bool cria_gguf_get_u64(const cria_gguf *g, const char *key, uint64_t *out, cria_error *err);
bool cria_gguf_get_f32(const cria_gguf *g, const char *key, float *out, cria_error *err);
bool cria_gguf_get_bool(const cria_gguf *g, const char *key, bool *out, cria_error *err);
bool cria_gguf_get_str(const cria_gguf *g, const char *key, cria_gguf_str *out, cria_error *err);
/* An array whose elements have type elem, as *out; false like the getters above. */
bool cria_gguf_get_arr(const cria_gguf *g, const char *key, cria_gguf_type elem, const cria_gguf_kv **out,
                       cria_error *err);
/*
 * Array element access on a validated kv (i < kv->arr_n; out of range or the
 * wrong element type gives 0, or {NULL, 0}). cria_gguf_arr_str is O(1)
 * for a kv of g (indexed at open) and walks from the start when g is NULL
 * (a kv from a bare reader). cria_gguf_arr_f32 converts float64 and integer
 * elements; cria_gguf_arr_int takes bool as 0/1 and wraps uint64 above
 * INT64_MAX.
 */
cria_gguf_str cria_gguf_arr_str(const cria_gguf *g, const cria_gguf_kv *kv, uint64_t i);
float cria_gguf_arr_f32(const cria_gguf_kv *kv, uint64_t i);
int64_t cria_gguf_arr_int(const cria_gguf_kv *kv, uint64_t i); /* any integer element type */

/* ---- writer ---------------------------------------------------------------- */

typedef struct cria_gguf_writer cria_gguf_writer;

/*
 * A writer for a version-3 file with the given alignment (0: the default, 32).
 * NULL when alignment is not a power of two that fits a u32, or on allocation
 * failure. An alignment other than 32 is recorded as general.alignment (u32)
 * unless the caller sets that key, whose value then rules.
 */
cria_gguf_writer *cria_gguf_writer_init(uint64_t alignment);
void cria_gguf_writer_free(cria_gguf_writer *w);

/*
 * Metadata, kept in call order. Keys and strings are copied. Setting a key
 * again replaces its value in place. Returns false on allocation failure or a
 * bad argument (NULL key or string, non-scalar array type, bool element not 0/1).
 */
bool cria_gguf_writer_set_u8(cria_gguf_writer *w, const char *key, uint8_t v);
bool cria_gguf_writer_set_i8(cria_gguf_writer *w, const char *key, int8_t v);
bool cria_gguf_writer_set_u16(cria_gguf_writer *w, const char *key, uint16_t v);
bool cria_gguf_writer_set_i16(cria_gguf_writer *w, const char *key, int16_t v);
bool cria_gguf_writer_set_u32(cria_gguf_writer *w, const char *key, uint32_t v);
bool cria_gguf_writer_set_i32(cria_gguf_writer *w, const char *key, int32_t v);
bool cria_gguf_writer_set_u64(cria_gguf_writer *w, const char *key, uint64_t v);
bool cria_gguf_writer_set_i64(cria_gguf_writer *w, const char *key, int64_t v);
bool cria_gguf_writer_set_f32(cria_gguf_writer *w, const char *key, float v);
bool cria_gguf_writer_set_f64(cria_gguf_writer *w, const char *key, double v);
bool cria_gguf_writer_set_bool(cria_gguf_writer *w, const char *key, bool v);
bool cria_gguf_writer_set_str(cria_gguf_writer *w, const char *key, const char *v);
/* Array of n scalars of type t (elements packed little-endian as in the file). */
bool cria_gguf_writer_set_arr(cria_gguf_writer *w, const char *key, cria_gguf_type t, const void *elems,
                              uint64_t n);
bool cria_gguf_writer_set_arr_str(cria_gguf_writer *w, const char *key, const char *const *strs, uint64_t n);

/*
 * Adds a tensor; ne[0] is the row length. The data is borrowed until the
 * write call (it must hold the row bytes of the type times the row count).
 * Returns false on a duplicate name, a bad shape (n_dims not 1..4, a zero
 * dimension, ne[0] not a multiple of the block, overflow), an unknown type or
 * allocation failure.
 */
bool cria_gguf_writer_add_tensor(cria_gguf_writer *w, const char *name, cria_dtype type, uint32_t n_dims,
                                 const uint64_t *ne, const void *data);

/*
 * A tensor whose bytes are produced while the file is written, so a converter
 * never holds a whole model in memory: during cria_gguf_writer_write, fill
 * gets the sink and must put exactly the tensor's bytes (row bytes of the type
 * times the rows), in order. A fill that returns an error (err filled) or puts
 * the wrong count fails the write; the target is then untouched.
 */
typedef struct cria_gguf_sink cria_gguf_sink;
typedef cria_status (*cria_gguf_fill_fn)(void *ctx, cria_gguf_sink *sink, cria_error *err);
bool cria_gguf_writer_add_tensor_fill(cria_gguf_writer *w, const char *name, cria_dtype type, uint32_t n_dims,
                                      const uint64_t *ne, cria_gguf_fill_fn fill, void *ctx);
/* Appends n bytes to the tensor being filled; false once a write to the file has failed. */
bool cria_gguf_sink_put(cria_gguf_sink *sink, const void *p, size_t n);

/*
 * Copies one key/value of an open file (any type, arrays of strings
 * included) into w, replacing a pair of the same key. False on allocation
 * failure or an array of arrays.
 */
bool cria_gguf_writer_copy_kv(cria_gguf_writer *w, const cria_gguf *g, const cria_gguf_kv *kv);

/*
 * Writes the file (header, infos, padding, aligned data, padded to the
 * alignment) to a temporary file beside path and renames it over path.
 */
cria_status cria_gguf_writer_write(const cria_gguf_writer *w, const char *path, cria_error *err);

#endif
