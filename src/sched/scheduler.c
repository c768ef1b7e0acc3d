/* scheduler: shard leases, the window of firings in the timer wheel, and
 * firing through fire_claim.lua (see include/jobwheel/scheduler.h). */
#include "jobwheel/scheduler.h"

#include <event2/event.h>
#include <inttypes.h>
#include <openssl/sha.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"
#include "jobwheel/id.h"
#include "jobwheel/log.h"
#include "jobwheel/map.h"
#include "jobwheel/metrics.h"
#include "jobwheel/run.h"
#include "jobwheel/store.h"
#include "jobwheel/time.h"
#include "jobwheel/clock.h"

#define TICK_MS 500
#define POLL_LIMIT 2000
#define MAX_CATCH_UP 1100 /* fire_all's cap (1000) and the late ones */
#define RETRY_MS 200
/* Firings due together go out in claims of up to CLAIM_JOBS jobs (fewer
 * when they make more than CLAIM_RUNS runs), CLAIMS_MAX claims in flight;
 * the rest wait here, so Redis answers the finishes of the runs already
 * started in between instead of after every claim of a large burst. */
#define CLAIM_JOBS 32
#define CLAIM_RUNS 256
#define CLAIMS_MAX 8

/* A job whose next firing falls in the window. */
struct entry {
    struct jw_wheel_entry we;
    char member[80]; /* "<tenant>:<job id>": the map's key */
    char tenant[40];
    char job_id[40];
    int shard;       /* its due set's; a poked job's may not be ours: dropped after firing */
    int64_t nominal; /* the due score this instance saw */
    struct jw_job job;
    char *stored; /* the job's JSON as stored (NULL: not known) */
    size_t stored_len;
    struct jw_schedule *sched;
    bool firing; /* a fire_claim is in flight, or it waits for one (a lane) */
    bool queued; /* in the wheel */
    struct entry *next_in_lane;
};

/* Due firings of a tenant's jobs in one shard, waiting for a claim. */
struct lane {
    char key[64]; /* "<shard>:<tenant>": the lanes map's key */
    char tenant[40];
    int shard;
    struct entry *head, *tail;
    struct lane *next; /* in the scheduler's round */
};

struct shard {
    bool owned;
    bool loaded;     /* the first (full) poll happened */
    bool polling;    /* a poll is in flight */
    int64_t horizon; /* due times up to here are in the wheel */
};

struct jw_scheduler {
    struct event_base *base;
    struct jw_store *store;
    struct jw_scheduler_options opt;
    char *instance;
    struct jw_fire_hooks hooks;
    int nshards; /* 0 until Redis said */
    struct shard *shards;
    int owned;
    struct jw_clock clock; /* the firings of the window */
    struct jw_map *entries;
    struct event *tick, *poll, *fire;
    bool ticking, stopping;
    int inflight; /* fire_claims in flight */
    struct jw_map *lanes;                /* lane key -> struct lane */
    struct lane *round, *round_tail;     /* the lanes, in turn (every one has firings) */
    int64_t *times;                      /* MAX_CATCH_UP nominal times: claim_add's */
    void (*stop_done)(void *);
    void *stop_arg;
};

static void fire(struct jw_scheduler *s, struct entry *e);
static void fire_lanes(struct jw_scheduler *s);

/* ---- entries ------------------------------------------------------------------- */

static struct entry *entry_of(struct jw_wheel_entry *we)
{
    return (struct entry *)((char *)we - offsetof(struct entry, we));
}

static void entry_free(struct entry *e)
{
    free(e->stored);
    jw_job_free(&e->job);
    jw_schedule_free(e->sched);
    free(e);
}

static void entry_drop(struct jw_scheduler *s, struct entry *e)
{
    if (e->queued)
        jw_clock_remove(&s->clock, &e->we);
    jw_map_del(s->entries, e->member);
    entry_free(e);
}

static void on_expired(struct jw_wheel_entry *we, void *arg)
{
    struct entry *e = entry_of(we);
    e->queued = false;
    fire(arg, e);
}

/* Queue e at its nominal time if that is in reach of the wheel; else drop
 * it (the window brings it back when its time comes near). */
static void entry_queue(struct jw_scheduler *s, struct entry *e, int64_t when)
{
    int64_t now = jw_time_now_ms();
    if (when - now > s->opt.window_ms + 1000 || jw_clock_add(&s->clock, &e->we, when) != 0) {
        entry_drop(s, e);
        return;
    }
    e->queued = true;
}

/* Make or refresh the entry of member from its job JSON and due score. */
static void entry_update(struct jw_scheduler *s, int shard, const char *member, int64_t score,
                         const char *json, size_t len)
{
    struct entry *e = jw_map_get(s->entries, member);
    if (e && e->firing)
        return; /* its fire_claim will tell what is current */
    char why[160];
    struct jw_json_doc *doc = jw_json_parse(json, len, JW_JSON_STORED_DEPTH, why, sizeof(why));
    struct jw_job job;
    memset(&job, 0, sizeof(job));
    struct jw_error err;
    if (!doc || jw_job_decode(&job, jw_json_root(doc), JW_JOB_STORED, &err) != 0) {
        jw_error("scheduler: job %s does not decode; not scheduled", member);
        jw_json_doc_free(doc);
        jw_job_free(&job);
        return;
    }
    jw_json_doc_free(doc);
    if (e && e->nominal == score && e->job.f[JW_JOB_VERSION].i == job.f[JW_JOB_VERSION].i) {
        jw_job_free(&job);
        e->shard = shard;
        return;
    }
    struct jw_schedule *sch = jw_job_schedule(&job, &err);
    if (!sch) {
        jw_error("scheduler: job %s has an invalid schedule (%s); not scheduled", member, err.detail);
        jw_job_free(&job);
        if (e)
            entry_drop(s, e);
        return;
    }
    if (!e) {
        e = jw_calloc(1, sizeof(*e));
        snprintf(e->member, sizeof(e->member), "%s", member);
        const char *colon = strrchr(member, ':');
        snprintf(e->tenant, sizeof(e->tenant), "%.*s", (int)(colon - member), member);
        snprintf(e->job_id, sizeof(e->job_id), "%s", colon + 1);
        jw_map_put(s->entries, e->member, e);
    } else {
        if (e->queued) {
            jw_clock_remove(&s->clock, &e->we);
            e->queued = false;
        }
        jw_job_free(&e->job);
        jw_schedule_free(e->sched);
        free(e->stored);
    }
    e->shard = shard;
    e->job = job;
    e->sched = sch;
    e->nominal = score;
    /* as stored: scripts give a job's JSON with its id put back first
     * (prelude.lua's with_id) */
    e->stored = NULL;
    if (len > 45 && !memcmp(json, "{\"id\":\"", 7) && json[43] == '"' && json[44] == ',') {
        e->stored_len = len - 44;
        e->stored = jw_malloc(e->stored_len + 1);
        e->stored[0] = '{';
        memcpy(e->stored + 1, json + 45, len - 45);
        e->stored[e->stored_len] = '\0';
    }
    entry_queue(s, e, score);
}

/* The shard of a member, as prelude.lua's shard_of computes it. */
static int shard_of(const char *member, int n)
{
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)member, strlen(member), md);
    uint32_t h = (uint32_t)md[0] << 24 | (uint32_t)md[1] << 16 | (uint32_t)md[2] << 8 | md[3];
    return (int)(h % (uint32_t)n);
}

void jw_scheduler_poke(struct jw_scheduler *s, const char *tenant, const struct jw_job *j, int64_t due_ms)
{
    if (!s || s->stopping || !s->nshards || due_ms < 0 || due_ms > jw_time_now_ms() + s->opt.window_ms)
        return;
    char member[80];
    snprintf(member, sizeof(member), "%s:%s", tenant, j->f[JW_JOB_ID].s);
    struct entry *e = jw_map_get(s->entries, member);
    if (e && e->firing)
        return;
    struct jw_error err;
    struct jw_schedule *sch = jw_job_schedule(j, &err);
    if (!sch)
        return;
    if (!e) {
        e = jw_calloc(1, sizeof(*e));
        snprintf(e->member, sizeof(e->member), "%s", member);
        snprintf(e->tenant, sizeof(e->tenant), "%s", tenant);
        snprintf(e->job_id, sizeof(e->job_id), "%s", j->f[JW_JOB_ID].s);
        jw_map_put(s->entries, e->member, e);
    } else {
        if (e->queued) {
            jw_clock_remove(&s->clock, &e->we);
            e->queued = false;
        }
        jw_job_free(&e->job);
        jw_schedule_free(e->sched);
        free(e->stored);
    }
    e->shard = shard_of(member, s->nshards);
    jw_job_copy(&e->job, j);
    struct jw_buf stored = JW_BUF_INIT;
    jw_job_encode(j, &stored, JW_JOB_VIEW_STORED);
    e->stored_len = stored.len;
    e->stored = jw_buf_detach(&stored);
    e->sched = sch;
    e->nominal = due_ms;
    entry_queue(s, e, due_ms);
}

static void drop_member(struct jw_scheduler *s, const char *member)
{
    struct entry *e = jw_map_get(s->entries, member);
    if (e && !e->firing)
        entry_drop(s, e);
}

/* ---- firing ------------------------------------------------------------------------- */

/* One run a claim asks for. */
struct claim_run {
    char id[JW_UUID_SIZE];
    int64_t nominal;
    char *why;      /* skipped, and why; NULL: it runs */
    int64_t missed; /* the record of this many firings missed (0: one skipped, by its schedule) */
};

static struct {
    jw_metric fired, missed, skipped, owned, queued;
} M;

static double owned_now(void *arg) { return jw_scheduler_owned(arg); }
static double queued_now(void *arg) { return (double)jw_scheduler_queued(arg); }

static void metrics_register(struct jw_scheduler *s)
{
    M.fired = jw_metrics_counter("jobwheel_firings", "Schedule firings that made a run here", NULL, 0);
    M.missed = jw_metrics_counter("jobwheel_firings_missed",
                                  "Firings missed while no instance ran their schedule (misfire_policy)", NULL, 0);
    M.skipped = jw_metrics_counter("jobwheel_firings_skipped",
                                   "Firings their schedule left out (recorded as skipped runs)", NULL, 0);
    M.owned = jw_metrics_gauge("jobwheel_shards_owned", "Scheduler shards this instance owns", owned_now, s);
    M.queued = jw_metrics_gauge("jobwheel_timer_wheel_entries", "Jobs in this instance's firing wheel", queued_now, s);
}

/* A firing the claim recorded as skipped, told (run: its skipped run). */
static void told_skipped(const struct entry *e, const struct claim_run *run)
{
    char at[JW_TIME_ISO_SIZE];
    jw_time_format(run->nominal, at);
    struct jw_log_field f[] = {
        JW_LOG_S("tenant", e->tenant), JW_LOG_S("job", e->job_id),   JW_LOG_S("run", run->id),
        JW_LOG_S("scheduled_at", at),  JW_LOG_I("missed", run->missed),
    };
    if (run->missed) {
        jw_metrics_add(M.missed, 0, (double)run->missed);
        jw_log_event(JW_LOG_WARN, "firings missed", f, 5);
    } else {
        jw_metrics_add(M.skipped, 0, 1);
        jw_log_event(JW_LOG_INFO, "firing skipped", f, 4);
    }
}

/* One job's firing(s) in a claim. */
struct claim_job {
    struct entry *e;
    struct claim_run *runs;
    size_t nruns;
    int64_t next;
};

/* A fire_claim: due jobs of one tenant in one shard. */
struct claim {
    struct jw_scheduler *s;
    char tenant[40];
    int shard;
    struct claim_job jobs[CLAIM_JOBS];
    size_t njobs, nruns, npending;
    size_t room;     /* attempts reserved for runs fire_claim may start */
    int64_t now;     /* when the claim went out */
    int64_t sent_us; /* the same, monotonic */
};

/* Give back the attempt slots the claim did not use. */
static void release_room(struct jw_scheduler *s, struct claim *c)
{
    if (c->room)
        s->hooks.release(s->hooks.arg, c->tenant, c->room);
    c->room = 0;
}

static void claim_free(struct claim *c)
{
    for (size_t j = 0; j < c->njobs; j++) {
        for (size_t i = 0; i < c->jobs[j].nruns; i++)
            free(c->jobs[j].runs[i].why);
        free(c->jobs[j].runs);
    }
    free(c);
}

/* Entry e joins claim c: the firings due from its nominal time to now, as
 * its misfire policy counts them (what the policy leaves out is recorded,
 * once, as a skipped run: not lost silently). */
static void claim_add(struct jw_scheduler *s, struct claim *c, struct entry *e, int64_t now)
{
    struct claim_job *cj = &c->jobs[c->njobs++];
    cj->e = e;
    int64_t *times = s->times;
    int64_t skipped = 0;
    size_t n = jw_schedule_catch_up(e->sched, e->nominal, now, s->opt.misfire_threshold_ms, times, MAX_CATCH_UP,
                                    &skipped, &cj->next);
    cj->runs = jw_calloc(n + 1, sizeof(*cj->runs));
    if (skipped > 0 && (n == 0 || times[0] > e->nominal)) {
        struct claim_run *r = &cj->runs[cj->nruns++];
        struct jw_buf msg = JW_BUF_INIT;
        jw_buf_printf(&msg,
                      "%" PRId64 " firing(s) missed while no instance ran the schedule; misfire_policy %s",
                      skipped,
                      e->job.f[JW_JOB_MISFIRE_POLICY].set ? e->job.f[JW_JOB_MISFIRE_POLICY].s : "fire_once");
        jw_id_new(r->id);
        r->nominal = e->nominal;
        r->why = jw_buf_detach(&msg);
        r->missed = skipped;
    }
    for (size_t i = 0; i < n; i++) {
        struct claim_run *r = &cj->runs[cj->nruns++];
        char buf[200];
        const char *why = jw_schedule_suppressed(e->sched, times[i], buf, sizeof(buf));
        jw_id_new(r->id);
        r->nominal = times[i];
        r->why = why ? jw_strdup(why) : NULL;
        c->npending += why == NULL;
    }
    c->nruns += cj->nruns;
}

/* fire_claim's arguments for one job (see fire_claim.lua). */
static void claim_job_args(const struct claim *c, const struct claim_job *cj, struct jw_args *a)
{
    const struct entry *e = cj->e;
    const struct jw_fval *f = e->job.f;
    char member[80];
    size_t mn = jw_id_pack(e->tenant, member);
    mn += jw_id_pack(e->job_id, member + mn);
    jw_args_adds(a, e->job_id);
    jw_args_add(a, member, mn);
    jw_args_addi(a, e->nominal);
    jw_args_addi(a, f[JW_JOB_VERSION].i);
    jw_args_add(a, e->stored ? e->stored : "", e->stored ? e->stored_len : 0);
    bool limited = f[JW_JOB_MAX_CONCURRENCY].set || f[JW_JOB_MAX_CONCURRENCY_PER_KEY].set ||
                   f[JW_JOB_RATE_LIMIT_MAX].set || f[JW_JOB_RATE_LIMIT_KEYS].set;
    jw_args_adds(a, limited && f[JW_JOB_WEBHOOK_SECRET].set ? "ls"
                    : limited                               ? "l"
                    : f[JW_JOB_WEBHOOK_SECRET].set          ? "s"
                                                            : "");
    if (cj->next < 0)
        jw_args_adds(a, "-");
    else
        jw_args_addi(a, cj->next);
    if (f[JW_JOB_RUN_TTL_SECS].set)
        jw_args_addi(a, c->now + f[JW_JOB_RUN_TTL_SECS].i * 1000);
    else
        jw_args_adds(a, "");
    /* the fields every run takes from the job */
    static const struct {
        enum jw_job_field field;
        const char *name;
    } from_job[] = {
        {JW_JOB_PROJECT_ID, "project_id"},
        {JW_JOB_TAGS, "tags"},
        {JW_JOB_DEFAULT_RUN_METADATA, "metadata"},
        {JW_JOB_VERSION_ID, "job_version_id"},
    };
    int np = 1;
    for (size_t i = 0; i < sizeof(from_job) / sizeof(from_job[0]); i++)
        np += f[from_job[i].field].set;
    jw_args_addi(a, np);
    jw_args_adds(a, "job_version");
    jw_args_addi(a, f[JW_JOB_VERSION].i);
    for (size_t i = 0; i < sizeof(from_job) / sizeof(from_job[0]); i++)
        if (f[from_job[i].field].set) {
            jw_args_adds(a, from_job[i].name);
            jw_args_adds(a, f[from_job[i].field].s);
        }
    jw_args_addi(a, (int64_t)cj->nruns);
    for (size_t i = 0; i < cj->nruns; i++) {
        jw_args_adds(a, cj->runs[i].id);
        jw_args_addi(a, cj->runs[i].nominal);
        jw_args_adds(a, cj->runs[i].why ? cj->runs[i].why : "");
    }
}

/* After its answer (r NULL: the store failed), what comes of one job. */
static void claimed_job(struct jw_scheduler *s, struct claim *c, struct claim_job *cj, const struct jw_reply *r)
{
    struct entry *e = cj->e;
    e->firing = false;
    bool mine = !s->stopping && e->shard >= 0 && e->shard < s->nshards && s->shards[e->shard].owned;
    const struct jw_reply *word = jw_reply_at(r, 0);
    if (!r) {
        /* Redis away or slow: the firing is still due there; try again soon */
        if (mine)
            entry_queue(s, e, jw_time_now_ms() + RETRY_MS);
        else
            entry_drop(s, e);
    } else if (jw_reply_is(word, "ok")) {
        for (size_t i = 1; i + 2 <= jw_reply_count(r); i += 2) {
            const char *id = jw_reply_str(jw_reply_at(r, i), NULL);
            const struct jw_reply *start = jw_reply_at(r, i + 1);
            const struct claim_run *run = NULL;
            for (size_t k = 0; id && k < cj->nruns && !run; k++)
                if (!strcmp(cj->runs[k].id, id))
                    run = &cj->runs[k];
            if (run && run->why)
                told_skipped(e, run);
            if (!run || run->why)
                continue;
            jw_metrics_add(M.fired, 0, 1);
            if (jw_reply_type(start) == JW_REPLY_ARRAY && c->room) {
                c->room--;
                struct jw_fired_run known = {.shard = c->shard, .ready_ms = run->nominal, .job = &e->job};
                s->hooks.started(s->hooks.arg, c->tenant, id, start, &known, c->sent_us);
            } else {
                s->hooks.fired(s->hooks.arg, c->tenant, id);
            }
        }
        if (cj->next < 0 || !mine) {
            entry_drop(s, e);
        } else {
            e->nominal = cj->next;
            entry_queue(s, e, cj->next);
        }
    } else if (jw_reply_is(word, "moved")) {
        const char *score = jw_reply_str(jw_reply_at(r, 1), NULL);
        if (!score || !mine) {
            entry_drop(s, e);
        } else {
            e->nominal = strtoll(score, NULL, 10);
            entry_queue(s, e, e->nominal);
        }
    } else if (jw_reply_is(word, "stale") && mine) {
        size_t n;
        const char *json = jw_reply_str(jw_reply_at(r, 1), &n);
        char member[80];
        int64_t nominal = e->nominal;
        int shard = e->shard;
        snprintf(member, sizeof(member), "%s", e->member);
        entry_drop(s, e);
        if (json)
            entry_update(s, shard, member, nominal, json, n);
    } else { /* gone, inactive, or no longer ours */
        entry_drop(s, e);
    }
}

static void on_claimed(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct claim *c = arg;
    struct jw_scheduler *s = c->s;
    s->inflight--;
    for (size_t j = 0; j < c->njobs; j++)
        claimed_job(s, c, &c->jobs[j], st == JW_STORE_OK ? jw_reply_at(r, j) : NULL);
    release_room(s, c);
    claim_free(c);
    fire_lanes(s);
}

static void claim_send(struct jw_scheduler *s, struct claim *c)
{
    struct jw_args a = JW_ARGS_INIT;
    const char *instance = "";
    int64_t lease = 0;
    c->room = c->npending ? s->hooks.reserve(s->hooks.arg, c->tenant, c->npending, &instance, &lease) : 0;
    jw_args_addi(&a, c->shard);
    jw_args_addi(&a, c->now);
    jw_args_addi(&a, s->opt.retention_ms);
    jw_args_adds(&a, c->room ? instance : "");
    jw_args_addi(&a, lease);
    jw_args_addi(&a, (int64_t)c->room);
    jw_args_addi(&a, (int64_t)c->njobs);
    jw_args_addi(&a, s->opt.quotas.limit[JW_QUOTA_RUNS_PER_MINUTE]);
    jw_args_addi(&a, s->opt.quotas.limit[JW_QUOTA_RUN_HISTORY]);
    jw_args_addi(&a, s->opt.quotas.limit[JW_QUOTA_INFLIGHT]);
    for (size_t j = 0; j < c->njobs; j++)
        claim_job_args(c, &c->jobs[j], &a);
    s->inflight++;
    c->sent_us = jw_time_mono_us();
    jw_store_eval(s->store, JW_LUA_FIRE_CLAIM, c->tenant, &a, on_claimed, c);
}

/* Lane l takes its turn after the others'. */
static void round_push(struct jw_scheduler *s, struct lane *l)
{
    l->next = NULL;
    if (s->round_tail)
        s->round_tail->next = l;
    else
        s->round = l;
    s->round_tail = l;
}

/* Due firings wait in lanes, one per tenant and shard, until the end of
 * the loop's turn; then each lane in turn sends a fire_claim of up to
 * CLAIM_JOBS of its jobs, at most CLAIMS_MAX claims in flight. A firing
 * alone goes out at once; a burst costs Redis one call and a few
 * multi-member commands per claim, not per job, and tenants take turns. */
static void fire_lanes(struct jw_scheduler *s)
{
    int64_t now = jw_time_now_ms();
    while (s->round && s->inflight < CLAIMS_MAX && !s->stopping) {
        struct lane *l = s->round;
        s->round = l->next;
        if (!s->round)
            s->round_tail = NULL;
        struct claim *c = jw_calloc(1, sizeof(*c));
        c->s = s;
        c->shard = l->shard;
        c->now = now;
        snprintf(c->tenant, sizeof(c->tenant), "%s", l->tenant);
        while (l->head && c->njobs < CLAIM_JOBS && c->nruns < CLAIM_RUNS) {
            struct entry *e = l->head;
            l->head = e->next_in_lane;
            e->next_in_lane = NULL;
            claim_add(s, c, e, now);
        }
        if (l->head) { /* its turn again after the others' */
            round_push(s, l);
        } else {
            jw_map_del(s->lanes, l->key);
            free(l);
        }
        claim_send(s, c);
    }
}

static void on_fire(evutil_socket_t fd, short what, void *arg)
{
    fire_lanes(arg);
}

static void fire(struct jw_scheduler *s, struct entry *e)
{
    if (e->firing || s->stopping)
        return;
    e->firing = true;
    char key[64];
    snprintf(key, sizeof(key), "%d:%s", e->shard, e->tenant);
    struct lane *l = jw_map_get(s->lanes, key);
    if (!l) {
        l = jw_calloc(1, sizeof(*l));
        snprintf(l->key, sizeof(l->key), "%s", key);
        snprintf(l->tenant, sizeof(l->tenant), "%s", e->tenant);
        l->shard = e->shard;
        jw_map_put(s->lanes, l->key, l);
        round_push(s, l);
    }
    if (l->tail)
        l->tail->next_in_lane = e;
    else
        l->head = e;
    l->tail = e;
    event_active(s->fire, EV_TIMEOUT, 0);
}

/* ---- polling the owned shards ---------------------------------------------------------- */

struct poll {
    struct jw_scheduler *s;
    int shard;
    int64_t to;
    bool full;
};

static void on_polled(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct poll *p = arg;
    struct jw_scheduler *s = p->s;
    struct shard *sh = &s->shards[p->shard];
    sh->polling = false;
    if (st != JW_STORE_OK || !sh->owned || s->stopping) {
        free(p);
        return;
    }
    size_t ranged = (size_t)jw_reply_int(jw_reply_at(r, 0));
    int64_t last_score = -1;
    size_t count = jw_reply_count(r);
    for (size_t i = 1, k = 0; i + 3 <= count; i += 3, k++) {
        const char *member = jw_reply_str(jw_reply_at(r, i), NULL);
        const char *score = jw_reply_str(jw_reply_at(r, i + 1), NULL);
        size_t jlen;
        const char *json = jw_reply_str(jw_reply_at(r, i + 2), &jlen);
        if (!member)
            continue;
        if (!score || !json) {
            drop_member(s, member);
            continue;
        }
        int64_t when = strtoll(score, NULL, 10);
        if (k < ranged)
            last_score = when;
        if (when <= p->to)
            entry_update(s, p->shard, member, when, json, jlen);
    }
    /* a full page means more may be due before `to`: continue from the last one */
    sh->horizon = ranged >= POLL_LIMIT && last_score >= 0 ? last_score : p->to;
    sh->loaded = true;
    free(p);
}

static void poll_shard(struct jw_scheduler *s, int n)
{
    struct shard *sh = &s->shards[n];
    if (sh->polling || !sh->owned)
        return;
    struct poll *p = jw_calloc(1, sizeof(*p));
    p->s = s;
    p->shard = n;
    p->full = !sh->loaded;
    p->to = jw_time_now_ms() + s->opt.window_ms;
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, p->full ? "full" : "more");
    jw_args_addi(&a, sh->horizon);
    jw_args_addi(&a, p->to);
    jw_args_addi(&a, POLL_LIMIT);
    char tag[16];
    snprintf(tag, sizeof(tag), "s:%d", n);
    sh->polling = true;
    jw_store_eval(s->store, JW_LUA_SCHED_POLL, tag, &a, on_polled, p);
}

static void on_poll_timer(evutil_socket_t fd, short what, void *arg)
{
    struct jw_scheduler *s = arg;
    for (int n = 0; n < s->nshards; n++)
        poll_shard(s, n);
}

/* ---- leases --------------------------------------------------------------------------- */

struct shard_entries {
    int shard;
    size_t n, cap;
    struct entry **list;
};

static void collect_shard(void *value, void *arg)
{
    struct entry *e = value;
    struct shard_entries *c = arg;
    if (e->shard != c->shard || e->firing)
        return;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 64;
        c->list = jw_realloc(c->list, c->cap * sizeof(*c->list));
    }
    c->list[c->n++] = e;
}

/* A shard went to another instance: forget its firings (those being fired
 * finish, and are dropped when their answer comes). */
static void forget_shard(struct jw_scheduler *s, int shard)
{
    struct shard_entries c = {.shard = shard};
    jw_map_each(s->entries, collect_shard, &c); /* the map may not change while walked */
    for (size_t i = 0; i < c.n; i++)
        entry_drop(s, c.list[i]);
    free(c.list);
}

static void on_ticked(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct jw_scheduler *s = arg;
    s->ticking = false;
    if (s->stopping) {
        if (s->stop_done) {
            void (*done)(void *) = s->stop_done;
            s->stop_done = NULL;
            done(s->stop_arg);
        }
        return;
    }
    if (st != JW_STORE_OK)
        return; /* keep what we hold until Redis answers again */
    bool now_owned[4096] = {false};
    for (size_t i = 0; i < jw_reply_count(r); i++) {
        long long n = jw_reply_int(jw_reply_at(r, i));
        if (n >= 0 && n < s->nshards && n < 4096)
            now_owned[n] = true;
    }
    int owned = 0;
    for (int n = 0; n < s->nshards; n++) {
        struct shard *sh = &s->shards[n];
        if (now_owned[n] != sh->owned) {
            struct jw_log_field f[] = {JW_LOG_I("shard", n), JW_LOG_S("instance", s->instance)};
            jw_log_event(JW_LOG_INFO, now_owned[n] ? "shard taken" : "shard given up", f, 2);
        }
        if (now_owned[n] && !sh->owned) {
            sh->owned = true;
            sh->loaded = false;
            sh->horizon = 0;
            poll_shard(s, n);
        } else if (!now_owned[n] && sh->owned) {
            sh->owned = false;
            forget_shard(s, n);
        }
        owned += sh->owned;
    }
    if (owned != s->owned)
        jw_info("scheduler: %s owns %d of %d shards", s->instance, owned, s->nshards);
    s->owned = owned;
}

static void send_tick(struct jw_scheduler *s, bool draining)
{
    struct jw_args a = JW_ARGS_INIT;
    jw_args_adds(&a, s->instance);
    jw_args_addi(&a, s->opt.lease_ms);
    jw_args_adds(&a, draining ? "1" : "0");
    jw_args_addi(&a, s->nshards);
    s->ticking = true;
    jw_store_eval(s->store, JW_LUA_SCHED_TICK, "sched", &a, on_ticked, s);
}

static void on_shards(enum jw_store_status st, const struct jw_reply *r, void *arg)
{
    struct jw_scheduler *s = arg;
    s->ticking = false;
    const char *v = st == JW_STORE_OK ? jw_reply_str(r, NULL) : NULL;
    long n = v ? strtol(v, NULL, 10) : 0;
    if (n < 1 || n > 4096)
        return; /* asked again at the next tick */
    if (n != s->opt.shards)
        jw_info("scheduler: using the %ld shards this Redis was set up with (not %" PRId64 ")", n,
                s->opt.shards);
    s->nshards = (int)n;
    s->shards = jw_calloc((size_t)n, sizeof(struct shard));
    send_tick(s, false);
}

static void on_tick_timer(evutil_socket_t fd, short what, void *arg)
{
    struct jw_scheduler *s = arg;
    if (s->ticking || s->stopping)
        return;
    if (!s->nshards) {
        /* the number of shards is fixed by the first instance that starts */
        struct jw_args set = JW_ARGS_INIT, get = JW_ARGS_INIT;
        jw_args_adds(&set, "SET");
        jw_args_adds(&set, "jw:{sched}:shards");
        jw_args_addi(&set, s->opt.shards);
        jw_args_adds(&set, "NX");
        jw_store_cmd(s->store, &set, NULL, NULL);
        jw_args_adds(&get, "GET");
        jw_args_adds(&get, "jw:{sched}:shards");
        s->ticking = true;
        jw_store_cmd(s->store, &get, on_shards, s);
        return;
    }
    send_tick(s, false);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

struct jw_scheduler *jw_scheduler_new(struct event_base *base, struct jw_store *store,
                                      const struct jw_scheduler_options *opt, const struct jw_fire_hooks *hooks)
{
    struct jw_scheduler *s = jw_calloc(1, sizeof(*s));
    s->base = base;
    s->store = store;
    s->opt = *opt;
    metrics_register(s);
    s->instance = jw_strdup(opt->instance_id);
    s->opt.instance_id = s->instance;
    s->hooks = *hooks;
    s->entries = jw_map_new();
    s->lanes = jw_map_new();
    s->times = jw_malloc(MAX_CATCH_UP * sizeof(int64_t));
    jw_clock_init(&s->clock, base, on_expired, s);
    s->tick = event_new(base, -1, EV_PERSIST, on_tick_timer, s);
    s->poll = event_new(base, -1, EV_PERSIST, on_poll_timer, s);
    s->fire = event_new(base, -1, 0, on_fire, s);
    struct timeval tick = {0, TICK_MS * 1000};
    struct timeval poll = {opt->poll_ms / 1000, (opt->poll_ms % 1000) * 1000};
    event_add(s->tick, &tick);
    event_add(s->poll, &poll);
    on_tick_timer(-1, 0, s);
    return s;
}

void jw_scheduler_stop(struct jw_scheduler *s, void (*done)(void *), void *arg)
{
    s->stopping = true;
    event_del(s->tick);
    event_del(s->poll);
    jw_clock_stop(&s->clock);
    event_del(s->fire);
    if (!s->nshards) {
        done(arg);
        return;
    }
    s->stop_done = done;
    s->stop_arg = arg;
    send_tick(s, true); /* give the shards up; on_ticked calls done */
}

static void free_entry_cb(void *value, void *arg)
{
    entry_free(value);
}

void jw_scheduler_free(struct jw_scheduler *s)
{
    if (!s)
        return;
    jw_map_each(s->entries, free_entry_cb, NULL);
    jw_map_free(s->entries);
    while (s->round) {
        struct lane *l = s->round;
        s->round = l->next;
        free(l);
    }
    jw_map_free(s->lanes);
    free(s->times);
    jw_clock_free(&s->clock);
    event_free(s->tick);
    event_free(s->poll);
    event_free(s->fire);
    free(s->shards);
    free(s->instance);
    free(s);
}

bool jw_scheduler_owns(const struct jw_scheduler *s, int n)
{
    return n >= 0 && n < s->nshards && s->shards[n].owned && !s->stopping;
}

int jw_scheduler_shards(const struct jw_scheduler *s)
{
    return s->nshards;
}

bool jw_scheduler_backlogged(const struct jw_scheduler *s)
{
    return s->round != NULL && !s->stopping; /* a stopping scheduler claims no more */
}

int jw_scheduler_owned(const struct jw_scheduler *s)
{
    return s->owned;
}

size_t jw_scheduler_queued(const struct jw_scheduler *s)
{
    return s->clock.wheel.count;
}
