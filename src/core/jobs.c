/* jobs: the job catalogue — create (single and batch), read, list, update
 * with versions, enable/disable, clone, delete, and dependencies. Each
 * change is one job_save/dep_* script call; updates are read-modify-write
 * with the version number as a compare-and-set, retried on a race. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobwheel/core.h"
#include "jobwheel/scheduler.h"
#include "jobwheel/id.h"
#include "jobwheel/log.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"

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
    int64_t *dues;       /* per job: DUE_KEEP, DUE_NONE or the next firing (ms) */
    size_t njobs;
    char **refs; /* set_enabled: the jobs named */
    size_t nrefs;
    bool enabled;
    bool array_result;
    bool last_runs; /* query: each job's newest run too */
    /* update: the request names a StoredProcedure function the stored job
     * did not call (creations always ask; see asks_function) */
    bool new_function;
    bool creating;       /* save_jobs: every job is new */
    struct jw_args save; /* job_save's arguments while FUNCTION LIST is asked */
    /* Read phase of a read-modify-write; run again when job_save reports
     * that a job's version moved on meanwhile. NULL for creations. */
    void (*start)(struct op *o);
    /* How an update changes the job it read (the request's patch by default). */
    int (*apply)(struct op *o, struct jw_job *j, const struct jw_job *cur, int64_t now, struct jw_error *err);
    int64_t due_from;          /* first firing computed from here (0 = now) */
    struct jw_json_doc *owned; /* a document the op made for itself */
    int64_t count;             /* schedule preview: how many firings */
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

#define DUE_KEEP (-2) /* the schedule did not change: leave the due set alone */
#define DUE_NONE (-1) /* no firing */

static void free_jobs(struct op *o)
{
    for (size_t i = 0; i < o->njobs; i++)
        jw_job_free(&o->jobs[i]);
    free(o->jobs);
    free(o->dues);
    o->jobs = NULL;
    o->dues = NULL;
    o->njobs = 0;
}

/* Room for n jobs being saved. */
static void alloc_jobs(struct op *o, size_t n)
{
    o->jobs = jw_calloc(n ? n : 1, sizeof(struct jw_job));
    o->dues = jw_calloc(n ? n : 1, sizeof(int64_t));
    o->njobs = n;
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
    jw_json_doc_free(o->owned);
    jw_buf_free(&o->body);
    jw_args_free(&o->save);
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

/* ---- schedules ------------------------------------------------------------ */

/* Validate the job's schedule and fix its next firing (dues[i]) from now:
 * when the timing changed (or the job is new), else keep what is due. */
static int plan_due(struct op *o, size_t i, const struct jw_job *before, int64_t now, struct jw_error *err)
{
    struct jw_job *j = &o->jobs[i];
    /* an interval runs from when it was set, unless the job says */
    if (j->f[JW_JOB_INTERVAL_SECONDS].set && !j->f[JW_JOB_START_AT].set)
        jw_job_set_int(j, JW_JOB_START_AT, now);
    struct jw_schedule *sch = jw_job_schedule(j, err);
    if (!sch)
        return -1;
    if (o->due_from > now)
        now = o->due_from;
    if (before && !jw_job_timing_differs(before, j)) {
        o->dues[i] = DUE_KEEP;
        j->has_next = before->has_next;
        j->next_run_at = before->next_run_at;
    } else {
        int64_t due = jw_job_first_due(j, sch, now);
        o->dues[i] = due < 0 ? DUE_NONE : due;
        j->has_next = due >= 0;
        j->next_run_at = due;
    }
    jw_schedule_free(sch);
    return 0;
}

/* A job's body checked whole, decoded says whether it was decoded well:
 * completed and its schedule planned even when not, so every bad field is
 * reported at once (a later step adds only fields not named yet). */
static int check_job(struct op *o, size_t i, const struct jw_job *before, int64_t now, bool decoded,
                     struct jw_error *err)
{
    struct jw_checks c = {.err = err, .bad = !decoded};
    if (jw_job_complete(&o->jobs[i], &o->c->rules, jw_checks_into(&c)) != 0)
        jw_checks_failed(&c);
    if (plan_due(o, i, before, now, jw_checks_into(&c)) != 0)
        jw_checks_failed(&c);
    return c.bad ? -1 : 0;
}

static void prefix_one(char *field, size_t size, size_t index)
{
    char f[128];
    snprintf(f, sizeof(f), "[%zu]%s%.*s", index, field[0] ? "." : "", (int)size - 32, field);
    size_t n = strlen(f) < size ? strlen(f) : size - 1;
    memcpy(field, f, n);
    field[n] = '\0';
}

static void prefix_field(struct jw_error *err, size_t index)
{
    prefix_one(err->field, sizeof(err->field), index);
    for (int k = 0; k < err->nmore; k++)
        prefix_one(err->more[k].field, sizeof(err->more[k].field), index);
}

/* Stamp a job as a new version made now by who (and, when create, as new:
 * its first version is known by the job's own id, and it was made in the
 * millisecond its id says, so the stored form need not repeat either). */
static void stamp(struct jw_job *j, const char *who, int64_t now, bool create)
{
    char id[JW_UUID_SIZE];
    jw_id_new(id);
    jw_job_set_str(j, JW_JOB_VERSION_ID, id);
    jw_job_set_int(j, JW_JOB_VERSION, create ? 1 : j->f[JW_JOB_VERSION].i + 1);
    if (create) {
        now = jw_id_time_ms(id);
        jw_job_set_str(j, JW_JOB_ID, id);
        jw_job_set_int(j, JW_JOB_CREATED_AT, now);
        jw_job_set_str(j, JW_JOB_CREATED_BY, who);
    }
    jw_job_set_int(j, JW_JOB_UPDATED_AT, now);
    jw_job_set_str(j, JW_JOB_UPDATED_BY, who);
}

/* Parse a stored job from job_get's {JSON, next firing} pair. */
static int load_pair(const struct jw_reply *pair, struct jw_job *j);

/* Parse a stored job JSON. */
static int load_stored(const char *json, size_t len, struct jw_job *j)
{
    char why[160];
    memset(j, 0, sizeof(*j));
    struct jw_json_doc *doc = jw_json_parse(json, len, JW_JSON_STORED_DEPTH, why, sizeof(why));
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

static int load_pair(const struct jw_reply *pair, struct jw_job *j)
{
    size_t n;
    const char *json = jw_reply_str(jw_reply_at(pair, 0), &n);
    if (!json || load_stored(json, n, j) != 0)
        return -1;
    const char *next = jw_reply_str(jw_reply_at(pair, 1), NULL);
    j->has_next = next != NULL;
    j->next_run_at = next ? strtoll(next, NULL, 10) : -1;
    return 0;
}

/* ---- saving ------------------------------------------------------------------ */

/* job_save for o->jobs (and o->dues). expect[i] = the version each must still
 * have (NULL: all new). copy_secret_from: a job whose secret new jobs
 * inherit (clone). */
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
        jw_job_write(&o->jobs[i], &w, JW_JOB_VIEW_API_REVEAL);
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
        for (size_t i = 0; i < o->njobs; i++)
            if (o->dues[i] >= 0)
                jw_scheduler_poke(o->c->scheduler, o->tenant, &o->jobs[i], o->dues[i]);
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
    } else if (jw_core_quota_error(r, &e)) {
        op_done(o, &e);
    } else {
        op_error(o, 500, "", "unexpected answer from the job store");
    }
}

/* ---- StoredProcedure: never one of jobwheel's functions ---------------------------- */

/* Must job i's function be asked about? Every StoredProcedure job saved as
 * new (create, batch, clone), and an update's when it names a function the
 * job did not call before. Pause, resume, enable and the like change no
 * function: a job whose function became jobwheel's since it was saved can
 * still be paused or deleted, and its runs are refused at dispatch. */
static bool asks_function(const struct op *o, size_t i, bool creating, char *fn, size_t cap)
{
    return (creating || o->new_function) && jw_job_function(&o->jobs[i], fn, cap);
}

/* FUNCTION LIST's answer: each function asked about must belong to no
 * library of jobwheel's (jobwheel_<build>, in any case: several builds can
 * share a Redis, and the name tells them). A function that exists nowhere
 * yet is accepted: it belongs to no library, and the check before each
 * call still applies once it exists. Then job_save. */
static void on_functions(struct op *o, const struct jw_reply *r)
{
    for (size_t i = 0; i < o->njobs; i++) {
        char fn[80];
        if (!asks_function(o, i, o->creating, fn, sizeof(fn)))
            continue;
        const char *lib = jw_reply_function_library(r, fn);
        if (lib && jw_job_reserved_name(lib)) {
            struct jw_error e;
            jw_fail(&e, 400, "job_configuration.function",
                    "job_configuration.function \"%s\" is a function of jobwheel's own library %.64s: "
                    "a StoredProcedure job may call only functions outside jobwheel's libraries",
                    fn, lib);
            if (o->njobs > 1 || o->array_result)
                prefix_field(&e, i);
            op_done(o, &e);
            return;
        }
    }
    run(o, JW_LUA_JOB_SAVE, &o->save, on_saved);
}

static void save_jobs(struct op *o, const int64_t *expect, const char *copy_secret_from)
{
    /* seed 000's system job names are jobwheel's own */
    for (size_t i = 0; i < o->njobs; i++) {
        const struct jw_job *j = &o->jobs[i];
        if (!j->f[JW_JOB_SYSTEM].b && jw_system_job(j->f[JW_JOB_NAME].s)) {
            struct jw_error e;
            jw_fail(&e, 400, "name", "\"%s\" is the name of a system job", j->f[JW_JOB_NAME].s);
            if (o->njobs > 1 || o->array_result)
                prefix_field(&e, i);
            op_done(o, &e);
            return;
        }
    }
    struct jw_args a = JW_ARGS_INIT;
    jw_args_addi(&a, o->c->quotas.limit[JW_QUOTA_JOBS]);
    jw_args_addi(&a, o->c->quotas.limit[JW_QUOTA_SCHEDULES]);
    for (size_t i = 0; i < o->njobs; i++) {
        struct jw_job *j = &o->jobs[i];
        struct jw_buf json = JW_BUF_INIT;
        jw_job_encode(j, &json, JW_JOB_VIEW_STORED);
        jw_args_adds(&a, j->f[JW_JOB_ID].s);
        jw_args_addi(&a, expect ? expect[i] : 0);
        jw_args_add(&a, json.data, json.len);
        if (j->secret_clear)
            jw_args_adds(&a, j->secret_clear);
        else if (j->secret_removed)
            jw_args_adds(&a, "-");
        else if (copy_secret_from)
            jw_args_addf(&a, "=%s", copy_secret_from);
        else
            jw_args_adds(&a, "");
        if (o->dues[i] == DUE_KEEP)
            jw_args_adds(&a, "");
        else if (o->dues[i] == DUE_NONE)
            jw_args_adds(&a, "-");
        else
            jw_args_addi(&a, o->dues[i]);
        jw_buf_free(&json);
    }
    /* one round trip more, only when a StoredProcedure function is new */
    bool ask = false;
    for (size_t i = 0; i < o->njobs && !ask; i++) {
        char fn[80];
        ask = asks_function(o, i, !expect, fn, sizeof(fn));
    }
    if (!ask) {
        run(o, JW_LUA_JOB_SAVE, &a, on_saved);
        return;
    }
    jw_args_free(&o->save);
    o->save = a; /* taken over: job_save goes out once the answer is in */
    o->creating = !expect;
    struct jw_args list = JW_ARGS_INIT;
    jw_args_adds(&list, "FUNCTION");
    jw_args_adds(&list, "LIST");
    o->next = on_functions;
    jw_store_cmd(o->c->store, &list, op_reply, o);
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

static int build_new(struct op *o, size_t i, const struct jw_json *obj, int64_t now, struct jw_error *err)
{
    struct jw_job *j = &o->jobs[i];
    if (check_job(o, i, NULL, now, jw_job_decode(j, obj, JW_JOB_CREATE, err) == 0, err) != 0)
        return -1;
    stamp(j, o->who, now, true);
    return 0;
}

static void create_one(struct jw_core *c, const struct jw_actor *a, const struct jw_json *obj, bool system,
                       jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, a->tenant, a->who, cb, arg);
    alloc_jobs(o, 1);
    struct jw_error e;
    if (build_new(o, 0, obj, jw_time_now_ms(), &e) != 0) {
        op_done(o, &e);
        return;
    }
    if (system) {
        o->jobs[0].f[JW_JOB_SYSTEM].b = true;
        o->jobs[0].f[JW_JOB_SYSTEM].set = true;
    }
    save_jobs(o, NULL, NULL);
}

void jw_jobs_create(struct jw_core *c, const struct jw_actor *a, const struct jw_json *obj, jw_core_cb cb,
                    void *arg)
{
    create_one(c, a, obj, false, cb, arg);
}

void jw_jobs_create_system(struct jw_core *c, const struct jw_actor *a, const struct jw_json *obj,
                           jw_core_cb cb, void *arg)
{
    create_one(c, a, obj, true, cb, arg);
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
    alloc_jobs(o, arr->len);
    int64_t now = jw_time_now_ms();
    for (size_t i = 0; i < arr->len; i++) {
        if (build_new(o, i, arr->u.items[i], now, &e) != 0) {
            prefix_field(&e, i);
            op_done(o, &e);
            return;
        }
    }
    save_jobs(o, NULL, NULL);
}

/* ---- get ----------------------------------------------------------------------- */

/* The API view of a stored job and its next firing (both replies); false
 * when there is no job or it does not decode. */
static bool api_view(struct jw_buf *out, const struct jw_reply *json_r, const struct jw_reply *next_r)
{
    size_t n;
    const char *json = jw_reply_str(json_r, &n);
    const char *next = jw_reply_str(next_r, NULL);
    return json && jw_job_api_from_stored(out, json, n, next ? strtoll(next, NULL, 10) : -1) == 0;
}

/* The same for job_get's {JSON, next firing} pair. */
static bool api_from_pair(struct jw_buf *out, const struct jw_reply *pair)
{
    return api_view(out, jw_reply_at(pair, 0), jw_reply_at(pair, 1));
}

static void on_got(struct op *o, const struct jw_reply *r)
{
    if (!api_from_pair(&o->body, jw_reply_at(r, 0))) {
        op_not_found(o, "job", o->ref);
        return;
    }
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
    const struct jw_reply *pair = jw_reply_at(r, 0);
    if (!jw_reply_at(pair, 0)) {
        op_not_found(o, "job", o->ref);
        return;
    }
    struct jw_job cur;
    if (load_pair(pair, &cur) != 0) {
        op_error(o, 500, "", "the stored job is damaged");
        return;
    }
    alloc_jobs(o, 1);
    struct jw_job *j = &o->jobs[0];
    jw_job_copy(j, &cur);
    struct jw_error e;
    int64_t now = jw_time_now_ms();
    if (check_job(o, 0, &cur, now, o->apply(o, j, &cur, now, &e) == 0, &e) != 0) {
        jw_job_free(&cur);
        op_done(o, &e);
        return;
    }
    if (!jw_job_differs(&cur, j) && !jw_job_timing_differs(&cur, j)) { /* no change: no new version */
        jw_job_free(&cur);
        api_from_pair(&o->body, pair);
        op_done(o, NULL);
        return;
    }
    int64_t expect = cur.f[JW_JOB_VERSION].i;
    char fn[80], was[80];
    o->new_function = jw_job_function(j, fn, sizeof(fn)) &&
                      (!jw_job_function(&cur, was, sizeof(was)) || strcmp(fn, was) != 0);
    jw_job_free(&cur);
    stamp(j, o->who, now, false);
    save_jobs(o, &expect, NULL);
}

static void update_start(struct op *o)
{
    get_refs(o, &o->ref, 1, on_update_read);
}

static int apply_patch(struct op *o, struct jw_job *j, const struct jw_job *cur, int64_t now,
                       struct jw_error *err)
{
    /* a new interval starts now unless the request says when */
    if (jw_json_get(o->input, "interval_seconds") && !jw_json_get(o->input, "start_at"))
        jw_job_set_str(j, JW_JOB_START_AT, NULL);
    return jw_job_decode(j, o->input, JW_JOB_PATCH, err);
}

static struct op *
update_op(struct jw_core *c, const struct jw_actor *a, const char *ref, jw_core_cb cb, void *arg,
          int (*apply)(struct op *, struct jw_job *, const struct jw_job *, int64_t, struct jw_error *))
{
    struct op *o = op_new(c, a->tenant, a->who, cb, arg);
    o->ref = jw_strdup(ref);
    o->start = update_start;
    o->apply = apply;
    return o;
}

void jw_jobs_update(struct jw_core *c, const struct jw_actor *a, const char *ref, const struct jw_json *patch,
                    jw_core_cb cb, void *arg)
{
    struct op *o = update_op(c, a, ref, cb, arg, apply_patch);
    o->input = patch;
    if (!patch || patch->type != JW_JSON_OBJECT) {
        op_error(o, 400, "", "the body must be a JSON object");
        return;
    }
    update_start(o);
}

/* ---- pause, resume, reschedule, soft delete ----------------------------------------- */

static int apply_pause(struct op *o, struct jw_job *j, const struct jw_job *cur, int64_t now,
                       struct jw_error *err)
{
    bool pause = o->enabled; /* the state asked for */
    if (cur->f[JW_JOB_PAUSED].b == pause)
        return jw_fail(err, 400, "", pause ? "the job is already paused" : "the job is not paused");
    j->f[JW_JOB_PAUSED].b = pause;
    j->f[JW_JOB_PAUSED].set = true;
    return 0;
}

void jw_jobs_pause(struct jw_core *c, const struct jw_actor *a, const char *ref, bool pause, jw_core_cb cb,
                   void *arg)
{
    struct op *o = update_op(c, a, ref, cb, arg, apply_pause);
    o->enabled = pause;
    update_start(o);
}

static int apply_soft_delete(struct op *o, struct jw_job *j, const struct jw_job *cur, int64_t now,
                             struct jw_error *err)
{
    if (cur->f[JW_JOB_DELETED_AT].set)
        return jw_fail(err, 404, "", "no such job: %.200s", o->ref);
    jw_job_set_int(j, JW_JOB_DELETED_AT, now);
    return 0;
}

void jw_jobs_soft_delete(struct jw_core *c, const struct jw_actor *a, const char *ref, jw_core_cb cb,
                         void *arg)
{
    update_start(update_op(c, a, ref, cb, arg, apply_soft_delete));
}

static int apply_reschedule(struct op *o, struct jw_job *j, const struct jw_job *cur, int64_t now,
                            struct jw_error *err)
{
    static const char *const allowed[] = {"cron",     "interval_seconds", "run_at", "start_at",
                                          "timezone", "effective_from",   NULL};
    const struct jw_json *b = o->input;
    for (size_t i = 0; i < b->len; i++) {
        const char *k = b->u.members[i].key;
        bool ok = false;
        for (const char *const *x = allowed; *x && !ok; x++)
            ok = !strcmp(*x, k);
        if (!ok)
            return jw_fail(err, 400, k,
                           "unknown field \"%.60s\" (a reschedule changes only the timing: "
                           "cron, interval_seconds, run_at, start_at, timezone, effective_from)",
                           k);
    }
    int kinds = 0;
    static const char *const kind_names[] = {"cron", "interval_seconds", "run_at"};
    for (int k = 0; k < 3; k++) {
        const struct jw_json *v = jw_json_get(b, kind_names[k]);
        kinds += v && v->type != JW_JSON_NULL;
    }
    if (kinds != 1)
        return jw_fail(err, 400, "cron", "a reschedule names exactly one of cron, interval_seconds, run_at");
    const struct jw_json *eff = jw_json_get(b, "effective_from");
    int64_t from = now;
    if (eff && eff->type != JW_JSON_NULL) {
        if (eff->type != JW_JSON_STRING || jw_time_parse(eff->u.str, &from) != 0)
            return jw_fail(err, 400, "effective_from", "effective_from must be an ISO 8601 date-time");
        if (from > now)
            o->due_from = from;
        else
            from = now;
    }
    /* the new timing replaces the old one entirely */
    jw_job_set_str(j, JW_JOB_CRON, NULL);
    jw_job_set_str(j, JW_JOB_INTERVAL_SECONDS, NULL);
    jw_job_set_str(j, JW_JOB_RUN_AT, NULL);
    jw_job_set_str(j, JW_JOB_START_AT, NULL);
    /* decode what the body says (effective_from is ours, not a job field) */
    struct jw_json copy = *b;
    struct jw_json_member *m = jw_calloc(b->len ? b->len : 1, sizeof(*m));
    copy.u.members = m;
    copy.len = 0;
    for (size_t i = 0; i < b->len; i++)
        if (strcmp(b->u.members[i].key, "effective_from"))
            m[copy.len++] = b->u.members[i];
    int rc = jw_job_decode(j, &copy, JW_JOB_PATCH, err);
    free(m);
    if (rc == 0 && j->f[JW_JOB_INTERVAL_SECONDS].set && !j->f[JW_JOB_START_AT].set)
        jw_job_set_int(j, JW_JOB_START_AT, from);
    return rc;
}

void jw_jobs_reschedule(struct jw_core *c, const struct jw_actor *a, const char *ref,
                        const struct jw_json *body, jw_core_cb cb, void *arg)
{
    struct op *o = update_op(c, a, ref, cb, arg, apply_reschedule);
    o->input = body;
    if (!body || body->type != JW_JSON_OBJECT) {
        op_error(o, 400, "", "the body must be a JSON object");
        return;
    }
    update_start(o);
}

/* ---- the schedule preview ------------------------------------------------------------- */

static void write_offset(struct jw_jsonw *w, int32_t off)
{
    char buf[8];
    int a = off < 0 ? -off : off;
    snprintf(buf, sizeof(buf), "%c%02d:%02d", off < 0 ? '-' : '+', a / 3600 % 100, a / 60 % 60);
    jw_jsonw_str(w, buf);
}

static void on_preview_read(struct op *o, const struct jw_reply *r)
{
    const struct jw_reply *pair = jw_reply_at(r, 0);
    struct jw_job j;
    if (!jw_reply_at(pair, 0)) {
        op_not_found(o, "job", o->ref);
        return;
    }
    if (load_pair(pair, &j) != 0) {
        op_error(o, 500, "", "the stored job is damaged");
        return;
    }
    struct jw_error e;
    struct jw_schedule *sch = jw_job_schedule(&j, &e);
    if (!sch) {
        jw_job_free(&j);
        op_done(o, &e);
        return;
    }
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "job_id", j.f[JW_JOB_ID].s);
    jw_jsonw_kstr(&w, "timezone", jw_schedule_timezone(sch));
    jw_jsonw_ktime(&w, "from", o->due_from);
    jw_jsonw_kbool(&w, "active",
                   j.f[JW_JOB_ENABLED].b && !j.f[JW_JOB_PAUSED].b && !j.f[JW_JOB_DELETED_AT].set);
    jw_jsonw_ktime(&w, "next_run_at", j.has_next ? j.next_run_at : -1);
    jw_jsonw_key(&w, "firings");
    jw_jsonw_arr_open(&w);
    int64_t t = o->due_from;
    for (int64_t k = 0; k < o->count; k++) {
        t = jw_schedule_next(sch, t);
        if (t < 0)
            break;
        char local[40], why[200];
        int32_t off;
        jw_schedule_local_time(sch, t, local, &off);
        const char *reason = jw_schedule_suppressed(sch, t, why, sizeof(why));
        jw_jsonw_obj_open(&w);
        jw_jsonw_ktime(&w, "at", t);
        jw_jsonw_kstr(&w, "local", local);
        jw_jsonw_key(&w, "utc_offset");
        write_offset(&w, off);
        jw_jsonw_kbool(&w, "suppressed", reason != NULL);
        jw_jsonw_kstr(&w, "reason", reason);
        jw_jsonw_obj_close(&w);
    }
    jw_jsonw_arr_close(&w);
    jw_jsonw_obj_close(&w);
    jw_schedule_free(sch);
    jw_job_free(&j);
    op_done(o, NULL);
}

void jw_jobs_schedule(struct jw_core *c, const char *tenant, const char *ref, int64_t count, int64_t from_ms,
                      jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, tenant, NULL, cb, arg);
    o->ref = jw_strdup(ref);
    o->count = count;
    o->due_from = from_ms;
    get_refs(o, &o->ref, 1, on_preview_read);
}

/* ---- enable / disable ----------------------------------------------------------------- */

static void on_enable_read(struct op *o, const struct jw_reply *r)
{
    alloc_jobs(o, o->nrefs);
    o->njobs = 0;
    int64_t *expect = jw_calloc(o->nrefs, sizeof(int64_t));
    int64_t now = jw_time_now_ms();
    for (size_t i = 0; i < o->nrefs; i++) {
        const struct jw_reply *pair = jw_reply_at(r, i);
        if (!jw_reply_at(pair, 0)) {
            free(expect);
            op_not_found(o, "job", o->refs[i]);
            return;
        }
        o->njobs = i + 1;
        if (load_pair(pair, &o->jobs[i]) != 0) {
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
        struct jw_job before;
        jw_job_copy(&before, j);
        j->f[JW_JOB_ENABLED].b = o->enabled;
        stamp(j, o->who, now, false);
        expect[keep] = expect[i];
        o->jobs[keep] = *j;
        struct jw_error e;
        int rc = plan_due(o, keep, &before, now, &e);
        jw_job_free(&before);
        keep++;
        if (rc != 0) { /* a stored job whose schedule no longer parses: fire nothing */
            o->dues[keep - 1] = DUE_NONE;
            o->jobs[keep - 1].has_next = false;
        }
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

void jw_jobs_delete(struct jw_core *c, const char *tenant, const char *ref, bool with_history, jw_core_cb cb,
                    void *arg)
{
    struct op *o = op_new(c, tenant, NULL, cb, arg);
    o->ref = jw_strdup(ref);
    eval_ref(o, JW_LUA_JOB_DELETE, with_history ? "1" : "", on_deleted);
}

/* ---- clone ----------------------------------------------------------------------------- */

static void on_clone_read(struct op *o, const struct jw_reply *r)
{
    const struct jw_reply *pair = jw_reply_at(r, 0);
    if (!jw_reply_at(pair, 0)) {
        op_not_found(o, "job", o->ref);
        return;
    }
    alloc_jobs(o, 1);
    struct jw_job *j = &o->jobs[0];
    if (load_pair(pair, j) != 0) {
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
    int64_t now = jw_time_now_ms();
    if (check_job(o, 0, NULL, now, !ov || jw_job_decode(j, ov, JW_JOB_PATCH, &e) == 0, &e) != 0) {
        op_done(o, &e);
        return;
    }
    stamp(j, o->who, now, true);
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
    jw_job_encode(j, &full, JW_JOB_VIEW_API);
    char why[64];
    struct jw_json_doc *doc = jw_json_parse(full.data, full.len, JW_JSON_STORED_DEPTH, why, sizeof(why));
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
    jw_buf_putc(&o->body, '[');
    for (size_t i = 3; i + 1 < count; i += 2) {
        if (o->body.len > 1)
            jw_buf_putc(&o->body, ',');
        size_t mark = o->body.len;
        if (!api_view(&o->body, jw_reply_at(r, i), jw_reply_at(r, i + 1)) && mark > 1)
            o->body.len = mark - 1; /* a damaged job is left out (and logged) */
    }
    jw_buf_putc(&o->body, ']');
    char cursor[128] = "";
    bool more = jw_reply_is(jw_reply_at(r, 0), "1") || jw_reply_int(jw_reply_at(r, 0)) == 1;
    if (more) {
        size_t n;
        const char *pos = jw_reply_str(jw_reply_at(r, 1), &n);
        const char *id = jw_reply_str(jw_reply_at(r, 2), &n);
        snprintf(cursor, sizeof(cursor), "%lld|%s", pos ? strtoll(pos, NULL, 10) : 0LL, id ? id : "");
    }
    o->list_cb(o->arg, NULL, &o->body, more ? cursor : NULL);
    o->list_cb = NULL;
    o->cb = NULL;
    op_free(o);
}

/* "<position in the creation order>|<uuid of the job there>" → both. */
static int parse_cursor(const char *cursor, int64_t *pos, char id[JW_UUID_SIZE])
{
    char *bar;
    errno = 0;
    long long p = strtoll(cursor, &bar, 10);
    if (bar == cursor || *bar != '|' || errno || p < 0 || !jw_id_is_uuid(bar + 1))
        return -1;
    *pos = p;
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
        int64_t pos;
        char id[JW_UUID_SIZE];
        if (parse_cursor(f->cursor, &pos, id) != 0) {
            jw_args_free(&a);
            op_error(o, 400, "cursor", "cursor is not one this server gave out");
            return;
        }
        jw_args_addi(&a, pos);
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
    jw_args_adds(&a, f->include_deleted ? "1" : "");
    run(o, JW_LUA_JOB_LIST, &a, on_listed);
}

/* ---- seed 003's pages ---------------------------------------------------------------------- */

static void on_queried(struct op *o, const struct jw_reply *r)
{
    size_t count = jw_reply_count(r);
    if (jw_reply_type(r) != JW_REPLY_ARRAY || count < 1) {
        op_error(o, 500, "", "unexpected answer from the job store");
        return;
    }
    size_t step = o->last_runs ? 3 : 2;
    jw_buf_printf(&o->body, "{\"total\":%lld,\"jobs\":[", (long long)jw_reply_int(jw_reply_at(r, 0)));
    size_t start = o->body.len;
    bool *kept = jw_calloc(count / step + 1, sizeof(bool));
    for (size_t i = 1, k = 0; i + step - 1 < count; i += step, k++) {
        size_t mark = o->body.len;
        if (mark > start)
            jw_buf_putc(&o->body, ',');
        kept[k] = api_view(&o->body, jw_reply_at(r, i), jw_reply_at(r, i + 1));
        if (!kept[k])
            o->body.len = mark; /* a damaged job is left out (and logged) */
    }
    jw_buf_puts(&o->body, "]");
    if (o->last_runs) {
        /* "last_runs": one per job, in the same order */
        jw_buf_puts(&o->body, ",\"last_runs\":");
        struct jw_jsonw w;
        jw_jsonw_init(&w, &o->body);
        jw_jsonw_arr_open(&w);
        for (size_t i = 1, k = 0; i + 2 < count; i += 3, k++) {
            const struct jw_reply *lr = jw_reply_at(r, i + 2);
            if (!kept[k])
                continue;
            if (jw_reply_type(lr) != JW_REPLY_ARRAY) {
                jw_jsonw_null(&w);
                continue;
            }
            static const char *const names[] = {"id", "status", "started_at", "finished_at", "created_at"};
            jw_jsonw_obj_open(&w);
            for (size_t f = 0; f < 5; f++) {
                const char *v = jw_reply_str(jw_reply_at(lr, f), NULL);
                if (f < 2)
                    jw_jsonw_kstr(&w, names[f], v);
                else
                    jw_jsonw_ktime(&w, names[f], v && v[0] ? strtoll(v, NULL, 10) : -1);
            }
            jw_jsonw_obj_close(&w);
        }
        jw_jsonw_arr_close(&w);
    }
    free(kept);
    jw_buf_puts(&o->body, "}");
    op_done(o, NULL);
}

void jw_jobs_query(struct jw_core *c, const char *tenant, const struct jw_job_query *q, jw_core_cb cb,
                   void *arg)
{
    struct op *o = op_new(c, tenant, NULL, cb, arg);
    static const char *const sorts[] = {"created_at", "updated_at", "name", "next_run_at", NULL};
    const char *sort = q->sort_by ? q->sort_by : "created_at";
    bool known = false;
    for (const char *const *s = sorts; *s && !known; s++)
        known = !strcmp(*s, sort);
    if (!known || q->page < 1 || q->page_size < 1) {
        op_error(o, 400, known ? "page" : "sort_by", "invalid page or sort field");
        return;
    }
    /* the script compares lower-case text */
    char *search = jw_strdup(q->search ? q->search : "");
    for (char *p = search; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    struct jw_args a = JW_ARGS_INIT;
    jw_args_addi(&a, q->page);
    jw_args_addi(&a, q->page_size);
    jw_args_adds(&a, q->job_type ? q->job_type : "");
    jw_args_adds(&a, q->state ? q->state : "");
    jw_args_adds(&a, q->tag ? q->tag : "");
    jw_args_adds(&a, search);
    jw_args_adds(&a, sort);
    jw_args_adds(&a, q->descending ? "desc" : "asc");
    jw_args_addf(&a, "%s%s", q->no_system ? "s" : "", q->last_run ? "l" : "");
    o->last_runs = q->last_run;
    free(search);
    run(o, JW_LUA_JOB_QUERY, &a, on_queried);
}

/* ---- dependencies --------------------------------------------------------------------------- */

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
        condition = cond->type == JW_JSON_STRING ? jw_dep_condition(cond->u.str) : NULL;
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

static void on_deps_set(struct op *o, const struct jw_reply *r)
{
    const struct jw_reply *word = jw_reply_at(r, 0);
    int64_t index = jw_reply_int(jw_reply_at(r, 1));
    struct jw_error e;
    if (jw_reply_is(word, "ok")) {
        body_array(o, r, 1);
        op_done(o, NULL);
    } else if (jw_reply_is(word, "notfound") && index == 0) {
        op_not_found(o, "job", o->ref);
    } else if (jw_reply_is(word, "notfound") && index > 0 && (size_t)index <= o->nrefs) {
        char f[48];
        snprintf(f, sizeof(f), "depends_on_job_id[%lld]", (long long)index - 1);
        jw_fail(&e, 404, f, "%s: no such job: %.200s", f, o->refs[index - 1]);
        op_done(o, &e);
    } else if (jw_reply_is(word, "cycle") && index > 0 && (size_t)index <= o->nrefs) {
        char f[48];
        snprintf(f, sizeof(f), "depends_on_job_id[%lld]", (long long)index - 1);
        jw_fail(&e, 400, f, "%s: depending on %.200s would make a cycle", f, o->refs[index - 1]);
        op_done(o, &e);
    } else if (jw_reply_is(word, "limit")) {
        op_error(o, 400, "depends_on_job_id", "a job may depend on at most 100 jobs");
    } else {
        op_error(o, 500, "", "unexpected answer from the job store");
    }
}

void jw_deps_set(struct jw_core *c, const char *tenant, const char *job_ref, const char *const *on_refs,
                 size_t n, const char *condition, jw_core_cb cb, void *arg)
{
    struct op *o = op_new(c, tenant, NULL, cb, arg);
    o->ref = jw_strdup(job_ref);
    const char *cond = condition ? jw_dep_condition(condition) : "AllSucceeded";
    if (!cond) {
        op_error(o, 400, "condition", "condition must be AllSucceeded or AnySucceeded");
        return;
    }
    if (n == 0 || n > 100) {
        op_error(o, 400, "depends_on_job_id", "name 1 to 100 jobs to depend on");
        return;
    }
    o->refs = jw_calloc(n, sizeof(char *));
    o->nrefs = n;
    for (size_t i = 0; i < n; i++)
        o->refs[i] = jw_strdup(on_refs[i]);
    char at[JW_TIME_ISO_SIZE];
    jw_time_format(jw_time_now_ms(), at);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, job_ref);
    jw_args_adds(&a, cond);
    jw_args_adds(&a, at);
    for (size_t i = 0; i < n; i++) {
        char id[JW_UUID_SIZE];
        jw_id_new(id);
        jw_args_adds(&a, on_refs[i]);
        jw_args_adds(&a, id);
    }
    run(o, JW_LUA_DEP_SET, &a, on_deps_set);
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
