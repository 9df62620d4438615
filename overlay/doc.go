// Package overlay prepares overlay mount descriptions and turns an overlay
// upper directory into an OCI layer diff.
//
// A [Mount] describes one overlayfs mount (lower directories, upper, work and
// target) and can mount and unmount it; [Diff] reads only the upper directory
// of a finished step and streams an uncompressed OCI layer tar, translating
// overlay whiteouts and opaque directories into their OCI forms.
//
// The package decides no policy: which directories to stack, whether to run
// rootless (the userxattr option), how ids map and which timestamps to clamp
// are the caller's choice, passed in as values.
package overlay
