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

#define KEY_MAX 64
#define NAME_MAX_LEN 200
#define DESCRIPTION_MAX 2000

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

/* ---- validation ---------------------------------------------------------------- */

static bool key_chars(const char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-'))
            return false;
    return true;
}

static bool text_ok(const struct jw_json *v, size_t max)
{
    if (v->type != JW_JSON_STRING || v->len == 0 || v->len > max)
        return false;
    for (size_t i = 0; i < v->len; i++)
        if ((unsigned char)v->u.str[i] < 0x20 || v->u.str[i] == 0x7f)
            return false;
    return true;
}

static int unknown_fields(const struct jw_json *obj, const char *const *known, const char *prefix,
                          struct jw_error *err)
{
    for (size_t i = 0; i < obj->len; i++) {
        const char *k = obj->u.members[i].key;
        bool ok = false;
        for (const char *const *n = known; *n && !ok; n++)
            ok = !strcmp(*n, k);
        if (!ok)
            return jw_fail(err, 400, k, "unknown field \"%s%.60s\"", prefix, k);
    }
    return 0;
}

static int step_index(const struct jw_json *steps, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(jw_json_get(steps->u.items[i], "key")->u.str, key))
            return (int)i;
    return -1;
}

/* One step: its own fields, then its prerequisites among steps[0..n). */
static int check_step(const struct jw_json *steps, size_t i, struct jw_error *err)
{
    static const char *const known[] = {"key", "job_id", "depends_on", "condition", NULL};
    const struct jw_json *s = steps->u.items[i];
    if (s->type != JW_JSON_OBJECT)
        return jw_fail(err, 400, "", "a step must be an object {key, job_id, depends_on, condition}");
    if (unknown_fields(s, known, "", err) != 0)
        return -1;
    const struct jw_json *key = jw_json_get(s, "key");
    if (!key || key->type != JW_JSON_STRING || key->len == 0 || key->len > KEY_MAX || !key_chars(key->u.str))
        return jw_fail(err, 400, "key", "key is required: 1 to %d letters, digits, _ or -", KEY_MAX);
    if (step_index(steps, i, key->u.str) >= 0)
        return jw_fail(err, 400, "key", "two steps have the key \"%s\"", key->u.str);
    const struct jw_json *job = jw_json_get(s, "job_id");
    if (!job || !text_ok(job, NAME_MAX_LEN))
        return jw_fail(err, 400, "job_id", "job_id is required: the id or name of a job");
    const struct jw_json *cond = jw_json_get(s, "condition");
    if (cond && cond->type != JW_JSON_NULL &&
        (cond->type != JW_JSON_STRING || !jw_core_condition(cond->u.str)))
        return jw_fail(err, 400, "condition", "condition must be AllSucceeded or AnySucceeded");
    const struct jw_json *deps = jw_json_get(s, "depends_on");
    if (deps && deps->type != JW_JSON_NULL && deps->type != JW_JSON_ARRAY)
        return jw_fail(err, 400, "depends_on", "depends_on must be an array of step keys");
    return 0;
}

/* Prerequisites name other steps, once each, and the steps make no cycle
 * (Kahn: repeatedly settle the steps whose prerequisites are settled). */
static int check_graph(const struct jw_json *steps, struct jw_error *err)
{
    size_t n = steps->len;
    int *left = jw_calloc(n, sizeof(int));
    bool *done = jw_calloc(n, sizeof(bool));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct jw_json *deps = jw_json_get(steps->u.items[i], "depends_on");
        for (size_t d = 0; deps && deps->type == JW_JSON_ARRAY && d < deps->len && rc == 0; d++) {
            const struct jw_json *k = deps->u.items[d];
            int at = k->type == JW_JSON_STRING ? step_index(steps, n, k->u.str) : -1;
            if (at < 0)
                rc = jw_fail(err, 400, "depends_on", "depends_on[%zu] is not the key of a step", d);
            else if ((size_t)at == i)
                rc = jw_fail(err, 400, "depends_on", "a step cannot depend on itself");
            for (size_t e = 0; e < d && rc == 0; e++)
                if (deps->u.items[e]->type == JW_JSON_STRING && !strcmp(deps->u.items[e]->u.str, k->u.str))
                    rc = jw_fail(err, 400, "depends_on", "depends_on names \"%s\" twice", k->u.str);
            left[i]++;
        }
        if (rc != 0) {
            char f[sizeof(err->field)];
            snprintf(f, sizeof(f), "steps[%zu].%.40s", i, err->field);
            memcpy(err->field, f, sizeof(f));
        }
    }
    for (size_t settled = 0, progress = 1; rc == 0 && progress;) {
        progress = 0;
        for (size_t i = 0; i < n; i++) {
            if (done[i] || left[i] > 0)
                continue;
            done[i] = true;
            settled++;
            progress = 1;
            const char *key = jw_json_get(steps->u.items[i], "key")->u.str;
            for (size_t j = 0; j < n; j++) {
                const struct jw_json *deps = jw_json_get(steps->u.items[j], "depends_on");
                for (size_t d = 0; deps && deps->type == JW_JSON_ARRAY && d < deps->len; d++)
                    if (!strcmp(deps->u.items[d]->u.str, key))
                        left[j]--;
            }
        }
        if (!progress && settled < n)
            rc = jw_fail(err, 400, "steps", "the steps' depends_on make a cycle");
    }
    free(left);
    free(done);
    return rc;
}

static int check_workflow(const struct jw_json *obj, struct jw_error *err)
{
    static const char *const known[] = {"name", "description", "steps", NULL};
    if (!obj || obj->type != JW_JSON_OBJECT)
        return jw_fail(err, 400, "", "the body must be a JSON object");
    if (unknown_fields(obj, known, "", err) != 0)
        return -1;
    const struct jw_json *name = jw_json_get(obj, "name");
    if (!name || !text_ok(name, NAME_MAX_LEN))
        return jw_fail(err, 400, "name", "name is required: 1 to %d characters, no control characters",
                       NAME_MAX_LEN);
    const struct jw_json *desc = jw_json_get(obj, "description");
    if (desc && desc->type != JW_JSON_NULL && (desc->type != JW_JSON_STRING || desc->len > DESCRIPTION_MAX))
        return jw_fail(err, 400, "description", "description must be a string of at most %d characters",
                       DESCRIPTION_MAX);
    const struct jw_json *steps = jw_json_get(obj, "steps");
    if (!steps || steps->type != JW_JSON_ARRAY || steps->len == 0 || steps->len > JW_WORKFLOW_STEPS_MAX)
        return jw_fail(err, 400, "steps", "steps is required: an array of 1 to %d steps",
                       JW_WORKFLOW_STEPS_MAX);
    for (size_t i = 0; i < steps->len; i++)
        if (check_step(steps, i, err) != 0) {
            char f[sizeof(err->field)];
            snprintf(f, sizeof(f), "steps[%zu]%s%.40s", i, err->field[0] ? "." : "", err->field);
            memcpy(err->field, f, sizeof(f));
            return -1;
        }
    return check_graph(steps, err);
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
    if (check_workflow(obj, &e) != 0) {
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
                      cond && cond->type == JW_JSON_STRING ? jw_core_condition(cond->u.str) : "AllSucceeded");
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
