/* policy: webhook signatures, run tokens, retry delays and next steps. */
#include "jobwheel/policy.h"

#include <ctype.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"
#include "jobwheel/id.h"
#include "jobwheel/json.h"
#include "jobwheel/time.h"

int jw_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp_s, const char *body,
                    size_t body_len, char out[64])
{
    if (strncmp(secret, "whsec_", 6) != 0)
        return -1;
    unsigned char key[128];
    long keylen = jw_base64_decode(secret + 6, strlen(secret + 6), key, sizeof(key));
    if (keylen <= 0)
        return -1;
    struct jw_buf msg = JW_BUF_INIT;
    jw_buf_printf(&msg, "%s.%lld.", msg_id, (long long)timestamp_s);
    jw_buf_append(&msg, body, body_len);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    unsigned char *ok =
        HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg.data, msg.len, mac, &maclen);
    memset(key, 0, sizeof(key));
    jw_buf_free(&msg);
    if (!ok || maclen != 32)
        return -1;
    memcpy(out, "v1,", 3);
    jw_base64_encode(mac, maclen, out + 3);
    return 0;
}

/* A run token is "jwr_" T "_" A "_" M: T the tenant's UUID as 32 lower-case
 * hex digits, A the attempt as 8, M the 43 base64url characters of
 * HMAC-SHA256(key, T "." A "." run id). T and A are fixed-width, so the
 * MAC's message reads one way only; a token names its tenant and attempt
 * for the reader, and the MAC binds them to the run. */
#define TOKEN_TENANT 4                    /* where T starts */
#define TOKEN_ATTEMPT (TOKEN_TENANT + 33) /* where A starts */
#define TOKEN_MAC (TOKEN_ATTEMPT + 9)     /* where M starts */

/* An HMAC-SHA256 context keyed with the run-token key, made once per key
 * and copied for each token: HMAC() fetches the algorithm and keys a new
 * context at every call, ~25k instructions of each attempt. (One key in
 * practice: the derived token key; the loop is single-threaded.) */
static EVP_MAC_CTX *token_ctx(const unsigned char *key, size_t keylen)
{
    static EVP_MAC *mac;
    static EVP_MAC_CTX *keyed;
    static unsigned char keyed_with[EVP_MAX_MD_SIZE];
    static size_t keyed_len;
    if (keyed && keyed_len == keylen && memcmp(keyed_with, key, keylen) == 0)
        return keyed;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", "SHA256", 0), OSSL_PARAM_construct_end()};
    EVP_MAC_CTX_free(keyed);
    keyed = NULL;
    if (keylen > sizeof(keyed_with) || (!mac && !(mac = EVP_MAC_fetch(NULL, "HMAC", NULL))) ||
        !(keyed = EVP_MAC_CTX_new(mac)) || !EVP_MAC_init(keyed, key, keylen, params)) {
        fprintf(stderr, "jobwheel: HMAC failed\n");
        abort();
    }
    memcpy(keyed_with, key, keylen);
    keyed_len = keylen;
    return keyed;
}

static void token_mac(const unsigned char *key, size_t keylen, const char *hex, unsigned attempt,
                      const char *run_id, char out[48])
{
    char a[16];
    snprintf(a, sizeof(a), ".%08x.", attempt);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    EVP_MAC_CTX *c = EVP_MAC_CTX_dup(token_ctx(key, keylen));
    if (!c || !EVP_MAC_update(c, (const unsigned char *)hex, strlen(hex)) ||
        !EVP_MAC_update(c, (const unsigned char *)a, strlen(a)) ||
        !EVP_MAC_update(c, (const unsigned char *)run_id, strlen(run_id)) ||
        !EVP_MAC_final(c, mac, &maclen, sizeof(mac)) || maclen != 32) {
        fprintf(stderr, "jobwheel: HMAC failed\n");
        abort();
    }
    EVP_MAC_CTX_free(c);
    jw_base64url_encode(mac, 32, out);
}

void jw_run_token(const unsigned char *key, size_t keylen, const char *tenant, const char *run_id,
                  int attempt, char out[96])
{
    char hex[33], mac[48];
    size_t h = 0;
    for (const char *t = tenant; *t && h < 32; t++)
        if (*t != '-')
            hex[h++] = (char)tolower((unsigned char)*t);
    hex[h] = '\0';
    token_mac(key, keylen, hex, (unsigned)attempt, run_id, mac);
    snprintf(out, 96, "jwr_%s_%08x_%s", hex, (unsigned)attempt, mac);
}

static bool lower_hex(const char *s, int n)
{
    for (int i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int jw_run_token_parse(const char *token, char tenant[37], int *attempt)
{
    if (!token || strnlen(token, JW_RUN_TOKEN_LEN + 1) != JW_RUN_TOKEN_LEN ||
        strncmp(token, "jwr_", 4) != 0 || token[TOKEN_ATTEMPT - 1] != '_' || token[TOKEN_MAC - 1] != '_' ||
        !lower_hex(token + TOKEN_TENANT, 32) || !lower_hex(token + TOKEN_ATTEMPT, 8))
        return -1;
    unsigned long a = strtoul(token + TOKEN_ATTEMPT, NULL, 16); /* stops at the "_" */
    if (a < 1 || a > JW_RUN_TOKEN_MAX_ATTEMPT)
        return -1;
    const char *h = token + TOKEN_TENANT;
    snprintf(tenant, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
    *attempt = (int)a;
    return 0;
}

bool jw_run_token_check(const unsigned char *key, size_t keylen, const char *tenant, const char *run_id,
                        int attempt, const char *token)
{
    char want[96];
    if (!token || attempt < 1 || attempt > JW_RUN_TOKEN_MAX_ATTEMPT)
        return false;
    jw_run_token(key, keylen, tenant, run_id, attempt, want);
    return strnlen(token, JW_RUN_TOKEN_LEN + 1) == JW_RUN_TOKEN_LEN && strlen(want) == JW_RUN_TOKEN_LEN &&
           jw_secure_equal(want, token, JW_RUN_TOKEN_LEN);
}

/* IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT": the time in ms; false if
 * it is not one. */
static bool http_date_ms(const char *s, int64_t *out)
{
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char mon[4];
    int d, y, hh, mm, ss, end = -1;
    if (sscanf(s, "%*3[A-Za-z], %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &d, mon, &y, &hh, &mm, &ss, &end) !=
            6 ||
        end < 0 || s[end] != '\0')
        return false;
    for (int m = 0; m < 12; m++)
        if (!strcmp(months[m], mon)) {
            if (y < 1 || d < 1 || d > jw_days_in_month(y, m + 1) || hh < 0 || hh > 23 || mm < 0 || mm > 59 ||
                ss < 0 || ss > 60)
                return false;
            *out = (jw_days_from_civil(y, m + 1, d) * 86400 + hh * 3600 + mm * 60 + ss) * 1000;
            return true;
        }
    return false;
}

int64_t jw_retry_after_ms(const char *value, int64_t now_ms)
{
    if (!value)
        return -1;
    while (*value == ' ')
        value++;
    if (isdigit((unsigned char)*value)) {
        char *end;
        long long secs = strtoll(value, &end, 10);
        while (*end == ' ')
            end++;
        if (*end || secs < 0 || secs > 365LL * 86400)
            return -1;
        return secs * 1000;
    }
    int64_t at;
    if (!http_date_ms(value, &at))
        return -1;
    return at > now_ms ? at - now_ms : 0;
}

int64_t jw_retry_delay_ms(const struct jw_retry_policy *p, int next_attempt, double rnd)
{
    int64_t initial = p->initial_ms > 0 ? p->initial_ms : 1000;
    int64_t max = p->max_ms > 0 ? p->max_ms : 300000;
    int k = next_attempt - 1; /* 1 for the first retry */
    if (k < 1)
        k = 1;
    if (p->delays_json && p->delays_json[0] == '[') {
        char why[64];
        struct jw_json_doc *doc = jw_json_parse(p->delays_json, strlen(p->delays_json), 2, why, sizeof(why));
        const struct jw_json *a = doc ? jw_json_root(doc) : NULL;
        int64_t secs = -1;
        if (a && a->type == JW_JSON_ARRAY && a->len > 0) {
            size_t i = (size_t)k - 1 < a->len ? (size_t)k - 1 : a->len - 1;
            if (jw_json_int(a->u.items[i], &secs) != 0)
                secs = -1;
            else if (secs > 31536000)
                secs = 31536000; /* a year at most */
        }
        jw_json_doc_free(doc);
        if (secs >= 0)
            return secs * 1000; /* explicit delays are not capped */
    }
    int64_t d;
    const char *s = p->strategy ? p->strategy : "exponential";
    if (!strcmp(s, "fixed")) {
        d = initial;
    } else if (!strcmp(s, "linear")) {
        d = initial * k;
    } else {
        int64_t ceiling = initial > max ? max : initial;
        for (int i = 1; i < k && ceiling < max; i++)
            ceiling = ceiling > max / 2 ? max : ceiling * 2;
        if (rnd < 0)
            rnd = 0;
        if (rnd > 1)
            rnd = 1;
        d = (int64_t)(rnd * (double)ceiling);
    }
    return d > max ? max : d;
}

struct jw_next jw_next_step(const struct jw_attempt_outcome *o, int attempt, int max_attempts,
                            bool has_fallback, bool on_fallback, const struct jw_retry_policy *p, double rnd)
{
    struct jw_next n = {JW_STEP_FAIL, 0, o->timed_out};
    if (o->http_status == 202) {
        n.step = JW_STEP_WORKER;
        return n;
    }
    if (o->http_status >= 200 && o->http_status < 300) {
        n.step = JW_STEP_COMPLETE;
        return n;
    }
    if (!on_fallback && attempt < max_attempts) {
        n.step = JW_STEP_RETRY;
        n.delay_ms = jw_retry_delay_ms(p, attempt + 1, rnd);
        /* Retry-After may lengthen the wait (up to an hour), never shorten it */
        if ((o->http_status == 429 || o->http_status == 503) && o->retry_after_ms > n.delay_ms) {
            int64_t ra = o->retry_after_ms > 3600000 ? 3600000 : o->retry_after_ms;
            if (ra > n.delay_ms)
                n.delay_ms = ra;
        }
        return n;
    }
    if (!on_fallback && has_fallback) {
        n.step = JW_STEP_FALLBACK;
        return n;
    }
    return n;
}

void jw_run_token_key_derive(const void *secret, size_t len, unsigned char out[JW_RUN_TOKEN_KEY_LEN])
{
    static const char label[] = "jobwheel run-token key v1";
    unsigned int n = 0;
    if (!HMAC(EVP_sha256(), secret, (int)len, (const unsigned char *)label, sizeof(label) - 1, out, &n) ||
        n != JW_RUN_TOKEN_KEY_LEN) {
        fprintf(stderr, "jobwheel: HMAC failed\n");
        abort();
    }
}
