/* http_client: outgoing HTTP(S) for job dispatch, never blocking the loop.
 * evdns resolves the host; the SSRF guard checks the address actually
 * connected to (so DNS rebinding cannot reach a private one); the request
 * goes to that address with the original Host header, over TLS with SNI and
 * certificate + hostname verification for https. Connections are reused
 * per target; each call has a deadline; redirects are not followed (a 3xx
 * is just an answer).
 *
 * What an endpoint sends back is bounded as it arrives, before evhttp
 * parses it: the header block(s) in bytes and in lines, the body in bytes,
 * and all calls in flight together in bytes held (a call whose bytes would
 * take the client past that budget fails). A call that breaks a bound fails
 * with an error naming it, like any other failed call. */
#ifndef JOBWHEEL_HTTP_CLIENT_H
#define JOBWHEEL_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct jw_http_client;
struct jw_http_call;

struct jw_http_client_options {
    bool allow_private;  /* let calls reach loopback/private addresses */
    const char *ca_file; /* extra trusted CA (PEM), or NULL: the system's */
    size_t max_response;       /* bytes of response body at most */
    size_t max_header_bytes;   /* bytes of an answer's header block(s) at most */
    size_t max_headers;        /* header lines in an answer at most */
    size_t max_inflight_bytes; /* answer bytes all calls in flight hold together at most */
};

struct jw_http_header {
    const char *name, *value;
};

struct jw_http_request {
    const char *url;
    const char *method; /* GET POST PUT PATCH DELETE */
    const struct jw_http_header *headers;
    size_t nheaders;
    const char *body;
    size_t body_len;
    int64_t timeout_ms; /* for everything: resolve, connect, answer */
    const char *owner;  /* the tenant the call is for (NULL: jobwheel's own):
                           connections are pooled per owner, and an owner's
                           answers hold at most half of the answer budget */
};

struct jw_http_response {
    int status; /* 0 when there was no answer */
    bool timed_out;
    const char *error; /* why there was no answer (NULL otherwise) */
    const char *body;
    size_t body_len;
    const char *retry_after;                                    /* the Retry-After header, or NULL */
    int64_t dns_ms, connect_ms, ttfb_ms, transfer_ms, total_ms; /* connect 0 on a reused connection */
};

/* Called exactly once per call, from the loop (never inside jw_http_call_start),
 * unless the call is cancelled first. The response is valid during the call. */
typedef void (*jw_http_response_fn)(void *arg, const struct jw_http_response *r);

struct jw_http_client *jw_http_client_new(struct event_base *base, const struct jw_http_client_options *o,
                                          char *err, size_t errlen);
void jw_http_client_free(struct jw_http_client *c);
/* Calls ended (answered or cancelled) that evdns still owes a callback:
 * they are freed on the loop when it comes. A stopping process runs the
 * loop until this is 0, or libevent and the calls leak. */
size_t jw_http_client_owed(const struct jw_http_client *c);

struct jw_http_call *jw_http_call_start(struct jw_http_client *c, const struct jw_http_request *req,
                                        jw_http_response_fn fn, void *arg);
/* Abandon a call: fn will not be called. */
void jw_http_call_cancel(struct jw_http_call *call);

#endif
