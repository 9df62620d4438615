package exec

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// initFailed is the exit status of an init that could not set the sandbox
// up; the reason went to the status pipe, so the status itself is never
// mistaken for the command's.
const initFailed = 125

// statusFD is the init's end of the status pipe: it closes on a successful
// exec, and carries the error otherwise.
const statusFD = 4

// MaybeInit turns this process into a sandbox init when it was started as
// one by Sandbox.Run, and never returns then. Call it first thing in main.
func MaybeInit() {
	fdStr := os.Getenv(initEnv)
	if fdStr == "" {
		return
	}
	runtime.LockOSThread()
	status := os.NewFile(statusFD, "status")
	if err := initSandbox(fdStr); err != nil {
		fmt.Fprint(status, err.Error())
		os.Exit(initFailed)
	}
	// initSandbox only returns on error.
	os.Exit(initFailed)
}

func initSandbox(fdStr string) error {
	fd, err := strconv.Atoi(fdStr)
	if err != nil {
		return fmt.Errorf("bad spec fd %q", fdStr)
	}
	f := os.NewFile(uintptr(fd), "spec")
	var payload initPayload
	if err := json.NewDecoder(f).Decode(&payload); err != nil {
		return fmt.Errorf("reading spec: %w", err)
	}
	f.Close()
	if payload.Spec == nil || payload.Spec.Root == nil || payload.Spec.Process == nil {
		return fmt.Errorf("reading spec: no root or process")
	}
	spec := *payload.Spec
	os.Unsetenv(initEnv)
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private: %w", err)
	}
	root := spec.Root.Path
	for _, m := range spec.Mounts {
		if err := mountInRoot(root, m); err != nil {
			return err
		}
	}
	if hasNamespace(&spec, specs.NetworkNamespace) {
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if spec.Hostname != "" && hasNamespace(&spec, specs.UTSNamespace) {
		if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
			return fmt.Errorf("setting hostname: %w", err)
		}
	}
	if err := pivot(root, spec.Root.Readonly); err != nil {
		return err
	}
	if spec.Linux != nil {
		if err := maskPaths(spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths); err != nil {
			return err
		}
	}
	reaper := wantReaper()
	tty, err := setupTerminal(spec.Process)
	if err != nil {
		return err
	}
	// The bounding set goes while the init still has CAP_SETPCAP.
	if err := dropBounding(spec.Process.Capabilities); err != nil {
		return err
	}
	return execProcess(spec.Process, payload.Seccomp, reaper, tty)
}

func hasNamespace(spec *specs.Spec, t specs.LinuxNamespaceType) bool {
	if spec.Linux == nil {
		return false
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == t {
			return true
		}
	}
	return false
}

// pivot makes root the process's root and detaches the old one, so that no
// path of the host stays reachable.
func pivot(root string, readonly bool) error {
	if err := unix.Mount(root, root, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting root %s: %w", root, err)
	}
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("entering root %s: %w", root, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivoting into %s: %w", root, err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("entering new root: %w", err)
	}
	if readonly {
		if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("making root read-only: %w", err)
		}
	}
	return nil
}

// maskPaths hides kernel interfaces a build step has no business with.
func maskPaths(masked, readonly []string) error {
	for _, p := range masked {
		err := unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
		if errors.Is(err, unix.ENOTDIR) {
			err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
		}
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("masking %s: %w", p, err)
		}
	}
	for _, p := range readonly {
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fmt.Errorf("binding %s read-only: %w", p, err)
		}
		if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("making %s read-only: %w", p, err)
		}
	}
	return nil
}

// execProcess drops to the step's user and capabilities, installs the
// seccomp filter sc and replaces the init with the command, or with reaper
// starts the command as its child and reaps (forkReaper); tty says that
// the init has a controlling terminal.
func execProcess(p *specs.Process, sc *seccompFilter, reaper, tty bool) error {
	notifySock := notifySocket()
	if err := setUser(p.User); err != nil {
		return err
	}
	if err := rearmDeathSignal(statusFD); err != nil {
		return err
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return fmt.Errorf("creating working directory %s: %w", cwd, err)
	}
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("entering working directory %s: %w", cwd, err)
	}
	if err := applyCapabilities(p.Capabilities); err != nil {
		return err
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("setting no_new_privs: %w", err)
		}
	}
	closeExtraFDs()
	argv0, err := lookPath(p.Args[0], p.Env)
	if err != nil {
		return err
	}
	// Last: from here on the filter applies to the init too.
	if err := sc.load(notifySock); err != nil {
		return err
	}
	if reaper {
		return forkReaper(argv0, p.Args, p.Env, tty)
	}
	if err := unix.Exec(argv0, p.Args, p.Env); err != nil {
		return fmt.Errorf("executing %s: %w", p.Args[0], err)
	}
	return nil
}

func setUser(u specs.User) error {
	groups := make([]int, 0, len(u.AdditionalGids))
	for _, g := range u.AdditionalGids {
		groups = append(groups, int(g))
	}
	// A namespace with setgroups denied (single-id mode) cannot change the
	// group list; an empty list is then what the step gets anyway.
	if err := syscall.Setgroups(groups); err != nil && !(errors.Is(err, unix.EPERM) && (len(groups) == 0 || setgroupsDenied())) {
		return fmt.Errorf("setting supplementary groups %v: %w", groups, err)
	}
	if err := syscall.Setresgid(int(u.GID), int(u.GID), int(u.GID)); err != nil {
		return fmt.Errorf("switching to group %d: %w", u.GID, err)
	}
	if err := syscall.Setresuid(int(u.UID), int(u.UID), int(u.UID)); err != nil {
		return fmt.Errorf("switching to user %d: %w", u.UID, err)
	}
	return nil
}

// setgroupsDenied reports whether this user namespace cannot set groups:
// single-id mode, where no group but the one mapped exists.
func setgroupsDenied() bool {
	b, err := os.ReadFile("/proc/self/setgroups")
	return err == nil && strings.HasPrefix(string(b), "deny")
}

// closeExtraFDs marks every fd past stderr close-on-exec, so nothing of the
// builder leaks into the step.
func closeExtraFDs() {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return
	}
	for _, e := range entries {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
}

// lookPath resolves a command against the step's PATH inside the new root,
// as a shell in the image would.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			path = v
		}
	}
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("executable %q not found in PATH %s: %w", name, path, osexec.ErrNotFound)
}
