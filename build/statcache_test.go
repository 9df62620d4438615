package build

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeContext makes a context with a few files whose modification times
// lie an hour back. Their change times are now: tests open the stat cache
// as a build starting a minute later (laterCache), so that it may remember
// them.
func writeContext(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour)
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// laterCache opens the stat cache as a build starting a minute from now.
func laterCache(store, dir string) *statCache {
	c := openStatCache(store, dir)
	c.start = time.Now().Add(time.Minute)
	return c
}

func treeSum(t *testing.T, c *statCache, root string) string {
	t.Helper()
	h := sha256.New()
	if err := c.hashTree(h, root, nil); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestStatCacheMatchesPlainHash(t *testing.T) {
	t.Parallel()
	dir := writeContext(t, map[string]string{"a": "one", "d/b": "two", "d/e/c": "three"})
	if err := os.Symlink("a", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	store := t.TempDir()
	want := treeSum(t, nil, dir)
	c := laterCache(store, dir)
	if got := treeSum(t, c, dir); got != want {
		t.Fatalf("hash through the stat cache = %s, want %s", got, want)
	}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	if got := treeSum(t, laterCache(store, dir), dir); got != want {
		t.Fatalf("hash through the reloaded stat cache = %s, want %s", got, want)
	}
}

// TestStatCacheIsUsed plants a wrong digest for an unchanged file: the hash
// shows it was taken from the cache rather than read.
func TestStatCacheIsUsed(t *testing.T) {
	t.Parallel()
	dir := writeContext(t, map[string]string{"a": "one"})
	store := t.TempDir()
	c := laterCache(store, dir)
	treeSum(t, c, dir)
	e, ok := c.sums["a"]
	if !ok {
		t.Fatalf("stat cache did not remember a file an hour old: %v", c.sums)
	}
	e.Digest = "planted"
	c.sums["a"] = e
	c.dirty = true
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	plain, cached := treeSum(t, nil, dir), treeSum(t, laterCache(store, dir), dir)
	if plain == cached {
		t.Fatal("the reloaded stat cache was not used for an unchanged file")
	}
}

func TestStatCacheSeesChanges(t *testing.T) {
	t.Parallel()
	dir := writeContext(t, map[string]string{"a": "one", "b": "two"})
	store := t.TempDir()
	c := laterCache(store, dir)
	treeSum(t, c, dir)
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.sums["a"]; !ok {
		t.Fatal("stat cache did not remember a")
	}
	// Same size, same modification time: only the change time and the
	// content differ.
	p := filepath.Join(dir, "a")
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("uno"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, st.ModTime(), st.ModTime()); err != nil {
		t.Fatal(err)
	}
	if got, want := treeSum(t, laterCache(store, dir), dir), treeSum(t, nil, dir); got != want {
		t.Fatalf("after changing a file: hash through the stat cache = %s, want %s", got, want)
	}
	// A build starting now does not remember what just changed.
	c3 := openStatCache(store, dir)
	treeSum(t, c3, dir)
	if _, ok := c3.sums["a"]; ok {
		t.Fatal("stat cache remembered a file changed as the build started")
	}
}

func TestStatCacheIgnoresOutsideFiles(t *testing.T) {
	t.Parallel()
	ctxDir := writeContext(t, map[string]string{"a": "one"})
	other := writeContext(t, map[string]string{"x": "elsewhere"})
	c := laterCache(t.TempDir(), ctxDir)
	treeSum(t, c, other)
	if len(c.sums) != 0 {
		t.Fatalf("stat cache remembered files outside the context: %v", c.sums)
	}
}

func TestStatCacheDamagedFile(t *testing.T) {
	t.Parallel()
	dir := writeContext(t, map[string]string{"a": "one"})
	store := t.TempDir()
	c := openStatCache(store, dir)
	if err := os.MkdirAll(filepath.Dir(c.file), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, want := treeSum(t, openStatCache(store, dir), dir), treeSum(t, nil, dir); got != want {
		t.Fatalf("with a damaged stat cache file: %s, want %s", got, want)
	}
}
