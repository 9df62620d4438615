package overlay

import (
	"errors"
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// Mount describes one overlayfs mount. It is a plain value: building one
// touches nothing, and Mount and Unmount are the only calls that do.
type Mount struct {
	// Lower lists the read-only directories, topmost first, in the order
	// the kernel's lowerdir option takes them.
	Lower []string
	// Upper receives the changes and Work is overlay's scratch directory
	// on the same file system. Both empty make a read-only mount.
	Upper, Work string
	// Target is the directory the merged tree appears on.
	Target string
	// UserXattr makes overlay keep its bookkeeping in user.overlay.*
	// xattrs instead of trusted.overlay.*, as a mount inside an
	// unprivileged user namespace needs (Linux 5.11 and later).
	UserXattr bool
	// Volatile skips overlay's syncs: unmounting a writable overlay otherwise syncs the whole
	// file system under the upper directory, every dirty page of it, which made a trivial
	// build step wait several milliseconds on the disk (Linux 5.10 and later).
	Volatile bool
}

// Options returns the overlayfs mount data for m:
// "lowerdir=A:B,upperdir=U,workdir=W[,userxattr]". Backslash, colon and
// comma in paths are escaped with a backslash, as the kernel's option parser
// expects.
func (m Mount) Options() string {
	var b strings.Builder
	b.WriteString("lowerdir=")
	for i, l := range m.Lower {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(escapeOption(l))
	}
	if m.Upper != "" {
		b.WriteString(",upperdir=")
		b.WriteString(escapeOption(m.Upper))
	}
	if m.Work != "" {
		b.WriteString(",workdir=")
		b.WriteString(escapeOption(m.Work))
	}
	if m.UserXattr {
		b.WriteString(",userxattr")
	}
	if m.Volatile && m.Upper != "" {
		b.WriteString(",volatile")
	}
	return b.String()
}

var optionEscaper = strings.NewReplacer(`\`, `\\`, `:`, `\:`, `,`, `\,`)

// escapeOption escapes a path for an overlayfs mount option.
func escapeOption(p string) string { return optionEscaper.Replace(p) }

// Mount mounts m on m.Target.
func (m Mount) Mount() error {
	if err := m.validate(); err != nil {
		return fmt.Errorf("mounting overlay on %s: %w", m.Target, err)
	}
	opts := m.Options()
	// mount(2) copies at most one page of data and cuts the rest off. Many layers with long
	// paths do not fit: name them by descriptors (/proc/self/fd/N, 16 bytes or so each), which
	// the kernel resolves to the directories when it mounts.
	var fdErr error
	if len(opts) >= unix.Getpagesize() {
		short, closeAll, err := m.lowersByFD()
		defer closeAll()
		if err == nil {
			opts = short.Options()
		}
		fdErr = err
	}
	if len(opts) >= unix.Getpagesize() {
		err := fmt.Errorf("mounting overlay on %s: options are %d bytes, more than the kernel's %d: %w",
			m.Target, len(opts), unix.Getpagesize()-1, errors.ErrUnsupported)
		return errors.Join(err, fdErr)
	}
	if err := unix.Mount("overlay", m.Target, "overlay", 0, opts); err != nil {
		return fmt.Errorf("mounting overlay on %s (%s): %w", m.Target, opts, err)
	}
	return nil
}

// lowersByFD returns m with its lower directories named by open descriptors of them, and a
// function that closes those once the mount is made.
func (m Mount) lowersByFD() (Mount, func(), error) {
	var fds []int
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	short := m
	short.Lower = make([]string, len(m.Lower))
	for i, l := range m.Lower {
		fd, err := unix.Open(l, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return m, closeAll, fmt.Errorf("opening lower directory %s: %w", l, err)
		}
		fds = append(fds, fd)
		short.Lower[i] = fmt.Sprintf("/proc/self/fd/%d", fd)
	}
	return short, closeAll, nil
}

// validate rejects descriptions the kernel would refuse with only EINVAL.
func (m Mount) validate() error {
	switch {
	case m.Target == "":
		return errors.New("no target directory")
	case len(m.Lower) == 0:
		return errors.New("no lower directory")
	case (m.Upper == "") != (m.Work == ""):
		return errors.New("upper and work directories must be given together")
	}
	for _, l := range m.Lower {
		if l == "" {
			return errors.New("empty lower directory")
		}
	}
	return nil
}

// Unmount unmounts target, detaching it lazily if it is busy.
func Unmount(target string) error {
	err := unmount(target, 0)
	if errors.Is(err, unix.EBUSY) {
		err = unmount(target, unix.MNT_DETACH)
	}
	if err != nil {
		return fmt.Errorf("unmounting %s: %w", target, err)
	}
	return nil
}

// unmount calls umount2, retrying when a signal interrupts it.
func unmount(target string, flags int) error {
	for {
		err := unix.Unmount(target, flags)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
