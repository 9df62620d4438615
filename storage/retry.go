package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"reflect"
	"strings"
	"syscall"
	"time"

	"github.com/docker/distribution/registry/api/errcode"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/types"
)

// copyAttempts is how many times copyRetrying tries a copy that fails for a
// reason that may pass: a dropped connection, a 5xx or a 429.
const copyAttempts = 3

// copyBackoff is the wait before the second attempt; it doubles after each.
const copyBackoff = 250 * time.Millisecond

// copyRetrying is copyImage tried again after a transient registry or
// network failure, when either end is a registry. containers/image resumes a truncated blob GET by itself
// but gives up on any other dropped request, 5xx or 429; podman retries the
// whole copy (common/pkg/retry), and so does kiln. Blobs already copied are
// not sent or fetched again.
func copyRetrying(ctx context.Context, src, dst types.ImageReference, o CopyOptions) ([]byte, error) {
	remote := src.Transport().Name() == docker.Transport.Name() || dst.Transport().Name() == docker.Transport.Name()
	wait := copyBackoff
	for attempt := 1; ; attempt++ {
		man, err := copyImage(ctx, src, dst, o)
		if err == nil || !remote || attempt == copyAttempts || !retryable(err) {
			return man, err
		}
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "Copying failed (attempt %d of %d), retrying in %s: %v\n", attempt, copyAttempts, wait, err)
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// stagingAttempts is how many times a copy into the store is tried when another process took
// its staging directory away (stagingLost).
const stagingAttempts = 3

// stagingLost reports the containers/storage v1.65.1 race kiln's own layer writes avoid
// (putlayer.go) but copies into the store (pull, load, commit of a layer kiln did not store
// itself) still meet: another process reloading its layer store removes a staging directory
// between its creation and its locking, and the copy fails with ENOENT on
// ".../temp-dir-N/...", or, when the layer's unpacker (a child chrooted into the staging
// directory) loses it, with that child's output as text: "unpacking failed (error: exit status 1;
// output: open /name: no such file or directory)". Nothing was stored; the next try stages afresh.
func stagingLost(err error) bool {
	msg := err.Error()
	return errors.Is(err, fs.ErrNotExist) && strings.Contains(msg, "/temp-dir-") ||
		strings.Contains(msg, "unpacking failed (") && strings.Contains(msg, ": no such file or directory)")
}

// retryable reports whether err may pass on a second try: a network error,
// a connection closed early, or an HTTP 5xx or 429 from the registry.
func retryable(err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	code := httpStatus(err)
	return code == http.StatusTooManyRequests || code >= 500
}

// httpStatus is the HTTP status a registry error in err's chain carries, or 0.
func httpStatus(err error) int {
	var unexpected docker.UnexpectedHTTPStatusError
	if errors.As(err, &unexpected) {
		return unexpected.StatusCode
	}
	var ec errcode.Error
	if errors.As(err, &ec) {
		return ec.Code.Descriptor().HTTPStatusCode
	}
	var code errcode.ErrorCode
	if errors.As(err, &code) {
		return code.Descriptor().HTTPStatusCode
	}
	var ecs errcode.Errors
	if errors.As(err, &ecs) && len(ecs) > 0 {
		return httpStatus(ecs[0])
	}
	// containers/image reports a status whose body it cannot parse in an
	// unexported type (unexpectedHTTPResponseError) whose StatusCode field
	// is the only way to it.
	for e := err; e != nil; e = errors.Unwrap(e) {
		v := reflect.Indirect(reflect.ValueOf(e))
		if v.Kind() == reflect.Struct {
			if f := v.FieldByName("StatusCode"); f.IsValid() && f.Kind() == reflect.Int {
				return int(f.Int())
			}
		}
	}
	return 0
}
