/* Unit tests for the metrics registry and its Prometheus text exposition
 * (src/util/metrics.c): counters with and without labels, cumulative
 * histogram buckets on their bounds, gauges read when rendered. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobwheel/buf.h"
#include "jobwheel/metrics.h"

static char *render(void)
{
    struct jw_buf b = JW_BUF_INIT;
    jw_metrics_render(&b);
    return jw_buf_detach(&b);
}

static void has(const char *text, const char *line)
{
    char want[256];
    snprintf(want, sizeof(want), "\n%s\n", line);
    struct jw_buf b = JW_BUF_INIT;
    jw_buf_putc(&b, '\n');
    jw_buf_puts(&b, text);
    if (!strstr(jw_buf_str(&b), want))
        fail_msg("missing line \"%s\" in:\n%s", line, text);
    jw_buf_free(&b);
}

static void test_counters(void **state)
{
    (void)state;
    static const char *const labels[] = {"code=\"2xx\"", "code=\"5xx\""};
    jw_metric plain = jw_metrics_counter("t_plain", "A plain counter", NULL, 0);
    jw_metric coded = jw_metrics_counter("t_coded", "By code", labels, 2);
    assert_int_not_equal(plain, 0);
    assert_int_equal(jw_metrics_counter("t_plain", "again", NULL, 0), plain); /* a name registers once */
    jw_metrics_add(plain, 0, 1);
    jw_metrics_add(plain, 0, 2);
    jw_metrics_add(coded, 1, 1);
    jw_metrics_add(coded, 2, 5);   /* no such series: ignored */
    jw_metrics_add(plain, 0, -4);  /* a counter never goes down */
    jw_metrics_add(0, 0, 1);       /* no family */
    jw_metrics_observe(plain, 0, 1); /* not a histogram */
    char *t = render();
    has(t, "# HELP t_plain_total A plain counter");
    has(t, "# TYPE t_plain_total counter");
    has(t, "t_plain_total 3");
    has(t, "t_coded_total{code=\"2xx\"} 0");
    has(t, "t_coded_total{code=\"5xx\"} 1");
    free(t);
    jw_metrics_reset();
}

static void test_histogram_buckets_are_cumulative(void **state)
{
    (void)state;
    static const char *const labels[] = {"script=\"a\""};
    jw_metric h = jw_metrics_histogram("t_seconds", "Times", labels, 1);
    jw_metrics_observe(h, 0, 0.001); /* on a bound: counted in it (le) */
    jw_metrics_observe(h, 0, 0.003);
    jw_metrics_observe(h, 0, 2.0);
    jw_metrics_observe(h, 0, 1000); /* above every bound */
    jw_metrics_observe(h, 0, -1);   /* as 0 */
    char *t = render();
    has(t, "# TYPE t_seconds histogram");
    has(t, "t_seconds_bucket{script=\"a\",le=\"0.001\"} 2");
    has(t, "t_seconds_bucket{script=\"a\",le=\"0.0025\"} 2");
    has(t, "t_seconds_bucket{script=\"a\",le=\"0.005\"} 3");
    has(t, "t_seconds_bucket{script=\"a\",le=\"1\"} 3");
    has(t, "t_seconds_bucket{script=\"a\",le=\"2.5\"} 4");
    has(t, "t_seconds_bucket{script=\"a\",le=\"60\"} 4");
    has(t, "t_seconds_bucket{script=\"a\",le=\"+Inf\"} 5");
    has(t, "t_seconds_count{script=\"a\"} 5");
    has(t, "t_seconds_sum{script=\"a\"} 1002.004");
    free(t);
    jw_metrics_reset();
}

static double seven(void *arg)
{
    return *(int *)arg + 7;
}

static void test_gauges_are_read_when_rendered(void **state)
{
    (void)state;
    int base = 0;
    jw_metrics_gauge("t_gauge", "Read at scrape", seven, &base);
    base = 35;
    char *t = render();
    has(t, "# TYPE t_gauge gauge");
    has(t, "t_gauge 42");
    free(t);
    jw_metrics_reset();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_histogram_buckets_are_cumulative),
        cmocka_unit_test(test_gauges_are_read_when_rendered),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
