/* common: the request pipeline every surface shares — credentials (JWT or
 * API key), tenant, access, realm — then the route's handler; plus body and
 * query helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api_internal.h"
#include "jobwheel/log.h"
#include "jobwheel/net.h"
#include "jobwheel/time.h"

void jw_api_add_routes(struct jw_router *r, const struct jw_api_route *routes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        jw_router_add(r, routes[i].methods, routes[i].pattern, &routes[i]);
}

void jw_api_register_all(struct jw_router *r)
{
    jw_api_ops_register(r);
    jw_api_ui_register(r);
    jw_api_native_jobs_register(r);
    jw_api_native_keys_register(r);
    jw_api_native_runs_register(r);
    jw_api_native_workflows_register(r);
    jw_api_native_tenants_register(r);
    jw_api_admin_register(r);
    jw_api_teams_register(r);
    jw_api_scheduler_register(r);
    jw_api_nightly_register(r);
}

/* A call is a few KB (the principal's tenants): ended calls are kept for
 * the next requests rather than given back to malloc, whose large blocks
 * cost a consolidation of its small ones each time. */
#define SPARE_CALLS 64
static struct jw_call *spare_calls[SPARE_CALLS];
static size_t nspare_calls;

static struct jw_call *call_new(void)
{
    if (!nspare_calls)
        return jw_calloc(1, sizeof(struct jw_call));
    struct jw_call *c = spare_calls[--nspare_calls];
    memset(c, 0, sizeof(*c));
    return c;
}

static void call_free(void *p)
{
    struct jw_call *c = p;
    jw_json_doc_free(c->doc);
    jw_json_doc_free(c->made);
    jw_buf_free(&c->out);
    if (nspare_calls < SPARE_CALLS)
        spare_calls[nspare_calls++] = c;
    else
        free(c);
}

void jw_api_spare_free(void)
{
    while (nspare_calls)
        free(spare_calls[--nspare_calls]);
}

void jw_call_problem(struct jw_call *c, const struct jw_error *err)
{
    if (err->status >= 500)
        jw_warn("request %s: %d %s", jw_req_id(c->req), err->status, err->detail);
    if (c->route->problem) {
        jw_reply_retry_after(c->req, err);
        c->route->problem(c, err);
    } else
        jw_reply_problem(c->req, err);
}

void jw_call_problemf(struct jw_call *c, int status, const char *field, const char *fmt, ...)
{
    struct jw_error e;
    va_list ap;
    va_start(ap, fmt);
    jw_failv(&e, status, field, fmt, ap);
    va_end(ap);
    jw_call_problem(c, &e);
}

void jw_call_reply(struct jw_call *c, const struct jw_error *err, struct jw_buf *body, int ok_status)
{
    if (err)
        jw_call_problem(c, err);
    else if (ok_status == 204 || !body)
        jw_reply_empty(c->req, ok_status);
    else
        jw_reply_json_buf(c->req, ok_status, body);
}

struct jw_json_doc *jw_call_answer(struct jw_call *c, const struct jw_error *err, const struct jw_buf *body)
{
    if (err) {
        jw_call_problem(c, err);
        return NULL;
    }
    char why[160];
    struct jw_json_doc *doc = body ? jw_json_parse(body->data, body->len, 64, why, sizeof(why)) : NULL;
    if (!doc)
        jw_call_problemf(c, 500, "", "the core's answer could not be read");
    return doc;
}

struct jw_jsonw *jw_call_writer(struct jw_call *c)
{
    jw_buf_free(&c->out);
    jw_jsonw_init(&c->w, &c->out);
    return &c->w;
}

void jw_call_send(struct jw_call *c, int status)
{
    jw_reply_json_buf(c->req, status, &c->out); /* takes the text */
}

void jw_call_reply_page(struct jw_call *c, const struct jw_error *err, struct jw_buf *body, const char *next,
                        const char *const *keep, size_t nkeep)
{
    if (!err) {
        jw_req_add_header(c->req, "X-Has-More", next ? "true" : "false");
        if (next) {
            jw_req_add_header(c->req, "X-Next-Cursor", next);
            /* the Link keeps the caller's filters */
            struct jw_buf link = JW_BUF_INIT;
            char *enc = jw_url_encode(next);
            jw_buf_printf(&link, "<%s?cursor=%s", jw_req_path(c->req), enc);
            free(enc);
            for (size_t i = 0; i < nkeep; i++) {
                const char *v = jw_req_query(c->req, keep[i]);
                if (v) {
                    enc = jw_url_encode(v);
                    jw_buf_printf(&link, "&%s=%s", keep[i], enc);
                    free(enc);
                }
            }
            jw_buf_puts(&link, ">; rel=\"next\"");
            jw_req_add_header(c->req, "Link", jw_buf_str(&link));
            jw_buf_free(&link);
        }
    }
    jw_call_reply(c, err, body, 200);
}

void jw_call_done_200(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    jw_call_reply(arg, err, body, 200);
}

void jw_call_done_201(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    jw_call_reply(arg, err, body, 201);
}

void jw_call_done_204(void *arg, const struct jw_error *err, struct jw_buf *body)
{
    jw_call_reply(arg, err, body, 204);
}

struct jw_actor jw_call_actor(const struct jw_call *c)
{
    struct jw_actor a = {.tenant = c->tenant, .who = c->actor, .email = c->principal.email};
    return a;
}

static bool json_content_type(const char *ct)
{
    if (!ct)
        return true; /* absent: assume JSON */
    size_t n = strcspn(ct, ";");
    while (n && ct[n - 1] == ' ')
        n--;
    if (n == 16 && !strncasecmp(ct, "application/json", 16))
        return true;
    return n > 5 && !strncasecmp(ct + n - 5, "+json", 5);
}

const struct jw_json *jw_call_body(struct jw_call *c, bool optional)
{
    static const struct jw_json empty = {.type = JW_JSON_OBJECT};
    if (c->doc)
        return jw_json_root(c->doc);
    size_t len;
    const char *body = jw_req_body(c->req, &len);
    size_t ws = 0;
    while (ws < len && (body[ws] == ' ' || body[ws] == '\n' || body[ws] == '\r' || body[ws] == '\t'))
        ws++;
    if (ws == len) {
        if (optional)
            return &empty;
        jw_call_problemf(c, 400, "", "a JSON body is required");
        return NULL;
    }
    if (!json_content_type(jw_req_header(c->req, "Content-Type"))) {
        jw_call_problemf(c, 415, "", "Content-Type must be application/json");
        return NULL;
    }
    char err[200];
    c->doc = jw_json_parse(body, len, c->api->core->max_json_depth, err, sizeof(err));
    if (!c->doc) {
        jw_call_problemf(c, 400, "", "%s", err);
        return NULL;
    }
    return jw_json_root(c->doc);
}

const struct jw_json *jw_call_object(struct jw_call *c, bool optional, const char *const *known)
{
    const struct jw_json *body = jw_call_body(c, optional);
    if (!body)
        return NULL;
    if (body->type != JW_JSON_OBJECT) {
        jw_call_problemf(c, 400, "", "the body must be a JSON object, not %s", jw_json_type_name(body->type));
        return NULL;
    }
    for (size_t i = 0; known && i < body->len; i++) {
        const char *k = body->u.members[i].key;
        size_t n = 0;
        while (known[n] && strcmp(known[n], k))
            n++;
        if (!known[n]) {
            struct jw_buf list = JW_BUF_INIT;
            for (size_t j = 0; known[j]; j++)
                jw_buf_printf(&list, "%s%s", j ? ", " : "", known[j]);
            jw_call_problemf(c, 400, k, "unknown field \"%.60s\" (expected %s)", k, jw_buf_str(&list));
            jw_buf_free(&list);
            return NULL;
        }
    }
    return body;
}

int jw_call_query_int(struct jw_call *c, const char *name, int64_t def, int64_t min, int64_t max,
                      int64_t *out)
{
    const char *v = jw_req_query(c->req, name);
    *out = def;
    if (!v)
        return 0;
    char *end;
    long long n = strtoll(v, &end, 10);
    if (!*v || *end || n < min || n > max) {
        jw_call_problemf(c, 400, name, "%s must be a whole number from %lld to %lld", name,
                          (long long)min, (long long)max);
        return -1;
    }
    *out = n;
    return 0;
}

/* ---- the pipeline ------------------------------------------------------------ */

static void authorized(struct jw_call *c)
{
    struct jw_error e;
    const char *path_tenant = c->route->tenant_param ? jw_req_param(c->req, c->route->tenant_param) : NULL;
    if (jw_access_tenant(&c->principal, path_tenant, jw_req_header(c->req, "x-tenantid"), c->tenant, &e) !=
            0 ||
        jw_access_check(&c->principal, c->route->access, &e) != 0) {
        jw_call_problem(c, &e);
        return;
    }
    jw_req_set_tenant(c->req, c->tenant);
    c->route->handler(c);
}

static void authenticated(struct jw_call *c)
{
    jw_principal_actor(&c->principal, c->actor, sizeof(c->actor));
    jw_req_set_principal(c->req, c->actor);
    const char *realm = jw_req_header(c->req, "realmname");
    if (realm && realm[0] && !c->principal.is_apikey && strcmp(realm, c->principal.realm) != 0) {
        jw_call_problemf(c, 401, "realmname", "the token is not valid for realm \"%.80s\"", realm);
        return;
    }
    authorized(c);
}

static void on_apikey(void *arg, const struct jw_error *err, const struct jw_principal *p)
{
    struct jw_call *c = arg;
    if (err) {
        jw_call_problem(c, err);
        return;
    }
    c->principal = *p;
    authenticated(c);
}

void jw_api_dispatch(struct jw_req *req, const void *route_data, void *arg)
{
    struct jw_call *c = call_new();
    c->req = req;
    c->api = arg;
    c->route = route_data;
    jw_req_set_data(req, c, call_free);

    if (c->route->access == JW_ACCESS_PUBLIC) {
        c->route->handler(c);
        return;
    }
    const char *token = NULL;
    const char *auth = jw_req_header(req, "Authorization");
    if (auth) {
        if (strncasecmp(auth, "Bearer ", 7) != 0) {
            jw_call_problemf(c, 401, "", "Authorization must be \"Bearer <token>\"");
            return;
        }
        token = auth + 7;
        while (*token == ' ')
            token++;
    } else {
        token = jw_req_header(req, "X-Api-Key");
    }
    if (!token || !*token) {
        jw_call_problemf(c, 401, "", "credentials are required: Authorization: Bearer <token>");
        return;
    }
    if (jw_apikey_looks_like(token)) {
        jw_apikeys_authenticate(c->api->core, token, on_apikey, c);
        return;
    }
    struct jw_error e;
    if (jw_jwt_verify(c->api->jwt, token, jw_time_now_ms() / 1000, &c->principal, &e) != 0) {
        jw_call_problem(c, &e);
        return;
    }
    authenticated(c);
}
