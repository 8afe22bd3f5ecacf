#!/usr/bin/env bash
# The twin's GPU hosts run as podman containers: install podman (with runc; crun
# refuses hybrid cgroups, as on this kind of machine), debootstrap for the host
# image and apt-utils for the stub NVIDIA repository, and tell podman how to run
# here (a containers.conf drop-in). Debian/Ubuntu, as root. Idempotent.
set -euo pipefail

packages=(podman runc debootstrap apt-utils uidmap)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "twin hosts: need ${missing[*]} (Debian packages) and root to run podman with loop devices;" \
         "install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "twin hosts: installing ${missing[*]}"
  apt-get update -qq >/dev/null || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

conf=/etc/containers/containers.conf.d/50-mlinfra-twin.conf
want='# Written by mlinfra.gpu_platform scripts/twin-host-tools.sh for the twin'"'"'s hosts.
[containers]
# The runtime may not raise limits above the machine'"'"'s own.
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want" ]; then
  mkdir -p "$(dirname "$conf")"
  printf '%s\n' "$want" >"$conf"
  echo "twin hosts: wrote $conf"
fi
