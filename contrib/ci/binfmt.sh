#!/usr/bin/env bash
# binfmt.sh [QEMU-ARCH...] — make the QEMU emulators kiln's cross-architecture tests use work in a
# build step's own root: binfmt_misc mounted, and each emulator (default aarch64, arm, riscv64)
# registered from qemu-user-static's /usr/lib/binfmt.d/qemu-ARCH.conf with the F (fix-binary)
# flag, so the kernel opens the interpreter at registration and needs no path in the new root.
# Idempotent; run as root after install.sh. `kiln binfmt --install` does the same from Go.
set -euo pipefail
binfmt=/proc/sys/fs/binfmt_misc
arches=("$@")
[ ${#arches[@]} -gt 0 ] || arches=(aarch64 arm riscv64)

mountpoint -q "$binfmt" || mount -t binfmt_misc binfmt_misc "$binfmt"
echo 1 >"$binfmt/status"
for a in "${arches[@]}"; do
	name=qemu-$a
	conf=/usr/lib/binfmt.d/$name.conf
	[ -f "$conf" ] || { echo "binfmt.sh: $conf missing: apt-get install qemu-user-static" >&2; exit 1; }
	line=$(grep -m1 "^:$name:" "$conf")
	flags=${line##*:}
	[[ $flags == *F* ]] || line="${line}F"
	if [ -e "$binfmt/$name" ]; then
		if grep -q '^enabled' "$binfmt/$name" && grep -q '^flags: .*F' "$binfmt/$name"; then
			echo "binfmt_misc: $name already registered: $(grep '^flags' "$binfmt/$name")"
			continue
		fi
		echo -1 >"$binfmt/$name" # re-register it with F
	fi
	echo "$line" >"$binfmt/register"
	echo "binfmt_misc: $name registered: $(grep '^flags' "$binfmt/$name")"
done
