package exec

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// terminalEnv names the fd of the socket over which the init of a process
// started with StartOptions.TTY sends the master of the terminal it
// allocated inside the container.
const terminalEnv = "_KILN_SANDBOX_TTY"

// newTerminalSocket makes the socket the init sends its terminal's master
// over: Start keeps parent, the init inherits child.
func newTerminalSocket() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("creating terminal socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "tty"), os.NewFile(uintptr(fds[1]), "tty-init"), nil
}

// receiveMaster reads the terminal master the init sent over sock. The
// init's end must be closed in this process, so that an init that died
// before sending ends the wait.
func receiveMaster(sock *os.File) (*os.File, error) {
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var err error
	for {
		n, oobn, _, _, err = unix.Recvmsg(int(sock.Fd()), buf, oob, unix.MSG_CMSG_CLOEXEC)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("receiving the container's terminal: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 || n == 0 {
		return nil, errors.New("receiving the container's terminal: no fd")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, errors.New("receiving the container's terminal: no fd")
	}
	return os.NewFile(uintptr(fds[0]), "pty-master"), nil
}

// setupTerminal runs in the init, inside the container's root, when Start
// asked for a terminal: it allocates a pty from the container's own devpts
// (/dev/ptmx -> pts/ptmx), makes its slave the controlling terminal and the
// standard streams of the init, and so of the command, owned by the
// command's user and of p.ConsoleSize if set, and sends the master to
// Start. It reports whether Start asked for a terminal.
func setupTerminal(p *specs.Process) (bool, error) {
	v := os.Getenv(terminalEnv)
	os.Unsetenv(terminalEnv)
	if v == "" {
		return false, nil
	}
	sock, err := strconv.Atoi(v)
	if err != nil || sock < 3 {
		return false, fmt.Errorf("bad terminal socket fd %q", v)
	}
	defer unix.Close(sock)
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("opening the container's /dev/ptmx: %w", err)
	}
	defer master.Close()
	slave, err := openPeer(master)
	if err != nil {
		return false, err
	}
	defer slave.Close()
	fd := int(slave.Fd())
	u := p.User
	if b := p.ConsoleSize; b != nil {
		ws := &unix.Winsize{Row: uint16(b.Height), Col: uint16(b.Width)}
		if err := unix.IoctlSetWinsize(fd, unix.TIOCSWINSZ, ws); err != nil {
			return false, fmt.Errorf("sizing the terminal: %w", err)
		}
	}
	// The user may reopen its terminal by name; an unmapped id just leaves
	// it root's.
	if err := unix.Fchown(fd, int(u.UID), int(u.GID)); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPERM) {
		return false, fmt.Errorf("handing the terminal to user %d: %w", u.UID, err)
	}
	// Start made the init a session leader; the slave becomes its
	// controlling terminal.
	if err := unix.IoctlSetInt(fd, unix.TIOCSCTTY, 0); err != nil {
		return false, fmt.Errorf("making the pty the controlling terminal: %w", err)
	}
	for std := 0; std <= 2; std++ {
		if err := unix.Dup3(fd, std, 0); err != nil {
			return false, fmt.Errorf("making the pty fd %d: %w", std, err)
		}
	}
	if err := unix.Sendmsg(sock, []byte{0}, unix.UnixRights(int(master.Fd())), nil, 0); err != nil {
		return false, fmt.Errorf("sending the terminal: %w", err)
	}
	return true, nil
}

// rearmDeathSignal sets the init's parent-death signal again once it has
// switched to the command's user, which cleared it, so that the container
// dies with the kiln that started it whatever its user. The status pipe
// (fd status) is read by that kiln until the command runs: a pipe without
// a reader means the parent died before the signal was armed.
func rearmDeathSignal(status int) error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("setting the parent-death signal: %w", err)
	}
	fds := []unix.PollFd{{Fd: int32(status), Events: unix.POLLOUT}}
	if _, err := unix.Poll(fds, 0); err == nil && fds[0].Revents&unix.POLLERR != 0 {
		return errors.New("kiln exited before the command started")
	}
	return nil
}
