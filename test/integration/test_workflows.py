"""Issue 3: workflows — named DAGs of job steps on /v1/workflows. A trigger
starts the root steps; each later step starts when its prerequisites' runs
have ended and its condition (AllSucceeded / AnySucceeded) holds, or is
skipped when the condition can no longer hold; the workflow run ends
completed or failed. Validation: unique keys, known prerequisites, no cycle."""
import uuid

from conftest import Client, claims_for, job_body, make_token, wait_until
from test_runs import c, engine, path, run_of, tls  # noqa: F401  (fixtures)

DONE = ("completed", "failed")


def make_job(c, url, **fields):
    r = c.post("/v1/jobs", job_body(endpoint_url=url, **fields))
    assert r.status == 201, r
    return r.json()


def wait_wf(c, wf, run_id, timeout=20):
    box = {}

    def done():
        r = c.get(f"/v1/workflows/{wf}/runs/{run_id}")
        assert r.status == 200, r
        box["r"] = r.json()
        return box["r"]["status"] in DONE
    wait_until(done, timeout=timeout, step=0.05, what=f"workflow run {run_id} to end")
    return box["r"]


def steps_of(run):
    return {s["key"]: s for s in run["steps"]}


def test_diamond_runs_in_dependency_order(c, sink):
    slow, fast = path(), path()
    sink.script(slow, (200, {}, {"ok": True}, 0.3))
    extract = make_job(c, sink.url(fast))
    ta = make_job(c, sink.url(slow))
    tb = make_job(c, sink.url(fast))
    load = make_job(c, sink.url(fast))
    body = {"name": "etl-" + uuid.uuid4().hex[:8], "description": "nightly",
            "steps": [{"key": "extract", "job_id": extract["name"]},  # by name
                      {"key": "a", "job_id": ta["id"], "depends_on": ["extract"]},
                      {"key": "b", "job_id": tb["id"], "depends_on": ["extract"]},
                      {"key": "load", "job_id": load["id"], "depends_on": ["a", "b"],
                       "condition": "AllSucceeded"}]}
    r = c.post("/v1/workflows", body)
    assert r.status == 201, r
    wf = r.json()
    assert wf["name"] == body["name"] and wf["description"] == "nightly"
    assert [s["job_id"] for s in wf["steps"]] == [extract["id"], ta["id"], tb["id"], load["id"]]
    assert wf["steps"][0]["depends_on"] == [] and wf["steps"][3]["condition"] == "AllSucceeded"
    assert c.get(f"/v1/workflows/{wf['id']}").json() == wf
    assert c.get(f"/v1/workflows/{wf['name']}").json() == wf
    assert wf in c.get("/v1/workflows").json()

    t = c.post(f"/v1/workflows/{wf['id']}/trigger")
    assert t.status == 201, t
    started = t.json()
    assert started["workflow_id"] == wf["id"] and started["status"] == "running"
    first = steps_of(started)
    assert first["extract"]["status"] in ("pending", "running", "completed")
    assert first["load"] == {"key": "load", "job_id": load["id"], "run_id": None, "status": "not_started"}

    done = wait_wf(c, wf["id"], started["id"])
    assert done["status"] == "completed" and done["finished_at"]
    steps = steps_of(done)
    assert all(s["status"] == "completed" for s in steps.values())
    for key, s in steps.items():
        run = run_of(c, s["run_id"])
        assert run["triggered_by"] == "workflow"
        assert run["workflow_step_run_id"] == f"{started['id']}:{key}"
        assert run["job_id"] == s["job_id"]
    # load started only after both branches had ended
    runs = {k: run_of(c, s["run_id"]) for k, s in steps.items()}
    assert runs["load"]["started_at"] >= runs["a"]["finished_at"]
    assert runs["load"]["started_at"] >= runs["b"]["finished_at"]
    assert runs["a"]["started_at"] >= runs["extract"]["finished_at"]
    # a second trigger is a second, independent run
    again = c.post(f"/v1/workflows/{wf['name']}/trigger").json()
    assert again["id"] != started["id"]
    assert wait_wf(c, wf["id"], again["id"])["status"] == "completed"


def test_failed_step_skips_all_succeeded_and_feeds_any_succeeded(c, sink):
    ok, bad = path(), path()
    sink.script(bad, 500, sticky=True)
    good = make_job(c, sink.url(ok))
    failing = make_job(c, sink.url(bad), max_attempts=1)
    after_all = make_job(c, sink.url(ok))
    after_any = make_job(c, sink.url(ok))
    after_skip = make_job(c, sink.url(ok))
    wf = c.post("/v1/workflows", {
        "name": "branches-" + uuid.uuid4().hex[:8],
        "steps": [{"key": "good", "job_id": good["id"]},
                  {"key": "bad", "job_id": failing["id"]},
                  {"key": "all", "job_id": after_all["id"], "depends_on": ["good", "bad"]},
                  {"key": "any", "job_id": after_any["id"], "depends_on": ["good", "bad"],
                   "condition": "AnySucceeded"},
                  {"key": "after_skip", "job_id": after_skip["id"], "depends_on": ["all"],
                   "condition": "any_succeeded"}]}).json()
    run = c.post(f"/v1/workflows/{wf['id']}/trigger").json()
    done = wait_wf(c, wf["id"], run["id"])
    steps = steps_of(done)
    assert done["status"] == "failed"
    assert steps["good"]["status"] == "completed" and steps["bad"]["status"] == "failed"
    assert steps["all"] == {"key": "all", "job_id": after_all["id"], "run_id": None, "status": "skipped"}
    assert steps["any"]["status"] == "completed"
    assert steps["after_skip"]["status"] == "skipped"  # a skipped prerequisite never succeeds
    assert c.get(f"/v1/jobs/{after_all['id']}/runs").json() == []


def test_a_step_whose_job_was_deleted_is_skipped(c, sink):
    ok = path()
    first = make_job(c, sink.url(ok))
    second = make_job(c, sink.url(ok))
    wf = c.post("/v1/workflows", {"name": "gone-" + uuid.uuid4().hex[:8],
                                  "steps": [{"key": "one", "job_id": first["id"]},
                                            {"key": "two", "job_id": second["id"], "depends_on": ["one"]}]}).json()
    assert c.delete(f"/v1/jobs/{first['id']}").status == 204
    run = c.post(f"/v1/workflows/{wf['id']}/trigger").json()
    done = wait_wf(c, wf["id"], run["id"])
    assert done["status"] == "failed"
    assert [s["status"] for s in done["steps"]] == ["skipped", "skipped"]


def test_validation_and_error_paths(engine, sink):
    tenant = str(uuid.uuid4())
    c = Client(engine, make_token(claims_for(tenant)))
    job = make_job(c, sink.url(path()))

    def create(body):
        return c.post("/v1/workflows", body)

    def err(r, status, field):
        assert r.status == status, r
        assert r.headers["content-type"] == "application/problem+json"
        p = r.json()
        assert p["status"] == status and p["detail"]
        assert field in p["errors"], p

    step = {"key": "s", "job_id": job["id"]}
    err(create({"steps": [step]}), 400, "name")
    err(create({"name": "x", "steps": []}), 400, "steps")
    err(create({"name": "x", "steps": [step] * 101}), 400, "steps")
    err(create({"name": "x", "steps": [step], "schedule": "*"}), 400, "schedule")
    err(create({"name": "x", "steps": [step, step]}), 400, "steps[1].key")
    err(create({"name": "x", "steps": [{"key": "bad key", "job_id": job["id"]}]}), 400, "steps[0].key")
    err(create({"name": "x", "steps": [{"key": "s"}]}), 400, "steps[0].job_id")
    err(create({"name": "x", "steps": [dict(step, condition="Sometimes")]}), 400, "steps[0].condition")
    err(create({"name": "x", "steps": [dict(step, depends_on=["nope"])]}), 400, "steps[0].depends_on")
    err(create({"name": "x", "steps": [dict(step, depends_on=["s"])]}), 400, "steps[0].depends_on")
    cycle = [{"key": "a", "job_id": job["id"], "depends_on": ["c"]},
             {"key": "b", "job_id": job["id"], "depends_on": ["a"]},
             {"key": "c", "job_id": job["id"], "depends_on": ["b"]},
             {"key": "root", "job_id": job["id"]}]
    err(create({"name": "x", "steps": cycle}), 400, "steps")
    err(create({"name": "x", "steps": [{"key": "s", "job_id": str(uuid.uuid4())}]}), 404, "steps[0].job_id")
    assert c.get("/v1/workflows/x").status == 404  # nothing was stored by the refusals
    name = "dup-" + uuid.uuid4().hex[:8]
    wf = create({"name": name, "steps": [step]})
    assert wf.status == 201
    err(create({"name": name, "steps": [step]}), 409, "name")
    wf = wf.json()
    assert c.post(f"/v1/workflows/{wf['id']}/trigger", {"payload": 1}).status == 400
    assert c.get(f"/v1/workflows/{wf['id']}/runs/{uuid.uuid4()}").status == 404
    assert c.get(f"/v1/workflows/{wf['id']}/runs/not-a-uuid").status == 404
    assert c.post(f"/v1/workflows/{uuid.uuid4()}/trigger").status == 404
    # auth: no token, a token of another tenant, a read-only token
    assert engine.request("GET", "/v1/workflows").status == 401
    other = Client(engine, make_token(claims_for(str(uuid.uuid4()))))
    assert other.get(f"/v1/workflows/{wf['id']}").status == 404
    reader = Client(engine, make_token(claims_for(tenant, roles=(), perms=("jobs:read",))))
    assert reader.get(f"/v1/workflows/{wf['id']}").status == 200
    assert reader.post(f"/v1/workflows/{wf['id']}/trigger").status == 403
    assert reader.delete(f"/v1/workflows/{wf['id']}").status == 403
    # delete frees the name
    assert c.delete(f"/v1/workflows/{wf['name']}").status == 204
    assert c.get(f"/v1/workflows/{wf['id']}").status == 404
    assert c.delete(f"/v1/workflows/{wf['id']}").status == 404
    assert create({"name": name, "steps": [step]}).status == 201


def test_a_workflow_on_its_own_schedule(c, sink):
    ok = path()
    a = make_job(c, sink.url(ok))
    b = make_job(c, sink.url(ok))
    wf = c.post("/v1/workflows", {"name": "sched-" + uuid.uuid4().hex[:8],
                                  "steps": [{"key": "a", "job_id": a["id"]},
                                            {"key": "b", "job_id": b["id"], "depends_on": ["a"]}]}).json()
    # the schedule is a job: any timing, pause, history; each firing starts one workflow run
    sched = c.post("/v1/jobs", {"name": "every-second-" + wf["name"], "job_type": "Builtin", "interval_seconds": 1,
                                "job_configuration": {"handler": "startWorkflow",
                                                      "params": {"workflow": wf["name"]}}})
    assert sched.status == 201, sched
    sched = sched.json()

    def fired():
        return [r for r in c.get(f"/v1/jobs/{sched['id']}/runs").json() if r["status"] == "completed"]
    wait_until(lambda: len(fired()) >= 2, timeout=15, what="two firings of the workflow's schedule")
    assert c.post(f"/v1/jobs/{sched['id']}/pause").status == 200
    runs = fired()
    wf_runs = {r["result"]["workflow_run_id"] for r in runs}
    assert len(wf_runs) == len(runs)  # one workflow run per firing
    for r in runs:
        assert r["result"]["workflow_id"] == wf["id"]
        done = wait_wf(c, wf["id"], r["result"]["workflow_run_id"])
        assert done["status"] == "completed" and done["created_by"] == f"job-run:{r['id']}"
        assert [s["status"] for s in done["steps"]] == ["completed", "completed"]
    # a dry run says what it would start and starts nothing
    before = len(c.get(f"/v1/jobs/{a['id']}/runs").json())
    dry = c.post(f"/v1/jobs/{sched['id']}/trigger", {"params": {"dry_run": True}}).json()
    wait_until(lambda: c.get(f"/v1/runs/{dry['id']}").json()["status"] == "completed", timeout=10)
    assert c.get(f"/v1/runs/{dry['id']}").json()["result"] == {"workflow_id": wf["id"], "dry_run": True}
    assert len(c.get(f"/v1/jobs/{a['id']}/runs").json()) == before
    # a schedule for a workflow that is gone fails its runs, saying why
    assert c.delete(f"/v1/workflows/{wf['id']}").status == 204
    gone = c.post(f"/v1/jobs/{sched['id']}/trigger", {"max_attempts": 1}).json()
    wait_until(lambda: c.get(f"/v1/runs/{gone['id']}").json()["status"] == "failed", timeout=10)
    assert "no such workflow" in c.get(f"/v1/runs/{gone['id']}").json()["error"]
    bad = c.post("/v1/jobs", {"name": "no-wf", "job_type": "Builtin",
                              "job_configuration": {"handler": "startWorkflow"}})
    assert bad.status == 400 and "job_configuration.params" in bad.json()["errors"]
