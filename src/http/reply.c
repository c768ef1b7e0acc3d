/* reply: the one way out of a request — send, log one line, free. */
#include <event2/buffer.h>
#include <event2/event.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "http_internal.h"
#include "jobwheel/json.h"
#include "jobwheel/log.h"
#include "jobwheel/metrics.h"
#include "jobwheel/time.h"

static struct {
    jw_metric requests, duration, conns;
} M;

static double conns_now(void *arg) { return (double)jw_http_open_conns(arg); }

void jw_http_metrics_register(struct jw_http *h)
{
    static const char *const classes[] = {"code=\"2xx\"", "code=\"3xx\"", "code=\"4xx\"", "code=\"5xx\""};
    M.requests = jw_metrics_counter("jobwheel_http_requests", "Requests answered, by status class", classes, 4);
    M.duration = jw_metrics_histogram("jobwheel_http_request_duration_seconds",
                                      "From a request read to its answer given", NULL, 0);
    M.conns = jw_metrics_gauge("jobwheel_http_connections", "Client connections open", conns_now, h);
}

const char *jw_http_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    }
    return "Error";
}

static const char *problem_type(int status)
{
    switch (status) {
    case 400: return "https://tools.ietf.org/html/rfc9110#section-15.5.1";
    case 401: return "https://tools.ietf.org/html/rfc9110#section-15.5.2";
    case 403: return "https://tools.ietf.org/html/rfc9110#section-15.5.4";
    case 404: return "https://tools.ietf.org/html/rfc9110#section-15.5.5";
    case 405: return "https://tools.ietf.org/html/rfc9110#section-15.5.6";
    case 409: return "https://tools.ietf.org/html/rfc9110#section-15.5.10";
    case 413: return "https://tools.ietf.org/html/rfc9110#section-15.5.14";
    case 415: return "https://tools.ietf.org/html/rfc9110#section-15.5.16";
    case 422: return "https://tools.ietf.org/html/rfc9110#section-15.5.21";
    case 429: return "https://tools.ietf.org/html/rfc6585#section-4";
    case 500: return "https://tools.ietf.org/html/rfc9110#section-15.6.1";
    case 503: return "https://tools.ietf.org/html/rfc9110#section-15.6.4";
    }
    return "about:blank";
}

void jw_req_add_header(struct jw_req *r, const char *name, const char *value)
{
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), name, value);
}

static void free_cleanup(const void *data, size_t len, void *arg)
{
    (void)data;
    (void)len;
    free(arg);
}

/* Send with body (owned: freed by evbuffer when sent), log, free r. */
static void finish(struct jw_req *r, int status, const char *content_type, char *owned, size_t len)
{
    struct evkeyvalq *oh = evhttp_request_get_output_headers(r->ev);
    if (content_type)
        evhttp_add_header(oh, "Content-Type", content_type);
    evhttp_add_header(oh, "X-Request-Id", r->id);
    evhttp_add_header(oh, "Cache-Control", "no-store");
    evhttp_add_header(oh, "X-Content-Type-Options", "nosniff");
    struct evbuffer *out = evhttp_request_get_output_buffer(r->ev);
    if (owned && len) {
        if (evbuffer_add_reference(out, owned, len, free_cleanup, owned) != 0)
            free(owned);
    } else {
        free(owned);
    }
    /* counted until written out, so shutdown does not cut answers off */
    jw_http_conn_answered(r);
    evhttp_send_reply(r->ev, status, jw_http_reason(status), NULL);

    int64_t took_us = jw_time_mono_us() - r->start_us;
    jw_metrics_add(M.requests, status >= 200 && status < 600 ? (size_t)(status / 100 - 2) : 3, 1);
    jw_metrics_observe(M.duration, 0, (double)took_us / 1e6);
    struct jw_log_request line = {
        .method = jw_method_name(r->method),
        .path = r->path,
        .status = status,
        .duration_us = took_us,
        .tenant = r->tenant[0] ? r->tenant : NULL,
        .request_id = r->id,
        .principal = r->principal[0] ? r->principal : NULL,
    };
    jw_log_request(&line); /* written at the end of the turn (see on_log_held) */

    r->srv->inflight--;
    if (r->data_free)
        r->data_free(r->data);
    jw_route_match_free(&r->match);
    evhttp_clear_headers(&r->query);
    free(r->path);
    free(r);
}

void jw_reply(struct jw_req *r, int status, const char *content_type, const char *body, size_t len)
{
    finish(r, status, content_type, len ? jw_strndup(body, len) : NULL, len);
}

void jw_reply_json_buf(struct jw_req *r, int status, struct jw_buf *b)
{
    size_t len = b->len;
    finish(r, status, "application/json", jw_buf_detach(b), len);
}

void jw_reply_json(struct jw_req *r, int status, const char *json, size_t len)
{
    jw_reply(r, status, "application/json", json, len);
}

void jw_reply_empty(struct jw_req *r, int status)
{
    finish(r, status, NULL, NULL, 0);
}

void jw_problem_json(struct jw_buf *out, const struct jw_error *e, const char *instance)
{
    struct jw_jsonw w;
    jw_jsonw_init(&w, out);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "type", problem_type(e->status));
    jw_jsonw_kstr(&w, "title", jw_http_reason(e->status));
    jw_jsonw_kint(&w, "status", e->status);
    if (e->nmore > 0) {
        char detail[sizeof(e->detail) + 64];
        snprintf(detail, sizeof(detail), "%s (and %d more: see errors)", e->detail, e->nmore);
        jw_jsonw_kstr(&w, "detail", detail);
    } else {
        jw_jsonw_kstr(&w, "detail", e->detail);
    }
    jw_jsonw_kstr(&w, "instance", instance);
    if (e->field[0]) { /* each field with what is wrong with it */
        jw_jsonw_key(&w, "errors");
        jw_jsonw_obj_open(&w);
        for (int i = -1; i < e->nmore; i++) {
            jw_jsonw_key(&w, i < 0 ? e->field : e->more[i].field);
            jw_jsonw_arr_open(&w);
            jw_jsonw_str(&w, i < 0 ? e->detail : e->more[i].detail);
            jw_jsonw_arr_close(&w);
        }
        jw_jsonw_obj_close(&w);
    }
    if (e->status == 409 && e->ref[0])
        jw_jsonw_kstr(&w, "existing_run_id", e->ref);
    if (e->quota[0]) { /* which quota, its limit and what the tenant uses */
        jw_jsonw_kstr(&w, "quota", e->quota);
        jw_jsonw_kint(&w, "limit", e->limit);
        jw_jsonw_kint(&w, "used", e->used);
    }
    jw_jsonw_obj_close(&w);
}

void jw_reply_retry_after(struct jw_req *r, const struct jw_error *e)
{
    if (e->retry_after_s <= 0)
        return;
    char v[16];
    snprintf(v, sizeof(v), "%d", e->retry_after_s);
    jw_req_add_header(r, "Retry-After", v);
}

void jw_reply_problem(struct jw_req *r, const struct jw_error *e)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_problem_json(&b, e, r->path);
    if (e->status == 401)
        jw_req_add_header(r, "WWW-Authenticate", "Bearer");
    jw_reply_retry_after(r, e);
    size_t len = b.len;
    finish(r, e->status, "application/problem+json", jw_buf_detach(&b), len);
}

void jw_reply_problemf(struct jw_req *r, int status, const char *field, const char *fmt, ...)
{
    struct jw_error e;
    va_list ap;
    va_start(ap, fmt);
    jw_failv(&e, status, field, fmt, ap);
    va_end(ap);
    jw_reply_problem(r, &e);
}
