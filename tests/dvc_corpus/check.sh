#!/usr/bin/env bash
# check.sh - the DVC corpus in `make check`: how many of the real public projects cairn reads
# as DVC 3 does (run.py prints it), failing when fewer than FLOOR do (the count this tree
# reached; raise it as cairn reads more). Prints "N passed, N failed" last.
set -u
cd "$(dirname "$0")/../.."
FLOOR=41
out=$(python3 tests/dvc_corpus/run.py --cairn "${CAIRN_BIN:-build/asan/cairn}" --floor "$FLOOR" 2>&1)
rc=$?
echo "$out"
if [ "$rc" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed (floor $FLOOR)"; exit 1; fi
