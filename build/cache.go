package build

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/storage"
)

// cacheEntry is what a step left behind: the layer it made ("" when it
// changed no files) and when it ran, so a cached rebuild gives the same
// history timestamps and therefore the same image id.
type cacheEntry struct {
	Layer   string    `json:"layer,omitempty"`
	Created time.Time `json:"created"`
}

// cache maps step keys to entries, one small file per key under the store,
// so a lookup costs one read whatever the store holds.
type cache struct {
	dir string
}

func newCache(graphRoot string) *cache {
	return &cache{dir: filepath.Join(graphRoot, "kiln-cache")}
}

// stepKey chains a step onto its parent's key: the parent key covers the
// base image and every earlier step, parts cover this step (instruction
// after expansion, args in use, content of sources).
func stepKey(parent digest.Digest, parts ...string) digest.Digest {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00", parent)
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	return digest.NewDigest(digest.SHA256, h)
}

func (c *cache) path(key digest.Digest) string {
	return filepath.Join(c.dir, key.Encoded())
}

// get returns the entry for key, or nil when there is none.
func (c *cache) get(key digest.Digest) (*cacheEntry, error) {
	b, err := os.ReadFile(c.path(key))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading cache entry %s: %w", key.Encoded()[:12], err)
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		// A torn entry is a miss, not a failed build.
		return nil, nil
	}
	return &e, nil
}

// put records an entry atomically: a killed build leaves either the old
// entry or the new one.
func (c *cache) put(key digest.Digest, e cacheEntry) error {
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("creating cache directory: %w", err)
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encoding cache entry: %w", err)
	}
	if err := storage.WriteFileAtomic(c.path(key), b); err != nil {
		return fmt.Errorf("writing cache entry: %w", err)
	}
	return nil
}
