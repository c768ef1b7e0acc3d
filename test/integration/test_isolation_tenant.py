"""Issue 12, holes 2, 5, 6 and 7, tried as a hostile tenant would with
nothing but its own credentials: another tenant's files through
FileOperation (`..`, absolute paths, symlinks, the other's id in a path,
the tenant directory itself swapped for a link) and the per-tenant file
quota; run tokens forged by swapping in another tenant's id, and a stale
attempt's token; the run-token key after Redis loses its data, with two
instances; and job endpoints that are literals in special-purpose address
ranges."""
import os
import subprocess
import time
import uuid

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, job_body, make_token, wait_until

QUOTA_BYTES = 4096
QUOTA_ENTRIES = 20


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    d = tmp_path_factory.mktemp("isolation")
    r = Redis(d / "redis")
    root = d / "files"
    root.mkdir()
    try:
        s = Jobwheel(d, redis_url=r.url, args=["--allow-private-targets", "--file-root", str(root),
                                               "--file-quota-bytes", str(QUOTA_BYTES),
                                               "--file-quota-entries", str(QUOTA_ENTRIES)])
    except BaseException:
        r.stop()
        raise
    yield {"server": s, "redis": r, "root": root, "dir": d}
    assert s.stop() == 0
    r.stop()


def tenant_client(server):
    t = str(uuid.uuid4())
    c = Client(server, make_token(claims_for(t)))
    c.tenant_id = t
    return c


@pytest.fixture
def a(rig):
    return tenant_client(rig["server"])


@pytest.fixture
def b(rig):
    return tenant_client(rig["server"])


def run_of(c, rid):
    r = c.get(f"/v1/runs/{rid}")
    assert r.status == 200, r
    return r.json()


def run_to_end(c, job_id):
    r = c.post(f"/v1/jobs/{job_id}/trigger", {})
    assert r.status == 201, r
    rid = r.json()["id"]
    box = {}

    def done():
        box["r"] = run_of(c, rid)
        return box["r"]["status"] in ("completed", "failed", "timed_out")
    wait_until(done, timeout=20, step=0.05, what=f"run {rid} to end")
    return box["r"]


def file_op(c, **cfg):
    """Run one FileOperation as c's tenant: the ended run."""
    r = c.post("/v1/jobs", {"name": "fo-" + uuid.uuid4().hex[:10], "job_type": "FileOperation",
                            "max_attempts": 1, "job_configuration": cfg})
    assert r.status == 201, r
    return run_to_end(c, r.json()["id"])


def tree(d):
    """Every path under d (links as themselves) with a file's content."""
    out = {}
    for dirpath, dirs, files in os.walk(d):
        for n in dirs + files:
            p = os.path.join(dirpath, n)
            rel = os.path.relpath(p, d)
            out[rel] = open(p).read() if os.path.isfile(p) and not os.path.islink(p) else None
    return out


# ---- hole 2: one file root for all tenants --------------------------------------------

def plant_b(b):
    """B's files, written through B's own jobs (B sees them)."""
    assert file_op(b, operation="write", path="shared/b.txt", content="B's data", recursive=True)["status"] == "completed"
    assert file_op(b, operation="write", path="secret.txt", content="B's secret")["status"] == "completed"
    names = [e["name"] for e in file_op(b, operation="list")["result"]["entries"]]
    assert "shared" in names and "secret.txt" in names, names


B_FILES = {"shared": None, "shared/b.txt": "B's data", "secret.txt": "B's secret"}


def test_files_tenant_cannot_list_move_or_delete_another_tenants(a, b, rig):
    root = rig["root"]
    plant_b(b)
    assert file_op(a, operation="write", path="mine.txt", content="A's")["status"] == "completed"
    # A sees its own files only
    listing = file_op(a, operation="list")
    assert listing["status"] == "completed", listing
    assert [e["name"] for e in listing["result"]["entries"]] == ["mine.txt"]
    # the paths of B's files, as B wrote them: not A's to reach
    for cfg in ({"operation": "list", "path": "shared"},
                {"operation": "copy", "path": "secret.txt", "to": "stolen.txt"},
                {"operation": "move", "path": "secret.txt", "to": "moved.txt"},
                {"operation": "move", "path": "shared", "to": "moved-dir"},
                {"operation": "delete", "path": "secret.txt"},
                {"operation": "delete", "path": "shared", "recursive": True},
                # B's tenant id as the first component names a directory of A's own
                {"operation": "list", "path": b.tenant_id},
                {"operation": "copy", "path": f"{b.tenant_id}/secret.txt", "to": "stolen.txt"},
                {"operation": "move", "path": f"{b.tenant_id}/secret.txt", "to": "moved.txt"},
                {"operation": "delete", "path": f"{b.tenant_id}/shared", "recursive": True}):
        r = file_op(a, **cfg)
        assert r["status"] == "failed", (cfg, r)
        assert str(root) not in r["error"], r
    # "..", absolute paths: refused when the job is made
    for path in ("../" + b.tenant_id + "/secret.txt", "..", "x/../../" + b.tenant_id,
                 str(root / b.tenant_id / "secret.txt"), "/etc/passwd"):
        for cfg in ({"operation": "delete", "path": path, "recursive": True},
                    {"operation": "copy", "path": path, "to": "stolen.txt"},
                    {"operation": "copy", "path": "mine.txt", "to": path},
                    {"operation": "list", "path": path}):
            r = a.post("/v1/jobs", {"name": "fo-bad", "job_type": "FileOperation", "job_configuration": cfg})
            assert r.status == 400, (cfg, r)
    assert tree(root / b.tenant_id) == B_FILES
    assert sorted(tree(root / a.tenant_id)) == ["mine.txt"]
    assert [e["name"] for e in file_op(b, operation="list")["result"]["entries"]] == ["secret.txt", "shared"]


def test_files_symlinks_to_another_tenant_refused(a, b, rig):
    root = rig["root"]
    plant_b(b)
    assert tree(root / b.tenant_id) == B_FILES
    assert file_op(a, operation="mkdir", path="d")["status"] == "completed"
    # links planted in A's directory: to B's directory, into it, and outside the root
    os.symlink(root / b.tenant_id, root / a.tenant_id / "to-b")
    os.symlink("../" + b.tenant_id, root / a.tenant_id / "d" / "rel-b")
    os.symlink(root / b.tenant_id / "secret.txt", root / a.tenant_id / "b-secret")
    os.symlink(rig["dir"], root / a.tenant_id / "out")
    for link in ("to-b", "d/rel-b", "out"):
        for cfg in ({"operation": "list", "path": link},
                    {"operation": "copy", "path": f"{link}/secret.txt", "to": "stolen.txt"},
                    {"operation": "write", "path": f"{link}/secret.txt", "content": "pwned"},
                    {"operation": "write", "path": f"{link}/new/x.txt", "content": "pwned", "recursive": True},
                    {"operation": "move", "path": f"{link}/secret.txt", "to": "moved.txt"},
                    {"operation": "delete", "path": f"{link}/shared", "recursive": True},
                    {"operation": "mkdir", "path": f"{link}/newdir"}):
            r = file_op(a, **cfg)
            assert r["status"] == "failed" and "symbolic link" in r["error"], (cfg, r)
    for cfg in ({"operation": "copy", "path": "b-secret", "to": "stolen.txt"},
                {"operation": "write", "path": "b-secret", "content": "pwned"},
                {"operation": "move", "path": "d", "to": "b-secret"}):
        r = file_op(a, **cfg)
        assert r["status"] == "failed", (cfg, r)
    # deleting a link removes the link, never what it points at
    assert file_op(a, operation="delete", path="to-b", recursive=True)["result"]["deleted"] == 1
    assert tree(root / b.tenant_id) == B_FILES

    # A's tenant directory itself swapped for a link to B's directory
    mine = root / a.tenant_id
    os.rename(mine, root / (a.tenant_id + ".moved"))
    os.symlink(root / b.tenant_id, mine)
    for cfg in ({"operation": "list"},
                {"operation": "list", "path": "shared"},
                {"operation": "delete", "path": "secret.txt"},
                {"operation": "delete", "path": "shared", "recursive": True},
                {"operation": "write", "path": "secret.txt", "content": "pwned"},
                {"operation": "move", "path": "secret.txt", "to": "gone.txt"},
                {"operation": "mkdir", "path": "newdir"}):
        r = file_op(a, **cfg)
        assert r["status"] == "failed" and "symbolic link" in r["error"], (cfg, r)
    assert tree(root / b.tenant_id) == B_FILES


def test_file_quota_per_tenant(a, b, rig):
    root = rig["root"]
    half = "x" * (QUOTA_BYTES // 2)
    assert file_op(a, operation="write", path="one.txt", content=half)["status"] == "completed"
    assert file_op(a, operation="copy", path="one.txt", to="two.txt")["status"] == "completed"
    # full: one byte more is refused, by write and by copy
    r = file_op(a, operation="write", path="three.txt", content="y")
    assert r["status"] == "failed" and "file quota exceeded" in r["error"], r
    r = file_op(a, operation="copy", path="one.txt", to="three.txt")
    assert r["status"] == "failed" and "file quota exceeded" in r["error"], r
    assert sorted(os.listdir(root / a.tenant_id)) == ["one.txt", "two.txt"]
    # B's quota is its own
    assert file_op(b, operation="write", path="one.txt", content=half)["status"] == "completed"
    # deleting frees room
    assert file_op(a, operation="delete", path="two.txt")["status"] == "completed"
    assert file_op(a, operation="write", path="three.txt", content="y")["status"] == "completed"
    # entries: a deep mkdir would pass the cap and makes nothing
    deep = "/".join(f"d{i}" for i in range(QUOTA_ENTRIES))
    r = file_op(a, operation="mkdir", path=deep, recursive=True)
    assert r["status"] == "failed" and "file quota exceeded" in r["error"], r
    r = file_op(a, operation="write", path=deep + "/f.txt", content="", recursive=True)
    assert r["status"] == "failed" and "file quota exceeded" in r["error"], r
    assert sorted(os.listdir(root / a.tenant_id)) == ["one.txt", "three.txt"]
    ok = "/".join(f"d{i}" for i in range(QUOTA_ENTRIES - 2))
    assert file_op(a, operation="mkdir", path=ok, recursive=True)["status"] == "completed"
    r = file_op(a, operation="mkdir", path="one-more")
    assert r["status"] == "failed" and "file quota exceeded" in r["error"], r


def test_file_operations_can_be_turned_off(tmp_path, sink):
    """file_operations = false: refused (400) when a job is made, and a run
    of a job made earlier (on an instance that allows them) fails."""
    r = Redis(tmp_path / "redis")
    on = off = None
    try:
        on = Jobwheel(tmp_path / "on", redis_url=r.url, args=["--file-root", str(tmp_path / "files")])
        off = Jobwheel(tmp_path / "off", redis_url=r.url,
                       args=["--file-operations", "false", "--file-root", str(tmp_path / "files")])
        tenant = str(uuid.uuid4())
        token = make_token(claims_for(tenant))
        cfg = {"name": "fo", "job_type": "FileOperation", "max_attempts": 1,
               "job_configuration": {"operation": "write", "path": "x.txt", "content": "1"}}
        refused = Client(off, token).post("/v1/jobs", cfg)
        assert refused.status == 400 and "file_operations" in refused.json()["detail"], refused
        made = Client(on, token).post("/v1/jobs", cfg)
        assert made.status == 201, made
        on.stop()  # from now on only `off` dispatches
        run = run_to_end(Client(off, token), made.json()["id"])
        assert run["status"] == "failed" and "file_operations" in run["error"], run
        assert not (tmp_path / "files" / tenant / "x.txt").exists()
        assert off.stop() == 0
    finally:
        for server in (on, off):
            if server:
                server.stop()
        r.stop()


# ---- hole 5: a run token binds its tenant and attempt -----------------------------------

def worker_run(c, sink, **fields):
    """A run whose endpoint answers 202: (run id, the run token the worker got)."""
    p = "/" + uuid.uuid4().hex
    sink.script(p, 202, sticky=True)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), **fields))
    assert job.status == 201, job
    run = c.post(f"/v1/jobs/{job.json()['id']}/trigger", {}).json()
    sink.wait_for(lambda rs: any(x["path"] == p for x in rs))
    return run["id"], sink.to(p)[-1]["headers"]["x-jobwheel-run-token"], p


def swap_tenant(token, tenant):
    """The token with another tenant's id in its tenant part, the rest kept."""
    assert token.startswith("jwr_") and token[36] == "_"
    return "jwr_" + tenant.replace("-", "") + token[36:]


def test_run_token_with_another_tenants_id_refused(a, b, rig, sink):
    server = rig["server"]
    ra, ta, _ = worker_run(a, sink)
    rb, tb, _ = worker_run(b, sink)
    wait_until(lambda: run_of(a, ra)["status"] == "running" and run_of(b, rb)["status"] == "running")
    # A's token with B's id: neither A's run nor B's
    for rid in (ra, rb):
        for kind in ("progress", "heartbeat", "complete", "fail"):
            r = server.request("POST", f"/v1/runs/{rid}/{kind}", {}, headers={"x-run-token": swap_tenant(ta, b.tenant_id)})
            assert r.status == 401, (rid, kind, r)
    # B's token for A's run, as it is and with A's id
    for tok in (tb, swap_tenant(tb, a.tenant_id)):
        r = server.request("POST", f"/v1/runs/{ra}/complete", {"result": {}}, headers={"x-run-token": tok})
        assert r.status == 401, r
    assert run_of(a, ra)["status"] == "running" and run_of(b, rb)["status"] == "running"
    # the real tokens still work
    assert server.request("POST", f"/v1/runs/{ra}/heartbeat", headers={"x-run-token": ta}).status == 200
    assert server.request("POST", f"/v1/runs/{rb}/heartbeat", headers={"x-run-token": tb}).status == 200


def test_run_token_of_an_earlier_attempt_refused(a, rig, sink):
    server = rig["server"]
    rid, t1, p = worker_run(a, sink, max_attempts=3, retry_delays_secs=[0])
    wait_until(lambda: run_of(a, rid)["attempts"] != [])
    assert server.request("POST", f"/v1/runs/{rid}/fail", {"error": "retry me"},
                          headers={"x-run-token": t1}).status == 200
    # attempt 2 goes to the endpoint with a token of its own
    sink.wait_for(lambda rs: len([x for x in rs if x["path"] == p]) >= 2)
    second = sink.to(p)[1]["headers"]
    assert second["x-jobwheel-attempt"] == "2"
    t2 = second["x-jobwheel-run-token"]
    assert t2 != t1
    wait_until(lambda: run_of(a, rid)["status"] == "running" and run_of(a, rid)["attempt"] == 2)
    # the worker of attempt 1 is fenced off
    for kind, body in (("progress", {"processed": 1}), ("heartbeat", {}), ("complete", {"result": {"stale": True}}),
                       ("fail", {"error": "stale"})):
        r = server.request("POST", f"/v1/runs/{rid}/{kind}", body, headers={"x-run-token": t1})
        assert r.status == 401, (kind, r)
    now = run_of(a, rid)
    assert now["status"] == "running" and now["attempt"] == 2 and now.get("result") is None, now
    # attempt 2's worker reports as usual
    r = server.request("POST", f"/v1/runs/{rid}/complete", {"result": {"ok": 2}}, headers={"x-run-token": t2})
    assert r.status == 200, r
    assert run_of(a, rid)["result"] == {"ok": 2}


# ---- hole 6: the run-token key after Redis loses its data -------------------------------

def accepted_across(src, dst, token, sink, timeout=10.0):
    """Within timeout, a run token that src hands out (a bulk trigger's
    answer, minted by src) is accepted by dst."""
    c = Client(src, token)
    p = "/" + uuid.uuid4().hex
    sink.script(p, 202, sticky=True)
    job = c.post("/v1/jobs", job_body(endpoint_url=sink.url(p), timeout_secs=600))
    assert job.status == 201, job
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        r = c.post(f"/v1/jobs/{job.json()['id']}/trigger/bulk", {"items": [{}]})
        assert r.status == 201, r
        item = r.json()["results"][0]
        wait_until(lambda: run_of(c, item["id"])["status"] == "running", what="the run to start")
        h = dst.request("POST", f"/v1/runs/{item['id']}/heartbeat", headers={"x-run-token": item["run_token"]})
        seen.append(h.status)
        if h.status == 200:
            return
        assert h.status == 401, h
        if time.monotonic() > deadline:
            raise AssertionError(f"{dst.port} kept refusing {src.port}'s tokens: {seen}")
        time.sleep(0.3)


def jwt_setup(kind, d):
    """Instance arguments and a token of a fresh tenant: an HMAC secret (the
    run-token key is derived from it) or an RS256 public key (the key lives
    in Redis)."""
    claims = claims_for(str(uuid.uuid4()))
    if kind == "hmac":
        return {"args": ["--allow-private-targets"]}, make_token(claims)
    d.mkdir(parents=True, exist_ok=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(d / "rsa.pem")], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(d / "rsa.pem"), "-pubout", "-out", str(d / "rsa.pub")],
                   check=True, capture_output=True)
    return ({"secret": None, "args": ["--allow-private-targets", "--jwt-algorithm", "RS256",
                                      "--jwt-public-key-file", str(d / "rsa.pub")]},
            make_token(claims, alg="RS256", key_path=d / "rsa.pem"))


@pytest.mark.parametrize("kind", ["hmac", "rsa"])
def test_token_key_agrees_between_instances_after_redis_loses_its_data(tmp_path, sink, kind):
    r = Redis(tmp_path / "redis")
    how, token = jwt_setup(kind, tmp_path / "keys")
    one = two = None
    try:
        one = Jobwheel(tmp_path / "one", redis_url=r.url, **how)
        two = Jobwheel(tmp_path / "two", redis_url=r.url, **how)
        accepted_across(one, two, token, sink, timeout=2)
        # FLUSHALL under both: with an HMAC secret the key never was in
        # Redis, so they agree at every moment; else within about a second
        # (each re-reads it every second, when its own timer says)
        assert r.cmd("FLUSHALL") == "OK"
        if kind == "hmac":
            end = time.monotonic() + 2
            while time.monotonic() < end:
                accepted_across(one, two, token, sink, timeout=0)
                accepted_across(two, one, token, sink, timeout=0)
        else:
            accepted_across(one, two, token, sink, timeout=10)
        # FLUSHALL, then an instance restarts: it makes a new key
        assert r.cmd("FLUSHALL") == "OK"
        two.stop()
        two.start()
        accepted_across(one, two, token, sink)
        accepted_across(two, one, token, sink)
        # Redis restarts without persistence, then an instance restarts
        r.stop()
        r.start()
        one.stop()
        one.start()
        two.wait_ready()
        accepted_across(two, one, token, sink)
        accepted_across(one, two, token, sink)
        assert one.stop() == 0 and two.stop() == 0
    finally:
        for server in (one, two):
            if server:
                server.stop()
        r.stop()


# ---- hole 7: special-purpose addresses as job endpoints ---------------------------------

@pytest.mark.parametrize("host,neighbour", [
    ("[64:ff9b:1::1]", "[64:ff9b::808:808]"),                     # local-use NAT64; well-known NAT64
    ("[64:ff9b:1:ffff:ffff:ffff:ffff:ffff]", "[64:ff9b::8.8.4.4]"),
    ("[2001::1]", "[2001:200::1]"),                               # Teredo
    ("[2001:0:4136:e378:8000:63bf:3fff:fdd2]", "[2001:4860:4860::8888]"),
    ("[2001:1::1]", "[2001:3::1]"),                               # PCP anycast; AMT
    ("[2001:2::1]", "[2001:4:112::1]"),                           # benchmarking; AS112
    ("[2001:10::1]", "[2001:20::1]"),                             # old ORCHID; ORCHIDv2
    ("[2001:1ff::1]", "[2001:200::1]"),                           # the rest of 2001::/23
    ("[3fff::1]", "[3fff:1000::1]"),                              # documentation (2024)
    ("[5f00::1]", "[2620:4f:8000::1]"),                           # SRv6 SIDs; AS112 delegation
    ("[::ffff:8.8.8.8]", "8.8.8.8"),                              # IPv4-mapped
    ("[::8.8.8.8]", "8.8.8.8"),                                   # IPv4-compatible
    ("[4000::1]", "[3fff:ffff::1]"),                              # outside 2000::/3
])
def test_endpoint_in_a_special_purpose_range_refused_at_creation(client, host, neighbour):
    for field in ("endpoint_url", "fallback_endpoint_url", "webhook_url"):
        r = client.post("/v1/jobs", job_body(**{field: f"http://{host}/hook"}))
        assert r.status == 400 and field in r.json()["errors"], (field, r)
    # a public address beside the range is no target of the guard
    r = client.post("/v1/jobs", job_body(endpoint_url=f"http://{neighbour}/hook"))
    assert r.status == 201, (neighbour, r)
