package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/docker/distribution/registry/api/errcode"
	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
	"go.podman.io/image/v5/docker"
	dockerarchive "go.podman.io/image/v5/docker/archive"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/image"
	"go.podman.io/image/v5/manifest"
	ociarchive "go.podman.io/image/v5/oci/archive"
	ocilayout "go.podman.io/image/v5/oci/layout"
	"go.podman.io/image/v5/pkg/shortnames"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/types"
)

// ErrAuth marks a registry's refusal of the credentials offered, or of
// access without any.
var ErrAuth = errors.New("authentication failed")

// PullOptions tune Pull.
type PullOptions struct {
	System SystemOptions
	// Progress receives "Trying to pull" lines and copy progress; nil is quiet.
	Progress io.Writer
}

// Pull copies an image into the store and returns it. A name with a
// transport ("oci-archive:x.tar") is read from there and stored under the
// name it carries, or untagged; a short name is resolved through
// registries.conf's aliases and unqualified-search registries, as podman does.
func (st *Store) Pull(ctx context.Context, name string, opts PullOptions) (*ImageRecord, error) {
	sys, err := opts.System.SystemContext()
	if err != nil {
		return nil, err
	}
	copts := CopyOptions{Sys: sys, Progress: opts.Progress}
	if HasTransport(name) {
		src, err := st.transportRef(name)
		if err != nil {
			return nil, err
		}
		named, err := storedName(src, sys)
		if err != nil {
			return nil, err
		}
		return st.copyIn(ctx, src, named, copts)
	}
	resolved, err := shortnames.Resolve(sys, name)
	if err != nil {
		return nil, fmt.Errorf("invalid image name %q: %w: %w", name, err, fs.ErrInvalid)
	}
	if d := resolved.Description(); d != "" && opts.Progress != nil {
		fmt.Fprintln(opts.Progress, d)
	}
	var errs []error
	for _, cand := range resolved.PullCandidates {
		if opts.Progress != nil {
			fmt.Fprintf(opts.Progress, "Trying to pull %s...\n", cand.Value)
		}
		src, err := docker.NewReference(cand.Value)
		if err != nil {
			return nil, fmt.Errorf("referring to %s: %w", cand.Value, err)
		}
		rec, err := st.copyIn(ctx, src, cand.Value, copts)
		if err == nil {
			if err := cand.Record(); err != nil {
				return nil, fmt.Errorf("recording short-name alias for %s: %w", cand.Value, err)
			}
			return rec, nil
		}
		if ctx.Err() != nil {
			return nil, err
		}
		errs = append(errs, err)
	}
	if len(errs) == 1 {
		return nil, errs[0]
	}
	return nil, resolved.FormatPullErrors(errs)
}

// copyIn copies src into the store under named, or untagged when named is
// nil, and returns the stored image.
func (st *Store) copyIn(ctx context.Context, src types.ImageReference, named reference.Named, o CopyOptions) (*ImageRecord, error) {
	unlock, err := st.lockAgainstPrune(false)
	if err != nil {
		return nil, err
	}
	defer unlock()
	id := ""
	if named == nil {
		var err error
		if id, err = configID(ctx, src, o.Sys); err != nil {
			return nil, err
		}
	}
	dest, err := st.localRef(named, id)
	if err != nil {
		return nil, err
	}
	man, err := copyRetrying(ctx, src, dest, o)
	if err != nil {
		return nil, registryError(err)
	}
	st.recordSeen(ctx, src, man, o.Sys)
	if named != nil {
		return st.Lookup(named.String())
	}
	return st.Lookup(id)
}

// storedName is the name podman stores an image pulled from src under:
// the reference it carries, an OCI layout's image name, or nil (untagged).
func storedName(src types.ImageReference, sys *types.SystemContext) (reference.Named, error) {
	switch src.Transport().Name() {
	case ocilayout.Transport.Name():
		_, img, _ := strings.Cut(src.StringWithinTransport(), ":")
		return nameOrNil(img), nil
	case ociarchive.Transport.Name():
		desc, err := ociarchive.LoadManifestDescriptorWithContext(sys, src)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", transports.ImageName(src), err)
		}
		return nameOrNil(annotatedName(desc)), nil
	case dockerarchive.Transport.Name():
		if src.DockerReference() == nil {
			return archiveTag(src, sys)
		}
	}
	if named := src.DockerReference(); named != nil {
		return reference.TagNameOnly(named), nil
	}
	return nil, nil
}

// archiveTag is the first tag the docker-archive image src points to
// carries, or nil.
func archiveTag(src types.ImageReference, sys *types.SystemContext) (reference.Named, error) {
	r, ref, err := dockerarchive.NewReaderForReference(sys, src)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", transports.ImageName(src), err)
	}
	defer r.Close()
	tags, err := r.ManifestTagsForReference(ref)
	if err != nil || len(tags) == 0 {
		return nil, nil
	}
	return nameOrNil(tags[0]), nil
}

// annotatedName is the image name an OCI index entry carries.
func annotatedName(desc v1.Descriptor) string {
	if n := desc.Annotations["io.containerd.image.name"]; n != "" {
		return n
	}
	return desc.Annotations[v1.AnnotationRefName]
}

func nameOrNil(name string) reference.Named {
	if name == "" {
		return nil
	}
	named, err := NormalizeName(name)
	if err != nil {
		return nil
	}
	return named
}

// configID is the id an image from ref gets in the store: the digest of its
// config (of the instance for this platform, for a manifest list).
func configID(ctx context.Context, ref types.ImageReference, sys *types.SystemContext) (string, error) {
	src, err := ref.NewImageSource(ctx, sys)
	if err != nil {
		return "", registryError(fmt.Errorf("opening %s: %w", transports.ImageName(ref), err))
	}
	defer src.Close()
	man, mt, err := src.GetManifest(ctx, nil)
	if err != nil {
		return "", registryError(fmt.Errorf("reading manifest of %s: %w", transports.ImageName(ref), err))
	}
	var instance *digest.Digest
	if manifest.MIMETypeIsMultiImage(mt) {
		list, err := manifest.ListFromBlob(man, mt)
		if err != nil {
			return "", fmt.Errorf("parsing manifest list of %s: %w", transports.ImageName(ref), err)
		}
		d, err := list.ChooseInstance(sys)
		if err != nil {
			return "", fmt.Errorf("choosing an image of %s: %w", transports.ImageName(ref), err)
		}
		instance = &d
	}
	img, err := image.FromUnparsedImage(ctx, sys, image.UnparsedInstance(src, instance))
	if err != nil {
		return "", fmt.Errorf("reading image %s: %w", transports.ImageName(ref), err)
	}
	return img.ConfigInfo().Digest.Encoded(), nil
}

// transportRef parses "transport:details". A containers-storage reference
// without a [driver@root] prefix means this store, not the default one.
func (st *Store) transportRef(name string) (types.ImageReference, error) {
	if rest, ok := strings.CutPrefix(name, istorage.Transport.Name()+":"); ok && !strings.HasPrefix(rest, "[") {
		ref, err := istorage.Transport.ParseStoreReference(st.s, rest)
		if err != nil {
			return nil, fmt.Errorf("parsing image reference %q: %w: %w", name, err, fs.ErrInvalid)
		}
		return ref, nil
	}
	return ParseTransportRef(name)
}

// PushOptions tune Push.
type PushOptions struct {
	System SystemOptions
	// Dest is any transport reference; a name without transport means
	// docker://NAME, and "" the image's own name in a registry.
	Dest string
	// Format forces the manifest type: "oci", "docker" (also "v2s2"), or
	// "" to keep the image's.
	Format           string
	RemoveSignatures bool
	Progress         io.Writer
	// Compression is the layer compression: "gzip", "zstd" or
	// "zstd:chunked"; "" means gzip. When set, every layer is compressed
	// and sent in it, never substituted by a copy in another compression.
	Compression string
	// CompressionLevel, when set, is the compressor's level.
	CompressionLevel *int
}

// Push copies a stored image to a registry or any transport and returns the
// digest of the manifest written.
func (st *Store) Push(ctx context.Context, name string, opts PushOptions) (digest.Digest, error) {
	img, matched, err := st.resolve(name)
	if err != nil {
		return "", err
	}
	dest := opts.Dest
	switch {
	case dest == "" && matched == "":
		return "", fmt.Errorf("pushing image %s given by id: name a destination: %w", shortID(img.ID), fs.ErrInvalid)
	case dest == "":
		dest = matched
	}
	dref, mt, sys, err := st.pushTarget(dest, opts.Format, opts.System)
	if err != nil {
		return "", err
	}
	destSys, err := withCompression(sys, opts.Compression, opts.CompressionLevel)
	if err != nil {
		return "", err
	}
	src, err := st.localRef(nil, img.ID)
	if err != nil {
		return "", err
	}
	copts := CopyOptions{Sys: sys, DestSys: destSys, Progress: opts.Progress, ManifestType: mt,
		RemoveSignatures: opts.RemoveSignatures, ForceCompression: opts.Compression != ""}
	man, err := st.pushReusing(ctx, src, dref, copts, opts.Compression)
	if err != nil {
		return "", registryError(err)
	}
	st.recordSeen(ctx, dref, man, sys)
	return digest.FromBytes(man), nil
}

func manifestType(format string) (string, error) {
	switch format {
	case "":
		return "", nil
	case FormatOCI:
		return v1.MediaTypeImageManifest, nil
	case FormatDocker, "v2s2":
		return manifest.DockerV2Schema2MediaType, nil
	}
	return "", fmt.Errorf("unknown manifest format %q: want oci or docker: %w", format, fs.ErrInvalid)
}

// registryError marks a registry's refusal of credentials with ErrAuth, and
// says so in words when the registry's own message doesn't.
func registryError(err error) error {
	if err == nil || !isAuthError(err) {
		return err
	}
	return &authError{err: err}
}

type authError struct{ err error }

func (e *authError) Error() string {
	msg := e.err.Error()
	if strings.Contains(msg, "unauthorized") || strings.Contains(msg, "authentication") {
		return msg
	}
	return msg + " (unauthorized: check the credentials, or log in)"
}

func (e *authError) Unwrap() []error { return []error{e.err, ErrAuth} }

func isAuthError(err error) bool {
	var unauth docker.ErrUnauthorizedForCredentials
	if errors.As(err, &unauth) {
		return true
	}
	var ec errcode.Error
	if errors.As(err, &ec) {
		return ec.Code == errcode.ErrorCodeUnauthorized || ec.Code == errcode.ErrorCodeDenied
	}
	var ecs errcode.Errors
	if errors.As(err, &ecs) {
		for _, e := range ecs {
			if isAuthError(e) {
				return true
			}
		}
	}
	return false
}

// pushTarget resolves where a push goes (docker:// when dest names no
// transport), the manifest type --format asks for and the registry settings.
func (st *Store) pushTarget(dest, format string, system SystemOptions) (types.ImageReference, string, *types.SystemContext, error) {
	if !HasTransport(dest) {
		dest = "docker://" + dest
	}
	dref, err := st.transportRef(dest)
	if err != nil {
		return nil, "", nil, err
	}
	mt, err := manifestType(format)
	if err != nil {
		return nil, "", nil, err
	}
	sys, err := system.SystemContext()
	if err != nil {
		return nil, "", nil, err
	}
	return dref, mt, sys, nil
}
