#!/usr/bin/env bash
# e2e-as.sh STAGE USER [GO TEST FLAGS...] — run the end-to-end suite staged in STAGE (bin/kiln,
# bin/e2e.test, src/contrib) as USER, with a fresh XDG_RUNTIME_DIR owned by USER (0700).
set -euo pipefail
stage=$1 user=$2
shift 2
run=$stage/run-$user
rm -rf "$run"
install -d -m 0700 -o "$user" -g "$user" "$run"
cd "$stage"
exec runuser -u "$user" -- env -i \
	PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	HOME="/home/$user" USER="$user" LOGNAME="$user" TMPDIR=/tmp LANG=C.UTF-8 \
	XDG_RUNTIME_DIR="$run" KILN_BIN="$stage/bin/kiln" KILN_SRC="$stage/src" KILN_E2E_REQUIRED=1 \
	"$stage/bin/e2e.test" -test.v -test.count=1 "$@"
