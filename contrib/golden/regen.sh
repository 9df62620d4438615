#!/bin/sh
# regen.sh [CASE...] — regenerate testdata/dockerfiles/*/expected.json with docker's BuildKit.
#
# Needs: root, a running dockerd (Debian 12: `apt-get install -y docker.io busybox-static`, then
#   dockerd --iptables=false --bridge=none --exec-opt native.cgroupdriver=cgroupfs \
#     >/tmp/dockerd.log 2>&1 &
# ), Go, GNU tar and no network: nothing is pulled. Run from anywhere:
#   contrib/golden/regen.sh              # every case
#   contrib/golden/regen.sh env-forms    # some cases (and the cases they need)
#
# What it does:
#  1. mkbusybox.sh writes the base rootfs; `docker import` makes it kiln-test/busybox:latest;
#     base.json records the busybox binary and rootfs tar checksums the goldens depend on.
#  2. Builds the Dockerfile frontend of the buildkit version in go.mod (the parser kiln uses)
#     and loads it as the local image kiln-test/dockerfile-frontend:VERSION, so dockerd's
#     embedded BuildKit runs today's Dockerfile syntax (heredocs, COPY --chmod, ...) offline via
#     --build-arg BUILDKIT_SYNTAX=... (no "# syntax=" line in the Dockerfiles).
#  3. For each case dir: DOCKER_BUILDKIT=1 docker build --no-cache --network=none, docker save,
#     and contrib/golden/main.go turns the archive into expected.json.
#
# A case dir may hold case.conf, lines of "KEY VALUE":
#   tag IMAGE          name the built image IMAGE (default kiln-test/case-NAME)
#   needs CASE         build CASE first (for a FROM of its tag)
#   build-arg K=V      pass --build-arg K=V
#   target STAGE       pass --target STAGE
# The base layers left out of a golden are those shared with kiln-test/busybox or a needed
# case's image (0 for a final stage FROM scratch).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
cases_dir=$repo/testdata/dockerfiles
# The 20.10 client builds with BuildKit without the buildx plugin; prefer it over newer clients.
if [ -z "${DOCKER:-}" ]; then
	if [ -x /usr/bin/docker ]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
base_image=kiln-test/busybox:latest

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bkversion=$(awk '$1 == "github.com/moby/buildkit" { print $2 }' "$repo/go.mod")
if [ -z "$bkversion" ]; then
	bkversion=$(cd "$repo" && go list -m -f '{{.Version}}' github.com/moby/buildkit 2>/dev/null || true)
fi
[ -n "$bkversion" ] || bkversion=v0.34.2
frontend=kiln-test/dockerfile-frontend:$bkversion
server=$("$DOCKER" version --format '{{.Server.Version}}')
builder="docker buildkit: dockerd $server embedded BuildKit, dockerfile frontend $bkversion"

echo "== golden tool"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/golden" ./contrib/golden)

echo "== base image $base_image"
"$here/mkbusybox.sh" "$work/busybox.tar"
"$DOCKER" import "$work/busybox.tar" "$base_image" >/dev/null
# base.json pins what the goldens were made from: a kiln test whose base differs (another
# busybox-static build) can say so instead of reporting every checksum as a mismatch.
bbsum=$(sha256sum "${BUSYBOX:-/bin/busybox}" | cut -d' ' -f1)
bbversion=$(dpkg-query -W -f='${Version}' busybox-static 2>/dev/null || echo unknown)
tarsum=$(sha256sum "$work/busybox.tar" | cut -d' ' -f1)
cat >"$cases_dir/base.json" <<EOF
{
  "busybox_sha256": "$bbsum",
  "busybox_static_version": "$bbversion",
  "image": "$base_image",
  "rootfs_tar_sha256": "$tarsum"
}
EOF

if ! "$DOCKER" image inspect "$frontend" >/dev/null 2>&1; then
	echo "== frontend image $frontend"
	mkdir -p "$work/fe"
	cat >"$work/fe/go.mod" <<EOF
module kiln-golden-frontend

go 1.22

require github.com/moby/buildkit $bkversion
EOF
	printf 'package main\n\nimport _ "github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend"\n\nfunc main() {}\n' >"$work/fe/tools.go"
	(cd "$work/fe" && GOFLAGS=-mod=mod go mod tidy >/dev/null &&
		CGO_ENABLED=0 GOFLAGS=-mod=mod go build -o dockerfile-frontend \
			github.com/moby/buildkit/frontend/dockerfile/cmd/dockerfile-frontend)
	cat >"$work/fe/Dockerfile" <<'EOF'
FROM scratch
COPY dockerfile-frontend /bin/dockerfile-frontend
LABEL moby.buildkit.frontend.network.none="true"
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
ENTRYPOINT ["/bin/dockerfile-frontend"]
EOF
	printf '*\n!dockerfile-frontend\n' >"$work/fe/.dockerignore"
	DOCKER_BUILDKIT=0 "$DOCKER" build -q -t "$frontend" "$work/fe" >/dev/null
fi

conf() { # conf CASE KEY: the values of KEY in CASE/case.conf, one a line
	[ -f "$cases_dir/$1/case.conf" ] || return 0
	awk -v k="$2" '$1 == k { sub(/^[^ \t]+[ \t]+/, ""); print }' "$cases_dir/$1/case.conf"
}

tag_of() {
	t=$(conf "$1" tag)
	echo "${t:-kiln-test/case-$1}"
}

layers_of() { # one diff id a line
	"$DOCKER" image inspect --format '{{range .RootFS.Layers}}{{println .}}{{end}}' "$1" | sed '/^$/d'
}

common_prefix() { # common_prefix FILE FILE: how many leading lines are equal
	awk 'NR == FNR { a[FNR] = $0; next } { if (!done && a[FNR] == $0) n++; else done = 1 } END { print n + 0 }' "$1" "$2"
}

build_case() {
	name=$1
	[ -f "$work/done.$name" ] && return 0
	[ -f "$cases_dir/$name/Dockerfile" ] || { echo "regen.sh: no case $name" >&2; exit 1; }
	for dep in $(conf "$name" needs); do
		build_case "$dep"
	done
	name=$1
	tag=$(tag_of "$name")
	echo "== $name -> $tag"
	set -- --no-cache --network=none --progress=plain \
		--build-arg "BUILDKIT_SYNTAX=$frontend" -t "$tag"
	target=$(conf "$name" target)
	[ -z "$target" ] || set -- "$@" --target "$target"
	args=$(conf "$name" build-arg)
	old_ifs=$IFS
	IFS='
'
	for a in $args; do set -- "$@" --build-arg "$a"; done
	IFS=$old_ifs
	if ! DOCKER_BUILDKIT=1 "$DOCKER" build "$@" "$cases_dir/$name" >"$work/log.$name" 2>&1; then
		cat "$work/log.$name" >&2
		echo "regen.sh: building $name failed" >&2
		exit 1
	fi
	layers_of "$tag" >"$work/layers.$name"
	skip=0
	for b in "$base_image" $(for dep in $(conf "$name" needs); do tag_of "$dep"; done); do
		layers_of "$b" >"$work/base"
		n=$(common_prefix "$work/base" "$work/layers.$name")
		[ "$n" -eq "$(wc -l <"$work/base")" ] && [ "$n" -gt "$skip" ] && skip=$n
	done
	"$DOCKER" save "$tag" >"$work/save.tar"
	"$work/golden" -builder "$builder" -skip "$skip" -i "$work/save.tar" -o "$cases_dir/$name/expected.json"
	rm -f "$work/save.tar"
	: >"$work/done.$name"
}

if [ $# -eq 0 ]; then
	set -- $(cd "$cases_dir" && for d in */; do [ -f "$d/Dockerfile" ] && echo "${d%/}"; done)
fi
for c in "$@"; do
	build_case "$c"
done
echo "== done: $# case(s)"
