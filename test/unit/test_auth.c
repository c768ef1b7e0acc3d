/* Unit tests for claim rules, principals, tenants and access checks (src/auth/access.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/auth.h"
#include "jobwheel/buf.h"
#include "jobwheel/error.h"
#include "jobwheel/json.h"

#define NOW 1700000000LL

#define T1 "5f0c6f7e-1b2a-4c3d-8e9f-0a1b2c3d4e5f"
#define T2 "0b6a3c52-9d4e-4f11-a2b3-c4d5e6f70812"
#define T3 "99999999-8888-4777-8666-555555555555"
#define T1_UPPER "5F0C6F7E-1B2A-4C3D-8E9F-0A1B2C3D4E5F"

static struct jw_json_doc *claims_doc(const char *text)
{
    char perr[256];
    struct jw_json_doc *doc = jw_json_parse(text, strlen(text), 8, perr, sizeof(perr));
    if (!doc)
        fail_msg("claims do not parse (%s): %s", perr, text);
    return doc;
}

/* jw_claims_check on text; returns rc and fills err. */
static int check(const char *text, int64_t now, const char *iss, const char *aud, struct jw_error *err)
{
    struct jw_json_doc *doc = claims_doc(text);
    memset(err, 0, sizeof(*err));
    int rc = jw_claims_check(jw_json_root(doc), now, iss, aud, err);
    jw_json_doc_free(doc);
    return rc;
}

static void claims_ok(const char *text, int64_t now, const char *iss, const char *aud)
{
    struct jw_error err;
    if (check(text, now, iss, aud, &err) != 0)
        fail_msg("claims refused (%s): %s", err.detail, text);
}

static void claims_refused(const char *text, int64_t now, const char *iss, const char *aud)
{
    struct jw_error err;
    if (check(text, now, iss, aud, &err) != -1)
        fail_msg("claims accepted: %s", text);
    assert_int_equal(err.status, 401);
    assert_true(err.detail[0] != '\0');
}

/* {"sub":"u","exp":<exp><extra>} */
static char *with_exp(int64_t exp, const char *extra)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_printf(&b, "{\"sub\":\"u\",\"exp\":%lld%s}", (long long)exp, extra);
    return jw_buf_detach(&b);
}

/* ---- registered claims --------------------------------------------------------- */

static void test_exp_required(void **state)
{
    (void)state;
    claims_refused("{\"sub\":\"u\"}", NOW, NULL, NULL);
    claims_refused("{}", NOW, NULL, NULL);
    struct jw_error err;
    assert_int_equal(check("{\"sub\":\"u\",\"nbf\":1}", NOW, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.detail, "exp"));
    /* claims that are not an object */
    claims_refused("[]", NOW, NULL, NULL);
    claims_refused("\"exp\"", NOW, NULL, NULL);
    memset(&err, 0, sizeof(err));
    assert_int_equal(jw_claims_check(NULL, NOW, NULL, NULL, &err), -1);
    assert_int_equal(err.status, 401);
}

static void test_exp_and_leeway(void **state)
{
    (void)state;
    static const struct {
        int64_t exp_offset;
        bool ok;
    } cases[] = {
        {3600, true}, {1, true},    {0, true},      {-1, true},    {-59, true},
        {-60, true},  {-61, false}, {-3600, false}, {-NOW, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = with_exp(NOW + cases[i].exp_offset, "");
        if (cases[i].ok)
            claims_ok(t, NOW, NULL, NULL);
        else
            claims_refused(t, NOW, NULL, NULL);
        free(t);
    }
    struct jw_error err;
    char *t = with_exp(NOW - 61, "");
    assert_int_equal(check(t, NOW, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.detail, "expired"));
    free(t);
    /* NumericDate may carry a fraction */
    claims_ok("{\"exp\":1700000000.5}", NOW, NULL, NULL);
    claims_ok("{\"exp\":1.7e9}", NOW, NULL, NULL);
    claims_refused("{\"exp\":1699999939.9}", NOW, NULL, NULL);
}

/* An exp far in the future is valid; the leeway arithmetic must not overflow. */
static void test_exp_far_future(void **state)
{
    (void)state;
    claims_ok("{\"exp\":9223372036854775000}", NOW, NULL, NULL);
    claims_ok("{\"exp\":9223372036854775807}", NOW, NULL, NULL);
}

static void test_exp_types(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{\"exp\":\"1700003600\"}", "{\"exp\":true}",
        "{\"exp\":null}",           "{\"exp\":{}}",
        "{\"exp\":[1700003600]}",   "{\"exp\":1e300}",
        "{\"exp\":-1e300}",         "{\"exp\":99999999999999999999999}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        claims_refused(bad[i], NOW, NULL, NULL);
    struct jw_error err;
    assert_int_equal(check("{\"exp\":\"soon\"}", NOW, NULL, NULL, &err), -1);
    assert_non_null(strstr(err.detail, "exp"));
}

static void test_nbf_iat(void **state)
{
    (void)state;
    static const struct {
        const char *claim;
        int64_t offset;
        bool ok;
    } cases[] = {
        {"nbf", -3600, true}, {"nbf", 0, true}, {"nbf", 60, true}, {"nbf", 61, false}, {"nbf", 3600, false},
        {"iat", -3600, true}, {"iat", 0, true}, {"iat", 60, true}, {"iat", 61, false}, {"iat", 86400, false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char extra[64];
        snprintf(extra, sizeof(extra), ",\"%s\":%lld", cases[i].claim, (long long)(NOW + cases[i].offset));
        char *t = with_exp(NOW + 7200, extra);
        if (cases[i].ok)
            claims_ok(t, NOW, NULL, NULL);
        else
            claims_refused(t, NOW, NULL, NULL);
        free(t);
    }
    /* types */
    char *t = with_exp(NOW + 7200, ",\"nbf\":\"0\"");
    claims_refused(t, NOW, NULL, NULL);
    free(t);
    t = with_exp(NOW + 7200, ",\"iat\":false");
    claims_refused(t, NOW, NULL, NULL);
    free(t);
    t = with_exp(NOW + 7200, ",\"iat\":null");
    claims_refused(t, NOW, NULL, NULL);
    free(t);
}

static void test_issuer(void **state)
{
    (void)state;
    const char *iss = "https://idp.example.com/";
    char *t = with_exp(NOW + 60, ",\"iss\":\"https://idp.example.com/\"");
    claims_ok(t, NOW, iss, NULL);
    claims_ok(t, NOW, NULL, NULL);
    claims_ok(t, NOW, "", NULL);
    free(t);
    t = with_exp(NOW + 60, ",\"iss\":\"https://evil.example.com/\"");
    claims_refused(t, NOW, iss, NULL);
    claims_ok(t, NOW, NULL, NULL); /* not configured: not checked */
    claims_ok(t, NOW, "", NULL);
    free(t);
    t = with_exp(NOW + 60, "");
    claims_refused(t, NOW, iss, NULL);
    claims_ok(t, NOW, NULL, NULL);
    free(t);
    t = with_exp(NOW + 60, ",\"iss\":[\"https://idp.example.com/\"]");
    claims_refused(t, NOW, iss, NULL);
    free(t);
    t = with_exp(NOW + 60, ",\"iss\":\"https://idp.example.com\"");
    claims_refused(t, NOW, iss, NULL); /* exact match only */
    free(t);
}

static void test_audience(void **state)
{
    (void)state;
    const char *aud = "jobwheel";
    static const struct {
        const char *extra;
        bool ok;
    } cases[] = {
        {",\"aud\":\"jobwheel\"", true},
        {",\"aud\":[\"other\",\"jobwheel\"]", true},
        {",\"aud\":[\"jobwheel\"]", true},
        {",\"aud\":[1,null,\"jobwheel\"]", true},
        {",\"aud\":\"other\"", false},
        {",\"aud\":[\"other\",\"jobwheel2\"]", false},
        {",\"aud\":[]", false},
        {",\"aud\":\"JOBWHEEL\"", false},
        {",\"aud\":1", false},
        {",\"aud\":null", false},
        {",\"aud\":{\"jobwheel\":true}", false},
        {"", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *t = with_exp(NOW + 60, cases[i].extra);
        if (cases[i].ok)
            claims_ok(t, NOW, NULL, aud);
        else
            claims_refused(t, NOW, NULL, aud);
        /* without a configured audience nothing is checked */
        claims_ok(t, NOW, NULL, NULL);
        claims_ok(t, NOW, NULL, "");
        free(t);
    }
    /* issuer and audience together */
    char *t = with_exp(NOW + 60, ",\"iss\":\"i\",\"aud\":\"a\"");
    claims_ok(t, NOW, "i", "a");
    claims_refused(t, NOW, "i", "b");
    claims_refused(t, NOW, "j", "a");
    free(t);
}

/* ---- principals -------------------------------------------------------------------- */

static int principal(const char *text, struct jw_principal *p, struct jw_error *err)
{
    struct jw_json_doc *doc = claims_doc(text);
    memset(err, 0, sizeof(*err));
    int rc = jw_principal_from_claims(jw_json_root(doc), p, err);
    jw_json_doc_free(doc);
    return rc;
}

static void principal_refused(const char *text)
{
    struct jw_principal p;
    struct jw_error err;
    if (principal(text, &p, &err) != -1)
        fail_msg("principal accepted: %s", text);
    assert_int_equal(err.status, 401);
    assert_true(err.detail[0] != '\0');
}

static void test_principal_full(void **state)
{
    (void)state;
    struct jw_principal p;
    struct jw_error err;
    memset(&p, 0x5a, sizeof(p)); /* everything must be overwritten */
    assert_int_equal(principal("{\"sub\":\"user-42\",\"name\":\"Alice\",\"email\":\"a@example.com\","
                               "\"realm\":\"acme\",\"roles\":[\"admin\",\"viewer\",\"system_admin\"],"
                               "\"permissions\":[\"jobs:read\",\"jobs:write\",\"runs:delete\"],"
                               "\"tenants\":[\"" T1_UPPER "\",\"" T2 "\"],\"exp\":1}",
                               &p, &err),
                     0);
    assert_false(p.is_apikey);
    assert_string_equal(p.sub, "user-42");
    assert_string_equal(p.name, "Alice");
    assert_string_equal(p.email, "a@example.com");
    assert_string_equal(p.realm, "acme");
    assert_int_equal(p.roles, JW_ROLE_ADMIN | JW_ROLE_SYSTEM_ADMIN);
    assert_int_equal(p.perms, JW_PERM_JOBS_READ | JW_PERM_JOBS_WRITE);
    assert_int_equal(p.ntenants, 2);
    assert_string_equal(p.tenants[0], T1); /* lower-cased */
    assert_string_equal(p.tenants[1], T2);

    /* the minimum: a subject */
    memset(&p, 0x5a, sizeof(p));
    assert_int_equal(principal("{\"sub\":\"s\"}", &p, &err), 0);
    assert_string_equal(p.sub, "s");
    assert_string_equal(p.name, "");
    assert_string_equal(p.email, "");
    assert_string_equal(p.realm, "");
    assert_int_equal(p.roles, 0);
    assert_int_equal(p.perms, 0);
    assert_int_equal(p.ntenants, 0);

    /* tenant_id alone, and null claims meaning absent */
    assert_int_equal(principal("{\"sub\":\"s\",\"tenant_id\":\"" T2 "\",\"roles\":null,"
                               "\"permissions\":null,\"tenants\":null,\"name\":null}",
                               &p, &err),
                     0);
    assert_int_equal(p.ntenants, 1);
    assert_string_equal(p.tenants[0], T2);
    assert_int_equal(p.roles, 0);

    /* tenants and tenant_id together */
    assert_int_equal(principal("{\"sub\":\"s\",\"tenants\":[\"" T1 "\"],\"tenant_id\":\"" T2 "\"}", &p, &err),
                     0);
    assert_int_equal(p.ntenants, 2);
    assert_string_equal(p.tenants[0], T1);
    assert_string_equal(p.tenants[1], T2);

    /* super_admin */
    assert_int_equal(principal("{\"sub\":\"root\",\"roles\":[\"super_admin\"]}", &p, &err), 0);
    assert_int_equal(p.roles, JW_ROLE_SUPER_ADMIN);
    /* role names are exact */
    assert_int_equal(principal("{\"sub\":\"x\",\"roles\":[\"Admin\",\"superadmin\",\"admin \"],"
                               "\"permissions\":[\"jobs:READ\",\"jobs\"]}",
                               &p, &err),
                     0);
    assert_int_equal(p.roles, 0);
    assert_int_equal(p.perms, 0);
}

static void test_principal_types(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* sub */
        "{}",
        "{\"sub\":null}",
        "{\"sub\":5}",
        "{\"sub\":\"\"}",
        "{\"sub\":[\"u\"]}",
        /* other strings */
        "{\"sub\":\"u\",\"name\":5}",
        "{\"sub\":\"u\",\"email\":true}",
        "{\"sub\":\"u\",\"realm\":[]}",
        /* roles / permissions / tenants must be arrays of strings */
        "{\"sub\":\"u\",\"roles\":\"admin\"}",
        "{\"sub\":\"u\",\"roles\":[1]}",
        "{\"sub\":\"u\",\"roles\":[\"admin\",null]}",
        "{\"sub\":\"u\",\"roles\":{\"admin\":true}}",
        "{\"sub\":\"u\",\"permissions\":\"jobs:read\"}",
        "{\"sub\":\"u\",\"permissions\":[true]}",
        "{\"sub\":\"u\",\"tenants\":\"" T1 "\"}",
        "{\"sub\":\"u\",\"tenants\":[123]}",
        "{\"sub\":\"u\",\"tenants\":[[\"" T1 "\"]]}",
        /* tenants must be UUIDs */
        "{\"sub\":\"u\",\"tenants\":[\"acme\"]}",
        "{\"sub\":\"u\",\"tenants\":[\"" T1 "x\"]}",
        "{\"sub\":\"u\",\"tenant_id\":5}",
        "{\"sub\":\"u\",\"tenant_id\":\"acme\"}",
        "{\"sub\":\"u\",\"tenant_id\":[\"" T1 "\"]}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        principal_refused(bad[i]);
    /* the message names the claim */
    struct jw_principal p;
    struct jw_error err;
    assert_int_equal(principal("{\"sub\":\"u\",\"roles\":\"admin\"}", &p, &err), -1);
    assert_non_null(strstr(err.detail, "roles"));
    assert_int_equal(principal("{\"sub\":\"u\",\"tenants\":[7]}", &p, &err), -1);
    assert_non_null(strstr(err.detail, "tenants"));
    assert_int_equal(principal("{\"name\":\"n\"}", &p, &err), -1);
    assert_non_null(strstr(err.detail, "sub"));
    /* too long for the principal */
    char sub[400];
    memset(sub, 's', 300);
    sub[300] = '\0';
    char text[512];
    snprintf(text, sizeof(text), "{\"sub\":\"%s\"}", sub);
    principal_refused(text);
    memset(sub, 's', 159);
    sub[159] = '\0';
    snprintf(text, sizeof(text), "{\"sub\":\"%s\"}", sub);
    assert_int_equal(principal(text, &p, &err), 0);
    assert_string_equal(p.sub, sub);
}

static void test_principal_tenant_limit(void **state)
{
    (void)state;
    struct jw_buf b = JW_BUF_INIT;
    for (int n = 32; n <= 33; n++) {
        jw_buf_reset(&b);
        jw_buf_puts(&b, "{\"sub\":\"u\",\"tenants\":[");
        for (int i = 0; i < n; i++)
            jw_buf_printf(&b, "%s\"%08x-0000-4000-8000-000000000000\"", i ? "," : "", i);
        jw_buf_puts(&b, "]}");
        struct jw_principal p;
        struct jw_error err;
        int rc = principal(jw_buf_str(&b), &p, &err);
        if (n == 32) {
            assert_int_equal(rc, 0);
            assert_int_equal(p.ntenants, 32);
            assert_string_equal(p.tenants[31], "0000001f-0000-4000-8000-000000000000");
        } else {
            assert_int_equal(rc, -1);
            assert_int_equal(err.status, 401);
        }
    }
    /* 32 tenants plus a tenant_id is one too many */
    jw_buf_reset(&b);
    jw_buf_puts(&b, "{\"sub\":\"u\",\"tenant_id\":\"" T1 "\",\"tenants\":[");
    for (int i = 0; i < 32; i++)
        jw_buf_printf(&b, "%s\"%08x-0000-4000-8000-000000000000\"", i ? "," : "", i);
    jw_buf_puts(&b, "]}");
    principal_refused(jw_buf_str(&b));
    jw_buf_free(&b);
}

static void test_perm_names_and_actor(void **state)
{
    (void)state;
    assert_int_equal(jw_perm_from_name("jobs:read"), JW_PERM_JOBS_READ);
    assert_int_equal(jw_perm_from_name("jobs:write"), JW_PERM_JOBS_WRITE);
    assert_int_equal(jw_perm_from_name("jobs:admin"), 0);
    assert_int_equal(jw_perm_from_name(""), 0);
    assert_int_equal(jw_perm_from_name("JOBS:READ"), 0);

    struct jw_principal p;
    memset(&p, 0, sizeof(p));
    strcpy(p.sub, "alice");
    char out[200];
    jw_principal_actor(&p, out, sizeof(out));
    assert_string_equal(out, "user:alice");
    p.is_apikey = true;
    strcpy(p.sub, "key-1");
    jw_principal_actor(&p, out, sizeof(out));
    assert_string_equal(out, "apikey:key-1");
    char small[8];
    jw_principal_actor(&p, small, sizeof(small));
    assert_string_equal(small, "apikey:");
}

/* ---- tenants of a request ----------------------------------------------------------- */

static struct jw_principal make_principal(unsigned roles, unsigned perms, const char *t1, const char *t2)
{
    struct jw_principal p;
    memset(&p, 0, sizeof(p));
    strcpy(p.sub, "u");
    p.roles = roles;
    p.perms = perms;
    if (t1)
        strcpy(p.tenants[p.ntenants++], t1);
    if (t2)
        strcpy(p.tenants[p.ntenants++], t2);
    return p;
}

static void tenant_is(const struct jw_principal *p, const char *path, const char *header, const char *want)
{
    char out[37];
    struct jw_error err;
    memset(out, 'X', sizeof(out));
    memset(&err, 0, sizeof(err));
    if (jw_access_tenant(p, path, header, out, &err) != 0)
        fail_msg("tenant(path %s, header %s) refused: %d %s", path ? path : "-", header ? header : "-",
                 err.status, err.detail);
    assert_string_equal(out, want);
}

static void tenant_fails(const struct jw_principal *p, const char *path, const char *header, int status,
                         const char *field)
{
    char out[37];
    struct jw_error err;
    memset(&err, 0, sizeof(err));
    if (jw_access_tenant(p, path, header, out, &err) != -1)
        fail_msg("tenant(path %s, header %s) accepted", path ? path : "-", header ? header : "-");
    if (err.status != status)
        fail_msg("tenant(path %s, header %s): status %d, want %d", path ? path : "-", header ? header : "-",
                 err.status, status);
    if (field)
        assert_string_equal(err.field, field);
    assert_true(err.detail[0] != '\0');
}

static void test_tenant_precedence(void **state)
{
    (void)state;
    struct jw_principal p = make_principal(JW_ROLE_ADMIN, 0, T1, T2);
    /* path beats header */
    tenant_is(&p, T1, T2, T1);
    tenant_is(&p, T2, T1, T2);
    /* header when there is no path (NULL or empty) */
    tenant_is(&p, NULL, T2, T2);
    tenant_is(&p, "", T1, T1);
    /* the only tenant when neither is given */
    struct jw_principal one = make_principal(JW_ROLE_ADMIN, 0, T3, NULL);
    tenant_is(&one, NULL, NULL, T3);
    tenant_is(&one, "", "", T3);
    /* upper-case ids are the same tenant */
    tenant_is(&p, T1_UPPER, NULL, T1);
    tenant_is(&p, NULL, T1_UPPER, T1);
}

static void test_tenant_errors(void **state)
{
    (void)state;
    struct jw_principal none = make_principal(JW_ROLE_ADMIN, 0, NULL, NULL);
    struct jw_principal two = make_principal(JW_ROLE_ADMIN, 0, T1, T2);
    struct jw_principal one = make_principal(JW_ROLE_ADMIN, 0, T1, NULL);
    /* missing: 400 naming the header */
    tenant_fails(&none, NULL, NULL, 400, "x-tenantid");
    tenant_fails(&two, NULL, NULL, 400, "x-tenantid");
    tenant_fails(&two, "", "", 400, "x-tenantid");
    /* malformed: 400 naming where it came from */
    tenant_fails(&one, "acme", NULL, 400, "teamId");
    tenant_fails(&one, T1 "0", NULL, 400, "teamId");
    tenant_fails(&one, NULL, "acme", 400, "x-tenantid");
    tenant_fails(&one, NULL, " " T1, 400, "x-tenantid");
    /* a malformed path is not rescued by a good header */
    tenant_fails(&one, "acme", T1, 400, "teamId");
    /* foreign: 403 */
    tenant_fails(&one, T2, NULL, 403, NULL);
    tenant_fails(&one, NULL, T2, 403, NULL);
    tenant_fails(&one, T2, T1, 403, NULL);
    tenant_fails(&none, NULL, T1, 403, NULL);
    /* a good path is not spoilt by a bad header */
    tenant_is(&one, T1, "garbage", T1);
}

static void test_tenant_super_admin(void **state)
{
    (void)state;
    struct jw_principal root = make_principal(JW_ROLE_SUPER_ADMIN, 0, NULL, NULL);
    tenant_is(&root, T2, NULL, T2);
    tenant_is(&root, NULL, T3, T3);
    tenant_is(&root, NULL, T1_UPPER, T1);
    /* still a UUID, and still required */
    tenant_fails(&root, "acme", NULL, 400, "teamId");
    tenant_fails(&root, NULL, NULL, 400, "x-tenantid");
    /* admin and system_admin are bound to their tenants */
    struct jw_principal sys = make_principal(JW_ROLE_SYSTEM_ADMIN | JW_ROLE_ADMIN, 0, T1, NULL);
    tenant_fails(&sys, T2, NULL, 403, NULL);
}

/* A token naming the same tenant twice (in tenants and tenant_id, or in two
 * spellings) still has exactly one tenant, so it needs no x-tenantid. */
static void test_tenant_named_twice(void **state)
{
    (void)state;
    static const char *const tokens[] = {
        "{\"sub\":\"u\",\"tenants\":[\"" T1 "\"],\"tenant_id\":\"" T1 "\"}",
        "{\"sub\":\"u\",\"tenants\":[\"" T1 "\",\"" T1_UPPER "\"]}",
    };
    for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
        struct jw_principal p;
        struct jw_error err;
        assert_int_equal(principal(tokens[i], &p, &err), 0);
        char out[37];
        memset(&err, 0, sizeof(err));
        int rc = jw_access_tenant(&p, NULL, NULL, out, &err);
        if (rc != 0)
            fail_msg("token %s: the only tenant was refused: %d %s", tokens[i], err.status, err.detail);
        assert_string_equal(out, T1);
    }
}

/* ---- access checks --------------------------------------------------------------------- */

static void test_access_matrix(void **state)
{
    (void)state;
    static const struct {
        const char *who;
        unsigned roles, perms;
        bool pub, read, write, admin, sysadmin, super;
    } rows[] = {
        {"nobody", 0, 0, true, false, false, false, false, false},
        {"jobs:read", 0, JW_PERM_JOBS_READ, true, true, false, false, false, false},
        {"jobs:write", 0, JW_PERM_JOBS_WRITE, true, false, true, false, false, false},
        {"read+write", 0, JW_PERM_JOBS_READ | JW_PERM_JOBS_WRITE, true, true, true, false, false, false},
        {"admin", JW_ROLE_ADMIN, 0, true, true, true, true, false, false},
        {"super_admin", JW_ROLE_SUPER_ADMIN, 0, true, true, true, true, true, true},
        {"system_admin", JW_ROLE_SYSTEM_ADMIN, 0, true, false, false, false, true, false},
        {"system_admin+admin", JW_ROLE_SYSTEM_ADMIN | JW_ROLE_ADMIN, 0, true, true, true, true, true, false},
        {"system_admin+read", JW_ROLE_SYSTEM_ADMIN, JW_PERM_JOBS_READ, true, true, false, false, true, false},
    };
    static const enum jw_access needs[] = {JW_ACCESS_PUBLIC, JW_ACCESS_READ,     JW_ACCESS_WRITE,
                                           JW_ACCESS_ADMIN,  JW_ACCESS_SYSADMIN, JW_ACCESS_SUPER};
    static const char *const need_names[] = {"PUBLIC", "READ", "WRITE", "ADMIN", "SYSADMIN", "SUPER"};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct jw_principal p = make_principal(rows[i].roles, rows[i].perms, T1, NULL);
        const bool want[] = {rows[i].pub,   rows[i].read,     rows[i].write,
                             rows[i].admin, rows[i].sysadmin, rows[i].super};
        for (size_t k = 0; k < 6; k++) {
            struct jw_error err;
            memset(&err, 0, sizeof(err));
            int rc = jw_access_check(&p, needs[k], &err);
            if ((rc == 0) != want[k])
                fail_msg("%s needing %s: rc %d, want %s", rows[i].who, need_names[k], rc,
                         want[k] ? "allowed" : "403");
            if (rc != 0) {
                assert_int_equal(rc, -1);
                assert_int_equal(err.status, 403);
                assert_true(err.detail[0] != '\0');
            }
        }
    }
    /* API-key principals follow the same rules */
    struct jw_principal key = make_principal(0, JW_PERM_JOBS_READ, T1, NULL);
    key.is_apikey = true;
    struct jw_error err;
    assert_int_equal(jw_access_check(&key, JW_ACCESS_READ, &err), 0);
    assert_int_equal(jw_access_check(&key, JW_ACCESS_WRITE, &err), -1);
    assert_non_null(strstr(err.detail, "jobs:write"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exp_required),
        cmocka_unit_test(test_exp_and_leeway),
        cmocka_unit_test(test_exp_types),
        cmocka_unit_test(test_nbf_iat),
        cmocka_unit_test(test_issuer),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_principal_full),
        cmocka_unit_test(test_principal_types),
        cmocka_unit_test(test_principal_tenant_limit),
        cmocka_unit_test(test_perm_names_and_actor),
        cmocka_unit_test(test_tenant_precedence),
        cmocka_unit_test(test_tenant_errors),
        cmocka_unit_test(test_tenant_super_admin),
        cmocka_unit_test(test_tenant_named_twice),
        cmocka_unit_test(test_access_matrix),
        /* last: the overflow it exposes is undefined behaviour, which a sanitizer
         * built with halt_on_error would stop the run at */
        cmocka_unit_test(test_exp_far_future),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
