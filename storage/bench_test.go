package storage

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
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

// BenchmarkPutUpper measures what a trivial RUN step pays the store: moving an upper directory
// holding one small file into the overlay store as a new layer on a base layer.
func BenchmarkPutUpper(b *testing.B) {
	st, err := benchStore(b, "overlay")
	if err != nil {
		b.Skipf("no overlay store here: %v", err)
	}
	if !st.CanAdoptUpper() {
		b.Skip("the store cannot adopt upper directories here")
	}
	ctx := context.Background()
	base, err := st.PutLayer(ctx, "", bytes.NewReader(benchTar(b, 20, 16, make([]byte, 64))))
	if err != nil {
		b.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	content := []byte("1\n")
	if err := tw.WriteHeader(&tar.Header{Name: "f1", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
		b.Fatal(err)
	}
	if _, err := tw.Write(content); err != nil {
		b.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	// Inside the driver's directory, as a work layer's upper is: the driver mounts it on itself.
	work := filepath.Join(st.GraphRoot(), "overlay", "bench-uppers")
	if err := os.MkdirAll(work, 0o700); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		b.StopTimer()
		upper, err := os.MkdirTemp(work, "u-")
		if err == nil {
			err = os.WriteFile(filepath.Join(upper, "f1"), content, 0o644)
		}
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		l, err := st.PutUpper(ctx, base.ID, upper, bytes.NewReader(buf.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if err := st.deleteLayer(l.ID); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
}
