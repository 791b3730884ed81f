#!/usr/bin/env bash
# Overlay quick start on a fresh machine (Python 3.11+, pip, gcc).
#   ./quickstart.sh          set up, ingest examples/, serve the API, show a chat turn
#   ./quickstart.sh test     set up, run the test suite (extra arguments go to pytest)
#   ./quickstart.sh setup    set up only
# Set-up prints one line per step; pip's own output is kept in a log and shown only when
# pip fails. Progress bars are drawn only when stdout is a terminal.
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}
STAMP="$VENV/.overlay-installed"  # the pyproject.toml hash the venv was installed from

say() { echo "quickstart: $*"; }

# pip, quiet: its output goes to a log that is printed only if pip fails
pip_quiet() {
  local log
  log=$(mktemp)
  if ! PIP_DISABLE_PIP_VERSION_CHECK=1 "$VENV/bin/python" -m pip "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    say "pip $* failed (its output is above)" >&2
    exit 1
  fi
  grep '^ERROR' "$log" >&2 || true  # e.g. a dependency conflict pip reports but does not fail on
  rm -f "$log"
}

setup() {
  local started=$SECONDS want
  if [ ! -x "$VENV/bin/python" ]; then
    say "creating $VENV with $("$PY" --version 2>&1)"
    "$PY" -m venv "$VENV"
    pip_quiet install -q --upgrade pip
  fi
  # the CPU build of torch first, so the project's torch>=2.4 adds nothing
  if ! "$VENV/bin/python" -c "import importlib.util as u, sys; sys.exit(not u.find_spec('torch'))"; then
    say "installing torch 2.13.0 (CPU build; a few minutes the first time)"
    pip_quiet install -q torch==2.13.0
  fi
  want=$(cksum pyproject.toml | cut -d' ' -f1)
  if [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
    say "installing overlay and its dependencies (pip install -e '.[dev]')"
    pip_quiet install -q -e ".[dev]"
    "$VENV/bin/python" -c "import overlay, torch, chromadb, redis" >/dev/null
    echo "$want" >"$STAMP"
  fi
  say "environment ready in $VENV ($((SECONDS - started)) s)"
}

# progress bars (tqdm, Hugging Face) only for a person at a terminal
if [ ! -t 1 ]; then
  export TQDM_DISABLE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 TRANSFORMERS_NO_ADVISORY_WARNINGS=1
fi

case "${1:-demo}" in
  setup) setup ;;
  test)
    setup
    [ -x /usr/bin/chromium ] || say "note: /usr/bin/chromium is absent, so the browser tests" \
      "skip (as root: apt-get install -y chromium)" >&2
    say "running the tests (pytest${2:+ ${*:2}})"
    exec "$VENV/bin/python" -m pytest "${@:2}"
    ;;
  demo)
    setup
    exec "$VENV/bin/python" -m overlay.demo "${@:2}"
    ;;
  *) echo "usage: $0 [demo|test|setup] [arguments]" >&2; exit 2 ;;
esac
