package storage

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	imgspecv1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// verifyBlob checks that the blob desc names in the OCI layout at dir is there, has desc's size
// and hashes to desc's digest. containers/image checks the blobs a manifest lists as it copies
// them, but not the manifest an index entry points at.
func verifyBlob(dir string, desc imgspecv1.Descriptor) error {
	if err := desc.Digest.Validate(); err != nil {
		return fmt.Errorf("OCI index entry %q: %w", desc.Digest, err)
	}
	p := filepath.Join(dir, "blobs", desc.Digest.Algorithm().String(), desc.Digest.Encoded())
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("OCI index entry %s: %w", desc.Digest, err)
	}
	defer f.Close()
	v := desc.Digest.Verifier()
	n, err := io.Copy(v, f)
	if err != nil {
		return fmt.Errorf("reading blob %s: %w", desc.Digest, err)
	}
	if n != desc.Size || !v.Verified() {
		return fmt.Errorf("blob %s: content does not match its digest and size (%d bytes, %d recorded)", desc.Digest, n, desc.Size)
	}
	return nil
}
