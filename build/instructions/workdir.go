package instructions

import (
	"path"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

// applyWorkdir sets WorkingDir to the WORKDIR path resolved against the
// current one, and puts the resolved path in c.Path, which BuildKit's history
// shows. The executor also creates the directory (mode 0755, owned by the
// current User), which BuildKit records as a layer unless it is "/".
func applyWorkdir(cfg *storage.Config, c *bk.WorkdirCommand) {
	c.Path = resolveWorkdir(cfg.WorkingDir, c.Path)
	cfg.WorkingDir = c.Path
}

// resolveWorkdir resolves p against the working directory cur as BuildKit
// does on Linux: a relative p is joined to cur (or "/") and cleaned; an
// absolute p is kept as written, uncleaned; an empty p (a variable that
// expanded to nothing) keeps cur.
func resolveWorkdir(cur, p string) string {
	if cur == "" {
		cur = "/"
	} else if !path.IsAbs(cur) {
		cur = path.Join("/", cur)
	}
	if p == "" {
		return cur
	}
	if path.IsAbs(p) {
		return p
	}
	return path.Join(cur, p)
}

// workdirCreatedBy is BuildKit's history text with the resolved path, which
// Apply has put in c.Path: "WORKDIR /app/src".
func workdirCreatedBy(c *bk.WorkdirCommand) string {
	return "WORKDIR " + c.Path
}
