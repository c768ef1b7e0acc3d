/* Unit tests for the run model (src/model/run.c): its JSON views (the
 * native run and seed 001's job_run, with its five statuses over ours) and
 * the packed fields the scripts answer with. */
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
#include "jobwheel/json.h"
#include "jobwheel/run.h"

static char *team_view(const char *status)
{
    const char *names[] = {"id", "status", "project_id", "params", "finished_at", "created_at", "notify", "job_id"};
    const char *values[] = {"r-1", status, "p-1", "{\"a\":1}", "1700000001000", "1700000000000", "1", "j-1"};
    size_t lens[8];
    for (size_t i = 0; i < 8; i++)
        lens[i] = strlen(values[i]);
    struct jw_run_pairs p = {8, names, values, lens};
    struct jw_buf b = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &b);
    jw_run_write_team(&w, &p, "revenuecat_sync", "team-1");
    return jw_buf_detach(&b);
}

static void test_team_view_fields_in_order(void **state)
{
    (void)state;
    char *s = team_view("running");
    assert_string_equal(s, "{\"id\":\"r-1\",\"job_type\":\"revenuecat_sync\",\"status\":\"running\","
                           "\"team_id\":\"team-1\",\"project_id\":\"p-1\",\"triggered_by\":null,"
                           "\"params\":{\"a\":1},\"progress\":null,\"result\":null,\"error\":null,"
                           "\"notify\":true,\"started_at\":null,\"completed_at\":\"2023-11-14T22:13:21.000Z\","
                           "\"created_at\":\"2023-11-14T22:13:20.000Z\"}");
    free(s);
}

/* "name\0value\0…" as a reply string holds it (its own NUL after the end) */
#define PACKED(lit) lit, sizeof(lit) - 1

static void test_packed_fields(void **state)
{
    (void)state;
    struct jw_run_fields f;
    size_t len;
    assert_int_equal(jw_run_fields_unpack(&f, PACKED("id\0r-1\0status\0delayed\0error\0")), 0);
    assert_int_equal(f.p.n, 3);
    assert_string_equal(jw_run_pair(&f.p, "status", &len), "delayed");
    assert_int_equal(len, 7);
    assert_non_null(jw_run_pair(&f.p, "error", &len)); /* "…name\0": its value is empty */
    assert_int_equal(len, 0);
    assert_null(jw_run_pair(&f.p, "result", NULL));
    /* appended pairs come after: a name already there keeps its first value */
    assert_int_equal(jw_run_fields_append(&f, PACKED("status\0pending\0payload\0{}")), 0);
    assert_int_equal(f.p.n, 5);
    assert_string_equal(jw_run_pair(&f.p, "status", NULL), "delayed");
    assert_memory_equal(jw_run_pair(&f.p, "payload", &len), "{}", 2);
    assert_int_equal(len, 2);
    /* not pairs */
    assert_int_equal(jw_run_fields_unpack(&f, PACKED("id\0r-1\0status")), -1);
    assert_int_equal(jw_run_fields_unpack(&f, PACKED("")), 0);
    assert_int_equal(f.p.n, 0);
    /* no more than JW_RUN_FIELDS_MAX pairs, appended or not */
    struct jw_buf many = JW_BUF_INIT;
    for (int i = 0; i < JW_RUN_FIELDS_MAX; i++)
        jw_buf_printf(&many, "%sf%d%cv", i ? "\x01" : "", i, 1);
    for (size_t i = 0; i < many.len; i++)
        if (many.data[i] == 1)
            many.data[i] = '\0';
    assert_int_equal(jw_run_fields_unpack(&f, many.data, many.len), 0);
    assert_int_equal(f.p.n, JW_RUN_FIELDS_MAX);
    assert_int_equal(jw_run_fields_append(&f, PACKED("one\0more")), -1);
    jw_buf_free(&many);
}

static void test_job_version_id_defaults_to_the_job(void **state)
{
    (void)state;
    struct jw_run_fields f;
    struct jw_buf b = JW_BUF_INIT;
    struct jw_jsonw w;
    assert_int_equal(jw_run_fields_unpack(&f, PACKED("id\0r-1\0job_id\0j-1")), 0);
    jw_jsonw_init(&w, &b);
    jw_run_write(&w, &f.p);
    assert_non_null(strstr(b.data, "\"job_version_id\":\"j-1\""));
    jw_buf_reset(&b);
    assert_int_equal(jw_run_fields_unpack(&f, PACKED("id\0r-1\0job_id\0j-1\0job_version_id\0v-2")), 0);
    jw_jsonw_init(&w, &b);
    jw_run_write(&w, &f.p);
    assert_non_null(strstr(b.data, "\"job_version_id\":\"v-2\""));
    assert_non_null(strstr(b.data, "\"job_id\":\"j-1\""));
    jw_buf_free(&b);
}

static void test_team_statuses(void **state)
{
    (void)state;
    static const char *const map[][2] = {
        {"pending", "pending"},  {"delayed", "pending"},  {"waiting", "pending"},     {"running", "running"},
        {"completed", "completed"}, {"failed", "failed"}, {"timed_out", "failed"}, {"crashed", "failed"},
        {"expired", "failed"},   {"cancelled", "cancelled"}, {"skipped", "cancelled"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        char *s = team_view(map[i][0]);
        char want[64];
        snprintf(want, sizeof(want), "\"status\":\"%s\"", map[i][1]);
        if (!strstr(s, want))
            fail_msg("%s: expected %s in %s", map[i][0], want, s);
        /* and the filter the other way round names it */
        const char *ours = jw_run_team_statuses(map[i][1]);
        assert_non_null(ours);
        assert_non_null(strstr(ours, map[i][0]));
        free(s);
    }
    assert_string_equal(jw_run_team_statuses("pending"), "pending,delayed,waiting");
    assert_null(jw_run_team_statuses("done"));
    assert_null(jw_run_team_statuses("delayed")); /* ours, not seed 001's */
}

static struct jw_json_doc *parse(const char *json)
{
    char why[128];
    struct jw_json_doc *doc = jw_json_parse(json, strlen(json), 16, why, sizeof(why));
    assert_non_null(doc);
    return doc;
}

static const char *field_of(const struct jw_trigger *t, const char *name)
{
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->fields[i].name, name))
            return t->fields[i].value;
    return NULL;
}

static void test_trigger_fields(void **state)
{
    (void)state;
    struct jw_json_doc *doc =
        parse("{\"payload\": {\"a\": [1, 2]}, \"max_attempts\": 3, \"timeout_secs\": 60, \"delay\": 30, "
              "\"idempotency_key\": \"k-1\", \"metadata\": {\"m\": \"v\"}, \"notify\": true, \"tags\": null}");
    struct jw_trigger t;
    struct jw_error e;
    assert_int_equal(jw_trigger_decode(jw_json_root(doc), "me@example.com", 1000, &t, &e), 0);
    assert_string_equal(field_of(&t, "payload"), "{\"a\":[1,2]}");
    assert_string_equal(field_of(&t, "max_attempts_override"), "3");
    assert_string_equal(field_of(&t, "timeout_secs_override"), "60");
    assert_string_equal(field_of(&t, "metadata"), "{\"m\":\"v\"}");
    assert_string_equal(field_of(&t, "notify"), "1");
    assert_string_equal(field_of(&t, "_notify_to"), "me@example.com");
    assert_null(field_of(&t, "tags")); /* null: as if absent */
    assert_string_equal(t.idem, "k-1");
    assert_int_equal(t.start_ms, 31000);
    char want[65];
    jw_sha256_hex("{\"a\":[1,2]}", 11, want);
    assert_string_equal(t.sha, want);
    jw_trigger_free(&t);
    jw_json_doc_free(doc);

    doc = parse("{\"scheduled_at\": \"2026-01-01T00:00:00Z\"}");
    assert_int_equal(jw_trigger_decode(jw_json_root(doc), NULL, 1000, &t, &e), 0);
    assert_int_equal(t.start_ms, INT64_C(1767225600000));
    assert_int_equal(t.n, 0);
    assert_string_equal(t.idem, "");
    jw_sha256_hex("null", 4, want);
    assert_string_equal(t.sha, want);
    jw_trigger_free(&t);
    jw_json_doc_free(doc);
}

static void test_trigger_refused(void **state)
{
    (void)state;
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"[]", ""},
        {"{\"priority\": 1001}", "priority"},
        {"{\"delay\": -1}", "delay"},
        {"{\"scheduled_at\": \"tomorrow\"}", "scheduled_at"},
        {"{\"idempotency_key\": \"\"}", "idempotency_key"},
        {"{\"concurrency_key\": \"a\\nb\"}", "concurrency_key"},
        {"{\"max_attempts\": 0}", "max_attempts"},
        {"{\"timeout_secs\": 1.5}", "timeout_secs"},
        {"{\"retry_backoff\": \"random\"}", "retry_backoff"},
        {"{\"notify\": \"yes\"}", "notify"},
        {"{\"parent_run_id\": \"r-1\"}", "parent_run_id"},
        {"{\"metadata\": {\"k\": 1}}", "metadata"},
        {"{\"params\": [1]}", "params"},
        {"{\"payload\": 1, \"sneaky\": 2}", "sneaky"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct jw_json_doc *doc = parse(bad[i].json);
        struct jw_trigger t;
        struct jw_error e;
        memset(&e, 0, sizeof(e));
        assert_int_equal(jw_trigger_decode(jw_json_root(doc), NULL, 0, &t, &e), -1);
        assert_int_equal(e.status, 400);
        assert_string_equal(e.field, bad[i].field);
        assert_int_equal(t.n, 0);
        jw_trigger_free(&t);
        jw_json_doc_free(doc);
    }
}

static void test_progress(void **state)
{
    (void)state;
    struct jw_json_doc *doc = parse("{\"processed\": 5, \"message\": \"half\"}");
    struct jw_buf out = JW_BUF_INIT;
    struct jw_error e;
    assert_int_equal(jw_progress_decode(jw_json_root(doc), &out, &e), 0);
    assert_string_equal(jw_buf_str(&out), "{\"processed\":5,\"total\":null,\"message\":\"half\"}");
    jw_buf_free(&out);
    jw_json_doc_free(doc);
    doc = parse("{\"total\": -1}");
    assert_int_equal(jw_progress_decode(jw_json_root(doc), &out, &e), -1);
    assert_string_equal(e.field, "total");
    jw_buf_free(&out);
    jw_json_doc_free(doc);
    doc = parse("{\"message\": 7}");
    assert_int_equal(jw_progress_decode(jw_json_root(doc), &out, &e), -1);
    assert_string_equal(e.field, "message");
    jw_buf_free(&out);
    jw_json_doc_free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_team_view_fields_in_order),
        cmocka_unit_test(test_team_statuses),
        cmocka_unit_test(test_packed_fields),
        cmocka_unit_test(test_job_version_id_defaults_to_the_job),
        cmocka_unit_test(test_trigger_fields),
        cmocka_unit_test(test_trigger_refused),
        cmocka_unit_test(test_progress),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
