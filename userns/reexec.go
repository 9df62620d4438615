package userns

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The environment of the child. The _CONTAINERS_ names are the ones
// containers/storage reads to choose its rootless paths.
const (
	envConfigured  = "_CONTAINERS_USERNS_CONFIGURED"
	envRootlessUID = "_CONTAINERS_ROOTLESS_UID"
	envRootlessGID = "_CONTAINERS_ROOTLESS_GID"
	envMode        = "KILN_USERNS_MODE"
	envSyncFD      = "_KILN_USERNS_SYNC_FD" // ModeSubIDs: wait on this fd for the mappings
	envChild       = "_KILN_USERNS_CHILD"   // the parent's pid, until the child has set itself up
	envMountNS     = "_KILN_MOUNTNS_CHILD"  // root's child in a private mount namespace: the parent's pid
	envOwner       = "_KILN_NS_OWNER"       // the pid of the kiln that made the namespaces this process is in
)

// syncFD is the child's end of the pipe that releases it: ExtraFiles[0].
const syncFD = 3

const selfExe = "/proc/self/exe"

// Enter runs the rest of the program in a user namespace where it is uid 0.
// The parent returns reexeced true and the exit status of the child, which
// ran the whole command; the caller must then exit with code. Root, and
// the child itself, return reexeced false and continue. See the package
// documentation for the lifecycle.
func Enter() (code int, reexeced bool, err error) {
	if err := awaitMappings(); err != nil {
		return 0, false, err
	}
	if os.Getenv(envConfigured) != "" {
		return 0, false, finishChild()
	}
	if os.Geteuid() == 0 {
		return enterMountNS()
	}
	p, err := detect()
	if err != nil {
		return 0, false, err
	}
	code, err = p.run()
	if err != nil {
		return 0, false, err
	}
	return code, true, nil
}

// awaitMappings blocks a ModeSubIDs child until its parent has written the
// mappings, then executes the program again: the capabilities of uid 0 in
// the namespace are granted at execve, and the first one ran unmapped.
func awaitMappings() error {
	fdStr, ok := os.LookupEnv(envSyncFD)
	if !ok {
		return nil
	}
	os.Unsetenv(envSyncFD)
	fd, err := strconv.Atoi(fdStr)
	if err != nil || fd < 0 {
		return fmt.Errorf("parsing %s=%q: not a file descriptor", envSyncFD, fdStr)
	}
	f := os.NewFile(uintptr(fd), "userns-sync")
	var b [1]byte
	_, err = io.ReadFull(f, b[:])
	f.Close()
	if errors.Is(err, io.EOF) {
		return errors.New("waiting for id mappings: the parent closed the pipe without mapping ids")
	}
	if err != nil {
		return fmt.Errorf("waiting for id mappings on fd %d: %w", fd, err)
	}
	err = unix.Exec(selfExe, os.Args, os.Environ())
	return fmt.Errorf("executing %s in the user namespace: %w", selfExe, err)
}

// finishChild sets up the child once: its mounts become private, so that
// none of its mounts propagates to the host, and it dies with its parent.
func finishChild() error {
	return finishChildEnv(envChild)
}

func finishChildEnv(name string) error {
	parent, ok := os.LookupEnv(name)
	if !ok {
		return nil
	}
	os.Unsetenv(name)
	if err := armParentDeath(parent); err != nil {
		return err
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making mounts private in the user namespace: %w", err)
	}
	// Processes started from here (kiln unshare's shell, and kiln run
	// there) stay in these namespaces: see OwnsNamespaces.
	os.Setenv(envOwner, strconv.Itoa(os.Getpid()))
	return nil
}

// armParentDeath has the kernel kill the child when its parent dies. The
// setting given at clone does not survive an execve that raises
// capabilities (ModeSubIDs), and it lives on a thread, so it is set again
// on a thread kept for the life of the process.
func armParentDeath(parent string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		errc <- unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0)
		select {}
	}()
	if err := <-errc; err != nil {
		return fmt.Errorf("setting the parent death signal: %w", err)
	}
	if strconv.Itoa(os.Getppid()) != parent {
		return fmt.Errorf("parent %s of the user namespace exited", parent)
	}
	return nil
}

// run starts the child, maps its ids, forwards signals to it and returns
// its exit status.
func (p plan) run() (int, error) {
	cmd := exec.Command(selfExe, os.Args[1:]...)
	cmd.Args[0] = os.Args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = p.env(os.Environ(), os.Getpid())
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWUSER | syscall.CLONE_NEWNS,
		Pdeathsig:  syscall.SIGKILL,
	}
	var release *os.File
	if p.mode == ModeRoot {
		cmd.SysProcAttr.Cloneflags = syscall.CLONE_NEWNS
		cmd.Env = append(os.Environ(), envMountNS+"="+strconv.Itoa(os.Getpid()))
	} else if p.mode == ModeSubIDs {
		r, w, err := os.Pipe()
		if err != nil {
			return 0, fmt.Errorf("creating the id mapping pipe: %w", err)
		}
		defer r.Close()
		defer w.Close()
		cmd.ExtraFiles = []*os.File{r}
		cmd.Env = append(cmd.Env, envSyncFD+"="+strconv.Itoa(syncFD))
		release = w
	} else {
		cmd.SysProcAttr.UidMappings = sysMappings(p.uidMaps)
		cmd.SysProcAttr.GidMappings = sysMappings(p.gidMaps)
		cmd.SysProcAttr.GidMappingsEnableSetgroups = false
		fmt.Fprintln(os.Stderr, p.warning())
	}

	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, unix.SIGINT, unix.SIGTERM, unix.SIGHUP, unix.SIGQUIT)
	defer signal.Stop(sigs)
	// Pdeathsig fires when the thread that started the child exits.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("starting %s in a new user namespace: %w", strings.Join(cmd.Args, " "), err)
	}
	if release != nil {
		if err := p.release(cmd.Process.Pid, release); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			return 0, err
		}
	}
	done := make(chan struct{})
	defer close(done)
	go func() {
		for {
			select {
			case s := <-sigs:
				cmd.Process.Signal(s)
			case <-done:
				return
			}
		}
	}()
	err := cmd.Wait()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return 0, fmt.Errorf("waiting for %s in the user namespace: %w", selfExe, err)
	}
	return exitStatus(cmd.ProcessState), nil
}

// release maps the ids of the waiting child and lets it go on.
func (p plan) release(pid int, w *os.File) error {
	if err := WriteMappings(pid, p.uidMaps, p.gidMaps); err != nil {
		return err
	}
	if _, err := w.Write([]byte{0}); err != nil {
		return fmt.Errorf("releasing pid %d after mapping its ids: %w", pid, err)
	}
	return w.Close()
}

// env returns base without any earlier value of the child's variables, and
// with this plan's for a child of parent.
func (p plan) env(base []string, parent int) []string {
	env := make([]string, 0, len(base)+5)
	for _, kv := range base {
		switch name, _, _ := strings.Cut(kv, "="); name {
		case envConfigured, envRootlessUID, envRootlessGID, envMode, envSyncFD, envChild:
		default:
			env = append(env, kv)
		}
	}
	return append(env,
		envConfigured+"=done",
		envRootlessUID+"="+strconv.FormatUint(uint64(p.uid), 10),
		envRootlessGID+"="+strconv.FormatUint(uint64(p.gid), 10),
		envMode+"="+p.mode.String(),
		envChild+"="+strconv.Itoa(parent))
}

func sysMappings(maps []specs.LinuxIDMapping) []syscall.SysProcIDMap {
	out := make([]syscall.SysProcIDMap, len(maps))
	for i, m := range maps {
		out[i] = syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)}
	}
	return out
}

// exitStatus is the child's exit code, or 128+signal if a signal killed it.
func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}
