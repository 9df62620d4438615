package build

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	digest "github.com/opencontainers/go-digest"

	"github.com/kiln-build/kiln/exec"
)

// copySpec is what COPY and ADD share.
type copySpec struct {
	cmd      instructions.Command
	src      instructions.SourcesAndDest
	from     string
	chown    string
	chmod    string
	excludes []string
	parents  bool
	add      bool
	checksum string
	// keepGitDir keeps .git of an ADD git source.
	keepGitDir bool
}

// copy runs a COPY or ADD step.
func (b *Builder) copy(ctx context.Context, s *stage, c copySpec) error {
	srcRoot, ignored, fromKey, release, err := b.copySource(ctx, s.index, c.from)
	if err != nil {
		return err
	}
	defer release()
	ex, err := newExcluder(c.excludes)
	if err != nil {
		return err
	}
	items, err := b.copyItems(ctx, c, srcRoot, ignored, ex)
	if err != nil {
		return err
	}
	dest := resolveDest(c.src.DestPath, s.img.Config.WorkingDir)
	if len(items)+len(c.src.SourceContents) > 1 && !strings.HasSuffix(dest, "/") && !c.parents {
		return fmt.Errorf("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	parentKey := s.key
	hashKey := func() (digest.Digest, error) {
		h := sha256.New()
		var sums *statCache
		if c.from == "" {
			sums = b.bctx.sums
		}
		if err := hashItems(h, items, ignored, ex, sums); err != nil {
			return "", err
		}
		for _, sc := range c.src.SourceContents {
			fmt.Fprintf(h, "heredoc %s\x00%s\x00", sc.Path, sc.Data)
		}
		parts := []string{fmt.Sprintf("%x", h.Sum(nil)), fromKey, dest, c.chown, c.chmod,
			strconv.FormatBool(c.add), timestampKey(b.opts.Timestamp)}
		if len(c.excludes) > 0 || c.parents || c.keepGitDir {
			parts = append(parts, "exclude="+strings.Join(c.excludes, "\x00"), "parents="+strconv.FormatBool(c.parents),
				"keep-git-dir="+strconv.FormatBool(c.keepGitDir))
		}
		return stepKey(parentKey, append([]string{"COPY"}, parts...)...), nil
	}
	keyFn := hashKey
	if b.opts.NoCache {
		// Nothing is looked up, so the sources are hashed for the key on the other core while
		// they are copied, instead of read twice one after the other.
		type keyed struct {
			key digest.Digest
			err error
		}
		ch := make(chan keyed, 1)
		go func() {
			k, err := hashKey()
			ch <- keyed{k, err}
		}()
		keyFn = func() (digest.Digest, error) {
			r := <-ch
			return r.key, r.err
		}
	}
	return b.layerStepKeyed(ctx, s, c.cmd, keyFn, func(w *workspace) error {
		cp, err := b.newCopier(w.root, srcRoot, c)
		if err != nil {
			return err
		}
		cp.upper = w.upper
		cp.exclude = ex
		for _, it := range items {
			cp.remote = it.remote
			if c.parents && !it.remote {
				err = cp.copyParents(it.path, it.parent, dest)
			} else {
				err = cp.copySource(it.path, dest, len(items) > 1 || strings.HasSuffix(dest, "/"))
			}
			if err != nil {
				return err
			}
		}
		for _, sc := range c.src.SourceContents {
			if err := cp.writeContent(sc.Path, sc.Data, dest); err != nil {
				return err
			}
		}
		return nil
	})
}

// skipIgnored adapts the context's ignore file to hashTree, whose paths are
// relative to each source (srcRel in the context) rather than to the context.
func skipIgnored(srcRel string, ignored func(string) (bool, error)) func(string, fs.DirEntry) (bool, error) {
	if ignored == nil {
		return nil
	}
	return func(rel string, d fs.DirEntry) (bool, error) {
		if rel == "." {
			return false, nil
		}
		return ignored(path.Join(filepath.ToSlash(srcRel), rel))
	}
}

// copySource returns the root COPY reads from: the context, a stage's or an
// image's filesystem.
func (b *Builder) copySource(ctx context.Context, current int, from string) (root string, ignored func(string) (bool, error), key string, release func(), err error) {
	release = func() {}
	if from == "" {
		return b.bctx.dir, b.bctx.ignored, "context", release, nil
	}
	var top, fkey string
	if j, ok := b.stageIndex(from, current); ok {
		prev := b.stageDone(j)
		if prev == nil {
			return "", nil, "", release, fmt.Errorf("COPY --from=%s: stage was not built before this one", from)
		}
		top, fkey = prev.top, "stage:"+prev.key.String()
	} else {
		rec, err := b.baseImage(ctx, from)
		if err != nil {
			return "", nil, "", release, err
		}
		top, fkey = rec.TopLayer, "image:"+rec.ID
	}
	w, err := b.mountWork(top)
	if err != nil {
		return "", nil, "", release, err
	}
	return w.root, nil, fkey, func() { w.release() }, nil
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "git@")
}

// copier writes files into a step's root with the COPY's owner and mode.
type copier struct {
	root     string
	srcRoot  string
	uid, gid int
	chown    bool
	mode     *fs.FileMode
	ignored  func(string) (bool, error)
	add      bool
	// remote marks a downloaded ADD source: never unpacked, mode 0600.
	remote bool
	// forceOwner gives unpacked entries uid and gid instead of their own.
	forceOwner bool
	// exclude leaves out COPY --exclude matches, relative to each source.
	exclude *excluder
	// dirs are the destination's directories known to be real ones, by image path: see resolveDir.
	dirs map[string]knownDir
	// upper is the overlay upper directory of root, when new directories' contents may be
	// written straight into it.
	upper string
	// files, during copyDir, runs a regular file's copy on one of its workers.
	files func(func() error) error
}

func (b *Builder) newCopier(root, srcRoot string, c copySpec) (*copier, error) {
	cp := &copier{root: root, srcRoot: srcRoot, add: c.add}
	if err := cp.setOwnerMode(c.chown, c.chmod); err != nil {
		return nil, err
	}
	if c.from == "" {
		cp.ignored = b.bctx.ignored
	}
	return cp, nil
}

// setOwnerMode applies --chown (resolved in the destination's /etc/passwd
// and /etc/group) and --chmod (octal) to what cp copies.
func (cp *copier) setOwnerMode(chown, chmod string) error {
	if chown != "" {
		u, err := exec.LookupUser(cp.root, chown)
		if err != nil {
			return fmt.Errorf("--chown=%s: %w", chown, err)
		}
		cp.uid, cp.gid, cp.chown = int(u.UID), int(u.GID), true
	}
	if chmod != "" {
		m, err := strconv.ParseUint(chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("--chmod=%s: not an octal mode: %w", chmod, fs.ErrInvalid)
		}
		fm := fs.FileMode(m)
		cp.mode = &fm
	}
	return nil
}

// resolveDest makes a COPY destination absolute against the working
// directory, keeping the trailing "/" that says "into this directory".
func resolveDest(dest, workdir string) string {
	if path.IsAbs(dest) {
		return dest
	}
	if workdir == "" {
		workdir = "/"
	}
	trailing := strings.HasSuffix(dest, "/") || dest == "."
	dest = path.Join(workdir, dest)
	if trailing {
		dest += "/"
	}
	return dest
}

// writeContent writes a heredoc source (COPY <<EOF /x).
func (cp *copier) writeContent(name, data, dest string) error {
	target := dest
	if strings.HasSuffix(dest, "/") {
		target = path.Join(dest, name)
	}
	if _, err := cp.mkdirAll(path.Dir(target)); err != nil {
		return err
	}
	full, err := cp.resolve(target)
	if err != nil {
		return err
	}
	if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", target, err)
	}
	return cp.own(full, 0o644, false)
}
