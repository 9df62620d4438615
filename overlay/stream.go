package overlay

import (
	"context"
	"fmt"
	"io"
	"os"

	digest "github.com/opencontainers/go-digest"
)

// Stream is Diff as a reader, for a consumer (the layer store) that reads
// the tar as it is made. Close the reader with an error to stop the writer.
func Stream(ctx context.Context, upper string, opts DiffOptions) *DiffReader {
	r := &DiffReader{pipe: newPipe(), done: make(chan struct{})}
	go func() {
		r.res, r.err = Diff(ctx, upper, r.pipe, opts)
		close(r.done)
		r.pipe.closeWrite(r.err)
	}()
	return r
}

// DigestStream is Stream with the diff's digest and size taken in the goroutine that writes the
// tar, where the tar's bytes are at hand: a consumer busy with work of its own on every byte
// (tar-split's CRC64s) then does not hash them as well. The reader must be read to its end, or
// closed with an error, before DiffDigest returns.
func DigestStream(ctx context.Context, upper string, opts DiffOptions) *DiffReader {
	opts.NoDigest = false
	return Stream(ctx, upper, opts)
}

// DiffReader is the reading end of Stream and DigestStream: Read, Close and CloseWithError.
type DiffReader struct {
	*pipe
	done chan struct{}
	res  DiffResult
	err  error
}

// DiffDigest returns the digest and size of the tar read, once the writer is done.
func (r *DiffReader) DiffDigest() (digest.Digest, int64, error) {
	<-r.done
	return r.res.DiffID, r.res.Size, r.err
}

// Empty reports whether an upper directory holds no change at all, so that
// a step that changed nothing adds no layer.
func Empty(upper string) (bool, error) {
	f, err := os.Open(upper)
	if err != nil {
		return false, fmt.Errorf("reading %s: %w", upper, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return len(names) == 0, err
}
