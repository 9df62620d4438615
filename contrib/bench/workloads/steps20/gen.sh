#!/bin/sh
# gen.sh DIR — steps20 needs no context beyond its Dockerfile.
set -eu
mkdir -p "${1:?usage: gen.sh DIR}"
