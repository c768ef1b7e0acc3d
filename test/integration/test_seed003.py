"""Seed 003, the scheduler surface on /api/v1/scheduler: every request of
the document replayed as written — create (the document's example body),
the paged list with its filters, search and sort, get, PUT keeping omitted
fields, soft and hard delete, reschedule, pause and resume, trigger (202,
Location of the execution), exclusions, dependencies — plus executions and
workflows, every error as problem+json naming the seed's field, and the
same objects seen through the native API, both ways."""
import json
import uuid
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from conftest import Client, claims_for, job_body, make_token, wait_until
from test_runs import c as engine_client, engine, path, tls  # noqa: F401  (fixtures)

JOBS = "/api/v1/scheduler/jobs"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance"}

# The document's example, exactly as printed.
EXAMPLE = {
    "name": "Sync inventory feed",
    "description": "Calls the upstream inventory API every weekday morning.",
    "jobType": "HttpCall",
    "scheduleType": "Cron",
    "scheduleExpression": "0 7 * * 1-5",
    "intervalSeconds": None,
    "runAt": None,
    "jobConfiguration": {
        "url": "https://your-service.example.com/api/sync",
        "method": "POST",
        "headers": {"X-Api-Key": "abc123"},
        "body": None,
    },
    "retryPolicy": {"maxAttempts": 3, "delaySeconds": 30},
    "timeoutSeconds": 120,
    "timezone": "America/New_York",
    "isEnabled": True,
    "tags": ["inventory", "weekday"],
    "createdBy": "ops-team",
}


def iso(s):
    assert isinstance(s, str) and s.endswith("Z") and len(s) == 24, s
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def seed_job(name=None, **fields):
    body = {"name": name or f"job {uuid.uuid4().hex[:10]}", "jobType": "HttpCall", "scheduleType": "Interval",
            "intervalSeconds": 3600, "jobConfiguration": {"url": "https://example.com/hook"}}
    body.update(fields)
    return body


@pytest.fixture
def admin(server, tenant):
    return Client(server, make_token(claims_for(tenant)))


def create(c, body):
    r = c.post(JOBS, body)
    assert r.status == 201, r
    return r.json()


def problem(r, status, field=None):
    assert r.status == status, r
    assert r.headers["content-type"].startswith("application/problem+json"), r.headers
    p = r.json()
    assert PROBLEM_KEYS <= set(p), p
    assert p["status"] == status and p["title"] and p["detail"] and p["type"].startswith("https://"), p
    if field is not None:
        assert field in p["errors"], p
        assert p["errors"][field] and field in p["detail"], p
    return p


# ---- create ---------------------------------------------------------------------------

def test_create_the_documented_example(admin):
    r = admin.post(JOBS, EXAMPLE)
    assert r.status == 201, r
    job = r.json()
    uuid.UUID(job["id"])
    assert r.headers["location"] == f"{JOBS}/{job['id']}"
    assert job["name"] == "Sync inventory feed"
    assert job["description"] == EXAMPLE["description"]
    assert job["jobType"] == "HttpCall" and job["scheduleType"] == "Cron"
    assert job["scheduleExpression"] == "0 7 * * 1-5"
    assert job["intervalSeconds"] is None and job["runAt"] is None
    assert job["jobConfiguration"] == EXAMPLE["jobConfiguration"]
    assert job["retryPolicy"] == {"maxAttempts": 3, "delaySeconds": 30}
    assert job["timeoutSeconds"] == 120 and job["timezone"] == "America/New_York"
    assert job["isEnabled"] is True and job["status"] == "Enabled"
    assert job["tags"] == ["inventory", "weekday"]
    assert iso(job["createdAt"]) <= datetime.now(timezone.utc)
    # nextRunAt: the next weekday 07:00 in New York, whatever the offset
    nxt = iso(job["nextRunAt"])
    local = nxt.astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute, local.second) == (7, 0, 0) and local.weekday() < 5, local
    assert nxt > datetime.now(timezone.utc)
    assert (nxt - datetime.now(timezone.utc)).days <= 3
    assert admin.get(f"{JOBS}/{job['id']}").json() == job


def test_create_each_schedule_type(admin):
    at = "2031-05-06T07:08:09.000Z"
    once = create(admin, seed_job(scheduleType="OneTime", intervalSeconds=None, runAt=at))
    assert once["scheduleType"] == "OneTime" and once["runAt"] == at and once["nextRunAt"] == at
    every = create(admin, seed_job(intervalSeconds=90))
    assert every["scheduleType"] == "Interval" and every["intervalSeconds"] == 90
    gap = (iso(every["nextRunAt"]) - iso(every["createdAt"])).total_seconds()
    assert 89 <= gap <= 91, every
    off = create(admin, seed_job(isEnabled=False, timezone="Europe/Berlin"))
    assert off["status"] == "Disabled" and off["isEnabled"] is False and off["nextRunAt"] is None
    assert off["timezone"] == "Europe/Berlin"
    dflt = create(admin, seed_job())
    assert dflt["timezone"] == "UTC" and dflt["isEnabled"] is True and dflt["tags"] == []


@pytest.mark.parametrize("change,field", [
    ({"name": None}, "name"),
    ({"jobType": None}, "jobType"),
    ({"jobType": "Teleport"}, "jobType"),
    ({"scheduleType": None}, "scheduleType"),
    ({"scheduleType": "Sometimes"}, "scheduleType"),
    ({"scheduleType": "Cron", "intervalSeconds": None}, "scheduleExpression"),
    ({"scheduleType": "Cron", "scheduleExpression": "0 7 * * 1-5"}, "intervalSeconds"),
    ({"scheduleType": "Cron", "intervalSeconds": None, "scheduleExpression": "61 * * * *"},
     "scheduleExpression"),
    ({"scheduleType": "OneTime", "intervalSeconds": None}, "runAt"),
    ({"scheduleType": "OneTime", "intervalSeconds": None, "runAt": "next tuesday"}, "runAt"),
    ({"intervalSeconds": 0}, "intervalSeconds"),
    ({"intervalSeconds": "60"}, "intervalSeconds"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timeoutSeconds": -1}, "timeoutSeconds"),
    ({"isEnabled": "yes"}, "isEnabled"),
    ({"tags": "inventory"}, "tags"),
    ({"tags": [1]}, "tags[0]"),
    ({"retryPolicy": {"maxAttempts": 0}}, "retryPolicy.maxAttempts"),
    ({"retryPolicy": {"delaySeconds": "30"}}, "retryPolicy.delaySeconds"),
    ({"retryPolicy": {"tries": 3}}, "retryPolicy.tries"),
    ({"jobConfiguration": {"method": "POST"}}, "jobConfiguration.url"),
    ({"jobConfiguration": {"url": "ftp://example.com/x"}}, "jobConfiguration.url"),
    ({"jobConfiguration": {"url": "https://example.com/x", "method": "BREW"}}, "jobConfiguration.method"),
    ({"jobConfiguration": "https://example.com"}, "jobConfiguration"),
    ({"createdBy": 7}, "createdBy"),
    ({"colour": "blue"}, "colour"),
])
def test_create_refuses_bad_input_naming_the_field(admin, change, field):
    body = seed_job()
    body.update(change)
    body = {k: v for k, v in body.items() if not (k in ("name", "jobType", "scheduleType") and v is None)}
    problem(admin.post(JOBS, body), 400, field)


def test_create_errors_malformed_and_conflict(admin):
    problem(admin.post(JOBS, "{not json"), 400)
    problem(admin.post(JOBS, ["a"]), 400)
    body = seed_job()
    create(admin, body)
    p = problem(admin.post(JOBS, body), 409, "name")
    assert body["name"] in p["detail"]


def test_other_job_types(server, tenant):
    c = Client(server, make_token(claims_for(tenant)))
    sp = create(c, seed_job(jobType="StoredProcedure", jobConfiguration={"function": "jw_sync", "args": ["1"]}))
    assert sp["jobType"] == "StoredProcedure" and sp["jobConfiguration"] == {"function": "jw_sync", "args": ["1"]}
    fo = create(c, seed_job(jobType="FileOperation", jobConfiguration={"operation": "mkdir", "path": "out"}))
    assert fo["jobConfiguration"] == {"operation": "mkdir", "path": "out"}
    problem(c.post(JOBS, seed_job(jobType="FileOperation", jobConfiguration={"operation": "mkdir"})), 400,
            "jobConfiguration.path")
    # code execution is off on this server
    problem(c.post(JOBS, seed_job(jobType="CodeExecution", jobConfiguration={"command": "true"})), 400)


# ---- auth ------------------------------------------------------------------------------

def test_auth_errors(server, tenant, admin):
    job = create(admin, seed_job())
    for method, p in [("GET", JOBS), ("POST", JOBS), ("GET", f"{JOBS}/{job['id']}"),
                      ("POST", f"{JOBS}/{job['id']}/trigger"), ("GET", f"/api/v1/scheduler/executions/{job['id']}")]:
        problem(server.request(method, p, {} if method == "POST" else None), 401)
    expired = make_token(claims_for(tenant, exp_in=-3600))
    problem(server.request("GET", JOBS, token=expired), 401)
    reader = Client(server, make_token(claims_for(tenant, roles=(), perms=("jobs:read",))))
    assert reader.get(f"{JOBS}/{job['id']}").status == 200
    problem(reader.post(JOBS, seed_job()), 403)
    problem(reader.post(f"{JOBS}/{job['id']}/pause"), 403)
    problem(reader("DELETE", f"{JOBS}/{job['id']}"), 403)
    # another tenant's job does not exist for the caller
    other = Client(server, make_token(claims_for(str(uuid.uuid4()))))
    problem(other.get(f"{JOBS}/{job['id']}"), 404)
    problem(other("PUT", f"{JOBS}/{job['id']}", {"description": "x"}), 404)
    problem(other.post(f"{JOBS}/{job['id']}/trigger"), 404)
    assert admin.get(f"{JOBS}/{job['id']}").json()["description"] is None
    # a tenant the token does not name
    problem(admin.get(JOBS, tenant=str(uuid.uuid4())), 403)
    problem(admin.get(JOBS, tenant="not-a-uuid"), 400)


# ---- get, list -------------------------------------------------------------------------

def test_get_unknown_is_404(admin):
    p = problem(admin.get(f"{JOBS}/{uuid.uuid4()}"), 404)
    assert p["instance"].startswith(JOBS)


def test_paged_list_filters_search_sort(admin):
    made = []
    for i, (jt, tags, desc) in enumerate([("HttpCall", ["billing"], "charges cards"),
                                         ("HttpCall", ["billing", "nightly"], None),
                                         ("StoredProcedure", ["nightly"], "Rebuilds the INVENTORY index"),
                                         ("HttpCall", [], "inventory sync"),
                                         ("FileOperation", ["env:prod"], None)]):
        cfg = {"url": "https://example.com/h"} if jt == "HttpCall" else (
            {"function": "f"} if jt == "StoredProcedure" else {"operation": "list", "path": "."})
        made.append(create(admin, seed_job(name=f"{'edcba'[i]}-job-{uuid.uuid4().hex[:6]}", jobType=jt,
                                           tags=tags, description=desc, jobConfiguration=cfg,
                                           intervalSeconds=600 * (i + 1))))
    ids = [j["id"] for j in made]

    r = admin.get(JOBS)
    assert r.status == 200, r
    page = r.json()
    assert set(page) >= {"items", "pageNumber", "pageSize", "totalCount", "totalPages"}
    assert page["pageNumber"] == 1 and page["pageSize"] == 20 and page["totalCount"] == 5
    assert page["totalPages"] == 1
    assert [j["id"] for j in page["items"]] == ids[::-1]  # newest first by default
    assert page["items"][0] == admin.get(f"{JOBS}/{ids[-1]}").json()

    p2 = admin.get(f"{JOBS}?pageNumber=2&pageSize=2").json()
    assert (p2["pageNumber"], p2["pageSize"], p2["totalCount"], p2["totalPages"]) == (2, 2, 5, 3)
    assert [j["id"] for j in p2["items"]] == [ids[2], ids[1]]
    assert admin.get(f"{JOBS}?pageNumber=9&pageSize=2").json()["items"] == []

    def names(q):
        r = admin.get(f"{JOBS}?{q}")
        assert r.status == 200, r
        return [j["id"] for j in r.json()["items"]], r.json()["totalCount"]

    assert names("jobType=StoredProcedure") == ([ids[2]], 1)
    assert names("tag=billing&sortBy=createdAt&sortDirection=asc") == ([ids[0], ids[1]], 2)
    assert names("tag=env:prod") == ([ids[4]], 1)
    assert names("search=inventory&sortBy=name") == ([ids[3], ids[2]], 2)  # name and description, any case
    assert names("search=CARDS") == ([ids[0]], 1)
    assert names("sortBy=name&sortDirection=desc")[0] == ids
    assert names("sortBy=name")[0] == ids[::-1]
    assert names("sortBy=nextRunAt&sortDirection=asc")[0] == ids
    assert names("sortBy=createdAt&sortDirection=desc")[0] == ids[::-1]

    assert admin.post(f"{JOBS}/{ids[1]}/pause").status == 200
    assert admin("PUT", f"{JOBS}/{ids[2]}", {"isEnabled": False}).status == 200
    assert names("status=Paused") == ([ids[1]], 1)
    assert names("status=Disabled") == ([ids[2]], 1)
    assert names("status=Enabled&sortBy=createdAt&sortDirection=asc") == ([ids[0], ids[3], ids[4]], 3)
    # a soft-deleted job leaves the list
    assert admin.delete(f"{JOBS}/{ids[0]}").status == 204
    assert names("tag=billing") == ([ids[1]], 1)

    for q, field in [("pageNumber=0", "pageNumber"), ("pageSize=0", "pageSize"), ("pageSize=x", "pageSize"),
                     ("jobType=Teleport", "jobType"), ("status=Sleeping", "status"), ("sortBy=colour", "sortBy"),
                     ("sortDirection=up", "sortDirection")]:
        problem(admin.get(f"{JOBS}?{q}"), 400, field)


# ---- update ------------------------------------------------------------------------------

def test_put_keeps_omitted_fields(admin):
    job = create(admin, EXAMPLE | {"name": f"put {uuid.uuid4().hex[:6]}"})
    r = admin("PUT", f"{JOBS}/{job['id']}", {"description": "Only this changes", "retryPolicy": {"maxAttempts": 5}})
    assert r.status == 200, r
    upd = r.json()
    assert upd["description"] == "Only this changes"
    assert upd["retryPolicy"] == {"maxAttempts": 5, "delaySeconds": 30}
    for k in ("name", "jobType", "scheduleType", "scheduleExpression", "jobConfiguration", "timeoutSeconds",
              "timezone", "isEnabled", "tags", "createdAt", "nextRunAt", "id"):
        assert upd[k] == job[k], k
    assert iso(upd["updatedAt"]) >= iso(job["updatedAt"])
    # a new schedule type replaces the old timing; the job's zone still counts
    upd = admin("PUT", f"{JOBS}/{job['id']}", {"scheduleType": "Interval", "intervalSeconds": 120}).json()
    assert upd["scheduleType"] == "Interval" and upd["scheduleExpression"] is None and upd["intervalSeconds"] == 120
    upd = admin("PUT", f"{JOBS}/{job['id']}", {"scheduleExpression": "30 6 * * *", "tags": ["a"]}).json()
    assert upd["scheduleType"] == "Cron" and upd["intervalSeconds"] is None and upd["tags"] == ["a"]
    local = iso(upd["nextRunAt"]).astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (6, 30)
    # a JobDto sent back unchanged changes nothing
    same = admin("PUT", f"{JOBS}/{job['id']}", upd)
    assert same.status == 200 and same.json() == upd
    # errors; nothing half-applied
    problem(admin("PUT", f"{JOBS}/{job['id']}", {"timezone": "Nowhere/Land", "description": "x"}), 400, "timezone")
    problem(admin("PUT", f"{JOBS}/{job['id']}", {"scheduleType": "Cron"}), 400, "scheduleExpression")
    problem(admin("PUT", f"{JOBS}/{job['id']}", {"scheduleExpression": "0 * * * *", "intervalSeconds": 5}), 400,
            "scheduleType")
    problem(admin("PUT", f"{JOBS}/{uuid.uuid4()}", {"description": "x"}), 404)
    assert admin.get(f"{JOBS}/{job['id']}").json() == upd
    # isEnabled takes the job off the schedule and back
    off = admin("PUT", f"{JOBS}/{job['id']}", {"isEnabled": False}).json()
    assert off["status"] == "Disabled" and off["isEnabled"] is False and off["nextRunAt"] is None
    on = admin("PUT", f"{JOBS}/{job['id']}", {"isEnabled": True}).json()
    assert on["status"] == "Enabled" and on["nextRunAt"] == upd["nextRunAt"]


# ---- delete -----------------------------------------------------------------------------

def test_soft_and_hard_delete(admin):
    job = create(admin, seed_job())
    r = admin.delete(f"{JOBS}/{job['id']}?hardDelete=false")
    assert r.status == 204 and r.body == b""
    kept = admin.get(f"{JOBS}/{job['id']}").json()  # the record stays, inactive
    assert kept["isDeleted"] is True and kept["status"] == "Disabled" and kept["nextRunAt"] is None
    iso(kept["deletedAt"])
    problem(admin.delete(f"{JOBS}/{job['id']}"), 404)  # already deleted
    # its name is free again
    create(admin, seed_job(name=job["name"]))
    r = admin.delete(f"{JOBS}/{job['id']}?hardDelete=true")
    assert r.status == 204
    problem(admin.get(f"{JOBS}/{job['id']}"), 404)
    problem(admin.delete(f"{JOBS}/{job['id']}?hardDelete=true"), 404)
    problem(admin.delete(f"{JOBS}/{job['id']}?hardDelete=maybe"), 400, "hardDelete")
    other = create(admin, seed_job())
    assert admin.delete(f"{JOBS}/{other['id']}").status == 204  # soft by default
    assert admin.get(f"{JOBS}/{other['id']}").json()["isDeleted"] is True


# ---- reschedule, pause, resume ------------------------------------------------------------

def test_reschedule_changes_timing_only(admin):
    job = create(admin, EXAMPLE | {"name": f"re {uuid.uuid4().hex[:6]}"})
    r = admin.patch(f"{JOBS}/{job['id']}/reschedule", {"scheduleType": "Interval", "intervalSeconds": 300})
    assert r.status == 200, r
    j = r.json()
    assert j["scheduleType"] == "Interval" and j["intervalSeconds"] == 300 and j["scheduleExpression"] is None
    for k in ("name", "description", "jobConfiguration", "retryPolicy", "tags", "timezone", "timeoutSeconds"):
        assert j[k] == job[k], k
    later = datetime.now(timezone.utc).replace(microsecond=0).year + 2
    eff = f"{later}-01-01T00:00:00.000Z"
    j = admin.patch(f"{JOBS}/{job['id']}/reschedule", {"scheduleType": "Cron", "scheduleExpression": "0 9 * * *",
                                                       "effectiveFrom": eff}).json()
    assert j["scheduleType"] == "Cron" and iso(j["nextRunAt"]) >= iso(eff)
    local = iso(j["nextRunAt"]).astimezone(ZoneInfo("America/New_York"))
    assert (local.hour, local.minute) == (9, 0)
    at = f"{later}-03-04T05:06:07.000Z"
    j = admin.patch(f"{JOBS}/{job['id']}/reschedule", {"scheduleType": "OneTime", "runAt": at}).json()
    assert j["scheduleType"] == "OneTime" and j["runAt"] == at and j["nextRunAt"] == at
    problem(admin.patch(f"{JOBS}/{job['id']}/reschedule", {"intervalSeconds": 5}), 400, "scheduleType")
    problem(admin.patch(f"{JOBS}/{job['id']}/reschedule", {"scheduleType": "Cron", "scheduleExpression": "x"}),
            400, "scheduleExpression")
    problem(admin.patch(f"{JOBS}/{job['id']}/reschedule", {"scheduleType": "Interval", "intervalSeconds": 5,
                                                           "name": "n"}), 400, "name")
    problem(admin.patch(f"{JOBS}/{job['id']}/reschedule", {"scheduleType": "OneTime", "runAt": at,
                                                           "effectiveFrom": "soon"}), 400, "effectiveFrom")
    problem(admin.patch(f"{JOBS}/{uuid.uuid4()}/reschedule", {"scheduleType": "Interval",
                                                              "intervalSeconds": 5}), 404)
    assert admin.get(f"{JOBS}/{job['id']}").json()["runAt"] == at


def test_pause_and_resume(admin):
    job = create(admin, seed_job())
    r = admin.post(f"{JOBS}/{job['id']}/pause")
    assert r.status == 200, r
    assert r.json()["status"] == "Paused" and r.json()["nextRunAt"] is None
    problem(admin.post(f"{JOBS}/{job['id']}/pause"), 400)  # already paused
    assert admin.get(f"{JOBS}/{job['id']}").json()["status"] == "Paused"
    r = admin.post(f"{JOBS}/{job['id']}/resume")
    assert r.status == 200 and r.json()["status"] == "Enabled"
    nxt = iso(r.json()["nextRunAt"])  # recomputed from now
    assert 3590 <= (nxt - datetime.now(timezone.utc)).total_seconds() <= 3601
    problem(admin.post(f"{JOBS}/{job['id']}/resume"), 400)  # not paused
    problem(admin.post(f"{JOBS}/{uuid.uuid4()}/pause"), 400)  # the document: 400 when it does not exist
    problem(admin.post(f"{JOBS}/{uuid.uuid4()}/resume"), 400)


# ---- exclusions, dependencies ------------------------------------------------------------------

def test_exclusions(admin, server, tenant):
    job = create(admin, seed_job(scheduleType="Cron", intervalSeconds=None, scheduleExpression="0 12 * * *"))
    body = {"excludedDates": ["2025-12-25", "2026-01-01"], "excludedDaysOfWeek": ["Saturday", "Sunday"],
            "timeRange": {"start": "22:00", "end": "06:00"}}
    r = admin.post(f"{JOBS}/{job['id']}/exclusions", body)
    assert r.status == 200, r
    assert r.json()["exclusions"] == body
    assert iso(r.json()["nextRunAt"]).weekday() < 5  # weekends are skipped
    native = Client(server, make_token(claims_for(tenant)))
    n = native.get(f"/v1/jobs/{job['id']}").json()
    assert n["exclusions"] == {"dates": body["excludedDates"], "days_of_week": ["Saturday", "Sunday"],
                               "time_range": {"start": "22:00", "end": "06:00"}}
    sched = native.get(f"/v1/jobs/{job['id']}/schedule?count=14").json()
    suppressed = [f for f in sched["firings"] if f["suppressed"]]
    assert suppressed and all(iso(f["at"]).weekday() >= 5 for f in suppressed)
    problem(admin.post(f"{JOBS}/{job['id']}/exclusions", {"excludedDates": ["2025-13-45"]}), 400, "excludedDates[0]")
    problem(admin.post(f"{JOBS}/{job['id']}/exclusions", {"excludedDaysOfWeek": ["Someday"]}), 400,
            "excludedDaysOfWeek[0]")
    problem(admin.post(f"{JOBS}/{job['id']}/exclusions", {"timeRange": {"start": "25:00", "end": "01:00"}}), 400,
            "timeRange.start")
    problem(admin.post(f"{JOBS}/{job['id']}/exclusions", {"holidays": []}), 400, "holidays")
    problem(admin.post(f"{JOBS}/{uuid.uuid4()}/exclusions", body), 404)
    assert admin.get(f"{JOBS}/{job['id']}").json()["exclusions"] == body  # unchanged by the refusals
    r = admin.post(f"{JOBS}/{job['id']}/exclusions", {"excludedDates": [], "excludedDaysOfWeek": []})
    assert r.status == 200 and r.json()["exclusions"] is None


def test_dependencies(admin, server, tenant):
    a, b, d = (create(admin, seed_job()) for _ in range(3))
    r = admin.post(f"{JOBS}/{d['id']}/dependencies", {"dependsOnJobIds": [a["id"], b["id"]],
                                                       "condition": "AllSucceeded"})
    assert r.status == 200, r
    deps = r.json()
    assert [x["dependsOnJobId"] for x in deps] == [a["id"], b["id"]]
    assert all(x["jobId"] == d["id"] and x["condition"] == "AllSucceeded" for x in deps)
    native = Client(server, make_token(claims_for(tenant)))
    listed = native.get(f"/v1/jobs/{d['id']}/dependencies").json()
    assert sorted(x["depends_on_job_id"] for x in listed) == sorted([a["id"], b["id"]])
    # declaring again changes the condition, keeps the dependencies
    again = admin.post(f"{JOBS}/{d['id']}/dependencies", {"dependsOnJobIds": [a["id"]],
                                                          "condition": "AnySucceeded"}).json()
    assert again[0]["id"] == deps[0]["id"] and again[0]["condition"] == "AnySucceeded"
    assert len(native.get(f"/v1/jobs/{d['id']}/dependencies").json()) == 2
    # errors, all or nothing
    p = problem(admin.post(f"{JOBS}/{a['id']}/dependencies", {"dependsOnJobIds": [b["id"], d["id"]],
                                                              "condition": "AllSucceeded"}), 400,
                "dependsOnJobIds[1]")
    assert "cycle" in p["detail"]
    assert native.get(f"/v1/jobs/{a['id']}/dependencies").json() == []
    problem(admin.post(f"{JOBS}/{d['id']}/dependencies", {"dependsOnJobIds": [str(uuid.uuid4())],
                                                          "condition": "AllSucceeded"}), 404, "dependsOnJobIds[0]")
    problem(admin.post(f"{JOBS}/{d['id']}/dependencies", {"dependsOnJobIds": [a["id"]]}), 400, "condition")
    problem(admin.post(f"{JOBS}/{d['id']}/dependencies", {"dependsOnJobIds": [a["id"]], "condition": "Maybe"}),
            400, "condition")
    problem(admin.post(f"{JOBS}/{d['id']}/dependencies", {"dependsOnJobIds": [], "condition": "AllSucceeded"}),
            400, "dependsOnJobIds")
    problem(admin.post(f"{JOBS}/{d['id']}/dependencies", {"dependsOnJobIds": ["x"], "condition": "AllSucceeded"}),
            400, "dependsOnJobIds[0]")
    problem(admin.post(f"{JOBS}/{d['id']}/dependencies", {"dependsOnJobIds": [d["id"]],
                                                          "condition": "AllSucceeded"}), 400, "dependsOnJobIds[0]")
    problem(admin.post(f"{JOBS}/{uuid.uuid4()}/dependencies", {"dependsOnJobIds": [a["id"]],
                                                               "condition": "AllSucceeded"}), 404)


# ---- trigger and executions (a real sink) ------------------------------------------------------

def test_trigger_and_executions(engine_client, sink):
    c = engine_client
    p = path()
    job = create(c, seed_job(jobConfiguration={"url": sink.url(p), "method": "PUT", "headers": {"X-Tag": "t"}}))
    r = c.post(f"{JOBS}/{job['id']}/trigger")
    assert r.status == 202, r
    exec_id = r.json()
    uuid.UUID(exec_id)
    assert r.headers["location"] == f"/api/v1/scheduler/executions/{exec_id}"
    box = {}

    def done():
        box["e"] = c.get(r.headers["location"]).json()
        return box["e"]["status"] in ("Succeeded", "Failed")
    wait_until(done, timeout=15, what="the execution to end")
    e = box["e"]
    assert e["id"] == exec_id and e["jobId"] == job["id"] and e["status"] == "Succeeded", e
    assert e["attempt"] == 1 and e["result"] == {"ok": True} and e["errorMessage"] is None
    assert iso(e["completedAt"]) >= iso(e["startedAt"]) >= iso(e["createdAt"])
    assert e["durationMs"] >= 0
    hit = [q for q in sink.requests if q["path"] == p]
    assert hit and hit[0]["method"] == "PUT" and hit[0]["headers"]["x-tag"] == "t"
    assert hit[0]["headers"]["x-jobwheel-run-id"] == exec_id
    # the same run natively
    run = c.get(f"/v1/runs/{exec_id}").json()
    assert run["status"] == "completed" and run["job_id"] == job["id"]

    # jobConfiguration.body is what a run without a payload sends
    p2 = path()
    job2 = create(c, seed_job(jobConfiguration={"url": sink.url(p2), "body": {"sku": 7, "all": True}}))
    e2 = c.post(f"{JOBS}/{job2['id']}/trigger").json()
    wait_until(lambda: c.get(f"/api/v1/scheduler/executions/{e2}").json()["status"] == "Succeeded", timeout=15,
               what="the second execution")
    assert json.loads([q for q in sink.requests if q["path"] == p2][0]["body"]) == {"sku": 7, "all": True}
    assert c.get(f"{JOBS}/{job2['id']}").json()["jobConfiguration"]["body"] == {"sku": 7, "all": True}

    second = c.post(f"{JOBS}/{job['id']}/trigger", {}).json()
    page = c.get(f"{JOBS}/{job['id']}/executions?pageSize=1").json()
    assert page["totalCount"] == 2 and page["totalPages"] == 2 and page["pageSize"] == 1
    assert [x["id"] for x in page["items"]] == [second]  # newest first
    page2 = c.get(f"{JOBS}/{job['id']}/executions?pageSize=1&pageNumber=2").json()
    assert [x["id"] for x in page2["items"]] == [exec_id]
    problem(c.get(f"{JOBS}/{uuid.uuid4()}/executions"), 404)
    problem(c.get(f"/api/v1/scheduler/executions/{uuid.uuid4()}"), 404)
    problem(c.post(f"{JOBS}/{uuid.uuid4()}/trigger"), 404)
    problem(c.post(f"{JOBS}/{job['id']}/trigger", {"payload": 1}), 400)
    # a soft delete keeps the execution history; a hard delete loses it
    wait_until(lambda: c.get(f"/api/v1/scheduler/executions/{second}").json()["status"] == "Succeeded",
               timeout=15, what="the second trigger's execution")
    assert c.delete(f"{JOBS}/{job2['id']}").status == 204
    assert c.get(f"/api/v1/scheduler/executions/{e2}").status == 200
    assert c.delete(f"{JOBS}/{job['id']}?hardDelete=true").status == 204
    for gone in (exec_id, second):
        problem(c.get(f"/api/v1/scheduler/executions/{gone}"), 404)
        assert c.get(f"/v1/runs/{gone}").status == 404


# ---- workflows --------------------------------------------------------------------------------

def test_workflows(admin):
    a, b = create(admin, seed_job()), create(admin, seed_job())
    body = {"name": f"wf-{uuid.uuid4().hex[:6]}", "description": "two steps",
            "steps": [{"key": "first", "jobId": a["id"]},
                      {"key": "second", "jobId": b["id"], "dependsOn": ["first"], "condition": "AllSucceeded"}]}
    r = admin.post("/api/v1/scheduler/workflows", body)
    assert r.status == 201, r
    wf = r.json()
    assert wf["name"] == body["name"] and wf["description"] == "two steps"
    assert [(s["key"], s["jobId"], s["dependsOn"]) for s in wf["steps"]] == [
        ("first", a["id"], []), ("second", b["id"], ["first"])]
    assert r.headers["location"] == f"/api/v1/scheduler/workflows/{wf['id']}"
    assert admin.get(f"/api/v1/scheduler/workflows/{wf['id']}").json() == wf
    assert wf in admin.get("/api/v1/scheduler/workflows").json()
    problem(admin.post("/api/v1/scheduler/workflows", body), 409)
    cyc = {"name": "cyc", "steps": [{"key": "x", "jobId": a["id"], "dependsOn": ["y"]},
                                    {"key": "y", "jobId": b["id"], "dependsOn": ["x"]}]}
    problem(admin.post("/api/v1/scheduler/workflows", cyc), 400)
    p = problem(admin.post("/api/v1/scheduler/workflows", {"name": "w", "steps": [{"key": "x"}]}), 400)
    assert "jobId" in p["detail"] or "jobId" in str(p.get("errors")), p
    problem(admin.get(f"/api/v1/scheduler/workflows/{uuid.uuid4()}"), 404)


# ---- one model: seed 003 and the native API see the same objects ----------------------------------

def test_seed003_job_through_native_api(admin, server, tenant):
    job = create(admin, EXAMPLE | {"name": f"x {uuid.uuid4().hex[:6]}"})
    native = Client(server, make_token(claims_for(tenant)))
    n = native.get(f"/v1/jobs/{job['id']}").json()
    assert n["id"] == job["id"] and n["name"] == job["name"] and n["description"] == EXAMPLE["description"]
    assert n["job_type"] == "HttpCall" and n["cron"] == "0 7 * * 1-5" and n["interval_seconds"] is None
    assert n["endpoint_url"] == "https://your-service.example.com/api/sync"
    assert n["job_configuration"] == {"method": "POST", "headers": {"X-Api-Key": "abc123"}, "body": None}
    assert n["max_attempts"] == 3 and n["retry_delays_secs"] == [30] and n["timeout_secs"] == 120
    assert n["timezone"] == "America/New_York" and n["enabled"] is True and n["paused"] is False
    assert n["tags"] == {"inventory": "", "weekday": ""}
    assert n["next_run_at"] == job["nextRunAt"] and n["created_at"] == job["createdAt"]
    # a native change shows through seed 003
    assert native.patch(f"/v1/jobs/{job['id']}", {"description": "changed natively"}).status == 200
    assert admin.get(f"{JOBS}/{job['id']}").json()["description"] == "changed natively"
    assert native.post(f"/v1/jobs/{job['id']}/pause").status == 200
    assert admin.get(f"{JOBS}/{job['id']}").json()["status"] == "Paused"


def test_native_job_through_seed003(admin, server, tenant):
    native = Client(server, make_token(claims_for(tenant)))
    r = native.post("/v1/jobs", job_body(cron="15 3 * * *", timezone="Asia/Tokyo", description="made natively",
                                         tags={"team": "ops", "nightly": ""}, max_attempts=4,
                                         job_configuration={"method": "GET"}))
    assert r.status == 201, r
    n = r.json()
    j = admin.get(f"{JOBS}/{n['id']}").json()
    assert j["name"] == n["name"] and j["description"] == "made natively"
    assert j["jobType"] == "HttpCall" and j["scheduleType"] == "Cron" and j["scheduleExpression"] == "15 3 * * *"
    assert j["jobConfiguration"] == {"url": n["endpoint_url"], "method": "GET"}
    assert j["retryPolicy"] == {"maxAttempts": 4, "delaySeconds": None}
    assert j["timezone"] == "Asia/Tokyo" and j["status"] == "Enabled" and j["nextRunAt"] == n["next_run_at"]
    assert sorted(j["tags"]) == ["nightly", "team:ops"]
    local = iso(j["nextRunAt"]).astimezone(ZoneInfo("Asia/Tokyo"))
    assert (local.hour, local.minute) == (3, 15)
    # and it is in the seed's list, and takes seed 003 changes
    listed = admin.get(f"{JOBS}?search=natively").json()
    assert [x["id"] for x in listed["items"]] == [n["id"]]
    assert admin("PUT", f"{JOBS}/{n['id']}", {"timeoutSeconds": 30}).status == 200
    assert native.get(f"/v1/jobs/{n['id']}").json()["timeout_secs"] == 30


# ---- seed 004's form goes to the nightly surface ---------------------------------------------------

def test_seed004_form_is_handed_over(admin):
    # seed 004's body and error words, not this surface's (which would say cronExpression)
    r = admin.post(JOBS, {"job_name": "weekly-report", "cron": "0 0 * * 0"})
    assert r.status == 400 and "cron" in r.json()["errors"], r
    assert admin.post(f"{JOBS}/weekly-report/trigger").status == 404
    r = admin.post(JOBS, {"job_name": "weekly-report", "cron_expression": "0 0 * * 0", "handler": "dataSync"})
    assert r.status == 201 and r.json()["job_name"] == "weekly-report", r
    assert admin.post(f"{JOBS}/weekly-report/trigger", {}).json()["job_name"] == "weekly-report"
    # the same job in seed 003's own form
    page = admin.get(f"{JOBS}?search=weekly").json()
    assert page["totalCount"] == 1 and page["items"][0]["name"] == "weekly-report"
