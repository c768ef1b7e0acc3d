/* api: the HTTP surfaces. Each surface is one file under src/api/ that
 * registers its routes and translates its shapes onto core/ calls; the
 * shared pipeline (authenticate, resolve the tenant, check access, parse
 * the body) lives in api/common.c. */
#ifndef JOBWHEEL_API_H
#define JOBWHEEL_API_H

#include <stdbool.h>

#include "jobwheel/auth.h"
#include "jobwheel/http.h"
#include "jobwheel/router.h"

struct jw_core;
struct jw_store;
struct jw_config;

/* What every handler can reach. */
struct jw_api {
    struct jw_core *core;
    struct jw_store *store;
    struct jw_jwt *jwt;
    const struct jw_config *cfg;
    bool draining; /* shutting down: /readyz says so */
};

/* Register every surface's routes. */
void jw_api_register_all(struct jw_router *r);
/* The http dispatch function (arg = struct jw_api *). */
void jw_api_dispatch(struct jw_req *req, const void *route_data, void *arg);
/* Free the calls kept for reuse (after the HTTP server is freed). */
void jw_api_spare_free(void);

#endif
