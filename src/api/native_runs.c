/* native_runs: reading runs — GET /v1/runs, /v1/runs/:id and
 * /v1/jobs/:id/runs (newest first, cursor pages as in /v1/jobs). */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "jobwheel/net.h"

static void list_done(void *arg, const struct jw_error *err, struct jw_buf *body, const char *next)
{
    struct jw_call *c = arg;
    if (!err) {
        jw_req_add_header(c->req, "X-Has-More", next ? "true" : "false");
        if (next) {
            jw_req_add_header(c->req, "X-Next-Cursor", next);
            struct jw_buf link = JW_BUF_INIT;
            char *enc = jw_url_encode(next);
            jw_buf_printf(&link, "<%s?cursor=%s", jw_req_path(c->req), enc);
            free(enc);
            static const char *keep[] = {"limit", "status"};
            for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
                const char *v = jw_req_query(c->req, keep[i]);
                if (v) {
                    enc = jw_url_encode(v);
                    jw_buf_printf(&link, "&%s=%s", keep[i], enc);
                    free(enc);
                }
            }
            jw_buf_puts(&link, ">; rel=\"next\"");
            jw_req_add_header(c->req, "Link", jw_buf_str(&link));
            jw_buf_free(&link);
        }
    }
    jw_call_reply(c, err, body, 200);
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

static const struct jw_api_route routes[] = {
    {JW_GET, "/v1/runs", JW_ACCESS_READ, list_runs, NULL},
    {JW_GET, "/v1/runs/:id", JW_ACCESS_READ, get_run, NULL},
    {JW_GET, "/v1/jobs/:id/runs", JW_ACCESS_READ, list_runs, NULL},
};

void jw_api_native_runs_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
