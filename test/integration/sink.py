"""A real HTTP(S) sink for webhook tests: records every request, answers
from a per-path script of responses (status, headers, body, delay — in
seconds, or a threading.Event the answer waits for)."""
import http.server
import json
import socket
import socketserver
import ssl
import subprocess
import threading
import time


class Sink:
    def __init__(self, tls_dir=None):
        self.requests = []
        self.scripts = {}   # path -> list of (status, headers, body, delay)
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.active = 0
        self.max_active = 0
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do(self):
                n = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(n) if n else b""
                with sink.cond:
                    sink.active += 1
                    sink.max_active = max(sink.max_active, sink.active)
                    sink.requests.append({"path": self.path, "method": self.command,
                                          "headers": {k.lower(): v for k, v in self.headers.items()},
                                          "body": body, "at": time.time()})
                    sink.cond.notify_all()
                    script = sink.scripts.get(self.path.split("?")[0])
                    step = script.pop(0) if script else (200, {}, {"ok": True}, 0)
                    if script == [] and len(step) > 4 and step[4]:  # sticky last step
                        script.append(step)
                status, headers, out, delay = step[:4]
                if isinstance(delay, threading.Event):  # answer when the test says so
                    delay.wait(120)
                elif delay:
                    time.sleep(delay)
                data = out if isinstance(out, bytes) else json.dumps(out).encode()
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    if "Content-Type" not in headers:
                        self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                finally:
                    with sink.cond:
                        sink.active -= 1

            do_POST = do_GET = do_PUT = do
            def log_message(self, *a):
                pass

        class Server(http.server.ThreadingHTTPServer):
            request_queue_size = 512  # bursts of connections must not wait on the backlog

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if tls_dir:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(str(tls_dir / "server.pem"), str(tls_dir / "server.key"))
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls_dir else "http"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path, host="127.0.0.1"):
        return f"{self.scheme}://{host}:{self.port}{path}"

    def script(self, path, *steps, sticky=False):
        steps = [s if isinstance(s, tuple) else (s, {}, {"status": s}, 0) for s in steps]
        steps = [s + (0,) * (4 - len(s)) for s in steps]
        if sticky:
            steps[-1] = steps[-1] + (True,)
        self.scripts[path] = list(steps)

    def wait_for(self, pred, timeout=15):
        deadline = time.time() + timeout
        with self.cond:
            while not pred(self.requests):
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"sink: timed out; got {[r['path'] for r in self.requests]}")
                self.cond.wait(left)
            return list(self.requests)

    def to(self, path):
        return [r for r in self.requests if r["path"].split("?")[0] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def make_tls(d):
    """A CA and a server certificate for 127.0.0.1 and localhost."""
    d.mkdir(parents=True, exist_ok=True)
    run = lambda *a: subprocess.run(a, check=True, capture_output=True, cwd=str(d))
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=jobwheel test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
        "-subj", "/CN=127.0.0.1")
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf")
    return d


class SmtpSink:
    """A mail relay that accepts every message and keeps it: enough SMTP
    (EHLO/HELO, MAIL, RCPT, DATA, QUIT) to receive what jobwheel sends."""

    def __init__(self):
        self.messages = []  # {"from", "to": [...], "data": str}
        self.cond = threading.Condition()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                def say(line):
                    self.wfile.write(line.encode() + b"\r\n")
                    self.wfile.flush()
                say("220 sink ESMTP")
                msg = {"from": None, "to": []}
                while True:
                    line = self.rfile.readline()
                    if not line:
                        return
                    cmd = line.decode(errors="replace").rstrip("\r\n")
                    verb = cmd[:4].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250-sink")
                        say("250 8BITMIME")
                    elif cmd.upper().startswith("MAIL FROM:"):
                        msg["from"] = cmd[10:].strip()
                        say("250 ok")
                    elif cmd.upper().startswith("RCPT TO:"):
                        msg["to"].append(cmd[8:].strip())
                        say("250 ok")
                    elif verb == "DATA":
                        say("354 go ahead")
                        lines = []
                        while True:
                            l = self.rfile.readline()
                            if not l or l == b".\r\n":
                                break
                            lines.append(l[1:] if l.startswith(b"..") else l)
                        msg["data"] = b"".join(lines).decode(errors="replace")
                        with sink.cond:
                            sink.messages.append(msg)
                            sink.cond.notify_all()
                        msg = {"from": None, "to": []}
                        say("250 queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("502 not here")

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, pred, timeout=15):
        deadline = time.time() + timeout
        with self.cond:
            while not pred(self.messages):
                left = deadline - time.time()
                if left <= 0:
                    raise AssertionError(f"smtp sink: timed out; got {self.messages}")
                self.cond.wait(left)
            return list(self.messages)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
