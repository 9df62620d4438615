package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"

	"go.podman.io/image/v5/copy"
	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/signature"
	istorage "go.podman.io/image/v5/storage"
	"go.podman.io/image/v5/transports"
	"go.podman.io/image/v5/transports/alltransports"
	"go.podman.io/image/v5/types"
)

// SystemOptions are the registry and platform settings shared by every
// command that talks to a transport.
type SystemOptions struct {
	// TLSVerify is nil to follow registries.conf.
	TLSVerify *bool
	CertDir   string
	AuthFile  string
	// Creds is "user[:password]".
	Creds        string
	OS           string
	Architecture string
	Variant      string
	// PolicyPath is the signature policy (default: policy.json where podman
	// looks for it).
	PolicyPath string
}

// SystemContext turns opts into containers/image's settings.
func (o SystemOptions) SystemContext() (*types.SystemContext, error) {
	sys := &types.SystemContext{
		DockerCertPath:              o.CertDir,
		AuthFilePath:                o.AuthFile,
		SignaturePolicyPath:         o.PolicyPath,
		OSChoice:                    o.OS,
		ArchitectureChoice:          o.Architecture,
		VariantChoice:               o.Variant,
		DockerRegistryUserAgent:     "kiln",
		BigFilesTemporaryDir:        os.Getenv("TMPDIR"),
		DockerArchiveAdditionalTags: nil,
	}
	if sys.AuthFilePath == "" {
		sys.AuthFilePath = os.Getenv("REGISTRY_AUTH_FILE")
	}
	if o.TLSVerify != nil {
		sys.DockerInsecureSkipTLSVerify = types.NewOptionalBool(!*o.TLSVerify)
		sys.OCIInsecureSkipTLSVerify = !*o.TLSVerify
		sys.DockerDaemonInsecureSkipTLSVerify = !*o.TLSVerify
	}
	if o.Creds != "" {
		user, pass, _ := strings.Cut(o.Creds, ":")
		if user == "" {
			return nil, fmt.Errorf("parsing --creds: user name is empty: %w", fs.ErrInvalid)
		}
		sys.DockerAuthConfig = &types.DockerAuthConfig{Username: user, Password: pass}
	}
	return sys, nil
}

// HasTransport reports whether name starts with a containers/image transport
// such as docker:// or oci-archive:.
func HasTransport(name string) bool {
	tname, _, ok := strings.Cut(name, ":")
	return ok && transports.Get(tname) != nil
}

// ParseTransportRef parses "transport:details".
func ParseTransportRef(name string) (types.ImageReference, error) {
	ref, err := alltransports.ParseImageName(name)
	if err != nil {
		return nil, fmt.Errorf("parsing image reference %q: %w: %w", name, err, fs.ErrInvalid)
	}
	return ref, nil
}

// NormalizeName turns a user's image name into the full name kiln stores:
// names without a registry get podman's localhost/ prefix, names without a
// tag or digest get :latest.
func NormalizeName(name string) (reference.Named, error) {
	if strings.ContainsAny(name, " \t\n") || name == "" {
		return nil, fmt.Errorf("invalid image name %q: %w", name, fs.ErrInvalid)
	}
	first, _, hasSlash := strings.Cut(name, "/")
	if !hasSlash || !strings.ContainsAny(first, ".:") && first != "localhost" {
		name = "localhost/" + name
	}
	named, err := reference.ParseNormalizedNamed(name)
	if err != nil {
		return nil, fmt.Errorf("invalid image name %q: %w: %w", strings.TrimPrefix(name, "localhost/"), err, fs.ErrInvalid)
	}
	return reference.TagNameOnly(named), nil
}

// localRef is a reference to name (or an image id) in this store.
func (st *Store) localRef(named reference.Named, id string) (types.ImageReference, error) {
	ref, err := istorage.Transport.NewStoreReference(st.s, named, id)
	if err != nil {
		return nil, fmt.Errorf("referring to %v in the store: %w", named, err)
	}
	return ref, nil
}

// DestRef resolves a destination given by a user: a transport reference, or
// a name to tag in this store.
func (st *Store) DestRef(name string) (types.ImageReference, error) {
	if HasTransport(name) {
		return ParseTransportRef(name)
	}
	named, err := NormalizeName(name)
	if err != nil {
		return nil, err
	}
	return st.localRef(named, "")
}

// CopyOptions tune a copy between two references.
type CopyOptions struct {
	Sys *types.SystemContext
	// DestSys, when set, is used for the destination instead of Sys.
	DestSys *types.SystemContext
	// Progress receives human-readable progress lines; nil is quiet.
	Progress io.Writer
	// ManifestType forces a manifest format ("" keeps the source's).
	ManifestType string
	// AllImages copies every image of a manifest list.
	AllImages bool
	// ListOnly copies a manifest list without its images.
	ListOnly bool
	// RemoveSignatures drops signatures, needed when a destination cannot hold them.
	RemoveSignatures bool
	// ForceCompression sends every layer in the destination system
	// context's compression format, never reusing one stored in another.
	ForceCompression bool
}

// policyContext reads policy.json as podman does; on a host with none it
// accepts everything, since a missing file is the common case on a fresh CI
// machine and signature checks then have nothing to enforce.
func policyContext(sys *types.SystemContext) (*signature.PolicyContext, error) {
	pol, err := signature.DefaultPolicy(sys)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) || sys.SignaturePolicyPath != "" {
			return nil, fmt.Errorf("reading signature policy: %w", err)
		}
		pol = &signature.Policy{Default: []signature.PolicyRequirement{signature.NewPRInsecureAcceptAnything()}}
	}
	pc, err := signature.NewPolicyContext(pol)
	if err != nil {
		return nil, fmt.Errorf("loading signature policy: %w", err)
	}
	return pc, nil
}

// copyImage copies src to dst and returns the manifest written.
func copyImage(ctx context.Context, src, dst types.ImageReference, o CopyOptions) ([]byte, error) {
	pc, err := policyContext(o.Sys)
	if err != nil {
		return nil, err
	}
	defer pc.Destroy()
	return copyWithPolicy(ctx, pc, src, dst, o)
}

// copyWithPolicy copies src to dst under the given signature policy.
func copyWithPolicy(ctx context.Context, pc *signature.PolicyContext, src, dst types.ImageReference, o CopyOptions) ([]byte, error) {
	destSys := o.DestSys
	if destSys == nil {
		destSys = o.Sys
	}
	// Layers are copied up to 6 at a time (containers/image's default
	// MaxParallelDownloads) and gzip compresses in parallel blocks (pgzip).
	opts := &copy.Options{
		SourceCtx:              o.Sys,
		DestinationCtx:         destSys,
		ReportWriter:           o.Progress,
		ForceManifestMIMEType:  o.ManifestType,
		RemoveSignatures:       o.RemoveSignatures,
		ImageListSelection:     copy.CopySystemImage,
		ForceCompressionFormat: o.ForceCompression,
	}
	if o.AllImages {
		opts.ImageListSelection = copy.CopyAllImages
	}
	if o.ListOnly {
		opts.ImageListSelection = copy.CopySpecificImages
	}
	man, err := copy.Image(ctx, pc, dst, src, opts)
	for attempt := 1; err != nil && attempt < stagingAttempts && stagingLost(err); attempt++ {
		man, err = copy.Image(ctx, pc, dst, src, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("copying %s to %s: %w", transports.ImageName(src), transports.ImageName(dst), err)
	}
	return man, nil
}
