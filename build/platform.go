package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/build/dockerfile"
	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/storage"
)

// target is the platform the build produces.
func (b *Builder) target() storage.Platform {
	return storage.Platform{OS: b.opts.OS, Architecture: b.opts.Arch, Variant: b.opts.Variant}.Normalize()
}

// stagePlatform is the platform a stage's base is chosen for: its FROM
// --platform (already expanded, so $BUILDPLATFORM is the host's), else the
// build's target.
func (b *Builder) stagePlatform(def *instructions.Stage) (storage.Platform, error) {
	if def.Platform == "" {
		return b.target(), nil
	}
	p, err := storage.ParsePlatform(def.Platform)
	if err != nil {
		return p, fmt.Errorf("FROM --platform: %w", err)
	}
	return p, nil
}

// basePlatform finds the base image name for platform p: the instance of a
// stored manifest list, a stored image of that platform, or else a pull of
// it for p. A base that offers no such platform is a *storage.PlatformError
// naming what it does offer.
func (b *Builder) basePlatform(ctx context.Context, name string, p storage.Platform) (*storage.ImageRecord, error) {
	policy := b.opts.Pull
	if policy == "" {
		policy = "missing"
	}
	var local error
	if policy != "always" {
		rec, err := b.store.Lookup(name)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if err == nil && policy == "newer" && !localOnly(name) {
			return b.pullNewer(ctx, name, rec, p)
		}
		if err == nil {
			inst, err := b.store.ForPlatform(ctx, name, rec, p)
			var perr *storage.PlatformError
			if err == nil || !errors.As(err, &perr) || policy == "never" || localOnly(name) {
				return inst, err
			}
			local = err
		} else if policy == "never" {
			return nil, fmt.Errorf("base image %q is not in the store and --pull=never: %w", name, fs.ErrNotExist)
		}
	}
	b.emit(Event{Type: "pull", Name: name + " for " + p.String()})
	var progress io.Writer
	if !b.opts.Quiet {
		progress = b.opts.Err
	}
	sys := b.opts.Sys
	sys.OS, sys.Architecture, sys.Variant = p.OS, p.Architecture, p.Variant
	rec, err := b.store.Pull(ctx, name, storage.PullOptions{System: sys, Progress: progress})
	if err != nil {
		if local != nil {
			return nil, fmt.Errorf("%w, and pulling it for %s: %w", local, p, err)
		}
		return nil, err
	}
	return b.store.ForPlatform(ctx, name, rec, p)
}

// localOnly reports a name no registry can serve: localhost/ images.
func localOnly(name string) bool {
	if storage.HasTransport(name) {
		return false
	}
	n, err := storage.NormalizeName(name)
	return err == nil && strings.HasPrefix(n.String(), "localhost/")
}

// checkEmulator makes sure the kernel can run the stage image's binaries
// before a RUN starts anything, so a missing QEMU registration is one clear
// error and not "exec format error".
func (b *Builder) checkEmulator(s *stage) error {
	arch := storage.Platform{OS: "linux", Architecture: s.img.Architecture}.Normalize().Architecture
	if err := exec.CheckEmulator(arch); err != nil {
		return fmt.Errorf("RUN for %s/%s: %w", s.img.OS, arch, err)
	}
	return nil
}

// MultiOptions describe a build for several platforms.
type MultiOptions struct {
	// Platforms are built in order; each gets its own image.
	Platforms []storage.Platform
	// Manifest names the manifest list the images are added to (created
	// when missing, amended when present).
	Manifest string
}

// MultiResult is what BuildPlatforms produced.
type MultiResult struct {
	// ListID is the manifest list's id in the store.
	ListID string
	// Images are the images built, by platform.
	Images map[string]string
}

// BuildPlatforms builds opts once per platform, each image untagged, and
// adds them to the manifest list mo.Manifest.
func BuildPlatforms(ctx context.Context, store *storage.Store, runner exec.Runner, opts Options, mo MultiOptions) (*MultiResult, error) {
	if mo.Manifest == "" {
		return nil, fmt.Errorf("building for several platforms needs --manifest or -t to name the manifest list: %w", fs.ErrInvalid)
	}
	if storage.HasTransport(mo.Manifest) {
		return nil, fmt.Errorf("manifest list %q: a multi-platform build writes a list to the store; push it with kiln manifest push: %w",
			mo.Manifest, fs.ErrInvalid)
	}
	res := &MultiResult{Images: map[string]string{}}
	for _, p := range mo.Platforms {
		o := opts
		o.OS, o.Arch, o.Variant = p.OS, p.Architecture, p.Variant
		if len(mo.Platforms) > 1 {
			o.Tags = nil // the names go to the list
		}
		notice(opts, fmt.Sprintf("building for %s", p))
		r, err := Build(ctx, store, runner, o)
		if err != nil {
			return nil, fmt.Errorf("building for %s: %w", p, err)
		}
		res.Images[p.String()] = r.ImageID
	}
	id, err := store.CreateList(mo.Manifest, storage.ManifestOptions{Amend: true})
	if err != nil {
		return nil, err
	}
	res.ListID = id
	for _, p := range mo.Platforms {
		if _, err := store.ListAdd(ctx, id, res.Images[p.String()], storage.InstanceOptions{}); err != nil {
			return nil, fmt.Errorf("adding the %s image to %s: %w", p, mo.Manifest, err)
		}
	}
	if len(mo.Platforms) > 1 && len(opts.Tags) > 0 {
		if err := store.Tag(id, opts.Tags...); err != nil {
			return nil, err
		}
	}
	notice(opts, fmt.Sprintf("manifest list %s: %d images", mo.Manifest, len(mo.Platforms)))
	return res, nil
}

// notice sends a free-text event to the build's progress function.
func notice(opts Options, msg string) {
	if opts.Progress != nil {
		opts.Progress(Event{Type: "notice", Time: time.Now().UTC(), Message: msg})
	}
}

// BasePlatforms are the platforms every base image of the build offers, for
// --all-platforms: the intersection over the stages' image bases, which must
// be in the store. Stages with FROM --platform do not count.
func BasePlatforms(ctx context.Context, store *storage.Store, opts Options) ([]storage.Platform, error) {
	file, err := dockerfile.Parse(bytes.NewReader(opts.Dockerfile), opts.Name)
	if err != nil {
		return nil, err
	}
	b := &Builder{opts: opts}
	b.opts.OS, b.opts.Arch = runtime.GOOS, runtime.GOARCH
	if _, err := dockerfile.ExpandFrom(file, dockerfile.ArgValues{Build: opts.BuildArgs, Predefined: b.platformArgs()}); err != nil {
		return nil, err
	}
	var common []storage.Platform
	first := true
	for i, st := range file.Stages {
		if st.Platform != "" || strings.EqualFold(st.BaseName, dockerfile.Scratch) || isStageRef(file, st.BaseName, i) {
			continue
		}
		rec, err := store.Lookup(st.BaseName)
		if err != nil {
			return nil, fmt.Errorf("--all-platforms: base image %s: %w", st.BaseName, err)
		}
		offered, err := store.OfferedPlatforms(ctx, rec)
		if err != nil {
			return nil, err
		}
		if first {
			common, first = offered, false
			continue
		}
		common = slices.DeleteFunc(common, func(p storage.Platform) bool {
			return !slices.ContainsFunc(offered, p.Matches)
		})
	}
	if len(common) == 0 {
		return nil, fmt.Errorf("--all-platforms: the base images have no platform in common: %w", fs.ErrNotExist)
	}
	return common, nil
}

// isStageRef reports whether name names a stage before stage i.
func isStageRef(f *dockerfile.File, name string, i int) bool {
	for j := 0; j < i; j++ {
		if strings.EqualFold(f.Stages[j].Name, name) {
			return true
		}
	}
	return false
}
