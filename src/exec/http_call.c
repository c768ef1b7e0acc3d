/* http_call: the outgoing HTTP(S) client for dispatch — resolve, guard,
 * pool, TLS, deadline, timings (see include/jobwheel/http_client.h). */
#include "jobwheel/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobwheel/buf.h"
#include "jobwheel/log.h"
#include "jobwheel/map.h"
#include "jobwheel/net.h"
#include "jobwheel/time.h"

#define MAX_CONNS_PER_TARGET 256

struct pool;

/* One connection to a target, reused for sequential requests. */
struct conn {
    struct evhttp_connection *evcon;
    struct pool *pool;
    struct jw_http_call *call; /* the call on it now, or NULL */
    bool busy;
    bool dead; /* closed: never used again, freed from the loop */
};

/* Whose calls these are: a tenant, or "" for jobwheel's own. Connections
 * are pooled per owner and target, so one tenant's hanging calls never hold
 * the connections another tenant's calls to the same host would use; and
 * an owner's answers may hold at most half of the budget for all answers in
 * flight, so one tenant's slow, large answers cannot use it all. Made with
 * an owner's first call, freed with its last. */
struct owner {
    char id[40];
    size_t held;  /* answer bytes its calls in flight hold */
    size_t calls; /* its calls not yet freed */
};

/* The connections of one owner to one target: scheme, address, port and
 * host name. */
struct pool {
    struct jw_http_client *cl;
    char key[440];
    bool https;
    char ip[64];
    int port;
    char host[256];
    struct conn **conns;
    size_t n, cap;
    struct jw_http_call *waiting_head, *waiting_tail; /* calls for a free connection */
};

struct jw_http_client {
    struct event_base *base;
    struct evdns_base *dns;
    SSL_CTX *ssl;
    bool allow_private;
    size_t max_response;
    size_t max_header_bytes, max_headers; /* per answer */
    size_t max_held; /* answer bytes all calls may hold together */
    size_t held;     /* answer bytes the calls in flight hold now */
    struct jw_map *owners;
    struct jw_map *pools;
    size_t owed; /* ended calls evdns or a deferred step still holds */
};

struct jw_http_call {
    struct jw_http_client *client;
    struct owner *owner;
    jw_http_response_fn fn;
    void *arg;
    struct jw_url url;
    char *method;
    struct jw_http_header *headers;
    size_t nheaders;
    char *body;
    size_t body_len;
    int64_t timeout_ms;
    int64_t t0, t_dns, t_connect, t_headers; /* µs, monotonic */
    struct event *timer;
    struct event *connect_ev;
    struct evdns_getaddrinfo_request *dnsreq;
    struct evhttp_request *ev;
    struct conn *conn;
    struct pool *pool;
    struct jw_http_call *next_waiting;
    bool fresh_conn;
    bool done;
    bool zombie;             /* abandoned while evdns still owes it a (cancel) callback */
    bool starting;           /* inside jw_http_call_start: answers must wait for the loop */
    bool resolving_later;    /* a deferred continuation holds it: it frees a cancelled call */
    bool owed;               /* ended, counted in client->owed until that holder lets go */
    char *resolved_ip;       /* what a synchronous resolution found… */
    const char *resolve_err; /* …or why it failed */
    enum evhttp_request_error error_kind;
    bool had_error;
    /* the answer as it arrives (see watch_input) */
    size_t got;              /* bytes received, counted in client->held */
    size_t hdr_bytes;        /* bytes of header block(s) seen */
    size_t hdr_lines;        /* header lines seen (not status lines, not blank) */
    size_t line_len;         /* bytes of the line being scanned */
    char last;               /* its last byte */
    bool status_next;        /* the next line is a status line */
    bool in_body;            /* past the blank line: no more scanning */
    const char *limit_err;   /* the bound the answer broke, or NULL */
    struct event *limit_ev;  /* fails the call from the loop once a bound broke */
    /* the answer, copied out of evhttp */
    int status;
    char *rbody;
    size_t rbody_len;
    char *retry_after;
};

/* ---- delivery ------------------------------------------------------------- */

static void call_free(struct jw_http_call *c)
{
    c->client->held -= c->got;
    c->owner->held -= c->got;
    if (--c->owner->calls == 0) {
        jw_map_del(c->client->owners, c->owner->id);
        free(c->owner);
    }
    if (c->timer)
        event_free(c->timer);
    if (c->connect_ev)
        event_free(c->connect_ev);
    if (c->limit_ev)
        event_free(c->limit_ev);
    for (size_t i = 0; i < c->nheaders; i++) {
        free((char *)c->headers[i].name);
        free((char *)c->headers[i].value);
    }
    free(c->headers);
    free(c->method);
    free(c->body);
    free(c->rbody);
    free(c->retry_after);
    free(c->resolved_ip);
    free(c);
}

/* An ended call: freed now, or once evdns / the deferred step holding it
 * lets go (counted meanwhile, so the client can wait for them). */
static void release(struct jw_http_call *c)
{
    if (c->zombie || c->resolving_later) {
        c->owed = true;
        c->client->owed++;
    } else {
        call_free(c);
    }
}

/* The holder let go of an ended call. */
static void settle(struct jw_http_call *c)
{
    if (c->owed)
        c->client->owed--;
    call_free(c);
}

static int64_t ms_between(int64_t a_us, int64_t b_us)
{
    return a_us && b_us && b_us >= a_us ? (b_us - a_us + 500) / 1000 : 0;
}

/* Tell the caller, once, and forget the call. */
static void deliver(struct jw_http_call *c, const char *error, bool timed_out)
{
    if (c->done)
        return;
    c->done = true;
    int64_t now = jw_time_mono_us();
    struct jw_http_response r = {
        .status = error ? 0 : c->status,
        .timed_out = timed_out,
        .error = error,
        .body = c->rbody ? c->rbody : "",
        .body_len = c->rbody_len,
        .retry_after = c->retry_after,
        .dns_ms = ms_between(c->t0, c->t_dns),
        .connect_ms = c->fresh_conn ? ms_between(c->t_dns ? c->t_dns : c->t0, c->t_connect) : 0,
        .ttfb_ms = ms_between(c->t_connect ? c->t_connect : (c->t_dns ? c->t_dns : c->t0), c->t_headers),
        .transfer_ms = ms_between(c->t_headers, now),
        .total_ms = ms_between(c->t0, now),
    };
    c->fn(c->arg, &r);
    release(c);
}

static void on_later(evutil_socket_t fd, short what, void *arg);

/* Continue from the loop: connect to resolved_ip, or answer resolve_err. */
static void later(struct jw_http_call *c)
{
    c->resolving_later = true;
    struct timeval now = {0, 0};
    if (event_base_once(c->client->base, -1, EV_TIMEOUT, on_later, c, &now) != 0)
        abort();
}

/* An error found before anything went out: answer from the loop. */
static void fail_later(struct jw_http_call *c, const char *error)
{
    free(c->resolved_ip);
    c->resolved_ip = NULL;
    c->resolve_err = error;
    later(c);
}

/* ---- connections ------------------------------------------------------------ */

static void watch_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

static void free_conn_now(struct conn *k)
{
    evbuffer_remove_cb(bufferevent_get_input(evhttp_connection_get_bufferevent(k->evcon)), watch_input, k);
    evhttp_connection_set_closecb(k->evcon, NULL, NULL); /* freeing calls it */
    evhttp_connection_free(k->evcon);
    free(k);
}

static void on_free_conn(evutil_socket_t fd, short what, void *arg)
{
    free_conn_now(arg);
}

static void drop_conn(struct conn *k)
{
    if (k->dead)
        return;
    k->dead = true;
    struct pool *p = k->pool;
    for (size_t i = 0; i < p->n; i++)
        if (p->conns[i] == k) {
            p->conns[i] = p->conns[--p->n];
            break;
        }
    /* evhttp may be inside this connection's callbacks: free from the loop */
    struct timeval now = {0, 0};
    if (event_base_once(p->cl->base, -1, EV_TIMEOUT, on_free_conn, k, &now) != 0)
        abort();
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct conn *k = arg;
    if (!k->busy)
        drop_conn(k);
    else
        k->dead = true; /* after its call ends */
}

static struct conn *new_conn(struct jw_http_client *cl, struct pool *p)
{
    struct bufferevent *bev;
    if (p->https) {
        SSL *ssl = SSL_new(cl->ssl);
        if (!ssl)
            return NULL;
        struct sockaddr_storage ss;
        bool host_is_ip = jw_net_parse_ip(p->host, &ss) == 0;
        if (!host_is_ip)
            SSL_set_tlsext_host_name(ssl, p->host);
        X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (host_is_ip ? X509_VERIFY_PARAM_set1_ip_asc(param, p->host) != 1
                       : X509_VERIFY_PARAM_set1_host(param, p->host, 0) != 1) {
            SSL_free(ssl);
            return NULL;
        }
        SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        bev = bufferevent_openssl_socket_new(cl->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev)
            return NULL;
        bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    } else {
        bev = bufferevent_socket_new(cl->base, -1, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev)
            return NULL;
    }
    struct evhttp_connection *evcon =
        evhttp_connection_base_bufferevent_new(cl->base, NULL, bev, p->ip, (ev_uint16_t)p->port);
    if (!evcon) {
        bufferevent_free(bev);
        return NULL;
    }
    struct conn *k = jw_calloc(1, sizeof(*k));
    k->evcon = evcon;
    k->pool = p;
    /* sees every byte of an answer before evhttp does (watch_input) */
    if (evbuffer_add_cb(bufferevent_get_input(bev), watch_input, k) == NULL) {
        evhttp_connection_free(evcon);
        free(k);
        return NULL;
    }
    evhttp_connection_set_retries(evcon, 0);
    evhttp_connection_set_closecb(evcon, on_conn_close, k);
    if (p->n == p->cap) {
        p->cap = p->cap ? p->cap * 2 : 4;
        p->conns = jw_realloc(p->conns, p->cap * sizeof(*p->conns));
    }
    p->conns[p->n++] = k;
    return k;
}

/* ---- bounding the answer ---------------------------------------------------------- */

/* Every byte an endpoint sends lands in its connection's input buffer before
 * evhttp parses it (even while evhttp is still writing the request and not
 * parsing at all); watch_input sees it there first. It counts the bytes
 * against the client's budget for all calls in flight, and scans the header
 * block (and any 100 Continue blocks before it) for its size and line count,
 * so a bound breaks before evhttp has stored what broke it: evhttp's own
 * parser keeps no count of header lines, and by default no limit on a
 * response's header size. watch_input runs inside evhttp's read path, so it
 * only marks the call (trip): evhttp's limits drop to 0, which makes its
 * parser fail at the next byte, and the call is failed from the loop
 * (on_limit) in case evhttp is not parsing. The bytes a call received stay
 * counted until the call is freed; the header lines a call may hold are
 * bounded by max_headers, the body by max_response. */

#define ERR_HEADER_BYTES "the answer's headers were larger than allowed (max_response_header_bytes)"
#define ERR_HEADER_LINES "the answer had more header lines than allowed (max_response_headers)"
#define ERR_BUDGET                                                                                           \
    "the answers of the calls in flight already hold all the memory allowed for them "                       \
    "(max_inflight_response_bytes)"
#define ERR_BUDGET_OWNER                                                                                     \
    "the answers of this tenant's calls in flight already hold half of the memory allowed for all "          \
    "answers (max_inflight_response_bytes)"

static void unwind(struct jw_http_call *c);

static void on_limit(evutil_socket_t fd, short what, void *arg)
{
    struct jw_http_call *c = arg;
    if (c->done)
        return;
    unwind(c);
    deliver(c, c->limit_err, false);
}

static void trip(struct jw_http_call *c, struct conn *k, const char *why)
{
    if (c->limit_err)
        return;
    c->limit_err = why;
    evhttp_connection_set_max_headers_size(k->evcon, 0);
    evhttp_connection_set_max_body_size(k->evcon, 0);
    c->limit_ev = evtimer_new(c->client->base, on_limit, c);
    if (!c->limit_ev)
        abort();
    event_active(c->limit_ev, EV_TIMEOUT, 0);
}

static bool headers_too_big(const struct jw_http_call *c)
{
    return c->hdr_bytes > c->client->max_header_bytes || c->hdr_lines > c->client->max_headers;
}

/* Scan header bytes: status line, header lines, the blank line that ends
 * the block (then stop). Lines end in LF, with or without CR, as evhttp
 * reads them. */
static void scan_bytes(struct jw_http_call *c, const char *p, size_t n)
{
    for (size_t i = 0; i < n && !c->in_body; i++) {
        c->hdr_bytes++;
        if (p[i] != '\n') {
            c->line_len++;
            c->last = p[i];
            continue;
        }
        bool blank = c->line_len == 0 || (c->line_len == 1 && c->last == '\r');
        if (c->status_next)
            c->status_next = false;
        else if (blank)
            c->in_body = true;
        else
            c->hdr_lines++;
        c->line_len = 0;
        if (headers_too_big(c))
            return;
    }
}

/* Scan buf from offset `from` to its end. */
static void scan_buffer(struct jw_http_call *c, struct evbuffer *buf, size_t from)
{
    struct evbuffer_ptr pos;
    size_t len = evbuffer_get_length(buf);
    if (from >= len || evbuffer_ptr_set(buf, &pos, from, EVBUFFER_PTR_SET) != 0)
        return;
    size_t left = len - from;
    while (left > 0 && !c->in_body && !headers_too_big(c)) {
        struct evbuffer_iovec v[8];
        int nv = evbuffer_peek(buf, (ev_ssize_t)left, &pos, v, 8);
        size_t seen = 0;
        for (int i = 0; i < nv && i < 8 && seen < left; i++) {
            size_t m = v[i].iov_len < left - seen ? v[i].iov_len : left - seen;
            scan_bytes(c, v[i].iov_base, m);
            seen += m;
            if (c->in_body || headers_too_big(c))
                return;
        }
        if (seen == 0 || evbuffer_ptr_set(buf, &pos, seen, EVBUFFER_PTR_ADD) != 0)
            return;
        left -= seen;
    }
}

static void watch_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct conn *k = arg;
    struct jw_http_call *c = k->call;
    if (!c || info->n_added == 0)
        return;
    struct jw_http_client *cl = c->client;
    c->got += info->n_added;
    cl->held += info->n_added;
    c->owner->held += info->n_added;
    if (c->limit_err)
        return;
    if (cl->held > cl->max_held) {
        trip(c, k, ERR_BUDGET);
        return;
    }
    if (c->owner->id[0] && c->owner->held > cl->max_held / 2) {
        trip(c, k, ERR_BUDGET_OWNER);
        return;
    }
    if (c->in_body)
        return;
    size_t len = evbuffer_get_length(buf);
    scan_buffer(c, buf, len > info->n_added ? len - info->n_added : 0);
    if (headers_too_big(c))
        trip(c, k, c->hdr_bytes > cl->max_header_bytes ? ERR_HEADER_BYTES : ERR_HEADER_LINES);
}

/* ---- the request ---------------------------------------------------------------- */

static void send_on(struct jw_http_call *c, struct conn *k);
static void release_conn(struct conn *k);
static void unlink_waiting(struct pool *p, struct jw_http_call *c);

static const char *error_text(enum evhttp_request_error e)
{
    switch (e) {
    case EVREQ_HTTP_TIMEOUT: return "the connection timed out";
    case EVREQ_HTTP_EOF: return "the connection closed before an answer";
    case EVREQ_HTTP_INVALID_HEADER: return "the answer was not valid HTTP";
    case EVREQ_HTTP_BUFFER_ERROR: return "the connection failed";
    case EVREQ_HTTP_REQUEST_CANCEL: return "the request was cancelled";
    case EVREQ_HTTP_DATA_TOO_LONG: return "the answer was larger than allowed";
    }
    return "the request failed";
}

static void on_error(enum evhttp_request_error e, void *arg)
{
    struct jw_http_call *c = arg;
    c->had_error = true;
    c->error_kind = e;
}

static int on_headers(struct evhttp_request *req, void *arg)
{
    struct jw_http_call *c = arg;
    if (c->limit_err)
        return -1; /* evhttp fails the call now */
    if (evhttp_request_get_response_code(req) == 100 && c->conn) {
        /* evhttp reads on for the final answer: its header block counts too,
         * and what of it already arrived was not scanned yet */
        struct conn *k = c->conn;
        c->in_body = false;
        c->status_next = true;
        c->line_len = 0;
        scan_buffer(c, bufferevent_get_input(evhttp_connection_get_bufferevent(k->evcon)), 0);
        if (headers_too_big(c)) {
            trip(c, k, c->hdr_bytes > c->client->max_header_bytes ? ERR_HEADER_BYTES : ERR_HEADER_LINES);
            return -1;
        }
        return 0;
    }
    c->t_headers = jw_time_mono_us();
    if (!c->t_connect)
        c->t_connect = c->t_headers;
    return 0;
}

static void on_connected(evutil_socket_t fd, short what, void *arg)
{
    struct jw_http_call *c = arg;
    if (!c->t_connect)
        c->t_connect = jw_time_mono_us();
}

static void on_done(struct evhttp_request *req, void *arg)
{
    struct jw_http_call *c = arg;
    c->ev = NULL; /* evhttp frees it after this returns */
    struct conn *k = c->conn;
    c->conn = NULL;
    if (k)
        k->call = NULL;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (c->limit_err) {
        if (k)
            release_conn(k);
        deliver(c, c->limit_err, false);
        return;
    }
    if (code > 0 && !c->had_error) {
        c->status = code;
        struct evbuffer *in = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(in);
        c->rbody = jw_malloc(n + 1);
        if (n)
            evbuffer_remove(in, c->rbody, n);
        c->rbody[n] = '\0';
        c->rbody_len = n;
        const char *ra = evhttp_find_header(evhttp_request_get_input_headers(req), "Retry-After");
        if (ra)
            c->retry_after = jw_strdup(ra);
    }
    if (k)
        release_conn(k);
    if (code > 0 && !c->had_error)
        deliver(c, NULL, false);
    else
        deliver(c, c->had_error ? error_text(c->error_kind) : "no answer", false);
}

/* Stop whatever the call is doing (resolving, waiting, sending). */
static void unwind(struct jw_http_call *c)
{
    event_del(c->timer);
    if (c->dnsreq) {
        /* evdns answers the cancel later, with EVUTIL_EAI_CANCEL */
        evdns_getaddrinfo_cancel(c->dnsreq);
        c->dnsreq = NULL;
        c->zombie = true;
    }
    struct conn *k = c->conn;
    if (k) { /* idle before the cancel, so that its close callback drops it */
        c->conn = NULL;
        k->call = NULL;
        k->busy = false;
    }
    if (c->ev) {
        evhttp_cancel_request(c->ev); /* frees it; on_done is not called */
        c->ev = NULL;
    }
    if (k)
        drop_conn(k); /* its state is unknown after a cancel */
    if (c->pool) {
        unlink_waiting(c->pool, c);
        c->pool = NULL;
    }
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct jw_http_call *c = arg;
    char msg[96];
    snprintf(msg, sizeof(msg), "no answer within %lld ms", (long long)c->timeout_ms);
    unwind(c);
    deliver(c, msg, true);
}

static enum evhttp_cmd_type method_of(const char *m)
{
    if (!strcasecmp(m, "GET"))
        return EVHTTP_REQ_GET;
    if (!strcasecmp(m, "PUT"))
        return EVHTTP_REQ_PUT;
    if (!strcasecmp(m, "PATCH"))
        return EVHTTP_REQ_PATCH;
    if (!strcasecmp(m, "DELETE"))
        return EVHTTP_REQ_DELETE;
    return EVHTTP_REQ_POST;
}

static void send_on(struct jw_http_call *c, struct conn *k)
{
    struct jw_http_client *cl = c->client;
    c->pool = NULL;
    c->conn = k;
    k->busy = true;
    k->call = c;
    c->status_next = true;
    evhttp_connection_set_max_headers_size(k->evcon, (ev_ssize_t)cl->max_header_bytes);
    evhttp_connection_set_max_body_size(k->evcon, (ev_ssize_t)cl->max_response);
    struct evhttp_request *req = evhttp_request_new(on_done, c);
    if (!req) {
        k->call = NULL;
        release_conn(k);
        c->conn = NULL;
        fail_later(c, "out of memory");
        return;
    }
    evhttp_request_set_header_cb(req, on_headers);
    evhttp_request_set_error_cb(req, on_error);
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    char host[300];
    bool default_port = (c->url.https && c->url.port == 443) || (!c->url.https && c->url.port == 80);
    bool v6 = strchr(c->url.host, ':') != NULL;
    if (default_port)
        snprintf(host, sizeof(host), v6 ? "[%s]" : "%s", c->url.host);
    else
        snprintf(host, sizeof(host), v6 ? "[%s]:%d" : "%s:%d", c->url.host, c->url.port);
    evhttp_add_header(h, "Host", host);
    for (size_t i = 0; i < c->nheaders; i++)
        evhttp_add_header(h, c->headers[i].name, c->headers[i].value);
    if (c->body_len)
        evbuffer_add(evhttp_request_get_output_buffer(req), c->body, c->body_len);
    c->ev = req;
    if (evhttp_make_request(k->evcon, req, method_of(c->method), c->url.path) != 0) {
        c->ev = NULL; /* evhttp freed it */
        c->conn = NULL;
        k->call = NULL;
        k->busy = false;
        drop_conn(k);
        fail_later(c, "cannot send the request");
        return;
    }
    if (c->fresh_conn) {
        int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(k->evcon));
        if (fd >= 0) {
            c->connect_ev = event_new(cl->base, fd, EV_WRITE, on_connected, c);
            if (c->connect_ev)
                event_add(c->connect_ev, NULL);
        }
    }
}

static void unlink_waiting(struct pool *p, struct jw_http_call *c)
{
    struct jw_http_call *prev = NULL;
    for (struct jw_http_call *w = p->waiting_head; w; prev = w, w = w->next_waiting)
        if (w == c) {
            if (prev)
                prev->next_waiting = w->next_waiting;
            else
                p->waiting_head = w->next_waiting;
            if (p->waiting_tail == w)
                p->waiting_tail = prev;
            return;
        }
}

/* A call is done with k: the next waiting call takes it (or a new one when
 * k closed), or it idles. */
static void release_conn(struct conn *k)
{
    struct pool *p = k->pool;
    k->busy = false;
    if (k->dead) {
        k->dead = false; /* let drop_conn do its work */
        drop_conn(k);
        k = NULL;
    }
    struct jw_http_call *w = p->waiting_head;
    if (!w)
        return;
    unlink_waiting(p, w);
    bool fresh = !k;
    if (!k)
        k = new_conn(p->cl, p);
    if (!k) {
        fail_later(w, "cannot open a connection");
        return;
    }
    w->fresh_conn = fresh;
    send_on(w, k);
}

static void connect_to(struct jw_http_call *c, const char *ip)
{
    struct jw_http_client *cl = c->client;
    char key[440];
    snprintf(key, sizeof(key), "%s|%s|%s|%d|%s", c->owner->id, c->url.https ? "https" : "http", ip, c->url.port,
             c->url.host);
    struct pool *p = jw_map_get(cl->pools, key);
    if (!p) {
        p = jw_calloc(1, sizeof(*p));
        p->cl = cl;
        snprintf(p->key, sizeof(p->key), "%s", key);
        p->https = c->url.https;
        snprintf(p->ip, sizeof(p->ip), "%s", ip);
        p->port = c->url.port;
        snprintf(p->host, sizeof(p->host), "%s", c->url.host);
        jw_map_put(cl->pools, p->key, p);
    }
    for (size_t i = 0; i < p->n; i++)
        if (!p->conns[i]->busy && !p->conns[i]->dead) {
            c->fresh_conn = false;
            send_on(c, p->conns[i]);
            return;
        }
    if (p->n < MAX_CONNS_PER_TARGET) {
        struct conn *k = new_conn(cl, p);
        if (!k) {
            fail_later(c, p->https ? "cannot set up TLS" : "cannot open a connection");
            return;
        }
        c->fresh_conn = true;
        send_on(c, k);
        return;
    }
    c->pool = p; /* every connection busy: wait for one */
    c->next_waiting = NULL;
    if (p->waiting_tail)
        p->waiting_tail->next_waiting = c;
    else
        p->waiting_head = c;
    p->waiting_tail = c;
}

static bool allowed(const struct jw_http_client *cl, const struct sockaddr *sa)
{
    return cl->allow_private || jw_net_addr_is_public(sa);
}

static void on_resolved(int result, struct evutil_addrinfo *res, void *arg)
{
    struct jw_http_call *c = arg;
    c->dnsreq = NULL;
    if (result == EVUTIL_EAI_CANCEL || c->done) {
        if (res)
            evutil_freeaddrinfo(res);
        if (c->done)
            settle(c); /* it was abandoned, and waited for this */
        return;
    }
    c->t_dns = jw_time_mono_us();
    if (result != 0 || !res) {
        if (res)
            evutil_freeaddrinfo(res);
        if (c->starting)
            c->resolve_err = "cannot resolve the host name";
        else
            deliver(c, "cannot resolve the host name", false);
        return;
    }
    char ip[INET6_ADDRSTRLEN] = "";
    bool refused = false;
    for (struct evutil_addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family != AF_INET && a->ai_family != AF_INET6)
            continue;
        if (!allowed(c->client, a->ai_addr)) {
            refused = true;
            continue;
        }
        const void *src = a->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)a->ai_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
        inet_ntop(a->ai_family, src, ip, sizeof(ip));
        break;
    }
    evutil_freeaddrinfo(res);
    const char *why = refused ? "the host resolves to a loopback, private or reserved address, which this "
                                "server does not call (allow_private_targets is off)"
                              : "the host has no usable address";
    if (c->starting) { /* evdns answered at once (hosts file): carry on from the loop */
        if (ip[0])
            c->resolved_ip = jw_strdup(ip);
        else
            c->resolve_err = why;
        return;
    }
    if (!ip[0]) {
        deliver(c, why, false);
        return;
    }
    connect_to(c, ip);
}

static void connect_to(struct jw_http_call *c, const char *ip);

static void on_later(evutil_socket_t fd, short what, void *arg)
{
    struct jw_http_call *c = arg;
    c->resolving_later = false;
    if (c->done) { /* cancelled meanwhile */
        settle(c);
        return;
    }
    if (c->resolved_ip)
        connect_to(c, c->resolved_ip);
    else
        deliver(c, c->resolve_err ? c->resolve_err : "cannot resolve the host name", false);
}

struct jw_http_call *jw_http_call_start(struct jw_http_client *cl, const struct jw_http_request *req,
                                        jw_http_response_fn fn, void *arg)
{
    struct jw_http_call *c = jw_calloc(1, sizeof(*c));
    c->client = cl;
    const char *who = req->owner ? req->owner : "";
    c->owner = jw_map_get(cl->owners, who);
    if (!c->owner) {
        c->owner = jw_calloc(1, sizeof(*c->owner));
        snprintf(c->owner->id, sizeof(c->owner->id), "%s", who);
        jw_map_put(cl->owners, c->owner->id, c->owner);
    }
    c->owner->calls++;
    c->fn = fn;
    c->arg = arg;
    c->t0 = jw_time_mono_us();
    c->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 30000;
    c->method = jw_strdup(req->method ? req->method : "POST");
    c->headers = jw_calloc(req->nheaders ? req->nheaders : 1, sizeof(*c->headers));
    for (size_t i = 0; i < req->nheaders; i++) {
        c->headers[i].name = jw_strdup(req->headers[i].name);
        c->headers[i].value = jw_strdup(req->headers[i].value);
    }
    c->nheaders = req->nheaders;
    c->body = req->body_len ? jw_strndup(req->body, req->body_len) : NULL;
    c->body_len = req->body_len;
    c->timer = evtimer_new(cl->base, on_timeout, c);
    struct timeval tv = {c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000};
    event_add(c->timer, &tv);

    char why[160];
    if (jw_url_parse(req->url, &c->url, why, sizeof(why)) != 0) {
        fail_later(c, "the URL is not valid");
        return c;
    }
    if (c->url.host_is_ip) {
        if (!allowed(cl, (const struct sockaddr *)&c->url.addr)) {
            fail_later(c, "the address is loopback, private or reserved, which this server does not call "
                          "(allow_private_targets is off)");
            return c;
        }
        char ip[INET6_ADDRSTRLEN];
        const struct sockaddr *sa = (const struct sockaddr *)&c->url.addr;
        const void *src = sa->sa_family == AF_INET
                              ? (const void *)&((const struct sockaddr_in *)sa)->sin_addr
                              : (const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
        inet_ntop(sa->sa_family, src, ip, sizeof(ip));
        connect_to(c, ip);
        return c;
    }
    struct evutil_addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    c->starting = true;
    c->dnsreq = evdns_getaddrinfo(cl->dns, c->url.host, NULL, &hints, on_resolved, c);
    c->starting = false;
    if (!c->dnsreq) /* answered at once: continue from the loop */
        later(c);
    return c;
}

void jw_http_call_cancel(struct jw_http_call *c)
{
    if (!c || c->done)
        return;
    c->done = true;
    unwind(c);
    release(c);
}

size_t jw_http_client_owed(const struct jw_http_client *cl)
{
    return cl ? cl->owed : 0;
}

/* ---- the client ------------------------------------------------------------------- */

struct jw_http_client *jw_http_client_new(struct event_base *base, const struct jw_http_client_options *o,
                                          char *err, size_t errlen)
{
    struct jw_http_client *cl = jw_calloc(1, sizeof(*cl));
    cl->base = base;
    cl->allow_private = o->allow_private;
    cl->max_response = o->max_response ? o->max_response : 1 << 20;
    cl->max_header_bytes = o->max_header_bytes ? o->max_header_bytes : 64 << 10;
    cl->max_headers = o->max_headers ? o->max_headers : 256;
    cl->max_held = o->max_inflight_bytes ? o->max_inflight_bytes : (size_t)256 << 20;
    cl->pools = jw_map_new();
    cl->owners = jw_map_new();
    cl->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    if (!cl->dns) {
        /* no resolv.conf: names from /etc/hosts still resolve */
        cl->dns = evdns_base_new(base, 0);
        if (cl->dns)
            evdns_base_load_hosts(cl->dns, NULL);
    }
    if (cl->dns) { /* a dead name server must not hold attempts for long */
        evdns_base_set_option(cl->dns, "timeout:", "2");
        evdns_base_set_option(cl->dns, "attempts:", "2");
        /* A name server is taken for down, and then probed every few
         * seconds, only after 255 timeouts in a row (the default is 3): a
         * probe still in flight when the process exits is leaked by
         * libevent 2.1 (its callback is deferred to a loop turn that never
         * comes), which AddressSanitizer reports. The cost: while one of
         * several servers is dead, a lookup that picks it first waits one
         * timeout (2 s) before asking the next, until it has timed out 255
         * times. */
        evdns_base_set_option(cl->dns, "max-timeouts:", "255");
    }
    cl->ssl = SSL_CTX_new(TLS_client_method());
    if (!cl->dns || !cl->ssl) {
        snprintf(err, errlen, "cannot set up DNS or TLS for outgoing calls");
        jw_http_client_free(cl);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(cl->ssl, TLS1_2_VERSION);
    SSL_CTX_set_default_verify_paths(cl->ssl);
    if (o->ca_file && o->ca_file[0] && SSL_CTX_load_verify_locations(cl->ssl, o->ca_file, NULL) != 1) {
        snprintf(err, errlen, "tls_ca_file: cannot load %s", o->ca_file);
        jw_http_client_free(cl);
        return NULL;
    }
    return cl;
}

static void free_pool(void *value, void *arg)
{
    struct pool *p = value;
    for (size_t i = 0; i < p->n; i++)
        free_conn_now(p->conns[i]);
    free(p->conns);
    free(p);
}

static void free_owner(void *value, void *arg)
{
    free(value);
}

void jw_http_client_free(struct jw_http_client *cl)
{
    if (!cl)
        return;
    if (cl->pools) {
        jw_map_each(cl->pools, free_pool, NULL);
        jw_map_free(cl->pools);
    }
    if (cl->dns)
        evdns_base_free(cl->dns, 1); /* (calls it still held are freed now) */
    if (cl->owners) {
        jw_map_each(cl->owners, free_owner, NULL);
        jw_map_free(cl->owners);
    }
    if (cl->ssl)
        SSL_CTX_free(cl->ssl);
    free(cl);
}
