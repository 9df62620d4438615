package instructions

import (
	"fmt"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// applyEntrypoint sets Entrypoint: the JSON form as written (ENTRYPOINT []
// clears it), the shell form as the current Shell plus the line. Cmd is
// cleared unless a CMD ran earlier in this stage, so a CMD inherited from the
// base is not passed to the new entrypoint.
func applyEntrypoint(st *State, c *bk.EntrypointCommand) {
	cfg := &st.Image.Config
	cfg.Entrypoint = commandLine(c.ShellDependantCmdLine, cfg.Shell)
	if !st.CmdSet {
		cfg.Cmd = nil
	}
}

// entrypointCreatedBy is BuildKit's history text: `ENTRYPOINT ["/app"]`.
func entrypointCreatedBy(c *bk.EntrypointCommand, shell []string) string {
	return fmt.Sprintf("ENTRYPOINT %q", commandLine(c.ShellDependantCmdLine, shell))
}
