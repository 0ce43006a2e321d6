/*
 * Tensor element types, numbered as GGUF numbers them (the ggml type ids), and
 * their storage geometry: a row of n elements takes n / block * block_bytes
 * bytes. The table knows the geometry of every type GGUF defines so files can be
 * validated; whether cria can compute with a type is a separate question
 * (cria_dtype_supported).
 */
#ifndef CRIA_BASE_DTYPE_H
#define CRIA_BASE_DTYPE_H

#include <stdbool.h>
#include <stdint.h>

typedef enum cria_dtype {
    CRIA_DTYPE_F32 = 0,
    CRIA_DTYPE_F16 = 1,
    CRIA_DTYPE_Q4_0 = 2,
    CRIA_DTYPE_Q4_1 = 3,
    CRIA_DTYPE_Q5_0 = 6,
    CRIA_DTYPE_Q5_1 = 7,
    CRIA_DTYPE_Q8_0 = 8,
    CRIA_DTYPE_Q8_1 = 9,
    CRIA_DTYPE_Q2_K = 10,
    CRIA_DTYPE_Q3_K = 11,
    CRIA_DTYPE_Q4_K = 12,
    CRIA_DTYPE_Q5_K = 13,
    CRIA_DTYPE_Q6_K = 14,
    CRIA_DTYPE_Q8_K = 15,
    CRIA_DTYPE_IQ2_XXS = 16,
    CRIA_DTYPE_IQ2_XS = 17,
    CRIA_DTYPE_IQ3_XXS = 18,
    CRIA_DTYPE_IQ1_S = 19,
    CRIA_DTYPE_IQ4_NL = 20,
    CRIA_DTYPE_IQ3_S = 21,
    CRIA_DTYPE_IQ2_S = 22,
    CRIA_DTYPE_IQ4_XS = 23,
    CRIA_DTYPE_I8 = 24,
    CRIA_DTYPE_I16 = 25,
    CRIA_DTYPE_I32 = 26,
    CRIA_DTYPE_I64 = 27,
    CRIA_DTYPE_F64 = 28,
    CRIA_DTYPE_IQ1_M = 29,
    CRIA_DTYPE_BF16 = 30,
    CRIA_DTYPE_TQ1_0 = 34,
    CRIA_DTYPE_TQ2_0 = 35,
    CRIA_DTYPE_MXFP4 = 39,
    CRIA_DTYPE_COUNT = 40,
} cria_dtype;

typedef struct cria_dtype_info {
    const char *name;     /* as GGUF tools print it: "f32", "q4_0", ... */
    uint32_t block;       /* elements per block; 0 marks an id no format uses */
    uint32_t block_bytes; /* bytes per block */
} cria_dtype_info;

/* Geometry of type id t, or NULL if t is not a GGUF type id. */
const cria_dtype_info *cria_dtype_get(uint32_t t);

/* Name of type id t, or "?" when unknown. */
const char *cria_dtype_name(uint32_t t);

/* True when the engine computes with tensors of this type. */
bool cria_dtype_supported(cria_dtype t);

/*
 * Bytes of a row of n elements of type t. Returns false when n is not a
 * multiple of the block or the size overflows; *bytes is then unchanged.
 */
bool cria_dtype_row_bytes(cria_dtype t, uint64_t n, uint64_t *bytes);

#endif
