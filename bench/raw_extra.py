#!/usr/bin/env python3
"""raw_extra.py - server-side (raw HTTP) figures that bench_tracking.py only measures through
the MLflow client: search_runs with filter+order, the full metric history, artifact up/download.

    MLFLOW_TRACKING_URI=http://127.0.0.1:PORT python3 bench/raw_extra.py --bench-json B.json

Run it right after bench_tracking.py against the *same* server: it reuses the data that run
created (the "bench-search-<tag>" experiment and the "history" run of "bench-<tag>", tag taken
from B.json's experiments) and issues exactly the requests the client would, minus the client:
  * runs/search   - same body as client.search_runs(..., filter, order_by, max_results=100),
                    one requests.Session (keep-alive), median of --search-reps;
  * get-history   - GET metrics/get-history?max_results=25000 + page_token until done (what the
                    client does), bodies parsed with json.loads, median of --history-reps;
                    also the time of the HTTP round trips alone (fetch_only, no json.loads);
  * lean HTTP     - runs/create, runs/log-metric and runs/log-batch(1000 metrics) again, but
                    with http.client on one connection (reopened when the server closes it) and
                    pre-serialised bodies: ~0.07 ms of client per request instead of requests'
                    >= 0.5 ms, so a fast server is not hidden behind the client;
  * artifacts     - `curl -T FILE` PUT of --artifact-mb MB to /api/2.0/mlflow-artifacts/artifacts/
                    and `curl -o` GET back (curl: no Python on the data path), median of 3.
Prints one JSON object (and writes --out).
"""
import argparse
import http.client
import json
import random
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

import requests


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def med_ms(xs):
    xs = sorted(xs)
    return {"median_ms": round(statistics.median(xs) * 1000, 2), "min_ms": round(xs[0] * 1000, 2),
            "n": len(xs)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bench-json", required=True, help="bench_tracking.py output of the same server")
    ap.add_argument("--search-reps", type=int, default=20)
    ap.add_argument("--history-reps", type=int, default=5)
    ap.add_argument("--artifact-mb", type=float, default=None,
                    help="MiB; default: the size bench_tracking.py used")
    ap.add_argument("--artifact-reps", type=int, default=3)
    ap.add_argument("--lean-runs", type=int, default=200)
    ap.add_argument("--lean-log-metric", type=int, default=1000)
    ap.add_argument("--lean-batches", type=int, default=100)
    ap.add_argument("--out")
    args = ap.parse_args()
    uri = os.environ["MLFLOW_TRACKING_URI"].rstrip("/")
    api = uri + "/api/2.0/mlflow"
    with open(args.bench_json) as f:
        bench = json.load(f)
    bres = bench["results"]
    s = requests.Session()
    res = {}

    def call(method, path, **kw):
        r = s.request(method, f"{api}/{path}", timeout=600, **kw)
        r.raise_for_status()
        return r

    exps = call("POST", "experiments/search",
                json={"max_results": 1000, "filter": "name LIKE 'bench-%'"}).json().get("experiments", [])
    search_exp = next((e for e in exps if e["name"].startswith("bench-search-")), None)
    main_exp = next((e for e in exps if not e["name"].startswith("bench-search-")), None)

    # --- search_runs, filter + order, max 100 --------------------------------------------
    if search_exp and "search_runs_filtered_100" in bres:
        body = {"experiment_ids": [search_exp["experiment_id"]],
                "filter": "metrics.acc > 0.5 and params.lr = '0.01'",
                "run_view_type": "ACTIVE_ONLY", "max_results": 100, "order_by": ["metrics.acc DESC"]}
        n = len(call("POST", "runs/search", json=body).json().get("runs", []))
        lat = []
        for _ in range(args.search_reps):
            t0 = time.perf_counter()
            call("POST", "runs/search", json=body).json()
            lat.append(time.perf_counter() - t0)
        res["raw_search_runs_filtered_100"] = dict(med_ms(lat), runs_returned=n)
        body = {"experiment_ids": [search_exp["experiment_id"]], "run_view_type": "ACTIVE_ONLY",
                "max_results": 1000}
        lat = []
        for _ in range(max(3, args.search_reps // 4)):
            t0 = time.perf_counter()
            call("POST", "runs/search", json=body).json()
            lat.append(time.perf_counter() - t0)
        res["raw_search_runs_unfiltered_1000"] = med_ms(lat)
        log(f"[raw-extra] search: {res['raw_search_runs_filtered_100']['median_ms']} ms")

    # --- metric history, paged as the client pages it ------------------------------------
    if main_exp and "get_metric_history" in bres:
        runs = call("POST", "runs/search", json={
            "experiment_ids": [main_exp["experiment_id"]], "max_results": 10,
            "filter": "attributes.run_name = 'history'"}).json().get("runs", [])
        if runs:
            rid = runs[0]["info"]["run_id"]

            def history():
                """-> points, bytes, requests, seconds spent in the HTTP round trips only"""
                pts, tok, nbytes, reqs, fetch = 0, None, 0, 0, 0.0
                while True:
                    params = {"run_id": rid, "metric_key": "hist", "max_results": 25000}
                    if tok:
                        params["page_token"] = tok
                    t0 = time.perf_counter()
                    r = call("GET", "metrics/get-history", params=params)
                    body = r.content
                    fetch += time.perf_counter() - t0
                    nbytes += len(body)
                    reqs += 1
                    d = json.loads(body)
                    pts += len(d.get("metrics", []))
                    tok = d.get("next_page_token")
                    if not tok:
                        return pts, nbytes, reqs, fetch

            pts, nbytes, reqs, _ = history()
            lat, fetch = [], []
            for _ in range(args.history_reps):
                t0 = time.perf_counter()
                fetch.append(history()[3])
                lat.append(time.perf_counter() - t0)
            # fetch only: the same requests without json.loads (~1.4 s/1M points in Python),
            # i.e. server + HTTP transfer; the closest a Python client gets to the server's time
            res["raw_get_metric_history"] = dict(med_ms(lat), points=pts, requests=reqs,
                                                 response_MB=round(nbytes / 1e6, 2),
                                                 fetch_only=med_ms(fetch))
            log(f"[raw-extra] history: {res['raw_get_metric_history']['median_ms']} ms, {pts} points")

    # --- lean HTTP: http.client, pre-serialised bodies --------------------------------------
    if main_exp and (args.lean_runs or args.lean_log_metric or args.lean_batches):
        u = urllib.parse.urlsplit(uri)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
        hdrs = {"Content-Type": "application/json"}

        def lean(path, body):
            t0 = time.perf_counter()
            conn.request("POST", f"/api/2.0/mlflow/{path}", body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            dt = time.perf_counter() - t0
            if r.status != 200:
                raise RuntimeError(f"{path}: HTTP {r.status}: {data[:300]!r}")
            if r.will_close:
                conn.close()
            return dt, data

        eid = main_exp["experiment_id"]
        now = int(time.time() * 1000)
        if args.lean_runs:
            body = json.dumps({"experiment_id": eid, "start_time": now}).encode()
            lat = [lean("runs/create", body)[0] for _ in range(args.lean_runs)]
            res["lean_create_run"] = dict(med_ms(lat), per_s=round(len(lat) / sum(lat), 1))
        _, data = lean("runs/create", json.dumps({"experiment_id": eid, "start_time": now}).encode())
        rid = json.loads(data)["run"]["info"]["run_id"]
        if args.lean_log_metric:
            bodies = [json.dumps({"run_id": rid, "key": "lean_single", "value": float(i),
                                  "timestamp": now, "step": i}).encode()
                      for i in range(args.lean_log_metric)]
            lat = [lean("runs/log-metric", b)[0] for b in bodies]
            res["lean_log_metric"] = dict(med_ms(lat), per_s=round(len(lat) / sum(lat), 1))
        if args.lean_batches:
            bodies = [json.dumps({"run_id": rid, "metrics": [
                {"key": "lean_batch", "value": random.random(), "timestamp": now, "step": b * 1000 + i}
                for i in range(1000)]}).encode() for b in range(args.lean_batches)]
            lat = [lean("runs/log-batch", b)[0] for b in bodies]
            res["lean_log_batch_1000"] = dict(med_ms(lat), points_per_s=round(1000 * len(lat) / sum(lat), 1))
        conn.close()
        log(f"[raw-extra] lean: " + ", ".join(f"{k} {v['median_ms']} ms" for k, v in res.items()
                                               if k.startswith("lean_")))

    # --- artifacts with curl ------------------------------------------------------------
    mb = args.artifact_mb
    if mb is None and "artifact_file_MB" in bres:
        mb = bench["meta"]["args"]["artifact_mb"]  # what bench_tracking.py used (MiB)
    if mb:
        size = int(mb * 1024 * 1024)
        tmp = tempfile.mkdtemp(prefix="bench-raw-art-")
        path = os.path.join(tmp, "blob.bin")
        with open(path, "wb") as f:
            f.write(os.urandom(size))
        base = uri + "/api/2.0/mlflow-artifacts/artifacts/bench-raw"
        up, down = [], []
        for r in range(args.artifact_reps):
            url = f"{base}/rep{r}/blob.bin"
            t = subprocess.run(["curl", "-sS", "-f", "-o", "/dev/null", "-w", "%{time_total}",
                                "-T", path, url], check=True, capture_output=True, text=True)
            up.append(float(t.stdout))
            dst = os.path.join(tmp, "dl.bin")
            t = subprocess.run(["curl", "-sS", "-f", "-o", dst, "-w", "%{time_total}", url],
                               check=True, capture_output=True, text=True)
            down.append(float(t.stdout))
            assert os.path.getsize(dst) == size, (os.path.getsize(dst), size)
            os.remove(dst)
        os.remove(path)
        os.rmdir(tmp)
        res["raw_artifact_upload_MB_per_s"] = round(size / 1e6 / statistics.median(up), 1)
        res["raw_artifact_download_MB_per_s"] = round(size / 1e6 / statistics.median(down), 1)
        res["raw_artifact_file_MB"] = round(size / 1e6, 1)
        log(f"[raw-extra] artifacts: up {res['raw_artifact_upload_MB_per_s']} MB/s, "
            f"down {res['raw_artifact_download_MB_per_s']} MB/s")

    text = json.dumps(res, indent=1)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
