#!/usr/bin/env bash
# bench/ui.sh - cairn's web UI in headless Chromium, timed by the UI anchor's own harness
# (../shared/anchors/ui/measure_ui.cjs) with bench/ui_targets.json, next to MLflow's UI.
#
#   bench/ui.sh                       # REPS=5; both sizes (about 10 min, most of it seeding)
#   SIZES=anchor REPS=3 bench/ui.sh   # only the anchor's sizes
#   make bench BENCH=ui
#
# Two servers, each `cairn server` (release build) on a fresh root with build/ui:
#   anchor  the anchor's data, seeded by its own seed_mlflow.py: experiment A = 2,000 runs x 10
#           params, 20 metrics, 5 tags; experiment B = runs long-100k and long-1m (100,000- and
#           1,000,000-step metrics). Scenarios: runs_table, run_chart_100k, run_chart_1m, compare_10.
#   100k    experiment A with 100,000 runs (seed_mlflow.py --runs 100000; B gets one short run).
#           Scenarios: runs_table, compare_10.
# Each scenario is a cold browser context (no cache, no storage) timed from navigation start to
# the milestone (first run rows; a chart drawn with canvas pixels; the compare table and the
# parallel-coordinates plot), REPS repetitions interleaved.
#
# MLflow's UI is not rebuilt here: building it takes ~20 minutes and the MLflow git tree
# (../shared/anchors/ui/README.md, prepare_ui.sh); its figures are the anchor's own results,
# measured with the same harness and browser on this machine
# (../shared/anchors/ui/results/mlflow-uvicorn4_raw.json). bench/summarize_ui.py prints both
# with ratios (MLflow / cairn, > 1: cairn faster) and issue 14's targets.
# Results: bench/results/ui-DATE/ (raw JSON, summaries, screenshots).
# Env: CAIRN_BIN (default build/cairn), CAIRN_SHARED (default ../shared), REPS (5),
#      SIZES ("anchor 100k"), PYTHON (/usr/bin/python3, needs requests), CHROMIUM (/usr/bin/chromium).
set -euo pipefail
cd "$(dirname "$0")/.."
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
REPO="$PWD"
CAIRN_BIN="${CAIRN_BIN:-build/cairn}"
SHARED="${CAIRN_SHARED:-../shared}"
ANCHOR="$SHARED/anchors/ui"
PY="${PYTHON:-/usr/bin/python3}"
REPS="${REPS:-5}"
SIZES="${SIZES:-anchor 100k}"
OUT="${OUT:-bench/results/ui-$(date +%Y%m%d-%H%M)}"
[ -x "$CAIRN_BIN" ] || { echo "ui.sh: no $CAIRN_BIN (make)"; exit 1; }
[ -f build/ui/index.html ] || scripts/ui.sh
[ -f build/ui/index.html ] || { echo "ui.sh: the web UI is not built (make ui needs npm)"; exit 1; }
[ -f "$ANCHOR/measure_ui.cjs" ] || { echo "ui.sh: no $ANCHOR/measure_ui.cjs"; exit 1; }
[ -d ui/node_modules/playwright-core ] || scripts/ui.sh
mkdir -p "$OUT"
TMP=$(mktemp -d /tmp/cairn-ui-bench.XXXXXX)
SERVER=
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start() { # root -> URL in $URL, pid in $SERVER
	local port; port=$(free_port)
	cp "$CAIRN_BIN" "$TMP/cairn"
	"$TMP/cairn" server --port "$port" --root "$1" --ui "$REPO/build/ui" --no-monitors >"$TMP/server.log" 2>&1 &
	SERVER=$!
	URL="http://127.0.0.1:$port"
	for _ in $(seq 200); do curl -sf "$URL/health" >/dev/null && return 0; sleep 0.05; done
	cat "$TMP/server.log"; exit 1
}
stop() { kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=; }

for size in $SIZES; do
	case "$size" in
	anchor) seed=(--runs 2000 --long 100000,1000000); scen=runs_table,run_chart_100k,run_chart_1m,compare_10 ;;
	100k) seed=(--runs 100000 --long 1000); scen=runs_table,compare_10 ;;
	*) echo "ui.sh: unknown size $size"; exit 1 ;;
	esac
	start "$TMP/root-$size"
	echo "== $size: seeding $URL (${seed[*]})"
	t0=$(date +%s)
	"$PY" "$ANCHOR/seed_mlflow.py" --url "$URL" "${seed[@]}" --threads 2 --out "$OUT/seed-$size.json" >/dev/null
	echo "   seeded in $(( $(date +%s) - t0 )) s"
	echo "== $size: measuring ($REPS reps: $scen)"
	NODE_PATH="$REPO/ui/node_modules" PW_NODE_DIR="$REPO/ui" node "$ANCHOR/measure_ui.cjs" --url "$URL" --reps "$REPS" \
		--out "$OUT" --label "cairn-$size" --scenarios "$scen" --targets bench/ui_targets.json \
		--chromium "${CHROMIUM:-/usr/bin/chromium}" --timeout-s 120 2>"$OUT/measure-$size.log" >/dev/null ||
		{ tail -20 "$OUT/measure-$size.log"; exit 1; }
	stop
done
"$PY" bench/summarize_ui.py "$OUT" "$ANCHOR/results/mlflow-uvicorn4_raw.json" | tee "$OUT/summary.md"
