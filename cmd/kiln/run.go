package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/kiln-build/kiln/build/container"
	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/storage"
)

func init() { register(newRunCmd) }

type runFlags struct {
	pull                        pullFlags
	env, volumes, ports         []string
	user, workdir, entrypoint   string
	network, name, hostname     string
	rm, detach, interactive, tt bool
	init                        bool
}

func newRunCmd(g *globals) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [flags] IMAGE|CONTAINER [--] [COMMAND [ARG...]]",
		Short: "Run a command in a working container, or run an image",
		Long: "Run COMMAND in a working container (kiln from), or run an image in a new container: in the " +
			"foreground, or with -d detached under a supervisor process of its own (kiln ps, logs, stop, rm). " +
			"A working container is looked up first, then an image. -p publishes a port from the " +
			"container's private network through kiln's own forwarder, without root or /dev/net/tun.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rest := args[1:]
			if len(rest) > 0 && rest[0] == "--" {
				rest = rest[1:]
			}
			return runRun(cmd, g, &f, args[0], rest)
		},
	}
	fl := cmd.Flags()
	fl.SetInterspersed(false)
	fl.BoolVar(&f.rm, "rm", false, "remove the container once it exits")
	fl.BoolVarP(&f.detach, "detach", "d", false, "run in the background and print the container id")
	fl.BoolVarP(&f.interactive, "interactive", "i", false, "keep standard input open")
	fl.BoolVarP(&f.tt, "tty", "t", false, "give the container a terminal")
	fl.BoolVar(&f.init, "init", false, "run a reaper as pid 1 that passes signals on and reaps zombies, the command as its child")
	fl.StringArrayVarP(&f.env, "env", "e", nil, "set an environment variable KEY=VALUE, or KEY from kiln's (repeatable)")
	fl.StringArrayVarP(&f.volumes, "volume", "v", nil, "bind a host directory HOST:CONTAINER[:ro] (repeatable)")
	fl.StringArrayVarP(&f.ports, "publish", "p", nil, "publish a port [IP:]HOSTPORT:CONTAINERPORT (repeatable)")
	fl.StringVarP(&f.user, "user", "u", "", "user to run as: NAME|UID[:GROUP|GID]")
	fl.StringVarP(&f.workdir, "workdir", "w", "", "working directory in the container")
	fl.StringVar(&f.entrypoint, "entrypoint", "", "override the image's entrypoint (\"\" clears it)")
	fl.StringVar(&f.network, "network", "", "network: host, private or none (default private with -p, else host)")
	fl.StringVar(&f.name, "name", "", "name of the new container")
	fl.StringVar(&f.hostname, "hostname", "", "host name in the container (default: the short id)")
	fl.BoolVarP(&f.pull.quiet, "quiet", "q", false, "print no pull progress")
	f.pull.add(fl)
	return cmd
}

func runRun(cmd *cobra.Command, g *globals, f *runFlags, target string, args []string) error {
	st, err := g.openStore(cmd.Context())
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := st.LookupContainer(target)
	switch {
	case err == nil && c.Kind == storage.KindWorking:
		return runWorking(cmd, st, f, c, args)
	case err == nil:
		return fmt.Errorf("container %s was started by kiln run: run an image or a working container (kiln from): %w",
			c.Name, fs.ErrInvalid)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	o, err := f.options(cmd)
	if err != nil {
		return err
	}
	c, err = newContainer(cmd, st, &f.pull, target, f.name, storage.KindRun)
	if err != nil {
		return err
	}
	if err := f.command(cmd, c, o, args); err != nil {
		return errors.Join(err, st.DeleteContainer(c))
	}
	dir, err := prepareRun(st, c, o)
	if err != nil {
		return errors.Join(err, removeContainer(st, c))
	}
	if o.Detach {
		return runDetached(cmd, g, st, c, dir)
	}
	code, err := container.Run(st, c, o, foregroundIO(cmd, o, dir))
	if err != nil {
		return errors.Join(err, removeContainer(st, c))
	}
	if o.Remove {
		if err := removeContainer(st, c); err != nil {
			return err
		}
	}
	if code != 0 {
		return &exitCodeError{code: code}
	}
	return nil
}

// options checks the flags of a run of an image.
func (f *runFlags) options(cmd *cobra.Command) (*container.RunOptions, error) {
	o := &container.RunOptions{Env: f.env, User: f.user, Workdir: f.workdir, Network: f.network,
		Hostname: f.hostname, TTY: f.tt, Interactive: f.interactive, Detach: f.detach, Remove: f.rm,
		Init: f.init}
	for _, p := range f.ports {
		port, err := exec.ParsePort(p)
		if err != nil {
			return nil, err
		}
		o.Ports = append(o.Ports, port)
	}
	switch o.Network {
	case "":
		o.Network = container.NetworkHost
		if len(o.Ports) > 0 {
			o.Network = container.NetworkPrivate
		}
	case container.NetworkHost, container.NetworkNone:
		if len(o.Ports) > 0 {
			return nil, fmt.Errorf("--network %s: ports can only be published from a private network: %w", o.Network, fs.ErrInvalid)
		}
	case container.NetworkPrivate, "bridge", "slirp4netns", "pasta":
		o.Network = container.NetworkPrivate
	default:
		return nil, fmt.Errorf("--network %q: want host, private or none: %w", o.Network, fs.ErrInvalid)
	}
	var err error
	if o.Volumes, err = container.ResolveVolumes(f.volumes); err != nil {
		return nil, err
	}
	if o.Detach && o.Interactive {
		return nil, fmt.Errorf("-d and -i: a detached container has no standard input: %w", fs.ErrInvalid)
	}
	return o, nil
}

// command fills in the command line and host name of a new container.
func (f *runFlags) command(cmd *cobra.Command, c *storage.Container, o *container.RunOptions, args []string) error {
	var ep *string
	if cmd.Flags().Changed("entrypoint") {
		ep = &f.entrypoint
	}
	argv, err := container.Command(&c.Config.Config, ep, args)
	if err != nil {
		return fmt.Errorf("running %s: %w", c.FromImage, err)
	}
	o.Args = argv
	if o.Hostname == "" {
		o.Hostname = shortID(c.ID)
	}
	return nil
}

// prepareRun writes the new container's run directory: its state and, for
// a supervisor, its options.
func prepareRun(st *storage.Store, c *storage.Container, o *container.RunOptions) (string, error) {
	dir, err := st.EnsureContainerRunDir(c.ID)
	if err != nil {
		return "", err
	}
	s := &container.State{ID: c.ID, Name: c.Name, Image: c.FromImage, Command: o.Args, Status: container.StatusCreated,
		Created: c.Created.UTC(), Detached: o.Detach}
	for _, p := range o.Ports {
		s.Ports = append(s.Ports, p.String())
	}
	if err := s.Write(dir); err != nil {
		return "", err
	}
	return dir, container.SaveOptions(dir, o)
}

// foregroundIO connects a foreground container to kiln's own streams and
// signals.
func foregroundIO(cmd *cobra.Command, o *container.RunOptions, dir string) container.IO {
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	rio := container.IO{Signals: sigs, Dir: dir, Stdio: exec.Stdio{Stdout: os.Stdout, Stderr: os.Stderr}}
	if o.Interactive {
		rio.Stdio.Stdin = os.Stdin
	}
	if o.TTY {
		rio.TermOut = os.Stdout
		if o.Interactive || term.IsTerminal(int(os.Stdin.Fd())) {
			rio.TermIn = os.Stdin
		}
	}
	return rio
}

// runDetached starts the container's supervisor and prints the id once the
// container runs.
func runDetached(cmd *cobra.Command, g *globals, st *storage.Store, c *storage.Container, dir string) error {
	log, err := os.OpenFile(filepath.Join(dir, container.SupervisorLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return errors.Join(fmt.Errorf("creating the supervisor log of %s: %w", c.Name, err), removeContainer(st, c))
	}
	defer log.Close()
	args := append(g.args(), "container-supervise", c.ID)
	if _, err := exec.Detach(exec.DetachOptions{Args: args, Log: log}); err != nil {
		// The supervisor reports only once it has let go of the container.
		return errors.Join(err, removeContainer(st, c))
	}
	_, err = fmt.Fprintln(out(cmd), c.ID)
	return err
}

// removeContainer deletes a container and its run directory.
func removeContainer(st *storage.Store, c *storage.Container) error {
	err := st.DeleteContainer(c)
	if rerr := os.RemoveAll(st.ContainerRunDir(c.ID)); rerr != nil {
		err = errors.Join(err, fmt.Errorf("removing run directory of %s: %w", c.Name, rerr))
	}
	return err
}

// runWorking runs a command in a working container in the foreground.
func runWorking(cmd *cobra.Command, st *storage.Store, f *runFlags, c *storage.Container, args []string) error {
	fl := cmd.Flags()
	for _, name := range []string{"rm", "detach", "publish", "entrypoint", "name", "pull"} {
		if fl.Changed(name) {
			return fmt.Errorf("--%s is for running images, not working containers like %s: %w", name, c.Name, fs.ErrInvalid)
		}
	}
	if len(args) == 0 {
		return fmt.Errorf("running in %s: no command given: %w", c.Name, fs.ErrInvalid)
	}
	o, err := f.options(cmd)
	if err != nil {
		return err
	}
	o.Args = args
	code, err := container.Run(st, c, o, foregroundIO(cmd, o, ""))
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitCodeError{code: code}
	}
	return nil
}

// stopWait is how long kiln waits past a stop's grace period for the
// supervisor to clean up.
const stopWait = 15 * time.Second
