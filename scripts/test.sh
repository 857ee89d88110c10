#!/usr/bin/env bash
# Command 2: install what the tests need (Chromium, PostgreSQL, Playwright included) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR="${YOLO_CONFIG_DIR:-$(mktemp -d)}"
# Two workers: most tests wait on real-time streams, so the suite takes about half the time. Tests are handed out by
# xdist group (tests/conftest.py: a module at a time, the fixed-length recording runs one after another) in the order
# collected. Pass -n 0 to run in one process.
exec .venv/bin/python -m pytest -p no:cacheprovider -n 2 --dist loadgroup "$@"
