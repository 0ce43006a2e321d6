/*
 * Private to src/gguf: little-endian loads, the error-message helpers and the
 * limits shared by the reader (gguf_read.c), the index (gguf_file.c) and the
 * writer (gguf_write.c). Not part of the module's interface.
 */
#ifndef CRIA_GGUF_IMPL_H
#define CRIA_GGUF_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "gguf/gguf.h"

/* Longest key or tensor name accepted; real files use well under 100 bytes. */
#define CRIA_GGUF_MAX_NAME (64u * 1024u)

/* Room for a quoted name in an error message (longer names are cut with "..."). */
#define CRIA_GGUF_QUOTE_CAP 96

static inline uint16_t cria_gguf_ld16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (uint16_t)p[1] << 8);
}

static inline uint32_t cria_gguf_ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t cria_gguf_ld64(const uint8_t *p)
{
    return (uint64_t)cria_gguf_ld32(p) | (uint64_t)cria_gguf_ld32(p + 4) << 32;
}

/*
 * Fills err with "NAME: at byte AT: MESSAGE" and returns status. NAME is
 * "<memory>" when name is NULL.
 */
cria_status cria_gguf_fail_at(cria_error *err, cria_status status, const char *name, uint64_t at,
                              const char *fmt, ...) CRIA_PRINTF(5, 6);

/*
 * Writes s into buf (cap bytes, NUL-terminated) for an error message: bytes
 * outside printable ASCII become \xNN and a long string is cut with "...".
 * Returns buf.
 */
const char *cria_gguf_quote(cria_gguf_str s, char *buf, size_t cap);

/* True when x is a non-zero power of two. */
static inline bool cria_gguf_pow2(uint64_t x)
{
    return x != 0 && (x & (x - 1)) == 0;
}

#endif
