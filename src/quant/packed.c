/* Load-time repacking into the layouts of packed.h (portable C; the kernels are per ISA). */
#include "quant/packed.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "quant/quant_impl.h"

static_assert(offsetof(block_q4_0, d) == 0 && offsetof(block_q4_0, qs) == sizeof(uint16_t), "Q4_0: scale, quants");
static_assert(offsetof(block_q8_0, d) == 0 && offsetof(block_q8_0, qs) == sizeof(uint16_t), "Q8_0: scale, quants");

bool cria_pack_supported(cria_dtype t, cria_isa isa, int64_t rows, int64_t cols)
{
    const cria_quant_traits *q = cria_quant_traits_for(t, isa);
    return q && q->packed && rows > 0 && rows % CRIA_PACK_ROWS == 0 && cols > 0 && cols % q->block == 0;
}

/*
 * One group of 16 rows of a 32-block type whose block is an fp16 scale then
 * its quants (Q4_0: 16 bytes of nibbles, Q8_0: 32 bytes): per block, nv
 * vectors whose 4-byte lane r is row r's quant word (XOR flip), then the
 * 16 scales.
 */
static void pack_group(const char *src, size_t row_bytes, int64_t nb, size_t block_bytes, int nv, uint32_t flip,
                       uint8_t *dst)
{
    uint16_t *d = (uint16_t *)(void *)(dst + (size_t)nb * (size_t)nv * 64);
    for (int64_t b = 0; b < nb; b++) {
        for (int r = 0; r < CRIA_PACK_ROWS; r++) {
            const char *x = src + (size_t)r * row_bytes + (size_t)b * block_bytes;
            memcpy(&d[b * CRIA_PACK_ROWS + r], x, sizeof(uint16_t));
            for (int v = 0; v < nv; v++) {
                uint32_t word;
                memcpy(&word, x + sizeof(uint16_t) + 4 * v, sizeof word);
                word ^= flip;
                memcpy(dst + ((size_t)b * (size_t)nv + (size_t)v) * 64 + 4 * (size_t)r, &word, sizeof word);
            }
        }
    }
}

void cria_pack_rows(cria_dtype t, const void *src, size_t row_bytes, int64_t cols, int64_t r0, int64_t r1,
                    void *dst)
{
    if (t != CRIA_DTYPE_Q4_0 && t != CRIA_DTYPE_Q8_0)
        return;
    /* Q4_0 as the file has it; Q8_0 plus 128, unsigned for VPDPBUSD */
    const bool q8 = t == CRIA_DTYPE_Q8_0;
    const size_t block_bytes = q8 ? sizeof(block_q8_0) : sizeof(block_q4_0);
    const int64_t nb = cols / QK_LEGACY;
    for (int64_t r = r0; r < r1; r += CRIA_PACK_ROWS)
        pack_group((const char *)src + (size_t)r * row_bytes, row_bytes, nb, block_bytes, q8 ? 8 : 4,
                   q8 ? 0x80808080u : 0, (uint8_t *)dst + (size_t)r * row_bytes);
}
