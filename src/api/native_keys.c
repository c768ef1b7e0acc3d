/* native_keys: API keys on /v1/api-keys — create (the key is shown once),
 * list, revoke. Admins of the tenant only. */
#include "api_internal.h"

static void create_key(struct jw_call *c)
{
    const struct jw_json *body = jw_call_body(c, false);
    if (!body)
        return;
    struct jw_actor a = jw_call_actor(c);
    jw_apikeys_create(c->api->core, &a, body, jw_call_done_201, c);
}

static void list_keys(struct jw_call *c)
{
    jw_apikeys_list(c->api->core, c->tenant, jw_call_done_200, c);
}

static void delete_key(struct jw_call *c)
{
    jw_apikeys_delete(c->api->core, c->tenant, jw_req_param(c->req, "id"), jw_call_done_204, c);
}

static const struct jw_api_route routes[] = {
    {JW_POST, "/v1/api-keys", JW_ACCESS_ADMIN, create_key, NULL, NULL},
    {JW_GET, "/v1/api-keys", JW_ACCESS_ADMIN, list_keys, NULL, NULL},
    {JW_DELETE, "/v1/api-keys/:id", JW_ACCESS_ADMIN, delete_key, NULL, NULL},
};

void jw_api_native_keys_register(struct jw_router *r)
{
    jw_api_add_routes(r, routes, sizeof(routes) / sizeof(routes[0]));
}
