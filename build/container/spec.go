package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/storage"
)

// Network modes of a container.
const (
	// NetworkHost shares the host's network.
	NetworkHost = "host"
	// NetworkPrivate gives the container its own network namespace with
	// only loopback; published ports reach it through kiln's forwarder.
	NetworkPrivate = "private"
	// NetworkNone is NetworkPrivate without published ports.
	NetworkNone = "none"
)

// RunOptions say how to run a container's process. A detached container's
// are saved in its run directory for its supervisor.
type RunOptions struct {
	// Args is the command line, entrypoint included (see Command).
	Args []string `json:"args"`
	// Env adds to or overrides the image's environment: KEY=VALUE.
	Env []string `json:"env,omitempty"`
	// User and Workdir override the image's when set.
	User    string `json:"user,omitempty"`
	Workdir string `json:"workdir,omitempty"`
	// Volumes are HOST:CONTAINER[:ro|rw] bind mounts.
	Volumes  []string    `json:"volumes,omitempty"`
	Network  string      `json:"network,omitempty"`
	Ports    []exec.Port `json:"ports,omitempty"`
	Hostname string      `json:"hostname,omitempty"`
	// TTY gives the process a terminal; Interactive keeps stdin open.
	TTY         bool `json:"tty,omitempty"`
	Interactive bool `json:"interactive,omitempty"`
	Detach      bool `json:"detach,omitempty"`
	// Remove deletes the container once it has exited.
	Remove bool `json:"remove,omitempty"`
	// Init runs a reaper as pid 1 with the command as its child.
	Init bool `json:"init,omitempty"`
}

// Command is the command line docker runs for an image config: the
// entrypoint (entrypoint when not nil, else the image's) followed by args,
// or by the image's CMD when there are no args and the entrypoint is the
// image's.
func Command(cfg *storage.Config, entrypoint *string, args []string) ([]string, error) {
	ep := cfg.Entrypoint
	cmd := cfg.Cmd
	if entrypoint != nil {
		ep, cmd = nil, nil
		if *entrypoint != "" {
			ep = []string{*entrypoint}
		}
	}
	if len(args) > 0 {
		cmd = args
	}
	argv := append(slices.Clone(ep), cmd...)
	if len(argv) == 0 {
		return nil, fmt.Errorf("no command: the image has no entrypoint or cmd and none was given: %w", fs.ErrInvalid)
	}
	return argv, nil
}

// SaveOptions writes o to the run directory dir.
func SaveOptions(dir string, o *RunOptions) error {
	data, err := json.Marshal(o)
	if err != nil {
		return fmt.Errorf("encoding run options: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, optsFile), data, 0o600); err != nil {
		return fmt.Errorf("writing run options: %w", err)
	}
	return nil
}

// LoadOptions reads what SaveOptions wrote.
func LoadOptions(dir string) (*RunOptions, error) {
	data, err := os.ReadFile(filepath.Join(dir, optsFile))
	if err != nil {
		return nil, fmt.Errorf("reading run options: %w", err)
	}
	var o RunOptions
	if err := json.Unmarshal(data, &o); err != nil {
		return nil, fmt.Errorf("parsing run options: %w", err)
	}
	return &o, nil
}

// Spec returns the runtime spec of o's process in the container mounted at
// root. etcDir receives the container's hosts and resolv.conf. cleanup
// removes the mount points the spec needed that root lacked, so that a
// commit does not pick them up; call it once the process has exited.
func Spec(root, etcDir string, cfg *storage.Config, o *RunOptions) (spec *specs.Spec, cleanup func(), err error) {
	userSpec := cfg.User
	if o.User != "" {
		userSpec = o.User
	}
	user, err := exec.LookupUser(root, userSpec)
	if err != nil {
		return nil, nil, fmt.Errorf("user %q: %w", userSpec, err)
	}
	env := Env(cfg.Env, o, user.Home)
	cwd := cfg.WorkingDir
	if o.Workdir != "" {
		cwd = o.Workdir
	}
	if cwd == "" {
		cwd = "/"
	} else if !path.IsAbs(cwd) {
		return nil, nil, fmt.Errorf("working directory %q is not absolute: %w", cwd, fs.ErrInvalid)
	}
	hostname := o.Hostname
	if hostname == "" {
		hostname = "kiln"
	}
	mounts, err := etcMounts(etcDir, hostname)
	if err != nil {
		return nil, nil, err
	}
	vols, err := volumeMounts(o.Volumes)
	if err != nil {
		return nil, nil, err
	}
	network := exec.NetworkHost
	if o.Network == NetworkPrivate || o.Network == NetworkNone {
		network = exec.NetworkNone
	}
	spec, err = exec.NewSpec(root, exec.Options{Args: o.Args, Env: env, Cwd: cwd, User: user,
		Hostname: hostname, Network: network, Mounts: append(mounts, vols...)})
	if err != nil {
		return nil, nil, err
	}
	if o.TTY {
		spec.Process.Terminal = true
	}
	cleanup, err = exec.PrepareRoot(spec)
	if err != nil {
		return nil, nil, err
	}
	return spec, cleanup, nil
}

// Env is the process environment: the image's, PATH when it sets none,
// TERM for a terminal, HOME from the user's entry, then o.Env, where a bare
// KEY takes the caller's value.
func Env(image []string, o *RunOptions, home string) []string {
	env := slices.Clone(image)
	if _, ok := lookup(env, "PATH"); !ok {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if _, ok := lookup(env, "TERM"); !ok && o.TTY {
		env = append(env, "TERM=xterm")
	}
	if _, ok := lookup(env, "HOME"); !ok {
		if home == "" {
			home = "/"
		}
		env = append(env, "HOME="+home)
	}
	for _, kv := range o.Env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		env = set(env, k, v)
	}
	return env
}

func lookup(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, _ := strings.Cut(env[i], "="); k == key {
			return v, true
		}
	}
	return "", false
}

func set(env []string, key, val string) []string {
	out := slices.DeleteFunc(env, func(kv string) bool { k, _, _ := strings.Cut(kv, "="); return k == key })
	return append(out, key+"="+val)
}

// etcMounts writes the container's /etc/hosts and /etc/resolv.conf into dir
// and returns their bind mounts.
func etcMounts(dir, hostname string) ([]specs.Mount, error) {
	hosts := filepath.Join(dir, "hosts")
	resolv := filepath.Join(dir, "resolv.conf")
	content := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t" + hostname + "\n"
	if err := os.WriteFile(hosts, []byte(content), 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", hosts, err)
	}
	// A host without resolv.conf gives the container an empty one.
	data, _ := os.ReadFile("/etc/resolv.conf")
	if err := os.WriteFile(resolv, data, 0o644); err != nil {
		return nil, fmt.Errorf("writing %s: %w", resolv, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, fmt.Errorf("opening %s to the container: %w", dir, err)
	}
	return []specs.Mount{
		{Destination: "/etc/hosts", Type: "bind", Source: hosts, Options: []string{"rbind", "ro"}},
		{Destination: "/etc/resolv.conf", Type: "bind", Source: resolv, Options: []string{"rbind", "ro"}},
	}, nil
}

// volumeMounts turns -v HOST:CONTAINER[:OPTIONS] into bind mounts. Only
// host paths are supported, not named volumes.
func volumeMounts(vols []string) ([]specs.Mount, error) {
	var out []specs.Mount
	for _, v := range vols {
		parts := strings.Split(v, ":")
		if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("volume %q: want HOST-DIR:CONTAINER-DIR[:ro|rw]: %w", v, fs.ErrInvalid)
		}
		host, dest := parts[0], parts[1]
		if !strings.HasPrefix(host, "/") && !strings.HasPrefix(host, ".") {
			return nil, fmt.Errorf("volume %q: named volumes are not supported, give a host path: %w", v, errors.ErrUnsupported)
		}
		if !path.IsAbs(dest) {
			return nil, fmt.Errorf("volume %q: container path %q is not absolute: %w", v, dest, fs.ErrInvalid)
		}
		abs, err := filepath.Abs(host)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v, err)
		}
		if _, err := os.Stat(abs); err != nil {
			return nil, fmt.Errorf("volume %q: host path: %w", v, err)
		}
		opts := []string{"rbind"}
		if len(parts) == 3 {
			for _, o := range strings.Split(parts[2], ",") {
				switch o {
				case "ro":
					opts = append(opts, "ro")
				case "rw", "z", "Z", "":
				default:
					return nil, fmt.Errorf("volume %q: unknown option %q (want ro or rw): %w", v, o, fs.ErrInvalid)
				}
			}
		}
		out = append(out, specs.Mount{Destination: dest, Type: "bind", Source: abs, Options: opts})
	}
	return out, nil
}

// ResolveVolumes checks -v values and makes their host paths absolute, so
// that they mean the same to a supervisor running elsewhere.
func ResolveVolumes(vols []string) ([]string, error) {
	if _, err := volumeMounts(vols); err != nil {
		return nil, err
	}
	out := make([]string, 0, len(vols))
	for _, v := range vols {
		host, rest, _ := strings.Cut(v, ":")
		abs, err := filepath.Abs(host)
		if err != nil {
			return nil, fmt.Errorf("volume %q: %w", v, err)
		}
		out = append(out, abs+":"+rest)
	}
	return out, nil
}
