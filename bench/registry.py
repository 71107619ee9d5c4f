#!/usr/bin/env python3
"""bench/registry.py - model-registry micro-benchmark over raw HTTP (requests, keep-alive).

    registry.py BASE_URL [--name LABEL] [--n 200] [--threads 8] [--per-thread 50]
                [--alias-reps 500] [--search-reps 100] [--models 100]

Prints one JSON line: {"server": LABEL, "results": {...}, "errors": [...]}.
Phases (all against a fresh server):
  create_version_ms   N sequential model-versions/create of one model (source s3://b/m)
  conc_create_ops_s   THREADS threads x PER_THREAD creates of the same model, concurrently;
                      conc_versions_ok = the versions returned are distinct and consecutive
  get_alias_ms        GET registered-models/alias, ALIAS_REPS times
  search_versions_ms  GET model-versions/search filter "name='M' AND version_number > 100"
  search_models_ms    GET registered-models/search (max_results=100) with MODELS models present
"""
import argparse, json, sys, threading, time
import requests

API = "/api/2.0/mlflow"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("base")
    ap.add_argument("--name", default="server")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--per-thread", type=int, default=50)
    ap.add_argument("--alias-reps", type=int, default=500)
    ap.add_argument("--search-reps", type=int, default=100)
    ap.add_argument("--models", type=int, default=100)
    a = ap.parse_args()
    base = a.base.rstrip("/") + API
    s = requests.Session()
    res, errors = {}, []
    model = "bench-model"

    def post(sess, path, body):
        r = sess.post(base + path, json=body)
        if r.status_code != 200:
            raise RuntimeError(f"POST {path} -> {r.status_code}: {r.text[:300]}")
        return r.json()

    def get(sess, path, params):
        r = sess.get(base + path, params=params)
        if r.status_code != 200:
            raise RuntimeError(f"GET {path} -> {r.status_code}: {r.text[:300]}")
        return r.json()

    post(s, "/registered-models/create", {"name": model})

    # (1) sequential version creates
    t0 = time.perf_counter()
    for _ in range(a.n):
        post(s, "/model-versions/create", {"name": model, "source": "s3://b/m"})
    res["create_version_ms"] = (time.perf_counter() - t0) * 1000 / a.n

    # (2) concurrent version creates
    got, lock, fails = [], threading.Lock(), []

    def worker():
        ts = requests.Session()
        mine = []
        try:
            for _ in range(a.per_thread):
                mv = post(ts, "/model-versions/create", {"name": model, "source": "s3://b/m"})
                mine.append(int(mv["model_version"]["version"]))
        except Exception as e:  # noqa: BLE001
            fails.append(str(e))
        with lock:
            got.extend(mine)

    ths = [threading.Thread(target=worker) for _ in range(a.threads)]
    t0 = time.perf_counter()
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    dt = time.perf_counter() - t0
    total = a.threads * a.per_thread
    res["conc_create_ops_s"] = len(got) / dt
    expect = list(range(a.n + 1, a.n + total + 1))
    res["conc_versions_ok"] = sorted(got) == expect
    if fails:
        errors.append(f"concurrent create: {len(fails)} thread(s) failed: {fails[0]}")
    if not res["conc_versions_ok"]:
        errors.append(f"concurrent create: {len(got)} versions, {len(set(got))} distinct, "
                      f"range {min(got, default=None)}..{max(got, default=None)}; expected {a.n + 1}..{a.n + total}")

    # (3) get by alias
    post(s, "/registered-models/alias", {"name": model, "alias": "champion", "version": "100"})
    t0 = time.perf_counter()
    for _ in range(a.alias_reps):
        mv = get(s, "/registered-models/alias", {"name": model, "alias": "champion"})
    res["get_alias_ms"] = (time.perf_counter() - t0) * 1000 / a.alias_reps
    if mv["model_version"]["version"] != "100":
        errors.append(f"alias resolved to {mv['model_version']['version']}, expected 100")

    # (4) search model versions with a version_number filter
    flt = f"name='{model}' AND version_number > 100"
    try:
        t0 = time.perf_counter()
        for _ in range(a.search_reps):
            r = get(s, "/model-versions/search", {"filter": flt})
        res["search_versions_ms"] = (time.perf_counter() - t0) * 1000 / a.search_reps
        res["search_versions_returned"] = len(r.get("model_versions", []))
    except RuntimeError as e:
        errors.append(f"model-versions/search: {e}")

    # (5) search registered models with MODELS models present
    for i in range(1, a.models):
        post(s, "/registered-models/create", {"name": f"bench-model-{i:03d}"})
    t0 = time.perf_counter()
    for _ in range(a.search_reps):
        r = get(s, "/registered-models/search", {"max_results": 100})
    res["search_models_ms"] = (time.perf_counter() - t0) * 1000 / a.search_reps
    res["search_models_returned"] = len(r.get("registered_models", []))

    print(json.dumps({"server": a.name, "results": res, "errors": errors,
                      "args": vars(a)}))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
