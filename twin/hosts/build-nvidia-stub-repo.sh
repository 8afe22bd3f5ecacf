#!/usr/bin/env bash
# Build a signed stand-in for NVIDIA's CUDA apt repository (debian12/x86_64), for the
# molecule scenario of roles/nvidia_driver: NVIDIA's servers are not reachable here.
# The packages are empty stubs with the names the role installs on Debian 12, each at
# branch 580 and at a newer branch (590) so that the role's apt pin is put to the test.
# The Release file is signed by a throwaway key generated for this repository.
#
#   twin/hosts/build-nvidia-stub-repo.sh OUTDIR [KERNEL]
#
# KERNEL (default: uname -r, which containers share) names the linux-headers stub.
# Writes OUTDIR/debian12/x86_64/{*.deb,Packages,Release,InRelease,Release.gpg,stub-archive-key.asc}
# and OUTDIR/fingerprint (the key's fingerprint).
set -euo pipefail

OUT="${1:?usage: $0 OUTDIR [KERNEL]}"
KERNEL="${2:-$(uname -r)}"
for tool in dpkg-deb apt-ftparchive gpg; do
  command -v "$tool" >/dev/null || { echo "$tool is missing (packages dpkg, apt-utils, gpg)" >&2; exit 1; }
done

REPO="$OUT/debian12/x86_64"
rm -rf "$OUT"
mkdir -p "$REPO"
work="$(mktemp -d)"
trap 'gpgconf --homedir "$work/gnupg" --kill all >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# stub NAME VERSION [DEPENDS]; files to ship are staged in $work/files/NAME beforehand.
stub() {
  local name="$1" version="$2" depends="${3:-}" dir="$work/pkg/$1-$2"
  mkdir -p "$dir/DEBIAN"
  if [ -d "$work/files/$name" ]; then cp -a "$work/files/$name/." "$dir/"; fi
  {
    echo "Package: $name"
    echo "Version: $version"
    echo "Architecture: amd64"
    echo "Maintainer: mlinfra twin <twin@mlinfra.invalid>"
    [ -n "$depends" ] && echo "Depends: $depends"
    echo "Description: stub of $name for the nvidia_driver molecule scenario"
  } >"$dir/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$dir" "$REPO/${name}_${version}_amd64.deb" >/dev/null
}

# nvidia-smi as it behaves without a loaded kernel module.
mkdir -p "$work/files/nvidia-driver-cuda/usr/bin"
cat >"$work/files/nvidia-driver-cuda/usr/bin/nvidia-smi" <<'SMI'
#!/bin/sh
echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running." >&2
exit 9
SMI
chmod 0755 "$work/files/nvidia-driver-cuda/usr/bin/nvidia-smi"

# The persistence daemon's unit, so that the role can enable it.
mkdir -p "$work/files/nvidia-persistenced/usr/lib/systemd/system"
cat >"$work/files/nvidia-persistenced/usr/lib/systemd/system/nvidia-persistenced.service" <<'UNIT'
[Unit]
Description=NVIDIA Persistence Daemon (stub)
ConditionPathExists=/dev/nvidia0

[Service]
Type=simple
ExecStart=/bin/sleep infinity

[Install]
WantedBy=multi-user.target
UNIT

for v in 580.105.08-1 590.44.01-1; do
  branch="${v%%.*}"
  stub nvidia-kernel-open-dkms "$v"
  stub nvidia-kernel-dkms "$v"
  stub nvidia-persistenced "$v"
  stub nvidia-driver-cuda "$v" "nvidia-kernel-open-dkms (= $v) | nvidia-kernel-dkms (= $v)"
  stub "nvidia-fabricmanager-$branch" "$v"
done
stub "linux-headers-$KERNEL" 1.0-stub

# The throwaway signing key: no passphrase, in a GNUPGHOME of its own.
mkdir -m 0700 "$work/gnupg"
export GNUPGHOME="$work/gnupg"
gpg --batch --quiet --passphrase '' --quick-generate-key "mlinfra twin NVIDIA stub repository <twin@mlinfra.invalid>" rsa3072 sign never
fpr="$(gpg --batch --with-colons --list-secret-keys | awk -F: '$1 == "fpr" { print $10; exit }')"
gpg --batch --armor --export "$fpr" >"$REPO/stub-archive-key.asc"
echo "$fpr" >"$OUT/fingerprint"

(
  cd "$REPO"
  apt-ftparchive packages . >Packages
  gzip -9kn Packages
  apt-ftparchive -o APT::FTPArchive::Release::Origin="mlinfra twin" \
    -o APT::FTPArchive::Release::Label="NVIDIA CUDA stub" release . >Release
  gpg --batch --yes --local-user "$fpr" --clearsign -o InRelease Release
  gpg --batch --yes --local-user "$fpr" --armor --detach-sign -o Release.gpg Release
)
echo "built the stub NVIDIA repository in $REPO (key $fpr)"
