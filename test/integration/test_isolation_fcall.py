"""Issue 12, hole 1: a tenant's StoredProcedure job may call only Redis
functions outside jobwheel's own libraries — decided by asking Redis which
library a function belongs to (names compared without regard to case, as
Redis compares them), when the job is saved on any surface and again just
before each call — and jobwheel's own functions, called directly as the
attack did, refuse hostile arguments before they write anything."""
import time
import uuid

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, make_token, wait_until

INSTANCE = "it-fcall"
SHARDS = 16
# a user library whose function names look harmless but whose library is
# named as jobwheel's are (the operator's mistake, or a tenant's guess)
LOOKALIKES = {
    "jobwheel_lookalike": "innocent_fn",
    "JobWheel_Mixed": "other_fn",
}
USERLIB = """#!lua name=userlib
redis.register_function('benign_fn', function(keys, args) return 1 end)
"""


def library_code(name, fn, value="called"):
    return (f"#!lua name={name}\n"
            f"redis.register_function('{fn}', function(keys, args) "
            f"redis.call('SET', keys[1], '{value}') return 1 end)\n")


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    d = tmp_path_factory.mktemp("fcall")
    r = Redis(d / "redis")
    assert r.cmd("FUNCTION", "LOAD", "REPLACE", USERLIB) == "userlib"
    for lib, fn in LOOKALIKES.items():
        assert r.cmd("FUNCTION", "LOAD", "REPLACE", library_code(lib, fn)) == lib
    s = Jobwheel(d, redis_url=r.url, args=["--instance-id", INSTANCE, "--schedule-shards", str(SHARDS)])
    wait_until(lambda: all(r.cmd("GET", f"jw:{{s:{n}}}:lease") == INSTANCE for n in range(SHARDS)),
               what="the instance to own every shard")
    yield {"server": s, "redis": r}
    code = s.stop()
    r.stop()  # (stopped before the code is judged)
    assert code == 0


@pytest.fixture
def c(rig):
    tenant = str(uuid.uuid4())
    cl = Client(rig["server"], make_token(claims_for(tenant)))
    cl.tenant_id = tenant
    return cl


def libraries(r):
    """FUNCTION LIST through the test's own connection: {library: [function names]}."""
    out = {}
    for lib in r.cmd("FUNCTION", "LIST"):
        d = dict(zip(lib[::2], lib[1::2]))
        out[d["library_name"]] = [dict(zip(f[::2], f[1::2]))["name"] for f in d["functions"]]
    return out


def own_library(r):
    """jobwheel's library as loaded now: its name and its functions."""
    for name, fns in libraries(r).items():
        if f"{name}_sched_tick" in fns:
            return name, fns
    raise AssertionError("jobwheel's library is not loaded")


def mixed(s):
    return "".join(ch.upper() if i % 2 else ch.lower() for i, ch in enumerate(s))


def hostile_names(r, every=True):
    """Every spelling a hostile tenant would try for one of jobwheel's functions."""
    lib, fns = own_library(r)
    chosen = fns if every else [f"{lib}_sched_tick", f"{lib}_run_create", f"{lib}_lib_seen"]
    names = []
    for f in chosen:
        names += [f, f.upper(), mixed(f), f[:9].upper() + f[9:]]
    # without the build's tag
    names += ["jobwheel_sched_tick", "JOBWHEEL_sched_tick", "Jobwheel_Run_Create"]
    # functions of libraries named as jobwheel's, in any case
    for fn in LOOKALIKES.values():
        names += [fn, fn.upper(), mixed(fn)]
    return names


def sp_job(**fields):
    body = {"name": "sp-" + uuid.uuid4().hex[:10], "job_type": "StoredProcedure",
            "job_configuration": {"function": "benign_fn"}}
    body.update(fields)
    return body


def refused(r, field):
    assert r.status == 400, r
    p = r.json()
    assert field in p["errors"], p
    assert "jobwheel" in p["errors"][field][0].lower(), p
    return p


def created(r):
    assert r.status == 201, r
    return r.json()


# ---- (a) creation: every surface, every spelling ----------------------------------------------

def test_create_refuses_jobwheels_functions_in_every_spelling(c, rig):
    for name in hostile_names(rig["redis"]):
        refused(c.post("/v1/jobs", sp_job(job_configuration={"function": name})), "job_configuration.function")
    # nothing was stored
    assert c.get("/v1/jobs").json() == []
    # a function of another library, or of none yet, is the tenant's to call
    created(c.post("/v1/jobs", sp_job()))
    created(c.post("/v1/jobs", sp_job(job_configuration={"function": "not_loaded_yet"})))


def test_batch_refuses_and_stores_nothing(c, rig):
    for name in hostile_names(rig["redis"], every=False):
        ok = sp_job()
        r = c.post("/v1/jobs/batch", [ok, sp_job(job_configuration={"function": name})])
        refused(r, "[1].job_configuration.function")
        assert c.get(f"/v1/jobs/{ok['name']}").status == 404


def test_patch_refuses(c, rig):
    sp = created(c.post("/v1/jobs", sp_job()))
    http = created(c.post("/v1/jobs", {"name": "h-" + uuid.uuid4().hex[:8],
                                       "endpoint_url": "https://example.com/hook"}))
    for name in hostile_names(rig["redis"], every=False):
        refused(c.patch(f"/v1/jobs/{sp['id']}", {"job_configuration": {"function": name}}),
                "job_configuration.function")
        refused(c.patch(f"/v1/jobs/{http['id']}", {"job_type": "StoredProcedure", "endpoint_url": None,
                                                   "job_configuration": {"function": name}}),
                "job_configuration.function")
    assert c.get(f"/v1/jobs/{sp['id']}").json()["job_configuration"] == {"function": "benign_fn"}
    assert c.get(f"/v1/jobs/{http['id']}").json()["job_type"] == "HttpCall"
    # changing something else of a StoredProcedure job is still fine
    assert c.patch(f"/v1/jobs/{sp['id']}", {"description": "x"}).status == 200


def test_clone_refuses(c, rig):
    sp = created(c.post("/v1/jobs", sp_job()))
    for name in hostile_names(rig["redis"], every=False):
        refused(c.post(f"/v1/jobs/{sp['id']}/clone", {"name": "cl-" + uuid.uuid4().hex[:8],
                                                      "job_configuration": {"function": name}}),
                "job_configuration.function")
    assert len(c.get("/v1/jobs").json()) == 1


SCHED = "/api/v1/scheduler/jobs"


def seed_sp(function, **fields):
    body = {"name": "s-" + uuid.uuid4().hex[:10], "jobType": "StoredProcedure", "scheduleType": "Interval",
            "intervalSeconds": 3600, "jobConfiguration": {"function": function}}
    body.update(fields)
    return body


def test_scheduler_surface_refuses(c, rig):
    for name in hostile_names(rig["redis"], every=False):
        p = refused(c.post(SCHED, seed_sp(name)), "jobConfiguration.function")
        assert "jobConfiguration.function" in p["detail"], p
    job = c.post(SCHED, seed_sp("benign_fn"))
    assert job.status == 201, job
    jid = job.json()["id"]
    for name in hostile_names(rig["redis"], every=False):
        refused(c("PUT", f"{SCHED}/{jid}", seed_sp(name)), "jobConfiguration.function")
    assert c.get(f"{SCHED}/{jid}").json()["jobConfiguration"] == {"function": "benign_fn"}


# ---- (b) dispatch: the library changed after the job was saved --------------------------------

def run_to_end(c, job_id):
    r = c.post(f"/v1/jobs/{job_id}/trigger", {})
    assert r.status == 201, r
    rid = r.json()["id"]
    box = {}

    def done():
        box["r"] = c.get(f"/v1/runs/{rid}").json()
        return box["r"]["status"] in ("completed", "failed", "timed_out")
    wait_until(done, timeout=20, step=0.05, what=f"run {rid} to end")
    return box["r"]


@pytest.mark.parametrize("swapped", ["jobwheel_x0b", "JOBWHEEL_X0C", "JobWheel_x0d"])
def test_dispatch_refuses_a_function_that_became_jobwheels(c, rig, swapped):
    r = rig["redis"]
    fn = "fn_" + uuid.uuid4().hex[:8]
    lib = "user_" + uuid.uuid4().hex[:8]
    assert r.cmd("FUNCTION", "LOAD", library_code(lib, fn)) == lib
    proof = f"jwu:{{{c.tenant_id}}}:proof"
    job = created(c.post("/v1/jobs", sp_job(max_attempts=2, retry_delays_secs=[0],
                                            job_configuration={"function": fn, "keys": ["proof"]})))
    # it works while the function is the tenant's library's
    assert run_to_end(c, job["id"])["status"] == "completed"
    assert r.cmd("GET", proof) == "called"
    r.cmd("DEL", proof)
    # the same function (in another case) now defined by a library named as jobwheel's
    r.cmd("FUNCTION", "DELETE", lib)
    assert r.cmd("FUNCTION", "LOAD", library_code(swapped, fn.upper(), "pwned")) == swapped
    try:
        run = run_to_end(c, job["id"])
        assert run["status"] == "failed" and run["attempt"] == 2, run
        assert "jobwheel's own library" in run["error"] and swapped in run["error"], run
        # the function never ran
        assert r.cmd("GET", proof) is None
        # and the job cannot be saved again with it
        refused(c.post("/v1/jobs", sp_job(job_configuration={"function": fn})), "job_configuration.function")
        # but it can still be paused and deleted
        assert c.post(f"/v1/jobs/{job['id']}/pause").status == 200
        assert c.delete(f"/v1/jobs/{job['id']}").status in (200, 204)
    finally:
        r.cmd("FUNCTION", "DELETE", swapped)


# ---- (c) defence in depth: jobwheel's functions called directly --------------------------------

def fcall(r, script, key, *args):
    lib, _ = own_library(r)
    return r.cmd("FCALL", f"{lib}_{script}", 1, key, *args)


def refuses(r, script, key, *args):
    with pytest.raises(RuntimeError) as e:
        fcall(r, script, key, *args)
    msg = str(e.value)
    assert "jobwheel:" in msg, msg
    return msg


def now_ms():
    return int(time.time() * 1000)


def lease_keys(r):
    keys, cursor = [], "0"
    while True:
        cursor, batch = r.cmd("SCAN", cursor, "MATCH", "jw:{s:*}:lease", "COUNT", 1000)
        keys += batch
        if cursor == "0":
            return keys


def assert_shards_intact(r):
    keys = lease_keys(r)
    assert len(keys) <= SHARDS, len(keys)
    for k in keys:
        assert r.cmd("PTTL", k) <= 60000, k
    assert all(r.cmd("GET", f"jw:{{s:{n}}}:lease") == INSTANCE for n in range(SHARDS))
    members = r.cmd("ZRANGE", "jw:{sched}:instances", 0, -1)
    assert members == [INSTANCE], members


THIRTY_ONE_YEARS_MS = 31 * 365 * 86400 * 1000


def test_sched_tick_refuses_hostile_arguments(rig):
    r = rig["redis"]
    # the attack as found: every lease, for 31 years
    refuses(r, "sched_tick", "jw:{sched}", "evil", THIRTY_ONE_YEARS_MS, "0", SHARDS)
    # a huge shard count: ~300k keys and Redis blocked, once
    refuses(r, "sched_tick", "jw:{sched}", "evil", 3000, "0", 200000)
    refuses(r, "sched_tick", "jw:{sched}", "evil", 3000, "0", SHARDS + 1)
    refuses(r, "sched_tick", "jw:{sched}", "evil", 3000, "0", -5)
    # an instance id that is not one
    refuses(r, "sched_tick", "jw:{sched}", "evil\r\n" + "x" * 100000, 3000, "0", SHARDS)
    refuses(r, "sched_tick", "jw:{sched}", "", 3000, "0", SHARDS)
    # the key a StoredProcedure call would give it (keys are namespaced jwu:{tenant}:…)
    refuses(r, "sched_tick", "jwu:{%s}:x" % uuid.uuid4(), "evil", 3000, "0", SHARDS)
    # (a heartbeat from the far future or a staleness that never lets a dead
    # instance go cannot be asked for: the script keeps time by Redis's clock
    # and an instance is live exactly as long as its lease)
    assert_shards_intact(r)


def test_lib_seen_refuses_hostile_arguments(rig):
    r = rig["redis"]
    lib, _ = own_library(r)
    wait_until(lambda: r.cmd("HGET", "jw:{sched}:libraries", lib) is not None, what="lib_seen")
    # marking the running build's library unused for a day would get it deleted
    refuses(r, "lib_seen", "jw:{sched}", lib, 0, 1)
    refuses(r, "lib_seen", "jw:{sched}", lib, now_ms() + THIRTY_ONE_YEARS_MS, 86400000)
    refuses(r, "lib_seen", "jw:{sched}", "not a library", now_ms(), 86400000)
    refuses(r, "lib_seen", "jw:{sched}", lib, now_ms(), 1)
    seen = int(r.cmd("HGET", "jw:{sched}:libraries", lib))
    assert abs(seen - now_ms()) < 120000, seen
    assert r.cmd("HKEYS", "jw:{sched}:libraries") == [lib]


def test_every_function_refuses_a_key_of_another_shape(rig, c):
    """FCALL from a StoredProcedure job names keys jwu:{tenant}:…: none of
    jobwheel's functions takes one, nor a key of another function's shape."""
    r = rig["redis"]
    lib, fns = own_library(r)
    shard_scripts = {"sched_poll", "run_sweep", "run_promote", "shard_depth"}
    sched_scripts = {"sched_tick", "lib_seen", "cluster_status"}
    for f in fns:
        script = f[len(lib) + 1:]
        wrong = ["jwu:{%s}:x" % c.tenant_id, "jw:{%s}" % c.tenant_id.upper(), "jw:{../x}", "jw:{}",
                 "jw:{s:%d}" % SHARDS, "jw:{s:-1}", "jw:{s:1x}", "jw:{s:01}", "jw:{s: 1}"]
        if script in shard_scripts:
            wrong += ["jw:{sched}", "jw:{%s}" % c.tenant_id]
        elif script in sched_scripts:
            wrong += ["jw:{s:0}", "jw:{%s}" % c.tenant_id]
        else:
            wrong += ["jw:{sched}", "jw:{s:0}"]
        for key in wrong:
            msg = refuses(r, script, key, "x")
            assert "KEYS[1]" in msg, (script, key, msg)
        # and more than one key is not a call jobwheel makes
        with pytest.raises(RuntimeError):
            r.cmd("FCALL", f, 2, "jw:{sched}", "jw:{s:0}")
    assert_shards_intact(r)


def test_shard_scripts_refuse_hostile_arguments(rig):
    r = rig["redis"]
    refuses(r, "sched_poll", "jw:{s:0}", "full", "0", now_ms(), 10 ** 9)
    refuses(r, "sched_poll", "jw:{s:0}", "full", "0", "soon", 100)
    refuses(r, "run_sweep", "jw:{s:0}", now_ms(), 10 ** 9, 1000)
    refuses(r, "run_promote", "jw:{s:0}", now_ms(), 10 ** 9)
    refuses(r, "run_promote", "jw:{s:0}", "soon", 100)
    refuses(r, "run_promote", "jw:{s:%d}" % SHARDS, now_ms(), 100)
    refuses(r, "run_promote", "jw:{s:0}", now_ms(), 100, 10 ** 9, 250)  # ahead further than AHEAD_MAX
    refuses(r, "run_promote", "jw:{s:0}", now_ms(), 100, 2000, -1)
    refuses(r, "run_sweep", "jw:{s:0}", "now", 100, 1000)
    assert_shards_intact(r)


def test_a_nul_in_a_stored_value_cannot_split_the_packed_answer(rig, c):
    """run_create answers a run's fields as one NUL-joined string (a new
    run's: what it took from its job; an existing one's: all of them); a
    value holding a NUL (jobwheel's edge lets none through; a direct call
    may) comes back with a space there, and the pairs stay pairs."""
    r = rig["redis"]
    t = "jw:{%s}" % c.tenant_id
    job = c.post("/v1/jobs", {"name": f"nul-{uuid.uuid4().hex[:8]}", "endpoint_url": "https://e.com/"}).json()
    run_id = str(uuid.uuid4())
    later = now_ms() + 3600000

    def create(rid):
        answer = fcall(r, "run_create", t, 86400000, INSTANCE, 5000, 0, 0, 0, job["id"], now_ms(), "", 0, 1,
                       rid, "key-" + run_id, "", later, 1, "payload", '{"a":"x\x00y"}')
        parts = answer[0][3].split("\x00")
        assert len(parts) % 2 == 0, parts
        return answer[0][:2], dict(zip(parts[::2], parts[1::2]))
    kind, fields = create(run_id)
    assert kind == ["ok", "new"] and fields["job_id"] == job["id"] and fields["job_version"] == "1", fields
    assert "payload" not in fields and "status" not in fields
    kind, fields = create(str(uuid.uuid4()))  # the same idempotency key: the run made above, all of it
    assert kind == ["ok", "hit"], kind
    assert fields["payload"] == '{"a":"x y"}' and fields["id"] == run_id and fields["status"] == "delayed"
    # what is stored is untouched
    assert r.cmd("HGET", f"{t}:run:{run_id}", "payload") == '{"a":"x\x00y"}'


def test_run_create_checks_a_dedup_key(rig, c):
    """A trigger's payload digest names a key for a job that dedups: it must
    be 64 hex digits, and a call with another is refused whole."""
    r = rig["redis"]
    t = "jw:{%s}" % c.tenant_id
    run_id = str(uuid.uuid4())
    head = [86400000, INSTANCE, 5000, 0, 0, 0]
    job = c.post("/v1/jobs", {"name": f"dd-{uuid.uuid4().hex[:8]}", "endpoint_url": "https://e.com/",
                              "dedup_window_secs": 60}).json()
    later = now_ms() + 3600000
    for bad in ["a" * 63, "../" + "a" * 61, ":x}" + "a" * 61, "A" * 64 + "b"]:
        refuses(r, "run_create", t, *head, job["id"], now_ms(), "", 1, 1, run_id, "", bad, later, 0)
    assert r.cmd("EXISTS", f"{t}:run:{run_id}") == 0 and r.cmd("KEYS", f"{t}:job:{job['id']}:dedup:*") == []
    ok = fcall(r, "run_create", t, *head, job["id"], now_ms(), "", 1, 1, run_id, "", "ab" * 32, later, 0)
    assert ok[0][:2] == ["ok", "new"], ok
    assert r.cmd("GET", f"{t}:job:{job['id']}:dedup:{'ab' * 32}") == run_id


def test_tenant_scripts_refuse_hostile_arguments(rig, c):
    r = rig["redis"]
    t = "jw:{%s}" % c.tenant_id
    run_id, job_id = str(uuid.uuid4()), str(uuid.uuid4())
    member = "x" * 32
    # fire_claim: a shard out of range, counts that do not fit the arguments
    one = [job_id, member, now_ms(), 1, "", "", "-", "", 0, 1, run_id, now_ms(), ""]
    refuses(r, "fire_claim", t, 10 ** 6, now_ms(), 86400000, INSTANCE, 5000, 1, 1, *one)
    refuses(r, "fire_claim", t, 0, now_ms(), 86400000, INSTANCE, 5000, 1, 10 ** 9, *one)
    bad_runs = one[:9] + [10 ** 9] + one[10:]
    refuses(r, "fire_claim", t, 0, now_ms(), 86400000, INSTANCE, 5000, 1, 1, *bad_runs)
    refuses(r, "fire_claim", t, 0, now_ms(), 86400000, INSTANCE, THIRTY_ONE_YEARS_MS, 1, 1, *one)
    refuses(r, "fire_claim", t, 0, now_ms(), THIRTY_ONE_YEARS_MS * 200, INSTANCE, 5000, 1, 1, *one)
    refuses(r, "fire_claim", t, 0, now_ms(), 86400000, INSTANCE, 5000, 1, 1, "../x", *one[1:])
    # run_start / run_create: leases and ids
    refuses(r, "run_start", t, INSTANCE, now_ms(), THIRTY_ONE_YEARS_MS, run_id)
    refuses(r, "run_start", t, "evil\n", now_ms(), 5000, run_id)
    refuses(r, "run_start", t, INSTANCE, now_ms(), 5000, "../../x")
    head = [86400000, INSTANCE, 5000, 0, 0, 0]
    trig = [job_id, now_ms(), "", 1, 1]
    refuses(r, "run_create", t, 86400000, INSTANCE, THIRTY_ONE_YEARS_MS, 0, 0, 0, *trig, run_id, "", "", now_ms(), 0)
    refuses(r, "run_create", t, *head, *trig, run_id, "", "", now_ms(), 10 ** 9)
    refuses(r, "run_create", t, *head, *trig, "../x", "", "", now_ms(), 0)
    refuses(r, "run_create", t, *head, *trig, run_id, "k" * 100000, "", now_ms(), 0)
    refuses(r, "run_create", t, *head, job_id, now_ms(), "", 1, 10 ** 9, run_id, "", "", now_ms(), 0)
    refuses(r, "run_create", t, *head, job_id, now_ms(), "", 1, 2, run_id, "", "", now_ms(), 0)
    refuses(r, "run_create", t, *head, job_id, now_ms(), "zz", 1, 1, run_id, "", "", now_ms(), 0)
    # run_finish: a group that does not fit, a bad run id
    refuses(r, "run_finish", t, 3, run_id, 1, INSTANCE)
    refuses(r, "run_finish", t, 8, "../x", 1, INSTANCE, "", now_ms(), "failed", "", "")
    refuses(r, "run_finish", t, 9, run_id, 1, INSTANCE, "", now_ms(), "failed", "", "", "odd")
    # run_renew: a lease beyond the longest, a pair that does not fit, a bad run id
    refuses(r, "run_renew", t, INSTANCE, now_ms(), now_ms() + THIRTY_ONE_YEARS_MS, run_id, 1)
    refuses(r, "run_renew", t, INSTANCE, now_ms(), now_ms() + 5000, run_id)
    refuses(r, "run_renew", t, INSTANCE, now_ms(), now_ms() + 5000, "../x", 1)
    refuses(r, "run_renew", t, "evil\n", now_ms(), now_ms() + 5000, run_id, 1)
    # job_save: an id that is not one, a firing that is not a time
    refuses(r, "job_save", t, "../x", 0, '{"n":"a"}', "", "")
    refuses(r, "job_save", t, job_id, 0, '{"n":"a"}', "", "soon")
    refuses(r, "job_save", t, job_id, 0, '{"n":"a"}', "")
    # the rest: ids that feed keys, limits that feed loops
    refuses(r, "run_cancel", t, "../x", now_ms())
    refuses(r, "run_report", t, "../x", "heartbeat", now_ms(), "")
    refuses(r, "wf_trigger", t, "wf", "../x", now_ms(), 86400000, "me")
    refuses(r, "wf_save", t, "create", "../x", "wf", '{"steps":[]}')
    refuses(r, "run_get", t, run_id, "../x")
    refuses(r, "run_notice", t, "../x")
    refuses(r, "wf_run_get", t, "wf", "../x")
    refuses(r, "team_runs", t, "get", "../x")
    refuses(r, "job_list", t, "", "", 10 ** 9, "", "", "", "", "", "")
    refuses(r, "run_list", t, "", "", "", 10 ** 9, "")
    refuses(r, "team_runs", t, "list", "", "", 10 ** 9, "", "", "", "", "")
    refuses(r, "job_health", t, job_id, 0, 10 ** 9)
    refuses(r, "run_page", t, job_id, 1, 10 ** 9)
    refuses(r, "job_query", t, 1, 10 ** 9, "", "", "", "", "name", "asc", "")
    refuses(r, "builtin", t, "tokenExpiry", "", "", now_ms(), run_id, THIRTY_ONE_YEARS_MS * 200)
    # none of it wrote anything of the tenant's, nor touched a shard
    found, cursor = [], "0"
    while True:
        cursor, batch = r.cmd("SCAN", cursor, "MATCH", "*%s*" % c.tenant_id, "COUNT", 1000)
        found += batch
        if cursor == "0":
            break
    assert found == []
    assert r.cmd("EXISTS", "jw:{s:1000000}:due", "jw:{s:1000000}:ready") == 0
    assert_shards_intact(r)


def test_run_start_refuses_a_31_year_lease_on_a_real_run(rig, c):
    r = rig["redis"]
    job = created(c.post("/v1/jobs", {"name": "h-" + uuid.uuid4().hex[:8],
                                      "endpoint_url": "https://example.com/hook"}))
    run = c.post(f"/v1/jobs/{job['id']}/trigger", {"delay_secs": 3600})
    assert run.status == 201, run
    rid = run.json()["id"]
    assert c.get(f"/v1/runs/{rid}").json()["status"] == "delayed"
    later = now_ms() + 7200 * 1000
    refuses(r, "run_start", "jw:{%s}" % c.tenant_id, "evil", later, THIRTY_ONE_YEARS_MS, rid)
    assert c.get(f"/v1/runs/{rid}").json()["status"] == "delayed"
    for n in range(SHARDS):
        assert r.cmd("ZCARD", f"jw:{{s:{n}}}:running") == 0


def test_run_finish_refuses_a_count_that_would_loop_forever(rig, c):
    """A negative count of a run's arguments made run_finish loop without end,
    holding Redis for every tenant (until FUNCTION KILL)."""
    r = rig["redis"]
    try:
        refuses(r, "run_finish", "jw:{%s}" % c.tenant_id, -1, str(uuid.uuid4()))
    finally:
        try:
            r.cmd("FUNCTION", "KILL")  # only ever needed before the fix
        except RuntimeError:
            pass
