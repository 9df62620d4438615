package overlay

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// capNetBind is a security.capability value (VFS_CAP_REVISION_2,
// cap_net_bind_service=ep) with NUL bytes in it.
const capNetBind = "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

var (
	longDir  = strings.Repeat("d", 120)
	longName = longDir + "/" + strings.Repeat("n", 150)
)

// diffTests are upper directories and the layers Diff must make of them.
var diffTests = []struct {
	name  string
	nodes []node
	want  []entry
}{{
	name: "empty",
}, {
	name: "plain tree",
	nodes: []node{
		{path: "a", kind: kDir},
		{path: "a/file", kind: kFile, content: "hello\n"},
		{path: "a/b", kind: kDir, mode: 0o700},
		{path: "a/b/empty", kind: kFile, mode: 0o600},
		{path: "link", kind: kSymlink, target: "a/file"},
		{path: "dangling", kind: kSymlink, target: "/nowhere/at/all"},
		{path: "héllo wörld", kind: kFile, content: "utf8"},
		{path: longName, kind: kFile, content: "long"},
	},
	want: []entry{
		{name: "a/", typ: tar.TypeDir, mode: 0o755},
		{name: "a/b/", typ: tar.TypeDir, mode: 0o700},
		{name: "a/b/empty", typ: tar.TypeReg, mode: 0o600},
		{name: "a/file", typ: tar.TypeReg, mode: 0o644, size: 6, content: "hello\n"},
		{name: "dangling", typ: tar.TypeSymlink, mode: 0o777, link: "/nowhere/at/all"},
		{name: longDir + "/", typ: tar.TypeDir, mode: 0o755},
		{name: longName, typ: tar.TypeReg, mode: 0o644, size: 4, content: "long"},
		{name: "héllo wörld", typ: tar.TypeReg, mode: 0o644, size: 4, content: "utf8"},
		{name: "link", typ: tar.TypeSymlink, mode: 0o777, link: "a/file"},
	},
}, {
	name: "walk order: directory contents right after the directory",
	nodes: []node{
		{path: "a.txt", kind: kFile},
		{path: "a/b", kind: kFile},
		{path: "B", kind: kFile},
		{path: "-x", kind: kFile},
	},
	want: []entry{
		{name: "-x", typ: tar.TypeReg, mode: 0o644},
		{name: "B", typ: tar.TypeReg, mode: 0o644},
		{name: "a/", typ: tar.TypeDir, mode: 0o755},
		{name: "a/b", typ: tar.TypeReg, mode: 0o644},
		{name: "a.txt", typ: tar.TypeReg, mode: 0o644},
	},
}, {
	name: "setuid setgid sticky and ownership",
	nodes: []node{
		{path: "suid", kind: kFile, mode: 0o4755, uid: 1000, gid: 1001},
		{path: "sgid", kind: kDir, mode: 0o2775, gid: 50},
		{path: "tmp", kind: kDir, mode: 0o1777},
		{path: "ro", kind: kFile, mode: 0o400, uid: 65534, gid: 65534},
	},
	want: []entry{
		{name: "ro", typ: tar.TypeReg, mode: 0o400, uid: 65534, gid: 65534},
		{name: "sgid/", typ: tar.TypeDir, mode: 0o2775, gid: 50},
		{name: "suid", typ: tar.TypeReg, mode: 0o4755, uid: 1000, gid: 1001},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
	},
}, {
	name: "whiteouts",
	nodes: []node{
		{path: "gone", kind: kWhiteout, uid: 1000, gid: 1000},
		{path: "d", kind: kDir},
		{path: "d/gone", kind: kWhiteout},
		// Overlay links whiteouts to one shared inode: never a TypeLink.
		{path: "d/also-gone", kind: kHardlink, target: "d/gone"},
		{path: "d/kept", kind: kFile, content: "k"},
		{path: "xwh", kind: kFile, xattrs: map[string]string{"trusted.overlay.whiteout": ""}},
		{path: "uxwh", kind: kFile, xattrs: map[string]string{"user.overlay.whiteout": ""}},
	},
	want: []entry{
		{name: "d/", typ: tar.TypeDir, mode: 0o755},
		{name: "d/.wh.also-gone", typ: tar.TypeReg},
		{name: "d/.wh.gone", typ: tar.TypeReg},
		{name: "d/kept", typ: tar.TypeReg, mode: 0o644, size: 1, content: "k"},
		{name: ".wh.gone", typ: tar.TypeReg},
		{name: ".wh.uxwh", typ: tar.TypeReg},
		{name: ".wh.xwh", typ: tar.TypeReg},
	},
}, {
	name: "opaque directories",
	nodes: []node{
		{path: "t", kind: kDir, xattrs: map[string]string{"trusted.overlay.opaque": "y"}},
		{path: "t/-first", kind: kFile},
		{path: "u", kind: kDir, mode: 0o750, uid: 7, xattrs: map[string]string{"user.overlay.opaque": "y"}},
		{path: "x", kind: kDir, xattrs: map[string]string{"trusted.overlay.opaque": "x"}},
		{path: "f", kind: kFile, xattrs: map[string]string{"trusted.overlay.opaque": "y"}},
	},
	want: []entry{
		{name: "f", typ: tar.TypeReg, mode: 0o644},
		{name: "t/", typ: tar.TypeDir, mode: 0o755},
		{name: "t/.wh..wh..opq", typ: tar.TypeReg},
		{name: "t/-first", typ: tar.TypeReg, mode: 0o644},
		{name: "u/", typ: tar.TypeDir, mode: 0o750, uid: 7},
		{name: "u/.wh..wh..opq", typ: tar.TypeReg},
		{name: "x/", typ: tar.TypeDir, mode: 0o755},
	},
}, {
	name: "xattrs kept, overlay's dropped",
	nodes: []node{
		{path: "ping", kind: kFile, mode: 0o755, xattrs: map[string]string{
			"security.capability":     capNetBind,
			"user.comment":            "hi",
			"trusted.overlay.origin":  "\x00\xfb",
			"trusted.overlay.impure":  "y",
			"user.overlay.origin":     "x",
			"trusted.other.attribute": "kept",
		}},
	},
	want: []entry{
		{name: "ping", typ: tar.TypeReg, mode: 0o755, xattrs: map[string]string{
			"security.capability":     capNetBind,
			"trusted.other.attribute": "kept",
			"user.comment":            "hi",
		}},
	},
}, {
	name: "hard links",
	nodes: []node{
		{path: "b", kind: kFile, content: "data", uid: 3},
		{path: "a", kind: kHardlink, target: "b"},
		{path: "z/c", kind: kHardlink, target: "b"},
		{path: "s", kind: kSymlink, target: "b"},
		{path: "t", kind: kHardlink, target: "s"},
		{path: "single", kind: kFile, content: "1"},
	},
	want: []entry{
		{name: "a", typ: tar.TypeReg, mode: 0o644, uid: 3, size: 4, content: "data"},
		{name: "b", typ: tar.TypeLink, mode: 0o644, uid: 3, link: "a"},
		{name: "s", typ: tar.TypeSymlink, mode: 0o777, link: "b"},
		{name: "single", typ: tar.TypeReg, mode: 0o644, size: 1, content: "1"},
		{name: "t", typ: tar.TypeLink, mode: 0o777, link: "s"},
		{name: "z/", typ: tar.TypeDir, mode: 0o755},
		{name: "z/c", typ: tar.TypeLink, mode: 0o644, uid: 3, link: "a"},
	},
}, {
	name: "devices and fifos, sockets skipped",
	nodes: []node{
		{path: "null", kind: kChar, major: 1, minor: 3, mode: 0o666},
		{path: "loop0", kind: kBlock, major: 7, minor: 0, mode: 0o660, gid: 6},
		{path: "fifo", kind: kFifo, mode: 0o600},
		{path: "sock", kind: kSocket},
	},
	want: []entry{
		{name: "fifo", typ: tar.TypeFifo, mode: 0o600},
		{name: "loop0", typ: tar.TypeBlock, mode: 0o660, gid: 6, content: "dev 7:0"},
		{name: "null", typ: tar.TypeChar, mode: 0o666, content: "dev 1:3"},
	},
}, {
	name: "override_stat",
	nodes: []node{
		{path: "storage", kind: kFile, mode: 0o600, xattrs: map[string]string{overrideStatXattr: "1000:1001:0644"}},
		{path: "typed", kind: kFile, mode: 0o600, xattrs: map[string]string{overrideStatXattr: "2:3:4755:file"}},
		{path: "fuse", kind: kFile, mode: 0o600, xattrs: map[string]string{overrideStatXattr: "5:6:0104755"}},
		{path: "dir", kind: kDir, mode: 0o700, uid: 9, xattrs: map[string]string{
			overrideStatXattr: "0:0:0755:dir", "user.keep": "1"}},
	},
	want: []entry{
		{name: "dir/", typ: tar.TypeDir, mode: 0o755, xattrs: map[string]string{"user.keep": "1"}},
		{name: "fuse", typ: tar.TypeReg, mode: 0o4755, uid: 5, gid: 6},
		{name: "storage", typ: tar.TypeReg, mode: 0o644, uid: 1000, gid: 1001},
		{name: "typed", typ: tar.TypeReg, mode: 0o4755, uid: 2, gid: 3},
	},
}}

func TestDiff(t *testing.T) {
	t.Parallel()
	for _, tt := range diffTests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			upper := t.TempDir()
			buildTree(t, upper, tt.nodes)
			_, got := runDiff(t, upper, DiffOptions{})
			checkEntries(t, got, tt.want)
		})
	}
}

func TestDiffOptions(t *testing.T) {
	t.Parallel()
	epoch := time.Date(2020, 6, 1, 12, 0, 0, 500_000_000, time.UTC)
	early := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	nodes := []node{
		{path: "d", kind: kDir, uid: 100000, gid: 100000},
		{path: "d/new", kind: kFile, uid: 101000, gid: 100005, mtime: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		{path: "d/old", kind: kFile, uid: 100000, gid: 100000, mtime: early.Add(700 * time.Millisecond)},
		{path: "gone", kind: kWhiteout, mtime: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	shift := func(uid, gid int) (int, int) { return uid - 100000, gid - 100000 }
	tests := []struct {
		name string
		opts DiffOptions
		want []entry
	}{{
		name: "none",
		want: []entry{
			{name: "d/", typ: tar.TypeDir, mode: 0o755, uid: 100000, gid: 100000},
			{name: "d/new", typ: tar.TypeReg, mode: 0o644, uid: 101000, gid: 100005, mtime: nodes[1].mtime},
			{name: "d/old", typ: tar.TypeReg, mode: 0o644, uid: 100000, gid: 100000, mtime: early},
			{name: ".wh.gone", typ: tar.TypeReg, mtime: nodes[3].mtime},
		},
	}, {
		name: "SourceDateEpoch clamps later times only",
		opts: DiffOptions{SourceDateEpoch: &epoch},
		want: []entry{
			{name: "d/", typ: tar.TypeDir, mode: 0o755, uid: 100000, gid: 100000, mtime: epoch.Truncate(time.Second)},
			{name: "d/new", typ: tar.TypeReg, mode: 0o644, uid: 101000, gid: 100005, mtime: epoch.Truncate(time.Second)},
			{name: "d/old", typ: tar.TypeReg, mode: 0o644, uid: 100000, gid: 100000, mtime: early},
			{name: ".wh.gone", typ: tar.TypeReg, mtime: epoch.Truncate(time.Second)},
		},
	}, {
		name: "IDMap",
		opts: DiffOptions{IDMap: shift},
		want: []entry{
			{name: "d/", typ: tar.TypeDir, mode: 0o755},
			{name: "d/new", typ: tar.TypeReg, mode: 0o644, uid: 1000, gid: 5, mtime: nodes[1].mtime},
			{name: "d/old", typ: tar.TypeReg, mode: 0o644, mtime: early},
			{name: ".wh.gone", typ: tar.TypeReg, mtime: nodes[3].mtime},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			upper := t.TempDir()
			buildTree(t, upper, nodes)
			_, got := runDiff(t, upper, tt.opts)
			checkEntries(t, got, tt.want)
		})
	}
}

// TestDiffDeterministic builds the same tree twice, in different places
// with different inodes and directory order on disk, and diffs each twice.
func TestDiffDeterministic(t *testing.T) {
	t.Parallel()
	var nodes []node
	for i := range 200 {
		nodes = append(nodes, node{path: filepath.Join("dir", string(rune('a'+i%26)), "f"+string(rune('A'+i/26))),
			kind: kFile, content: strings.Repeat("x", i)})
	}
	nodes = append(nodes,
		node{path: "dir/link", kind: kHardlink, target: nodes[7].path},
		node{path: "caps", kind: kFile, xattrs: map[string]string{"user.b": "2", "user.a": "1", "user.c": "3"}},
		node{path: strings.Repeat("long/", 60) + "leaf", kind: kFile, content: "pax path"},
	)
	var layers [][]byte
	for range 2 {
		upper := t.TempDir()
		buildTree(t, upper, nodes)
		for range 2 {
			layer, _ := runDiff(t, upper, DiffOptions{})
			layers = append(layers, layer)
		}
	}
	for i, l := range layers[1:] {
		if !bytes.Equal(l, layers[0]) {
			t.Errorf("layer %d differs from layer 0 (%d and %d bytes)", i+1, len(l), len(layers[0]))
		}
	}
}

func TestDiffErrors(t *testing.T) {
	t.Parallel()
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		nodes   []node
		ctx     context.Context
		w       io.Writer
		upper   string // relative to the temp dir; "" is the temp dir
		opts    DiffOptions
		wantIs  error
		wantMsg string
	}{
		{name: "upper missing", upper: "missing", wantIs: os.ErrNotExist, wantMsg: "missing"},
		{name: "upper not a directory", nodes: []node{{path: "f", kind: kFile}}, upper: "f", wantMsg: "not a directory"},
		{name: "redirect", nodes: []node{{path: "d", kind: kDir, xattrs: map[string]string{"trusted.overlay.redirect": "/x"}}},
			wantIs: errors.ErrUnsupported, wantMsg: "trusted.overlay.redirect"},
		{name: "metacopy", nodes: []node{{path: "f", kind: kFile, xattrs: map[string]string{"user.overlay.metacopy": ""}}},
			wantIs: errors.ErrUnsupported, wantMsg: "user.overlay.metacopy"},
		{name: "reserved name", nodes: []node{{path: "d/.wh.sneaky", kind: kFile}},
			wantIs: errors.ErrUnsupported, wantMsg: "d/.wh.sneaky"},
		{name: "bad override_stat", nodes: []node{{path: "f", kind: kFile, xattrs: map[string]string{overrideStatXattr: "0:0:rwx"}}},
			wantMsg: "parsing user.containers.override_stat"},
		{name: "short override_stat", nodes: []node{{path: "f", kind: kFile, xattrs: map[string]string{overrideStatXattr: "0:0"}}},
			wantMsg: `"0:0" is not UID:GID:MODE`},
		{name: "IDMap gives a negative id", nodes: []node{{path: "d/f", kind: kFile}},
			opts: DiffOptions{IDMap: func(uid, gid int) (int, int) { return -1, gid }}, wantMsg: "mapping owner of d:"},
		{name: "canceled", nodes: []node{{path: "f", kind: kFile}}, ctx: canceled, wantIs: context.Canceled},
		{name: "writer fails", nodes: []node{{path: "f", kind: kFile, content: strings.Repeat("x", 1<<17)}},
			w: failWriter{}, wantIs: errFail},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			buildTree(t, dir, tt.nodes)
			ctx, w := tt.ctx, tt.w
			if ctx == nil {
				ctx = context.Background()
			}
			if w == nil {
				w = io.Discard
			}
			upper := filepath.Join(dir, tt.upper)
			_, err := Diff(ctx, upper, w, tt.opts)
			if err == nil {
				t.Fatal("Diff succeeded, want an error")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Diff: %v, want errors.Is %v", err, tt.wantIs)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) || !strings.Contains(err.Error(), upper) {
				t.Errorf("Diff: %q, want it to contain %q and %q", err, tt.wantMsg, upper)
			}
		})
	}
}

var errFail = errors.New("disk full")

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errFail }

// FuzzParseOverrideStat checks that any xattr value parses or fails
// cleanly, and that what parses round-trips through the containers/storage
// format.
func FuzzParseOverrideStat(f *testing.F) {
	for _, s := range []string{"0:0:0755", "1000:1000:0644:file", "5:6:0104755", "0:0:0666:char-1-3", "1:2", "a:b:c", "0:0:99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		o, err := parseOverrideStat(v)
		if err != nil {
			return
		}
		if o.mode&^0o7777 != 0 || o.uid < 0 || o.gid < 0 {
			t.Fatalf("parseOverrideStat(%q) = %+v, out of range", v, o)
		}
		again, err := parseOverrideStat(fmt.Sprintf("%d:%d:%04o", o.uid, o.gid, o.mode))
		if err != nil || again != o {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", v, again, err, o)
		}
	})
}

// DigestStream's digest and size are those of the bytes read from it, the same tar Diff writes.
func TestDigestStream(t *testing.T) {
	upper := t.TempDir()
	if err := os.MkdirAll(filepath.Join(upper, "d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(upper, "d", "f"), bytes.Repeat([]byte("x"), 100000), 0o644); err != nil {
		t.Fatal(err)
	}
	epoch := time.Unix(0, 0)
	want, _ := runDiff(t, upper, DiffOptions{SourceDateEpoch: &epoch})
	r := DigestStream(context.Background(), upper, DiffOptions{SourceDateEpoch: &epoch, NoDigest: true})
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	d, n, err := r.DiffDigest()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("DigestStream gave %d bytes, Diff %d, not the same", len(got), len(want))
	}
	if sum := sha256.Sum256(got); d.Encoded() != hex.EncodeToString(sum[:]) || n != int64(len(got)) {
		t.Errorf("DiffDigest = %s, %d; the bytes read have sha256:%x, %d", d, n, sum, len(got))
	}
}
