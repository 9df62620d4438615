#!/usr/bin/env bash
# demo.sh — kiln in a minute, offline, on the default store: make a busybox base image from
# Debian's busybox-static, build a three-line Dockerfile on it, and look at the result.
# Runs as root or as any user with /etc/subuid and /etc/subgid ranges. `make demo` runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=$PATH:/usr/local/go/bin
if [ ! -x /bin/busybox ]; then
	# The base image is made from Debian's busybox-static: the one package the demo needs.
	[ "$(id -u)" = 0 ] || { echo "demo.sh: install busybox-static first (sudo apt-get install busybox-static)" >&2; exit 1; }
	apt-get install -y -q busybox-static >/dev/null
fi
kiln=${KILN:-$PWD/bin/kiln}
[ -x "$kiln" ] || make kiln
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
show() { printf '\n$ %s\n' "$*"; }

show contrib/mkbase.sh "$work/busybox.tar"
contrib/mkbase.sh "$work/busybox.tar"
show kiln import --change "'CMD [\"sh\"]'" busybox.tar busybox
"$kiln" import --change 'CMD ["sh"]' "$work/busybox.tar" busybox

mkdir "$work/app"
cat >"$work/app/Dockerfile" <<'DOCKERFILE'
FROM busybox
RUN echo hello from kiln > /hello
CMD ["cat","/hello"]
DOCKERFILE
show cat Dockerfile
cat "$work/app/Dockerfile"
show kiln build -t demo .
(cd "$work/app" && "$kiln" build -t demo .)
show kiln images
"$kiln" images
show kiln inspect --format "'{{.Config.Cmd}}'" demo
"$kiln" inspect --format '{{.Config.Cmd}}' demo
show "kiln export demo | tar -xO hello"
"$kiln" export demo | tar -xO hello
show kiln run --rm demo
"$kiln" run --rm demo
