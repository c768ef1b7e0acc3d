/* fuzz_json: libFuzzer target for request bodies. The input is a body as a
 * tenant sends it; it goes through the strict JSON reader at the server's
 * limits, then through every pure decoder a body reaches: a job created
 * (jw_job_decode in create mode, jw_job_complete with its job_configuration
 * and URL rules, its schedule: cron, zone, execution window, exclusions,
 * misfire policy), a job changed (patch mode, over a job made by the input
 * and over a fixed one), each job type's job_configuration rules, the
 * exclusions alone, a workflow (jw_workflow_check), a run trigger
 * (jw_trigger_decode: native triggers, bulk items and what the other
 * surfaces translate theirs to) and a worker's progress report
 * (jw_progress_decode).
 *
 * Beyond "does not crash or leak", it checks:
 * - the reader never returns nesting deeper than the limit (json_max_depth's
 *   default, or its maximum for some inputs), and what it
 *   accepts re-encodes to valid UTF-8 JSON that parses again and re-encodes
 *   to the same bytes;
 * - a job accepted is stored as Redis keeps it and read back as the server
 *   does: its stored form parses at the depth the store's readers use,
 *   decodes, re-encodes to the same stored form, and gives the same API
 *   view as the job itself;
 * - a schedule accepted fires strictly after the instant asked, and its
 *   catch-up answers stay within what was asked;
 * - a trigger accepted has named fields, its idempotency key is one of
 *   them, and its payload's digest is 64 hex digits; a refused one keeps
 *   nothing;
 * - a progress report accepted is a JSON object of exactly processed,
 *   total and message;
 * - every refusal is a 400 with a message. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"
#include "jobwheel/error.h"
#include "jobwheel/id.h"
#include "jobwheel/job.h"
#include "jobwheel/json.h"
#include "jobwheel/run.h"
#include "jobwheel/schedule.h"
#include "jobwheel/tz.h"
#include "jobwheel/workflow.h"

#define DEFAULT_DEPTH 32 /* json_max_depth's default (util/config.c); its maximum is JW_JSON_MAX_DEPTH */
#define MAX_BODY (1024 * 1024)                        /* max_body_bytes's default: evhttp answers 413 above */
#define NOW_MS INT64_C(1767225600000)                 /* 2026-01-01T00:00:00Z */
#define JOB_ID "019b7a1c-4d00-7abc-8def-0123456789ab" /* a v7 id */
#define ACTOR "user:fuzz"
#define MAX_BATCH 8

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct jw_job base_job; /* a valid job that patches apply to */

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_json: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static void refused(const char *what, const struct jw_error *e)
{
    if (e->status != 400 || e->detail[0] == '\0')
        die("%s refused with status %d, field \"%s\", message \"%s\"", what, e->status, e->field, e->detail);
}

static int depth_of(const struct jw_json *v)
{
    int d = 0;
    if (v->type == JW_JSON_ARRAY)
        for (size_t i = 0; i < v->len; i++) {
            int x = depth_of(v->u.items[i]);
            d = x > d ? x : d;
        }
    if (v->type == JW_JSON_OBJECT)
        for (size_t i = 0; i < v->len; i++) {
            int x = depth_of(v->u.members[i].val);
            d = x > d ? x : d;
        }
    return v->type == JW_JSON_ARRAY || v->type == JW_JSON_OBJECT ? d + 1 : 0;
}

static void encode_value(const struct jw_json *v, struct jw_buf *out)
{
    struct jw_jsonw w;
    jw_jsonw_init(&w, out);
    jw_jsonw_value(&w, v);
}

/* The reader's properties; returns the value's encoding (caller frees). */
static void check_reader(const struct jw_json *root, int max_depth, struct jw_buf *enc)
{
    if (depth_of(root) > max_depth)
        die("the reader returned nesting deeper than %d", max_depth);
    encode_value(root, enc);
    if (!jw_utf8_valid(enc->data, enc->len))
        die("re-encoding is not valid UTF-8: %s", jw_buf_str(enc));
    char err[200];
    struct jw_json_doc *again = jw_json_parse(enc->data, enc->len, max_depth, err, sizeof(err));
    if (!again)
        die("re-encoding does not parse (%s): %s", err, jw_buf_str(enc));
    struct jw_buf enc2 = JW_BUF_INIT;
    encode_value(jw_json_root(again), &enc2);
    if (enc2.len != enc->len || memcmp(enc2.data, enc->data, enc->len) != 0)
        die("re-encoding is not a fixed point:\n%s\n%s", jw_buf_str(enc), jw_buf_str(&enc2));
    jw_buf_free(&enc2);
    jw_json_doc_free(again);
}

/* What the scheduler asks of a schedule: the next firing, whether it is
 * suppressed, its local time, and a catch-up over the last hour. */
static void exercise_schedule(const struct jw_schedule *s, const char *what)
{
    int64_t next = jw_schedule_next(s, NOW_MS);
    if (next != -1 && next <= NOW_MS)
        die("%s: next firing %lld is not after %lld", what, (long long)next, (long long)NOW_MS);
    char why[160], local[40];
    int32_t off;
    (void)jw_schedule_suppressed(s, next >= 0 ? next : NOW_MS, why, sizeof(why));
    jw_schedule_local_time(s, next >= 0 ? next : NOW_MS, local, &off);
    int64_t fired[16], skipped = 0, after = 0;
    int64_t due = NOW_MS - 3600 * 1000;
    size_t n = jw_schedule_catch_up(s, due, NOW_MS, 5000, fired, 16, &skipped, &after);
    if (n > 16 || skipped < 0 || (after != -1 && after <= NOW_MS))
        die("%s: catch-up gave %zu firings, %lld skipped, next %lld", what, n, (long long)skipped,
            (long long)after);
    for (size_t i = 0; i < n; i++)
        if (fired[i] < due || fired[i] > NOW_MS || (i > 0 && fired[i] <= fired[i - 1]))
            die("%s: catch-up firing %zu at %lld is out of [%lld, %lld] or order", what, i,
                (long long)fired[i], (long long)due, (long long)NOW_MS);
}

/* As core/jobs.c's stamp() for a new job, with a fixed id. */
static void stamp_new(struct jw_job *j)
{
    int64_t at = jw_id_time_ms(JOB_ID);
    jw_job_set_str(j, JW_JOB_VERSION_ID, JOB_ID);
    jw_job_set_int(j, JW_JOB_VERSION, 1);
    jw_job_set_str(j, JW_JOB_ID, JOB_ID);
    jw_job_set_int(j, JW_JOB_CREATED_AT, at);
    jw_job_set_str(j, JW_JOB_CREATED_BY, ACTOR);
    jw_job_set_int(j, JW_JOB_UPDATED_AT, at);
    jw_job_set_str(j, JW_JOB_UPDATED_BY, ACTOR);
}

/* Store the job as Redis keeps it and read it back as the server does. */
static void check_stored(const struct jw_job *j)
{
    struct jw_buf stored = JW_BUF_INIT, api = JW_BUF_INIT, back = JW_BUF_INIT;
    jw_job_encode(j, &stored, JW_JOB_VIEW_STORED);
    jw_job_encode(j, &api, JW_JOB_VIEW_API);
    char err[200];
    struct jw_json_doc *doc = jw_json_parse(stored.data, stored.len, JW_JSON_STORED_DEPTH, err, sizeof(err));
    if (!doc)
        die("the stored form does not parse at depth %d (%s): %s", JW_JSON_STORED_DEPTH, err,
            jw_buf_str(&stored));
    jw_json_doc_free(doc);
    if (stored.len < 3 || stored.data[0] != '{' || stored.data[1] == '}')
        die("the stored form is not an object with members: %s", jw_buf_str(&stored));
    /* the store's scripts put the id back first (prelude.lua's with_id) */
    struct jw_buf with_id = JW_BUF_INIT;
    jw_buf_printf(&with_id, "{\"id\":\"%s\",%s", JOB_ID, stored.data + 1);
    if (jw_job_api_from_stored(&back, with_id.data, with_id.len, j->has_next ? j->next_run_at : -1) != 0)
        die("the stored form does not decode: %s", jw_buf_str(&with_id));
    if (back.len != api.len || memcmp(back.data, api.data, api.len) != 0)
        die("the API view read back differs:\n%s\n%s", jw_buf_str(&api), jw_buf_str(&back));

    /* decoding the stored form and storing it again changes nothing */
    doc = jw_json_parse(with_id.data, with_id.len, JW_JSON_STORED_DEPTH, err, sizeof(err));
    if (!doc)
        die("the stored form with its id does not parse (%s)", err);
    struct jw_job again;
    struct jw_error e;
    memset(&again, 0, sizeof(again));
    if (jw_job_decode(&again, jw_json_root(doc), JW_JOB_STORED, &e) != 0)
        die("the stored form does not decode: %s", e.detail);
    struct jw_buf stored2 = JW_BUF_INIT;
    jw_job_encode(&again, &stored2, JW_JOB_VIEW_STORED);
    if (stored2.len != stored.len || memcmp(stored2.data, stored.data, stored.len) != 0)
        die("storing a stored job again changes it:\n%s\n%s", jw_buf_str(&stored), jw_buf_str(&stored2));
    struct jw_job fields_only = *j; /* the same fields, without this request's secret news */
    fields_only.secret_clear = NULL;
    fields_only.secret_removed = false;
    if (jw_job_differs(&fields_only, &again))
        die("a job read back differs from the job stored: %s", jw_buf_str(&stored));
    jw_job_free(&again);
    jw_json_doc_free(doc);
    jw_buf_free(&stored2);
    jw_buf_free(&with_id);
    jw_buf_free(&stored);
    jw_buf_free(&api);
    jw_buf_free(&back);
}

/* Fix the job's next firing as core/jobs.c's plan_due() does (an interval
 * runs from now unless the job says when). 0, or -1 when refused. */
static int plan(struct jw_job *j)
{
    if (j->f[JW_JOB_INTERVAL_SECONDS].set && !j->f[JW_JOB_START_AT].set)
        jw_job_set_int(j, JW_JOB_START_AT, NOW_MS);
    struct jw_error e;
    memset(&e, 0, sizeof(e));
    struct jw_schedule *s = jw_job_schedule(j, &e);
    if (!s) {
        refused("the job's schedule", &e);
        return -1;
    }
    exercise_schedule(s, "job");
    int64_t next = jw_job_first_due(j, s, NOW_MS);
    j->has_next = next >= 0;
    j->next_run_at = next;
    jw_schedule_free(s);
    return 0;
}

/* A job created from obj, as core/jobs.c's build_new() makes it. */
static void create_job(const struct jw_json *obj, const struct jw_job_rules *rules)
{
    struct jw_job j;
    struct jw_error e;
    memset(&j, 0, sizeof(j));
    memset(&e, 0, sizeof(e));
    if (jw_job_decode(&j, obj, JW_JOB_CREATE, &e) != 0 || jw_job_complete(&j, rules, &e) != 0) {
        refused("a job", &e);
    } else if (plan(&j) == 0) {
        stamp_new(&j);
        check_stored(&j);
        /* the same body again, as a patch of the job it made */
        struct jw_job p;
        jw_job_copy(&p, &j);
        memset(&e, 0, sizeof(e));
        if (jw_job_decode(&p, obj, JW_JOB_PATCH, &e) != 0 || jw_job_complete(&p, rules, &e) != 0)
            refused("a patch of its own job", &e);
        jw_job_free(&p);
    }
    jw_job_free(&j);
}

/* obj as a patch (as core/jobs.c's apply_patch()) of the fixed base job. */
static void patch_job(const struct jw_json *obj, const struct jw_job_rules *rules)
{
    struct jw_job j;
    struct jw_error e;
    memset(&e, 0, sizeof(e));
    jw_job_copy(&j, &base_job);
    if (jw_json_get(obj, "interval_seconds") && !jw_json_get(obj, "start_at"))
        jw_job_set_str(&j, JW_JOB_START_AT, NULL);
    if (jw_job_decode(&j, obj, JW_JOB_PATCH, &e) != 0 || jw_job_complete(&j, rules, &e) != 0) {
        refused("a patch", &e);
    } else if (plan(&j) == 0) {
        jw_job_set_int(&j, JW_JOB_VERSION, 2);
        check_stored(&j);
    }
    jw_job_free(&j);
}

/* The value as exclusions (its JSON text, as a job stores it). */
static void exclusions(const struct jw_buf *text)
{
    struct jw_schedule_spec spec = {.cron = "*/20 * * * *",
                                    .start_at_ms = -1,
                                    .run_at_ms = -1,
                                    .timezone = "Europe/Berlin",
                                    .exclusions_json = jw_buf_str(text)};
    struct jw_error e;
    memset(&e, 0, sizeof(e));
    struct jw_schedule *s = jw_schedule_new(&spec, &e);
    if (!s) {
        refused("exclusions", &e);
        return;
    }
    exercise_schedule(s, "exclusions");
    char why[160];
    for (int64_t t = NOW_MS; t < NOW_MS + 7 * 86400000; t += 3 * 3600000 + 17 * 60000)
        (void)jw_schedule_suppressed(s, t, why, sizeof(why));
    jw_schedule_free(s);
}

/* The value as a run trigger, and as a progress report. */
static void trigger(const struct jw_json *root)
{
    struct jw_trigger t;
    struct jw_error e;
    memset(&e, 0, sizeof(e));
    if (jw_trigger_decode(root, "fuzz@example.com", NOW_MS, &t, &e) != 0) {
        refused("a trigger", &e);
        if (t.n != 0)
            die("a refused trigger kept %zu fields", t.n);
    } else {
        if (strlen(t.sha) != 64 || strspn(t.sha, "0123456789abcdef") != 64)
            die("a trigger's payload digest is \"%s\"", t.sha);
        if (t.idem[0]) {
            bool found = false;
            for (size_t i = 0; i < t.n; i++)
                found |= t.fields[i].value == t.idem && !strcmp(t.fields[i].name, "idempotency_key");
            if (!found)
                die("a trigger's idempotency key is not one of its fields");
        }
        for (size_t i = 0; i < t.n; i++)
            if (!t.fields[i].name || !t.fields[i].name[0] || strlen(t.fields[i].value) > t.fields[i].len)
                die("a trigger field is malformed");
    }
    jw_trigger_free(&t);

    struct jw_buf out = JW_BUF_INIT;
    memset(&e, 0, sizeof(e));
    if (root->type == JW_JSON_OBJECT) {
        if (jw_progress_decode(root, &out, &e) != 0) {
            refused("a progress report", &e);
        } else {
            char why[160];
            struct jw_json_doc *doc = jw_json_parse(out.data, out.len, 4, why, sizeof(why));
            const struct jw_json *p = doc ? jw_json_root(doc) : NULL;
            if (!p || p->type != JW_JSON_OBJECT || p->len != 3 || !jw_json_get(p, "processed") ||
                !jw_json_get(p, "total") || !jw_json_get(p, "message"))
                die("a progress report reads back as \"%.200s\"", jw_buf_str(&out));
            jw_json_doc_free(doc);
        }
    }
    jw_buf_free(&out);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("JW_ZONEINFO");
    char err[256];
    if (jw_tz_db_load(dir ? dir : "/usr/share/zoneinfo", err, sizeof(err)) != 0)
        die("%s", err);
    static const char body[] =
        "{\"name\":\"base\",\"endpoint_url\":\"https://example.com/hook\",\"cron\":\"0 3 * * *\","
        "\"timezone\":\"America/New_York\",\"tags\":{\"team\":\"a\"}}";
    struct jw_json_doc *doc = jw_json_parse(body, strlen(body), DEFAULT_DEPTH, err, sizeof(err));
    struct jw_error e;
    const struct jw_job_rules rules = {0};
    if (!doc || jw_job_decode(&base_job, jw_json_root(doc), JW_JOB_CREATE, &e) != 0 ||
        jw_job_complete(&base_job, &rules, &e) != 0)
        die("the base job does not decode");
    jw_json_doc_free(doc);
    stamp_new(&base_job);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_BODY)
        return 0;
    /* server switches, chosen by the input: json_max_depth (mostly its
     * default), allow_private_targets, code_execution */
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 16777619u;
    const int max_depth = h % 8 == 0 ? JW_JSON_MAX_DEPTH : DEFAULT_DEPTH;
    const struct jw_job_rules rules = {.allow_private_targets = (h >> 3) & 1, .code_execution = (h >> 4) & 1};

    char err[200];
    err[0] = '\0';
    struct jw_json_doc *doc = jw_json_parse((const char *)data, size, max_depth, err, sizeof(err));
    if (!doc) {
        if (err[0] == '\0')
            die("the reader refused without a message");
        return 0;
    }
    const struct jw_json *root = jw_json_root(doc);
    struct jw_buf enc = JW_BUF_INIT;
    check_reader(root, max_depth, &enc);
    struct jw_error e;

    if (root->type == JW_JSON_ARRAY) { /* a batch of jobs */
        for (size_t i = 0; i < root->len && i < MAX_BATCH; i++)
            create_job(root->u.items[i], &rules);
    } else {
        create_job(root, &rules);
        patch_job(root, &rules);
    }
    for (const char *const *t = jw_job_types; *t; t++) {
        memset(&e, 0, sizeof(e));
        if (jw_job_config_check(*t, root, &rules, &e) != 0)
            refused("a job_configuration", &e);
    }
    exclusions(&enc);
    memset(&e, 0, sizeof(e));
    if (jw_workflow_check(root, &e) != 0)
        refused("a workflow", &e);
    trigger(root);

    jw_buf_free(&enc);
    jw_json_doc_free(doc);
    return 0;
}
