package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCopyDir copies a tree of 300 files (on several workers) into a root twice: once where
// nothing is, and once over a root where one of the files is a directory, which must fail naming
// that file.
func TestCopyDir(t *testing.T) {
	src := t.TempDir()
	for d := range 3 {
		for f := range 100 {
			p := filepath.Join(src, "tree", fmt.Sprintf("d%d", d), fmt.Sprintf("f%03d", f))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, []byte(p), 0o640); err != nil {
				t.Fatal(err)
			}
		}
	}
	root := t.TempDir()
	cp := &copier{root: root, srcRoot: src}
	if err := cp.copySource(filepath.Join(src, "tree"), "/out/", true); err != nil {
		t.Fatal(err)
	}
	for d := range 3 {
		for f := range 100 {
			rel := filepath.Join(fmt.Sprintf("d%d", d), fmt.Sprintf("f%03d", f))
			got, err := os.ReadFile(filepath.Join(root, "out", rel))
			if err != nil || string(got) != filepath.Join(src, "tree", rel) {
				t.Fatalf("%s: %q, %v", rel, got, err)
			}
			if fi, err := os.Stat(filepath.Join(root, "out", rel)); err != nil || fi.Mode().Perm() != 0o640 {
				t.Fatalf("%s: mode %v, %v", rel, fi.Mode(), err)
			}
		}
	}

	root2 := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root2, "out", "d1", "f050"), 0o755); err != nil {
		t.Fatal(err)
	}
	cp2 := &copier{root: root2, srcRoot: src}
	err := cp2.copySource(filepath.Join(src, "tree"), "/out/", true)
	if err == nil || !strings.Contains(err.Error(), "f050") {
		t.Fatalf("copying a file over a directory: %v, want an error naming f050", err)
	}
}
