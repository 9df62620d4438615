package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/overlay"
	"github.com/kiln-build/kiln/storage"
)

// Mount mounts c's root writable in this process's mount namespace and
// returns it, with the function that unmounts it. With the overlay driver
// kiln mounts kernel overlay itself over the layer directories (see
// storage.Store.OverlayDirs); otherwise the store mounts it. A root that is
// already mounted here (kiln mount earlier in the same kiln unshare) is
// reused, and release then leaves it mounted.
func Mount(st *storage.Store, c *storage.Container) (root string, release func() error, err error) {
	d, err := st.OverlayDirs(c)
	if errors.Is(err, errors.ErrUnsupported) {
		root, err := st.MountContainer(c)
		if err != nil {
			return "", nil, err
		}
		return root, func() error { return st.UnmountContainer(c) }, nil
	}
	if err != nil {
		return "", nil, err
	}
	if isMountPoint(d.Merged) {
		return d.Merged, func() error { return nil }, nil
	}
	m := overlay.Mount{Lower: d.Lower, Upper: d.Upper, Work: d.Work, Target: d.Merged, UserXattr: st.Rootless}
	if len(m.Lower) == 0 {
		// Overlay needs a lower directory: an empty one for scratch.
		m.Lower = []string{filepath.Join(filepath.Dir(d.Upper), "empty")}
	}
	for _, dir := range append([]string{m.Target}, m.Lower[0]) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, fmt.Errorf("mounting container %s: %w", c.Name, err)
		}
	}
	if err := m.Mount(); err != nil {
		return "", nil, fmt.Errorf("mounting container %s: %w", c.Name, err)
	}
	return d.Merged, func() error {
		if err := overlay.Unmount(d.Merged); err != nil {
			return fmt.Errorf("unmounting container %s: %w", c.Name, err)
		}
		return nil
	}, nil
}

// Unmount undoes a Mount whose release is gone with the process that made
// it: kiln umount inside the kiln unshare that ran kiln mount.
func Unmount(st *storage.Store, c *storage.Container) error {
	d, err := st.OverlayDirs(c)
	if errors.Is(err, errors.ErrUnsupported) {
		return st.UnmountContainer(c)
	}
	if err != nil {
		return err
	}
	if !isMountPoint(d.Merged) {
		return nil
	}
	if err := overlay.Unmount(d.Merged); err != nil {
		return fmt.Errorf("unmounting container %s: %w", c.Name, err)
	}
	return nil
}

// isMountPoint reports whether something is mounted on dir: its device
// differs from its parent's.
func isMountPoint(dir string) bool {
	var st, parent unix.Stat_t
	if unix.Stat(dir, &st) != nil || unix.Stat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return st.Dev != parent.Dev
}
