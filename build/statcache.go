package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/kiln-build/kiln/storage"
)

// statCache remembers the content digests of a build context's files by
// their inode, size, modification and change times, so that hashing the
// context for a cache key does not read again the files that did not
// change since the last build. It lives in the store, one file per context
// directory, and is advisory: a missing or damaged file only costs reading
// the context. A nil *statCache hashes without remembering.
type statCache struct {
	root string // the context directory; only files under it are remembered
	file string // where the cache is kept
	// start is when the build began: a file changed this close to it may
	// change again within its time stamp's resolution, so it is not
	// remembered (git's "racily clean" entries).
	start time.Time
	mu    sync.Mutex
	sums  map[string]statEntry // by path relative to root
	dirty bool
}

// statEntry is what a file looked like when its digest was computed.
type statEntry struct {
	Ino    uint64 `json:"ino"`
	Size   int64  `json:"size"`
	Mtime  int64  `json:"mtime"`
	Ctime  int64  `json:"ctime"`
	Digest string `json:"digest"`
}

// maxStatEntries bounds the cache file of one context.
const maxStatEntries = 1 << 20

// openStatCache loads the cache of the context dir kept under graphRoot.
func openStatCache(graphRoot, dir string) *statCache {
	name := sha256.Sum256([]byte(dir))
	c := &statCache{root: dir, start: time.Now(), sums: map[string]statEntry{},
		file: filepath.Join(graphRoot, "kiln-statcache", hex.EncodeToString(name[:])+".json")}
	if b, err := os.ReadFile(c.file); err == nil {
		if json.Unmarshal(b, &c.sums) != nil || len(c.sums) > maxStatEntries {
			c.sums = map[string]statEntry{}
		}
	}
	return c
}

// save writes the cache back when this build added to it, atomically.
func (c *statCache) save() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty || len(c.sums) > maxStatEntries {
		return nil
	}
	b, err := json.Marshal(c.sums)
	if err != nil {
		return fmt.Errorf("encoding the context's stat cache: %w", err)
	}
	dir := filepath.Dir(c.file)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("writing the context's stat cache: %w", err)
	}
	if err := storage.WriteFileAtomic(c.file, b); err != nil {
		return fmt.Errorf("writing the context's stat cache: %w", err)
	}
	c.dirty = false
	return nil
}

// digest returns the hex sha256 of the regular file p, whose Lstat is info,
// from the cache when the file is unchanged.
func (c *statCache) digest(p string, info fs.FileInfo) (string, error) {
	rel, ok := c.rel(p)
	st, isStat := info.Sys().(*syscall.Stat_t)
	if !ok || !isStat {
		return fileDigest(p)
	}
	e := statEntry{Ino: st.Ino, Size: st.Size, Mtime: st.Mtim.Nano(), Ctime: st.Ctim.Nano()}
	c.mu.Lock()
	old, hit := c.sums[rel]
	c.mu.Unlock()
	if hit && old.Digest != "" && old.Ino == e.Ino && old.Size == e.Size && old.Mtime == e.Mtime && old.Ctime == e.Ctime {
		return old.Digest, nil
	}
	sum, err := fileDigest(p)
	if err != nil {
		return "", err
	}
	// A file changed within two seconds of the build's start may change
	// again without its times moving: it is hashed again next time.
	racy := c.start.Add(-2 * time.Second).UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Mtime < racy && e.Ctime < racy {
		e.Digest = sum
		c.sums[rel], c.dirty = e, true
	} else if hit {
		delete(c.sums, rel)
		c.dirty = true
	}
	return sum, nil
}

// rel is p relative to the context, when p is inside it.
func (c *statCache) rel(p string) (string, bool) {
	if c == nil {
		return "", false
	}
	rel, err := filepath.Rel(c.root, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return rel, true
}

// hashTree writes a digest of the names, modes, link targets and contents
// under root (a file or a directory) into h, skipping what skip says to.
// Modification times are left out on purpose: touching a file without
// changing it must not bust the cache. File contents are read by a few
// goroutines at once, and through c when it is not nil.
func (c *statCache) hashTree(h io.Writer, root string, skip func(rel string, d fs.DirEntry) (bool, error)) error {
	var recs []treeRecord
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if skip != nil {
			if s, err := skip(rel, d); err != nil {
				return err
			} else if s {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
		}
		info, err := d.Info()
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		r := treeRecord{path: p, rel: rel, info: info}
		if info.Mode()&fs.ModeSymlink != 0 {
			if r.sum, err = os.Readlink(p); err != nil {
				return fmt.Errorf("reading link %s: %w", p, err)
			}
		}
		recs = append(recs, r)
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.digestAll(recs); err != nil {
		return err
	}
	for _, r := range recs {
		fmt.Fprintf(h, "%s\x00%o\x00", r.rel, r.info.Mode())
		if r.info.Mode()&fs.ModeSymlink != 0 || r.info.Mode().IsRegular() {
			fmt.Fprintf(h, "%s\x00", r.sum)
		}
	}
	return nil
}

// treeRecord is one entry hashTree found: sum is a symlink's target or a
// regular file's digest.
type treeRecord struct {
	path, rel string
	info      fs.FileInfo
	sum       string
}

// digestAll fills in the digests of the regular files in recs, reading up
// to GOMAXPROCS (at most 4) files at a time.
func (c *statCache) digestAll(recs []treeRecord) error {
	workers := min(runtime.GOMAXPROCS(0), 4)
	next := make(chan int)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if errs[w] != nil {
					continue
				}
				recs[i].sum, errs[w] = c.digest(recs[i].path, recs[i].info)
			}
		}()
	}
	for i := range recs {
		if recs[i].info.Mode().IsRegular() {
			next <- i
		}
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}
