package build

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
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
	dest = resolveDest(dest, o.Workdir)
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
	if err := cp.setOwnerMode(o.Chown, o.Chmod); err != nil {
		return nil, err
	}
	return cp, nil
}
