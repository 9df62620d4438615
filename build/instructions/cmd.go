package instructions

import (
	"fmt"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
)

// applyCmd sets Cmd: the JSON form as written, the shell form as the current
// Shell (default /bin/sh -c) plus the line. Like BuildKit it sets ArgsEscaped
// in either form, and marks the CMD as set in this stage for ENTRYPOINT.
func applyCmd(st *State, c *bk.CmdCommand) {
	cfg := &st.Image.Config
	cfg.Cmd = commandLine(c.ShellDependantCmdLine, cfg.Shell)
	cfg.ArgsEscaped = true
	st.CmdSet = true
}

// cmdCreatedBy is BuildKit's history text, Go-quoted argv without commas:
// `CMD ["/bin/sh" "-c" "echo hi"]`.
func cmdCreatedBy(c *bk.CmdCommand, shell []string) string {
	return fmt.Sprintf("CMD %q", commandLine(c.ShellDependantCmdLine, shell))
}
