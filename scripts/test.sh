#!/usr/bin/env bash
# Command 2: install what the tests need (Chromium, PostgreSQL, Playwright included) and run the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --tests
export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR="${YOLO_CONFIG_DIR:-$(mktemp -d)}"
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
