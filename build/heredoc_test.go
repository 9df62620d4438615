package build

import (
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

func TestScriptOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, run string
		want      *heredocScript
	}{
		{"shebang", "RUN <<EOF\n#!/bin/sh\necho hi\nEOF\n", &heredocScript{Name: "EOF", Body: "#!/bin/sh\necho hi\n"}},
		{"chomped shebang", "RUN <<-S\n\t#!/bin/sh\n\techo hi\n\tS\n", &heredocScript{Name: "S", Body: "#!/bin/sh\necho hi\n"}},
		{"plain heredoc", "RUN <<EOF\necho hi\nEOF\n", nil},
		{"heredoc as stdin", "RUN cat <<EOF\n#!/bin/sh\nEOF\n", nil},
		{"no heredoc", "RUN echo hi\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := parser.Parse(strings.NewReader("FROM scratch\n" + tc.run))
			if err != nil {
				t.Fatal(err)
			}
			cmd, err := instructions.ParseCommand(res.AST.Children[1])
			if err != nil {
				t.Fatal(err)
			}
			got := scriptOf(cmd.(*instructions.RunCommand))
			switch {
			case (got == nil) != (tc.want == nil):
				t.Fatalf("scriptOf: got %+v want %+v", got, tc.want)
			case got != nil && *got != *tc.want:
				t.Fatalf("scriptOf: got %+v want %+v", *got, *tc.want)
			}
		})
	}
}
