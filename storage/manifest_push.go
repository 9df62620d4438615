package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sync"

	digest "github.com/opencontainers/go-digest"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
	cstorage "go.podman.io/storage"
)

// ListPushOptions tune ListPush.
type ListPushOptions struct {
	System SystemOptions
	// All pushes every image the list references, not only the list.
	All bool
	// Format forces the instances' manifest type ("oci", "docker").
	Format           string
	RemoveSignatures bool
	Progress         io.Writer
}

// ListPush copies a stored manifest list to dest (a transport reference,
// docker:// when it has none) and, with All, every image it references, and
// returns the digest of the list written.
func (st *Store) ListPush(ctx context.Context, name, dest string, opts ListPushOptions) (digest.Digest, error) {
	l, err := st.lookupList(name)
	if err != nil {
		return "", err
	}
	dref, mt, sys, err := st.pushTarget(dest, opts.Format, opts.System)
	if err != nil {
		return "", err
	}
	man, err := st.s.ImageBigData(l.id, cstorage.ImageDigestBigDataKey)
	if err != nil {
		return "", fmt.Errorf("reading manifest list %s: %w", name, err)
	}
	src := &listSource{st: st, l: l, man: man, srcs: map[digest.Digest]types.ImageSource{}, blobs: map[digest.Digest]types.ImageSource{}}
	defer src.Close()
	out, err := copyImage(ctx, &listRef{src: src}, dref, CopyOptions{Sys: sys, Progress: opts.Progress,
		ManifestType: mt, AllImages: opts.All, ListOnly: !opts.All, RemoveSignatures: opts.RemoveSignatures})
	if err != nil {
		return "", registryError(err)
	}
	st.recordSeen(ctx, dref, out, sys)
	return digest.FromBytes(out), nil
}

// listSource serves a stored list and, by instance digest, the manifests and
// blobs of the stored images it references.
type listSource struct {
	st  *Store
	l   *list
	man []byte
	mu  sync.Mutex
	// srcs are the opened instance images; blobs says which one holds a blob.
	srcs  map[digest.Digest]types.ImageSource
	blobs map[digest.Digest]types.ImageSource
}

// instance opens the stored image of entry d and notes its blobs.
func (s *listSource) instance(ctx context.Context, d digest.Digest) (types.ImageSource, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if src, ok := s.srcs[d]; ok {
		return src, nil
	}
	rec, err := s.st.instanceImage(s.l, d)
	if err != nil {
		return nil, err
	}
	ref, err := s.st.localRef(nil, rec.ID)
	if err != nil {
		return nil, err
	}
	src, err := ref.NewImageSource(ctx, &types.SystemContext{})
	if err != nil {
		return nil, fmt.Errorf("opening image %s of manifest list: %w", shortID(rec.ID), err)
	}
	s.srcs[d] = src
	man, mt, err := src.GetManifest(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("reading manifest of %s: %w", shortID(rec.ID), err)
	}
	if m, err := manifest.FromBlob(man, mt); err == nil {
		s.blobs[m.ConfigInfo().Digest] = src
		for _, li := range m.LayerInfos() {
			s.blobs[li.Digest] = src
		}
	}
	if infos, err := src.LayerInfosForCopy(ctx, nil); err == nil {
		for _, li := range infos {
			s.blobs[li.Digest] = src
		}
	}
	return src, nil
}

func (s *listSource) Reference() types.ImageReference { return &listRef{src: s} }

func (s *listSource) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, src := range s.srcs {
		errs = append(errs, src.Close())
	}
	s.srcs = map[digest.Digest]types.ImageSource{}
	return errors.Join(errs...)
}

func (s *listSource) HasThreadSafeGetBlob() bool { return false }

func (s *listSource) GetManifest(ctx context.Context, instance *digest.Digest) ([]byte, string, error) {
	if instance == nil {
		return s.man, manifest.GuessMIMEType(s.man), nil
	}
	src, err := s.instance(ctx, *instance)
	if err != nil {
		return nil, "", err
	}
	return src.GetManifest(ctx, nil)
}

func (s *listSource) GetBlob(ctx context.Context, info types.BlobInfo, cache types.BlobInfoCache) (io.ReadCloser, int64, error) {
	s.mu.Lock()
	src, ok := s.blobs[info.Digest]
	s.mu.Unlock()
	if !ok {
		return nil, -1, fmt.Errorf("manifest list %s has no blob %s: %w", shortID(s.l.id), info.Digest, fs.ErrNotExist)
	}
	return src.GetBlob(ctx, info, cache)
}

func (s *listSource) GetSignatures(context.Context, *digest.Digest) ([][]byte, error) {
	return nil, nil
}

func (s *listSource) LayerInfosForCopy(ctx context.Context, instance *digest.Digest) ([]types.BlobInfo, error) {
	if instance == nil {
		return nil, nil
	}
	src, err := s.instance(ctx, *instance)
	if err != nil {
		return nil, err
	}
	return src.LayerInfosForCopy(ctx, nil)
}

// listRef lets containers/image copy a listSource.
type listRef struct{ src *listSource }

func (r *listRef) Transport() types.ImageTransport         { return builtTransport{} }
func (r *listRef) StringWithinTransport() string           { return "list@" + r.src.l.id }
func (r *listRef) DockerReference() reference.Named        { return nil }
func (r *listRef) PolicyConfigurationIdentity() string     { return "" }
func (r *listRef) PolicyConfigurationNamespaces() []string { return nil }

func (r *listRef) NewImage(context.Context, *types.SystemContext) (types.ImageCloser, error) {
	return nil, fmt.Errorf("opening a manifest list directly: %w", errors.ErrUnsupported)
}

func (r *listRef) NewImageSource(context.Context, *types.SystemContext) (types.ImageSource, error) {
	return r.src, nil
}

func (r *listRef) NewImageDestination(context.Context, *types.SystemContext) (types.ImageDestination, error) {
	return nil, fmt.Errorf("writing to %s: %w", transports.ImageName(r), errors.ErrUnsupported)
}

func (r *listRef) DeleteImage(context.Context, *types.SystemContext) error {
	return fmt.Errorf("deleting through a list reference: %w", errors.ErrUnsupported)
}
