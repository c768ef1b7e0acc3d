/* buf: growable byte buffers and the aborting allocation wrappers. */
#include "jobwheel/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
    fprintf(stderr, "jobwheel: out of memory allocating %zu bytes\n", n);
    abort();
}

void *jw_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *jw_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        oom(count * size);
    return p;
}

void *jw_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *jw_strdup(const char *s)
{
    return jw_strndup(s, strlen(s));
}

char *jw_strndup(const char *s, size_t n)
{
    char *d = jw_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void jw_buf_reserve(struct jw_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = jw_realloc(b->data, cap);
    b->cap = cap;
}

void jw_buf_append(struct jw_buf *b, const void *p, size_t n)
{
    jw_buf_reserve(b, n);
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void jw_buf_puts(struct jw_buf *b, const char *s)
{
    jw_buf_append(b, s, strlen(s));
}

void jw_buf_putc(struct jw_buf *b, char c)
{
    jw_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void jw_buf_vprintf(struct jw_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    jw_buf_reserve(b, 64);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n >= b->cap - b->len) {
        jw_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    b->len += (size_t)n;
}

size_t jw_i64_text(int64_t v, char out[JW_I64_TEXT])
{
    char rev[JW_I64_TEXT];
    size_t n = 0, len = 0;
    /* as unsigned: INT64_MIN has no positive counterpart */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    do {
        rev[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0)
        out[len++] = '-';
    while (n)
        out[len++] = rev[--n];
    out[len] = '\0';
    return len;
}

void jw_buf_puti(struct jw_buf *b, int64_t v)
{
    char t[JW_I64_TEXT];
    jw_buf_append(b, t, jw_i64_text(v, t));
}

void jw_buf_printf(struct jw_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    jw_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void jw_buf_reset(struct jw_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void jw_buf_free(struct jw_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *jw_buf_detach(struct jw_buf *b)
{
    char *s = b->data ? b->data : jw_strdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

const char *jw_buf_str(const struct jw_buf *b)
{
    return b->data ? b->data : "";
}
