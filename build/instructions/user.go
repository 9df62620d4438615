package instructions

import (
	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// applyUser sets User as written ("app", "1000", "1000:1000"); the user is
// not looked up until a step runs.
func applyUser(cfg *storage.Config, c *bk.UserCommand) {
	cfg.User = c.User
}

// userCreatedBy is BuildKit's history text: "USER app".
func userCreatedBy(c *bk.UserCommand) string {
	return "USER " + c.User
}
