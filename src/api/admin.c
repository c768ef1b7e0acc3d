/* admin: seed 000's surface — trigger a system job by name, and the system
 * jobs' statistics — in its envelope {success, message, data, timestamp},
 * errors included. system_admin or super_admin; x-tenantid required. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "jobwheel/id.h"
#include "jobwheel/time.h"

/* the jobName of the request's body (read before any reply) */
static const char *job_name(const struct jw_call *c)
{
    const struct jw_json *n = c->doc ? jw_json_get(jw_json_root(c->doc), "jobName") : NULL;
    return n && n->type == JW_JSON_STRING ? n->u.str : NULL;
}

static const char *short_message(int status)
{
    switch (status) {
    case 400: return "Invalid request";
    case 401: return "Authentication failed";
    case 403: return "Insufficient permissions";
    case 404: return "Not found";
    case 409: return "Job already running";
    case 429: return "Quota exceeded";
    case 503: return "Service unavailable";
    default: return status >= 500 ? "Server error" : "Request failed";
    }
}

/* {success: false, message, error: {code, field, detail}, data, timestamp} */
static void admin_problem(struct jw_call *c, const struct jw_error *e)
{
    struct jw_buf b = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &b);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kbool(&w, "success", false);
    jw_jsonw_kstr(&w, "message", !strcmp(e->field, "jobName") ? "Invalid job name" : short_message(e->status));
    jw_jsonw_key(&w, "error");
    jw_jsonw_obj_open(&w);
    jw_jsonw_kint(&w, "code", e->status);
    jw_jsonw_kstr(&w, "field", e->field[0] ? e->field : NULL);
    jw_jsonw_kstr(&w, "detail", e->detail);
    if (e->quota[0]) {
        jw_jsonw_kstr(&w, "quota", e->quota);
        jw_jsonw_kint(&w, "limit", e->limit);
        jw_jsonw_kint(&w, "used", e->used);
    }
    jw_jsonw_obj_close(&w);
    if (e->status == 409 && e->ref[0]) {
        jw_jsonw_key(&w, "data");
        jw_jsonw_obj_open(&w);
        jw_jsonw_kstr(&w, "jobName", job_name(c));
        struct jw_buf id = JW_BUF_INIT;
        jw_buf_printf(&id, "job-%s", e->ref);
        jw_jsonw_kstr(&w, "existingJobId", jw_buf_str(&id));
        jw_buf_free(&id);
        jw_jsonw_obj_close(&w);
    }
    jw_jsonw_ktime(&w, "timestamp", jw_time_now_ms());
    jw_jsonw_obj_close(&w);
    if (e->status == 401)
        jw_req_add_header(c->req, "WWW-Authenticate", "Bearer");
    jw_reply_json_buf(c->req, e->status, &b);
    jw_buf_free(&b);
}

static void envelope_open(struct jw_jsonw *w, const char *message)
{
    jw_jsonw_obj_open(w);
    jw_jsonw_kbool(w, "success", true);
    jw_jsonw_kstr(w, "message", message);
    jw_jsonw_key(w, "data");
}

static void envelope_close(struct jw_jsonw *w)
{
    jw_jsonw_ktime(w, "timestamp", jw_time_now_ms());
    jw_jsonw_obj_close(w);
}

/* seed 000 requires the header even when the token names one tenant */
static bool have_tenant_header(struct jw_call *c)
{
    const char *t = jw_req_header(c->req, "x-tenantid");
    if (!t || !t[0]) {
        jw_call_problemf(c, 400, "x-tenantid", "the x-tenantid header is required");
        return false;
    }
    return true;
}

static const char *priority_word(int64_t p)
{
    return p > 0 ? "high" : p < 0 ? "low" : "normal";
}

static void triggered(void *arg, const struct jw_error *err, struct jw_buf *body, bool created)
{
    (void)created;
    struct jw_call *c = arg;
    struct jw_json_doc *doc = jw_call_answer(c, err, body);
    if (!doc)
        return;
    const struct jw_json *run = jw_json_root(doc);
    const struct jw_json *id = jw_json_get(run, "id"), *at = jw_json_get(run, "created_at");
    const struct jw_json *prio = jw_json_get(run, "priority");
    int64_t created_ms = jw_time_now_ms(), p = 0;
    if (at && at->type == JW_JSON_STRING && jw_time_parse(at->u.str, &created_ms) != 0)
        created_ms = jw_time_now_ms();
    if (prio && prio->type == JW_JSON_NUMBER && jw_json_int(prio, &p) != 0)
        p = 0;
    struct jw_buf job_id = JW_BUF_INIT;
    jw_buf_printf(&job_id, "job-%s", id && id->type == JW_JSON_STRING ? id->u.str : "");
    struct jw_jsonw *w = jw_call_writer(c);
    envelope_open(w, "Job triggered successfully");
    jw_jsonw_obj_open(w);
    jw_jsonw_kstr(w, "jobId", jw_buf_str(&job_id));
    jw_jsonw_kstr(w, "jobName", job_name(c));
    jw_jsonw_kstr(w, "status", "queued");
    jw_jsonw_ktime(w, "triggeredAt", created_ms);
    jw_jsonw_key(w, "triggeredBy");
    jw_jsonw_obj_open(w);
    jw_jsonw_kstr(w, "id", c->principal.sub);
    jw_jsonw_kstr(w, "name", c->principal.name[0] ? c->principal.name : NULL);
    jw_jsonw_kstr(w, "email", c->principal.email[0] ? c->principal.email : NULL);
    jw_jsonw_obj_close(w);
    jw_jsonw_ktime(w, "estimatedStartTime", created_ms); /* it is ready at once */
    jw_jsonw_kstr(w, "priority", priority_word(p));
    jw_jsonw_obj_close(w);
    envelope_close(w);
    jw_call_send(c, 200);
    jw_buf_free(&job_id);
    jw_json_doc_free(doc);
}

static void trigger(struct jw_call *c)
{
    if (!have_tenant_header(c))
        return;
    static const char *const known[] = {"jobName", NULL};
    const struct jw_json *body = jw_call_object(c, false, known);
    if (!body)
        return;
    const struct jw_json *name = jw_json_get(body, "jobName");
    if (!name || name->type != JW_JSON_STRING || !name->len) {
        jw_call_problemf(c, 400, "jobName", "jobName is required: the name of a system job");
        return;
    }
    struct jw_actor a = jw_call_actor(c);
    jw_system_trigger(c->api->core, &a, name->u.str, triggered, c);
}

static void got_stats(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    struct jw_call *c = arg;
    if (err) {
        jw_call_problem(c, err);
        return;
    }
    struct jw_jsonw *w = jw_call_writer(c);
    envelope_open(w, "Job statistics retrieved successfully");
    jw_jsonw_obj_open(w);
    jw_jsonw_key(w, "jobs");
    jw_jsonw_raw(w, body->data, body->len);
    jw_jsonw_obj_close(w);
    envelope_close(w);
    jw_call_send(c, 200);
}

static void stats(struct jw_call *c)
{
    if (have_tenant_header(c))
        jw_system_stats(c->api->core, c->tenant, got_stats, c);
}

static const struct jw_api_route routes[] = {
    {JW_POST, "/api/v1/admin/jobs/trigger", JW_ACCESS_SYSADMIN, trigger, NULL, admin_problem},
    {JW_GET, "/api/v1/admin/jobs/stats", JW_ACCESS_SYSADMIN, stats, NULL, admin_problem},
};

void jw_api_admin_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
