// Package userns puts kiln into a user namespace so that an unprivileged
// user can own files as any id in the images it builds.
//
// The package is four small parts: subid.go parses /etc/subuid and
// /etc/subgid, mapping.go turns those ranges into id mappings and
// newuidmap arguments (pure functions), idmap.go writes the mappings for a
// process (directly, or through newuidmap and newgidmap), and reexec.go and
// mode.go choose a [Mode] and re-execute kiln inside the namespace.
//
// # Lifecycle
//
// The CLI calls [Enter] first thing for every command that touches the
// store, before it opens anything:
//
//   - As root (euid 0) Enter returns at once: in the initial user namespace
//     kiln needs no mapping ([ModeRoot]); inside a namespace set up by
//     someone else (a container, podman unshare) it keeps that one.
//   - Otherwise the caller is the parent. [Detect] picks [ModeSubIDs] when
//     the user has ranges in both /etc/subuid and /etc/subgid and newuidmap
//     and newgidmap are installed, else [ModeSingle] (only the user's own
//     uid and gid, mapped to 0; a one-line warning goes to stderr). The
//     parent re-executes /proc/self/exe with the same arguments in a new
//     user and mount namespace, marks the child's environment
//     (_CONTAINERS_USERNS_CONFIGURED, _CONTAINERS_ROOTLESS_UID and
//     _CONTAINERS_ROOTLESS_GID, which containers/storage reads, and
//     KILN_USERNS_MODE, which [CurrentMode] reads), forwards SIGINT,
//     SIGTERM, SIGHUP and SIGQUIT to the child, waits for it and returns its
//     exit status (128+signal if it was killed) with reexeced set: the CLI
//     then exits with that status and does nothing else.
//   - In ModeSingle the kernel mappings are written by the Go runtime before
//     the child executes. In ModeSubIDs the child starts unmapped and blocks
//     in Enter on a pipe (fd 3) until the parent has run newuidmap and
//     newgidmap and written one byte; it then executes itself once more, so
//     that it starts as uid 0 with a full capability set (capabilities are
//     computed at execve). If the parent cannot map the ids it kills the
//     child and Enter returns the error in the parent.
//   - In the child, Enter makes every mount in its mount namespace private,
//     so that no mount kiln makes reaches the host, has the kernel kill it
//     if the parent dies, and returns with reexeced false: the command runs
//     there as uid 0.
//
// Enter is idempotent in the child: a second call returns at once.
package userns
