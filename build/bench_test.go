package build

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

// BenchmarkStepKey measures the cache key of one step: a RUN with a typical
// environment, and one whose parts are large (a long heredoc-like script).
func BenchmarkStepKey(b *testing.B) {
	parent := digest.FromString("parent")
	env := strings.Join([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "APP_HOME=/app", "BENCH=mixed"}, "\x00")
	for _, bb := range []struct {
		name  string
		parts []string
	}{
		{"run", []string{"RUN", "/bin/sh\x00-c\x00echo 1 > /f1", env, "", "", "host"}},
		{"run-64KiB", []string{"RUN", "/bin/sh\x00-c\x00" + strings.Repeat("echo x; ", 8<<10), env, "", "", "host"}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			n := 0
			for _, p := range bb.parts {
				n += len(p)
			}
			b.SetBytes(int64(n))
			b.ReportAllocs()
			for b.Loop() {
				_ = stepKey(parent, bb.parts...)
			}
		})
	}
}

// BenchmarkHashTree measures the COPY source digest (page cache warm) over
// 10,000 files of 4 KiB in 100 directories, one 64 MiB file, and the 10,000
// files again through a .dockerignore that excludes a tenth of them.
func BenchmarkHashTree(b *testing.B) {
	const (
		dirs     = 100
		perDir   = 100
		fileSize = 4 << 10
		bigSize  = 64 << 20
	)
	root := b.TempDir()
	rng := rand.NewChaCha8([32]byte{2})
	data := make([]byte, bigSize)
	_, _ = rng.Read(data)
	tree := filepath.Join(root, "tree")
	for d := range dirs {
		dir := filepath.Join(tree, fmt.Sprintf("d%02d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range perDir {
			off := ((d*perDir + f) * fileSize) % (bigSize - fileSize)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), data[off:off+fileSize], 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := os.MkdirAll(filepath.Join(root, "big"), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "big", "blob"), data, 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, ".dockerignore"), []byte("tree/d9*\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	bc, err := newContext(root, "")
	if err != nil {
		b.Fatal(err)
	}
	for _, bb := range []struct {
		name  string
		dir   string
		bytes int64
		skip  func(string, fs.DirEntry) (bool, error)
	}{
		{"10000x4KiB", tree, dirs * perDir * fileSize, nil},
		{"64MiB", filepath.Join(root, "big"), bigSize, nil},
		{"10000x4KiB-ignore", tree, dirs * perDir * fileSize * 9 / 10, skipIgnored("tree", bc.ignored)},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(bb.bytes)
			b.ReportAllocs()
			for b.Loop() {
				if err := hashTree(sha256.New(), bb.dir, bb.skip); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCopyTree measures COPY's file copying alone (no overlay mount, no layer): 2,000 files
// of 4 KiB in 20 directories into a new directory of a root, page cache warm. Each iteration
// copies into a fresh root; creating the roots is not timed.
func BenchmarkCopyTree(b *testing.B) {
	src := b.TempDir()
	data := make([]byte, 4<<10)
	for d := range 20 {
		dir := filepath.Join(src, "tree", fmt.Sprintf("d%02d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 100 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%03d", f)), data, 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	roots := b.TempDir()
	b.SetBytes(2000 * int64(len(data)))
	i := 0
	for b.Loop() {
		b.StopTimer()
		i++
		root := filepath.Join(roots, fmt.Sprint(i))
		if err := os.Mkdir(root, 0o755); err != nil {
			b.Fatal(err)
		}
		cp := &copier{root: root, srcRoot: src}
		b.StartTimer()
		if err := cp.copySource(filepath.Join(src, "tree"), "/tree/", true); err != nil {
			b.Fatal(err)
		}
	}
}
