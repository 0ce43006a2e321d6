#include "base/dtype.h"

#include <stddef.h>

static const cria_dtype_info dtype_table[CRIA_DTYPE_COUNT] = {
    [CRIA_DTYPE_F32] = {"f32", 1, 4},
    [CRIA_DTYPE_F16] = {"f16", 1, 2},
    [CRIA_DTYPE_Q4_0] = {"q4_0", 32, 18},
    [CRIA_DTYPE_Q4_1] = {"q4_1", 32, 20},
    [CRIA_DTYPE_Q5_0] = {"q5_0", 32, 22},
    [CRIA_DTYPE_Q5_1] = {"q5_1", 32, 24},
    [CRIA_DTYPE_Q8_0] = {"q8_0", 32, 34},
    [CRIA_DTYPE_Q8_1] = {"q8_1", 32, 36},
    [CRIA_DTYPE_Q2_K] = {"q2_K", 256, 84},
    [CRIA_DTYPE_Q3_K] = {"q3_K", 256, 110},
    [CRIA_DTYPE_Q4_K] = {"q4_K", 256, 144},
    [CRIA_DTYPE_Q5_K] = {"q5_K", 256, 176},
    [CRIA_DTYPE_Q6_K] = {"q6_K", 256, 210},
    [CRIA_DTYPE_Q8_K] = {"q8_K", 256, 292},
    [CRIA_DTYPE_IQ2_XXS] = {"iq2_xxs", 256, 66},
    [CRIA_DTYPE_IQ2_XS] = {"iq2_xs", 256, 74},
    [CRIA_DTYPE_IQ3_XXS] = {"iq3_xxs", 256, 98},
    [CRIA_DTYPE_IQ1_S] = {"iq1_s", 256, 50},
    [CRIA_DTYPE_IQ4_NL] = {"iq4_nl", 32, 18},
    [CRIA_DTYPE_IQ3_S] = {"iq3_s", 256, 110},
    [CRIA_DTYPE_IQ2_S] = {"iq2_s", 256, 82},
    [CRIA_DTYPE_IQ4_XS] = {"iq4_xs", 256, 136},
    [CRIA_DTYPE_I8] = {"i8", 1, 1},
    [CRIA_DTYPE_I16] = {"i16", 1, 2},
    [CRIA_DTYPE_I32] = {"i32", 1, 4},
    [CRIA_DTYPE_I64] = {"i64", 1, 8},
    [CRIA_DTYPE_F64] = {"f64", 1, 8},
    [CRIA_DTYPE_IQ1_M] = {"iq1_m", 256, 56},
    [CRIA_DTYPE_BF16] = {"bf16", 1, 2},
    [CRIA_DTYPE_TQ1_0] = {"tq1_0", 256, 54},
    [CRIA_DTYPE_TQ2_0] = {"tq2_0", 256, 66},
    [CRIA_DTYPE_MXFP4] = {"mxfp4", 32, 17},
};

const cria_dtype_info *cria_dtype_get(uint32_t t)
{
    if (t >= CRIA_DTYPE_COUNT || dtype_table[t].block == 0)
        return NULL;
    return &dtype_table[t];
}

const char *cria_dtype_name(uint32_t t)
{
    const cria_dtype_info *info = cria_dtype_get(t);
    return info ? info->name : "?";
}

bool cria_dtype_supported(cria_dtype t)
{
    switch (t) {
    case CRIA_DTYPE_F32: case CRIA_DTYPE_F16: case CRIA_DTYPE_BF16:
    /* block types with a dot product in src/quant (Q8_1 and Q8_K are activation-only) */
    case CRIA_DTYPE_Q8_0: case CRIA_DTYPE_Q4_0: case CRIA_DTYPE_Q4_1: case CRIA_DTYPE_Q5_0: case CRIA_DTYPE_Q5_1:
    case CRIA_DTYPE_Q2_K: case CRIA_DTYPE_Q3_K: case CRIA_DTYPE_Q4_K: case CRIA_DTYPE_Q5_K: case CRIA_DTYPE_Q6_K:
    case CRIA_DTYPE_TQ1_0: case CRIA_DTYPE_TQ2_0:
        return true;
    default:
        return false;
    }
}

bool cria_dtype_row_bytes(cria_dtype t, uint64_t n, uint64_t *bytes)
{
    const cria_dtype_info *info = cria_dtype_get((uint32_t)t);
    if (!info || n % info->block != 0)
        return false;
    uint64_t blocks = n / info->block;
    if (blocks > UINT64_MAX / info->block_bytes)
        return false;
    *bytes = blocks * info->block_bytes;
    return true;
}
