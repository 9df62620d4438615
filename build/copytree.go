package build

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"unsafe"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sync/errgroup"
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

// knownDir is a directory of the destination this copy made or found to be a real directory: its
// entries are copied one after another, and resolving its path again for each (SecureJoin, a
// lookup per component) was half the time of a COPY of many small files. What the copy writes
// never turns a known directory into something else: it neither removes directories nor writes
// through symlinks.
//
// A directory the copy made itself, where nothing was, holds nothing from the image: its contents
// are written straight into the overlay's upper directory (at upper), which is what the overlay
// would have done, at half the cost of creating each file through it. The
// merged view of those paths is never looked at again before the mount goes (the step's layer is
// read from the upper directory), so the overlay's caches not seeing them does not matter.
type knownDir struct {
	merged string // the path under the mount
	upper  string // the path in the upper directory, when entries go there directly
}

// resolveDir resolves a directory of the destination to where its entries are to be written,
// and its path under the mount.
func (cp *copier) resolveDir(p string) (write, merged string, err error) {
	if d, ok := cp.dirs[path.Clean("/"+p)]; ok {
		if d.upper != "" {
			return d.upper, d.merged, nil
		}
		return d.merged, d.merged, nil
	}
	full, err := cp.resolve(p)
	return full, full, err
}

// knownDir records that the destination's directory p is the real directory merged under the
// mount. fresh says nothing from the image is in it: the copy made it where nothing was, or it is
// inside such a directory. Its entries then go straight into the upper directory, where it has
// the same path relative to the root.
func (cp *copier) knownDir(p, merged string, fresh bool) {
	if cp.dirs == nil {
		cp.dirs = map[string]knownDir{}
	}
	d := knownDir{merged: merged}
	if fresh && cp.upper != "" {
		if rel, err := filepath.Rel(cp.root, merged); err == nil && !strings.HasPrefix(rel, "..") {
			d.upper = filepath.Join(cp.upper, rel)
		}
	}
	cp.dirs[path.Clean("/"+p)] = d
}

// forgetDirs drops what is known under p, which is about to be replaced.
func (cp *copier) forgetDirs(p string) {
	p = path.Clean("/" + p)
	for k := range cp.dirs {
		if k == p || strings.HasPrefix(k, p+"/") {
			delete(cp.dirs, k)
		}
	}
}

// mkdirAll creates the missing directories of p inside the root as BuildKit does: 0755, owned
// as --chown says (root without it), parents included.
func (cp *copier) mkdirAll(p string) (string, error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return cp.root, nil
	}
	if d, ok := cp.dirs[p]; ok {
		return d.merged, nil
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
		cp.knownDir(p, full, false)
		return full, nil
	}
	made := true
	if err := os.Mkdir(full, 0o755); errors.Is(err, fs.ErrNotExist) && full != cp.root {
		made = false
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
	cp.knownDir(p, full, made)
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

// copyDir copies the tree under src into dest, skipping ignored paths. The walk makes the
// directories and links in order; regular files are copied by one worker per core meanwhile:
// creating and filling thousands of small files is the file system's work, and one core does
// only half of it while the other hashes the same files for the step's key. Each target appears
// once in a walk, and copyDir returns only when every file is copied, so what a later source
// overwrites stays overwritten.
func (cp *copier) copyDir(src, dest string) error {
	g, ctx := errgroup.WithContext(context.Background())
	g.SetLimit(max(2, runtime.GOMAXPROCS(0)))
	cp.files = func(f func() error) error {
		if ctx.Err() != nil {
			return errCopyStopped // a file failed: its error is the one returned
		}
		g.Go(f)
		return nil
	}
	defer func() { cp.files = nil }()
	werr := cp.walkDir(src, dest)
	if err := g.Wait(); err != nil {
		return err
	}
	return werr
}

// errCopyStopped stops a walk whose file copies failed.
var errCopyStopped = errors.New("copy stopped")

func (cp *copier) walkDir(src, dest string) error {
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
	parent, parentMerged, err := cp.resolveDir(path.Dir(target))
	if err != nil {
		return err
	}
	// The last component is not followed: an image's symlink at the target
	// is replaced, never written through.
	full := filepath.Join(parent, path.Base(target))
	mode := sourceMode(src, st)
	switch {
	case mode.IsDir():
		fi, lerr := os.Lstat(full)
		if lerr != nil || !fi.IsDir() {
			if lerr == nil {
				cp.forgetDirs(target) // a file or link the directory replaces
				os.Remove(full)
			}
			if err := os.Mkdir(full, 0o755); err != nil {
				return fmt.Errorf("creating %s: %w", target, err)
			}
		}
		// In a directory the copy made (parent is then in the upper directory), all is fresh.
		cp.knownDir(target, filepath.Join(parentMerged, path.Base(target)), errors.Is(lerr, fs.ErrNotExist) || parent != parentMerged)
	case mode.IsRegular():
		if cp.files != nil {
			return cp.files(func() error { return cp.copyRegular(src, full, target, mode, st) })
		}
		return cp.copyRegular(src, full, target, mode, st)
	case mode&fs.ModeSymlink != 0:
		link, err := os.Readlink(src)
		if err != nil {
			return fmt.Errorf("reading link %s: %w", cp.rel(src), err)
		}
		removeNonDir(full)
		if err := os.Symlink(link, full); err != nil {
			return fmt.Errorf("creating link %s: %w", target, err)
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
	return cp.ownNode(node{path: full}, mode, isLink)
}

func (cp *copier) ownNode(n node, mode fs.FileMode, isLink bool) error {
	name := n.path
	if err := setOwner(n, cp.uid, cp.gid); err != nil {
		return fmt.Errorf("changing owner of %s: %w", name, err)
	}
	if isLink {
		return nil
	}
	perm := mode.Perm() | mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky)
	if cp.mode != nil {
		perm = *cp.mode
	}
	if err := setMode(n, perm); err != nil {
		return fmt.Errorf("changing mode of %s: %w", name, err)
	}
	return nil
}

// copyRegular copies the regular file src to full (target inside the image), and gives the copy
// its owner, mode and times through its descriptor. Bare descriptors: an os.File's setup costs
// several syscalls more, on each of thousands of files.
func (cp *copier) copyRegular(src, full, target string, mode fs.FileMode, st fs.FileInfo) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("copying %s to %s: %w", cp.rel(src), target, err)
		}
	}()
	in, err := unix.Open(src, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &fs.PathError{Op: "open", Path: src, Err: err}
	}
	defer unix.Close(in)
	// Mostly the name is new: look for something to replace only when it is not.
	flags := unix.O_CREAT | unix.O_WRONLY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	out, err := unix.Open(full, flags|unix.O_EXCL, 0o600)
	if errors.Is(err, unix.EEXIST) {
		removeNonDir(full)
		out, err = unix.Open(full, flags|unix.O_TRUNC, 0o600)
	}
	if err != nil {
		return &fs.PathError{Op: "create", Path: full, Err: err}
	}
	n := node{byFD: true, fd: out, path: full}
	if err := errors.Join(copyData(out, in, st.Size()), cp.ownNode(n, mode, false), keepTimesFD(out, full, st)); err != nil {
		unix.Close(out)
		return err
	}
	if err := unix.Close(out); err != nil {
		return &fs.PathError{Op: "close", Path: full, Err: err}
	}
	return nil
}

// copyData copies size bytes from in to out in the kernel (sendfile works from a file on one
// mount to one on another, the overlay, where copy_file_range does not), and through memory where
// the kernel refuses.
func copyData(out, in int, size int64) error {
	var done int64
	for done < size {
		n, err := unix.Sendfile(out, in, nil, int(min(size-done, 1<<30)))
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			if done == 0 && (errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS)) {
				return copyRead(out, in)
			}
			return err
		}
		if n == 0 {
			return nil // the source got shorter meanwhile; a growing one stops at its size
		}
		done += int64(n)
	}
	return nil
}

// copyRead copies in to out through a buffer.
func copyRead(out, in int) error {
	return readFD(in, func(b []byte) error {
		for len(b) > 0 {
			w, err := unix.Write(out, b)
			if errors.Is(err, unix.EINTR) {
				continue
			}
			if err != nil {
				return err
			}
			b = b[w:]
		}
		return nil
	})
}

// readFD reads fd to its end through a pooled buffer, handing each piece to use.
func readFD(fd int, use func([]byte) error) error {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	for {
		n, err := unix.Read(fd, *bp)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return err
		}
		if err := use((*bp)[:n]); err != nil {
			return err
		}
	}
}

// keepTimes gives the copy the source's modification time, as docker does.
func keepTimes(full string, st fs.FileInfo) error {
	ts := []unix.Timespec{unix.NsecToTimespec(st.ModTime().UnixNano()), unix.NsecToTimespec(st.ModTime().UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, full, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("setting times of %s: %w", full, err)
	}
	return nil
}

// keepTimesFD is keepTimes for an open file.
func keepTimesFD(fd int, name string, st fs.FileInfo) error {
	// utimensat(fd, NULL, ...) is futimens: nanoseconds, where futimes has microseconds.
	ts := [2]unix.Timespec{unix.NsecToTimespec(st.ModTime().UnixNano()), unix.NsecToTimespec(st.ModTime().UnixNano())}
	if _, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(&ts[0])), 0, 0, 0); e != 0 {
		return fmt.Errorf("setting times of %s: %w", name, e)
	}
	return nil
}
