/*
 * Weights repacked once, at load, into row-interleaved groups for the
 * kernels that want them (today Q4_0 and Q8_0 at the AVX-512 VNNI level).
 *
 * Q4_0's layout: rows in groups of 16;
 * group g (rows 16g..16g+15) starts at byte g * 16 * row_bytes, so a row
 * range that is a multiple of 16 maps to the same byte range as in the
 * file (NUMA placement and work items work on either layout). A group of
 * nb blocks per row holds
 *
 *   q[nb][4][64]   block b, vector v: bytes 4r..4r+3 are row r's
 *                  qs[4v..4v+3] as the file has them (low nibbles:
 *                  elements 4v..4v+3, high nibbles: 16+4v..16+4v+3);
 *   d[nb][16]      block b, row r: the block's fp16 scale.
 *
 * That is nb * (256 + 32) = 16 * nb * 18 bytes: the same size as the file's
 * rows, still four bits a weight, so a token reads as many bytes as before.
 * One VPDPBUSD of a vector's nibbles with four activation bytes broadcast
 * adds sixteen rows' partial sums in its lanes: no horizontal sums and no
 * shuffles, and the sixteen scales of a block convert as one vector.
 *
 * Q8_0's layout has the same shape with eight vectors a block:
 *
 *   q[nb][8][64]   block b, vector g: bytes 4r..4r+3 are row r's
 *                  qs[4g..4g+3] plus 128 (made unsigned for VPDPBUSD);
 *   d[nb][16]      as above;
 *
 * nb * (512 + 32) = 16 * nb * 34 bytes, again the file's size.
 */
#ifndef CRIA_QUANT_PACKED_H
#define CRIA_QUANT_PACKED_H

#include <stddef.h>
#include <stdint.h>

#include "cria.h"
#include "quant/quant.h"

enum { CRIA_PACK_ROWS = 16 };

/*
 * True when type t has packed kernels at ISA level isa (its traits' packed
 * is set) and a rows x cols matrix can take the layout (rows a multiple of
 * CRIA_PACK_ROWS, whole blocks).
 */
bool cria_pack_supported(cria_dtype t, cria_isa isa, int64_t rows, int64_t cols);

/*
 * Writes the packed layout of a rows x cols matrix of type t (row_bytes
 * apart in src) to dst, which holds rows * row_bytes bytes; rows [r0, r1)
 * only (multiples of CRIA_PACK_ROWS), so several threads can share a matrix.
 */
void cria_pack_rows(cria_dtype t, const void *src, size_t row_bytes, int64_t cols, int64_t r0, int64_t r1,
                    void *dst);

#endif
