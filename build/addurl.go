package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// maxDownload bounds what ADD fetches from a URL, so a hostile server cannot
// fill the disk.
const maxDownload = 8 << 30

// fetchURL downloads an ADD source into dir and returns the file's path,
// named as docker names it: the last element of the URL's path. A
// --checksum (sha256:HEX) must match. The file keeps the server's
// Last-Modified time, as docker does.
func (b *Builder) fetchURL(ctx context.Context, raw, checksum, dir string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("ADD source %q: not an http or https URL: %w", raw, fs.ErrInvalid)
	}
	if u.Fragment != "" {
		// Git sources (IsGitURL) never come here: a #ref needs a .git URL.
		return "", fmt.Errorf("ADD source %s: a #ref is for git repositories, whose URL ends in .git: %w", raw, fs.ErrInvalid)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "__unnamed__"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", raw, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", raw, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("fetching %s: server answered %s", raw, resp.Status)
	}
	p := filepath.Join(dir, name)
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("fetching %s: %w", raw, err)
	}
	h := sha256.New()
	n, cerr := io.Copy(io.MultiWriter(f, h), io.LimitReader(resp.Body, maxDownload+1))
	if err := errors.Join(cerr, f.Close()); err != nil {
		return "", fmt.Errorf("fetching %s: %w", raw, err)
	}
	if n > maxDownload {
		return "", fmt.Errorf("fetching %s: larger than %d bytes", raw, int64(maxDownload))
	}
	if checksum != "" {
		want, ok := strings.CutPrefix(checksum, "sha256:")
		if got := hex.EncodeToString(h.Sum(nil)); !ok || got != want {
			return "", fmt.Errorf("ADD %s: checksum mismatch: got sha256:%s, want %s", raw, got, checksum)
		}
	}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		os.Chtimes(p, lm, lm)
	} else {
		os.Chtimes(p, time.Unix(0, 0), time.Unix(0, 0))
	}
	return p, nil
}

// downloadDir is a per-build directory for ADD downloads.
func (b *Builder) downloadDir() (string, error) {
	dir, err := os.MkdirTemp(b.store.RunRoot(), "kiln-add-")
	if err != nil {
		return "", fmt.Errorf("creating download directory: %w", err)
	}
	b.addCleanup(func() { os.RemoveAll(dir) })
	return dir, nil
}
