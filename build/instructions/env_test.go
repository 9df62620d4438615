package instructions

import (
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func TestEnv(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "appends in order",
		base: storage.Config{Env: []string{"PATH=/bin"}},
		src:  "ENV A=1 B=2\nENV C=3\n",
		want: storage.Config{Env: []string{"PATH=/bin", "A=1", "B=2", "C=3"}},
	}, {
		name: "replaces in place",
		base: storage.Config{Env: []string{"A=0", "PATH=/bin"}},
		src:  "ENV A=1\nENV PATH=/usr/bin:$PATH\n",
		want: storage.Config{Env: []string{"A=1", "PATH=/usr/bin:/bin"}},
	}, {
		name: "names are case-sensitive",
		base: storage.Config{Env: []string{"a=1"}},
		src:  "ENV A=2\n",
		want: storage.Config{Env: []string{"a=1", "A=2"}},
	}, {
		name: "legacy form takes the rest of the line",
		src:  "ENV GREETING hello   big world\n",
		want: storage.Config{Env: []string{"GREETING=hello   big world"}},
	}, {
		name: "quotes, escapes and defaults",
		src:  "ENV A=\"two words\" B='$x' C=\\$HOME D=${NOPE:-dflt}\n",
		want: storage.Config{Env: []string{"A=two words", "B=$x", "C=$HOME", "D=dflt"}},
	}, {
		name: "one ENV sees the variables from before it",
		base: storage.Config{Env: []string{"A=old"}},
		src:  "ENV A=new B=$A\nENV C=$A\n",
		want: storage.Config{Env: []string{"A=new", "B=old", "C=new"}},
	}, {
		name: "empty value",
		src:  "ENV A=\n",
		want: storage.Config{Env: []string{"A="}},
	}})
}
