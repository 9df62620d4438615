package overlay

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkDiff measures Diff throughput (file bytes per second, page cache
// warm, output discarded) over 1,000 small files plus one 64 MiB file, and
// over each part alone.
func BenchmarkDiff(b *testing.B) {
	const (
		smallFiles = 1000
		smallSize  = 4 << 10
		bigSize    = 64 << 20
	)
	root := b.TempDir()
	rng := rand.NewChaCha8([32]byte{1})
	data := make([]byte, bigSize)
	_, _ = rng.Read(data)
	for i := range smallFiles {
		p := filepath.Join(root, "small", fmt.Sprintf("d%02d", i%20), fmt.Sprintf("f%04d", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(p, data[i*smallSize:(i+1)*smallSize], 0o644); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "big"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "big", "blob"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	for _, bb := range []struct {
		name  string
		dir   string
		bytes int64
	}{
		{"tree", root, smallFiles*smallSize + bigSize},
		{"1000x4KiB", filepath.Join(root, "small"), smallFiles * smallSize},
		{"64MiB", filepath.Join(root, "big"), bigSize},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(bb.bytes)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Diff(context.Background(), bb.dir, io.Discard, DiffOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
