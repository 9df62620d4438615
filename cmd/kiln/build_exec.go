package main

import (
	"fmt"
	"io/fs"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"

	"github.com/spf13/pflag"

	"github.com/kiln-build/kiln/build"
	"github.com/kiln-build/kiln/exec"
)

// execFlags are build's --ssh, --squash-all, --isolation and --runtime: how
// steps run and what the result's layers are.
type execFlags struct {
	ssh                []string
	squashAll          bool
	isolation, runtime string
}

func (f *execFlags) add(fl *pflag.FlagSet) {
	fl.StringArrayVar(&f.ssh, "ssh", nil, "ssh agent socket for RUN --mount=type=ssh: default ($SSH_AUTH_SOCK) or ID=SOCKET (repeatable)")
	fl.BoolVar(&f.squashAll, "squash-all", false, "squash every layer, the base image's too, into one")
	fl.StringVar(&f.isolation, "isolation", "", "how RUN steps run: chroot or rootless (kiln's sandbox, the default) or oci (an OCI runtime)")
	fl.StringVar(&f.runtime, "runtime", "", "OCI runtime (crun, runc or a path) for RUN steps; implies --isolation oci")
}

// apply checks the flags, sets what they decide in opts and returns the
// step runner they choose.
func (f *execFlags) apply(opts *build.Options) (exec.Runner, error) {
	if f.squashAll && opts.Squash {
		return nil, fmt.Errorf("--squash and --squash-all: choose one")
	}
	opts.SquashAll = f.squashAll
	var err error
	if opts.SSH, err = parseSSH(f.ssh); err != nil {
		return nil, err
	}
	return f.runner(os.TempDir())
}

// runner is the step runner the flags choose: kiln's sandbox, or an
// external OCI runtime for --isolation oci or --runtime.
func (f *execFlags) runner(tmp string) (exec.Runner, error) {
	iso := f.isolation
	if iso == "" {
		iso = os.Getenv("BUILDAH_ISOLATION")
	}
	switch iso {
	case "", "chroot", "rootless":
		if f.runtime == "" {
			return exec.Sandbox{}, nil
		}
	case "oci":
	default:
		return nil, fmt.Errorf("--isolation %q: want chroot, rootless or oci", iso)
	}
	rt := f.runtime
	if rt == "" {
		for _, c := range []string{"crun", "runc"} {
			if _, err := osexec.LookPath(c); err == nil {
				rt = c
				break
			}
		}
		if rt == "" {
			return nil, fmt.Errorf("--isolation oci needs an OCI runtime: install crun or runc, or name one with --runtime: %w", fs.ErrNotExist)
		}
	}
	p, err := osexec.LookPath(rt)
	if err != nil {
		return nil, fmt.Errorf("--runtime %s: %w", rt, err)
	}
	if p, err = filepath.Abs(p); err != nil {
		return nil, fmt.Errorf("--runtime %s: %w", rt, err)
	}
	return exec.OCI{Runtime: p, TempDir: tmp}, nil
}

// parseSSH reads --ssh default|ID[=SOCKET[,SOCKET…]]: an id without a socket, default
// included, is $SSH_AUTH_SOCK. kiln forwards agent sockets, not key files.
func parseSSH(vals []string) (map[string]string, error) {
	if len(vals) == 0 {
		return nil, nil
	}
	out := map[string]string{}
	for _, v := range vals {
		id, paths, _ := strings.Cut(v, "=")
		if id == "" {
			return nil, fmt.Errorf("--ssh %q: want default or ID=SOCKET", v)
		}
		sock, _, _ := strings.Cut(paths, ",")
		if sock == "" {
			if sock = os.Getenv("SSH_AUTH_SOCK"); sock == "" {
				return nil, fmt.Errorf("--ssh %s: SSH_AUTH_SOCK is not set; start ssh-agent or give ID=SOCKET", v)
			}
		}
		st, err := os.Stat(sock)
		if err != nil {
			return nil, fmt.Errorf("--ssh %s: %w", id, err)
		}
		if st.Mode()&fs.ModeSocket == 0 {
			return nil, fmt.Errorf("--ssh %s: %s is not an ssh-agent socket (key files are not supported; load them into ssh-agent): %w", id, sock, fs.ErrInvalid)
		}
		if sock, err = filepath.Abs(sock); err != nil {
			return nil, fmt.Errorf("--ssh %s: %w", id, err)
		}
		out[id] = sock
	}
	return out, nil
}
