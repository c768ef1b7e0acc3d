/* fuzz_jwt: libFuzzer target for bearer tokens: the verifier of auth/jwt.c
 * (libjwt, the algorithm pinned by configuration) with an HS256 secret and
 * with RS256 and ES256 public keys (made by build-and-run.sh, given in
 * JW_FUZZ_KEYS), then the claim rules, principal and tenant logic of
 * auth/access.c on what it accepts.
 *
 * The first byte picks what the rest is:
 *   0: a token as sent;
 *   1-7: a header and a claims text (separated by a newline; without one,
 *        the text is the claims under a plain header), which this target
 *        signs as a token: 1 HS256 with the secret, 2 HS384 with the secret,
 *        3 HS256 keyed with the RS256 public key's PEM (algorithm
 *        confusion), 4 RS256, 5 ES256, 6 ES256 with another key, 7 unsigned;
 *   8: claims alone, for the claim rules without a signature.
 * Beyond "does not crash or leak", it checks:
 * - a verifier accepts only a token signed with its own algorithm and key:
 *   nothing unsigned, signed with another algorithm or key, or resigned
 *   with the public key as an HMAC secret; a token as sent is accepted only
 *   when its signature is independently valid and canonical;
 * - every refusal is a 401 with a message;
 * - an accepted token gives the same principal again (the cache), with a
 *   subject and at most JW_MAX_TENANTS lower-case UUID tenants, and tenant
 *   resolution picks only a tenant the principal may use (any for
 *   super_admin), as a lower-case UUID. */
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/auth.h"
#include "jobwheel/buf.h"
#include "jobwheel/error.h"
#include "jobwheel/fs.h"
#include "jobwheel/id.h"
#include "jobwheel/json.h"

#define SECRET "fuzz-secret-0123456789abcdefghijklmnopqrstuvwxyz"
#define ISSUER "https://issuer.example"
#define AUDIENCE "jobwheel"
#define NOW_S INT64_C(1767225600) /* 2026-01-01T00:00:00Z */
#define T_OTHER "0b6a3c52-9d4e-4f11-a2b3-c4d5e6f70812"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum signer { RAW, S_HS256, S_HS384, S_CONFUSED, S_RS256, S_ES256, S_ES256_OTHER, S_NONE, CLAIMS, NMODES };

/* The verifiers a server can be configured with, and who signs for each. */
static struct {
    const char *alg;
    struct jw_jwt *v;
    enum signer own;
} verifiers[3] = {{"HS256", NULL, S_HS256}, {"RS256", NULL, S_RS256}, {"ES256", NULL, S_ES256}};

static EVP_PKEY *rs_priv, *rs_pub, *es_priv, *es_pub, *es_other;
static char *rs_pub_pem;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_jwt: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

static char *read_text(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    char *text = jw_read_file(path, 1 << 20, NULL);
    if (!text)
        die("cannot read %s (run test/fuzz/build-and-run.sh, which makes the keys)", path);
    return text;
}

static EVP_PKEY *read_key(const char *dir, const char *name, bool private)
{
    char *pem = read_text(dir, name);
    BIO *bio = BIO_new_mem_buf(pem, -1);
    EVP_PKEY *k =
        private ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    free(pem);
    if (!k)
        die("%s/%s is not a PEM key", dir, name);
    return k;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("JW_FUZZ_KEYS");
    if (!dir)
        die("JW_FUZZ_KEYS is not set (run test/fuzz/build-and-run.sh, which makes the keys)");
    rs_priv = read_key(dir, "rs256.pem", true);
    rs_pub = read_key(dir, "rs256.pub", false);
    es_priv = read_key(dir, "es256.pem", true);
    es_pub = read_key(dir, "es256.pub", false);
    es_other = read_key(dir, "es256-other.pem", true);
    rs_pub_pem = read_text(dir, "rs256.pub");
    char *es_pub_pem = read_text(dir, "es256.pub");
    char err[200];
    verifiers[0].v = jw_jwt_new("HS256", SECRET, strlen(SECRET), ISSUER, AUDIENCE, err, sizeof(err));
    verifiers[1].v = jw_jwt_new("RS256", rs_pub_pem, strlen(rs_pub_pem), NULL, NULL, err, sizeof(err));
    verifiers[2].v = jw_jwt_new("ES256", es_pub_pem, strlen(es_pub_pem), NULL, "", err, sizeof(err));
    free(es_pub_pem);
    for (int i = 0; i < 3; i++)
        if (!verifiers[i].v)
            die("verifier %s: %s", verifiers[i].alg, err);
    return 0;
}

/* ---- signing (as an issuer would) ---- */

static void b64url(struct jw_buf *out, const void *p, size_t n)
{
    char *enc = jw_malloc(4 * ((n + 2) / 3) + 1);
    size_t len = jw_base64url_encode(p, n, enc);
    jw_buf_append(out, enc, len);
    free(enc);
}

/* A DER ECDSA signature as JWS's fixed 64 bytes r || s. */
static size_t der_to_raw(const unsigned char *der, size_t n, unsigned char raw[64])
{
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &der, (long)n);
    if (!sig)
        die("ECDSA signature does not decode");
    const BIGNUM *r, *s;
    ECDSA_SIG_get0(sig, &r, &s);
    BN_bn2binpad(r, raw, 32);
    BN_bn2binpad(s, raw + 32, 32);
    ECDSA_SIG_free(sig);
    return 64;
}

static size_t sign_pkey(EVP_PKEY *k, bool ec, const char *msg, size_t n, unsigned char *sig)
{
    unsigned char der[512];
    size_t len = sizeof(der);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) != 1 ||
        EVP_DigestSign(ctx, der, &len, (const unsigned char *)msg, n) != 1)
        die("signing failed");
    EVP_MD_CTX_free(ctx);
    if (ec)
        return der_to_raw(der, len, sig);
    memcpy(sig, der, len);
    return len;
}

static void make_token(enum signer who, const char *header, size_t hlen, const char *claims, size_t clen,
                       struct jw_buf *tok)
{
    static const char *const algs[] = {
        [S_HS256] = "HS256", [S_HS384] = "HS384",       [S_CONFUSED] = "HS256", [S_RS256] = "RS256",
        [S_ES256] = "ES256", [S_ES256_OTHER] = "ES256", [S_NONE] = "none"};
    struct jw_buf h = JW_BUF_INIT;
    if (!header) {
        jw_buf_printf(&h, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", algs[who]);
        header = h.data;
        hlen = h.len;
    }
    b64url(tok, header, hlen);
    jw_buf_putc(tok, '.');
    b64url(tok, claims, clen);
    unsigned char sig[512];
    unsigned int slen = 0;
    switch (who) {
    case S_HS256:
        HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)tok->data, tok->len, sig,
             &slen);
        break;
    case S_HS384:
        HMAC(EVP_sha384(), SECRET, (int)strlen(SECRET), (const unsigned char *)tok->data, tok->len, sig,
             &slen);
        break;
    case S_CONFUSED:
        HMAC(EVP_sha256(), rs_pub_pem, (int)strlen(rs_pub_pem), (const unsigned char *)tok->data, tok->len,
             sig, &slen);
        break;
    case S_RS256: slen = (unsigned)sign_pkey(rs_priv, false, tok->data, tok->len, sig); break;
    case S_ES256: slen = (unsigned)sign_pkey(es_priv, true, tok->data, tok->len, sig); break;
    case S_ES256_OTHER: slen = (unsigned)sign_pkey(es_other, true, tok->data, tok->len, sig); break;
    default: break;
    }
    jw_buf_putc(tok, '.');
    b64url(tok, sig, slen);
    jw_buf_free(&h);
}

/* ---- an independent check of a token as sent ---- */

static bool verify_pkey(EVP_PKEY *k, const char *msg, size_t n, const unsigned char *sig, size_t slen)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, k) == 1 &&
              EVP_DigestVerify(ctx, sig, slen, (const unsigned char *)msg, n) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* Would verifier i accept this signature (as JWS defines it, canonical)? */
static bool signature_valid(int i, const char *tok)
{
    const char *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d2 || strchr(d2 + 1, '.'))
        return false;
    size_t mlen = (size_t)(d2 - tok);
    unsigned char sig[1024];
    long slen = jw_base64url_decode(d2 + 1, strlen(d2 + 1), sig, sizeof(sig));
    if (slen < 0)
        return false;
    if (i == 0) {
        unsigned char mac[32];
        unsigned int maclen = 0;
        HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (const unsigned char *)tok, mlen, mac, &maclen);
        return slen == 32 && !memcmp(mac, sig, 32);
    }
    if (i == 1)
        return verify_pkey(rs_pub, tok, mlen, sig, (size_t)slen);
    if (slen != 64)
        return false;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    ECDSA_SIG_set0(es, r, s);
    unsigned char der[128], *p = der;
    int dlen = i2d_ECDSA_SIG(es, &p);
    ECDSA_SIG_free(es);
    return dlen > 0 && verify_pkey(es_pub, tok, mlen, der, (size_t)dlen);
}

/* ---- what an accepted principal must be ---- */

static bool is_lower_uuid(const char *t)
{
    if (!jw_id_is_uuid(t))
        return false;
    for (const char *c = t; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            return false;
    return true;
}

static void check_tenant(const struct jw_principal *p, const char *path, const char *header)
{
    char out[37];
    struct jw_error e;
    memset(&e, 0, sizeof(e));
    if (jw_access_tenant(p, path, header, out, &e) != 0) {
        if ((e.status != 400 && e.status != 403) || !e.detail[0])
            die("tenant refused with %d \"%s\"", e.status, e.detail);
        return;
    }
    if (!is_lower_uuid(out))
        die("tenant \"%s\" is not a lower-case UUID", out);
    bool mine = false;
    for (size_t i = 0; i < p->ntenants; i++)
        mine = mine || !strcmp(p->tenants[i], out);
    if (!mine && !(p->roles & JW_ROLE_SUPER_ADMIN))
        die("tenant %s given to a principal of %zu other tenants", out, p->ntenants);
}

static void check_principal(const struct jw_principal *p)
{
    if (!p->sub[0] || p->ntenants > JW_MAX_TENANTS)
        die("a principal with sub \"%s\" and %zu tenants", p->sub, p->ntenants);
    for (size_t i = 0; i < p->ntenants; i++) {
        if (!is_lower_uuid(p->tenants[i]))
            die("tenant %zu \"%s\" is not a lower-case UUID", i, p->tenants[i]);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(p->tenants[i], p->tenants[j]))
                die("tenant %s twice", p->tenants[i]);
    }
    char upper[37] = "";
    if (p->ntenants) {
        for (int i = 0; i < 37; i++)
            upper[i] = (char)(p->tenants[0][i] >= 'a' && p->tenants[0][i] <= 'f' ? p->tenants[0][i] - 32
                                                                                 : p->tenants[0][i]);
    }
    const char *choices[] = {NULL,    "",           upper,
                             T_OTHER, "not-a-uuid", p->ntenants ? p->tenants[p->ntenants - 1] : ""};
    for (size_t i = 0; i < 6; i++)
        for (size_t j = 0; j < 6; j++)
            check_tenant(p, choices[i], choices[j]);
    static const enum jw_access needs[] = {JW_ACCESS_PUBLIC, JW_ACCESS_READ, JW_ACCESS_WRITE, JW_ACCESS_ADMIN,
                                           JW_ACCESS_SYSADMIN};
    for (size_t i = 0; i < 5; i++) {
        struct jw_error e;
        if (jw_access_check(p, needs[i], &e) != 0 && (e.status != 403 || !e.detail[0]))
            die("access refused with %d", e.status);
    }
    char actor[200];
    jw_principal_actor(p, actor, sizeof(actor));
}

static void check_claims(const char *text, size_t n)
{
    char err[200];
    struct jw_json_doc *doc = jw_json_parse(text, n, 8, err, sizeof(err));
    if (!doc)
        return;
    struct jw_error e;
    struct jw_principal p;
    memset(&e, 0, sizeof(e));
    if (jw_claims_check(jw_json_root(doc), NOW_S, ISSUER, AUDIENCE, &e) != 0 ||
        jw_principal_from_claims(jw_json_root(doc), &p, &e) != 0) {
        if (e.status != 401 || !e.detail[0])
            die("claims refused with %d \"%s\"", e.status, e.detail);
    } else {
        check_principal(&p);
    }
    jw_json_doc_free(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum signer who = (enum signer)(data[0] % NMODES);
    const char *text = (const char *)data + 1;
    size_t n = size - 1;
    if (who == CLAIMS) {
        check_claims(text, n);
        return 0;
    }
    struct jw_buf tok = JW_BUF_INIT;
    if (who == RAW) {
        jw_buf_append(&tok, text, n);
        if (memchr(text, '\0', n)) {
            jw_buf_free(&tok);
            return 0;
        }
    } else {
        const char *nl = memchr(text, '\n', n);
        if (nl)
            make_token(who, text, (size_t)(nl - text), nl + 1, n - (size_t)(nl - text) - 1, &tok);
        else
            make_token(who, NULL, 0, text, n, &tok);
    }
    const char *token = jw_buf_str(&tok);
    for (int i = 0; i < 3; i++) {
        struct jw_principal p, again;
        struct jw_error e;
        memset(&e, 0, sizeof(e));
        if (jw_jwt_verify(verifiers[i].v, token, NOW_S, &p, &e) != 0) {
            if (e.status != 401 || !e.detail[0])
                die("%s refused a token with %d \"%s\"", verifiers[i].alg, e.status, e.detail);
            continue;
        }
        if (who == RAW ? !signature_valid(i, token) : who != verifiers[i].own)
            die("the %s verifier accepted a token %s: %s", verifiers[i].alg,
                who == RAW ? "whose signature is not valid and canonical" : "signed otherwise", token);
        if (jw_jwt_verify(verifiers[i].v, token, NOW_S, &again, &e) != 0 ||
            memcmp(&p, &again, sizeof(p)) != 0)
            die("%s: the same token in the same second gave another answer", verifiers[i].alg);
        check_principal(&p);
    }
    jw_buf_free(&tok);
    return 0;
}
