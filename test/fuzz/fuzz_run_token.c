/* fuzz_run_token: libFuzzer target for the run-token parser and checker
 * (src/exec/policy.c). Any input, taken as a token, must parse or be
 * refused without a crash; what parses must name a lower-case tenant UUID
 * and an attempt in range, and is accepted by the checker only when it is
 * exactly the token minted for that tenant, run and attempt. A token
 * minted for a (tenant, run, attempt) drawn from the input verifies for
 * exactly those: not for another tenant, run, attempt or key.
 * Build (from the repository's root):
 *   clang -std=c17 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined
 *     -fno-sanitize-recover=all -Iinclude -I/usr/include/yajl src/exec/policy.c
 *     src/util/id.c src/util/buf.c src/util/json.c src/util/time.c
 *     test/fuzz/fuzz_run_token.c -lcrypto -lyajl -luuid -o fuzz_run_token */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/policy.h"

#define MAX_INPUT 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char KEY[] = "fuzz-run-token-key-0123456789abcdef";
static const unsigned char KEY2[] = "fuzz-run-token-key-0123456789abcdeF";
#define KEYLEN (sizeof(KEY) - 1)
static const char *const RUNS[] = {"0190f3a2-0000-7000-8000-000000000001",
                                   "0190f3a2-0000-7000-8000-000000000002"};

static void die(const char *what, const char *token)
{
    fprintf(stderr, "fuzz_run_token: %s: \"%s\"\n", what, token);
    abort();
}

static bool is_tenant(const char *t)
{
    if (strlen(t) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? t[i] != '-' : !strchr("0123456789abcdef", t[i]) || t[i] == '\0')
            return false;
    }
    return true;
}

/* The input as a token: parse, then check against what it names. */
static void as_token(const char *token)
{
    char tenant[37];
    int attempt = 0;
    memset(tenant, 'X', sizeof(tenant));
    if (jw_run_token_parse(token, tenant, &attempt) != 0) {
        /* refused: no (tenant, attempt) can make the checker take it */
        for (size_t r = 0; r < 2; r++)
            if (jw_run_token_check(KEY, KEYLEN, "0190f3a1-7c2e-7d4b-9a10-3f5e8c2b1d0e", RUNS[r], 1, token))
                die("a token the parser refuses was accepted", token);
        return;
    }
    if (strlen(token) != JW_RUN_TOKEN_LEN || !is_tenant(tenant) || attempt < 1 ||
        attempt > JW_RUN_TOKEN_MAX_ATTEMPT)
        die("parsed into something out of shape", token);
    for (size_t r = 0; r < 2; r++) {
        char want[96];
        jw_run_token(KEY, KEYLEN, tenant, RUNS[r], attempt, want);
        if (memcmp(want, token, 46) != 0)
            die("the tenant and attempt parsed do not mint the token's head", token);
        bool ok = jw_run_token_check(KEY, KEYLEN, tenant, RUNS[r], attempt, token);
        if (ok != (strcmp(want, token) == 0))
            die(ok ? "a forged token was accepted" : "the minted token was refused", token);
    }
}

/* A (tenant, run, attempt) drawn from the input: its token verifies for
 * exactly those. */
static void minted(const uint8_t *data, size_t size)
{
    static const char hex[] = "0123456789abcdef";
    char tenant[37], run[40];
    uint64_t h = 1469598103934665603u; /* FNV-1a */
    for (size_t i = 0; i < size; i++)
        h = (h ^ data[i]) * 1099511628211u;
    for (int i = 0, k = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            tenant[i] = '-';
            continue;
        }
        tenant[i] = hex[(k < (int)size ? data[k] : (uint8_t)(h >> (k % 60))) & 15];
        k++;
    }
    tenant[36] = '\0';
    snprintf(run, sizeof(run), "%016llx-run", (unsigned long long)h);
    int attempt = (int)(h % JW_RUN_TOKEN_MAX_ATTEMPT) + 1;
    if (size > 0 && data[0] < 128)
        attempt = data[0] + 1; /* small attempts, as real runs have */

    char t[96], tp[37];
    int ap = 0;
    jw_run_token(KEY, KEYLEN, tenant, run, attempt, t);
    if (strlen(t) != JW_RUN_TOKEN_LEN)
        die("minted a token of another length", t);
    if (jw_run_token_parse(t, tp, &ap) != 0 || strcmp(tp, tenant) != 0 || ap != attempt)
        die("a minted token does not parse back", t);
    if (!jw_run_token_check(KEY, KEYLEN, tenant, run, attempt, t))
        die("a minted token was refused", t);
    char other[37];
    memcpy(other, tenant, sizeof(other));
    other[35] = other[35] == '0' ? '1' : '0';
    if (jw_run_token_check(KEY, KEYLEN, other, run, attempt, t))
        die("accepted for another tenant", t);
    if (jw_run_token_check(KEY, KEYLEN, tenant, RUNS[0], attempt, t))
        die("accepted for another run", t);
    if (attempt > 1 && jw_run_token_check(KEY, KEYLEN, tenant, run, attempt - 1, t))
        die("accepted for the attempt before", t);
    if (attempt < JW_RUN_TOKEN_MAX_ATTEMPT && jw_run_token_check(KEY, KEYLEN, tenant, run, attempt + 1, t))
        die("accepted for the attempt after", t);
    if (jw_run_token_check(KEY2, KEYLEN, tenant, run, attempt, t))
        die("accepted under another key", t);
    /* the tenant part swapped, the MAC kept */
    char swapped[96];
    jw_run_token(KEY, KEYLEN, other, run, attempt, swapped);
    memcpy(swapped + 46, t + 46, JW_RUN_TOKEN_LEN - 46);
    if (jw_run_token_check(KEY, KEYLEN, other, run, attempt, swapped))
        die("accepted with another tenant swapped in", swapped);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char token[MAX_INPUT + 1];
    if (size > MAX_INPUT)
        return 0;
    memcpy(token, data, size);
    token[size] = '\0'; /* a NUL inside ends the token, as for a header value */
    as_token(token);
    minted(data, size);
    return 0;
}
