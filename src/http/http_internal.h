/* http_internal: what server.c and reply.c share about a request. */
#ifndef JOBWHEEL_HTTP_INTERNAL_H
#define JOBWHEEL_HTTP_INTERNAL_H

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "jobwheel/http.h"

#define CONN_TOMB ((void *)1)

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
    size_t sending;  /* answered, the answer not yet fully written */
    bool stopped;
    /* open connections, an open-addressing pointer set */
    void **conns;
    size_t conncap, nconns, ntomb, max_conns;
    bool paused;
};

struct jw_req {
    struct jw_http *srv;
    struct evhttp_request *ev;
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

#endif
