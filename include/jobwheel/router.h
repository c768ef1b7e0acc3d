/* router: maps (method, path) to a route, with `:name` path parameters.
 * Pure: knows nothing of evhttp; the server hands it decoded paths. */
#ifndef JOBWHEEL_ROUTER_H
#define JOBWHEEL_ROUTER_H

#include <stdbool.h>
#include <stddef.h>

enum jw_method {
    JW_GET = 1 << 0,
    JW_POST = 1 << 1,
    JW_PUT = 1 << 2,
    JW_PATCH = 1 << 3,
    JW_DELETE = 1 << 4,
    JW_HEAD = 1 << 5,
    JW_OPTIONS = 1 << 6,
};

#define JW_ROUTE_MAX_PARAMS 6
#define JW_ROUTE_MAX_SEGMENTS 12

struct jw_router;

struct jw_route_match {
    const void *data; /* what jw_router_add() was given */
    size_t nparams;
    const char *names[JW_ROUTE_MAX_PARAMS];
    char *values[JW_ROUTE_MAX_PARAMS]; /* decoded; owned by the match */
    unsigned allowed;                  /* methods the path accepts (for 405 / Allow) */
};

struct jw_router *jw_router_new(void);
void jw_router_free(struct jw_router *r);
/* pattern: "/v1/jobs/:id/versions/:version_id". methods: a mask. data is
 * borrowed and must outlive the router. */
void jw_router_add(struct jw_router *r, unsigned methods, const char *pattern, const void *data);

/* Match a raw (still percent-encoded) path, without the query string.
 * Returns 0 (match filled; free with jw_route_match_free), 404 (no path
 * matches, or the path is malformed: bad escapes, %00, invalid UTF-8), or
 * 405 (the path exists, not with this method; match->allowed says which).
 * Among several matching patterns, the one with the most literal segments
 * wins, so "/v1/jobs/batch" beats "/v1/jobs/:id". HEAD matches GET routes. */
int jw_router_match(const struct jw_router *r, enum jw_method method, const char *path,
                    struct jw_route_match *match);
void jw_route_match_free(struct jw_route_match *m);

const char *jw_route_param(const struct jw_route_match *m, const char *name);
const char *jw_method_name(enum jw_method m);

#endif
