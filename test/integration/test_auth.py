"""SPEC §2: JWTs (pinned algorithm, registered claims, typed claims), API
keys, tenants, roles and permissions — and the server stays healthy after
every refused attempt."""
import hashlib
import subprocess
import time
import uuid

import pytest

from conftest import SECRET, Client, Jobwheel, b64url, claims_for, job_body, make_token

ISSUER = "https://idp.example.com"
AUDIENCE = "jobwheel-api"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
                    "-out", str(d / "rsa.pem")], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(d / "rsa.pem"), "-pubout", "-out", str(d / "rsa.pub")],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-out", str(d / "ec.pem")], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(d / "ec.pem"), "-pubout", "-out", str(d / "ec.pub")],
                   check=True, capture_output=True)
    return d


@pytest.fixture(scope="module")
def rs_server(redis, keys, tmp_path_factory):
    s = Jobwheel(tmp_path_factory.mktemp("rs"), redis_url=redis.url, secret=None,
                 args=["--jwt-algorithm", "RS256", "--jwt-public-key-file", str(keys / "rsa.pub"),
                       "--jwt-issuer", ISSUER, "--jwt-audience", AUDIENCE])
    yield s
    assert s.stop() == 0


@pytest.fixture(scope="module")
def es_server(redis, keys, tmp_path_factory):
    s = Jobwheel(tmp_path_factory.mktemp("es"), redis_url=redis.url, secret=None,
                 args=["--jwt-algorithm", "ES256", "--jwt-public-key-file", str(keys / "ec.pub")])
    yield s
    assert s.stop() == 0


def status(server, token, tenant=None, path="/v1/jobs", headers=None):
    return server.request("GET", path, token=token, tenant=tenant, headers=headers).status


def assert_401(server, token, **kw):
    r = server.request("GET", "/v1/jobs", token=token, **kw)
    assert r.status == 401, r
    assert r.headers["content-type"] == "application/problem+json"
    assert r.headers["www-authenticate"] == "Bearer"
    assert server.request("GET", "/healthz").status == 200


# ---- HS256 (the session server) ----------------------------------------------------------

def test_valid_token(server, tenant):
    assert status(server, make_token(claims_for(tenant))) == 200


def test_missing_and_malformed_credentials(server):
    assert_401(server, None)
    r = server.request("GET", "/v1/jobs", headers={"Authorization": "Basic dXNlcjpwdw=="})
    assert r.status == 401
    for bad in ["x", "a.b", "a.b.c", "a.b.c.d", "....", "é.é.é", "eyJ" * 5000]:
        assert_401(server, bad)


def test_alg_none_is_refused(server, tenant):
    assert_401(server, make_token(claims_for(tenant), alg="none"))
    # "none" with a signature appended anyway
    t = make_token(claims_for(tenant), alg="none") + "c2ln"
    assert_401(server, t)


def test_other_hmac_algorithm_is_refused(server, tenant):
    assert_401(server, make_token(claims_for(tenant), alg="HS384"))
    assert_401(server, make_token(claims_for(tenant), alg="HS512"))


def test_wrong_secret_and_tampering(server, tenant):
    assert_401(server, make_token(claims_for(tenant), secret="another-secret-0123456789abcdefghij"))
    good = make_token(claims_for(tenant, roles=()))
    h, p, s = good.split(".")
    forged = b64url(__import__("json").dumps(claims_for(tenant, roles=("super_admin",))).encode())
    assert_401(server, f"{h}.{forged}.{s}")
    # another first character: the first signature byte differs for sure
    assert_401(server, f"{h}.{p}.{'B' if s[0] == 'A' else 'A'}{s[1:]}")


def test_expiry_and_leeway(server, tenant):
    assert_401(server, make_token(claims_for(tenant, exp_in=-120)))
    assert status(server, make_token(claims_for(tenant, exp_in=-30))) == 200  # 60 s leeway
    c = claims_for(tenant)
    del c["exp"]
    assert_401(server, make_token(c))
    assert_401(server, make_token(dict(claims_for(tenant), exp="tomorrow")))


def test_nbf_and_iat_in_the_future(server, tenant):
    now = int(time.time())
    assert_401(server, make_token(claims_for(tenant, nbf=now + 300)))
    assert_401(server, make_token(claims_for(tenant, iat=now + 300)))
    assert status(server, make_token(claims_for(tenant, nbf=now + 30))) == 200


def test_claims_are_type_checked(server, tenant):
    assert_401(server, make_token(dict(claims_for(tenant), roles="admin")))
    assert_401(server, make_token(dict(claims_for(tenant), roles=["admin", 1])))
    assert_401(server, make_token(dict(claims_for(tenant), permissions="jobs:read")))
    assert_401(server, make_token(claims_for(["not-a-uuid"])))
    assert_401(server, make_token(claims_for(tenant, sub=None)))
    assert_401(server, make_token(claims_for(tenant, sub=42)))


# ---- RS256 / ES256, issuer and audience ------------------------------------------------------

def test_rs256_and_alg_confusion(rs_server, keys, tenant):
    good = claims_for(tenant, iss=ISSUER, aud=AUDIENCE)
    assert status(rs_server, make_token(good, alg="RS256", key_path=keys / "rsa.pem")) == 200
    # HS256 signed with the RSA public key as the HMAC secret
    pub = (keys / "rsa.pub").read_bytes()
    assert_401(rs_server, make_token(good, alg="HS256", secret=pub))
    assert_401(rs_server, make_token(good, alg="HS256", secret=pub.strip()))
    # signed by another key
    assert_401(rs_server, make_token(good, alg="ES256", key_path=keys / "ec.pem"))


def test_issuer_and_audience(rs_server, keys, tenant):
    sign = lambda c: make_token(c, alg="RS256", key_path=keys / "rsa.pem")
    assert_401(rs_server, sign(claims_for(tenant, iss="https://evil.example.com", aud=AUDIENCE)))
    assert_401(rs_server, sign(claims_for(tenant, iss=ISSUER, aud="someone-else")))
    assert_401(rs_server, sign(claims_for(tenant, aud=AUDIENCE)))
    assert status(rs_server, sign(claims_for(tenant, iss=ISSUER, aud=["x", AUDIENCE]))) == 200


def test_es256(es_server, keys, tenant):
    c = claims_for(tenant)
    assert status(es_server, make_token(c, alg="ES256", key_path=keys / "ec.pem")) == 200
    h, p, s = make_token(c, alg="ES256", key_path=keys / "ec.pem").split(".")
    assert_401(es_server, f"{h}.{b64url(b'{}')}.{s}")
    assert_401(es_server, make_token(c, alg="RS256", key_path=keys / "rsa.pem"))


def test_hs512_pinned(redis, tmp_path, tenant):
    s = Jobwheel(tmp_path, redis_url=redis.url, args=["--jwt-algorithm", "HS512"])
    try:
        assert status(s, make_token(claims_for(tenant), alg="HS512")) == 200
        assert_401(s, make_token(claims_for(tenant), alg="HS256"))
        assert_401(s, make_token(claims_for(tenant), alg="HS384"))
    finally:
        assert s.stop() == 0


# ---- tenants ------------------------------------------------------------------------------------

def test_tenant_resolution(server, tenant):
    other = str(uuid.uuid4())
    two = make_token(claims_for([tenant, other]))
    r = server.request("GET", "/v1/jobs", token=two)
    assert r.status == 400 and "x-tenantid" in r.json()["errors"]
    assert status(server, two, tenant=other) == 200
    assert status(server, two, tenant=other.upper()) == 200
    r = server.request("GET", "/v1/jobs", token=two, tenant="not-a-uuid")
    assert r.status == 400 and "x-tenantid" in r.json()["errors"]
    assert status(server, two, tenant=str(uuid.uuid4())) == 403
    none = make_token(claims_for(None))
    assert status(server, none) == 400
    assert status(server, none, tenant=tenant) == 403
    sup = make_token(claims_for(None, roles=("super_admin",)))
    assert status(server, sup, tenant=str(uuid.uuid4())) == 200


def test_realm_header(server, tenant):
    t = make_token(claims_for(tenant, realm="acme"))
    assert status(server, t, headers={"realmname": "acme"}) == 200
    assert status(server, t, headers={"realmname": "other"}) == 401
    assert status(server, make_token(claims_for(tenant)), headers={"realmname": "acme"}) == 401


# ---- roles and permissions -----------------------------------------------------------------------

def test_roles_and_permissions(server, tenant):
    def tok(roles=(), perms=()):
        return make_token(claims_for(tenant, roles=roles, perms=perms))

    def can(token, method, path, body=None):
        return server.request(method, path, body, token=token).status

    nothing = tok()
    assert can(nothing, "GET", "/v1/jobs") == 403
    reader = tok(perms=("jobs:read",))
    assert can(reader, "GET", "/v1/jobs") == 200
    assert can(reader, "POST", "/v1/jobs", job_body()) == 403
    writer = tok(perms=("jobs:write",))
    assert can(writer, "POST", "/v1/jobs", job_body()) == 201
    both = tok(perms=("jobs:read", "jobs:write"))
    assert can(both, "GET", "/v1/jobs") == 200
    sysadmin = tok(roles=("system_admin",))
    assert can(sysadmin, "GET", "/v1/jobs") == 403
    assert can(tok(roles=("admin",)), "DELETE", f"/v1/jobs/{uuid.uuid4()}") == 404
    # unknown roles and permissions grant nothing
    assert can(tok(roles=("root",), perms=("jobs:*",)), "GET", "/v1/jobs") == 403
    # API keys need admin
    assert can(both, "POST", "/v1/api-keys", {"name": "k", "permissions": ["jobs:read"]}) == 403
    assert can(both, "GET", "/v1/api-keys") == 403


# ---- API keys -------------------------------------------------------------------------------------

def test_api_key_lifecycle(server, redis, client, tenant):
    r = client.post("/v1/api-keys", {"name": "ci reader", "permissions": ["jobs:read"]})
    assert r.status == 201, r
    k = r.json()
    key = k["key"]
    assert key.startswith("jw_") and k["prefix"] == key[:11]
    assert k["permissions"] == ["jobs:read"] and k["tenant_id"] == tenant
    assert "sha256" not in k
    # Redis holds only the hash
    dump = str(redis.cmd("HGETALL", f"jw:{{{tenant}}}:apikeys")) + \
        str(redis.cmd("HGETALL", f"jw:{{{tenant}}}:apikeys:sha256"))
    assert key not in dump and key[36:] not in dump
    assert hashlib.sha256(key.encode()).hexdigest() in dump
    # listed without the key
    listed = client.get("/v1/api-keys").json()
    assert [x["id"] for x in listed] == [k["id"]] and "key" not in listed[0] and "sha256" not in listed[0]
    # it works as a bearer token and as X-Api-Key, read-only
    assert server.request("GET", "/v1/jobs", token=key).status == 200
    assert server.request("GET", "/v1/jobs", headers={"X-Api-Key": key}).status == 200
    assert server.request("POST", "/v1/jobs", job_body(), token=key).status == 403
    # only in its own tenant
    assert server.request("GET", "/v1/jobs", token=key, tenant=str(uuid.uuid4())).status == 403
    # revoked
    assert client.delete(f"/v1/api-keys/{k['id']}").status == 204
    assert server.request("GET", "/v1/jobs", token=key).status == 401
    assert client.delete(f"/v1/api-keys/{k['id']}").status == 404


def test_api_key_writer_and_wrong_keys(server, client, tenant):
    key = client.post("/v1/api-keys", {"name": "w", "permissions": ["jobs:write", "jobs:read"]}).json()["key"]
    r = server.request("POST", "/v1/jobs", job_body(), token=key)
    assert r.status == 201 and r.json()["created_by"].startswith("apikey:")
    for bad in [key[:-1] + ("A" if key[-1] != "A" else "B"), "jw_", "jw_" + "0" * 32 + "_" + "x" * 43,
                key.replace(tenant.replace("-", "")[:8], "ffffffff", 1)]:
        assert server.request("GET", "/v1/jobs", token=bad).status == 401, bad
    assert server.request("GET", "/healthz").status == 200


def test_api_key_validation_and_expiry(server, client):
    bad = [({}, "name"), ({"name": "x"}, "permissions"), ({"name": "x", "permissions": []}, "permissions"),
           ({"name": "x", "permissions": ["admin"]}, "permissions"),
           ({"name": "x", "permissions": ["jobs:read"], "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
           ({"name": "x", "permissions": ["jobs:read"], "expires_at": "soon"}, "expires_at"),
           ({"name": "x", "permissions": ["jobs:read"], "extra": 1}, "extra")]
    for body, field in bad:
        r = client.post("/v1/api-keys", body)
        assert r.status == 400 and field in r.json()["errors"], (body, r)
    soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 2))
    key = client.post("/v1/api-keys", {"name": "brief", "permissions": ["jobs:read"],
                                       "expires_at": soon}).json()["key"]
    assert server.request("GET", "/v1/jobs", token=key).status == 200
    time.sleep(2.2)
    assert server.request("GET", "/v1/jobs", token=key).status == 401
