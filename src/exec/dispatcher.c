/* dispatcher: runs from ready to ended — start (limits, lease), call the
 * endpoint at the attempt's time (a burst is started ahead, see due.h),
 * record the outcome, retry or hand over; lease renewal; the owned shards'
 * queue sweeps; final-run webhooks (see exec.h). */
#include "jobwheel/exec.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"
#include "jobwheel/due.h"
#include "jobwheel/fair.h"
#include "jobwheel/http_client.h"
#include "jobwheel/id.h"
#include "jobwheel/job.h"
#include "jobwheel/json.h"
#include "jobwheel/log.h"
#include "jobwheel/map.h"
#include "jobwheel/metrics.h"
#include "jobwheel/policy.h"
#include "jobwheel/run.h"
#include "jobwheel/runner.h"
#include "jobwheel/scheduler.h"
#include "jobwheel/smtp.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"
#include "jobwheel/clock.h"

#define SWEEP_MS 200
#define RENEW_MS 1000 /* leases are renewed this often, or three times a lease if shorter */
#define SWEEP_LIMIT 200
#define STALE_READY_MS 1000 /* a ready run its maker did not start by then */
#define DEPTH_EVERY_MS 5000 /* how often an owner counts its shards' runs (shard_depth, for /metrics) */
#define QUEUE_MAX 100000    /* runs waiting here for a slot (more wait ready in Redis), */
#define QUEUE_TENANT 25000  /* ... of one tenant, so one cannot fill the queue; */
#define QUEUE_FLOOR 16      /* ... but a tenant may queue this many even when it is full */
#define TRIM_TICKS 5        /* idle tenants' accounts are freed every TRIM_TICKS sweeps */
#define HOLD_MS 1000        /* outcomes held back during a burst of firings, at most */
#define HOLD_CHECK_MS 2
#define LAUNCH_TURN 64 /* calls of a burst started ahead begun in one turn; then the loop sends them */
#define AHEAD_MAX 25000 /* attempts held ahead of their time; more start as other runs do (memory) */

struct jw_exec {
    struct event_base *base;
    struct jw_store *store;
    struct jw_scheduler *sched;
    struct jw_exec_options opt;
    char *instance;
    struct jw_http_client *http;
    struct jw_runner *runner;
    unsigned char token_key[64];
    size_t token_key_len;
    bool loading_key;
    int64_t key_read_ms;    /* monotonic: when the token key was last read */
    bool key_derived;       /* the token key comes from configuration, not Redis */
    struct jw_map *flights; /* "<tenant>:<run>" -> struct flight, calls in progress here */
    char **early;           /* "<tenant>:<run>" asked to start before the token key came */
    size_t nearly;
    /* The attempt slots (max_inflight), shared between tenants: a run
     * starts when its tenant gets a slot, else it waits in its tenant's
     * queue here (see fair.h); runs beyond the queues stay ready in Redis
     * for a sweep. A slot is held from the start's request (run_start, or
     * the room reserved for run_create and fire_claim) to the attempt's
     * end. */
    struct jw_fair *fair;
    struct jw_map *jobs; /* decoded jobs by their JSON (decode_job) */
    struct jw_due *due; /* the clock of delayed runs (due.h) */
    /* Attempts started ahead of their time (a burst, see due.h) wait here
     * for it, then for a slot: started in Redis, no call yet. */
    struct jw_clock ahead;
    size_t nwaiting; /* of them, due and waiting for a slot */
    size_t nahead;   /* starts asked for ahead and attempts held without a slot (AHEAD_MAX) */
    size_t ncalls;   /* calls made and not answered */
    struct event *kick; /* start_queued in the next turn */
    int trim_ticks;
    struct event *sweep, *renew, *stop_check;
    int64_t renew_every, renew_now; /* ms: the renewal tick, and when the current one went off */
    struct finish **held; /* outcomes held back (see holding) */
    struct late **late;   /* answers whose outcome is decided after the hold */
    size_t nlate;
    size_t nheld;
    int64_t held_since;
    struct event *hold;
    bool *sweeping;
    int nsweeping;
    /* per shard (nsweeping of them): the runs it held when last counted,
     * ready, delayed and running, while this instance owns it */
    int64_t (*depth)[3];
    int64_t depth_at; /* ms: when the owned shards were last counted */
    /* opt-in per-tenant counts (metrics_tenants > 0): tenant -> struct tenant_stat */
    struct jw_map *tenant_stats;
    bool stopping;
    bool calls_abandoned; /* stopping took too long: in-flight calls were cancelled */
    uint64_t superseded;  /* attempts dropped here because the run had moved on (see run_renew) */
    int64_t stop_deadline;
    void (*stop_done)(void *);
    void *stop_arg;
};

/* An attempt in progress on this instance. */
struct flight {
    struct jw_exec *x;
    struct jw_fair_tenant *acct; /* its tenant's account, where it holds a slot (valid while it holds or waits for one) */
    char member[80];             /* map key */
    char tenant[40], run_id[40];
    int shard;
    int attempt;
    bool on_fallback;
    bool notify; /* the run asked for mail when it ends */
    struct jw_job job;
    char *secret;
    char *payload;
    int64_t queued_since; /* ms: when the run became ready for this attempt */
    int64_t scheduled_ms; /* its nominal time (a fired run), else when it was made */
    bool fired;           /* a schedule's firing, handed over by the scheduler */
    int64_t started_ms;   /* wall clock */
    int64_t lease_end;    /* wall clock: no later than its lease ends in Redis (see on_renew_timer) */
    int64_t dequeue_ms;   /* run_start's round trip */
    int64_t timeout_ms;
    int64_t max_attempts;
    char *backoff;
    int64_t initial_ms, max_ms;
    struct jw_http_call *call;    /* HttpCall */
    struct jw_runner_call *rcall; /* the other job types */
    char *params;                 /* the run's params (the other job types) */
    char token[96];               /* this attempt's run token ("": made at launch) */
    bool slot;                    /* it holds one of its tenant's slots */
    bool waiting;                 /* started ahead, due, and queued for a slot */
    struct jw_wheel_entry we;     /* started ahead: queued for its time */
};

static void start_run(struct jw_exec *x, const char *tenant, const char *run_id);
static void send_start(struct jw_exec *x, const char *tenant, const char *run_id, bool ahead);
static void start_queued(struct jw_exec *x);
static void launch(struct flight *fl);

/* ---- metrics ------------------------------------------------------------------ */

/* An attempt's outcome, and its answer's status class, label its count. */
static const char *const OUTCOMES[] = {"completed", "accepted", "failed", "timed_out", "crashed", "worker_failed"};
#define NOUTCOMES (sizeof(OUTCOMES) / sizeof(OUTCOMES[0]))
#define NCODES 5 /* 2xx 3xx 4xx 5xx, and none (no answer) */
static char attempt_labels[NOUTCOMES * NCODES][48];
static const char *attempt_label[NOUTCOMES * NCODES];
static const char *const ENDED[] = {"status=\"completed\"", "status=\"failed\"", "status=\"timed_out\""};

static struct {
    jw_metric runs_started, attempts_started, attempts, retries, runs_ended, runs_dead, leases_lost;
    jw_metric dispatch_latency, attempt_duration, firing_lateness;
    jw_metric calls, queued, ahead;
} M;

static double calls_now(void *arg) { return (double)((struct jw_exec *)arg)->ncalls; }
static double queued_now(void *arg) { return (double)jw_fair_waiting(((struct jw_exec *)arg)->fair); }
static double ahead_now(void *arg) { return (double)((struct jw_exec *)arg)->nahead; }

/* ---- per-tenant series (opt-in) --------------------------------------------------- *
 * What each tenant's attempts did here, for the metrics_tenants busiest of
 * them: the label sets stay bounded (a tenant id is a UUID checked at the
 * edge), and at most TENANT_STATS_MAX tenants are counted at once. */
#define TENANT_STATS_MAX 10000
struct tenant_stat {
    char tenant[40];
    uint64_t started, ended[3]; /* ended: completed, failed, timed_out */
};

static struct tenant_stat *tenant_stat(struct jw_exec *x, const char *tenant)
{
    if (!x->tenant_stats)
        return NULL;
    struct tenant_stat *t = jw_map_get(x->tenant_stats, tenant);
    if (!t && jw_map_count(x->tenant_stats) < TENANT_STATS_MAX && strlen(tenant) < sizeof(t->tenant)) {
        t = jw_calloc(1, sizeof(*t));
        snprintf(t->tenant, sizeof(t->tenant), "%s", tenant);
        jw_map_put(x->tenant_stats, t->tenant, t);
    }
    return t;
}

static void free_stat(void *value, void *arg)
{
    (void)arg;
    free(value);
}

struct tenant_list {
    struct tenant_stat **v;
    size_t n;
};

static void list_tenant(void *value, void *arg)
{
    struct tenant_list *l = arg;
    l->v[l->n++] = value;
}

static int busiest_first(const void *a, const void *b)
{
    const struct tenant_stat *x = *(struct tenant_stat *const *)a, *y = *(struct tenant_stat *const *)b;
    return x->started < y->started ? 1 : x->started > y->started ? -1 : strcmp(x->tenant, y->tenant);
}

static void render_tenants(struct jw_buf *out, void *arg)
{
    struct jw_exec *x = arg;
    size_t n = jw_map_count(x->tenant_stats);
    struct tenant_list l = {jw_calloc(n ? n : 1, sizeof(*l.v)), 0};
    jw_map_each(x->tenant_stats, list_tenant, &l);
    qsort(l.v, l.n, sizeof(*l.v), busiest_first);
    if (l.n > (size_t)x->opt.metrics_tenants)
        l.n = (size_t)x->opt.metrics_tenants;
    jw_buf_puts(out, "# HELP jobwheel_tenant_attempts_started_total Attempts started here, for the busiest tenants\n"
                     "# TYPE jobwheel_tenant_attempts_started_total counter\n");
    for (size_t i = 0; i < l.n; i++)
        jw_buf_printf(out, "jobwheel_tenant_attempts_started_total{tenant=\"%s\"} %llu\n", l.v[i]->tenant,
                      (unsigned long long)l.v[i]->started);
    static const char *const status[] = {"completed", "failed", "timed_out"};
    jw_buf_puts(out, "# HELP jobwheel_tenant_runs_ended_total Runs ended by an attempt here, by status, for the "
                     "busiest tenants\n# TYPE jobwheel_tenant_runs_ended_total counter\n");
    for (size_t i = 0; i < l.n; i++)
        for (size_t k = 0; k < 3; k++)
            jw_buf_printf(out, "jobwheel_tenant_runs_ended_total{tenant=\"%s\",status=\"%s\"} %llu\n",
                          l.v[i]->tenant, status[k], (unsigned long long)l.v[i]->ended[k]);
    free(l.v);
}

static double depth_sum(const struct jw_exec *x, int k)
{
    int64_t n = 0;
    for (int s = 0; s < x->nsweeping; s++)
        n += x->depth[s][k];
    return (double)n;
}
static double ready_now(void *arg) { return depth_sum(arg, 0); }
static double delayed_now(void *arg) { return depth_sum(arg, 1); }
static double running_now(void *arg) { return depth_sum(arg, 2); }

static void metrics_register(struct jw_exec *x)
{
    static const char *const codes[NCODES] = {"2xx", "3xx", "4xx", "5xx", "none"};
    for (size_t o = 0; o < NOUTCOMES; o++)
        for (size_t c = 0; c < NCODES; c++) {
            snprintf(attempt_labels[o * NCODES + c], sizeof(attempt_labels[0]), "outcome=\"%s\",code=\"%s\"",
                     OUTCOMES[o], codes[c]);
            attempt_label[o * NCODES + c] = attempt_labels[o * NCODES + c];
        }
    M.runs_started = jw_metrics_counter("jobwheel_runs_started", "Runs whose first attempt started here", NULL, 0);
    M.attempts_started = jw_metrics_counter("jobwheel_attempts_started", "Attempts started here", NULL, 0);
    M.attempts = jw_metrics_counter("jobwheel_attempts", "Attempts ended here, by outcome and HTTP status class",
                                    attempt_label, NOUTCOMES * NCODES);
    M.retries = jw_metrics_counter("jobwheel_retries", "Retries scheduled (a fallback call counts as one)", NULL, 0);
    M.runs_ended = jw_metrics_counter("jobwheel_runs_ended", "Runs ended by an attempt here, by status", ENDED,
                                      sizeof(ENDED) / sizeof(ENDED[0]));
    M.runs_dead = jw_metrics_counter("jobwheel_runs_dead",
                                     "Runs ended failed or timed out: every attempt used, or not retryable", NULL, 0);
    M.leases_lost = jw_metrics_counter("jobwheel_leases_lost",
                                       "Attempts dropped here because their run moved on (lease lost)", NULL, 0);
    M.dispatch_latency = jw_metrics_histogram("jobwheel_dispatch_latency_seconds",
                                              "From a run ready (or its retry due) to its call sent", NULL, 0);
    M.attempt_duration =
        jw_metrics_histogram("jobwheel_attempt_duration_seconds", "From an attempt's call sent to its outcome", NULL, 0);
    M.firing_lateness = jw_metrics_histogram("jobwheel_firing_lateness_seconds",
                                             "From a firing's nominal time to its call sent", NULL, 0);
    M.calls = jw_metrics_gauge("jobwheel_calls_in_flight", "Calls made here and not answered yet", calls_now, x);
    M.queued = jw_metrics_gauge("jobwheel_runs_waiting_for_slot", "Runs queued here for an attempt slot", queued_now, x);
    M.ahead = jw_metrics_gauge("jobwheel_runs_started_ahead",
                               "Runs of a burst started ahead of their time, waiting for it here", ahead_now, x);
    /* every shard is counted by its owner: sum() over the instances is the whole deployment */
    jw_metrics_gauge("jobwheel_queue_ready_runs", "Runs ready to start in the shards owned here (counted every 5 s)",
                     ready_now, x);
    jw_metrics_gauge("jobwheel_queue_delayed_runs",
                     "Runs waiting for their time (a delay, a retry) in the shards owned here (every 5 s)", delayed_now, x);
    jw_metrics_gauge("jobwheel_queue_running_runs", "Runs with an attempt running in the shards owned here (every 5 s)",
                     running_now, x);
    if (x->opt.metrics_tenants > 0) {
        x->tenant_stats = jw_map_new();
        jw_metrics_extra(render_tenants, x);
    }
}

static size_t outcome_index(const char *kind)
{
    for (size_t i = 0; i < NOUTCOMES; i++)
        if (!strcmp(OUTCOMES[i], kind))
            return i;
    return 2; /* failed */
}

/* ---- small helpers ------------------------------------------------------------ */

static void split_member(const char *m, char *tenant, size_t tl, char *run, size_t rl)
{
    const char *colon = strrchr(m, ':');
    if (!colon) {
        tenant[0] = run[0] = '\0';
        return;
    }
    snprintf(tenant, tl, "%.*s", (int)(colon - m), m);
    snprintf(run, rl, "%s", colon + 1);
}

static void start_member(struct jw_exec *x, const char *member)
{
    char tenant[40], run[40];
    split_member(member, tenant, sizeof(tenant), run, sizeof(run));
    if (tenant[0] && run[0])
        start_run(x, tenant, run);
}

/* Start the runs named by a reply's elements from index `from` on (the
 * members an ended run let go: held by a limit or by prerequisites). */
static void start_members(struct jw_exec *x, const struct jw_reply *r, size_t from)
{
    for (size_t i = from; i < jw_reply_count(r); i++) {
        const char *m = jw_reply_str(jw_reply_at(r, i), NULL);
        if (m)
            start_member(x, m);
    }
}

void jw_exec_start_members(struct jw_exec *x, const struct jw_reply *r, size_t from)
{
    if (x)
        start_members(x, r, from);
}

/* Field name -> value of a HGETALL reply. */
static const char *pair(const struct jw_run_pairs *pairs, const char *name, size_t *len)
{
    return pairs ? jw_run_pair(pairs, name, len) : NULL;
}

static int64_t pair_int(const struct jw_run_pairs *pairs, const char *name, int64_t def)
{
    const char *v = pair(pairs, name, NULL);
    return v ? strtoll(v, NULL, 10) : def;
}

/* Jobs decoded, by their stored JSON (its "id" first): every run of a job
 * brings the same JSON until the job changes, and decoding it was much of
 * what starting a run cost. Decoding depends on the text alone, so a hit is
 * the same job. Bounded: past JOB_CACHE_MAX entries the cache starts over;
 * longer texts are decoded each time. */
#define JOB_CACHE_MAX 512
#define JOB_CACHE_TEXT_MAX 8192

struct cached_job {
    char *json;
    struct jw_job job;
};

static void cached_job_free(void *value, void *arg)
{
    struct cached_job *cj = value;
    jw_job_free(&cj->job);
    free(cj->json);
    free(cj);
}

static void job_cache_clear(struct jw_exec *x)
{
    jw_map_each(x->jobs, cached_job_free, NULL);
    jw_map_free(x->jobs);
    x->jobs = jw_map_new();
}

static int decode_job(struct jw_exec *x, const char *json, size_t n, struct jw_job *job)
{
    bool cacheable = n <= JOB_CACHE_TEXT_MAX && strlen(json) == n;
    struct cached_job *hit = cacheable ? jw_map_get(x->jobs, json) : NULL;
    if (hit) {
        jw_job_copy(job, &hit->job);
        return 0;
    }
    char why[128];
    memset(job, 0, sizeof(*job));
    struct jw_json_doc *doc = jw_json_parse(json, n, JW_JSON_STORED_DEPTH, why, sizeof(why));
    struct jw_error err;
    int rc = doc ? jw_job_decode(job, jw_json_root(doc), JW_JOB_STORED, &err) : -1;
    jw_json_doc_free(doc);
    if (rc == 0 && cacheable) {
        if (jw_map_count(x->jobs) >= JOB_CACHE_MAX)
            job_cache_clear(x);
        struct cached_job *cj = jw_calloc(1, sizeof(*cj));
        cj->json = jw_strndup(json, n);
        jw_job_copy(&cj->job, job);
        jw_map_put(x->jobs, cj->json, cj);
    }
    return rc;
}

static double rnd01(void)
{
    uint32_t r;
    jw_random_bytes(&r, sizeof(r));
    return (double)r / 4294967295.0;
}

/* The retry rules of a run: its overrides over its job's settings. */
static struct jw_retry_policy retry_policy(const struct jw_job *job, const char *backoff, int64_t initial_ms,
                                           int64_t max_ms)
{
    struct jw_retry_policy p = {
        .strategy =
            backoff ? backoff : (job->f[JW_JOB_RETRY_STRATEGY].set ? job->f[JW_JOB_RETRY_STRATEGY].s : NULL),
        .delays_json = job->f[JW_JOB_RETRY_DELAYS_SECS].set ? job->f[JW_JOB_RETRY_DELAYS_SECS].s : NULL,
        .initial_ms = initial_ms,
        .max_ms = max_ms,
    };
    return p;
}

/* ---- outcomes held back ------------------------------------------------------------- */

/* The starts, finishes and renewals asked for in one turn of the loop go
 * to Redis together, one run_start / run_finish / run_renew call per tenant
 * (jw_store_join; each run is still its own transition in the script): a
 * call's fixed cost (FCALL, the round trip, hiredis) is paid once for many
 * runs when attempts end in bursts.
 *
 * While a burst of firings waits for its claims (the scheduler's backlog),
 * outcomes wait here, for at most HOLD_MS: Redis serves first the claims
 * that start runs on time, and the outcomes follow in fewer, fuller calls.
 * So do they while attempts started ahead of a burst's time wait for
 * slots, and what an answer leads to is decided only then (the answer is
 * kept): the calls go out first.
 * Nothing is lost by the wait: the runs stay running in Redis, their
 * leases far off. */
static bool holding(const struct jw_exec *x)
{
    return !x->stopping && ((x->sched && jw_scheduler_backlogged(x->sched)) || x->nwaiting > 0) &&
           ((!x->nheld && !x->nlate) || jw_time_mono_ms() - x->held_since < HOLD_MS);
}

static void finish_join(struct jw_exec *x, struct finish *f);
static void decide_late(struct jw_exec *x, struct late *l);

static void send_held(struct jw_exec *x)
{
    for (size_t i = 0; i < x->nlate; i++) /* (their outcomes are recorded at once: not holding now) */
        decide_late(x, x->late[i]);
    x->nlate = 0;
    for (size_t i = 0; i < x->nheld; i++)
        finish_join(x, x->held[i]);
    x->nheld = 0;
}

static void on_hold(evutil_socket_t fd, short what, void *arg)
{
    struct jw_exec *x = arg;
    if (!holding(x)) {
        send_held(x);
        return;
    }
    struct timeval tv = {0, HOLD_CHECK_MS * 1000};
    event_add(x->hold, &tv);
}

/* Something is held from now on: its clock starts with the first. */
static void hold_begin(struct jw_exec *x)
{
    if (!x->nheld && !x->nlate) {
        x->held_since = jw_time_mono_ms();
        on_hold(-1, 0, x);
    }
}

/* ---- finishing an attempt ----------------------------------------------------------- */

struct finish {
    struct jw_exec *x;
    char tenant[40], run_id[40];
    bool notice; /* the run ended and has notices to send */
    void (*done)(void *arg, int status, const char *msg);
    void *done_arg;
    struct jw_args args; /* its group of run_finish's arguments, while held */
    /* what is counted and logged once the outcome is recorded */
    char job_id[40];
    int attempt, http_status;
    size_t outcome, code; /* attempt_label's */
    const char *next;     /* retry | fallback | worker | end */
    const char *status;   /* the run's, when it ended */
    const char *error;    /* jobwheel's words when there was no answer (static or in err) */
    char err[200];
    int64_t due, duration_ms;
};

/* An outcome recorded: counted, and told in one line with its ids. */
static void finish_told(const struct finish *f)
{
    jw_metrics_add(M.attempts, f->outcome * NCODES + f->code, 1);
    jw_metrics_observe(M.attempt_duration, 0, (double)f->duration_ms / 1000.0);
    if (!strcmp(f->next, "retry") || !strcmp(f->next, "fallback"))
        jw_metrics_add(M.retries, 0, 1);
    if (f->status) {
        size_t i = !strcmp(f->status, JW_RUN_COMPLETED) ? 0 : !strcmp(f->status, JW_RUN_FAILED) ? 1 : 2;
        jw_metrics_add(M.runs_ended, i, 1);
        struct tenant_stat *t = tenant_stat(f->x, f->tenant);
        if (t)
            t->ended[i]++;
        if (i > 0)
            jw_metrics_add(M.runs_dead, 0, 1);
    }
    char due[JW_TIME_ISO_SIZE] = "";
    if (f->due >= 0)
        jw_time_format(f->due, due);
    struct jw_log_field fields[] = {
        JW_LOG_S("tenant", f->tenant),
        JW_LOG_S("job", f->job_id),
        JW_LOG_S("run", f->run_id),
        JW_LOG_I("attempt", f->attempt),
        JW_LOG_S("outcome", OUTCOMES[f->outcome]),
        f->http_status ? JW_LOG_I("http_status", f->http_status) : JW_LOG_S("http_status", NULL),
        JW_LOG_I("duration_ms", f->duration_ms),
        JW_LOG_S("next", f->next),
        JW_LOG_S("due", due[0] ? due : NULL),
        JW_LOG_S("status", f->status),
        JW_LOG_S("error", f->error),
    };
    jw_log_event(f->status && strcmp(f->status, JW_RUN_COMPLETED) ? JW_LOG_WARN : JW_LOG_INFO, "attempt", fields,
                 sizeof(fields) / sizeof(fields[0]));
}

static void on_finished(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct finish *f = arg;
    struct jw_exec *x = f->x;
    int status = 200;
    const char *msg = "ok";
    if (st != JW_STORE_OK) {
        jw_warn("exec: cannot record the outcome of run %s (Redis); its lease will bring it back", f->run_id);
        status = 503;
        msg = "the job store (Redis) is unavailable; retry shortly";
    } else if (jw_reply_is(jw_reply_at(r, 0), "ok")) {
        finish_told(f);
        start_members(f->x, r, 1);
        if (f->notice)
            jw_exec_run_ended(f->x, f->tenant, f->run_id);
    } else if (jw_reply_is(jw_reply_at(r, 0), "delayed")) { /* a retry: it starts at its time */
        finish_told(f);
        jw_due_at(x->due, (int)jw_reply_int(jw_reply_at(r, 1)), jw_reply_int(jw_reply_at(r, 2)));
        start_members(f->x, r, 3);
    } else if (jw_reply_is(jw_reply_at(r, 0), "fenced")) {
        jw_debug("exec: outcome of run %s refused: the run moved on", f->run_id);
        status = 401;
        msg = "the run is no longer running";
    } else {
        status = 404;
        msg = "no such run";
    }
    if (f->done)
        f->done(f->done_arg, status, msg);
    free(f);
}

struct outcome {
    bool notify;                         /* the run asked for mail when it ends */
    const struct jw_http_response *resp; /* NULL: no call (crash, worker failure) */
    const char *error;                   /* what happened, when no response */
    bool timed_out;
    const char *kind; /* for the attempt log: "crashed", "worker_failed", ... */
    int64_t ended_ms; /* when the attempt ended (0: now) */
};

/* Decide what the attempt leads to and record it with run_finish. */
static void finish_attempt(struct jw_exec *x, const char *tenant, const char *run_id, int attempt,
                           const struct jw_job *job, bool on_fallback, int64_t max_attempts,
                           const struct jw_retry_policy *policy, const struct outcome *o,
                           const char *instance, bool lapsed, const char *trace, int64_t started_ms,
                           void (*done)(void *, int, const char *), void *done_arg)
{
    int64_t now = o->ended_ms ? o->ended_ms : jw_time_now_ms();
    const struct jw_http_response *resp = o->resp;
    struct jw_attempt_outcome ao = {
        .http_status = resp ? resp->status : 0,
        .timed_out = o->timed_out || (resp && resp->timed_out),
        .retry_after_ms = resp && resp->retry_after ? jw_retry_after_ms(resp->retry_after, now) : -1,
    };
    bool has_fallback = job->f[JW_JOB_FALLBACK_ENDPOINT_URL].set;
    struct jw_next next =
        jw_next_step(&ao, attempt, (int)max_attempts, has_fallback, on_fallback, policy, rnd01());

    const char *status;
    int64_t due = -1;
    bool fallback_next = false;
    switch (next.step) {
    case JW_STEP_COMPLETE: status = JW_RUN_COMPLETED; break;
    case JW_STEP_WORKER:
        status = "worker";
        due = now + (job->f[JW_JOB_TIMEOUT_SECS].set ? job->f[JW_JOB_TIMEOUT_SECS].i : 60) * 1000;
        break;
    case JW_STEP_RETRY:
        status = JW_RUN_DELAYED;
        due = now + next.delay_ms;
        break;
    case JW_STEP_FALLBACK:
        status = JW_RUN_DELAYED;
        due = now;
        fallback_next = true;
        break;
    default: status = next.timed_out ? JW_RUN_TIMED_OUT : JW_RUN_FAILED; break;
    }
    /* what went wrong, in words */
    char err[400] = "";
    if (resp && resp->status && !(resp->status >= 200 && resp->status < 300)) {
        size_t n = resp->body_len < 200 ? resp->body_len : 200;
        char snippet[201];
        memcpy(snippet, resp->body, n);
        snippet[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)snippet[i] < 0x20)
                snippet[i] = ' ';
        snprintf(err, sizeof(err), "HTTP %d%s%s", resp->status, n ? ": " : "", snippet);
    } else if (o->error || (resp && resp->error)) {
        snprintf(err, sizeof(err), "%s", o->error ? o->error : resp->error);
    }

    const char *kind = o->kind                         ? o->kind
                       : next.step == JW_STEP_COMPLETE ? "completed"
                       : next.step == JW_STEP_WORKER   ? "accepted"
                       : ao.timed_out                  ? "timed_out"
                                                       : "failed";
    const char *then = next.step == JW_STEP_RETRY      ? "retry"
                       : next.step == JW_STEP_FALLBACK ? "fallback"
                       : next.step == JW_STEP_WORKER   ? "worker"
                                                       : "end";
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, run_id);
    jw_args_addi(&a, attempt);
    jw_args_adds(&a, instance ? instance : "");
    jw_args_addf(&a, "%s%s", lapsed ? "1" : "", jw_store_apart(x->store) ? "b" : "");
    jw_args_addi(&a, now);
    jw_args_adds(&a, status);
    if (due >= 0)
        jw_args_addi(&a, due);
    else
        jw_args_adds(&a, "");
    /* the attempt, for the run's log, in the compact form run.c reads (a
     * run whose values are all short stays a listpack in Redis) */
    struct jw_buf entry = JW_BUF_INIT;
    struct jw_jsonw w;
    jw_jsonw_init(&w, &entry);
    jw_jsonw_arr_open(&w);
    jw_jsonw_int(&w, attempt);
    jw_jsonw_int(&w, started_ms);
    jw_jsonw_int(&w, now - started_ms);
    jw_jsonw_str(&w, on_fallback ? "f" : "e");
    if (resp && resp->status)
        jw_jsonw_int(&w, resp->status);
    else
        jw_jsonw_null(&w);
    jw_jsonw_str(&w, kind);
    jw_jsonw_str(&w, err[0] ? err : NULL);
    jw_jsonw_str(&w, then);
    jw_jsonw_arr_close(&w);
    jw_args_add(&a, entry.data, entry.len);
    jw_buf_free(&entry);
    if (trace) {
        jw_args_adds(&a, "execution_trace");
        jw_args_adds(&a, trace);
    }
    if (next.step == JW_STEP_COMPLETE && resp && resp->body_len) {
        char why[64];
        struct jw_json_doc *doc = jw_json_parse(resp->body, resp->body_len, 32, why, sizeof(why));
        if (doc) { /* a JSON answer becomes the run's result */
            jw_args_adds(&a, "result");
            jw_args_add(&a, resp->body, resp->body_len);
            jw_json_doc_free(doc);
        }
    }
    if (err[0] && next.step != JW_STEP_COMPLETE && next.step != JW_STEP_WORKER) {
        jw_args_adds(&a, "error");
        jw_args_adds(&a, err);
    }
    if (next.step != JW_STEP_COMPLETE && next.step != JW_STEP_FAIL) { /* the run goes on */
        jw_args_adds(&a, "_fallback");
        jw_args_adds(&a, fallback_next ? "1" : "0");
    }

    struct finish *f = jw_calloc(1, sizeof(*f));
    f->x = x;
    snprintf(f->tenant, sizeof(f->tenant), "%s", tenant);
    snprintf(f->run_id, sizeof(f->run_id), "%s", run_id);
    /* notices cost a round trip: only for runs that have one to send */
    f->notice = (next.step == JW_STEP_COMPLETE || next.step == JW_STEP_FAIL) &&
                (o->notify || job->f[JW_JOB_WEBHOOK_URL].set);
    f->done = done;
    f->done_arg = done_arg;
    f->args = a;
    snprintf(f->job_id, sizeof(f->job_id), "%s", job->f[JW_JOB_ID].set ? job->f[JW_JOB_ID].s : "");
    f->attempt = attempt;
    f->http_status = resp ? resp->status : 0;
    f->outcome = outcome_index(kind);
    f->code = f->http_status >= 200 && f->http_status < 600 ? (size_t)(f->http_status / 100 - 2) : NCODES - 1;
    f->next = then;
    f->status = next.step == JW_STEP_COMPLETE || next.step == JW_STEP_FAIL ? status : NULL;
    f->due = next.step == JW_STEP_RETRY ? due : -1;
    f->duration_ms = now - started_ms > 0 && started_ms > 0 ? now - started_ms : 0;
    if (!f->http_status && err[0]) {
        snprintf(f->err, sizeof(f->err), "%s", err);
        f->error = f->err;
    }
    if (!holding(x)) {
        finish_join(x, f);
        return;
    }
    hold_begin(x);
    x->held = jw_realloc(x->held, (x->nheld + 1) * sizeof(*x->held));
    x->held[x->nheld++] = f;
}

/* The outcome joins this turn's run_finish call of its tenant. */
static void finish_join(struct jw_exec *x, struct finish *f)
{
    struct jw_args *call = jw_store_join(x->store, JW_LUA_RUN_FINISH, f->tenant, NULL, NULL, on_finished, f);
    jw_args_addi(call, f->args.n);
    jw_args_move(call, &f->args);
}

/* ---- flights ---------------------------------------------------------------------------- */

/* Abandon the flight's call, whichever kind it is. */
static void flight_cancel(struct flight *fl)
{
    if (fl->call || fl->rcall)
        fl->x->ncalls--;
    jw_http_call_cancel(fl->call);
    jw_runner_cancel(fl->rcall);
    fl->call = NULL;
    fl->rcall = NULL;
}

static void flight_free(struct flight *fl)
{
    jw_job_free(&fl->job);
    free(fl->secret);
    free(fl->payload);
    free(fl->backoff);
    free(fl->params);
    free(fl);
}

static void check_stopped(struct jw_exec *x);

/* The attempt of flight fl ended here (or never began): its slot is free. */
static void flight_end(struct jw_exec *x, struct flight *fl)
{
    if (fl->we.queued)
        jw_clock_remove(&x->ahead, &fl->we);
    if (fl->waiting)
        x->nwaiting--;
    if (fl->slot)
        jw_fair_give(x->fair, fl->acct, 1);
    else
        x->nahead--;
    flight_free(fl);
}

/* Start waiting runs, the tenants in turn, while slots are free. */
static void start_queued(struct jw_exec *x)
{
    struct jw_fair_tenant *acct;
    char *m;
    size_t launched = 0;
    while (!x->stopping && (m = jw_fair_next(x->fair, &acct))) {
        char tenant[40], run[40];
        split_member(m, tenant, sizeof(tenant), run, sizeof(run));
        struct flight *fl = jw_map_get(x->flights, m);
        if (fl && fl->waiting) { /* started ahead, and its time has come */
            fl->waiting = false;
            x->nwaiting--;
            fl->slot = true;
            x->nahead--;
            launch(fl);
            if (++launched == LAUNCH_TURN && x->nwaiting) { /* the rest after the loop sent these */
                free(m);
                event_active(x->kick, 0, 0);
                return;
            }
        } else if (tenant[0] && run[0] && !fl) {
            send_start(x, tenant, run, false);
        } else { /* already running here: the slot is not needed */
            jw_fair_give(x->fair, acct, 1);
        }
        free(m);
    }
}

/* An answer kept while outcomes are held (see holding): the flight, which
 * gave back its slot, and the answer, copied. */
struct late {
    struct flight *fl;
    struct jw_http_response resp; /* its strings owned here */
    int64_t ended_ms;
    char trace[200];
};

static char *copy_of(const char *s, size_t n)
{
    char *c = jw_malloc(n + 1);
    memcpy(c, s, n);
    c[n] = '\0';
    return c;
}

static void decide(struct jw_exec *x, struct flight *fl, const struct jw_http_response *resp, const char *trace,
                   int64_t ended_ms)
{
    struct jw_retry_policy p = retry_policy(&fl->job, fl->backoff, fl->initial_ms, fl->max_ms);
    struct outcome o = {.resp = resp, .notify = fl->notify, .ended_ms = ended_ms};
    finish_attempt(x, fl->tenant, fl->run_id, fl->attempt, &fl->job, fl->on_fallback, fl->max_attempts, &p,
                   &o, x->instance, false, trace, fl->started_ms, NULL, NULL);
}

static void decide_late(struct jw_exec *x, struct late *l)
{
    decide(x, l->fl, &l->resp, l->trace, l->ended_ms);
    flight_free(l->fl);
    free((char *)l->resp.error);
    free((char *)l->resp.body);
    free((char *)l->resp.retry_after);
    free(l);
}

static void on_response(void *arg, const struct jw_http_response *resp)
{
    struct flight *fl = arg;
    struct jw_exec *x = fl->x;
    fl->call = NULL;
    fl->rcall = NULL;
    x->ncalls--;
    jw_map_del(x->flights, fl->member);
    char trace[200];
    int64_t dispatch = jw_time_now_ms() - fl->started_ms; /* attempt start to outcome */
    /* the compact form run.c reads: [queue_wait_ms, dequeue_ms, dns_ms,
     * connect_ms, ttfb_ms, transfer_ms, total_ms, dispatch_ms] */
    snprintf(trace, sizeof(trace),
             "[%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 ",%" PRId64 "]",
             fl->started_ms - fl->queued_since > 0 ? fl->started_ms - fl->queued_since : 0, fl->dequeue_ms,
             resp->dns_ms, resp->connect_ms, resp->ttfb_ms, resp->transfer_ms, resp->total_ms, dispatch);
    if (holding(x) && fl->slot) { /* its slot goes to the next call now, its outcome is decided later */
        struct late *l = jw_calloc(1, sizeof(*l));
        l->fl = fl;
        l->resp = *resp;
        l->resp.error = resp->error ? jw_strdup(resp->error) : NULL;
        l->resp.body = resp->body ? copy_of(resp->body, resp->body_len) : NULL;
        l->resp.retry_after = resp->retry_after ? jw_strdup(resp->retry_after) : NULL;
        l->ended_ms = jw_time_now_ms();
        snprintf(l->trace, sizeof(l->trace), "%s", trace);
        jw_fair_give(x->fair, fl->acct, 1);
        fl->slot = false;
        hold_begin(x);
        x->late = jw_realloc(x->late, (x->nlate + 1) * sizeof(*x->late));
        x->late[x->nlate++] = l;
    } else {
        decide(x, fl, resp, trace, 0);
        flight_end(x, fl);
    }
    start_queued(x);
    check_stopped(x);
}

/* Start the attempt: another job type's runner, or the HTTP request. */
static void launch(struct flight *fl)
{
    struct jw_exec *x = fl->x;
    const struct jw_fval *f = fl->job.f;
    char attempt[16], scheduled[24], ts[24], sig[64];
    /* this attempt's token: a report for another attempt is refused */
    if (!fl->token[0])
        jw_run_token(x->token_key, x->token_key_len, fl->tenant, fl->run_id, fl->attempt, fl->token);
    const char *token = fl->token;
    jw_map_put(x->flights, fl->member, fl);
    int64_t sent = jw_time_now_ms();
    x->ncalls++;
    jw_metrics_add(M.attempts_started, 0, 1);
    struct tenant_stat *tstat = tenant_stat(x, fl->tenant);
    if (tstat)
        tstat->started++;
    if (fl->attempt == 1)
        jw_metrics_add(M.runs_started, 0, 1);
    jw_metrics_observe(M.dispatch_latency, 0, (double)(sent - fl->queued_since) / 1000.0);
    if (fl->fired && fl->attempt == 1)
        jw_metrics_observe(M.firing_lateness, 0, (double)(sent - fl->scheduled_ms) / 1000.0);
    if (jw_runner_handles(&fl->job)) {
        struct jw_runner_attempt ra = {
            .tenant = fl->tenant,
            .run_id = fl->run_id,
            .attempt = fl->attempt,
            .job = &fl->job,
            .payload = fl->payload,
            .params = fl->params,
            .run_token = token,
            .timeout_ms = fl->timeout_ms,
        };
        fl->rcall = jw_runner_start(x->runner, &ra, on_response, fl);
        return;
    }
    const char *url = fl->on_fallback
                          ? (f[JW_JOB_FALLBACK_ENDPOINT_URL].set ? f[JW_JOB_FALLBACK_ENDPOINT_URL].s : NULL)
                          : (f[JW_JOB_ENDPOINT_URL].set ? f[JW_JOB_ENDPOINT_URL].s : NULL);
    snprintf(attempt, sizeof(attempt), "%d", fl->attempt);
    snprintf(scheduled, sizeof(scheduled), "%" PRId64, fl->scheduled_ms);
    int64_t now = jw_time_now_ms();
    snprintf(ts, sizeof(ts), "%" PRId64, now / 1000);
    const char *body = fl->payload ? fl->payload : "{}";
    /* job_configuration: the method, headers of the job's own, and the
     * body sent when the run has no payload */
    const char *method = "POST";
    struct jw_json_doc *cfg = NULL;
    const struct jw_json *headers = NULL;
    struct jw_buf default_body = JW_BUF_INIT;
    if (f[JW_JOB_JOB_CONFIGURATION].set) {
        char why[64];
        const char *t = f[JW_JOB_JOB_CONFIGURATION].s;
        cfg = jw_json_parse(t, strlen(t), JW_JSON_STORED_DEPTH, why, sizeof(why));
        const struct jw_json *m = cfg ? jw_json_get(jw_json_root(cfg), "method") : NULL;
        if (m && m->type == JW_JSON_STRING)
            method = m->u.str;
        headers = cfg ? jw_json_get(jw_json_root(cfg), "headers") : NULL;
        const struct jw_json *b = cfg ? jw_json_get(jw_json_root(cfg), "body") : NULL;
        if (!fl->payload && b && b->type != JW_JSON_NULL) {
            struct jw_jsonw w;
            jw_jsonw_init(&w, &default_body);
            jw_jsonw_value(&w, b);
            body = jw_buf_str(&default_body);
        }
    }
    size_t nh = headers && headers->type == JW_JSON_OBJECT ? headers->len : 0;
    struct jw_http_header *h = jw_calloc(12 + nh, sizeof(*h));
    size_t n = 0;
    for (size_t i = 0; i < nh; i++)
        if (headers->u.members[i].val->type == JW_JSON_STRING)
            h[n++] = (struct jw_http_header){headers->u.members[i].key, headers->u.members[i].val->u.str};
    h[n++] = (struct jw_http_header){"Content-Type", "application/json"};
    h[n++] = (struct jw_http_header){"User-Agent", "jobwheel/0.1"};
    h[n++] = (struct jw_http_header){"webhook-id", fl->run_id};
    h[n++] = (struct jw_http_header){"webhook-timestamp", ts};
    if (fl->secret && jw_webhook_sign(fl->secret, fl->run_id, now / 1000, body, strlen(body), sig) == 0)
        h[n++] = (struct jw_http_header){"webhook-signature", sig};
    h[n++] = (struct jw_http_header){"x-jobwheel-run-id", fl->run_id};
    h[n++] = (struct jw_http_header){"x-jobwheel-job-id", f[JW_JOB_ID].s};
    h[n++] = (struct jw_http_header){"x-jobwheel-attempt", attempt};
    h[n++] = (struct jw_http_header){"x-jobwheel-run-token", token};
    h[n++] = (struct jw_http_header){"x-jobwheel-scheduled-at", scheduled};
    bool bodiless = !strcmp(method, "GET") || !strcmp(method, "DELETE");
    struct jw_http_request req = {
        .url = url ? url : "",
        .method = method,
        .headers = h,
        .nheaders = n,
        .body = bodiless ? NULL : body,
        .body_len = bodiless ? 0 : strlen(body),
        .timeout_ms = fl->timeout_ms,
        .owner = fl->tenant,
    };
    fl->call = jw_http_call_start(x->http, &req, on_response, fl);
    free(h);
    jw_json_doc_free(cfg);
    jw_buf_free(&default_body);
}

struct start_ctx {
    struct jw_exec *x;
    char tenant[40], run_id[40];
    int64_t sent_us;
    bool ahead; /* one of a burst, started ahead without a slot */
};

/* ---- attempts started ahead of their time ------------------------------------------- */

static void on_ahead_expired(struct jw_wheel_entry *we, void *arg);

/* Flight fl (in the flights map) makes its call at fl->started_ms: now
 * when that has come and it has or gets a slot; else it waits, for its
 * time in the wheel, then for a slot in its tenant's queue. */
static void go(struct jw_exec *x, struct flight *fl)
{
    int64_t now = jw_time_now_ms();
    if (x->stopping)
        return; /* its lease lapses and another instance retries the run, as for the calls abandoned */
    if (fl->started_ms > now && jw_clock_add(&x->ahead, &fl->we, fl->started_ms) == 0)
        return; /* (beyond the wheel's span, which run_start's AHEAD_MAX is not: it goes now) */
    if (fl->slot) {
        launch(fl);
        return;
    }
    /* it waits its tenant's turn for a slot, taken in start_queued, in
     * the next turn of the loop: the calls of a burst go out in portions */
    fl->acct = jw_fair_tenant(x->fair, fl->tenant); /* (an account holding nothing may have been trimmed) */
    if (jw_fair_queue(x->fair, fl->acct, fl->member)) {
        fl->waiting = true;
        x->nwaiting++;
        event_active(x->kick, 0, 0); /* (once a turn however often asked) */
    } else if (jw_clock_add(&x->ahead, &fl->we, now + 10) != 0) { /* no room in the queue: a look again soon */
        jw_warn("exec: run %s cannot wait for a slot; its lease will bring it back", fl->run_id);
    }
}

static void on_kick(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    start_queued(arg);
}

static void on_ahead_expired(struct jw_wheel_entry *we, void *arg)
{
    go(arg, (struct flight *)((char *)we - offsetof(struct flight, we)));
}

/* What starting a run gave (run_start's answer, r; NULL: Redis failed);
 * has_slot: the start was asked for with a slot of its tenant's (else it
 * was one of a burst started ahead, which takes its slot when its time
 * comes); pairs: the run's fields, or NULL and known: what its firing
 * knows of it. */
static void started(struct jw_exec *x, const char *tenant, const char *run_id, const struct jw_reply *r,
                    const struct jw_run_pairs *pairs, const struct jw_fired_run *known, int64_t sent_us,
                    bool has_slot)
{
    struct jw_fair_tenant *acct = jw_fair_tenant(x->fair, tenant);
    size_t slots = has_slot ? 1 : 0;
    bool is_started = r && jw_reply_is(jw_reply_at(r, 0), "started");
    /* answered after the drain gave up or ended: no call may start now (it
     * would outlive the loop); its lease lapses and another instance
     * retries the run, as for the calls abandoned */
    bool too_late = is_started && x->stopping && (x->calls_abandoned || !x->stop_done);
    if (!has_slot && (!is_started || too_late))
        x->nahead--; /* (else its flight counts, until it takes a slot) */
    if (too_late) {
        jw_fair_give(x->fair, acct, slots);
        return;
    }
    if (!is_started) {
        jw_fair_give(x->fair, acct, slots);
        start_queued(x);
        if (r && jw_reply_is(jw_reply_at(r, 0), "ended")) {
            start_members(x, r, 1);
            jw_exec_run_ended(x, tenant, run_id);
        } else if (r && jw_reply_is(jw_reply_at(r, 0), "delayed")) { /* a rate limit: it starts then */
            jw_due_at(x->due, (int)jw_reply_int(jw_reply_at(r, 2)), jw_reply_int(jw_reply_at(r, 1)));
        }
        return;
    }
    struct flight *fl = jw_calloc(1, sizeof(*fl));
    fl->x = x;
    fl->acct = acct;
    fl->slot = has_slot;
    snprintf(fl->tenant, sizeof(fl->tenant), "%s", tenant);
    snprintf(fl->run_id, sizeof(fl->run_id), "%s", run_id);
    snprintf(fl->member, sizeof(fl->member), "%s:%s", tenant, run_id);
    fl->attempt = (int)jw_reply_int(jw_reply_at(r, 1));
    fl->started_ms = jw_time_now_ms();
    int64_t at = pair_int(pairs, "_attempt_started", 0); /* later than now: started ahead */
    int64_t round_trip_us = jw_time_mono_us() - sent_us;
    /* the script leased it from its time, or from the `now` it was sent:
     * at most a round trip ago */
    fl->lease_end = (at > fl->started_ms ? at : fl->started_ms - (round_trip_us + 999) / 1000) + x->opt.lease_ms;
    if (at > fl->started_ms)
        fl->started_ms = at;
    fl->dequeue_ms = round_trip_us / 1000;
    size_t jn;
    const char *job_json = jw_reply_str(jw_reply_at(r, 2), &jn);
    const char *secret = jw_reply_str(jw_reply_at(r, 3), NULL);
    fl->secret = secret ? jw_strdup(secret) : NULL;
    size_t pn;
    const char *payload = pair(pairs, "payload", &pn);
    fl->payload = payload ? jw_strndup(payload, pn) : NULL;
    const char *params = pair(pairs, "params", &pn);
    fl->params = params ? jw_strndup(params, pn) : NULL;
    fl->shard = known ? known->shard : (int)pair_int(pairs, "_shard", 0);
    const char *fb = pair(pairs, "_fallback", NULL), *notify = pair(pairs, "notify", NULL);
    fl->on_fallback = fb && fb[0] == '1';
    fl->notify = notify && notify[0] == '1';
    fl->scheduled_ms = known ? known->ready_ms : pair_int(pairs, "scheduled_at", pair_int(pairs, "created_at", 0));
    fl->fired = known != NULL;
    fl->queued_since = known ? known->ready_ms : pair_int(pairs, "next_retry_at", fl->scheduled_ms);
    const char *backoff = pair(pairs, "retry_backoff", NULL);
    fl->backoff = backoff ? jw_strdup(backoff) : NULL;
    fl->initial_ms = pair_int(pairs, "retry_initial_delay_secs", 0) * 1000;
    fl->max_ms = pair_int(pairs, "retry_max_delay_secs", 0) * 1000;
    if (!job_json && known && known->job) {
        jw_job_copy(&fl->job, known->job);
    } else if (!job_json || decode_job(x, job_json, jn, &fl->job) != 0) {
        struct jw_retry_policy p = {0};
        struct outcome o = {.error = "the job could not be read", .kind = "failed"};
        struct jw_job empty;
        memset(&empty, 0, sizeof(empty));
        finish_attempt(x, fl->tenant, fl->run_id, fl->attempt, &empty, false, 1, &p, &o, x->instance, false,
                       NULL, fl->started_ms, NULL, NULL);
        flight_end(x, fl);
        start_queued(x);
        return;
    }
    const struct jw_fval *f = fl->job.f;
    fl->timeout_ms =
        pair_int(pairs, "timeout_secs_override", f[JW_JOB_TIMEOUT_SECS].set ? f[JW_JOB_TIMEOUT_SECS].i : 60) *
        1000;
    fl->max_attempts =
        pair_int(pairs, "max_attempts_override", f[JW_JOB_MAX_ATTEMPTS].set ? f[JW_JOB_MAX_ATTEMPTS].i : 3);
    if (fl->slot && fl->started_ms <= jw_time_now_ms()) {
        launch(fl);
        return;
    }
    jw_map_put(x->flights, fl->member, fl); /* renewed, cancelled and dropped as a call in flight is */
    if (fl->started_ms > jw_time_now_ms()) /* what the call needs made now, not in its burst */
        jw_run_token(x->token_key, x->token_key_len, fl->tenant, fl->run_id, fl->attempt, fl->token);
    go(x, fl);
}

static void on_started(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct start_ctx *s = arg;
    struct jw_run_fields f;
    size_t len = 0;
    const char *packed = st == JW_STORE_OK ? jw_reply_str(jw_reply_at(r, 4), &len) : NULL;
    bool have = packed && jw_run_fields_unpack(&f, packed, len) == 0;
    started(s->x, s->tenant, s->run_id, st == JW_STORE_OK ? r : NULL, have ? &f.p : NULL, NULL, s->sent_us,
            !s->ahead);
    free(s);
}

static void start_prefix(struct jw_args *a, void *arg)
{
    struct jw_exec *x = arg;
    jw_args_adds(a, x->instance);
    jw_args_addi(a, jw_time_now_ms());
    jw_args_addi(a, x->opt.lease_ms);
    jw_args_addi(a, x->opt.quota_inflight);
}

size_t jw_exec_reserve(struct jw_exec *x, const char *tenant, size_t want)
{
    if (!x || !want || x->stopping || !x->token_key_len)
        return 0;
    return jw_fair_take(x->fair, jw_fair_tenant(x->fair, tenant), want);
}

const char *jw_exec_instance(const struct jw_exec *x)
{
    return x ? x->instance : "";
}

int64_t jw_exec_lease_ms(const struct jw_exec *x)
{
    return x ? x->opt.lease_ms : 0;
}

void jw_exec_started(struct jw_exec *x, const char *tenant, const char *run_id, const struct jw_reply *r,
                     const struct jw_run_pairs *pairs, const struct jw_fired_run *known, int64_t sent_us)
{
    if (x)
        started(x, tenant, run_id, r, pairs, known, sent_us, true);
}

void jw_exec_release(struct jw_exec *x, const char *tenant, size_t n)
{
    if (!x || !n)
        return;
    jw_fair_give(x->fair, jw_fair_tenant(x->fair, tenant), n);
    start_queued(x);
    check_stopped(x);
}

/* Ask run_start for the run, with a slot its tenant holds (ahead: none,
 * one of a burst promoted ahead of its time). */
static void send_start(struct jw_exec *x, const char *tenant, const char *run_id, bool ahead)
{
    struct start_ctx *s = jw_calloc(1, sizeof(*s));
    s->x = x;
    s->ahead = ahead;
    snprintf(s->tenant, sizeof(s->tenant), "%s", tenant);
    snprintf(s->run_id, sizeof(s->run_id), "%s", run_id);
    s->sent_us = jw_time_mono_us();
    jw_args_adds(jw_store_join(x->store, JW_LUA_RUN_START, tenant, start_prefix, x, on_started, s), run_id);
}

static void start_run(struct jw_exec *x, const char *tenant, const char *run_id)
{
    if (x->stopping)
        return;              /* the run stays ready; another instance's sweep starts it */
    if (!x->token_key_len) { /* only at start-up: start it when the key is here */
        if (x->nearly < 10000) {
            x->early = jw_realloc(x->early, (x->nearly + 1) * sizeof(char *));
            struct jw_buf m = JW_BUF_INIT;
            jw_buf_printf(&m, "%s:%s", tenant, run_id);
            x->early[x->nearly++] = jw_buf_detach(&m);
        }
        return;
    }
    char member[80];
    snprintf(member, sizeof(member), "%s:%s", tenant, run_id);
    if (jw_map_get(x->flights, member))
        return;
    struct jw_fair_tenant *acct = jw_fair_tenant(x->fair, tenant);
    if (jw_fair_take(x->fair, acct, 1)) {
        send_start(x, tenant, run_id, false);
        return;
    }
    /* no slot for it now: it waits its tenant's turn here (when there is
     * room; else it stays ready in Redis for a sweep) */
    if (jw_fair_queue(x->fair, acct, member))
        start_queued(x);
}

static void due_start(void *arg, const char *member, bool ahead)
{
    struct jw_exec *x = arg;
    if (x->stopping)
        return;
    if (!ahead) {
        start_member(x, member);
        return;
    }
    /* one of a burst: started now, without a slot (it takes one when its
     * time comes), up to AHEAD_MAX held here, past that as any run; at a
     * start-up without the token key yet it waits ready in Redis for the
     * owner's sweep */
    char tenant[40], run[40];
    split_member(member, tenant, sizeof(tenant), run, sizeof(run));
    if (x->nahead >= AHEAD_MAX) {
        start_member(x, member);
    } else if (tenant[0] && run[0] && x->token_key_len && !jw_map_get(x->flights, member)) {
        x->nahead++;
        send_start(x, tenant, run, true);
    }
}

void jw_exec_due(struct jw_exec *x, int shard, int64_t when_ms)
{
    if (x)
        jw_due_at(x->due, shard, when_ms);
}

void jw_exec_start(struct jw_exec *x, const char *tenant, const char *run_id)
{
    if (x)
        start_run(x, tenant, run_id);
}

void jw_exec_cancelled(struct jw_exec *x, const char *tenant, const char *run_id)
{
    if (!x)
        return;
    char member[80];
    snprintf(member, sizeof(member), "%s:%s", tenant, run_id);
    struct flight *fl = jw_map_del(x->flights, member);
    if (!fl)
        return;
    flight_cancel(fl);
    flight_end(x, fl);
    start_queued(x);
    check_stopped(x);
}

/* ---- a run whose lease lapsed, a worker's failure --------------------------------------- */

struct inspect {
    struct jw_exec *x;
    char tenant[40], run_id[40];
    const char *kind; /* "crashed" | "timed_out" | "worker_failed" */
    char *error;
    void (*done)(void *, int, const char *);
    void *done_arg;
};

static void on_inspected(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct inspect *in = arg;
    if (st != JW_STORE_OK || !jw_reply_is(jw_reply_at(r, 0), "fail")) {
        if (in->done) {
            bool gone = st == JW_STORE_OK && jw_reply_is(jw_reply_at(r, 0), "gone");
            in->done(in->done_arg,
                     st != JW_STORE_OK ? 503
                     : gone            ? 404
                                       : 401,
                     st != JW_STORE_OK ? "the job store (Redis) is unavailable; retry shortly"
                     : gone            ? "no such run"
                                       : "the run token is no longer valid: the run has ended");
        }
        free(in->error);
        free(in);
        return;
    }
    int attempt = (int)strtol(
        jw_reply_str(jw_reply_at(r, 1), NULL) ? jw_reply_str(jw_reply_at(r, 1), NULL) : "0", NULL, 10);
    size_t jn;
    const char *job_json = jw_reply_str(jw_reply_at(r, 2), &jn);
    struct jw_run_fields rf;
    size_t plen = 0;
    const char *packed = jw_reply_str(jw_reply_at(r, 3), &plen);
    const struct jw_run_pairs *pairs = packed && jw_run_fields_unpack(&rf, packed, plen) == 0 ? &rf.p : NULL;
    struct jw_job job;
    if (!job_json || decode_job(in->x, job_json, jn, &job) != 0)
        memset(&job, 0, sizeof(job));
    const char *backoff = pair(pairs, "retry_backoff", NULL);
    struct jw_retry_policy p =
        retry_policy(&job, backoff, pair_int(pairs, "retry_initial_delay_secs", 0) * 1000,
                     pair_int(pairs, "retry_max_delay_secs", 0) * 1000);
    const char *fb = pair(pairs, "_fallback", NULL);
    int64_t max_attempts = pair_int(pairs, "max_attempts_override",
                                    job.f[JW_JOB_MAX_ATTEMPTS].set ? job.f[JW_JOB_MAX_ATTEMPTS].i : 3);
    bool lapsed = strcmp(in->kind, "worker_failed") != 0;
    const char *notify = pair(pairs, "notify", NULL);
    struct outcome o = {
        .error = in->error,
        .timed_out = !strcmp(in->kind, "timed_out"),
        .kind = in->kind,
        .notify = notify && notify[0] == '1',
    };
    finish_attempt(in->x, in->tenant, in->run_id, attempt, &job, fb && fb[0] == '1', max_attempts, &p, &o, "",
                   lapsed, NULL, pair_int(pairs, "_attempt_started", 0), in->done, in->done_arg);
    jw_job_free(&job);
    free(in->error);
    free(in);
}

static void inspect_run(struct jw_exec *x, const char *tenant, const char *run_id, const char *kind,
                        const char *error, void (*done)(void *, int, const char *), void *done_arg)
{
    struct inspect *in = jw_calloc(1, sizeof(*in));
    in->x = x;
    snprintf(in->tenant, sizeof(in->tenant), "%s", tenant);
    snprintf(in->run_id, sizeof(in->run_id), "%s", run_id);
    in->kind = kind;
    in->error = jw_strdup(error);
    in->done = done;
    in->done_arg = done_arg;
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, run_id);
    jw_args_adds(&a, "inspect");
    jw_args_addi(&a, jw_time_now_ms());
    jw_args_adds(&a, "");
    jw_args_addi(&a, 0);
    jw_store_eval(x->store, JW_LUA_RUN_REPORT, tenant, &a, on_inspected, in);
}

void jw_exec_worker_failed(struct jw_exec *x, const char *tenant, const char *run_id, const char *error,
                           void (*done)(void *arg, int status, const char *msg), void *arg)
{
    inspect_run(x, tenant, run_id, "worker_failed", error && error[0] ? error : "the worker reported failure",
                done, arg);
}

/* ---- sweeps and leases ------------------------------------------------------------------ */

struct sweep_ctx {
    struct jw_exec *x;
    int shard;
};

static void on_swept(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct sweep_ctx *sc = arg;
    struct jw_exec *x = sc->x;
    int shard = sc->shard;
    if (sc->shard < x->nsweeping)
        x->sweeping[sc->shard] = false;
    free(sc);
    if (st != JW_STORE_OK || x->stopping)
        return;
    size_t nstart = (size_t)jw_reply_int(jw_reply_at(r, 0));
    size_t count = jw_reply_count(r);
    long long next_due = jw_reply_int(jw_reply_at(r, 1));
    if (count >= 2 && next_due >= 0)
        jw_due_at(x->due, shard, next_due);
    for (size_t i = 2; i < 2 + nstart && i < count; i++) {
        const char *m = jw_reply_str(jw_reply_at(r, i), NULL);
        if (m)
            start_member(x, m);
    }
    for (size_t i = 2 + nstart; i + 3 <= count; i += 3) {
        const char *m = jw_reply_str(jw_reply_at(r, i), NULL);
        const char *phase = jw_reply_str(jw_reply_at(r, i + 2), NULL);
        if (!m)
            continue;
        char tenant[40], run[40];
        split_member(m, tenant, sizeof(tenant), run, sizeof(run));
        if (jw_map_get(x->flights, m))
            continue; /* ours and alive: the renewal is just late */
        bool worker = phase && !strcmp(phase, "worker");
        inspect_run(x, tenant, run, worker ? "timed_out" : "crashed",
                    worker ? "the worker stopped reporting (no heartbeat within timeout_secs)"
                           : "the instance running it stopped (its lease lapsed)",
                    NULL, NULL);
    }
}

static void on_depth(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct sweep_ctx *sc = arg;
    struct jw_exec *x = sc->x;
    if (st == JW_STORE_OK && sc->shard < x->nsweeping && jw_scheduler_owns(x->sched, sc->shard))
        for (int k = 0; k < 3; k++)
            x->depth[sc->shard][k] = jw_reply_int(jw_reply_at(r, (size_t)k));
    free(sc);
}

/* Count an owned shard's runs (every DEPTH_EVERY_MS); a shard not owned counts 0 here. */
static void count_depth(struct jw_exec *x, int s, bool owned, bool due)
{
    if (!owned) {
        memset(x->depth[s], 0, sizeof(x->depth[s]));
        return;
    }
    if (!due)
        return;
    struct sweep_ctx *sc = jw_calloc(1, sizeof(*sc));
    sc->x = x;
    sc->shard = s;
    struct jw_args a = JW_ARGS_INIT;
    char tag[16];
    snprintf(tag, sizeof(tag), "s:%d", s);
    jw_store_eval(x->store, JW_LUA_SHARD_DEPTH, tag, &a, on_depth, sc);
}

static void on_sweep_timer(evutil_socket_t fd, short what, void *arg)
{
    struct jw_exec *x = arg;
    if (x->stopping || !x->token_key_len)
        return;
    int n = jw_scheduler_shards(x->sched);
    if (n > x->nsweeping) {
        x->sweeping = jw_realloc(x->sweeping, (size_t)n * sizeof(bool));
        memset(x->sweeping + x->nsweeping, 0, (size_t)(n - x->nsweeping) * sizeof(bool));
        x->depth = jw_realloc(x->depth, (size_t)n * sizeof(x->depth[0]));
        memset(x->depth + x->nsweeping, 0, (size_t)(n - x->nsweeping) * sizeof(x->depth[0]));
        x->nsweeping = n;
    }
    int64_t now = jw_time_now_ms();
    bool count = now - x->depth_at >= DEPTH_EVERY_MS;
    if (count)
        x->depth_at = now;
    for (int s = 0; s < n; s++) {
        bool owned = jw_scheduler_owns(x->sched, s);
        count_depth(x, s, owned, count);
        if (!owned || x->sweeping[s])
            continue;
        struct sweep_ctx *sc = jw_calloc(1, sizeof(*sc));
        sc->x = x;
        sc->shard = s;
        x->sweeping[s] = true;
        struct jw_args a = JW_ARGS_INIT;
        jw_args_addi(&a, now);
        jw_args_addi(&a, SWEEP_LIMIT);
        jw_args_addi(&a, STALE_READY_MS);
        char tag[16];
        snprintf(tag, sizeof(tag), "s:%d", s);
        jw_store_eval(x->store, JW_LUA_RUN_SWEEP, tag, &a, on_swept, sc);
    }
}

/* Renewals are fenced by attempt (run_renew): an instance that was away
 * longer than a lease (stopped, paused, starved) may find its attempts
 * superseded — retried elsewhere, handed on, ended. It drops them: their
 * calls are closed and their slots freed; their outcome is no longer ours. */
struct renewal {
    struct jw_exec *x;
    char tenant[40], member[80];
    int attempt;
    int64_t lease_end; /* no later than the end the call sets */
};

static void on_renewed(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct renewal *rn = arg;
    struct jw_exec *x = rn->x;
    const char *tenant = rn->tenant;
    struct flight *fl = jw_map_get(x->flights, rn->member);
    const char *what = jw_reply_str(jw_reply_at(r, 0), NULL);
    bool ours = st == JW_STORE_OK && fl && fl->attempt == rn->attempt && what;
    if (ours && !strcmp(what, "ok")) {
        if (rn->lease_end > fl->lease_end)
            fl->lease_end = rn->lease_end;
    } else if (ours) {
        const char *status = jw_reply_str(jw_reply_at(r, 1), NULL);
        const char *now_at = jw_reply_str(jw_reply_at(r, 2), NULL);
        x->superseded++;
        jw_metrics_add(M.leases_lost, 0, 1);
        jw_warn("exec: tenant=%s run=%s attempt=%d superseded (the run is %s at attempt %s): its call is dropped "
                "(%" PRIu64 " superseded attempts dropped here so far)",
                tenant, fl->run_id, fl->attempt, status ? status : "gone", now_at ? now_at : "-", x->superseded);
        jw_map_del(x->flights, fl->member);
        flight_cancel(fl);
        flight_end(x, fl);
        start_queued(x);
        check_stopped(x);
    }
    free(rn);
}

static void renew_prefix(struct jw_args *a, void *arg)
{
    struct jw_exec *x = arg;
    int64_t now = jw_time_now_ms();
    jw_args_adds(a, x->instance);
    jw_args_addi(a, now);
    jw_args_addi(a, now + x->opt.lease_ms);
}

static void add_renewal(void *value, void *arg)
{
    struct flight *fl = value;
    struct jw_exec *x = arg;
    if (fl->lease_end - x->renew_now > x->opt.lease_ms - x->renew_every / 2)
        return; /* leased less than half a tick ago, or from a time still ahead (a burst) */
    struct renewal *rn = jw_calloc(1, sizeof(*rn));
    rn->x = x;
    rn->lease_end = x->renew_now + x->opt.lease_ms;
    snprintf(rn->tenant, sizeof(rn->tenant), "%s", fl->tenant);
    snprintf(rn->member, sizeof(rn->member), "%s", fl->member);
    rn->attempt = fl->attempt;
    struct jw_args *call = jw_store_join(x->store, JW_LUA_RUN_RENEW, fl->tenant, renew_prefix, x, on_renewed, rn);
    jw_args_adds(call, fl->run_id);
    jw_args_addi(call, fl->attempt);
}

/* Every tick, the attempts whose lease was last set half a tick ago or
 * more are renewed: the longest a lease goes unrenewed is a tick and a
 * half (a lease is three ticks or more). An attempt just started, or
 * started ahead of a burst's time (its lease runs from then), is left
 * alone: a burst's calls are not slowed by thousands of renewals. */
static void on_renew_timer(evutil_socket_t fd, short what, void *arg)
{
    struct jw_exec *x = arg;
    x->renew_now = jw_time_now_ms();
    /* the calls go out at the end of this turn (a full one at once): the
     * map is not changed while it is walked */
    jw_map_each(x->flights, add_renewal, x);
}

/* ---- notices of an ended run: webhook_url, notify mail -------------------------------------- */

static void on_notice_sent(void *arg, const struct jw_http_response *resp)
{
    char *run_id = arg;
    if (resp->error)
        jw_warn("exec: the webhook for run %s was not accepted (%s)", run_id, resp->error);
    else if (!(resp->status >= 200 && resp->status < 300))
        jw_warn("exec: the webhook for run %s was not accepted (HTTP %d)", run_id, resp->status);
    free(run_id);
}

/* The final run, signed, to the job's webhook_url. */
static void send_webhook(struct jw_exec *x, const char *tenant, const char *run_id, const char *url, const char *secret,
                         const struct jw_buf *body)
{
    char msg_id[64], ts[24], sig[64];
    int64_t now = jw_time_now_ms() / 1000;
    snprintf(msg_id, sizeof(msg_id), "%s.final", run_id);
    snprintf(ts, sizeof(ts), "%" PRId64, now);
    struct jw_http_header h[6];
    size_t nh = 0;
    h[nh++] = (struct jw_http_header){"Content-Type", "application/json"};
    h[nh++] = (struct jw_http_header){"User-Agent", "jobwheel/0.1"};
    h[nh++] = (struct jw_http_header){"webhook-id", msg_id};
    h[nh++] = (struct jw_http_header){"webhook-timestamp", ts};
    if (secret && jw_webhook_sign(secret, msg_id, now, body->data, body->len, sig) == 0)
        h[nh++] = (struct jw_http_header){"webhook-signature", sig};
    h[nh++] = (struct jw_http_header){"x-jobwheel-run-id", run_id};
    struct jw_http_request req = {url, "POST", h, nh, body->data, body->len, 10000, tenant};
    jw_http_call_start(x->http, &req, on_notice_sent, jw_strdup(run_id));
}

/* The outcome, in words, to the address the trigger's caller gave. */
static void send_mail(struct jw_exec *x, const struct jw_run_pairs *pairs, const char *job_name, const char *to,
                      const struct jw_buf *run_json)
{
    const char *status = pair(pairs, "status", NULL), *id = pair(pairs, "id", NULL);
    const char *error = pair(pairs, "error", NULL);
    struct jw_buf subject = JW_BUF_INIT, body = JW_BUF_INIT;
    jw_buf_printf(&subject, "[jobwheel] %s: %s", job_name, status);
    jw_buf_printf(&body, "Job: %s\nRun: %s\nStatus: %s\nAttempts: %s\n", job_name, id, status,
                  pair(pairs, "attempt", NULL) ? pair(pairs, "attempt", NULL) : "0");
    if (error)
        jw_buf_printf(&body, "Error: %s\n", error);
    jw_buf_puts(&body, "\nThe run:\n");
    jw_buf_append(&body, run_json->data, run_json->len);
    jw_buf_putc(&body, '\n');
    if (jw_smtp_send(x->opt.smtp, to, jw_buf_str(&subject), jw_buf_str(&body)) != 0)
        jw_warn("exec: no mail for run %s: cannot send to the relay", id);
    jw_buf_free(&subject);
    jw_buf_free(&body);
}

struct notice {
    struct jw_exec *x;
    char tenant[40], run_id[40];
};

static void on_notice_run(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct notice *nt = arg;
    struct jw_exec *x = nt->x;
    struct jw_run_fields rf;
    size_t jn, n = st == JW_STORE_OK ? jw_reply_pairs(jw_reply_at(r, 0), rf.names, rf.values, rf.lens, JW_RUN_FIELDS_MAX)
                                     : 0;
    rf.p = (struct jw_run_pairs){n, rf.names, rf.values, rf.lens};
    const struct jw_run_pairs *pairs = &rf.p;
    const char *job_json = st == JW_STORE_OK ? jw_reply_str(jw_reply_at(r, 1), &jn) : NULL;
    struct jw_job job;
    memset(&job, 0, sizeof(job));
    if (st != JW_STORE_OK || n == 0 || !job_json || decode_job(x, job_json, jn, &job) != 0) {
        free(nt); /* gone, not ended after all, or its job was deleted */
        return;
    }
    const char *url = job.f[JW_JOB_WEBHOOK_URL].set ? job.f[JW_JOB_WEBHOOK_URL].s : NULL;
    const char *notify = pair(pairs, "notify", NULL), *to = pair(pairs, "_notify_to", NULL);
    bool mail = notify && !strcmp(notify, "1") && to && x->opt.smtp;
    if (url || mail) {
        struct jw_buf body = JW_BUF_INIT;
        struct jw_jsonw w;
        jw_jsonw_init(&w, &body);
        jw_run_write(&w, pairs);
        if (url)
            send_webhook(x, nt->tenant, nt->run_id, url, jw_reply_str(jw_reply_at(r, 2), NULL), &body);
        if (mail)
            send_mail(x, pairs, job.f[JW_JOB_NAME].s, to, &body);
        jw_buf_free(&body);
    }
    jw_job_free(&job);
    free(nt);
}

void jw_exec_run_ended(struct jw_exec *x, const char *tenant, const char *run_id)
{
    if (!x)
        return;
    struct notice *nt = jw_calloc(1, sizeof(*nt));
    nt->x = x;
    snprintf(nt->tenant, sizeof(nt->tenant), "%s", tenant);
    snprintf(nt->run_id, sizeof(nt->run_id), "%s", run_id);
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, run_id);
    jw_store_eval(x->store, JW_LUA_RUN_NOTICE, tenant, &a, on_notice_run, nt);
}

/* ---- life -------------------------------------------------------------------------------------- */

/* Every instance must sign and check run tokens alike. With an HMAC JWT
 * secret (which every instance shares, or tokens would not work across
 * them), the key is derived from it (jw_exec_new): nothing in Redis, so
 * nothing Redis can lose. Otherwise the key lives in Redis
 * (jw:{sched}:token_key), made by the first instance with SET NX. It is read again every KEY_READ_MS, not only at start-up:
 * should Redis lose its data (FLUSHALL, a restart without persistence),
 * the first instance to look makes a new key and every instance adopts it
 * within about a second — the same holds after a reconnect — instead of
 * each keeping the one it read once and refusing the others' tokens.
 * Tokens signed with the lost key stop working; so have their runs. */
#define KEY_READ_MS 1000

static void on_token_key(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct jw_exec *x = arg;
    x->loading_key = false;
    size_t n;
    unsigned char key[sizeof(x->token_key)];
    const char *v = st == JW_STORE_OK ? jw_reply_str(r, &n) : NULL;
    long len = v ? jw_base64_decode(v, n, key, sizeof(key)) : -1;
    if (len < 16)
        return; /* unreadable or unanswered: keep what we have, read again later */
    bool had = x->token_key_len > 0;
    if (had && ((size_t)len != x->token_key_len || !jw_secure_equal(key, x->token_key, (size_t)len)))
        jw_warn("exec: the run-token key in Redis changed (its data was lost?): using the new one; tokens "
                "given out before no longer work");
    memcpy(x->token_key, key, (size_t)len);
    x->token_key_len = (size_t)len;
    memset(key, 0, sizeof(key));
    if (had)
        return;
    for (size_t i = 0; i < x->nearly; i++) {
        start_member(x, x->early[i]);
        free(x->early[i]);
    }
    free(x->early);
    x->early = NULL;
    x->nearly = 0;
}

static void load_token_key(struct jw_exec *x)
{
    int64_t now = jw_time_mono_ms();
    if (x->key_derived || x->loading_key || (x->token_key_len && now - x->key_read_ms < KEY_READ_MS))
        return;
    x->key_read_ms = now;
    unsigned char raw[32];
    char b64[64];
    jw_random_bytes(raw, sizeof(raw));
    jw_base64_encode(raw, sizeof(raw), b64);
    memset(raw, 0, sizeof(raw));
    struct jw_args set = JW_ARGS_INIT, get = JW_ARGS_INIT;
    jw_args_adds(&set, "SET");
    jw_args_adds(&set, "jw:{sched}:token_key");
    jw_args_adds(&set, b64);
    jw_args_adds(&set, "NX");
    jw_store_cmd(x->store, &set, NULL, NULL);
    jw_args_adds(&get, "GET");
    jw_args_adds(&get, "jw:{sched}:token_key");
    x->loading_key = true;
    jw_store_cmd(x->store, &get, on_token_key, x);
}

static void on_housekeeping(evutil_socket_t fd, short what, void *arg)
{
    struct jw_exec *x = arg;
    load_token_key(x);
    on_sweep_timer(fd, what, arg);
    if (++x->trim_ticks >= TRIM_TICKS) {
        x->trim_ticks = 0;
        jw_fair_trim(x->fair);
    }
}

static void runner_started(void *arg, const struct jw_reply *r, size_t from)
{
    start_members(arg, r, from);
}

struct jw_exec *jw_exec_new(struct event_base *base, struct jw_store *store, struct jw_scheduler *sched,
                            const struct jw_exec_options *o, char *err, size_t errlen)
{
    struct jw_exec *x = jw_calloc(1, sizeof(*x));
    x->base = base;
    x->store = store;
    x->sched = sched;
    x->opt = *o;
    metrics_register(x);
    x->instance = jw_strdup(o->instance_id);
    x->opt.instance_id = x->instance;
    struct jw_http_client_options ho = {
        .allow_private = o->allow_private,
        .ca_file = o->ca_file,
        .max_response = o->max_response,
        .max_header_bytes = o->max_response_header_bytes,
        .max_headers = o->max_response_headers,
        .max_inflight_bytes = o->max_inflight_response_bytes,
    };
    x->http = jw_http_client_new(base, &ho, err, errlen);
    if (!x->http) {
        free(x->instance);
        free(x);
        return NULL;
    }
    struct jw_runner_options ro = {.file_root = o->file_root,
                                   .self_exe = o->self_exe,
                                   .code_execution = o->code_execution,
                                   .file_operations = o->file_operations,
                                   .file_quota_bytes = o->file_quota_bytes,
                                   .file_quota_entries = o->file_quota_entries,
                                   .retention_ms = o->retention_ms,
                                   .start_members = runner_started,
                                   .start_arg = x};
    x->runner = jw_runner_new(base, store, &ro);
    x->flights = jw_map_new();
    x->jobs = jw_map_new();
    if (x->opt.max_inflight <= 0)
        x->opt.max_inflight = 1024;
    struct jw_fair_limits fl = {
        .slots = (size_t)x->opt.max_inflight,
        .per_tenant = (size_t)x->opt.max_inflight_per_tenant,
        .queue_max = QUEUE_MAX,
        .tenant_queue_max = QUEUE_TENANT,
        .queue_floor = QUEUE_FLOOR,
    };
    x->fair = jw_fair_new(&fl);
    x->due = jw_due_new(base, store, due_start, x);
    jw_clock_init(&x->ahead, base, on_ahead_expired, x);
    x->kick = event_new(base, -1, 0, on_kick, x);
    x->hold = event_new(base, -1, 0, on_hold, x);
    x->sweep = event_new(base, -1, EV_PERSIST, on_housekeeping, x);
    x->renew = event_new(base, -1, EV_PERSIST, on_renew_timer, x);
    int64_t every = x->opt.lease_ms / 3 < RENEW_MS ? x->opt.lease_ms / 3 : RENEW_MS;
    x->renew_every = every;
    struct timeval sweep = {0, SWEEP_MS * 1000}, renew = {every / 1000, (every % 1000) * 1000};
    event_add(x->sweep, &sweep);
    event_add(x->renew, &renew);
    if (o->token_secret && o->token_secret_len) {
        jw_run_token_key_derive(o->token_secret, o->token_secret_len, x->token_key);
        x->token_key_len = JW_RUN_TOKEN_KEY_LEN;
        x->key_derived = true;
        x->opt.token_secret = NULL; /* not kept */
    }
    load_token_key(x);
    return x;
}

const unsigned char *jw_exec_token_key(const struct jw_exec *x, size_t *len)
{
    *len = x ? x->token_key_len : 0;
    return x && x->token_key_len ? x->token_key : NULL;
}

size_t jw_exec_inflight(const struct jw_exec *x)
{
    return x ? jw_map_count(x->flights) : 0;
}

static void cancel_flight_cb(void *value, void *arg)
{
    (void)arg;
    flight_cancel(value);
}

static void check_stopped(struct jw_exec *x)
{
    if (!x->stopping || !x->stop_done)
        return;
    int64_t now = jw_time_mono_ms();
    /* a slot is held from a start's request to its attempt's end: starts
     * Redis has not answered yet are drained too */
    if (jw_fair_used(x->fair) > 0 && now < x->stop_deadline)
        return;
    if (!x->calls_abandoned) {
        /* out of time: abandon the calls while the loop still runs, so that
         * evdns can answer the cancelled resolutions (else they leak); the
         * runs' leases lapse and another instance retries them */
        jw_map_each(x->flights, cancel_flight_cb, NULL);
        x->calls_abandoned = true;
    }
    if (jw_http_client_owed(x->http) > 0 && now < x->stop_deadline + 2000)
        return;
    send_held(x); /* outcomes recorded before the store closes */
    void (*done)(void *) = x->stop_done;
    x->stop_done = NULL;
    done(x->stop_arg);
}

static void on_stop_check(evutil_socket_t fd, short what, void *arg)
{
    check_stopped(arg);
}

void jw_exec_stop(struct jw_exec *x, int64_t timeout_ms, void (*done)(void *), void *arg)
{
    x->stopping = true;
    x->stop_done = done;
    x->stop_arg = arg;
    x->stop_deadline = jw_time_mono_ms() + timeout_ms;
    event_del(x->sweep);
    jw_due_stop(x->due);
    x->stop_check = event_new(x->base, -1, EV_PERSIST, on_stop_check, x);
    struct timeval tv = {0, 50000};
    event_add(x->stop_check, &tv);
    check_stopped(x);
}

static void free_flight_cb(void *value, void *arg)
{
    struct flight *fl = value;
    flight_cancel(fl);
    flight_free(fl);
}

void jw_exec_free(struct jw_exec *x)
{
    if (!x)
        return;
    jw_map_each(x->flights, free_flight_cb, NULL);
    jw_map_free(x->flights);
    jw_map_each(x->jobs, cached_job_free, NULL);
    jw_map_free(x->jobs);
    jw_http_client_free(x->http);
    jw_runner_free(x->runner);
    x->stopping = true;
    send_held(x);
    free(x->held);
    free(x->late);
    event_free(x->hold);
    jw_clock_free(&x->ahead);
    event_free(x->kick);
    event_free(x->sweep);
    event_free(x->renew);
    if (x->stop_check)
        event_free(x->stop_check);
    for (size_t i = 0; i < x->nearly; i++)
        free(x->early[i]);
    free(x->early);
    jw_fair_free(x->fair);
    jw_due_free(x->due);
    free(x->sweeping);
    free(x->depth);
    if (x->tenant_stats) {
        jw_map_each(x->tenant_stats, free_stat, NULL);
        jw_map_free(x->tenant_stats);
    }
    free(x->instance);
    free(x);
}
