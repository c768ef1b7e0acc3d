/* Unit tests for webhook signatures, run tokens, Retry-After, retry delays and
 * next steps (src/exec/policy.c). Expected signatures and tokens were computed
 * independently with Python's hmac/hashlib/base64 and pasted as literals. */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/policy.h"

#define SEC 1000LL
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* ---- helpers ------------------------------------------------------------ */

static void expect_sign(const char *secret, const char *msg_id, int64_t ts, const char *body, size_t len,
                        const char *want)
{
    char out[64];
    memset(out, 'X', sizeof(out));
    if (jw_webhook_sign(secret, msg_id, ts, body, len, out) != 0)
        fail_msg("jw_webhook_sign(\"%s\", \"%s\", %lld) refused", secret, msg_id, (long long)ts);
    if (memchr(out, '\0', sizeof(out)) == NULL)
        fail_msg("jw_webhook_sign(\"%s\") left out unterminated", secret);
    if (strcmp(out, want) != 0)
        fail_msg("jw_webhook_sign(\"%s\", \"%s\", %lld) = \"%s\", want \"%s\"", secret, msg_id, (long long)ts,
                 out, want);
}

static void expect_sign_refused(const char *secret)
{
    char out[64];
    memset(out, 'X', sizeof(out));
    if (jw_webhook_sign(secret, "msg_1", 1, "{}", 2, out) != -1)
        fail_msg("jw_webhook_sign accepted malformed secret \"%s\"", secret);
}

static void expect_retry_after(const char *value, int64_t now_ms, int64_t want)
{
    int64_t got = jw_retry_after_ms(value, now_ms);
    if (got != want)
        fail_msg("jw_retry_after_ms(\"%s\", %lld) = %lld, want %lld", value ? value : "(null)",
                 (long long)now_ms, (long long)got, (long long)want);
}

static void expect_delay(const struct jw_retry_policy *p, int next_attempt, double rnd, int64_t want)
{
    int64_t got = jw_retry_delay_ms(p, next_attempt, rnd);
    if (got != want)
        fail_msg("jw_retry_delay_ms({%s, %s, %lld, %lld}, %d, %g) = %lld, want %lld",
                 p->strategy ? p->strategy : "(null)", p->delays_json ? p->delays_json : "(null)",
                 (long long)p->initial_ms, (long long)p->max_ms, next_attempt, rnd, (long long)got,
                 (long long)want);
}

static const char *step_name(enum jw_next_step s)
{
    switch (s) {
    case JW_STEP_COMPLETE: return "COMPLETE";
    case JW_STEP_WORKER: return "WORKER";
    case JW_STEP_RETRY: return "RETRY";
    case JW_STEP_FALLBACK: return "FALLBACK";
    case JW_STEP_FAIL: return "FAIL";
    }
    return "?";
}

static struct jw_next next_of(int status, bool timed_out, int64_t retry_after, int attempt, int max_attempts,
                              bool has_fallback, bool on_fallback, const struct jw_retry_policy *p,
                              double rnd)
{
    struct jw_attempt_outcome o = {status, timed_out, retry_after};
    return jw_next_step(&o, attempt, max_attempts, has_fallback, on_fallback, p, rnd);
}

static void expect_step(struct jw_next got, enum jw_next_step step, const char *what)
{
    if (got.step != step)
        fail_msg("%s: step %s, want %s", what, step_name(got.step), step_name(step));
}

/* The usual policy: exponential, defaults. rnd 1 makes its delays exact. */
static const struct jw_retry_policy EXP_DEFAULT = {"exponential", NULL, 0, 0};

/* ---- jw_webhook_sign ---------------------------------------------------- */

static void test_sign_svix_example(void **state)
{
    (void)state;
    /* The example published by Standard Webhooks / Svix. */
    const char *body = "{\"test\": 2432232314}";
    expect_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body,
                strlen(body), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
}

static void test_sign_cross_checked(void **state)
{
    (void)state;
    /* key = bytes 0..31 */
    const char *s32 = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const char *body = "{\"hello\":\"world\"}";
    expect_sign(s32, "msg_2Lh9KRb0pzN4LePd3XiA4ZxbMhb", 1700000000, body, strlen(body),
                "v1,TvV1MLL7n5QNz6BjMXgA5HTR7mTuK2aYyJSzHViQqaY=");
    /* empty body */
    expect_sign(s32, "msg_2Lh9KRb0pzN4LePd3XiA4ZxbMhb", 1700000000, "", 0,
                "v1,TAiBZgWt3kgSZCsYnc29AmKkkLb+Hw4yTQKujbs06kU=");
    /* 64-byte key (the largest SPEC §6 allows), run-id-like msg_id */
    const char *s64 =
        "whsec_AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vA==";
    expect_sign(s64, "msg_x", 1752158700, "[1,2,3]", 7, "v1,CNiGjxcgKEI/UuOJ2fn73WLx9oKnk5HC0sNNAoi/cCQ=");
    /* 25-byte key: padded, and the same secret without its padding */
    const char *s25 = "whsec_am9id2hlZWwtd2ViaG9vay1zZWNyZXQhIQ==";
    const char *s25np = "whsec_am9id2hlZWwtd2ViaG9vay1zZWNyZXQhIQ";
    expect_sign(s25, "01890a5d-ac96-774b-bcce-b302099a8057", 1752158700, "{\"a\":1}", 7,
                "v1,5z+mojoNIhDzAyOli6Dl8+OiyRP3Z7blfbZY+QJ8gTo=");
    expect_sign(s25np, "01890a5d-ac96-774b-bcce-b302099a8057", 1752158700, "{\"a\":1}", 7,
                "v1,5z+mojoNIhDzAyOli6Dl8+OiyRP3Z7blfbZY+QJ8gTo=");
}

static void test_sign_shape(void **state)
{
    (void)state;
    char out[64];
    memset(out, 'X', sizeof(out));
    assert_int_equal(jw_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "m", 0, "x", 1, out), 0);
    assert_int_equal(strlen(out), 3 + 44);
    assert_memory_equal(out, "v1,", 3);
    assert_int_equal(out[46], '=');
    for (int i = 3; i < 46; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", out[i]))
            fail_msg("signature \"%s\": '%c' at %d is not standard base64", out, out[i], i);
}

static void test_sign_body_with_nuls(void **state)
{
    (void)state;
    const char *s32 = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    static const char body[5] = {'a', '\0', 'b', '\0', 'c'};
    /* all 5 bytes are signed, not just up to the first NUL */
    expect_sign(s32, "run-1", 0, body, sizeof(body), "v1,BD/47UREnZKPl7Z4ikUL6vXxYVb/wBO15jKlX2kpNpg=");
    /* and body_len is honoured the other way: only "a" */
    expect_sign(s32, "run-1", 0, body, 1, "v1,XzT/IxJjzKfb5SV7CWJk46PvAWoXQpbhndaYdK9lbL4=");
}

static void test_sign_inputs_matter(void **state)
{
    (void)state;
    const char *sec = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const char *body = "{\"test\": 2432232314}";
    const char *ref = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
    char a[64], b[64], c[64], d[64];
    assert_int_equal(jw_webhook_sign(sec, "msg_p5jXN8AQM9LWM0D4loKWxJel", 1614265330, body, strlen(body), a),
                     0);
    assert_int_equal(jw_webhook_sign(sec, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265331, body, strlen(body), b),
                     0);
    assert_int_equal(
        jw_webhook_sign(sec, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, strlen(body) - 1, c), 0);
    assert_int_equal(jw_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSx", "msg_p5jXN8AQM9LWM0D4loKWxJek",
                                     1614265330, body, strlen(body), d),
                     0); /* another key */
    assert_string_not_equal(a, ref);
    assert_string_not_equal(b, ref);
    assert_string_not_equal(c, ref);
    assert_string_not_equal(d, ref);
}

static void test_sign_malformed_secret(void **state)
{
    (void)state;
    expect_sign_refused("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");           /* no prefix */
    expect_sign_refused("WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");     /* prefix is lower case */
    expect_sign_refused("whsec:MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");     /* wrong separator */
    expect_sign_refused("whsec");                                      /* short of the prefix */
    expect_sign_refused("");                                           /* empty */
    expect_sign_refused("whsec_");                                     /* no key */
    expect_sign_refused("whsec_====");                                 /* only padding */
    expect_sign_refused("whsec_!!!!MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"); /* not base64 */
    expect_sign_refused("whsec_MfKQ9r8GKYqr TwjUPD8ILPZIo2LaLaSw");    /* space inside */
    expect_sign_refused("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwA");    /* 4n+1 characters */
    expect_sign_refused("whsec_AB");                                   /* non-canonical trailing bits */
    expect_sign_refused("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8-"); /* url-safe alphabet */
    expect_sign_refused("whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8_");
}

/* ---- run tokens --------------------------------------------------------- */

static const unsigned char TOKEN_KEY[] = "run-token-key-0123456789abcdef!!";
#define TOKEN_KEYLEN (sizeof(TOKEN_KEY) - 1)
#define TENANT "0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0e"
#define RUN1 "0190f3a2-0000-7000-8000-000000000001"
#define RUN2 "0190f3a2-0000-7000-8000-000000000002"
/* Python: t = hex tenant; a = "%08x" % attempt;
 * "jwr_" + t + "_" + a + "_" + urlsafe_b64(HMAC-SHA256(key, t + "." + a + "." + run_id)) without '=' */
#define TOKEN_RUN1 "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_00000001_pKBczKN3cRJEn5lxzywmdsi1sCZ-Y7ygetmhPiF_Cq0"
#define TOKEN_RUN2 "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_00000001_kJ6VwY3KTiWWmxhRN8jRaBV0xA7MUyFqVI4eLCqUBeo"
#define TOKEN_RUN1_ATTEMPT2                                                                                  \
    "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_00000002_7UbWwc59TrWOnkY-3jrTriXv24AyEtnxTOK-ZB13HAY"
#define TOKEN_RUN1_ATTEMPT_MAX                                                                               \
    "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_7fffffff_BnfMYvw0MSha3fPR3xsaBC2EH-Ef175gJL673Q4QPak"
#define TOKEN_RUN7 "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_00000001_Dr1QHjO_i-56MDbZtU2qX2-tVMlaKaAvlmkgFtD5rNg"
/* tenant 00000000-0000-4000-8000-000000000000, RUN1, attempt 1 */
#define TOKEN_OTHER_TENANT                                                                                   \
    "jwr_00000000000040008000000000000000_00000001_-Hj1DFMbvLhjRrm-qznppOwZhNVf19jRKFEZMeXpA5E"
#define OTHER_TENANT "00000000-0000-4000-8000-000000000000"

static void check_token_shape(const char *t)
{
    if (strlen(t) != JW_RUN_TOKEN_LEN || JW_RUN_TOKEN_LEN != 4 + 32 + 1 + 8 + 1 + 43)
        fail_msg("token \"%s\" has length %zu, want 89", t, strlen(t));
    if (strncmp(t, "jwr_", 4) != 0 || t[36] != '_' || t[45] != '_')
        fail_msg("token \"%s\" is not jwr_<32>_<8>_<43>", t);
    for (int i = 4; i < 45; i++)
        if (i != 36 && !strchr("0123456789abcdef", t[i]))
            fail_msg("token \"%s\": '%c' at %d is not lower-case hex", t, t[i], i);
    for (int i = 46; i < 89; i++)
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", t[i]))
            fail_msg("token \"%s\": '%c' at %d is not base64url", t, t[i], i);
}

static void test_token_known_values(void **state)
{
    (void)state;
    char t[96];
    memset(t, 'X', sizeof(t));
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 1, t);
    check_token_shape(t);
    assert_string_equal(t, TOKEN_RUN1);
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN2, 1, t);
    check_token_shape(t);
    assert_string_equal(t, TOKEN_RUN2);
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 2, t);
    check_token_shape(t);
    assert_string_equal(t, TOKEN_RUN1_ATTEMPT2);
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, JW_RUN_TOKEN_MAX_ATTEMPT, t);
    check_token_shape(t);
    assert_string_equal(t, TOKEN_RUN1_ATTEMPT_MAX);
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, TENANT, "run-7", 1, t); /* a MAC holding both '-' and '_' */
    check_token_shape(t);
    assert_string_equal(t, TOKEN_RUN7);
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, OTHER_TENANT, RUN1, 1, t);
    check_token_shape(t);
    assert_string_equal(t, TOKEN_OTHER_TENANT);
    /* the tenant in either case, with or without dashes, gives one token */
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, "0190F3A1-7C2E-7D4B-9A10-3F5E8C2B1D0E", RUN1, 1, t);
    assert_string_equal(t, TOKEN_RUN1);
}

static void test_token_deterministic(void **state)
{
    (void)state;
    char a[96], b[96], c[96];
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 1, a);
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 1, b);
    assert_string_equal(a, b);
    /* another tenant changes the MAC too: the tenant is signed */
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, OTHER_TENANT, RUN1, 1, c);
    check_token_shape(c);
    assert_memory_equal(c, "jwr_00000000000040008000000000000000_00000001_", 46);
    assert_string_not_equal(c + 46, a + 46);
    /* so does another attempt */
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 2, c);
    assert_memory_equal(c, "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_00000002_", 46);
    assert_string_not_equal(c + 46, a + 46);
}

static void test_token_parse_round_trip(void **state)
{
    (void)state;
    static const char *const tenants[] = {TENANT, "00000000-0000-0000-0000-000000000000",
                                          "ffffffff-ffff-4fff-bfff-ffffffffffff",
                                          "01890a5d-ac96-774b-bcce-b302099a8057"};
    static const int attempts[] = {1, 2, 9, 10, 16, 255, 4096, 65536, 1000000, JW_RUN_TOKEN_MAX_ATTEMPT};
    for (size_t i = 0; i < sizeof(tenants) / sizeof(tenants[0]); i++)
        for (size_t k = 0; k < sizeof(attempts) / sizeof(attempts[0]); k++) {
            char t[96], tenant[37];
            int attempt = -1;
            jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, tenants[i], RUN1, attempts[k], t);
            check_token_shape(t);
            memset(tenant, 'X', sizeof(tenant));
            if (jw_run_token_parse(t, tenant, &attempt) != 0)
                fail_msg("jw_run_token_parse(\"%s\") refused", t);
            assert_string_equal(tenant, tenants[i]);
            assert_int_equal(attempt, attempts[k]);
            assert_true(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, tenant, RUN1, attempt, t));
        }
    char tenant[37];
    int attempt;
    assert_int_equal(jw_run_token_parse(TOKEN_RUN7, tenant, &attempt), 0);
    assert_string_equal(tenant, TENANT);
    assert_int_equal(attempt, 1);
    assert_int_equal(jw_run_token_parse(TOKEN_RUN1_ATTEMPT2, tenant, &attempt), 0);
    assert_int_equal(attempt, 2);
}

static void expect_parse_refused(const char *token)
{
    char tenant[37];
    int attempt;
    if (jw_run_token_parse(token, tenant, &attempt) != -1)
        fail_msg("jw_run_token_parse(\"%s\") accepted", token ? token : "(null)");
}

static void test_token_parse_malformed(void **state)
{
    (void)state;
    char t[128];
    assert_int_equal(jw_run_token_parse(NULL, (char[37]){0}, &(int){0}), -1);
    expect_parse_refused("");
    expect_parse_refused("jwr_");
    expect_parse_refused("jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_");
    expect_parse_refused("jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_00000001_");
    /* the token of the old form, without an attempt */
    expect_parse_refused("jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_gTzMUUBcVzPjGYldPIJQzsx6gxkDF0e7EekNya2LTSQ");
    /* upper-case hex, in the tenant or the attempt */
    expect_parse_refused(
        "jwr_0190F3A17C2E7D4B9A103F5E8C2B1D0E_00000001_pKBczKN3cRJEn5lxzywmdsi1sCZ-Y7ygetmhPiF_Cq0");
    strcpy(t, TOKEN_RUN1);
    t[10] = 'E'; /* one upper-case digit is enough */
    expect_parse_refused(t);
    strcpy(t, "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_0000000A_pKBczKN3cRJEn5lxzywmdsi1sCZ-Y7ygetmhPiF_Cq0");
    expect_parse_refused(t);
    /* not hex */
    strcpy(t, TOKEN_RUN1);
    t[4] = 'g';
    expect_parse_refused(t);
    strcpy(t, TOKEN_RUN1);
    t[35] = '-';
    expect_parse_refused(t);
    strcpy(t, TOKEN_RUN1);
    t[37] = ' ';
    expect_parse_refused(t);
    strcpy(t, TOKEN_RUN1);
    t[37] = '+';
    expect_parse_refused(t);
    strcpy(t, TOKEN_RUN1);
    t[44] = 'x';
    expect_parse_refused(t);
    /* attempts out of range: 0, and above 2^31 - 1 */
    expect_parse_refused(
        "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_00000000_pKBczKN3cRJEn5lxzywmdsi1sCZ-Y7ygetmhPiF_Cq0");
    expect_parse_refused(
        "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_80000000_pKBczKN3cRJEn5lxzywmdsi1sCZ-Y7ygetmhPiF_Cq0");
    expect_parse_refused(
        "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_ffffffff_pKBczKN3cRJEn5lxzywmdsi1sCZ-Y7ygetmhPiF_Cq0");
    /* other prefixes */
    strcpy(t, TOKEN_RUN1);
    t[2] = 't';
    expect_parse_refused(t);
    strcpy(t, TOKEN_RUN1);
    t[0] = 'J';
    expect_parse_refused(t);
    /* the separators */
    strcpy(t, TOKEN_RUN1);
    t[36] = '-';
    expect_parse_refused(t);
    strcpy(t, TOKEN_RUN1);
    t[45] = '.';
    expect_parse_refused(t);
    /* a dashed UUID in place of the 32 hex digits (the length then differs) */
    expect_parse_refused("jwr_" TENANT "_00000001_pKBczKN3cRJEn5lxzywmdsi1sCZ-Y7ygetmhPiF_Cq0");
    /* truncated and extended */
    strcpy(t, TOKEN_RUN1);
    t[88] = '\0';
    expect_parse_refused(t);
    strcpy(t, TOKEN_RUN1);
    strcat(t, "A");
    expect_parse_refused(t);
    /* the MAC part is not parsed: shape only */
    char tenant[37];
    int attempt;
    assert_int_equal(
        jw_run_token_parse(
            "jwr_0190f3a17c2e7d4b9a103f5e8c2b1d0e_00000003_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            tenant, &attempt),
        0);
    assert_string_equal(tenant, TENANT);
    assert_int_equal(attempt, 3);
}

static void expect_token_check(const char *token, bool want, const char *what)
{
    if (jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 1, token) != want)
        fail_msg("jw_run_token_check(%s \"%s\") = %s, want %s", what, token, want ? "false" : "true",
                 want ? "true" : "false");
}

static void test_token_check(void **state)
{
    (void)state;
    char t[96];
    jw_run_token(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 1, t);
    expect_token_check(t, true, "own token");
    expect_token_check(TOKEN_RUN1, true, "literal");
    assert_false(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 1, NULL));
    /* another run's token */
    expect_token_check(TOKEN_RUN2, false, "other run");
    assert_true(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN2, 1, TOKEN_RUN2));
    assert_false(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN2, 1, TOKEN_RUN1));
    /* another attempt's token, either way round */
    expect_token_check(TOKEN_RUN1_ATTEMPT2, false, "attempt 2's");
    assert_true(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 2, TOKEN_RUN1_ATTEMPT2));
    assert_false(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 2, TOKEN_RUN1));
    assert_false(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 0, TOKEN_RUN1));
    assert_false(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, -1, TOKEN_RUN1));
    /* another key: one byte different, or shorter */
    unsigned char other[TOKEN_KEYLEN];
    memcpy(other, TOKEN_KEY, TOKEN_KEYLEN);
    other[0] ^= 1;
    assert_false(jw_run_token_check(other, TOKEN_KEYLEN, TENANT, RUN1, 1, t));
    assert_false(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN - 1, TENANT, RUN1, 1, t));
    /* another tenant */
    assert_false(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, OTHER_TENANT, RUN1, 1, t));
    assert_true(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, OTHER_TENANT, RUN1, 1, TOKEN_OTHER_TENANT));
}

/* The forgeries a hostile tenant would try with a token it holds. */
static void test_token_forged(void **state)
{
    (void)state;
    char t[96], tenant[37];
    int attempt;
    /* the tenant part swapped for another tenant's, the MAC kept: it parses
     * as that tenant's, and fails the check as that tenant's */
    strcpy(t, TOKEN_RUN1);
    memcpy(t + 4, "00000000000040008000000000000000", 32);
    assert_int_equal(jw_run_token_parse(t, tenant, &attempt), 0);
    assert_string_equal(tenant, OTHER_TENANT);
    assert_false(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, tenant, RUN1, attempt, t));
    expect_token_check(t, false, "tenant swapped");
    /* the attempt part raised or lowered, the MAC kept */
    static const char *const attempts[] = {"00000002", "00000000", "00000011", "7fffffff", "10000001"};
    for (size_t i = 0; i < sizeof(attempts) / sizeof(attempts[0]); i++) {
        strcpy(t, TOKEN_RUN1);
        memcpy(t + 37, attempts[i], 8);
        if (jw_run_token_parse(t, tenant, &attempt) == 0 &&
            jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, tenant, RUN1, attempt, t))
            fail_msg("attempt %s with attempt 1's MAC accepted", attempts[i]);
        if (jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 2, t))
            fail_msg("attempt %s with attempt 1's MAC accepted for attempt 2", attempts[i]);
    }
    /* another tenant's whole token, for this tenant's run */
    assert_false(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, RUN1, 1, TOKEN_OTHER_TENANT));
}

static void test_token_check_tampered(void **state)
{
    (void)state;
    /* every single-character change is refused */
    for (size_t i = 0; i < strlen(TOKEN_RUN1); i++) {
        char t[96];
        strcpy(t, TOKEN_RUN1);
        t[i] = t[i] == 'a' ? 'b' : 'a';
        expect_token_check(t, false, "one character changed");
    }
    char t[2 * sizeof(TOKEN_RUN1)];
    /* truncated */
    for (size_t n = 0; n < strlen(TOKEN_RUN1); n++) {
        strcpy(t, TOKEN_RUN1);
        t[n] = '\0';
        expect_token_check(t, false, "truncated");
    }
    /* extended */
    strcpy(t, TOKEN_RUN1);
    strcat(t, "A");
    expect_token_check(t, false, "extended");
    strcpy(t, TOKEN_RUN1);
    strcat(t, "=");
    expect_token_check(t, false, "padded");
    strcpy(t, TOKEN_RUN1);
    strcat(t, TOKEN_RUN1);
    expect_token_check(t, false, "doubled");
    /* upper-cased tenant part */
    strcpy(t, "jwr_0190F3A17C2E7D4B9A103F5E8C2B1D0E_00000001_pKBczKN3cRJEn5lxzywmdsi1sCZ-Y7ygetmhPiF_Cq0");
    expect_token_check(t, false, "upper-case tenant");
    /* standard base64 in place of base64url */
    strcpy(t, TOKEN_RUN7);
    assert_true(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, "run-7", 1, t));
    for (char *c = t + 46; *c; c++)
        *c = *c == '-' ? '+' : *c == '_' ? '/' : *c;
    assert_false(jw_run_token_check(TOKEN_KEY, TOKEN_KEYLEN, TENANT, "run-7", 1, t));
}

/* ---- jw_retry_after_ms -------------------------------------------------- */

/* Wed, 21 Oct 2015 07:28:00 GMT (Python calendar.timegm) */
#define T_2015_10_21_0728 (1445412480LL * SEC)

static void test_retry_after_seconds(void **state)
{
    (void)state;
    const int64_t now = T_2015_10_21_0728;
    expect_retry_after("120", now, 120000);
    expect_retry_after("0", now, 0);
    expect_retry_after("1", 0, 1000);
    expect_retry_after(" 5", now, 5000);
    expect_retry_after("   5", now, 5000);
    expect_retry_after("5 ", now, 5000); /* OWS around a header value */
    expect_retry_after("3600", now, HOUR);
    expect_retry_after("86400", now, DAY);
    expect_retry_after("007", now, 7000);
}

static void test_retry_after_invalid(void **state)
{
    (void)state;
    const int64_t now = T_2015_10_21_0728;
    expect_retry_after("-1", now, -1);
    expect_retry_after("abc", now, -1);
    expect_retry_after("1.5", now, -1);
    expect_retry_after("", now, -1);
    expect_retry_after(" ", now, -1);
    expect_retry_after(NULL, now, -1);
    expect_retry_after("+5", now, -1);
    expect_retry_after("5s", now, -1);
    expect_retry_after("12abc", now, -1);
    expect_retry_after("1e3", now, -1);
    expect_retry_after("0x10", now, -1);
    expect_retry_after("5 5", now, -1);
    expect_retry_after("tomorrow", now, -1);
    /* absurdly many seconds must not come back as a wrapped value */
    int64_t r = jw_retry_after_ms("99999999999999999999", now);
    if (r != -1 && r < 0)
        fail_msg("jw_retry_after_ms(\"99999999999999999999\") = %lld", (long long)r);
    r = jw_retry_after_ms("9223372036854775807", now);
    if (r != -1 && r < 0)
        fail_msg("jw_retry_after_ms(\"9223372036854775807\") = %lld", (long long)r);
}

static void test_retry_after_date_future(void **state)
{
    (void)state;
    const char *d = "Wed, 21 Oct 2015 07:28:00 GMT";
    expect_retry_after(d, T_2015_10_21_0728 - 90 * SEC, 90 * SEC);
    expect_retry_after(d, T_2015_10_21_0728 - 1234, 1234); /* now need not be whole seconds */
    expect_retry_after(d, T_2015_10_21_0728 - 1, 1);
    expect_retry_after(d, T_2015_10_21_0728 - 2 * DAY, 2 * DAY);
    expect_retry_after(" Wed, 21 Oct 2015 07:28:00 GMT", T_2015_10_21_0728 - 10 * SEC, 10 * SEC);
    /* RFC 9110's own example: Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    expect_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", 784111777LL * SEC - HOUR, HOUR);
    /* a leap day, and the last second of a day */
    expect_retry_after("Tue, 29 Feb 2000 23:59:59 GMT", 951868799LL * SEC - 5 * SEC, 5 * SEC);
    /* the epoch itself */
    expect_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", -7 * SEC, 7 * SEC);
    /* far future: 9999-12-31T23:59:59Z = 253402300799 */
    expect_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", 253402300799LL * SEC - 42, 42);
}

static void test_retry_after_date_past(void **state)
{
    (void)state;
    const char *d = "Wed, 21 Oct 2015 07:28:00 GMT";
    expect_retry_after(d, T_2015_10_21_0728, 0);
    expect_retry_after(d, T_2015_10_21_0728 + 1, 0);
    expect_retry_after(d, T_2015_10_21_0728 + 365 * DAY, 0);
    expect_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", T_2015_10_21_0728, 0);
    expect_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", T_2015_10_21_0728, 0);
}

static void test_retry_after_date_invalid(void **state)
{
    (void)state;
    const int64_t now = T_2015_10_21_0728 - DAY;
    expect_retry_after("Mon, 30 Feb 2015 07:28:00 GMT", now, -1); /* Feb 30 */
    expect_retry_after("Sun, 29 Feb 2015 07:28:00 GMT", now, -1); /* not a leap year */
    expect_retry_after("Mon, 29 Feb 2100 07:28:00 GMT", now, -1); /* century, not leap */
    expect_retry_after("Fri, 31 Apr 2015 07:28:00 GMT", now, -1);
    expect_retry_after("Thu, 00 Oct 2015 07:28:00 GMT", now, -1);
    expect_retry_after("Thu, 32 Oct 2015 07:28:00 GMT", now, -1);
    expect_retry_after("Wed, 21 Foo 2015 07:28:00 GMT", now, -1);
    expect_retry_after("Wed, 21 oct 2015 07:28:00 GMT", now, -1); /* month names are case-sensitive */
    expect_retry_after("Wed, 21 Oct 2015 24:00:00 GMT", now, -1);
    expect_retry_after("Wed, 21 Oct 2015 07:60:00 GMT", now, -1);
    expect_retry_after("Wed, 21 Oct 2015 07:28:61 GMT", now, -1);
    expect_retry_after("Wed, 21 Oct 2015", now, -1);
    expect_retry_after("Wed, 21 Oct 2015 07:28 GMT", now, -1);
    expect_retry_after("2015-10-21T07:28:00Z", now, -1);
    expect_retry_after("Wed 21 Oct 2015 07:28:00 GMT", now, -1);
}

static void test_retry_after_date_negative_field(void **state)
{
    (void)state;
    /* "-1" is no hour of the day */
    expect_retry_after("Wed, 21 Oct 2015 -1:28:00 GMT", T_2015_10_21_0728 - DAY, -1);
}

static void test_retry_after_date_zone_must_be_gmt(void **state)
{
    (void)state;
    /* IMF-fixdate always ends in "GMT"; anything else is not an HTTP-date,
     * and must not be taken as GMT (PST would be 8 hours off). */
    expect_retry_after("Wed, 21 Oct 2015 07:28:00 PST", T_2015_10_21_0728 - DAY, -1);
    expect_retry_after("Wed, 21 Oct 2015 07:28:00", T_2015_10_21_0728 - DAY, -1);
}

static void test_retry_after_date_before_epoch(void **state)
{
    (void)state;
    /* A valid HTTP-date in the past is 0, even before 1970. */
    expect_retry_after("Wed, 31 Dec 1969 23:59:59 GMT", T_2015_10_21_0728, 0);
}

/* ---- jw_retry_delay_ms -------------------------------------------------- */

static void test_delay_fixed(void **state)
{
    (void)state;
    struct jw_retry_policy p = {"fixed", NULL, 2500, 0};
    expect_delay(&p, 2, 0.5, 2500);
    expect_delay(&p, 3, 0.0, 2500);
    expect_delay(&p, 10, 1.0, 2500);
    expect_delay(&p, INT_MAX, 0.3, 2500);
    /* defaults */
    struct jw_retry_policy d = {"fixed", NULL, 0, 0};
    expect_delay(&d, 2, 0.5, 1000);
    expect_delay(&d, 7, 0.5, 1000);
    /* never above max */
    struct jw_retry_policy c = {"fixed", NULL, 10000, 4000};
    expect_delay(&c, 2, 0.5, 4000);
    /* default max: 300000 */
    struct jw_retry_policy big = {"fixed", NULL, 600000, 0};
    expect_delay(&big, 2, 0.5, 300000);
}

static void test_delay_linear(void **state)
{
    (void)state;
    struct jw_retry_policy p = {"linear", NULL, 1500, 0};
    expect_delay(&p, 2, 0.5, 1500);
    expect_delay(&p, 3, 0.5, 3000);
    expect_delay(&p, 4, 0.0, 4500);
    expect_delay(&p, 11, 1.0, 15000);
    /* defaults */
    struct jw_retry_policy d = {"linear", NULL, 0, 0};
    expect_delay(&d, 2, 0.5, 1000);
    expect_delay(&d, 3, 0.5, 2000);
    expect_delay(&d, 300, 0.5, 299000);
    expect_delay(&d, 301, 0.5, 300000);
    expect_delay(&d, 302, 0.5, 300000); /* capped at the default max */
    /* an explicit cap */
    struct jw_retry_policy c = {"linear", NULL, 1000, 2500};
    expect_delay(&c, 3, 0.5, 2000);
    expect_delay(&c, 4, 0.5, 2500);
    expect_delay(&c, 50, 0.5, 2500);
    /* very large attempt numbers */
    expect_delay(&d, INT_MAX, 0.5, 300000);
    struct jw_retry_policy day = {"linear", NULL, DAY, 7 * DAY};
    expect_delay(&day, INT_MAX, 0.5, 7 * DAY);
}

static void test_delay_exponential_jitter(void **state)
{
    (void)state;
    struct jw_retry_policy p = {"exponential", NULL, 1000, 0};
    /* ceiling = 1000 * 2^(n - 2) */
    int64_t ceiling = 1000;
    for (int n = 2; n <= 10; n++, ceiling *= 2) {
        expect_delay(&p, n, 0.0, 0);
        expect_delay(&p, n, 1.0, ceiling);
        expect_delay(&p, n, 0.5, ceiling / 2);
        expect_delay(&p, n, 0.25, ceiling / 4);
    }
    /* n = 10: 256000; n = 11 would be 512000, capped at 300000 */
    expect_delay(&p, 10, 1.0, 256000);
    expect_delay(&p, 11, 1.0, 300000);
    expect_delay(&p, 11, 0.5, 150000);
    expect_delay(&p, 11, 0.0, 0);
    expect_delay(&p, 30, 1.0, 300000);
    /* any draw lies in [0, ceiling] */
    for (int i = 0; i <= 100; i++) {
        double r = i / 100.0;
        int64_t got = jw_retry_delay_ms(&p, 5, r);
        if (got < 0 || got > 8000)
            fail_msg("exponential n=5 rnd=%g: %lld outside [0, 8000]", r, (long long)got);
    }
}

static void test_delay_exponential_cap_and_defaults(void **state)
{
    (void)state;
    /* defaults: initial 1000, max 300000 */
    struct jw_retry_policy d = {"exponential", NULL, 0, 0};
    expect_delay(&d, 2, 1.0, 1000);
    expect_delay(&d, 3, 1.0, 2000);
    expect_delay(&d, 4, 1.0, 4000);
    expect_delay(&d, 11, 1.0, 300000);
    /* NULL strategy and an unknown one mean exponential */
    struct jw_retry_policy n = {NULL, NULL, 0, 0};
    expect_delay(&n, 2, 1.0, 1000);
    expect_delay(&n, 4, 1.0, 4000);
    expect_delay(&n, 4, 0.5, 2000);
    struct jw_retry_policy u = {"bogus", NULL, 0, 0};
    expect_delay(&u, 4, 1.0, 4000);
    expect_delay(&u, 4, 0.0, 0);
    /* a custom cap */
    struct jw_retry_policy c = {"exponential", NULL, 500, 3000};
    expect_delay(&c, 2, 1.0, 500);
    expect_delay(&c, 3, 1.0, 1000);
    expect_delay(&c, 4, 1.0, 2000);
    expect_delay(&c, 5, 1.0, 3000);
    expect_delay(&c, 5, 0.5, 1500);
    expect_delay(&c, 6, 1.0, 3000);
    /* initial above max */
    struct jw_retry_policy over = {"exponential", NULL, 10000, 4000};
    expect_delay(&over, 2, 1.0, 4000);
    expect_delay(&over, 2, 0.5, 2000);
    /* negative values are not given; 0 means default */
    struct jw_retry_policy neg = {"exponential", NULL, -5, -5};
    expect_delay(&neg, 3, 1.0, 2000);
}

static void test_delay_large_attempts(void **state)
{
    (void)state;
    struct jw_retry_policy e = {"exponential", NULL, 0, 0};
    expect_delay(&e, 63, 1.0, 300000);
    expect_delay(&e, 64, 1.0, 300000);
    expect_delay(&e, 65, 1.0, 300000);
    expect_delay(&e, 1000, 1.0, 300000);
    expect_delay(&e, INT_MAX, 1.0, 300000);
    expect_delay(&e, INT_MAX, 0.5, 150000);
    expect_delay(&e, INT_MAX, 0.0, 0);
    struct jw_retry_policy l = {"linear", NULL, 0, 0};
    expect_delay(&l, INT_MAX, 1.0, 300000);
    struct jw_retry_policy f = {"fixed", NULL, 0, 0};
    expect_delay(&f, INT_MAX, 1.0, 1000);
    struct jw_retry_policy x = {"fixed", "[1,5,30]", 0, 0};
    expect_delay(&x, INT_MAX, 1.0, 30000);
}

static void test_delay_exponential_large_initial(void **state)
{
    (void)state;
    /* A day's initial delay, a week's cap, many attempts: the ceiling is the
     * cap, without the doubling overflowing int64 on the way. */
    struct jw_retry_policy p = {"exponential", NULL, DAY, 7 * DAY};
    expect_delay(&p, 2, 1.0, DAY);
    expect_delay(&p, 4, 1.0, 4 * DAY);
    expect_delay(&p, 5, 1.0, 7 * DAY);
    expect_delay(&p, 100, 1.0, 7 * DAY);
    expect_delay(&p, 100, 0.5, 7 * DAY / 2);
    expect_delay(&p, INT_MAX, 1.0, 7 * DAY);
}

static void test_delay_explicit_list(void **state)
{
    (void)state;
    struct jw_retry_policy p = {"exponential", "[1,5,30]", 0, 0};
    expect_delay(&p, 2, 0.5, 1000);
    expect_delay(&p, 3, 0.5, 5000);
    expect_delay(&p, 4, 0.5, 30000);
    expect_delay(&p, 5, 0.5, 30000); /* the last one repeats */
    expect_delay(&p, 6, 0.0, 30000);
    expect_delay(&p, 50, 1.0, 30000);
    /* rnd plays no part */
    expect_delay(&p, 2, 0.0, 1000);
    expect_delay(&p, 2, 1.0, 1000);
    /* whatever the strategy */
    struct jw_retry_policy f = {"fixed", "[1,5,30]", 7000, 0};
    expect_delay(&f, 3, 0.5, 5000);
    struct jw_retry_policy l = {"linear", "[1,5,30]", 7000, 0};
    expect_delay(&l, 4, 0.5, 30000);
    /* a single entry, zero, whitespace */
    struct jw_retry_policy one = {NULL, "[7]", 0, 0};
    expect_delay(&one, 2, 0.5, 7000);
    expect_delay(&one, 9, 0.5, 7000);
    struct jw_retry_policy zero = {NULL, "[0, 2]", 0, 0};
    expect_delay(&zero, 2, 0.5, 0);
    expect_delay(&zero, 3, 0.5, 2000);
    struct jw_retry_policy ws = {NULL, "[ 1 , 5 , 30 ]", 0, 0};
    expect_delay(&ws, 3, 0.5, 5000);
}

static void test_delay_explicit_not_capped(void **state)
{
    (void)state;
    /* retry_delays_secs are taken as given: max_ms caps the strategies only */
    struct jw_retry_policy p = {"exponential", "[600,3600]", 0, 1000};
    expect_delay(&p, 2, 0.5, 600000);
    expect_delay(&p, 3, 0.5, 3600000);
    expect_delay(&p, 4, 0.5, 3600000);
    struct jw_retry_policy d = {"exponential", "[86400]", 0, 0};
    expect_delay(&d, 2, 0.5, DAY); /* above the default max of 300000 too */
}

static void test_delay_explicit_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",        "[",
        "[1,5,",   "[1,5,30",
        "[]",      "{}",
        "null",    "\"[1]\"",
        "[\"a\"]", "[1.5]",
        "[1e3]",   "[-5]",
        "[[1]]",   "[null]",
        "[true]",  "[{\"a\":1}]",
        "[1,,2]",  "[1] trailing",
        "[1]]",    "[99999999999999999999]",
        " [1]",    "1",
        "[0x10]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* falls back to the strategy: fixed 2500 */
        struct jw_retry_policy f = {"fixed", bad[i], 2500, 0};
        expect_delay(&f, 2, 0.5, 2500);
        /* exponential */
        struct jw_retry_policy e = {"exponential", bad[i], 1000, 0};
        expect_delay(&e, 4, 1.0, 4000);
        expect_delay(&e, 4, 0.5, 2000);
    }
}

static void test_delay_explicit_huge_entry(void **state)
{
    (void)state;
    /* An entry whose milliseconds do not fit int64 must not wrap to a
     * negative delay. */
    struct jw_retry_policy p = {"fixed", "[9223372036854775807]", 2500, 0};
    int64_t got = jw_retry_delay_ms(&p, 2, 0.5);
    if (got < 0)
        fail_msg("jw_retry_delay_ms(delays \"[9223372036854775807]\") = %lld, a negative delay",
                 (long long)got);
    struct jw_retry_policy q = {"fixed", "[9300000000000000]", 2500, 0};
    got = jw_retry_delay_ms(&q, 2, 0.5);
    if (got < 0)
        fail_msg("jw_retry_delay_ms(delays \"[9300000000000000]\") = %lld, a negative delay", (long long)got);
}

/* ---- jw_next_step ------------------------------------------------------- */

static void test_next_success(void **state)
{
    (void)state;
    static const int ok[] = {200, 201, 204, 250, 299};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "%d on attempt 1 of 3", ok[i]);
        expect_step(next_of(ok[i], false, -1, 1, 3, true, false, &EXP_DEFAULT, 1.0), JW_STEP_COMPLETE, what);
        snprintf(what, sizeof(what), "%d on the last attempt", ok[i]);
        expect_step(next_of(ok[i], false, -1, 3, 3, false, false, &EXP_DEFAULT, 1.0), JW_STEP_COMPLETE, what);
        snprintf(what, sizeof(what), "%d on the fallback", ok[i]);
        expect_step(next_of(ok[i], false, -1, 4, 3, true, true, &EXP_DEFAULT, 1.0), JW_STEP_COMPLETE, what);
    }
    /* not 2xx */
    expect_step(next_of(300, false, -1, 1, 3, false, false, &EXP_DEFAULT, 1.0), JW_STEP_RETRY, "300");
    expect_step(next_of(199, false, -1, 1, 3, false, false, &EXP_DEFAULT, 1.0), JW_STEP_RETRY, "199");
}

static void test_next_worker(void **state)
{
    (void)state;
    expect_step(next_of(202, false, -1, 1, 3, false, false, &EXP_DEFAULT, 1.0), JW_STEP_WORKER, "202 first");
    expect_step(next_of(202, false, -1, 3, 3, false, false, &EXP_DEFAULT, 1.0), JW_STEP_WORKER, "202 last");
    expect_step(next_of(202, false, -1, 4, 3, true, true, &EXP_DEFAULT, 1.0), JW_STEP_WORKER, "202 fallback");
}

static void test_next_retry_uses_policy(void **state)
{
    (void)state;
    struct jw_next n = next_of(500, false, -1, 1, 3, false, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_RETRY, "500 on attempt 1 of 3");
    assert_int_equal(n.delay_ms, 1000); /* before attempt 2 */
    assert_int_equal(n.delay_ms, jw_retry_delay_ms(&EXP_DEFAULT, 2, 1.0));
    n = next_of(500, false, -1, 2, 3, false, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_RETRY, "500 on attempt 2 of 3");
    assert_int_equal(n.delay_ms, 2000); /* before attempt 3 */
    /* rnd is passed through */
    n = next_of(500, false, -1, 3, 10, false, false, &EXP_DEFAULT, 0.5);
    expect_step(n, JW_STEP_RETRY, "500 on attempt 3 of 10");
    assert_int_equal(n.delay_ms, 2000);
    n = next_of(500, false, -1, 3, 10, false, false, &EXP_DEFAULT, 0.0);
    assert_int_equal(n.delay_ms, 0);
    /* other strategies */
    struct jw_retry_policy lin = {"linear", NULL, 2000, 0};
    n = next_of(500, false, -1, 3, 5, true, false, &lin, 0.5);
    expect_step(n, JW_STEP_RETRY, "linear");
    assert_int_equal(n.delay_ms, 6000);
    struct jw_retry_policy list = {NULL, "[1,5,30]", 0, 0};
    n = next_of(500, false, -1, 2, 5, true, false, &list, 0.5);
    assert_int_equal(n.delay_ms, 5000);
    n = next_of(500, false, -1, 4, 5, true, false, &list, 0.5);
    assert_int_equal(n.delay_ms, 30000);
}

static void test_next_retry_other_failures(void **state)
{
    (void)state;
    /* any non-2xx answer, a transport error (0) or a timeout is a failed attempt */
    static const int bad[] = {0, 100, 301, 304, 400, 401, 403, 404, 408, 409, 422, 429, 500, 502, 503, 504};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char what[64];
        snprintf(what, sizeof(what), "%d on attempt 2 of 4", bad[i]);
        struct jw_next n = next_of(bad[i], false, -1, 2, 4, true, false, &EXP_DEFAULT, 1.0);
        expect_step(n, JW_STEP_RETRY, what);
        assert_int_equal(n.delay_ms, 2000);
    }
    /* 0 retries exactly like 500 */
    struct jw_next a = next_of(0, false, -1, 1, 3, false, false, &EXP_DEFAULT, 0.7);
    struct jw_next b = next_of(500, false, -1, 1, 3, false, false, &EXP_DEFAULT, 0.7);
    assert_int_equal(a.step, b.step);
    assert_int_equal(a.delay_ms, b.delay_ms);
    /* and a timeout that is not the last attempt is retried */
    struct jw_next t = next_of(0, true, -1, 1, 3, false, false, &EXP_DEFAULT, 1.0);
    expect_step(t, JW_STEP_RETRY, "timeout on attempt 1 of 3");
    assert_int_equal(t.delay_ms, 1000);
}

static void test_next_retry_after(void **state)
{
    (void)state;
    /* 429/503 with Retry-After above the policy delay: wait that long */
    struct jw_next n = next_of(429, false, 10000, 1, 3, false, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_RETRY, "429");
    assert_int_equal(n.delay_ms, 10000);
    n = next_of(503, false, 120000, 2, 3, false, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_RETRY, "503");
    assert_int_equal(n.delay_ms, 120000);
    n = next_of(503, false, 1001, 1, 3, false, false, &EXP_DEFAULT, 1.0);
    assert_int_equal(n.delay_ms, 1001);
    /* below or equal to the policy delay: the policy delay */
    n = next_of(429, false, 500, 1, 3, false, false, &EXP_DEFAULT, 1.0);
    assert_int_equal(n.delay_ms, 1000);
    n = next_of(429, false, 1000, 1, 3, false, false, &EXP_DEFAULT, 1.0);
    assert_int_equal(n.delay_ms, 1000);
    n = next_of(503, false, 0, 2, 3, false, false, &EXP_DEFAULT, 1.0);
    assert_int_equal(n.delay_ms, 2000);
    /* none given */
    n = next_of(429, false, -1, 2, 3, false, false, &EXP_DEFAULT, 1.0);
    assert_int_equal(n.delay_ms, 2000);
    /* capped at an hour */
    n = next_of(429, false, 7200000, 1, 3, false, false, &EXP_DEFAULT, 1.0);
    assert_int_equal(n.delay_ms, 3600000);
    n = next_of(503, false, 3600001, 1, 3, false, false, &EXP_DEFAULT, 1.0);
    assert_int_equal(n.delay_ms, 3600000);
    n = next_of(503, false, 3600000, 1, 3, false, false, &EXP_DEFAULT, 1.0);
    assert_int_equal(n.delay_ms, 3600000);
    n = next_of(503, false, INT64_MAX, 1, 3, false, false, &EXP_DEFAULT, 1.0);
    assert_int_equal(n.delay_ms, 3600000);
    /* ignored for other statuses */
    static const int other[] = {0, 500, 502, 504, 400, 408};
    for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
        n = next_of(other[i], false, 10000, 1, 3, false, false, &EXP_DEFAULT, 1.0);
        expect_step(n, JW_STEP_RETRY, "retry_after with another status");
        if (n.delay_ms != 1000)
            fail_msg("status %d with retry_after 10000: delay %lld, want 1000", other[i],
                     (long long)n.delay_ms);
    }
    /* no retry left: Retry-After does not buy one */
    n = next_of(429, false, 10000, 3, 3, false, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "429 on the last attempt");
    n = next_of(503, false, 10000, 3, 3, true, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FALLBACK, "503 on the last attempt, fallback set");
}

static void test_next_retry_after_never_shortens(void **state)
{
    (void)state;
    /* A policy delay already above the hour (explicit delays are not capped):
     * a longer Retry-After must not bring the wait below what the policy
     * alone would have given. */
    struct jw_retry_policy p = {NULL, "[7200]", 0, 0};
    struct jw_next plain = next_of(503, false, -1, 1, 3, false, false, &p, 1.0);
    assert_int_equal(plain.delay_ms, 7200000);
    struct jw_next n = next_of(503, false, 10800000, 1, 3, false, false, &p, 1.0);
    expect_step(n, JW_STEP_RETRY, "503 with Retry-After 3h, policy 2h");
    if (n.delay_ms < plain.delay_ms)
        fail_msg("503 with retry_after 10800000 and policy delay 7200000: delay %lld, below the policy's",
                 (long long)n.delay_ms);
}

static void test_next_last_attempt(void **state)
{
    (void)state;
    /* with a fallback */
    struct jw_next n = next_of(500, false, -1, 3, 3, true, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FALLBACK, "500 on attempt 3 of 3 with a fallback");
    n = next_of(0, false, -1, 1, 1, true, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FALLBACK, "0 on attempt 1 of 1 with a fallback");
    n = next_of(0, true, -1, 3, 3, true, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FALLBACK, "timeout on attempt 3 of 3 with a fallback");
    /* without */
    n = next_of(500, false, -1, 3, 3, false, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "500 on attempt 3 of 3");
    assert_false(n.timed_out);
    n = next_of(404, false, -1, 1, 1, false, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "404 on attempt 1 of 1");
    assert_false(n.timed_out);
    n = next_of(0, false, -1, 2, 2, false, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "transport error on attempt 2 of 2");
    assert_false(n.timed_out);
    /* a timeout on the last attempt */
    n = next_of(0, true, -1, 3, 3, false, false, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "timeout on attempt 3 of 3");
    assert_true(n.timed_out);
}

static void test_next_on_fallback(void **state)
{
    (void)state;
    /* the fallback gets one attempt, whatever attempts remain */
    struct jw_next n = next_of(500, false, -1, 1, 3, true, true, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "500 on the fallback with attempts left");
    assert_false(n.timed_out);
    n = next_of(500, false, -1, 4, 3, true, true, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "500 on the fallback");
    assert_false(n.timed_out);
    n = next_of(429, false, 10000, 1, 3, true, true, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "429 on the fallback");
    n = next_of(0, false, -1, 4, 3, true, true, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "transport error on the fallback");
    assert_false(n.timed_out);
    /* the fallback timing out */
    n = next_of(0, true, -1, 4, 3, true, true, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "timeout on the fallback");
    assert_true(n.timed_out);
    n = next_of(0, true, -1, 2, 3, true, true, &EXP_DEFAULT, 1.0);
    expect_step(n, JW_STEP_FAIL, "timeout on the fallback, attempts left");
    assert_true(n.timed_out);
}

static void test_run_token_key_derive(void **state)
{
    (void)state;
    unsigned char a[JW_RUN_TOKEN_KEY_LEN], b[JW_RUN_TOKEN_KEY_LEN], c[JW_RUN_TOKEN_KEY_LEN];
    const char *s1 = "integration-secret-0123456789abcdef-xyz", *s2 = "integration-secret-0123456789abcdef-xyZ";
    jw_run_token_key_derive(s1, strlen(s1), a);
    jw_run_token_key_derive(s1, strlen(s1), b);
    jw_run_token_key_derive(s2, strlen(s2), c);
    assert_memory_equal(a, b, sizeof(a));         /* every instance derives the same */
    assert_memory_not_equal(a, c, sizeof(a));     /* another secret, another key */
    assert_memory_not_equal(a, s1, sizeof(a));    /* not the secret itself */
    char t1[96], t2[96];
    jw_run_token(a, sizeof(a), "0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0e", "0190f3a2-0000-7000-8000-000000000001", 1, t1);
    jw_run_token(c, sizeof(c), "0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0e", "0190f3a2-0000-7000-8000-000000000001", 1, t2);
    assert_string_not_equal(t1, t2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_svix_example),
        cmocka_unit_test(test_sign_cross_checked),
        cmocka_unit_test(test_sign_shape),
        cmocka_unit_test(test_sign_body_with_nuls),
        cmocka_unit_test(test_sign_inputs_matter),
        cmocka_unit_test(test_sign_malformed_secret),
        cmocka_unit_test(test_token_known_values),
        cmocka_unit_test(test_token_deterministic),
        cmocka_unit_test(test_token_parse_round_trip),
        cmocka_unit_test(test_token_parse_malformed),
        cmocka_unit_test(test_token_check),
        cmocka_unit_test(test_token_forged),
        cmocka_unit_test(test_token_check_tampered),
        cmocka_unit_test(test_retry_after_seconds),
        cmocka_unit_test(test_retry_after_invalid),
        cmocka_unit_test(test_retry_after_date_future),
        cmocka_unit_test(test_retry_after_date_past),
        cmocka_unit_test(test_retry_after_date_invalid),
        cmocka_unit_test(test_retry_after_date_negative_field),
        cmocka_unit_test(test_retry_after_date_zone_must_be_gmt),
        cmocka_unit_test(test_retry_after_date_before_epoch),
        cmocka_unit_test(test_delay_fixed),
        cmocka_unit_test(test_delay_linear),
        cmocka_unit_test(test_delay_exponential_jitter),
        cmocka_unit_test(test_delay_exponential_cap_and_defaults),
        cmocka_unit_test(test_delay_large_attempts),
        cmocka_unit_test(test_delay_exponential_large_initial),
        cmocka_unit_test(test_delay_explicit_list),
        cmocka_unit_test(test_delay_explicit_not_capped),
        cmocka_unit_test(test_delay_explicit_malformed),
        cmocka_unit_test(test_delay_explicit_huge_entry),
        cmocka_unit_test(test_next_success),
        cmocka_unit_test(test_next_worker),
        cmocka_unit_test(test_next_retry_uses_policy),
        cmocka_unit_test(test_next_retry_other_failures),
        cmocka_unit_test(test_next_retry_after),
        cmocka_unit_test(test_next_retry_after_never_shortens),
        cmocka_unit_test(test_next_last_attempt),
        cmocka_unit_test(test_next_on_fallback),
        cmocka_unit_test(test_run_token_key_derive),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
