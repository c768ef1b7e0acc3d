/* config: the server's settings — defaults, then conf file (`key = value`),
 * then JOBWHEEL_<KEY> environment, then `--key value` flags. Every value is
 * validated; a bad one is an error naming the key. */
#ifndef JOBWHEEL_CONFIG_H
#define JOBWHEEL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct jw_config {
    char *config_file;  /* the file read, or NULL */
    char *listen;       /* "host:port" or "unix:/path" */
    char *redis_url;    /* "" = start an embedded redis-server */
    char *redis_server; /* binary for the embedded Redis */
    char *data_dir;
    char *instance_id;         /* "" = hostname-pid */
    char *jwt_secret;          /* HMAC key (>= 32 bytes) */
    char *jwt_secret_file;     /* or read the HMAC key from this file */
    char *jwt_public_key_file; /* PEM for RS256 / ES256 */
    char *jwt_algorithm;       /* HS256 HS384 HS512 RS256 ES256; "" = from the key given */
    char *jwt_issuer;
    char *jwt_audience;
    char *metrics_token; /* GET /metrics needs "Bearer <it>" (empty: open) */
    int64_t metrics_tenants; /* per-tenant series for this many busiest tenants (0: none) */
    bool allow_private_targets;
    bool code_execution;
    char *file_root;  /* "" = <data_dir>/files */
    bool file_operations;
    int64_t file_quota_bytes;   /* per tenant */
    int64_t file_quota_entries; /* per tenant */
    char *smtp_relay; /* "" = no notify mail */
    char *smtp_from;
    char *smtp_tls;           /* off | try | starttls | tls */
    char *smtp_user;          /* "" = no AUTH */
    char *smtp_password;      /* secret: never logged */
    char *smtp_password_file; /* read into smtp_password */
    char *log_format; /* text | json */
    char *log_level;  /* debug | info | warn | error */
    char *zoneinfo_dir;
    int64_t max_body_bytes;
    int64_t max_header_bytes;
    int64_t max_connections;
    int64_t http_timeout_secs;
    int64_t json_max_depth;
    int64_t redis_timeout_ms;
    int64_t shutdown_timeout_secs;
    int64_t drain_delay_secs; /* after SIGTERM, /readyz says 503 this long before the drain */
    int64_t schedule_shards;
    int64_t schedule_window_ms;
    int64_t schedule_poll_ms;
    int64_t schedule_lease_ms;
    int64_t misfire_threshold_secs;
    int64_t run_retention_days;
    int64_t run_lease_ms;
    int64_t max_response_bytes;
    int64_t max_response_header_bytes;
    int64_t max_response_headers;
    int64_t max_inflight_response_bytes;
    int64_t max_inflight;
    int64_t max_inflight_per_tenant; /* 0 in the sources: resolved to the default */
    char *tls_ca_file;
    /* default quotas of every tenant (0: none); a super_admin sets a tenant's own */
    int64_t quota_jobs;
    int64_t quota_schedules;
    int64_t quota_runs_per_minute;
    int64_t quota_inflight;
    int64_t quota_run_history;
};

/* Fill defaults, then apply file, environment (envp) and argv. Returns 0;
 * 1 when --help or --version was answered (exit 0); -1 with a message in
 * err naming the key (exit 2). */
int jw_config_load(struct jw_config *cfg, int argc, char **argv, char **envp, char *err, size_t errlen)
    __attribute__((warn_unused_result));
/* The same, with text (len bytes) as the config file's content in place of
 * the file --config or JOBWHEEL_CONFIG would name (which is not read): the
 * parser alone, for tests and the fuzzer. */
int jw_config_load_text(struct jw_config *cfg, const char *text, size_t len, int argc, char **argv,
                        char **envp, char *err, size_t errlen) __attribute__((warn_unused_result));
void jw_config_free(struct jw_config *cfg);

/* Parse "host:port" / "[v6]:port" / "unix:/path". 0 or -1. */
int jw_config_split_listen(const char *listen, char *host, size_t hostlen, int *port, char *unix_path,
                           size_t pathlen);

#endif
