/* metrics: the registry of counters, histograms and gauges, and its
 * Prometheus text exposition (see include/jobwheel/metrics.h). */
#include "jobwheel/metrics.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobwheel/buf.h"

#define FAMILIES_MAX 64

enum kind { COUNTER, HISTOGRAM, GAUGE };

/* The buckets' upper bounds, in seconds, and as the `le` label writes them. */
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
static const char *const bound_text[] = {"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25",
                                         "0.5",   "1",      "2.5",   "5",    "10",    "30",   "60"};
#define NBOUNDS (sizeof(bounds) / sizeof(bounds[0]))

struct histogram {
    uint64_t in[NBOUNDS + 1]; /* observations per bucket (the last: above every bound) */
    double sum;
};

struct family {
    enum kind kind;
    const char *name, *help;
    const char *const *labels; /* NULL: one series without labels */
    size_t nseries;
    double *values;          /* a counter's, per series */
    struct histogram *hists; /* a histogram's, per series */
    double (*fn)(void *);    /* a gauge's */
    void *arg;
};

static struct family families[FAMILIES_MAX];
static int nfamilies;

static jw_metric add_family(enum kind kind, const char *name, const char *help, const char *const *labels,
                            size_t nseries)
{
    for (int i = 0; i < nfamilies; i++)
        if (!strcmp(families[i].name, name))
            return i + 1;
    if (nfamilies == FAMILIES_MAX)
        return 0;
    struct family *f = &families[nfamilies];
    memset(f, 0, sizeof(*f));
    f->kind = kind;
    f->name = name;
    f->help = help;
    bool labelled = labels && nseries;
    f->labels = labelled ? labels : NULL;
    f->nseries = labelled ? nseries : 1;
    if (kind == COUNTER)
        f->values = jw_calloc(f->nseries, sizeof(*f->values));
    else if (kind == HISTOGRAM)
        f->hists = jw_calloc(f->nseries, sizeof(*f->hists));
    return ++nfamilies;
}

jw_metric jw_metrics_counter(const char *name, const char *help, const char *const *labels, size_t nseries)
{
    return add_family(COUNTER, name, help, labels, nseries);
}

jw_metric jw_metrics_histogram(const char *name, const char *help, const char *const *labels, size_t nseries)
{
    return add_family(HISTOGRAM, name, help, labels, nseries);
}

jw_metric jw_metrics_gauge(const char *name, const char *help, double (*fn)(void *arg), void *arg)
{
    jw_metric m = add_family(GAUGE, name, help, NULL, 0);
    if (m) {
        families[m - 1].fn = fn;
        families[m - 1].arg = arg;
    }
    return m;
}

static struct family *family(jw_metric m, enum kind kind, size_t i)
{
    if (m < 1 || m > nfamilies)
        return NULL;
    struct family *f = &families[m - 1];
    return f->kind == kind && i < f->nseries ? f : NULL;
}

void jw_metrics_add(jw_metric m, size_t i, double n)
{
    struct family *f = family(m, COUNTER, i);
    if (f && n > 0)
        f->values[i] += n;
}

void jw_metrics_observe(jw_metric m, size_t i, double v)
{
    struct family *f = family(m, HISTOGRAM, i);
    if (!f)
        return;
    if (v < 0)
        v = 0;
    size_t b = 0;
    while (b < NBOUNDS && v > bounds[b])
        b++;
    f->hists[i].in[b]++;
    f->hists[i].sum += v;
}

static void put_value(struct jw_buf *out, double v)
{
    char num[40];
    if (v >= 0 && v < 9007199254740992.0 && v == (double)(int64_t)v)
        jw_buf_puti(out, (int64_t)v);
    else {
        snprintf(num, sizeof(num), "%.9g", v);
        jw_buf_puts(out, num);
    }
}

/* name{labels[,extra]} value */
static void sample(struct jw_buf *out, const char *name, const char *suffix, const char *labels,
                   const char *extra, double v)
{
    jw_buf_puts(out, name);
    jw_buf_puts(out, suffix);
    bool any = labels && labels[0];
    if (any || extra) {
        jw_buf_putc(out, '{');
        if (any)
            jw_buf_puts(out, labels);
        if (any && extra)
            jw_buf_putc(out, ',');
        if (extra)
            jw_buf_puts(out, extra);
        jw_buf_putc(out, '}');
    }
    jw_buf_putc(out, ' ');
    put_value(out, v);
    jw_buf_putc(out, '\n');
}

struct extra {
    void (*render)(struct jw_buf *out, void *arg);
    void *arg;
};
static struct extra extras[4];
static int nextras;

void jw_metrics_extra(void (*render)(struct jw_buf *out, void *arg), void *arg)
{
    if (nextras < (int)(sizeof(extras) / sizeof(extras[0])))
        extras[nextras++] = (struct extra){render, arg};
}

void jw_metrics_render(struct jw_buf *out)
{
    static const char *const type[] = {"counter", "histogram", "gauge"};
    for (int k = 0; k < nfamilies; k++) {
        const struct family *f = &families[k];
        jw_buf_printf(out, "# HELP %s%s %s\n# TYPE %s%s %s\n", f->name, f->kind == COUNTER ? "_total" : "",
                      f->help, f->name, f->kind == COUNTER ? "_total" : "", type[f->kind]);
        for (size_t i = 0; i < f->nseries; i++) {
            const char *labels = f->labels ? f->labels[i] : NULL;
            if (f->kind == COUNTER) {
                sample(out, f->name, "_total", labels, NULL, f->values[i]);
            } else if (f->kind == GAUGE) {
                sample(out, f->name, "", NULL, NULL, f->fn(f->arg));
            } else {
                const struct histogram *h = &f->hists[i];
                uint64_t below = 0;
                char le[32];
                for (size_t b = 0; b < NBOUNDS; b++) {
                    below += h->in[b];
                    snprintf(le, sizeof(le), "le=\"%s\"", bound_text[b]);
                    sample(out, f->name, "_bucket", labels, le, (double)below);
                }
                below += h->in[NBOUNDS];
                sample(out, f->name, "_bucket", labels, "le=\"+Inf\"", (double)below);
                sample(out, f->name, "_sum", labels, NULL, h->sum);
                sample(out, f->name, "_count", labels, NULL, (double)below);
            }
        }
    }
    for (int k = 0; k < nextras; k++)
        extras[k].render(out, extras[k].arg);
}

void jw_metrics_reset(void)
{
    for (int k = 0; k < nfamilies; k++) {
        free(families[k].values);
        free(families[k].hists);
    }
    nfamilies = 0;
    nextras = 0;
}
