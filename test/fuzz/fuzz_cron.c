/* fuzz_cron: libFuzzer target for the cron parser and jw_cron_next: any input
 * must parse or fail with a message; accepted ones must fire strictly later. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/cron.h"
#include "jobwheel/tz.h"

#define MAX_INPUT 1100
/* 2200-01-01T00:00:00Z in milliseconds: nothing may fire at or after it */
#define LIMIT_MS INT64_C(7258118400000)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct jw_tz *zones[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("JW_ZONEINFO");
    char err[256];
    if (jw_tz_db_load(dir ? dir : "/usr/share/zoneinfo", err, sizeof(err)) != 0) {
        fprintf(stderr, "fuzz_cron: %s\n", err);
        abort();
    }
    const char *names[4] = {"UTC", "America/New_York", "Australia/Lord_Howe", "Europe/Berlin"};
    for (int i = 0; i < 4; i++) {
        zones[i] = jw_tz_get(names[i]);
        if (!zones[i]) {
            fprintf(stderr, "fuzz_cron: zone %s missing\n", names[i]);
            abort();
        }
    }
    return 0;
}

/* Start instants: just before DST changes of 2025, plus one chosen by the
 * input itself somewhere between 1900 and 2250. */
static int64_t start_at(int k, const uint8_t *data, size_t size)
{
    static const int64_t fixed[3] = {
        INT64_C(1741500000000), /* 2025-03-09T06:00:00Z, New York spring */
        INT64_C(1759590000000), /* 2025-10-04T15:00:00Z, Lord Howe spring */
        INT64_C(1762059600000), /* 2025-11-02T05:00:00Z, New York autumn */
    };
    if (k < 3)
        return fixed[k];
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211u;
    return INT64_C(-2208988800000) + (int64_t)(h % UINT64_C(11045000000000));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char expr[MAX_INPUT + 1];
    char err[256];
    if (size > MAX_INPUT)
        return 0;
    memcpy(expr, data, size);
    expr[size] = '\0';
    err[0] = '\0';
    struct jw_cron *c = jw_cron_parse(expr, err, sizeof(err));
    if (!c) {
        if (err[0] == '\0') {
            fprintf(stderr, "fuzz_cron: refused without a message\n");
            abort();
        }
        return 0;
    }
    for (int z = 0; z < 4; z++) {
        for (int k = 0; k < 4; k++) {
            int64_t t = start_at(k, data, size);
            for (int i = 0; i < 6; i++) {
                int64_t n = jw_cron_next(c, zones[z], t);
                if (n == -1)
                    break;
                if (n <= t || n % 1000 != 0 || n >= LIMIT_MS) {
                    fprintf(stderr, "fuzz_cron: \"%s\" in %s after %lld gave %lld\n", expr,
                            jw_tz_name(zones[z]), (long long)t, (long long)n);
                    abort();
                }
                t = n;
            }
        }
    }
    jw_cron_free(c);
    return 0;
}
