#!/usr/bin/env python3
"""bench/bulk_interval.py - get-history-bulk-interval over one 1,000,000-point metric.

    python3 bench/bulk_interval.py [--points 1000000] [--reps 15] [--cairn build/cairn] [--vs OTHER_BINARY]

Starts its own `cairn server` on a fresh root, logs POINTS points of one metric into one run
(log-batch, 1,000 points a request, each request timed: the write cost), then times, REPS times
each on one keep-alive connection (min and median wall ms):
  * the whole series sampled to 320 points (what MLflow's UI asks; the UI anchor's MLflow server
    took 48.6 s for it, ../shared/anchors/ui/README.md) and to 2,500 (what cairn's UI asks), and
    the first such request after the seeding;
  * a zoomed request: 1 % and 10 % of the steps (start_step/end_step), 2,500 points;
  * /api/cairn/v1/metrics/summary over the whole series (before any sample too) and over the
    1 % range;
  * the first whole-series request after a write (log-metric of one point, then the sample,
    REPS times): what a request pays when the series changed since the last one;
  * log-metric of one point into the long series.
With --vs, a second binary (the baseline: say the build of the commit before) runs beside it
on its own root, and every step alternates between the two servers request by request (A B,
then B A): the machine's drift hits both alike, and the write cost is compared pair by pair
(the median of the per-batch ratios). Only one server works at a time.
Each answer is checked: the series carries one spike and one dip off the even grid, both must
survive every whole-series sample; a zoomed answer stays inside its range; the point appended
last is in the next sample. The servers are then stopped and each database's size on disk read.
Results: bench/results/bulk-interval-DATE.json. stdlib only.
"""
import argparse
import json
import math
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from search_scale import Api as _Api, free_port  # noqa: E402

MLFLOW_ANCHOR_S = 48.6  # ../shared/anchors/ui/README.md: get-history-bulk-interval, 1M points -> 320, server time


class Api(_Api):
    """search_scale's client, also for paths outside /api/2.0/mlflow (those starting with "/")."""

    def call(self, method, path, body=None):
        if not path.startswith("/"):
            return super().call(method, path, body)
        self.c.request(method, path)
        r = self.c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("%s %s: %d %s" % (method, path, r.status, data[:300]))
        return data


class Server:
    def __init__(self, binary, label):
        self.binary, self.label = binary, label
        self.tmp = tempfile.mkdtemp(prefix="cairn-bulk-")
        self.root = os.path.join(self.tmp, "root")
        self.port = free_port()
        self.proc = subprocess.Popen([binary, "server", "--root", self.root, "--port", str(self.port), "--no-monitors"],
                                     stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.tmp, "server.log"), "wb"))
        for _ in range(200):
            try:
                Api(self.port).call("GET", "experiments/search?max_results=1")
                break
            except (OSError, RuntimeError):
                time.sleep(0.05)
        self.api = Api(self.port)
        exp = json.loads(self.api.call("POST", "experiments/create", {"name": "long"}))["experiment_id"]
        self.run = json.loads(self.api.call("POST", "runs/create", {"experiment_id": exp, "start_time": 1}))["run"]["info"]["run_id"]
        self.times = {}

    def timed(self, name, method, path, body=None):
        t = time.perf_counter()
        data = self.api.call(method, path, body)
        self.times.setdefault(name, []).append((time.perf_counter() - t) * 1000)
        return data

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=120)
        size = {f: os.path.getsize(os.path.join(self.root, f)) for f in os.listdir(self.root) if f.startswith("cairn.db")}
        db = sqlite3.connect(os.path.join(self.root, "cairn.db"))
        if db.execute("SELECT count(*) FROM sqlite_master WHERE name = 'metric_pyramids'").fetchone()[0]:
            size["metric_pyramids buckets"] = db.execute("SELECT total(length(buckets)) FROM metric_pyramids").fetchone()[0]
        db.close()
        return size


def series_value(i, n):
    v = math.sin(i / 1000.0)
    if i == n * 2 // 3 + 7:
        v += 5.0
    if i == n // 3 + 11:
        v -= 5.0
    return v


def stats(ts):
    s = sorted(ts)
    return {"min_ms": round(s[0], 2), "median_ms": round(statistics.median(s), 2), "max_ms": round(s[-1], 2), "n": len(s)}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1000000)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--cairn", default=os.path.join(REPO, "build", "cairn"))
    ap.add_argument("--vs", help="a second cairn binary run beside it, request by request")
    ap.add_argument("--results", default=os.path.join(HERE, "results", time.strftime("bulk-interval-%Y-%m-%d-%H%M.json")))
    a = ap.parse_args()
    n = a.points
    servers = [Server(a.cairn, "A: " + a.cairn)] + ([Server(a.vs, "B: " + a.vs)] if a.vs else [])
    ok = {}

    def each(k, fn):
        """fn(server) on every server, in turn A B, then B A on the next call (k)."""
        return [fn(s) for s in (servers if k % 2 == 0 else servers[::-1])]

    def check(name, cond):
        ok[name] = ok.get(name, True) and bool(cond)

    sizes = []
    try:
        t0 = time.time()
        for k, b in enumerate(range(0, n, 1000)):
            body = {"metrics": [{"key": "loss", "value": series_value(i, n), "timestamp": 1000 + i, "step": i}
                                for i in range(b, min(n, b + 1000))]}
            each(k, lambda s: s.timed("log-batch", "POST", "runs/log-batch", dict(body, run_id=s.run)))
        print("seeded %d points on %d server(s) in %.1f s" % (n, len(servers), time.time() - t0))

        def q(s, **kw):
            # cairn's envelope sampling (what its UI asks for); MLflow ignores the flag
            return "metrics/get-history-bulk-interval?run_ids=%s&metric_key=loss&cairn_envelope=true%s" % (
                s.run, "".join("&%s=%s" % kv for kv in kw.items()))

        def whole(name, m, reps, k0=0):
            for k in range(reps):
                for s, data in zip(servers if (k0 + k) % 2 == 0 else servers[::-1],
                                   each(k0 + k, lambda s: s.timed(name, "GET", q(s, max_results=m)))):
                    pts = json.loads(data)["metrics"]
                    steps = [p["step"] for p in pts]
                    check(name, len(pts) <= m and steps[0] == 0 and steps == sorted(steps)
                          and max(p["value"] for p in pts) > 4 and min(p["value"] for p in pts) < -4)
                    s.times.setdefault(name + " points", []).append(len(pts))
                    s.last_step = steps[-1]

        def summary(name, extra, want):
            for k in range(a.reps):
                for data in each(k, lambda s: s.timed(name, "GET", "/api/cairn/v1/metrics/summary?run_ids=%s&metric_key=loss%s"
                                                      % (s.run, extra))):
                    check(name, json.loads(data)["summaries"][0]["count"] == want)

        summary("summary, whole series, before any sample (a count)", "", n)
        whole("full -> 320, first request after seeding", 320, 1)
        whole("full -> 320", 320, a.reps)
        whole("full -> 2500", 2500, a.reps)
        for share in (0.01, 0.10):
            lo = n // 2
            hi = lo + int(n * share) - 1
            name = "zoom %g %% (%d steps) -> 2500" % (share * 100, hi - lo + 1)
            for k in range(a.reps):
                for data in each(k, lambda s: s.timed(name, "GET", q(s, max_results=2500, start_step=lo, end_step=hi))):
                    pts = json.loads(data)["metrics"]
                    check(name, pts and all(lo <= p["step"] <= hi for p in pts) and pts[0]["step"] == lo
                          and pts[-1]["step"] == hi)
        summary("summary, whole series", "", n)
        summary("summary, 1 % range", "&start_step=%d&end_step=%d" % (n // 2, n // 2 + n // 100 - 1), n // 100)
        # a write, then the whole series again: the sample must hold the new point
        name = "full -> 2500, first request after a log-metric"
        for k in range(a.reps):
            step = n + k
            each(k, lambda s: s.timed("log-metric", "POST", "runs/log-metric",
                                      {"run_id": s.run, "key": "loss", "value": 0.5, "timestamp": 5000 + step, "step": step}))
            whole(name, 2500, 1, k)
            check(name, all(s.last_step == step for s in servers))
    finally:
        for s in servers:
            sizes.append(s.stop())
    names = [k for k in servers[0].times if not k.endswith(" points") and k not in ("log-batch", "log-metric")]
    out = {"points": n, "reps": a.reps, "servers": [], "load": os.getloadavg(), "checks": ok}
    head = " | ".join("%s min | median" % s.label for s in servers)
    print("\n| %d points | %s | checks |" % (n, head))
    print("|---|" + "---:|---:|" * len(servers) + "---|")
    for name in names:
        cells = " | ".join("%.1f | %.1f" % (stats(s.times[name])["min_ms"], stats(s.times[name])["median_ms"]) for s in servers)
        print("| %s | %s | %s |" % (name, cells, "ok" if ok.get(name, True) else "FAILED"))
    for s, size in zip(servers, sizes):
        lb = s.times["log-batch"]
        print("%s: log-batch of 1,000 points median %.2f ms (first 100 %.2f, last 100 %.2f), log-metric %.2f ms; "
              "database %.1f MB%s" % (s.label, statistics.median(lb), statistics.median(lb[:100]), statistics.median(lb[-100:]),
                                      statistics.median(s.times["log-metric"]),
                                      sum(v for k, v in size.items() if k.startswith("cairn.db")) / 1e6,
                                      ", of it %.0f kB of kept step buckets" % (size["metric_pyramids buckets"] / 1e3)
                                      if "metric_pyramids buckets" in size else ""))
        out["servers"].append({"binary": s.binary, "times": {k: stats(v) for k, v in s.times.items() if not k.endswith(" points")},
                               "db_bytes": size})
    if len(servers) == 2:
        ratios = [x / y for x, y in zip(servers[0].times["log-batch"], servers[1].times["log-batch"])]
        out["log_batch_ratio_median"] = statistics.median(ratios)
        print("log-batch A/B, median of the per-batch ratios: %.3f (first 100 %.3f, last 100 %.3f)"
              % (statistics.median(ratios), statistics.median(ratios[:100]), statistics.median(ratios[-100:])))
    full = stats(servers[0].times["full -> 320"])["median_ms"]
    print("A, full series -> 320: %.1f ms median; MLflow's server (UI anchor): %.1f s, %.0fx" %
          (full, MLFLOW_ANCHOR_S, MLFLOW_ANCHOR_S * 1000 / full))
    full = stats(servers[0].times["full -> 2500"])["median_ms"]
    print("A, full series -> 2500 <= 30 ms: %.1f ms (%s)" % (full, "met" if full <= 30 else "missed"))
    os.makedirs(os.path.dirname(a.results), exist_ok=True)
    with open(a.results, "w") as f:
        json.dump(out, f, indent=1)
    print("results:", a.results)
    return 0 if all(ok.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
