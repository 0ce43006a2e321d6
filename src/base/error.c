#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>

const char *cria_status_str(cria_status s)
{
    switch (s) {
    case CRIA_OK: return "ok";
    case CRIA_ERR_IO: return "i/o error";
    case CRIA_ERR_FORMAT: return "malformed input";
    case CRIA_ERR_UNSUPPORTED: return "unsupported";
    case CRIA_ERR_NOMEM: return "out of memory";
    case CRIA_ERR_ARG: return "invalid argument";
    case CRIA_ERR_CONTEXT: return "context full";
    case CRIA_ERR_BUSY: return "busy";
    }
    return "unknown status";
}

cria_status cria_err_set(cria_error *err, cria_status status, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void cria_err_clear(cria_error *err)
{
    if (err) {
        err->status = CRIA_OK;
        err->msg[0] = '\0';
    }
}
