package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"

	digest "github.com/opencontainers/go-digest"
	imgspec "github.com/opencontainers/image-spec/specs-go"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/manifest"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/types"
)

// Manifest formats for CommitOptions.Format.
const (
	FormatOCI    = "oci"
	FormatDocker = "docker"
)

// CommitOptions describe an image to write from stored layers.
type CommitOptions struct {
	// Config is the image config; its RootFS is filled from Layers.
	Config *Image
	// TopLayer is the image's top layer ("" for an image with no layers).
	TopLayer string
	// Format is FormatOCI (default) or FormatDocker.
	Format string
	// Annotations go into an OCI manifest.
	Annotations map[string]string
	// Dest is where the image goes: a name in this store or any transport.
	Dest string
	// Progress receives copy progress for non-local destinations.
	Progress io.Writer
	// Sys holds registry settings for non-local destinations.
	Sys *types.SystemContext
}

// CommitResult tells what Commit wrote.
type CommitResult struct {
	// ID is the image id in this store ("" when written elsewhere).
	ID             string
	ManifestDigest digest.Digest
	ConfigDigest   digest.Digest
}

// Commit writes an image made of stored layers and a config to opts.Dest.
// Layers already in the destination store are reused, not copied.
func (st *Store) Commit(ctx context.Context, opts CommitOptions) (*CommitResult, error) {
	unlock, err := st.lockAgainstPrune(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	src, err := st.newBuiltSource(opts)
	if err != nil {
		return nil, err
	}
	var dest types.ImageReference
	if opts.Dest == "" {
		// An untagged image is known by its id, the config digest.
		dest, err = st.localRef(nil, src.configDigest.Encoded())
	} else {
		dest, err = st.DestRef(opts.Dest)
	}
	if err != nil {
		return nil, err
	}
	// Our own build output needs no signature check; a policy.json that
	// rejects everything by default must not stop a local commit.
	pc, err := signature.NewPolicyContext(&signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}})
	if err != nil {
		return nil, fmt.Errorf("creating commit policy: %w", err)
	}
	defer pc.Destroy()
	sys := opts.Sys
	if sys == nil {
		sys = &types.SystemContext{}
	}
	ref := &builtRef{src: src}
	man, err := copyWithPolicy(ctx, pc, ref, dest, CopyOptions{Sys: sys, Progress: opts.Progress})
	if err != nil {
		return nil, fmt.Errorf("committing image to %s: %w", opts.Dest, err)
	}
	st.recordSeen(ctx, dest, man, sys)
	res := &CommitResult{ManifestDigest: digest.FromBytes(man), ConfigDigest: src.configDigest}
	if dest.Transport().Name() == istorage.Transport.Name() {
		res.ID = src.configDigest.Encoded()
	}
	return res, nil
}

// builtSource serves a manifest, a config and stored layers to
// containers/image as if they were an image somewhere.
type builtSource struct {
	st           *Store
	manifest     []byte
	mimeType     string
	config       []byte
	configDigest digest.Digest
	layers       map[digest.Digest]string // diff id → layer id
}

func (st *Store) newBuiltSource(opts CommitOptions) (*builtSource, error) {
	if opts.Config == nil {
		return nil, fmt.Errorf("committing an image without a config: %w", fs.ErrInvalid)
	}
	chain, err := st.LayerChain(opts.TopLayer)
	if err != nil {
		return nil, err
	}
	cfg := opts.Config.Clone()
	cfg.RootFS = RootFS{Type: "layers", DiffIDs: []digest.Digest{}}
	src := &builtSource{st: st, layers: map[digest.Digest]string{}}
	var descs []v1.Descriptor
	for _, l := range chain {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		src.layers[l.DiffID] = l.ID
		descs = append(descs, v1.Descriptor{MediaType: v1.MediaTypeImageLayer, Digest: l.DiffID, Size: l.Size})
	}
	if src.config, err = json.Marshal(cfg); err != nil {
		return nil, fmt.Errorf("encoding image config: %w", err)
	}
	src.configDigest = digest.FromBytes(src.config)
	cfgDesc := v1.Descriptor{MediaType: v1.MediaTypeImageConfig, Digest: src.configDigest, Size: int64(len(src.config))}
	if opts.Format == FormatDocker {
		return src, src.dockerManifest(cfgDesc, descs)
	}
	m := v1.Manifest{Versioned: imgspec.Versioned{SchemaVersion: 2}, MediaType: v1.MediaTypeImageManifest,
		Config: cfgDesc, Layers: descs, Annotations: opts.Annotations}
	if m.Layers == nil {
		m.Layers = []v1.Descriptor{}
	}
	src.mimeType = v1.MediaTypeImageManifest
	if src.manifest, err = json.Marshal(m); err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	return src, nil
}

func (s *builtSource) dockerManifest(cfg v1.Descriptor, layers []v1.Descriptor) error {
	m := manifest.Schema2FromComponents(
		manifest.Schema2Descriptor{MediaType: manifest.DockerV2Schema2ConfigMediaType, Digest: cfg.Digest, Size: cfg.Size},
		nil)
	for _, l := range layers {
		m.LayersDescriptors = append(m.LayersDescriptors, manifest.Schema2Descriptor{
			MediaType: manifest.DockerV2SchemaLayerMediaTypeUncompressed, Digest: l.Digest, Size: l.Size})
	}
	if m.LayersDescriptors == nil {
		m.LayersDescriptors = []manifest.Schema2Descriptor{}
	}
	b, err := m.Serialize()
	if err != nil {
		return fmt.Errorf("encoding docker manifest: %w", err)
	}
	s.manifest, s.mimeType = b, manifest.DockerV2Schema2MediaType
	return nil
}

func (s *builtSource) Reference() types.ImageReference { return &builtRef{src: s} }
func (s *builtSource) Close() error                    { return nil }
func (s *builtSource) HasThreadSafeGetBlob() bool      { return true }

func (s *builtSource) GetManifest(ctx context.Context, instance *digest.Digest) ([]byte, string, error) {
	if instance != nil {
		return nil, "", fmt.Errorf("built image has no instance %s: %w", instance, fs.ErrNotExist)
	}
	return s.manifest, s.mimeType, nil
}

func (s *builtSource) GetBlob(ctx context.Context, info types.BlobInfo, _ types.BlobInfoCache) (io.ReadCloser, int64, error) {
	if info.Digest == s.configDigest {
		return io.NopCloser(bytes.NewReader(s.config)), int64(len(s.config)), nil
	}
	id, ok := s.layers[info.Digest]
	if !ok {
		return nil, -1, fmt.Errorf("built image has no blob %s: %w", info.Digest, fs.ErrNotExist)
	}
	rc, err := s.st.LayerTar(id)
	if err != nil {
		return nil, -1, err
	}
	return rc, -1, nil
}

func (s *builtSource) GetSignatures(context.Context, *digest.Digest) ([][]byte, error) {
	return nil, nil
}

func (s *builtSource) LayerInfosForCopy(context.Context, *digest.Digest) ([]types.BlobInfo, error) {
	return nil, nil
}
