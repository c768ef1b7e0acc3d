/* config: table-driven settings from defaults, file, environment and flags. */
#include "jobwheel/config.h"

#include <ctype.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobwheel/buf.h"
#include "jobwheel/json.h"

/* K_PATH: a string naming a file or directory; relative in a config file =
 * relative to that file's directory. */
enum kind { K_STR, K_PATH, K_BOOL, K_INT };

struct key {
    const char *name;
    enum kind kind;
    size_t off;
    const char *def;
    int64_t min, max; /* K_INT */
    const char *help;
};

#define S(f) K_STR, offsetof(struct jw_config, f)
#define P(f) K_PATH, offsetof(struct jw_config, f)
#define B(f) K_BOOL, offsetof(struct jw_config, f)
#define I(f) K_INT, offsetof(struct jw_config, f)

static const struct key keys[] = {
    {"listen", S(listen), "127.0.0.1:8080", 0, 0, "address:port or unix:/path to serve on"},
    {"redis_url", S(redis_url), "", 0, 0,
     "redis://[:password@]host:port/db or unix:///path.sock; empty = embedded"},
    {"redis_server", P(redis_server), "redis-server", 0, 0, "redis-server binary for the embedded Redis"},
    {"data_dir", P(data_dir), "./var", 0, 0, "embedded Redis data and file-operation root"},
    {"instance_id", S(instance_id), "", 0, 0,
     "name of this instance, up to 200 printable ASCII characters (default hostname-pid)"},
    {"jwt_secret", S(jwt_secret), "", 0, 0, "HMAC key for HS256/384/512 tokens (at least 32 bytes)"},
    {"jwt_secret_file", P(jwt_secret_file), "", 0, 0, "file holding the HMAC key (instead of jwt_secret)"},
    {"jwt_public_key_file", P(jwt_public_key_file), "", 0, 0, "PEM public key for RS256/ES256 tokens"},
    {"jwt_algorithm", S(jwt_algorithm), "", 0, 0,
     "HS256 HS384 HS512 RS256 ES256 (default: HS256 with a secret, RS256 with a key)"},
    {"jwt_issuer", S(jwt_issuer), "", 0, 0, "required iss claim, when set"},
    {"jwt_audience", S(jwt_audience), "", 0, 0, "required aud claim, when set"},
    {"metrics_token", S(metrics_token), "", 0, 0, "bearer token GET /metrics asks for (empty: /metrics is open)"},
    {"metrics_tenants", I(metrics_tenants), "0", 0, 1000,
     "/metrics has per-tenant series for the N tenants with the most attempts here (0: none)"},
    {"allow_private_targets", B(allow_private_targets), "false", 0, 0,
     "let HttpCall jobs reach loopback/private addresses"},
    {"code_execution", B(code_execution), "false", 0, 0, "allow CodeExecution jobs"},
    {"smtp_relay", S(smtp_relay), "", 0, 0, "host:port of the mail relay for notify (empty: no mail)"},
    {"smtp_from", S(smtp_from), "jobwheel@localhost", 0, 0, "sender address of notify mail"},
    {"smtp_tls", S(smtp_tls), "try", 0, 0,
     "off, try (STARTTLS when the relay offers it), starttls (required) or tls (implicit, e.g. port 465)"},
    {"smtp_user", S(smtp_user), "", 0, 0, "user name for the relay's AUTH (empty: no AUTH)"},
    {"smtp_password", S(smtp_password), "", 0, 0, "password for the relay's AUTH"},
    {"smtp_password_file", P(smtp_password_file), "", 0, 0, "file holding the relay's password (instead of smtp_password)"},
    {"file_root", P(file_root), "", 0, 0,
     "FileOperation jobs work under it, each tenant in <file_root>/<tenant id> (default <data_dir>/files)"},
    {"file_operations", B(file_operations), "true", 0, 0, "allow FileOperation jobs"},
    {"file_quota_bytes", I(file_quota_bytes), "104857600", 0, INT64_C(1) << 50,
     "bytes a tenant's FileOperation files may take"},
    {"file_quota_entries", I(file_quota_entries), "10000", 0, 10000000,
     "files and directories a tenant's FileOperation directory may hold"},
    {"log_format", S(log_format), "text", 0, 0, "text or json"},
    {"log_level", S(log_level), "info", 0, 0, "debug, info, warn or error"},
    {"zoneinfo_dir", P(zoneinfo_dir), "/usr/share/zoneinfo", 0, 0, "the IANA tz database"},
    {"max_body_bytes", I(max_body_bytes), "1048576", 1024, 64 << 20, "largest request body (413 above)"},
    {"max_header_bytes", I(max_header_bytes), "16384", 1024, 1 << 20, "largest request header block"},
    {"max_connections", I(max_connections), "4096", 1, 1000000, "open client connections at most"},
    {"http_timeout_secs", I(http_timeout_secs), "30", 1, 3600,
     "idle/read/write timeout of client connections"},
    {"json_max_depth", I(json_max_depth), "32", 2, JW_JSON_MAX_DEPTH, "deepest JSON nesting accepted"},
    {"redis_timeout_ms", I(redis_timeout_ms), "2000", 50, 600000,
     "a Redis command slower than this fails and reconnects"},
    {"shutdown_timeout_secs", I(shutdown_timeout_secs), "10", 0, 3600,
     "how long SIGTERM waits for in-flight requests"},
    {"drain_delay_secs", I(drain_delay_secs), "0", 0, 3600,
     "after SIGTERM, /readyz answers 503 this long while requests are still served; then the drain starts"},
    {"schedule_shards", I(schedule_shards), "16", 1, 4096,
     "due-set shards (fixed by the first instance on a Redis)"},
    {"schedule_window_ms", I(schedule_window_ms), "2000", 200, 3000,
     "how far ahead firings are loaded into the wheel"},
    {"schedule_poll_ms", I(schedule_poll_ms), "200", 20, 2000,
     "how often owned shards are polled for changes"},
    {"schedule_lease_ms", I(schedule_lease_ms), "3000", 500, 60000,
     "shard lease: a dead instance's shards are taken over after it"},
    {"misfire_threshold_secs", I(misfire_threshold_secs), "5", 0, 3600,
     "a firing later than this is a misfire (the job's misfire_policy applies)"},
    {"run_retention_days", I(run_retention_days), "30", 1, 3650, "how long ended runs are kept"},
    {"run_lease_ms", I(run_lease_ms), "5000", 1000, 600000,
     "a running attempt's lease: another instance retries it this long after its instance dies"},
    {"max_response_bytes", I(max_response_bytes), "1048576", 1024, 64 << 20,
     "largest answer an endpoint may send (a larger one fails the attempt)"},
    {"max_response_header_bytes", I(max_response_header_bytes), "65536", 1024, 1 << 20,
     "largest header block an endpoint may answer with (a larger one fails the attempt)"},
    {"max_response_headers", I(max_response_headers), "256", 8, 100000,
     "most header lines an endpoint may answer with (more fail the attempt)"},
    {"max_inflight_response_bytes", I(max_inflight_response_bytes), "268435456", 1 << 20, (int64_t)1 << 40,
     "answer bytes all calls in flight may hold together (a call that would pass it fails)"},
    {"max_inflight", I(max_inflight), "1024", 1, 1000000,
     "attempts an instance runs at once; more wait their turn"},
    {"max_inflight_per_tenant", I(max_inflight_per_tenant), "0", 0, 1000000,
     "attempts of one tenant an instance runs at once, up to max_inflight (0: half of max_inflight)"},
    {"tls_ca_file", P(tls_ca_file), "", 0, 0, "an extra trusted CA (PEM) for https job targets"},
    {"quota_jobs", I(quota_jobs), "0", 0, 1000000000000, "live jobs a tenant may have (0: no limit)"},
    {"quota_schedules", I(quota_schedules), "0", 0, 1000000000000,
     "live jobs with a schedule a tenant may have (0: no limit)"},
    {"quota_runs_per_minute", I(quota_runs_per_minute), "0", 0, 1000000000000,
     "runs a tenant's triggers and firings may make per minute (0: no limit)"},
    {"quota_inflight", I(quota_inflight), "0", 0, 1000000000000,
     "a tenant's attempts in flight at once, on all instances (0: no limit)"},
    {"quota_run_history", I(quota_run_history), "0", 0, 1000000000000,
     "runs kept per tenant; the oldest ended ones make room (0: no limit)"},
};
#define NKEYS (sizeof(keys) / sizeof(keys[0]))

static const struct key *find_key(const char *name, size_t n)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strlen(keys[i].name) == n && strncmp(keys[i].name, name, n) == 0)
            return &keys[i];
    return NULL;
}

static int parse_bool(const char *v, bool *out)
{
    if (!strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on") || !strcmp(v, "1"))
        *out = true;
    else if (!strcasecmp(v, "false") || !strcasecmp(v, "no") || !strcasecmp(v, "off") || !strcmp(v, "0"))
        *out = false;
    else
        return -1;
    return 0;
}

/* Set one key from text; `where` says where the value came from. */
static int set_key(struct jw_config *cfg, const struct key *k, const char *val, const char *where, char *err,
                   size_t errlen)
{
    char *base = (char *)cfg;
    switch (k->kind) {
    case K_STR:
    case K_PATH: {
        char **slot = (char **)(base + k->off);
        free(*slot);
        *slot = jw_strdup(val);
        return 0;
    }
    case K_BOOL:
        if (parse_bool(val, (bool *)(base + k->off)) != 0) {
            snprintf(err, errlen, "%s: %s must be true or false, got \"%.64s\"", where, k->name, val);
            return -1;
        }
        return 0;
    case K_INT: {
        errno = 0;
        char *end;
        long long v = strtoll(val, &end, 10);
        if (errno || end == val || *end || v < k->min || v > k->max) {
            snprintf(err, errlen, "%s: %s must be an integer from %lld to %lld, got \"%.64s\"", where,
                     k->name, (long long)k->min, (long long)k->max, val);
            return -1;
        }
        *(int64_t *)(base + k->off) = v;
        return 0;
    }
    }
    return -1;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* A path key's value as written in a file in directory dir: a relative
 * path names a place next to the file, not under whatever directory the
 * process was started in. redis_server without a slash is a command looked
 * up in PATH and stays as written. Returns a new string or NULL. */
static char *file_relative(const struct key *k, const char *val, const char *dir)
{
    if (k->kind != K_PATH || !dir || !val[0] || val[0] == '/' || (k->off == offsetof(struct jw_config, redis_server) &&
                                                         !strchr(val, '/')))
        return NULL;
    while (val[0] == '.' && val[1] == '/')
        val += 2;
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_printf(&b, "%s/%s", dir, val);
    return jw_buf_detach(&b);
}

/* The `key = value` lines of f; path names it in messages, dir (NULL for
 * text) is the absolute directory relative paths in it are read against.
 * Each line is read whole, however long (a fixed buffer once cut long
 * lines and read their tails as lines of their own). */
static int load_stream(struct jw_config *cfg, FILE *f, const char *path, const char *dir, char *err,
                       size_t errlen)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (memchr(line, '\0', (size_t)len)) {
            snprintf(err, errlen, "%.200s:%d: the line contains a NUL byte", path, lineno);
            rc = -1;
            break;
        }
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        char *eq = strchr(s, '=');
        char where[300];
        snprintf(where, sizeof(where), "%.200s:%d", path, lineno);
        if (!eq) {
            snprintf(err, errlen, "%s: expected key = value", where);
            rc = -1;
            break;
        }
        *eq = '\0';
        char *name = trim(s), *val = trim(eq + 1);
        size_t vl = strlen(val);
        if (vl >= 2 && ((val[0] == '"' && val[vl - 1] == '"') || (val[0] == '\'' && val[vl - 1] == '\''))) {
            val[vl - 1] = '\0';
            val++;
        }
        const struct key *k = find_key(name, strlen(name));
        if (!k) {
            snprintf(err, errlen, "%s: unknown key \"%.64s\"", where, name);
            rc = -1;
            break;
        }
        char *abs = file_relative(k, val, dir);
        rc = set_key(cfg, k, abs ? abs : val, where, err, errlen);
        free(abs);
    }
    free(line);
    return rc;
}

static int load_file(struct jw_config *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "config: cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *copy = jw_strdup(path);
    char *dir = realpath(dirname(copy), NULL);
    free(copy);
    int rc;
    if (!dir) {
        snprintf(err, errlen, "config: cannot resolve the directory of %s: %s", path, strerror(errno));
        rc = -1;
    } else {
        rc = load_stream(cfg, f, path, dir, err, errlen);
    }
    free(dir);
    fclose(f);
    return rc;
}

/* The same lines from memory, read exactly as from a file. */
static int load_text(struct jw_config *cfg, const char *text, size_t len, char *err, size_t errlen)
{
    if (len == 0)
        return 0;
    FILE *f = fmemopen((void *)text, len, "r");
    if (!f) {
        snprintf(err, errlen, "config: cannot read the text: %s", strerror(errno));
        return -1;
    }
    int rc = load_stream(cfg, f, "(text)", NULL, err, errlen);
    fclose(f);
    return rc;
}

static void usage(void)
{
    printf("usage: jobwheel [--config FILE] [--key value ...]\n\n"
           "Settings come from FILE (key = value), then JOBWHEEL_<KEY> environment\n"
           "variables, then flags (--key value, underscores written as dashes).\n\n");
    for (size_t i = 0; i < NKEYS; i++) {
        char flag[64];
        snprintf(flag, sizeof(flag), "--%s", keys[i].name);
        for (char *c = flag; *c; c++)
            if (*c == '_')
                *c = '-';
        printf("  %-26s %s (default: %s)\n", flag, keys[i].help, keys[i].def[0] ? keys[i].def : "none");
    }
}

/* A secret kept in a file (one line; the line end and trailing blanks are
 * not part of it), read into *out; key names the setting in errors. */
static int read_secret_file(const char *key, const char *path, char **out, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot read %.200s: %s", key, path, strerror(errno));
        return -1;
    }
    char buf[4097];
    size_t n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    if (n == sizeof(buf)) {
        memset(buf, 0, sizeof(buf));
        snprintf(err, errlen, "%s: the key in %.200s is longer than 4096 bytes", key, path);
        return -1;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    free(*out);
    *out = jw_strdup(buf);
    memset(buf, 0, sizeof(buf));
    return 0;
}

static int validate(struct jw_config *cfg, char *err, size_t errlen)
{
    char host[256], path[256];
    int port;
    if (jw_config_split_listen(cfg->listen, host, sizeof(host), &port, path, sizeof(path)) != 0) {
        snprintf(err, errlen, "listen: expected host:port or unix:/path, got \"%.100s\"", cfg->listen);
        return -1;
    }
    if (cfg->redis_url[0] && strncmp(cfg->redis_url, "redis://", 8) != 0 &&
        strncmp(cfg->redis_url, "unix://", 7) != 0) {
        snprintf(err, errlen, "redis_url: expected redis://host:port/db or unix:///path.sock");
        return -1;
    }
    if (strcmp(cfg->log_format, "text") && strcmp(cfg->log_format, "json")) {
        snprintf(err, errlen, "log_format: must be text or json, got \"%.32s\"", cfg->log_format);
        return -1;
    }
    if (strcmp(cfg->log_level, "debug") && strcmp(cfg->log_level, "info") && strcmp(cfg->log_level, "warn") &&
        strcmp(cfg->log_level, "error")) {
        snprintf(err, errlen, "log_level: must be debug, info, warn or error");
        return -1;
    }
    if (cfg->jwt_secret_file[0] && !cfg->jwt_secret[0] &&
        read_secret_file("jwt_secret_file", cfg->jwt_secret_file, &cfg->jwt_secret, err, errlen) != 0)
        return -1;
    if (cfg->smtp_password_file[0] && !cfg->smtp_password[0] &&
        read_secret_file("smtp_password_file", cfg->smtp_password_file, &cfg->smtp_password, err, errlen) != 0)
        return -1;
    if (strcmp(cfg->smtp_tls, "off") && strcmp(cfg->smtp_tls, "try") && strcmp(cfg->smtp_tls, "starttls") &&
        strcmp(cfg->smtp_tls, "tls")) {
        snprintf(err, errlen, "smtp_tls: must be off, try, starttls or tls, got \"%.40s\"", cfg->smtp_tls);
        return -1;
    }
    const char *alg = cfg->jwt_algorithm;
    bool hs = false, pk = false;
    if (!alg[0]) {
        free(cfg->jwt_algorithm);
        cfg->jwt_algorithm =
            jw_strdup(cfg->jwt_public_key_file[0] && !cfg->jwt_secret[0] ? "RS256" : "HS256");
        alg = cfg->jwt_algorithm;
    }
    if (!strcmp(alg, "HS256") || !strcmp(alg, "HS384") || !strcmp(alg, "HS512"))
        hs = true;
    else if (!strcmp(alg, "RS256") || !strcmp(alg, "ES256"))
        pk = true;
    else {
        snprintf(err, errlen, "jwt_algorithm: must be HS256, HS384, HS512, RS256 or ES256, got \"%.16s\"",
                 alg);
        return -1;
    }
    if (hs) {
        if (!cfg->jwt_secret[0]) {
            snprintf(err, errlen,
                     "jwt_secret: required for %s (set jwt_secret, or jwt_public_key_file for RS256/ES256)",
                     alg);
            return -1;
        }
        if (strlen(cfg->jwt_secret) < 32) {
            snprintf(err, errlen, "jwt_secret: must be at least 32 bytes, got %zu", strlen(cfg->jwt_secret));
            return -1;
        }
    }
    if (pk && !cfg->jwt_public_key_file[0]) {
        snprintf(err, errlen, "jwt_public_key_file: required for %s", alg);
        return -1;
    }
    if (!cfg->data_dir[0]) {
        snprintf(err, errlen, "data_dir: must not be empty");
        return -1;
    }
    /* the scripts refuse any other (see prelude.lua's want_instance) */
    bool printable = strlen(cfg->instance_id) <= 200;
    for (const char *p = cfg->instance_id; *p && printable; p++)
        printable = *p >= 0x20 && *p <= 0x7e;
    if (!printable) {
        snprintf(err, errlen, "instance_id: at most 200 printable ASCII characters");
        return -1;
    }
    if (cfg->max_inflight_response_bytes < cfg->max_response_bytes + cfg->max_response_header_bytes) {
        snprintf(err, errlen,
                 "max_inflight_response_bytes: must hold at least one whole answer (max_response_bytes + "
                 "max_response_header_bytes = %lld), got %lld",
                 (long long)(cfg->max_response_bytes + cfg->max_response_header_bytes),
                 (long long)cfg->max_inflight_response_bytes);
        return -1;
    }
    /* A slot cannot be taken back from a call in flight, so only a cap
     * below max_inflight keeps slots for the other tenants while one
     * tenant's endpoints hang. By default a tenant may hold half: one
     * tenant whose calls never end leaves the other half to the rest (who
     * take turns at it), while a tenant alone still runs 512 calls at once
     * with the default max_inflight, far more than fast endpoints need to
     * keep the loop busy. A deployment serving one tenant whose endpoints
     * are slow sets it to max_inflight. */
    if (cfg->max_inflight_per_tenant == 0)
        cfg->max_inflight_per_tenant = cfg->max_inflight > 1 ? cfg->max_inflight / 2 : 1;
    if (cfg->max_inflight_per_tenant > cfg->max_inflight) {
        snprintf(err, errlen, "max_inflight_per_tenant: must not exceed max_inflight (%lld), got %lld",
                 (long long)cfg->max_inflight, (long long)cfg->max_inflight_per_tenant);
        return -1;
    }
    return 0;
}

/* text: the config file's content, or NULL to read the file named. */
static int load(struct jw_config *cfg, int argc, char **argv, char **envp, const char *text, size_t len,
                char *err, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    for (size_t i = 0; i < NKEYS; i++)
        if (set_key(cfg, &keys[i], keys[i].def, "default", err, errlen) != 0)
            return -1;

    /* Which file: --config wins over JOBWHEEL_CONFIG. */
    const char *file = NULL;
    for (char **e = envp; e && *e; e++)
        if (strncmp(*e, "JOBWHEEL_CONFIG=", 16) == 0)
            file = *e + 16;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage();
            return 1;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("jobwheel 0.1.0\n");
            return 1;
        }
        if (!strcmp(argv[i], "--config")) {
            if (i + 1 >= argc) {
                snprintf(err, errlen, "--config: expects a file");
                return -1;
            }
            file = argv[++i];
        } else if (!strncmp(argv[i], "--config=", 9)) {
            file = argv[i] + 9;
        }
    }
    if (text) {
        if (load_text(cfg, text, len, err, errlen) != 0)
            return -1;
    } else if (file && file[0]) {
        cfg->config_file = jw_strdup(file);
        if (load_file(cfg, file, err, errlen) != 0)
            return -1;
    }

    for (char **e = envp; e && *e; e++) {
        if (strncmp(*e, "JOBWHEEL_", 9) != 0)
            continue;
        const char *name = *e + 9, *eq = strchr(name, '=');
        if (!eq)
            continue;
        char lower[64];
        size_t n = (size_t)(eq - name);
        if (n >= sizeof(lower))
            continue;
        for (size_t i = 0; i < n; i++)
            lower[i] = (char)tolower((unsigned char)name[i]);
        lower[n] = '\0';
        if (!strcmp(lower, "config"))
            continue;
        const struct key *k = find_key(lower, n);
        if (!k)
            continue; /* JOBWHEEL_* names that are not settings belong to others */
        char where[96];
        snprintf(where, sizeof(where), "environment JOBWHEEL_%.*s", (int)n, name);
        if (set_key(cfg, k, eq + 1, where, err, errlen) != 0)
            return -1;
    }

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--config")) {
            i++;
            continue;
        }
        if (!strncmp(a, "--config=", 9))
            continue;
        if (strncmp(a, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument \"%.64s\" (see --help)", a);
            return -1;
        }
        const char *name = a + 2, *eq = strchr(name, '=');
        size_t n = eq ? (size_t)(eq - name) : strlen(name);
        char key[64];
        if (n >= sizeof(key)) {
            snprintf(err, errlen, "unknown flag %.64s (see --help)", a);
            return -1;
        }
        for (size_t j = 0; j < n; j++)
            key[j] = name[j] == '-' ? '_' : name[j];
        key[n] = '\0';
        const struct key *k = find_key(key, n);
        if (!k) {
            snprintf(err, errlen, "unknown flag --%.*s (see --help)", (int)n, name);
            return -1;
        }
        const char *val;
        if (eq) {
            val = eq + 1;
        } else if (k->kind == K_BOOL) {
            /* alone it means true; a following non-flag word is its value */
            if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
                val = argv[++i];
            else
                val = "true";
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            snprintf(err, errlen, "--%.*s: expects a value", (int)n, name);
            return -1;
        }
        char where[80];
        snprintf(where, sizeof(where), "flag --%.*s", (int)n, name);
        if (set_key(cfg, k, val, where, err, errlen) != 0)
            return -1;
    }
    return validate(cfg, err, errlen);
}

int jw_config_load(struct jw_config *cfg, int argc, char **argv, char **envp, char *err, size_t errlen)
{
    return load(cfg, argc, argv, envp, NULL, 0, err, errlen);
}

int jw_config_load_text(struct jw_config *cfg, const char *text, size_t len, int argc, char **argv,
                        char **envp, char *err, size_t errlen)
{
    return load(cfg, argc, argv, envp, text, len, err, errlen);
}

void jw_config_free(struct jw_config *cfg)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (keys[i].kind == K_STR || keys[i].kind == K_PATH) {
            char **slot = (char **)((char *)cfg + keys[i].off);
            free(*slot);
            *slot = NULL;
        }
    free(cfg->config_file);
    cfg->config_file = NULL;
}

int jw_config_split_listen(const char *listen, char *host, size_t hostlen, int *port, char *unix_path,
                           size_t pathlen)
{
    host[0] = unix_path[0] = '\0';
    *port = 0;
    if (!strncmp(listen, "unix:", 5)) {
        const char *p = listen + 5;
        if (p[0] != '/' || strlen(p) >= pathlen || strlen(p) >= 100)
            return -1;
        strcpy(unix_path, p);
        return 0;
    }
    const char *colon = strrchr(listen, ':');
    if (!colon || colon == listen)
        return -1;
    const char *h = listen;
    size_t hl = (size_t)(colon - listen);
    if (h[0] == '[') {
        if (hl < 3 || h[hl - 1] != ']')
            return -1;
        h++;
        hl -= 2;
    }
    if (hl >= hostlen)
        return -1;
    memcpy(host, h, hl);
    host[hl] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
        return -1;
    *port = (int)p;
    return 0;
}
