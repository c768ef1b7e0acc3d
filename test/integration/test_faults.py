"""Issue 13: what jobwheel does under faults, with real processes on one
Redis. An instance frozen (SIGSTOP) while its attempt's call is open must
not, when it resumes, cut short the attempt that replaced its own — nor may
anything written on behalf of an old attempt (renewal, outcome, a worker's
progress or heartbeat) touch the new one. A killed instance's shards move
when its lease lapses (README "Scheduling"). Each test also runs beside two
CPU-burning processes."""
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, job_body, make_token, wait_until

RUN_LEASE_MS = 2000
SCHED_LEASE_MS = 1500
TICK_S = 0.5  # the scheduler's tick (src/sched/scheduler.c)


@pytest.fixture(params=[0, 2], ids=["quiet", "two-cpu-burners"])
def burners(request):
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(request.param)]
    yield len(procs)
    for p in procs:
        p.kill()
        p.wait()


@pytest.fixture
def pair(tmp_path):
    """Two instances, a and b, on one Redis, with short leases."""
    r = Redis(tmp_path / "redis")
    args = ["--allow-private-targets", "--run-lease-ms", str(RUN_LEASE_MS),
            "--schedule-lease-ms", str(SCHED_LEASE_MS)]
    a = Jobwheel(tmp_path / "a", redis_url=r.url, args=args + ["--instance-id", "a"])
    b = Jobwheel(tmp_path / "b", redis_url=r.url, args=args + ["--instance-id", "b"])
    yield r, a, b
    codes = []
    for s in (a, b):
        if s.proc:
            os.kill(s.proc.pid, signal.SIGCONT)
            codes.append(s.stop())
    r.stop()  # (all stopped before a code is judged)
    assert codes == [0] * len(codes)


def run_of(c, run_id):
    r = c.get(f"/v1/runs/{run_id}")
    assert r.status == 200, r
    return r.json()


def attempts_seen(sink, p):
    return [int(x["headers"]["x-jobwheel-attempt"]) for x in sink.to(p)]


def freeze_through_a_retry(r, a, b, sink, c_a, c_b, p, release):
    """Trigger a run on a, whose attempt 1 call hangs until `release` is
    set; freeze a; wait until b has retried the run as attempt 2 and the
    worker (202) has it; resume a. Returns (run id, attempt 1's token,
    attempt 2's token)."""
    sink.script(p, (200, {}, {}, release), (202, {}, {}, 0))
    job = c_a.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=3, retry_delays_secs=[0],
                                        timeout_secs=20)).json()
    run = c_a.post(f"/v1/jobs/{job['id']}/trigger").json()
    rid = run["id"]
    sink.wait_for(lambda rs: attempts_seen(sink, p) == [1])
    assert r.cmd("HGET", f"jw:{{{c_a.tenant_id}}}:run:{rid}", "_instance") == "a"
    os.kill(a.proc.pid, signal.SIGSTOP)
    try:
        sink.wait_for(lambda rs: attempts_seen(sink, p) == [1, 2], timeout=30)
        wait_until(lambda: [(x["attempt"], x["outcome"]) for x in run_of(c_b, rid)["attempts"]]
                   == [(1, "crashed"), (2, "accepted")], timeout=10, what="attempt 2 accepted by its worker")
    finally:
        os.kill(a.proc.pid, signal.SIGCONT)
    t1, t2 = (x["headers"]["x-jobwheel-run-token"] for x in sink.to(p))
    return rid, t1, t2


def check_completed_at_attempt_2(c, sink, p, rid, t2, a):
    done = c.post(f"/v1/runs/{rid}/complete", {"result": {"ok": 2}}, headers={"x-run-token": t2})
    assert done.status == 200, done
    run = run_of(c, rid)
    assert run["status"] == "completed" and run["attempt"] == 2, run
    assert [(x["attempt"], x["outcome"]) for x in run["attempts"]] == \
        [(1, "crashed"), (2, "accepted"), (2, "completed")], run["attempts"]
    assert attempts_seen(sink, p) == [1, 2]  # one delivery per attempt, no third
    # the resumed instance found its attempt superseded and dropped it
    wait_until(lambda: f"run={rid} attempt=1 superseded" in a.output(), timeout=5, what="a's log line")


def clients(a, b):
    tenant = str(uuid.uuid4())
    token = make_token(claims_for(tenant))
    c_a, c_b = Client(a, token), Client(b, token)
    c_a.tenant_id = c_b.tenant_id = tenant
    return c_a, c_b


@pytest.fixture
def frozen(pair, sink):
    """Attempt 1 frozen with instance a, retried by b as attempt 2, a resumed
    with attempt 1's call still open until `release` is set."""
    r, a, b = pair
    c_a, c_b = clients(a, b)
    release, p = threading.Event(), "/" + uuid.uuid4().hex
    rid, t1, t2 = freeze_through_a_retry(r, a, b, sink, c_a, c_b, p, release)
    yield dict(r=r, a=a, c_a=c_a, c_b=c_b, p=p, rid=rid, t1=t1, t2=t2, release=release)
    release.set()


def test_a_resumed_instance_keeps_the_next_attempts_deadline(frozen, sink, burners):
    f = frozen
    # a is back with attempt 1's call still open for a while (it would
    # renew "its" lease); then the call ends; the worker stays silent for
    # well over a run lease, within its timeout_secs (20 s)
    time.sleep(2 * RUN_LEASE_MS / 1000)
    f["release"].set()
    time.sleep(2 * RUN_LEASE_MS / 1000 + 1)
    run = run_of(f["c_b"], f["rid"])
    assert (run["status"], run["attempt"]) == ("running", 2), (run["status"], run["attempts"])
    tenant = f["c_a"].tenant_id
    shard = f["r"].cmd("HGET", f"jw:{{{tenant}}}:run:{f['rid']}", "_shard")
    deadline = float(f["r"].cmd("ZSCORE", f"jw:{{s:{shard}}}:running", f"{tenant}:{f['rid']}"))
    assert deadline > time.time() * 1000 + 10000, "attempt 2's timeout_secs deadline was cut short"
    check_completed_at_attempt_2(f["c_a"], sink, f["p"], f["rid"], f["t2"], f["a"])


def test_progress_and_heartbeat_belong_to_their_attempt(frozen, sink, burners):
    f = frozen
    c_a, c_b, rid, t1, t2 = f["c_a"], f["c_b"], f["rid"], f["t1"], f["t2"]
    # the worker of attempt 2 reports through the resumed instance
    for i in range(3):
        got = c_a.post(f"/v1/runs/{rid}/progress", {"processed": i, "total": 10}, headers={"x-run-token": t2})
        assert got.status == 200 and got.json()["cancel_requested"] is False, got
        assert c_a.post(f"/v1/runs/{rid}/heartbeat", headers={"x-run-token": t2}).status == 200
        # anything on behalf of attempt 1 is refused and changes nothing
        for c in (c_a, c_b):
            assert c.post(f"/v1/runs/{rid}/progress", {"processed": 9, "total": 10},
                          headers={"x-run-token": t1}).status == 401
            assert c.post(f"/v1/runs/{rid}/heartbeat", headers={"x-run-token": t1}).status == 401
            assert c.post(f"/v1/runs/{rid}/complete", {"result": {}}, headers={"x-run-token": t1}).status == 401
        progress = run_of(c_b, rid)["progress"]
        assert (progress["processed"], progress["total"]) == (i, 10), progress
        time.sleep(0.5)
    # silent, while a would still renew attempt 1's lease; then its call ends
    time.sleep(1.5)
    f["release"].set()
    time.sleep(2 * RUN_LEASE_MS / 1000 + 1)
    run = run_of(c_b, rid)
    assert (run["status"], run["attempt"]) == ("running", 2), (run["status"], run["attempts"])
    check_completed_at_attempt_2(c_b, sink, f["p"], rid, t2, f["a"])


def test_calls_longer_than_a_lease_keep_their_lease(pair, sink, burners):
    """Attempts whose calls last three leases keep them by renewal (an
    instance renews an attempt half a tick or more after it last set its
    lease, and one started ahead of its time not before then). a runs them
    for a job of a shard b owns, whose sweep would take over any attempt
    whose lease lapsed: none is taken over, and each run ends at attempt 1
    with one delivery."""
    r, a, b = pair
    c_a, _ = clients(a, b)
    n = int(r.cmd("GET", "jw:{sched}:shards"))
    wait_until(lambda: set(lease_holders(r, n)) == {"a", "b"}, timeout=15, what="the shards shared")
    p = "/" + uuid.uuid4().hex
    sink.script(p, (200, {}, {"ok": True}, 3 * RUN_LEASE_MS / 1000), sticky=True)
    for _ in range(64):  # a job of one of b's shards
        jid = c_a.post("/v1/jobs", job_body(endpoint_url=sink.url(p), max_attempts=3, retry_delays_secs=[0],
                                            timeout_secs=30)).json()["id"]
        shard = int(hashlib.sha1(f"{c_a.tenant_id}:{jid}".encode()).hexdigest()[:8], 16) % n
        if r.cmd("GET", f"jw:{{s:{shard}}}:lease") == "b":
            break
    else:
        pytest.fail("no job landed on b's shards")
    now = c_a.post(f"/v1/jobs/{jid}/trigger").json()["id"]
    at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 2)) + "Z"
    later = [x["id"] for x in c_a.post(f"/v1/jobs/{jid}/trigger/bulk",
                                       {"items": [{"scheduled_at": at} for _ in range(20)]}).json()["results"]]
    sink.wait_for(lambda rs: len(sink.to(p)) >= 1)
    assert r.cmd("HGET", f"jw:{{{c_a.tenant_id}}}:run:{now}", "_instance") == "a"
    for rid in [now] + later:
        wait_until(lambda: run_of(c_a, rid)["status"] == "completed", timeout=30, what=f"run {rid} completed")
        run = run_of(c_a, rid)
        assert [(x["attempt"], x["outcome"]) for x in run["attempts"]] == [(1, "completed")], run["attempts"]
    assert len(sink.to(p)) == 21 and set(attempts_seen(sink, p)) == {1}, attempts_seen(sink, p)


def lease_holders(r, n):
    return [r.cmd("GET", f"jw:{{s:{s}}}:lease") for s in range(n)]


def test_a_killed_instances_shards_move_when_its_lease_lapses(tmp_path, sink, burners):
    """README: a killed instance's shards are taken over within
    schedule_lease_ms plus one scheduler tick; what it would have fired
    fires then, once."""
    r = Redis(tmp_path / "redis")
    lease_ms = 3000  # the default, as the README states it
    a = Jobwheel(tmp_path / "a", redis_url=r.url, args=["--allow-private-targets", "--instance-id", "a"])
    b = Jobwheel(tmp_path / "b", redis_url=r.url, args=["--allow-private-targets", "--instance-id", "b"])
    try:
        n = int(r.cmd("GET", "jw:{sched}:shards"))
        wait_until(lambda: set(lease_holders(r, n)) == {"a", "b"}, timeout=15, what="the shards shared")
        tenant = str(uuid.uuid4())
        c = Client(b, make_token(claims_for(tenant)))
        paths = {}
        for _ in range(8):
            p = "/" + uuid.uuid4().hex
            jid = c.post("/v1/jobs", job_body(cron="* * * * * *", endpoint_url=sink.url(p))).json()["id"]
            paths[jid] = p

        def shard_of(jid):  # as the prelude's job_shard places a job
            return int(hashlib.sha1(f"{tenant}:{jid}".encode()).hexdigest()[:8], 16) % n
        time.sleep(2)
        holders = lease_holders(r, n)
        on_a = [jid for jid in paths if holders[shard_of(jid)] == "a"]
        assert on_a, "no job landed on a's shards"
        a.stop(signal.SIGKILL)
        killed = time.time()
        wait_until(lambda: all(h == "b" for h in lease_holders(r, n)), timeout=20, step=0.02,
                   what="b to take a's shards")
        took = time.time() - killed
        bound = lease_ms / 1000 + TICK_S
        # not before a's lease could have lapsed (its last renewal was at most a tick before the kill) ...
        assert took >= lease_ms / 1000 - TICK_S - 0.1, took
        # ... and within the lease and one tick, with room for a loaded machine
        assert took <= bound + 1.0, f"took {took:.2f} s, bound {bound:.2f} s"
        # a's jobs fire from b at once, the ones missed late but once
        after = killed + took
        for jid in on_a:
            sink.wait_for(lambda rs: any(x["at"] > after for x in sink.to(paths[jid])), timeout=10)
            first = min(x["at"] for x in sink.to(paths[jid]) if x["at"] > killed + 0.05)
            assert first <= after + 1.5, (jid, first - after)
        time.sleep(1.5)
        for jid in paths:
            c.patch(f"/v1/jobs/{jid}", {"enabled": False})
        for jid, p in paths.items():
            nominal = [int(x["headers"]["x-jobwheel-scheduled-at"]) for x in sink.to(p)]
            assert len(nominal) == len(set(nominal)), f"a firing delivered twice: {jid}"
            gaps = sorted(set(range(min(nominal), max(nominal) + 1, 1000)) - set(nominal))
            assert gaps == [], f"firings never delivered for {jid}: {gaps}"
    finally:
        if a.proc:
            a.stop()
        code = b.stop()
        r.stop()  # (stopped before the code is judged)
        assert code == 0
