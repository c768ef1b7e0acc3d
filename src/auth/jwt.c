/* jwt: token verification with libjwt, the algorithm pinned by config. */
#include <jwt.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/auth.h"
#include "jobwheel/buf.h"
#include "jobwheel/id.h"

#define MAX_TOKEN 8192
#define CACHE_SLOTS 64

/* A token verified in second at_s, known by its SHA-256 (never the token
 * itself: a lookup compares digests in constant time). Verifying depends
 * only on the token, the second and the configuration, so the same token
 * in the same second has the same answer: a client's burst of requests
 * pays for one signature check and two JSON parses a second. */
struct verified {
    bool used;
    int64_t at_s;
    char digest[65];
    struct jw_principal p;
};

struct jw_jwt {
    jwt_alg_t alg;
    unsigned char *key;
    size_t keylen;
    char *issuer, *audience;
    struct verified *cache; /* CACHE_SLOTS, direct-mapped by digest */
};

struct jw_jwt *jw_jwt_new(const char *alg, const char *key, size_t keylen, const char *issuer,
                          const char *audience, char *err, size_t errlen)
{
    jwt_alg_t a = jwt_str_alg(alg);
    if (a != JWT_ALG_HS256 && a != JWT_ALG_HS384 && a != JWT_ALG_HS512 && a != JWT_ALG_RS256 &&
        a != JWT_ALG_ES256) {
        snprintf(err, errlen, "jwt_algorithm: %s is not supported", alg);
        return NULL;
    }
    if (!key || keylen == 0) {
        snprintf(err, errlen, "jwt: no key for %s", alg);
        return NULL;
    }
    struct jw_jwt *v = jw_calloc(1, sizeof(*v));
    v->alg = a;
    v->key = (unsigned char *)jw_strndup(key, keylen);
    v->keylen = keylen;
    v->issuer = jw_strdup(issuer ? issuer : "");
    v->audience = jw_strdup(audience ? audience : "");
    v->cache = jw_calloc(CACHE_SLOTS, sizeof(*v->cache));
    return v;
}

void jw_jwt_free(struct jw_jwt *v)
{
    if (!v)
        return;
    memset(v->key, 0, v->keylen);
    free(v->key);
    free(v->issuer);
    free(v->audience);
    memset(v->cache, 0, CACHE_SLOTS * sizeof(*v->cache));
    free(v->cache);
    free(v);
}

static int verify(const struct jw_jwt *v, const char *token, int64_t now_s, struct jw_principal *out,
                  struct jw_error *err)
{
    size_t n = strlen(token);
    /* three base64url parts; anything else is refused before libjwt sees it */
    int dots = 0;
    for (size_t i = 0; i < n; i++) {
        char c = token[i];
        if (c == '.')
            dots++;
        else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
                   c == '_'))
            return jw_fail(err, 401, "", "invalid token");
    }
    if (dots != 2 || token[n - 1] == '.')
        return jw_fail(err, 401, "", "invalid token");

    jwt_t *jwt = NULL;
    /* Never without a key: with NULL libjwt accepts unsigned tokens. */
    if (jwt_decode(&jwt, token, v->key, (int)v->keylen) != 0 || !jwt) {
        if (jwt)
            jwt_free(jwt);
        return jw_fail(err, 401, "", "invalid token signature");
    }
    /* libjwt takes the algorithm from the token: pin it (alg confusion, none). */
    if (jwt_get_alg(jwt) != v->alg) {
        jwt_free(jwt);
        return jw_fail(err, 401, "", "invalid token: algorithm not accepted");
    }
    char *grants = jwt_get_grants_json(jwt, NULL);
    jwt_free(jwt);
    if (!grants)
        return jw_fail(err, 401, "", "invalid token: no claims");
    char perr[128];
    struct jw_json_doc *doc = jw_json_parse(grants, strlen(grants), 8, perr, sizeof(perr));
    free(grants);
    if (!doc)
        return jw_fail(err, 401, "", "invalid token: malformed claims");
    int rc = jw_claims_check(jw_json_root(doc), now_s, v->issuer, v->audience, err);
    if (rc == 0)
        rc = jw_principal_from_claims(jw_json_root(doc), out, err);
    jw_json_doc_free(doc);
    return rc;
}

int jw_jwt_verify(struct jw_jwt *v, const char *token, int64_t now_s, struct jw_principal *out,
                  struct jw_error *err)
{
    size_t n = strlen(token);
    if (n == 0 || n > MAX_TOKEN)
        return jw_fail(err, 401, "", "invalid token");
    char digest[65];
    jw_sha256_hex(token, n, digest);
    unsigned h = 0;
    for (int i = 0; i < 4; i++)
        h = h * 16 + (unsigned)(digest[i] <= '9' ? digest[i] - '0' : digest[i] - 'a' + 10);
    struct verified *slot = &v->cache[h % CACHE_SLOTS];
    if (slot->used && slot->at_s == now_s && jw_secure_equal(slot->digest, digest, 64)) {
        *out = slot->p;
        return 0;
    }
    int rc = verify(v, token, now_s, out, err);
    if (rc == 0) {
        slot->used = true;
        slot->at_s = now_s;
        memcpy(slot->digest, digest, sizeof(digest));
        slot->p = *out;
    }
    return rc;
}

char *jw_jwt_sign_hmac(const char *alg, const char *secret, const char *claims_json, char *err, size_t errlen)
{
    jwt_alg_t a = jwt_str_alg(alg);
    if (a != JWT_ALG_HS256 && a != JWT_ALG_HS384 && a != JWT_ALG_HS512) {
        snprintf(err, errlen, "only HS256/384/512 tokens can be made here (jwt_algorithm is %s)", alg);
        return NULL;
    }
    jwt_t *jwt = NULL;
    char *out = NULL;
    if (jwt_new(&jwt) != 0 || jwt_add_grants_json(jwt, claims_json) != 0 ||
        jwt_set_alg(jwt, a, (const unsigned char *)secret, (int)strlen(secret)) != 0) {
        snprintf(err, errlen, "cannot build the token");
    } else {
        char *tok = jwt_encode_str(jwt);
        if (tok) {
            out = jw_strdup(tok);
            free(tok);
        } else {
            snprintf(err, errlen, "cannot sign the token");
        }
    }
    if (jwt)
        jwt_free(jwt);
    return out;
}
