/* ops: what operators and load balancers ask — /healthz (the process is up),
 * /readyz (Redis reachable, scripts loaded, runs startable and the
 * scheduler set up; not while draining), /metrics (Prometheus text:
 * what the modules count, see metrics.h; behind metrics_token when set)
 * and the OpenAPI document (/openapi.json, /openapi.yaml: src/api/openapi.json,
 * compiled in). */
#include <string.h>

#include "api_internal.h"
#include "jobwheel/config.h"
#include "jobwheel/exec.h"
#include "jobwheel/id.h"
#include "jobwheel/metrics.h"
#include "jobwheel/scheduler.h"
#include "jobwheel/store.h"
#include "openapi_doc.h"

static void healthz(struct jw_call *c)
{
    static const char ok[] = "{\"status\":\"ok\"}";
    jw_reply_json(c->req, 200, ok, sizeof(ok) - 1);
}

static void readyz(struct jw_call *c)
{
    size_t keylen;
    /* ready: Redis answers with the scripts loaded, runs can be started,
     * and the scheduler knows the shard count (until then a job saved here
     * would not be fired from here at once, and its runs would be placed
     * by a guessed count) */
    bool redis = jw_store_ready(c->api->store) && jw_exec_token_key(c->api->core->exec, &keylen) != NULL &&
                 (!c->api->core->scheduler || jw_scheduler_shards(c->api->core->scheduler) > 0);
    struct jw_buf b = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &b);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "status", c->api->draining ? "draining" : redis ? "ready" : "not ready");
    jw_jsonw_kstr(&w, "redis", redis ? "up" : "down");
    jw_jsonw_obj_close(&w);
    jw_reply_json_buf(c->req, redis && !c->api->draining ? 200 : 503, &b);
}

static void metrics(struct jw_call *c)
{
    const char *want = c->api->cfg ? c->api->cfg->metrics_token : "";
    if (want && want[0]) { /* "Bearer <metrics_token>", compared in constant time */
        const char *got = jw_req_header(c->req, "Authorization");
        size_t n = strlen(want);
        bool ok = got && !strncmp(got, "Bearer ", 7) && strlen(got + 7) == n && jw_secure_equal(got + 7, want, n);
        if (!ok) {
            jw_req_add_header(c->req, "WWW-Authenticate", "Bearer realm=\"metrics\"");
            jw_reply_problemf(c->req, 401, NULL, "GET /metrics needs Authorization: Bearer <metrics_token>");
            return;
        }
    }
    struct jw_buf b = JW_BUF_INIT;
    jw_metrics_render(&b);
    jw_reply(c->req, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len);
    jw_buf_free(&b);
}

static void openapi_json(struct jw_call *c)
{
    jw_reply(c->req, 200, "application/json", jw_openapi_json, jw_openapi_json_len);
}

static void openapi_yaml(struct jw_call *c)
{
    jw_reply(c->req, 200, "application/yaml; charset=utf-8", jw_openapi_yaml, jw_openapi_yaml_len);
}

static const struct jw_api_route routes[] = {
    {JW_GET, "/openapi.json", JW_ACCESS_PUBLIC, openapi_json, NULL, NULL},
    {JW_GET, "/openapi.yaml", JW_ACCESS_PUBLIC, openapi_yaml, NULL, NULL},
    {JW_GET, "/healthz", JW_ACCESS_PUBLIC, healthz, NULL, NULL},
    {JW_GET, "/readyz", JW_ACCESS_PUBLIC, readyz, NULL, NULL},
    {JW_GET, "/metrics", JW_ACCESS_PUBLIC, metrics, NULL, NULL},
};

void jw_api_ops_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
