"""Fixtures for the integration suite: real redis-server and jobwheel
processes on free loopback ports, stopped by pid, plus a small HTTP client
and JWT maker (HS* with hmac, RS256/ES256 with the openssl command)."""
import base64
import hashlib
import hmac
import http.client
import json
import os
import pathlib
import signal
import socket
import subprocess
import time
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = str((ROOT / os.environ.get("JOBWHEEL_BIN", "build/jobwheel")).resolve())
SECRET = "integration-secret-0123456789abcdef-xyz"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                   "SUMMARY: UndefinedBehaviorSanitizer")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout=10.0, step=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(step)
    raise AssertionError(f"timed out waiting for {what}")


# ---- Redis -------------------------------------------------------------------

class Redis:
    """A redis-server of our own on a free port."""

    def __init__(self, workdir, appendonly=False):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.appendonly = appendonly
        self.proc = None
        self.start()

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--dir", str(self.dir), "--daemonize", "no",
                "--enable-debug-command", "yes",
                "--appendonly", "yes" if self.appendonly else "no",
                "--appendfsync", "always" if self.appendonly else "everysec",
                "--logfile", str(self.dir / "redis.log")]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._pingable, what="redis-server to answer")

    def _pingable(self):
        try:
            return self.cmd("PING") == "PONG"
        except OSError:
            return False
        except RuntimeError as e:  # "LOADING": a restart still reading its AOF
            if str(e).startswith("LOADING"):
                return False
            raise

    def cmd(self, *args):
        """One command, one reply (enough RESP for tests)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as s:
            out = f"*{len(args)}\r\n".encode()
            for a in args:
                a = a if isinstance(a, bytes) else str(a).encode()
                out += b"$%d\r\n%s\r\n" % (len(a), a)
            s.sendall(out)
            f = s.makefile("rb")
            return self._read(f)

    def _read(self, f):
        line = f.readline()
        if not line:
            raise OSError("connection closed")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = f.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read(f) for _ in range(n)]
        raise OSError(f"bad reply {line!r}")

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=20)
        self.proc = None


# ---- HTTP ----------------------------------------------------------------------

class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def http_request(port, method, path, body=None, headers=None, timeout=20):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        h = dict(headers or {})
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            if isinstance(data, str):
                data = data.encode()
            h.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=h)
        r = conn.getresponse()
        return Response(r.status, r.getheaders(), r.read())
    finally:
        conn.close()


# Every exchange with a jobwheel (through Jobwheel.request) is kept, and
# test_openapi.py checks each against the OpenAPI document at the end of the
# session (pytest_sessionfinish below), so the document cannot drift from
# what the server does.
EXCHANGES = []
if os.environ.get("JOBWHEEL_EXCHANGES"):  # also written out, to study them
    _exchange_log = open(os.environ["JOBWHEEL_EXCHANGES"], "a")
else:
    _exchange_log = None


def record_exchange(method, path, headers, body, r):
    if isinstance(body, bytes):
        try:
            body = body.decode()
        except UnicodeDecodeError:
            body = None
    if isinstance(body, str):
        try:
            body = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested past Python's reach
            body = {"$unparsed": body[:200]}
    ex = {"method": method, "path": path,
          "request_type": {k.lower(): v for k, v in headers.items()}.get("content-type"),
          "request": body, "status": r.status, "response_type": r.headers.get("content-type"),
          "response": r.body.decode(errors="replace")}
    EXCHANGES.append(ex)
    if _exchange_log:
        _exchange_log.write(json.dumps(ex) + "\n")


def raw_request(port, data, timeout=10):
    """Send raw bytes; return everything the server answered until it closed."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except (ConnectionResetError, socket.timeout):
            pass
        return b"".join(chunks)


# ---- tokens -----------------------------------------------------------------------

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims_for(tenant=None, roles=("admin",), perms=(), sub="tester", exp_in=3600, **extra):
    now = int(time.time())
    c = {"sub": sub, "name": "Test User", "email": "tester@example.com",
         "iat": now, "exp": now + exp_in, "roles": list(roles), "permissions": list(perms)}
    if tenant is not None:
        c["tenants"] = [tenant] if isinstance(tenant, str) else list(tenant)
    c.update(extra)
    return {k: v for k, v in c.items() if v is not None}


def _openssl_sign(key_path, data):
    return subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(key_path)], input=data,
                          capture_output=True, check=True).stdout


def _der_to_raw_ecdsa(der):
    # SEQUENCE { INTEGER r, INTEGER s } -> r || s, 32 bytes each
    assert der[0] == 0x30
    i = 2 if der[1] < 0x80 else 3
    out = b""
    for _ in range(2):
        assert der[i] == 0x02
        n = der[i + 1]
        v = der[i + 2:i + 2 + n].lstrip(b"\x00")
        out += v.rjust(32, b"\x00")
        i += 2 + n
    return out


def make_token(claims, secret=SECRET, alg="HS256", header=None, key_path=None):
    h = {"alg": alg, "typ": "JWT"}
    h.update(header or {})
    signing = (b64url(json.dumps(h, separators=(",", ":")).encode()) + "." +
               b64url(json.dumps(claims, separators=(",", ":")).encode())).encode()
    if alg.startswith("HS"):
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        key = secret if isinstance(secret, bytes) else secret.encode()
        sig = hmac.new(key, signing, digest).digest()
    elif alg == "RS256":
        sig = _openssl_sign(key_path, signing)
    elif alg == "ES256":
        sig = _der_to_raw_ecdsa(_openssl_sign(key_path, signing))
    elif alg == "none":
        sig = b""
    else:
        raise ValueError(alg)
    return signing.decode() + "." + b64url(sig)


# ---- jobwheel ------------------------------------------------------------------------

class Jobwheel:
    """A jobwheel process. Requests go through .request(); .stop() returns
    the exit code and fails the test if a sanitizer reported anything."""

    def __init__(self, workdir, redis_url=None, args=(), env=None, secret=SECRET, start=True):
        self.dir = pathlib.Path(workdir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.redis_url = redis_url
        self.args = list(args)
        self.env = env
        self.secret = secret
        self.proc = None
        self.log_path = self.dir / f"jobwheel-{self.port}.log"
        if start:
            self.start()

    def command(self):
        cmd = [BIN, "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.dir / "data")]
        if self.redis_url is not None:
            cmd += ["--redis-url", self.redis_url]
        if self.secret is not None:
            cmd += ["--jwt-secret", self.secret]
        return cmd + self.args

    def start(self, wait=True):
        env = dict(os.environ)
        env.update(self.env or {})
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self.log, stderr=subprocess.STDOUT,
                                     env=env, cwd=str(self.dir))
        if wait:
            self.wait_ready()

    def ready(self):
        try:
            return self.request("GET", "/readyz", token=None, timeout=2).status == 200
        except OSError:
            return False

    def wait_ready(self, timeout=20):
        def ok():
            if self.proc.poll() is not None:
                raise AssertionError(f"jobwheel exited with {self.proc.returncode}:\n{self.output()}")
            return self.ready()
        wait_until(ok, timeout=timeout, step=0.05, what="jobwheel /readyz")

    def output(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def assert_clean(self):
        out = self.output()
        for mark in SANITIZER_MARKS:
            assert mark not in out, f"sanitizer report in jobwheel output:\n{out[-6000:]}"

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            raise AssertionError("jobwheel did not stop in time")
        finally:
            self.log.close()
        self.proc = None
        self.assert_clean()
        return rc

    def request(self, method, path, body=None, token="", tenant=None, headers=None, timeout=20):
        h = dict(headers or {})
        if token:
            h["Authorization"] = f"Bearer {token}"
        if tenant:
            h["x-tenantid"] = tenant
        r = http_request(self.port, method, path, body, h, timeout=timeout)
        record_exchange(method, path, h, body, r)
        return r


class Client:
    """Requests as one caller: a token and (optionally) an x-tenantid."""

    def __init__(self, server, token, tenant=None):
        self.server, self.token, self.tenant = server, token, tenant

    def __call__(self, method, path, body=None, **kw):
        kw.setdefault("token", self.token)
        kw.setdefault("tenant", self.tenant)
        return self.server.request(method, path, body, **kw)

    def get(self, path, **kw):
        return self("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self("DELETE", path, **kw)


# ---- fixtures ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sink():
    """A webhook sink (sink.py) for the tests of one module."""
    from sink import Sink
    s = Sink()
    yield s
    s.close()


@pytest.fixture(scope="session")
def redis(tmp_path_factory):
    r = Redis(tmp_path_factory.mktemp("redis"))
    yield r
    r.stop()


@pytest.fixture(scope="session")
def server(redis, tmp_path_factory):
    """One shared jobwheel for the tests that do not restart anything."""
    s = Jobwheel(tmp_path_factory.mktemp("jobwheel"), redis_url=redis.url)
    yield s
    rc = s.stop()
    assert rc == 0, f"jobwheel exited {rc} on SIGTERM:\n{s.output()[-4000:]}"


@pytest.fixture
def tenant():
    return str(uuid.uuid4())


@pytest.fixture
def client(server, tenant):
    """An admin of a fresh tenant (x-tenantid not needed: the token names one)."""
    return Client(server, make_token(claims_for(tenant)))


def job_body(name=None, **fields):
    body = {"project_id": "proj-1", "name": name or f"job-{uuid.uuid4().hex[:10]}",
            "endpoint_url": "https://example.com/hooks/run"}
    body.update(fields)
    return body


def pytest_sessionfinish(session, exitstatus):
    """Every exchange of the session checked against the OpenAPI document
    (openapi_check.py): a mismatch fails the run, naming the exchange."""
    if not EXCHANGES:
        return
    import openapi_check
    problems = openapi_check.check_all(EXCHANGES)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if problems:
        text = (f"\n{len(problems)} exchange(s) do not match src/api/openapi.json:\n" +
                "\n".join(problems) + "\n")
        if reporter:
            reporter.write_line(text, red=True)
        else:
            print(text)
        session.exitstatus = 1
    elif reporter:
        reporter.write_line(f"openapi: all {len(EXCHANGES)} exchanges match src/api/openapi.json")
