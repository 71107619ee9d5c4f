#!/usr/bin/env python3
"""bench/summarize_ui.py OUT ANCHOR_RAW - cairn's UI figures (OUT/cairn-*_raw.json from bench/ui.sh)
next to MLflow's UI (the anchor's raw JSON), with ratios (MLflow / cairn on medians, > 1: cairn
faster) and issue 14's browser targets. stdlib only."""
import glob
import json
import os
import sys

TARGETS = {  # issue 14: ms from navigation start
    "runs_table.first_rows": 500,
    "run_chart_1m.chart_drawn": 1000,
    "run_chart_100k.chart_drawn": 1000,
    "compare_10.(all)": 1000,
}


def main():
    out, anchor_path = sys.argv[1], sys.argv[2]
    anchor = json.load(open(anchor_path))["summary"] if os.path.exists(anchor_path) else {}
    print("| data | scenario | milestone | cairn median ms (min-max, n) | MLflow UI median ms (anchor) | MLflow / cairn | issue-14 target | met |")
    print("|---|---|---|---|---|---|---|---|")
    for raw in sorted(glob.glob(os.path.join(out, "cairn-*_raw.json"))):
        d = json.load(open(raw))
        size = d["meta"]["label"].removeprefix("cairn-")
        runs = d["meta"]["ids"].get("runsInA")
        for key, s in d["summary"].items():
            scen, ms = key.split(".", 1)
            if s.get("n", 0) == 0:
                print(f"| {size} ({runs} runs) | {scen} | {ms} | not shown | | | | no |")
                continue
            a = anchor.get(key, {}) if size == "anchor" else {}
            ratio = f"{a['median'] / s['median']:.1f}x" if a.get("median") else ""
            tgt = TARGETS.get(key)
            met = "" if tgt is None else ("yes" if s["median"] <= tgt else "no")
            print(f"| {size} ({runs} runs) | {scen} | {ms} | {s['median']:.0f} ({s['min']:.0f}-{s['max']:.0f}, {s['n']}) | "
                  f"{a.get('median', '') if a else ''} | {ratio} | {'<= %d' % tgt if tgt else ''} | {met} |")
    print()
    print(f"MLflow: {anchor_path} (MLflow 3.5.2.dev0 UI, uvicorn, 5 reps, same harness and Chromium on this machine).")


if __name__ == "__main__":
    main()
