#!/usr/bin/env bash
# shellcheck disable=SC2154  # t_* variables are set by timeit/repeat through printf -v
# bench/data.sh - `cairn data` add/status/checkout against plain-tool anchors, same run.
#
#   bench/data.sh            # full sizes (~3-5 min on 2 cores, needs ~6 GiB free in BENCH_TMP)
#   DATA_BENCH_SCALE=0.1 bench/data.sh   # smoke run, every size x 0.1
#
# Sections (each prints rows: metric | cairn | anchor | anchor value | ratio | target):
#  1 hash   one 1 GiB file: `cairn data add -j 1` (fresh .cairn each rep, so the stat cache is
#           cold) vs `sha256sum`; then 16 x 128 MiB: cairn -j <cores> vs `sha256sum` (1 process)
#           and `xargs -P<cores> sha256sum`. Page cache warmed (files read once) before timing.
#           Note: `cairn data add` also writes the content into .cairn/cache; sha256sum does not.
#           "hash only" rows time `cairn data status` after `touch` (stat cache defeated, content
#           already cached): the file is read and hashed, nothing is copied.
#  2 status 100,000 x 100 B in 100 folders: `cairn data add`, then `cairn data status
#           --no-remote -q` (first run, then median of REPS steady-state runs) vs `find | wc -l`
#           and `git status` (the same tree tracked in a side git dir). DVC figures from issues
#           are quoted, not measured.
#  3 co     10,000 x 10 KiB: `cairn data add`; `rm -rf` the folder, `cairn data checkout`; in the
#           default cache.type (reflink,copy) and in reflink,hardlink,copy; vs `cp -r`, `cp -al`.
#  4 dvc    whether DVC can be run here at all.
# Ratios: > 1 means cairn is faster (anchor time / cairn time, or cairn MB/s / anchor MB/s).
# Env: DATA_BENCH_SCALE (default 1), REPS (default 3; median), CAIRN_BIN (default build/cairn),
#      BENCH_TMP (parent of the temp dir; default /dev/shm, as in ../shared/anchors/data: this
#      VM's ext4 is mounted with `discard` and deleting 100k inodes there is very slow),
#      JOBS (default nproc), SECTIONS (default "hash status co dvc").
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
[[ "${1:-}" == -h || "${1:-}" == --help ]] && { sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0; }
CAIRN_BIN="${CAIRN_BIN:-build/cairn}"
if [[ ! -x "$CAIRN_BIN" && "$CAIRN_BIN" == build/cairn ]]; then make -s build/cairn; fi
[[ -x "$CAIRN_BIN" ]] || { echo "data.sh: $CAIRN_BIN not built (make -s build/cairn)" >&2; exit 2; }
SCALE="${DATA_BENCH_SCALE:-1}"
REPS="${REPS:-3}"
JOBS="${JOBS:-$(nproc)}"
SECTIONS="${SECTIONS:-hash status co dvc}"
BASE="${BENCH_TMP:-/dev/shm}"
[[ -d "$BASE" && -w "$BASE" ]] || BASE="${TMPDIR:-/tmp}"
WORK="$(mktemp -d "$BASE/cairn-databench-XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
cp "$CAIRN_BIN" "$WORK/cairn-bin"
CAIRN="$WORK/cairn-bin"

sc() { awk -v n="$1" -v s="$SCALE" 'BEGIN { v = int(n * s + 0.5); print (v < 1 ? 1 : v) }'; }
BIG_MIB=$(sc 1024)          # section 1, single file
MULTI_N=16                  # section 1, multi-file: count fixed, size scaled
MULTI_MIB=$(sc 128)
SMALL_N=$(sc 100000)        # section 2
SMALL_B=100
MED_N=$(sc 10000)           # section 3
MED_B=10240

now() { date +%s.%N; }
# timeit VAR CMD...: runs CMD once, sets VAR to the wall seconds; aborts on failure.
timeit() {
	local __v=$1 t0 t1
	shift
	t0=$(now)
	"$@" >/dev/null 2>"$WORK/last.err" || { echo "data.sh: failed: $*" >&2; cat "$WORK/last.err" >&2; exit 1; }
	t1=$(now)
	printf -v "$__v" '%s' "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')"
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# repeat VAR N SETUP CMD...: runs SETUP (untimed, may be :) then CMD, N times; VAR = median,
# VAR_all = all samples.
repeat() {
	local __v=$1 n=$2 setup=$3 i t
	local -a all=()
	shift 3
	for ((i = 0; i < n; i++)); do
		eval "$setup"
		timeit t "$@"
		all+=("$t")
	done
	printf -v "$__v" '%s' "$(median "${all[@]}")"
	printf -v "${__v}_all" '%s' "${all[*]}"
}
mbs() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", b / t / 1e6 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "n/a"; else printf "%.2fx", a / b }'; }
fmt_s() { awk -v t="$1" 'BEGIN { printf (t < 10 ? "%.3f s" : "%.1f s"), t }'; }

ROWS="$WORK/rows.tsv"
: >"$ROWS"
row() { printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$ROWS"; }     # metric cairn anchor value ratio target
note() { printf '%s\n' "$*" >>"$WORK/notes.txt"; echo "   $*" >&2; }

# gen_big FILE MIB SEED: incompressible, deterministic (openssl AES-CTR keystream if present).
gen_big() {
	if command -v openssl >/dev/null; then
		(set +o pipefail; openssl enc -aes-128-ctr -nosalt -pass "pass:cairn$3" -pbkdf2 -in /dev/zero 2>/dev/null |
			head -c "$(($2 * 1048576))" >"$1")
	else
		head -c "$(($2 * 1048576))" /dev/urandom >"$1"
	fi
}
# gen_tree DIR N SIZE: N files of SIZE random bytes in 100 sub-folders (seeded, same every run).
gen_tree() {
	python3 - "$@" <<'PY'
import os, random, sys
d, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
r = random.Random(1970)
for k in range(100):
    os.makedirs(f"{d}/d{k:02d}", exist_ok=True)
for i in range(n):
    with open(f"{d}/d{i % 100:02d}/f{i:06d}.bin", "wb") as f:
        f.write(r.randbytes(size))
PY
}
new_ws() { rm -rf "$1/.cairn" "$1"/*.cairn "$1/.gitignore"; [[ -d "$1/.git" ]] || git -C "$1" init -q; }
warm() { cat "$@" >/dev/null; }

echo "== data.sh: scale $SCALE, reps $REPS, jobs $JOBS, tmp $WORK ($(df -T "$WORK" | awk 'NR==2{print $2}'))" >&2

# ---------------- 1. hashing ----------------
if [[ " $SECTIONS " == *" hash "* ]]; then
	W="$WORK/h1"; mkdir -p "$W"; git -C "$W" init -q
	echo "== 1. hashing: 1 x $BIG_MIB MiB" >&2
	gen_big "$W/big.bin" "$BIG_MIB" 1
	bytes=$(stat -c %s "$W/big.bin")
	warm "$W/big.bin"
	repeat t_sha "$REPS" : sha256sum "$W/big.bin"
	repeat t_c1 "$REPS" "new_ws '$W'" bash -c "cd '$W' && exec '$CAIRN' data add -q -j 1 big.bin"
	repeat t_c1n "$REPS" : openssl dgst -sha256 "$W/big.bin"
	# hashing alone: touch defeats the stat cache, the content is already cached, so
	# `status` re-reads and re-hashes the file and copies nothing
	repeat t_h1 "$REPS" "touch '$W/big.bin'" bash -c "cd '$W' && exec '$CAIRN' data status --no-remote -q -j 1"
	note "$BIG_MIB MiB sha256sum s: $t_sha_all; cairn add -j1 s: $t_c1_all; openssl s: $t_c1n_all"
	row "hash 1 file, 1 core (MB/s)" "$(mbs "$bytes" "$t_c1")" "sha256sum" "$(mbs "$bytes" "$t_sha")" "$(ratio "$t_sha" "$t_c1")" ">= 0.9x"
	row "  same, vs openssl dgst -sha256 (SHA-NI)" "$(mbs "$bytes" "$t_c1")" "openssl dgst" "$(mbs "$bytes" "$t_c1n")" "$(ratio "$t_c1n" "$t_c1")" ""
	row "hash only (status after touch), 1 core (MB/s)" "$(mbs "$bytes" "$t_h1")" "sha256sum" "$(mbs "$bytes" "$t_sha")" "$(ratio "$t_sha" "$t_h1")" ">= 0.9x"
	rm -rf "$W"

	W="$WORK/h2"; mkdir -p "$W/m"; git -C "$W" init -q
	echo "== 1. hashing: $MULTI_N x $MULTI_MIB MiB, -j $JOBS" >&2
	for ((i = 0; i < MULTI_N; i++)); do gen_big "$W/m/f$i.bin" "$MULTI_MIB" "$((i + 2))"; done
	bytes=$((MULTI_N * MULTI_MIB * 1048576))
	warm "$W"/m/*.bin
	repeat t_sha1 "$REPS" : sha256sum "$W"/m/*.bin
	repeat t_shaP "$REPS" : bash -c "ls '$W'/m/*.bin | xargs -n1 -P$JOBS sha256sum"
	repeat t_cj1 "$REPS" "new_ws '$W'" bash -c "cd '$W' && exec '$CAIRN' data add -q -j 1 m"
	repeat t_cjN "$REPS" "new_ws '$W'" bash -c "cd '$W' && exec '$CAIRN' data add -q -j $JOBS m"
	repeat t_hj1 "$REPS" "touch '$W'/m/*.bin" bash -c "cd '$W' && exec '$CAIRN' data status --no-remote -q -j 1"
	repeat t_hjN "$REPS" "touch '$W'/m/*.bin" bash -c "cd '$W' && exec '$CAIRN' data status --no-remote -q -j $JOBS"
	note "multi sha256sum s: $t_sha1_all; xargs -P$JOBS s: $t_shaP_all; cairn -j1 s: $t_cj1_all; cairn -j$JOBS s: $t_cjN_all"
	row "hash $MULTI_N files, -j 1 (MB/s)" "$(mbs "$bytes" "$t_cj1")" "sha256sum" "$(mbs "$bytes" "$t_sha1")" "$(ratio "$t_sha1" "$t_cj1")" ">= 0.9x"
	row "hash $MULTI_N files, -j $JOBS (MB/s)" "$(mbs "$bytes" "$t_cjN")" "xargs -P$JOBS sha256sum" "$(mbs "$bytes" "$t_shaP")" "$(ratio "$t_shaP" "$t_cjN")" ">= 0.9x"
	row "  cairn scaling -j $JOBS / -j 1" "$(ratio "$t_cj1" "$t_cjN")" "sha256sum scaling" "$(ratio "$t_sha1" "$t_shaP")" "" "~${JOBS}x"
	row "hash only $MULTI_N files, -j 1 (MB/s)" "$(mbs "$bytes" "$t_hj1")" "sha256sum" "$(mbs "$bytes" "$t_sha1")" "$(ratio "$t_sha1" "$t_hj1")" ">= 0.9x"
	row "hash only $MULTI_N files, -j $JOBS (MB/s)" "$(mbs "$bytes" "$t_hjN")" "xargs -P$JOBS sha256sum" "$(mbs "$bytes" "$t_shaP")" "$(ratio "$t_shaP" "$t_hjN")" ">= 0.9x"
	row "  hash-only scaling -j $JOBS / -j 1" "$(ratio "$t_hj1" "$t_hjN")" "" "" "" "~${JOBS}x"
	rm -rf "$W"
fi

# ---------------- 2. status on many small files ----------------
if [[ " $SECTIONS " == *" status "* ]]; then
	W="$WORK/s"; mkdir -p "$W"; git -C "$W" init -q
	echo "== 2. status: $SMALL_N x $SMALL_B B in 100 folders" >&2
	gen_tree "$W/tree" "$SMALL_N" "$SMALL_B"
	warm_tree() { find "$W/tree" -type f -print0 | xargs -0 cat >/dev/null; }
	warm_tree
	# add: n=1 at full scale unless REPS_ADD is set (each rep re-creates the cache)
	repeat t_add "${REPS_ADD:-1}" "new_ws '$W'" bash -c "cd '$W' && exec '$CAIRN' data add -q tree"
	timeit t_st1 bash -c "cd '$W' && exec '$CAIRN' data status --no-remote -q"
	repeat t_st "$REPS" : bash -c "cd '$W' && exec '$CAIRN' data status --no-remote -q"
	repeat t_find "$REPS" : bash -c "find '$W/tree' -type f | wc -l"
	# git anchor: the same tree tracked in a side git dir (add untimed), then `git status`
	G="$WORK/side.git"
	git --git-dir="$G" --work-tree="$W/tree" init -q
	git --git-dir="$G" --work-tree="$W/tree" add -A
	git --git-dir="$G" --work-tree="$W/tree" status --porcelain >/dev/null
	repeat t_git "$REPS" : git --git-dir="$G" --work-tree="$W/tree" status --porcelain
	note "status: add s: $t_add_all; status first $t_st1, steady $t_st_all; find $t_find_all; git status $t_git_all"
	row "add $SMALL_N x ${SMALL_B} B (s), n=${REPS_ADD:-1}" "$(fmt_s "$t_add")" "-" "-" "" ""
	row "  add rate (files/s)" "$(awk -v n="$SMALL_N" -v t="$t_add" 'BEGIN{printf "%.0f", n/t}')" "" "" "" ""
	row "status --no-remote, 1st after add (s)" "$(fmt_s "$t_st1")" "git status (side repo)" "$(fmt_s "$t_git")" "$(ratio "$t_git" "$t_st1")" "< 1 s"
	row "status --no-remote, steady (s)" "$(fmt_s "$t_st")" "git status (side repo)" "$(fmt_s "$t_git")" "$(ratio "$t_git" "$t_st")" "< 1 s"
	row "  same, vs a bare stat-free walk" "$(fmt_s "$t_st")" "find -type f | wc -l" "$(fmt_s "$t_find")" "$(ratio "$t_find" "$t_st")" ""
	row "  DVC #1970 (v0.60), 100k x 100 KB: add" "-" "DVC, from issue, NOT measured here" "223 s" "" ""
	row "  DVC #1122: 100k-file dvc status" "-" "DVC, from issue, NOT measured here" "2-6 s" "" ""
	rm -rf "$W" "$G"
fi

# ---------------- 3. add + checkout of 10k files ----------------
if [[ " $SECTIONS " == *" co "* ]]; then
	W="$WORK/c"; mkdir -p "$W"; git -C "$W" init -q
	echo "== 3. add/checkout: $MED_N x $MED_B B" >&2
	gen_tree "$WORK/c-src" "$MED_N" "$MED_B"
	bytes=$((MED_N * MED_B))
	find "$WORK/c-src" -type f -print0 | xargs -0 cat >/dev/null
	repeat t_cp "$REPS" "rm -rf '$WORK/c-cp'" cp -r "$WORK/c-src" "$WORK/c-cp"
	repeat t_cpl "$REPS" "rm -rf '$WORK/c-cpl'" cp -al "$WORK/c-src" "$WORK/c-cpl"
	rm -rf "$WORK/c-cp" "$WORK/c-cpl"
	for mode in default hardlink; do
		setup="rm -rf '$W/tree'; new_ws '$W'; cp -r '$WORK/c-src' '$W/tree'"
		[[ $mode == hardlink ]] && setup+="; (cd '$W' && '$CAIRN' data config cache.type reflink,hardlink,copy >/dev/null)"
		repeat t_a "$REPS" "$setup" bash -c "cd '$W' && exec '$CAIRN' data add -q tree"
		repeat t_co "$REPS" "rm -rf '$W/tree'" bash -c "cd '$W' && exec '$CAIRN' data checkout -q"
		[[ $(find "$W/tree" -type f | wc -l) == "$MED_N" ]] || { echo "data.sh: checkout restored the wrong number of files" >&2; exit 1; }
		links=$(find "$W/tree" -type f -links +1 | wc -l)
		note "co $mode: add s: $t_a_all; checkout s: $t_co_all; files with >1 link after checkout: $links"
		label=$([[ $mode == default ]] && echo "reflink,copy (default)" || echo "reflink,hardlink,copy")
		row "add $MED_N x 10 KiB, $label (s)" "$(fmt_s "$t_a")" "cp -r" "$(fmt_s "$t_cp")" "$(ratio "$t_cp" "$t_a")" ""
		if [[ $mode == default ]]; then
			row "checkout after rm -rf, $label (s)" "$(fmt_s "$t_co")" "cp -r" "$(fmt_s "$t_cp")" "$(ratio "$t_cp" "$t_co")" ""
		else
			row "checkout after rm -rf, $label (s)" "$(fmt_s "$t_co")" "cp -al" "$(fmt_s "$t_cpl")" "$(ratio "$t_cpl" "$t_co")" ""
		fi
		row "  checked-out files hard-linked to the cache" "$links of $MED_N" "" "" "" ""
	done
	row "  DVC #1970 (v0.60), 10k x 1 MB: add / checkout" "-" "DVC, from issue, NOT measured here" "81 s / 52 s" "" ""
	rm -rf "$W" "$WORK/c-src"
fi

# ---------------- 4. DVC ----------------
if [[ " $SECTIONS " == *" dvc "* ]]; then
	if command -v dvc >/dev/null 2>&1; then d="dvc on PATH: $(dvc --version 2>/dev/null)"
	elif python3 -c 'import dvc' >/dev/null 2>&1; then d="python3 can import dvc (no dvc command)"
	else d="DVC not available (no dvc command, python3 cannot import dvc; not in Debian 12, PyPI unreachable): not measured"; fi
	row "DVC" "-" "$d" "" "" ""
fi

# ---------------- table ----------------
echo
echo "cairn data benchmark  $(date -u '+%F %H:%M UTC')  $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'))"
echo "commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?'), binary sha256 $(sha256sum "$CAIRN" | cut -c1-16), scale $SCALE, reps $REPS (median), tmp fs $(df -T "$WORK" | awk 'NR==2{print $2}')"
echo
echo "| metric | cairn | anchor | anchor value | ratio (>1 = cairn faster) | target |"
echo "|---|---|---|---|---|---|"
while IFS=$'\t' read -r a b c d e f; do echo "| $a | $b | $c | $d | $e | $f |"; done <"$ROWS"
echo
echo "samples (s):"
sed 's/^/  /' "$WORK/notes.txt" 2>/dev/null || true
