/* Unit tests for time formatting, parsing, durations and civil dates (src/util/time.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "jobwheel/time.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* 2025-07-10T14:45:00Z, checked with `date -u -d … +%s`. */
#define T_2025_07_10_1445 1752158700000LL

static void expect_parse(const char *s, int64_t want)
{
    int64_t got = -12345;
    if (jw_time_parse(s, &got) != 0)
        fail_msg("jw_time_parse(\"%s\") refused", s);
    if (got != want)
        fail_msg("jw_time_parse(\"%s\") = %lld, want %lld", s, (long long)got, (long long)want);
}

static void expect_refused(const char *s)
{
    int64_t got = -12345;
    if (jw_time_parse(s, &got) == 0)
        fail_msg("jw_time_parse(\"%s\") accepted (%lld)", s, (long long)got);
    assert_int_equal(got, -12345); /* output untouched */
}

static void expect_format(int64_t ms, const char *want)
{
    char out[JW_TIME_ISO_SIZE];
    memset(out, 'X', sizeof(out));
    jw_time_format(ms, out);
    if (strcmp(out, want) != 0)
        fail_msg("jw_time_format(%lld) = \"%s\", want \"%s\"", (long long)ms, out, want);
}

/* ---- formatting --------------------------------------------------------- */

static void test_format_known(void **state)
{
    (void)state;
    expect_format(0, "1970-01-01T00:00:00.000Z");
    expect_format(1, "1970-01-01T00:00:00.001Z");
    expect_format(59999, "1970-01-01T00:00:59.999Z");
    expect_format(DAY - 1, "1970-01-01T23:59:59.999Z");
    expect_format(DAY, "1970-01-02T00:00:00.000Z");
    expect_format(T_2025_07_10_1445, "2025-07-10T14:45:00.000Z");
    expect_format(T_2025_07_10_1445 + 7, "2025-07-10T14:45:00.007Z");
    expect_format(951782400000LL, "2000-02-29T00:00:00.000Z");
    expect_format(1709208000000LL, "2024-02-29T12:00:00.000Z");
    expect_format(253402300799999LL, "9999-12-31T23:59:59.999Z");
    expect_format(253402300800000LL, "10000-01-01T00:00:00.000Z");
    /* before the epoch: floor, not truncation */
    expect_format(-1, "1969-12-31T23:59:59.999Z");
    expect_format(-1000, "1969-12-31T23:59:59.000Z");
    expect_format(-1001, "1969-12-31T23:59:58.999Z");
    expect_format(-DAY, "1969-12-31T00:00:00.000Z");
    expect_format(-DAY - 1, "1969-12-30T23:59:59.999Z");
}

/* ---- parsing ------------------------------------------------------------- */

static void test_parse_forms(void **state)
{
    (void)state;
    const int64_t t = T_2025_07_10_1445;
    expect_parse("2025-07-10T14:45:00.000Z", t);
    expect_parse("2025-07-10T14:45:00Z", t);
    expect_parse("2025-07-10T14:45Z", t);
    expect_parse("2025-07-10t14:45:00z", t);
    expect_parse("2025-07-10 14:45:00Z", t);
    expect_parse("2025-07-10T14:45:07Z", t + 7 * SEC);
    expect_parse("1970-01-01T00:00:00Z", 0);
    expect_parse("1970-01-01T00:00:00.001Z", 1);
    expect_parse("9999-12-31T23:59:59.999Z", 253402300799999LL);
    /* a leap second reads as the last instant of its minute */
    expect_parse("2016-12-31T23:59:60Z", 1483228799999LL);
}

static void test_parse_offsets(void **state)
{
    (void)state;
    const int64_t t = T_2025_07_10_1445;
    expect_parse("2025-07-10T20:15:00+05:30", t);
    expect_parse("2025-07-10T20:15:00+0530", t);
    expect_parse("2025-07-10T06:45:00-0800", t);
    expect_parse("2025-07-10T06:45:00-08:00", t);
    expect_parse("2025-07-10T14:45:00+00:00", t);
    expect_parse("2025-07-10T14:45:00-00:00", t);
    expect_parse("2025-07-11T00:30:00+09:45", t);
    expect_parse("2025-07-10T14:45+05:30", t - (5 * HOUR + 30 * MIN));
    expect_parse("2025-07-10T14:45:00.250-0800", t + 8 * HOUR + 250);
    /* the offset can move the date across a year boundary */
    expect_parse("2025-01-01T01:00:00+02:00", 1735689600000LL - HOUR);
    expect_parse("2024-12-31T23:00:00-02:00", 1735689600000LL + HOUR);
    expect_parse("2025-07-10T14:45:00+23:59", t - (23 * HOUR + 59 * MIN));
}

static void test_parse_fractions(void **state)
{
    (void)state;
    const int64_t t = T_2025_07_10_1445;
    static const struct {
        const char *frac;
        int ms;
    } cases[] = {
        {"1", 100},      {"12", 120},      {"123", 123},      {"1234", 123},      {"12345", 123},
        {"123456", 123}, {"1234567", 123}, {"12345678", 123}, {"123456789", 123}, {"999999999", 999},
        {"0", 0},        {"000000001", 0}, {"05", 50},        {"9", 900},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char s[64];
        snprintf(s, sizeof(s), "2025-07-10T14:45:00.%sZ", cases[i].frac);
        expect_parse(s, t + cases[i].ms);
        snprintf(s, sizeof(s), "2025-07-10T14:45:00.%s+01:00", cases[i].frac);
        expect_parse(s, t - HOUR + cases[i].ms);
    }
    /* a comma works as the decimal sign (ISO 8601 allows it) */
    expect_parse("2025-07-10T14:45:00,5Z", t + 500);
    /* ten digits are too many; none is too few */
    expect_refused("2025-07-10T14:45:00.1234567890Z");
    expect_refused("2025-07-10T14:45:00.Z");
    expect_refused("2025-07-10T14:45:00.+01:00");
    /* a fraction needs seconds */
    expect_refused("2025-07-10T14:45.5Z");
}

static void test_parse_leap_years(void **state)
{
    (void)state;
    expect_parse("2024-02-29T12:00:00Z", 1709208000000LL);
    expect_parse("2000-02-29T00:00:00Z", 951782400000LL);
    expect_refused("2025-02-29T00:00:00Z");
    expect_refused("2100-02-29T00:00:00Z");
    expect_refused("2023-02-29T00:00:00Z");
    expect_refused("2024-02-30T00:00:00Z");
    expect_refused("2024-04-31T00:00:00Z");
    expect_refused("2024-06-31T00:00:00Z");
    expect_refused("2024-09-31T00:00:00Z");
    expect_refused("2024-11-31T00:00:00Z");
    expect_parse("2024-12-31T00:00:00Z", 1735603200000LL);

    int y = 0, m = 0, d = 0;
    assert_int_equal(jw_time_parse_date("2024-02-29", &y, &m, &d), 0);
    assert_int_equal(y, 2024);
    assert_int_equal(m, 2);
    assert_int_equal(d, 29);
    assert_int_equal(jw_time_parse_date("2000-02-29", &y, &m, &d), 0);
    assert_int_equal(jw_time_parse_date("2025-02-29", &y, &m, &d), -1);
    assert_int_equal(jw_time_parse_date("1900-02-29", &y, &m, &d), -1);
    assert_int_equal(jw_time_parse_date("2200-02-29", &y, &m, &d), -1);
    assert_int_equal(jw_time_parse_date("2400-02-29", &y, &m, &d), 0);
    assert_int_equal(jw_time_parse_date("2025-12-31", &y, &m, &d), 0);
    assert_int_equal(y, 2025);
    assert_int_equal(m, 12);
    assert_int_equal(d, 31);
}

static void test_parse_date_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",           "2025",       "2025-07",    "2025-7-10",  "2025-07-1",  "2025/07/10",  "2025-07-10T",
        "2025-13-01", "2025-00-10", "2025-01-00", "2025-01-32", "20250-1-10", "2025-07-10 ", " 2025-07-10",
        "abcd-ef-gh", "2025-0a-10", "+025-07-10", "1969-12-31", "-025-07-10",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int y = -1, m = -1, d = -1;
        if (jw_time_parse_date(bad[i], &y, &m, &d) == 0)
            fail_msg("jw_time_parse_date(\"%s\") accepted", bad[i]);
    }
}

static void test_parse_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2025",
        "2025-07-10",
        "2025-07-10T14",
        "2025-07-10T14:45",        /* no zone */
        "2025-07-10T14:45:00",     /* no zone */
        "2025-07-10T14:45:00.000", /* no zone */
        "2025-07-10X14:45:00Z",
        "2025-07-10_14:45:00Z",
        "2025/07/10T14:45:00Z",
        "2025-07-10T24:00:00Z",
        "2025-07-10T25:00:00Z",
        "2025-07-10T14:60:00Z",
        "2025-07-10T14:45:61Z",
        "2025-07-10T14:45:99Z",
        "2025-07-10T1:45:00Z",
        "2025-07-10T14:4:00Z",
        "2025-07-10T14:45:0Z",
        "2025-07-10T14-45-00Z",
        "2025-07-10T14:45:00ZZ",
        "2025-07-10T14:45:00Z ",
        " 2025-07-10T14:45:00Z",
        "2025-07-10T14:45:00 Z",
        "2025-07-10T14:45:00+05",
        "2025-07-10T14:45:00+5:30",
        "2025-07-10T14:45:00+05:3",
        "2025-07-10T14:45:00+053",
        "2025-07-10T14:45:00+05:300",
        "2025-07-10T14:45:00+24:00",
        "2025-07-10T14:45:00+05:60",
        "2025-07-10T14:45:00*05:30",
        "2025-07-10T14:45:00UTC",
        "2025-07-10T14:45:00GMT",
        "2025-07-10T14:45:00.12a4Z",
        "2025-07-10T14:45:00..1Z",
        "1969-12-31T23:59:59Z",      /* before 1970 */
        "1970-01-01T00:00:00+00:01", /* before the epoch by its offset */
        "0000-01-01T00:00:00Z",
        "2025-02-29T10:00:00Z",
        "2025-07-10T14:45:00.000Z and more text that makes it long",
        "2025-07-10T14:45:00.000000000000000000000000000000Z",
        "T14:45:00Z",
        "not a time at all, really",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_refused(bad[i]);
}

/* Deterministic pseudo-random numbers (xorshift64*). */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;
static uint64_t rng(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 2685821657736338717ULL;
}

static void test_format_parse_round_trip(void **state)
{
    (void)state;
    const int64_t max = 253402300799999LL; /* 9999-12-31T23:59:59.999Z */
    int64_t samples[20000];
    size_t n = 0;
    static const int64_t fixed[] = {
        0,  1, 999, 1000, DAY - 1, DAY, 951782400000LL, 1709208000000LL, T_2025_07_10_1445, 4102444800000LL,
        max};
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        samples[n++] = fixed[i];
    while (n < sizeof(samples) / sizeof(samples[0]))
        samples[n++] = (int64_t)(rng() % (uint64_t)(max + 1));
    for (size_t i = 0; i < n; i++) {
        char s[JW_TIME_ISO_SIZE];
        jw_time_format(samples[i], s);
        assert_int_equal(strlen(s), 24);
        int64_t back = -1;
        if (jw_time_parse(s, &back) != 0 || back != samples[i])
            fail_msg("round trip of %lld via \"%s\" gave %lld", (long long)samples[i], s, (long long)back);
    }
}

static void test_format_matches_libc(void **state)
{
    (void)state;
    /* every 7 hours, 13 minutes and 17.123 seconds from 1970 into 2200 */
    const int64_t step = 7 * HOUR + 13 * MIN + 17 * SEC + 123;
    const int64_t end = 7258118400000LL; /* 2200-01-01 */
    for (int64_t ms = 0; ms < end; ms += step) {
        time_t secs = (time_t)(ms / 1000);
        struct tm tm;
        assert_non_null(gmtime_r(&secs, &tm));
        char want[64];
        snprintf(want, sizeof(want), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
        char got[JW_TIME_ISO_SIZE];
        jw_time_format(ms, got);
        if (strcmp(got, want) != 0)
            fail_msg("jw_time_format(%lld) = %s, libc says %s", (long long)ms, got, want);
    }
}

/* ---- durations ---------------------------------------------------------- */

static void test_durations(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        int64_t ms;
    } good[] = {
        {"1s", SEC},       {"45s", 45 * SEC}, {"30m", 30 * MIN},  {"1m", MIN},         {"1h", HOUR},
        {"24h", DAY},      {"7d", 7 * DAY},   {"1d", DAY},        {"2w", 14 * DAY},    {"1w", 7 * DAY},
        {"90d", 90 * DAY}, {"3600s", HOUR},   {"52w", 364 * DAY}, {"365d", 365 * DAY},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        int64_t ms = -1;
        if (jw_time_parse_duration(good[i].s, &ms) != 0)
            fail_msg("jw_time_parse_duration(\"%s\") refused", good[i].s);
        if (ms != good[i].ms)
            fail_msg("jw_time_parse_duration(\"%s\") = %lld", good[i].s, (long long)ms);
    }
    static const char *const bad[] = {
        "0s",
        "0m",
        "0d",
        "00h",
        "5x",
        "5",
        "m",
        "",
        "-5m",
        "+5m",
        "5 m",
        " 5m",
        "5m ",
        "1.5h",
        "5M",
        "5H",
        "5ms",
        "1y",
        "1mo",
        "h1",
        "5mm",
        "1e3s",
        "0x10s",
        "99999999999s",  /* thousands of years */
        "999999999999w", /* longer than allowed, must not overflow */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = -77;
        if (jw_time_parse_duration(bad[i], &ms) == 0)
            fail_msg("jw_time_parse_duration(\"%s\") accepted (%lld)", bad[i], (long long)ms);
        assert_int_equal(ms, -77);
    }
}

static void test_parse_point(void **state)
{
    (void)state;
    const int64_t now = T_2025_07_10_1445 + 321;
    int64_t out = 0;
    assert_int_equal(jw_time_parse_point("30m", now, &out), 0);
    assert_int_equal(out, now - 30 * MIN);
    assert_int_equal(jw_time_parse_point("1h", now, &out), 0);
    assert_int_equal(out, now - HOUR);
    assert_int_equal(jw_time_parse_point("7d", now, &out), 0);
    assert_int_equal(out, now - 7 * DAY);
    assert_int_equal(jw_time_parse_point("2w", now, &out), 0);
    assert_int_equal(out, now - 14 * DAY);
    /* absolute times do not depend on now */
    assert_int_equal(jw_time_parse_point("2025-07-10T14:45:00Z", now, &out), 0);
    assert_int_equal(out, T_2025_07_10_1445);
    assert_int_equal(jw_time_parse_point("2025-07-10T14:45:00Z", 0, &out), 0);
    assert_int_equal(out, T_2025_07_10_1445);
    assert_int_equal(jw_time_parse_point("2025-07-10T20:15:00.5+05:30", now, &out), 0);
    assert_int_equal(out, T_2025_07_10_1445 + 500);
    /* neither form */
    out = 99;
    assert_int_equal(jw_time_parse_point("0s", now, &out), -1);
    assert_int_equal(jw_time_parse_point("yesterday", now, &out), -1);
    assert_int_equal(jw_time_parse_point("", now, &out), -1);
    assert_int_equal(jw_time_parse_point("2025-07-10", now, &out), -1);
    assert_int_equal(jw_time_parse_point("5x", now, &out), -1);
    assert_int_equal(out, 99);
}

/* ---- civil dates ---------------------------------------------------------- */

static void test_civil_against_libc(void **state)
{
    (void)state;
    /* every day from 1900-01-01 to 2200-12-31, compared with gmtime/timegm */
    const int64_t first = -25567; /* 1900-01-01 */
    const int64_t last = 84370;   /* 2200-12-31 */
    for (int64_t z = first; z <= last; z++) {
        time_t secs = (time_t)(z * 86400);
        struct tm tm;
        assert_non_null(gmtime_r(&secs, &tm));
        int64_t y;
        int m, d;
        jw_civil_from_days(z, &y, &m, &d);
        if (y != tm.tm_year + 1900 || m != tm.tm_mon + 1 || d != tm.tm_mday)
            fail_msg("civil_from_days(%lld) = %lld-%u-%u, libc %d-%d-%d", (long long)z, (long long)y, m, d,
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        int64_t back = jw_days_from_civil(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        if (back != z)
            fail_msg("days_from_civil(%d-%d-%d) = %lld, want %lld", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, (long long)back, (long long)z);
        struct tm probe = tm;
        assert_int_equal((int64_t)timegm(&probe), z * 86400);
        if (jw_weekday_from_days(z) != tm.tm_wday)
            fail_msg("weekday_from_days(%lld) = %d, libc %d", (long long)z, jw_weekday_from_days(z),
                     tm.tm_wday);
    }
    /* known anchors */
    assert_int_equal(jw_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(jw_weekday_from_days(0), 4);  /* Thursday */
    assert_int_equal(jw_weekday_from_days(-1), 3); /* Wednesday */
    assert_int_equal(jw_weekday_from_days(-4), 0); /* Sunday */
    assert_int_equal(jw_weekday_from_days(-5), 6); /* Saturday */
    assert_int_equal(jw_weekday_from_days(jw_days_from_civil(2025, 7, 10)), 4);
    assert_int_equal(jw_days_from_civil(2000, 3, 1) - jw_days_from_civil(2000, 2, 28), 2);
    assert_int_equal(jw_days_from_civil(2100, 3, 1) - jw_days_from_civil(2100, 2, 28), 1);
}

static void test_days_in_month(void **state)
{
    (void)state;
    for (int64_t y = 1970; y <= 2200; y++) {
        for (int m = 1; m <= 12; m++) {
            /* independently: the day before the first of the next month */
            struct tm tm = {0};
            tm.tm_year = (int)(y - 1900) + (m == 12);
            tm.tm_mon = m == 12 ? 0 : (int)m;
            tm.tm_mday = 1;
            time_t next = timegm(&tm);
            time_t prev = next - 86400;
            struct tm last;
            assert_non_null(gmtime_r(&prev, &last));
            if (jw_days_in_month(y, m) != last.tm_mday)
                fail_msg("days_in_month(%lld, %u) = %d, libc %d", (long long)y, m, jw_days_in_month(y, m),
                         last.tm_mday);
        }
    }
    assert_int_equal(jw_days_in_month(2024, 2), 29);
    assert_int_equal(jw_days_in_month(2025, 2), 28);
    assert_int_equal(jw_days_in_month(2000, 2), 29);
    assert_int_equal(jw_days_in_month(2100, 2), 28);
}

static void test_clocks(void **state)
{
    (void)state;
    int64_t now = jw_time_now_ms();
    int64_t libc = (int64_t)time(NULL) * 1000;
    assert_true(now >= libc - 2000 && now <= libc + 2000);
    int64_t a = jw_time_mono_ms(), b = jw_time_mono_ms();
    assert_true(b >= a);
    int64_t ua = jw_time_mono_us(), ub = jw_time_mono_us();
    assert_true(ub >= ua);
    /* microseconds and milliseconds come from the same clock */
    int64_t ms = jw_time_mono_ms();
    int64_t us = jw_time_mono_us();
    assert_true(us / 1000 >= ms && us / 1000 - ms < 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_known),        cmocka_unit_test(test_parse_forms),
        cmocka_unit_test(test_parse_offsets),       cmocka_unit_test(test_parse_fractions),
        cmocka_unit_test(test_parse_leap_years),    cmocka_unit_test(test_parse_date_malformed),
        cmocka_unit_test(test_parse_malformed),     cmocka_unit_test(test_format_parse_round_trip),
        cmocka_unit_test(test_format_matches_libc), cmocka_unit_test(test_durations),
        cmocka_unit_test(test_parse_point),         cmocka_unit_test(test_civil_against_libc),
        cmocka_unit_test(test_days_in_month),       cmocka_unit_test(test_clocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
