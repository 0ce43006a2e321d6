/*
 * The numeric kernels against references: every SIMD table the CPU supports
 * against the scalar table, the $CRIA_ISA cap, and the row ops, matmul and
 * attention against double-precision references. (The fp16/bf16 conversions
 * themselves: test_fp16.c.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/cpu.h"
#include "base/fp16.h"
#include "kernels/attention.h"
#include "kernels/matmul.h"
#include "kernels/ops.h"
#include "kernels/vec.h"
#include "parallel/pool.h"
#include "util.h"

/* ---- helpers --------------------------------------------------------------- */

/* splitmix64: a deterministic stream, one per test. */
typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Uniform in [lo, hi). */
static float rng_float(rng *r, float lo, float hi)
{
    double u = (double)(rng_next(r) >> 11) * 0x1p-53;
    return (float)((double)lo + u * (double)(hi - lo));
}

/* Fails with a message when |got - ref| > tol. */
static void check_close(double got, double ref, double tol, const char *what, long i)
{
    if (!(fabs(got - ref) <= tol)) {
        print_error("%s [%ld]: got %.9g, want %.9g (tolerance %.3g)\n", what, i, got, ref, tol);
        fail();
    }
}

/* ---- vector kernels: every SIMD table against the scalar one ---------------- */

static const int64_t vec_lengths[] = {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 1000, 4096};
enum { N_LENGTHS = sizeof vec_lengths / sizeof vec_lengths[0], GUARD = 32 };

/* Floats that stress conversions: signed zeros, inf, NaNs with payloads, subnormals, ties, overflow. */
static const uint32_t f32_specials[] = {
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fa5a5a5,
    0xffbfffff, 0x7fffffff, 0x00000001, 0x80000001, 0x007fffff, 0x00800000, 0x33000000, 0x33000001,
    0x33800000, 0x387fc000, 0x38800000, 0x477fe000, 0x477fefff, 0x477ff000, 0x7f7fffff, 0xff7fffff,
    0x3f801000, 0x3f803000, 0x3f808000, 0x3f818000, 0x3f80ffff, 0x3f7fffff, 0x00008000, 0x00018000,
};

static const uint16_t f16_specials[] = {0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0xfc01,
                                        0x7fff, 0x7d55, 0x0001, 0x8001, 0x03ff, 0x83ff, 0x0400, 0x7bff};

static const uint16_t bf16_specials[] = {0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0xffc0, 0x7f81, 0xff81,
                                         0x7fff, 0x0001, 0x8001, 0x007f, 0x0080, 0x7f7f, 0xff7f, 0x3f80};

/* A float for conversion tests: specials, random bits, the half range, or plain values. */
static float gen_conv_f32(rng *r)
{
    const uint64_t z = rng_next(r);
    switch (z & 3) {
    case 0: return cria_bits_f32(f32_specials[(z >> 8) % (sizeof f32_specials / sizeof f32_specials[0])]);
    case 1: return cria_bits_f32((uint32_t)(z >> 32));
    case 2: { /* biased exponent 97..146: half zero/subnormal/normal/overflow, mantissa often near ties */
        uint32_t exp = 97 + (uint32_t)((z >> 8) % 50), man = (uint32_t)(z >> 32) & 0x7fffff;
        if ((z >> 16) & 1)
            man = (man & ~0x1fffu) | 0x1000; /* an exact half tie */
        return cria_bits_f32((uint32_t)((z >> 20) & 1) << 31 | exp << 23 | man);
    }
    default: return rng_float(r, -2.0f, 2.0f);
    }
}

static uint16_t gen_conv_f16(rng *r)
{
    const uint64_t z = rng_next(r);
    if ((z & 3) == 0)
        return f16_specials[(z >> 8) % (sizeof f16_specials / sizeof f16_specials[0])];
    return (uint16_t)(z >> 32);
}

static uint16_t gen_conv_bf16(rng *r)
{
    const uint64_t z = rng_next(r);
    if ((z & 3) == 0)
        return bf16_specials[(z >> 8) % (sizeof bf16_specials / sizeof bf16_specials[0])];
    return (uint16_t)(z >> 32);
}

/* A finite half, any exponent including subnormals. */
static uint16_t gen_finite_f16(rng *r)
{
    uint16_t h = (uint16_t)rng_next(r);
    return (h & 0x7c00) == 0x7c00 ? (uint16_t)(h & 0x83ff) : h;
}

/* A bf16 of magnitude 2^-40 .. 2^40 or zero, so that sums of products stay finite. */
static uint16_t gen_finite_bf16(rng *r)
{
    const uint64_t z = rng_next(r);
    if (z % 17 == 0)
        return (uint16_t)((z >> 8) & 0x8000);
    return (uint16_t)(((z >> 8) & 0x8000) | (87 + (z >> 16) % 81) << 7 | ((z >> 32) & 0x7f));
}

/* A buffer of n elements at an offset of `off` elements into its allocation, followed by GUARD filler elements. */
typedef struct buf {
    unsigned char *base;
    void *p;
    size_t es, off, n;
} buf;

static buf buf_new(size_t es, size_t off, size_t n)
{
    buf b = {.es = es, .off = off, .n = n};
    b.base = malloc(es * (off + n + GUARD));
    assert_non_null(b.base);
    memset(b.base, 0xa5, es * (off + n + GUARD));
    b.p = b.base + es * off;
    return b;
}

/* Asserts that nothing before or after the n elements was written. */
static void buf_check_guard(const buf *b, const char *what)
{
    for (size_t i = 0; i < b->es * b->off; i++)
        if (b->base[i] != 0xa5) {
            print_error("%s: wrote before the buffer\n", what);
            fail();
        }
    for (size_t i = b->es * (b->off + b->n); i < b->es * (b->off + b->n + GUARD); i++)
        if (b->base[i] != 0xa5) {
            print_error("%s: wrote past the end (n = %zu)\n", what, b->n);
            fail();
        }
}

/*
 * An input buffer of exactly off + n elements (so ASan sees any over-read),
 * n elements starting at off.
 */
static void *input_new(size_t es, size_t off, size_t n, void **base)
{
    *base = malloc(es * (off + n) + (off + n == 0)); /* malloc(0) may return NULL */
    assert_non_null(*base);
    return (unsigned char *)*base + es * off;
}

/* The ISA levels this CPU supports, scalar first. */
static int isa_levels(cria_isa *out)
{
    int n = 0;
    for (int i = 0; i <= (int)cria_isa_detected(); i++)
        out[n++] = (cria_isa)i;
    return n;
}

typedef enum dot_kind { DOT_F32, DOT_F16, DOT_BF16 } dot_kind;

/* sum |x_i y_i| in double, and the double-precision dot. */
static double dot_ref(dot_kind kind, int64_t n, const void *x, const void *y, double *abs_sum)
{
    double s = 0.0, a = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double p;
        if (kind == DOT_F32)
            p = (double)((const float *)x)[i] * (double)((const float *)y)[i];
        else if (kind == DOT_F16)
            p = (double)cria_fp16_to_f32(((const uint16_t *)x)[i]) * (double)cria_fp16_to_f32(((const uint16_t *)y)[i]);
        else
            p = (double)cria_bf16_to_f32(((const uint16_t *)x)[i]) * (double)cria_bf16_to_f32(((const uint16_t *)y)[i]);
        s += p;
        a += fabs(p);
    }
    *abs_sum = a;
    return s;
}

static float dot_call(const cria_vec_kernels *k, dot_kind kind, int64_t n, const void *x, const void *y)
{
    switch (kind) {
    case DOT_F32: return k->dot_f32(n, x, y);
    case DOT_F16: return k->dot_f16(n, x, y);
    default: return k->dot_bf16(n, x, y);
    }
}

/* dot_f32, dot_f16, dot_bf16 of every table within 1e-5 of sum |x_i y_i| of the scalar one and of double. */
static void test_vec_dots(void **state)
{
    (void)state;
    static const char *const names[] = {"dot_f32", "dot_f16", "dot_bf16"};
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {1};
    for (int kind = DOT_F32; kind <= DOT_BF16; kind++) {
        const size_t es = kind == DOT_F32 ? sizeof(float) : sizeof(uint16_t);
        for (int li = 0; li < N_LENGTHS; li++) {
            for (size_t off = 0; off < 2; off++) {
                const int64_t n = vec_lengths[li];
                void *xb, *yb;
                void *x = input_new(es, off, (size_t)n, &xb), *y = input_new(es, off, (size_t)n, &yb);
                for (int64_t i = 0; i < n; i++) {
                    if (kind == DOT_F32) {
                        ((float *)x)[i] = rng_float(&r, -1.0f, 1.0f);
                        ((float *)y)[i] = rng_float(&r, -1.0f, 1.0f);
                    } else if (kind == DOT_F16) {
                        ((uint16_t *)x)[i] = gen_finite_f16(&r);
                        ((uint16_t *)y)[i] = gen_finite_f16(&r);
                    } else {
                        ((uint16_t *)x)[i] = gen_finite_bf16(&r);
                        ((uint16_t *)y)[i] = gen_finite_bf16(&r);
                    }
                }
                double abs_sum;
                const double exact = dot_ref((dot_kind)kind, n, x, y, &abs_sum);
                const double tol = 1e-5 * abs_sum;
                const float ref = dot_call(&cria_vec_scalar, (dot_kind)kind, n, x, y);
                check_close((double)ref, exact, tol, names[kind], (long)n);
                for (int ii = 1; ii < n_isa; ii++) {
                    const float got = dot_call(cria_vec_for(isas[ii]), (dot_kind)kind, n, x, y);
                    char what[64];
                    snprintf(what, sizeof what, "%s %s off %zu", cria_isa_name(isas[ii]), names[kind], off);
                    check_close((double)got, (double)ref, tol, what, (long)n);
                }
                free(xb);
                free(yb);
            }
        }
    }
}

/* axpy_f16 and axpy_f32: y += a x, per element within 1e-6 of |y| + |a x| of the scalar result. */
static void test_vec_axpy(void **state)
{
    (void)state;
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {2};
    for (int half = 0; half < 2; half++) {
        const size_t es = half ? sizeof(uint16_t) : sizeof(float);
        for (int li = 0; li < N_LENGTHS; li++) {
            for (size_t off = 0; off < 2; off++) {
                const int64_t n = vec_lengths[li];
                const float a = rng_float(&r, -2.0f, 2.0f);
                void *xb;
                void *x = input_new(es, off, (size_t)n, &xb);
                float *y0 = malloc(sizeof(float) * ((size_t)n + 1));
                float *ref = malloc(sizeof(float) * ((size_t)n + 1));
                assert_non_null(y0);
                assert_non_null(ref);
                for (int64_t i = 0; i < n; i++) {
                    if (half)
                        ((uint16_t *)x)[i] = gen_finite_f16(&r);
                    else
                        ((float *)x)[i] = rng_float(&r, -100.0f, 100.0f);
                    y0[i] = rng_float(&r, -100.0f, 100.0f);
                }
                memcpy(ref, y0, sizeof(float) * (size_t)n);
                if (half)
                    cria_vec_scalar.axpy_f16(n, a, x, ref);
                else
                    cria_vec_scalar.axpy_f32(n, a, x, ref);
                for (int ii = 1; ii < n_isa; ii++) {
                    const cria_vec_kernels *k = cria_vec_for(isas[ii]);
                    buf yb = buf_new(sizeof(float), off, (size_t)n);
                    float *y = yb.p;
                    memcpy(y, y0, sizeof(float) * (size_t)n);
                    if (half)
                        k->axpy_f16(n, a, x, y);
                    else
                        k->axpy_f32(n, a, x, y);
                    char what[64];
                    snprintf(what, sizeof what, "%s axpy_%s off %zu n %ld", cria_isa_name(isas[ii]),
                             half ? "f16" : "f32", off, (long)n);
                    for (int64_t i = 0; i < n; i++) {
                        const double xi = half ? (double)cria_fp16_to_f32(((uint16_t *)x)[i]) : (double)((float *)x)[i];
                        check_close((double)y[i], (double)ref[i], 1e-6 * (fabs((double)y0[i]) + fabs((double)a * xi)),
                                    what, (long)i);
                    }
                    buf_check_guard(&yb, what);
                    free(yb.base);
                }
                free(xb);
                free(y0);
                free(ref);
            }
        }
    }
}

typedef enum conv_kind { F32_TO_F16, F16_TO_F32, F32_TO_BF16, BF16_TO_F32 } conv_kind;

static void conv_call(const cria_vec_kernels *k, conv_kind kind, int64_t n, const void *x, void *y)
{
    switch (kind) {
    case F32_TO_F16: k->f32_to_f16(n, x, y); break;
    case F16_TO_F32: k->f16_to_f32(n, x, y); break;
    case F32_TO_BF16: k->f32_to_bf16(n, x, y); break;
    default: k->bf16_to_f32(n, x, y); break;
    }
}

/* The four conversions of every table bit-exact against the scalar table, NaN, inf, subnormals and -0 included. */
static void test_vec_conversions(void **state)
{
    (void)state;
    static const char *const names[] = {"f32_to_f16", "f16_to_f32", "f32_to_bf16", "bf16_to_f32"};
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {3};
    for (int kind = F32_TO_F16; kind <= BF16_TO_F32; kind++) {
        const bool from_f32 = kind == F32_TO_F16 || kind == F32_TO_BF16;
        const size_t ies = from_f32 ? sizeof(float) : sizeof(uint16_t);
        const size_t oes = from_f32 ? sizeof(uint16_t) : sizeof(float);
        for (int li = 0; li < N_LENGTHS; li++) {
            for (size_t off = 0; off < 2; off++) {
                const int64_t n = vec_lengths[li];
                void *xb;
                void *x = input_new(ies, off, (size_t)n, &xb);
                for (int64_t i = 0; i < n; i++) {
                    if (from_f32)
                        ((float *)x)[i] = gen_conv_f32(&r);
                    else if (kind == F16_TO_F32)
                        ((uint16_t *)x)[i] = gen_conv_f16(&r);
                    else
                        ((uint16_t *)x)[i] = gen_conv_bf16(&r);
                }
                buf ref = buf_new(oes, 0, (size_t)n);
                conv_call(&cria_vec_scalar, (conv_kind)kind, n, x, ref.p);
                for (int ii = 1; ii < n_isa; ii++) {
                    buf got = buf_new(oes, off, (size_t)n);
                    conv_call(cria_vec_for(isas[ii]), (conv_kind)kind, n, x, got.p);
                    char what[64];
                    snprintf(what, sizeof what, "%s %s off %zu n %ld", cria_isa_name(isas[ii]), names[kind], off,
                             (long)n);
                    for (int64_t i = 0; i < n; i++) {
                        uint32_t g, w;
                        if (from_f32) {
                            g = ((uint16_t *)got.p)[i];
                            w = ((uint16_t *)ref.p)[i];
                        } else {
                            g = cria_f32_bits(((float *)got.p)[i]);
                            w = cria_f32_bits(((float *)ref.p)[i]);
                        }
                        if (g != w) {
                            uint32_t in = from_f32 ? cria_f32_bits(((float *)x)[i]) : ((uint16_t *)x)[i];
                            print_error("input 0x%08x\n", (unsigned)in);
                            test_check_bits(g, w, what, (long)i);
                        }
                    }
                    buf_check_guard(&got, what);
                    free(got.base);
                }
                free(ref.base);
                free(xb);
            }
        }
    }
}

/* Distance in units in the last place between two floats (0 for two NaNs, huge for one). */
static int64_t ulp_dist(float a, float b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b) ? 0 : INT64_MAX;
    const uint32_t ua = cria_f32_bits(a), ub = cria_f32_bits(b);
    const int64_t ia = (ua >> 31) ? -(int64_t)(ua & 0x7fffffff) : (int64_t)ua;
    const int64_t ib = (ub >> 31) ? -(int64_t)(ub & 0x7fffffff) : (int64_t)ub;
    return ia > ib ? ia - ib : ib - ia;
}

/* Checks exp_f32 of table k on x[0..n) against libm's expf within 2 ulp, in place and out of place. */
static void check_exp(const cria_vec_kernels *k, int64_t n, const float *x, size_t off)
{
    buf yb = buf_new(sizeof(float), off, (size_t)n);
    float *y = yb.p;
    k->exp_f32(n, x, y);
    char what[64];
    snprintf(what, sizeof what, "%s exp_f32 off %zu n %ld", cria_isa_name(k->isa), off, (long)n);
    for (int64_t i = 0; i < n; i++) {
        const float want = expf(x[i]);
        if (ulp_dist(y[i], want) > 2) {
            print_error("%s [%ld]: exp(%.9g) = %.9g, libm %.9g\n", what, (long)i, (double)x[i], (double)y[i],
                        (double)want);
            fail();
        }
    }
    buf_check_guard(&yb, what);
    /* y may alias x. */
    buf zb = buf_new(sizeof(float), off, (size_t)n);
    float *z = zb.p;
    if (n > 0)
        memcpy(z, x, sizeof(float) * (size_t)n);
    k->exp_f32(n, z, z);
    assert_memory_equal(z, y, sizeof(float) * (size_t)n);
    free(zb.base);
    free(yb.base);
}

/*
 * exp_f32 of every table within 2 ulp of libm's expf (vec.h's promise): at
 * every length and offset on values in [-110, 90] with specials (+-inf, NaN,
 * the overflow and underflow edges), then on every float of [-110, 90] whose
 * bits step by a prime.
 */
static void test_vec_exp(void **state)
{
    (void)state;
    static const float specials[] = {0.0f, -0.0f, 1.0f, -1.0f, 88.72283f, 88.7228394f, 88.8f, 89.0f, 1000.0f,
                                     -87.33654f, -87.4f, -100.0f, -103.97208f, -104.0f, -150.0f, -1000.0f,
                                     1e-8f, -1e-8f, 0x1p-149f, INFINITY, -INFINITY, NAN};
    enum { N_SPECIALS = sizeof specials / sizeof specials[0] };
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {10};
    for (int li = 0; li < N_LENGTHS; li++) {
        for (size_t off = 0; off < 2; off++) {
            const int64_t n = vec_lengths[li];
            void *xb;
            float *x = input_new(sizeof(float), off, (size_t)n, &xb);
            for (int64_t i = 0; i < n; i++) {
                const uint64_t z = rng_next(&r);
                x[i] = z % 5 == 0 ? specials[(z >> 8) % N_SPECIALS] : rng_float(&r, -110.0f, 90.0f);
            }
            for (int ii = 0; ii < n_isa; ii++)
                check_exp(cria_vec_for(isas[ii]), n, x, off);
            free(xb);
        }
    }
    /* The sweep: about 400 thousand floats, both signs. */
    float *x = malloc(sizeof(float) * 500000);
    assert_non_null(x);
    int64_t n = 0;
    for (uint32_t u = 0; u <= 0x42b40000u && n < 500000; u += 5003) /* [0, 90] */
        x[n++] = cria_bits_f32(u);
    for (uint32_t u = 0x80000000u; u <= 0xc2dc0000u && n < 500000; u += 5003) /* [-110, -0] */
        x[n++] = cria_bits_f32(u);
    assert_true(n > 400000 && n < 500000);
    for (int ii = 0; ii < n_isa; ii++)
        check_exp(cria_vec_for(isas[ii]), n, x, 0);
    free(x);
}

/* softmax_f32 of every table against a softmax in double, at lengths around every vector width. */
static void test_vec_softmax(void **state)
{
    (void)state;
    static const int64_t lens[] = {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000};
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {31};
    float x[1000], y[1000];
    double want[1000];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int64_t n = lens[li];
        for (int64_t i = 0; i < n; i++)
            x[i] = rng_float(&r, -30.0f, 30.0f) + (li % 2 ? 500.0f : 0.0f); /* large inputs: max first */
        float max = x[0];
        double sum = 0.0;
        for (int64_t i = 1; i < n; i++)
            max = x[i] > max ? x[i] : max;
        for (int64_t i = 0; i < n; i++) /* x - max rounded to float as the kernels compute it */
            sum += want[i] = exp((double)(x[i] - max));
        for (int64_t i = 0; i < n; i++)
            want[i] /= sum;
        for (int ii = 0; ii < n_isa; ii++) {
            memcpy(y, x, sizeof(float) * (size_t)n);
            cria_vec_for(isas[ii])->softmax_f32(n, y);
            double total = 0.0;
            for (int64_t i = 0; i < n; i++) {
                check_close((double)y[i], want[i], 4e-7 * want[i] + 1e-12, cria_isa_name(isas[ii]), (long)i);
                total += (double)y[i];
            }
            check_close(total, 1.0, 1e-5, "softmax_f32 sum", (long)n);
        }
    }
}

/* rope_f32 of every table, both pairings, with the bits of ops.c's cria_rope / cria_rope_neox. */
static void test_vec_rope(void **state)
{
    (void)state;
    static const struct {
        int32_t n_heads, head_dim, n_rot;
    } cfgs[] = {{3, 64, 64}, {2, 64, 32}, {2, 128, 128}, {1, 6, 6}, {4, 8, 8}};
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {41};
    float x0[512], want[512], got[512], cs[128];
    for (size_t ci = 0; ci < sizeof cfgs / sizeof cfgs[0]; ci++) {
        const int32_t nh = cfgs[ci].n_heads, hd = cfgs[ci].head_dim, n_rot = cfgs[ci].n_rot;
        const size_t len = (size_t)nh * (size_t)hd;
        for (size_t i = 0; i < len; i++)
            x0[i] = rng_float(&r, -3.0f, 3.0f);
        for (int32_t pos = 0; pos < 4000; pos += 997) {
            cria_rope_cache(pos, n_rot, 10000.0f, cs);
            for (int neox = 0; neox < 2; neox++) {
                memcpy(want, x0, sizeof(float) * len);
                if (neox)
                    cria_rope_neox(want, nh, hd, n_rot, cs);
                else
                    cria_rope(want, nh, hd, n_rot, cs);
                for (int ii = 0; ii < n_isa; ii++) {
                    memcpy(got, x0, sizeof(float) * len);
                    cria_vec_for(isas[ii])->rope_f32(got, nh, hd, n_rot, cs, neox);
                    if (memcmp(got, want, sizeof(float) * len) != 0)
                        fail_msg("rope_f32 %s neox %d %dx%d rot %d pos %d differs from the reference",
                                 cria_isa_name(isas[ii]), neox, nh, hd, n_rot, pos);
                }
            }
        }
    }
}

/* swiglu_f32 of every table within a few ulp of the scalar table's g / (1 + expf(-g)) * u. */
/*
 * Matmul tiles: every ISA's tile_f32 / tile_f16 against double sums at many
 * lengths and every tile shape, and each (row, token) result bitwise the same
 * whether it was computed alone (one token, one row) or in a full tile.
 */
static void test_vec_tiles(void **state)
{
    (void)state;
    static const int64_t lens[] = {1, 7, 8, 15, 16, 17, 33, 64, 100, 288};
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {29};
    enum { MAXR = 4, MAXT = 4, MAXN = 288 };
    float w32[MAXR * MAXN], x32[MAXT * MAXN], xr[MAXT * MAXN];
    uint16_t w16[MAXR * MAXN], x16[MAXT * MAXN];
    for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
        const int64_t n = lens[li];
        for (int64_t i = 0; i < MAXR * n; i++) {
            w32[i] = rng_float(&r, -1.0f, 1.0f);
            w16[i] = cria_f32_to_fp16(w32[i]);
        }
        for (int64_t i = 0; i < MAXT * n; i++) {
            x32[i] = rng_float(&r, -2.0f, 2.0f);
            x16[i] = cria_f32_to_fp16(x32[i]);
            xr[i] = cria_fp16_to_f32(x16[i]); /* the f16 tile takes rounded activations as floats */
        }
        for (int ii = 0; ii < n_isa; ii++) {
            const cria_vec_kernels *k = cria_vec_for(isas[ii]);
            assert_true(k->tile_rows >= 1 && k->tile_rows <= MAXR && k->tile_toks >= 1 && k->tile_toks <= MAXT);
            for (int f16 = 0; f16 < 2; f16++) {
                float full[MAXT * MAXR], one[1];
                if (f16)
                    k->tile_f16(n, k->tile_rows, w16, n, k->tile_toks, xr, n, full, MAXR);
                else
                    k->tile_f32(n, k->tile_rows, w32, n, k->tile_toks, x32, n, full, MAXR);
                for (int t = 0; t < k->tile_toks; t++) {
                    for (int rr = 0; rr < k->tile_rows; rr++) {
                        double want = 0, mag = 0;
                        for (int64_t i = 0; i < n; i++) {
                            const double p = f16 ? (double)cria_fp16_to_f32(w16[rr * n + i]) * (double)xr[t * n + i]
                                                 : (double)w32[rr * n + i] * (double)x32[t * n + i];
                            want += p;
                            mag += fabs(p);
                        }
                        check_close((double)full[t * MAXR + rr], want, 1e-5 * mag + 1e-30,
                                    f16 ? "tile_f16" : "tile_f32", (long)n);
                        if (f16)
                            k->tile_f16(n, 1, w16 + rr * n, n, 1, xr + t * n, n, one, 1);
                        else
                            k->tile_f32(n, 1, w32 + rr * n, n, 1, x32 + t * n, n, one, 1);
                        assert_memory_equal(one, &full[t * MAXR + rr], sizeof one);
                    }
                }
            }
        }
    }
}

static void test_vec_swiglu(void **state)
{
    (void)state;
    static const float extremes[] = {0.0f, -0.0f, 100.0f, -100.0f, -88.0f, -89.0f, 88.0f, 89.0f, 1e-30f, -1e-30f,
                                     20.0f, -20.0f, 1000.0f, -1000.0f};
    enum { N_EXTREMES = sizeof extremes / sizeof extremes[0] };
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {11};
    for (int li = 0; li < N_LENGTHS; li++) {
        for (size_t off = 0; off < 2; off++) {
            const int64_t n = vec_lengths[li];
            void *ub;
            float *u = input_new(sizeof(float), off, (size_t)n, &ub);
            float *g0 = malloc(sizeof(float) * ((size_t)n + 1)), *ref = malloc(sizeof(float) * ((size_t)n + 1));
            assert_true(g0 && ref);
            for (int64_t i = 0; i < n; i++) {
                const uint64_t z = rng_next(&r);
                g0[i] = z % 7 == 0 ? extremes[(z >> 8) % N_EXTREMES] : rng_float(&r, -20.0f, 20.0f);
                u[i] = rng_float(&r, -3.0f, 3.0f);
            }
            memcpy(ref, g0, sizeof(float) * (size_t)n);
            cria_vec_scalar.swiglu_f32(n, ref, u);
            for (int64_t i = 0; i < n; i++) {
                const double gi = (double)g0[i], want = gi / (1.0 + exp(-gi)) * (double)u[i];
                check_close((double)ref[i], want, 1e-5 * fabs(want) + 1e-30, "scalar swiglu_f32", (long)i);
            }
            for (int ii = 1; ii < n_isa; ii++) {
                buf gb = buf_new(sizeof(float), off, (size_t)n);
                float *g = gb.p;
                memcpy(g, g0, sizeof(float) * (size_t)n);
                cria_vec_for(isas[ii])->swiglu_f32(n, g, u);
                char what[64];
                snprintf(what, sizeof what, "%s swiglu_f32 off %zu n %ld", cria_isa_name(isas[ii]), off, (long)n);
                for (int64_t i = 0; i < n; i++)
                    check_close((double)g[i], (double)ref[i], 1e-6 * fabs((double)ref[i]) + 1e-37, what, (long)i);
                buf_check_guard(&gb, what);
                free(gb.base);
            }
            free(ub);
            free(g0);
            free(ref);
        }
    }
}

/* ---- CPU level --------------------------------------------------------------- */

static void test_isa_parse(void **state)
{
    (void)state;
    for (int i = 0; i < CRIA_ISA_COUNT; i++) {
        cria_isa got = CRIA_ISA_COUNT;
        assert_true(cria_isa_parse(cria_isa_name((cria_isa)i), &got));
        assert_int_equal(got, i);
    }
    cria_isa got;
    assert_true(cria_isa_parse("scalar", &got) && got == CRIA_ISA_SCALAR);
    assert_true(cria_isa_parse("avx2", &got) && got == CRIA_ISA_AVX2);
    assert_true(cria_isa_parse("avx512", &got) && got == CRIA_ISA_AVX512);
    static const char *const bad[] = {"", "AVX2", "avx", "avx5", "avx512f", "avx2 ", " scalar", "sse", "scalar\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(cria_isa_parse(bad[i], &got));
    assert_string_equal(cria_isa_name(CRIA_ISA_COUNT), "?");
}

/* $CRIA_ISA lowers the level, never raises it; unknown values are ignored. */
static void test_isa_env_cap(void **state)
{
    (void)state;
    const char *saved = getenv("CRIA_ISA");
    char *copy = saved ? strdup(saved) : NULL;
    const cria_isa det = cria_isa_detected();
    const cria_cpu_features f = cria_cpu_detect();
    assert_int_equal(det >= CRIA_ISA_AVX2, f.avx2 && f.fma && f.f16c);
    static const struct {
        const char *value;
        cria_isa cap;
    } cases[] = {
        {"scalar", CRIA_ISA_SCALAR}, {"avx2", CRIA_ISA_AVX2},   {"avx512", CRIA_ISA_AVX512},
        {"garbage", CRIA_ISA_COUNT}, {"", CRIA_ISA_COUNT},      {"AVX2", CRIA_ISA_COUNT},
        {"scalar ", CRIA_ISA_COUNT}, {"avx512", CRIA_ISA_COUNT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_int_equal(setenv("CRIA_ISA", cases[i].value, 1), 0);
        const cria_isa want = cases[i].cap < det ? cases[i].cap : det;
        assert_int_equal(cria_isa_active(), want);
    }
    unsetenv("CRIA_ISA");
    assert_int_equal(cria_isa_active(), det);
    if (copy)
        setenv("CRIA_ISA", copy, 1);
    free(copy);
    /* Each supported level has its own table. */
    for (int i = 0; i <= (int)det; i++)
        assert_int_equal(cria_vec_for((cria_isa)i)->isa, i);
    assert_ptr_equal(cria_vec_for(CRIA_ISA_SCALAR), &cria_vec_scalar);
}

/* ---- row ops ------------------------------------------------------------------ */

static void test_rmsnorm(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 7, 64, 288, 4096};
    rng r = {4};
    const float eps = 1e-5f;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int64_t n = sizes[si];
        float *x = malloc(sizeof(float) * (size_t)n), *w = malloc(sizeof(float) * (size_t)n);
        float *y = malloc(sizeof(float) * (size_t)n);
        assert_true(x && w && y);
        for (int64_t i = 0; i < n; i++) {
            x[i] = rng_float(&r, -3.0f, 3.0f);
            w[i] = rng_float(&r, 0.5f, 1.5f);
        }
        double ss = 0.0;
        for (int64_t i = 0; i < n; i++)
            ss += (double)x[i] * (double)x[i];
        const double scale = 1.0 / sqrt(ss / (double)n + (double)eps);
        cria_rmsnorm(n, x, w, eps, y);
        for (int64_t i = 0; i < n; i++) {
            const double ref = (double)x[i] * scale * (double)w[i];
            check_close((double)y[i], ref, 2e-6 * fabs(ref) + 1e-7, "rmsnorm", (long)i);
        }
        /* In place gives the same bits. */
        cria_rmsnorm(n, x, w, eps, x);
        assert_memory_equal(x, y, sizeof(float) * (size_t)n);
        /* All zeros: eps keeps it finite. */
        memset(x, 0, sizeof(float) * (size_t)n);
        cria_rmsnorm(n, x, w, eps, y);
        for (int64_t i = 0; i < n; i++)
            assert_true(y[i] == 0.0f);
        free(x);
        free(w);
        free(y);
    }
}

/* Checks softmax(x) against a double reference; -inf entries must come out exactly 0. */
static void check_softmax(const float *x, int64_t n)
{
    float *y = malloc(sizeof(float) * (size_t)n);
    assert_non_null(y);
    memcpy(y, x, sizeof(float) * (size_t)n);
    cria_softmax(n, y);
    double max = -(double)INFINITY, sum = 0.0, got_sum = 0.0;
    for (int64_t i = 0; i < n; i++)
        max = (double)x[i] > max ? (double)x[i] : max;
    for (int64_t i = 0; i < n; i++)
        sum += exp((double)x[i] - max);
    for (int64_t i = 0; i < n; i++) {
        const double ref = exp((double)x[i] - max) / sum;
        check_close((double)y[i], ref, 1e-5 * ref + 1e-7, "softmax", (long)i);
        if (x[i] == -INFINITY)
            assert_true(y[i] == 0.0f);
        got_sum += (double)y[i];
    }
    check_close(got_sum, 1.0, 1e-5, "softmax sum", (long)n);
    free(y);
}

static void test_softmax(void **state)
{
    (void)state;
    rng r = {5};
    static const int64_t sizes[] = {2, 5, 17, 100, 1000, 4096};
    float *x = malloc(sizeof(float) * 4096);
    assert_non_null(x);
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        const int64_t n = sizes[si];
        for (int64_t i = 0; i < n; i++)
            x[i] = rng_float(&r, -10.0f, 10.0f);
        check_softmax(x, n);
        /* Large values: the max is subtracted first, nothing overflows. */
        for (int64_t i = 0; i < n; i++)
            x[i] += 1000.0f;
        check_softmax(x, n);
        /* Masked entries. */
        for (int64_t i = 0; i < n; i += 3)
            x[i] = -INFINITY;
        check_softmax(x, n);
    }
    /* One element is certain; a masked one beside it gets nothing. */
    float one[2] = {3.75f, -INFINITY};
    cria_softmax(1, one);
    assert_true(one[0] == 1.0f);
    one[0] = -2.0f;
    one[1] = -INFINITY;
    cria_softmax(2, one);
    assert_true(one[0] == 1.0f && one[1] == 0.0f);
    free(x);
}

/*
 * RoPE: identity at position 0, pair norms kept, dimensions past n_rot
 * untouched, and the direct formula theta_i = pos * base^(-2i/n_rot) in
 * double. ops.h computes the angles as ggml does, by repeated float products
 * theta_{i+1} = theta_i * base^(-2/n_rot), whose rounding grows with pos and
 * i (measured: up to 3.7e-4 off the direct formula at n_rot 64, 8.5e-4 at
 * n_rot 128, pos near 4096), so a flat 1e-4 fails by design. The direct
 * check allows 1e-4 plus the recurrence's angle error bound, and a second
 * check holds the kernel to 1e-5 of that recurrence evaluated with double
 * cos/sin.
 */
static void test_rope(void **state)
{
    (void)state;
    static const struct {
        int32_t n_heads, head_dim, n_rot;
    } cfgs[] = {{3, 64, 64}, {2, 64, 32}, {2, 128, 128}, {1, 6, 6}};
    static const int32_t positions[] = {0, 1, 2, 7, 100, 511, 1000, 2047, 3645, 4095, 4096};
    const float base = 10000.0f;
    rng r = {6};
    for (size_t ci = 0; ci < sizeof cfgs / sizeof cfgs[0]; ci++) {
        const int32_t nh = cfgs[ci].n_heads, hd = cfgs[ci].head_dim, n_rot = cfgs[ci].n_rot;
        const size_t len = (size_t)nh * (size_t)hd;
        float *x0 = malloc(sizeof(float) * len), *x = malloc(sizeof(float) * len);
        float *cs = malloc(sizeof(float) * (size_t)n_rot);
        assert_true(x0 && x && cs);
        for (size_t i = 0; i < len; i++)
            x0[i] = rng_float(&r, -2.0f, 2.0f);
        for (size_t pi = 0; pi < sizeof positions / sizeof positions[0]; pi++) {
            const int32_t pos = positions[pi];
            memcpy(x, x0, sizeof(float) * len);
            cria_rope_cache(pos, n_rot, base, cs);
            cria_rope(x, nh, hd, n_rot, cs);
            const float theta_scale = powf(base, -2.0f / (float)n_rot);
            float theta_f = (float)pos;
            for (int32_t i = 0; i < n_rot / 2; i++, theta_f *= theta_scale) {
                const double theta = (double)pos * pow((double)base, -2.0 * i / n_rot);
                /* Float recurrence: powf within 1 ulp, then i roundings of 1/2 ulp each. */
                const double dtheta = theta * (double)(3 * i + 2) * 0x1p-24;
                for (int32_t h = 0; h < nh; h++) {
                    const size_t j = (size_t)h * (size_t)hd + 2 * (size_t)i;
                    const double a = (double)x0[j], b = (double)x0[j + 1];
                    const double norm = sqrt(a * a + b * b);
                    const double ga = (double)x[j], gb = (double)x[j + 1];
                    if (pos == 0) {
                        assert_true(x[j] == x0[j] && x[j + 1] == x0[j + 1]);
                        continue;
                    }
                    check_close(sqrt(ga * ga + gb * gb), norm, 1e-6 * norm + 1e-7, "rope norm", (long)pos);
                    const double ra = a * cos(theta) - b * sin(theta), rb = a * sin(theta) + b * cos(theta);
                    const double tol = 1e-4 + norm * dtheta;
                    check_close(ga, ra, tol, "rope vs direct formula", (long)pos);
                    check_close(gb, rb, tol, "rope vs direct formula", (long)pos);
                    const double tf = (double)theta_f;
                    const double fa = a * cos(tf) - b * sin(tf), fb = a * sin(tf) + b * cos(tf);
                    check_close(ga, fa, 1e-5, "rope vs float recurrence", (long)pos);
                    check_close(gb, fb, 1e-5, "rope vs float recurrence", (long)pos);
                }
            }
            for (int32_t h = 0; h < nh; h++)
                for (int32_t i = n_rot; i < hd; i++)
                    assert_true(x[(size_t)h * (size_t)hd + (size_t)i] == x0[(size_t)h * (size_t)hd + (size_t)i]);
        }
        free(x0);
        free(x);
        free(cs);
    }
}

static void test_swiglu(void **state)
{
    (void)state;
    rng r = {7};
    enum { N = 1000 };
    float g[N], u[N], g0[N];
    for (int i = 0; i < N; i++) {
        g0[i] = rng_float(&r, -20.0f, 20.0f);
        u[i] = rng_float(&r, -3.0f, 3.0f);
    }
    static const float extremes[] = {0.0f, -0.0f, 100.0f, -100.0f, -89.0f, 89.0f, 1e-30f, -1e-30f};
    memcpy(g0, extremes, sizeof extremes);
    memcpy(g, g0, sizeof g);
    cria_swiglu(N, g, u);
    for (int i = 0; i < N; i++) {
        const double gi = (double)g0[i], ref = gi / (1.0 + exp(-gi)) * (double)u[i];
        check_close((double)g[i], ref, 1e-5 * fabs(ref) + 1e-30, "swiglu", i);
    }
}

/* ---- matmul ------------------------------------------------------------------- */

static size_t dtype_size(cria_dtype t)
{
    return t == CRIA_DTYPE_F32 ? sizeof(float) : sizeof(uint16_t);
}

/* Weight element and activation as the dot product sees them (activations rounded to the weight type). */
static double weight_value(cria_dtype t, const void *data, size_t i)
{
    if (t == CRIA_DTYPE_F16)
        return (double)cria_fp16_to_f32(((const uint16_t *)data)[i]);
    if (t == CRIA_DTYPE_BF16)
        return (double)cria_bf16_to_f32(((const uint16_t *)data)[i]);
    return (double)((const float *)data)[i];
}

static double act_value(cria_dtype t, float x)
{
    if (t == CRIA_DTYPE_F16)
        return (double)cria_fp16_to_f32(cria_f32_to_fp16(x));
    if (t == CRIA_DTYPE_BF16)
        return (double)cria_bf16_to_f32(cria_f32_to_bf16(x));
    return (double)x;
}

/*
 * cria_matmul for f32, f16 and bf16 weights, on every ISA table, against a
 * double reference within 1e-5 of sum |w x|, for 1, 2, 3 and 7 threads (more
 * than this machine's cores is fine); every thread count gives the same bits.
 */
static void test_matmul(void **state)
{
    (void)state;
    static const struct {
        int64_t rows, cols, n;
    } shapes[] = {{1, 1, 1}, {17, 33, 1}, {64, 64, 5}, {300, 288, 7}, {768, 288, 3}};
    static const cria_dtype types[] = {CRIA_DTYPE_F32, CRIA_DTYPE_F16, CRIA_DTYPE_BF16};
    /* the last two pools split their threads into NUMA-like groups by hand: 2 groups of 1, groups of 3 + 2 + 2 */
    static const int threads[] = {1, 2, 3, 7, 2, 7};
    static const int groups2[] = {0, 1}, groups7[] = {0, 1, 2, 0, 1, 2, 0};
    enum { N_THREADS = sizeof threads / sizeof threads[0] };
    cria_pool *pools[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        cria_error err;
        assert_int_equal(cria_pool_init(threads[i], &pools[i], &err), CRIA_OK);
        assert_int_equal(cria_pool_get_groups(pools[i]).n, 1);
    }
    cria_error gerr;
    assert_int_equal(cria_pool_set_groups(pools[N_THREADS - 2], 2, groups2, &gerr), CRIA_OK);
    assert_int_equal(cria_pool_set_groups(pools[N_THREADS - 1], 3, groups7, &gerr), CRIA_OK);
    const cria_pool_groups g7 = cria_pool_get_groups(pools[N_THREADS - 1]);
    assert_true(g7.n == 3 && g7.threads[0] == 3 && g7.threads[1] == 2 && g7.threads[2] == 2 && g7.of_thread[5] == 2);
    static const int empty_group[] = {0, 0, 2, 0, 0, 2, 0}, out_of_range[] = {0, 1, 2, 3, 0, 1, 2};
    assert_int_equal(cria_pool_set_groups(pools[N_THREADS - 1], 3, empty_group, &gerr), CRIA_ERR_ARG);
    assert_non_null(strstr(gerr.msg, "group 1 has no thread"));
    assert_int_equal(cria_pool_set_groups(pools[N_THREADS - 1], 3, out_of_range, &gerr), CRIA_ERR_ARG);
    assert_int_equal(cria_pool_set_groups(pools[N_THREADS - 1], 8, groups7, &gerr), CRIA_ERR_ARG);
    assert_int_equal(cria_pool_get_groups(pools[N_THREADS - 1]).n, 3); /* unchanged by the refusals */
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {8};
    for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
        const cria_dtype type = types[ti];
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
            const int64_t rows = shapes[si].rows, cols = shapes[si].cols, n = shapes[si].n;
            const size_t es = dtype_size(type), n_w = (size_t)(rows * cols), n_y = (size_t)(n * rows);
            void *wdata = malloc(es * n_w);
            float *x = malloc(sizeof(float) * (size_t)(n * cols));
            double *ref = malloc(sizeof(double) * n_y), *tol = malloc(sizeof(double) * n_y);
            float *y = malloc(sizeof(float) * n_y), *y1 = malloc(sizeof(float) * n_y);
            void *scratch = malloc(cria_matmul_scratch_bytes(n, cols) + 1);
            assert_true(wdata && x && ref && tol && y && y1 && scratch);
            for (size_t i = 0; i < n_w; i++) {
                const float v = rng_float(&r, -1.0f, 1.0f);
                if (type == CRIA_DTYPE_F16)
                    ((uint16_t *)wdata)[i] = cria_f32_to_fp16(v);
                else if (type == CRIA_DTYPE_BF16)
                    ((uint16_t *)wdata)[i] = cria_f32_to_bf16(v);
                else
                    ((float *)wdata)[i] = v;
            }
            for (int64_t i = 0; i < n * cols; i++)
                x[i] = rng_float(&r, -2.0f, 2.0f);
            for (int64_t t = 0; t < n; t++) {
                for (int64_t row = 0; row < rows; row++) {
                    double s = 0.0, a = 0.0;
                    for (int64_t c = 0; c < cols; c++) {
                        const double p = weight_value(type, wdata, (size_t)(row * cols + c)) *
                                         act_value(type, x[t * cols + c]);
                        s += p;
                        a += fabs(p);
                    }
                    ref[t * rows + row] = s;
                    tol[t * rows + row] = 1e-5 * a;
                }
            }
            const cria_weight w = {
                .data = wdata, .type = type, .rows = rows, .cols = cols, .row_bytes = (size_t)cols * es};
            for (int ii = 0; ii < n_isa; ii++) {
                const cria_vec_kernels *k = cria_vec_for(isas[ii]);
                for (int pi = 0; pi < N_THREADS; pi++) {
                    /* The pool's size, then more than it has (clamped). */
                    for (int nth = threads[pi]; nth <= 2 * threads[pi] + 1; nth += threads[pi] + 1) {
                        for (size_t i = 0; i < n_y; i++)
                            y[i] = NAN;
                        cria_matmul(k, pools[pi], nth, &w, x, n, y, scratch);
                        char what[96];
                        snprintf(what, sizeof what, "matmul %s %s %ldx%ldx%ld nth %d", cria_isa_name(isas[ii]),
                                 type == CRIA_DTYPE_F32 ? "f32" : type == CRIA_DTYPE_F16 ? "f16" : "bf16",
                                 (long)rows, (long)cols, (long)n, nth);
                        for (size_t i = 0; i < n_y; i++)
                            check_close((double)y[i], ref[i], tol[i], what, (long)i);
                        if (pi == 0 && nth == 1)
                            memcpy(y1, y, sizeof(float) * n_y);
                        else if (memcmp(y, y1, sizeof(float) * n_y) != 0) {
                            print_error("%s: differs from one thread\n", what);
                            fail();
                        }
                    }
                }
            }
            free(wdata);
            free(x);
            free(ref);
            free(tol);
            free(y);
            free(y1);
            free(scratch);
        }
    }
    for (int i = 0; i < N_THREADS; i++)
        cria_pool_free(pools[i]);
}

/* ---- attention ------------------------------------------------------------------ */

enum { ATT_CELLS = 12 };

/*
 * The cells: sequence 0 at positions 0..6 in scrambled order, plus cells the
 * head must ignore for a query of sequence 0 at position 5: another
 * sequence's cells, a free cell (pos -1, stale seq 0), and future positions.
 */
static const int32_t att_seq[ATT_CELLS] = {0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0};
static const int32_t att_pos[ATT_CELLS] = {0, 1, 0, 2, -1, 3, 1, 9, 4, 5, 2, 6};

/*
 * The documented semantics in double: query and cache in half precision,
 * scores scaled, softmax over the cells of seq at positions 0..pos,
 * probabilities rounded to half, V weighted. mag gets sum p |v| per element
 * (for the tolerance).
 */
static void attention_ref(const cria_attn_layer *a, int32_t head, int32_t seq, int32_t pos, const float *q,
                          double *out, double *mag)
{
    const int32_t hd = a->head_dim, kvh = head / (a->n_head / a->n_head_kv);
    const size_t kv_dim = (size_t)a->n_head_kv * (size_t)hd, col = (size_t)kvh * (size_t)hd;
    double s[ATT_CELLS], max = -(double)INFINITY, sum = 0.0;
    bool use[ATT_CELLS];
    for (int32_t c = 0; c < a->n_cells; c++) {
        use[c] = a->cell_seq[c] == seq && a->cell_pos[c] >= 0 && a->cell_pos[c] <= pos;
        s[c] = 0.0;
        if (!use[c])
            continue;
        for (int32_t i = 0; i < hd; i++)
            s[c] += (double)cria_fp16_to_f32(cria_f32_to_fp16(q[i])) *
                    (double)cria_fp16_to_f32(a->k[(size_t)c * kv_dim + col + (size_t)i]);
        s[c] *= (double)a->scale;
        max = s[c] > max ? s[c] : max;
    }
    for (int32_t c = 0; c < a->n_cells; c++)
        sum += use[c] ? exp(s[c] - max) : 0.0;
    for (int32_t i = 0; i < hd; i++)
        out[i] = mag[i] = 0.0;
    for (int32_t c = 0; c < a->n_cells; c++) {
        if (!use[c])
            continue;
        const double p = (double)cria_fp16_to_f32(cria_f32_to_fp16((float)(exp(s[c] - max) / sum)));
        for (int32_t i = 0; i < hd; i++) {
            const double v = (double)cria_fp16_to_f32(a->v[(size_t)c * kv_dim + col + (size_t)i]);
            out[i] += p * v;
            mag[i] += p * fabs(v);
        }
    }
}

/*
 * cria_attention_head on every ISA table against the reference, for MHA and
 * GQA layouts and several queries (sequence 0 at positions 5 and 100,
 * sequence 1, a sequence with no cells: zeros); then the ignored cells' keys
 * and values are overwritten with extremes and the output must keep its bits.
 */
static void test_attention(void **state)
{
    (void)state;
    static const struct {
        int32_t n_head, n_head_kv, head_dim;
    } cfgs[] = {{4, 4, 16}, {8, 2, 64}, {6, 3, 20}, {2, 1, 7}};
    static const struct {
        int32_t seq, pos;
    } queries[] = {{0, 5}, {0, 100}, {1, 1}, {1, 0}, {0, 0}, {3, 50}};
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {9};
    for (size_t ci = 0; ci < sizeof cfgs / sizeof cfgs[0]; ci++) {
        const int32_t nh = cfgs[ci].n_head, nkv = cfgs[ci].n_head_kv, hd = cfgs[ci].head_dim;
        const size_t kv_len = (size_t)ATT_CELLS * (size_t)nkv * (size_t)hd;
        uint16_t *kc = malloc(sizeof(uint16_t) * kv_len), *vc = malloc(sizeof(uint16_t) * kv_len);
        float *q = malloc(sizeof(float) * (size_t)nh * (size_t)hd), *out = malloc(sizeof(float) * (size_t)hd);
        float *first = malloc(sizeof(float) * (size_t)hd), *scores = malloc(sizeof(float) * ATT_CELLS);
        uint16_t *q16 = malloc(sizeof(uint16_t) * (size_t)hd);
        double *ref = malloc(sizeof(double) * (size_t)hd), *mag = malloc(sizeof(double) * (size_t)hd);
        assert_true(kc && vc && q && out && first && scores && q16 && ref && mag);
        for (size_t i = 0; i < kv_len; i++) {
            kc[i] = cria_f32_to_fp16(rng_float(&r, -1.0f, 1.0f));
            vc[i] = cria_f32_to_fp16(rng_float(&r, -1.0f, 1.0f));
        }
        for (size_t i = 0; i < (size_t)nh * (size_t)hd; i++)
            q[i] = rng_float(&r, -4.0f, 4.0f);
        cria_attn_layer a = {.n_head = nh, .n_head_kv = nkv, .head_dim = hd, .n_cells = ATT_CELLS, .k = kc,
                             .v = vc, .cell_pos = att_pos, .cell_seq = att_seq,
                             .scale = 1.0f / sqrtf((float)hd)};
        for (size_t qi = 0; qi < sizeof queries / sizeof queries[0]; qi++) {
            const int32_t seq = queries[qi].seq, pos = queries[qi].pos;
            for (int32_t h = 0; h < nh; h++) {
                const float *qh = q + (size_t)h * (size_t)hd;
                attention_ref(&a, h, seq, pos, qh, ref, mag);
                for (int ii = 0; ii < n_isa; ii++) {
                    char what[96];
                    snprintf(what, sizeof what, "attention %s %dx%d/%d head %d seq %d pos %d",
                             cria_isa_name(isas[ii]), nh, hd, nkv, h, seq, pos);
                    cria_attention_head(cria_vec_for(isas[ii]), &a, h, seq, pos, qh, out, scores, q16);
                    for (int32_t i = 0; i < hd; i++)
                        check_close((double)out[i], ref[i], 2e-5 * mag[i] + 1e-7, what, i);
                    if (seq == 3)
                        for (int32_t i = 0; i < hd; i++)
                            assert_true(out[i] == 0.0f);
                }
            }
        }
        /* Keys and values of cells outside sequence 0's positions 0..5 must not matter at all. */
        const cria_vec_kernels *k = cria_vec_for(isas[n_isa - 1]);
        for (int32_t h = 0; h < nh; h++) {
            const float *qh = q + (size_t)h * (size_t)hd;
            cria_attention_head(k, &a, h, 0, 5, qh, first, scores, q16);
            for (int32_t c = 0; c < ATT_CELLS; c++) {
                if (att_seq[c] == 0 && att_pos[c] >= 0 && att_pos[c] <= 5)
                    continue;
                for (size_t i = 0; i < (size_t)nkv * (size_t)hd; i++) {
                    kc[(size_t)c * (size_t)nkv * (size_t)hd + i] = (rng_next(&r) & 1) ? 0x7bff : 0xfbff;
                    vc[(size_t)c * (size_t)nkv * (size_t)hd + i] = 0x7bff;
                }
            }
            cria_attention_head(k, &a, h, 0, 5, qh, out, scores, q16);
            assert_memory_equal(out, first, sizeof(float) * (size_t)hd);
        }
        free(kc);
        free(vc);
        free(q);
        free(out);
        free(first);
        free(scores);
        free(q16);
        free(ref);
        free(mag);
    }
}

/*
 * cria_attention (the fast path) against the same reference and against
 * cria_attention_head, for every range of kv heads: the heads of the range
 * are written, every other head is left alone; cells outside the query's
 * sequence and positions do not change a bit; a sequence with no cells gives
 * zeros.
 */
static void test_attention_fast(void **state)
{
    (void)state;
    static const struct {
        int32_t n_head, n_head_kv, head_dim;
    } cfgs[] = {{4, 4, 16}, {8, 2, 64}, {6, 3, 20}, {2, 1, 7}, {4, 2, 8}, {4, 1, 32}, {2, 2, 128},
                 {16, 1, 8}, {12, 1, 16}};
    static const struct {
        int32_t seq, pos;
    } queries[] = {{0, 5}, {0, 100}, {1, 1}, {1, 0}, {0, 0}, {3, 50}};
    cria_isa isas[CRIA_ISA_COUNT];
    const int n_isa = isa_levels(isas);
    rng r = {12};
    for (size_t ci = 0; ci < sizeof cfgs / sizeof cfgs[0]; ci++) {
        const int32_t nh = cfgs[ci].n_head, nkv = cfgs[ci].n_head_kv, hd = cfgs[ci].head_dim, g = nh / nkv;
        const size_t kv_len = (size_t)ATT_CELLS * (size_t)nkv * (size_t)hd, q_len = (size_t)nh * (size_t)hd;
        uint16_t *kc = malloc(sizeof(uint16_t) * kv_len), *vc = malloc(sizeof(uint16_t) * kv_len);
        float *q = malloc(sizeof(float) * q_len), *out = malloc(sizeof(float) * q_len);
        float *first = malloc(sizeof(float) * q_len), *head_out = malloc(sizeof(float) * (size_t)hd);
        float *scores = malloc(sizeof(float) * ATT_CELLS);
        uint16_t *q16 = malloc(sizeof(uint16_t) * (size_t)hd);
        double *ref = malloc(sizeof(double) * (size_t)hd), *mag = malloc(sizeof(double) * (size_t)hd);
        assert_true(kc && vc && q && out && first && head_out && scores && q16 && ref && mag);
        for (size_t i = 0; i < kv_len; i++) {
            kc[i] = cria_f32_to_fp16(rng_float(&r, -1.0f, 1.0f));
            vc[i] = cria_f32_to_fp16(rng_float(&r, -1.0f, 1.0f));
        }
        for (size_t i = 0; i < q_len; i++)
            q[i] = rng_float(&r, -4.0f, 4.0f);
        cria_attn_layer a = {.n_head = nh, .n_head_kv = nkv, .head_dim = hd, .n_cells = ATT_CELLS, .k = kc,
                             .v = vc, .cell_pos = att_pos, .cell_seq = att_seq,
                             .scale = 1.0f / sqrtf((float)hd)};
        float *scratch = malloc(sizeof(float) * cria_attention_scratch_floats(&a));
        assert_non_null(scratch);
        for (int ii = 0; ii < n_isa; ii++) {
            const cria_vec_kernels *k = cria_vec_for(isas[ii]);
            for (size_t qi = 0; qi < sizeof queries / sizeof queries[0]; qi++) {
                const int32_t seq = queries[qi].seq, pos = queries[qi].pos;
                for (int32_t kh0 = 0; kh0 < nkv; kh0++) {
                    for (int32_t kh1 = kh0 + 1; kh1 <= nkv; kh1++) {
                        for (size_t i = 0; i < q_len; i++)
                            out[i] = NAN;
                        cria_attention(k, &a, kh0, kh1, seq, pos, q, out, scratch);
                        for (int32_t h = 0; h < nh; h++) {
                            const float *oh = out + (size_t)h * (size_t)hd;
                            if (h < kh0 * g || h >= kh1 * g) {
                                for (int32_t i = 0; i < hd; i++)
                                    assert_true(isnan(oh[i]));
                                continue;
                            }
                            char what[112];
                            snprintf(what, sizeof what, "cria_attention %s %dx%d/%d kv [%d,%d) head %d seq %d pos %d",
                                     cria_isa_name(isas[ii]), nh, hd, nkv, kh0, kh1, h, seq, pos);
                            attention_ref(&a, h, seq, pos, q + (size_t)h * (size_t)hd, ref, mag);
                            cria_attention_head(k, &a, h, seq, pos, q + (size_t)h * (size_t)hd, head_out, scores,
                                                q16);
                            for (int32_t i = 0; i < hd; i++) {
                                check_close((double)oh[i], ref[i], 2e-5 * mag[i] + 1e-7, what, i);
                                check_close((double)oh[i], (double)head_out[i], 4e-5 * mag[i] + 2e-7, what, i);
                            }
                            if (seq == 3)
                                for (int32_t i = 0; i < hd; i++)
                                    assert_true(oh[i] == 0.0f);
                        }
                    }
                }
            }
        }
        /* Cells outside sequence 0's positions 0..5 must not matter at all. */
        const cria_vec_kernels *k = cria_vec_for(isas[n_isa - 1]);
        cria_attention(k, &a, 0, nkv, 0, 5, q, first, scratch);
        for (int32_t c = 0; c < ATT_CELLS; c++) {
            if (att_seq[c] == 0 && att_pos[c] >= 0 && att_pos[c] <= 5)
                continue;
            for (size_t i = 0; i < (size_t)nkv * (size_t)hd; i++) {
                kc[(size_t)c * (size_t)nkv * (size_t)hd + i] = (rng_next(&r) & 1) ? 0x7bff : 0xfbff;
                vc[(size_t)c * (size_t)nkv * (size_t)hd + i] = 0x7e00; /* NaN */
            }
        }
        cria_attention(k, &a, 0, nkv, 0, 5, q, out, scratch);
        assert_memory_equal(out, first, sizeof(float) * q_len);
        free(kc);
        free(vc);
        free(q);
        free(out);
        free(first);
        free(head_out);
        free(scores);
        free(q16);
        free(ref);
        free(mag);
        free(scratch);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vec_dots),
        cmocka_unit_test(test_vec_axpy),
        cmocka_unit_test(test_vec_conversions),
        cmocka_unit_test(test_vec_exp),
        cmocka_unit_test(test_vec_softmax),
        cmocka_unit_test(test_vec_rope),
        cmocka_unit_test(test_vec_swiglu),
        cmocka_unit_test(test_vec_tiles),
        cmocka_unit_test(test_isa_parse),
        cmocka_unit_test(test_isa_env_cap),
        cmocka_unit_test(test_rmsnorm),
        cmocka_unit_test(test_softmax),
        cmocka_unit_test(test_rope),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_matmul),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_attention_fast),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
