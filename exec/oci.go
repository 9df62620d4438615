package exec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"syscall"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

// OCI is a Runner that hands each step to an external OCI runtime (crun,
// runc, youki): it writes a bundle of the spec and runs
// `RUNTIME --root STATE run --bundle DIR ID` with the step's stdio. The
// runtime's exit status is the step's.
type OCI struct {
	// Runtime is the runtime's path or name on PATH.
	Runtime string
	// TempDir holds the bundles ("" for os.TempDir()).
	TempDir string
}

// Run writes the bundle, runs the runtime in the foreground and removes the
// bundle once it has exited.
func (o OCI) Run(ctx context.Context, spec *specs.Spec, stdio Stdio) error {
	if spec.Process == nil || spec.Root == nil || len(spec.Process.Args) == 0 {
		return fmt.Errorf("runtime spec needs a process and a root")
	}
	bin, err := osexec.LookPath(o.Runtime)
	if err != nil {
		return fmt.Errorf("finding OCI runtime %q: %w", o.Runtime, err)
	}
	dir, err := os.MkdirTemp(o.TempDir, "kiln-bundle-")
	if err != nil {
		return fmt.Errorf("creating OCI bundle: %w", err)
	}
	defer os.RemoveAll(dir)
	if err := WriteBundle(dir, spec); err != nil {
		return err
	}
	id, err := containerID()
	if err != nil {
		return err
	}
	state := filepath.Join(dir, "state")
	cmd := osexec.CommandContext(ctx, bin, "--root", state, "run", "--bundle", dir, id)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Stdin, stdio.Stdout, stdio.Stderr
	cmd.Cancel = func() error {
		// Killing the runtime alone would leave the container running.
		_ = osexec.Command(bin, "--root", state, "delete", "--force", id).Run()
		return cmd.Process.Kill()
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Run()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *osexec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return fmt.Errorf("running %s: %w", bin, err)
	}
	return exitError(err)
}

// WriteBundle writes spec as DIR/config.json. The root stays where the spec
// names it (an absolute path), so nothing is copied; a relative root is
// taken relative to the bundle, as the runtime spec says.
func WriteBundle(dir string, spec *specs.Spec) error {
	s := *spec
	if s.Root != nil && !filepath.IsAbs(s.Root.Path) {
		return fmt.Errorf("writing OCI bundle: root %q is not an absolute path", s.Root.Path)
	}
	if s.Linux != nil && hasNotify(s.Linux.Seccomp) {
		// Notifications go to kiln's own listener (single-id mode), which an
		// external runtime has no way to reach: those calls are allowed
		// instead, and the kernel decides them.
		linux, sc := *s.Linux, *s.Linux.Seccomp
		sc.Syscalls = append([]specs.LinuxSyscall(nil), sc.Syscalls...)
		for i := range sc.Syscalls {
			if sc.Syscalls[i].Action == specs.ActNotify {
				sc.Syscalls[i].Action = specs.ActAllow
			}
		}
		linux.Seccomp, s.Linux = &sc, &linux
	}
	if s.Version == "" {
		s.Version = specs.Version
	}
	b, err := json.MarshalIndent(&s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding OCI bundle config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o600); err != nil {
		return fmt.Errorf("writing OCI bundle config: %w", err)
	}
	return nil
}

// containerID is a fresh id for one step's container.
func containerID() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("making a container id: %w", err)
	}
	return "kiln-" + strings.ToLower(hex.EncodeToString(b[:])), nil
}
