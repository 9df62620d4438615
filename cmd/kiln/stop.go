package main

import (
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/build/container"
	"github.com/kiln-build/kiln/storage"
)

func init() { register(newStopCmd) }

func newStopCmd(g *globals) *cobra.Command {
	var timeout int
	cmd := &cobra.Command{
		Use:   "stop [flags] CONTAINER...",
		Short: "Stop running containers",
		Long: "Stop containers started by kiln run: send the image's stop signal (SIGTERM by default), " +
			"then SIGKILL after the timeout, and wait until the container and its supervisor are gone.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout < 0 {
				return fmt.Errorf("--time %d: want 0 or more seconds: %w", timeout, fs.ErrInvalid)
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			var errs []error
			for _, name := range args {
				if err := stopContainer(st, name, time.Duration(timeout)*time.Second); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(out(cmd), name)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().IntVarP(&timeout, "time", "t", 10, "seconds to wait before killing the container")
	return cmd
}

// stopContainer stops the container named name, if it runs, within grace
// (plus time for its supervisor to clean up).
func stopContainer(st *storage.Store, name string, grace time.Duration) error {
	c, err := lookupContainer(st, name)
	if err != nil {
		return err
	}
	return stop(st, c, grace)
}

func stop(st *storage.Store, c *storage.Container, grace time.Duration) error {
	dir := st.ContainerRunDir(c.ID)
	s, err := container.ReadState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !s.SupervisorAlive() {
		return nil
	}
	if err := container.RequestStop(dir, s, grace); err != nil {
		return err
	}
	if _, err := container.WaitExited(dir, s, grace+stopWait); err != nil {
		return fmt.Errorf("stopping %s: %w", c.Name, err)
	}
	return nil
}
