"""Seed 002, the native job catalogue: every documented request, every
field of the job schema, validation, versions, clone, dependencies,
pagination and tenant isolation."""
import re
import uuid

import pytest

from conftest import Client, claims_for, job_body, make_token

JOB_FIELDS = [
    "id", "project_id", "group_id", "name", "slug", "description", "cron", "payload_schema",
    "tags", "endpoint_url", "fallback_endpoint_url", "max_attempts", "timeout_secs",
    "max_concurrency", "execution_window_cron", "timezone", "rate_limit_max",
    "rate_limit_window_secs", "max_concurrency_per_key", "rate_limit_keys",
    "default_run_metadata", "dedup_window_secs", "enabled", "webhook_url", "webhook_secret",
    "run_ttl_secs", "retry_strategy", "retry_delays_secs", "environment_id", "version",
    "version_id", "version_policy", "backwards_compatible", "created_by", "updated_by",
    "created_at", "updated_at",
]
VERSION_FIELDS = [
    "id", "job_id", "version", "name", "slug", "description", "cron", "payload_schema", "tags",
    "endpoint_url", "fallback_endpoint_url", "max_attempts", "timeout_secs", "webhook_url",
    "webhook_secret", "run_ttl_secs", "created_at",
]
DEP_FIELDS = ["id", "job_id", "depends_on_job_id", "condition", "created_at"]
# jobwheel's own fields follow seed 002's (SPEC §3, §5)
EXTRA_FIELDS = ["interval_seconds", "start_at", "run_at", "exclusions", "misfire_policy", "misfire_max_runs",
                "catchup_window_secs", "paused", "deleted_at", "job_type", "job_configuration", "system", "next_run_at"]
ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")

FULL = {
    "project_id": "proj-7",
    "group_id": "billing",
    "name": "Nightly invoices",
    "slug": "nightly-invoices",
    "description": "Sends the invoices.\nEvery night.",
    "cron": "0 2 * * *",
    "payload_schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": []},
    "tags": {"team": "billing", "tier": "gold"},
    "endpoint_url": "https://billing.example.com/run",
    "fallback_endpoint_url": "https://fallback.example.com/run",
    "max_attempts": 5,
    "timeout_secs": 120,
    "max_concurrency": 2,
    "execution_window_cron": "* 0-6 * * *",
    "timezone": "Europe/Berlin",
    "rate_limit_max": 10,
    "rate_limit_window_secs": 60,
    "max_concurrency_per_key": 1,
    "rate_limit_keys": [{"name": "customer", "max": 3, "window_secs": 30}],
    "default_run_metadata": {"source": "cron"},
    "dedup_window_secs": 300,
    "enabled": False,
    "webhook_url": "https://hooks.example.com/done",
    "webhook_secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "run_ttl_secs": 3600,
    "retry_strategy": "linear",
    "retry_delays_secs": [1, 5, 30],
    "environment_id": "prod",
    "version_policy": "pin",
    "backwards_compatible": False,
}


def assert_problem(r, status, field=None):
    assert r.status == status, r
    assert r.headers["content-type"] == "application/problem+json"
    p = r.json()
    assert p["status"] == status
    assert p["detail"]
    if field is not None:
        assert field in p["errors"], p
    return p


# ---- the documented examples, as written ------------------------------------------

def test_seed_create_example_with_placeholder_url_is_a_precise_400(client):
    r = client.post("/v1/jobs", {"project_id": "string", "name": "string", "slug": "string",
                                 "endpoint_url": "string"})
    p = assert_problem(r, 400, "endpoint_url")
    assert "http" in p["detail"]


def test_seed_create_example_returns_every_documented_field(client):
    r = client.post("/v1/jobs", {"project_id": "string", "name": "string", "slug": "string",
                                 "endpoint_url": "https://example.com/run"})
    assert r.status == 201, r
    job = r.json()
    assert list(job) == JOB_FIELDS + EXTRA_FIELDS
    assert r.headers["location"] == f"/v1/jobs/{job['id']}"
    uuid.UUID(job["id"])
    uuid.UUID(job["version_id"])
    assert job["project_id"] == "string" and job["name"] == "string" and job["slug"] == "string"
    assert job["version"] == 1 and job["enabled"] is True
    assert job["max_attempts"] == 3 and job["timeout_secs"] == 60 and job["timezone"] == "UTC"
    assert job["retry_strategy"] == "exponential" and job["version_policy"] == "latest"
    assert job["created_by"] == "user:tester" == job["updated_by"]
    assert ISO_MS.match(job["created_at"]) and job["created_at"] == job["updated_at"]


def test_seed_list_example_filters_by_project(client):
    a = client.post("/v1/jobs", job_body(project_id="string")).json()
    client.post("/v1/jobs", job_body(project_id="other"))
    r = client.get("/v1/jobs?project_id=string")
    assert r.status == 200
    assert [j["id"] for j in r.json()] == [a["id"]]


def test_seed_batch_example(client):
    r = client.post("/v1/jobs/batch", [{"project_id": "string", "name": "string", "slug": "string",
                                        "endpoint_url": "https://example.com/x"}])
    assert r.status == 201, r
    jobs = r.json()
    assert isinstance(jobs, list) and len(jobs) == 1 and list(jobs[0]) == JOB_FIELDS + EXTRA_FIELDS


def test_seed_batch_enable_disable_examples(client):
    # the documented body is {}: it names no jobs, and says so
    assert_problem(client.post("/v1/jobs/batch-enable", {}), 400, "ids")
    assert_problem(client.post("/v1/jobs/batch-disable", {}), 400, "ids")
    a = client.post("/v1/jobs", job_body()).json()
    b = client.post("/v1/jobs", job_body()).json()
    r = client.post("/v1/jobs/batch-disable", {"ids": [a["id"], b["name"]]})
    assert r.status == 200, r
    assert r.json()["updated"] == 2
    assert all(j["enabled"] is False and j["version"] == 2 for j in r.json()["jobs"])
    assert client.get(f"/v1/jobs/{a['id']}").json()["enabled"] is False
    r = client.post("/v1/jobs/batch-enable", {"ids": [a["id"]]})
    assert r.json()["updated"] == 1
    assert client.get(f"/v1/jobs/{a['id']}").json()["enabled"] is True
    # already enabled: nothing changes, no new version
    r = client.post("/v1/jobs/batch-enable", {"ids": [a["id"]]})
    assert r.json()["updated"] == 0
    assert client.get(f"/v1/jobs/{a['id']}").json()["version"] == 3


def test_batch_enable_is_all_or_nothing(client):
    a = client.post("/v1/jobs", job_body()).json()
    r = client.post("/v1/jobs/batch-disable", {"ids": [a["id"], str(uuid.uuid4())]})
    assert_problem(r, 404)
    assert client.get(f"/v1/jobs/{a['id']}").json()["enabled"] is True


def test_seed_get_patch_delete_examples_by_name(client):
    """The examples address /v1/jobs/string: jobs are addressable by name."""
    assert_problem(client.get("/v1/jobs/string"), 404)
    created = client.post("/v1/jobs", job_body(name="string")).json()
    r = client.get("/v1/jobs/string")
    assert r.status == 200 and r.json() == created
    r = client.patch("/v1/jobs/string", {})
    assert r.status == 200 and r.json()["version"] == 1  # nothing changed, no version
    r = client.delete("/v1/jobs/string")
    assert r.status == 204 and r.body == b""
    assert_problem(client.get(f"/v1/jobs/{created['id']}"), 404)


def test_seed_versions_examples(client):
    job = client.post("/v1/jobs", job_body(name="string")).json()
    client.patch("/v1/jobs/string", {"description": "second"})
    r = client.get("/v1/jobs/string/versions")
    assert r.status == 200
    versions = r.json()
    assert [v["version"] for v in versions] == [2, 1]
    for v in versions:
        assert list(v)[:len(VERSION_FIELDS) - 1] == VERSION_FIELDS[:-1]
        assert set(VERSION_FIELDS) <= set(v)
        assert v["job_id"] == job["id"]
    assert versions[1]["id"] == job["version_id"] and versions[1]["description"] is None
    assert versions[0]["description"] == "second"
    r = client.get(f"/v1/jobs/string/versions/{job['version_id']}")
    assert r.status == 200 and r.json()["version"] == 1
    assert client.get("/v1/jobs/string/versions/2").json()["description"] == "second"
    assert_problem(client.get("/v1/jobs/string/versions/string"), 404)
    assert_problem(client.get(f"/v1/jobs/string/versions/{uuid.uuid4()}"), 404)


def test_seed_clone_example(client):
    src = client.post("/v1/jobs", job_body(name="string", cron="*/5 * * * *")).json()
    r = client.post("/v1/jobs/string/clone", {})
    assert r.status == 201, r
    c = r.json()
    assert c["id"] != src["id"] and c["name"] == "string (copy)" and c["slug"] == "string-copy"
    assert c["cron"] == src["cron"] and c["endpoint_url"] == src["endpoint_url"]
    assert c["version"] == 1
    r = client.post("/v1/jobs/string/clone", {"name": "second copy", "enabled": False})
    assert r.status == 201 and r.json()["enabled"] is False and r.json()["slug"] == "second-copy"
    # the default name is taken now
    assert_problem(client.post("/v1/jobs/string/clone", {}), 409, "name")
    assert_problem(client.post(f"/v1/jobs/{uuid.uuid4()}/clone", {}), 404)


def test_seed_dependency_examples(client):
    assert_problem(client.post("/v1/jobs/string/dependencies", {}), 400, "depends_on_job_id")
    a = client.post("/v1/jobs", job_body(name="string")).json()
    b = client.post("/v1/jobs", job_body(name="upstream")).json()
    assert_problem(client.post("/v1/jobs/string/dependencies", {}), 400, "depends_on_job_id")
    r = client.post("/v1/jobs/string/dependencies", {"depends_on_job_id": b["id"]})
    assert r.status == 201, r
    dep = r.json()
    assert list(dep) == DEP_FIELDS
    assert dep["job_id"] == a["id"] and dep["depends_on_job_id"] == b["id"]
    assert dep["condition"] == "AllSucceeded"
    r = client.get("/v1/jobs/string/dependencies")
    assert r.status == 200 and r.json() == [dep]
    assert client.delete("/v1/jobs/string/dependencies/string").status == 404
    r = client.delete(f"/v1/jobs/string/dependencies/{dep['id']}")
    assert r.status == 204
    assert client.get("/v1/jobs/string/dependencies").json() == []


# ---- full schema round trip ----------------------------------------------------------

def test_every_field_is_stored_and_returned(client):
    r = client.post("/v1/jobs", FULL)
    assert r.status == 201, r
    job = r.json()
    for k, v in FULL.items():
        if k != "webhook_secret":
            assert job[k] == v, k
    # a secret the client gave is never echoed
    assert job["webhook_secret"] != FULL["webhook_secret"]
    assert job["webhook_secret"].startswith("whsec_****")
    got = client.get(f"/v1/jobs/{job['id']}").json()
    assert got == job
    listed = client.get("/v1/jobs").json()
    assert listed == [job]


def test_generated_webhook_secret_is_shown_once(client):
    r = client.post("/v1/jobs", job_body(webhook_url="https://hooks.example.com/x"))
    assert r.status == 201
    secret = r.json()["webhook_secret"]
    assert re.match(r"^whsec_[A-Za-z0-9+/]{43}=$", secret), secret
    again = client.get(f"/v1/jobs/{r.json()['id']}").json()["webhook_secret"]
    assert again != secret and again.startswith("whsec_****") and again.endswith(secret[-4:])


def test_secret_never_in_versions_or_lists(client):
    job = client.post("/v1/jobs", dict(job_body(), webhook_secret=FULL["webhook_secret"])).json()
    client.patch(f"/v1/jobs/{job['id']}", {"description": "x"})
    blob = client.get(f"/v1/jobs/{job['id']}/versions").body + client.get("/v1/jobs").body
    assert FULL["webhook_secret"].encode() not in blob
    assert FULL["webhook_secret"][6:].encode() not in blob


# ---- validation: one precise 400 per mistake, nothing stored ---------------------------------

BAD = [
    ({"name": ""}, "name"),
    ({"name": 5}, "name"),
    ({"name": "a\u0001b"}, "name"),
    ({"name": str(uuid.uuid4())}, "name"),
    ({"slug": "Has Caps"}, "slug"),
    ({"endpoint_url": "ftp://example.com/x"}, "endpoint_url"),
    ({"endpoint_url": "https://user:pw@example.com/x"}, "endpoint_url"),
    ({"endpoint_url": "http://127.0.0.1:8080/x"}, "endpoint_url"),
    ({"endpoint_url": "http://localhost/x"}, "endpoint_url"),
    ({"endpoint_url": "http://169.254.169.254/latest"}, "endpoint_url"),
    ({"endpoint_url": "http://[::1]/x"}, "endpoint_url"),
    ({"endpoint_url": "http://2130706433/x"}, "endpoint_url"),
    ({"fallback_endpoint_url": "http://10.0.0.5/x"}, "fallback_endpoint_url"),
    ({"webhook_url": "not a url"}, "webhook_url"),
    ({"webhook_secret": "secret"}, "webhook_secret"),
    ({"webhook_secret": "whsec_c2hvcnQ="}, "webhook_secret"),
    ({"cron": "61 * * * *"}, "cron"),
    ({"cron": "* * *"}, "cron"),
    ({"cron": "0 0 30 2 *"}, "cron"),
    ({"execution_window_cron": "nope"}, "execution_window_cron"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": "../../etc/passwd"}, "timezone"),
    ({"max_attempts": 0}, "max_attempts"),
    ({"max_attempts": 101}, "max_attempts"),
    ({"max_attempts": 2.5}, "max_attempts"),
    ({"max_attempts": "3"}, "max_attempts"),
    ({"timeout_secs": 99999999999999999999}, "timeout_secs"),
    ({"max_concurrency": -1}, "max_concurrency"),
    ({"enabled": "yes"}, "enabled"),
    ({"retry_strategy": "random"}, "retry_strategy"),
    ({"version_policy": "always"}, "version_policy"),
    ({"tags": ["a"]}, "tags"),
    ({"tags": {"k": 1}}, "tags.k"),
    ({"tags": {"bad key": "v"}}, "tags.bad key"),
    ({"default_run_metadata": {"k": "x" * 300}}, "default_run_metadata.k"),
    ({"payload_schema": [1, 2]}, "payload_schema"),
    ({"rate_limit_max": 5}, "rate_limit_window_secs"),
    ({"rate_limit_keys": [{"name": "a", "max": 1}]}, "rate_limit_keys[0].window_secs"),
    ({"rate_limit_keys": [{"name": "a", "max": 1, "window_secs": 1, "x": 1}]}, "rate_limit_keys[0].x"),
    ({"rate_limit_keys": [{"name": "a", "max": 1, "window_secs": 1},
                          {"name": "a", "max": 2, "window_secs": 1}]}, "rate_limit_keys[1].name"),
    ({"retry_delays_secs": [1, -1]}, "retry_delays_secs[1]"),
    ({"retry_delays_secs": "1,2"}, "retry_delays_secs"),
    ({"unknown_field": 1}, "unknown_field"),
]


@pytest.mark.parametrize("patch,field", BAD, ids=[f for _, f in BAD])
def test_invalid_field_is_a_400_naming_it(client, patch, field):
    r = client.post("/v1/jobs", dict(job_body(), **patch))
    assert_problem(r, 400, field)
    assert client.get("/v1/jobs").json() == []


@pytest.mark.parametrize("text", ["1e400", "3.0", "9223372036854775808", "-0.5", "0x10"])
def test_numbers_are_checked_from_their_text(client, text):
    body = ('{"name":"n","endpoint_url":"https://e.com/","max_attempts":%s}' % text).encode()
    r = client.post("/v1/jobs", body)
    assert r.status == 400, r
    if text != "0x10":  # not JSON at all
        assert "max_attempts" in r.json()["errors"]


def test_every_bad_field_is_reported_at_once(client):
    body = {"name": "", "endpoint_url": "ftp://x", "cron": "99 * * * *", "timezone": "Mars/Base",
            "max_attempts": -1, "misfire_policy": "never", "bogus": 1}
    p = assert_problem(client.post("/v1/jobs", body), 400)
    assert set(p["errors"]) == {"name", "endpoint_url", "cron", "timezone", "max_attempts",
                                "misfire_policy", "bogus"}, p
    assert all(len(v) == 1 and v[0] for v in p["errors"].values()), p
    assert p["detail"].startswith(p["errors"]["name"][0]) and "6 more" in p["detail"], p
    # a whole-job rule and a field's own rule together; one field is named once
    p = assert_problem(client.post("/v1/jobs", {"endpoint_url": 5, "rate_limit_max": 3}), 400)
    assert set(p["errors"]) == {"endpoint_url", "name", "rate_limit_window_secs"}, p
    assert "must be a string" in p["errors"]["endpoint_url"][0], p
    # the same on an update, and in a bulk create each with its index
    job = client.post("/v1/jobs", job_body()).json()
    p = assert_problem(client.patch(f"/v1/jobs/{job['id']}", {"cron": "x", "timezone": "Nowhere/At"}), 400)
    assert set(p["errors"]) == {"cron", "timezone"}, p
    assert client.get(f"/v1/jobs/{job['id']}").json() == job
    p = assert_problem(client.post("/v1/jobs/batch", [job_body(), job_body(slug="Not A Slug", max_attempts=0)]), 400)
    assert set(p["errors"]) == {"[1].slug", "[1].max_attempts"}, p


def test_required_fields(client):
    assert_problem(client.post("/v1/jobs", {"endpoint_url": "https://e.com/"}), 400, "name")
    assert_problem(client.post("/v1/jobs", {"name": "x"}), 400, "endpoint_url")
    assert_problem(client.post("/v1/jobs", {"name": None, "endpoint_url": "https://e.com/"}), 400, "name")


def test_body_must_be_an_object(client):
    assert_problem(client.post("/v1/jobs", [job_body()]), 400)
    assert_problem(client.post("/v1/jobs", "null"), 400)
    assert_problem(client.post("/v1/jobs", b""), 400)


def test_server_fields_in_input_are_ignored(client):
    r = client.post("/v1/jobs", dict(job_body(), id="x", version=99, created_at="1999-01-01T00:00:00Z",
                                     created_by="mallory"))
    assert r.status == 201
    j = r.json()
    assert j["id"] != "x" and j["version"] == 1 and j["created_by"] == "user:tester"


def test_batch_is_all_or_nothing(client):
    good = job_body()
    r = client.post("/v1/jobs/batch", [good, dict(job_body(), max_attempts=0)])
    assert_problem(r, 400, "[1].max_attempts")
    assert client.get("/v1/jobs").json() == []
    r = client.post("/v1/jobs/batch", [good, job_body(name=good["name"])])
    assert_problem(r, 409, "name")
    assert client.get("/v1/jobs").json() == []
    assert_problem(client.post("/v1/jobs/batch", []), 400)
    assert_problem(client.post("/v1/jobs/batch", job_body()), 400)


def test_batch_of_many(client):
    jobs = [job_body(name=f"bulk-{i}", cron="*/5 * * * *") for i in range(500)]
    r = client.post("/v1/jobs/batch", jobs)
    assert r.status == 201
    assert len(r.json()) == 500
    names = set()
    cursor = None
    while True:
        q = "/v1/jobs?limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(q)
        names.update(j["name"] for j in page.json())
        if page.headers["x-has-more"] == "false":
            break
        cursor = page.headers["x-next-cursor"]
    assert names == {f"bulk-{i}" for i in range(500)}


def test_hard_delete_of_a_soft_deleted_job_keeps_its_successors_name(client):
    old = client.post("/v1/jobs", job_body(name="reused", slug="reused")).json()
    assert client.delete(f"/v1/jobs/{old['id']}?soft=true").status == 204
    new = client.post("/v1/jobs", job_body(name="reused", slug="reused"))
    assert new.status == 201, new
    assert client.delete(f"/v1/jobs/{old['id']}").status == 204
    assert client.get("/v1/jobs/reused").json()["id"] == new.json()["id"]
    assert_problem(client.post("/v1/jobs", job_body(name="reused")), 409, "name")
    assert_problem(client.post("/v1/jobs", job_body(name="other", slug="reused")), 409, "slug")


# ---- conflicts ------------------------------------------------------------------------------

def test_names_stay_unique_and_found_as_the_index_grows(client):
    """The names index splits its buckets as a tenant's jobs grow (48 names
    a bucket): every name is still found, still taken, and freed by delete."""
    ids = {}
    for k in range(0, 3000, 1000):
        r = client.post("/v1/jobs/batch", [{"name": f"grow-{i}", "endpoint_url": "https://example.com/h"}
                                           for i in range(k, k + 1000)])
        assert r.status == 201, r
        ids.update({j["name"]: j["id"] for j in r.json()})
    names = sorted(ids)
    for name in names[::10]:
        assert client.get(f"/v1/jobs/{name}").json()["id"] == ids[name]
    for name in names[5::60]:
        assert_problem(client.post("/v1/jobs", job_body(name=name)), 409, "name")
    for name in names[7::100]:
        assert client.delete(f"/v1/jobs/{name}").status == 204
        assert client.post("/v1/jobs", job_body(name=name)).status == 201


def test_a_slug_that_is_the_name_is_taken_like_any_other(client):
    """A job without project whose slug is its name holds that slug too,
    also after a rename, until it is deleted."""
    a = client.post("/v1/jobs", job_body(name="nightly-sync", project_id=None)).json()
    assert a["slug"] == "nightly-sync" and a["project_id"] is None
    assert_problem(client.post("/v1/jobs", job_body(name="Nightly Sync", project_id=None)), 409, "slug")
    assert client.post("/v1/jobs", job_body(name="Nightly Sync")).status == 201  # in a project: free
    r = client.patch(f"/v1/jobs/{a['id']}", {"name": "renamed"})
    assert r.status == 200 and r.json()["slug"] == "nightly-sync"
    assert client.get("/v1/jobs/renamed").json()["id"] == a["id"]
    assert client.get("/v1/jobs/nightly-sync").status == 404
    assert_problem(client.post("/v1/jobs", job_body(name="nightly sync!", project_id=None)), 409, "slug")
    assert client.delete(f"/v1/jobs/{a['id']}").status == 204
    b = client.post("/v1/jobs", job_body(name="nightly-sync", project_id=None))
    assert b.status == 201 and b.json()["slug"] == "nightly-sync"


def test_duplicate_name_and_slug_are_409(client):
    a = client.post("/v1/jobs", job_body(name="unique")).json()
    assert_problem(client.post("/v1/jobs", job_body(name="unique")), 409, "name")
    assert_problem(client.post("/v1/jobs", job_body(name="other", slug=a["slug"])), 409, "slug")
    # a slug is unique per project only
    r = client.post("/v1/jobs", job_body(name="third", slug=a["slug"], project_id="another"))
    assert r.status == 201
    b = client.post("/v1/jobs", job_body(name="fourth")).json()
    assert_problem(client.patch(f"/v1/jobs/{b['id']}", {"name": "unique"}), 409, "name")


def test_renaming_frees_the_old_name(client):
    a = client.post("/v1/jobs", job_body(name="before")).json()
    r = client.patch(f"/v1/jobs/{a['id']}", {"name": "after"})
    assert r.status == 200 and r.json()["name"] == "after"
    # the slug is a stable identifier: it does not follow the name
    assert r.json()["slug"] == "before"
    assert_problem(client.post("/v1/jobs", job_body(name="before")), 409, "slug")
    assert client.post("/v1/jobs", job_body(name="before", slug="before-2")).status == 201
    assert client.get("/v1/jobs/after").json()["id"] == a["id"]


# ---- PATCH ---------------------------------------------------------------------------------

def test_patch_changes_only_given_fields_and_versions(client):
    a = client.post("/v1/jobs", dict(FULL, name="p1", slug="p1")).json()
    r = client.patch(f"/v1/jobs/{a['id']}", {"max_attempts": 7, "tags": {"x": "y"}})
    assert r.status == 200, r
    b = r.json()
    assert b["max_attempts"] == 7 and b["tags"] == {"x": "y"}
    assert b["version"] == 2 and b["version_id"] != a["version_id"]
    assert b["created_at"] == a["created_at"] and b["updated_at"] >= a["updated_at"]
    for k in FULL:
        if k not in ("max_attempts", "tags", "name", "slug"):
            assert b[k] == a[k], k
    # null clears optional fields and resets defaulted ones
    r = client.patch(f"/v1/jobs/{a['id']}", {"description": None, "max_attempts": None, "cron": None})
    c = r.json()
    assert c["description"] is None and c["max_attempts"] == 3 and c["cron"] is None and c["version"] == 3


def test_patch_validates_the_result(client):
    a = client.post("/v1/jobs", job_body()).json()
    assert_problem(client.patch(f"/v1/jobs/{a['id']}", {"rate_limit_max": 3}), 400, "rate_limit_window_secs")
    assert_problem(client.patch(f"/v1/jobs/{a['id']}", {"endpoint_url": None}), 400, "endpoint_url")
    assert_problem(client.patch(f"/v1/jobs/{a['id']}", {"timezone": "Nowhere/City"}), 400, "timezone")
    assert_problem(client.patch(f"/v1/jobs/{a['id']}", [1]), 400)
    assert client.get(f"/v1/jobs/{a['id']}").json()["version"] == 1
    assert_problem(client.patch(f"/v1/jobs/{uuid.uuid4()}", {"name": "x"}), 404)


def test_a_job_with_deep_values_can_be_changed_after_creation(client):
    # A payload_schema 20 levels deep fits the default json_max_depth (32),
    # but stored jobs were read back at depth 16: the job was created (201)
    # and every later change answered 500 "the stored job is damaged".
    deep = 1
    for _ in range(20):
        deep = {"a": deep}
    a = client.post("/v1/jobs", job_body(payload_schema=deep, cron="0 3 * * *")).json()
    r = client.patch(f"/v1/jobs/{a['id']}", {"description": "changed"})
    assert r.status == 200, r
    assert r.json()["payload_schema"] == deep and r.json()["version"] == 2
    assert client.post(f"/v1/jobs/{a['id']}/pause", {}).status == 200
    assert client.get(f"/v1/jobs/{a['id']}/versions").status == 200


def test_patch_secret_rotation(client):
    a = client.post("/v1/jobs", job_body(webhook_url="https://h.example.com/")).json()
    r = client.patch(f"/v1/jobs/{a['id']}", {"webhook_secret": FULL["webhook_secret"]})
    assert r.status == 200 and r.json()["version"] == 2
    assert r.json()["webhook_secret"].endswith(FULL["webhook_secret"][-4:])
    assert FULL["webhook_secret"] not in r.body.decode()


def test_concurrent_patches_each_make_a_version(server, client):
    import threading
    a = client.post("/v1/jobs", job_body()).json()
    results = []

    def worker(i):
        results.append(client.patch(f"/v1/jobs/{a['id']}", {"description": f"d{i}"}).status)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200] * 10
    assert client.get(f"/v1/jobs/{a['id']}").json()["version"] == 11
    assert len(client.get(f"/v1/jobs/{a['id']}/versions").json()) == 11


# ---- list --------------------------------------------------------------------------------------

def test_list_filters_and_order(client):
    a = client.post("/v1/jobs", job_body(group_id="g1", tags={"env": "prod"})).json()
    b = client.post("/v1/jobs", job_body(group_id="g2", tags={"env": "dev"}, enabled=False)).json()
    c = client.post("/v1/jobs", job_body(group_id="g1", project_id="proj-2")).json()
    ids = lambda q: [j["id"] for j in client.get("/v1/jobs" + q).json()]
    assert ids("") == [c["id"], b["id"], a["id"]]  # newest first
    assert ids("?group_id=g1") == [c["id"], a["id"]]
    assert ids("?group=g2") == [b["id"]]
    assert ids("?tag=env") == [b["id"], a["id"]]
    assert ids("?tag=env:prod") == [a["id"]]
    assert ids("?enabled=false") == [b["id"]]
    assert ids("?enabled=true&project_id=proj-1") == [a["id"]]
    assert_problem(client.get("/v1/jobs?enabled=maybe"), 400, "enabled")


def test_list_cursor_pagination(client):
    made = [client.post("/v1/jobs", job_body(name=f"page-{i}")).json()["id"] for i in range(7)]
    seen, cursor, pages = [], None, 0
    while True:
        r = client.get("/v1/jobs?limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status == 200
        seen += [j["id"] for j in r.json()]
        pages += 1
        if r.headers["x-has-more"] == "false":
            assert "x-next-cursor" not in r.headers
            break
        cursor = r.headers["x-next-cursor"]
        assert r.headers["link"].startswith("</v1/jobs?cursor=") and 'rel="next"' in r.headers["link"]
    assert seen == list(reversed(made)) and pages == 3


def test_list_cursor_survives_deletions(client):
    """A cursor is a place in the creation order: deleting jobs on either
    side of it between pages neither repeats nor skips the others."""
    made = [client.post("/v1/jobs", job_body(name=f"del-page-{i}")).json()["id"] for i in range(8)]
    r = client.get("/v1/jobs?limit=3")
    first = [j["id"] for j in r.json()]
    assert first == list(reversed(made))[:3]
    # one older than the cursor, one on the page already seen
    for gone in (made[0], made[6]):
        assert client.delete(f"/v1/jobs/{gone}").status == 204
    rest, cursor = [], r.headers["x-next-cursor"]
    while cursor:
        r = client.get(f"/v1/jobs?limit=3&cursor={cursor}")
        rest += [j["id"] for j in r.json()]
        cursor = r.headers.get("x-next-cursor")
    assert rest == list(reversed(made[1:5]))


@pytest.mark.parametrize("q,field", [("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"),
                                     ("cursor=garbage", "cursor")])
def test_list_bad_query(client, q, field):
    assert_problem(client.get("/v1/jobs?" + q), 400, field)


# ---- dependencies ------------------------------------------------------------------------------

def test_dependency_cycles_are_refused(client):
    a, b, c = (client.post("/v1/jobs", job_body(name=n)).json() for n in ("a", "b", "c"))
    assert client.post("/v1/jobs/a/dependencies", {"depends_on_job_id": "b"}).status == 201
    assert client.post("/v1/jobs/b/dependencies", {"depends_on_job_id": "c"}).status == 201
    assert_problem(client.post("/v1/jobs/c/dependencies", {"depends_on_job_id": "a"}), 400, "depends_on_job_id")
    assert_problem(client.post("/v1/jobs/a/dependencies", {"depends_on_job_id": "a"}), 400, "depends_on_job_id")
    assert_problem(client.post("/v1/jobs/a/dependencies", {"depends_on_job_id": "b"}), 409, "depends_on_job_id")
    assert_problem(client.post("/v1/jobs/a/dependencies", {"depends_on_job_id": "nope"}), 404, "depends_on_job_id")
    assert_problem(client.post("/v1/jobs/a/dependencies", {"depends_on_job_id": "c", "condition": "Maybe"}),
                   400, "condition")
    r = client.post("/v1/jobs/a/dependencies", {"depends_on_job_id": c["id"], "condition": "AnySucceeded"})
    assert r.status == 201 and r.json()["condition"] == "AnySucceeded"
    assert [d["depends_on_job_id"] for d in client.get("/v1/jobs/a/dependencies").json()] == [b["id"], c["id"]]


def test_deleting_a_job_removes_its_dependencies(client):
    a, b = (client.post("/v1/jobs", job_body(name=n)).json() for n in ("x1", "x2"))
    client.post("/v1/jobs/x1/dependencies", {"depends_on_job_id": "x2"})
    assert client.delete("/v1/jobs/x2").status == 204
    assert client.get("/v1/jobs/x1/dependencies").json() == []
    # and the name is free again, with no stale edges
    client.post("/v1/jobs", job_body(name="x2"))
    assert client.post("/v1/jobs/x2/dependencies", {"depends_on_job_id": "x1"}).status == 201


# ---- tenant isolation ----------------------------------------------------------------------------

def test_another_tenants_job_does_not_exist(server, client):
    job = client.post("/v1/jobs", job_body(name="private")).json()
    dep_target = client.post("/v1/jobs", job_body(name="private2")).json()
    dep = client.post("/v1/jobs/private/dependencies", {"depends_on_job_id": "private2"}).json()
    other = Client(server, make_token(claims_for(str(uuid.uuid4()))))
    jid = job["id"]
    for method, path, body in [
        ("GET", f"/v1/jobs/{jid}", None), ("GET", "/v1/jobs/private", None),
        ("PATCH", f"/v1/jobs/{jid}", {"description": "x"}), ("DELETE", f"/v1/jobs/{jid}", None),
        ("POST", f"/v1/jobs/{jid}/clone", {}), ("GET", f"/v1/jobs/{jid}/versions", None),
        ("GET", f"/v1/jobs/{jid}/versions/{job['version_id']}", None),
        ("GET", f"/v1/jobs/{jid}/dependencies", None),
        ("POST", f"/v1/jobs/{jid}/dependencies", {"depends_on_job_id": dep_target["id"]}),
        ("DELETE", f"/v1/jobs/{jid}/dependencies/{dep['id']}", None),
        ("POST", "/v1/jobs/batch-disable", {"ids": [jid]}),
    ]:
        r = other(method, path, body)
        assert r.status == 404, (method, path, r)
    assert other.get("/v1/jobs").json() == []
    # same name in another tenant is fine
    assert other.post("/v1/jobs", job_body(name="private")).status == 201
    # and nothing changed for the owner
    assert client.get(f"/v1/jobs/{jid}").json() == job
