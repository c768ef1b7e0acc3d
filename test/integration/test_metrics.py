"""Issue 15: GET /metrics in the Prometheus text format (parsed here by
Debian's python3-prometheus-client, as a Prometheus server would), counters
that move with what runs do, metrics_token, and one log line per attempt
outcome with its ids, so `grep run=<id>` tells a run's story."""
import json
import time
import uuid

from prometheus_client.parser import text_string_to_metric_families

from conftest import Client, Jobwheel, Redis, claims_for, job_body, make_token, wait_until


def scrape(s, token=None):
    res = s.request("GET", "/metrics", token=token)
    assert res.status == 200, res
    assert res.headers["content-type"].startswith("text/plain; version=0.0.4"), res.headers
    samples = {}
    for family in text_string_to_metric_families(res.body.decode()):
        for x in family.samples:
            samples[(x.name, tuple(sorted(x.labels.items())))] = x.value
    return samples


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moved(before, after, name, **labels):
    return value(after, name, **labels) - value(before, name, **labels)


def run_of(c, rid):
    r = c.get(f"/v1/runs/{rid}")
    assert r.status == 200, r
    return r.json()


def ended(c, rid):
    wait_until(lambda: run_of(c, rid)["status"] in ("completed", "failed", "timed_out"), timeout=20,
               what=f"run {rid} to end")
    return run_of(c, rid)


def test_metrics_move_with_what_runs_do_and_each_attempt_is_one_line(tmp_path, sink):
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=["--allow-private-targets"])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        ok_path, bad_path = "/" + uuid.uuid4().hex, "/" + uuid.uuid4().hex
        sink.script(bad_path, (500, {}, {"no": 1}, 0), sticky=True)
        ok = c.post("/v1/jobs", job_body(endpoint_url=sink.url(ok_path))).json()["id"]
        bad = c.post("/v1/jobs", job_body(endpoint_url=sink.url(bad_path), max_attempts=2,
                                          retry_delays_secs=[0])).json()["id"]
        before = scrape(s)
        good_run = c.post(f"/v1/jobs/{ok}/trigger", {"payload": {"n": 1}}).json()["id"]
        bad_run = c.post(f"/v1/jobs/{bad}/trigger").json()["id"]
        assert ended(c, good_run)["status"] == "completed"
        assert ended(c, bad_run)["status"] == "failed"
        wait_until(lambda: moved(before, scrape(s), "jobwheel_runs_ended_total", status="failed") == 1,
                   what="the failed run counted")
        after = scrape(s)
        assert moved(before, after, "jobwheel_attempts_total", outcome="completed", code="2xx") == 1
        assert moved(before, after, "jobwheel_attempts_total", outcome="failed", code="5xx") == 2
        assert moved(before, after, "jobwheel_attempts_started_total") == 3
        assert moved(before, after, "jobwheel_runs_started_total") == 2
        assert moved(before, after, "jobwheel_retries_total") == 1
        assert moved(before, after, "jobwheel_runs_ended_total", status="completed") == 1
        assert moved(before, after, "jobwheel_runs_dead_total") == 1
        assert moved(before, after, "jobwheel_dispatch_latency_seconds_count") == 3
        assert moved(before, after, "jobwheel_attempt_duration_seconds_count") == 3
        assert moved(before, after, "jobwheel_redis_call_duration_seconds_count", script="run_create") >= 2
        assert moved(before, after, "jobwheel_redis_call_duration_seconds_count", script="run_finish") >= 1
        assert moved(before, after, "jobwheel_http_requests_total", code="2xx") >= 4
        assert value(after, "jobwheel_redis_up") == 1
        assert value(after, "jobwheel_shards_owned") >= 1
        assert value(after, "jobwheel_calls_in_flight") == 0
        # a histogram's buckets are cumulative and end at its count
        assert value(after, "jobwheel_dispatch_latency_seconds_bucket", le="+Inf") == \
            value(after, "jobwheel_dispatch_latency_seconds_count")
        # no job, run or tenant id is a label
        assert all(good_run not in str(k) and ok not in str(k) for k in after)

        # the bad run's story, one line per attempt
        def story():
            return [line for line in s.output().splitlines() if f"run={bad_run}" in line]
        wait_until(lambda: len(story()) == 2, what="two attempt lines")
        first, last = story()
        for line, attempt in ((first, 1), (last, 2)):
            assert f"job={bad}" in line and f"attempt={attempt}" in line and "outcome=failed" in line, line
            assert "http_status=500" in line, line
        assert "next=retry" in first and "due=" in first, first
        assert "next=end" in last and "status=failed" in last and " warn " in last, last
        good = [line for line in s.output().splitlines() if f"run={good_run}" in line]
        assert len(good) == 1 and "outcome=completed" in good[0] and "status=completed" in good[0], good
    finally:
        assert s.stop() == 0
        r.stop()


def test_attempt_lines_are_json_with_log_format_json(tmp_path, sink):
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=["--allow-private-targets", "--log-format", "json"])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        p = "/" + uuid.uuid4().hex
        job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p))).json()["id"]
        rid = c.post(f"/v1/jobs/{job}/trigger").json()["id"]
        ended(c, rid)

        def lines():
            out = []
            for line in s.output().splitlines():
                if rid in line:
                    out.append(json.loads(line))
            return out
        wait_until(lambda: any(x.get("msg") == "attempt" for x in lines()), what="the attempt line")
        (a,) = [x for x in lines() if x.get("msg") == "attempt"]
        assert (a["run"], a["job"], a["attempt"], a["outcome"], a["http_status"], a["next"], a["status"]) == \
            (rid, job, 1, "completed", 200, "end", "completed"), a
        assert a["level"] == "info" and isinstance(a["duration_ms"], int)
    finally:
        assert s.stop() == 0
        r.stop()


def test_firings_are_counted_and_timed(tmp_path, sink):
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=["--allow-private-targets"])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        p = "/" + uuid.uuid4().hex
        before = scrape(s)
        job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), cron="* * * * * *")).json()["id"]
        sink.wait_for(lambda rs: len(sink.to(p)) >= 2, timeout=10)
        c.patch(f"/v1/jobs/{job}", {"enabled": False})
        after = scrape(s)
        assert moved(before, after, "jobwheel_firings_total") >= 2
        assert moved(before, after, "jobwheel_firing_lateness_seconds_count") >= 2
        assert value(after, "jobwheel_timer_wheel_entries") >= 0
    finally:
        assert s.stop() == 0
        r.stop()


def test_metrics_token_guards_metrics(tmp_path):
    r = Redis(tmp_path / "redis")
    secret = "m-" + uuid.uuid4().hex
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=["--metrics-token", secret])
    try:
        for token in (None, "wrong", secret + "x", secret[:-1]):
            res = s.request("GET", "/metrics", token=token)
            assert res.status == 401, (token, res)
            assert res.headers["content-type"] == "application/problem+json"
            assert res.headers["www-authenticate"].startswith("Bearer")
            assert secret not in res.body.decode()
        samples = scrape(s, token=secret)
        assert value(samples, "jobwheel_redis_up") == 1
        assert secret not in s.output()
        # the other operations' endpoints stay open
        assert s.request("GET", "/healthz").status == 200
    finally:
        assert s.stop() == 0
        r.stop()


def test_queue_gauges_count_the_shards_owned(tmp_path, sink):
    """Each owner counts its shards' ready, delayed and running runs; with
    one instance, that is every run."""
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=["--allow-private-targets"])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        hang = "/" + uuid.uuid4().hex
        sink.script(hang, (200, {}, {}, 8), sticky=True)  # answers after 8 s
        slow = c.post("/v1/jobs", job_body(endpoint_url=sink.url(hang), timeout_secs=60)).json()["id"]
        later = c.post("/v1/jobs", job_body(endpoint_url=sink.url("/later"))).json()["id"]
        for _ in range(3):
            assert c.post(f"/v1/jobs/{slow}/trigger").status == 201
        for _ in range(5):
            assert c.post(f"/v1/jobs/{later}/trigger", {"delay": 3600}).status == 201

        def counted():
            m = scrape(s)
            return (value(m, "jobwheel_queue_running_runs"), value(m, "jobwheel_queue_delayed_runs"),
                    value(m, "jobwheel_queue_ready_runs"))
        wait_until(lambda: counted() == (3, 5, 0), timeout=15, what="the queue gauges")
    finally:
        assert s.stop() == 0
        r.stop()


def test_queue_gauges_summed_over_instances_count_every_run(tmp_path):
    r = Redis(tmp_path / "redis")
    a = Jobwheel(tmp_path / "a", redis_url=r.url)
    b = Jobwheel(tmp_path / "b", redis_url=r.url)
    try:
        c = Client(a, make_token(claims_for(str(uuid.uuid4()))))
        jobs = [c.post("/v1/jobs", job_body()).json()["id"] for _ in range(8)]
        for j in jobs:  # runs of 8 jobs: spread over the shards
            assert c.post(f"/v1/jobs/{j}/trigger", {"delay": 3600}).status == 201

        def spread():
            ma, mb = scrape(a), scrape(b)
            return (value(ma, "jobwheel_shards_owned") > 0 and value(mb, "jobwheel_shards_owned") > 0 and
                    value(ma, "jobwheel_queue_delayed_runs") + value(mb, "jobwheel_queue_delayed_runs") == 8)
        wait_until(spread, timeout=30, what="both instances owning shards, their counts adding up to 8")
    finally:
        assert a.stop() == 0 and b.stop() == 0
        r.stop()


def test_per_tenant_series_only_when_asked_and_only_the_busiest(tmp_path, sink):
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=["--allow-private-targets", "--metrics-tenants", "2"])
    try:
        tenants = [str(uuid.uuid4()) for _ in range(3)]
        for n, t in zip((3, 2, 1), tenants):  # the first tenant is the busiest
            c = Client(s, make_token(claims_for(t)))
            job = c.post("/v1/jobs", job_body(endpoint_url=sink.url("/t"))).json()["id"]
            runs = [c.post(f"/v1/jobs/{job}/trigger").json()["id"] for _ in range(n)]
            for rid in runs:
                ended(c, rid)

        def series():
            m = scrape(s)
            return {k[1][0][1]: v for k, v in m.items() if k[0] == "jobwheel_tenant_attempts_started_total"}, m
        wait_until(lambda: series()[0] == {tenants[0]: 3, tenants[1]: 2}, timeout=10, what="the two busiest tenants")
        m = series()[1]
        assert value(m, "jobwheel_tenant_runs_ended_total", tenant=tenants[0], status="completed") == 3
        assert value(m, "jobwheel_tenant_runs_ended_total", tenant=tenants[1], status="failed") == 0
        assert not any(tenants[2] in str(k) for k in m)
    finally:
        assert s.stop() == 0
        r.stop()
    # off by default: no tenant appears on /metrics
    r = Redis(tmp_path / "redis2")
    s = Jobwheel(tmp_path / "jw2", redis_url=r.url)
    try:
        assert not any(k[0].startswith("jobwheel_tenant_") for k in scrape(s))
    finally:
        assert s.stop() == 0
        r.stop()
