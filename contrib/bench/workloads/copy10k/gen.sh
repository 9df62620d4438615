#!/bin/sh
# gen.sh DIR — copy10k's context: tree/ with 100 directories of 90 files of 4 KiB and 10 files of
# 163,840 bytes, deterministic pseudo-random content: 10,000 files, 200,704,000 bytes.
set -eu
dir=${1:?usage: gen.sh DIR}
. "$(dirname "$0")/../stream.sh"
for d in $(seq -w 0 99); do
	mkdir -p "$dir/tree/d$d"
	stream "copy10k/$d/small" | head -c $((90 * 4096)) | split -b 4096 -d -a 2 - "$dir/tree/d$d/s"
	stream "copy10k/$d/large" | head -c $((10 * 163840)) | split -b 163840 -d -a 2 - "$dir/tree/d$d/l"
done
