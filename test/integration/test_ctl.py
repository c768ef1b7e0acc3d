"""`jobwheel ctl`, driven as an operator would from a shell: help, a job's
life (create, list, trigger, watch its run end, pause, delete), runs,
schedules, API keys, the exit codes scripts rely on, a token signed from
the config file, and bash completion."""
import json
import subprocess
import uuid

import pytest

from conftest import BIN, SECRET, Jobwheel, claims_for, free_port, make_token, wait_until


@pytest.fixture(scope="module")
def env(redis, sink, tmp_path_factory):
    s = Jobwheel(tmp_path_factory.mktemp("ctl"), redis_url=redis.url, args=["--allow-private-targets"])
    tenant = str(uuid.uuid4())
    yield {"server": s, "tenant": tenant, "token": make_token(claims_for(tenant)), "sink": sink}
    assert s.stop() == 0


def ctl(env, *args, token=None, stdin=None, url=None):
    base = ["--url", url or f"http://127.0.0.1:{env['server'].port}", "--token", token or env["token"]]
    return subprocess.run([BIN, "ctl", *args, *base], capture_output=True, text=True, input=stdin, timeout=60)


def ok(p):
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    return p.stdout


def test_help_for_everything():
    p = subprocess.run([BIN, "ctl", "--help"], capture_output=True, text=True)
    assert p.returncode == 0
    for verb in ("jobs list", "jobs create", "jobs trigger", "runs tail", "runs retry", "schedule JOB",
                 "keys revoke", "Exit codes"):
        assert verb in p.stdout, verb
    p = subprocess.run([BIN, "ctl", "runs", "tail", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--max N" in p.stdout and "jobs list" not in p.stdout
    p = subprocess.run([BIN, "ctl", "jobs", "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "jobs pause" in p.stdout and "runs list" not in p.stdout
    for bad in (["jobs", "fly"], ["jobs", "get"], ["jobs", "get", "a", "b"], ["nouns"], ["jobs", "list", "--bogus"],
                ["jobs", "list", "--limit"], []):
        p = subprocess.run([BIN, "ctl", *bad], capture_output=True, text=True)
        assert p.returncode == 2 and p.stderr, bad


def test_a_job_from_file_to_finished_run(env, tmp_path):
    sink = env["sink"]
    name = f"ctl-{uuid.uuid4().hex[:8]}"
    f = tmp_path / "job.json"
    f.write_text(json.dumps({"name": name, "endpoint_url": sink.url("/ctl/ok"), "cron": "0 3 * * *",
                             "timezone": "Europe/Berlin"}))
    job = json.loads(ok(ctl(env, "jobs", "create", "-f", str(f), "--json")))
    assert job["name"] == name
    table = ok(ctl(env, "jobs", "list")).splitlines()
    assert table[0].split()[:3] == ["ID", "NAME", "SCHEDULE"]
    row = next(line for line in table if job["id"] in line)
    assert name in row and "0 3 * * *" in row and "Europe/Berlin" in row
    listed = json.loads(ok(ctl(env, "jobs", "list", "--json")))
    assert [j["id"] for j in listed] == [job["id"]]
    assert json.loads(ok(ctl(env, "jobs", "get", name, "--json"))) == job
    shown = ok(ctl(env, "jobs", "get", job["id"]))
    assert "name" in shown and name in shown and "null" not in shown

    # trigger with a payload, then watch the run end
    run = json.loads(ok(ctl(env, "jobs", "trigger", name, "--payload", '{"n": 7}', "--json")))
    assert run["job_id"] == job["id"] and run["payload"] == {"n": 7}
    tail = ctl(env, "runs", "tail", "--job", name, "--all", "--max", "1", "--interval", "1")
    line = ok(tail).strip()
    assert run["id"] in line and "completed" in line, line
    assert json.loads(sink.to("/ctl/ok")[0]["body"]) == {"n": 7}
    got = json.loads(ok(ctl(env, "runs", "get", run["id"], "--json")))
    assert got["status"] == "completed" and got["attempts"][0]["http_status"] == 200
    runs = ok(ctl(env, "runs", "list", "--job", name)).splitlines()
    assert runs[0].split()[:3] == ["ID", "JOB", "STATUS"] and run["id"] in runs[1] and "completed" in runs[1]

    # retry: a new run with the same payload
    again = json.loads(ok(ctl(env, "runs", "retry", run["id"], "--json")))
    assert again["id"] != run["id"] and again["payload"] == {"n": 7} and again["job_id"] == job["id"]

    # the schedule, pause, resume, delete
    sched = ok(ctl(env, "schedule", name, "--count", "3")).splitlines()
    assert sched[0] == "time zone Europe/Berlin" and len(sched) == 5 and "+01:00" in sched[2]
    assert json.loads(ok(ctl(env, "jobs", "pause", name, "--json")))["paused"] is True
    assert json.loads(ok(ctl(env, "jobs", "resume", name, "--json")))["paused"] is False
    assert ok(ctl(env, "jobs", "delete", name)).strip() == f"deleted {name}"
    p = ctl(env, "jobs", "get", name)
    assert p.returncode == 3 and "404" in p.stderr


def test_cancel_a_waiting_run(env):
    job = json.loads(ok(ctl(env, "jobs", "create", "-f", "-", "--json", stdin=json.dumps(
        {"name": f"later-{uuid.uuid4().hex[:6]}", "endpoint_url": env["sink"].url("/ctl/later")}))))
    c = env["server"]
    r = c.request("POST", f"/v1/jobs/{job['id']}/trigger", {"delay": 3600}, token=env["token"])
    assert r.status == 201
    run = r.json()
    cancelled = json.loads(ok(ctl(env, "runs", "cancel", run["id"], "--json")))
    assert cancelled["status"] == "cancelled"
    p = ctl(env, "runs", "cancel", run["id"])
    assert p.returncode == 1 and "409" in p.stderr


def test_keys(env):
    made = json.loads(ok(ctl(env, "keys", "create", "--name", "ci", "--permissions", "jobs:read", "--json")))
    assert made["key"].startswith("jw_") and made["permissions"] == ["jobs:read"]
    listed = ok(ctl(env, "keys", "list"))
    assert made["id"] in listed and made["key"] not in listed
    # the key works as a token, read-only
    assert ctl(env, "jobs", "list", token=made["key"]).returncode == 0
    p = ctl(env, "jobs", "create", "-f", "-", token=made["key"], stdin='{"name": "nope"}')
    assert p.returncode == 1 and "403" in p.stderr
    assert ok(ctl(env, "keys", "revoke", made["id"])).strip() == f"revoked {made['id']}"
    assert ctl(env, "jobs", "list", token=made["key"]).returncode == 1


def test_exit_codes_and_messages(env, tmp_path):
    p = ctl(env, "jobs", "create", "-f", "-", stdin='{"name": "", "cron": "99 * * * *"}')
    assert p.returncode == 1 and "400" in p.stderr
    assert "name:" in p.stderr and "cron:" in p.stderr  # every bad field, each on its line
    p = ctl(env, "runs", "get", str(uuid.uuid4()))
    assert p.returncode == 3
    p = ctl(env, "jobs", "list", token="not-a-token")
    assert p.returncode == 1 and "401" in p.stderr
    p = ctl(env, "jobs", "list", url=f"http://127.0.0.1:{free_port()}")
    assert p.returncode == 4 and "cannot reach" in p.stderr
    p = ctl(env, "jobs", "create", "-f", str(tmp_path / "missing.json"))
    assert p.returncode == 2 and "missing.json" in p.stderr
    p = ctl(env, "jobs", "list", url="https://example.com")
    assert p.returncode == 2


def test_a_token_signed_from_the_config_file(env, tmp_path):
    conf = tmp_path / "j.conf"
    conf.write_text(f"listen = 127.0.0.1:{env['server'].port}\njwt_secret = {SECRET}\n")
    p = subprocess.run([BIN, "ctl", "--config", str(conf), "--tenant", env["tenant"], "jobs", "list", "--json"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert isinstance(json.loads(p.stdout), list)
    # the operator holding the key sees the instances too (the token it signs is a super_admin's)
    p = subprocess.run([BIN, "ctl", "--config", str(conf), "instances"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    # the shared Redis may have other instances too: one row is this one
    assert lines[0].split()[:2] == ["INSTANCE", "THIS"] and "shards" in lines[-1]
    assert [line.split()[1] for line in lines[1:-1]].count("true") == 1, lines
    p = subprocess.run([BIN, "ctl", "--config", str(tmp_path / "none.conf"), "jobs", "list"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "none.conf" in p.stderr


def test_token_as_a_verb_too():
    p = subprocess.run([BIN, "ctl", "token", "--jwt-secret", SECRET, "--tenant", "t1", "--ttl", "60"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.count(".") == 2, p.stderr
    bad = subprocess.run([BIN, "ctl", "token", "--jwt-secret", SECRET, "--ttl", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "--ttl" in bad.stderr


def test_bash_completion():
    script = subprocess.run([BIN, "ctl", "completion", "bash"], capture_output=True, text=True).stdout
    probe = script + '\nCOMP_WORDS=(jobwheel ctl runs ""); COMP_CWORD=3; _jobwheel; echo "${COMPREPLY[@]}"\n'
    out = subprocess.run(["bash", "-c", probe], capture_output=True, text=True)
    assert out.returncode == 0 and set(out.stdout.split()) == {"list", "get", "tail", "cancel", "retry"}, out
