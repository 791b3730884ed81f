#!/usr/bin/env bash
# Overlay quick start on a fresh machine (Python 3.11+, pip, gcc).
#   ./quickstart.sh          set up, ingest examples/, serve the API, show a chat turn
#   ./quickstart.sh test     set up, run the test suite
#   ./quickstart.sh setup    set up only
set -euo pipefail
cd "$(dirname "$0")"
VENV=${VENV:-.venv}
PY=${PYTHON:-python3}

setup() {
  if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
  fi
  "$VENV/bin/python" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
  # the CPU build of torch first, so the project's torch>=2.4 adds nothing
  "$VENV/bin/python" -c "import torch" 2>/dev/null || \
    "$VENV/bin/python" -m pip install -q torch==2.13.0 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -m pip install -q -e ".[dev]" 2>&1 | grep -v "^WARNING: Location" || true
  "$VENV/bin/python" -c "import overlay, torch, chromadb, redis" >/dev/null
}

case "${1:-demo}" in
  setup) setup ;;
  test)
    setup
    [ -x /usr/bin/chromium ] || echo "note: /usr/bin/chromium is absent, so the browser tests" \
      "skip (as root: apt-get install -y chromium)" >&2
    exec "$VENV/bin/python" -m pytest "${@:2}"
    ;;
  demo)
    setup
    exec "$VENV/bin/python" -m overlay.demo "${@:2}"
    ;;
  *) echo "usage: $0 [demo|test|setup]" >&2; exit 2 ;;
esac
