/* server: evhttp set-up and limits, client connections (the cap, request
 * and answer deadlines, shedding), the request context and routing. One
 * request = one jw_req, freed by its one reply (reply.c). */
#include "http_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
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

/* ---- client connections: the cap, deadlines, shedding ------------------- */
/* Slow clients must not hold connections: each connection is counted from
 * accept to close; a request must arrive whole (header and body) within
 * timeout_ms of its first byte (of the accept, for a connection's first
 * request), and an answer must be taken within timeout_ms of being given;
 * evhttp's own timeout, which each byte resets, then only closes idle
 * connections. While the cap is reached the oldest idle connection is shed
 * for a new one; with nothing idle to shed the listener is paused (new
 * clients wait in the kernel's backlog).
 *
 * evhttp 2.1 has no accept hook, but it asks on_new_bev for the bufferevent
 * of every connection it accepts; that is where a connection is counted. The
 * evhttp connection is only made after on_new_bev returns, so it is adopted
 * right after the accept, from the loop (adopt_ev): then its close callback
 * is set, which uncounts it. Until then an extra reference keeps the
 * bufferevent, whose callbacks tell whether evhttp still owns it (freeing a
 * bufferevent clears them). A callback on the input buffer sees the first
 * byte of each request, and bounds what a client sends ahead of evhttp's
 * parser. A connection is cut by shutting its socket down and freeing it
 * from the loop (on_reap). A connection whose request is with a handler is
 * never cut (evhttp keeps that request until it is answered).
 *
 * Deadlines are kept by a janitor (pgbouncer's): each state is a list in
 * the order connections entered it, so the ones due are at the front. */

#define JANITOR_MS 250

struct jw_conn {
    TAILQ_ENTRY(jw_conn) link; /* in h->conns[state] */
    struct jw_http *h;
    struct bufferevent *bev;
    struct evhttp_connection *evcon; /* NULL until adopted */
    struct evbuffer_cb_entry *watch; /* on the input buffer while idle or sending, or NULL */
    struct jw_conn *next_unadopted;
    enum jw_conn_state state;
    bool in_handler;  /* cut, yet a handler got its request (evhttp frees it) */
    int64_t since_ms; /* when it entered its state */
    int fd;           /* once adopted */
};

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
        jw_warn("connection cap of %zu reached with no idle connection to close: not accepting until one "
                "closes",
                h->max_conns);
    }
}

size_t jw_http_open_conns(const struct jw_http *h)
{
    return h->nconns[JW_CONN_IDLE] + h->nconns[JW_CONN_READING] + h->nconns[JW_CONN_BUSY] +
           h->nconns[JW_CONN_SENDING];
}

/* Accept while there is room, or an idle connection to make room. */
static void update_listening(struct jw_http *h)
{
    set_listening(h, jw_http_open_conns(h) < h->max_conns || h->nconns[JW_CONN_IDLE] > 0);
}

static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg);

/* The input callback, while idle or sending. It is taken off, not just
 * disabled, otherwise: a buffer with any callback makes each of evhttp's
 * reads and line drains run the callback list (~900 instructions per
 * request). It may be taken off from inside itself. */
static void watch(struct jw_conn *cn, bool on)
{
    struct evbuffer *in = bufferevent_get_input(cn->bev);
    if (on && !cn->watch)
        cn->watch = evbuffer_add_cb(in, on_input, cn); /* NULL (no memory): not watched */
    else if (!on && cn->watch) {
        evbuffer_remove_cb_entry(in, cn->watch);
        cn->watch = NULL;
    }
}

/* The one place a connection changes state: to the end of its new list. */
static void enter(struct jw_conn *cn, enum jw_conn_state st)
{
    struct jw_http *h = cn->h;
    TAILQ_REMOVE(&h->conns[cn->state], cn, link);
    h->nconns[cn->state]--;
    cn->state = st;
    cn->since_ms = jw_time_mono_ms();
    TAILQ_INSERT_TAIL(&h->conns[st], cn, link);
    h->nconns[st]++;
    watch(cn, st == JW_CONN_IDLE || st == JW_CONN_SENDING);
}

/* Cut a connection: its socket is shut down at once (the client sees the
 * end of the stream), and it is freed from the loop (reap). One not yet
 * adopted is shut down and reaped once it is. */
static void cut(struct jw_conn *cn)
{
    if (cn->state == JW_CONN_CLOSING)
        return;
    enter(cn, JW_CONN_CLOSING);
    int fd = bufferevent_getfd(cn->bev);
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    event_active(cn->h->reap_ev, EV_TIMEOUT, 0);
}

/* Free the connections cut. Waiting for evhttp to see the end of the stream
 * is not enough: a shut-down socket still yields what the kernel had queued
 * (megabytes, from a client that sends fast), and evhttp would read it all
 * in first. Freeing a connection is safe from here, outside evhttp's
 * callbacks, unless a handler holds its request (then evhttp frees it when
 * the answer cannot be written). */
static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct jw_http *h = arg;
    struct jw_conn *cn, *next;
    for (cn = TAILQ_FIRST(&h->conns[JW_CONN_CLOSING]); cn; cn = next) {
        next = TAILQ_NEXT(cn, link);
        if (cn->evcon && !cn->in_handler)
            evhttp_connection_free(cn->evcon); /* its close callback forgets cn */
    }
}

/* evhttp let go of the connection (or never took it): forget it. */
static void forget(struct jw_conn *cn)
{
    struct jw_http *h = cn->h;
    TAILQ_REMOVE(&h->conns[cn->state], cn, link);
    h->nconns[cn->state]--;
    if (cn->fd >= 0 && (size_t)cn->fd < h->by_fd_len && h->by_fd[cn->fd] == cn)
        h->by_fd[cn->fd] = NULL;
    watch(cn, false);
    free(cn);
    update_listening(h);
}

static void on_conn_close(struct evhttp_connection *evcon, void *arg)
{
    forget(arg);
}

/* What a client sends ahead of evhttp's parser: evhttp reads on while it
 * writes an answer (to see the client leave) without parsing, and parses
 * one request per turn however much is buffered behind it, so a client that
 * pipelines and sends fast, reading slowly, would fill memory. More
 * unparsed than the largest request evhttp must hold whole (header and
 * body) cuts the connection; it is checked as bytes arrive while idle or
 * sending (the input callback is off otherwise: it would run at every line
 * evhttp parses) and after each answer, which bounds the one read per
 * request that can come in while a request is read. */
static bool overfull(const struct jw_conn *cn)
{
    return evbuffer_get_length(bufferevent_get_input(cn->bev)) > cn->h->max_unparsed;
}

/* Bytes arrived while idle (a request starts) or sending. */
static void on_input(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    struct jw_conn *cn = arg;
    if (info->n_added == 0)
        return;
    if (overfull(cn))
        cut(cn);
    else if (cn->state == JW_CONN_IDLE)
        enter(cn, JW_CONN_READING); /* the request's deadline starts */
    else
        return;
    update_listening(cn->h);
}

static struct bufferevent *on_new_bev(struct event_base *base, void *arg)
{
    struct jw_http *h = arg;
    struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!bev)
        return NULL; /* evhttp makes one itself, uncounted */
    struct jw_conn *cn = jw_calloc(1, sizeof(*cn));
    cn->h = h;
    cn->bev = bev;
    cn->fd = -1;
    /* a client connects to send a request: its deadline runs from now (and
     * a connection that never had one is not idle, or a burst of new
     * clients would shed each other before sending a byte) */
    cn->state = JW_CONN_READING;
    cn->since_ms = jw_time_mono_ms();
    TAILQ_INSERT_TAIL(&h->conns[JW_CONN_READING], cn, link);
    h->nconns[JW_CONN_READING]++;
    bufferevent_incref(bev); /* until adopted */
    cn->next_unadopted = h->unadopted;
    h->unadopted = cn;
    event_active(h->adopt_ev, EV_TIMEOUT, 0);
    if (jw_http_open_conns(h) > h->max_conns) { /* make room: the oldest idle goes */
        struct jw_conn *oldest = TAILQ_FIRST(&h->conns[JW_CONN_IDLE]);
        cut(oldest ? oldest : cn);
    }
    update_listening(h);
    return bev;
}

static void adopt(struct jw_http *h)
{
    struct jw_conn *cn;
    while ((cn = h->unadopted)) {
        h->unadopted = cn->next_unadopted;
        struct bufferevent *bev = cn->bev;
        bufferevent_event_cb eventcb = NULL;
        void *cbarg = NULL;
        bufferevent_getcb(bev, NULL, NULL, &eventcb, &cbarg);
        if (!eventcb || !cbarg) { /* evhttp gave the connection up while setting it up */
            forget(cn);
            bufferevent_decref(bev);
            continue;
        }
        cn->evcon = cbarg; /* evhttp's callbacks all carry its connection */
        cn->fd = bufferevent_getfd(bev);
        if (cn->fd >= 0) {
            if ((size_t)cn->fd >= h->by_fd_len) {
                size_t n = h->by_fd_len ? h->by_fd_len : 64;
                while (n <= (size_t)cn->fd)
                    n *= 2;
                h->by_fd = jw_realloc(h->by_fd, n * sizeof(*h->by_fd));
                memset(h->by_fd + h->by_fd_len, 0, (n - h->by_fd_len) * sizeof(*h->by_fd));
                h->by_fd_len = n;
            }
            h->by_fd[cn->fd] = cn;
        }
        evhttp_connection_set_closecb(cn->evcon, on_conn_close, cn);
        if (cn->state == JW_CONN_CLOSING) { /* cut before it was adopted */
            if (cn->fd >= 0)
                shutdown(cn->fd, SHUT_RDWR);
            event_active(h->reap_ev, EV_TIMEOUT, 0);
        }
        bufferevent_decref(bev);
    }
}

static void on_adopt(evutil_socket_t fd, short what, void *arg)
{
    adopt(arg);
}

static struct jw_conn *conn_of(struct jw_http *h, struct evhttp_request *ev)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(ev);
    if (!evcon)
        return NULL;
    int fd = bufferevent_getfd(evhttp_connection_get_bufferevent(evcon));
    struct jw_conn *cn = fd >= 0 && (size_t)fd < h->by_fd_len ? h->by_fd[fd] : NULL;
    return cn && cn->evcon == evcon ? cn : NULL;
}

static void on_janitor(evutil_socket_t fd, short what, void *arg)
{
    struct jw_http *h = arg;
    int64_t now = jw_time_mono_ms();
    size_t n = 0;
    struct jw_conn *cn;
    while ((cn = TAILQ_FIRST(&h->conns[JW_CONN_READING])) && now - cn->since_ms >= h->timeout_ms) {
        cut(cn);
        n++;
    }
    while ((cn = TAILQ_FIRST(&h->conns[JW_CONN_SENDING])) && now - cn->since_ms >= h->timeout_ms) {
        cut(cn);
        n++;
    }
    if (n) {
        jw_debug("closed %zu client connections past their %lld ms deadline", n, (long long)h->timeout_ms);
        update_listening(h);
    }
}

/* The answer was taken whole: wait for the next request. */
static void on_sent(struct evhttp_request *ev, void *arg)
{
    struct jw_conn *cn = arg;
    if (cn->state != JW_CONN_SENDING)
        return;
    if (overfull(cn))
        cut(cn);
    else /* bytes of the next request may already be here */
        enter(cn, evbuffer_get_length(bufferevent_get_input(cn->bev)) ? JW_CONN_READING : JW_CONN_IDLE);
    update_listening(cn->h);
}

void jw_http_conn_answered(struct jw_req *r)
{
    struct jw_conn *cn = r->conn;
    if (!cn || cn->state != JW_CONN_BUSY)
        return;
    enter(cn, JW_CONN_SENDING);
    evhttp_request_set_on_complete_cb(r->ev, on_sent, cn);
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
    r->conn = conn_of(h, ev);
    if (r->conn && r->conn->state == JW_CONN_CLOSING) {
        r->conn->in_handler = true; /* the last bytes came in as it was cut */
        r->conn = NULL;
    } else if (r->conn) {
        enter(r->conn, JW_CONN_BUSY);
        update_listening(h);
    }

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
    jw_http_metrics_register(h);
    h->dispatch_arg = arg;
    h->max_conns = (size_t)opt->max_connections;
    h->timeout_ms = opt->timeout_secs * 1000;
    h->max_unparsed = (size_t)(opt->max_body_bytes + opt->max_header_bytes) + 64 * 1024;
    for (int i = 0; i < JW_CONN_NSTATES; i++)
        TAILQ_INIT(&h->conns[i]);
    h->http = evhttp_new(base);
    h->adopt_ev = event_new(base, -1, 0, on_adopt, h);
    h->reap_ev = event_new(base, -1, 0, on_reap, h);
    h->janitor_ev = event_new(base, -1, EV_PERSIST, on_janitor, h);
    struct timeval every = {0, JANITOR_MS * 1000};
    if (!h->http || !h->adopt_ev || !h->reap_ev || !h->janitor_ev || event_add(h->janitor_ev, &every) != 0) {
        snprintf(err, errlen, "listen: cannot set up the HTTP server");
        jw_http_free(h);
        return NULL;
    }
    evhttp_set_bevcb(h->http, on_new_bev, h);
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
    return h->nconns[JW_CONN_SENDING];
}

void jw_http_free(struct jw_http *h)
{
    if (!h)
        return;
    h->bound = NULL; /* evhttp_free frees the listener first */
    adopt(h);
    if (h->http)
        evhttp_free(h->http); /* closes connections: their close callbacks forget them */
    if (h->adopt_ev)
        event_free(h->adopt_ev);
    if (h->reap_ev)
        event_free(h->reap_ev);
    jw_log_flush();
    if (h->janitor_ev)
        event_free(h->janitor_ev);
    free(h->by_fd);
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
