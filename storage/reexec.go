package storage

import "go.podman.io/storage/pkg/reexec"

// MaybeReexec runs a helper of containers/storage (it re-executes the
// binary to unpack layers in a chroot) when this process was started as
// one, and reports whether it was. main calls it before anything else.
func MaybeReexec() bool { return reexec.Init() }
