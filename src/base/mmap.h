/* Read-only file mappings. */
#ifndef CRIA_BASE_MMAP_H
#define CRIA_BASE_MMAP_H

#include <stddef.h>

#include "cria.h"

/*
 * Maps the whole file read-only. An empty file is an error (it holds no
 * model). On success *data and *size describe the mapping; release it with
 * cria_unmap_file.
 */
cria_status cria_map_file(const char *path, const void **data, size_t *size, cria_error *err);

void cria_unmap_file(const void *data, size_t size);

#endif
