"""Issue 12, item 9: per-tenant quotas — jobs, schedules, runs per minute,
calls in flight and stored run history — set by a super_admin through the
API, with defaults from configuration, enforced in Redis (so two instances
enforce one quota together), answered over a quota with 429, Retry-After
and a problem+json body naming the quota; a tenant reads its own usage."""
import time
import uuid

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, make_token, wait_until
from sink import Sink


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    d = tmp_path_factory.mktemp("quotas")
    r = Redis(d / "redis")
    args = ["--allow-private-targets", "true"]
    a = Jobwheel(d / "a", redis_url=r.url, args=args)
    b = Jobwheel(d / "b", redis_url=r.url, args=args)
    sink = Sink()
    yield {"a": a, "b": b, "redis": r, "sink": sink, "dir": d}
    sink.close()
    codes = a.stop(), b.stop()  # both stopped before either is judged
    r.stop()
    assert codes == (0, 0)


class Tenant:
    """A fresh tenant: its admin on instances a and b, and a super_admin."""

    def __init__(self, rig):
        self.id = str(uuid.uuid4())
        token = make_token(claims_for(self.id))
        self.a = Client(rig["a"], token)
        self.b = Client(rig["b"], token)
        self.root = Client(rig["a"], make_token(claims_for(None, roles=("super_admin",))))

    def set(self, method="PATCH", **limits):
        r = self.root(method, f"/v1/tenants/{self.id}/quotas", limits)
        assert r.status == 200, r
        return r.json()

    def usage(self, quota=None):
        r = self.a.get("/v1/tenant/usage")
        assert r.status == 200, r
        return r.json()["quotas"][quota] if quota else r.json()


@pytest.fixture
def t(rig):
    return Tenant(rig)


def job(c, **fields):
    body = {"name": "q-" + uuid.uuid4().hex[:10], "endpoint_url": "https://example.com/hook"}
    body.update(fields)
    return c.post("/v1/jobs", body)


def assert_quota(r, name, limit):
    assert r.status == 429, r
    assert int(r.headers["retry-after"]) >= 1, r.headers
    p = r.json()
    assert p["status"] == 429 and p["quota"] == name and p["limit"] == limit, p
    assert name in p["detail"], p
    assert r.headers["content-type"].startswith("application/problem+json")


def fresh_minute():
    """Runs per minute are counted per clock minute: start well inside one."""
    if time.time() % 60 > 45:
        time.sleep(61 - time.time() % 60)


# ---- who may set and read ------------------------------------------------------------

def test_a_super_admin_sets_quotas_and_the_tenant_reads_its_usage(t):
    u = t.usage()
    assert u["tenant_id"] == t.id
    assert set(u["quotas"]) == {"jobs", "schedules", "runs_per_minute", "inflight", "run_history"}
    assert all(q["limit"] is None and q["source"] == "default" for q in u["quotas"].values()), u
    got = t.set(method="PUT", jobs=5, inflight=3)
    assert got["quotas"]["jobs"] == {"limit": 5, "used": 0, "source": "tenant"}, got
    assert got["quotas"]["inflight"]["limit"] == 3
    assert job(t.a).status == 201
    assert t.usage("jobs") == {"limit": 5, "used": 1, "source": "tenant"}
    # PATCH changes only what it names; null goes back to the default
    t.set(schedules=2)
    u = t.usage()["quotas"]
    assert u["jobs"]["limit"] == 5 and u["schedules"]["limit"] == 2
    t.set(jobs=None)
    assert t.usage("jobs")["limit"] is None
    # PUT replaces them all
    t.set(method="PUT", run_history=10)
    u = t.usage()["quotas"]
    assert u["run_history"]["limit"] == 10 and u["schedules"]["limit"] is None and u["inflight"]["limit"] is None


def test_only_a_super_admin_sets_or_reads_a_tenants_quotas(rig, t):
    other = str(uuid.uuid4())
    for c, path in ((t.a, f"/v1/tenants/{t.id}/quotas"), (t.a, f"/v1/tenants/{other}/quotas")):
        assert c("PUT", path, {"jobs": 1000000}).status == 403
        assert c.get(path).status == 403
    sysadmin = Client(rig["a"], make_token(claims_for(t.id, roles=("system_admin", "admin"))))
    assert sysadmin("PATCH", f"/v1/tenants/{t.id}/quotas", {"jobs": 10**6}).status == 403
    assert t.usage("jobs")["limit"] is None
    # the usage of another tenant is not the caller's to read
    assert t.a.get("/v1/tenant/usage", tenant=other).status == 403


@pytest.mark.parametrize("body,field", [
    ({"jobz": 1}, "jobz"),
    ({"jobs": -1}, "jobs"),
    ({"jobs": "10"}, "jobs"),
    ({"jobs": 1.5}, "jobs"),
    ({"jobs": 10**13}, "jobs"),
    ([1, 2], ""),
])
def test_bad_quota_settings_are_400_and_change_nothing(t, body, field):
    t.set(jobs=7)
    r = t.root("PATCH", f"/v1/tenants/{t.id}/quotas", body)
    assert r.status == 400, r
    if field:
        assert field in r.json()["errors"], r.json()
    assert t.usage("jobs")["limit"] == 7


# ---- jobs and schedules -----------------------------------------------------------------

def test_jobs_quota_on_both_instances_all_or_nothing(t):
    t.set(jobs=2)
    assert job(t.a).status == 201
    assert job(t.b).status == 201
    for c in (t.a, t.b):
        assert_quota(job(c), "jobs", 2)
    # a batch that does not fit is refused whole
    t.set(jobs=3)
    r = t.b.post("/v1/jobs/batch", [{"name": f"b-{i}-{uuid.uuid4().hex[:6]}",
                                      "endpoint_url": "https://example.com/h"} for i in range(2)])
    assert_quota(r, "jobs", 3)
    items = t.a.get("/v1/jobs").json()
    assert len(items) == 2
    assert t.usage("jobs")["used"] == 2
    # a deleted job (soft or hard) frees its place
    assert t.a.delete(f"/v1/jobs/{items[0]['id']}?soft=true").status in (200, 204)
    assert t.a.delete(f"/v1/jobs/{items[1]['id']}").status in (200, 204)
    assert t.usage("jobs")["used"] == 0
    assert job(t.a).status == 201


def test_jobs_quota_on_the_scheduler_surface_keeps_its_error_shape(t):
    t.set(jobs=1)
    body = {"name": "s-" + uuid.uuid4().hex[:8], "jobType": "HttpCall", "scheduleType": "Cron",
            "scheduleExpression": "0 7 * * 1-5", "jobConfiguration": {"url": "https://example.com/s"}}
    assert t.a.post("/api/v1/scheduler/jobs", body).status == 201
    body["name"] = "s-" + uuid.uuid4().hex[:8]
    assert_quota(t.a.post("/api/v1/scheduler/jobs", body), "jobs", 1)


def test_schedules_quota_counts_jobs_with_a_timing(t):
    t.set(schedules=1)
    first = job(t.a, cron="0 3 * * *")
    assert first.status == 201
    assert_quota(job(t.b, interval_seconds=60), "schedules", 1)
    assert_quota(job(t.a, run_at="2099-01-01T00:00:00Z"), "schedules", 1)
    plain = job(t.a)  # no schedule: only the jobs quota applies
    assert plain.status == 201
    assert_quota(t.a.patch(f"/v1/jobs/{plain.json()['id']}", {"cron": "*/5 * * * *"}), "schedules", 1)
    assert t.usage("schedules")["used"] == 1
    # the first job without its timing frees the place
    assert t.a.patch(f"/v1/jobs/{first.json()['id']}", {"cron": None}).status == 200
    assert t.usage("schedules")["used"] == 0
    assert t.b.patch(f"/v1/jobs/{plain.json()['id']}", {"cron": "*/5 * * * *"}).status == 200


# ---- runs per minute ----------------------------------------------------------------------

def test_runs_per_minute_on_both_instances(rig, t):
    j = job(t.a, endpoint_url=rig["sink"].url("/rpm")).json()
    fresh_minute()
    t.set(runs_per_minute=3)
    once = t.a.post(f"/v1/jobs/{j['id']}/trigger", {"idempotency_key": "once"})
    assert once.status == 201
    assert t.b.post(f"/v1/jobs/{j['id']}/trigger", {}).status == 201
    # a bulk that does not fit makes nothing
    r = t.a.post(f"/v1/jobs/{j['id']}/trigger/bulk", {"items": [{}, {}]})
    assert_quota(r, "runs_per_minute", 3)
    assert int(r.headers["retry-after"]) <= 61
    assert t.b.post(f"/v1/jobs/{j['id']}/trigger", {}).status == 201
    for c in (t.a, t.b):
        assert_quota(c.post(f"/v1/jobs/{j['id']}/trigger", {}), "runs_per_minute", 3)
    # a retry of a trigger that was made makes nothing: it is still answered
    again = t.b.post(f"/v1/jobs/{j['id']}/trigger", {"idempotency_key": "once"})
    assert again.status == 200 and again.json()["id"] == once.json()["id"], again
    assert t.usage("runs_per_minute")["used"] == 3
    assert len(t.a.get(f"/v1/jobs/{j['id']}/runs").json()) == 3


def test_firings_over_runs_per_minute_are_recorded_skipped(rig, t):
    fresh_minute()
    t.set(runs_per_minute=2)
    j = job(t.a, cron="* * * * * *", endpoint_url=rig["sink"].url("/rpm-fire")).json()

    def runs():
        return t.a.get(f"/v1/jobs/{j['id']}/runs?limit=200").json()
    wait_until(lambda: sum(r["status"] == "skipped" for r in runs()) >= 2, timeout=15, what="skipped firings")
    assert t.a.post(f"/v1/jobs/{j['id']}/pause", {}).status == 200
    made = runs()
    minute = lambda r: r["created_at"][:16]
    for m in {minute(r) for r in made}:
        ran = [r for r in made if minute(r) == m and r["status"] != "skipped"]
        assert len(ran) <= 2, made
    skipped = [r for r in made if r["status"] == "skipped"]
    assert all("runs_per_minute" in (r.get("error") or "") for r in skipped), skipped


# ---- calls in flight -------------------------------------------------------------------------

def test_inflight_quota_is_shared_by_two_instances(tmp_path, t):
    sink = Sink()
    try:
        sink.script("/slow", (200, {}, {"ok": True}, 1.0), sticky=True)
        t.set(inflight=2)
        j = job(t.a, endpoint_url=sink.url("/slow"), max_attempts=1).json()
        ids = []
        for i in range(8):
            r = (t.a if i % 2 else t.b).post(f"/v1/jobs/{j['id']}/trigger", {})
            assert r.status == 201, r
            ids.append(r.json()["id"])
        seen_held = []

        def all_done():
            u = t.usage()
            seen_held.append(u["runs_held_by_inflight"])
            assert u["quotas"]["inflight"]["used"] <= 2, u
            return all(t.a.get(f"/v1/runs/{i}").json()["status"] == "completed" for i in ids)
        wait_until(all_done, timeout=40, step=0.2, what="every run to complete")
        assert sink.max_active <= 2, sink.max_active
        assert len(sink.to("/slow")) == 8
        assert max(seen_held) > 0
        assert t.usage("inflight")["used"] == 0
    finally:
        sink.close()


def test_raising_the_inflight_quota_lets_held_runs_go(t):
    sink = Sink()
    try:
        sink.script("/slow", (200, {}, {"ok": True}, 2.0), sticky=True)
        t.set(inflight=1)
        j = job(t.a, endpoint_url=sink.url("/slow"), max_attempts=1).json()
        for _ in range(4):
            assert t.a.post(f"/v1/jobs/{j['id']}/trigger", {}).status == 201
        wait_until(lambda: t.usage()["runs_held_by_inflight"] == 3, timeout=10, what="three held runs")
        assert sink.max_active == 1
        t.set(inflight=None)
        wait_until(lambda: sink.max_active >= 3, timeout=10, what="held runs to start")
    finally:
        sink.close()


# ---- run history -----------------------------------------------------------------------------

def test_run_history_keeps_the_newest_runs_and_refuses_when_all_are_open(rig, t):
    t.set(run_history=4)
    j = job(t.a, endpoint_url=rig["sink"].url("/hist")).json()
    ids = []
    for _ in range(4):
        ids.append(t.a.post(f"/v1/jobs/{j['id']}/trigger", {}).json()["id"])
    wait_until(lambda: all(t.a.get(f"/v1/runs/{i}").json()["status"] == "completed" for i in ids),
               timeout=20, what="runs to complete")
    for _ in range(2):
        assert t.b.post(f"/v1/jobs/{j['id']}/trigger", {}).status == 201
    assert t.a.get(f"/v1/runs/{ids[0]}").status == 404
    assert t.a.get(f"/v1/runs/{ids[1]}").status == 404
    assert t.a.get(f"/v1/runs/{ids[3]}").status == 200
    assert t.usage("run_history")["used"] == 4
    # runs that have not ended are never dropped: with only those left, 429
    late = job(t.a, endpoint_url=rig["sink"].url("/hist")).json()
    wait_until(lambda: all(r["status"] == "completed"
                           for r in t.a.get("/v1/runs").json()), timeout=20, what="quiet")
    for _ in range(4):
        assert t.a.post(f"/v1/jobs/{late['id']}/trigger", {"delay": 3600}).status == 201
    assert_quota(t.a.post(f"/v1/jobs/{late['id']}/trigger", {"delay": 3600}), "run_history", 4)


# ---- defaults from configuration ------------------------------------------------------------

def test_configured_defaults_apply_until_a_super_admin_sets_the_tenants_own(rig, tmp_path):
    s = Jobwheel(tmp_path, redis_url=rig["redis"].url, args=["--quota-jobs", "1"])
    try:
        tenant = str(uuid.uuid4())
        c = Client(s, make_token(claims_for(tenant)))
        root = Client(s, make_token(claims_for(None, roles=("super_admin",))))
        assert job(c).status == 201
        assert_quota(job(c), "jobs", 1)
        assert c.get("/v1/tenant/usage").json()["quotas"]["jobs"] == {"limit": 1, "used": 1, "source": "default"}
        assert root("PATCH", f"/v1/tenants/{tenant}/quotas", {"jobs": 2}).status == 200
        assert job(c).status == 201
        assert_quota(job(c), "jobs", 2)
    finally:
        assert s.stop() == 0
