// Package exec runs one process of a build step in a sandbox.
//
// A Runner takes an OCI runtime spec and runs its process to completion.
// Sandbox, the built-in Runner, needs no daemon, no cgroups and no external
// runtime: it re-executes the kiln binary into new user, mount, pid, uts, ipc
// and (unless the spec shares the host's) network namespaces, where the
// re-executed copy (see MaybeInit) sets up /proc, /dev and the spec's bind
// mounts, pivots into the root, drops to the step's user and capabilities
// (caps.go), installs the seccomp filter compiled from the spec (seccomp.go,
// seccomp_bpf.go) and executes the command. In single-id mode the filter
// sends chown and chmod to Sandbox.Run, which records the owners a step asks
// for in layer metadata (chownnotify.go). An external OCI runtime can be a
// second Runner.
package exec
