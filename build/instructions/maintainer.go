package instructions

import (
	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// applyMaintainer sets the image's Author (not a config field). MAINTAINER is
// deprecated in favour of a label, but still honoured.
func applyMaintainer(img *storage.Image, c *bk.MaintainerCommand) {
	img.Author = c.Maintainer
}

// maintainerCreatedBy is BuildKit's history text: "MAINTAINER me".
func maintainerCreatedBy(c *bk.MaintainerCommand) string {
	return "MAINTAINER " + c.Maintainer
}
