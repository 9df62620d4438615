package exec

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	osexec "os/exec"
	"sync"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Process is a sandboxed process started by Sandbox.Start. It runs until
// Wait returns; Signal reaches it in the meantime.
//
// Unlike Run, which runs a build step to completion, Start hands the
// running process back so that a container's caller can forward signals to
// it, enter its network namespace (/proc/Pid/ns/net) to publish ports, and
// wait for it on its own terms.
type Process struct {
	// Pid is the process's id as kiln sees it: pid 1 of the container's
	// pid namespace.
	Pid int
	// Terminal is the master of the process's terminal when it was started
	// with StartOptions.TTY; the caller closes it.
	Terminal *os.File

	cmd    *osexec.Cmd
	notify *notifier
	once   sync.Once
	done   chan struct{}
	err    error
}

// StartOptions tune Sandbox.Start.
type StartOptions struct {
	// TTY gives the process a terminal of its own, allocated inside the
	// container from its devpts: its slave is the process's controlling
	// terminal and standard streams (Stdio is not used), and its master is
	// handed back as Process.Terminal.
	TTY bool
	// Init keeps the sandbox's init as pid 1 of the container, a reaper
	// that passes signals on to the command, its child, and exits with its
	// status (docker's --init). The command is pid 1 itself otherwise.
	Init bool
}

// Start starts spec's process in fresh namespaces and returns once its
// command runs, or with the reason the sandbox could not be set up. The
// process is killed when the OS thread that called Start exits, so a caller
// that outlives its goroutine should lock it to its thread meanwhile.
func (Sandbox) Start(spec *specs.Spec, stdio Stdio, opts StartOptions) (*Process, error) {
	if spec.Process == nil || spec.Root == nil || len(spec.Process.Args) == 0 {
		return nil, fmt.Errorf("sandbox spec needs a process and a root")
	}
	payload, err := newPayload(spec)
	if err != nil {
		return nil, err
	}
	attr, err := sysProcAttr(spec)
	if err != nil {
		return nil, err
	}
	self, err := initExecutable()
	if err != nil {
		return nil, fmt.Errorf("finding the sandbox init: %w", err)
	}
	cmd := osexec.Command(self)
	cmd.Args = []string{"kiln-init"}
	cmd.Env = []string{initEnv + "=3"}
	if opts.Init {
		cmd.Env = append(cmd.Env, reaperEnv+"=1")
	}
	cmd.SysProcAttr = attr
	var tty, ttyChild *os.File
	if opts.TTY {
		// The init makes its terminal the controlling one of its session.
		attr.Setsid = true
		if tty, ttyChild, err = newTerminalSocket(); err != nil {
			return nil, err
		}
		defer tty.Close()
		defer ttyChild.Close()
	} else {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	}
	p, err := start(cmd, spec, payload, ttyChild)
	if err != nil || tty == nil {
		return p, err
	}
	if p.Terminal, err = receiveMaster(tty); err != nil {
		return nil, errors.Join(err, kill(p))
	}
	return p, nil
}

// initPayload is what the init reads from its spec pipe: the spec without its seccomp section,
// and the filter compiled from that section.
type initPayload struct {
	Spec    *specs.Spec    `json:"spec"`
	Seccomp *seccompFilter `json:"seccomp,omitempty"`
}

func newPayload(spec *specs.Spec) ([]byte, error) {
	p := initPayload{Spec: spec}
	if spec.Linux != nil && spec.Linux.Seccomp != nil {
		f, err := newSeccompFilter(spec.Linux.Seccomp)
		if err != nil {
			return nil, err
		}
		linux := *spec.Linux
		linux.Seccomp = nil
		stripped := *spec
		stripped.Linux = &linux
		p = initPayload{Spec: &stripped, Seccomp: f}
	}
	payload, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding sandbox spec: %w", err)
	}
	return payload, nil
}

// start starts the init cmd, sends it the spec and waits until it has
// executed the command. tty, when set, is passed on as the init's end of
// the terminal socket, and closed once the init has it.
func start(cmd *osexec.Cmd, spec *specs.Spec, payload []byte, tty *os.File) (*Process, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating spec pipe: %w", err)
	}
	defer r.Close()
	sr, sw, err := os.Pipe()
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("creating status pipe: %w", err)
	}
	defer sr.Close()
	cmd.ExtraFiles = []*os.File{r, sw}
	if tty != nil {
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", terminalEnv, 3+len(cmd.ExtraFiles)))
		cmd.ExtraFiles = append(cmd.ExtraFiles, tty)
	}
	// Owner changes go to kiln in single-id mode, as in Run.
	var notify *notifier
	if spec.Linux != nil && hasNotify(spec.Linux.Seccomp) {
		if notify, err = newNotifier(); err != nil {
			w.Close()
			sw.Close()
			return nil, err
		}
		cmd.Env = append(cmd.Env, fmt.Sprintf("%s=%d", notifyEnv, 3+len(cmd.ExtraFiles)))
		cmd.ExtraFiles = append(cmd.ExtraFiles, notify.child)
	}
	err = cmd.Start()
	sw.Close()
	if tty != nil {
		tty.Close()
	}
	if notify != nil {
		notify.start()
	}
	if err != nil {
		w.Close()
		if notify != nil {
			notify.stop()
		}
		return nil, fmt.Errorf("starting sandbox for %q: %w", spec.Process.Args[0], err)
	}
	_, werr := w.Write(payload)
	w.Close()
	p := &Process{Pid: cmd.Process.Pid, cmd: cmd, notify: notify, done: make(chan struct{})}
	// EOF on the status pipe means the command was executed; anything
	// else is the init's reason for giving up.
	msg, _ := io.ReadAll(sr)
	if len(msg) > 0 || werr != nil {
		_ = p.Wait()
		if len(msg) > 0 {
			return nil, fmt.Errorf("setting up sandbox: %s", msg)
		}
		return nil, fmt.Errorf("sending sandbox spec: %w", werr)
	}
	go p.Wait()
	return p, nil
}

// Signal sends sig to the process. As pid 1 of its namespace it only gets
// the signals it handles, and SIGKILL.
func (p *Process) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil && err != os.ErrProcessDone {
		return fmt.Errorf("signalling pid %d: %w", p.Pid, err)
	}
	return nil
}

// Wait waits for the process to exit. It returns nil for status 0 and an
// *ExitError otherwise; it may be called more than once.
func (p *Process) Wait() error {
	p.once.Do(func() {
		p.err = exitError(p.cmd.Wait())
		if p.notify != nil {
			p.notify.stop()
		}
		close(p.done)
	})
	<-p.done
	return p.err
}

// Done is closed once the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }
