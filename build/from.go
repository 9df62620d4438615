package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/build/dockerfile"
	instr "github.com/kiln-build/kiln/build/instructions"
	"github.com/kiln-build/kiln/storage"
)

// from starts stage i from its base: an earlier stage, scratch or an image.
func (b *Builder) from(ctx context.Context, i int, def *instructions.Stage) (*stage, error) {
	as := ""
	if def.Name != "" {
		as = " AS " + def.Name
	}
	b.printf("STEP %d/%d: FROM %s%s\n", b.nextStep(), b.total, def.BaseName, as)
	s := &stage{index: i, name: def.Name}
	if j := b.deps[i].Base; j >= 0 {
		prev := b.stageDone(j)
		if prev == nil {
			return nil, fmt.Errorf("stage %q was not built", def.BaseName)
		}
		s.img, s.top, s.key = prev.img.Clone(), prev.top, stepKey(prev.key, "FROM stage")
		// BuildKit carries the base stage's ARGs (values and names) into this one, but not its
		// ONBUILD triggers.
		s.args, s.argKeys = append([]string{}, prev.args...), append([]string{}, prev.argKeys...)
		s.img.Config.OnBuild = nil
		s.baseTop, s.baseHistory = s.top, len(s.img.History)
		return s, nil
	}
	if strings.EqualFold(def.BaseName, dockerfile.Scratch) {
		st, _ := instr.NewState(&storage.Image{OS: b.opts.OS, Architecture: b.opts.Arch, Variant: b.opts.Variant,
			RootFS: storage.RootFS{Type: "layers"}})
		s.img = st.Image
		s.img.Config.WorkingDir = "/" // BuildKit's empty image has WorkingDir "/"
		s.key = stepKey("", "FROM scratch", s.img.OS, s.img.Architecture, s.img.Variant)
		return s, nil
	}
	rec, err := b.baseImage(ctx, def.BaseName)
	if err != nil {
		return nil, err
	}
	base, _, err := b.store.Config(ctx, rec)
	if err != nil {
		return nil, err
	}
	st, triggers := instr.NewState(base)
	s.img, s.top, s.baseTop, s.baseHistory = st.Image, rec.TopLayer, rec.TopLayer, len(base.History)
	s.key = stepKey(digest.Digest("sha256:"+rec.ID), "FROM image")
	return s, b.onBuild(ctx, s, triggers)
}

// stageIndex finds an earlier stage by name or index.
func (b *Builder) stageIndex(name string, before int) (int, bool) {
	for j := 0; j < before; j++ {
		if strings.EqualFold(b.file.Stages[j].Name, name) || fmt.Sprint(j) == name {
			return j, true
		}
	}
	return 0, false
}

// baseImage finds a base image in the store, pulling it as the pull policy
// says.
func (b *Builder) baseImage(ctx context.Context, name string) (*storage.ImageRecord, error) {
	policy := b.opts.Pull
	if policy == "" {
		policy = "missing"
	}
	if policy != "always" {
		rec, err := b.store.Lookup(name)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return rec, err
		}
		if policy == "never" {
			return nil, fmt.Errorf("base image %q is not in the store and --pull=never: %w", name, fs.ErrNotExist)
		}
	}
	b.printf("Pulling %s\n", name)
	var progress io.Writer
	if !b.opts.Quiet {
		progress = b.opts.Err
	}
	return b.store.Pull(ctx, name, storage.PullOptions{System: b.opts.Sys, Progress: progress})
}

// onBuild runs the ONBUILD triggers a base image carries, as docker does
// before the stage's own steps, and clears them from the new image.
func (b *Builder) onBuild(ctx context.Context, s *stage, triggers []string) error {
	if len(triggers) == 0 {
		return nil
	}
	cmds, err := instr.Triggers(triggers)
	if err != nil {
		return err
	}
	for i, cmd := range cmds {
		b.printf("ONBUILD %s\n", triggers[i])
		if err := b.runStep(ctx, s, cmd); err != nil {
			return fmt.Errorf("running ONBUILD trigger %q: %w", triggers[i], err)
		}
	}
	return nil
}
