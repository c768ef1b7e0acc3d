/* Unit tests for the job definition model (src/model/job.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/buf.h"
#include "jobwheel/error.h"
#include "jobwheel/id.h"
#include "jobwheel/job.h"
#include "jobwheel/json.h"

static const struct jw_job_rules STRICT = {.allow_private_targets = false, .file_operations = true};
static const struct jw_job_rules LOOSE = {.allow_private_targets = true, .file_operations = true};

#define SECRET24 "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"
#define SECRET32 "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define SECRET64                                                                                             \
    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
#define SECRET16 "whsec_AAECAwQFBgcICQoLDA0ODw=="
#define SECRET23 "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRY="
#define SECRET65                                                                                             \
    "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+P0A="

/* Seed 002's create body, with values a client would send. */
#define SEED002_CREATE                                                                                       \
    "{\"project_id\":\"proj_1\",\"name\":\"Nightly report\",\"slug\":\"nightly-report\","                    \
    "\"endpoint_url\":\"https://example.com/hooks/report\"}"

static struct jw_json_doc *parse_or_fail(const char *text)
{
    char perr[256];
    struct jw_json_doc *doc = jw_json_parse(text, strlen(text), 32, perr, sizeof(perr));
    if (!doc)
        fail_msg("test JSON does not parse (%s): %.200s", perr, text);
    return doc;
}

static int decode_text(struct jw_job *job, const char *text, enum jw_job_mode mode, struct jw_error *err)
{
    struct jw_json_doc *doc = parse_or_fail(text);
    memset(err, 0, sizeof(*err));
    int rc = jw_job_decode(job, jw_json_root(doc), mode, err);
    jw_json_doc_free(doc);
    return rc;
}

/* A new job from a create body: decode and complete must both succeed. */
static void create_ok(struct jw_job *job, const char *text, const struct jw_job_rules *rules)
{
    struct jw_error err;
    memset(job, 0, sizeof(*job));
    if (decode_text(job, text, JW_JOB_CREATE, &err) != 0) {
        jw_job_free(job);
        fail_msg("decode refused (%s: %s): %.300s", err.field, err.detail, text);
    }
    if (jw_job_complete(job, rules, &err) != 0) {
        jw_job_free(job);
        fail_msg("complete refused (%s: %s): %.300s", err.field, err.detail, text);
    }
}

/* Decoding text (on a fresh job) must fail with 400 naming field. */
static void decode_fails(const char *text, enum jw_job_mode mode, const char *field)
{
    struct jw_job job;
    struct jw_error err;
    memset(&job, 0, sizeof(job));
    int rc = decode_text(&job, text, mode, &err);
    jw_job_free(&job);
    if (rc != -1)
        fail_msg("decode accepted: %.300s", text);
    if (err.status != 400 || strcmp(err.field, field) != 0)
        fail_msg("decode of %.200s: status %d field \"%s\" (%s), want 400 \"%s\"", text, err.status,
                 err.field, err.detail, field);
    assert_true(err.detail[0] != '\0');
}

/* Decoding text succeeds; completing (with rules) fails with 400 naming field. */
static void complete_fails(const char *text, const struct jw_job_rules *rules, const char *field)
{
    struct jw_job job;
    struct jw_error err;
    memset(&job, 0, sizeof(job));
    if (decode_text(&job, text, JW_JOB_CREATE, &err) != 0) {
        jw_job_free(&job);
        fail_msg("decode refused (%s: %s): %.300s", err.field, err.detail, text);
    }
    memset(&err, 0, sizeof(err));
    int rc = jw_job_complete(&job, rules, &err);
    jw_job_free(&job);
    if (rc != -1)
        fail_msg("complete accepted: %.300s", text);
    if (err.status != 400 || strcmp(err.field, field) != 0)
        fail_msg("complete of %.200s: status %d field \"%s\" (%s), want 400 \"%s\"", text, err.status,
                 err.field, err.detail, field);
}

/* Decode (CREATE) must succeed; returns nothing, the job is freed. */
static void decode_ok(const char *text, enum jw_job_mode mode)
{
    struct jw_job job;
    struct jw_error err;
    memset(&job, 0, sizeof(job));
    int rc = decode_text(&job, text, mode, &err);
    jw_job_free(&job);
    if (rc != 0)
        fail_msg("decode refused (%s: %s): %.300s", err.field, err.detail, text);
}

static char *encode(const struct jw_job *job, enum jw_job_view view)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_job_encode(job, &b, view);
    return jw_buf_detach(&b);
}

/* {"<field>":<value>} */
static char *one_field(const char *field, const char *value)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_printf(&b, "{\"%s\":%s}", field, value);
    return jw_buf_detach(&b);
}

/* A create body of a valid job plus extra members (",…" appended inside). */
static char *base_with(const char *extra)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_printf(&b, "{\"name\":\"Job\",\"endpoint_url\":\"https://example.com/hook\"%s%s}",
                  extra[0] ? "," : "", extra);
    return jw_buf_detach(&b);
}

/* ---- seed 002's create body ------------------------------------------------------- */

static const char *const seed_fields[] = {
    "id",
    "project_id",
    "group_id",
    "name",
    "slug",
    "description",
    "cron",
    "payload_schema",
    "tags",
    "endpoint_url",
    "fallback_endpoint_url",
    "max_attempts",
    "timeout_secs",
    "max_concurrency",
    "execution_window_cron",
    "timezone",
    "rate_limit_max",
    "rate_limit_window_secs",
    "max_concurrency_per_key",
    "rate_limit_keys",
    "default_run_metadata",
    "dedup_window_secs",
    "enabled",
    "webhook_url",
    "webhook_secret",
    "run_ttl_secs",
    "retry_strategy",
    "retry_delays_secs",
    "environment_id",
    "version",
    "version_id",
    "version_policy",
    "backwards_compatible",
    "created_by",
    "updated_by",
    "created_at",
    "updated_at",
};

/* seed 002's fields come first, in its order; jobwheel's own follow */
static void test_field_names(void **state)
{
    (void)state;
    size_t nseed = sizeof(seed_fields) / sizeof(seed_fields[0]);
    assert_true(nseed <= JW_JOB_NFIELDS);
    for (size_t f = 0; f < nseed; f++)
        assert_string_equal(jw_job_field_name((enum jw_job_field)f), seed_fields[f]);
    assert_string_equal(jw_job_field_name(JW_JOB_INTERVAL_SECONDS), "interval_seconds");
    assert_string_equal(jw_job_field_name(JW_JOB_PAUSED), "paused");
}

static void test_seed002_create(void **state)
{
    (void)state;
    struct jw_job job;
    create_ok(&job, SEED002_CREATE, &STRICT);
    assert_string_equal(job.f[JW_JOB_PROJECT_ID].s, "proj_1");
    assert_string_equal(job.f[JW_JOB_NAME].s, "Nightly report");
    assert_string_equal(job.f[JW_JOB_SLUG].s, "nightly-report");
    assert_string_equal(job.f[JW_JOB_ENDPOINT_URL].s, "https://example.com/hooks/report");
    assert_false(job.f[JW_JOB_ID].set); /* the server assigns it */
    assert_false(job.f[JW_JOB_GROUP_ID].set);
    assert_false(job.f[JW_JOB_WEBHOOK_SECRET].set);
    assert_null(job.secret_clear);

    /* the API JSON has seed 002's fields, in its order, with nulls for unset ones */
    char *out = encode(&job, JW_JOB_VIEW_API);
    struct jw_json_doc *doc = parse_or_fail(out);
    const struct jw_json *r = jw_json_root(doc);
    assert_int_equal(r->type, JW_JSON_OBJECT);
    assert_int_equal(r->len, JW_JOB_NFIELDS + 1); /* + next_run_at */
    for (size_t i = 0; i < sizeof(seed_fields) / sizeof(seed_fields[0]); i++)
        assert_string_equal(r->u.members[i].key, seed_fields[i]);
    assert_int_equal(jw_json_get(r, "id")->type, JW_JSON_NULL);
    assert_int_equal(jw_json_get(r, "cron")->type, JW_JSON_NULL);
    assert_string_equal(jw_json_get(r, "name")->u.str, "Nightly report");
    int64_t v;
    assert_int_equal(jw_json_int(jw_json_get(r, "max_attempts"), &v), 0);
    assert_int_equal(v, 3);
    assert_int_equal(jw_json_int(jw_json_get(r, "timeout_secs"), &v), 0);
    assert_int_equal(v, 60);
    assert_true(jw_json_get(r, "enabled")->u.b);
    assert_string_equal(jw_json_get(r, "timezone")->u.str, "UTC");
    assert_string_equal(jw_json_get(r, "retry_strategy")->u.str, "exponential");
    assert_string_equal(jw_json_get(r, "version_policy")->u.str, "latest");
    jw_json_doc_free(doc);
    free(out);
    jw_job_free(&job);

    /* the placeholder body verbatim: "string" is not a URL */
    decode_fails("{\"project_id\":\"string\",\"name\":\"string\",\"slug\":\"string\","
                 "\"endpoint_url\":\"string\"}",
                 JW_JOB_CREATE, "endpoint_url");
}

static void test_completion_defaults(void **state)
{
    (void)state;
    struct jw_job job;
    create_ok(&job, "{\"name\":\"Nightly Report #2\",\"endpoint_url\":\"https://example.com/\"}", &STRICT);
    assert_true(job.f[JW_JOB_MAX_ATTEMPTS].set);
    assert_int_equal(job.f[JW_JOB_MAX_ATTEMPTS].i, 3);
    assert_int_equal(job.f[JW_JOB_TIMEOUT_SECS].i, 60);
    assert_string_equal(job.f[JW_JOB_TIMEZONE].s, "UTC");
    assert_true(job.f[JW_JOB_ENABLED].set);
    assert_true(job.f[JW_JOB_ENABLED].b);
    assert_string_equal(job.f[JW_JOB_RETRY_STRATEGY].s, "exponential");
    assert_string_equal(job.f[JW_JOB_VERSION_POLICY].s, "latest");
    assert_true(job.f[JW_JOB_BACKWARDS_COMPATIBLE].b);
    assert_string_equal(job.f[JW_JOB_SLUG].s, "nightly-report-2");
    /* fields without defaults stay unset */
    assert_false(job.f[JW_JOB_MAX_CONCURRENCY].set);
    assert_false(job.f[JW_JOB_RATE_LIMIT_MAX].set);
    assert_false(job.f[JW_JOB_WEBHOOK_URL].set);
    assert_false(job.f[JW_JOB_RUN_TTL_SECS].set);
    jw_job_free(&job);

    /* given values are kept, including false and explicit defaults */
    create_ok(&job,
              "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\",\"enabled\":false,"
              "\"max_attempts\":1,\"timeout_secs\":86400,\"timezone\":\"Europe/Paris\","
              "\"retry_strategy\":\"fixed\",\"version_policy\":\"pin\","
              "\"backwards_compatible\":false,\"slug\":\"custom\"}",
              &STRICT);
    assert_false(job.f[JW_JOB_ENABLED].b);
    assert_int_equal(job.f[JW_JOB_MAX_ATTEMPTS].i, 1);
    assert_int_equal(job.f[JW_JOB_TIMEOUT_SECS].i, 86400);
    assert_string_equal(job.f[JW_JOB_TIMEZONE].s, "Europe/Paris");
    assert_string_equal(job.f[JW_JOB_RETRY_STRATEGY].s, "fixed");
    assert_string_equal(job.f[JW_JOB_VERSION_POLICY].s, "pin");
    assert_false(job.f[JW_JOB_BACKWARDS_COMPATIBLE].b);
    assert_string_equal(job.f[JW_JOB_SLUG].s, "custom");
    jw_job_free(&job);

    /* null at creation means the default */
    create_ok(&job,
              "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\",\"max_attempts\":null,"
              "\"timezone\":null,\"description\":null}",
              &STRICT);
    assert_int_equal(job.f[JW_JOB_MAX_ATTEMPTS].i, 3);
    assert_string_equal(job.f[JW_JOB_TIMEZONE].s, "UTC");
    assert_false(job.f[JW_JOB_DESCRIPTION].set);
    jw_job_free(&job);
}

static void test_required_fields(void **state)
{
    (void)state;
    complete_fails("{\"endpoint_url\":\"https://example.com/\"}", &STRICT, "name");
    complete_fails("{\"name\":\"n\"}", &STRICT, "endpoint_url");
    complete_fails("{}", &STRICT, "name");
    decode_fails("{\"name\":null}", JW_JOB_CREATE, "name");
    complete_fails("{\"name\":\"n\",\"endpoint_url\":null}", &STRICT, "endpoint_url");
    decode_fails("{\"name\":null}", JW_JOB_PATCH, "name");
    /* the body must be an object */
    decode_fails("[]", JW_JOB_CREATE, "");
    decode_fails("\"job\"", JW_JOB_CREATE, "");
    decode_fails("null", JW_JOB_CREATE, "");
    struct jw_job job;
    struct jw_error err;
    memset(&job, 0, sizeof(job));
    assert_int_equal(jw_job_decode(&job, NULL, JW_JOB_CREATE, &err), -1);
    assert_int_equal(err.status, 400);
}

/* jobwheel's own function and library names, in every spelling Redis
 * takes for the same function, and a job's function read back. */
static void test_stored_procedure_names(void **state)
{
    (void)state;
    static const char *const reserved[] = {"jobwheel_", "jobwheel_0123abcd_sched_tick", "JOBWHEEL_0123ABCD_SCHED_TICK",
                                           "JobWheel_x", "jOBWHEEL_sched_tick", "jobwheeL_"};
    for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
        if (!jw_job_reserved_name(reserved[i]))
            fail_msg("\"%s\" is jobwheel's", reserved[i]);
        char text[200];
        snprintf(text, sizeof(text),
                 "{\"name\":\"s\",\"job_type\":\"StoredProcedure\",\"job_configuration\":"
                 "{\"function\":\"%s\"}}",
                 reserved[i]);
        complete_fails(text, &STRICT, "job_configuration.function");
    }
    static const char *const free_names[] = {"", "jobwheel", "jobwheelx_f", "my_jobwheel_f", "incr_by", "job_wheel_f",
                                             "_jobwheel_f"};
    for (size_t i = 0; i < sizeof(free_names) / sizeof(free_names[0]); i++)
        if (jw_job_reserved_name(free_names[i]))
            fail_msg("\"%s\" is not jobwheel's", free_names[i]);
    assert_false(jw_job_reserved_name(NULL));

    struct jw_job job;
    char fn[80];
    create_ok(&job,
              "{\"name\":\"s\",\"job_type\":\"StoredProcedure\",\"job_configuration\":"
              "{\"function\":\"incr_by\",\"keys\":[\"k\"]}}",
              &STRICT);
    assert_true(jw_job_function(&job, fn, sizeof(fn)));
    assert_string_equal(fn, "incr_by");
    assert_false(jw_job_function(&job, fn, 7)); /* does not fit */
    assert_string_equal(fn, "");
    jw_job_free(&job);
    create_ok(&job, "{\"name\":\"h\",\"endpoint_url\":\"https://example.com/\"}", &STRICT);
    assert_false(jw_job_function(&job, fn, sizeof(fn)));
    assert_string_equal(fn, "");
    jw_job_free(&job);
}

/* job_type and the job_configuration each type needs. */
static void test_job_types(void **state)
{
    (void)state;
    static const struct jw_job_rules CODE = {.code_execution = true};
    struct jw_job job;
    /* HttpCall by default; method and headers optional */
    create_ok(&job, "{\"name\":\"h\",\"endpoint_url\":\"https://example.com/\"}", &STRICT);
    assert_string_equal(job.f[JW_JOB_JOB_TYPE].s, "HttpCall");
    jw_job_free(&job);
    create_ok(&job,
              "{\"name\":\"h\",\"endpoint_url\":\"https://example.com/\",\"job_configuration\":"
              "{\"method\":\"PUT\",\"headers\":{\"X-Api-Key\":\"abc\"}}}",
              &STRICT);
    jw_job_free(&job);
    complete_fails("{\"name\":\"h\",\"endpoint_url\":\"https://example.com/\",\"job_configuration\":"
                   "{\"method\":\"TRACE\"}}",
                   &STRICT, "job_configuration.method");
    complete_fails("{\"name\":\"h\",\"endpoint_url\":\"https://example.com/\",\"job_configuration\":"
                   "{\"headers\":{\"x-jobwheel-run-id\":\"forged\"}}}",
                   &STRICT, "job_configuration.headers");
    complete_fails("{\"name\":\"h\",\"endpoint_url\":\"https://example.com/\",\"job_configuration\":"
                   "{\"headers\":{\"X-A\":\"a\\r\\nX-B: b\"}}}",
                   &STRICT, "job_configuration.headers");
    decode_fails("{\"name\":\"h\",\"job_type\":\"Shell\"}", JW_JOB_CREATE, "job_type");
    /* StoredProcedure: a function name, keys, scalar args; no endpoint needed */
    create_ok(&job,
              "{\"name\":\"s\",\"job_type\":\"StoredProcedure\",\"job_configuration\":"
              "{\"function\":\"incr_by\",\"keys\":[\"counter\"],\"args\":[5,\"x\",true]}}",
              &STRICT);
    assert_false(job.f[JW_JOB_ENDPOINT_URL].set);
    jw_job_free(&job);
    complete_fails("{\"name\":\"s\",\"job_type\":\"StoredProcedure\"}", &STRICT,
                   "job_configuration.function");
    complete_fails("{\"name\":\"s\",\"job_type\":\"StoredProcedure\",\"job_configuration\":"
                   "{\"function\":\"a b\"}}",
                   &STRICT, "job_configuration.function");
    complete_fails("{\"name\":\"s\",\"job_type\":\"StoredProcedure\",\"job_configuration\":"
                   "{\"function\":\"f\",\"keys\":[1]}}",
                   &STRICT, "job_configuration.keys");
    complete_fails("{\"name\":\"s\",\"job_type\":\"StoredProcedure\",\"job_configuration\":"
                   "{\"function\":\"f\",\"script\":\"x\"}}",
                   &STRICT, "job_configuration.script");
    /* CodeExecution: refused unless enabled */
    static const char code[] = "{\"name\":\"c\",\"job_type\":\"CodeExecution\",\"job_configuration\":"
                               "{\"command\":\"/bin/echo\",\"args\":[\"hi\"],\"env\":{\"A_1\":\"v\"},"
                               "\"cwd\":\"/tmp\",\"max_output_bytes\":100}}";
    complete_fails(code, &STRICT, "job_type");
    create_ok(&job, code, &CODE);
    jw_job_free(&job);
    complete_fails("{\"name\":\"c\",\"job_type\":\"CodeExecution\",\"job_configuration\":"
                   "{\"command\":\"/bin/echo\",\"env\":{\"1A\":\"v\"}}}",
                   &CODE, "job_configuration.env");
    complete_fails("{\"name\":\"c\",\"job_type\":\"CodeExecution\",\"job_configuration\":"
                   "{\"command\":\"/bin/echo\",\"max_output_bytes\":0}}",
                   &CODE, "job_configuration.max_output_bytes");
    complete_fails("{\"name\":\"c\",\"job_type\":\"CodeExecution\"}", &CODE, "job_configuration.command");
    /* FileOperation: relative paths under the root, per-operation fields */
    create_ok(&job,
              "{\"name\":\"f\",\"job_type\":\"FileOperation\",\"job_configuration\":"
              "{\"operation\":\"copy\",\"path\":\"in/a.txt\",\"to\":\"out/a.txt\"}}",
              &STRICT);
    jw_job_free(&job);
    create_ok(
        &job,
        "{\"name\":\"f\",\"job_type\":\"FileOperation\",\"job_configuration\":{\"operation\":\"list\"}}",
        &STRICT);
    jw_job_free(&job);
    static const char *const bad_files[][2] = {
        {"{\"operation\":\"chmod\",\"path\":\"a\"}", "job_configuration.operation"},
        {"{\"operation\":\"delete\",\"path\":\"/etc/passwd\"}", "job_configuration.path"},
        {"{\"operation\":\"delete\",\"path\":\"a/../../b\"}", "job_configuration.path"},
        {"{\"operation\":\"delete\",\"path\":\"..\"}", "job_configuration.path"},
        {"{\"operation\":\"delete\",\"path\":\"a//b\"}", "job_configuration.path"},
        {"{\"operation\":\"copy\",\"path\":\"a\"}", "job_configuration.to"},
        {"{\"operation\":\"delete\",\"path\":\"a\",\"to\":\"b\"}", "job_configuration.to"},
        {"{\"operation\":\"write\",\"path\":\"a\"}", "job_configuration.content"},
        {"{\"operation\":\"mkdir\",\"path\":\"a\",\"content\":\"x\"}", "job_configuration.content"},
        {"{\"operation\":\"mkdir\",\"path\":\"a\",\"recursive\":1}", "job_configuration.recursive"},
        {"{\"operation\":\"mkdir\"}", "job_configuration.path"},
    };
    for (size_t i = 0; i < sizeof(bad_files) / sizeof(bad_files[0]); i++) {
        char text[512];
        snprintf(text, sizeof(text),
                 "{\"name\":\"f\",\"job_type\":\"FileOperation\",\"job_configuration\":%s}", bad_files[i][0]);
        complete_fails(text, &STRICT, bad_files[i][1]);
    }
    /* FileOperation: refused where the server turned it off */
    static const struct jw_job_rules NO_FILES = {.file_operations = false};
    complete_fails("{\"name\":\"f\",\"job_type\":\"FileOperation\",\"job_configuration\":"
                   "{\"operation\":\"list\"}}",
                   &NO_FILES, "job_type");
    /* Builtin: a known handler */
    create_ok(&job,
              "{\"name\":\"b\",\"job_type\":\"Builtin\",\"job_configuration\":{\"handler\":\"tokenExpiry\"}}",
              &STRICT);
    jw_job_free(&job);
    complete_fails("{\"name\":\"b\",\"job_type\":\"Builtin\",\"job_configuration\":{\"handler\":\"rmrf\"}}",
                   &STRICT, "job_configuration.handler");
    decode_fails("{\"name\":\"b\",\"job_type\":\"Builtin\",\"job_configuration\":[]}", JW_JOB_CREATE,
                 "job_configuration");
}

static void test_slug_from_name(void **state)
{
    (void)state;
    static const struct {
        const char *name, *slug;
    } cases[] = {
        {"Nightly Report #2", "nightly-report-2"},
        {"Hello   World!", "hello-world"},
        {"a_b", "a_b"},
        {"___", "job"},
        {"!!!", "job"},
        {"123", "123"},
        {"\xC3\x9C"
         "ber Job",
         "ber-job"},
        {"CamelCase", "camelcase"},
        {"x -- y", "x-y"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"name\":\"%s\",\"endpoint_url\":\"https://example.com/\"}",
                 cases[i].name);
        struct jw_job job;
        create_ok(&job, body, &STRICT);
        if (strcmp(job.f[JW_JOB_SLUG].s, cases[i].slug) != 0) {
            char got[128];
            snprintf(got, sizeof(got), "%s", job.f[JW_JOB_SLUG].s);
            jw_job_free(&job);
            fail_msg("slug of \"%s\" = \"%s\", want \"%s\"", cases[i].name, got, cases[i].slug);
        }
        jw_job_free(&job);
    }
}

/* A derived slug must itself be a valid slug (at most 100 characters), so a
 * client can send it back unchanged. */
static void test_slug_from_long_name(void **state)
{
    (void)state;
    char name[128];
    memset(name, 'a', 99);
    strcpy(name + 99, " b"); /* 101 characters: the dash and the b land past 100 */
    char body[256];
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"endpoint_url\":\"https://example.com/\"}", name);
    struct jw_job job;
    create_ok(&job, body, &STRICT);
    size_t n = strlen(job.f[JW_JOB_SLUG].s);
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_printf(&b, "{\"slug\":\"%s\"}", job.f[JW_JOB_SLUG].s);
    jw_job_free(&job);
    struct jw_job again;
    struct jw_error err;
    memset(&again, 0, sizeof(again));
    int rc = decode_text(&again, jw_buf_str(&b), JW_JOB_CREATE, &err);
    jw_job_free(&again);
    jw_buf_free(&b);
    if (n > 100)
        fail_msg("slug derived from a 101-character name has %zu characters (max 100)", n);
    assert_int_equal(rc, 0);
}

/* ---- types, ranges, enums ----------------------------------------------------------- */

static void test_type_errors_name_the_field(void **state)
{
    (void)state;
    static const struct {
        const char *field, *value;
    } cases[] = {
        {"project_id", "5"},
        {"project_id", "[\"p\"]"},
        {"group_id", "true"},
        {"name", "1"},
        {"name", "{}"},
        {"slug", "[]"},
        {"description", "{}"},
        {"cron", "5"},
        {"payload_schema", "\"x\""},
        {"payload_schema", "[]"},
        {"payload_schema", "1"},
        {"tags", "[]"},
        {"tags", "\"x\""},
        {"endpoint_url", "1"},
        {"endpoint_url", "{\"url\":\"https://example.com\"}"},
        {"fallback_endpoint_url", "false"},
        {"max_attempts", "\"3\""},
        {"max_attempts", "3.5"},
        {"max_attempts", "3.0"},
        {"max_attempts", "1e1"},
        {"max_attempts", "true"},
        {"max_attempts", "[3]"},
        {"timeout_secs", "\"60\""},
        {"max_concurrency", "\"x\""},
        {"execution_window_cron", "1"},
        {"timezone", "1"},
        {"rate_limit_max", "\"1\""},
        {"rate_limit_window_secs", "[]"},
        {"max_concurrency_per_key", "{}"},
        {"rate_limit_keys", "{}"},
        {"rate_limit_keys", "\"k\""},
        {"default_run_metadata", "[]"},
        {"default_run_metadata", "1"},
        {"dedup_window_secs", "\"1\""},
        {"enabled", "\"true\""},
        {"enabled", "1"},
        {"webhook_url", "1"},
        {"webhook_secret", "1"},
        {"webhook_secret", "true"},
        {"run_ttl_secs", "\"1\""},
        {"retry_strategy", "1"},
        {"retry_delays_secs", "\"1\""},
        {"retry_delays_secs", "5"},
        {"retry_delays_secs", "{}"},
        {"environment_id", "1"},
        {"version_policy", "true"},
        {"backwards_compatible", "\"yes\""},
        {"backwards_compatible", "0"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *text = one_field(cases[i].field, cases[i].value);
        decode_fails(text, JW_JOB_CREATE, cases[i].field);
        decode_fails(text, JW_JOB_PATCH, cases[i].field);
        free(text);
    }
    /* the message says what was expected */
    struct jw_job job;
    struct jw_error err;
    memset(&job, 0, sizeof(job));
    assert_int_equal(decode_text(&job, "{\"max_attempts\":\"3\"}", JW_JOB_CREATE, &err), -1);
    assert_non_null(strstr(err.detail, "max_attempts"));
    assert_non_null(strstr(err.detail, "integer"));
    jw_job_free(&job);
}

static void test_ranges(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        const char *ok[4];
        const char *bad[4];
    } cases[] = {
        {"max_attempts", {"1", "100", "50", NULL}, {"0", "101", "-1", "9223372036854775808"}},
        {"timeout_secs", {"1", "86400", NULL, NULL}, {"0", "86401", "-5", NULL}},
        {"max_concurrency", {"1", "100000", NULL, NULL}, {"0", "100001", NULL, NULL}},
        {"rate_limit_max", {"1", "1000000", NULL, NULL}, {"0", "1000001", NULL, NULL}},
        {"rate_limit_window_secs", {"1", "2592000", NULL, NULL}, {"0", "2592001", NULL, NULL}},
        {"max_concurrency_per_key", {"1", "100000", NULL, NULL}, {"0", "100001", NULL, NULL}},
        {"dedup_window_secs", {"1", "2592000", NULL, NULL}, {"0", "2592001", NULL, NULL}},
        {"run_ttl_secs", {"1", "2592000", NULL, NULL}, {"0", "2592001", NULL, NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        for (int k = 0; k < 4 && cases[i].ok[k]; k++) {
            char *text = one_field(cases[i].field, cases[i].ok[k]);
            struct jw_job job;
            struct jw_error err;
            memset(&job, 0, sizeof(job));
            int rc = decode_text(&job, text, JW_JOB_CREATE, &err);
            if (rc != 0)
                fail_msg("%s refused: %s", text, err.detail);
            enum jw_job_field f = JW_JOB_NFIELDS;
            for (int j = 0; j < JW_JOB_NFIELDS; j++)
                if (!strcmp(jw_job_field_name((enum jw_job_field)j), cases[i].field))
                    f = (enum jw_job_field)j;
            assert_true(f < JW_JOB_NFIELDS);
            assert_true(job.f[f].set);
            assert_int_equal(job.f[f].i, strtoll(cases[i].ok[k], NULL, 10));
            jw_job_free(&job);
            free(text);
        }
        for (int k = 0; k < 4 && cases[i].bad[k]; k++) {
            char *text = one_field(cases[i].field, cases[i].bad[k]);
            decode_fails(text, JW_JOB_CREATE, cases[i].field);
            free(text);
        }
    }
    /* -0 is zero */
    decode_fails("{\"max_attempts\":-0}", JW_JOB_CREATE, "max_attempts");
}

static void test_enums(void **state)
{
    (void)state;
    decode_ok("{\"retry_strategy\":\"exponential\"}", JW_JOB_CREATE);
    decode_ok("{\"retry_strategy\":\"fixed\"}", JW_JOB_CREATE);
    decode_ok("{\"retry_strategy\":\"linear\"}", JW_JOB_CREATE);
    decode_fails("{\"retry_strategy\":\"EXPONENTIAL\"}", JW_JOB_CREATE, "retry_strategy");
    decode_fails("{\"retry_strategy\":\"random\"}", JW_JOB_CREATE, "retry_strategy");
    decode_fails("{\"retry_strategy\":\"\"}", JW_JOB_CREATE, "retry_strategy");
    decode_fails("{\"retry_strategy\":\"fixed \"}", JW_JOB_PATCH, "retry_strategy");
    decode_ok("{\"version_policy\":\"pin\"}", JW_JOB_CREATE);
    decode_ok("{\"version_policy\":\"latest\"}", JW_JOB_CREATE);
    decode_fails("{\"version_policy\":\"pinned\"}", JW_JOB_CREATE, "version_policy");
    decode_fails("{\"version_policy\":\"Latest\"}", JW_JOB_PATCH, "version_policy");
    /* the message lists the choices */
    struct jw_job job;
    struct jw_error err;
    memset(&job, 0, sizeof(job));
    assert_int_equal(decode_text(&job, "{\"retry_strategy\":\"random\"}", JW_JOB_CREATE, &err), -1);
    assert_non_null(strstr(err.detail, "exponential"));
    assert_non_null(strstr(err.detail, "linear"));
    assert_non_null(strstr(err.detail, "random"));
    jw_job_free(&job);
}

static void test_string_rules(void **state)
{
    (void)state;
    char buf[1024], text[4096];
    /* name: one line, 1-200 characters (not bytes), not a UUID, no edge spaces */
    memset(buf, 'n', 200);
    buf[200] = '\0';
    snprintf(text, sizeof(text), "{\"name\":\"%s\"}", buf);
    decode_ok(text, JW_JOB_CREATE);
    buf[200] = 'n';
    buf[201] = '\0';
    snprintf(text, sizeof(text), "{\"name\":\"%s\"}", buf);
    decode_fails(text, JW_JOB_CREATE, "name");
    buf[0] = '\0';
    for (int i = 0; i < 200; i++)
        strcat(buf, "\xC3\xA9");
    snprintf(text, sizeof(text), "{\"name\":\"%s\"}", buf);
    decode_ok(text, JW_JOB_CREATE);
    decode_fails("{\"name\":\"\"}", JW_JOB_CREATE, "name");
    decode_fails("{\"name\":\" lead\"}", JW_JOB_CREATE, "name");
    decode_fails("{\"name\":\"trail \"}", JW_JOB_CREATE, "name");
    decode_fails("{\"name\":\"two\\nlines\"}", JW_JOB_CREATE, "name");
    decode_fails("{\"name\":\"tab\\there\"}", JW_JOB_CREATE, "name");
    decode_fails("{\"name\":\"del\\u007f\"}", JW_JOB_CREATE, "name");
    decode_fails("{\"name\":\"5f0c6f7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f\"}", JW_JOB_CREATE, "name");
    decode_ok("{\"name\":\"in the middle is fine\"}", JW_JOB_CREATE);

    /* description: free text with newlines, up to 2000 characters */
    decode_ok("{\"description\":\"line1\\nline2\\r\\n\\tindented\"}", JW_JOB_CREATE);
    decode_fails("{\"description\":\"bell\\u0007\"}", JW_JOB_CREATE, "description");
    decode_fails("{\"description\":\"\"}", JW_JOB_CREATE, "description");
    char *big = malloc(2100);
    assert_non_null(big);
    memset(big, 'd', 2000);
    big[2000] = '\0';
    char *t2 = malloc(2200);
    assert_non_null(t2);
    snprintf(t2, 2200, "{\"description\":\"%s\"}", big);
    decode_ok(t2, JW_JOB_CREATE);
    big[2000] = 'd';
    big[2001] = '\0';
    snprintf(t2, 2200, "{\"description\":\"%s\"}", big);
    decode_fails(t2, JW_JOB_CREATE, "description");
    free(t2);
    free(big);

    /* labels: project/group/environment ids */
    decode_ok("{\"project_id\":\"proj_1.a:b-c\",\"group_id\":\"g\",\"environment_id\":\"env-1\"}",
              JW_JOB_CREATE);
    decode_fails("{\"project_id\":\"a b\"}", JW_JOB_CREATE, "project_id");
    decode_fails("{\"group_id\":\"a/b\"}", JW_JOB_CREATE, "group_id");
    decode_fails("{\"environment_id\":\"\xC3\xA9\"}", JW_JOB_CREATE, "environment_id");
    decode_fails("{\"project_id\":\"\"}", JW_JOB_CREATE, "project_id");
    memset(buf, 'p', 128);
    buf[128] = '\0';
    snprintf(text, sizeof(text), "{\"project_id\":\"%s\"}", buf);
    decode_ok(text, JW_JOB_CREATE);
    strcat(buf, "p");
    snprintf(text, sizeof(text), "{\"project_id\":\"%s\"}", buf);
    decode_fails(text, JW_JOB_CREATE, "project_id");

    /* slugs */
    decode_ok("{\"slug\":\"ok-slug_1\"}", JW_JOB_CREATE);
    decode_ok("{\"slug\":\"9lives\"}", JW_JOB_CREATE);
    decode_fails("{\"slug\":\"Bad\"}", JW_JOB_CREATE, "slug");
    decode_fails("{\"slug\":\"-x\"}", JW_JOB_CREATE, "slug");
    decode_fails("{\"slug\":\"_x\"}", JW_JOB_CREATE, "slug");
    decode_fails("{\"slug\":\"a b\"}", JW_JOB_CREATE, "slug");
    decode_fails("{\"slug\":\"a.b\"}", JW_JOB_CREATE, "slug");
    memset(buf, 's', 100);
    buf[100] = '\0';
    snprintf(text, sizeof(text), "{\"slug\":\"%s\"}", buf);
    decode_ok(text, JW_JOB_CREATE);
    strcat(buf, "s");
    snprintf(text, sizeof(text), "{\"slug\":\"%s\"}", buf);
    decode_fails(text, JW_JOB_CREATE, "slug");

    /* cron and timezone texts (parsed by core): non-empty and bounded */
    decode_ok("{\"cron\":\"*/5 * * * *\",\"timezone\":\"Europe/Paris\"}", JW_JOB_CREATE);
    decode_fails("{\"cron\":\"\"}", JW_JOB_CREATE, "cron");
    decode_fails("{\"timezone\":\"\"}", JW_JOB_CREATE, "timezone");
    memset(buf, '*', 257);
    buf[257] = '\0';
    snprintf(text, sizeof(text), "{\"execution_window_cron\":\"%s\"}", buf);
    decode_fails(text, JW_JOB_CREATE, "execution_window_cron");
}

/* ---- unknown and read-only fields ---------------------------------------------------- */

static void test_unknown_fields(void **state)
{
    (void)state;
    char *text = base_with("\"bogus\":1");
    decode_fails(text, JW_JOB_CREATE, "bogus");
    decode_fails(text, JW_JOB_PATCH, "bogus");
    /* written by a newer version: the stored form skips it */
    struct jw_job job;
    struct jw_error err;
    memset(&job, 0, sizeof(job));
    assert_int_equal(decode_text(&job, "{\"n\":\"Job\",\"bogus\":1}", JW_JOB_STORED, &err), 0);
    assert_string_equal(job.f[JW_JOB_NAME].s, "Job");
    jw_job_free(&job);
    free(text);
    /* near-misses are unknown too */
    decode_fails("{\"Name\":\"x\"}", JW_JOB_CREATE, "Name");
    decode_fails("{\"maxAttempts\":3}", JW_JOB_CREATE, "maxAttempts");
    decode_fails("{\"name \":\"x\"}", JW_JOB_PATCH, "name ");
}

static void test_read_only_fields_ignored(void **state)
{
    (void)state;
    /* wrong types and values on server fields change nothing and fail nothing */
    char *text = base_with("\"id\":\"not-a-uuid\",\"version\":\"seven\",\"version_id\":1,"
                           "\"created_by\":5,\"updated_by\":[],\"created_at\":\"garbage\","
                           "\"updated_at\":false");
    struct jw_job job;
    create_ok(&job, text, &STRICT);
    assert_false(job.f[JW_JOB_ID].set);
    assert_false(job.f[JW_JOB_VERSION].set);
    assert_false(job.f[JW_JOB_VERSION_ID].set);
    assert_false(job.f[JW_JOB_CREATED_BY].set);
    assert_false(job.f[JW_JOB_CREATED_AT].set);
    assert_false(job.f[JW_JOB_UPDATED_AT].set);

    /* a PATCH echoing other values leaves the current ones */
    jw_job_set_str(&job, JW_JOB_ID, "5f0c6f7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f");
    jw_job_set_int(&job, JW_JOB_VERSION, 4);
    jw_job_set_int(&job, JW_JOB_CREATED_AT, 1752158700000LL);
    struct jw_error err;
    assert_int_equal(decode_text(&job,
                                 "{\"id\":\"11111111-1111-1111-1111-111111111111\","
                                 "\"version\":99,\"created_at\":\"2000-01-01T00:00:00Z\"}",
                                 JW_JOB_PATCH, &err),
                     0);
    assert_string_equal(job.f[JW_JOB_ID].s, "5f0c6f7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f");
    assert_int_equal(job.f[JW_JOB_VERSION].i, 4);
    assert_int_equal(job.f[JW_JOB_CREATED_AT].i, 1752158700000LL);
    jw_job_free(&job);
    free(text);

    /* the stored form (short keys; errors name the API field) reads them,
     * and checks them */
    decode_fails("{\"id\":\"not-a-uuid\"}", JW_JOB_STORED, "id");
    decode_fails("{\"v\":\"seven\"}", JW_JOB_STORED, "version");
    decode_fails("{\"ca\":\"garbage\"}", JW_JOB_STORED, "created_at");
    decode_fails("{\"ua\":5}", JW_JOB_STORED, "updated_at");
    memset(&job, 0, sizeof(job));
    assert_int_equal(decode_text(&job,
                                 "{\"id\":\"5F0C6F7E-1B2A-4C3D-8E9F-0A1B2C3D4E5F\","
                                 "\"v\":7,\"ca\":\"2025-07-10T14:45:00.123Z\","
                                 "\"cb\":\"user:alice\"}",
                                 JW_JOB_STORED, &err),
                     0);
    assert_int_equal(job.f[JW_JOB_VERSION].i, 7);
    assert_int_equal(job.f[JW_JOB_CREATED_AT].i, 1752158700123LL);
    assert_string_equal(job.f[JW_JOB_CREATED_BY].s, "user:alice");
    jw_job_free(&job);
}

/* ---- structured fields -------------------------------------------------------------- */

static char *map_body(const char *field, int entries, const char *key_prefix, const char *value)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_printf(&b, "{\"%s\":{", field);
    for (int i = 0; i < entries; i++)
        jw_buf_printf(&b, "%s\"%s%d\":\"%s\"", i ? "," : "", key_prefix, i, value);
    jw_buf_puts(&b, "}}");
    return jw_buf_detach(&b);
}

static void test_string_maps(void **state)
{
    (void)state;
    static const char *const maps[] = {"tags", "default_run_metadata"};
    for (size_t m = 0; m < 2; m++) {
        const char *field = maps[m];
        char *t = map_body(field, 50, "k", "v");
        decode_ok(t, JW_JOB_CREATE);
        free(t);
        t = map_body(field, 51, "k", "v");
        decode_fails(t, JW_JOB_CREATE, field);
        free(t);
        t = map_body(field, 0, "k", "v");
        decode_ok(t, JW_JOB_CREATE);
        free(t);

        char key[80], val[600], text[1024], want_field[128];
        /* key length: 64 ok, 65 refused */
        memset(key, 'k', 64);
        key[64] = '\0';
        snprintf(text, sizeof(text), "{\"%s\":{\"%s\":\"v\"}}", field, key);
        decode_ok(text, JW_JOB_CREATE);
        strcat(key, "k");
        snprintf(text, sizeof(text), "{\"%s\":{\"%s\":\"v\"}}", field, key);
        {
            struct jw_job job;
            struct jw_error err;
            memset(&job, 0, sizeof(job));
            assert_int_equal(decode_text(&job, text, JW_JOB_CREATE, &err), -1);
            assert_int_equal(err.status, 400);
            snprintf(want_field, sizeof(want_field), "%s.", field);
            assert_memory_equal(err.field, want_field, strlen(want_field));
            jw_job_free(&job);
        }
        /* value length in characters: 256 ok (even when 512 bytes), 257 refused */
        val[0] = '\0';
        for (int i = 0; i < 256; i++)
            strcat(val, "\xC3\xA9");
        snprintf(text, sizeof(text), "{\"%s\":{\"k\":\"%s\"}}", field, val);
        decode_ok(text, JW_JOB_CREATE);
        memset(val, 'v', 257);
        val[257] = '\0';
        snprintf(text, sizeof(text), "{\"%s\":{\"k\":\"%s\"}}", field, val);
        snprintf(want_field, sizeof(want_field), "%s.k", field);
        decode_fails(text, JW_JOB_CREATE, want_field);
        /* values are strings without control characters */
        snprintf(text, sizeof(text), "{\"%s\":{\"k\":1}}", field);
        decode_fails(text, JW_JOB_CREATE, want_field);
        snprintf(text, sizeof(text), "{\"%s\":{\"k\":null}}", field);
        decode_fails(text, JW_JOB_CREATE, want_field);
        snprintf(text, sizeof(text), "{\"%s\":{\"k\":[\"v\"]}}", field);
        decode_fails(text, JW_JOB_CREATE, want_field);
        snprintf(text, sizeof(text), "{\"%s\":{\"k\":\"a\\nb\"}}", field);
        decode_fails(text, JW_JOB_CREATE, want_field);
        /* keys: letters, digits and . _ : / - */
        snprintf(text, sizeof(text), "{\"%s\":{\"bad key\":\"v\"}}", field);
        snprintf(want_field, sizeof(want_field), "%s.bad key", field);
        decode_fails(text, JW_JOB_CREATE, want_field);
        snprintf(text, sizeof(text), "{\"%s\":{\"\":\"v\"}}", field);
        snprintf(want_field, sizeof(want_field), "%s.", field);
        decode_fails(text, JW_JOB_CREATE, want_field);
        snprintf(text, sizeof(text), "{\"%s\":{\"a.b_c:d/e-f\":\"\"}}", field);
        decode_ok(text, JW_JOB_CREATE);
    }
    /* the stored value is the normalised object, in the client's order */
    struct jw_job job;
    create_ok(&job,
              "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\","
              "\"tags\":{ \"team\" : \"core\", \"env\":\"prod\" },"
              "\"default_run_metadata\":{\"q\":\"\\u0041\\\"\"}}",
              &STRICT);
    assert_string_equal(job.f[JW_JOB_TAGS].s, "{\"team\":\"core\",\"env\":\"prod\"}");
    assert_string_equal(job.f[JW_JOB_DEFAULT_RUN_METADATA].s, "{\"q\":\"A\\\"\"}");
    jw_job_free(&job);
}

static void test_rate_limit_keys(void **state)
{
    (void)state;
    struct jw_job job;
    create_ok(&job,
              "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\",\"rate_limit_keys\":"
              "[{\"window_secs\":60,\"name\":\"customer\",\"max\":10},"
              "{\"name\":\"region/eu\",\"max\":1000000,\"window_secs\":2592000}]}",
              &STRICT);
    assert_string_equal(job.f[JW_JOB_RATE_LIMIT_KEYS].s,
                        "[{\"name\":\"customer\",\"max\":10,\"window_secs\":60},"
                        "{\"name\":\"region/eu\",\"max\":1000000,\"window_secs\":2592000}]");
    jw_job_free(&job);
    decode_ok("{\"rate_limit_keys\":[]}", JW_JOB_CREATE);

    decode_fails("{\"rate_limit_keys\":[{\"max\":1,\"window_secs\":1}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].name");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"max\":1,\"window_secs\":1},"
                 "{\"name\":\"a\",\"max\":2,\"window_secs\":2}]}",
                 JW_JOB_CREATE, "rate_limit_keys[1].name");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"max\":1,\"window_secs\":1},"
                 "{\"name\":\"b\",\"max\":1,\"window_secs\":1},"
                 "{\"name\":\"b\",\"max\":1,\"window_secs\":1}]}",
                 JW_JOB_CREATE, "rate_limit_keys[2].name");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"max\":1,\"window_secs\":1,\"burst\":5}]}",
                 JW_JOB_CREATE, "rate_limit_keys[0].burst");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"max\":0,\"window_secs\":1}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].max");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"max\":1000001,\"window_secs\":1}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].max");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"max\":\"1\",\"window_secs\":1}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].max");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"window_secs\":1}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].max");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"max\":1}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].window_secs");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"max\":1,\"window_secs\":2592001}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].window_secs");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"max\":1,\"window_secs\":0}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].window_secs");
    decode_fails("{\"rate_limit_keys\":[{\"name\":5,\"max\":1,\"window_secs\":1}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].name");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"\",\"max\":1,\"window_secs\":1}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].name");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a b\",\"max\":1,\"window_secs\":1}]}", JW_JOB_CREATE,
                 "rate_limit_keys[0].name");
    decode_fails("{\"rate_limit_keys\":[\"customer\"]}", JW_JOB_CREATE, "rate_limit_keys[0]");
    decode_fails("{\"rate_limit_keys\":[{\"name\":\"a\",\"max\":1,\"window_secs\":1},null]}", JW_JOB_CREATE,
                 "rate_limit_keys[1]");

    /* at most 20 entries */
    struct jw_buf b = JW_BUF_INIT;
    for (int n = 20; n <= 21; n++) {
        jw_buf_reset(&b);
        jw_buf_puts(&b, "{\"rate_limit_keys\":[");
        for (int i = 0; i < n; i++)
            jw_buf_printf(&b, "%s{\"name\":\"k%d\",\"max\":1,\"window_secs\":1}", i ? "," : "", i);
        jw_buf_puts(&b, "]}");
        if (n == 20)
            decode_ok(jw_buf_str(&b), JW_JOB_CREATE);
        else
            decode_fails(jw_buf_str(&b), JW_JOB_CREATE, "rate_limit_keys");
    }
    jw_buf_free(&b);
}

static void test_rate_limit_pair(void **state)
{
    (void)state;
    char *t = base_with("\"rate_limit_max\":10");
    complete_fails(t, &STRICT, "rate_limit_window_secs");
    free(t);
    t = base_with("\"rate_limit_window_secs\":60");
    complete_fails(t, &STRICT, "rate_limit_max");
    free(t);
    t = base_with("\"rate_limit_max\":10,\"rate_limit_window_secs\":60");
    struct jw_job job;
    create_ok(&job, t, &STRICT);
    assert_int_equal(job.f[JW_JOB_RATE_LIMIT_MAX].i, 10);
    assert_int_equal(job.f[JW_JOB_RATE_LIMIT_WINDOW_SECS].i, 60);
    jw_job_free(&job);
    free(t);
}

static void test_retry_delays(void **state)
{
    (void)state;
    struct jw_job job;
    create_ok(&job,
              "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\","
              "\"retry_delays_secs\":[ 1, 5 ,30,0,86400 ]}",
              &STRICT);
    assert_string_equal(job.f[JW_JOB_RETRY_DELAYS_SECS].s, "[1,5,30,0,86400]");
    jw_job_free(&job);
    decode_ok("{\"retry_delays_secs\":[]}", JW_JOB_CREATE);
    decode_fails("{\"retry_delays_secs\":[-1]}", JW_JOB_CREATE, "retry_delays_secs[0]");
    decode_fails("{\"retry_delays_secs\":[1,86401]}", JW_JOB_CREATE, "retry_delays_secs[1]");
    decode_fails("{\"retry_delays_secs\":[1,2,1.5]}", JW_JOB_CREATE, "retry_delays_secs[2]");
    decode_fails("{\"retry_delays_secs\":[\"1\"]}", JW_JOB_CREATE, "retry_delays_secs[0]");
    decode_fails("{\"retry_delays_secs\":[null]}", JW_JOB_CREATE, "retry_delays_secs[0]");
    decode_fails("{\"retry_delays_secs\":[[1]]}", JW_JOB_CREATE, "retry_delays_secs[0]");
    struct jw_buf b = JW_BUF_INIT;
    for (int n = 50; n <= 51; n++) {
        jw_buf_reset(&b);
        jw_buf_puts(&b, "{\"retry_delays_secs\":[");
        for (int i = 0; i < n; i++)
            jw_buf_printf(&b, "%s%d", i ? "," : "", i);
        jw_buf_puts(&b, "]}");
        if (n == 50)
            decode_ok(jw_buf_str(&b), JW_JOB_CREATE);
        else
            decode_fails(jw_buf_str(&b), JW_JOB_CREATE, "retry_delays_secs");
    }
    jw_buf_free(&b);
}

static void test_payload_schema(void **state)
{
    (void)state;
    struct jw_job job;
    create_ok(&job,
              "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\",\"payload_schema\":"
              "{ \"type\" : \"object\", \"properties\": {\"a\": {\"type\":\"string\"}},"
              "\"required\":[\"a\"], \"x\":1.50 }}",
              &STRICT);
    assert_string_equal(job.f[JW_JOB_PAYLOAD_SCHEMA].s,
                        "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
                        "\"required\":[\"a\"],\"x\":1.50}");
    jw_job_free(&job);
    decode_ok("{\"payload_schema\":{}}", JW_JOB_CREATE);
    decode_ok("{\"payload_schema\":null}", JW_JOB_CREATE);
    decode_fails("{\"payload_schema\":[]}", JW_JOB_CREATE, "payload_schema");
    decode_fails("{\"payload_schema\":\"{}\"}", JW_JOB_CREATE, "payload_schema");
    decode_fails("{\"payload_schema\":true}", JW_JOB_CREATE, "payload_schema");
    /* at most 64 KiB of JSON */
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_puts(&b, "{\"payload_schema\":{\"d\":\"");
    for (int i = 0; i < 70000; i++)
        jw_buf_putc(&b, 'x');
    jw_buf_puts(&b, "\"}}");
    decode_fails(jw_buf_str(&b), JW_JOB_CREATE, "payload_schema");
    jw_buf_free(&b);
}

/* ---- URLs and the SSRF guard ---------------------------------------------------------- */

static void test_url_fields(void **state)
{
    (void)state;
    static const char *const fields[] = {"endpoint_url", "fallback_endpoint_url", "webhook_url"};
    static const char *const private_urls[] = {
        "http://127.0.0.1/",       "http://localhost/",          "http://[::1]/",
        "http://169.254.169.254/", "http://10.0.0.1:8080/x",     "http://192.168.1.1/",
        "http://0177.0.0.1/",      "http://2130706433/",         "http://api.localhost/",
        "http://LOCALHOST./",      "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/",
        "http://[fd00::1]/",       "http://172.16.0.1/",
    };
    for (size_t f = 0; f < 3; f++) {
        for (size_t i = 0; i < sizeof(private_urls) / sizeof(private_urls[0]); i++) {
            char extra[256];
            if (f == 0)
                snprintf(extra, sizeof(extra), "\"name\":\"n\",\"endpoint_url\":\"%s\"", private_urls[i]);
            else
                snprintf(extra, sizeof(extra),
                         "\"name\":\"n\",\"endpoint_url\":\"https://example.com/\",\"%s\":\"%s\"", fields[f],
                         private_urls[i]);
            char text[300];
            snprintf(text, sizeof(text), "{%s}", extra);
            complete_fails(text, &STRICT, fields[f]);
            /* allowed when the server says so */
            struct jw_job job;
            create_ok(&job, text, &LOOSE);
            jw_job_free(&job);
        }
        char text[300];
        if (f == 0)
            snprintf(text, sizeof(text), "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\"}");
        else
            snprintf(
                text, sizeof(text),
                "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\",\"%s\":\"https://example.com/\"}",
                fields[f]);
        struct jw_job job;
        create_ok(&job, text, &STRICT);
        jw_job_free(&job);
    }
    /* public addresses and names are fine */
    struct jw_job job;
    create_ok(&job,
              "{\"name\":\"n\",\"endpoint_url\":\"http://8.8.8.8:8080/run?x=1\","
              "\"fallback_endpoint_url\":\"https://[2606:4700::1111]/\"}",
              &STRICT);
    assert_string_equal(job.f[JW_JOB_ENDPOINT_URL].s, "http://8.8.8.8:8080/run?x=1");
    jw_job_free(&job);
    /* malformed URLs are refused at decoding, naming the field */
    decode_fails("{\"endpoint_url\":\"ftp://example.com/\"}", JW_JOB_CREATE, "endpoint_url");
    decode_fails("{\"endpoint_url\":\"https://u:p@example.com/\"}", JW_JOB_CREATE, "endpoint_url");
    decode_fails("{\"fallback_endpoint_url\":\"http://example.com:0/\"}", JW_JOB_CREATE,
                 "fallback_endpoint_url");
    decode_fails("{\"webhook_url\":\"http://exa mple.com/\"}", JW_JOB_PATCH, "webhook_url");
    decode_fails("{\"webhook_url\":\"\"}", JW_JOB_CREATE, "webhook_url");
}

/* ---- webhook secrets --------------------------------------------------------------------- */

static void test_webhook_secret_valid(void **state)
{
    (void)state;
    assert_true(jw_webhook_secret_valid(SECRET24));
    assert_true(jw_webhook_secret_valid(SECRET32));
    assert_true(jw_webhook_secret_valid(SECRET64));
    assert_true(jw_webhook_secret_valid("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"));
    assert_false(jw_webhook_secret_valid(SECRET16));
    assert_false(jw_webhook_secret_valid(SECRET23));
    assert_false(jw_webhook_secret_valid(SECRET65));
    assert_false(jw_webhook_secret_valid(""));
    assert_false(jw_webhook_secret_valid("whsec_"));
    assert_false(jw_webhook_secret_valid("AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"));
    assert_false(jw_webhook_secret_valid("WHSEC_AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"));
    assert_false(jw_webhook_secret_valid("whsec AAECAwQFBgcICQoLDA0ODxAREhMUFRYX"));
    assert_false(jw_webhook_secret_valid("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRY!"));
    assert_false(jw_webhook_secret_valid("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRY_"));
    assert_false(jw_webhook_secret_valid("whsec_AAECAwQFBgcICQoL DA0ODxAREhMUFRYX"));
    assert_false(jw_webhook_secret_valid("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXG"));
}

static void test_webhook_secret_generated(void **state)
{
    (void)state;
    struct jw_job job;
    create_ok(&job,
              "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\","
              "\"webhook_url\":\"https://hooks.example.com/done\"}",
              &STRICT);
    assert_true(job.secret_generated);
    assert_non_null(job.secret_clear);
    assert_memory_equal(job.secret_clear, "whsec_", 6);
    assert_true(jw_webhook_secret_valid(job.secret_clear));
    assert_true(job.f[JW_JOB_WEBHOOK_SECRET].set);
    const char *masked = job.f[JW_JOB_WEBHOOK_SECRET].s;
    assert_string_not_equal(masked, job.secret_clear);
    assert_memory_equal(masked, "whsec_", 6);
    assert_null(strstr(masked, job.secret_clear + 6));

    /* the JSON shows it only when asked to reveal it */
    char *shown = encode(&job, JW_JOB_VIEW_API_REVEAL);
    char *hidden = encode(&job, JW_JOB_VIEW_API);
    struct jw_json_doc *d1 = parse_or_fail(shown);
    struct jw_json_doc *d2 = parse_or_fail(hidden);
    assert_string_equal(jw_json_get(jw_json_root(d1), "webhook_secret")->u.str, job.secret_clear);
    assert_string_equal(jw_json_get(jw_json_root(d2), "webhook_secret")->u.str, masked);
    assert_null(strstr(hidden, job.secret_clear + 6));
    /* the mask keeps at most the last 4 characters */
    const char *h = jw_json_get(jw_json_root(d2), "webhook_secret")->u.str;
    size_t visible = 0;
    for (const char *p = h + 6; *p; p++)
        visible += *p != '*';
    assert_true(visible <= 4);
    jw_json_doc_free(d1);
    jw_json_doc_free(d2);
    free(shown);
    free(hidden);

    /* every generated secret is new */
    struct jw_job other;
    create_ok(&other,
              "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\","
              "\"webhook_url\":\"https://hooks.example.com/done\"}",
              &STRICT);
    assert_string_not_equal(other.secret_clear, job.secret_clear);
    jw_job_free(&other);
    jw_job_free(&job);

    /* no webhook_url, no secret */
    create_ok(&job, SEED002_CREATE, &STRICT);
    assert_false(job.secret_generated);
    assert_null(job.secret_clear);
    jw_job_free(&job);
}

static void test_webhook_secret_given(void **state)
{
    (void)state;
    struct jw_job job;
    create_ok(&job,
              "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\","
              "\"webhook_url\":\"https://hooks.example.com/\",\"webhook_secret\":\"" SECRET32 "\"}",
              &STRICT);
    assert_false(job.secret_generated);
    assert_string_equal(job.secret_clear, SECRET32);
    assert_string_not_equal(job.f[JW_JOB_WEBHOOK_SECRET].s, SECRET32);
    /* a secret the client chose is never echoed, even with reveal */
    char *shown = encode(&job, JW_JOB_VIEW_API_REVEAL);
    assert_null(strstr(shown, SECRET32));
    assert_null(strstr(shown, "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh"));
    free(shown);
    jw_job_free(&job);

    /* a secret without a webhook_url is kept (for signing dispatches) */
    create_ok(&job,
              "{\"name\":\"n\",\"endpoint_url\":\"https://example.com/\","
              "\"webhook_secret\":\"" SECRET24 "\"}",
              &STRICT);
    assert_string_equal(job.secret_clear, SECRET24);
    jw_job_free(&job);

    static const char *const bad[] = {
        "abc",
        "",
        "whsec_",
        SECRET16,
        SECRET23,
        SECRET65,
        "whsec_not base64 at all!!",
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char text[256];
        snprintf(text, sizeof(text), "{\"webhook_secret\":\"%s\"}", bad[i]);
        decode_fails(text, JW_JOB_CREATE, "webhook_secret");
        decode_fails(text, JW_JOB_PATCH, "webhook_secret");
    }
}

/* ---- the stored form ----------------------------------------------------------------------- */

#define FULL_CREATE                                                                                          \
    "{\"project_id\":\"proj_1\",\"group_id\":\"grp.2\",\"name\":\"Full job\",\"slug\":\"full-job\","         \
    "\"description\":\"line1\\nline2 \\\"quoted\\\" \\u00e9\",\"cron\":\"*/5 * * * *\","                     \
    "\"payload_schema\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}}},"                 \
    "\"tags\":{\"team\":\"core\",\"env\":\"prod\"},\"endpoint_url\":\"https://example.com/run\","            \
    "\"fallback_endpoint_url\":\"https://backup.example.com/run?x=1\",\"max_attempts\":5,"                   \
    "\"timeout_secs\":120,\"max_concurrency\":2,\"execution_window_cron\":\"* 9-17 * * MON-FRI\","           \
    "\"timezone\":\"Europe/Paris\",\"rate_limit_max\":10,\"rate_limit_window_secs\":60,"                     \
    "\"max_concurrency_per_key\":1,"                                                                         \
    "\"rate_limit_keys\":[{\"name\":\"customer\",\"max\":5,\"window_secs\":30}],"                            \
    "\"default_run_metadata\":{\"source\":\"api\"},\"dedup_window_secs\":300,\"enabled\":false,"             \
    "\"webhook_url\":\"https://hooks.example.com/done\",\"webhook_secret\":\"" SECRET32 "\","                \
    "\"run_ttl_secs\":3600,\"retry_strategy\":\"linear\",\"retry_delays_secs\":[1,5,30],"                    \
    "\"environment_id\":\"env-1\",\"version_policy\":\"pin\",\"backwards_compatible\":false}"

#define JOB_ID "5f0c6f7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f"

static void set_server_fields(struct jw_job *job)
{
    jw_job_set_str(job, JW_JOB_ID, JOB_ID);
    jw_job_set_int(job, JW_JOB_VERSION, 3);
    jw_job_set_str(job, JW_JOB_VERSION_ID, "0b6a3c52-9d4e-4f11-a2b3-c4d5e6f70812");
    jw_job_set_str(job, JW_JOB_CREATED_BY, "user:alice");
    jw_job_set_str(job, JW_JOB_UPDATED_BY, "apikey:k1");
    jw_job_set_int(job, JW_JOB_CREATED_AT, 1752158700123LL);
    jw_job_set_int(job, JW_JOB_UPDATED_AT, 1752158799000LL);
}

/* The server fields of a job just made, as jobs.c stamps them: a v7 id,
 * made at created_at, whose first version is known by the id itself. */
#define V7_ID "01a20bb5-c7b7-73ab-aa3e-85caf9b311bd"
#define V7_MS 0x01a20bb5c7b7LL
static void new_job_fields(struct jw_job *job)
{
    jw_job_set_str(job, JW_JOB_ID, V7_ID);
    jw_job_set_int(job, JW_JOB_VERSION, 1);
    jw_job_set_str(job, JW_JOB_VERSION_ID, V7_ID);
    jw_job_set_str(job, JW_JOB_CREATED_BY, "user:alice");
    jw_job_set_str(job, JW_JOB_UPDATED_BY, "user:alice");
    jw_job_set_int(job, JW_JOB_CREATED_AT, V7_MS);
    jw_job_set_int(job, JW_JOB_UPDATED_AT, V7_MS);
}

/* A stored JSON as the store's scripts return it: the id put back first. */
static char *as_read_id(const char *stored, const char *id)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_printf(&b, "{\"id\":\"%s\",%s", id, stored + 1);
    return jw_buf_detach(&b);
}

static char *as_read(const char *stored)
{
    return as_read_id(stored, JOB_ID);
}

static void assert_same_fields(const struct jw_job *a, const struct jw_job *b)
{
    for (int f = 0; f < JW_JOB_NFIELDS; f++) {
        const struct jw_fval *x = &a->f[f], *y = &b->f[f];
        const char *name = jw_job_field_name((enum jw_job_field)f);
        if (x->set != y->set)
            fail_msg("%s: set %d vs %d", name, x->set, y->set);
        if (!x->set)
            continue;
        if (x->i != y->i || x->b != y->b)
            fail_msg("%s: %lld/%d vs %lld/%d", name, (long long)x->i, x->b, (long long)y->i, y->b);
        if ((x->s == NULL) != (y->s == NULL) || (x->s && strcmp(x->s, y->s) != 0))
            fail_msg("%s: \"%s\" vs \"%s\"", name, x->s ? x->s : "(null)", y->s ? y->s : "(null)");
    }
}

/* A body as deep as json_max_depth allows, its structured values (here
 * payload_schema and job_configuration.body) nested to the limit. */
static char *deep_body(int depth)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_puts(&b, "{\"name\":\"deep\",\"endpoint_url\":\"https://example.com/\",\"payload_schema\":");
    for (int i = 1; i < depth; i++)
        jw_buf_puts(&b, "{\"a\":");
    jw_buf_puts(&b, "1");
    for (int i = 1; i < depth; i++)
        jw_buf_putc(&b, '}');
    jw_buf_puts(&b, ",\"job_configuration\":{\"body\":");
    for (int i = 2; i < depth; i++)
        jw_buf_putc(&b, '[');
    for (int i = 2; i < depth; i++)
        jw_buf_putc(&b, ']');
    jw_buf_puts(&b, "}}");
    return jw_buf_detach(&b);
}

/* What a body at the deepest json_max_depth accepted is stored as must
 * read back: stored jobs were read at depth 32 here (and 16 in core/jobs.c,
 * so a job with a payload_schema 16 levels deep, accepted with 201 at the
 * default json_max_depth, could not be changed or paused afterwards: "the
 * stored job is damaged"). Found by test/fuzz/fuzz_json.c's stored-form
 * property. */
static void test_stored_deep_values(void **state)
{
    (void)state;
    char *body = deep_body(JW_JSON_MAX_DEPTH);
    char perr[256];
    struct jw_json_doc *doc = jw_json_parse(body, strlen(body), JW_JSON_MAX_DEPTH, perr, sizeof(perr));
    if (!doc)
        fail_msg("the deep body does not parse: %s", perr);
    struct jw_job job;
    struct jw_error err;
    memset(&job, 0, sizeof(job));
    if (jw_job_decode(&job, jw_json_root(doc), JW_JOB_CREATE, &err) != 0 ||
        jw_job_complete(&job, &STRICT, &err) != 0)
        fail_msg("the deep job is refused (%s: %s)", err.field, err.detail);
    jw_json_doc_free(doc);
    set_server_fields(&job);
    char *text = encode(&job, JW_JOB_VIEW_STORED);
    char *read = as_read(text);
    doc = jw_json_parse(read, strlen(read), JW_JSON_STORED_DEPTH, perr, sizeof(perr));
    if (!doc)
        fail_msg("the stored form does not parse at JW_JSON_STORED_DEPTH: %s", perr);
    jw_json_doc_free(doc);
    struct jw_buf via = JW_BUF_INIT;
    assert_int_equal(jw_job_api_from_stored(&via, read, strlen(read), -1), 0);
    char *api = encode(&job, JW_JOB_VIEW_API);
    assert_string_equal(jw_buf_str(&via), api);
    jw_buf_free(&via);
    free(api);
    free(read);
    free(text);
    free(body);
    jw_job_free(&job);
}

static void test_stored_round_trip(void **state)
{
    (void)state;
    struct jw_job job;
    create_ok(&job, FULL_CREATE, &STRICT);
    set_server_fields(&job);
    char *text = encode(&job, JW_JOB_VIEW_STORED);
    assert_null(strstr(text, SECRET32)); /* the stored form never holds the clear secret */
    assert_null(strstr(text, "\"id\":"));  /* the jobs hash field is the id */
    assert_non_null(strstr(text, "\"ua\":")); /* updated_at, changed since created: kept */
    char *read = as_read(text);

    struct jw_job back;
    struct jw_error err;
    memset(&back, 0, sizeof(back));
    if (decode_text(&back, read, JW_JOB_STORED, &err) != 0)
        fail_msg("stored decode refused (%s: %s)", err.field, err.detail);
    assert_same_fields(&job, &back);
    assert_null(back.secret_clear);
    assert_false(back.secret_generated);
    char *again = encode(&back, JW_JOB_VIEW_STORED);
    assert_string_equal(again, text);
    /* the API views of the original and of the stored copy agree, and the
     * stored form holds no nulls */
    char *api1 = encode(&job, JW_JOB_VIEW_API), *api2 = encode(&back, JW_JOB_VIEW_API);
    assert_string_equal(api1, api2);
    struct jw_buf via = JW_BUF_INIT;
    assert_int_equal(jw_job_api_from_stored(&via, read, strlen(read), -1), 0);
    assert_string_equal(jw_buf_str(&via), api1);
    jw_buf_free(&via);
    assert_null(strstr(text, ":null"));
    free(api1);
    free(api2);

    /* spot checks on the decoded values */
    assert_int_equal(back.f[JW_JOB_MAX_ATTEMPTS].i, 5);
    assert_false(back.f[JW_JOB_ENABLED].b);
    assert_int_equal(back.f[JW_JOB_CREATED_AT].i, 1752158700123LL);
    assert_int_equal(back.f[JW_JOB_VERSION].i, 3);
    assert_string_equal(back.f[JW_JOB_DESCRIPTION].s, "line1\nline2 \"quoted\" \xC3\xA9");
    assert_string_equal(back.f[JW_JOB_RETRY_DELAYS_SECS].s, "[1,5,30]");
    assert_string_equal(back.f[JW_JOB_TAGS].s, "{\"team\":\"core\",\"env\":\"prod\"}");

    /* a stored copy equals itself and its copy */
    struct jw_job copy;
    jw_job_copy(&copy, &back);
    assert_false(jw_job_differs(&back, &copy));
    assert_same_fields(&back, &copy);
    /* the copy is deep */
    jw_job_set_str(&copy, JW_JOB_DESCRIPTION, "changed");
    assert_string_equal(back.f[JW_JOB_DESCRIPTION].s, "line1\nline2 \"quoted\" \xC3\xA9");
    jw_job_free(&copy);

    /* a default-only job, as just made, round-trips as well */
    struct jw_job small, small_back;
    create_ok(&small, SEED002_CREATE, &STRICT);
    new_job_fields(&small);
    char *st = encode(&small, JW_JOB_VIEW_STORED);
    /* defaults and nulls are not stored, and come back on decoding */
    assert_null(strstr(st, "\"ma\"")); /* max_attempts */
    assert_null(strstr(st, "\"tz\""));
    assert_null(strstr(st, "\"e\""));  /* enabled */
    assert_null(strstr(st, "null"));
    char *st_read = as_read_id(st, V7_ID);
    memset(&small_back, 0, sizeof(small_back));
    assert_int_equal(decode_text(&small_back, st_read, JW_JOB_STORED, &err), 0);
    assert_same_fields(&small, &small_back);
    assert_false(jw_job_differs(&small, &small_back));
    free(st_read);
    free(st);
    jw_job_free(&small);
    jw_job_free(&small_back);

    free(again);
    free(read);
    free(text);
    jw_job_free(&back);
    jw_job_free(&job);
}

/* A job never changed since its creation stores no updated_at/updated_by:
 * they come back from created_at/created_by. */
static void test_stored_implied_fields(void **state)
{
    (void)state;
    struct jw_job job, back;
    struct jw_error err;
    create_ok(&job, SEED002_CREATE, &STRICT);
    set_server_fields(&job);
    jw_job_set_str(&job, JW_JOB_UPDATED_BY, "user:alice");
    jw_job_set_int(&job, JW_JOB_UPDATED_AT, 1752158700123LL);
    char *text = encode(&job, JW_JOB_VIEW_STORED), *read = as_read(text);
    assert_null(strstr(text, "\"id\":"));
    assert_null(strstr(text, "\"ua\""));
    assert_null(strstr(text, "\"ub\""));
    assert_non_null(strstr(text, "\"cb\":\"user:alice\""));
    memset(&back, 0, sizeof(back));
    assert_int_equal(decode_text(&back, read, JW_JOB_STORED, &err), 0);
    assert_same_fields(&job, &back);
    assert_string_equal(back.f[JW_JOB_UPDATED_BY].s, "user:alice");
    assert_int_equal(back.f[JW_JOB_UPDATED_AT].i, 1752158700123LL);
    /* only the one that differs is kept */
    jw_job_set_str(&job, JW_JOB_UPDATED_BY, "apikey:k1");
    char *text2 = encode(&job, JW_JOB_VIEW_STORED);
    assert_non_null(strstr(text2, "\"ub\":\"apikey:k1\""));
    assert_null(strstr(text2, "\"ua\""));
    free(text2);

    /* a job just made stores none of its server fields but created_by,
     * and a slug equal to its name is left out too */
    struct jw_job made, made_back;
    create_ok(&made, "{\"name\":\"nightly-report\",\"endpoint_url\":\"https://example.com/h\"}", &STRICT);
    new_job_fields(&made);
    char *mt = encode(&made, JW_JOB_VIEW_STORED), *mr = as_read_id(mt, V7_ID);
    assert_string_equal(mt, "{\"n\":\"nightly-report\",\"u\":\"https://example.com/h\",\"cb\":\"user:alice\"}");
    memset(&made_back, 0, sizeof(made_back));
    assert_int_equal(decode_text(&made_back, mr, JW_JOB_STORED, &err), 0);
    assert_same_fields(&made, &made_back);
    assert_string_equal(made_back.f[JW_JOB_SLUG].s, "nightly-report");
    assert_string_equal(made_back.f[JW_JOB_VERSION_ID].s, V7_ID);
    assert_int_equal(made_back.f[JW_JOB_VERSION].i, 1);
    assert_int_equal(made_back.f[JW_JOB_CREATED_AT].i, V7_MS);
    /* a slug that is not the name itself is kept, even when derived from it */
    jw_job_set_str(&made, JW_JOB_NAME, "Nightly Report");
    char *mt2 = encode(&made, JW_JOB_VIEW_STORED);
    assert_non_null(strstr(mt2, "\"s\":\"nightly-report\""));
    free(mt2);
    free(mr);
    free(mt);
    jw_job_free(&made_back);
    jw_job_free(&made);
    free(read);
    free(text);
    jw_job_free(&back);
    jw_job_free(&job);
}

/* A stored job: FULL_CREATE completed, with server fields, decoded back. */
static void stored_job(struct jw_job *out)
{
    struct jw_job job;
    struct jw_error err;
    create_ok(&job, FULL_CREATE, &STRICT);
    set_server_fields(&job);
    char *text = encode(&job, JW_JOB_VIEW_STORED), *read = as_read(text);
    jw_job_free(&job);
    memset(out, 0, sizeof(*out));
    int rc = decode_text(out, read, JW_JOB_STORED, &err);
    free(read);
    free(text);
    assert_int_equal(rc, 0);
}

static void test_patch(void **state)
{
    (void)state;
    struct jw_job cur, next;
    struct jw_error err;
    stored_job(&cur);
    jw_job_copy(&next, &cur);
    assert_int_equal(decode_text(&next,
                                 "{\"max_attempts\":null,\"timezone\":null,\"retry_strategy\":null,"
                                 "\"enabled\":null,\"description\":\"new\",\"cron\":null}",
                                 JW_JOB_PATCH, &err),
                     0);
    assert_false(next.f[JW_JOB_MAX_ATTEMPTS].set);
    assert_false(next.f[JW_JOB_CRON].set);
    assert_int_equal(jw_job_complete(&next, &STRICT, &err), 0);
    /* null put the defaults back */
    assert_int_equal(next.f[JW_JOB_MAX_ATTEMPTS].i, 3);
    assert_string_equal(next.f[JW_JOB_TIMEZONE].s, "UTC");
    assert_string_equal(next.f[JW_JOB_RETRY_STRATEGY].s, "exponential");
    assert_true(next.f[JW_JOB_ENABLED].b);
    /* a field without a default is gone */
    assert_false(next.f[JW_JOB_CRON].set);
    /* what was not mentioned stays */
    assert_string_equal(next.f[JW_JOB_DESCRIPTION].s, "new");
    assert_int_equal(next.f[JW_JOB_TIMEOUT_SECS].i, 120);
    assert_string_equal(next.f[JW_JOB_SLUG].s, "full-job");
    assert_string_equal(next.f[JW_JOB_VERSION_POLICY].s, "pin");
    assert_int_equal(next.f[JW_JOB_VERSION].i, 3);
    assert_true(jw_job_differs(&cur, &next));
    jw_job_free(&next);

    /* slug null: derived again from the name */
    jw_job_copy(&next, &cur);
    assert_int_equal(decode_text(&next, "{\"slug\":null,\"name\":\"Renamed Job\"}", JW_JOB_PATCH, &err), 0);
    assert_int_equal(jw_job_complete(&next, &STRICT, &err), 0);
    assert_string_equal(next.f[JW_JOB_SLUG].s, "renamed-job");
    jw_job_free(&next);

    /* a patch that breaks a cross-field rule is refused at completion */
    jw_job_copy(&next, &cur);
    assert_int_equal(decode_text(&next, "{\"rate_limit_window_secs\":null}", JW_JOB_PATCH, &err), 0);
    assert_int_equal(jw_job_complete(&next, &STRICT, &err), -1);
    assert_string_equal(err.field, "rate_limit_window_secs");
    jw_job_free(&next);

    /* and a patch to a private target too */
    jw_job_copy(&next, &cur);
    assert_int_equal(decode_text(&next, "{\"endpoint_url\":\"http://127.0.0.1:6379/\"}", JW_JOB_PATCH, &err),
                     0);
    assert_int_equal(jw_job_complete(&next, &STRICT, &err), -1);
    assert_string_equal(err.field, "endpoint_url");
    jw_job_free(&next);

    /* an empty patch changes nothing */
    jw_job_copy(&next, &cur);
    assert_int_equal(decode_text(&next, "{}", JW_JOB_PATCH, &err), 0);
    assert_int_equal(jw_job_complete(&next, &STRICT, &err), 0);
    assert_false(jw_job_differs(&cur, &next));
    jw_job_free(&next);

    /* a failing patch reports the field */
    jw_job_copy(&next, &cur);
    assert_int_equal(decode_text(&next, "{\"description\":\"ok\",\"max_attempts\":0}", JW_JOB_PATCH, &err),
                     -1);
    assert_int_equal(err.status, 400);
    assert_string_equal(err.field, "max_attempts");
    jw_job_free(&next);
    jw_job_free(&cur);
}

static void test_patch_webhook_secret(void **state)
{
    (void)state;
    struct jw_job cur, next;
    struct jw_error err;
    stored_job(&cur);
    /* removing the secret is a change */
    jw_job_copy(&next, &cur);
    assert_int_equal(decode_text(&next, "{\"webhook_secret\":null}", JW_JOB_PATCH, &err), 0);
    assert_true(next.secret_removed);
    assert_false(next.f[JW_JOB_WEBHOOK_SECRET].set);
    assert_true(jw_job_differs(&cur, &next));
    /* with a webhook_url still set, completion makes a new one */
    assert_int_equal(jw_job_complete(&next, &STRICT, &err), 0);
    assert_true(next.secret_generated);
    assert_true(jw_webhook_secret_valid(next.secret_clear));
    jw_job_free(&next);

    /* setting a new one is a change, and is masked */
    jw_job_copy(&next, &cur);
    assert_int_equal(decode_text(&next, "{\"webhook_secret\":\"" SECRET64 "\"}", JW_JOB_PATCH, &err), 0);
    assert_string_equal(next.secret_clear, SECRET64);
    assert_false(next.secret_generated);
    assert_true(jw_job_differs(&cur, &next));
    char *out = encode(&next, JW_JOB_VIEW_API_REVEAL);
    assert_null(strstr(out, SECRET64));
    free(out);
    jw_job_free(&next);
    jw_job_free(&cur);
}

static void test_differs(void **state)
{
    (void)state;
    struct jw_job a, b;
    stored_job(&a);
    jw_job_copy(&b, &a);
    assert_false(jw_job_differs(&a, &b));
    /* server fields are not client changes */
    jw_job_set_int(&b, JW_JOB_VERSION, 99);
    jw_job_set_int(&b, JW_JOB_UPDATED_AT, 1);
    jw_job_set_str(&b, JW_JOB_UPDATED_BY, "user:bob");
    jw_job_set_str(&b, JW_JOB_ID, NULL);
    assert_false(jw_job_differs(&a, &b));
    /* client fields are */
    jw_job_set_str(&b, JW_JOB_DESCRIPTION, "other");
    assert_true(jw_job_differs(&a, &b));
    assert_true(jw_job_differs(&b, &a));
    jw_job_set_str(&b, JW_JOB_DESCRIPTION, a.f[JW_JOB_DESCRIPTION].s);
    assert_false(jw_job_differs(&a, &b));
    jw_job_set_int(&b, JW_JOB_MAX_ATTEMPTS, 6);
    assert_true(jw_job_differs(&a, &b));
    jw_job_set_int(&b, JW_JOB_MAX_ATTEMPTS, 5);
    assert_false(jw_job_differs(&a, &b));
    b.f[JW_JOB_ENABLED].b = true;
    assert_true(jw_job_differs(&a, &b));
    b.f[JW_JOB_ENABLED].b = false;
    jw_job_set_str(&b, JW_JOB_CRON, NULL);
    assert_true(jw_job_differs(&a, &b));
    jw_job_set_str(&b, JW_JOB_CRON, "*/5 * * * *");
    assert_false(jw_job_differs(&a, &b));
    /* a clear secret in hand always counts as a change */
    b.secret_clear = strdup(SECRET24);
    assert_true(jw_job_differs(&a, &b));
    jw_job_free(&b);
    jw_job_free(&a);
}

static void test_set_helpers(void **state)
{
    (void)state;
    struct jw_job job;
    memset(&job, 0, sizeof(job));
    jw_job_set_str(&job, JW_JOB_NAME, "x");
    assert_true(job.f[JW_JOB_NAME].set);
    assert_string_equal(job.f[JW_JOB_NAME].s, "x");
    jw_job_set_str(&job, JW_JOB_NAME, "y");
    assert_string_equal(job.f[JW_JOB_NAME].s, "y");
    jw_job_set_str(&job, JW_JOB_NAME, NULL);
    assert_false(job.f[JW_JOB_NAME].set);
    assert_null(job.f[JW_JOB_NAME].s);
    jw_job_set_int(&job, JW_JOB_TIMEOUT_SECS, 42);
    assert_true(job.f[JW_JOB_TIMEOUT_SECS].set);
    assert_int_equal(job.f[JW_JOB_TIMEOUT_SECS].i, 42);
    /* times are written as ISO 8601 */
    jw_job_set_int(&job, JW_JOB_CREATED_AT, 1752158700000LL);
    char *out = encode(&job, JW_JOB_VIEW_API);
    assert_non_null(strstr(out, "\"created_at\":\"2025-07-10T14:45:00.000Z\""));
    assert_non_null(strstr(out, "\"timeout_secs\":42"));
    assert_non_null(strstr(out, "\"name\":null"));
    free(out);
    jw_job_free(&job);
    for (int f = 0; f < JW_JOB_NFIELDS; f++)
        assert_false(job.f[f].set);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_field_names),
        cmocka_unit_test(test_seed002_create),
        cmocka_unit_test(test_completion_defaults),
        cmocka_unit_test(test_required_fields),
        cmocka_unit_test(test_job_types),
        cmocka_unit_test(test_slug_from_name),
        cmocka_unit_test(test_slug_from_long_name),
        cmocka_unit_test(test_type_errors_name_the_field),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_enums),
        cmocka_unit_test(test_string_rules),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_read_only_fields_ignored),
        cmocka_unit_test(test_string_maps),
        cmocka_unit_test(test_rate_limit_keys),
        cmocka_unit_test(test_rate_limit_pair),
        cmocka_unit_test(test_retry_delays),
        cmocka_unit_test(test_payload_schema),
        cmocka_unit_test(test_url_fields),
        cmocka_unit_test(test_webhook_secret_valid),
        cmocka_unit_test(test_webhook_secret_generated),
        cmocka_unit_test(test_webhook_secret_given),
        cmocka_unit_test(test_stored_round_trip),
        cmocka_unit_test(test_stored_deep_values),
        cmocka_unit_test(test_stored_implied_fields),
        cmocka_unit_test(test_patch),
        cmocka_unit_test(test_stored_procedure_names),
        cmocka_unit_test(test_patch_webhook_secret),
        cmocka_unit_test(test_differs),
        cmocka_unit_test(test_set_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
