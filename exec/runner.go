package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"runtime"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Stdio are a step's standard streams; nil means /dev/null.
type Stdio struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
}

// Runner runs the process of spec and returns once it has exited. A process
// that exits non-zero or dies by a signal yields an *ExitError.
type Runner interface {
	Run(ctx context.Context, spec *specs.Spec, stdio Stdio) error
}

// ExitError reports a step's process that did not exit with status 0.
type ExitError struct {
	Code   int
	Signal syscall.Signal
}

func (e *ExitError) Error() string {
	if e.Signal != 0 {
		return fmt.Sprintf("killed by signal %d (%s)", int(e.Signal), e.Signal)
	}
	return fmt.Sprintf("exit status %d", e.Code)
}

// initEnv marks a re-executed kiln as a sandbox init; its value is the fd
// the spec is read from.
const initEnv = "_KILN_SANDBOX_INIT"

// Sandbox is kiln's built-in Runner.
type Sandbox struct{}

// Run starts the sandbox init in fresh namespaces and waits for it: Start, then Wait, killing
// the process when ctx ends.
func (sb Sandbox) Run(ctx context.Context, spec *specs.Spec, stdio Stdio) error {
	// The sandbox dies with the OS thread that started it (Pdeathsig): keep this one until the
	// step is over.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	p, err := sb.Start(spec, stdio, StartOptions{})
	if err != nil {
		return err
	}
	select {
	case <-p.Done():
		return p.Wait()
	case <-ctx.Done():
		// Killing pid 1 of the step's pid namespace kills every process in it.
		_ = p.Signal(syscall.SIGKILL)
		<-p.Done()
		return ctx.Err()
	}
}

func exitError(err error) error {
	var ee *osexec.ExitError
	if !errors.As(err, &ee) {
		if err != nil {
			return fmt.Errorf("running sandbox: %w", err)
		}
		return nil
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	if !ok {
		return &ExitError{Code: ee.ExitCode()}
	}
	if ws.Signaled() {
		return &ExitError{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}
	}
	return &ExitError{Code: ws.ExitStatus()}
}

// sysProcAttr turns the spec's namespaces and id maps into clone flags.
func sysProcAttr(spec *specs.Spec) (*syscall.SysProcAttr, error) {
	attr := &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if spec.Linux == nil {
		return attr, nil
	}
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path != "" {
			return nil, fmt.Errorf("joining namespace %s at %s: %w", ns.Type, ns.Path, errors.ErrUnsupported)
		}
		flag, ok := cloneFlags[ns.Type]
		if !ok {
			return nil, fmt.Errorf("namespace %q: %w", ns.Type, errors.ErrUnsupported)
		}
		attr.Cloneflags |= flag
	}
	for _, m := range spec.Linux.UIDMappings {
		attr.UidMappings = append(attr.UidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	for _, m := range spec.Linux.GIDMappings {
		attr.GidMappings = append(attr.GidMappings, syscall.SysProcIDMap{ContainerID: int(m.ContainerID), HostID: int(m.HostID), Size: int(m.Size)})
	}
	// With a single id mapped to a user other than root (USER in single-id
	// mode) the init would lose its capabilities at exec; ambient ones keep
	// them until it has set the sandbox up and dropped them.
	if m := spec.Linux.UIDMappings; len(m) == 1 && m[0].Size == 1 && m[0].ContainerID != 0 {
		caps, err := ambientAll()
		if err != nil {
			return nil, err
		}
		attr.AmbientCaps = caps
	}
	// A namespace whose setgroups is denied (single-id mode) can only make
	// children with setgroups denied too.
	b, err := os.ReadFile("/proc/self/setgroups")
	attr.GidMappingsEnableSetgroups = err != nil || !strings.HasPrefix(string(b), "deny")
	return attr, nil
}

var cloneFlags = map[specs.LinuxNamespaceType]uintptr{
	specs.UserNamespace:    syscall.CLONE_NEWUSER,
	specs.MountNamespace:   syscall.CLONE_NEWNS,
	specs.PIDNamespace:     syscall.CLONE_NEWPID,
	specs.UTSNamespace:     syscall.CLONE_NEWUTS,
	specs.IPCNamespace:     syscall.CLONE_NEWIPC,
	specs.NetworkNamespace: syscall.CLONE_NEWNET,
}
