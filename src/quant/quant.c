/*
 * The scalar traits table (the reference every ISA row is tested against),
 * the per-ISA lookup, and the checked quantize / dequantize entry points.
 */
#include "quant/quant_impl.h"

const cria_quant_traits cria_quant_scalar[CRIA_DTYPE_COUNT] = {
    [CRIA_DTYPE_Q8_0] = {
        .type = CRIA_DTYPE_Q8_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q8_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_q8_0_from_float, .to_float = quant_q8_0_to_float, .vec_dot = quant_q8_0_dot,
    },
    [CRIA_DTYPE_Q8_1] = {
        .type = CRIA_DTYPE_Q8_1, .block = QK_LEGACY, .block_bytes = sizeof(block_q8_1),
        .vec_dot_type = CRIA_DTYPE_Q8_1,
        .from_float = quant_q8_1_from_float, .to_float = quant_q8_1_to_float, .vec_dot = NULL,
    },
    [CRIA_DTYPE_Q4_0] = {
        .type = CRIA_DTYPE_Q4_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q4_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_q4_0_from_float, .to_float = quant_q4_0_to_float, .vec_dot = quant_q4_0_dot,
    },
    [CRIA_DTYPE_Q4_1] = {
        .type = CRIA_DTYPE_Q4_1, .block = QK_LEGACY, .block_bytes = sizeof(block_q4_1),
        .vec_dot_type = CRIA_DTYPE_Q8_1,
        .from_float = quant_q4_1_from_float, .to_float = quant_q4_1_to_float, .vec_dot = quant_q4_1_dot,
    },
    [CRIA_DTYPE_Q5_0] = {
        .type = CRIA_DTYPE_Q5_0, .block = QK_LEGACY, .block_bytes = sizeof(block_q5_0),
        .vec_dot_type = CRIA_DTYPE_Q8_0,
        .from_float = quant_q5_0_from_float, .to_float = quant_q5_0_to_float, .vec_dot = quant_q5_0_dot,
    },
    [CRIA_DTYPE_Q5_1] = {
        .type = CRIA_DTYPE_Q5_1, .block = QK_LEGACY, .block_bytes = sizeof(block_q5_1),
        .vec_dot_type = CRIA_DTYPE_Q8_1,
        .from_float = quant_q5_1_from_float, .to_float = quant_q5_1_to_float, .vec_dot = quant_q5_1_dot,
    },
    [CRIA_DTYPE_Q2_K] = {
        .type = CRIA_DTYPE_Q2_K, .block = QK_K, .block_bytes = sizeof(block_q2_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q2_k_from_float, .to_float = quant_q2_k_to_float, .vec_dot = quant_q2_k_dot,
    },
    [CRIA_DTYPE_Q3_K] = {
        .type = CRIA_DTYPE_Q3_K, .block = QK_K, .block_bytes = sizeof(block_q3_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q3_k_from_float, .to_float = quant_q3_k_to_float, .vec_dot = quant_q3_k_dot,
    },
    [CRIA_DTYPE_Q4_K] = {
        .type = CRIA_DTYPE_Q4_K, .block = QK_K, .block_bytes = sizeof(block_q4_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q4_k_from_float, .to_float = quant_q4_k_to_float, .vec_dot = quant_q4_k_dot,
    },
    [CRIA_DTYPE_Q5_K] = {
        .type = CRIA_DTYPE_Q5_K, .block = QK_K, .block_bytes = sizeof(block_q5_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q5_k_from_float, .to_float = quant_q5_k_to_float, .vec_dot = quant_q5_k_dot,
    },
    [CRIA_DTYPE_Q6_K] = {
        .type = CRIA_DTYPE_Q6_K, .block = QK_K, .block_bytes = sizeof(block_q6_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q6_k_from_float, .to_float = quant_q6_k_to_float, .vec_dot = quant_q6_k_dot,
    },
    [CRIA_DTYPE_Q8_K] = {
        .type = CRIA_DTYPE_Q8_K, .block = QK_K, .block_bytes = sizeof(block_q8_K),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_q8_k_from_float, .to_float = quant_q8_k_to_float, .vec_dot = NULL,
    },
    [CRIA_DTYPE_TQ1_0] = {
        .type = CRIA_DTYPE_TQ1_0, .block = QK_K, .block_bytes = sizeof(block_tq1_0),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_tq1_0_from_float, .to_float = quant_tq1_0_to_float, .vec_dot = quant_tq1_0_dot,
    },
    [CRIA_DTYPE_TQ2_0] = {
        .type = CRIA_DTYPE_TQ2_0, .block = QK_K, .block_bytes = sizeof(block_tq2_0),
        .vec_dot_type = CRIA_DTYPE_Q8_K,
        .from_float = quant_tq2_0_from_float, .to_float = quant_tq2_0_to_float, .vec_dot = quant_tq2_0_dot,
    },
};

bool cria_quant_is_quantized(cria_dtype t)
{
    return (unsigned)t < CRIA_DTYPE_COUNT && cria_quant_scalar[t].block != 0;
}

/*
 * An ISA table fills only the rows it speeds up (each such row complete);
 * every other type resolves to the scalar row.
 */
const cria_quant_traits *cria_quant_traits_for(cria_dtype t, cria_isa isa)
{
    if (!cria_quant_is_quantized(t))
        return NULL;
#if defined(__x86_64__)
    if (isa >= CRIA_ISA_AVX512 && cria_quant_avx512[t].block != 0)
        return &cria_quant_avx512[t];
    if (isa >= CRIA_ISA_AVX2 && cria_quant_avx2[t].block != 0)
        return &cria_quant_avx2[t];
#else
    (void)isa;
#endif
    return &cria_quant_scalar[t];
}

static cria_status check_row(cria_dtype t, int64_t n, const char *what, cria_error *err)
{
    if (!cria_quant_is_quantized(t))
        return cria_err_set(err, CRIA_ERR_ARG, "%s: type %s is not a block-quantized type", what, cria_dtype_name(t));
    const int32_t block = cria_quant_scalar[t].block;
    if (n < 0 || n % block != 0)
        return cria_err_set(err, CRIA_ERR_ARG, "%s: a %s row holds whole blocks of %d elements, not %lld", what,
                            cria_dtype_name(t), (int)block, (long long)n);
    return CRIA_OK;
}

cria_status cria_quantize_row(cria_dtype t, const float *x, void *y, int64_t n, cria_error *err)
{
    cria_status st = check_row(t, n, "quantize", err);
    if (st == CRIA_OK)
        cria_quant_scalar[t].from_float(x, y, n);
    return st;
}

cria_status cria_dequantize_row(cria_dtype t, const void *x, float *y, int64_t n, cria_error *err)
{
    cria_status st = check_row(t, n, "dequantize", err);
    if (st == CRIA_OK)
        cria_quant_scalar[t].to_float(x, y, n);
    return st;
}
