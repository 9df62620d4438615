package storage

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiln-build/kiln/userns"
)

// BenchmarkPutLayer measures storing an uncompressed layer tar (held in
// memory) into an empty store in a temporary directory, for the vfs and the
// overlay driver: 1,000 files of 4 KiB in 20 directories, and one 64 MiB
// file. Each stored layer is deleted again outside the timed part.
func BenchmarkPutLayer(b *testing.B) {
	rng := rand.NewChaCha8([32]byte{3})
	data := make([]byte, 64<<20)
	_, _ = rng.Read(data)
	small := benchTar(b, 1000, 4<<10, data)
	big := benchTar(b, 1, 64<<20, data)
	for _, driver := range []string{"vfs", "overlay"} {
		st, err := benchStore(b, driver)
		if err != nil {
			b.Logf("no %s store here: %v", driver, err)
			continue
		}
		for _, bb := range []struct {
			name  string
			tar   []byte
			bytes int64
		}{
			{"1000x4KiB", small, 1000 * 4 << 10},
			{"64MiB", big, 64 << 20},
		} {
			b.Run(driver+"/"+bb.name, func(b *testing.B) {
				b.SetBytes(bb.bytes)
				b.ReportAllocs()
				for b.Loop() {
					l, err := st.PutLayer(context.Background(), "", bytes.NewReader(bb.tar))
					if err != nil {
						b.Fatal(err)
					}
					b.StopTimer()
					if err := st.deleteLayer(l.ID); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			})
		}
	}
}

// benchStore opens an empty store with driver in a temporary directory.
func benchStore(b *testing.B, driver string) (*Store, error) {
	dir := b.TempDir()
	opts := Options{Root: filepath.Join(dir, "root"), RunRoot: filepath.Join(dir, "run"), Driver: driver}
	if driver == "vfs" && userns.CurrentMode() == userns.ModeSingle {
		opts.DriverOptions = []string{"vfs.ignore_chown_errors=true"}
	}
	st, err := Open(context.Background(), opts)
	if err != nil {
		return nil, err
	}
	b.Cleanup(func() {
		if err := st.Close(); err != nil {
			b.Errorf("closing store: %v", err)
		}
	})
	return st, nil
}

// benchTar returns a layer tar of n files of size bytes each, cut from data,
// spread over 20 directories.
func benchTar(b *testing.B, n, size int, data []byte) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for d := range min(n, 20) {
		h := &tar.Header{Name: fmt.Sprintf("d%02d/", d), Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(h); err != nil {
			b.Fatal(err)
		}
	}
	for i := range n {
		off := (i * size) % (len(data) - size + 1)
		h := &tar.Header{Name: fmt.Sprintf("d%02d/f%04d", i%20, i), Typeflag: tar.TypeReg, Mode: 0o644,
			Size: int64(size), ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(h); err != nil {
			b.Fatal(err)
		}
		if _, err := tw.Write(data[off : off+size]); err != nil {
			b.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}
