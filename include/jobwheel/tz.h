/* tz: the IANA time zone database, read from the system's TZif files once at
 * start-up and kept in memory, so converting between UTC and local time never
 * touches the disk (or the TZ environment variable) while the loop runs. */
#ifndef JOBWHEEL_TZ_H
#define JOBWHEEL_TZ_H

#include <stddef.h>
#include <stdint.h>

struct jw_tz; /* one zone; owned by the database, valid until jw_tz_db_free() */

/* Load every zone under zoneinfo_dir (e.g. /usr/share/zoneinfo), skipping the
 * posix/ and right/ copies. Returns 0, or -1 with a message in err. "UTC" is
 * always present, even when the directory lacks it. Call once at start-up. */
int jw_tz_db_load(const char *zoneinfo_dir, char *err, size_t errlen) __attribute__((warn_unused_result));
void jw_tz_db_free(void);

/* The zone of that exact IANA name ("Europe/Berlin"), or NULL if unknown. */
const struct jw_tz *jw_tz_get(const char *name);
const char *jw_tz_name(const struct jw_tz *tz);

/* Offset from UTC, in seconds, in force at the UTC instant utc_s. */
int32_t jw_tz_offset_at(const struct jw_tz *tz, int64_t utc_s);

/* The UTC instants whose local wall-clock time is local_s (seconds since the
 * epoch, as if local time were UTC). Returns how many were written to out:
 * 0 when local_s falls in a gap (spring forward), 2 in an overlap (fall back,
 * earliest first), else 1. */
int jw_tz_local_to_utc(const struct jw_tz *tz, int64_t local_s, int64_t out[2]);

/* Helpers for schedulers walking time (added with the cron module). */

/* The first instant strictly after utc_s at which the UTC offset changes, or
 * INT64_MAX when it never changes again. */
int64_t jw_tz_next_transition(const struct jw_tz *tz, int64_t utc_s);
/* The last instant at or before utc_s at which the UTC offset changed, or
 * INT64_MIN when there is none. */
int64_t jw_tz_prev_transition(const struct jw_tz *tz, int64_t utc_s);
/* When local_s falls in a gap (jw_tz_local_to_utc() returns 0): the UTC
 * instant at which that gap ends, i.e. the first instant after it; otherwise
 * INT64_MIN. */
int64_t jw_tz_gap_end(const struct jw_tz *tz, int64_t local_s);

#endif
