package build

import (
	"context"
	"fmt"
	"os"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/exec"
)

// workdir creates the WORKDIR (already applied to the config) when the
// image lacks it, owned by the stage's user, as BuildKit does; an existing
// directory yields no layer.
func (b *Builder) workdir(ctx context.Context, s *stage, c *instructions.WorkdirCommand) error {
	dir := s.img.Config.WorkingDir
	key := stepKey(s.key, "WORKDIR", dir, s.img.Config.User, timestampKey(b.opts.Timestamp))
	return b.layerStep(ctx, s, c, key, func(w *workspace) error {
		cp := &copier{root: w.root}
		if full, err := cp.resolve(dir); err == nil {
			if st, err := os.Stat(full); err == nil && st.IsDir() {
				return nil
			}
		}
		if s.img.Config.User != "" {
			u, err := exec.LookupUser(w.root, s.img.Config.User)
			if err != nil {
				return err
			}
			cp.uid, cp.gid, cp.chown = int(u.UID), int(u.GID), true
		}
		full, err := cp.mkdirAll(dir)
		if err != nil {
			return fmt.Errorf("creating WORKDIR %s: %w", dir, err)
		}
		if b.opts.Timestamp != nil {
			return os.Chtimes(full, *b.opts.Timestamp, *b.opts.Timestamp)
		}
		return nil
	})
}
