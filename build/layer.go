package build

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	digest "github.com/opencontainers/go-digest"

	instr "github.com/kiln-build/kiln/build/instructions"
	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/overlay"
	"github.com/kiln-build/kiln/storage"
)

// workspace is the mounted root a layer step changes.
type workspace struct {
	root string
	// upper, when set, is the overlay upper directory under root that a step may write new
	// directories' contents into directly (see copier.resolveDir).
	upper string
	// owner, set by a step that ran as a non-root user, owns what the step
	// created; see recordNewOwners.
	owner *exec.User
}

// layerStep runs a step that may change files: it reuses the cached layer
// for key when there is one, and otherwise runs change over a work layer
// and stores what changed as a new layer.
func (b *Builder) layerStep(ctx context.Context, s *stage, cmd instructions.Command, key digest.Digest, change func(*workspace) error) error {
	return b.layerStepKeyed(ctx, s, cmd, func() (digest.Digest, error) { return key, nil }, change)
}

// layerStepKeyed is layerStep with the key computed by keyFn, which is called exactly once: before
// the step when the cache is consulted, after it with --no-cache, where the key is only recorded
// and may be computed while the step runs.
func (b *Builder) layerStepKeyed(ctx context.Context, s *stage, cmd instructions.Command, keyFn func() (digest.Digest, error), change func(*workspace) error) error {
	t := newTimer()
	var key digest.Digest
	if !b.opts.NoCache {
		var err error
		if key, err = keyFn(); err != nil {
			return err
		}
		e, err := b.cache.get(key)
		if err != nil {
			return err
		}
		if e != nil && b.layerUsable(e.Layer) {
			t.mark("cache")
			b.emit(Event{Type: "step-done", Stage: s.name, Key: key.Encoded(), Cached: true, Layer: e.Layer, Timings: t.done()})
			return b.advance(s, cmd, key, *e)
		}
	}
	t.mark("cache")
	layer, err := b.snapshot(ctx, s.top, change, t)
	if b.opts.NoCache {
		k, kerr := keyFn()
		key, err = k, errors.Join(err, kerr)
	}
	if err != nil {
		return err
	}
	e := cacheEntry{Layer: layer, Created: b.now()}
	if err := b.cache.put(key, e); err != nil {
		return err
	}
	b.emit(Event{Type: "step-done", Stage: s.name, Key: key.Encoded(), Layer: layer, Timings: t.done()})
	return b.advance(s, cmd, key, e)
}

// layerUsable reports whether a cached layer still exists in the store.
func (b *Builder) layerUsable(id string) bool {
	if id == "" {
		return true
	}
	_, err := b.store.LookupLayer(id)
	return err == nil
}

// advance moves the stage onto a step's result.
func (b *Builder) advance(s *stage, cmd instructions.Command, key digest.Digest, e cacheEntry) error {
	created := e.Created
	h := storage.History{Created: &created, CreatedBy: instr.CreatedBy(cmd, s.img.Config.Shell, s.historyArgs()...),
		Comment: "buildkit.dockerfile.v0", EmptyLayer: e.Layer == ""}
	if e.Layer != "" {
		l, err := b.store.LookupLayer(e.Layer)
		if err != nil {
			return err
		}
		s.top = l.ID
		s.img.RootFS.DiffIDs = append(s.img.RootFS.DiffIDs, l.DiffID)
	}
	s.img.History = append(s.img.History, h)
	s.key = key
	return nil
}

// snapshot runs change over a fresh work layer on parent and returns the id
// of the layer holding what it changed, or "" when it changed nothing.
func (b *Builder) snapshot(ctx context.Context, parent string, change func(*workspace) error, t *timer) (id string, err error) {
	w, err := b.mountWork(parent)
	if err != nil {
		return "", err
	}
	t.mark("mount")
	defer func() {
		if rerr := w.release(); rerr != nil && err == nil {
			err = rerr
		}
		t.mark("release")
	}()
	ws := &workspace{root: w.root}
	if w.direct {
		ws.upper = w.upper
	}
	if err := change(ws); err != nil {
		return "", err
	}
	t.mark("run")
	if w.upper == "" {
		rc, err := w.diff()
		if err != nil {
			return "", err
		}
		defer rc.Close()
		l, err := b.store.PutLayer(ctx, parent, rc)
		if err != nil {
			return "", err
		}
		t.mark("diff")
		return l.ID, nil
	}
	if err := w.unmount(); err != nil {
		return "", err
	}
	if empty, err := overlay.Empty(w.upper); err != nil || empty {
		return "", err
	}
	if ws.owner != nil && w.lowers != nil {
		if err := recordNewOwners(w.upper, w.lowers, *ws.owner); err != nil {
			return "", err
		}
	}
	id, err = b.putUpper(ctx, parent, w.upper, w.adoptable)
	t.mark("diff")
	return id, err
}

// putUpper turns an upper directory into a new stored layer. Where the
// store keeps layers as overlay directories the upper directory is moved in
// as it is, read once for its digest; elsewhere, or when moving fails, its
// tar is unpacked.
func (b *Builder) putUpper(ctx context.Context, parent, upper string, adoptable bool) (string, error) {
	if adoptable && b.store.CanAdoptUpper() {
		tr := overlay.DigestStream(ctx, upper, overlay.DiffOptions{SourceDateEpoch: b.opts.Timestamp})
		l, err := b.store.PutUpper(ctx, parent, upper, tr)
		tr.CloseWithError(errors.New("layer store stopped reading"))
		if err == nil {
			return l.ID, nil
		}
		// Unless the directory already went into the store, unpacking its
		// tar still works: upper on another mount (EXDEV), or a staging
		// directory another kiln's store pruned under us.
		if _, serr := os.Lstat(upper); serr != nil {
			return "", fmt.Errorf("snapshotting changes: %w", err)
		}
	}
	tr := overlay.Stream(ctx, upper, overlay.DiffOptions{SourceDateEpoch: b.opts.Timestamp, NoDigest: true})
	defer tr.CloseWithError(errors.New("layer store stopped reading"))
	l, err := b.store.PutLayer(ctx, parent, tr)
	if err != nil {
		return "", fmt.Errorf("snapshotting changes: %w", err)
	}
	return l.ID, nil
}
