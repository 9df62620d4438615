package exec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	securejoin "github.com/cyphar/filepath-securejoin"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// PrepareRoot creates the mount points of spec that root lacks and returns a
// function that removes them again, so that a step's layer does not gain
// /proc or /etc/hosts merely because the sandbox mounted them.
//
// Destinations resolve inside root as runc resolves them: symlinks are
// followed but never leave root. An image whose /etc/resolv.conf links to
// /etc/x or ../../tmp/x thus gets the generated file on <root>/etc/x or
// <root>/tmp/x, created (parents too) when missing and removed after the step
// while still empty, as BuildKit removes its mount stubs. Nothing runs in
// root between this and the sandbox's own resolution, which finds the same
// path.
func PrepareRoot(spec *specs.Spec) (cleanup func(), err error) {
	root := filepath.Clean(spec.Root.Path)
	var created []stub
	cleanup = func() {
		for i := len(created) - 1; i >= 0; i-- {
			created[i].remove()
		}
	}
	for _, m := range spec.Mounts {
		dest := path.Clean(m.Destination)
		if strings.HasPrefix(dest, "/dev/") {
			continue // inside the /dev tmpfs
		}
		isDir := m.Type != "bind"
		if !isDir {
			if st, err := os.Stat(m.Source); err == nil {
				isDir = st.IsDir()
			}
		}
		if err := prepareMountPoint(root, dest, isDir, spec.Mounts, &created); err != nil {
			cleanup()
			return nil, err
		}
	}
	return cleanup, nil
}

// prepareMountPoint resolves dest in root, checks that what is there can
// take the mount, and creates it when missing.
func prepareMountPoint(root, dest string, isDir bool, mounts []specs.Mount, created *[]stub) error {
	full, err := securejoin.SecureJoin(root, dest)
	if err != nil {
		return fmt.Errorf("resolving mount point %s: %w", dest, bare(err))
	}
	rel, err := filepath.Rel(root, full)
	if err != nil {
		return fmt.Errorf("resolving mount point %s: %w", dest, err)
	}
	rel = path.Join("/", filepath.ToSlash(rel))
	if rel != dest {
		// Redirected by a symlink into another mount (/proc, /dev, a cache),
		// the file would be hidden by it or land on what it holds.
		for _, m := range mounts {
			if d := path.Clean(m.Destination); d != dest && (rel == d || strings.HasPrefix(rel, d+"/")) {
				return fmt.Errorf("mount point %s resolves to %s, inside the sandbox's mount on %s: %w", dest, rel, d, fs.ErrInvalid)
			}
		}
	}
	st, err := os.Lstat(full)
	switch {
	case err == nil:
		return checkMountPoint(dest, rel, st.Mode(), isDir)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("mount point %s (%s in the root): %w", dest, rel, bare(err))
	}
	return createStub(root, rel, isDir, dest, created)
}

// checkMountPoint refuses what a bind mount cannot or must not cover.
func checkMountPoint(dest, rel string, mode fs.FileMode, isDir bool) error {
	var what string
	switch {
	case isDir && !mode.IsDir():
		what = "not a directory"
	case !isDir && mode.IsDir():
		what = "a directory"
	case !isDir && mode&fs.ModeDevice != 0:
		what = "a device"
	default:
		return nil
	}
	if rel != dest {
		return fmt.Errorf("mount point %s resolves to %s, %s: %w", dest, rel, what, fs.ErrInvalid)
	}
	return fmt.Errorf("mount point %s is %s: %w", dest, what, fs.ErrInvalid)
}

// createStub creates rel in root and its missing parents. rel is already
// resolved, so its missing components hold no symlink; O_NOFOLLOW and
// O_EXCL make sure of it.
func createStub(root, rel string, isDir bool, dest string, created *[]stub) error {
	parent := path.Dir(rel)
	pst, err := os.Lstat(filepath.Join(root, parent))
	if errors.Is(err, fs.ErrNotExist) {
		if err := createStub(root, parent, true, dest, created); err != nil {
			return err
		}
		pst, err = os.Lstat(filepath.Join(root, parent))
	}
	if err != nil {
		return fmt.Errorf("creating mount point %s (%s in the root): %w", dest, parent, bare(err))
	}
	full := filepath.Join(root, rel)
	if isDir {
		err = unix.Mkdir(full, 0o755)
	} else {
		var fd int
		fd, err = unix.Open(full, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
		if err == nil {
			unix.Close(fd)
		}
	}
	if err != nil {
		return fmt.Errorf("creating mount point %s (%s in the root): %w", dest, rel, err)
	}
	s := stub{path: full, parent: filepath.Join(root, parent), parentTime: pst.ModTime()}
	if st, err := os.Lstat(s.parent); err == nil {
		s.touched = st.ModTime()
	}
	*created = append(*created, s)
	return nil
}

// stub is a mount point PrepareRoot created.
type stub struct {
	path, parent string
	// parentTime is the parent's mtime before the stub, touched after it:
	// the parent gets the first back if the step left it alone, so that the
	// layer's copy of the directory keeps the image's time.
	parentTime, touched time.Time
}

// remove deletes the stub if it is still an empty file or directory.
func (s stub) remove() {
	st, err := os.Lstat(s.path)
	if err != nil || (!st.IsDir() && (!st.Mode().IsRegular() || st.Size() != 0)) {
		return
	}
	pst, err := os.Lstat(s.parent)
	untouched := err == nil && pst.ModTime().Equal(s.touched)
	if os.Remove(s.path) == nil && untouched {
		os.Chtimes(s.parent, time.Time{}, s.parentTime)
	}
}

// bare drops the host path from a path error: messages name paths in the
// image, not the store's directories.
func bare(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
