/* error: the one error shape every layer passes up — an HTTP status, the
 * offending field (or ""), and a message fit for the API response. */
#ifndef JOBWHEEL_ERROR_H
#define JOBWHEEL_ERROR_H

#include <stdarg.h>
#include <stdbool.h>
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
    /* Other fields found wrong in the same request (a 400 reports every
     * bad field at once): jw_fail empties it, jw_error_also fills it. */
    int nmore;
    struct jw_field_error {
        char field[96];
        char detail[200];
    } more[7];
};

/* Fill e and return -1, so validators can `return jw_fail(e, …)`. */
int jw_fail(struct jw_error *e, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int jw_failv(struct jw_error *e, int status, const char *field, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Add from's field errors to e, when both are the same status and e does
 * not name that field yet; what does not fit is dropped. */
void jw_error_also(struct jw_error *e, const struct jw_error *from);

/* Several checks reported together: each check writes into
 * jw_checks_into(c) (err itself until one fails, a scratch error after)
 * and calls jw_checks_failed(c) when it fails, which adds that check's
 * fields to err. bad says whether any failed. */
struct jw_checks {
    struct jw_error *err, one;
    bool bad;
};
struct jw_error *jw_checks_into(struct jw_checks *c);
void jw_checks_failed(struct jw_checks *c);

#endif
