"""The OpenAPI document: served as written, valid OpenAPI 3.1, naming every
route the server has (every surface) and nothing else, and its checker
able to fail.
(conftest.py checks every exchange of the suite against it at the end.)"""
import json
import pathlib
import re
import subprocess

import yaml

import openapi_check
from conftest import ROOT

DOC = json.loads(openapi_check.DOC_PATH.read_text())


def test_served_as_json_and_yaml(server):
    r = server.request("GET", "/openapi.json")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == DOC
    r = server.request("GET", "/openapi.yaml")
    assert r.status == 200 and r.headers["content-type"].startswith("application/yaml")
    assert yaml.safe_load(r.body) == DOC


def test_valid_openapi_3_1():
    p = subprocess.run(["node", str(ROOT / "test/js/openapi.mjs"), str(openapi_check.DOC_PATH)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0 and "valid OpenAPI 3.1" in p.stdout, p.stdout + p.stderr


def routes_in_source():
    """(method, path) of every route the server has, read from the route
    tables in src/api (a path may start with a #define'd prefix)."""
    found = set()
    for f in (ROOT / "src/api").glob("*.c"):
        text = f.read_text()
        defines = dict(re.findall(r'#define (\w+) "([^"]*)"', text))
        for methods, macro, path in re.findall(r'\{((?:JW_[A-Z]+ \| )*JW_[A-Z]+), (\w+)? ?(?:"([^"]*)")?,', text):
            if macro and macro not in defines:
                continue
            path = defines.get(macro, "") + path
            if not path.startswith("/"):
                continue
            for m in methods.split(" | "):
                found.add((m[3:].lower(), re.sub(r":\w+", "{}", path)))
    return found


def test_every_route_is_documented_and_nothing_else():
    documented = {(m, re.sub(r"\{\w+\}", "{}", p)) for p, item in DOC["paths"].items()
                  for m in item if m in ("get", "post", "put", "patch", "delete")}
    in_source = routes_in_source()
    assert len(in_source) > 70
    assert in_source - documented == set(), "routes the document lacks"
    assert documented - in_source == set(), "documented routes the server lacks"


def test_every_operation_names_its_errors():
    for p, item in DOC["paths"].items():
        for m, op in item.items():
            assert op.get("operationId") and op.get("summary"), (m, p)
            if op.get("security") is None:  # the document's default: a JWT or an API key
                assert {"400", "401", "403", "404"} <= set(op["responses"]), (m, p)
            elif op["security"] == [{"RunToken": []}]:  # a worker's run token
                assert {"400", "401", "404"} <= set(op["responses"]), (m, p)


def test_the_checker_finds_what_does_not_match():
    c = openapi_check.Checker(DOC)
    ok = {"method": "GET", "path": "/healthz", "status": 200, "request": None,
          "response_type": "application/json", "response": '{"status":"ok"}'}
    assert c.check(ok) is None
    assert "state" in c.check(dict(ok, response='{"state":"ok"}'))
    assert "not documented" in c.check(dict(ok, status=418))
    assert "content type" in c.check(dict(ok, response_type="text/html"))
    assert "undocumented" in c.check(dict(ok, path="/v1/nothing", status=200))
    bad_job = {"method": "POST", "path": "/v1/jobs", "status": 201, "request": {"name": "x", "cron": 5},
               "response_type": "application/json", "response": "{}"}
    assert "request" in c.check(bad_job)
    problem = {"method": "GET", "path": "/v1/jobs/x", "status": 404, "request": None,
               "response_type": "application/problem+json", "response": '{"title": "Not Found"}'}
    assert "required" in c.check(problem)
