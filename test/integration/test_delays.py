"""Issue 14: runs that wait for a time — a trigger's scheduled_at or delay,
a retry's backoff, a Retry-After — start from a millisecond clock of due
times (src/exec/due.c), not at the next sweep. No timed assertions: each
starts in the order of its time, never before it, with its time in
x-jobwheel-scheduled-at; and a crash while runs wait loses none."""
import random
import signal
import time
import uuid

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, job_body, make_token, wait_until
from sink import Sink


@pytest.fixture(scope="module")
def sink():
    s = Sink()
    yield s
    s.close()


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    d = tmp_path_factory.mktemp("delays")
    r = Redis(d / "redis")
    s = Jobwheel(d, redis_url=r.url, args=["--allow-private-targets"])
    yield s
    assert s.stop() == 0
    r.stop()


@pytest.fixture
def c(engine):
    return Client(engine, make_token(claims_for(str(uuid.uuid4()))))


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
        assert b.stop() == 0
        r.stop()
