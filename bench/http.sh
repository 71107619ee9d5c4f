#!/usr/bin/env bash
# bench/http.sh - the HTTP layer under keep-alive load and slowloris: cairn vs the real MLflow
# server (gunicorn4 and uvicorn4 anchor configs), same scenarios, same run, ratios printed.
#
#   bench/http.sh [--anchor-config gunicorn4|uvicorn4|both] [--slow-kind head|body|both]
#                 [--duration S] [--results FILE]
#
# (`make bench BENCH=http` builds build/cairn, then runs this.)  Builds nothing.  For each
# server in turn - cairn with its defaults, then each MLflow config - it starts the server on
# a free port with a fresh data dir, creates 10 runs (bench/http_load.py setup), and then:
#   1. wrk -t2 -c50 and -t2 -c1000, DURATION s each (default 5), keep-alive, mixed load of
#      bench/http_mixed.lua (half log-metric into one run, half runs/search max 5): 2xx
#      requests/s, p50/p99 latency, errors, CPU of server / wrk / the rest of the machine,
#      and the sockets the server holds 3 s after wrk exits, against the count before
#      (against cairn also 2 s of GET /health only: what wrk itself can generate here);
#   2. slowloris: 1,100 connections from 127.0.0.2 send an unfinished request head and then
#      one byte each per second for 22 s; a probe from 127.0.0.1 asks GET /health once a
#      second for the first 15 s (2 s allowed each): share answered 200 and their median
#      latency; also how many attack connections the server cut off, and when.
# Then it stops the server (its own process group only).  The table goes to stdout, every
# piece to bench/results/http-DATE-HHMM.json.  Servers run one after the other, never at the
# same time.  Takes ~2.7 min with both anchor configs (~4 min with --slow-kind both).
#
# cairn runs with its defaults only (--host/--port/--root given): max 4096 connections, 1024
# per client address, head and body deadlines 20 s, idle 30 s, 2 threads per core (>= 4).
# MLflow runs as start_mlflow_server.sh starts it (../shared/anchors/mlflow/README.md):
#   gunicorn4 = mlflow server --gunicorn-opts ''  (Flask on 4 gunicorn sync workers)
#   uvicorn4  = plain mlflow server (MLflow 3's default: uvicorn, 4 workers)
# Env: CAIRN_SHARED (default <repo>/../shared), CAIRN_BIN (default build/cairn),
#      BENCH_TMP (parent of the temporary data dirs; default $TMPDIR or /tmp),
#      SLOW_CONNS (1100), SLOW_SOURCES (1: all from 127.0.0.2; N: round-robin over
#      127.0.0.2 .. 127.0.0.N+1, e.g. SLOW_SOURCES=4 SLOW_CONNS=4400 to pass cairn's per-client
#      limit), SLOW_HOLD (22), PROBE_SECONDS (15), SETTLE (3).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
CAIRN_SHARED="${CAIRN_SHARED:-$REPO/../shared}"
ANCHOR="$CAIRN_SHARED/anchors/mlflow"
CAIRN_BIN="${CAIRN_BIN:-build/cairn}"
SLOW_CONNS="${SLOW_CONNS:-1100}"
SLOW_HOLD="${SLOW_HOLD:-22}"
PROBE_SECONDS="${PROBE_SECONDS:-15}"
SETTLE="${SETTLE:-3}"
SLOW_SOURCES="${SLOW_SOURCES:-1}"
slow_src="$(seq -s, -f '127.0.0.%g' 2 $((SLOW_SOURCES + 1)))"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

configs="gunicorn4 uvicorn4"
kinds="head"
duration=5
results=""
while [[ $# -gt 0 ]]; do
	case "$1" in
	--anchor-config) configs="${2:?--anchor-config needs a value}"; shift 2 ;;
	--slow-kind) kinds="${2:?--slow-kind needs a value}"; shift 2 ;;
	--duration) duration="${2:?--duration needs seconds}"; shift 2 ;;
	--results) results="${2:?--results needs a file}"; shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "http.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case "$configs" in
gunicorn4 | uvicorn4 | "gunicorn4 uvicorn4") ;;
both) configs="gunicorn4 uvicorn4" ;;
*) echo "http.sh: --anchor-config must be gunicorn4, uvicorn4 or both" >&2; exit 2 ;;
esac
case "$kinds" in
head | body) ;;
both) kinds="head body" ;;
*) echo "http.sh: --slow-kind must be head, body or both" >&2; exit 2 ;;
esac

[[ -x "$CAIRN_BIN" ]] || { echo "http.sh: $CAIRN_BIN not built (run: make bench BENCH=http, or make)" >&2; exit 2; }
for f in start_mlflow_server.sh stop_mlflow_server.sh; do
	[[ -f "$ANCHOR/$f" ]] || { echo "http.sh: $ANCHOR/$f missing (set CAIRN_SHARED)" >&2; exit 2; }
done
for t in curl ss; do
	command -v "$t" >/dev/null || { echo "http.sh: $t is needed" >&2; exit 2; }
done
if ! command -v wrk >/dev/null; then
	echo "== wrk missing: apt-get install -y wrk" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } ||
		{ echo "http.sh: could not install wrk (Debian package wrk)" >&2; exit 2; }
fi
# 127.0.0.2 is the attacker's address: on Linux all of 127/8 is on lo
"${PY:-/usr/bin/python3}" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.2",0))' 2>/dev/null ||
	{ echo "http.sh: cannot bind 127.0.0.2 (the slowloris source address)" >&2; exit 2; }
# descriptors: wrk's 1000 and the attacker's 1100 connections; MLflow gets the same limit
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[[ "$(ulimit -n)" == unlimited || "$(ulimit -n)" -ge 4096 ]] ||
	echo "http.sh: warning: ulimit -n is $(ulimit -n); MLflow workers may run out of descriptors" >&2

# shellcheck source=../tests/integration/mlflow_env.sh
. tests/integration/mlflow_env.sh
export MLFLOW_SRC STUBS_DIR PYTHONPATH

day="$(date +%F)"
mkdir -p bench/results
results="${results:-bench/results/http-$day-$(date +%H%M).json}"
WORK="$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cairn-httpbench-XXXXXX")"
cp "$CAIRN_BIN" "$WORK/cairn-bin"
cairn_sha="$(sha256sum "$WORK/cairn-bin" | cut -c1-16)"
cairn_commit="$(git rev-parse --short HEAD 2>/dev/null || echo '?')"
cairn_dirty="$(git status --porcelain -- . ':!bench' 2>/dev/null | grep -q . && echo yes || echo no)"
started="$(date +%T)"
load_before="$(cut -d' ' -f1-3 /proc/loadavg)"
CAIRN_PGID=""
MLFLOW_DIR=""

stop_group() {
	local pg="$1"
	kill -TERM -- "-$pg" 2>/dev/null || return 0
	for _ in $(seq 40); do
		kill -0 -- "-$pg" 2>/dev/null || return 0
		sleep 0.25
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
}
cleanup() {
	local rc=$?
	[[ -n "$CAIRN_PGID" ]] && stop_group "$CAIRN_PGID"
	[[ -n "$MLFLOW_DIR" ]] && { "$ANCHOR/stop_mlflow_server.sh" "$MLFLOW_DIR" >/dev/null 2>&1 || true; }
	if [[ $rc -ne 0 ]]; then echo "http.sh: failed (rc $rc); logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_health URL: until /health answers within 1 s (a server still draining a backlog
# from the previous scenario would skew the next one's baseline); at most 30 s
wait_health() {
	for _ in $(seq 30); do
		curl -sf -m 1 "$1/health" >/dev/null 2>&1 && return 0
		sleep 1
	done
	echo "http.sh: warning: $1/health slow or silent for 30 s" >&2
}

# scenarios NAME URL PGID: every scenario against one running server, pieces into $WORK/NAME/
scenarios() {
	local name="$1" url="$2" pg="$3" dir="$WORK/$1" run exp c k t0=$SECONDS
	mkdir -p "$dir"
	read -r run exp < <("$PY" bench/http_load.py setup "$url") || true
	[[ -n "${exp:-}" ]] || { echo "http.sh: setup (10 runs) failed against $name" >&2; return 1; }
	for c in 50 1000; do
		wait_health "$url"
		echo "   wrk -t2 -c$c -d${duration}s" >&2
		"$PY" bench/http_load.py wrk "$url" --pgid "$pg" --conns "$c" --duration "$duration" \
			--settle "$SETTLE" --run-id "$run" --exp-id "$exp" --label "$name" >"$dir/wrk-$c.json" ||
			{ echo "http.sh: wrk failed against $name:" >&2; tail -c 2000 "$dir/wrk-$c.json" >&2; return 1; }
		"$PY" - "$dir/wrk-$c.json" <<-'EOF' >&2
			import json, sys
			d = json.load(open(sys.argv[1]))
			print("     %.0f req/s 2xx, p99 %.1f ms, %d errors, sockets +%d after %.0f s; cores: server %.2f wrk %.2f others %.2f"
			      % (d["rps_2xx"], d["latency_ms"]["p99"], sum(d["errors"].values()), d["sockets_leaked"],
			         d["settle_s"], d["cpu"]["server_cores"], d["cpu"]["wrk_cores"], d["cpu"]["other_cores"]))
		EOF
	done
	if [[ $name == cairn ]]; then
		# wrk's own ceiling on this machine: the cheapest request of the fastest server
		echo "   wrk -t2 -c50 -d2s GET /health (wrk's ceiling)" >&2
		"$PY" bench/http_load.py wrk "$url" --pgid "$pg" --conns 50 --duration 2 --settle 0 \
			--run-id health --label "$name" >"$dir/wrk-health.json" ||
			{ echo "http.sh: wrk /health failed against $name" >&2; return 1; }
	fi
	for k in $kinds; do
		wait_health "$url"
		echo "   slowloris ($k): $SLOW_CONNS conns from $slow_src for ${SLOW_HOLD}s, probe ${PROBE_SECONDS}s" >&2
		"$PY" bench/http_load.py slowloris "$url" --pgid "$pg" --kind "$k" --conns "$SLOW_CONNS" --source "$slow_src" \
			--probe-seconds "$PROBE_SECONDS" --hold "$SLOW_HOLD" >"$dir/slowloris-$k.json" ||
			{ echo "http.sh: slowloris failed against $name" >&2; return 1; }
		"$PY" - "$dir/slowloris-$k.json" <<-'EOF' >&2
			import json, sys
			d = json.load(open(sys.argv[1]))
			print("     probes %d/%d answered, median %s ms; attack: %d connected, %d closed at once, %d cut off by %.0f s"
			      % (d["probe_ok"], d["probe_n"], d["probe_median_ms"] and round(d["probe_median_ms"], 2), d["connected"], d["closed_at_once"],
			         d["closed_by_server_after_once"], d["hold_s"]))
		EOF
	done
	echo "   done in $((SECONDS - t0)) s" >&2
}

# --- cairn, defaults -------------------------------------------------------------------------
port="$(free_port)"
mkdir -p "$WORK/cairn-srv"
setsid "$WORK/cairn-bin" server --host 127.0.0.1 --port "$port" --root "$WORK/cairn-srv/root" \
	>"$WORK/cairn-srv/server.log" 2>&1 </dev/null &
CAIRN_PGID=$!
ok=0
for _ in $(seq 200); do
	if curl -sf -m 2 "http://127.0.0.1:$port/health" >/dev/null 2>&1; then ok=1; break; fi
	kill -0 "$CAIRN_PGID" 2>/dev/null || break
	sleep 0.1
done
[[ $ok == 1 ]] || { echo "http.sh: cairn did not come up:" >&2; tail -20 "$WORK/cairn-srv/server.log" >&2; exit 1; }
echo "== cairn (defaults) pid $CAIRN_PGID on 127.0.0.1:$port" >&2
scenarios cairn "http://127.0.0.1:$port" "$CAIRN_PGID"
stop_group "$CAIRN_PGID"
CAIRN_PGID=""
sum_args=(--server "cairn=$WORK/cairn")

# --- MLflow ---------------------------------------------------------------------------------
for cfg in $configs; do
	port="$(free_port)"
	MLFLOW_DIR="$WORK/mlflow-$cfg-srv"
	mkdir -p "$MLFLOW_DIR"
	unset MLFLOW_SERVER_WORKERS MLFLOW_SERVER_EXTRA
	[[ $cfg == gunicorn4 ]] && export MLFLOW_SERVER_EXTRA="--gunicorn-opts ''"
	echo "== starting MLflow ($cfg) on 127.0.0.1:$port" >&2
	pid="$("$ANCHOR/start_mlflow_server.sh" "$port" "$MLFLOW_DIR")"
	echo "   pid $pid" >&2
	scenarios "mlflow-$cfg" "http://127.0.0.1:$port" "$pid"
	"$ANCHOR/stop_mlflow_server.sh" "$MLFLOW_DIR" >/dev/null
	MLFLOW_DIR=""
	sum_args+=(--server "mlflow-$cfg=$WORK/mlflow-$cfg")
done

# --- table + combined JSON ------------------------------------------------------------------
cpu="$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: //' || true)"
echo >&2
"$PY" bench/summarize_http.py "${sum_args[@]}" \
	--meta "date=$day" --meta "started=$started" --meta "finished=$(date +%T)" --meta "cpus=$(nproc)" \
	--meta "cpu=$cpu" --meta "kernel=$(uname -r)" --meta "anchor_configs=$configs" \
	--meta "load_before=$load_before" --meta "load_after=$(cut -d' ' -f1-3 /proc/loadavg)" \
	--meta "wrk_duration_s=$duration" --meta "wrk=$(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)" \
	--meta "slow_kinds=$kinds" --meta "slow_conns=$SLOW_CONNS" --meta "slow_sources=$slow_src" --meta "slow_hold_s=$SLOW_HOLD" \
	--meta "probe_seconds=$PROBE_SECONDS" --meta "settle_s=$SETTLE" --meta "ulimit_n=$(ulimit -n)" \
	--meta "cairn_commit=$cairn_commit" --meta "cairn_tree_dirty_outside_bench=$cairn_dirty" \
	--meta "cairn_binary_sha256_16=$cairn_sha" --meta "cairn_flags=defaults" \
	--out "$results"
echo
echo "raw JSON: $results"
