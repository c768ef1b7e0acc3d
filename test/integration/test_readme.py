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


def test_readme_quickstart(tmp_path):
    examples = readme_examples()
    assert [name for name, _ in examples] == ["quickstart", "scheduler"]
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
            assert out.returncode == 0, out.stderr
            parts = [p for p in re.split(r"(?<=[}\]])(?=[{\[])", out.stdout.strip()) if p]
            assert len(parts) == 2, out.stdout
            CHECKS[name](json.loads(parts[0]), json.loads(parts[1]))
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
        log.close()
    assert rc == 0, (tmp_path / "run.log").read_text()
    sock = tmp_path / "var" / "redis.sock"
    pg = subprocess.run(["pgrep", "-f", str(sock)], capture_output=True, text=True)
    assert pg.stdout.strip() == "", "the embedded redis-server outlived jobwheel"


def check_quickstart(job, jobs):
    assert job["name"] == "nightly-report" and job["timezone"] == "Europe/Berlin"
    assert [j["id"] for j in jobs] == [job["id"]]


def check_scheduler(job, page):
    assert job["name"] == "Sync inventory feed" and job["status"] == "Enabled"
    assert job["scheduleType"] == "Cron" and job["nextRunAt"]
    assert [j["id"] for j in page["items"]] == [job["id"]] and page["totalCount"] == 1


CHECKS = {"quickstart": check_quickstart, "scheduler": check_scheduler}


def _ready(port):
    try:
        return http_request(port, "GET", "/readyz", timeout=2).status == 200
    except OSError:
        return False
