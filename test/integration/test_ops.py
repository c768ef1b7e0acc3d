"""Operations endpoints and HTTP-level behaviour every route shares."""
import uuid

from conftest import Jobwheel, Redis, claims_for, make_token, wait_until


def test_healthz_needs_no_credentials(server):
    r = server.request("GET", "/healthz")
    assert r.status == 200
    assert r.json() == {"status": "ok"}


def test_readyz_reports_redis(server):
    r = server.request("GET", "/readyz")
    assert r.status == 200
    assert r.json() == {"status": "ready", "redis": "up"}


def test_unknown_route_is_problem_json_404(server):
    r = server.request("GET", "/v1/nothing-here")
    assert r.status == 404
    assert r.headers["content-type"] == "application/problem+json"
    p = r.json()
    assert p["status"] == 404 and p["title"] == "Not Found"
    assert p["instance"] == "/v1/nothing-here"


def test_wrong_method_is_405_with_allow(server):
    r = server.request("PUT", "/v1/jobs", body={}, token=make_token(claims_for(str(uuid.uuid4()))))
    assert r.status == 405
    assert set(r.headers["allow"].split(", ")) == {"GET", "POST", "HEAD"}


def test_options_lists_methods(server):
    r = server.request("OPTIONS", "/v1/jobs/abc")
    assert r.status == 204
    assert set(r.headers["allow"].split(", ")) == {"GET", "PATCH", "DELETE", "HEAD"}


def test_request_id_is_echoed_or_made(server):
    r = server.request("GET", "/healthz", headers={"X-Request-Id": "trace-abc.123"})
    assert r.headers["x-request-id"] == "trace-abc.123"
    r = server.request("GET", "/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert r.headers["x-request-id"] != "bad id with spaces"
    uuid.UUID(r.headers["x-request-id"])


def test_percent_nul_in_path_is_404(server, client):
    r = client.get("/v1/jobs/abc%00def")
    assert r.status == 404
    r = client.get("/v1/jobs/%ZZ")
    assert r.status == 404
    assert server.request("GET", "/healthz").status == 200


def test_responses_are_not_cached(server):
    r = server.request("GET", "/healthz")
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_instances_and_their_shards_for_a_super_admin(tmp_path):
    """GET /v1/system/instances: every live instance with the shards it
    owns; an instance that stops leaves the list and its shards go to the
    others. Only a super_admin may look."""
    r = Redis(tmp_path / "redis")
    args = ["--schedule-lease-ms", "1000"]
    a = Jobwheel(tmp_path / "a", redis_url=r.url, args=args)
    b = Jobwheel(tmp_path / "b", redis_url=r.url, args=args)
    try:
        root = make_token(claims_for(str(uuid.uuid4()), roles=("super_admin",)))
        admin = make_token(claims_for(str(uuid.uuid4())))
        assert a.request("GET", "/v1/system/instances", token=admin).status == 403
        assert a.request("GET", "/v1/system/instances").status == 401

        def view():
            res = a.request("GET", "/v1/system/instances", token=root)
            assert res.status == 200, res
            return res.json()

        def split():
            v = view()
            owned = [s for i in v["instances"] for s in i["shards_owned"]]
            return len(v["instances"]) == 2 and all(i["shards_owned"] for i in v["instances"]) and \
                sorted(owned) == list(range(v["shards"])) and v["shards_unowned"] == []
        wait_until(split, timeout=20, what="two instances splitting the shards")
        v = view()
        assert [i["this"] for i in v["instances"]].count(True) == 1 and v["instance"] in [i["id"] for i in v["instances"]]
        b.stop()
        wait_until(lambda: [len(i["shards_owned"]) for i in view()["instances"]] == [view()["shards"]],
                   timeout=20, what="the one left to own every shard")
    finally:
        a.stop()
        if b.proc:
            b.stop()
        r.stop()
