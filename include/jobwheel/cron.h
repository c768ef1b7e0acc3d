/* cron: parse cron expressions and compute their next firing in a time zone.
 * Pure: no I/O, no global state beyond the loaded tz database.
 *
 * Syntax: 5 fields (minute hour day-of-month month day-of-week) or 6 with
 * seconds first; `*`, lists, ranges, steps, names (JAN-DEC, SUN-SAT, 7 =
 * Sunday), `L` (last day of month, `5L` last Friday, `L-3`), `W` (nearest
 * weekday, `LW`), `#` (nth weekday, `1#2`), `?`, and the macros @yearly
 * @annually @monthly @weekly @daily @midnight @hourly. When both day-of-month
 * and day-of-week are restricted, a day matches if EITHER matches (Vixie cron).
 *
 * Daylight saving follows the Vixie cron rule (as cronie and croner do): a
 * fixed-time pattern (minute and hour fields both without `*`) whose local
 * time falls in a spring-forward gap fires once at the first instant after the
 * gap, and in a fall-back overlap fires once, at the first occurrence; a
 * wildcard pattern (minute or hour starting with `*`) follows real time: no
 * firings inside a gap, firings in both passes of a repeated hour. Never two
 * firings at one instant. */
#ifndef JOBWHEEL_CRON_H
#define JOBWHEEL_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jw_tz;
struct jw_cron; /* a parsed expression; immutable; free with jw_cron_free() */

/* Parse expr. Returns a new expression (caller owns it), or NULL with a
 * message fit for an API response in err (e.g. "day-of-month: 32 is out of
 * range 1-31"). Expressions that can never fire ("0 0 30 2 *", "0 0 * * 5#6")
 * are refused. */
struct jw_cron *jw_cron_parse(const char *expr, char *err, size_t errlen);
void jw_cron_free(struct jw_cron *c);

/* True when the expression has a seconds field (6 fields). */
bool jw_cron_has_seconds(const struct jw_cron *c);

/* The first firing strictly after after_ms (epoch milliseconds), evaluated in
 * tz (NULL = UTC), as epoch milliseconds; -1 if there is none before year 2200. */
int64_t jw_cron_next(const struct jw_cron *c, const struct jw_tz *tz, int64_t after_ms);

#endif
