#include "base/cpu.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

cria_cpu_features cria_cpu_detect(void)
{
    cria_cpu_features f;
    memset(&f, 0, sizeof f);
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return f;
    bool osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
    if (!osxsave || !avx)
        return f;
    uint64_t xcr0 = xgetbv0();
    bool ymm_ok = (xcr0 & 0x6) == 0x6;      /* SSE and AVX state */
    bool zmm_ok = (xcr0 & 0xe6) == 0xe6;    /* plus opmask and both ZMM halves */
    if (!ymm_ok)
        return f;
    f.fma = (c >> 12) & 1;
    f.f16c = (c >> 29) & 1;
    if (__get_cpuid_max(0, NULL) < 7)
        return f;
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = (b >> 5) & 1;
    if (zmm_ok) {
        f.avx512f = (b >> 16) & 1;
        f.avx512dq = (b >> 17) & 1;
        f.avx512bw = (b >> 30) & 1;
        f.avx512vl = (b >> 31) & 1;
        f.avx512vnni = (c >> 11) & 1;
        unsigned a1, b1, c1, d1;
        __cpuid_count(7, 1, a1, b1, c1, d1);
        f.avx512bf16 = (a1 >> 5) & 1;
    }
    return f;
}
#else
cria_cpu_features cria_cpu_detect(void)
{
    cria_cpu_features f;
    memset(&f, 0, sizeof f);
    return f;
}
#endif

cria_isa cria_isa_detected(void)
{
    cria_cpu_features f = cria_cpu_detect();
    bool avx2 = f.avx2 && f.fma && f.f16c;
    if (avx2 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vnni && f.avx512bf16)
        return CRIA_ISA_AVX512;
    return avx2 ? CRIA_ISA_AVX2 : CRIA_ISA_SCALAR;
}

cria_isa cria_isa_active(void)
{
    cria_isa isa = cria_isa_detected();
    cria_isa want;
    const char *env = getenv("CRIA_ISA");
    if (env && cria_isa_parse(env, &want) && want < isa)
        isa = want;
    return isa;
}

const char *cria_isa_name(cria_isa isa)
{
    static const char *const names[CRIA_ISA_COUNT] = {"scalar", "avx2", "avx512"};
    return (unsigned)isa < CRIA_ISA_COUNT ? names[isa] : "?";
}

bool cria_isa_parse(const char *s, cria_isa *out)
{
    for (int i = 0; i < CRIA_ISA_COUNT; i++) {
        if (strcmp(s, cria_isa_name((cria_isa)i)) == 0) {
            *out = (cria_isa)i;
            return true;
        }
    }
    return false;
}
