/* runs: reading runs — one by id, or a page of a tenant's or a job's runs.
 * (Runs are made by the scheduler's fire_claim and, later, by triggers.) */
#include <stdlib.h>
#include <string.h>

#include "jobwheel/core.h"
#include "jobwheel/id.h"
#include "jobwheel/run.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"

struct runop {
    struct jw_core *c;
    jw_core_cb cb;
    jw_core_list_cb list_cb;
    void *arg;
    char *ref;
    struct jw_buf body;
};

static void runop_free(struct runop *o)
{
    free(o->ref);
    jw_buf_free(&o->body);
    free(o);
}

static void runop_fail(struct runop *o, const struct jw_error *e)
{
    if (o->list_cb)
        o->list_cb(o->arg, e, NULL, NULL);
    else
        o->cb(o->arg, e, NULL);
    runop_free(o);
}

/* A run's JSON from its HGETALL array; false when empty. */
static bool write_run(struct jw_jsonw *w, const struct jw_reply *pairs)
{
    size_t n = jw_reply_count(pairs) / 2;
    if (n == 0)
        return false;
    const char **names = jw_calloc(n, sizeof(char *));
    const char **values = jw_calloc(n, sizeof(char *));
    size_t *lens = jw_calloc(n, sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        names[i] = jw_reply_str(jw_reply_at(pairs, 2 * i), NULL);
        values[i] = jw_reply_str(jw_reply_at(pairs, 2 * i + 1), &lens[i]);
        if (!names[i])
            names[i] = "";
        if (!values[i])
            values[i] = "";
    }
    struct jw_run_pairs p = {n, names, values, lens};
    jw_run_write(w, &p);
    free(names);
    free(values);
    free(lens);
    return true;
}

static void on_got(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct runop *o = arg;
    struct jw_error e;
    if (st != JW_STORE_OK) {
        jw_core_store_error(st, &e);
        runop_fail(o, &e);
        return;
    }
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    if (!write_run(&w, jw_reply_at(r, 0))) {
        jw_fail(&e, 404, "", "no such run: %.100s", o->ref);
        runop_fail(o, &e);
        return;
    }
    o->cb(o->arg, NULL, &o->body);
    runop_free(o);
}

void jw_runs_get(struct jw_core *c, const char *tenant, const char *id, jw_core_cb cb, void *arg)
{
    struct runop *o = jw_calloc(1, sizeof(*o));
    o->c = c;
    o->cb = cb;
    o->arg = arg;
    o->ref = jw_strdup(id);
    if (!jw_id_is_uuid(id)) {
        struct jw_error e;
        jw_fail(&e, 404, "", "no such run: %.100s", id);
        runop_fail(o, &e);
        return;
    }
    char lower[JW_UUID_SIZE];
    jw_id_lower(id, lower);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, lower);
    jw_store_eval(c->store, JW_LUA_RUN_GET, tenant, &a, on_got, o);
}

static void on_listed(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct runop *o = arg;
    struct jw_error e;
    if (st != JW_STORE_OK) {
        jw_core_store_error(st, &e);
        runop_fail(o, &e);
        return;
    }
    if (jw_reply_type(r) != JW_REPLY_ARRAY) {
        jw_fail(&e, 404, "", "no such job: %.200s", o->ref ? o->ref : "");
        runop_fail(o, &e);
        return;
    }
    struct jw_jsonw w;
    jw_jsonw_init(&w, &o->body);
    jw_jsonw_arr_open(&w);
    for (size_t i = 3; i < jw_reply_count(r); i++)
        write_run(&w, jw_reply_at(r, i));
    jw_jsonw_arr_close(&w);
    char cursor[128];
    bool more = jw_reply_int(jw_reply_at(r, 0)) == 1;
    if (more) {
        const char *score = jw_reply_str(jw_reply_at(r, 1), NULL);
        const char *id = jw_reply_str(jw_reply_at(r, 2), NULL);
        char t[JW_TIME_ISO_SIZE];
        jw_time_format(score ? strtoll(score, NULL, 10) : 0, t);
        snprintf(cursor, sizeof(cursor), "%s|%s", t, id ? id : "");
    }
    o->list_cb(o->arg, NULL, &o->body, more ? cursor : NULL);
    runop_free(o);
}

void jw_runs_list(struct jw_core *c, const char *tenant, const struct jw_run_filter *f, jw_core_list_cb cb,
                  void *arg)
{
    struct runop *o = jw_calloc(1, sizeof(*o));
    o->c = c;
    o->list_cb = cb;
    o->arg = arg;
    o->ref = f->job_ref ? jw_strdup(f->job_ref) : NULL;
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, f->job_ref ? f->job_ref : "");
    if (f->cursor && f->cursor[0]) {
        const char *bar = strchr(f->cursor, '|');
        char t[JW_TIME_ISO_SIZE];
        int64_t score;
        if (!bar || (size_t)(bar - f->cursor) >= sizeof(t) || !jw_id_is_uuid(bar + 1)) {
            jw_args_free(&a);
            struct jw_error e;
            jw_fail(&e, 400, "cursor", "cursor is not one this server gave out");
            runop_fail(o, &e);
            return;
        }
        memcpy(t, f->cursor, (size_t)(bar - f->cursor));
        t[bar - f->cursor] = '\0';
        if (jw_time_parse(t, &score) != 0) {
            jw_args_free(&a);
            struct jw_error e;
            jw_fail(&e, 400, "cursor", "cursor is not one this server gave out");
            runop_fail(o, &e);
            return;
        }
        jw_args_addi(&a, score);
        jw_args_adds(&a, bar + 1);
    } else {
        jw_args_adds(&a, "");
        jw_args_adds(&a, "");
    }
    jw_args_addi(&a, f->limit);
    jw_args_adds(&a, f->status ? f->status : "");
    jw_store_eval(c->store, JW_LUA_RUN_LIST, tenant, &a, on_listed, o);
}
