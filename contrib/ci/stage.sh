#!/usr/bin/env bash
# stage.sh DIR — copy what the end-to-end suite needs (bin/kiln, bin/e2e.test, contrib/mkbase.sh,
# testdata) to DIR, world-readable, so unprivileged users can run it whatever the clone's
# permissions. Run from the repository root after `make e2e.test`.
set -euo pipefail
stage=$1
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/src/contrib"
cp bin/kiln bin/e2e.test "$stage/bin/"
cp contrib/mkbase.sh "$stage/src/contrib/"
cp -r contrib/golden "$stage/src/contrib/"
[ ! -d testdata ] || cp -r testdata "$stage/src/"
chmod -R a+rX "$stage"
echo "staged in $stage: $(ls "$stage/bin" | tr '\n' ' ')"
