/* teams: seed 001's surface — a team's job runs (list, trigger by job_type,
 * one run, cancel) over the core's runs. The team is the tenant; a
 * job_type is the slug of one of the team's project-scoped jobs. */
#include <string.h>

#include "api_internal.h"
#include "jobwheel/run.h"
#include "jobwheel/time.h"

/* {"<key>": body} */
static void wrap_reply(struct jw_call *c, int status, const char *key, const struct jw_buf *body)
{
    struct jw_jsonw *w = jw_call_writer(c);
    jw_jsonw_obj_open(w);
    jw_jsonw_key(w, key);
    jw_jsonw_raw(w, body->data, body->len);
    jw_jsonw_obj_close(w);
    jw_call_send(c, status);
}

/* ---- GET /v1/teams/:teamId/jobs ---------------------------------------------------- */

static void listed(void *arg, const struct jw_error *err, struct jw_buf *body, const char *next)
{
    struct jw_call *c = arg;
    if (err) {
        jw_call_problem(c, err);
        return;
    }
    struct jw_jsonw *w = jw_call_writer(c);
    jw_jsonw_obj_open(w);
    jw_jsonw_key(w, "job_runs");
    jw_jsonw_raw(w, body->data, body->len);
    jw_jsonw_kstr(w, "cursor", next);
    jw_jsonw_kbool(w, "has_more", next != NULL);
    jw_jsonw_obj_close(w);
    jw_call_send(c, 200);
}

/* since/until: relative (30m, 1h, 7d: that long ago) or ISO 8601; -1 absent */
static int time_query(struct jw_call *c, const char *name, int64_t now, int64_t *out)
{
    const char *v = jw_req_query(c->req, name);
    *out = -1;
    if (!v)
        return 0;
    if (jw_time_parse_point(v, now, out) != 0) {
        jw_call_problemf(c, 400, name, "%s must be a duration ago (30m, 1h, 7d) or an ISO 8601 time", name);
        return -1;
    }
    return 0;
}

static void list_runs(struct jw_call *c)
{
    struct jw_team_run_filter f = {.job_type = jw_req_query(c->req, "job_type"),
                                   .project_id = jw_req_query(c->req, "project_id"),
                                   .cursor = jw_req_query(c->req, "cursor")};
    const char *status = jw_req_query(c->req, "status");
    if (status && !(f.statuses = jw_run_team_statuses(status))) {
        jw_call_problemf(c, 400, "status", "status must be pending, running, completed, failed or cancelled");
        return;
    }
    int64_t now = jw_time_now_ms();
    if (jw_call_query_int(c, "limit", 50, 1, 200, &f.limit) != 0 || time_query(c, "since", now, &f.since_ms) ||
        time_query(c, "until", now, &f.until_ms))
        return;
    if (f.since_ms >= 0 && f.until_ms >= 0 && f.since_ms > f.until_ms) {
        jw_call_problemf(c, 400, "since", "since is after until");
        return;
    }
    jw_runs_team_list(c->api->core, c->tenant, &f, listed, c);
}

/* ---- POST /v1/teams/:teamId/jobs/trigger -------------------------------------------- */

static void triggered(void *arg, const struct jw_error *err, struct jw_buf *body, bool created)
{
    (void)created;
    struct jw_call *c = arg;
    if (err && err->status == 404) {
        /* no such job_type in that project of this team */
        const struct jw_json *b = jw_json_root(c->doc);
        jw_call_problemf(c, 400, "job_type", "\"%.100s\" is not a job type of project \"%.100s\" of this team",
                         jw_json_get(b, "job_type")->u.str, jw_json_get(b, "project_id")->u.str);
    } else if (err && err->status == 400 && !err->field[0]) {
        struct jw_error e = *err;
        snprintf(e.field, sizeof(e.field), "job_type");
        jw_call_problem(c, &e);
    } else if (err) {
        jw_call_problem(c, err);
    } else {
        wrap_reply(c, 201, "job_run", body);
    }
}

static bool nonempty_string(const struct jw_json *v)
{
    return v && v->type == JW_JSON_STRING && v->len > 0;
}

static void trigger(struct jw_call *c)
{
    static const char *const known[] = {"job_type", "project_id", "params", "notify", NULL};
    const struct jw_json *body = jw_call_object(c, false, known);
    if (!body)
        return;
    const struct jw_json *type = jw_json_get(body, "job_type"), *project = jw_json_get(body, "project_id");
    const struct jw_json *params = jw_json_get(body, "params"), *notify = jw_json_get(body, "notify");
    if (!nonempty_string(type) || strchr(type->u.str, '\n')) {
        jw_call_problemf(c, 400, "job_type", "job_type is required: the slug of one of the team's job types");
        return;
    }
    if (!nonempty_string(project) || strchr(project->u.str, '\n')) {
        jw_call_problemf(c, 400, "project_id", "project_id is required: a project of this team");
        return;
    }
    /* the core's trigger takes params and notify as they are (and checks them) */
    /* params are also the run's payload: what an HttpCall handler receives */
    struct jw_json_member m[3];
    size_t n = 0;
    if (params) {
        m[n++] = (struct jw_json_member){"params", (struct jw_json *)params};
        m[n++] = (struct jw_json_member){"payload", (struct jw_json *)params};
    }
    if (notify)
        m[n++] = (struct jw_json_member){"notify", (struct jw_json *)notify};
    struct jw_json item = {.type = JW_JSON_OBJECT, .len = n, .u.members = m};
    struct jw_buf ref = JW_BUF_INIT;
    jw_buf_printf(&ref, "%s\n%s", project->u.str, type->u.str);
    struct jw_actor a = jw_call_actor(c);
    jw_runs_trigger(c->api->core, &a, jw_buf_str(&ref), &item, false,
                    JW_TRIGGER_EXCLUSIVE | JW_TRIGGER_BY_SLUG | JW_TRIGGER_NO_SYSTEM | JW_TRIGGER_TEAM_VIEW, triggered,
                    c);
    jw_buf_free(&ref);
}

/* ---- GET /v1/jobs/:runId, POST /v1/jobs/:runId/cancel --------------------------------- */

static void got_run(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    struct jw_call *c = arg;
    if (err)
        jw_call_problem(c, err);
    else
        wrap_reply(c, 200, "job_run", body);
}

void jw_api_teams_get_run(struct jw_call *c)
{
    jw_runs_team_get(c->api->core, c->tenant, jw_req_param(c->req, "id"), got_run, c);
}

static void cancelled(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    (void)body;
    struct jw_call *c = arg;
    if (err && err->status == 409) {
        jw_call_problemf(c, 400, "", "the job run has already ended");
    } else if (err) {
        jw_call_problem(c, err);
    } else {
        static const char done[] = "{\"cancelled\":true}";
        jw_reply_json(c->req, 200, done, sizeof(done) - 1);
    }
}

/* seen first, so a system job's run is "not found" here as in the list */
static void cancel_visible(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    (void)body;
    struct jw_call *c = arg;
    if (err)
        jw_call_problem(c, err);
    else
        jw_runs_cancel(c->api->core, c->tenant, jw_req_param(c->req, "id"), cancelled, c);
}

static void cancel_run(struct jw_call *c)
{
    jw_runs_team_get(c->api->core, c->tenant, jw_req_param(c->req, "id"), cancel_visible, c);
}

static const struct jw_api_route routes[] = {
    {JW_GET, "/v1/teams/:teamId/jobs", JW_ACCESS_READ, list_runs, "teamId", NULL},
    {JW_POST, "/v1/teams/:teamId/jobs/trigger", JW_ACCESS_WRITE, trigger, "teamId", NULL},
    {JW_POST, "/v1/jobs/:id/cancel", JW_ACCESS_WRITE, cancel_run, NULL, NULL},
};

void jw_api_teams_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
