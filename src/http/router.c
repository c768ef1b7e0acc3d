/* router: path patterns with parameters; most-literal match wins. */
#include "jobwheel/router.h"

#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"
#include "jobwheel/json.h"

struct route {
    unsigned methods;
    size_t nseg;
    char *seg[JW_ROUTE_MAX_SEGMENTS]; /* ":name" for a parameter */
    size_t literals;
    const void *data;
};

struct jw_router {
    struct route *routes;
    size_t n, cap;
};

struct jw_router *jw_router_new(void)
{
    return jw_calloc(1, sizeof(struct jw_router));
}

void jw_router_free(struct jw_router *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        for (size_t j = 0; j < r->routes[i].nseg; j++)
            free(r->routes[i].seg[j]);
    free(r->routes);
    free(r);
}

void jw_router_add(struct jw_router *r, unsigned methods, const char *pattern, const void *data)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 32;
        r->routes = jw_realloc(r->routes, r->cap * sizeof(*r->routes));
    }
    struct route *rt = &r->routes[r->n++];
    memset(rt, 0, sizeof(*rt));
    rt->methods = methods;
    rt->data = data;
    const char *p = pattern;
    while (*p == '/')
        p++;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (rt->nseg == JW_ROUTE_MAX_SEGMENTS)
            abort(); /* a programming error in a route table */
        rt->seg[rt->nseg] = jw_strndup(p, len);
        if (p[0] != ':')
            rt->literals++;
        rt->nseg++;
        p += len;
        while (*p == '/')
            p++;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decode one segment; NULL when malformed. */
static char *decode_segment(const char *s, size_t n)
{
    char *out = jw_malloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n) {
                free(out);
                return NULL;
            }
            h = hexval(s[i + 1]);
            l = hexval(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) {
                free(out);
                return NULL;
            }
            out[o++] = (char)(h << 4 | l);
            i += 2;
        } else {
            out[o++] = s[i];
        }
    }
    out[o] = '\0';
    if (!jw_utf8_valid(out, o)) {
        free(out);
        return NULL;
    }
    return out;
}

int jw_router_match(const struct jw_router *r, enum jw_method method, const char *path,
                    struct jw_route_match *match)
{
    memset(match, 0, sizeof(*match));
    if (path[0] != '/')
        return 404;
    /* split and decode */
    char *segs[JW_ROUTE_MAX_SEGMENTS];
    size_t nseg = 0;
    const char *p = path + 1;
    int rc = 0;
    while (*p) {
        size_t len = strcspn(p, "/");
        if (len == 0 || nseg == JW_ROUTE_MAX_SEGMENTS) { /* "//" or too deep */
            rc = 404;
            break;
        }
        char *d = decode_segment(p, len);
        if (!d) {
            rc = 404;
            break;
        }
        segs[nseg++] = d;
        p += len;
        if (*p == '/')
            p++; /* a single trailing slash is tolerated */
    }
    const struct route *best = NULL;
    unsigned allowed = 0;
    if (rc == 0) {
        unsigned want = method == JW_HEAD ? (JW_GET | JW_HEAD) : method;
        size_t best_lit = 0;
        bool any = false;
        for (size_t i = 0; i < r->n; i++) {
            const struct route *rt = &r->routes[i];
            if (rt->nseg != nseg)
                continue;
            bool ok = true;
            for (size_t j = 0; j < nseg && ok; j++)
                if (rt->seg[j][0] != ':' && strcmp(rt->seg[j], segs[j]) != 0)
                    ok = false;
            if (!ok)
                continue;
            any = true;
            allowed |= rt->methods;
            if ((rt->methods & want) && (!best || rt->literals > best_lit)) {
                best = rt;
                best_lit = rt->literals;
            }
        }
        if (!best)
            rc = any ? 405 : 404;
    }
    if (allowed & JW_GET)
        allowed |= JW_HEAD;
    match->allowed = allowed;
    if (rc != 0) {
        for (size_t i = 0; i < nseg; i++)
            free(segs[i]);
        return rc;
    }
    match->data = best->data;
    for (size_t j = 0; j < nseg; j++) {
        if (best->seg[j][0] == ':' && match->nparams < JW_ROUTE_MAX_PARAMS) {
            match->names[match->nparams] = best->seg[j] + 1;
            match->values[match->nparams++] = segs[j];
        } else {
            free(segs[j]);
        }
    }
    return 0;
}

void jw_route_match_free(struct jw_route_match *m)
{
    for (size_t i = 0; i < m->nparams; i++)
        free(m->values[i]);
    m->nparams = 0;
}

const char *jw_route_param(const struct jw_route_match *m, const char *name)
{
    for (size_t i = 0; i < m->nparams; i++)
        if (strcmp(m->names[i], name) == 0)
            return m->values[i];
    return NULL;
}

const char *jw_method_name(enum jw_method m)
{
    switch (m) {
    case JW_GET: return "GET";
    case JW_POST: return "POST";
    case JW_PUT: return "PUT";
    case JW_PATCH: return "PATCH";
    case JW_DELETE: return "DELETE";
    case JW_HEAD: return "HEAD";
    case JW_OPTIONS: return "OPTIONS";
    }
    return "?";
}
