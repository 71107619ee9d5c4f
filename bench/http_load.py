#!/usr/bin/env python3
"""bench/http_load.py - the measuring side of bench/http.sh (stdlib only).

  http_load.py setup URL                      -> prints "RUN_ID EXPERIMENT_ID"
  http_load.py wrk URL --pgid P --conns N ... -> one JSON object on stdout
  http_load.py slowloris URL --pgid P ...     -> one JSON object on stdout

The server under test is any MLflow-REST server on 127.0.0.1 whose processes all share one
process group (PGID): its CPU time and the sockets it holds are read from /proc.

wrk: runs `wrk -t THREADS -c CONNS -d DURATION --timeout T -s bench/http_mixed.lua URL --
RUN EXP`, with the server's CPU seconds, wrk's own CPU seconds (rusage of the child) and the
whole machine's busy time (/proc/stat) over the run, so that the JSON says who used the two
cores: a load generator that needs far less CPU per request than the server is not the
bottleneck.  SETTLE seconds after wrk exits it counts the socket descriptors the server's
processes hold (distinct inodes: a listening socket shared by forked workers counts once)
against the count before the run, and `ss` states of the server port.

slowloris: CONNS connections from SOURCE (127.0.0.2; a comma list spreads them) send a request start (an unfinished
head, or a head with Content-Length 100000 and one body byte) and then one byte per
connection per second.  A probe from 127.0.0.1 starts a fresh `GET /health` (Connection:
close) once a second for PROBE_SECONDS, each allowed PROBE_TIMEOUT seconds; success = a 200
within that time.  The attack keeps trickling until HOLD seconds after it began, then reports
how many attack connections the server had closed by then and closes the rest; three probes
afterwards say whether the server recovered.
"""

import argparse
import json
import os
import re
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

CLK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))


# --- /proc helpers -------------------------------------------------------------------------
def group_pids(pgid):
    pids = []
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(rest[2]) == pgid:
            pids.append((int(e), rest))
    return pids


def group_cpu(pgid):
    """{pid: user+system seconds} of the group's live processes."""
    return {pid: (int(r[11]) + int(r[12])) / CLK for pid, r in group_pids(pgid)}


def cpu_delta(before, after):
    """CPU seconds the group used between two group_cpu() snapshots: the growth of every
    process alive at both, plus all of any process that started in between.  A process
    that exited in between (e.g. a worker gunicorn's arbiter replaced) loses its share."""
    return sum(t - before.get(pid, 0.0) for pid, t in after.items())


def group_sockets(pgid):
    inodes = set()
    for pid, _ in group_pids(pgid):
        d = f"/proc/{pid}/fd"
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            try:
                t = os.readlink(f"{d}/{n}")
            except OSError:
                continue
            if t.startswith("socket:"):
                inodes.add(t)
    return len(inodes)


def machine_busy():
    """(busy seconds, total seconds) summed over all cores, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    total = sum(v[:8])
    return (total - idle) / CLK, total / CLK


def ss_states(port):
    """server-side TCP sockets on PORT by state (LISTEN left out)."""
    try:
        out = subprocess.run(["ss", "-Htan", f"( sport = :{port} )"], capture_output=True,
                             text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    states = {}
    for ln in out.splitlines():
        st = ln.split()[0] if ln.split() else ""
        if st and st != "LISTEN":
            states[st] = states.get(st, 0) + 1
    return states


# --- HTTP helpers --------------------------------------------------------------------------
def split_url(url):
    m = re.match(r"http://([^:/]+):(\d+)", url)
    if not m:
        sys.exit(f"http_load.py: URL must be http://HOST:PORT, not {url}")
    return m.group(1), int(m.group(2))


def probe(host, port, timeout, source="127.0.0.1"):
    """One GET /health on a fresh connection: (status or None, seconds, error or None)."""
    t0 = time.monotonic()
    end = t0 + timeout
    s = socket.socket()
    try:
        s.bind((source, 0))
        s.settimeout(timeout)
        s.connect((host, port))
        s.sendall(b"GET /health HTTP/1.1\r\nHost: %s:%d\r\nConnection: close\r\n\r\n"
                  % (host.encode(), port))
        buf = b""
        while True:
            left = end - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            s.settimeout(left)
            chunk = s.recv(65536)
            if chunk:
                buf += chunk
            head, sep, body = buf.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                if (m and len(body) >= int(m.group(1))) or not chunk:
                    status = int(head.split(b" ", 2)[1])
                    return status, time.monotonic() - t0, None
            if not chunk:
                return None, time.monotonic() - t0, "closed before a full response"
    except OSError as e:
        return None, time.monotonic() - t0, type(e).__name__ + ": " + str(e)
    finally:
        s.close()


def api(url, path, body):
    req = urllib.request.Request(url + "/api/2.0/mlflow/" + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"{}")


# --- setup ---------------------------------------------------------------------------------
def cmd_setup(a):
    """10 runs in the Default experiment ("0"), each with a param, a tag and 2 metrics, so
    runs/search has something to filter-free page over; the first run takes the load."""
    runs = []
    for k in range(10):
        r = api(a.url, "runs/create", {"experiment_id": "0", "start_time": 1700000000000 + k})
        rid = r["run"]["info"]["run_id"]
        api(a.url, "runs/log-batch", {
            "run_id": rid, "params": [{"key": "lr", "value": str(0.01 * (k + 1))}],
            "tags": [{"key": "bench", "value": "http"}],
            "metrics": [{"key": "acc", "value": k / 10, "timestamp": 1700000000000, "step": 0},
                        {"key": "loss", "value": 1 - k / 10, "timestamp": 1700000000000, "step": 0}]})
        runs.append(rid)
    print(runs[0], "0")


# --- wrk -----------------------------------------------------------------------------------
def cmd_wrk(a):
    host, port = split_url(a.url)
    res = {"label": a.label, "connections": a.conns, "threads": a.threads,
           "duration_s": a.duration, "wrk_timeout_s": a.timeout, "settle_s": a.settle}
    res["sockets_before"] = group_sockets(a.pgid)
    cpu0, (busy0, tot0) = group_cpu(a.pgid), machine_busy()
    cmd = ["wrk", f"-t{a.threads}", f"-c{a.conns}", f"-d{a.duration}s", f"--timeout", f"{a.timeout}s",
           "-s", a.script, a.url, "--", a.run_id, a.exp_id]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        wall = time.monotonic() - t0
        cpu1, (busy1, tot1) = group_cpu(a.pgid), machine_busy()
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        etext = err.read().decode(errors="replace")
    res["wrk_cmd"] = " ".join(cmd)
    res["wrk_rc"] = p.returncode
    res["wrk_stdout"] = text
    if etext.strip():
        res["wrk_stderr"] = etext[-2000:]
    m = re.search(r"^HTTPBENCH (\{.*\})$", text, re.M)
    if p.returncode != 0 or not m:
        res["error"] = f"wrk failed (rc {p.returncode})"
        print(json.dumps(res))
        return 1
    w = json.loads(m.group(1))
    secs = w["duration_us"] / 1e6
    nerr = w["errors"]
    res.update({
        "requests": w["requests"],
        "non_2xx": nerr["status"],
        "errors": nerr,
        "rps": w["requests"] / secs,
        "rps_2xx": (w["requests"] - nerr["status"]) / secs,
        "latency_ms": {k: v / 1000 for k, v in w["latency_us"].items()},
        "wall_s": wall,
    })
    wrk_cpu = ru.ru_utime + ru.ru_stime
    srv_cpu = cpu_delta(cpu0, cpu1)
    res["server_processes_exited"] = len(set(cpu0) - set(cpu1))
    machine = busy1 - busy0
    span = (tot1 - tot0) / (os.cpu_count() or 1)  # wall seconds as /proc/stat saw them
    res["cpu"] = {
        "wrk_s": wrk_cpu, "server_s": srv_cpu, "machine_busy_s": machine,
        "wrk_cores": wrk_cpu / wall, "server_cores": srv_cpu / wall,
        "machine_busy_cores": machine / span if span > 0 else None,
        "other_cores": max(0.0, machine - wrk_cpu - srv_cpu) / span if span > 0 else None,
        "wrk_us_per_req": 1e6 * wrk_cpu / max(1, w["requests"]),
        "server_us_per_req": 1e6 * srv_cpu / max(1, w["requests"]),
    }
    time.sleep(a.settle)
    res["sockets_after"] = group_sockets(a.pgid)
    res["sockets_leaked"] = res["sockets_after"] - res["sockets_before"]
    res["ss_after"] = ss_states(port)
    st, lat, e = probe(host, port, 5)
    res["health_after"] = {"status": st, "ms": lat * 1000, "error": e}
    print(json.dumps(res))
    return 0


# --- slowloris -----------------------------------------------------------------------------
def starts(kind, host, port):
    h = b"%s:%d" % (host.encode(), port)
    if kind == "head":
        return b"GET /health HTTP/1.1\r\nHost: " + h + b"\r\nX-Slow: ", b"a"
    # an unfinished body: a search whose Content-Length promises 100,000 bytes
    return (b"POST /api/2.0/mlflow/runs/search HTTP/1.1\r\nHost: " + h +
            b"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", b" ")


def cmd_slowloris(a):
    host, port = split_url(a.url)
    res = {"kind": a.kind, "connections": a.conns, "source": a.source,
           "probe_seconds": a.probe_seconds, "probe_timeout_s": a.probe_timeout, "hold_s": a.hold}
    base = [probe(host, port, a.probe_timeout) for _ in range(3)]
    res["baseline_probes_ms"] = [round(t * 1000, 3) if st == 200 else None for st, t, _ in base]
    res["sockets_before"] = group_sockets(a.pgid)
    first, trickle = starts(a.kind, host, port)

    # open every connection at once (non-blocking), then send the request start
    sel = selectors.DefaultSelector()
    pending = {}
    failed = 0
    t_open = time.monotonic()
    sources = a.source.split(",")
    for n in range(a.conns):
        s = socket.socket()
        try:
            s.bind((sources[n % len(sources)], 0))
            s.setblocking(False)
            rc = s.connect_ex((host, port))
            if rc not in (0, 115):  # EINPROGRESS
                raise OSError(rc, os.strerror(rc))
            pending[s.fileno()] = s
            sel.register(s, selectors.EVENT_WRITE)
        except OSError:
            failed += 1
            s.close()
    live = {}
    deadline = time.monotonic() + 10
    while pending and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.5):
            s = key.fileobj
            sel.unregister(s)
            del pending[s.fileno()]
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                try:
                    s.send(first)
                    live[s.fileno()] = s
                    sel.register(s, selectors.EVENT_READ)
                    continue
                except OSError:
                    pass
            failed += 1
            s.close()
    for s in pending.values():  # never connected within 10 s
        sel.unregister(s)
        s.close()
        failed += 1
    res["connect_failed"] = failed
    res["connected"] = len(live)
    res["connect_s"] = time.monotonic() - t_open
    t0 = time.monotonic()

    answered = {}  # first bytes the server wrote to an attack connection, counted by status line

    def reap():
        for key, _ in sel.select(timeout=0):
            s = key.fileobj
            try:
                data = s.recv(65536)
            except OSError:
                data = b""
            if data:
                ln = data.split(b"\r\n", 1)[0][:40].decode(errors="replace")
                answered[ln] = answered.get(ln, 0) + 1
                # the server answered something (e.g. 408): wait for its close
                continue
            sel.unregister(s)
            del live[s.fileno()]
            s.close()
            closed_at.append(time.monotonic() - t0)

    closed_at = []
    probes = []
    lock = threading.Lock()

    def one_probe(k):
        st, lat, e = probe(host, port, a.probe_timeout)
        with lock:
            probes.append({"t": k, "status": st, "ms": round(lat * 1000, 3), "error": e})

    threads = []

    def scheduler():
        for k in range(a.probe_seconds):
            wait = t0 + 0.5 + k - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            th = threading.Thread(target=one_probe, args=(k,), daemon=True)
            th.start()
            threads.append(th)

    sched = threading.Thread(target=scheduler, daemon=True)
    time.sleep(0.3)
    reap()
    res["closed_at_once"] = len(closed_at)  # e.g. refused by a per-client connection limit
    cpu0 = group_cpu(a.pgid)
    sched.start()
    timeline = []
    k = 0
    while True:
        now = time.monotonic() - t0
        if now >= a.hold:
            break
        reap()
        for s in list(live.values()):
            try:
                s.send(trickle)
            except OSError:
                pass  # counted once the close is read
        timeline.append([round(now, 1), len(live)])
        if k == a.probe_seconds // 2:
            res["server_sockets_mid_attack"] = group_sockets(a.pgid)
        k += 1
        time.sleep(max(0.0, t0 + k - time.monotonic()))
        if k == a.probe_seconds:
            res["open_at_probe_end"] = len(live)
    reap()
    cpu1 = group_cpu(a.pgid)
    res["server_cpu_cores_during_attack"] = cpu_delta(cpu0, cpu1) / (time.monotonic() - t0 - 0.3)
    res["server_processes_exited"] = len(set(cpu0) - set(cpu1))
    sched.join()
    for th in threads:
        th.join()
    res["open_at_hold_end"] = len(live)
    res["closed_by_server"] = len(closed_at)
    res["closed_by_server_after_once"] = len(closed_at) - res["closed_at_once"]
    res["first_close_after_s"] = round(min((c for c in closed_at if c > 0.3), default=-1), 2)
    res["last_close_after_s"] = round(max(closed_at, default=-1), 2)
    res["answers_on_attack_connections"] = answered
    res["open_timeline"] = timeline
    for s in list(live.values()):
        s.close()
    sel.close()

    probes.sort(key=lambda p: p["t"])
    res["probes"] = probes
    ok = [p["ms"] for p in probes if p["status"] == 200]
    res["probe_ok"] = len(ok)
    res["probe_n"] = len(probes)
    res["probe_success_share"] = len(ok) / len(probes) if probes else None
    res["probe_median_ms"] = statistics.median(ok) if ok else None
    res["probe_max_ok_ms"] = max(ok) if ok else None
    res["probe_errors"] = sorted({p["error"] for p in probes if p["error"]})
    time.sleep(1)
    after = [probe(host, port, 5) for _ in range(3)]
    res["after_probes"] = [{"status": st, "ms": round(t * 1000, 3), "error": e} for st, t, e in after]
    res["recovered"] = any(st == 200 for st, _, _ in after)
    print(json.dumps(res))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("setup")
    p.add_argument("url")
    p = sub.add_parser("wrk")
    p.add_argument("url")
    p.add_argument("--pgid", type=int, required=True)
    p.add_argument("--conns", type=int, required=True)
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--timeout", type=int, default=5, help="wrk --timeout seconds")
    p.add_argument("--settle", type=float, default=3)
    p.add_argument("--script", default=os.path.join(HERE, "http_mixed.lua"))
    p.add_argument("--run-id", required=True)
    p.add_argument("--exp-id", default="0")
    p.add_argument("--label", default="")
    p = sub.add_parser("slowloris")
    p.add_argument("url")
    p.add_argument("--pgid", type=int, required=True)
    p.add_argument("--conns", type=int, default=1100)
    p.add_argument("--source", default="127.0.0.2",
                   help="attacker address(es), comma-separated: connections go round-robin")
    p.add_argument("--kind", choices=["head", "body"], default="head")
    p.add_argument("--probe-seconds", type=int, default=15)
    p.add_argument("--probe-timeout", type=float, default=2)
    p.add_argument("--hold", type=float, default=22)
    a = ap.parse_args()
    if a.cmd == "setup":
        return cmd_setup(a)
    if a.cmd == "wrk":
        return cmd_wrk(a)
    return cmd_slowloris(a)


if __name__ == "__main__":
    sys.exit(main() or 0)
