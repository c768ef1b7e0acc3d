/* access: claim rules, principals, tenant resolution and access checks. */
#include <stdlib.h>
#include <string.h>

#include "jobwheel/auth.h"
#include "jobwheel/id.h"

static int claim_time(const struct jw_json *claims, const char *name, bool required, int64_t *out,
                      struct jw_error *err)
{
    const struct jw_json *v = jw_json_get(claims, name);
    if (!v) {
        if (required)
            return jw_fail(err, 401, "", "invalid token: the %s claim is required", name);
        return 1;
    }
    if (v->type != JW_JSON_NUMBER)
        return jw_fail(err, 401, "", "invalid token: %s must be a number", name);
    if (jw_json_int(v, out) != 0) {
        /* NumericDate may carry a fraction: take the whole seconds */
        double d = strtod(v->u.str, NULL);
        if (!(d > -1e15 && d < 1e15))
            return jw_fail(err, 401, "", "invalid token: %s is out of range", name);
        *out = (int64_t)d;
    }
    return 0;
}

int jw_claims_check(const struct jw_json *claims, int64_t now_s, const char *issuer, const char *audience,
                    struct jw_error *err)
{
    if (!claims || claims->type != JW_JSON_OBJECT)
        return jw_fail(err, 401, "", "invalid token: claims are not an object");
    int64_t t;
    int rc = claim_time(claims, "exp", true, &t, err);
    if (rc < 0)
        return -1;
    if (now_s - JW_JWT_LEEWAY_SECS > t)
        return jw_fail(err, 401, "", "token expired");
    rc = claim_time(claims, "nbf", false, &t, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && now_s + JW_JWT_LEEWAY_SECS < t)
        return jw_fail(err, 401, "", "token not yet valid (nbf)");
    /* (now_s is a real clock reading, so now_s ± leeway cannot overflow) */
    rc = claim_time(claims, "iat", false, &t, err);
    if (rc < 0)
        return -1;
    if (rc == 0 && now_s + JW_JWT_LEEWAY_SECS < t)
        return jw_fail(err, 401, "", "token issued in the future (iat)");
    if (issuer && issuer[0]) {
        const struct jw_json *iss = jw_json_get(claims, "iss");
        if (!iss || iss->type != JW_JSON_STRING || strcmp(iss->u.str, issuer) != 0)
            return jw_fail(err, 401, "", "token issuer not accepted");
    }
    if (audience && audience[0]) {
        const struct jw_json *aud = jw_json_get(claims, "aud");
        bool ok = false;
        if (aud && aud->type == JW_JSON_STRING)
            ok = strcmp(aud->u.str, audience) == 0;
        else if (aud && aud->type == JW_JSON_ARRAY)
            for (size_t i = 0; i < aud->len; i++)
                ok = ok || (aud->u.items[i]->type == JW_JSON_STRING &&
                            strcmp(aud->u.items[i]->u.str, audience) == 0);
        if (!ok)
            return jw_fail(err, 401, "", "token audience not accepted");
    }
    return 0;
}

static int claim_str(const struct jw_json *claims, const char *name, char *out, size_t n, bool required,
                     struct jw_error *err)
{
    const struct jw_json *v = jw_json_get(claims, name);
    out[0] = '\0';
    if (!v || v->type == JW_JSON_NULL) {
        if (required)
            return jw_fail(err, 401, "", "invalid token: the %s claim is required", name);
        return 0;
    }
    if (v->type != JW_JSON_STRING)
        return jw_fail(err, 401, "", "invalid token: %s must be a string", name);
    if (v->len == 0 || v->len >= n)
        return jw_fail(err, 401, "", "invalid token: %s must be 1 to %zu characters", name, n - 1);
    memcpy(out, v->u.str, v->len + 1);
    return 0;
}

/* An array of strings, or a missing claim. Calls each(name) per entry. */
static int claim_list(const struct jw_json *claims, const char *name, struct jw_principal *p,
                      int (*each)(struct jw_principal *, const char *, struct jw_error *),
                      struct jw_error *err)
{
    const struct jw_json *v = jw_json_get(claims, name);
    if (!v || v->type == JW_JSON_NULL)
        return 0;
    if (v->type != JW_JSON_ARRAY)
        return jw_fail(err, 401, "", "invalid token: %s must be an array of strings", name);
    for (size_t i = 0; i < v->len; i++) {
        if (v->u.items[i]->type != JW_JSON_STRING)
            return jw_fail(err, 401, "", "invalid token: %s must be an array of strings", name);
        if (each(p, v->u.items[i]->u.str, err) != 0)
            return -1;
    }
    return 0;
}

static int add_role(struct jw_principal *p, const char *r, struct jw_error *err)
{
    if (!strcmp(r, "super_admin"))
        p->roles |= JW_ROLE_SUPER_ADMIN;
    else if (!strcmp(r, "system_admin"))
        p->roles |= JW_ROLE_SYSTEM_ADMIN;
    else if (!strcmp(r, "admin"))
        p->roles |= JW_ROLE_ADMIN;
    return 0; /* other roles mean nothing here */
}

unsigned jw_perm_from_name(const char *name)
{
    if (!strcmp(name, "jobs:read"))
        return JW_PERM_JOBS_READ;
    if (!strcmp(name, "jobs:write"))
        return JW_PERM_JOBS_WRITE;
    return 0;
}

static int add_perm(struct jw_principal *p, const char *s, struct jw_error *err)
{
    p->perms |= jw_perm_from_name(s);
    return 0;
}

static int add_tenant(struct jw_principal *p, const char *t, struct jw_error *err)
{
    if (!jw_id_is_uuid(t))
        return jw_fail(err, 401, "", "invalid token: tenants must be UUIDs");
    char lower[37];
    jw_id_lower(t, lower);
    for (size_t i = 0; i < p->ntenants; i++)
        if (!strcmp(p->tenants[i], lower))
            return 0; /* named twice (tenants and tenant_id): one tenant */
    if (p->ntenants == JW_MAX_TENANTS)
        return jw_fail(err, 401, "", "invalid token: more than %d tenants", JW_MAX_TENANTS);
    jw_id_lower(t, p->tenants[p->ntenants++]);
    return 0;
}

int jw_principal_from_claims(const struct jw_json *claims, struct jw_principal *p, struct jw_error *err)
{
    memset(p, 0, sizeof(*p));
    if (claim_str(claims, "sub", p->sub, sizeof(p->sub), true, err) != 0 ||
        claim_str(claims, "name", p->name, sizeof(p->name), false, err) != 0 ||
        claim_str(claims, "email", p->email, sizeof(p->email), false, err) != 0 ||
        claim_str(claims, "realm", p->realm, sizeof(p->realm), false, err) != 0)
        return -1;
    if (claim_list(claims, "roles", p, add_role, err) != 0 ||
        claim_list(claims, "permissions", p, add_perm, err) != 0 ||
        claim_list(claims, "tenants", p, add_tenant, err) != 0)
        return -1;
    char tid[64];
    if (claim_str(claims, "tenant_id", tid, sizeof(tid), false, err) != 0)
        return -1;
    if (tid[0] && add_tenant(p, tid, err) != 0)
        return -1;
    return 0;
}

int jw_access_tenant(const struct jw_principal *p, const char *path_tenant, const char *header_tenant,
                     char out[37], struct jw_error *err)
{
    const char *t = path_tenant && path_tenant[0] ? path_tenant : header_tenant;
    const char *what = path_tenant && path_tenant[0] ? "the team id in the path" : "x-tenantid";
    if (!t || !t[0]) {
        if (p->ntenants == 1) {
            memcpy(out, p->tenants[0], 37);
            return 0;
        }
        return jw_fail(err, 400, "x-tenantid", "the x-tenantid header is required%s",
                       p->ntenants > 1 ? " (the token names several tenants)" : "");
    }
    if (!jw_id_is_uuid(t))
        return jw_fail(err, 400, path_tenant && path_tenant[0] ? "teamId" : "x-tenantid", "%s must be a UUID",
                       what);
    jw_id_lower(t, out);
    if (p->roles & JW_ROLE_SUPER_ADMIN)
        return 0;
    for (size_t i = 0; i < p->ntenants; i++)
        if (!strcmp(p->tenants[i], out))
            return 0;
    return jw_fail(err, 403, "", "these credentials may not act in tenant %s", out);
}

int jw_access_check(const struct jw_principal *p, enum jw_access need, struct jw_error *err)
{
    unsigned admin = JW_ROLE_SUPER_ADMIN | JW_ROLE_ADMIN;
    switch (need) {
    case JW_ACCESS_PUBLIC: return 0;
    case JW_ACCESS_READ:
        if ((p->roles & admin) || (p->perms & JW_PERM_JOBS_READ))
            return 0;
        return jw_fail(err, 403, "", "the jobs:read permission or an admin role is required");
    case JW_ACCESS_WRITE:
        if ((p->roles & admin) || (p->perms & JW_PERM_JOBS_WRITE))
            return 0;
        return jw_fail(err, 403, "", "the jobs:write permission or an admin role is required");
    case JW_ACCESS_ADMIN:
        if (p->roles & admin)
            return 0;
        return jw_fail(err, 403, "", "the admin or super_admin role is required");
    case JW_ACCESS_SYSADMIN:
        if (p->roles & (JW_ROLE_SUPER_ADMIN | JW_ROLE_SYSTEM_ADMIN))
            return 0;
        return jw_fail(err, 403, "", "the system_admin or super_admin role is required");
    case JW_ACCESS_SUPER:
        if (p->roles & JW_ROLE_SUPER_ADMIN)
            return 0;
        return jw_fail(err, 403, "", "the super_admin role is required");
    }
    return jw_fail(err, 403, "", "access denied");
}

void jw_principal_actor(const struct jw_principal *p, char *out, size_t n)
{
    snprintf(out, n, "%s:%s", p->is_apikey ? "apikey" : "user", p->sub);
}
