/* native_tenants: a tenant's quotas — set and read by a super_admin on
 * /v1/tenants/:tenant_id/quotas (PUT replaces every limit, an absent one
 * going back to the server's default; PATCH changes those given, null
 * resets one), a tenant's own usage and limits on /v1/tenant/usage, and
 * for a super_admin the instances and their shards (/v1/system/instances). */
#include "api_internal.h"

static void get_quotas(struct jw_call *c)
{
    jw_tenants_quotas(c->api->core, c->tenant, NULL, jw_call_done_200, c);
}

static void set_quotas(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    int64_t settings[JW_QUOTA_COUNT];
    struct jw_error e;
    if (jw_quota_settings(body, jw_req_method(c->req) == JW_PUT, settings, &e) != 0) {
        jw_call_problem(c, &e);
        return;
    }
    jw_tenants_quotas(c->api->core, c->tenant, settings, jw_call_done_200, c);
}

static void instances(struct jw_call *c)
{
    jw_cluster_status(c->api->core, jw_call_done_200, c);
}

static const struct jw_api_route routes[] = {
    {JW_GET, "/v1/system/instances", JW_ACCESS_SUPER, instances, NULL, NULL},
    {JW_GET, "/v1/tenants/:tenant_id/quotas", JW_ACCESS_SUPER, get_quotas, "tenant_id", NULL},
    {JW_PUT | JW_PATCH, "/v1/tenants/:tenant_id/quotas", JW_ACCESS_SUPER, set_quotas, "tenant_id", NULL},
    {JW_GET, "/v1/tenant/usage", JW_ACCESS_READ, get_quotas, NULL, NULL},
};

void jw_api_native_tenants_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
