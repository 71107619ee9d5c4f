#!/usr/bin/env bash
# Hygiene checks over src/: banned functions (STYLE.md rule 20), layering (lower
# layers never include higher ones), and every .c file opening with its role comment.
# Prints "N passed, N failed".
cd "$(dirname "$0")/../.."
pass=0; fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; echo "$2" | head -20; }

out=$(grep -nE '(^|[^_a-z])(strcpy|strcat|sprintf|vsprintf|atoi|atol|strtok|gets)[[:space:]]*\(' src/*/*.c src/*/*.h \
	| grep -vE ':[0-9]+:[[:space:]]*(/\*|\*)')
[ -z "$out" ] && ok "no banned functions" || ko "banned functions used" "$out"

# the fault-injectable layer (core/fault.h, STYLE.md rule 11): allocation and the durable
# file calls go through it everywhere but in the layer itself
out=$(grep -nE '(^|[^_a-zA-Z0-9.>])(malloc|calloc|realloc|strdup|strndup|fsync|rename|renameat)[[:space:]]*\(' src/*/*.c \
	| grep -v '^src/core/fault.c:' | grep -vE ':[0-9]+:[[:space:]]*(/\*|\*)')
[ -z "$out" ] && ok "allocation, fsync and rename only through core/fault" || ko "raw allocation or durable file call" "$out"

# layer order, lowest first: a file may include only its own layer or lower ones
rank() { case $1 in core) echo 0;; store|blob|model|stats) echo 1;; http|tracking|data) echo 2;; registry|pipeline) echo 3;; api|serve) echo 4;; client|monitor) echo 5;; cli) echo 6;; *) echo 9;; esac; }
bad=""
for f in src/*/*.[ch]; do
	layer=$(basename "$(dirname "$f")")
	for inc in $(grep -oE '^#include "[a-z]+/' "$f" | sed 's/#include "//; s|/||'); do
		[ "$(rank "$inc")" -le "$(rank "$layer")" ] || bad="$bad$f includes $inc/
"
		# http knows nothing of tracking, and tracking nothing of http
		case "$layer/$inc" in http/tracking|tracking/http|store/blob|blob/store) bad="$bad$f includes $inc/
";; esac
	done
done
[ -z "$bad" ] && ok "includes only go down the layers" || ko "layering violated" "$bad"

out=$(python3 tests/hygiene/options.py . 2>&1)
[ $? -eq 0 ] && ok "every command's options have their own codes" || ko "option codes collide" "$out"

bad=""
for f in src/*/*.c; do head -1 "$f" | grep -q '^/\*' || bad="$bad$f
"; done
[ -z "$bad" ] && ok "every source file opens with its role" || ko "files without a role comment" "$bad"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
