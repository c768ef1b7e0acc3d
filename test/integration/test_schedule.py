"""Issue 3: firing. Every-second crons on the nominal second, exactly once
across instances (also through a SIGKILL), pause/resume/reschedule on every
instance, misfire policies after downtime, suppressed firings recorded as
skipped runs, intervals and one-time jobs, and the schedule preview."""
import collections
import signal
import time
import uuid
from datetime import datetime, timezone

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, job_body, make_token, wait_until
from sink import Sink
from test_runs import SECRET, verify_signature


def ms(iso):
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def iso(t_ms):
    return datetime.fromtimestamp(t_ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def runs_of(c, job):
    out, cursor = [], None
    while True:
        r = c.get(f"/v1/jobs/{job}/runs?limit=200" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200, r
        out += r.json()
        if r.headers["x-has-more"] == "false":
            return out
        cursor = r.headers["x-next-cursor"]


def new_client(server):
    return Client(server, make_token(claims_for(str(uuid.uuid4()))))


def test_every_second_cron_fires_on_the_second(server):
    c = new_client(server)
    job = c.post("/v1/jobs", job_body(cron="* * * * * *")).json()
    assert job["next_run_at"].endswith(".000Z")
    time.sleep(4.5)
    c.patch(f"/v1/jobs/{job['id']}", {"enabled": False})
    runs = runs_of(c, job["id"])
    assert len(runs) >= 4
    nominal = sorted(ms(r["scheduled_at"]) for r in runs)
    assert all(t % 1000 == 0 for t in nominal)
    assert nominal == list(range(nominal[0], nominal[-1] + 1000, 1000))  # no gap, no double
    for r in runs:
        assert r["status"] != "skipped" and r["triggered_by"] == "schedule"
        assert r["job_id"] == job["id"] and r["job_version"] == 1
        late = ms(r["created_at"]) - ms(r["scheduled_at"])
        assert 0 <= late < 50, r


def test_interval_and_one_time(server):
    c = new_client(server)
    start = (int(time.time() * 1000) // 1000 + 1) * 1000 + 250
    every = c.post("/v1/jobs", job_body(interval_seconds=1, start_at=iso(start))).json()
    assert ms(every["next_run_at"]) == start
    once = c.post("/v1/jobs", job_body(run_at=iso(start + 500))).json()
    assert ms(once["next_run_at"]) == start + 500
    time.sleep((start - time.time() * 1000) / 1000 + 2.6)
    c.patch(f"/v1/jobs/{every['id']}", {"enabled": False})
    got = sorted(ms(r["scheduled_at"]) for r in runs_of(c, every["id"]))
    assert got[:3] == [start, start + 1000, start + 2000]
    assert [ms(r["scheduled_at"]) for r in runs_of(c, once["id"])] == [start + 500]
    assert c.get(f"/v1/jobs/{once['id']}").json()["next_run_at"] is None


def test_a_burst_of_firings_runs_each_once(tmp_path):
    """300 one-off jobs due at one instant: more than an instance's claims in
    flight take (8 claims of up to 32 jobs) and than the attempts it runs at
    once (here 50), so firings wait their turn, some runs start inside their
    claim and the others from the ready queue. Some jobs sign their calls
    (the claim reads their secret) and some have a concurrency limit (their
    runs start through it). Each job fires once and is delivered once."""
    r = Redis(tmp_path / "redis")
    sink = Sink()
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=["--allow-private-targets", "--max-inflight", "50"])
    try:
        c = new_client(s)
        at = (int(time.time() * 1000) // 1000 + 3) * 1000
        bodies = [job_body(endpoint_url=sink.url(f"/burst/{i}"), max_attempts=1, run_at=iso(at)) for i in range(300)]
        for b in bodies[:20]:
            b["webhook_secret"] = SECRET
        for b in bodies[20:40]:
            b["max_concurrency"] = 1
        made = c.post("/v1/jobs/batch", bodies)
        assert made.status == 201, made
        ids = {j["id"] for j in made.json()}
        got = sink.wait_for(lambda reqs: len(reqs) >= 300, timeout=30)
        time.sleep(1)  # nothing more comes
        got = [g for i in range(300) for g in sink.to(f"/burst/{i}")]
        assert len(got) == 300
        assert len({g["headers"]["x-jobwheel-run-id"] for g in got}) == 300
        assert {g["headers"]["x-jobwheel-scheduled-at"] for g in got} == {str(at)}
        for i in range(20):
            assert verify_signature(sink.to(f"/burst/{i}")[0]), i
        assert all("webhook-signature" not in g["headers"] for i in range(20, 300) for g in sink.to(f"/burst/{i}"))
        for job in ids:
            wait_until(lambda: all(x["status"] == "completed" for x in runs_of(c, job)), what="the run to end")
            runs = runs_of(c, job)
            assert len(runs) == 1 and runs[0]["attempt"] == 1 and runs[0]["scheduled_at"] == iso(at), runs
    finally:
        assert s.stop() == 0
        sink.close()
        r.stop()


def test_a_job_stored_otherwise_than_the_scheduler_read_it_fires_once(tmp_path):
    """The scheduler sends fire_claim the job's JSON as it read it; Redis
    may hold it written otherwise with the same version (by another build):
    then the claim decodes what it holds, and the firing happens once all
    the same."""
    r = Redis(tmp_path / "redis")
    sink = Sink()
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=["--allow-private-targets"])
    try:
        tenant = str(uuid.uuid4())
        c = Client(s, make_token(claims_for(tenant)))
        at = (int(time.time() * 1000) // 1000 + 4) * 1000
        job = c.post("/v1/jobs", job_body(endpoint_url=sink.url("/other"), max_attempts=1, run_at=iso(at))).json()
        time.sleep(2)  # in the scheduler's window by now: read and kept
        key, field = f"jw:{{{tenant}}}:jobs", bytes.fromhex(job["id"].replace("-", ""))
        stored = r.cmd("HGET", key, field)
        assert stored.startswith("{")
        assert r.cmd("HSET", key, field, "{ " + stored[1:]) == 0  # the same job, written otherwise
        got = sink.wait_for(lambda reqs: len(reqs) >= 1, timeout=10)
        time.sleep(1)
        assert len(sink.to("/other")) == 1, got
        wait_until(lambda: [x["status"] for x in runs_of(c, job["id"])] == ["completed"], what="the run to end")
    finally:
        assert s.stop() == 0
        sink.close()
        r.stop()


def test_suppressed_firings_are_skipped_runs(server):
    c = new_client(server)
    all_days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    excl = c.post("/v1/jobs", job_body(cron="* * * * * *", exclusions={"days_of_week": all_days})).json()
    window = c.post("/v1/jobs", job_body(cron="* * * * * *", execution_window_cron="0 0 1 1 *")).json()
    time.sleep(2.5)
    for j in (excl, window):
        c.patch(f"/v1/jobs/{j['id']}", {"enabled": False})
    for j, needle in ((excl, "excluded day"), (window, "execution window")):
        runs = runs_of(c, j["id"])
        assert len(runs) >= 2
        for r in runs:
            assert r["status"] == "skipped" and needle in r["error"], r
            assert r["finished_at"] is not None


def test_pause_resume_reschedule_on_every_instance(redis, tmp_path):
    a = Jobwheel(tmp_path / "a", redis_url=redis.url)
    b = Jobwheel(tmp_path / "b", redis_url=redis.url)
    try:
        token = make_token(claims_for(str(uuid.uuid4())))
        ca, cb = Client(a, token), Client(b, token)
        job = ca.post("/v1/jobs", job_body(cron="* * * * * *")).json()
        jid = job["id"]
        time.sleep(1.5)
        # pause through the other instance: no firing more than a second later
        r = cb.post(f"/v1/jobs/{jid}/pause")
        assert r.status == 200 and r.json()["paused"] is True and r.json()["next_run_at"] is None
        assert cb.post(f"/v1/jobs/{jid}/pause").status == 400
        paused_at = int(time.time() * 1000)
        time.sleep(2.5)
        assert all(ms(r["scheduled_at"]) <= paused_at + 1000 for r in runs_of(ca, jid))
        before = len(runs_of(ca, jid))
        # resume: fires again, from now on
        r = ca.post(f"/v1/jobs/{jid}/resume")
        assert r.status == 200 and r.json()["paused"] is False
        assert ms(r.json()["next_run_at"]) > int(time.time() * 1000) - 50
        assert ca.post(f"/v1/jobs/{jid}/resume").status == 400
        time.sleep(2.2)
        assert len(runs_of(ca, jid)) >= before + 2
        # reschedule to even seconds only
        r = cb.post(f"/v1/jobs/{jid}/reschedule", {"cron": "*/2 * * * * *"})
        assert r.status == 200 and r.json()["cron"] == "*/2 * * * * *"
        changed = int(time.time() * 1000)
        time.sleep(5.6)  # (changed + 1 s, +5.6 s] holds at least two even seconds
        later = [ms(x["scheduled_at"]) for x in runs_of(ca, jid) if ms(x["scheduled_at"]) > changed + 1000]
        assert len(later) >= 2 and all((t // 1000) % 2 == 0 for t in later), later
        # and nothing fired twice, through all of it
        counts = collections.Counter(ms(x["scheduled_at"]) for x in runs_of(ca, jid))
        assert max(counts.values()) == 1
    finally:
        codes = a.stop(), b.stop()  # both stopped before either is judged
        assert codes == (0, 0)


def test_reschedule_validation_and_effective_from(server):
    c = new_client(server)
    job = c.post("/v1/jobs", job_body(cron="0 * * * *")).json()
    bad = [({}, "cron"), ({"cron": "0 * * * *", "interval_seconds": 5}, "cron"),
           ({"cron": "nope"}, "cron"), ({"interval_seconds": 0}, "interval_seconds"),
           ({"cron": "0 * * * *", "name": "x"}, "name"), ({"cron": "0 * * * *", "effective_from": "soon"},
                                                           "effective_from")]
    for body, field in bad:
        r = c.post(f"/v1/jobs/{job['id']}/reschedule", body)
        assert r.status == 400 and field in r.json()["errors"], (body, r)
    eff = int(time.time() * 1000) + 3 * 86400 * 1000
    r = c.post(f"/v1/jobs/{job['id']}/reschedule", {"interval_seconds": 60, "effective_from": iso(eff)})
    assert r.status == 200, r
    j = r.json()
    assert j["cron"] is None and j["interval_seconds"] == 60 and ms(j["start_at"]) == eff
    assert ms(j["next_run_at"]) == eff + 60000 or ms(j["next_run_at"]) == eff
    assert j["version"] == 2
    r = c.post(f"/v1/jobs/{job['id']}/reschedule", {"cron": "0 9 * * 1-5", "timezone": "America/New_York"})
    assert r.json()["interval_seconds"] is None and r.json()["start_at"] is None


def test_disable_and_soft_delete_stop_firing(server):
    c = new_client(server)
    job = c.post("/v1/jobs", job_body(name="short-lived", cron="* * * * * *")).json()
    time.sleep(1.5)
    assert c.delete(f"/v1/jobs/{job['id']}?soft=true").status == 204
    gone_at = int(time.time() * 1000)
    time.sleep(1.5)
    runs = runs_of(c, job["id"])
    assert runs and all(ms(r["scheduled_at"]) <= gone_at + 1000 for r in runs)
    got = c.get(f"/v1/jobs/{job['id']}").json()
    assert got["deleted_at"] is not None and got["next_run_at"] is None
    assert c.get("/v1/jobs").json() == []
    assert [j["id"] for j in c.get("/v1/jobs?include_deleted=true").json()] == [job["id"]]
    # the name is free again
    assert c.post("/v1/jobs", job_body(name="short-lived")).status == 201
    assert c.delete(f"/v1/jobs/{job['id']}?soft=true").status == 404


def test_schedule_preview_around_dst(server):
    c = new_client(server)
    job = c.post("/v1/jobs", job_body(cron="30 2 * * *", timezone="Europe/Berlin",
                                      exclusions={"dates": ["2026-03-30"]})).json()
    r = c.get(f"/v1/jobs/{job['id']}/schedule?count=4&from=2026-03-27T12:00:00Z")
    assert r.status == 200, r
    p = r.json()
    assert p["timezone"] == "Europe/Berlin" and p["from"] == "2026-03-27T12:00:00.000Z"
    f = p["firings"]
    assert [x["at"] for x in f] == ["2026-03-28T01:30:00.000Z",   # 02:30 CET
                                    "2026-03-29T01:00:00.000Z",   # 02:30 does not exist: 03:00 CEST
                                    "2026-03-30T00:30:00.000Z",   # 02:30 CEST, excluded
                                    "2026-03-31T00:30:00.000Z"]
    assert [x["local"] for x in f] == ["2026-03-28T02:30:00.000+01:00", "2026-03-29T03:00:00.000+02:00",
                                       "2026-03-30T02:30:00.000+02:00", "2026-03-31T02:30:00.000+02:00"]
    assert [x["utc_offset"] for x in f] == ["+01:00", "+02:00", "+02:00", "+02:00"]
    assert [x["suppressed"] for x in f] == [False, False, True, False]
    assert "2026-03-30" in f[2]["reason"]
    # autumn: a wildcard-hour job runs in both passes of the repeated hour
    job2 = c.post("/v1/jobs", job_body(cron="0 * * * *", timezone="Europe/Berlin")).json()
    f = c.get(f"/v1/jobs/{job2['id']}/schedule?count=3&from=2026-10-24T23:30:00Z").json()["firings"]
    assert [x["local"] for x in f] == ["2026-10-25T02:00:00.000+02:00", "2026-10-25T02:00:00.000+01:00",
                                       "2026-10-25T03:00:00.000+01:00"]
    for q, field in (("count=0", "count"), ("count=1001", "count"), ("from=yesterday", "from")):
        r = c.get(f"/v1/jobs/{job['id']}/schedule?{q}")
        assert r.status == 400 and field in r.json()["errors"]
    assert c.get(f"/v1/jobs/{uuid.uuid4()}/schedule").status == 404


def test_misfire_policies_after_downtime(tmp_path):
    # a Redis of its own: no other instance may fire while this one is down;
    # threshold 0: every firing missed meanwhile is a misfire
    redis = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path, redis_url=redis.url, args=["--misfire-threshold-secs", "0"])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        jobs = {p: c.post("/v1/jobs", job_body(cron="* * * * * *", misfire_policy=p)).json()["id"]
                for p in ("fire_once", "skip", "fire_all")}
        time.sleep(1.5)
        assert s.stop() == 0
        down = int(time.time() * 1000)
        time.sleep(10)
        up = int(time.time() * 1000)
        s.start()
        time.sleep(2)
        for jid in jobs.values():
            c.patch(f"/v1/jobs/{jid}", {"enabled": False})

        def catch_up(jid):
            """The runs of the first firing after the restart: one fire_claim
            makes them all, so they share its created_at. (What was missed
            may start before `down`: a stopping instance stops firing first
            and then drains.)"""
            rs = [r for r in runs_of(c, jid) if ms(r["created_at"]) >= up]
            first = min(ms(r["created_at"]) for r in rs)
            rs = [r for r in rs if ms(r["created_at"]) == first]
            return [r for r in rs if r["status"] != "skipped"], [r for r in rs if r["status"] == "skipped"]

        pending, skipped = catch_up(jobs["fire_once"])
        assert len(pending) == 1 and len(skipped) == 1, (pending, skipped)
        assert "misfire_policy fire_once" in skipped[0]["error"]
        assert ms(skipped[0]["scheduled_at"]) < ms(pending[0]["scheduled_at"])
        pending, skipped = catch_up(jobs["skip"])
        assert pending == [] and len(skipped) == 1 and "misfire_policy skip" in skipped[0]["error"]
        pending, skipped = catch_up(jobs["fire_all"])
        assert len(pending) >= 10 and skipped == []
        nominal = sorted(ms(r["scheduled_at"]) for r in pending)
        assert nominal == list(range(nominal[0], nominal[-1] + 1000, 1000))
        # and every job carries on firing on time afterwards
        for jid in jobs.values():
            assert max(ms(r["scheduled_at"]) for r in runs_of(c, jid)) > down + 10000
    finally:
        assert s.stop() == 0
        redis.stop()


def test_three_instances_fire_exactly_once_through_a_kill(tmp_path):
    r = Redis(tmp_path / "redis")
    nodes = [Jobwheel(tmp_path / f"i{i}", redis_url=r.url, args=["--instance-id", f"node-{i}"])
             for i in range(3)]
    try:
        c = Client(nodes[0], make_token(claims_for(str(uuid.uuid4()))))
        jobs = [c.post("/v1/jobs", job_body(cron="* * * * * *")).json()["id"] for _ in range(4)]
        begin = int(time.time() * 1000) + 2000
        time.sleep(20)
        nodes[1].stop(signal.SIGKILL)
        time.sleep(10)
        nodes[1].start()
        time.sleep(30)
        end = int(time.time() * 1000) - 6000  # misfire threshold: these must have fired
        for jid in jobs:
            c.patch(f"/v1/jobs/{jid}", {"enabled": False})
        for jid in jobs:
            counts = collections.Counter(ms(x["scheduled_at"]) for x in runs_of(c, jid))
            doubled = [t for t, n in counts.items() if n > 1]
            assert doubled == [], f"fired twice: {doubled}"
            want = set(range((begin // 1000 + 1) * 1000, end, 1000))
            missing = sorted(want - set(counts))
            assert missing == [], f"never fired: {[iso(t) for t in missing]}"
    finally:
        for n in nodes:
            if n.proc:
                n.stop()
        r.stop()
