/* Load-time repacking into the layouts of packed.h (portable C; the kernels are per ISA). */
#include "quant/packed.h"

#include <string.h>

#include "quant/quant_impl.h"

bool cria_pack_supported(cria_dtype t, cria_isa isa, int64_t rows, int64_t cols)
{
    const cria_quant_traits *q = cria_quant_traits_for(t, isa);
    return q && q->packed && rows > 0 && rows % CRIA_PACK_ROWS == 0 && cols > 0 && cols % q->block == 0;
}

/* One group of 16 Q4_0 rows, nb blocks each: the quants' 4-byte words interleaved by row, then the scales. */
static void pack_q4_0_group(const char *src, size_t row_bytes, int64_t nb, uint8_t *dst)
{
    uint8_t(*q)[4][64] = (uint8_t(*)[4][64])(void *)dst;
    uint16_t(*d)[CRIA_PACK_ROWS] = (uint16_t(*)[CRIA_PACK_ROWS])(void *)(dst + (size_t)nb * 4 * 64);
    /* block-major, so the writes fill one block's 288 bytes at a time */
    for (int64_t b = 0; b < nb; b++) {
        for (int r = 0; r < CRIA_PACK_ROWS; r++) {
            const block_q4_0 *x = (const block_q4_0 *)(const void *)(src + (size_t)r * row_bytes) + b;
            d[b][r] = x->d;
            for (int v = 0; v < 4; v++)
                memcpy(&q[b][v][4 * r], x->qs + 4 * v, 4);
        }
    }
}

void cria_pack_rows(cria_dtype t, const void *src, size_t row_bytes, int64_t cols, int64_t r0, int64_t r1,
                    void *dst)
{
    if (t != CRIA_DTYPE_Q4_0)
        return;
    const int64_t nb = cols / QK_LEGACY;
    for (int64_t r = r0; r < r1; r += CRIA_PACK_ROWS)
        pack_q4_0_group((const char *)src + (size_t)r * row_bytes, row_bytes, nb,
                        (uint8_t *)dst + (size_t)r * row_bytes);
}
