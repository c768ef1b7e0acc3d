/* http_internal: what server.c and reply.c share about a request and the
 * connection it came on. */
#ifndef JOBWHEEL_HTTP_INTERNAL_H
#define JOBWHEEL_HTTP_INTERNAL_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <sys/queue.h>

#include "jobwheel/http.h"

/* Where a client connection is; each state is one list (server.c). */
enum jw_conn_state {
    JW_CONN_IDLE,    /* waiting for the first byte of a request */
    JW_CONN_READING, /* a request is arriving: its deadline runs */
    JW_CONN_BUSY,    /* its request is with a handler: never cut */
    JW_CONN_SENDING, /* answered: the answer is being written (deadline runs) */
    JW_CONN_CLOSING, /* shut down by us: evhttp frees it on the EOF */
    JW_CONN_NSTATES
};

struct jw_conn;
TAILQ_HEAD(jw_conn_list, jw_conn);

struct jw_http {
    struct event_base *base;
    struct evhttp *http;
    struct evhttp_bound_socket *bound;
    struct jw_router *router;
    jw_http_dispatch_fn dispatch;
    void *dispatch_arg;
    char address[300];
    char *unix_path;
    size_t inflight; /* received, not yet answered */
    bool stopped;
    bool paused; /* the listener is off: the cap is reached, nothing idle to shed */
    /* client connections, one list per state, oldest first */
    struct jw_conn_list conns[JW_CONN_NSTATES];
    size_t nconns[JW_CONN_NSTATES];
    size_t max_conns;
    int64_t timeout_ms;         /* a request's (and an answer's) deadline */
    size_t max_unparsed;        /* bytes a connection reads ahead of evhttp's parser at most */
    struct jw_conn *unadopted;  /* accepted, evhttp's connection not yet known */
    struct event *adopt_ev;     /* adopts them, right after the accept */
    struct event *reap_ev;      /* frees the connections cut */
    struct event *janitor_ev;   /* cuts connections past their deadline */
    struct jw_conn **by_fd;     /* adopted connections by socket */
    size_t by_fd_len;
};

struct jw_req {
    struct jw_http *srv;
    struct evhttp_request *ev;
    struct jw_conn *conn; /* the connection it came on, or NULL */
    enum jw_method method;
    char *path;
    struct evkeyvalq query;
    struct jw_route_match match;
    char id[72];
    char tenant[40];
    char principal[96];
    int64_t start_us;
    void *data;
    void (*data_free)(void *);
};

/* reply.c, as it hands r's answer to evhttp: the connection is sending. */
void jw_http_conn_answered(struct jw_req *r);
/* server.c: client connections open. */
size_t jw_http_open_conns(const struct jw_http *h);
/* reply.c: the server's metrics (requests by status class, their duration,
 * connections), registered as the server is made. */
void jw_http_metrics_register(struct jw_http *h);

#endif
