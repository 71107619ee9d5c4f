#!/bin/sh
# ui.sh - build the web UI (ui/, TypeScript + Vite) into build/ui, from the
# lockfile, with a gzip twin of every text file for `cairn server` to send to
# clients that accept it. Without npm it says so and exits 0: the server then
# answers / with a page saying how to build the UI.
#   scripts/ui.sh          build when a source is newer than the build
#   scripts/ui.sh test     the UI's unit tests (vitest)
set -eu
cd "$(dirname "$0")/.."
out="${CAIRN_UI_OUT:-$PWD/build/ui}"
if ! command -v npm >/dev/null 2>&1; then
	echo "ui: npm is not installed: the web UI is not built (cairn server answers / with how to build it)"
	exit 0
fi
# node_modules is installed from package-lock.json, again when the lockfile changes
if [ ! -f ui/node_modules/.package-lock.json ] || [ ui/package-lock.json -nt ui/node_modules/.package-lock.json ]; then
	echo "ui: npm ci"
	(cd ui && npm ci --no-audit --no-fund --loglevel=error >/tmp/cairn-npm.log 2>&1) || { tail -20 /tmp/cairn-npm.log; exit 1; }
fi
if [ "${1:-build}" = test ]; then
	cd ui && exec npx vitest run
fi
stamp="$out/index.html"
if [ -f "$stamp" ] && [ -z "$(find ui/src ui/index.html ui/package-lock.json ui/vite.config.ts ui/tsconfig.json -newer "$stamp" 2>/dev/null | head -1)" ]; then
	exit 0
fi
echo "ui: building into $out"
(cd ui && npx tsc --noEmit -p . && CAIRN_UI_OUT="$out" npx vite build --logLevel warn)
find "$out" -type f \( -name '*.js' -o -name '*.css' -o -name '*.html' -o -name '*.svg' -o -name '*.json' \) \
	-exec gzip -9kf {} \;
