package exec

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// PTY is a pseudo-terminal: a container's process has its slave as its
// standard streams and controlling terminal (StartOptions.TTY), and kiln
// copies between Master and the user's terminal or a log. Slave is nil when
// the pty was allocated inside the container.
type PTY struct {
	Master, Slave *os.File
}

// OpenPTY allocates a pseudo-terminal from the host's /dev/ptmx.
func OpenPTY() (*PTY, error) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening /dev/ptmx: %w", err)
	}
	slave, err := openPeer(master)
	if err != nil {
		master.Close()
		return nil, err
	}
	return &PTY{Master: master, Slave: slave}, nil
}

// openPeer unlocks master and opens its slave: through TIOCGPTPEER, which
// needs no path, else through /dev/pts/N.
func openPeer(master *os.File) (*os.File, error) {
	rc, err := master.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("reaching the pty master: %w", err)
	}
	var peer, num int
	var ioErr error
	err = rc.Control(func(fd uintptr) {
		if ioErr = unix.IoctlSetPointerInt(int(fd), unix.TIOCSPTLCK, 0); ioErr != nil {
			ioErr = fmt.Errorf("unlocking the pty: %w", ioErr)
			return
		}
		r, _, errno := unix.Syscall(unix.SYS_IOCTL, fd, unix.TIOCGPTPEER, uintptr(unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC))
		if errno == 0 {
			peer = int(r)
			return
		}
		peer = -1
		if num, ioErr = unix.IoctlGetInt(int(fd), unix.TIOCGPTN); ioErr != nil {
			ioErr = fmt.Errorf("reading the pty number: %w", ioErr)
		}
	})
	if err = errors.Join(err, ioErr); err != nil {
		return nil, err
	}
	if peer >= 0 {
		return os.NewFile(uintptr(peer), "pty-slave"), nil
	}
	name := "/dev/pts/" + strconv.Itoa(num)
	slave, err := os.OpenFile(name, os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", name, err)
	}
	return slave, nil
}

// Close closes both ends.
func (p *PTY) Close() error {
	if p.Slave == nil {
		return p.Master.Close()
	}
	return errors.Join(p.Master.Close(), p.Slave.Close())
}

// Attach connects the user's terminal to the pty: in is put in raw mode
// (when it is a terminal) and its size follows the user's through SIGWINCH;
// keystrokes go to the container when in is not nil and its output to out.
// The returned function restores the terminal and waits for the output to
// be copied; call it once the container has exited.
func (p *PTY) Attach(in *os.File, out io.Writer) (detach func(), err error) {
	var restore func()
	if in != nil && term.IsTerminal(int(in.Fd())) {
		state, err := term.MakeRaw(int(in.Fd()))
		if err != nil {
			return nil, fmt.Errorf("putting the terminal in raw mode: %w", err)
		}
		restore = func() { _ = term.Restore(int(in.Fd()), state) }
		p.resizeFrom(in)
	}
	winch := make(chan os.Signal, 1)
	if in != nil {
		signal.Notify(winch, syscall.SIGWINCH)
		go func() {
			for range winch {
				p.resizeFrom(in)
			}
		}()
		go func() { _, _ = io.Copy(p.Master, in) }()
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		// EIO once the last slave holder is gone ends the copy.
		_, _ = io.Copy(out, p.Master)
	}()
	return func() {
		signal.Stop(winch)
		close(winch)
		// The container is gone; our slave copy, if any, is the last one.
		if p.Slave != nil {
			p.Slave.Close()
		}
		wg.Wait()
		if restore != nil {
			restore()
		}
	}, nil
}

// resizeFrom gives the pty the window size of the terminal in.
func (p *PTY) resizeFrom(in *os.File) {
	ws, err := unix.IoctlGetWinsize(int(in.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	rc, err := p.Master.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { _ = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, ws) })
}
