"""Issue 15's deployment kit in conf/: the systemd unit passes
`systemd-analyze verify` without a warning and its command line serves; the
nginx example passes `nginx -t` and carries requests to jobwheel over TLS."""
import http.client
import json
import re
import shutil
import ssl
import subprocess
import uuid

from conftest import BIN, ROOT, SECRET, Client, Jobwheel, Redis, claims_for, free_port, job_body, \
    make_token, wait_until
from sink import make_tls

UNIT = ROOT / "conf" / "jobwheel.service"
NGINX = ROOT / "conf" / "nginx-jobwheel.conf"


def test_systemd_unit_verifies(tmp_path):
    # verify checks that ExecStart's program exists: this build's stands in for /usr/local/bin's
    unit = tmp_path / "jobwheel.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/jobwheel", str(BIN)))
    p = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stderr.strip() == "", p.stderr
    text = UNIT.read_text()
    for hardening in ("DynamicUser=yes", "ProtectSystem=strict", "NoNewPrivileges=yes", "Restart=on-failure"):
        assert hardening in text


def test_systemd_units_command_line_serves(tmp_path):
    """What the unit starts (its ExecStart and Environment, with the
    credential directory and paths of a test) reads conf/jobwheel.conf and
    serves."""
    text = UNIT.read_text()
    argv = re.search(r"^ExecStart=(.*)$", text, re.M).group(1).split()
    env = dict(re.findall(r"^Environment=(\w+)=(.*)$", text, re.M))
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "jwt.secret").write_text(SECRET + "\n")
    port = free_port()
    r = Redis(tmp_path / "redis")
    argv = [str(BIN) if a == "/usr/local/bin/jobwheel" else
            str(ROOT / "conf" / "jobwheel.conf") if a == "/etc/jobwheel/jobwheel.conf" else
            str(tmp_path / "state") if a == "/var/lib/jobwheel" else a for a in argv]
    environ = {k: v.replace("%d", str(creds)) for k, v in env.items()}
    environ.update(PATH="/usr/bin:/bin", JOBWHEEL_LISTEN=f"127.0.0.1:{port}", JOBWHEEL_REDIS_URL=r.url)
    log = open(tmp_path / "log", "wb")
    proc = subprocess.Popen(argv, env=environ, stdout=log, stderr=subprocess.STDOUT, cwd="/")
    try:
        s = At(port)
        wait_until(lambda: _status(port, "/readyz") == 200, timeout=15, what="the unit's jobwheel to serve")
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))  # signed with the credential's key
        assert c.post("/v1/jobs", job_body()).status == 201
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
        log.close()
        r.stop()


class At:
    """The jobwheel a test started itself, at its port (for Client)."""
    request = Jobwheel.request

    def __init__(self, port):
        self.port = port


def _status(port, path):
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", path)
        return conn.getresponse().status
    except OSError:
        return None


def test_nginx_example_proxies_to_jobwheel(tmp_path):
    tls = make_tls(tmp_path / "tls")
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url)
    http_port, https_port = free_port(), free_port()
    site = NGINX.read_text()
    site = site.replace("server 127.0.0.1:8080;", f"server 127.0.0.1:{s.port};")
    site = re.sub(r"^\s*listen \[::\].*$", "", site, flags=re.M)  # (IPv6 may be off here)
    site = site.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
    site = site.replace("listen 443 ssl;", f"listen 127.0.0.1:{https_port} ssl;")
    site = site.replace("/etc/ssl/certs/jobs.example.com.pem", str(tls / "server.pem"))
    site = site.replace("/etc/ssl/private/jobs.example.com.key", str(tls / "server.key"))
    (tmp_path / "site.conf").write_text(site)
    temp = "\n".join(f"    {k}_temp_path {tmp_path / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (tmp_path / "nginx.conf").write_text(f"""
daemon off;
pid {tmp_path / "nginx.pid"};
error_log {tmp_path / "error.log"};
events {{}}
http {{
    access_log {tmp_path / "access.log"};
{temp}
    include {tmp_path / "site.conf"};
}}
""")
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    base = [nginx, "-p", str(tmp_path), "-e", str(tmp_path / "error.log"), "-c", str(tmp_path / "nginx.conf")]
    t = subprocess.run(base + ["-t"], capture_output=True, text=True)
    assert t.returncode == 0, t.stderr
    proc = subprocess.Popen(base, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        ctx = ssl.create_default_context(cafile=str(tls / "ca.pem"))

        def https(method, path, body=None, headers=None):
            conn = http.client.HTTPSConnection("127.0.0.1", https_port, context=ctx, timeout=10)
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            return res.status, {k.lower(): v for k, v in res.getheaders()}, res.read()
        wait_until(lambda: _https_ok(https), timeout=15, what="nginx to serve")
        token = make_token(claims_for(str(uuid.uuid4())))
        status, headers, body = https("POST", "/v1/jobs", body=json.dumps(job_body()),
                                      headers={"Authorization": f"Bearer {token}",
                                               "Content-Type": "application/json"})
        assert status == 201, body
        assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"]), headers  # nginx's id, echoed
        status, _, _ = https("GET", "/metrics")
        assert status == 404
        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=10)
        plain.request("GET", "/readyz")
        res = plain.getresponse()
        assert res.status == 308 and res.getheader("Location").startswith("https://"), res.status
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        assert s.stop() == 0
        r.stop()


def _https_ok(https):
    try:
        return https("GET", "/readyz")[0] == 200
    except OSError:
        return False
