/*
 * Block layouts of the GGUF quantized tensor types, byte for byte as files
 * written by llama.cpp store them (facts from ggml's ggml-common.h). A row of
 * n elements is n / QK blocks laid end to end. Scales are IEEE half (uint16_t
 * bits) unless said otherwise. The bit layout of each block's quants is drawn
 * above its dequantizer in quant_legacy.c, quant_k.c and quant_ternary.c.
 */
#ifndef CRIA_QUANT_BLOCKS_H
#define CRIA_QUANT_BLOCKS_H

#include <assert.h>
#include <stdint.h>

enum {
    QK_LEGACY = 32, /* elements per block of Q4_0 .. Q8_1 */
    QK_K = 256,     /* elements per super-block of the K-quants and TQ1_0 / TQ2_0 */
    K_SCALE_SIZE = 12,
};

/* 8-bit, symmetric: x = d * q. */
typedef struct {
    uint16_t d;
    int8_t qs[QK_LEGACY];
} block_q8_0;
static_assert(sizeof(block_q8_0) == 2 + QK_LEGACY, "block_q8_0 size");

/* 8-bit with the block sum: s = d * sum(q), the activation type of Q4_1 / Q5_1. */
typedef struct {
    uint16_t d;
    uint16_t s;
    int8_t qs[QK_LEGACY];
} block_q8_1;
static_assert(sizeof(block_q8_1) == 4 + QK_LEGACY, "block_q8_1 size");

/* 4-bit, offset 8: x = d * (q - 8). */
typedef struct {
    uint16_t d;
    uint8_t qs[QK_LEGACY / 2];
} block_q4_0;
static_assert(sizeof(block_q4_0) == 2 + QK_LEGACY / 2, "block_q4_0 size");

/* 4-bit with a minimum: x = d * q + m. */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[QK_LEGACY / 2];
} block_q4_1;
static_assert(sizeof(block_q4_1) == 4 + QK_LEGACY / 2, "block_q4_1 size");

/* 5-bit, offset 16: x = d * (q - 16); the fifth bits live in qh. */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK_LEGACY / 2];
} block_q5_0;
static_assert(sizeof(block_q5_0) == 2 + 4 + QK_LEGACY / 2, "block_q5_0 size");

/* 5-bit with a minimum: x = d * q + m. */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK_LEGACY / 2];
} block_q5_1;
static_assert(sizeof(block_q5_1) == 4 + 4 + QK_LEGACY / 2, "block_q5_1 size");

/* 2-bit K-quant: 16 sub-blocks of 16, each with a 4-bit scale and a 4-bit min. */
typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} block_q2_K;
static_assert(sizeof(block_q2_K) == 2 * 2 + QK_K / 16 + QK_K / 4, "block_q2_K size");

/* 3-bit K-quant: 16 sub-blocks of 16 with 6-bit signed scales; high bits in hmask. */
typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} block_q3_K;
static_assert(sizeof(block_q3_K) == 2 + QK_K / 4 + QK_K / 8 + 12, "block_q3_K size");

/* 4-bit K-quant: 8 sub-blocks of 32, 6-bit scales and mins packed in 12 bytes. */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qs[QK_K / 2];
} block_q4_K;
static_assert(sizeof(block_q4_K) == 2 * 2 + K_SCALE_SIZE + QK_K / 2, "block_q4_K size");

/* 5-bit K-quant: Q4_K plus one high bit per element in qh. */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[K_SCALE_SIZE];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5_K;
static_assert(sizeof(block_q5_K) == 2 * 2 + K_SCALE_SIZE + QK_K / 2 + QK_K / 8, "block_q5_K size");

/* 6-bit K-quant: 16 sub-blocks of 16 with signed 8-bit scales; x = d * sc * (q - 32). */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6_K;
static_assert(sizeof(block_q6_K) == 2 + QK_K / 16 + 3 * QK_K / 4, "block_q6_K size");

/* 8-bit activations of the K-quants: float scale, and sums of each 16 quants. */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8_K;
static_assert(sizeof(block_q8_K) == 4 + QK_K + QK_K / 16 * 2, "block_q8_K size");

/* Ternary (BitNet b1.58), 1.6875 bits: five trits per byte in base 3, x = d * (t - 1). */
typedef struct {
    uint8_t qs[(QK_K - 4 * QK_K / 64) / 5];
    uint8_t qh[QK_K / 64];
    uint16_t d;
} block_tq1_0;
static_assert(sizeof(block_tq1_0) == 2 + QK_K / 64 + (QK_K - 4 * QK_K / 64) / 5, "block_tq1_0 size");

/* Ternary, 2 bits: four trits per byte, x = d * (t - 1). */
typedef struct {
    uint8_t qs[QK_K / 4];
    uint16_t d;
} block_tq2_0;
static_assert(sizeof(block_tq2_0) == 2 + QK_K / 4, "block_tq2_0 size");

#endif
