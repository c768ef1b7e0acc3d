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
    e->nmore = 0;
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

static bool names(const struct jw_error *e, const char *field)
{
    if (!strcmp(e->field, field))
        return true;
    for (int i = 0; i < e->nmore; i++)
        if (!strcmp(e->more[i].field, field))
            return true;
    return false;
}

static void add(struct jw_error *e, const char *field, const char *detail)
{
    int max = (int)(sizeof(e->more) / sizeof(e->more[0]));
    if (e->nmore >= max || names(e, field))
        return;
    snprintf(e->more[e->nmore].field, sizeof(e->more[0].field), "%s", field);
    snprintf(e->more[e->nmore].detail, sizeof(e->more[0].detail), "%s", detail);
    e->nmore++;
}

void jw_error_also(struct jw_error *e, const struct jw_error *from)
{
    if (e->status != from->status)
        return;
    add(e, from->field, from->detail);
    for (int i = 0; i < from->nmore; i++)
        add(e, from->more[i].field, from->more[i].detail);
}

struct jw_error *jw_checks_into(struct jw_checks *c)
{
    return c->bad ? &c->one : c->err;
}

void jw_checks_failed(struct jw_checks *c)
{
    if (c->bad)
        jw_error_also(c->err, &c->one);
    c->bad = true;
}
