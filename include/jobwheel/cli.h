/* cli: the binary's commands besides the server — `jobwheel token` (a
 * development JWT signed with the configured HMAC key) and `jobwheel ctl`
 * (the operator's client of the API: jobs, runs, schedules, API keys). */
#ifndef JOBWHEEL_CLI_H
#define JOBWHEEL_CLI_H

#include <stddef.h>

#include "jobwheel/config.h"

#define JW_CLI_DEMO_TENANT "00000000-0000-4000-8000-000000000001"

/* The claims of a token jobwheel signs itself; lists are comma-separated. */
struct jw_token_claims {
    const char *sub, *tenants, *roles, *permissions, *name, *email, *realm;
    long ttl_s;
};

/* A JWT for c, signed with cfg's HMAC key; NULL with err filled when cfg
 * has none. The caller frees it. */
char *jw_cli_token_sign(const struct jw_config *cfg, const struct jw_token_claims *c, char *err,
                        size_t errlen);

/* `jobwheel token [--sub ...] [--config FILE]`: argv[1] is "token". */
int jw_cli_token_main(int argc, char **argv);

/* `jobwheel ctl VERB ...`: argv[0] is "ctl". Exit codes in ctl.c. */
int jw_ctl_main(int argc, char **argv);

#endif
