#!/usr/bin/env python3
"""summarize_tracking.py - cairn vs the real MLflow server: one table, targets marked met/missed.

    # what bench/tracking.sh does (collect the pieces of one run, write the combined JSON, print):
    summarize_tracking.py --cairn C.json [--cairn-extra CX.json] --mlflow gunicorn4=M.json \
        [--mlflow-extra gunicorn4=MX.json] [--mlflow uvicorn4=U.json ...] [--disk DD.txt] \
        [--meta KEY=VALUE ...] --out bench/results/tracking-DATE.json
    # print the table of an earlier run again:
    summarize_tracking.py --from bench/results/tracking-DATE.json [--markdown]

Ratios are oriented so that > 1 always means cairn is better: cairn/MLflow for throughputs,
MLflow/cairn for latencies.  Targets are checked against every MLflow config in the table.
"""
import argparse
import json
import re
import statistics
import sys

# key (dotted path into bench_tracking.py's "results", or "x:" + key into raw_extra.py's output),
# label, kind ("thr" higher is better, "lat" lower is better, "info" no ratio), target ratio or None
ROWS = [
    ("create_run_per_s", "create_run, client, sequential (runs/s)", "thr", 90),
    ("raw_create_run_per_s", "create_run, raw HTTP (req/s)", "thr", 90),
    ("x:lean_create_run.per_s", "create_run, lean HTTP (req/s)", "thr", 90),
    ("x:lean_create_run.median_ms", "  create_run, lean HTTP, median latency (ms)", "lat", None),
    ("log_metric_per_s", "log_metric, client, single calls (calls/s)", "thr", None),
    ("raw_log_metric_per_s", "log-metric, raw HTTP (req/s)", "thr", None),
    ("x:lean_log_metric.per_s", "log-metric, lean HTTP (req/s)", "thr", None),
    ("log_batch_metric_points_per_s", "log_batch 1000 metrics, client (points/s)", "thr", 70),
    ("log_batch_1000_latency.median_ms", "  log_batch 1000, client, median latency (ms)", "lat", None),
    ("raw_log_batch_metric_points_per_s", "log-batch 1000 metrics, raw HTTP (points/s)", "thr", 70),
    ("raw_log_batch_1000_latency.median_ms", "  log-batch 1000, raw HTTP, median latency (ms)", "lat", None),
    ("x:lean_log_batch_1000.points_per_s", "log-batch 1000 metrics, lean HTTP (points/s)", "thr", 70),
    ("x:lean_log_batch_1000.median_ms", "  log-batch 1000, lean HTTP, median latency (ms)", "lat", None),
    ("log_batch_params_per_s", "log_batch 100 params, client (params/s)", "thr", None),
    ("raw_log_batch_params_per_s", "log-batch 100 params, raw HTTP (params/s)", "thr", None),
    ("search_setup_runs_per_s", "search setup: create_run+log_batch, 4 threads, client (runs/s)", "thr", None),
    ("search_runs_filtered_100.median_ms", "search_runs filter+order, client (ms)", "lat", 40),
    ("x:raw_search_runs_filtered_100.median_ms", "runs/search filter+order, raw HTTP (ms)", "lat", 40),
    ("search_runs_filtered_100.runs_returned", "  runs returned (of the search experiment)", "info", None),
    ("search_runs_unfiltered_1000.median_ms", "search_runs no filter, max 1000, client (ms)", "lat", None),
    ("x:raw_search_runs_unfiltered_1000.median_ms", "runs/search no filter, max 1000, raw HTTP (ms)", "lat", None),
    ("get_metric_history.median_ms", "get_metric_history, client (ms)", "lat", 100),
    ("x:raw_get_metric_history.median_ms", "metrics/get-history (paged 25k), raw HTTP (ms)", "lat", 100),
    ("x:raw_get_metric_history.fetch_only.median_ms", "  get-history, raw HTTP, fetch only, no json.loads (ms)", "lat", 100),
    ("get_metric_history.points", "  history points", "info", None),
    ("artifact_upload_MB_per_s", "artifact upload, client (MB/s)", "thr", None),
    ("x:raw_artifact_upload_MB_per_s", "artifact upload, curl -T (MB/s)", "thr", None),
    ("artifact_download_MB_per_s", "artifact download, client (MB/s)", "thr", None),
    ("x:raw_artifact_download_MB_per_s", "artifact download, curl (MB/s)", "thr", None),
    ("artifact_file_MB", "  artifact size (MB)", "info", None),
    ("concurrent_log_batch_client.points_per_s", "4 client procs log_batch 1000 (points/s total)", "thr", None),
    ("concurrent_log_batch_raw.points_per_s", "4 raw-HTTP procs log-batch 1000 (points/s total)", "thr", None),
    ("meta.total_s", "bench_tracking.py wall time (s)", "lat", None),
]

# the artifact target is "upload at disk speed": compared with dd, not with MLflow
DISK_ROWS = [
    ("artifact_upload_MB_per_s", "artifact upload, client"),
    ("x:raw_artifact_upload_MB_per_s", "artifact upload, curl -T"),
]
DISK_TARGET = 0.8  # "at disk speed": >= 80 % of dd conv=fdatasync of the same size, same run


def get(d, path):
    if d is None:
        return None
    for p in path.split("."):
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def value(run, key):
    """run = {"bench": ..., "extra": ...}"""
    if key.startswith("x:"):
        return get(run.get("extra"), key[2:])
    if key.startswith("meta."):
        return get(run.get("bench"), key)
    return get(get(run.get("bench"), "results"), key)


def ratio(kind, c, m):
    if c is None or m is None or kind == "info":
        return None
    if kind == "thr":
        return c / m if m else None
    return m / c if c else None


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        if abs(v) >= 1000:
            return f"{v:,.0f}"
        if abs(v) >= 100:
            return f"{v:.0f}"
        if abs(v) >= 10:
            return f"{v:.1f}"
        return f"{v:.2f}"
    return str(v)


def fmt_ratio(r):
    if r is None:
        return "-"
    return f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def parse_dd(path):
    """dd's last stderr line per rep: '52428800 bytes (52 MB, 50 MiB) copied, 0.2 s, 262 MB/s'."""
    reps = []
    with open(path) as f:
        for line in f:
            m = re.match(r"(\d+) bytes .* copied, ([0-9.,e-]+) s", line.strip())
            if m:
                nbytes, secs = int(m.group(1)), float(m.group(2).replace(",", "."))
                reps.append({"bytes": nbytes, "seconds": secs, "MB_per_s": round(nbytes / 1e6 / secs, 1)})
    if not reps:
        return None
    return {"command": "dd if=/dev/zero bs=1M count=N conv=fdatasync (same filesystem as the cairn root)",
            "reps": reps, "MB_per_s": statistics.median(r["MB_per_s"] for r in reps),
            "MB": round(reps[0]["bytes"] / 1e6, 1)}


def build_rows(doc):
    cairn = doc["cairn"]
    anchors = doc["mlflow"]  # cfg -> {"bench":..., "extra":...}
    rows = []
    for key, label, kind, target in ROWS:
        c = value(cairn, key)
        cells = []
        for cfg in anchors:
            m = value(anchors[cfg], key)
            r = ratio(kind, c, m)
            verdict = None
            if target is not None:
                verdict = "n/a" if r is None else ("met" if r >= target else "missed")
            cells.append({"config": cfg, "mlflow": m, "ratio": None if r is None else round(r, 2),
                          "verdict": verdict})
        if c is None and all(x["mlflow"] is None for x in cells):
            continue
        rows.append({"key": key, "label": label, "kind": kind, "cairn": c, "target": target,
                     "anchors": cells})
    disk = doc.get("disk")
    disk_rows = []
    if disk:
        for key, label in DISK_ROWS:
            c = value(cairn, key)
            if c is None:
                continue
            r = c / disk["MB_per_s"]
            disk_rows.append({"key": key, "label": f"{label} vs dd conv=fdatasync", "cairn": c,
                              "disk": disk["MB_per_s"], "ratio": round(r, 2),
                              "verdict": "met" if r >= DISK_TARGET else "missed"})
    return rows, disk_rows


def render(doc, markdown=True):
    rows, disk_rows = build_rows(doc)
    cfgs = list(doc["mlflow"])
    out = []
    head = ["metric", "cairn"]
    for cfg in cfgs:
        head += [f"MLflow {cfg}", "ratio" if len(cfgs) == 1 else f"ratio ({cfg})"]
    head += ["target", "verdict"]
    body = []
    for r in rows:
        line = [r["label"], fmt(r["cairn"])]
        for a in r["anchors"]:
            line += [fmt(a["mlflow"]), fmt_ratio(a["ratio"])]
        if r["target"] is not None:
            line += [f">= {r['target']}x",
                     " / ".join(a["verdict"] for a in r["anchors"]) if len(cfgs) > 1
                     else r["anchors"][0]["verdict"]]
        else:
            line += ["", ""]
        body.append(line)
    out.append(table(head, body, markdown))
    if disk_rows:
        d = doc["disk"]
        out.append("")
        head2 = ["artifact upload at disk speed", "cairn (MB/s)", "dd conv=fdatasync (MB/s)",
                 "cairn/disk", "target", "verdict"]
        body2 = [[r["label"], fmt(r["cairn"]), fmt(r["disk"]), f"{r['ratio']:.2f}",
                  f">= {DISK_TARGET}", r["verdict"]] for r in disk_rows]
        out.append(table(head2, body2, markdown))
        out.append(f"(dd: {d['MB']} MB, median of {len(d['reps'])}: "
                   + ", ".join(f"{x['MB_per_s']:g}" for x in d["reps"]) + " MB/s)")
    out.append("")
    out.append("ratio > 1 = cairn better (throughput: cairn/MLflow; latency: MLflow/cairn). "
               "'client' rows include the MLflow Python client's own per-call cost; "
               "'raw HTTP' rows use python requests (>= 0.5 ms per call), 'lean HTTP' rows "
               "http.client (~0.07 ms), curl rows curl: these measure the servers.")
    if len(cfgs) > 1:
        out.append("verdicts: " + " / ".join(cfgs))
    return "\n".join(out)


def table(head, body, markdown):
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        return "\n".join(lines)
    w = [max(len(str(row[i])) for row in [head] + body) for i in range(len(head))]
    lines = ["  ".join(str(h).ljust(w[i]) for i, h in enumerate(head)).rstrip()]
    lines.append("  ".join("-" * w[i] for i in range(len(head))))
    for row in body:
        lines.append("  ".join((str(c).ljust(w[i]) if i == 0 else str(c).rjust(w[i]))
                               for i, c in enumerate(row)).rstrip())
    return "\n".join(lines)


def load(path):
    with open(path) as f:
        return json.load(f)


def kv(items):
    out = {}
    for it in items or []:
        k, _, v = it.partition("=")
        out[k] = v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from", dest="src", help="re-print the table of a combined results JSON")
    ap.add_argument("--cairn")
    ap.add_argument("--cairn-extra")
    ap.add_argument("--mlflow", action="append", help="CONFIG=bench.json (repeatable, in order)")
    ap.add_argument("--mlflow-extra", action="append", help="CONFIG=raw_extra.json")
    ap.add_argument("--disk", help="dd stderr lines")
    ap.add_argument("--meta", action="append", help="KEY=VALUE stored under meta")
    ap.add_argument("--out", help="write the combined JSON here")
    ap.add_argument("--markdown", action="store_true", help="markdown table (default: aligned text)")
    args = ap.parse_args()

    if args.src:
        doc = load(args.src)
    else:
        if not args.cairn or not args.mlflow:
            ap.error("--cairn and --mlflow (or --from) are required")
        extra = {k: load(v) for k, v in kv(args.mlflow_extra).items()}
        doc = {
            "meta": kv(args.meta),
            "cairn": {"bench": load(args.cairn),
                      "extra": load(args.cairn_extra) if args.cairn_extra else None},
            "mlflow": {cfg: {"bench": load(p), "extra": extra.get(cfg)}
                       for cfg, p in kv(args.mlflow).items()},
            "disk": parse_dd(args.disk) if args.disk else None,
        }
        rows, disk_rows = build_rows(doc)
        doc["table"] = {"rows": rows, "disk_rows": disk_rows}
        if args.out:
            with open(args.out, "w") as f:
                json.dump(doc, f, indent=1)
                f.write("\n")
    print(render(doc, markdown=args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
