/* schedule: one job's timing — its cron, interval or one instant in a zone,
 * the execution window and exclusions that suppress firings, and the misfire
 * policy that decides what runs after an outage. Pure: no I/O. */
#include "jobwheel/schedule.h"

#include "jobwheel/buf.h"
#include "jobwheel/cron.h"
#include "jobwheel/job.h"
#include "jobwheel/json.h"
#include "jobwheel/time.h"
#include "jobwheel/tz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define INTERVAL_MAX_S INT64_C(31536000)
#define INSTANT_MAX_MS INT64_C(253402300799999) /* 9999-12-31T23:59:59.999Z */
#define DATES_MAX 366
#define DAYS_MAX 7
#define MAX_RUNS_DEFAULT 100
#define MAX_RUNS_MAX 1000
#define CATCHUP_DEFAULT_S 86400
#define CATCHUP_MAX_S INT64_C(31536000)
#define EXCLUSIONS_DEPTH 8
/* The most cron firings catch-up walks to count skipped ones (see the header). */
#define COUNT_WALK_MAX 1000000

enum sched_kind { SK_NONE, SK_CRON, SK_INTERVAL, SK_ONCE };

struct jw_schedule {
    enum sched_kind kind;
    struct jw_cron *cron;   /* SK_CRON; owned */
    int64_t cron_unit_ms;   /* 1000 with a seconds field, else 60000 */
    int64_t anchor_ms;      /* SK_INTERVAL: the first firing */
    int64_t interval_ms;    /* SK_INTERVAL */
    int64_t run_at_ms;      /* SK_ONCE */
    const struct jw_tz *tz; /* owned by the tz database */
    char *tz_name;          /* owned */

    struct jw_cron *window; /* execution window, or NULL; owned */
    char *window_expr;      /* its text, for messages; owned */
    int64_t window_unit_ms; /* the window matches whole seconds or minutes */
    int64_t *dates;         /* excluded local days (since 1970-01-01), sorted; owned */
    size_t ndates;          /* distinct entries in dates */
    unsigned days;          /* bit w: weekday w (0 = Sunday) excluded */
    bool has_range;         /* a daily excluded time range */
    int32_t range_start;    /* seconds of the local day, inclusive */
    int32_t range_end;      /* seconds of the local day, exclusive */
    char range_text[24];    /* "22:00-06:00" */
    enum jw_misfire misfire;
    int64_t max_runs;   /* fire_all cap, 1..1000 */
    int64_t catchup_ms; /* misfires older than this are dropped */
};

static const char *const day_names[7] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                         "Thursday", "Friday", "Saturday"};

/* ---- arithmetic ---- */

static int64_t sat_add(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    int64_t r;
    if (__builtin_sub_overflow(a, b, &r))
        return b < 0 ? INT64_MAX : INT64_MIN;
    return r;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return -jw_floor_div(-a, b);
}

/* The local wall-clock second of an instant in the schedule's zone. */
static int64_t local_second(const struct jw_schedule *s, int64_t ms, int32_t *off)
{
    int64_t sec = jw_floor_div(ms, 1000);
    int32_t o = jw_tz_offset_at(s->tz, sec);
    if (off)
        *off = o;
    return sat_add(sec, o);
}

/* ---- parsing ---- */

static int parse_cron(const char *expr, const char *field, struct jw_cron **out, struct jw_error *err)
{
    char why[200];
    *out = jw_cron_parse(expr, why, sizeof(why));
    if (!*out)
        return jw_fail(err, 400, field, "%s is not a valid cron expression: %s", field, why);
    return 0;
}

static int check_instant(int64_t ms, const char *field, struct jw_error *err)
{
    if (ms < -1 || ms > INSTANT_MAX_MS)
        return jw_fail(err, 400, field, "%s must be an instant from 1970 to 9999", field);
    return 0;
}

static int check_range(int64_t v, int64_t max, const char *field, struct jw_error *err)
{
    if (v < 1 || v > max)
        return jw_fail(err, 400, field, "%s must be from 1 to %lld, got %lld", field, (long long)max,
                       (long long)v);
    return 0;
}

/* "HH:MM" or "HH:MM:SS", 00:00 to 23:59:59, as seconds of the day. */
static int parse_time_of_day(const char *p, int32_t *out)
{
    size_t n = strlen(p);
    if (n != 5 && n != 8)
        return -1;
    for (size_t i = 0; i < n; i++) {
        bool colon = i == 2 || i == 5;
        if (colon ? p[i] != ':' : (p[i] < '0' || p[i] > '9'))
            return -1;
    }
    int h = (p[0] - '0') * 10 + (p[1] - '0');
    int m = (p[3] - '0') * 10 + (p[4] - '0');
    int sec = n == 8 ? (p[6] - '0') * 10 + (p[7] - '0') : 0;
    if (h > 23 || m > 59 || sec > 59)
        return -1;
    *out = h * 3600 + m * 60 + sec;
    return 0;
}

static void format_time_of_day(char buf[9], int32_t sod)
{
    unsigned u = (unsigned)sod, h = u / 3600 % 24, m = u / 60 % 60, sec = u % 60;
    if (sec)
        snprintf(buf, 9, "%02u:%02u:%02u", h, m, sec);
    else
        snprintf(buf, 9, "%02u:%02u", h, m);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int parse_dates(struct jw_schedule *s, const struct jw_json *v, struct jw_error *err)
{
    if (v->type != JW_JSON_ARRAY)
        return jw_fail(err, 400, "exclusions.dates",
                       "exclusions.dates must be an array of \"YYYY-MM-DD\" dates");
    if (v->len > DATES_MAX)
        return jw_fail(err, 400, "exclusions.dates", "exclusions.dates may have at most %d entries",
                       DATES_MAX);
    s->dates = jw_calloc(v->len ? v->len : 1, sizeof(*s->dates));
    for (size_t i = 0; i < v->len; i++) {
        const struct jw_json *e = v->u.items[i];
        int y, m, d;
        if (e->type != JW_JSON_STRING || jw_time_parse_date(e->u.str, &y, &m, &d) != 0) {
            char f[48];
            snprintf(f, sizeof(f), "exclusions.dates[%zu]", i);
            return jw_fail(err, 400, f, "%s must be a calendar date \"YYYY-MM-DD\" from 1970 on", f);
        }
        s->dates[i] = jw_days_from_civil(y, m, d);
    }
    qsort(s->dates, v->len, sizeof(*s->dates), cmp_i64);
    size_t n = 0; /* drop duplicates */
    for (size_t i = 0; i < v->len; i++)
        if (n == 0 || s->dates[n - 1] != s->dates[i])
            s->dates[n++] = s->dates[i];
    s->ndates = n;
    return 0;
}

static int day_from_json(const struct jw_json *e)
{
    if (e->type == JW_JSON_NUMBER) {
        int64_t v;
        if (jw_json_int(e, &v) != 0 || v < 0 || v > 6)
            return -1;
        return (int)v;
    }
    if (e->type != JW_JSON_STRING)
        return -1;
    for (int w = 0; w < 7; w++) {
        if (strcasecmp(e->u.str, day_names[w]) == 0 ||
            (e->len == 3 && strncasecmp(e->u.str, day_names[w], 3) == 0))
            return w;
    }
    return -1;
}

static int parse_days(struct jw_schedule *s, const struct jw_json *v, struct jw_error *err)
{
    if (v->type != JW_JSON_ARRAY)
        return jw_fail(err, 400, "exclusions.days_of_week", "exclusions.days_of_week must be an array");
    if (v->len > DAYS_MAX)
        return jw_fail(err, 400, "exclusions.days_of_week",
                       "exclusions.days_of_week may have at most %d entries", DAYS_MAX);
    for (size_t i = 0; i < v->len; i++) {
        int w = day_from_json(v->u.items[i]);
        if (w < 0) {
            char f[48];
            snprintf(f, sizeof(f), "exclusions.days_of_week[%zu]", i);
            return jw_fail(err, 400, f,
                           "%s must be a day name (\"Monday\" or \"Mon\", any case) or 0-6 (0 = Sunday)", f);
        }
        s->days |= 1u << w;
    }
    return 0;
}

static int parse_range_end(const struct jw_json *tr, const char *name, int32_t *out, struct jw_error *err)
{
    char f[48];
    snprintf(f, sizeof(f), "exclusions.time_range.%s", name);
    const struct jw_json *v = jw_json_get(tr, name);
    if (!v || v->type == JW_JSON_NULL)
        return jw_fail(err, 400, f, "%s is required", f);
    if (v->type != JW_JSON_STRING || parse_time_of_day(v->u.str, out) != 0)
        return jw_fail(err, 400, f, "%s must be a time of day \"HH:MM\" or \"HH:MM:SS\" from 00:00 to 23:59",
                       f);
    return 0;
}

static int parse_range(struct jw_schedule *s, const struct jw_json *v, struct jw_error *err)
{
    if (v->type != JW_JSON_OBJECT)
        return jw_fail(err, 400, "exclusions.time_range",
                       "exclusions.time_range must be an object {\"start\": \"HH:MM\", \"end\": \"HH:MM\"}");
    for (size_t i = 0; i < v->len; i++) {
        const char *k = v->u.members[i].key;
        if (strcmp(k, "start") != 0 && strcmp(k, "end") != 0) {
            char f[96];
            snprintf(f, sizeof(f), "exclusions.time_range.%.60s", k);
            return jw_fail(err, 400, f, "unknown field %s (expected start, end)", f);
        }
    }
    if (parse_range_end(v, "start", &s->range_start, err) != 0 ||
        parse_range_end(v, "end", &s->range_end, err) != 0)
        return -1;
    if (s->range_start == s->range_end)
        return jw_fail(err, 400, "exclusions.time_range.end",
                       "exclusions.time_range.end must differ from start (the range would be empty)");
    char a[9], b[9];
    format_time_of_day(a, s->range_start);
    format_time_of_day(b, s->range_end);
    snprintf(s->range_text, sizeof(s->range_text), "%s-%s", a, b);
    s->has_range = true;
    return 0;
}

static int parse_exclusions(struct jw_schedule *s, const char *text, struct jw_error *err)
{
    char why[160];
    struct jw_json_doc *doc = jw_json_parse(text, strlen(text), EXCLUSIONS_DEPTH, why, sizeof(why));
    if (!doc)
        return jw_fail(err, 400, "exclusions", "exclusions: %s", why);
    const struct jw_json *root = jw_json_root(doc);
    int rc = 0;
    if (root->type != JW_JSON_OBJECT && root->type != JW_JSON_NULL) {
        rc = jw_fail(err, 400, "exclusions", "exclusions must be an object, not %s",
                     jw_json_type_name(root->type));
    }
    for (size_t i = 0; rc == 0 && root->type == JW_JSON_OBJECT && i < root->len; i++) {
        const char *k = root->u.members[i].key;
        const struct jw_json *v = root->u.members[i].val;
        if (strcmp(k, "dates") == 0) {
            if (v->type != JW_JSON_NULL)
                rc = parse_dates(s, v, err);
        } else if (strcmp(k, "days_of_week") == 0) {
            if (v->type != JW_JSON_NULL)
                rc = parse_days(s, v, err);
        } else if (strcmp(k, "time_range") == 0) {
            if (v->type != JW_JSON_NULL)
                rc = parse_range(s, v, err);
        } else {
            char f[96];
            snprintf(f, sizeof(f), "exclusions.%.60s", k);
            rc = jw_fail(err, 400, f, "unknown field %s (expected dates, days_of_week, time_range)", f);
        }
    }
    jw_json_doc_free(doc);
    return rc;
}

static int parse_spec(struct jw_schedule *s, const struct jw_schedule_spec *spec, struct jw_error *err)
{
    struct jw_checks c = {.err = err}; /* every bad field at once */
    const char *which = NULL;          /* the schedule field given first */
    if (spec->cron) {
        if (parse_cron(spec->cron, "cron", &s->cron, jw_checks_into(&c)) != 0) {
            jw_checks_failed(&c);
        } else {
            s->cron_unit_ms = jw_cron_has_seconds(s->cron) ? 1000 : 60000;
            s->kind = SK_CRON;
        }
        which = "cron";
    }
    if (spec->interval_seconds != 0) {
        if (check_range(spec->interval_seconds, INTERVAL_MAX_S, "interval_seconds", jw_checks_into(&c)) != 0) {
            jw_checks_failed(&c);
        } else if (which) {
            jw_fail(jw_checks_into(&c), 400, "interval_seconds",
                    "give only one of cron, interval_seconds and run_at (%s is set too)", which);
            jw_checks_failed(&c);
        } else {
            s->kind = SK_INTERVAL;
            s->interval_ms = spec->interval_seconds * 1000;
        }
        which = which ? which : "interval_seconds";
    }
    if (spec->run_at_ms != -1) {
        if (check_instant(spec->run_at_ms, "run_at", jw_checks_into(&c)) != 0) {
            jw_checks_failed(&c);
        } else if (which) {
            jw_fail(jw_checks_into(&c), 400, "run_at",
                    "give only one of cron, interval_seconds and run_at (%s is set too)", which);
            jw_checks_failed(&c);
        } else {
            s->kind = SK_ONCE;
            s->run_at_ms = spec->run_at_ms;
        }
    }
    if (check_instant(spec->start_at_ms, "start_at", jw_checks_into(&c)) != 0)
        jw_checks_failed(&c);
    s->anchor_ms = spec->start_at_ms == -1 ? 0 : spec->start_at_ms;

    const char *zone = spec->timezone ? spec->timezone : "UTC";
    s->tz = jw_tz_get(zone);
    if (!s->tz) {
        jw_fail(jw_checks_into(&c), 400, "timezone", "timezone \"%.64s\" is not an IANA time zone name", zone);
        jw_checks_failed(&c);
    } else {
        s->tz_name = jw_strdup(zone);
    }

    if (spec->window_cron) {
        if (parse_cron(spec->window_cron, "execution_window_cron", &s->window, jw_checks_into(&c)) != 0) {
            jw_checks_failed(&c);
        } else {
            s->window_expr = jw_strdup(spec->window_cron);
            s->window_unit_ms = jw_cron_has_seconds(s->window) ? 1000 : 60000;
        }
    }
    if (spec->exclusions_json && parse_exclusions(s, spec->exclusions_json, jw_checks_into(&c)) != 0)
        jw_checks_failed(&c);

    const char *policy = spec->misfire_policy ? spec->misfire_policy : "fire_once";
    if (strcmp(policy, "fire_once") == 0) {
        s->misfire = JW_MISFIRE_FIRE_ONCE;
    } else if (strcmp(policy, "skip") == 0) {
        s->misfire = JW_MISFIRE_SKIP;
    } else if (strcmp(policy, "fire_all") == 0) {
        s->misfire = JW_MISFIRE_FIRE_ALL;
    } else {
        jw_fail(jw_checks_into(&c), 400, "misfire_policy",
                "misfire_policy must be one of fire_once, skip, fire_all; got \"%.40s\"", policy);
        jw_checks_failed(&c);
    }

    s->max_runs = spec->misfire_max_runs == 0 ? MAX_RUNS_DEFAULT : spec->misfire_max_runs;
    if (check_range(s->max_runs, MAX_RUNS_MAX, "misfire_max_runs", jw_checks_into(&c)) != 0)
        jw_checks_failed(&c);
    int64_t catchup_s = spec->catchup_window_secs == 0 ? CATCHUP_DEFAULT_S : spec->catchup_window_secs;
    if (check_range(catchup_s, CATCHUP_MAX_S, "catchup_window_secs", jw_checks_into(&c)) != 0)
        jw_checks_failed(&c);
    s->catchup_ms = catchup_s * 1000;
    return c.bad ? -1 : 0;
}

struct jw_schedule *jw_schedule_new(const struct jw_schedule_spec *spec, struct jw_error *err)
{
    struct jw_schedule *s = jw_calloc(1, sizeof(*s));
    s->kind = SK_NONE;
    if (parse_spec(s, spec, err) != 0) {
        jw_schedule_free(s);
        return NULL;
    }
    return s;
}

void jw_schedule_free(struct jw_schedule *s)
{
    if (!s)
        return;
    jw_cron_free(s->cron);
    jw_cron_free(s->window);
    free(s->window_expr);
    free(s->tz_name);
    free(s->dates);
    free(s);
}

bool jw_schedule_fires(const struct jw_schedule *s)
{
    return s->kind != SK_NONE;
}

enum jw_misfire jw_schedule_misfire(const struct jw_schedule *s)
{
    return s->misfire;
}

int64_t jw_schedule_misfire_max(const struct jw_schedule *s)
{
    return s->max_runs;
}

int64_t jw_schedule_catchup_ms(const struct jw_schedule *s)
{
    return s->catchup_ms;
}

const char *jw_schedule_timezone(const struct jw_schedule *s)
{
    return s->tz_name;
}

/* ---- nominal firings ---- */

int64_t jw_schedule_next(const struct jw_schedule *s, int64_t after_ms)
{
    switch (s->kind) {
    case SK_NONE: return -1;
    case SK_CRON: return jw_cron_next(s->cron, s->tz, after_ms);
    case SK_ONCE: return s->run_at_ms > after_ms ? s->run_at_ms : -1;
    case SK_INTERVAL: {
        if (after_ms < s->anchor_ms)
            return s->anchor_ms;
        int64_t k = (after_ms - s->anchor_ms) / s->interval_ms + 1, r;
        if (__builtin_mul_overflow(k, s->interval_ms, &r) || __builtin_add_overflow(r, s->anchor_ms, &r))
            return -1;
        return r;
    }
    }
    return -1;
}

/* The last firing of the cron at or after lo and strictly before x, or -1.
 * Cron can only look forward, so look back in growing steps until a step
 * holds a firing, then narrow down to the last one in it by bisection over
 * whole seconds (every cron firing is a whole second): O(log span) calls. */
static int64_t cron_prev(const struct jw_schedule *s, int64_t x, int64_t lo)
{
    if (x <= lo)
        return -1;
    int64_t step = s->cron_unit_ms, c;
    for (;;) {
        int64_t from = sat_sub(x, step);
        if (from < lo)
            from = lo;
        c = jw_cron_next(s->cron, s->tz, sat_sub(from, 1));
        if (c >= 0 && c < x)
            break;
        if (from == lo)
            return -1;
        step = step > INT64_MAX / 2 ? INT64_MAX : step * 2;
    }
    int64_t d = jw_cron_next(s->cron, s->tz, c);
    if (d < 0 || d >= x)
        return c; /* the common case: c is the last */
    /* lo_s is a firing before x; none lies in [hi_s, x) */
    int64_t lo_s = jw_floor_div(d, 1000), hi_s = ceil_div(x, 1000);
    while (hi_s - lo_s > 1) {
        int64_t mid = lo_s + (hi_s - lo_s) / 2;
        int64_t e = jw_cron_next(s->cron, s->tz, mid * 1000 - 1);
        if (e >= 0 && e < x)
            lo_s = jw_floor_div(e, 1000);
        else
            hi_s = mid;
    }
    return lo_s * 1000;
}

/* The last nominal firing in [lo, x), or -1. */
static int64_t prev_firing(const struct jw_schedule *s, int64_t x, int64_t lo)
{
    switch (s->kind) {
    case SK_NONE: return -1;
    case SK_CRON: return cron_prev(s, x, lo);
    case SK_ONCE: return s->run_at_ms >= lo && s->run_at_ms < x ? s->run_at_ms : -1;
    case SK_INTERVAL: {
        if (x <= s->anchor_ms)
            return -1;
        int64_t t = s->anchor_ms + (x - 1 - s->anchor_ms) / s->interval_ms * s->interval_ms;
        return t >= lo ? t : -1;
    }
    }
    return -1;
}

/* How many nominal firings lie in [a, b]; for cron at most COUNT_WALK_MAX. */
static int64_t count_firings(const struct jw_schedule *s, int64_t a, int64_t b)
{
    if (b < a)
        return 0;
    switch (s->kind) {
    case SK_NONE: return 0;
    case SK_ONCE: return s->run_at_ms >= a && s->run_at_ms <= b;
    case SK_INTERVAL: {
        if (b < s->anchor_ms)
            return 0;
        int64_t from = a > s->anchor_ms ? a : s->anchor_ms;
        int64_t k_lo = ceil_div(from - s->anchor_ms, s->interval_ms);
        int64_t k_hi = (b - s->anchor_ms) / s->interval_ms;
        return k_hi >= k_lo ? k_hi - k_lo + 1 : 0;
    }
    case SK_CRON: {
        int64_t n = 0;
        for (int64_t t = jw_cron_next(s->cron, s->tz, sat_sub(a, 1)); t >= 0 && t <= b && n < COUNT_WALK_MAX;
             t = jw_cron_next(s->cron, s->tz, t))
            n++;
        return n;
    }
    }
    return 0;
}

/* The firings to run are always the latest ones in [due, now]: every late
 * one, then going back the misfires the policy keeps, as long as out has
 * room. So walk back from now collecting them, and count everything older
 * as skipped. */
size_t jw_schedule_catch_up(const struct jw_schedule *s, int64_t due_ms, int64_t now_ms, int64_t threshold_ms,
                            int64_t *out, size_t cap, int64_t *skipped, int64_t *next_ms)
{
    size_t n = 0;
    int64_t missed = 0;
    if (s->kind != SK_NONE && due_ms <= now_ms) {
        if (!out)
            cap = 0;
        int64_t late_from = sat_sub(now_ms, threshold_ms > 0 ? threshold_ms : 0);
        int64_t keep_from = sat_sub(now_ms, s->catchup_ms); /* misfires before it are dropped */
        if (keep_from > late_from)
            keep_from = late_from;
        int64_t quota = s->misfire == JW_MISFIRE_SKIP        ? 0
                        : s->misfire == JW_MISFIRE_FIRE_ONCE ? 1
                                                             : s->max_runs;
        int64_t t = prev_firing(s, sat_add(now_ms, 1), due_ms);
        for (; t >= 0; t = prev_firing(s, t, due_ms)) {
            if (n == cap)
                break;
            if (t < late_from) { /* a misfire */
                if (t < keep_from || quota == 0)
                    break;
                quota--;
            }
            out[n++] = t;
        }
        if (t >= 0)
            missed = count_firings(s, due_ms, t);
        for (size_t i = 0; i < n / 2; i++) { /* oldest first */
            int64_t tmp = out[i];
            out[i] = out[n - 1 - i];
            out[n - 1 - i] = tmp;
        }
    }
    if (skipped)
        *skipped = missed;
    if (next_ms)
        *next_ms = jw_schedule_next(s, now_ms);
    return n;
}

/* ---- suppression and display ---- */

static bool in_window(const struct jw_schedule *s, int64_t ms)
{
    int32_t off;
    local_second(s, ms, &off);
    /* the instant ms's local second or minute began (floored in local time,
     * which differs from UTC only for offsets with seconds, e.g. Monrovia
     * before 1972) */
    int64_t unit = s->window_unit_ms;
    int64_t local_ms = sat_add(ms, (int64_t)off * 1000);
    int64_t start = ms - (local_ms - jw_floor_div(local_ms, unit) * unit);
    return jw_cron_next(s->window, s->tz, start - 1) == start;
}

const char *jw_schedule_suppressed(const struct jw_schedule *s, int64_t nominal_ms, char *buf, size_t buflen)
{
    bool write = buf && buflen > 0;
    int64_t local = local_second(s, nominal_ms, NULL);
    int64_t day = jw_floor_div(local, 86400);
    int32_t sod = (int32_t)(local - day * 86400);
    if (s->ndates && bsearch(&day, s->dates, s->ndates, sizeof(*s->dates), cmp_i64)) {
        if (!write)
            return "excluded date";
        int64_t y;
        int m, d;
        jw_civil_from_days(day, &y, &m, &d);
        snprintf(buf, buflen, "excluded date %04lld-%02d-%02d", (long long)y, m, d);
        return buf;
    }
    int w = jw_weekday_from_days(day);
    if (s->days & (1u << w)) {
        if (!write)
            return "excluded day";
        snprintf(buf, buflen, "excluded day %s", day_names[w]);
        return buf;
    }
    if (s->has_range) {
        bool in = s->range_start < s->range_end ? sod >= s->range_start && sod < s->range_end
                                                : sod >= s->range_start || sod < s->range_end;
        if (in) {
            if (!write)
                return "inside the excluded time range";
            snprintf(buf, buflen, "inside the excluded time range %s", s->range_text);
            return buf;
        }
    }
    if (s->window && !in_window(s, nominal_ms)) {
        if (!write)
            return "outside the execution window";
        snprintf(buf, buflen, "outside the execution window (%s)", s->window_expr);
        return buf;
    }
    return NULL;
}

void jw_schedule_local_time(const struct jw_schedule *s, int64_t ms, char out[40], int32_t *offset_s)
{
    int32_t off;
    local_second(s, ms, &off);
    int64_t local_ms = sat_add(ms, (int64_t)off * 1000);
    int64_t days = jw_floor_div(local_ms, 86400000);
    int64_t rem = local_ms - days * 86400000; /* 0 .. 86399999 */
    int64_t y;
    int m, d;
    jw_civil_from_days(days, &y, &m, &d);
    int32_t a = off < 0 ? -off : off;
    snprintf(out, 40, "%04lld-%02d-%02dT%02d:%02d:%02d.%03d%c%02d:%02d", (long long)y, m, d,
             (int)(rem / 3600000), (int)(rem / 60000 % 60), (int)(rem / 1000 % 60), (int)(rem % 1000),
             off < 0 ? '-' : '+', (int)(a / 3600), (int)(a / 60 % 60));
    if (offset_s)
        *offset_s = off;
}

/* ---- a job's schedule: its fields as a spec (the scheduler and core/jobs.c) ---- */

struct jw_schedule *jw_job_schedule(const struct jw_job *j, struct jw_error *err)
{
    const struct jw_fval *f = j->f;
    struct jw_schedule_spec spec = {
        .cron = f[JW_JOB_CRON].set ? f[JW_JOB_CRON].s : NULL,
        .interval_seconds = f[JW_JOB_INTERVAL_SECONDS].set ? f[JW_JOB_INTERVAL_SECONDS].i : 0,
        .start_at_ms = f[JW_JOB_START_AT].set ? f[JW_JOB_START_AT].i : -1,
        .run_at_ms = f[JW_JOB_RUN_AT].set ? f[JW_JOB_RUN_AT].i : -1,
        .timezone = f[JW_JOB_TIMEZONE].set ? f[JW_JOB_TIMEZONE].s : NULL,
        .window_cron = f[JW_JOB_EXECUTION_WINDOW_CRON].set ? f[JW_JOB_EXECUTION_WINDOW_CRON].s : NULL,
        .exclusions_json = f[JW_JOB_EXCLUSIONS].set ? f[JW_JOB_EXCLUSIONS].s : NULL,
        .misfire_policy = f[JW_JOB_MISFIRE_POLICY].set ? f[JW_JOB_MISFIRE_POLICY].s : NULL,
        .misfire_max_runs = f[JW_JOB_MISFIRE_MAX_RUNS].set ? f[JW_JOB_MISFIRE_MAX_RUNS].i : 0,
        .catchup_window_secs = f[JW_JOB_CATCHUP_WINDOW_SECS].set ? f[JW_JOB_CATCHUP_WINDOW_SECS].i : 0,
    };
    return jw_schedule_new(&spec, err);
}

int64_t jw_job_first_due(const struct jw_job *j, const struct jw_schedule *sch, int64_t now_ms)
{
    const struct jw_fval *f = j->f;
    if (!f[JW_JOB_ENABLED].b || f[JW_JOB_PAUSED].b || f[JW_JOB_DELETED_AT].set || !jw_schedule_fires(sch))
        return -1;
    if (f[JW_JOB_RUN_AT].set)
        return f[JW_JOB_RUN_AT].i;
    return jw_schedule_next(sch, now_ms);
}

bool jw_job_timing_differs(const struct jw_job *a, const struct jw_job *b)
{
    static const enum jw_job_field timing[] = {
        JW_JOB_CRON,     JW_JOB_INTERVAL_SECONDS, JW_JOB_START_AT, JW_JOB_RUN_AT,
        JW_JOB_TIMEZONE, JW_JOB_ENABLED,          JW_JOB_PAUSED,   JW_JOB_DELETED_AT,
    };
    for (size_t i = 0; i < sizeof(timing) / sizeof(timing[0]); i++) {
        const struct jw_fval *x = &a->f[timing[i]], *y = &b->f[timing[i]];
        if (x->set != y->set ||
            (x->set && (x->i != y->i || x->b != y->b || (x->s && (!y->s || strcmp(x->s, y->s))))))
            return true;
    }
    return false;
}
