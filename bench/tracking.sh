#!/usr/bin/env bash
# bench/tracking.sh - cairn vs the real MLflow tracking server, same benchmark, same run.
#
#   bench/tracking.sh [--anchor-config gunicorn4|uvicorn4|both] [--no-extra] [--results FILE]
#                     [bench_tracking.py flags, e.g. --quick, --skip conc, --runs 500]
#
# (`make bench` builds build/cairn, then runs this with no arguments.)  Builds nothing.
# For each server in turn - cairn first, then each MLflow config - it starts the server on a
# free port with a fresh data dir, runs ../shared/anchors/mlflow/bench_tracking.py against it
# with the same flags, then bench/raw_extra.py (raw-HTTP search/history, curl artifacts; skip
# with --no-extra), and stops it (only that server's own process group).  After the cairn
# server it times `dd conv=fdatasync` of the artifact size on the same filesystem.  Then it
# prints the comparison table and writes everything to bench/results/tracking-DATE.json
# (tracking-DATE-quick.json with --quick).
#
# Anchor configs (see ../shared/anchors/mlflow/README.md):
#   gunicorn4 (default) = mlflow server --gunicorn-opts ''  (Flask on 4 gunicorn sync workers)
#   uvicorn4            = plain `mlflow server` (MLflow 3 default: uvicorn, 4 workers; every
#                         keep-alive request stalls ~40 ms on a Nagle/delayed-ACK bug)
# Env: CAIRN_SHARED (default <repo>/../shared), CAIRN_BIN (default build/cairn),
#      BENCH_TMP (parent of the temporary data dirs; default $TMPDIR or /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
CAIRN_SHARED="${CAIRN_SHARED:-$REPO/../shared}"
ANCHOR="$CAIRN_SHARED/anchors/mlflow"
CAIRN_BIN="${CAIRN_BIN:-build/cairn}"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

configs=gunicorn4
extra=1
results=""
pass=()
while [[ $# -gt 0 ]]; do
	case "$1" in
	--anchor-config) configs="${2:?--anchor-config needs a value}"; shift 2 ;;
	--anchor-config=*) configs="${1#*=}"; shift ;;
	--no-extra) extra=0; shift ;;
	--results) results="${2:?--results needs a file}"; shift 2 ;;
	--results=*) results="${1#*=}"; shift ;;
	--out | --out=*) echo "tracking.sh: --out is set by the script (use --results)" >&2; exit 2 ;;
	-h | --help) usage; exit 0 ;;
	*) pass+=("$1"); shift ;;
	esac
done
case "$configs" in
gunicorn4 | uvicorn4) ;;
both) configs="gunicorn4 uvicorn4" ;;
*) echo "tracking.sh: --anchor-config must be gunicorn4, uvicorn4 or both" >&2; exit 2 ;;
esac

if [[ ! -x "$CAIRN_BIN" ]]; then
	echo "tracking.sh: $CAIRN_BIN not built (run: make bench, or make first)" >&2
	exit 2
fi
for f in bench_tracking.py start_mlflow_server.sh stop_mlflow_server.sh; do
	[[ -f "$ANCHOR/$f" ]] || { echo "tracking.sh: $ANCHOR/$f missing (set CAIRN_SHARED)" >&2; exit 2; }
done
command -v curl >/dev/null || { echo "tracking.sh: curl is needed" >&2; exit 2; }

# shellcheck source=../tests/integration/mlflow_env.sh
. tests/integration/mlflow_env.sh
export MLFLOW_SRC STUBS_DIR PYTHONPATH

quick=""
for a in "${pass[@]+"${pass[@]}"}"; do [[ "$a" == --quick ]] && quick="-quick"; done
day="$(date +%F)"
mkdir -p bench/results
results="${results:-bench/results/tracking-$day$quick.json}"

WORK="$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cairn-bench-XXXXXX")"
# Run a private copy of the binary: a rebuild of build/cairn during the run changes nothing,
# and the results record exactly what was measured.
cp "$CAIRN_BIN" "$WORK/cairn-bin"
cairn_sha="$(sha256sum "$WORK/cairn-bin" | cut -c1-16)"
cairn_mtime="$(date -r "$CAIRN_BIN" +%FT%T)"
cairn_commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
cairn_dirty="$(git status --porcelain -- . ':!bench' 2>/dev/null | grep -q . && echo yes || echo no)"
started="$(date +%T)"
CAIRN_PGID=""
MLFLOW_DIR=""
cleanup() {
	local rc=$?
	if [[ -n "$CAIRN_PGID" ]]; then stop_group "$CAIRN_PGID"; fi
	if [[ -n "$MLFLOW_DIR" ]]; then "$ANCHOR/stop_mlflow_server.sh" "$MLFLOW_DIR" >/dev/null 2>&1 || true; fi
	if [[ $rc -ne 0 ]]; then
		echo "tracking.sh: failed (rc $rc); logs kept in $WORK" >&2
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# stop_group PGID: SIGTERM the process group, wait up to 10 s, then SIGKILL it.
stop_group() {
	local pg="$1" i
	kill -TERM -- "-$pg" 2>/dev/null || return 0
	for i in $(seq 40); do
		kill -0 -- "-$pg" 2>/dev/null || return 0
		sleep 0.25
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
}

# run_bench NAME URI: bench_tracking.py (+ raw_extra.py) against URI into $WORK/NAME*.json
run_bench() {
	local name="$1" uri="$2" t0=$SECONDS
	echo "== $name: bench_tracking.py ${pass[*]-} against $uri" >&2
	if ! MLFLOW_TRACKING_URI="$uri" "$PY" "$ANCHOR/bench_tracking.py" "${pass[@]+"${pass[@]}"}" \
		--out "$WORK/$name.json" >/dev/null 2>"$WORK/$name.log"; then
		echo "tracking.sh: bench_tracking.py failed against $name; last lines of its log:" >&2
		tail -15 "$WORK/$name.log" >&2
		return 1
	fi
	if [[ $extra == 1 ]]; then
		local xargs=()
		for a in "${pass[@]+"${pass[@]}"}"; do
			[[ "$a" == --quick ]] && xargs=(--search-reps 5 --history-reps 2 --artifact-reps 1 --lean-runs 20 --lean-log-metric 100 --lean-batches 10)
		done
		if ! MLFLOW_TRACKING_URI="$uri" "$PY" bench/raw_extra.py --bench-json "$WORK/$name.json" \
			"${xargs[@]+"${xargs[@]}"}" --out "$WORK/$name-extra.json" >/dev/null 2>>"$WORK/$name.log"; then
			echo "tracking.sh: raw_extra.py failed against $name; last lines:" >&2
			tail -15 "$WORK/$name.log" >&2
			return 1
		fi
	fi
	echo "   done in $((SECONDS - t0)) s" >&2
}

# --- cairn ---------------------------------------------------------------------------------
port="$(free_port)"
mkdir -p "$WORK/cairn"
# setsid: the server leads its own process group, so stopping it touches nothing else.
setsid "$WORK/cairn-bin" server --host 127.0.0.1 --port "$port" --root "$WORK/cairn/root" \
	>"$WORK/cairn/server.log" 2>&1 </dev/null &
CAIRN_PGID=$!
ok=0
for _ in $(seq 200); do
	if curl -sf -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then ok=1; break; fi
	kill -0 "$CAIRN_PGID" 2>/dev/null || break
	sleep 0.1
done
if [[ $ok != 1 ]]; then
	echo "tracking.sh: cairn server did not come up on port $port:" >&2
	tail -20 "$WORK/cairn/server.log" >&2
	exit 1
fi
echo "== cairn server pid $CAIRN_PGID on 127.0.0.1:$port (root $WORK/cairn/root)" >&2
run_bench cairn "http://127.0.0.1:$port"
stop_group "$CAIRN_PGID"
CAIRN_PGID=""

# raw disk write speed, same size as the artifact, same filesystem as the cairn root
art_mib="$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["meta"]["args"]["artifact_mb"] if "artifact_file_MB" in d["results"] else 0)' "$WORK/cairn.json")"
disk_args=()
if [[ "$art_mib" != 0 ]]; then
	echo "== dd if=/dev/zero bs=1M count=$art_mib conv=fdatasync, 3 times (in $WORK)" >&2
	: >"$WORK/dd.txt"
	for _ in 1 2 3; do
		LC_ALL=C dd if=/dev/zero of="$WORK/dd.bin" bs=1M count="$art_mib" conv=fdatasync 2>&1 |
			tail -1 >>"$WORK/dd.txt"
		rm -f "$WORK/dd.bin"
	done
	sed 's/^/   /' "$WORK/dd.txt" >&2
	disk_args=(--disk "$WORK/dd.txt")
fi
rm -rf "$WORK/cairn/root"

# --- MLflow --------------------------------------------------------------------------------
sum_args=(--cairn "$WORK/cairn.json")
[[ $extra == 1 ]] && sum_args+=(--cairn-extra "$WORK/cairn-extra.json")
for cfg in $configs; do
	port="$(free_port)"
	MLFLOW_DIR="$WORK/mlflow-$cfg"
	mkdir -p "$MLFLOW_DIR"
	unset MLFLOW_SERVER_WORKERS MLFLOW_SERVER_EXTRA
	[[ $cfg == gunicorn4 ]] && export MLFLOW_SERVER_EXTRA="--gunicorn-opts ''"
	echo "== starting MLflow ($cfg) on 127.0.0.1:$port" >&2
	pid="$("$ANCHOR/start_mlflow_server.sh" "$port" "$MLFLOW_DIR")"
	echo "   pid $pid" >&2
	run_bench "mlflow-$cfg" "http://127.0.0.1:$port"
	"$ANCHOR/stop_mlflow_server.sh" "$MLFLOW_DIR" >/dev/null
	MLFLOW_DIR=""
	sum_args+=(--mlflow "$cfg=$WORK/mlflow-$cfg.json")
	[[ $extra == 1 ]] && sum_args+=(--mlflow-extra "$cfg=$WORK/mlflow-$cfg-extra.json")
done

# --- table + combined JSON -----------------------------------------------------------------
cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)"
mem="$(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo 2>/dev/null || true)"
echo >&2
"$PY" bench/summarize_tracking.py "${sum_args[@]}" "${disk_args[@]+"${disk_args[@]}"}" \
	--meta "date=$day" --meta "started=$started" --meta "finished=$(date +%T)" --meta "cpus=$(nproc)" \
	--meta "cpu=$cpu" --meta "mem=$mem" --meta "kernel=$(uname -r)" --meta "anchor_configs=$configs" \
	--meta "bench_flags=${pass[*]-}" --meta "cairn_commit=$cairn_commit" \
	--meta "cairn_tree_dirty_outside_bench=$cairn_dirty" --meta "cairn_binary_sha256_16=$cairn_sha" \
	--meta "cairn_binary_mtime=$cairn_mtime" \
	--out "$results"
echo
echo "raw JSON: $results"
