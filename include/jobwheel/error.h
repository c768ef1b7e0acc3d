/* error: the one error shape every layer passes up — an HTTP status, the
 * offending field (or ""), and a message fit for the API response. */
#ifndef JOBWHEEL_ERROR_H
#define JOBWHEEL_ERROR_H

#include <stdarg.h>
#include <stdio.h>

struct jw_error {
    int status;     /* 400, 401, 403, 404, 409, 413, 503, … */
    char field[96]; /* "endpoint_url", "rate_limit_keys[2].max", or "" */
    char detail[320];
    char ref[64]; /* what a conflict is with (an existing run's id), or "" */
    /* a 429: the quota passed (or ""), its limit and the use it met */
    char quota[24];
    long long limit, used;
    int retry_after_s; /* > 0: the answer says Retry-After */
};

/* Fill e and return -1, so validators can `return jw_fail(e, …)`. */
int jw_fail(struct jw_error *e, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int jw_failv(struct jw_error *e, int status, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

#endif
