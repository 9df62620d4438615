#!/bin/sh
# mkbusybox.sh OUT.tar — write the kiln-test/busybox base rootfs as a deterministic tarball.
#
# The rootfs is Debian's busybox-static (/bin/busybox; `apt-get install busybox-static`) plus one
# relative symlink per applet in /bin, a minimal /etc/passwd and /etc/group, /tmp (1777), /root
# (0700), empty mount points (/dev, /proc, /sys, /etc/hosts, /etc/hostname, /etc/resolv.conf)
# and /home/app owned by 1000:1000. Entries are in name order, owned by 0:0 (numeric) except
# /home/app, with mtime 0, so the same busybox binary always gives the same bytes.
# Needs GNU tar; does not need root. BUSYBOX=/path overrides the binary.
set -eu
out=${1:?usage: mkbusybox.sh OUT.tar}
busybox=${BUSYBOX:-/bin/busybox}
[ -x "$busybox" ] || { echo "mkbusybox.sh: $busybox not found (apt-get install busybox-static)" >&2; exit 1; }

umask 022
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
root=$stage/rootfs
mkdir -p "$root/bin" "$root/dev" "$root/etc" "$root/home/app" "$root/proc" "$root/root" "$root/sys" "$root/tmp"
cp "$busybox" "$root/bin/busybox"
chmod 0755 "$root/bin/busybox"
for applet in $("$busybox" --list | LC_ALL=C sort -u); do
	[ "$applet" = busybox ] && continue
	ln -s busybox "$root/bin/$applet"
done
cat >"$root/etc/passwd" <<'PW'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
PW
cat >"$root/etc/group" <<'GR'
root:x:0:
staff:x:50:app
app:x:1000:
nogroup:x:65534:
GR
# Empty mount points, as real base images have them: a build's RUN binds /etc/hosts,
# /etc/hostname and /etc/resolv.conf and mounts /dev, /proc and /sys over them, and some runtimes
# leave stubs of missing ones in the step's layer.
: >"$root/etc/hostname"
: >"$root/etc/hosts"
: >"$root/etc/resolv.conf"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/hostname" "$root/etc/hosts" "$root/etc/resolv.conf"
chmod 0755 "$root" "$root/bin" "$root/dev" "$root/etc" "$root/home" "$root/home/app"
chmod 0555 "$root/proc" "$root/sys"
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

# Sorted entry list, written in three runs so /home/app keeps its place and carries uid/gid 1000.
(cd "$root" && find . -mindepth 1 | LC_ALL=C sort) >"$stage/all"
sed -n '1,/^\.\/home$/p' "$stage/all" >"$stage/before"
sed -n '/^\.\/home\/app$/,$p' "$stage/all" | sed 1d >"$stage/after"
common="--format=gnu --numeric-owner --mtime=@0 --no-recursion -C $root"
rm -f "$out"
# shellcheck disable=SC2086
tar --create --file="$out" $common --owner=0 --group=0 -T "$stage/before"
# shellcheck disable=SC2086
tar --append --file="$out" $common --owner=1000 --group=1000 ./home/app
# shellcheck disable=SC2086
tar --append --file="$out" $common --owner=0 --group=0 -T "$stage/after"
