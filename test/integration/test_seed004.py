"""Seed 004, the nightly surface: built-in handler jobs registered by
job_name with a cron_expression — list with last and next run, trigger
(also a dry run, which changes nothing), last result with its
result_summary, deregister — at the documented doubled path and, for
requests in its form, on seed 003's /api/v1/scheduler/jobs. The same jobs
and runs are seen through the native API."""
import time
import uuid
from datetime import datetime, timezone

import pytest

from conftest import Client, claims_for, make_token, wait_until

BASE = "/api/v1/scheduler/api/v1/scheduler/jobs"
SHORT = "/api/v1/scheduler/jobs"


def iso(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@pytest.fixture
def c(server):
    tenant = str(uuid.uuid4())
    cl = Client(server, make_token(claims_for(tenant)))
    cl.tenant_id = tenant
    return cl


def register(c, name=None, base=BASE, **fields):
    body = {"job_name": name or f"nightly-{uuid.uuid4().hex[:8]}", "cron_expression": "0 8 * * 1",
            "handler": "generateWeeklyExpiryReport", "is_active": True}
    body.update(fields)
    r = c.post(base, body)
    assert r.status == 201, r
    return r.json()


def wait_ended(c, run_id):
    wait_until(lambda: c.get(f"/v1/runs/{run_id}").json()["status"] not in ("pending", "running", "delayed"),
               what="the run to end")
    return c.get(f"/v1/runs/{run_id}").json()


def test_register_the_documented_example(c):
    r = c.post(BASE, {"job_name": "weekly-expiry-summary-report", "cron_expression": "0 8 * * 1",
                      "handler": "generateWeeklyExpiryReport", "is_active": True})
    assert r.status == 201, r
    body = r.json()
    assert list(body) == ["job_name", "cron_expression", "is_active", "created_at", "next_run_at"]
    assert body["job_name"] == "weekly-expiry-summary-report" and body["cron_expression"] == "0 8 * * 1"
    assert body["is_active"] is True
    nxt = iso(body["next_run_at"])
    assert nxt.weekday() == 0 and (nxt.hour, nxt.minute, nxt.second) == (8, 0, 0)  # Monday 08:00 UTC
    assert nxt > iso(body["created_at"])
    # the same job through the native API
    job = c.get("/v1/jobs/weekly-expiry-summary-report").json()
    assert job["job_type"] == "Builtin" and job["cron"] == "0 8 * * 1"
    assert job["job_configuration"]["handler"] == "generateWeeklyExpiryReport" and job["enabled"] is True


@pytest.mark.parametrize("fields,field", [
    ({"handler": "mineBitcoin"}, "handler"),
    ({"handler": 7}, "handler"),
    ({"handler": None}, "handler"),
    ({"cron_expression": "0 0 30 2 *"}, "cron_expression"),
    ({"cron_expression": "every day"}, "cron_expression"),
    ({"job_name": ""}, "job_name"),
    ({"is_active": "yes"}, "is_active"),
    ({"colour": "blue"}, "colour"),
])
def test_register_400s(c, fields, field):
    body = {"job_name": f"n-{uuid.uuid4().hex[:8]}", "cron_expression": "0 8 * * 1",
            "handler": "generateWeeklyExpiryReport"}
    body.update(fields)
    r = c.post(BASE, body)
    assert r.status == 400, r
    assert field in r.json()["errors"], r.json()
    if field == "cron_expression":  # the message speaks of the seed's field too
        assert r.json()["detail"].startswith("cron_expression"), r.json()


@pytest.mark.parametrize("missing", ["job_name", "cron_expression", "handler"])
def test_register_requires_fields(c, missing):
    body = {"job_name": f"n-{uuid.uuid4().hex[:8]}", "cron_expression": "0 8 * * 1",
            "handler": "generateWeeklyExpiryReport"}
    del body[missing]
    r = c.post(BASE, body)
    assert r.status == 400 and missing in r.json()["errors"], r


def test_register_twice_is_409(c):
    register(c, "dup-job")
    r = c.post(BASE, {"job_name": "dup-job", "cron_expression": "0 2 * * *", "handler": "dataSync"})
    assert r.status == 409, r


def test_list_with_pagination_and_last_run(c):
    names = ["certification-expiry-nightly", "pause-auto-lift-check", "a-third", "b-fourth"]
    crons = ["0 2 * * *", "0 6 * * *", "0 3 * * *", "0 4 * * *"]
    for n, cr in zip(names, crons):
        register(c, n, cron_expression=cr, handler="tokenExpiry")
    register(c, "inactive-one", is_active=False)
    # an HttpCall job of the tenant is not a scheduler job of this surface
    assert c.post("/v1/jobs", {"name": "plain-webhook", "endpoint_url": "https://example.com/x",
                               "cron": "0 1 * * *"}).status == 201
    run_id = c.post(f"{BASE}/certification-expiry-nightly/trigger", {"triggered_by": "coordinator-007"}).json()["run_id"]
    wait_ended(c, run_id)
    r = c.get(BASE)
    assert r.status == 200, r
    body = r.json()
    assert list(body) == ["data", "pagination"]
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 5}
    by_name = {j["job_name"]: j for j in body["data"]}
    assert sorted(by_name) == sorted(names + ["inactive-one"])
    for j in body["data"]:
        assert list(j) == ["job_name", "cron_expression", "is_active", "last_run_at", "last_run_status",
                           "next_run_at"]
    cert = by_name["certification-expiry-nightly"]
    assert cert["cron_expression"] == "0 2 * * *" and cert["is_active"] is True
    assert cert["last_run_status"] == "success" and iso(cert["last_run_at"])
    assert iso(cert["next_run_at"]).hour == 2
    assert by_name["pause-auto-lift-check"]["last_run_at"] is None
    assert by_name["pause-auto-lift-check"]["last_run_status"] is None
    assert by_name["inactive-one"]["is_active"] is False and by_name["inactive-one"]["next_run_at"] is None
    # pages
    p1 = c.get(BASE + "?page=1&limit=2").json()
    p3 = c.get(BASE + "?page=3&limit=2").json()
    assert p1["pagination"] == {"page": 1, "limit": 2, "total": 5} and len(p1["data"]) == 2
    assert len(p3["data"]) == 1
    assert c.get(BASE + "?limit=0").status == 400
    assert c.get(BASE + "?page=zero").status == 400


def test_trigger_and_last_result(c):
    register(c, "certification-expiry-nightly", cron_expression="0 2 * * *", handler="tokenExpiry")
    r = c.post(f"{BASE}/certification-expiry-nightly/trigger", {"triggered_by": "coordinator-007", "dry_run": False})
    assert r.status == 200, r
    body = r.json()
    assert list(body) == ["job_name", "triggered_at", "run_id", "status"]
    assert body["job_name"] == "certification-expiry-nightly" and body["status"] == "running"
    iso(body["triggered_at"])
    run = wait_ended(c, body["run_id"])
    assert run["status"] == "completed" and run["triggered_by"] == "manual:coordinator-007"
    r = c.get(f"{BASE}/certification-expiry-nightly/last-result")
    assert r.status == 200, r
    last = r.json()
    assert last["job_name"] == "certification-expiry-nightly" and last["run_id"] == body["run_id"]
    assert last["status"] == "success"
    assert iso(last["completed_at"]) >= iso(last["started_at"])
    assert last["result_summary"] == run["result"] and last["result_summary"]["dry_run"] is False
    assert "tokens_checked" in last["result_summary"]
    # on seed 003's path too
    assert c.get(f"{SHORT}/certification-expiry-nightly/last-result").json()["run_id"] == body["run_id"]


def test_dry_run_changes_nothing(c):
    register(c, "token-sweep", handler="tokenExpiry")
    # an API key of the tenant that expires in a moment: tokenExpiry removes such keys
    soon = datetime.fromtimestamp(time.time() + 1.5, timezone.utc).isoformat(timespec="milliseconds")
    key = c.post("/v1/api-keys", {"name": "short-lived", "permissions": ["jobs:read"],
                                  "expires_at": soon.replace("+00:00", "Z")})
    assert key.status == 201, key
    key_id = key.json()["id"]
    time.sleep(2)

    def listed():
        return [k["id"] for k in c.get("/v1/api-keys").json()]
    body = c.post(f"{BASE}/token-sweep/trigger", {"triggered_by": "ops", "dry_run": True}).json()
    run = wait_ended(c, body["run_id"])
    assert run["status"] == "completed" and run["result"]["dry_run"] is True
    assert run["result"]["expired_removed"] == 1, run["result"]  # what it would do ...
    assert key_id in listed()  # ... and did not
    body = c.post(f"{BASE}/token-sweep/trigger", {"dry_run": False}).json()
    run = wait_ended(c, body["run_id"])
    assert run["result"]["dry_run"] is False and run["result"]["expired_removed"] == 1
    assert key_id not in listed()


def test_dry_run_only_for_builtin_jobs(c):
    assert c.post("/v1/jobs", {"name": "webhook-job", "endpoint_url": "https://example.com/x"}).status == 201
    r = c.post(f"{BASE}/webhook-job/trigger", {"dry_run": True})
    assert r.status == 400 and "dry_run" in r.json()["errors"], r


@pytest.mark.parametrize("body,field", [
    ({"dry_run": "no"}, "dry_run"), ({"triggered_by": 7}, "triggered_by"), ({"who": "x"}, "who"),
])
def test_trigger_400s(c, body, field):
    register(c, "t400")
    r = c.post(f"{BASE}/t400/trigger", body)
    assert r.status == 400 and field in r.json()["errors"], r


def test_unknown_job_is_404(c):
    assert c.post(f"{BASE}/nope/trigger", {}).status == 404
    assert c.get(f"{BASE}/nope/last-result").status == 404
    assert c.delete(f"{BASE}/nope").status == 404


def test_last_result_before_any_run_is_404(c):
    register(c, "never-ran")
    r = c.get(f"{BASE}/never-ran/last-result")
    assert r.status == 404 and r.headers["content-type"].startswith("application/problem+json")


def test_delete_deregisters(c):
    register(c, "weekly-expiry-summary-report")
    r = c.delete(f"{BASE}/weekly-expiry-summary-report")
    assert r.status == 200, r
    body = r.json()
    assert body["deleted"] is True and body["job_name"] == "weekly-expiry-summary-report"
    assert list(body) == ["deleted", "job_name", "cancelled_at"]
    iso(body["cancelled_at"])
    assert c.get(BASE).json()["pagination"]["total"] == 0
    assert c.post(f"{BASE}/weekly-expiry-summary-report/trigger", {}).status == 404
    # the name is free again
    register(c, "weekly-expiry-summary-report")


def test_seed_004_form_on_seed_003_path(c):
    body = register(c, "short-path-job", base=SHORT)
    assert body["job_name"] == "short-path-job"
    r = c.post(f"{SHORT}/short-path-job/trigger", {"triggered_by": "coordinator-007"})
    assert r.status == 200 and r.json()["job_name"] == "short-path-job", r
    r = c.delete(f"{SHORT}/short-path-job")
    assert r.status == 200 and r.json()["deleted"] is True, r


def test_auth(server, c):
    assert server.request("GET", BASE).status == 401
    assert server.request("POST", BASE, {"job_name": "x", "cron_expression": "0 8 * * 1",
                                         "handler": "dataSync"}).status == 401
    reader = Client(server, make_token(claims_for(c.tenant_id, roles=(), perms=("jobs:read",))))
    assert reader.get(BASE).status == 200
    r = reader.post(BASE, {"job_name": "x", "cron_expression": "0 8 * * 1", "handler": "dataSync"})
    assert r.status == 403
