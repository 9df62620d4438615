package storage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"testing"
)

// TestExportFlattens exports a two-layer image whose upper layer deletes,
// hides, replaces and changes what the lower one holds.
func TestExportFlattens(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testStore(t)
	dir := func(name string, mode int64) entry { return entry{name: name, typ: tar.TypeDir, mode: mode} }
	file := func(name, body string) entry { return entry{name: name, body: body, typ: tar.TypeReg, mode: 0o644} }
	lower := []entry{
		dir("a/", 0o755), file("a/x", "x"), file("a/y", "y"),
		dir("b/", 0o755), file("b/old", "old"),
		file("c", "c was a file"),
		dir("d/", 0o755), file("d/keep", "keep"),
		dir("e/", 0o755), file("e/f", "f"),
		file("h1", "hard"), {name: "h2", link: "h1", typ: tar.TypeLink, mode: 0o644},
		{name: "s", link: "a/y", typ: tar.TypeSymlink, mode: 0o777},
	}
	upper := []entry{
		file("a/.wh.x", ""),
		dir("b/", 0o755), file("b/.wh..wh..opq", ""), file("b/new", "new"),
		dir("c/", 0o755), file("c/inner", "inner"),
		dir("d/", 0o700),
		file("e", "e is a file now"),
		file(".wh.h1", ""),
	}
	l1, err := st.PutLayer(ctx, "", bytes.NewReader(tarOf(t, lower)))
	if err != nil {
		t.Fatal(err)
	}
	l2, err := st.PutLayer(ctx, l1.ID, bytes.NewReader(tarOf(t, upper)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Commit(ctx, CommitOptions{Config: &Image{OS: "linux", Architecture: "amd64"}, TopLayer: l2.ID, Dest: "flat:v1"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := st.Export(ctx, "flat:v1", &buf); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a": "5 755 ", "a/y": "0 644 y", "b": "5 755 ", "b/new": "0 644 new", "c": "5 755 ", "c/inner": "0 644 inner",
		"d": "5 700 ", "d/keep": "0 644 keep", "e": "0 644 e is a file now", "h2": "0 644 hard", "s": "2 777 ->a/y",
	}
	got := map[string]string{}
	tr := tar.NewReader(&buf)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		p := cleanName(h.Name)
		if _, dup := got[p]; dup {
			t.Errorf("%s written twice", p)
		}
		if parent := path.Dir(p); parent != "." && got[parent] == "" {
			t.Errorf("%s comes before its directory %s", p, parent)
		}
		body, _ := io.ReadAll(tr)
		if h.Typeflag == tar.TypeSymlink {
			body = []byte("->" + h.Linkname)
		}
		got[p] = fmt.Sprintf("%c %o %s", h.Typeflag, h.Mode&0o7777, body)
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s: got %q, want %q", p, got[p], w)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("unexpected entry %s (%s)", p, got[p])
		}
	}
}
