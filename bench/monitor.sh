#!/usr/bin/env bash
# bench/monitor.sh - `cairn profile` and `cairn drift` against the pandas/scipy reference and DuckDB, same run.
#
#   bench/monitor.sh                  # REPEATS=3 (pandas drift is ~45 s a run: ~8 min in all)
#   REPEATS=1 bench/monitor.sh        # quicker
#   make bench BENCH=monitor
#
# On the anchor's 1M-row x 20-column tables (../shared/anchors/monitoring, 145 MB each):
#   cairn profile --threads 1, cairn profile (default threads), reference_profile.py profile
#   (pandas), DuckDB SUMMARIZE (default threads and 1 thread, through @duckdb/node-api as the
#   anchor's bench.sh runs it), and for each drift variant: cairn drift --reference R --current C
#   -o out.json with --threads 1 and with its default threads (only when `cairn drift --help` exits
#   0; "not built" otherwise) and reference_profile.py drift.
# The tables are checked against the sha256 in the anchor's results/1m/data_manifest.json first
# (VERIFY_DATA=0 skips it). cairn drift's JSON for each variant is compared with the anchor's
# results/1m/drift_<variant>.json by bench/drift_check.py (verdicts, bins, max relative difference
# of every statistic and p-value), and the --threads 1 JSON with the default-threads one the same
# way.
# Each command runs REPEATS times under /usr/bin/time (wall, user+sys CPU, peak RSS), page cache
# warm. Printed per step: median/min/max s, min CPU s, peak RSS; then ratios (anchor/cairn on
# medians, > 1: cairn faster), the issue-13 targets (profile <= 0.5 s on one core, drift
# <= 2 s on one core, <= 150 MB) and the correctness lines. The load average is recorded around
# every step (the machine is shared).
# Results: bench/results/monitor-DATE.json (RESULTS=file to choose).
# Env: CAIRN_BIN (default build/cairn; copied to a temp dir first), CAIRN_SHARED (default
#      ../shared), PYTHON (default /usr/bin/python3: it has pandas/scipy), MON_DATA (folder with
#      reference.csv and the variants; default /tmp/mon1m, generated there when missing, ~2 min),
#      VARIANTS (default "current_a_nodrift current_b_meanshift"), DUCKDB_NODE_DIR (a folder
#      holding node_modules/@duckdb/node-api; else npm installs it into the temp dir, ~70 MB),
#      SKIP (space-separated step groups to leave out: pandas duckdb drift), VERIFY_DATA (0: do not
#      check the tables' sha256).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
REPO="$PWD"
CAIRN_BIN="${CAIRN_BIN:-build/cairn}"
SHARED="${CAIRN_SHARED:-../shared}"
ANCHOR="$SHARED/anchors/monitoring"
PY="${PYTHON:-/usr/bin/python3}"
REPEATS="${REPEATS:-3}"
DATA="${MON_DATA:-/tmp/mon1m}"
VARIANTS="${VARIANTS:-current_a_nodrift current_b_meanshift}"
SKIP=" ${SKIP:-} "
DUCKDB_PKG="@duckdb/node-api@1.5.6-r.1"
RESULTS="${RESULTS:-bench/results/monitor-$(date -u +%Y-%m-%d-%H%M).json}"

[[ -x "$CAIRN_BIN" ]] || { echo "monitor.sh: $CAIRN_BIN not built (make)" >&2; exit 2; }
[[ -f "$ANCHOR/reference_profile.py" ]] || { echo "monitor.sh: no anchor at $ANCHOR" >&2; exit 2; }
WORK="$(mktemp -d "${BENCH_TMP:-/tmp}/cairn-monbench-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cp "$CAIRN_BIN" "$WORK/cairn"
CAIRN="$WORK/cairn"

need=""
for t in reference $VARIANTS; do [[ -f "$DATA/$t.csv" ]] || need="$need $t"; done
if [[ -n "$need" ]]; then
	echo "== generating$need in $DATA (~1 min a table)" >&2
	mkdir -p "$DATA"
	"$PY" "$ANCHOR/make_data.py" --rows 1000000 --out "$DATA" --only $need >&2
fi
REF="$DATA/reference.csv"
MANIFEST="$ANCHOR/results/1m/data_manifest.json"
if [[ "${VERIFY_DATA:-1}" != 0 && -f "$MANIFEST" ]]; then
	for t in reference $VARIANTS; do
		want="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["files"].get(sys.argv[2]+".csv",{}).get("sha256",""))' "$MANIFEST" "$t")"
		[[ -n "$want" ]] || continue
		have="$(sha256sum "$DATA/$t.csv" | cut -d' ' -f1)"
		[[ "$have" == "$want" ]] || { echo "monitor.sh: $DATA/$t.csv is not the anchor's table (sha256 $have, want $want); delete it to regenerate" >&2; exit 2; }
	done
	echo "== $DATA: sha256 matches the anchor's data_manifest.json" >&2
fi

DUCK=""
if [[ "$SKIP" != *" duckdb "* ]]; then
	if [[ -n "${DUCKDB_NODE_DIR:-}" && -d "$DUCKDB_NODE_DIR/node_modules/@duckdb/node-api" ]]; then
		DUCK="$DUCKDB_NODE_DIR"
	elif command -v npm > /dev/null && command -v node > /dev/null; then
		echo "== npm install $DUCKDB_PKG (into $WORK)" >&2
		if npm install --no-audit --no-fund --silent --prefix "$WORK/duck" "$DUCKDB_PKG" > "$WORK/npm.log" 2>&1; then
			DUCK="$WORK/duck"
		else
			echo "   npm install failed, DuckDB rows skipped" >&2
			tail -3 "$WORK/npm.log" >&2 || true
		fi
	fi
fi

DRIFT_BUILT=0
"$CAIRN" drift --help > /dev/null 2>&1 && DRIFT_BUILT=1

RAW="$WORK/raw.tsv"
printf 'step\tgroup\trepeat\twall_s\tcpu_s\tmaxrss_kb\tload_before\tload_after\n' > "$RAW"
: > "$WORK/notbuilt"

measure() {  # step group command...   (OK_RC="0 1": exit statuses that count as success)
	local step="$1" group="$2" i e u s kb lb la rc
	shift 2
	for i in $(seq 1 "$REPEATS"); do
		lb="$(cut -d' ' -f1 /proc/loadavg)"
		rc=0
		/usr/bin/time -f '%e %U %S %M' -o "$WORK/t" "$@" > "$WORK/out" 2> "$WORK/err" || rc=$?
		if [[ " ${OK_RC:-0} " != *" $rc "* ]]; then
			echo "FAILED: $step (exit $rc)" >&2
			tail -5 "$WORK/err" >&2
			return 1
		fi
		la="$(cut -d' ' -f1 /proc/loadavg)"
		read -r e u s kb < <(tail -1 "$WORK/t")
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$step" "$group" "$i" "$e" "$(echo "$u + $s" | bc)" "$kb" "$lb" "$la" >> "$RAW"
		echo "  $step #$i: ${e} s wall, $(echo "$u + $s" | bc) s CPU, ${kb} KB (load $lb -> $la)" >&2
	done
}

echo "== warming the page cache" >&2
for t in reference $VARIANTS; do cat "$DATA/$t.csv" > /dev/null; done

measure "cairn profile --threads 1" cairn_profile_1 "$CAIRN" profile --threads 1 "$REF" -o "$WORK/profile_1.json"
measure "cairn profile (default threads)" cairn_profile "$CAIRN" profile "$REF" -o "$WORK/profile.json"
if [[ "$SKIP" != *" pandas "* ]]; then
	measure "pandas profile" pandas_profile "$PY" "$ANCHOR/reference_profile.py" profile "$REF" -o "$WORK/pandas_profile.json"
fi
if [[ -n "$DUCK" ]]; then
	export DUCKDB_NODE_DIR="$DUCK"
	measure "duckdb SUMMARIZE (default threads)" duckdb_summarize node "$ANCHOR/duckdb_summarize.cjs" "$REF" summarize default
	measure "duckdb SUMMARIZE (1 thread)" duckdb_summarize_1 node "$ANCHOR/duckdb_summarize.cjs" "$REF" summarize 1
fi
if [[ "$SKIP" != *" drift "* ]]; then
	for v in $VARIANTS; do
		if [[ "$DRIFT_BUILT" == 1 ]]; then
			# exit 1 is "dataset drift", a result, not a failure
			OK_RC="0 1" measure "cairn drift --threads 1 ref vs ${v#current_}" "cairn_drift_1:${v#current_}" \
				"$CAIRN" drift --threads 1 --reference "$REF" --current "$DATA/$v.csv" -o "$WORK/drift_1_$v.json"
			OK_RC="0 1" measure "cairn drift (default threads) ref vs ${v#current_}" "cairn_drift:${v#current_}" \
				"$CAIRN" drift --reference "$REF" --current "$DATA/$v.csv" -o "$WORK/drift_$v.json"
		else
			echo "cairn drift ref vs ${v#current_}" >> "$WORK/notbuilt"
			echo "  cairn drift ref vs ${v#current_}: not built (cairn drift --help fails)" >&2
		fi
		if [[ "$SKIP" != *" pandas "* ]]; then
			measure "pandas+scipy drift ref vs ${v#current_}" "pandas_drift:${v#current_}" \
				"$PY" "$ANCHOR/reference_profile.py" drift --reference "$REF" --current "$DATA/$v.csv" -o "$WORK/pandas_drift_$v.json"
		fi
	done
fi

mkdir -p "$WORK/checks"
if [[ "$DRIFT_BUILT" == 1 && "$SKIP" != *" drift "* ]]; then
	for v in $VARIANTS; do
		short="${v#current_}"
		a="$ANCHOR/results/1m/drift_$short.json"
		[[ -f "$a" ]] || continue
		"$PY" bench/drift_check.py "$WORK/drift_$v.json" "$a" -o "$WORK/checks/$short.json" > "$WORK/checks/$short.txt" || true
		# --threads 1 against default threads: the same checks (a merged sum may differ in the last bit)
		t1="$("$PY" bench/drift_check.py "$WORK/drift_1_$v.json" "$WORK/drift_$v.json" || true)"
		"$PY" -c 'import json,sys; p=sys.argv[1]; d=json.load(open(p)); d["threads_1_vs_default"]=sys.argv[2]; json.dump(d,open(p,"w"),indent=1)' "$WORK/checks/$short.json" "$t1"
	done
fi

mkdir -p "$(dirname "$RESULTS")"
ENVJSON="$WORK/env.json"
"$PY" - "$ENVJSON" "$CAIRN" "$REPO" "$REPEATS" "$DUCK" <<'EOF'
import hashlib, json, os, platform, subprocess, sys
out, cairn, repo, repeats, duck = sys.argv[1:6]
def sh(*a):
    try:
        return subprocess.run(a, capture_output=True, text=True, cwd=repo).stdout.strip()
    except OSError:
        return ""
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
env = {"date": sh("date", "-u", "+%Y-%m-%dT%H:%M:%SZ"), "cpus": os.cpu_count(), "cpu": cpu,
       "kernel": platform.release(), "commit": sh("git", "rev-parse", "--short", "HEAD"),
       "dirty": bool(sh("git", "status", "--porcelain", "--untracked-files=no")),
       "cairn_sha256": hashlib.sha256(open(cairn, "rb").read()).hexdigest()[:16], "repeats": int(repeats),
       "python": sh(sys.executable, "-c", "import sys,pandas,numpy,scipy;print(sys.version.split()[0],pandas.__version__,numpy.__version__,scipy.__version__)")}
if duck:
    env["duckdb_node_api"] = json.load(open(os.path.join(duck, "node_modules/@duckdb/node-api/package.json")))["version"]
json.dump(env, open(out, "w"))
EOF
"$PY" - "$RAW" "$WORK/notbuilt" "$ENVJSON" "$RESULTS" "$WORK/checks" <<'EOF'
import csv, glob, json, os, statistics, sys
raw, notbuilt, envf, results, checks = sys.argv[1:6]
steps, order = {}, []
for r in csv.DictReader(open(raw), delimiter="\t"):
    if r["step"] not in steps:
        order.append(r["step"])
        steps[r["step"]] = {"group": r["group"], "wall_s": [], "cpu_s": [], "maxrss_kb": [], "load": []}
    d = steps[r["step"]]
    d["wall_s"].append(float(r["wall_s"])); d["cpu_s"].append(float(r["cpu_s"]))
    d["maxrss_kb"].append(int(r["maxrss_kb"])); d["load"].append([float(r["load_before"]), float(r["load_after"])])
rows = []
print()
print("| step | median s | min-max s | min CPU s | peak RSS MB | load avg |")
print("|---|---:|---:|---:|---:|---|")
for n in order:
    d = steps[n]
    d["median_s"] = statistics.median(d["wall_s"]); d["min_s"] = min(d["wall_s"]); d["max_s"] = max(d["wall_s"])
    d["min_cpu_s"] = min(d["cpu_s"]); d["peak_rss_mb"] = max(d["maxrss_kb"]) / 1024
    loads = [x for p in d["load"] for x in p]
    print("| %s | %.2f | %.2f-%.2f | %.2f | %.0f | %.1f-%.1f |" % (n, d["median_s"], d["min_s"], d["max_s"], d["min_cpu_s"],
          d["peak_rss_mb"], min(loads), max(loads)))
nb = [l.strip() for l in open(notbuilt) if l.strip()]
for n in nb:
    print("| %s | not built | | | | |" % n)
by = {d["group"]: d for d in steps.values()}
ratios = []
def ratio(name, anchor, ours):
    if anchor in by and ours in by:
        r = by[anchor]["median_s"] / by[ours]["median_s"] if by[ours]["median_s"] > 0 else float("inf")
        ratios.append({"ratio": name, "value": r})
for g in ("cairn_profile_1", "cairn_profile"):
    ratio("pandas profile / %s" % g, "pandas_profile", g)
    ratio("duckdb SUMMARIZE (default) / %s" % g, "duckdb_summarize", g)
ratio("duckdb SUMMARIZE (1 thread) / cairn_profile_1", "duckdb_summarize_1", "cairn_profile_1")
ratio("cairn profile: 1 thread / default threads (scaling)", "cairn_profile_1", "cairn_profile")
for g in [g for g in by if g.startswith("cairn_drift")]:
    v = g.split(":")[1]
    ratio("pandas drift / cairn drift %s(%s)" % ("--threads 1 " if g.startswith("cairn_drift_1:") else "(default threads) ", v),
          "pandas_drift:" + v, g)
for g in [g for g in by if g.startswith("cairn_drift_1:")]:
    ratio("cairn drift: 1 thread / default threads (%s, scaling)" % g.split(":")[1], g, "cairn_drift:" + g.split(":")[1])
if ratios:
    print()
    print("| ratio (medians; > 1: cairn faster) | value |")
    print("|---|---:|")
    for r in ratios:
        print("| %s | %.2fx |" % (r["ratio"], r["value"]))
targets = []
def target(name, group, limit, key, unit):
    if group in by:
        v = by[group][key]
        targets.append({"target": name, "value": v, "limit": limit, "met": v <= limit})
    else:
        targets.append({"target": name, "value": None, "limit": limit, "met": None})
target("profile <= 0.5 s on one core (median wall, --threads 1)", "cairn_profile_1", 0.5, "median_s", "s")
target("profile <= 0.5 s on one core (min CPU, --threads 1)", "cairn_profile_1", 0.5, "min_cpu_s", "s")
target("profile peak RSS <= 150 MB (--threads 1)", "cairn_profile_1", 150, "peak_rss_mb", "MB")
target("profile peak RSS <= 150 MB (default threads)", "cairn_profile", 150, "peak_rss_mb", "MB")
drifts = [g for g in by if g.startswith("cairn_drift")]
for g in [g for g in drifts if g.startswith("cairn_drift_1:")]:
    v = g.split(":")[1]
    target("drift <= 2 s on one core (%s, median wall, --threads 1)" % v, g, 2.0, "median_s", "s")
    target("drift <= 2 s on one core (%s, min CPU, --threads 1)" % v, g, 2.0, "min_cpu_s", "s")
    target("drift peak RSS <= 150 MB (%s, --threads 1)" % v, g, 150, "peak_rss_mb", "MB")
for g in [g for g in drifts if g.startswith("cairn_drift:")]:
    v = g.split(":")[1]
    target("drift <= 2 s (%s, median wall, default threads)" % v, g, 2.0, "median_s", "s")
    target("drift peak RSS <= 150 MB (%s, default threads)" % v, g, 150, "peak_rss_mb", "MB")
if not drifts:
    targets.append({"target": "drift <= 2 s", "value": None, "limit": 2.0, "met": None, "note": "cairn drift not built"})
print()
print("| issue-13 target | measured | verdict |")
print("|---|---:|---|")
for t in targets:
    v = "-" if t["value"] is None else "%.2f" % t["value"]
    verdict = "not built" if t["met"] is None else ("met" if t["met"] else "missed")
    print("| %s | %s | %s |" % (t["target"], v, verdict))
correctness = {}
for f in sorted(glob.glob(os.path.join(checks, "*.json"))):
    v = os.path.basename(f)[:-5]
    correctness[v] = json.load(open(f))
    correctness[v]["line"] = open(f[:-5] + ".txt").read().strip()
if correctness:
    print()
    print("correctness (cairn drift, default threads, against the anchor's results/1m/drift_<variant>.json):")
    for v, c in correctness.items():
        print("  %s: %s" % (v, c["line"]))
        print("    --threads 1 against default threads: %s" % c.get("threads_1_vs_default"))
for d in steps.values():
    del d["load"]
json.dump({"bench": "monitor", "env": json.load(open(envf)), "steps": steps, "not_built": nb, "ratios": ratios,
           "targets": targets, "correctness": correctness}, open(results, "w"), indent=1)
print()
print("results: " + results)
EOF
