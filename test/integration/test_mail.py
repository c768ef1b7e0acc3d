"""notify mail through a relay as mail providers run them (aiosmtpd from
Debian, on loopback): STARTTLS required with a certificate checked against
tls_ca_file, AUTH with a password read from a file, a subject that is not
ASCII sent as RFC 2047 encoded words; and a refused password is logged,
never sent in clear or written to the log."""
import email
import email.policy
import ssl
import uuid

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from conftest import Client, Jobwheel, Redis, claims_for, free_port, job_body, make_token, wait_until
from sink import make_tls

PASSWORD = "s3cret-relay-pass"


class Relay:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({"from": envelope.mail_from, "to": envelope.rcpt_tos, "tls": session.ssl is not None,
                              "auth": session.authenticated, "data": envelope.content})
        return "250 OK"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = auth_data.login == b"jobs" and auth_data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # a refusal is answered 535 by the server


@pytest.fixture
def relay(tmp_path):
    tls = make_tls(tmp_path / "tls")
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(tls / "server.pem"), str(tls / "server.key"))
    handler = Relay()
    ctl = Controller(handler, hostname="127.0.0.1", port=free_port(), tls_context=ctx, require_starttls=True,
                     auth_required=True, auth_require_tls=True, authenticator=authenticator)
    ctl.start()
    yield handler, ctl.port, tls
    ctl.stop()


def test_starttls_auth_and_an_encoded_subject(tmp_path, relay, sink):
    handler, port, tls = relay
    (tmp_path / "smtp.pass").write_text(PASSWORD + "\n")
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=[
        "--allow-private-targets", "--smtp-relay", f"127.0.0.1:{port}", "--smtp-from", "jobs@example.org",
        "--smtp-tls", "starttls", "--smtp-user", "jobs", "--smtp-password-file", str(tmp_path / "smtp.pass"),
        "--tls-ca-file", str(tls / "ca.pem")])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()), email="owner@example.com")))
        name = "Bericht für März ✓ " + uuid.uuid4().hex[:6]
        job = c.post("/v1/jobs", job_body(name=name, endpoint_url=sink.url("/mail"))).json()
        run = c.post(f"/v1/jobs/{job['id']}/trigger", {"notify": True}).json()
        wait_until(lambda: handler.messages, timeout=20, what="the relay to get the mail")
        m = handler.messages[0]
        assert m["tls"] and m["auth"], m
        assert m["from"] == "jobs@example.org" and m["to"] == ["owner@example.com"]
        raw = m["data"]
        assert raw.isascii() or b"=?UTF-8?B?" in raw
        header_line = [l for l in raw.split(b"\r\n") if l.startswith(b"Subject:")][0]
        assert b"=?UTF-8?B?" in header_line and "für".encode() not in header_line
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        assert msg["subject"] == f"[jobwheel] {name}: completed"
        assert run["id"] in msg.get_content()
        assert PASSWORD not in s.output()
    finally:
        assert s.stop() == 0
        r.stop()


def refused(tmp_path, port, sink, *smtp_args):
    """A notify run's mail the relay refuses: the log says so (returned)."""
    r = Redis(tmp_path / "redis")
    s = Jobwheel(tmp_path / "jw", redis_url=r.url, args=[
        "--allow-private-targets", "--smtp-relay", f"127.0.0.1:{port}", "--smtp-tls", "starttls", *smtp_args])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()), email="owner@example.com")))
        job = c.post("/v1/jobs", job_body(endpoint_url=sink.url("/mail"))).json()
        c.post(f"/v1/jobs/{job['id']}/trigger", {"notify": True})
        wait_until(lambda: "smtp: mail to owner@example.com not sent" in s.output(), timeout=20,
                   what="the refusal in the log")
        return s.output()
    finally:
        assert s.stop() == 0
        r.stop()


def test_a_refused_password_is_logged_and_no_mail_goes(tmp_path, relay, sink):
    handler, port, tls = relay
    log = refused(tmp_path, port, sink, "--smtp-user", "jobs", "--smtp-password", "wrong-password-xyz",
                  "--tls-ca-file", str(tls / "ca.pem"))
    assert handler.messages == [] and "wrong-password-xyz" not in log and "Login denied" in log


def test_starttls_required_but_the_relay_certificate_is_not_trusted(tmp_path, relay, sink):
    handler, port, _ = relay
    log = refused(tmp_path, port, sink, "--smtp-user", "jobs", "--smtp-password", PASSWORD)
    assert handler.messages == [] and "certificate" in log and PASSWORD not in log


@pytest.mark.parametrize("value", ["always", "", "TLS"])
def test_smtp_tls_takes_four_words(tmp_path, value):
    import subprocess
    from conftest import BIN, SECRET
    p = subprocess.run([BIN, "--jwt-secret", SECRET, "--smtp-tls", value, "--listen", f"127.0.0.1:{free_port()}",
                        "--redis-url", "redis://127.0.0.1:1/0"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "smtp_tls" in p.stderr
