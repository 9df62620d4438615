package instructions

import (
	"reflect"
	"testing"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"
)

func TestRunArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, src string
		shell     []string
		want      []string
	}{
		{"shell form", "RUN echo $HOME && ls", nil, []string{"/bin/sh", "-c", "echo $HOME && ls"}},
		{"exec form", `RUN ["echo", "$HOME"]`, nil, []string{"echo", "$HOME"}},
		{"image shell", "RUN echo hi", []string{"/bin/bash", "-c"}, []string{"/bin/bash", "-c", "echo hi"}},
		{"flags are not part of the line", "RUN --network=none --mount=type=cache,target=/c make", nil, []string{"/bin/sh", "-c", "make"}},
		{"heredoc body runs in the shell", "RUN <<EOF\necho a\necho b\nEOF", nil, []string{"/bin/sh", "-c", "echo a\necho b\n"}},
		{"<<- strips leading tabs", "RUN <<-EOF\n\techo a\n\tEOF", nil, []string{"/bin/sh", "-c", "echo a\n"}},
		{"shebang heredoc runs from /dev/pipes", "RUN <<SCRIPT\n#!/usr/bin/env python3\nprint(1)\nSCRIPT", nil,
			[]string{"/bin/sh", "-c", "/dev/pipes/SCRIPT"}},
		{"heredoc in a longer line goes to the shell whole", "RUN cat <<EOF > /x\nhello\nEOF", nil,
			[]string{"/bin/sh", "-c", "cat <<EOF > /x\nhello\nEOF"}},
		{"two heredocs", "RUN cat <<A <<B\na\nA\nb\nB", nil, []string{"/bin/sh", "-c", "cat <<A <<B\na\nA\nb\nB"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmds, _ := parse(t, tt.src+"\n")
			got, err := RunArgs(cmds[0].(*bk.RunCommand), tt.shell)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("RunArgs = %q, want %q", got, tt.want)
			}
		})
	}
}
