/* id: UUIDs, random bytes, base64/hex, SHA-256, constant-time compare. */
#include "jobwheel/id.h"

#include <ctype.h>
#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <uuid/uuid.h>

/* UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a 12-bit counter
 * that starts at a random value each millisecond and counts up within it
 * (so ids made by one process sort in the order they were made), then 62
 * random bits. */
/* Random bytes for ids, drawn from the kernel 480 at a time rather than a
 * system call per id (no copy of this process is ever forked: programs
 * are started with posix_spawn, so no two processes share the pool). */
static void id_random(unsigned char *out, size_t n)
{
    static unsigned char pool[480];
    static size_t left;
    if (left < n) {
        jw_random_bytes(pool, sizeof(pool));
        left = sizeof(pool);
    }
    memcpy(out, pool + sizeof(pool) - left, n);
    left -= n;
}

void jw_id_new(char out[JW_UUID_SIZE])
{
    static uint64_t last_ms;
    static unsigned counter;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
    unsigned char r[10];
    id_random(r, sizeof(r));
    if (ms <= last_ms) {
        ms = last_ms; /* clock went back or same millisecond: keep counting */
        if (++counter > 0xFFF) {
            ms = ++last_ms;
            counter = (unsigned)(r[8] & 0x7F);
        }
    } else {
        counter = (unsigned)(((r[8] << 8) | r[9]) & 0x3FF); /* leave room to count */
    }
    last_ms = ms;
    uuid_t u;
    for (int i = 0; i < 6; i++)
        u[i] = (unsigned char)(ms >> (40 - 8 * i));
    u[6] = (unsigned char)(0x70 | (counter >> 8));
    u[7] = (unsigned char)(counter & 0xFF);
    u[8] = (unsigned char)(0x80 | (r[0] & 0x3F));
    memcpy(u + 9, r + 1, 7);
    uuid_unparse_lower(u, out);
}

int64_t jw_id_time_ms(const char *uuid)
{
    if (!jw_id_is_uuid(uuid) || uuid[14] != '7')
        return -1;
    char hex[13];
    memcpy(hex, uuid, 8);
    memcpy(hex + 8, uuid + 9, 4);
    hex[12] = '\0';
    return (int64_t)strtoll(hex, NULL, 16);
}

bool jw_id_is_uuid(const char *s)
{
    if (!s || strlen(s) != 36)
        return false;
    for (int i = 0; i < 36; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
        } else if (!isxdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

size_t jw_id_pack(const char *id, char *out)
{
    size_t n = strlen(id);
    if (!jw_id_is_uuid(id)) {
        memcpy(out, id, n);
        return n;
    }
    size_t k = 0;
    for (int i = 0; i < 36; i += 2) {
        if (id[i] == '-')
            i++;
        char pair[3] = {id[i], id[i + 1], '\0'};
        out[k++] = (char)strtol(pair, NULL, 16);
    }
    return k;
}

void jw_id_lower(const char *s, char out[JW_UUID_SIZE])
{
    for (int i = 0; i < 36; i++)
        out[i] = (char)tolower((unsigned char)s[i]);
    out[36] = '\0';
}

void jw_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            perror("jobwheel: getrandom");
            abort();
        }
        p += r;
        n -= (size_t)r;
    }
}

static size_t b64(const unsigned char *in, size_t n, char *out, const char *alpha, bool pad)
{
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        out[o++] = alpha[v >> 6 & 63];
        out[o++] = alpha[v & 63];
    }
    if (i < n) {
        unsigned v = (unsigned)in[i] << 16 | (i + 1 < n ? (unsigned)in[i + 1] << 8 : 0);
        out[o++] = alpha[v >> 18 & 63];
        out[o++] = alpha[v >> 12 & 63];
        if (i + 1 < n)
            out[o++] = alpha[v >> 6 & 63];
        else if (pad)
            out[o++] = '=';
        if (pad)
            out[o++] = '=';
    }
    out[o] = '\0';
    return o;
}

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t jw_base64_encode(const void *in, size_t n, char *out)
{
    return b64(in, n, out, std_alpha, true);
}

size_t jw_base64url_encode(const void *in, size_t n, char *out)
{
    return b64(in, n, out, url_alpha, false);
}

/* Decode n characters of `alpha` (no padding left), canonically: the bits
 * a last partial character leaves over must be zero. */
static long unb64(const char *in, size_t n, unsigned char *out, size_t outcap, const char *alpha)
{
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = strchr(alpha, in[i]);
        if (!p || in[i] == '\0')
            return -1;
        acc = (acc << 6) | (unsigned)(p - alpha);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outcap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) /* non-canonical trailing bits */
        return -1;
    return (long)o;
}

long jw_base64_decode(const char *in, size_t n, void *out, size_t outcap)
{
    while (n > 0 && in[n - 1] == '=')
        n--;
    return unb64(in, n, out, outcap, std_alpha);
}

long jw_base64url_decode(const char *in, size_t n, void *out, size_t outcap)
{
    return unb64(in, n, out, outcap, url_alpha);
}

void jw_hex_encode(const void *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = in;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[p[i] >> 4];
        out[2 * i + 1] = hex[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* SHA-256 through one context, its digest fetched once: EVP_sha256() in a
 * call looks the digest up again (a lock and a table search) and a context
 * is made each time, which cost more than hashing a token. (jobwheel is one
 * thread.) */
void jw_sha256_hex(const void *data, size_t n, char out[65])
{
    static EVP_MD *md;
    static EVP_MD_CTX *ctx;
    if (!md && !(md = EVP_MD_fetch(NULL, "SHA256", NULL))) {
        fprintf(stderr, "jobwheel: SHA-256 is not available\n");
        abort();
    }
    if (!ctx)
        ctx = EVP_MD_CTX_new();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ctx || !EVP_DigestInit_ex2(ctx, md, NULL) || !EVP_DigestUpdate(ctx, data, n) ||
        !EVP_DigestFinal_ex(ctx, digest, &len) || len != 32) {
        fprintf(stderr, "jobwheel: SHA-256 failed\n");
        abort();
    }
    jw_hex_encode(digest, 32, out);
}

bool jw_secure_equal(const void *a, const void *b, size_t n)
{
    return CRYPTO_memcmp(a, b, n) == 0;
}
