package exec

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestDecodeNotified(t *testing.T) {
	t.Parallel()
	none := ^uint32(0)
	tests := []struct {
		name string
		args [6]uint64
		want call
	}{
		{"chown", [6]uint64{0x1000, 1000, 1000}, call{dirfd: unix.AT_FDCWD, addr: 0x1000, chown: true, uid: 1000, gid: 1000}},
		{"lchown", [6]uint64{0x1000, 5, 0xffffffff}, call{dirfd: unix.AT_FDCWD, addr: 0x1000, chown: true, nofollow: true, uid: 5, gid: none}},
		{"fchown", [6]uint64{7, 0xffffffff, 9}, call{dirfd: 7, fdOnly: true, chown: true, uid: none, gid: 9}},
		{"fchownat", [6]uint64{uint64(0xffffff9c), 0x2000, 1, 2, unix.AT_SYMLINK_NOFOLLOW}, call{dirfd: unix.AT_FDCWD, addr: 0x2000, chown: true, nofollow: true, uid: 1, gid: 2}},
		{"fchownat", [6]uint64{4, 0x2000, 1, 2, unix.AT_EMPTY_PATH}, call{dirfd: 4, addr: 0x2000, chown: true, emptyPath: true, uid: 1, gid: 2}},
		{"chmod", [6]uint64{0x1000, 0o4755}, call{dirfd: unix.AT_FDCWD, addr: 0x1000, mode: 0o4755}},
		{"fchmodat2", [6]uint64{3, 0x1000, 0o600, unix.AT_SYMLINK_NOFOLLOW}, call{dirfd: 3, addr: 0x1000, mode: 0o600, nofollow: true}},
	}
	for _, tt := range tests {
		got, err := decode(tt.name, tt.args)
		if err != nil || got != tt.want {
			t.Errorf("%s%v: %+v, %v; want %+v", tt.name, tt.args, got, err, tt.want)
		}
	}
	if _, err := decode("read", [6]uint64{}); err == nil {
		t.Errorf("read decoded")
	}
}

func TestReadStringAndRecord(t *testing.T) {
	t.Parallel()
	path := []byte("/some/path\x00garbage")
	got, err := readString(uint32(os.Getpid()), uint64(uintptrOf(&path[0])))
	runtime.KeepAlive(path)
	if err != nil || got != "/some/path" {
		t.Fatalf("readString: %q, %v", got, err)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "f")
	if err := os.WriteFile(f, nil, 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(f, 0o4755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(f, "user.kiln-test", []byte("x"), 0); err != nil {
		t.Skipf("no user xattrs on %s: %v", dir, err)
	}
	fd, err := openTarget(uint32(os.Getpid()), call{dirfd: unix.AT_FDCWD, path: f})
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		c    call
		cont bool
		want string
	}{
		{call{chown: true, uid: 1000, gid: ^uint32(0)}, false, "1000:" + itoa(st.Gid) + ":0755"},
		{call{chown: true, uid: ^uint32(0), gid: 50}, false, "1000:50:0755"},
		{call{mode: 0o2750}, true, "1000:50:2750"},
	}
	for i, s := range steps {
		cont, err := record(fd, s.c)
		if err != nil || cont != s.cont {
			t.Fatalf("step %d: cont %v, %v", i, cont, err)
		}
		buf := make([]byte, 64)
		n, err := unix.Getxattr(f, overrideStatXattr, buf)
		if err != nil || string(buf[:n]) != s.want {
			t.Errorf("step %d: xattr %q, %v; want %q", i, buf[:max(n, 0)], err, s.want)
		}
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

func uintptrOf(b *byte) uintptr { return uintptr(unsafe.Pointer(b)) }
