/* Unit tests for the run model's JSON views (src/model/run.c): the native
 * run and seed 001's job_run, with its five statuses over ours. */
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_team_view_fields_in_order),
        cmocka_unit_test(test_team_statuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
