package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kiln-build/kiln/overlay"
	"golang.org/x/sys/unix"
)

// work is a writable root a step changes. upper is the overlay upper
// directory holding only the changes ("" when only the store can tell what
// changed, through diff). unmount must come before the upper directory is
// read for good; remove drops whatever is left and may follow a failed
// unmount.
type work struct {
	root, upper string
	// adoptable says upper is on the store's layer mount, so that it can move into the store as
	// a layer; otherwise its tar is unpacked there.
	adoptable bool
	// direct says root is kiln's own kernel overlay mount of upper, whose new directories' contents
	// a COPY may write straight into upper.
	direct bool
	// lowers are the layer directories under kiln's own mount in a
	// single-id user namespace, where what a non-root step creates needs its
	// owner recorded (nil otherwise).
	lowers  []string
	diff    func() (io.ReadCloser, error)
	unmount func() error
	remove  func() error
}

// release unmounts and removes w.
func (w *work) release() error {
	return errors.Join(w.unmount(), w.remove())
}

// mountWork gives a step a writable root on top of parent. Where the store keeps layers as
// kernel overlay directories, or cannot mount layers itself (single-id user namespace without
// usable fuse), kiln mounts kernel overlay over the stored layers' directories; otherwise, or
// when the layers are too many for one mount's options, the store creates and mounts a work
// layer.
func (b *Builder) mountWork(parent string) (*work, error) {
	var ownErr error
	if !b.store.CanMountWork() || b.store.OwnWorkPreferred() {
		w, err := b.ownWork(parent)
		if err == nil || !b.store.CanMountWork() {
			return w, err
		}
		// Too many layers for one mount's options, or a kernel that refuses what the store's
		// own mounts leave out: the store's work layer is slower but mounts.
		ownErr = err
	}
	w, err := b.store.NewWorkLayer(parent)
	if err != nil {
		return nil, errors.Join(ownErr, err)
	}
	return &work{root: w.Merged, upper: w.Upper, adoptable: w.Upper != "",
		diff:    func() (io.ReadCloser, error) { return b.store.DiffWork(w) },
		unmount: func() error { return b.store.UnmountWorkLayer(w) },
		remove:  func() error { return b.store.ReleaseWorkLayer(w) }}, nil
}

// ownWork mounts kernel overlay on a new work directory over parent's layer directories.
func (b *Builder) ownWork(parent string) (*work, error) {
	lowers, err := b.store.LayerDirs(parent)
	if err != nil {
		return nil, err
	}
	dir, err := b.takeWorkDir()
	if err != nil {
		return nil, err
	}
	m := overlay.Mount{Lower: lowers, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
		Target: filepath.Join(dir, "merged"), UserXattr: b.store.Rootless, Volatile: true}
	if len(lowers) == 0 {
		m.Lower = []string{filepath.Join(dir, "empty")}
	}
	for _, d := range append([]string{m.Upper, m.Work, m.Target}, m.Lower...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("creating work directory: %w", err)
		}
	}
	err = m.Mount()
	if errors.Is(err, unix.EINVAL) {
		// A kernel before 5.10 does not know volatile: without it, unmounting syncs.
		m.Volatile = false
		err = m.Mount()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	mounted := true
	unmount := func() error {
		if !mounted {
			return nil
		}
		mounted = false
		return overlay.Unmount(m.Target)
	}
	remove := func() error {
		if err := unmount(); err != nil {
			return errors.Join(err, os.RemoveAll(dir))
		}
		if b.recycleWorkDir(dir, m) {
			return nil
		}
		return os.RemoveAll(dir)
	}
	w := &work{root: m.Target, upper: m.Upper, adoptable: b.store.OwnWorkPreferred(), direct: true, unmount: unmount, remove: remove}
	if !b.store.CanMountWork() {
		w.lowers = lowers
	}
	return w, nil
}

// A finished step's work directory is mounted again by the next step: its merged and work
// directories are kept, and only a new upper directory is made (the last one moved into the
// store). Creating and deleting them on every step was not only work: on ext4 without a journal
// every inode freed in the last minute slows each later file creation in its block group, the
// group the steps' own new files go to.

// takeWorkDir returns a spare work directory, or a new one.
func (b *Builder) takeWorkDir() (string, error) {
	b.mu.Lock()
	if n := len(b.spareWork); n > 0 {
		dir := b.spareWork[n-1]
		b.spareWork = b.spareWork[:n-1]
		b.mu.Unlock()
		return dir, nil
	}
	b.mu.Unlock()
	return b.store.NewWorkDir()
}

// recycleWorkDir readies the unmounted work directory dir of mount m for the next step and
// keeps it, or reports false when it cannot be reused.
func (b *Builder) recycleWorkDir(dir string, m overlay.Mount) bool {
	// Overlay refuses a work directory that a volatile mount used, until its
	// marker is gone; it cleans the rest itself.
	if os.RemoveAll(filepath.Join(m.Work, "work", "incompat")) != nil {
		return false
	}
	if !emptyDir(m.Upper) && os.RemoveAll(m.Upper) != nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.spareWork == nil {
		b.cleanups = append(b.cleanups, func() {
			for _, d := range b.spareWork {
				os.RemoveAll(d)
			}
		})
	}
	b.spareWork = append(b.spareWork, dir)
	return true
}

// emptyDir reports whether dir is an existing empty directory.
func emptyDir(dir string) bool {
	f, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = f.Readdirnames(1)
	return err == io.EOF
}
