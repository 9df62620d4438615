package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/build/container"
	"github.com/kiln-build/kiln/exec"
	"github.com/kiln-build/kiln/userns"
)

func init() { register(newSuperviseCmd) }

// newSuperviseCmd is the supervisor of a detached container, started by
// kiln run -d through exec.Detach inside that kiln's namespaces, which it
// keeps alive: it mounts the container, runs it with its output in
// ctr.log, publishes its ports and records its state until it exits.
func newSuperviseCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:         "container-supervise CONTAINER-ID",
		Short:       "Supervise a detached container (started by kiln run -d)",
		Hidden:      true,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{noUserns: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if !exec.Detached() {
				return fmt.Errorf("container-supervise is started by kiln run -d only")
			}
			err := supervise(cmd, g, args[0])
			exec.Ready(err)
			return err
		},
	}
}

func supervise(cmd *cobra.Command, g *globals, id string) error {
	if userns.CurrentMode() == userns.ModeNone {
		return fmt.Errorf("supervising %s: not inside kiln's user namespace", id)
	}
	// SIGTERM and SIGINT stop the container; nothing else reaches it.
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGQUIT)
	st, err := g.openStore(cmd.Context())
	if err != nil {
		return err
	}
	defer st.Close()
	c, err := lookupContainer(st, id)
	if err != nil {
		return err
	}
	dir := st.ContainerRunDir(c.ID)
	o, err := container.LoadOptions(dir)
	if err != nil {
		return fmt.Errorf("supervising %s: %w", c.Name, err)
	}
	log, err := os.OpenFile(filepath.Join(dir, container.LogFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("creating the log of %s: %w", c.Name, err)
	}
	defer log.Close()
	rio := container.IO{Stdio: exec.Stdio{Stdout: log, Stderr: log}, Signals: sigs, Detached: true, Dir: dir}
	_, err = container.Run(st, c, o, rio)
	if err != nil && exec.Detached() {
		// It never ran: kiln run -d reports the error and removes it.
		return err
	}
	if o.Remove {
		err = errors.Join(err, removeContainer(st, c))
	}
	return err
}
