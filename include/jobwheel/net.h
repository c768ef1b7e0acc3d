/* net: URL parsing for job targets and the address rules of the SSRF guard.
 * Pure: no resolution here — callers check literal addresses at creation and
 * resolved addresses at dispatch with the same jw_net_addr_is_public(). */
#ifndef JOBWHEEL_NET_H
#define JOBWHEEL_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define JW_URL_MAX 2048

struct jw_url {
    bool https;
    char host[256];               /* as written, without IPv6 brackets, lower-cased */
    int port;                     /* explicit, or 80 / 443 */
    bool host_is_ip;              /* host is an address literal, in any form inet_aton takes */
    struct sockaddr_storage addr; /* that address, when host_is_ip */
    char path[JW_URL_MAX + 2];    /* "/…?…" ("/" when empty; "/?q" for "?q"), no fragment */
};

/* Parse an absolute http(s) URL. Refuses other schemes, credentials in the
 * URL, bad hosts and ports, spaces and control characters. 0 or -1 with a
 * message in err. */
int jw_url_parse(const char *url, struct jw_url *out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Parse a host as an IP address literal: dotted, shortened and numeric IPv4
 * forms (127.1, 2130706433, 0x7f000001) and IPv6. 0 or -1. */
int jw_net_parse_ip(const char *host, struct sockaddr_storage *out);

/* False for addresses a job must not reach: every block of the IANA IPv4
 * and IPv6 special-purpose address registries that is not globally
 * reachable (loopback, private, link-local and cloud metadata, CGNAT,
 * unique-local, documentation, benchmarking, reserved, Teredo, local-use
 * NAT64, ...), multicast, IPv6 outside 2000::/3, and NAT64 (64:ff9b::/96)
 * and 6to4 addresses whose embedded IPv4 address is one of these. The
 * table and the decision per entry are in net.c. */
bool jw_net_addr_is_public(const struct sockaddr *sa);

/* True for names that always mean this machine ("localhost", "*.localhost"). */
bool jw_net_name_is_local(const char *host);

/* Percent-encode everything but RFC 3986 unreserved characters; caller frees. */
char *jw_url_encode(const char *s);

#endif
