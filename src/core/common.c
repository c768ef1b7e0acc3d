/* common: what every core module shares — store errors as API errors. */
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
