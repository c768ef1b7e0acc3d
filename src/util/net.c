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

/* ---- the SSRF guard: which addresses a job may reach ------------------------
 *
 * The list is the IANA special-purpose address registries, transcribed by
 * hand (this machine cannot fetch them) as of the IPv6 registry's update of
 * 2024-10-22, with the IPv4 registry of the same time:
 *   https://www.iana.org/assignments/iana-ipv4-special-registry/
 *   https://www.iana.org/assignments/iana-ipv6-special-registry/
 * (RFC 6890 and the RFCs that added entries since). Each entry notes the
 * registry's "Globally Reachable" column and what the guard does with it:
 *   - False: refused.
 *   - True: allowed, except the PCP and TURN anycast addresses: the nearest
 *     such server answers them, i.e. one of the network jobwheel runs in.
 *   - N/A: 6to4 embeds an IPv4 address, which decides; Teredo, the old
 *     ORCHID block and the 6to4 relay anycast block are refused.
 *   - 64:ff9b::/96 (True) embeds an IPv4 address too, which decides.
 * Not in the registries but refused: IPv4 multicast 224/4, IPv6 multicast
 * ff00::/8, and every IPv6 address outside 2000::/3, the only block IANA
 * has made global unicast (IPv6 Address Space registry) — site-local
 * fec0::/10, IPv4-compatible ::/96, and whatever the IETF reserves there
 * next. The most specific entry holding an address decides, so a block
 * added later inside a refused one stays refused until it is reviewed. */

enum reach {
    REACH_BLOCK, /* refused */
    REACH_ALLOW, /* allowed */
    REACH_V4,    /* decided by the IPv4 address it embeds */
};

struct range4 {
    uint32_t net;
    int bits;
    enum reach reach;
};

static const struct range4 ranges4[] = {
    {0x00000000, 0, REACH_ALLOW},  /* any other address */
    {0x00000000, 8, REACH_BLOCK},  /* 0/8 "This network" [RFC791]: False */
    {0x00000000, 32, REACH_BLOCK}, /* 0.0.0.0 "This host on this network" [RFC1122]: False */
    {0x0A000000, 8, REACH_BLOCK},  /* 10/8 Private-Use [RFC1918]: False */
    {0x64400000, 10, REACH_BLOCK}, /* 100.64/10 Shared Address Space [RFC6598]: False */
    {0x7F000000, 8, REACH_BLOCK},  /* 127/8 Loopback [RFC1122]: False */
    {0xA9FE0000, 16, REACH_BLOCK}, /* 169.254/16 Link Local [RFC3927]: False (cloud metadata) */
    {0xAC100000, 12, REACH_BLOCK}, /* 172.16/12 Private-Use [RFC1918]: False */
    {0xC0000000, 24, REACH_BLOCK}, /* 192.0.0/24 IETF Protocol Assignments [RFC6890]: False */
    {0xC0000000, 29, REACH_BLOCK}, /* 192.0.0.0/29 IPv4 Service Continuity Prefix [RFC7335]: False */
    {0xC0000008, 32, REACH_BLOCK}, /* 192.0.0.8 IPv4 dummy address [RFC7600]: False */
    {0xC0000009, 32, REACH_BLOCK}, /* 192.0.0.9 Port Control Protocol Anycast [RFC7723]: True, local */
    {0xC000000A, 32, REACH_BLOCK}, /* 192.0.0.10 TURN Anycast [RFC8155]: True, local */
    {0xC00000AA, 32, REACH_BLOCK}, /* 192.0.0.170 NAT64/DNS64 Discovery [RFC8880]: False */
    {0xC00000AB, 32, REACH_BLOCK}, /* 192.0.0.171 NAT64/DNS64 Discovery [RFC8880]: False */
    {0xC0000200, 24, REACH_BLOCK}, /* 192.0.2/24 Documentation (TEST-NET-1) [RFC5737]: False */
    {0xC01FC400, 24, REACH_ALLOW}, /* 192.31.196/24 AS112-v4 [RFC7535]: True */
    {0xC034C100, 24, REACH_ALLOW}, /* 192.52.193/24 AMT [RFC7450]: True */
    {0xC0586300, 24, REACH_BLOCK}, /* 192.88.99/24 Deprecated (6to4 Relay Anycast) [RFC7526]: N/A */
    {0xC0A80000, 16, REACH_BLOCK}, /* 192.168/16 Private-Use [RFC1918]: False */
    {0xC0AF3000, 24, REACH_ALLOW}, /* 192.175.48/24 Direct Delegation AS112 Service [RFC7534]: True */
    {0xC6120000, 15, REACH_BLOCK}, /* 198.18/15 Benchmarking [RFC2544]: False */
    {0xC6336400, 24, REACH_BLOCK}, /* 198.51.100/24 Documentation (TEST-NET-2) [RFC5737]: False */
    {0xCB007100, 24, REACH_BLOCK}, /* 203.0.113/24 Documentation (TEST-NET-3) [RFC5737]: False */
    {0xE0000000, 4, REACH_BLOCK},  /* 224/4 multicast (not in the registry) */
    {0xF0000000, 4, REACH_BLOCK},  /* 240/4 Reserved [RFC1112]: False */
    {0xFFFFFFFF, 32, REACH_BLOCK}, /* 255.255.255.255 Limited Broadcast [RFC8190]: False */
};

struct range6 {
    unsigned char net[16];
    int bits;
    enum reach reach;
    int v4_at; /* REACH_V4: the embedded address's first byte */
};

static const struct range6 ranges6[] = {
    /* any address outside 2000::/3 (see above) */
    {{0}, 0, REACH_BLOCK, 0},
    /* 2000::/3 global unicast */
    {{0x20}, 3, REACH_ALLOW, 0},
    /* ::1 Loopback [RFC4291]: False */
    {{[15] = 1}, 128, REACH_BLOCK, 0},
    /* :: Unspecified [RFC4291]: False */
    {{0}, 128, REACH_BLOCK, 0},
    /* ::ffff:0:0/96 IPv4-mapped [RFC4291]: False */
    {{[10] = 0xff, 0xff}, 96, REACH_BLOCK, 0},
    /* 64:ff9b::/96 IPv4-IPv6 Translat. [RFC6052]: True */
    {{0, 0x64, 0xff, 0x9b}, 96, REACH_V4, 12},
    /* 64:ff9b:1::/48 IPv4-IPv6 Translat. [RFC8215]: False */
    {{0, 0x64, 0xff, 0x9b, 0, 1}, 48, REACH_BLOCK, 0},
    /* 100::/64 Discard-Only [RFC6666]: False */
    {{0x01, 0}, 64, REACH_BLOCK, 0},
    /* 2001::/23 IETF Protocol Assignments [RFC2928]: False */
    {{0x20, 0x01}, 23, REACH_BLOCK, 0},
    /* 2001::/32 TEREDO [RFC4380]: N/A */
    {{0x20, 0x01}, 32, REACH_BLOCK, 0},
    /* 2001:1::1 PCP Anycast [RFC7723]: True, local */
    {{0x20, 0x01, 0, 0x01, [15] = 1}, 128, REACH_BLOCK, 0},
    /* 2001:1::2 TURN Anycast [RFC8155]: True, local */
    {{0x20, 0x01, 0, 0x01, [15] = 2}, 128, REACH_BLOCK, 0},
    /* 2001:2::/48 Benchmarking [RFC5180]: False */
    {{0x20, 0x01, 0, 0x02}, 48, REACH_BLOCK, 0},
    /* 2001:3::/32 AMT [RFC7450]: True */
    {{0x20, 0x01, 0, 0x03}, 32, REACH_ALLOW, 0},
    /* 2001:4:112::/48 AS112-v6 [RFC7535]: True */
    {{0x20, 0x01, 0, 0x04, 0x01, 0x12}, 48, REACH_ALLOW, 0},
    /* 2001:10::/28 Deprecated (ORCHID) [RFC4843]: N/A */
    {{0x20, 0x01, 0, 0x10}, 28, REACH_BLOCK, 0},
    /* 2001:20::/28 ORCHIDv2 [RFC7343]: True */
    {{0x20, 0x01, 0, 0x20}, 28, REACH_ALLOW, 0},
    /* 2001:30::/28 Drone Remote ID DETs [RFC9374]: True */
    {{0x20, 0x01, 0, 0x30}, 28, REACH_ALLOW, 0},
    /* 2001:db8::/32 Documentation [RFC3849]: False */
    {{0x20, 0x01, 0x0d, 0xb8}, 32, REACH_BLOCK, 0},
    /* 2002::/16 6to4 [RFC3056]: N/A */
    {{0x20, 0x02}, 16, REACH_V4, 2},
    /* 2620:4f:8000::/48 AS112 Delegation [RFC7534]: True */
    {{0x26, 0x20, 0, 0x4f, 0x80}, 48, REACH_ALLOW, 0},
    /* 3fff::/20 Documentation [RFC9637]: False */
    {{0x3f, 0xff}, 20, REACH_BLOCK, 0},
    /* 5f00::/16 Segment Routing (SRv6) SIDs [RFC9602]: False */
    {{0x5f, 0x00}, 16, REACH_BLOCK, 0},
    /* fc00::/7 Unique-Local [RFC4193]: False */
    {{0xfc}, 7, REACH_BLOCK, 0},
    /* fe80::/10 Link-Local Unicast [RFC4291]: False */
    {{0xfe, 0x80}, 10, REACH_BLOCK, 0},
    /* ff00::/8 multicast (not in the registry) */
    {{0xff}, 8, REACH_BLOCK, 0},
};

static bool v4_is_public(uint32_t a)
{
    const struct range4 *best = NULL;
    for (size_t i = 0; i < sizeof(ranges4) / sizeof(ranges4[0]); i++) {
        const struct range4 *r = &ranges4[i];
        uint32_t mask = r->bits == 0 ? 0 : 0xFFFFFFFFu << (32 - r->bits);
        if ((a & mask) == r->net && (!best || r->bits > best->bits))
            best = r;
    }
    return best && best->reach == REACH_ALLOW;
}

static bool in_range6(const unsigned char *b, const struct range6 *r)
{
    int full = r->bits / 8, rest = r->bits % 8;
    if (memcmp(b, r->net, (size_t)full) != 0)
        return false;
    return rest == 0 || ((b[full] ^ r->net[full]) & (0xFF << (8 - rest)) & 0xFF) == 0;
}

static bool v6_is_public(const unsigned char *b)
{
    const struct range6 *best = NULL;
    for (size_t i = 0; i < sizeof(ranges6) / sizeof(ranges6[0]); i++)
        if (in_range6(b, &ranges6[i]) && (!best || ranges6[i].bits > best->bits))
            best = &ranges6[i];
    if (!best || best->reach == REACH_BLOCK)
        return false;
    if (best->reach == REACH_ALLOW)
        return true;
    const unsigned char *v = b + best->v4_at;
    return v4_is_public((uint32_t)v[0] << 24 | (uint32_t)v[1] << 16 | (uint32_t)v[2] << 8 | v[3]);
}

bool jw_net_addr_is_public(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return v4_is_public(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return v6_is_public(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return false;
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
