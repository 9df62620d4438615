package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/storage"
)

func init() { register(newLogoutCmd) }

func newLogoutCmd(g *globals) *cobra.Command {
	var (
		authFile string
		all      bool
	)
	cmd := &cobra.Command{
		Use:   "logout [flags] REGISTRY | --all",
		Short: "Remove stored credentials for a registry",
		Args: func(cmd *cobra.Command, args []string) error {
			if all && len(args) > 0 || !all && len(args) != 1 {
				return fmt.Errorf("name one registry, or use --all")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := storage.SystemOptions{AuthFile: authFile}
			if all {
				if err := storage.LogoutAll(opts); err != nil {
					return err
				}
				_, err := fmt.Fprintln(out(cmd), "Removed login credentials for all registries")
				return err
			}
			key, err := storage.RegistryKey(args[0])
			if err != nil {
				return err
			}
			if err := storage.Logout(opts, key); err != nil {
				return err
			}
			_, err = fmt.Fprintf(out(cmd), "Removed login credentials for %s\n", key)
			return err
		},
	}
	cmd.Flags().StringVar(&authFile, "authfile", "", "auth file (default $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json)")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove the credentials for every registry")
	return cmd
}
