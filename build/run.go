package build

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	instr "github.com/kiln-build/kiln/build/instructions"
	"github.com/kiln-build/kiln/exec"
)

// run executes a RUN step in the sandbox over a work layer and snapshots
// what it changed.
func (b *Builder) run(ctx context.Context, s *stage, c *instructions.RunCommand) error {
	if err := b.checkEmulator(s); err != nil {
		return err
	}
	args, err := instr.RunArgs(c, s.img.Config.Shell)
	if err != nil {
		return err
	}
	script := scriptOf(c)
	env := s.runEnv()
	network, err := b.runNetwork(c)
	if err != nil {
		return err
	}
	mounts, err := b.runMounts(ctx, s, c)
	if err != nil {
		return err
	}
	defer mounts.close()
	key := stepKey(s.key, "RUN", strings.Join(args, "\x00"), strings.Join(env, "\x00"), s.img.Config.User,
		s.img.Config.WorkingDir, network, timestampKey(b.opts.Timestamp), strings.Join(mounts.key, "\x00"), script.key())
	return b.layerStep(ctx, s, c, key, func(w *workspace) error {
		extra, cleanup, err := b.scriptMounts(script)
		if err != nil {
			return err
		}
		defer cleanup()
		return b.runIn(ctx, s, w, runSpec{args: args, env: append(env, mounts.env...), network: network,
			mounts: append(extra, mounts.mounts...)})
	})
}

// runNetwork is the network of a RUN: RUN --network=none isolates a step
// even when the build shares the host's; the Dockerfile cannot widen what
// the command line chose.
func (b *Builder) runNetwork(c *instructions.RunCommand) (string, error) {
	network := b.opts.Network
	if network == "" {
		network = exec.NetworkHost
	}
	switch n := instructions.GetNetwork(c); n {
	case "", "default":
	case "none":
		network = exec.NetworkNone
	case "host":
		if network != exec.NetworkHost {
			return "", fmt.Errorf("RUN --network=host needs --network=host on the command line: %w", fs.ErrPermission)
		}
	default:
		return "", fmt.Errorf("RUN --network=%s: want default, none or host: %w", n, fs.ErrInvalid)
	}
	return network, nil
}

// runSpec is what a RUN executes.
type runSpec struct {
	args, env []string
	network   string
	mounts    []specs.Mount
}

// runIn runs a step in root as the stage's user.
func (b *Builder) runIn(ctx context.Context, s *stage, w *workspace, r runSpec) error {
	root := w.root
	args, env := r.args, r.env
	user, err := exec.LookupUser(root, s.img.Config.User)
	if err != nil {
		return err
	}
	if user.UID != 0 || user.GID != 0 {
		w.owner = &user
	}
	if _, ok := lookupEnv(env, "HOME"); !ok {
		home := user.Home
		if home == "" {
			home = "/"
		}
		env = append(env, "HOME="+home)
	}
	etc, err := b.etcFiles()
	if err != nil {
		return err
	}
	mounts := append([]specs.Mount{
		{Destination: "/etc/hosts", Type: "bind", Source: etc.hosts, Options: []string{"rbind", "ro"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: etc.resolv, Options: []string{"rbind", "ro"}},
	}, r.mounts...)
	network := r.network
	cwd := s.img.Config.WorkingDir
	if cwd == "" {
		cwd = "/"
	}
	spec, err := exec.NewSpec(root, exec.Options{Args: args, Env: env, Cwd: cwd, User: user,
		Hostname: "kiln", Network: network, Mounts: mounts, Security: b.opts.Security})
	if err != nil {
		return err
	}
	cleanup, err := exec.PrepareRoot(spec)
	if err != nil {
		return err
	}
	defer cleanup()
	stdout, stderr := b.opts.Out, b.opts.Err
	if b.opts.Quiet {
		stdout, stderr = nil, nil
	}
	return b.runner.Run(ctx, spec, exec.Stdio{Stdout: stdout, Stderr: stderr})
}

// etcPaths are the generated /etc/hosts and /etc/resolv.conf for steps.
type etcPaths struct{ hosts, resolv string }

// etcFiles writes the hosts and resolv.conf files steps see, once a build.
func (b *Builder) etcFiles() (etcPaths, error) {
	b.etcMu.Lock()
	defer b.etcMu.Unlock()
	if b.etc.hosts != "" {
		return b.etc, nil
	}
	dir, err := os.MkdirTemp(b.store.RunRoot(), "kiln-etc-")
	if err != nil {
		return etcPaths{}, fmt.Errorf("creating step files: %w", err)
	}
	b.addCleanup(func() { os.RemoveAll(dir) })
	p := etcPaths{hosts: filepath.Join(dir, "hosts"), resolv: filepath.Join(dir, "resolv.conf")}
	if err := os.Chmod(dir, 0o755); err != nil {
		return p, fmt.Errorf("creating step files: %w", err)
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\tkiln\n"
	if err := os.WriteFile(p.hosts, []byte(hosts), 0o644); err != nil {
		return p, fmt.Errorf("writing %s: %w", p.hosts, err)
	}
	// A host without resolv.conf gives steps an empty one.
	resolv, _ := os.ReadFile("/etc/resolv.conf")
	if err := os.WriteFile(p.resolv, resolv, 0o644); err != nil {
		return p, fmt.Errorf("writing %s: %w", p.resolv, err)
	}
	b.etc = p
	return p, nil
}

func timestampKey(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}
