#!/usr/bin/env bash
# run.sh — time kiln against buildah on the workloads under contrib/bench/workloads (`make bench`).
#
# Every workload is built BENCH_RUNS times (default 5) by kiln and by buildah (and docker, when
# its daemon runs and the bench runs as root) in alternating runs,
# each run in a fresh store of its own (overlay driver) that first loads the same busybox image
# (contrib/mkbase.sh, imported by kiln, saved as a docker-archive). Each build runs under
# contrib/bench/measure, which reports wall time, user+sys CPU time and the peak RSS of the largest
# process in the tree. The medians go to a markdown table on standard output and to
# contrib/bench/results.md and results.json (results-USER.* for a rootless run).
#
# Environment:
#   BENCH_RUNS=N           runs per tool and workload (default 5)
#   BENCH_USER=NAME        run both builders rootless as NAME through runuser (needs root and
#                          NAME's /etc/subuid and /etc/subgid ranges); default: as the caller
#   BENCH_WORKLOADS="..."  subset of: steps20 mixed mixed-cached copy10k stages2
#   BENCH_BUILDAH=0        leave buildah out even when it is installed
#   BENCH_DOCKER=0         leave docker out even when its daemon answers (root runs only)
#   BENCH_DOCKER_CLI="..." docker clients to try, the first that builds with BuildKit is used
#                          (default: docker, then /usr/bin/docker)
#   BENCH_BUILDAH_FLAGS    extra flags for `buildah bud` (for example --jobs 2)
#   BENCH_OUT=DIR          where results.* go (default contrib/bench)
#   BENCH_SETTLE=SECONDS   pause before each measured build (default 0; see README: on ext4
#                          without a journal, inodes freed in the last 60 s slow file creation)
#   BENCH_KEEP=1           keep the work directory (stores, logs, raw numbers)
#   TMPDIR                 where the work directory is made (default /var/tmp)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
runs=${BENCH_RUNS:-5}
user=${BENCH_USER:-}
workloads=${BENCH_WORKLOADS:-steps20 mixed mixed-cached stages2 copy10k}
outdir=${BENCH_OUT:-$here}
export PATH=/usr/local/go/bin:$PATH

log() { printf 'bench: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

[ -z "$user" ] || [ "$(id -u)" = 0 ] || die "BENCH_USER needs root (runuser)"
[ -z "$user" ] || id "$user" >/dev/null 2>&1 || die "no user $user"
for tool in openssl jq split; do
	command -v "$tool" >/dev/null || die "$tool not found (apt-get install openssl jq coreutils)"
done

if [ ! -x "$repo/bin/kiln" ]; then
	log "building bin/kiln"
	make -C "$repo" kiln >&2
fi
with_buildah=0
if [ "${BENCH_BUILDAH:-1}" != 0 ] && command -v buildah >/dev/null; then
	with_buildah=1
fi
# docker takes part in root runs when its daemon answers (the daemon is root's; the bench does
# not start one). Its builds share the daemon's store: cold runs use --no-cache.
# Its BuildKit builds need a client that has it built in (before 23) or the buildx plugin.
buildkit_client() {
	local c major
	for c in ${BENCH_DOCKER_CLI:-docker /usr/bin/docker}; do
		command -v "$c" >/dev/null || continue
		major=$("$c" version -f '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)
		if [ -n "$major" ] && [ "$major" -lt 23 ] 2>/dev/null || "$c" buildx version >/dev/null 2>&1; then
			echo "$c"
			return
		fi
	done
}
with_docker=0 docker_cli=
if [ "${BENCH_DOCKER:-1}" != 0 ] && [ -z "$user" ] && [ "$(id -u)" = 0 ] &&
	command -v docker >/dev/null && docker info >/dev/null 2>&1; then
	docker_cli=$(buildkit_client)
	if [ -n "$docker_cli" ]; then
		with_docker=1
	else
		log "docker's daemon runs, but no docker client here builds with BuildKit (no buildx): docker left out"
	fi
fi

work=$(mktemp -d "${TMPDIR:-/var/tmp}/kiln-bench.XXXXXX")
chmod 0755 "$work"
cleanup() {
	# A failed build may leave an overlay mount in one of our stores; only those are touched.
	local m
	for m in $(findmnt -rn -o TARGET | grep -F "$work/" | sort -r || true); do
		umount -l "$m" 2>/dev/null || true
	done
	if [ "$with_docker" = 1 ]; then
		"$docker_cli" rmi -f bench-steps20 bench-mixed bench-copy10k bench-stages2 localhost/busybox >/dev/null 2>&1 || true
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		log "kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

log "work directory $work"
mkdir -p "$work/bin" "$work/ctx" "$work/stores" "$work/logs" "$work/home" "$work/xdg" "$work/cpf"
chmod 0700 "$work/xdg"
# On ext4, creating a file skips every inode of its block group freed in the last 60 s, one by
# one (without a journal, see README): a run creating files right after another run deleted
# thousands in the same group pays for that run. New directories under a "top directory" (+T)
# are spread over the block groups, so each store and each cp -a copy below gets its own.
for d in "$work/stores" "$work/cpf"; do
	chattr +T "$d" 2>/dev/null || log "chattr +T $d failed: runs may slow each other down (see README)"
done
[ -z "$user" ] || chown "$user:" "$work/home" "$work/xdg"
(cd "$repo" && CGO_ENABLED=0 go build -o "$work/bin/measure" ./contrib/bench/measure)
measure=$work/bin/measure
# A copy, so that a rebuild of bin/kiln during the run does not change what is measured.
cp "$repo/bin/kiln" "$work/bin/kiln"
kiln=$work/bin/kiln

# as_user runs a command as BENCH_USER (or as the caller) with a private HOME and runtime dir, so
# neither builder reads or writes the caller's configuration.
prefix=(env HOME="$work/home" XDG_RUNTIME_DIR="$work/xdg")
[ -z "$user" ] || prefix=(runuser -u "$user" -- "${prefix[@]}")
as_user() { "${prefix[@]}" "$@"; }

# fresh_store DIR empties DIR and gives it to the user the builders run as.
fresh_store() {
	rm -rf "$1"
	mkdir -p "$1"
	[ -z "$user" ] || chown "$user:" "$1"
}

kiln_in() { as_user "$kiln" --root "$1/root" --runroot "$1/run" --storage-driver overlay "${@:2}"; }
buildah_in() { as_user buildah --root "$1/root" --runroot "$1/run" --storage-driver overlay "${@:2}"; }

# The workload contexts, generated from the scripts kept in the repo.
for w in steps20 mixed copy10k stages2; do
	case " $workloads " in
	*" $w "* | *" $w-cached "*) ;;
	*) continue ;;
	esac
	log "generating context $w"
	sh "$here/workloads/$w/gen.sh" "$work/ctx/$w"
	cp "$here/workloads/$w/Dockerfile" "$work/ctx/$w/Dockerfile"
done
chmod -R a+rX "$work/ctx"

# The base image: kiln imports the busybox rootfs once and saves it; every run of both builders
# loads that archive, so they build FROM the very same image id.
log "making the busybox base"
sh "$repo/contrib/mkbase.sh" "$work/busybox-rootfs.tar"
fresh_store "$work/base-store"
chmod a+r "$work/busybox-rootfs.tar"
base_id=$(kiln_in "$work/base-store" import --change 'CMD ["sh"]' "$work/busybox-rootfs.tar" busybox)
# save writes a temporary file next to its output, so the output goes where the user may write.
kiln_in "$work/base-store" save -q -o "$work/base-store/busybox.tar" busybox
mv "$work/base-store/busybox.tar" "$work/busybox.tar"
chmod a+r "$work/busybox.tar"
if [ "$with_docker" = 1 ]; then
	"$docker_cli" load -q -i "$work/busybox.tar" >&2
fi

load_base() { # TOOL STORE
	case $1 in
	kiln) kiln_in "$2" load -q -i "$work/busybox.tar" ;;
	buildah) buildah_in "$2" pull -q "docker-archive:$work/busybox.tar" ;;
	docker) ;; # loaded once into the daemon's store
	esac
}

# build_argv TOOL STORE WORKLOAD MODE sets argv to the build command (cold: no cache; cached:
# the layer cache on), including the switch to BENCH_USER, so that measure runs nothing else.
build_argv() {
	local tool=$1 store=$2 ctx=$work/ctx/$3 mode=$4
	local nocache=(--no-cache)
	[ "$mode" = cold ] || nocache=()
	case $tool in
	kiln) argv=("${prefix[@]}" "$kiln" --root "$store/root" --runroot "$store/run"
		--storage-driver overlay build "${nocache[@]}" -t "bench-$3" "$ctx") ;;
	# --layers commits a layer per step as kiln does (--layers=false commits only once).
	# shellcheck disable=SC2206
	buildah) argv=("${prefix[@]}" buildah --root "$store/root" --runroot "$store/run"
		--storage-driver overlay bud --isolation chroot --layers "${nocache[@]}"
		${BENCH_BUILDAH_FLAGS:-} -t "bench-$3" "$ctx") ;;
	# BuildKit, as docker users build; --network=none since the daemon may run without a
	# bridge (as contrib/golden's does), and no workload needs the network.
	docker) argv=(env DOCKER_BUILDKIT=1 "$docker_cli" build --network=none "${nocache[@]}" -t "bench-$3" "$ctx") ;;
	esac
}

raw=$work/raw.tsv
: >"$raw"
# one_run WORKLOAD TOOL RUN: fresh store, load the base, warm the cache if the workload is a
# cached one, then the measured build. A failed build is recorded with its exit code.
one_run() {
	local w=$1 tool=$2 i=$3 ctxname=${1%-cached} mode=cold
	[ "$ctxname" = "$w" ] || mode=cached
	# Stores are removed only at the end: freeing thousands of inodes between runs would slow
	# the next run's file creation on some file systems (see BENCH_SETTLE).
	local store=$work/stores/$w-$tool-$i
	local logf=$work/logs/$w-$tool-$i.log
	fresh_store "$store"
	load_base "$tool" "$store" >"$logf" 2>&1
	if [ "$mode" = cached ]; then
		build_argv "$tool" "$store" "$ctxname" cold
		"${argv[@]}" >>"$logf" 2>&1 || log "$w $tool run $i: warm-up build failed, see $logf"
	fi
	sync
	sleep "${BENCH_SETTLE:-0}"
	rm -f "$work/m.txt"
	build_argv "$tool" "$store" "$ctxname" "$mode"
	echo "+ ${argv[*]}" >>"$logf"
	if ! "$measure" -o "$work/m.txt" -- "${argv[@]}" >>"$logf" 2>&1; then
		log "$w $tool run $i failed, see $logf"
		[ -s "$work/m.txt" ] || echo "0 0 0 0 1" >"$work/m.txt"
	fi
	printf '%s\t%s\t%s\t%s\n' "$w" "$tool" "$i" "$(tr ' ' '\t' <"$work/m.txt")" >>"$raw"
}

for w in $workloads; do
	[ -d "$here/workloads/${w%-cached}" ] || die "no workload ${w%-cached}"
	for i in $(seq 1 "$runs"); do
		log "$w run $i/$runs"
		one_run "$w" kiln "$i"
		[ "$with_buildah" = 0 ] || one_run "$w" buildah "$i"
		[ "$with_docker" = 0 ] || one_run "$w" docker "$i"
	done
	if [ "$w" = copy10k ]; then
		# The floor: reading and hashing the same tree as one tar stream.
		for i in $(seq 1 "$runs"); do
			rm -f "$work/m.txt"
			sleep "${BENCH_SETTLE:-0}"
			"$measure" -o "$work/m.txt" -- "${prefix[@]}" \
				sh -c "tar -c -C '$work/ctx/copy10k' tree | sha256sum >/dev/null"
			printf '%s\t%s\t%s\t%s\n' "$w" floor "$i" "$(tr ' ' '\t' <"$work/m.txt")" >>"$raw"
		done
		# What the floor leaves out: writing the same files, which any builder that stores a
		# layer as files does (cp -a next to the stores, each copy to a new directory: removing
		# the last one first would slow this one down, see above).
		[ -z "$user" ] || chown "$user:" "$work/cpf"
		for i in $(seq 1 "$runs"); do
			rm -f "$work/m.txt"
			"${prefix[@]}" mkdir "$work/cpf/$i"
			sync
			sleep "${BENCH_SETTLE:-0}"
			"$measure" -o "$work/m.txt" -- "${prefix[@]}" cp -a "$work/ctx/copy10k/tree" "$work/cpf/$i/tree"
			printf '%s\t%s\t%s\t%s\n' "$w" cpfloor "$i" "$(tr ' ' '\t' <"$work/m.txt")" >>"$raw"
		done
	fi
done

# Summary: medians of the successful runs, as JSON first and markdown from that.
cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
commit=$("$kiln" --version | sed 's/^kiln version //')
buildah_version=$([ "$with_buildah" = 0 ] || buildah --version)
docker_version=$([ "$with_docker" = 0 ] || "$docker_cli" version -f 'docker {{.Server.Version}}')
mode=root
[ -z "$user" ] || mode="rootless ($user)"
[ "$(id -u)" = 0 ] || mode="rootless ($(id -un))"
name=results
[ -z "$user" ] || name=results-$user

jq -R -s --argjson runs "$runs" \
	--arg nproc "$(nproc)" --arg cpu "$cpu_model" --arg kernel "$(uname -r)" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg commit "$commit" \
	--arg buildah "$buildah_version" --arg docker "$docker_version" --arg mode "$mode" --arg base "$base_id" \
	--argjson settle "${BENCH_SETTLE:-0}" --arg fs "$(findmnt -no FSTYPE -T "$work" | head -1)" '
	def median: sort | if length == 0 then null
		elif length % 2 == 1 then .[length / 2 | floor]
		else (.[length / 2 - 1] + .[length / 2]) / 2 end;
	[split("\n")[] | select(length > 0) | split("\t") |
		{workload: .[0], tool: .[1], run: (.[2] | tonumber), wall_s: (.[3] | tonumber),
		 user_s: (.[4] | tonumber), sys_s: (.[5] | tonumber), maxrss_kib: (.[6] | tonumber),
		 exit: (.[7] | tonumber)}] as $raw |
	{machine: {nproc: ($nproc | tonumber), cpu: $cpu, kernel: $kernel, date: $date,
	           kiln_commit: $commit, buildah_version: $buildah, docker_version: $docker, mode: $mode,
	           runs: $runs, settle_s: $settle, storage_driver: "overlay", work_fs: $fs,
	           base_image: $base},
	 summary: [$raw | group_by(.workload, .tool)[] |
		{workload: .[0].workload, tool: .[0].tool,
		 ok: (map(select(.exit == 0)) | length), failed: (map(select(.exit != 0)) | length),
		 median_wall_s: (map(select(.exit == 0) | .wall_s) | median),
		 median_cpu_s: (map(select(.exit == 0) | .user_s + .sys_s) | median),
		 median_maxrss_mib: (map(select(.exit == 0) | .maxrss_kib / 1024) | median)}],
	 runs: $raw}' "$raw" >"$outdir/$name.json"

jq -r --arg order "$workloads" '
	def f(d): if . == null then "—" else (. * pow(10; d) | round | tostring) as $s |
		if d == 0 then $s else
			((if ($s | length) <= d then [range(d + 1 - ($s | length))] | map("0") | add else "" end) + $s) as $p |
			$p[0:($p | length) - d] + "." + $p[($p | length) - d:] end end;
	def cell(k; t; d; u): (.summary | map(select(.workload == k and .tool == t))[0]) as $s |
		if $s == null then "—"
		elif $s.ok == 0 then "failed"
		else ($s[u] | f(d)) + (if $s.failed > 0 then " (\($s.failed) failed)" else "" end) end;
	.machine as $m |
	"Machine: \($m.nproc) × \($m.cpu), Linux \($m.kernel); \($m.mode), overlay driver on \($m.work_fs); " +
	"kiln \($m.kiln_commit); \($m.buildah_version); \($m.runs) runs each, medians; \($m.settle_s) s settle; \($m.date).",
	"",
	"| workload | kiln median wall (s) | buildah median wall (s) | ratio kiln/buildah | kiln CPU (s) | buildah CPU (s) | kiln peak RSS (MiB) | buildah peak RSS (MiB) |",
	"|---|---:|---:|---:|---:|---:|---:|---:|",
	(. as $r | $order | split(" ")[] | select(length > 0) as $w | $r |
		(.summary | map(select(.workload == $w and .ok > 0)) | map({(.tool): .median_wall_s}) | add // {}) as $wall |
		"| \($w) | \(cell($w; "kiln"; 2; "median_wall_s")) | \(cell($w; "buildah"; 2; "median_wall_s")) | " +
		"\(if $wall.kiln and $wall.buildah then ($wall.kiln / $wall.buildah | f(2)) else "—" end) | " +
		"\(cell($w; "kiln"; 2; "median_cpu_s")) | \(cell($w; "buildah"; 2; "median_cpu_s")) | " +
		"\(cell($w; "kiln"; 0; "median_maxrss_mib")) | \(cell($w; "buildah"; 0; "median_maxrss_mib")) |"),
	(if (.summary | map(select(.tool == "docker")) | length) > 0 then
		"", "docker (\(.machine.docker_version), BuildKit; its CPU time and memory are in the daemon, which measure does not see):", "",
		"| workload | docker median wall (s) | ratio kiln/docker |", "|---|---:|---:|",
		(. as $r | $order | split(" ")[] | select(length > 0) as $w | $r |
			(.summary | map(select(.workload == $w and .ok > 0)) | map({(.tool): .median_wall_s}) | add // {}) as $wall |
			"| \($w) | \(cell($w; "docker"; 2; "median_wall_s")) | " +
			"\(if $wall.kiln and $wall.docker then ($wall.kiln / $wall.docker | f(2)) else "—" end) |")
	else empty end),
	(.summary | map(select(.tool == "floor"))[0] // empty |
		"", "copy10k floor (`tar -c | sha256sum` over the same tree): median wall \(.median_wall_s | f(2)) s, CPU \(.median_cpu_s | f(2)) s."),
	(.summary | map(select(.tool == "cpfloor"))[0] // empty |
		"", "Writing the same tree (`cp -a` next to the stores): median wall \(.median_wall_s | f(2)) s, CPU \(.median_cpu_s | f(2)) s.")
	' "$outdir/$name.json" >"$outdir/$name.md"

cat "$outdir/$name.md"
log "wrote $outdir/$name.md and $outdir/$name.json"
