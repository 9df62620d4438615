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
}

// copy runs a COPY or ADD step.
func (b *Builder) copy(ctx context.Context, s *stage, c copySpec) error {
	if c.parents || len(c.excludes) > 0 {
		return fmt.Errorf("COPY --parents and --exclude are not supported yet")
	}
	srcRoot, ignored, fromKey, release, err := b.copySource(ctx, s.index, c.from)
	if err != nil {
		return err
	}
	defer release()
	var sources []string
	remote := map[string]bool{}
	for _, p := range c.src.SourcePaths {
		if c.add && isURL(p) {
			dir, err := b.downloadDir()
			if err != nil {
				return err
			}
			f, err := b.fetchURL(ctx, p, c.checksum, dir)
			if err != nil {
				return err
			}
			sources, remote[f] = append(sources, f), true
			continue
		}
		if c.checksum != "" {
			return fmt.Errorf("ADD --checksum needs a URL source, not %q", p)
		}
		m, err := glob(srcRoot, p, ignored)
		if err != nil {
			return err
		}
		sources = append(sources, m...)
	}
	dest := c.src.DestPath
	if !path.IsAbs(dest) {
		wd := s.img.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		trailing := strings.HasSuffix(dest, "/") || dest == "."
		dest = path.Join(wd, dest)
		if trailing {
			dest += "/"
		}
	}
	if len(sources)+len(c.src.SourceContents) > 1 && !strings.HasSuffix(dest, "/") {
		return fmt.Errorf("when using COPY with more than one source file, the destination must be a directory and end with a /")
	}
	h := sha256.New()
	for _, src := range sources {
		rel, _ := filepath.Rel(srcRoot, src)
		if remote[src] {
			// A download's temp directory must not bust the cache: only its
			// name and content count.
			rel = "url:" + filepath.Base(src)
		}
		fmt.Fprintf(h, "src %s\x00", rel)
		if err := hashTree(h, src, skipIgnored(rel, ignored)); err != nil {
			return err
		}
	}
	for _, sc := range c.src.SourceContents {
		fmt.Fprintf(h, "heredoc %s\x00%s\x00", sc.Path, sc.Data)
	}
	key := stepKey(s.key, "COPY", fmt.Sprintf("%x", h.Sum(nil)), fromKey, dest, c.chown, c.chmod,
		strconv.FormatBool(c.add), timestampKey(b.opts.Timestamp))
	return b.layerStep(ctx, s, c.cmd, key, func(w *workspace) error {
		cp, err := b.newCopier(w.root, srcRoot, c)
		if err != nil {
			return err
		}
		for _, src := range sources {
			cp.remote = remote[src]
			if err := cp.copySource(src, dest, len(sources) > 1 || strings.HasSuffix(dest, "/")); err != nil {
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
}

func (b *Builder) newCopier(root, srcRoot string, c copySpec) (*copier, error) {
	cp := &copier{root: root, srcRoot: srcRoot, add: c.add}
	if c.chown != "" {
		u, err := exec.LookupUser(root, c.chown)
		if err != nil {
			return nil, fmt.Errorf("--chown=%s: %w", c.chown, err)
		}
		cp.uid, cp.gid, cp.chown = int(u.UID), int(u.GID), true
	}
	if c.chmod != "" {
		m, err := strconv.ParseUint(c.chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return nil, fmt.Errorf("--chmod=%s: not an octal mode: %w", c.chmod, fs.ErrInvalid)
		}
		fm := fs.FileMode(m)
		cp.mode = &fm
	}
	if c.from == "" {
		cp.ignored = b.bctx.ignored
	}
	return cp, nil
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
