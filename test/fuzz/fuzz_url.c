/* fuzz_url: libFuzzer target for the URLs a tenant gives (endpoint_url,
 * fallback_endpoint_url, webhook_url: jw_url_parse, then the SSRF guard's
 * jw_net_addr_is_public and jw_net_name_is_local on what it yields) and for
 * request paths (the router, with the API's own route shapes).
 *
 * The input is one string. Beyond "does not crash", it checks:
 * - a URL accepted has a host made only of what a host name or an address
 *   literal can hold, a port in range and a path without spaces, controls
 *   or fragment; written out again from its scheme, host, port and path it
 *   parses to the same, address included;
 * - no IPv6 form that embeds a refused IPv4 address (mapped, compatible,
 *   NAT64 64:ff9b::/96, 6to4) passes the guard;
 * - jw_url_encode writes only unreserved characters and escapes, and
 *   decodes back to its input;
 * - a path the router matches, rebuilt from its pattern with each
 *   parameter percent-encoded again, matches the same route with the same
 *   values. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"
#include "jobwheel/json.h"
#include "jobwheel/net.h"
#include "jobwheel/router.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Route shapes as the API surfaces register them (src/api/). */
static const char *const patterns[] = {
    "/v1/jobs",
    "/v1/jobs/batch",
    "/v1/jobs/:id",
    "/v1/jobs/:id/versions/:version_id",
    "/v1/jobs/:id/dependencies/:dep_id",
    "/v1/jobs/:id/trigger/bulk",
    "/v1/runs/:id/progress",
    "/v1/teams/:teamId/jobs/trigger",
    "/v1/workflows/:id/runs/:run_id",
    "/api/v1/scheduler/jobs/:id/last-result",
    "/api/v1/scheduler/api/v1/scheduler/jobs/:jobName/trigger",
    "/healthz",
};
#define NPATTERNS (sizeof(patterns) / sizeof(patterns[0]))

static struct jw_router *router;

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "fuzz_url: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    router = jw_router_new();
    for (size_t i = 0; i < NPATTERNS; i++)
        jw_router_add(router, i % 2 ? JW_GET | JW_POST : JW_GET | JW_DELETE, patterns[i], patterns[i]);
    return 0;
}

/* ---- the SSRF guard ---- */

static bool public6(const unsigned char b[16])
{
    struct sockaddr_in6 s;
    memset(&s, 0, sizeof(s));
    s.sin6_family = AF_INET6;
    memcpy(s.sin6_addr.s6_addr, b, 16);
    return jw_net_addr_is_public((const struct sockaddr *)&s);
}

/* No IPv6 form embedding an IPv4 address may pass the guard when the IPv4
 * address itself does not (refusing more is allowed). */
static void check_v4_forms(uint32_t a, bool verdict)
{
    if (verdict)
        return;
    unsigned char v4[4] = {(unsigned char)(a >> 24), (unsigned char)(a >> 16), (unsigned char)(a >> 8),
                           (unsigned char)a};
    static const struct {
        const char *name;
        unsigned char prefix[12];
        int at; /* where the IPv4 address goes */
    } forms[] = {
        {"::ffff:0:0/96 (mapped)", {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}, 12},
        {"::/96 (compatible)", {0}, 12},
        {"64:ff9b::/96 (NAT64)", {0x00, 0x64, 0xff, 0x9b}, 12},
        {"2002::/16 (6to4)", {0x20, 0x02}, 2},
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        unsigned char b[16] = {0};
        memcpy(b, forms[i].prefix, forms[i].at);
        memcpy(b + forms[i].at, v4, 4);
        if (public6(b))
            die("%u.%u.%u.%u is refused, but passes as %s", v4[0], v4[1], v4[2], v4[3], forms[i].name);
    }
}

static void check_address(const struct sockaddr_storage *ss)
{
    bool verdict = jw_net_addr_is_public((const struct sockaddr *)ss);
    if (ss->ss_family == AF_INET)
        check_v4_forms(ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr), verdict);
    else if (ss->ss_family != AF_INET6)
        die("an address of family %d", ss->ss_family);
}

static bool same_address(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET)
        return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
               ((const struct sockaddr_in *)b)->sin_addr.s_addr;
    return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr, &((const struct sockaddr_in6 *)b)->sin6_addr,
                   16);
}

/* ---- URLs ---- */

static void check_url(const char *s)
{
    struct jw_url u, v;
    char err[160];
    err[0] = '\0';
    if (jw_url_parse(s, &u, err, sizeof(err)) != 0) {
        if (!err[0])
            die("\"%s\" refused without a message", s);
        return;
    }
    for (const char *c = u.host; *c; c++) {
        bool name_char =
            (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' || *c == '-' || *c == '_';
        if (!name_char && !(u.host_is_ip && *c == ':'))
            die("\"%s\" gave host \"%s\", with character 0x%02x", s, u.host, (unsigned char)*c);
    }
    if (!u.host[0] || u.port < 1 || u.port > 65535 || u.path[0] != '/' || strchr(u.path, '#'))
        die("\"%s\" gave host \"%s\" port %d path \"%s\"", s, u.host, u.port, u.path);
    for (const unsigned char *c = (const unsigned char *)u.path; *c; c++)
        if (*c <= 0x20 || *c >= 0x7f)
            die("\"%s\" gave a path with character 0x%02x", s, *c);

    /* written out again, it parses to the same */
    struct jw_buf b = JW_BUF_INIT;
    bool v6 = strchr(u.host, ':') != NULL;
    jw_buf_printf(&b, "%s://%s%s%s:%d%s", u.https ? "https" : "http", v6 ? "[" : "", u.host, v6 ? "]" : "",
                  u.port, u.path);
    if (jw_url_parse(b.data, &v, err, sizeof(err)) != 0)
        die("\"%s\" written out as \"%s\" is refused: %s", s, b.data, err);
    if (v.https != u.https || strcmp(v.host, u.host) || v.port != u.port || strcmp(v.path, u.path) ||
        v.host_is_ip != u.host_is_ip || (u.host_is_ip && !same_address(&u.addr, &v.addr)))
        die("\"%s\" written out as \"%s\" parses otherwise", s, b.data);
    jw_buf_free(&b);

    (void)jw_net_name_is_local(u.host);
    if (u.host_is_ip) {
        struct sockaddr_storage ss;
        if (jw_net_parse_ip(u.host, &ss) != 0 || !same_address(&ss, &u.addr))
            die("\"%s\": host \"%s\" is an address, but not the one parsed", s, u.host);
        check_address(&u.addr);
    }
}

/* ---- percent-encoding and the router ---- */

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

static void check_encode(const char *s)
{
    char *e = jw_url_encode(s);
    size_t n = 0;
    char *back = malloc(strlen(e) + 1);
    for (const char *c = e; *c; c++) {
        if (*c == '%') {
            int h = hexval(c[1]), l = h < 0 ? -1 : hexval(c[2]);
            if (l < 0)
                die("\"%s\" encoded as \"%s\": a malformed escape", s, e);
            back[n++] = (char)(h << 4 | l);
            c += 2;
        } else if ((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                   strchr("-_.~", *c)) {
            back[n++] = *c;
        } else {
            die("\"%s\" encoded as \"%s\": 0x%02x left as is", s, e, (unsigned char)*c);
        }
    }
    back[n] = '\0';
    if (strcmp(back, s) != 0)
        die("\"%s\" encoded as \"%s\" decodes to \"%s\"", s, e, back);
    free(back);
    free(e);
}

static void check_route(const char *path, enum jw_method method)
{
    struct jw_route_match m, m2;
    int rc = jw_router_match(router, method, path, &m);
    if (rc == 405 && !m.allowed)
        die("\"%s\": 405 without the methods allowed", path);
    if (rc != 0) {
        if (rc != 404 && rc != 405)
            die("\"%s\": router answered %d", path, rc);
        jw_route_match_free(&m);
        return;
    }
    const char *pattern = m.data;
    struct jw_buf b = JW_BUF_INIT;
    size_t k = 0;
    for (const char *p = pattern; *p;) {
        size_t len = strcspn(p + 1, "/") + 1;
        if (p[1] == ':') {
            if (k >= m.nparams || strncmp(m.names[k], p + 2, len - 2) || m.names[k][len - 2])
                die("\"%s\": parameter %zu does not follow %s", path, k, pattern);
            if (strlen(m.values[k]) == 0 || !jw_utf8_valid(m.values[k], strlen(m.values[k])))
                die("\"%s\": parameter %s is empty or not UTF-8", path, m.names[k]);
            char *e = jw_url_encode(m.values[k++]);
            jw_buf_printf(&b, "/%s", e);
            free(e);
        } else {
            jw_buf_append(&b, p, len);
        }
        p += len;
    }
    if (k != m.nparams)
        die("\"%s\": %zu parameters for %s", path, m.nparams, pattern);
    if (jw_router_match(router, method, b.data, &m2) != 0 || m2.data != m.data || m2.nparams != m.nparams)
        die("\"%s\" rebuilt as \"%s\" does not match %s again", path, b.data, pattern);
    for (size_t i = 0; i < m.nparams; i++)
        if (strcmp(m.values[i], m2.values[i]) != 0)
            die("\"%s\" rebuilt as \"%s\": %s is \"%s\", not \"%s\"", path, b.data, m.names[i], m2.values[i],
                m.values[i]);
    jw_route_match_free(&m2);
    jw_route_match_free(&m);
    jw_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char s[JW_URL_MAX + 200];
    if (size >= sizeof(s))
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    check_url(s);
    struct sockaddr_storage ss;
    if (jw_net_parse_ip(s, &ss) == 0)
        check_address(&ss);
    check_encode(s);
    check_route(s, size % 2 ? JW_POST : JW_HEAD);
    return 0;
}
