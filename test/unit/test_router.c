/* Unit tests for the path router (src/http/router.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/router.h"

/* Route identities: the router hands back these addresses. */
static const char R_ROOT[] = "root";
static const char R_JOBS[] = "jobs";
static const char R_BATCH[] = "batch";
static const char R_JOB[] = "job";
static const char R_VERSION[] = "version";
static const char R_TRIGGER[] = "trigger";
static const char R_TEAM_JOBS[] = "team_jobs";
static const char R_HEALTH[] = "health";

static struct jw_router *table(void)
{
    struct jw_router *r = jw_router_new();
    jw_router_add(r, JW_GET, "/", R_ROOT);
    jw_router_add(r, JW_GET | JW_POST, "/v1/jobs", R_JOBS);
    /* the parameter route first: the literal must still win */
    jw_router_add(r, JW_GET | JW_PATCH | JW_DELETE, "/v1/jobs/:id", R_JOB);
    jw_router_add(r, JW_POST, "/v1/jobs/batch", R_BATCH);
    jw_router_add(r, JW_GET, "/v1/jobs/:id/versions/:version_id", R_VERSION);
    jw_router_add(r, JW_POST, "/v1/jobs/:id/trigger", R_TRIGGER);
    jw_router_add(r, JW_GET | JW_POST, "/v1/teams/:teamId/jobs", R_TEAM_JOBS);
    jw_router_add(r, JW_GET, "healthz", R_HEALTH); /* leading slash optional in patterns */
    return r;
}

static int setup(void **state)
{
    *state = table();
    return 0;
}

static int teardown(void **state)
{
    jw_router_free(*state);
    return 0;
}

/* Match and expect a route; returns the match (caller frees). */
static struct jw_route_match expect_route(const struct jw_router *r, enum jw_method m, const char *path,
                                          const void *want)
{
    struct jw_route_match match;
    int rc = jw_router_match(r, m, path, &match);
    if (rc != 0)
        fail_msg("%s %s: got %d, want a match", jw_method_name(m), path, rc);
    if (match.data != want) {
        jw_route_match_free(&match);
        fail_msg("%s %s: matched the wrong route", jw_method_name(m), path);
    }
    return match;
}

static void expect_status(const struct jw_router *r, enum jw_method m, const char *path, int want,
                          unsigned allowed)
{
    struct jw_route_match match;
    int rc = jw_router_match(r, m, path, &match);
    if (rc == 0)
        jw_route_match_free(&match);
    if (rc != want)
        fail_msg("%s %s: got %d, want %d", jw_method_name(m), path, rc, want);
    if (want == 405 && match.allowed != allowed)
        fail_msg("%s %s: allowed 0x%x, want 0x%x", jw_method_name(m), path, match.allowed, allowed);
}

static void test_params(void **state)
{
    const struct jw_router *r = *state;
    struct jw_route_match m = expect_route(r, JW_GET, "/v1/jobs/abc/versions/def", R_VERSION);
    assert_int_equal(m.nparams, 2);
    assert_string_equal(m.names[0], "id");
    assert_string_equal(m.values[0], "abc");
    assert_string_equal(m.names[1], "version_id");
    assert_string_equal(m.values[1], "def");
    assert_string_equal(jw_route_param(&m, "id"), "abc");
    assert_string_equal(jw_route_param(&m, "version_id"), "def");
    assert_null(jw_route_param(&m, "ID"));
    assert_null(jw_route_param(&m, "missing"));
    jw_route_match_free(&m);
    assert_int_equal(m.nparams, 0);

    m = expect_route(r, JW_GET, "/v1/teams/5f0c6f7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f/jobs", R_TEAM_JOBS);
    assert_string_equal(jw_route_param(&m, "teamId"), "5f0c6f7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f");
    jw_route_match_free(&m);

    m = expect_route(r, JW_POST, "/v1/jobs/j-1/trigger", R_TRIGGER);
    assert_int_equal(m.nparams, 1);
    assert_string_equal(jw_route_param(&m, "id"), "j-1");
    jw_route_match_free(&m);

    m = expect_route(r, JW_GET, "/v1/jobs", R_JOBS);
    assert_int_equal(m.nparams, 0);
    jw_route_match_free(&m);

    m = expect_route(r, JW_GET, "/", R_ROOT);
    jw_route_match_free(&m);
    m = expect_route(r, JW_GET, "/healthz", R_HEALTH);
    jw_route_match_free(&m);
}

static void test_literal_beats_parameter(void **state)
{
    const struct jw_router *r = *state;
    struct jw_route_match m = expect_route(r, JW_POST, "/v1/jobs/batch", R_BATCH);
    assert_int_equal(m.nparams, 0);
    assert_null(jw_route_param(&m, "id"));
    jw_route_match_free(&m);
    /* another id still goes to the parameter route */
    m = expect_route(r, JW_GET, "/v1/jobs/batch2", R_JOB);
    assert_string_equal(jw_route_param(&m, "id"), "batch2");
    jw_route_match_free(&m);
    m = expect_route(r, JW_PATCH, "/v1/jobs/batc", R_JOB);
    jw_route_match_free(&m);

    /* registration order does not matter */
    struct jw_router *r2 = jw_router_new();
    jw_router_add(r2, JW_POST, "/v1/jobs/batch", R_BATCH);
    jw_router_add(r2, JW_POST, "/v1/jobs/:id", R_JOB);
    jw_router_add(r2, JW_POST, "/v1/:kind/:id", R_VERSION);
    m = expect_route(r2, JW_POST, "/v1/jobs/batch", R_BATCH);
    jw_route_match_free(&m);
    m = expect_route(r2, JW_POST, "/v1/jobs/x", R_JOB);
    jw_route_match_free(&m);
    m = expect_route(r2, JW_POST, "/v1/runs/x", R_VERSION);
    assert_string_equal(jw_route_param(&m, "kind"), "runs");
    jw_route_match_free(&m);
    jw_router_free(r2);

    struct jw_router *r3 = jw_router_new();
    jw_router_add(r3, JW_POST, "/v1/:kind/:id", R_VERSION);
    jw_router_add(r3, JW_POST, "/v1/jobs/:id", R_JOB);
    jw_router_add(r3, JW_POST, "/v1/jobs/batch", R_BATCH);
    m = expect_route(r3, JW_POST, "/v1/jobs/batch", R_BATCH);
    jw_route_match_free(&m);
    m = expect_route(r3, JW_POST, "/v1/jobs/x", R_JOB);
    jw_route_match_free(&m);
    jw_router_free(r3);
}

static void test_method_not_allowed(void **state)
{
    const struct jw_router *r = *state;
    expect_status(r, JW_PUT, "/v1/jobs/abc", 405, JW_GET | JW_PATCH | JW_DELETE | JW_HEAD);
    expect_status(r, JW_POST, "/v1/jobs/abc", 405, JW_GET | JW_PATCH | JW_DELETE | JW_HEAD);
    expect_status(r, JW_DELETE, "/v1/jobs", 405, JW_GET | JW_POST | JW_HEAD);
    expect_status(r, JW_GET, "/v1/jobs/abc/trigger", 405, JW_POST);
    expect_status(r, JW_HEAD, "/v1/jobs/abc/trigger", 405, JW_POST);
    expect_status(r, JW_OPTIONS, "/v1/jobs", 405, JW_GET | JW_POST | JW_HEAD);
    /* every pattern the path matches contributes its methods */
    expect_status(r, JW_PUT, "/v1/jobs/batch", 405, JW_POST | JW_GET | JW_PATCH | JW_DELETE | JW_HEAD);
    /* a successful match also reports what the path allows */
    struct jw_route_match m = expect_route(r, JW_GET, "/v1/jobs", R_JOBS);
    assert_int_equal(m.allowed, JW_GET | JW_POST | JW_HEAD);
    jw_route_match_free(&m);
}

static void test_head_matches_get(void **state)
{
    const struct jw_router *r = *state;
    struct jw_route_match m = expect_route(r, JW_HEAD, "/v1/jobs/x", R_JOB);
    assert_string_equal(jw_route_param(&m, "id"), "x");
    jw_route_match_free(&m);
    m = expect_route(r, JW_HEAD, "/v1/jobs/a/versions/b", R_VERSION);
    jw_route_match_free(&m);
    m = expect_route(r, JW_HEAD, "/", R_ROOT);
    jw_route_match_free(&m);
    expect_status(r, JW_HEAD, "/nope", 404, 0);
}

/* A route registered for HEAD itself must answer HEAD: a 405 whose Allow
 * list contains HEAD contradicts itself. */
static void test_explicit_head_route(void **state)
{
    (void)state;
    struct jw_router *r = jw_router_new();
    jw_router_add(r, JW_HEAD, "/probe", R_HEALTH);
    struct jw_route_match m;
    int rc = jw_router_match(r, JW_HEAD, "/probe", &m);
    if (rc == 0)
        jw_route_match_free(&m);
    jw_router_free(r);
    if (rc != 0)
        fail_msg("HEAD /probe on a HEAD route: got %d (allowed 0x%x), want a match", rc, m.allowed);
    assert_ptr_equal(m.data, R_HEALTH);
}

static void test_trailing_slash_and_empty_segments(void **state)
{
    const struct jw_router *r = *state;
    struct jw_route_match m = expect_route(r, JW_GET, "/v1/jobs/", R_JOBS);
    jw_route_match_free(&m);
    m = expect_route(r, JW_GET, "/v1/jobs/abc/", R_JOB);
    assert_string_equal(jw_route_param(&m, "id"), "abc");
    jw_route_match_free(&m);
    m = expect_route(r, JW_POST, "/v1/jobs/batch/", R_BATCH);
    jw_route_match_free(&m);

    static const char *const bad[] = {
        "//v1/jobs", "/v1//jobs", "/v1/jobs//", "/v1/jobs//abc", "//", "///", "/v1/jobs///",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_status(r, JW_GET, bad[i], 404, 0);
}

static void test_malformed_paths(void **state)
{
    const struct jw_router *r = *state;
    static const char *const bad[] = {
        "",        /* not a path */
        "v1/jobs", /* relative */
        "*",
        "/v1/jobs/%zz", /* bad escapes */
        "/v1/jobs/%4",
        "/v1/jobs/%",
        "/v1/jobs/a%2",
        "/v1/jobs/%g0",
        "/v1/jobs/%%41",
        "/v1/jobs/%00", /* NUL */
        "/v1/jobs/a%00b",
        "/v1/jobs/%C3%28",       /* invalid UTF-8 */
        "/v1/jobs/%C0%AF",       /* overlong '/' */
        "/v1/jobs/%ED%A0%80",    /* surrogate */
        "/v1/jobs/%F4%90%80%80", /* > U+10FFFF */
        "/v1/jobs/%FF",
        "/v1/jobs/\xff", /* raw bytes are checked too */
        "/v1/jobs/\xC3",
        "/v1/%zz/x", /* in a literal position */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_status(r, JW_GET, bad[i], 404, 0);
    /* unknown paths */
    expect_status(r, JW_GET, "/v2/jobs", 404, 0);
    expect_status(r, JW_GET, "/V1/jobs", 404, 0);
    expect_status(r, JW_GET, "/v1/jobs/a/b", 404, 0);
    expect_status(r, JW_GET, "/v1/jobs/a/versions", 404, 0);
    expect_status(r, JW_GET, "/v1", 404, 0);
    /* deeper than any route can be */
    expect_status(r, JW_GET, "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p", 404, 0);
}

static void test_decoded_params(void **state)
{
    const struct jw_router *r = *state;
    static const struct {
        const char *path;
        const char *id;
    } cases[] = {
        {"/v1/jobs/a%20b", "a b"},
        {"/v1/jobs/%41%42c", "ABc"},
        {"/v1/jobs/%c3%a9t%C3%A9", "\xC3\xA9t\xC3\xA9"},
        {"/v1/jobs/a%2Fb", "a/b"},
        {"/v1/jobs/a%25b", "a%b"},
        {"/v1/jobs/a+b", "a+b"},
        {"/v1/jobs/%F0%9F%98%80", "\xF0\x9F\x98\x80"},
        {"/v1/jobs/\xC3\xA9", "\xC3\xA9"},
        {"/v1/jobs/%01", "\x01"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct jw_route_match m = expect_route(r, JW_GET, cases[i].path, R_JOB);
        assert_string_equal(jw_route_param(&m, "id"), cases[i].id);
        jw_route_match_free(&m);
    }
    /* literals are compared after decoding */
    struct jw_route_match m = expect_route(r, JW_GET, "/v1/%6Aobs", R_JOBS);
    jw_route_match_free(&m);
    m = expect_route(r, JW_POST, "/v1/jobs/%62atch", R_BATCH);
    jw_route_match_free(&m);
    /* an encoded slash does not split segments */
    expect_status(r, JW_GET, "/v1%2Fjobs", 404, 0);
}

static void test_many_routes_and_params(void **state)
{
    (void)state;
    struct jw_router *r = jw_router_new();
    static int marks[100];
    char pat[64];
    for (int i = 0; i < 100; i++) {
        snprintf(pat, sizeof(pat), "/r%d/:x", i);
        jw_router_add(r, JW_GET, pat, &marks[i]);
    }
    jw_router_add(r, JW_GET, "/p/:a/:b/:c/:d/:e/:f", R_ROOT);
    jw_router_add(r, JW_GET, "/q/:a/:b/:c/:d/:e/:f/:g", R_JOBS);
    for (int i = 0; i < 100; i++) {
        char path[64], want[16];
        snprintf(path, sizeof(path), "/r%d/v%d", i, i);
        snprintf(want, sizeof(want), "v%d", i);
        struct jw_route_match m = expect_route(r, JW_GET, path, &marks[i]);
        assert_string_equal(jw_route_param(&m, "x"), want);
        jw_route_match_free(&m);
    }
    struct jw_route_match m = expect_route(r, JW_GET, "/p/1/2/3/4/5/6", R_ROOT);
    assert_int_equal(m.nparams, JW_ROUTE_MAX_PARAMS);
    assert_string_equal(jw_route_param(&m, "a"), "1");
    assert_string_equal(jw_route_param(&m, "f"), "6");
    jw_route_match_free(&m);
    /* more parameters than a match holds: the first ones are kept, nothing leaks */
    m = expect_route(r, JW_GET, "/q/1/2/3/4/5/6/7", R_JOBS);
    assert_int_equal(m.nparams, JW_ROUTE_MAX_PARAMS);
    assert_string_equal(jw_route_param(&m, "f"), "6");
    assert_null(jw_route_param(&m, "g"));
    jw_route_match_free(&m);
    jw_router_free(r);
    jw_router_free(NULL);
}

static void test_method_names(void **state)
{
    (void)state;
    assert_string_equal(jw_method_name(JW_GET), "GET");
    assert_string_equal(jw_method_name(JW_POST), "POST");
    assert_string_equal(jw_method_name(JW_PUT), "PUT");
    assert_string_equal(jw_method_name(JW_PATCH), "PATCH");
    assert_string_equal(jw_method_name(JW_DELETE), "DELETE");
    assert_string_equal(jw_method_name(JW_HEAD), "HEAD");
    assert_string_equal(jw_method_name(JW_OPTIONS), "OPTIONS");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_literal_beats_parameter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_matches_get, setup, teardown),
        cmocka_unit_test(test_explicit_head_route),
        cmocka_unit_test_setup_teardown(test_trailing_slash_and_empty_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_decoded_params, setup, teardown),
        cmocka_unit_test(test_many_routes_and_params),
        cmocka_unit_test(test_method_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
