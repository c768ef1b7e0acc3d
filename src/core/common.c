/* common: what every core module shares — store errors and quota
 * refusals as API errors. */
#include <stdio.h>
#include <string.h>

#include "jobwheel/core.h"
#include "jobwheel/store.h"

void jw_core_store_error(int store_status, struct jw_error *err)
{
    switch (store_status) {
    case JW_STORE_UNAVAILABLE:
    case JW_STORE_TIMEOUT:
        jw_fail(err, 503, "", "the job store (Redis) is unavailable; retry shortly");
        break;
    default: jw_fail(err, 500, "", "the job store answered with an error"); break;
    }
}

bool jw_core_quota_error(const struct jw_reply *r, struct jw_error *err)
{
    if (!jw_reply_is(jw_reply_at(r, 0), "quota"))
        return false;
    const char *name = jw_reply_str(jw_reply_at(r, 1), NULL);
    long long limit = jw_reply_int(jw_reply_at(r, 2)), used = jw_reply_int(jw_reply_at(r, 3));
    long long retry_ms = jw_reply_int(jw_reply_at(r, 4));
    jw_fail(err, 429, "", "the tenant's %s quota is reached (limit %lld, in use %lld)", name ? name : "?", limit,
            used);
    snprintf(err->quota, sizeof(err->quota), "%s", name ? name : "");
    err->limit = limit;
    err->used = used;
    err->retry_after_s = retry_ms > 0 ? (int)((retry_ms + 999) / 1000) : 1;
    return true;
}
