package build

import (
	"context"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/patternmatcher"
)

// copyItem is one matched source of a COPY or ADD.
type copyItem struct {
	// path is the source on the host.
	path string
	// key names the source in the cache key.
	key string
	// parent is, with COPY --parents, the source's path under the destination.
	parent string
	// remote marks a download or a clone: kiln's own files, outside the source root.
	remote bool
}

// excluder matches COPY --exclude patterns, .dockerignore style, against
// paths relative to a source.
type excluder struct {
	pm *patternmatcher.PatternMatcher
	mu sync.Mutex // as buildContext.matchMu
}

func newExcluder(patterns []string) (*excluder, error) {
	if len(patterns) == 0 {
		return nil, nil
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, fmt.Errorf("parsing --exclude patterns %q: %w", patterns, err)
	}
	return &excluder{pm: pm}, nil
}

// excluded reports whether rel (slash-separated) or one of its parents
// matches a pattern. A nil excluder excludes nothing.
func (e *excluder) excluded(rel string) (bool, error) {
	if e == nil || rel == "." || rel == "" {
		return false, nil
	}
	e.mu.Lock()
	ok, err := e.pm.MatchesOrParentMatches(rel)
	e.mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("matching %s against --exclude: %w", rel, err)
	}
	return ok, nil
}

// copyItems resolves the sources of c: downloads, git clones, and the
// matches of each pattern in srcRoot less what --exclude leaves out.
func (b *Builder) copyItems(ctx context.Context, c copySpec, srcRoot string, ignored func(string) (bool, error), ex *excluder) ([]copyItem, error) {
	var items []copyItem
	for _, p := range c.src.SourcePaths {
		switch {
		case c.add && IsGitURL(p):
			if c.checksum != "" {
				return nil, fmt.Errorf("ADD --checksum with a git source (%s) is not supported: %w", p, fs.ErrInvalid)
			}
			it, err := b.cloneSource(ctx, p, c.keepGitDir)
			if err != nil {
				return nil, err
			}
			items = append(items, it)
		case c.add && isURL(p):
			dir, err := b.downloadDir()
			if err != nil {
				return nil, err
			}
			f, err := b.fetchURL(ctx, p, c.checksum, dir)
			if err != nil {
				return nil, err
			}
			// A download's temp directory must not bust the cache: only its
			// name and content count.
			items = append(items, copyItem{path: f, key: "url:" + filepath.Base(f), remote: true})
		default:
			if c.checksum != "" {
				return nil, fmt.Errorf("ADD --checksum needs a URL source, not %q", p)
			}
			m, err := b.matchSources(srcRoot, p, c.parents, ignored, ex)
			if err != nil {
				return nil, err
			}
			items = append(items, m...)
		}
	}
	return items, nil
}

// matchSources globs pattern in srcRoot. A match is excluded when its name
// or its path in the source root matches an --exclude pattern.
func (b *Builder) matchSources(srcRoot, pattern string, parents bool, ignored func(string) (bool, error), ex *excluder) ([]copyItem, error) {
	m, err := glob(srcRoot, pattern, ignored)
	if err != nil {
		return nil, err
	}
	pivot := srcRoot
	if i := strings.Index(filepath.ToSlash(pattern), "/./"); i >= 0 && parents {
		// docker's pivot: only what follows /./ is kept under the destination.
		pivot = filepath.Join(srcRoot, filepath.FromSlash(path.Clean("/"+pattern[:i])))
	}
	var items []copyItem
	for _, f := range m {
		rel, _ := filepath.Rel(srcRoot, f)
		rel = filepath.ToSlash(rel)
		byName, err := ex.excluded(filepath.Base(f))
		if err != nil {
			return nil, err
		}
		byPath, err := ex.excluded(rel)
		if err != nil {
			return nil, err
		}
		if byName || byPath {
			continue
		}
		it := copyItem{path: f, key: rel}
		if parents {
			prel, err := filepath.Rel(pivot, f)
			if err != nil || strings.HasPrefix(prel, "..") {
				return nil, fmt.Errorf("COPY --parents: %s is outside %s", rel, pattern)
			}
			it.parent = filepath.ToSlash(prel)
		}
		items = append(items, it)
	}
	return items, nil
}

// cloneSource clones an ADD git source (URL#ref[:subdir]) for the build,
// without its .git directory unless keepGit.
func (b *Builder) cloneSource(ctx context.Context, url string, keepGit bool) (copyItem, error) {
	dir, err := b.downloadDir()
	if err != nil {
		return copyItem{}, err
	}
	repo := filepath.Join(dir, "repo")
	tree, err := cloneContext(ctx, url, repo)
	if err != nil {
		return copyItem{}, err
	}
	if !keepGit {
		if err := os.RemoveAll(filepath.Join(repo, ".git")); err != nil {
			return copyItem{}, fmt.Errorf("removing .git of %s: %w", url, err)
		}
	}
	return copyItem{path: tree, key: "git:" + url, remote: true}, nil
}

// hashItems writes what the cache key needs of each source: its name, its
// place under --parents and its content less ignored and excluded paths.
// Files of the build context are hashed through sums.
func hashItems(h hash.Hash, items []copyItem, ignored func(string) (bool, error), ex *excluder, sums *statCache) error {
	for _, it := range items {
		fmt.Fprintf(h, "src %s\x00", it.key)
		if it.parent != "" {
			fmt.Fprintf(h, "parent %s\x00", it.parent)
		}
		ig := ignored
		if it.remote {
			ig = nil
		}
		skipIg := skipIgnored(it.key, ig)
		skip := func(rel string, d fs.DirEntry) (bool, error) {
			if it.remote && rel == ".git" {
				return true, nil // a kept .git differs from clone to clone
			}
			if skipIg != nil {
				if s, err := skipIg(rel, d); err != nil || s {
					return s, err
				}
			}
			return ex.excluded(rel)
		}
		if err := sums.hashTree(h, it.path, skip); err != nil {
			return err
		}
	}
	return nil
}

// copyParents copies a source to its path under dest (COPY --parents): the
// directories above it are copied from the source root with their own
// metadata where dest lacks them.
func (cp *copier) copyParents(src, rel, dest string) error {
	if _, err := cp.mkdirAll(dest); err != nil {
		return err
	}
	hostParent := filepath.Dir(src)
	var dirs []string
	for d := path.Dir(rel); d != "." && d != "/"; d = path.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	base := strings.TrimSuffix(filepath.ToSlash(hostParent), path.Dir(rel))
	for _, d := range dirs {
		target := path.Join(dest, d)
		full, err := cp.resolve(target)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(full); err == nil {
			continue
		}
		if err := cp.copyEntry(filepath.FromSlash(path.Join(base, d)), target); err != nil {
			return err
		}
	}
	resolved, err := securejoin.SecureJoin(cp.srcRoot, cp.rel(src))
	if err != nil {
		return fmt.Errorf("resolving source %s: %w", rel, err)
	}
	target := path.Join(dest, rel)
	if err := cp.copyEntry(resolved, target); err != nil {
		return err
	}
	if st, err := os.Stat(resolved); err == nil && st.IsDir() {
		return cp.copyDir(resolved, target)
	}
	return nil
}
