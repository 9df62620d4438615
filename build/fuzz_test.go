package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzIgnored feeds arbitrary ignore files and paths to the context matcher: it may refuse a
// pattern, never panic, and never ignores the context root.
func FuzzIgnored(f *testing.F) {
	for _, seed := range [][2]string{
		{"*.log\n!keep.log\n", "a/b.log"}, {"**/node_modules\n", "x/node_modules/y"}, {"[", "a"},
		{"\\\n../..\n/abs\n", "../x"}, {"!*\n*\n", "."}, {"a/**/b/*.go\n# comment\n", "a/x/y/b/c.go"},
		{"[a-\n", "b"}, {"*\n!a/**\n", "a/b/c"},
	} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, patterns, rel string) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte(patterns), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := newContext(dir, "")
		if err != nil {
			return
		}
		if ig, err := c.ignored("."); err != nil || ig {
			t.Fatalf("the context root is ignored (%v, %v) by %q", ig, err, patterns)
		}
		_, _ = c.ignored(rel)
	})
}

// FuzzExtractEntry unpacks crafted archives — one entry a line, "TYPE NAME [LINK]" with TYPE
// one of 0 (file), 1 (hard link), 2 (symlink), 5 (directory) — into a root next to a canary:
// whatever the names and links, nothing outside the root changes.
func FuzzExtractEntry(f *testing.F) {
	for _, seed := range []string{
		"0 ../canary/token\n0 /etc/passwd\n",
		"2 evil ../canary\n0 evil/token\n0 evil/new\n",
		"2 evil /\n5 evil/x\n0 evil/canary/token\n",
		"1 h ../canary/token\n1 h2 /../../canary/token\n",
		"2 a b\n2 b a\n0 a/x\n",
		"2 f ../canary/token\n0 f\n",
		"5 d\n2 d/l ../../canary\n0 d/l/token\n1 d/l/hard d/l/token\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		parent := t.TempDir()
		root := filepath.Join(parent, "root")
		canary := filepath.Join(parent, "canary")
		for _, d := range []string{root, canary} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(canary, "token"), []byte("token"), 0o644); err != nil {
			t.Fatal(err)
		}
		cp := &copier{root: root, forceOwner: true, uid: os.Getuid(), gid: os.Getgid()}
		tr := tar.NewReader(bytes.NewReader(fuzzTar(t, spec)))
		for h, err := tr.Next(); err == nil; h, err = tr.Next() {
			_ = cp.extractEntry(tr, h)
		}
		ents, err := os.ReadDir(parent)
		if err != nil || len(ents) != 2 {
			t.Fatalf("the parent of the root holds %v (%v)", ents, err)
		}
		canaryEnts, err := os.ReadDir(canary)
		if err != nil || len(canaryEnts) != 1 {
			t.Fatalf("the canary directory holds %v (%v)", canaryEnts, err)
		}
		if b, err := os.ReadFile(filepath.Join(canary, "token")); err != nil || string(b) != "token" {
			t.Fatalf("the canary changed: %q %v", b, err)
		}
	})
}

// fuzzTar builds the tar FuzzExtractEntry's spec describes.
func fuzzTar(t *testing.T, spec string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i, line := range strings.Split(spec, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || len(f) > 3 || i > 64 {
			continue
		}
		h := &tar.Header{Name: f[1], Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if len(f) == 3 {
			h.Linkname = f[2]
		}
		switch f[0] {
		case "0":
			h.Typeflag, h.Size = tar.TypeReg, 3
		case "1":
			h.Typeflag = tar.TypeLink
		case "2":
			h.Typeflag = tar.TypeSymlink
		case "5":
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		default:
			continue
		}
		if err := tw.WriteHeader(h); err != nil {
			continue
		}
		if h.Typeflag == tar.TypeReg {
			_, _ = tw.Write([]byte("pwn"))
		}
	}
	_ = tw.Close()
	return buf.Bytes()
}
