"""Load and slow clients (issue 11, defects 1 and 2): bounded counts, loopback only.

Timing is never asserted as a performance figure; the bounds below are deadlines by
which a behaviour must have happened at all (a dead socket released, a slow client cut
off), generous enough for an ASan build on a loaded 2-core machine.
"""

import json
import re
import selectors
import socket
import subprocess
import time

import requests

from conftest import raw


def _read_response(sock, buf):
    """Read one HTTP response from a blocking socket; returns leftover bytes."""
    while True:
        head, sep, rest = buf.partition(b"\r\n\r\n")
        if sep:
            n = 0
            for ln in head.split(b"\r\n")[1:]:
                k, _, v = ln.partition(b":")
                if k.strip().lower() == b"content-length":
                    n = int(v)
            if len(rest) >= n:
                return rest[n:]
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed a keep-alive connection")
        buf += chunk


def _open_many(port, n, source="127.0.0.1"):
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind((source, 0))
        s.settimeout(30)
        s.connect(("127.0.0.1", port))
        socks.append(s)
    return socks


def _wait_sockets(srv, at_most, within):
    end = time.monotonic() + within
    while True:
        _, socks = srv.fds()
        if socks <= at_most or time.monotonic() > end:
            return socks
        time.sleep(0.2)


WRK_SCRIPT = """
local metric = '%s'
local search = '{"experiment_ids":["0"],"max_results":5}'
local headers = { ["Content-Type"] = "application/json" }
local i = 0
request = function()
  i = i + 1
  if i %% 2 == 0 then
    return wrk.format("POST", "/api/2.0/mlflow/runs/log-metric", headers, metric)
  end
  return wrk.format("POST", "/api/2.0/mlflow/runs/search", headers, search)
end
"""


def _wrk(srv, script, connections, seconds):
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "-s", script, srv.url],
                         capture_output=True, text=True, timeout=seconds + 60)
    assert out.returncode == 0, out.stderr
    m = re.search(r"(\d+) requests in", out.stdout)
    assert m and int(m.group(1)) > 0, out.stdout
    assert "Non-2xx" not in out.stdout, out.stdout
    return int(m.group(1))


def test_keepalive_soak_releases_every_socket(server, tmp_path):
    """wrk with 1,000 keep-alive connections logs metrics and searches, then drops them
    all: the server's sockets return to their idle count and /health answers at once.
    On main at 2a14d95 (libmicrohttpd's epoll loop) a thread's whole share of dead
    sockets stayed held and the next round wedged the server."""
    srv = server("--threads", "4")
    run = srv.api("POST", "runs/create", json={"experiment_id": "0"}).json()["run"]["info"]["run_id"]
    _, idle_socks = srv.fds()
    script = tmp_path / "soak.lua"
    metric = json.dumps({"run_id": run, "key": "m", "value": 1.0, "timestamp": 1, "step": 0})
    script.write_text(WRK_SCRIPT % metric)
    for _ in range(2):
        _wrk(srv, str(script), 1000, 3)
        held = _wait_sockets(srv, idle_socks + 2, within=15)
        assert held <= idle_socks + 2, f"{held} sockets still held, {idle_socks} when idle"
        assert requests.get(srv.url + "/health", timeout=3).text == "OK"
    hist = srv.api("GET", "metrics/get-history", params={"run_id": run, "metric_key": "m"}).json()
    assert len(hist["metrics"]) >= 1


SLOW_STARTS = {
    "head": b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
    "chunked": (b"PUT /api/2.0/mlflow-artifacts/artifacts/slow/file HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n1\r\na\r\n"),
    "content-length": (b"POST /api/2.0/mlflow/experiments/search HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                       b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"),
}


def _slowloris(srv, kind, n, seconds, sources=("127.0.0.2",)):
    """n connections from each source address trickle one byte a second; meanwhile
    /health from 127.0.0.1 must answer each second. Returns (accepted, health answers,
    still open)."""
    socks = []
    for i in range(n * len(sources)):
        s = socket.socket()
        s.bind((sources[i % len(sources)], 0))
        s.settimeout(5)
        try:
            s.connect(("127.0.0.1", srv.port))
            s.sendall(SLOW_STARTS[kind])
            socks.append(s)
        except OSError:
            s.close()
    answered = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for s in socks:
            try:
                s.send(b"a")
            except OSError:
                pass
        try:
            if requests.get(srv.url + "/health", timeout=3).status_code == 200:
                answered += 1
        except requests.RequestException:
            pass
        time.sleep(1)
    sel = selectors.DefaultSelector()
    for s in socks:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    open_ = set(socks)
    for key, _ in sel.select(timeout=0.5):
        try:
            if not key.fileobj.recv(65536):
                open_.discard(key.fileobj)
        except OSError:
            open_.discard(key.fileobj)
    for s in socks:
        s.close()
    return len(socks), answered, len(open_)


def _check_slowloris(server, kind):
    srv = server("--head-timeout", "3", "--body-timeout", "3")
    accepted, answered, still_open = _slowloris(srv, kind, 1100, seconds=8)
    assert answered >= 6, f"/health answered {answered} times of ~8 during the attack"
    # the per-client limit (a quarter of 4096) refused some; the deadline cut the rest
    assert accepted >= 1000
    assert still_open == 0, f"{still_open} trickling connections still open after 8 s"
    assert requests.get(srv.url + "/health", timeout=3).text == "OK"


def test_slowloris_head_is_cut_off(server):
    _check_slowloris(server, "head")


def test_slow_chunked_body_is_cut_off(server):
    _check_slowloris(server, "chunked")


def test_lying_content_length_is_cut_off(server):
    _check_slowloris(server, "content-length")


def test_many_addresses_cannot_fill_the_table(server):
    """Slow clients from several addresses, together past --max-connections: near the
    limit the oldest connections still waiting for a head are evicted, so /health keeps
    answering long before the head deadline (20 s here) frees anything."""
    srv = server("--max-connections", "256", "--max-connections-per-client", "120")
    accepted, answered, _ = _slowloris(srv, "head", 120, seconds=6,
                                       sources=("127.0.0.4", "127.0.0.5", "127.0.0.6", "127.0.0.7"))
    assert accepted >= 400
    assert answered >= 4, f"/health answered {answered} times of ~6 while 480 slow clients attacked"
    assert "waiting for a head to make room" in srv.stderr()


def test_per_client_connection_limit(server):
    """One address cannot take every connection: at the per-client limit its next
    connection is refused while another address is still served."""
    srv = server("--max-connections", "64", "--max-connections-per-client", "16")
    socks = _open_many(srv.port, 16, source="127.0.0.3")
    for s in socks:
        s.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # unfinished heads
    time.sleep(0.3)
    status, _, _, closed = raw(srv.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", timeout=3,
                               source="127.0.0.3")
    assert status is None and closed, "the 17th connection of one client was served"
    assert requests.get(srv.url + "/health", timeout=3).text == "OK"
    for s in socks:
        s.close()


def test_a_slow_but_steady_upload_is_not_cut_off(server):
    """The body deadline grows with the bytes received (1 s per 500 B): an upload at
    ~2 KB/s outlives the 3 s body timeout."""
    srv = server("--head-timeout", "3", "--body-timeout", "3")
    exp = srv.api("POST", "experiments/create", json={"name": "slow-upload"}).json()["experiment_id"]
    run = srv.api("POST", "runs/create", json={"experiment_id": exp}).json()["run"]["info"]
    path = run["artifact_uri"].split("mlflow-artifacts:", 1)[1].lstrip("/")
    body = b"x" * 12000
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    s.sendall(b"PUT /api/2.0/mlflow-artifacts/artifacts/%s/slow.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Content-Length: %d\r\n\r\n" % (path.encode(), len(body)))
    for i in range(0, len(body), 1000):  # 12 chunks, 0.5 s apart: 6 s in all
        s.sendall(body[i:i + 1000])
        time.sleep(0.5)
    rest = _read_response(s, b"")
    s.close()
    assert rest == b""
    r = requests.get(f"{srv.url}/api/2.0/mlflow-artifacts/artifacts/{path}/slow.bin", timeout=10)
    assert r.status_code == 200 and r.content == body
