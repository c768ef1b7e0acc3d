/* json: a strict JSON reader (yajl's streaming parser building a small
 * read-only tree in one arena) and a JSON writer into a jw_buf.
 *
 * The reader refuses what yajl alone lets through: nesting deeper than the
 * limit (checked while parsing, so hostile input cannot exhaust the stack),
 * comments, duplicate keys, overlong or surrogate UTF-8, unpaired \\u
 * surrogate escapes, NUL inside strings, and trailing garbage. Numbers keep their source text, so integers
 * are range-checked exactly (jw_json_int) instead of trusting yajl's flags. */
#ifndef JOBWHEEL_JSON_H
#define JOBWHEEL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jobwheel/buf.h"

enum jw_json_type {
    JW_JSON_NULL,
    JW_JSON_BOOL,
    JW_JSON_NUMBER,
    JW_JSON_STRING,
    JW_JSON_ARRAY,
    JW_JSON_OBJECT,
};

struct jw_json;

struct jw_json_member {
    const char *key; /* NUL-terminated */
    struct jw_json *val;
};

struct jw_json {
    enum jw_json_type type;
    size_t len; /* bytes of str; count of items or members */
    union {
        bool b;
        const char *str;                /* STRING: text; NUMBER: source text */
        struct jw_json **items;         /* ARRAY */
        struct jw_json_member *members; /* OBJECT, in document order */
    } u;
};

struct jw_json_doc; /* owns every node of one parse */

/* The deepest nesting a request body may have (json_max_depth's upper
 * bound), and the depth at which jobwheel reads back JSON it stored from
 * such bodies (jobs, their job_configuration): what was accepted once must
 * always read again, whatever levels the stored form wraps around it. */
#define JW_JSON_MAX_DEPTH 60
#define JW_JSON_STORED_DEPTH (JW_JSON_MAX_DEPTH + 4)

/* Parse len bytes of text. Returns the document (free with jw_json_doc_free)
 * or NULL with a message in err ("invalid JSON: nesting deeper than 32 levels"). */
struct jw_json_doc *jw_json_parse(const char *text, size_t len, int max_depth, char *err, size_t errlen);
const struct jw_json *jw_json_root(const struct jw_json_doc *doc);
void jw_json_doc_free(struct jw_json_doc *doc);

/* Member of an object by key, or NULL (also when obj is not an object). */
const struct jw_json *jw_json_get(const struct jw_json *obj, const char *key);
/* An integer exactly: no fraction, no exponent, within int64. 0 or -1. */
int jw_json_int(const struct jw_json *v, int64_t *out) __attribute__((warn_unused_result));
const char *jw_json_type_name(enum jw_json_type t);
/* Strict UTF-8 (no overlong forms, surrogates or code points over U+10FFFF). */
bool jw_utf8_valid(const char *s, size_t len);

/* The writer: keeps track of commas; keys and values alternate inside objects. */
#define JW_JSONW_MAX_DEPTH 64
struct jw_jsonw {
    struct jw_buf *out;
    int depth;
    bool first[JW_JSONW_MAX_DEPTH];
    bool after_key;
};

void jw_jsonw_init(struct jw_jsonw *w, struct jw_buf *out);
void jw_jsonw_obj_open(struct jw_jsonw *w);
void jw_jsonw_obj_close(struct jw_jsonw *w);
void jw_jsonw_arr_open(struct jw_jsonw *w);
void jw_jsonw_arr_close(struct jw_jsonw *w);
void jw_jsonw_key(struct jw_jsonw *w, const char *key);
/* A key already written out with its quotes and colon ("\"id\":"), for
 * writers that put the same keys again and again: appended as it is. */
void jw_jsonw_key_quoted(struct jw_jsonw *w, const char *quoted, size_t n);
void jw_jsonw_str(struct jw_jsonw *w, const char *s); /* NULL writes null */
void jw_jsonw_strn(struct jw_jsonw *w, const char *s, size_t n);
void jw_jsonw_int(struct jw_jsonw *w, int64_t v);
void jw_jsonw_double(struct jw_jsonw *w, double v, int decimals);
void jw_jsonw_bool(struct jw_jsonw *w, bool v);
void jw_jsonw_null(struct jw_jsonw *w);
/* Already-encoded JSON text, written as one value. */
void jw_jsonw_raw(struct jw_jsonw *w, const char *json, size_t n);
/* A parsed value, re-encoded. */
void jw_jsonw_value(struct jw_jsonw *w, const struct jw_json *v);
/* Time as ISO 8601 UTC with milliseconds; a negative ms writes null. */
void jw_jsonw_time(struct jw_jsonw *w, int64_t ms);

/* key + value shorthands */
void jw_jsonw_kstr(struct jw_jsonw *w, const char *key, const char *s);
void jw_jsonw_kint(struct jw_jsonw *w, const char *key, int64_t v);
void jw_jsonw_kbool(struct jw_jsonw *w, const char *key, bool v);
void jw_jsonw_knull(struct jw_jsonw *w, const char *key);
void jw_jsonw_ktime(struct jw_jsonw *w, const char *key, int64_t ms);

/* Append s as a quoted, escaped JSON string to b. */
void jw_json_quote(struct jw_buf *b, const char *s, size_t n);

#endif
