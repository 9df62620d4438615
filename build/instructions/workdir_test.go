package instructions

import (
	"testing"

	bk "github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/kiln-build/kiln/storage"
)

func TestWorkdir(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "absolute",
		src:  "WORKDIR /app\n",
		want: storage.Config{WorkingDir: "/app"},
	}, {
		name: "relative to the previous one, cleaned",
		src:  "WORKDIR /app\nWORKDIR src/./cmd/\nWORKDIR ../lib\n",
		want: storage.Config{WorkingDir: "/app/src/lib"},
	}, {
		name: "relative to root when unset",
		src:  "WORKDIR src\n",
		want: storage.Config{WorkingDir: "/src"},
	}, {
		name: "relative to the base image's",
		base: storage.Config{WorkingDir: "/usr/src"},
		src:  "WORKDIR app\n",
		want: storage.Config{WorkingDir: "/usr/src/app"},
	}, {
		name: "a relative base working directory is made absolute",
		base: storage.Config{WorkingDir: "rel"},
		src:  "WORKDIR x\n",
		want: storage.Config{WorkingDir: "/rel/x"},
	}, {
		name: "absolute paths are kept as written, as BuildKit does",
		src:  "WORKDIR /a/../b/\n",
		want: storage.Config{WorkingDir: "/a/../b/"},
	}, {
		name: "expands variables",
		src:  "ENV D=/opt\nWORKDIR $D/app\n",
		want: storage.Config{Env: []string{"D=/opt"}, WorkingDir: "/opt/app"},
	}, {
		name: "empty after expansion keeps the current one",
		src:  "WORKDIR /app\nWORKDIR $EMPTY\n",
		want: storage.Config{WorkingDir: "/app"},
	}, {
		name: "a backtick is literal without an escape directive",
		src:  "WORKDIR /a`$b\n",
		want: storage.Config{WorkingDir: "/a`"},
	}})
}

func TestWorkdirSetsResolvedPath(t *testing.T) {
	t.Parallel()
	st := &State{Image: &storage.Image{Config: storage.Config{WorkingDir: "/app"}}}
	cmds, _ := parse(t, "WORKDIR src\n")
	if _, err := Apply(st, cmds[0]); err != nil {
		t.Fatal(err)
	}
	if p := cmds[0].(*bk.WorkdirCommand).Path; p != "/app/src" {
		t.Errorf("Path = %q, want /app/src", p)
	}
	if got := CreatedBy(cmds[0], nil); got != "WORKDIR /app/src" {
		t.Errorf("CreatedBy = %q", got)
	}
}
