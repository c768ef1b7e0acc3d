/* test_schedule: unit tests of the schedule module: each schedule kind,
 * interval anchors, the execution window and exclusions (around DST), every
 * validation error, catch-up after outages, and local time display. Every
 * expected instant is worked out by hand in the comment beside it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "jobwheel/schedule.h"
#include "jobwheel/tz.h"

#include "tz_fixture.h"
#define S 1000
#define MIN (60 * S)
#define HOUR (60 * MIN)
#define DAY (INT64_C(24) * HOUR)

/* ---- helpers ---- */

static int64_t test_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS[.mmm]Z" -> epoch ms. */
static int64_t iso_ms(const char *s)
{
    int y, mo, d, h, mi, sec, ms = 0, n = 0;
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

static struct jw_schedule_spec spec0(void)
{
    struct jw_schedule_spec sp = {
        .cron = NULL,
        .interval_seconds = 0,
        .start_at_ms = -1,
        .run_at_ms = -1,
        .timezone = NULL,
        .window_cron = NULL,
        .exclusions_json = NULL,
        .misfire_policy = NULL,
        .misfire_max_runs = 0,
        .catchup_window_secs = 0,
    };
    return sp;
}

static struct jw_schedule *new_ok(const struct jw_schedule_spec *sp)
{
    struct jw_error err = {0};
    struct jw_schedule *s = jw_schedule_new(sp, &err);
    if (!s)
        fail_msg("jw_schedule_new failed: %s: %s", err.field, err.detail);
    return s;
}

static struct jw_schedule *cron_in(const char *expr, const char *zone)
{
    struct jw_schedule_spec sp = spec0();
    sp.cron = expr;
    sp.timezone = zone;
    return new_ok(&sp);
}

/* A schedule that only carries exclusions / a window (no firings needed). */
static struct jw_schedule *filters(const char *zone, const char *window, const char *exclusions)
{
    struct jw_schedule_spec sp = spec0();
    sp.timezone = zone;
    sp.window_cron = window;
    sp.exclusions_json = exclusions;
    return new_ok(&sp);
}

static void expect_next(const struct jw_schedule *s, const char *after, const char *want)
{
    int64_t got = jw_schedule_next(s, iso_ms(after));
    int64_t w = want ? iso_ms(want) : -1;
    if (got != w)
        fail_msg("next after %s: want %s (%lld), got %lld", after, want ? want : "none", (long long)w,
                 (long long)got);
}

/* want NULL: the firing may run; else the exact reason. */
static void expect_supp(const struct jw_schedule *s, const char *at, const char *want)
{
    char buf[160];
    const char *got = jw_schedule_suppressed(s, iso_ms(at), buf, sizeof(buf));
    if (!want && got)
        fail_msg("at %s: want allowed, got \"%s\"", at, got);
    if (want && (!got || strcmp(got, want) != 0))
        fail_msg("at %s: want \"%s\", got %s%s%s", at, want, got ? "\"" : "", got ? got : "allowed",
                 got ? "\"" : "");
}

static void expect_local(const struct jw_schedule *s, const char *at, const char *want, int32_t want_off)
{
    char out[40];
    int32_t off = 12345;
    jw_schedule_local_time(s, iso_ms(at), out, &off);
    if (strcmp(out, want) != 0 || off != want_off)
        fail_msg("local time of %s: want %s (%d), got %s (%d)", at, want, (int)want_off, out, (int)off);
}

static void expect_error(const struct jw_schedule_spec *sp, const char *field)
{
    struct jw_error err = {0};
    struct jw_schedule *s = jw_schedule_new(sp, &err);
    if (s) {
        jw_schedule_free(s);
        fail_msg("want an error on %s, got a schedule", field);
    }
    if (err.status != 400 || strcmp(err.field, field) != 0)
        fail_msg("want 400 on %s, got %d on \"%s\": %s", field, err.status, err.field, err.detail);
    assert_true(err.detail[0] != '\0');
}

static void expect_exclusions_error(const char *json, const char *field)
{
    struct jw_schedule_spec sp = spec0();
    sp.exclusions_json = json;
    expect_error(&sp, field);
}

/* ---- schedule kinds ---- */

static void test_cron_kind(void **state)
{
    (void)state;
    struct jw_schedule *s = cron_in("0 9 * * *", "America/New_York");
    assert_true(jw_schedule_fires(s));
    assert_string_equal(jw_schedule_timezone(s), "America/New_York");
    /* 09:00 EDT = 13:00Z in July, 09:00 EST = 14:00Z in January */
    expect_next(s, "2025-07-10T12:00:00Z", "2025-07-10T13:00:00Z");
    expect_next(s, "2025-07-10T13:00:00Z", "2025-07-11T13:00:00Z");
    expect_next(s, "2025-01-10T15:00:00Z", "2025-01-11T14:00:00Z");
    /* defaults */
    assert_int_equal(jw_schedule_misfire(s), JW_MISFIRE_FIRE_ONCE);
    assert_int_equal(jw_schedule_misfire_max(s), 100);
    assert_int_equal(jw_schedule_catchup_ms(s), 86400000);
    jw_schedule_free(s);

    /* Vixie: 02:30 does not exist in Berlin on 2025-03-30 (02:00 CET ->
     * 03:00 CEST at 01:00Z): a fixed-time job fires when the gap ends */
    s = cron_in("30 2 * * *", "Europe/Berlin");
    expect_next(s, "2025-03-29T12:00:00Z", "2025-03-30T01:00:00Z");
    expect_next(s, "2025-03-30T01:00:00Z", "2025-03-31T00:30:00Z");
    jw_schedule_free(s);

    s = cron_in("*/10 * * * * *", NULL); /* six fields, UTC by default */
    assert_string_equal(jw_schedule_timezone(s), "UTC");
    expect_next(s, "2025-07-10T12:00:00Z", "2025-07-10T12:00:10Z");
    expect_next(s, "2025-07-10T12:00:09.999Z", "2025-07-10T12:00:10Z");
    jw_schedule_free(s);
}

static void test_interval_kind(void **state)
{
    (void)state;
    struct jw_schedule_spec sp = spec0();
    sp.interval_seconds = 60;
    sp.start_at_ms = iso_ms("2025-01-01T00:00:30Z");
    struct jw_schedule *s = new_ok(&sp);
    assert_true(jw_schedule_fires(s));
    /* the anchor is the first firing, also when it lies in the future */
    expect_next(s, "2024-06-01T00:00:00Z", "2025-01-01T00:00:30Z");
    expect_next(s, "2025-01-01T00:00:29.999Z", "2025-01-01T00:00:30Z");
    expect_next(s, "2025-01-01T00:00:30Z", "2025-01-01T00:01:30Z");
    expect_next(s, "2025-01-01T00:05:00Z", "2025-01-01T00:05:30Z");
    expect_next(s, "2025-01-01T00:05:30Z", "2025-01-01T00:06:30Z");
    jw_schedule_free(s);

    /* far past anchor: hourly at :00:07 since 2000 */
    sp.interval_seconds = 3600;
    sp.start_at_ms = iso_ms("2000-01-01T00:00:07Z");
    s = new_ok(&sp);
    expect_next(s, "2025-07-10T12:34:56Z", "2025-07-10T13:00:07Z");
    expect_next(s, "2025-07-10T13:00:07Z", "2025-07-10T14:00:07Z");
    jw_schedule_free(s);

    /* no anchor: the epoch; intervals are absolute, so a daily interval in
     * New York stays at 00:00Z across the spring-forward day */
    sp.interval_seconds = 86400;
    sp.start_at_ms = -1;
    sp.timezone = "America/New_York";
    s = new_ok(&sp);
    expect_next(s, "2025-07-10T12:00:00Z", "2025-07-11T00:00:00Z");
    expect_next(s, "2025-03-09T00:00:00Z", "2025-03-10T00:00:00Z");
    expect_next(s, "1969-12-31T00:00:00Z", "1970-01-01T00:00:00Z");
    jw_schedule_free(s);

    /* the largest interval: a year of 365 days */
    sp.interval_seconds = 31536000;
    sp.timezone = NULL;
    s = new_ok(&sp);
    expect_next(s, "1970-06-01T00:00:00Z", "1971-01-01T00:00:00Z");
    jw_schedule_free(s);
}

static void test_one_time_kind(void **state)
{
    (void)state;
    struct jw_schedule_spec sp = spec0();
    sp.run_at_ms = iso_ms("2025-07-10T12:00:00.250Z");
    sp.timezone = "Asia/Kolkata"; /* does not move the instant */
    struct jw_schedule *s = new_ok(&sp);
    assert_true(jw_schedule_fires(s));
    expect_next(s, "2025-07-10T12:00:00.249Z", "2025-07-10T12:00:00.250Z");
    expect_next(s, "2020-01-01T00:00:00Z", "2025-07-10T12:00:00.250Z");
    expect_next(s, "2025-07-10T12:00:00.250Z", NULL);
    expect_next(s, "2026-01-01T00:00:00Z", NULL);
    jw_schedule_free(s);

    sp.run_at_ms = 0; /* the epoch itself is a valid instant */
    s = new_ok(&sp);
    assert_int_equal(jw_schedule_next(s, -1), 0);
    jw_schedule_free(s);
}

static void test_no_schedule(void **state)
{
    (void)state;
    struct jw_schedule_spec sp = spec0();
    struct jw_schedule *s = new_ok(&sp);
    assert_false(jw_schedule_fires(s));
    expect_next(s, "2025-07-10T12:00:00Z", NULL);
    int64_t out[4], skipped = -5, next = -5;
    int64_t t = iso_ms("2025-07-10T12:00:00Z");
    assert_int_equal(jw_schedule_catch_up(s, t, t + HOUR, 1000, out, 4, &skipped, &next), 0);
    assert_int_equal(skipped, 0);
    assert_int_equal(next, -1);
    jw_schedule_free(s);
}

static void test_policies(void **state)
{
    (void)state;
    struct jw_schedule_spec sp = spec0();
    sp.cron = "* * * * *";
    sp.misfire_policy = "skip";
    struct jw_schedule *s = new_ok(&sp);
    assert_int_equal(jw_schedule_misfire(s), JW_MISFIRE_SKIP);
    jw_schedule_free(s);

    sp.misfire_policy = "fire_all";
    sp.misfire_max_runs = 7;
    sp.catchup_window_secs = 3600;
    s = new_ok(&sp);
    assert_int_equal(jw_schedule_misfire(s), JW_MISFIRE_FIRE_ALL);
    assert_int_equal(jw_schedule_misfire_max(s), 7);
    assert_int_equal(jw_schedule_catchup_ms(s), 3600000);
    jw_schedule_free(s);

    sp.misfire_policy = "fire_once";
    sp.misfire_max_runs = 1000;        /* the largest */
    sp.catchup_window_secs = 31536000; /* likewise */
    s = new_ok(&sp);
    assert_int_equal(jw_schedule_misfire(s), JW_MISFIRE_FIRE_ONCE);
    assert_int_equal(jw_schedule_misfire_max(s), 1000);
    assert_int_equal(jw_schedule_catchup_ms(s), INT64_C(31536000000));
    jw_schedule_free(s);
}

/* ---- the execution window ---- */

static void test_window_utc(void **state)
{
    (void)state;
    struct jw_schedule *s = filters(NULL, "* 9-17 * * 1-5", NULL);
    /* 2025-07-10 is a Thursday, 2025-07-12 a Saturday */
    expect_supp(s, "2025-07-10T12:30:00Z", NULL);
    expect_supp(s, "2025-07-10T09:00:00Z", NULL);
    expect_supp(s, "2025-07-10T17:59:59.999Z", NULL); /* inside minute 17:59 */
    expect_supp(s, "2025-07-10T08:59:59.999Z", "outside the execution window (* 9-17 * * 1-5)");
    expect_supp(s, "2025-07-10T18:00:00Z", "outside the execution window (* 9-17 * * 1-5)");
    expect_supp(s, "2025-07-12T12:00:00Z", "outside the execution window (* 9-17 * * 1-5)");
    /* without a buffer, the text without its detail; a short one truncates */
    assert_string_equal(jw_schedule_suppressed(s, iso_ms("2025-07-12T12:00:00Z"), NULL, 0),
                        "outside the execution window");
    char small[12];
    assert_string_equal(jw_schedule_suppressed(s, iso_ms("2025-07-12T12:00:00Z"), small, sizeof(small)),
                        "outside the");
    jw_schedule_free(s);

    /* six fields: the window matches seconds */
    s = filters(NULL, "0-29 * * * * *", NULL);
    expect_supp(s, "2025-07-10T12:00:29.500Z", NULL);
    expect_supp(s, "2025-07-10T12:00:00Z", NULL);
    expect_supp(s, "2025-07-10T12:00:30Z", "outside the execution window (0-29 * * * * *)");
    jw_schedule_free(s);

    /* the window is read in the job's zone: 09-17 in Tokyo (+09) */
    s = filters("Asia/Tokyo", "* 9-17 * * *", NULL);
    expect_supp(s, "2025-07-10T00:00:00Z", NULL);                                          /* 09:00 JST */
    expect_supp(s, "2025-07-10T08:59:00Z", NULL);                                          /* 17:59 JST */
    expect_supp(s, "2025-07-10T09:00:00Z", "outside the execution window (* 9-17 * * *)"); /* 18:00 */
    jw_schedule_free(s);
}

static void test_window_dst_berlin(void **state)
{
    (void)state;
    /* 2025-03-30: at 01:00Z Berlin goes 02:00 CET -> 03:00 CEST; there is no
     * 02:xx that day. A wildcard window "* 2 * * *" follows real time. */
    struct jw_schedule *s = filters("Europe/Berlin", "* 2 * * *", NULL);
    const char *out = "outside the execution window (* 2 * * *)";
    expect_supp(s, "2025-03-29T01:30:00Z", NULL); /* 02:30 CET the day before */
    expect_supp(s, "2025-03-30T00:59:00Z", out);  /* 01:59 CET */
    expect_supp(s, "2025-03-30T01:00:00Z", out);  /* 03:00 CEST */
    expect_supp(s, "2025-03-30T01:30:00Z", out);  /* 03:30 CEST */
    /* 2025-10-26: at 01:00Z 03:00 CEST -> 02:00 CET; 02:xx happens twice,
     * 00:00Z-01:00Z and 01:00Z-02:00Z: the wildcard window matches both */
    expect_supp(s, "2025-10-25T23:59:00Z", out);  /* 01:59 CEST */
    expect_supp(s, "2025-10-26T00:30:00Z", NULL); /* 02:30 CEST */
    expect_supp(s, "2025-10-26T01:30:00Z", NULL); /* 02:30 CET */
    expect_supp(s, "2025-10-26T02:00:00Z", out);  /* 03:00 CET */
    jw_schedule_free(s);

    /* A fixed-time window follows the Vixie rule: in the gap it matches the
     * first instant after it, in the overlap only the first pass. */
    s = filters("Europe/Berlin", "30 2 * * *", NULL);
    out = "outside the execution window (30 2 * * *)";
    expect_supp(s, "2025-03-29T01:30:00Z", NULL); /* 02:30 CET */
    expect_supp(s, "2025-03-30T01:00:00Z", NULL); /* 03:00 CEST, the gap's end */
    expect_supp(s, "2025-03-30T01:00:45Z", NULL); /* same minute */
    expect_supp(s, "2025-03-30T01:01:00Z", out);  /* 03:01 CEST */
    expect_supp(s, "2025-03-30T01:30:00Z", out);  /* 03:30 CEST */
    expect_supp(s, "2025-10-26T00:30:00Z", NULL); /* 02:30 CEST, first pass */
    expect_supp(s, "2025-10-26T01:30:00Z", out);  /* 02:30 CET, second pass */
    expect_supp(s, "2025-10-27T01:30:00Z", NULL); /* 02:30 CET the day after */
    jw_schedule_free(s);
}

/* ---- exclusions ---- */

static void test_excluded_dates_new_york(void **state)
{
    (void)state;
    /* local days in New York: 2025-03-09 has 23 hours (05:00Z to 04:00Z next
     * day), 2025-11-02 has 25 (04:00Z to 05:00Z next day) */
    struct jw_schedule *s =
        filters("America/New_York", NULL, "{\"dates\": [\"2025-03-09\", \"2025-11-02\", \"2025-03-09\"]}");
    expect_supp(s, "2025-03-09T04:59:59.999Z", NULL); /* 03-08 23:59:59 EST */
    expect_supp(s, "2025-03-09T05:00:00Z", "excluded date 2025-03-09");
    expect_supp(s, "2025-03-09T12:00:00Z", "excluded date 2025-03-09");
    expect_supp(s, "2025-03-10T03:59:59Z", "excluded date 2025-03-09"); /* 23:59:59 EDT */
    expect_supp(s, "2025-03-10T04:00:00Z", NULL);                       /* 03-10 00:00 EDT */
    expect_supp(s, "2025-11-02T03:59:59Z", NULL);                       /* 11-01 23:59:59 EDT */
    expect_supp(s, "2025-11-02T04:00:00Z", "excluded date 2025-11-02");
    expect_supp(s, "2025-11-03T04:59:59Z", "excluded date 2025-11-02"); /* 23:59:59 EST */
    expect_supp(s, "2025-11-03T05:00:00Z", NULL);
    assert_string_equal(jw_schedule_suppressed(s, iso_ms("2025-03-09T12:00:00Z"), NULL, 0), "excluded date");
    jw_schedule_free(s);
}

static void test_excluded_days(void **state)
{
    (void)state;
    const char *specs[] = {
        "{\"days_of_week\": [\"Saturday\", \"sun\"]}", "{\"days_of_week\": [6, 0]}",
        "{\"days_of_week\": [\"SAT\", \"SUNDAY\", 6]}",
        "{\"days_of_week\": [\"saturday\", 0, \"Sun\", \"sAt\", 6, 0, 0]}", /* 7 entries, duplicates */
    };
    for (size_t i = 0; i < sizeof(specs) / sizeof(specs[0]); i++) {
        struct jw_schedule *s = filters(NULL, NULL, specs[i]);
        expect_supp(s, "2025-07-11T23:59:59.999Z", NULL); /* Friday */
        expect_supp(s, "2025-07-12T00:00:00Z", "excluded day Saturday");
        expect_supp(s, "2025-07-13T23:59:59.999Z", "excluded day Sunday");
        expect_supp(s, "2025-07-14T00:00:00Z", NULL); /* Monday */
        jw_schedule_free(s);
    }
    /* every weekday by number and name */
    struct jw_schedule *s = filters(
        NULL, NULL, "{\"days_of_week\": [\"Mon\", \"tuesday\", \"WED\", \"Thu\", \"Fri\"], \"dates\": null}");
    expect_supp(s, "2025-07-07T08:00:00Z", "excluded day Monday");
    expect_supp(s, "2025-07-08T08:00:00Z", "excluded day Tuesday");
    expect_supp(s, "2025-07-09T08:00:00Z", "excluded day Wednesday");
    expect_supp(s, "2025-07-10T08:00:00Z", "excluded day Thursday");
    expect_supp(s, "2025-07-11T08:00:00Z", "excluded day Friday");
    expect_supp(s, "2025-07-12T08:00:00Z", NULL);
    jw_schedule_free(s);

    /* the day is the local one: Saturday begins at 15:00Z Friday in Tokyo */
    s = filters("Asia/Tokyo", NULL, "{\"days_of_week\": [\"Saturday\"]}");
    expect_supp(s, "2025-07-11T14:59:59Z", NULL);
    expect_supp(s, "2025-07-11T15:00:00Z", "excluded day Saturday");
    expect_supp(s, "2025-07-12T14:59:59Z", "excluded day Saturday");
    expect_supp(s, "2025-07-12T15:00:00Z", NULL);
    jw_schedule_free(s);

    /* a date is reported before a day */
    s = filters(NULL, NULL, "{\"days_of_week\": [\"Saturday\"], \"dates\": [\"2025-07-12\"]}");
    expect_supp(s, "2025-07-12T10:00:00Z", "excluded date 2025-07-12");
    expect_supp(s, "2025-07-19T10:00:00Z", "excluded day Saturday");
    jw_schedule_free(s);
}

static void test_excluded_time_range(void **state)
{
    (void)state;
    const char *in = "inside the excluded time range 22:00-06:00";
    struct jw_schedule *s =
        filters(NULL, NULL, "{\"time_range\": {\"start\": \"22:00\", \"end\": \"06:00\"}}");
    expect_supp(s, "2025-07-10T21:59:59.999Z", NULL);
    expect_supp(s, "2025-07-10T22:00:00Z", in); /* start inclusive */
    expect_supp(s, "2025-07-10T23:59:59Z", in);
    expect_supp(s, "2025-07-11T00:00:00Z", in);
    expect_supp(s, "2025-07-11T03:00:00Z", in);
    expect_supp(s, "2025-07-11T05:59:59.999Z", in);
    expect_supp(s, "2025-07-11T06:00:00Z", NULL); /* end exclusive */
    expect_supp(s, "2025-07-11T12:00:00Z", NULL);
    assert_string_equal(jw_schedule_suppressed(s, iso_ms("2025-07-11T03:00:00Z"), NULL, 0),
                        "inside the excluded time range");
    jw_schedule_free(s);

    s = filters(NULL, NULL, "{\"time_range\": {\"end\": \"17:30\", \"start\": \"09:00\"}}");
    expect_supp(s, "2025-07-10T08:59:59Z", NULL);
    expect_supp(s, "2025-07-10T09:00:00Z", "inside the excluded time range 09:00-17:30");
    expect_supp(s, "2025-07-10T17:29:59Z", "inside the excluded time range 09:00-17:30");
    expect_supp(s, "2025-07-10T17:30:00Z", NULL);
    expect_supp(s, "2025-07-10T23:00:00Z", NULL);
    jw_schedule_free(s);

    /* with seconds; 23:59:59 is the latest time of day */
    s = filters(NULL, NULL, "{\"time_range\": {\"start\": \"12:00:30\", \"end\": \"12:01:00\"}}");
    expect_supp(s, "2025-07-10T12:00:29.999Z", NULL);
    expect_supp(s, "2025-07-10T12:00:30Z", "inside the excluded time range 12:00:30-12:01");
    expect_supp(s, "2025-07-10T12:01:00Z", NULL);
    jw_schedule_free(s);
    s = filters(NULL, NULL, "{\"time_range\": {\"start\": \"23:59:59\", \"end\": \"00:00\"}}");
    expect_supp(s, "2025-07-10T23:59:58Z", NULL);
    expect_supp(s, "2025-07-10T23:59:59.500Z", "inside the excluded time range 23:59:59-00:00");
    expect_supp(s, "2025-07-11T00:00:00Z", NULL);
    jw_schedule_free(s);

    /* local time in New York around DST: on 2025-03-09 the clock jumps from
     * 01:59:59 EST (06:59:59Z) to 03:00 EDT (07:00Z), so 02:00-03:00 matches
     * nothing; on 2025-11-02 01:00-02:00 happens twice (05:00Z-07:00Z) */
    s = filters("America/New_York", NULL, "{\"time_range\": {\"start\": \"02:00\", \"end\": \"03:00\"}}");
    expect_supp(s, "2025-03-09T06:59:59Z", NULL);
    expect_supp(s, "2025-03-09T07:00:00Z", NULL);
    expect_supp(s, "2025-03-08T07:30:00Z", "inside the excluded time range 02:00-03:00"); /* 02:30 EST */
    expect_supp(s, "2025-03-10T06:30:00Z", "inside the excluded time range 02:00-03:00"); /* 02:30 EDT */
    jw_schedule_free(s);
    s = filters("America/New_York", NULL, "{\"time_range\": {\"start\": \"01:00\", \"end\": \"02:00\"}}");
    expect_supp(s, "2025-11-02T04:59:59Z", NULL);                                         /* 00:59:59 EDT */
    expect_supp(s, "2025-11-02T05:00:00Z", "inside the excluded time range 01:00-02:00"); /* 01:00 EDT */
    expect_supp(s, "2025-11-02T06:30:00Z", "inside the excluded time range 01:00-02:00"); /* 01:30 EST */
    expect_supp(s, "2025-11-02T07:00:00Z", NULL);                                         /* 02:00 EST */
    jw_schedule_free(s);

    /* order: date, day, time range, window */
    s = filters(NULL, "* 9-17 * * *", "{\"time_range\": {\"start\": \"20:00\", \"end\": \"21:00\"}}");
    expect_supp(s, "2025-07-10T20:30:00Z", "inside the excluded time range 20:00-21:00");
    expect_supp(s, "2025-07-10T19:30:00Z", "outside the execution window (* 9-17 * * *)");
    expect_supp(s, "2025-07-10T10:30:00Z", NULL);
    jw_schedule_free(s);

    /* empty and null exclusions exclude nothing */
    const char *none[] = {"{}", "null", "{\"dates\": [], \"days_of_week\": [], \"time_range\": null}"};
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        s = filters(NULL, NULL, none[i]);
        expect_supp(s, "2025-07-12T00:00:00Z", NULL);
        jw_schedule_free(s);
    }
}

/* ---- validation ---- */

static void test_errors_schedule_fields(void **state)
{
    (void)state;
    struct jw_schedule_spec sp = spec0();
    sp.cron = "61 * * * *";
    expect_error(&sp, "cron");
    sp.cron = "";
    expect_error(&sp, "cron");

    sp = spec0();
    sp.interval_seconds = -5;
    expect_error(&sp, "interval_seconds");
    sp.interval_seconds = 31536001;
    expect_error(&sp, "interval_seconds");

    /* two kinds: the later one is named */
    sp = spec0();
    sp.cron = "* * * * *";
    sp.interval_seconds = 60;
    expect_error(&sp, "interval_seconds");
    sp.interval_seconds = 0;
    sp.run_at_ms = 0;
    expect_error(&sp, "run_at");
    sp.cron = NULL;
    sp.interval_seconds = 60;
    expect_error(&sp, "run_at");

    sp = spec0();
    sp.run_at_ms = -2;
    expect_error(&sp, "run_at");
    sp.run_at_ms = INT64_C(253402300800000); /* 10000-01-01 */
    expect_error(&sp, "run_at");
    sp.run_at_ms = INT64_C(253402300799999); /* 9999-12-31T23:59:59.999Z is fine */
    jw_schedule_free(new_ok(&sp));

    sp = spec0();
    sp.interval_seconds = 60;
    sp.start_at_ms = -7;
    expect_error(&sp, "start_at");

    sp = spec0();
    sp.timezone = "Mars/Olympus_Mons";
    expect_error(&sp, "timezone");
    sp.timezone = "europe/berlin"; /* names are exact */
    expect_error(&sp, "timezone");

    sp = spec0();
    sp.window_cron = "* * 32 * *";
    expect_error(&sp, "execution_window_cron");

    sp = spec0();
    const char *policies[] = {"FIRE_ONCE", "", "fire-all", "skip "};
    for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
        sp.misfire_policy = policies[i];
        expect_error(&sp, "misfire_policy");
    }

    sp = spec0();
    sp.misfire_max_runs = -1;
    expect_error(&sp, "misfire_max_runs");
    sp.misfire_max_runs = 1001;
    expect_error(&sp, "misfire_max_runs");

    sp = spec0();
    sp.catchup_window_secs = -1;
    expect_error(&sp, "catchup_window_secs");
    sp.catchup_window_secs = 31536001;
    expect_error(&sp, "catchup_window_secs");
}

static void test_errors_exclusions(void **state)
{
    (void)state;
    expect_exclusions_error("not json", "exclusions");
    expect_exclusions_error("", "exclusions");
    expect_exclusions_error("[]", "exclusions");
    expect_exclusions_error("\"dates\"", "exclusions");
    expect_exclusions_error("{\"dates\": [], \"dates\": []}", "exclusions"); /* duplicate key */
    expect_exclusions_error("{\"foo\": 1}", "exclusions.foo");
    expect_exclusions_error("{\"dates\": [], \"Dates\": []}", "exclusions.Dates");

    expect_exclusions_error("{\"dates\": \"2025-12-25\"}", "exclusions.dates");
    expect_exclusions_error("{\"dates\": [\"2025-01-01\", \"2025-01-01\", \"2025-02-29\"]}",
                            "exclusions.dates[2]");
    expect_exclusions_error("{\"dates\": [20251225]}", "exclusions.dates[0]");
    expect_exclusions_error("{\"dates\": [\"2025-12-25T00:00:00Z\"]}", "exclusions.dates[0]");
    expect_exclusions_error("{\"dates\": [\"25-12-25\"]}", "exclusions.dates[0]");
    expect_exclusions_error("{\"dates\": [\"2025-13-01\"]}", "exclusions.dates[0]");
    expect_exclusions_error("{\"dates\": [\"1969-12-31\"]}", "exclusions.dates[0]");

    /* 366 entries are fine (a leap year), 367 are too many */
    static char big[20 * 400];
    for (int n = 366; n <= 367; n++) {
        size_t len = (size_t)snprintf(big, sizeof(big), "{\"dates\": [");
        for (int i = 0; i < n; i++)
            len += (size_t)snprintf(big + len, sizeof(big) - len, "%s\"2024-%02d-%02d\"", i ? "," : "",
                                    i / 31 % 12 + 1, i % 28 + 1);
        snprintf(big + len, sizeof(big) - len, "]}");
        if (n == 366)
            jw_schedule_free(filters(NULL, NULL, big));
        else
            expect_exclusions_error(big, "exclusions.dates");
    }

    expect_exclusions_error("{\"days_of_week\": \"Saturday\"}", "exclusions.days_of_week");
    expect_exclusions_error("{\"days_of_week\": [\"Funday\"]}", "exclusions.days_of_week[0]");
    expect_exclusions_error("{\"days_of_week\": [\"mon\", \"tues\"]}", "exclusions.days_of_week[1]");
    expect_exclusions_error("{\"days_of_week\": [\"Mo\"]}", "exclusions.days_of_week[0]");
    expect_exclusions_error("{\"days_of_week\": [7]}", "exclusions.days_of_week[0]");
    expect_exclusions_error("{\"days_of_week\": [-1]}", "exclusions.days_of_week[0]");
    expect_exclusions_error("{\"days_of_week\": [1, 1.5]}", "exclusions.days_of_week[1]");
    expect_exclusions_error("{\"days_of_week\": [\"1\"]}", "exclusions.days_of_week[0]");
    expect_exclusions_error("{\"days_of_week\": [null]}", "exclusions.days_of_week[0]");
    expect_exclusions_error("{\"days_of_week\": [0, 1, 2, 3, 4, 5, 6, 0]}", "exclusions.days_of_week");

    expect_exclusions_error("{\"time_range\": \"22:00-06:00\"}", "exclusions.time_range");
    expect_exclusions_error("{\"time_range\": {}}", "exclusions.time_range.start");
    expect_exclusions_error("{\"time_range\": {\"end\": \"06:00\"}}", "exclusions.time_range.start");
    expect_exclusions_error("{\"time_range\": {\"start\": \"22:00\"}}", "exclusions.time_range.end");
    expect_exclusions_error("{\"time_range\": {\"start\": \"22:00\", \"end\": null}}",
                            "exclusions.time_range.end");
    expect_exclusions_error("{\"time_range\": {\"start\": \"24:00\", \"end\": \"06:00\"}}",
                            "exclusions.time_range.start");
    expect_exclusions_error("{\"time_range\": {\"start\": \"12:60\", \"end\": \"06:00\"}}",
                            "exclusions.time_range.start");
    expect_exclusions_error("{\"time_range\": {\"start\": \"12:00:60\", \"end\": \"06:00\"}}",
                            "exclusions.time_range.start");
    expect_exclusions_error("{\"time_range\": {\"start\": 2200, \"end\": \"06:00\"}}",
                            "exclusions.time_range.start");
    expect_exclusions_error("{\"time_range\": {\"start\": \"22:00\", \"end\": \"6:00\"}}",
                            "exclusions.time_range.end");
    expect_exclusions_error("{\"time_range\": {\"start\": \"22:00\", \"end\": \"06:00 \"}}",
                            "exclusions.time_range.end");
    expect_exclusions_error("{\"time_range\": {\"start\": \"22:00\", \"end\": \"22:00:00\"}}",
                            "exclusions.time_range.end");
    expect_exclusions_error("{\"time_range\": {\"start\": \"22:00\", \"end\": \"06:00\", \"zone\": \"UTC\"}}",
                            "exclusions.time_range.zone");
}

/* ---- catch-up ---- */

struct caught {
    size_t n;
    int64_t out[1100];
    int64_t skipped, next;
};

static void catch_up(const struct jw_schedule *s, int64_t due, int64_t now, int64_t threshold, size_t cap,
                     struct caught *c)
{
    assert_true(cap <= sizeof(c->out) / sizeof(c->out[0]));
    memset(c, 0, sizeof(*c));
    c->skipped = c->next = -99;
    c->n = jw_schedule_catch_up(s, due, now, threshold, c->out, cap, &c->skipped, &c->next);
}

/* out holds n evenly spaced times first, first + step, …; */
static void expect_run(const struct caught *c, size_t n, int64_t first, int64_t step, int64_t skipped,
                       int64_t next)
{
    if (c->n != n)
        fail_msg("want %zu to fire, got %zu", n, c->n);
    for (size_t i = 0; i < n; i++)
        if (c->out[i] != first + (int64_t)i * step)
            fail_msg("out[%zu]: want %lld, got %lld", i, (long long)(first + (int64_t)i * step),
                     (long long)c->out[i]);
    if (c->skipped != skipped)
        fail_msg("want %lld skipped, got %lld", (long long)skipped, (long long)c->skipped);
    if (c->next != next)
        fail_msg("want next %lld, got %lld", (long long)next, (long long)c->next);
}

static struct jw_schedule *with_policy(const char *cron, const char *policy, int64_t max_runs,
                                       int64_t catchup_s)
{
    struct jw_schedule_spec sp = spec0();
    sp.cron = cron;
    sp.misfire_policy = policy;
    sp.misfire_max_runs = max_runs;
    sp.catchup_window_secs = catchup_s;
    return new_ok(&sp);
}

static const char *const all_policies[] = {"fire_once", "skip", "fire_all"};

static void test_catch_up_late_each_fire(void **state)
{
    (void)state;
    int64_t t0 = iso_ms("2025-07-10T12:00:00Z");
    struct caught c;
    for (size_t p = 0; p < 3; p++) {
        struct jw_schedule *s = with_policy("* * * * * *", all_policies[p], 0, 0);
        /* at 12:00:02.500, threshold 5 s: 12:00:00, :01, :02 are all late, not missed */
        catch_up(s, t0, t0 + 2500, 5000, 16, &c);
        expect_run(&c, 3, t0, S, 0, t0 + 3 * S);
        /* on time */
        catch_up(s, t0, t0, 0, 16, &c);
        expect_run(&c, 1, t0, S, 0, t0 + S);
        /* due later than now: nothing yet */
        catch_up(s, t0 + S, t0, 1000, 16, &c);
        expect_run(&c, 0, 0, 0, 0, t0 + S);
        jw_schedule_free(s);
    }
}

/* Catch-up after an outage from 12:00:00 (times as offsets from it; the
 * threshold is 1 s): what fires, how many are skipped, the next firing. */
static const struct {
    const char *why, *cron, *policy;
    int64_t cap, due, now;
    size_t room, n;
    int64_t first, step, skipped, next;
} catch_up_cases[] = {
    /* every second, 10 s outage, now 12:00:10.200: :00..:10 are 11 firings;
     * :10 is late (0.2 s), :00..:09 are misfires (>= 1.2 s) */
    {"1s, 10 s, fire_once", "* * * * * *", "fire_once", 0, 0, 10 * S + 200, 1100, 2, 9 * S, S, 9, 11 * S},
    {"1s, 10 s, skip", "* * * * * *", "skip", 0, 0, 10 * S + 200, 1100, 1, 10 * S, S, 10, 11 * S},
    {"1s, 10 s, fire_all", "* * * * * *", "fire_all", 0, 0, 10 * S + 200, 1100, 11, 0, S, 0, 11 * S},
    /* every second, 2 h outage, now 14:00:00.200: 7201 firings, 14:00:00 late, 7200 missed */
    {"1s, 2 h, fire_once", "* * * * * *", "fire_once", 0, 0, 2 * HOUR + 200, 1100, 2, 7199 * S, S, 7199,
     7201 * S},
    {"1s, 2 h, skip", "* * * * * *", "skip", 0, 0, 2 * HOUR + 200, 1100, 1, 7200 * S, S, 7200, 7201 * S},
    /* fire_all, default cap 100: the latest 100 misfires (13:58:20..13:59:59) and the late one */
    {"1s, 2 h, fire_all", "* * * * * *", "fire_all", 0, 0, 2 * HOUR + 200, 1100, 101, 7100 * S, S, 7100,
     7201 * S},
    /* fire_all, cap 1000: all 7200 cannot run, the latest 1000 do */
    {"1s, 2 h, fire_all cap 1000", "* * * * * *", "fire_all", 1000, 0, 2 * HOUR + 200, 1100, 1001, 6200 * S,
     S, 6200, 7201 * S},
    /* every 5 min, 10 s outage: only 12:00 was due, and at 10.2 s it is a misfire */
    {"5m, 10 s, fire_once", "*/5 * * * *", "fire_once", 0, 0, 10 * S + 200, 16, 1, 0, 0, 0, 5 * MIN},
    {"5m, 10 s, skip", "*/5 * * * *", "skip", 0, 0, 10 * S + 200, 16, 0, 0, 0, 1, 5 * MIN},
    {"5m, 10 s, fire_all", "*/5 * * * *", "fire_all", 0, 0, 10 * S + 200, 16, 1, 0, 0, 0, 5 * MIN},
    /* every 5 min, 2 h outage, now 14:00:00.200: 12:00, 12:05, .., 14:00 are
     * 25 firings; 14:00 is late, 24 are missed */
    {"5m, 2 h, fire_once", "*/5 * * * *", "fire_once", 0, 0, 2 * HOUR + 200, 64, 2, 115 * MIN, 5 * MIN, 23,
     125 * MIN},
    {"5m, 2 h, skip", "*/5 * * * *", "skip", 0, 0, 2 * HOUR + 200, 64, 1, 120 * MIN, 5 * MIN, 24, 125 * MIN},
    {"5m, 2 h, fire_all", "*/5 * * * *", "fire_all", 0, 0, 2 * HOUR + 200, 64, 25, 0, 5 * MIN, 0, 125 * MIN},
    /* the fire_all cap: 5 misfires (13:35..13:55) and the late 14:00 */
    {"5m, 2 h, fire_all cap 5", "*/5 * * * *", "fire_all", 5, 0, 2 * HOUR + 200, 64, 6, 95 * MIN, 5 * MIN, 19,
     125 * MIN},
    /* due need not be a firing itself: from 12:02, 12:05..14:00 are 24 */
    {"5m, 2 h from 12:02, fire_all", "*/5 * * * *", "fire_all", 0, 2 * MIN, 2 * HOUR + 200, 64, 24, 5 * MIN,
     5 * MIN, 0, 125 * MIN},
};

static void test_catch_up_after_outages(void **state)
{
    (void)state;
    int64_t t0 = iso_ms("2025-07-10T12:00:00Z");
    for (size_t i = 0; i < sizeof(catch_up_cases) / sizeof(catch_up_cases[0]); i++) {
        const __typeof__(catch_up_cases[0]) *k = &catch_up_cases[i];
        print_message("catch-up: %s\n", k->why);
        struct caught c;
        struct jw_schedule *s = with_policy(k->cron, k->policy, k->cap, 0);
        catch_up(s, t0 + k->due, t0 + k->now, 1000, k->room, &c);
        expect_run(&c, k->n, k->n ? t0 + k->first : 0, k->step, k->skipped, t0 + k->next);
        jw_schedule_free(s);
    }
    /* the cap keeps the latest: 13:58:20 is the first of the 101 */
    struct caught c;
    struct jw_schedule *s = with_policy("* * * * * *", "fire_all", 0, 0);
    catch_up(s, t0, t0 + 2 * HOUR + 200, 1000, 1100, &c);
    assert_int_equal(c.out[0], iso_ms("2025-07-10T13:58:20Z"));
    jw_schedule_free(s);
}

static void test_catch_up_window_drops(void **state)
{
    (void)state;
    int64_t t0 = iso_ms("2025-07-10T12:00:00Z");
    int64_t now = t0 + 2 * HOUR + 200;
    struct caught c;
    /* a 1 h catch-up window at 14:00:00.200: misfires at or after 13:00:00.200
     * are kept (13:05..13:55, 11 of them); 12:00..13:00 (13) are dropped */
    struct jw_schedule *s = with_policy("*/5 * * * *", "fire_all", 0, 3600);
    catch_up(s, t0, now, 1000, 64, &c);
    expect_run(&c, 12, iso_ms("2025-07-10T13:05:00Z"), 5 * MIN, 13, iso_ms("2025-07-10T14:05:00Z"));
    jw_schedule_free(s);
    s = with_policy("*/5 * * * *", "fire_once", 0, 3600);
    catch_up(s, t0, now, 1000, 64, &c);
    expect_run(&c, 2, iso_ms("2025-07-10T13:55:00Z"), 5 * MIN, 23, iso_ms("2025-07-10T14:05:00Z"));
    jw_schedule_free(s);

    /* a window shorter than the gap between firings: the misfire is dropped
     * and fire_once runs nothing */
    s = with_policy("*/5 * * * *", "fire_once", 0, 60);
    catch_up(s, t0, t0 + 3 * MIN, 1000, 64, &c);
    expect_run(&c, 0, 0, 0, 1, t0 + 5 * MIN);
    /* a threshold beyond the window: late wins. At 12:10:00.200 with 10 min
     * threshold, 12:05 and 12:10 are late; 12:00 (10 min 0.2 s) is dropped */
    catch_up(s, t0, t0 + 10 * MIN + 200, 10 * MIN, 64, &c);
    expect_run(&c, 2, t0 + 5 * MIN, 5 * MIN, 1, t0 + 15 * MIN);
    jw_schedule_free(s);
}

static void test_catch_up_out_cap(void **state)
{
    (void)state;
    int64_t t0 = iso_ms("2025-07-10T12:00:00Z");
    struct caught c;
    struct jw_schedule *s = with_policy("* * * * * *", "fire_all", 0, 0);
    /* 2 h outage, fire_all would run 101; out has room for 4: the latest */
    catch_up(s, t0, t0 + 2 * HOUR + 200, 1000, 4, &c);
    expect_run(&c, 4, t0 + 7197 * S, S, 7197, t0 + 7201 * S);
    /* more late firings than room: at 12:00:20.200 with a 10 s threshold,
     * :11..:20 are late (10), :00..:10 missed (11); cap 4 keeps :17..:20 */
    catch_up(s, t0, t0 + 20 * S + 200, 10 * S, 4, &c);
    expect_run(&c, 4, t0 + 17 * S, S, 17, t0 + 21 * S);
    /* no room at all */
    int64_t skipped = -1, next = -1;
    assert_int_equal(jw_schedule_catch_up(s, t0, t0 + 20 * S + 200, 10 * S, NULL, 0, &skipped, &next), 0);
    assert_int_equal(skipped, 21);
    assert_int_equal(next, t0 + 21 * S);
    /* skipped and next may be NULL */
    assert_int_equal(jw_schedule_catch_up(s, t0, t0 + 20 * S + 200, 10 * S, c.out, 4, NULL, NULL), 4);
    jw_schedule_free(s);
}

static void test_catch_up_interval_and_once(void **state)
{
    (void)state;
    int64_t t0 = iso_ms("2025-01-01T00:00:00Z");
    struct caught c;
    struct jw_schedule_spec sp = spec0();
    sp.interval_seconds = 60;
    sp.start_at_ms = t0;

    /* 300 days of a minutely interval: 432001 firings to now = t0 + 300 d +
     * 0.5 s; the last is late; kept misfires are those in the last day */
    int64_t now = t0 + 300 * DAY + 500;
    sp.misfire_policy = "fire_once";
    struct jw_schedule *s = new_ok(&sp);
    catch_up(s, t0, now, 1000, 1100, &c);
    expect_run(&c, 2, t0 + 300 * DAY - MIN, MIN, 431999, t0 + 300 * DAY + MIN);
    jw_schedule_free(s);
    sp.misfire_policy = "skip";
    s = new_ok(&sp);
    catch_up(s, t0, now, 1000, 1100, &c);
    expect_run(&c, 1, t0 + 300 * DAY, MIN, 432000, t0 + 300 * DAY + MIN);
    jw_schedule_free(s);
    sp.misfire_policy = "fire_all";
    s = new_ok(&sp);
    catch_up(s, t0, now, 1000, 1100, &c);
    expect_run(&c, 101, t0 + 300 * DAY - 100 * MIN, MIN, 431900, t0 + 300 * DAY + MIN);
    /* due between firings: from 00:00:30, 00:01:00 is the only one, late */
    catch_up(s, t0 + 30 * S, t0 + MIN + 500, 1000, 16, &c);
    expect_run(&c, 1, t0 + MIN, 0, 0, t0 + 2 * MIN);
    /* a 10-minute catch-up window, 1 h down: 00:51..00:59 kept (9), 00:00..00:50 (51) dropped */
    jw_schedule_free(s);
    sp.catchup_window_secs = 600;
    s = new_ok(&sp);
    catch_up(s, t0, t0 + HOUR + 500, 1000, 64, &c);
    expect_run(&c, 10, t0 + 51 * MIN, MIN, 51, t0 + 61 * MIN);
    jw_schedule_free(s);

    /* one-time */
    sp = spec0();
    int64_t at = iso_ms("2025-07-10T12:00:00Z");
    sp.run_at_ms = at;
    s = new_ok(&sp);
    catch_up(s, at, at + 500, 1000, 4, &c); /* late */
    expect_run(&c, 1, at, 0, 0, -1);
    catch_up(s, at, at + 2 * HOUR, 1000, 4, &c); /* missed: fire_once runs it */
    expect_run(&c, 1, at, 0, 0, -1);
    catch_up(s, at, at + 2 * DAY, 1000, 4, &c); /* older than the day's window */
    expect_run(&c, 0, 0, 0, 1, -1);
    jw_schedule_free(s);
    sp.misfire_policy = "skip";
    s = new_ok(&sp);
    catch_up(s, at, at + 2 * HOUR, 1000, 4, &c);
    expect_run(&c, 0, 0, 0, 1, -1);
    jw_schedule_free(s);
}

/* Arithmetic at the edges saturates instead of wrapping. */
static void test_extremes(void **state)
{
    (void)state;
    struct jw_schedule_spec sp = spec0();
    sp.interval_seconds = 60;
    struct jw_schedule *s = new_ok(&sp);
    assert_int_equal(jw_schedule_next(s, INT64_MAX - 1), -1);
    assert_int_equal(jw_schedule_next(s, INT64_MIN), 0);
    jw_schedule_free(s);

    sp = spec0();
    int64_t at = iso_ms("2025-07-10T12:00:00Z");
    sp.run_at_ms = at;
    s = new_ok(&sp);
    struct caught c;
    catch_up(s, at, INT64_MAX, 0, 4, &c); /* missed for ever: dropped, counted */
    expect_run(&c, 0, 0, 0, 1, -1);
    catch_up(s, at, at + 2 * DAY, INT64_MAX, 4, &c); /* everything is late */
    expect_run(&c, 1, at, 0, 0, -1);
    catch_up(s, at, at + 2 * DAY, -5, 4, &c); /* a negative threshold is 0 */
    expect_run(&c, 0, 0, 0, 1, -1);
    jw_schedule_free(s);
}

static double seconds_since(const struct timespec *a)
{
    struct timespec b;
    clock_gettime(CLOCK_MONOTONIC, &b);
    return (double)(b.tv_sec - a->tv_sec) + (double)(b.tv_nsec - a->tv_nsec) / 1e9;
}

/* A per-second cron missed for 300 days (25.9 million firings): the fired
 * ones are found by looking back from now, and counting the skipped ones
 * stops at 1,000,000 (a lower bound). */
static void test_catch_up_long_outage_is_bounded(void **state)
{
    (void)state;
    int64_t t0 = iso_ms("2025-01-01T00:00:00Z");
    int64_t now = t0 + 300 * DAY + 200;
    struct caught c;
    struct timespec a;

    struct jw_schedule *s = with_policy("* * * * * *", "fire_once", 0, 0);
    clock_gettime(CLOCK_MONOTONIC, &a);
    catch_up(s, t0, now, 1000, 1100, &c);
    double secs = seconds_since(&a);
    expect_run(&c, 2, t0 + 300 * DAY - S, S, 1000000, t0 + 300 * DAY + S);
    print_message("per-second cron, 300 days missed, fire_once: %.3f s\n", secs);
    /* ~0.3 s with sanitizers; a walk over every firing would take minutes.
     * Generous for valgrind. */
    assert_true(secs < 30.0);
    jw_schedule_free(s);

    s = with_policy("* * * * * *", "fire_all", 1000, 31536000);
    clock_gettime(CLOCK_MONOTONIC, &a);
    catch_up(s, t0, now, 1000, 1100, &c);
    secs = seconds_since(&a);
    expect_run(&c, 1001, t0 + 300 * DAY - 1000 * S, S, 1000000, t0 + 300 * DAY + S);
    print_message("per-second cron, 300 days missed, fire_all 1000: %.3f s\n", secs);
    assert_true(secs < 30.0);
    jw_schedule_free(s);
}

/* Cron catch-up in a zone across a DST change: "30 1 * * *" in New York.
 * On 2025-11-02 01:30 happens twice; the fixed-time job fires once, at the
 * first (05:30Z). Days before and after fire at 05:30Z (EDT) and 06:30Z (EST). */
static void test_catch_up_across_dst(void **state)
{
    (void)state;
    struct jw_schedule_spec sp = spec0();
    sp.cron = "30 1 * * *";
    sp.timezone = "America/New_York";
    sp.misfire_policy = "fire_all";
    struct jw_schedule *s = new_ok(&sp);
    struct caught c;
    catch_up(s, iso_ms("2025-11-01T00:00:00Z"), iso_ms("2025-11-03T12:00:00Z"), 1000, 16, &c);
    /* the 1-day window keeps only what is at most 24 h old: 2025-11-03T06:30Z */
    assert_int_equal(c.n, 1);
    assert_int_equal(c.out[0], iso_ms("2025-11-03T06:30:00Z"));
    assert_int_equal(c.skipped, 2); /* 11-01 05:30Z and 11-02 05:30Z */
    assert_int_equal(c.next, iso_ms("2025-11-04T06:30:00Z"));
    jw_schedule_free(s);

    sp.catchup_window_secs = 7 * 86400;
    s = new_ok(&sp);
    catch_up(s, iso_ms("2025-11-01T00:00:00Z"), iso_ms("2025-11-03T12:00:00Z"), 1000, 16, &c);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.out[0], iso_ms("2025-11-01T05:30:00Z"));
    assert_int_equal(c.out[1], iso_ms("2025-11-02T05:30:00Z"));
    assert_int_equal(c.out[2], iso_ms("2025-11-03T06:30:00Z"));
    assert_int_equal(c.skipped, 0);
    jw_schedule_free(s);

    /* a wildcard job follows real time: "0,30 * * * *" fires at 01:00 and
     * 01:30 in both passes: 05:00, 05:30, 06:00, 06:30Z, then 02:00 EST = 07:00Z */
    sp.cron = "0,30 * * * *";
    s = new_ok(&sp);
    catch_up(s, iso_ms("2025-11-02T04:45:00Z"), iso_ms("2025-11-02T07:00:00Z"), 1000, 16, &c);
    assert_int_equal(c.n, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(c.out[i], iso_ms("2025-11-02T05:00:00Z") + (int64_t)i * 30 * MIN);
    jw_schedule_free(s);
}

/* ---- local time ---- */

static void test_local_time(void **state)
{
    (void)state;
    struct jw_schedule *s = filters(NULL, NULL, NULL);
    expect_local(s, "2025-07-10T12:34:56.789Z", "2025-07-10T12:34:56.789+00:00", 0);
    char out[40];
    jw_schedule_local_time(s, -1, out, NULL); /* offset_s may be NULL */
    assert_string_equal(out, "1969-12-31T23:59:59.999+00:00");
    jw_schedule_free(s);

    s = filters("Asia/Kolkata", NULL, NULL);
    expect_local(s, "2025-07-10T12:34:56.789Z", "2025-07-10T18:04:56.789+05:30", 19800);
    expect_local(s, "2025-07-10T20:00:00Z", "2025-07-11T01:30:00.000+05:30", 19800);
    jw_schedule_free(s);

    s = filters("America/St_Johns", NULL, NULL); /* -03:30, -02:30 in summer */
    expect_local(s, "2025-01-15T12:00:00Z", "2025-01-15T08:30:00.000-03:30", -12600);
    expect_local(s, "2025-07-15T12:00:00Z", "2025-07-15T09:30:00.000-02:30", -9000);
    jw_schedule_free(s);

    /* Berlin across both changes of 2025 */
    s = filters("Europe/Berlin", NULL, NULL);
    expect_local(s, "2025-03-30T00:59:59.999Z", "2025-03-30T01:59:59.999+01:00", 3600);
    expect_local(s, "2025-03-30T01:00:00Z", "2025-03-30T03:00:00.000+02:00", 7200);
    expect_local(s, "2025-10-26T00:30:00Z", "2025-10-26T02:30:00.000+02:00", 7200);
    expect_local(s, "2025-10-26T00:59:59.999Z", "2025-10-26T02:59:59.999+02:00", 7200);
    expect_local(s, "2025-10-26T01:00:00Z", "2025-10-26T02:00:00.000+01:00", 3600);
    expect_local(s, "2025-10-26T01:30:00Z", "2025-10-26T02:30:00.000+01:00", 3600);
    jw_schedule_free(s);

    /* Lord Howe moves by half an hour: +10:30 in winter, +11:00 in summer;
     * 2025-04-06 at 15:00Z (02:00 +11:00 -> 01:30 +10:30) */
    s = filters("Australia/Lord_Howe", NULL, NULL);
    expect_local(s, "2025-01-15T00:00:00Z", "2025-01-15T11:00:00.000+11:00", 39600);
    expect_local(s, "2025-07-15T00:00:00Z", "2025-07-15T10:30:00.000+10:30", 37800);
    expect_local(s, "2025-04-05T14:59:59Z", "2025-04-06T01:59:59.000+11:00", 39600);
    expect_local(s, "2025-04-05T15:00:00Z", "2025-04-06T01:30:00.000+10:30", 37800);
    jw_schedule_free(s);

    /* New York, the spring-forward instant */
    s = filters("America/New_York", NULL, NULL);
    expect_local(s, "2025-03-09T06:59:59Z", "2025-03-09T01:59:59.000-05:00", -18000);
    expect_local(s, "2025-03-09T07:00:00Z", "2025-03-09T03:00:00.000-04:00", -14400);
    jw_schedule_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cron_kind),
        cmocka_unit_test(test_interval_kind),
        cmocka_unit_test(test_one_time_kind),
        cmocka_unit_test(test_no_schedule),
        cmocka_unit_test(test_policies),
        cmocka_unit_test(test_window_utc),
        cmocka_unit_test(test_window_dst_berlin),
        cmocka_unit_test(test_excluded_dates_new_york),
        cmocka_unit_test(test_excluded_days),
        cmocka_unit_test(test_excluded_time_range),
        cmocka_unit_test(test_errors_schedule_fields),
        cmocka_unit_test(test_errors_exclusions),
        cmocka_unit_test(test_catch_up_late_each_fire),
        cmocka_unit_test(test_catch_up_after_outages),
        cmocka_unit_test(test_catch_up_window_drops),
        cmocka_unit_test(test_catch_up_out_cap),
        cmocka_unit_test(test_catch_up_interval_and_once),
        cmocka_unit_test(test_extremes),
        cmocka_unit_test(test_catch_up_long_outage_is_bounded),
        cmocka_unit_test(test_catch_up_across_dst),
        cmocka_unit_test(test_local_time),
    };
    return cmocka_run_group_tests(tests, tz_setup, tz_teardown);
}
