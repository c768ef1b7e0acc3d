/* scheduler: seed 003's surface on /api/v1/scheduler — jobs (create, a
 * paged list, get, PUT, soft and hard delete, reschedule, pause, resume,
 * trigger, exclusions, dependencies), executions and workflows — in its
 * camelCase DTOs, errors as problem+json naming its own fields.
 *
 * A thin adapter: each request is translated into the native model's JSON
 * (kept in c->made for the core call) and handed to one core operation;
 * each answer is the native JSON translated back. Requests in seed 004's
 * form on these paths go to the nightly surface (SPEC §4). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_internal.h"
#include "jobwheel/id.h"
#include "jobwheel/time.h"

#define PAGE_SIZE_DEFAULT 20
#define PAGE_SIZE_MAX 200
#define PAGE_NUMBER_MAX 1000000
#define TEXT_MAX 256

/* ---- errors ------------------------------------------------------------------ */

/* Native field names and what seed 003 calls them. A native field path
 * that starts with one of these (then ".", "[" or its end) is renamed;
 * what follows keeps its spelling (jobConfiguration's members are the
 * native ones). */
static const struct {
    const char *native, *seed;
} field_names[] = {
    {"endpoint_url", "jobConfiguration.url"},
    {"job_configuration", "jobConfiguration"},
    {"job_type", "jobType"},
    {"cron", "scheduleExpression"},
    {"interval_seconds", "intervalSeconds"},
    {"run_at", "runAt"},
    {"start_at", "effectiveFrom"},
    {"effective_from", "effectiveFrom"},
    {"max_attempts", "retryPolicy.maxAttempts"},
    {"retry_delays_secs", "retryPolicy.delaySeconds"},
    {"timeout_secs", "timeoutSeconds"},
    {"enabled", "isEnabled"},
    {"exclusions.dates", "excludedDates"},
    {"exclusions.days_of_week", "excludedDaysOfWeek"},
    {"exclusions.time_range", "timeRange"},
    {"depends_on_job_id", "dependsOnJobIds"},
};

static bool path_prefix(const char *s, const char *prefix)
{
    size_t n = strlen(prefix);
    return !strncmp(s, prefix, n) && (s[n] == '\0' || s[n] == '.' || s[n] == '[');
}

/* snake_case → camelCase into out (size cap). */
static void camelize(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < cap; p++) {
        if (*p == '_' && p[1] >= 'a' && p[1] <= 'z' && o > 0 && out[o - 1] != '.') {
            out[o++] = (char)(p[1] - 'a' + 'A');
            p++;
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* The seed's name for a native field path. */
static void seed_field(const char *native, char *out, size_t cap)
{
    for (size_t i = 0; i < sizeof(field_names) / sizeof(field_names[0]); i++)
        if (path_prefix(native, field_names[i].native)) {
            snprintf(out, cap, "%s%s", field_names[i].seed, native + strlen(field_names[i].native));
            return;
        }
    camelize(native, out, cap);
}

/* problem+json with the seed's field names, in `errors` and where the
 * message starts with the field. */
static void sched_problem(struct jw_call *c, const struct jw_error *err)
{
    struct jw_error e = *err;
    if (err->field[0]) {
        seed_field(err->field, e.field, sizeof(e.field));
        size_t n = strlen(err->field);
        if (!strncmp(err->detail, err->field, n)) {
            struct jw_buf d = JW_BUF_INIT;
            jw_buf_printf(&d, "%s%s", e.field, err->detail + n);
            snprintf(e.detail, sizeof(e.detail), "%.*s", (int)sizeof(e.detail) - 1, jw_buf_str(&d));
            jw_buf_free(&d);
        }
    }
    jw_reply_problem(c->req, &e);
}

/* The request's core input: text written by the adapter, parsed and kept
 * with the call (c->made) until the core has answered. NULL after 500. */
static const struct jw_json *made(struct jw_call *c, struct jw_buf *text)
{
    char why[160];
    jw_json_doc_free(c->made);
    c->made = jw_json_parse(text->data, text->len, 64, why, sizeof(why));
    jw_buf_free(text);
    if (!c->made) {
        jw_call_problemf(c, 500, "", "the request could not be translated: %s", why);
        return NULL;
    }
    return jw_json_root(c->made);
}

/* ---- shapes, native → seed 003 ---------------------------------------------------- */

static const struct jw_json *get(const struct jw_json *o, const char *k)
{
    const struct jw_json *v = o ? jw_json_get(o, k) : NULL;
    return v && v->type != JW_JSON_NULL ? v : NULL;
}

static bool get_bool(const struct jw_json *o, const char *k, bool def)
{
    const struct jw_json *v = get(o, k);
    return v && v->type == JW_JSON_BOOL ? v->u.b : def;
}

static void kvalue(struct jw_jsonw *w, const char *key, const struct jw_json *v)
{
    jw_jsonw_key(w, key);
    jw_jsonw_value(w, v);
}

/* camelCase → snake_case into out (size cap). */
static void snakify(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 2 < cap; p++) {
        if (*p >= 'A' && *p <= 'Z') {
            out[o++] = '_';
            out[o++] = (char)(*p - 'A' + 'a');
        } else {
            out[o++] = *p;
        }
    }
    out[o] = '\0';
}

/* A copy of v with every object key renamed (structure data only:
 * dependencies, workflows — never user payloads). */
static void write_renamed(struct jw_jsonw *w, const struct jw_json *v,
                          void (*rename)(const char *in, char *out, size_t cap))
{
    if (v && v->type == JW_JSON_ARRAY) {
        jw_jsonw_arr_open(w);
        for (size_t i = 0; i < v->len; i++)
            write_renamed(w, v->u.items[i], rename);
        jw_jsonw_arr_close(w);
    } else if (v && v->type == JW_JSON_OBJECT) {
        jw_jsonw_obj_open(w);
        for (size_t i = 0; i < v->len; i++) {
            char key[160];
            rename(v->u.members[i].key, key, sizeof(key));
            jw_jsonw_key(w, key);
            write_renamed(w, v->u.members[i].val, rename);
        }
        jw_jsonw_obj_close(w);
    } else {
        jw_jsonw_value(w, v);
    }
}

/* native → seed 003: keys in camelCase */
static void write_camel(struct jw_jsonw *w, const struct jw_json *v)
{
    write_renamed(w, v, camelize);
}

/* seed 003 → native, for request bodies: keys in snake_case */
static void write_snake(struct jw_jsonw *w, const struct jw_json *v)
{
    write_renamed(w, v, snakify);
}

static const char *job_status(const struct jw_json *job)
{
    if (!get_bool(job, "enabled", true) || get(job, "deleted_at"))
        return "Disabled";
    return get_bool(job, "paused", false) ? "Paused" : "Enabled";
}

static const char *schedule_type(const struct jw_json *job)
{
    if (get(job, "cron"))
        return "Cron";
    if (get(job, "interval_seconds"))
        return "Interval";
    return get(job, "run_at") ? "OneTime" : NULL;
}

/* JobDto from a native job. */
static void write_job(struct jw_jsonw *w, const struct jw_json *job)
{
    const struct jw_json *type = get(job, "job_type"), *cfg = get(job, "job_configuration");
    bool http = !type || (type->type == JW_JSON_STRING && !strcmp(type->u.str, "HttpCall"));
    jw_jsonw_obj_open(w);
    kvalue(w, "id", get(job, "id"));
    kvalue(w, "name", get(job, "name"));
    kvalue(w, "description", get(job, "description"));
    kvalue(w, "jobType", type);
    jw_jsonw_kstr(w, "scheduleType", schedule_type(job));
    kvalue(w, "scheduleExpression", get(job, "cron"));
    kvalue(w, "intervalSeconds", get(job, "interval_seconds"));
    kvalue(w, "runAt", get(job, "run_at"));
    jw_jsonw_key(w, "jobConfiguration");
    if (http) { /* the URL is the job's endpoint_url */
        jw_jsonw_obj_open(w);
        kvalue(w, "url", get(job, "endpoint_url"));
        for (size_t i = 0; cfg && cfg->type == JW_JSON_OBJECT && i < cfg->len; i++)
            kvalue(w, cfg->u.members[i].key, cfg->u.members[i].val);
        jw_jsonw_obj_close(w);
    } else {
        jw_jsonw_value(w, cfg);
    }
    jw_jsonw_key(w, "retryPolicy");
    jw_jsonw_obj_open(w);
    kvalue(w, "maxAttempts", get(job, "max_attempts"));
    const struct jw_json *delays = get(job, "retry_delays_secs");
    kvalue(w, "delaySeconds",
           delays && delays->type == JW_JSON_ARRAY && delays->len == 1 ? delays->u.items[0] : NULL);
    jw_jsonw_obj_close(w);
    kvalue(w, "timeoutSeconds", get(job, "timeout_secs"));
    kvalue(w, "timezone", get(job, "timezone"));
    jw_jsonw_kbool(w, "isEnabled", get_bool(job, "enabled", true));
    jw_jsonw_kstr(w, "status", job_status(job));
    jw_jsonw_key(w, "tags");
    jw_jsonw_arr_open(w);
    const struct jw_json *tags = get(job, "tags");
    for (size_t i = 0; tags && tags->type == JW_JSON_OBJECT && i < tags->len; i++) {
        const struct jw_json *v = tags->u.members[i].val;
        if (v->type == JW_JSON_STRING && v->len > 0) {
            struct jw_buf t = JW_BUF_INIT;
            jw_buf_printf(&t, "%s:%s", tags->u.members[i].key, v->u.str);
            jw_jsonw_str(w, jw_buf_str(&t));
            jw_buf_free(&t);
        } else {
            jw_jsonw_str(w, tags->u.members[i].key);
        }
    }
    jw_jsonw_arr_close(w);
    const struct jw_json *ex = get(job, "exclusions");
    jw_jsonw_key(w, "exclusions");
    if (ex) {
        jw_jsonw_obj_open(w);
        kvalue(w, "excludedDates", get(ex, "dates"));
        kvalue(w, "excludedDaysOfWeek", get(ex, "days_of_week"));
        kvalue(w, "timeRange", get(ex, "time_range"));
        jw_jsonw_obj_close(w);
    } else {
        jw_jsonw_null(w);
    }
    kvalue(w, "nextRunAt", get(job, "next_run_at"));
    kvalue(w, "createdAt", get(job, "created_at"));
    kvalue(w, "updatedAt", get(job, "updated_at"));
    kvalue(w, "createdBy", get(job, "created_by"));
    kvalue(w, "version", get(job, "version"));
    jw_jsonw_kbool(w, "isDeleted", get(job, "deleted_at") != NULL);
    kvalue(w, "deletedAt", get(job, "deleted_at"));
    jw_jsonw_obj_close(w);
}

/* Hangfire's words for a run's status, where it has one. */
static const char *execution_status(const char *s)
{
    static const char *const map[][2] = {
        {"delayed", "Scheduled"},  {"pending", "Enqueued"},    {"waiting", "Awaiting"},
        {"running", "Processing"}, {"completed", "Succeeded"}, {"failed", "Failed"},
        {"timed_out", "TimedOut"}, {"crashed", "Crashed"},     {"cancelled", "Cancelled"},
        {"expired", "Expired"},    {"skipped", "Skipped"},
    };
    for (size_t i = 0; s && i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i][0], s))
            return map[i][1];
    return s;
}

static int64_t time_of(const struct jw_json *o, const char *k)
{
    const struct jw_json *v = get(o, k);
    int64_t ms;
    return v && v->type == JW_JSON_STRING && jw_time_parse(v->u.str, &ms) == 0 ? ms : -1;
}

/* ExecutionDto from a native run. */
static void write_execution(struct jw_jsonw *w, const struct jw_json *run)
{
    const struct jw_json *st = get(run, "status");
    jw_jsonw_obj_open(w);
    kvalue(w, "id", get(run, "id"));
    kvalue(w, "jobId", get(run, "job_id"));
    jw_jsonw_kstr(w, "status", execution_status(st && st->type == JW_JSON_STRING ? st->u.str : NULL));
    kvalue(w, "attempt", get(run, "attempt"));
    kvalue(w, "triggeredBy", get(run, "triggered_by"));
    kvalue(w, "createdAt", get(run, "created_at"));
    kvalue(w, "scheduledAt", get(run, "scheduled_at"));
    kvalue(w, "startedAt", get(run, "started_at"));
    kvalue(w, "completedAt", get(run, "finished_at"));
    int64_t started = time_of(run, "started_at"), finished = time_of(run, "finished_at");
    jw_jsonw_key(w, "durationMs");
    if (started >= 0 && finished >= started)
        jw_jsonw_int(w, finished - started);
    else
        jw_jsonw_null(w);
    kvalue(w, "result", get(run, "result"));
    kvalue(w, "errorMessage", get(run, "error"));
    jw_jsonw_obj_close(w);
}

/* ---- replies -------------------------------------------------------------------------- */

/* Reply with the answer's JobDto (201 sets Location). */
static void reply_job(struct jw_call *c, const struct jw_error *err, struct jw_buf *body, int status)
{
    struct jw_json_doc *doc = jw_call_answer(c, err, body);
    if (!doc)
        return;
    const struct jw_json *job = jw_json_root(doc);
    const struct jw_json *id = get(job, "id");
    if (status == 201 && id && id->type == JW_JSON_STRING) {
        char loc[96];
        snprintf(loc, sizeof(loc), "/api/v1/scheduler/jobs/%.36s", id->u.str);
        jw_req_add_header(c->req, "Location", loc);
    }
    struct jw_jsonw *w = jw_call_writer(c);
    write_job(w, job);
    jw_call_send(c, status);
    jw_json_doc_free(doc);
}

static void job_done_200(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    reply_job(arg, err, body, 200);
}

static void job_done_201(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    reply_job(arg, err, body, 201);
}

/* Pause and resume: the seed answers 400 for a job that does not exist. */
static void toggled(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    if (err && err->status == 404) {
        struct jw_error e = *err;
        e.status = 400;
        reply_job(arg, &e, NULL, 200);
        return;
    }
    reply_job(arg, err, body, 200);
}

/* A structure answer (dependencies, workflows) with camelCase keys. */
static void reply_camel(struct jw_call *c, const struct jw_error *err, struct jw_buf *body, int status,
                        const char *location_base)
{
    struct jw_json_doc *doc = jw_call_answer(c, err, body);
    if (!doc)
        return;
    const struct jw_json *id = get(jw_json_root(doc), "id");
    if (location_base && id && id->type == JW_JSON_STRING) {
        char loc[128];
        snprintf(loc, sizeof(loc), "%s/%.36s", location_base, id->u.str);
        jw_req_add_header(c->req, "Location", loc);
    }
    struct jw_jsonw *w = jw_call_writer(c);
    write_camel(w, jw_json_root(doc));
    jw_call_send(c, status);
    jw_json_doc_free(doc);
}

static void camel_done_200(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    reply_camel(arg, err, body, 200, NULL);
}

static void workflow_created(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    reply_camel(arg, err, body, 201, "/api/v1/scheduler/workflows");
}

/* ---- shapes, seed 003 → native ----------------------------------------------------------- */

/* The :id of a job route, or NULL after handing a seed 004 request (a job
 * name there) to the nightly surface. */
static const char *job_id(struct jw_call *c)
{
    const char *id = jw_req_param(c->req, "id");
    if (!jw_id_is_uuid(id)) {
        jw_api_nightly_dispatch(c);
        return NULL;
    }
    return id;
}

/* A job route's :id and its body (an object of known members), or NULL
 * after replying. */
static const struct jw_json *job_and_body(struct jw_call *c, const char *const *known, const char **id)
{
    *id = job_id(c);
    return *id ? jw_call_object(c, false, known) : NULL;
}

static bool is_object(struct jw_call *c, const struct jw_json *v, const char *field)
{
    if (v->type == JW_JSON_OBJECT)
        return true;
    jw_call_problemf(c, 400, field, "%s must be an object, not %s", field[0] ? field : "the body",
                     jw_json_type_name(v->type));
    return false;
}

static bool one_of(const char *s, const char *const *list)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return true;
    return false;
}

static bool unknown_fields(struct jw_call *c, const struct jw_json *obj, const char *const *known,
                           const char *const *ignored, const char *prefix)
{
    for (size_t i = 0; i < obj->len; i++) {
        const char *k = obj->u.members[i].key;
        if (one_of(k, known) || (ignored && one_of(k, ignored)))
            continue;
        char f[128];
        snprintf(f, sizeof(f), "%s%s%.60s", prefix, prefix[0] ? "." : "", k);
        jw_call_problemf(c, 400, f, "unknown field \"%s\"", f);
        return true;
    }
    return false;
}

/* The timing fields of a create, update or reschedule body, as native
 * cron / interval_seconds / run_at (with reset_others, the two not chosen
 * as nulls). required: scheduleType must be given. false after replying
 * 400. */
static bool write_timing(struct jw_call *c, const struct jw_json *in, bool required, bool reset_others,
                         struct jw_jsonw *w)
{
    static const char *const types[] = {"Cron", "Interval", "OneTime", NULL};
    static const char *const seed[] = {"scheduleExpression", "intervalSeconds", "runAt"};
    static const char *const native[] = {"cron", "interval_seconds", "run_at"};
    const struct jw_json *type = jw_json_get(in, "scheduleType");
    int chosen = -1, given = 0;
    for (int i = 0; i < 3; i++)
        if (get(in, seed[i])) {
            given++;
            chosen = i;
        }
    if (type && type->type != JW_JSON_NULL) {
        if (type->type != JW_JSON_STRING || !one_of(type->u.str, types)) {
            jw_call_problemf(c, 400, "scheduleType", "scheduleType must be one of Cron, Interval, OneTime");
            return false;
        }
        int want = !strcmp(type->u.str, "Cron") ? 0 : !strcmp(type->u.str, "Interval") ? 1 : 2;
        if (!get(in, seed[want])) {
            jw_call_problemf(c, 400, seed[want], "%s is required when scheduleType is %s", seed[want],
                             type->u.str);
            return false;
        }
        for (int i = 0; i < 3; i++)
            if (i != want && get(in, seed[i])) {
                jw_call_problemf(c, 400, seed[i], "%s does not apply when scheduleType is %s", seed[i],
                                 type->u.str);
                return false;
            }
        chosen = want;
    } else if (required) {
        jw_call_problemf(c, 400, "scheduleType", "scheduleType is required: Cron, Interval or OneTime");
        return false;
    } else if (given > 1) {
        jw_call_problemf(c, 400, "scheduleType",
                         "give scheduleType with one of scheduleExpression, intervalSeconds, runAt");
        return false;
    } else if (given == 0) {
        return true; /* the timing stays */
    }
    for (int i = 0; i < 3; i++)
        if (i == chosen || reset_others)
            kvalue(w, native[i], i == chosen ? get(in, seed[i]) : NULL);
    return true;
}

/* jobConfiguration: url is the job's endpoint_url, the rest its
 * job_configuration. */
static bool write_configuration(struct jw_call *c, const struct jw_json *cfg, struct jw_jsonw *w)
{
    if (cfg->type == JW_JSON_NULL) {
        jw_jsonw_knull(w, "job_configuration");
        return true;
    }
    if (!is_object(c, cfg, "jobConfiguration"))
        return false;
    const struct jw_json *url = jw_json_get(cfg, "url");
    if (url)
        kvalue(w, "endpoint_url", url);
    size_t rest = 0;
    for (size_t i = 0; i < cfg->len; i++)
        rest += strcmp(cfg->u.members[i].key, "url") != 0;
    jw_jsonw_key(w, "job_configuration");
    if (rest == 0) {
        jw_jsonw_null(w);
        return true;
    }
    jw_jsonw_obj_open(w);
    for (size_t i = 0; i < cfg->len; i++)
        if (strcmp(cfg->u.members[i].key, "url"))
            kvalue(w, cfg->u.members[i].key, cfg->u.members[i].val);
    jw_jsonw_obj_close(w);
    return true;
}

static bool write_retry(struct jw_call *c, const struct jw_json *rp, struct jw_jsonw *w)
{
    static const char *const known[] = {"maxAttempts", "delaySeconds", NULL};
    if (rp->type == JW_JSON_NULL) { /* back to the defaults */
        jw_jsonw_knull(w, "max_attempts");
        jw_jsonw_knull(w, "retry_delays_secs");
        return true;
    }
    if (!is_object(c, rp, "retryPolicy") || unknown_fields(c, rp, known, NULL, "retryPolicy"))
        return false;
    const struct jw_json *max = jw_json_get(rp, "maxAttempts"), *delay = jw_json_get(rp, "delaySeconds");
    if (max)
        kvalue(w, "max_attempts", max);
    if (delay && delay->type == JW_JSON_NULL) {
        jw_jsonw_knull(w, "retry_delays_secs");
    } else if (delay) {
        int64_t d;
        if (delay->type != JW_JSON_NUMBER || jw_json_int(delay, &d) != 0 || d < 0 || d > 86400) {
            jw_call_problemf(c, 400, "retryPolicy.delaySeconds",
                             "retryPolicy.delaySeconds must be a whole number from 0 to 86400");
            return false;
        }
        jw_jsonw_key(w, "retry_delays_secs");
        jw_jsonw_arr_open(w);
        jw_jsonw_int(w, d);
        jw_jsonw_arr_close(w);
    }
    return true;
}

/* tags: ["billing", "env:prod"] → {"billing": "", "env": "prod"} */
static bool write_tags(struct jw_call *c, const struct jw_json *tags, struct jw_jsonw *w)
{
    jw_jsonw_key(w, "tags");
    if (tags->type == JW_JSON_NULL) {
        jw_jsonw_null(w);
        return true;
    }
    if (tags->type != JW_JSON_ARRAY) {
        jw_call_problemf(c, 400, "tags", "tags must be an array of strings");
        return false;
    }
    jw_jsonw_obj_open(w);
    for (size_t i = 0; i < tags->len; i++) {
        const struct jw_json *t = tags->u.items[i];
        char f[32];
        snprintf(f, sizeof(f), "tags[%zu]", i);
        if (t->type != JW_JSON_STRING || t->len == 0 || t->len > 128) {
            jw_call_problemf(c, 400, f, "%s must be a string of 1 to 128 characters", f);
            return false;
        }
        bool dup = false;
        for (size_t k = 0; k < i && !dup; k++)
            dup = !strcmp(tags->u.items[k]->u.str, t->u.str);
        if (dup)
            continue;
        const char *colon = strchr(t->u.str, ':');
        struct jw_buf key = JW_BUF_INIT;
        jw_buf_append(&key, t->u.str, colon ? (size_t)(colon - t->u.str) : t->len);
        jw_jsonw_key(w, jw_buf_str(&key));
        jw_jsonw_str(w, colon ? colon + 1 : "");
        jw_buf_free(&key);
    }
    jw_jsonw_obj_close(w);
    return true;
}

/* A create or PUT body → the native job (or patch). NULL after replying. */
static const struct jw_json *job_input(struct jw_call *c, const struct jw_json *in, bool create)
{
    static const char *const known[] = {
        "name",  "description",      "jobType",     "scheduleType",   "scheduleExpression", "intervalSeconds",
        "runAt", "jobConfiguration", "retryPolicy", "timeoutSeconds", "timezone",           "isEnabled",
        "tags",  "createdBy",        NULL};
    /* JobDto fields a client may send back from a GET: they change nothing */
    static const char *const ignored[] = {"id",      "status",    "nextRunAt", "createdAt",  "updatedAt",
                                          "version", "isDeleted", "deletedAt", "exclusions", NULL};
    static const char *const types[] = {"HttpCall", "StoredProcedure", "CodeExecution", "FileOperation",
                                        NULL};
    if (!is_object(c, in, "") || unknown_fields(c, in, known, ignored, ""))
        return NULL;
    const struct jw_json *v = jw_json_get(in, "jobType");
    if ((create && !get(in, "jobType")) || (v && (v->type != JW_JSON_STRING || !one_of(v->u.str, types)))) {
        jw_call_problemf(c, 400, "jobType",
                         "jobType is %s: HttpCall, StoredProcedure, CodeExecution or FileOperation",
                         create && !get(in, "jobType") ? "required" : "one of");
        return NULL;
    }
    v = jw_json_get(in, "createdBy");
    if (v && v->type != JW_JSON_NULL && (v->type != JW_JSON_STRING || v->len == 0 || v->len > TEXT_MAX)) {
        jw_call_problemf(c, 400, "createdBy", "createdBy must be a string of 1 to %d characters", TEXT_MAX);
        return NULL;
    }
    struct jw_buf text = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &text);
    jw_jsonw_obj_open(&w);
    static const char *const same[][2] = {
        {"name", "name"},         {"description", "description"},     {"jobType", "job_type"},
        {"timezone", "timezone"}, {"timeoutSeconds", "timeout_secs"}, {"isEnabled", "enabled"},
    };
    for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++)
        if ((v = jw_json_get(in, same[i][0])))
            kvalue(&w, same[i][1], v);
    bool ok = write_timing(c, in, create, true, &w);
    if (ok && (v = jw_json_get(in, "jobConfiguration")))
        ok = write_configuration(c, v, &w);
    if (ok && (v = jw_json_get(in, "retryPolicy")))
        ok = write_retry(c, v, &w);
    if (ok && (v = jw_json_get(in, "tags")))
        ok = write_tags(c, v, &w);
    if (!ok) {
        jw_buf_free(&text);
        return NULL;
    }
    jw_jsonw_obj_close(&w);
    return made(c, &text);
}

/* ---- jobs ------------------------------------------------------------------------------------ */

static bool nightly_body(const struct jw_json *body)
{
    return body->type == JW_JSON_OBJECT && jw_json_get(body, "job_name") != NULL;
}

static void create_job(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    if (nightly_body(body)) {
        jw_api_nightly_dispatch(c);
        return;
    }
    const struct jw_json *job = job_input(c, body, true);
    if (!job)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_create(c->api->core, &a, job, job_done_201, c);
}

/* A case-insensitive pick from pairs {seed word, native word}; *out
 * untouched when the parameter is absent. false after replying 400. */
static bool query_word(struct jw_call *c, const char *name, const char *const (*pairs)[2], size_t n,
                       const char **out)
{
    const char *v = jw_req_query(c->req, name);
    if (!v || !v[0])
        return true;
    struct jw_buf list = JW_BUF_INIT;
    for (size_t i = 0; i < n; i++) {
        if (!strcasecmp(v, pairs[i][0])) {
            *out = pairs[i][1];
            jw_buf_free(&list);
            return true;
        }
        jw_buf_printf(&list, "%s%s", i ? ", " : "", pairs[i][0]);
    }
    jw_call_problemf(c, 400, name, "%s must be one of %s", name, jw_buf_str(&list));
    jw_buf_free(&list);
    return false;
}

struct page_ask {
    int64_t page, size;
};

static bool page_params(struct jw_call *c, struct page_ask *p)
{
    return jw_call_query_int(c, "pageNumber", 1, 1, PAGE_NUMBER_MAX, &p->page) == 0 &&
           jw_call_query_int(c, "pageSize", PAGE_SIZE_DEFAULT, 1, PAGE_SIZE_MAX, &p->size) == 0;
}

/* A PagedResponseDto from a core page {"total": n, "<key>": [...]}, each
 * item written by write. */
static void reply_paged(void *arg, const struct jw_error *err, struct jw_buf *body, const char *key,
                        void (*write)(struct jw_jsonw *w, const struct jw_json *item))
{
    struct jw_call *c = arg;
    struct jw_json_doc *doc = jw_call_answer(c, err, body);
    if (!doc)
        return;
    const struct jw_json *root = jw_json_root(doc), *items = get(root, key), *total = get(root, "total");
    int64_t n = 0;
    struct page_ask p;
    if (!total || jw_json_int(total, &n) != 0)
        n = 0;
    if (!page_params(c, &p)) { /* checked before the call: cannot happen */
        jw_json_doc_free(doc);
        return;
    }
    int64_t pages = (n + p.size - 1) / p.size;
    struct jw_jsonw *w = jw_call_writer(c);
    jw_jsonw_obj_open(w);
    jw_jsonw_key(w, "items");
    jw_jsonw_arr_open(w);
    for (size_t i = 0; items && items->type == JW_JSON_ARRAY && i < items->len; i++)
        write(w, items->u.items[i]);
    jw_jsonw_arr_close(w);
    jw_jsonw_kint(w, "pageNumber", p.page);
    jw_jsonw_kint(w, "pageSize", p.size);
    jw_jsonw_kint(w, "totalCount", n);
    jw_jsonw_kint(w, "totalPages", pages);
    jw_jsonw_kbool(w, "hasPreviousPage", p.page > 1);
    jw_jsonw_kbool(w, "hasNextPage", p.page < pages);
    jw_jsonw_obj_close(w);
    jw_call_send(c, 200);
    jw_json_doc_free(doc);
}

static void listed(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    reply_paged(arg, err, body, "jobs", write_job);
}

static void list_jobs(struct jw_call *c)
{
    static const char *const job_types[][2] = {{"HttpCall", "HttpCall"},
                                               {"StoredProcedure", "StoredProcedure"},
                                               {"CodeExecution", "CodeExecution"},
                                               {"FileOperation", "FileOperation"},
                                               {"Builtin", "Builtin"}};
    static const char *const states[][2] = {
        {"Enabled", "enabled"}, {"Paused", "paused"}, {"Disabled", "disabled"}};
    static const char *const sorts[][2] = {{"createdAt", "created_at"},
                                           {"updatedAt", "updated_at"},
                                           {"name", "name"},
                                           {"nextRunAt", "next_run_at"}};
    static const char *const directions[][2] = {{"asc", "asc"}, {"desc", "desc"}};
    struct page_ask p;
    struct jw_job_query q = {0};
    const char *dir = NULL;
    if (!page_params(c, &p) || !query_word(c, "jobType", job_types, 5, &q.job_type) ||
        !query_word(c, "status", states, 3, &q.state) || !query_word(c, "sortBy", sorts, 4, &q.sort_by) ||
        !query_word(c, "sortDirection", directions, 2, &dir))
        return;
    q.page = p.page;
    q.page_size = p.size;
    q.tag = jw_req_query(c->req, "tag");
    q.search = jw_req_query(c->req, "search");
    if ((q.tag && strlen(q.tag) > TEXT_MAX) || (q.search && strlen(q.search) > TEXT_MAX)) {
        jw_call_problemf(c, 400, q.tag && strlen(q.tag) > TEXT_MAX ? "tag" : "search",
                         "tag and search are at most %d characters", TEXT_MAX);
        return;
    }
    /* newest first unless a sort is asked for (ascending unless said) */
    q.descending = dir ? !strcmp(dir, "desc") : q.sort_by == NULL;
    jw_jobs_query(c->api->core, c->tenant, &q, listed, c);
}

static void get_job(struct jw_call *c)
{
    const char *id = job_id(c);
    if (id)
        jw_jobs_get(c->api->core, c->tenant, id, job_done_200, c);
}

static void put_job(struct jw_call *c)
{
    const char *id = job_id(c);
    if (!id)
        return;
    const struct jw_json *body = jw_call_body(c, false);
    const struct jw_json *patch = body ? job_input(c, body, false) : NULL;
    if (!patch)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_update(c->api->core, &a, id, patch, job_done_200, c);
}

static void delete_job(struct jw_call *c)
{
    const char *id = job_id(c);
    if (!id)
        return;
    const char *hard = jw_req_query(c->req, "hardDelete");
    if (hard && strcasecmp(hard, "true") && strcasecmp(hard, "false")) {
        jw_call_problemf(c, 400, "hardDelete", "hardDelete must be true or false");
        return;
    }
    if (hard && !strcasecmp(hard, "true")) {
        jw_jobs_delete(c->api->core, c->tenant, id, true, jw_call_done_204, c); /* history too */
        return;
    }
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_soft_delete(c->api->core, &a, id, jw_call_done_204, c);
}

static void reschedule_job(struct jw_call *c)
{
    static const char *const known[] = {"scheduleType", "scheduleExpression", "intervalSeconds",
                                        "runAt",        "effectiveFrom",      NULL};
    const char *id;
    const struct jw_json *body = job_and_body(c, known, &id);
    if (!body)
        return;
    struct jw_buf text = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &text);
    jw_jsonw_obj_open(&w);
    /* the core's reschedule takes exactly one timing, no nulls */
    if (!write_timing(c, body, true, false, &w)) {
        jw_buf_free(&text);
        return;
    }
    const struct jw_json *eff = jw_json_get(body, "effectiveFrom");
    if (eff)
        kvalue(&w, "effective_from", eff);
    jw_jsonw_obj_close(&w);
    const struct jw_json *in = made(c, &text);
    if (!in)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_reschedule(c->api->core, &a, id, in, job_done_200, c);
}

static void set_paused(struct jw_call *c, bool pause)
{
    const char *id = job_id(c);
    if (!id)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_pause(c->api->core, &a, id, pause, toggled, c);
}

static void pause_job(struct jw_call *c)
{
    set_paused(c, true);
}

static void resume_job(struct jw_call *c)
{
    set_paused(c, false);
}

/* 202, the execution id as the body, Location: its execution. */
static void triggered(void *arg, const struct jw_error *err, struct jw_buf *body, bool created)
{
    (void)created;
    struct jw_call *c = arg;
    struct jw_json_doc *doc = jw_call_answer(c, err, body);
    if (!doc)
        return;
    const struct jw_json *id = get(jw_json_root(doc), "id");
    if (!id || id->type != JW_JSON_STRING) {
        jw_json_doc_free(doc);
        jw_call_problemf(c, 500, "", "the run has no id");
        return;
    }
    char loc[96];
    snprintf(loc, sizeof(loc), "/api/v1/scheduler/executions/%.36s", id->u.str);
    jw_req_add_header(c->req, "Location", loc);
    struct jw_jsonw *w = jw_call_writer(c);
    jw_jsonw_value(w, id);
    jw_call_send(c, 202);
    jw_json_doc_free(doc);
}

static void trigger_job(struct jw_call *c)
{
    const char *id = job_id(c);
    if (!id)
        return;
    const struct jw_json *body = jw_call_body(c, true);
    if (!body)
        return;
    if (body->type != JW_JSON_OBJECT || body->len > 0) {
        jw_call_problemf(c, 400, "", "a trigger takes no body (send nothing or {})");
        return;
    }
    struct jw_actor a = jw_call_actor(c);
    jw_runs_trigger(c->api->core, &a, id, body, false, JW_TRIGGER_NO_SYSTEM, triggered, c);
}

/* {excludedDates, excludedDaysOfWeek, timeRange: {start, end}} replaces
 * the job's exclusions (all empty: none). */
static void set_exclusions(struct jw_call *c)
{
    static const char *const known[] = {"excludedDates", "excludedDaysOfWeek", "timeRange", NULL};
    static const char *const range_known[] = {"start", "end", "startTime", "endTime", NULL};
    const char *id;
    const struct jw_json *body = job_and_body(c, known, &id);
    if (!body)
        return;
    const struct jw_json *dates = get(body, "excludedDates"), *days = get(body, "excludedDaysOfWeek");
    const struct jw_json *range = get(body, "timeRange");
    if (range &&
        (!is_object(c, range, "timeRange") || unknown_fields(c, range, range_known, NULL, "timeRange")))
        return;
    struct jw_buf text = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &text);
    jw_jsonw_obj_open(&w);
    jw_jsonw_key(&w, "exclusions");
    bool none = (!dates || (dates->type == JW_JSON_ARRAY && dates->len == 0)) &&
                (!days || (days->type == JW_JSON_ARRAY && days->len == 0)) && !range;
    if (none) {
        jw_jsonw_null(&w);
    } else {
        jw_jsonw_obj_open(&w);
        if (dates)
            kvalue(&w, "dates", dates);
        if (days)
            kvalue(&w, "days_of_week", days);
        if (range) {
            const struct jw_json *start = get(range, "start") ? get(range, "start") : get(range, "startTime");
            const struct jw_json *end = get(range, "end") ? get(range, "end") : get(range, "endTime");
            jw_jsonw_key(&w, "time_range");
            jw_jsonw_obj_open(&w);
            kvalue(&w, "start", start);
            kvalue(&w, "end", end);
            jw_jsonw_obj_close(&w);
        }
        jw_jsonw_obj_close(&w);
    }
    jw_jsonw_obj_close(&w);
    const struct jw_json *patch = made(c, &text);
    if (!patch)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_jobs_update(c->api->core, &a, id, patch, job_done_200, c);
}

/* {dependsOnJobIds: [guid], condition} → the job's prerequisites. */
static void set_dependencies(struct jw_call *c)
{
    static const char *const known[] = {"dependsOnJobIds", "condition", NULL};
    static const char *const conditions[] = {"AllSucceeded", "AnySucceeded", NULL};
    const char *id;
    const struct jw_json *body = job_and_body(c, known, &id);
    if (!body)
        return;
    const struct jw_json *ids = get(body, "dependsOnJobIds"), *cond = get(body, "condition");
    if (!ids || ids->type != JW_JSON_ARRAY || ids->len == 0 || ids->len > 100) {
        jw_call_problemf(c, 400, "dependsOnJobIds",
                         "dependsOnJobIds is required: an array of 1 to 100 job ids");
        return;
    }
    if (!cond || cond->type != JW_JSON_STRING || !one_of(cond->u.str, conditions)) {
        jw_call_problemf(c, 400, "condition", "condition is required: AllSucceeded or AnySucceeded");
        return;
    }
    const char **refs = jw_calloc(ids->len, sizeof(char *));
    for (size_t i = 0; i < ids->len; i++) {
        const struct jw_json *v = ids->u.items[i];
        char f[40];
        snprintf(f, sizeof(f), "dependsOnJobIds[%zu]", i);
        bool dup = false;
        for (size_t k = 0; k < i && v->type == JW_JSON_STRING && !dup; k++)
            dup = !strcasecmp(refs[k], v->u.str);
        if (v->type != JW_JSON_STRING || !jw_id_is_uuid(v->u.str) || dup) {
            free(refs);
            jw_call_problemf(c, 400, f, "%s must be a job id (a GUID), each listed once", f);
            return;
        }
        refs[i] = v->u.str;
    }
    jw_deps_set(c->api->core, c->tenant, id, refs, ids->len, cond->u.str, camel_done_200, c);
    free(refs);
}

/* ---- executions ---------------------------------------------------------------------------------- */

static void got_execution(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    struct jw_call *c = arg;
    struct jw_json_doc *doc = jw_call_answer(c, err, body);
    if (!doc)
        return;
    struct jw_jsonw *w = jw_call_writer(c);
    write_execution(w, jw_json_root(doc));
    jw_call_send(c, 200);
    jw_json_doc_free(doc);
}

static void get_execution(struct jw_call *c)
{
    jw_runs_get(c->api->core, c->tenant, jw_req_param(c->req, "id"), got_execution, c);
}

static void listed_executions(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    reply_paged(arg, err, body, "runs", write_execution);
}

static void list_executions(struct jw_call *c)
{
    const char *id = job_id(c);
    struct page_ask p;
    if (id && page_params(c, &p))
        jw_runs_page(c->api->core, c->tenant, id, p.page, p.size, listed_executions, c);
}

/* ---- workflows ------------------------------------------------------------------------------------ */

/* {name, description, steps: [{key, jobId, dependsOn, condition}]} */
static void create_workflow(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body || !is_object(c, body, ""))
        return;
    struct jw_buf text = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &text);
    write_snake(&w, body);
    const struct jw_json *wf = made(c, &text);
    if (!wf)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_workflows_create(c->api->core, &a, wf, workflow_created, c);
}

static void list_workflows(struct jw_call *c)
{
    jw_workflows_get(c->api->core, c->tenant, NULL, camel_done_200, c);
}

static void get_workflow(struct jw_call *c)
{
    jw_workflows_get(c->api->core, c->tenant, jw_req_param(c->req, "id"), camel_done_200, c);
}

#define JOBS "/api/v1/scheduler/jobs"

static const struct jw_api_route routes[] = {
    {JW_POST, JOBS, JW_ACCESS_WRITE, create_job, NULL, sched_problem},
    {JW_GET, JOBS, JW_ACCESS_READ, list_jobs, NULL, sched_problem},
    {JW_GET, JOBS "/:id", JW_ACCESS_READ, get_job, NULL, sched_problem},
    {JW_PUT, JOBS "/:id", JW_ACCESS_WRITE, put_job, NULL, sched_problem},
    {JW_DELETE, JOBS "/:id", JW_ACCESS_WRITE, delete_job, NULL, sched_problem},
    {JW_PATCH, JOBS "/:id/reschedule", JW_ACCESS_WRITE, reschedule_job, NULL, sched_problem},
    {JW_POST, JOBS "/:id/pause", JW_ACCESS_WRITE, pause_job, NULL, sched_problem},
    {JW_POST, JOBS "/:id/resume", JW_ACCESS_WRITE, resume_job, NULL, sched_problem},
    {JW_POST, JOBS "/:id/trigger", JW_ACCESS_WRITE, trigger_job, NULL, sched_problem},
    {JW_POST, JOBS "/:id/exclusions", JW_ACCESS_WRITE, set_exclusions, NULL, sched_problem},
    {JW_POST, JOBS "/:id/dependencies", JW_ACCESS_WRITE, set_dependencies, NULL, sched_problem},
    {JW_GET, JOBS "/:id/executions", JW_ACCESS_READ, list_executions, NULL, sched_problem},
    {JW_GET, "/api/v1/scheduler/executions/:id", JW_ACCESS_READ, get_execution, NULL, sched_problem},
    {JW_POST, "/api/v1/scheduler/workflows", JW_ACCESS_WRITE, create_workflow, NULL, sched_problem},
    {JW_GET, "/api/v1/scheduler/workflows", JW_ACCESS_READ, list_workflows, NULL, sched_problem},
    {JW_GET, "/api/v1/scheduler/workflows/:id", JW_ACCESS_READ, get_workflow, NULL, sched_problem},
};

void jw_api_scheduler_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
