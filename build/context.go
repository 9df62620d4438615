package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"golang.org/x/sys/unix"
)

// buildContext is the directory COPY and ADD read from, with its ignore file
// applied.
type buildContext struct {
	dir     string
	matcher *patternmatcher.PatternMatcher
	// matchMu serializes matching: patterns compile on first use, and stages and a COPY's
	// hashing and copying match from several goroutines.
	matchMu sync.Mutex
	// sums remembers the digests of the context's files across builds.
	sums *statCache
}

// newContext opens dir and reads ignoreFile, or, when that is empty,
// .containerignore or .dockerignore in dir.
func newContext(dir, ignoreFile string) (*buildContext, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving context %s: %w", dir, err)
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("opening build context: %w", err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("build context %s is not a directory: %w", dir, fs.ErrInvalid)
	}
	c := &buildContext{dir: abs}
	candidates := []string{ignoreFile}
	if ignoreFile == "" {
		candidates = []string{filepath.Join(abs, ".containerignore"), filepath.Join(abs, ".dockerignore")}
	}
	for _, name := range candidates {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) && ignoreFile == "" {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading ignore file: %w", err)
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading ignore file %s: %w", name, err)
		}
		if c.matcher, err = patternmatcher.New(patterns); err != nil {
			return nil, fmt.Errorf("parsing ignore file %s: %w", name, err)
		}
		break
	}
	return c, nil
}

// ignored reports whether rel (slash-separated, relative to the context)
// is excluded by the ignore file.
func (c *buildContext) ignored(rel string) (bool, error) {
	if c.matcher == nil || rel == "." {
		return false, nil
	}
	c.matchMu.Lock()
	ok, err := c.matcher.MatchesOrParentMatches(rel)
	c.matchMu.Unlock()
	if err != nil {
		return false, fmt.Errorf("matching %s against the ignore file: %w", rel, err)
	}
	return ok, nil
}

// hashTree writes a digest of the names, modes, link targets and contents
// under root into h, as statCache.hashTree does without remembering digests.
func hashTree(h io.Writer, root string, skip func(rel string, d fs.DirEntry) (bool, error)) error {
	return (*statCache)(nil).hashTree(h, root, skip)
}

// copyBuffers are reused across files: hashing a large context must not
// allocate a buffer per file.
var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

func fileDigest(p string) (string, error) {
	// A bare descriptor and the pooled buffer: an os.File's WriteTo copies through a fresh 32 KiB
	// buffer of its own, and its descriptor setup costs syscalls, on each of thousands of files.
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	defer unix.Close(fd)
	h := sha256.New()
	if err := readFD(fd, func(b []byte) error { h.Write(b); return nil }); err != nil {
		return "", fmt.Errorf("reading %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// glob expands a COPY source pattern relative to root, in lexical order,
// leaving out ignored paths. A pattern without wildcards that matches
// nothing is an error naming it.
func glob(root, pattern string, ignored func(string) (bool, error)) ([]string, error) {
	if rel := path.Clean(filepath.ToSlash(pattern)); rel == ".." || strings.HasPrefix(rel, "../") {
		return nil, fmt.Errorf("source %q is outside the build context: %w", pattern, fs.ErrPermission)
	}
	clean := path.Clean("/" + filepath.ToSlash(pattern))
	matches, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(clean)))
	if err != nil {
		return nil, fmt.Errorf("bad source pattern %q: %w", pattern, err)
	}
	sort.Strings(matches)
	var out []string
	for _, m := range matches {
		rel, _ := filepath.Rel(root, m)
		rel = filepath.ToSlash(rel)
		if ignored != nil {
			if ig, err := ignored(rel); err != nil {
				return nil, err
			} else if ig {
				continue
			}
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		what := "no source files were specified"
		if pattern != "" {
			what = fmt.Sprintf("%q: no such file or directory", pattern)
			if strings.ContainsAny(pattern, "*?[") {
				what = fmt.Sprintf("no files match %q", pattern)
			}
		}
		return nil, fmt.Errorf("%s: %w", what, fs.ErrNotExist)
	}
	return out, nil
}
