/* id: identifiers and secrets — UUIDs, random tokens, base64/hex encodings,
 * SHA-256 and constant-time comparison. */
#ifndef JOBWHEEL_ID_H
#define JOBWHEEL_ID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JW_UUID_SIZE 37 /* 36 characters + NUL */

/* A new time-ordered (v7) UUID, lower case. */
void jw_id_new(char out[JW_UUID_SIZE]);
/* The Unix milliseconds a v7 UUID was made at, or -1 for another kind. */
int64_t jw_id_time_ms(const char *uuid);
/* True for 8-4-4-4-12 hex digits (either case). */
bool jw_id_is_uuid(const char *s);
/* A UUID as its 16 bytes, as the store keeps job ids (prelude.lua's
 * id_pack); anything else as it is. out needs max(16, strlen(id)) bytes;
 * returns the length written (no NUL). */
size_t jw_id_pack(const char *id, char *out);
/* Copy s lower-cased into out (s must be a UUID). */
void jw_id_lower(const char *s, char out[JW_UUID_SIZE]);

/* n cryptographically random bytes (getrandom); aborts if the kernel cannot. */
void jw_random_bytes(void *buf, size_t n);

/* Standard base64 with padding; url-safe without padding. out needs
 * 4 * ((n + 2) / 3) + 1 bytes. Return the length written (without NUL). */
size_t jw_base64_encode(const void *in, size_t n, char *out);
size_t jw_base64url_encode(const void *in, size_t n, char *out);
/* Standard base64 (padding optional); base64url without padding. Canonical
 * only (a last character's unused bits zero). Return the decoded length,
 * or -1. */
long jw_base64_decode(const char *in, size_t n, void *out, size_t outcap);
long jw_base64url_decode(const char *in, size_t n, void *out, size_t outcap);

void jw_hex_encode(const void *in, size_t n, char *out); /* out: 2n + 1 */

/* SHA-256 of data as 64 lower-case hex digits. */
void jw_sha256_hex(const void *data, size_t n, char out[65]);

/* Compare without leaking where they differ. */
bool jw_secure_equal(const void *a, const void *b, size_t n);

#endif
