/* fair: slots and queues per tenant, tenants in turn (see
 * include/jobwheel/fair.h). */
#include "jobwheel/fair.h"

#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"
#include "jobwheel/map.h"

struct jw_fair_tenant {
    size_t used;                 /* slots held: attempts running, starts asked for */
    char **q;                    /* queued members, a ring */
    size_t qhead, qlen, qcap;    /* ... its first, its length, its size */
    bool in_round;               /* in f's round (it had a run to start when put there) */
    struct jw_fair_tenant *next; /* in the round */
    char id[];                   /* the tenant: the accounts map's key */
};

struct jw_fair {
    struct jw_fair_limits l;
    size_t used;                        /* slots held, all tenants */
    size_t qlen;                        /* runs queued, all tenants */
    struct jw_map *tenants;             /* id -> struct jw_fair_tenant */
    struct jw_map *queued;              /* member -> itself (the copy in its tenant's ring) */
    struct jw_fair_tenant *head, *tail; /* the round: tenants that had a run to start, in turn */
};

struct jw_fair *jw_fair_new(const struct jw_fair_limits *l)
{
    struct jw_fair *f = jw_calloc(1, sizeof(*f));
    f->l = *l;
    if (f->l.slots < 1)
        f->l.slots = 1;
    if (f->l.per_tenant < 1 || f->l.per_tenant > f->l.slots)
        f->l.per_tenant = f->l.slots;
    f->tenants = jw_map_new();
    f->queued = jw_map_new();
    return f;
}

static void tenant_free(struct jw_fair_tenant *t)
{
    for (size_t i = 0; i < t->qlen; i++)
        free(t->q[(t->qhead + i) % t->qcap]);
    free(t->q);
    free(t);
}

static void free_tenant_cb(void *value, void *arg)
{
    (void)arg;
    tenant_free(value);
}

void jw_fair_free(struct jw_fair *f)
{
    if (!f)
        return;
    jw_map_each(f->tenants, free_tenant_cb, NULL);
    jw_map_free(f->tenants);
    jw_map_free(f->queued);
    free(f);
}

struct jw_fair_tenant *jw_fair_tenant(struct jw_fair *f, const char *tenant)
{
    struct jw_fair_tenant *t = jw_map_get(f->tenants, tenant);
    if (t)
        return t;
    size_t n = strlen(tenant);
    t = jw_calloc(1, sizeof(*t) + n + 1);
    memcpy(t->id, tenant, n + 1);
    jw_map_put(f->tenants, t->id, t);
    return t;
}

/* May t start a queued run once a slot is free? */
static bool eligible(const struct jw_fair *f, const struct jw_fair_tenant *t)
{
    return t->qlen > 0 && t->used < f->l.per_tenant;
}

/* t takes its turn after the tenants already in the round. */
static void round_push(struct jw_fair *f, struct jw_fair_tenant *t)
{
    t->in_round = true;
    t->next = NULL;
    if (f->tail)
        f->tail->next = t;
    else
        f->head = t;
    f->tail = t;
}

static struct jw_fair_tenant *round_pop(struct jw_fair *f)
{
    struct jw_fair_tenant *t = f->head;
    f->head = t->next;
    if (!f->head)
        f->tail = NULL;
    t->next = NULL;
    t->in_round = false;
    return t;
}

/* A tenant stays in the round when it stops being eligible (it reached
 * its cap through jw_fair_take); it leaves when its turn comes. Drop such
 * tenants from the head: is a tenant left whose run may start? */
static bool someone_waits(struct jw_fair *f)
{
    while (f->head && !eligible(f, f->head))
        round_pop(f);
    return f->head != NULL;
}

size_t jw_fair_take(struct jw_fair *f, struct jw_fair_tenant *t, size_t want)
{
    if (!want || t->qlen || f->used >= f->l.slots || t->used >= f->l.per_tenant || someone_waits(f))
        return 0;
    size_t n = f->l.slots - f->used, mine = f->l.per_tenant - t->used;
    if (n > mine)
        n = mine;
    if (n > want)
        n = want;
    t->used += n;
    f->used += n;
    return n;
}

void jw_fair_give(struct jw_fair *f, struct jw_fair_tenant *t, size_t n)
{
    if (n > t->used) /* never: every slot given back was taken */
        n = t->used;
    t->used -= n;
    f->used -= n;
    if (!t->in_round && eligible(f, t))
        round_push(f, t);
}

bool jw_fair_queue(struct jw_fair *f, struct jw_fair_tenant *t, const char *member)
{
    if (t->qlen >= f->l.tenant_queue_max || (t->qlen >= f->l.queue_floor && f->qlen >= f->l.queue_max) ||
        jw_map_get(f->queued, member))
        return false;
    if (t->qlen == t->qcap) { /* grow the ring, unrolled */
        size_t cap = t->qcap ? t->qcap * 2 : 16;
        char **q = jw_calloc(cap, sizeof(char *));
        for (size_t i = 0; i < t->qlen; i++)
            q[i] = t->q[(t->qhead + i) % t->qcap];
        free(t->q);
        t->q = q;
        t->qcap = cap;
        t->qhead = 0;
    }
    char *m = jw_strdup(member);
    t->q[(t->qhead + t->qlen) % t->qcap] = m;
    t->qlen++;
    f->qlen++;
    jw_map_put(f->queued, m, m);
    if (!t->in_round && eligible(f, t))
        round_push(f, t);
    return true;
}

char *jw_fair_next(struct jw_fair *f, struct jw_fair_tenant **out)
{
    while (f->used < f->l.slots && f->head) {
        struct jw_fair_tenant *t = round_pop(f);
        if (!eligible(f, t))
            continue; /* back in the round when it is again (give, queue) */
        char *m = t->q[t->qhead];
        t->qhead = (t->qhead + 1) % t->qcap;
        t->qlen--;
        f->qlen--;
        jw_map_del(f->queued, m);
        t->used++;
        f->used++;
        if (eligible(f, t))
            round_push(f, t); /* its next run after the others' */
        *out = t;
        return m;
    }
    *out = NULL;
    return NULL;
}

size_t jw_fair_used(const struct jw_fair *f)
{
    return f->used;
}

size_t jw_fair_waiting(const struct jw_fair *f)
{
    return f->qlen;
}

size_t jw_fair_tenant_used(const struct jw_fair_tenant *t)
{
    return t->used;
}

size_t jw_fair_tenant_waiting(const struct jw_fair_tenant *t)
{
    return t->qlen;
}

size_t jw_fair_tenants(const struct jw_fair *f)
{
    return jw_map_count(f->tenants);
}

struct idle {
    struct jw_fair_tenant **list;
    size_t n, cap;
};

static void collect_idle(void *value, void *arg)
{
    struct jw_fair_tenant *t = value;
    struct idle *idle = arg;
    if (t->used || t->qlen || t->in_round)
        return;
    if (idle->n == idle->cap) {
        idle->cap = idle->cap ? idle->cap * 2 : 16;
        idle->list = jw_realloc(idle->list, idle->cap * sizeof(*idle->list));
    }
    idle->list[idle->n++] = t;
}

void jw_fair_trim(struct jw_fair *f)
{
    struct idle idle = {0};
    jw_map_each(f->tenants, collect_idle, &idle);
    for (size_t i = 0; i < idle.n; i++) {
        jw_map_del(f->tenants, idle.list[i]->id);
        tenant_free(idle.list[i]);
    }
    free(idle.list);
}
