/* runs: the run API's operations — read one or a page, trigger (one or in
 * bulk), cancel, a worker's reports, a job's health. The engine (exec/)
 * starts and finishes runs; firings make them too (sched/). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/core.h"
#include "jobwheel/exec.h"
#include "jobwheel/id.h"
#include "jobwheel/policy.h"
#include "jobwheel/run.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"

struct runop {
    struct jw_core *c;
    jw_core_cb cb;
    jw_core_list_cb list_cb;
    void *arg;
    char *ref;
    char tenant[40]; /* seed 001's view: the team */
    struct jw_buf body;
};

static void runop_free(struct runop *o)
{
    free(o->ref);
    jw_buf_free(&o->body);
    free(o);
}

static struct runop *runop_new(struct jw_core *c, const char *tenant, const char *ref, jw_core_cb cb,
                               jw_core_list_cb list_cb, void *arg)
{
    struct runop *o = jw_calloc(1, sizeof(*o));
    o->c = c;
    o->cb = cb;
    o->list_cb = list_cb;
    o->arg = arg;
    o->ref = ref ? jw_strdup(ref) : NULL;
    snprintf(o->tenant, sizeof(o->tenant), "%s", tenant);
    return o;
}

/* Answer the caller — e, or the body (and a list's next cursor) — and free o. */
static void runop_end(struct runop *o, const struct jw_error *e, const char *cursor)
{
    if (o->list_cb)
        o->list_cb(o->arg, e, e ? NULL : &o->body, e ? NULL : cursor);
    else
        o->cb(o->arg, e, e ? NULL : &o->body);
    runop_free(o);
}

static void runop_fail(struct runop *o, const struct jw_error *e)
{
    runop_end(o, e, NULL);
}

static void runop_failf(struct runop *o, int status, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void runop_failf(struct runop *o, int status, const char *field, const char *fmt, ...)
{
    struct jw_error e;
    va_list ap;
    va_start(ap, fmt);
    jw_failv(&e, status, field, fmt, ap);
    va_end(ap);
    runop_fail(o, &e);
}

/* A store callback's op, or NULL after answering the store's failure. */
static struct runop *runop_answered(enum jw_store_status st, void *arg)
{
    struct runop *o = arg;
    if (st == JW_STORE_OK)
        return o;
    struct jw_error e;
    jw_core_store_error(st, &e);
    runop_fail(o, &e);
    return NULL;
}

/* A run's JSON from its fields — seed 001's job_run view when job_type is
 * given; false when it has none. */
static bool write_pairs(struct jw_jsonw *w, const struct jw_run_pairs *p, const char *job_type, const char *team)
{
    if (!p || p->n == 0)
        return false;
    if (job_type)
        jw_run_write_team(w, p, job_type, team);
    else
        jw_run_write(w, p);
    return true;
}

/* The same from its HGETALL array. */
static bool write_view(struct jw_jsonw *w, const struct jw_reply *pairs, const char *job_type, const char *team)
{
    struct jw_run_fields f;
    size_t n = jw_reply_pairs(pairs, f.names, f.values, f.lens, JW_RUN_FIELDS_MAX);
    f.p = (struct jw_run_pairs){n, f.names, f.values, f.lens};
    return write_pairs(w, &f.p, job_type, team);
}

static bool write_run(struct jw_jsonw *w, const struct jw_reply *pairs)
{
    return write_view(w, pairs, NULL, NULL);
}

static void on_got(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct runop *o = runop_answered(st, arg);
    if (!o)
        return;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    if (!write_run(&w, jw_reply_at(r, 0))) {
        runop_failf(o, 404, "", "no such run: %.100s", o->ref);
        return;
    }
    runop_end(o, NULL, NULL);
}

void jw_runs_get(struct jw_core *c, const char *tenant, const char *id, jw_core_cb cb, void *arg)
{
    struct runop *o = runop_new(c, tenant, id, cb, NULL, arg);
    if (!jw_id_is_uuid(id)) {
        runop_failf(o, 404, "", "no such run: %.100s", id);
        return;
    }
    char lower[JW_UUID_SIZE];
    jw_id_lower(id, lower);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, lower);
    jw_store_eval(c->store, JW_LUA_RUN_GET, tenant, &a, on_got, o);
}

/* "<ISO time>|<run id>" -> the score and id; -1 when it is not one of ours */
static int parse_cursor(const char *cursor, int64_t *score, const char **id)
{
    const char *bar = strchr(cursor, '|');
    char t[JW_TIME_ISO_SIZE];
    if (!bar || (size_t)(bar - cursor) >= sizeof(t) || !jw_id_is_uuid(bar + 1))
        return -1;
    memcpy(t, cursor, (size_t)(bar - cursor));
    t[bar - cursor] = '\0';
    *id = bar + 1;
    return jw_time_parse(t, score);
}

/* A page's next cursor from a list script's {more, score, id, ...} reply:
 * "<ISO time>|<run id>", or NULL when there is no more. */
static const char *format_cursor(const struct jw_reply *r, char cursor[128])
{
    if (jw_reply_int(jw_reply_at(r, 0)) != 1)
        return NULL;
    const char *score = jw_reply_str(jw_reply_at(r, 1), NULL);
    const char *id = jw_reply_str(jw_reply_at(r, 2), NULL);
    char t[JW_TIME_ISO_SIZE];
    jw_time_format(score ? strtoll(score, NULL, 10) : 0, t);
    snprintf(cursor, 128, "%s|%s", t, id ? id : "");
    return cursor;
}

static void on_listed(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct runop *o = runop_answered(st, arg);
    if (!o)
        return;
    if (jw_reply_type(r) != JW_REPLY_ARRAY) {
        runop_failf(o, 404, "", "no such job: %.200s", o->ref ? o->ref : "");
        return;
    }
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    jw_jsonw_arr_open(&w);
    for (size_t i = 3; i < jw_reply_count(r); i++)
        write_run(&w, jw_reply_at(r, i));
    jw_jsonw_arr_close(&w);
    char cursor[128];
    runop_end(o, NULL, format_cursor(r, cursor));
}

void jw_runs_list(struct jw_core *c, const char *tenant, const struct jw_run_filter *f, jw_core_list_cb cb,
                  void *arg)
{
    struct runop *o = runop_new(c, tenant, f->job_ref, NULL, cb, arg);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, f->job_ref ? f->job_ref : "");
    if (f->cursor && f->cursor[0]) {
        int64_t score;
        const char *id;
        if (parse_cursor(f->cursor, &score, &id) != 0) {
            jw_args_free(&a);
            runop_failf(o, 400, "cursor", "cursor is not one this server gave out");
            return;
        }
        jw_args_addi(&a, score);
        jw_args_adds(&a, id);
    } else {
        jw_args_adds(&a, "");
        jw_args_adds(&a, "");
    }
    jw_args_addi(&a, f->limit);
    jw_args_adds(&a, f->status ? f->status : "");
    jw_store_eval(c->store, JW_LUA_RUN_LIST, tenant, &a, on_listed, o);
}

/* ---- seed 001's view: runs of the team's own jobs, with their job_type ---- */

static void on_team_got(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct runop *o = runop_answered(st, arg);
    if (!o)
        return;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    if (jw_reply_type(r) != JW_REPLY_ARRAY ||
        !write_view(&w, jw_reply_at(r, 1), jw_reply_str(jw_reply_at(r, 0), NULL), o->tenant)) {
        runop_failf(o, 404, "", "no job or job run has this id");
        return;
    }
    runop_end(o, NULL, NULL);
}

void jw_runs_team_get(struct jw_core *c, const char *tenant, const char *run_id, jw_core_cb cb, void *arg)
{
    struct runop *o = runop_new(c, tenant, run_id, cb, NULL, arg);
    if (!jw_id_is_uuid(run_id)) {
        runop_failf(o, 404, "", "no job or job run has this id");
        return;
    }
    char lower[JW_UUID_SIZE];
    jw_id_lower(run_id, lower);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, "get");
    jw_args_adds(&a, lower);
    jw_store_eval(c->store, JW_LUA_TEAM_RUNS, tenant, &a, on_team_got, o);
}

static void on_team_listed(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct runop *o = runop_answered(st, arg);
    if (!o)
        return;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    jw_jsonw_arr_open(&w);
    for (size_t i = 3; i + 1 < jw_reply_count(r); i += 2)
        write_view(&w, jw_reply_at(r, i + 1), jw_reply_str(jw_reply_at(r, i), NULL), o->tenant);
    jw_jsonw_arr_close(&w);
    char cursor[128];
    runop_end(o, NULL, format_cursor(r, cursor));
}

/* an integer argument, or "" when negative (absent) */
static void add_opt_int(struct jw_args *a, int64_t v)
{
    if (v >= 0)
        jw_args_addi(a, v);
    else
        jw_args_adds(a, "");
}

void jw_runs_team_list(struct jw_core *c, const char *tenant, const struct jw_team_run_filter *f,
                       jw_core_list_cb cb, void *arg)
{
    struct runop *o = runop_new(c, tenant, NULL, NULL, cb, arg);
    int64_t score = -1;
    const char *cursor_id = "";
    if (f->cursor && f->cursor[0] && parse_cursor(f->cursor, &score, &cursor_id) != 0) {
        runop_failf(o, 400, "cursor", "cursor is not one this server gave out");
        return;
    }
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, "list");
    add_opt_int(&a, score);
    jw_args_adds(&a, cursor_id);
    jw_args_addi(&a, f->limit);
    jw_args_adds(&a, f->job_type ? f->job_type : "");
    if (f->statuses)
        jw_args_addf(&a, ",%s,", f->statuses);
    else
        jw_args_adds(&a, "");
    jw_args_adds(&a, f->project_id ? f->project_id : "");
    add_opt_int(&a, f->since_ms);
    add_opt_int(&a, f->until_ms);
    jw_store_eval(c->store, JW_LUA_TEAM_RUNS, tenant, &a, on_team_listed, o);
}

static void on_paged(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct runop *o = runop_answered(st, arg);
    if (!o)
        return;
    if (jw_reply_type(r) != JW_REPLY_ARRAY || jw_reply_count(r) < 1) {
        runop_failf(o, 404, "", "no such job: %.200s", o->ref);
        return;
    }
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kint(&w, "total", jw_reply_int(jw_reply_at(r, 0)));
    jw_jsonw_key(&w, "runs");
    jw_jsonw_arr_open(&w);
    for (size_t i = 1; i < jw_reply_count(r); i++)
        write_run(&w, jw_reply_at(r, i)); /* an expired run writes nothing */
    jw_jsonw_arr_close(&w);
    jw_jsonw_obj_close(&w);
    runop_end(o, NULL, NULL);
}

void jw_runs_page(struct jw_core *c, const char *tenant, const char *job_ref, int64_t page, int64_t page_size,
                  jw_core_cb cb, void *arg)
{
    struct runop *o = runop_new(c, tenant, job_ref, cb, NULL, arg);
    if (page < 1 || page_size < 1) {
        runop_failf(o, 400, "page", "page and page size start at 1");
        return;
    }
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, job_ref);
    jw_args_addi(&a, page);
    jw_args_addi(&a, page_size);
    jw_store_eval(c->store, JW_LUA_RUN_PAGE, tenant, &a, on_paged, o);
}

#define JW_JOB_REF_MAX 1000 /* bytes of a job id or name (run_create.lua) */

/* ---- trigger --------------------------------------------------------------------- */

struct trig {
    struct jw_core *c;
    jw_core_trigger_cb cb;
    void *arg;
    char tenant[40];
    char *ref;
    bool bulk;
    const char *team_job_type; /* seed 001's view of the run: the slug in ref */
    size_t nitems;
    size_t room;     /* attempts reserved on this instance for runs run_create may start */
    int64_t sent_us; /* when run_create went out */
    struct jw_buf body;
    /* per run, what run_create is sent for it and sets itself, packed as
     * its answers are: a new run's answer adds only what it took from its
     * job (run_create.lua) */
    struct jw_buf sent;
    size_t *sent_at; /* where each run's begins in sent, and where the last ends */
    size_t nsent;
};

static void trig_free(struct trig *t)
{
    free(t->ref);
    jw_buf_free(&t->body);
    jw_buf_free(&t->sent);
    free(t->sent_at);
    free(t);
}

static void trig_fail(struct trig *t, const struct jw_error *e)
{
    jw_exec_release(t->c->exec, t->tenant, t->room);
    t->room = 0;
    t->cb(t->arg, e, NULL, false);
    trig_free(t);
}

/* One string more of a packed run: NUL-separated, a NUL within as a space
 * (as the scripts pack them). */
static void pack_put(struct jw_buf *b, size_t from, const char *v, size_t n)
{
    if (b->len > from)
        jw_buf_putc(b, '\0');
    size_t at = b->len;
    jw_buf_append(b, v, n);
    for (char *c = memchr(b->data + at, '\0', n); c; c = memchr(c, '\0', n - (size_t)(c - (b->data + at))))
        *c = ' ';
}

static void pack_pair(struct jw_buf *b, size_t from, const char *name, const char *v, size_t n)
{
    pack_put(b, from, name, strlen(name));
    pack_put(b, from, v, n);
}

/* One trigger item into run_create's arguments, and what they make of the
 * run into tr->sent. */
static int add_item(struct trig *tr, struct jw_args *a, const struct jw_json *item, const struct jw_actor *actor,
                    int64_t now, const char *batch_id, struct jw_error *e)
{
    struct jw_trigger t;
    if (jw_trigger_decode(item, actor->email, now, &t, e) != 0) {
        jw_trigger_free(&t);
        return -1;
    }
    char id[JW_UUID_SIZE], text[JW_I64_TEXT];
    jw_id_new(id);
    size_t extra = batch_id ? 3 : 2;
    jw_args_adds(a, id);
    jw_args_adds(a, t.idem);
    jw_args_adds(a, t.sha);
    jw_args_addi(a, t.start_ms);
    jw_args_addi(a, (int64_t)(t.n + extra));
    for (size_t i = 0; i < t.n; i++) {
        jw_args_adds(a, t.fields[i].name);
        jw_args_add(a, t.fields[i].value, t.fields[i].len);
    }
    jw_args_adds(a, "triggered_by");
    jw_args_addf(a, "manual:%s", actor->who);
    jw_args_adds(a, "created_by");
    jw_args_adds(a, actor->who);
    if (batch_id) {
        jw_args_adds(a, "batch_id");
        jw_args_adds(a, batch_id);
    }
    /* the run as run_create makes it: what it sets, over what it is sent */
    struct jw_buf *b = &tr->sent;
    size_t from = b->len;
    tr->sent_at[tr->nsent++] = from;
    bool delayed = t.start_ms > now;
    pack_pair(b, from, "id", id, strlen(id));
    pack_pair(b, from, "created_at", text, jw_i64_text(now, text));
    pack_pair(b, from, "status", delayed ? "delayed" : "pending", strlen(delayed ? "delayed" : "pending"));
    if (delayed)
        pack_pair(b, from, "scheduled_at", text, jw_i64_text(t.start_ms, text));
    pack_pair(b, from, "_retention", text, jw_i64_text(tr->c->retention_ms, text));
    for (size_t i = 0; i < t.n; i++)
        pack_pair(b, from, t.fields[i].name, t.fields[i].value, t.fields[i].len);
    pack_pair(b, from, "triggered_by", "manual:", 7);
    pack_put(b, b->len, actor->who, strlen(actor->who)); /* (no NUL before it: one string) */
    pack_pair(b, from, "created_by", actor->who, strlen(actor->who));
    if (batch_id)
        pack_pair(b, from, "batch_id", batch_id, strlen(batch_id));
    tr->sent_at[tr->nsent] = b->len;
    jw_trigger_free(&t);
    return 0;
}

/* A run's JSON from a HGETALL reply. */
static void render(struct jw_buf *out, const struct jw_reply *pairs)
{
    struct jw_jsonw w;
    jw_jsonw_init(&w, out);
    write_run(&w, pairs);
}

static void on_triggered(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct trig *t = arg;
    struct jw_error e;
    if (st != JW_STORE_OK) {
        jw_core_store_error(st, &e);
        trig_fail(t, &e);
        return;
    }
    const struct jw_reply *word = jw_reply_at(r, 0);
    if (jw_reply_is(word, "nojob")) {
        jw_fail(&e, 404, "", "no such job: %.200s", t->ref);
        trig_fail(t, &e);
        return;
    }
    if (jw_reply_is(word, "system")) {
        jw_fail(&e, 400, "", "%.200s is a system job: it runs on its schedule", t->ref);
        trig_fail(t, &e);
        return;
    }
    if (jw_core_quota_error(r, &e)) {
        trig_fail(t, &e);
        return;
    }
    if (jw_reply_is(word, "conflict")) {
        const char *existing = jw_reply_str(jw_reply_at(r, 1), NULL);
        jw_fail(&e, 409, "", "a run of this job is already running or pending (%.40s)",
                existing ? existing : "");
        snprintf(e.ref, sizeof(e.ref), "%s", existing ? existing : "");
        trig_fail(t, &e);
        return;
    }
    size_t key_len;
    const unsigned char *key = jw_exec_token_key(t->c->exec, &key_len);
    struct jw_jsonw w;
    jw_jsonw_init(&w, &t->body);
    if (t->bulk) {
        jw_jsonw_obj_open(&w);
        jw_jsonw_key(&w, "results");
        jw_jsonw_arr_open(&w);
    }
    size_t created = 0, total = 0;
    bool any_new = false;
    for (size_t i = 1; i + 4 <= jw_reply_count(r); i += 4) {
        bool is_new = jw_reply_is(jw_reply_at(r, i), "new");
        size_t k = (i - 1) / 4; /* the trigger's k-th run */
        struct jw_run_fields f; /* the run's fields, packed by the script (a new one's: with those sent) */
        size_t plen = 0;
        const char *packed = jw_reply_str(jw_reply_at(r, i + 2), &plen);
        const struct jw_run_pairs *pairs = NULL;
        if (packed && jw_run_fields_unpack(&f, packed, plen) == 0 &&
            (!is_new || (k < t->nsent && jw_run_fields_append(&f, t->sent.data + t->sent_at[k],
                                                              t->sent_at[k + 1] - t->sent_at[k]) == 0)))
            pairs = &f.p;
        const struct jw_reply *start = jw_reply_at(r, i + 3); /* run_create started it: what that gave */
        const char *id = pairs ? jw_run_pair(pairs, "id", NULL) : NULL;
        const char *status = pairs ? jw_run_pair(pairs, "status", NULL) : NULL;
        const char *due = pairs ? jw_run_pair(pairs, "scheduled_at", NULL) : NULL;
        total++;
        created += is_new;
        any_new = any_new || is_new;
        if (jw_reply_type(start) == JW_REPLY_ARRAY && t->room && id) {
            t->room--;
            jw_exec_started(t->c->exec, t->tenant, id, start, pairs, NULL, t->sent_us);
        } else if (is_new && id && status && !strcmp(status, "pending")) {
            jw_exec_start(t->c->exec, t->tenant, id);
        } else if (is_new && due && status && !strcmp(status, "delayed")) {
            jw_exec_due(t->c->exec, (int)jw_reply_int(jw_reply_at(r, i + 1)), strtoll(due, NULL, 10));
        }
        if (!t->bulk) {
            write_pairs(&w, pairs, t->team_job_type, t->tenant);
            continue;
        }
        jw_jsonw_obj_open(&w);
        jw_jsonw_kstr(&w, "id", id);
        jw_jsonw_kstr(&w, "status", status);
        char token[96];
        if (key && id) {
            jw_run_token(key, key_len, t->tenant, id, 1, token); /* its first attempt's */
            jw_jsonw_kstr(&w, "run_token", token);
        } else {
            jw_jsonw_knull(&w, "run_token");
        }
        jw_jsonw_kbool(&w, "idempotency_hit", !is_new);
        jw_jsonw_obj_close(&w);
    }
    if (t->bulk) {
        jw_jsonw_arr_close(&w);
        jw_jsonw_kint(&w, "total", (int64_t)total);
        jw_jsonw_kint(&w, "created", (int64_t)created);
        jw_jsonw_obj_close(&w);
    }
    jw_exec_release(t->c->exec, t->tenant, t->room);
    t->room = 0;
    t->cb(t->arg, NULL, &t->body, t->bulk || any_new);
    trig_free(t);
}

/* run_create's leading arguments (see run_create.lua). */
static void create_prefix(struct jw_args *args, void *arg)
{
    struct jw_core *c = arg;
    jw_args_addi(args, c->retention_ms);
    jw_args_adds(args, jw_exec_instance(c->exec));
    jw_args_addi(args, jw_exec_lease_ms(c->exec));
    jw_args_addi(args, c->quotas.limit[JW_QUOTA_RUNS_PER_MINUTE]);
    jw_args_addi(args, c->quotas.limit[JW_QUOTA_RUN_HISTORY]);
    jw_args_addi(args, c->quotas.limit[JW_QUOTA_INFLIGHT]);
}

void jw_runs_trigger(struct jw_core *c, const struct jw_actor *a, const char *job_ref,
                     const struct jw_json *body, bool bulk, unsigned flags, jw_core_trigger_cb cb, void *arg)
{
    struct trig *t = jw_calloc(1, sizeof(*t));
    t->c = c;
    t->cb = cb;
    t->arg = arg;
    t->bulk = bulk;
    t->ref = jw_strdup(job_ref);
    snprintf(t->tenant, sizeof(t->tenant), "%s", a->tenant);
    if (flags & JW_TRIGGER_TEAM_VIEW) {
        const char *nl = strchr(t->ref, '\n');
        t->team_job_type = nl ? nl + 1 : t->ref;
    }
    struct jw_error e;
    if (strlen(job_ref) > JW_JOB_REF_MAX) { /* no job has such a name (run_create refuses it) */
        jw_fail(&e, 404, "", "no such job: %.200s", job_ref);
        trig_fail(t, &e);
        return;
    }
    int64_t now = jw_time_now_ms();
    struct jw_args args = JW_ARGS_INIT;
    const struct jw_json *items = bulk ? jw_json_get(body, "items") : NULL;
    if (bulk) {
        if (!body || body->type != JW_JSON_OBJECT || !items || items->type != JW_JSON_ARRAY ||
            items->len == 0 || items->len > JW_BATCH_MAX) {
            jw_fail(&e, 400, "items", "items is required: an array of 1 to %d triggers", JW_BATCH_MAX);
            trig_fail(t, &e);
            return;
        }
        for (size_t i = 0; i < body->len; i++)
            if (strcmp(body->u.members[i].key, "items")) {
                jw_fail(&e, 400, body->u.members[i].key, "unknown field \"%.60s\" (expected items)",
                        body->u.members[i].key);
                trig_fail(t, &e);
                return;
            }
        char batch[JW_UUID_SIZE];
        jw_id_new(batch);
        t->sent_at = jw_calloc(items->len + 1, sizeof(*t->sent_at));
        for (size_t i = 0; i < items->len; i++)
            if (add_item(t, &args, items->u.items[i], a, now, batch, &e) != 0) {
                char f[sizeof(e.field)];
                snprintf(f, sizeof(f), "items[%zu]%s%.60s", i, e.field[0] ? "." : "", e.field);
                memcpy(e.field, f, sizeof(f));
                jw_args_free(&args);
                trig_fail(t, &e);
                return;
            }
    } else {
        t->sent_at = jw_calloc(2, sizeof(*t->sent_at));
        if (add_item(t, &args, body, a, now, NULL, &e) != 0) {
            jw_args_free(&args);
            trig_fail(t, &e);
            return;
        }
    }
    /* the trigger is good: it joins this turn's run_create call of its
     * tenant (group commit), with room to start its runs here as they are
     * made: reserved now, given back by the answer (trig_fail gives back
     * what is left on any error) */
    size_t nruns = bulk ? items->len : 1;
    t->room = jw_exec_reserve(c->exec, t->tenant, nruns);
    struct jw_args *call = jw_store_join(c->store, JW_LUA_RUN_CREATE, a->tenant, create_prefix, c, on_triggered, t);
    jw_args_adds(call, job_ref);
    jw_args_addi(call, now);
    jw_args_addf(call, "%s%s%s%s%s", (flags & JW_TRIGGER_EXCLUSIVE) ? "x" : "", (flags & JW_TRIGGER_BY_SLUG) ? "p" : "",
                 (flags & JW_TRIGGER_NO_SYSTEM) ? "n" : "", (flags & JW_TRIGGER_SYSTEM_ONLY) ? "y" : "",
                 jw_store_apart(c->store) ? "b" : "");
    jw_args_addi(call, (int64_t)t->room);
    jw_args_addi(call, (int64_t)nruns);
    jw_args_move(call, &args);
    t->sent_us = jw_time_mono_us();
}

/* ---- cancel ------------------------------------------------------------------------- */

struct cancel {
    struct jw_core *c;
    jw_core_cb cb;
    void *arg;
    char tenant[40], run_id[40];
    struct jw_buf body;
};

static void on_cancelled(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct cancel *k = arg;
    struct jw_error e;
    const struct jw_error *err = NULL;
    if (st != JW_STORE_OK) {
        jw_core_store_error(st, &e);
        err = &e;
    } else if (jw_reply_is(jw_reply_at(r, 0), "gone")) {
        jw_fail(&e, 404, "", "no such run: %s", k->run_id);
        err = &e;
    } else if (jw_reply_is(jw_reply_at(r, 0), "ended")) {
        const char *s = jw_reply_str(jw_reply_at(r, 1), NULL);
        jw_fail(&e, 409, "", "the run already ended (%s)", s ? s : "?");
        err = &e;
    } else {
        const char *prev = jw_reply_str(jw_reply_at(r, 1), NULL);
        if (prev && !strcmp(prev, "running"))
            jw_exec_cancelled(k->c->exec, k->tenant, k->run_id);
        jw_exec_start_members(k->c->exec, r, 3);
        jw_exec_run_ended(k->c->exec, k->tenant, k->run_id);
        render(&k->body, jw_reply_at(r, 2));
    }
    k->cb(k->arg, err, err ? NULL : &k->body);
    jw_buf_free(&k->body);
    free(k);
}

void jw_runs_cancel(struct jw_core *c, const char *tenant, const char *run_id, jw_core_cb cb, void *arg)
{
    struct cancel *k = jw_calloc(1, sizeof(*k));
    k->c = c;
    k->cb = cb;
    k->arg = arg;
    snprintf(k->tenant, sizeof(k->tenant), "%s", tenant);
    if (!jw_id_is_uuid(run_id)) {
        struct jw_error e;
        jw_fail(&e, 404, "", "no such run: %.100s", run_id);
        cb(arg, &e, NULL);
        free(k);
        return;
    }
    jw_id_lower(run_id, k->run_id);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, k->run_id);
    jw_args_addi(&a, jw_time_now_ms());
    jw_store_eval(c->store, JW_LUA_RUN_CANCEL, tenant, &a, on_cancelled, k);
}

/* ---- a worker's reports -------------------------------------------------------------------- */

struct report {
    struct jw_core *c;
    jw_core_cb cb;
    void *arg;
    char tenant[40], run_id[40];
    char kind[16];
    char *error; /* what a worker's /fail said */
    struct jw_buf body;
};

static void report_free(struct report *rp)
{
    jw_buf_free(&rp->body);
    free(rp->error);
    free(rp);
}

static void report_reply(struct report *rp, const char *status, bool cancel)
{
    struct jw_jsonw w;
    jw_jsonw_init(&w, &rp->body);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "status", status);
    jw_jsonw_kbool(&w, "cancel_requested", cancel);
    jw_jsonw_obj_close(&w);
    rp->cb(rp->arg, NULL, &rp->body);
    report_free(rp);
}

static void report_error(struct report *rp, int status, const char *msg)
{
    struct jw_error e;
    jw_fail(&e, status, "", "%s", msg);
    rp->cb(rp->arg, &e, NULL);
    report_free(rp);
}

static void on_worker_failed(void *arg, int status, const char *msg)
{
    struct report *rp = arg;
    if (status == 200)
        report_reply(rp, "failed", false);
    else
        report_error(rp, status, msg);
}

static void on_reported(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct report *rp = arg;
    if (st != JW_STORE_OK) {
        struct jw_error e;
        jw_core_store_error(st, &e);
        report_error(rp, e.status, e.detail);
        return;
    }
    const struct jw_reply *word = jw_reply_at(r, 0);
    if (jw_reply_is(word, "gone")) {
        report_error(rp, 404, "no such run");
    } else if (jw_reply_is(word, "stale")) {
        report_error(rp, 401, "the run token is no longer valid: the run has moved on to another attempt");
    } else if (jw_reply_is(word, "ended")) {
        report_error(rp, 401, "the run token is no longer valid: the run has ended");
    } else if (jw_reply_is(word, "cancelled")) {
        report_reply(rp, "cancelled", true);
    } else if (jw_reply_is(word, "fail")) {
        /* handled by the engine (retry or fail); the token is still good */
        rp->body.len = 0;
        jw_exec_worker_failed(rp->c->exec, rp->tenant, rp->run_id, rp->error, on_worker_failed, rp);
    } else if (!strcmp(rp->kind, "complete")) {
        jw_exec_start_members(rp->c->exec, r, 1);
        jw_exec_run_ended(rp->c->exec, rp->tenant, rp->run_id);
        report_reply(rp, "completed", false);
    } else {
        report_reply(rp, "running", jw_reply_is(jw_reply_at(r, 1), "1"));
    }
}

void jw_runs_report(struct jw_core *c, const char *run_id, const char *token, const char *kind,
                    const struct jw_json *body, jw_core_cb cb, void *arg)
{
    struct report *rp = jw_calloc(1, sizeof(*rp));
    rp->c = c;
    rp->cb = cb;
    rp->arg = arg;
    snprintf(rp->kind, sizeof(rp->kind), "%s", kind);
    size_t key_len;
    const unsigned char *key = jw_exec_token_key(c->exec, &key_len);
    if (!key) {
        report_error(rp, 503, "not ready yet; retry shortly");
        return;
    }
    int attempt;
    if (!token || !jw_id_is_uuid(run_id) || jw_run_token_parse(token, rp->tenant, &attempt) != 0) {
        report_error(rp, 401, "a valid x-run-token header is required");
        return;
    }
    jw_id_lower(run_id, rp->run_id);
    if (!jw_run_token_check(key, key_len, rp->tenant, rp->run_id, attempt, token)) {
        report_error(rp, 401, "the run token does not belong to this run");
        return;
    }
    struct jw_buf data = JW_BUF_INIT;
    struct jw_error e;
    if (body && body->type != JW_JSON_OBJECT) {
        report_error(rp, 400, "the body must be a JSON object");
        return;
    }
    if (!strcmp(kind, "progress")) {
        if (jw_progress_decode(body, &data, &e) != 0) {
            jw_buf_free(&data);
            report_error(rp, 400, e.detail);
            return;
        }
    } else if (!strcmp(kind, "complete")) {
        const struct jw_json *res = jw_json_get(body, "result");
        if (res) {
            struct jw_jsonw w;
            jw_jsonw_init(&w, &data);
            jw_jsonw_value(&w, res);
        }
    } else if (!strcmp(kind, "fail")) {
        const struct jw_json *er = jw_json_get(body, "error");
        if (er && er->type == JW_JSON_STRING)
            rp->error = jw_strndup(er->u.str, er->len > 1000 ? 1000 : er->len);
    }
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, rp->run_id);
    jw_args_adds(&a, kind);
    jw_args_addi(&a, jw_time_now_ms());
    jw_args_add(&a, data.data ? data.data : "", data.len);
    jw_args_addi(&a, attempt); /* the token's: another attempt's is refused */
    jw_args_adds(&a, jw_store_apart(c->store) ? "b" : "");
    jw_buf_free(&data);
    jw_store_eval(c->store, JW_LUA_RUN_REPORT, rp->tenant, &a, on_reported, rp);
}

/* ---- health ---------------------------------------------------------------------------- */

struct health {
    jw_core_cb cb;
    void *arg;
    char *ref;
    struct jw_buf body;
};

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void on_health(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct health *h = arg;
    struct jw_error e;
    if (st != JW_STORE_OK || jw_reply_type(r) != JW_REPLY_ARRAY) {
        if (st != JW_STORE_OK)
            jw_core_store_error(st, &e);
        else
            jw_fail(&e, 404, "", "no such job: %.200s", h->ref);
        h->cb(h->arg, &e, NULL);
        free(h->ref);
        free(h);
        return;
    }
    int64_t total = 0, completed = 0, failed = 0, timed_out = 0, crashed = 0, cancelled = 0, expired = 0;
    size_t count = jw_reply_count(r);
    int64_t *durations = jw_calloc(count, sizeof(int64_t));
    size_t nd = 0;
    double sum = 0;
    for (size_t i = 1; i + 1 < count; i += 2) {
        const struct jw_reply *s = jw_reply_at(r, i);
        long long d = jw_reply_int(jw_reply_at(r, i + 1));
        total++;
        if (jw_reply_is(s, "completed"))
            completed++;
        else if (jw_reply_is(s, "failed"))
            failed++;
        else if (jw_reply_is(s, "timed_out"))
            timed_out++;
        else if (jw_reply_is(s, "crashed"))
            crashed++;
        else if (jw_reply_is(s, "cancelled"))
            cancelled++;
        else if (jw_reply_is(s, "expired"))
            expired++;
        if (d >= 0 &&
            (jw_reply_is(s, "completed") || jw_reply_is(s, "failed") || jw_reply_is(s, "timed_out"))) {
            durations[nd++] = d;
            sum += (double)d;
        }
    }
    int64_t ended = completed + failed + timed_out + crashed + expired;
    double rate = ended ? (double)completed / (double)ended : 1.0;
    qsort(durations, nd, sizeof(int64_t), cmp_i64);
    double p95 = nd ? (double)durations[nd * 95 / 100 < nd ? nd * 95 / 100 : nd - 1] / 1000.0 : 0;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &h->body);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kint(&w, "total_runs", total);
    jw_jsonw_kint(&w, "completed_runs", completed);
    jw_jsonw_kint(&w, "failed_runs", failed);
    jw_jsonw_kint(&w, "timed_out_runs", timed_out);
    jw_jsonw_kint(&w, "crashed_runs", crashed);
    jw_jsonw_kint(&w, "canceled_runs", cancelled);
    jw_jsonw_kint(&w, "expired_runs", expired);
    jw_jsonw_key(&w, "success_rate");
    jw_jsonw_double(&w, rate, 4);
    jw_jsonw_key(&w, "avg_duration_secs");
    jw_jsonw_double(&w, nd ? sum / (double)nd / 1000.0 : 0, 3);
    jw_jsonw_key(&w, "p95_duration_secs");
    jw_jsonw_double(&w, p95, 3);
    /* the share of ended runs that succeeded, less a little for each timeout */
    double score = 100.0 * rate - (ended ? 10.0 * (double)timed_out / (double)ended : 0);
    jw_jsonw_kint(&w, "health_score", score < 0 ? 0 : (int64_t)(score + 0.5));
    jw_jsonw_obj_close(&w);
    free(durations);
    h->cb(h->arg, NULL, &h->body);
    jw_buf_free(&h->body);
    free(h->ref);
    free(h);
}

void jw_runs_health(struct jw_core *c, const char *tenant, const char *job_ref, int64_t window_ms,
                    jw_core_cb cb, void *arg)
{
    struct health *h = jw_calloc(1, sizeof(*h));
    h->cb = cb;
    h->arg = arg;
    h->ref = jw_strdup(job_ref);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, job_ref);
    jw_args_addi(&a, jw_time_now_ms() - window_ms);
    jw_args_addi(&a, 10000);
    jw_store_eval(c->store, JW_LUA_JOB_HEALTH, tenant, &a, on_health, h);
}
