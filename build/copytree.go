package build

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// resolve maps a path inside the step's root to a host path, following
// symlinks the image planted only as far as the root.
func (cp *copier) resolve(p string) (string, error) {
	full, err := securejoin.SecureJoin(cp.root, p)
	if err != nil {
		return "", fmt.Errorf("resolving %s in the image: %w", p, err)
	}
	return full, nil
}

// mkdirAll creates the missing directories of p inside the root as BuildKit does: 0755, owned
// as --chown says (root without it), parents included.
func (cp *copier) mkdirAll(p string) (string, error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return cp.root, nil
	}
	if _, err := cp.mkdirAll(path.Dir(p)); err != nil {
		return "", err
	}
	full, err := cp.resolve(p)
	if err != nil {
		return "", err
	}
	st, err := os.Stat(full)
	if err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("%s exists in the image and is not a directory", p)
		}
		return full, nil
	}
	if err := os.Mkdir(full, 0o755); errors.Is(err, fs.ErrNotExist) && full != cp.root {
		// p ends in a symlink the image planted whose target's parents are missing (/evil ->
		// /tmp/x/y): create them where the link points, inside the root, as docker does.
		rel, rerr := filepath.Rel(cp.root, filepath.Dir(full))
		if rerr != nil || strings.HasPrefix(rel, "..") {
			return "", fmt.Errorf("creating %s: %w", p, err)
		}
		if _, err := cp.mkdirAll(filepath.ToSlash(rel)); err != nil {
			return "", err
		}
		err = os.Mkdir(full, 0o755)
		if err != nil {
			return "", fmt.Errorf("creating %s: %w", p, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("creating %s: %w", p, err)
	}
	if cp.chown {
		if err := lchown(full, cp.uid, cp.gid); err != nil {
			return "", fmt.Errorf("changing owner of %s: %w", p, err)
		}
	}
	return full, nil
}

// copySource copies one matched source to dest, docker's way: a directory's
// contents go into dest; a file goes to dest, or into it when dest is a
// directory.
// A source that is itself a symlink is followed, within the source root; the copy keeps the
// link's name.
func (cp *copier) copySource(src, dest string, destIsDir bool) error {
	name := filepath.Base(src)
	if !cp.remote {
		// A download is kiln's own file; everything else resolves inside its root.
		var err error
		if src, err = securejoin.SecureJoin(cp.srcRoot, cp.rel(src)); err != nil {
			return fmt.Errorf("resolving source %s: %w", name, err)
		}
	}
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("reading source %s: %w", cp.rel(src), err)
	}
	if st.IsDir() {
		if _, err := cp.mkdirAll(dest); err != nil {
			return err
		}
		return cp.copyDir(src, dest)
	}
	if cp.add && !cp.remote && isArchive(src) {
		dir, err := cp.mkdirAll(dest)
		if err != nil {
			return err
		}
		return extractArchive(src, dir, cp)
	}
	target := dest
	if destIsDir || strings.HasSuffix(dest, "/") {
		target = path.Join(dest, name)
	} else if full, err := cp.resolve(dest); err == nil {
		if st, err := os.Stat(full); err == nil && st.IsDir() {
			target = path.Join(dest, name)
		}
	}
	if _, err := cp.mkdirAll(path.Dir(target)); err != nil {
		return err
	}
	return cp.copyEntry(src, target)
}

func (cp *copier) rel(src string) string {
	if r, err := filepath.Rel(cp.srcRoot, src); err == nil {
		return r
	}
	return src
}

// copyDir copies the tree under src into dest, skipping ignored paths.
func (cp *copier) copyDir(src, dest string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", cp.rel(p), err)
		}
		if p == src {
			return nil
		}
		rel, _ := filepath.Rel(src, p)
		skip, err := cp.exclude.excluded(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		if cp.ignored != nil && !cp.remote && !skip {
			if skip, err = cp.ignored(filepath.ToSlash(cp.rel(p))); err != nil {
				return err
			}
		}
		if skip {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		return cp.copyEntry(p, path.Join(dest, filepath.ToSlash(rel)))
	})
}

// copyEntry copies one file, directory or symlink (as a symlink) to target.
func (cp *copier) copyEntry(src, target string) error {
	st, err := os.Lstat(src)
	if err != nil {
		return fmt.Errorf("reading %s: %w", cp.rel(src), err)
	}
	parent, err := cp.resolve(path.Dir(target))
	if err != nil {
		return err
	}
	// The last component is not followed: an image's symlink at the target
	// is replaced, never written through.
	full := filepath.Join(parent, path.Base(target))
	mode := sourceMode(src, st)
	switch {
	case mode.IsDir():
		if fi, err := os.Lstat(full); err == nil && fi.IsDir() {
			break
		}
		os.Remove(full)
		if err := os.Mkdir(full, 0o755); err != nil {
			return fmt.Errorf("creating %s: %w", target, err)
		}
	case mode&fs.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("reading link %s: %w", cp.rel(src), err)
		}
		removeNonDir(full)
		if err := os.Symlink(link, full); err != nil {
			return fmt.Errorf("creating link %s: %w", target, err)
		}
	case mode.IsRegular():
		if err := copyFile(src, full); err != nil {
			return fmt.Errorf("copying %s to %s: %w", cp.rel(src), target, err)
		}
	default:
		return nil // sockets, devices and fifos from a context are not copied
	}
	if err := cp.own(full, mode, mode&fs.ModeSymlink != 0); err != nil {
		return err
	}
	return keepTimes(full, st)
}

func removeNonDir(p string) {
	if fi, err := os.Lstat(p); err == nil && !fi.IsDir() {
		os.Remove(p)
	}
}

// own applies the owner (root unless --chown) and the mode (the source's
// unless --chmod).
func (cp *copier) own(full string, mode fs.FileMode, isLink bool) error {
	if err := lchown(full, cp.uid, cp.gid); err != nil {
		return fmt.Errorf("changing owner of %s: %w", full, err)
	}
	if isLink {
		return nil
	}
	perm := mode.Perm() | mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	if cp.mode != nil {
		perm = *cp.mode
	}
	if err := chmodKeepingOwner(full, perm); err != nil {
		return fmt.Errorf("changing mode of %s: %w", full, err)
	}
	return nil
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	removeNonDir(dst)
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	_, cerr := io.Copy(out, in)
	return errors.Join(cerr, out.Close())
}

// keepTimes gives the copy the source's modification time, as docker does.
func keepTimes(full string, st fs.FileInfo) error {
	ts := []unix.Timespec{unix.NsecToTimespec(st.ModTime().UnixNano()), unix.NsecToTimespec(st.ModTime().UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, full, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times of %s: %w", full, err)
	}
	return nil
}
