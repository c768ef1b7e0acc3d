/* nightly: seed 004's surface — built-in handler jobs registered by
 * job_name with a cron_expression, listed with their last and next run,
 * triggered (also as a dry run), their last result, deregistered. Served at
 * the documented /api/v1/scheduler/api/v1/scheduler/jobs… and, through
 * jw_api_nightly_dispatch, for requests in its form on seed 003's paths. */
#include <stdlib.h>
#include <string.h>

#include "api_internal.h"
#include "jobwheel/time.h"

/* the job's name: seed 004 says :jobName, seed 003's paths :id */
static const char *job_name(const struct jw_call *c)
{
    const char *n = jw_req_param(c->req, "jobName");
    return n ? n : jw_req_param(c->req, "id");
}

/* seed 004's words for a run's status */
static const char *status_word(const char *s)
{
    if (!s)
        return NULL;
    if (!strcmp(s, "completed"))
        return "success";
    if (!strcmp(s, "failed") || !strcmp(s, "timed_out") || !strcmp(s, "crashed") || !strcmp(s, "expired"))
        return "failed";
    if (!strcmp(s, "cancelled") || !strcmp(s, "skipped"))
        return "cancelled";
    return "running"; /* pending, delayed, waiting, running: under way */
}

static const char *str_of(const struct jw_json *obj, const char *key)
{
    const struct jw_json *v = jw_json_get(obj, key);
    return v && v->type == JW_JSON_STRING ? v->u.str : NULL;
}

/* copy obj[from] as "to" (null when absent) */
static void put(struct jw_jsonw *w, const char *to, const struct jw_json *obj, const char *from)
{
    const struct jw_json *v = jw_json_get(obj, from);
    jw_jsonw_key(w, to);
    if (v)
        jw_jsonw_value(w, v);
    else
        jw_jsonw_null(w);
}

static bool is_true(const struct jw_json *v)
{
    return v && v->type == JW_JSON_BOOL && v->u.b;
}

static bool is_false(const struct jw_json *v)
{
    return v && v->type == JW_JSON_BOOL && !v->u.b;
}

/* seed 004's names for the core's fields in an error */
static void name_fields(struct jw_error *e)
{
    static const char *const names[][2] = {{"name", "job_name"},
                                           {"cron", "cron_expression"},
                                           {"job_configuration.handler", "handler"},
                                           {"enabled", "is_active"}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t n = strlen(names[i][0]);
        if (strcmp(e->field, names[i][0]))
            continue;
        snprintf(e->field, sizeof(e->field), "%s", names[i][1]);
        if (!strncmp(e->detail, names[i][0], n)) { /* the message starts with the name too */
            char d[sizeof(e->detail)];
            snprintf(d, sizeof(d), "%s%s", names[i][1], e->detail + n);
            memcpy(e->detail, d, sizeof(d));
        }
        return;
    }
}

/* ---- list ------------------------------------------------------------------------------ */

/* ?page (from 1) and ?limit (1-100, default 20); false after replying 400 */
static bool page_query(struct jw_call *c, int64_t *page, int64_t *limit)
{
    return jw_call_query_int(c, "page", 1, 1, 1000000, page) == 0 &&
           jw_call_query_int(c, "limit", 20, 1, 100, limit) == 0;
}

static void listed(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    struct jw_call *c = arg;
    struct jw_json_doc *doc = jw_call_answer(c, err, body);
    if (!doc)
        return;
    const struct jw_json *root = jw_json_root(doc), *jobs = jw_json_get(root, "jobs");
    const struct jw_json *lasts = jw_json_get(root, "last_runs");
    int64_t total = 0, page = 1, limit = 20;
    if (jw_json_int(jw_json_get(root, "total"), &total) != 0)
        total = 0;
    if (!page_query(c, &page, &limit)) { /* checked before the call: cannot happen */
        jw_json_doc_free(doc);
        return;
    }
    struct jw_jsonw *w = jw_call_writer(c);
    jw_jsonw_obj_open(w);
    jw_jsonw_key(w, "data");
    jw_jsonw_arr_open(w);
    for (size_t i = 0; jobs && jobs->type == JW_JSON_ARRAY && i < jobs->len; i++) {
        const struct jw_json *j = jobs->u.items[i];
        const struct jw_json *last = lasts && lasts->type == JW_JSON_ARRAY && i < lasts->len ? lasts->u.items[i] : NULL;
        jw_jsonw_obj_open(w);
        put(w, "job_name", j, "name");
        put(w, "cron_expression", j, "cron");
        const struct jw_json *en = jw_json_get(j, "enabled"), *paused = jw_json_get(j, "paused");
        jw_jsonw_kbool(w, "is_active", !is_false(en) && !is_true(paused));
        if (last && last->type == JW_JSON_OBJECT) {
            const char *started = str_of(last, "started_at");
            jw_jsonw_kstr(w, "last_run_at", started ? started : str_of(last, "created_at"));
            jw_jsonw_kstr(w, "last_run_status", status_word(str_of(last, "status")));
        } else {
            jw_jsonw_knull(w, "last_run_at");
            jw_jsonw_knull(w, "last_run_status");
        }
        put(w, "next_run_at", j, "next_run_at");
        jw_jsonw_obj_close(w);
    }
    jw_jsonw_arr_close(w);
    jw_jsonw_key(w, "pagination");
    jw_jsonw_obj_open(w);
    jw_jsonw_kint(w, "page", page);
    jw_jsonw_kint(w, "limit", limit);
    jw_jsonw_kint(w, "total", total);
    jw_jsonw_obj_close(w);
    jw_jsonw_obj_close(w);
    jw_json_doc_free(doc);
    jw_call_send(c, 200);
}

static void list_jobs(struct jw_call *c)
{
    struct jw_job_query q = {.job_type = "Builtin", .sort_by = "name", .no_system = true, .last_run = true};
    if (!page_query(c, &q.page, &q.page_size))
        return;
    jw_jobs_query(c->api->core, c->tenant, &q, listed, c);
}

/* ---- register ---------------------------------------------------------------------------- */

static void registered(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    struct jw_call *c = arg;
    struct jw_error e;
    if (err) {
        e = *err;
        name_fields(&e);
    }
    struct jw_json_doc *doc = jw_call_answer(c, err ? &e : NULL, body);
    if (!doc)
        return;
    const struct jw_json *job = jw_json_root(doc);
    struct jw_jsonw *w = jw_call_writer(c);
    jw_jsonw_obj_open(w);
    put(w, "job_name", job, "name");
    put(w, "cron_expression", job, "cron");
    put(w, "is_active", job, "enabled");
    put(w, "created_at", job, "created_at");
    put(w, "next_run_at", job, "next_run_at");
    jw_jsonw_obj_close(w);
    jw_json_doc_free(doc);
    jw_call_send(c, 201);
}

/* POST /…/jobs {job_name, cron_expression, handler, is_active} */
static void register_job(struct jw_call *c)
{
    static const char *const known[] = {"job_name", "cron_expression", "handler", "is_active", NULL};
    const struct jw_json *body = jw_call_object(c, false, known);
    if (!body)
        return;
    const struct jw_json *name = jw_json_get(body, "job_name"), *cron = jw_json_get(body, "cron_expression");
    const struct jw_json *handler = jw_json_get(body, "handler"), *active = jw_json_get(body, "is_active");
    const char *missing = !name ? "job_name" : !cron ? "cron_expression" : !handler ? "handler" : NULL;
    if (missing) {
        jw_call_problemf(c, 400, missing, "%s is required", missing);
        return;
    }
    if (handler->type != JW_JSON_STRING) {
        jw_call_problemf(c, 400, "handler", "handler must be the name of a built-in handler");
        return;
    }
    /* the core's job: a Builtin job on a cron */
    struct jw_json type = {.type = JW_JSON_STRING, .len = 7, .u.str = "Builtin"};
    struct jw_json_member cfg_m[] = {{"handler", (struct jw_json *)handler}};
    struct jw_json cfg = {.type = JW_JSON_OBJECT, .len = 1, .u.members = cfg_m};
    struct jw_json_member m[5] = {{"name", (struct jw_json *)name},
                                  {"cron", (struct jw_json *)cron},
                                  {"job_type", &type},
                                  {"job_configuration", &cfg}};
    size_t n = 4;
    if (active)
        m[n++] = (struct jw_json_member){"enabled", (struct jw_json *)active};
    struct jw_json job = {.type = JW_JSON_OBJECT, .len = n, .u.members = m};
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_create(c->api->core, &a, &job, registered, c);
}

/* ---- trigger ------------------------------------------------------------------------------- */

static void triggered(void *arg, const struct jw_error *err, struct jw_buf *body, bool created)
{
    (void)created;
    struct jw_call *c = arg;
    struct jw_json_doc *doc = jw_call_answer(c, err, body);
    if (!doc)
        return;
    const struct jw_json *run = jw_json_root(doc);
    struct jw_jsonw *w = jw_call_writer(c);
    jw_jsonw_obj_open(w);
    jw_jsonw_kstr(w, "job_name", job_name(c));
    put(w, "triggered_at", run, "created_at");
    put(w, "run_id", run, "id");
    jw_jsonw_kstr(w, "status", status_word(str_of(run, "status")));
    jw_jsonw_obj_close(w);
    jw_json_doc_free(doc);
    jw_call_send(c, 200);
}

static void fire(struct jw_call *c)
{
    const struct jw_json *body = jw_json_root(c->doc), *by = jw_json_get(body, "triggered_by");
    const struct jw_json *dry = jw_json_get(body, "dry_run");
    /* the run: params.dry_run for the handler; who asked, and through whom */
    struct jw_json dry_v = {.type = JW_JSON_BOOL, .u.b = is_true(dry)};
    struct jw_json_member pm[] = {{"dry_run", &dry_v}};
    struct jw_json params = {.type = JW_JSON_OBJECT, .len = 1, .u.members = pm};
    struct jw_json caller = {.type = JW_JSON_STRING, .len = strlen(c->actor), .u.str = c->actor};
    struct jw_json_member mm[] = {{"requested_by", &caller}};
    struct jw_json metadata = {.type = JW_JSON_OBJECT, .len = 1, .u.members = mm};
    struct jw_json_member m[] = {{"params", &params}, {"metadata", &metadata}};
    struct jw_json item = {.type = JW_JSON_OBJECT, .len = 2, .u.members = m};
    struct jw_actor a = jw_call_actor(c);
    if (by && by->type == JW_JSON_STRING && by->len)
        a.who = by->u.str;
    jw_runs_trigger(c->api->core, &a, job_name(c), &item, false, JW_TRIGGER_NO_SYSTEM, triggered, c);
}

/* a dry run only where the handler can promise to change nothing */
static void checked_builtin(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    struct jw_call *c = arg;
    struct jw_json_doc *doc = jw_call_answer(c, err, body);
    if (!doc)
        return;
    const char *type = str_of(jw_json_root(doc), "job_type");
    bool builtin = type && !strcmp(type, "Builtin");
    jw_json_doc_free(doc);
    if (!builtin) {
        jw_call_problemf(c, 400, "dry_run", "a dry run is only possible for a built-in handler's job");
        return;
    }
    fire(c);
}

/* POST /…/jobs/:jobName/trigger {triggered_by, dry_run} */
static void trigger_job(struct jw_call *c)
{
    static const char *const known[] = {"triggered_by", "dry_run", NULL};
    const struct jw_json *body = jw_call_object(c, true, known);
    if (!body)
        return;
    const struct jw_json *by = jw_json_get(body, "triggered_by"), *dry = jw_json_get(body, "dry_run");
    if (by && (by->type != JW_JSON_STRING || by->len > 200)) {
        jw_call_problemf(c, 400, "triggered_by", "triggered_by must be a string of at most 200 bytes");
        return;
    }
    if (dry && dry->type != JW_JSON_BOOL) {
        jw_call_problemf(c, 400, "dry_run", "dry_run must be true or false");
        return;
    }
    if (!c->doc) { /* an empty body: nothing to keep */
        static const char empty[] = "{}";
        char why[64];
        c->doc = jw_json_parse(empty, 2, 2, why, sizeof(why));
        if (!c->doc) {
            jw_call_problemf(c, 500, "", "%s", why);
            return;
        }
    }
    if (is_true(dry))
        jw_jobs_get(c->api->core, c->tenant, job_name(c), checked_builtin, c);
    else
        fire(c);
}

/* ---- last result ------------------------------------------------------------------------- */

static void got_last(void *arg, const struct jw_error *err, struct jw_buf *body, const char *next)
{
    (void)next;
    struct jw_call *c = arg;
    struct jw_json_doc *doc = jw_call_answer(c, err, body);
    if (!doc)
        return;
    const struct jw_json *runs = jw_json_root(doc);
    if (runs->type != JW_JSON_ARRAY || runs->len == 0) {
        jw_json_doc_free(doc);
        jw_call_problemf(c, 404, "", "job \"%.100s\" has not run yet", job_name(c));
        return;
    }
    const struct jw_json *run = runs->u.items[0];
    struct jw_jsonw *w = jw_call_writer(c);
    jw_jsonw_obj_open(w);
    jw_jsonw_kstr(w, "job_name", job_name(c));
    put(w, "run_id", run, "id");
    put(w, "started_at", run, "started_at");
    put(w, "completed_at", run, "finished_at");
    jw_jsonw_kstr(w, "status", status_word(str_of(run, "status")));
    put(w, "result_summary", run, "result");
    put(w, "error", run, "error");
    jw_jsonw_obj_close(w);
    jw_json_doc_free(doc);
    jw_call_send(c, 200);
}

static void last_result(struct jw_call *c)
{
    struct jw_run_filter f = {.job_ref = job_name(c), .limit = 1};
    jw_runs_list(c->api->core, c->tenant, &f, got_last, c);
}

/* ---- deregister ---------------------------------------------------------------------------- */

static void deleted(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    (void)body;
    struct jw_call *c = arg;
    if (err) {
        jw_call_problem(c, err);
        return;
    }
    struct jw_jsonw *w = jw_call_writer(c);
    jw_jsonw_obj_open(w);
    jw_jsonw_kbool(w, "deleted", true);
    jw_jsonw_kstr(w, "job_name", job_name(c));
    jw_jsonw_ktime(w, "cancelled_at", jw_time_now_ms());
    jw_jsonw_obj_close(w);
    jw_call_send(c, 200);
}

/* soft: it stops firing and frees the name; its runs stay readable */
static void delete_job(struct jw_call *c)
{
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_soft_delete(c->api->core, &a, job_name(c), deleted, c);
}

/* ---- routes ------------------------------------------------------------------------------- */

void jw_api_nightly_dispatch(struct jw_call *c)
{
    /* from here on the request is this surface's: its errors too */
    static const struct jw_api_route handed_over = {0, "", JW_ACCESS_READ, NULL, NULL, NULL};
    c->route = &handed_over;
    enum jw_method m = jw_req_method(c->req);
    const char *path = jw_req_path(c->req);
    size_t n = strlen(path);
    bool by_name = job_name(c) != NULL;
    if (m == JW_POST && !by_name)
        register_job(c);
    else if (m == JW_GET && !by_name)
        list_jobs(c);
    else if (m == JW_POST && n > 8 && !strcmp(path + n - 8, "/trigger"))
        trigger_job(c);
    else if (m == JW_GET && n > 12 && !strcmp(path + n - 12, "/last-result"))
        last_result(c);
    else if (m == JW_DELETE && by_name)
        delete_job(c);
    else
        jw_call_problemf(c, 404, "", "no such resource");
}

#define BASE "/api/v1/scheduler/api/v1/scheduler/jobs"
static const struct jw_api_route routes[] = {
    {JW_GET, BASE, JW_ACCESS_READ, list_jobs, NULL, NULL},
    {JW_POST, BASE, JW_ACCESS_WRITE, register_job, NULL, NULL},
    {JW_POST, BASE "/:jobName/trigger", JW_ACCESS_WRITE, trigger_job, NULL, NULL},
    {JW_GET, BASE "/:jobName/last-result", JW_ACCESS_READ, last_result, NULL, NULL},
    {JW_DELETE, BASE "/:jobName", JW_ACCESS_WRITE, delete_job, NULL, NULL},
    /* seed 003 has no last-result: on its path, it is seed 004's */
    {JW_GET, "/api/v1/scheduler/jobs/:id/last-result", JW_ACCESS_READ, last_result, NULL, NULL},
};

void jw_api_nightly_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
