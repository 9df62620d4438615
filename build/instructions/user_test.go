package instructions

import (
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func TestUser(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "name",
		base: storage.Config{User: "root"},
		src:  "USER app\n",
		want: storage.Config{User: "app"},
	}, {
		name: "uid and gid, last one wins",
		src:  "USER nobody\nUSER 1000:1000\n",
		want: storage.Config{User: "1000:1000"},
	}, {
		name: "expands variables",
		src:  "ENV U=build\nUSER ${U}:staff\n",
		want: storage.Config{Env: []string{"U=build"}, User: "build:staff"},
	}})
}
