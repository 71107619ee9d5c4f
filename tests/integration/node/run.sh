#!/usr/bin/env bash
# tests/integration/node/run.sh - the npm `mlflow` client suite (node:test).
#   TRACKING_URI=http://host:port  -> test that server (cairn_only tests skipped)
#   otherwise                      -> each test file starts ${CAIRN_BIN:-build/cairn} server
# Exits with node --test's status.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "node/run.sh: node not found" >&2; exit 2; }
if [[ -f package-lock.json ]]; then
  npm ci --no-audit --no-fund --loglevel=error >/dev/null
else
  npm install --no-audit --no-fund --loglevel=error >/dev/null
fi
exec node --test --test-reporter=spec ./*.test.js
