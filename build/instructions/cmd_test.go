package instructions

import (
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func TestCmd(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "shell form",
		src:  "CMD echo \"hi $USER\"\n",
		want: storage.Config{Cmd: []string{"/bin/sh", "-c", `echo "hi $USER"`}, ArgsEscaped: true},
	}, {
		name: "exec form replaces the base's",
		base: storage.Config{Cmd: []string{"sh"}},
		src:  "CMD [\"nginx\", \"-g\", \"daemon off;\"]\n",
		want: storage.Config{Cmd: []string{"nginx", "-g", "daemon off;"}, ArgsEscaped: true},
	}, {
		name: "shell form uses SHELL",
		src:  "SHELL [\"/bin/bash\", \"-o\", \"pipefail\", \"-c\"]\nCMD echo $HOME\n",
		want: storage.Config{Shell: []string{"/bin/bash", "-o", "pipefail", "-c"},
			Cmd: []string{"/bin/bash", "-o", "pipefail", "-c", "echo $HOME"}, ArgsEscaped: true},
	}, {
		name: "shell form uses the base image's Shell",
		base: storage.Config{Shell: []string{"/bin/ash", "-c"}},
		src:  "CMD run\n",
		want: storage.Config{Shell: []string{"/bin/ash", "-c"}, Cmd: []string{"/bin/ash", "-c", "run"}, ArgsEscaped: true},
	}, {
		name: "invalid JSON is shell form",
		src:  "CMD [\"a\", 'b']\n",
		want: storage.Config{Cmd: []string{"/bin/sh", "-c", `["a", 'b']`}, ArgsEscaped: true},
	}, {
		name: "empty JSON",
		base: storage.Config{Cmd: []string{"sh"}},
		src:  "CMD []\n",
		want: storage.Config{Cmd: []string{}, ArgsEscaped: true},
	}})
}

func TestCmdMarksCmdSet(t *testing.T) {
	t.Parallel()
	st := &State{Image: &storage.Image{}}
	if err := run(t, st, "CMD [\"a\"]\n"); err != nil {
		t.Fatal(err)
	}
	if !st.CmdSet {
		t.Error("CmdSet is false after CMD")
	}
}
