/* clock: a timer wheel (wheel.h) on the loop — one libevent timer, set to
 * the wheel's earliest deadline to the microsecond (a wait in whole
 * milliseconds from the current one would wake up to 1 ms late); what
 * comes due is handed to the owner's callback, earliest first. The
 * scheduler's firings, the due times of delayed runs and the attempts of a
 * burst started ahead each keep one. */
#ifndef JOBWHEEL_CLOCK_H
#define JOBWHEEL_CLOCK_H

#include <stdint.h>

#include "jobwheel/wheel.h"

struct event;
struct event_base;

struct jw_clock {
    struct jw_wheel wheel;
    struct event *timer;
    int64_t armed_at; /* the deadline the timer is set for (-1: none) */
    void (*due)(struct jw_wheel_entry *e, void *arg);
    void *arg;
};

/* due: called with each entry that comes due (unqueued; it may queue or
 * remove any entry). */
void jw_clock_init(struct jw_clock *c, struct event_base *base, void (*due)(struct jw_wheel_entry *e, void *arg),
                   void *arg);
/* Queue e for when_ms (re-adding moves it), the wheel brought to now first
 * (what is due by then is handed on). Returns -1, e untouched, when when_ms
 * is beyond the wheel's span. */
int jw_clock_add(struct jw_clock *c, struct jw_wheel_entry *e, int64_t when_ms) __attribute__((warn_unused_result));
void jw_clock_remove(struct jw_clock *c, struct jw_wheel_entry *e);
/* Nothing more comes due (the entries stay where they are). */
void jw_clock_stop(struct jw_clock *c);
void jw_clock_free(struct jw_clock *c);

#endif
