/* Unit tests for the strict JSON reader and the JSON writer (src/util/json.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/buf.h"
#include "jobwheel/json.h"
#include "jobwheel/time.h"

#define DEPTH 32

/* Parse len bytes; on failure the message is left in err. */
static struct jw_json_doc *parse_n(const char *text, size_t len, int depth, char *err, size_t errlen)
{
    err[0] = '\0';
    return jw_json_parse(text, len, depth, err, errlen);
}

static struct jw_json_doc *parse(const char *text, char *err, size_t errlen)
{
    return parse_n(text, strlen(text), DEPTH, err, errlen);
}

/* Assert text is refused, with a non-empty message containing want (if given). */
static void refused_n(const char *text, size_t len, const char *want)
{
    char err[256];
    struct jw_json_doc *doc = parse_n(text, len, DEPTH, err, sizeof(err));
    if (doc) {
        jw_json_doc_free(doc);
        fail_msg("accepted, but must be refused: %.*s", (int)(len > 80 ? 80 : len), text);
    }
    assert_true(err[0] != '\0');
    if (want && !strstr(err, want))
        fail_msg("error \"%s\" does not mention \"%s\"", err, want);
}

static void refused(const char *text, const char *want)
{
    refused_n(text, strlen(text), want);
}

/* Assert text parses; returns the document. */
static struct jw_json_doc *accepted_n(const char *text, size_t len)
{
    char err[256];
    struct jw_json_doc *doc = parse_n(text, len, DEPTH, err, sizeof(err));
    if (!doc)
        fail_msg("refused (%s): %.*s", err, (int)(len > 80 ? 80 : len), text);
    return doc;
}

static struct jw_json_doc *accepted(const char *text)
{
    return accepted_n(text, strlen(text));
}

/* n opening brackets then n closing ones. */
static char *nested_arrays(size_t n)
{
    char *s = malloc(2 * n + 1);
    assert_non_null(s);
    memset(s, '[', n);
    memset(s + n, ']', n);
    s[2 * n] = '\0';
    return s;
}

/* {"a":{"a":…{"a":1}…}} with n objects. */
static char *nested_objects(size_t n)
{
    struct jw_buf b = JW_BUF_INIT;
    for (size_t i = 0; i < n; i++)
        jw_buf_puts(&b, "{\"a\":");
    jw_buf_puts(&b, "1");
    for (size_t i = 0; i < n; i++)
        jw_buf_putc(&b, '}');
    return jw_buf_detach(&b);
}

/* ---- parsing: structure and values ---------------------------------------- */

static void test_parse_all_types(void **state)
{
    (void)state;
    struct jw_json_doc *doc =
        accepted(" {\"s\":\"hi\\n\\\"x\\\"\",\"n\":-12.5e3,\"i\":42,\"t\":true,\"f\":false,\"z\":null,"
                 "\"a\":[1,\"two\",[3]],\"o\":{\"k\":\"v\"},\"e\":{},\"ea\":[]} \n");
    const struct jw_json *r = jw_json_root(doc);
    assert_int_equal(r->type, JW_JSON_OBJECT);
    assert_int_equal(r->len, 10);
    /* document order is kept */
    assert_string_equal(r->u.members[0].key, "s");
    assert_string_equal(r->u.members[9].key, "ea");

    const struct jw_json *s = jw_json_get(r, "s");
    assert_non_null(s);
    assert_int_equal(s->type, JW_JSON_STRING);
    assert_string_equal(s->u.str, "hi\n\"x\"");
    assert_int_equal(s->len, 6);

    const struct jw_json *n = jw_json_get(r, "n");
    assert_int_equal(n->type, JW_JSON_NUMBER);
    assert_string_equal(n->u.str, "-12.5e3"); /* source text kept */
    assert_int_equal(n->len, 7);

    int64_t iv = 0;
    assert_int_equal(jw_json_int(jw_json_get(r, "i"), &iv), 0);
    assert_int_equal(iv, 42);

    assert_int_equal(jw_json_get(r, "t")->type, JW_JSON_BOOL);
    assert_true(jw_json_get(r, "t")->u.b);
    assert_false(jw_json_get(r, "f")->u.b);
    assert_int_equal(jw_json_get(r, "z")->type, JW_JSON_NULL);

    const struct jw_json *a = jw_json_get(r, "a");
    assert_int_equal(a->type, JW_JSON_ARRAY);
    assert_int_equal(a->len, 3);
    assert_int_equal(a->u.items[0]->type, JW_JSON_NUMBER);
    assert_string_equal(a->u.items[1]->u.str, "two");
    assert_int_equal(a->u.items[2]->type, JW_JSON_ARRAY);
    assert_int_equal(a->u.items[2]->len, 1);

    const struct jw_json *o = jw_json_get(r, "o");
    assert_int_equal(o->type, JW_JSON_OBJECT);
    assert_string_equal(jw_json_get(o, "k")->u.str, "v");
    assert_int_equal(jw_json_get(r, "e")->len, 0);
    assert_int_equal(jw_json_get(r, "ea")->len, 0);

    /* jw_json_get: missing keys and non-objects give NULL */
    assert_null(jw_json_get(r, "missing"));
    assert_null(jw_json_get(r, "K"));
    assert_null(jw_json_get(a, "0"));
    assert_null(jw_json_get(s, "s"));
    assert_null(jw_json_get(NULL, "s"));
    jw_json_doc_free(doc);
}

static void test_parse_scalar_roots(void **state)
{
    (void)state;
    struct jw_json_doc *doc = accepted("\"just a string\"");
    assert_int_equal(jw_json_root(doc)->type, JW_JSON_STRING);
    assert_string_equal(jw_json_root(doc)->u.str, "just a string");
    jw_json_doc_free(doc);

    doc = accepted("123");
    assert_int_equal(jw_json_root(doc)->type, JW_JSON_NUMBER);
    assert_string_equal(jw_json_root(doc)->u.str, "123");
    jw_json_doc_free(doc);

    doc = accepted("null");
    assert_int_equal(jw_json_root(doc)->type, JW_JSON_NULL);
    jw_json_doc_free(doc);

    doc = accepted(" true ");
    assert_int_equal(jw_json_root(doc)->type, JW_JSON_BOOL);
    assert_true(jw_json_root(doc)->u.b);
    jw_json_doc_free(doc);
}

static void test_parse_syntax_errors(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "{",
        "}",
        "[1,]",
        "[1 2]",
        "{\"a\" 1}",
        "{\"a\":}",
        "{a:1}",
        "{'a':1}",
        "[01]",
        "[+1]",
        "[.5]",
        "[1.]",
        "[NaN]",
        "[Infinity]",
        "[tru]",
        "\"unterminated",
        "[\"tab\there\"]",
        "[\"\\x41\"]",
        "{\"a\":1,}",
        "-",
        "[\"\\u12\"]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        refused(bad[i], "invalid JSON");
    /* syntax errors say where */
    refused("[1,]", "at byte");
}

/* ---- depth limit ---------------------------------------------------------- */

static void test_depth_exact_limit(void **state)
{
    (void)state;
    char err[256];
    char *ok = nested_arrays(DEPTH);
    struct jw_json_doc *doc = parse(ok, err, sizeof(err));
    assert_non_null(doc);
    /* walk down: exactly DEPTH arrays */
    const struct jw_json *v = jw_json_root(doc);
    int levels = 0;
    while (v->type == JW_JSON_ARRAY) {
        levels++;
        if (v->len == 0)
            break;
        v = v->u.items[0];
    }
    assert_int_equal(levels, DEPTH);
    jw_json_doc_free(doc);
    free(ok);

    char *deep = nested_arrays(DEPTH + 1);
    refused(deep, "nesting deeper than 32");
    free(deep);

    char *objs = nested_objects(DEPTH);
    doc = parse(objs, err, sizeof(err));
    assert_non_null(doc);
    jw_json_doc_free(doc);
    free(objs);
    objs = nested_objects(DEPTH + 1);
    refused(objs, "nesting deeper than");
    free(objs);

    /* mixed arrays and objects count alike */
    static const char mixed[] = "[{\"a\":[{}]}]";
    doc = parse_n(mixed, strlen(mixed), 4, err, sizeof(err));
    assert_non_null(doc);
    jw_json_doc_free(doc);
    assert_null(parse_n(mixed, strlen(mixed), 3, err, sizeof(err)));
    assert_non_null(strstr(err, "nesting deeper than 3 levels"));

    /* other limits */
    char *two = nested_arrays(2);
    doc = parse_n(two, strlen(two), 2, err, sizeof(err));
    assert_non_null(doc);
    jw_json_doc_free(doc);
    free(two);
    char *three = nested_arrays(3);
    assert_null(parse_n(three, strlen(three), 2, err, sizeof(err)));
    free(three);
}

static void test_depth_hostile(void **state)
{
    (void)state;
    const size_t n = 100000;
    char *open = malloc(n + 1);
    assert_non_null(open);
    memset(open, '[', n);
    open[n] = '\0';
    int64_t t0 = jw_time_mono_ms();
    refused(open, "nesting deeper than");
    /* balanced as well */
    char *bal = nested_arrays(n);
    refused(bal, "nesting deeper than");
    /* objects too */
    struct jw_buf b = JW_BUF_INIT;
    for (size_t i = 0; i < n / 5; i++)
        jw_buf_puts(&b, "{\"a\":");
    refused(jw_buf_str(&b), "nesting deeper than");
    int64_t took = jw_time_mono_ms() - t0;
    /* refused as soon as the limit is passed: far below a second even under valgrind */
    assert_true(took < 3000);
    jw_buf_free(&b);
    free(bal);
    free(open);
}

/* ---- what yajl lets through and we must not ------------------------------- */

static void test_comments_refused(void **state)
{
    (void)state;
    refused("/* c */ {}", NULL);
    refused("{} // c", NULL);
    refused("[1, /* two */ 2]", NULL);
    refused("{\"a\": // c\n 1}", NULL);
    refused("# c\n{}", NULL);
}

static void test_duplicate_keys_small(void **state)
{
    (void)state;
    refused("{\"a\":1,\"a\":2}", "duplicate key \"a\"");
    refused("{\"a\":1,\"b\":2,\"c\":3,\"b\":4}", "duplicate key \"b\"");
    refused("{\"x\":{\"k\":1,\"k\":1}}", "duplicate key \"k\"");
    refused("[{\"ok\":1},{\"d\":null,\"d\":null}]", "duplicate key \"d\"");
    /* the same key after unescaping is a duplicate too */
    refused("{\"ab\":1,\"a\\u0062\":2}", "duplicate key");
    /* keys that only look alike are fine */
    struct jw_json_doc *doc = accepted("{\"a\":1,\"A\":2,\"a \":3,\"b\":{\"a\":4}}");
    assert_int_equal(jw_json_root(doc)->len, 4);
    jw_json_doc_free(doc);
}

static char *many_keys(size_t n, long dup_of, size_t dup_at)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_putc(&b, '{');
    for (size_t i = 0; i < n; i++) {
        size_t k = (dup_of >= 0 && i == dup_at) ? (size_t)dup_of : i;
        jw_buf_printf(&b, "%s\"key%zu\":%zu", i ? "," : "", k, i);
    }
    jw_buf_putc(&b, '}');
    return jw_buf_detach(&b);
}

static void test_duplicate_keys_large(void **state)
{
    (void)state;
    static const size_t sizes[] = {16, 17, 20, 100, 1000};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        size_t n = sizes[s];
        char *ok = many_keys(n, -1, 0);
        struct jw_json_doc *doc = accepted(ok);
        assert_int_equal(jw_json_root(doc)->len, n);
        /* order kept, lookup works across the whole object */
        char last[32];
        snprintf(last, sizeof(last), "key%zu", n - 1);
        assert_string_equal(jw_json_root(doc)->u.members[n - 1].key, last);
        assert_string_equal(jw_json_root(doc)->u.members[0].key, "key0");
        int64_t v = -1;
        assert_int_equal(jw_json_int(jw_json_get(jw_json_root(doc), last), &v), 0);
        assert_int_equal(v, (int64_t)(n - 1));
        jw_json_doc_free(doc);
        free(ok);

        /* a duplicate of the first key at the end, and of the last-but-one in the middle */
        char *dup1 = many_keys(n, 0, n - 1);
        refused(dup1, "duplicate key \"key0\"");
        free(dup1);
        char *dup2 = many_keys(n, (long)(n - 2), n / 2 - 1);
        char want[48];
        snprintf(want, sizeof(want), "duplicate key \"key%zu\"", n - 2);
        refused(dup2, want);
        free(dup2);
    }
}

static void test_trailing_garbage(void **state)
{
    (void)state;
    refused("{} x", NULL);
    refused("{}{}", NULL);
    refused("[1]]", NULL);
    refused("1 2", NULL);
    refused("\"a\" \"b\"", NULL);
    refused("null,", NULL);
    refused("{}\x01", NULL);
    /* trailing white space is fine */
    struct jw_json_doc *doc = accepted("{}  \r\n\t ");
    assert_int_equal(jw_json_root(doc)->type, JW_JSON_OBJECT);
    jw_json_doc_free(doc);
}

static void test_empty_body(void **state)
{
    (void)state;
    refused_n("", 0, "empty");
    refused("   \n ", NULL);
    /* a NULL-free zero-length slice of a longer buffer is empty too */
    refused_n("{}", 0, "empty");
}

static void test_nul_refused(void **state)
{
    (void)state;
    refused("\"a\\u0000b\"", "NUL");
    refused("{\"k\":\"\\u0000\"}", "NUL");
    refused("{\"k\\u0000\":1}", "NUL");
    refused("[\"\\u0000\"]", "NUL");
    /* a raw NUL byte inside a string */
    refused_n("[\"a\0b\"]", 7, NULL);
    /* a raw NUL after the document */
    refused_n("{}\0", 3, NULL);
    /* \u0001 is a legal escape */
    struct jw_json_doc *doc = accepted("\"\\u0001\"");
    assert_int_equal(jw_json_root(doc)->len, 1);
    assert_int_equal(jw_json_root(doc)->u.str[0], 1);
    jw_json_doc_free(doc);
}

/* A JSON string document around raw bytes. */
static void refused_bytes_in_string(const char *bytes)
{
    char text[64];
    int n = snprintf(text, sizeof(text), "[\"a%sb\"]", bytes);
    assert_true(n > 0 && (size_t)n < sizeof(text));
    refused_n(text, (size_t)n, NULL);
    /* and in a key */
    n = snprintf(text, sizeof(text), "{\"k%s\":1}", bytes);
    refused_n(text, (size_t)n, NULL);
    /* and jw_utf8_valid says so directly */
    assert_false(jw_utf8_valid(bytes, strlen(bytes)));
}

static void test_bad_utf8_refused(void **state)
{
    (void)state;
    /* overlong forms */
    refused_bytes_in_string("\xC0\x80");
    refused_bytes_in_string("\xC1\xBF");
    refused_bytes_in_string("\xE0\x80\x80");
    refused_bytes_in_string("\xE0\x9F\xBF");
    refused_bytes_in_string("\xF0\x80\x80\x80");
    refused_bytes_in_string("\xF0\x8F\xBF\xBF");
    /* UTF-16 surrogates encoded in UTF-8 */
    refused_bytes_in_string("\xED\xA0\x80");
    refused_bytes_in_string("\xED\xBF\xBF");
    refused_bytes_in_string("\xED\xB0\x80");
    /* beyond U+10FFFF */
    refused_bytes_in_string("\xF4\x90\x80\x80");
    refused_bytes_in_string("\xF5\x80\x80\x80");
    refused_bytes_in_string("\xF7\xBF\xBF\xBF");
    /* truncated sequences, stray continuation bytes, never-valid bytes */
    refused_bytes_in_string("\xC3");
    refused_bytes_in_string("\xE2\x82");
    refused_bytes_in_string("\xF0\x9F\x98");
    refused_bytes_in_string("\x80");
    refused_bytes_in_string("\xBF");
    refused_bytes_in_string("\xFE");
    refused_bytes_in_string("\xFF");
    refused_bytes_in_string("\xC3\x28");
    /* the error names the problem */
    refused("[\"\xED\xA0\x80\"]", "UTF-8");
    /* a lone low surrogate escape decodes to a UTF-8 surrogate: refused */
    refused("[\"\\udc00\"]", NULL);
    /* jw_utf8_valid honours len: a sequence cut by len is invalid */
    assert_false(jw_utf8_valid("\xC3\xA9", 1));
    assert_false(jw_utf8_valid("\xE2\x82\xAC", 2));
}

static void test_valid_multibyte(void **state)
{
    (void)state;
    static const char *const good[] = {
        "\xC2\x80",         /* U+0080, smallest 2-byte */
        "\xC3\xA9",         /* é */
        "\xDF\xBF",         /* U+07FF */
        "\xE0\xA0\x80",     /* U+0800, smallest 3-byte */
        "\xE2\x82\xAC",     /* € */
        "\xED\x9F\xBF",     /* U+D7FF, just below the surrogates */
        "\xEE\x80\x80",     /* U+E000, just above */
        "\xEF\xBF\xBF",     /* U+FFFF */
        "\xF0\x90\x80\x80", /* U+10000, smallest 4-byte */
        "\xF0\x9D\x84\x9E", /* 𝄞 */
        "\xF4\x8F\xBF\xBF", /* U+10FFFF, the largest */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char text[64];
        int n = snprintf(text, sizeof(text), "{\"k%s\":\"x%sy\"}", good[i], good[i]);
        struct jw_json_doc *doc = accepted_n(text, (size_t)n);
        const struct jw_json *r = jw_json_root(doc);
        char key[16], val[16];
        snprintf(key, sizeof(key), "k%s", good[i]);
        snprintf(val, sizeof(val), "x%sy", good[i]);
        assert_string_equal(r->u.members[0].key, key);
        assert_string_equal(r->u.members[0].val->u.str, val);
        assert_int_equal(r->u.members[0].val->len, strlen(val));
        jw_json_doc_free(doc);
        assert_true(jw_utf8_valid(good[i], strlen(good[i])));
    }
    /* escapes produce UTF-8, including surrogate pairs */
    struct jw_json_doc *doc = accepted("[\"\\u00e9\\u20AC\\ud834\\udd1e\"]");
    assert_string_equal(jw_json_root(doc)->u.items[0]->u.str, "\xC3\xA9\xE2\x82\xAC\xF0\x9D\x84\x9E");
    jw_json_doc_free(doc);
    assert_true(jw_utf8_valid("", 0));
    assert_true(jw_utf8_valid("plain ascii", 11));
}

/* A strict reader refuses surrogate code points however they are written:
 * "\udc00" alone already is (it decodes to UTF-8 ED B0 80), but yajl turns a
 * lone high surrogate escape into "?" and glues "\ud800\u0041" into U+10041,
 * silently changing the client's text. */
static void test_lone_surrogate_escapes_refused(void **state)
{
    (void)state;
    refused("[\"\\ud800\"]", NULL);
    refused("[\"\\ud800x\"]", NULL);
    refused("[\"\\ud800\\u0041\"]", NULL);
    refused("{\"\\udbff\":1}", NULL);
}

/* ---- jw_json_int ---------------------------------------------------------- */

static int int_of(const char *text, int64_t *out)
{
    char err[128];
    struct jw_json_doc *doc = parse(text, err, sizeof(err));
    if (!doc)
        fail_msg("refused %s: %s", text, err);
    int rc = jw_json_int(jw_json_root(doc), out);
    jw_json_doc_free(doc);
    return rc;
}

static void test_json_int(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        int rc;
        int64_t v;
    } cases[] = {
        {"0", 0, 0},
        {"-0", 0, 0},
        {"7", 0, 7},
        {"-42", 0, -42},
        {"9223372036854775807", 0, INT64_MAX},
        {"-9223372036854775808", 0, INT64_MIN},
        {"9223372036854775808", -1, 0},
        {"-9223372036854775809", -1, 0},
        {"18446744073709551616", -1, 0},
        {"99999999999999999999999999", -1, 0},
        {"1.0", -1, 0},
        {"1.5", -1, 0},
        {"1e3", -1, 0},
        {"1E3", -1, 0},
        {"1e+0", -1, 0},
        {"0.0", -1, 0},
        {"-0.0", -1, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t v = 12345;
        int rc = int_of(cases[i].text, &v);
        if (rc != cases[i].rc)
            fail_msg("jw_json_int(%s) = %d, want %d", cases[i].text, rc, cases[i].rc);
        if (rc == 0 && v != cases[i].v)
            fail_msg("jw_json_int(%s) gave %lld", cases[i].text, (long long)v);
    }
    /* only numbers are integers */
    int64_t v;
    assert_int_equal(int_of("\"5\"", &v), -1);
    assert_int_equal(int_of("true", &v), -1);
    assert_int_equal(int_of("null", &v), -1);
    assert_int_equal(int_of("[5]", &v), -1);
    assert_int_equal(jw_json_int(NULL, &v), -1);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(jw_json_type_name(JW_JSON_NULL), "null");
    assert_string_equal(jw_json_type_name(JW_JSON_BOOL), "boolean");
    assert_string_equal(jw_json_type_name(JW_JSON_NUMBER), "number");
    assert_string_equal(jw_json_type_name(JW_JSON_STRING), "string");
    assert_string_equal(jw_json_type_name(JW_JSON_ARRAY), "array");
    assert_string_equal(jw_json_type_name(JW_JSON_OBJECT), "object");
}

/* ---- writer ----------------------------------------------------------------- */

static void assert_quoted(const char *in, size_t n, const char *want)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_json_quote(&b, in, n);
    assert_string_equal(jw_buf_str(&b), want);
    assert_int_equal(b.len, strlen(want));
    jw_buf_free(&b);
}

static void test_writer_escaping(void **state)
{
    (void)state;
    assert_quoted("", 0, "\"\"");
    assert_quoted("plain", 5, "\"plain\"");
    assert_quoted("a\"b", 3, "\"a\\\"b\"");
    assert_quoted("a\\b", 3, "\"a\\\\b\"");
    assert_quoted("\n\r\t", 3, "\"\\n\\r\\t\"");
    assert_quoted("\x01\x08\x0c\x1f\x7f", 5, "\"\\u0001\\u0008\\u000c\\u001f\\u007f\"");
    assert_quoted("a\0b", 3, "\"a\\u0000b\"");
    assert_quoted("/ and <script>", 14, "\"/ and <script>\"");
    /* non-ASCII passes through */
    assert_quoted("\xC3\xA9\xE2\x82\xAC", 5, "\"\xC3\xA9\xE2\x82\xAC\"");
    /* U+2028 and U+2029 break JavaScript: escaped */
    assert_quoted("a\xE2\x80\xA8"
                  "b\xE2\x80\xA9"
                  "c",
                  9, "\"a\\u2028b\\u2029c\"");
    assert_quoted("\xE2\x80\xA8", 3, "\"\\u2028\"");
    /* U+2027 and U+202A are left alone */
    assert_quoted("\xE2\x80\xA7\xE2\x80\xAA", 6, "\"\xE2\x80\xA7\xE2\x80\xAA\"");
    /* n is honoured */
    assert_quoted("abc\"def", 3, "\"abc\"");

    /* everything the writer escapes parses back to the same bytes */
    char all[128];
    for (int i = 0; i < 127; i++)
        all[i] = (char)(i + 1);
    all[127] = '\0';
    struct jw_buf b = JW_BUF_INIT;
    jw_json_quote(&b, all, 127);
    for (size_t i = 0; i < b.len; i++)
        assert_true((unsigned char)b.data[i] >= 0x20 && (unsigned char)b.data[i] < 0x7f);
    char err[128];
    struct jw_json_doc *doc = parse(jw_buf_str(&b), err, sizeof(err));
    assert_non_null(doc);
    assert_int_equal(jw_json_root(doc)->len, 127);
    assert_memory_equal(jw_json_root(doc)->u.str, all, 127);
    jw_json_doc_free(doc);
    jw_buf_free(&b);
}

static void test_writer_structure(void **state)
{
    (void)state;
    struct jw_buf b = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &b);
    jw_jsonw_obj_open(&w);
    jw_jsonw_kstr(&w, "s", "x\"y");
    jw_jsonw_kint(&w, "i", -9223372036854775807LL - 1);
    jw_jsonw_kbool(&w, "t", true);
    jw_jsonw_kbool(&w, "f", false);
    jw_jsonw_knull(&w, "n");
    jw_jsonw_kstr(&w, "ns", NULL);
    jw_jsonw_ktime(&w, "at", 1752158700123LL);
    jw_jsonw_ktime(&w, "never", -1);
    jw_jsonw_key(&w, "a");
    jw_jsonw_arr_open(&w);
    jw_jsonw_int(&w, 1);
    jw_jsonw_double(&w, 2.5, 2);
    jw_jsonw_strn(&w, "abcdef", 3);
    jw_jsonw_raw(&w, "{\"r\":1}", 7);
    jw_jsonw_arr_open(&w);
    jw_jsonw_arr_close(&w);
    jw_jsonw_obj_open(&w);
    jw_jsonw_obj_close(&w);
    jw_jsonw_null(&w);
    jw_jsonw_arr_close(&w);
    jw_jsonw_key(&w, "k\n");
    jw_jsonw_double(&w, NAN, 1);
    jw_jsonw_obj_close(&w);
    assert_string_equal(jw_buf_str(&b),
                        "{\"s\":\"x\\\"y\",\"i\":-9223372036854775808,\"t\":true,\"f\":false,"
                        "\"n\":null,\"ns\":null,\"at\":\"2025-07-10T14:45:00.123Z\",\"never\":null,"
                        "\"a\":[1,2.50,\"abc\",{\"r\":1},[],{},null],\"k\\n\":0.0}");
    /* and it is valid JSON */
    char err[128];
    struct jw_json_doc *doc = parse(jw_buf_str(&b), err, sizeof(err));
    assert_non_null(doc);
    assert_int_equal(jw_json_root(doc)->len, 10);
    jw_json_doc_free(doc);
    jw_buf_free(&b);

    /* two top-level writes in a row into one buffer: separated by a comma */
    jw_jsonw_init(&w, &b);
    jw_jsonw_int(&w, 1);
    jw_jsonw_int(&w, 2);
    assert_string_equal(jw_buf_str(&b), "1,2");
    jw_buf_free(&b);
}

static void test_writer_time(void **state)
{
    (void)state;
    static const struct {
        int64_t ms;
        const char *want;
    } cases[] = {
        {0, "\"1970-01-01T00:00:00.000Z\""},
        {1, "\"1970-01-01T00:00:00.001Z\""},
        {999, "\"1970-01-01T00:00:00.999Z\""},
        {1752158700000LL, "\"2025-07-10T14:45:00.000Z\""},
        {1752158700123LL, "\"2025-07-10T14:45:00.123Z\""},
        {951782400000LL, "\"2000-02-29T00:00:00.000Z\""},
        {253402300799999LL, "\"9999-12-31T23:59:59.999Z\""},
        {-1, "null"},
        {-86400000LL, "null"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct jw_buf b = JW_BUF_INIT;
        struct jw_jsonw w;
        jw_jsonw_init(&w, &b);
        jw_jsonw_time(&w, cases[i].ms);
        assert_string_equal(jw_buf_str(&b), cases[i].want);
        jw_buf_free(&b);
    }
}

static char *reencode(const char *text)
{
    char err[256];
    struct jw_json_doc *doc = parse(text, err, sizeof(err));
    if (!doc)
        fail_msg("refused %s: %s", text, err);
    struct jw_buf b = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &b);
    jw_jsonw_value(&w, jw_json_root(doc));
    jw_json_doc_free(doc);
    return jw_buf_detach(&b);
}

static void test_round_trip(void **state)
{
    (void)state;
    /* compact documents come back byte for byte (numbers keep their text) */
    static const char *const docs[] = {
        "{\"id\":\"abc\",\"n\":-0,\"big\":9223372036854775807,\"f\":1.50e+3,\"neg\":-0.25,"
        "\"t\":true,\"f2\":false,\"z\":null,\"arr\":[1,[2,[3,{}]],[]],\"o\":{\"x\":{\"y\":\"z\"}},"
        "\"esc\":\"q\\\"b\\\\n\\nt\\t\\u0001\",\"uni\":\"\xC3\xA9\xF0\x9D\x84\x9E\"}",
        "[]",
        "{}",
        "\"s\"",
        "12",
        "null",
        "[[[[[[[[]]]]]]]]",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        char *out = reencode(docs[i]);
        assert_string_equal(out, docs[i]);
        free(out);
    }
    /* white space is dropped, escapes are normalised, U+2028 is escaped */
    char *out = reencode(" { \"a\" : [ 1 , 2 ] , \"b\" : \"\\u0041\\/\xE2\x80\xA8\" } ");
    assert_string_equal(out, "{\"a\":[1,2],\"b\":\"A/\\u2028\"}");
    /* and the result of a round trip is stable */
    char *again = reencode(out);
    assert_string_equal(again, out);
    free(again);
    free(out);
    /* NULL writes null */
    struct jw_buf b = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &b);
    jw_jsonw_value(&w, NULL);
    assert_string_equal(jw_buf_str(&b), "null");
    jw_buf_free(&b);
}

static void test_large_documents(void **state)
{
    (void)state;
    /* many nodes: the arena grows past one block */
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_putc(&b, '[');
    for (int i = 0; i < 20000; i++)
        jw_buf_printf(&b, "%s{\"i\":%d,\"s\":\"%0100d\"}", i ? "," : "", i, i);
    jw_buf_putc(&b, ']');
    char err[128];
    struct jw_json_doc *doc = parse(jw_buf_str(&b), err, sizeof(err));
    assert_non_null(doc);
    const struct jw_json *r = jw_json_root(doc);
    assert_int_equal(r->len, 20000);
    int64_t v;
    assert_int_equal(jw_json_int(jw_json_get(r->u.items[19999], "i"), &v), 0);
    assert_int_equal(v, 19999);
    assert_int_equal(jw_json_get(r->u.items[12345], "s")->len, 100);
    /* one long string larger than an arena block */
    jw_json_doc_free(doc);
    jw_buf_reset(&b);
    jw_buf_putc(&b, '"');
    for (int i = 0; i < 50000; i++)
        jw_buf_putc(&b, (char)('a' + i % 26));
    jw_buf_putc(&b, '"');
    doc = parse(jw_buf_str(&b), err, sizeof(err));
    assert_non_null(doc);
    assert_int_equal(jw_json_root(doc)->len, 50000);
    assert_int_equal(jw_json_root(doc)->u.str[49999], 'a' + 49999 % 26);
    jw_json_doc_free(doc);
    jw_buf_free(&b);
}

/* jw_i64_text (Redis arguments, JSON numbers) writes what printf would. */
static void test_i64_text(void **state)
{
    (void)state;
    int64_t fixed[] = {0, 1, -1, 9, 10, -10, 99, 100, 1795499851472, -1795499851472, INT64_MAX, INT64_MIN};
    char got[JW_I64_TEXT], want[32];
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]) + 10000; i++) {
        uint64_t r = (((uint64_t)rand() << 33) ^ ((uint64_t)rand() << 2) ^ (uint64_t)rand()) >> (rand() % 60);
        int64_t v = i < sizeof(fixed) / sizeof(fixed[0]) ? fixed[i] : (int64_t)(r >> 1) * (rand() % 2 ? 1 : -1);
        size_t n = jw_i64_text(v, got);
        snprintf(want, sizeof(want), "%lld", (long long)v);
        assert_string_equal(got, want);
        assert_int_equal(n, strlen(want));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_all_types),
        cmocka_unit_test(test_parse_scalar_roots),
        cmocka_unit_test(test_parse_syntax_errors),
        cmocka_unit_test(test_depth_exact_limit),
        cmocka_unit_test(test_depth_hostile),
        cmocka_unit_test(test_comments_refused),
        cmocka_unit_test(test_duplicate_keys_small),
        cmocka_unit_test(test_duplicate_keys_large),
        cmocka_unit_test(test_trailing_garbage),
        cmocka_unit_test(test_empty_body),
        cmocka_unit_test(test_nul_refused),
        cmocka_unit_test(test_bad_utf8_refused),
        cmocka_unit_test(test_valid_multibyte),
        cmocka_unit_test(test_lone_surrogate_escapes_refused),
        cmocka_unit_test(test_json_int),
        cmocka_unit_test(test_i64_text),
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_writer_escaping),
        cmocka_unit_test(test_writer_structure),
        cmocka_unit_test(test_writer_time),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_large_documents),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
