package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/build/container"
	"github.com/kiln-build/kiln/storage"
)

func init() { register(newLogsCmd) }

func newLogsCmd(g *globals) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:   "logs [flags] CONTAINER",
		Short: "Print the output of a detached container",
		Args:  cobra.ExactArgs(1),
		RunE: g.withStore(func(cmd *cobra.Command, args []string, st *storage.Store) error {
			c, err := lookupContainer(st, args[0])
			if err != nil {
				return err
			}
			dir := st.ContainerRunDir(c.ID)
			f, err := os.Open(filepath.Join(dir, container.LogFile))
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("container %s has no log: only detached containers (kiln run -d) keep one: %w", c.Name, fs.ErrNotExist)
			}
			if err != nil {
				return fmt.Errorf("reading the log of %s: %w", c.Name, err)
			}
			defer f.Close()
			if _, err := io.Copy(out(cmd), f); err != nil {
				return fmt.Errorf("reading the log of %s: %w", c.Name, err)
			}
			if !follow {
				return nil
			}
			return followLog(cmd, f, dir)
		}),
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing output until the container exits")
	return cmd
}

// followLog copies what the container adds to its log until it has exited
// or kiln is interrupted.
func followLog(cmd *cobra.Command, f *os.File, dir string) error {
	for {
		s, err := container.ReadState(dir)
		running := err == nil && s.Running()
		if _, err := io.Copy(out(cmd), f); err != nil {
			return fmt.Errorf("reading the log: %w", err)
		}
		if !running {
			return nil
		}
		select {
		case <-cmd.Context().Done():
			return nil
		case <-time.After(200 * time.Millisecond):
		}
	}
}
