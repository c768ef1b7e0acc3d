"""Issue 12, hole 8: one tenant's hanging endpoints must not starve the
others. Tenant A points its jobs at an endpoint that accepts, reads the
request and never answers (A's timeout is long: its calls hang for the
whole test); tenant B's runs at a fast endpoint must still complete in a
few seconds — runs it triggers, runs its schedules fire, and runs left
ready in Redis behind a large backlog of A's in the same shard."""
import selectors
import socket
import threading
import time
import uuid
from datetime import datetime, timezone
from types import SimpleNamespace

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, job_body, make_token, wait_until
from sink import Sink

ARGS = ["--allow-private-targets", "--shutdown-timeout-secs", "1"]
DONE = ("completed", "failed", "timed_out", "crashed", "cancelled", "expired", "skipped")


class HangServer:
    """Accepts connections, reads what comes, never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(1024)
        self.sock.setblocking(False)
        self.port = self.sock.getsockname()[1]
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.sock, selectors.EVENT_READ)
        self.conns = set()
        self.requests = 0  # connections that sent a request
        self.lock = threading.Lock()
        self.stopping = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def url(self, path="/hang"):
        return f"http://127.0.0.1:{self.port}{path}"

    def _loop(self):
        while not self.stopping:
            for key, _ in self.sel.select(timeout=0.1):
                if key.fileobj is self.sock:
                    try:
                        c, _ = self.sock.accept()
                    except BlockingIOError:
                        continue
                    c.setblocking(False)
                    self.sel.register(c, selectors.EVENT_READ, data={"seen": False})
                    with self.lock:
                        self.conns.add(c)
                    continue
                c = key.fileobj
                try:
                    data = c.recv(65536)
                except (BlockingIOError, ConnectionError):
                    data = b"x"
                if not data:  # the caller gave up
                    self.sel.unregister(c)
                    c.close()
                    with self.lock:
                        self.conns.discard(c)
                elif not key.data["seen"]:
                    key.data["seen"] = True
                    with self.lock:
                        self.requests += 1

    def open(self):
        with self.lock:
            return len(self.conns)

    def close(self):
        self.stopping = True
        self.thread.join(timeout=5)
        for c in list(self.conns):
            c.close()
        self.sock.close()


def new_client(server, tenant=None):
    return Client(server, make_token(claims_for(tenant or str(uuid.uuid4()))))


def run_status(c, run_id):
    r = c.get(f"/v1/runs/{run_id}")
    assert r.status == 200, r
    return r.json()["status"]


def hanging_job(c, hang, **fields):
    body = job_body(endpoint_url=hang.url(), max_attempts=1, timeout_secs=120)
    body.update(fields)
    r = c.post("/v1/jobs", body)
    assert r.status == 201, r
    return r.json()


def fast_job(c, sink, **fields):
    body = job_body(endpoint_url=sink.url(f"/fast/{uuid.uuid4().hex[:8]}"), max_attempts=1)
    body.update(fields)
    r = c.post("/v1/jobs", body)
    assert r.status == 201, r
    return r.json()


def trigger(c, job, n):
    """n runs of job triggered one by one; their ids."""
    ids = []
    for _ in range(n):
        got = c.post(f"/v1/jobs/{job['id']}/trigger", {})
        assert got.status == 201, got
        ids.append(got.json()["id"])
    return ids


def wait_all_done(c, run_ids, timeout):
    """Every run ended within timeout seconds; returns their statuses."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = {rid: run_status(c, rid) for rid in run_ids}
        if all(s in DONE for s in statuses.values()):
            return statuses
        if time.monotonic() > deadline:
            raise AssertionError(f"runs not done after {timeout} s: {statuses}")
        time.sleep(0.1)


def one_shard(r):
    """Wait until the instance has set up its Redis with one shard and owns
    it (before that, jobs would be placed by the default count)."""
    wait_until(lambda: r.cmd("GET", "jw:{sched}:shards") == "1" and r.cmd("EXISTS", "jw:{s:0}:lease") == 1,
               timeout=10, what="the shard to be set up")


@pytest.fixture
def rig(tmp_path):
    """A Redis, a fast sink and an endpoint that never answers;
    rig.start(name, *args) starts a jobwheel on that Redis, stopped after
    the test (the last started first)."""
    r, sink, hang, started = Redis(tmp_path / "redis"), Sink(), HangServer(), []

    def start(name, *args):
        s = Jobwheel(tmp_path / name, redis_url=r.url, args=ARGS + list(args))
        started.append(s)
        return s
    yield SimpleNamespace(redis=r, sink=sink, hang=hang, start=start)
    for s in reversed(started):
        s.stop()
    hang.close()
    sink.close()
    r.stop()


def test_a_tenants_hanging_calls_do_not_starve_another_tenants_triggers(rig):
    """The issue's check: A triggers 60 runs at an endpoint that never
    answers, on an instance with --max-inflight 20; B's 5 runs at a fast
    endpoint all complete within a few seconds while A's calls still hang."""
    sink, hang = rig.sink, rig.hang
    s = rig.start("jw", "--max-inflight", "20")
    a, b = new_client(s), new_client(s)
    ja = hanging_job(a, hang)
    a_runs = trigger(a, ja, 60)
    wait_until(lambda: hang.requests >= 10, timeout=10, what="A's calls to reach the hanging endpoint")
    jb = fast_job(b, sink)
    t0 = time.monotonic()
    b_runs = trigger(b, jb, 5)
    statuses = wait_all_done(b, b_runs, timeout=10)
    assert set(statuses.values()) == {"completed"}, statuses
    assert time.monotonic() - t0 < 10
    # A's calls are still hanging, and A holds no more than its share
    # of the instance (by default half of max_inflight)
    assert 1 <= hang.open() <= 10, hang.open()
    a_statuses = [run_status(a, rid) for rid in a_runs]
    assert not any(st in DONE for st in a_statuses), a_statuses
    assert a_statuses.count("running") <= 10, a_statuses

def test_a_tenants_hanging_schedules_do_not_starve_another_tenants_schedule(rig):
    """The same for firings: A's many every-second jobs at the hanging
    endpoint fill what they can; B's every-second job still runs, every
    second, to completion."""
    sink, hang = rig.sink, rig.hang
    s = rig.start("jw", "--max-inflight", "20")
    a, b = new_client(s), new_client(s)
    bodies = [job_body(endpoint_url=hang.url(f"/hang/{i}"), max_attempts=1, timeout_secs=120,
                       cron="* * * * * *") for i in range(30)]
    made = a.post("/v1/jobs/batch", bodies)
    assert made.status == 201, made
    # A's firings hold every slot they may before B's job exists
    wait_until(lambda: hang.requests >= 10, timeout=10, what="A's firings to reach the hanging endpoint")
    time.sleep(2)
    p = f"/fast/{uuid.uuid4().hex[:8]}"
    jb = b.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=1, cron="* * * * * *"))
    assert jb.status == 201, jb
    t0 = time.monotonic()
    sink.wait_for(lambda reqs: len([q for q in reqs if q["path"] == p]) >= 3, timeout=10)
    assert time.monotonic() - t0 < 10
    b.patch(f"/v1/jobs/{jb.json()['id']}", {"enabled": False})
    runs = b.get(f"/v1/jobs/{jb.json()['id']}/runs?limit=200").json()
    assert sum(1 for x in runs if x["status"] == "completed") >= 2, runs
    assert 1 <= hang.open() <= 10, hang.open()

def test_a_ready_backlog_in_redis_does_not_starve_another_tenant(rig):
    """Runs nobody started wait in their shard's ready queue until the
    shard's owner sweeps them. A has 2000 such runs ahead of B's 5 in the
    same (single) shard, and A is at its cap on the owner: B's runs are
    still started by the owner's sweep within a few seconds.

    B's runs reach Redis only, not the owner's queue: they are triggered on
    a second instance whose only slot A holds (a hanging call)."""
    r, sink, hang = rig.redis, rig.sink, rig.hang
    x = rig.start("x", "--max-inflight", "20", "--schedule-shards", "1", "--instance-id", "owner")
    one_shard(r)
    assert r.cmd("GET", "jw:{s:0}:lease") == "owner"
    y = rig.start("y", "--max-inflight", "1", "--instance-id", "busy")
    tenant_a = str(uuid.uuid4())
    ax, ay = new_client(x, tenant_a), new_client(y, tenant_a)
    by = new_client(y)
    ja = hanging_job(ax, hang)
    for _ in range(2):
        got = ax.post(f"/v1/jobs/{ja['id']}/trigger/bulk", {"items": [{}] * 1000})
        assert got.status == 201, got
    wait_until(lambda: hang.requests >= 10, timeout=10, what="A's calls from x")
    got = ay.post(f"/v1/jobs/{ja['id']}/trigger", {})  # y's only slot
    assert got.status == 201, got
    wait_until(lambda: hang.requests >= 11, timeout=10, what="A's call from y")
    jb = fast_job(by, sink)
    t0 = time.monotonic()
    b_runs = trigger(by, jb, 5)
    assert r.cmd("GET", "jw:{s:0}:lease") == "owner"
    statuses = wait_all_done(by, b_runs, timeout=10)
    assert set(statuses.values()) == {"completed"}, statuses
    assert time.monotonic() - t0 < 10
    assert hang.open() >= 11  # A's calls still hang, on both instances
    assert r.cmd("GET", "jw:{s:0}:lease") == "owner"

def iso(t_ms):
    return datetime.fromtimestamp(t_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def test_a_delayed_backlog_does_not_hold_back_another_tenants_due_runs(rig):
    """Delayed runs become ready when due (the due-time clock, else the
    shard owner's sweep). A
    has 15,000 runs due at one instant, B 5 runs due a millisecond later,
    in the same (single) shard: B's runs start as soon as they are due,
    not after A's backlog has been moved."""
    r, sink, hang = rig.redis, rig.sink, rig.hang
    s = rig.start("jw", "--max-inflight", "20", "--schedule-shards", "1")
    one_shard(r)
    a, b = new_client(s), new_client(s)
    ja, jb = hanging_job(a, hang), fast_job(b, sink)
    at = (int(time.time()) + 15) * 1000
    for _ in range(15):
        got = a.post(f"/v1/jobs/{ja['id']}/trigger/bulk", {"items": [{"scheduled_at": iso(at)}] * 1000})
        assert got.status == 201, got
    b_runs = []
    for _ in range(5):
        got = b.post(f"/v1/jobs/{jb['id']}/trigger", {"scheduled_at": iso(at + 1)})
        assert got.status == 201 and got.json()["status"] == "delayed", got
        b_runs.append(got.json()["id"])
    assert time.time() * 1000 < at - 500, "making the runs took too long for this test"
    time.sleep(max(0, at / 1000 - time.time()))
    statuses = wait_all_done(b, b_runs, timeout=8)
    assert set(statuses.values()) == {"completed"}, statuses
    assert 1 <= hang.open() <= 10

def test_runs_queued_by_an_earlier_build_still_start(rig):
    """Earlier builds queued ready and delayed runs in one set per shard for
    all tenants; during a rolling upgrade they still do. The sweep moves
    them to their tenants' queues and they start."""
    r, sink = rig.redis, rig.sink
    s = rig.start("jw", "--schedule-shards", "1")
    one_shard(r)
    tenant = str(uuid.uuid4())
    c = new_client(s, tenant)
    job = fast_job(c, sink)
    runs = [c.post(f"/v1/jobs/{job['id']}/trigger", {"delay": 30}).json()["id"] for _ in range(2)]
    now = int(time.time() * 1000)
    members = [f"{tenant}:{run}" for run in runs]
    # as an earlier build leaves them: one ready (pending, waiting for a
    # while), one delayed and due
    for m in members:
        assert r.cmd("ZREM", f"jw:{{s:0}}:delayed:{tenant}", m) == 1
    r.cmd("HSET", f"jw:{{{tenant}}}:run:{runs[0]}", "status", "pending")
    r.cmd("ZADD", "jw:{s:0}:ready", now - 5000, members[0])
    r.cmd("ZADD", "jw:{s:0}:delayed", now - 10, members[1])
    statuses = wait_all_done(c, runs, timeout=10)
    assert set(statuses.values()) == {"completed"}, statuses
    assert r.cmd("EXISTS", "jw:{s:0}:ready", "jw:{s:0}:delayed") == 0
