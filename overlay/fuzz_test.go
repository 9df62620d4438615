package overlay

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// FuzzDiffWhiteouts builds upper directories from specs — one node a line, "KIND NAME" with
// KIND f (file), d (directory), l (symlink to the name's parent) or w (whiteout, as root) — and
// checks the layer Diff writes: names stay relative and clean, every whiteout becomes a .wh.
// marker beside it, and a name that looks like a whiteout is refused, never passed through.
func FuzzDiffWhiteouts(f *testing.F) {
	for _, seed := range []string{
		"d a\nf a/b\nw a/c\n", "w x\nw y/z\n", "f .wh.x\n", "d .wh..wh..opq\n", "l a\nf b/c\n",
		"d a\nw a/b\nf a/.wh.b\n", "f ..\nf a/../../x\n",
	} {
		f.Add(seed)
	}
	root := os.Geteuid() == 0
	f.Fuzz(func(t *testing.T, spec string) {
		upper := t.TempDir()
		whiteouts, reserved := buildFuzzUpper(upper, spec, root)
		var buf bytes.Buffer
		_, err := Diff(context.Background(), upper, &buf, DiffOptions{})
		if err != nil {
			if !reserved {
				t.Fatalf("Diff of %q: %v", spec, err)
			}
			return
		}
		if reserved {
			t.Fatalf("Diff of %q passed a reserved .wh. name through", spec)
		}
		names := map[string]bool{}
		tr := tar.NewReader(&buf)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("reading the layer of %q: %v", spec, err)
			}
			n := strings.TrimSuffix(h.Name, "/")
			if path.IsAbs(n) || path.Clean(n) != n || strings.HasPrefix(n, "..") {
				t.Fatalf("layer entry %q is not a clean relative name", h.Name)
			}
			names[n] = true
		}
		for _, w := range whiteouts {
			dir, base := path.Split(w)
			if !names[dir+whiteoutPrefix+base] {
				t.Fatalf("whiteout %s has no marker in the layer of %q (names %v)", w, spec, names)
			}
		}
	})
}

// buildFuzzUpper creates the nodes of spec under upper; it returns the whiteouts made and
// whether a name with the reserved .wh. prefix was created.
func buildFuzzUpper(upper, spec string, root bool) (whiteouts []string, reserved bool) {
	for i, line := range strings.Split(spec, "\n") {
		kind, name, ok := strings.Cut(line, " ")
		name = path.Clean(name)
		if !ok || i > 32 || name == "." || path.IsAbs(name) || strings.HasPrefix(name, "..") || len(name) > 100 {
			continue
		}
		p := filepath.Join(upper, name)
		if fi, err := os.Lstat(filepath.Dir(p)); err == nil && !fi.IsDir() {
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			continue
		}
		var err error
		switch kind {
		case "f":
			err = os.WriteFile(p, []byte("x"), 0o644)
		case "d":
			err = os.Mkdir(p, 0o755)
		case "l":
			err = os.Symlink("..", p)
		case "w":
			if !root {
				continue
			}
			if err = mknodWhiteout(p); err == nil {
				whiteouts = append(whiteouts, filepath.ToSlash(name))
			}
		default:
			continue
		}
		if err == nil && kind != "w" {
			reserved = reserved || strings.HasPrefix(path.Base(name), whiteoutPrefix)
		}
	}
	// A parent created for a later node may itself carry a reserved name.
	_ = filepath.Walk(upper, func(p string, fi os.FileInfo, err error) error {
		if err == nil && p != upper && strings.HasPrefix(fi.Name(), whiteoutPrefix) && fi.Mode()&os.ModeCharDevice == 0 {
			reserved = true
		}
		return nil
	})
	return whiteouts, reserved
}

// mknodWhiteout makes an overlay whiteout: a character device 0/0.
func mknodWhiteout(p string) error { return unix.Mknod(p, unix.S_IFCHR, 0) }
