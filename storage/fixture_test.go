package storage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.podman.io/storage/pkg/reexec"

	"github.com/kiln-build/kiln/userns"
)

// TestMain lets the test binary serve as containers/storage's re-executed
// layer unpacker, and runs the tests in a user namespace when unprivileged,
// as kiln's main does.
func TestMain(m *testing.M) {
	if reexec.Init() {
		return
	}
	code, reexeced, err := userns.Enter()
	if err != nil {
		fmt.Fprintf(os.Stderr, "entering a user namespace: %v\n", err)
		os.Exit(1)
	}
	if reexeced {
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// testStore opens an empty vfs store in a temporary directory. Without
// subordinate ids (a namespace mapping only the user's own id) vfs is told
// to ignore failed chowns, so that the tests run anywhere; layer tars still
// round-trip byte for byte through tar-split.
func testStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	opts := Options{Root: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run"), Driver: "vfs"}
	if userns.CurrentMode() == userns.ModeSingle {
		opts.DriverOptions = []string{"vfs.ignore_chown_errors=true"}
	}
	st, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("opening store: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("closing store: %v", err)
		}
	})
	return st
}

// entry is one member of a rootfs tar built in code.
type entry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid              int
}

// rootfs is a small root filesystem: a directory, files owned by root and by
// uid 1000, a symlink, plus a file whose content is salt so that each salt
// gives a different layer (and image).
func rootfs(salt string) []entry {
	return []entry{
		{name: "bin/", typ: tar.TypeDir, mode: 0o755},
		{name: "bin/busybox", body: "#!/bin/true\n", typ: tar.TypeReg, mode: 0o755},
		{name: "bin/sh", link: "busybox", typ: tar.TypeSymlink, mode: 0o777},
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/hostname", body: "kiln\n", typ: tar.TypeReg, mode: 0o644},
		{name: "home/", typ: tar.TypeDir, mode: 0o755},
		{name: "home/app/", typ: tar.TypeDir, mode: 0o750, uid: 1000},
		{name: "home/app/notes", body: "mine\n", typ: tar.TypeReg, mode: 0o600, uid: 1000},
		{name: "salt", body: salt, typ: tar.TypeReg, mode: 0o644},
	}
}

func tarOf(t *testing.T, entries []entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Uid: e.uid, Gid: e.uid, Linkname: e.link,
			Size: int64(len(e.body)), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// importTar imports data as an image named name ("" untagged) created at
// created (zero: now).
func importTar(t *testing.T, st *Store, data []byte, name string, created time.Time) *ImageRecord {
	t.Helper()
	cfg := &Image{OS: "linux", Architecture: "amd64", Config: Config{Cmd: []string{"sh"}}}
	rec, err := st.Import(context.Background(), ImportOptions{Source: bytes.NewReader(data), Name: name, Config: cfg, Created: created})
	if err != nil {
		t.Fatalf("importing %q: %v", name, err)
	}
	return rec
}

// importRootfs imports rootfs(salt) as name.
func importRootfs(t *testing.T, st *Store, salt, name string) *ImageRecord {
	t.Helper()
	return importTar(t, st, tarOf(t, rootfs(salt)), name, time.Time{})
}

// ids returns the ids of the images in the store, newest first.
func ids(t *testing.T, st *Store, opts ListOptions) []string {
	t.Helper()
	imgs, err := st.Images(context.Background(), opts)
	if err != nil {
		t.Fatalf("listing images: %v", err)
	}
	var out []string
	for _, img := range imgs {
		out = append(out, img.ID)
	}
	return out
}
