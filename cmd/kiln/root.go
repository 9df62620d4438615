package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/kiln-build/kiln/storage"
	"github.com/kiln-build/kiln/userns"
)

// Exit codes follow podman and docker: 125 for an error of kiln itself, the
// command's own status for a failed RUN or run.
const (
	exitError = 125
)

// globals are the flags every subcommand shares.
type globals struct {
	root          string
	runRoot       string
	storageDriver string
	storageOpts   []string
	logLevel      string
}

// commands is filled by each subcommand file's init through register, so that
// adding a command never touches another command's file.
var commands []func(g *globals) *cobra.Command

func register(f func(g *globals) *cobra.Command) { commands = append(commands, f) }

// noUserns marks commands that must run in the caller's own namespace: they
// neither touch the store nor need mapped ids.
const noUserns = "kiln.no-userns"

func newRoot(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:           "kiln",
		Short:         "Build and manage container images without root or a daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return setLogLevel(g.logLevel)
		},
	}
	root.SetVersionTemplate("kiln version {{.Version}}\n")
	f := root.PersistentFlags()
	f.StringVar(&g.root, "root", "", "storage root directory (default from storage.conf)")
	f.StringVar(&g.runRoot, "runroot", "", "storage state directory (default from storage.conf)")
	f.StringVar(&g.storageDriver, "storage-driver", "", "storage driver: overlay, vfs (default from storage.conf, else detected)")
	f.StringArrayVar(&g.storageOpts, "storage-opt", nil, "storage driver option (repeatable)")
	f.StringVar(&g.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	for _, c := range commands {
		root.AddCommand(c(g))
	}
	return root
}

// run executes kiln with args and returns the process exit code.
func run(args []string) int {
	var g globals
	root := newRoot(&g)
	root.SetArgs(args)
	cmd, _, err := root.Find(args)
	if err == nil && cmd != nil && cmd.Annotations[noUserns] == "" && cmd != root {
		ensureRuntimeDir()
		// Rootless: continue inside a user namespace. In the parent this
		// returns only once the child has exited.
		if code, reexeced, err := userns.Enter(); err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", err)
			return exitError
		} else if reexeced {
			return code
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	defer startProfile()()
	err = root.ExecuteContext(ctx)
	if err == nil {
		return 0
	}
	var ee *exitCodeError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(os.Stderr, "Error: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(os.Stderr, "Error: %v\n", err)
	if h := hint(err); h != "" {
		fmt.Fprintf(os.Stderr, "Hint: %s\n", h)
	}
	return exitError
}

// ensureRuntimeDir gives an unprivileged user without XDG_RUNTIME_DIR (a
// CI job, runuser) one, as podman does: inside the user namespace kiln is
// uid 0, and containers/image would otherwise look in /run/containers/0.
func ensureRuntimeDir() {
	if os.Geteuid() == 0 || os.Getenv("XDG_RUNTIME_DIR") != "" {
		return
	}
	dir := fmt.Sprintf("/run/user/%d", os.Geteuid())
	if unix.Access(dir, unix.W_OK) != nil {
		dir = filepath.Join(os.TempDir(), fmt.Sprintf("kiln-run-%d", os.Geteuid()))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return
		}
	}
	os.Setenv("XDG_RUNTIME_DIR", dir)
}

// exitCodeError carries a specific exit status, such as a RUN step's.
type exitCodeError struct {
	code int
	err  error
}

func (e *exitCodeError) Error() string { return fmt.Sprintf("exit status %d", e.code) }
func (e *exitCodeError) Unwrap() error { return e.err }

// hint suggests a fix for the error classes users can fix themselves.
func hint(err error) string {
	switch {
	case errors.Is(err, userns.ErrNoNewuidmap):
		return "install the uidmap package (newuidmap, newgidmap)"
	}
	return ""
}

// args gives the global flags back as arguments, for a kiln that kiln
// starts again (a container's supervisor).
func (g *globals) args() []string {
	a := []string{"--root=" + g.root, "--runroot=" + g.runRoot, "--storage-driver=" + g.storageDriver, "--log-level=" + g.logLevel}
	for _, o := range g.storageOpts {
		a = append(a, "--storage-opt="+o)
	}
	return a
}

// openStore opens the image store selected by the global flags.
// withStore is a command's RunE that opens the store for run and closes it after.
func (g *globals) withStore(run func(cmd *cobra.Command, args []string, st *storage.Store) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		st, err := g.openStore(cmd.Context())
		if err != nil {
			return err
		}
		defer st.Close()
		return run(cmd, args, st)
	}
}

func (g *globals) openStore(ctx context.Context) (*storage.Store, error) {
	return storage.Open(ctx, storage.Options{
		Root:          g.root,
		RunRoot:       g.runRoot,
		Driver:        g.storageDriver,
		DriverOptions: g.storageOpts,
		SingleID:      userns.CurrentMode() == userns.ModeSingle,
	})
}

// stdout and stderr are the command's streams, kept as variables so output
// helpers take an io.Writer.
func out(cmd *cobra.Command) io.Writer { return cmd.OutOrStdout() }
