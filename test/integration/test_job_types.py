"""Issue 4: the job types besides a plain HttpCall — HttpCall's own method
and headers, StoredProcedure (a Redis function), CodeExecution (a child
process; refused unless enabled), FileOperation (under the file root,
escapes refused) and Builtin (housekeeping on the tenant's own data) — and
the notices of an ended run: notify mail through an SMTP relay, and the
final-run webhook also for runs a worker ends."""
import json
import os
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, make_token, wait_until
from sink import Sink, SmtpSink

LIB = """#!lua name=jwtest
redis.register_function('incr_by', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)
redis.register_function('echo_all', function(keys, args) return {keys[1], args[1], args[2]} end)
redis.register_function('boom', function(keys, args) return redis.error_reply('ERR boom') end)
"""


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    d = tmp_path_factory.mktemp("types")
    r = Redis(d / "redis")
    assert r.cmd("FUNCTION", "LOAD", "REPLACE", LIB) == "jwtest"
    root = d / "files"
    root.mkdir()
    mail = SmtpSink()
    s = Jobwheel(d, redis_url=r.url, args=["--allow-private-targets", "--code-execution", "true",
                                           "--file-root", str(root), "--smtp-relay", f"127.0.0.1:{mail.port}",
                                           "--smtp-from", "jobs@example.org"])
    sink = Sink()
    yield {"server": s, "redis": r, "root": root, "sink": sink, "mail": mail}
    sink.close()
    mail.close()
    assert s.stop() == 0
    r.stop()


@pytest.fixture
def c(rig):
    tenant = str(uuid.uuid4())
    cl = Client(rig["server"], make_token(claims_for(tenant)))
    cl.tenant_id = tenant
    return cl


def job(c, **fields):
    body = {"name": "j-" + uuid.uuid4().hex[:10]}
    body.update(fields)
    r = c.post("/v1/jobs", body)
    assert r.status == 201, r
    return r.json()


def run(c, job_id, body=None, statuses=("completed", "failed", "timed_out")):
    r = c.post(f"/v1/jobs/{job_id}/trigger", body or {})
    assert r.status == 201, r
    rid = r.json()["id"]
    box = {}

    def done():
        box["r"] = c.get(f"/v1/runs/{rid}").json()
        return box["r"]["status"] in statuses
    wait_until(done, timeout=20, step=0.05, what=f"run {rid} to end")
    return box["r"]


def test_http_call_method_and_headers(c, rig):
    sink = rig["sink"]
    j = job(c, endpoint_url=sink.url("/put-here"),
            job_configuration={"method": "PUT", "headers": {"X-Api-Key": "abc123"}})
    assert j["job_type"] == "HttpCall" and j["job_configuration"]["method"] == "PUT"
    assert run(c, j["id"], {"payload": {"n": 1}})["status"] == "completed"
    req = sink.to("/put-here")[-1]
    assert req["method"] == "PUT" and req["headers"]["x-api-key"] == "abc123"
    assert json.loads(req["body"]) == {"n": 1}
    assert req["headers"]["x-jobwheel-run-id"]  # ours are still there
    r = c.post("/v1/jobs", {"name": "bad", "endpoint_url": sink.url("/x"),
                            "job_configuration": {"headers": {"webhook-signature": "forged"}}})
    assert r.status == 400 and "job_configuration.headers" in r.json()["errors"]


def test_stored_procedure(c, rig):
    j = job(c, job_type="StoredProcedure",
            job_configuration={"function": "incr_by", "keys": ["counter"], "args": [5]})
    assert "endpoint_url" not in j or j["endpoint_url"] is None
    r1 = run(c, j["id"])
    assert r1["status"] == "completed", r1
    assert r1["result"] == {"function": "incr_by", "result": 5}
    assert run(c, j["id"])["result"]["result"] == 10
    # the key lives in the tenant's own namespace
    assert rig["redis"].cmd("GET", "jwu:{%s}:counter" % c.tenant_id) == "10"
    assert rig["redis"].cmd("EXISTS", "counter") == 0
    echo = job(c, job_type="StoredProcedure",
               job_configuration={"function": "echo_all", "keys": ["k"], "args": ["a", 2]})
    assert run(c, echo["id"])["result"]["result"] == ["jwu:{%s}:k" % c.tenant_id, "a", "2"]
    boom = job(c, job_type="StoredProcedure", max_attempts=1, job_configuration={"function": "boom"})
    failed = run(c, boom["id"])
    assert failed["status"] == "failed" and "boom" in failed["error"]
    missing = job(c, job_type="StoredProcedure", max_attempts=1, job_configuration={"function": "nope"})
    assert "Function not found" in run(c, missing["id"])["error"]
    r = c.post("/v1/jobs", {"name": "sp", "job_type": "StoredProcedure", "job_configuration": {}})
    assert r.status == 400 and "job_configuration.function" in r.json()["errors"]
    # jobwheel's own functions (its scripts) are not for tenants to call
    own = rig["redis"].cmd("FUNCTION", "LIST", "LIBRARYNAME", "jobwheel_*")
    assert own, "jobwheel's library is loaded"
    r = c.post("/v1/jobs", {"name": "sp-own", "job_type": "StoredProcedure",
                            "job_configuration": {"function": own[0][1] + "_run_create"}})
    assert r.status == 400 and "jobwheel_" in r.json()["errors"]["job_configuration.function"][0]


def test_code_execution(c, rig):
    j = job(c, job_type="CodeExecution",
            job_configuration={"command": "/bin/sh",
                               "args": ["-c", 'printf "%s|%s|" "$GREETING" "$(pwd)"; cat; echo oops >&2'],
                               "env": {"GREETING": "hello"}, "cwd": "/tmp"})
    r = run(c, j["id"], {"payload": {"x": 1}})
    assert r["status"] == "completed", r
    res = r["result"]
    assert res["exit_code"] == 0 and res["stderr"] == "oops\n"
    assert res["stdout"].startswith("hello|/tmp|") and json.loads(res["stdout"].split("|", 2)[2]) == {"x": 1}
    env = job(c, job_type="CodeExecution",
              job_configuration={"command": "sh", "args": ["-c", 'echo "$JOBWHEEL_RUN_ID $JOBWHEEL_ATTEMPT"']})
    r = run(c, env["id"])
    assert r["result"]["stdout"] == f"{r['id']} 1\n"
    bad = job(c, job_type="CodeExecution", max_attempts=2, retry_delays_secs=[0],
              job_configuration={"command": "/bin/sh", "args": ["-c", "echo broken >&2; exit 3"]})
    r = run(c, bad["id"])
    assert r["status"] == "failed" and r["attempt"] == 2 and r["error"].startswith("exit code 3: broken")
    slow = job(c, job_type="CodeExecution", timeout_secs=1, max_attempts=1,
               job_configuration={"command": "/bin/sleep", "args": ["30"]})
    t0 = time.time()
    r = run(c, slow["id"])
    assert r["status"] == "timed_out" and time.time() - t0 < 10
    cap = job(c, job_type="CodeExecution",
              job_configuration={"command": "/bin/sh", "args": ["-c", "yes | head -c 100000"],
                                 "max_output_bytes": 1000})
    r = run(c, cap["id"])
    assert r["result"]["truncated"] is True and len(r["result"]["stdout"]) == 1000
    nope = job(c, job_type="CodeExecution", max_attempts=1, job_configuration={"command": "/no/such/program"})
    assert run(c, nope["id"])["status"] == "failed"


def test_code_execution_refused_unless_enabled(client):
    r = client.post("/v1/jobs", {"name": "cx", "job_type": "CodeExecution",
                                 "job_configuration": {"command": "/bin/true"}})
    assert r.status == 400 and "job_type" in r.json()["errors"]
    assert "code_execution" in r.json()["detail"]


def test_file_operations(c, rig):
    root = rig["root"] / c.tenant_id  # each tenant works in its own directory

    def op(**cfg):
        return run(c, job(c, job_type="FileOperation", max_attempts=1, job_configuration=cfg)["id"])
    d = "t-" + uuid.uuid4().hex[:8]
    r = op(operation="write", path=f"{d}/in/a.txt", content="hello files", recursive=True)
    assert r["status"] == "completed", r
    assert r["result"]["bytes"] == 11
    assert (root / d / "in" / "a.txt").read_text() == "hello files"
    assert op(operation="copy", path=f"{d}/in/a.txt", to=f"{d}/in/b.txt")["status"] == "completed"
    assert op(operation="mkdir", path=f"{d}/out")["status"] == "completed"
    assert op(operation="move", path=f"{d}/in/b.txt", to=f"{d}/out/b.txt")["status"] == "completed"
    assert (root / d / "out" / "b.txt").read_text() == "hello files"
    assert not (root / d / "in" / "b.txt").exists()
    listing = op(operation="list", path=f"{d}/in")["result"]
    assert [e["name"] for e in listing["entries"]] == ["a.txt"]
    assert listing["entries"][0]["type"] == "file" and listing["entries"][0]["size"] == 11
    missing = op(operation="copy", path=f"{d}/in/nope.txt", to=f"{d}/x")
    assert missing["status"] == "failed" and str(root) not in missing["error"]
    # a symlink out of the root is refused, in the middle of a path or at its end
    outside = rig["root"].parent / ("outside-" + d)
    outside.mkdir()
    (outside / "secret.txt").write_text("do not read")
    os.symlink(outside, root / d / "escape")
    for cfg in ({"operation": "copy", "path": f"{d}/escape/secret.txt", "to": f"{d}/stolen.txt"},
                {"operation": "write", "path": f"{d}/escape/new.txt", "content": "x"},
                {"operation": "list", "path": f"{d}/escape"}):
        r = op(**cfg)
        assert r["status"] == "failed", (cfg, r)
    assert not (outside / "new.txt").exists() and not (root / d / "stolen.txt").exists()
    assert op(operation="delete", path=f"{d}/in", recursive=True)["result"]["deleted"] == 2
    assert not (root / d / "in").exists()
    r = c.post("/v1/jobs", {"name": "fo", "job_type": "FileOperation",
                            "job_configuration": {"operation": "delete", "path": "../etc"}})
    assert r.status == 400 and "job_configuration.path" in r.json()["errors"]


def test_builtin_token_expiry_and_dry_run(c):
    soon = (datetime.now(timezone.utc) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    key = c.post("/v1/api-keys", {"name": "short", "permissions": ["jobs:read"], "expires_at": soon})
    assert key.status == 201, key
    keep = c.post("/v1/api-keys", {"name": "long", "permissions": ["jobs:read"]}).json()
    time.sleep(2.2)
    j = job(c, job_type="Builtin", job_configuration={"handler": "tokenExpiry"})
    dry = run(c, j["id"], {"params": {"dry_run": True}})
    assert dry["result"] == {"tokens_checked": 2, "expired_removed": 1, "dry_run": True}
    assert len(c.get("/v1/api-keys").json()) == 2  # a dry run changes nothing
    real = run(c, j["id"])
    assert real["result"] == {"tokens_checked": 2, "expired_removed": 1, "dry_run": False}
    assert [k["id"] for k in c.get("/v1/api-keys").json()] == [keep["id"]]


def test_builtin_report_and_rotation(c, rig):
    ok = job(c, endpoint_url=rig["sink"].url("/ok"))
    for _ in range(3):
        assert run(c, ok["id"])["status"] == "completed"
    rep = job(c, job_type="Builtin", job_configuration={"handler": "reportGeneration",
                                                          "params": {"window_hours": 1}})
    res = run(c, rep["id"])["result"]
    mine = [x for x in res["jobs"] if x["job_id"] == ok["id"]]
    assert mine == [{"job_id": ok["id"], "name": ok["name"], "total": 3, "completed": 3}]
    assert res["window_hours"] == 1 and res["totals"]["completed"] >= 3
    c.post("/v1/api-keys", {"name": "rotate-me", "permissions": ["jobs:read"],
                            "expires_at": (datetime.now(timezone.utc) + timedelta(days=3)).isoformat()})
    rot = job(c, job_type="Builtin", job_configuration={"handler": "credentialRotationCheck"})
    res = run(c, rot["id"])["result"]
    assert res["due_for_rotation"] == 1 and res["credentials"][0]["reason"] == "expires_soon"
    weekly = job(c, job_type="Builtin", job_configuration={"handler": "generateWeeklyExpiryReport"})
    res = run(c, weekly["id"])["result"]
    assert res["keys_expiring"] == 1 and res["keys"][0]["name"] == "rotate-me"
    for h in ("dataSync", "cleanupExpiredSessions", "auditLogArchive"):
        r = run(c, job(c, job_type="Builtin", job_configuration={"handler": h})["id"])
        assert r["status"] == "completed" and r["result"]["dry_run"] is False, r
    r = c.post("/v1/jobs", {"name": "bi", "job_type": "Builtin", "job_configuration": {"handler": "rm"}})
    assert r.status == 400 and "job_configuration.handler" in r.json()["errors"]


def test_builtin_data_sync_repairs_the_job_indexes(c, rig):
    """A job's record lost behind the indexes' back (as after a partial
    restore): its name stays taken and it stays listed until dataSync drops
    what points at no job; a dry run only counts."""
    red, tenant = rig["redis"], c.tenant_id
    lost = job(c, endpoint_url="https://example.com/h", cron="0 3 * * *", project_id="p1", slug="lost-slug")
    kept = job(c, endpoint_url="https://example.com/h")
    assert red.cmd("HDEL", f"jw:{{{tenant}}}:jobs", uuid.UUID(lost["id"]).bytes) == 1
    again = {"name": lost["name"], "endpoint_url": "https://example.com/h"}
    assert c.post("/v1/jobs", again).status == 409
    sync = job(c, job_type="Builtin", job_configuration={"handler": "dataSync"})
    dry = run(c, sync["id"], {"params": {"dry_run": True}})["result"]
    # the name, the slug and the place in the creation order
    assert dry["inconsistencies_fixed"] == 3 and dry["dry_run"] is True, dry
    assert c.post("/v1/jobs", again).status == 409
    res = run(c, sync["id"])["result"]
    assert res["inconsistencies_fixed"] == 3 and res["dry_run"] is False, res
    assert run(c, sync["id"])["result"]["inconsistencies_fixed"] == 0
    assert c.post("/v1/jobs", again).status == 201
    assert c.post("/v1/jobs", {"name": "other", "project_id": "p1", "slug": "lost-slug",
                               "endpoint_url": "https://example.com/h"}).status == 201
    listed = [j["id"] for j in c.get("/v1/jobs?limit=100").json()]
    assert kept["id"] in listed and lost["id"] not in listed


def test_notify_mails_the_outcome_to_the_caller(c, rig):
    mail, sink = rig["mail"], rig["sink"]
    ok = job(c, endpoint_url=sink.url("/mail-ok"))
    r = run(c, ok["id"], {"notify": True, "payload": {"a": 1}})
    assert r["status"] == "completed" and r["notify"] is True
    got = mail.wait_for(lambda ms: any(r["id"] in m["data"] for m in ms))
    m = [m for m in got if r["id"] in m["data"]][0]
    assert m["from"] == "<jobs@example.org>" and m["to"] == ["<tester@example.com>"]
    assert f"Subject: [jobwheel] {ok['name']}: completed" in m["data"]
    assert "Content-Type: text/plain; charset=utf-8" in m["data"]
    sink.script("/mail-bad", 500, sticky=True)
    bad = job(c, endpoint_url=sink.url("/mail-bad"), max_attempts=1)
    r = run(c, bad["id"], {"notify": True})
    got = mail.wait_for(lambda ms: any(r["id"] in m["data"] for m in ms))
    m = [m for m in got if r["id"] in m["data"]][0]
    assert f"{bad['name']}: failed" in m["data"] and "Error: HTTP 500" in m["data"]
    # without notify, no mail
    quiet = run(c, ok["id"])
    time.sleep(0.5)
    assert not any(quiet["id"] in m["data"] for m in mail.messages)


def test_worker_completed_run_gets_its_webhook_and_mail(c, rig):
    mail, sink = rig["mail"], rig["sink"]
    sink.script("/accept", (202, {}, {"accepted": True}, 0))
    j = job(c, endpoint_url=sink.url("/accept"), webhook_url=sink.url("/final"))
    r = c.post(f"/v1/jobs/{j['id']}/trigger", {"notify": True}).json()
    sink.wait_for(lambda reqs: any(q["path"] == "/accept" for q in reqs))
    token = sink.to("/accept")[-1]["headers"]["x-jobwheel-run-token"]
    done = rig["server"].request("POST", f"/v1/runs/{r['id']}/complete", {"result": {"n": 3}},
                                 headers={"x-run-token": token})
    assert done.status == 200, done
    final = sink.wait_for(lambda reqs: any(q["path"] == "/final" and r["id"] in q["body"].decode()
                                           for q in reqs))
    body = json.loads([q for q in final if q["path"] == "/final"][-1]["body"])
    assert body["id"] == r["id"] and body["status"] == "completed" and body["result"] == {"n": 3}
    mail.wait_for(lambda ms: any(r["id"] in m["data"] and ": completed" in m["data"] for m in ms))
