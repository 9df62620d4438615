package overlay

import (
	"context"
	"fmt"
	"io"
	"os"
)

// Stream is Diff as a reader, for a consumer (the layer store) that reads
// the tar as it is made. Close the reader with an error to stop the writer.
func Stream(ctx context.Context, upper string, opts DiffOptions) *io.PipeReader {
	pr, pw := io.Pipe()
	go func() {
		_, err := Diff(ctx, upper, pw, opts)
		pw.CloseWithError(err)
	}()
	return pr
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
