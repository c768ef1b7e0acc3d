"""Issue 12, holes 3 and 4: what one tenant's endpoint or one client can do
to jobwheel's memory and connections.

Outgoing calls: an endpoint that streams header lines without end, one that
answers with a huge number of tiny headers, one whose header line never
ends — as a job's endpoint and as its completion webhook — fail the call
with a clear error while jobwheel's memory stays bounded; slow answers near
max_response_bytes, many at once, fail the calls that would pass the
budget for answers in flight, and memory stays bounded; a mail relay that
never stops talking fails the mail.

Incoming connections: clients trickling a request header a byte at a time
(each byte well within an idle timeout) are counted from accept, held to
max_connections, and cut at their request's deadline; at the cap the oldest
idle connection is closed for a new client; a client that pipelines, sends
fast and never reads is held to a bounded read-ahead and cut.

Bounds and order only, with generous slack: the machine is shared."""
import os
import select
import socket
import threading
import time
import uuid

import pytest

from conftest import Client, Jobwheel, Redis, claims_for, http_request, job_body, make_token, wait_until

RSS_SLACK_KB = 48 * 1024  # growth allowed over the baseline, far below what the attacks reach unbounded


# ---- helpers -------------------------------------------------------------------------

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class RssWatch:
    """Samples a process's resident memory until stopped; keeps the peak."""

    def __init__(self, pid):
        self.pid = pid
        self.base = rss_kb(pid)
        self.peak = self.base
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.done.is_set():
            try:
                self.peak = max(self.peak, rss_kb(self.pid))
            except OSError:
                return
            time.sleep(0.02)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.peak - self.base


class TcpServer:
    """A loopback TCP server: each connection, on a thread of its own, is
    given to serve(sock); `connected` is set at the first. Subclasses set
    their own attributes before calling __init__ (connections may come at
    once)."""

    def __init__(self, backlog):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.connected = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, path="/"):
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self):
        while not self.stopped.is_set():
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.connected.set()
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        try:
            self.serve(c)
        except OSError:
            pass  # jobwheel gave up on the conversation: that is the point
        finally:
            c.close()

    def close(self):
        self.stopped.set()
        self.sock.close()


class RawServer(TcpServer):
    """A TCP server that reads a request and then runs `answer(sock)`."""

    def __init__(self, answer):
        self.answer = answer
        self.served = 0
        super().__init__(512)

    def serve(self, c):
        c.settimeout(30)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = c.recv(65536)
            if not chunk:
                return
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                n = int(line.split(b":")[1])
                while len(rest) < n:
                    chunk = c.recv(65536)
                    if not chunk:
                        return
                    rest += chunk
        self.served += 1
        self.respond(c, head)

    def respond(self, c, head):
        self.answer(c, self.stopped)


def endless_header_lines(c, stopped):
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
    chunk = b"".join(b"X-Flood-%d: %s\r\n" % (i, b"a" * 100) for i in range(500))
    while not stopped.is_set():
        c.sendall(chunk)


def tiny_headers(c, stopped):
    c.sendall(b"HTTP/1.1 200 OK\r\n")
    chunk = b"a:\r\n" * 16384
    for _ in range(64):  # a million headers, four bytes each, then a valid end
        if stopped.is_set():
            return
        c.sendall(chunk)
    c.sendall(b"Content-Length: 2\r\n\r\nok")
    time.sleep(5)


def endless_header_line(c, stopped):
    c.sendall(b"HTTP/1.1 200 OK\r\nX-Long: ")
    chunk = b"a" * 65536
    while not stopped.is_set():
        c.sendall(chunk)


FLOODS = {"endless-lines": endless_header_lines, "tiny-headers": tiny_headers,
          "endless-line": endless_header_line}


def wait_run(c, run_id, timeout=60):
    box = {}

    def done():
        r = c.get(f"/v1/runs/{run_id}")
        assert r.status == 200, r
        box["r"] = r.json()
        return box["r"]["status"] not in ("pending", "running", "scheduled", "queued", "retrying")
    wait_until(done, timeout=timeout, step=0.1, what=f"run {run_id} to end")
    return box["r"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    d = tmp_path_factory.mktemp("engine")
    r = Redis(d / "redis")
    try:
        s = Jobwheel(d, redis_url=r.url, args=["--allow-private-targets"])
        yield s
        assert s.stop() == 0
    finally:
        r.stop()


@pytest.fixture
def own_redis(tmp_path):
    """A Redis for a jobwheel configured otherwise than the engine."""
    r = Redis(tmp_path / "redis")
    yield r
    r.stop()


@pytest.fixture
def c(engine):
    return Client(engine, make_token(claims_for(str(uuid.uuid4()))))


# ---- hole 3: answers are bounded as they arrive -------------------------------------------

@pytest.mark.parametrize("flood", sorted(FLOODS))
def test_header_flood_fails_the_attempt_and_memory_stays_bounded(engine, c, flood):
    srv = RawServer(FLOODS[flood])
    try:
        job = c.post("/v1/jobs", job_body(endpoint_url=srv.url("/hook"), timeout_secs=20, max_attempts=1)).json()
        watch = RssWatch(engine.proc.pid)
        t0 = time.monotonic()
        run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
        done = wait_run(c, run["id"], timeout=60)
        grew = watch.stop()
        assert done["status"] == "failed", done
        assert ("the answer's headers were larger than allowed" in done["error"]
                or "the answer had more header lines than allowed" in done["error"]), done["error"]
        assert time.monotonic() - t0 < 20  # before the job's own timeout
        assert grew < RSS_SLACK_KB, f"RSS grew by {grew} kB"
    finally:
        srv.close()
    assert engine.request("GET", "/healthz").status == 200


def test_header_flood_at_the_completion_webhook(engine, c, sink):
    srv = RawServer(endless_header_lines)
    try:
        job = c.post("/v1/jobs", job_body(endpoint_url=sink.url("/" + uuid.uuid4().hex), max_attempts=1,
                                          webhook_url=srv.url("/final"))).json()
        watch = RssWatch(engine.proc.pid)
        run = c.post(f"/v1/jobs/{job['id']}/trigger").json()
        assert wait_run(c, run["id"])["status"] == "completed"
        wait_until(lambda: srv.served >= 1, timeout=20, what="the webhook to be called")
        want = (f"the webhook for run {run['id']} was not accepted (the answer's headers were larger than allowed",
                f"the webhook for run {run['id']} was not accepted (the answer had more header lines than allowed")
        wait_until(lambda: any(w in engine.output() for w in want), timeout=9, step=0.1,  # its timeout is 10 s
                   what="the webhook to fail on its headers")
        grew = watch.stop()
        assert grew < RSS_SLACK_KB, f"RSS grew by {grew} kB"
    finally:
        srv.close()


def slow_big_answer(size):
    def answer(c, stopped):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % size)
        piece = b"x" * 32768
        sent = 0
        while sent < size and not stopped.is_set():
            n = min(len(piece), size - sent)
            c.sendall(piece[:n])
            sent += n
            time.sleep(0.05)
    return answer


def test_answers_in_flight_share_one_memory_budget(tmp_path, own_redis):
    """60 slow answers of ~1 MB at once would hold ~60 MB; with a 2 MiB
    budget the calls that would pass it fail, and memory stays bounded."""
    s = Jobwheel(tmp_path, redis_url=own_redis.url,
                 args=["--allow-private-targets", "--max-inflight-response-bytes", str(2 << 20)])
    srv = RawServer(slow_big_answer(1000000))
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        job = c.post("/v1/jobs", job_body(endpoint_url=srv.url("/big"), timeout_secs=60, max_attempts=1)).json()
        watch = RssWatch(s.proc.pid)
        runs = c.post(f"/v1/jobs/{job['id']}/trigger/bulk", {"items": [{} for _ in range(60)]}).json()
        ids = [x["id"] for x in runs["results"]]
        assert len(ids) == 60
        ended = [wait_run(c, i, timeout=120) for i in ids]
        grew = watch.stop()
        over = [e for e in ended if e["status"] == "failed" and "max_inflight_response_bytes" in (e["error"] or "")]
        others = [e for e in ended if e not in over]
        assert over, [e["error"] for e in ended][:5]
        assert all(e["status"] == "completed" for e in others), [(e["status"], e["error"]) for e in others][:5]
        assert grew < 40 * 1024, f"RSS grew by {grew} kB"
        assert s.request("GET", "/healthz").status == 200
    finally:
        srv.close()
        assert s.stop() == 0


def held_answer(size, send):
    """Headers and `send` bytes of a `size`-byte body at once, then nothing."""
    def answer(c, stopped):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % size)
        c.sendall(b"x" * send)
        stopped.wait(60)
    return answer


def whole_answer(size):
    def answer(c, stopped):
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
        c.sendall(b'"' + b"y" * (size - 2) + b'"')
    return answer


def test_one_tenant_holds_at_most_half_of_the_answer_budget(tmp_path, own_redis):
    """Tenant A's answers that arrive and then stall hold what they got;
    they may hold half of max_inflight_response_bytes, never all of it, so
    tenant B's call still has room for its answer."""
    s = Jobwheel(tmp_path, redis_url=own_redis.url,
                 args=["--allow-private-targets", "--max-inflight-response-bytes", str(4 << 20)])
    stall, whole = RawServer(held_answer(1000000, 900000)), RawServer(whole_answer(900000))
    try:
        a = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        b = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        ja = a.post("/v1/jobs", job_body(endpoint_url=stall.url("/a"), timeout_secs=60, max_attempts=1)).json()
        jb = b.post("/v1/jobs", job_body(endpoint_url=whole.url("/b"), timeout_secs=30, max_attempts=1)).json()
        ids = [x["id"] for x in a.post(f"/v1/jobs/{ja['id']}/trigger/bulk",
                                       {"items": [{} for _ in range(8)]}).json()["results"]]
        wait_until(lambda: stall.served == 8, timeout=20, what="A's eight calls to be answered")

        def over():
            return [i for i in ids if a.get(f"/v1/runs/{i}").json()["status"] == "failed"]
        wait_until(lambda: len(over()) >= 4, timeout=20, what="A's calls past its share to fail")
        assert all("half of the memory" in a.get(f"/v1/runs/{i}").json()["error"] for i in over())
        run = b.post(f"/v1/jobs/{jb['id']}/trigger").json()
        done = wait_run(b, run["id"], timeout=30)
        assert done["status"] == "completed", done
        assert len(done["result"]) == 900000 - 2
    finally:
        stall.close()
        whole.close()
        assert s.stop() == 0


class PathServer(RawServer):
    """RawServer whose answer depends on the request's path."""

    def __init__(self, answers):
        self.answers = answers
        super().__init__(None)

    def respond(self, c, head):
        self.answers[head.split(b" ", 2)[1].decode()](c, self.stopped)


def test_hanging_calls_of_one_tenant_take_no_connection_of_anothers(tmp_path, own_redis):
    """Tenant A's 300 calls to a host that never answers would hold every
    connection jobwheel keeps to that host (256); tenant B's calls to the
    same host have connections of their own."""
    s = Jobwheel(tmp_path, redis_url=own_redis.url,
                 args=["--allow-private-targets", "--max-inflight", "700", "--max-inflight-per-tenant", "350"])
    srv = PathServer({"/hang": lambda c, stopped: stopped.wait(120), "/fast": whole_answer(20)})
    try:
        a = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        b = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        ja = a.post("/v1/jobs", job_body(endpoint_url=srv.url("/hang"), timeout_secs=120, max_attempts=1)).json()
        jb = b.post("/v1/jobs", job_body(endpoint_url=srv.url("/fast"), timeout_secs=10, max_attempts=1)).json()
        assert a.post(f"/v1/jobs/{ja['id']}/trigger/bulk", {"items": [{} for _ in range(300)]}).status == 201
        wait_until(lambda: srv.served >= 256, timeout=30, what="A's calls to hold the connections")
        run = b.post(f"/v1/jobs/{jb['id']}/trigger").json()
        assert wait_run(b, run["id"], timeout=30)["status"] == "completed"
    finally:
        srv.close()
        assert s.stop() == 0


# ---- hole 4: slow clients ------------------------------------------------------------------

def client_sockets(pid, port):
    """jobwheel's connected client sockets on its port: {client port: state}."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    out = {}
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            p = line.split()
            local, remote, state, inode = p[1], p[2], p[3], p[9]
            # ESTABLISHED or CLOSE_WAIT: a connection jobwheel still holds open
            if int(local.split(":")[1], 16) == port and state in ("01", "08") and inode in inodes:
                out[int(remote.split(":")[1], 16)] = state
    return out


def test_trickling_clients_are_counted_and_cut_at_their_deadline(redis, tmp_path):
    timeout = 2
    s = Jobwheel(tmp_path, redis_url=redis.url,
                 args=["--max-connections", "5", "--http-timeout-secs", str(timeout)])
    stop = threading.Event()
    held = {}     # client port -> [first seen, last seen] as held by jobwheel
    peak = [0]

    def sample():
        while not stop.is_set():
            now = time.monotonic()
            socks = client_sockets(s.proc.pid, s.port)
            peak[0] = max(peak[0], len(socks))
            if len(socks) > 5:
                stop.set()  # the cap does not hold: no need to wait for the rest
            for p in socks:
                held.setdefault(p, [now, now])[1] = now
            time.sleep(0.05)

    results = {}

    def trickle(i):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        port = sock.getsockname()[1]
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
        gaps, last, n = [], time.monotonic(), 0
        try:
            while not stop.is_set() and n < len(head):
                sock.sendall(head[n:n + 1])
                n += 1
                now = time.monotonic()
                gaps.append(now - last)
                last = now
                # a byte every second: each well before a 2 s idle timeout would fire
                r, _, _ = select.select([sock], [], [], 1.0)
                if r and sock.recv(4096) == b"":
                    results[i] = ("eof", port, n)
                    return
            results[i] = ("gave up", port, n)
        except OSError as e:
            results[i] = ("eof", port, n) if isinstance(e, (BrokenPipeError, ConnectionResetError)) \
                else (repr(e), port, n)
        finally:
            sock.close()

    try:
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        threads = [threading.Thread(target=trickle, args=(i,), daemon=True) for i in range(60)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 150
        for t in threads:
            t.join(max(0.1, deadline - time.monotonic()))
        stop.set()
        for t in threads:
            t.join(5)
        sampler.join(5)
        assert peak[0] <= 5, f"jobwheel held {peak[0]} client connections with --max-connections 5"
        eofs = [r for r in results.values() if r[0] == "eof"]
        assert len(eofs) == 60, sorted(results.values())[:10]
        # each was cut at its deadline: not held while it kept trickling, nor cut long before
        spans = sorted(last - first for first, last in held.values())
        assert spans[-1] < timeout + 4, f"a trickler was held {spans[-1]:.1f} s (deadline {timeout} s)"
        assert spans[len(spans) // 5] >= timeout / 2, f"tricklers cut before their deadline: {spans[:12]}"
        # the server still serves
        assert http_request(s.port, "GET", "/healthz", timeout=10).status == 200
    finally:
        stop.set()
        assert s.stop() == 0


def healthz_on(sock):
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        assert chunk, "closed before an answer"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
    while len(body) < n:
        body += sock.recv(4096)
    return head.split(b"\r\n")[0]


def still_open(sock):
    sock.setblocking(False)
    try:
        return sock.recv(1) != b""  # data would be odd, but not closed
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        sock.setblocking(True)


def test_oldest_idle_connection_is_shed_for_a_new_client(redis, tmp_path):
    s = Jobwheel(tmp_path, redis_url=redis.url, args=["--max-connections", "3"])  # idle timeout 30 s
    try:
        idle = []
        for _ in range(3):
            k = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            assert healthz_on(k).startswith(b"HTTP/1.1 200")
            idle.append(k)
            time.sleep(0.1)
        # at the cap, all idle: a new client is served at once, the oldest idle one closed for it
        new = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        assert healthz_on(new).startswith(b"HTTP/1.1 200")
        idle[0].settimeout(5)
        assert idle[0].recv(1) == b""
        assert still_open(idle[1]) and still_open(idle[2])
        # and again: now the second oldest goes
        newer = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        assert healthz_on(newer).startswith(b"HTTP/1.1 200")
        idle[1].settimeout(5)
        assert idle[1].recv(1) == b""
        assert still_open(idle[2]) and still_open(new)
        for k in idle + [new, newer]:
            k.close()
    finally:
        assert s.stop() == 0


# ---- the mail relay's replies are bounded too ------------------------------------------------

def relay_endless_line(c, stopped):
    c.sendall(b"220-")
    chunk = b"a" * 65536
    while not stopped.is_set():
        c.sendall(chunk)


def relay_endless_reply(c, stopped):
    chunk = b"220-relay says more\r\n" * 2000
    while not stopped.is_set():
        c.sendall(chunk)


class Relay(TcpServer):
    """A mail relay that speaks first, as SMTP does, and never stops."""

    def __init__(self, talk):
        self.talk = talk
        super().__init__(16)

    def serve(self, c):
        self.talk(c, self.stopped)


@pytest.mark.parametrize("talk", [relay_endless_line, relay_endless_reply], ids=["endless-line", "endless-reply"])
def test_a_relay_that_never_stops_talking_fails_the_mail(tmp_path, own_redis, sink, talk):
    relay = Relay(talk)
    s = Jobwheel(tmp_path, redis_url=own_redis.url,
                 args=["--allow-private-targets", "--smtp-relay", f"127.0.0.1:{relay.port}"])
    try:
        c = Client(s, make_token(claims_for(str(uuid.uuid4()))))
        job = c.post("/v1/jobs", job_body(endpoint_url=sink.url("/" + uuid.uuid4().hex), max_attempts=1)).json()
        watch = RssWatch(s.proc.pid)
        run = c.post(f"/v1/jobs/{job['id']}/trigger", {"notify": True}).json()
        assert wait_run(c, run["id"])["status"] == "completed"
        assert relay.connected.wait(20)
        # our bound on all replies (64 kB), or libcurl's on one reply line (300 kB)
        wait_until(lambda: "the relay's replies are longer than any SMTP reply" in s.output() or
                   "Too large response" in s.output(), timeout=20, step=0.1,
                   what="the mail to fail")  # its own deadline is 30 s
        grew = watch.stop()
        assert grew < RSS_SLACK_KB, f"RSS grew by {grew} kB"
    finally:
        relay.close()
        assert s.stop() == 0


def test_a_client_that_sends_and_never_reads_is_bounded_and_cut(redis, tmp_path):
    """Pipelined requests whose answers it never reads keep evhttp writing an
    answer; all the while evhttp reads on (to see the client leave) without
    parsing. What it reads ahead is bounded, and the answer's deadline cuts
    the connection."""
    timeout = 2
    # 40,000 requests answered: under AddressSanitizer its quarantine of freed
    # memory would count as growth (the option means nothing to other builds)
    asan = ":".join(o for o in (os.environ.get("ASAN_OPTIONS"), "quarantine_size_mb=4") if o)
    s = Jobwheel(tmp_path, redis_url=redis.url, args=["--http-timeout-secs", str(timeout)],
                 env={"ASAN_OPTIONS": asan})
    try:
        k = socket.socket()
        k.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: answers back up at once
        k.connect(("127.0.0.1", s.port))
        watch = RssWatch(s.proc.pid)
        k.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 40000)
        k.settimeout(2)
        junk = b"j" * 65536
        sent, cut, t0 = 0, False, time.monotonic()
        try:
            while sent < (256 << 20) and time.monotonic() - t0 < 30:
                try:
                    sent += k.send(junk)
                except socket.timeout:
                    continue  # jobwheel stopped reading: wait for the cut
        except OSError:
            cut = True
        grew = watch.stop()
        assert grew < RSS_SLACK_KB, f"RSS grew by {grew} kB after {sent >> 20} MB sent"
        assert cut, f"not cut after {time.monotonic() - t0:.1f} s ({sent >> 20} MB sent)"
        # what it could send ahead: the kernel's buffers both ways, and the bound
        assert sent < (128 << 20), f"{sent >> 20} MB taken from a client that reads nothing"
        k.close()
        assert http_request(s.port, "GET", "/healthz", timeout=10).status == 200
    finally:
        assert s.stop() == 0
