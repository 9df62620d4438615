package build

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// Secret is a --secret: a file, or an environment variable of kiln's.
type Secret struct {
	Src string
	Env string
}

// stepMounts are the extra mounts of a RUN --mount, what they add to the
// cache key, and what to undo afterwards.
type stepMounts struct {
	mounts  []specs.Mount
	env     []string
	key     []string
	release []func()
	// ssh counts the step's ssh mounts.
	ssh int
}

func (m *stepMounts) close() {
	for i := len(m.release) - 1; i >= 0; i-- {
		m.release[i]()
	}
}

// runMounts resolves the --mount options of a RUN.
func (b *Builder) runMounts(ctx context.Context, s *stage, c *instructions.RunCommand) (*stepMounts, error) {
	out := &stepMounts{}
	for _, m := range instructions.GetMounts(c) {
		target := m.Target
		if !path.IsAbs(target) {
			target = path.Join("/", s.img.Config.WorkingDir, target)
		}
		var err error
		switch m.Type {
		case instructions.MountTypeBind:
			err = b.bindMount(ctx, s, m, target, out)
		case instructions.MountTypeCache:
			err = b.cacheMount(m, target, out)
		case instructions.MountTypeTmpfs:
			opts := []string{"nosuid", "nodev", "mode=1777"}
			if m.SizeLimit > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.SizeLimit, 10))
			}
			out.mounts = append(out.mounts, specs.Mount{Destination: target, Type: "tmpfs", Source: "tmpfs", Options: opts})
			out.key = append(out.key, "tmpfs "+target)
		case instructions.MountTypeSecret:
			err = b.secretMount(m, out)
		case instructions.MountTypeSSH:
			err = b.sshMount(m, out)
		default:
			err = fmt.Errorf("RUN --mount=type=%s is not supported yet: %w", m.Type, errors.ErrUnsupported)
		}
		if err != nil {
			out.close()
			return nil, err
		}
	}
	return out, nil
}

// bindMount binds a path of the context, a stage or an image, read-only:
// a step may not change the user's context.
func (b *Builder) bindMount(ctx context.Context, s *stage, m *instructions.Mount, target string, out *stepMounts) error {
	if !m.ReadOnly {
		return fmt.Errorf("RUN --mount=type=bind,rw is not supported yet: %w", errors.ErrUnsupported)
	}
	root, _, fromKey, release, err := b.copySource(ctx, s.index, m.From)
	if err != nil {
		return err
	}
	out.release = append(out.release, release)
	src, err := securejoin.SecureJoin(root, m.Source)
	if err != nil {
		return fmt.Errorf("resolving --mount source %s: %w", m.Source, err)
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("--mount source %s: %w", m.Source, err)
	}
	h := sha256.New()
	if err := hashTree(h, src, nil); err != nil {
		return err
	}
	out.mounts = append(out.mounts, specs.Mount{Destination: target, Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	out.key = append(out.key, fmt.Sprintf("bind %s %s %x", fromKey, target, h.Sum(nil)))
	return nil
}

// cacheMount binds a directory that outlives the build, keyed by id.
func (b *Builder) cacheMount(m *instructions.Mount, target string, out *stepMounts) error {
	if m.From != "" {
		return fmt.Errorf("RUN --mount=type=cache,from= is not supported yet: %w", errors.ErrUnsupported)
	}
	id := m.CacheID
	if id == "" {
		id = target
	}
	dir := filepath.Join(b.store.GraphRoot(), "kiln-cache-mounts", fmt.Sprintf("%x", sha256.Sum256([]byte(id))))
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		mode := fs.FileMode(0o755)
		if m.Mode != nil {
			mode = fs.FileMode(*m.Mode)
		}
		if err := os.MkdirAll(dir, mode); err != nil {
			return fmt.Errorf("creating cache mount %s: %w", id, err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			return fmt.Errorf("creating cache mount %s: %w", id, err)
		}
		uid, gid := 0, 0
		if m.UID != nil {
			uid = int(*m.UID)
		}
		if m.GID != nil {
			gid = int(*m.GID)
		}
		if err := lchown(dir, uid, gid); err != nil {
			return fmt.Errorf("creating cache mount %s: %w", id, err)
		}
	}
	opts := []string{"rbind"}
	if m.ReadOnly {
		opts = append(opts, "ro")
	}
	out.mounts = append(out.mounts, specs.Mount{Destination: target, Type: "bind", Source: dir, Options: opts})
	// What a cache holds does not change what the step means.
	out.key = append(out.key, "cache "+target)
	return nil
}

// secretMount binds a --secret at /run/secrets/ID (or its target), or puts
// it in an environment variable. Secrets never enter the cache key.
func (b *Builder) secretMount(m *instructions.Mount, out *stepMounts) error {
	id := m.CacheID
	if id == "" {
		id = path.Base(m.Target)
	}
	sec, ok := b.opts.Secrets[id]
	if !ok {
		if m.Required {
			return fmt.Errorf("secret %q is required but was not given with --secret: %w", id, fs.ErrNotExist)
		}
		return nil
	}
	src := sec.Src
	if sec.Env != "" {
		f, err := os.CreateTemp(b.store.RunRoot(), "kiln-secret-")
		if err != nil {
			return fmt.Errorf("staging secret %s: %w", id, err)
		}
		out.release = append(out.release, func() { os.Remove(f.Name()) })
		_, werr := f.WriteString(os.Getenv(sec.Env))
		if err := errors.Join(werr, f.Close()); err != nil {
			return fmt.Errorf("staging secret %s: %w", id, err)
		}
		src = f.Name()
	}
	if m.Env != nil {
		val, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("reading secret %s: %w", id, err)
		}
		name := *m.Env
		if name == "" {
			name = id
		}
		out.env = append(out.env, name+"="+string(val))
		if m.Target == "" {
			return nil
		}
	}
	target := m.Target
	if target == "" {
		target = "/run/secrets/" + id
	}
	out.mounts = append(out.mounts, specs.Mount{Destination: target, Type: "bind", Source: src, Options: []string{"rbind", "ro"}})
	out.key = append(out.key, "secret "+id+" "+target)
	return nil
}
