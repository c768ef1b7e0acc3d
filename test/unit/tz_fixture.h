/* tz_fixture: the cmocka group setup and teardown of the unit tests that
 * need the system's tz database loaded (cron, schedule, tz). */
#ifndef JOBWHEEL_TEST_TZ_FIXTURE_H
#define JOBWHEEL_TEST_TZ_FIXTURE_H

#include <stdio.h>

#include "jobwheel/tz.h"

#define ZONEINFO "/usr/share/zoneinfo"

static int tz_setup(void **state)
{
    (void)state;
    char err[256];
    if (jw_tz_db_load(ZONEINFO, err, sizeof(err)) != 0) {
        fprintf(stderr, "tz db: %s\n", err);
        return -1;
    }
    return 0;
}

static int tz_teardown(void **state)
{
    (void)state;
    jw_tz_db_free();
    return 0;
}

#endif
