#!/usr/bin/env bash
# Install everything Mắt Thần needs on Debian 12: system packages, a venv, the Python packages (pinned).
# Idempotent: a second run installs nothing new. Usage: scripts/setup.sh [--tests]
set -euo pipefail
cd "$(dirname "$0")/.."

want_tests=0
[[ "${1:-}" == "--tests" ]] && want_tests=1

apt_packages=(ffmpeg python3 python3-venv python3-gi gir1.2-gst-rtsp-server-1.0 gstreamer1.0-rtsp
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad
  gstreamer1.0-plugins-ugly gstreamer1.0-libav)
if (( want_tests )); then
  # docker-compose (Debian's, v1) parses deploy/compose without a Docker engine: `docker-compose config`
  apt_packages+=(chromium chromium-driver postgresql systemd docker-compose)
fi

missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
  sudo=""
  (( EUID == 0 )) || sudo="sudo"
  echo "==> installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "error: Python 3.11 or newer is needed ($python is $("$python" -V 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 1
fi
venv=.venv
if [[ ! -x "$venv/bin/python" ]]; then
  echo "==> creating $venv"
  "$python" -m venv "$venv"
fi

extras="."
(( want_tests )) && extras=".[test]"
pins=$(cat pyproject.toml constraints.txt | sha256sum | cut -c1-16)
stamp="$venv/.installed-$pins-$want_tests"
# an install with the test extras holds everything the plain one does: the demo after the tests installs nothing
if [[ ! -f "$stamp" && ! -f "$venv/.installed-$pins-1" ]]; then
  echo "==> installing Python packages (torch/ultralytics are large: the first run takes a few minutes)"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -c constraints.txt -e "$extras"
  rm -f "$venv"/.installed-*
  touch "$stamp"
else
  # the checkout may have moved (CI clones afresh): refresh only the editable link, without dependencies
  "$venv/bin/python" -m pip install -q --no-deps -e . >/dev/null
fi
echo "==> ready: $venv/bin/matthan"
