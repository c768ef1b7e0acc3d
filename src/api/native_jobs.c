/* native_jobs: seed 002's job catalogue on /v1/jobs — list, create, batch,
 * batch enable/disable, get, PATCH, delete, clone, versions, dependencies.
 * Errors are problem+json; lists are bare arrays as documented, with the
 * next page's cursor in the X-Next-Cursor and Link headers. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "jobwheel/buf.h"
#include "jobwheel/id.h"
#include "jobwheel/time.h"

#define LIST_MAX 200
#define LIST_DEFAULT 50

/* 201 with Location: /v1/jobs/<id> */
static void reply_job_created(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    struct jw_call *c = arg;
    if (!err && body && body->len > 8 && !strncmp(body->data, "{\"id\":\"", 7)) {
        char loc[64];
        snprintf(loc, sizeof(loc), "/v1/jobs/%.36s", body->data + 7);
        jw_req_add_header(c->req, "Location", loc);
    }
    jw_call_reply(c, err, body, 201);
}

static void list_jobs_done(void *arg, const struct jw_error *err, struct jw_buf *body, const char *next)
{
    static const char *const keep[] = {"limit", "project_id", "group_id", "group", "tag", "enabled"};
    jw_call_reply_page(arg, err, body, next, keep, sizeof(keep) / sizeof(keep[0]));
}

static void list_jobs(struct jw_call *c)
{
    struct jw_job_filter f = {0};
    if (jw_call_query_int(c, "limit", LIST_DEFAULT, 1, LIST_MAX, &f.limit) != 0)
        return;
    f.project_id = jw_req_query(c->req, "project_id");
    f.group_id = jw_req_query(c->req, "group_id");
    if (!f.group_id)
        f.group_id = jw_req_query(c->req, "group");
    f.tag = jw_req_query(c->req, "tag");
    f.enabled = jw_req_query(c->req, "enabled");
    f.cursor = jw_req_query(c->req, "cursor");
    const char *deleted = jw_req_query(c->req, "include_deleted");
    f.include_deleted = deleted && !strcmp(deleted, "true");
    if (f.enabled && strcmp(f.enabled, "true") && strcmp(f.enabled, "false")) {
        jw_reply_problemf(c->req, 400, "enabled", "enabled must be true or false");
        return;
    }
    jw_jobs_list(c->api->core, c->tenant, &f, list_jobs_done, c);
}

static void create_job(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_create(c->api->core, &a, body, reply_job_created, c);
}

static void create_batch(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_create_batch(c->api->core, &a, body, jw_call_done_201, c);
}

/* {"ids": [...]} (or "job_ids") → enable or disable those jobs. */
static void batch_set_enabled(struct jw_call *c, bool enabled)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    if (body->type != JW_JSON_OBJECT) {
        jw_reply_problemf(c->req, 400, "", "the body must be a JSON object with \"ids\"");
        return;
    }
    const char *field = jw_json_get(body, "ids") ? "ids" : "job_ids";
    for (size_t i = 0; i < body->len; i++) {
        const char *k = body->u.members[i].key;
        if (strcmp(k, "ids") && strcmp(k, "job_ids")) {
            jw_reply_problemf(c->req, 400, k, "unknown field \"%.60s\" (expected ids)", k);
            return;
        }
    }
    const struct jw_json *ids = jw_json_get(body, field);
    if (!ids || ids->type != JW_JSON_ARRAY || ids->len == 0 || ids->len > JW_BATCH_MAX) {
        jw_reply_problemf(c->req, 400, "ids", "ids is required: an array of 1 to %d job ids or names",
                          JW_BATCH_MAX);
        return;
    }
    const char **refs = jw_calloc(ids->len, sizeof(char *));
    for (size_t i = 0; i < ids->len; i++) {
        const struct jw_json *v = ids->u.items[i];
        if (v->type != JW_JSON_STRING || v->len == 0 || v->len > 200) {
            free(refs);
            jw_reply_problemf(c->req, 400, "ids", "ids[%zu] must be a job id or name", i);
            return;
        }
        refs[i] = v->u.str;
    }
    struct jw_actor a = jw_call_actor(c);
    size_t n = ids->len;
    jw_jobs_set_enabled(c->api->core, &a, refs, n, enabled, jw_call_done_200, c);
    free(refs);
}

static void batch_enable(struct jw_call *c)
{
    batch_set_enabled(c, true);
}
static void batch_disable(struct jw_call *c)
{
    batch_set_enabled(c, false);
}

/* SPEC §4: the id may name a run instead (seed 001's GET /v1/jobs/:runId) */
static void got_job(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    struct jw_call *c = arg;
    if (err && err->status == 404)
        jw_api_teams_get_run(c);
    else
        jw_call_reply(c, err, body, 200);
}

static void get_job(struct jw_call *c)
{
    jw_jobs_get(c->api->core, c->tenant, jw_req_param(c->req, "id"), got_job, c);
}

static void patch_job(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_update(c->api->core, &a, jw_req_param(c->req, "id"), body, jw_call_done_200, c);
}

static void delete_job(struct jw_call *c)
{
    const char *soft = jw_req_query(c->req, "soft");
    if (soft && strcmp(soft, "true") && strcmp(soft, "false")) {
        jw_reply_problemf(c->req, 400, "soft", "soft must be true or false");
        return;
    }
    if (soft && !strcmp(soft, "true")) {
        struct jw_actor a = jw_call_actor(c);
        jw_jobs_soft_delete(c->api->core, &a, jw_req_param(c->req, "id"), jw_call_done_204, c);
        return;
    }
    jw_jobs_delete(c->api->core, c->tenant, jw_req_param(c->req, "id"), false, jw_call_done_204, c);
}

static void pause_job(struct jw_call *c)
{
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_pause(c->api->core, &a, jw_req_param(c->req, "id"), true, jw_call_done_200, c);
}

static void resume_job(struct jw_call *c)
{
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_pause(c->api->core, &a, jw_req_param(c->req, "id"), false, jw_call_done_200, c);
}

static void reschedule_job(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_reschedule(c->api->core, &a, jw_req_param(c->req, "id"), body, jw_call_done_200, c);
}

/* GET /v1/jobs/:id/schedule?count=N&from=<ISO 8601> */
static void job_schedule(struct jw_call *c)
{
    int64_t count, from = jw_time_now_ms();
    if (jw_call_query_int(c, "count", 10, 1, 1000, &count) != 0)
        return;
    const char *f = jw_req_query(c->req, "from");
    if (f && jw_time_parse(f, &from) != 0) {
        jw_reply_problemf(c->req, 400, "from", "from must be an ISO 8601 date-time");
        return;
    }
    jw_jobs_schedule(c->api->core, c->tenant, jw_req_param(c->req, "id"), count, from, jw_call_done_200, c);
}

static void clone_job(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, true);
    if (!body)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_clone(c->api->core, &a, jw_req_param(c->req, "id"), body, reply_job_created, c);
}

static void list_versions(struct jw_call *c)
{
    jw_jobs_versions(c->api->core, c->tenant, jw_req_param(c->req, "id"), NULL, jw_call_done_200, c);
}

static void get_version(struct jw_call *c)
{
    jw_jobs_versions(c->api->core, c->tenant, jw_req_param(c->req, "id"), jw_req_param(c->req, "version_id"),
                     jw_call_done_200, c);
}

static void list_deps(struct jw_call *c)
{
    jw_deps_list(c->api->core, c->tenant, jw_req_param(c->req, "id"), jw_call_done_200, c);
}

static void create_dep(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    jw_deps_create(c->api->core, c->tenant, jw_req_param(c->req, "id"), body, jw_call_done_201, c);
}

static void delete_dep(struct jw_call *c)
{
    jw_deps_delete(c->api->core, c->tenant, jw_req_param(c->req, "id"), jw_req_param(c->req, "dep_id"),
                   jw_call_done_204, c);
}

static const struct jw_api_route routes[] = {
    {JW_GET, "/v1/jobs", JW_ACCESS_READ, list_jobs, NULL, NULL},
    {JW_POST, "/v1/jobs", JW_ACCESS_WRITE, create_job, NULL, NULL},
    {JW_POST, "/v1/jobs/batch", JW_ACCESS_WRITE, create_batch, NULL, NULL},
    {JW_POST, "/v1/jobs/batch-enable", JW_ACCESS_WRITE, batch_enable, NULL, NULL},
    {JW_POST, "/v1/jobs/batch-disable", JW_ACCESS_WRITE, batch_disable, NULL, NULL},
    {JW_GET, "/v1/jobs/:id", JW_ACCESS_READ, get_job, NULL, NULL},
    {JW_PATCH, "/v1/jobs/:id", JW_ACCESS_WRITE, patch_job, NULL, NULL},
    {JW_DELETE, "/v1/jobs/:id", JW_ACCESS_WRITE, delete_job, NULL, NULL},
    {JW_POST, "/v1/jobs/:id/clone", JW_ACCESS_WRITE, clone_job, NULL, NULL},
    {JW_POST, "/v1/jobs/:id/pause", JW_ACCESS_WRITE, pause_job, NULL, NULL},
    {JW_POST, "/v1/jobs/:id/resume", JW_ACCESS_WRITE, resume_job, NULL, NULL},
    {JW_POST, "/v1/jobs/:id/reschedule", JW_ACCESS_WRITE, reschedule_job, NULL, NULL},
    {JW_GET, "/v1/jobs/:id/schedule", JW_ACCESS_READ, job_schedule, NULL, NULL},
    {JW_GET, "/v1/jobs/:id/versions", JW_ACCESS_READ, list_versions, NULL, NULL},
    {JW_GET, "/v1/jobs/:id/versions/:version_id", JW_ACCESS_READ, get_version, NULL, NULL},
    {JW_GET, "/v1/jobs/:id/dependencies", JW_ACCESS_READ, list_deps, NULL, NULL},
    {JW_POST, "/v1/jobs/:id/dependencies", JW_ACCESS_WRITE, create_dep, NULL, NULL},
    {JW_DELETE, "/v1/jobs/:id/dependencies/:dep_id", JW_ACCESS_WRITE, delete_dep, NULL, NULL},
};

void jw_api_native_jobs_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
