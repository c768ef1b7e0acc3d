"""Seed 001, the teams surface: a team's job runs — list with filters and a
cursor, trigger by job_type (a project-scoped job's slug), one run with
live progress, cooperative cancel — with every documented field, status and
error, and the same runs seen through the native API. Also issue 4's check:
50 concurrent triggers through two instances make exactly one run."""
import concurrent.futures
import json
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, make_token, wait_until
from sink import Sink

JOB_RUN_FIELDS = ["id", "job_type", "status", "team_id", "project_id", "triggered_by", "params", "progress",
                  "result", "error", "notify", "started_at", "completed_at", "created_at"]


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    d = tmp_path_factory.mktemp("teams")
    r = Redis(d / "redis")
    a = Jobwheel(d / "a", redis_url=r.url, args=["--allow-private-targets"])
    b = Jobwheel(d / "b", redis_url=r.url, args=["--allow-private-targets"])
    sink = Sink()
    yield {"a": a, "b": b, "redis": r, "sink": sink}
    sink.close()
    codes = a.stop(), b.stop()  # both stopped before either is judged
    r.stop()
    assert codes == (0, 0)


class Team:
    """A team (tenant) with one project and helpers for both APIs."""

    def __init__(self, rig, sub=None):
        self.rig = rig
        self.id = str(uuid.uuid4())
        self.project = str(uuid.uuid4())
        self.sub = sub or str(uuid.uuid4())
        self.c = Client(rig["a"], make_token(claims_for(self.id, sub=self.sub)))

    def job_type(self, slug=None, project=None, path=None, **fields):
        """A project-scoped job definition: its slug is the job_type."""
        slug = slug or "sync_" + uuid.uuid4().hex[:8]
        path = path or "/" + slug
        project = project or self.project
        body = {"name": f"{slug} in {project}", "slug": slug, "project_id": project,
                "endpoint_url": self.rig["sink"].url(path), "timeout_secs": 30}
        body.update(fields)
        r = self.c.post("/v1/jobs", body)
        assert r.status == 201, r
        return slug, path

    def trigger(self, job_type, project=None, client=None, **extra):
        body = {"job_type": job_type, "project_id": project or self.project}
        body.update(extra)
        return (client or self.c).post(f"/v1/teams/{self.id}/jobs/trigger", body)

    def run(self, run_id):
        r = self.c.get(f"/v1/jobs/{run_id}")
        assert r.status == 200, r
        assert list(r.json()) == ["job_run"]
        return r.json()["job_run"]

    def list(self, client=None, **q):
        qs = "&".join(f"{k}={v}" for k, v in q.items())
        return (client or self.c).get(f"/v1/teams/{self.id}/jobs" + ("?" + qs if qs else ""))


@pytest.fixture
def team(rig):
    return Team(rig)


def iso(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def token_of(rig, path):
    rig["sink"].wait_for(lambda rs: any(x["path"] == path for x in rs))
    return rig["sink"].to(path)[0]["headers"]["x-jobwheel-run-token"]


def test_trigger_then_poll_progress_to_completion(rig, team):
    slug, path = team.job_type("revenuecat_sync")
    rig["sink"].script(path, 202)  # the worker takes it and reports back
    r = team.trigger(slug, params={"project_id": team.project, "integration_id": "int-7"}, notify=False)
    assert r.status == 201, r
    assert list(r.json()) == ["job_run"]
    run = r.json()["job_run"]
    assert list(run) == JOB_RUN_FIELDS
    assert run["job_type"] == "revenuecat_sync" and run["status"] == "pending"
    assert run["team_id"] == team.id and run["project_id"] == team.project
    assert run["triggered_by"] == f"manual:user:{team.sub}"
    assert run["params"] == {"project_id": team.project, "integration_id": "int-7"}
    assert run["progress"] is None and run["result"] is None and run["error"] is None
    assert run["notify"] is False and run["completed_at"] is None
    iso(run["created_at"])
    # the worker got the params and reports progress; polling shows it live
    token = token_of(rig, path)
    delivered = json.loads(rig["sink"].to(path)[0]["body"])
    assert delivered == run["params"], delivered  # params are the webhook body
    wait_until(lambda: team.run(run["id"])["status"] == "running")
    progress = {"processed": 45, "total": 200, "message": "Synced 38 users, 7 skipped"}
    hdr = {"x-run-token": token}
    assert rig["a"].request("POST", f"/v1/runs/{run['id']}/progress", progress, headers=hdr).status == 200
    live = team.run(run["id"])
    assert list(live) == JOB_RUN_FIELDS
    assert live["status"] == "running" and live["progress"] == progress and live["result"] is None
    assert iso(live["started_at"]) >= iso(live["created_at"]) and live["completed_at"] is None
    result = {"synced": 180, "total": 200, "skipped": 20}
    r = rig["b"].request("POST", f"/v1/runs/{run['id']}/complete", {"result": result}, headers=hdr)
    assert r.status == 200, r
    done = team.run(run["id"])
    assert done["status"] == "completed" and done["result"] == result and done["error"] is None
    assert iso(done["completed_at"]) >= iso(done["started_at"])
    # the same run through the native API
    native = team.c.get(f"/v1/runs/{run['id']}").json()
    assert native["status"] == "completed" and native["params"] == run["params"]
    assert native["result"] == result and native["finished_at"] == done["completed_at"]


def test_documented_request_example_with_notify(rig, team):
    slug, path = team.job_type("revenuecat_sync")
    r = team.trigger(slug, params={}, notify=True)
    assert r.status == 201, r
    run = r.json()["job_run"]
    assert run["notify"] is True and run["params"] == {}
    # a plain 200 from the target completes the run with its JSON body as the result
    wait_until(lambda: team.run(run["id"])["status"] == "completed")
    assert team.run(run["id"])["result"] == {"ok": True}


def test_failed_run_shows_the_error(rig, team):
    slug, path = team.job_type(max_attempts=1)
    rig["sink"].script(path, 500)
    run = team.trigger(slug).json()["job_run"]
    wait_until(lambda: team.run(run["id"])["status"] == "failed")
    assert "500" in team.run(run["id"])["error"]


def test_409_while_running_or_pending_for_the_same_project(rig, team):
    slug, path = team.job_type()
    rig["sink"].script(path, 202)
    first = team.trigger(slug).json()["job_run"]
    r = team.trigger(slug)
    assert r.status == 409, r
    body = r.json()
    assert body["existing_run_id"] == first["id"] and body["status"] == 409
    assert r.headers["content-type"].startswith("application/problem+json")
    # the same job_type in another project of the team is another job
    other_project = str(uuid.uuid4())
    team.job_type(slug, project=other_project)
    assert team.trigger(slug, project=other_project).status == 201
    # once it ended, it can run again
    token = token_of(rig, path)
    rig["a"].request("POST", f"/v1/runs/{first['id']}/complete", {"result": {}}, headers={"x-run-token": token})
    assert team.trigger(slug).status == 201


def test_50_concurrent_triggers_through_two_instances_make_one_run(rig, team):
    slug, path = team.job_type()
    rig["sink"].script(path, 202)
    other = Client(rig["b"], team.c.token)

    def go(i):
        return team.trigger(slug, client=team.c if i % 2 else other)

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        answers = list(pool.map(go, range(50)))
    created = [a for a in answers if a.status == 201]
    conflicts = [a for a in answers if a.status == 409]
    assert len(created) == 1 and len(conflicts) == 49, [a.status for a in answers]
    the_run = created[0].json()["job_run"]["id"]
    assert {a.json()["existing_run_id"] for a in conflicts} == {the_run}
    runs = team.list(job_type=slug).json()["job_runs"]
    assert [r["id"] for r in runs] == [the_run]


@pytest.mark.parametrize("body,field", [
    ({"project_id": "P"}, "job_type"),
    ({"job_type": "", "project_id": "P"}, "job_type"),
    ({"job_type": "no_such_type", "project_id": "P"}, "job_type"),
    ({"job_type": "T"}, "project_id"),
    ({"job_type": "T", "project_id": ""}, "project_id"),
    ({"job_type": "T", "project_id": "P", "params": [1]}, "params"),
    ({"job_type": "T", "project_id": "P", "notify": "yes"}, "notify"),
    ({"job_type": "T", "project_id": "P", "priority": 5}, "priority"),
])
def test_trigger_400s(rig, team, body, field):
    slug, _ = team.job_type(max_attempts=1)
    body = {k: (slug if v == "T" else team.project if v == "P" else v) for k, v in body.items()}
    r = team.c.post(f"/v1/teams/{team.id}/jobs/trigger", body)
    assert r.status == 400, r
    assert field in r.json()["errors"], r.json()
    assert team.list().json()["job_runs"] == []


def test_trigger_400_for_a_foreign_project_and_a_system_job(rig, team):
    slug, _ = team.job_type()
    r = team.trigger(slug, project=str(uuid.uuid4()))
    assert r.status == 400 and "job_type" in r.json()["errors"]
    # another team's project and job_type do not exist here
    other = Team(rig)
    oslug, _ = other.job_type()
    r = team.trigger(oslug, project=other.project)
    assert r.status == 400 and "job_type" in r.json()["errors"]
    # a system job of the team runs on its schedule, never through this API
    sysadmin = Client(rig["a"], make_token(claims_for(team.id, roles=("system_admin",))), team.id)
    assert sysadmin.post("/api/v1/admin/jobs/trigger", {"jobName": "dataSync"}).status == 200
    for project in (team.project, ""):
        r = team.c.post(f"/v1/teams/{team.id}/jobs/trigger", {"job_type": "dataSync", "project_id": project})
        assert r.status == 400, r
    # and its runs are not the team's: not listed, not readable, not cancellable here
    wait_until(lambda: sysadmin.get("/api/v1/admin/jobs/stats").json()["data"]["jobs"][1]["counts"]["total"] == 1)
    sys_run = sysadmin.get("/api/v1/admin/jobs/stats").json()["data"]["jobs"][1]["lastRun"]["jobId"][4:]
    assert team.list().json()["job_runs"] == []
    assert team.c.get(f"/v1/jobs/{sys_run}").status == 404
    assert team.c.post(f"/v1/jobs/{sys_run}/cancel").status == 404


def test_list_filters_order_and_cursor(rig, team):
    a, pa = team.job_type("alpha_sync")
    b, pb = team.job_type("beta_sync", max_attempts=1)
    rig["sink"].script(pb, 500, sticky=True)
    ids = []
    for slug in (a, b, a, b, a):
        run = team.trigger(slug).json()["job_run"]
        ids.append(run["id"])
        wait_until(lambda: team.run(run["id"])["status"] in ("completed", "failed"))
        time.sleep(0.005)  # distinct creation times
    r = team.list()
    assert r.status == 200, r
    body = r.json()
    assert list(body) == ["job_runs", "cursor", "has_more"]
    assert [x["id"] for x in body["job_runs"]] == ids[::-1]  # newest first
    assert body["has_more"] is False and body["cursor"] is None
    assert all(list(x) == JOB_RUN_FIELDS for x in body["job_runs"])
    # job_type, status, project_id
    assert [x["id"] for x in team.list(job_type=a).json()["job_runs"]] == ids[4::-2]
    assert [x["id"] for x in team.list(status="failed").json()["job_runs"]] == [ids[3], ids[1]]
    assert [x["id"] for x in team.list(status="completed", job_type=b).json()["job_runs"]] == []
    assert team.list(status="running").json()["job_runs"] == []
    assert len(team.list(project_id=team.project).json()["job_runs"]) == 5
    assert team.list(project_id=str(uuid.uuid4())).json()["job_runs"] == []
    # pages of two, by cursor
    seen, cursor = [], None
    for _ in range(3):
        q = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = team.list(**q).json()
        seen += [x["id"] for x in page["job_runs"]]
        cursor = page["cursor"]
        if not page["has_more"]:
            break
        assert "|" in cursor and cursor.split("|")[1] == page["job_runs"][-1]["id"]
        iso(cursor.split("|")[0])
    assert seen == ids[::-1] and page["has_more"] is False
    # since / until: relative and ISO 8601
    assert len(team.list(since="1h").json()["job_runs"]) == 5
    assert len(team.list(since="30m", until="1m").json()["job_runs"]) == 0
    third = iso(team.run(ids[2])["created_at"])
    since = third.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    assert [x["id"] for x in team.list(since=since).json()["job_runs"]] == ids[:1:-1]
    assert [x["id"] for x in team.list(until=since).json()["job_runs"]] == ids[2::-1]
    future = (datetime.now(timezone.utc) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    assert len(team.list(until=future, since="7d").json()["job_runs"]) == 5


@pytest.mark.parametrize("q,field", [
    ({"limit": 0}, "limit"), ({"limit": 201}, "limit"), ({"limit": "ten"}, "limit"),
    ({"status": "done"}, "status"), ({"since": "yesterday"}, "since"), ({"until": "5y"}, "until"),
    ({"cursor": "nope"}, "cursor"), ({"since": "1h", "until": "2h"}, "since"),
])
def test_list_400s(team, q, field):
    r = team.list(**q)
    assert r.status == 400 and field in r.json()["errors"], r


def test_limit_200_is_fine(team):
    assert team.list(limit=200).status == 200


def test_cancel(rig, team):
    slug, path = team.job_type()
    rig["sink"].script(path, 202)
    run = team.trigger(slug).json()["job_run"]
    token = token_of(rig, path)
    wait_until(lambda: team.run(run["id"])["status"] == "running")
    r = team.c.post(f"/v1/jobs/{run['id']}/cancel")
    assert r.status == 200 and r.json() == {"cancelled": True}
    assert team.run(run["id"])["status"] == "cancelled"
    # cooperative: the worker learns of it on its next report
    r = rig["a"].request("POST", f"/v1/runs/{run['id']}/progress", {"processed": 1}, headers={"x-run-token": token})
    assert r.json()["cancel_requested"] is True
    # not running any more: 400
    r = team.c.post(f"/v1/jobs/{run['id']}/cancel")
    assert r.status == 400, r
    # not found, or not visible (another team's run)
    assert team.c.post(f"/v1/jobs/{uuid.uuid4()}/cancel").status == 404
    other = Team(rig)
    assert other.c.post(f"/v1/jobs/{run['id']}/cancel").status == 404
    assert other.c.get(f"/v1/jobs/{run['id']}").status == 404
    assert team.c.get(f"/v1/jobs/{uuid.uuid4()}").status == 404


def test_auth_401_403_and_permissions(rig, team):
    slug, _ = team.job_type()
    base = f"/v1/teams/{team.id}/jobs"
    assert rig["a"].request("GET", base).status == 401
    assert rig["a"].request("POST", base + "/trigger", {"job_type": slug, "project_id": team.project}).status == 401
    # a token of another team: 403 for this team's path
    stranger = Client(rig["a"], make_token(claims_for(str(uuid.uuid4()))))
    assert stranger.get(base).status == 403
    assert stranger.post(base + "/trigger", {"job_type": slug, "project_id": team.project}).status == 403
    # teamId must be a UUID
    assert team.c.get("/v1/teams/not-a-uuid/jobs").status == 400
    # jobs:read may list and read, not trigger or cancel; jobs:write may trigger
    reader = Client(rig["a"], make_token(claims_for(team.id, roles=(), perms=("jobs:read",))))
    writer = Client(rig["a"], make_token(claims_for(team.id, roles=(), perms=("jobs:read", "jobs:write"))))
    assert reader.get(base).status == 200
    assert reader.post(base + "/trigger", {"job_type": slug, "project_id": team.project}).status == 403
    r = writer.post(base + "/trigger", {"job_type": slug, "project_id": team.project})
    assert r.status == 201, r
    run_id = r.json()["job_run"]["id"]
    assert reader.get(f"/v1/jobs/{run_id}").status == 200
    assert reader.post(f"/v1/jobs/{run_id}/cancel").status == 403
    nobody = Client(rig["a"], make_token(claims_for(team.id, roles=(), perms=())))
    assert nobody.get(base).status == 403


def test_get_v1_jobs_id_still_answers_job_definitions(rig, team):
    slug, _ = team.job_type()
    job = team.c.get(f"/v1/jobs?project_id={team.project}")
    assert job.status == 200, job
    jid = job.json()[0]["id"]
    r = team.c.get(f"/v1/jobs/{jid}")
    assert r.status == 200 and r.json()["id"] == jid and r.json()["slug"] == slug and "job_run" not in r.json()
