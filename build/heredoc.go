package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	instr "github.com/kiln-build/kiln/build/instructions"
)

// heredocScript is the body of a RUN whose only argument is a heredoc starting with "#!":
// BuildKit runs it as the file instr.PipesDir/Name, mode 0755, mounted read-only.
type heredocScript struct {
	Name, Body string
}

// scriptOf returns the script RUN c runs from instr.PipesDir, or nil when it runs none
// (instr.RunArgs decides the argv the same way).
func scriptOf(c *instructions.RunCommand) *heredocScript {
	if len(c.Files) == 0 || len(c.CmdLine) != 1 || !c.PrependShell || parser.MustParseHeredoc(c.CmdLine[0]) == nil {
		return nil
	}
	body := c.Files[0].Data
	if c.Files[0].Chomp {
		body = parser.ChompHeredocContent(body)
	}
	if !strings.HasPrefix(body, "#!") {
		return nil
	}
	return &heredocScript{Name: c.Files[0].Name, Body: body}
}

// key is what the script adds to the step's cache key.
func (h *heredocScript) key() string {
	if h == nil {
		return ""
	}
	return "script " + h.Name + "\x00" + h.Body
}

// scriptMounts writes the script into a directory of its own under the run root and returns the
// read-only bind mount of that directory on instr.PipesDir, and a function that removes it.
func (b *Builder) scriptMounts(h *heredocScript) ([]specs.Mount, func(), error) {
	if h == nil {
		return nil, func() {}, nil
	}
	dir, err := os.MkdirTemp(b.store.RunRoot(), "kiln-heredoc-")
	if err != nil {
		return nil, nil, fmt.Errorf("creating heredoc script directory: %w", err)
	}
	cleanup := func() { os.RemoveAll(dir) }
	file := filepath.Join(dir, filepath.Base(h.Name))
	err = os.Chmod(dir, 0o755)
	if err == nil {
		err = os.WriteFile(file, []byte(h.Body), 0o755)
	}
	if err == nil {
		err = os.Chmod(file, 0o755) // whatever the umask
	}
	if err != nil {
		cleanup()
		return nil, nil, fmt.Errorf("writing heredoc script %s: %w", h.Name, err)
	}
	m := specs.Mount{Destination: instr.PipesDir, Type: "bind", Source: dir, Options: []string{"rbind", "ro"}}
	return []specs.Mount{m}, cleanup, nil
}
