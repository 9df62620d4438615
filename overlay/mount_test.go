package overlay

import (
	"archive/tar"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestMountOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		m    Mount
		want string
	}{
		{"read-only", Mount{Lower: []string{"/l/top", "/l/bottom"}},
			"lowerdir=/l/top:/l/bottom"},
		{"writable", Mount{Lower: []string{"/l/1"}, Upper: "/s/up", Work: "/s/work", Target: "/mnt"},
			"lowerdir=/l/1,upperdir=/s/up,workdir=/s/work"},
		{"order kept, topmost first", Mount{Lower: []string{"/c", "/b", "/a"}, Upper: "/u", Work: "/w"},
			"lowerdir=/c:/b:/a,upperdir=/u,workdir=/w"},
		{"userxattr", Mount{Lower: []string{"/l"}, Upper: "/u", Work: "/w", UserXattr: true},
			"lowerdir=/l,upperdir=/u,workdir=/w,userxattr"},
		{"volatile", Mount{Lower: []string{"/l"}, Upper: "/u", Work: "/w", UserXattr: true, Volatile: true},
			"lowerdir=/l,upperdir=/u,workdir=/w,userxattr,volatile"},
		{"volatile-read-only", Mount{Lower: []string{"/a", "/b"}, Volatile: true}, "lowerdir=/a:/b"},
		{"escaped", Mount{Lower: []string{"/a:b", `/c,d\e`}, Upper: "/u,1:2", Work: `/w\`},
			`lowerdir=/a\:b:/c\,d\\e,upperdir=/u\,1\:2,workdir=/w\\`},
		{"spaces and equals need no escaping", Mount{Lower: []string{"/a b=c"}},
			"lowerdir=/a b=c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.m.Options(); got != tt.want {
				t.Errorf("Options() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestMountInvalid(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("/very/long/path", 300)
	tests := []struct {
		name, want string
		m          Mount
	}{
		{"no target", "no target", Mount{Lower: []string{"/l"}}},
		{"no lower", "no lower", Mount{Target: "/mnt/x"}},
		{"empty lower", "empty lower", Mount{Lower: []string{"/l", ""}, Target: "/mnt/x"}},
		{"upper without work", "together", Mount{Lower: []string{"/l"}, Upper: "/u", Target: "/mnt/x"}},
		{"work without upper", "together", Mount{Lower: []string{"/l"}, Work: "/w", Target: "/mnt/x"}},
		{"options over a page", "more than the kernel's", Mount{Lower: []string{long}, Target: "/mnt/x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.m.Mount()
			if err == nil || !strings.Contains(err.Error(), tt.want) ||
				!strings.Contains(err.Error(), "mounting overlay on "+tt.m.Target) {
				t.Errorf("Mount() = %v, want an error naming the target and containing %q", err, tt.want)
			}
		})
	}
}

func TestUnmountNotMounted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	err := Unmount(dir)
	if err == nil || !strings.Contains(err.Error(), "unmounting "+dir) {
		t.Errorf("Unmount(%s) = %v, want an error naming it", dir, err)
	}
}

// TestMountDiff mounts a real overlay, changes files through it the way a
// build step does, and checks that Diff of the upper directory holds
// exactly those changes in OCI form, with overlay xattrs in both modes.
// The directory names need escaping in the mount options.
func TestMountDiff(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	for _, userXattr := range []bool{false, true} {
		t.Run(map[bool]string{false: "trusted", true: "userxattr"}[userXattr], func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			m := Mount{
				Lower:     []string{filepath.Join(dir, "top,layer"), filepath.Join(dir, "base:layer")},
				Upper:     filepath.Join(dir, `up\per`),
				Work:      filepath.Join(dir, "work"),
				Target:    filepath.Join(dir, "merged"),
				UserXattr: userXattr,
			}
			buildTree(t, m.Lower[1], []node{
				{path: "etc/hosts", kind: kFile, content: "base hosts"},
				{path: "etc/passwd", kind: kFile, content: "root"},
				{path: "keep/file", kind: kFile, content: "k"},
				{path: "olddir/a", kind: kFile, content: "a"},
				{path: "olddir/sub/b", kind: kFile, content: "b"},
				{path: "data", kind: kFile, content: "old data"},
				{path: "linkme", kind: kFile, content: "L"},
			})
			buildTree(t, m.Lower[0], []node{{path: "etc/hosts", kind: kFile, content: "top hosts"}})
			for _, d := range []string{m.Upper, m.Work, m.Target} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			if err := m.Mount(); err != nil {
				t.Fatal(err)
			}
			mounted := true
			t.Cleanup(func() {
				if mounted {
					_ = Unmount(m.Target)
				}
			})
			changeMerged(t, m.Target)
			if err := Unmount(m.Target); err != nil {
				t.Fatal(err)
			}
			mounted = false

			_, got := runDiff(t, m.Upper, DiffOptions{})
			want := []string{
				"data 0 new data ",
				"etc/ 5  ",
				"etc/.wh.hosts 0  ",
				"keep/ 5  ",
				"keep/.wh.file 0  ",
				"linked2 0 L ",
				"linkme 1  linked2",
				"newdir/ 5  ",
				"newdir/f 0 new ",
				"newdir/g 1  newdir/f",
				"olddir/ 5  ",
				"olddir/.wh..wh..opq 0  ",
				"olddir/fresh 0 fresh ",
			}
			var lines []string
			for _, e := range got {
				lines = append(lines, e.name+" "+string(e.typ)+" "+e.content+" "+e.link)
				for k := range e.xattrs {
					if strings.Contains(k, ".overlay.") {
						t.Errorf("%s carries overlay xattr %s", e.name, k)
					}
				}
				if e.typ == tar.TypeReg && strings.Contains(e.name, ".wh.") && (e.mode != 0 || e.size != 0) {
					t.Errorf("whiteout %s has mode %o size %d, want 0 and 0", e.name, e.mode, e.size)
				}
			}
			if strings.Join(lines, "\n") != strings.Join(want, "\n") {
				t.Errorf("layer of the upper directory:\n got:\n  %s\n want:\n  %s",
					strings.Join(lines, "\n  "), strings.Join(want, "\n  "))
			}
		})
	}
}

// changeMerged makes the changes TestMountDiff expects, through the mount.
func changeMerged(t *testing.T, merged string) {
	t.Helper()
	p := func(name string) string { return filepath.Join(merged, name) }
	steps := []struct {
		what string
		do   func() error
	}{
		{"read through to the top layer", func() error { return checkContent(p("etc/hosts"), "top hosts") }},
		{"rm etc/hosts", func() error { return os.Remove(p("etc/hosts")) }},
		{"rm keep/file", func() error { return os.Remove(p("keep/file")) }},
		{"rm -rf olddir", func() error { return os.RemoveAll(p("olddir")) }},
		{"mkdir olddir", func() error { return os.Mkdir(p("olddir"), 0o755) }},
		{"write olddir/fresh", func() error { return os.WriteFile(p("olddir/fresh"), []byte("fresh"), 0o644) }},
		{"replace data", func() error { return os.WriteFile(p("data"), []byte("new data"), 0o644) }},
		{"mkdir newdir", func() error { return os.Mkdir(p("newdir"), 0o755) }},
		{"write newdir/f", func() error { return os.WriteFile(p("newdir/f"), []byte("new"), 0o644) }},
		{"ln newdir/f newdir/g", func() error { return os.Link(p("newdir/f"), p("newdir/g")) }},
		{"ln linkme linked2 (a lower file)", func() error { return os.Link(p("linkme"), p("linked2")) }},
	}
	for _, s := range steps {
		if err := s.do(); err != nil {
			t.Fatalf("%s: %v", s.what, err)
		}
	}
}

func checkContent(path, want string) error {
	got, err := os.ReadFile(path)
	if err == nil && string(got) != want {
		err = &os.PathError{Op: "read", Path: path, Err: os.ErrInvalid}
	}
	return err
}

// More lower directories than their paths fit in one page of mount options: Mount names them by
// descriptors, and the merged tree still shows every one, topmost first.
func TestMountManyLowers(t *testing.T) {
	t.Parallel()
	requireRoot(t)
	dir := t.TempDir()
	m := Mount{Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"), Target: filepath.Join(dir, "merged")}
	long := strings.Repeat("l", 100)
	const n = 80
	for i := 0; i < n; i++ {
		l := filepath.Join(dir, fmt.Sprintf("%s%03d", long, i))
		buildTree(t, l, []node{{path: fmt.Sprintf("f%03d", i), kind: kFile, content: "x"}, {path: "top", kind: kFile, content: fmt.Sprint(i)}})
		m.Lower = append(m.Lower, l)
	}
	if len(m.Options()) < unix.Getpagesize() {
		t.Fatalf("options are %d bytes: the test needs more than a page", len(m.Options()))
	}
	for _, d := range []string{m.Upper, m.Work, m.Target} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Mount(); err != nil {
		t.Fatal(err)
	}
	defer Unmount(m.Target)
	entries, err := os.ReadDir(m.Target)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != n+1 {
		t.Errorf("merged tree has %d entries, want %d", len(entries), n+1)
	}
	if b, err := os.ReadFile(filepath.Join(m.Target, "top")); err != nil || string(b) != "0" {
		t.Errorf("top = %q, %v; want the first lower's", b, err)
	}
}
