package exec

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestPrepareRootSymlinkedEtc(t *testing.T) {
	t.Parallel()
	host := t.TempDir() // stands for the host: nothing may appear or change here
	hostFile := filepath.Join(host, "token")
	if err := os.WriteFile(hostFile, []byte("host\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, link string
		prep       map[string]string // files of the image, path → content
		dirs       []string          // directories of the image
		target     string            // where the mount point must be, "" for a refusal
		keep       bool              // the target existed and stays after cleanup
		wantErr    []string          // words of a refusal
	}{
		{name: "absolute-missing", link: "/etc/shadow-canary", target: "/etc/shadow-canary"},
		{name: "absolute-existing", link: "/etc/shadow-canary", prep: map[string]string{"etc/shadow-canary": "secret\n"},
			target: "/etc/shadow-canary", keep: true},
		{name: "relative-out-of-root", link: "../../../../tmp/canary", target: "/tmp/canary"},
		{name: "host-path", link: hostFile, target: hostFile},
		// /etc/resolv.conf -> /a/z, /a -> /x/y, and nothing of /x exists.
		{name: "dangling-chain", link: "/a/z", target: "/x/y/z"},
		{name: "loop", link: "/etc/resolv.conf", wantErr: []string{"/etc/resolv.conf", "too many"}},
		{name: "directory", link: "/srv", dirs: []string{"srv"}, wantErr: []string{"/etc/resolv.conf", "/srv", "directory"}},
		{name: "device", link: "/dev/null", wantErr: []string{"/etc/resolv.conf", "/dev/null", "/dev"}},
		{name: "proc", link: "/proc/self/root/etc/passwd", wantErr: []string{"/etc/resolv.conf", "/proc"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for _, d := range append([]string{"etc", "dev", "proc"}, c.dirs...) {
				if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			for name, body := range c.prep {
				if err := os.WriteFile(filepath.Join(root, name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Symlink("/x/y", filepath.Join(root, "a")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(c.link, filepath.Join(root, "etc/resolv.conf")); err != nil {
				t.Fatal(err)
			}
			old := time.Unix(1000, 0)
			if err := os.Chtimes(filepath.Join(root, "etc"), old, old); err != nil {
				t.Fatal(err)
			}
			src := filepath.Join(t.TempDir(), "resolv.conf")
			if err := os.WriteFile(src, []byte("nameserver 192.0.2.1\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			spec := &specs.Spec{Root: &specs.Root{Path: root}, Mounts: []specs.Mount{
				{Destination: "/proc", Type: "proc", Source: "proc"},
				{Destination: "/dev", Type: "tmpfs", Source: "tmpfs"},
				{Destination: "/etc/resolv.conf", Type: "bind", Source: src, Options: []string{"rbind", "ro"}},
			}}
			cleanup, err := PrepareRoot(spec)
			if c.target == "" {
				if err == nil {
					cleanup()
					t.Fatalf("PrepareRoot with /etc/resolv.conf -> %s: no error", c.link)
				}
				for _, w := range c.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %q", err, w)
					}
				}
				if strings.Contains(err.Error(), root) {
					t.Errorf("error %q names the host path of the root", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("PrepareRoot with /etc/resolv.conf -> %s: %v", c.link, err)
			}
			full := filepath.Join(root, c.target)
			if st, err := os.Lstat(full); err != nil || !st.Mode().IsRegular() {
				t.Fatalf("mount point %s in the root: %v, want a regular file", c.target, err)
			}
			cleanup()
			_, err = os.Lstat(full)
			if c.keep {
				if b, _ := os.ReadFile(full); string(b) != c.prep[strings.TrimPrefix(c.target, "/")] {
					t.Errorf("%s after cleanup: %q, want it untouched", c.target, b)
				}
			} else if err == nil {
				t.Errorf("the stub %s is left after cleanup", c.target)
			}
			if top := strings.SplitN(strings.TrimPrefix(c.target, "/"), "/", 2)[0]; !c.keep && top != "etc" {
				if _, err := os.Lstat(filepath.Join(root, top)); err == nil {
					t.Errorf("the stub's parent /%s is left after cleanup", top)
				}
			}
			if st, err := os.Stat(filepath.Join(root, "etc")); err != nil || !st.ModTime().Equal(old) {
				t.Errorf("/etc's mtime after cleanup: %v, want %v", st.ModTime(), old)
			}
			if b, err := os.ReadFile(hostFile); err != nil || string(b) != "host\n" {
				t.Errorf("the host file: %q, %v", b, err)
			}
			if entries, _ := os.ReadDir(host); len(entries) != 1 {
				t.Errorf("the host directory holds %d entries, want 1", len(entries))
			}
		})
	}
}
