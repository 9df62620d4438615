package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/docker/distribution/registry/api/errcode"
	v2 "github.com/docker/distribution/registry/api/v2"
	"go.podman.io/image/v5/docker"
)

// statusErr stands for containers/image's unexported error for a status
// with an unparsable body.
type statusErr struct{ StatusCode int }

func (e *statusErr) Error() string { return fmt.Sprintf("StatusCode: %d", e.StatusCode) }

func TestRetryable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"connection reset", fmt.Errorf("reading blob: %w", &net.OpError{Op: "read", Err: syscall.ECONNRESET}), true},
		{"unexpected EOF", fmt.Errorf("fetching blob: %w", io.ErrUnexpectedEOF), true},
		{"503 status", fmt.Errorf("pinging: %w", docker.UnexpectedHTTPStatusError{StatusCode: 503}), true},
		{"429 errcode", fmt.Errorf("pushing: %w", errcode.ErrorCodeTooManyRequests.WithMessage("slow down")), true},
		{"unavailable errcode", errcode.Errors{errcode.ErrorCodeUnavailable}, true},
		{"502 unparsable body", fmt.Errorf("uploading: %w", &statusErr{StatusCode: 502}), true},
		{"404 unparsable body", fmt.Errorf("uploading: %w", &statusErr{StatusCode: 404}), false},
		{"unknown blob", fmt.Errorf("fetching: %w", v2.ErrorCodeBlobUnknown.WithMessage("gone")), false},
		{"unauthorized", errcode.ErrorCodeUnauthorized, false},
		{"digest mismatch", errors.New("Digest did not match, expected sha256:aa, got sha256:bb"), false},
		{"canceled", fmt.Errorf("copying: %w", context.Canceled), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := retryable(tc.err); got != tc.want {
				t.Errorf("retryable(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestStagingLost(t *testing.T) {
	lost := &os.LinkError{Op: "rename", Old: "/s/overlay-layers/tmp/temp-dir-592338501/0-addition",
		New: "/s/overlay-layers/x.tar-split.gz", Err: syscall.ENOENT}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{fmt.Errorf("copying: adding layer: %w", lost), true},
		{&os.PathError{Op: "mkdir", Path: "/s/overlay/tempdirs/temp-dir-1/0-addition", Err: syscall.ENOENT}, true},
		{&os.PathError{Op: "open", Path: "/s/overlay/abc/diff/etc/passwd", Err: syscall.ENOENT}, false},
		{&os.PathError{Op: "open", Path: "/s/overlay/tempdirs/temp-dir-1/x", Err: syscall.EACCES}, false},
		{errors.New("rename /tmp/temp-dir-1/0-addition: no such file or directory"), false}, // not an ENOENT
		// The unpacker's output, as containers/storage passes it on (seen in CI during a load).
		{errors.New(`writing blob: adding layer with blob "sha256:9c85": unpacking failed (error: exit status 1; output: open /loaded: no such file or directory)`), true},
		{errors.New(`adding layer: unpacking failed (error: exit status 1; output: invalid tar header)`), false},
	} {
		if got := stagingLost(tc.err); got != tc.want {
			t.Errorf("stagingLost(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
