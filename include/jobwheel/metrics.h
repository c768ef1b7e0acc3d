/* metrics: the process's counters, histograms and gauges, and their
 * Prometheus text exposition (format 0.0.4) for GET /metrics. The modules
 * that own a thing count it (a run's outcome in exec, a firing in sched, a
 * Redis call in store); gauges are read from their owners when scraped.
 * The loop is single-threaded, so nothing here locks.
 *
 * A family is registered once, at start-up, with its series: each series
 * is one set of labels, given already written ("outcome=\"failed\""), so
 * the label sets are fixed and bounded (never a job or run id). Updates
 * name the family and the series by index: an array store, no lookup. */
#ifndef JOBWHEEL_METRICS_H
#define JOBWHEEL_METRICS_H

#include <stddef.h>

#include "jobwheel/buf.h"

/* A family; 0 is none (updates to it are ignored). */
typedef int jw_metric;

/* Register a counter or a histogram named `name` (without the _total
 * suffix a counter's samples carry), with `nseries` label sets (labels[i]
 * is series i's, as written between the braces; NULL or nseries 0: one
 * series without labels). Histograms share one set of buckets, in seconds,
 * from a millisecond to a minute. Strings are borrowed: literals. Returns
 * the family, or 0 when the registry is full. Registering a name again
 * returns the family it has. */
jw_metric jw_metrics_counter(const char *name, const char *help, const char *const *labels, size_t nseries);
jw_metric jw_metrics_histogram(const char *name, const char *help, const char *const *labels, size_t nseries);
/* A gauge read when scraped: fn(arg) gives its value. */
jw_metric jw_metrics_gauge(const char *name, const char *help, double (*fn)(void *arg), void *arg);

/* Counter: add n to series i. Histogram: observe v (seconds) in series i. */
void jw_metrics_add(jw_metric m, size_t i, double n);
void jw_metrics_observe(jw_metric m, size_t i, double v);

/* A writer of families whose label sets are not fixed in advance (the
 * per-tenant series, bounded by its owner): called after the registered
 * families at each render. At most 4; arg is borrowed. */
void jw_metrics_extra(void (*render)(struct jw_buf *out, void *arg), void *arg);

/* Every family, in the order registered, as Prometheus text. */
void jw_metrics_render(struct jw_buf *out);

/* Forget every family (tests; the process registers once). */
void jw_metrics_reset(void);

#endif
