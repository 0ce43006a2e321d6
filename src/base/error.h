/* Status names and the formatted one-line error every failing call leaves behind. */
#ifndef CRIA_BASE_ERROR_H
#define CRIA_BASE_ERROR_H

#include "cria.h"

#if defined(__GNUC__)
#define CRIA_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CRIA_PRINTF(f, a)
#endif

/*
 * Writes status and the formatted message into err (if non-NULL) and returns
 * status, so callers can write `return cria_err_set(err, CRIA_ERR_IO, ...)`.
 */
cria_status cria_err_set(cria_error *err, cria_status status, const char *fmt, ...) CRIA_PRINTF(3, 4);

/* Clears err to CRIA_OK with an empty message. */
void cria_err_clear(cria_error *err);

#endif
