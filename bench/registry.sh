#!/usr/bin/env bash
# bench/registry.sh - cairn vs the real MLflow server, model-registry benchmark, same run.
#
#   bench/registry.sh [registry.py flags, e.g. --n 100 --alias-reps 200]
#
# Builds nothing (run `make` first).  Starts cairn, then MLflow (gunicorn4 anchor config:
# `mlflow server --gunicorn-opts ''`, sqlite backend), each on a free port with a fresh data
# dir; runs bench/registry.py against each; stops each server (its own process group only).
# Prints a table (ratio = mlflow/cairn for times, cairn/mlflow for throughput: >1 = cairn
# faster) and writes bench/results/registry-DATE.json.
# Env: CAIRN_SHARED (default <repo>/../shared), CAIRN_BIN (default build/cairn), BENCH_TMP.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
CAIRN_SHARED="${CAIRN_SHARED:-$REPO/../shared}"
ANCHOR="$CAIRN_SHARED/anchors/mlflow"
CAIRN_BIN="${CAIRN_BIN:-build/cairn}"
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
[[ -x "$CAIRN_BIN" ]] || { echo "registry.sh: $CAIRN_BIN not built (run make)" >&2; exit 2; }
for f in start_mlflow_server.sh stop_mlflow_server.sh; do
	[[ -f "$ANCHOR/$f" ]] || { echo "registry.sh: $ANCHOR/$f missing (set CAIRN_SHARED)" >&2; exit 2; }
done

# shellcheck source=../tests/integration/mlflow_env.sh
. tests/integration/mlflow_env.sh
export MLFLOW_SRC STUBS_DIR PYTHONPATH

day="$(date +%F)"
mkdir -p bench/results
results="bench/results/registry-$day.json"
WORK="$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cairn-regbench-XXXXXX")"
cp "$CAIRN_BIN" "$WORK/cairn-bin"
cairn_sha="$(sha256sum "$WORK/cairn-bin" | cut -c1-16)"
cairn_commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
CAIRN_PGID=""
MLFLOW_DIR=""

stop_group() {
	local pg="$1" i
	kill -TERM -- "-$pg" 2>/dev/null || return 0
	for i in $(seq 40); do
		kill -0 -- "-$pg" 2>/dev/null || return 0
		sleep 0.25
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
}
cleanup() {
	local rc=$?
	[[ -n "$CAIRN_PGID" ]] && stop_group "$CAIRN_PGID"
	[[ -n "$MLFLOW_DIR" ]] && { "$ANCHOR/stop_mlflow_server.sh" "$MLFLOW_DIR" >/dev/null 2>&1 || true; }
	if [[ $rc -ne 0 ]]; then echo "registry.sh: failed (rc $rc); logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
run_one() { # NAME URL
	echo "== $1: registry.py ${*:3} against $2" >&2
	local t0=$SECONDS
	"$PY" bench/registry.py "$2" --name "$1" "${@:3}" >"$WORK/$1.json" || {
		echo "registry.sh: registry.py reported errors against $1:" >&2
		cat "$WORK/$1.json" >&2
	}
	cat "$WORK/$1.json"
	echo "   done in $((SECONDS - t0)) s" >&2
}

# --- cairn ---
port="$(free_port)"
mkdir -p "$WORK/cairn"
setsid "$WORK/cairn-bin" server --host 127.0.0.1 --port "$port" --root "$WORK/cairn/root" \
	>"$WORK/cairn/server.log" 2>&1 </dev/null &
CAIRN_PGID=$!
ok=0
for _ in $(seq 200); do
	if curl -sf -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then ok=1; break; fi
	kill -0 "$CAIRN_PGID" 2>/dev/null || break
	sleep 0.1
done
[[ $ok == 1 ]] || { echo "registry.sh: cairn did not come up" >&2; tail -20 "$WORK/cairn/server.log" >&2; exit 1; }
run_one cairn "http://127.0.0.1:$port" "$@"
stop_group "$CAIRN_PGID"
CAIRN_PGID=""

# --- MLflow (gunicorn4) ---
port="$(free_port)"
MLFLOW_DIR="$WORK/mlflow"
mkdir -p "$MLFLOW_DIR"
unset MLFLOW_SERVER_WORKERS
export MLFLOW_SERVER_EXTRA="--gunicorn-opts ''"
echo "== starting MLflow (gunicorn4) on 127.0.0.1:$port" >&2
"$ANCHOR/start_mlflow_server.sh" "$port" "$MLFLOW_DIR" >/dev/null
run_one mlflow "http://127.0.0.1:$port" "$@"
"$ANCHOR/stop_mlflow_server.sh" "$MLFLOW_DIR" >/dev/null
MLFLOW_DIR=""

# --- table + JSON ---
echo
"$PY" - "$WORK/cairn.json" "$WORK/mlflow.json" "$results" "$day" "$(nproc)" "$cairn_commit" "$cairn_sha" \
	"$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')" <<'PY'
import json, sys
c, m = (json.load(open(p)) for p in sys.argv[1:3])
out, day, cpus, commit, sha, cpu = sys.argv[3:9]
rows = [("create_version_ms", "ms/op", "t"), ("conc_create_ops_s", "ops/s", "x"),
        ("conc_versions_ok", "", "b"), ("get_alias_ms", "ms/op", "t"),
        ("search_versions_ms", "ms/op", "t"), ("search_models_ms", "ms/op", "t")]
print(f"{'metric':<22}{'unit':<7}{'cairn':>10}{'mlflow':>10}{'ratio':>8}")
ratios = {}
for k, u, kind in rows:
    a, b = c["results"].get(k), m["results"].get(k)
    if kind == "b":
        print(f"{k:<22}{u:<7}{str(a):>10}{str(b):>10}{'':>8}"); continue
    r = None
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a and b:
        r = b / a if kind == "t" else a / b
    ratios[k] = r
    f = lambda v: "n/a" if v is None else f"{v:.3f}" if v < 10 else f"{v:.1f}"
    print(f"{k:<22}{u:<7}{f(a):>10}{f(b):>10}{'n/a' if r is None else f'{r:.1f}x':>8}")
print("(ratio: mlflow/cairn for ms/op, cairn/mlflow for ops/s; >1 = cairn faster)")
for s in (c, m):
    for e in s["errors"]:
        print(f"!! {s['server']}: {e}")
json.dump({"meta": {"date": day, "cpus": cpus, "cpu": cpu, "anchor_config": "gunicorn4 (mlflow server --gunicorn-opts '', sqlite)",
                    "cairn_commit": commit, "cairn_binary_sha256_16": sha, "args": c["args"]},
           "cairn": c, "mlflow": m, "ratios": ratios}, open(out, "w"), indent=1)
PY
echo
echo "raw JSON: $results"
