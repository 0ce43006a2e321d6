/*
 * CPU features and the instruction-set level cria computes at. The level is
 * what CPUID reports *and* the OS enables (XGETBV: AVX and AVX-512 register
 * state saved on context switches), capped by $CRIA_ISA (scalar, avx2,
 * avx512) so tests can exercise every path on one machine.
 */
#ifndef CRIA_BASE_CPU_H
#define CRIA_BASE_CPU_H

#include <stdbool.h>

typedef enum cria_isa {
    CRIA_ISA_SCALAR = 0,
    CRIA_ISA_AVX2 = 1,   /* AVX2 + FMA + F16C */
    CRIA_ISA_AVX512 = 2, /* AVX-512 F/BW/VL/DQ + VNNI + BF16, plus the AVX2 set */
    CRIA_ISA_COUNT,
} cria_isa;

typedef struct cria_cpu_features {
    bool avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512dq, avx512vnni, avx512bf16;
} cria_cpu_features;

/* What this CPU and OS support. */
cria_cpu_features cria_cpu_detect(void);

/* The best level the CPU supports. */
cria_isa cria_isa_detected(void);

/*
 * The level to use: the detected one, lowered to $CRIA_ISA when that names a
 * lower level (a higher one than the CPU has is ignored).
 */
cria_isa cria_isa_active(void);

const char *cria_isa_name(cria_isa isa);

/* Parses "scalar", "avx2" or "avx512"; false if unknown. */
bool cria_isa_parse(const char *s, cria_isa *out);

#endif
