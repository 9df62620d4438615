#!/bin/sh
# gen.sh DIR — mixed's small context: src/ with 5 directories of 20 files, 1–8 KiB of
# deterministic pseudo-random bytes each (AES-CTR keystream seeded by the path), about 450 KiB.
set -eu
dir=${1:?usage: gen.sh DIR}
. "$(dirname "$0")/../stream.sh"
for d in 0 1 2 3 4; do
	mkdir -p "$dir/src/pkg$d"
	for f in $(seq 0 19); do
		stream "mixed/$d/$f" | head -c $((1024 * (1 + (d * 20 + f) % 8))) >"$dir/src/pkg$d/f$f.dat"
	done
done
mkdir -p "$dir/src/bin"
printf '#!/bin/sh\necho hello from the mixed bench\n' >"$dir/src/bin/hello"
chmod 0755 "$dir/src/bin/hello"
