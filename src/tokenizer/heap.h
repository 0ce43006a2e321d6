/*
 * The binary heap both tokenizers merge with: SPM pops its best-scoring
 * bigram, BPE its lowest-ranked pair, each leftmost first on ties. One
 * macro writes a typed push and pop over a caller-owned array, so each heap
 * keeps its element type and comparison inlined (a void * heap with a
 * comparison callback would cost a call per step of every merge).
 */
#ifndef CRIA_TOKENIZER_HEAP_H
#define CRIA_TOKENIZER_HEAP_H

#include <stdint.h>

/*
 * Defines static void NAME_push(T *heap, int32_t *n, T x) and static T
 * NAME_pop(T *heap, int32_t *n) (n >= 1), where BEFORE(const T *a, const T *b)
 * is true when a must come out first. The array holds room for every push.
 */
#define CRIA_HEAP_DEFINE(NAME, T, BEFORE)                                                                     \
    static void NAME##_push(T *heap, int32_t *n, T x)                                                        \
    {                                                                                                          \
        int32_t i = (*n)++;                                                                                    \
        while (i > 0) {                                                                                        \
            const int32_t parent = (i - 1) / 2;                                                                \
            if (!BEFORE(&x, &heap[parent]))                                                                    \
                break;                                                                                         \
            heap[i] = heap[parent];                                                                            \
            i = parent;                                                                                        \
        }                                                                                                      \
        heap[i] = x;                                                                                           \
    }                                                                                                          \
                                                                                                               \
    static T NAME##_pop(T *heap, int32_t *n)                                                                 \
    {                                                                                                          \
        const T top = heap[0], last = heap[--*n];                                                             \
        const int32_t size = *n;                                                                               \
        int32_t i = 0;                                                                                         \
        for (;;) {                                                                                             \
            int32_t c = 2 * i + 1;                                                                             \
            if (c >= size)                                                                                     \
                break;                                                                                         \
            if (c + 1 < size && BEFORE(&heap[c + 1], &heap[c]))                                                \
                c++;                                                                                           \
            if (!BEFORE(&heap[c], &last))                                                                      \
                break;                                                                                         \
            heap[i] = heap[c];                                                                                 \
            i = c;                                                                                             \
        }                                                                                                      \
        if (size > 0)                                                                                          \
            heap[i] = last;                                                                                    \
        return top;                                                                                            \
    }

#endif
