"""The README as a new user meets it: scripts/run (embedded Redis) and
scripts/receiver, then the examples exactly as printed (only the ports
differ); and the signature snippets, run against real deliveries."""
import json
import os
import pathlib
import re
import signal
import subprocess

from conftest import ROOT, free_port, http_request, wait_until

README = ROOT / "README.md"


def readme_examples():
    text = README.read_text()
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
    # the jobs of the quick start and of the first run
    assert q["jobs"] == {"limit": 1000, "used": 2, "source": "tenant"} and q["inflight"]["limit"] == 50, made
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


def check_first_run(docs):
    job, run, runs = docs
    assert job["name"] == "hello" and run["job_id"] == job["id"], (job, run)
    done = runs[0]
    assert done["id"] == run["id"] and done["status"] == "completed", done
    assert [a["http_status"] for a in done["attempts"]] == [503, 200], done["attempts"]


CHECKS = {"quickstart": check_quickstart, "first-run": check_first_run, "quotas": check_quotas,
          "openapi": check_openapi, "admin": check_admin,
          "teams": check_teams, "scheduler": check_scheduler, "nightly": check_nightly, "ctl": check_ctl}


def test_readme_examples(tmp_path):
    examples = readme_examples()
    assert [name for name, _ in examples] == list(CHECKS)
    port, rport = free_port(), free_port()
    env = dict(os.environ, JOBWHEEL_LISTEN=f"127.0.0.1:{port}", JOBWHEEL_DATA_DIR=str(tmp_path / "var"))
    log = open(tmp_path / "run.log", "wb")
    # as the first-run section says: scripts/run --allow-private-targets, and the receiver
    proc = subprocess.Popen([str(ROOT / "scripts" / "run"), "--allow-private-targets"], cwd=str(tmp_path), env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    receiver_cmd = re.search(r"```sh\n(scripts/receiver .*?)```", README.read_text(), re.S).group(1)
    receiver_cmd = receiver_cmd.replace("9000", str(rport))
    rlog = open(tmp_path / "receiver.log", "w")
    receiver = subprocess.Popen(["bash", "-c", f"exec {receiver_cmd}"], cwd=str(ROOT), stdout=rlog,
                                stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _ready(port), timeout=120, step=0.1, what="scripts/run to serve")
        wait_until(lambda: "listening" in (tmp_path / "receiver.log").read_text(), what="the receiver")
        for name, script in examples:
            script = script.replace("localhost:8080", f"127.0.0.1:{port}").replace(":9000/", f":{rport}/")
            out = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=str(ROOT), env=env,
                                 capture_output=True, text=True, timeout=60)
            assert out.returncode == 0, (name, out.stderr)
            CHECKS[name](json_docs(out.stdout))
    finally:
        receiver.send_signal(signal.SIGINT)
        receiver.wait(timeout=10)
        rlog.close()
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
        log.close()
    calls = [line for line in (tmp_path / "receiver.log").read_text().splitlines() if "/hello" in line]
    assert len(calls) == 2 and all("signature ok" in c for c in calls), calls
    assert "answered 503" in calls[0] and "answered 200" in calls[1] and '{"hello":"world"}' in calls[1], calls
    assert rc == 0, (tmp_path / "run.log").read_text()
    sock = tmp_path / "var" / "redis.sock"
    pg = subprocess.run(["pgrep", "-f", str(sock)], capture_output=True, text=True)
    assert pg.stdout.strip() == "", "the embedded redis-server outlived jobwheel"


def _ready(port):
    try:
        return http_request(port, "GET", "/readyz", timeout=2).status == 200
    except OSError:
        return False


def snippet(name):
    return re.search(r"<!-- snippet: %s -->\n```\w+\n(.*?)```" % name, README.read_text(), re.S).group(1)


def test_signature_snippets_verify_real_deliveries(redis, sink, tmp_path):
    from conftest import Jobwheel, claims_for, make_token
    import uuid
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    s = Jobwheel(tmp_path, redis_url=redis.url, args=["--allow-private-targets"])
    try:
        token = make_token(claims_for(str(uuid.uuid4())))
        job = s.request("POST", "/v1/jobs", {"name": "signed", "endpoint_url": sink.url("/signed"),
                                             "webhook_secret": secret}, token=token).json()
        s.request("POST", f"/v1/jobs/{job['id']}/trigger", {"payload": {"n": 1}}, token=token)
        sink.wait_for(lambda reqs: any(r["path"] == "/signed" for r in reqs))
    finally:
        assert s.stop() == 0
    call = sink.to("/signed")[0]
    headers, body = call["headers"], call["body"]

    scope = {}
    exec(snippet("verify-python"), scope)
    assert scope["verify"](secret, headers, body) is True
    assert scope["verify"](secret, headers, body + b" ") is False
    assert scope["verify"]("whsec_" + "A" * 32, headers, body) is False

    program = ("const [rawBody, headers] = JSON.parse(process.argv[2]);\n" + snippet("verify-node") +
               "console.log(JSON.stringify(payload));\n")
    script = ROOT / "test" / "js" / f".snippet-{uuid.uuid4().hex[:8]}.mjs"  # beside its node_modules
    script.write_text(program)
    try:
        env = dict(os.environ, JOBWHEEL_WEBHOOK_SECRET=secret)
        good = subprocess.run(["node", str(script), json.dumps([body.decode(), headers])], env=env,
                              capture_output=True, text=True, timeout=30)
        assert good.returncode == 0 and json.loads(good.stdout) == {"n": 1}, good.stderr
        bad = subprocess.run(["node", str(script), json.dumps([body.decode() + " ", headers])], env=env,
                             capture_output=True, text=True, timeout=30)
        assert bad.returncode != 0 and "signature" in bad.stderr.lower(), bad.stderr
    finally:
        script.unlink()


def test_every_configuration_key_is_in_the_readme():
    from conftest import BIN
    helped = subprocess.run([BIN, "--help"], capture_output=True, text=True).stdout
    keys = [m.replace("-", "_") for m in re.findall(r"^  --([a-z-]+)", helped, re.M)]
    assert len(keys) > 50
    text = README.read_text()
    assert [k for k in keys if f"`{k}`" not in text] == []
