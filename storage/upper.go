package storage

import (
	"bufio"
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
	st.adoptOnce.Do(func() {
		drv, err := st.s.GraphDriver()
		if err != nil {
			return
		}
		_, ok := drv.(drivers.DriverWithDiffer)
		st.canAdopt = ok && st.Driver() == "overlay"
	})
	return st.canAdopt
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
// returns the stream's digest and length. tar-split's reader computes a CRC64
// of every file in its own goroutine and passes the stream through unchanged.
// A stream that hashes itself as it is made (selfDigesting) is trusted for the
// digest; any other is hashed from what tar-split passes through, in this
// goroutine. Either way the two hashes of a big layer run side by side.
func tarSplit(r io.Reader, w io.Writer) (digest.Digest, int64, error) {
	// The packer writes two JSON lines for every file: unbuffered, a big layer's metadata
	// cost tens of thousands of write calls.
	bw := bufio.NewWriterSize(w, 256<<10)
	its, err := asm.NewInputTarStream(r, tsstorage.NewJSONPacker(bw), nil)
	if err != nil {
		return "", 0, fmt.Errorf("reading layer tar: %w", err)
	}
	self, ok := r.(selfDigesting)
	dg := digest.Canonical.Digester()
	counter := &countWriter{w: dg.Hash()}
	if ok {
		counter.w = io.Discard
	}
	// A large buffer: fewer handoffs between the goroutines.
	if _, err := io.CopyBuffer(counter, its, make([]byte, 1<<20)); err != nil {
		return "", 0, fmt.Errorf("reading layer tar: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return "", 0, fmt.Errorf("writing tar-split metadata: %w", err)
	}
	if !ok {
		return dg.Digest(), counter.n, nil
	}
	d, n, err := self.DiffDigest()
	if err != nil {
		return "", 0, fmt.Errorf("reading layer tar: %w", err)
	}
	if n != counter.n {
		return "", 0, fmt.Errorf("reading layer tar: %d bytes passed through, the writer says %d", counter.n, n)
	}
	return d, n, nil
}

// selfDigesting is a tar stream that hashes itself as it is written (overlay.DigestStream).
type selfDigesting interface {
	DiffDigest() (digest.Digest, int64, error)
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
