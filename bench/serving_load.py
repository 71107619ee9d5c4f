#!/usr/bin/env python3
"""bench/serving_load.py - the measuring side of bench/serving.sh (stdlib only).

  serving_load.py bodies DATADIR OUTDIR          OIP v2 bodies of request_1/100 -> OUTDIR/oip_{1,100}.json
  serving_load.py check URL KIND BODY EXPECTED   one POST, predictions vs expected (<= 1e-6); KIND mlflow|oip
  serving_load.py quiet [--max PCT] [--wait S]   waits until the machine is idle (other load <= PCT % of a core)
  serving_load.py wrk URL BODY --pid P ...       REPEATS wrk runs of one cell -> one JSON object on stdout
  serving_load.py profile URL BODY --pid P ...   perf record of the server during one wrk run -> JSON

wrk: `taskset -c WRK_CPUS wrk -t1 -cCONNS -dDURATION --latency -s post.lua URL -- BODY` (the
serving anchor's closed loop and its post.lua), REPEATS times.  For every run it records, as the
anchor's bench_serving.sh does: requests/s, p50 and p99 (wrk's --latency distribution), non-2xx
answers and socket errors, the CPU seconds of the server (the process PID and all its
descendants, from /proc), of wrk (its rusage), and the "foreign" CPU: all busy time of the
machine (/proc/stat) minus both, in % of ONE core - other people's processes.  A run with
foreign > MAX_FOREIGN % is discarded and retried, up to MAX_RETRIES times
(the last try is kept, marked noisy).  Every run starts in a quiet moment: it waits (at most
QUIET_WAIT s, RETRY_WAIT s after a discarded run) until two 1-s samples show the whole machine
<= QUIET_PCT % of a core busy while the server is idle.  With --metrics URL (cairn) it also reads cairn's /metrics
before and after each run: the mean time in predict and in the request handler per request.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
import urllib.request

CLK = os.sysconf("SC_CLK_TCK")
HERE = os.path.dirname(os.path.abspath(__file__))


# --- /proc ---------------------------------------------------------------------------------
def proc_table():
    """{pid: (ppid, utime+stime seconds)} of every process."""
    t = {}
    for e in os.listdir("/proc"):
        if not e.isdigit():
            continue
        try:
            with open(f"/proc/{e}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        t[int(e)] = (int(rest[1]), (int(rest[11]) + int(rest[12])) / CLK)
    return t


def tree_cpu(root):
    """{pid: cpu seconds} of root and all its descendants (gunicorn's and uvicorn's workers,
    nginx's workers)."""
    t = proc_table()
    kids = {}
    for pid, (ppid, _) in t.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = {}, [root]
    while todo:
        p = todo.pop()
        if p in t:
            out[p] = t[p][1]
            todo.extend(kids.get(p, []))
    return out


def cpu_delta(before, after):
    """Growth of every process alive at both snapshots, plus all of one started in between."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def stat_busy():
    """(busy, softirq+irq) jiffies of all CPUs: user nice system irq softirq steal."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2] + v[5] + v[6] + v[7], v[5] + v[6]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def top_others(exclude, n=3):
    """The n busiest other processes over 1 s (for the log of a noisy run)."""
    a = proc_table()
    time.sleep(1)
    b = proc_table()
    rows = []
    for pid, (_, c) in b.items():
        if pid in exclude or pid == os.getpid():
            continue
        d = c - a.get(pid, (0, c))[1]
        if d > 0.02:
            try:
                with open(f"/proc/{pid}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                comm = "?"
            rows.append((d, pid, comm))
    rows.sort(reverse=True)
    return ["%s(%d) %.0f%%" % (c, p, 100 * d) for d, p, c in rows[:n]]


# --- bodies and checks ---------------------------------------------------------------------
def cmd_bodies(a):
    os.makedirs(a.outdir, exist_ok=True)
    for n in (1, 100):
        with open(os.path.join(a.datadir, f"request_{n}.json")) as f:
            ds = json.load(f)["dataframe_split"]
        body = {"inputs": [{"name": "input-0", "shape": [len(ds["data"]), len(ds["columns"])],
                            "datatype": "FP32", "data": ds["data"]}]}
        with open(os.path.join(a.outdir, f"oip_{n}.json"), "w") as f:
            json.dump(body, f, separators=(",", ":"))
    return 0


def cmd_check(a):
    with open(a.body, "rb") as f:
        body = f.read()
    with open(a.expected) as f:
        want = json.load(f)["predictions"]
    r = urllib.request.Request(a.url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(r, timeout=30) as resp:
            status, got = resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        print(f"{os.path.basename(a.body)}: HTTP {e.code} {e.read()[:200]!r} MISMATCH")
        return 1
    got = got["predictions"] if a.kind == "mlflow" else got["outputs"][0]["data"]
    diff = max(abs(x - y) for x, y in zip(got, want)) if len(got) == len(want) else float("inf")
    ok = status == 200 and len(got) == len(want) and diff <= 1e-6
    print(f"{os.path.basename(a.body)}: HTTP {status}, {len(got)} predictions, max|diff|={diff:.3g} "
          f"{'OK' if ok else 'MISMATCH'}")
    return 0 if ok else 1


def wait_quiet(max_pct, max_wait, sample=1.0, need=2):
    """Wait until NEED consecutive SAMPLE-second windows show <= MAX_PCT % of a core busy on the
    whole machine (called while the server under test is idle), at most MAX_WAIT s.  Returns
    the seconds waited."""
    t0 = time.time()
    ok = 0
    while time.time() - t0 < max_wait:
        b0, _ = stat_busy()
        time.sleep(sample)
        b1, _ = stat_busy()
        ok = ok + 1 if 100.0 * (b1 - b0) / CLK / sample <= max_pct else 0
        if ok >= need:
            break
    return time.time() - t0


def cmd_quiet(a):
    """Wait until one second of machine time shows <= MAX % of a core busy (nothing of ours
    runs now), at most WAIT s; print what was seen."""
    t0 = time.time()
    while True:
        b0, _ = stat_busy()
        time.sleep(a.sample)
        b1, _ = stat_busy()
        pct = 100.0 * (b1 - b0) / CLK / a.sample
        if pct <= a.max or time.time() - t0 >= a.wait:
            print(json.dumps({"busy_pct": round(pct, 1), "waited_s": round(time.time() - t0, 1),
                              "quiet": pct <= a.max, "loadavg": loadavg()}))
            return 0
        time.sleep(2)


# --- wrk -----------------------------------------------------------------------------------
def to_ms(v):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m:
        return None
    x, u = float(m.group(1)), m.group(2)
    return {"us": x / 1000, "ms": x, "s": x * 1000, "m": x * 60000}[u]


def parse_wrk(out):
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+)", out)
    r["requests"] = int(m.group(1)) if m else 0
    for p in ("50", "75", "90", "99"):
        m = re.search(r"^\s+%s%%\s+(\S+)" % p, out, re.M)
        r["p" + p + "_ms"] = to_ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    r["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    r["socket_errors"] = dict(zip(("connect", "read", "write", "timeout"), map(int, m.groups()))) if m else {}
    return r


def scrape(url):
    """cairn's /metrics: {name: value} of the _sum/_count series we use."""
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return {}
    want = ("cairn_serve_predict_duration_seconds_sum", "cairn_serve_predict_duration_seconds_count",
            "cairn_http_request_duration_seconds_sum", "cairn_http_request_duration_seconds_count",
            "cairn_serve_rows_predicted_total")
    out = {}
    for line in text.splitlines():
        for w in want:
            if line.startswith(w + "{") and ('route="/invocations"' in line or 'route="/v2/models/{name}/infer"' in line
                                             or not w.startswith("cairn_http")):
                out[w] = out.get(w, 0.0) + float(line.rsplit(" ", 1)[1])
    return out


def one_wrk(a):
    cmd = ["wrk", "-t1", f"-c{a.conns}", f"-d{a.duration}s", "--latency", "-s", a.lua, a.url, "--", a.body]
    if a.wrk_cpus:
        cmd = ["taskset", "-c", a.wrk_cpus] + cmd
    m0 = scrape(a.metrics) if a.metrics else {}
    s0 = tree_cpu(a.pid)
    b0, i0 = stat_busy()
    w0 = time.time()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = p.stdout.read().decode(errors="replace")
    _, status, ru = os.wait4(p.pid, 0)
    w1 = time.time()
    b1, i1 = stat_busy()
    s1 = tree_cpu(a.pid)
    m1 = scrape(a.metrics) if a.metrics else {}
    wall = w1 - w0
    srv = cpu_delta(s0, s1)
    wrk = ru.ru_utime + ru.ru_stime
    busy = (b1 - b0) / CLK
    foreign = max(0.0, busy - srv - wrk)
    r = parse_wrk(out)
    r.update({"wall_s": round(wall, 2), "server_cpu_s": round(srv, 2), "wrk_cpu_s": round(wrk, 2),
              "server_cores": round(srv / wall, 3), "wrk_cores": round(wrk / wall, 3),
              "foreign_pct": round(100 * foreign / wall, 1), "irq_softirq_pct": round(100 * (i1 - i0) / CLK / wall, 1),
              "wrk_exit": os.waitstatus_to_exitcode(status)})
    if r["requests"]:
        r["server_cpu_us_per_req"] = round(1e6 * srv / r["requests"], 1)
        r["wrk_cpu_us_per_req"] = round(1e6 * wrk / r["requests"], 2)
    if m1:
        dn = m1.get("cairn_http_request_duration_seconds_count", 0) - m0.get("cairn_http_request_duration_seconds_count", 0)
        dp = m1.get("cairn_serve_predict_duration_seconds_count", 0) - m0.get("cairn_serve_predict_duration_seconds_count", 0)
        if dn > 0:
            r["handler_us_per_req"] = round(1e6 * (m1.get("cairn_http_request_duration_seconds_sum", 0)
                                                   - m0.get("cairn_http_request_duration_seconds_sum", 0)) / dn, 1)
        if dp > 0:
            r["predict_us_per_call"] = round(1e6 * (m1.get("cairn_serve_predict_duration_seconds_sum", 0)
                                                    - m0.get("cairn_serve_predict_duration_seconds_sum", 0)) / dp, 1)
    if r["rps"] == 0 or r["wrk_exit"] != 0:
        r["wrk_output"] = out[-2000:]
    return r


def cmd_wrk(a):
    kept, discarded = [], []
    for i in range(a.repeats):
        for t in range(a.max_retries + 1):
            # start in a quiet moment: other sessions' builds and tests come and go
            waited = wait_quiet(a.quiet_pct, a.retry_wait if t else a.quiet_wait)
            r = one_wrk(a)
            r["run"] = i + 1
            r["waited_for_quiet_s"] = round(waited, 1)
            if r["foreign_pct"] > a.max_foreign and t < a.max_retries:
                r["others"] = top_others({a.pid} | set(tree_cpu(a.pid)))
                discarded.append(r)
                print(f"     run {i + 1}: {r['rps']:.0f} req/s discarded, foreign load {r['foreign_pct']:.0f}% "
                      f"({', '.join(r['others']) or '?'}); retrying when quiet (<= {a.retry_wait:.0f} s)",
                      file=sys.stderr)
                continue
            if r["foreign_pct"] > a.max_foreign:
                r["noisy"] = True
            kept.append(r)
            print(f"     run {i + 1}: {r['rps']:.0f} req/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                  f"server {r['server_cores']:.2f} cores, wrk {r['wrk_cores']:.2f}, foreign {r['foreign_pct']:.0f}%"
                  + (" NOISY" if r.get("noisy") else "")
                  + ("" if "predict_us_per_call" not in r else
                     f", handler {r.get('handler_us_per_req')} us, predict {r['predict_us_per_call']} us"),
                  file=sys.stderr)
            break
    med = lambda k: statistics.median([r[k] for r in kept if r.get(k) is not None]) if any(
        r.get(k) is not None for r in kept) else None
    cell = {"label": a.label, "body": a.body_name or os.path.basename(a.body), "url": a.url,
            "conns": a.conns, "duration_s": a.duration, "wrk_cpus": a.wrk_cpus, "runs": kept,
            "discarded": discarded, "loadavg_after": loadavg()}
    for k in ("rps", "p50_ms", "p99_ms", "server_cores", "wrk_cores", "foreign_pct", "server_cpu_us_per_req",
              "wrk_cpu_us_per_req", "handler_us_per_req", "predict_us_per_call"):
        cell[k] = med(k)
    cell["rps_min"] = min(r["rps"] for r in kept)
    cell["rps_max"] = max(r["rps"] for r in kept)
    cell["errors"] = sum(r["non2xx"] + sum(r["socket_errors"].values()) for r in kept)
    cell["noisy_runs"] = sum(1 for r in kept if r.get("noisy"))
    json.dump(cell, sys.stdout)
    print()
    return 0


# --- perf profile --------------------------------------------------------------------------
# Where one request's CPU goes, from inclusive times (DWARF call graphs through cairn's own
# frames): the handler (score for /invocations, infer for /v2/.../infer) splits into decode
# (body -> float32 matrix: JSON parse, schema, casts), predict (xgb_predict: libxgboost), the
# predict call's bookkeeping (serve_predict minus xgb_predict: metrics) and encode (the rest of
# the handler: the answer's JSON); serve_after is the request-metrics hook; everything else the
# process did is the HTTP layer (libmicrohttpd's parsing and connection handling, its memory
# pool, cairn's dispatch, the kernel's socket work on the server's side).
def breakdown(incl):
    g = lambda s: incl.get(s, 0.0)
    handler = max(g("score"), g("infer"))
    decode = max(g("serve_decode_mlflow"), g("serve_decode_oip"))
    predict = g("xgb_predict")
    book = max(0.0, g("serve_predict") - predict)
    encode = max(0.0, handler - decode - g("serve_predict"))
    hook = max(g("serve_after"), g("http_metrics_observe"))
    http = max(0.0, 100.0 - handler - hook)
    return [{"part": "HTTP layer (libmicrohttpd, kernel TCP, dispatch, memory pool)", "pct": round(http, 1)},
            {"part": "decode (JSON parse, schema, casts -> float32)", "pct": round(decode, 1)},
            {"part": "predict (xgb_predict: libxgboost)", "pct": round(predict, 1)},
            {"part": "predict bookkeeping (metrics)", "pct": round(book, 1)},
            {"part": "encode (answer JSON)", "pct": round(encode, 1)},
            {"part": "request-metrics hook (serve_after)", "pct": round(hook, 1)}]


def cmd_profile(a):
    data = os.path.join(a.outdir, "perf.data")
    wrk = ["taskset", "-c", a.wrk_cpus, "wrk", "-t1", f"-c{a.conns}", f"-d{a.duration + 2}s", "-s", a.lua, a.url,
           "--", a.body]
    w = subprocess.Popen(wrk, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    time.sleep(1)
    rec = subprocess.run(["perf", "record", "-F", str(a.freq), "--call-graph", "dwarf,32768", "-p", str(a.pid),
                          "-o", data, "--", "sleep", str(a.duration)], capture_output=True, text=True)
    out = w.stdout.read().decode(errors="replace")
    w.wait()
    if rec.returncode:
        print(json.dumps({"error": "perf record failed: " + rec.stderr[-500:]}))
        return 1
    rep = subprocess.run(["perf", "report", "-i", data, "--children", "--sort", "sym", "--stdio", "-g", "none",
                          "--percent-limit", "0.3"], capture_output=True, text=True).stdout
    incl = {}
    for line in rep.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+([\d.]+)%\s+\[[.k]\]\s+(\S+)", line)
        if m:
            incl.setdefault(m.group(3), (float(m.group(1)), float(m.group(2))))
    self_rep = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym", "--stdio",
                               "-g", "none", "--percent-limit", "0.7"], capture_output=True, text=True).stdout
    top = [l.strip() for l in self_rep.splitlines() if l.strip() and not l.startswith("#")][:25]
    buckets = breakdown({k: v[0] for k, v in incl.items()})
    res = parse_wrk(out)
    print(json.dumps({"label": a.label, "body": os.path.basename(a.body), "rps_while_profiled": res["rps"],
                      "buckets": buckets, "inclusive": {k: v[0] for k, v in sorted(incl.items(), key=lambda kv: -kv[1][0])[:40]},
                      "top_self": top}))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("bodies")
    b.add_argument("datadir")
    b.add_argument("outdir")
    c = sub.add_parser("check")
    c.add_argument("url")
    c.add_argument("kind", choices=("mlflow", "oip"))
    c.add_argument("body")
    c.add_argument("expected")
    q = sub.add_parser("quiet")
    q.add_argument("--max", type=float, default=5)
    q.add_argument("--wait", type=float, default=120)
    q.add_argument("--sample", type=float, default=2)
    for name in ("wrk", "profile"):
        w = sub.add_parser(name)
        w.add_argument("url")
        w.add_argument("body")
        w.add_argument("--pid", type=int, required=True)
        w.add_argument("--label", default="")
        w.add_argument("--body-name", default="")
        w.add_argument("--conns", type=int, default=16)
        w.add_argument("--duration", type=int, default=10)
        w.add_argument("--wrk-cpus", default="1")
        w.add_argument("--lua", required=True)
        if name == "wrk":
            w.add_argument("--repeats", type=int, default=3)
            w.add_argument("--metrics", default="")
            w.add_argument("--max-foreign", type=float, default=float(os.environ.get("MAX_FOREIGN", 5)))
            w.add_argument("--max-retries", type=int, default=int(os.environ.get("MAX_RETRIES", 10)))
            w.add_argument("--retry-wait", type=float, default=float(os.environ.get("RETRY_WAIT", 60)))
            w.add_argument("--quiet-wait", type=float, default=float(os.environ.get("QUIET_WAIT", 30)))
            w.add_argument("--quiet-pct", type=float, default=float(os.environ.get("QUIET_PCT", 10)))
        else:
            w.add_argument("--outdir", required=True)
            w.add_argument("--freq", type=int, default=999)
    a = ap.parse_args()
    return {"bodies": cmd_bodies, "check": cmd_check, "quiet": cmd_quiet, "wrk": cmd_wrk,
            "profile": cmd_profile}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
