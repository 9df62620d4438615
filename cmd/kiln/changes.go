package main

import (
	"fmt"
	"slices"
	"strings"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"github.com/kiln-build/kiln/build/instructions"
	"github.com/kiln-build/kiln/storage"
)

// changeInstructions are the Dockerfile instructions --change accepts, as
// podman import does.
var changeInstructions = []string{"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}

// applyChanges applies --change values ("CMD [\"sh\"]", or podman's
// "CMD=[\"sh\"]") to img's config with Dockerfile semantics.
func applyChanges(img *storage.Image, changes []string) error {
	st := &instructions.State{Image: img}
	for _, ch := range changes {
		cmd, err := parseChange(ch)
		if err != nil {
			return fmt.Errorf("--change %q: %w", ch, err)
		}
		if err := instructions.Expand(cmd, '\\', img.Config.Env); err != nil {
			return fmt.Errorf("--change %q: %w", ch, err)
		}
		if _, err := instructions.Apply(st, cmd); err != nil {
			return fmt.Errorf("--change %q: %w", ch, err)
		}
	}
	return nil
}

func parseChange(ch string) (bk.Command, error) {
	word, rest, _ := strings.Cut(strings.TrimSpace(ch), " ")
	if name, val, ok := strings.Cut(word, "="); ok && slices.Contains(changeInstructions, strings.ToUpper(name)) {
		ch = name + " " + val + " " + rest
	}
	res, err := parser.Parse(strings.NewReader(ch))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, fmt.Errorf("want exactly one instruction")
	}
	node := res.AST.Children[0]
	if !slices.Contains(changeInstructions, strings.ToUpper(node.Value)) {
		return nil, fmt.Errorf("%s cannot be changed: want one of %s", strings.ToUpper(node.Value), strings.Join(changeInstructions, ", "))
	}
	return bk.ParseCommand(node)
}
