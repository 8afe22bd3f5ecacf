#!/usr/bin/env bash
# Every test: lint, module unit tests, the twin's emulator, the layers against the twin.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

echo "==> yamllint"
yamllint -s .
echo "==> ansible-lint (production profile)"
ansible-lint
echo "==> pytest"
python -m pytest tests -q -p no:cacheprovider "$@"
