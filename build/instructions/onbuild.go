package instructions

import (
	"errors"
	"fmt"
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/kiln-build/kiln/storage"
)

// applyOnbuild appends the trigger to OnBuild as BuildKit stores it: the
// source line after "ONBUILD", unexpanded and in the case written ("run echo
// hi" stays lowercase), with any heredoc bodies appended.
func applyOnbuild(cfg *storage.Config, c *bk.OnbuildCommand) {
	cfg.OnBuild = append(cfg.OnBuild, c.Expression)
}

// Triggers parses ONBUILD triggers, as NewState returns them from a base
// image, into commands for the executor to run, in order, before the stage's
// own instructions.
func Triggers(exprs []string) ([]bk.Command, error) {
	cmds := make([]bk.Command, 0, len(exprs))
	for _, expr := range exprs {
		res, err := parser.Parse(strings.NewReader(expr))
		if err != nil {
			return nil, fmt.Errorf("parsing ONBUILD trigger %q: %w", expr, err)
		}
		if len(res.AST.Children) != 1 {
			return nil, fmt.Errorf("parsing ONBUILD trigger %q: %w", expr, errors.New("a trigger is a single instruction"))
		}
		cmd, err := bk.ParseCommand(res.AST.Children[0])
		if err != nil {
			return nil, fmt.Errorf("parsing ONBUILD trigger %q: %w", expr, err)
		}
		cmds = append(cmds, cmd)
	}
	return cmds, nil
}
