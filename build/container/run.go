package container

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/storage"
)

// DefaultStopGrace is how long a container gets between its stop signal
// and SIGKILL, as in docker.
const DefaultStopGrace = 10 * time.Second

// IO connects a run to its caller.
type IO struct {
	// Stdio are the process's streams when it has no terminal.
	Stdio exec.Stdio
	// TermIn and TermOut are the user's side of a container's terminal;
	// with TermOut nil the terminal's output goes to Stdio.Stdout.
	TermIn  *os.File
	TermOut io.Writer
	// Signals are what kiln itself received. In the foreground they are
	// passed on to the process, except a SIGTERM that comes with a stop
	// request (kiln stop); a detached supervisor stops the container on
	// SIGTERM or SIGINT and ignores the rest.
	Signals  <-chan os.Signal
	Detached bool
	// Dir is the container's run directory, where its state is kept; ""
	// for a working container, which has none.
	Dir string
}

// Run runs o's process in c until it exits and returns its exit status.
// The error is kiln's own (mounting, setting up the sandbox, publishing a
// port), never the process's status.
func Run(st *storage.Store, c *storage.Container, o *RunOptions, rio IO) (code int, err error) {
	root, release, err := Mount(st, c)
	if err != nil {
		return 0, err
	}
	defer func() { err = errors.Join(err, release()) }()
	etcDir := rio.Dir
	if etcDir == "" {
		if etcDir, err = os.MkdirTemp(st.RunRoot(), "kiln-etc-"); err != nil {
			return 0, fmt.Errorf("creating /etc files of container %s: %w", c.Name, err)
		}
		defer os.RemoveAll(etcDir)
	}
	spec, cleanup, err := Spec(root, etcDir, &c.Config.Config, o)
	if err != nil {
		return 0, fmt.Errorf("container %s: %w", c.Name, err)
	}
	defer cleanup()
	lns, err := listen(o.Ports)
	if err != nil {
		return 0, err
	}
	sup := exec.SuperviseOptions{Spec: spec, Stdio: rio.Stdio, Ports: o.Ports, Listeners: lns,
		StopSignal: stopSignal(c.Config.Config.StopSignal), Init: o.Init}
	if o.TTY {
		terminal(&sup, rio)
	}
	var state *State
	if rio.Dir != "" {
		if state, err = ReadState(rio.Dir); err != nil {
			closeListeners(lns)
			return 0, err
		}
	}
	sigs, stops := make(chan syscall.Signal, 8), make(chan time.Duration, 4)
	go translate(rio, sigs, stops)
	sup.Signals, sup.Stops = sigs, stops
	sup.Started = func(pid int) error { return started(rio.Dir, state, pid, o) }
	return finish(rio.Dir, state, exec.Sandbox{}.Supervise(sup))
}

// finish records how the process ended and turns its status into a code.
func finish(dir string, state *State, err error) (int, error) {
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, err = ee.Code, nil
	}
	if state != nil && (err == nil || state.Status == StatusRunning) {
		state.Status, state.FinishedAt, state.ExitCode = StatusExited, time.Now().UTC(), code
		if err != nil {
			state.ExitCode = -1
		}
		err = errors.Join(err, state.Write(dir))
	}
	return code, err
}

// started records the running process and tells a waiting kiln run -d.
func started(dir string, state *State, pid int, o *RunOptions) error {
	if state != nil {
		state.Status, state.Pid, state.StartedAt = StatusRunning, pid, time.Now().UTC()
		state.Detached = o.Detach
		if err := state.markSupervisor(); err != nil {
			return err
		}
		if err := state.Write(dir); err != nil {
			return err
		}
	}
	exec.Ready(nil)
	return nil
}

// terminal gives the container a terminal of its own, attached to the
// user's terminal, or to the log when detached.
func terminal(sup *exec.SuperviseOptions, rio IO) {
	sup.TTY, sup.TermIn, sup.TermOut = true, rio.TermIn, rio.TermOut
	if sup.TermOut == nil && rio.Stdio.Stdout != nil {
		sup.TermOut = rio.Stdio.Stdout
	}
}

// translate turns the signals kiln receives into what the container gets.
func translate(rio IO, sigs chan<- syscall.Signal, stops chan<- time.Duration) {
	for s := range rio.Signals {
		sig, ok := s.(syscall.Signal)
		if !ok {
			continue
		}
		if sig == syscall.SIGTERM || (rio.Detached && sig == syscall.SIGINT) {
			grace, requested := stopGrace(rio.Dir, DefaultStopGrace)
			if requested || rio.Detached {
				select {
				case stops <- grace:
				default:
				}
				continue
			}
		}
		if rio.Detached {
			continue
		}
		select {
		case sigs <- sig:
		default:
		}
	}
}

// listen opens the host side of every published port.
func listen(ports []exec.Port) ([]net.Listener, error) {
	var lns []net.Listener
	for _, p := range ports {
		ln, err := p.Listen()
		if err != nil {
			closeListeners(lns)
			return nil, err
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

func closeListeners(lns []net.Listener) {
	for _, ln := range lns {
		ln.Close()
	}
}

// stopSignal parses an image's StopSignal: a name with or without SIG, or
// a number; SIGTERM when empty or unknown.
func stopSignal(s string) syscall.Signal {
	if s == "" {
		return syscall.SIGTERM
	}
	if n, err := strconv.Atoi(s); err == nil && n > 0 {
		return syscall.Signal(n)
	}
	name := strings.ToUpper(s)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	if sig := unix.SignalNum(name); sig != 0 {
		return sig
	}
	return syscall.SIGTERM
}
