package instructions

import (
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func TestShell(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "sets Shell",
		src:  "SHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]\n",
		want: storage.Config{Shell: []string{"/bin/bash", "-eo", "pipefail", "-c"}},
	}, {
		name: "replaces the base's",
		base: storage.Config{Shell: []string{"cmd", "/S", "/C"}},
		src:  "SHELL [\"/bin/sh\", \"-c\"]\nSHELL [\"/bin/zsh\", \"-c\"]\n",
		want: storage.Config{Shell: []string{"/bin/zsh", "-c"}},
	}})
}
