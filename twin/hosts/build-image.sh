#!/usr/bin/env bash
# Build the twin's host image once: Debian 12 with systemd as PID 1, standing in
# for a GPU instance. No registry is reachable here, so the root filesystem comes
# from debootstrap (Debian's archive) and is imported into podman. Cached: a
# second call with the same recipe version returns at once.
#
#   twin/hosts/build-image.sh [IMAGE]      default localhost/mlinfra-twin-host:bookworm
set -euo pipefail

IMAGE="${1:-${TWIN_HOST_IMAGE:-localhost/mlinfra-twin-host:bookworm}}"
# Bump when the package list or the recipe changes: cached images are rebuilt.
RECIPE=3
PACKAGES=python3,python3-apt,python3-packaging,python3-venv,systemd,systemd-sysv,dbus,ca-certificates,e2fsprogs,util-linux,kmod,procps,gnupg,apt-utils
MIRROR="${TWIN_DEBIAN_MIRROR:-$(sed -n 's/^URIs: *\(http[^ ]*debian\)$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)}"
MIRROR="${MIRROR:-http://deb.debian.org/debian}"

have="$(podman image inspect --format '{{ index .Labels "mlinfra.twin.recipe" }}' "$IMAGE" 2>/dev/null || true)"
if [[ "$have" == "$RECIPE" ]]; then
  echo "image $IMAGE is current (recipe $RECIPE)"
  exit 0
fi

for tool in debootstrap podman; do
  command -v "$tool" >/dev/null || { echo "$tool is missing: run scripts/bootstrap.sh --twin (it installs podman, runc and debootstrap)" >&2; exit 1; }
done

root="$(mktemp -d /var/tmp/mlinfra-twin-rootfs.XXXXXX)"
trap 'rm -rf "$root"' EXIT
echo "building $IMAGE from $MIRROR (debootstrap, about a minute)"
debootstrap --variant=minbase --include="$PACKAGES" bookworm "$root" "$MIRROR" >"$root.log" 2>&1 \
  || { tail -20 "$root.log" >&2; rm -f "$root.log"; exit 1; }
rm -f "$root.log"

# A machine's locally added CA certificates (a TLS-inspecting proxy's, say), so
# that pip and apt inside the hosts trust what the machine trusts. Optional.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
  chroot "$root" update-ca-certificates >/dev/null 2>&1 || true
fi

# systemd in a container: no getty, no udev (the twin maps devices itself), a machine id per container.
chroot "$root" systemctl mask getty.target console-getty.service systemd-udevd.service \
  systemd-udevd-kernel.socket systemd-udevd-control.socket systemd-remount-fs.service >/dev/null 2>&1 || true
: >"$root/etc/machine-id"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

tar -C "$root" -c . | podman import \
  --change 'CMD ["/sbin/init"]' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change "LABEL mlinfra.twin.recipe=$RECIPE" \
  - "$IMAGE" >/dev/null
echo "built $IMAGE (recipe $RECIPE)"
