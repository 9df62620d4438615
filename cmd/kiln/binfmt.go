package main

import (
	"errors"
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/kiln-build/kiln/exec"
)

func init() { register(newBinfmtCmd) }

// defaultEmulated are the architectures kiln binfmt --install registers when
// none are named.
var defaultEmulated = []string{"arm64", "arm", "riscv64", "s390x", "ppc64le"}

func newBinfmtCmd(g *globals) *cobra.Command {
	var install bool
	cmd := &cobra.Command{
		Use:   "binfmt [--install] [ARCH...]",
		Short: "Show or register the QEMU emulators foreign-architecture builds need",
		Long: "Show which foreign architectures RUN steps can run here through binfmt_misc. With --install " +
			"(as root), register qemu-user-static's emulators with the F flag, which lets them work inside a " +
			"build step's own root.",
		Annotations: map[string]string{noUserns: "1"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if install {
				return installEmulators(cmd, args)
			}
			status := exec.EmulatedArches()
			arches := args
			if len(arches) == 0 {
				for a := range status {
					arches = append(arches, a)
				}
				sort.Strings(arches)
			}
			var errs []error
			for _, a := range arches {
				err := exec.CheckEmulator(a)
				if err == nil {
					fmt.Fprintf(out(cmd), "%-9s ok\n", a)
					continue
				}
				fmt.Fprintf(out(cmd), "%-9s missing\n", a)
				if len(args) > 0 {
					errs = append(errs, err)
				}
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&install, "install", false, "register qemu-user-static's emulators with the F flag (root)")
	return cmd
}

func installEmulators(cmd *cobra.Command, arches []string) error {
	if len(arches) == 0 {
		arches = defaultEmulated
	}
	for _, a := range arches {
		line, err := exec.InstallEmulator(a)
		if err != nil {
			return err
		}
		if err := exec.CheckEmulator(a); err != nil {
			return fmt.Errorf("registered %s but it does not work: %w", line, err)
		}
		fmt.Fprintf(out(cmd), "%-9s registered\n", a)
	}
	return nil
}
