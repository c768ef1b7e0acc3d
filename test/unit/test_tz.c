/* test_tz: unit tests of the tz module: loading, lookups, offsets around
 * transitions, local->UTC answers in gaps and overlaps, footer rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "jobwheel/tz.h"

#include "tz_fixture.h"

static int64_t test_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "YYYY-MM-DDTHH:MM:SS" -> seconds (UTC, or local time read as UTC). */
static int64_t secs(const char *s)
{
    int y, mo, d, h, mi, sec;
    if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &sec) != 6)
        fail_msg("bad time in test: %s", s);
    return test_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec;
}

static const struct jw_tz *zone(const char *name)
{
    const struct jw_tz *tz = jw_tz_get(name);
    if (!tz)
        fail_msg("zone %s is not loaded", name);
    return tz;
}

static void test_names(void **state)
{
    (void)state;
    const char *present[] = {"UTC",
                             "America/New_York",
                             "Europe/London",
                             "Europe/Berlin",
                             "Australia/Lord_Howe",
                             "Asia/Kolkata",
                             "Etc/GMT+5",
                             "Etc/UTC",
                             "US/Eastern",
                             "GMT",
                             "America/Argentina/Buenos_Aires",
                             "Factory"};
    for (size_t i = 0; i < sizeof(present) / sizeof(present[0]); i++) {
        const struct jw_tz *tz = jw_tz_get(present[i]);
        if (!tz)
            fail_msg("%s missing", present[i]);
        assert_string_equal(jw_tz_name(tz), present[i]);
    }
    const char *absent[] = {"",
                            "Mars/Olympus_Mons",
                            "america/new_york",
                            "posix/UTC",
                            "right/UTC",
                            "right/Europe/Berlin",
                            "zone.tab",
                            "zone1970.tab",
                            "tzdata.zi",
                            "leapseconds",
                            "iso3166.tab",
                            "leap-seconds.list",
                            "localtime",
                            "America",
                            "America/",
                            "/UTC",
                            "UTC ",
                            "Europe/Berlin/x"};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
        if (jw_tz_get(absent[i]))
            fail_msg("\"%s\" should be unknown", absent[i]);
    }
    assert_null(jw_tz_get(NULL));
    assert_string_equal(jw_tz_name(NULL), "UTC");
}

struct offset_case {
    const char *zone;
    const char *utc;
    int32_t offset;
};

static void test_offsets(void **state)
{
    (void)state;
    static const struct offset_case cases[] = {
        {"UTC", "2025-06-01T00:00:00", 0},
        {"Etc/GMT+5", "2025-06-01T00:00:00", -5 * 3600},
        {"Etc/GMT-14", "2025-06-01T00:00:00", 14 * 3600},
        /* New York 2025 and 2026, one second either side */
        {"America/New_York", "2025-03-09T06:59:59", -18000},
        {"America/New_York", "2025-03-09T07:00:00", -14400},
        {"America/New_York", "2025-11-02T05:59:59", -14400},
        {"America/New_York", "2025-11-02T06:00:00", -18000},
        {"America/New_York", "2026-03-08T06:59:59", -18000},
        {"America/New_York", "2026-03-08T07:00:00", -14400},
        {"America/New_York", "2026-11-01T05:59:59", -14400},
        {"America/New_York", "2026-11-01T06:00:00", -18000},
        {"US/Eastern", "2025-07-01T00:00:00", -14400},
        /* London and Berlin change at 01:00Z */
        {"Europe/London", "2025-03-30T00:59:59", 0},
        {"Europe/London", "2025-03-30T01:00:00", 3600},
        {"Europe/London", "2025-10-26T00:59:59", 3600},
        {"Europe/London", "2025-10-26T01:00:00", 0},
        {"Europe/Berlin", "2025-03-30T00:59:59", 3600},
        {"Europe/Berlin", "2025-03-30T01:00:00", 7200},
        {"Europe/Berlin", "2025-10-26T00:59:59", 7200},
        {"Europe/Berlin", "2025-10-26T01:00:00", 3600},
        {"Europe/Berlin", "2026-03-29T01:00:00", 7200},
        {"Europe/Berlin", "2026-10-25T01:00:00", 3600},
        /* Lord Howe: half-hour DST */
        {"Australia/Lord_Howe", "2025-04-05T14:59:59", 39600},
        {"Australia/Lord_Howe", "2025-04-05T15:00:00", 37800},
        {"Australia/Lord_Howe", "2025-10-04T15:29:59", 37800},
        {"Australia/Lord_Howe", "2025-10-04T15:30:00", 39600},
        {"Australia/Lord_Howe", "2026-04-04T15:00:00", 37800},
        {"Australia/Lord_Howe", "2026-10-03T15:30:00", 39600},
        /* Kolkata: +05:30 now, +06:30 during the war */
        {"Asia/Kolkata", "2025-01-01T00:00:00", 19800},
        {"Asia/Kolkata", "2025-07-01T00:00:00", 19800},
        {"Asia/Kolkata", "1944-01-01T00:00:00", 23400},
        /* history: year-round DST in 1974, British Standard Time, LMT */
        {"America/New_York", "1974-01-15T12:00:00", -14400},
        {"Europe/London", "1970-06-01T00:00:00", 3600},
        {"America/New_York", "1883-01-01T00:00:00", -17762},
        /* Samoa skipped 2011-12-30 entirely */
        {"Pacific/Apia", "2011-12-29T12:00:00", -36000},
        {"Pacific/Apia", "2011-12-31T12:00:00", 50400},
        /* after the last transition of the table: the POSIX footer */
        {"America/New_York", "2040-01-15T00:00:00", -18000},
        {"America/New_York", "2040-03-11T06:59:59", -18000},
        {"America/New_York", "2040-03-11T07:00:00", -14400},
        {"America/New_York", "2040-07-01T00:00:00", -14400},
        {"America/New_York", "2040-11-04T05:59:59", -14400},
        {"America/New_York", "2040-11-04T06:00:00", -18000},
        {"America/New_York", "2199-07-01T00:00:00", -14400},
        {"Europe/Berlin", "2090-07-01T00:00:00", 7200},
        {"Europe/Berlin", "2090-12-01T00:00:00", 3600},
        {"Australia/Lord_Howe", "2060-01-01T00:00:00", 39600},
        {"Australia/Lord_Howe", "2060-07-01T00:00:00", 37800},
        {"Asia/Kolkata", "2150-01-01T00:00:00", 19800},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int32_t got = jw_tz_offset_at(zone(cases[i].zone), secs(cases[i].utc));
        if (got != cases[i].offset)
            fail_msg("%s at %sZ: want %d, got %d", cases[i].zone, cases[i].utc, (int)cases[i].offset,
                     (int)got);
    }
    /* NULL means UTC; absurd instants do not crash */
    assert_int_equal(jw_tz_offset_at(NULL, 0), 0);
    int32_t far = jw_tz_offset_at(zone("America/New_York"), INT64_MAX);
    assert_true(far == -18000 || far == -14400);
    assert_int_equal(jw_tz_offset_at(zone("America/New_York"), INT64_MIN), -17762);
}

struct local_case {
    const char *zone;
    const char *local;
    int count;
    const char *utc[2];
};

static void test_local_to_utc(void **state)
{
    (void)state;
    static const struct local_case cases[] = {
        {"UTC", "2025-03-09T02:30:00", 1, {"2025-03-09T02:30:00", NULL}},
        {"Asia/Kolkata", "2025-03-09T02:30:00", 1, {"2025-03-08T21:00:00", NULL}},
        /* New York spring: 02:00-02:59 does not exist */
        {"America/New_York", "2025-03-09T01:59:59", 1, {"2025-03-09T06:59:59", NULL}},
        {"America/New_York", "2025-03-09T02:00:00", 0, {NULL, NULL}},
        {"America/New_York", "2025-03-09T02:30:00", 0, {NULL, NULL}},
        {"America/New_York", "2025-03-09T02:59:59", 0, {NULL, NULL}},
        {"America/New_York", "2025-03-09T03:00:00", 1, {"2025-03-09T07:00:00", NULL}},
        /* New York autumn: 01:00-01:59 happens twice */
        {"America/New_York", "2025-11-02T00:59:59", 1, {"2025-11-02T04:59:59", NULL}},
        {"America/New_York", "2025-11-02T01:00:00", 2, {"2025-11-02T05:00:00", "2025-11-02T06:00:00"}},
        {"America/New_York", "2025-11-02T01:30:00", 2, {"2025-11-02T05:30:00", "2025-11-02T06:30:00"}},
        {"America/New_York", "2025-11-02T01:59:59", 2, {"2025-11-02T05:59:59", "2025-11-02T06:59:59"}},
        {"America/New_York", "2025-11-02T02:00:00", 1, {"2025-11-02T07:00:00", NULL}},
        {"America/New_York", "2026-03-08T02:30:00", 0, {NULL, NULL}},
        {"America/New_York", "2026-11-01T01:30:00", 2, {"2026-11-01T05:30:00", "2026-11-01T06:30:00"}},
        /* London and Berlin */
        {"Europe/London", "2025-03-30T01:30:00", 0, {NULL, NULL}},
        {"Europe/London", "2025-10-26T01:30:00", 2, {"2025-10-26T00:30:00", "2025-10-26T01:30:00"}},
        {"Europe/Berlin", "2025-03-30T02:30:00", 0, {NULL, NULL}},
        {"Europe/Berlin", "2025-03-30T03:00:00", 1, {"2025-03-30T01:00:00", NULL}},
        {"Europe/Berlin", "2025-10-26T02:30:00", 2, {"2025-10-26T00:30:00", "2025-10-26T01:30:00"}},
        {"Europe/Berlin", "2025-10-26T03:00:00", 1, {"2025-10-26T02:00:00", NULL}},
        /* Lord Howe: 30-minute gap and overlap */
        {"Australia/Lord_Howe", "2025-10-05T02:00:00", 0, {NULL, NULL}},
        {"Australia/Lord_Howe", "2025-10-05T02:29:59", 0, {NULL, NULL}},
        {"Australia/Lord_Howe", "2025-10-05T02:30:00", 1, {"2025-10-04T15:30:00", NULL}},
        {"Australia/Lord_Howe", "2025-10-05T01:59:59", 1, {"2025-10-04T15:29:59", NULL}},
        {"Australia/Lord_Howe", "2025-04-06T01:29:59", 1, {"2025-04-05T14:29:59", NULL}},
        {"Australia/Lord_Howe", "2025-04-06T01:30:00", 2, {"2025-04-05T14:30:00", "2025-04-05T15:00:00"}},
        {"Australia/Lord_Howe", "2025-04-06T01:45:00", 2, {"2025-04-05T14:45:00", "2025-04-05T15:15:00"}},
        {"Australia/Lord_Howe", "2025-04-06T02:00:00", 1, {"2025-04-05T15:30:00", NULL}},
        /* a whole skipped day */
        {"Pacific/Apia", "2011-12-30T12:00:00", 0, {NULL, NULL}},
        /* the footer rule */
        {"America/New_York", "2040-03-11T02:30:00", 0, {NULL, NULL}},
        {"America/New_York", "2040-11-04T01:30:00", 2, {"2040-11-04T05:30:00", "2040-11-04T06:30:00"}},
        {"America/New_York", "2040-07-04T12:00:00", 1, {"2040-07-04T16:00:00", NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct local_case *c = &cases[i];
        int64_t out[2] = {-1, -1};
        int n = jw_tz_local_to_utc(zone(c->zone), secs(c->local), out);
        if (n != c->count)
            fail_msg("%s local %s: want %d answers, got %d", c->zone, c->local, c->count, n);
        for (int k = 0; k < n; k++) {
            if (out[k] != secs(c->utc[k]))
                fail_msg("%s local %s answer %d: want %sZ, got %lld", c->zone, c->local, k, c->utc[k],
                         (long long)out[k]);
        }
    }
    int64_t out[2];
    assert_int_equal(jw_tz_local_to_utc(NULL, 1000, out), 1);
    assert_int_equal(out[0], 1000);
}

static void test_gap_end(void **state)
{
    (void)state;
    const struct jw_tz *ny = zone("America/New_York");
    const struct jw_tz *lh = zone("Australia/Lord_Howe");
    assert_int_equal(jw_tz_gap_end(ny, secs("2025-03-09T02:30:00")), secs("2025-03-09T07:00:00"));
    assert_int_equal(jw_tz_gap_end(ny, secs("2025-03-09T02:00:00")), secs("2025-03-09T07:00:00"));
    assert_int_equal(jw_tz_gap_end(lh, secs("2025-10-05T02:15:00")), secs("2025-10-04T15:30:00"));
    assert_int_equal(jw_tz_gap_end(ny, secs("2040-03-11T02:59:59")), secs("2040-03-11T07:00:00"));
    assert_int_equal(jw_tz_gap_end(ny, secs("2025-03-09T03:00:00")), INT64_MIN);
    assert_int_equal(jw_tz_gap_end(ny, secs("2025-11-02T01:30:00")), INT64_MIN);
    assert_int_equal(jw_tz_gap_end(NULL, 12345), INT64_MIN);
}

static void test_transitions(void **state)
{
    (void)state;
    const struct jw_tz *ny = zone("America/New_York");
    assert_int_equal(jw_tz_next_transition(ny, secs("2025-01-01T00:00:00")), secs("2025-03-09T07:00:00"));
    assert_int_equal(jw_tz_next_transition(ny, secs("2025-03-09T07:00:00")), secs("2025-11-02T06:00:00"));
    assert_int_equal(jw_tz_next_transition(ny, secs("2025-03-09T06:59:59")), secs("2025-03-09T07:00:00"));
    assert_int_equal(jw_tz_prev_transition(ny, secs("2025-06-01T00:00:00")), secs("2025-03-09T07:00:00"));
    assert_int_equal(jw_tz_prev_transition(ny, secs("2025-03-09T07:00:00")), secs("2025-03-09T07:00:00"));
    assert_int_equal(jw_tz_prev_transition(ny, secs("2025-03-09T06:59:59")), secs("2024-11-03T06:00:00"));
    /* across the end of the table into the footer, and inside it */
    assert_int_equal(jw_tz_next_transition(ny, secs("2040-01-01T00:00:00")), secs("2040-03-11T07:00:00"));
    assert_int_equal(jw_tz_next_transition(ny, secs("2040-03-11T07:00:00")), secs("2040-11-04T06:00:00"));
    assert_int_equal(jw_tz_prev_transition(ny, secs("2040-06-01T00:00:00")), secs("2040-03-11T07:00:00"));
    assert_int_equal(jw_tz_prev_transition(ny, secs("2041-01-01T00:00:00")), secs("2040-11-04T06:00:00"));
    /* Lord Howe at half-hour instants */
    const struct jw_tz *lh = zone("Australia/Lord_Howe");
    assert_int_equal(jw_tz_next_transition(lh, secs("2025-06-01T00:00:00")), secs("2025-10-04T15:30:00"));
    /* no changes at all, or none any more */
    assert_int_equal(jw_tz_next_transition(zone("UTC"), 0), INT64_MAX);
    assert_int_equal(jw_tz_prev_transition(zone("UTC"), 0), INT64_MIN);
    assert_int_equal(jw_tz_next_transition(NULL, 0), INT64_MAX);
    assert_int_equal(jw_tz_next_transition(zone("Asia/Kolkata"), secs("2025-01-01T00:00:00")), INT64_MAX);
    assert_true(jw_tz_prev_transition(zone("Asia/Kolkata"), secs("2025-01-01T00:00:00")) <
                secs("1946-01-01T00:00:00"));
}

/* Every transition of New York 1970-2100 changes the offset, and offsets on
 * both sides agree with what next/prev report. */
static void test_transition_walk(void **state)
{
    (void)state;
    const char *zones[] = {"America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Pacific/Apia",
                           "Europe/London"};
    for (size_t z = 0; z < sizeof(zones) / sizeof(zones[0]); z++) {
        const struct jw_tz *tz = zone(zones[z]);
        int64_t t = secs("1970-01-01T00:00:00");
        int count = 0;
        while ((t = jw_tz_next_transition(tz, t)) < secs("2100-01-01T00:00:00")) {
            assert_int_not_equal(jw_tz_offset_at(tz, t - 1), jw_tz_offset_at(tz, t));
            assert_int_equal(jw_tz_prev_transition(tz, t), t);
            assert_true(jw_tz_prev_transition(tz, t - 1) < t);
            count++;
        }
        assert_true(count > 0);
    }
}

/* Loading: unknown directory, a directory without UTC, a corrupt file. */
static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void copy_file(const char *from, const char *to)
{
    FILE *f = fopen(from, "rb");
    assert_non_null(f);
    char buf[65536];
    size_t n = fread(buf, 1, sizeof(buf), f);
    assert_int_equal(fclose(f), 0);
    assert_true(n > 44);
    write_file(to, buf, n);
}

static void test_load(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(jw_tz_db_load("/nonexistent/zoneinfo", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "/nonexistent/zoneinfo"));
    /* a failed load keeps the previous database */
    assert_non_null(jw_tz_get("Europe/Berlin"));

    char dir[] = "/tmp/jw_tz_test_XXXXXX";
    assert_non_null(mkdtemp(dir));
    char p[512], sub[512], posix[512], bad[512], tab[512], zone_path[512];
    snprintf(sub, sizeof(sub), "%s/Test", dir);
    snprintf(posix, sizeof(posix), "%s/posix", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(mkdir(posix, 0700), 0);
    snprintf(zone_path, sizeof(zone_path), "%s/Test/Kolkata", dir);
    copy_file(ZONEINFO "/Asia/Kolkata", zone_path);
    snprintf(p, sizeof(p), "%s/posix/Ignored", dir);
    copy_file(ZONEINFO "/Asia/Kolkata", p);
    snprintf(tab, sizeof(tab), "%s/zone.tab", dir);
    write_file(tab, "# not a TZif file\n", 18);

    assert_int_equal(jw_tz_db_load(dir, err, sizeof(err)), 0);
    assert_non_null(jw_tz_get("UTC")); /* present although the folder lacks it */
    assert_int_equal(jw_tz_offset_at(jw_tz_get("UTC"), 1000), 0);
    assert_non_null(jw_tz_get("Test/Kolkata"));
    assert_int_equal(jw_tz_offset_at(jw_tz_get("Test/Kolkata"), secs("2025-01-01T00:00:00")), 19800);
    assert_null(jw_tz_get("zone.tab"));
    assert_null(jw_tz_get("posix/Ignored"));
    assert_null(jw_tz_get("Europe/Berlin"));

    /* a truncated TZif file is an error naming the file */
    snprintf(bad, sizeof(bad), "%s/Test/Broken", dir);
    write_file(bad, "TZif2\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24);
    assert_int_equal(jw_tz_db_load(dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "Test/Broken"));

    assert_int_equal(unlink(bad), 0);
    assert_int_equal(unlink(zone_path), 0);
    assert_int_equal(unlink(p), 0);
    assert_int_equal(unlink(tab), 0);
    assert_int_equal(rmdir(sub), 0);
    assert_int_equal(rmdir(posix), 0);
    assert_int_equal(rmdir(dir), 0);

    /* back to the system database for any later test */
    assert_int_equal(jw_tz_db_load(ZONEINFO, err, sizeof(err)), 0);
    assert_non_null(jw_tz_get("Europe/Berlin"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),        cmocka_unit_test(test_offsets),
        cmocka_unit_test(test_local_to_utc), cmocka_unit_test(test_gap_end),
        cmocka_unit_test(test_transitions),  cmocka_unit_test(test_transition_walk),
        cmocka_unit_test(test_load),
    };
    return cmocka_run_group_tests(tests, tz_setup, tz_teardown);
}
