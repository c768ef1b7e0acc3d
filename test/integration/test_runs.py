"""Issue 4: runs and HttpCall dispatch against a real HTTP(S) sink — payload,
headers and signature; retries, Retry-After, timeout, fallback, no
redirects; a worker's 202 + progress/heartbeat/complete/fail; cancel;
concurrency and rate limits; idempotency; delays; health; the final-run
webhook; the SSRF guard at dispatch; recovery of an instance's runs after
kill -9. Issue 14: delayed runs and retries start at their time."""
import base64
import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import json
import os
import random
import signal
import socket
import time
import uuid
from datetime import datetime

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, job_body, make_token, wait_until
from sink import Sink, make_tls

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def ms(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def tls_sink(tls):
    s = Sink(tls_dir=tls)
    yield s
    s.close()


@pytest.fixture(scope="module")
def engine(tls, tmp_path_factory):
    """jobwheel that may call loopback addresses (the sink) and trusts the
    test CA — on a Redis of its own: every instance on one Redis starts any
    ready run, so they must share one configuration."""
    d = tmp_path_factory.mktemp("engine")
    r = Redis(d / "redis")
    s = Jobwheel(d, redis_url=r.url, args=["--allow-private-targets", "--tls-ca-file", str(tls / "ca.pem")])
    yield s
    assert s.stop() == 0
    r.stop()


@pytest.fixture
def c(engine):
    return Client(engine, make_token(claims_for(str(uuid.uuid4()))))


def path():
    return "/" + uuid.uuid4().hex


def run_of(c, run_id):
    r = c.get(f"/v1/runs/{run_id}")
    assert r.status == 200, r
    return r.json()


def wait_run(c, run_id, statuses=("completed", "failed", "timed_out", "cancelled", "expired", "crashed"),
             timeout=20):
    box = {}

    def done():
        box["r"] = run_of(c, run_id)
        return box["r"]["status"] in statuses
    wait_until(done, timeout=timeout, step=0.05, what=f"run {run_id} to reach {statuses}")
    return box["r"]


def verify_signature(req, secret=SECRET):
    h = req["headers"]
    key = base64.b64decode(secret[len("whsec_"):])
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + req["body"]
    want = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return want in h["webhook-signature"].split(" ")


def test_trigger_delivers_payload_headers_and_signature(c, sink):
    p = path()
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), webhook_secret=SECRET,
                                      default_run_metadata={"source": "test"})).json()
    payload = {"order": 42, "items": ["a", "b"], "nested": {"x": None}}
    r = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": payload, "metadata": {"who": "me"},
                                                  "tags": {"t": "1"}, "priority": 5})
    assert r.status == 201, r
    run = r.json()
    assert run["status"] == "pending" and run["job_id"] == job["id"] and run["payload"] == payload
    assert run["metadata"] == {"who": "me", "source": "test"} and run["tags"] == {"t": "1"}
    assert run["priority"] == 5 and run["triggered_by"] == "manual:user:tester"
    req = sink.wait_for(lambda rs: len([x for x in rs if x["path"] == p]) >= 1)[-1]
    req = sink.to(p)[0]
    h = req["headers"]
    assert json.loads(req["body"]) == payload
    assert h["content-type"] == "application/json"
    assert h["webhook-id"] == run["id"] == h["x-jobwheel-run-id"]
    assert abs(int(h["webhook-timestamp"]) - time.time()) < 30
    assert verify_signature(req)
    assert h["x-jobwheel-attempt"] == "1"
    assert h["x-jobwheel-run-token"].startswith("jwr_")
    assert int(h["x-jobwheel-scheduled-at"]) == ms(run["created_at"])
    done = wait_run(c, run["id"])
    assert done["status"] == "completed" and done["attempt"] == 1 and done["result"] == {"ok": True}
    tr = done["execution_trace"]
    assert set(tr) >= {"queue_wait_ms", "dequeue_ms", "connect_ms", "ttfb_ms", "transfer_ms", "total_ms",
                       "dispatch_ms"}
    assert tr["total_ms"] >= tr["ttfb_ms"] >= 0
    assert done["started_at"] and done["finished_at"] and done["attempts"][0]["http_status"] == 200


def test_retries_with_delays_then_success(c, sink):
    p = path()
    sink.script(p, 500, 503, 200)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=3, retry_delays_secs=[1, 1],
                                      webhook_secret=SECRET)).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
    done = wait_run(c, run["id"])
    assert done["status"] == "completed" and done["attempt"] == 3
    reqs = sink.to(p)
    assert [r["headers"]["x-jobwheel-attempt"] for r in reqs] == ["1", "2", "3"]
    assert len({r["headers"]["webhook-id"] for r in reqs}) == 1  # the same webhook-id on every attempt
    assert all(verify_signature(r) for r in reqs)
    gaps = [reqs[i + 1]["at"] - reqs[i]["at"] for i in range(2)]
    assert all(0.9 < g < 3 for g in gaps), gaps
    assert [a["http_status"] for a in done["attempts"]] == [500, 503, 200]
    assert [a["next"] for a in done["attempts"]] == ["retry", "retry", "end"]


def test_exhausted_attempts_fail_with_the_answer(c, sink):
    p = path()
    sink.script(p, (500, {}, {"error": "boom"}, 0), sticky=True)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=2, retry_delays_secs=[0])).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
    done = wait_run(c, run["id"])
    assert done["status"] == "failed" and done["attempt"] == 2
    assert done["error"].startswith("HTTP 500") and "boom" in done["error"]


def test_retry_after_is_honoured(c, sink):
    p = path()
    sink.script(p, (429, {"Retry-After": "2"}, {}, 0), 200)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=2, retry_delays_secs=[0])).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
    done = wait_run(c, run["id"])
    assert done["status"] == "completed"
    reqs = sink.to(p)
    assert 1.9 < reqs[1]["at"] - reqs[0]["at"] < 4


def test_timeout(c, sink):
    p = path()
    sink.script(p, (200, {}, {}, 3))
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), timeout_secs=1, max_attempts=1)).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
    done = wait_run(c, run["id"])
    assert done["status"] == "timed_out" and "1000 ms" in done["error"]


def test_fallback_after_attempts(c, sink):
    primary, fallback = path(), path()
    sink.script(primary, 500, sticky=True)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(primary), fallback_endpoint_url=sink.url(fallback),
                                      max_attempts=2, retry_delays_secs=[0])).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
    done = wait_run(c, run["id"])
    assert done["status"] == "completed" and done["attempt"] == 3
    assert len(sink.to(primary)) == 2 and len(sink.to(fallback)) == 1
    assert [a["target"] for a in done["attempts"]] == ["endpoint", "endpoint", "fallback"]


def test_redirects_are_not_followed(c, sink):
    p, target = path(), path()
    sink.script(p, (302, {"Location": sink.url(target)}, {}, 0))
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=1)).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
    done = wait_run(c, run["id"])
    assert done["status"] == "failed" and done["error"].startswith("HTTP 302")
    time.sleep(0.3)
    assert sink.to(target) == []


def test_worker_flow_202_progress_heartbeat_complete(c, engine, sink):
    p = path()
    sink.script(p, 202)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), timeout_secs=30)).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
    token = sink.wait_for(lambda rs: any(x["path"] == p for x in rs)) and sink.to(p)[0]["headers"]["x-jobwheel-run-token"]
    wait_until(lambda: run_of(c, run["id"])["status"] == "running" and
               run_of(c, run["id"])["attempts"] != [], timeout=10)
    rid = run["id"]
    hdr = {"x-run-token": token}
    r = engine.request("POST", f"/v1/runs/{rid}/progress", {"processed": 5, "total": 10, "message": "half"},
                       headers=hdr)
    assert r.status == 200 and r.json() == {"status": "running", "cancel_requested": False}
    assert run_of(c, rid)["progress"] == {"processed": 5, "total": 10, "message": "half"}
    assert engine.request("POST", f"/v1/runs/{rid}/heartbeat", headers=hdr).status == 200
    assert run_of(c, rid)["heartbeat_at"] is not None
    # tokens are bound to their run
    other = c.post(f"/v1/jobs/{job['id']}/trigger", {"delay": 3600}).json()
    assert engine.request("POST", f"/v1/runs/{other['id']}/progress", {}, headers=hdr).status == 401
    assert engine.request("POST", f"/v1/runs/{rid}/progress", {}).status == 401
    assert engine.request("POST", f"/v1/runs/{rid}/progress", {}, headers={"x-run-token": token[:-2] + "xx"}).status == 401
    assert engine.request("POST", f"/v1/runs/{rid}/progress", {"processed": -1}, headers=hdr).status == 400
    r = engine.request("POST", f"/v1/runs/{rid}/complete", {"result": {"rows": 3}}, headers=hdr)
    assert r.status == 200 and r.json()["status"] == "completed"
    done = run_of(c, rid)
    assert done["status"] == "completed" and done["result"] == {"rows": 3}
    # and the token stops working when the run ends
    assert engine.request("POST", f"/v1/runs/{rid}/heartbeat", headers=hdr).status == 401


def test_worker_fail_is_retried(c, engine, sink):
    p = path()
    sink.script(p, 202, 200)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=2, retry_delays_secs=[0])).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
    sink.wait_for(lambda rs: any(x["path"] == p for x in rs))
    token = sink.to(p)[0]["headers"]["x-jobwheel-run-token"]
    wait_until(lambda: run_of(c, run["id"])["attempts"] != [], timeout=10)
    r = engine.request("POST", f"/v1/runs/{run['id']}/fail", {"error": "disk full"},
                       headers={"x-run-token": token})
    assert r.status == 200, r
    done = wait_run(c, run["id"])
    assert done["status"] == "completed" and done["attempt"] == 2
    outcomes = [(a["attempt"], a["outcome"], a["error"]) for a in done["attempts"]]
    assert outcomes[:2] == [(1, "accepted", None), (1, "worker_failed", "disk full")], outcomes


def test_cancel_running_and_pending(c, engine, sink):
    p = path()
    sink.script(p, 202)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p))).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
    sink.wait_for(lambda rs: any(x["path"] == p for x in rs))
    token = sink.to(p)[0]["headers"]["x-jobwheel-run-token"]
    wait_until(lambda: run_of(c, run["id"])["attempts"] != [], timeout=10)
    r = c.post(f"/v1/runs/{run['id']}/cancel")
    assert r.status == 200 and r.json()["status"] == "cancelled" and r.json()["finished_at"]
    r = engine.request("POST", f"/v1/runs/{run['id']}/progress", {"processed": 1}, headers={"x-run-token": token})
    assert r.status == 200 and r.json()["cancel_requested"] is True
    assert c.post(f"/v1/runs/{run['id']}/cancel").status == 409
    later = c.post(f"/v1/jobs/{job['id']}/trigger", {"delay": 60}).json()
    assert later["status"] == "delayed"
    assert c.post(f"/v1/runs/{later['id']}/cancel").json()["status"] == "cancelled"
    assert c.post(f"/v1/runs/{uuid.uuid4()}/cancel").status == 404


def test_worker_silence_times_out_and_retries(c, sink):
    p = path()
    sink.script(p, 202, 200)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), timeout_secs=1, max_attempts=2,
                                      retry_delays_secs=[0])).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
    done = wait_run(c, run["id"], timeout=15)
    assert done["status"] == "completed" and done["attempt"] == 2
    assert [(a["attempt"], a["outcome"]) for a in done["attempts"]][:2] == [(1, "accepted"), (1, "timed_out")]


def test_concurrency_limit_holds_under_a_burst(c, sink):
    p = path()
    sink.script(p, (200, {}, {}, 0.3), sticky=True)
    before = sink.max_active
    sink.max_active = 0
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_concurrency=2)).json()
    r = c.post(f"/v1/jobs/{job['id']}/trigger/bulk", {"items": [{} for _ in range(12)]})
    assert r.status == 201 and r.json()["created"] == 12
    for x in r.json()["results"]:
        wait_run(c, x["id"])
    assert len(sink.to(p)) == 12
    starts = sorted(x["at"] for x in sink.to(p))
    # never more than two at a time at the sink: the 3rd starts after the 1st ended
    assert all(starts[i + 2] - starts[i] >= 0.25 for i in range(len(starts) - 2)), starts
    sink.max_active = max(before, sink.max_active)


def test_rate_limit(c, sink):
    p = path()
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), rate_limit_max=3, rate_limit_window_secs=2)).json()
    r = c.post(f"/v1/jobs/{job['id']}/trigger/bulk", {"items": [{} for _ in range(6)]}).json()
    for x in r["results"]:
        wait_run(c, x["id"])
    starts = sorted(x["at"] for x in sink.to(p))
    assert starts[3] - starts[0] >= 1.9, starts
    assert starts[2] - starts[0] < 1.0


def test_bulk_idempotency_and_dedup(c, sink):
    p = path()
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), dedup_window_secs=60)).json()
    r = c.post(f"/v1/jobs/{job['id']}/trigger/bulk",
               {"items": [{"idempotency_key": "k1"}, {"payload": {"n": 1}}, {"payload": {"n": 2}}]})
    assert r.status == 201
    b = r.json()
    assert b["total"] == 3 and b["created"] == 3
    assert all(x["run_token"].startswith("jwr_") and x["idempotency_hit"] is False for x in b["results"])
    again = c.post(f"/v1/jobs/{job['id']}/trigger/bulk",
                   {"items": [{"idempotency_key": "k1"}, {"payload": {"n": 1}}, {"payload": {"n": 3}}]}).json()
    assert again["total"] == 3 and again["created"] == 1
    assert [x["idempotency_hit"] for x in again["results"]] == [True, True, False]
    assert again["results"][0]["id"] == b["results"][0]["id"] and again["results"][1]["id"] == b["results"][1]["id"]
    one = c.post(f"/v1/jobs/{job['id']}/trigger", {"idempotency_key": "k1"})
    assert one.status == 200 and one.json()["id"] == b["results"][0]["id"]
    for field, value in [("priority", "high"), ("delay", -1), ("max_attempts", 0), ("retry_backoff", "x"),
                         ("metadata", {"a": 1}), ("scheduled_at", "later"), ("nope", 1)]:
        r = c.post(f"/v1/jobs/{job['id']}/trigger", {field: value})
        assert r.status == 400 and field in r.json()["errors"], (field, r)
    r = c.post(f"/v1/jobs/{job['id']}/trigger/bulk", {"items": [{}, {"priority": "x"}]})
    assert r.status == 400 and "items[1].priority" in r.json()["errors"]
    assert c.post(f"/v1/jobs/{uuid.uuid4()}/trigger").status == 404


def test_job_version_of_runs(c, sink):
    """A run names the job version it was made from: the job's id for its
    first version (stored as nothing), the version's id after an edit."""
    p = path()
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p))).json()
    first = c.post(f"/v1/jobs/{job['id']}/trigger", {"delay": 3600}).json()
    assert first["job_version"] == 1 and first["job_version_id"] == job["id"] == job["version_id"]
    assert c.patch(f"/v1/jobs/{job['id']}", {"description": "second"}).status == 200
    second_version = c.get(f"/v1/jobs/{job['id']}").json()["version_id"]
    assert second_version != job["id"]
    second = c.post(f"/v1/jobs/{job['id']}/trigger", {"delay": 3600}).json()
    assert second["job_version"] == 2 and second["job_version_id"] == second_version
    assert run_of(c, first["id"])["job_version_id"] == job["id"]
    assert run_of(c, second["id"])["job_version_id"] == second_version
    listed = {r["id"]: r["job_version_id"] for r in c.get(f"/v1/jobs/{job['id']}/runs").json()}
    assert listed == {first["id"]: job["id"], second["id"]: second_version}


def test_a_new_run_answers_as_it_is_stored(c, sink):
    """A trigger's answer is the run as stored: what the trigger said, what
    the run took from its job (defaults, tags, project, version, expiry) and
    what jobwheel set — alone, in bulk, and on the team view."""
    p = path()
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), tags={"team": "a"}, run_ttl_secs=7200,
                                      default_run_metadata={"source": "test", "who": "job"})).json()
    assert c.patch(f"/v1/jobs/{job['id']}", {"description": "v2"}).status == 200
    bodies = [{"delay": 3600, "payload": {"n": 1}},
              {"delay": 3600, "payload": {"n": 2}, "metadata": {"who": "me"}, "tags": {"t": "1"}, "priority": 3,
               "idempotency_key": "k-" + uuid.uuid4().hex, "concurrency_key": "ck", "max_attempts_override": 2},
              {"scheduled_at": "2999-01-01T00:00:00Z"}]
    for body in bodies:
        got = c.post(f"/v1/jobs/{job['id']}/trigger", body)
        assert got.status == 201, got
        assert got.json() == run_of(c, got.json()["id"]), body
    run = run_of(c, got.json()["id"])
    assert run["metadata"] == {"source": "test", "who": "job"} and run["tags"] == {"team": "a"}
    assert run["job_version"] == 2 and run["job_version_id"] != job["id"] and run["project_id"] == "proj-1"
    assert ms(run["expires_at"]) == ms(run["scheduled_at"]) + 7200 * 1000
    mixed = c.post(f"/v1/jobs/{job['id']}/trigger", bodies[1])  # the same idempotency key: the run made above
    assert mixed.status in (200, 201) and mixed.json()["metadata"] == {"source": "test", "who": "me"}
    bulk = c.post(f"/v1/jobs/{job['id']}/trigger/bulk", {"items": [bodies[0], bodies[2]]}).json()
    for item in bulk["results"]:
        stored = run_of(c, item["id"])
        assert item["status"] == stored["status"] == "delayed" and stored["batch_id"]
    now = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": {"n": 3}})  # started as it is made
    assert now.status == 201 and now.json()["status"] == "pending" and now.json()["payload"] == {"n": 3}
    assert now.json()["metadata"] == {"source": "test", "who": "job"}
    assert sink.wait_for(lambda rs: any(json.loads(x["body"]) == {"n": 3} for x in sink.to(p)))


def test_delay_and_scheduled_at(c, sink):
    p = path()
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p))).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger", {"delay": 2}).json()
    assert run["status"] == "delayed" and ms(run["scheduled_at"]) - ms(run["created_at"]) == 2000
    t0 = time.time()
    done = wait_run(c, run["id"])
    assert done["status"] == "completed" and time.time() - t0 >= 1.5
    req = sink.to(p)[0]
    assert int(req["headers"]["x-jobwheel-scheduled-at"]) == ms(run["scheduled_at"])
    assert req["at"] * 1000 >= ms(run["scheduled_at"]) - 5


def test_webhook_url_receives_the_final_run(c, sink):
    p, hook = path(), path()
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), webhook_url=sink.url(hook),
                                      webhook_secret=SECRET)).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": {"x": 1}}).json()
    sink.wait_for(lambda rs: any(x["path"] == hook for x in rs))
    req = sink.to(hook)[0]
    body = json.loads(req["body"])
    assert body["id"] == run["id"] and body["status"] == "completed"
    assert verify_signature(req)


def test_job_health(c, sink):
    ok, bad = path(), path()
    sink.script(bad, 500, sticky=True)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(ok))).json()
    ids = [c.post(f"/v1/jobs/{job['id']}/trigger").json()["id"] for _ in range(3)]
    for i in ids:
        wait_run(c, i)
    c.patch(f"/v1/jobs/{job['id']}", {"endpoint_url": sink.url(bad), "max_attempts": 1})
    wait_run(c, c.post(f"/v1/jobs/{job['id']}/trigger").json()["id"])
    r = c.get(f"/v1/jobs/{job['id']}/health?window=1h")
    assert r.status == 200, r
    h = r.json()
    assert list(h) == ["total_runs", "completed_runs", "failed_runs", "timed_out_runs", "crashed_runs",
                       "canceled_runs", "expired_runs", "success_rate", "avg_duration_secs",
                       "p95_duration_secs", "health_score"]
    assert h["total_runs"] == 4 and h["completed_runs"] == 3 and h["failed_runs"] == 1
    assert h["success_rate"] == 0.75 and h["health_score"] == 75
    assert h["p95_duration_secs"] >= h["avg_duration_secs"] * 0 and h["p95_duration_secs"] < 5
    assert c.get(f"/v1/jobs/{job['id']}/health?window=soon").status == 400
    assert c.get(f"/v1/jobs/{uuid.uuid4()}/health").status == 404


def test_https_target_with_verification(c, tls_sink):
    p = path()
    job = c.post("/v1/jobs", job_body(endpoint_url=tls_sink.url(p), max_attempts=1)).json()
    done = wait_run(c, c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": {"s": 1}}).json()["id"])
    assert done["status"] == "completed", done
    assert json.loads(tls_sink.to(p)[0]["body"]) == {"s": 1}
    # a certificate that does not name the host is refused (TLS verification)
    job = c.post("/v1/jobs", job_body(endpoint_url=tls_sink.url(p).replace("127.0.0.1", "127.0.0.2"),
                                      max_attempts=1)).json()
    done = wait_run(c, c.post(f"/v1/jobs/{job['id']}/trigger").json()["id"])
    assert done["status"] == "failed"


def test_ssrf_guard_at_creation_and_dispatch(server, sink):
    """The shared server has allow_private_targets off."""
    c = Client(server, make_token(claims_for(str(uuid.uuid4()))))
    for host in ["127.1", "2130706433", "0x7f000001", "[::1]", "[::ffff:127.0.0.1]", "169.254.169.254",
                 "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "100.64.0.1", "[fc00::1]",
                 "[fe80::1]", "0.0.0.0", "localhost"]:
        r = c.post("/v1/jobs", job_body(endpoint_url=f"http://{host}:{sink.port}/x"))
        assert r.status == 400 and "endpoint_url" in r.json()["errors"], host
    # a name that resolves to a private address passes creation, and is refused at dispatch
    name = socket.gethostname()
    try:
        addr = ipaddress.ip_address(socket.gethostbyname(name))
    except OSError:
        pytest.skip("the host name does not resolve")
    if not (addr.is_private or addr.is_loopback):
        pytest.skip("the host name resolves to a public address here")
    p = path()
    job = c.post("/v1/jobs", job_body(endpoint_url=f"http://{name}:{sink.port}{p}", max_attempts=1))
    assert job.status == 201, job
    done = wait_run(c, c.post(f"/v1/jobs/{job.json()['id']}/trigger").json()["id"])
    assert done["status"] == "failed" and "private" in done["error"]
    assert sink.to(p) == []


def test_kill_9_recovers_every_run(tmp_path, sink):
    r = Redis(tmp_path / "redis")
    args = ["--allow-private-targets", "--run-lease-ms", "2000", "--schedule-lease-ms", "1500"]
    a = Jobwheel(tmp_path / "a", redis_url=r.url, args=args + ["--instance-id", "a"])
    b = Jobwheel(tmp_path / "b", redis_url=r.url, args=args + ["--instance-id", "b"])
    try:
        token = make_token(claims_for(str(uuid.uuid4())))
        ca, cb = Client(a, token), Client(b, token)
        p = path()
        sink.script(p, *[(200, {}, {}, 4)] * 100, 200, sticky=True)
        job = ca.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=3, retry_delays_secs=[0],
                                           timeout_secs=30)).json()
        ids = [x["id"] for x in ca.post(f"/v1/jobs/{job['id']}/trigger/bulk",
                                        {"items": [{} for _ in range(100)]}).json()["results"]]
        sink.wait_for(lambda rs: len([x for x in rs if x["path"] == p]) >= 100, timeout=20)
        a.stop(signal.SIGKILL)
        for i in ids:
            done = wait_run(cb, i, timeout=30)
            assert done["status"] == "completed", done
        crashed = [i for i in ids if any(x["outcome"] == "crashed" for x in run_of(cb, i)["attempts"])]
        assert len(crashed) >= 50  # those a took were retried by b as new attempts
        assert all(run_of(cb, i)["attempt"] >= 2 for i in crashed)
    finally:
        if a.proc:
            a.stop()
        code = b.stop()
        r.stop()  # (stopped before the code is judged)
        assert code == 0


def test_dependencies_hold_and_trigger(c, sink):
    ok, bad = path(), path()
    sink.script(bad, 500, sticky=True)
    a = c.post("/v1/jobs", job_body(endpoint_url=sink.url(ok))).json()
    b = c.post("/v1/jobs", job_body(endpoint_url=sink.url(ok))).json()          # no schedule: triggered
    d = c.post("/v1/jobs", job_body(endpoint_url=sink.url(ok))).json()          # chained after b
    held = c.post("/v1/jobs", job_body(endpoint_url=sink.url(ok), cron="0 0 1 1 *")).json()
    assert c.post(f"/v1/jobs/{b['id']}/dependencies", {"depends_on_job_id": a["id"]}).status == 201
    assert c.post(f"/v1/jobs/{d['id']}/dependencies", {"depends_on_job_id": b["id"]}).status == 201
    assert c.post(f"/v1/jobs/{held['id']}/dependencies", {"depends_on_job_id": a["id"]}).status == 201
    # a run of `held` waits: a has never completed a run
    waiting = c.post(f"/v1/jobs/{held['id']}/trigger").json()
    wait_until(lambda: run_of(c, waiting["id"])["status"] == "waiting", timeout=10)
    # a run of a completes: b is triggered, then d; the held run goes
    ra = c.post(f"/v1/jobs/{a['id']}/trigger").json()
    assert wait_run(c, ra["id"])["status"] == "completed"
    assert wait_run(c, waiting["id"])["status"] == "completed"

    def runs(job):
        return c.get(f"/v1/jobs/{job['id']}/runs").json()
    wait_until(lambda: runs(b) and runs(b)[0]["status"] == "completed", timeout=10)
    rb = runs(b)[0]
    assert rb["triggered_by"] == "dependency" and rb["parent_run_id"] == ra["id"]
    wait_until(lambda: runs(d) and runs(d)[0]["status"] == "completed", timeout=10)
    assert runs(d)[0]["parent_run_id"] == rb["id"]
    # a failing prerequisite holds its dependents (AllSucceeded)
    c.patch(f"/v1/jobs/{a['id']}", {"endpoint_url": sink.url(bad), "max_attempts": 1})
    assert wait_run(c, c.post(f"/v1/jobs/{a['id']}/trigger").json()["id"])["status"] == "failed"
    again = c.post(f"/v1/jobs/{held['id']}/trigger").json()
    time.sleep(0.5)
    assert run_of(c, again["id"])["status"] == "waiting"
    assert len(runs(b)) == 1  # no new run of b after a failure
    # removing the dependency lets the held run go
    dep = c.get(f"/v1/jobs/{held['id']}/dependencies").json()[0]
    assert c.delete(f"/v1/jobs/{held['id']}/dependencies/{dep['id']}").status == 204
    assert wait_run(c, again["id"])["status"] == "completed"


def test_any_succeeded(c, sink):
    ok, bad = path(), path()
    sink.script(bad, 500, sticky=True)
    p1 = c.post("/v1/jobs", job_body(endpoint_url=sink.url(bad), max_attempts=1)).json()
    p2 = c.post("/v1/jobs", job_body(endpoint_url=sink.url(ok))).json()
    dep = c.post("/v1/jobs", job_body(endpoint_url=sink.url(ok), cron="0 0 1 1 *")).json()
    for p in (p1, p2):
        r = c.post(f"/v1/jobs/{dep['id']}/dependencies", {"depends_on_job_id": p["id"], "condition": "AnySucceeded"})
        assert r.status == 201
    assert wait_run(c, c.post(f"/v1/jobs/{p1['id']}/trigger").json()["id"])["status"] == "failed"
    held = c.post(f"/v1/jobs/{dep['id']}/trigger").json()
    time.sleep(0.5)
    assert run_of(c, held["id"])["status"] == "waiting"
    assert wait_run(c, c.post(f"/v1/jobs/{p2['id']}/trigger").json()["id"])["status"] == "completed"
    assert wait_run(c, held["id"])["status"] == "completed"


# ---- issue 14: runs that wait for a time start from a millisecond clock of
# due times (src/exec/due.c), not at the next sweep. No timed assertions: each
# starts in the order of its time, never before it, with its time in
# x-jobwheel-scheduled-at; and a crash while runs wait loses none.

def iso(ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + ".%03dZ" % (ms % 1000)


def test_delayed_runs_start_in_order_of_their_time_and_never_before(c, sink):
    p = "/" + uuid.uuid4().hex
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p))).json()
    base = int(time.time() * 1000) + 1500
    dues = [base + 100 * i for i in range(20)]
    items = [{"scheduled_at": iso(t), "payload": {"due": t}} for t in dues]
    random.shuffle(items)  # made in any order
    got = c.post(f"/v1/jobs/{job['id']}/trigger/bulk", {"items": items})
    assert got.status in (200, 201), got
    assert all(x["status"] == "delayed" for x in got.json()["results"])
    sink.wait_for(lambda rs: len(sink.to(p)) >= 20, timeout=20)
    seen = sink.to(p)
    nominal = [int(x["headers"]["x-jobwheel-scheduled-at"]) for x in seen]
    assert sorted(nominal) == dues  # each once, with its own time
    assert nominal == dues, "started out of the order of their times"
    for x, t in zip(seen, nominal):
        assert x["at"] * 1000 >= t - 5, f"started {t - x['at'] * 1000:.0f} ms before its time"


def test_a_delay_and_a_retry_start_no_earlier_than_their_time(c, sink):
    p = "/" + uuid.uuid4().hex
    sink.script(p, (503, {"Retry-After": "1"}, {}, 0), 200)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=3, retry_delays_secs=[0])).json()
    run = c.post(f"/v1/jobs/{job['id']}/trigger", {"delay": 1}).json()
    assert run["status"] == "delayed"
    made = time.time()
    sink.wait_for(lambda rs: len(sink.to(p)) >= 2, timeout=20)
    first, second = sink.to(p)[:2]
    assert first["at"] >= made + 0.99
    assert second["at"] >= first["at"] + 0.99  # the Retry-After, over the 0 s backoff
    assert [first["headers"]["x-jobwheel-attempt"], second["headers"]["x-jobwheel-attempt"]] == ["1", "2"]
    wait_until(lambda: c.get(f"/v1/runs/{run['id']}").json()["status"] == "completed", timeout=10)


def test_delayed_runs_survive_the_crash_of_the_instance_that_made_them(tmp_path, sink):
    r = Redis(tmp_path / "redis")
    args = ["--allow-private-targets", "--schedule-lease-ms", "1500"]
    a = Jobwheel(tmp_path / "a", redis_url=r.url, args=args + ["--instance-id", "a"])
    b = Jobwheel(tmp_path / "b", redis_url=r.url, args=args + ["--instance-id", "b"])
    try:
        token = make_token(claims_for(str(uuid.uuid4())))
        ca, cb = Client(a, token), Client(b, token)
        p = "/" + uuid.uuid4().hex
        job = ca.post("/v1/jobs", job_body(endpoint_url=sink.url(p))).json()
        due = int(time.time() * 1000) + 2500
        items = [{"scheduled_at": iso(due + i)} for i in range(50)]
        ids = [x["id"] for x in ca.post(f"/v1/jobs/{job['id']}/trigger/bulk", {"items": items}).json()["results"]]
        a.stop(signal.SIGKILL)  # a knew when they were due, and is gone
        for i in ids:
            wait_until(lambda: cb.get(f"/v1/runs/{i}").json()["status"] == "completed", timeout=20,
                       what=f"run {i}")
        seen = sink.to(p)
        assert len(seen) == 50 and len({x["headers"]["x-jobwheel-run-id"] for x in seen}) == 50
        assert all(x["at"] * 1000 >= due - 5 for x in seen)
    finally:
        if a.proc:
            a.stop()
        code = b.stop()
        r.stop()  # (stopped before the code is judged)
        assert code == 0


@contextlib.contextmanager
def own_instance(tmp_path, sink, **job):
    """A Redis and an instance of the test's own, a tenant, and a job (its
    fields, over job_body's) that calls the sink: (redis, tenant, client,
    the job's path at the sink, job)."""
    r = Redis(tmp_path / "redis")
    j = Jobwheel(tmp_path / "j", redis_url=r.url, args=["--allow-private-targets"])
    try:
        tenant = str(uuid.uuid4())
        c = Client(j, make_token(claims_for(tenant)))
        p = "/" + uuid.uuid4().hex
        yield r, tenant, c, p, c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), **job)).json()
    finally:
        j.stop()
        r.stop()


def trigger_burst(c, job, due):
    """1,000 runs of job due at one instant (ms), in two bulk triggers: their ids."""
    ids = []
    for _ in range(2):
        got = c.post(f"/v1/jobs/{job['id']}/trigger/bulk", {"items": [{"scheduled_at": iso(due)}] * 500})
        assert got.status in (200, 201), got
        ids += [x["id"] for x in got.json()["results"]]
    assert len(set(ids)) == 1000
    return ids


def burst(r, tenant, ids, due, watch=None):
    """Watch Redis until one of `ids` is started ahead of its time `due`
    (a burst, see run_promote.lua) and return its instance and id (None:
    none was before due - 50 ms). watch: called with them first."""
    while time.time() * 1000 < due - 50:
        for i in ids[::97]:
            got = r.cmd("HMGET", f"jw:{{{tenant}}}:run:{i}", "status", "_instance", "_attempt_started")
            if got[0] == "running":
                assert int(got[2]) == due  # its attempt (and lease) begin at its time
                if watch:
                    watch(got[1], i)
                return got[1], i
        time.sleep(0.005)
    return None


def test_an_ended_run_keeps_only_what_it_shows(tmp_path, sink):
    """What only an attempt in progress needs (who runs it, its phase and
    start, whether the next attempt calls the fallback) is kept while the
    run is open and dropped when it ends; the run reads the same."""
    with own_instance(tmp_path, sink, max_attempts=2, retry_delays_secs=[1]) as (r, tenant, c, p, job):
        sink.script(p, 503, 200)
        run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
        key = f"jw:{{{tenant}}}:run:{run['id']}"
        wait_until(lambda: r.cmd("HGET", key, "status") == "delayed", timeout=10, what="the retry")
        assert r.cmd("HGET", key, "_fallback") == "0" and r.cmd("HEXISTS", key, "_instance") == 1
        done = wait_run(c, run["id"])
        assert done["status"] == "completed" and done["attempt"] == 2 and done["job_version_id"] == job["id"]
        assert [a["http_status"] for a in done["attempts"]] == [503, 200]
        kept = set(r.cmd("HKEYS", key))
        assert not kept & {"_instance", "_phase", "_attempt_started", "_fallback", "job_version_id"}, kept
        assert {"_shard", "_retention", "started_at", "finished_at"} <= kept
        assert "attempts" in kept or "attempts" in apart(r, key)  # (in the hash, or apart: see below)
        assert run_of(c, run["id"]) == done


def apart(r, key):
    """The names of the long values a run keeps apart, with each value."""
    big = r.cmd("HGET", key, "_big")
    return {} if big is None else {n: r.cmd("GET", f"{key}:{n}") for n in big.split()}


def apart_on(r):
    """Wait until the instances on r have heard from lib_seen (and so
    whether they may keep long values apart)."""
    wait_until(lambda: r.cmd("HLEN", "jw:{sched}:libraries:apart") > 0, timeout=10, what="lib_seen")
    time.sleep(0.2)  # (its answer reaches the instance)


def test_long_values_are_kept_apart_and_read_whole(tmp_path, sink):
    """A payload or result longer than 64 bytes is stored apart from the
    run's hash, which stays a compact listpack; every way of reading or
    sending the run gives it whole, and it goes with the run's retention."""
    long = {"order": 12345, "customer": "c-0001", "items": list(range(40)), "note": "ring twice " * 12,
            "ünï": "ç€" * 20}
    answer = {"rows": [{"id": i, "name": f"row {i}"} for i in range(12)]}
    with own_instance(tmp_path, sink, timeout_secs=30) as (r, tenant, c, p, job):
        apart_on(r)
        sink.script(p, (200, {}, answer, 0), 202, sticky=True)
        run = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": long, "idempotency_key": "k"}).json()
        assert run["payload"] == long
        key = f"jw:{{{tenant}}}:run:{run['id']}"
        done = wait_run(c, run["id"])
        assert done["status"] == "completed" and done["payload"] == long and done["result"] == answer
        assert json.loads(sink.to(p)[0]["body"]) == long
        kept = apart(r, key)
        assert set(kept) == {"payload", "result"} and json.loads(kept["payload"]) == long
        assert json.loads(kept["result"]) == answer
        assert r.cmd("HEXISTS", key, "payload") == 0 and r.cmd("HEXISTS", key, "result") == 0
        assert r.cmd("OBJECT", "ENCODING", key) == "listpack"
        ttl = r.cmd("PTTL", key)
        assert ttl > 0 and all(abs(r.cmd("PTTL", f"{key}:{n}") - ttl) < 1000 for n in kept)
        # read by every way there is: alone, in lists, as an idempotency hit
        assert [x for x in c.get(f"/v1/jobs/{job['id']}/runs").json() if x["id"] == run["id"]] == [done]
        assert [x for x in c.get("/v1/runs").json() if x["id"] == run["id"]] == [done]
        hit = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": long, "idempotency_key": "k"})
        assert hit.json()["id"] == run["id"] and hit.json()["payload"] == long and hit.json()["result"] == answer
        # a worker's result over a run with its payload apart, and cancel's answer
        run = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": long}).json()
        key = f"jw:{{{tenant}}}:run:{run['id']}"
        sink.wait_for(lambda rs: len(sink.to(p)) == 2)
        token = sink.to(p)[1]["headers"]["x-jobwheel-run-token"]
        assert json.loads(sink.to(p)[1]["body"]) == long
        wait_until(lambda: run_of(c, run["id"])["attempts"] != [], timeout=10, what="the worker's attempt")
        got = c.post(f"/v1/runs/{run['id']}/complete", {"result": answer}, headers={"x-run-token": token})
        assert got.status == 200, got
        done = run_of(c, run["id"])
        assert done["payload"] == long and done["result"] == answer
        assert [(a["attempt"], a.get("reported_by")) for a in done["attempts"]] == [(1, None), (1, "worker")]
        # (the attempt log too: two entries are longer than 64 bytes)
        assert set(apart(r, key)) == {"payload", "result", "attempts"}
        assert r.cmd("OBJECT", "ENCODING", key) == "listpack"
        later = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": long, "delay": 3600}).json()
        cancelled = c.post(f"/v1/runs/{later['id']}/cancel")
        assert cancelled.status == 200 and cancelled.json()["payload"] == long
        key = f"jw:{{{tenant}}}:run:{later['id']}"
        assert r.cmd("PTTL", f"{key}:payload") > 0  # (it ended: it goes with the run)
        huge = {"blob": "x" * 100000}
        run = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": huge, "delay": 3600}).json()
        key = f"jw:{{{tenant}}}:run:{run['id']}"
        assert set(apart(r, key)) == {"payload"} and r.cmd("OBJECT", "ENCODING", key) == "listpack"
        assert run_of(c, run["id"])["payload"] == huge
        r.cmd("DEL", f"{key}:payload")  # (lost, as a Redis that evicts keys may lose any): read as none
        assert run_of(c, run["id"])["payload"] is None


def test_a_long_progress_and_error_are_kept_apart_too(tmp_path, sink):
    """A worker's progress and a run's error longer than 64 bytes go apart
    as a payload does, and read back whole."""
    with own_instance(tmp_path, sink, timeout_secs=30, max_attempts=1) as (r, tenant, c, p, job):
        apart_on(r)
        sink.script(p, 202)
        run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
        key = f"jw:{{{tenant}}}:run:{run['id']}"
        sink.wait_for(lambda rs: len(sink.to(p)) == 1)
        hdr = {"x-run-token": sink.to(p)[0]["headers"]["x-jobwheel-run-token"]}
        wait_until(lambda: run_of(c, run["id"])["attempts"] != [], timeout=10, what="the worker's attempt")
        progress = {"processed": 1, "total": 2, "message": "copying the second half of the table " * 3}
        assert c.post(f"/v1/runs/{run['id']}/progress", progress, headers=hdr).status == 200
        assert run_of(c, run["id"])["progress"] == progress
        assert set(apart(r, key)) == {"progress"} and r.cmd("HEXISTS", key, "progress") == 0
        why = "the upstream answered 503 three times in a row; giving up on this batch " * 2
        assert c.post(f"/v1/runs/{run['id']}/fail", {"error": why}, headers=hdr).status == 200
        done = wait_run(c, run["id"])
        assert done["status"] == "failed" and why in done["error"] and done["progress"] == progress
        assert {"progress", "error"} <= set(apart(r, key)) and r.cmd("HEXISTS", key, "error") == 0
        assert r.cmd("OBJECT", "ENCODING", key) == "listpack"
        assert all(r.cmd("PTTL", f"{key}:{n}") > 0 for n in apart(r, key))


def test_long_values_stay_in_the_hash_while_a_build_that_reads_none_apart_is_in_use(tmp_path, sink):
    """Builds of jobwheel may share a Redis during a rolling upgrade, and one
    from before would read a run's payload kept apart as missing. While
    such a build's library was named in the last minutes, runs keep every
    value in their hash; once it is gone, long ones go apart. Both read
    the same."""
    r = Redis(tmp_path / "redis")
    old_lib = "jobwheel_0123456789abcdef"
    r.cmd("HSET", "jw:{sched}:libraries", old_lib, str(int(time.time() * 1000)))
    j = Jobwheel(tmp_path / "j1", redis_url=r.url, args=["--allow-private-targets"])
    try:
        tenant, p = str(uuid.uuid4()), path()
        c = Client(j, make_token(claims_for(tenant)))
        job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p))).json()
        apart_on(r)  # (its lib_seen has answered: not apart)
        long = {"note": "ring twice " * 20}
        whole = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": long}).json()
        done = wait_run(c, whole["id"])
        assert done["payload"] == long and json.loads(sink.to(p)[0]["body"]) == long
        key = f"jw:{{{tenant}}}:run:{whole['id']}"
        assert r.cmd("HEXISTS", key, "payload") == 1 and apart(r, key) == {}
        # the earlier build went away an hour ago; an instance that starts now finds none in use
        r.cmd("HSET", "jw:{sched}:libraries", old_lib, str(int(time.time() * 1000) - 3600000))
        assert j.stop() == 0
        since = int(time.time() * 1000)
        j = Jobwheel(tmp_path / "j2", redis_url=r.url, args=["--allow-private-targets"])
        (mine,) = r.cmd("HKEYS", "jw:{sched}:libraries:apart")
        wait_until(lambda: int(r.cmd("HGET", "jw:{sched}:libraries", mine)) >= since, timeout=10, what="lib_seen")
        time.sleep(0.2)
        c = Client(j, make_token(claims_for(tenant)))
        run = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": long}).json()
        assert wait_run(c, run["id"])["payload"] == long and json.loads(sink.to(p)[1]["body"]) == long
        key = f"jw:{{{tenant}}}:run:{run['id']}"
        assert r.cmd("HEXISTS", key, "payload") == 0 and set(apart(r, key)) == {"payload"}
        assert run_of(c, whole["id"]) == done
    finally:
        j.stop()
        r.stop()


def test_a_long_value_written_again_leaves_nothing_behind(tmp_path, sink):
    """A value written over one kept apart (longer, short, or in the hash
    while nothing may go apart) leaves no stale copy, and the run's other
    values stay where they are. Driven through run_finish itself: a
    worker's run may be told its outcome more than once (status worker
    keeps it running)."""
    with own_instance(tmp_path, sink, timeout_secs=60) as (r, tenant, c, p, job):
        apart_on(r)
        sink.script(p, 202)
        long = {"n": "x" * 300}
        run = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": long}).json()
        key = f"jw:{{{tenant}}}:run:{run['id']}"
        wait_until(lambda: r.cmd("HGET", key, "_phase") == "worker", timeout=10, what="the worker's phase")
        (lib,) = r.cmd("HKEYS", "jw:{sched}:libraries")

        def tell(result, flags):
            now = int(time.time() * 1000)
            args = [run["id"], r.cmd("HGET", key, "attempt"), "", flags, now, "worker", now + 60000, "",
                    "result", json.dumps(result)]
            assert r.cmd("FCALL", f"{lib}_run_finish", 1, f"jw:{{{tenant}}}", len(args), *args) == [["ok"]]
            assert run_of(c, run["id"])["result"] == result and run_of(c, run["id"])["payload"] == long
            kept = apart(r, key)
            return set(kept), r.cmd("HEXISTS", key, "result"), r.cmd("EXISTS", f"{key}:result")

        assert tell({"v": "a" * 500}, "b") == ({"payload", "result"}, 0, 1)
        assert tell({"v": "b" * 100}, "b") == ({"payload", "result"}, 0, 1)
        assert tell({"v": 1}, "b") == ({"payload"}, 1, 0)
        assert tell({"v": "c" * 200}, "b") == ({"payload", "result"}, 0, 1)
        assert tell({"v": "d" * 200}, "") == ({"payload"}, 1, 0)  # nothing may go apart now
        assert r.cmd("OBJECT", "ENCODING", key) == "hashtable"


def test_a_run_dropped_for_history_room_takes_what_it_kept_apart(tmp_path, sink):
    """The run_history quota drops the oldest ended runs to make room: with
    them go the values they kept apart."""
    r = Redis(tmp_path / "redis")
    j = Jobwheel(tmp_path / "j", redis_url=r.url, args=["--allow-private-targets"])
    try:
        tenant, p = str(uuid.uuid4()), path()
        c = Client(j, make_token(claims_for(tenant)))
        root = Client(j, make_token(claims_for(None, roles=("super_admin",))))
        job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p))).json()
        apart_on(r)
        assert root("PATCH", f"/v1/tenants/{tenant}/quotas", {"run_history": 2}).status == 200
        first = c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": {"n": "x" * 300}}).json()
        key = f"jw:{{{tenant}}}:run:{first['id']}"
        assert wait_run(c, first["id"])["status"] == "completed" and set(apart(r, key)) == {"payload"}
        for _ in range(2):
            assert c.post(f"/v1/jobs/{job['id']}/trigger", {"delay": 3600}).status == 201
        assert c.get(f"/v1/runs/{first['id']}").status == 404
        assert r.cmd("EXISTS", key) == 0 and r.cmd("EXISTS", f"{key}:payload") == 0
    finally:
        j.stop()
        r.stop()


def test_a_burst_of_delayed_runs_is_started_ahead_and_called_at_its_time(tmp_path, sink):
    """1,000 runs due at one instant are more than can be started from their
    time on without being late: they are started before it, and each call
    still goes out at its time, never before, once."""
    with own_instance(tmp_path, sink) as (r, tenant, c, p, job):
        due = int(time.time() * 1000) + 3000
        ids = trigger_burst(c, job, due)
        cancelled = []

        def cancel(instance, run_id):  # a run held ahead is cancelled before its time: never called
            assert c.post(f"/v1/runs/{run_id}/cancel").status == 200
            assert time.time() * 1000 < due - 10, "the cancel came too late to test this"
            cancelled.append(run_id)
        assert burst(r, tenant, ids, due, watch=cancel), "no run was started ahead of its time"
        sink.wait_for(lambda rs: len(sink.to(p)) >= 999, timeout=60)
        time.sleep(0.5)
        seen = sink.to(p)
        assert sorted(x["headers"]["x-jobwheel-run-id"] for x in seen) == sorted(set(ids) - set(cancelled))
        assert run_of(c, cancelled[0])["status"] == "cancelled"
        assert {x["headers"]["x-jobwheel-scheduled-at"] for x in seen} == {str(due)}
        early = [due - x["at"] * 1000 for x in seen if x["at"] * 1000 < due - 5]
        assert not early, f"{len(early)} calls went out before their time (up to {max(early):.0f} ms)"
        for i in [i for i in ids[::50] if i not in cancelled]:
            run = wait_run(c, i)
            assert run["status"] == "completed", run
            started = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00")).timestamp() * 1000
            assert round(started) == due, run  # the attempt began at its time, not when it was started


def test_a_burst_whose_calls_fail_is_retried_each_from_its_own_answer(tmp_path, sink):
    """While a burst's calls go out, what each answer leads to is decided
    afterwards (the answers are kept): every failed attempt is retried once,
    no earlier than its backoff after its answer, and recorded as it was."""
    with own_instance(tmp_path, sink, max_attempts=3, retry_delays_secs=[1]) as (r, tenant, c, p, job):
        sink.script(p, *[(503, {}, {"busy": True}, 0)] * 1000, 200, sticky=True)
        due = int(time.time() * 1000) + 3000
        ids = trigger_burst(c, job, due)
        assert burst(r, tenant, ids, due), "no run was started ahead of its time"
        sink.wait_for(lambda rs: len(sink.to(p)) >= 2000, timeout=60)
        for i in ids[::40]:
            run = wait_run(c, i)
            assert run["status"] == "completed", run
            tries = run["attempts"]
            assert [a["outcome"] for a in tries[:-1]] == ["failed"] * (len(tries) - 1), tries
            assert all(a["http_status"] == 503 and a["next"] == "retry" and a["error"].startswith("HTTP 503")
                       for a in tries[:-1]), tries
            assert tries[-1]["outcome"] == "completed" and tries[-1]["http_status"] == 200
            ms = [datetime.fromisoformat(a[k].replace("Z", "+00:00")).timestamp() * 1000
                  for a in tries for k in ("started_at", "finished_at")]
            for k in range(1, len(tries)):  # each retry a backoff (1 s) after the answer before it
                assert ms[2 * k] >= ms[2 * k - 1] + 990, tries
        assert len(sink.to(p)) == 2000  # each run failed once (the first 1,000 answers) and then completed


def test_a_burst_started_ahead_survives_the_crash_of_its_instance(tmp_path, sink):
    """The instance that started a burst ahead of its time is killed before
    the time: the runs it held come back when their leases lapse, and the
    other instance calls each once, none before its time."""
    r = Redis(tmp_path / "redis")
    args = ["--allow-private-targets", "--run-lease-ms", "2000", "--schedule-lease-ms", "1500"]
    js = {n: Jobwheel(tmp_path / n, redis_url=r.url, args=args + ["--instance-id", n]) for n in ("a", "b")}
    try:
        tenant = str(uuid.uuid4())
        token = make_token(claims_for(tenant))
        p = "/" + uuid.uuid4().hex
        ca = Client(js["a"], token)
        job = ca.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=3,
                                           retry_delays_secs=[0])).json()
        due = int(time.time() * 1000) + 3000
        ids = trigger_burst(ca, job, due)
        seen_ahead = burst(r, tenant, ids, due, watch=lambda n, _: js[n].stop(signal.SIGKILL))
        assert seen_ahead, "no run was started ahead of its time"
        holder = seen_ahead[0]
        other = js["b" if holder == "a" else "a"]
        c = Client(other, token)
        sink.wait_for(lambda rs: len(sink.to(p)) >= 1000, timeout=60)
        seen = sink.to(p)
        assert sorted(x["headers"]["x-jobwheel-run-id"] for x in seen) == sorted(ids)  # each once
        assert all(x["at"] * 1000 >= due - 5 for x in seen)
        held = [i for i in ids if r.cmd("HGET", f"jw:{{{tenant}}}:run:{i}", "attempt") == "2"]
        assert held, "none of the runs the killed instance held was retried"
        for i in held[:20]:
            run = wait_run(c, i)
            assert run["status"] == "completed", run
            assert [x["outcome"] for x in run["attempts"]] == ["crashed", "completed"], run["attempts"]
    finally:
        for j in js.values():
            if j.proc:
                j.stop()
        r.stop()


def test_an_ended_run_is_kept_compact_and_reads_as_before(tmp_path, sink):
    """A run's attempt log and trace are stored compactly, so an ended run
    with short values stays a listpack hash in Redis (a value over 64 bytes
    makes it a hashtable, about twice the memory); every surface shows them
    as before, and a run stored by an earlier release reads as it was."""
    with own_instance(tmp_path, sink) as (r, tenant, c, p, job):
        payload = {"order": 12345, "customer": "c-0001", "items": [1, 2, 3]}  # ~60 bytes, as the benchmark's
        run = wait_run(c, c.post(f"/v1/jobs/{job['id']}/trigger", {"payload": payload}).json()["id"])
        assert run["status"] == "completed", run
        key = f"jw:{{{tenant}}}:run:{run['id']}"
        assert r.cmd("OBJECT", "ENCODING", key) == "listpack"
        (a,) = run["attempts"]
        assert list(a) == ["attempt", "started_at", "finished_at", "target", "http_status", "outcome", "error", "next"]
        assert (a["attempt"], a["target"], a["http_status"], a["outcome"], a["error"], a["next"]) == \
            (1, "endpoint", 200, "completed", None, "end")
        assert datetime.fromisoformat(a["started_at"].replace("Z", "+00:00")) <= \
            datetime.fromisoformat(a["finished_at"].replace("Z", "+00:00"))
        trace = run["execution_trace"]
        assert list(trace) == ["queue_wait_ms", "dequeue_ms", "dns_ms", "connect_ms", "ttfb_ms", "transfer_ms",
                               "total_ms", "dispatch_ms"]
        assert all(isinstance(v, int) and v >= 0 for v in trace.values())
        # as an earlier release stored them: JSON objects, shown as they are
        old_attempts = [{"attempt": 1, "started_at": "2026-01-01T00:00:00.000Z",
                         "finished_at": "2026-01-01T00:00:00.005Z", "target": "fallback", "http_status": 503,
                         "outcome": "failed", "error": "HTTP 503", "next": "retry"},
                        {"attempt": 2, "outcome": "completed", "reported_by": "worker", "at": 1767225600000}]
        old_trace = {"queue_wait_ms": 1, "dequeue_ms": 2, "dns_ms": 3, "connect_ms": 4, "ttfb_ms": 5,
                     "transfer_ms": 6, "total_ms": 7, "dispatch_ms": 8}
        r.cmd("HSET", key, "attempts", json.dumps(old_attempts), "execution_trace", json.dumps(old_trace))
        again = c.get(f"/v1/runs/{run['id']}").json()
        assert again["attempts"] == old_attempts and again["execution_trace"] == old_trace
        listed = [x for x in c.get(f"/v1/jobs/{job['id']}/runs").json() if x["id"] == run["id"]]
        assert listed and listed[0]["attempts"] == old_attempts


def test_triggers_of_one_turn_share_a_call_and_each_gets_its_own_answer(tmp_path):
    """Group commit: triggers that arrive together go to Redis in one
    run_create call per tenant, and each is answered with its own outcome —
    a refused one fails alone. The instance is stopped while the requests
    are written, so they are all waiting when it resumes."""
    r = Redis(tmp_path / "redis")
    j = Jobwheel(tmp_path, redis_url=r.url)
    token = make_token(claims_for(str(uuid.uuid4())))
    c = Client(j, token)
    try:
        job = c.post("/v1/jobs", job_body(endpoint_url="https://example.com/hook")).json()["id"]
        base = f"/v1/jobs/{job}/trigger"
        reqs = [("POST", base, {"payload": {"i": i}, "delay": 3600}) for i in range(24)]
        reqs += [("POST", base, {"idempotency_key": "same", "delay": 3600})] * 2
        reqs += [("POST", f"/v1/jobs/{'x' * 1500}/trigger", {}),
                 ("POST", f"/v1/jobs/{uuid.uuid4()}/trigger", {}),
                 ("POST", base, {"delay": -1}),
                 ("POST", base + "/bulk", {"items": [{"delay": 3600, "payload": {"b": k}} for k in range(3)]}),
                 ("GET", f"/v1/jobs/{job}", None)]
        conns = [http.client.HTTPConnection("127.0.0.1", j.port, timeout=20) for _ in reqs]
        for k in conns:
            k.connect()
        r.cmd("CONFIG", "SET", "slowlog-max-len", "10000")
        r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "0")
        r.cmd("SLOWLOG", "RESET")
        os.kill(j.proc.pid, signal.SIGSTOP)
        try:
            for k, (method, p, body) in zip(conns, reqs):
                data = json.dumps(body).encode() if body is not None else None
                k.request(method, p, body=data, headers={"Authorization": "Bearer " + token,
                                                         "Content-Type": "application/json"})
        finally:
            os.kill(j.proc.pid, signal.SIGCONT)
        answers = []
        for k in conns:
            a = k.getresponse()
            answers.append((a.status, json.loads(a.read() or b"null")))
            k.close()
        calls = [e for e in r.cmd("SLOWLOG", "GET", "10000") if str(e[3][1]).endswith("_run_create")]
        r.cmd("CONFIG", "SET", "slowlog-log-slower-than", "10000")

        runs = answers[:24]
        assert all(s == 201 for s, _ in runs), runs
        ids = [b["id"] for _, b in runs]
        assert len(set(ids)) == 24
        for i, rid in enumerate(ids):
            got = run_of(c, rid)
            assert got["payload"] == {"i": i} and got["status"] == "delayed", got
        (s1, b1), (s2, b2) = answers[24:26]
        assert sorted([s1, s2]) == [200, 201] and b1["id"] == b2["id"]
        assert answers[26][0] == 404 and answers[27][0] == 404
        assert answers[28][0] == 400 and "delay" in answers[28][1]["errors"]
        assert answers[29][0] == 201 and answers[29][1]["created"] == 3
        assert answers[30][0] == 200 and answers[30][1]["id"] == job
        # 28 triggers reached Redis (the 400 did not); they went together
        assert 1 <= len(calls) < 28, [len(e[3]) for e in calls]
    finally:
        j.stop()
        r.stop()
