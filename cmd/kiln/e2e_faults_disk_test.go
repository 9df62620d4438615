package main

// A full disk: a store on a 64 MiB tmpfs and a build that writes more than that. The build must
// fail with an error that says the disk is full, leave no mount, and leave the store usable.

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// smallStore is a store on a tmpfs of size bytes, unmounted when the test ends.
func smallStore(t *testing.T, size string) store {
	t.Helper()
	dir, err := os.MkdirTemp(e2e.tmp, "small-")
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size+",mode=0755"); err != nil {
		t.Fatalf("mounting a %s tmpfs on %s: %v", size, dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmounting %s: %v", dir, err)
		}
	})
	return store{root: filepath.Join(dir, "root"), runroot: filepath.Join(dir, "run")}
}

func TestE2EFaultsFullDisk(t *testing.T) {
	e2eTest(t)
	// The one skip the suite allows: mounting a filesystem needs root, and the root run of the
	// suite (CI runs it as root and as the unprivileged users) covers this case.
	if os.Geteuid() != 0 {
		t.Skip("mounting a small filesystem needs root; the root run covers it")
	}
	s := smallStore(t, "64m")
	s.mustKiln(t, "import", "--change", `CMD ["sh"]`, baseImage(t), baseName)
	for _, tc := range []struct{ name, dockerfile string }{
		// The step's process runs out of space in its upper directory.
		{"run", "FROM busybox\nRUN dd if=/dev/zero of=/fill bs=1M count=100\n"},
		// kiln itself runs out of space copying a 100 MB file into the step.
		{"copy", "FROM busybox\nCOPY big /big\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := buildDir(t, map[string]string{"Dockerfile": tc.dockerfile})
			// Sparse: 100 MB to read, nothing on the test's own disk.
			if err := os.Truncate(filepath.Join(ctx, "big"), 0); err == nil || !os.IsNotExist(err) {
				t.Fatalf("big already in the build context: %v", err)
			}
			f, err := os.Create(filepath.Join(ctx, "big"))
			if err == nil {
				err = f.Truncate(100 << 20)
				f.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			r := s.kiln(t, "build", "-t", "full", ctx)
			wantError(t, r)
			if !strings.Contains(strings.ToLower(r.stdout+r.stderr), "no space left on device") {
				t.Errorf("the failed build does not say the disk is full:\n%s%s", r.stdout, r.stderr)
			}
			settle(t, s)
			for _, dir := range []string{s.root, s.runroot} {
				if m := mountsUnder(dir); len(m) > 0 {
					t.Errorf("mounts left behind by the failed build: %q", m)
				}
			}
			if r := s.kiln(t, "inspect", "full"); r.code == 0 {
				t.Errorf("the failed build left an image full")
			}
			// The failed build removes its own work layer, full disk or not.
			var fs syscall.Statfs_t
			if err := syscall.Statfs(s.root, &fs); err != nil {
				t.Fatal(err)
			} else if free := fs.Bavail * uint64(fs.Bsize); free < 48<<20 {
				t.Errorf("%d MiB free after the failed build, want its leftovers gone", free>>20)
			}
			s.mustKiln(t, "build", "-t", "small", buildDir(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo ok > /ok\n"}))
			if got := exportFile(t, s, "small", "ok"); got != "ok\n" {
				t.Errorf("/ok of the small build = %q", got)
			}
			wantCleanStore(t, s)
		})
	}
}
