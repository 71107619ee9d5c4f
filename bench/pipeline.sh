#!/usr/bin/env bash
# bench/pipeline.sh - `cairn repro` against GNU make, Snakemake and a bare shell script, same run.
#
#   bench/pipeline.sh                       # chain200 wide1000 ml3 (~10-15 min on 2 cores)
#   WORKLOADS=chain200 REPS=5 bench/pipeline.sh
#
# Workloads come from ../shared/anchors/pipelines/make_workloads.py (called, not copied): each has
# dvc.yaml (cairn's input, read as is), Makefile, Snakefile, bare_sh_c.sh, params.yaml, stages.tsv.
# Every engine gets its own fresh copy of each workload, in a temp dir (not inside a git repo; cairn
# then uses the workload folder as its workspace), removed at exit.
# Operations (seconds, median of the reps):
#   full_j1 / full_j2  clean state, everything runs with 1 / 2 jobs
#                      (cairn: `repro -q -j N` after removing out/ .cairn cairn.lock .gitignore;
#                       make: `make -jN`; snakemake: `--cores N`; bare_sh_c.sh: j1 only)
#   noop               rerun with nothing changed (make also `make -r`, no built-in implicit rules)
#   change             append a line to one head input (chain200 data/c07.txt, wide1000
#                      data/w0007.txt) or set train.C to a never-seen value (ml3), rerun with 1 job
#   touch              bump the mtime of one head input, content unchanged (ml3: data/digits.csv),
#                      rerun with 1 job
# "ran" = stages whose outputs changed (count_ran.py, output (mtime, size, inode)); for cairn also
# the "ran" count of its --json report. Ideal: change 11 / 2 / 2, touch 0.
# Ratios: anchor time / cairn time (> 1 = cairn faster).
# Env: WORKLOADS (chain200 wide1000 ml3), REPS (3: full runs of chain200/ml3, every incremental
#      op), REPS_SLOW (1: full runs of wide1000 for every engine, and Snakemake's ml3 full runs),
#      ENGINES (cairn make snakemake bare), CAIRN_BIN (build/cairn, copied into the temp dir),
#      CAIRN_SHARED (../shared), PY (/usr/bin/python3: needs sklearn for ml3),
#      BENCH_TMP (parent of the temp dir; default /dev/shm), TMO (600 s per engine call).
# Snakemake: installed with `apt-get install -y snakemake` if missing (as root); if that fails its
# column reads "-".
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
CAIRN_BIN="${CAIRN_BIN:-build/cairn}"
if [[ ! -x "$CAIRN_BIN" && "$CAIRN_BIN" == build/cairn ]]; then make -s build/cairn; fi
[[ -x "$CAIRN_BIN" ]] || { echo "pipeline.sh: $CAIRN_BIN not built (make -s build/cairn)" >&2; exit 2; }
SHARED="${CAIRN_SHARED:-../shared}"
ANCH="$(cd "$SHARED/anchors/pipelines" 2>/dev/null && pwd)" || { echo "pipeline.sh: $SHARED/anchors/pipelines missing" >&2; exit 2; }
PY="${PY:-/usr/bin/python3}"
WORKLOADS="${WORKLOADS:-chain200 wide1000 ml3}"
ENGINES="${ENGINES:-cairn make snakemake bare}"
REPS="${REPS:-3}"
REPS_SLOW="${REPS_SLOW:-1}"
TMO="${TMO:-600}"
BASE="${BENCH_TMP:-/dev/shm}"
[[ -d "$BASE" && -w "$BASE" ]] || BASE="${TMPDIR:-/tmp}"
WORK="$(mktemp -d "$BASE/cairn-pipebench-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
cp "$CAIRN_BIN" "$WORK/cairn-bin"
CAIRN="$WORK/cairn-bin"
BIN_SHA="$(sha256sum "$CAIRN" | cut -c1-16)"
COMMIT="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
git -C "$REPO" diff --quiet HEAD -- src 2>/dev/null || COMMIT="$COMMIT (+ uncommitted src/ changes)"
if git -C "$WORK" rev-parse --show-toplevel >/dev/null 2>&1; then
	echo "pipeline.sh: $WORK is inside a git repo; set BENCH_TMP elsewhere" >&2; exit 2
fi

SNAKE_NOTE=""
if [[ " $ENGINES " == *" snakemake "* ]] && ! command -v snakemake >/dev/null; then
	echo "pipeline.sh: snakemake missing, apt-get install -y snakemake ..." >&2
	if ! { apt-get install -y snakemake >"$WORK/apt.log" 2>&1 || { apt-get update >/dev/null 2>&1 && apt-get install -y snakemake >"$WORK/apt.log" 2>&1; }; }; then
		SNAKE_NOTE="snakemake could not be installed (apt-get failed): its column is empty"
		tail -3 "$WORK/apt.log" >&2
	fi
fi
command -v snakemake >/dev/null || { ENGINES="${ENGINES/snakemake/}"; SNAKE_NOTE="${SNAKE_NOTE:-snakemake not installed: its column is empty}"; }
TRACK_NOTE="cairn repro records nothing in tracking yet (no --no-track option)"
NOTRACK=()
if "$CAIRN" repro --help 2>&1 | grep -q -- '--no-track'; then NOTRACK=(--no-track); TRACK_NOTE="cairn repro run with --no-track"; fi

# ---------------------------------------------------------------- helpers
# R[engine/workload/op] = "t1 t2 ..." ; RAN[engine/workload/op] = "n1 n2 ..."
declare -A R=() RAN=() JRAN=() N=()
el() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print ""; else print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
fmt() { [[ -z "$1" ]] && { echo "-"; return; }; awk -v x="$1" 'BEGIN { if (x < 1) printf "%.3f", x; else if (x < 100) printf "%.2f", x; else printf "%.0f", x }'; }
ratio() { [[ -z "$1" || -z "$2" ]] && { echo "-"; return; }; awk -v a="$1" -v c="$2" 'BEGIN { if (c <= 0) print "-"; else printf "%.1fx", a / c }'; }
gen() { "$PY" "$ANCH/make_workloads.py" "$2" --python "$PY" --only "$1" >/dev/null; }
engine_cmd() { # engine_cmd ENGINE JOBS [noop-r]
	case $1 in
	cairn) echo "$CAIRN repro -q -j $2 --json ${NOTRACK[*]}" ;;
	make) echo "make -j$2" ;;
	make-r) echo "make -r -j$2" ;;
	snakemake) echo "snakemake --cores $2" ;;
	bare) echo "sh ./bare_sh_c.sh" ;;
	esac
}
clean_state() { rm -rf out .snakemake .cairn cairn.lock .gitignore; mkdir -p out; }
# run_op ENGINE WORKLOAD OP JOBS: one timed call in the cwd; records time and stages run
run_op() {
	local e=$1 w=$2 op=$3 j=$4 log="$WORK/log" snap="$WORK/snap.json" cmd t0 t1 rc ran jr=""
	cmd="$(engine_cmd "$e" "$j")"
	"$PY" "$ANCH/count_ran.py" snap . "$snap"
	t0=$EPOCHREALTIME
	# shellcheck disable=SC2086
	timeout "$TMO" $cmd >"$log" 2>"$log.err" && rc=0 || rc=$?
	t1=$EPOCHREALTIME
	ran="$("$PY" "$ANCH/count_ran.py" diff . "$snap" | cut -f1)"
	if [[ $e == cairn ]]; then
		jr="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["ran"])' "$log" 2>/dev/null || echo '?')"
		JRAN[$e/$w/$op]+="$jr "
	fi
	if [[ $rc != 0 ]]; then
		echo "pipeline.sh: $e $w $op failed rc=$rc: $cmd" >&2
		head -c 2000 "$log.err" >&2
		R[$e/$w/$op/rc]=$rc
	fi
	R[$e/$w/$op]+="$(el "$t0" "$t1") "
	RAN[$e/$w/$op]+="$ran "
	printf '  %-9s %-9s %-9s %8ss  ran %-5s%s rc %s\n' "$e" "$w" "$op" "$(el "$t0" "$t1")" "$ran" "${jr:+ (json $jr)}" "$rc" >&2
}
mutate() { # mutate WORKLOAD change|touch REP
	case "$1/$2" in
	chain200/change) echo "changed rep $3 $RANDOM" >>data/c07.txt ;;
	wide1000/change) echo "changed rep $3 $RANDOM" >>data/w0007.txt ;;
	chain200/touch) sleep 0.01; touch data/c07.txt ;;
	wide1000/touch) sleep 0.01; touch data/w0007.txt ;;
	ml3/touch) sleep 0.01; touch data/digits.csv ;;
	ml3/change) # never-seen value each rep, so no run cache can help
		sed -i "s/^  C: .*/  C: $(awk -v r="$3" -v s="$RANDOM" 'BEGIN { printf "%.6f", 1.0 / (r + 2) + s / 1e9 }')/" params.yaml ;;
	esac
}
ideal() { case $1/$2 in */noop | */touch) echo 0 ;; chain200/change) echo 11 ;; wide1000/change) echo 2 ;; ml3/change) echo 2 ;; esac; }
nrep_full() { # nrep_full ENGINE WORKLOAD
	case $1/$2 in */wide1000 | snakemake/ml3) echo "$REPS_SLOW" ;; *) echo "$REPS" ;; esac
}

echo "pipeline.sh: work dir $WORK, engines: $ENGINES; reps $REPS (slow full runs $REPS_SLOW)" >&2
LOADS=()
# ---------------------------------------------------------------- runs
for w in $WORKLOADS; do
	echo "== $w" >&2
	for e in $ENGINES; do gen "$w" "$WORK/$e"; done
	(cd "$WORK/cairn/$w" && "$CAIRN" dag >"$WORK/dag.out" 2>"$WORK/dag.err") || {
		echo "pipeline.sh: cairn cannot load $w/dvc.yaml:" >&2; cat "$WORK/dag.err" >&2; R[cairn/$w/load]=failed
	}
	N[$w]=$(wc -l <"$WORK/cairn/$w/stages.tsv" | tr -d ' ') 2>/dev/null || true
	# full runs; reps interleaved across engines so a noisy period hits all of them
	for j in 1 2; do
		maxr=0
		for e in $ENGINES; do r=$(nrep_full "$e" "$w"); ((r > maxr)) && maxr=$r; done
		for ((rep = 1; rep <= maxr; rep++)); do
			for e in $ENGINES; do
				[[ $e == bare && $j == 2 ]] && continue
				((rep > $(nrep_full "$e" "$w"))) && continue
				cd "$WORK/$e/$w"
				clean_state
				run_op "$e" "$w" "full_j$j" "$j"
			done
		done
	done
	# incremental operations, 1 job
	for op in noop change touch; do
		for ((rep = 1; rep <= REPS; rep++)); do
			for e in $ENGINES; do
				[[ $e == bare ]] && continue
				cd "$WORK/$e/$w"
				[[ $op != noop ]] && mutate "$w" "$op" "$rep"
				run_op "$e" "$w" "$op" 1
				if [[ $e == make && $op != change ]]; then
					[[ $op == touch ]] && mutate "$w" touch "$rep"
					run_op make-r "$w" "$op" 1
				fi
			done
		done
	done
	LOADS+=("$w: $(cut -d' ' -f1-3 /proc/loadavg)")
done

# ---------------------------------------------------------------- table
med() { # med KEY -> median seconds or ""
	local v="${R[$1]:-}"
	[[ -z "$v" ]] && { echo ""; return; }
	# shellcheck disable=SC2086
	median $v
}
rans() { local v="${RAN[$1]:-}"; v="${v% }"; echo "${v// /,}"; }
ranshow() { # ranshow ENGINE WORKLOAD OP -> " [ran a,b,c]"
	local r; r="$(rans "$1/$2/$3")"
	[[ -z "$r" ]] && return
	echo " [${r}]"
}
allin() { # allin "a b c" X: every value equals X
	local v
	for v in $1; do [[ "$v" == "$2" ]] || return 1; done
	[[ -n "${1// /}" ]]
}
NCPU="$(nproc)"
CPU="$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //; s/ [0-9]*-Core.*//; s/ Processor.*//' || echo '?')"
echo
echo "cairn pipeline benchmark  $(date -u '+%Y-%m-%d %H:%M') UTC  $NCPU cores ($CPU)"
echo "commit $COMMIT, binary sha256 $BIN_SHA, reps $REPS (median; slow full runs $REPS_SLOW), tmp fs $(stat -f -c %T "$WORK")"
echo "make: $(make --version | head -1); snakemake: $(command -v snakemake >/dev/null && snakemake --version 2>/dev/null | tail -1 || echo -)"
echo "$TRACK_NOTE${SNAKE_NOTE:+; $SNAKE_NOTE}"
echo "load avg (1/5/15 min) after each workload: ${LOADS[*]}"
echo
echo "| metric (s; [stages run per rep]) | cairn | make | snakemake | snakemake/cairn | make/cairn | target |"
echo "|---|---|---|---|---|---|---|"
VERD=()
for w in $WORKLOADS; do
	n=${N[$w]}
	if [[ "${R[cairn/$w/load]:-}" == failed ]]; then
		echo "| $w: cairn could not load dvc.yaml | failed | | | | | |"
	fi
	bare="$(med "bare/$w/full_j1")"
	for op in full_j1 full_j2 noop change touch; do
		c="$(med "cairn/$w/$op")" m="$(med "make/$w/$op")" s="$(med "snakemake/$w/$op")"
		label="$w $op"
		case $op in
		full_j1) label="$w full -j1 ($n stages)" ;;
		full_j2) label="$w full -j2" ;;
		noop) label="$w no-op" ;;
		change) label="$w change 1 head input (ideal $(ideal "$w" change))" ;;
		touch) label="$w touch 1 head input (ideal 0)" ;;
		esac
		tgt=""
		if [[ $op == noop && $w == chain200 ]]; then
			tgt="< 0.200 s and >= 10x snakemake"
			v1=$(awk -v c="$c" 'BEGIN { print (c != "" && c < 0.2) ? "met" : "missed" }')
			v2=$(awk -v c="$c" -v s="$s" 'BEGIN { if (s == "" || c == "") print "n/a"; else print (s / c >= 10) ? "met" : "missed" }')
			VERD+=("no-op chain200 < 200 ms: $v1 ($(fmt "$c") s)" "no-op chain200 >= 10x snakemake: $v2 ($(ratio "$s" "$c"))")
			tgt="$tgt: $v1 / $v2"
		fi
		if [[ $op == noop && $w == wide1000 ]]; then
			v=$(awk -v c="$c" 'BEGIN { print (c != "" && c <= 0.15) ? "met" : "missed" }')
			tgt="<= 0.150 s (anchor README): $v"
		fi
		if [[ $op == touch ]]; then
			v=missed; allin "${JRAN[cairn/$w/touch]:-}" 0 && allin "${RAN[cairn/$w/touch]:-}" 0 && v=met
			VERD+=("touch $w reruns 0: $v")
			tgt="cairn reruns 0: $v"
		fi
		if [[ $op == change ]]; then
			v=missed; allin "${JRAN[cairn/$w/change]:-}" "$(ideal "$w" change)" && v=met
			VERD+=("change $w runs exactly $(ideal "$w" change): $v")
			tgt="cairn runs $(ideal "$w" change): $v"
		fi
		[[ -n "${R[cairn/$w/$op/rc]:-}" ]] && c="$c (rc ${R[cairn/$w/$op/rc]})"
		printf '| %s | %s%s | %s%s | %s%s | %s | %s | %s |\n' "$label" \
			"$(fmt "${c%% *}")" "$(ranshow cairn "$w" "$op")" "$(fmt "$m")" "$(ranshow make "$w" "$op")" \
			"$(fmt "$s")" "$(ranshow snakemake "$w" "$op")" "$(ratio "$s" "${c%% *}")" "$(ratio "$m" "${c%% *}")" "$tgt"
		if [[ $op == noop || $op == touch ]] && [[ -n "$(med "make-r/$w/$op")" ]]; then
			mr="$(med "make-r/$w/$op")"
			printf '|   %s, make -r | | %s%s | | | %s | |\n' "$w $op" "$(fmt "$mr")" "$(ranshow make-r "$w" "$op")" "$(ratio "$mr" "$c")"
		fi
	done
	if [[ -n "$bare" ]]; then
		printf '|   %s bare_sh_c.sh (%s stages, sh -c each) | %s | | | | | |\n' "$w" "$n" "$(fmt "$bare")"
		oc=$(awk -v f="$(med "cairn/$w/full_j1")" -v b="$bare" -v n="$n" 'BEGIN { if (f == "") print ""; else printf "%.2f", (f - b) / n * 1000 }')
		om=$(awk -v f="$(med "make/$w/full_j1")" -v b="$bare" -v n="$n" 'BEGIN { if (f == "") print ""; else printf "%.2f", (f - b) / n * 1000 }')
		os=$(awk -v f="$(med "snakemake/$w/full_j1")" -v b="$bare" -v n="$n" 'BEGIN { if (f == "") print ""; else printf "%.2f", (f - b) / n * 1000 }')
		v=$(awk -v o="$oc" 'BEGIN { print (o != "" && o < 5) ? "met" : "missed" }')
		[[ $w == ml3 ]] && v="n/a (3 python stages: noise)"
		[[ $w != ml3 ]] && VERD+=("overhead/stage $w < 5 ms: $v (${oc:-?} ms)")
		printf '|   %s overhead per stage, (full -j1 - bare) / %s (ms) | %s | %s | %s | | | < 5 ms: %s |\n' "$w" "$n" "${oc:--}" "${om:--}" "${os:--}" "$v"
	fi
done
echo
echo "Verdicts:"
printf '  %s\n' "${VERD[@]}"
echo
echo "All samples (s) and stages run (count_ran.py; cairn also from --json):"
for k in $(printf '%s\n' "${!R[@]}" | grep -v '/rc$' | grep -v '/load$' | sort); do
	printf '  %-28s %s ran: %s%s\n' "$k" "${R[$k]}" "${RAN[$k]:-}" "${JRAN[$k]:+ json: ${JRAN[$k]}}"
done
