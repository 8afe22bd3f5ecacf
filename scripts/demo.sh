#!/usr/bin/env bash
# The main job on the twin: start it, provision and summarise the whole platform
# (site.yml -e env=local), tear it down to zero (teardown.yml), stop the twin.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

twin/twinctl up
trap 'twin/twinctl down' EXIT

echo "==> site.yml -e env=local"
ansible-playbook site.yml -e env=local
echo "==> teardown.yml -e env=local"
ansible-playbook teardown.yml -e env=local
