package storage

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	t.Parallel()
	for _, format := range []string{FormatDockerArchive, FormatOCIArchive} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			src := testStore(t)
			a := importRootfs(t, src, "a", "save/a:v1")
			b := importRootfs(t, src, "b", "save/b:v1")
			if err := src.Tag("save/b:v1", "save/b:v2"); err != nil {
				t.Fatal(err)
			}
			archive := filepath.Join(t.TempDir(), "images.tar")
			// b by id keeps both its names; a by name keeps that one.
			if err := src.Save(ctx, []string{"save/a:v1", b.ID[:12]}, SaveOptions{Format: format, Output: archive}); err != nil {
				t.Fatal(err)
			}
			dst := testStore(t)
			loaded, err := dst.Load(ctx, LoadOptions{Input: archive})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{"localhost/save/a:v1", "localhost/save/b:v1", "localhost/save/b:v2"}
			slices.Sort(loaded)
			if !slices.Equal(loaded, want) {
				t.Errorf("loaded %v, want %v", loaded, want)
			}
			for name, id := range map[string]string{"save/a:v1": a.ID, "save/b:v1": b.ID, "save/b:v2": b.ID} {
				rec, err := dst.Lookup(name)
				if err != nil {
					t.Fatalf("after load: %v", err)
				}
				if rec.ID != id {
					t.Errorf("loaded %s has id %s, saved %s", name, rec.ID, id)
				}
			}
			if n := len(ids(t, dst, ListOptions{All: true})); n != 2 {
				t.Errorf("store holds %d images after loading two", n)
			}
		})
	}
}

func TestSaveStreamAndUntagged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testStore(t)
	rec := importTar(t, src, tarOf(t, rootfs("untagged")), "", time.Time{})
	var buf bytes.Buffer
	if err := src.Save(ctx, []string{rec.ID}, SaveOptions{Writer: &buf}); err != nil {
		t.Fatal(err)
	}
	dst := testStore(t)
	loaded, err := dst.Load(ctx, LoadOptions{Reader: &buf})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"sha256:" + rec.ID}; !slices.Equal(loaded, want) {
		t.Fatalf("loaded %v, want %v", loaded, want)
	}
	if got, err := dst.Lookup(rec.ID); err != nil || len(got.Names) != 0 {
		t.Fatalf("loaded untagged image: %+v, %v", got, err)
	}
}

func TestSaveOCIDirAndPull(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testStore(t)
	rec := importRootfs(t, src, "ocidir", "layout/app:v1")
	dir := filepath.Join(t.TempDir(), "layout")
	if err := src.Save(ctx, []string{"layout/app:v1"}, SaveOptions{Format: FormatOCIDir, Output: dir}); err != nil {
		t.Fatal(err)
	}
	dst := testStore(t)
	got, err := dst.Pull(ctx, "oci:"+dir+":localhost/layout/app:v1", PullOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != rec.ID || !slices.Equal(got.Names, []string{"localhost/layout/app:v1"}) {
		t.Errorf("pulled %+v, want id %s named localhost/layout/app:v1", got, rec.ID)
	}
}

func TestLoadBadArchive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := testStore(t)
	importRootfs(t, src, "bad", "bad:v1")
	dir := t.TempDir()
	archive := filepath.Join(dir, "ok.tar")
	if err := src.Save(ctx, []string{"bad:v1"}, SaveOptions{Output: archive}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(archive)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, c := range []struct {
		name, path string
		want       error
	}{
		{"missing", filepath.Join(dir, "missing.tar"), fs.ErrNotExist},
		{"truncated", write("truncated.tar", data[:len(data)/2]), fs.ErrInvalid},
		{"not an image archive", write("rootfs.tar", tarOf(t, rootfs("x"))), fs.ErrInvalid},
		{"empty", write("empty.tar", nil), fs.ErrInvalid},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dst := testStore(t)
			_, err := dst.Load(ctx, LoadOptions{Input: c.path})
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.path) {
				t.Fatalf("load %s: err = %v, want %v naming the file", c.name, err, c.want)
			}
			if got := ids(t, dst, ListOptions{All: true}); len(got) != 0 {
				t.Errorf("failed load left images %v", got)
			}
		})
	}
}
