package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	digest "github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	cstorage "go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
)

// CanAdoptUpper reports whether PutUpper can turn an upper directory into a
// layer by moving it: only the overlay driver stores layers in that form.
func (st *Store) CanAdoptUpper() bool {
	drv, err := st.s.GraphDriver()
	if err != nil {
		return false
	}
	_, ok := drv.(drivers.DriverWithDiffer)
	return ok && st.Driver() == "overlay"
}

// PutUpper stores an overlay upper directory as a new layer on parent by
// moving the directory into the store: its files are not copied. tarStream
// must yield the layer's tar form (what overlay.Diff writes for upper); it
// is read once, for its digest and the tar-split metadata that lets the
// store give the exact same tar back on push or save. upper is gone
// afterwards, whatever the outcome.
func (st *Store) PutUpper(ctx context.Context, parent, upper string, tarStream io.Reader) (*Layer, error) {
	ts, err := os.CreateTemp(st.RunRoot(), "kiln-tar-split-")
	if err != nil {
		return nil, fmt.Errorf("creating tar-split file: %w", err)
	}
	defer os.Remove(ts.Name())
	defer ts.Close()
	d := &upperDiffer{upper: upper}
	if d.diffID, d.size, err = tarSplit(tarStream, ts); err != nil {
		return nil, err
	}
	d.tarSplit = ts
	// The layer gets the chain id containers/image expects for this diff on
	// this parent: committing an image then reuses the layer as it is, where
	// any other id makes the commit copy the whole layer.
	id := chainID(parent, d.diffID)
	if l, err := st.s.Layer(id); err == nil {
		// The same change on the same parent is stored already.
		if err := os.RemoveAll(upper); err != nil {
			return nil, fmt.Errorf("removing %s: %w", upper, err)
		}
		return &Layer{ID: l.ID, Parent: l.Parent, DiffID: l.UncompressedDigest, Size: l.UncompressedSize}, nil
	}
	out, err := st.s.PrepareStagedLayer(&drivers.ApplyDiffWithDifferOpts{}, d)
	if err != nil {
		return nil, fmt.Errorf("staging layer from %s: %w", upper, err)
	}
	l, err := st.s.ApplyStagedLayer(cstorage.ApplyStagedLayerOptions{ID: id, ParentLayer: parent, DiffOutput: out,
		DiffOptions: &drivers.ApplyDiffWithDifferOpts{}})
	if err != nil {
		return nil, errors.Join(fmt.Errorf("storing layer on %s: %w", parent, err), st.s.CleanupStagedLayer(out))
	}
	return &Layer{ID: l.ID, Parent: l.Parent, DiffID: l.UncompressedDigest, Size: l.UncompressedSize}, nil
}

// chainID is the id containers/image gives the layer with diff id diffID on
// parent ("" for a base layer) when it writes an image into a store.
func chainID(parent string, diffID digest.Digest) string {
	if parent == "" {
		return diffID.Encoded()
	}
	return digest.Canonical.FromString(parent + "+" + diffID.Encoded()).Encoded()
}

// tarSplit reads a tar stream, writing its tar-split metadata to w, and
// returns the stream's digest and length.
func tarSplit(r io.Reader, w io.Writer) (digest.Digest, int64, error) {
	dg := digest.Canonical.Digester()
	counter := &countWriter{w: dg.Hash()}
	its, err := asm.NewInputTarStream(io.TeeReader(r, counter), tsstorage.NewJSONPacker(w), nil)
	if err != nil {
		return "", 0, fmt.Errorf("reading layer tar: %w", err)
	}
	if _, err := io.Copy(io.Discard, its); err != nil {
		return "", 0, fmt.Errorf("reading layer tar: %w", err)
	}
	return dg.Digest(), counter.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// upperDiffer hands the store an upper directory as a finished layer
// directory, by renaming it into the staging place.
type upperDiffer struct {
	upper    string
	diffID   digest.Digest
	size     int64
	tarSplit *os.File
}

func (d *upperDiffer) ApplyDiff(dest string, _ *archive.TarOptions, _ *drivers.DifferOptions) (drivers.DriverWithDifferOutput, error) {
	if err := os.Remove(dest); err != nil {
		return drivers.DriverWithDifferOutput{}, fmt.Errorf("replacing staging directory: %w", err)
	}
	if err := os.Rename(d.upper, dest); err != nil {
		return drivers.DriverWithDifferOutput{}, fmt.Errorf("moving %s into the store: %w", d.upper, err)
	}
	return drivers.DriverWithDifferOutput{Size: d.size, UncompressedDigest: d.diffID, TarSplit: d.tarSplit}, nil
}

func (d *upperDiffer) Close() error { return nil }
