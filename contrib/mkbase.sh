#!/bin/sh
# mkbase.sh OUT.tar [ARCH] — write kiln's busybox base rootfs as a deterministic tarball, offline.
#
# The rootfs is Debian's busybox-static: /bin/busybox and one relative symlink per applet in /bin,
# /etc/passwd (root, app 1000, nobody) and /etc/group (root, staff, app, nogroup), /tmp (1777),
# /root (0700), /home/app owned by 1000:1000, /www, and the empty mount points real base images
# have (/dev, /proc, /sys, /etc/hosts, /etc/hostname, /etc/resolv.conf).
# Entries are in name order, owned by 0:0 (numeric) except /home/app, mtime 0, GNU format: the
# same busybox binary always gives the same bytes. Needs GNU tar, not root.
#
# ARCH (a Debian architecture such as arm64) different from the host's takes busybox-static:ARCH
# from apt (`dpkg --add-architecture` and `apt-get update` first when needed, which need root);
# the applet list is the host busybox's. BUSYBOX=/path overrides the binary.
#
#   contrib/mkbase.sh /tmp/busybox.tar && kiln import --change 'CMD ["sh"]' /tmp/busybox.tar busybox
set -eu
out=${1:?usage: mkbase.sh OUT.tar [ARCH]}
arch=${2:-}
host_busybox=/bin/busybox
[ -x "$host_busybox" ] || { echo "mkbase.sh: $host_busybox not found (apt-get install busybox-static)" >&2; exit 1; }

umask 022
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
chmod 0755 "$stage" # apt's _apt user writes the download here

busybox=${BUSYBOX:-$host_busybox}
if [ -z "${BUSYBOX:-}" ] && [ -n "$arch" ] && [ "$arch" != "$(dpkg --print-architecture)" ]; then
	if ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
		dpkg --add-architecture "$arch"
		apt-get update -qq
	fi
	if ! (cd "$stage" && apt-get download -qq "busybox-static:$arch" >/dev/null 2>&1); then
		apt-get update -qq
		(cd "$stage" && apt-get download -qq "busybox-static:$arch")
	fi
	dpkg-deb -x "$stage"/busybox-static_*.deb "$stage/deb"
	busybox=$stage/deb/bin/busybox
fi
[ -f "$busybox" ] || { echo "mkbase.sh: busybox binary $busybox not found" >&2; exit 1; }

root=$stage/rootfs
mkdir -p "$root/bin" "$root/dev" "$root/etc" "$root/home/app" "$root/proc" "$root/root" \
	"$root/sys" "$root/tmp" "$root/www"
cp "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
for applet in $("$host_busybox" --list | LC_ALL=C sort -u); do
	[ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
cat >"$root/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
app:x:1000:1000::/home/app:/bin/sh
nobody:x:65534:65534::/nonexistent:/bin/false
EOF
cat >"$root/etc/group" <<'EOF'
root:x:0:
staff:x:50:app
app:x:1000:
nogroup:x:65534:
EOF
: >"$root/etc/hostname"
: >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/hostname" "$root/etc/hosts" "$root/etc/resolv.conf"
chmod 0755 "$root/bin" "$root/dev" "$root/etc" "$root/home" "$root/home/app" "$root/www"
chmod 0555 "$root/proc" "$root/sys"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

# GNU tar's --owner applies to every entry, so the sorted list is written in three runs that keep
# /home/app in its place with uid/gid 1000; no chown, so no root needed.
(cd "$root" && find . -mindepth 1 | sed 's|^\./||' | LC_ALL=C sort) >"$stage/all"
sed -n '1,/^home$/p' "$stage/all" >"$stage/before"
sed -n '/^home\/app$/,$p' "$stage/all" | sed 1d >"$stage/after"
set -- --format=gnu --numeric-owner --mtime=@0 --no-recursion -C "$root"
rm -f "$out"
tar --create --file="$out" "$@" --owner=0 --group=0 -T "$stage/before"
tar --append --file="$out" "$@" --owner=1000 --group=1000 home/app
tar --append --file="$out" "$@" --owner=0 --group=0 -T "$stage/after"
