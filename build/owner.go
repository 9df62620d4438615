package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/exec"
)

// overrideStat is the xattr containers/storage (and kiln's layer diff) read
// a file's real owner and mode from when the namespace cannot hold them.
const overrideStat = "user.containers.override_stat"

// node is a file the owner helpers change: an open descriptor (byFD), or a path whose last
// component is not followed (a symlink is changed itself). A copy changes what it just created
// through its descriptor: one path lookup through the overlay mount instead of four.
type node struct {
	byFD bool
	fd   int
	path string // also names the file in errors
}

func (n node) chown(uid, gid int) error {
	if n.byFD {
		return unix.Fchown(n.fd, uid, gid)
	}
	return unix.Lchown(n.path, uid, gid)
}

func (n node) chmod(mode os.FileMode) error {
	if n.byFD {
		return unix.Fchmod(n.fd, syscallMode(mode))
	}
	return os.Chmod(n.path, mode)
}

func (n node) stat(st *unix.Stat_t) error {
	if n.byFD {
		return unix.Fstat(n.fd, st)
	}
	return unix.Lstat(n.path, st)
}

func (n node) getxattr(name string, buf []byte) (int, error) {
	if n.byFD {
		return unix.Fgetxattr(n.fd, name, buf)
	}
	return unix.Lgetxattr(n.path, name, buf)
}

func (n node) setxattr(name string, val []byte) error {
	if n.byFD {
		return unix.Fsetxattr(n.fd, name, val, 0)
	}
	return unix.Lsetxattr(n.path, name, val, 0)
}

// syscallMode is os.Chmod's mapping of a FileMode to mode bits.
func syscallMode(m os.FileMode) uint32 {
	o := uint32(m.Perm())
	if m&os.ModeSetuid != 0 {
		o |= unix.S_ISUID
	}
	if m&os.ModeSetgid != 0 {
		o |= unix.S_ISGID
	}
	if m&os.ModeSticky != 0 {
		o |= unix.S_ISVTX
	}
	return o
}

// lchown gives p an owner. In a single-id user namespace ids other than the
// mapped one cannot be set (EINVAL); the owner is then recorded in the
// override_stat xattr, which becomes the owner in the layer's tar headers.
func lchown(p string, uid, gid int) error {
	if err := setOwner(node{path: p}, uid, gid); err != nil {
		return &os.PathError{Op: "lchown", Path: p, Err: err}
	}
	return nil
}

func setOwner(n node, uid, gid int) error {
	err := n.chown(uid, gid)
	if err == nil || !errors.Is(err, unix.EINVAL) {
		return err
	}
	var st unix.Stat_t
	if serr := n.stat(&st); serr != nil {
		return fmt.Errorf("%w (and reading it: %w)", err, serr)
	}
	if st.Mode&unix.S_IFMT == unix.S_IFLNK {
		// user.* xattrs cannot be set on symlinks; their owner rarely matters.
		return nil
	}
	val := fmt.Sprintf("%d:%d:%04o", uid, gid, st.Mode&0o7777)
	if xerr := n.setxattr(overrideStat, []byte(val)); xerr != nil {
		return fmt.Errorf("%w (and recording it in %s: %w)", err, overrideStat, xerr)
	}
	return nil
}

// chmodKeepingOwner changes p's mode and, when the owner lives in the
// override_stat xattr, the mode recorded there too.
func chmodKeepingOwner(p string, mode os.FileMode) error { return setMode(node{path: p}, mode) }

func setMode(n node, mode os.FileMode) error {
	if err := n.chmod(mode); err != nil {
		return err
	}
	buf := make([]byte, 64)
	sz, err := n.getxattr(overrideStat, buf)
	if err != nil {
		return nil
	}
	var uid, gid int
	var old uint32
	if _, err := fmt.Sscanf(string(buf[:sz]), "%d:%d:%o", &uid, &gid, &old); err != nil {
		return nil
	}
	val := fmt.Sprintf("%d:%d:%04o", uid, gid, syscallMode(mode))
	return n.setxattr(overrideStat, []byte(val))
}

// sourceMode is the mode a copied file really has: the one recorded in
// override_stat when the store forced every mode on disk (single-id mode),
// else what stat says.
func sourceMode(p string, fi os.FileInfo) os.FileMode {
	mode := fi.Mode()
	if mode&os.ModeSymlink != 0 {
		return mode
	}
	buf := make([]byte, 64)
	n, err := unix.Lgetxattr(p, overrideStat, buf)
	if err != nil {
		return mode
	}
	var uid, gid int
	var perm uint32
	if _, err := fmt.Sscanf(string(buf[:n]), "%d:%d:%o", &uid, &gid, &perm); err != nil {
		return mode
	}
	out := mode.Type() | os.FileMode(perm&0o777)
	if perm&unix.S_ISUID != 0 {
		out |= os.ModeSetuid
	}
	if perm&unix.S_ISGID != 0 {
		out |= os.ModeSetgid
	}
	if perm&unix.S_ISVTX != 0 {
		out |= os.ModeSticky
	}
	return out
}

// recordNewOwners records owner on what a non-root step created, in a
// single-id user namespace where the step's id maps to the only id there is
// and its files land owned by root. An entry of upper is new when no lower
// layer has it and it carries no record yet; copied-up entries keep the
// owner they had.
func recordNewOwners(upper string, lowers []string, owner exec.User) error {
	return filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == upper {
			return err
		}
		rel, _ := filepath.Rel(upper, p)
		if d.Type()&fs.ModeSymlink != 0 || d.Type()&fs.ModeCharDevice != 0 {
			return nil // symlinks take no user.* xattr; whiteouts own nothing
		}
		if _, err := unix.Lgetxattr(p, overrideStat, nil); err == nil {
			return nil
		}
		for _, l := range lowers {
			if _, err := os.Lstat(filepath.Join(l, rel)); err == nil {
				return nil
			}
		}
		return lchownRecord(p, int(owner.UID), int(owner.GID))
	})
}

// lchownRecord records an owner in override_stat without trying chown.
func lchownRecord(p string, uid, gid int) error {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return fmt.Errorf("recording the owner of %s: %w", p, err)
	}
	val := fmt.Sprintf("%d:%d:%04o", uid, gid, st.Mode&0o7777)
	if err := unix.Lsetxattr(p, overrideStat, []byte(val), 0); err != nil {
		return fmt.Errorf("recording the owner of %s: %w", p, err)
	}
	return nil
}
