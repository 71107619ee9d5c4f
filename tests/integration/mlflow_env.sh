# mlflow_env.sh - source me: make the real MLflow Python client importable.
#
#   . tests/integration/mlflow_env.sh
#
# Runs ../shared/anchors/mlflow/setup.sh (Debian python3-* packages, MLflow source
# unpacked into $MLFLOW_SRC, import stubs into $STUBS_DIR) when that has not been done
# yet on this machine, installs python3-pytest, and exports PYTHONPATH, MLFLOW_SRC,
# STUBS_DIR and PY (the interpreter to use: Debian's /usr/bin/python3, never pyenv's).
# Idempotent: when everything is in place it costs a few file tests and no process.
# The shared folder is looked up beside the repository (<repo>/../shared); override with
# CAIRN_SHARED=/path/to/shared.  Needs root (apt-get) the first time on a clean machine.

_cairn_env_here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
_cairn_env_repo="$(cd "$_cairn_env_here/../.." && pwd)"
CAIRN_SHARED="${CAIRN_SHARED:-$_cairn_env_repo/../shared}"
export MLFLOW_SRC="${MLFLOW_SRC:-/tmp/mlflow-src}"
export STUBS_DIR="${STUBS_DIR:-/tmp/mlflow-stubs}"
export PY=/usr/bin/python3

_cairn_env_stamp="$STUBS_DIR/.cairn-mlflow-env-ok"
if [[ ! -f "$_cairn_env_stamp" || ! -f "$MLFLOW_SRC/mlflow/version.py" \
      || ! -f "$STUBS_DIR/sitecustomize.py" || ! -x "$PY" ]]; then
  _cairn_env_setup="$CAIRN_SHARED/anchors/mlflow/setup.sh"
  if [[ ! -f "$_cairn_env_setup" ]]; then
    echo "mlflow_env.sh: $_cairn_env_setup not found (set CAIRN_SHARED)" >&2
    return 2 2>/dev/null || exit 2
  fi
  # apt may be busy (another apt-get, unattended-upgrades): retry for up to ~5 minutes.
  _cairn_env_ok=0
  for _cairn_env_try in 1 2 3 4 5 6 7 8 9 10; do
    if MLFLOW_SRC="$MLFLOW_SRC" STUBS_DIR="$STUBS_DIR" bash "$_cairn_env_setup" \
         >/tmp/cairn-mlflow-setup.log 2>&1; then
      _cairn_env_ok=1; break
    fi
    if grep -q "Could not get lock\|Unable to acquire the dpkg" /tmp/cairn-mlflow-setup.log; then
      sleep 30; continue
    fi
    break
  done
  if [[ $_cairn_env_ok != 1 ]]; then
    echo "mlflow_env.sh: setup.sh failed; last lines of /tmp/cairn-mlflow-setup.log:" >&2
    tail -20 /tmp/cairn-mlflow-setup.log >&2
    return 1 2>/dev/null || exit 1
  fi
  touch "$_cairn_env_stamp"
fi

if [[ "$(id -u)" == 0 ]] && ! dpkg-query -W -f='${Status}' python3-pytest 2>/dev/null | grep -q "install ok installed"; then
  for _cairn_env_try in 1 2 3 4 5 6 7 8 9 10; do
    if DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         python3-pytest >/tmp/cairn-pytest-install.log 2>&1; then
      break
    fi
    if grep -q "Unable to locate package" /tmp/cairn-pytest-install.log; then
      apt-get update -qq >/dev/null 2>&1 || true
    fi
    sleep 10
  done
fi

case ":${PYTHONPATH:-}:" in
  *":$STUBS_DIR:$MLFLOW_SRC:"*) ;;
  *) export PYTHONPATH="$STUBS_DIR:$MLFLOW_SRC${PYTHONPATH:+:$PYTHONPATH}" ;;
esac
unset _cairn_env_here _cairn_env_repo _cairn_env_stamp _cairn_env_setup _cairn_env_ok _cairn_env_try
