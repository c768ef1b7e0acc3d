/* net: strict http(s) URL parsing and the public-address rules (SSRF guard). */
#include "jobwheel/net.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "jobwheel/buf.h"

int jw_net_parse_ip(const char *host, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    struct in_addr a4;
    struct in6_addr a6;
    /* inet_aton stops at white space and ignores the rest ("8.8.8.8 x"):
     * only its own characters may be there */
    if (host[0] && !host[strspn(host, "0123456789abcdefABCDEFxX.")] && inet_aton(host, &a4)) {
        struct sockaddr_in *s = (struct sockaddr_in *)out;
        s->sin_family = AF_INET;
        s->sin_addr = a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6) == 1) {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)out;
        s->sin6_family = AF_INET6;
        s->sin6_addr = a6;
        return 0;
    }
    return -1;
}

static bool in_net4(uint32_t a, uint32_t net, int bits)
{
    uint32_t mask = bits == 0 ? 0 : 0xFFFFFFFFu << (32 - bits);
    return (a & mask) == (net & mask);
}

static bool v4_is_public(uint32_t a)
{
    static const struct {
        uint32_t net;
        int bits;
    } blocked[] = {
        {0x00000000, 8},  /* 0.0.0.0/8 "this network" */
        {0x0A000000, 8},  /* 10/8 */
        {0x64400000, 10}, /* 100.64/10 CGNAT */
        {0x7F000000, 8},  /* 127/8 loopback */
        {0xA9FE0000, 16}, /* 169.254/16 link-local, cloud metadata */
        {0xAC100000, 12}, /* 172.16/12 */
        {0xC0000000, 24}, /* 192.0.0/24 IETF protocol assignments */
        {0xC0000200, 24}, /* 192.0.2/24 documentation */
        {0xC0586300, 24}, /* 192.88.99/24 6to4 relay */
        {0xC0A80000, 16}, /* 192.168/16 */
        {0xC6120000, 15}, /* 198.18/15 benchmarking */
        {0xC6336400, 24}, /* 198.51.100/24 documentation */
        {0xCB007100, 24}, /* 203.0.113/24 documentation */
        {0xE0000000, 4},  /* 224/4 multicast */
        {0xF0000000, 4},  /* 240/4 reserved, broadcast */
    };
    for (size_t i = 0; i < sizeof(blocked) / sizeof(blocked[0]); i++)
        if (in_net4(a, blocked[i].net, blocked[i].bits))
            return false;
    return true;
}

bool jw_net_addr_is_public(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)sa;
        return v4_is_public(ntohl(s->sin_addr.s_addr));
    }
    if (sa->sa_family != AF_INET6)
        return false;
    const unsigned char *b = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    static const unsigned char zero12[12] = {0};
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    static const unsigned char nat64[12] = {0x00, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
    uint32_t v4 = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15];
    /* ::/96 (unspecified, loopback, IPv4-compatible), ::ffff:0:0/96, 64:ff9b::/96 */
    if (memcmp(b, zero12, 12) == 0 || memcmp(b, mapped, 12) == 0 || memcmp(b, nat64, 12) == 0)
        return memcmp(b, zero12, 12) == 0 && v4 <= 1 ? false : v4_is_public(v4);
    if ((b[0] & 0xfe) == 0xfc) /* fc00::/7 unique local */
        return false;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) /* fe80::/10 link-local */
        return false;
    if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) /* fec0::/10 site-local */
        return false;
    if (b[0] == 0xff) /* ff00::/8 multicast */
        return false;
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) /* 2001:db8::/32 */
        return false;
    if (b[0] == 0x20 && b[1] == 0x02) /* 2002::/16 6to4: check the embedded IPv4 */
        return v4_is_public((uint32_t)b[2] << 24 | (uint32_t)b[3] << 16 | (uint32_t)b[4] << 8 | b[5]);
    if (b[0] == 0x01 && b[1] == 0x00 && memcmp(b + 2, zero12, 6) == 0) /* 100::/64 discard */
        return false;
    return true;
}

bool jw_net_name_is_local(const char *host)
{
    size_t n = strlen(host);
    while (n && host[n - 1] == '.')
        n--;
    if (n == 9 && strncasecmp(host, "localhost", 9) == 0)
        return true;
    return n > 10 && strncasecmp(host + n - 10, ".localhost", 10) == 0;
}

static bool valid_hostname(const char *h)
{
    size_t n = strlen(h), label = 0;
    if (n == 0 || n > 253)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '.') {
            if (label == 0 && i + 1 != n)
                return false;
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)c) || c == '-' || c == '_'))
            return false;
        if (++label > 63)
            return false;
    }
    return true;
}

static bool valid_rest_char(unsigned char c)
{
    if (c <= 0x20 || c >= 0x7f)
        return false;
    return !strchr("<>\"{}|\\^`", c);
}

int jw_url_parse(const char *url, struct jw_url *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t n = strlen(url);
    if (n == 0) {
        snprintf(err, errlen, "must not be empty");
        return -1;
    }
    if (n > JW_URL_MAX) {
        snprintf(err, errlen, "must be at most %d characters", JW_URL_MAX);
        return -1;
    }
    const char *p;
    if (strncasecmp(url, "https://", 8) == 0) {
        out->https = true;
        p = url + 8;
    } else if (strncasecmp(url, "http://", 7) == 0) {
        p = url + 7;
    } else {
        snprintf(err, errlen, "must be an absolute http:// or https:// URL");
        return -1;
    }
    size_t alen = strcspn(p, "/?#");
    const char *rest = p + alen;
    if (memchr(p, '@', alen)) {
        snprintf(err, errlen, "must not contain credentials (user:password@); send them as headers");
        return -1;
    }
    const char *host = p, *port = NULL;
    size_t hlen;
    if (alen > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', alen);
        if (!close) {
            snprintf(err, errlen, "has an unterminated IPv6 address");
            return -1;
        }
        host = p + 1;
        hlen = (size_t)(close - host);
        if (close + 1 < p + alen) {
            if (close[1] != ':') {
                snprintf(err, errlen, "has a malformed host");
                return -1;
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(p, ':', alen);
        hlen = colon ? (size_t)(colon - p) : alen;
        if (colon)
            port = colon + 1;
    }
    if (hlen == 0 || hlen >= sizeof(out->host)) {
        snprintf(err, errlen, "must name a host");
        return -1;
    }
    for (size_t i = 0; i < hlen; i++)
        out->host[i] = (char)tolower((unsigned char)host[i]);
    out->host[hlen] = '\0';
    out->port = out->https ? 443 : 80;
    if (port) {
        size_t plen = (size_t)(p + alen - port);
        long v = 0;
        if (plen == 0 || plen > 5) {
            snprintf(err, errlen, "has an invalid port");
            return -1;
        }
        for (size_t i = 0; i < plen; i++) {
            if (!isdigit((unsigned char)port[i])) {
                snprintf(err, errlen, "has an invalid port");
                return -1;
            }
            v = v * 10 + (port[i] - '0');
        }
        if (v < 1 || v > 65535) {
            snprintf(err, errlen, "has a port out of range 1-65535");
            return -1;
        }
        out->port = (int)v;
    }
    if (host != p) { /* bracketed: must be IPv6 */
        struct in6_addr a6;
        if (inet_pton(AF_INET6, out->host, &a6) != 1) {
            snprintf(err, errlen, "has an invalid IPv6 address");
            return -1;
        }
    }
    if (jw_net_parse_ip(out->host, &out->addr) == 0) {
        out->host_is_ip = true;
    } else if (!valid_hostname(out->host)) {
        snprintf(err, errlen, "has an invalid host name");
        return -1;
    }
    for (const char *c = rest; *c; c++) {
        if (!valid_rest_char((unsigned char)*c)) {
            snprintf(err, errlen, "contains a character that must be percent-encoded");
            return -1;
        }
        if (*c == '%' && !(isxdigit((unsigned char)c[1]) && isxdigit((unsigned char)c[2]))) {
            snprintf(err, errlen, "contains a malformed percent-escape");
            return -1;
        }
    }
    size_t plen = strcspn(rest, "#");
    if (*rest == '/')
        snprintf(out->path, sizeof(out->path), "%.*s", (int)plen, rest);
    else
        snprintf(out->path, sizeof(out->path), "/%.*s", (int)plen, rest);
    return 0;
}

char *jw_url_encode(const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    struct jw_buf b = JW_BUF_INIT;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            jw_buf_putc(&b, (char)*p);
        } else {
            jw_buf_putc(&b, '%');
            jw_buf_putc(&b, hex[*p >> 4]);
            jw_buf_putc(&b, hex[*p & 15]);
        }
    }
    return jw_buf_detach(&b);
}
