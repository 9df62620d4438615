package build

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kiln-build/kiln/overlay"
)

// mountWork gives a step a writable root on top of parent. Normally the
// store creates and mounts a work layer; where it cannot (single-id user
// namespace without usable fuse), kiln mounts kernel overlay itself over the
// stored layers' directories. upper is "" when only the store can tell what
// changed.
func (b *Builder) mountWork(parent string) (root, upper string, diff func() (io.ReadCloser, error), release func() error, err error) {
	if b.store.CanMountWork() {
		w, err := b.store.NewWorkLayer(parent)
		if err != nil {
			return "", "", nil, nil, err
		}
		return w.Merged, w.Upper, func() (io.ReadCloser, error) { return b.store.DiffWork(w) },
			func() error { return b.store.ReleaseWorkLayer(w) }, nil
	}
	lowers, err := b.store.LayerDirs(parent)
	if err != nil {
		return "", "", nil, nil, err
	}
	base := filepath.Join(b.store.GraphRoot(), "kiln-work")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", "", nil, nil, fmt.Errorf("creating work directory: %w", err)
	}
	dir, err := os.MkdirTemp(base, "w-")
	if err != nil {
		return "", "", nil, nil, fmt.Errorf("creating work directory: %w", err)
	}
	m := overlay.Mount{Lower: lowers, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
		Target: filepath.Join(dir, "merged"), UserXattr: b.store.Rootless}
	if len(lowers) == 0 {
		m.Lower = []string{filepath.Join(dir, "empty")}
	}
	for _, d := range append([]string{m.Upper, m.Work, m.Target}, m.Lower...) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			os.RemoveAll(dir)
			return "", "", nil, nil, fmt.Errorf("creating work directory: %w", err)
		}
	}
	if err := m.Mount(); err != nil {
		os.RemoveAll(dir)
		return "", "", nil, nil, err
	}
	release = func() error {
		uerr := overlay.Unmount(m.Target)
		return errors.Join(uerr, os.RemoveAll(dir))
	}
	return m.Target, m.Upper, nil, release, nil
}
