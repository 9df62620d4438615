package storage

import (
	"archive/tar"
	"bytes"
	"io"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

func TestCheckLayerTar(t *testing.T) {
	type ent struct {
		name, link string
		typ        byte
	}
	for _, tc := range []struct {
		name    string
		entries []ent
		want    string // "" for accepted
	}{
		{"plain", []ent{{"d/", "", tar.TypeDir}, {"d/f", "", tar.TypeReg}, {"/abs/f", "", tar.TypeReg}}, ""},
		{"dotdot", []ent{{"../f", "", tar.TypeReg}}, `"../f" points outside`},
		{"dotdot-inside", []ent{{"a/../../f", "", tar.TypeReg}}, "points outside"},
		{"dotdot-confined", []ent{{"a/b/../f", "", tar.TypeReg}}, ""},
		{"through-symlink", []ent{{"l", "/etc", tar.TypeSymlink}, {"l/passwd", "", tar.TypeReg}}, `through symlink "l"`},
		{"deep-through-symlink", []ent{{"a/l", "..", tar.TypeSymlink}, {"a/l/b/c", "", tar.TypeReg}}, `through symlink "a/l"`},
		{"whiteout-through-symlink", []ent{{"l", "/x", tar.TypeSymlink}, {"l/.wh.f", "", tar.TypeReg}}, "through symlink"},
		{"symlink-replaced-by-dir", []ent{{"l", "/x", tar.TypeSymlink}, {"l/", "", tar.TypeDir}, {"l/f", "", tar.TypeReg}}, ""},
		{"hardlink-out", []ent{{"h", "../../etc/shadow", tar.TypeLink}}, `hard link "h"`},
		{"hardlink-through-symlink", []ent{{"l", "/etc", tar.TypeSymlink}, {"h", "l/shadow", tar.TypeLink}}, "through symlink"},
		{"hardlink-fine", []ent{{"f", "", tar.TypeReg}, {"h", "f", tar.TypeLink}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			tw := tar.NewWriter(&buf)
			for _, e := range tc.entries {
				if err := tw.WriteHeader(&tar.Header{Name: e.name, Linkname: e.link, Typeflag: e.typ, Mode: 0o644}); err != nil {
					t.Fatal(err)
				}
			}
			if err := tw.Close(); err != nil {
				t.Fatal(err)
			}
			n := buf.Len()
			r := bytes.NewReader(buf.Bytes())
			err := checkLayerTar(r)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			case err == nil && r.Len() != 0:
				t.Fatalf("%d of %d bytes left unread: the digest would miss them", r.Len(), n)
			}
		})
	}
}

// FuzzCheckLayerTar feeds arbitrary bytes to the layer tar check: it must not panic, and a tar it
// accepts must have been read to its end (the digest covers every byte).
func FuzzCheckLayerTar(f *testing.F) {
	for _, names := range [][]string{{"a", "b/c"}, {"../x"}, {"l", "l/x"}} {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for i, n := range names {
			h := &tar.Header{Name: n, Typeflag: tar.TypeReg, Mode: 0o644}
			if i == 0 && len(names) > 1 && strings.HasPrefix(names[1], n+"/") {
				h.Typeflag, h.Linkname = tar.TypeSymlink, "/etc"
			}
			if err := tw.WriteHeader(h); err != nil {
				f.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		if err := checkLayerTar(r); err == nil && r.Len() != 0 {
			t.Fatalf("accepted with %d bytes unread", r.Len())
		}
	})
}

// tarSplit's digest and length are those of its input, every byte of it: trailing padding
// after the end-of-archive blocks included, as some tar writers leave it.
func TestTarSplitDigest(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	body := bytes.Repeat([]byte("kiln"), 300000)
	if err := tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(body); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	for _, pad := range []int{0, 512, 10240} {
		in := append(bytes.Clone(buf.Bytes()), make([]byte, pad)...)
		var meta bytes.Buffer
		d, n, err := tarSplit(bytes.NewReader(in), &meta)
		if err != nil {
			t.Fatal(err)
		}
		if want := digest.FromBytes(in); d != want || n != int64(len(in)) {
			t.Errorf("padding %d: tarSplit = %s, %d bytes; want %s, %d", pad, d, n, want, len(in))
		}
		if meta.Len() == 0 {
			t.Errorf("padding %d: no tar-split metadata", pad)
		}
	}
}

// selfReader is a tar stream that reports its own digest, as overlay.DigestStream does.
type selfReader struct {
	io.Reader
	d digest.Digest
	n int64
}

func (r selfReader) DiffDigest() (digest.Digest, int64, error) { return r.d, r.n, nil }

// tarSplit takes a self-digesting stream's digest (hashing it again is the work it saves), but not
// a length that differs from what passed through.
func TestTarSplitSelfDigesting(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Name: "f", Typeflag: tar.TypeReg, Mode: 0o644}); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	in := buf.Bytes()
	d := digest.FromBytes(in)
	got, n, err := tarSplit(selfReader{bytes.NewReader(in), d, int64(len(in))}, io.Discard)
	if err != nil || got != d || n != int64(len(in)) {
		t.Fatalf("tarSplit = %s, %d, %v; want %s, %d", got, n, err, d, len(in))
	}
	if _, _, err := tarSplit(selfReader{bytes.NewReader(in), d, int64(len(in)) + 1}, io.Discard); err == nil {
		t.Error("tarSplit accepted a stream whose length disagrees with what passed through")
	}
}
