package instructions

import (
	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// applyLabel merges a LABEL's pairs into Labels; a later value for a key
// replaces an earlier one, including one from the base image.
func applyLabel(cfg *storage.Config, c *bk.LabelCommand) {
	if cfg.Labels == nil {
		cfg.Labels = make(map[string]string, len(c.Labels))
	}
	for _, kv := range c.Labels {
		cfg.Labels[kv.Key] = kv.Value
	}
}

// labelCreatedBy is BuildKit's history text: "LABEL a=b c=d".
func labelCreatedBy(c *bk.LabelCommand) string {
	return "LABEL" + pairs(c.Labels)
}
