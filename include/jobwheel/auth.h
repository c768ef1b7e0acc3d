/* auth: who is calling and what they may do. JWT verification (the only
 * user of libjwt), claim rules, tenant resolution and access checks. API-key
 * lookup needs Redis and lives in core/apikeys; it yields the same principal. */
#ifndef JOBWHEEL_AUTH_H
#define JOBWHEEL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobwheel/error.h"
#include "jobwheel/json.h"

#define JW_MAX_TENANTS 32
#define JW_JWT_LEEWAY_SECS 60

enum jw_role {
    JW_ROLE_SUPER_ADMIN = 1 << 0,  /* everything, every tenant */
    JW_ROLE_SYSTEM_ADMIN = 1 << 1, /* system jobs and admin endpoints */
    JW_ROLE_ADMIN = 1 << 2,        /* everything in its tenants */
};

enum jw_perm {
    JW_PERM_JOBS_READ = 1 << 0,
    JW_PERM_JOBS_WRITE = 1 << 1,
};

struct jw_principal {
    bool is_apikey;
    char sub[160]; /* JWT sub, or the API key's id */
    char name[160];
    char email[256];
    char realm[160];
    unsigned roles; /* enum jw_role bits */
    unsigned perms; /* enum jw_perm bits */
    size_t ntenants;
    char tenants[JW_MAX_TENANTS][37]; /* lower-case UUIDs */
};

/* What a route requires of its caller. */
enum jw_access {
    JW_ACCESS_PUBLIC,   /* no credentials */
    JW_ACCESS_READ,     /* jobs:read, or admin */
    JW_ACCESS_WRITE,    /* jobs:write, or admin */
    JW_ACCESS_ADMIN,    /* admin role in the tenant, or super_admin */
    JW_ACCESS_SYSADMIN, /* system_admin or super_admin */
    JW_ACCESS_SUPER,    /* super_admin only */
};

/* ---- pure rules (unit-tested) ---- */

/* Check registered claims at now_s: exp required, nbf/iat with leeway, iss
 * and aud when configured (NULL or "" = not checked). 0 or -1 (401). */
int jw_claims_check(const struct jw_json *claims, int64_t now_s, const char *issuer, const char *audience,
                    struct jw_error *err);
/* Fill p from the claims, type-checking each one used. 0 or -1 (401). */
int jw_principal_from_claims(const struct jw_json *claims, struct jw_principal *p, struct jw_error *err);
/* The tenant of a request: path segment, else header, else the only tenant
 * of the principal. 0, or -1 with 400 (missing/malformed) or 403. */
int jw_access_tenant(const struct jw_principal *p, const char *path_tenant, const char *header_tenant,
                     char out[37], struct jw_error *err);
/* 0, or -1 with 403. */
int jw_access_check(const struct jw_principal *p, enum jw_access need, struct jw_error *err);
/* "user:<sub>" or "apikey:<id>" — what created_by and the log show. */
void jw_principal_actor(const struct jw_principal *p, char *out, size_t n);
/* Names: "jobs:read" -> JW_PERM_JOBS_READ; 0 if unknown. */
unsigned jw_perm_from_name(const char *name);

/* ---- JWT ---- */

struct jw_jwt;
/* alg: HS256 HS384 HS512 RS256 ES256. key: the secret, or the PEM text. */
struct jw_jwt *jw_jwt_new(const char *alg, const char *key, size_t keylen, const char *issuer,
                          const char *audience, char *err, size_t errlen);
void jw_jwt_free(struct jw_jwt *v);
/* Verify signature (with the configured algorithm only), claims and types.
 * A token verified in second now_s is remembered for that second (by its
 * SHA-256), so its next requests in it skip the work. */
int jw_jwt_verify(struct jw_jwt *v, const char *token, int64_t now_s, struct jw_principal *out,
                  struct jw_error *err);

/* Sign claims (a JSON object) with an HMAC algorithm: for the `jobwheel
 * token` command that makes development tokens. Caller frees; NULL + err. */
char *jw_jwt_sign_hmac(const char *alg, const char *secret, const char *claims_json, char *err,
                       size_t errlen);

#endif
