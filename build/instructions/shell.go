package instructions

import (
	"fmt"
	"slices"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// applyShell sets Shell, which later shell-form RUN, CMD and ENTRYPOINT lines
// in this stage and in images built on this one use. The parser accepts only
// the JSON form.
func applyShell(cfg *storage.Config, c *bk.ShellCommand) {
	cfg.Shell = slices.Clone(c.Shell)
}

// shellCreatedBy is BuildKit's history text: "SHELL [/bin/bash -c]".
func shellCreatedBy(c *bk.ShellCommand) string {
	return fmt.Sprintf("SHELL %v", c.Shell)
}
