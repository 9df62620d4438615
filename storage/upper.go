package storage

import (
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
	"github.com/vbatts/tar-split/tar/asm"
	tsstorage "github.com/vbatts/tar-split/tar/storage"
	drivers "go.podman.io/storage/drivers"
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
