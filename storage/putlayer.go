package storage

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	cstorage "go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"golang.org/x/sys/unix"
)

// Layers are created in two steps under the store's lock (create an empty layer, then fill it)
// rather than through the store's PutLayer or PrepareStagedLayer: those stage content in
// overlay-layers/tmp and overlay/tempdirs without the lock, and in containers/storage v1.65.1
// another process reloading its layer store can take a staging lock file in the moment between its
// creation and its locking, delete it, and with it a staging directory in use (eight concurrent
// builds on one store fail with "…/temp-dir-N/0-addition: no such file or directory"). Until it is
// filled, the layer carries a work-layer name: a kiln killed in between leaves a layer the next
// kiln removes as stale, and no other kiln takes a half-filled layer for a finished one.

// Layers made from a step's upper directory take a shorter way, containers/storage's own create
// path for a staged directory (ApplyStagedLayer on an id not taken yet): the layer is created,
// filled by moving the directory in and marked complete under one hold of the store's lock, and a
// kiln killed in between leaves a layer flagged incomplete, which the store itself removes. That
// is one write of the store's layer list less per step than creating and naming, and no staging
// of ours the store could remove. Its one hazard is an id already taken: then ApplyStagedLayer
// replaces the existing layer's contents. Every kiln that creates a layer holds createLockFile
// while it looks the id up and creates it, so no other kiln takes the id in between.
const createLockFile = "kiln-layer-create.lock"

// staleWait bounds how long a kiln waits for another live kiln to finish filling a layer it needs.
const staleWait = 2 * time.Minute

// putLayerAs stores the layer with diff id diffID and size bytes on parent, under the chain id
// id, filled by fill, and reports whether fill ran: when another kiln stored the same layer
// first, its layer is returned instead. Creating comes first and looking up only when the id
// is taken: each call takes the store's lock, and a step's layer is usually new.
func (st *Store) putLayerAs(ctx context.Context, id, parent string, diffID digest.Digest, size int64, fill func(id string) error) (*Layer, bool, error) {
	deadline := time.Now().Add(staleWait)
	for {
		name := workLayerName()
		l, err := st.createLayer(id, parent, name)
		if err == nil {
			if err := fill(l.ID); err != nil {
				return nil, false, errors.Join(err, st.deleteLayer(l.ID))
			}
			if err := st.s.RemoveNames(l.ID, []string{name}); err != nil {
				return nil, false, errors.Join(fmt.Errorf("naming layer %s: %w", l.ID, err), st.deleteLayer(l.ID))
			}
			return &Layer{ID: l.ID, Parent: parent, DiffID: diffID, Size: size}, true, nil
		}
		if !errors.Is(err, cstorage.ErrDuplicateID) {
			return nil, false, err
		}
		l, err = st.s.Layer(id)
		if errors.Is(err, cstorage.ErrLayerUnknown) {
			continue // removed again meanwhile
		}
		if err != nil {
			return nil, false, err
		}
		switch {
		case !hasWorkName(l.Names):
			return toLayer(l), false, nil
		case staleWorkLayer(l.Names):
			if err := st.removeWorkLayer(l.ID, "half-stored layer"); err != nil {
				return nil, false, err
			}
		case time.Now().After(deadline):
			return nil, false, fmt.Errorf("layer %s is still being stored by another kiln (%s)", id, strings.Join(l.Names, ", "))
		default:
			// Another kiln is storing the same layer: wait for it.
			select {
			case <-ctx.Done():
				return nil, false, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// createLayer creates an empty layer with the chain id id and the work name name, under the
// create lock (see createLockFile).
func (st *Store) createLayer(id, parent, name string) (*cstorage.Layer, error) {
	unlock, err := flock(filepath.Join(st.GraphRoot(), createLockFile), true)
	if err != nil {
		return nil, err
	}
	defer unlock()
	return st.s.CreateLayer(id, parent, []string{name}, "", false, nil)
}

func hasWorkName(names []string) bool {
	for _, n := range names {
		if strings.HasPrefix(n, workLayerPrefix) {
			return true
		}
	}
	return false
}

func toLayer(l *cstorage.Layer) *Layer {
	return &Layer{ID: l.ID, Parent: l.Parent, DiffID: l.UncompressedDigest, Size: l.UncompressedSize}
}

// PutLayer stores an uncompressed layer tar on top of parent and returns it. The tar goes to an
// anonymous file first (gone with the process, however it ends), for its digest: the layer gets
// the chain id containers/image looks for, so committing an image reuses it instead of copying it.
func (st *Store) PutLayer(ctx context.Context, parent string, diff io.Reader) (*Layer, error) {
	where := "storing layer on " + parent
	if parent == "" {
		where = "storing base layer"
	}
	dir := filepath.Join(st.GraphRoot(), "kiln-work")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_RDWR|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("%s: temporary file in %s: %w", where, dir, err)
	}
	tmp := os.NewFile(uintptr(fd), filepath.Join(dir, "(layer tar)"))
	defer tmp.Close()
	dg := digest.Canonical.Digester()
	counter := &countWriter{w: dg.Hash()}
	if err := checkLayerTar(io.TeeReader(diff, io.MultiWriter(tmp, counter))); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	l, _, err := st.putLayerAs(ctx, chainID(parent, dg.Digest()), parent, dg.Digest(), counter.n, func(id string) error {
		if _, err := tmp.Seek(0, io.SeekStart); err != nil {
			return err
		}
		_, err := st.s.ApplyDiff(id, tmp)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return l, nil
}

// PutUpper stores an overlay upper directory as a new layer on parent by
// moving the directory into the store: its files are not copied. tarStream
// must yield the layer's tar form (what overlay.Diff writes for upper); it
// is read once, for its digest and the tar-split metadata that lets the
// store give the exact same tar back on push or save. upper is gone
// afterwards when PutUpper succeeds; when it fails, upper is still there
// unless the error says it was moved.
func (st *Store) PutUpper(ctx context.Context, parent, upper string, tarStream io.Reader) (*Layer, error) {
	// In memory, not in the run root: a file created and deleted on every step costs the
	// file system more than the few kilobytes it holds (on ext4 without a journal every
	// inode freed in the last minute slows the next file creation down).
	fd, err := unix.MemfdCreate("kiln-tar-split", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("creating tar-split file: %w", err)
	}
	ts := os.NewFile(uintptr(fd), "kiln-tar-split")
	defer ts.Close()
	diffID, size, err := tarSplit(tarStream, ts)
	if err != nil {
		return nil, err
	}
	// The layer gets the chain id containers/image expects for this diff on
	// this parent: committing an image then reuses the layer as it is, where
	// any other id makes the commit copy the whole layer.
	id := chainID(parent, diffID)
	l, err := st.createFromUpper(ctx, id, parent, upper, &drivers.DriverWithDifferOutput{
		Target: upper, Size: size, UncompressedDigest: diffID, TarSplit: ts})
	if err != nil {
		return nil, fmt.Errorf("storing layer on %s from %s: %w", parent, upper, err)
	}
	return l, nil
}

// createFromUpper creates layer id from the staged directory out.Target, or returns the layer
// when it exists already (and removes the directory).
func (st *Store) createFromUpper(ctx context.Context, id, parent, upper string, out *drivers.DriverWithDifferOutput) (*Layer, error) {
	unlock, err := flock(filepath.Join(st.GraphRoot(), createLockFile), true)
	if err != nil {
		return nil, err
	}
	l, err := st.s.Layer(id)
	switch {
	case err == nil && hasWorkName(l.Names):
		// Another kiln is still filling it through PutLayer: wait for that
		// as PutLayer does, or remove it when that kiln is gone.
		unlock()
		existing, filled, err := st.putLayerAs(ctx, id, parent, out.UncompressedDigest, out.Size, func(id string) error {
			_, err := st.s.ApplyStagedLayer(cstorage.ApplyStagedLayerOptions{ID: id, ParentLayer: parent,
				DiffOutput: out, DiffOptions: &drivers.ApplyDiffWithDifferOpts{}})
			return err
		})
		if err != nil || filled {
			return existing, err
		}
		return existing, removeUpper(upper)
	case err == nil:
		unlock()
		// The same change on the same parent is stored already.
		return toLayer(l), removeUpper(upper)
	case !errors.Is(err, cstorage.ErrLayerUnknown):
		unlock()
		return nil, err
	}
	defer unlock()
	created, err := st.s.ApplyStagedLayer(cstorage.ApplyStagedLayerOptions{ID: id, ParentLayer: parent,
		DiffOutput: out, DiffOptions: &drivers.ApplyDiffWithDifferOpts{}})
	if err != nil {
		return nil, err
	}
	return &Layer{ID: created.ID, Parent: parent, DiffID: out.UncompressedDigest, Size: out.Size}, nil
}

func removeUpper(upper string) error {
	if err := os.RemoveAll(upper); err != nil {
		return fmt.Errorf("removing %s: %w", upper, err)
	}
	return nil
}

// checkLayerTar reads a layer tar to its end and refuses entries the store would write somewhere
// other than their name says: names that leave the layer with "..", entries under a symlink the
// same tar made, and hard links to such places. The store confines them inside the layer, but the
// layer would then not hold what its tar lists, and pushing or saving it would fail much later.
func checkLayerTar(r io.Reader) error {
	symlinks := map[string]bool{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("reading layer tar: %w", err)
		}
		name, err := layerPath(h.Name, symlinks)
		if err != nil {
			return err
		}
		if h.Typeflag == tar.TypeLink {
			if _, err := layerPath(h.Linkname, symlinks); err != nil {
				return fmt.Errorf("hard link %q: %w", h.Name, err)
			}
		}
		if h.Typeflag == tar.TypeSymlink {
			symlinks[name] = true
		} else {
			delete(symlinks, name)
		}
	}
	// Trailing blocks count for the digest too.
	if _, err := io.Copy(io.Discard, r); err != nil {
		return fmt.Errorf("reading layer tar: %w", err)
	}
	return nil
}

// layerPath cleans a tar entry name, refusing one that leaves the layer or passes through one of
// symlinks.
func layerPath(name string, symlinks map[string]bool) (string, error) {
	rel := path.Clean(strings.TrimLeft(name, "/"))
	if rel == ".." || strings.HasPrefix(rel, "../") {
		return "", fmt.Errorf("layer tar entry %q points outside the layer", name)
	}
	for dir := path.Dir(rel); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if symlinks[dir] {
			return "", fmt.Errorf("layer tar entry %q goes through symlink %q the same layer made", name, dir)
		}
	}
	return rel, nil
}
