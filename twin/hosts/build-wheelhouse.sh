#!/usr/bin/env bash
# Fill the twin's offline wheel directory: what a twin host needs to install the
# pytorch role's CPU build with no index (the hosts mount it read-only at
# /opt/wheelhouse). download.pytorch.org is not reachable here; the machine's pip
# finds a CPU torch wheel on local disk, and its dependencies on PyPI or the
# local indexes. Cached: a second call with the same recipe returns at once.
#
#   twin/hosts/build-wheelhouse.sh [DIR]      default <repo>/.twin/wheelhouse
#
# The hosts are Debian 12 (CPython 3.11, x86_64), so wheels are chosen for that
# target whatever interpreter runs this script. torchvision from PyPI does not
# import beside a CPU torch and there is no CPU torchaudio here, so the twin runs
# the role with torch alone (pytorch_torchvision/pytorch_torchaudio false).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DIR="${1:-$ROOT/.twin/wheelhouse}"
# torch and every dependency it declares, pinned so that the directory is the
# same on every machine (versions that lie in this machine's local indexes, so
# nothing is downloaded), and numpy, the one extra package the twin installs.
REQUIREMENTS=(
  torch==2.13.0
  filelock==4.0.8
  typing-extensions==4.16.0
  setuptools==80.9.0
  sympy==1.14.0
  mpmath==1.3.0
  networkx==3.6.1
  jinja2==3.1.6
  markupsafe==3.0.3
  fsspec==2026.9.0
  numpy==2.3.5
)
RECIPE="$(printf '%s\n' "${REQUIREMENTS[@]}")"
STAMP="$DIR/.wheelhouse-recipe"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$RECIPE" ]]; then
  echo "wheelhouse $DIR is current"
  exit 0
fi

# The system interpreter: python3 on PATH may be a pyenv shim that fails (the flags
# below pick the hosts' wheels whatever interpreter runs pip).
PYTHON="${TWIN_WHEELHOUSE_PYTHON:-/usr/bin/python3}"
mkdir -p "$DIR"
rm -f "$STAMP"
echo "filling $DIR (torch is about 190 MB, copied from local disk)"
# This machine's pip.conf lists local file indexes per project; pip warns about
# every project one of them lacks, which says nothing here.
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: \
  --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64 \
  -d "$DIR" "${REQUIREMENTS[@]}" \
  2> >(grep -v "is ignored: it is neither a file nor a directory" >&2)
# Wheels a previous recipe left behind would let the hosts resolve something else.
wheels="$(cd "$DIR" && ls -1 ./*.whl)"
for whl in $wheels; do
  name="$(basename "$whl" | cut -d- -f1 | tr '[:upper:]_' '[:lower:]-')"
  version="$(basename "$whl" | cut -d- -f2 | sed 's/+.*//')"
  if ! grep -qxi "$name==$version" <<<"$RECIPE"; then
    rm -f "$DIR/$whl"
    echo "removed stale $(basename "$whl")"
  fi
done
printf '%s' "$RECIPE" >"$STAMP"
echo "filled $DIR"
