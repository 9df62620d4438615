package build

import (
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kiln-build/kiln/exec"
)

// PutOptions say how Put writes files, as COPY's and ADD's flags do.
type PutOptions struct {
	// SourceRoot confines the sources: symlinks among them are followed
	// only as far as it. "" makes each source's own directory the root.
	SourceRoot string
	// Workdir is what a relative destination is relative to ("/" if "").
	Workdir string
	// Chown is USER[:GROUP], resolved against root's /etc/passwd and
	// /etc/group; "" is 0:0.
	Chown string
	// Chmod is an octal mode for every file and directory copied.
	Chmod string
	// Add unpacks local tar archives (compressed or not) as ADD does.
	Add bool
}

// Put copies sources into the filesystem mounted at root with COPY's
// rules (ADD's with o.Add): a directory's contents go into dest, files go to
// dest or into it when it ends in "/" or is a directory, and several
// sources need a directory. It is kiln copy and kiln add for working
// containers; the sources are host paths, or paths under o.SourceRoot.
func Put(root string, sources []string, dest string, o PutOptions) error {
	if len(sources) == 0 {
		return fmt.Errorf("nothing to copy: %w", fs.ErrInvalid)
	}
	if !path.IsAbs(dest) {
		wd := o.Workdir
		if wd == "" {
			wd = "/"
		}
		trailing := strings.HasSuffix(dest, "/") || dest == "."
		dest = path.Join(wd, dest)
		if trailing {
			dest += "/"
		}
	}
	intoDir := len(sources) > 1 || strings.HasSuffix(dest, "/")
	if len(sources) > 1 && !strings.HasSuffix(dest, "/") {
		return fmt.Errorf("copying %d sources to %s: the destination must be a directory and end with a /: %w",
			len(sources), dest, fs.ErrInvalid)
	}
	for _, src := range sources {
		abs, err := filepath.Abs(src)
		if err != nil {
			return fmt.Errorf("resolving source %s: %w", src, err)
		}
		srcRoot := o.SourceRoot
		if srcRoot == "" {
			srcRoot = filepath.Dir(abs)
		}
		cp, err := newPutCopier(root, srcRoot, o)
		if err != nil {
			return err
		}
		if err := cp.copySource(abs, dest, intoDir); err != nil {
			return err
		}
	}
	return nil
}

func newPutCopier(root, srcRoot string, o PutOptions) (*copier, error) {
	cp := &copier{root: root, srcRoot: srcRoot, add: o.Add}
	if o.Chown != "" {
		u, err := exec.LookupUser(root, o.Chown)
		if err != nil {
			return nil, fmt.Errorf("--chown=%s: %w", o.Chown, err)
		}
		cp.uid, cp.gid, cp.chown = int(u.UID), int(u.GID), true
	}
	if o.Chmod != "" {
		m, err := strconv.ParseUint(o.Chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return nil, fmt.Errorf("--chmod=%s: not an octal mode: %w", o.Chmod, fs.ErrInvalid)
		}
		fm := fs.FileMode(m)
		cp.mode = &fm
	}
	return cp, nil
}
