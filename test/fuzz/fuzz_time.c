/* fuzz_time: libFuzzer target for the times and time zones a tenant gives:
 * the ISO 8601, date and relative-duration parsers of util/time.c (run_at,
 * start_at, scheduled_at, effective_from, exclusion dates, since/until) and
 * the Retry-After reader of exec/policy.c (a tenant's endpoint answers it),
 * zone names as a job's `timezone` (looked up in the real tz database, as
 * fuzz_cron loads it) and the UTC <-> local conversions of sched/tz.c, and a
 * schedule made with an arbitrary zone name.
 *
 * The first byte picks what the rest is:
 *   0: a string for every time parser;
 *   1: a zone name (one line; an unknown name picks a real zone by its
 *      hash), then instants (8 bytes each) to convert;
 *   2: a zone name line, then a cron expression, for a schedule.
 * Beyond "does not crash", it checks:
 * - an accepted ISO time formats back to itself when written in the
 *   canonical form, and any accepted time formats and parses to the same
 *   instant; durations are whole seconds within 100 years; dates survive
 *   the civil-day round trip;
 * - in every zone, local_to_utc(t + offset(t)) finds t, and every answer it
 *   gives maps back to the local time asked; a gap (no answer) has an end,
 *   and the offset changes exactly at next/prev_transition and nowhere
 *   between;
 * - a schedule's local time reads back (with its offset) as the instant. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/error.h"
#include "jobwheel/policy.h"
#include "jobwheel/schedule.h"
#include "jobwheel/time.h"
#include "jobwheel/tz.h"

#define NOW_MS INT64_C(1767225600000) /* 2026-01-01T00:00:00Z */
#define MAX_ISO_MS INT64_C(253402300799999)
#define MAX_OFFSET (26 * 3600)
/* Instants far from the tz module's clamp (2^53 s), yet past any rule. */
#define SPAN_S (INT64_C(1) << 40)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct jw_tz **zones;
static size_t nzones;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_time: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

/* Every zone the database has, by the names tzdata.zi gives (Z and L lines). */
static void list_zones(const char *dir)
{
    char path[512], line[512], name[256], target[256];
    snprintf(path, sizeof(path), "%s/tzdata.zi", dir);
    FILE *f = fopen(path, "r");
    size_t cap = 8;
    zones = calloc(cap, sizeof(*zones));
    zones[nzones++] = jw_tz_get("UTC");
    while (f && fgets(line, sizeof(line), f)) {
        const char *n = NULL;
        if (sscanf(line, "Z %255s", name) == 1)
            n = name;
        else if (sscanf(line, "L %255s %255s", target, name) == 2)
            n = name;
        const struct jw_tz *z = n ? jw_tz_get(n) : NULL;
        if (!z)
            continue;
        if (nzones == cap)
            zones = realloc(zones, (cap *= 2) * sizeof(*zones));
        zones[nzones++] = z;
    }
    if (f)
        fclose(f);
    if (!zones[0] || nzones < 2)
        die("no zones found under %s", dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("JW_ZONEINFO");
    if (!dir)
        dir = "/usr/share/zoneinfo";
    char err[256];
    if (jw_tz_db_load(dir, err, sizeof(err)) != 0)
        die("%s", err);
    list_zones(dir);
    return 0;
}

/* ---- mode 0: the parsers ---- */

static void parsers(const char *s)
{
    int64_t ms, d, p;
    if (jw_time_parse(s, &ms) == 0) {
        if (ms < 0 || ms > MAX_ISO_MS + 86400000)
            die("\"%s\" parsed to %lld, outside 1970..9999", s, (long long)ms);
        if (ms <= MAX_ISO_MS) {
            char out[JW_TIME_ISO_SIZE];
            int64_t back;
            jw_time_format(ms, out);
            if (jw_time_parse(out, &back) != 0 || back != ms)
                die("\"%s\" -> %lld -> \"%s\" does not parse back", s, (long long)ms, out);
            /* the canonical form (what the API writes) is a fixed point; a
             * leap second (:60) is not canonical: it reads as :59.999 */
            if (strlen(s) == 24 && s[10] == 'T' && s[19] == '.' && s[23] == 'Z' && strncmp(s + 17, "60", 2) &&
                strcmp(out, s) != 0)
                die("\"%s\" formats back as \"%s\"", s, out);
        }
    }
    if (jw_time_parse_duration(s, &d) == 0) {
        if (d < 1000 || d % 1000 != 0 || d > INT64_C(100) * 366 * 86400 * 1000)
            die("duration \"%s\" is %lld ms", s, (long long)d);
        if (jw_time_parse_point(s, NOW_MS, &p) != 0 || p != NOW_MS - d)
            die("\"%s\" as a point is not now minus the duration", s);
    } else {
        int rc = jw_time_parse_point(s, NOW_MS, &p);
        if ((rc == 0) != (jw_time_parse(s, &ms) == 0) || (rc == 0 && p != ms))
            die("\"%s\" as a point is not the time it parses to", s);
    }
    /* a Retry-After header from a tenant's endpoint: -1, or a wait */
    int64_t ra = jw_retry_after_ms(s, NOW_MS);
    if (ra < -1)
        die("Retry-After \"%s\" gave %lld", s, (long long)ra);
    int y, m, dd;
    if (jw_time_parse_date(s, &y, &m, &dd) == 0) {
        int64_t days = jw_days_from_civil(y, m, dd), yy;
        int mm, dd2;
        jw_civil_from_days(days, &yy, &mm, &dd2);
        int wd = jw_weekday_from_days(days);
        if (yy != y || mm != m || dd2 != dd || wd < 0 || wd > 6)
            die("date \"%s\" -> day %lld -> %lld-%d-%d (weekday %d)", s, (long long)days, (long long)yy, mm,
                dd2, wd);
    }
}

/* ---- mode 1: conversions in one zone ---- */

static const struct jw_tz *zone_of(const char *name)
{
    const struct jw_tz *z = jw_tz_get(name);
    if (z) {
        if (strcmp(jw_tz_name(z), name) != 0)
            die("zone \"%s\" calls itself \"%s\"", name, jw_tz_name(z));
        return z;
    }
    uint32_t h = 2166136261u;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return zones[h % nzones];
}

static void convert(const struct jw_tz *z, int64_t t)
{
    const char *zn = jw_tz_name(z);
    int32_t off = jw_tz_offset_at(z, t);
    if (off < -MAX_OFFSET || off > MAX_OFFSET)
        die("%s at %lld: offset %d", zn, (long long)t, off);

    /* t is found from its own local time; every answer maps back */
    int64_t local = t + off, out[2];
    int n = jw_tz_local_to_utc(z, local, out);
    if (n < 0 || n > 2 || (n == 2 && out[0] >= out[1]))
        die("%s: local %lld gave %d answers", zn, (long long)local, n);
    bool found = false;
    for (int i = 0; i < n; i++) {
        found = found || out[i] == t;
        if (out[i] + jw_tz_offset_at(z, out[i]) != local)
            die("%s: local %lld -> %lld, which is local %lld", zn, (long long)local, (long long)out[i],
                (long long)(out[i] + jw_tz_offset_at(z, out[i])));
    }
    if (!found)
        die("%s: %lld (offset %d) is not among the answers for its local time %lld", zn, (long long)t, off,
            (long long)local);
    if (jw_tz_gap_end(z, local) != INT64_MIN)
        die("%s: local %lld has an answer and a gap end", zn, (long long)local);

    /* a local time in a gap: the gap ends where local time passes it */
    int64_t shifted = local + (t % 7200 + 7200) % 7200 - 3600;
    if (jw_tz_local_to_utc(z, shifted, out) == 0) {
        int64_t g = jw_tz_gap_end(z, shifted);
        if (g == INT64_MIN || g + jw_tz_offset_at(z, g) <= shifted ||
            g - 1 + jw_tz_offset_at(z, g - 1) >= shifted)
            die("%s: local %lld is in a gap, which ends at %lld", zn, (long long)shifted, (long long)g);
    }

    /* the offset changes exactly at the transitions around t */
    int64_t next = jw_tz_next_transition(z, t);
    if (next <= t)
        die("%s: next transition after %lld is %lld", zn, (long long)t, (long long)next);
    if (next != INT64_MAX && next < SPAN_S &&
        (jw_tz_offset_at(z, next - 1) != off || jw_tz_offset_at(z, next) == off))
        die("%s: no change at the next transition %lld after %lld", zn, (long long)next, (long long)t);
    int64_t prev = jw_tz_prev_transition(z, t);
    if (prev > t)
        die("%s: previous transition before %lld is %lld", zn, (long long)t, (long long)prev);
    if (prev != INT64_MIN && prev > -SPAN_S &&
        (jw_tz_offset_at(z, prev) != off || jw_tz_offset_at(z, prev - 1) == off))
        die("%s: no change at the previous transition %lld before %lld", zn, (long long)prev, (long long)t);
}

/* ---- mode 2: a schedule in a zone named by the tenant ---- */

static void schedule(const char *zone, const char *cron)
{
    struct jw_schedule_spec spec = {.cron = cron, .start_at_ms = -1, .run_at_ms = -1, .timezone = zone};
    struct jw_error e;
    memset(&e, 0, sizeof(e));
    struct jw_schedule *s = jw_schedule_new(&spec, &e);
    if (!s) {
        if (e.status != 400 || !e.detail[0])
            die("schedule refused with %d \"%s\"", e.status, e.detail);
        return;
    }
    if (strcmp(jw_schedule_timezone(s), zone) != 0)
        die("schedule in \"%s\" says its zone is \"%s\"", zone, jw_schedule_timezone(s));
    int64_t t = NOW_MS;
    for (int i = 0; i < 4; i++) {
        int64_t next = jw_schedule_next(s, t);
        if (next == -1)
            break;
        if (next <= t)
            die("schedule in %s: next after %lld is %lld", zone, (long long)t, (long long)next);
        char local[40];
        int32_t off;
        int64_t back;
        jw_schedule_local_time(s, next, local, &off);
        if (off % 60 == 0 && next <= MAX_ISO_MS && (jw_time_parse(local, &back) != 0 || back != next))
            die("schedule in %s: %lld shows as \"%s\"", zone, (long long)next, local);
        t = next;
    }
    jw_schedule_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char text[260];
    if (size < 1 || size > sizeof(text))
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    switch (data[0] % 3) {
    case 0: parsers(text); break;
    case 1: {
        size_t nl = strcspn(text, "\n");
        text[nl] = '\0';
        const struct jw_tz *z = zone_of(text);
        /* the instants: 8 bytes each after the name line, else one from a hash */
        const uint8_t *p = data + 1 + nl + 1;
        size_t left = 1 + nl + 1 < size ? size - (1 + nl + 1) : 0;
        uint64_t u = 1469598103934665603u;
        for (size_t i = 0; i < size; i++)
            u = (u ^ data[i]) * 1099511628211u;
        for (size_t i = 0; i + 8 <= left || (i == 0 && left < 8); i += 8) {
            if (left >= 8)
                for (size_t k = 0; k < 8; k++)
                    u = u << 8 | p[i + k];
            /* half of them between 1800 and 2200, where the rules change most */
            int64_t t = u >> 63 ? INT64_C(-5364662400) + (int64_t)(u % UINT64_C(12622780800))
                                : (int64_t)(u % (2 * (uint64_t)SPAN_S)) - SPAN_S;
            convert(z, t);
        }
        break;
    }
    default: {
        char *nl = strchr(text, '\n');
        if (!nl)
            return 0;
        *nl = '\0';
        schedule(text, nl + 1);
        break;
    }
    }
    return 0;
}
