/* jobs: the job catalogue — create (single and batch), read, list, update
 * with versions, enable/disable, clone, delete, and dependencies. Each
 * change is one job_save/dep_* script call; updates are read-modify-write
 * with the version number as a compare-and-set, retried on a race. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobwheel/core.h"
#include "jobwheel/cron.h"
#include "jobwheel/id.h"
#include "jobwheel/log.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"
#include "jobwheel/tz.h"

#define CAS_RETRIES 32 /* each lost race means another writer succeeded */

struct op;
/* What to do with Redis's answer, once it is known to have come. */
typedef void (*step_fn)(struct op *o, const struct jw_reply *r);

/* One operation in flight. */
struct op {
    struct jw_core *c;
    jw_core_cb cb;
    jw_core_list_cb list_cb;
    void *arg;
    char tenant[40];
    char *who;
    char *ref;  /* job id or name */
    char *ref2; /* version ref / dependency id */
    const struct jw_json *input;
    struct jw_job *jobs; /* jobs being saved */
    size_t njobs;
    char **refs; /* set_enabled: the jobs named */
    size_t nrefs;
    bool enabled;
    bool array_result;
    /* Read phase of a read-modify-write; run again when job_save reports
     * that a job's version moved on meanwhile. NULL for creations. */
    void (*start)(struct op *o);
    int tries;
    step_fn next; /* the continuation of the script call in flight */
    struct jw_buf body;
};

static struct op *op_new(struct jw_core *c, const char *tenant, const char *who, jw_core_cb cb, void *arg)
{
    struct op *o = jw_calloc(1, sizeof(*o));
    o->c = c;
    o->cb = cb;
    o->arg = arg;
    snprintf(o->tenant, sizeof(o->tenant), "%s", tenant);
    o->who = jw_strdup(who ? who : "");
    return o;
}

static void free_jobs(struct op *o)
{
    for (size_t i = 0; i < o->njobs; i++)
        jw_job_free(&o->jobs[i]);
    free(o->jobs);
    o->jobs = NULL;
    o->njobs = 0;
}

static void op_free(struct op *o)
{
    free_jobs(o);
    for (size_t i = 0; i < o->nrefs; i++)
        free(o->refs[i]);
    free(o->refs);
    free(o->who);
    free(o->ref);
    free(o->ref2);
    jw_buf_free(&o->body);
    free(o);
}

static void op_done(struct op *o, const struct jw_error *err)
{
    if (o->list_cb)
        o->list_cb(o->arg, err, err ? NULL : &o->body, NULL);
    else
        o->cb(o->arg, err, err ? NULL : &o->body);
    op_free(o);
}

static void op_error(struct op *o, int status, const char *field, const char *detail)
{
    struct jw_error e;
    jw_fail(&e, status, field, "%s", detail);
    op_done(o, &e);
}

static void op_not_found(struct op *o, const char *what, const char *ref)
{
    struct jw_error e;
    jw_fail(&e, 404, "", "no such %s: %.200s", what, ref);
    op_done(o, &e);
}

static void op_store_fail(struct op *o, enum jw_store_status st)
{
    struct jw_error e;
    jw_core_store_error(st, &e);
    op_done(o, &e);
}

/* Every script call of this module ends here: a store failure ends the
 * operation (503), anything else goes to the step that asked. */
static void op_reply(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct op *o = arg;
    if (st != JW_STORE_OK) {
        op_store_fail(o, st);
        return;
    }
    o->next(o, r);
}

static void run(struct op *o, enum jw_lua_id id, struct jw_args *a, step_fn next)
{
    o->next = next;
    jw_store_eval(o->c->store, id, o->tenant, a, op_reply, o);
}

/* ---- validation that needs sched/ ------------------------------------------- */

static int check_cron(const struct jw_job *j, enum jw_job_field f, struct jw_error *err)
{
    if (!j->f[f].set)
        return 0;
    char why[200];
    struct jw_cron *cr = jw_cron_parse(j->f[f].s, why, sizeof(why));
    if (!cr)
        return jw_fail(err, 400, jw_job_field_name(f), "%s is not a valid cron expression: %s",
                       jw_job_field_name(f), why);
    jw_cron_free(cr);
    return 0;
}

static int check_schedule(const struct jw_job *j, struct jw_error *err)
{
    if (check_cron(j, JW_JOB_CRON, err) != 0 || check_cron(j, JW_JOB_EXECUTION_WINDOW_CRON, err) != 0)
        return -1;
    if (j->f[JW_JOB_TIMEZONE].set && !jw_tz_get(j->f[JW_JOB_TIMEZONE].s))
        return jw_fail(err, 400, "timezone", "timezone \"%.64s\" is not an IANA time zone name",
                       j->f[JW_JOB_TIMEZONE].s);
    return 0;
}

static void prefix_field(struct jw_error *err, size_t index)
{
    char f[sizeof(err->field)];
    snprintf(f, sizeof(f), "[%zu]%s%.*s", index, err->field[0] ? "." : "", (int)sizeof(err->field) - 32,
             err->field);
    memcpy(err->field, f, sizeof(f));
}

/* Stamp a job as a new version made now by who (and, when create, as new). */
static void stamp(struct jw_job *j, const char *who, int64_t now, bool create)
{
    char id[JW_UUID_SIZE];
    jw_id_new(id);
    jw_job_set_str(j, JW_JOB_VERSION_ID, id);
    jw_job_set_int(j, JW_JOB_VERSION, create ? 1 : j->f[JW_JOB_VERSION].i + 1);
    jw_job_set_int(j, JW_JOB_UPDATED_AT, now);
    jw_job_set_str(j, JW_JOB_UPDATED_BY, who);
    if (create) {
        jw_id_new(id);
        jw_job_set_str(j, JW_JOB_ID, id);
        jw_job_set_int(j, JW_JOB_CREATED_AT, now);
        jw_job_set_str(j, JW_JOB_CREATED_BY, who);
    }
}

/* Validate a decoded create/patch and its schedule. */
static int finish_input(struct jw_core *c, struct jw_job *j, struct jw_error *err)
{
    if (jw_job_complete(j, &c->rules, err) != 0 || check_schedule(j, err) != 0)
        return -1;
    return 0;
}

/* Parse a stored job JSON. */
static int load_stored(const char *json, size_t len, struct jw_job *j)
{
    char why[160];
    memset(j, 0, sizeof(*j));
    struct jw_json_doc *doc = jw_json_parse(json, len, 16, why, sizeof(why));
    if (!doc) {
        jw_error("store: a stored job is not valid JSON: %s", why);
        return -1;
    }
    struct jw_error err;
    int rc = jw_job_decode(j, jw_json_root(doc), JW_JOB_STORED, &err);
    jw_json_doc_free(doc);
    if (rc != 0)
        jw_error("store: a stored job does not decode: %s", err.detail);
    return rc;
}

/* ---- saving ------------------------------------------------------------------ */

/* job_save for o->jobs. expect[i] = the version each must still have (NULL:
 * all new). copy_secret_from: a job whose secret new jobs inherit (clone). */
static void save_jobs(struct op *o, const int64_t *expect, const char *copy_secret_from);

static void write_result(struct op *o)
{
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    if (o->refs) { /* set_enabled */
        jw_jsonw_obj_open(&w);
        jw_jsonw_kint(&w, "updated", (int64_t)o->njobs);
        jw_jsonw_key(&w, "jobs");
    }
    if (o->array_result || o->refs)
        jw_jsonw_arr_open(&w);
    for (size_t i = 0; i < o->njobs; i++)
        jw_job_write(&o->jobs[i], &w, true);
    if (o->array_result || o->refs)
        jw_jsonw_arr_close(&w);
    if (o->refs)
        jw_jsonw_obj_close(&w);
}

static void on_saved(struct op *o, const struct jw_reply *r)
{
    const struct jw_reply *word = jw_reply_at(r, 0);
    size_t n;
    const char *field = jw_reply_str(jw_reply_at(r, 1), &n);
    const char *val = jw_reply_str(jw_reply_at(r, 2), &n);
    struct jw_error e;
    if (jw_reply_is(word, "ok")) {
        write_result(o);
        op_done(o, NULL);
    } else if (jw_reply_is(word, "version") && o->start && ++o->tries < CAS_RETRIES) {
        /* another writer changed the job after we read it: read and apply again */
        free_jobs(o);
        o->start(o);
    } else if (jw_reply_is(word, "version")) {
        op_error(o, 409, "", "the job kept changing while this request was applied; retry");
    } else if (jw_reply_is(word, "conflict") && field && val) {
        jw_fail(&e, 409, field, "a job with %s \"%.200s\" already exists", field, val);
        op_done(o, &e);
    } else if (jw_reply_is(word, "notfound")) {
        op_not_found(o, "job", o->ref ? o->ref : (val ? val : ""));
    } else {
        op_error(o, 500, "", "unexpected answer from the job store");
    }
}

static void save_jobs(struct op *o, const int64_t *expect, const char *copy_secret_from)
{
    struct jw_args a = JW_ARGS_INIT;
    for (size_t i = 0; i < o->njobs; i++) {
        struct jw_job *j = &o->jobs[i];
        struct jw_buf json = JW_BUF_INIT;
        jw_job_encode(j, &json, false);
        jw_args_adds(&a, j->f[JW_JOB_ID].s);
        jw_args_addi(&a, expect ? expect[i] : 0);
        jw_args_addi(&a, j->f[JW_JOB_CREATED_AT].i);
        jw_args_add(&a, json.data, json.len);
        if (j->secret_clear)
            jw_args_adds(&a, j->secret_clear);
        else if (j->secret_removed)
            jw_args_adds(&a, "-");
        else if (copy_secret_from)
            jw_args_addf(&a, "=%s", copy_secret_from);
        else
            jw_args_adds(&a, "");
        jw_buf_free(&json);
    }
    run(o, JW_LUA_JOB_SAVE, &a, on_saved);
}

/* Run a script whose ARGV is the job reference, then extra (if any). */
static void eval_ref(struct op *o, enum jw_lua_id id, const char *extra, step_fn next)
{
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, o->ref);
    if (extra)
        jw_args_adds(&a, extra);
    run(o, id, &a, next);
}

/* o->body = a JSON array of the reply's elements from index `from` on. */
static void body_array(struct op *o, const struct jw_reply *r, size_t from)
{
    jw_buf_putc(&o->body, '[');
    for (size_t i = from; i < jw_reply_count(r); i++) {
        size_t n;
        const char *json = jw_reply_str(jw_reply_at(r, i), &n);
        if (i > from)
            jw_buf_putc(&o->body, ',');
        jw_buf_append(&o->body, json, n);
    }
    jw_buf_putc(&o->body, ']');
}

static void get_refs(struct op *o, char *const *refs, size_t n, step_fn next)
{
    struct jw_args a = JW_ARGS_INIT;
    for (size_t i = 0; i < n; i++)
        jw_args_adds(&a, refs[i]);
    run(o, JW_LUA_JOB_GET, &a, next);
}

/* ---- create ---------------------------------------------------------------- */

static int build_new(struct jw_core *c, const char *who, const struct jw_json *obj, int64_t now,
                     struct jw_job *j, struct jw_error *err)
{
    memset(j, 0, sizeof(*j));
    if (jw_job_decode(j, obj, JW_JOB_CREATE, err) != 0 || finish_input(c, j, err) != 0)
        return -1;
    stamp(j, who, now, true);
    return 0;
}

void jw_jobs_create(struct jw_core *c, const struct jw_actor *a, const struct jw_json *obj, jw_core_cb cb,
                    void *arg)
{
    struct op *o = op_new(c, a->tenant, a->who, cb, arg);
    o->jobs = jw_calloc(1, sizeof(struct jw_job));
    o->njobs = 1;
    struct jw_error e;
    if (build_new(c, a->who, obj, jw_time_now_ms(), &o->jobs[0], &e) != 0) {
        op_done(o, &e);
        return;
    }
    save_jobs(o, NULL, NULL);
}

void jw_jobs_create_batch(struct jw_core *c, const struct jw_actor *a, const struct jw_json *arr,
                          jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, a->tenant, a->who, cb, arg);
    o->array_result = true;
    struct jw_error e;
    if (!arr || arr->type != JW_JSON_ARRAY) {
        op_error(o, 400, "", "the body must be a JSON array of jobs");
        return;
    }
    if (arr->len == 0 || arr->len > JW_BATCH_MAX) {
        jw_fail(&e, 400, "", "a batch holds 1 to %d jobs, got %zu", JW_BATCH_MAX, arr->len);
        op_done(o, &e);
        return;
    }
    o->jobs = jw_calloc(arr->len, sizeof(struct jw_job));
    int64_t now = jw_time_now_ms();
    for (size_t i = 0; i < arr->len; i++) {
        o->njobs = i + 1;
        if (build_new(c, a->who, arr->u.items[i], now, &o->jobs[i], &e) != 0) {
            prefix_field(&e, i);
            op_done(o, &e);
            return;
        }
    }
    save_jobs(o, NULL, NULL);
}

/* ---- get ----------------------------------------------------------------------- */

static void on_got(struct op *o, const struct jw_reply *r)
{
    size_t n;
    const char *json = jw_reply_str(jw_reply_at(r, 0), &n);
    if (!json) {
        op_not_found(o, "job", o->ref);
        return;
    }
    jw_buf_append(&o->body, json, n);
    op_done(o, NULL);
}

void jw_jobs_get(struct jw_core *c, const char *tenant, const char *ref, jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, tenant, NULL, cb, arg);
    o->ref = jw_strdup(ref);
    get_refs(o, &o->ref, 1, on_got);
}

/* ---- update ----------------------------------------------------------------------- */

static void on_update_read(struct op *o, const struct jw_reply *r)
{
    size_t n;
    const char *json = jw_reply_str(jw_reply_at(r, 0), &n);
    if (!json) {
        op_not_found(o, "job", o->ref);
        return;
    }
    struct jw_job cur;
    if (load_stored(json, n, &cur) != 0) {
        op_error(o, 500, "", "the stored job is damaged");
        return;
    }
    o->jobs = jw_calloc(1, sizeof(struct jw_job));
    o->njobs = 1;
    struct jw_job *j = &o->jobs[0];
    jw_job_copy(j, &cur);
    struct jw_error e;
    if (jw_job_decode(j, o->input, JW_JOB_PATCH, &e) != 0 || finish_input(o->c, j, &e) != 0) {
        jw_job_free(&cur);
        op_done(o, &e);
        return;
    }
    if (!jw_job_differs(&cur, j)) { /* nothing changes: no new version */
        jw_job_free(&cur);
        jw_buf_append(&o->body, json, n);
        op_done(o, NULL);
        return;
    }
    int64_t expect = cur.f[JW_JOB_VERSION].i;
    jw_job_free(&cur);
    stamp(j, o->who, jw_time_now_ms(), false);
    save_jobs(o, &expect, NULL);
}

static void update_start(struct op *o)
{
    get_refs(o, &o->ref, 1, on_update_read);
}

void jw_jobs_update(struct jw_core *c, const struct jw_actor *a, const char *ref, const struct jw_json *patch,
                    jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, a->tenant, a->who, cb, arg);
    o->ref = jw_strdup(ref);
    o->input = patch;
    o->start = update_start;
    if (!patch || patch->type != JW_JSON_OBJECT) {
        op_error(o, 400, "", "the body must be a JSON object");
        return;
    }
    update_start(o);
}

/* ---- enable / disable ----------------------------------------------------------------- */

static void on_enable_read(struct op *o, const struct jw_reply *r)
{
    o->jobs = jw_calloc(o->nrefs, sizeof(struct jw_job));
    int64_t *expect = jw_calloc(o->nrefs, sizeof(int64_t));
    int64_t now = jw_time_now_ms();
    for (size_t i = 0; i < o->nrefs; i++) {
        size_t n;
        const char *json = jw_reply_str(jw_reply_at(r, i), &n);
        if (!json) {
            free(expect);
            op_not_found(o, "job", o->refs[i]);
            return;
        }
        o->njobs = i + 1;
        if (load_stored(json, n, &o->jobs[i]) != 0) {
            free(expect);
            op_error(o, 500, "", "a stored job is damaged");
            return;
        }
        for (size_t k = 0; k < i; k++)
            if (!strcmp(o->jobs[k].f[JW_JOB_ID].s, o->jobs[i].f[JW_JOB_ID].s)) {
                struct jw_error e;
                jw_fail(&e, 400, "ids", "job %.100s is listed twice", o->refs[i]);
                free(expect);
                op_done(o, &e);
                return;
            }
        expect[i] = o->jobs[i].f[JW_JOB_VERSION].i;
    }
    /* only jobs whose state changes get a new version */
    size_t keep = 0;
    for (size_t i = 0; i < o->njobs; i++) {
        struct jw_job *j = &o->jobs[i];
        if (j->f[JW_JOB_ENABLED].b == o->enabled) {
            jw_job_free(j);
            continue;
        }
        j->f[JW_JOB_ENABLED].b = o->enabled;
        stamp(j, o->who, now, false);
        expect[keep] = expect[i];
        o->jobs[keep++] = *j;
    }
    o->njobs = keep;
    if (keep == 0) {
        free(expect);
        write_result(o);
        op_done(o, NULL);
        return;
    }
    save_jobs(o, expect, NULL);
    free(expect);
}

static void enable_start(struct op *o)
{
    get_refs(o, o->refs, o->nrefs, on_enable_read);
}

void jw_jobs_set_enabled(struct jw_core *c, const struct jw_actor *a, const char *const *refs, size_t n,
                         bool enabled, jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, a->tenant, a->who, cb, arg);
    o->enabled = enabled;
    o->start = enable_start;
    o->refs = jw_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        o->refs[i] = jw_strdup(refs[i]);
    o->nrefs = n;
    enable_start(o);
}

/* ---- delete ----------------------------------------------------------------------------- */

static void on_deleted(struct op *o, const struct jw_reply *r)
{
    size_t n;
    const char *id = jw_reply_str(r, &n);
    if (!id) {
        op_not_found(o, "job", o->ref);
        return;
    }
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "id", id);
    jw_jsonw_obj_close(&w);
    op_done(o, NULL);
}

void jw_jobs_delete(struct jw_core *c, const char *tenant, const char *ref, jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, tenant, NULL, cb, arg);
    o->ref = jw_strdup(ref);
    eval_ref(o, JW_LUA_JOB_DELETE, NULL, on_deleted);
}

/* ---- clone ----------------------------------------------------------------------------- */

static void on_clone_read(struct op *o, const struct jw_reply *r)
{
    size_t n;
    const char *json = jw_reply_str(jw_reply_at(r, 0), &n);
    if (!json) {
        op_not_found(o, "job", o->ref);
        return;
    }
    o->jobs = jw_calloc(1, sizeof(struct jw_job));
    o->njobs = 1;
    struct jw_job *j = &o->jobs[0];
    if (load_stored(json, n, j) != 0) {
        op_error(o, 500, "", "the stored job is damaged");
        return;
    }
    char source_id[JW_UUID_SIZE];
    snprintf(source_id, sizeof(source_id), "%s", j->f[JW_JOB_ID].s);
    const struct jw_json *ov = o->input;
    /* the copy's name and slug: "<name> (copy)" and a slug derived from it,
     * unless the request says otherwise */
    if (!jw_json_get(ov, "name")) {
        struct jw_buf name = JW_BUF_INIT;
        jw_buf_printf(&name, "%.190s (copy)", j->f[JW_JOB_NAME].s);
        jw_job_set_str(j, JW_JOB_NAME, jw_buf_str(&name));
        jw_buf_free(&name);
    }
    if (!jw_json_get(ov, "slug"))
        jw_job_set_str(j, JW_JOB_SLUG, NULL);
    struct jw_error e;
    if ((ov && jw_job_decode(j, ov, JW_JOB_PATCH, &e) != 0) || finish_input(o->c, j, &e) != 0) {
        op_done(o, &e);
        return;
    }
    stamp(j, o->who, jw_time_now_ms(), true);
    save_jobs(o, NULL, j->secret_clear || j->secret_removed ? NULL : source_id);
}

void jw_jobs_clone(struct jw_core *c, const struct jw_actor *a, const char *ref,
                   const struct jw_json *overrides, jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, a->tenant, a->who, cb, arg);
    o->ref = jw_strdup(ref);
    o->input = overrides;
    if (overrides && overrides->type != JW_JSON_OBJECT) {
        op_error(o, 400, "", "the body must be a JSON object");
        return;
    }
    get_refs(o, &o->ref, 1, on_clone_read);
}

/* ---- versions --------------------------------------------------------------------------- */

/* One version object in seed 002's shape. */
static void write_version(struct jw_jsonw *w, const struct jw_job *j)
{
    static const enum jw_job_field shown[] = {
        JW_JOB_NAME,           JW_JOB_SLUG,         JW_JOB_DESCRIPTION,  JW_JOB_CRON,
        JW_JOB_PAYLOAD_SCHEMA, JW_JOB_TAGS,         JW_JOB_ENDPOINT_URL, JW_JOB_FALLBACK_ENDPOINT_URL,
        JW_JOB_MAX_ATTEMPTS,   JW_JOB_TIMEOUT_SECS, JW_JOB_WEBHOOK_URL,  JW_JOB_WEBHOOK_SECRET,
        JW_JOB_RUN_TTL_SECS,
    };
    struct jw_buf full = JW_BUF_INIT;
    jw_job_encode(j, &full, false);
    char why[64];
    struct jw_json_doc *doc = jw_json_parse(full.data, full.len, 16, why, sizeof(why));
    jw_buf_free(&full);
    jw_jsonw_obj_open(w);
    jw_jsonw_kstr(w, "id", j->f[JW_JOB_VERSION_ID].s);
    jw_jsonw_kstr(w, "job_id", j->f[JW_JOB_ID].s);
    jw_jsonw_kint(w, "version", j->f[JW_JOB_VERSION].i);
    for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++) {
        const char *name = jw_job_field_name(shown[i]);
        jw_jsonw_key(w, name);
        jw_jsonw_value(w, doc ? jw_json_get(jw_json_root(doc), name) : NULL);
    }
    jw_jsonw_ktime(w, "created_at", j->f[JW_JOB_UPDATED_AT].i);
    jw_jsonw_kstr(w, "created_by", j->f[JW_JOB_UPDATED_BY].s);
    jw_jsonw_obj_close(w);
    jw_json_doc_free(doc);
}

static void on_versions(struct op *o, const struct jw_reply *r)
{
    size_t count = jw_reply_count(r);
    if (jw_reply_type(r) != JW_REPLY_ARRAY || count == 0) {
        op_not_found(o, "job", o->ref);
        return;
    }
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    if (!o->ref2)
        jw_jsonw_arr_open(&w);
    bool found = false;
    /* element 0 is the current version, then the older ones oldest first:
     * newest first is 0, count-1, count-2, … 1 */
    for (size_t k = 0; k < count; k++) {
        size_t idx = k == 0 ? 0 : count - k;
        size_t n;
        const char *json = jw_reply_str(jw_reply_at(r, idx), &n);
        struct jw_job j;
        if (!json || load_stored(json, n, &j) != 0)
            continue;
        bool match = true;
        if (o->ref2) {
            char num[24];
            snprintf(num, sizeof(num), "%lld", (long long)j.f[JW_JOB_VERSION].i);
            match = (j.f[JW_JOB_VERSION_ID].s && !strcasecmp(j.f[JW_JOB_VERSION_ID].s, o->ref2)) ||
                    !strcmp(num, o->ref2);
        }
        if (match && !found) {
            write_version(&w, &j);
            found = o->ref2 != NULL;
        }
        jw_job_free(&j);
    }
    if (!o->ref2)
        jw_jsonw_arr_close(&w);
    if (o->ref2 && !found) {
        op_not_found(o, "version", o->ref2);
        return;
    }
    op_done(o, NULL);
}

void jw_jobs_versions(struct jw_core *c, const char *tenant, const char *ref, const char *version_ref,
                      jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, tenant, NULL, cb, arg);
    o->ref = jw_strdup(ref);
    o->ref2 = version_ref ? jw_strdup(version_ref) : NULL;
    eval_ref(o, JW_LUA_JOB_VERSIONS, NULL, on_versions);
}

/* ---- list ------------------------------------------------------------------------------- */

static void on_listed(struct op *o, const struct jw_reply *r)
{
    size_t count = jw_reply_count(r);
    if (count < 3) {
        op_error(o, 500, "", "unexpected answer from the job store");
        return;
    }
    body_array(o, r, 3);
    char cursor[128] = "";
    bool more = jw_reply_is(jw_reply_at(r, 0), "1") || jw_reply_int(jw_reply_at(r, 0)) == 1;
    if (more) {
        size_t n;
        const char *score = jw_reply_str(jw_reply_at(r, 1), &n);
        const char *id = jw_reply_str(jw_reply_at(r, 2), &n);
        char t[JW_TIME_ISO_SIZE];
        jw_time_format(score ? strtoll(score, NULL, 10) : 0, t);
        snprintf(cursor, sizeof(cursor), "%s|%s", t, id ? id : "");
    }
    o->list_cb(o->arg, NULL, &o->body, more ? cursor : NULL);
    o->list_cb = NULL;
    o->cb = NULL;
    op_free(o);
}

/* "<ISO time>|<uuid>" → score (ms) and id. */
static int parse_cursor(const char *cursor, int64_t *score, char id[JW_UUID_SIZE])
{
    const char *bar = strchr(cursor, '|');
    if (!bar || (size_t)(bar - cursor) >= JW_TIME_ISO_SIZE)
        return -1;
    char t[JW_TIME_ISO_SIZE];
    memcpy(t, cursor, (size_t)(bar - cursor));
    t[bar - cursor] = '\0';
    if (jw_time_parse(t, score) != 0 || !jw_id_is_uuid(bar + 1))
        return -1;
    jw_id_lower(bar + 1, id);
    return 0;
}

void jw_jobs_list(struct jw_core *c, const char *tenant, const struct jw_job_filter *f, jw_core_list_cb cb,
                  void *arg)
{
    struct op *o = op_new(c, tenant, NULL, NULL, arg);
    o->list_cb = cb;
    struct jw_args a = JW_ARGS_INIT;
    if (f->cursor && f->cursor[0]) {
        int64_t score;
        char id[JW_UUID_SIZE];
        if (parse_cursor(f->cursor, &score, id) != 0) {
            jw_args_free(&a);
            op_error(o, 400, "cursor", "cursor is not one this server gave out");
            return;
        }
        jw_args_addi(&a, score);
        jw_args_adds(&a, id);
    } else {
        jw_args_adds(&a, "");
        jw_args_adds(&a, "");
    }
    jw_args_addi(&a, f->limit);
    jw_args_adds(&a, f->project_id);
    jw_args_adds(&a, f->group_id);
    const char *tag = f->tag ? f->tag : "";
    const char *colon = strchr(tag, ':');
    if (colon) {
        jw_args_add(&a, tag, (size_t)(colon - tag));
        jw_args_adds(&a, colon + 1);
    } else {
        jw_args_adds(&a, tag);
        jw_args_adds(&a, "");
    }
    jw_args_adds(&a, f->enabled);
    run(o, JW_LUA_JOB_LIST, &a, on_listed);
}

/* ---- dependencies --------------------------------------------------------------------------- */

static const char *condition_name(const char *s)
{
    static const struct {
        const char *in, *out;
    } map[] = {
        {"AllSucceeded", "AllSucceeded"}, {"all_succeeded", "AllSucceeded"},
        {"success", "AllSucceeded"},      {"succeeded", "AllSucceeded"},
        {"AnySucceeded", "AnySucceeded"}, {"any_succeeded", "AnySucceeded"},
        {"any_success", "AnySucceeded"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i].in, s))
            return map[i].out;
    return NULL;
}

static void on_dep_created(struct op *o, const struct jw_reply *r)
{
    const struct jw_reply *word = jw_reply_at(r, 0);
    size_t n;
    const char *s1 = jw_reply_str(jw_reply_at(r, 1), &n);
    struct jw_error e;
    if (jw_reply_is(word, "ok") && s1) {
        jw_buf_append(&o->body, s1, n);
        op_done(o, NULL);
    } else if (jw_reply_is(word, "notfound") && s1 && !strcmp(s1, "job")) {
        op_not_found(o, "job", o->ref);
    } else if (jw_reply_is(word, "notfound")) {
        jw_fail(&e, 404, "depends_on_job_id", "no such job: %.200s", o->ref2);
        op_done(o, &e);
    } else if (jw_reply_is(word, "conflict")) {
        jw_fail(&e, 409, "depends_on_job_id", "this dependency already exists (%.40s)", s1 ? s1 : "");
        op_done(o, &e);
    } else if (jw_reply_is(word, "cycle")) {
        op_error(o, 400, "depends_on_job_id", "this dependency would make a cycle");
    } else if (jw_reply_is(word, "limit")) {
        op_error(o, 400, "depends_on_job_id", "a job may depend on at most 100 jobs");
    } else {
        op_error(o, 500, "", "unexpected answer from the job store");
    }
}

void jw_deps_create(struct jw_core *c, const char *tenant, const char *job_ref, const struct jw_json *obj,
                    jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, tenant, NULL, cb, arg);
    o->ref = jw_strdup(job_ref);
    if (!obj || obj->type != JW_JSON_OBJECT) {
        op_error(o, 400, "", "the body must be a JSON object");
        return;
    }
    for (size_t i = 0; i < obj->len; i++) {
        const char *k = obj->u.members[i].key;
        if (strcmp(k, "depends_on_job_id") && strcmp(k, "condition")) {
            struct jw_error e;
            jw_fail(&e, 400, k, "unknown field \"%.60s\"", k);
            op_done(o, &e);
            return;
        }
    }
    const struct jw_json *on = jw_json_get(obj, "depends_on_job_id");
    const struct jw_json *cond = jw_json_get(obj, "condition");
    if (!on || on->type != JW_JSON_STRING || on->len == 0 || on->len > 200) {
        op_error(o, 400, "depends_on_job_id", "depends_on_job_id is required: the id or name of a job");
        return;
    }
    const char *condition = "AllSucceeded";
    if (cond && cond->type != JW_JSON_NULL) {
        condition = cond->type == JW_JSON_STRING ? condition_name(cond->u.str) : NULL;
        if (!condition) {
            op_error(o, 400, "condition", "condition must be AllSucceeded or AnySucceeded");
            return;
        }
    }
    o->ref2 = jw_strdup(on->u.str);
    char id[JW_UUID_SIZE];
    jw_id_new(id);
    struct jw_buf json = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &json);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "id", id);
    jw_jsonw_kstr(&w, "job_id", "JOB_ID");
    jw_jsonw_kstr(&w, "depends_on_job_id", "DEPENDS_ON_ID");
    jw_jsonw_kstr(&w, "condition", condition);
    jw_jsonw_ktime(&w, "created_at", jw_time_now_ms());
    jw_jsonw_obj_close(&w);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, job_ref);
    jw_args_adds(&a, on->u.str);
    jw_args_adds(&a, id);
    jw_args_add(&a, json.data, json.len);
    jw_buf_free(&json);
    run(o, JW_LUA_DEP_CREATE, &a, on_dep_created);
}

static void on_dep_listed(struct op *o, const struct jw_reply *r)
{
    if (jw_reply_type(r) != JW_REPLY_ARRAY) {
        op_not_found(o, "job", o->ref);
        return;
    }
    body_array(o, r, 0);
    op_done(o, NULL);
}

void jw_deps_list(struct jw_core *c, const char *tenant, const char *job_ref, jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, tenant, NULL, cb, arg);
    o->ref = jw_strdup(job_ref);
    eval_ref(o, JW_LUA_DEP_LIST, NULL, on_dep_listed);
}

static void on_dep_deleted(struct op *o, const struct jw_reply *r)
{
    if (jw_reply_is(r, "ok"))
        op_done(o, NULL);
    else if (jw_reply_is(r, "nojob"))
        op_not_found(o, "job", o->ref);
    else
        op_not_found(o, "dependency", o->ref2);
}

void jw_deps_delete(struct jw_core *c, const char *tenant, const char *job_ref, const char *dep_id,
                    jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, tenant, NULL, cb, arg);
    o->ref = jw_strdup(job_ref);
    o->ref2 = jw_strdup(dep_id);
    eval_ref(o, JW_LUA_DEP_DELETE, dep_id, on_dep_deleted);
}
