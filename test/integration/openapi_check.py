"""Checks HTTP exchanges against jobwheel's OpenAPI document
(src/api/openapi.json): each request's path and method must be documented,
its status among the operation's responses, the answer's content type and
JSON body valid against the schema given for it, and the JSON body of a
request that succeeded valid against the operation's requestBody.

conftest.py runs it over every exchange of the integration suite at the end
of the session; `python3 openapi_check.py exchanges.jsonl` runs it over a
file written with JOBWHEEL_EXCHANGES=<file>."""
import json
import pathlib
import re
import sys
import urllib.parse

import jsonschema

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC_PATH = ROOT / "src" / "api" / "openapi.json"



class Checker:
    def __init__(self, doc):
        self.doc = doc
        self.resolver = jsonschema.RefResolver("", doc)
        self.validators = {}
        routes = []
        for template, item in doc["paths"].items():
            rx = re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$")
            routes.append((template.count("{"), template, rx, item))
        routes.sort(key=lambda r: r[0])  # literal segments win: /v1/jobs/batch before /v1/jobs/{id}
        self.routes = routes

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node:
            node = self.resolver.resolve(node["$ref"])[1]
        return node

    def validate(self, schema, value):
        key = json.dumps(schema, sort_keys=True)
        v = self.validators.get(key)
        if v is None:
            v = self.validators[key] = jsonschema.Draft202012Validator(schema, resolver=self.resolver)
        err = jsonschema.exceptions.best_match(v.iter_errors(value))
        if err is None:
            return None
        where = "/".join(str(p) for p in err.absolute_path)
        return f"at /{where}: {err.message[:300]}"

    def check(self, ex):
        """What is wrong with one exchange (None: nothing)."""
        path = urllib.parse.urlsplit(ex["path"]).path
        method, status = ex["method"].lower(), ex["status"]
        if method == "options":  # the router answers it for every path (Allow), no operation of its own
            return None if status == 204 else f"OPTIONS {path} answered {status}"
        route = next((r for r in self.routes if r[2].match(path)), None)
        problem_schema = {"$ref": "#/components/schemas/Problem"}
        if route is None or method not in route[3]:
            # no such path (404), a path no route can take (400), a method it lacks (405)
            want = (405,) if route else (400, 404)
            if status not in want:
                return f"undocumented {method.upper()} {path} answered {status}"
            return self.check_body(problem_schema, "application/problem+json", ex)
        op = route[3][method]
        responses = op["responses"]
        r = responses.get(str(status)) or responses.get("default")
        if r is None:
            return f"{method.upper()} {route[1]}: status {status} is not documented"
        r = self.deref(r)
        if 200 <= status < 300 and "requestBody" in op and isinstance(ex.get("request"), (dict, list)) \
                and "$unparsed" not in (ex["request"] if isinstance(ex["request"], dict) else {}):
            body = self.deref(op["requestBody"])
            media = body["content"].get("application/json")
            if media:
                bad = self.validate(media["schema"], ex["request"])
                if bad:
                    return f"{method.upper()} {route[1]} request {bad}"
        content = r.get("content")
        if not content:
            if ex["response"]:
                return f"{method.upper()} {route[1]} {status}: a body where none is documented"
            return None
        ctype = (ex.get("response_type") or "").split(";")[0].strip()
        media = content.get(ctype)
        if media is None:
            return f"{method.upper()} {route[1]} {status}: content type {ctype!r} not documented ({list(content)})"
        bad = self.check_body(media.get("schema"), ctype, ex)
        return f"{method.upper()} {route[1]} {status}: {bad}" if bad else None

    def check_body(self, schema, ctype, ex):
        if schema is None or not ctype.endswith("json"):
            return None
        if (ex.get("response_type") or "").split(";")[0].strip() != ctype:
            return f"content type {ex.get('response_type')!r}, documented {ctype!r}"
        try:
            body = json.loads(ex["response"])
        except ValueError:
            return "the answer is not JSON"
        return self.validate(schema, body)


def check_all(exchanges, limit=40):
    """The problems found, at most limit of them (each with its exchange)."""
    checker = Checker(json.loads(DOC_PATH.read_text()))
    out, seen = [], set()
    for ex in exchanges:
        bad = checker.check(ex)
        if bad and bad not in seen:
            seen.add(bad)
            out.append(f"{bad}\n    {ex['method']} {ex['path'][:200]} -> {ex['status']} {ex['response'][:300]}")
            if len(out) >= limit:
                break
    return out


if __name__ == "__main__":
    exchanges = []
    for line in open(sys.argv[1]):
        try:
            exchanges.append(json.loads(line))
        except ValueError:
            pass
    problems = check_all(exchanges)
    print("\n".join(problems) or f"all {len(exchanges)} exchanges match the document")
    sys.exit(1 if problems else 0)
