package overlay

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// fixtureTime is the mtime every fixture node gets unless it names one.
var fixtureTime = time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)

// node kinds a fixture can create.
const (
	kFile     = 'f'
	kDir      = 'd'
	kSymlink  = 'l'
	kHardlink = 'h' // target is the path, relative to the root, to link to
	kWhiteout = 'w' // overlay whiteout: character device 0/0
	kChar     = 'c'
	kBlock    = 'b'
	kFifo     = 'p'
	kSocket   = 's'
)

// node is one file system object a fixture creates.
type node struct {
	path     string
	kind     rune
	mode     uint32 // permission and setuid/setgid/sticky bits; 0 means 0644 or 0755
	content  string
	target   string // symlink target or hard link source
	uid, gid int
	major    uint32
	minor    uint32
	xattrs   map[string]string
	mtime    time.Time // zero means fixtureTime
}

// privileged reports whether creating n needs root.
func (n node) privileged() bool {
	if n.uid != 0 || n.gid != 0 || n.kind == kWhiteout || n.kind == kChar || n.kind == kBlock {
		return true
	}
	for k := range n.xattrs {
		if !strings.HasPrefix(k, "user.") {
			return true
		}
	}
	return false
}

// requireRoot skips a test that needs root, unless CI requires every test.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") == "true" || os.Getenv("KILN_E2E_REQUIRED") == "1" {
		t.Fatal("test needs root (mknod, chown, trusted xattrs, mount) and CI requires it to run")
	}
	t.Skip("test needs root (mknod, chown, trusted xattrs, mount)")
}

// buildTree creates nodes under root in order, then sets their times last
// so that directory mtimes stick.
func buildTree(t testing.TB, root string, nodes []node) {
	t.Helper()
	if slices.ContainsFunc(nodes, node.privileged) {
		requireRoot(t)
	}
	for _, n := range nodes {
		if err := n.create(root); err != nil {
			t.Fatalf("creating fixture %s: %v", n.path, err)
		}
	}
	// Directories made on the way get fixtureTime too; setting times
	// changes no parent, so only creation has to come first.
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		return node{path: rel}.setTimes(root)
	})
	if err != nil {
		t.Fatalf("setting fixture times: %v", err)
	}
	for _, n := range nodes {
		if err := n.setTimes(root); err != nil {
			t.Fatalf("setting times of fixture %s: %v", n.path, err)
		}
	}
}

func (n node) create(root string) error {
	p := filepath.Join(root, n.path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	mode := n.mode
	if mode == 0 {
		mode = 0o644
		if n.kind == kDir {
			mode = 0o755
		}
	}
	var err error
	switch n.kind {
	case kFile:
		err = os.WriteFile(p, []byte(n.content), 0o600)
	case kDir:
		err = os.Mkdir(p, 0o700)
	case kSymlink:
		err = os.Symlink(n.target, p)
	case kHardlink:
		return os.Link(filepath.Join(root, n.target), p)
	case kWhiteout:
		err = unix.Mknod(p, unix.S_IFCHR, 0)
	case kChar:
		err = unix.Mknod(p, unix.S_IFCHR, int(unix.Mkdev(n.major, n.minor)))
	case kBlock:
		err = unix.Mknod(p, unix.S_IFBLK, int(unix.Mkdev(n.major, n.minor)))
	case kFifo:
		err = unix.Mkfifo(p, 0o600)
	case kSocket:
		err = makeSocket(p)
	default:
		err = fmt.Errorf("unknown node kind %q", n.kind)
	}
	if err != nil {
		return err
	}
	return n.setMeta(p, mode)
}

// setMeta sets ownership, permissions and xattrs, in the order that keeps
// setuid bits (chown clears them).
func (n node) setMeta(p string, mode uint32) error {
	if n.uid != 0 || n.gid != 0 {
		if err := unix.Lchown(p, n.uid, n.gid); err != nil {
			return err
		}
	}
	if n.kind != kSymlink {
		if err := unix.Fchmodat(unix.AT_FDCWD, p, mode, 0); err != nil {
			return err
		}
	}
	for k, v := range n.xattrs {
		if err := unix.Lsetxattr(p, k, []byte(v), 0); err != nil {
			return fmt.Errorf("setting xattr %s: %w", k, err)
		}
	}
	return nil
}

func (n node) setTimes(root string) error {
	mtime := n.mtime
	if mtime.IsZero() {
		mtime = fixtureTime
	}
	ts := []unix.Timespec{unix.NsecToTimespec(mtime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, filepath.Join(root, n.path), ts, unix.AT_SYMLINK_NOFOLLOW)
}

func makeSocket(p string) error {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Bind(fd, &unix.SockaddrUnix{Name: p})
}

// entry is what a test checks about one tar entry.
type entry struct {
	name     string
	typ      byte
	mode     int64
	uid, gid int
	size     int64
	link     string
	content  string
	xattrs   map[string]string
	mtime    time.Time // zero means fixtureTime
}

func (e entry) String() string {
	mtime := e.mtime
	if mtime.IsZero() {
		mtime = fixtureTime
	}
	var xs []string
	for k, v := range e.xattrs {
		xs = append(xs, fmt.Sprintf("%s=%q", k, v))
	}
	slices.Sort(xs)
	return fmt.Sprintf("%-30q type=%q mode=%04o owner=%d:%d size=%d link=%q content=%q xattrs=%v mtime=%s",
		e.name, e.typ, e.mode, e.uid, e.gid, e.size, e.link, e.content, xs, mtime.UTC().Format(time.RFC3339))
}

// runDiff diffs upper and checks what holds for every layer: the result
// matches the bytes, the tar reads to the end, and headers carry no names,
// access or change times. It returns the bytes and the entries.
func runDiff(t testing.TB, upper string, opts DiffOptions) ([]byte, []entry) {
	t.Helper()
	var buf bytes.Buffer
	res, err := Diff(context.Background(), upper, &buf, opts)
	if err != nil {
		t.Fatalf("Diff: %v", err)
	}
	if want := digest.FromBytes(buf.Bytes()); res.DiffID != want {
		t.Errorf("DiffID = %s, sha256 of the bytes written is %s", res.DiffID, want)
	}
	if res.Size != int64(buf.Len()) {
		t.Errorf("Size = %d, %d bytes written", res.Size, buf.Len())
	}
	return buf.Bytes(), readEntries(t, buf.Bytes())
}

func readEntries(t testing.TB, layer []byte) []entry {
	t.Helper()
	var entries []entry
	tr := tar.NewReader(bytes.NewReader(layer))
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries
		}
		if err != nil {
			t.Fatalf("reading layer: %v", err)
		}
		content, err := io.ReadAll(tr)
		if err != nil {
			t.Fatalf("reading %s: %v", hdr.Name, err)
		}
		if hdr.Uname != "" || hdr.Gname != "" || !hdr.AccessTime.IsZero() || !hdr.ChangeTime.IsZero() {
			t.Errorf("%s: header has uname %q, gname %q, atime %v, ctime %v; want none",
				hdr.Name, hdr.Uname, hdr.Gname, hdr.AccessTime, hdr.ChangeTime)
		}
		e := entry{name: hdr.Name, typ: hdr.Typeflag, mode: hdr.Mode, uid: hdr.Uid, gid: hdr.Gid,
			size: hdr.Size, link: hdr.Linkname, content: string(content), mtime: hdr.ModTime}
		for k, v := range hdr.PAXRecords {
			if name, ok := strings.CutPrefix(k, paxXattrPrefix); ok {
				if e.xattrs == nil {
					e.xattrs = map[string]string{}
				}
				e.xattrs[name] = v
			}
		}
		if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock {
			e.content = fmt.Sprintf("dev %d:%d", hdr.Devmajor, hdr.Devminor)
		}
		entries = append(entries, e)
	}
}

// checkEntries compares entries in full, printing both lists on mismatch.
// Tables write the owner of files a fixture does not chown as 0:0; when the
// test does not run as root, that is the test's own uid and gid.
func checkEntries(t testing.TB, got, want []entry) {
	t.Helper()
	g, w := make([]string, len(got)), make([]string, len(want))
	for i := range got {
		g[i] = got[i].String()
	}
	for i, e := range want {
		if e.uid == 0 {
			e.uid = os.Geteuid()
		}
		if e.gid == 0 {
			e.gid = os.Getegid()
		}
		w[i] = e.String()
	}
	if !slices.Equal(g, w) {
		t.Errorf("layer entries:\n got:\n  %s\n want:\n  %s", strings.Join(g, "\n  "), strings.Join(w, "\n  "))
	}
}
