package instructions

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

func TestOnbuild(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "stores the trigger as written, unexpanded",
		src:  "ONBUILD RUN echo $HOME\nONBUILD copy . /app\n",
		want: storage.Config{OnBuild: []string{"RUN echo $HOME", "copy . /app"}},
	}, {
		name: "appends to existing triggers",
		base: storage.Config{OnBuild: []string{"ADD . /src"}},
		src:  "ONBUILD  ENV A=1\n",
		want: storage.Config{OnBuild: []string{"ADD . /src", "ENV A=1"}},
	}, {
		name: "heredoc bodies are kept",
		src:  "ONBUILD RUN <<EOF\necho hi\nEOF\n",
		want: storage.Config{OnBuild: []string{"RUN <<EOF\necho hi\nEOF"}},
	}})
}

func TestTriggers(t *testing.T) {
	t.Parallel()
	cmds, err := Triggers([]string{"RUN echo hi", "copy --from=build /a /b", "RUN <<EOF\necho hi\nEOF"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range cmds {
		got = append(got, fmt.Sprintf("%T", c))
	}
	want := []string{"*instructions.RunCommand", "*instructions.CopyCommand", "*instructions.RunCommand"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("trigger types = %v, want %v", got, want)
	}
	if c := cmds[1].(*bk.CopyCommand); c.From != "build" || c.DestPath != "/b" {
		t.Errorf("COPY trigger = %+v", c)
	}
	if f := cmds[2].(*bk.RunCommand).Files; len(f) != 1 || f[0].Data != "echo hi\n" {
		t.Errorf("heredoc trigger files = %+v", f)
	}

	for _, bad := range []string{"BOGUS x", "RUN a\nRUN b", ""} {
		if _, err := Triggers([]string{bad}); err == nil || !strings.HasPrefix(err.Error(), fmt.Sprintf("parsing ONBUILD trigger %q: ", bad)) {
			t.Errorf("Triggers(%q) error = %v", bad, err)
		}
	}
}
