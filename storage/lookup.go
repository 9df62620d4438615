package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/pkg/shortnames"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"
)

// ImageRecord describes an image in the store.
type ImageRecord struct {
	ID       string
	Names    []string
	TopLayer string
	// Digest is the digest of the image's manifest.
	Digest  digest.Digest
	Created time.Time
}

func record(img *cstorage.Image) *ImageRecord {
	return &ImageRecord{ID: img.ID, Names: img.Names, TopLayer: img.TopLayer, Digest: img.Digest, Created: img.Created}
}

// Lookup finds an image by id, id prefix or name, trying the names podman
// would: the name as given, localhost/NAME, docker.io/library/NAME and the
// unqualified-search registries of registries.conf.
func (st *Store) Lookup(name string) (*ImageRecord, error) {
	if name == "" {
		return nil, fmt.Errorf("empty image name: %w", fs.ErrInvalid)
	}
	for _, cand := range st.candidates(name) {
		img, err := st.s.Image(cand)
		if err == nil {
			return record(img), nil
		}
		if !errors.Is(err, cstorage.ErrImageUnknown) {
			return nil, fmt.Errorf("looking up image %q: %w", name, err)
		}
	}
	return nil, &NotFoundError{What: "image", Name: name}
}

// candidates lists the store keys name may be known by, most specific first.
func (st *Store) candidates(name string) []string {
	out := []string{strings.TrimPrefix(name, "sha256:")}
	named, err := NormalizeName(name)
	if err != nil {
		return out
	}
	out = append(out, named.String())
	if reference.Domain(named) == "localhost" && !strings.HasPrefix(name, "localhost/") {
		short := strings.TrimPrefix(named.String(), "localhost/")
		if dn, err := reference.ParseNormalizedNamed(short); err == nil {
			out = append(out, reference.TagNameOnly(dn).String())
		}
		// A short name may have been pulled from a search registry.
		if found, err := shortnames.ResolveLocally(&types.SystemContext{}, short); err == nil {
			for _, n := range found {
				out = append(out, n.String())
			}
		}
	}
	return out
}

// ImageRef returns a containers/image reference to a stored image, used as a
// copy source.
func (st *Store) ImageRef(rec *ImageRecord) (types.ImageReference, error) {
	return st.localRef(nil, rec.ID)
}

// Config reads the config and manifest of a stored image.
func (st *Store) Config(ctx context.Context, rec *ImageRecord) (*Image, []byte, error) {
	ref, err := st.ImageRef(rec)
	if err != nil {
		return nil, nil, err
	}
	src, err := ref.NewImageSource(ctx, &types.SystemContext{})
	if err != nil {
		return nil, nil, fmt.Errorf("opening image %s: %w", rec.ID, err)
	}
	defer src.Close()
	unparsed := image.UnparsedInstance(src, nil)
	man, _, err := unparsed.Manifest(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading manifest of %s: %w", rec.ID, err)
	}
	if manifest.MIMETypeIsMultiImage(manifest.GuessMIMEType(man)) {
		return nil, man, fmt.Errorf("image %s is a manifest list: %w", rec.ID, errors.ErrUnsupported)
	}
	img, err := image.FromUnparsedImage(ctx, &types.SystemContext{}, unparsed)
	if err != nil {
		return nil, nil, fmt.Errorf("reading image %s: %w", rec.ID, err)
	}
	blob, err := img.ConfigBlob(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading config of %s: %w", rec.ID, err)
	}
	var cfg Image
	if err := json.Unmarshal(blob, &cfg); err != nil {
		return nil, nil, fmt.Errorf("parsing config of %s: %w", rec.ID, err)
	}
	return &cfg, man, nil
}
