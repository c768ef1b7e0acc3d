/* ops: what operators and load balancers ask — /healthz (the process is up)
 * and /readyz (Redis reachable, scripts loaded, runs startable and the
 * scheduler set up; not while draining). */
#include "api_internal.h"
#include "jobwheel/exec.h"
#include "jobwheel/scheduler.h"
#include "jobwheel/store.h"

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

static const struct jw_api_route routes[] = {
    {JW_GET, "/healthz", JW_ACCESS_PUBLIC, healthz, NULL, NULL},
    {JW_GET, "/readyz", JW_ACCESS_PUBLIC, readyz, NULL, NULL},
};

void jw_api_ops_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
