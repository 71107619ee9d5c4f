#!/usr/bin/env bash
# bench/serving.sh - `cairn serve` against the serving anchors (../shared/anchors/serving) and
# MLflow's own scoring server: same model, same request bodies, one run, ratios printed.
#
#   bench/serving.sh [--quick] [--configs "NAME ..."] [--duration S] [--repeats N]
#                    [--no-floor] [--no-profile] [--instances] [--results FILE] [--list]
#
# (`make bench BENCH=serving` builds build/cairn, then runs this; it is not in the default
# `make bench` list: a full run takes ~22 min on a quiet machine - 30 cells of 3 x 10 s, two
# MLflow start-ups, the C-API floor, the profile - and far longer while other load makes it
# retry; --quick, 1 x 5 s per cell, takes ~5 min.)  Builds nothing but the anchor's xgb_c_bench.
#
# One server at a time, each started in its own process group on a free port, its predictions
# checked (the anchor's check_server.py: within 1e-6 of xgboost's own; OIP bodies and MLflow's
# server by bench/serving_load.py check), then for each body REPEATS x DURATION of the anchor's
# load: `wrk -t1 -c16` closed loop with its post.lua, wrk pinned to CPU 1.  Per run: req/s, p50,
# p99, errors, CPU of the server (its process tree), of wrk, and of everything else ("foreign",
# other sessions' processes; a run with foreign > MAX_FOREIGN = 5 % of a core is discarded and
# retried, up to MAX_RETRIES times, as the anchor does; each run first waits - at most QUIET_WAIT
# s, RETRY_WAIT s after a discarded one - for two 1-s samples of <= QUIET_PCT % machine load).  Against cairn also its
# /metrics before and after each run: mean time in predict and in the handler per request.
#
# Configs (`*_cpu0`: pinned to CPU 0, one core against wrk's one; `*_2cpu`: unpinned):
#   cairn_cpu0                 build/cairn serve data/model.json (defaults: one HTTP thread per CPU it may run on)
#   cairn_t1_cpu0, cairn_t2_cpu0   the same with --threads 1 / --threads 2
#   flask_dev_cpu0             the seed: /usr/bin/python3 flask_app.py (Flask dev server, threaded)
#   gunicorn_sync2_cpu0        gunicorn -w 2 flask_app:app            (the anchor's run_all.sh flags)
#   gunicorn_gthread2x4_cpu0   gunicorn -w 2 -k gthread --threads 4 flask_app:app
#   mlflow_cpu0                mlflow models serve -m DIR --env-manager local (uvicorn, 1 worker:
#                              its default), DIR = the anchor booster saved by mlflow.xgboost.save_model
#   nginx_1w_cpu0              the ceiling: nginx_ceiling.sh, a fixed 200 body, 1 worker
#   cairn_2cpu                 cairn defaults, unpinned
#   gunicorn_sync2_2cpu_nt1, gunicorn_gthread2x4_2cpu_nt1   unpinned, OMP_NUM_THREADS=1 XGB_NTHREAD=1
#   mlflow_w2_2cpu_nt1         mlflow models serve -w 2, unpinned, OMP_NUM_THREADS=1
#   nginx_2w_2cpu              nginx, 2 workers, unpinned
# Bodies: request_1 and request_100 (dataframe_split) for every server; against cairn_cpu0 and
# cairn_t1_cpu0 also the same rows as Open Inference Protocol bodies (oip_1, oip_100: one FP32
# tensor [n, 30]) on /v2/models/model/infer; --instances adds request_100_instances on cairn_cpu0.
# Then (unless --no-floor) the anchor's xgb_c_bench, pinned to CPU 0 under its quiet_run.sh: the
# C-API floor in the same run; and (unless --no-profile) `perf record` of cairn_cpu0 under the
# 1-row and 100-row loads (and of cairn_t1_cpu0 under the 1-row one): where a request's CPU goes
# (HTTP layer, decode, predict, encode).
# The table goes to stdout (bench/summarize_serving.py), everything to
# bench/results/serving-DATE-HHMM.json.
#
# Env: CAIRN_SHARED (default <repo>/../shared), CAIRN_BIN (default build/cairn), BENCH_TMP,
#      MAX_FOREIGN (5), MAX_RETRIES (10), RETRY_WAIT (60), QUIET_WAIT (30), QUIET_PCT (10),
#      CONNS (16), WRK_CPUS (1).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
CAIRN_SHARED="${CAIRN_SHARED:-$REPO/../shared}"
ANCHOR="$CAIRN_SHARED/anchors/serving"
CAIRN_BIN="${CAIRN_BIN:-build/cairn}"
CONNS="${CONNS:-16}"
WRK_CPUS="${WRK_CPUS:-1}"
export MAX_FOREIGN="${MAX_FOREIGN:-5}" MAX_RETRIES="${MAX_RETRIES:-10}" RETRY_WAIT="${RETRY_WAIT:-60}"
export QUIET_WAIT="${QUIET_WAIT:-30}" QUIET_PCT="${QUIET_PCT:-10}"

ALL_CONFIGS="cairn_cpu0 cairn_t1_cpu0 cairn_t2_cpu0 flask_dev_cpu0 gunicorn_sync2_cpu0 gunicorn_gthread2x4_cpu0
mlflow_cpu0 nginx_1w_cpu0 cairn_2cpu gunicorn_sync2_2cpu_nt1 gunicorn_gthread2x4_2cpu_nt1 mlflow_w2_2cpu_nt1
nginx_2w_2cpu"
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

configs="$(echo $ALL_CONFIGS)"
duration=10
repeats=3
floor=1
profile=1
instances=""
results=""
quick=0
while [[ $# -gt 0 ]]; do
	case "$1" in
	--quick) quick=1; duration=5; repeats=1; shift ;;
	--configs) configs="${2:?--configs needs names}"; shift 2 ;;
	--duration) duration="${2:?--duration needs seconds}"; shift 2 ;;
	--repeats) repeats="${2:?--repeats needs a count}"; shift 2 ;;
	--no-floor) floor=0; shift ;;
	--no-profile) profile=0; shift ;;
	--instances) instances=1; shift ;;
	--results) results="${2:?--results needs a file}"; shift 2 ;;
	--list) echo $ALL_CONFIGS | tr ' ' '\n'; exit 0 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "serving.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
for c in $configs; do
	[[ " $(echo $ALL_CONFIGS) " == *" $c "* ]] || { echo "serving.sh: unknown config $c (see --list)" >&2; exit 2; }
done

[[ -x "$CAIRN_BIN" ]] || { echo "serving.sh: $CAIRN_BIN not built (run: make bench BENCH=serving, or make)" >&2; exit 2; }
for f in check_server.py flask_app.py post.lua nginx/nginx_ceiling.sh quiet_run.sh xgb_c_bench.c make_model.py \
	data/model.json data/request_1.json data/request_100.json data/request_100_instances.json \
	data/expected_1.json data/expected_100.json; do
	[[ -f "$ANCHOR/$f" ]] || { echo "serving.sh: $ANCHOR/$f missing (set CAIRN_SHARED)" >&2; exit 2; }
done
[[ "$(nproc)" -ge 2 ]] || { echo "serving.sh: needs 2 CPUs (server on CPU 0, wrk on CPU 1)" >&2; exit 2; }

# what the anchor's README installs, plus uvicorn's command (mlflow models serve runs `uvicorn`)
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || need+=(nginx-light)
command -v gunicorn >/dev/null || need+=(gunicorn)
command -v uvicorn >/dev/null || need+=(uvicorn)
[[ -x /usr/bin/time ]] || need+=(time)
command -v taskset >/dev/null || need+=(util-linux)
[[ $profile == 0 ]] || command -v perf >/dev/null || need+=(linux-perf)
[[ $floor == 0 ]] || command -v gcc >/dev/null || need+=(gcc libc6-dev)
/usr/bin/python3 -c 'import flask, xgboost, pandas, sklearn' 2>/dev/null ||
	need+=(python3-flask python3-xgboost python3-pandas python3-sklearn python3-numpy)
if [[ ${#need[@]} -gt 0 ]]; then
	echo "== installing ${need[*]}" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
		{ apt-get update -qq >/dev/null 2>&1 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null; } ||
		{ echo "serving.sh: could not install ${need[*]}" >&2; exit 2; }
fi
if [[ $profile == 1 ]] && ! perf stat -e task-clock true >/dev/null 2>&1; then
	echo "serving.sh: perf cannot run here; skipping the profile" >&2
	profile=0
fi

# shellcheck source=../tests/integration/mlflow_env.sh
. tests/integration/mlflow_env.sh
export MLFLOW_SRC STUBS_DIR PYTHONPATH
LOAD=(/usr/bin/python3 bench/serving_load.py)

day="$(date +%F)"
mkdir -p bench/results
tag="$day-$(date +%H%M)"
[[ $quick == 1 ]] && tag="$tag-quick"
results="${results:-bench/results/serving-$tag.json}"
WORK="$(mktemp -d "${BENCH_TMP:-${TMPDIR:-/tmp}}/cairn-servebench-XXXXXX")"
cp "$CAIRN_BIN" "$WORK/cairn-bin"
SRV_PGID=""
NGINX_PORT=""
stop_group() {
	local pg="$1"
	kill -TERM -- "-$pg" 2>/dev/null || return 0
	for _ in $(seq 60); do
		kill -0 -- "-$pg" 2>/dev/null || return 0
		sleep 0.25
	done
	kill -KILL -- "-$pg" 2>/dev/null || true
}
cleanup() {
	local rc=$?
	[[ -n "$SRV_PGID" ]] && stop_group "$SRV_PGID"
	[[ -n "$NGINX_PORT" ]] && { "$ANCHOR/nginx/nginx_ceiling.sh" stop "$NGINX_PORT" >/dev/null 2>&1 || true; }
	if [[ $rc -ne 0 ]]; then echo "serving.sh: failed (rc $rc); logs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# --- the inputs: OIP bodies of the same rows, the MLflow model directory ----------------------
BODIES="$WORK/bodies"
mkdir -p "$BODIES"
cp "$ANCHOR"/data/request_1.json "$ANCHOR"/data/request_100.json "$ANCHOR"/data/request_100_instances.json "$BODIES/"
"${LOAD[@]}" bodies "$ANCHOR/data" "$BODIES"
MLFLOW_MODEL="$WORK/mlflow-model"
if [[ " $configs " == *" mlflow"* ]]; then
	echo "== mlflow.xgboost.save_model of the anchor booster -> $MLFLOW_MODEL" >&2
	"$PY" - "$ANCHOR/data/model.json" "$MLFLOW_MODEL" <<-'EOF' >"$WORK/mlflow-save.log" 2>&1 ||
		import sys
		import mlflow.xgboost
		import xgboost as xgb
		b = xgb.Booster()
		b.load_model(sys.argv[1])
		# no signature: the served model is the bare booster, as cairn serves data/model.json
		mlflow.xgboost.save_model(b, sys.argv[2], model_format="json")
	EOF
		{ echo "serving.sh: mlflow.xgboost.save_model failed:" >&2; tail -5 "$WORK/mlflow-save.log" >&2; exit 1; }
	cmp -s "$ANCHOR/data/model.json" "$MLFLOW_MODEL/model.json" ||
		echo "serving.sh: note: MLflow re-saved model.json differs in bytes from the anchor's (same booster)" >&2
fi

# --- one server at a time ------------------------------------------------------------------------
CELLS="$WORK/cells.jsonl"
CHECKS="$WORK/checks.txt"
: >"$CELLS"
: >"$CHECKS"
cpu_of() { case "$1" in *_cpu0) echo 0 ;; *) echo "" ;; esac; }
bodies_of() {
	case "$1" in
	cairn_cpu0) echo "request_1 request_100 oip_1 oip_100${instances:+ request_100_instances}" ;;
	cairn_t1_cpu0) echo "request_1 request_100 oip_1 oip_100" ;;
	*) echo "request_1 request_100" ;;
	esac
}

# start NAME PORT CPUS CMD...: in its own process group (setsid), pinned if CPUS; waits for /ping
start() {
	local name="$1" port="$2" cpus="$3" pin=()
	shift 3
	[[ -n "$cpus" ]] && pin=(taskset -c "$cpus")
	setsid "${pin[@]}" "$@" >"$WORK/$name.log" 2>&1 </dev/null &
	SRV_PGID=$!
	for _ in $(seq 240); do
		curl -sf -m 1 "http://127.0.0.1:$port/ping" >/dev/null 2>&1 && return 0
		kill -0 "$SRV_PGID" 2>/dev/null || break
		sleep 0.25
	done
	echo "serving.sh: $name did not come up on port $port:" >&2
	tail -20 "$WORK/$name.log" >&2
	return 1
}

# cells NAME PORT PID: the wrk cells of one running server
cells() {
	local name="$1" port="$2" pid="$3" b url metrics=""
	[[ $name == cairn* ]] && metrics="http://127.0.0.1:$port/metrics"
	for b in $(bodies_of "$name"); do
		case "$b" in
		oip_*) url="http://127.0.0.1:$port/v2/models/model/infer" ;;
		*) url="http://127.0.0.1:$port/invocations" ;;
		esac
		echo "   $b: wrk -t1 -c$CONNS -d${duration}s x $repeats" >&2
		"${LOAD[@]}" wrk "$url" "$BODIES/$b.json" --pid "$pid" --label "$name" --body-name "$b" \
			--conns "$CONNS" --duration "$duration" --repeats "$repeats" --wrk-cpus "$WRK_CPUS" \
			--lua "$ANCHOR/post.lua" ${metrics:+--metrics "$metrics"} >>"$CELLS"
	done
}

check_cairn() {
	local port="$1" name="$2"
	{ /usr/bin/python3 "$ANCHOR/check_server.py" "http://127.0.0.1:$port/invocations" &&
		"${LOAD[@]}" check "http://127.0.0.1:$port/v2/models/model/infer" oip "$BODIES/oip_1.json" "$ANCHOR/data/expected_1.json" &&
		"${LOAD[@]}" check "http://127.0.0.1:$port/v2/models/model/infer" oip "$BODIES/oip_100.json" "$ANCHOR/data/expected_100.json"; } |
		sed "s/^/[$name] /" | tee -a "$CHECKS" >&2
	return "${PIPESTATUS[0]}"
}

G=(gunicorn --chdir "$ANCHOR" --access-logfile - --log-level warning)
started="$(date -u +%FT%TZ)"
t_start=$SECONDS
for c in $configs; do
	port="$(free_port)"
	cpus="$(cpu_of "$c")"
	q="$("${LOAD[@]}" quiet --max "$QUIET_PCT" --wait "$QUIET_WAIT")"
	echo "== $c on 127.0.0.1:$port${cpus:+, CPU $cpus} (machine before: $q)" >&2
	case "$c" in
	nginx_*)
		w=1
		[[ $c == nginx_2w_2cpu ]] && w=2
		NGINX_PORT="$port"
		pid="$("$ANCHOR/nginx/nginx_ceiling.sh" start "$port" "$w" $cpus)"
		/usr/bin/python3 "$ANCHOR/check_server.py" "http://127.0.0.1:$port/invocations" --status-only |
			sed "s/^/[$c] /" | tee -a "$CHECKS" >&2
		cells "$c" "$port" "$pid"
		"$ANCHOR/nginx/nginx_ceiling.sh" stop "$port"
		NGINX_PORT=""
		continue
		;;
	cairn_cpu0 | cairn_2cpu) start "$c" "$port" "$cpus" "$WORK/cairn-bin" serve "$ANCHOR/data/model.json" --port "$port" ;;
	cairn_t1_cpu0) start "$c" "$port" "$cpus" "$WORK/cairn-bin" serve "$ANCHOR/data/model.json" --port "$port" --threads 1 ;;
	cairn_t2_cpu0) start "$c" "$port" "$cpus" "$WORK/cairn-bin" serve "$ANCHOR/data/model.json" --port "$port" --threads 2 ;;
	flask_dev_cpu0) start "$c" "$port" "$cpus" env PORT="$port" /usr/bin/python3 "$ANCHOR/flask_app.py" ;;
	gunicorn_sync2_cpu0) start "$c" "$port" "$cpus" "${G[@]}" -w 2 -b "127.0.0.1:$port" flask_app:app ;;
	gunicorn_gthread2x4_cpu0) start "$c" "$port" "$cpus" "${G[@]}" -w 2 -k gthread --threads 4 -b "127.0.0.1:$port" flask_app:app ;;
	gunicorn_sync2_2cpu_nt1)
		start "$c" "$port" "" env OMP_NUM_THREADS=1 XGB_NTHREAD=1 "${G[@]}" -w 2 -b "127.0.0.1:$port" flask_app:app ;;
	gunicorn_gthread2x4_2cpu_nt1)
		start "$c" "$port" "" env OMP_NUM_THREADS=1 XGB_NTHREAD=1 "${G[@]}" -w 2 -k gthread --threads 4 \
			-b "127.0.0.1:$port" flask_app:app ;;
	mlflow_cpu0)
		start "$c" "$port" "$cpus" "$PY" -m mlflow models serve -m "$MLFLOW_MODEL" --env-manager local \
			-h 127.0.0.1 -p "$port" ;;
	mlflow_w2_2cpu_nt1)
		start "$c" "$port" "" env OMP_NUM_THREADS=1 "$PY" -m mlflow models serve -m "$MLFLOW_MODEL" \
			--env-manager local -h 127.0.0.1 -p "$port" -w 2 ;;
	esac
	case "$c" in
	cairn*) check_cairn "$port" "$c" ;;
	mlflow*)
		# no signature, so MLflow's pyfunc gets `instances` as a nameless array and xgboost
		# refuses it (feature_names mismatch): MLflow is checked and loaded with dataframe_split
		for n in 1 100; do
			"${LOAD[@]}" check "http://127.0.0.1:$port/invocations" mlflow "$BODIES/request_$n.json" \
				"$ANCHOR/data/expected_$n.json"
		done | sed "s/^/[$c] /" | tee -a "$CHECKS" >&2
		[[ "${PIPESTATUS[0]}" == 0 ]]
		;;
	*) /usr/bin/python3 "$ANCHOR/check_server.py" "http://127.0.0.1:$port/invocations" | sed "s/^/[$c] /" |
		tee -a "$CHECKS" >&2 ;;
	esac
	cells "$c" "$port" "$SRV_PGID"
	if [[ ($c == cairn_cpu0 || $c == cairn_t1_cpu0) && $profile == 1 ]]; then
		pb="request_1 request_100"
		[[ $c == cairn_t1_cpu0 ]] && pb=request_1
		for b in $pb; do
			echo "   perf record, $b" >&2
			mkdir -p "$WORK/perf"
			"${LOAD[@]}" quiet --max "$QUIET_PCT" --wait "$QUIET_WAIT" >/dev/null
			"${LOAD[@]}" profile "http://127.0.0.1:$port/invocations" "$BODIES/$b.json" --pid "$SRV_PGID" \
				--label "$c" --duration 5 --wrk-cpus "$WRK_CPUS" --conns "$CONNS" --lua "$ANCHOR/post.lua" \
				--outdir "$WORK/perf" >>"$WORK/profile.jsonl" || echo "serving.sh: profile of $b failed" >&2
			rm -f "$WORK/perf/perf.data"
		done
	fi
	stop_group "$SRV_PGID"
	SRV_PGID=""
done

# --- the C-API floor, same run -------------------------------------------------------------------
if [[ $floor == 1 ]]; then
	echo "== C-API floor: make_model.py (bench rows) + xgb_c_bench, CPU 0" >&2
	FD="$WORK/floor"
	mkdir -p "$FD"
	if /usr/bin/python3 "$ANCHOR/make_model.py" "$FD/data" >"$FD/make_model.log" 2>&1 &&
		cmp -s "$FD/data/model.json" "$ANCHOR/data/model.json" &&
		gcc -O2 -Wall -o "$FD/xgb_c_bench" "$ANCHOR/xgb_c_bench.c" -lxgboost -lm 2>"$FD/gcc.log"; then
		MAX_RETRIES=3 RETRY_WAIT=10 "$ANCHOR/quiet_run.sh" taskset -c 0 "$FD/xgb_c_bench" "$FD/data" 1 1.0 \
			>"$WORK/floor.txt" || echo "serving.sh: xgb_c_bench failed" >&2
		grep -E '^(method|dense\(proxy\))|foreign' "$WORK/floor.txt" >&2 || true
	else
		echo "serving.sh: could not rebuild the floor's data or binary (see $FD); using the anchor README's figures" >&2
	fi
fi

# --- metadata, table, JSON -----------------------------------------------------------------------
/usr/bin/python3 - "$WORK/meta.json" <<-EOF
	import json, platform, subprocess, sys
	def sh(c):
	    try:
	        return subprocess.run(c, shell=True, capture_output=True, text=True).stdout.strip()
	    except Exception:
	        return ""
	json.dump({
	    "started_utc": "$started", "finished_utc": sh("date -u +%FT%TZ"), "elapsed_s": $((SECONDS - t_start)),
	    "quick": $quick, "duration_s": $duration, "repeats": $repeats, "conns": $CONNS, "wrk_cpus": "$WRK_CPUS",
	    "max_foreign_pct": $MAX_FOREIGN, "configs": "$configs".split(),
	    "machine": {"nproc": sh("nproc"), "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
	                "mem": sh("free -h | awk '/Mem:/{print \$2}'"), "kernel": platform.release(),
	                "loadavg_end": sh("cut -d' ' -f1-3 /proc/loadavg")},
	    "cairn": {"commit": sh("git rev-parse --short HEAD"), "binary_sha256": sh("sha256sum $WORK/cairn-bin | cut -c1-16"),
	              "tree_dirty_outside_bench": "yes" if sh("git status --porcelain -- . ':!bench'") else "no",
	              "version": sh("$WORK/cairn-bin version")},
	    "versions": {"wrk": sh("wrk -v 2>&1 | head -1"), "nginx": sh("nginx -v 2>&1"),
	                 "gunicorn": sh("gunicorn --version"), "uvicorn": sh("uvicorn --version"),
	                 "python": sh("/usr/bin/python3 --version"),
	                 "xgboost": sh("/usr/bin/python3 -c 'import xgboost; print(xgboost.__version__)'"),
	                 "flask": sh("/usr/bin/python3 -c 'import flask; print(flask.__version__)'"),
	                 "mlflow": sh("$PY -c 'import mlflow; print(mlflow.__version__)'"),
	                 "libmicrohttpd": sh("dpkg-query -W -f='\${Version}' libmicrohttpd12")},
	}, open(sys.argv[1], "w"), indent=1)
EOF
args=(--cells "$CELLS" --meta "$WORK/meta.json" --checks "$CHECKS" --out "$results")
[[ -f "$WORK/floor.txt" ]] && args+=(--floor "$WORK/floor.txt")
[[ -f "$WORK/profile.jsonl" ]] && args+=(--profile "$WORK/profile.jsonl")
/usr/bin/python3 bench/summarize_serving.py "${args[@]}"
echo "serving.sh: wrote $results ($((SECONDS - t_start)) s)" >&2
