package storage

import (
	"context"
	"errors"
	"fmt"

	"go.podman.io/image/v5/docker/reference"
	"go.podman.io/image/v5/types"
)

// builtRef and builtTransport exist only so that containers/image can copy a
// builtSource; nothing parses them from a string.
type builtRef struct{ src *builtSource }

type builtTransport struct{}

func (builtTransport) Name() string { return "kiln-build" }
func (builtTransport) ParseReference(string) (types.ImageReference, error) {
	return nil, fmt.Errorf("kiln-build references cannot be parsed: %w", errors.ErrUnsupported)
}
func (builtTransport) ValidatePolicyConfigurationScope(string) error { return nil }

func (r *builtRef) Transport() types.ImageTransport         { return builtTransport{} }
func (r *builtRef) StringWithinTransport() string           { return r.src.configDigest.String() }
func (r *builtRef) DockerReference() reference.Named        { return nil }
func (r *builtRef) PolicyConfigurationIdentity() string     { return "" }
func (r *builtRef) PolicyConfigurationNamespaces() []string { return nil }

func (r *builtRef) NewImage(context.Context, *types.SystemContext) (types.ImageCloser, error) {
	return nil, fmt.Errorf("opening a built image directly: %w", errors.ErrUnsupported)
}

func (r *builtRef) NewImageSource(context.Context, *types.SystemContext) (types.ImageSource, error) {
	return r.src, nil
}

func (r *builtRef) NewImageDestination(context.Context, *types.SystemContext) (types.ImageDestination, error) {
	return nil, fmt.Errorf("writing to a built image: %w", errors.ErrUnsupported)
}

func (r *builtRef) DeleteImage(context.Context, *types.SystemContext) error {
	return fmt.Errorf("deleting a built image: %w", errors.ErrUnsupported)
}
