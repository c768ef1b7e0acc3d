/* quota: what a tenant may hold or do — the quotas' names as the API and
 * the scripts (store/lua/prelude.lua, "Quotas") spell them, and the check
 * of a super_admin's settings. Pure. A limit of 0 is no limit. */
#ifndef JOBWHEEL_QUOTA_H
#define JOBWHEEL_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

#include "jobwheel/error.h"
#include "jobwheel/json.h"

enum jw_quota {
    JW_QUOTA_JOBS,            /* live jobs (system jobs not counted) */
    JW_QUOTA_SCHEDULES,       /* live jobs with a cron, interval or run_at */
    JW_QUOTA_RUNS_PER_MINUTE, /* runs made by triggers and firings, per clock minute */
    JW_QUOTA_INFLIGHT,        /* attempts whose call is in flight, on all instances */
    JW_QUOTA_RUN_HISTORY,     /* runs kept (the oldest ended ones make room) */
    JW_QUOTA_COUNT
};

#define JW_QUOTA_MAX INT64_C(1000000000000) /* the largest limit that can be set */
#define JW_QUOTA_KEEP (-2)                  /* a setting: unchanged */
#define JW_QUOTA_DEFAULT (-1)               /* a setting: back to the configured default */

extern const char *const jw_quota_names[JW_QUOTA_COUNT];

/* Limits, in enum jw_quota order; 0 is no limit. */
struct jw_quotas {
    int64_t limit[JW_QUOTA_COUNT];
};

/* The enum of a quota's name, or -1. */
int jw_quota_index(const char *name);

/* A super_admin's settings, a JSON object {"jobs": 100, "inflight": null,
 * ...}: out[i] = the limit (0 = none), JW_QUOTA_DEFAULT for null, or
 * absent: JW_QUOTA_KEEP (replace: JW_QUOTA_DEFAULT). 0, or -1 with a 400
 * naming the field. */
int jw_quota_settings(const struct jw_json *obj, bool replace, int64_t out[JW_QUOTA_COUNT],
                      struct jw_error *err) __attribute__((warn_unused_result));

#endif
