package instructions

import (
	"testing"

	"github.com/kiln-build/kiln/storage"
)

func TestLabel(t *testing.T) {
	t.Parallel()
	runConfigTests(t, []configTest{{
		name: "sets labels",
		src:  "LABEL \"com.example.vendor\"=\"ACME Inc\" version=1.0\n",
		want: storage.Config{Labels: map[string]string{"com.example.vendor": "ACME Inc", "version": "1.0"}},
	}, {
		name: "merges with the base and overrides",
		base: storage.Config{Labels: map[string]string{"a": "base", "keep": "yes"}},
		src:  "LABEL a=1\nLABEL b=2 a=3\n",
		want: storage.Config{Labels: map[string]string{"a": "3", "b": "2", "keep": "yes"}},
	}, {
		name: "expands variables",
		src:  "ENV V=2.1\nLABEL version=$V multi=\"line \\\n  two\"\n",
		want: storage.Config{Env: []string{"V=2.1"}, Labels: map[string]string{"version": "2.1", "multi": "line   two"}},
	}})
}
