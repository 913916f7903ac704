#!/usr/bin/env bash
# Make sure python3 (>= 3.10) with venv and pip support is here, from Debian's packages.
# As root it installs what is missing (python3 python3-venv python3-dev gcc make); as another
# user it prints the exact command.  Only apt-get talks to the network.
set -euo pipefail

PYTHON=${PYTHON:-python3}

ok() {
  command -v "$PYTHON" >/dev/null 2>&1 &&
    "$PYTHON" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null
}

if ok; then
  echo "python: found $("$PYTHON" --version 2>&1) with venv"
  exit 0
fi
pkgs="python3 python3-venv python3-dev gcc make"
if [ "$(id -u)" != 0 ]; then
  echo "python3 >= 3.10 with venv is missing. Run as root:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y $pkgs" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
echo "python: installing $pkgs"
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $pkgs
ok || { echo "python: $PYTHON still lacks venv/ensurepip after installing $pkgs" >&2; exit 1; }
echo "python: ready: $("$PYTHON" --version 2>&1)"
