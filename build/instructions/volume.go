package instructions

import (
	"errors"
	"fmt"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// applyVolume adds each path to Volumes, as written (not cleaned). A path
// that expanded to nothing is an error.
func applyVolume(cfg *storage.Config, c *bk.VolumeCommand) error {
	for _, v := range c.Volumes {
		if v == "" {
			return errors.New("empty volume path")
		}
	}
	if cfg.Volumes == nil {
		cfg.Volumes = make(map[string]struct{}, len(c.Volumes))
	}
	for _, v := range c.Volumes {
		cfg.Volumes[v] = struct{}{}
	}
	return nil
}

// volumeCreatedBy is BuildKit's history text: "VOLUME [/data /cache]".
func volumeCreatedBy(c *bk.VolumeCommand) string {
	return fmt.Sprintf("VOLUME %v", c.Volumes)
}
