package main

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
)

func init() { register(newInspectCmd) }

func newInspectCmd(g *globals) *cobra.Command {
	var format, typ string
	cmd := &cobra.Command{
		Use:   "inspect [flags] IMAGE [IMAGE...]",
		Short: "Show the configuration and layers of images as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if typ != "" && typ != "image" {
				return fmt.Errorf("--type %q: kiln has only images", typ)
			}
			st, err := g.openStore(cmd.Context())
			if err != nil {
				return err
			}
			defer st.Close()
			found := []any{}
			var errs []error
			for _, name := range args {
				if raw, err := st.ListInspect(name); err == nil {
					found = append(found, json.RawMessage(raw)) // a manifest list shows as the list
					continue
				}
				in, err := st.Inspect(cmd.Context(), name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				found = append(found, in)
			}
			if format == "" || isJSON(format) {
				if len(found) > 0 || len(errs) == 0 {
					if err := printJSON(out(cmd), found); err != nil {
						return err
					}
				}
			} else if err := render(out(cmd), format, found, table{}); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&format, "format", "f", "", "a Go template such as '{{.Id}}' or '{{json .Config}}'")
	cmd.Flags().StringVarP(&typ, "type", "t", "image", "what to inspect: image")
	return cmd
}
