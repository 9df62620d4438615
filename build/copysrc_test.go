package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMatchSources(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, f := range []string{"a/b/c.txt", "a/b/d.md", "a/e.txt", "top.md", "top.txt"} {
		p := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		pattern  string
		excludes []string
		parents  bool
		want     string // key=parent, space-separated
	}{
		{pattern: "top*", want: "top.md= top.txt="},
		{pattern: "top*", excludes: []string{"*.md"}, want: "top.txt="},
		{pattern: "a/b/*", excludes: []string{"a/b/c.txt"}, want: "a/b/d.md="},
		{pattern: "a/b/c.txt", parents: true, want: "a/b/c.txt=a/b/c.txt"},
		{pattern: "a/*/*.md", parents: true, want: "a/b/d.md=a/b/d.md"},
		{pattern: "./a/./b/c.txt", parents: true, want: "a/b/c.txt=b/c.txt"},
		{pattern: "a", parents: true, excludes: []string{"!x"}, want: "a=a"},
	} {
		t.Run(tc.pattern+strings.Join(tc.excludes, ","), func(t *testing.T) {
			t.Parallel()
			ex, err := newExcluder(tc.excludes)
			if err != nil {
				t.Fatal(err)
			}
			items, err := (&Builder{}).matchSources(root, tc.pattern, tc.parents, nil, ex)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, it := range items {
				got = append(got, it.key+"="+it.parent)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("matchSources(%q, exclude %q, parents %v) = %q, want %q", tc.pattern, tc.excludes, tc.parents, got, tc.want)
			}
		})
	}
}

func TestExcluder(t *testing.T) {
	t.Parallel()
	ex, err := newExcluder([]string{"*.md", "sub", "!sub/keep"})
	if err != nil {
		t.Fatal(err)
	}
	for rel, want := range map[string]bool{"x.md": true, "d/x.md": false, "sub/y": true, "x.txt": false, ".": false} {
		if got, err := ex.excluded(rel); err != nil || got != want {
			t.Errorf("excluded(%q) = %v, %v; want %v", rel, got, err, want)
		}
	}
	var none *excluder
	if got, err := none.excluded("x"); got || err != nil {
		t.Errorf("nil excluder excluded x: %v, %v", got, err)
	}
}
