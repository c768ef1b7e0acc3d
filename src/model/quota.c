/* quota: the quotas' names and the check of a super_admin's settings. */
#include "jobwheel/quota.h"

#include <stdbool.h>
#include <string.h>

const char *const jw_quota_names[JW_QUOTA_COUNT] = {
    [JW_QUOTA_JOBS] = "jobs",
    [JW_QUOTA_SCHEDULES] = "schedules",
    [JW_QUOTA_RUNS_PER_MINUTE] = "runs_per_minute",
    [JW_QUOTA_INFLIGHT] = "inflight",
    [JW_QUOTA_RUN_HISTORY] = "run_history",
};

int jw_quota_index(const char *name)
{
    for (int i = 0; i < JW_QUOTA_COUNT; i++)
        if (!strcmp(jw_quota_names[i], name))
            return i;
    return -1;
}

int jw_quota_settings(const struct jw_json *obj, bool replace, int64_t out[JW_QUOTA_COUNT],
                      struct jw_error *err)
{
    if (!obj || obj->type != JW_JSON_OBJECT)
        return jw_fail(err, 400, "", "the body must be a JSON object of quotas: jobs, schedules, "
                                     "runs_per_minute, inflight, run_history");
    for (int i = 0; i < JW_QUOTA_COUNT; i++)
        out[i] = replace ? JW_QUOTA_DEFAULT : JW_QUOTA_KEEP;
    for (size_t m = 0; m < obj->len; m++) {
        const char *key = obj->u.members[m].key;
        const struct jw_json *v = obj->u.members[m].val;
        int q = jw_quota_index(key);
        if (q < 0)
            return jw_fail(err, 400, key,
                           "unknown quota \"%.60s\" (expected jobs, schedules, runs_per_minute, inflight or "
                           "run_history)",
                           key);
        if (v->type == JW_JSON_NULL) {
            out[q] = JW_QUOTA_DEFAULT;
            continue;
        }
        int64_t n;
        if (v->type != JW_JSON_NUMBER || jw_json_int(v, &n) != 0 || n < 0 || n > JW_QUOTA_MAX)
            return jw_fail(err, 400, key,
                           "%s must be a whole number from 0 (no limit) to %lld, or null for the "
                           "server's default",
                           key, (long long)JW_QUOTA_MAX);
        out[q] = n;
    }
    return 0;
}
