#include "kernels/vec.h"

const cria_vec_kernels *cria_vec_for(cria_isa isa)
{
#if defined(__x86_64__)
    switch (isa) {
    case CRIA_ISA_AVX512: return &cria_vec_avx512;
    case CRIA_ISA_AVX2: return &cria_vec_avx2;
    default: break;
    }
#else
    (void)isa;
#endif
    return &cria_vec_scalar;
}
