/* native_runs: runs on the native API — trigger (one or bulk), read (one,
 * or pages of a tenant's or a job's runs, newest first), cancel, a job's
 * health, and the worker callbacks authorised by the run token
 * (x-run-token: progress, heartbeat, complete, fail). */
#include <string.h>

#include "api_internal.h"
#include "jobwheel/time.h"

static void list_done(void *arg, const struct jw_error *err, struct jw_buf *body, const char *next)
{
    static const char *const keep[] = {"limit", "status"};
    jw_call_reply_page(arg, err, body, next, keep, sizeof(keep) / sizeof(keep[0]));
}

static void list_runs(struct jw_call *c)
{
    static const char *const statuses[] = {"delayed",   "pending", "waiting",   "running",
                                           "completed", "failed",  "timed_out", "crashed",
                                           "cancelled", "expired", "skipped",   NULL};
    struct jw_run_filter f = {0};
    if (jw_call_query_int(c, "limit", 50, 1, 200, &f.limit) != 0)
        return;
    f.job_ref = jw_req_param(c->req, "id");
    f.status = jw_req_query(c->req, "status");
    f.cursor = jw_req_query(c->req, "cursor");
    if (f.status) {
        bool ok = false;
        for (const char *const *s = statuses; *s && !ok; s++)
            ok = !strcmp(*s, f.status);
        if (!ok) {
            jw_reply_problemf(c->req, 400, "status",
                              "status must be a run status (pending, running, completed, "
                              "failed, skipped, ...)");
            return;
        }
    }
    jw_runs_list(c->api->core, c->tenant, &f, list_done, c);
}

static void get_run(struct jw_call *c)
{
    jw_runs_get(c->api->core, c->tenant, jw_req_param(c->req, "id"), jw_call_done_200, c);
}

static void triggered(void *arg, const struct jw_error *err, struct jw_buf *body, bool created)
{
    jw_call_reply(arg, err, body, created ? 201 : 200);
}

static void trigger(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, true);
    if (!body)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_runs_trigger(c->api->core, &a, jw_req_param(c->req, "id"), body, false, 0, triggered, c);
}

static void trigger_bulk(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_runs_trigger(c->api->core, &a, jw_req_param(c->req, "id"), body, true, 0, triggered, c);
}

static void cancel_run(struct jw_call *c)
{
    jw_runs_cancel(c->api->core, c->tenant, jw_req_param(c->req, "id"), jw_call_done_200, c);
}

/* POST /v1/runs/:id/<kind>: a worker's report, authorised by its run token */
static void report(struct jw_call *c, const char *kind)
{
    const struct jw_json *body = jw_call_body(c, true);
    if (!body)
        return;
    jw_runs_report(c->api->core, jw_req_param(c->req, "id"), jw_req_header(c->req, "x-run-token"), kind, body,
                   jw_call_done_200, c);
}

static void report_progress(struct jw_call *c)
{
    report(c, "progress");
}
static void report_heartbeat(struct jw_call *c)
{
    report(c, "heartbeat");
}
static void report_complete(struct jw_call *c)
{
    report(c, "complete");
}
static void report_fail(struct jw_call *c)
{
    report(c, "fail");
}

/* GET /v1/jobs/:id/health?window=7d */
static void job_health(struct jw_call *c)
{
    int64_t window = 7 * 86400 * 1000LL;
    const char *q = jw_req_query(c->req, "window");
    if (q && (jw_time_parse_duration(q, &window) != 0 || window > 400LL * 86400 * 1000)) {
        jw_reply_problemf(c->req, 400, "window", "window must be a duration such as 30m, 24h or 7d");
        return;
    }
    jw_runs_health(c->api->core, c->tenant, jw_req_param(c->req, "id"), window, jw_call_done_200, c);
}

static const struct jw_api_route routes[] = {
    {JW_POST, "/v1/jobs/:id/trigger", JW_ACCESS_WRITE, trigger, NULL, NULL},
    {JW_POST, "/v1/jobs/:id/trigger/bulk", JW_ACCESS_WRITE, trigger_bulk, NULL, NULL},
    {JW_GET, "/v1/jobs/:id/health", JW_ACCESS_READ, job_health, NULL, NULL},
    {JW_POST, "/v1/runs/:id/cancel", JW_ACCESS_WRITE, cancel_run, NULL, NULL},
    {JW_POST, "/v1/runs/:id/progress", JW_ACCESS_PUBLIC, report_progress, NULL, NULL},
    {JW_POST, "/v1/runs/:id/heartbeat", JW_ACCESS_PUBLIC, report_heartbeat, NULL, NULL},
    {JW_POST, "/v1/runs/:id/complete", JW_ACCESS_PUBLIC, report_complete, NULL, NULL},
    {JW_POST, "/v1/runs/:id/fail", JW_ACCESS_PUBLIC, report_fail, NULL, NULL},
    {JW_GET, "/v1/runs", JW_ACCESS_READ, list_runs, NULL, NULL},
    {JW_GET, "/v1/runs/:id", JW_ACCESS_READ, get_run, NULL, NULL},
    {JW_GET, "/v1/jobs/:id/runs", JW_ACCESS_READ, list_runs, NULL, NULL},
};

void jw_api_native_runs_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
