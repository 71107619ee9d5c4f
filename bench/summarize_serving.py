#!/usr/bin/env python3
"""bench/summarize_serving.py - the table, ratios and target verdicts of bench/serving.sh.

  summarize_serving.py --cells CELLS.jsonl --meta META.json [--checks F] [--floor F]
                       [--profile F.jsonl] --out RESULTS.json      combine, print, write
  summarize_serving.py --from RESULTS.json [--markdown]            reprint an earlier run

Ratios are oriented so that > 1 means cairn is better (req/s of cairn / req/s of the other);
against the nginx ceiling the ratio is cairn's share of it.  Targets (issue 12, "Proof"):
1-row >= 40,000 req/s on one core, >= 100x the Flask seed, about 30 % of the nginx ceiling
(here: >= 30 %), close to the predict-bound limit (1 / the C API's single-row predict), p99 < 2 ms;
100-row throughput per row within 1.5x of the C-API floor (XGBoosterPredictFromDense with a
reused proxy, batch 100: measured in the same run, else the anchor README's 2.65 us/row).
"""

import argparse
import json
import re
import sys

README_FLOOR = {"1": 17.2, "100": 2.65, "src": "anchor README (dense(proxy), 2026-11-22)"}
LABELS = {
    "cairn_cpu0": "cairn serve, defaults (threads: one per CPU it may use), CPU 0",
    "cairn_t1_cpu0": "cairn serve --threads 1, CPU 0",
    "cairn_t2_cpu0": "cairn serve --threads 2, CPU 0",
    "flask_dev_cpu0": "Flask dev server (seed), CPU 0",
    "gunicorn_sync2_cpu0": "gunicorn 2 sync workers, CPU 0",
    "gunicorn_gthread2x4_cpu0": "gunicorn 2 gthread x 4, CPU 0",
    "mlflow_cpu0": "MLflow scoring server (uvicorn, 1 worker), CPU 0",
    "nginx_1w_cpu0": "nginx fixed body, 1 worker, CPU 0 (ceiling)",
    "cairn_2cpu": "cairn serve, defaults, unpinned",
    "gunicorn_sync2_2cpu_nt1": "gunicorn 2 sync, unpinned, OMP_NUM_THREADS=1",
    "gunicorn_gthread2x4_2cpu_nt1": "gunicorn 2 gthread x 4, unpinned, OMP_NUM_THREADS=1",
    "mlflow_w2_2cpu_nt1": "MLflow scoring server, 2 workers, unpinned, OMP_NUM_THREADS=1",
    "nginx_2w_2cpu": "nginx fixed body, 2 workers, unpinned",
}
BODY = {"request_1": "1 row", "request_100": "100 rows", "request_100_instances": "100 rows, instances",
        "oip_1": "1 row, OIP v2", "oip_100": "100 rows, OIP v2"}
ROWS = {"request_1": 1, "request_100": 100, "request_100_instances": 100, "oip_1": 1, "oip_100": 100}


def fmt(v, nd=None):
    if v is None:
        return "-"
    if nd is None:
        nd = 0 if abs(v) >= 100 else (1 if abs(v) >= 10 else (2 if abs(v) >= 1 else 3))
    return f"{v:,.{nd}f}"


def parse_floor(path):
    if not path:
        return None
    out = {"src": "xgb_c_bench, this run (dense(proxy), nthread=1, CPU 0)"}
    for line in open(path):
        m = re.match(r"dense\(proxy\)\s+(\d+)\s+([\d.]+)\s+([\d.]+)", line)
        if m:
            out[m.group(1)] = float(m.group(3))
        m = re.match(r"# foreign CPU load during this run: (\d+)%", line)
        if m:
            out["foreign_pct"] = int(m.group(1))
    return out if "1" in out and "100" in out else None


def cell_map(cells):
    return {(c["label"], c["body"]): c for c in cells}


def summarize(res):
    cells = cell_map(res["cells"])
    floor = res.get("floor")
    if not floor or floor.get("foreign_pct", 0) > 5:
        floor = dict(README_FLOOR, note="this run's floor was not measured or was noisy" if floor else None)
    get = lambda cfg, body: cells.get((cfg, body))
    rps = lambda cfg, body: (get(cfg, body) or {}).get("rps")

    # the main table
    table = []
    for c in res["cells"]:
        n = ROWS.get(c["body"], 1)
        table.append({
            "config": c["label"], "server": LABELS.get(c["label"], c["label"]), "body": BODY.get(c["body"], c["body"]),
            "rps": c["rps"], "rps_min": c["rps_min"], "rps_max": c["rps_max"], "p50_ms": c["p50_ms"],
            "p99_ms": c["p99_ms"], "server_cores": c["server_cores"], "wrk_cores": c["wrk_cores"],
            "foreign_pct": c["foreign_pct"], "errors": c["errors"], "noisy_runs": c["noisy_runs"],
            "server_cpu_us_per_req": c.get("server_cpu_us_per_req"),
            "us_per_row": 1e6 / (c["rps"] * n) if n > 1 and c["rps"] else None,
            "handler_us_per_req": c.get("handler_us_per_req"), "predict_us_per_call": c.get("predict_us_per_call"),
            "wrk_bound": (c["wrk_cores"] or 0) >= 0.9,
        })

    # the best honest cairn config on one core: the highest 1-row median
    pinned = [k for k in ("cairn_cpu0", "cairn_t1_cpu0", "cairn_t2_cpu0") if rps(k, "request_1")]
    best = max(pinned, key=lambda k: rps(k, "request_1")) if pinned else None

    ratios = []

    def ratio(name, a_cfg, b_cfg, share=False):
        """cairn's req/s over b's, per body; cairn's OIP cells against b's body of the same rows"""
        row = {"comparison": name, "share": share}
        for body in ("request_1", "request_100", "oip_1", "oip_100"):
            a, b = rps(a_cfg, body), rps(b_cfg, body.replace("oip_", "request_"))
            row[body] = a / b if a and b else None
        ratios.append(row)

    def tag(cfg):
        return {"cairn_cpu0": "cairn", "cairn_t1_cpu0": "cairn --threads 1", "cairn_t2_cpu0": "cairn --threads 2"}[cfg]

    for a_cfg in ["cairn_cpu0"] + ([best] if best and best != "cairn_cpu0" else []):
        for b_cfg, bname in (("flask_dev_cpu0", "Flask seed"), ("gunicorn_sync2_cpu0", "gunicorn sync"),
                             ("gunicorn_gthread2x4_cpu0", "gunicorn gthread"), ("mlflow_cpu0", "MLflow's server")):
            ratio(f"{tag(a_cfg)} vs {bname} (CPU 0)", a_cfg, b_cfg)
        ratio(f"{tag(a_cfg)}: share of the nginx ceiling (CPU 0)", a_cfg, "nginx_1w_cpu0", share=True)
    for b_cfg, bname in (("gunicorn_sync2_2cpu_nt1", "gunicorn sync nt1"),
                         ("gunicorn_gthread2x4_2cpu_nt1", "gunicorn gthread nt1"),
                         ("mlflow_w2_2cpu_nt1", "MLflow's server, 2 workers")):
        ratio(f"cairn vs {bname} (unpinned)", "cairn_2cpu", b_cfg)
    ratio("cairn: share of the nginx ceiling (unpinned, 2 workers)", "cairn_2cpu", "nginx_2w_2cpu", share=True)
    ratios = [r for r in ratios if any(r[b] is not None for b in ("request_1", "request_100"))]

    # targets
    targets = []
    def target(name, value, ok, unit=""):
        targets.append({"target": name, "value": value, "unit": unit,
                        "verdict": None if ok is None else ("met" if ok else "missed")})
    for cfg in [x for x in dict.fromkeys(("cairn_cpu0", best)) if x]:
        tag = "default" if cfg == "cairn_cpu0" else "--threads " + cfg[7]
        r1, r100 = get(cfg, "request_1"), get(cfg, "request_100")
        if r1:
            f = rps("flask_dev_cpu0", "request_1")
            n = rps("nginx_1w_cpu0", "request_1")
            bound = 1e6 / floor["1"]
            target(f"1-row req/s on one core >= 40,000 ({tag})", r1["rps"], r1["rps"] >= 40000, "req/s")
            target(f"1-row >= 100x the Flask seed ({tag})", r1["rps"] / f if f else None,
                   r1["rps"] / f >= 100 if f else None, "x")
            target(f"1-row about 30 % of the nginx ceiling, here >= 30 % ({tag})", 100 * r1["rps"] / n if n else None,
                   r1["rps"] / n >= 0.30 if n else None, "%")
            target(f"1-row close to the predict-bound ~{bound:,.0f}/s = 1/{floor['1']} us ({tag})",
                   100 * r1["rps"] / bound, None, "% of it")
            target(f"1-row p99 < 2 ms ({tag})", r1["p99_ms"], r1["p99_ms"] < 2, "ms")
        if r100:
            upr = 1e6 / (r100["rps"] * 100)
            target(f"100-row us/row within 1.5x of the floor's {floor['100']} us/row ({tag})", upr / floor["100"],
                   upr <= 1.5 * floor["100"], f"x ({upr:.2f} us/row)")
    for cfg, body in (("cairn_cpu0", "oip_1"), ("cairn_cpu0", "oip_100")):
        c = get(cfg, body)
        if c and body == "oip_1":
            target("OIP v2 1-row req/s on one core (default; the 40,000 target is for /invocations)", c["rps"],
                   None, "req/s")
        if c and body == "oip_100":
            upr = 1e6 / (c["rps"] * 100)
            target("OIP v2 100-row us/row vs the floor (default)", upr / floor["100"], None, f"x ({upr:.2f} us/row)")
    wrkb = [t for t in table if t["wrk_bound"]]
    return {"table": table, "ratios": ratios, "targets": targets, "best_pinned": best, "floor_used": floor,
            "wrk_bound_cells": [(t["config"], t["body"]) for t in wrkb]}


def breakdown_rows(res):
    """Per-request CPU of the profiled cairn cells: the profile's shares x the cell's server CPU/request."""
    cells = cell_map(res["cells"])
    rows = []
    for p in res.get("profile") or []:
        body = p["body"].replace(".json", "")
        c = cells.get((p["label"], body))
        us = c.get("server_cpu_us_per_req") if c else None
        tag = {"cairn_cpu0": "default", "cairn_t1_cpu0": "--threads 1"}.get(p["label"], p["label"])
        rows.append({"body": f"{BODY.get(body, body)} ({tag})", "server_cpu_us_per_req": us,
                     "handler_us_per_req": c.get("handler_us_per_req") if c else None,
                     "predict_us_per_call": c.get("predict_us_per_call") if c else None,
                     "parts": [{"part": b["part"], "pct": b["pct"], "us": us * b["pct"] / 100 if us else None}
                               for b in p["buckets"]]})
    return rows


def print_all(res, md=False):
    s = res["summary"]
    m = res.get("meta", {})
    mc = m.get("machine", {})
    print(f"cairn serving benchmark  {m.get('started_utc', '?')}  {mc.get('nproc', '?')} cores ({mc.get('cpu', '?')}), "
          f"kernel {mc.get('kernel', '?')}")
    ca = m.get("cairn", {})
    print(f"cairn commit {ca.get('commit', '?')} (binary {ca.get('binary_sha256', '?')}, tree outside bench/ dirty: "
          f"{ca.get('tree_dirty_outside_bench', '?')}); wrk -t1 -c{m.get('conns')} closed loop on CPU {m.get('wrk_cpus')}, "
          f"{m.get('repeats')} x {m.get('duration_s')} s per cell, medians [min-max]; runs with foreign load > "
          f"{m.get('max_foreign_pct')} % of a core retried")
    v = m.get("versions", {})
    print("versions: " + ", ".join(f"{k} {v[k]}" for k in v if v[k]))
    print()
    print("| server (config) | body | req/s median [min-max] | p50 ms | p99 ms | server cores | wrk cores | foreign % | server CPU us/req | us/row |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for t in s["table"]:
        flag = (" (wrk-bound)" if t["wrk_bound"] else "") + (f" ({t['noisy_runs']} noisy)" if t["noisy_runs"] else "") \
            + (f" ({t['errors']} errors)" if t["errors"] else "")
        print(f"| {t['server']} | {t['body']} | {fmt(t['rps'])} [{fmt(t['rps_min'])}-{fmt(t['rps_max'])}]{flag} | "
              f"{fmt(t['p50_ms'])} | {fmt(t['p99_ms'])} | {fmt(t['server_cores'], 2)} | {fmt(t['wrk_cores'], 2)} | "
              f"{fmt(t['foreign_pct'], 1)} | {fmt(t['server_cpu_us_per_req'])} | {fmt(t['us_per_row'], 2)} |")
    print()
    print("| ratio (req/s; > 1: cairn better) | 1 row | 100 rows | 1 row, cairn OIP | 100 rows, cairn OIP |")
    print("|---|---|---|---|---|")
    for r in s["ratios"]:
        f = (lambda x: "-" if x is None else f"{100 * x:.1f} %") if r["share"] else (lambda x: "-" if x is None else f"{x:,.1f}x")
        print(f"| {r['comparison']} | {f(r['request_1'])} | {f(r['request_100'])} | {f(r['oip_1'])} | {f(r['oip_100'])} |")
    print()
    fl = s["floor_used"]
    print(f"C-API floor used: {fl['1']} us per single-row predict, {fl['100']} us/row at batch 100 ({fl['src']}"
          + (f"; {fl['note']}" if fl.get("note") else "") + ")")
    print()
    print("| target | measured | verdict |")
    print("|---|---|---|")
    for t in s["targets"]:
        print(f"| {t['target']} | {fmt(t['value'], 2 if (t['value'] or 0) < 100 else 0)} {t['unit']} | "
              f"{t['verdict'] or '(info)'} |")
    bd = breakdown_rows(res)
    if bd:
        print()
        print("Where a request's CPU goes in cairn serve on CPU 0 (perf, inclusive shares x the cell's server CPU "
              "per request):")
        print()
        print("| part | " + " | ".join(r["body"] for r in bd) + " |")
        print("|---|" + "---|" * len(bd))
        for i, p in enumerate(bd[0]["parts"]):
            print(f"| {p['part']} | " + " | ".join(
                f"{r['parts'][i]['pct']:.0f} % ({fmt(r['parts'][i]['us'])} us)" for r in bd) + " |")
        print("| server CPU per request | " + " | ".join(f"{fmt(r['server_cpu_us_per_req'])} us" for r in bd) + " |")
        print("| /metrics: handler wall time, predict wall time | " + " | ".join(
            f"{fmt(r['handler_us_per_req'])} us, {fmt(r['predict_us_per_call'])} us" for r in bd) + " |")
    if s["wrk_bound_cells"]:
        print()
        print("wrk used >= 90 % of its core in: " + ", ".join(f"{c}/{b}" for c, b in s["wrk_bound_cells"])
              + " - those figures are (also) wrk's limit")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cells")
    ap.add_argument("--meta")
    ap.add_argument("--checks")
    ap.add_argument("--floor")
    ap.add_argument("--profile")
    ap.add_argument("--out")
    ap.add_argument("--from", dest="src")
    ap.add_argument("--markdown", action="store_true")
    a = ap.parse_args()
    if a.src:
        res = json.load(open(a.src))
        res["summary"] = summarize(res)
        print_all(res, a.markdown)
        return 0
    res = {"meta": json.load(open(a.meta)) if a.meta else {},
           "cells": [json.loads(l) for l in open(a.cells) if l.strip()],
           "checks": open(a.checks).read().splitlines() if a.checks else [],
           "floor": parse_floor(a.floor), "floor_raw": open(a.floor).read() if a.floor else None,
           "profile": [json.loads(l) for l in open(a.profile) if l.strip()] if a.profile else []}
    res["summary"] = summarize(res)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(res, f, indent=1)
    print_all(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
