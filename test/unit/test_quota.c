/* Unit tests for the quota settings a super_admin sends (src/model/quota.c):
 * known names only, whole numbers in range, null for the default, absent
 * kept (PATCH) or reset (PUT). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/quota.h"

static int settings(const char *json, bool replace, int64_t out[JW_QUOTA_COUNT], struct jw_error *e)
{
    char why[128];
    struct jw_json_doc *doc = jw_json_parse(json, strlen(json), 8, why, sizeof(why));
    assert_non_null(doc);
    int rc = jw_quota_settings(jw_json_root(doc), replace, out, e);
    jw_json_doc_free(doc);
    return rc;
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < JW_QUOTA_COUNT; i++)
        assert_int_equal(jw_quota_index(jw_quota_names[i]), i);
    assert_int_equal(jw_quota_index("JOBS"), -1);
    assert_int_equal(jw_quota_index(""), -1);
}

static void test_patch_and_put(void **state)
{
    (void)state;
    int64_t q[JW_QUOTA_COUNT];
    struct jw_error e;
    assert_int_equal(settings("{\"jobs\": 10, \"inflight\": null, \"run_history\": 0}", false, q, &e), 0);
    assert_int_equal(q[JW_QUOTA_JOBS], 10);
    assert_int_equal(q[JW_QUOTA_INFLIGHT], JW_QUOTA_DEFAULT);
    assert_int_equal(q[JW_QUOTA_RUN_HISTORY], 0);
    assert_int_equal(q[JW_QUOTA_SCHEDULES], JW_QUOTA_KEEP);
    assert_int_equal(q[JW_QUOTA_RUNS_PER_MINUTE], JW_QUOTA_KEEP);
    assert_int_equal(settings("{\"schedules\": 1000000000000}", true, q, &e), 0);
    assert_int_equal(q[JW_QUOTA_SCHEDULES], JW_QUOTA_MAX);
    assert_int_equal(q[JW_QUOTA_JOBS], JW_QUOTA_DEFAULT);
    assert_int_equal(settings("{}", false, q, &e), 0);
    for (int i = 0; i < JW_QUOTA_COUNT; i++)
        assert_int_equal(q[i], JW_QUOTA_KEEP);
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *json, *field;
    } bad[] = {
        {"{\"jobz\": 1}", "jobz"},
        {"{\"jobs\": -1}", "jobs"},
        {"{\"jobs\": 1.5}", "jobs"},
        {"{\"jobs\": \"5\"}", "jobs"},
        {"{\"jobs\": true}", "jobs"},
        {"{\"jobs\": 1000000000001}", "jobs"},
        {"{\"inflight\": 99999999999999999999999}", "inflight"},
        {"[]", ""},
        {"5", ""},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t q[JW_QUOTA_COUNT];
        struct jw_error e;
        memset(&e, 0, sizeof(e));
        assert_int_equal(settings(bad[i].json, false, q, &e), -1);
        assert_int_equal(e.status, 400);
        assert_string_equal(e.field, bad[i].field);
        assert_true(e.detail[0] != '\0');
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_patch_and_put),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
