package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/sirupsen/logrus"
	"go.podman.io/image/v5/docker"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/blobinfocache/memory"
	"go.podman.io/image/v5/types"
)

// blobEntry says that a registry repository holds a compressed blob of a
// layer: the layer's uncompressed digest (its diff id), the blob's digest,
// size and media type, and where it was last seen. A config blob is
// recorded with DiffID equal to Digest.
type blobEntry struct {
	DiffID    digest.Digest `json:"diffID"`
	Digest    digest.Digest `json:"digest"`
	Size      int64         `json:"size"`
	MediaType string        `json:"mediaType"`
	Host      string        `json:"host"`
	Repo      string        `json:"repo"`
	Seen      time.Time     `json:"seen"`
}

// same reports whether e and o are the same blob in the same repository.
func (e blobEntry) same(o blobEntry) bool {
	return e.DiffID == o.DiffID && e.Digest == o.Digest && e.Host == o.Host && e.Repo == o.Repo
}

// blobRecordVersion is the format of the record file; a file of another
// version is ignored and replaced.
const blobRecordVersion = 1

// maxBlobEntries bounds the record: at about 300 bytes an entry, the file
// stays near a megabyte. The entries seen longest ago go first.
const maxBlobEntries = 4096

type blobRecordFile struct {
	Version int         `json:"version"`
	Entries []blobEntry `json:"entries"`
}

// blobRecord is kiln's persistent blob-info cache, a pure-Go stand-in for
// containers/image's SQLite one, which a CGO_ENABLED=0 kiln cannot open. It
// maps layers' diff ids to compressed blobs known to be in registries, so
// a push can tell the registry to reuse them. The file is replaced by a
// rename, so readers need no lock; writers hold an flock on a side file so
// that concurrent kilns do not lose each other's entries.
type blobRecord struct {
	path string
	max  int
}

// blobRecord is the record kept in the store's graph root.
func (st *Store) blobRecord() *blobRecord {
	return &blobRecord{path: filepath.Join(st.GraphRoot(), "kiln", "blobinfo.json"), max: maxBlobEntries}
}

// load returns the recorded entries. A missing file is an empty record; an
// unreadable or corrupt one is too, said at debug level, and the next
// update rewrites it.
func (r *blobRecord) load() []blobEntry {
	data, err := os.ReadFile(r.path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			logrus.Debugf("Ignoring blob record %s: %v", r.path, err)
		}
		return nil
	}
	var f blobRecordFile
	if err := json.Unmarshal(data, &f); err != nil {
		logrus.Debugf("Ignoring corrupt blob record %s: %v", r.path, err)
		return nil
	}
	if f.Version != blobRecordVersion {
		logrus.Debugf("Ignoring blob record %s of version %d", r.path, f.Version)
		return nil
	}
	return f.Entries
}

// lookup returns the entries of blobs on host, grouped by diff id.
func (r *blobRecord) lookup(host string) map[digest.Digest][]blobEntry {
	out := map[digest.Digest][]blobEntry{}
	for _, e := range r.load() {
		if e.Host == host {
			out[e.DiffID] = append(out[e.DiffID], e)
		}
	}
	return out
}

// update adds (or refreshes) add and removes drop, under the record's lock.
func (r *blobRecord) update(add, drop []blobEntry) error {
	if len(add) == 0 && len(drop) == 0 {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(r.path), 0o700); err != nil {
		return fmt.Errorf("creating the directory of blob record %s: %w", r.path, err)
	}
	unlock, err := r.lock()
	if err != nil {
		return err
	}
	defer unlock()
	entries := r.load()
	entries = slices.DeleteFunc(entries, func(e blobEntry) bool {
		return slices.ContainsFunc(drop, e.same) || slices.ContainsFunc(add, e.same)
	})
	for i, e := range add {
		if !slices.ContainsFunc(add[i+1:], e.same) {
			entries = append(entries, e)
		}
	}
	if len(entries) > r.max {
		slices.SortStableFunc(entries, func(a, b blobEntry) int { return b.Seen.Compare(a.Seen) })
		entries = entries[:r.max]
	}
	return r.write(entries)
}

// lock takes the writers' lock of the record.
func (r *blobRecord) lock() (func(), error) {
	unlock, err := flock(r.path+".lock", true)
	if err != nil {
		return nil, fmt.Errorf("blob record: %w", err)
	}
	return unlock, nil
}

// write replaces the record file with entries.
func (r *blobRecord) write(entries []blobEntry) error {
	data, err := json.Marshal(blobRecordFile{Version: blobRecordVersion, Entries: entries})
	if err != nil {
		return fmt.Errorf("encoding blob record %s: %w", r.path, err)
	}
	if err := WriteFileAtomic(r.path, data); err != nil {
		return fmt.Errorf("writing blob record %s: %w", r.path, err)
	}
	return nil
}

// blobReader reads what recording a pushed or pulled image needs beyond
// its manifest: the manifests of a list's instances and configs.
type blobReader struct {
	instance func(ctx context.Context, d digest.Digest) ([]byte, string, error)
	config   func(ctx context.Context, d digest.Digest) ([]byte, error)
}

// seenBlobs lists the blobs of the image whose manifest is man, or of every
// image of the list man is, as held by host/repo.
func seenBlobs(ctx context.Context, man []byte, r blobReader, host, repo string) ([]blobEntry, error) {
	mt := manifest.GuessMIMEType(man)
	if !manifest.MIMETypeIsMultiImage(mt) {
		return imageBlobs(ctx, man, mt, r, host, repo)
	}
	list, err := manifest.ListFromBlob(man, mt)
	if err != nil {
		return nil, fmt.Errorf("parsing manifest list: %w", err)
	}
	var out []blobEntry
	for _, d := range list.Instances() {
		m, imt, err := r.instance(ctx, d)
		if err != nil {
			logrus.Debugf("Not recording the blobs of %s in %s/%s: %v", d, host, repo, err)
			continue
		}
		if manifest.MIMETypeIsMultiImage(imt) {
			continue
		}
		es, err := imageBlobs(ctx, m, imt, r, host, repo)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", d, err)
		}
		out = append(out, es...)
	}
	return out, nil
}

// imageBlobs pairs the layers of an image manifest with its config's diff
// ids; the config is recorded too. Uncompressed and encrypted layers are
// left out: there is nothing to substitute for them.
func imageBlobs(ctx context.Context, man []byte, mt string, r blobReader, host, repo string) ([]blobEntry, error) {
	if mt != v1.MediaTypeImageManifest && mt != manifest.DockerV2Schema2MediaType {
		return nil, nil
	}
	m, err := manifest.FromBlob(man, mt)
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	ci := m.ConfigInfo()
	blob, err := r.config(ctx, ci.Digest)
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", ci.Digest, err)
	}
	var cfg struct {
		RootFS struct {
			DiffIDs []digest.Digest `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(blob, &cfg); err != nil {
		return nil, fmt.Errorf("parsing config %s: %w", ci.Digest, err)
	}
	layers := m.LayerInfos()
	if len(layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("manifest has %d layers, config %s %d diff ids: %w", len(layers), ci.Digest, len(cfg.RootFS.DiffIDs), fs.ErrInvalid)
	}
	now := time.Now().UTC()
	out := []blobEntry{{DiffID: ci.Digest, Digest: ci.Digest, Size: ci.Size, MediaType: ci.MediaType, Host: host, Repo: repo, Seen: now}}
	for i, l := range layers {
		if l.Digest == cfg.RootFS.DiffIDs[i] || blobCompression(l.MediaType) == "" {
			continue
		}
		out = append(out, blobEntry{DiffID: cfg.RootFS.DiffIDs[i], Digest: l.Digest, Size: l.Size, MediaType: l.MediaType,
			Host: host, Repo: repo, Seen: now})
	}
	return out, nil
}

// recordSeen records the blobs of the image (or list) whose manifest man
// was just pushed to or pulled from the docker:// reference ref. It never
// fails the push or pull: the record is only an optimisation.
func (st *Store) recordSeen(ctx context.Context, ref types.ImageReference, man []byte, sys *types.SystemContext) {
	named := ref.DockerReference()
	if ref.Transport().Name() != docker.Transport.Name() || named == nil || len(man) == 0 {
		return
	}
	var (
		remote types.ImageSource
		opened bool
	)
	open := func(ctx context.Context) (types.ImageSource, error) {
		if !opened {
			opened = true
			var err error
			if remote, err = ref.NewImageSource(ctx, sys); err != nil {
				return nil, fmt.Errorf("opening %s: %w", named, err)
			}
		}
		if remote == nil {
			return nil, fmt.Errorf("opening %s: %w", named, fs.ErrNotExist)
		}
		return remote, nil
	}
	defer func() {
		if remote != nil {
			remote.Close()
		}
	}()
	r := blobReader{
		instance: func(ctx context.Context, d digest.Digest) ([]byte, string, error) {
			src, err := open(ctx)
			if err != nil {
				return nil, "", err
			}
			return src.GetManifest(ctx, &d)
		},
		config: func(ctx context.Context, d digest.Digest) ([]byte, error) {
			if blob, err := st.s.ImageBigData(d.Encoded(), d.String()); err == nil {
				return blob, nil
			}
			src, err := open(ctx)
			if err != nil {
				return nil, err
			}
			rc, _, err := src.GetBlob(ctx, types.BlobInfo{Digest: d, Size: -1}, memory.New())
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(io.LimitReader(rc, 16<<20))
		},
	}
	entries, err := seenBlobs(ctx, man, r, reference.Domain(named), reference.Path(named))
	if err == nil {
		err = st.blobRecord().update(entries, nil)
	}
	if err != nil {
		logrus.Debugf("Not recording the blobs of %s: %v", named, err)
	}
}
