/*
 * IEEE half and bfloat16 conversions. The scalar versions are the reference;
 * SIMD kernels convert with F16C / AVX-512 BF16 instructions and are tested
 * against these.
 */
#ifndef CRIA_BASE_FP16_H
#define CRIA_BASE_FP16_H

#include <stdint.h>
#include <string.h>

static inline uint32_t cria_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float cria_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/*
 * half -> float, exact for every input including subnormals and inf; a NaN
 * keeps sign and payload and comes out quiet, as F16C's VCVTPH2PS does.
 */
static inline float cria_fp16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0x1f) /* inf / NaN */
        return cria_bits_f32(sign | 0x7f800000u | (man << 13) | (man ? 0x400000u : 0));
    if (exp == 0) {
        if (man == 0)
            return cria_bits_f32(sign);
        /* subnormal: value = man * 2^-24 */
        float f = (float)man * 5.9604644775390625e-8f;
        return sign ? -f : f;
    }
    return cria_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

/* float -> half with round-to-nearest-even, as F16C's VCVTPS2PH does. */
static inline uint16_t cria_f32_to_fp16(float f)
{
    uint32_t x = cria_f32_bits(f);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf or NaN (keep NaN quiet) */
        return (uint16_t)(sign | 0x7c00 | (ax > 0x7f800000u ? 0x200 | ((ax >> 13) & 0x3ff) : 0));
    if (ax >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return (uint16_t)(sign | 0x7c00);
    if (ax < 0x38800000u) { /* below the smallest normal half: subnormal or zero */
        if (ax < 0x33000000u)
            return (uint16_t)sign;
        uint32_t e = ax >> 23;
        uint32_t m = (ax & 0x7fffff) | 0x800000;
        uint32_t shift = 126 - e; /* 14 .. 24 */
        uint32_t h = m >> shift;
        uint32_t rem = m & ((1u << shift) - 1);
        uint32_t half = 1u << (shift - 1);
        if (rem > half || (rem == half && (h & 1)))
            h++;
        return (uint16_t)(sign | h);
    }
    uint32_t h = ((ax - 0x38000000u) >> 13);
    uint32_t rem = ax & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

static inline float cria_bf16_to_f32(uint16_t b)
{
    return cria_bits_f32((uint32_t)b << 16);
}

/* float -> bfloat16, round-to-nearest-even; NaN stays NaN. */
static inline uint16_t cria_f32_to_bf16(float f)
{
    uint32_t x = cria_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    return (uint16_t)((x + 0x7fff + ((x >> 16) & 1)) >> 16);
}

#endif
