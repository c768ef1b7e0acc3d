/* http: the evhttp server — limits, connection cap, request context,
 * routing, replies (JSON and problem+json) and the access log. The only
 * module (with exec's HTTP client) that includes evhttp. */
#ifndef JOBWHEEL_HTTP_H
#define JOBWHEEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobwheel/buf.h"
#include "jobwheel/error.h"
#include "jobwheel/router.h"

struct event_base;
struct jw_http;
struct jw_req;

/* Called for each routed request; must lead to exactly one jw_reply_*(). */
typedef void (*jw_http_dispatch_fn)(struct jw_req *req, const void *route_data, void *arg);

struct jw_http_options {
    const char *listen; /* "host:port" or "unix:/path" */
    int64_t max_body_bytes;
    int64_t max_header_bytes;
    int64_t max_connections; /* open client connections, counted from accept */
    int64_t timeout_secs;    /* a request must arrive whole within it of its first byte, an
                              * answer be taken within it; an idle connection closes after it */
};

/* Bind and serve. Returns NULL with a message in err. */
struct jw_http *jw_http_start(struct event_base *base, const struct jw_http_options *opt,
                              struct jw_router *router, jw_http_dispatch_fn dispatch, void *arg, char *err,
                              size_t errlen);
/* "127.0.0.1:8080" (actual port when 0 was asked) or "unix:/path". */
const char *jw_http_address(const struct jw_http *h);
/* Stop accepting new connections (shutdown, first step). */
void jw_http_stop_accepting(struct jw_http *h);
/* Requests received and not yet answered. */
size_t jw_http_inflight(const struct jw_http *h);
/* Answers given but not yet fully written to their clients (each is cut
 * at the answer's deadline, timeout_secs after it was given). */
size_t jw_http_sending(const struct jw_http *h);
void jw_http_free(struct jw_http *h);

/* ---- the request -------------------------------------------------------- */

enum jw_method jw_req_method(const struct jw_req *r);
const char *jw_req_path(const struct jw_req *r);                     /* raw path, no query */
const char *jw_req_param(const struct jw_req *r, const char *name);  /* path parameter */
const char *jw_req_query(const struct jw_req *r, const char *name);  /* decoded, or NULL */
const char *jw_req_header(const struct jw_req *r, const char *name); /* or NULL */
/* The body; len may be 0. Valid until the reply. */
const char *jw_req_body(struct jw_req *r, size_t *len);
const char *jw_req_id(const struct jw_req *r);

/* What the access log shows; set by the auth layer. Copied. */
void jw_req_set_tenant(struct jw_req *r, const char *tenant);
void jw_req_set_principal(struct jw_req *r, const char *label);

/* Per-request state of the layer above: freed with free_fn after the reply. */
void jw_req_set_data(struct jw_req *r, void *data, void (*free_fn)(void *));

/* ---- replies: exactly one per request; the request is gone afterwards --- */

void jw_req_add_header(struct jw_req *r, const char *name, const char *value);
/* body is copied */
void jw_reply(struct jw_req *r, int status, const char *content_type, const char *body, size_t len);
/* takes the buffer's contents (b is left empty) */
void jw_reply_json_buf(struct jw_req *r, int status, struct jw_buf *b);
void jw_reply_json(struct jw_req *r, int status, const char *json, size_t len);
void jw_reply_empty(struct jw_req *r, int status);
/* application/problem+json: type, title, status, detail, instance, errors{field:[detail]} */
void jw_reply_problem(struct jw_req *r, const struct jw_error *e);
void jw_reply_problemf(struct jw_req *r, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Retry-After from e->retry_after_s, when it has one (a 429). */
void jw_reply_retry_after(struct jw_req *r, const struct jw_error *e);
/* The problem document alone (for surfaces that wrap it differently). */
void jw_problem_json(struct jw_buf *out, const struct jw_error *e, const char *instance);

const char *jw_http_reason(int status);

#endif
