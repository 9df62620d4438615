package storage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kiln-build/kiln/userns"
)

func TestImportConfig(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := testStore(t)
	data := tarOf(t, rootfs("config"))
	created := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	cfg := &Image{OS: "linux", Architecture: "arm64", Variant: "v8", Config: Config{
		Cmd: []string{"sh"}, Env: []string{"A=1"}, Labels: map[string]string{"k": "v"}, User: "1000", WorkingDir: "/home/app"}}
	rec, err := st.Import(ctx, ImportOptions{Source: bytes.NewReader(data), Name: "imported:v1", Config: cfg,
		Message: "from a tarball", Created: created})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec.Names, []string{"localhost/imported:v1"}) {
		t.Errorf("names = %v, want localhost/imported:v1", rec.Names)
	}
	got, _, err := st.Config(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	diffID := "sha256:" + sha256Hex(data)
	switch {
	case got.OS != "linux" || got.Architecture != "arm64" || got.Variant != "v8":
		t.Errorf("platform = %s/%s/%s, want linux/arm64/v8", got.OS, got.Architecture, got.Variant)
	case !slices.Equal(got.Config.Cmd, []string{"sh"}) || !slices.Equal(got.Config.Env, []string{"A=1"}) ||
		got.Config.Labels["k"] != "v" || got.Config.User != "1000" || got.Config.WorkingDir != "/home/app":
		t.Errorf("config = %+v, want the one given", got.Config)
	case got.Created == nil || !got.Created.Equal(created):
		t.Errorf("created = %v, want %v", got.Created, created)
	case len(got.RootFS.DiffIDs) != 1 || got.RootFS.DiffIDs[0].String() != diffID:
		t.Errorf("diff ids = %v, want [%s] (the tarball's digest)", got.RootFS.DiffIDs, diffID)
	case len(got.History) != 1 || got.History[0].Comment != "from a tarball" ||
		!strings.Contains(got.History[0].CreatedBy, sha256Hex(data)):
		t.Errorf("history = %+v, want one entry with the message and the layer digest", got.History)
	}
	if cfg.Created != nil || len(cfg.History) != 0 {
		t.Errorf("Import changed the caller's config: %+v", cfg)
	}
}

func TestImportCompressedAndUntagged(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	data := tarOf(t, rootfs("gzip"))
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(data)
	zw.Close()
	rec := importTar(t, st, gz.Bytes(), "", time.Time{})
	if len(rec.Names) != 0 {
		t.Errorf("untagged import has names %v", rec.Names)
	}
	layer, err := st.LookupLayer(rec.TopLayer)
	if err != nil {
		t.Fatal(err)
	}
	if want := "sha256:" + sha256Hex(data); layer.DiffID.String() != want {
		t.Errorf("gzip import has diff id %s, want the uncompressed tar's %s", layer.DiffID, want)
	}
	// The same content again reuses the layer and leaves no stray copy.
	again := importTar(t, st, data, "again:v1", time.Time{})
	if again.TopLayer != rec.TopLayer {
		t.Errorf("identical import got layer %s, want the existing %s", again.TopLayer, rec.TopLayer)
	}
	if n := layerCount(t, st); n != 1 {
		t.Errorf("store has %d layers after two imports of one tarball, want 1", n)
	}
}

func layerCount(t *testing.T, st *Store) int {
	t.Helper()
	layers, err := st.s.Layers()
	if err != nil {
		t.Fatal(err)
	}
	return len(layers)
}

func TestImportBadInput(t *testing.T) {
	t.Parallel()
	data := tarOf(t, rootfs("bad"))
	for name, src := range map[string][]byte{
		"truncated": data[:len(data)/2+100],
		"not a tar": bytes.Repeat([]byte("not a tar archive\n"), 100),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			st := testStore(t)
			cfg := &Image{OS: "linux", Architecture: "amd64"}
			_, err := st.Import(context.Background(), ImportOptions{Source: bytes.NewReader(src), Name: "bad:v1", Config: cfg})
			if err == nil {
				t.Fatal("import succeeded")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans several lines: %q", err)
			}
			if n := layerCount(t, st); n != 0 {
				t.Errorf("failed import left %d layers", n)
			}
			if got := ids(t, st, ListOptions{All: true}); len(got) != 0 {
				t.Errorf("failed import left images %v", got)
			}
		})
	}
	t.Run("bad name", func(t *testing.T) {
		t.Parallel()
		st := testStore(t)
		_, err := st.Import(context.Background(), ImportOptions{Source: bytes.NewReader(data), Name: "UPPER:case", Config: &Image{}})
		if err == nil || !strings.Contains(err.Error(), "UPPER:case") {
			t.Fatalf("import as UPPER:case: err = %v, want one naming it", err)
		}
		if n := layerCount(t, st); n != 0 {
			t.Errorf("refused import left %d layers", n)
		}
	})
}

func TestExport(t *testing.T) {
	t.Parallel()
	st := testStore(t)
	entries := rootfs("export")
	importTar(t, st, tarOf(t, entries), "export:v1", time.Time{})
	var buf bytes.Buffer
	if err := st.Export(context.Background(), "export:v1", &buf); err != nil {
		t.Fatal(err)
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
		got[strings.TrimSuffix(strings.TrimPrefix(h.Name, "./"), "/")] = describe(h.Typeflag, h.Mode, h.Uid, h.Linkname)
	}
	for _, e := range entries {
		name := strings.TrimSuffix(e.name, "/")
		want := describe(e.typ, e.mode, e.uid, e.link)
		if g := got[name]; g != want {
			t.Errorf("export has %s as %q, want %q", name, g, want)
		}
		delete(got, name)
	}
	delete(got, "")
	delete(got, ".")
	if len(got) > 0 {
		t.Errorf("export has extra entries %v", got)
	}
}

// describe is what an export must keep of an entry; owners only where the
// test could set them.
func describe(typ byte, mode int64, uid int, link string) string {
	if userns.CurrentMode() == userns.ModeSingle {
		uid = -1
	}
	if typ == tar.TypeSymlink {
		mode = 0o777
	}
	return fmt.Sprintf("%c %o %d %s", typ, mode&0o7777, uid, link)
}
