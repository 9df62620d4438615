#!/usr/bin/env bash
# users.sh — create the unprivileged CI users, idempotently: kilnci with one subordinate id range
# (kilnci:100000:65536 in /etc/subuid and /etc/subgid) and kilnci-nosub with none.
set -euo pipefail
for u in kilnci kilnci-nosub; do
	id -u "$u" >/dev/null 2>&1 || useradd --create-home --shell /bin/bash "$u"
done
for f in /etc/subuid /etc/subgid; do
	touch "$f"
	# Drop every line that names either user or its uid (useradd may have added some), then add
	# kilnci's one range.
	for u in kilnci kilnci-nosub; do
		uid=$(id -u "$u")
		sed -i -e "/^$u:/d" -e "/^$uid:/d" "$f"
	done
	echo "kilnci:100000:65536" >>"$f"
done
for u in kilnci kilnci-nosub; do
	echo "$u: uid $(id -u "$u"), subuid: $(grep -E "^($u|$(id -u "$u")):" /etc/subuid || echo none)"
done
