/* fair: how one instance shares its attempt slots between tenants — pure
 * bookkeeping, no I/O (the dispatcher starts the runs it names).
 *
 * A tenant holds at most `per_tenant` of the instance's `slots` at once, so
 * a tenant whose endpoints never answer cannot hold them all. A run that
 * cannot start now waits in its tenant's queue; when slots free, the
 * tenants with waiting runs that are under their cap take them in turn,
 * one run each per turn (deficit round robin with every run costing one
 * slot), so a tenant with a run waiting gets a slot within one round of
 * the others, whatever they send. Each operation is O(1) (amortized).
 *
 * The queues are bounded: all together by queue_max, each by
 * tenant_queue_max; below queue_floor a tenant may queue even when
 * queue_max is reached, so a tenant that just got work takes part in the
 * next round however much the others queued. A run refused a place stays
 * ready in Redis, where the shard owner's sweep offers it again. */
#ifndef JOBWHEEL_FAIR_H
#define JOBWHEEL_FAIR_H

#include <stdbool.h>
#include <stddef.h>

struct jw_fair_limits {
    size_t slots;            /* attempts at once on the instance (max_inflight; at least 1) */
    size_t per_tenant;       /* attempts at once of one tenant (1..slots) */
    size_t queue_max;        /* runs waiting, all tenants together */
    size_t tenant_queue_max; /* runs waiting, one tenant */
    size_t queue_floor;      /* a tenant may always queue this many */
};

struct jw_fair;
/* A tenant's account: its slots and its queue. */
struct jw_fair_tenant;

struct jw_fair *jw_fair_new(const struct jw_fair_limits *l);
/* Frees every account and queued member. */
void jw_fair_free(struct jw_fair *f);

/* The account of a tenant, made on first use. It lives while it holds
 * slots or queued runs; jw_fair_trim frees it once it holds neither. */
struct jw_fair_tenant *jw_fair_tenant(struct jw_fair *f, const char *tenant);

/* Take up to `want` slots for tenant t to start runs at once: as many as
 * the instance and t's cap leave, but none while runs wait here that go
 * first (t's own, or another tenant's that may start). Each slot comes
 * back through jw_fair_give. */
size_t jw_fair_take(struct jw_fair *f, struct jw_fair_tenant *t, size_t want);
/* t gives back n slots (attempts ended, or starts that did not happen). */
void jw_fair_give(struct jw_fair *f, struct jw_fair_tenant *t, size_t n);

/* Queue member ("<tenant>:<run>", copied) of tenant t until a slot is
 * free. false when it is queued already, or when there is no room. */
bool jw_fair_queue(struct jw_fair *f, struct jw_fair_tenant *t, const char *member);
/* The next queued run to start, the tenants in turn, with its slot taken:
 * its member (the caller frees it), and in *t its tenant. NULL when no
 * slot is free or every tenant with queued runs is at its cap. */
char *jw_fair_next(struct jw_fair *f, struct jw_fair_tenant **t);

size_t jw_fair_used(const struct jw_fair *f);    /* slots taken */
size_t jw_fair_waiting(const struct jw_fair *f); /* runs queued */
size_t jw_fair_tenant_used(const struct jw_fair_tenant *t);
size_t jw_fair_tenant_waiting(const struct jw_fair_tenant *t);
size_t jw_fair_tenants(const struct jw_fair *f); /* accounts kept */

/* Free the accounts that hold nothing (accounts of tenants seen once are
 * kept until then, so a run's start and end do not make and free one). */
void jw_fair_trim(struct jw_fair *f);

#endif
