/* system: seed 000's system jobs — six Builtin jobs per tenant, made by
 * jobwheel on first use (each on its own cron), triggered by name with the
 * "already running" 409 decided in Redis, and their statistics. */
#include <stdlib.h>
#include <string.h>

#include "jobwheel/core.h"
#include "jobwheel/store.h"

static const struct {
    const char *name, *cron, *description;
} jobs[] = {
    {"tokenExpiry", "0 * * * *", "Clean up expired tokens"},
    {"dataSync", "*/15 * * * *", "Synchronize data across services"},
    {"reportGeneration", "0 6 * * *", "Generate scheduled reports"},
    {"cleanupExpiredSessions", "30 * * * *", "Remove expired user sessions"},
    {"auditLogArchive", "0 3 * * *", "Archive old audit logs"},
    {"credentialRotationCheck", "0 8 * * *", "Check for credentials needing rotation"},
};
#define NJOBS (sizeof(jobs) / sizeof(jobs[0]))

bool jw_system_job(const char *name)
{
    for (size_t i = 0; name && i < NJOBS; i++)
        if (!strcmp(jobs[i].name, name))
            return true;
    return false;
}

/* ---- trigger -------------------------------------------------------------------------- */

struct strig {
    struct jw_core *c;
    jw_core_trigger_cb cb;
    void *arg;
    char tenant[40], who[200], email[256];
    size_t job;               /* index into jobs[] */
    bool made;                /* the job was created (or found made) once */
    struct jw_json_doc *body; /* the system job's definition, while it is made */
};

static void strig_done(struct strig *t, const struct jw_error *err, struct jw_buf *body, bool created)
{
    t->cb(t->arg, err, body, created);
    jw_json_doc_free(t->body);
    free(t);
}

static void fire(struct strig *t);

static void on_made(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    (void)body;
    struct strig *t = arg;
    /* 409: another instance made it meanwhile; either way, trigger it now */
    if (err && err->status != 409) {
        strig_done(t, err, NULL, false);
        return;
    }
    t->made = true;
    fire(t);
}

static void make_job(struct strig *t)
{
    struct jw_buf text = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &text);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "name", jobs[t->job].name);
    jw_jsonw_kstr(&w, "description", jobs[t->job].description);
    jw_jsonw_kstr(&w, "cron", jobs[t->job].cron);
    jw_jsonw_kstr(&w, "job_type", "Builtin");
    jw_jsonw_key(&w, "job_configuration");
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "handler", jobs[t->job].name);
    jw_jsonw_obj_close(&w);
    jw_jsonw_kint(&w, "max_attempts", 1);
    jw_jsonw_obj_close(&w);
    char why[128];
    struct jw_json_doc *doc = jw_json_parse(text.data, text.len, 8, why, sizeof(why));
    jw_buf_free(&text);
    if (!doc) {
        struct jw_error e;
        jw_fail(&e, 500, "", "the system job could not be defined");
        strig_done(t, &e, NULL, false);
        return;
    }
    t->body = doc; /* it must outlive the create */
    struct jw_actor a = {.tenant = t->tenant, .who = "system"};
    jw_jobs_create_system(t->c, &a, jw_json_root(doc), on_made, t);
}

static void on_fired(void *arg, const struct jw_error *err, struct jw_buf *body, bool created)
{
    struct strig *t = arg;
    if (err && err->status == 404 && !t->made) {
        make_job(t);
        return;
    }
    strig_done(t, err, body, created);
}

static void fire(struct strig *t)
{
    static const struct jw_json empty = {.type = JW_JSON_OBJECT};
    struct jw_actor a = {.tenant = t->tenant, .who = t->who, .email = t->email[0] ? t->email : NULL};
    jw_runs_trigger(t->c, &a, jobs[t->job].name, &empty, false, JW_TRIGGER_EXCLUSIVE | JW_TRIGGER_SYSTEM_ONLY,
                    on_fired, t);
}

void jw_system_trigger(struct jw_core *c, const struct jw_actor *a, const char *name, jw_core_trigger_cb cb,
                       void *arg)
{
    size_t i = 0;
    while (i < NJOBS && strcmp(jobs[i].name, name ? name : ""))
        i++;
    if (i == NJOBS) {
        struct jw_error e;
        jw_fail(&e, 400, "jobName", "Invalid job name: \"%.60s\" is not a system job", name ? name : "");
        cb(arg, &e, NULL, false);
        return;
    }
    struct strig *t = jw_calloc(1, sizeof(*t));
    t->c = c;
    t->cb = cb;
    t->arg = arg;
    t->job = i;
    snprintf(t->tenant, sizeof(t->tenant), "%s", a->tenant);
    snprintf(t->who, sizeof(t->who), "%s", a->who);
    snprintf(t->email, sizeof(t->email), "%s", a->email ? a->email : "");
    fire(t);
}

/* ---- stats ---------------------------------------------------------------------------- */

struct sstats {
    jw_core_cb cb;
    void *arg;
    struct jw_buf body;
};

static void on_stats(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct sstats *s = arg;
    struct jw_error e;
    if (st != JW_STORE_OK) {
        jw_core_store_error(st, &e);
        s->cb(s->arg, &e, NULL);
    } else {
        jw_buf_putc(&s->body, '[');
        for (size_t i = 0; i < jw_reply_count(r); i++) {
            size_t n;
            const char *json = jw_reply_str(jw_reply_at(r, i), &n);
            if (i)
                jw_buf_putc(&s->body, ',');
            jw_buf_append(&s->body, json, n);
        }
        jw_buf_putc(&s->body, ']');
        s->cb(s->arg, NULL, &s->body);
    }
    jw_buf_free(&s->body);
    free(s);
}

void jw_system_stats(struct jw_core *c, const char *tenant, jw_core_cb cb, void *arg)
{
    struct sstats *s = jw_calloc(1, sizeof(*s));
    s->cb = cb;
    s->arg = arg;
    struct jw_args a = JW_ARGS_INIT;
    for (size_t i = 0; i < NJOBS; i++)
        jw_args_adds(&a, jobs[i].name);
    jw_store_eval(c->store, JW_LUA_SYSTEM_STATS, tenant, &a, on_stats, s);
}
