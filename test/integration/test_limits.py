"""The HTTP edge: body and header limits (413), malformed and hostile JSON,
content types, the connection cap — and the server stays healthy."""
import socket
import time

import pytest

from conftest import Jobwheel, claims_for, make_token, raw_request


def healthy(server):
    return server.request("GET", "/healthz").status == 200


def test_oversized_body_is_413(server, client):
    big = b'{"name":"x","endpoint_url":"https://e.com/","description":"' + b"a" * (1024 * 1024 + 10) + b'"}'
    try:
        r = client.post("/v1/jobs", big)
        assert r.status == 413
    except (ConnectionResetError, BrokenPipeError):
        # the server may close before the client finishes sending; then check
        # the answer on a raw socket below
        pass
    head = (b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\nAuthorization: Bearer %s\r\n\r\n" % (len(big), client.token.encode()))
    out = raw_request(server.port, head)
    assert out.startswith(b"HTTP/1.1 413"), out[:100]
    assert healthy(server)
    assert client.get("/v1/jobs").json() == []


def test_chunked_oversized_body_is_refused(server, client):
    chunk = b"a" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(20)) + b"0\r\n\r\n"
    head = (b"POST /v1/jobs HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Authorization: Bearer %s\r\n\r\n" % client.token.encode())
    out = raw_request(server.port, head + body)
    assert out.startswith(b"HTTP/1.1 413"), out[:100]
    assert healthy(server)


def test_oversized_headers_are_refused(server):
    out = raw_request(server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n")
    assert not out.startswith(b"HTTP/1.1 200")
    assert healthy(server)


@pytest.mark.parametrize("body,needle", [
    (b'{"name": "x",', "invalid JSON"),
    (b'{"name": "x"} trailing', "invalid JSON"),
    (b'{"name": "x", /* c */ "endpoint_url": "https://e.com/"}', "invalid JSON"),
    (b'{"name": "x", "name": "y", "endpoint_url": "https://e.com/"}', "duplicate key"),
    (b'{"name": "\xc0\x80", "endpoint_url": "https://e.com/"}', "invalid JSON"),
    (b'{"name": "\xed\xa0\x80", "endpoint_url": "https://e.com/"}', "invalid JSON"),
    (b'{"name": "a\\u0000b", "endpoint_url": "https://e.com/"}', "NUL"),
    (b"\xff\xfe{}", "invalid JSON"),
    (b"[" * 33 + b"]" * 33, "nesting deeper than 32"),
    (b'{"payload_schema":' + b'{"a":' * 40 + b"1" + b"}" * 41, "nesting deeper than 32"),
])
def test_malformed_json_is_400(server, client, body, needle):
    r = client.post("/v1/jobs", body)
    assert r.status == 400, r
    assert r.headers["content-type"] == "application/problem+json"
    assert needle in r.json()["detail"]
    assert healthy(server)


def test_hostile_nesting_does_not_hurt(server, client):
    t0 = time.monotonic()
    r = client.post("/v1/jobs", b"[" * 300000)
    assert r.status == 400
    assert time.monotonic() - t0 < 5
    assert healthy(server)


def test_nesting_at_the_limit_is_fine(client):
    # payload_schema may nest up to the limit (32 levels in all)
    schema = "1"
    for _ in range(30):
        schema = '{"a":%s}' % schema
    body = '{"name":"deep","endpoint_url":"https://e.com/","payload_schema":%s}' % schema
    r = client.post("/v1/jobs", body.encode())
    assert r.status == 201, r


def test_content_type_must_be_json(client):
    r = client.post("/v1/jobs", b'{"name":"x"}', headers={"Content-Type": "text/plain"})
    assert r.status == 415
    r = client.post("/v1/jobs", b'{"name":"ct","endpoint_url":"https://e.com/"}',
                    headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status == 201


def test_idle_connections_are_closed(redis, tmp_path):
    s = Jobwheel(tmp_path, redis_url=redis.url, args=["--http-timeout-secs", "1"])
    try:
        c = socket.create_connection(("127.0.0.1", s.port), timeout=5)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finished
        t0 = time.monotonic()
        assert c.recv(4096) == b""  # closed by the server
        assert 0.5 < time.monotonic() - t0 < 4
        c.close()
        assert healthy(s)
    finally:
        assert s.stop() == 0


def test_connection_cap(redis, tmp_path):
    s = Jobwheel(tmp_path, redis_url=redis.url, args=["--max-connections", "2"])
    try:
        socks = []
        for _ in range(2):  # two requests on their way in (idle ones would be shed for a new client)
            c = socket.create_connection(("127.0.0.1", s.port))
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            socks.append(c)
        time.sleep(0.3)
        # the third client is not served while two connections are open
        third = socket.create_connection(("127.0.0.1", s.port), timeout=1.0)
        third.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(socket.timeout):
            third.recv(4096)
        socks[0].close()
        third.settimeout(5)
        assert third.recv(4096).startswith(b"HTTP/1.1 200")
        third.close()
        socks[1].close()
    finally:
        assert s.stop() == 0
