package storage

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	digest "github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
)

// WorkLayer is a writable layer a build step runs in, mounted at Merged.
// Upper is the overlay upper directory holding only what the step changed;
// it is empty for drivers without one (vfs), where DiffWork computes the
// changes instead.
type WorkLayer struct {
	ID     string
	Merged string
	Upper  string
}

// NewWorkLayer creates a writable layer on top of parent ("" for scratch)
// and mounts it. The caller must ReleaseWorkLayer it.
func (st *Store) NewWorkLayer(parent string) (*WorkLayer, error) {
	// A killed kiln leaves work layers behind: the next one removes them.
	if _, err := st.RemoveStaleWorkLayers(); err != nil {
		return nil, err
	}
	l, err := st.s.CreateLayer("", parent, []string{workLayerName()}, "", true, nil)
	if err != nil {
		return nil, fmt.Errorf("creating work layer on %q: %w", parent, err)
	}
	w := &WorkLayer{ID: l.ID}
	if w.Merged, err = st.s.Mount(l.ID, ""); err != nil {
		err = fmt.Errorf("mounting work layer %s: %w", l.ID, err)
		return nil, errors.Join(err, st.deleteLayer(l.ID))
	}
	// With a mount program (fuse-overlayfs) the upper directory has its own
	// whiteout format; the store's diff understands it.
	if st.Driver() == "overlay" && !st.hasMountProgram() {
		drv, err := st.s.GraphDriver()
		if err == nil {
			if md, err := drv.Metadata(l.ID); err == nil {
				w.Upper = md["UpperDir"]
			}
		}
	}
	return w, nil
}

func (st *Store) hasMountProgram() bool {
	for _, o := range st.s.GraphOptions() {
		if strings.Contains(o, "mount_program=") {
			return true
		}
	}
	return false
}

// UnmountWorkLayer unmounts a work layer, so that its upper directory holds
// the step's final state and can be read or adopted.
func (st *Store) UnmountWorkLayer(w *WorkLayer) error {
	if _, err := st.s.Unmount(w.ID, true); err != nil && !errors.Is(err, cstorage.ErrLayerUnknown) {
		return fmt.Errorf("unmounting work layer %s: %w", w.ID, err)
	}
	return nil
}

// ReleaseWorkLayer unmounts and deletes a work layer.
func (st *Store) ReleaseWorkLayer(w *WorkLayer) error {
	if w == nil {
		return nil
	}
	return st.removeWorkLayer(w.ID, "work layer")
}

// removeWorkLayer unmounts and deletes work layer id. On a full disk the
// store cannot record either: the layer's own files then go first, to make
// room, and both are tried again.
func (st *Store) removeWorkLayer(id, what string) error {
	err := st.unmountAndDelete(id, what)
	if errors.Is(err, syscall.ENOSPC) && st.emptyUpper(id) == nil {
		err = st.unmountAndDelete(id, what)
	}
	return err
}

func (st *Store) unmountAndDelete(id, what string) error {
	var errs []error
	if _, err := st.s.Unmount(id, true); err != nil && !errors.Is(err, cstorage.ErrLayerUnknown) {
		errs = append(errs, fmt.Errorf("unmounting %s %s: %w", what, id, err))
	}
	errs = append(errs, st.deleteLayer(id))
	return errors.Join(errs...)
}

// emptyUpper removes what a work layer's upper directory holds.
func (st *Store) emptyUpper(id string) error {
	drv, err := st.s.GraphDriver()
	if err != nil {
		return err
	}
	md, err := drv.Metadata(id)
	if err != nil || md["UpperDir"] == "" {
		return fmt.Errorf("finding the upper directory of layer %s: %w", id, errors.Join(err, fs.ErrNotExist))
	}
	ents, err := os.ReadDir(md["UpperDir"])
	if err != nil {
		return fmt.Errorf("emptying layer %s: %w", id, err)
	}
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(md["UpperDir"], e.Name())); err != nil {
			return fmt.Errorf("emptying layer %s: %w", id, err)
		}
	}
	return nil
}

func (st *Store) deleteLayer(id string) error {
	if err := st.s.DeleteLayer(id); err != nil && !errors.Is(err, cstorage.ErrLayerUnknown) {
		return fmt.Errorf("deleting layer %s: %w", id, err)
	}
	return nil
}

// DiffWork streams the changes of a work layer against its parent as an
// uncompressed tar. It is the slow path for drivers without an upper
// directory.
func (st *Store) DiffWork(w *WorkLayer) (io.ReadCloser, error) {
	unc := archive.Uncompressed
	rc, err := st.s.Diff("", w.ID, &cstorage.DiffOptions{Compression: &unc})
	if err != nil {
		return nil, fmt.Errorf("computing changes of work layer %s: %w", w.ID, err)
	}
	return rc, nil
}

// Layer is a read-only layer in the store.
type Layer struct {
	ID     string
	Parent string
	DiffID digest.Digest
	Size   int64
}

// LookupLayer returns a stored layer by id.
func (st *Store) LookupLayer(id string) (*Layer, error) {
	l, err := st.s.Layer(id)
	if err != nil {
		return nil, fmt.Errorf("looking up layer %s: %w", id, err)
	}
	return &Layer{ID: l.ID, Parent: l.Parent, DiffID: l.UncompressedDigest, Size: l.UncompressedSize}, nil
}

// LayerChain lists the layers from the bottom up to and including top.
func (st *Store) LayerChain(top string) ([]*Layer, error) {
	var chain []*Layer
	for id := top; id != ""; {
		l, err := st.LookupLayer(id)
		if err != nil {
			return nil, err
		}
		chain = append([]*Layer{l}, chain...)
		id = l.Parent
	}
	return chain, nil
}

// LayerTar streams a stored layer back as the exact uncompressed tar it was
// stored from (tar-split keeps it byte-exact).
func (st *Store) LayerTar(id string) (io.ReadCloser, error) {
	unc := archive.Uncompressed
	rc, err := st.s.Diff("", id, &cstorage.DiffOptions{Compression: &unc})
	if err != nil {
		return nil, fmt.Errorf("reading layer %s: %w", id, err)
	}
	return rc, nil
}

// MountImageLayer mounts a read-only image layer and returns its root, for
// reading files (COPY --from, USER lookups) without a writable copy.
func (st *Store) MountLayer(id string) (string, error) {
	p, err := st.s.Mount(id, "")
	if err != nil {
		return "", fmt.Errorf("mounting layer %s: %w", id, err)
	}
	return p, nil
}

// UnmountLayer undoes MountLayer.
func (st *Store) UnmountLayer(id string) error {
	if _, err := st.s.Unmount(id, false); err != nil {
		return fmt.Errorf("unmounting layer %s: %w", id, err)
	}
	return nil
}

// AddNames gives a stored image more names, normalized as NormalizeName does.
func (st *Store) AddNames(id string, names []string) error {
	full := make([]string, 0, len(names))
	for _, n := range names {
		named, err := NormalizeName(n)
		if err != nil {
			return err
		}
		full = append(full, named.String())
	}
	if err := st.s.AddNames(id, full); err != nil {
		return fmt.Errorf("naming image %s: %w", id, err)
	}
	return nil
}

// DiffLayers streams the changes from layer from to layer to (a descendant)
// as one uncompressed tar, for squashing.
func (st *Store) DiffLayers(from, to string) (io.ReadCloser, error) {
	unc := archive.Uncompressed
	rc, err := st.s.Diff(from, to, &cstorage.DiffOptions{Compression: &unc})
	if err != nil {
		return nil, fmt.Errorf("computing changes from %s to %s: %w", from, to, err)
	}
	return rc, nil
}

// CanMountWork reports whether the store itself can mount writable layers.
// It cannot in a single-id user namespace where fuse-overlayfs, which the
// store needs there, may not open /dev/fuse; kiln then mounts kernel overlay
// itself over LayerDirs.
func (st *Store) CanMountWork() bool {
	if !st.hasMountProgram() {
		return true
	}
	f, err := os.OpenFile("/dev/fuse", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// LayerDirs lists the directories holding the contents of top and its
// parents, topmost first, as overlay lowerdirs. Only the overlay driver has
// them.
func (st *Store) LayerDirs(top string) ([]string, error) {
	drv, err := st.s.GraphDriver()
	if err != nil {
		return nil, fmt.Errorf("opening storage driver: %w", err)
	}
	if top == "" {
		return nil, nil
	}
	// One listing rather than a lookup per layer: each lookup takes the store's lock.
	all, err := st.s.Layers()
	if err != nil {
		return nil, fmt.Errorf("listing layers: %w", err)
	}
	byID := make(map[string]*cstorage.Layer, len(all))
	for i := range all {
		byID[all[i].ID] = &all[i]
	}
	var dirs []string
	for id := top; id != ""; {
		l, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("looking up layer %s: %w", id, cstorage.ErrLayerUnknown)
		}
		md, err := drv.Metadata(id)
		if err != nil || md["UpperDir"] == "" {
			return nil, fmt.Errorf("finding the directory of layer %s: %w", id, errors.Join(err, errors.ErrUnsupported))
		}
		dirs = append(dirs, md["UpperDir"])
		id = l.Parent
	}
	return dirs, nil
}
