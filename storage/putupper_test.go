package storage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	digest "github.com/opencontainers/go-digest"
)

// overlayTestStore opens an empty overlay store, the only driver whose layers PutUpper adopts.
func overlayTestStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	st, err := Open(context.Background(), Options{Root: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run"), Driver: "overlay"})
	if err != nil {
		t.Fatalf("opening overlay store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing store: %v", err)
		}
	})
	if !st.CanAdoptUpper() {
		t.Fatal("the overlay store cannot adopt upper directories")
	}
	return st
}

// upperWith makes an upper directory holding file f with body, inside the driver's directory as
// kiln's work directories are, and returns it with the layer tar of that change.
func upperWith(t *testing.T, st *Store, f, body string) (string, []byte) {
	t.Helper()
	base := filepath.Join(st.GraphRoot(), "overlay", "tempdirs")
	if err := os.MkdirAll(base, 0o700); err != nil {
		t.Fatal(err)
	}
	upper, err := os.MkdirTemp(base, "upper-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(upper, f), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	h := &tar.Header{Name: f, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1, 0)}
	if err := tw.WriteHeader(h); err != nil {
		t.Fatal(err)
	}
	if _, err := io.WriteString(tw, body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return upper, buf.Bytes()
}

func layerFile(t *testing.T, st *Store, id, f string) (string, uint64) {
	t.Helper()
	p := filepath.Join(st.GraphRoot(), "overlay", id, "diff", f)
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("layer %s: %v", id, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data), fi.Sys().(*syscall.Stat_t).Ino
}

func TestPutUpper(t *testing.T) {
	st := overlayTestStore(t)
	ctx := context.Background()
	base, err := st.PutLayer(ctx, "", bytes.NewReader(tarOf(t, rootfs("putupper"))))
	if err != nil {
		t.Fatal(err)
	}

	// A new layer: created under its chain id, the directory moved in, the tar kept exactly.
	upper, tarData := upperWith(t, st, "f1", "one\n")
	want := digest.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256(tarData)))
	l, err := st.PutUpper(ctx, base.ID, upper, bytes.NewReader(tarData))
	if err != nil {
		t.Fatal(err)
	}
	if l.ID != chainID(base.ID, want) || l.DiffID != want || l.Parent != base.ID {
		t.Fatalf("layer %+v, want id %s diff id %s on %s", l, chainID(base.ID, want), want, base.ID)
	}
	if _, err := os.Lstat(upper); !os.IsNotExist(err) {
		t.Fatalf("upper directory still there after PutUpper: %v", err)
	}
	body, ino := layerFile(t, st, l.ID, "f1")
	if body != "one\n" {
		t.Fatalf("layer file holds %q", body)
	}
	stored, err := st.s.Layer(l.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored.Names) != 0 || stored.UncompressedDigest != want {
		t.Fatalf("stored layer names %v diff id %s", stored.Names, stored.UncompressedDigest)
	}
	rc, err := st.LayerTar(l.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(got, tarData) {
		t.Fatalf("layer tar differs from the one stored (%v)", err)
	}

	// The same change again: the stored layer is returned untouched (ApplyStagedLayer on a taken
	// id would have replaced its contents), the second directory is dropped.
	again, _ := upperWith(t, st, "f1", "one\n")
	l2, err := st.PutUpper(ctx, base.ID, again, bytes.NewReader(tarData))
	if err != nil {
		t.Fatal(err)
	}
	if l2.ID != l.ID {
		t.Fatalf("same change stored as %s and %s", l.ID, l2.ID)
	}
	if _, err := os.Lstat(again); !os.IsNotExist(err) {
		t.Fatalf("second upper directory left: %v", err)
	}
	if body, ino2 := layerFile(t, st, l.ID, "f1"); body != "one\n" || ino2 != ino {
		t.Fatalf("stored layer changed: %q, inode %d was %d", body, ino2, ino)
	}

	// A half-stored layer of a kiln that is gone, under the same chain id: replaced.
	upper3, tar3 := upperWith(t, st, "f3", "three\n")
	id3 := chainID(base.ID, digest.Digest(fmt.Sprintf("sha256:%x", sha256.Sum256(tar3))))
	if _, err := st.s.CreateLayer(id3, base.ID, []string{workLayerPrefix + "999999999-1-1"}, "", false, nil); err != nil {
		t.Fatal(err)
	}
	l3, err := st.PutUpper(ctx, base.ID, upper3, bytes.NewReader(tar3))
	if err != nil {
		t.Fatal(err)
	}
	if body, _ := layerFile(t, st, l3.ID, "f3"); l3.ID != id3 || body != "three\n" {
		t.Fatalf("layer %s holds %q", l3.ID, body)
	}
	if s3, err := st.s.Layer(id3); err != nil || len(s3.Names) != 0 {
		t.Fatalf("layer %s: names %v, %v", id3, s3.Names, err)
	}
}
