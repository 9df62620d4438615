package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	osexec "os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// SuperviseOptions describe one container process for Supervise.
type SuperviseOptions struct {
	Spec  *specs.Spec
	Stdio Stdio
	// TTY gives the process a terminal allocated inside the container
	// (StartOptions.TTY), and Stdio is not used: Supervise copies between
	// its master and TermIn (when set, put in raw mode and followed in size
	// if it is a terminal) and TermOut (discarded when nil).
	TTY     bool
	TermIn  *os.File
	TermOut io.Writer
	// Init runs the process under a reaper (StartOptions.Init).
	Init bool
	// Ports are published through Listeners (one each, already open);
	// Supervise closes them.
	Ports     []Port
	Listeners []net.Listener
	// StopSignal ends the process on a stop request; SIGTERM when 0.
	StopSignal syscall.Signal
	// Signals are passed on to the process as they arrive.
	Signals <-chan syscall.Signal
	// Stops asks the process to end: StopSignal at once, then SIGKILL
	// after the given grace period (at once when it is 0 or less).
	Stops <-chan time.Duration
	// Started, when set, is called with the process's pid once its
	// command runs; an error kills it.
	Started func(pid int) error
}

// Supervise runs a container's process from start to end: it starts it,
// publishes its ports into its network namespace, passes on signals and
// stop requests, and returns once the process has exited (nil for status
// 0, else an *ExitError). Both a foreground kiln run and a detached
// container's supervisor process are built on it.
func (s Sandbox) Supervise(opts SuperviseOptions) error {
	// The process dies with the thread that started it (Pdeathsig), so
	// that thread stays until the process is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if opts.TTY && opts.TermIn != nil {
		// The command finds its terminal of the user's size from the start.
		if ws, err := unix.IoctlGetWinsize(int(opts.TermIn.Fd()), unix.TIOCGWINSZ); err == nil {
			opts.Spec.Process.ConsoleSize = &specs.Box{Height: uint(ws.Row), Width: uint(ws.Col)}
		}
	}
	p, err := s.Start(opts.Spec, opts.Stdio, StartOptions{TTY: opts.TTY, Init: opts.Init})
	if err != nil {
		closeAll(opts.Listeners)
		return err
	}
	if p.Terminal != nil {
		detach, err := attachTerminal(p.Terminal, opts.TermIn, opts.TermOut)
		if err != nil {
			closeAll(opts.Listeners)
			return errors.Join(err, kill(p))
		}
		// Deferred first, so run last: the output is copied to the end.
		defer detach()
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if len(opts.Listeners) > 0 {
		stop, err := publish(ctx, p.Pid, opts.Ports, opts.Listeners)
		if err != nil {
			return errors.Join(err, kill(p))
		}
		defer stop()
	}
	if opts.Started != nil {
		if err := opts.Started(p.Pid); err != nil {
			return errors.Join(err, kill(p))
		}
	}
	stopSig := opts.StopSignal
	if stopSig == 0 {
		stopSig = syscall.SIGTERM
	}
	var killAfter <-chan time.Time
	for {
		select {
		case <-p.Done():
			return p.Wait()
		case sig := <-opts.Signals:
			_ = p.Signal(sig)
		case grace := <-opts.Stops:
			if grace <= 0 {
				_ = p.Signal(syscall.SIGKILL)
				continue
			}
			_ = p.Signal(stopSig)
			if killAfter == nil {
				killAfter = time.After(grace)
			}
		case <-killAfter:
			_ = p.Signal(syscall.SIGKILL)
		}
	}
}

// attachTerminal connects the master of a container's terminal to the
// user's. The returned function waits for the output and closes master.
func attachTerminal(master, in *os.File, out io.Writer) (func(), error) {
	if out == nil {
		out = io.Discard
	}
	pty := &PTY{Master: master}
	detach, err := pty.Attach(in, out)
	if err != nil {
		master.Close()
		return nil, err
	}
	return func() {
		detach()
		_ = pty.Close()
	}, nil
}

// kill ends a process Supervise cannot go on with.
func kill(p *Process) error {
	_ = p.Signal(syscall.SIGKILL)
	var ee *ExitError
	if err := p.Wait(); err != nil && !errors.As(err, &ee) {
		return err
	}
	return nil
}

// publish serves each listener into pid's network namespace until the
// returned function is called.
func publish(ctx context.Context, pid int, ports []Port, lns []net.Listener) (func(), error) {
	if len(ports) != len(lns) {
		closeAll(lns)
		return nil, fmt.Errorf("publishing ports: %d ports but %d listeners", len(ports), len(lns))
	}
	fwd, err := NewForwarder(pid)
	if err != nil {
		closeAll(lns)
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for i, ln := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fwd.Serve(ctx, ln, ports[i].ContainerPort)
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		_ = fwd.Close()
	}, nil
}

func closeAll(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// readyEnv names the fd on which a detached process reports its start.
const readyEnv = "_KILN_READY_FD"

// readyOK is what a detached process writes once it is up.
const readyOK = "ok"

// DetachOptions describe a process for Detach.
type DetachOptions struct {
	// Args are the arguments of the re-executed kiln (without argv[0]).
	Args []string
	// Log receives the process's own standard output and error.
	Log *os.File
}

// Detach starts kiln again with opts.Args as a supervisor that outlives the
// caller: in a new session, with no terminal, its standard streams on
// opts.Log, in / as working directory. It returns the supervisor's pid once
// the supervisor called Ready, with the error it reported if any. The
// supervisor stays in the caller's user and mount namespaces, which it keeps
// alive after the caller exits.
func Detach(opts DetachOptions) (int, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("finding kiln binary: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("creating the ready pipe: %w", err)
	}
	defer r.Close()
	cmd := osexec.Command(self, opts.Args...)
	cmd.Args[0] = "kiln"
	cmd.Env = append(os.Environ(), readyEnv+"=3")
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = opts.Log, opts.Log
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return 0, fmt.Errorf("starting the supervisor: %w", err)
	}
	pid := cmd.Process.Pid
	// Nobody waits for the supervisor but init once we are gone.
	_ = cmd.Process.Release()
	msg, _ := io.ReadAll(r)
	switch s := strings.TrimSpace(string(msg)); s {
	case readyOK:
		return pid, nil
	case "":
		return pid, fmt.Errorf("the supervisor (pid %d) exited before it was ready", pid)
	default:
		return pid, errors.New(s)
	}
}

var ready struct {
	once sync.Once
	f    *os.File
}

// readyFile is the ready pipe inherited from Detach, nil if none. It is
// made close-on-exec at once, so that no process this one starts holds it.
func readyFile() *os.File {
	ready.once.Do(func() {
		fd, err := strconv.Atoi(os.Getenv(readyEnv))
		os.Unsetenv(readyEnv)
		if err != nil || fd < 3 {
			return
		}
		unix.CloseOnExec(fd)
		ready.f = os.NewFile(uintptr(fd), "ready")
	})
	return ready.f
}

// Ready tells the kiln that started this process with Detach how its start
// went: nil for up and running, or the error that stopped it. Only the
// first call counts; it does nothing in a process not started by Detach.
func Ready(err error) {
	f := readyFile()
	if f == nil {
		return
	}
	ready.f = nil
	defer f.Close()
	if err != nil {
		fmt.Fprint(f, err.Error())
		return
	}
	fmt.Fprint(f, readyOK)
}

// Detached reports whether this process was started by Detach and has not
// called Ready yet.
func Detached() bool { return readyFile() != nil }
