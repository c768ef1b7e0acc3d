/* Unit tests for workflow validation and dependency conditions (src/model/workflow.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/buf.h"
#include "jobwheel/json.h"
#include "jobwheel/workflow.h"

/* jw_workflow_check on text: 0, or -1 with err filled. */
static int check(const char *text, struct jw_error *err)
{
    char perr[256];
    struct jw_json_doc *doc = jw_json_parse(text, strlen(text), 32, perr, sizeof(perr));
    if (!doc)
        fail_msg("test JSON does not parse (%s): %s", perr, text);
    memset(err, 0, sizeof(*err));
    int rc = jw_workflow_check(jw_json_root(doc), err);
    jw_json_doc_free(doc);
    return rc;
}

static void test_accepted(void **state)
{
    (void)state;
    static const char *const ok[] = {
        "{\"name\":\"one\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\"}]}",
        "{\"name\":\"etl\",\"description\":null,\"steps\":["
        "{\"key\":\"extract\",\"job_id\":\"e\",\"depends_on\":null,\"condition\":null},"
        "{\"key\":\"t-1\",\"job_id\":\"t\",\"depends_on\":[\"extract\"],\"condition\":\"success\"},"
        "{\"key\":\"T_2\",\"job_id\":\"t\",\"depends_on\":[\"extract\"]},"
        "{\"key\":\"load\",\"job_id\":\"l\",\"depends_on\":[\"T_2\",\"t-1\"],\"condition\":\"any_succeeded\"}"
        "]}",
        /* a prerequisite may come later in the list */
        "{\"name\":\"x\",\"steps\":[{\"key\":\"b\",\"job_id\":\"j\",\"depends_on\":[\"a\"]},"
        "{\"key\":\"a\",\"job_id\":\"j\"}]}",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct jw_error err;
        if (check(ok[i], &err) != 0)
            fail_msg("refused (%s: %s): %s", err.field, err.detail, ok[i]);
    }
}

static void test_refused(void **state)
{
    (void)state;
    static const struct {
        const char *text, *field;
    } bad[] = {
        {"[]", ""},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\"}],\"extra\":1}", "extra"},
        {"{\"steps\":[{\"key\":\"a\",\"job_id\":\"j\"}]}", "name"},
        {"{\"name\":\"a\\nb\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\"}]}", "name"},
        {"{\"name\":\"x\",\"description\":5,\"steps\":[{\"key\":\"a\",\"job_id\":\"j\"}]}", "description"},
        {"{\"name\":\"x\",\"steps\":[]}", "steps"},
        {"{\"name\":\"x\",\"steps\":{}}", "steps"},
        {"{\"name\":\"x\",\"steps\":[1]}", "steps[0]"},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a b\",\"job_id\":\"j\"}]}", "steps[0].key"},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\",\"x\":1}]}", "steps[0].x"},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\"},{\"key\":\"a\",\"job_id\":\"j\"}]}",
         "steps[1].key"},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a\"}]}", "steps[0].job_id"},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\",\"condition\":\"Sometimes\"}]}",
         "steps[0].condition"},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\",\"depends_on\":\"b\"}]}",
         "steps[0].depends_on"},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\",\"depends_on\":[\"nope\"]}]}",
         "steps[0].depends_on"},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\",\"depends_on\":[\"a\"]}]}",
         "steps[0].depends_on"},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\"},"
         "{\"key\":\"b\",\"job_id\":\"j\",\"depends_on\":[\"a\",\"a\"]}]}",
         "steps[1].depends_on"},
        {"{\"name\":\"x\",\"steps\":[{\"key\":\"a\",\"job_id\":\"j\",\"depends_on\":[\"c\"]},"
         "{\"key\":\"b\",\"job_id\":\"j\",\"depends_on\":[\"a\"]},{\"key\":\"c\",\"job_id\":\"j\",\"depends_"
         "on\":[\"b\"]}]}",
         "steps"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct jw_error err;
        if (check(bad[i].text, &err) == 0)
            fail_msg("accepted: %s", bad[i].text);
        if (err.status != 400 || strcmp(err.field, bad[i].field) != 0 || !err.detail[0])
            fail_msg("%s: %d \"%s\" (%s), want 400 \"%s\"", bad[i].text, err.status, err.field, err.detail,
                     bad[i].field);
    }
}

static void test_step_limit(void **state)
{
    (void)state;
    for (int n = JW_WORKFLOW_STEPS_MAX; n <= JW_WORKFLOW_STEPS_MAX + 1; n++) {
        /* a chain: each step depends on the one before */
        struct jw_buf b = JW_BUF_INIT;
        jw_buf_puts(&b, "{\"name\":\"chain\",\"steps\":[");
        for (int i = 0; i < n; i++) {
            jw_buf_printf(&b, "%s{\"key\":\"s%d\",\"job_id\":\"j\"", i ? "," : "", i);
            if (i > 0)
                jw_buf_printf(&b, ",\"depends_on\":[\"s%d\"]", i - 1);
            jw_buf_putc(&b, '}');
        }
        jw_buf_puts(&b, "]}");
        struct jw_error err;
        int rc = check(b.data, &err);
        jw_buf_free(&b);
        if (n == JW_WORKFLOW_STEPS_MAX)
            assert_int_equal(rc, 0);
        else
            assert_string_equal(err.field, "steps");
    }
}

static void test_conditions(void **state)
{
    (void)state;
    assert_string_equal(jw_dep_condition("AllSucceeded"), "AllSucceeded");
    assert_string_equal(jw_dep_condition("success"), "AllSucceeded");
    assert_string_equal(jw_dep_condition("any_success"), "AnySucceeded");
    assert_null(jw_dep_condition("allsucceeded"));
    assert_null(jw_dep_condition(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_step_limit),
        cmocka_unit_test(test_conditions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
