/* native_workflows: workflows on /v1/workflows — create, list, read,
 * delete, trigger, and a workflow run with its steps. */
#include "api_internal.h"

static void create_workflow(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_workflows_create(c->api->core, &a, body, jw_call_done_201, c);
}

static void list_workflows(struct jw_call *c)
{
    jw_workflows_get(c->api->core, c->tenant, NULL, jw_call_done_200, c);
}

static void get_workflow(struct jw_call *c)
{
    jw_workflows_get(c->api->core, c->tenant, jw_req_param(c->req, "id"), jw_call_done_200, c);
}

static void delete_workflow(struct jw_call *c)
{
    jw_workflows_delete(c->api->core, c->tenant, jw_req_param(c->req, "id"), jw_call_done_204, c);
}

static void trigger_workflow(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, true);
    if (!body)
        return;
    if (body->type != JW_JSON_OBJECT || body->len > 0) {
        jw_reply_problemf(c->req, 400, "", "a workflow trigger takes no fields (send {} or nothing)");
        return;
    }
    struct jw_actor a = jw_call_actor(c);
    jw_workflows_trigger(c->api->core, &a, jw_req_param(c->req, "id"), jw_call_done_201, c);
}

static void get_workflow_run(struct jw_call *c)
{
    jw_workflows_run_get(c->api->core, c->tenant, jw_req_param(c->req, "id"), jw_req_param(c->req, "run_id"),
                         jw_call_done_200, c);
}

static const struct jw_api_route routes[] = {
    {JW_POST, "/v1/workflows", JW_ACCESS_WRITE, create_workflow, NULL, NULL},
    {JW_GET, "/v1/workflows", JW_ACCESS_READ, list_workflows, NULL, NULL},
    {JW_GET, "/v1/workflows/:id", JW_ACCESS_READ, get_workflow, NULL, NULL},
    {JW_DELETE, "/v1/workflows/:id", JW_ACCESS_WRITE, delete_workflow, NULL, NULL},
    {JW_POST, "/v1/workflows/:id/trigger", JW_ACCESS_WRITE, trigger_workflow, NULL, NULL},
    {JW_GET, "/v1/workflows/:id/runs/:run_id", JW_ACCESS_READ, get_workflow_run, NULL, NULL},
};

void jw_api_native_workflows_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
