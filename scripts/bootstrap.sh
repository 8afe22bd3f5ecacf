#!/usr/bin/env bash
# Creates the project's controller environment: a Python >= 3.12 venv in .venv with the
# pinned `ansible` bundle (--twin adds the twin's emulators, --dev the test tools too), and
# exposes this repository as the collection mlinfra.gpu_platform under .collections/.
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# --twin: also the twin's emulators; --dev: also the test and lint tools.
req=requirements.txt
case "${1:-}" in
  --twin) req=requirements-twin.txt ;;
  --dev) req=requirements-dev.txt ;;
  "") ;;
  *) echo "usage: $0 [--twin|--dev]" >&2; exit 2 ;;
esac

# Python >= 3.12, chosen explicitly: a pyenv shim named python3.12 may exist and fail.
find_python() {
  local cand
  for cand in "${PYTHON:-}" \
      /root/.pyenv/versions/3.12*/bin/python3 /root/.pyenv/versions/3.13*/bin/python3 \
      "$(command -v python3.13 || true)" "$(command -v python3.12 || true)" \
      "$(command -v python3 || true)"; do
    [ -n "$cand" ] && [ -x "$cand" ] || continue
    if "$cand" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then
      echo "$cand"; return 0
    fi
  done
  return 1
}

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)'; then
  py=$(find_python) || {
    echo "bootstrap: no Python >= 3.12 found. Install one (e.g. apt-get install python3.12-venv, or pyenv) or set PYTHON=/path/to/python3.12" >&2
    exit 1
  }
  echo "bootstrap: creating .venv with $py ($("$py" --version))"
  rm -rf .venv
  "$py" -m venv .venv
fi

stamp=.venv/.installed-$(basename "$req" .txt)-$(cat requirements*.txt | sha256sum | cut -c1-16)
if [ ! -e "$stamp" ]; then
  echo "bootstrap: installing $req into .venv"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$req"
  touch "$stamp"
fi

# The twin's GPU hosts are podman containers (--twin and --dev run the twin).
if [ "$req" != requirements.txt ]; then
  scripts/twin-host-tools.sh
fi

# This repository is the collection: make it importable as mlinfra.gpu_platform.
mkdir -p .collections/ansible_collections/mlinfra
link=.collections/ansible_collections/mlinfra/gpu_platform
[ -L "$link" ] || ln -sfn ../../.. "$link"
echo "bootstrap: ready ($(.venv/bin/ansible --version 2>/dev/null | sed -n 1p))"
