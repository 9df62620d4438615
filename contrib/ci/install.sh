#!/usr/bin/env bash
# install.sh — install the Debian packages kiln's tests use and make binfmt_misc usable for the
# QEMU emulators. Idempotent; run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_MODE=a
packages=(uidmap fuse-overlayfs qemu-user-static binfmt-support docker-registry skopeo buildah
	busybox-static apache2-utils openssl curl ca-certificates iproute2 git make)
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
echo "installed: ${packages[*]}"

binfmt=/proc/sys/fs/binfmt_misc
if ! mountpoint -q "$binfmt"; then
	mount -t binfmt_misc binfmt_misc "$binfmt"
fi
# Entries registered while binfmt_misc was unmounted are only in binfmt-support's database.
[ -e "$binfmt/qemu-aarch64" ] || update-binfmts --enable >/dev/null 2>&1 || true
# contrib/ci/binfmt.sh (the next CI step) makes sure aarch64, arm and riscv64 have the F flag.
if [ -e "$binfmt/qemu-aarch64" ]; then
	echo "binfmt_misc: qemu-aarch64 $(head -n1 "$binfmt/qemu-aarch64")"
else
	echo "binfmt_misc: no qemu-aarch64 entry; foreign-arch builds will fail" >&2
fi
