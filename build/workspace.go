package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kiln-build/kiln/overlay"
)

// work is a writable root a step changes. upper is the overlay upper
// directory holding only the changes ("" when only the store can tell what
// changed, through diff). unmount must come before the upper directory is
// read for good; remove drops whatever is left and may follow a failed
// unmount.
type work struct {
	root, upper string
	// lowers are the layer directories under kiln's own mount (nil when
	// the store mounted the work layer).
	lowers  []string
	diff    func() (io.ReadCloser, error)
	unmount func() error
	remove  func() error
}

// release unmounts and removes w.
func (w *work) release() error {
	return errors.Join(w.unmount(), w.remove())
}

// mountWork gives a step a writable root on top of parent. Normally the
// store creates and mounts a work layer; where it cannot (single-id user
// namespace without usable fuse), kiln mounts kernel overlay itself over the
// stored layers' directories.
func (b *Builder) mountWork(parent string) (*work, error) {
	if b.store.CanMountWork() {
		w, err := b.store.NewWorkLayer(parent)
		if err != nil {
			return nil, err
		}
		return &work{root: w.Merged, upper: w.Upper,
			diff:    func() (io.ReadCloser, error) { return b.store.DiffWork(w) },
			unmount: func() error { return b.store.UnmountWorkLayer(w) },
			remove:  func() error { return b.store.ReleaseWorkLayer(w) }}, nil
	}
	lowers, err := b.store.LayerDirs(parent)
	if err != nil {
		return nil, err
	}
	base := filepath.Join(b.store.GraphRoot(), "kiln-work")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return nil, fmt.Errorf("creating work directory: %w", err)
	}
	dir, err := os.MkdirTemp(base, "w-")
	if err != nil {
		return nil, fmt.Errorf("creating work directory: %w", err)
	}
	m := overlay.Mount{Lower: lowers, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
		Target: filepath.Join(dir, "merged"), UserXattr: b.store.Rootless}
	if len(lowers) == 0 {
		m.Lower = []string{filepath.Join(dir, "empty")}
	}
	for _, d := range append([]string{m.Upper, m.Work, m.Target}, m.Lower...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("creating work directory: %w", err)
		}
	}
	if err := m.Mount(); err != nil {
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
	return &work{root: m.Target, upper: m.Upper, lowers: lowers, unmount: unmount,
		remove: func() error { return errors.Join(unmount(), os.RemoveAll(dir)) }}, nil
}
