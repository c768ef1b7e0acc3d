"""The process: configuration errors, logs, graceful shutdown, restarts of
jobwheel and of Redis (nothing lost), Redis outages (503, then recovery),
and the embedded Redis of `scripts/run`."""
import base64
import json
import os
import re
import signal
import subprocess
import threading
import time
import uuid

import pytest

from conftest import (BIN, SECRET, Client, Jobwheel, Redis, claims_for, free_port, http_request, job_body,
                      make_token, wait_until)


def run_bin(*args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=e, timeout=30)


@pytest.mark.parametrize("args,env,key", [
    (["--jwt-secret", SECRET, "--max-body-bytes", "lots"], {}, "max_body_bytes"),
    (["--jwt-secret", SECRET, "--max-body-bytes", "10"], {}, "max_body_bytes"),
    (["--jwt-secret", "short"], {}, "jwt_secret"),
    ([], {}, "jwt_secret"),
    (["--jwt-secret", SECRET, "--no-such-flag", "1"], {}, "no-such-flag"),
    (["--jwt-secret", SECRET, "--listen", "nowhere"], {}, "listen"),
    (["--jwt-secret", SECRET, "--log-format", "xml"], {}, "log_format"),
    (["--jwt-secret", SECRET, "--allow-private-targets", "perhaps"], {}, "allow_private_targets"),
    (["--jwt-secret", SECRET, "--jwt-algorithm", "none"], {}, "jwt_algorithm"),
    (["--jwt-algorithm", "RS256"], {}, "jwt_public_key_file"),
    (["--jwt-algorithm", "RS256", "--jwt-public-key-file", "/nonexistent.pem"], {}, "jwt_public_key_file"),
    (["--jwt-secret", SECRET, "--redis-url", "http://x"], {}, "redis_url"),
    (["--jwt-secret", SECRET], {"JOBWHEEL_HTTP_TIMEOUT_SECS": "-1"}, "http_timeout_secs"),
    (["--config", "/nonexistent.conf"], {}, "/nonexistent.conf"),
])
def test_bad_configuration_exits_2_naming_the_key(args, env, key):
    p = run_bin("--listen", f"127.0.0.1:{free_port()}", "--redis-url", "redis://127.0.0.1:1/0", *args, env=env)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert key in p.stderr


def test_config_file_env_and_flags(tmp_path):
    conf = tmp_path / "j.conf"
    conf.write_text("# comment\nmax_body_bytes = 2048\njwt_secret = \"%s\"\nlog_format = json\n" % SECRET)
    p = run_bin("--config", str(conf), "--max-body-bytes", "3", env={"JOBWHEEL_LOG_FORMAT": "text"})
    assert p.returncode == 2 and "flag --max-body-bytes" in p.stderr
    conf.write_text("bogus_key = 1\n")
    p = run_bin("--config", str(conf))
    assert p.returncode == 2 and "bogus_key" in p.stderr and "j.conf:1" in p.stderr


@pytest.mark.parametrize("ttl", ["abc", "-5", "0", "10x", "", "99999999999999999999", "316224001"])
def test_token_refuses_a_bad_ttl(ttl):
    p = subprocess.run([BIN, "token", "--jwt-secret", SECRET, "--ttl", ttl], capture_output=True, text=True)
    assert p.returncode == 2 and p.stdout == "", p
    assert "--ttl" in p.stderr and "runtime error" not in p.stderr, p.stderr


def test_token_ttl_sets_exp():
    p = subprocess.run([BIN, "token", "--jwt-secret", SECRET, "--ttl", "90"], capture_output=True, text=True)
    assert p.returncode == 0, p
    claims = json.loads(base64.urlsafe_b64decode(p.stdout.split(".")[1] + "=="))
    assert claims["exp"] - claims["iat"] == 90


def test_help():
    p = run_bin("--help")
    assert p.returncode == 0 and "--redis-url" in p.stdout and "--allow-private-targets" in p.stdout


def test_json_logs_one_line_per_request_without_secrets(redis, tmp_path):
    s = Jobwheel(tmp_path, redis_url=redis.url, args=["--log-format", "json"])
    tenant = str(uuid.uuid4())
    token = make_token(claims_for(tenant))
    c = Client(s, token)
    c.post("/v1/jobs", job_body(webhook_secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
    key = c.post("/v1/api-keys", {"name": "k", "permissions": ["jobs:read"]}).json()["key"]
    s.request("GET", "/v1/jobs", token=key, headers={"X-Request-Id": "req-42"})
    assert s.stop() == 0
    out = s.output()
    lines = [json.loads(l) for l in out.splitlines() if l.strip()]
    reqs = [l for l in lines if l.get("msg") == "request"]
    assert len(reqs) >= 4
    last = [l for l in reqs if l["request_id"] == "req-42"][0]
    assert last["method"] == "GET" and last["path"] == "/v1/jobs" and last["status"] == 200
    assert last["tenant"] == tenant and last["principal"].startswith("apikey:")
    assert isinstance(last["duration_ms"], (int, float))
    for secret in (SECRET, token, key, "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"):
        assert secret not in out


def test_sigterm_finishes_in_flight_requests(tmp_path):
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url)
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        job = c.post("/v1/jobs", job_body()).json()
        # stall Redis so a request is in flight when SIGTERM arrives
        blocker = threading.Thread(target=lambda: r.cmd("DEBUG", "SLEEP", "1.2"))
        blocker.start()
        time.sleep(0.1)
        result = {}
        def in_flight():
            try:
                result["r"] = c.get(f"/v1/jobs/{job['id']}")
            except Exception as e:  # reported below
                result["e"] = e
        t = threading.Thread(target=in_flight)
        t.start()
        time.sleep(0.2)
        s.proc.send_signal(signal.SIGTERM)
        time.sleep(0.2)
        # no new clients while draining
        with pytest.raises(OSError):
            s.request("GET", "/healthz", timeout=1)
        t.join(10)
        blocker.join(10)
        assert "r" in result, result
        assert result["r"].status == 200 and result["r"].json()["id"] == job["id"]
        assert s.proc.wait(timeout=10) == 0
    finally:
        s.stop()
        r.stop()


def test_drain_delay_keeps_serving_while_readyz_says_503(tmp_path):
    """With drain_delay_secs, SIGTERM turns /readyz to 503 at once (a load
    balancer stops sending), requests and new connections are still served
    for the delay, and then the instance drains and exits 0."""
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=["--drain-delay-secs", "2"])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        job = c.post("/v1/jobs", job_body()).json()
        s.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        wait_until(lambda: s.request("GET", "/readyz").status == 503, timeout=1, what="readyz 503")
        assert s.request("GET", "/readyz").json()["status"] == "draining"
        while time.monotonic() - signalled < 1.5:  # every request a new connection, all served
            assert c.get(f"/v1/jobs/{job['id']}").status == 200
            assert c.post("/v1/jobs", job_body()).status == 201
            time.sleep(0.1)
        assert s.proc.wait(timeout=15) == 0
        assert "drain_delay_secs" in s.output()
    finally:
        s.stop()
        r.stop()


def test_stop_with_calls_still_out_abandons_them_cleanly(tmp_path):
    """Past shutdown_timeout_secs, calls still waiting for an answer or a
    name are abandoned while the loop runs, so nothing leaks (the sanitizer
    build checks) and the process still exits 0 in time; the runs' leases
    lapse and another instance retries them."""
    from sink import Sink
    sink = Sink()
    sink.script("/slow", (200, {}, {"ok": True}, 20), sticky=True)
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url,
                 args=["--allow-private-targets", "--shutdown-timeout-secs", "1"])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        slow = c.post("/v1/jobs", job_body(endpoint_url=sink.url("/slow"), timeout_secs=60)).json()
        unknown = c.post("/v1/jobs", job_body(endpoint_url="https://jobwheel-test.invalid/x",
                                              timeout_secs=60)).json()
        for job in (slow, unknown):
            r_ = c.post(f"/v1/jobs/{job['id']}/trigger/bulk", {"items": [{}] * 100})
            assert r_.status in (200, 201), r_
        sink.wait_for(lambda rs: len(rs) >= 5)
        started = time.monotonic()
        assert s.stop() == 0  # and no sanitizer report
        assert time.monotonic() - started < 8
    finally:
        if s.proc:
            s.stop()
        r.stop()
        sink.close()


def test_restarts_lose_nothing(tmp_path):
    r = Redis(tmp_path / "redis", appendonly=True)
    s = Jobwheel(tmp_path / "jw", redis_url=r.url)
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        a = c.post("/v1/jobs", job_body(cron="0 * * * *")).json()
        c.patch(f"/v1/jobs/{a['id']}", {"description": "v2"})
        jobs = c.get("/v1/jobs").json()
        # jobwheel restart
        assert s.stop() == 0
        s.start()
        assert c.get("/v1/jobs").json() == jobs
        # Redis restart with AOF (the functions library comes back from the AOF)
        r.stop()
        r.start()
        wait_until(s.ready, timeout=15, what="jobwheel to reconnect")
        assert c.get("/v1/jobs").json() == jobs
        assert len(c.get(f"/v1/jobs/{a['id']}/versions").json()) == 2
        # Redis killed outright (appendfsync always here)
        b = c.post("/v1/jobs", job_body()).json()
        r.stop(signal.SIGKILL)
        r.start()
        wait_until(s.ready, timeout=15, what="jobwheel to reconnect")
        assert c.get(f"/v1/jobs/{b['id']}").status == 200
        # the functions library flushed under a live connection: loaded again
        r.cmd("FUNCTION", "FLUSH")
        assert c.post("/v1/jobs", job_body()).status == 201
        assert c.get(f"/v1/jobs/{b['id']}").status == 200
    finally:
        assert s.stop() == 0
        r.stop()


def test_function_libraries_of_builds_gone_for_a_day_are_deleted(tmp_path):
    """Each build loads its scripts as a function library named after their
    hash and says, at connect and every minute, that it uses it; a library
    no instance has named for a day is deleted, a recent one is kept."""
    r = Redis(tmp_path / "redis")
    now = int(time.time() * 1000)
    try:
        for name, seen in (("jobwheel_0ld0ld0ld0ld", now - 2 * 86400 * 1000), ("jobwheel_5eca11ed0001", now - 60000)):
            r.cmd("FUNCTION", "LOAD", f"#!lua name={name}\n"
                  f"redis.register_function('{name}_x', function(keys, args) return 1 end)")
            r.cmd("HSET", "jw:{sched}:libraries", name, seen)
        s = Jobwheel(tmp_path / "jw", redis_url=r.url)
        try:
            def names():
                return {lib[1] for lib in r.cmd("FUNCTION", "LIST", "LIBRARYNAME", "jobwheel_*")}
            wait_until(lambda: "jobwheel_0ld0ld0ld0ld" not in names(), what="the old library to go")
            ours = names() - {"jobwheel_5eca11ed0001"}
            assert len(ours) == 1 and "jobwheel_5eca11ed0001" in names()
            seen = r.cmd("HGETALL", "jw:{sched}:libraries")
            assert set(seen[::2]) == ours | {"jobwheel_5eca11ed0001"}
        finally:
            assert s.stop() == 0
    finally:
        r.stop()


def test_redis_outage_is_503_then_recovers(tmp_path):
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url)
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        r.stop()
        wait_until(lambda: not s.ready(), timeout=10, what="readyz to turn 503")
        assert s.request("GET", "/readyz").json() == {"status": "not ready", "redis": "down"}
        res = c.post("/v1/jobs", job_body())
        assert res.status == 503 and res.headers["content-type"] == "application/problem+json"
        assert s.request("GET", "/healthz").status == 200
        r.start()
        wait_until(s.ready, timeout=15, what="jobwheel to reconnect")
        assert c.post("/v1/jobs", job_body()).status == 201
    finally:
        assert s.stop() == 0
        r.stop()


def test_a_request_while_the_redis_connection_is_set_up_waits_for_it(tmp_path):
    """A request that comes while the instance's connection to Redis is
    being set up (just started, or reconnecting) is answered once the
    handshake is done, not refused with 503."""
    r = Redis(tmp_path / "redis")
    os.kill(r.proc.pid, signal.SIGSTOP)  # the kernel accepts the connection; nothing is answered
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, start=False)
    try:
        s.start(wait=False)
        wait_until(lambda: "redis: connected" in s.output(), timeout=10, what="the connection made")
        assert s.request("GET", "/healthz").status == 200 and not s.ready()
        threading.Timer(0.7, os.kill, (r.proc.pid, signal.SIGCONT)).start()
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        res = c.post("/v1/jobs", job_body())
        assert res.status == 201, res
        assert s.ready() and c.get(f"/v1/jobs/{res.json()['id']}").status == 200
    finally:
        os.kill(r.proc.pid, signal.SIGCONT)
        assert s.stop() == 0
        r.stop()


def test_a_redis_that_may_evict_keys_is_warned_about(tmp_path):
    """jobwheel's keys must not be evicted (a run, a queue, a lease could
    go): a Redis whose maxmemory-policy is not noeviction is named in a
    warning at connect; one that is, is not."""
    r = Redis(tmp_path / "redis")
    try:
        r.cmd("CONFIG", "SET", "maxmemory-policy", "allkeys-lru")
        s = Jobwheel(tmp_path / "lru", redis_url=r.url)
        wait_until(lambda: "maxmemory-policy is allkeys-lru" in s.output(), timeout=5, what="the warning")
        assert " warn " in [x for x in s.output().splitlines() if "maxmemory-policy" in x][0]
        assert s.stop() == 0
        r.cmd("CONFIG", "SET", "maxmemory-policy", "noeviction")
        s = Jobwheel(tmp_path / "noeviction", redis_url=r.url)
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        assert c.post("/v1/jobs", job_body()).status == 201
        assert "maxmemory-policy" not in s.output()
        assert s.stop() == 0
    finally:
        r.stop()


def test_a_full_redis_is_503_then_recovers(tmp_path):
    """Under maxmemory with noeviction a full Redis refuses writes before
    running them: the request is 503 (retry later, nothing was stored) and
    succeeds once there is room."""
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url)
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        assert c.post("/v1/jobs", job_body()).status == 201
        used = int(re.search(r"used_memory:(\d+)", r.cmd("INFO", "memory")).group(1))
        r.cmd("CONFIG", "SET", "maxmemory", str(used // 2))
        res = c.post("/v1/jobs", job_body())
        assert res.status == 503 and res.headers["content-type"] == "application/problem+json", res
        assert "refused" in s.output() and "OOM" in s.output()
        r.cmd("CONFIG", "SET", "maxmemory", "0")
        assert c.post("/v1/jobs", job_body()).status == 201
        assert len(c.get("/v1/jobs").json()) == 2
    finally:
        assert s.stop() == 0
        r.stop()


def test_stalled_redis_times_out(tmp_path):
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=["--redis-timeout-ms", "300"])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        blocker = threading.Thread(target=lambda: r.cmd("DEBUG", "SLEEP", "2"))
        blocker.start()
        time.sleep(0.1)
        t0 = time.monotonic()
        res = c.get("/v1/jobs")
        assert res.status == 503
        assert time.monotonic() - t0 < 1.5
        blocker.join()
        wait_until(s.ready, timeout=15, what="jobwheel to reconnect")
        assert c.get("/v1/jobs").status == 200
    finally:
        assert s.stop() == 0
        r.stop()


def redis_children(data_dir):
    p = subprocess.run(["pgrep", "-f", f"{data_dir}/redis.sock"], capture_output=True, text=True)
    return [int(x) for x in p.stdout.split()]


def test_a_busy_port_exits_2_before_starting_redis(tmp_path):
    import socket
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    data = (tmp_path / "data").resolve()
    try:
        p = run_bin("--listen", f"127.0.0.1:{taken.getsockname()[1]}", "--jwt-secret", SECRET,
                    "--data-dir", str(data))
        assert p.returncode == 2 and "listen" in p.stderr and "in use" in p.stderr, p
        assert redis_children(data) == [] and not (data / "redis.sock").exists()
        assert "embedded redis" not in p.stderr and "ERROR" not in p.stderr, p.stderr
    finally:
        taken.close()


def test_embedded_redis(tmp_path):
    s = Jobwheel(tmp_path, redis_url=None)
    data = (tmp_path / "data").resolve()
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        job = c.post("/v1/jobs", job_body()).json()
        assert len(redis_children(data)) == 1
        assert (data / "redis.sock").exists()
        # a Redis just started takes a moment to listen: no false alarm meanwhile
        assert "cannot connect" not in s.output(), s.output()
        # a second instance on the same data_dir is refused
        second = run_bin("--listen", f"127.0.0.1:{free_port()}", "--jwt-secret", SECRET,
                         "--data-dir", str(data))
        assert second.returncode != 0 and "in use" in second.stderr
        assert s.stop() == 0
        assert redis_children(data) == []
        s.start()
        assert c.get(f"/v1/jobs/{job['id']}").json() == job
        # jobwheel killed outright: its Redis goes too
        s.proc.kill()
        s.proc.wait()
        s.log.close()
        s.proc = None
        wait_until(lambda: redis_children(data) == [], timeout=10, what="embedded redis to exit")
        s.start()
        assert c.get(f"/v1/jobs/{job['id']}").json() == job
        # Redis dying under jobwheel is restarted
        pid = redis_children(data)[0]
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: redis_children(data) not in ([], [pid]), timeout=10, what="redis restart")
        wait_until(s.ready, timeout=15, what="jobwheel to reconnect")
        assert c.get(f"/v1/jobs/{job['id']}").json() == job
    finally:
        if s.proc:
            assert s.stop() == 0


def test_config_paths_are_relative_to_the_file(tmp_path):
    """A config file that says `data_dir = ./state` means the state next to
    the file, whichever directory jobwheel is started in."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "jwt.secret").write_text(SECRET + "\n")
    port = free_port()
    (etc / "j.conf").write_text(f"listen = 127.0.0.1:{port}\ndata_dir = ../state\n"
                                "jwt_secret_file = jwt.secret\n")
    state = (tmp_path / "state").resolve()
    p = subprocess.run([BIN, "token", "--config", "etc/j.conf", "--tenant", str(uuid.uuid4())],
                       capture_output=True, text=True, cwd=tmp_path, timeout=30)
    assert p.returncode == 0, p.stderr
    token = p.stdout.strip()
    log = open(tmp_path / "out.log", "w")
    proc = subprocess.Popen([BIN, "--config", str(etc / "j.conf")], cwd="/", stdout=log, stderr=log)
    try:
        def answers():
            try:
                return http_request(port, "GET", "/v1/jobs",
                                    headers={"Authorization": f"Bearer {token}"}).status == 200
            except OSError:
                return False
        wait_until(answers, timeout=20, what="jobwheel on the embedded Redis")
        assert (state / "redis.sock").exists() and len(redis_children(state)) == 1
        assert not (etc / "state").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        log.close()
    assert redis_children(state) == []
