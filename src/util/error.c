/* error: filling the shared error shape. */
#include "jobwheel/error.h"

#include <stdarg.h>
#include <string.h>

int jw_failv(struct jw_error *e, int status, const char *field, const char *fmt, va_list ap)
{
    e->status = status;
    e->ref[0] = e->quota[0] = '\0';
    e->limit = e->used = 0;
    e->retry_after_s = 0;
    snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
    vsnprintf(e->detail, sizeof(e->detail), fmt, ap);
    return -1;
}

int jw_fail(struct jw_error *e, int status, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    jw_failv(e, status, field, fmt, ap);
    va_end(ap);
    return -1;
}
