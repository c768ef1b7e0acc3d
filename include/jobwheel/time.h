/* time: wall-clock and monotonic milliseconds, ISO 8601 and relative
 * durations ("30m", "7d"), and civil-date arithmetic. Pure: never consults
 * the TZ environment or the tz database. */
#ifndef JOBWHEEL_TIME_H
#define JOBWHEEL_TIME_H

#include <stdbool.h>
#include <stdint.h>

#define JW_TIME_ISO_SIZE 32 /* "2025-07-10T14:45:00.000Z" plus room for years > 9999 */

int64_t jw_time_now_ms(void);  /* epoch milliseconds (CLOCK_REALTIME) */
int64_t jw_time_now_us(void);  /* epoch microseconds (CLOCK_REALTIME) */
int64_t jw_time_mono_ms(void); /* CLOCK_MONOTONIC milliseconds */
int64_t jw_time_mono_us(void);

/* "2025-07-10T14:45:00.000Z" */
void jw_time_format(int64_t ms, char out[JW_TIME_ISO_SIZE]);

/* ISO 8601 date-time with a zone: YYYY-MM-DDTHH:MM[:SS[.fff…]](Z|±HH:MM|±HHMM),
 * 't'/' ' accepted for 'T'. Years 1970–9999. Returns 0, or -1 if malformed. */
int jw_time_parse(const char *s, int64_t *out_ms) __attribute__((warn_unused_result));

/* A relative duration: a positive integer and a unit s, m, h, d or w
 * ("30m", "1h", "7d"). Returns 0 with milliseconds, or -1. */
int jw_time_parse_duration(const char *s, int64_t *out_ms) __attribute__((warn_unused_result));

/* A point in time given either way: ISO 8601, or a duration meaning "that
 * long before now_ms" (as `since`/`until` filters use it). */
int jw_time_parse_point(const char *s, int64_t now_ms, int64_t *out_ms) __attribute__((warn_unused_result));

/* A calendar date "YYYY-MM-DD" (validated, leap years included). */
int jw_time_parse_date(const char *s, int *y, int *m, int *d) __attribute__((warn_unused_result));

/* The proleptic Gregorian calendar (shared by time, cron and tz). */
int64_t jw_floor_div(int64_t a, int64_t b);
bool jw_is_leap(int64_t y);
int jw_days_in_month(int64_t y, int m);
/* Days since 1970-01-01 of y-m-d; linear in d, so d may run past the month. */
int64_t jw_days_from_civil(int64_t y, int m, int d);
void jw_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
/* 0 = Sunday … 6 = Saturday */
int jw_weekday_from_days(int64_t z);

#endif
