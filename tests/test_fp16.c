/*
 * The half-precision and bfloat16 conversions of base/fp16.h: exhaustive
 * over every half, round-to-nearest-even at every boundary, the same bits as
 * the F16C instructions where the CPU has them, and bf16 against a plain
 * reference rounding.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HAVE_X86 1
#endif

#include "base/cpu.h"
#include "base/fp16.h"
#include "util.h"

static bool half_is_nan(uint16_t h)
{
    return (h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0;
}

static bool bf16_is_nan(uint16_t b)
{
    return (b & 0x7f80) == 0x7f80 && (b & 0x7f) != 0;
}

/* The value of a half from its definition, in double. */
static double half_value(uint16_t h)
{
    int exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    double v;
    if (exp == 0x1f)
        v = man ? (double)NAN : (double)INFINITY;
    else if (exp == 0)
        v = ldexp(man, -24);
    else
        v = ldexp(1024 + man, exp - 25);
    return (h & 0x8000) ? -v : v;
}

/* ---- fp16 / bf16 conversions ------------------------------------------------ */

/* Every half converts exactly to float and back; NaNs stay NaN (quiet, same sign and payload). */
static void test_fp16_roundtrip_exhaustive(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 65536; i++) {
        const uint16_t h = (uint16_t)i;
        const float f = cria_fp16_to_f32(h);
        const uint16_t back = cria_f32_to_fp16(f);
        if (half_is_nan(h)) {
            assert_true(isnan(f));
            assert_true(half_is_nan(back));
            test_check_bits(back, h | 0x200, "NaN round trip (quieted)", (long)i);
            continue;
        }
        const double v = half_value(h);
        test_check_bits(cria_f32_bits(f), cria_f32_bits((float)v), "fp16_to_f32 value", (long)i);
        test_check_bits(back, h, "fp16 round trip", (long)i);
    }
}

/*
 * Rounding boundaries of every finite half, in software: the midpoint between
 * two neighbours rounds to the even one, one float ulp either side rounds to
 * the nearer. Covers subnormals, zero, and overflow (the midpoint above 65504
 * is 65520, which rounds to inf).
 */
static void test_fp16_rounding_boundaries(void **state)
{
    (void)state;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        const double lo = half_value((uint16_t)h);
        const double hi = h == 0x7bff ? 65536.0 : half_value((uint16_t)(h + 1));
        const float mid = (float)((lo + hi) / 2); /* 12 significant bits: exact in float */
        assert_true((double)mid == (lo + hi) / 2);
        const uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
        for (int neg = 0; neg < 2; neg++) {
            const float s = neg ? -1.0f : 1.0f;
            const uint16_t sign = neg ? 0x8000 : 0;
            test_check_bits(cria_f32_to_fp16(s * mid), sign | even, "tie to even", (long)h);
            test_check_bits(cria_f32_to_fp16(s * nextafterf(mid, 0.0f)), sign | h, "below midpoint", (long)h);
            test_check_bits(cria_f32_to_fp16(s * nextafterf(mid, INFINITY)), sign | (h + 1), "above midpoint", (long)h);
            test_check_bits(cria_f32_to_fp16(s * (float)lo), sign | h, "exact", (long)h);
        }
    }
    /* Float subnormals and tiny normals flush to signed zero; huge values and inf go to inf. */
    test_check_bits(cria_f32_to_fp16(cria_bits_f32(0x00000001)), 0x0000, "float subnormal", 0);
    test_check_bits(cria_f32_to_fp16(cria_bits_f32(0x807fffff)), 0x8000, "float subnormal", 1);
    test_check_bits(cria_f32_to_fp16(FLT_MIN), 0x0000, "FLT_MIN", 0);
    test_check_bits(cria_f32_to_fp16(0x1p-25f), 0x0000, "2^-25 ties to zero", 0);
    test_check_bits(cria_f32_to_fp16(0x1.000002p-25f), 0x0001, "just above 2^-25", 0);
    test_check_bits(cria_f32_to_fp16(0x1.8p-24f), 0x0002, "1.5 * 2^-24 ties to even", 0);
    test_check_bits(cria_f32_to_fp16(0x1.ff8p-15f), 0x03ff, "largest subnormal", 0);
    test_check_bits(cria_f32_to_fp16(0x1.ffcp-15f), 0x0400, "tie above the largest subnormal rounds to normal", 0);
    test_check_bits(cria_f32_to_fp16(65504.0f), 0x7bff, "max half", 0);
    test_check_bits(cria_f32_to_fp16(65519.99f), 0x7bff, "below overflow", 0);
    test_check_bits(cria_f32_to_fp16(65520.0f), 0x7c00, "overflow", 0);
    test_check_bits(cria_f32_to_fp16(-FLT_MAX), 0xfc00, "-FLT_MAX", 0);
    test_check_bits(cria_f32_to_fp16(INFINITY), 0x7c00, "inf", 0);
    test_check_bits(cria_f32_to_fp16(-INFINITY), 0xfc00, "-inf", 0);
    test_check_bits(cria_f32_to_fp16(-0.0f), 0x8000, "-0", 0);
    assert_true(half_is_nan(cria_f32_to_fp16(NAN)));
    assert_true(half_is_nan(cria_f32_to_fp16(cria_bits_f32(0x7f800001)))); /* payload only in low bits */
    assert_true(half_is_nan(cria_f32_to_fp16(cria_bits_f32(0xff800001))));
    assert_int_equal(cria_f32_to_fp16(cria_bits_f32(0xff800001)) & 0x8000, 0x8000);
}

#ifdef HAVE_X86
__attribute__((target("f16c"))) static uint16_t hw_f32_to_fp16(float f)
{
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

__attribute__((target("f16c"))) static float hw_fp16_to_f32(uint16_t h)
{
    return _cvtsh_ss(h);
}

/* Checks f against VCVTPS2PH; returns false (after printing) on a mismatch. */
static bool same_as_f16c(float f)
{
    const uint16_t sw = cria_f32_to_fp16(f), hw = hw_f32_to_fp16(f);
    if (sw == hw)
        return true;
    print_error("f32_to_fp16(0x%08x): got 0x%04x, F16C gives 0x%04x\n", (unsigned)cria_f32_bits(f), sw, hw);
    return false;
}
#endif

/*
 * The scalar conversions equal the F16C instructions: float -> half on every
 * float whose bits step by a prime through the 32-bit space (about 4 million)
 * plus the rounding boundaries of every half; half -> float on all 65536.
 */
static void test_fp16_matches_f16c(void **state)
{
    (void)state;
#ifdef HAVE_X86
    if (!cria_cpu_detect().f16c) {
        print_message("no F16C on this CPU\n");
        skip();
    }
    for (uint32_t i = 0; i < 65536; i++)
        test_check_bits(cria_f32_bits(cria_fp16_to_f32((uint16_t)i)), cria_f32_bits(hw_fp16_to_f32((uint16_t)i)),
                   "fp16_to_f32 vs F16C", (long)i);
    long n = 0;
    for (uint64_t u = 12345; u < (1ull << 32); u += 1021, n++)
        assert_true(same_as_f16c(cria_bits_f32((uint32_t)u)));
    assert_true(n > 4000000);
    for (uint32_t h = 0; h < 0x7c00; h++) {
        const double lo = half_value((uint16_t)h);
        const double hi = h == 0x7bff ? 65536.0 : half_value((uint16_t)(h + 1));
        const float mid = (float)((lo + hi) / 2);
        const float cases[] = {mid, nextafterf(mid, 0.0f), nextafterf(mid, INFINITY), (float)lo};
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            assert_true(same_as_f16c(cases[c]));
            assert_true(same_as_f16c(-cases[c]));
        }
    }
    static const uint32_t specials[] = {0x00000000, 0x80000000, 0x00000001, 0x007fffff, 0x00800000, 0x7f7fffff,
                                        0x7f800000, 0xff800000, 0x7fc00000, 0x7f800001, 0x7fbfffff, 0xffc00001,
                                        0x7fffffff, 0x477fefff, 0x477ff000, 0x33000000, 0x33000001, 0x387fffff};
    for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++)
        assert_true(same_as_f16c(cria_bits_f32(specials[i])));
#else
    skip();
#endif
}

/* Round-to-nearest-even on the bit pattern, written out independently of fp16.h. */
static uint16_t bf16_rne_ref(uint32_t x)
{
    uint32_t hi = x >> 16, rem = x & 0xffff;
    if (rem > 0x8000 || (rem == 0x8000 && (hi & 1)))
        hi++;
    return (uint16_t)hi;
}

static void test_bf16(void **state)
{
    (void)state;
    static const struct {
        uint32_t in;
        uint16_t out;
    } cases[] = {
        {0x3f800000, 0x3f80}, /* 1.0 */
        {0x3f808000, 0x3f80}, /* tie, even below: down */
        {0x3f818000, 0x3f82}, /* tie, odd below: up */
        {0x3f808001, 0x3f81}, /* just above the tie */
        {0x3f807fff, 0x3f80}, /* just below the tie */
        {0xbf818000, 0xbf82}, /* negative tie rounds away from zero when odd */
        {0x3f7fffff, 0x3f80}, /* carry into the exponent */
        {0x7f7fffff, 0x7f80}, /* FLT_MAX rounds to inf */
        {0x7f7f7fff, 0x7f7f}, /* largest value that stays finite */
        {0x7f800000, 0x7f80}, /* inf */
        {0xff800000, 0xff80}, /* -inf */
        {0x80000000, 0x8000}, /* -0 */
        {0x00008000, 0x0000}, /* subnormal tie to even (zero) */
        {0x00018000, 0x0002}, /* subnormal tie to even (up) */
        {0x00010001, 0x0001}, /* subnormals are kept, not flushed */
        {0x7fc00000, 0x7fc0}, /* quiet NaN */
        {0xffc12345, 0xffc1}, /* negative quiet NaN keeps sign and top payload */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_check_bits(cria_f32_to_bf16(cria_bits_f32(cases[i].in)), cases[i].out, "bf16 case", (long)i);
    /* NaNs whose payload lies only in the low 16 bits must not round to inf. */
    static const uint32_t nans[] = {0x7f800001, 0x7f80ffff, 0xff800001, 0x7fffffff, 0xffffffff, 0x7fff8000};
    for (size_t i = 0; i < sizeof nans / sizeof nans[0]; i++) {
        uint16_t b = cria_f32_to_bf16(cria_bits_f32(nans[i]));
        assert_true(bf16_is_nan(b));
        assert_int_equal(b & 0x8000, (nans[i] >> 16) & 0x8000);
    }
    /* Every bf16 round-trips; NaNs stay NaN. */
    for (uint32_t i = 0; i < 65536; i++) {
        const uint16_t b = (uint16_t)i;
        const uint16_t back = cria_f32_to_bf16(cria_bf16_to_f32(b));
        test_check_bits(cria_f32_bits(cria_bf16_to_f32(b)), (uint32_t)b << 16, "bf16_to_f32", (long)i);
        if (bf16_is_nan(b))
            assert_true(bf16_is_nan(back));
        else
            test_check_bits(back, b, "bf16 round trip", (long)i);
    }
    /* Against the independent rule on the same prime-stepped floats as the F16C test. */
    for (uint64_t u = 777; u < (1ull << 32); u += 1021) {
        const uint32_t x = (uint32_t)u;
        if ((x & 0x7fffffff) > 0x7f800000)
            assert_true(bf16_is_nan(cria_f32_to_bf16(cria_bits_f32(x))));
        else if (cria_f32_to_bf16(cria_bits_f32(x)) != bf16_rne_ref(x))
            test_check_bits(cria_f32_to_bf16(cria_bits_f32(x)), bf16_rne_ref(x), "bf16 rne", (long)x);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_roundtrip_exhaustive),
        cmocka_unit_test(test_fp16_rounding_boundaries),
        cmocka_unit_test(test_fp16_matches_f16c),
        cmocka_unit_test(test_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
