/* policy: the pure rules of execution — Standard Webhooks signatures, run
 * tokens, retry delays, Retry-After, and what an attempt's outcome leads to.
 * No I/O: the dispatcher gives it facts and does what it says. */
#ifndef JOBWHEEL_POLICY_H
#define JOBWHEEL_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* "v1,<base64 of HMAC-SHA256(key, msg_id "." timestamp "." body)>", the key
 * being the base64-decoded part of secret ("whsec_…"). 0, or -1 when the
 * secret is malformed. out needs 64 bytes. */
int jw_webhook_sign(const char *secret, const char *msg_id, int64_t timestamp_s, const char *body,
                    size_t body_len, char out[64]) __attribute__((warn_unused_result));

/* A run's token: "jwr_<tenant: 32 hex>_<attempt: 8 hex>_<MAC: 43 base64url>",
 * JW_RUN_TOKEN_LEN characters, the MAC an HMAC-SHA256 under key of the
 * tenant, the attempt and the run id together — so a token is good for one
 * attempt of one run of one tenant, and nothing needs storing. attempt is
 * 1..JW_RUN_TOKEN_MAX_ATTEMPT. out needs 96 bytes. */
#define JW_RUN_TOKEN_LEN 89
#define JW_RUN_TOKEN_MAX_ATTEMPT 0x7fffffff
void jw_run_token(const unsigned char *key, size_t keylen, const char *tenant, const char *run_id,
                  int attempt, char out[96]);
/* The tenant (a lower-case UUID) and attempt a token names: 0, or -1 when
 * it is not exactly shaped as one (length, prefix, separators, lower-case
 * hex, attempt from 1). Says nothing of its MAC: check that next. */
int jw_run_token_parse(const char *token, char tenant[37], int *attempt);
/* Was token minted for exactly this tenant, run and attempt? (constant
 * time; false for NULL and any other length) */
bool jw_run_token_check(const unsigned char *key, size_t keylen, const char *tenant, const char *run_id,
                        int attempt, const char *token);
/* The run-token key derived from a secret every instance is configured
 * with (the JWT HMAC secret): HMAC-SHA256(secret, a label of its own), so
 * the key is not the secret and needs no storing. */
#define JW_RUN_TOKEN_KEY_LEN 32
void jw_run_token_key_derive(const void *secret, size_t len, unsigned char out[JW_RUN_TOKEN_KEY_LEN]);

/* Delta-seconds (up to a year) or an IMF-fixdate, as milliseconds from
 * now_ms (0 for a date gone by); -1 if neither. */
int64_t jw_retry_after_ms(const char *value, int64_t now_ms);

struct jw_retry_policy {
    const char *strategy;    /* "exponential" (default), "fixed", "linear" */
    const char *delays_json; /* retry_delays_secs: "[1,5,30]", or NULL */
    int64_t initial_ms;      /* first delay (default 1000) */
    int64_t max_ms;          /* cap (default 300000) */
};

/* The delay before attempt `next_attempt` (2 for the first retry): the
 * retry_delays_secs entry for it (the last one repeats; used as given, up
 * to a year), else fixed = initial, linear = initial * (next_attempt - 1),
 * exponential = full jitter: a uniform draw in [0, min(max, initial *
 * 2^(next_attempt - 2))] using rnd (0..1). Strategy delays never exceed
 * max_ms. */
int64_t jw_retry_delay_ms(const struct jw_retry_policy *p, int next_attempt, double rnd);

/* What an attempt ended with. */
struct jw_attempt_outcome {
    int http_status; /* 0 when there was no answer */
    bool timed_out;
    int64_t retry_after_ms; /* from a 429/503, or -1 */
};

enum jw_next_step {
    JW_STEP_COMPLETE, /* a 2xx: the run is done */
    JW_STEP_WORKER,   /* a 202: the worker reports back */
    JW_STEP_RETRY,    /* try again after delay_ms */
    JW_STEP_FALLBACK, /* attempts used up: one attempt at the fallback URL */
    JW_STEP_FAIL,     /* failed (or timed_out, when the last attempt did) */
};

struct jw_next {
    enum jw_next_step step;
    int64_t delay_ms;
    bool timed_out; /* for FAIL: end as timed_out rather than failed */
};

/* attempt: the one that just ended (1-based); max_attempts: how many the
 * run may make on its main URL; has_fallback: a fallback URL is set;
 * on_fallback: this attempt was the fallback's. */
struct jw_next jw_next_step(const struct jw_attempt_outcome *o, int attempt, int max_attempts,
                            bool has_fallback, bool on_fallback, const struct jw_retry_policy *p, double rnd);

#endif
