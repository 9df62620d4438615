package instructions

import (
	"errors"
	"fmt"
	"path"
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// PipesDir is where a RUN heredoc script that starts with "#!" is mounted
// for RunArgs' argv to execute it.
const PipesDir = "/dev/pipes"

// RunArgs returns the argv of a RUN, as BuildKit builds it: the JSON form as
// written; the shell form after shell (default /bin/sh -c) as one string. A
// RUN whose only argument is a heredoc runs the heredoc's body, with leading
// tabs removed for <<-; when the body starts with "#!", argv instead runs
// PipesDir/NAME, and the executor must mount the body there as an executable
// file (BuildKit mounts it read-only, mode 0755). Other heredoc lines go to
// the shell with the bodies and terminators appended.
func RunArgs(c *bk.RunCommand, shell []string) ([]string, error) {
	args := c.CmdLine
	if len(c.Files) > 0 {
		if len(args) != 1 || !c.PrependShell {
			return nil, fmt.Errorf("RUN %v: %w", args, errors.New("heredocs need the shell form"))
		}
		if h := parser.MustParseHeredoc(args[0]); h != nil {
			body := c.Files[0].Data
			if c.Files[0].Chomp {
				body = parser.ChompHeredocContent(body)
			}
			if strings.HasPrefix(body, "#!") {
				args = []string{path.Join(PipesDir, c.Files[0].Name)}
			} else {
				args = []string{body}
			}
		} else {
			var b strings.Builder
			b.WriteString(args[0])
			for _, f := range c.Files {
				b.WriteString("\n" + f.Data + f.Name)
			}
			args = []string{b.String()}
		}
	}
	return commandLine(bk.ShellDependantCmdLine{CmdLine: args, PrependShell: c.PrependShell}, shell), nil
}

// runCreatedBy is BuildKit's history text for RUN: the argv, prefixed with
// "|N K=V …" when the stage has build arguments, and " # buildkit" at the end.
func runCreatedBy(c *bk.RunCommand, shell, buildArgs []string) string {
	args, err := RunArgs(c, shell)
	if err != nil {
		args = c.CmdLine
	}
	var kvs []string
	seen := map[string]int{}
	for _, kv := range buildArgs {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := seen[k]; ok {
			kvs[i] = kv
			continue
		}
		seen[k] = len(kvs)
		kvs = append(kvs, kv)
	}
	if len(kvs) > 0 {
		kvs = append([]string{fmt.Sprintf("|%d", len(kvs))}, kvs...)
	}
	return "RUN " + strings.Join(append(kvs, args...), " ") + buildkitSuffix
}
