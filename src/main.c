/* main: start-up (config, tz database, Redis, HTTP), signals, and the
 * graceful shutdown: stop accepting, finish in-flight requests, close
 * Redis, stop the embedded Redis, exit 0. `jobwheel token` and
 * `jobwheel ctl` are the commands of src/cli. */
#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "jobwheel/api.h"
#include "jobwheel/auth.h"
#include "jobwheel/cli.h"
#include "jobwheel/config.h"
#include "jobwheel/core.h"
#include "jobwheel/embedded.h"
#include "jobwheel/exec.h"
#include "jobwheel/file_op.h"
#include "jobwheel/fs.h"
#include "jobwheel/http.h"
#include "jobwheel/json.h"
#include "jobwheel/log.h"
#include "jobwheel/scheduler.h"
#include "jobwheel/smtp.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"
#include "jobwheel/tz.h"

#define EXIT_CONFIG 2

extern char **environ;

struct app {
    struct jw_config cfg;
    struct event_base *base;
    struct jw_embedded *embedded;
    struct jw_store *store;
    struct jw_scheduler *scheduler;
    struct jw_exec *exec;
    struct jw_jwt *jwt;
    struct jw_core core;
    struct jw_api api;
    struct jw_router *router;
    struct jw_http *http;
    struct event *sigterm, *sigint, *drain;
    struct event *log_ev; /* writes the log lines held in a turn at its end */
    int64_t drain_deadline;
    bool stopping;
    char *file_root; /* FileOperation root, resolved */
    struct jw_smtp *smtp;
};

/* ---- shutdown ------------------------------------------------------------------ */

static void on_store_closed(void *arg)
{
    struct app *a = arg;
    event_base_loopexit(a->base, NULL);
}

static void on_exec_stopped(void *arg)
{
    struct app *a = arg;
    jw_store_close(a->store, on_store_closed, a);
}

static void on_scheduler_stopped(void *arg)
{
    struct app *a = arg;
    /* calls in flight finish (or, after the timeout, their leases let
     * another instance retry them) */
    jw_exec_stop(a->exec, a->cfg.shutdown_timeout_secs * 1000, on_exec_stopped, a);
}

/* Firings hand their runs to the execution engine (struct jw_fire_hooks):
 * fire_claim starts what this instance has room for, the rest start here. */
static size_t fire_reserve(void *arg, const char *tenant, size_t want, const char **instance,
                           int64_t *lease_ms)
{
    struct app *a = arg;
    *instance = jw_exec_instance(a->exec);
    *lease_ms = jw_exec_lease_ms(a->exec);
    return jw_exec_reserve(a->exec, tenant, want);
}

static void fire_started(void *arg, const char *tenant, const char *run_id, const struct jw_reply *start,
                         const struct jw_fired_run *known, int64_t sent_us)
{
    struct app *a = arg;
    jw_exec_started(a->exec, tenant, run_id, start, NULL, known, sent_us);
}

static void fire_release(void *arg, const char *tenant, size_t n)
{
    struct app *a = arg;
    jw_exec_release(a->exec, tenant, n);
}

static void fire_pending(void *arg, const char *tenant, const char *run_id)
{
    struct app *a = arg;
    jw_exec_start(a->exec, tenant, run_id);
}

static void on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct app *a = arg;
    size_t left = jw_http_inflight(a->http) + jw_http_sending(a->http);
    if (left > 0 && jw_time_mono_ms() < a->drain_deadline) {
        struct timeval tv = {0, 20000};
        event_add(a->drain, &tv);
        return;
    }
    if (left > 0)
        jw_warn("shutdown: %zu requests still in flight after %lld s; stopping anyway", left,
                (long long)a->cfg.shutdown_timeout_secs);
    /* hand the shards over first, so other instances fire without a gap */
    jw_scheduler_stop(a->scheduler, on_scheduler_stopped, a);
}

/* The drain: no new connections; the requests in flight are finished. */
static void on_drain_begin(evutil_socket_t fd, short what, void *arg)
{
    struct app *a = arg;
    jw_info("stopping — no new connections, finishing %zu in-flight requests", jw_http_inflight(a->http));
    jw_http_stop_accepting(a->http);
    a->drain_deadline = jw_time_mono_ms() + a->cfg.shutdown_timeout_secs * 1000;
    on_drain(-1, 0, a);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    struct app *a = arg;
    if (a->stopping) {
        jw_warn("second signal: exiting now");
        event_base_loopbreak(a->base);
        return;
    }
    a->stopping = true;
    a->api.draining = true; /* /readyz answers 503 from now on */
    const char *name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    if (a->cfg.drain_delay_secs > 0) { /* load balancers see it first, while requests are still served */
        jw_info("%s: /readyz answers 503; serving on for %lld s (drain_delay_secs), then stopping", name,
                (long long)a->cfg.drain_delay_secs);
        struct timeval tv = {(time_t)a->cfg.drain_delay_secs, 0};
        if (event_base_once(a->base, -1, EV_TIMEOUT, on_drain_begin, a, &tv) == 0)
            return;
    }
    jw_info("%s: stopping", name);
    on_drain_begin(-1, 0, a);
}

/* ---- start-up ------------------------------------------------------------------------ */

/* Log lines held in a turn of the loop (request lines, job events) are
 * written together at its end. */
static void on_log_flush(evutil_socket_t fd, short what, void *arg)
{
    jw_log_flush();
}

static void on_log_held(void *ev)
{
    event_active(ev, EV_TIMEOUT, 0);
}

static int start(struct app *a)
{
    char err[512];
    struct jw_config *cfg = &a->cfg;
    if (!cfg->instance_id[0]) {
        char host[128] = "jobwheel";
        gethostname(host, sizeof(host) - 1);
        struct jw_buf b = JW_BUF_INIT;
        jw_buf_printf(&b, "%s-%d", host, (int)getpid());
        free(cfg->instance_id);
        cfg->instance_id = jw_buf_detach(&b);
    }
    if (jw_tz_db_load(cfg->zoneinfo_dir, err, sizeof(err)) != 0) {
        fprintf(stderr, "jobwheel: zoneinfo_dir: %s\n", err);
        return EXIT_CONFIG;
    }
    if (!strncmp(cfg->jwt_algorithm, "HS", 2)) {
        a->jwt = jw_jwt_new(cfg->jwt_algorithm, cfg->jwt_secret, strlen(cfg->jwt_secret), cfg->jwt_issuer,
                            cfg->jwt_audience, err, sizeof(err));
    } else {
        size_t len = 0;
        char *pem = jw_read_file(cfg->jwt_public_key_file, 1 << 20, &len);
        if (!pem) {
            fprintf(stderr, "jobwheel: jwt_public_key_file: cannot read %s: %s\n", cfg->jwt_public_key_file,
                    strerror(errno));
            return EXIT_CONFIG;
        }
        a->jwt =
            jw_jwt_new(cfg->jwt_algorithm, pem, len, cfg->jwt_issuer, cfg->jwt_audience, err, sizeof(err));
        free(pem);
    }
    if (!a->jwt) {
        fprintf(stderr, "jobwheel: %s\n", err);
        return EXIT_CONFIG;
    }

    /* precise timers (timerfd on Linux): with plain epoll timeouts the wheel's
     * timer woke 3-4 ms late, most of a firing's lateness; and epoll changes
     * gathered per turn of the loop (many calls start and end in one turn of
     * a burst: each no longer costs an epoll_ctl per change; safe, as no fd
     * here is ever dup()ed) */
    struct event_config *ec = event_config_new();
    if (ec)
        event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER | EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    a->base = ec ? event_base_new_with_config(ec) : NULL;
    if (ec)
        event_config_free(ec);
    a->log_ev = a->base ? event_new(a->base, -1, 0, on_log_flush, NULL) : NULL;
    if (!a->log_ev) {
        fprintf(stderr, "jobwheel: cannot create the event loop\n");
        return 1;
    }
    jw_log_on_held(on_log_held, a->log_ev);
    /* listening first: a port in use stops start-up (exit 2) before the
     * embedded Redis or anything else is started; nothing is answered
     * before the loop runs, by when a->api is filled in */
    a->router = jw_router_new();
    jw_api_register_all(a->router);
    struct jw_http_options ho = {
        .listen = cfg->listen,
        .max_body_bytes = cfg->max_body_bytes,
        .max_header_bytes = cfg->max_header_bytes,
        .max_connections = cfg->max_connections,
        .timeout_secs = cfg->http_timeout_secs,
    };
    a->http = jw_http_start(a->base, &ho, a->router, jw_api_dispatch, &a->api, err, sizeof(err));
    if (!a->http) {
        fprintf(stderr, "jobwheel: %s\n", err);
        return EXIT_CONFIG;
    }
    const char *url = cfg->redis_url;
    if (!url[0]) {
        a->embedded = jw_embedded_start(a->base, cfg->redis_server, cfg->data_dir, err, sizeof(err));
        if (!a->embedded) {
            fprintf(stderr, "jobwheel: %s\n", err);
            return 1;
        }
        url = jw_embedded_url(a->embedded);
    }
    struct jw_store_options so = {.url = url, .timeout_ms = cfg->redis_timeout_ms, .just_started = a->embedded != NULL};
    a->store = jw_store_new(a->base, &so, err, sizeof(err));
    if (!a->store) {
        fprintf(stderr, "jobwheel: %s\n", err);
        return EXIT_CONFIG;
    }
    a->core.base = a->base;
    a->core.store = a->store;
    a->core.rules.allow_private_targets = cfg->allow_private_targets;
    a->core.rules.code_execution = cfg->code_execution;
    a->core.rules.file_operations = cfg->file_operations;
    a->core.max_json_depth = (int)cfg->json_max_depth;
    a->core.quotas = (struct jw_quotas){{
        [JW_QUOTA_JOBS] = cfg->quota_jobs,
        [JW_QUOTA_SCHEDULES] = cfg->quota_schedules,
        [JW_QUOTA_RUNS_PER_MINUTE] = cfg->quota_runs_per_minute,
        [JW_QUOTA_INFLIGHT] = cfg->quota_inflight,
        [JW_QUOTA_RUN_HISTORY] = cfg->quota_run_history,
    }};
    struct jw_scheduler_options so2 = {
        .instance_id = cfg->instance_id,
        .shards = cfg->schedule_shards,
        .window_ms = cfg->schedule_window_ms,
        .poll_ms = cfg->schedule_poll_ms,
        .lease_ms = cfg->schedule_lease_ms,
        .misfire_threshold_ms = cfg->misfire_threshold_secs * 1000,
        .retention_ms = cfg->run_retention_days * 86400 * 1000,
        .quotas = a->core.quotas,
    };
    struct jw_fire_hooks hooks = {fire_reserve, fire_started, fire_release, fire_pending, a};
    a->scheduler = jw_scheduler_new(a->base, a->store, &so2, &hooks);
    a->core.scheduler = a->scheduler;
    /* FileOperation: the root (made now, before the loop runs) and this
     * program, which its children run as `jobwheel file-op ROOT` */
    struct jw_buf root = JW_BUF_INIT;
    if (cfg->file_root[0])
        jw_buf_puts(&root, cfg->file_root);
    else
        jw_buf_printf(&root, "%s/files", cfg->data_dir);
    char *file_root = realpath(jw_buf_str(&root), NULL);
    if (!file_root && jw_mkdir_p(jw_buf_str(&root), 0750) == 0)
        file_root = realpath(jw_buf_str(&root), NULL);
    if (!file_root) {
        fprintf(stderr, "jobwheel: file_root: cannot use %s: %s\n", jw_buf_str(&root), strerror(errno));
        jw_buf_free(&root);
        return EXIT_CONFIG;
    }
    jw_buf_free(&root);
    a->file_root = file_root;
    char self[4096];
    ssize_t sn = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[sn > 0 ? sn : 0] = '\0';
    if (cfg->smtp_relay[0]) {
        struct jw_smtp_options mo = {cfg->smtp_relay, cfg->smtp_from, cfg->smtp_tls, cfg->smtp_user,
                                     cfg->smtp_password, cfg->tls_ca_file, 30000};
        a->smtp = jw_smtp_new(a->base, &mo, err, sizeof(err));
        if (!a->smtp) {
            fprintf(stderr, "jobwheel: %s\n", err);
            return EXIT_CONFIG;
        }
    }
    struct jw_exec_options xo = {
        .smtp = a->smtp,
        .file_root = a->file_root,
        .self_exe = self,
        .code_execution = cfg->code_execution,
        .file_operations = cfg->file_operations,
        .file_quota_bytes = cfg->file_quota_bytes,
        .file_quota_entries = cfg->file_quota_entries,
        .instance_id = cfg->instance_id,
        .lease_ms = cfg->run_lease_ms,
        .retention_ms = cfg->run_retention_days * 86400 * 1000,
        .allow_private = cfg->allow_private_targets,
        .ca_file = cfg->tls_ca_file,
        .max_response = (size_t)cfg->max_response_bytes,
        .max_response_header_bytes = (size_t)cfg->max_response_header_bytes,
        .max_response_headers = (size_t)cfg->max_response_headers,
        .max_inflight_response_bytes = (size_t)cfg->max_inflight_response_bytes,
        .max_inflight = cfg->max_inflight,
        .quota_inflight = cfg->quota_inflight,
        .metrics_tenants = cfg->metrics_tenants,
        .token_secret = !strncmp(cfg->jwt_algorithm, "HS", 2) ? cfg->jwt_secret : NULL,
        .token_secret_len = !strncmp(cfg->jwt_algorithm, "HS", 2) ? strlen(cfg->jwt_secret) : 0,
        .max_inflight_per_tenant = cfg->max_inflight_per_tenant,
    };
    a->exec = jw_exec_new(a->base, a->store, a->scheduler, &xo, err, sizeof(err));
    if (!a->exec) {
        fprintf(stderr, "jobwheel: %s\n", err);
        return EXIT_CONFIG;
    }
    a->core.exec = a->exec;
    a->core.retention_ms = cfg->run_retention_days * 86400 * 1000;
    a->api.core = &a->core;
    a->api.store = a->store;
    a->api.jwt = a->jwt;
    a->api.cfg = cfg;

    a->sigterm = evsignal_new(a->base, SIGTERM, on_signal, a);
    a->sigint = evsignal_new(a->base, SIGINT, on_signal, a);
    a->drain = evtimer_new(a->base, on_drain, a);
    if (!a->sigterm || !a->sigint || !a->drain || event_add(a->sigterm, NULL) != 0 ||
        event_add(a->sigint, NULL) != 0) {
        fprintf(stderr, "jobwheel: cannot install signal handlers\n");
        return 1;
    }
    const char *addr = jw_http_address(a->http);
    jw_info("jobwheel %s listening on %s%s (instance %s, redis %s%s)", "0.1.0",
            strncmp(addr, "unix:", 5) ? "http://" : "", addr, cfg->instance_id,
            a->embedded ? "embedded at " : "",
            a->embedded ? url : (strchr(url, '@') ? "(url with password)" : url));
    if (!strncmp(cfg->jwt_algorithm, "HS", 2))
        jw_info("get a token: scripts/token  (or: jobwheel token --config <file> [--tenant UUID] [--roles "
                "admin])");
    return 0;
}

static void stop(struct app *a)
{
    jw_http_free(a->http);
    jw_log_on_held(NULL, NULL);
    if (a->log_ev)
        event_free(a->log_ev);
    jw_log_flush();
    jw_api_spare_free();
    jw_exec_free(a->exec);
    jw_smtp_free(a->smtp); /* before the loop it lives on */
    jw_scheduler_free(a->scheduler);
    jw_store_free(a->store);
    jw_embedded_stop(a->embedded);
    if (a->sigterm)
        event_free(a->sigterm);
    if (a->sigint)
        event_free(a->sigint);
    if (a->drain)
        event_free(a->drain);
    jw_router_free(a->router);
    jw_jwt_free(a->jwt);
    if (a->base)
        event_base_free(a->base);
    jw_tz_db_free();
    jw_config_free(&a->cfg);
    free(a->file_root);
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "token"))
        return jw_cli_token_main(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "ctl"))
        return jw_ctl_main(argc - 1, argv + 1);
    if (argc > 1 && !strcmp(argv[1], "file-op"))
        return jw_file_op_main(argc, argv);

    struct app a;
    memset(&a, 0, sizeof(a));
    char err[512];
    int rc = jw_config_load(&a.cfg, argc, argv, environ, err, sizeof(err));
    if (rc != 0) {
        if (rc < 0)
            fprintf(stderr, "jobwheel: %s\n", err);
        jw_config_free(&a.cfg);
        return rc < 0 ? EXIT_CONFIG : 0;
    }
    jw_log_init(a.cfg.log_format, a.cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    srandom((unsigned)(time(NULL) ^ getpid()));

    rc = start(&a);
    if (rc == 0) {
        event_base_dispatch(a.base);
        jw_info("stopped");
    }
    stop(&a);
    return rc;
}
