package exec

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// In single-id mode (rootless without /etc/subuid) a step's user namespace
// maps one id, so chown to any other id fails with EINVAL. The init then
// sends chown and chmod syscalls to the builder through a seccomp user
// notification listener, and the builder records the owner the step asked
// for in the user.containers.override_stat xattr ("UID:GID:MODE"), which
// the layer diff turns into the tar header's owner and mode. The step's own
// stat keeps showing the mapped id: only the layer counts. Mode changes of
// a file that already has a record update the record and then run for
// real.

// overrideStatXattr is the xattr containers/storage and fuse-overlayfs keep
// other owners in.
const overrideStatXattr = "user.containers.override_stat"

// Kernel structures of seccomp user notification (linux/seccomp.h).
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

// seccompIoctlNotifIDValid is SECCOMP_IOCTL_NOTIF_ID_VALID, _IOW('!', 2, __u64).
const seccompIoctlNotifIDValid = 0x40082102

// notifier serves the seccomp listener of one step.
type notifier struct {
	sock     *os.File // Sandbox.Run's end of the socket the listener arrives on
	child    *os.File // the init's end, closed once the init has it
	stopR    *os.File // readable once the step is over
	stopW    *os.File
	done     chan struct{}
	started  bool
	syscalls map[[2]uint32]string // (audit arch, nr) -> name
}

// newNotifier makes the socket the init sends its listener over.
func newNotifier() (*notifier, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("creating listener socket: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, fmt.Errorf("creating notifier pipe: %w", err)
	}
	return &notifier{sock: os.NewFile(uintptr(fds[0]), "notify"), child: os.NewFile(uintptr(fds[1]), "notify-init"),
		stopR: r, stopW: w, done: make(chan struct{}), syscalls: notifyTable()}, nil
}

// start serves the listener once the init was started (or failed to
// start): it closes the init's end of the socket, so that an init that dies
// before sending ends the wait.
func (n *notifier) start() {
	n.child.Close()
	n.started = true
	go n.serve()
}

// stop ends the loop once the step has exited and waits for it; it is
// safe whether or not start ran.
func (n *notifier) stop() {
	n.child.Close()
	n.stopW.Close()
	// A receive still blocked on the socket ends with the socket.
	n.sock.Close()
	if n.started {
		<-n.done
	}
	n.stopR.Close()
}

func (n *notifier) serve() {
	defer close(n.done)
	fd, err := receiveFD(n.sock)
	if err != nil {
		return // the init gave up before sending; its status says why
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(n.stopR.Fd()), Events: unix.POLLIN}}
	for {
		fds[0].Revents, fds[1].Revents = 0, 0
		if _, err := unix.Poll(fds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			return
		}
		if fds[1].Revents != 0 || fds[0].Revents&(unix.POLLHUP|unix.POLLERR|unix.POLLNVAL) != 0 {
			return
		}
		if fds[0].Revents&unix.POLLIN != 0 {
			n.handleOne(fd)
		}
	}
}

// receiveFD reads one fd passed with SCM_RIGHTS.
func receiveFD(sock *os.File) (int, error) {
	conn, err := sock.SyscallConn()
	if err != nil {
		return -1, fmt.Errorf("reading listener socket: %w", err)
	}
	buf, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4))
	var oobn int
	var rerr error
	err = conn.Read(func(s uintptr) bool {
		_, oobn, _, _, rerr = unix.Recvmsg(int(s), buf, oob, unix.MSG_CMSG_CLOEXEC)
		return !errors.Is(rerr, unix.EAGAIN)
	})
	if err == nil {
		err = rerr
	}
	if err != nil {
		return -1, fmt.Errorf("receiving seccomp listener: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) == 0 {
		return -1, errors.New("receiving seccomp listener: no fd")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) == 0 {
		return -1, errors.New("receiving seccomp listener: no fd")
	}
	return fds[0], nil
}

// handleOne receives one notification and answers it.
func (n *notifier) handleOne(fd int) {
	var req seccompNotif
	if err := ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
		return // the caller died, or was interrupted: nothing to answer
	}
	resp := seccompNotifResp{ID: req.ID}
	name := n.syscalls[[2]uint32{req.Data.Arch, uint32(req.Data.Nr)}]
	cont, err := n.handle(fd, &req, name)
	var errno unix.Errno
	switch {
	case err == nil && cont:
		resp.Flags = unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE
	case err == nil:
	case errors.As(err, &errno):
		resp.Error = -int32(errno)
	default:
		resp.Error = -int32(unix.EIO)
	}
	// An answer to a caller that died meanwhile fails with ENOENT: fine.
	_ = ioctlPtr(fd, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp))
}

func ioctlPtr(fd int, req uint, arg unsafe.Pointer) error {
	for {
		_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), uintptr(req), uintptr(arg))
		if errno == unix.EINTR {
			continue
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
}

// notifyTable maps the notified syscalls of every architecture the filter
// accepts to their names.
func notifyTable() map[[2]uint32]string {
	m := map[[2]uint32]string{}
	for _, sa := range seccompArches {
		for _, name := range notifySyscalls {
			if nr, ok := sa.info.SyscallNames[name]; ok {
				m[[2]uint32{sa.audit, uint32(nr) | sa.bit}] = name
			}
		}
	}
	return m
}

// call is a decoded chown or chmod: which file, and what to set.
type call struct {
	dirfd     int    // AT_FDCWD, or an fd of the caller
	addr      uint64 // where the path is in the caller's memory
	path      string // read from addr
	fdOnly    bool   // fchown, fchmod
	emptyPath bool   // AT_EMPTY_PATH: "" means dirfd itself
	nofollow  bool
	chown     bool
	uid, gid  uint32 // ^0 means unchanged
	mode      uint32
}

// decode reads the arguments of a notified syscall.
func decode(name string, args [6]uint64) (call, error) {
	c := call{dirfd: unix.AT_FDCWD}
	flags := uint64(0)
	switch name {
	case "chown", "chown32", "lchown", "lchown32":
		c.chown, c.addr, c.uid, c.gid = true, args[0], uint32(args[1]), uint32(args[2])
		c.nofollow = strings.HasPrefix(name, "l")
	case "fchown", "fchown32":
		c.chown, c.dirfd, c.fdOnly, c.uid, c.gid = true, int(int32(args[0])), true, uint32(args[1]), uint32(args[2])
	case "fchownat":
		c.chown, c.dirfd, c.addr, c.uid, c.gid, flags = true, int(int32(args[0])), args[1], uint32(args[2]), uint32(args[3]), args[4]
	case "chmod":
		c.addr, c.mode = args[0], uint32(args[1])
	case "fchmod":
		c.dirfd, c.fdOnly, c.mode = int(int32(args[0])), true, uint32(args[1])
	case "fchmodat", "fchmodat2":
		c.dirfd, c.addr, c.mode = int(int32(args[0])), args[1], uint32(args[2])
		if name == "fchmodat2" {
			flags = args[3]
		}
	default:
		return c, unix.ENOSYS
	}
	c.nofollow = c.nofollow || flags&unix.AT_SYMLINK_NOFOLLOW != 0
	c.emptyPath = flags&unix.AT_EMPTY_PATH != 0
	return c, nil
}

// hasCapChown reports whether pid has CAP_CHOWN in its effective set.
func hasCapChown(pid uint32) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			eff, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && eff&(1<<unix.CAP_CHOWN) != 0
		}
	}
	return false
}

// handle carries out one notified call; cont asks the kernel to run the
// syscall itself after all.
func (n *notifier) handle(listener int, req *seccompNotif, name string) (cont bool, err error) {
	c, err := decode(name, req.Data.Args)
	if err != nil {
		return false, err
	}
	if c.chown && !hasCapChown(req.Pid) {
		// Without CAP_CHOWN the kernel's own rules apply.
		return true, nil
	}
	if !c.fdOnly {
		if c.path, err = readString(req.Pid, c.addr); err != nil {
			return false, err
		}
		c.fdOnly = c.path == "" && c.emptyPath
	}
	// The pid may have been reused while we read its memory.
	if err := ioctlPtr(listener, seccompIoctlNotifIDValid, unsafe.Pointer(&req.ID)); err != nil {
		return false, unix.ENOENT
	}
	fd, err := openTarget(req.Pid, c)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	return record(fd, c)
}

// readString reads a NUL-terminated path from the caller's memory.
func readString(pid uint32, addr uint64) (string, error) {
	if addr == 0 {
		return "", unix.EFAULT
	}
	mem, err := unix.Open(fmt.Sprintf("/proc/%d/mem", pid), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", unix.ESRCH
	}
	defer unix.Close(mem)
	var path []byte
	chunk := make([]byte, 4096)
	for len(path) < unix.PathMax {
		// Read to the end of the page at most: the next may be unmapped.
		want := 4096 - int(addr%4096)
		got, err := unix.Pread(mem, chunk[:want], int64(addr))
		if err != nil || got <= 0 {
			return "", unix.EFAULT
		}
		for i, b := range chunk[:got] {
			if b == 0 {
				return string(append(path, chunk[:i]...)), nil
			}
		}
		path = append(path, chunk[:got]...)
		addr += uint64(got)
	}
	return "", unix.ENAMETOOLONG
}

// openTarget opens the file a call names as an O_PATH fd, resolving the
// path inside the caller's root: relative to its working directory or dirfd,
// with symlinks (absolute ones too) and ".." kept inside that root.
func openTarget(pid uint32, c call) (int, error) {
	if c.fdOnly {
		fd, err := unix.Open(fmt.Sprintf("/proc/%d/fd/%d", pid, c.dirfd), unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, unix.EBADF
		}
		return fd, nil
	}
	p := c.path
	if !strings.HasPrefix(p, "/") {
		base := fmt.Sprintf("/proc/%d/cwd", pid)
		if c.dirfd != unix.AT_FDCWD {
			base = fmt.Sprintf("/proc/%d/fd/%d", pid, c.dirfd)
		}
		// The link reads as the path inside the caller's root.
		dir, err := os.Readlink(base)
		if err != nil {
			return -1, unix.EBADF
		}
		if !strings.HasPrefix(dir, "/") {
			return -1, unix.ENOTDIR
		}
		p = dir + "/" + p
	}
	root, err := unix.Open(fmt.Sprintf("/proc/%d/root", pid), unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, unix.ESRCH
	}
	defer unix.Close(root)
	flags := uint64(unix.O_PATH | unix.O_CLOEXEC)
	if c.nofollow {
		flags |= unix.O_NOFOLLOW
	}
	fd, err := unix.Openat2(root, p, &unix.OpenHow{Flags: flags, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if err != nil {
		return -1, err
	}
	return fd, nil
}

// record writes the owner or mode a call asks for into the file's
// override_stat xattr. user.* xattrs exist only on regular files and
// directories: a chown of anything else succeeds without a record, a chmod
// of it runs for real.
func record(fd int, c call) (cont bool, err error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return false, err
	}
	typ := st.Mode & unix.S_IFMT
	if typ != unix.S_IFREG && typ != unix.S_IFDIR {
		return !c.chown, nil
	}
	path := fmt.Sprintf("/proc/self/fd/%d", fd)
	uid, gid, mode := st.Uid, st.Gid, st.Mode&0o7777
	buf := make([]byte, 128)
	sz, err := unix.Getxattr(path, overrideStatXattr, buf)
	switch {
	case err == nil:
		if u, g, m, ok := parseOverride(string(buf[:sz])); ok {
			uid, gid, mode = u, g, m
		}
	case !c.chown:
		// No record: the file's own mode is the truth.
		return true, nil
	}
	if c.chown {
		if c.uid != ^uint32(0) {
			uid = c.uid
		}
		if c.gid != ^uint32(0) {
			gid = c.gid
		}
		// chown clears setuid, and setgid of group-executable files.
		if typ != unix.S_IFDIR {
			mode &^= unix.S_ISUID
			if mode&unix.S_IXGRP != 0 {
				mode &^= unix.S_ISGID
			}
		}
	} else {
		mode = c.mode & 0o7777
	}
	value := fmt.Sprintf("%d:%d:%04o", uid, gid, mode)
	if err := unix.Setxattr(path, overrideStatXattr, []byte(value), 0); err != nil {
		return false, err
	}
	// A chmod also changes the file's own mode.
	return !c.chown, nil
}

// parseOverride parses "UID:GID:MODE[:TYPE]" (MODE octal).
func parseOverride(v string) (uid, gid, mode uint32, ok bool) {
	f := strings.Split(v, ":")
	if len(f) < 3 {
		return 0, 0, 0, false
	}
	u, err1 := strconv.ParseUint(f[0], 10, 32)
	g, err2 := strconv.ParseUint(f[1], 10, 32)
	m, err3 := strconv.ParseUint(f[2], 8, 32)
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, 0, 0, false
	}
	return uint32(u), uint32(g), uint32(m) & 0o7777, true
}
