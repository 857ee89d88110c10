#!/usr/bin/env bash
# Command 1: install, prepare the database, and run the demo (SQLite + local object store + simulated cameras).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec .venv/bin/matthan demo "$@"
