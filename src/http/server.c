/* server: evhttp set-up and limits, the connection cap, the request context
 * and routing. One request = one jw_req, freed by its one reply (reply.c). */
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <sys/queue.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "jobwheel/config.h"
#include "jobwheel/id.h"
#include "jobwheel/log.h"
#include "jobwheel/time.h"

/* ---- the set of open client connections (for the cap) ------------------- */
/* evhttp 2.1 has no accept hook: a connection is counted from its first
 * request until evhttp closes it; idle ones are closed by the timeout. While
 * the count is at the cap the listener is paused (new clients wait in the
 * kernel's backlog). */

static size_t ptr_hash(const void *p, size_t cap)
{
    uintptr_t x = (uintptr_t)p;
    x ^= x >> 17;
    x *= 0x9E3779B97F4A7C15ull;
    return (size_t)(x >> 7) & (cap - 1);
}

static void conns_rehash(struct jw_http *h, size_t cap);

static bool conns_insert(struct jw_http *h, void *p)
{
    if ((h->nconns + h->ntomb + 1) * 2 > h->conncap)
        conns_rehash(h, h->conncap ? (h->nconns * 4 > h->conncap ? h->conncap * 2 : h->conncap) : 64);
    size_t i = ptr_hash(p, h->conncap);
    size_t tomb = SIZE_MAX;
    while (h->conns[i]) {
        if (h->conns[i] == p)
            return false;
        if (h->conns[i] == CONN_TOMB && tomb == SIZE_MAX)
            tomb = i;
        i = (i + 1) & (h->conncap - 1);
    }
    if (tomb != SIZE_MAX) {
        i = tomb;
        h->ntomb--;
    }
    h->conns[i] = p;
    h->nconns++;
    return true;
}

static void conns_remove(struct jw_http *h, void *p)
{
    if (!h->conncap)
        return;
    size_t i = ptr_hash(p, h->conncap);
    while (h->conns[i]) {
        if (h->conns[i] == p) {
            h->conns[i] = CONN_TOMB;
            h->nconns--;
            h->ntomb++;
            return;
        }
        i = (i + 1) & (h->conncap - 1);
    }
}

static void conns_rehash(struct jw_http *h, size_t cap)
{
    void **old = h->conns;
    size_t oldcap = h->conncap;
    h->conns = jw_calloc(cap, sizeof(void *));
    h->conncap = cap;
    h->nconns = h->ntomb = 0;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i] && old[i] != CONN_TOMB)
            conns_insert(h, old[i]);
    free(old);
}

static void set_listening(struct jw_http *h, bool on)
{
    if (!h->bound || h->stopped)
        return;
    struct evconnlistener *l = evhttp_bound_socket_get_listener(h->bound);
    if (!l)
        return;
    if (on && h->paused) {
        evconnlistener_enable(l);
        h->paused = false;
    } else if (!on && !h->paused) {
        evconnlistener_disable(l);
        h->paused = true;
        jw_warn("connection cap of %zu reached: not accepting until one closes", h->max_conns);
    }
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    struct jw_http *h = arg;
    conns_remove(h, evcon);
    if (h->nconns < h->max_conns)
        set_listening(h, true);
}

/* ---- requests ------------------------------------------------------------ */

static enum jw_method map_method(enum evhttp_cmd_type c)
{
    switch (c) {
    case EVHTTP_REQ_GET: return JW_GET;
    case EVHTTP_REQ_POST: return JW_POST;
    case EVHTTP_REQ_PUT: return JW_PUT;
    case EVHTTP_REQ_PATCH: return JW_PATCH;
    case EVHTTP_REQ_DELETE: return JW_DELETE;
    case EVHTTP_REQ_HEAD: return JW_HEAD;
    case EVHTTP_REQ_OPTIONS: return JW_OPTIONS;
    default: return 0;
    }
}

static bool valid_request_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '_' || c == '.' || c == ':'))
            return false;
    }
    return true;
}

static void allow_header(struct jw_req *r, unsigned allowed)
{
    struct jw_buf b = JW_BUF_INIT;
    for (unsigned m = 1; m <= JW_OPTIONS; m <<= 1)
        if (allowed & m)
            jw_buf_printf(&b, "%s%s", b.len ? ", " : "", jw_method_name((enum jw_method)m));
    jw_req_add_header(r, "Allow", jw_buf_str(&b));
    jw_buf_free(&b);
}

static void on_request(struct evhttp_request *ev, void *arg)
{
    struct jw_http *h = arg;
    struct jw_req *r = jw_calloc(1, sizeof(*r));
    r->srv = h;
    r->ev = ev;
    r->start_us = jw_time_mono_us();
    r->method = map_method(evhttp_request_get_command(ev));
    h->inflight++;

    const char *rid = evhttp_find_header(evhttp_request_get_input_headers(ev), "x-request-id");
    if (rid && valid_request_id(rid))
        snprintf(r->id, sizeof(r->id), "%s", rid);
    else
        jw_id_new(r->id);

    const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(ev);
    const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
    r->path = jw_strdup(path && *path ? path : "/");
    const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
    TAILQ_INIT(&r->query);
    if (q && evhttp_parse_query_str(q, &r->query) != 0) {
        jw_reply_problemf(r, 400, "", "the query string is malformed");
        return;
    }

    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    if (evcon && conns_insert(h, evcon)) {
        evhttp_connection_set_closecb(evcon, on_conn_close, h);
        if (h->nconns >= h->max_conns)
            set_listening(h, false);
        if (h->nconns > h->max_conns) {
            jw_req_add_header(r, "Connection", "close");
            jw_req_add_header(r, "Retry-After", "1");
            jw_reply_problemf(r, 503, "", "too many open connections; retry shortly");
            return;
        }
    }
    if (h->stopped)
        jw_req_add_header(r, "Connection", "close");

    if (r->method == 0) {
        jw_reply_problemf(r, 405, "", "method not allowed");
        return;
    }
    int rc = jw_router_match(h->router, r->method, r->path, &r->match);
    if (rc == 404) {
        jw_reply_problemf(r, 404, "", "no such resource: %s", r->path);
        return;
    }
    if (r->method == JW_OPTIONS) {
        allow_header(r, r->match.allowed);
        jw_reply_empty(r, 204);
        return;
    }
    if (rc == 405) {
        allow_header(r, r->match.allowed);
        jw_reply_problemf(r, 405, "", "%s is not allowed on %s", jw_method_name(r->method), r->path);
        return;
    }
    h->dispatch(r, r->match.data, h->dispatch_arg);
}

/* ---- lifecycle ------------------------------------------------------------ */

static int bind_unix(const char *path, char *err, size_t errlen)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "listen: socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "listen: the unix socket path is too long");
        close(fd);
        return -1;
    }
    memcpy(sa.sun_path, path, strlen(path) + 1);
    unlink(path);
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
        snprintf(err, errlen, "listen: cannot listen on unix:%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

struct jw_http *jw_http_start(struct event_base *base, const struct jw_http_options *opt,
                              struct jw_router *router, jw_http_dispatch_fn dispatch, void *arg, char *err,
                              size_t errlen)
{
    struct jw_http *h = jw_calloc(1, sizeof(*h));
    h->base = base;
    h->router = router;
    h->dispatch = dispatch;
    h->dispatch_arg = arg;
    h->max_conns = (size_t)opt->max_connections;
    h->http = evhttp_new(base);
    if (!h->http) {
        snprintf(err, errlen, "listen: evhttp_new failed");
        free(h);
        return NULL;
    }
    evhttp_set_max_body_size(h->http, opt->max_body_bytes);
    evhttp_set_max_headers_size(h->http, opt->max_header_bytes);
    struct timeval tv = {.tv_sec = opt->timeout_secs};
    evhttp_set_timeout_tv(h->http, &tv);
    evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_PATCH |
                                            EVHTTP_REQ_DELETE | EVHTTP_REQ_HEAD | EVHTTP_REQ_OPTIONS);
    evhttp_set_gencb(h->http, on_request, h);

    char host[256], upath[256];
    int port;
    if (jw_config_split_listen(opt->listen, host, sizeof(host), &port, upath, sizeof(upath)) != 0) {
        snprintf(err, errlen, "listen: cannot parse \"%s\"", opt->listen);
        jw_http_free(h);
        return NULL;
    }
    if (upath[0]) {
        int fd = bind_unix(upath, err, errlen);
        if (fd < 0) {
            jw_http_free(h);
            return NULL;
        }
        h->bound = evhttp_accept_socket_with_handle(h->http, fd);
        h->unix_path = jw_strdup(upath);
        snprintf(h->address, sizeof(h->address), "unix:%s", upath);
    } else {
        h->bound = evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port);
        if (h->bound) {
            struct sockaddr_storage ss;
            socklen_t sl = sizeof(ss);
            int fd = evhttp_bound_socket_get_fd(h->bound);
            if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
                if (ss.ss_family == AF_INET6)
                    port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
                else
                    port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
            }
            snprintf(h->address, sizeof(h->address), strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
        }
    }
    if (!h->bound) {
        snprintf(err, errlen, "listen: cannot listen on %s: %s", opt->listen, strerror(errno));
        jw_http_free(h);
        return NULL;
    }
    return h;
}

const char *jw_http_address(const struct jw_http *h)
{
    return h->address;
}

void jw_http_stop_accepting(struct jw_http *h)
{
    if (h->bound && !h->stopped) {
        evhttp_del_accept_socket(h->http, h->bound);
        h->bound = NULL;
        if (h->unix_path)
            unlink(h->unix_path);
    }
    h->stopped = true;
}

size_t jw_http_inflight(const struct jw_http *h)
{
    return h->inflight;
}

size_t jw_http_sending(const struct jw_http *h)
{
    return h->sending;
}

void jw_http_free(struct jw_http *h)
{
    if (!h)
        return;
    if (h->http)
        evhttp_free(h->http); /* closes connections: their close callbacks run here */
    free(h->conns);
    free(h->unix_path);
    free(h);
}

/* ---- request accessors ------------------------------------------------------ */

enum jw_method jw_req_method(const struct jw_req *r)
{
    return r->method;
}
const char *jw_req_path(const struct jw_req *r)
{
    return r->path;
}
const char *jw_req_id(const struct jw_req *r)
{
    return r->id;
}

const char *jw_req_param(const struct jw_req *r, const char *name)
{
    return jw_route_param(&r->match, name);
}

const char *jw_req_query(const struct jw_req *r, const char *name)
{
    return evhttp_find_header(&r->query, name);
}

const char *jw_req_header(const struct jw_req *r, const char *name)
{
    return evhttp_find_header(evhttp_request_get_input_headers(r->ev), name);
}

const char *jw_req_body(struct jw_req *r, size_t *len)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(r->ev);
    *len = evbuffer_get_length(in);
    if (*len == 0)
        return "";
    return (const char *)evbuffer_pullup(in, -1);
}

void jw_req_set_tenant(struct jw_req *r, const char *tenant)
{
    snprintf(r->tenant, sizeof(r->tenant), "%s", tenant ? tenant : "");
}

void jw_req_set_principal(struct jw_req *r, const char *label)
{
    snprintf(r->principal, sizeof(r->principal), "%s", label ? label : "");
}

void jw_req_set_data(struct jw_req *r, void *data, void (*free_fn)(void *))
{
    r->data = data;
    r->data_free = free_fn;
}
