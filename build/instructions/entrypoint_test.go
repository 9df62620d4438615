package instructions

import (
	"reflect"
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func TestEntrypoint(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "exec form clears the inherited CMD",
		base: storage.Config{Cmd: []string{"sh"}, Entrypoint: []string{"/old"}},
		src:  "ENTRYPOINT [\"/app\", \"serve\"]\n",
		want: storage.Config{Entrypoint: []string{"/app", "serve"}},
	}, {
		name: "shell form",
		src:  "ENTRYPOINT exec /app \"$PORT\"\n",
		want: storage.Config{Entrypoint: []string{"/bin/sh", "-c", `exec /app "$PORT"`}},
	}, {
		name: "keeps a CMD set earlier in the stage",
		base: storage.Config{Cmd: []string{"sh"}},
		src:  "CMD [\"--help\"]\nENTRYPOINT [\"/app\"]\n",
		want: storage.Config{Entrypoint: []string{"/app"}, Cmd: []string{"--help"}, ArgsEscaped: true},
	}, {
		name: "CMD after ENTRYPOINT",
		src:  "ENTRYPOINT [\"/app\"]\nCMD [\"--help\"]\nENTRYPOINT [\"/app2\"]\n",
		want: storage.Config{Entrypoint: []string{"/app2"}, Cmd: []string{"--help"}, ArgsEscaped: true},
	}, {
		name: "empty JSON clears it",
		base: storage.Config{Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx"}},
		src:  "ENTRYPOINT []\n",
		want: storage.Config{},
	}, {
		name: "shell form uses SHELL",
		src:  "SHELL [\"pwsh\", \"-c\"]\nENTRYPOINT Start-App\n",
		want: storage.Config{Shell: []string{"pwsh", "-c"}, Entrypoint: []string{"pwsh", "-c", "Start-App"}},
	}})
}

// A CMD set in this stage by a previous step (CmdSet carried in the state)
// survives ENTRYPOINT.
func TestEntrypointKeepsCmdWhenCmdSet(t *testing.T) {
	t.Parallel()
	st := &State{Image: &storage.Image{Config: storage.Config{Cmd: []string{"x"}}}, CmdSet: true}
	if err := run(t, st, "ENTRYPOINT [\"/app\"]\n"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"x"}; !reflect.DeepEqual(st.Image.Config.Cmd, want) {
		t.Errorf("Cmd = %q, want %q", st.Image.Config.Cmd, want)
	}
}
