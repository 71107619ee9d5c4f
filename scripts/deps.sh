#!/bin/sh
# deps.sh - install what cairn needs from Debian's packages, only what is missing.
# Idempotent and quiet when everything is present. Usage: scripts/deps.sh [build|test|demo]
set -eu
what="${1:-build}"
pkgs="build-essential pkg-config libmicrohttpd-dev libjansson-dev libyaml-dev libsqlite3-dev libssl-dev
uuid-dev libcurl4-openssl-dev libcsv-dev libxgboost-dev libzstd-dev libgsl-dev"
case "$what" in
  test) pkgs="$pkgs libcriterion-dev clang libclang-rt-14-dev python3-pytest python3-requests
        python3-sklearn python3-xgboost nodejs npm sqlite3 curl git wrk prometheus zstd python3-zstandard python3-scipy python3-pandas chromium" ;;
  demo) pkgs="$pkgs python3-sklearn python3-xgboost python3-requests curl git nodejs npm" ;;
esac
missing=""
for p in $pkgs; do
  # nodejs/npm may come from another source (nodesource): accept a working binary
  case "$p" in
    nodejs) command -v node >/dev/null 2>&1 && continue ;;
    npm) command -v npm >/dev/null 2>&1 && continue ;;
  esac
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get install -y -q $missing >/tmp/cairn-apt.log 2>&1 || {
  $SUDO apt-get update -q >/tmp/cairn-apt-update.log 2>&1
  $SUDO apt-get install -y -q $missing >/tmp/cairn-apt.log 2>&1 || { tail -20 /tmp/cairn-apt.log; exit 1; }
}
