package storage

import (
	"context"
	"fmt"
	"io/fs"
	"runtime"
	"strings"

	digest "github.com/opencontainers/go-digest"
	v1 "github.com/opencontainers/image-spec/specs-go/v1"
)

// Platform is an image's OS, architecture and variant, in Go's names.
type Platform struct {
	OS, Architecture, Variant string
}

// HostPlatform is the platform kiln runs on.
func HostPlatform() Platform {
	return Platform{OS: runtime.GOOS, Architecture: runtime.GOARCH}
}

// ParsePlatform parses "os/arch[/variant]", normalizing the architecture
// names other tools use (x86_64, aarch64).
func ParsePlatform(s string) (Platform, error) {
	parts := strings.Split(strings.TrimSpace(s), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return Platform{}, fmt.Errorf("platform %q: want OS/ARCH[/VARIANT]: %w", s, fs.ErrInvalid)
	}
	p := Platform{OS: strings.ToLower(parts[0]), Architecture: strings.ToLower(parts[1])}
	if len(parts) == 3 {
		p.Variant = strings.ToLower(parts[2])
	}
	return p.Normalize(), nil
}

// Normalize maps architecture aliases to Go's names and drops default
// variants (arm64/v8, amd64/v1), as containerd's platforms package does.
func (p Platform) Normalize() Platform {
	switch p.Architecture {
	case "x86_64", "x86-64":
		p.Architecture = "amd64"
	case "aarch64":
		p.Architecture = "arm64"
	case "i386", "i686":
		p.Architecture = "386"
	case "armhf":
		p.Architecture, p.Variant = "arm", "v7"
	case "armel":
		p.Architecture, p.Variant = "arm", "v6"
	}
	if p.Architecture == "arm64" && p.Variant == "v8" || p.Architecture == "amd64" && p.Variant == "v1" {
		p.Variant = ""
	}
	if p.Architecture == "arm" && p.Variant == "" {
		p.Variant = "v7"
	}
	return p
}

// String is "os/arch[/variant]".
func (p Platform) String() string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Matches reports whether an image of platform have satisfies p. An empty
// variant on either side matches any.
func (p Platform) Matches(have Platform) bool {
	a, b := p.Normalize(), have.Normalize()
	if a.OS != b.OS || a.Architecture != b.Architecture {
		return false
	}
	return a.Variant == "" || b.Variant == "" || a.Variant == b.Variant
}

// PlatformError says that a base image offers no image for a platform.
type PlatformError struct {
	Name string
	Want Platform
	Have []Platform
}

func (e *PlatformError) Error() string {
	have := make([]string, 0, len(e.Have))
	for _, p := range e.Have {
		have = append(have, p.String())
	}
	if len(have) == 0 {
		have = append(have, "none")
	}
	return fmt.Sprintf("image %s has no %s image; it offers %s", e.Name, e.Want, strings.Join(have, ", "))
}

// Is makes a PlatformError an fs.ErrNotExist.
func (e *PlatformError) Is(target error) bool { return target == fs.ErrNotExist }

// ImagePlatform is the platform in a stored image's config.
func (st *Store) ImagePlatform(ctx context.Context, rec *ImageRecord) (Platform, error) {
	cfg, _, err := st.storedConfig(ctx, rec)
	if err != nil {
		return Platform{}, err
	}
	return Platform{OS: cfg.OS, Architecture: cfg.Architecture, Variant: cfg.Variant}.Normalize(), nil
}

// ForPlatform resolves a stored image to the image for want: the instance
// of a manifest list, or the image itself when its config says want. The
// error is a *PlatformError naming the platforms the image offers.
func (st *Store) ForPlatform(ctx context.Context, name string, rec *ImageRecord, want Platform) (*ImageRecord, error) {
	l, err := st.loadList(rec.ID)
	if err != nil {
		return nil, err
	}
	if l == nil {
		have, err := st.ImagePlatform(ctx, rec)
		if err != nil {
			return nil, err
		}
		if !want.Matches(have) {
			return nil, &PlatformError{Name: name, Want: want, Have: []Platform{have}}
		}
		return rec, nil
	}
	var have []Platform
	for _, m := range l.index.Manifests {
		p := descPlatform(m)
		have = append(have, p)
		if !want.Matches(p) {
			continue
		}
		inst, err := st.instanceImage(l, m.Digest)
		if err != nil {
			return nil, fmt.Errorf("resolving %s of manifest list %s: %w", p, name, err)
		}
		return inst, nil
	}
	return nil, &PlatformError{Name: name, Want: want, Have: have}
}

// descPlatform is the platform an index entry records.
func descPlatform(d v1.Descriptor) Platform {
	if d.Platform == nil {
		return Platform{}
	}
	return Platform{OS: d.Platform.OS, Architecture: d.Platform.Architecture, Variant: d.Platform.Variant}.Normalize()
}

// instanceImage finds the stored image of a list entry: the one the list
// recorded, else any image with that manifest digest.
func (st *Store) instanceImage(l *list, d digest.Digest) (*ImageRecord, error) {
	if id := l.instances[d]; id != "" {
		if img, err := st.s.Image(id); err == nil {
			return record(img), nil
		}
	}
	imgs, err := st.s.ImagesByDigest(d)
	if err != nil || len(imgs) == 0 {
		return nil, &NotFoundError{What: "image of manifest", Name: d.String()}
	}
	return record(imgs[0]), nil
}

// OfferedPlatforms lists the platforms a stored image serves: each entry of
// a manifest list, or the one in an image's config.
func (st *Store) OfferedPlatforms(ctx context.Context, rec *ImageRecord) ([]Platform, error) {
	l, err := st.loadList(rec.ID)
	if err != nil {
		return nil, err
	}
	if l == nil {
		p, err := st.ImagePlatform(ctx, rec)
		if err != nil {
			return nil, err
		}
		return []Platform{p}, nil
	}
	var out []Platform
	for _, m := range l.index.Manifests {
		out = append(out, descPlatform(m))
	}
	return out, nil
}
