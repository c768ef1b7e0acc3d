/* test_cron: unit tests of the cron module: the hand-written golden table
 * (cron_golden.h), parse errors, and properties of jw_cron_next over time. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "cron_golden.h"
#include "jobwheel/cron.h"
#include "jobwheel/tz.h"

#include "tz_fixture.h"

/* ---- ISO-8601 helpers (test-only arithmetic) ---- */

static int64_t test_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.mmm]Z" -> epoch ms; "none" -> -1. */
static int64_t iso_ms(const char *s)
{
    int y, mo, d, h, mi, sec, ms = 0, n = 0;
    if (strcmp(s, "none") == 0)
        return -1;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        fail_msg("bad ISO time in test: %s", s);
    if (s[n] == '.') {
        if (sscanf(s + n + 1, "%3d", &ms) != 1)
            fail_msg("bad ISO time in test: %s", s);
        n += 4;
    }
    if (strcmp(s + n, "Z") != 0)
        fail_msg("bad ISO time in test: %s", s);
    return (test_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) * 1000 + ms;
}

static void ms_iso(int64_t ms, char *buf, size_t len)
{
    if (ms < 0) {
        snprintf(buf, len, "none");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, len, "?%lld", (long long)ms);
}

static const struct jw_tz *zone(const char *name)
{
    if (!name)
        return NULL;
    const struct jw_tz *tz = jw_tz_get(name);
    if (!tz)
        fail_msg("zone %s is not loaded", name);
    return tz;
}

static struct jw_cron *parse_ok(const char *expr)
{
    char err[256];
    struct jw_cron *c = jw_cron_parse(expr, err, sizeof(err));
    if (!c)
        fail_msg("parse of \"%s\" failed: %s", expr, err);
    return c;
}

/* ---- the golden table ---- */

static void test_golden(void **state)
{
    (void)state;
    size_t n = sizeof(golden_cases) / sizeof(golden_cases[0]);
    size_t failures = 0, checks = 0;
    for (size_t i = 0; i < n; i++) {
        const struct golden_case *g = &golden_cases[i];
        char err[256];
        struct jw_cron *c = jw_cron_parse(g->expr, err, sizeof(err));
        if (!c) {
            print_error("case %zu \"%s\": parse failed: %s\n", i, g->expr, err);
            failures++;
            continue;
        }
        const struct jw_tz *tz = zone(g->zone);
        int64_t t = iso_ms(g->from);
        for (int k = 0; k < 3 && g->next[k]; k++) {
            int64_t want = iso_ms(g->next[k]);
            int64_t got = jw_cron_next(c, tz, t);
            checks++;
            if (got != want) {
                char gs[40];
                ms_iso(got, gs, sizeof(gs));
                print_error("case %zu \"%s\" in %s after %s (step %d): want %s, got %s\n", i, g->expr,
                            g->zone ? g->zone : "NULL", g->from, k + 1, g->next[k], gs);
                failures++;
                break;
            }
            if (got < 0)
                break;
            t = got;
        }
        jw_cron_free(c);
    }
    print_message("golden: %zu cases, %zu firings checked, %zu failures\n", n, checks, failures);
    assert_true(n >= 300);
    assert_int_equal(failures, 0);
}

static void test_golden_errors(void **state)
{
    (void)state;
    size_t n = sizeof(golden_errors) / sizeof(golden_errors[0]);
    size_t failures = 0;
    for (size_t i = 0; i < n; i++) {
        char err[256] = "untouched";
        struct jw_cron *c = jw_cron_parse(golden_errors[i].expr, err, sizeof(err));
        if (c) {
            print_error("error case \"%s\" was accepted\n", golden_errors[i].expr);
            jw_cron_free(c);
            failures++;
        } else if (!strstr(err, golden_errors[i].message)) {
            print_error("error case \"%s\": want \"%s\" in \"%s\"\n", golden_errors[i].expr,
                        golden_errors[i].message, err);
            failures++;
        }
    }
    print_message("errors: %zu invalid expressions, %zu failures\n", n, failures);
    assert_true(n >= 40);
    assert_int_equal(failures, 0);
}

/* ---- parsing details ---- */

static void test_has_seconds(void **state)
{
    (void)state;
    struct jw_cron *c5 = parse_ok("0 0 * * *");
    struct jw_cron *c6 = parse_ok("0 0 0 * * *");
    struct jw_cron *cm = parse_ok("@hourly");
    assert_false(jw_cron_has_seconds(c5));
    assert_true(jw_cron_has_seconds(c6));
    assert_false(jw_cron_has_seconds(cm));
    assert_false(jw_cron_has_seconds(NULL));
    jw_cron_free(c5);
    jw_cron_free(c6);
    jw_cron_free(cm);
    jw_cron_free(NULL);
}

static void test_error_buffers(void **state)
{
    (void)state;
    char small[8];
    memset(small, 'x', sizeof(small));
    assert_null(jw_cron_parse("* * 32 * *", small, sizeof(small)));
    assert_int_equal(strlen(small), sizeof(small) - 1); /* truncated, terminated */
    assert_null(jw_cron_parse("* * 32 * *", NULL, 0));
    assert_null(jw_cron_parse(NULL, NULL, 0));

    char big[2048];
    memset(big, ' ', sizeof(big));
    memcpy(big, "* * * * *", 9);
    big[sizeof(big) - 1] = '\0';
    char err[256];
    assert_null(jw_cron_parse(big, err, sizeof(err)));
    assert_non_null(strstr(err, "too long"));

    /* a successful parse leaves err empty */
    strcpy(err, "stale");
    struct jw_cron *c = jw_cron_parse("* * * * *", err, sizeof(err));
    assert_non_null(c);
    assert_string_equal(err, "");
    jw_cron_free(c);
}

/* Equivalent spellings give identical firings. */
static void test_equivalent_spellings(void **state)
{
    (void)state;
    static const char *const groups[][4] = {
        {"0 0 * * 0", "0 0 * * 7", "0 0 * * SUN", "@weekly"},
        {"0 0 1 1 *", "@yearly", "@annually", "0 0 0 1 JAN *"},
        {"0 0 * * *", "@daily", "@midnight", "0 0 ? * *"},
        {"0 * * * *", "@hourly", "0 0 * * * *", "0 */1 * * *"},
        {"0 0 * * 1-5", "0 0 * * MON-FRI", "0 0 * * 1,2,3,4,5", "0 0 ? * mon-FRI"},
        {"*/15 * * * *", "0,15,30,45 * * * *", "0-59/15 * * * *", "0/15 * * * *"},
        {"0 0 * * 5L", "0 0 * * 5#L", "0 0 * * FRIL", "0 0 * * fri#l"},
    };
    const char *zones[] = {NULL, "Europe/Berlin", "Australia/Lord_Howe"};
    for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++) {
        for (size_t z = 0; z < 3; z++) {
            /* start just before the 2025 Berlin spring change */
            int64_t ref = iso_ms("2025-03-29T00:00:00Z");
            struct jw_cron *a = parse_ok(groups[g][0]);
            for (int k = 1; k < 4; k++) {
                struct jw_cron *b = parse_ok(groups[g][k]);
                int64_t ta = ref, tb = ref;
                for (int i = 0; i < 50; i++) {
                    ta = jw_cron_next(a, zone(zones[z]), ta);
                    tb = jw_cron_next(b, zone(zones[z]), tb);
                    assert_int_equal(ta, tb);
                }
                jw_cron_free(b);
            }
            jw_cron_free(a);
        }
    }
}

/* ---- properties of jw_cron_next ---- */

static void test_null_zone_is_utc(void **state)
{
    (void)state;
    const char *exprs[] = {"*/7 3 * * 1", "0 0 L * *", "0 30 2 * * 0#2", "@monthly"};
    for (size_t i = 0; i < 4; i++) {
        struct jw_cron *c = parse_ok(exprs[i]);
        int64_t a = iso_ms("2025-01-01T00:00:00Z"), b = a;
        for (int k = 0; k < 100; k++) {
            a = jw_cron_next(c, NULL, a);
            b = jw_cron_next(c, zone("UTC"), b);
            assert_int_equal(a, b);
        }
        jw_cron_free(c);
    }
    assert_int_equal(jw_cron_next(NULL, NULL, 0), -1);
}

/* Firings strictly increase, on whole seconds, and stop before 2200. */
static void test_monotonic_sweep(void **state)
{
    (void)state;
    const char *exprs[] = {"*/15 * * * *",   "0 * * * *",       "30 * * * *", "30 2 * * *", "0 1-3 * * *",
                           "0,30 1,2 * * *", "*/10 30 1 * * *", "0 0 L * *",  "0 0 29 2 *", "15 2 * * 0"};
    const char *zones[] = {"America/New_York",    "Europe/London", "Europe/Berlin",
                           "Australia/Lord_Howe", "Asia/Kolkata",  NULL};
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        struct jw_cron *c = parse_ok(exprs[i]);
        for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
            int64_t t = iso_ms("2024-12-01T00:00:00Z");
            for (int k = 0; k < 3000; k++) {
                int64_t n = jw_cron_next(c, zone(zones[z]), t);
                if (n < 0)
                    break;
                assert_true(n > t);
                assert_int_equal(n % 1000, 0);
                assert_true(n < iso_ms("2200-01-01T00:00:00Z"));
                t = n;
            }
        }
        jw_cron_free(c);
    }
}

/* A wildcard pattern follows real time: "* * * * *" fires every 60 s straight
 * through every transition, and "0 * * * *" every 3600 s in whole-hour zones. */
static void test_wildcard_real_time(void **state)
{
    (void)state;
    static const struct {
        const char *zone;
        const char *from;
    } spots[] = {
        {"America/New_York", "2025-03-09T04:00:00Z"},    {"America/New_York", "2025-11-02T03:00:00Z"},
        {"Europe/London", "2025-03-29T22:00:00Z"},       {"Europe/Berlin", "2025-10-25T22:00:00Z"},
        {"Australia/Lord_Howe", "2025-04-05T12:00:00Z"}, {"Australia/Lord_Howe", "2025-10-04T12:00:00Z"},
    };
    struct jw_cron *every_min = parse_ok("* * * * *");
    struct jw_cron *hourly = parse_ok("0 * * * *");
    for (size_t s = 0; s < sizeof(spots) / sizeof(spots[0]); s++) {
        const struct jw_tz *tz = zone(spots[s].zone);
        int64_t t = iso_ms(spots[s].from);
        for (int k = 0; k < 8 * 60; k++) {
            int64_t n = jw_cron_next(every_min, tz, t);
            assert_int_equal(n - t, 60000);
            t = n;
        }
        if (strcmp(spots[s].zone, "Australia/Lord_Howe") == 0)
            continue;
        t = iso_ms(spots[s].from);
        for (int k = 0; k < 8; k++) {
            int64_t n = jw_cron_next(hourly, tz, t);
            assert_int_equal(n - t, 3600000);
            t = n;
        }
    }
    jw_cron_free(every_min);
    jw_cron_free(hourly);
}

/* A fixed-time daily job fires exactly once on every local day of a year,
 * including the day with the gap and the day with the overlap. */
static void test_fixed_time_once_a_day(void **state)
{
    (void)state;
    const char *exprs[] = {"30 2 * * *", "30 1 * * *", "15 2 * * *", "45 1 * * *", "0 0 * * *"};
    const char *zones[] = {"America/New_York", "Europe/London", "Europe/Berlin", "Australia/Lord_Howe",
                           "Asia/Kolkata"};
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        struct jw_cron *c = parse_ok(exprs[i]);
        for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
            const struct jw_tz *tz = zone(zones[z]);
            /* just before local midnight of 2025-01-01, up to that of 2026 */
            int64_t from = iso_ms("2025-01-01T00:00:00Z") - jw_tz_offset_at(tz, 1735689600) * 1000LL - 1;
            int64_t to = iso_ms("2026-01-01T00:00:00Z") - jw_tz_offset_at(tz, 1767225600) * 1000LL;
            int count = 0;
            int64_t t = from;
            while ((t = jw_cron_next(c, tz, t)) < to && t >= 0)
                count++;
            if (count != 365)
                fail_msg("%s in %s fired %d times in 2025", exprs[i], zones[z], count);
        }
        jw_cron_free(c);
    }
}

/* Skipping by field: rare expressions are answered in microseconds. */
static void test_speed(void **state)
{
    (void)state;
    const char *exprs[] = {"0 0 29 2 *", "0 0 * 2 5#5", "59 59 23 31 12 *", "0 0 L-28 2 *"};
    const struct jw_tz *ny = zone("America/New_York");
    int64_t from = iso_ms("2025-01-01T00:00:00Z");
    for (size_t i = 0; i < sizeof(exprs) / sizeof(exprs[0]); i++) {
        struct jw_cron *c = parse_ok(exprs[i]);
        struct timespec a, b;
        int64_t sink = 0;
        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &a), 0);
        for (int k = 0; k < 2000; k++)
            sink += jw_cron_next(c, ny, from + k);
        assert_int_equal(clock_gettime(CLOCK_MONOTONIC, &b), 0);
        double us = ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / 1e3 / 2000;
        print_message("speed: \"%s\" in America/New_York: %.2f us per call\n", exprs[i], us);
        assert_true(sink > 0);
        /* generous for sanitizer and valgrind builds; typical is ~1-10 us */
        assert_true(us < 2000.0);
        jw_cron_free(c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_golden_errors),
        cmocka_unit_test(test_has_seconds),
        cmocka_unit_test(test_error_buffers),
        cmocka_unit_test(test_equivalent_spellings),
        cmocka_unit_test(test_null_zone_is_utc),
        cmocka_unit_test(test_monotonic_sweep),
        cmocka_unit_test(test_wildcard_real_time),
        cmocka_unit_test(test_fixed_time_once_a_day),
        cmocka_unit_test(test_speed),
    };
    return cmocka_run_group_tests(tests, tz_setup, tz_teardown);
}
