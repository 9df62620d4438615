package build

import (
	"archive/tar"
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	osexec "os/exec"
	"strings"
)

// IsGitURL reports whether a build context argument names a git
// repository, as docker decides: git:// and git@ addresses, and URLs whose
// path ends in .git (optionally with a #ref[:subdir] fragment).
func IsGitURL(s string) bool {
	if strings.HasPrefix(s, "git://") || strings.HasPrefix(s, "git@") {
		return true
	}
	base, _, _ := strings.Cut(s, "#")
	return (strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "file://")) &&
		strings.HasSuffix(base, ".git")
}

// FetchContext materialises a context that is not a local directory into a
// new directory under tmp: a tar stream ("-", read from stdin, compressed or
// not) or a git URL (cloned with git, at #ref, from :subdir). The returned
// cleanup removes it.
func FetchContext(ctx context.Context, spec string, stdin io.Reader, tmp string) (dir string, cleanup func(), err error) {
	dir, err = os.MkdirTemp(tmp, "kiln-context-")
	if err != nil {
		return "", nil, fmt.Errorf("creating context directory: %w", err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	if spec == "-" {
		err = untarContext(stdin, dir)
	} else {
		dir, err = cloneContext(ctx, spec, dir)
	}
	if err != nil {
		cleanup()
		return "", nil, err
	}
	return dir, cleanup, nil
}

func untarContext(r io.Reader, dir string) error {
	in := &countingReader{r: r}
	dr, err := decompress(bufio.NewReader(in))
	if err != nil {
		return fmt.Errorf("reading context from stdin: %w", err)
	}
	cp := &copier{root: dir, forceOwner: true}
	tr := tar.NewReader(&expansionLimit{r: dr, in: in, name: "context from stdin"})
	n := 0
	for ; ; n++ {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("reading context tar from stdin: %w", err)
		}
		if err := cp.extractEntry(tr, h); err != nil {
			return fmt.Errorf("unpacking context entry %s: %w", h.Name, err)
		}
	}
	if n == 0 {
		return fmt.Errorf("the context tar on stdin is empty: %w", fs.ErrInvalid)
	}
	return nil
}

// cloneContext clones url#ref:subdir into dir and returns the context
// directory inside it.
func cloneContext(ctx context.Context, url, dir string) (string, error) {
	repo, frag, _ := strings.Cut(url, "#")
	ref, sub, _ := strings.Cut(frag, ":")
	git, err := osexec.LookPath("git")
	if err != nil {
		return "", fmt.Errorf("building from %s needs git: %w", url, err)
	}
	args := []string{"clone", "--quiet", "--depth", "1", "--recurse-submodules"}
	if ref != "" {
		args = append(args, "--branch", ref)
	}
	cmd := osexec.CommandContext(ctx, git, append(args, "--", repo, dir)...)
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("cloning %s: %w: %s", url, err, strings.TrimSpace(string(out)))
	}
	if sub == "" {
		return dir, nil
	}
	c := &copier{root: dir}
	full, err := c.resolve(sub)
	if err != nil {
		return "", err
	}
	if st, err := os.Stat(full); err != nil || !st.IsDir() {
		return "", fmt.Errorf("%s: no directory %q in the repository: %w", url, sub, fs.ErrNotExist)
	}
	return full, nil
}
