/* schedule: when a job fires. One parsed schedule — cron in a time zone,
 * an interval from an anchor, or one instant — plus what may suppress a
 * firing (the execution window and the exclusions) and what to do with
 * firings missed while nothing ran (the misfire policy). Pure: no I/O; the
 * tz database must be loaded. */
#ifndef JOBWHEEL_SCHEDULE_H
#define JOBWHEEL_SCHEDULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobwheel/error.h"

enum jw_misfire {
    JW_MISFIRE_FIRE_ONCE, /* one catch-up run for what was missed (default) */
    JW_MISFIRE_SKIP,      /* none: carry on from now */
    JW_MISFIRE_FIRE_ALL,  /* a run for every missed firing, at most max_runs */
};

/* The inputs, as a job states them. Strings are borrowed for the call. */
struct jw_schedule_spec {
    const char *cron;            /* a cron expression, or NULL */
    int64_t interval_seconds;    /* every N seconds (1..31536000), or 0 */
    int64_t start_at_ms;         /* the interval's anchor (its first firing); -1 = not
                                    given, which anchors at 0 (the epoch); cron and
                                    one-time schedules ignore it (once validated) */
    int64_t run_at_ms;           /* one firing at this instant; -1 = none */
    const char *timezone;        /* IANA name; NULL = "UTC" */
    const char *window_cron;     /* execution_window_cron, or NULL */
    const char *exclusions_json; /* see below, or NULL */
    const char *misfire_policy;  /* "fire_once" (NULL), "skip", "fire_all" */
    int64_t misfire_max_runs;    /* fire_all cap, 1..1000; 0 = 100 */
    int64_t catchup_window_secs; /* missed firings older than this are dropped; 0 = 86400 */
};

/* exclusions_json is an object with any of:
 *   "dates":        ["2025-12-25", ...]           calendar dates (local)
 *   "days_of_week": ["Saturday", "sun", 0..6, ...] names (any case, full or
 *                                                   3 letters) or 0 = Sunday
 *   "time_range":   {"start": "22:00", "end": "06:00"}  a daily local window,
 *                   start inclusive, end exclusive; may wrap past midnight
 * A firing whose local time matches any of them is suppressed.
 *
 * Details: dates are valid "YYYY-MM-DD" dates from 1970 on, at most 366
 * (duplicates allowed); days_of_week has at most 7 entries, integers are JSON
 * numbers 0..6 (7 is refused), names "Sunday"/"Sun" in any case; start and
 * end are "HH:MM" or "HH:MM:SS" from 00:00 to 23:59:59, both required, and
 * must differ. A member whose value is null counts as absent, and the JSON
 * text "null" as no exclusions. Any other key is refused, naming it
 * ("exclusions.foo", "exclusions.time_range.foo"). Times are compared to the
 * firing's local wall-clock second in the job's zone: on a day with a DST
 * change a date covers the 23 or 25 hours of that local day, and a time range
 * is read off the clock (a range over the hour a spring-forward skips matches
 * nothing that day; one over the hour a fall-back repeats matches both
 * passes). */

struct jw_schedule; /* parsed; immutable; free with jw_schedule_free */

/* Parse and validate. Exactly one of cron, interval_seconds, run_at_ms may
 * be given (none: a job without a schedule, which never fires). Errors are
 * 400 and name the job field: "cron", "interval_seconds", "run_at",
 * "start_at", "timezone", "execution_window_cron", "exclusions",
 * "exclusions.dates", "exclusions.dates[1]", "exclusions.days_of_week[0]",
 * "exclusions.time_range", "exclusions.time_range.start" / ".end",
 * "misfire_policy", "misfire_max_runs", "catchup_window_secs".
 * Fields are checked in that order and the first error is reported. When
 * two schedule kinds are given the error names the later of them in the
 * order cron, interval_seconds, run_at. run_at and start_at must lie in
 * 1970..9999 (or be -1). A time range whose start equals its end is refused
 * with field "exclusions.time_range.end". */
struct jw_schedule *jw_schedule_new(const struct jw_schedule_spec *spec, struct jw_error *err);
void jw_schedule_free(struct jw_schedule *s);

bool jw_schedule_fires(const struct jw_schedule *s); /* has any schedule at all */
enum jw_misfire jw_schedule_misfire(const struct jw_schedule *s);
int64_t jw_schedule_misfire_max(const struct jw_schedule *s);
int64_t jw_schedule_catchup_ms(const struct jw_schedule *s);

/* The first nominal firing strictly after after_ms (epoch ms), whether or
 * not suppressed; -1 when there is none (a one-time job already past, or no
 * schedule, or a cron with none before 2200). Interval firings are
 * anchor + k * interval for k >= 0: the anchor itself is the first. Interval
 * and one-time firings are absolute instants: the zone does not move them. */
int64_t jw_schedule_next(const struct jw_schedule *s, int64_t after_ms);

/* NULL when a firing at nominal_ms may run, else why not, fit for a run's
 * error ("excluded date 2025-12-25", "excluded day Saturday", "inside the
 * excluded time range 22:00-06:00", "outside the execution window
 * (0 9-17 * * 1-5)"). Checked in that order; the first reason found is
 * given. The text is written into buf (truncated to buflen); when buf is
 * NULL or buflen 0 a static text without the detail is returned instead.
 *
 * The execution window allows a firing at t iff the window cron, in the
 * job's zone, matches t's second (6 fields) or minute (5 fields): iff
 * jw_cron_next(window, tz, start - 1) == start, where start is the instant
 * t's local second or minute began. The Vixie DST rule therefore applies to
 * the window too: a fixed-time window ("30 2 * * *") whose time falls in a
 * spring-forward gap matches the first instant after the gap, and in a
 * fall-back overlap matches only the first pass. */
const char *jw_schedule_suppressed(const struct jw_schedule *s, int64_t nominal_ms, char *buf, size_t buflen);

/* Local wall-clock time of an instant in the schedule's zone, as
 * "2025-03-30T03:00:00.000+02:00", and its offset from UTC in seconds
 * (offset_s may be NULL). The offset is always numeric: "+00:00" for UTC,
 * "+05:30", "-03:00"; historic offsets with seconds (LMT) show only their
 * hours and minutes, while *offset_s is exact. */
void jw_schedule_local_time(const struct jw_schedule *s, int64_t ms, char out[40], int32_t *offset_s);
const char *jw_schedule_timezone(const struct jw_schedule *s);

/* What to fire now for a schedule whose earliest unfired nominal time is
 * due_ms, at now_ms (due_ms <= now_ms). Firings late by no more than
 * threshold_ms are simply late: each one fires. Older ones are misfires:
 * dropped when older than the catch-up window, else handled by the policy
 * (fire_once: the latest of them; skip: none; fire_all: every one, up to
 * the cap, latest kept). Writes the nominal times to fire, oldest first,
 * into out (at most cap) and returns how many; *skipped gets the number of
 * missed firings not fired; *next_ms the first nominal time after now_ms
 * (-1 if none).
 *
 * Precisely: the firings considered are the nominal ones in [due_ms, now_ms]
 * (due_ms need not itself be one). t is late when now_ms - t <= threshold_ms
 * (a negative threshold counts as 0), else a misfire; a misfire is dropped
 * when now_ms - t > the catch-up window. Late beats dropped when the
 * threshold exceeds the window. What fires is always the latest firings of
 * the range: all late ones plus the latest 0 / 1 / misfire_max_runs kept
 * misfires (skip / fire_once / fire_all); when that is more than cap, only
 * the latest cap of them (out may be NULL when cap is 0). Every firing in
 * the range not written to out — dropped, skipped by the policy, or over
 * cap — counts in *skipped, so fired + *skipped is the whole range; the
 * caller resumes from *next_ms. Suppression (window, exclusions) is not
 * applied here: the caller checks each returned time with
 * jw_schedule_suppressed(). skipped and next_ms may be NULL. due_ms >
 * now_ms fires nothing.
 *
 * Cost: only the fired firings are enumerated (walking back from now_ms,
 * each step O(log span) cron evaluations); intervals count skipped ones
 * arithmetically. For cron the skipped ones are counted by walking, at most
 * 1,000,000 firings: beyond that (a per-second cron missed for more than
 * ~11.5 days) *skipped is a lower bound, 1,000,000. */
size_t jw_schedule_catch_up(const struct jw_schedule *s, int64_t due_ms, int64_t now_ms, int64_t threshold_ms,
                            int64_t *out, size_t cap, int64_t *skipped, int64_t *next_ms);

/* ---- a job's schedule and first due time (the scheduler and core) ---- */

struct jw_job;

/* The job's schedule (400 naming the field when invalid). Caller frees. */
struct jw_schedule *jw_job_schedule(const struct jw_job *j, struct jw_error *err);
/* The first nominal firing a job should have from now: -1 when it has no
 * schedule, is disabled, paused or deleted, or its one time has gone by...
 * except that a one-time job's run_at stays due even when past (it fires
 * late, once: the fire ledger knows whether it already did). */
int64_t jw_job_first_due(const struct jw_job *j, const struct jw_schedule *s, int64_t now_ms);
/* Do a and b differ in anything that decides when the job fires? */
bool jw_job_timing_differs(const struct jw_job *a, const struct jw_job *b);

#endif
