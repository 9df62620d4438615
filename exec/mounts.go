package exec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// mountInRoot performs one spec mount with its destination resolved inside
// root, so a symlink planted in the image cannot redirect it to the host.
func mountInRoot(root string, m specs.Mount) error {
	dest, err := securejoin.SecureJoin(root, m.Destination)
	if err != nil {
		return fmt.Errorf("resolving mount point %s: %w", m.Destination, err)
	}
	flags, data := mountFlags(m.Options)
	src := m.Source
	typ := m.Type
	if typ == "bind" || flags&unix.MS_BIND != 0 {
		typ = ""
		flags |= unix.MS_BIND
		if err := ensureTarget(dest, src); err != nil {
			return err
		}
	} else if err := os.MkdirAll(dest, 0o755); err != nil {
		return fmt.Errorf("creating mount point %s: %w", m.Destination, err)
	}
	if err := unix.Mount(src, dest, typ, flags&^unix.MS_RDONLY, data); err != nil {
		return fmt.Errorf("mounting %s on %s: %w", describe(m), m.Destination, err)
	}
	if flags&unix.MS_BIND != 0 && flags&unix.MS_RDONLY != 0 {
		rflags := unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | (flags & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC))
		if err := unix.Mount("", dest, "", uintptr(rflags), ""); err != nil {
			return fmt.Errorf("making %s read-only: %w", m.Destination, err)
		}
	}
	if m.Destination == "/dev" {
		return populateDev(dest)
	}
	return nil
}

func describe(m specs.Mount) string {
	if m.Type == "bind" || m.Type == "" {
		return m.Source
	}
	return m.Type
}

// ensureTarget creates a bind mount's target with the same kind as src.
func ensureTarget(dest, src string) error {
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("bind mount source %s: %w", src, err)
	}
	if _, err := os.Lstat(dest); err == nil {
		return nil
	}
	if st.IsDir() {
		if err := os.MkdirAll(dest, 0o755); err != nil {
			return fmt.Errorf("creating mount point %s: %w", dest, err)
		}
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return fmt.Errorf("creating mount point %s: %w", dest, err)
	}
	f, err := os.OpenFile(dest, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("creating mount point %s: %w", dest, err)
	}
	return f.Close()
}

var flagNames = map[string]uintptr{
	"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "noexec": unix.MS_NOEXEC,
	"bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC, "strictatime": unix.MS_STRICTATIME,
	"relatime": unix.MS_RELATIME, "noatime": unix.MS_NOATIME,
}

// mountFlags splits mount options into flags and the data string.
func mountFlags(opts []string) (uintptr, string) {
	var flags uintptr
	var data []string
	for _, o := range opts {
		if f, ok := flagNames[o]; ok {
			flags |= f
		} else if o != "rw" && o != "private" && o != "rprivate" {
			data = append(data, o)
		}
	}
	return flags, strings.Join(data, ",")
}

// populateDev fills a fresh /dev tmpfs with the devices a build step may
// use, bound from the host because a user namespace cannot mknod.
func populateDev(dev string) error {
	for _, name := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		target := filepath.Join(dev, name)
		if err := ensureTarget(target, "/dev/"+name); err != nil {
			return err
		}
		if err := unix.Mount("/dev/"+name, target, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("binding /dev/%s: %w", name, err)
		}
	}
	for _, d := range []string{"pts", "shm", "mqueue"} {
		if err := os.MkdirAll(filepath.Join(dev, d), 0o755); err != nil {
			return fmt.Errorf("creating /dev/%s: %w", d, err)
		}
	}
	links := map[string]string{"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
		"stderr": "/proc/self/fd/2", "ptmx": "pts/ptmx"}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dev, name)); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("linking /dev/%s: %w", name, err)
		}
	}
	return nil
}

// loopbackUp brings up lo in a fresh network namespace, so that servers a
// step starts on 127.0.0.1 are reachable.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening socket for lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("naming lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("reading lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}
