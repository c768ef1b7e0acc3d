"""The README as a new user meets it: scripts/run (embedded Redis), then the
quick-start examples exactly as printed (only the port differs)."""
import json
import os
import pathlib
import re
import signal
import subprocess

from conftest import ROOT, free_port, http_request, wait_until


def readme_examples():
    text = (ROOT / "README.md").read_text()
    return re.findall(r"<!-- example: (\S+) -->\n```sh\n(.*?)```", text, re.S)


def json_docs(text):
    """The JSON documents curl printed one after another."""
    dec, docs, i, text = json.JSONDecoder(), [], 0, text.strip()
    while i < len(text):
        doc, i = dec.raw_decode(text, i)
        docs.append(doc)
        while i < len(text) and text[i].isspace():
            i += 1
    return docs


def check_quickstart(docs):
    job, jobs = docs
    assert job["name"] == "nightly-report" and job["timezone"] == "Europe/Berlin"
    assert [j["id"] for j in jobs] == [job["id"]]


def check_quotas(docs):
    made, usage = docs
    q = made["quotas"]
    assert made["tenant_id"] == "00000000-0000-4000-8000-000000000001", made
    assert q["jobs"] == {"limit": 1000, "used": 1, "source": "tenant"} and q["inflight"]["limit"] == 50, made
    assert usage["tenant_id"] == made["tenant_id"] and usage["quotas"]["runs_per_minute"]["limit"] == 6000, usage


def check_admin(docs):
    (answer,) = docs
    assert answer["success"] is True and answer["data"]["jobName"] == "tokenExpiry", answer
    assert answer["data"]["jobId"].startswith("job-") and answer["data"]["triggeredBy"]["id"] == "dev"


def check_teams(docs):
    job, triggered, listed = docs
    assert job["slug"] == "revenuecat_sync", job
    run = triggered["job_run"]
    assert run["job_type"] == "revenuecat_sync" and run["params"] == {"integration_id": "int-7"}, triggered
    assert [r["id"] for r in listed["job_runs"]] == [run["id"]] and listed["has_more"] is False


def check_scheduler(docs):
    job, page = docs
    assert job["name"] == "Sync inventory feed" and job["status"] == "Enabled"
    assert job["scheduleType"] == "Cron" and job["nextRunAt"]
    assert [j["id"] for j in page["items"]] == [job["id"]] and page["totalCount"] == 1


def check_nightly(docs):
    job, triggered, listed = docs
    assert job["job_name"] == "weekly-expiry-summary-report" and job["next_run_at"], job
    assert triggered["job_name"] == job["job_name"] and triggered["run_id"], triggered
    assert [j["job_name"] for j in listed["data"]] == [job["job_name"]] and listed["pagination"]["total"] == 1


def check_openapi(docs):
    (doc,) = docs
    assert doc["openapi"] == "3.1.0" and "/v1/jobs" in doc["paths"], doc.get("openapi")


def check_ctl(docs):
    (jobs,) = docs
    assert "nightly-report" in [j["name"] for j in jobs], jobs


CHECKS = {"quickstart": check_quickstart, "quotas": check_quotas, "openapi": check_openapi, "admin": check_admin,
          "teams": check_teams, "scheduler": check_scheduler, "nightly": check_nightly, "ctl": check_ctl}


def test_readme_examples(tmp_path):
    examples = readme_examples()
    assert [name for name, _ in examples] == list(CHECKS)
    port = free_port()
    env = dict(os.environ, JOBWHEEL_LISTEN=f"127.0.0.1:{port}", JOBWHEEL_DATA_DIR=str(tmp_path / "var"))
    log = open(tmp_path / "run.log", "wb")
    proc = subprocess.Popen([str(ROOT / "scripts" / "run")], cwd=str(tmp_path), env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _ready(port), timeout=120, step=0.1, what="scripts/run to serve")
        for name, script in examples:
            script = script.replace("localhost:8080", f"127.0.0.1:{port}")
            out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=str(ROOT), env=env,
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, (name, out.stderr)
            CHECKS[name](json_docs(out.stdout))
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
        log.close()
    assert rc == 0, (tmp_path / "run.log").read_text()
    sock = tmp_path / "var" / "redis.sock"
    pg = subprocess.run(["pgrep", "-f", str(sock)], capture_output=True, text=True)
    assert pg.stdout.strip() == "", "the embedded redis-server outlived jobwheel"


def _ready(port):
    try:
        return http_request(port, "GET", "/readyz", timeout=2).status == 200
    except OSError:
        return False
