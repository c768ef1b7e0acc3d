/* clock: a timer wheel driven by one libevent timer (see clock.h). */
#include "jobwheel/clock.h"

#include <event2/event.h>

#include "jobwheel/time.h"

static void arm(struct jw_clock *c)
{
    int64_t next = jw_wheel_next(&c->wheel);
    if (next < 0 || next == c->armed_at)
        return;
    int64_t wait = next * 1000 - jw_time_now_us();
    if (wait < 0)
        wait = 0;
    struct timeval tv = {.tv_sec = wait / 1000000, .tv_usec = wait % 1000000};
    event_add(c->timer, &tv);
    c->armed_at = next;
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct jw_clock *c = arg;
    (void)fd;
    (void)what;
    c->armed_at = -1;
    jw_wheel_expire(&c->wheel, jw_time_now_ms(), c->due, c->arg);
    arm(c);
}

void jw_clock_init(struct jw_clock *c, struct event_base *base, void (*due)(struct jw_wheel_entry *e, void *arg),
                   void *arg)
{
    jw_wheel_init(&c->wheel, jw_time_now_ms());
    c->timer = evtimer_new(base, on_timer, c);
    c->armed_at = -1;
    c->due = due;
    c->arg = arg;
}

int jw_clock_add(struct jw_clock *c, struct jw_wheel_entry *e, int64_t when_ms)
{
    jw_wheel_expire(&c->wheel, jw_time_now_ms(), c->due, c->arg); /* (an entry beyond the span is refused) */
    if (jw_wheel_add(&c->wheel, e, when_ms) != 0)
        return -1;
    arm(c);
    return 0;
}

void jw_clock_remove(struct jw_clock *c, struct jw_wheel_entry *e)
{
    jw_wheel_remove(&c->wheel, e);
}

void jw_clock_stop(struct jw_clock *c)
{
    event_del(c->timer);
}

void jw_clock_free(struct jw_clock *c)
{
    if (c->timer)
        event_free(c->timer);
    c->timer = NULL;
}
