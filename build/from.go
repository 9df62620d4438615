package build

import (
	"context"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/build/dockerfile"
	instr "github.com/kiln-build/kiln/build/instructions"
	"github.com/kiln-build/kiln/storage"
)

// from starts stage i from its base: an earlier stage, scratch or an image.
func (b *Builder) from(ctx context.Context, i int, def *instructions.Stage) (*stage, error) {
	from := "FROM " + def.BaseName
	if def.Name != "" {
		from += " AS " + def.Name
	}
	b.emit(Event{Type: "step", Stage: dockerfile.StageName(b.file, i), Step: b.nextStep(), Total: b.total, Instruction: from})
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
	plat, err := b.stagePlatform(def)
	if err != nil {
		return nil, err
	}
	if strings.EqualFold(def.BaseName, dockerfile.Scratch) {
		st, _ := instr.NewState(&storage.Image{OS: plat.OS, Architecture: plat.Architecture, Variant: plat.Variant,
			RootFS: storage.RootFS{Type: "layers"}})
		s.img = st.Image
		s.img.Config.WorkingDir = "/" // BuildKit's empty image has WorkingDir "/"
		s.key = stepKey("", "FROM scratch", s.img.OS, s.img.Architecture, s.img.Variant)
		return s, nil
	}
	rec, err := b.basePlatform(ctx, def.BaseName, plat)
	if err != nil {
		return nil, err
	}
	base, _, err := b.store.Config(ctx, rec)
	if err != nil {
		return nil, err
	}
	st, triggers := instr.NewState(base)
	s.img, s.top, s.baseTop, s.baseHistory = st.Image, rec.TopLayer, rec.TopLayer, len(base.History)
	s.key = stepKey(digest.Digest("sha256:"+rec.ID), "FROM image", plat.String())
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

// baseImage finds an image (COPY --from=IMAGE) for the build's target
// platform, pulling it as the pull policy says.
func (b *Builder) baseImage(ctx context.Context, name string) (*storage.ImageRecord, error) {
	return b.basePlatform(ctx, name, b.target())
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
		b.emit(Event{Type: "onbuild", Stage: s.name, Instruction: triggers[i]})
		if err := b.runStep(ctx, s, cmd); err != nil {
			return fmt.Errorf("running ONBUILD trigger %q: %w", triggers[i], err)
		}
	}
	return nil
}
