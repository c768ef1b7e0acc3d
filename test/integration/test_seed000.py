"""Seed 000, the admin surface: POST /api/v1/admin/jobs/trigger for the six
system jobs, in the document's envelope, with every error it lists, and the
job stats endpoint it points to. The system jobs are Builtin jobs of the
tenant, so the native API sees the same objects."""
import uuid
from datetime import datetime

import pytest

from conftest import Client, claims_for, make_token, wait_until

SYSTEM_JOBS = ["tokenExpiry", "dataSync", "reportGeneration", "cleanupExpiredSessions",
               "auditLogArchive", "credentialRotationCheck"]
TRIGGER = "/api/v1/admin/jobs/trigger"
STATS = "/api/v1/admin/jobs/stats"


def iso_ms(s):
    assert s.endswith("Z") and len(s) == 24, s  # 2025-07-10T14:45:00.000Z
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@pytest.fixture
def tenant():
    return str(uuid.uuid4())


def admin(server, tenant, roles=("system_admin",), **claims):
    claims.setdefault("sub", "1876278a-3634-4833-b73e-1536d806e117")
    claims.setdefault("name", "Deepak purohit")
    claims.setdefault("email", "deepak.purohit@rezolve.ai")
    token = make_token(claims_for(tenant, roles=roles, **claims))
    return Client(server, token, tenant)


def seed_headers():
    return {"accept": "application/json", "content-type": "application/json"}


def native(c):
    """The tenant's admin, reading the same objects through the native API."""
    return Client(c.server, make_token(claims_for(c.tenant, roles=("admin",))), c.tenant)


def wait_ended(c, run_id):
    native_c = native(c)

    def ended():
        r = native_c.get(f"/v1/runs/{run_id}")
        assert r.status == 200, r
        return r.json()["status"] in ("completed", "failed")
    wait_until(ended, timeout=15, what=f"run {run_id} to end")
    return native_c.get(f"/v1/runs/{run_id}").json()


@pytest.mark.parametrize("name", SYSTEM_JOBS)
def test_every_system_job_triggers_in_the_documented_envelope(server, tenant, name):
    c = admin(server, tenant)
    r = c.post(TRIGGER, {"jobName": name}, headers=seed_headers())
    assert r.status == 200, r
    body = r.json()
    assert set(body) == {"success", "message", "data", "timestamp"}
    assert body["success"] is True and body["message"] == "Job triggered successfully"
    d = body["data"]
    assert set(d) == {"jobId", "jobName", "status", "triggeredAt", "triggeredBy", "estimatedStartTime",
                      "priority"}
    assert d["jobId"].startswith("job-") and d["jobName"] == name and d["status"] == "queued"
    assert d["triggeredBy"] == {"id": "1876278a-3634-4833-b73e-1536d806e117", "name": "Deepak purohit",
                                "email": "deepak.purohit@rezolve.ai"}
    assert d["priority"] == "normal"
    assert iso_ms(d["estimatedStartTime"]) >= iso_ms(d["triggeredAt"])
    iso_ms(body["timestamp"])
    # the run is a real one: it ends, with a summary, seen through the native API
    run = wait_ended(c, d["jobId"][4:])
    assert run["status"] == "completed", run
    assert run["triggered_by"] == "manual:user:1876278a-3634-4833-b73e-1536d806e117"
    assert isinstance(run["result"], dict) and run["result"]["dry_run"] is False, run  # the summary
    job = native(c).get(f"/v1/jobs/{run['job_id']}").json()
    assert job["name"] == name and job["system"] is True and job["job_type"] == "Builtin"


def test_super_admin_may_trigger_and_realm_is_checked(server, tenant):
    c = admin(server, tenant, roles=("super_admin",), realm="acme")
    h = dict(seed_headers(), realmname="acme")
    assert c.post(TRIGGER, {"jobName": "dataSync"}, headers=h).status == 200
    h["realmname"] = "other"
    r = c.post(TRIGGER, {"jobName": "dataSync"}, headers=h)
    assert r.status == 401 and r.json()["success"] is False and r.json()["error"]["field"] == "realmname"


def error_of(r, status):
    assert r.status == status, r
    body = r.json()
    assert body["success"] is False and isinstance(body["message"], str) and body["message"]
    assert body["error"]["code"] == status and body["error"]["detail"]
    iso_ms(body["timestamp"])
    return body


@pytest.mark.parametrize("body,field", [
    ({"jobName": "mineBitcoin"}, "jobName"),
    ({"jobName": ""}, "jobName"),
    ({}, "jobName"),
    ({"jobName": 7}, "jobName"),
    ({"jobName": "dataSync", "extra": 1}, "extra"),
])
def test_invalid_job_name_is_400(server, tenant, body, field):
    b = error_of(admin(server, tenant).post(TRIGGER, body, headers=seed_headers()), 400)
    assert b["error"]["field"] == field
    if field == "jobName":
        assert b["message"] == "Invalid job name"


def test_tenant_header_is_required_and_a_uuid(server, tenant):
    c = admin(server, tenant)
    b = error_of(c.post(TRIGGER, {"jobName": "dataSync"}, tenant="", headers=seed_headers()), 400)
    assert b["error"]["field"] == "x-tenantid"
    b = error_of(c.post(TRIGGER, {"jobName": "dataSync"}, tenant="not-a-uuid", headers=seed_headers()), 400)
    assert b["error"]["field"] == "x-tenantid"


def test_401_without_or_with_a_bad_token(server, tenant):
    r = server.request("POST", TRIGGER, {"jobName": "tokenExpiry"}, tenant=tenant, headers=seed_headers())
    error_of(r, 401)
    assert r.headers.get("www-authenticate", "").startswith("Bearer")
    bad = make_token(claims_for(tenant, roles=("system_admin",)), secret="another-secret-of-at-least-32-bytes!")
    error_of(server.request("POST", TRIGGER, {"jobName": "tokenExpiry"}, token=bad, tenant=tenant), 401)
    expired = make_token(claims_for(tenant, roles=("system_admin",), exp_in=-600))
    error_of(server.request("POST", TRIGGER, {"jobName": "tokenExpiry"}, token=expired, tenant=tenant), 401)


@pytest.mark.parametrize("roles", [("admin",), ("viewer",), ()])
def test_403_without_system_admin_role(server, tenant, roles):
    c = admin(server, tenant, roles=roles)
    error_of(c.post(TRIGGER, {"jobName": "tokenExpiry"}, headers=seed_headers()), 403)
    error_of(c.get(STATS), 403)


def test_409_while_the_job_is_queued_or_running(server, tenant):
    c = admin(server, tenant)
    first = c.post(TRIGGER, {"jobName": "auditLogArchive"}).json()["data"]["jobId"]
    run = wait_ended(c, first[4:])
    # an admin limits the system job (through the native API): one run an hour
    r = native(c).patch(f"/v1/jobs/{run['job_id']}", {"rate_limit_max": 1, "rate_limit_window_secs": 3600})
    assert r.status == 200, r
    # this run uses the hour's one start; the next one waits for the next hour
    wait_ended(c, c.post(TRIGGER, {"jobName": "auditLogArchive"}).json()["data"]["jobId"][4:])
    second = c.post(TRIGGER, {"jobName": "auditLogArchive"})
    assert second.status == 200, second
    second_id = second.json()["data"]["jobId"]
    wait_until(lambda: native(c).get(f"/v1/runs/{second_id[4:]}").json()["status"] == "delayed",
               what="the run to wait for the rate limit")
    b = error_of(c.post(TRIGGER, {"jobName": "auditLogArchive"}), 409)
    assert b["message"] == "Job already running"
    assert b["data"] == {"jobName": "auditLogArchive", "existingJobId": second_id}
    # another system job is not held up by it
    assert c.post(TRIGGER, {"jobName": "reportGeneration"}).status == 200
    # stats show the queued run
    stats = {j["jobName"]: j for j in c.get(STATS).json()["data"]["jobs"]}
    assert stats["auditLogArchive"]["status"] == "queued"
    assert stats["auditLogArchive"]["counts"]["queued"] == 1


def test_system_names_are_reserved(server, tenant):
    c = admin(server, tenant, roles=("admin",))
    r = c.post("/v1/jobs", {"name": "tokenExpiry", "endpoint_url": "https://example.com/x"})
    assert r.status == 400 and "name" in r.json()["errors"], r


def test_stats_per_system_job(server, tenant):
    c = admin(server, tenant)
    r = c.get(STATS)
    assert r.status == 200, r
    jobs = r.json()["data"]["jobs"]
    assert [j["jobName"] for j in jobs] == SYSTEM_JOBS
    assert all(j["exists"] is False and j["lastRun"] is None and j["counts"]["total"] == 0 for j in jobs)
    ids = [c.post(TRIGGER, {"jobName": "tokenExpiry"}).json()["data"]["jobId"]]
    wait_ended(c, ids[0][4:])
    ids.append(c.post(TRIGGER, {"jobName": "tokenExpiry"}).json()["data"]["jobId"])
    wait_ended(c, ids[1][4:])
    body = c.get(STATS).json()
    assert body["success"] is True
    t = {j["jobName"]: j for j in body["data"]["jobs"]}["tokenExpiry"]
    assert t["exists"] is True and t["enabled"] is True and t["schedule"] == "0 * * * *"
    assert t["status"] == "idle" and t["counts"]["total"] == 2 and t["counts"]["completed"] == 2
    assert t["lastRun"]["jobId"] == ids[1] and t["lastRun"]["status"] == "completed"
    assert isinstance(t["averageDurationMs"], int) and t["averageDurationMs"] >= 0
    assert iso_ms(t["nextRunAt"]).minute == 0  # hourly, on the hour
