/* workflows: named DAGs of job steps — create (validated: unique step
 * keys, known prerequisites, no cycle), read, list, delete, trigger, and a
 * workflow run with its steps. The steps' progress is Redis's: a step run
 * that ends advances its workflow run inside the same script (prelude's
 * advance_workflow), so no instance has to be watching. */
#include <stdlib.h>
#include <string.h>

#include "jobwheel/core.h"
#include "jobwheel/exec.h"
#include "jobwheel/id.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"
#include "jobwheel/workflow.h"

struct wop {
    struct jw_core *c;
    jw_core_cb cb;
    void *arg;
    char tenant[40];
    char ref[256];    /* what the request named: the workflow, or the run */
    char run_id[40];  /* trigger: the new workflow run */
    const char *what; /* for 404s: "workflow" or "workflow run" */
    void (*next)(struct wop *o, const struct jw_reply *r);
    struct jw_buf body;
};

static struct wop *wop_new(struct jw_core *c, const char *tenant, const char *ref, jw_core_cb cb, void *arg)
{
    struct wop *o = jw_calloc(1, sizeof(*o));
    o->c = c;
    o->cb = cb;
    o->arg = arg;
    o->what = "workflow";
    snprintf(o->tenant, sizeof(o->tenant), "%s", tenant);
    snprintf(o->ref, sizeof(o->ref), "%s", ref ? ref : "");
    return o;
}

static void wop_done(struct wop *o, const struct jw_error *err)
{
    o->cb(o->arg, err, err ? NULL : &o->body);
    jw_buf_free(&o->body);
    free(o);
}

static void wop_fail(struct wop *o, int status, const char *field, const char *detail)
{
    struct jw_error e;
    jw_fail(&e, status, field, "%s", detail);
    wop_done(o, &e);
}

static void wop_not_found(struct wop *o)
{
    struct jw_error e;
    jw_fail(&e, 404, "", "no such %s: %.200s", o->what, o->ref);
    wop_done(o, &e);
}

static void wop_reply(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct wop *o = arg;
    if (st != JW_STORE_OK) {
        struct jw_error e;
        jw_core_store_error(st, &e);
        wop_done(o, &e);
        return;
    }
    o->next(o, r);
}

static void wop_run(struct wop *o, enum jw_lua_id id, struct jw_args *a,
                    void (*next)(struct wop *, const struct jw_reply *))
{
    o->next = next;
    jw_store_eval(o->c->store, id, o->tenant, a, wop_reply, o);
}

/* ---- create, read, delete ---------------------------------------------------------- */

static void on_created(struct wop *o, const struct jw_reply *r)
{
    const struct jw_reply *word = jw_reply_at(r, 0);
    size_t n;
    const char *json = jw_reply_str(jw_reply_at(r, 1), &n);
    struct jw_error e;
    if (jw_reply_is(word, "ok") && json) {
        jw_buf_append(&o->body, json, n);
        wop_done(o, NULL);
    } else if (jw_reply_is(word, "conflict")) {
        wop_fail(o, 409, "name", "a workflow with this name already exists");
    } else if (jw_reply_is(word, "nojob")) {
        jw_fail(&e, 404, "", "no such job (steps[%lld].job_id)", jw_reply_int(jw_reply_at(r, 1)));
        snprintf(e.field, sizeof(e.field), "steps[%lld].job_id", jw_reply_int(jw_reply_at(r, 1)));
        wop_done(o, &e);
    } else {
        wop_fail(o, 500, "", "unexpected answer from the job store");
    }
}

void jw_workflows_create(struct jw_core *c, const struct jw_actor *a, const struct jw_json *obj,
                         jw_core_cb cb, void *arg)
{
    struct wop *o = wop_new(c, a->tenant, NULL, cb, arg);
    struct jw_error e;
    if (jw_workflow_check(obj, &e) != 0) {
        wop_done(o, &e);
        return;
    }
    char id[JW_UUID_SIZE];
    jw_id_new(id);
    const struct jw_json *steps = jw_json_get(obj, "steps");
    const struct jw_json *desc = jw_json_get(obj, "description");
    struct jw_buf json = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &json);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "id", id);
    jw_jsonw_kstr(&w, "name", jw_json_get(obj, "name")->u.str);
    if (desc && desc->type == JW_JSON_STRING)
        jw_jsonw_kstr(&w, "description", desc->u.str);
    jw_jsonw_key(&w, "steps");
    jw_jsonw_arr_open(&w);
    for (size_t i = 0; i < steps->len; i++) {
        const struct jw_json *s = steps->u.items[i];
        const struct jw_json *deps = jw_json_get(s, "depends_on");
        const struct jw_json *cond = jw_json_get(s, "condition");
        jw_jsonw_obj_open(&w);
        jw_jsonw_kstr(&w, "key", jw_json_get(s, "key")->u.str);
        /* wf_save puts the resolved job id in place of \1<i>\1 */
        char ph[32];
        int phn = snprintf(ph, sizeof(ph), "\001%zu\001", i);
        jw_jsonw_key(&w, "job_id");
        jw_jsonw_raw(&w, ph, (size_t)phn);
        jw_jsonw_key(&w, "depends_on");
        jw_jsonw_arr_open(&w);
        for (size_t d = 0; deps && deps->type == JW_JSON_ARRAY && d < deps->len; d++)
            jw_jsonw_str(&w, deps->u.items[d]->u.str);
        jw_jsonw_arr_close(&w);
        jw_jsonw_kstr(&w, "condition",
                      cond && cond->type == JW_JSON_STRING ? jw_dep_condition(cond->u.str) : "AllSucceeded");
        jw_jsonw_obj_close(&w);
    }
    jw_jsonw_arr_close(&w);
    jw_jsonw_ktime(&w, "created_at", jw_time_now_ms());
    jw_jsonw_kstr(&w, "created_by", a->who);
    jw_jsonw_obj_close(&w);
    struct jw_args args = JW_ARGS_INIT;
    jw_args_adds(&args, "create");
    jw_args_adds(&args, id);
    jw_args_adds(&args, jw_json_get(obj, "name")->u.str);
    jw_args_add(&args, json.data, json.len);
    jw_buf_free(&json);
    for (size_t i = 0; i < steps->len; i++)
        jw_args_adds(&args, jw_json_get(steps->u.items[i], "job_id")->u.str);
    wop_run(o, JW_LUA_WF_SAVE, &args, on_created);
}

static void on_got(struct wop *o, const struct jw_reply *r)
{
    size_t n;
    if (jw_reply_type(r) == JW_REPLY_ARRAY) {
        jw_buf_putc(&o->body, '[');
        for (size_t i = 0; i < jw_reply_count(r); i++) {
            const char *json = jw_reply_str(jw_reply_at(r, i), &n);
            if (i > 0)
                jw_buf_putc(&o->body, ',');
            jw_buf_append(&o->body, json, n);
        }
        jw_buf_putc(&o->body, ']');
    } else {
        const char *json = jw_reply_str(r, &n);
        if (!json) {
            wop_not_found(o);
            return;
        }
        jw_buf_append(&o->body, json, n);
    }
    wop_done(o, NULL);
}

void jw_workflows_get(struct jw_core *c, const char *tenant, const char *ref, jw_core_cb cb, void *arg)
{
    struct wop *o = wop_new(c, tenant, ref, cb, arg);
    struct jw_args a = JW_ARGS_INIT;
    if (ref)
        jw_args_adds(&a, ref);
    wop_run(o, JW_LUA_WF_GET, &a, on_got);
}

static void on_deleted(struct wop *o, const struct jw_reply *r)
{
    if (jw_reply_is(jw_reply_at(r, 0), "ok"))
        wop_done(o, NULL);
    else
        wop_not_found(o);
}

void jw_workflows_delete(struct jw_core *c, const char *tenant, const char *ref, jw_core_cb cb, void *arg)
{
    struct wop *o = wop_new(c, tenant, ref, cb, arg);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, "delete");
    jw_args_adds(&a, ref);
    wop_run(o, JW_LUA_WF_SAVE, &a, on_deleted);
}

/* ---- runs ---------------------------------------------------------------------------- */

static const char *pair(const struct jw_reply *pairs, const char *name)
{
    for (size_t i = 0; i + 1 < jw_reply_count(pairs); i += 2)
        if (jw_reply_is(jw_reply_at(pairs, i), name))
            return jw_reply_str(jw_reply_at(pairs, i + 1), NULL);
    return NULL;
}

static void time_or_null(struct jw_jsonw *w, const char *key, const char *ms)
{
    if (ms)
        jw_jsonw_ktime(w, key, strtoll(ms, NULL, 10));
    else
        jw_jsonw_knull(w, key);
}

/* wf_run_get's answer as the workflow run. */
static void on_run(struct wop *o, const struct jw_reply *r)
{
    if (jw_reply_type(r) != JW_REPLY_ARRAY || jw_reply_count(r) < 1) {
        wop_not_found(o);
        return;
    }
    const struct jw_reply *run = jw_reply_at(r, 0);
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    jw_jsonw_obj_open(&w);
    static const char *const strs[] = {"id", "workflow_id", "status"};
    for (size_t i = 0; i < 3; i++)
        jw_jsonw_kstr(&w, strs[i], pair(run, strs[i]));
    time_or_null(&w, "created_at", pair(run, "created_at"));
    time_or_null(&w, "finished_at", pair(run, "finished_at"));
    jw_jsonw_kstr(&w, "created_by", pair(run, "created_by"));
    jw_jsonw_key(&w, "steps");
    jw_jsonw_arr_open(&w);
    for (size_t i = 1; i + 3 < jw_reply_count(r); i += 4) {
        const char *run_id = jw_reply_str(jw_reply_at(r, i + 2), NULL);
        const char *status = jw_reply_str(jw_reply_at(r, i + 3), NULL);
        bool skipped = run_id && !strcmp(run_id, "skipped");
        jw_jsonw_obj_open(&w);
        jw_jsonw_kstr(&w, "key", jw_reply_str(jw_reply_at(r, i), NULL));
        jw_jsonw_kstr(&w, "job_id", jw_reply_str(jw_reply_at(r, i + 1), NULL));
        jw_jsonw_kstr(&w, "run_id", skipped ? NULL : run_id);
        jw_jsonw_kstr(&w, "status",
                      skipped   ? "skipped"
                      : !run_id ? "not_started"
                      : status  ? status
                                : "unknown");
        jw_jsonw_obj_close(&w);
    }
    jw_jsonw_arr_close(&w);
    jw_jsonw_obj_close(&w);
    wop_done(o, NULL);
}

void jw_workflows_run_get(struct jw_core *c, const char *tenant, const char *ref, const char *run_id,
                          jw_core_cb cb, void *arg)
{
    struct wop *o = wop_new(c, tenant, run_id, cb, arg);
    o->what = "workflow run";
    if (!jw_id_is_uuid(run_id)) {
        wop_not_found(o);
        return;
    }
    char id[JW_UUID_SIZE];
    jw_id_lower(run_id, id);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, ref);
    jw_args_adds(&a, id);
    wop_run(o, JW_LUA_WF_RUN_GET, &a, on_run);
}

static void on_triggered(struct wop *o, const struct jw_reply *r)
{
    struct jw_error e;
    if (jw_core_quota_error(r, &e)) {
        wop_done(o, &e);
        return;
    }
    if (!jw_reply_is(jw_reply_at(r, 0), "ok")) {
        wop_not_found(o);
        return;
    }
    jw_exec_start_members(o->c->exec, r, 3);
    /* answer with the run as it now stands */
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, jw_reply_str(jw_reply_at(r, 1), NULL));
    jw_args_adds(&a, o->run_id);
    snprintf(o->ref, sizeof(o->ref), "%s", o->run_id);
    o->what = "workflow run";
    wop_run(o, JW_LUA_WF_RUN_GET, &a, on_run);
}

void jw_workflows_trigger(struct jw_core *c, const struct jw_actor *a, const char *ref, jw_core_cb cb,
                          void *arg)
{
    struct wop *o = wop_new(c, a->tenant, ref, cb, arg);
    jw_id_new(o->run_id);
    struct jw_args args = JW_ARGS_INIT;
    jw_args_adds(&args, ref);
    jw_args_adds(&args, o->run_id);
    jw_args_addi(&args, jw_time_now_ms());
    jw_args_addi(&args, c->retention_ms);
    jw_args_adds(&args, a->who);
    jw_args_addi(&args, c->quotas.limit[JW_QUOTA_RUNS_PER_MINUTE]);
    jw_args_addi(&args, c->quotas.limit[JW_QUOTA_RUN_HISTORY]);
    wop_run(o, JW_LUA_WF_TRIGGER, &args, on_triggered);
}
