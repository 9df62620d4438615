package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/kiln-build/kiln/build/dockerfile"
	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/storage"
)

// Builder runs one build. It is not reused across builds.
type Builder struct {
	store  *storage.Store
	runner exec.Runner
	opts   Options
	file   *dockerfile.File
	bctx   *buildContext
	cache  *cache
	// globalArgs are the ARGs before the first FROM, KEY=VALUE.
	globalArgs []string
	// deps are each stage's dependencies.
	deps []dockerfile.Deps
	// done holds the finished stages by index.
	done map[int]*stage
	// step counts steps for "STEP n/total" lines.
	step, total int
	// etc are the generated /etc files steps see, made once under etcMu.
	etc   etcPaths
	etcMu sync.Mutex
	// cleanups run when the build ends, however it ends.
	cleanups []func()
	// spareWork are work directories of finished steps, for the next ones.
	spareWork []string
	// mu guards the fields above that concurrent stages share.
	mu sync.Mutex
}

// Build builds opts.Dockerfile in opts.ContextDir with runner as the step
// sandbox, and commits and tags the result.
func Build(ctx context.Context, store *storage.Store, runner exec.Runner, opts Options) (*Result, error) {
	if opts.Name == "" {
		opts.Name = "Dockerfile"
	}
	if opts.Out == nil {
		opts.Out = io.Discard
	}
	if opts.Err == nil {
		opts.Err = opts.Out
	}
	if opts.OS == "" {
		opts.OS = runtime.GOOS
	}
	if opts.Arch == "" {
		opts.Arch = runtime.GOARCH
	}
	file, err := dockerfile.Parse(bytes.NewReader(opts.Dockerfile), opts.Name)
	if err != nil {
		return nil, err
	}
	if file.Syntax != "" && opts.Progress != nil {
		opts.Progress(Event{Type: "notice", Time: time.Now().UTC(),
			Message: fmt.Sprintf("ignoring syntax directive %q: kiln has one built-in Dockerfile frontend", file.Syntax)})
	}
	bctx, err := newContext(opts.ContextDir, opts.IgnoreFile)
	if err != nil {
		return nil, err
	}
	bctx.sums = openStatCache(store.GraphRoot(), bctx.dir)
	// The stat cache only saves reading files next time: failing to write
	// it does not fail the build.
	defer func() { _ = bctx.sums.save() }()
	b := &Builder{store: store, runner: runner, opts: opts, file: file, bctx: bctx,
		cache: newCache(store.GraphRoot()), done: map[int]*stage{}}
	defer func() {
		for _, f := range b.cleanups { // every stage has ended here
			f()
		}
	}()
	b.globalArgs, err = dockerfile.ExpandFrom(file, dockerfile.ArgValues{Build: opts.BuildArgs, Predefined: b.platformArgs()})
	if err != nil {
		return nil, err
	}
	if b.deps, err = dockerfile.StageDeps(file); err != nil {
		return nil, err
	}
	needed, err := dockerfile.Needed(file, opts.Target)
	if err != nil {
		return nil, err
	}
	for _, i := range needed {
		b.total += 1 + len(file.Stages[i].Commands)
	}
	last, err := b.runStages(ctx, needed)
	if err != nil {
		return nil, err
	}
	return b.commit(ctx, last)
}

// platformArgs are the automatic ARGs docker defines for every build.
func (b *Builder) platformArgs() map[string]string {
	target := b.opts.OS + "/" + b.opts.Arch
	if b.opts.Variant != "" {
		target += "/" + b.opts.Variant
	}
	host := runtime.GOOS + "/" + runtime.GOARCH
	return map[string]string{
		"TARGETPLATFORM": target, "TARGETOS": b.opts.OS, "TARGETARCH": b.opts.Arch, "TARGETVARIANT": b.opts.Variant,
		"BUILDPLATFORM": host, "BUILDOS": runtime.GOOS, "BUILDARCH": runtime.GOARCH, "BUILDVARIANT": "",
	}
}

// now is the time recorded for a new step: the fixed build timestamp when
// one was given.
func (b *Builder) now() time.Time {
	if b.opts.Timestamp != nil {
		return b.opts.Timestamp.UTC()
	}
	return time.Now().UTC()
}

// commit writes the final stage as an image and applies every tag.
func (b *Builder) commit(ctx context.Context, s *stage) (*Result, error) {
	img := s.img.Clone()
	for k, v := range b.opts.Labels {
		if img.Config.Labels == nil {
			img.Config.Labels = map[string]string{}
		}
		img.Config.Labels[k] = v
	}
	if n := len(img.History); n > 0 && img.History[n-1].Created != nil {
		img.Created = img.History[n-1].Created
	}
	top := s.top
	var err error
	switch {
	case b.opts.SquashAll:
		top, err = b.squashAll(ctx, s, img)
	case b.opts.Squash:
		top, err = b.squash(ctx, s, img)
	}
	if err != nil {
		return nil, err
	}
	var local, remote []string
	for _, t := range b.opts.Tags {
		if storage.HasTransport(t) {
			remote = append(remote, t)
		} else {
			local = append(local, t)
		}
	}
	first := ""
	if len(local) > 0 {
		first = local[0]
	}
	b.emit(Event{Type: "commit", Name: first})
	res, err := b.store.Commit(ctx, storage.CommitOptions{Config: img, TopLayer: top, Format: b.opts.Format,
		Annotations: b.opts.Annotations, Dest: first})
	if err != nil {
		return nil, err
	}
	if len(local) > 1 {
		if err := b.store.AddNames(res.ID, local[1:]); err != nil {
			return nil, err
		}
	}
	for _, dest := range remote {
		if _, err := b.store.Commit(ctx, storage.CommitOptions{Config: img, TopLayer: top, Format: b.opts.Format,
			Annotations: b.opts.Annotations, Dest: dest}); err != nil {
			return nil, err
		}
	}
	b.emit(Event{Type: "image", Image: res.ID, Tags: b.opts.Tags})
	if b.opts.Output.Type != "" {
		if err := b.writeOutput(ctx, res.ID, b.opts.Output); err != nil {
			return nil, err
		}
	}
	return &Result{ImageID: res.ID, ManifestDigest: res.ManifestDigest.String()}, nil
}

// errStep marks errors that already carry their step context.
var errStep = errors.New("build step")
