/* common: what every core module shares — store errors as API errors,
 * dependency condition names. */
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

const char *jw_core_condition(const char *s)
{
    static const struct {
        const char *in, *out;
    } map[] = {
        {"AllSucceeded", "AllSucceeded"}, {"all_succeeded", "AllSucceeded"},
        {"success", "AllSucceeded"},      {"succeeded", "AllSucceeded"},
        {"AnySucceeded", "AnySucceeded"}, {"any_succeeded", "AnySucceeded"},
        {"any_success", "AnySucceeded"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (!strcmp(map[i].in, s))
            return map[i].out;
    return NULL;
}
