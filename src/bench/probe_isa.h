/*
 * The probe's two inner loops, one implementation per instruction set
 * (probe.c: scalar; probe_avx2.c; probe_avx512.c), picked at run time from
 * cria_isa_active().
 */
#ifndef CRIA_BENCH_PROBE_ISA_H
#define CRIA_BENCH_PROBE_ISA_H

#include <stddef.h>
#include <stdint.h>

/*
 * Runs iters rounds of fused multiply-adds on register-resident accumulators
 * and returns their sum (so the work is not optimised away); *flops gets the
 * floating-point operations done (2 per lane per FMA).
 */
typedef float (*cria_probe_fma_fn)(int64_t iters, double *flops);

/* Reads n bytes from p (n a multiple of 512, p 64-byte aligned) and returns a checksum of them. */
typedef uint64_t (*cria_probe_read_fn)(const void *p, size_t n);

float cria_probe_fma_avx2(int64_t iters, double *flops);
uint64_t cria_probe_read_avx2(const void *p, size_t n);
float cria_probe_fma_avx512(int64_t iters, double *flops);
uint64_t cria_probe_read_avx512(const void *p, size_t n);

#endif
