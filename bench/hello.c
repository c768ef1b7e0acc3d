/* hello: the smallest evhttp server — one loop, one fixed JSON answer. Its
 * throughput under wrk is the ceiling scripts/bench compares jobwheel to.
 * It is also the local sink of the firing benchmarks: a request to a path
 * under /late records its arrival minus its x-jobwheel-scheduled-at (the
 * nominal firing, epoch ms); GET /late-report answers the recorded values
 * as a JSON array and forgets them.
 * usage: bench-hello PORT */
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int64_t *late;
static size_t nlate, caplate;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void record_lateness(struct evhttp_request *req)
{
    const char *at = evhttp_find_header(evhttp_request_get_input_headers(req), "x-jobwheel-scheduled-at");
    if (!at)
        return;
    if (nlate == caplate) {
        size_t cap = caplate ? 2 * caplate : 65536;
        int64_t *more = realloc(late, cap * sizeof(*late));
        if (!more)
            return;
        late = more;
        caplate = cap;
    }
    late[nlate++] = now_ms() - strtoll(at, NULL, 10);
}

static void report_lateness(struct evhttp_request *req)
{
    struct evbuffer *out = evhttp_request_get_output_buffer(req);
    evbuffer_add(out, "[", 1);
    for (size_t i = 0; i < nlate; i++)
        evbuffer_add_printf(out, "%s%lld", i ? "," : "", (long long)late[i]);
    evbuffer_add(out, "]", 1);
    nlate = 0;
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    static const char body[] = "{\"hello\":\"world\"}";
    (void)arg;
    const char *uri = evhttp_request_get_uri(req);
    if (!strncmp(uri, "/late-report", 12)) {
        report_lateness(req);
        return;
    }
    if (!strncmp(uri, "/late", 5))
        record_lateness(req);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", "application/json");
    evbuffer_add_reference(evhttp_request_get_output_buffer(req), body, sizeof(body) - 1, NULL, NULL);
    evhttp_send_reply(req, 200, "OK", NULL);
}

static void on_term(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopexit(arg, NULL);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8099;
    signal(SIGPIPE, SIG_IGN);
    struct event_base *base = event_base_new();
    struct evhttp *http = base ? evhttp_new(base) : NULL;
    if (!http || evhttp_bind_socket(http, "127.0.0.1", (ev_uint16_t)port) != 0) {
        fprintf(stderr, "bench-hello: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    evhttp_set_gencb(http, on_request, NULL);
    struct event *term = evsignal_new(base, SIGTERM, on_term, base);
    event_add(term, NULL);
    event_base_dispatch(base);
    event_free(term);
    evhttp_free(http);
    event_base_free(base);
    free(late);
    return 0;
}
