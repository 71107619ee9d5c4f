#!/usr/bin/env python3
"""summarize_http.py - cairn vs the MLflow anchor servers under HTTP load and slowloris.

    # what bench/http.sh does (collect the pieces of one run, write the combined JSON, print):
    summarize_http.py --server cairn=DIR --server mlflow-gunicorn4=DIR [...] \
        [--meta KEY=VALUE ...] --out bench/results/http-DATE-HHMM.json
    # print the table of an earlier run again, or the spread of several runs:
    summarize_http.py --from bench/results/http-A.json [--from bench/results/http-B.json ...]
    # (with several: each table, then every ratio row as median (min-max) over the runs)

DIR holds the pieces http_load.py wrote for one server: wrk-50.json, wrk-1000.json,
slowloris-head.json (and slowloris-body.json with --slow-kind both|body).

Ratios are oriented so that > 1 always means cairn is better: cairn/MLflow for throughputs
and probe success, MLflow/cairn for latencies.  A ratio against 0 (an anchor that answered
no probe at all) is printed as "all/none" rather than a number.
"""
import argparse
import json
import os
import statistics
import sys


def get(d, path):
    for k in path.split("."):
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def errors_total(w):
    if not w or "errors" not in w:
        return None
    e = w["errors"]
    return e["connect"] + e["read"] + e["write"] + e["timeout"] + e["status"]


def close_wait(w):
    if not w or w.get("ss_after") is None:
        return None
    return w["ss_after"].get("CLOSE-WAIT", 0)


def attack_cores(s):
    v = s and s.get("server_cpu_cores_during_attack")
    # results written before http_load.py's cpu_delta could go negative when a worker exited
    return v if isinstance(v, (int, float)) and v >= 0 else None


def pct(v):
    return None if v is None else 100.0 * v


# (label, piece, getter, kind): kind "thr" higher is better, "lat" lower is better, "info" none
def rows_for(kinds):
    rows = []
    for c in ("50", "1000"):
        p = f"wrk-{c}"
        rows += [
            (f"keep-alive {c} conns: 2xx requests/s", p, lambda w: w and w.get("rps_2xx"), "thr"),
            (f"  p99 latency (ms)", p, lambda w: get(w, "latency_ms.p99"), "lat"),
            (f"  p50 latency (ms)", p, lambda w: get(w, "latency_ms.p50"), "lat"),
            (f"  requests done in the run (all answers)", p, lambda w: w and w.get("requests"), "info"),
            (f"  connections that got no answer at all, at least", p,
             lambda w: w and "requests" in w and max(0, w["connections"] - w["requests"]), "info"),
            (f"  wrk errors (connect+read+write+timeout+non-2xx)", p, errors_total, "info"),
            (f"  server sockets held 3 s after wrk, minus before", p, lambda w: w and w.get("sockets_leaked"), "info"),
            (f"  CLOSE-WAIT on the server port 3 s after wrk", p, close_wait, "info"),
            (f"  /health right after (ms)", p,
             lambda w: None if not w or "health_after" not in w else
             (round(w["health_after"]["ms"], 2) if w["health_after"]["status"] == 200 else "no answer in 5 s"),
             "info"),
            (f"  CPU cores used: server", p, lambda w: get(w, "cpu.server_cores"), "info"),
            (f"  CPU cores used: wrk", p, lambda w: get(w, "cpu.wrk_cores"), "info"),
            (f"  CPU cores used: others on the machine", p, lambda w: get(w, "cpu.other_cores"), "info"),
            (f"  server CPU per request (us; less sensitive to the machine's other load)", p,
             lambda w: get(w, "cpu.server_us_per_req"), "lat"),
            (f"  wrk CPU per request (us)", p, lambda w: get(w, "cpu.wrk_us_per_req"), "info"),
        ]
    rows.append(("wrk alone: GET /health, 50 conns, 2 s (requests/s; cairn only)", "wrk-health",
                 lambda w: w and w.get("rps_2xx"), "info"))
    rows.append(("  CPU per request: server / wrk (us)", "wrk-health",
                 lambda w: None if not w or "cpu" not in w else
                 f"{w['cpu']['server_us_per_req']:.0f} / {w['cpu']['wrk_us_per_req']:.0f}", "info"))
    for k in kinds:
        p = f"slowloris-{k}"
        what = "header bytes" if k == "head" else "an unfinished body"
        rows += [
            (f"slowloris ({what}): /health probes answered 200 within 2 s (%)", p,
             lambda s: pct(s and s.get("probe_success_share")), "thr"),
            (f"  probe median latency under attack (ms, answered ones)", p,
             lambda s: s and s.get("probe_median_ms"), "lat"),
            (f"  probe slowest answered (ms)", p, lambda s: s and s.get("probe_max_ok_ms"), "info"),
            (f"  probe median with no attack (ms)", p,
             lambda s: None if not s else statistics.median([x for x in s["baseline_probes_ms"] if x is not None] or [0]),
             "info"),
            (f"  attack connections: connected / not connected in 10 s / closed by the server at once", p,
             lambda s: s and f"{s['connected']} / {s['connect_failed']} / {s['closed_at_once']}", "info"),
            (f"  server sockets held mid-attack", p, lambda s: s and s.get("server_sockets_mid_attack"), "info"),
            (f"  attack connections still open when the probes ended", p,
             lambda s: s and s.get("open_at_probe_end"), "info"),
            (f"  attack connections the server cut off by the end of the hold", p,
             lambda s: s and (f"{s['closed_by_server_after_once']} (last at {s['last_close_after_s']} s)"
                              if s["closed_by_server_after_once"] else "0"), "info"),
            (f"  server CPU cores during the attack", p, attack_cores, "info"),
            (f"  server processes that exited during the attack", p,
             lambda s: s and s.get("server_processes_exited"), "info"),
            (f"  /health answers after the attack ended (of 3)", p,
             lambda s: s and sum(1 for x in s["after_probes"] if x["status"] == 200), "info"),
        ]
    return rows


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


def ratio(kind, c, m):
    if kind == "info" or not isinstance(c, (int, float)) or not isinstance(m, (int, float)):
        return None
    if kind == "thr":
        return c / m if m else ("all/none" if c else None)
    return m / c if c else None


def fmt_ratio(r):
    if r is None:
        return "-"
    if isinstance(r, str):
        return r
    return f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


def build(servers, kinds):
    names = list(servers)
    anchors = [n for n in names if n != "cairn"]
    table = []
    for label, piece, fn, kind in rows_for(kinds):
        vals = {n: fn(servers[n].get(piece)) for n in names}
        row = {"metric": label, "kind": kind, "values": vals, "ratios": {}}
        for a in anchors:
            row["ratios"][a] = ratio(kind, vals.get("cairn"), vals.get(a))
        table.append(row)
    return table


def print_table(doc, out=sys.stdout):
    m = doc["meta"]
    names = list(doc["servers"])
    anchors = [n for n in names if n != "cairn"]
    print(f"cairn HTTP robustness benchmark  {m.get('date')} {m.get('started')}-{m.get('finished')}  "
          f"{m.get('cpus')} cores  load avg before {m.get('load_before')} after {m.get('load_after')}", file=out)
    print(f"cairn {m.get('cairn_commit')} (binary {m.get('cairn_binary_sha256_16')}), defaults; "
          f"wrk {m.get('wrk_duration_s')} s, -t2, mixed log-metric + runs/search; "
          f"slowloris {m.get('slow_conns')} conns from {m.get('slow_sources', '127.0.0.2')}", file=out)
    head = ["metric"] + names + [f"ratio vs {a}" for a in anchors]
    print("| " + " | ".join(head) + " |", file=out)
    print("|" + "---|" * len(head), file=out)
    for r in doc["table"]:
        cells = [r["metric"]] + [fmt(r["values"].get(n)) for n in names] + \
                [fmt_ratio(r["ratios"].get(a)) for a in anchors]
        print("| " + " | ".join(cells) + " |", file=out)


def med_range(vals, f):
    """'median (min-max)' of the numbers among vals, f formats one number."""
    nums = [v for v in vals if isinstance(v, (int, float))]
    if not nums:
        strs = sorted({v for v in vals if isinstance(v, str)})
        return "/".join(strs) if strs else "-"
    if len(nums) == 1:
        return f(nums[0])
    return f"{f(statistics.median(nums))} ({f(min(nums))}-{f(max(nums))})"


def print_spread(docs, out=sys.stdout):
    """each ratio row over several runs: median (min-max) of the values and of the ratios."""
    anchors = [n for n in docs[0]["servers"] if n != "cairn"]
    print(f"\nmedian (min-max) over {len(docs)} runs: " +
          "; ".join(f"{d['meta'].get('date')} {d['meta'].get('started')} (load {d['meta'].get('load_before')})"
                    for d in docs), file=out)
    head = ["metric", "cairn"] + anchors + [f"ratio vs {a}" for a in anchors]
    print("| " + " | ".join(head) + " |", file=out)
    print("|" + "---|" * len(head), file=out)
    for k, r in enumerate(docs[0]["table"]):
        if r["kind"] == "info":
            continue
        rr = [d["table"][k] for d in docs if k < len(d["table"]) and d["table"][k]["metric"] == r["metric"]]
        cells = [r["metric"]]
        cells += [med_range([x["values"].get(n) for x in rr], fmt) for n in ["cairn"] + anchors]
        cells += [med_range([x["ratios"].get(a) for x in rr], fmt_ratio) for a in anchors]
        print("| " + " | ".join(cells) + " |", file=out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", action="append", default=[], metavar="NAME=DIR")
    ap.add_argument("--meta", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out")
    ap.add_argument("--from", dest="from_", action="append", default=[], metavar="FILE")
    a = ap.parse_args()
    if a.from_:
        docs = [json.load(open(f)) for f in a.from_]
        for d in docs:  # rebuild the table from the stored pieces (rows may have changed since)
            kinds = [k for k in ("head", "body") if any(f"slowloris-{k}" in v for v in d["servers"].values())]
            d["table"] = build(d["servers"], kinds)
        for d in docs:
            print_table(d)
            print()
        if len(docs) > 1:
            print_spread(docs)
        return 0
    servers = {}
    kinds = []
    for s in a.server:
        name, _, d = s.partition("=")
        pieces = {}
        for f in sorted(os.listdir(d)):
            if f.endswith(".json") and (f.startswith("wrk-") or f.startswith("slowloris-")):
                with open(os.path.join(d, f)) as fh:
                    pieces[f[:-5]] = json.load(fh)
                if f.startswith("slowloris-") and f[10:-5] not in kinds:
                    kinds.append(f[10:-5])
        meta_f = os.path.join(d, "server.json")
        if os.path.exists(meta_f):
            with open(meta_f) as fh:
                pieces["server"] = json.load(fh)
        servers[name] = pieces
    kinds.sort(key=lambda k: ["head", "body"].index(k) if k in ("head", "body") else 9)
    meta = dict(m.partition("=")[::2] for m in a.meta)
    doc = {"meta": meta, "servers": servers, "table": build(servers, kinds)}
    print_table(doc)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(doc, f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
