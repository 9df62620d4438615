package storage

import (
	"errors"
	"io/fs"
	"strings"
	"testing"
)

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct{ in, want string }{
		{"busybox", "localhost/busybox:latest"},
		{"busybox:1.36", "localhost/busybox:1.36"},
		{"team/app", "localhost/team/app:latest"},
		{"localhost/app", "localhost/app:latest"},
		{"localhost:5000/app:v1", "localhost:5000/app:v1"},
		{"127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest"},
		{"quay.io/team/app:v2", "quay.io/team/app:v2"},
		{"docker.io/library/alpine", "docker.io/library/alpine:latest"},
		{"registry.example.com/app@" + dg, "registry.example.com/app@" + dg},
	} {
		t.Run(c.in, func(t *testing.T) {
			t.Parallel()
			got, err := NormalizeName(c.in)
			if err != nil {
				t.Fatalf("NormalizeName(%q): %v", c.in, err)
			}
			if got.String() != c.want {
				t.Fatalf("NormalizeName(%q) = %s, want %s", c.in, got, c.want)
			}
		})
	}
	for _, bad := range []string{"", "UPPER:case", "Busybox", "a b", "app:", "app:bad:tag", "-leading"} {
		t.Run("bad "+bad, func(t *testing.T) {
			t.Parallel()
			_, err := NormalizeName(bad)
			if !errors.Is(err, fs.ErrInvalid) {
				t.Fatalf("NormalizeName(%q) error = %v, want one wrapping fs.ErrInvalid", bad, err)
			}
			if bad != "" && !strings.Contains(err.Error(), bad) {
				t.Errorf("error %q does not name %q", err, bad)
			}
		})
	}
}
