"""The dashboard: served with a strict CSP, and its main journeys driven in
Debian's headless Chromium (test/js/ui.mjs) — screenshots of each main page
are kept in build/screenshots."""
import subprocess
import uuid

import pytest

from conftest import ROOT, Jobwheel, claims_for, make_token


@pytest.fixture(scope="module")
def ui(redis, sink, tmp_path_factory):
    s = Jobwheel(tmp_path_factory.mktemp("ui"), redis_url=redis.url, args=["--allow-private-targets"])
    yield s
    assert s.stop() == 0


def test_served_with_its_own_files_only(ui):
    r = ui.request("GET", "/ui")
    assert r.status == 200 and r.headers["content-type"].startswith("text/html")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert b'src="/ui/app.js"' in r.body and b"http" not in r.body.split(b"<body>")[1]  # no CDN
    assert ui.request("GET", "/ui/").body == r.body
    js = ui.request("GET", "/ui/app.js")
    assert js.status == 200 and js.headers["content-type"].startswith("text/javascript")
    assert b"innerHTML" not in js.body  # every value from the API goes in as text
    assert ui.request("GET", "/ui/app.css").headers["content-type"].startswith("text/css")
    for bad in ("/ui/nope.js", "/ui/..%2f..%2fetc%2fpasswd", "/ui/index.html%00.js"):
        assert ui.request("GET", bad).status in (400, 404), bad


def test_journeys_in_chromium(ui, sink):
    sink.script("/ui/worker", (202, {}, {"accepted": True}, 0), sticky=True)
    shots = ROOT / "build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    for old in shots.glob("*.png"):
        old.unlink()
    token = make_token(claims_for(str(uuid.uuid4())))
    p = subprocess.run(["node", str(ROOT / "test/js/ui.mjs"), f"http://127.0.0.1:{ui.port}", token,
                        sink.url("/ui/ok"), sink.url("/ui/worker"), str(shots)],
                       capture_output=True, text=True, timeout=240, cwd=str(ROOT / "test/js"))
    assert p.returncode == 0 and "ok:" in p.stdout, p.stdout + p.stderr
    for name in ("login", "job", "run", "runs", "jobs", "failed", "system", "jobs-phone"):
        png = shots / f"{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
