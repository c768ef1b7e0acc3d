/* Unit tests for id: packing a UUID as the store keeps job ids; base64. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/id.h"

/* A UUID becomes its 16 bytes, high nibble first, in either case; what is
 * not a UUID stays as it is (prelude.lua's id_pack does the same). */
static void test_id_pack(void **state)
{
    (void)state;
    char out[64];
    static const unsigned char want[16] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef,
                                           0x0f, 0xed, 0xcb, 0xa9, 0x87, 0x65, 0x43, 0x21};
    assert_int_equal(jw_id_pack("01234567-89ab-cdef-0fed-cba987654321", out), 16);
    assert_memory_equal(out, want, 16);
    assert_int_equal(jw_id_pack("01234567-89AB-CDEF-0FED-CBA987654321", out), 16);
    assert_memory_equal(out, want, 16);
    assert_int_equal(jw_id_pack("sched", out), 5);
    assert_memory_equal(out, "sched", 5);
    /* 36 characters, not a UUID */
    const char *odd = "01234567-89ab-cdef-0fed-cba98765432g";
    assert_int_equal(jw_id_pack(odd, out), 36);
    assert_memory_equal(out, odd, 36);
    /* a fresh id round-trips through hex */
    char id[JW_UUID_SIZE], hex[33], joined[33];
    jw_id_new(id);
    assert_int_equal(jw_id_pack(id, out), 16);
    jw_hex_encode(out, 16, hex);
    size_t k = 0;
    for (const char *p = id; *p; p++)
        if (*p != '-')
            joined[k++] = *p;
    joined[k] = '\0';
    assert_string_equal(hex, joined);
}

/* Both alphabets decode what they encode, canonically only: no other
 * alphabet's characters, no padding in base64url, no set unused bits. */
static void test_base64_round_trip_and_refusals(void **state)
{
    (void)state;
    unsigned char in[64], out[64];
    char enc[100];
    for (size_t n = 0; n < sizeof(in); n++) {
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)(i * 37 + n * 11 + 0xf8);
        size_t len = jw_base64url_encode(in, n, enc);
        assert_int_equal(jw_base64url_decode(enc, len, out, sizeof(out)), (long)n);
        assert_memory_equal(out, in, n);
        len = jw_base64_encode(in, n, enc);
        assert_int_equal(jw_base64_decode(enc, len, out, sizeof(out)), (long)n);
        assert_memory_equal(out, in, n);
    }
    assert_int_equal(jw_base64url_decode("-_8", 3, out, sizeof(out)), 2);     /* fb ff */
    assert_int_equal(jw_base64url_decode("+/8", 3, out, sizeof(out)), -1);    /* the other alphabet */
    assert_int_equal(jw_base64_decode("-_8", 3, out, sizeof(out)), -1);
    assert_int_equal(jw_base64url_decode("-_8=", 4, out, sizeof(out)), -1);   /* padding */
    assert_int_equal(jw_base64url_decode("-_9", 3, out, sizeof(out)), -1);    /* unused bits set */
    assert_int_equal(jw_base64url_decode("A", 1, out, sizeof(out)), -1);      /* no whole byte */
    assert_int_equal(jw_base64url_decode("AAAA", 4, out, 2), -1);             /* no room */
    assert_int_equal(jw_base64url_decode("A\0AA", 4, out, sizeof(out)), -1); /* a NUL inside */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_id_pack),
        cmocka_unit_test(test_base64_round_trip_and_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
