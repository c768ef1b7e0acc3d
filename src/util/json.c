/* json: strict JSON parsing into an arena-backed tree, and the JSON writer. */
#include "jobwheel/json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yajl/yajl_parse.h>

#include "jobwheel/time.h"

/* ---- arena ------------------------------------------------------------- */

struct arena_block {
    struct arena_block *next;
    size_t used, cap;
    _Alignas(max_align_t) char mem[];
};

struct jw_json_doc {
    struct arena_block *blocks;
    struct jw_json *root;
};

static void *arena_alloc(struct jw_json_doc *doc, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    struct arena_block *b = doc->blocks;
    if (!b || b->cap - b->used < n) {
        size_t cap = n > 8192 ? n : 8192;
        b = jw_malloc(sizeof(*b) + cap);
        b->used = 0;
        b->cap = cap;
        b->next = doc->blocks;
        doc->blocks = b;
    }
    void *p = b->mem + b->used;
    b->used += n;
    return p;
}

static char *arena_strndup(struct jw_json_doc *doc, const char *s, size_t n)
{
    char *d = arena_alloc(doc, n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void jw_json_doc_free(struct jw_json_doc *doc)
{
    if (!doc)
        return;
    struct arena_block *b = doc->blocks;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(doc);
}

const struct jw_json *jw_json_root(const struct jw_json_doc *doc)
{
    return doc->root;
}

/* ---- parser ------------------------------------------------------------ */

struct frame {
    bool is_object;
    const char *key; /* pending key inside an object */
    size_t n, cap;
    void *vec; /* struct jw_json ** or struct jw_json_member * (heap) */
};

struct parse_ctx {
    struct jw_json_doc *doc;
    struct frame *stack;
    int depth, max_depth;
    char msg[160];
};

bool jw_utf8_valid(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        unsigned cp;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
        } else {
            return false;
        }
        for (size_t k = 1; k <= n; k++) {
            if (i + k >= len || (s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

static struct jw_json *new_node(struct parse_ctx *p, enum jw_json_type t)
{
    struct jw_json *v = arena_alloc(p->doc, sizeof(*v));
    memset(v, 0, sizeof(*v));
    v->type = t;
    return v;
}

static int add_value(struct parse_ctx *p, struct jw_json *v)
{
    if (p->depth == 0) {
        p->doc->root = v;
        return 1;
    }
    struct frame *f = &p->stack[p->depth - 1];
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 8;
        f->vec = jw_realloc(
            f->vec, f->cap * (f->is_object ? sizeof(struct jw_json_member) : sizeof(struct jw_json *)));
    }
    if (f->is_object) {
        struct jw_json_member *m = f->vec;
        m[f->n].key = f->key;
        m[f->n].val = v;
        f->key = NULL;
    } else {
        ((struct jw_json **)f->vec)[f->n] = v;
    }
    f->n++;
    return 1;
}

static int check_string(struct parse_ctx *p, const unsigned char *s, size_t len, const char *what)
{
    if (memchr(s, '\0', len)) {
        snprintf(p->msg, sizeof(p->msg), "%s contains a NUL character", what);
        return 0;
    }
    if (!jw_utf8_valid((const char *)s, len)) {
        snprintf(p->msg, sizeof(p->msg), "%s is not valid UTF-8", what);
        return 0;
    }
    return 1;
}

static int cb_null(void *ctx)
{
    struct parse_ctx *p = ctx;
    return add_value(p, new_node(p, JW_JSON_NULL));
}

static int cb_bool(void *ctx, int b)
{
    struct parse_ctx *p = ctx;
    struct jw_json *v = new_node(p, JW_JSON_BOOL);
    v->u.b = b != 0;
    return add_value(p, v);
}

static int cb_number(void *ctx, const char *s, size_t len)
{
    struct parse_ctx *p = ctx;
    struct jw_json *v = new_node(p, JW_JSON_NUMBER);
    v->u.str = arena_strndup(p->doc, s, len);
    v->len = len;
    return add_value(p, v);
}

static int cb_string(void *ctx, const unsigned char *s, size_t len)
{
    struct parse_ctx *p = ctx;
    if (!check_string(p, s, len, "a string"))
        return 0;
    struct jw_json *v = new_node(p, JW_JSON_STRING);
    v->u.str = arena_strndup(p->doc, (const char *)s, len);
    v->len = len;
    return add_value(p, v);
}

static int push(struct parse_ctx *p, bool is_object)
{
    if (p->depth >= p->max_depth) {
        snprintf(p->msg, sizeof(p->msg), "nesting deeper than %d levels", p->max_depth);
        return 0;
    }
    struct frame *f = &p->stack[p->depth++];
    memset(f, 0, sizeof(*f));
    f->is_object = is_object;
    return 1;
}

static int cb_start_map(void *ctx)
{
    return push(ctx, true);
}

static int cb_map_key(void *ctx, const unsigned char *s, size_t len)
{
    struct parse_ctx *p = ctx;
    if (!check_string(p, s, len, "an object key"))
        return 0;
    p->stack[p->depth - 1].key = arena_strndup(p->doc, (const char *)s, len);
    return 1;
}

static int cmp_member_key(const void *a, const void *b)
{
    const struct jw_json_member *const *x = a, *const *y = b;
    return strcmp((*x)->key, (*y)->key);
}

static const char *find_duplicate(struct jw_json_member *m, size_t n)
{
    if (n <= 16) {
        for (size_t i = 1; i < n; i++)
            for (size_t j = 0; j < i; j++)
                if (strcmp(m[i].key, m[j].key) == 0)
                    return m[i].key;
        return NULL;
    }
    struct jw_json_member **idx = jw_malloc(n * sizeof(*idx));
    for (size_t i = 0; i < n; i++)
        idx[i] = &m[i];
    qsort(idx, n, sizeof(*idx), cmp_member_key);
    const char *dup = NULL;
    for (size_t i = 1; i < n && !dup; i++)
        if (strcmp(idx[i]->key, idx[i - 1]->key) == 0)
            dup = idx[i]->key;
    free(idx);
    return dup;
}

static int pop(struct parse_ctx *p)
{
    struct frame *f = &p->stack[p->depth - 1];
    struct jw_json *v = new_node(p, f->is_object ? JW_JSON_OBJECT : JW_JSON_ARRAY);
    v->len = f->n;
    if (f->is_object) {
        const char *dup = find_duplicate(f->vec, f->n);
        if (dup) {
            snprintf(p->msg, sizeof(p->msg), "duplicate key \"%.60s\"", dup);
            return 0;
        }
        size_t sz = f->n * sizeof(struct jw_json_member);
        v->u.members = arena_alloc(p->doc, sz);
        if (sz)
            memcpy(v->u.members, f->vec, sz);
    } else {
        size_t sz = f->n * sizeof(struct jw_json *);
        v->u.items = arena_alloc(p->doc, sz);
        if (sz)
            memcpy(v->u.items, f->vec, sz);
    }
    free(f->vec);
    f->vec = NULL;
    p->depth--;
    return add_value(p, v);
}

static int cb_end(void *ctx)
{
    return pop(ctx);
}

static int cb_start_array(void *ctx)
{
    return push(ctx, false);
}

static const yajl_callbacks callbacks = {
    .yajl_null = cb_null,
    .yajl_boolean = cb_bool,
    .yajl_number = cb_number,
    .yajl_string = cb_string,
    .yajl_start_map = cb_start_map,
    .yajl_map_key = cb_map_key,
    .yajl_end_map = cb_end,
    .yajl_start_array = cb_start_array,
    .yajl_end_array = cb_end,
};

static int hex4(const char *s, size_t avail)
{
    if (avail < 4)
        return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* yajl turns a lone \uD800 into '?' and pairs a high surrogate with any
 * following \u escape: refuse escapes that are not proper UTF-16 pairs.
 * Backslashes only occur inside strings in valid JSON, so a plain scan works. */
static bool surrogates_paired(const char *t, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (t[i] != '\\') {
            i++;
            continue;
        }
        if (i + 1 < len && t[i + 1] == 'u') {
            int u = hex4(t + i + 2, len - i - 2);
            if (u >= 0xDC00 && u <= 0xDFFF)
                return false;
            if (u >= 0xD800 && u <= 0xDBFF) {
                int lo =
                    i + 7 < len && t[i + 6] == '\\' && t[i + 7] == 'u' ? hex4(t + i + 8, len - i - 8) : -1;
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return false;
                i += 12;
                continue;
            }
            i += 6;
            continue;
        }
        i += 2;
    }
    return true;
}

struct jw_json_doc *jw_json_parse(const char *text, size_t len, int max_depth, char *err, size_t errlen)
{
    if (!surrogates_paired(text, len)) {
        snprintf(err, errlen, "invalid JSON: a \\u escape is an unpaired UTF-16 surrogate");
        return NULL;
    }
    struct parse_ctx p = {0};
    p.doc = jw_calloc(1, sizeof(*p.doc));
    p.max_depth = max_depth > 0 ? max_depth : 1;
    p.stack = jw_calloc((size_t)p.max_depth, sizeof(*p.stack));

    yajl_handle h = yajl_alloc(&callbacks, NULL, &p);
    if (!h)
        abort();
    yajl_config(h, yajl_allow_comments, 0);
    yajl_config(h, yajl_dont_validate_strings, 0);

    yajl_status st = yajl_parse(h, (const unsigned char *)text, len);
    if (st == yajl_status_ok)
        st = yajl_complete_parse(h);

    bool ok = st == yajl_status_ok && p.doc->root;
    if (!ok) {
        size_t at = yajl_get_bytes_consumed(h);
        if (p.msg[0]) {
            snprintf(err, errlen, "invalid JSON: %s", p.msg);
        } else if (len == 0 || (st == yajl_status_ok && !p.doc->root)) {
            snprintf(err, errlen, "invalid JSON: the body is empty");
        } else {
            unsigned char *m = yajl_get_error(h, 0, (const unsigned char *)text, len);
            const char *msg = (const char *)m;
            /* yajl says "parse error: premature EOF" etc.; keep the reason only */
            const char *colon = m ? strchr(msg, ':') : NULL;
            const char *reason = colon ? colon + 1 : (m ? msg : "syntax error");
            while (*reason == ' ')
                reason++;
            size_t rl = strcspn(reason, "\n");
            while (rl && (reason[rl - 1] == ' ' || reason[rl - 1] == '.'))
                rl--;
            snprintf(err, errlen, "invalid JSON at byte %zu: %.*s", at, (int)rl, reason);
            if (m)
                yajl_free_error(h, m);
        }
    }
    yajl_free(h);
    for (int i = 0; i < p.depth; i++)
        free(p.stack[i].vec);
    free(p.stack);
    if (!ok) {
        jw_json_doc_free(p.doc);
        return NULL;
    }
    return p.doc;
}

const struct jw_json *jw_json_get(const struct jw_json *obj, const char *key)
{
    if (!obj || obj->type != JW_JSON_OBJECT)
        return NULL;
    for (size_t i = 0; i < obj->len; i++)
        if (strcmp(obj->u.members[i].key, key) == 0)
            return obj->u.members[i].val;
    return NULL;
}

int jw_json_int(const struct jw_json *v, int64_t *out)
{
    if (!v || v->type != JW_JSON_NUMBER)
        return -1;
    const char *s = v->u.str;
    if (strpbrk(s, ".eE"))
        return -1;
    errno = 0;
    char *end;
    long long n = strtoll(s, &end, 10);
    if (errno == ERANGE || *end != '\0' || end == s)
        return -1;
    *out = n;
    return 0;
}

const char *jw_json_type_name(enum jw_json_type t)
{
    switch (t) {
    case JW_JSON_NULL: return "null";
    case JW_JSON_BOOL: return "boolean";
    case JW_JSON_NUMBER: return "number";
    case JW_JSON_STRING: return "string";
    case JW_JSON_ARRAY: return "array";
    case JW_JSON_OBJECT: return "object";
    }
    return "value";
}

/* ---- writer ------------------------------------------------------------ */

/* Bytes that cannot go into a JSON string as they are (control bytes,
 * quote, backslash, DEL) or may start U+2028/U+2029 (0xE2). */
static bool needs_care(unsigned char c)
{
    return c < 0x20 || c == '"' || c == '\\' || c == 0x7f || c == 0xE2;
}

void jw_json_quote(struct jw_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t start = 0;
    while (start < n && !needs_care((unsigned char)s[start]))
        start++;
    jw_buf_reserve(b, n + 2);
    b->data[b->len++] = '"';
    if (start == n) { /* nothing to escape: most strings */
        memcpy(b->data + b->len, s, n);
        b->len += n;
        b->data[b->len++] = '"';
        b->data[b->len] = '\0';
        return;
    }
    start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!needs_care(c))
            continue;
        const char *esc = NULL;
        char u[7];
        if (c == '"')
            esc = "\\\"";
        else if (c == '\\')
            esc = "\\\\";
        else if (c == '\n')
            esc = "\\n";
        else if (c == '\r')
            esc = "\\r";
        else if (c == '\t')
            esc = "\\t";
        else if (c < 0x20 || c == 0x7f) {
            u[0] = '\\';
            u[1] = 'u';
            u[2] = '0';
            u[3] = '0';
            u[4] = hex[c >> 4];
            u[5] = hex[c & 15];
            u[6] = '\0';
            esc = u;
        } else if (i + 2 < n && (unsigned char)s[i + 1] == 0x80 &&
                   ((unsigned char)s[i + 2] == 0xA8 || (unsigned char)s[i + 2] == 0xA9)) {
            /* U+2028/U+2029: valid JSON, but break JavaScript string literals */
            jw_buf_append(b, s + start, i - start);
            jw_buf_puts(b, (unsigned char)s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029");
            i += 2;
            start = i + 1;
            continue;
        } else {
            continue; /* 0xE2 starting another character */
        }
        jw_buf_append(b, s + start, i - start);
        jw_buf_puts(b, esc);
        start = i + 1;
    }
    jw_buf_append(b, s + start, n - start);
    jw_buf_putc(b, '"');
}

void jw_jsonw_init(struct jw_jsonw *w, struct jw_buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->first[0] = true;
}

static void before_value(struct jw_jsonw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth])
        jw_buf_putc(w->out, ',');
    w->first[w->depth] = false;
}

static void open_(struct jw_jsonw *w, char c)
{
    before_value(w);
    jw_buf_putc(w->out, c);
    if (w->depth + 1 >= JW_JSONW_MAX_DEPTH)
        abort(); /* a programming error: our own documents are shallow */
    w->first[++w->depth] = true;
}

static void close_(struct jw_jsonw *w, char c)
{
    jw_buf_putc(w->out, c);
    w->depth--;
}

void jw_jsonw_obj_open(struct jw_jsonw *w)
{
    open_(w, '{');
}
void jw_jsonw_obj_close(struct jw_jsonw *w)
{
    close_(w, '}');
}
void jw_jsonw_arr_open(struct jw_jsonw *w)
{
    open_(w, '[');
}
void jw_jsonw_arr_close(struct jw_jsonw *w)
{
    close_(w, ']');
}

void jw_jsonw_key(struct jw_jsonw *w, const char *key)
{
    before_value(w);
    jw_json_quote(w->out, key, strlen(key));
    jw_buf_putc(w->out, ':');
    w->after_key = true;
}

void jw_jsonw_key_quoted(struct jw_jsonw *w, const char *quoted, size_t n)
{
    before_value(w);
    jw_buf_append(w->out, quoted, n);
    w->after_key = true;
}

void jw_jsonw_strn(struct jw_jsonw *w, const char *s, size_t n)
{
    before_value(w);
    jw_json_quote(w->out, s, n);
}

void jw_jsonw_str(struct jw_jsonw *w, const char *s)
{
    if (!s) {
        jw_jsonw_null(w);
        return;
    }
    jw_jsonw_strn(w, s, strlen(s));
}

void jw_jsonw_int(struct jw_jsonw *w, int64_t v)
{
    before_value(w);
    jw_buf_puti(w->out, v);
}

void jw_jsonw_double(struct jw_jsonw *w, double v, int decimals)
{
    before_value(w);
    if (v != v || v > 1e300 || v < -1e300)
        v = 0;
    jw_buf_printf(w->out, "%.*f", decimals, v);
}

void jw_jsonw_bool(struct jw_jsonw *w, bool v)
{
    before_value(w);
    jw_buf_puts(w->out, v ? "true" : "false");
}

void jw_jsonw_null(struct jw_jsonw *w)
{
    before_value(w);
    jw_buf_puts(w->out, "null");
}

void jw_jsonw_raw(struct jw_jsonw *w, const char *json, size_t n)
{
    before_value(w);
    jw_buf_append(w->out, json, n);
}

void jw_jsonw_value(struct jw_jsonw *w, const struct jw_json *v)
{
    if (!v) {
        jw_jsonw_null(w);
        return;
    }
    switch (v->type) {
    case JW_JSON_NULL: jw_jsonw_null(w); break;
    case JW_JSON_BOOL: jw_jsonw_bool(w, v->u.b); break;
    case JW_JSON_NUMBER: jw_jsonw_raw(w, v->u.str, v->len); break;
    case JW_JSON_STRING: jw_jsonw_strn(w, v->u.str, v->len); break;
    case JW_JSON_ARRAY:
        jw_jsonw_arr_open(w);
        for (size_t i = 0; i < v->len; i++)
            jw_jsonw_value(w, v->u.items[i]);
        jw_jsonw_arr_close(w);
        break;
    case JW_JSON_OBJECT:
        jw_jsonw_obj_open(w);
        for (size_t i = 0; i < v->len; i++) {
            jw_jsonw_key(w, v->u.members[i].key);
            jw_jsonw_value(w, v->u.members[i].val);
        }
        jw_jsonw_obj_close(w);
        break;
    }
}

void jw_jsonw_time(struct jw_jsonw *w, int64_t ms)
{
    if (ms < 0) {
        jw_jsonw_null(w);
        return;
    }
    char t[JW_TIME_ISO_SIZE];
    jw_time_format(ms, t);
    jw_jsonw_str(w, t);
}

void jw_jsonw_kstr(struct jw_jsonw *w, const char *key, const char *s)
{
    jw_jsonw_key(w, key);
    jw_jsonw_str(w, s);
}

void jw_jsonw_kint(struct jw_jsonw *w, const char *key, int64_t v)
{
    jw_jsonw_key(w, key);
    jw_jsonw_int(w, v);
}

void jw_jsonw_kbool(struct jw_jsonw *w, const char *key, bool v)
{
    jw_jsonw_key(w, key);
    jw_jsonw_bool(w, v);
}

void jw_jsonw_knull(struct jw_jsonw *w, const char *key)
{
    jw_jsonw_key(w, key);
    jw_jsonw_null(w);
}

void jw_jsonw_ktime(struct jw_jsonw *w, const char *key, int64_t ms)
{
    jw_jsonw_key(w, key);
    jw_jsonw_time(w, ms);
}
